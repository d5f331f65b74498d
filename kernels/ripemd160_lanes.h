/* RIPEMD-160's compression of one padded block per lane, for a SIMD file
 * that first defines its vocabulary: V (a register of LANES 32-bit
 * lanes), SET1, ADD, ROL (by a count that need not be an immediate: the
 * steps' counts come from tables), ROL10, and the five boolean functions
 * F1..F5 of the specification (Dobbertin, Bosselaers, Preneel, 1996):
 *   F1 x^y^z   F2 (x&y)|(~x&z)   F3 (x|~y)^z   F4 (x&z)|(y&~z)   F5 x^(y|~z)
 * The left line uses F1..F5 in its five rounds of 16 steps, the right
 * line F5..F1; each step is
 *   T = rol(A + f(B, C, D) + X[r] + K, s) + E;  A = E; E = D; D = rol(C, 10);
 *   C = B; B = T
 * and the chaining value takes both lines' registers crosswise. */
#ifndef POWKIT_RIPEMD160_LANES_H
#define POWKIT_RIPEMD160_LANES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The message word each step reads, and its rotation, left and right. */
static const uint8_t rmd_rl[80] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
    3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
    1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
    4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13};
static const uint8_t rmd_rr[80] = {
    5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
    6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
    15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
    8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
    12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11};
static const uint8_t rmd_sl[80] = {
    11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
    7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
    11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
    11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
    9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6};
static const uint8_t rmd_sr[80] = {
    8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
    9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
    9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
    15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
    8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11};
static const uint32_t rmd_kl[5] = {0x00000000u, 0x5a827999u, 0x6ed9eba1u, 0x8f1bbcdcu, 0xa953fd4eu};
static const uint32_t rmd_kr[5] = {0x50a28be6u, 0x5c4dd124u, 0x6d703ef3u, 0x7a6d76e9u, 0x00000000u};

/* One round of 16 steps on both lines: FL on the left, FR on the right. */
#define RMD_ROUND(g, FL, FR)                                                                       \
    do {                                                                                           \
        const V kl_ = SET1(rmd_kl[g]), kr_ = SET1(rmd_kr[g]);                                      \
        for (int i_ = 16 * (g); i_ < 16 * (g) + 16; i_++) {                                        \
            V t_ = ADD(ROL(ADD(ADD(al, FL(bl, cl, dl)), ADD(x[rmd_rl[i_]], kl_)), rmd_sl[i_]), el); \
            al = el;                                                                               \
            el = dl;                                                                               \
            dl = ROL10(cl);                                                                        \
            cl = bl;                                                                               \
            bl = t_;                                                                               \
            t_ = ADD(ROL(ADD(ADD(ar, FR(br, cr, dr)), ADD(x[rmd_rr[i_]], kr_)), rmd_sr[i_]), er);  \
            ar = er;                                                                               \
            er = dr;                                                                               \
            dr = ROL10(cr);                                                                        \
            cr = br;                                                                               \
            br = t_;                                                                               \
        }                                                                                          \
    } while (0)

/* h (five words per lane) compressed with the block whose sixteen
 * little-endian words are x. */
static inline __attribute__((always_inline)) void rmd_compress(V h[5], const V x[16])
{
    V al = h[0], bl = h[1], cl = h[2], dl = h[3], el = h[4];
    V ar = al, br = bl, cr = cl, dr = dl, er = el;
    RMD_ROUND(0, F1, F5);
    RMD_ROUND(1, F2, F4);
    RMD_ROUND(2, F3, F3);
    RMD_ROUND(3, F4, F2);
    RMD_ROUND(4, F5, F1);
    V t = ADD(ADD(h[1], cl), dr);
    h[1] = ADD(ADD(h[2], dl), er);
    h[2] = ADD(ADD(h[3], el), ar);
    h[3] = ADD(ADD(h[4], al), br);
    h[4] = ADD(ADD(h[0], bl), cr);
    h[0] = t;
}

/* The initial chaining value. */
static const uint32_t rmd_iv[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};

/* Each lane's 32-byte message in x[0..7] (little-endian words): padded,
 * hashed from the IV, the k first lanes' digests written to out[0..k). */
static inline __attribute__((always_inline)) void rmd_hash32_lanes(V x[16], size_t k, uint8_t (*out)[20])
{
    x[8] = SET1(0x80); /* the padding's first byte */
    for (int w = 9; w < 14; w++)
        x[w] = SET1(0);
    x[14] = SET1(256); /* the length in bits, little-endian */
    x[15] = SET1(0);
    V h[5];
    for (int i = 0; i < 5; i++)
        h[i] = SET1(rmd_iv[i]);
    rmd_compress(h, x);
    uint32_t t[5][LANES];
    for (int i = 0; i < 5; i++)
        STOREU(t[i], h[i]);
    for (size_t l = 0; l < k; l++)
        for (int i = 0; i < 5; i++)
            memcpy(out[l] + 4 * i, &t[i][l], 4); /* little-endian words */
}

#endif
