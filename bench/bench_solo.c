/* Solo mining latencies against a real bcoin regtest node (tests/node,
 * npm install there first):
 *  - a new template (the long poll's answer) to every CPU thread hashing it;
 *  - a found nonce to submitblock handed to libcurl (the block is written
 *    to disk first, so that is included).
 * Regtest's target is trivial, so the two are measured apart:
 *  1. powkit mines; every template is solved at once, submitted, accepted,
 *     and the long poll brings the next: each block is a found->submit
 *     sample;
 *  2. the devices hash but never report (a wrapper kernel discards what it
 *     finds), and blocks come from someone else (generatetoaddress): each
 *     is a long-poll answer -> all threads hashing sample.
 *
 * usage: bench_solo [BLOCKS=100]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/bcoin_node.h"
#include "powkit/device.h"
#include "powkit/dispatch.h"
#include "powkit/log.h"
#include "powkit/node.h"
#include "powkit/util.h"

#define MAXT 64
#define MAXS 100000

typedef struct watch {
    pthread_mutex_t mu;
    pk_node *node;
    pthread_t tid[MAXT];
    uint64_t job[MAXT];
    int n, threads;
    uint64_t seen_seq[MAXS];
    int seen_count[MAXS];
    double lat[MAXS];
    int nlat;
} watch;

static void observe(void *ud, const pk_range *r)
{
    watch *w = ud;
    double t = pk_now();
    pthread_t self = pthread_self();
    pthread_mutex_lock(&w->mu);
    int i;
    for (i = 0; i < w->n && !pthread_equal(w->tid[i], self); i++) {
    }
    if (i == w->n && w->n < MAXT)
        w->tid[w->n++] = self;
    if (i < MAXT && w->job[i] != r->job_id) {
        w->job[i] = r->job_id;
        size_t k = r->job_id % MAXS;
        if (w->seen_seq[k] != r->job_id) {
            w->seen_seq[k] = r->job_id;
            w->seen_count[k] = 0;
        }
        if (++w->seen_count[k] == w->threads && w->nlat < MAXS) {
            double arrived = pk_node_template_time(w->node, r->job_id);
            if (arrived > 0)
                w->lat[w->nlat++] = (t - arrived) * 1e3;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

/* Hashes with the real kernel, reports nothing: templates stay unsolved. */
static const pk_kernel *g_inner;
static size_t scan_silent(const pk_job *job, uint32_t start, uint64_t count, uint32_t *found, size_t max_found)
{
    (void)found, (void)max_found;
    /* The whole range, as mining it would: past every hit. */
    while (count > 0) {
        uint32_t f;
        if (g_inner->scan(job, start, count, &f, 1) <= 1)
            break;
        uint64_t used = (uint64_t)(uint32_t)(f - start) + 1;
        start += (uint32_t)used;
        count -= used;
    }
    return 0;
}

typedef struct loopctx {
    uv_loop_t loop;
    pk_node *node;
    uv_async_t stop;
} loopctx;

static void on_stop(uv_async_t *a)
{
    loopctx *c = a->data;
    pk_node_close(c->node, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
    loopctx *c = arg;
    pk_node_start(c->node);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    unsigned blocks = argc > 1 ? (unsigned)atoi(argv[1]) : 100;
    if (blocks < 5 || blocks > 10000) {
        fprintf(stderr, "usage: bench_solo [BLOCKS 5..10000]\n");
        return 2;
    }
    pk_log_set_level(PK_LOG_ERROR);
    node_proc np;
    node_start(&np);
    pk_dispatch disp;
    pk_dispatch_opts dopt = {.cache_dir = ""};
    pk_dispatch_init(&disp, pk_kernels_all, pk_kernels_count, &dopt);
    char dir[] = "/tmp/powkit-bench-solo-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    loopctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    pk_node_opts o = {.url = np.url, .user = "x", .pass = "powkit-test",
                      .payout_script_hex = "0014751e76e8199196d454941c45d1b3a323f1433bd6", .blocks_dir = dir,
                      .refresh_s = 3600};
    char err[300];
    if (pk_node_new(&c.loop, &o, NULL, &c.node, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static watch w;
    pthread_mutex_init(&w.mu, NULL);
    w.node = c.node;
    w.threads = (int)pk_online_cpus();
    pk_dispatcher *d;
    pk_dispatcher_new(&d, pk_node_source(c.node));
    pk_dispatcher_set_observer(d, observe, &w);
    pk_node_attach(c.node, d);
    uv_async_init(&c.loop, &c.stop, on_stop);
    c.stop.data = &c;
    pthread_t th;
    pthread_create(&th, NULL, loop_main, &c);
    pk_cpu_device_opts co = {.kernel = disp.best, .threads = (unsigned)w.threads, .idle_priority = 1};
    pk_device *dev = pk_cpu_device_new(&co, 0);
    pk_device_start(dev, d);
    int64_t h0 = height_of(&np);
    pk_node_stats st;
    double t0 = pk_now();
    do {
        usleep(20000);
        pk_node_get_stats(c.node, &st);
    } while (st.blocks_accepted < blocks && pk_now() - t0 < 300);
    pk_device_stop(dev);
    pk_device_destroy(dev);

    /* Phase 2: silent devices, blocks from outside. */
    g_inner = disp.best;
    static pk_kernel silent;
    silent = *disp.best;
    silent.name = "silent";
    silent.scan = scan_silent;
    co.kernel = &silent;
    dev = pk_cpu_device_new(&co, 0);
    pthread_mutex_lock(&w.mu);
    w.nlat = 0;
    pthread_mutex_unlock(&w.mu);
    pk_device_start(dev, d);
    usleep(300000);
    for (unsigned i = 0; i < blocks / 2; i++) {
        json_decref(call(&np, "generatetoaddress", json_pack("[i,s]", 1, np.addr)));
        usleep(50000);
    }
    pk_dispatcher_stop(d);
    pk_device_stop(dev);
    uv_async_send(&c.stop);
    pthread_join(th, NULL);
    int64_t h1 = height_of(&np);
    pthread_mutex_lock(&w.mu);
    qsort(w.lat, (size_t)w.nlat, sizeof w.lat[0], cmp);
    printf("bench_solo: kernel %s, %d threads, bcoin regtest on loopback, %llu blocks accepted (height %lld -> %lld)\n",
           disp.best->name, w.threads, (unsigned long long)st.blocks_accepted, (long long)h0, (long long)h1);
    if (w.nlat)
        printf("long-poll answer (someone else's block) -> all threads hashing the new template, %d templates: "
               "p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
               w.nlat, w.lat[w.nlat / 2], w.lat[(int)(w.nlat * 0.99)], w.lat[w.nlat - 1]);
    if (st.blocks_found)
        printf("found nonce -> submitblock sent (block written to disk first), %llu blocks: mean %.3f ms, max %.3f ms\n",
               (unsigned long long)st.blocks_found, st.found_to_submit_sum_ms / (double)st.blocks_found,
               st.found_to_submit_max_ms);
    pthread_mutex_unlock(&w.mu);
    pk_device_destroy(dev);
    pk_dispatcher_free(d);
    uv_loop_close(&c.loop);
    node_stop(&np);
    return 0;
}
