/* Pool mining costs, measured against the scripted pool of the tests on
 * loopback:
 *  1. latency from a mining.notify with clean_jobs being written to the
 *     socket to every CPU thread hashing the new job (p50, p99, max);
 *  2. hashrate with a live pool connection (a notify a second, shares
 *     flowing) against the offline job, alternating rounds, as a ratio.
 *
 * usage: bench_stratum [NOTIFIES=300] [SECONDS=3] [ROUNDS=3]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/stratum_server.h"
#include "powkit/device.h"
#include "powkit/dispatch.h"
#include "powkit/log.h"
#include "powkit/offline.h"
#include "powkit/pool.h"
#include "powkit/util.h"

#define MAXT 64

typedef struct watch {
    pthread_mutex_t mu;
    pthread_t tid[MAXT];
    uint64_t job[MAXT];
    double first_seen[MAXT];
    int n;
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
        w->first_seen[i] = t;
    }
    pthread_mutex_unlock(&w->mu);
}

typedef struct loop_ctx {
    uv_loop_t loop;
    uv_async_t stop;
    pk_pool_set *ps;
    pthread_t th;
} loop_ctx;

static void on_stop(uv_async_t *a)
{
    loop_ctx *c = a->data;
    pk_pool_set_close(c->ps, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
    loop_ctx *c = arg;
    pk_pool_set_start(c->ps);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct rig {
    srv *server;
    loop_ctx lc;
    pk_dispatcher *d;
    pk_device *dev;
    char url[64];
} rig;

static void rig_start(rig *g, const pk_kernel *k, unsigned threads, watch *w, int nagle)
{
    srv_cfg c = {.diff_log2 = -6, .version_rolling = 1, .nagle = nagle};
    g->server = srv_start(&c);
    snprintf(g->url, sizeof g->url, "stratum+tcp://127.0.0.1:%d", srv_port(g->server));
    pk_pool_set_opts po = {.npools = 1};
    po.pools[0] = (pk_pool_cfg){g->url, "bench", "x"};
    uv_loop_init(&g->lc.loop);
    char err[200];
    if (pk_pool_set_new(&g->lc.loop, &po, &g->lc.ps, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    pk_dispatcher_new(&g->d, pk_pool_set_source(g->lc.ps));
    if (w)
        pk_dispatcher_set_observer(g->d, observe, w);
    pk_pool_set_attach(g->lc.ps, g->d);
    uv_async_init(&g->lc.loop, &g->lc.stop, on_stop);
    g->lc.stop.data = &g->lc;
    pthread_create(&g->lc.th, NULL, loop_main, &g->lc);
    pk_cpu_device_opts co = {.kernel = k, .threads = threads, .idle_priority = 1};
    g->dev = pk_cpu_device_new(&co, 0);
    pk_device_start(g->dev, g->d);
}

static void rig_stop(rig *g)
{
    pk_dispatcher_stop(g->d);
    pk_device_stop(g->dev);
    uv_async_send(&g->lc.stop);
    pthread_join(g->lc.th, NULL);
    uv_loop_close(&g->lc.loop);
    pk_device_destroy(g->dev);
    pk_dispatcher_free(g->d);
    srv_stop(g->server);
}

static int have_jobs(const srv_stats *st, void *arg) { return st->jobs_sent >= *(int *)arg; }

static double offline_rate(const pk_kernel *k, unsigned threads, double secs)
{
    pk_offline_source src;
    pk_offline_source_init(&src, NULL, NULL);
    pk_dispatcher *d;
    pk_dispatcher_new(&d, &src.base);
    pk_cpu_device_opts co = {.kernel = k, .threads = threads, .idle_priority = 1};
    pk_device *dev = pk_cpu_device_new(&co, 0);
    pk_device_start(dev, d);
    usleep(200000);
    uint64_t h0 = pk_device_hashes(dev);
    double t0 = pk_now();
    usleep((useconds_t)(secs * 1e6));
    double rate = (pk_device_hashes(dev) - h0) / (pk_now() - t0) / 1e6;
    pk_dispatcher_stop(d);
    pk_device_stop(dev);
    pk_device_destroy(dev);
    pk_dispatcher_free(d);
    return rate;
}

static double pool_rate(const pk_kernel *k, unsigned threads, double secs, int *valid)
{
    rig g;
    memset(&g, 0, sizeof g);
    rig_start(&g, k, threads, NULL, 0);
    int one = 1;
    srv_wait(g.server, have_jobs, &one, 10);
    usleep(200000);
    uint64_t h0 = pk_device_hashes(g.dev);
    double t0 = pk_now();
    for (double t = 0; t < secs; t += 1.0) {
        srv_notify(g.server, 0); /* a new job a second, like a busy pool */
        usleep(1000000);
    }
    double rate = (pk_device_hashes(g.dev) - h0) / (pk_now() - t0) / 1e6;
    srv_stats st;
    srv_stats_get(g.server, &st);
    *valid = st.valid;
    rig_stop(&g);
    return rate;
}

int main(int argc, char **argv)
{
    int notifies = argc > 1 ? atoi(argv[1]) : 300;
    double secs = argc > 2 ? atof(argv[2]) : 3;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    if (notifies < 10 || notifies > 100000 || !(secs > 0) || rounds < 1 || rounds > 20) {
        fprintf(stderr, "usage: bench_stratum [NOTIFIES>=10] [SECONDS] [ROUNDS 1..20]\n");
        return 2;
    }
    pk_log_set_level(PK_LOG_ERROR);
    pk_dispatch disp;
    pk_dispatch_opts dopt = {.cache_dir = ""};
    pk_dispatch_init(&disp, pk_kernels_all, pk_kernels_count, &dopt);
    unsigned threads = pk_online_cpus();
    printf("bench_stratum: kernel %s, %u threads, loopback pool\n", disp.best->name, threads);

    for (int nagle = 0; nagle < 2; nagle++) {
        /* 1. notify -> every thread on the new job */
        watch w;
        memset(&w, 0, sizeof w);
        pthread_mutex_init(&w.mu, NULL);
        rig g;
        memset(&g, 0, sizeof g);
        rig_start(&g, disp.best, threads, &w, nagle);
        int one = 1;
        srv_wait(g.server, have_jobs, &one, 10);
        usleep(300000);
        double *lat = calloc((size_t)notifies, sizeof *lat);
        int got = 0, missed = 0;
        for (int i = 0; i < notifies; i++) {
            srv_stats st;
            srv_stats_get(g.server, &st);
            int want = st.jobs_sent + 1;
            pthread_mutex_lock(&w.mu);
            uint64_t before[MAXT];
            int nt = w.n;
            memcpy(before, w.job, sizeof before);
            pthread_mutex_unlock(&w.mu);
            srv_notify(g.server, 1);
            srv_wait(g.server, have_jobs, &want, 5);
            double deadline = pk_now() + 1.0, done = 0, first = 0;
            while (pk_now() < deadline) {
                pthread_mutex_lock(&w.mu);
                int all = nt > 0;
                double last = 0;
                first = 1e300;
                for (int t = 0; t < nt; t++) {
                    all &= w.job[t] != before[t];
                    if (w.first_seen[t] > last)
                        last = w.first_seen[t];
                    if (w.first_seen[t] < first)
                        first = w.first_seen[t];
                }
                pthread_mutex_unlock(&w.mu);
                if (all) {
                    done = last;
                    break;
                }
                usleep(200);
            }
            srv_stats_get(g.server, &st);
            if (done > 0) {
                lat[got++] = (done - st.last_notify_at) * 1e3;
                if (getenv("BENCH_VERBOSE") && (done - st.last_notify_at) > 0.005)
                    printf("  slow: first thread %.3f ms, last %.3f ms\n", (first - st.last_notify_at) * 1e3,
                           (done - st.last_notify_at) * 1e3);
            }
            else
                missed++;
            usleep(20000);
        }
        rig_stop(&g);
        qsort(lat, (size_t)got, sizeof *lat, cmp);
        if (got > 0)
            printf("notify(clean) -> all %u threads on the new job, pool %s Nagle, %d notifies: p50 %.3f ms, p99 %.3f ms, max %.3f ms%s\n",
                   threads, nagle ? "with" : "without", got, lat[got / 2], lat[(int)(got * 0.99)], lat[got - 1],
                   missed ? " (some missed: see below)" : "");
        if (missed)
            printf("  %d notifies not picked up by every thread within 1 s\n", missed);
        free(lat);

    }
    /* 2. hashrate with a live pool against the offline job */
    double ratios[20];
    for (int r = 0; r < rounds; r++) {
        double off = offline_rate(disp.best, threads, secs);
        int valid = 0;
        double on = pool_rate(disp.best, threads, secs, &valid);
        ratios[r] = on / off;
        printf("round %d: offline %.2f MH/s, pool %.2f MH/s (%d valid shares), ratio %.4f\n", r + 1,
               off, on, valid, ratios[r]);
    }
    qsort(ratios, (size_t)rounds, sizeof ratios[0], cmp);
    printf("pool/offline hashrate, median of %d: %.4f (%.2f%% lost to networking)\n", rounds,
           ratios[rounds / 2], (1 - ratios[rounds / 2]) * 100);
    return 0;
}
