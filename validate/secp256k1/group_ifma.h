/* Internal to the IFMA engine (ecmult_ifma.c, msm_ifma.c): Jacobian points
 * in eight lanes of AVX-512 IFMA (field_ifma.h) and their doubling and
 * additions.  The formulas do not do the exceptional sums (a point plus
 * itself or its negative): those leave Z = 0, which every later step
 * keeps, for the callers to find and redo exactly.  Compiled only into
 * the files built with the IFMA flags. */
#ifndef POWKIT_GROUP_IFMA_H
#define POWKIT_GROUP_IFMA_H

#include "field_ifma.h"

#define LANES 8

/* 0..7: each lane's own index, for gathers and scatters by lane. */
static const long long LANE_IOTA[8] = {0, 1, 2, 3, 4, 5, 6, 7};

typedef struct gej8 {
    pk_fe8 x, y, z;
} gej8;

/* 2a (a = 0 curve: X3 = 9X^4 - 8XY^2, Y3 = 3X^2 (4XY^2 - X3) - 8Y^4, Z3 = 2YZ). */
static inline void gej8_double(gej8 *r, const gej8 *a)
{
    pk_fe8 A, B, C, D, E, F, t, x3, y3, z3;
    pk_fe8_sqr(&A, &a->x);
    pk_fe8_sqr(&B, &a->y);
    pk_fe8_sqr(&C, &B);
    pk_fe8_mul(&D, &a->x, &B);
    pk_fe8_shl(&D, &D, 2); /* 4XY^2 */
    pk_fe8_add(&E, &A, &A);
    pk_fe8_add(&E, &E, &A);
    pk_fe8_carry(&E); /* 3X^2 */
    pk_fe8_sqr(&F, &E);
    pk_fe8_mul(&z3, &a->y, &a->z);
    pk_fe8_add(&z3, &z3, &z3);
    pk_fe8_carry(&z3);
    pk_fe8_add(&t, &D, &D);
    pk_fe8_sub(&x3, &F, &t);
    pk_fe8_carry(&x3);
    pk_fe8_sub(&t, &D, &x3);
    pk_fe8_carry(&t);
    pk_fe8_mul(&y3, &E, &t);
    pk_fe8_shl(&C, &C, 3);
    pk_fe8_sub(&y3, &y3, &C);
    pk_fe8_carry(&y3);
    r->x = x3, r->y = y3, r->z = z3;
}

/* R = (neg ? -S2 : S2) - S1, carried. */
static inline void signed_diff(pk_fe8 *r, const pk_fe8 *s2, const pk_fe8 *s1, __mmask8 neg)
{
    pk_fe8 p, n, t, zero = {{_mm512_setzero_si512()}};
    for (int i = 1; i < 5; i++)
        zero.n[i] = _mm512_setzero_si512();
    pk_fe8_sub(&p, s2, s1);
    pk_fe8_add(&t, s2, s1);
    pk_fe8_sub(&n, &zero, &t);
    pk_fe8_blend(r, neg, &p, &n);
    pk_fe8_carry(r);
}

/* The sum's common part: from U1, S1, H = U2 - U1, R = S2 - S1 and Z1 Z2;
 * a new point, Z3 = Z1 Z2 H (zero when H is: an exceptional sum). */
static inline void add_tail(gej8 *r, const pk_fe8 *u1, const pk_fe8 *s1, const pk_fe8 *h, const pk_fe8 *rr,
                            const pk_fe8 *z1z2)
{
    pk_fe8 hh, hhh, v, t, t2, x3, y3;
    pk_fe8_sqr(&hh, h);
    pk_fe8_mul(&hhh, h, &hh);
    pk_fe8_mul(&v, u1, &hh);
    pk_fe8_sqr(&x3, rr);
    pk_fe8_add(&t, &hhh, &v);
    pk_fe8_add(&t, &t, &v);
    pk_fe8_sub(&x3, &x3, &t);
    pk_fe8_carry(&x3); /* R^2 - H^3 - 2V */
    pk_fe8_sub(&t, &v, &x3);
    pk_fe8_carry(&t);
    pk_fe8_mul(&y3, rr, &t);
    pk_fe8_mul(&t2, s1, &hhh);
    pk_fe8_sub(&y3, &y3, &t2);
    pk_fe8_carry(&y3); /* R(V - X3) - S1 H^3 */
    pk_fe8_mul(&r->z, z1z2, h);
    r->x = x3, r->y = y3;
}

/* Lanes in nz get acc + (x2, +-y2) (the sign by neg); lanes in nz still at
 * infinity (*inf) take the point itself; others keep acc. */
static inline void gej8_add_ge(gej8 *acc, const pk_fe8 *x2, const pk_fe8 *y2, __mmask8 neg, __mmask8 nz,
                               __mmask8 *inf)
{
    pk_fe8 z1z1, u2, z1c, s2, h, rr;
    gej8 s;
    pk_fe8_sqr(&z1z1, &acc->z);
    pk_fe8_mul(&u2, x2, &z1z1);
    pk_fe8_mul(&z1c, &acc->z, &z1z1);
    pk_fe8_mul(&s2, y2, &z1c);
    pk_fe8_sub(&h, &u2, &acc->x);
    pk_fe8_carry(&h);
    signed_diff(&rr, &s2, &acc->y, neg);
    add_tail(&s, &acc->x, &acc->y, &h, &rr, &acc->z);
    pk_fe8_blend(&acc->x, nz, &acc->x, &s.x);
    pk_fe8_blend(&acc->y, nz, &acc->y, &s.y);
    pk_fe8_blend(&acc->z, nz, &acc->z, &s.z);
    __mmask8 take = *inf & nz;
    if (take) {
        pk_fe8 one = {{PK_V8(1)}}, zero = {{_mm512_setzero_si512()}}, ny;
        for (int i = 1; i < 5; i++)
            one.n[i] = zero.n[i] = _mm512_setzero_si512();
        pk_fe8_sub(&ny, &zero, y2);
        pk_fe8_carry(&ny);
        pk_fe8_blend(&ny, neg, y2, &ny);
        pk_fe8_blend(&acc->x, take, &acc->x, x2);
        pk_fe8_blend(&acc->y, take, &acc->y, &ny);
        pk_fe8_blend(&acc->z, take, &acc->z, &one);
        *inf &= (__mmask8)~nz;
    }
}

/* The same with a Jacobian (X2, +-Y2, Z2). */
static inline void gej8_add(gej8 *acc, const gej8 *b, __mmask8 neg, __mmask8 nz, __mmask8 *inf)
{
    pk_fe8 z1z1, z2z2, u1, u2, s1, s2, h, rr, z1z2;
    gej8 s;
    pk_fe8_sqr(&z1z1, &acc->z);
    pk_fe8_sqr(&z2z2, &b->z);
    pk_fe8_mul(&u1, &acc->x, &z2z2);
    pk_fe8_mul(&u2, &b->x, &z1z1);
    pk_fe8_mul(&s1, &acc->y, &z2z2);
    pk_fe8_mul(&s1, &s1, &b->z);
    pk_fe8_mul(&s2, &b->y, &z1z1);
    pk_fe8_mul(&s2, &s2, &acc->z);
    pk_fe8_sub(&h, &u2, &u1);
    pk_fe8_carry(&h);
    signed_diff(&rr, &s2, &s1, neg);
    pk_fe8_mul(&z1z2, &acc->z, &b->z);
    add_tail(&s, &u1, &s1, &h, &rr, &z1z2);
    pk_fe8_blend(&acc->x, nz, &acc->x, &s.x);
    pk_fe8_blend(&acc->y, nz, &acc->y, &s.y);
    pk_fe8_blend(&acc->z, nz, &acc->z, &s.z);
    __mmask8 take = *inf & nz;
    if (take) {
        pk_fe8 zero = {{_mm512_setzero_si512()}}, ny;
        for (int i = 1; i < 5; i++)
            zero.n[i] = _mm512_setzero_si512();
        pk_fe8_sub(&ny, &zero, &b->y);
        pk_fe8_carry(&ny);
        pk_fe8_blend(&ny, neg, &b->y, &ny);
        pk_fe8_blend(&acc->x, take, &acc->x, &b->x);
        pk_fe8_blend(&acc->y, take, &acc->y, &ny);
        pk_fe8_blend(&acc->z, take, &acc->z, &b->z);
        *inf &= (__mmask8)~nz;
    }
}

#endif
