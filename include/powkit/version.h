/* powkit: what this library is and how it was built, for `powkit version`
 * and for programs that link it and want to log the same facts. */
#ifndef POWKIT_VERSION_H
#define POWKIT_VERSION_H

#include "powkit/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_build_info {
    const char *version;   /* the project version, "0.1.0" */
    const char *commit;    /* the git commit built ("-dirty" with local changes), or "unknown" */
    const char *compiler;  /* "GCC 12.2.0", "clang 14.0.6" */
    const char *arch;      /* the target the library was compiled for: "x86-64", "arm64" */
    const char *secp256k1; /* libsecp256k1's version at build time (pkg-config) */
} pk_build_info;

PK_API const pk_build_info *pk_build_info_get(void);

/* The library's version string (the same as pk_build_info_get()->version). */
PK_API const char *pk_version(void);

/* The file the code at `symbol` was loaded from, as dladdr reports it: a
 * shared library's path, or the program's own for static code; "" when
 * unknown. */
PK_API const char *pk_loaded_from(const void *symbol);

#ifdef __cplusplus
}
#endif

#endif
