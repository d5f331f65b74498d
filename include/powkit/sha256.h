/* powkit: SHA-256 for the whole project.
 *
 * One-shot and streaming SHA-256 and double SHA-256.  The block compression
 * is picked once at first use: the SHA extensions when the CPU has them (and
 * they pass a self-test: SHA-NI on x86-64, the ARMv8 SHA-2 instructions on
 * aarch64), portable C otherwise.  POWKIT_DISABLE=shani (or armsha) forces
 * the portable path.  There is no other SHA-256 in powkit.
 */
#ifndef POWKIT_SHA256_H
#define POWKIT_SHA256_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PK_SHA256_SIZE 32
#define PK_SHA256_BLOCK 64

typedef struct pk_sha256_ctx {
    uint32_t state[8];
    uint8_t buf[PK_SHA256_BLOCK];
    uint64_t bytes; /* total bytes fed so far */
} pk_sha256_ctx;

PK_API void pk_sha256_init(pk_sha256_ctx *ctx);
PK_API void pk_sha256_update(pk_sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest and leaves ctx re-initialised for a new message. */
PK_API void pk_sha256_final(pk_sha256_ctx *ctx, uint8_t out[PK_SHA256_SIZE]);

PK_API void pk_sha256(const void *data, size_t len, uint8_t out[PK_SHA256_SIZE]);
/* SHA256(SHA256(data)): Bitcoin's hash for headers, txids and merkle nodes. */
PK_API void pk_sha256d(const void *data, size_t len, uint8_t out[PK_SHA256_SIZE]);

/* State after compressing one 64-byte block from the initial value: the
 * mining midstate of a header's first 64 bytes. */
PK_API void pk_sha256_midstate(const uint8_t block[PK_SHA256_BLOCK], uint32_t out[8]);

/* Double SHA-256 of n messages (out[i] for msgs[i] of lens[i] bytes), many
 * at once in SIMD lanes: txids and wtxids of a block. */
PK_API void pk_sha256d_many(const uint8_t *const *msgs, const size_t *lens, size_t n, uint8_t (*out)[32]);
/* SHA-256 of n messages that share a prefix of whole 64-byte blocks (a
 * BIP340 tagged hash's two tag hashes): state is the prefix's compressed
 * state (pk_sha256_ctx.state after it), prefix_len its length in bytes;
 * out[i] = SHA256(prefix || msgs[i]), many at once in SIMD lanes. */
PK_API void pk_sha256_many_from(const uint32_t state[8], uint64_t prefix_len, const uint8_t *const *msgs,
                                const size_t *lens, size_t n, uint8_t (*out)[32]);
/* A message in pieces, resumed from a midstate: the first hash starts at
 * state after prefix bytes (a multiple of 64) and reads the segments in
 * order; the second hash is of the first's digest.  Legacy signature
 * hashes: a transaction's shared prefix, then the input's script code,
 * the rest of the transaction and the hash type, none of them copied. */
typedef struct pk_sha256_seg {
    const uint8_t *p;
    size_t n;
} pk_sha256_seg;
typedef struct pk_sha256_gather {
    uint32_t state[8];
    uint64_t prefix;
    const pk_sha256_seg *segs;
    size_t nsegs;
} pk_sha256_gather;
/* out[i] = SHA256(SHA256(prefix || segments of msgs[i])), many at once. */
PK_API void pk_sha256d_many_gather(const pk_sha256_gather *msgs, size_t n, uint8_t (*out)[32]);
/* Double SHA-256 of n 64-byte inputs (merkle node pairs) into n*32 bytes. */
PK_API void pk_sha256d64_many(const uint8_t *in, size_t n, uint8_t *out);
/* The same for 80-byte messages (block headers) laid side by side. */
PK_API void pk_sha256d80_many(const uint8_t *in, size_t n, uint8_t *out);
/* The paths chosen at the first call, each the fastest of this CPU's on a
 * short timed run: "avx512", "shani", "avx2", "armsha", "neon" or "ref".
 * The first serves messages of any length (pk_sha256d_many, the gathered
 * and the prefixed ones), the second the two fixed-length calls above. */
PK_API const char *pk_sha256_multi_implementation(void);
PK_API const char *pk_sha256_multi_fixed_implementation(void);

/* Name of the compression the functions above use: "shani", "armsha" or
 * "ref". */
PK_API const char *pk_sha256_implementation(void);

#ifdef __cplusplus
}
#endif
#endif
