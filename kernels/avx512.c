/* AVX-512 kernel: 16 nonces per step, one per 32-bit lane of a ZMM
 * register.  The round code is lanes_impl.h; this file gives it AVX-512's
 * vocabulary: native rotates (vprord) and three-input logic in one
 * instruction (vpternlogd) for the sigma XORs, Ch and Maj. */
#include <immintrin.h>

#include "sha256_internal.h"

typedef __m512i V;
#define LANES 16
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
#define EQ_MASK(x, t) ((unsigned)_mm512_cmpeq_epi32_mask((x), (t)))
#define LOADA(p) _mm512_load_si512((const void *)(p))
#define STOREA(p, v) _mm512_store_si512((void *)(p), (v))
#define MULTI_FN pk_sha256_compress_avx512_multi
/* Lane l reads from blocks[min(l, n-1)]: absolute addresses as 64-bit
 * gather indices, eight lanes per gather. */
static inline __attribute__((always_inline)) void gather_block_words(V *w, const uint8_t *const *blocks,
                                                                     size_t n)
{
    const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i last = _mm512_set1_epi64((long long)n - 1);
    __m512i ilo = _mm512_min_epi64(lane, last), ihi = _mm512_min_epi64(_mm512_add_epi64(lane, _mm512_set1_epi64(8)), last);
    __m512i plo = _mm512_i64gather_epi64(ilo, (const void *)blocks, 8);
    __m512i phi = _mm512_i64gather_epi64(ihi, (const void *)blocks, 8);
    for (int i = 0; i < 16; i++) {
        __m256i lo = _mm512_i64gather_epi32(_mm512_add_epi64(plo, _mm512_set1_epi64(4 * i)), (const void *)0, 1);
        __m256i hi = _mm512_i64gather_epi32(_mm512_add_epi64(phi, _mm512_set1_epi64(4 * i)), (const void *)0, 1);
        w[i] = BSWAP(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
    }
}
#define GATHER_BLOCK_WORDS(w, blocks, n) gather_block_words((w), (blocks), (n))
/* State word j of lane l is states[l][j]: index l*8 + j, clamped lanes. */
#define STATE_IDX(n) _mm512_mullo_epi32(_mm512_min_epu32(LANE_INDEX(), _mm512_set1_epi32((int)(n) - 1)), _mm512_set1_epi32(8))
#define GATHER_STATES(a, b, c, d, e, f, g, h, states, n)                                        \
    do {                                                                                           \
        __m512i idx_ = STATE_IDX(n);                                                               \
        const int *base_ = (const int *)(states);                                                  \
        a = _mm512_i32gather_epi32(idx_, base_, 4);                                                \
        b = _mm512_i32gather_epi32(_mm512_add_epi32(idx_, SET1(1)), base_, 4);                     \
        c = _mm512_i32gather_epi32(_mm512_add_epi32(idx_, SET1(2)), base_, 4);                     \
        d = _mm512_i32gather_epi32(_mm512_add_epi32(idx_, SET1(3)), base_, 4);                     \
        e = _mm512_i32gather_epi32(_mm512_add_epi32(idx_, SET1(4)), base_, 4);                     \
        f = _mm512_i32gather_epi32(_mm512_add_epi32(idx_, SET1(5)), base_, 4);                     \
        g = _mm512_i32gather_epi32(_mm512_add_epi32(idx_, SET1(6)), base_, 4);                     \
        h = _mm512_i32gather_epi32(_mm512_add_epi32(idx_, SET1(7)), base_, 4);                     \
    } while (0)
#define SCATTER_STATES(states, n, a, b, c, d, e, f, g, h)                                       \
    do {                                                                                           \
        __mmask16 m_ = (__mmask16)(((uint32_t)1 << (n)) - 1);                                      \
        __m512i idx_ = _mm512_mullo_epi32(LANE_INDEX(), SET1(8));                                  \
        int *base_ = (int *)(states);                                                              \
        _mm512_mask_i32scatter_epi32(base_, m_, idx_, (a), 4);                                     \
        _mm512_mask_i32scatter_epi32(base_, m_, _mm512_add_epi32(idx_, SET1(1)), (b), 4);          \
        _mm512_mask_i32scatter_epi32(base_, m_, _mm512_add_epi32(idx_, SET1(2)), (c), 4);          \
        _mm512_mask_i32scatter_epi32(base_, m_, _mm512_add_epi32(idx_, SET1(3)), (d), 4);          \
        _mm512_mask_i32scatter_epi32(base_, m_, _mm512_add_epi32(idx_, SET1(4)), (e), 4);          \
        _mm512_mask_i32scatter_epi32(base_, m_, _mm512_add_epi32(idx_, SET1(5)), (f), 4);          \
        _mm512_mask_i32scatter_epi32(base_, m_, _mm512_add_epi32(idx_, SET1(6)), (g), 4);          \
        _mm512_mask_i32scatter_epi32(base_, m_, _mm512_add_epi32(idx_, SET1(7)), (h), 4);          \
    } while (0)
#define MULTI_GROUP compress_group_avx512

/* Messages side by side, len bytes apart: words first.. of every lane
 * in with one gather per word; digests out with one scatter per word. */
#define D64_LOAD(w, in, len, first, count)                                                         \
    do {                                                                                           \
        __m512i idx_ = _mm512_mullo_epi32(LANE_INDEX(), SET1((len) / 4));                          \
        for (int i_ = 0; i_ < (count); i_++)                                                       \
            (w)[(first) + i_] = BSWAP(_mm512_i32gather_epi32(_mm512_add_epi32(idx_, SET1((first) + i_)), \
                                                            (const void *)(in), 4));               \
    } while (0)
#define D64_STORE(out, h)                                                                          \
    do {                                                                                           \
        __m512i idx_ = _mm512_mullo_epi32(LANE_INDEX(), SET1(8));                                  \
        for (int j_ = 0; j_ < 8; j_++)                                                             \
            _mm512_i32scatter_epi32((void *)(out), _mm512_add_epi32(idx_, SET1(j_)), BSWAP((h)[j_]), 4); \
    } while (0)
#define D64_FN pk_sha256d64_avx512
#define D80_FN pk_sha256d80_avx512
#define D64_GROUPS 2

#include "lanes_impl.h"

#define KERNEL_ID avx512
#define KERNEL_CPU PK_CPU_AVX512
#include "lanes_layouts.h"
