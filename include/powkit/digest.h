/* powkit: the other hashes Bitcoin's scripts use (RIPEMD-160, SHA-1,
 * HASH160), computed by OpenSSL.
 *
 * OpenSSL 3 looks its algorithm up in the provider tables on every
 * EVP_ripemd160()/EVP_Digest() call and allocates a digest context each
 * time; at the one or two HASH160s every spend costs, that doubled the
 * hash's price.  These fetch each algorithm once per process and keep one
 * digest context per thread (freed when the thread ends).
 */
#ifndef POWKIT_DIGEST_H
#define POWKIT_DIGEST_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

PK_API void pk_ripemd160(const void *data, size_t len, uint8_t out[20]);
PK_API void pk_sha1(const void *data, size_t len, uint8_t out[20]);
/* RIPEMD160(SHA256(data)): key and script hashes. */
PK_API void pk_hash160(const void *data, size_t len, uint8_t out[20]);

#ifdef __cplusplus
}
#endif

#endif
