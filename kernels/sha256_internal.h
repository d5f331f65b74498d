/* Internal to kernels/: what the SHA-256 implementations and the
 * nonce-scan kernels share above the primitives of sha256_core.h: the
 * compressions of each instruction set, the multi-buffer paths, and the
 * candidate recheck every kernel finishes with. */
#ifndef POWKIT_SHA256_INTERNAL_H
#define POWKIT_SHA256_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "powkit/cpu.h"
#include "powkit/export.h"
#include "powkit/kernel.h"
#include "powkit/sha256.h"
#include "sha256_core.h"

void pk_sha256_compress_shani(uint32_t state[8], const uint8_t *blocks, size_t n);
/* One block into each of n independent states (any n), SHA-NI streams
 * interleaved eight at a time. */
void pk_sha256_compress_shani_multi(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n);
void pk_sha256_compress_avx2_multi(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n);
void pk_sha256_compress_avx512_multi(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n);
void pk_sha256_compress_armsha(uint32_t state[8], const uint8_t *blocks, size_t n);
void pk_sha256_compress_armsha_multi(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n);
void pk_sha256_compress_neon_multi(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n);
/* Word-major states: word j of lane l at st[j][l], each row 64-byte
 * aligned, for paths whose lanes load a word of every state at once. */
#define PK_SOA_COLS 32
/* 1 <= n <= PK_HYBRID_LANES lanes, AVX-512 and SHA-NI together. */
#define PK_HYBRID_LANES 20
void pk_sha256_compress_hybrid_soa(uint32_t (*st)[PK_SOA_COLS], const uint8_t *const *blocks, size_t n);

/* Double SHA-256 of 64- or 80-byte messages laid side by side, whole
 * batches only: returns how many of the n it hashed (the rest go through
 * the general path). */
size_t pk_sha256d64_avx512(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d64_avx2(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d80_avx512(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d80_avx2(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d64_shani(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d80_shani(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d64_armsha(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d80_armsha(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d64_neon(uint8_t *out, const uint8_t *in, size_t n);
size_t pk_sha256d80_neon(uint8_t *out, const uint8_t *in, size_t n);

/* A multi-buffer compression path: `lanes` messages at a time, and
 * optionally its own double hashes of 64-byte (merkle nodes) and 80-byte
 * (headers) messages. */
typedef void (*pk_multi_fn)(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n);
typedef void (*pk_multi_soa_fn)(uint32_t (*st)[PK_SOA_COLS], const uint8_t *const *blocks, size_t n);
typedef size_t (*pk_d64_fn)(uint8_t *out, const uint8_t *in, size_t n);
typedef struct pk_multi_path {
    const char *name; /* "a+b": also off when a or b is disabled */
    unsigned cpu;
    size_t lanes;
    pk_multi_fn fn;     /* states lane by lane, or NULL and: */
    pk_multi_soa_fn soa; /* word-major states */
    pk_d64_fn d64, d80; /* NULL: the general path */
} pk_multi_path;
/* Every path, widest first (ref last); for tests and benchmarks. */
const pk_multi_path *pk_sha256_multi_paths(size_t *n);
void pk_sha256d_many_using(const pk_multi_path *p, const uint8_t *const *msgs, const size_t *lens,
                           size_t n, uint8_t (*out)[32]);
void pk_sha256d_many_gather_using(const pk_multi_path *p, const pk_sha256_gather *msgs, size_t n,
                                  uint8_t (*out)[32]);
/* len 64 or 80. */
void pk_sha256d_fixed_many_using(const pk_multi_path *p, const uint8_t *in, size_t len, size_t n, uint8_t *out);

/* Compares a double SHA-256 given as its final state words (H0..H7 before
 * serialisation) against a job's target.  Used by every kernel for the
 * full 256-bit check after its early reject. */
static inline int pk_state_meets_target(const uint32_t h[8], const uint32_t target_w[8])
{
    /* The hash's little-endian number has H7's bytes, reversed, on top. */
    for (int i = 7; i >= 0; i--) {
        uint32_t v = __builtin_bswap32(h[i]);
        if (v != target_w[i])
            return v < target_w[i];
    }
    return 1;
}

/* Scalar double SHA-256 of the header for one nonce, as final state words
 * (job.c, on the portable compression).  The slow exact path kernels use
 * to finish a candidate, and the reference kernel's whole work. */
void pk_job_hash_nonce(const pk_job *job, uint32_t nonce, uint32_t out[8]);

/* One step's candidates: bit i of mask is nonce n + i, which passed a
 * kernel's early test (H7 against the target's top word).  Each is hashed
 * again on the scalar path and kept in found[] if it meets the whole
 * target.  Returns 1 when found[] is full before one more (the kernel then
 * returns max_found + 1: resume after found[max_found - 1]), else 0. */
static inline int pk_recheck_candidates(const pk_job *job, uint32_t n, uint64_t mask, uint32_t *found,
                                        size_t max_found, size_t *hits)
{
    while (mask) {
        uint32_t nonce = n + (uint32_t)__builtin_ctzll(mask), h[8];
        mask &= mask - 1;
        pk_job_hash_nonce(job, nonce, h);
        if (pk_state_meets_target(h, job->target_w)) {
            if (*hits == max_found)
                return 1;
            found[(*hits)++] = nonce;
        }
    }
    return 0;
}

#endif
