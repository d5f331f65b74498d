/* powkit: the command line. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "powkit/bench.h"
#include "powkit/cpu.h"
#include "powkit/device.h"
#include "powkit/dispatch.h"
#include "powkit/error.h"
#include "powkit/log.h"
#include "powkit/mine_cli.h"
#include "powkit/sha256.h"
#include "commands.h"

#ifndef POWKIT_VERSION
#define POWKIT_VERSION "dev"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "powkit %s: Bitcoin proof-of-work toolkit\n"
            "\n"
            "usage: powkit COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  mine       mine on pools (-o URL -u USER -p PASS) or, with none, the offline job\n"
            "  bench      mine the embedded offline job on every CPU kernel and report speeds\n"
            "  verify-block FILE [--json]       check a block (raw or hex): PoW, merkle, witness, ...\n"
            "  verify-headers FILE [--start-height H] [--json]  check a file of 80-byte headers\n"
            "  selftest   check every kernel against the reference and show the pick\n"
            "  version    print the version\n"
            "\n"
            "bench options:\n"
            "  --seconds N     time per row (default 2)\n"
            "  -t, --threads N threads for the multi-thread rows (default: all CPUs)\n"
            "  --kernel NAME   only this kernel (ref, shani, avx2, avx512)\n"
            "  --cpu-affinity  pin thread i to CPU i\n"
            "  --json          one JSON object on stdout instead of the table\n"
            "\n"
            "environment:\n"
            "  POWKIT_DISABLE=shani,avx2,...  switch kernels off (ref always stays)\n"
            "  POWKIT_CACHE_DIR=DIR           where the kernel pick is cached\n",
            POWKIT_VERSION);
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int init_dispatch(pk_dispatch *d)
{
    int rc = pk_dispatch_init(d, pk_kernels_all, pk_kernels_count, NULL);
    if (rc) {
        fprintf(stderr, "powkit: kernel dispatch: %s\n", pk_strerror(rc));
        return -1;
    }
    return 0;
}

static const pk_bench_row *find_row(const pk_bench_row *rows, size_t n, const char *kernel,
                                    unsigned threads)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].kernel, kernel) == 0 && rows[i].threads == threads &&
            rows[i].selftest == PK_SELFTEST_OK)
            return &rows[i];
    }
    return NULL;
}

static int cmd_bench(int argc, char **argv)
{
    double seconds = 2.0;
    unsigned threads = pk_online_cpus();
    const char *only = NULL;
    int json = 0, affinity = 0;
    static const struct option opts[] = {
        {"seconds", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
        {"kernel", required_argument, 0, 'k'},  {"cpu-affinity", no_argument, 0, 'a'},
        {"json", no_argument, 0, 'j'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': {
            char *end;
            seconds = strtod(optarg, &end);
            if (*end || !(seconds > 0 && seconds <= 3600)) {
                fprintf(stderr, "powkit bench: --seconds wants a number in (0, 3600], got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 't':
            if (parse_uint(optarg, 1, 1024, &threads)) {
                fprintf(stderr, "powkit bench: -t wants a whole number from 1 to 1024, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'k': only = optarg; break;
        case 'a': affinity = 1; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "powkit bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    pk_dispatch disp;
    if (init_dispatch(&disp))
        return 2;
    if (only) {
        int err;
        if (!pk_dispatch_get(&disp, only, &err)) {
            fprintf(stderr, "powkit bench: kernel '%s': %s\n", only, pk_strerror(err));
            return 2;
        }
    }

    pk_bench_row rows[2 * PK_DISPATCH_MAX];
    size_t nrows = 0;
    uint64_t invalid = 0;
    for (size_t i = 0; i < disp.count; i++) {
        const pk_kernel_entry *e = &disp.entries[i];
        if (only && strcmp(only, e->kernel->name) != 0)
            continue;
        unsigned counts[2] = {1, threads};
        for (int j = 0; j < (threads > 1 ? 2 : 1); j++) {
            pk_bench_row *row = &rows[nrows++];
            if (e->status != PK_SELFTEST_OK) {
                memset(row, 0, sizeof *row);
                row->kernel = e->kernel->name;
                row->threads = counts[j];
                row->selftest = e->status;
                break; /* one row says it cannot run */
            }
            if (!json && isatty(STDERR_FILENO)) {
                fprintf(stderr, "  %s on %u thread%s...\r", e->kernel->name, counts[j],
                        counts[j] > 1 ? "s" : "");
                fflush(stderr);
            }
            int rc = pk_bench_row_run(e->kernel, counts[j], seconds, affinity, row);
            row->selftest = e->status;
            if (rc) {
                fprintf(stderr, "powkit bench: %s: %s\n", e->kernel->name, pk_strerror(rc));
                return 2;
            }
            invalid += row->invalid;
        }
    }

    if (!json && isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K");
    char feats[128];
    pk_cpu_feature_names(disp.cpu, feats, sizeof feats);
    if (json) {
        json_t *root = json_object(), *arr = json_array();
        json_object_set_new(root, "powkit", json_string(POWKIT_VERSION));
        json_object_set_new(root, "cpu", json_string(pk_cpu_brand()));
        json_object_set_new(root, "features", json_string(feats));
        json_object_set_new(root, "online_cpus", json_integer(pk_online_cpus()));
        json_object_set_new(root, "seconds", json_real(seconds));
        json_object_set_new(root, "best", json_string(disp.best->name));
        json_object_set_new(root, "best_from_cache", json_boolean(disp.best_from_cache));
        json_object_set_new(root, "sha256", json_string(pk_sha256_implementation()));
        for (size_t i = 0; i < nrows; i++) {
            const pk_bench_row *r = &rows[i];
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(r->kernel));
            json_object_set_new(o, "threads", json_integer(r->threads));
            json_object_set_new(o, "mhs", json_real(r->mhs));
            json_object_set_new(o, "selftest", json_string(pk_selftest_name(r->selftest)));
            if (r->selftest == PK_SELFTEST_OK) {
                json_object_set_new(o, "mhs_per_thread", json_real(r->mhs / r->threads));
                const pk_bench_row *ref = find_row(rows, nrows, "ref", r->threads);
                json_object_set_new(o, "speedup_vs_ref",
                                    ref && ref->mhs > 0 ? json_real(r->mhs / ref->mhs) : json_null());
                const pk_bench_row *one = find_row(rows, nrows, r->kernel, 1);
                if (r->threads > 1 && one && one->mhs > 0)
                    json_object_set_new(o, "scaling", json_real(r->mhs / one->mhs));
                json_object_set_new(o, "hashes", json_integer((json_int_t)r->hashes));
                json_object_set_new(o, "shares", json_integer((json_int_t)r->shares));
                json_object_set_new(o, "invalid", json_integer((json_int_t)r->invalid));
                json_object_set_new(o, "elapsed", json_real(r->seconds));
            }
            json_array_append_new(arr, o);
        }
        json_object_set_new(root, "kernels", arr);
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(root);
    } else {
        printf("powkit %s bench: %s [%s], %.1f s per row\n", POWKIT_VERSION, pk_cpu_brand(),
               feats, seconds);
        printf("%-8s %7s %10s %12s %8s %8s %7s  %s\n", "kernel", "threads", "MH/s", "MH/s/thread",
               "vs ref", "scaling", "shares", "selftest");
        for (size_t i = 0; i < nrows; i++) {
            const pk_bench_row *r = &rows[i];
            if (r->selftest != PK_SELFTEST_OK) {
                printf("%-8s %7s %10s %12s %8s %8s %7s  %s\n", r->kernel, "-", "-", "-", "-", "-",
                       "-", pk_selftest_name(r->selftest));
                continue;
            }
            const pk_bench_row *ref = find_row(rows, nrows, "ref", r->threads);
            const pk_bench_row *one = find_row(rows, nrows, r->kernel, 1);
            char vs[16] = "-", sc[16] = "-";
            if (ref && ref->mhs > 0)
                snprintf(vs, sizeof vs, "%.2fx", r->mhs / ref->mhs);
            if (r->threads > 1 && one && one->mhs > 0)
                snprintf(sc, sizeof sc, "%.2fx", r->mhs / one->mhs);
            printf("%-8s %7u %10.2f %12.2f %8s %8s %7llu  %s\n", r->kernel, r->threads, r->mhs,
                   r->mhs / r->threads, vs, sc, (unsigned long long)r->shares,
                   pk_selftest_name(r->selftest));
        }
        printf("default kernel: %s (%s)\n", disp.best->name,
               disp.best_from_cache ? "cached pick" : "measured now");
    }
    if (invalid) {
        fprintf(stderr, "powkit bench: %llu nonce(s) reported by a kernel failed the reference recheck\n",
                (unsigned long long)invalid);
        return 1;
    }
    return 0;
}

static int cmd_mine(int argc, char **argv)
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
            pk_mine_usage(stdout);
        pk_mine_cli_free(&cli);
        return 0;
    }
    pk_miner *m;
    if (pk_miner_new(&cli.opts, &m, err, sizeof err)) {
        fprintf(stderr, "powkit mine: %s\n", err);
        pk_mine_cli_free(&cli);
        return 2;
    }
    int rc = pk_miner_run(m);
    pk_miner_free(m);
    pk_mine_cli_free(&cli);
    return rc;
}

static int cmd_selftest(void)
{
    pk_dispatch disp;
    if (init_dispatch(&disp))
        return 2;
    char feats[128];
    pk_cpu_feature_names(disp.cpu, feats, sizeof feats);
    printf("cpu: %s [%s]\nsha256: %s\n", pk_cpu_brand(), feats, pk_sha256_implementation());
    int failed = 0;
    for (size_t i = 0; i < disp.count; i++) {
        const pk_kernel_entry *e = &disp.entries[i];
        printf("%-8s %s", e->kernel->name, pk_selftest_name(e->status));
        if (e->calib_mhs > 0)
            printf("  %.2f MH/s (calibration, 1 thread)", e->calib_mhs);
        printf("\n");
        failed |= e->status == PK_SELFTEST_FAILED;
    }
    printf("default kernel: %s (%s)\n", disp.best->name,
           disp.best_from_cache ? "cached pick" : "measured now");
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "verify-block") == 0)
        return pk_cmd_verify_block(argc - 1, argv + 1);
    if (strcmp(cmd, "verify-headers") == 0)
        return pk_cmd_verify_headers(argc - 1, argv + 1);
    if (strcmp(cmd, "mine") == 0)
        return cmd_mine(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "selftest") == 0)
        return cmd_selftest();
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("powkit %s\n", POWKIT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "powkit: unknown command '%s' (try 'powkit help')\n", cmd);
    return 2;
}
