/* Internal to validate/: the lax DER parser of verify.c, which the script
 * interpreter shares (ECDSA signatures before BIP66, and after it whatever
 * passed the strict encoding check). */
#ifndef POWKIT_VALIDATE_LAX_DER_H
#define POWKIT_VALIDATE_LAX_DER_H

#include <secp256k1.h>
#include <stddef.h>
#include <stdint.h>

/* 1 parsed (R or S overflowing the order give a signature that fails), 0
 * not DER even by the old rules. */
int pk_ecdsa_parse_der_lax(const secp256k1_context *ctx, secp256k1_ecdsa_signature *sig, const uint8_t *in,
                           size_t len);

#endif
