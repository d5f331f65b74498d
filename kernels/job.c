/* Work units, jobs (the per-job precomputation every fast kernel shares)
 * and target arithmetic. */
#include <math.h>
#include <string.h>

#include "powkit/sha256.h"
#include "../base/arch.h"
#include "sha256_internal.h"

const pk_kernel *const pk_kernels_all[] = {
    /* Within a family the default layout first: without calibration it
     * is the one picked. */
    &pk_kernel_ref,
#if PK_X86_SIMD
    &pk_kernel_shani,  &pk_kernel_shani_2,  &pk_kernel_shani_3, &pk_kernel_shani_4, &pk_kernel_shani_8,
    &pk_kernel_avx2,   &pk_kernel_avx2_1,   &pk_kernel_avx2_2,   &pk_kernel_avx2_2l,
    &pk_kernel_avx512, &pk_kernel_avx512_1, &pk_kernel_avx512_2, &pk_kernel_avx512_2l,
#endif
#if PK_ARM_SIMD
    &pk_kernel_armsha, &pk_kernel_armsha_1, &pk_kernel_armsha_3, &pk_kernel_armsha_4,
    &pk_kernel_neon,   &pk_kernel_neon_1,   &pk_kernel_neon_2,   &pk_kernel_neon_2l,
#endif
};
const size_t pk_kernels_count = sizeof pk_kernels_all / sizeof pk_kernels_all[0];

void pk_work_from_header(pk_work *work, const uint8_t header[80], const uint8_t target[32])
{
    memset(work, 0, sizeof *work);
    pk_sha256_midstate(header, work->midstate);
    memcpy(work->tail, header + 64, 16);
    memcpy(work->target, target, 32);
}

void pk_job_init(pk_job *job, const pk_work *work)
{
    memset(job, 0, sizeof *job);
    job->work = *work;
    for (int i = 0; i < 8; i++)
        job->target_w[i] = pk_load_le32(work->target + 4 * i);

    /* Block 2 of an 80-byte header: 16 header bytes, then padding and the
     * bit length 640.  Word 3 is the nonce, the only thing that varies. */
    uint32_t *w = job->w;
    for (int i = 0; i < 3; i++)
        w[i] = pk_load_be32(work->tail + 4 * i);
    w[3] = 0;
    w[4] = 0x80000000u;
    w[15] = 80 * 8;

    uint32_t s[8];
    memcpy(s, work->midstate, sizeof s);
    for (int i = 0; i < 2; i++)
        pk_sha256_round(s, pk_sha256_k[i] + w[i]);
    /* SHA-NI keeps the state as {a,b,e,f} and {c,d,g,h}, high dword first. */
    const uint32_t abef[4] = {s[5], s[4], s[1], s[0]}, cdgh[4] = {s[7], s[6], s[3], s[2]};
    memcpy(job->ni_abef, abef, sizeof abef);
    memcpy(job->ni_cdgh, cdgh, sizeof cdgh);
    const uint32_t *m = work->midstate;
    const uint32_t mabef[4] = {m[5], m[4], m[1], m[0]}, mcdgh[4] = {m[7], m[6], m[3], m[2]};
    memcpy(job->ni_mid_abef, mabef, sizeof mabef);
    memcpy(job->ni_mid_cdgh, mcdgh, sizeof mcdgh);

    pk_sha256_round(s, pk_sha256_k[2] + w[2]);
    memcpy(job->r3, s, sizeof s);

    /* Round 3 without its message word: the nonce word adds to both new a
     * and new e, so kernels start at round 4 with one add each. */
    uint32_t t1 = s[7] + pk_bsig1(s[4]) + pk_ch(s[4], s[5], s[6]) + pk_sha256_k[3];
    uint32_t t2 = pk_bsig0(s[0]) + pk_maj(s[0], s[1], s[2]);
    job->r4_a = t1 + t2;
    job->r4_e = s[3] + t1;

    job->w16 = pk_ssig1(w[14]) + w[9] + pk_ssig0(w[1]) + w[0];
    job->w17 = pk_ssig1(w[15]) + w[10] + pk_ssig0(w[2]) + w[1];
    job->w18_c = pk_ssig1(job->w16) + w[11] + w[2];
    job->w19_c = pk_ssig1(job->w17) + w[12] + pk_ssig0(w[4]);
}

int pk_hash_meets_target(const uint8_t hash[32], const uint8_t target[32])
{
    for (int i = 31; i >= 0; i--) {
        if (hash[i] != target[i])
            return hash[i] < target[i];
    }
    return 1;
}

int pk_bits_to_target(uint32_t bits, uint8_t target[32])
{
    memset(target, 0, 32);
    unsigned size = bits >> 24;
    uint32_t mant = bits & 0x007fffffu;
    if (mant != 0 && (bits & 0x00800000u))
        return -1; /* negative */
    if (mant != 0 && (size > 34 || (mant > 0xff && size > 33) || (mant > 0xffff && size > 32)))
        return -1; /* does not fit in 256 bits */
    if (size <= 3) {
        mant >>= 8 * (3 - size);
        size = 3;
    }
    for (unsigned i = 0; i < 3; i++) {
        unsigned pos = size - 3 + i;
        if (pos < 32)
            target[pos] = (uint8_t)(mant >> (8 * i));
    }
    return 0;
}

double pk_target_to_difficulty(const uint8_t target[32])
{
    double t = 0;
    for (int i = 31; i >= 0; i--) /* little-endian: the top byte last */
        t = t * 256.0 + target[i];
    return t > 0 ? ldexp(65535.0, 208) / t : 0;
}

void pk_difficulty_to_target(double difficulty, uint8_t target[32])
{
    /* target = 0xffff * 2^208 / difficulty, filled 32 bits at a time from
     * the top; a double carries 53 bits, the rest are zero. */
    memset(target, 0, 32);
    if (!(difficulty > 0) || !isfinite(difficulty)) {
        memset(target, 0xff, 32);
        return;
    }
    double t = 65535.0 / difficulty;
    if (ldexp(t, 208 - 224) >= 4294967296.0) {
        memset(target, 0xff, 32);
        return;
    }
    for (int i = 7; i >= 0; i--) {
        double x = ldexp(t, 208 - 32 * i);
        uint32_t word = (uint32_t)fmod(floor(x), 4294967296.0);
        pk_store_le32(target + 4 * i, word);
    }
}

void pk_job_hash_nonce(const pk_job *job, uint32_t nonce, uint32_t out[8])
{
    uint8_t block[64] = {0};
    for (int i = 0; i < 12; i++)
        block[i] = job->work.tail[i];
    pk_store_le32(block + 12, nonce);
    block[16] = 0x80;
    pk_store_be32(block + 60, 80 * 8);
    uint32_t s[8];
    for (int i = 0; i < 8; i++)
        s[i] = job->work.midstate[i];
    pk_sha256_compress_ref(s, block, 1);

    uint8_t block2[64] = {0};
    for (int i = 0; i < 8; i++)
        pk_store_be32(block2 + 4 * i, s[i]);
    block2[32] = 0x80;
    pk_store_be32(block2 + 60, 32 * 8);
    for (int i = 0; i < 8; i++)
        out[i] = pk_sha256_iv[i];
    pk_sha256_compress_ref(out, block2, 1);
}
