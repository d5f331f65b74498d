/* The host: dispatcher ranges, job changes, the share recheck, the CPU
 * device and the bench rows. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "testutil.h"

/* A source whose job can be switched, recording what it hands out. */
typedef struct test_source {
    pk_source base;
    pthread_mutex_t mu;
    uint64_t job;       /* current job number */
    uint64_t seq;       /* templates made */
    int no_work;        /* 1: answer PK_EAGAIN */
    uint8_t target[32];
    uint64_t shares_by_job[8];
    double last_old_share; /* time of the last share of a job before `job` */
    int bad_shares;
} test_source;

static int ts_next(pk_source *b, pk_template *t)
{
    test_source *s = (test_source *)b;
    if (s->no_work)
        return PK_EAGAIN;
    memset(t->header, 0, 80);
    memcpy(t->header, &s->job, sizeof s->job);
    memcpy(t->header + 8, &s->seq, sizeof s->seq);
    memcpy(t->target, s->target, 32);
    t->job_id = s->job;
    s->seq++;
    return PK_OK;
}

static void ts_share(pk_source *b, const pk_share *sh)
{
    test_source *s = (test_source *)b;
    uint8_t h[32];
    pk_sha256d(sh->header, 80, h);
    pthread_mutex_lock(&s->mu);
    if (memcmp(h, sh->hash, 32) != 0 || !pk_hash_meets_target(h, s->target))
        s->bad_shares++;
    if (sh->job_id < 8)
        s->shares_by_job[sh->job_id]++;
    if (sh->job_id != s->job)
        s->last_old_share = pk_now();
    pthread_mutex_unlock(&s->mu);
}

static void ts_init(test_source *s, int easy_bits)
{
    memset(s, 0, sizeof *s);
    s->base.next_template = ts_next;
    s->base.on_share = ts_share;
    pthread_mutex_init(&s->mu, NULL);
    memset(s->target, 0xff, 32);
    /* about one nonce in 2^easy_bits wins */
    for (int b = 0; b < easy_bits; b++)
        s->target[31 - b / 8] &= (uint8_t)~(0x80 >> (b % 8));
}

Test(dispatcher, ranges_cover_a_template_then_move_on)
{
    test_source s;
    ts_init(&s, 8);
    pk_dispatcher *d;
    cr_assert_eq(pk_dispatcher_new(&d, &s.base), 0);
    pk_range r1, r2, r3;
    cr_assert_eq(pk_dispatcher_take(d, 0x80000000u, 0, &r1), 0);
    cr_assert_eq(pk_dispatcher_take(d, 0x90000000u, 0, &r2), 0);
    cr_assert_eq(r1.start, 0);
    cr_assert_eq(r1.count, 0x80000000u);
    cr_assert_eq(r2.start, 0x80000000u);
    cr_assert_eq(r2.count, 0x80000000u, "clipped at the end of the nonce space");
    cr_assert_eq(memcmp(r1.header, r2.header, 80), 0, "same template");
    cr_assert_eq(pk_dispatcher_take(d, 1000, 0, &r3), 0);
    cr_assert_eq(r3.start, 0);
    cr_assert_neq(memcmp(r1.header, r3.header, 80), 0, "exhausted: a new template");
    pk_dispatcher_stats st;
    pk_dispatcher_get_stats(d, &st);
    cr_assert_eq(st.templates, 2);
    pk_dispatcher_free(d);
}

typedef struct taker {
    pk_dispatcher *d;
    uint64_t n;
    uint64_t *keys; /* template sequence << 32 | start */
    uint32_t *counts;
} taker;

static void *take_many(void *arg)
{
    taker *t = arg;
    for (uint64_t i = 0; i < t->n; i++) {
        pk_range r;
        cr_assert_eq(pk_dispatcher_take(t->d, 0x01000000u + (uint32_t)(i % 7) * 4096, 0, &r), 0);
        uint64_t seq;
        memcpy(&seq, r.header + 8, 8);
        t->keys[i] = seq << 32 | r.start;
        t->counts[i] = r.count;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(dispatcher, concurrent_takers_never_overlap)
{
    test_source s;
    ts_init(&s, 8);
    pk_dispatcher *d;
    cr_assert_eq(pk_dispatcher_new(&d, &s.base), 0);
    enum { T = 4, N = 2000 };
    taker tk[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        tk[i] = (taker){d, N, calloc(N, 8), calloc(N, 4)};
        pthread_create(&th[i], NULL, take_many, &tk[i]);
    }
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    /* Sort all ranges by (template, start): each must end where the next begins
     * or at a template's end. */
    uint64_t *all = calloc(T * N, 8);
    uint32_t *cnt = calloc(T * N, 4);
    for (int i = 0; i < T; i++)
        for (int j = 0; j < N; j++) {
            all[i * N + j] = tk[i].keys[j];
            cnt[i * N + j] = tk[i].counts[j];
        }
    /* carry the count along: encode index in a side table via sorting pairs */
    uint64_t (*pairs)[2] = calloc(T * N, 16);
    for (int i = 0; i < T * N; i++) {
        pairs[i][0] = all[i];
        pairs[i][1] = cnt[i];
    }
    qsort(pairs, T * N, 16, cmp_u64);
    for (int i = 0; i + 1 < T * N; i++) {
        uint64_t end = (pairs[i][0] & 0xffffffffu) + pairs[i][1];
        if (pairs[i + 1][0] >> 32 == pairs[i][0] >> 32)
            cr_assert_eq(pairs[i + 1][0] & 0xffffffffu, end, "ranges must tile the nonce space");
        else
            cr_assert_eq(end, 1ull << 32, "a template is used to its end");
    }
    for (int i = 0; i < T; i++) {
        free(tk[i].keys);
        free(tk[i].counts);
    }
    free(all);
    free(cnt);
    free(pairs);
    pk_dispatcher_free(d);
}

Test(dispatcher, job_change_makes_ranges_stale)
{
    test_source s;
    ts_init(&s, 8);
    pk_dispatcher *d;
    cr_assert_eq(pk_dispatcher_new(&d, &s.base), 0);
    pk_range r1, r2;
    cr_assert_eq(pk_dispatcher_take(d, 100, 0, &r1), 0);
    cr_assert_not(pk_dispatcher_is_stale(d, &r1));
    s.job = 1;
    pk_dispatcher_new_job(d);
    cr_assert(pk_dispatcher_is_stale(d, &r1));
    cr_assert_eq(pk_dispatcher_take(d, 100, 0, &r2), 0);
    cr_assert_eq(r2.job_id, 1);
    cr_assert_eq(r2.start, 0, "a new job starts a new template");
    pk_dispatcher_free(d);
}

Test(dispatcher, no_work_waits_then_says_so_and_stop_wakes)
{
    test_source s;
    ts_init(&s, 8);
    s.no_work = 1;
    pk_dispatcher *d;
    cr_assert_eq(pk_dispatcher_new(&d, &s.base), 0);
    pk_range r;
    cr_assert_eq(pk_dispatcher_take(d, 100, 20, &r), PK_EAGAIN);
    pk_dispatcher_stop(d);
    cr_assert_eq(pk_dispatcher_take(d, 100, 1000, &r), PK_ESTOPPED);
    pk_dispatcher_free(d);
}

Test(dispatcher, every_share_is_rechecked_with_the_reference)
{
    test_source s;
    ts_init(&s, 4);
    pk_dispatcher *d;
    cr_assert_eq(pk_dispatcher_new(&d, &s.base), 0);
    pk_range r;
    cr_assert_eq(pk_dispatcher_take(d, 4096, 0, &r), 0);
    uint32_t *found;
    size_t n = tu_scan_all(&pk_kernel_ref, &r.job, r.start, r.count, &found);
    cr_assert_gt(n, 10);
    int rejected = 0;
    for (uint32_t nonce = r.start; nonce < r.start + r.count; nonce++) {
        int winner = 0;
        for (size_t i = 0; i < n; i++)
            winner |= found[i] == nonce;
        int ok = pk_dispatcher_found(d, &r, nonce, 0, 0);
        cr_assert_eq(ok, winner, "nonce %u", nonce);
        rejected += !ok;
    }
    pk_dispatcher_stats st;
    pk_dispatcher_get_stats(d, &st);
    cr_assert_eq(st.shares, n);
    cr_assert_eq(st.invalid, (uint64_t)rejected);
    cr_assert_eq(s.shares_by_job[0], n, "only rechecked shares reach the source");
    cr_assert_eq(s.bad_shares, 0);
    free(found);
    pk_dispatcher_free(d);
}

static const pk_kernel *best_kernel(void)
{
    static pk_dispatch disp;
    pk_dispatch_opts o = {.cache_dir = "", .no_calibrate = 1};
    cr_assert_eq(pk_dispatch_init(&disp, pk_kernels_all, pk_kernels_count, &o), 0);
    return disp.best;
}

Test(cpu_device, threads_leave_the_old_job_promptly, .timeout = 120)
{
    test_source s;
    ts_init(&s, 10);
    pk_dispatcher *d;
    cr_assert_eq(pk_dispatcher_new(&d, &s.base), 0);
    pk_cpu_device_opts o = {.kernel = best_kernel(), .threads = 2};
    pk_device *dev = pk_cpu_device_new(&o, 3);
    cr_assert_not_null(dev);
    cr_assert_eq(pk_cpu_device_threads(dev), 2);
    cr_assert_eq(pk_device_start(dev, d), 0);
    while (__atomic_load_n(&s.shares_by_job[0], __ATOMIC_RELAXED) < 20)
        usleep(1000);
    pthread_mutex_lock(&s.mu);
    s.job = 1;
    pthread_mutex_unlock(&s.mu);
    pk_dispatcher_new_job(d);
    double changed = pk_now();
    while (__atomic_load_n(&s.shares_by_job[1], __ATOMIC_RELAXED) < 20)
        usleep(1000);
    pk_dispatcher_stop(d);
    pk_device_stop(dev);
    /* Old-job shares may trail by a slice (a few ms); a generous bound
     * keeps this a behaviour check on a noisy machine, not a timing goal. */
    if (s.last_old_share > 0)
        cr_assert_lt(s.last_old_share - changed, 1.0, "threads kept mining the old job");
    cr_assert_eq(s.bad_shares, 0);
    pk_dispatcher_stats st;
    pk_dispatcher_get_stats(d, &st);
    cr_assert_eq(st.invalid, 0);
    char want[64];
    snprintf(want, sizeof want, "cpu:%s", o.kernel->name);
    cr_assert_str_eq(dev->name, want);
    pk_device_destroy(dev);
    pk_dispatcher_free(d);
}

/* ---- Version lanes ---- */

/* A source that rolls versions like a pool granting V versions: template
 * t has version bits t % V and body t / V. */
typedef struct vroll_source {
    test_source ts;
    unsigned variants;
    _Atomic unsigned versions_seen; /* bit v: a share with version bits v */
} vroll_source;

static int vr_next(pk_source *b, pk_template *t)
{
    vroll_source *s = (vroll_source *)b;
    uint64_t seq = s->ts.seq++;
    memset(t->header, 0, 80);
    uint32_t version = 0x20000000u | (uint32_t)(seq % s->variants) << 13;
    memcpy(t->header, &version, 4);
    uint64_t body = seq / s->variants;
    memcpy(t->header + 8, &body, 8);
    memcpy(t->target, s->ts.target, 32);
    t->job_id = s->ts.job;
    t->extra = seq;
    return PK_OK;
}

static void vr_share(pk_source *b, const pk_share *sh)
{
    vroll_source *s = (vroll_source *)b;
    ts_share(b, sh);
    uint32_t version;
    memcpy(&version, sh->header, 4);
    unsigned v = (version >> 13) & 0xffff;
    if (v < 32)
        atomic_fetch_or(&s->versions_seen, 1u << v);
    /* The tags come back from the share's own lane. */
    if (sh->extra % s->variants != v) {
        pthread_mutex_lock(&s->ts.mu);
        s->ts.bad_shares++;
        pthread_mutex_unlock(&s->ts.mu);
    }
}

static void vr_init(vroll_source *s, unsigned variants, int easy_bits)
{
    ts_init(&s->ts, easy_bits);
    s->ts.base.next_template = vr_next;
    s->ts.base.on_share = vr_share;
    s->variants = variants;
    atomic_store(&s->versions_seen, 0);
}

Test(dispatcher, version_groups_hold_templates_that_differ_only_in_version)
{
    vroll_source s;
    vr_init(&s, 16, 8);
    pk_dispatcher *d;
    cr_assert_eq(pk_dispatcher_new(&d, &s.ts.base), 0);
    cr_assert_eq(pk_dispatcher_set_version_lanes(d, PK_RANGE_LANES_MAX + 1), PK_EINVAL);
    cr_assert_eq(pk_dispatcher_set_version_lanes(d, 8), 0);
    static pk_range r;
    for (int g = 0; g < 6; g++) {
        cr_assert_eq(pk_dispatcher_take(d, 0xffffffffu, 0, &r), 0);
        cr_assert_eq(pk_dispatcher_take(d, 0xffffffffu, 0, &r), 0, "the last nonce of the group");
        cr_assert_eq(r.lanes, 8);
        for (unsigned l = 0; l < 8; l++) {
            cr_assert_eq(r.extras[l], (uint64_t)g * 8 + l, "consecutive templates, none skipped");
            cr_assert_eq(memcmp(r.headers[l] + 4, r.headers[0] + 4, 76), 0, "only the version differs");
            cr_assert_eq(memcmp(r.jobs[l].work.tail, r.headers[l] + 64, 12), 0, "each lane's own job");
        }
        cr_assert_eq(memcmp(r.header, r.headers[0], 80), 0, "lane 0 is the range's template");
    }
    pk_dispatcher_stats st;
    pk_dispatcher_get_stats(d, &st);
    cr_assert_eq(st.templates, 48);
    cr_assert_eq(st.groups, 6);
    pk_dispatcher_free(d);

    /* Four versions per body: groups of 4, the template that ends a group
     * starts the next one. */
    vr_init(&s, 4, 8);
    cr_assert_eq(pk_dispatcher_new(&d, &s.ts.base), 0);
    pk_dispatcher_set_version_lanes(d, 8);
    for (int g = 0; g < 5; g++) {
        cr_assert_eq(pk_dispatcher_take(d, 0xffffffffu, 0, &r), 0);
        cr_assert_eq(pk_dispatcher_take(d, 0xffffffffu, 0, &r), 0);
        cr_assert_eq(r.lanes, 4);
        for (unsigned l = 0; l < 4; l++)
            cr_assert_eq(r.extras[l], (uint64_t)g * 4 + l, "group %d lane %u", g, l);
    }
    /* A job change drops the held template: the next group starts on the
     * new job's first. */
    s.ts.job = 1;
    pk_dispatcher_new_job(d);
    cr_assert_eq(pk_dispatcher_take(d, 100, 0, &r), 0);
    cr_assert_eq(r.job_ids[0], 1);
    pk_dispatcher_free(d);
}

/* A lane kernel of this build: AVX2 on x86-64, NEON on aarch64. */
#if PK_X86_SIMD
#define LANE_KERNEL pk_kernel_avx2
#elif PK_ARM_SIMD
#define LANE_KERNEL pk_kernel_neon
#endif
#ifdef LANE_KERNEL
/* The lane kernel's plain scan, counted: what the device runs for groups
 * its version lanes cannot take whole when given as plain_kernel. */
static atomic_ulong plain_calls;
static size_t scan_counted(const pk_job *job, uint32_t start, uint64_t count, uint32_t *found, size_t max_found)
{
    atomic_fetch_add(&plain_calls, 1);
    return LANE_KERNEL.scan(job, start, count, found, max_found);
}
static const pk_kernel counted = {.name = "counted", .lanes = 8, .scan = scan_counted};

Test(cpu_device, version_lanes_find_every_lanes_shares, .timeout = 120)
{
    const pk_kernel *k = &LANE_KERNEL;
    if ((k->cpu_features & pk_cpu_features()) != k->cpu_features)
        cr_skip_test("no %s here", k->name);
    for (unsigned variants = 16; variants >= 4; variants /= 4) {
        vroll_source s;
        vr_init(&s, variants, 7);
        pk_dispatcher *d;
        cr_assert_eq(pk_dispatcher_new(&d, &s.ts.base), 0);
        cr_assert_eq(pk_dispatcher_set_version_lanes(d, k->vlanes), 0);
        atomic_store(&plain_calls, 0);
        pk_cpu_device_opts o = {.kernel = k, .plain_kernel = &counted, .threads = 2};
        pk_device *dev = pk_cpu_device_new(&o, 0);
        cr_assert_eq(pk_device_start(dev, d), 0);
        /* Every lane's version, or every version where lanes repeat them. */
        unsigned shown = k->vlanes < variants ? k->vlanes : variants, want = (1u << shown) - 1;
        double t0 = pk_now();
        while ((atomic_load(&s.versions_seen) & want) != want && pk_now() - t0 < 60)
            usleep(1000);
        pk_dispatcher_stop(d);
        pk_device_stop(dev);
        cr_assert_eq(atomic_load(&s.versions_seen) & want, want, "shares from every version (%u variants)",
                     variants);
        cr_assert_eq(s.ts.bad_shares, 0);
        pk_dispatcher_stats st;
        pk_dispatcher_get_stats(d, &st);
        cr_assert_eq(st.invalid, 0);
        cr_assert_gt(pk_device_hashes(dev), 0);
        /* Groups of 4 versions are fewer than the lanes: template by
         * template through the plain kernel. */
        if (variants < k->vlanes)
            cr_assert_gt(atomic_load(&plain_calls), 0, "the plain kernel scans what vscan cannot take");
        pk_device_destroy(dev);
        pk_dispatcher_free(d);
    }
}

#endif

Test(bench, a_row_mines_and_rechecks)
{
    pk_bench_row row;
    cr_assert_eq(pk_bench_row_run(&pk_kernel_ref, 1, 0.2, 0, &row), 0);
    cr_assert_str_eq(row.kernel, "ref");
    cr_assert_eq(row.threads, 1);
    cr_assert_gt(row.hashes, 0);
    cr_assert_gt(row.mhs, 0);
    cr_assert_eq(row.invalid, 0);
    cr_assert_geq(row.seconds, 0.2);
}

Test(offline, template_zero_is_the_real_block)
{
    pk_offline_source src;
    pk_offline_source_init(&src, NULL, NULL);
    pk_template t0, t1;
    cr_assert_eq(src.base.next_template(&src.base, &t0), 0);
    cr_assert_eq(src.base.next_template(&src.base, &t1), 0);
    uint8_t h[32];
    char hex[65];
    pk_sha256d(t0.header, 80, h);
    pk_hash_to_hex(h, hex);
    cr_assert_str_eq(hex, "000000000000000000001daacd23f9cb40c69ba923085618a5f9dbdd4d97e93a");
    cr_assert_neq(memcmp(t0.header, t1.header, 80), 0, "templates are unique");
    /* The first 16 roll four version bits only: a full version-lane group. */
    cr_assert_eq(memcmp(t0.header + 4, t1.header + 4, 76), 0);
    uint32_t v0, v1;
    memcpy(&v0, t0.header, 4);
    memcpy(&v1, t1.header, 4);
    cr_assert_eq(v0 ^ v1, 1u << 13);
    cr_assert_eq(t0.target[28], 0xff);
    cr_assert_eq(t0.target[29] | t0.target[30] | t0.target[31], 0);
}

/* Back-off jitter comes from the kernel's randomness: two generators never
 * start in step, and the jitter stays within 75% to 125%. */
Test(util, jitter_is_seeded_from_real_randomness)
{
    uint64_t a = pk_random_seed(), b = pk_random_seed();
    cr_assert_neq(a, b);
    int same = 0;
    for (int i = 0; i < 16; i++) {
        uint64_t ja = pk_jitter_ms(&a, 1000), jb = pk_jitter_ms(&b, 1000);
        cr_assert(ja >= 750 && ja <= 1250, "%llu", (unsigned long long)ja);
        same += ja == jb;
    }
    cr_assert_lt(same, 4, "two generators move in step");
}
