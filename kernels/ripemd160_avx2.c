/* RIPEMD-160 of 32-byte messages, eight at once in the 32-bit lanes of a
 * YMM register (AVX2 has no rotate or three-input logic: shifts and
 * two-input operations).  The steps are ripemd160_lanes.h. */
#include <immintrin.h>
#include <string.h>

#include "ripemd160_internal.h"

typedef __m256i V;
#define LANES 8
#define SET1(c) _mm256_set1_epi32((int)(c))
#define ADD(a, b) _mm256_add_epi32((a), (b))
#define ROL(x, s) _mm256_or_si256(_mm256_sllv_epi32((x), SET1(s)), _mm256_srlv_epi32((x), SET1(32 - (s))))
#define ROL10(x) _mm256_or_si256(_mm256_slli_epi32((x), 10), _mm256_srli_epi32((x), 22))
#define NOT(x) _mm256_xor_si256((x), SET1(0xffffffffu))
#define F1(x, y, z) _mm256_xor_si256(_mm256_xor_si256((x), (y)), (z))
#define F2(x, y, z) _mm256_or_si256(_mm256_and_si256((x), (y)), _mm256_andnot_si256((x), (z)))
#define F3(x, y, z) _mm256_xor_si256(_mm256_or_si256((x), NOT(y)), (z))
#define F4(x, y, z) _mm256_or_si256(_mm256_and_si256((x), (z)), _mm256_andnot_si256((z), (y)))
#define F5(x, y, z) _mm256_xor_si256((x), _mm256_or_si256((y), NOT(z)))
#define STOREU(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#include "ripemd160_lanes.h"

size_t pk_ripemd160_32_avx2(const uint8_t (*in)[32], size_t n, uint8_t (*out)[20])
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t done = 0; done < n; done += LANES) {
        size_t k = n - done < LANES ? n - done : LANES;
        __m256i idx = _mm256_slli_epi32(_mm256_min_epu32(lane, SET1(k - 1)), 3);
        const int *base = (const int *)in[done];
        V x[16];
        for (int w = 0; w < 8; w++)
            x[w] = _mm256_i32gather_epi32(base, ADD(idx, SET1(w)), 4);
        rmd_hash32_lanes(x, k, out + done);
    }
    return n;
}
