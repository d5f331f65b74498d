/* ARMv8 SHA-2 Crypto Extensions ("armsha"): the general block compression,
 * multi-buffer compression, fixed-length double hashes and the mining
 * kernel.
 *
 * sha256h and sha256h2 each advance half of the state (a..d, e..h) by
 * four rounds; sha256su0 and sha256su1 produce the next four schedule
 * words.  The state stays in its natural order, {a,b,c,d} and {e,f,g,h},
 * lane 0 first, so loads and stores need no shuffles.  sha256h overwrites
 * a..d, which sha256h2 still needs: one copy per four rounds.
 *
 * Each four-round step depends on the one before through sha256h's
 * latency (several cycles on every core that has it), so one stream of
 * nonces leaves the unit idle between steps.  As with SHA-NI the scan
 * runs S independent nonces interleaved step by step, one layout per S
 * ("armsha:2"); the dispatcher measures them at start-up.  AArch64 has
 * 32 vector registers, so up to four streams stay in registers.
 *
 * Mining shortcuts: the schedule words of steps 1-3 of the header's
 * second block and of steps 2-3 of hash 2 are job constants; hash 2's
 * last step runs sha256h2 only, since H7 (h after round 63 = e after
 * round 60) is all the early reject needs. */
#include <arm_neon.h>
#include <string.h>

#include "sha256_internal.h"

#define AS_MAX_STREAMS 4

static inline uint32x4_t kq(int q) { return vld1q_u32(&pk_sha256_k[4 * q]); }

static inline uint32x4_t load_be(const uint8_t *p) { return vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p))); }

static inline void store_be(uint8_t *p, uint32x4_t v) { vst1q_u8(p, vrev32q_u8(vreinterpretq_u8_u32(v))); }

/* Next four schedule words from the previous sixteen (m0 oldest). */
static inline uint32x4_t schedule(uint32x4_t m0, uint32x4_t m1, uint32x4_t m2, uint32x4_t m3)
{
    return vsha256su1q_u32(vsha256su0q_u32(m0, m1), m2, m3);
}

/* Four rounds with message words plus K in wk. */
#define QROUND(abcd, efgh, wk)                                                       \
    do {                                                                             \
        uint32x4_t a0_ = (abcd);                                                     \
        (abcd) = vsha256hq_u32((abcd), (efgh), (wk));                                \
        (efgh) = vsha256h2q_u32((efgh), a0_, (wk));                                  \
    } while (0)

void pk_sha256_compress_armsha(uint32_t state[8], const uint8_t *blocks, size_t n)
{
    uint32x4_t abcd = vld1q_u32(state), efgh = vld1q_u32(state + 4);
    for (; n > 0; n--, blocks += 64) {
        uint32x4_t save_abcd = abcd, save_efgh = efgh, m[4];
        for (int i = 0; i < 4; i++)
            m[i] = load_be(blocks + 16 * i);
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++) {
            if (q >= 4)
                m[q & 3] = schedule(m[q & 3], m[(q + 1) & 3], m[(q + 2) & 3], m[(q + 3) & 3]);
            uint32x4_t wk = vaddq_u32(m[q & 3], kq(q));
            QROUND(abcd, efgh, wk);
        }
        abcd = vaddq_u32(abcd, save_abcd);
        efgh = vaddq_u32(efgh, save_efgh);
    }
    vst1q_u32(state, abcd);
    vst1q_u32(state + 4, efgh);
}

/* n independent states, one block each, interleaved step by step.  N is a
 * compile-time constant in each instantiation below. */
static inline __attribute__((always_inline)) void compress_multi(uint32_t (*states)[8],
                                                                 const uint8_t *const *blocks,
                                                                 const int N)
{
    uint32x4_t abcd[AS_MAX_STREAMS], efgh[AS_MAX_STREAMS], save_abcd[AS_MAX_STREAMS],
        save_efgh[AS_MAX_STREAMS], m[4][AS_MAX_STREAMS];
    for (int s = 0; s < N; s++) {
        abcd[s] = save_abcd[s] = vld1q_u32(states[s]);
        efgh[s] = save_efgh[s] = vld1q_u32(states[s] + 4);
        for (int i = 0; i < 4; i++)
            m[i][s] = load_be(blocks[s] + 16 * i);
    }
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++) {
#pragma GCC unroll 4
        for (int s = 0; s < N; s++) {
            if (q >= 4)
                m[q & 3][s] = schedule(m[q & 3][s], m[(q + 1) & 3][s], m[(q + 2) & 3][s], m[(q + 3) & 3][s]);
            uint32x4_t wk = vaddq_u32(m[q & 3][s], kq(q));
            QROUND(abcd[s], efgh[s], wk);
        }
    }
    for (int s = 0; s < N; s++) {
        vst1q_u32(states[s], vaddq_u32(abcd[s], save_abcd[s]));
        vst1q_u32(states[s] + 4, vaddq_u32(efgh[s], save_efgh[s]));
    }
}

void pk_sha256_compress_armsha_multi(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n)
{
    while (n > 0) {
        switch (n) {
        case 1: compress_multi(states, blocks, 1); return;
        case 2: compress_multi(states, blocks, 2); return;
        case 3: compress_multi(states, blocks, 3); return;
        default:
            compress_multi(states, blocks, 4);
            states += 4;
            blocks += 4;
            n -= 4;
        }
    }
}

/* ---- Double SHA-256 of 64- or 80-byte messages side by side (merkle
 * nodes, headers), NF streams interleaved.  A 64-byte message's second
 * block is all padding: its words plus K are one constant table; the
 * outer hash's words 8-15 are constants.  Every stream has the same three
 * blocks. ---- */
#define NF 4

/* 64 rounds on every stream; kw: K plus words for a constant block, else
 * the schedule is run on m. */
static inline __attribute__((always_inline)) void as_rounds(uint32x4_t *abcd, uint32x4_t *efgh,
                                                            uint32x4_t (*m)[NF], const uint32_t *kw)
{
#pragma GCC unroll 16
    for (int q = 0; q < 16; q++) {
#pragma GCC unroll 4
        for (int s = 0; s < NF; s++) {
            uint32x4_t wk;
            if (kw) {
                wk = vld1q_u32(&kw[4 * q]);
            } else {
                if (q >= 4)
                    m[q & 3][s] = schedule(m[q & 3][s], m[(q + 1) & 3][s], m[(q + 2) & 3][s], m[(q + 3) & 3][s]);
                wk = vaddq_u32(m[q & 3][s], kq(q));
            }
            QROUND(abcd[s], efgh[s], wk);
        }
    }
}

static inline __attribute__((always_inline)) void as_fixed(uint8_t *out, const uint8_t *in, const size_t len,
                                                           const uint32_t kp[64])
{
    const uint32x4_t iv0 = vld1q_u32(pk_sha256_iv), iv1 = vld1q_u32(pk_sha256_iv + 4);
    static const uint32_t pad32[4] = {0x80000000u, 0, 0, 0}, len640[4] = {0, 0, 0, 640},
                          len256[4] = {0, 0, 0, 256};
    uint32x4_t abcd[NF], efgh[NF], mid0[NF], mid1[NF], m[4][NF];
    for (int s = 0; s < NF; s++) {
        abcd[s] = iv0, efgh[s] = iv1;
        for (int i = 0; i < 4; i++)
            m[i][s] = load_be(in + len * (size_t)s + 16 * i);
    }
    as_rounds(abcd, efgh, m, NULL);
    for (int s = 0; s < NF; s++) {
        mid0[s] = abcd[s] = vaddq_u32(abcd[s], iv0);
        mid1[s] = efgh[s] = vaddq_u32(efgh[s], iv1);
    }
    if (len == 64) {
        as_rounds(abcd, efgh, m, kp);
    } else { /* 80: four data words, then the padding of 640 bits */
        for (int s = 0; s < NF; s++) {
            m[0][s] = load_be(in + len * (size_t)s + 64);
            m[1][s] = vld1q_u32(pad32);
            m[2][s] = vdupq_n_u32(0);
            m[3][s] = vld1q_u32(len640);
        }
        as_rounds(abcd, efgh, m, NULL);
    }
    for (int s = 0; s < NF; s++) {
        /* The first digest is the outer hash's words 0-7, then padding. */
        m[0][s] = vaddq_u32(abcd[s], mid0[s]);
        m[1][s] = vaddq_u32(efgh[s], mid1[s]);
        m[2][s] = vld1q_u32(pad32);
        m[3][s] = vld1q_u32(len256);
        abcd[s] = iv0, efgh[s] = iv1;
    }
    as_rounds(abcd, efgh, m, NULL);
    for (int s = 0; s < NF; s++) {
        store_be(out + 32 * s, vaddq_u32(abcd[s], iv0));
        store_be(out + 32 * s + 16, vaddq_u32(efgh[s], iv1));
    }
}

static size_t as_fixed_many(uint8_t *out, const uint8_t *in, size_t n, size_t len)
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
            as_fixed(out + 32 * done, in + 64 * done, 64, kp);
        else
            as_fixed(out + 32 * done, in + 80 * done, 80, kp);
    }
    return done;
}

size_t pk_sha256d64_armsha(uint8_t *out, const uint8_t *in, size_t n) { return as_fixed_many(out, in, n, 64); }
size_t pk_sha256d80_armsha(uint8_t *out, const uint8_t *in, size_t n) { return as_fixed_many(out, in, n, 80); }

/* ---- The mining scan. ---- */

/* Per-job vectors: the midstate, block 2's first words (nonce lane 0),
 * and K plus the constant words of hash 1's steps 1-3 and hash 2's
 * steps 2-3. */
typedef struct as_consts {
    uint32x4_t mid0, mid1, m0, wk1[3], wk2[2];
    /* sha256su0 of two constant quads: hash 1's steps 5 and 6 (words 4-7
     * with 8-11, 8-11 with 12-15), hash 2's step 6 (8-11 with 12-15). */
    uint32x4_t su0_h1_5, su0_h1_6, su0_h2_6;
} as_consts;

/* One group of S nonces from n; returns a mask of streams whose H7 passes
 * the early reject. */
static inline __attribute__((always_inline)) unsigned as_group(const as_consts *c, uint32_t n, uint32_t top,
                                                               const int S)
{
    uint32x4_t abcd[AS_MAX_STREAMS], efgh[AS_MAX_STREAMS], m[4][AS_MAX_STREAMS];
    const uint32x4_t iv0 = vld1q_u32(pk_sha256_iv), iv1 = vld1q_u32(pk_sha256_iv + 4);

    /* Hash 1, block 2 of the header: step 0 carries the nonce (word 3),
     * steps 1-3 only constants. */
#pragma GCC unroll 4
    for (int s = 0; s < S; s++) {
        abcd[s] = c->mid0, efgh[s] = c->mid1;
        m[0][s] = vsetq_lane_u32(__builtin_bswap32(n + (uint32_t)s), c->m0, 3);
        uint32x4_t wk = vaddq_u32(m[0][s], kq(0));
        QROUND(abcd[s], efgh[s], wk);
        m[1][s] = (uint32x4_t){0x80000000u, 0, 0, 0};
        m[2][s] = vdupq_n_u32(0);
        m[3][s] = (uint32x4_t){0, 0, 0, 80 * 8};
    }
#pragma GCC unroll 4
    for (int q = 1; q < 4; q++) {
#pragma GCC unroll 4
        for (int s = 0; s < S; s++)
            QROUND(abcd[s], efgh[s], c->wk1[q - 1]);
    }
#pragma GCC unroll 16
    for (int q = 4; q < 16; q++) {
#pragma GCC unroll 4
        for (int s = 0; s < S; s++) {
            if (q == 5 || q == 6)
                m[q & 3][s] = vsha256su1q_u32(q == 5 ? c->su0_h1_5 : c->su0_h1_6, m[(q + 2) & 3][s],
                                              m[(q + 3) & 3][s]);
            else
                m[q & 3][s] = schedule(m[q & 3][s], m[(q + 1) & 3][s], m[(q + 2) & 3][s], m[(q + 3) & 3][s]);
            uint32x4_t wk = vaddq_u32(m[q & 3][s], kq(q));
            QROUND(abcd[s], efgh[s], wk);
        }
    }

    /* Feed-forward: hash 1's digest words are hash 2's words 0-7. */
#pragma GCC unroll 4
    for (int s = 0; s < S; s++) {
        m[0][s] = vaddq_u32(abcd[s], c->mid0);
        m[1][s] = vaddq_u32(efgh[s], c->mid1);
        m[2][s] = (uint32x4_t){0x80000000u, 0, 0, 0};
        m[3][s] = (uint32x4_t){0, 0, 0, 32 * 8};
        abcd[s] = iv0, efgh[s] = iv1;
    }
#pragma GCC unroll 2
    for (int q = 0; q < 2; q++) {
#pragma GCC unroll 4
        for (int s = 0; s < S; s++) {
            uint32x4_t wk = vaddq_u32(m[q][s], kq(q));
            QROUND(abcd[s], efgh[s], wk);
        }
    }
#pragma GCC unroll 2
    for (int q = 2; q < 4; q++) {
#pragma GCC unroll 4
        for (int s = 0; s < S; s++)
            QROUND(abcd[s], efgh[s], c->wk2[q - 2]);
    }
#pragma GCC unroll 16
    for (int q = 4; q < 15; q++) {
#pragma GCC unroll 4
        for (int s = 0; s < S; s++) {
            if (q == 6)
                m[2][s] = vsha256su1q_u32(c->su0_h2_6, m[0][s], m[1][s]);
            else
                m[q & 3][s] = schedule(m[q & 3][s], m[(q + 1) & 3][s], m[(q + 2) & 3][s], m[(q + 3) & 3][s]);
            uint32x4_t wk = vaddq_u32(m[q & 3][s], kq(q));
            QROUND(abcd[s], efgh[s], wk);
        }
    }
    /* Rounds 60-63: only e..h, whose h lane is e after round 60, H7's
     * state word. */
    unsigned mask = 0;
#pragma GCC unroll 4
    for (int s = 0; s < S; s++) {
        uint32x4_t w = schedule(m[3][s], m[0][s], m[1][s], m[2][s]);
        uint32x4_t wk = vaddq_u32(w, kq(15));
        efgh[s] = vsha256h2q_u32(efgh[s], abcd[s], wk);
        uint32_t h7 = vgetq_lane_u32(efgh[s], 3) + pk_sha256_iv[7];
        if (__builtin_bswap32(h7) <= top)
            mask |= 1u << s;
    }
    return mask;
}

static void as_consts_init(as_consts *c, const pk_job *job)
{
    c->mid0 = vld1q_u32(job->work.midstate);
    c->mid1 = vld1q_u32(job->work.midstate + 4);
    c->m0 = vld1q_u32(job->w);
    for (int q = 1; q < 4; q++)
        c->wk1[q - 1] = vaddq_u32(vld1q_u32(&job->w[4 * q]), kq(q));
    const uint32_t h2w2[4] = {0x80000000u, 0, 0, 0}, h2w3[4] = {0, 0, 0, 32 * 8};
    c->wk2[0] = vaddq_u32(vld1q_u32(h2w2), kq(2));
    c->wk2[1] = vaddq_u32(vld1q_u32(h2w3), kq(3));
    const uint32_t h1w1[4] = {0x80000000u, 0, 0, 0}, h1w2[4] = {0, 0, 0, 0}, h1w3[4] = {0, 0, 0, 80 * 8};
    c->su0_h1_5 = vsha256su0q_u32(vld1q_u32(h1w1), vld1q_u32(h1w2));
    c->su0_h1_6 = vsha256su0q_u32(vld1q_u32(h1w2), vld1q_u32(h1w3));
    c->su0_h2_6 = vsha256su0q_u32(vld1q_u32(h2w2), vld1q_u32(h2w3));
}

static inline __attribute__((always_inline)) size_t scan_streams(const pk_job *job, uint32_t start,
                                                                 uint64_t count, uint32_t *found,
                                                                 size_t max_found, const int S)
{
    as_consts c;
    as_consts_init(&c, job);
    size_t hits = 0;
    uint32_t top = job->target_w[7];
    uint32_t n = start;
    uint64_t left = count;
    while (left > 0) {
        unsigned mask = as_group(&c, n, top, S);
        unsigned valid = left >= (uint64_t)S ? (1u << S) - 1 : (1u << left) - 1;
        if (pk_recheck_candidates(job, n, mask & valid, found, max_found, &hits))
            return hits + 1;
        uint64_t step = left >= (uint64_t)S ? (uint64_t)S : left;
        n += (uint32_t)step;
        left -= step;
    }
    return hits;
}

#define AS_LAYOUT(s_)                                                                \
    static size_t scan_armsha_##s_(const pk_job *job, uint32_t start, uint64_t count, \
                                   uint32_t *found, size_t max_found)                 \
    {                                                                                \
        return scan_streams(job, start, count, found, max_found, s_);                \
    }
AS_LAYOUT(1)
AS_LAYOUT(2)
AS_LAYOUT(3)
AS_LAYOUT(4)

/* Two streams by default: sha256h's latency against its issue rate on
 * the Cortex-A76 and Neoverse cores (README, "arm64"); calibration picks
 * the best layout where it runs. */
const pk_kernel pk_kernel_armsha = {.name = "armsha:2", .lanes = 2, .cpu_features = PK_CPU_ARM_SHA2,
                                    .scan = scan_armsha_2};
const pk_kernel pk_kernel_armsha_1 = {.name = "armsha:1", .lanes = 1, .cpu_features = PK_CPU_ARM_SHA2,
                                      .scan = scan_armsha_1};
const pk_kernel pk_kernel_armsha_3 = {.name = "armsha:3", .lanes = 3, .cpu_features = PK_CPU_ARM_SHA2,
                                      .scan = scan_armsha_3};
const pk_kernel pk_kernel_armsha_4 = {.name = "armsha:4", .lanes = 4, .cpu_features = PK_CPU_ARM_SHA2,
                                      .scan = scan_armsha_4};
