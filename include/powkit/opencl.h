/* powkit: OpenCL devices.  The ICD loader (libOpenCL.so.1) is opened at
 * run time: no loader, no platform or no device is a message, never a
 * failure to start, and the other devices mine on.  Programs are built
 * once per device and options and cached as binaries (keyed by the
 * source's hash, the device, the driver version and the options).  Every
 * OpenCL error is reported by name. */
#ifndef POWKIT_OPENCL_H
#define POWKIT_OPENCL_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "powkit/device.h"
#include "powkit/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_cl_info {
    unsigned index; /* opencl:N, counted over all platforms */
    char platform[128], name[128], vendor[128], driver[64], version[64];
    unsigned compute_units, pref_vector_width; /* for int */
    uint64_t global_mem;
    int is_cpu;
} pk_cl_info;

/* Whether the OpenCL ICD loader could be opened (with every function powkit
 * uses): 1 with its file in path, or 0 with the reason in err. */
PK_API int pk_cl_loader(char *path, size_t pathlen, char *err, size_t errlen);

/* Every OpenCL device.  Returns the count (0 with err filled when there is
 * no loader or no platform). */
PK_API size_t pk_cl_list(pk_cl_info *out, size_t max, char *err, size_t errlen);

typedef struct pk_cl_opts {
    unsigned index;         /* opencl:N */
    unsigned vector_width;  /* 1,2,4,8,16; 0: the device's preferred, at least 4 */
    unsigned target_ms;     /* per launch; 0: 20 */
    unsigned global_size;   /* work-items per launch; 0: tuned to target_ms */
    unsigned local_size;    /* work-group size; 0: 64 */
    const char *cache_dir;  /* NULL: $POWKIT_CACHE_DIR or ~/.cache/powkit; "": none */
    const char *source;     /* NULL: the built-in kernel (tests pass broken ones) */
} pk_cl_opts;

/* Builds the program (or loads it from the cache).  NULL with err (the
 * device's build log included) on failure. */
PK_API pk_device *pk_cl_device_new(const pk_cl_opts *o, unsigned device_index, char *err, size_t errlen);
/* 1 when the program came from the binary cache. */
PK_API int pk_cl_device_from_cache(const pk_device *dev);
PK_API unsigned pk_cl_device_vector_width(const pk_device *dev);

/* One synchronous scan, for tests and calibration: like a CPU kernel's
 * scan (count up to 2^32, wrapping), with the host's full-target check. */
PK_API size_t pk_cl_scan(pk_device *dev, const pk_job *job, uint32_t start, uint64_t count, uint32_t *found,
                         size_t max_found, int *err);

/* "CL_OUT_OF_RESOURCES" and so on. */
PK_API const char *pk_cl_error_name(int code);

PK_API extern const char pk_sha256d_cl_source[];

#ifdef __cplusplus
}
#endif
#endif
