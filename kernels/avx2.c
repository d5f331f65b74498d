/* AVX2 kernel: 8 nonces per step, one per 32-bit lane of a YMM register.
 * The round code is lanes_impl.h; this file gives it AVX2's vocabulary.
 * AVX2 has no rotate, so a rotate is two shifts and an OR. */
#include <immintrin.h>

#include "sha256_internal.h"

typedef __m256i V;
#define LANES 8
#define SET1(x) _mm256_set1_epi32((int)(x))
#define ADD(a, b) _mm256_add_epi32((a), (b))
#define XOR(a, b) _mm256_xor_si256((a), (b))
#define SHR(x, n) _mm256_srli_epi32((x), (n))
#define ROTR(x, n) _mm256_or_si256(_mm256_srli_epi32((x), (n)), _mm256_slli_epi32((x), 32 - (n)))
#define XOR3(a, b, c) XOR(XOR((a), (b)), (c))
#define CH(e, f, g) XOR((g), _mm256_and_si256((e), XOR((f), (g))))
#define MAJ(a, b, c) _mm256_or_si256(_mm256_and_si256((a), (b)), _mm256_and_si256((c), _mm256_or_si256((a), (b))))
#define LANE_INDEX() _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
#define BSWAP(x)                                                                     \
    _mm256_shuffle_epi8((x), _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, \
                                              3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12))
/* Unsigned x <= t: max(x, t) == t. */
#define LE_MASK(x, t)                                                                \
    ((unsigned)_mm256_movemask_ps(                                                   \
        _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_max_epu32((x), (t)), (t)))))
#define EQ_MASK(x, t) ((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32((x), (t)))))
#define LOADA(p) _mm256_load_si256((const __m256i *)(p))
#define STOREA(p, v) _mm256_store_si256((__m256i *)(p), (v))
#define MULTI_FN pk_sha256_compress_avx2_multi
#define MULTI_GROUP compress_group_avx2

#define D64_FN pk_sha256d64_avx2
#define D80_FN pk_sha256d80_avx2
#define D64_GROUPS 1

#include "lanes_impl.h"

#define KERNEL_ID avx2
#define KERNEL_CPU PK_CPU_AVX2
#include "lanes_layouts.h"
