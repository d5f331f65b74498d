/* What was built, from the values CMake passes to this file only (a new
 * commit recompiles this file, not the library). */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "powkit/version.h"

#ifndef POWKIT_VERSION
#define POWKIT_VERSION "dev"
#endif
#ifndef POWKIT_GIT_COMMIT
#define POWKIT_GIT_COMMIT "unknown"
#endif
#ifndef POWKIT_SECP256K1_VERSION
#define POWKIT_SECP256K1_VERSION "unknown"
#endif

#define PK_STR2(x) #x
#define PK_STR(x) PK_STR2(x)

#if defined(__clang__)
#define PK_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define PK_COMPILER "GCC " PK_STR(__GNUC__) "." PK_STR(__GNUC_MINOR__) "." PK_STR(__GNUC_PATCHLEVEL__)
#else
#define PK_COMPILER "unknown compiler"
#endif

#if defined(__x86_64__)
#define PK_ARCH "x86-64"
#elif defined(__aarch64__)
#define PK_ARCH "arm64"
#elif defined(__i386__)
#define PK_ARCH "x86"
#else
#define PK_ARCH "other"
#endif

static const pk_build_info g_info = {
    .version = POWKIT_VERSION,
    .commit = POWKIT_GIT_COMMIT,
    .compiler = PK_COMPILER,
    .arch = PK_ARCH,
    .secp256k1 = POWKIT_SECP256K1_VERSION,
};

const pk_build_info *pk_build_info_get(void) { return &g_info; }

const char *pk_version(void) { return g_info.version; }

const char *pk_loaded_from(const void *symbol)
{
    Dl_info di;
    /* For statically linked code dladdr names the program itself. */
    if (!symbol || !dladdr(symbol, &di) || !di.dli_fname)
        return "";
    return di.dli_fname;
}
