/* powkit: the SHA-256d nonce-scan kernel interface.
 *
 * A work unit is what every kernel sees: the midstate of a block header's
 * first 64 bytes, the header's last 16 bytes (the nonce field in them is
 * ignored) and a 256-bit share target.  pk_job_init turns it into a job:
 * every value that does not depend on the nonce, computed once, so kernels
 * only do the per-nonce part.
 *
 * A kernel scans nonces start, start+1, ... (count of them, wrapping past
 * 2^32-1 to 0) and reports every nonce whose double SHA-256, read as a
 * little-endian 256-bit number (Bitcoin's convention), is at or below the
 * target.
 */
#ifndef POWKIT_KERNEL_H
#define POWKIT_KERNEL_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_work {
    uint32_t midstate[8]; /* SHA-256 state after header bytes 0..63 */
    uint8_t tail[16];     /* header bytes 64..79 (nonce bytes ignored) */
    uint8_t target[32];   /* little-endian: target[31] most significant */
} pk_work;

/* Nonce-independent values for one work unit.  Field names follow FIPS
 * 180-4: w[] message words, K round constants; "r3" means after round 2,
 * i.e. three rounds done. */
typedef struct pk_job {
    pk_work work;
    uint32_t target_w[8]; /* target as 32-bit words, [7] most significant */
    uint32_t w[16];       /* block 2 message words, w[3] (nonce) = 0 */
    uint32_t r3[8];       /* block 2 state a..h after rounds 0..2 */
    uint32_t r4_a, r4_e;  /* a and e after round 3, minus the nonce word */
    uint32_t w16, w17;    /* constant schedule words */
    uint32_t w18_c;       /* w18 = w18_c + sigma0(w3) */
    uint32_t w19_c;       /* w19 = w19_c + w3 */
    /* SHA-NI layout of the state after rounds 0..1: {f,e,b,a}, {h,g,d,c} */
    uint32_t ni_abef[4], ni_cdgh[4];
    /* SHA-NI layout of the midstate, for the feed-forward */
    uint32_t ni_mid_abef[4], ni_mid_cdgh[4];
} pk_job;

PK_API void pk_job_init(pk_job *job, const pk_work *work);

/* Work from a full 80-byte header (its nonce is ignored) and a target. */
PK_API void pk_work_from_header(pk_work *work, const uint8_t header[80],
                                const uint8_t target[32]);

/* Scan count nonces from start.  Writes up to max_found (at least 1)
 * winning nonces to found, in scan order, and returns how many it found:
 * at most max_found + 1, for it stops at the hit after a full buffer.  A
 * return above max_found means the range is not done: scan again from
 * found[max_found - 1] + 1.  (Counting every hit of a range would cost a
 * reference recheck per hit to store none of them: on an easy target,
 * regtest's, most nonces win.) */
typedef size_t (*pk_scan_fn)(const pk_job *job, uint32_t start, uint64_t count,
                             uint32_t *found, size_t max_found);

/* Version lanes (overt AsicBoost in software): vlanes jobs that differ
 * only in the header's version, so only in the midstate, scanned at the
 * same nonces.  The header's second block is then the same in every lane
 * and hash 1's message schedule is computed once per nonce, not once per
 * lane.  A hit is a nonce and the index of the job it won for. */
typedef struct pk_vfound {
    uint32_t nonce;
    unsigned lane;
} pk_vfound;

/* Scan count nonces from start on each of the jobs (jobs[0..vlanes-1]:
 * same tail and target, any midstates).  Writes up to max_found (at least
 * 1) hits in nonce order, lanes ascending within a nonce, and returns how
 * many it found, stopping as pk_scan_fn does at max_found + 1: then the
 * rest of found[max_found - 1]'s nonce (the lanes after its lane) and the
 * nonces after it are not done.  count * vlanes headers are hashed. */
typedef size_t (*pk_vscan_fn)(const pk_job *const *jobs, uint32_t start, uint64_t count,
                              pk_vfound *found, size_t max_found);

typedef struct pk_kernel {
    const char *name;      /* "ref", "shani", "avx2:2r", "avx512:1", ... */
    unsigned lanes;        /* nonces per step: scan cost is per `lanes` */
    unsigned cpu_features; /* PK_CPU_* bits it needs */
    pk_scan_fn scan;
    unsigned vlanes;       /* 0, or the number of jobs vscan takes */
    pk_vscan_fn vscan;     /* NULL when the kernel has no version lanes */
} pk_kernel;

PK_API extern const pk_kernel pk_kernel_ref;
/* SHA-NI with S nonces interleaved: pk_kernel_shani is "shani:5", the
 * others "shani:S". */
PK_API extern const pk_kernel pk_kernel_shani;
PK_API extern const pk_kernel pk_kernel_shani_2;
PK_API extern const pk_kernel pk_kernel_shani_3;
PK_API extern const pk_kernel pk_kernel_shani_4;
PK_API extern const pk_kernel pk_kernel_shani_8;
/* The lane kernels come in layouts ("family:layout"), each measured at
 * start-up; the family's name alone picks the fastest here.  avx2 and
 * avx512 are the two-group rolled layouts (":2r"); ":1" is one group, ":2"
 * two groups fully unrolled (kernels/lanes_scan.h says why). */
PK_API extern const pk_kernel pk_kernel_avx2;
PK_API extern const pk_kernel pk_kernel_avx2_1;
PK_API extern const pk_kernel pk_kernel_avx2_2;
PK_API extern const pk_kernel pk_kernel_avx2_2l;
PK_API extern const pk_kernel pk_kernel_avx512;
PK_API extern const pk_kernel pk_kernel_avx512_1;
PK_API extern const pk_kernel pk_kernel_avx512_2;
PK_API extern const pk_kernel pk_kernel_avx512_2l;
/* aarch64 builds only: the SHA-2 Crypto Extensions with S nonces
 * interleaved (pk_kernel_armsha is "armsha:2"), and NEON lanes in the
 * layouts above ("neon" is "neon:2r"). */
PK_API extern const pk_kernel pk_kernel_armsha;
PK_API extern const pk_kernel pk_kernel_armsha_1;
PK_API extern const pk_kernel pk_kernel_armsha_3;
PK_API extern const pk_kernel pk_kernel_armsha_4;
PK_API extern const pk_kernel pk_kernel_neon;
PK_API extern const pk_kernel pk_kernel_neon_1;
PK_API extern const pk_kernel pk_kernel_neon_2;
PK_API extern const pk_kernel pk_kernel_neon_2l;

/* Every kernel powkit has, ref first. */
PK_API extern const pk_kernel *const pk_kernels_all[];
PK_API extern const size_t pk_kernels_count;

/* 1 when hash (32 bytes as SHA-256 wrote them) <= target (little-endian). */
PK_API int pk_hash_meets_target(const uint8_t hash[32], const uint8_t target[32]);

/* Compact "bits" to a 32-byte little-endian target.  Returns 0, or -1 for
 * a negative or overflowing encoding (target left zero). */
PK_API int pk_bits_to_target(uint32_t bits, uint8_t target[32]);

/* Target for a pool difficulty (difficulty 1 = 0x00000000ffff0000...). */
PK_API void pk_difficulty_to_target(double difficulty, uint8_t target[32]);
/* The difficulty of a target (its inverse; 0 for an all-zero target). */
PK_API double pk_target_to_difficulty(const uint8_t target[32]);

#ifdef __cplusplus
}
#endif
#endif
