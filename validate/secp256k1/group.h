/* powkit's secp256k1 points (y^2 = x^3 + 7): affine and Jacobian
 * (x = X/Z^2, y = Y/Z^3), doubling and addition (general and with an
 * affine point), over the portable field.  Every coordinate a function
 * returns has magnitude 1.  Public data only: not constant-time. */
#ifndef POWKIT_SECP256K1_GROUP_H
#define POWKIT_SECP256K1_GROUP_H

#include "field.h"

typedef struct pk_ge {
    pk_fe x, y;
    int inf;
} pk_ge;

typedef struct pk_gej {
    pk_fe x, y, z;
    int inf;
} pk_gej;

/* Magnitude back to 1: carries up and the part above 2^256 folded (not the
 * unique form; pk_fe_normalize gives that). */
static inline void pk_fe_weak(pk_fe *r)
{
    uint64_t *t = r->n;
    t[1] += t[0] >> 52, t[0] &= PK_FE_M52;
    t[2] += t[1] >> 52, t[1] &= PK_FE_M52;
    t[3] += t[2] >> 52, t[2] &= PK_FE_M52;
    t[4] += t[3] >> 52, t[3] &= PK_FE_M52;
    uint64_t x = t[4] >> 48;
    t[4] &= PK_FE_M48;
    t[0] += x * PK_FE_R;
}

static inline void pk_gej_set_ge(pk_gej *r, const pk_ge *a)
{
    r->x = a->x;
    r->y = a->y;
    pk_fe_set_int(&r->z, 1);
    r->inf = a->inf;
}

static inline void pk_ge_neg(pk_ge *r, const pk_ge *a)
{
    r->x = a->x;
    pk_fe_negate(&r->y, &a->y, 1);
    pk_fe_weak(&r->y);
    r->inf = a->inf;
}

static inline void pk_gej_neg(pk_gej *r, const pk_gej *a)
{
    *r = *a;
    pk_fe_negate(&r->y, &a->y, 1);
    pk_fe_weak(&r->y);
}

/* 2a (dbl-2009-l; a = 0). */
static inline void pk_gej_double(pk_gej *r, const pk_gej *a)
{
    if (a->inf) {
        r->inf = 1;
        return;
    }
    pk_fe A, B, C, D, E, F, t, x3, y3, z3;
    pk_fe_sqr(&A, &a->x);
    pk_fe_sqr(&B, &a->y);
    pk_fe_sqr(&C, &B);
    pk_fe_add(&t, &a->x, &B);
    pk_fe_sqr(&t, &t);          /* (X + B)^2 */
    pk_fe_sub(&t, &t, &A, 1);
    pk_fe_sub(&t, &t, &C, 1);
    pk_fe_weak(&t);
    pk_fe_add(&D, &t, &t);      /* D = 2((X+B)^2 - A - C), magnitude 2 */
    pk_fe_mul_int(&E, &A, 3);   /* magnitude 3 */
    pk_fe_sqr(&F, &E);
    pk_fe_mul(&z3, &a->y, &a->z);
    pk_fe_add(&z3, &z3, &z3);   /* Z3 = 2YZ */
    pk_fe_add(&t, &D, &D);
    pk_fe_sub(&x3, &F, &t, 4);  /* X3 = F - 2D */
    pk_fe_weak(&x3);
    pk_fe_sub(&t, &D, &x3, 1);
    pk_fe_mul(&y3, &E, &t);
    pk_fe_mul_int(&C, &C, 8);
    pk_fe_sub(&y3, &y3, &C, 8); /* Y3 = E(D - X3) - 8C */
    pk_fe_weak(&y3);
    pk_fe_weak(&z3);
    r->x = x3, r->y = y3, r->z = z3;
    r->inf = 0;
}

/* The common part of both additions, from U1 = X1 Z2^2, S1 = Y1 Z2^3,
 * H = U2 - U1, R = S2 - S1 and Z1 Z2: equal points double (a is the first
 * one), opposite ones give infinity. */
static inline void pk_gej_add_tail(pk_gej *r, const pk_gej *a, const pk_fe *u1, const pk_fe *s1, pk_fe *h, pk_fe *rr,
                                   const pk_fe *z1z2)
{
    pk_fe_weak(h);
    pk_fe_weak(rr);
    if (pk_fe_is_zero(h)) {
        if (pk_fe_is_zero(rr))
            pk_gej_double(r, a);
        else
            r->inf = 1;
        return;
    }
    pk_fe hh, hhh, v, t, x3, y3, z3;
    pk_fe_sqr(&hh, h);
    pk_fe_mul(&hhh, h, &hh);
    pk_fe_mul(&v, u1, &hh);
    pk_fe_sqr(&x3, rr);
    pk_fe_sub(&x3, &x3, &hhh, 1);
    pk_fe_add(&t, &v, &v);
    pk_fe_sub(&x3, &x3, &t, 2);     /* X3 = R^2 - HHH - 2V */
    pk_fe_weak(&x3);
    pk_fe_sub(&t, &v, &x3, 1);
    pk_fe_mul(&y3, rr, &t);
    pk_fe_mul(&t, s1, &hhh);
    pk_fe_sub(&y3, &y3, &t, 1);     /* Y3 = R(V - X3) - S1 HHH */
    pk_fe_weak(&y3);
    pk_fe_mul(&z3, z1z2, h);        /* Z3 = Z1 Z2 H */
    r->x = x3, r->y = y3, r->z = z3;
    r->inf = 0;
}

/* a + b, b affine (Z2 = 1: U1 = X1, S1 = Y1). */
static inline void pk_gej_add_ge(pk_gej *r, const pk_gej *a, const pk_ge *b)
{
    if (b->inf) {
        *r = *a;
        return;
    }
    if (a->inf) {
        pk_gej_set_ge(r, b);
        return;
    }
    pk_fe z1z1, u2, s2, h, rr;
    pk_fe_sqr(&z1z1, &a->z);
    pk_fe_mul(&u2, &b->x, &z1z1);
    pk_fe_mul(&s2, &b->y, &z1z1);
    pk_fe_mul(&s2, &s2, &a->z);
    pk_fe_sub(&h, &u2, &a->x, 1);
    pk_fe_sub(&rr, &s2, &a->y, 1);
    pk_gej_add_tail(r, a, &a->x, &a->y, &h, &rr, &a->z);
}

/* a + b, both Jacobian. */
static inline void pk_gej_add(pk_gej *r, const pk_gej *a, const pk_gej *b)
{
    if (b->inf) {
        *r = *a;
        return;
    }
    if (a->inf) {
        *r = *b;
        return;
    }
    pk_fe z1z1, z2z2, u1, u2, s1, s2, h, rr, z1z2;
    pk_fe_sqr(&z1z1, &a->z);
    pk_fe_sqr(&z2z2, &b->z);
    pk_fe_mul(&u1, &a->x, &z2z2);
    pk_fe_mul(&u2, &b->x, &z1z1);
    pk_fe_mul(&s1, &a->y, &z2z2);
    pk_fe_mul(&s1, &s1, &b->z);
    pk_fe_mul(&s2, &b->y, &z1z1);
    pk_fe_mul(&s2, &s2, &a->z);
    pk_fe_sub(&h, &u2, &u1, 1);
    pk_fe_sub(&rr, &s2, &s1, 1);
    pk_fe_mul(&z1z2, &a->z, &b->z);
    pk_gej_add_tail(r, a, &u1, &s1, &h, &rr, &z1z2);
}

/* Affine form (one inversion). */
static inline void pk_ge_set_gej(pk_ge *r, const pk_gej *a)
{
    if (a->inf) {
        r->inf = 1;
        return;
    }
    pk_fe zi, zi2, zi3;
    pk_fe_inv(&zi, &a->z);
    pk_fe_sqr(&zi2, &zi);
    pk_fe_mul(&zi3, &zi2, &zi);
    pk_fe_mul(&r->x, &a->x, &zi2);
    pk_fe_mul(&r->y, &a->y, &zi3);
    pk_fe_normalize(&r->x);
    pk_fe_normalize(&r->y);
    r->inf = 0;
}

#endif
