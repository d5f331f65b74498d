/* powkit's secp256k1 scalars: integers mod the group order
 * n = 2^256 - 0x14551231950B75FC4402DA1732FC9BEBF, four 64-bit words,
 * little-endian.  Reduction folds the part above 2^256 back as times
 * 2^256 mod n.  Public data only: nothing here is constant-time. */
#ifndef POWKIT_SECP256K1_SCALAR_H
#define POWKIT_SECP256K1_SCALAR_H

#include <stdint.h>

typedef struct pk_scalar {
    uint64_t d[4];
} pk_scalar;

/* Big-endian 32 bytes, reduced mod n; returns 1 when the value was n or
 * more (the overflow the signature rules care about). */
int pk_scalar_set_b32(pk_scalar *r, const uint8_t b[32]);
void pk_scalar_get_b32(uint8_t b[32], const pk_scalar *a);
int pk_scalar_is_zero(const pk_scalar *a);
void pk_scalar_mul(pk_scalar *r, const pk_scalar *a, const pk_scalar *b);
void pk_scalar_add(pk_scalar *r, const pk_scalar *a, const pk_scalar *b);
void pk_scalar_negate(pk_scalar *r, const pk_scalar *a);
/* 1/a (a nonzero), by binary extended Euclid (variable time). */
void pk_scalar_inverse(pk_scalar *r, const pk_scalar *a);
/* The width-w NAF of a (w 2 to 16): digits odd or zero, |digit| < 2^(w-1),
 * at most one nonzero in any w in a row; out holds len >= 258 ints.
 * Returns the number of digits up to the last nonzero one. */
int pk_scalar_wnaf(int *out, int len, const pk_scalar *a, int w);

/* k = k1 + k2 * lambda (mod n), lambda the cube root of 1 for which
 * lambda * (x, y) = (beta x, y): k1 and k2 are within 2^128 of 0, i.e.
 * each is below 2^128 or above n - 2^128 (negate those, pk_scalar_is_high). */
void pk_scalar_split_lambda(pk_scalar *k1, pk_scalar *k2, const pk_scalar *k);
/* a > (n - 1) / 2. */
int pk_scalar_is_high(const pk_scalar *a);

#endif
