/* AVX-512 kernel: 16 nonces per step, one per 32-bit lane of a ZMM
 * register.  The round code is lanes_impl.h; this file gives it AVX-512's
 * vocabulary: native rotates (vprord) and three-input logic in one
 * instruction (vpternlogd) for the sigma XORs, Ch and Maj. */
#include <immintrin.h>

#include "sha256_internal.h"

typedef __m512i V;
#define LANES 16
#ifndef GROUPS
#define GROUPS 2
#endif
#define SET1(x) _mm512_set1_epi32((int)(x))
#define ADD(a, b) _mm512_add_epi32((a), (b))
#define XOR(a, b) _mm512_xor_si512((a), (b))
#define SHR(x, n) _mm512_srli_epi32((x), (n))
#define ROTR(x, n) _mm512_ror_epi32((x), (n))
/* vpternlogd truth tables: 0x96 = a^b^c, 0xCA = a?b:c, 0xE8 = majority. */
#define XOR3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)
#define CH(e, f, g) _mm512_ternarylogic_epi32((e), (f), (g), 0xCA)
#define MAJ(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0xE8)
#define LANE_INDEX() _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define BSWAP(x)                                                                     \
    _mm512_shuffle_epi8((x), _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203))
#define LE_MASK(x, t) ((unsigned)_mm512_cmple_epu32_mask((x), (t)))
#define SCAN_FN scan_avx512
#define LOADA(p) _mm512_load_si512((const void *)(p))
#define STOREA(p, v) _mm512_store_si512((void *)(p), (v))
#define MULTI_FN pk_sha256_compress_avx512_multi
#define MULTI_GROUP compress_group_avx512

#include "lanes_impl.h"

const pk_kernel pk_kernel_avx512 = {"avx512", LANES, PK_CPU_AVX512, scan_avx512};
