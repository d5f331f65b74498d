/* The miner: a work source (pools, a node, the offline job) wired to the
 * devices through the dispatcher; sampling, the status line, signals and
 * stopping; the APIs are miner_api.c's. */
#define _GNU_SOURCE /* asprintf */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "powkit/access.h"
#include "powkit/api.h"
#include "powkit/cgminer_api.h"
#include "powkit/cpu.h"
#include "powkit/device.h"
#include "powkit/dispatch.h"
#include "powkit/error.h"
#include "powkit/log.h"
#include "powkit/miner.h"
#include "powkit/offline.h"
#include "powkit/opencl.h"
#include "powkit/util.h"
#include "miner_internal.h"


static uint64_t device_hashes(pk_miner *m)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < m->ndev; i++)
        sum += pk_device_hashes(m->devs[i]);
    return sum;
}

static double rate_over(pk_miner *m, unsigned secs)
{
    if (m->nsamples < 2)
        return 0;
    unsigned newest = (m->next_sample + SAMPLES - 1) % SAMPLES;
    unsigned back = secs < m->nsamples - 1 ? secs : m->nsamples - 1;
    unsigned old = (newest + SAMPLES - back) % SAMPLES;
    double dt = m->sample_t[newest] - m->sample_t[old];
    return dt > 0 ? (double)(m->samples[newest] - m->samples[old]) / dt / 1e6 : 0;
}

static void stop_now(pk_miner *m);

/* --retries ran out: stop, exit status 2 (nothing to mine for). */
static void pools_gave_up(void *arg, const char *why)
{
    pk_miner *m = arg;
    pk_log(PK_LOG_ERROR, "%s: stopping", why);
    m->exit_code = 2;
    stop_now(m);
}

/* Every verdict at info, as cpuminer says it: "accepted: 12/13 (92.31%),
 * 80.10 MH/s yes!" (totals over every pool). */
static void share_result(void *arg, int pool, int accepted, const char *reason)
{
    pk_miner *m = arg;
    (void)pool;
    (void)reason; /* the pool set logs the reason with the pool's name */
    uint64_t acc = 0, total = 0;
    for (size_t i = 0; m->pools && i < pk_pool_set_count(m->pools); i++) {
        pk_pool_stats st;
        pk_pool_set_stats(m->pools, i, &st);
        acc += st.accepted;
        total += st.accepted + st.rejected;
    }
    pk_log(PK_LOG_INFO, "accepted: %llu/%llu (%.2f%%), %.2f MH/s %s", (unsigned long long)acc,
           (unsigned long long)total, total ? 100.0 * (double)acc / (double)total : 0.0, rate_over(m, 5),
           accepted ? "yes!" : "booooo");
}

/* One device's rate over the last secs seconds of samples. */
double pk_mn_dev_rate(pk_miner *m, size_t dev, unsigned secs)
{
    if (m->nsamples < 2)
        return 0;
    unsigned newest = (m->next_sample + SAMPLES - 1) % SAMPLES;
    unsigned back = secs < m->nsamples - 1 ? secs : m->nsamples - 1;
    unsigned old = (newest + SAMPLES - back) % SAMPLES;
    double dt = m->sample_t[newest] - m->sample_t[old];
    return dt > 0 ? (double)(m->dev_samples[dev][newest] - m->dev_samples[dev][old]) / dt / 1e6 : 0;
}

void pk_mn_take_snapshot(pk_miner *m)
{
    pk_miner_stats s;
    memset(&s, 0, sizeof s);
    s.hashes = device_hashes(m);
    s.uptime_s = pk_now() - m->started;
    s.mhs_5s = rate_over(m, 5);
    s.mhs_60s = rate_over(m, 60);
    s.mhs_avg = s.uptime_s > 0 ? (double)s.hashes / s.uptime_s / 1e6 : 0;
    pk_dispatcher_stats ds;
    pk_dispatcher_get_stats(m->d, &ds);
    s.invalid = ds.invalid;
    s.shares_found = ds.shares;
    s.difficulty = ds.difficulty;
    s.active_pool = -1;
    if (m->pools) {
        s.active_pool = pk_pool_set_active(m->pools);
        for (size_t i = 0; i < pk_pool_set_count(m->pools); i++) {
            pk_pool_stats ps;
            pk_pool_set_stats(m->pools, i, &ps);
            s.accepted += ps.accepted;
            s.rejected += ps.rejected;
            s.stale += ps.stale;
            s.dropped += ps.dropped;
        }
    } else if (m->node) {
        pk_node_stats ns;
        pk_node_get_stats(m->node, &ns);
        s.blocks_found = ns.blocks_found;
        s.blocks_accepted = s.accepted = ns.blocks_accepted;
        s.rejected = ns.blocks_rejected;
        s.height = ns.height;
    }
    /* The offline job submits nothing: its shares are found, not accepted
     * (shares_found counts them). */
    snprintf(s.kernel, sizeof s.kernel, "%s", m->kernel->name);
    s.threads = m->dev ? pk_cpu_device_threads(m->dev) : 0;
    s.version_lanes = m->version_lanes;
    pthread_mutex_lock(&m->mu);
    m->snap = s;
    pthread_mutex_unlock(&m->mu);
}

static void sampler_cb(uv_timer_t *t)
{
    pk_miner *m = t->data;
    m->samples[m->next_sample] = device_hashes(m);
    for (size_t i = 0; i < m->ndev; i++)
        m->dev_samples[i][m->next_sample] = pk_device_hashes(m->devs[i]);
    m->sample_t[m->next_sample] = pk_now();
    m->next_sample = (m->next_sample + 1) % SAMPLES;
    if (m->ticks++ % 10 == 9) {
        m->hist_t[m->next_hist] = (double)time(NULL);
        m->hist_mhs[m->next_hist] = rate_over(m, 10);
        m->next_hist = (m->next_hist + 1) % HISTORY;
        if (m->nhist < HISTORY)
            m->nhist++;
    }
    if (m->nsamples < SAMPLES)
        m->nsamples++;
    pk_mn_take_snapshot(m);
}

static void status_cb(uv_timer_t *t)
{
    pk_miner *m = t->data;
    pk_mn_take_snapshot(m);
    pk_miner_stats s;
    pk_miner_get_stats(m, &s);
    char pool[600] = "offline job: nothing submitted";
    double diff = s.difficulty; /* the work's share target: the pool's, the network's (solo), the offline job's */
    if (m->node) {
        snprintf(pool, sizeof pool, "node %s, height %lld, blocks found %llu", m->node_url,
                 (long long)s.height, (unsigned long long)s.blocks_found);
    } else if (m->pools) {
        snprintf(pool, sizeof pool, "no pool");
        if (s.active_pool >= 0) {
            pk_pool_stats ps;
            pk_pool_set_stats(m->pools, (size_t)s.active_pool, &ps);
            snprintf(pool, sizeof pool, "pool %d %s", s.active_pool, ps.url);
        }
    }
    char devs[300] = "";
    size_t used = 0;
    for (size_t i = 0; i < m->ndev && used < sizeof devs; i++) {
        int n = snprintf(devs + used, sizeof devs - used, "%s%s %.2f", i ? ", " : "", m->devs[i]->name,
                         pk_mn_dev_rate(m, i, 5));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!m->pools && !m->node)
        pk_log(PK_LOG_INFO, "%.2f MH/s (5s) %.2f (60s) %.2f (avg) | %s | found %llu | diff %g | %s", s.mhs_5s,
               s.mhs_60s, s.mhs_avg, devs, (unsigned long long)s.shares_found, diff, pool);
    else
        pk_log(PK_LOG_INFO, "%.2f MH/s (5s) %.2f (60s) %.2f (avg) | %s | A:%llu R:%llu S:%llu | diff %g | %s",
               s.mhs_5s, s.mhs_60s, s.mhs_avg, devs, (unsigned long long)s.accepted,
               (unsigned long long)s.rejected, (unsigned long long)s.stale, diff, pool);
}

static void stop_now(pk_miner *m)
{
    if (m->stopping)
        return;
    m->stopping = 1;
    pk_mn_take_snapshot(m);
    uv_timer_stop(&m->sampler);
    uv_timer_stop(&m->status);
    uv_timer_stop(&m->deadline);
    /* The signal handles stay on (unreferenced, so the loop can end):
     * stopping them would give SIGINT its default action back, and a
     * second one (timeout -s INT sends two) would kill powkit before queued
     * shares and found blocks are handled and the summary printed.
     * pk_miner_free closes them. */
    uv_unref((uv_handle_t *)&m->sigint);
    uv_unref((uv_handle_t *)&m->sigterm);
    pk_dispatcher_stop(m->d);
    for (size_t i = 0; i < m->ndev; i++)
        pk_device_stop(m->devs[i]); /* joins: the threads finish their current slice */
    uv_close((uv_handle_t *)&m->sampler, NULL);
    uv_close((uv_handle_t *)&m->status, NULL);
    uv_close((uv_handle_t *)&m->deadline, NULL);
    uv_close((uv_handle_t *)&m->stop_async, NULL);
    if (m->api)
        pk_api_close(m->api);
    m->api = NULL;
    if (m->cg)
        pk_cgminer_api_close(m->cg);
    m->cg = NULL;
    if (m->cpm)
        pk_cgminer_api_close(m->cpm);
    m->cpm = NULL;
    if (m->pools)
        pk_pool_set_close(m->pools, NULL, NULL); /* sends shares still queued first */
    if (m->node)
        pk_node_close(m->node, NULL, NULL); /* found blocks still go to disk */
}

static void signal_cb(uv_signal_t *s, int signum)
{
    pk_miner *m = s->data;
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (m->stopping) {
        pk_log(PK_LOG_INFO, "%s again: already shutting down (shares and blocks are being saved)", name);
        return;
    }
    pk_log(PK_LOG_INFO, "%s: shutting down", name);
    stop_now(m);
}

static void deadline_cb(uv_timer_t *t) { stop_now(t->data); }

static void node_fatal(void *arg, const char *message)
{
    pk_miner *m = arg;
    pk_log(PK_LOG_ERROR, "%s", message);
    m->exit_code = 2;
    stop_now(m);
}

static void node_done(void *arg)
{
    pk_miner *m = arg;
    pk_log(PK_LOG_INFO, "%u block(s) accepted: done", m->o.node.max_blocks);
    stop_now(m);
}
static void stop_async_cb(uv_async_t *a) { stop_now(a->data); }

void pk_miner_stop(pk_miner *m) { uv_async_send(&m->stop_async); }

void pk_miner_get_stats(pk_miner *m, pk_miner_stats *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->snap;
    pthread_mutex_unlock(&m->mu);
}

int pk_miner_api_port(pk_miner *m) { return atomic_load(&m->api_port); }
int pk_miner_cgminer_api_port(pk_miner *m) { return atomic_load(&m->cg_port); }
int pk_miner_cpuminer_api_port(pk_miner *m) { return m->cpm ? pk_cgminer_api_port(m->cpm) : -1; }
int pk_miner_restart_asked(pk_miner *m) { return m->restart; }

const char *pk_mn_state_name(int st)
{
    static const char *n[] = {"disconnected", "resolving", "connecting", "tls-handshake",
                              "subscribing", "mining"};
    return st >= 0 && st <= 5 ? n[st] : "unknown";
}

int pk_miner_new(const pk_miner_opts *o, pk_miner **out, char *err, size_t errlen)
{
    *out = NULL;
    pk_miner *m = calloc(1, sizeof *m);
    if (!m)
        return PK_ENOMEM;
    m->o = *o;
    if (o->node.url)
        pk_url_redact(o->node.url, m->node_url, sizeof m->node_url);
    /* A pool that closes while we write must give EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    /* Descriptors: take what the hard limit allows (the soft limit is
     * often 1,024), so that sockets, the API and found blocks' files do
     * not run short. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (!m->o.status_interval_s)
        m->o.status_interval_s = 10;
    pthread_mutex_init(&m->mu, NULL);
    uv_loop_init(&m->loop);
    int rc = pk_dispatch_init(&m->disp, pk_kernels_all, pk_kernels_count, NULL);
    if (rc) {
        snprintf(err, errlen, "kernel dispatch: %s", pk_strerror(rc));
        goto fail;
    }
    /* Versions rolled in the lanes (the default) mine the layout whose
     * version lanes measured fastest, if faster than the plain pick. */
    m->kernel = !o->no_version_lanes && m->disp.best_vlanes ? m->disp.best_vlanes : m->disp.best;
    if (o->kernel && !(m->kernel = pk_dispatch_get(&m->disp, o->kernel, &rc))) {
        snprintf(err, errlen, "kernel '%s': %s", o->kernel, pk_strerror(rc));
        rc = PK_EINVAL;
        goto fail;
    }
    pk_source *src;
    if (o->node.url) {
        pk_node_events ev = {m, node_fatal, node_done};
        rc = pk_node_new(&m->loop, &o->node, &ev, &m->node, err, errlen);
        if (rc)
            goto fail;
        src = pk_node_source(m->node);
    } else if (o->pool.npools > 0) {
        pk_pool_set_opts po = o->pool;
        po.on_result = share_result;
        po.on_give_up = pools_gave_up;
        po.result_arg = m;
        rc = pk_pool_set_new(&m->loop, &po, &m->pools, err, errlen);
        if (rc)
            goto fail;
        src = pk_pool_set_source(m->pools);
    } else {
        pk_offline_source_init(&m->offline, NULL, NULL);
        src = &m->offline.base;
    }
    rc = pk_dispatcher_new(&m->d, src);
    if (rc) {
        snprintf(err, errlen, "dispatcher: %s", pk_strerror(rc));
        goto fail;
    }
    if (m->pools)
        pk_pool_set_attach(m->pools, m->d);
    if (m->node)
        pk_node_attach(m->node, m->d);
    /* Devices: "cpu" and "opencl:N" from --devices; by default the CPU
     * plus every OpenCL device that is not a CPU (PoCL's CPU device would
     * share the cores the native kernels already use). */
    const char *list = o->devices ? o->devices : "";
    int want_cpu = !o->devices || strstr(list, "cpu") != NULL;
    if (want_cpu) {
        /* With the version-lane pick, single templates (a pool that grants
         * no rolling) go through the plain pick. */
        pk_cpu_device_opts co = {.kernel = m->kernel,
                                 .plain_kernel = m->kernel == m->disp.best_vlanes && !o->kernel ? m->disp.best : NULL,
                                 .threads = o->threads, .affinity = o->affinity,
                                 .affinity_mask = o->affinity_mask,
                                 .idle_priority = !o->normal_priority};
        m->dev = pk_cpu_device_new(&co, 0);
        if (!m->dev) {
            snprintf(err, errlen, "CPU device: out of memory");
            rc = PK_ENOMEM;
            goto fail;
        }
        m->devs[m->ndev++] = m->dev;
    }
    {
        pk_cl_info info[8];
        char clerr[256];
        size_t ncl = pk_cl_list(info, 8, clerr, sizeof clerr);
        for (size_t i = 0; i < ncl && m->ndev < 9; i++) {
            char name[32];
            snprintf(name, sizeof name, "opencl:%u", info[i].index);
            int asked = o->devices && pk_name_in_list(list, name);
            if (!(asked || (!o->devices && !info[i].is_cpu)))
                continue;
            pk_cl_opts clo = {.index = info[i].index, .vector_width = o->cl_vector_width,
                              .global_size = o->cl_global, .target_ms = o->cl_launch_ms};
            char derr[4096];
            pk_device *d = pk_cl_device_new(&clo, (unsigned)m->ndev, derr, sizeof derr);
            if (!d) {
                pk_log(PK_LOG_ERROR, "%s (%s): %s; the other devices mine on", name, info[i].name, derr);
                continue;
            }
            pk_log(PK_LOG_INFO, "%s: %s, %u-wide vectors%s", name, info[i].name, pk_cl_device_vector_width(d),
                   pk_cl_device_from_cache(d) ? ", cached binary" : "");
            m->devs[m->ndev++] = d;
        }
        /* Every opencl:N asked for must exist: mining on without the one
         * the user named would look like it did. */
        for (const char *p = o->devices ? strstr(list, "opencl:") : NULL; p; p = strstr(p + 7, "opencl:")) {
            unsigned want = (unsigned)strtoul(p + 7, NULL, 10);
            size_t k = 0;
            while (k < ncl && info[k].index != want)
                k++;
            if (k == ncl) {
                if (ncl == 0)
                    snprintf(err, errlen, "--devices opencl:%u: no OpenCL device here (%s)", want, clerr);
                else
                    snprintf(err, errlen, "--devices opencl:%u: no such OpenCL device (opencl:0 to opencl:%u; see "
                             "powkit devices)", want, info[ncl - 1].index);
                rc = PK_EINVAL;
                goto fail;
            }
        }
    }
    if (m->ndev == 0) {
        snprintf(err, errlen, "no device to mine with (--devices %s)", list);
        rc = PK_EINVAL;
        goto fail;
    }
    /* Version lanes when the CPU mines alone with a kernel that has them:
     * an OpenCL device takes one template per range. */
    if (m->dev && m->ndev == 1 && !o->no_version_lanes && m->kernel->vscan &&
        pk_dispatcher_set_version_lanes(m->d, m->kernel->vlanes) == PK_OK)
        m->version_lanes = m->kernel->vlanes;
    pk_access acl;
    if (pk_access_parse(&acl, o->api_allow, err, errlen)) {
        rc = PK_EINVAL;
        goto fail;
    }
    if (o->api_listen) {
        rc = pk_api_start(&m->loop, o->api_listen, &acl, o->api_token, pk_mn_api_handler, m, &m->api, err, errlen);
        if (rc)
            goto fail;
        atomic_store(&m->api_port, pk_api_port(m->api));
    }
    atomic_store(&m->cg_port, -1);
    if (o->cgminer_api) {
        rc = pk_cgminer_api_start(&m->loop, o->cgminer_api, &acl, "powkit " POWKIT_VERSION, pk_mn_cg_handler, m, &m->cg,
                                  err, errlen);
        if (rc)
            goto fail;
        atomic_store(&m->cg_port, pk_cgminer_api_port(m->cg));
    }
    if (o->cpuminer_api) {
        rc = pk_cpuminer_api_start(&m->loop, o->cpuminer_api, &acl, pk_mn_cpm_handler, m, &m->cpm, err, errlen);
        if (rc)
            goto fail;
    }
    uv_timer_init(&m->loop, &m->sampler);
    uv_timer_init(&m->loop, &m->status);
    uv_timer_init(&m->loop, &m->deadline);
    uv_signal_init(&m->loop, &m->sigint);
    uv_signal_init(&m->loop, &m->sigterm);
    uv_async_init(&m->loop, &m->stop_async, stop_async_cb);
    m->sampler.data = m->status.data = m->deadline.data = m;
    m->sigint.data = m->sigterm.data = m->stop_async.data = m;
    *out = m;
    return PK_OK;
fail:
    pk_miner_free(m);
    return rc ? rc : PK_EINVAL;
}

int pk_miner_run(pk_miner *m)
{
    /* First: a Ctrl-C while devices start still ends with the summary. */
    uv_signal_start(&m->sigint, signal_cb, SIGINT);
    uv_signal_start(&m->sigterm, signal_cb, SIGTERM);
    m->started = pk_now();
    if (m->version_lanes)
        pk_log(PK_LOG_INFO, "version lanes: %u versions side by side in %s's lanes where the work rolls them%s%s",
               m->version_lanes, m->kernel->name,
               m->kernel != m->disp.best && !m->o.kernel ? ", single templates on " : "",
               m->kernel != m->disp.best && !m->o.kernel ? m->disp.best->name : "");
    /* "avx512:1 on 2 threads", or the OpenCL devices alone */
    char cpu[96] = "OpenCL only";
    if (m->dev) {
        unsigned th = pk_cpu_device_threads(m->dev);
        snprintf(cpu, sizeof cpu, "%s on %u thread%s", m->kernel->name, th, th == 1 ? "" : "s");
    }
    if (m->node) {
        pk_log(PK_LOG_INFO, "solo mining on node %s with %s", m->node_url, cpu);
        pk_node_start(m->node);
    } else if (m->pools) {
        size_t np = pk_pool_set_count(m->pools);
        pk_log(PK_LOG_INFO, "mining with %s, %zu pool%s", cpu, np, np == 1 ? "" : "s");
        pk_pool_set_start(m->pools);
    } else {
        pk_log(PK_LOG_INFO,
               "no pool given: mining the embedded offline job (block 822528's header, share "
               "target 2^-24) with %s; nothing is submitted anywhere",
               cpu);
    }
    for (size_t i = 0; i < m->ndev; i++) {
        int rc = pk_device_start(m->devs[i], m->d);
        if (rc) {
            pk_log(PK_LOG_ERROR, "%s: %s", m->devs[i]->name, pk_strerror(rc));
            return 2;
        }
    }
    uv_timer_start(&m->sampler, sampler_cb, 0, 1000);
    if (!m->o.quiet)
        uv_timer_start(&m->status, status_cb, m->o.status_interval_s * 1000ull,
                       m->o.status_interval_s * 1000ull);
    if (m->o.duration_s > 0)
        uv_timer_start(&m->deadline, deadline_cb, (uint64_t)(m->o.duration_s * 1000), 0);
    uv_run(&m->loop, UV_RUN_DEFAULT);
    m->pools = NULL; /* freed by their close */
    m->node = NULL;
    pk_miner_stats s;
    pk_miner_get_stats(m, &s);
    pk_log(PK_LOG_INFO,
           "summary: %.1f s, %.2f MH/s average, %llu hashes, found %llu, accepted %llu, rejected %llu, stale %llu, "
           "dropped %llu, invalid %llu",
           s.uptime_s, s.mhs_avg, (unsigned long long)s.hashes, (unsigned long long)s.shares_found,
           (unsigned long long)s.accepted,
           (unsigned long long)s.rejected, (unsigned long long)s.stale, (unsigned long long)s.dropped,
           (unsigned long long)s.invalid);
    if (m->exit_code)
        return m->exit_code;
    return s.invalid ? 1 : 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void pk_miner_free(pk_miner *m)
{
    if (!m)
        return;
    if (m->pools) /* never ran: close what was made */
        pk_pool_set_close(m->pools, NULL, NULL);
    if (m->node)
        pk_node_close(m->node, NULL, NULL);
    if (m->api)
        pk_api_close(m->api);
    if (m->cg)
        pk_cgminer_api_close(m->cg);
    if (m->cpm)
        pk_cgminer_api_close(m->cpm);
    uv_walk(&m->loop, close_walk, NULL);
    uv_run(&m->loop, UV_RUN_DEFAULT);
    uv_loop_close(&m->loop);
    for (size_t i = 0; i < m->ndev; i++)
        pk_device_destroy(m->devs[i]);
    pk_dispatcher_free(m->d);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
