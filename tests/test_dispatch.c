/* Kernel dispatch: CPU checks, POWKIT_DISABLE, self-test exclusion, the
 * calibration cache, and mining on ref alone. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/arch.h"
#include "powkit/bench.h"
#include "powkit/cpu.h"
#include "powkit/device.h"
#include "powkit/dispatch.h"
#include "powkit/error.h"
#include "powkit/offline.h"
#include "testutil.h"

static char cache_dir[256];

static void make_cache_dir(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/powkit-test-cache-XXXXXX");
    cr_assert(mkdtemp(cache_dir));
}

static void remove_cache_dir(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/kernel-choice", cache_dir);
    unlink(path);
    rmdir(cache_dir);
}

TestSuite(dispatch, .init = make_cache_dir, .fini = remove_cache_dir);

/* A kernel that is fast and wrong: it never reports anything. */
static size_t scan_broken(const pk_job *job, uint32_t start, uint64_t count, uint32_t *found,
                          size_t max_found)
{
    (void)job, (void)start, (void)count, (void)found, (void)max_found;
    return 0;
}
static const pk_kernel broken = {.name = "broken", .lanes = 64, .cpu_features = 0, .scan = scan_broken};

/* A kernel that is right but off by one in what it reports. */
static size_t scan_off_by_one(const pk_job *job, uint32_t start, uint64_t count, uint32_t *found,
                              size_t max_found)
{
    size_t n = pk_kernel_ref.scan(job, start, count, found, max_found);
    for (size_t i = 0; i < n && i < max_found; i++)
        found[i]++;
    return n;
}
static const pk_kernel off_by_one = {.name = "offbyone", .lanes = 1, .cpu_features = 0, .scan = scan_off_by_one};

/* Needs a CPU feature no CPU reports. */
static const pk_kernel future = {.name = "future", .lanes = 1, .cpu_features = 1u << 30, .scan = scan_broken};

Test(dispatch, a_kernel_failing_its_selftest_is_never_used)
{
    const pk_kernel *list[] = {&pk_kernel_ref, &broken, &off_by_one, &future};
    pk_dispatch d;
    pk_dispatch_opts o = {.disable = "", .cache_dir = cache_dir, .calibrate_ms = 10};
    cr_assert_eq(pk_dispatch_init(&d, list, 4, &o), 0);
    cr_assert_eq(pk_dispatch_entry(&d, "broken")->status, PK_SELFTEST_FAILED);
    cr_assert_eq(pk_dispatch_entry(&d, "offbyone")->status, PK_SELFTEST_FAILED);
    cr_assert_eq(pk_dispatch_entry(&d, "future")->status, PK_SELFTEST_UNSUPPORTED);
    cr_assert_eq(d.best, &pk_kernel_ref, "the broken kernel is the 'fastest' but must lose");
    int err = 0;
    cr_assert_null(pk_dispatch_get(&d, "broken", &err));
    cr_assert_eq(err, PK_ESELFTEST);
    cr_assert_null(pk_dispatch_get(&d, "future", &err));
    cr_assert_eq(err, PK_EUNSUPPORTED);
    cr_assert_null(pk_dispatch_get(&d, "nosuch", &err));
    cr_assert_eq(err, PK_ENOTFOUND);
    /* Also with no calibration: the widest usable one, still never broken. */
    o.no_calibrate = 1;
    o.cache_dir = "";
    cr_assert_eq(pk_dispatch_init(&d, list, 4, &o), 0);
    cr_assert_eq(d.best, &pk_kernel_ref);
}

Test(dispatch, ref_must_come_first)
{
    const pk_kernel *list[] = {&off_by_one, &pk_kernel_ref};
    pk_dispatch d;
    cr_assert_eq(pk_dispatch_init(&d, list, 2, NULL), PK_EINVAL);
}

Test(dispatch, environment_disables_every_fast_path)
{
    setenv("POWKIT_DISABLE", TU_FAST_FAMILIES ", ref", 1);
    pk_dispatch d;
    pk_dispatch_opts o = {.cache_dir = cache_dir, .calibrate_ms = 5};
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    cr_assert_eq(d.best, &pk_kernel_ref);
    cr_assert_eq(pk_dispatch_entry(&d, "ref")->status, PK_SELFTEST_OK, "ref is never disabled");
    int err;
    for (size_t i = 1; i < pk_kernels_count; i++) {
        const pk_kernel_entry *e = &d.entries[i];
        int supported = (e->kernel->cpu_features & pk_cpu_features()) == e->kernel->cpu_features;
        cr_assert_eq(e->status, supported ? PK_SELFTEST_DISABLED : PK_SELFTEST_UNSUPPORTED, "%s",
                     e->kernel->name);
        cr_assert_null(pk_dispatch_get(&d, e->kernel->name, &err));
    }

    /* Mining still works, on ref: shares found and every one valid. */
    uint8_t target[32];
    memset(target, 0xff, 32);
    target[31] = 0x01; /* about 1 nonce in 128 */
    pk_offline_source src;
    pk_offline_source_init(&src, NULL, target);
    pk_dispatcher *disp;
    cr_assert_eq(pk_dispatcher_new(&disp, &src.base), 0);
    pk_cpu_device_opts co = {.kernel = d.best, .threads = 2};
    pk_device *dev = pk_cpu_device_new(&co, 0);
    cr_assert_not_null(dev);
    cr_assert_eq(pk_device_start(dev, disp), 0);
    while (atomic_load(&src.shares) < 50)
        usleep(1000);
    pk_dispatcher_stop(disp);
    pk_device_stop(dev);
    pk_dispatcher_stats st;
    pk_dispatcher_get_stats(disp, &st);
    cr_assert_geq(st.shares, 50);
    cr_assert_eq(st.invalid, 0);
    cr_assert_gt(pk_device_hashes(dev), 0);
    pk_device_destroy(dev);
    pk_dispatcher_free(disp);
}

Test(dispatch, the_pick_is_cached_per_kernel_set)
{
    pk_dispatch d;
    pk_dispatch_opts o = {.disable = "", .cache_dir = cache_dir, .calibrate_ms = 5};
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    cr_assert_eq(d.best_from_cache, 0, "an empty cache means a measurement");
    const pk_kernel *first = d.best;
    cr_assert_eq(pk_dispatch_entry(&d, first->name)->status, PK_SELFTEST_OK);
    cr_assert_gt(pk_dispatch_entry(&d, first->name)->calib_mhs, 0);

    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    cr_assert_eq(d.best_from_cache, 1, "second start reads the cache");
    cr_assert_eq(d.best, first);

    /* Disabling the cached winner changes the key: measured again, and the
     * disabled kernel is not picked. */
    o.disable = first->name;
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    if (first != &pk_kernel_ref) {
        cr_assert_eq(d.best_from_cache, 0);
        cr_assert_neq(d.best, first);
    }

    /* A damaged cache file is ignored, not trusted. */
    FILE *f = fopen(d.cache_file, "w");
    cr_assert(f);
    fputs("key garbage\nbest avx9000\n", f);
    fclose(f);
    o.disable = "";
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    cr_assert_eq(d.best_from_cache, 0);
}

static int usable(const pk_kernel *k)
{
    return (k->cpu_features & pk_cpu_features()) == k->cpu_features;
}

/* The lane-kernel family of this build. */
#if PK_X86_SIMD
#define LANE_FAMILY "avx2"
#define LANE_KERNEL pk_kernel_avx2
#define LANE_KERNEL_1 pk_kernel_avx2_1
#elif PK_ARM_SIMD
#define LANE_FAMILY "neon"
#define LANE_KERNEL pk_kernel_neon
#define LANE_KERNEL_1 pk_kernel_neon_1
#endif

#ifdef LANE_FAMILY
Test(dispatch, a_family_name_picks_its_fastest_measured_layout)
{
    if (!usable(&LANE_KERNEL))
        cr_skip_test("no %s here", LANE_FAMILY);
    pk_dispatch d;
    pk_dispatch_opts o = {.disable = "", .cache_dir = "", .no_calibrate = 1};
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    cr_assert_eq(pk_dispatch_get(&d, LANE_FAMILY, NULL), &LANE_KERNEL, "unmeasured: the default layout");
    cr_assert_eq(pk_dispatch_get(&d, LANE_FAMILY ":1", NULL), &LANE_KERNEL_1, "a layout by its own name");
    int err = 0;
    cr_assert_null(pk_dispatch_get(&d, LANE_FAMILY ":7", &err));
    cr_assert_eq(err, PK_ENOTFOUND);
    cr_assert_null(pk_dispatch_get(&d, "avx", &err), "no prefix matches");

    o.no_calibrate = 0;
    o.calibrate_ms = 5;
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    const pk_kernel *pick = pk_dispatch_get(&d, LANE_FAMILY, NULL);
    cr_assert_not_null(pick);
    cr_assert(pk_kernel_in_family(pick, LANE_FAMILY));
    for (size_t i = 0; i < d.count; i++) {
        if (pk_kernel_in_family(d.entries[i].kernel, LANE_FAMILY))
            cr_assert_geq(pk_dispatch_entry(&d, pick->name)->calib_mhs, d.entries[i].calib_mhs, "%s",
                          d.entries[i].kernel->name);
    }

    /* One layout switched off: the family picks among the others; the
     * whole family off: the family's name is refused. */
    o.disable = pick->name;
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    const pk_kernel *other = pk_dispatch_get(&d, LANE_FAMILY, NULL);
    cr_assert_not_null(other);
    cr_assert_neq(other, pick);
    o.disable = LANE_FAMILY;
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    cr_assert_null(pk_dispatch_get(&d, LANE_FAMILY, &err));
    cr_assert_eq(err, PK_EDISABLED);
    cr_assert_null(pk_dispatch_get(&d, LANE_FAMILY ":1", &err));
    cr_assert_eq(err, PK_EDISABLED);
}
#endif

/* Every kernel with version lanes is measured with them too; the
 * version-lane pick is the fastest of those, and only when it beats the
 * plain pick. */
Test(dispatch, version_lanes_are_calibrated_and_picked)
{
    pk_dispatch d;
    pk_dispatch_opts o = {.disable = "", .cache_dir = "", .calibrate_ms = 5};
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    double best_plain = pk_dispatch_entry(&d, d.best->name)->calib_mhs, best_v = 0;
    const pk_kernel *fastest_v = NULL;
    for (size_t i = 0; i < d.count; i++) {
        const pk_kernel_entry *e = &d.entries[i];
        if (e->status != PK_SELFTEST_OK || !e->kernel->vscan) {
            cr_assert_eq(e->calib_vmhs, 0, "%s has no version lanes to measure", e->kernel->name);
            continue;
        }
        cr_assert_gt(e->calib_vmhs, 0, "%s", e->kernel->name);
        if (e->calib_vmhs > best_v)
            best_v = e->calib_vmhs, fastest_v = e->kernel;
    }
    cr_assert_eq(d.best_vlanes, best_v > best_plain ? fastest_v : NULL);
}

Test(dispatch, the_cache_keeps_every_layouts_figure)
{
    pk_dispatch d, again;
    pk_dispatch_opts o = {.disable = "", .cache_dir = cache_dir, .calibrate_ms = 5};
    cr_assert_eq(pk_dispatch_init(&d, pk_kernels_all, pk_kernels_count, &o), 0);
    cr_assert_eq(pk_dispatch_init(&again, pk_kernels_all, pk_kernels_count, &o), 0);
    cr_assert_eq(again.best_from_cache, 1);
    for (size_t i = 0; i < d.count; i++) {
        const pk_kernel_entry *a = &d.entries[i], *b = &again.entries[i];
        cr_assert_float_eq(b->calib_mhs, a->calib_mhs, 0.006, "%s", a->kernel->name);
        cr_assert_float_eq(b->calib_vmhs, a->calib_vmhs, 0.006, "%s", a->kernel->name);
    }
    cr_assert_eq(again.best_vlanes, d.best_vlanes, "the version-lane pick survives the cache");
    static const char *const families[] = {TU_SHA_FAMILY, TU_LANE_FAMILY};
    for (size_t f = 0; f < 2; f++)
        cr_assert_eq(pk_dispatch_get(&again, families[f], NULL), pk_dispatch_get(&d, families[f], NULL),
                     "%s", families[f]);
}

Test(dispatch, name_lists)
{
    cr_assert(pk_name_in_list("shani,avx2", "avx2"));
    cr_assert(pk_name_in_list(" shani , avx2 ", "shani"));
    cr_assert(pk_name_in_list(" shani , avx2 ", "avx2"));
    cr_assert_not(pk_name_in_list("avx512", "avx2"), "no prefix matches");
    cr_assert_not(pk_name_in_list("avx2x", "avx2"));
    cr_assert_not(pk_name_in_list("", "avx2"));
    cr_assert_not(pk_name_in_list(NULL, "avx2"));
    cr_assert(pk_name_in_list(",,avx2,", "avx2"));
}
