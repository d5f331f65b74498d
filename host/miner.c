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

#define SAMPLES 61
#define HISTORY 360 /* 10-s points: an hour */

struct pk_miner {
    pk_miner_opts o;
    uv_loop_t loop;
    pk_dispatch disp;
    const pk_kernel *kernel;
    unsigned version_lanes; /* 0: off */
    pk_dispatcher *d;
    pk_device *dev;        /* the CPU device, NULL when not asked for */
    pk_device *devs[9];    /* every device: CPU first, then OpenCL */
    size_t ndev;
    pk_pool_set *pools;
    pk_node *node;
    int exit_code;
    pk_offline_source offline;
    pk_api *api;
    _Atomic int api_port;
    pk_cgminer_api *cg, *cpm;
    _Atomic int cg_port;
    int restart; /* the cgminer API asked for a restart */
    uv_timer_t sampler, status, deadline;
    uv_signal_t sigint, sigterm;
    uv_async_t stop_async;
    double started;
    uint64_t samples[SAMPLES];
    uint64_t dev_samples[9][SAMPLES]; /* per device, same clock */
    double sample_t[SAMPLES];
    /* The last hour for the status page's chart: the 10-s rate every 10 s. */
    double hist_t[HISTORY], hist_mhs[HISTORY];
    unsigned nhist, next_hist;
    unsigned nsamples, next_sample, ticks;
    pthread_mutex_t mu;
    pk_miner_stats snap;
    int stopping;
    char node_url[512]; /* --node with its credentials redacted */
};

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
static double dev_rate(pk_miner *m, size_t dev, unsigned secs)
{
    if (m->nsamples < 2)
        return 0;
    unsigned newest = (m->next_sample + SAMPLES - 1) % SAMPLES;
    unsigned back = secs < m->nsamples - 1 ? secs : m->nsamples - 1;
    unsigned old = (newest + SAMPLES - back) % SAMPLES;
    double dt = m->sample_t[newest] - m->sample_t[old];
    return dt > 0 ? (double)(m->dev_samples[dev][newest] - m->dev_samples[dev][old]) / dt / 1e6 : 0;
}

static void take_snapshot(pk_miner *m)
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
    take_snapshot(m);
}

static void status_cb(uv_timer_t *t)
{
    pk_miner *m = t->data;
    take_snapshot(m);
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
                         dev_rate(m, i, 5));
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
    take_snapshot(m);
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

static const char *state_name(int st)
{
    static const char *n[] = {"disconnected", "resolving", "connecting", "tls-handshake",
                              "subscribing", "mining"};
    return st >= 0 && st <= 5 ? n[st] : "unknown";
}

/* ---- cgminer's API: its sections from the miner's state (loop thread) ---- */

static double pct(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0; }

static void cg_summary(pk_miner *m, const pk_miner_stats *s, pk_cg_reply *r)
{
    pk_dispatcher_stats ds;
    pk_dispatcher_get_stats(m->d, &ds);
    double dacc = 0, drej = 0;
    for (size_t i = 0; m->pools && i < pk_pool_set_count(m->pools); i++) {
        pk_pool_stats ps;
        pk_pool_set_stats(m->pools, i, &ps);
        dacc += ps.diff_accepted;
        drej += ps.diff_rejected;
    }
    double mins = s->uptime_s / 60.0;
    json_t *o = json_object();
    json_object_set_new(o, "Elapsed", json_integer((json_int_t)s->uptime_s));
    json_object_set_new(o, "MHS av", json_real(s->mhs_avg));
    json_object_set_new(o, "MHS 5s", json_real(s->mhs_5s));
    json_object_set_new(o, "MHS 1m", json_real(s->mhs_60s));
    /* 5 and 15 minutes: the average since start, until that long has passed */
    json_object_set_new(o, "MHS 5m", json_real(s->uptime_s < 300 ? s->mhs_avg : s->mhs_60s));
    json_object_set_new(o, "MHS 15m", json_real(s->uptime_s < 900 ? s->mhs_avg : s->mhs_60s));
    json_object_set_new(o, "Found Blocks", json_integer((json_int_t)s->blocks_found));
    json_object_set_new(o, "Getworks", json_integer((json_int_t)ds.templates));
    json_object_set_new(o, "Accepted", json_integer((json_int_t)s->accepted));
    json_object_set_new(o, "Rejected", json_integer((json_int_t)s->rejected));
    json_object_set_new(o, "Hardware Errors", json_integer((json_int_t)s->invalid));
    json_object_set_new(o, "Utility", json_real(mins > 0 ? (double)s->accepted / mins : 0));
    json_object_set_new(o, "Discarded", json_integer(0));
    json_object_set_new(o, "Stale", json_integer((json_int_t)s->stale));
    json_object_set_new(o, "Get Failures", json_integer(0));
    json_object_set_new(o, "Local Work", json_integer((json_int_t)ds.templates));
    json_object_set_new(o, "Remote Failures", json_integer(0));
    json_object_set_new(o, "Network Blocks", json_integer(0));
    json_object_set_new(o, "Total MH", json_real((double)s->hashes / 1e6));
    json_object_set_new(o, "Work Utility", json_real(mins > 0 ? dacc / mins : 0));
    json_object_set_new(o, "Difficulty Accepted", json_real(dacc));
    json_object_set_new(o, "Difficulty Rejected", json_real(drej));
    json_object_set_new(o, "Difficulty Stale", json_real(0));
    json_object_set_new(o, "Best Share", json_real(ds.best_share));
    json_object_set_new(o, "Device Hardware%", json_real(pct((double)s->invalid, (double)(s->shares_found + s->invalid))));
    json_object_set_new(o, "Device Rejected%", json_real(pct(drej, dacc + drej)));
    json_object_set_new(o, "Pool Rejected%", json_real(pct(drej, dacc + drej)));
    json_object_set_new(o, "Pool Stale%", json_real(pct((double)s->stale, (double)(s->accepted + s->rejected + s->stale))));
    json_object_set_new(o, "Last getwork", json_integer((json_int_t)time(NULL)));
    r->code = 11;
    snprintf(r->msg, sizeof r->msg, "Summary");
    r->section = "SUMMARY";
    r->items = json_pack("[o]", o);
}

static void cg_devs(pk_miner *m, const pk_miner_stats *s, pk_cg_reply *r)
{
    json_t *arr = json_array();
    unsigned ncpu = 0, ngpu = 0;
    for (size_t i = 0; i < m->ndev; i++) {
        int cpu = m->devs[i] == m->dev;
        json_t *o = json_object();
        /* cgminer names a device by its kind: GPU=N for OpenCL, CPU=N here */
        json_object_set_new(o, cpu ? "CPU" : "GPU", json_integer(cpu ? ncpu++ : ngpu++));
        json_object_set_new(o, "Name", json_string(m->devs[i]->name));
        json_object_set_new(o, "ID", json_integer((json_int_t)i));
        json_object_set_new(o, "Enabled", json_string("Y"));
        json_object_set_new(o, "Status", json_string("Alive"));
        json_object_set_new(o, "Temperature", json_real(0));
        double total = (double)pk_device_hashes(m->devs[i]);
        json_object_set_new(o, "MHS av", json_real(s->uptime_s > 0 ? total / s->uptime_s / 1e6 : 0));
        json_object_set_new(o, "MHS 5s", json_real(dev_rate(m, i, 5)));
        json_object_set_new(o, "Total MH", json_real(total / 1e6));
        json_object_set_new(o, "Hardware Errors", json_integer(0));
        json_object_set_new(o, "Device Elapsed", json_integer((json_int_t)s->uptime_s));
        json_array_append_new(arr, o);
    }
    r->code = 9;
    snprintf(r->msg, sizeof r->msg, "%zu Dev(s)", m->ndev);
    r->section = "DEVS";
    r->items = arr;
}

static void cg_pools(pk_miner *m, pk_cg_reply *r)
{
    json_t *arr = json_array();
    size_t n = m->pools ? pk_pool_set_count(m->pools) : 0;
    for (size_t i = 0; i < n; i++) {
        pk_pool_stats ps;
        pk_pool_set_stats(m->pools, i, &ps);
        int alive = ps.state == 5 /* mining */;
        json_t *o = json_object();
        json_object_set_new(o, "POOL", json_integer((json_int_t)i));
        json_object_set_new(o, "URL", json_string(ps.url));
        json_object_set_new(o, "Status", json_string(ps.disabled ? "Disabled" : alive ? "Alive" : "Dead"));
        json_object_set_new(o, "Priority", json_integer(ps.priority));
        json_object_set_new(o, "Quota", json_integer(1));
        json_object_set_new(o, "Long Poll", json_string("N"));
        json_object_set_new(o, "Getworks", json_integer(0));
        json_object_set_new(o, "Accepted", json_integer((json_int_t)ps.accepted));
        json_object_set_new(o, "Rejected", json_integer((json_int_t)ps.rejected));
        json_object_set_new(o, "Discarded", json_integer((json_int_t)ps.dropped));
        json_object_set_new(o, "Stale", json_integer((json_int_t)ps.stale));
        json_object_set_new(o, "Get Failures", json_integer(0));
        json_object_set_new(o, "Remote Failures", json_integer(0));
        json_object_set_new(o, "User", json_string(ps.user));
        json_object_set_new(o, "Last Share Time", json_integer((json_int_t)ps.last_share_time));
        json_object_set_new(o, "Diff1 Shares", json_real(ps.diff_accepted));
        json_object_set_new(o, "Proxy Type", json_string(""));
        json_object_set_new(o, "Proxy", json_string(""));
        json_object_set_new(o, "Difficulty Accepted", json_real(ps.diff_accepted));
        json_object_set_new(o, "Difficulty Rejected", json_real(ps.diff_rejected));
        json_object_set_new(o, "Difficulty Stale", json_real(0));
        json_object_set_new(o, "Last Share Difficulty", json_real(ps.last_share_diff));
        json_object_set_new(o, "Has Stratum", json_true());
        json_object_set_new(o, "Stratum Active", json_boolean(ps.active));
        json_object_set_new(o, "Stratum URL", json_string(ps.url));
        json_object_set_new(o, "Stratum Difficulty", json_real(ps.difficulty));
        json_object_set_new(o, "Pool Rejected%", json_real(pct(ps.diff_rejected, ps.diff_accepted + ps.diff_rejected)));
        json_object_set_new(o, "Pool Stale%",
                            json_real(pct((double)ps.stale, (double)(ps.accepted + ps.rejected + ps.stale))));
        json_array_append_new(arr, o);
    }
    r->code = 7;
    snprintf(r->msg, sizeof r->msg, "%zu Pool(s)", n);
    r->section = "POOLS";
    r->items = arr;
}

/* N of "switchpool|N": a pool index that exists, else a message. */
static int cg_pool_index(pk_miner *m, const char *param, pk_cg_reply *r, size_t *out)
{
    char *end;
    unsigned long i = strtoul(param, &end, 10);
    size_t n = m->pools ? pk_pool_set_count(m->pools) : 0;
    if (!*param || *end || i >= n) {
        r->status = 'E';
        r->code = n ? 26 : 8;
        snprintf(r->msg, sizeof r->msg, n ? "Invalid pool id %.20s - range is 0 - %zu" : "No pools", param,
                 n ? n - 1 : 0);
        return -1;
    }
    *out = i;
    return 0;
}

static void cg_handler(void *ud, const char *cmd, const char *param, int privileged, pk_cg_reply *r)
{
    pk_miner *m = ud;
    (void)privileged; /* the server already refused privileged commands to others */
    pk_miner_stats s;
    take_snapshot(m);
    pk_miner_get_stats(m, &s);
    size_t i;
    if (strcmp(cmd, "summary") == 0) {
        cg_summary(m, &s, r);
    } else if (strcmp(cmd, "devs") == 0) {
        cg_devs(m, &s, r);
    } else if (strcmp(cmd, "pools") == 0) {
        cg_pools(m, r);
    } else if (strcmp(cmd, "version") == 0) {
        r->code = 22;
        snprintf(r->msg, sizeof r->msg, "CGMiner versions");
        r->section = "VERSION";
        r->items = json_pack("[{s:s, s:s, s:s}]", "CGMiner", "powkit-" POWKIT_VERSION, "API", "3.7", "powkit",
                             POWKIT_VERSION);
    } else if (strcmp(cmd, "config") == 0) {
        size_t ngpu = m->ndev - (m->dev ? 1 : 0);
        r->code = 33;
        snprintf(r->msg, sizeof r->msg, "CGMiner config");
        r->section = "CONFIG";
        r->items = json_pack("[{s:i, s:i, s:i, s:i, s:i, s:s, s:i, s:s, s:s, s:b, s:i, s:i, s:i, s:s}]", "GPU Count",
                             (int)ngpu, "ASC Count", 0, "PGA Count", 0, "CPU Count", m->dev ? 1 : 0, "Pool Count",
                             m->pools ? (int)pk_pool_set_count(m->pools) : 0, "Strategy", "Failover", "Log Interval",
                             (int)(m->o.status_interval_s ? m->o.status_interval_s : 10), "Device Code",
                             m->dev ? "CPU OCL" : "OCL", "OS", "Linux", "Failover-Only", 1, "ScanTime", 0, "Queue", 0,
                             "Expiry", 0, "Kernel", m->kernel->name);
    } else if (strcmp(cmd, "stats") == 0) {
        json_t *arr = json_array();
        for (size_t k = 0; k < m->ndev; k++)
            json_array_append_new(arr, json_pack("{s:i, s:s, s:I, s:i, s:f, s:f, s:f}", "STATS", (int)k, "ID",
                                                 m->devs[k]->name, "Elapsed", (json_int_t)s.uptime_s, "Calls", 0,
                                                 "Wait", 0.0, "Max", 0.0, "Min", 99999999.0));
        for (size_t k = 0; m->pools && k < pk_pool_set_count(m->pools); k++) {
            pk_pool_stats ps;
            pk_pool_set_stats(m->pools, k, &ps);
            char id[32];
            snprintf(id, sizeof id, "POOL%zu", k);
            json_array_append_new(arr, json_pack("{s:i, s:s, s:I, s:f, s:I, s:I}", "STATS", (int)(m->ndev + k), "ID",
                                                 id, "Elapsed", (json_int_t)s.uptime_s, "Work Diff", ps.difficulty,
                                                 "Times Sent", (json_int_t)ps.submitted, "Times Recv",
                                                 (json_int_t)(ps.accepted + ps.rejected)));
        }
        r->code = 70;
        snprintf(r->msg, sizeof r->msg, "CGMiner stats");
        r->section = "STATS";
        r->items = arr;
    } else if (strcmp(cmd, "switchpool") == 0) {
        if (cg_pool_index(m, param, r, &i) == 0) {
            pk_pool_set_switch(m->pools, i);
            r->code = 27;
            snprintf(r->msg, sizeof r->msg, "Switching to pool %zu:'%s'", i, "");
        }
    } else if (strcmp(cmd, "enablepool") == 0 || strcmp(cmd, "disablepool") == 0) {
        int on = cmd[0] == 'e';
        if (cg_pool_index(m, param, r, &i) == 0) {
            if (pk_pool_set_enable(m->pools, i, on)) {
                r->status = 'E';
                r->code = 49;
                snprintf(r->msg, sizeof r->msg, "Cannot disable last active pool %zu", i);
            } else {
                r->code = on ? 47 : 48;
                snprintf(r->msg, sizeof r->msg, "%s pool %zu", on ? "Enabling" : "Disabling", i);
            }
        }
    } else if (strcmp(cmd, "addpool") == 0) {
        char buf[1024], err[256];
        snprintf(buf, sizeof buf, "%s", param);
        char *user = strchr(buf, ','), *pass = user ? strchr(user + 1, ',') : NULL;
        if (user)
            *user++ = 0;
        if (pass)
            *pass++ = 0;
        if (!m->pools) {
            r->status = 'E';
            r->code = 8;
            snprintf(r->msg, sizeof r->msg, "No pools: solo or offline mining");
        } else if (!user || !*buf || pk_pool_set_add(m->pools, buf, user, pass, err, sizeof err)) {
            r->status = 'E';
            r->code = 53;
            snprintf(r->msg, sizeof r->msg, "Invalid addpool details '%.80s'%s%.80s", param, user ? ": " : "",
                     user ? err : "");
        } else {
            r->code = 55;
            snprintf(r->msg, sizeof r->msg, "Added pool %zu: '%.150s'", pk_pool_set_count(m->pools) - 1, buf);
        }
    } else if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "restart") == 0) {
        int restart = cmd[0] == 'r';
        r->code = restart ? 67 : 68;
        snprintf(r->msg, sizeof r->msg, restart ? "Restart" : "BYE");
        pk_log(PK_LOG_INFO, "cgminer API: %s", cmd);
        m->restart = restart;
        pk_miner_stop(m); /* on the next turn of the loop: this reply goes out first */
    }
}

/* host/status.html, embedded by CMake (status_html.c). */
extern const char pk_status_html[];

static double best_share(pk_miner *m)
{
    pk_dispatcher_stats ds;
    pk_dispatcher_get_stats(m->d, &ds);
    return ds.best_share;
}

/* ---- cpuminer's API: "summary|" answers "NAME=...;KHS=...;...|" ---- */
static char *cpm_handler(void *ud, const char *cmd, const char *param, int privileged)
{
    pk_miner *m = ud;
    (void)param;
    pk_miner_stats s;
    take_snapshot(m);
    pk_miner_get_stats(m, &s);
    char *out = NULL;
    if (strcmp(cmd, "summary") == 0) {
        char url[512] = "offline";
        if (m->node)
            snprintf(url, sizeof url, "%s", m->node_url);
        else if (m->pools && s.active_pool >= 0) {
            pk_pool_stats ps;
            pk_pool_set_stats(m->pools, (size_t)s.active_pool, &ps);
            snprintf(url, sizeof url, "%s", ps.url);
        }
        for (char *p = url; *p; p++)
            if (*p == ';' || *p == '|')
                *p = '_'; /* the protocol's separators */
        double hs = s.mhs_5s * 1e6;
        if (asprintf(&out,
                     "NAME=powkit;VER=%s;API=1.0;ALGO=sha256d;CPUS=%u;URL=%s;HS=%.2f;KHS=%.2f;ACC=%llu;REJ=%llu;"
                     "SOL=%llu;ACCMN=%.3f;DIFF=%.6f;TEMP=0.0;FAN=0;FREQ=0;UPTIME=%.0f;TS=%u|",
                     POWKIT_VERSION, s.threads, url, hs, hs / 1000.0, (unsigned long long)s.accepted,
                     (unsigned long long)s.rejected, (unsigned long long)s.blocks_accepted,
                     s.uptime_s > 0 ? 60.0 * (double)s.accepted / s.uptime_s : 0, s.difficulty, s.uptime_s,
                     (unsigned)time(NULL)) < 0)
            out = NULL;
    } else if (strcmp(cmd, "threads") == 0) {
        size_t cap = 256 * (m->ndev + 1), n = 0;
        out = malloc(cap);
        for (size_t i = 0; out && i < m->ndev; i++)
            n += (size_t)snprintf(out + n, cap - n, "CPU=%zu;NAME=%s;KHS=%.2f|", i, m->devs[i]->name,
                                  dev_rate(m, i, 5) * 1000.0);
        if (out && m->ndev == 0)
            out[0] = 0;
    } else if (strcmp(cmd, "help") == 0) {
        out = strdup("summary,threads,quit,help|");
    } else if (strcmp(cmd, "quit") == 0 && privileged) {
        pk_log(PK_LOG_INFO, "cpuminer API: quit");
        pk_miner_stop(m);
        out = strdup("bye|");
    }
    return out;
}

static int api_handler(void *ud, const char *path, char **body, const char **type)
{
    pk_miner *m = ud;
    pk_miner_stats s;
    pk_miner_get_stats(m, &s);
    if (strcmp(path, "/status") == 0) {
        json_t *root = json_pack("{s:s, s:f, s:{s:f, s:f, s:f}, s:{s:I, s:I, s:I, s:I, s:I}}",
                                 "version", POWKIT_VERSION, "uptime", s.uptime_s, "hashrate",
                                 "mhs_5s", s.mhs_5s, "mhs_60s", s.mhs_60s, "mhs_avg", s.mhs_avg,
                                 "shares", "accepted",
                                 (json_int_t)s.accepted, "rejected", (json_int_t)s.rejected,
                                 "stale", (json_int_t)s.stale, "dropped", (json_int_t)s.dropped,
                                 "invalid", (json_int_t)s.invalid);
        /* Each device's count read once, and the total is their sum: one
         * response never disagrees with itself. */
        json_t *devs = json_array();
        uint64_t total = 0;
        for (size_t i = 0; i < m->ndev; i++) {
            uint64_t h = pk_device_hashes(m->devs[i]);
            total += h;
            json_array_append_new(devs, json_pack("{s:s, s:I, s:f}", "name", m->devs[i]->name, "hashes",
                                                  (json_int_t)h, "mhs_5s", dev_rate(m, i, 5)));
        }
        json_object_set_new(root, "hashes", json_integer((json_int_t)total));
        json_object_set_new(json_object_get(root, "shares"), "found", json_integer((json_int_t)s.shares_found));
        json_object_set_new(root, "difficulty", json_real(s.difficulty));
        json_t *hist = json_array();
        for (unsigned k = 0; k < m->nhist; k++) {
            unsigned at = (m->next_hist + HISTORY - m->nhist + k) % HISTORY;
            json_array_append_new(hist, json_pack("[f, f]", m->hist_t[at], m->hist_mhs[at]));
        }
        json_object_set_new(root, "history", hist); /* [unix time, MH/s over 10 s], oldest first */
        json_object_set_new(root, "devices", devs);
        json_t *pools = json_array();
        for (size_t i = 0; m->pools && i < pk_pool_set_count(m->pools); i++) {
            pk_pool_stats ps;
            pk_pool_set_stats(m->pools, i, &ps);
            json_array_append_new(
                pools, json_pack("{s:s, s:s, s:b, s:f, s:I, s:I, s:I, s:I}", "url", ps.url, "state",
                                 state_name(ps.state), "active", ps.active, "difficulty", ps.difficulty,
                                 "accepted", (json_int_t)ps.accepted, "rejected",
                                 (json_int_t)ps.rejected, "stale", (json_int_t)ps.stale, "dropped",
                                 (json_int_t)ps.dropped));
        }
        json_object_set_new(root, "pools", pools);
        json_object_set_new(root, "offline", json_boolean(m->pools == NULL && m->node == NULL));
        json_object_set_new(root, "kernel", json_string(s.kernel));
        json_object_set_new(root, "version_lanes", json_integer(s.version_lanes));
        if (m->node)
            json_object_set_new(root, "solo", json_pack("{s:s, s:I, s:I, s:I}", "node", m->node_url, "height",
                                                         (json_int_t)s.height, "blocks_found",
                                                         (json_int_t)s.blocks_found, "blocks_accepted",
                                                         (json_int_t)s.blocks_accepted));
        *body = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        *type = "application/json";
        return 200;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        *body = strdup(pk_status_html);
        *type = "text/html; charset=utf-8";
        return *body ? 200 : 500;
    }
    if (strcmp(path, "/metrics") == 0) {
        size_t cap = 4096;
        char *b = malloc(cap);
        if (!b)
            return 500;
        int n = snprintf(b, cap,
                         "# HELP powkit_hashrate_mhs Hash rate in MH/s.\n# TYPE powkit_hashrate_mhs gauge\n"
                         "powkit_hashrate_mhs{window=\"5s\"} %.6f\npowkit_hashrate_mhs{window=\"60s\"} %.6f\n"
                         "powkit_hashrate_mhs{window=\"avg\"} %.6f\n"
                         "# HELP powkit_hashes_total Nonces hashed.\n# TYPE powkit_hashes_total counter\n"
                         "powkit_hashes_total %llu\n"
                         "# HELP powkit_shares_total Shares by result.\n# TYPE powkit_shares_total counter\n"
                         "powkit_shares_total{result=\"accepted\"} %llu\npowkit_shares_total{result=\"rejected\"} %llu\n"
                         "powkit_shares_total{result=\"stale\"} %llu\npowkit_shares_total{result=\"dropped\"} %llu\n"
                         "powkit_shares_total{result=\"invalid\"} %llu\npowkit_shares_total{result=\"found\"} %llu\n"
                         "# HELP powkit_difficulty The share difficulty of the work being mined.\n"
                         "# TYPE powkit_difficulty gauge\npowkit_difficulty %.9g\n"
                         "# HELP powkit_best_share The highest difficulty a share reached.\n"
                         "# TYPE powkit_best_share gauge\npowkit_best_share %.9g\n"
                         "# HELP powkit_blocks_total Blocks found and accepted (solo).\n# TYPE powkit_blocks_total counter\n"
                         "powkit_blocks_total{result=\"found\"} %llu\npowkit_blocks_total{result=\"accepted\"} %llu\n"
                         "# HELP powkit_uptime_seconds Seconds since start.\n# TYPE powkit_uptime_seconds gauge\n"
                         "powkit_uptime_seconds %.3f\n"
                         "# HELP powkit_pool_active 1 for the pool being mined.\n# TYPE powkit_pool_active gauge\n",
                         s.mhs_5s, s.mhs_60s, s.mhs_avg, (unsigned long long)s.hashes,
                         (unsigned long long)s.accepted, (unsigned long long)s.rejected,
                         (unsigned long long)s.stale, (unsigned long long)s.dropped,
                         (unsigned long long)s.invalid, (unsigned long long)s.shares_found, s.difficulty,
                         best_share(m), (unsigned long long)s.blocks_found, (unsigned long long)s.blocks_accepted,
                         s.uptime_s);
        for (size_t i = 0; m->pools && i < pk_pool_set_count(m->pools) && (size_t)n < cap - 256; i++) {
            pk_pool_stats ps;
            pk_pool_set_stats(m->pools, i, &ps);
            n += snprintf(b + n, cap - (size_t)n, "powkit_pool_active{pool=\"%zu\"} %d\n", i, ps.active);
        }
        *body = b;
        *type = "text/plain; version=0.0.4";
        return 200;
    }
    *body = strdup("not found\n");
    return 404;
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
        rc = pk_api_start(&m->loop, o->api_listen, &acl, o->api_token, api_handler, m, &m->api, err, errlen);
        if (rc)
            goto fail;
        atomic_store(&m->api_port, pk_api_port(m->api));
    }
    atomic_store(&m->cg_port, -1);
    if (o->cgminer_api) {
        rc = pk_cgminer_api_start(&m->loop, o->cgminer_api, &acl, "powkit " POWKIT_VERSION, cg_handler, m, &m->cg,
                                  err, errlen);
        if (rc)
            goto fail;
        atomic_store(&m->cg_port, pk_cgminer_api_port(m->cg));
    }
    if (o->cpuminer_api) {
        rc = pk_cpuminer_api_start(&m->loop, o->cpuminer_api, &acl, cpm_handler, m, &m->cpm, err, errlen);
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
