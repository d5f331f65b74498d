/* Internal to kernels/: the RIPEMD-160 lane paths behind
 * pk_hash160_many.  Each hashes n 32-byte messages (out[i] of in[i]) and
 * returns n. */
#ifndef POWKIT_RIPEMD160_INTERNAL_H
#define POWKIT_RIPEMD160_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

size_t pk_ripemd160_32_avx512(const uint8_t (*in)[32], size_t n, uint8_t (*out)[20]);
size_t pk_ripemd160_32_avx2(const uint8_t (*in)[32], size_t n, uint8_t (*out)[20]);

#endif
