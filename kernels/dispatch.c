/* Run-time kernel choice: CPU check, POWKIT_DISABLE, self-test against ref,
 * and a short calibration whose winner is cached per machine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "powkit/cpu.h"
#include "powkit/dispatch.h"
#include "powkit/error.h"
#include "sha256_internal.h"

#ifndef POWKIT_VERSION
#define POWKIT_VERSION "dev"
#endif

const char *pk_selftest_name(pk_selftest_result r)
{
    switch (r) {
    case PK_SELFTEST_OK: return "ok";
    case PK_SELFTEST_UNSUPPORTED: return "unsupported";
    case PK_SELFTEST_DISABLED: return "disabled";
    case PK_SELFTEST_FAILED: return "failed";
    }
    return "unknown";
}

/* "avx512:2r" is layout 2r of family avx512; "shani" is its own family. */
static size_t family_len(const char *name)
{
    const char *colon = strchr(name, ':');
    return colon ? (size_t)(colon - name) : strlen(name);
}

int pk_kernel_in_family(const pk_kernel *k, const char *family)
{
    size_t n = family_len(k->name);
    return family && strlen(family) == n && strncmp(k->name, family, n) == 0;
}

static int same_family(const pk_kernel *a, const pk_kernel *b)
{
    size_t n = family_len(a->name);
    return n == family_len(b->name) && strncmp(a->name, b->name, n) == 0;
}

static int disabled_by(const char *list, const char *name)
{
    char family[64];
    size_t n = family_len(name);
    if (n >= sizeof family)
        n = sizeof family - 1;
    memcpy(family, name, n);
    family[n] = 0;
    return pk_name_in_list(list, name) || pk_name_in_list(list, family);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void digest_of(const pk_job *job, uint32_t nonce, uint8_t out[32])
{
    uint32_t h[8];
    pk_job_hash_nonce(job, nonce, h);
    for (int i = 0; i < 8; i++)
        pk_store_be32(out + 4 * i, h[i]);
}

/* Little-endian 256-bit value minus one (no-op on zero). */
static void target_minus_one(uint8_t t[32])
{
    for (int i = 0; i < 32; i++) {
        if (t[i]--)
            return;
    }
    memset(t, 0, 32);
}

static int same_answer(const pk_kernel *k, const pk_job *job, uint32_t start, uint64_t count)
{
    enum { MAXF = 64 };
    uint32_t want[MAXF], got[MAXF];
    /* A short found-buffer on purpose: kernels must stop at it as ref does
     * (max_found + 1) and agree on what they stored. */
    size_t max_found = (start & 1) ? 3 : MAXF;
    size_t n_ref = pk_kernel_ref.scan(job, start, count, want, max_found);
    size_t n = k->scan(job, start, count, got, max_found);
    if (n != n_ref)
        return 0;
    size_t stored = n < max_found ? n : max_found;
    return memcmp(want, got, stored * sizeof want[0]) == 0;
}

/* Version lanes against ref, lane by lane: jobs that differ only in the
 * version, the target at one lane's hash, a range that wraps. */
static int vlanes_agree(const pk_kernel *k, uint64_t *seed)
{
    enum { MAXL = 64, MAXF = 256 };
    if (!k->vscan)
        return 1;
    if (k->vlanes == 0 || k->vlanes > MAXL)
        return 0;
    uint8_t header[80], target[32];
    for (int i = 0; i < 80; i++)
        header[i] = (uint8_t)xorshift(seed);
    pk_job jobs[MAXL];
    const pk_job *jp[MAXL];
    pk_work work;
    uint32_t start = 0xffffffffu - 7, count = 29, base = pk_load_le32(header);
    for (unsigned l = 0; l < k->vlanes; l++) {
        pk_store_le32(header, base ^ (l << 13)); /* BIP320's bits */
        memset(target, 0, 32);
        pk_work_from_header(&work, header, target);
        pk_job_init(&jobs[l], &work);
        jp[l] = &jobs[l];
    }
    /* Every lane's target: lane 1's hash at nonce start + 5, so that lane
     * wins there and others win where their hash is lower. */
    digest_of(&jobs[1 % k->vlanes], start + 5, target);
    for (unsigned l = 0; l < k->vlanes; l++) {
        memcpy(jobs[l].work.target, target, 32);
        work = jobs[l].work;
        pk_job_init(&jobs[l], &work);
    }
    pk_vfound got[MAXF];
    size_t n = k->vscan(jp, start, count, got, MAXF);
    size_t want = 0;
    for (uint32_t i = 0; i < count && want <= MAXF; i++) {
        for (unsigned l = 0; l < k->vlanes && want <= MAXF; l++) {
            uint32_t f;
            if (pk_kernel_ref.scan(&jobs[l], start + i, 1, &f, 1) == 0)
                continue;
            if (want >= n || (want < MAXF && (got[want].nonce != f || got[want].lane != l)))
                return 0;
            want++; /* the hit after a full buffer is where the kernel stops */
        }
    }
    return want == n && n > 0;
}

int pk_kernel_selftest(const pk_kernel *k)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 6; round++) {
        uint8_t header[80], target[32];
        for (int i = 0; i < 80; i++)
            header[i] = (uint8_t)xorshift(&seed);
        /* Ranges that end on a partial step, one that wraps past 2^32-1. */
        uint32_t start = round == 5 ? 0xffffffffu - 20 : (uint32_t)xorshift(&seed);
        uint64_t count = 3 * 32 + 1 + (uint64_t)(round * 7);
        uint32_t pick = start + (uint32_t)(count / 2);
        pk_work work;
        pk_job job;
        memset(target, 0, sizeof target);
        pk_work_from_header(&work, header, target);
        pk_job_init(&job, &work);

        /* Target exactly at one nonce's hash, and one below it. */
        digest_of(&job, pick, target);
        memcpy(work.target, target, 32);
        pk_job_init(&job, &work);
        if (!same_answer(k, &job, start, count))
            return 0;
        target_minus_one(work.target);
        pk_job_init(&job, &work);
        if (!same_answer(k, &job, start, count))
            return 0;
        /* Same top 32 bits, zeros below: passes the early reject, fails
         * the full compare. */
        memset(work.target, 0, 28);
        pk_job_init(&job, &work);
        if (!same_answer(k, &job, start, count))
            return 0;
    }
    return vlanes_agree(k, &seed);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* k's one-thread speed for ms: its plain scan, or (vlanes) its version
 * lanes, counted in headers hashed. */
static double calibrate(const pk_kernel *k, unsigned ms, int vlanes)
{
    enum { VMAX = 64 };
    if (vlanes && (!k->vscan || k->vlanes == 0 || k->vlanes > VMAX))
        return 0;
    uint8_t header[80], target[32] = {0};
    for (int i = 0; i < 80; i++)
        header[i] = (uint8_t)(i * 13 + 1);
    static _Thread_local pk_job jobs[VMAX];
    const pk_job *jp[VMAX];
    unsigned nj = vlanes ? k->vlanes : 1;
    for (unsigned l = 0; l < nj; l++) {
        pk_work work;
        pk_store_le32(header, 0x20000000u | (l << 13)); /* BIP320 bits */
        pk_work_from_header(&work, header, target);
        pk_job_init(&jobs[l], &work);
        jp[l] = &jobs[l];
    }
    uint32_t found[4];
    pk_vfound vfound[4];
    uint64_t done = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < ms / 1000.0) {
        uint64_t chunk = (uint64_t)k->lanes * 2048;
        if (vlanes) {
            chunk /= nj;
            k->vscan(jp, (uint32_t)done, chunk, vfound, 4);
        } else {
            k->scan(&jobs[0], (uint32_t)done, chunk, found, 4);
        }
        done += chunk;
        t = now_s();
    }
    return (double)done * nj / (t - t0) / 1e6;
}

/* The version-lane pick: the fastest version lanes, if they beat the
 * plain pick. */
static const pk_kernel *pick_vlanes(const pk_dispatch *d)
{
    const pk_kernel_entry *v = NULL, *b = NULL;
    for (size_t i = 0; i < d->count; i++) {
        const pk_kernel_entry *e = &d->entries[i];
        if (e->kernel == d->best)
            b = e;
        if (e->status == PK_SELFTEST_OK && e->calib_vmhs > 0 && (!v || e->calib_vmhs > v->calib_vmhs))
            v = e;
    }
    return v && b && v->calib_vmhs > b->calib_mhs ? v->kernel : NULL;
}

static int mkdir_p(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static void cache_path(pk_dispatch *d, const char *dir_opt)
{
    char dir[400] = "";
    const char *env;
    if (dir_opt)
        snprintf(dir, sizeof dir, "%s", dir_opt);
    else if ((env = getenv("POWKIT_CACHE_DIR")) && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) && *env)
        snprintf(dir, sizeof dir, "%s/powkit", env);
    else if ((env = getenv("HOME")) && *env)
        snprintf(dir, sizeof dir, "%s/.cache/powkit", env);
    d->cache_file[0] = 0;
    if (dir[0])
        snprintf(d->cache_file, sizeof d->cache_file, "%s/kernel-choice", dir);
}

/* What the cached pick depends on: powkit, what its calibration measures
 * ("v": version lanes too; a cache without their figures is measured
 * again), the CPU, the usable kernels. */
static void cache_key(const pk_dispatch *d, char *key, size_t len)
{
    int n = snprintf(key, len, "%s|v|%s|%x|", POWKIT_VERSION, pk_cpu_brand(), d->cpu);
    for (size_t i = 0; i < d->count && n > 0 && (size_t)n < len; i++) {
        if (d->entries[i].status == PK_SELFTEST_OK)
            n += snprintf(key + n, len - (size_t)n, "%s,", d->entries[i].kernel->name);
    }
}

static const pk_kernel *cache_read(pk_dispatch *d, const char *key)
{
    FILE *f = d->cache_file[0] ? fopen(d->cache_file, "r") : NULL;
    if (!f)
        return NULL;
    char line[600], got_key[600] = "", best[64] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "key ", 4) == 0)
            snprintf(got_key, sizeof got_key, "%s", line + 4);
        else if (strncmp(line, "best ", 5) == 0 && strlen(line + 5) < sizeof best)
            memcpy(best, line + 5, strlen(line + 5) + 1);
        else if ((strncmp(line, "mhs ", 4) == 0 || strncmp(line, "vmhs ", 5) == 0) && strcmp(got_key, key) == 0) {
            /* The figures pick each family's layout on later starts. */
            int v = line[0] == 'v';
            char name[64];
            double mhs;
            if (sscanf(line + 4 + v, "%63s %lf", name, &mhs) == 2 && mhs > 0) {
                for (size_t i = 0; i < d->count; i++) {
                    if (strcmp(d->entries[i].kernel->name, name) == 0)
                        *(v ? &d->entries[i].calib_vmhs : &d->entries[i].calib_mhs) = mhs;
                }
            }
        }
    }
    fclose(f);
    if (strcmp(got_key, key) != 0)
        return NULL;
    const pk_kernel *k = pk_dispatch_get(d, best, NULL);
    if (k) {
        d->best = k;
        d->best_vlanes = pick_vlanes(d);
    }
    return k;
}

static void cache_write(const pk_dispatch *d, const char *key)
{
    if (!d->cache_file[0])
        return;
    char dir[512], tmp[540];
    snprintf(dir, sizeof dir, "%s", d->cache_file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    if (mkdir_p(dir) != 0)
        return; /* no cache is not an error: the next start calibrates again */
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", d->cache_file, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "powkit kernel choice\nkey %s\nbest %s\n", key, d->best->name);
    for (size_t i = 0; i < d->count; i++) {
        if (d->entries[i].calib_mhs > 0)
            fprintf(f, "mhs %s %.4f\n", d->entries[i].kernel->name, d->entries[i].calib_mhs);
        if (d->entries[i].calib_vmhs > 0)
            fprintf(f, "vmhs %s %.4f\n", d->entries[i].kernel->name, d->entries[i].calib_vmhs);
    }
    if (fclose(f) == 0)
        rename(tmp, d->cache_file); /* atomic: readers see old or new */
    else
        remove(tmp);
}

int pk_dispatch_init(pk_dispatch *d, const pk_kernel *const *kernels, size_t n,
                     const pk_dispatch_opts *opts)
{
    static const pk_dispatch_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    memset(d, 0, sizeof *d);
    if (!kernels || n == 0 || n > PK_DISPATCH_MAX || kernels[0] != &pk_kernel_ref)
        return PK_EINVAL;
    d->cpu = pk_cpu_features();
    d->count = n;
    const char *disable = opts->disable ? opts->disable : getenv("POWKIT_DISABLE");
    for (size_t i = 0; i < n; i++) {
        pk_kernel_entry *e = &d->entries[i];
        e->kernel = kernels[i];
        if ((kernels[i]->cpu_features & d->cpu) != kernels[i]->cpu_features)
            e->status = PK_SELFTEST_UNSUPPORTED;
        else if (i > 0 && disabled_by(disable, kernels[i]->name))
            e->status = PK_SELFTEST_DISABLED; /* ref, the oracle, stays */
        else
            e->status = pk_kernel_selftest(kernels[i]) ? PK_SELFTEST_OK : PK_SELFTEST_FAILED;
    }
    if (d->entries[0].status != PK_SELFTEST_OK)
        return PK_ESELFTEST;

    char key[600];
    cache_path(d, opts->cache_dir);
    cache_key(d, key, sizeof key);
    if (!opts->recalibrate && (d->best = cache_read(d, key)) != NULL) {
        d->best_from_cache = 1;
        return PK_OK;
    }
    for (size_t i = 0; i < n; i++)
        d->entries[i].calib_mhs = d->entries[i].calib_vmhs = 0; /* from a cache that did not match */
    d->best = &pk_kernel_ref;
    if (opts->no_calibrate) {
        for (size_t i = 0; i < n; i++) {
            /* The widest, later families first, a family's default layout. */
            const pk_kernel *k = kernels[i], *b = d->best;
            if (d->entries[i].status == PK_SELFTEST_OK &&
                (k->lanes > b->lanes || (k->lanes == b->lanes && !same_family(k, b))))
                d->best = k;
        }
        return PK_OK;
    }
    double best_mhs = 0;
    unsigned ms = opts->calibrate_ms ? opts->calibrate_ms : 30;
    /* Two passes, each kernel's best: a burst of other load during one
     * kernel's turn must not decide the pick (layouts of one family are
     * often within 10% of each other). */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            pk_kernel_entry *e = &d->entries[i];
            if (e->status != PK_SELFTEST_OK)
                continue;
            double mhs = calibrate(e->kernel, ms, 0);
            if (mhs > e->calib_mhs)
                e->calib_mhs = mhs;
            double vmhs = calibrate(e->kernel, ms, 1);
            if (vmhs > e->calib_vmhs)
                e->calib_vmhs = vmhs;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (d->entries[i].status == PK_SELFTEST_OK && d->entries[i].calib_mhs > best_mhs) {
            best_mhs = d->entries[i].calib_mhs;
            d->best = d->entries[i].kernel;
        }
    }
    d->best_vlanes = pick_vlanes(d);
    cache_write(d, key);
    return PK_OK;
}

const pk_kernel_entry *pk_dispatch_entry(const pk_dispatch *d, const char *name)
{
    for (size_t i = 0; name && i < d->count; i++) {
        if (strcmp(d->entries[i].kernel->name, name) == 0)
            return &d->entries[i];
    }
    /* A family's name: its fastest measured usable layout, else its first
     * usable one (the default), else its first (to report why not). */
    const pk_kernel_entry *first = NULL, *first_ok = NULL, *fastest = NULL;
    for (size_t i = 0; name && !strchr(name, ':') && i < d->count; i++) {
        const pk_kernel_entry *e = &d->entries[i];
        if (!pk_kernel_in_family(e->kernel, name))
            continue;
        if (!first)
            first = e;
        if (e->status != PK_SELFTEST_OK)
            continue;
        if (!first_ok)
            first_ok = e;
        if (e->calib_mhs > 0 && (!fastest || e->calib_mhs > fastest->calib_mhs))
            fastest = e;
    }
    return fastest ? fastest : first_ok ? first_ok : first;
}

const pk_kernel *pk_dispatch_get(const pk_dispatch *d, const char *name, int *err)
{
    const pk_kernel_entry *e = pk_dispatch_entry(d, name);
    int rc = PK_ENOTFOUND;
    if (e) {
        switch (e->status) {
        case PK_SELFTEST_OK: rc = PK_OK; break;
        case PK_SELFTEST_UNSUPPORTED: rc = PK_EUNSUPPORTED; break;
        case PK_SELFTEST_DISABLED: rc = PK_EDISABLED; break;
        case PK_SELFTEST_FAILED: rc = PK_ESELFTEST; break;
        }
    }
    if (err)
        *err = rc;
    return rc == PK_OK ? e->kernel : NULL;
}
