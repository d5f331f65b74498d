/* `powkit mine`: options and config file into pk_miner_opts. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/log.h"
#include "powkit/mine_cli.h"

void pk_mine_usage(FILE *f)
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
            "  --cpu-affinity           pin thread i to CPU i\n"
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
            "  -l, --log, --status-interval N  status line every N s (default 10)\n"
            "  -q, --quiet              no status lines\n"
            "  --log-level LEVEL        error, warn, info (default), debug\n"
            "  --api-listen HOST:PORT   GET /status (JSON) and /metrics (Prometheus)\n"
            "  --duration S             stop after S seconds\n");
}

enum {
    O_CERT = 1000, O_INSECURE, O_NO_EN, O_NO_VR, O_SUGGEST, O_REDIRECT, O_NOWORK, O_MAXREJ,
    O_FAILBACK, O_KERNEL, O_AFFINITY, O_DEVICES, O_LOGLEVEL, O_API, O_DURATION, O_NORMALPRIO,
    O_CLVW, O_CLGLOBAL, O_CLMS, O_NODE, O_ADDRESS, O_PAYOUT, O_RPCUSER, O_RPCPASS, O_COOKIE, O_TAG, O_BLOCKS, O_BLOCKSDIR, O_REFRESH,
    O_NO_VLANES,
};

static const struct option long_opts[] = {
    {"url", required_argument, 0, 'o'},         {"user", required_argument, 0, 'u'},
    {"pass", required_argument, 0, 'p'},        {"threads", required_argument, 0, 't'},
    {"config", required_argument, 0, 'c'},      {"quiet", no_argument, 0, 'q'},
    {"log", required_argument, 0, 'l'},         {"status-interval", required_argument, 0, 'l'},
    {"cert", required_argument, 0, O_CERT},     {"insecure", no_argument, 0, O_INSECURE},
    {"no-extranonce", no_argument, 0, O_NO_EN}, {"no-version-rolling", no_argument, 0, O_NO_VR},
    {"no-version-lanes", no_argument, 0, O_NO_VLANES},
    {"suggest-diff", required_argument, 0, O_SUGGEST},
    {"allow-redirect", no_argument, 0, O_REDIRECT},
    {"no-work-timeout", required_argument, 0, O_NOWORK},
    {"max-rejects", required_argument, 0, O_MAXREJ},
    {"failback", required_argument, 0, O_FAILBACK}, {"kernel", required_argument, 0, O_KERNEL},
    {"cpu-affinity", no_argument, 0, O_AFFINITY}, {"devices", required_argument, 0, O_DEVICES},
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

static int num(const char *name, const char *v, double lo, double hi, double *out, char *err,
               size_t errlen)
{
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= lo && d <= hi)) {
        snprintf(err, errlen, "--%s wants a number from %g to %g, got '%s'", name, lo, hi, v);
        return -1;
    }
    *out = d;
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
    case 't':
        if (num(name, v, 1, 1024, &d, err, errlen))
            return -1;
        o->threads = (unsigned)d;
        return 0;
    case 'q': o->quiet = 1; return 0;
    case 'l':
        if (num(name, v, 1, 86400, &d, err, errlen))
            return -1;
        o->status_interval_s = (unsigned)d;
        return 0;
    case O_CERT: po->ca_file = v; return 0;
    case O_INSECURE: po->insecure = 1; return 0;
    case O_NO_EN: po->no_extranonce = 1; return 0;
    case O_NO_VR: po->no_version_rolling = 1; return 0;
    case O_NO_VLANES: o->no_version_lanes = 1; return 0;
    case O_SUGGEST: return num(name, v, 1e-12, 1e15, &po->suggest_difficulty, err, errlen);
    case O_REDIRECT: po->allow_redirect = 1; return 0;
    case O_NOWORK:
        if (num(name, v, 1, 86400, &d, err, errlen))
            return -1;
        po->no_work_timeout_s = (unsigned)d;
        return 0;
    case O_MAXREJ:
        if (num(name, v, 1, 1e6, &d, err, errlen))
            return -1;
        po->max_rejects = (unsigned)d;
        return 0;
    case O_FAILBACK:
        if (num(name, v, 0.001, 86400, &d, err, errlen))
            return -1;
        po->failback_stable_ms = (unsigned)(d * 1000);
        return 0;
    case O_KERNEL: o->kernel = v; return 0;
    case O_AFFINITY: o->affinity = 1; return 0;
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
                snprintf(err, errlen, "--devices wants cpu and opencl:N, comma separated; got '%s'", v);
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
            snprintf(err, errlen, "--log-level wants error, warn, info or debug, got '%s'", v);
            return -1;
        }
        pk_log_set_level(lv);
        return 0;
    }
    case O_API: o->api_listen = v; return 0;
    case O_CLVW:
        if (num(name, v, 1, 16, &d, err, errlen))
            return -1;
        if (d != 1 && d != 2 && d != 4 && d != 8 && d != 16) {
            snprintf(err, errlen, "--cl-vector-width wants 1, 2, 4, 8 or 16, got '%s'", v);
            return -1;
        }
        o->cl_vector_width = (unsigned)d;
        return 0;
    case O_CLGLOBAL:
        if (num(name, v, 64, 1 << 26, &d, err, errlen))
            return -1;
        o->cl_global = (unsigned)d;
        return 0;
    case O_CLMS:
        if (num(name, v, 1, 1000, &d, err, errlen))
            return -1;
        o->cl_launch_ms = (unsigned)d;
        return 0;
    case O_NODE: o->node.url = v; return 0;
    case O_ADDRESS: o->node.address = v; return 0;
    case O_PAYOUT: o->node.payout_script_hex = v; return 0;
    case O_RPCUSER: o->node.user = v; return 0;
    case O_RPCPASS: o->node.pass = v; return 0;
    case O_COOKIE: o->node.cookie = v; return 0;
    case O_TAG: o->node.coinbase_tag = v; return 0;
    case O_BLOCKSDIR: o->node.blocks_dir = v; return 0;
    case O_BLOCKS:
        if (num(name, v, 1, 1e9, &d, err, errlen))
            return -1;
        o->node.max_blocks = (unsigned)d;
        return 0;
    case O_REFRESH:
        if (num(name, v, 1, 86400, &d, err, errlen))
            return -1;
        o->node.refresh_s = (unsigned)d;
        return 0;
    case O_DURATION: return num(name, v, 0.001, 1e9, &o->duration_s, err, errlen);
    }
    snprintf(err, errlen, "unknown option");
    return -1;
}

static int load_config(pk_mine_cli *c, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_decref(c->config); /* a second --config replaces the first */
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
        if (lo->has_arg == no_argument) {
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
        if (apply(c, lo->val, key, v, err, errlen))
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
        opt = getopt_long(argc, argv, ":o:u:p:t:c:ql:hV", long_opts, &idx);
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
        const char *name = idx >= 0 && long_opts[idx].val == opt ? long_opts[idx].name : "option";
        if (apply(c, opt, name, optarg, err, errlen))
            return -1;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
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
