/* `powkit proxy`: a Stratum v1 server for a farm's rigs over one upstream
 * pool connection (stratum/proxy.c does the work; this is its command
 * line, its status line and its API). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "args.h"
#include "commands.h"
#include "powkit/access.h"
#include "powkit/api.h"
#include "powkit/log.h"
#include "powkit/proxy.h"
#include "powkit/util.h"

void pk_usage_proxy(FILE *f)
{
    fprintf(f,
            "usage: powkit proxy -o URL -u USER [-p PASS] [-o URL -u USER ...] [--listen HOST:PORT] [options]\n"
            "\n"
            "One upstream pool session for many rigs: every rig that speaks Stratum v1 connects\n"
            "to --listen; each gets its own share of the pool's extranonce2 space and its own\n"
            "difficulty; every share is checked here and only those that meet the pool's\n"
            "difficulty are sent on.  More -o URLs are backups, in order.\n"
            "\n"
            "  -o, --url URL            upstream pool, stratum+tcp:// or stratum+ssl:// (repeatable)\n"
            "  -u, --user USER          the pool account (every rig's shares are sent as it)\n"
            "  -p, --pass PASS          the pool password (default x)\n"
            "  --pass-workers           each rig's worker goes to the pool as USER.WORKER (authorized\n"
            "                           there, its shares sent under it) instead of all as USER\n"
            "  --failback S             on a backup, return to the first pool once it has stayed up\n"
            "                           S seconds (tried again with back-off; default 30)\n"
            "  --listen HOST:PORT       where rigs connect (default 0.0.0.0:3333)\n"
            "  --listen-cert FILE, --listen-key FILE\n"
            "                           rigs connect over TLS (stratum+ssl://) with this PEM\n"
            "                           certificate chain and key\n"
            "  --max-clients N          rigs at once (default 1024; the pool's extranonce2 must hold\n"
            "                           their prefix and 2 bytes for each rig)\n"
            "  --share-rate S           vardiff aims at one share per S seconds per rig (default 10)\n"
            "  --min-diff D             vardiff never goes below D (default 1/65536)\n"
            "  --start-diff D           a rig's first difficulty (default: the pool's)\n"
            "  --idle-timeout S         drop a rig silent for S seconds (default 600)\n"
            "  --max-line BYTES         longest line a rig may send (default 16384)\n"
            "  --conn-rate N            new connections per address per minute (default 120)\n"
            "  --api-listen HOST:PORT   /status (JSON, every rig) and /metrics (Prometheus)\n"
            "  --api-allow LIST         who may read the API (default loopback only)\n"
            "  --api-token TOKEN        the API wants \"Authorization: Bearer TOKEN\"\n"
            "  --status-interval S      the status line every S seconds (default 30; 0: never)\n"
            "  --duration S             stop after S seconds\n"
            "  --cafile FILE, --insecure  TLS to the pool, as for mine\n"
            "  -q, --quiet              warnings and errors only\n"
            "\n"
            "exit status: 0 stopped, 2 usage error or the proxy could not start\n");
}

typedef struct proxy_run {
    uv_loop_t loop;
    pk_proxy *px;
    pk_api *api;
    uv_signal_t sigint, sigterm;
    uv_timer_t status, stop;
    int stopping, rc;
} proxy_run;

static void close_cb(uv_handle_t *h) { (void)h; }

static void proxy_closed(void *arg)
{
    proxy_run *r = arg;
    uv_close((uv_handle_t *)&r->sigint, close_cb);
    uv_close((uv_handle_t *)&r->sigterm, close_cb);
    uv_close((uv_handle_t *)&r->status, close_cb);
    uv_close((uv_handle_t *)&r->stop, close_cb);
}

static void stop_run(proxy_run *r)
{
    if (r->stopping)
        return;
    r->stopping = 1;
    if (r->api)
        pk_api_close(r->api);
    r->api = NULL;
    uv_timer_stop(&r->status);
    uv_timer_stop(&r->stop);
    uv_signal_stop(&r->sigint);
    uv_signal_stop(&r->sigterm);
    pk_proxy_close(r->px, proxy_closed, r);
}

static void on_signal(uv_signal_t *s, int signum)
{
    pk_log(PK_LOG_INFO, "proxy: %s: stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop_run(s->data);
}

static void on_stop(uv_timer_t *t) { stop_run(t->data); }

static void on_fatal(void *arg, const char *why)
{
    proxy_run *r = arg;
    (void)why;
    r->rc = PK_EXIT_USAGE;
    stop_run(r);
}

static void fmt_rate(double hs, char *out, size_t len)
{
    static const char *u[] = {"H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s"};
    int i = 0;
    while (hs >= 1000 && i < 5)
        hs /= 1000, i++;
    snprintf(out, len, "%.2f %s", hs, u[i]);
}

static void on_status(uv_timer_t *t)
{
    proxy_run *r = t->data;
    pk_proxy_stats st;
    pk_proxy_stats_get(r->px, &st);
    char rate[32];
    fmt_rate(st.hashrate, rate, sizeof rate);
    pk_log(PK_LOG_INFO,
           "proxy: rigs %zu, %s | shares accepted %llu, rejected %llu (stale %llu) | pool: sent %llu, accepted %llu, "
           "rejected %llu | %s%s",
           st.rigs, rate, (unsigned long long)st.accepted, (unsigned long long)st.rejected,
           (unsigned long long)st.stale, (unsigned long long)st.forwarded, (unsigned long long)st.upstream_accepted,
           (unsigned long long)st.upstream_rejected, st.upstream, st.upstream_ready ? "" : " (down)");
}

static int api_handler(void *ud, const char *path, char **body, const char **type)
{
    proxy_run *r = ud;
    if (strcmp(path, "/status") == 0) {
        *body = pk_proxy_status_json(r->px);
        *type = "application/json";
        return *body ? 200 : 500;
    }
    if (strcmp(path, "/metrics") == 0) {
        *body = pk_proxy_metrics(r->px);
        *type = "text/plain; version=0.0.4";
        return *body ? 200 : 500;
    }
    *body = strdup("not found\n");
    *type = "text/plain";
    return 404;
}

enum {
    O_LISTEN = 1000, O_MAXCLIENTS, O_RATE, O_MINDIFF, O_STARTDIFF, O_IDLE, O_MAXLINE, O_CONNRATE, O_API,
    O_APIALLOW, O_APITOKEN, O_STATUS, O_DURATION, O_CAFILE, O_INSECURE, O_PASSWORKERS, O_LCERT, O_LKEY, O_FAILBACK,
};

int pk_cmd_proxy(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, 0, 'o'},          {"user", required_argument, 0, 'u'},
        {"pass", required_argument, 0, 'p'},         {"quiet", no_argument, 0, 'q'},
        {"listen", required_argument, 0, O_LISTEN},  {"max-clients", required_argument, 0, O_MAXCLIENTS},
        {"share-rate", required_argument, 0, O_RATE}, {"min-diff", required_argument, 0, O_MINDIFF},
        {"start-diff", required_argument, 0, O_STARTDIFF}, {"idle-timeout", required_argument, 0, O_IDLE},
        {"max-line", required_argument, 0, O_MAXLINE}, {"conn-rate", required_argument, 0, O_CONNRATE},
        {"api-listen", required_argument, 0, O_API}, {"api-allow", required_argument, 0, O_APIALLOW},
        {"api-token", required_argument, 0, O_APITOKEN}, {"status-interval", required_argument, 0, O_STATUS},
        {"duration", required_argument, 0, O_DURATION}, {"cafile", required_argument, 0, O_CAFILE},
        {"insecure", no_argument, 0, O_INSECURE},    {"pass-workers", no_argument, 0, O_PASSWORKERS},
        {"listen-cert", required_argument, 0, O_LCERT}, {"listen-key", required_argument, 0, O_LKEY},
        {"failback", required_argument, 0, O_FAILBACK}, {0, 0, 0, 0}};
    pk_proxy_opts o;
    memset(&o, 0, sizeof o);
    const char *api = NULL, *api_allow = NULL, *api_token = NULL;
    double status_s = 30, duration = 0;
    int quiet = 0;
    pk_args a;
    pk_args_init(&a, "proxy", pk_usage_proxy, argc, argv, "o:u:p:q", opts);
    unsigned max_line = 0;
    /* The numeric options: each with its range, into its field. */
    const struct num_opt {
        int id;
        double lo, hi;
        double *d;   /* a real number, or */
        unsigned *u; /* a whole one */
    } nums[] = {
        {O_MAXCLIENTS, 1, 1u << 24, NULL, &o.max_clients},   {O_RATE, 0.1, 86400, &o.share_rate_s, NULL},
        {O_MINDIFF, 1e-12, 1e15, &o.min_difficulty, NULL},   {O_STARTDIFF, 1e-12, 1e15, &o.start_difficulty, NULL},
        {O_IDLE, 1, 86400, NULL, &o.idle_timeout_s},         {O_MAXLINE, 256, 1u << 24, NULL, &max_line},
        {O_CONNRATE, 1, 1000000, NULL, &o.max_conn_per_min}, {O_STATUS, 0, 86400, &status_s, NULL},
        {O_DURATION, 0.1, 1e9, &duration, NULL},             {O_FAILBACK, 0.1, 86400, &o.failback_stable_s, NULL},
    };
    int c;
    while ((c = pk_args_next(&a)) != PK_ARGS_END) {
        const struct num_opt *n = NULL;
        for (size_t i = 0; i < sizeof nums / sizeof nums[0] && !n; i++)
            n = nums[i].id == c ? &nums[i] : NULL;
        if (n) {
            int bad = n->d ? pk_args_double(&a, optarg, n->lo, n->hi, n->d)
                           : pk_args_uint(&a, optarg, (unsigned)n->lo, (unsigned)n->hi, n->u);
            if (bad)
                return PK_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case PK_ARGS_HELP: return PK_EXIT_OK;
        case PK_ARGS_ERROR: return PK_EXIT_USAGE;
        case 'o':
            if (o.npools == PK_POOLS_MAX)
                return pk_args_fail(&a, "at most %d pools", PK_POOLS_MAX);
            o.pools[o.npools].url = optarg;
            o.pools[o.npools].pass = "x";
            if (o.npools > 0) { /* a backup inherits the account until it names its own */
                o.pools[o.npools].user = o.pools[o.npools - 1].user;
                o.pools[o.npools].pass = o.pools[o.npools - 1].pass;
            }
            o.npools++;
            break;
        case 'u':
            if (!o.npools)
                return pk_args_fail(&a, "-u goes after the -o it belongs to");
            o.pools[o.npools - 1].user = optarg;
            break;
        case 'p':
            if (!o.npools)
                return pk_args_fail(&a, "-p goes after the -o it belongs to");
            o.pools[o.npools - 1].pass = optarg;
            break;
        case 'q': quiet = 1; break;
        case O_LISTEN: o.listen = optarg; break;
        case O_API: api = optarg; break;
        case O_APIALLOW: api_allow = optarg; break;
        case O_APITOKEN: api_token = optarg; break;
        case O_CAFILE: o.ca_file = optarg; break;
        case O_INSECURE: o.insecure = 1; break;
        case O_PASSWORKERS: o.pass_workers = 1; break;
        case O_LCERT: o.listen_cert = optarg; break;
        case O_LKEY: o.listen_key = optarg; break;
        default: return PK_EXIT_USAGE;
        }
    }
    int first;
    if (pk_args_operands(&a, 0, 0, &first) < 0)
        return PK_EXIT_USAGE;
    o.max_line = max_line;
    if (!o.npools)
        return pk_args_fail(&a, "an upstream pool is needed (-o stratum+tcp://HOST:PORT -u ACCOUNT)");
    for (size_t i = 0; i < o.npools; i++)
        if (!o.pools[i].user)
            return pk_args_fail(&a, "-o %s has no -u ACCOUNT", o.pools[i].url);
    if (quiet)
        pk_log_set_level(PK_LOG_WARN);

    proxy_run r;
    memset(&r, 0, sizeof r);
    uv_loop_init(&r.loop);
    o.on_fatal = on_fatal;
    o.fatal_arg = &r;
    char err[512];
    if (pk_proxy_new(&r.loop, &o, &r.px, err, sizeof err) != 0) {
        fprintf(stderr, "powkit proxy: %s\n", err);
        uv_loop_close(&r.loop);
        return PK_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (pk_proxy_start(r.px, err, sizeof err) != 0) {
        fprintf(stderr, "powkit proxy: %s\n", err);
        r.rc = PK_EXIT_USAGE;
    }
    if (!r.rc && api) {
        pk_access acl;
        if (pk_access_parse(&acl, api_allow, err, sizeof err) ||
            pk_api_start(&r.loop, api, &acl, api_token, api_handler, &r, &r.api, err, sizeof err)) {
            fprintf(stderr, "powkit proxy: %s\n", err);
            r.rc = PK_EXIT_USAGE;
        } else {
            pk_log(PK_LOG_INFO, "proxy: API on port %d (/status, /metrics)", pk_api_port(r.api));
        }
    }
    uv_signal_init(&r.loop, &r.sigint);
    uv_signal_init(&r.loop, &r.sigterm);
    uv_timer_init(&r.loop, &r.status);
    uv_timer_init(&r.loop, &r.stop);
    r.sigint.data = r.sigterm.data = r.status.data = r.stop.data = &r;
    if (r.rc) {
        stop_run(&r);
    } else {
        pk_log(PK_LOG_INFO, "proxy: rigs connect to port %d%s", pk_proxy_port(r.px),
               o.listen_cert ? " (TLS: stratum+ssl://)" : "");
        uv_signal_start(&r.sigint, on_signal, SIGINT);
        uv_signal_start(&r.sigterm, on_signal, SIGTERM);
        if (status_s > 0)
            uv_timer_start(&r.status, on_status, (uint64_t)(status_s * 1000), (uint64_t)(status_s * 1000));
        if (duration > 0)
            uv_timer_start(&r.stop, on_stop, (uint64_t)(duration * 1000), 0);
    }
    uv_run(&r.loop, UV_RUN_DEFAULT);
    if (!r.rc)
        on_status(&r.status); /* the last figures */
    pk_proxy_free(r.px);
    uv_loop_close(&r.loop);
    return r.rc;
}
