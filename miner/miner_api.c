/* The miner's APIs: the HTTP one (/status JSON, /metrics, the status
 * page), cgminer's (its sections and privileged commands) and cpuminer's,
 * each answered on the loop thread from the miner's state. */
#define _GNU_SOURCE /* asprintf */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/access.h"
#include "powkit/cpu.h"
#include "powkit/error.h"
#include "powkit/log.h"
#include "powkit/opencl.h"
#include "powkit/util.h"
#include "miner_internal.h"

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
        json_object_set_new(o, "MHS 5s", json_real(pk_mn_dev_rate(m, i, 5)));
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

void pk_mn_cg_handler(void *ud, const char *cmd, const char *param, int privileged, pk_cg_reply *r)
{
    pk_miner *m = ud;
    (void)privileged; /* the server already refused privileged commands to others */
    pk_miner_stats s;
    pk_mn_take_snapshot(m);
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
char *pk_mn_cpm_handler(void *ud, const char *cmd, const char *param, int privileged)
{
    pk_miner *m = ud;
    (void)param;
    pk_miner_stats s;
    pk_mn_take_snapshot(m);
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
                                  pk_mn_dev_rate(m, i, 5) * 1000.0);
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

int pk_mn_api_handler(void *ud, const char *path, char **body, const char **type)
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
                                                  (json_int_t)h, "mhs_5s", pk_mn_dev_rate(m, i, 5)));
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
                                 pk_mn_state_name(ps.state), "active", ps.active, "difficulty", ps.difficulty,
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
