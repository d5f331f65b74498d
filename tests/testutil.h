/* Helpers shared by the Criterion tests. */
#ifndef POWKIT_TESTUTIL_H
#define POWKIT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "../base/arch.h"
#include "powkit/cpu.h"
#include "powkit/kernel.h"

/* The kernel families of this build's architecture, for tests that name
 * them: the SHA-instruction family, the lane family, and all the fast
 * ones (a POWKIT_DISABLE list). */
#if PK_ARM_SIMD
#define TU_SHA_FAMILY "armsha"
#define TU_SHA_CPU PK_CPU_ARM_SHA2
#define TU_LANE_FAMILY "neon"
#define TU_LANE_CPU PK_CPU_NEON
#define TU_FAST_FAMILIES "armsha,neon"
#else
#define TU_SHA_FAMILY "shani"
#define TU_SHA_CPU PK_CPU_SHA
#define TU_LANE_FAMILY "avx2"
#define TU_LANE_CPU PK_CPU_AVX2
#define TU_FAST_FAMILIES "shani,avx2,avx512"
#endif

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

uint64_t tu_next(tu_rng *r);
uint32_t tu_below(tu_rng *r, uint32_t n);
void tu_fill(tu_rng *r, void *buf, size_t len);

/* Whole file from tests/data; aborts the test with a message if missing. */
uint8_t *tu_read_data(const char *name, size_t *len);

/* Runs cmd through the shell, its output (up to len - 1 bytes, NUL-ended)
 * into out; returns pclose's status (WIFEXITED/WEXITSTATUS apply). */
int tu_run(const char *cmd, char *out, size_t len);

/* Double SHA-256 of header with nonce put in: the independent oracle. */
void tu_header_hash(const uint8_t header[80], uint32_t nonce, uint8_t out[32]);

/* Scan with a kernel into a heap buffer big enough for every hit. */
size_t tu_scan_all(const pk_kernel *k, const pk_job *job, uint32_t start, uint64_t count,
                   uint32_t **found);

#endif
