/* Internal to kernels/: the SHA-256 primitives (FIPS 180-4, sections
 * 4.2.2 and 5.3.3) that the general hash, the reference kernel and every
 * SIMD implementation share: the constants, the round functions, the
 * byte-order loads and the portable block compression.  Defined in
 * sha256_core.c, which uses nothing else of the project. */
#ifndef POWKIT_SHA256_CORE_H
#define POWKIT_SHA256_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "powkit/export.h"

PK_LOCAL extern const uint32_t pk_sha256_k[64];
PK_LOCAL extern const uint32_t pk_sha256_iv[8];

static inline uint32_t pk_rotr32(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }
static inline uint32_t pk_bsig0(uint32_t x) { return pk_rotr32(x, 2) ^ pk_rotr32(x, 13) ^ pk_rotr32(x, 22); }
static inline uint32_t pk_bsig1(uint32_t x) { return pk_rotr32(x, 6) ^ pk_rotr32(x, 11) ^ pk_rotr32(x, 25); }
static inline uint32_t pk_ssig0(uint32_t x) { return pk_rotr32(x, 7) ^ pk_rotr32(x, 18) ^ (x >> 3); }
static inline uint32_t pk_ssig1(uint32_t x) { return pk_rotr32(x, 17) ^ pk_rotr32(x, 19) ^ (x >> 10); }
static inline uint32_t pk_ch(uint32_t e, uint32_t f, uint32_t g) { return g ^ (e & (f ^ g)); }
static inline uint32_t pk_maj(uint32_t a, uint32_t b, uint32_t c) { return (a & b) | (c & (a | b)); }

static inline uint32_t pk_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void pk_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t pk_load_le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static inline void pk_store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* One SHA-256 round on scalar state words, in place.  Index i names the
 * round; the caller passes the message word. */
static inline void pk_sha256_round(uint32_t s[8], uint32_t k_plus_w)
{
    uint32_t t1 = s[7] + pk_bsig1(s[4]) + pk_ch(s[4], s[5], s[6]) + k_plus_w;
    uint32_t t2 = pk_bsig0(s[0]) + pk_maj(s[0], s[1], s[2]);
    s[7] = s[6]; s[6] = s[5]; s[5] = s[4]; s[4] = s[3] + t1;
    s[3] = s[2]; s[2] = s[1]; s[1] = s[0]; s[0] = t1 + t2;
}

/* Compress n 64-byte blocks into state. */
typedef void (*pk_compress_fn)(uint32_t state[8], const uint8_t *blocks, size_t n);
void pk_sha256_compress_ref(uint32_t state[8], const uint8_t *blocks, size_t n);
/* Portable: one block into each of n states, one after another. */
void pk_sha256_compress_ref_multi(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n);

#endif
