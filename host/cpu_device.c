/* The CPU device: N threads running one kernel over ranges from the
 * dispatcher.  Each thread sizes its ranges to chunk_ms of its own measured
 * speed (4 ms) and looks for a job change four times per range, so a new
 * job reaches every thread within about a millisecond once the loop thread
 * has read it; with idle priority the loop thread gets a core at once. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "powkit/device.h"
#include "powkit/error.h"

typedef struct cpu_device cpu_device;

typedef struct cpu_thread {
    cpu_device *dev;
    pthread_t tid;
    unsigned index;
    int running;
    _Atomic uint64_t hashes;
} cpu_thread;

struct cpu_device {
    pk_device base;
    pk_cpu_device_opts opts;
    unsigned nthreads;
    cpu_thread *threads;
    pk_dispatcher *disp;
    _Atomic int stop;
};

unsigned pk_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Scan [start, start+count) and hand every winner to the dispatcher; a
 * found-buffer that fills up is emptied and the scan resumes after its
 * last nonce, so no share is dropped however easy the target. */
static void scan_lane(cpu_thread *t, const pk_range *r, unsigned lane, uint32_t start, uint64_t count)
{
    enum { MAXF = 32 };
    uint32_t found[MAXF];
    const pk_job *job = r->lanes > 1 ? &r->jobs[lane] : &r->job;
    const pk_kernel *plain = t->dev->opts.plain_kernel ? t->dev->opts.plain_kernel : t->dev->opts.kernel;
    uint64_t left = count;
    uint32_t pos = start;
    while (left > 0) {
        size_t hits = plain->scan(job, pos, left, found, MAXF);
        size_t stored = hits < MAXF ? hits : MAXF;
        for (size_t i = 0; i < stored; i++)
            pk_dispatcher_found_lane(t->dev->disp, r, lane, found[i], t->dev->base.index, t->index);
        if (hits <= MAXF)
            break;
        uint64_t used = (uint64_t)(uint32_t)(found[MAXF - 1] - pos) + 1;
        pos += (uint32_t)used;
        left -= used;
    }
}

/* A full version-lane group through the kernel's vscan: every lane at
 * each nonce at once.  A full found-buffer resumes after its last hit:
 * the rest of that nonce's lanes one by one, then vscan again. */
static void scan_versions(cpu_thread *t, const pk_range *r, uint32_t start, uint32_t count)
{
    enum { MAXF = 32 };
    const pk_kernel *k = t->dev->opts.kernel;
    pk_vfound found[MAXF];
    const pk_job *jobs[PK_RANGE_LANES_MAX];
    for (unsigned l = 0; l < r->lanes; l++)
        jobs[l] = &r->jobs[l];
    uint64_t left = count;
    uint32_t pos = start;
    while (left > 0) {
        size_t hits = k->vscan(jobs, pos, left, found, MAXF);
        size_t stored = hits < MAXF ? hits : MAXF;
        for (size_t i = 0; i < stored; i++)
            pk_dispatcher_found_lane(t->dev->disp, r, found[i].lane, found[i].nonce, t->dev->base.index,
                                     t->index);
        if (hits <= MAXF)
            break;
        const pk_vfound last = found[MAXF - 1];
        for (unsigned l = last.lane + 1; l < r->lanes; l++)
            scan_lane(t, r, l, last.nonce, 1);
        uint64_t used = (uint64_t)(uint32_t)(last.nonce - pos) + 1;
        pos += (uint32_t)used;
        left -= used;
    }
}

/* Scan [start, start+count) of every lane of r and hand every winner to
 * the dispatcher; a found-buffer that fills up is emptied and the scan
 * resumes after its last nonce, so no share is dropped however easy the
 * target. */
static void scan_all(cpu_thread *t, const pk_range *r, uint32_t start, uint32_t count)
{
    const pk_kernel *k = t->dev->opts.kernel;
    if (r->lanes > 1 && k->vscan && r->lanes == k->vlanes) {
        scan_versions(t, r, start, count);
        return;
    }
    /* One template, or a group the kernel cannot take whole (fewer
     * versions than its lanes): template by template. */
    unsigned lanes = r->lanes > 1 ? r->lanes : 1;
    for (unsigned l = 0; l < lanes; l++)
        scan_lane(t, r, l, start, count);
}

static void *cpu_worker(void *arg)
{
    cpu_thread *t = arg;
    cpu_device *dev = t->dev;
    const pk_kernel *k = dev->opts.kernel;
    const uint32_t min_want = k->lanes * 256;
    uint32_t want = k->lanes * 4096;
    pk_range r;
    if (dev->opts.idle_priority) {
        /* What pooler's cpuminer does too: hashing yields to everything. A
         * refusal (a restricted container) leaves normal priority. */
        struct sched_param sp = {0};
        pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    }

    while (!atomic_load(&dev->stop)) {
        int rc = pk_dispatcher_take(dev->disp, want, 100, &r);
        if (rc == PK_ESTOPPED)
            break;
        if (rc != PK_OK)
            continue;
        double t0 = now_s();
        uint32_t slice = r.count / 4 > min_want / 4 ? r.count / 4 : r.count;
        uint32_t done = 0;
        while (done < r.count) {
            uint32_t n = r.count - done < slice ? r.count - done : slice;
            scan_all(t, &r, r.start + done, n);
            done += n;
            atomic_fetch_add_explicit(&t->hashes, (uint64_t)n * (r.lanes > 1 ? r.lanes : 1),
                                      memory_order_relaxed);
            if (pk_dispatcher_is_stale(dev->disp, &r) || atomic_load(&dev->stop))
                break;
        }
        double dt = now_s() - t0;
        if (dt > 0 && done > 0) {
            double rate = done / dt;
            double next = rate * dev->opts.chunk_ms / 1000.0;
            if (next < min_want)
                next = min_want;
            if (next > (double)(1u << 28))
                next = (double)(1u << 28);
            /* Move halfway to the new size: one slow range (a preempted
             * thread) must not shrink the next ones to nothing. */
            want = (uint32_t)((want + next) / 2) & ~(k->lanes * 16 - 1);
            if (want < min_want)
                want = min_want;
        }
    }
    return NULL;
}

static int cpu_start(pk_device *base, pk_dispatcher *d)
{
    cpu_device *dev = (cpu_device *)base;
    dev->disp = d;
    atomic_store(&dev->stop, 0);
    unsigned ncpu = pk_online_cpus();
    for (unsigned i = 0; i < dev->nthreads; i++) {
        cpu_thread *t = &dev->threads[i];
        t->dev = dev;
        t->index = i;
        if (pthread_create(&t->tid, NULL, cpu_worker, t) != 0) {
            base->ops->stop(base);
            return PK_ETHREAD;
        }
        t->running = 1;
        if (dev->opts.affinity || dev->opts.affinity_mask) {
            cpu_set_t set;
            CPU_ZERO(&set);
            unsigned cpu = i % ncpu;
            uint64_t mask = dev->opts.affinity_mask;
            if (mask) {
                unsigned nset = (unsigned)__builtin_popcountll(mask), k = i % nset;
                while (k--)
                    mask &= mask - 1; /* drop the lowest set bit */
                cpu = (unsigned)__builtin_ctzll(mask);
            }
            CPU_SET(cpu, &set);
            /* Pinning is a hint: a failure (a restricted cpuset) leaves the
             * thread where the scheduler put it. */
            pthread_setaffinity_np(t->tid, sizeof set, &set);
        }
    }
    return PK_OK;
}

static void cpu_stop(pk_device *base)
{
    cpu_device *dev = (cpu_device *)base;
    atomic_store(&dev->stop, 1);
    for (unsigned i = 0; i < dev->nthreads; i++) {
        if (dev->threads[i].running) {
            pthread_join(dev->threads[i].tid, NULL);
            dev->threads[i].running = 0;
        }
    }
}

static void cpu_destroy(pk_device *base)
{
    cpu_device *dev = (cpu_device *)base;
    cpu_stop(base);
    free(dev->threads);
    free(dev);
}

static uint64_t cpu_hashes(const pk_device *base)
{
    const cpu_device *dev = (const cpu_device *)base;
    uint64_t sum = 0;
    for (unsigned i = 0; i < dev->nthreads; i++)
        sum += atomic_load_explicit(&dev->threads[i].hashes, memory_order_relaxed);
    return sum;
}

static const pk_device_ops cpu_ops = {cpu_start, cpu_stop, cpu_destroy, cpu_hashes};

pk_device *pk_cpu_device_new(const pk_cpu_device_opts *opts, unsigned index)
{
    if (!opts || !opts->kernel)
        return NULL;
    cpu_device *dev = calloc(1, sizeof *dev);
    if (!dev)
        return NULL;
    dev->opts = *opts;
    if (dev->opts.chunk_ms == 0)
        dev->opts.chunk_ms = 4;
    dev->nthreads = opts->threads ? opts->threads : pk_online_cpus();
    dev->threads = calloc(dev->nthreads, sizeof *dev->threads);
    if (!dev->threads) {
        free(dev);
        return NULL;
    }
    dev->base.ops = &cpu_ops;
    dev->base.index = index;
    snprintf(dev->base.name, sizeof dev->base.name, "cpu:%s", opts->kernel->name);
    return &dev->base;
}

unsigned pk_cpu_device_threads(const pk_device *base)
{
    return ((const cpu_device *)base)->nthreads;
}
