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
/* The same of n messages (out[i] of msgs[i], lens[i] bytes), many at once:
 * the SHA-256s in the multi-buffer SHA-256's lanes, then the RIPEMD-160s
 * of the digests in SIMD lanes.  A block's key and script hashes. */
PK_API void pk_hash160_many(const uint8_t *const *msgs, const size_t *lens, size_t n, uint8_t (*out)[20]);
/* RIPEMD-160 of n 32-byte messages, many at once. */
PK_API void pk_ripemd160_32_many(const uint8_t (*in)[32], size_t n, uint8_t (*out)[20]);
/* The lane path those use, chosen at the first call: "avx512", "avx2" or
 * "openssl" (one at a time, the portable path). */
PK_API const char *pk_ripemd160_multi_implementation(void);

#ifdef __cplusplus
}
#endif

#endif
