/* AVX-512 lanes and SHA-NI streams in one instruction stream: the general
 * multi-buffer compression (signature hashes, txids) on CPUs with both.
 *
 * The SHA unit runs beside the vector units.  Sixteen AVX-512 lanes keep
 * the vector ports busy; four SHA-NI streams interleaved with their rounds
 * add their blocks at little cost.  Measured on an AMD EPYC with AVX-512
 * (a microbenchmark of the rounds on cached blocks): sixteen lanes alone
 * 16.5 ns a block, with four streams beside them 14.0, eight SHA-NI
 * streams alone 19.6.  Which path a CPU gets is still decided by timing
 * at start-up (sha256_multi.c): where mixing the two costs more than it
 * gains, this path is simply not picked.
 *
 * States are word-major (st[j][lane], sha256_internal.h) so that the
 * lanes' words load and store as whole vectors; the blocks are loaded
 * whole and transposed in registers (no gathers).  Lanes 0..15 are the
 * vector's; the streams take the last four active lanes and write after
 * the vector, over its results for those lanes.  Ten or fewer active
 * lanes go to SHA-NI alone, where a mostly empty vector would cost more
 * than it hashes. */
#include <immintrin.h>

#include "sha256_internal.h"

typedef __m512i V;

enum { VEC = 16, STREAMS = 4, SHA_ALONE = 10 };

#define ROR(x, n) _mm512_ror_epi32((x), (n))
#define ADD(a, b) _mm512_add_epi32((a), (b))
/* vpternlogd truth tables: 0x96 = a^b^c, 0xCA = a?b:c, 0xE8 = majority. */
#define XOR3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)

static inline V bsig0(V a) { return XOR3(ROR(a, 2), ROR(a, 13), ROR(a, 22)); }
static inline V bsig1(V e) { return XOR3(ROR(e, 6), ROR(e, 11), ROR(e, 25)); }
static inline V ssig0(V x) { return XOR3(ROR(x, 7), ROR(x, 18), _mm512_srli_epi32(x, 3)); }
static inline V ssig1(V x) { return XOR3(ROR(x, 17), ROR(x, 19), _mm512_srli_epi32(x, 10)); }

/* Rows (lane l's 64-byte block in r[l]) to words (r[j] lane l = word j of
 * lane l's block): a 16x16 transpose of dwords in four stages. */
static inline __attribute__((always_inline)) void transpose16(V *r)
{
    V t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

static inline __m128i kq(int q) { return _mm_loadu_si128((const __m128i *)&pk_sha256_k[4 * q]); }

/* Next four schedule words of a stream from the previous sixteen. */
static inline __m128i ni_schedule(__m128i m0, __m128i m1, __m128i m2, __m128i m3)
{
    __m128i x = _mm_add_epi32(_mm_sha256msg1_epu32(m0, m1), _mm_alignr_epi8(m3, m2, 4));
    return _mm_sha256msg2_epu32(x, m3);
}

/* More than SHA_ALONE lanes: the vector on lanes 0..15 (missing ones
 * hash lane n-1's block, their results unused), the streams on `at`..
 * at+3. */
static void compress_both(uint32_t (*st)[PK_SOA_COLS], const uint8_t *const *blocks, size_t n)
{
    const V vswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    size_t at = n >= VEC + STREAMS ? VEC : n - STREAMS;

    /* The streams' states in the instruction's layout ({a,b,e,f} and
     * {c,d,g,h}, high dword first) and their first sixteen words. */
    __m128i abef[STREAMS], cdgh[STREAMS], in_abef[STREAMS], in_cdgh[STREAMS], m[4][STREAMS], wk[STREAMS];
    for (int s = 0; s < STREAMS; s++) {
        size_t c = at + (size_t)s;
        abef[s] = in_abef[s] = _mm_set_epi32((int)st[0][c], (int)st[1][c], (int)st[4][c], (int)st[5][c]);
        cdgh[s] = in_cdgh[s] = _mm_set_epi32((int)st[2][c], (int)st[3][c], (int)st[6][c], (int)st[7][c]);
        for (int i = 0; i < 4; i++)
            m[i][s] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks[c] + 16 * i)), swap);
    }

    V w[16], s[8], in[8];
    for (int l = 0; l < VEC; l++)
        w[l] = _mm512_loadu_si512((const void *)blocks[(size_t)l < n ? (size_t)l : n - 1]);
    transpose16(w);
    for (int i = 0; i < 16; i++)
        w[i] = _mm512_shuffle_epi8(w[i], vswap);
    for (int j = 0; j < 8; j++)
        s[j] = in[j] = _mm512_load_si512((const void *)st[j]);

#pragma GCC unroll 64
    for (int i = 0; i < 64; i++) {
        /* Four vector rounds to a stream quad: its two sha256rnds2 go
         * between them, each behind the vector work it can overlap. */
        int q = i >> 2;
        if ((i & 3) == 0) {
#pragma GCC unroll 4
            for (int x = 0; x < STREAMS; x++) {
                if (q >= 4)
                    m[q & 3][x] = ni_schedule(m[q & 3][x], m[(q + 1) & 3][x], m[(q + 2) & 3][x], m[(q + 3) & 3][x]);
                wk[x] = _mm_add_epi32(m[q & 3][x], kq(q));
                cdgh[x] = _mm_sha256rnds2_epu32(cdgh[x], abef[x], wk[x]);
            }
        } else if ((i & 3) == 2) {
#pragma GCC unroll 4
            for (int x = 0; x < STREAMS; x++)
                abef[x] = _mm_sha256rnds2_epu32(abef[x], cdgh[x], _mm_shuffle_epi32(wk[x], 0x0E));
        }
        if (i >= 16)
            w[i & 15] = ADD(ADD(w[i & 15], ssig0(w[(i + 1) & 15])), ADD(w[(i + 9) & 15], ssig1(w[(i + 14) & 15])));
        V t1 = ADD(ADD(s[7], bsig1(s[4])),
                   ADD(_mm512_ternarylogic_epi32(s[4], s[5], s[6], 0xCA), ADD(w[i & 15], _mm512_set1_epi32((int)pk_sha256_k[i]))));
        V t2 = ADD(bsig0(s[0]), _mm512_ternarylogic_epi32(s[0], s[1], s[2], 0xE8));
        s[7] = s[6];
        s[6] = s[5];
        s[5] = s[4];
        s[4] = ADD(s[3], t1);
        s[3] = s[2];
        s[2] = s[1];
        s[1] = s[0];
        s[0] = ADD(t1, t2);
    }
    for (int j = 0; j < 8; j++)
        _mm512_store_si512((void *)st[j], ADD(s[j], in[j]));
    for (int x = 0; x < STREAMS; x++) {
        size_t c = at + (size_t)x;
        __m128i a = _mm_add_epi32(abef[x], in_abef[x]), g = _mm_add_epi32(cdgh[x], in_cdgh[x]);
        st[0][c] = (uint32_t)_mm_extract_epi32(a, 3);
        st[1][c] = (uint32_t)_mm_extract_epi32(a, 2);
        st[4][c] = (uint32_t)_mm_extract_epi32(a, 1);
        st[5][c] = (uint32_t)_mm_extract_epi32(a, 0);
        st[2][c] = (uint32_t)_mm_extract_epi32(g, 3);
        st[3][c] = (uint32_t)_mm_extract_epi32(g, 2);
        st[6][c] = (uint32_t)_mm_extract_epi32(g, 1);
        st[7][c] = (uint32_t)_mm_extract_epi32(g, 0);
    }
}

void pk_sha256_compress_hybrid_soa(uint32_t (*st)[PK_SOA_COLS], const uint8_t *const *blocks, size_t n)
{
    if (n > SHA_ALONE) {
        compress_both(st, blocks, n);
        return;
    }
    uint32_t aos[SHA_ALONE][8];
    for (size_t l = 0; l < n; l++)
        for (int j = 0; j < 8; j++)
            aos[l][j] = st[j][l];
    pk_sha256_compress_shani_multi(aos, blocks, n);
    for (size_t l = 0; l < n; l++)
        for (int j = 0; j < 8; j++)
            st[j][l] = aos[l][j];
}
