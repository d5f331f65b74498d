/* powkit's own secp256k1 signature verification (the "portable" engine):
 * field, scalar and group arithmetic written here, u1*G + u2*P by
 * Strauss-Shamir with width-5 NAF for the key and a width-8 table of odd
 * multiples of G built at first use.  Inputs are parsed already (DER and
 * keys stay with libsecp256k1's parsers); answers equal libsecp256k1's.
 * Verification handles public data only: nothing here is constant-time. */
#ifndef POWKIT_SECP256K1_NATIVE_H
#define POWKIT_SECP256K1_NATIVE_H

#include <stddef.h>
#include <stdint.h>

/* ECDSA: sig64 = r || s big-endian (either S), msg32, pub65 = 04 || x || y
 * (a point on the curve).  Returns 1 valid, 0 not. */
int pk_native_ecdsa_verify(const uint8_t sig64[64], const uint8_t msg32[32], const uint8_t pub65[65]);

/* BIP340: sig64, msg of any length, a 32-byte x-only key.  Returns 1
 * valid, 0 not (a key that does not lift is not valid either). */
int pk_native_schnorr_verify(const uint8_t sig64[64], const uint8_t *msg, size_t msglen, const uint8_t xonly[32]);

/* 1 when the x-only key lifts to a point (BIP340's lift_x). */
int pk_native_xonly_valid(const uint8_t xonly[32]);

/* The IFMA engine's 8-lane field operations, for the tests: r[k] = a[k] op
 * b[k] (SQR and SQRT use a: SQRT is the candidate a^((p+1)/4)); inputs
 * with every limb below 2^52.  Returns -1 when the CPU lacks IFMA. */
enum { PK_IFMA_MUL, PK_IFMA_SQR, PK_IFMA_ADD, PK_IFMA_SUB, PK_IFMA_SQRT };
struct pk_fe;
int pk_ifma_fe_op(int op, struct pk_fe r[8], const struct pk_fe a[8], const struct pk_fe b[8]);
/* How many checks the IFMA engine handed to the portable one so far (a
 * lane that met an exceptional sum or ended at infinity). */
uint64_t pk_ifma_fallbacks(void);
/* iters rounds of four independent 8-lane products (a benchmark's loop);
 * returns a value that depends on all of them. */
uint64_t pk_ifma_mul_chains(uint64_t iters);

#endif
