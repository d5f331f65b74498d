/* The OpenCL kernel on PoCL's CPU device: against ref on random jobs for
 * every vector width, on real mainnet headers, and the binary cache and
 * build-failure paths. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/sha256_internal.h"
#include "powkit/opencl.h"
#include "testutil.h"

static char cache_dir[64];

static void setup(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/powkit-cl-XXXXXX");
    cr_assert(mkdtemp(cache_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache_dir);
    if (system(cmd) != 0) {
    }
}

TestSuite(opencl, .init = setup, .fini = teardown, .timeout = 600);

static pk_device *open_dev(unsigned vw, const char *source, char *err, size_t errlen)
{
    pk_cl_info info[8];
    char e[256];
    if (pk_cl_list(info, 8, e, sizeof e) == 0)
        cr_skip_test("no OpenCL device: %s", e);
    pk_cl_opts o = {.index = 0, .vector_width = vw, .cache_dir = cache_dir, .global_size = 4096, .source = source};
    return pk_cl_device_new(&o, 1, err, errlen);
}

static void against_ref(unsigned vw, int jobs)
{
    char err[8192];
    pk_device *d = open_dev(vw, NULL, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(pk_cl_device_vector_width(d), vw);
    tu_rng r = {100 + vw};
    for (int t = 0; t < jobs; t++) {
        uint8_t header[80], target[32];
        tu_fill(&r, header, 80);
        pk_work w;
        pk_job j;
        memset(target, 0, 32);
        pk_work_from_header(&w, header, target);
        pk_job_init(&j, &w);
        uint64_t count = 1 + tu_below(&r, 3000);
        uint32_t start = t % 4 == 0 ? 0xffffffffu - tu_below(&r, (uint32_t)count) : (uint32_t)tu_next(&r);
        /* The target is the k-th smallest hash of the range (exactly k
         * winners, at the boundary), or its top word alone (the early
         * reject passes, the full compare decides). */
        uint8_t best[5][32];
        for (int k = 0; k < 5; k++)
            memset(best[k], 0xff, 32);
        for (uint64_t i = 0; i < count; i++) {
            uint32_t h[8];
            uint8_t le[32];
            pk_job_hash_nonce(&j, start + (uint32_t)i, h);
            for (int k = 0; k < 8; k++)
                pk_store_be32(le + 4 * k, h[k]);
            for (int k = 0; k < 5; k++) {
                if (!pk_hash_meets_target(le, best[k]))
                    continue;
                memmove(best[k + 1], best[k], (size_t)(4 - k) * 32);
                memcpy(best[k], le, 32);
                break;
            }
        }
        int kth = t % 5 < (int)count ? t % 5 : 0;
        memcpy(w.target, best[kth], 32);
        if (t % 3 == 1)
            memset(w.target, 0, 28);
        pk_job_init(&j, &w);
        uint32_t *want = malloc(count * 4), *got = malloc(count * 4);
        size_t nw = pk_kernel_ref.scan(&j, start, count, want, count);
        int e;
        size_t ng = pk_cl_scan(d, &j, start, count, got, count, &e);
        cr_assert_eq(e, 0, "%s", pk_cl_error_name(e));
        cr_assert_leq(nw, 5);
        if (t % 3 != 1)
            cr_assert_eq(nw, (size_t)kth + 1, "the k-th smallest hash admits exactly k nonces");
        cr_assert_eq(ng, nw, "vw %u job %d: %zu vs ref %zu", vw, t, ng, nw);
        cr_assert_arr_eq(got, want, nw * 4, "vw %u job %d", vw, t);
        free(want);
        free(got);
    }
    pk_device_destroy(d);
}

Test(opencl, scalar_matches_ref) { against_ref(1, 150); }
Test(opencl, vec2_matches_ref) { against_ref(2, 150); }
Test(opencl, vec4_matches_ref) { against_ref(4, 150); }
Test(opencl, vec8_matches_ref) { against_ref(8, 150); }
Test(opencl, vec16_matches_ref) { against_ref(16, 150); }

Test(opencl, real_headers_find_their_nonce)
{
    char err[8192];
    pk_device *d = open_dev(16, NULL, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    size_t len;
    uint8_t *data = tu_read_data("mainnet-headers-822528-830592.bin", &len);
    for (size_t idx = 0; idx < 8065; idx += 2016) {
        const uint8_t *hd = data + 80 * idx;
        uint8_t target[32];
        cr_assert_eq(pk_bits_to_target(pk_load_le32(hd + 72), target), 0);
        uint32_t nonce = pk_load_le32(hd + 76);
        pk_work w;
        pk_job j;
        pk_work_from_header(&w, hd, target);
        pk_job_init(&j, &w);
        uint32_t found[4];
        int e;
        uint32_t start = nonce - (uint32_t)(idx * 37 % (1u << 20));
        size_t n = pk_cl_scan(d, &j, start, 1u << 20, found, 4, &e);
        cr_assert_eq(e, 0);
        cr_assert_eq(n, 1, "height %zu: %zu found", 822528 + idx, n);
        cr_assert_eq(found[0], nonce);
    }
    free(data);
    pk_device_destroy(d);
}

Test(opencl, binary_cache_is_used_and_keyed)
{
    char err[8192];
    pk_device *d = open_dev(4, NULL, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(pk_cl_device_from_cache(d), 0, "first build is from source");
    pk_device_destroy(d);
    d = open_dev(4, NULL, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(pk_cl_device_from_cache(d), 1, "second start loads the binary");
    pk_device_destroy(d);
    d = open_dev(8, NULL, err, sizeof err);
    cr_assert_eq(pk_cl_device_from_cache(d), 0, "another build option rebuilds");
    pk_device_destroy(d);
    /* A changed source rebuilds too. */
    size_t n = strlen(pk_sha256d_cl_source);
    char *src = malloc(n + 64);
    snprintf(src, n + 64, "%s\n/* changed */\n", pk_sha256d_cl_source);
    d = open_dev(4, src, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(pk_cl_device_from_cache(d), 0);
    pk_device_destroy(d);
    free(src);
}

Test(opencl, broken_source_gives_the_build_log)
{
    char err[8192] = "";
    pk_device *d = open_dev(4, "__kernel void scan(__global uint *x) { this is not C; }", err, sizeof err);
    cr_assert_null(d);
    cr_assert(strstr(err, "CL_BUILD_PROGRAM_FAILURE"), "%s", err);
    cr_assert(strstr(err, "error"), "the device's build log is included: %s", err);
}

Test(opencl, listing_reports_the_device)
{
    pk_cl_info info[8];
    char err[256];
    size_t n = pk_cl_list(info, 8, err, sizeof err);
    if (n == 0)
        cr_skip_test("no OpenCL device: %s", err);
    cr_assert_neq(info[0].name[0], 0);
    cr_assert_gt(info[0].compute_units, 0);
    cr_assert_str_eq(pk_cl_error_name(-5), "CL_OUT_OF_RESOURCES");
}
