/* powkit's secp256k1 field arithmetic eight at a time, on AVX-512 IFMA:
 * one zmm register holds one 52-bit limb of eight field elements (lane k
 * of limb i is element k's n[i], the portable layout of field.h).
 *
 * vpmadd52luq/vpmadd52huq multiply the low 52 bits of their operands, so
 * a product's inputs must have every limb below 2^52 ("carried" form).
 * Products and squares return limbs 0..3 below 2^52 and limb 4 below
 * 2^49; sums and differences come out "loose" (limbs up to 2^59) and go
 * through fe8_carry before they are multiplied.  pk_fe_normalize (field.h)
 * gives the unique form, one lane at a time, for comparisons.
 *
 * Include only from a file compiled for AVX-512 F/VL/DQ/IFMA, and call
 * only where the CPU has them.  Public data only: not constant-time. */
#ifndef POWKIT_SECP256K1_FIELD_IFMA_H
#define POWKIT_SECP256K1_FIELD_IFMA_H

#include <immintrin.h>
#include <stdint.h>

#include "field.h"

typedef __m512i pk_v8;

typedef struct pk_fe8 {
    pk_v8 n[5];
} pk_fe8;

#define PK_V8(x) _mm512_set1_epi64((long long)(x))
#define PK_LO(acc, a, b) _mm512_madd52lo_epu64((acc), (a), (b))
#define PK_HI(acc, a, b) _mm512_madd52hi_epu64((acc), (a), (b))

/* 64 p limb by limb: above every limb of a sum of up to eight carried
 * values, so a + 64p - b never goes below zero in any limb. */
#define PK_K64_0 (64 * 0xFFFFEFFFFFC2Full)
#define PK_K64_1 (64 * 0xFFFFFFFFFFFFFull)
#define PK_K64_4 (64 * 0x0FFFFFFFFFFFFull)

/* Ten columns of 52-bit pieces (each below 2^57) to the carried form:
 * the columns at 2^260 and above come back times 2^260 mod p (37 bits,
 * split so that IFMA's 52-bit inputs are exact), then the part of limb 4
 * above 2^256 times 2^256 mod p, then one carry chain. */
static inline __attribute__((always_inline)) void pk_fe8_reduce(pk_fe8 *r, pk_v8 t[10])
{
    const pk_v8 C = PK_V8(PK_FE_R4), R = PK_V8(PK_FE_R), M = PK_V8(PK_FE_M52), M48 = PK_V8(PK_FE_M48);
    pk_v8 top = _mm512_setzero_si512();
#pragma GCC unroll 5
    for (int k = 5; k < 10; k++) {
        pk_v8 l = _mm512_and_si512(t[k], M), h = _mm512_srli_epi64(t[k], 52); /* h < 2^5: h*C < 2^42 */
        t[k - 5] = PK_LO(t[k - 5], l, C);
        if (k < 9) {
            t[k - 4] = PK_HI(t[k - 4], l, C);
            t[k - 4] = PK_LO(t[k - 4], h, C);
        } else {
            top = PK_HI(top, l, C);
            top = PK_LO(top, h, C);
        }
    }
    /* top (weight 2^260) is below 2^43 */
    t[0] = PK_LO(t[0], top, C);
    t[1] = PK_HI(t[1], top, C);
    pk_v8 c = _mm512_srli_epi64(t[4], 48); /* below 2^11: c*R exact in 52 bits */
    t[4] = _mm512_and_si512(t[4], M48);
    t[0] = PK_LO(t[0], c, R);
    t[1] = _mm512_add_epi64(t[1], _mm512_srli_epi64(t[0], 52));
    r->n[0] = _mm512_and_si512(t[0], M);
    t[2] = _mm512_add_epi64(t[2], _mm512_srli_epi64(t[1], 52));
    r->n[1] = _mm512_and_si512(t[1], M);
    t[3] = _mm512_add_epi64(t[3], _mm512_srli_epi64(t[2], 52));
    r->n[2] = _mm512_and_si512(t[2], M);
    r->n[4] = _mm512_add_epi64(t[4], _mm512_srli_epi64(t[3], 52));
    r->n[3] = _mm512_and_si512(t[3], M);
}

/* a*b, both carried (every limb below 2^52). */
static inline __attribute__((always_inline)) void pk_fe8_mul(pk_fe8 *r, const pk_fe8 *a, const pk_fe8 *b)
{
    pk_v8 t[10];
#pragma GCC unroll 10
    for (int k = 0; k < 10; k++)
        t[k] = _mm512_setzero_si512();
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++) {
#pragma GCC unroll 5
        for (int j = 0; j < 5; j++) {
            t[i + j] = PK_LO(t[i + j], a->n[i], b->n[j]);
            t[i + j + 1] = PK_HI(t[i + j + 1], a->n[i], b->n[j]);
        }
    }
    pk_fe8_reduce(r, t);
}

/* a^2, a carried: the ten cross products once, doubled, then the squares. */
static inline __attribute__((always_inline)) void pk_fe8_sqr(pk_fe8 *r, const pk_fe8 *a)
{
    pk_v8 t[10];
#pragma GCC unroll 10
    for (int k = 0; k < 10; k++)
        t[k] = _mm512_setzero_si512();
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++) {
#pragma GCC unroll 5
        for (int j = i + 1; j < 5; j++) {
            t[i + j] = PK_LO(t[i + j], a->n[i], a->n[j]);
            t[i + j + 1] = PK_HI(t[i + j + 1], a->n[i], a->n[j]);
        }
    }
#pragma GCC unroll 10
    for (int k = 1; k < 10; k++)
        t[k] = _mm512_add_epi64(t[k], t[k]);
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++) {
        t[2 * i] = PK_LO(t[2 * i], a->n[i], a->n[i]);
        t[2 * i + 1] = PK_HI(t[2 * i + 1], a->n[i], a->n[i]);
    }
    pk_fe8_reduce(r, t);
}

/* A loose value (limbs below 2^59) to the carried form. */
static inline __attribute__((always_inline)) void pk_fe8_carry(pk_fe8 *r)
{
    const pk_v8 R = PK_V8(PK_FE_R), M = PK_V8(PK_FE_M52), M48 = PK_V8(PK_FE_M48);
    pk_v8 c = _mm512_srli_epi64(r->n[4], 48);
    r->n[4] = _mm512_and_si512(r->n[4], M48);
    r->n[0] = PK_LO(r->n[0], c, R);
    r->n[1] = _mm512_add_epi64(r->n[1], _mm512_srli_epi64(r->n[0], 52));
    r->n[0] = _mm512_and_si512(r->n[0], M);
    r->n[2] = _mm512_add_epi64(r->n[2], _mm512_srli_epi64(r->n[1], 52));
    r->n[1] = _mm512_and_si512(r->n[1], M);
    r->n[3] = _mm512_add_epi64(r->n[3], _mm512_srli_epi64(r->n[2], 52));
    r->n[2] = _mm512_and_si512(r->n[2], M);
    r->n[4] = _mm512_add_epi64(r->n[4], _mm512_srli_epi64(r->n[3], 52));
    r->n[3] = _mm512_and_si512(r->n[3], M);
}

static inline __attribute__((always_inline)) void pk_fe8_add(pk_fe8 *r, const pk_fe8 *a, const pk_fe8 *b)
{
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++)
        r->n[i] = _mm512_add_epi64(a->n[i], b->n[i]);
}

/* a + 64p - b: b a sum of at most eight carried values (or one of them
 * shifted left by at most 3); a loose result. */
static inline __attribute__((always_inline)) void pk_fe8_sub(pk_fe8 *r, const pk_fe8 *a, const pk_fe8 *b)
{
    static const uint64_t k[5] = {PK_K64_0, PK_K64_1, PK_K64_1, PK_K64_1, PK_K64_4};
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++)
        r->n[i] = _mm512_sub_epi64(_mm512_add_epi64(a->n[i], PK_V8(k[i])), b->n[i]);
}

/* a * 2^s limb by limb (s up to 3), loose. */
static inline __attribute__((always_inline)) void pk_fe8_shl(pk_fe8 *r, const pk_fe8 *a, unsigned s)
{
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++)
        r->n[i] = _mm512_slli_epi64(a->n[i], s);
}

/* Lanes of mask from b, the others from a. */
static inline __attribute__((always_inline)) void pk_fe8_blend(pk_fe8 *r, __mmask8 mask, const pk_fe8 *a, const pk_fe8 *b)
{
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++)
        r->n[i] = _mm512_mask_blend_epi64(mask, a->n[i], b->n[i]);
}

static inline void pk_fe8_set1(pk_fe8 *r, const pk_fe *a)
{
    for (int i = 0; i < 5; i++)
        r->n[i] = PK_V8(a->n[i]);
}

/* Lane k from a[k] (carried limbs). */
static inline void pk_fe8_load(pk_fe8 *r, const pk_fe a[8])
{
    for (int i = 0; i < 5; i++)
        r->n[i] = _mm512_setr_epi64((long long)a[0].n[i], (long long)a[1].n[i], (long long)a[2].n[i],
                                    (long long)a[3].n[i], (long long)a[4].n[i], (long long)a[5].n[i],
                                    (long long)a[6].n[i], (long long)a[7].n[i]);
}

static inline void pk_fe8_store(pk_fe out[8], const pk_fe8 *a)
{
    uint64_t l[5][8];
    for (int i = 0; i < 5; i++)
        _mm512_storeu_si512((void *)l[i], a->n[i]);
    for (int k = 0; k < 8; k++)
        for (int i = 0; i < 5; i++)
            out[k].n[i] = l[i][k];
}

static inline void pk_fe8_sqr_n(pk_fe8 *r, const pk_fe8 *a, int n)
{
    *r = *a;
    for (int i = 0; i < n; i++)
        pk_fe8_sqr(r, r);
}

/* a^((p+1)/4), the square root candidate: field.h's addition chain. */
static inline void pk_fe8_sqrt_candidate(pk_fe8 *r, const pk_fe8 *a)
{
    pk_fe8 x2, x3, x6, x9, x11, x22, x44, x88, x176, x220, x223, t;
    pk_fe8_sqr(&t, a);
    pk_fe8_mul(&x2, &t, a);
    pk_fe8_sqr(&t, &x2);
    pk_fe8_mul(&x3, &t, a);
    pk_fe8_sqr_n(&t, &x3, 3);
    pk_fe8_mul(&x6, &t, &x3);
    pk_fe8_sqr_n(&t, &x6, 3);
    pk_fe8_mul(&x9, &t, &x3);
    pk_fe8_sqr_n(&t, &x9, 2);
    pk_fe8_mul(&x11, &t, &x2);
    pk_fe8_sqr_n(&t, &x11, 11);
    pk_fe8_mul(&x22, &t, &x11);
    pk_fe8_sqr_n(&t, &x22, 22);
    pk_fe8_mul(&x44, &t, &x22);
    pk_fe8_sqr_n(&t, &x44, 44);
    pk_fe8_mul(&x88, &t, &x44);
    pk_fe8_sqr_n(&t, &x88, 88);
    pk_fe8_mul(&x176, &t, &x88);
    pk_fe8_sqr_n(&t, &x176, 44);
    pk_fe8_mul(&x220, &t, &x44);
    pk_fe8_sqr_n(&t, &x220, 3);
    pk_fe8_mul(&x223, &t, &x3);
    pk_fe8_sqr_n(&t, &x223, 23);
    pk_fe8_mul(&t, &t, &x22);
    pk_fe8_sqr_n(&t, &t, 6);
    pk_fe8_mul(&t, &t, &x2);
    pk_fe8_sqr_n(r, &t, 2);
}

#endif
