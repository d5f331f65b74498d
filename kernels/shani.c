/* SHA extensions (SHA-NI): the general block compression, and the mining
 * kernel.
 *
 * sha256rnds2 does two rounds with a latency of several cycles, so one
 * stream of nonces leaves the unit idle part of the time.  The kernel runs
 * S independent nonces interleaved step by step, S = 2, 3, 4, 5 or 8: one
 * layout each ("shani:4"), measured at start-up like the lane kernels'
 * layouts, since the best S depends on the core.  Measured on
 * the development machine (bench_kernels): one stream 28 M compressions/s,
 * 2 streams 35, 4 streams 36, 8 streams 30 (register spills: SHA
 * instructions only reach xmm0-15).  The unit sustains one sha256rnds2
 * about every 3 cycles, and a nonce needs 62 of them, so this kernel is
 * bound near 19-20 MH/s per core there; 5 streams measured best.  On an
 * AMD EPYC without AVX-512 (Zen): 1 stream 19.6 M/s, 2 streams 27.0, 4
 * streams 23.2, 5 streams 20.7, 8 streams 14.2.
 *
 * The state lives in the instruction's own layout: {a,b,e,f} and
 * {c,d,g,h}, high dword first.  sha256rnds2(x, y, wk) takes x = CDGH and
 * y = ABEF and returns the new ABEF; the old ABEF becomes CDGH, so the two
 * registers swap roles every two rounds.
 *
 * Mining shortcuts: rounds 0-1 of the header's second block come from the
 * job; the schedule words of rounds 4-15 are job constants; the second
 * hash stops after 62 of its 64 rounds, which is enough to know H7 and
 * reject almost every nonce on it.
 */
#include <immintrin.h>
#include <string.h>

#include "sha256_internal.h"

/* The most streams a layout interleaves (arrays are sized for it). */
#define NI_MAX_STREAMS 8

static inline __m128i kq(int q) { return _mm_loadu_si128((const __m128i *)&pk_sha256_k[4 * q]); }

/* Next four schedule words from the previous sixteen (m0 oldest). */
static inline __m128i schedule(__m128i m0, __m128i m1, __m128i m2, __m128i m3)
{
    __m128i x = _mm_add_epi32(_mm_sha256msg1_epu32(m0, m1), _mm_alignr_epi8(m3, m2, 4));
    return _mm_sha256msg2_epu32(x, m3);
}

void pk_sha256_compress_shani(uint32_t state[8], const uint8_t *blocks, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);
    __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
    __m128i abef = _mm_alignr_epi8(t, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, t, 0xF0);

    for (; n > 0; n--, blocks += 64) {
        __m128i save_abef = abef, save_cdgh = cdgh, m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 16 * i)), bswap);
        for (int q = 0; q < 16; q++) {
            if (q >= 4)
                m[q & 3] = schedule(m[q & 3], m[(q + 1) & 3], m[(q + 2) & 3], m[(q + 3) & 3]);
            __m128i wk = _mm_add_epi32(m[q & 3], kq(q));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, save_abef);
        cdgh = _mm_add_epi32(cdgh, save_cdgh);
    }

    t = _mm_shuffle_epi32(abef, 0x1B);
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(t, cdgh, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(cdgh, t, 8));
}

/* n independent states, one block each, interleaved step by step so the
 * SHA unit's latency is hidden behind the other streams.  N is a
 * compile-time constant in each instantiation below. */
static inline __attribute__((always_inline)) void compress_multi(uint32_t (*states)[8],
                                                                 const uint8_t *const *blocks,
                                                                 const int N)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i abef[8], cdgh[8], save_abef[8], save_cdgh[8], m[4][8], wk[8];
    for (int s = 0; s < N; s++) {
        __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&states[s][0]), 0xB1);
        __m128i c = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&states[s][4]), 0x1B);
        abef[s] = save_abef[s] = _mm_alignr_epi8(t, c, 8);
        cdgh[s] = save_cdgh[s] = _mm_blend_epi16(c, t, 0xF0);
        for (int i = 0; i < 4; i++)
            m[i][s] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks[s] + 16 * i)), bswap);
    }
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++) {
#pragma GCC unroll 8
        for (int s = 0; s < N; s++) {
            if (q >= 4)
                m[q & 3][s] = schedule(m[q & 3][s], m[(q + 1) & 3][s], m[(q + 2) & 3][s],
                                       m[(q + 3) & 3][s]);
            wk[s] = _mm_add_epi32(m[q & 3][s], kq(q));
            cdgh[s] = _mm_sha256rnds2_epu32(cdgh[s], abef[s], wk[s]);
        }
#pragma GCC unroll 8
        for (int s = 0; s < N; s++)
            abef[s] = _mm_sha256rnds2_epu32(abef[s], cdgh[s], _mm_shuffle_epi32(wk[s], 0x0E));
    }
    for (int s = 0; s < N; s++) {
        __m128i t = _mm_shuffle_epi32(_mm_add_epi32(abef[s], save_abef[s]), 0x1B);
        __m128i c = _mm_shuffle_epi32(_mm_add_epi32(cdgh[s], save_cdgh[s]), 0xB1);
        _mm_storeu_si128((__m128i *)&states[s][0], _mm_blend_epi16(t, c, 0xF0));
        _mm_storeu_si128((__m128i *)&states[s][4], _mm_alignr_epi8(c, t, 8));
    }
}

void pk_sha256_compress_shani_multi(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n)
{
    while (n > 0) {
        switch (n) {
        case 1: compress_multi(states, blocks, 1); return;
        case 2: compress_multi(states, blocks, 2); return;
        case 3: compress_multi(states, blocks, 3); return;
        case 4: compress_multi(states, blocks, 4); return;
        case 5: compress_multi(states, blocks, 5); return;
        case 6: compress_multi(states, blocks, 6); return;
        case 7: compress_multi(states, blocks, 7); return;
        default:
            compress_multi(states, blocks, 8);
            states += 8;
            blocks += 8;
            n -= 8;
        }
    }
}

/* ---- Double SHA-256 of 64- or 80-byte messages side by side (merkle
 * nodes, headers), NF streams interleaved.  A 64-byte message's second
 * block is all padding: its words plus K are one constant table, so those
 * rounds need no schedule; the outer hash's words 8-15 are constants.  No
 * lane scheduling: every stream has the same three blocks. ---- */
#define NF 4

/* 64 rounds on every stream; kw: K plus words for constant blocks, else
 * the schedule is run on m. */
static inline __attribute__((always_inline)) void ni_rounds(__m128i *abef, __m128i *cdgh, __m128i (*m)[NF],
                                                            const uint32_t *kw)
{
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++) {
        __m128i wk[NF];
#pragma GCC unroll 8
        for (int s = 0; s < NF; s++) {
            if (kw) {
                wk[s] = _mm_loadu_si128((const __m128i *)&kw[4 * q]);
            } else {
                if (q >= 4)
                    m[q & 3][s] = schedule(m[q & 3][s], m[(q + 1) & 3][s], m[(q + 2) & 3][s], m[(q + 3) & 3][s]);
                wk[s] = _mm_add_epi32(m[q & 3][s], kq(q));
            }
            cdgh[s] = _mm_sha256rnds2_epu32(cdgh[s], abef[s], wk[s]);
        }
#pragma GCC unroll 8
        for (int s = 0; s < NF; s++)
            abef[s] = _mm_sha256rnds2_epu32(abef[s], cdgh[s], _mm_shuffle_epi32(wk[s], 0x0E));
    }
}

static inline __attribute__((always_inline)) void ni_fixed(uint8_t *out, const uint8_t *in, const size_t len,
                                                           const uint32_t kp[64])
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    /* The IV in the instruction's layout: {a,b,e,f} and {c,d,g,h}. */
    const __m128i iv_abef = _mm_set_epi32((int)pk_sha256_iv[0], (int)pk_sha256_iv[1], (int)pk_sha256_iv[4],
                                          (int)pk_sha256_iv[5]);
    const __m128i iv_cdgh = _mm_set_epi32((int)pk_sha256_iv[2], (int)pk_sha256_iv[3], (int)pk_sha256_iv[6],
                                          (int)pk_sha256_iv[7]);
    __m128i abef[NF], cdgh[NF], mid_abef[NF], mid_cdgh[NF], m[4][NF];
    for (int s = 0; s < NF; s++) {
        abef[s] = iv_abef, cdgh[s] = iv_cdgh;
        for (int i = 0; i < 4; i++)
            m[i][s] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + len * (size_t)s + 16 * i)), bswap);
    }
    ni_rounds(abef, cdgh, m, NULL);
    for (int s = 0; s < NF; s++) {
        mid_abef[s] = abef[s] = _mm_add_epi32(abef[s], iv_abef);
        mid_cdgh[s] = cdgh[s] = _mm_add_epi32(cdgh[s], iv_cdgh);
    }
    if (len == 64) {
        ni_rounds(abef, cdgh, m, kp);
    } else { /* 80: four data words, then the padding of 640 bits */
        for (int s = 0; s < NF; s++) {
            m[0][s] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + len * (size_t)s + 64)), bswap);
            m[1][s] = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
            m[2][s] = _mm_setzero_si128();
            m[3][s] = _mm_set_epi32(640, 0, 0, 0);
        }
        ni_rounds(abef, cdgh, m, NULL);
    }
    for (int s = 0; s < NF; s++) {
        /* The first digest as the outer hash's words 0-7, then its padding. */
        __m128i t = _mm_shuffle_epi32(_mm_add_epi32(abef[s], mid_abef[s]), 0x1B);
        __m128i c = _mm_shuffle_epi32(_mm_add_epi32(cdgh[s], mid_cdgh[s]), 0xB1);
        m[0][s] = _mm_blend_epi16(t, c, 0xF0);
        m[1][s] = _mm_alignr_epi8(c, t, 8);
        m[2][s] = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
        m[3][s] = _mm_set_epi32(256, 0, 0, 0);
        abef[s] = iv_abef, cdgh[s] = iv_cdgh;
    }
    ni_rounds(abef, cdgh, m, NULL);
    for (int s = 0; s < NF; s++) {
        __m128i t = _mm_shuffle_epi32(_mm_add_epi32(abef[s], iv_abef), 0x1B);
        __m128i c = _mm_shuffle_epi32(_mm_add_epi32(cdgh[s], iv_cdgh), 0xB1);
        _mm_storeu_si128((__m128i *)(out + 32 * s), _mm_shuffle_epi8(_mm_blend_epi16(t, c, 0xF0), bswap));
        _mm_storeu_si128((__m128i *)(out + 32 * s + 16), _mm_shuffle_epi8(_mm_alignr_epi8(c, t, 8), bswap));
    }
}

static size_t ni_fixed_many(uint8_t *out, const uint8_t *in, size_t n, size_t len)
{
    /* K plus the words of a 64-byte message's padding block. */
    uint32_t w[64] = {0x80000000u}, kp[64];
    w[15] = 512;
    for (int i = 16; i < 64; i++)
        w[i] = pk_ssig1(w[i - 2]) + w[i - 7] + pk_ssig0(w[i - 15]) + w[i - 16];
    for (int i = 0; i < 64; i++)
        kp[i] = pk_sha256_k[i] + w[i];
    size_t done = 0;
    for (; n - done >= NF; done += NF) {
        if (len == 64)
            ni_fixed(out + 32 * done, in + 64 * done, 64, kp);
        else
            ni_fixed(out + 32 * done, in + 80 * done, 80, kp);
    }
    return done;
}

size_t pk_sha256d64_shani(uint8_t *out, const uint8_t *in, size_t n) { return ni_fixed_many(out, in, n, 64); }
size_t pk_sha256d80_shani(uint8_t *out, const uint8_t *in, size_t n) { return ni_fixed_many(out, in, n, 80); }

/* One group of S nonces from n; returns a mask of streams whose H7 passes
 * the early reject. */
static inline __attribute__((always_inline)) unsigned ni_group(const pk_job *job, uint32_t n,
                                                               const __m128i wk_const[3],
                                                               uint32_t top, const int S)
{
    __m128i x[NI_MAX_STREAMS], y[NI_MAX_STREAMS], m[4][NI_MAX_STREAMS], wk[NI_MAX_STREAMS];
    const __m128i abef2 = _mm_loadu_si128((const __m128i *)job->ni_abef);
    const __m128i cdgh2 = _mm_loadu_si128((const __m128i *)job->ni_cdgh);
    const __m128i m0 = _mm_loadu_si128((const __m128i *)job->w);

    /* Hash 1, block 2 of the header.  Rounds 0-1 are in the job. */
#pragma GCC unroll 16
    for (int s = 0; s < S; s++) {
        x[s] = cdgh2;
        y[s] = abef2;
        m[0][s] = _mm_insert_epi32(m0, (int)__builtin_bswap32(n + (uint32_t)s), 3);
        wk[s] = _mm_shuffle_epi32(_mm_add_epi32(m[0][s], kq(0)), 0x0E);
        x[s] = _mm_sha256rnds2_epu32(x[s], y[s], wk[s]); /* rounds 2-3 */
    }
    /* Now x is ABEF.  Rounds 4-15: message words are job constants. */
#pragma GCC unroll 4
    for (int q = 1; q < 4; q++) {
#pragma GCC unroll 16
        for (int s = 0; s < S; s++)
            y[s] = _mm_sha256rnds2_epu32(y[s], x[s], wk_const[q - 1]);
        __m128i hi = _mm_shuffle_epi32(wk_const[q - 1], 0x0E);
#pragma GCC unroll 16
        for (int s = 0; s < S; s++)
            x[s] = _mm_sha256rnds2_epu32(x[s], y[s], hi);
    }
    const __m128i m1 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
    const __m128i m2 = _mm_setzero_si128();
    const __m128i m3 = _mm_set_epi32(80 * 8, 0, 0, 0);
#pragma GCC unroll 16
    for (int s = 0; s < S; s++) {
        m[1][s] = m1;
        m[2][s] = m2;
        m[3][s] = m3;
    }
#pragma GCC unroll 16
    for (int q = 4; q < 16; q++) {
#pragma GCC unroll 16
        for (int s = 0; s < S; s++) {
            m[q & 3][s] = schedule(m[q & 3][s], m[(q + 1) & 3][s], m[(q + 2) & 3][s],
                                   m[(q + 3) & 3][s]);
            wk[s] = _mm_add_epi32(m[q & 3][s], kq(q));
            y[s] = _mm_sha256rnds2_epu32(y[s], x[s], wk[s]);
        }
#pragma GCC unroll 16
        for (int s = 0; s < S; s++)
            x[s] = _mm_sha256rnds2_epu32(x[s], y[s], _mm_shuffle_epi32(wk[s], 0x0E));
    }

    /* Feed-forward, then the digest words become hash 2's message. */
    const __m128i mid_abef = _mm_loadu_si128((const __m128i *)job->ni_mid_abef);
    const __m128i mid_cdgh = _mm_loadu_si128((const __m128i *)job->ni_mid_cdgh);
#pragma GCC unroll 16
    for (int s = 0; s < S; s++) {
        __m128i abef = _mm_shuffle_epi32(_mm_add_epi32(x[s], mid_abef), 0x1B);
        __m128i cdgh = _mm_shuffle_epi32(_mm_add_epi32(y[s], mid_cdgh), 0x1B);
        m[0][s] = _mm_unpacklo_epi64(abef, cdgh);
        m[1][s] = _mm_unpackhi_epi64(abef, cdgh);
        m[2][s] = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
        m[3][s] = _mm_set_epi32(32 * 8, 0, 0, 0);
    }

    /* Hash 2 from the initial value: 62 rounds are enough to know H7. */
    const __m128i iv_abef = _mm_set_epi32((int)pk_sha256_iv[0], (int)pk_sha256_iv[1],
                                          (int)pk_sha256_iv[4], (int)pk_sha256_iv[5]);
    const __m128i iv_cdgh = _mm_set_epi32((int)pk_sha256_iv[2], (int)pk_sha256_iv[3],
                                          (int)pk_sha256_iv[6], (int)pk_sha256_iv[7]);
#pragma GCC unroll 16
    for (int s = 0; s < S; s++) {
        y[s] = iv_abef;
        x[s] = iv_cdgh;
    }
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++) {
#pragma GCC unroll 16
        for (int s = 0; s < S; s++) {
            if (q >= 4)
                m[q & 3][s] = schedule(m[q & 3][s], m[(q + 1) & 3][s], m[(q + 2) & 3][s],
                                       m[(q + 3) & 3][s]);
            wk[s] = _mm_add_epi32(m[q & 3][s], kq(q));
            x[s] = _mm_sha256rnds2_epu32(x[s], y[s], wk[s]);
        }
        if (q == 15)
            break; /* rounds 62-63 cannot change H7 */
#pragma GCC unroll 16
        for (int s = 0; s < S; s++)
            y[s] = _mm_sha256rnds2_epu32(y[s], x[s], _mm_shuffle_epi32(wk[s], 0x0E));
    }

    /* x is ABEF after 62 rounds: its dword 0 is f, which ends as h, so
     * H7 = f + IV7.  The hash's top 32 bits are H7 byte-swapped. */
    unsigned mask = 0;
#pragma GCC unroll 16
    for (int s = 0; s < S; s++) {
        uint32_t h7 = (uint32_t)_mm_cvtsi128_si32(x[s]) + pk_sha256_iv[7];
        if (__builtin_bswap32(h7) <= top)
            mask |= 1u << s;
    }
    return mask;
}

static inline __attribute__((always_inline)) size_t scan_streams(const pk_job *job, uint32_t start,
                                                                 uint64_t count, uint32_t *found,
                                                                 size_t max_found, const int S)
{
    size_t hits = 0;
    __m128i wk_const[3];
    for (int q = 1; q < 4; q++)
        wk_const[q - 1] = _mm_add_epi32(_mm_loadu_si128((const __m128i *)&job->w[4 * q]), kq(q));
    uint32_t top = job->target_w[7];
    uint32_t n = start;
    uint64_t left = count;
    while (left > 0) {
        unsigned mask = ni_group(job, n, wk_const, top, S);
        unsigned valid = left >= (uint64_t)S ? (1u << S) - 1 : (1u << left) - 1;
        if (pk_recheck_candidates(job, n, mask & valid, found, max_found, &hits))
            return hits + 1;
        uint64_t step = left >= (uint64_t)S ? (uint64_t)S : left;
        n += (uint32_t)step;
        left -= step;
    }
    return hits;
}

/* One function per stream count: S is a constant in each, so the stream
 * loops unroll and the state stays in registers. */
#define NI_LAYOUT(s_)                                                                \
    static size_t scan_shani_##s_(const pk_job *job, uint32_t start, uint64_t count,  \
                                  uint32_t *found, size_t max_found)                  \
    {                                                                                \
        return scan_streams(job, start, count, found, max_found, s_);                \
    }
NI_LAYOUT(2)
NI_LAYOUT(3)
NI_LAYOUT(4)
NI_LAYOUT(5)
NI_LAYOUT(8)

const pk_kernel pk_kernel_shani = {.name = "shani:5", .lanes = 5, .cpu_features = PK_CPU_SHA, .scan = scan_shani_5};
const pk_kernel pk_kernel_shani_2 = {.name = "shani:2", .lanes = 2, .cpu_features = PK_CPU_SHA, .scan = scan_shani_2};
const pk_kernel pk_kernel_shani_3 = {.name = "shani:3", .lanes = 3, .cpu_features = PK_CPU_SHA, .scan = scan_shani_3};
const pk_kernel pk_kernel_shani_4 = {.name = "shani:4", .lanes = 4, .cpu_features = PK_CPU_SHA, .scan = scan_shani_4};
const pk_kernel pk_kernel_shani_8 = {.name = "shani:8", .lanes = 8, .cpu_features = PK_CPU_SHA, .scan = scan_shani_8};
