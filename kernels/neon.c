/* NEON kernel (ARMv8 Advanced SIMD): 4 nonces per step, one per 32-bit
 * lane of a 128-bit register, for ARM cores without the SHA-2 Crypto
 * Extensions (the Raspberry Pi 4's Cortex-A72 has none).  The round code
 * is lanes_impl.h; this file gives it NEON's vocabulary.
 *
 * NEON has no rotate either, but shift-right-and-insert (sri) merges the
 * right shift into the left-shifted copy: a rotate is two instructions.
 * Bit select (bsl) is Ch in one instruction and Maj in two.  Three-way XOR
 * (eor3) is an ARMv8.2 SHA3 extension, not baseline: two eors. */
#include <arm_neon.h>

#include "sha256_internal.h"

typedef uint32x4_t V;
#define LANES 4
#define SET1(x) vdupq_n_u32((uint32_t)(x))
#define ADD(a, b) vaddq_u32((a), (b))
#define XOR(a, b) veorq_u32((a), (b))
#define SHR(x, n) vshrq_n_u32((x), (n))
#define ROTR(x, n) vsriq_n_u32(vshlq_n_u32((x), 32 - (n)), (x), (n))
#define XOR3(a, b, c) XOR(XOR((a), (b)), (c))
/* bsl(m, x, y) = (m & x) | (~m & y): Ch is e ? f : g; Maj is b where a
 * and b agree, else c. */
#define CH(e, f, g) vbslq_u32((e), (f), (g))
#define MAJ(a, b, c) vbslq_u32(veorq_u32((a), (b)), (c), (a))
static const uint32_t neon_lane_index[4] = {0, 1, 2, 3};
static const uint32_t neon_lane_bit[4] = {1, 2, 4, 8};
#define LANE_INDEX() vld1q_u32(neon_lane_index)
#define BSWAP(x) vreinterpretq_u32_u8(vrev32q_u8(vreinterpretq_u8_u32(x)))
/* Comparison results are all-ones lanes: one bit each, summed across. */
#define LE_MASK(x, t) ((unsigned)vaddvq_u32(vandq_u32(vcleq_u32((x), (t)), vld1q_u32(neon_lane_bit))))
#define EQ_MASK(x, t) ((unsigned)vaddvq_u32(vandq_u32(vceqq_u32((x), (t)), vld1q_u32(neon_lane_bit))))
#define LOADA(p) vld1q_u32((const uint32_t *)(p))
#define STOREA(p, v) vst1q_u32((uint32_t *)(p), (v))
#define MULTI_FN pk_sha256_compress_neon_multi
#define MULTI_GROUP compress_group_neon

/* Four messages side by side: four words of each message in with one
 * load per message, then a 4x4 transpose (trn1/trn2 on 32- then 64-bit
 * elements) puts word i of every message in one vector; the digests go
 * out through the same transpose. */
static inline __attribute__((always_inline)) void transpose4(uint32x4_t r[4])
{
    uint32x4_t t0 = vtrn1q_u32(r[0], r[1]), t1 = vtrn2q_u32(r[0], r[1]);
    uint32x4_t t2 = vtrn1q_u32(r[2], r[3]), t3 = vtrn2q_u32(r[2], r[3]);
    r[0] = vreinterpretq_u32_u64(vtrn1q_u64(vreinterpretq_u64_u32(t0), vreinterpretq_u64_u32(t2)));
    r[1] = vreinterpretq_u32_u64(vtrn1q_u64(vreinterpretq_u64_u32(t1), vreinterpretq_u64_u32(t3)));
    r[2] = vreinterpretq_u32_u64(vtrn2q_u64(vreinterpretq_u64_u32(t0), vreinterpretq_u64_u32(t2)));
    r[3] = vreinterpretq_u32_u64(vtrn2q_u64(vreinterpretq_u64_u32(t1), vreinterpretq_u64_u32(t3)));
}
/* count is 16 or 4 here: whole quads of words. */
#define D64_LOAD(w, in, len, first, count)                                                         \
    do {                                                                                           \
        for (int i_ = 0; i_ < (count); i_ += 4) {                                                  \
            uint32x4_t r_[4];                                                                      \
            for (int l_ = 0; l_ < 4; l_++)                                                         \
                r_[l_] = vld1q_u32((const uint32_t *)(const void *)((in) + (len) * (size_t)l_ +    \
                                                                     4 * (size_t)((first) + i_))); \
            transpose4(r_);                                                                        \
            for (int k_ = 0; k_ < 4; k_++)                                                         \
                (w)[(first) + i_ + k_] = BSWAP(r_[k_]);                                            \
        }                                                                                          \
    } while (0)
#define D64_STORE(out, h)                                                                          \
    do {                                                                                           \
        for (int j_ = 0; j_ < 8; j_ += 4) {                                                        \
            uint32x4_t r_[4] = {(h)[j_], (h)[j_ + 1], (h)[j_ + 2], (h)[j_ + 3]};                   \
            transpose4(r_);                                                                        \
            for (int l_ = 0; l_ < 4; l_++)                                                         \
                vst1q_u32((uint32_t *)(void *)((out) + 32 * l_ + 4 * j_), BSWAP(r_[l_]));          \
        }                                                                                          \
    } while (0)
#define D64_FN pk_sha256d64_neon
#define D80_FN pk_sha256d80_neon
#define D64_GROUPS 2

#include "lanes_impl.h"

#define KERNEL_ID neon
#define KERNEL_CPU PK_CPU_NEON
#include "lanes_layouts.h"
