/* powkit's secp256k1 field arithmetic, portable: integers mod
 * p = 2^256 - 2^32 - 977 in five limbs of 52 bits (64-bit words,
 * unsigned __int128 products).
 *
 * A value may be held unreduced: its "magnitude" m bounds each limb by
 * about m * 2^52 (the top limb by about m * 2^48); additions add
 * magnitudes, products and squares come out with magnitude 1 (a carry of
 * at most 2^37 past 2^52 in the low limbs, which negation's 2(m+1)p
 * covers).  Inputs to a
 * product may have magnitude up to 64 (limbs below 2^58: each partial
 * product below 2^116, a column of five below 2^119).  pk_fe_normalize
 * gives the unique representative below p, the only form in which values
 * are compared or serialised.
 *
 * Verification handles public data only: nothing here is constant-time. */
#ifndef POWKIT_SECP256K1_FIELD_H
#define POWKIT_SECP256K1_FIELD_H

#include <stdint.h>
#include <string.h>

typedef struct pk_fe {
    uint64_t n[5];
} pk_fe;

typedef unsigned __int128 pk_u128;

#define PK_FE_M52 0xFFFFFFFFFFFFFull
#define PK_FE_M48 0xFFFFFFFFFFFFull
/* 2^256 mod p, and 2^260 mod p (the fold of a limb above the fifth). */
#define PK_FE_R 0x1000003D1ull
#define PK_FE_R4 0x1000003D10ull

/* p's limbs. */
static const uint64_t PK_FE_P[5] = {0xFFFFEFFFFFC2Full, 0xFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFull,
                                    0xFFFFFFFFFFFFFull, 0x0FFFFFFFFFFFFull};

static inline void pk_fe_set_int(pk_fe *r, uint64_t v)
{
    r->n[0] = v & PK_FE_M52;
    r->n[1] = v >> 52;
    r->n[2] = r->n[3] = r->n[4] = 0;
}

/* Big-endian 32 bytes; returns 0 when the value is p or more (r then holds
 * it unreduced, which the caller must not use). */
static inline int pk_fe_set_b32(pk_fe *r, const uint8_t b[32])
{
    uint64_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = 0;
        for (int k = 0; k < 8; k++)
            w[i] = w[i] << 8 | b[24 - 8 * i + k];
    }
    r->n[0] = w[0] & PK_FE_M52;
    r->n[1] = (w[0] >> 52 | w[1] << 12) & PK_FE_M52;
    r->n[2] = (w[1] >> 40 | w[2] << 24) & PK_FE_M52;
    r->n[3] = (w[2] >> 28 | w[3] << 36) & PK_FE_M52;
    r->n[4] = w[3] >> 16;
    /* below p unless every limb is at p's and the low one at or above */
    return !(r->n[4] == PK_FE_P[4] && (r->n[3] & r->n[2] & r->n[1]) == PK_FE_M52 && r->n[0] >= PK_FE_P[0]);
}

/* The unique representative below p. */
static inline void pk_fe_normalize(pk_fe *r)
{
    uint64_t t0 = r->n[0], t1 = r->n[1], t2 = r->n[2], t3 = r->n[3], t4 = r->n[4];
    for (int pass = 0; pass < 2; pass++) {
        /* carries up, then what is above 2^256 folds back as times R */
        t1 += t0 >> 52, t0 &= PK_FE_M52;
        t2 += t1 >> 52, t1 &= PK_FE_M52;
        t3 += t2 >> 52, t2 &= PK_FE_M52;
        t4 += t3 >> 52, t3 &= PK_FE_M52;
        uint64_t x = t4 >> 48;
        t4 &= PK_FE_M48;
        t0 += x * PK_FE_R;
    }
    t1 += t0 >> 52, t0 &= PK_FE_M52;
    t2 += t1 >> 52, t1 &= PK_FE_M52;
    t3 += t2 >> 52, t2 &= PK_FE_M52;
    t4 += t3 >> 52, t3 &= PK_FE_M52;
    /* now below 2^256 + a little; at or above p means adding R carries past 2^256 */
    uint64_t u0 = t0 + PK_FE_R, u1 = t1 + (u0 >> 52), u2 = t2 + (u1 >> 52), u3 = t3 + (u2 >> 52),
             u4 = t4 + (u3 >> 52);
    if (u4 >> 48) {
        t0 = u0 & PK_FE_M52, t1 = u1 & PK_FE_M52, t2 = u2 & PK_FE_M52, t3 = u3 & PK_FE_M52;
        t4 = u4 & PK_FE_M48;
    }
    r->n[0] = t0, r->n[1] = t1, r->n[2] = t2, r->n[3] = t3, r->n[4] = t4;
}

static inline void pk_fe_get_b32(uint8_t b[32], const pk_fe *a)
{
    pk_fe t = *a;
    pk_fe_normalize(&t);
    uint64_t w[4] = {t.n[0] | t.n[1] << 52, t.n[1] >> 12 | t.n[2] << 40, t.n[2] >> 24 | t.n[3] << 28,
                     t.n[3] >> 36 | t.n[4] << 16};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 8; k++)
            b[31 - 8 * i - k] = (uint8_t)(w[i] >> (8 * k));
}

static inline int pk_fe_is_zero(const pk_fe *a)
{
    pk_fe t = *a;
    pk_fe_normalize(&t);
    return (t.n[0] | t.n[1] | t.n[2] | t.n[3] | t.n[4]) == 0;
}

static inline int pk_fe_equal(const pk_fe *a, const pk_fe *b)
{
    pk_fe x = *a, y = *b;
    pk_fe_normalize(&x);
    pk_fe_normalize(&y);
    return memcmp(x.n, y.n, sizeof x.n) == 0;
}

static inline int pk_fe_is_odd(const pk_fe *a)
{
    pk_fe t = *a;
    pk_fe_normalize(&t);
    return (int)(t.n[0] & 1);
}

static inline void pk_fe_add(pk_fe *r, const pk_fe *a, const pk_fe *b)
{
    for (int i = 0; i < 5; i++)
        r->n[i] = a->n[i] + b->n[i];
}

static inline void pk_fe_mul_int(pk_fe *r, const pk_fe *a, uint64_t k)
{
    for (int i = 0; i < 5; i++)
        r->n[i] = a->n[i] * k;
}

/* -a for a of magnitude at most m: 2(m+1)p - a, magnitude 2(m+1). */
static inline void pk_fe_negate(pk_fe *r, const pk_fe *a, uint64_t m)
{
    uint64_t k = 2 * (m + 1);
    for (int i = 0; i < 5; i++)
        r->n[i] = k * PK_FE_P[i] - a->n[i];
}

/* a - b, b of magnitude at most mb. */
static inline void pk_fe_sub(pk_fe *r, const pk_fe *a, const pk_fe *b, uint64_t mb)
{
    pk_fe nb;
    pk_fe_negate(&nb, b, mb);
    pk_fe_add(r, a, &nb);
}

/* Product and square: the 9 columns as 128-bit sums; the four above 2^260
 * are cut into 52-bit pieces (carried upward) and come back as times
 * 2^260 mod p into the low five, whose carry out folds back once more. */
static inline void pk_fe_reduce_columns(pk_fe *r, pk_u128 t[9])
{
    pk_u128 e = t[5];
    uint64_t h0 = (uint64_t)e & PK_FE_M52;
    e = (e >> 52) + t[6];
    uint64_t h1 = (uint64_t)e & PK_FE_M52;
    e = (e >> 52) + t[7];
    uint64_t h2 = (uint64_t)e & PK_FE_M52;
    e = (e >> 52) + t[8];
    uint64_t h3 = (uint64_t)e & PK_FE_M52;
    e >>= 52;
    uint64_t h4 = (uint64_t)e & PK_FE_M52, h5 = (uint64_t)(e >> 52); /* h5: weight 2^520 */
    pk_u128 c = t[0] + (pk_u128)h0 * PK_FE_R4;
    r->n[0] = (uint64_t)c & PK_FE_M52;
    c = (c >> 52) + t[1] + (pk_u128)h1 * PK_FE_R4;
    r->n[1] = (uint64_t)c & PK_FE_M52;
    c = (c >> 52) + t[2] + (pk_u128)h2 * PK_FE_R4;
    r->n[2] = (uint64_t)c & PK_FE_M52;
    c = (c >> 52) + t[3] + (pk_u128)h3 * PK_FE_R4;
    r->n[3] = (uint64_t)c & PK_FE_M52;
    c = (c >> 52) + t[4] + (pk_u128)h4 * PK_FE_R4;
    r->n[4] = (uint64_t)c & PK_FE_M52;
    c = (c >> 52) + (pk_u128)h5 * PK_FE_R4; /* weight 2^260 */
    c = c * PK_FE_R4 + r->n[0];
    r->n[0] = (uint64_t)c & PK_FE_M52;
    r->n[1] += (uint64_t)(c >> 52);
    /* the top limb back to 48 bits, so that negation's multiple of p covers it */
    uint64_t x = r->n[4] >> 48;
    r->n[4] &= PK_FE_M48;
    r->n[0] += x * PK_FE_R;
}

static inline void pk_fe_mul(pk_fe *r, const pk_fe *a, const pk_fe *b)
{
    pk_u128 t[9];
    const uint64_t *x = a->n, *y = b->n;
    t[0] = (pk_u128)x[0] * y[0];
    t[1] = (pk_u128)x[0] * y[1] + (pk_u128)x[1] * y[0];
    t[2] = (pk_u128)x[0] * y[2] + (pk_u128)x[1] * y[1] + (pk_u128)x[2] * y[0];
    t[3] = (pk_u128)x[0] * y[3] + (pk_u128)x[1] * y[2] + (pk_u128)x[2] * y[1] + (pk_u128)x[3] * y[0];
    t[4] = (pk_u128)x[0] * y[4] + (pk_u128)x[1] * y[3] + (pk_u128)x[2] * y[2] + (pk_u128)x[3] * y[1] +
           (pk_u128)x[4] * y[0];
    t[5] = (pk_u128)x[1] * y[4] + (pk_u128)x[2] * y[3] + (pk_u128)x[3] * y[2] + (pk_u128)x[4] * y[1];
    t[6] = (pk_u128)x[2] * y[4] + (pk_u128)x[3] * y[3] + (pk_u128)x[4] * y[2];
    t[7] = (pk_u128)x[3] * y[4] + (pk_u128)x[4] * y[3];
    t[8] = (pk_u128)x[4] * y[4];
    pk_fe_reduce_columns(r, t);
}

static inline void pk_fe_sqr(pk_fe *r, const pk_fe *a)
{
    pk_u128 t[9];
    const uint64_t *x = a->n;
    uint64_t d0 = 2 * x[0], d1 = 2 * x[1], d2 = 2 * x[2], d3 = 2 * x[3];
    t[0] = (pk_u128)x[0] * x[0];
    t[1] = (pk_u128)d0 * x[1];
    t[2] = (pk_u128)d0 * x[2] + (pk_u128)x[1] * x[1];
    t[3] = (pk_u128)d0 * x[3] + (pk_u128)d1 * x[2];
    t[4] = (pk_u128)d0 * x[4] + (pk_u128)d1 * x[3] + (pk_u128)x[2] * x[2];
    t[5] = (pk_u128)d1 * x[4] + (pk_u128)d2 * x[3];
    t[6] = (pk_u128)d2 * x[4] + (pk_u128)x[3] * x[3];
    t[7] = (pk_u128)d3 * x[4];
    t[8] = (pk_u128)x[4] * x[4];
    pk_fe_reduce_columns(r, t);
}

static inline void pk_fe_sqr_n(pk_fe *r, const pk_fe *a, int n)
{
    *r = *a;
    for (int i = 0; i < n; i++)
        pk_fe_sqr(r, r);
}

/* a^(2^k - 1) for the k the exponents below need: x[k]. */
typedef struct pk_fe_ones {
    pk_fe x2, x3, x22, x223;
} pk_fe_ones;

static inline void pk_fe_ones_of(pk_fe_ones *o, const pk_fe *a)
{
    pk_fe x6, x9, x11, x44, x88, x176, x220, t;
    pk_fe_sqr(&t, a);
    pk_fe_mul(&o->x2, &t, a);
    pk_fe_sqr(&t, &o->x2);
    pk_fe_mul(&o->x3, &t, a);
    pk_fe_sqr_n(&t, &o->x3, 3);
    pk_fe_mul(&x6, &t, &o->x3);
    pk_fe_sqr_n(&t, &x6, 3);
    pk_fe_mul(&x9, &t, &o->x3);
    pk_fe_sqr_n(&t, &x9, 2);
    pk_fe_mul(&x11, &t, &o->x2);
    pk_fe_sqr_n(&t, &x11, 11);
    pk_fe_mul(&o->x22, &t, &x11);
    pk_fe_sqr_n(&t, &o->x22, 22);
    pk_fe_mul(&x44, &t, &o->x22);
    pk_fe_sqr_n(&t, &x44, 44);
    pk_fe_mul(&x88, &t, &x44);
    pk_fe_sqr_n(&t, &x88, 88);
    pk_fe_mul(&x176, &t, &x88);
    pk_fe_sqr_n(&t, &x176, 44);
    pk_fe_mul(&x220, &t, &x44);
    pk_fe_sqr_n(&t, &x220, 3);
    pk_fe_mul(&o->x223, &t, &o->x3);
}

/* 1/a (a nonzero): a^(p-2).  p - 2 is 223 ones, a zero, 22 ones, then
 * 0000101101: 255 squarings and 15 products. */
static inline void pk_fe_inv(pk_fe *r, const pk_fe *a)
{
    pk_fe_ones o;
    pk_fe t;
    pk_fe_ones_of(&o, a);
    pk_fe_sqr_n(&t, &o.x223, 23);
    pk_fe_mul(&t, &t, &o.x22);
    pk_fe_sqr_n(&t, &t, 5);
    pk_fe_mul(&t, &t, a);
    pk_fe_sqr_n(&t, &t, 3);
    pk_fe_mul(&t, &t, &o.x2);
    pk_fe_sqr_n(&t, &t, 2);
    pk_fe_mul(r, &t, a);
}

/* *a[i] = 1 / *a[i] for i < n (all nonzero), Montgomery's trick: one
 * inversion and 3(n-1) products; pre holds n elements of scratch. */
static inline void pk_fe_inv_all(pk_fe *const *a, size_t n, pk_fe *pre)
{
    pk_fe acc, inv;
    if (!n)
        return;
    pk_fe_set_int(&acc, 1);
    for (size_t i = 0; i < n; i++) {
        pre[i] = acc;
        pk_fe_mul(&acc, &acc, a[i]);
    }
    pk_fe_inv(&inv, &acc);
    for (size_t i = n; i-- > 0;) {
        pk_fe t;
        pk_fe_mul(&t, &inv, &pre[i]);
        pk_fe_mul(&inv, &inv, a[i]);
        *a[i] = t;
    }
}

/* A square root of a, a^((p+1)/4), and 1 when it is one (a is a square).
 * (p+1)/4 is 223 ones, a zero, 22 ones, then 00001100. */
static inline int pk_fe_sqrt(pk_fe *r, const pk_fe *a)
{
    pk_fe_ones o;
    pk_fe t, chk;
    pk_fe_ones_of(&o, a);
    pk_fe_sqr_n(&t, &o.x223, 23);
    pk_fe_mul(&t, &t, &o.x22);
    pk_fe_sqr_n(&t, &t, 6);
    pk_fe_mul(&t, &t, &o.x2);
    pk_fe_sqr_n(&t, &t, 2);
    pk_fe_sqr(&chk, &t);
    *r = t;
    return pk_fe_equal(&chk, a);
}

#endif
