/* `powkit mine`: options and config file into pk_miner_opts. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powkit/log.h"
#include "commands.h"
#include "mine.h"

void pk_usage_mine(FILE *f)
{
    fprintf(f,
            "usage: powkit mine [-o URL -u USER -p PASS]... [options]\n"
            "\n"
            "With no pool, mines the embedded offline job (nothing is submitted).\n"
            "\n"
            "pools (repeat -o for backups, in priority order; -u/-p apply to the last -o):\n"
            "  -o, --url URL            stratum+tcp://host:port or stratum+ssl://host:port\n"
            "  -u, --user USER          worker name\n"
            "  -p, --pass PASS          worker password (default x)\n"
            "  --cert FILE              trust this CA for stratum+ssl (default: system store)\n"
            "  --insecure               do not check pool certificates (warned)\n"
            "  --no-extranonce          no mining.extranonce.subscribe\n"
            "  --no-version-rolling     do not ask for version rolling\n"
            "  --no-version-lanes       one template per range: no versions side by side in\n"
            "                           the CPU kernel's lanes (on where versions roll)\n"
            "  --suggest-diff D         send mining.suggest_difficulty\n"
            "  --allow-redirect         follow client.reconnect to another host\n"
            "  --no-work-timeout S      fail over after S s without a job (default 180)\n"
            "  --max-rejects N          fail over after N rejects in a row (default 20)\n"
            "  --failback S             a higher pool must stay up S s before use (default 30)\n"
            "solo mining on your own node (instead of -o):\n"
            "  --node URL               http://127.0.0.1:8332 (JSON-RPC getblocktemplate)\n"
            "  --address ADDR           payout address, checked against the node's chain\n"
            "  --payout-script HEX      or pay to this raw scriptPubKey\n"
            "  --rpc-user U --rpc-password P, or --rpc-cookie FILE (default: the node's\n"
            "                           .cookie in Bitcoin Core's data directory for the port)\n"
            "  --coinbase-tag TEXT      up to 32 bytes in the coinbase script\n"
            "  --blocks N               stop after N accepted blocks\n"
            "  --blocks-dir DIR         found blocks are saved here before submitting (blocks)\n"
            "  --gbt-refresh S          new template for new transactions every S s (30)\n"
            "devices:\n"
            "  -t, --threads N          CPU threads (default: all)\n"
            "  --kernel NAME            ref, shani, avx2, avx512 (default: fastest measured)\n"
            "  --cpu-affinity [MASK]    pin thread i to CPU i, or the threads to the CPUs set in\n"
            "                           MASK (cpuminer's: 0x5 is CPUs 0 and 2)\n"
            "  --normal-priority        hash at normal priority (default: idle priority, so\n"
            "                           the network thread and other programs go first)\n"
            "  --devices LIST           cpu,opencl:0,... (default: cpu and every OpenCL device\n"
            "                           that is not a CPU; see powkit devices)\n"
            "  --cl-vector-width N      OpenCL nonces per work-item: 1,2,4,8,16 (default: device's)\n"
            "  --cl-global N            OpenCL work-items per launch (default: tuned)\n"
            "  --cl-launch-ms MS        time one launch is tuned to (default 20)\n"
            "operation:\n"
            "  -c, --config FILE        JSON with the long option names as keys, and\n"
            "                           \"pools\": [{\"url\":...,\"user\":...,\"pass\":...}];\n"
            "                           keys starting with // are comments\n"
            "  -l, --status-interval N  status line every N s (default 10)\n"
            "  -q, --quiet              no status lines\n"
            "  --log-level LEVEL        error, warn, info (default), debug\n"
            "  -D, --debug              the same as --log-level debug\n"
            "  --log-file FILE          every log line appended to FILE too (--log FILE as well)\n"
            "  -S, --syslog             every log line to syslog too\n"
            "  --api-listen HOST:PORT   GET /status (JSON) and /metrics (Prometheus)\n"
            "  --cgminer-api HOST:PORT  cgminer's API (summary, devs, pools, ..., switchpool|N), e.g.\n"
            "                           127.0.0.1:4028\n"
            "  --api-allow LIST         who may use the APIs: [W:]ADDRESS[/PREFIX],... (W: also the\n"
            "                           privileged commands); loopback may always read; an API\n"
            "                           reachable from other machines needs this or --api-token\n"
            "  --api-token TOKEN        the HTTP API wants Authorization: Bearer TOKEN\n"
            "  --api-bind [IP:]PORT     cpuminer's API (summary|, threads|, quit| for W: addresses)\n"
            "  --duration S             stop after S seconds\n"
            "cpuminer's names, accepted as aliases:\n"
            "  -a, --algo sha256d       the only algorithm (any other is refused)\n"
            "  --benchmark              mine the offline job (as with no pool)\n"
            "  -O, --userpass USER:PASS -u and -p of the last -o in one\n"
            "  --coinbase-addr ADDR     --address\n"
            "  -T, --timeout S          --no-work-timeout\n"
            "  -R, --retry-pause S      first pause before reconnecting (back-off from there)\n"
            "  -r, --retries N          stop (exit 2) once every pool failed more than N times in\n"
            "                           a row (default, and -1: retry forever)\n"
            "\n"
            "exit status: 0 stopped cleanly (signal, --duration, --blocks), 1 a found nonce failed\n"
            "the recheck, 2 bad options or config, a device that cannot start, a fatal node answer\n");
}

enum {
    O_CERT = 1000, O_INSECURE, O_NO_EN, O_NO_VR, O_SUGGEST, O_REDIRECT, O_NOWORK, O_MAXREJ,
    O_FAILBACK, O_KERNEL, O_AFFINITY, O_DEVICES, O_LOGLEVEL, O_API, O_DURATION, O_NORMALPRIO,
    O_CLVW, O_CLGLOBAL, O_CLMS, O_NODE, O_ADDRESS, O_PAYOUT, O_RPCUSER, O_RPCPASS, O_COOKIE, O_TAG, O_BLOCKS, O_BLOCKSDIR, O_REFRESH,
    O_NO_VLANES, O_LOG, O_LOGFILE, O_BENCHMARK, O_CBADDR, O_CGAPI, O_APIALLOW, O_APITOKEN, O_APIBIND,
};

static const struct option long_opts[] = {
    {"url", required_argument, 0, 'o'},         {"user", required_argument, 0, 'u'},
    {"pass", required_argument, 0, 'p'},        {"threads", required_argument, 0, 't'},
    {"config", required_argument, 0, 'c'},      {"quiet", no_argument, 0, 'q'},
    {"log", required_argument, 0, O_LOG},       {"status-interval", required_argument, 0, 'l'},
    /* cpuminer's names, as aliases of powkit's own */
    {"algo", required_argument, 0, 'a'},        {"benchmark", no_argument, 0, O_BENCHMARK},
    {"userpass", required_argument, 0, 'O'},    {"coinbase-addr", required_argument, 0, O_CBADDR},
    {"timeout", required_argument, 0, 'T'},     {"retry-pause", required_argument, 0, 'R'},
    {"retries", required_argument, 0, 'r'},
    {"debug", no_argument, 0, 'D'},             {"syslog", no_argument, 0, 'S'},
    {"log-file", required_argument, 0, O_LOGFILE},
    {"cgminer-api", required_argument, 0, O_CGAPI}, {"api-allow", required_argument, 0, O_APIALLOW},
    {"api-token", required_argument, 0, O_APITOKEN}, {"api-bind", required_argument, 0, O_APIBIND},
    {"cert", required_argument, 0, O_CERT},     {"insecure", no_argument, 0, O_INSECURE},
    {"no-extranonce", no_argument, 0, O_NO_EN}, {"no-version-rolling", no_argument, 0, O_NO_VR},
    {"no-version-lanes", no_argument, 0, O_NO_VLANES},
    {"suggest-diff", required_argument, 0, O_SUGGEST},
    {"allow-redirect", no_argument, 0, O_REDIRECT},
    {"no-work-timeout", required_argument, 0, O_NOWORK},
    {"max-rejects", required_argument, 0, O_MAXREJ},
    {"failback", required_argument, 0, O_FAILBACK}, {"kernel", required_argument, 0, O_KERNEL},
    {"cpu-affinity", optional_argument, 0, O_AFFINITY}, {"devices", required_argument, 0, O_DEVICES},
    {"log-level", required_argument, 0, O_LOGLEVEL}, {"api-listen", required_argument, 0, O_API},
    {"duration", required_argument, 0, O_DURATION}, {"normal-priority", no_argument, 0, O_NORMALPRIO},
    {"cl-vector-width", required_argument, 0, O_CLVW}, {"cl-global", required_argument, 0, O_CLGLOBAL},
    {"cl-launch-ms", required_argument, 0, O_CLMS}, {"node", required_argument, 0, O_NODE}, {"address", required_argument, 0, O_ADDRESS},
    {"payout-script", required_argument, 0, O_PAYOUT}, {"rpc-user", required_argument, 0, O_RPCUSER},
    {"rpc-password", required_argument, 0, O_RPCPASS}, {"rpc-cookie", required_argument, 0, O_COOKIE},
    {"coinbase-tag", required_argument, 0, O_TAG}, {"blocks", required_argument, 0, O_BLOCKS},
    {"blocks-dir", required_argument, 0, O_BLOCKSDIR}, {"gbt-refresh", required_argument, 0, O_REFRESH},
    {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

/* name: the option as the user gave it ("-t", "--threads", or a config
 * key), for the message. */
static int num(const char *name, const char *v, double lo, double hi, double *out, char *err,
               size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !(d >= lo && d <= hi)) {
        snprintf(err, errlen, "%s wants a number from %g to %g, got '%s'", name, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* A whole number: "2.5" and "2e3" are refused, not truncated. */
static int whole(const char *name, const char *v, unsigned lo, unsigned hi, unsigned *out, char *err,
                 size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || v[0] == '+' || x < lo || x > hi) {
        snprintf(err, errlen, "%s wants a whole number from %u to %u, got '%s'", name, lo, hi, v);
        return -1;
    }
    *out = (unsigned)x;
    return 0;
}

/* One option, from the command line or the config file. */
static int apply(pk_mine_cli *c, int opt, const char *name, const char *v, char *err, size_t errlen)
{
    pk_miner_opts *o = &c->opts;
    pk_pool_set_opts *po = &o->pool;
    double d;
    switch (opt) {
    case 'o':
        if (po->npools == PK_POOLS_MAX) {
            snprintf(err, errlen, "at most %d pools", PK_POOLS_MAX);
            return -1;
        }
        po->pools[po->npools++] = (pk_pool_cfg){v, NULL, NULL};
        return 0;
    case 'u':
    case 'p':
        if (po->npools == 0) {
            snprintf(err, errlen, "-%c comes after the -o it belongs to", opt);
            return -1;
        }
        if (opt == 'u')
            po->pools[po->npools - 1].user = v;
        else
            po->pools[po->npools - 1].pass = v;
        return 0;
    case 't': return whole(name, v, 1, 1024, &o->threads, err, errlen);
    case 'q': o->quiet = 1; return 0;
    case 'a':
        /* cpuminer's -a: powkit mines one algorithm. */
        if (strcmp(v, "sha256d") != 0) {
            snprintf(err, errlen, "%s %s: powkit mines sha256d (Bitcoin) only", name, v);
            return -1;
        }
        return 0;
    case O_BENCHMARK: c->benchmark = 1; return 0;
    case 'O': {
        /* USER:PASS for the last -o (cpuminer's -O) */
        if (po->npools == 0) {
            snprintf(err, errlen, "%s comes after the -o it belongs to", name);
            return -1;
        }
        const char *colon = strchr(v, ':');
        if (!colon || colon == v) {
            snprintf(err, errlen, "%s wants USER:PASS, got '%s'", name, v);
            return -1;
        }
        if (c->nowned + 2 > sizeof c->owned / sizeof c->owned[0]) {
            snprintf(err, errlen, "too many options");
            return -1;
        }
        char *user = strndup(v, (size_t)(colon - v)), *pass = strdup(colon + 1);
        if (!user || !pass) {
            free(user);
            free(pass);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->owned[c->nowned++] = user;
        c->owned[c->nowned++] = pass;
        po->pools[po->npools - 1].user = user;
        po->pools[po->npools - 1].pass = pass;
        return 0;
    }
    case O_CBADDR: o->node.address = v; return 0;
    case 'T': return whole(name, v, 1, 86400, &po->no_work_timeout_s, err, errlen);
    case 'r':
        /* cpuminer's -r: -1 (its default) is forever, as powkit's is */
        if (strcmp(v, "-1") == 0) {
            po->max_retries = 0;
            return 0;
        }
        return whole(name, v, 1, 1000000, &po->max_retries, err, errlen);
    case 'R': {
        unsigned s;
        if (whole(name, v, 1, 3600, &s, err, errlen))
            return -1;
        po->backoff_min_ms = s * 1000;
        if (po->backoff_max_ms && po->backoff_max_ms < po->backoff_min_ms)
            po->backoff_max_ms = po->backoff_min_ms;
        else if (!po->backoff_max_ms && po->backoff_min_ms > 60000)
            po->backoff_max_ms = po->backoff_min_ms;
        return 0;
    }
    case 'D': c->log_level = PK_LOG_DEBUG + 1; return 0;
    case 'S': c->syslog = 1; return 0;
    case O_LOGFILE: c->log_file = v; return 0;
    case O_LOG:
        /* --log N was the status interval; --log FILE is the log file. */
        if (strspn(v, "0123456789") == strlen(v) && *v)
            return whole(name, v, 1, 86400, &o->status_interval_s, err, errlen);
        c->log_file = v;
        return 0;
    case 'l': return whole(name, v, 1, 86400, &o->status_interval_s, err, errlen);
    case O_CERT: po->ca_file = v; return 0;
    case O_INSECURE: po->insecure = 1; return 0;
    case O_NO_EN: po->no_extranonce = 1; return 0;
    case O_NO_VR: po->no_version_rolling = 1; return 0;
    case O_NO_VLANES: o->no_version_lanes = 1; return 0;
    case O_SUGGEST: return num(name, v, 1e-12, 1e15, &po->suggest_difficulty, err, errlen);
    case O_REDIRECT: po->allow_redirect = 1; return 0;
    case O_NOWORK: return whole(name, v, 1, 86400, &po->no_work_timeout_s, err, errlen);
    case O_MAXREJ: return whole(name, v, 1, 1000000, &po->max_rejects, err, errlen);
    case O_FAILBACK:
        if (num(name, v, 0.001, 86400, &d, err, errlen))
            return -1;
        po->failback_stable_ms = (unsigned)(d * 1000);
        return 0;
    case O_KERNEL: o->kernel = v; return 0;
    case O_AFFINITY: {
        /* Alone: thread i on CPU i.  With a MASK (cpuminer's, hex or
         * decimal): the threads on the CPUs set in it. */
        o->affinity = 1;
        if (!v)
            return 0;
        char *end;
        errno = 0;
        unsigned long long mask = strtoull(v, &end, 0);
        if (!*v || *end || errno || mask == 0 || v[0] == '-') {
            snprintf(err, errlen, "%s wants a CPU mask such as 0x5 (CPUs 0 and 2), got '%s'", name, v);
            return -1;
        }
        o->affinity_mask = (uint64_t)mask;
        return 0;
    }
    case O_NORMALPRIO: o->normal_priority = 1; return 0;
    case O_DEVICES: {
        /* cpu and opencl:N, comma separated */
        const char *p = v;
        while (*p) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            int ok = (len == 3 && strncmp(p, "cpu", 3) == 0) ||
                     (len > 7 && strncmp(p, "opencl:", 7) == 0 && strspn(p + 7, "0123456789") == len - 7);
            if (!ok) {
                snprintf(err, errlen, "%s wants cpu and opencl:N, comma separated; got '%s'", name, v);
                return -1;
            }
            p += len + (end ? 1 : 0);
        }
        o->devices = v;
        return 0;
    }
    case O_LOGLEVEL: {
        pk_log_level lv;
        if (pk_log_parse_level(v, &lv)) {
            snprintf(err, errlen, "%s wants error, warn, info or debug, got '%s'", name, v);
            return -1;
        }
        c->log_level = (int)lv + 1; /* set by pk_cmd_mine, not while parsing */
        return 0;
    }
    case O_API: o->api_listen = v; return 0;
    case O_CGAPI: o->cgminer_api = v; return 0;
    case O_APIALLOW: o->api_allow = v; return 0;
    case O_APITOKEN: o->api_token = v; return 0;
    case O_APIBIND: {
        /* cpuminer's [IP:]PORT; a port alone is on loopback */
        if (strspn(v, "0123456789") == strlen(v) && *v) {
            if (c->nowned == sizeof c->owned / sizeof c->owned[0])
                return snprintf(err, errlen, "too many options"), -1;
            char *a = malloc(strlen(v) + 16);
            if (!a)
                return snprintf(err, errlen, "out of memory"), -1;
            sprintf(a, "127.0.0.1:%s", v);
            c->owned[c->nowned++] = a;
            v = a;
        }
        o->cpuminer_api = v;
        return 0;
    }
    case O_CLVW: {
        unsigned w;
        if (whole(name, v, 1, 16, &w, err, errlen))
            return -1;
        if (w & (w - 1)) {
            snprintf(err, errlen, "%s wants 1, 2, 4, 8 or 16, got '%s'", name, v);
            return -1;
        }
        o->cl_vector_width = w;
        return 0;
    }
    case O_CLGLOBAL: return whole(name, v, 64, 1u << 26, &o->cl_global, err, errlen);
    case O_CLMS: return whole(name, v, 1, 1000, &o->cl_launch_ms, err, errlen);
    case O_NODE: o->node.url = v; return 0;
    case O_ADDRESS: o->node.address = v; return 0;
    case O_PAYOUT: o->node.payout_script_hex = v; return 0;
    case O_RPCUSER: o->node.user = v; return 0;
    case O_RPCPASS: o->node.pass = v; return 0;
    case O_COOKIE: o->node.cookie = v; return 0;
    case O_TAG: o->node.coinbase_tag = v; return 0;
    case O_BLOCKSDIR: o->node.blocks_dir = v; return 0;
    case O_BLOCKS: return whole(name, v, 1, 1000000000, &o->node.max_blocks, err, errlen);
    case O_REFRESH: return whole(name, v, 1, 86400, &o->node.refresh_s, err, errlen);
    case O_DURATION: return num(name, v, 0.001, 1e9, &o->duration_s, err, errlen);
    }
    snprintf(err, errlen, "unknown option");
    return -1;
}

static int load_config(pk_mine_cli *c, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_decref(c->config); /* a second --config replaces the first */
    c->config = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "config %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "config %s: a directory, not a file", path);
        return -1;
    }
    c->config = json_load_file(path, 0, &je);
    if (!json_is_object(c->config)) {
        if (c->config)
            snprintf(err, errlen, "config %s: not a JSON object", path);
        else if (je.line > 0)
            snprintf(err, errlen, "config %s: %s (line %d)", path, je.text, je.line);
        else
            snprintf(err, errlen, "config %s: %s", path, je.text);
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(c->config, key, val) {
        if (strncmp(key, "//", 2) == 0)
            continue; /* JSON has no comments: "//key": "what key does" documents a key */
        if (strcmp(key, "pools") == 0) {
            size_t i;
            json_t *p;
            if (!json_is_array(val)) {
                snprintf(err, errlen, "config %s: \"pools\" must be an array", path);
                return -1;
            }
            json_array_foreach(val, i, p) {
                const json_t *u = json_object_get(p, "url"), *us = json_object_get(p, "user"),
                             *pw = json_object_get(p, "pass");
                if (!json_is_string(u) || (us && !json_is_string(us)) || (pw && !json_is_string(pw))) {
                    snprintf(err, errlen, "config %s: pools[%zu] needs string url, user, pass", path, i);
                    return -1;
                }
                if (apply(c, 'o', "url", json_string_value(u), err, errlen) ||
                    (us && apply(c, 'u', "user", json_string_value(us), err, errlen)) ||
                    (pw && apply(c, 'p', "pass", json_string_value(pw), err, errlen)))
                    return -1;
            }
            continue;
        }
        const struct option *lo = NULL;
        for (const struct option *o = long_opts; o->name; o++) {
            if (strcmp(o->name, key) == 0) {
                lo = o;
                break;
            }
        }
        if (!lo || lo->val == 'c' || lo->val == 'h') {
            snprintf(err, errlen, "config %s: unknown key \"%s\"", path, key);
            return -1;
        }
        char buf[64];
        const char *v = NULL;
        if (lo->has_arg == optional_argument && json_is_boolean(val)) {
            if (!json_is_true(val))
                continue;
        } else if (lo->has_arg == no_argument) {
            if (!json_is_boolean(val)) {
                snprintf(err, errlen, "config %s: \"%s\" must be true or false", path, key);
                return -1;
            }
            if (!json_is_true(val))
                continue;
        } else if (json_is_string(val)) {
            v = json_string_value(val);
        } else if (json_is_number(val)) {
            if (c->nowned == sizeof c->owned / sizeof c->owned[0]) {
                snprintf(err, errlen, "config %s: more than %zu numbers", path, c->nowned);
                return -1;
            }
            snprintf(buf, sizeof buf, "%.17g", json_number_value(val));
            v = strdup(buf); /* freed with the parse (pk_mine_cli_free) */
            if (!v)
                return -1;
            c->owned[c->nowned++] = (char *)v;
        } else {
            snprintf(err, errlen, "config %s: \"%s\" must be a string or number", path, key);
            return -1;
        }
        char name[320];
        snprintf(name, sizeof name, "\"%s\" in %s", key, path);
        if (apply(c, lo->val, name, v, err, errlen))
            return -1;
    }
    return 0;
}

int pk_mine_cli_parse(pk_mine_cli *c, int argc, char **argv, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    /* The config file first, so the command line overrides it. */
    for (int i = 1; i < argc - 1; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            if (load_config(c, argv[i + 1], err, errlen))
                return -1;
        }
    }
    int opt, idx;
    optind = 1;
    opterr = 0;
    int cli_pools = 0;
    for (;;) {
        idx = -1; /* getopt_long sets it only for long options */
        opt = getopt_long(argc, argv, ":o:u:p:t:c:ql:hVa:O:T:R:r:DS", long_opts, &idx);
        if (opt == -1)
            break;
        if (opt == 'h' || opt == 'V') {
            c->help = opt == 'h' ? 1 : 2;
            return 0;
        }
        if (opt == 'c')
            continue;
        if (opt == '?' || opt == ':') {
            snprintf(err, errlen, "%s option '%s'", opt == ':' ? "missing value for" : "unknown",
                     argv[optind - 1]);
            return -1;
        }
        if (opt == 'o' && !cli_pools++) {
            c->opts.pool.npools = 0; /* pools on the command line replace the config's */
        }
        /* cpuminer writes "--cpu-affinity 0x5": a mask as the next word. */
        if (opt == O_AFFINITY && !optarg && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
            optarg = argv[optind++];
        /* The option as typed ("-t", "--threads"), for messages. */
        int at = optind - 1;
        if (optarg && at > 0 && optarg == argv[at])
            at--;
        char name[48];
        const char *tok = argv[at];
        size_t n = tok[1] == '-' ? strcspn(tok, "=") : 2;
        snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), tok);
        if (apply(c, opt, name, optarg, err, errlen))
            return -1;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (c->benchmark && (c->opts.node.url || c->opts.pool.npools)) {
        snprintf(err, errlen, "--benchmark mines the offline job: no -o or --node with it");
        return -1;
    }
    if (c->opts.node.url && c->opts.pool.npools) {
        snprintf(err, errlen, "--node and -o are alternatives: solo on a node, or pools");
        return -1;
    }
    if (c->opts.node.url && !c->opts.node.address == !c->opts.node.payout_script_hex) {
        snprintf(err, errlen, "--node needs exactly one of --address or --payout-script");
        return -1;
    }
    for (size_t i = 0; i < c->opts.pool.npools; i++) {
        if (!c->opts.pool.pools[i].user) {
            snprintf(err, errlen, "pool %zu (%s) has no -u USER", i, c->opts.pool.pools[i].url);
            return -1;
        }
    }
    return 0;
}

void pk_mine_cli_free(pk_mine_cli *c)
{
    json_decref(c->config);
    c->config = NULL;
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    c->nowned = 0;
}

int pk_cmd_mine(int argc, char **argv)
{
    pk_mine_cli cli;
    char err[512];
    if (pk_mine_cli_parse(&cli, argc, argv, err, sizeof err)) {
        fprintf(stderr, "powkit mine: %s (see 'powkit mine --help')\n", err);
        pk_mine_cli_free(&cli);
        return 2;
    }
    if (cli.help) {
        if (cli.help == 2)
            printf("powkit %s\n", POWKIT_VERSION);
        else
            pk_usage_mine(stdout);
        pk_mine_cli_free(&cli);
        return 0;
    }
    if (cli.log_level)
        pk_log_set_level((pk_log_level)(cli.log_level - 1));
    if (cli.log_file && pk_log_to_file(cli.log_file)) {
        fprintf(stderr, "powkit mine: --log-file %s: %s\n", cli.log_file, strerror(errno));
        pk_mine_cli_free(&cli);
        return 2;
    }
    if (cli.syslog)
        pk_log_to_syslog("powkit");
    pk_miner *m;
    if (pk_miner_new(&cli.opts, &m, err, sizeof err)) {
        fprintf(stderr, "powkit mine: %s\n", err);
        pk_mine_cli_free(&cli);
        return 2;
    }
    int rc = pk_miner_run(m);
    int restart = pk_miner_restart_asked(m);
    /* Done: a late SIGINT or SIGTERM (a second Ctrl-C, timeout -s INT
     * signalling twice) must not turn a clean stop into a kill once the
     * miner's handlers are gone.  Blocked first, then ignored, which
     * discards any that is pending. */
    sigset_t late;
    sigemptyset(&late);
    sigaddset(&late, SIGINT);
    sigaddset(&late, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &late, NULL);
    pk_miner_free(m);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    pk_log_to_file(NULL);
    pk_log_to_syslog(NULL);
    pk_mine_cli_free(&cli);
    if (restart) {
        /* cgminer's `restart`: the same program and arguments again
         * (argv is main's, one past the program's name). */
        fflush(NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_UNBLOCK, &late, NULL);
        execv("/proc/self/exe", argv - 1);
        fprintf(stderr, "powkit mine: restart: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}
