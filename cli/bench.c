/* `powkit bench`: every CPU kernel and layout, and every OpenCL device, on
 * the embedded offline job. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "powkit/bench.h"
#include "powkit/cpu.h"
#include "powkit/device.h"
#include "powkit/dispatch.h"
#include "powkit/error.h"
#include "powkit/opencl.h"
#include "powkit/sha256.h"

void pk_usage_bench(FILE *f)
{
    fprintf(f,
            "usage: powkit bench [--seconds N] [-t N] [--kernel NAME] [--cpu-affinity] [--json]\n"
            "                    [--no-opencl] [--no-version-lanes]\n"
            "\n"
            "Mines the embedded offline job on every CPU kernel and layout (1 thread and\n"
            "all of them) and every OpenCL device; prints MH/s, speed-up over ref, scaling,\n"
            "shares (each rechecked with the reference hash) and the self-test result.\n"
            "\n"
            "  --seconds N         time per row (default 2)\n"
            "  -t, --threads N     threads for the multi-thread rows (default: all CPUs)\n"
            "  --kernel NAME       only this kernel (ref, shani, avx2, avx512) or layout (avx512:1)\n"
            "  --cpu-affinity      pin thread i to CPU i\n"
            "  --json              one JSON object on stdout instead of the table\n"
            "  --no-opencl         no rows for OpenCL devices (opencl:N)\n"
            "  --no-version-lanes  no <layout>+v rows (rolled versions side by side in the lanes)\n"
            "  --recalibrate       measure the kernels for the pick even when it is cached, and\n"
            "                      cache the new pick\n"
            "\n"
            "exit status: 0 done, 1 a found nonce failed the recheck, 2 usage error\n");
}

/* The kernel dispatch every command that mines or tests kernels starts
 * with; -1 after a message. */
int pk_cli_init_dispatch(pk_dispatch *d, int recalibrate)
{
    pk_dispatch_opts o = {.recalibrate = recalibrate};
    int rc = pk_dispatch_init(d, pk_kernels_all, pk_kernels_count, &o);
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

int pk_cmd_bench(int argc, char **argv)
{
    double seconds = 2.0;
    unsigned threads = pk_online_cpus();
    const char *only = NULL;
    int no_vlanes = 0, recalibrate = 0;
    int json = 0, affinity = 0, no_opencl = 0;
    static const struct option opts[] = {
        {"no-opencl", no_argument, 0, 'n'},
        {"seconds", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
        {"kernel", required_argument, 0, 'k'},  {"cpu-affinity", no_argument, 0, 'a'},
        {"json", no_argument, 0, 'j'},          {"no-version-lanes", no_argument, 0, 'V'},
        {"recalibrate", no_argument, 0, 'R'},
        {0, 0, 0, 0},
    };
    pk_args a;
    pk_args_init(&a, "bench", pk_usage_bench, argc, argv, "t:", opts);
    int c, first;
    while ((c = pk_args_next(&a)) != PK_ARGS_END) {
        switch (c) {
        case PK_ARGS_HELP: return PK_EXIT_OK;
        case PK_ARGS_ERROR: return PK_EXIT_USAGE;
        case 's':
            if (pk_args_double(&a, optarg, 0.001, 3600, &seconds))
                return PK_EXIT_USAGE;
            break;
        case 't':
            if (pk_args_uint(&a, optarg, 1, 1024, &threads))
                return PK_EXIT_USAGE;
            break;
        case 'k': only = optarg; break;
        case 'a': affinity = 1; break;
        case 'n': no_opencl = 1; break;
        case 'j': json = 1; break;
        case 'V': no_vlanes = 1; break;
        case 'R': recalibrate = 1; break;
        }
    }
    if (pk_args_operands(&a, 0, 0, &first) < 0)
        return PK_EXIT_USAGE;

    pk_dispatch disp;
    if (pk_cli_init_dispatch(&disp, recalibrate))
        return PK_EXIT_USAGE;
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
        /* What `powkit mine` mines when versions roll in the lanes. */
        json_object_set_new(root, "best_version_lanes",
                            disp.best_vlanes ? json_string(disp.best_vlanes->name) : json_null());
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
        printf("default kernel: %s (%s)", disp.best->name, disp.best_from_cache ? "cached pick" : "measured now");
        if (disp.best_vlanes)
            printf("; with version lanes %s+v", disp.best_vlanes->name);
        printf("\n");
    }
    if (invalid) {
        fprintf(stderr, "powkit bench: %llu nonce(s) reported by a kernel failed the reference recheck\n",
                (unsigned long long)invalid);
        return 1;
    }
    return 0;
}
