/* RIPEMD-160 of 32-byte messages (the SHA-256 digests inside HASH160),
 * sixteen at once, one per 32-bit lane of a ZMM register: vprolvd rotates
 * by each step's count and vpternlogd computes each boolean function in
 * one instruction.  The steps are ripemd160_lanes.h. */
#include <immintrin.h>
#include <string.h>

#include "ripemd160_internal.h"

typedef __m512i V;
#define LANES 16
#define SET1(c) _mm512_set1_epi32((int)(c))
#define ADD(a, b) _mm512_add_epi32((a), (b))
#define ROL(x, s) _mm512_rolv_epi32((x), SET1(s))
#define ROL10(x) _mm512_rol_epi32((x), 10)
/* Truth tables over (x, y, z) = (0xF0, 0xCC, 0xAA). */
#define F1(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), 0x96)
#define F2(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), 0xCA)
#define F3(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), 0x59)
#define F4(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), 0xE4)
#define F5(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), 0x2D)
#define STOREU(p, v) _mm512_storeu_si512((void *)(p), (v))
#include "ripemd160_lanes.h"

size_t pk_ripemd160_32_avx512(const uint8_t (*in)[32], size_t n, uint8_t (*out)[20])
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (size_t done = 0; done < n; done += LANES) {
        size_t k = n - done < LANES ? n - done : LANES;
        /* Lane l reads message min(l, k - 1): word w at 32-bit index 8l + w. */
        __m512i idx = _mm512_slli_epi32(_mm512_min_epu32(lane, SET1(k - 1)), 3);
        const int *base = (const int *)in[done];
        V x[16];
        for (int w = 0; w < 8; w++)
            x[w] = _mm512_i32gather_epi32(ADD(idx, SET1(w)), base, 4);
        rmd_hash32_lanes(x, k, out + done);
    }
    return n;
}
