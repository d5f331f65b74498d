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

#endif
