/* powkit: the command line. */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <secp256k1.h>
#include <signal.h>
#include <stdint.h>
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
#include "powkit/opencl.h"
#include "powkit/sha256.h"
#include "powkit/version.h"
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
            "  verify-sigs [FILE|-] [--threads N] [--engine E] [--no-batch] [--lax-der] [--low-s]\n"
            "                                   JSON lines of signature checks (engines: libsecp256k1, portable, ifma)\n"
            "  devices [--json]                 the CPU's kernels and every OpenCL device\n"
            "  selftest   check every kernel against the reference and show the pick\n"
            "  version [--json]                 the version, commit, compiler, kernels, OpenCL loader, libsecp256k1\n"
            "\n"
            "bench options:\n"
            "  --seconds N     time per row (default 2)\n"
            "  -t, --threads N threads for the multi-thread rows (default: all CPUs)\n"
            "  --kernel NAME   only this kernel (ref, shani, avx2, avx512) or layout (avx512:1)\n"
            "  --cpu-affinity  pin thread i to CPU i\n"
            "  --json          one JSON object on stdout instead of the table\n"
            "  --no-opencl     no rows for OpenCL devices (opencl:N)\n"
            "  --no-version-lanes  no <layout>+v rows (rolled versions side by side in the lanes)\n"
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
    int no_vlanes = 0;
    int json = 0, affinity = 0, no_opencl = 0;
    static const struct option opts[] = {
        {"no-opencl", no_argument, 0, 'n'},
        {"seconds", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
        {"kernel", required_argument, 0, 'k'},  {"cpu-affinity", no_argument, 0, 'a'},
        {"json", no_argument, 0, 'j'},          {"help", no_argument, 0, 'h'},
        {"no-version-lanes", no_argument, 0, 'V'},
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
        case 'n': no_opencl = 1; break;
        case 'j': json = 1; break;
        case 'V': no_vlanes = 1; break;
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

    pk_bench_row rows[6 * PK_DISPATCH_MAX + 8];
    char cl_names[8][16], families[PK_DISPATCH_MAX][32], vnames[PK_DISPATCH_MAX][40];
    size_t nrows = 0, nfamilies = 0, nv = 0;
    uint64_t invalid = 0;
    for (size_t i = 0; i < disp.count; i++) {
        const pk_kernel_entry *e = &disp.entries[i];
        if (only && strcmp(only, e->kernel->name) != 0 &&
            (strchr(only, ':') || !pk_kernel_in_family(e->kernel, only)))
            continue;
        /* Before a family's first layout, the family's own rows: the
         * layout its name picks here (filled in once all are measured). */
        const char *colon = strchr(e->kernel->name, ':');
        if (colon && !(only && strchr(only, ':')) && (size_t)(colon - e->kernel->name) < sizeof families[0] &&
            (nfamilies == 0 || !pk_kernel_in_family(e->kernel, families[nfamilies - 1]))) {
            char *fam = families[nfamilies++];
            memcpy(fam, e->kernel->name, (size_t)(colon - e->kernel->name));
            fam[colon - e->kernel->name] = 0;
            for (int j = 0; j < (threads > 1 ? 2 : 1); j++) {
                pk_bench_row *row = &rows[nrows++];
                memset(row, 0, sizeof *row);
                row->kernel = fam;
                row->threads = j ? threads : 1;
                row->selftest = PK_SELFTEST_FAILED; /* until filled in */
            }
        }
        unsigned counts[2] = {1, threads};
        /* Version lanes: the family pick's "+v" row, or every asked-for
         * layout's. */
        const char *fam_of = colon && nfamilies ? families[nfamilies - 1] : NULL;
        int with_v = !no_vlanes && e->status == PK_SELFTEST_OK && e->kernel->vscan &&
                     (only || (fam_of && pk_dispatch_entry(&disp, fam_of) == e));
        for (int v = 0; v < (with_v ? 2 : 1); v++) {
            const char *rname = e->kernel->name;
            if (v) {
                snprintf(vnames[nv], sizeof vnames[nv], "%s+v", e->kernel->name);
                rname = vnames[nv++];
            }
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
                    fprintf(stderr, "  %s on %u thread%s...\r", rname, counts[j], counts[j] > 1 ? "s" : "");
                    fflush(stderr);
                }
                int rc = pk_bench_row_run_lanes(e->kernel, counts[j], seconds, affinity, v, row);
                row->kernel = rname;
                row->selftest = e->status;
                if (rc) {
                    fprintf(stderr, "powkit bench: %s: %s\n", rname, pk_strerror(rc));
                    return 2;
                }
                invalid += row->invalid;
            }
        }
    }

    /* Family rows: copies of the picked layout's rows. */
    for (size_t i = 0; i < nrows; i++) {
        pk_bench_row *r = &rows[i];
        int is_family = 0;
        for (size_t f = 0; f < nfamilies; f++)
            is_family |= r->kernel == families[f];
        if (!is_family)
            continue;
        const pk_kernel_entry *pick = pk_dispatch_entry(&disp, r->kernel);
        const pk_bench_row *src = pick ? find_row(rows, nrows, pick->kernel->name, r->threads) : NULL;
        if (!src) { /* it cannot run here: say why, as its layouts do */
            r->selftest = pick && pick->status != PK_SELFTEST_OK ? pick->status : PK_SELFTEST_UNSUPPORTED;
            r->layout = pick ? pick->kernel->name : "";
            continue;
        }
        const char *name = r->kernel;
        unsigned t = r->threads;
        *r = *src;
        r->kernel = name;
        r->threads = t;
        r->layout = pick->kernel->name;
    }
    /* A family that cannot run keeps one row, as a kernel does. */
    for (size_t i = 0; i + 1 < nrows; i++) {
        if (rows[i].layout && rows[i + 1].kernel == rows[i].kernel && rows[i].selftest != PK_SELFTEST_OK) {
            memmove(&rows[i + 1], &rows[i + 2], (nrows - i - 2) * sizeof rows[0]);
            nrows--;
        }
    }
    if (!json && isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K");
    /* OpenCL devices: one row each, on the same offline job. */
    if (!no_opencl && !only) {
        pk_cl_info info[8];
        char clerr[256];
        size_t ncl = pk_cl_list(info, 8, clerr, sizeof clerr);
        for (size_t i = 0; i < ncl; i++) {
            pk_cl_opts co = {.index = info[i].index};
            char derr[4096];
            snprintf(cl_names[i], sizeof cl_names[i], "opencl:%u", info[i].index);
            pk_device *dev = pk_cl_device_new(&co, 1, derr, sizeof derr);
            pk_bench_row *row = &rows[nrows++];
            memset(row, 0, sizeof *row);
            row->kernel = cl_names[i];
            row->threads = info[i].compute_units;
            if (!dev) {
                row->selftest = PK_SELFTEST_FAILED;
                fprintf(stderr, "powkit bench: %s: %s\n", cl_names[i], derr);
                continue;
            }
            pk_bench_device_run(dev, seconds, row);
            row->selftest = PK_SELFTEST_OK;
            invalid += row->invalid;
            pk_device_destroy(dev);
        }
    }
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
            if (r->layout)
                json_object_set_new(o, "layout", json_string(r->layout));
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
        printf("%-10s %7s %10s %12s %8s %8s %7s  %s\n", "kernel", "threads", "MH/s", "MH/s/thread",
               "vs ref", "scaling", "shares", "selftest");
        for (size_t i = 0; i < nrows; i++) {
            const pk_bench_row *r = &rows[i];
            if (r->selftest != PK_SELFTEST_OK) {
                printf("%-10s %7s %10s %12s %8s %8s %7s  %s\n", r->kernel, "-", "-", "-", "-", "-",
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
            printf("%-10s %7u %10.2f %12.2f %8s %8s %7llu  %s%s%s\n", r->kernel, r->threads, r->mhs,
                   r->mhs / r->threads, vs, sc, (unsigned long long)r->shares,
                   pk_selftest_name(r->selftest), r->layout ? ", picks " : "", r->layout ? r->layout : "");
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
    pk_mine_cli_free(&cli);
    return rc;
}

static int cmd_devices(int argc, char **argv)
{
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    pk_dispatch disp;
    if (init_dispatch(&disp))
        return 2;
    char feats[128], clerr[256] = "";
    pk_cpu_feature_names(disp.cpu, feats, sizeof feats);
    pk_cl_info info[8];
    size_t ncl = pk_cl_list(info, 8, clerr, sizeof clerr);
    if (json) {
        json_t *ks = json_array(), *cls = json_array();
        for (size_t i = 0; i < disp.count; i++)
            json_array_append_new(ks, json_pack("{s:s, s:s}", "name", disp.entries[i].kernel->name, "selftest",
                                                pk_selftest_name(disp.entries[i].status)));
        for (size_t i = 0; i < ncl; i++)
            json_array_append_new(cls, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:i, s:s}", "name",
                                                 info[i].name, "platform", info[i].platform, "vendor",
                                                 info[i].vendor, "driver", info[i].driver, "id", "",
                                                 "compute_units", (int)info[i].compute_units, "global_mem",
                                                 (json_int_t)info[i].global_mem, "preferred_vector_width",
                                                 (int)info[i].pref_vector_width, "type",
                                                 info[i].is_cpu ? "cpu" : "gpu/accelerator"));
        for (size_t i = 0; i < ncl; i++) {
            char id[16];
            snprintf(id, sizeof id, "opencl:%u", info[i].index);
            json_object_set_new(json_array_get(cls, i), "id", json_string(id));
        }
        json_t *root = json_pack("{s:{s:s, s:s, s:i, s:o, s:s}, s:o}", "cpu", "id", "cpu", "name", pk_cpu_brand(),
                                 "cores", (int)pk_online_cpus(), "kernels", ks, "default_kernel", disp.best->name,
                                 "opencl", cls);
        json_object_set_new(json_object_get(root, "cpu"), "features", json_string(feats));
        if (ncl == 0)
            json_object_set_new(root, "opencl_error", json_string(clerr));
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(root);
        return 0;
    }
    printf("cpu        %s [%s], %u cores, default kernel %s\n", pk_cpu_brand(), feats, pk_online_cpus(),
           disp.best->name);
    for (size_t i = 0; i < disp.count; i++)
        printf("  kernel %-7s %s\n", disp.entries[i].kernel->name, pk_selftest_name(disp.entries[i].status));
    if (ncl == 0)
        printf("opencl     none: %s\n", clerr);
    for (size_t i = 0; i < ncl; i++)
        printf("opencl:%-3u %s (%s, %s), driver %s, %u compute units, %llu MiB, int vector width %u%s\n",
               info[i].index, info[i].name, info[i].platform, info[i].vendor, info[i].driver,
               info[i].compute_units, (unsigned long long)(info[i].global_mem >> 20), info[i].pref_vector_width,
               info[i].is_cpu ? " [CPU device: not used by `mine` unless asked for]" : "");
    return 0;
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

/* `powkit version`: what a bug report needs.  Cheap: no self-test runs,
 * and OpenCL is asked only whether its loader opens. */
static int cmd_version(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            fprintf(stderr, "powkit version: unknown argument '%s' (usage: powkit version [--json])\n", argv[i]);
            return 2;
        }
    }
    const pk_build_info *bi = pk_build_info_get();
    unsigned cpu = pk_cpu_features();
    char compiled[512] = "", runnable[512] = "", feats[128], clpath[512] = "", clerr[256] = "";
    for (size_t i = 0; i < pk_kernels_count; i++) {
        const pk_kernel *k = pk_kernels_all[i];
        size_t n = strlen(compiled);
        snprintf(compiled + n, sizeof compiled - n, "%s%s", n ? " " : "", k->name);
        if ((k->cpu_features & cpu) == k->cpu_features) {
            n = strlen(runnable);
            snprintf(runnable + n, sizeof runnable - n, "%s%s", n ? " " : "", k->name);
        }
    }
    pk_cpu_feature_names(cpu, feats, sizeof feats);
    int have_cl = pk_cl_loader(clpath, sizeof clpath, clerr, sizeof clerr);
    const char *secp_from = pk_loaded_from((const void *)(uintptr_t)secp256k1_context_create);
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "version", bi->version,
                              "commit", bi->commit, "compiler", bi->compiler, "arch", bi->arch, "kernels", compiled,
                              "cpu", pk_cpu_brand(), "cpu_kernels", runnable, "opencl_loader", have_cl,
                              "opencl", have_cl ? clpath : clerr, "secp256k1", bi->secp256k1,
                              "secp256k1_loaded_from", secp_from);
        json_object_set_new(o, "cpu_features", json_string(feats));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(o);
        return 0;
    }
    printf("powkit %s\n", bi->version);
    printf("commit        %s\n", bi->commit);
    printf("compiler      %s, %s\n", bi->compiler, bi->arch);
    printf("kernels       %s\n", compiled);
    printf("this cpu      %s [%s]: %s\n", pk_cpu_brand(), feats, runnable);
    if (have_cl)
        printf("opencl        ICD loader %s\n", clpath);
    else
        printf("opencl        none: %s\n", clerr);
    printf("libsecp256k1  %s (built against), loaded from %s\n", bi->secp256k1, secp_from);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "devices") == 0)
        return cmd_devices(argc - 1, argv + 1);
    if (strcmp(cmd, "verify-sigs") == 0)
        return pk_cmd_verify_sigs(argc - 1, argv + 1);
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
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cmd_version(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "powkit: unknown command '%s' (try 'powkit help')\n", cmd);
    return 2;
}
