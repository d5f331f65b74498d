/* `powkit devices`, `powkit selftest` and `powkit version`: what this
 * machine and this build have. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>

#include "args.h"
#include "commands.h"
#include "powkit/cpu.h"
#include "powkit/device.h"
#include "powkit/dispatch.h"
#include "powkit/opencl.h"
#include "powkit/sha256.h"
#include "powkit/version.h"

/* The options of a command whose only one is --json.  Returns -1 to go
 * on, else the exit status. */
static int json_only(const char *cmd, void (*usage)(FILE *), int argc, char **argv, int *json)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    pk_args a;
    pk_args_init(&a, cmd, usage, argc, argv, "", opts);
    int c, first;
    while ((c = pk_args_next(&a)) != PK_ARGS_END) {
        if (c == PK_ARGS_HELP)
            return PK_EXIT_OK;
        if (c == PK_ARGS_ERROR)
            return PK_EXIT_USAGE;
        if (c == 'j')
            *json = 1;
    }
    return pk_args_operands(&a, 0, 0, &first) < 0 ? PK_EXIT_USAGE : -1;
}

void pk_usage_devices(FILE *f)
{
    fprintf(f, "usage: powkit devices [--json]\n"
               "\n"
               "The CPU (features, cores), each CPU kernel and layout with its self-test result,\n"
               "the default kernel, and every OpenCL device as opencl:N (what --devices takes).\n"
               "\n"
               "  --json   one JSON object instead of the text\n"
               "\n"
               "exit status: 0 listed, 2 usage error or no kernel dispatch\n");
}

int pk_cmd_devices(int argc, char **argv)
{
    int json = 0, rc = json_only("devices", pk_usage_devices, argc, argv, &json);
    if (rc >= 0)
        return rc;
    pk_dispatch disp;
    if (pk_cli_init_dispatch(&disp, 0))
        return PK_EXIT_USAGE;
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

void pk_usage_selftest(FILE *f)
{
    fprintf(f, "usage: powkit selftest [--recalibrate]\n"
               "\n"
               "Checks every CPU kernel and layout this CPU supports against the reference\n"
               "hash, measures the ones that pass (unless the pick is cached for this CPU in\n"
               "POWKIT_CACHE_DIR), and prints each result and the default kernel.\n"
               "\n"
               "  --recalibrate   measure even when the pick is cached, and cache the new pick\n"
               "                  (a pick measured while the machine was busy stays until then)\n"
               "\n"
               "exit status: 0 every kernel that ran passed, 1 a kernel failed its self-test,\n"
               "2 usage error or no kernel dispatch\n");
}

int pk_cmd_selftest(int argc, char **argv)
{
    static const struct option opts[] = {{"recalibrate", no_argument, 0, 'r'}, {0, 0, 0, 0}};
    pk_args a;
    pk_args_init(&a, "selftest", pk_usage_selftest, argc, argv, "", opts);
    int c, first, recalibrate = 0;
    while ((c = pk_args_next(&a)) != PK_ARGS_END) {
        if (c == PK_ARGS_HELP)
            return PK_EXIT_OK;
        if (c == PK_ARGS_ERROR)
            return PK_EXIT_USAGE;
        recalibrate = 1;
    }
    if (pk_args_operands(&a, 0, 0, &first) < 0)
        return PK_EXIT_USAGE;
    pk_dispatch disp;
    if (pk_cli_init_dispatch(&disp, recalibrate))
        return PK_EXIT_USAGE;
    char feats[128];
    pk_cpu_feature_names(disp.cpu, feats, sizeof feats);
    printf("cpu: %s [%s]\nsha256: %s\n", pk_cpu_brand(), feats, pk_sha256_implementation());
    /* The multi-buffer picks (txids, signature hashes; merkle nodes, headers): each self-tested, then timed. */
    printf("sha256 many: %s (any length), %s (64 and 80 bytes)\n", pk_sha256_multi_implementation(),
           pk_sha256_multi_fixed_implementation());
    int failed = 0;
    for (size_t i = 0; i < disp.count; i++) {
        const pk_kernel_entry *e = &disp.entries[i];
        printf("%-8s %s", e->kernel->name, pk_selftest_name(e->status));
        if (e->calib_mhs > 0)
            printf("  %.2f MH/s (calibration, 1 thread)", e->calib_mhs);
        if (e->calib_vmhs > 0)
            printf("  version lanes %.2f MH/s", e->calib_vmhs);
        printf("\n");
        failed |= e->status == PK_SELFTEST_FAILED;
    }
    printf("default kernel: %s (%s)\n", disp.best->name,
           disp.best_from_cache ? "cached pick" : "measured now");
    if (disp.best_vlanes)
        printf("with version lanes: %s\n", disp.best_vlanes->name);
    return failed ? PK_EXIT_INVALID : PK_EXIT_OK;
}

/* `powkit version`: what a bug report needs.  Cheap: no self-test runs,
 * and OpenCL is asked only whether its loader opens. */
void pk_usage_version(FILE *f)
{
    fprintf(f, "usage: powkit version [--json]\n"
               "       powkit --version\n"
               "\n"
               "The version, git commit, compiler and target, the kernels compiled in and those\n"
               "this CPU runs, the OpenCL loader, and libsecp256k1's version and file.\n"
               "\n"
               "  --json   one JSON object instead of the text\n"
               "\n"
               "exit status: 0 printed, 2 usage error\n");
}

int pk_cmd_version(int argc, char **argv)
{
    int json = 0, rc = json_only("version", pk_usage_version, argc, argv, &json);
    if (rc >= 0)
        return rc;
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
