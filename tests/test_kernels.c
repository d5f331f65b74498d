/* Every kernel against ref (and ref against plain SHA-256d) on random jobs,
 * at the target boundary, at the end of the nonce space, and on real
 * mainnet headers, where a window holding the real nonce must yield it. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "../base/arch.h"
#include "../kernels/sha256_internal.h"
#include "powkit/cpu.h"
#include "powkit/dispatch.h"
#include "testutil.h"

static void require_cpu(const pk_kernel *k)
{
    if ((k->cpu_features & pk_cpu_features()) != k->cpu_features)
        cr_skip_test("%s: this CPU lacks its instructions", k->name);
}

static void digest(const pk_job *job, uint32_t nonce, uint8_t out[32])
{
    uint32_t h[8];
    pk_job_hash_nonce(job, nonce, h);
    for (int i = 0; i < 8; i++)
        pk_store_be32(out + 4 * i, h[i]);
}

Test(ref, agrees_with_plain_double_sha256)
{
    tu_rng r = {11};
    for (int t = 0; t < 200; t++) {
        uint8_t header[80], target[32];
        tu_fill(&r, header, 80);
        tu_fill(&r, target, 32);
        pk_work work;
        pk_job job;
        pk_work_from_header(&work, header, target);
        pk_job_init(&job, &work);
        uint32_t start = (uint32_t)tu_next(&r);
        uint32_t *found;
        size_t n = tu_scan_all(&pk_kernel_ref, &job, start, 64, &found);
        size_t k = 0;
        for (uint32_t i = 0; i < 64; i++) {
            uint8_t h[32];
            tu_header_hash(header, start + i, h);
            if (pk_hash_meets_target(h, target)) {
                cr_assert_lt(k, n);
                cr_assert_eq(found[k], start + i);
                k++;
            }
        }
        cr_assert_eq(k, n);
        free(found);
    }
}

/* Target modes: where the boundary sits relative to the range's hashes. */
enum { AT_HASH, BELOW_HASH, TOP_WORD_ONLY, RANDOM_EASY, IMPOSSIBLE, MODES };

static void compare_random_jobs(const pk_kernel *k, uint64_t seed, int jobs)
{
    require_cpu(k);
    tu_rng r = {seed};
    for (int t = 0; t < jobs; t++) {
        uint8_t header[80];
        tu_fill(&r, header, 80);
        uint64_t count = 1 + tu_below(&r, 100);
        uint32_t start;
        switch (t % 10) {
        case 0: start = 0xffffffffu - tu_below(&r, (uint32_t)count); break; /* wraps */
        case 1: start = (uint32_t)(0x100000000ull - count); break;          /* ends at 2^32-1 */
        case 2: start = 0; break;
        default: start = (uint32_t)tu_next(&r);
        }
        pk_work work;
        pk_job job;
        uint8_t target[32] = {0};
        pk_work_from_header(&work, header, target);
        pk_job_init(&job, &work);
        uint32_t pick = start + tu_below(&r, (uint32_t)count);
        int mode = (int)(tu_below(&r, MODES));
        switch (mode) {
        case AT_HASH: digest(&job, pick, work.target); break;
        case BELOW_HASH: {
            digest(&job, pick, work.target);
            for (int i = 0; i < 32; i++) { /* target - 1, little-endian, with the borrow */
                uint8_t was = work.target[i];
                work.target[i] = (uint8_t)(was - 1);
                if (was)
                    break;
            }
            break;
        }
        case TOP_WORD_ONLY: digest(&job, pick, work.target); memset(work.target, 0, 28); break;
        case RANDOM_EASY: tu_fill(&r, work.target, 32); break;
        case IMPOSSIBLE: break;
        }
        pk_job_init(&job, &work);
        uint32_t *want, *got;
        size_t nw = tu_scan_all(&pk_kernel_ref, &job, start, count, &want);
        size_t ng = tu_scan_all(k, &job, start, count, &got);
        cr_assert_eq(ng, nw, "%s job %d mode %d start %08x count %llu: %zu hits, ref %zu", k->name,
                     t, mode, start, (unsigned long long)count, ng, nw);
        cr_assert_arr_eq(got, want, nw * sizeof *got, "%s job %d: different nonces", k->name, t);
        if (mode == AT_HASH) {
            int seen = 0;
            for (size_t i = 0; i < nw; i++)
                seen |= want[i] == pick;
            cr_assert(seen, "a hash exactly at the target must be found");
        }
        if (mode == BELOW_HASH) {
            for (size_t i = 0; i < nw; i++)
                cr_assert_neq(want[i], pick, "a hash one above the target must not be found");
        }
        free(want);
        free(got);
    }
}

#if PK_X86_SIMD
Test(kernels, shani_matches_ref_on_10000_random_jobs) { compare_random_jobs(&pk_kernel_shani, 21, 10000); }
Test(kernels, avx2_matches_ref_on_10000_random_jobs) { compare_random_jobs(&pk_kernel_avx2, 22, 10000); }
Test(kernels, avx512_matches_ref_on_10000_random_jobs) { compare_random_jobs(&pk_kernel_avx512, 23, 10000); }
/* The other layouts (the defaults are above). */
Test(kernels, shani_2_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_shani_2, 28, 3000); }
Test(kernels, shani_3_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_shani_3, 29, 3000); }
Test(kernels, shani_4_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_shani_4, 30, 3000); }
Test(kernels, shani_8_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_shani_8, 31, 3000); }
Test(kernels, avx2_1_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_avx2_1, 24, 3000); }
Test(kernels, avx2_2_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_avx2_2, 25, 3000); }
Test(kernels, avx512_1_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_avx512_1, 26, 3000); }
Test(kernels, avx512_2_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_avx512_2, 27, 3000); }
Test(kernels, avx2_2l_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_avx2_2l, 32, 3000); }
Test(kernels, avx512_2l_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_avx512_2l, 33, 3000); }
#endif
#if PK_ARM_SIMD
Test(kernels, armsha_matches_ref_on_10000_random_jobs) { compare_random_jobs(&pk_kernel_armsha, 61, 10000); }
Test(kernels, neon_matches_ref_on_10000_random_jobs) { compare_random_jobs(&pk_kernel_neon, 62, 10000); }
Test(kernels, armsha_1_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_armsha_1, 63, 3000); }
Test(kernels, armsha_3_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_armsha_3, 64, 3000); }
Test(kernels, armsha_4_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_armsha_4, 65, 3000); }
Test(kernels, neon_1_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_neon_1, 66, 3000); }
Test(kernels, neon_2_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_neon_2, 67, 3000); }
Test(kernels, neon_2l_matches_ref_on_3000_random_jobs) { compare_random_jobs(&pk_kernel_neon_2l, 68, 3000); }
#endif

static void found_buffer_overflow(const pk_kernel *k)
{
    require_cpu(k);
    /* Everything wins: the kernel stops at the hit after a full buffer
     * (max_found + 1), the stored nonces are the first ones, in order, and
     * resuming after the last stored one walks the whole range. */
    uint8_t header[80] = {1}, target[32];
    memset(target, 0xff, 32);
    pk_work work;
    pk_job job;
    pk_work_from_header(&work, header, target);
    pk_job_init(&job, &work);
    uint32_t found[5];
    cr_assert_eq(k->scan(&job, 0xfffffff0u, 77, found, 5), 6, "%s: stops at the sixth hit", k->name);
    for (uint32_t i = 0; i < 5; i++)
        cr_assert_eq(found[i], 0xfffffff0u + i);
    uint32_t pos = 0xfffffff0u, next = pos;
    uint64_t left = 77, total = 0;
    while (left > 0) {
        size_t n = k->scan(&job, pos, left, found, 5);
        size_t stored = n < 5 ? n : 5;
        for (size_t i = 0; i < stored; i++)
            cr_assert_eq(found[i], next++, "%s: every nonce once, in order", k->name);
        total += stored;
        if (n <= 5)
            break;
        uint64_t used = (uint64_t)(uint32_t)(found[4] - pos) + 1;
        pos += (uint32_t)used;
        left -= used;
    }
    cr_assert_eq(total, 77, "%s: resuming walks the range", k->name);
    cr_assert_eq(k->scan(&job, 5, 0, found, 5), 0, "an empty range finds nothing");
}

Test(kernels, found_buffer_overflow_ref) { found_buffer_overflow(&pk_kernel_ref); }
#if PK_X86_SIMD
Test(kernels, found_buffer_overflow_shani) { found_buffer_overflow(&pk_kernel_shani); }
Test(kernels, found_buffer_overflow_avx2) { found_buffer_overflow(&pk_kernel_avx2); }
Test(kernels, found_buffer_overflow_avx512) { found_buffer_overflow(&pk_kernel_avx512); }
Test(kernels, found_buffer_overflow_shani_layouts)
{
    found_buffer_overflow(&pk_kernel_shani_2);
    found_buffer_overflow(&pk_kernel_shani_3);
    found_buffer_overflow(&pk_kernel_shani_4);
    found_buffer_overflow(&pk_kernel_shani_8);
}
Test(kernels, found_buffer_overflow_avx2_layouts)
{
    found_buffer_overflow(&pk_kernel_avx2_1);
    found_buffer_overflow(&pk_kernel_avx2_2);
    found_buffer_overflow(&pk_kernel_avx2_2l);
}
Test(kernels, found_buffer_overflow_avx512_layouts)
{
    found_buffer_overflow(&pk_kernel_avx512_1);
    found_buffer_overflow(&pk_kernel_avx512_2);
    found_buffer_overflow(&pk_kernel_avx512_2l);
}
#endif
#if PK_ARM_SIMD
Test(kernels, found_buffer_overflow_armsha_layouts)
{
    found_buffer_overflow(&pk_kernel_armsha);
    found_buffer_overflow(&pk_kernel_armsha_1);
    found_buffer_overflow(&pk_kernel_armsha_3);
    found_buffer_overflow(&pk_kernel_armsha_4);
}
Test(kernels, found_buffer_overflow_neon_layouts)
{
    found_buffer_overflow(&pk_kernel_neon);
    found_buffer_overflow(&pk_kernel_neon_1);
    found_buffer_overflow(&pk_kernel_neon_2);
    found_buffer_overflow(&pk_kernel_neon_2l);
}
#endif

/* Real mainnet headers: every kernel, a 2^20 window holding the nonce. */
static void real_headers(const pk_kernel *k, int samples)
{
    require_cpu(k);
    size_t len;
    uint8_t *data = tu_read_data("mainnet-headers-822528-830592.bin", &len);
    cr_assert_eq(len, 8065 * 80);
    tu_rng r = {31};
    for (int s = 0; s < samples; s++) {
        size_t idx = (size_t)s * 8064 / (size_t)(samples - 1 > 0 ? samples - 1 : 1);
        const uint8_t *header = data + 80 * idx;
        uint32_t bits = pk_load_le32(header + 72), nonce = pk_load_le32(header + 76);
        uint8_t target[32], h[32];
        cr_assert_eq(pk_bits_to_target(bits, target), 0);
        tu_header_hash(header, nonce, h);
        cr_assert(pk_hash_meets_target(h, target), "height %zu meets its own target", 822528 + idx);

        const uint64_t window = 1u << 20;
        uint32_t start = nonce - tu_below(&r, (uint32_t)window);
        if (s == 0)
            start = nonce - (uint32_t)(window - 1); /* the nonce is the last one */
        if (s == 1)
            start = nonce; /* the nonce is the first one */
        pk_work work;
        pk_job job;
        pk_work_from_header(&work, header, target);
        pk_job_init(&job, &work);
        uint32_t found[4];
        size_t n = k->scan(&job, start, window, found, 4);
        cr_assert_eq(n, 1, "%s at height %zu: %zu nonces found", k->name, 822528 + idx, n);
        cr_assert_eq(found[0], nonce, "%s at height %zu: found %08x, real %08x", k->name,
                     822528 + idx, found[0], nonce);
    }
    free(data);
}

Test(real_headers, ref, .timeout = 600) { real_headers(&pk_kernel_ref, 3); }
#if PK_X86_SIMD
Test(real_headers, shani, .timeout = 600) { real_headers(&pk_kernel_shani, 12); }
Test(real_headers, avx2, .timeout = 600) { real_headers(&pk_kernel_avx2, 12); }
Test(real_headers, avx512, .timeout = 600) { real_headers(&pk_kernel_avx512, 12); }
Test(real_headers, shani_2, .timeout = 600) { real_headers(&pk_kernel_shani_2, 4); }
Test(real_headers, shani_3, .timeout = 600) { real_headers(&pk_kernel_shani_3, 4); }
Test(real_headers, shani_4, .timeout = 600) { real_headers(&pk_kernel_shani_4, 4); }
Test(real_headers, shani_8, .timeout = 600) { real_headers(&pk_kernel_shani_8, 4); }
Test(real_headers, avx2_1, .timeout = 600) { real_headers(&pk_kernel_avx2_1, 6); }
Test(real_headers, avx2_2, .timeout = 600) { real_headers(&pk_kernel_avx2_2, 6); }
Test(real_headers, avx512_1, .timeout = 600) { real_headers(&pk_kernel_avx512_1, 6); }
Test(real_headers, avx512_2, .timeout = 600) { real_headers(&pk_kernel_avx512_2, 6); }
Test(real_headers, avx2_2l, .timeout = 600) { real_headers(&pk_kernel_avx2_2l, 6); }
Test(real_headers, avx512_2l, .timeout = 600) { real_headers(&pk_kernel_avx512_2l, 6); }
#endif
#if PK_ARM_SIMD
/* Fewer windows than on x86: these run under an emulator in CI. */
Test(real_headers, armsha, .timeout = 600) { real_headers(&pk_kernel_armsha, 4); }
Test(real_headers, armsha_1, .timeout = 600) { real_headers(&pk_kernel_armsha_1, 2); }
Test(real_headers, armsha_3, .timeout = 600) { real_headers(&pk_kernel_armsha_3, 2); }
Test(real_headers, armsha_4, .timeout = 600) { real_headers(&pk_kernel_armsha_4, 2); }
Test(real_headers, neon, .timeout = 600) { real_headers(&pk_kernel_neon, 4); }
Test(real_headers, neon_1, .timeout = 600) { real_headers(&pk_kernel_neon_1, 2); }
Test(real_headers, neon_2, .timeout = 600) { real_headers(&pk_kernel_neon_2, 2); }
Test(real_headers, neon_2l, .timeout = 600) { real_headers(&pk_kernel_neon_2l, 2); }
#endif

Test(kernels, every_kernel_passes_its_selftest)
{
    for (size_t i = 0; i < pk_kernels_count; i++) {
        const pk_kernel *k = pk_kernels_all[i];
        if ((k->cpu_features & pk_cpu_features()) != k->cpu_features)
            continue;
        cr_assert(pk_kernel_selftest(k), "%s", k->name);
    }
}

Test(kernels, job_precomputation_matches_the_definition)
{
    /* The precomputed round-3 state must equal three plain rounds from the
     * midstate; w16/w17 the schedule formula. */
    tu_rng r = {41};
    uint8_t header[80], target[32] = {0};
    tu_fill(&r, header, 80);
    pk_work work;
    pk_job job;
    pk_work_from_header(&work, header, target);
    pk_job_init(&job, &work);
    uint32_t s[8], w[16] = {0};
    for (int i = 0; i < 4; i++)
        w[i] = pk_load_be32(header + 64 + 4 * i);
    w[4] = 0x80000000u;
    w[15] = 640;
    memcpy(s, work.midstate, sizeof s);
    for (int i = 0; i < 3; i++)
        pk_sha256_round(s, pk_sha256_k[i] + w[i]);
    cr_assert_arr_eq(s, job.r3, sizeof s);
    pk_sha256_round(s, pk_sha256_k[3] + w[3]);
    cr_assert_eq(s[0], job.r4_a + w[3]);
    cr_assert_eq(s[4], job.r4_e + w[3]);
    cr_assert_eq(job.w16, pk_ssig1(w[14]) + w[9] + pk_ssig0(w[1]) + w[0]);
    cr_assert_eq(job.w17, pk_ssig1(w[15]) + w[10] + pk_ssig0(w[2]) + w[1]);
}

/* ---- Version lanes: vscan against ref, lane by lane. ---- */

enum { VL_MAX = 16 };

/* vlanes jobs from one header, lane l's version with BIP320 bits l<<13
 * flipped (lane `real` keeps the header's own version). */
static void version_jobs(const pk_kernel *k, const uint8_t header[80], const uint8_t target[32],
                         unsigned real, pk_job *jobs, const pk_job **jp)
{
    uint8_t h[80];
    memcpy(h, header, 80);
    uint32_t v = pk_load_le32(header);
    for (unsigned l = 0; l < k->vlanes; l++) {
        unsigned flip = l < real ? l + 1 : l; /* lane `real`: 0, others distinct */
        pk_store_le32(h, l == real ? v : v ^ (flip << 13));
        pk_work work;
        pk_work_from_header(&work, h, target);
        pk_job_init(&jobs[l], &work);
        jp[l] = &jobs[l];
    }
}

static void vlanes_random_jobs(const pk_kernel *k, uint64_t seed, int rounds)
{
    require_cpu(k);
    cr_assert_not_null(k->vscan, "%s has version lanes", k->name);
    cr_assert_leq(k->vlanes, VL_MAX);
    tu_rng r = {seed};
    for (int t = 0; t < rounds; t++) {
        uint8_t header[80], target[32];
        tu_fill(&r, header, 80);
        memset(target, 0xff, 32);
        /* About one hash in 2^(4..11) wins, so most runs have hits in
         * several lanes; some targets have a zero top word. */
        target[31] = (uint8_t)(t % 4 == 0 ? 0 : 0xff >> (4 + tu_below(&r, 8)));
        if (t % 4 == 0)
            target[27] = target[28] = target[29] = target[30] = 0, target[26] = (uint8_t)tu_below(&r, 256);
        pk_job jobs[VL_MAX];
        const pk_job *jp[VL_MAX];
        version_jobs(k, header, target, tu_below(&r, k->vlanes), jobs, jp);
        uint32_t start = t % 5 == 0 ? 0xffffffffu - tu_below(&r, 40) : (uint32_t)tu_next(&r);
        uint64_t count = 1 + tu_below(&r, 300);
        enum { MAXF = 16 * 300 };
        static pk_vfound got[MAXF];
        size_t n = k->vscan(jp, start, count, got, MAXF);
        size_t want = 0;
        for (uint64_t i = 0; i < count; i++) {
            for (unsigned l = 0; l < k->vlanes; l++) {
                uint32_t f;
                if (pk_kernel_ref.scan(&jobs[l], start + (uint32_t)i, 1, &f, 1) == 0)
                    continue;
                cr_assert_lt(want, n, "%s round %d: ref finds more", k->name, t);
                cr_assert_eq(got[want].nonce, f, "%s round %d hit %zu", k->name, t, want);
                cr_assert_eq(got[want].lane, l, "%s round %d hit %zu", k->name, t, want);
                want++;
            }
        }
        cr_assert_eq(n, want, "%s round %d: %zu hits, ref %zu", k->name, t, n, want);
    }
}

static void vlanes_overflow(const pk_kernel *k)
{
    require_cpu(k);
    uint8_t header[80] = {2}, target[32];
    memset(target, 0xff, 32);
    pk_job jobs[VL_MAX];
    const pk_job *jp[VL_MAX];
    version_jobs(k, header, target, 0, jobs, jp);
    pk_vfound got[7];
    cr_assert_eq(k->vscan(jp, 0xfffffffeu, 5, got, 7), 8, "%s: stops at the hit after a full buffer", k->name);
    for (unsigned i = 0; i < 7; i++) {
        cr_assert_eq(got[i].nonce, 0xfffffffeu + i / k->vlanes, "nonce order, wrapping");
        cr_assert_eq(got[i].lane, i % k->vlanes, "lanes ascending within a nonce");
    }
    /* Resuming as the CPU device does: the rest of the last nonce's lanes,
     * then the nonces after it; every (nonce, lane) once. */
    uint32_t pos = 0xfffffffeu;
    uint64_t left = 5, total = 0;
    while (left > 0) {
        size_t n = k->vscan(jp, pos, left, got, 7);
        total += n < 7 ? n : 7;
        if (n <= 7)
            break;
        total += k->vlanes - 1 - got[6].lane; /* every lane wins: the rest of that nonce */
        uint64_t used = (uint64_t)(uint32_t)(got[6].nonce - pos) + 1;
        pos += (uint32_t)used;
        left -= used;
    }
    cr_assert_eq(total, 5 * k->vlanes, "%s: resuming walks every lane of the range", k->name);
    cr_assert_eq(k->vscan(jp, 9, 0, got, 7), 0, "an empty range finds nothing");
}

/* A real mainnet header in one lane among made-up versions: the window
 * holding its nonce finds exactly it, in its lane. */
static void vlanes_real_headers(const pk_kernel *k, int samples)
{
    require_cpu(k);
    size_t len;
    uint8_t *data = tu_read_data("mainnet-headers-822528-830592.bin", &len);
    tu_rng r = {77};
    for (int s = 0; s < samples; s++) {
        size_t idx = (size_t)(s * 2011 + 5) % 8065;
        const uint8_t *header = data + 80 * idx;
        uint32_t bits = pk_load_le32(header + 72), nonce = pk_load_le32(header + 76);
        uint8_t target[32];
        cr_assert_eq(pk_bits_to_target(bits, target), 0);
        unsigned real = (unsigned)s % k->vlanes;
        pk_job jobs[VL_MAX];
        const pk_job *jp[VL_MAX];
        version_jobs(k, header, target, real, jobs, jp);
        const uint32_t window = 1u << 17;
        uint32_t start = nonce - tu_below(&r, window);
        if (s == 0)
            start = nonce - (window - 1);
        pk_vfound got[4];
        size_t n = k->vscan(jp, start, window, got, 4);
        cr_assert_eq(n, 1, "%s at height %zu: %zu hits", k->name, 822528 + idx, n);
        cr_assert_eq(got[0].nonce, nonce);
        cr_assert_eq(got[0].lane, real);
    }
    free(data);
}

/* The lane kernels of this build. */
static const pk_kernel *const lane_kernels[] = {
#if PK_X86_SIMD
    &pk_kernel_avx2,   &pk_kernel_avx2_1,   &pk_kernel_avx2_2,   &pk_kernel_avx2_2l,
    &pk_kernel_avx512, &pk_kernel_avx512_1, &pk_kernel_avx512_2, &pk_kernel_avx512_2l,
#endif
#if PK_ARM_SIMD
    &pk_kernel_neon, &pk_kernel_neon_1, &pk_kernel_neon_2, &pk_kernel_neon_2l,
#endif
    NULL,
};

Test(version_lanes, every_lane_kernel_has_them)
{
    for (const pk_kernel *const *k = lane_kernels; *k; k++) {
        cr_assert_not_null((*k)->vscan, "%s", (*k)->name);
        cr_assert_eq((*k)->vlanes, (*k)->lanes, "%s: one version per lane", (*k)->name);
    }
    cr_assert_null(pk_kernel_ref.vscan);
}
#if PK_X86_SIMD
Test(version_lanes, avx2_random) { vlanes_random_jobs(&pk_kernel_avx2, 51, 200); }
Test(version_lanes, avx2_1_random) { vlanes_random_jobs(&pk_kernel_avx2_1, 52, 200); }
Test(version_lanes, avx2_2_random) { vlanes_random_jobs(&pk_kernel_avx2_2, 53, 200); }
Test(version_lanes, avx512_random) { vlanes_random_jobs(&pk_kernel_avx512, 54, 200); }
Test(version_lanes, avx512_1_random) { vlanes_random_jobs(&pk_kernel_avx512_1, 55, 200); }
Test(version_lanes, avx512_2_random) { vlanes_random_jobs(&pk_kernel_avx512_2, 56, 200); }
/* The rolled layout reads hash 1's words from a table built for 16 (8)
 * nonces at a time: ranges that start and end inside a table. */
Test(version_lanes, avx2_2l_random) { vlanes_random_jobs(&pk_kernel_avx2_2l, 60, 200); }
Test(version_lanes, avx512_2l_random) { vlanes_random_jobs(&pk_kernel_avx512_2l, 61, 200); }
Test(version_lanes, overflow_avx2)
{
    vlanes_overflow(&pk_kernel_avx2);
    vlanes_overflow(&pk_kernel_avx2_1);
    vlanes_overflow(&pk_kernel_avx2_2);
    vlanes_overflow(&pk_kernel_avx2_2l);
}
Test(version_lanes, overflow_avx512)
{
    vlanes_overflow(&pk_kernel_avx512);
    vlanes_overflow(&pk_kernel_avx512_1);
    vlanes_overflow(&pk_kernel_avx512_2);
    vlanes_overflow(&pk_kernel_avx512_2l);
}
Test(version_lanes, real_headers_avx2, .timeout = 600)
{
    vlanes_real_headers(&pk_kernel_avx2, 4);
    vlanes_real_headers(&pk_kernel_avx2_1, 3);
    vlanes_real_headers(&pk_kernel_avx2_2, 3);
    vlanes_real_headers(&pk_kernel_avx2_2l, 3);
}
Test(version_lanes, real_headers_avx512, .timeout = 600)
{
    vlanes_real_headers(&pk_kernel_avx512, 4);
    vlanes_real_headers(&pk_kernel_avx512_1, 3);
    vlanes_real_headers(&pk_kernel_avx512_2, 3);
    vlanes_real_headers(&pk_kernel_avx512_2l, 3);
}
#endif
#if PK_ARM_SIMD
Test(version_lanes, neon_random) { vlanes_random_jobs(&pk_kernel_neon, 57, 200); }
Test(version_lanes, neon_1_random) { vlanes_random_jobs(&pk_kernel_neon_1, 58, 200); }
Test(version_lanes, neon_2_random) { vlanes_random_jobs(&pk_kernel_neon_2, 59, 200); }
Test(version_lanes, neon_2l_random) { vlanes_random_jobs(&pk_kernel_neon_2l, 62, 200); }
Test(version_lanes, overflow_neon)
{
    vlanes_overflow(&pk_kernel_neon);
    vlanes_overflow(&pk_kernel_neon_1);
    vlanes_overflow(&pk_kernel_neon_2);
    vlanes_overflow(&pk_kernel_neon_2l);
}
Test(version_lanes, real_headers_neon, .timeout = 600)
{
    vlanes_real_headers(&pk_kernel_neon, 2);
    vlanes_real_headers(&pk_kernel_neon_1, 2);
    vlanes_real_headers(&pk_kernel_neon_2, 2);
    vlanes_real_headers(&pk_kernel_neon_2l, 2);
}
#endif
