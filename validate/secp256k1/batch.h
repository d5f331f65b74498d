/* BIP340 batch verification (validate/secp256k1/bip340_batch.c): many
 * signatures checked by one multi-scalar multiplication, with random
 * weights (BIP340, "Batch Verification"):
 *   (sum a_i s_i) G - sum a_i R_i - sum (a_i e_i) P_i == infinity,
 * a_1 = 1 and the other a_i from SHA-256 in counter mode, seeded by the
 * hash of every input of the batch.  The sum runs over 128-bit halves
 * (the GLV split of every scalar): Strauss's method (wNAF tables, shared
 * doublings) for few points, Pippenger's bucket method for many, eight
 * windows at a time in the IFMA lanes where the CPU has them, portable
 * elsewhere; the crossover measured by bench_verify batches.
 * Internal to validate/.  Public data only: not constant-time. */
#ifndef POWKIT_SECP256K1_BATCH_H
#define POWKIT_SECP256K1_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "group.h"

typedef struct pk_bip340_item {
    const uint8_t *sig; /* 64 bytes */
    const uint8_t *msg;
    size_t msglen;
    const uint8_t *key; /* x-only, 32 bytes */
} pk_bip340_item;

/* Checks items[0..n) together.  alone[i] tells what each one is:
 * 1 in the sum, -1 its key does not lift (invalid alone: "bad pubkey"),
 * 0 r >= p, s >= n or r not a point's x (invalid alone).  Returns 1 when
 * the sum over the items marked 1 is at infinity (then every one of them
 * is valid, but for a chance of 2^-128 per batch), 0 when it is not or
 * when the lanes met a sum they cannot do (then some may still be valid:
 * check halves, or one by one).  use_ifma: the IFMA lanes (the caller
 * knows they are there). */
int pk_bip340_batch(const pk_bip340_item *items, size_t n, int8_t *alone, int use_ifma);

/* How the sum is done: chosen by cost, or forced (benchmarks, tests). */
typedef enum pk_msm_method { PK_MSM_AUTO, PK_MSM_STRAUSS, PK_MSM_BUCKETS } pk_msm_method;
int pk_bip340_batch_with(const pk_bip340_item *items, size_t n, int8_t *alone, int use_ifma, pk_msm_method method);
/* The method PK_MSM_AUTO picks for n signatures (2 n + 2 halves at most). */
pk_msm_method pk_bip340_batch_method(size_t n, int use_ifma);

/* How many batches were checked so far (for the tests). */
uint64_t pk_bip340_batches(void);

/* ---- the parts, shared between the backends ---- */

/* A point of the sum: affine (x, y below p) times a 128-bit k. */
typedef struct pk_msm_point {
    pk_fe x, y;
    uint64_t k[2];
} pk_msm_point;

/* BIP340's lift_x (the even y); 0 when x32 is no point's x. */
int pk_native_lift_x(pk_ge *r, const uint8_t x32[32]);

/* IFMA (ecmult_ifma.c): lanes of mask lifted to the root of parity
 * want[l]; returns the lanes that lifted. */
unsigned pk_ifma_lift8(pk_fe px[8], pk_fe py[8], unsigned mask, const int want[8]);
/* The window sums W[w] = sum over b of b * (the points whose c-bit digit
 * w is b), for the ceil(128 / c) windows (c 1 to 8), eight windows at a
 * time in the lanes.  Returns 0 when a lane met an exceptional sum (W is
 * then not to be used). */
int pk_ifma_msm_windows(pk_gej *W, const pk_msm_point *pts, size_t m, unsigned c);

#endif
