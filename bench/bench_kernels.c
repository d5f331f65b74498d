/* Kernel benchmark without the host: each kernel's raw scan speed on one
 * thread, and the general SHA-256 compression, measured side by side in
 * alternating rounds (this machine kind is noisy; ratios from one run are
 * what to compare).  Prints the median of the rounds.
 *
 * usage: bench_kernels [ROUNDS] [MS_PER_ROUND] [KERNEL...]
 *
 * KERNEL names (avx512:2l) limit the run to those kernels and ref, for
 * quick side-by-side runs of two builds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/arch.h"
#include "../kernels/sha256_internal.h"
#include "powkit/cpu.h"
#include "powkit/dispatch.h"
#include "powkit/sha256.h"
#include "powkit/util.h"

#define MAX_ROUNDS 64

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double run_kernel(const pk_kernel *k, const pk_job *job, double ms)
{
    uint32_t found[8];
    uint64_t done = 0;
    double t0 = pk_now(), t;
    do {
        uint64_t chunk = (uint64_t)k->lanes * 4096;
        k->scan(job, (uint32_t)done, chunk, found, 8);
        done += chunk;
        t = pk_now();
    } while (t - t0 < ms / 1000);
    return (double)done / (t - t0) / 1e6;
}

/* Version lanes: the same layout over vlanes versions of the header, one
 * nonce per step; counted in headers hashed. */
static double run_vscan(const pk_kernel *k, const pk_job *const *jobs, double ms)
{
    pk_vfound found[8];
    uint64_t done = 0;
    double t0 = pk_now(), t;
    do {
        uint64_t chunk = 4096 * (uint64_t)k->lanes / k->vlanes;
        k->vscan(jobs, (uint32_t)done, chunk, found, 8);
        done += chunk;
        t = pk_now();
    } while (t - t0 < ms / 1000);
    return (double)(done * k->vlanes) / (t - t0) / 1e6;
}

/* SHA-NI block compressions per second with `streams` independent
 * messages interleaved: the ceiling any SHA-NI kernel works under. */
static double run_shani_streams(size_t streams, double ms)
{
#if !PK_X86_SIMD
    (void)streams, (void)ms;
    return 0; /* not compiled in (have_sha is 0) */
#else
    static uint8_t buf[8][64];
    uint32_t states[8][8] = {{0}};
    const uint8_t *blocks[8];
    for (size_t s = 0; s < 8; s++)
        blocks[s] = buf[s];
    uint64_t done = 0;
    double t0 = pk_now(), t;
    do {
        for (int i = 0; i < 1000; i++)
            pk_sha256_compress_shani_multi(states, blocks, streams);
        done += 1000 * streams;
        t = pk_now();
    } while (t - t0 < ms / 1000);
    buf[0][0] = (uint8_t)states[0][0];
    return (double)done / (t - t0) / 1e6;
#endif
}

static double run_sha256(double ms)
{
    static uint8_t buf[1 << 16];
    uint8_t out[32];
    uint64_t bytes = 0;
    double t0 = pk_now(), t;
    do {
        pk_sha256(buf, sizeof buf, out);
        buf[0] = out[0];
        bytes += sizeof buf;
        t = pk_now();
    } while (t - t0 < ms / 1000);
    return (double)bytes / 64 / (t - t0) / 1e6; /* M compressions/s */
}

/* Whether kernel name is measured: all when no names were given. */
static int wanted(const char *name, int argc, char **argv)
{
    if (argc <= 3 || strcmp(name, "ref") == 0) /* no names: every kernel */
        return 1;
    for (int i = 3; i < argc; i++)
        if (strcmp(name, argv[i]) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    double ms = argc > 2 ? atof(argv[2]) : 300;
    if (rounds < 1 || rounds > MAX_ROUNDS || !(ms > 0)) {
        fprintf(stderr, "usage: bench_kernels [ROUNDS 1..%d] [MS_PER_ROUND] [KERNEL...]\n", MAX_ROUNDS);
        return 2;
    }
    pk_dispatch disp;
    pk_dispatch_opts o = {.cache_dir = "", .no_calibrate = 1};
    if (pk_dispatch_init(&disp, pk_kernels_all, pk_kernels_count, &o) != 0)
        return 1;

    uint8_t target[32] = {0};
    pk_work work;
    pk_job job;
    extern const uint8_t pk_offline_header[80];
    pk_work_from_header(&work, pk_offline_header, target);
    pk_job_init(&job, &work);
    pk_job vjobs[64];
    const pk_job *vjp[64];
    for (unsigned l = 0; l < 64; l++) {
        uint8_t h[80];
        memcpy(h, pk_offline_header, 80);
        pk_store_le32(h, pk_load_le32(h) ^ (l << 13));
        pk_work_from_header(&work, h, target);
        pk_job_init(&vjobs[l], &work);
        vjp[l] = &vjobs[l];
    }

    static const size_t stream_counts[] = {1, 2, 4, 5, 8};
    enum { NS = sizeof stream_counts / sizeof stream_counts[0] };
    const int all = argc <= 3; /* no KERNEL names: the SHA-256 rows too */
    int have_sha = PK_X86_SIMD && (pk_cpu_features() & PK_CPU_SHA) != 0 && all;
    double res[PK_DISPATCH_MAX][MAX_ROUNDS], vres[PK_DISPATCH_MAX][MAX_ROUNDS], sha[MAX_ROUNDS],
        ni[NS][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < disp.count; i++) {
            const pk_kernel *k = disp.entries[i].kernel;
            if (disp.entries[i].status != PK_SELFTEST_OK || !wanted(k->name, argc, argv))
                continue;
            res[i][r] = run_kernel(k, &job, ms);
            if (k->vscan && k->vlanes <= 64)
                vres[i][r] = run_vscan(k, vjp, ms);
        }
        sha[r] = all ? run_sha256(ms) : 0;
        for (int i = 0; have_sha && i < NS; i++)
            ni[i][r] = run_shani_streams(stream_counts[i], ms / 4);
    }
    double ref = median(res[0], rounds);
    printf("kernel scan, 1 thread, median of %d rounds of %.0f ms\n", rounds, ms);
    printf("%-11s %10s %8s\n", "kernel", "MH/s", "vs ref");
    for (size_t i = 0; i < disp.count; i++) {
        const pk_kernel_entry *e = &disp.entries[i];
        if (e->status != PK_SELFTEST_OK) {
            printf("%-11s %10s %8s  (%s)\n", e->kernel->name, "-", "-", pk_selftest_name(e->status));
            continue;
        }
        if (!wanted(e->kernel->name, argc, argv))
            continue;
        double m = median(res[i], rounds);
        printf("%-11s %10.2f %7.2fx\n", e->kernel->name, m, m / ref);
        if (e->kernel->vscan && e->kernel->vlanes <= 64) {
            double v = median(vres[i], rounds);
            char name[40];
            snprintf(name, sizeof name, "%s+v", e->kernel->name);
            printf("%-11s %10.2f %7.2fx  (%u version lanes; %.2fx the plain layout)\n", name, v, v / ref,
                   e->kernel->vlanes, v / m);
        }
    }
    if (all)
        printf("sha256 (%s): %.1f M compressions/s\n", pk_sha256_implementation(), median(sha, rounds));
    if (have_sha) {
        printf("SHA-NI compressions, N streams interleaved (M/s):");
        for (int i = 0; i < NS; i++)
            printf("  %zu: %.1f", stream_counts[i], median(ni[i], rounds));
        printf("\n");
    }
    return 0;
}
