/* powkit: the mining benchmark behind `powkit bench`. */
#ifndef POWKIT_BENCH_H
#define POWKIT_BENCH_H

#include "powkit/export.h"

#include <stdint.h>

#include "powkit/device.h"
#include "powkit/dispatch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_bench_row {
    const char *kernel;
    pk_selftest_result selftest;
    unsigned threads;
    double seconds;   /* measured wall time */
    uint64_t hashes;
    double mhs;
    uint64_t shares;  /* found, rechecked by ref and accepted */
    uint64_t invalid; /* found but rejected by ref: must be 0 */
    const char *layout; /* a family's row ("avx512"): the layout it stands for */
} pk_bench_row;

/* Mines the offline job with kernel k on `threads` threads for about
 * `seconds`.  Returns 0 or a PK_E* code. */
PK_API int pk_bench_row_run(const pk_kernel *k, unsigned threads, double seconds, int affinity,
                            pk_bench_row *row);

/* The same with version_lanes 1: the offline job's rolled versions side
 * by side in the kernel's lanes (its vscan; PK_EUNSUPPORTED without). */
PK_API int pk_bench_row_run_lanes(const pk_kernel *k, unsigned threads, double seconds, int affinity,
                                  int version_lanes, pk_bench_row *row);

/* Mines the offline job on any device for about `seconds` (row->kernel
 * and row->threads are the caller's to fill). */
PK_API int pk_bench_device_run(pk_device *dev, double seconds, pk_bench_row *row);

#ifdef __cplusplus
}
#endif
#endif
