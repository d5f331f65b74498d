/* The powkit command as users and scripts call it: `powkit bench --json`
 * is an interface, so its fields are checked here on the real binary. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "powkit/cpu.h"

static char out[1 << 16];

/* Runs the CLI with a shell-quoted argument string; returns exit status. */
static int run(const char *env, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s '%s' %s 2>/dev/null", env ? env : "", POWKIT_CLI, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *kernel_rows(json_t *root, const char *name, int *count)
{
    json_t *arr = json_object_get(root, "kernels"), *first = NULL, *row;
    size_t i;
    *count = 0;
    json_array_foreach(arr, i, row) {
        if (strcmp(json_string_value(json_object_get(row, "name")), name) == 0) {
            if (!first)
                first = row;
            (*count)++;
        }
    }
    return first;
}

Test(cli, bench_json_lists_every_kernel_with_its_fields, .timeout = 120)
{
    cr_assert_eq(run(NULL, "bench --seconds 0.1 -t 2 --json"), 0);
    json_error_t err;
    json_t *root = json_loads(out, 0, &err);
    cr_assert_not_null(root, "not JSON: %s", err.text);
    cr_assert(json_is_string(json_object_get(root, "cpu")));
    static const struct { const char *name; unsigned feat; } ks[] = {
        {"ref", 0}, {"shani", PK_CPU_SHA}, {"avx2", PK_CPU_AVX2}, {"avx512", PK_CPU_AVX512}};
    for (size_t i = 0; i < 4; i++) {
        int count;
        json_t *row = kernel_rows(root, ks[i].name, &count);
        cr_assert_not_null(row, "kernel %s missing", ks[i].name);
        const char *st = json_string_value(json_object_get(row, "selftest"));
        cr_assert(json_is_integer(json_object_get(row, "threads")));
        cr_assert(json_is_real(json_object_get(row, "mhs")));
        if ((pk_cpu_features() & ks[i].feat) != ks[i].feat) {
            cr_assert_str_eq(st, "unsupported");
            cr_assert_eq(count, 1, "an unsupported kernel is listed once");
        } else {
            cr_assert_str_eq(st, "ok");
            cr_assert_eq(count, 2, "%s: one row for 1 thread, one for all", ks[i].name);
            cr_assert_gt(json_real_value(json_object_get(row, "mhs")), 0);
            cr_assert_eq(json_integer_value(json_object_get(row, "invalid")), 0);
        }
    }
    json_decref(root);
}

Test(cli, family_rows_name_their_layout_and_layouts_have_rows, .timeout = 120)
{
    if ((pk_cpu_features() & PK_CPU_AVX2) == 0)
        cr_skip_test("no AVX2 here");
    cr_assert_eq(run(NULL, "bench --seconds 0.1 -t 1 --kernel avx2 --json"), 0);
    json_t *root = json_loads(out, 0, NULL);
    cr_assert_not_null(root);
    int count;
    json_t *fam = kernel_rows(root, "avx2", &count);
    cr_assert_not_null(fam);
    const char *layout = json_string_value(json_object_get(fam, "layout"));
    cr_assert_not_null(layout, "the family row names the layout it stands for");
    cr_assert(strncmp(layout, "avx2:", 5) == 0, "%s", layout);
    json_t *lay = kernel_rows(root, layout, &count);
    cr_assert_not_null(lay, "the picked layout has its own row");
    cr_assert_float_eq(json_real_value(json_object_get(fam, "mhs")), json_real_value(json_object_get(lay, "mhs")),
                       1e-9, "the family row is its layout's measurement");
    static const char *const layouts[] = {"avx2:1", "avx2:2", "avx2:2r"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_not_null(kernel_rows(root, layouts[i], &count), "%s", layouts[i]);
        cr_assert_eq(count, 1);
    }
    cr_assert_null(kernel_rows(root, "shani", &count), "--kernel avx2 measures the avx2 family only");
    json_decref(root);

    /* One layout by name: its row and its version-lane row; with
     * --no-version-lanes its row alone. */
    cr_assert_eq(run(NULL, "bench --seconds 0.1 -t 1 --kernel avx2:1 --json"), 0);
    root = json_loads(out, 0, NULL);
    cr_assert_not_null(root);
    cr_assert_eq(json_array_size(json_object_get(root, "kernels")), 2, "%s", out);
    cr_assert_not_null(kernel_rows(root, "avx2:1", &count));
    json_t *v = kernel_rows(root, "avx2:1+v", &count);
    cr_assert_not_null(v, "%s", out);
    cr_assert_gt(json_integer_value(json_object_get(v, "hashes")), 0);
    cr_assert_eq(json_integer_value(json_object_get(v, "invalid")), 0);
    json_decref(root);
    cr_assert_eq(run(NULL, "bench --seconds 0.1 -t 1 --kernel avx2:1 --no-version-lanes --json"), 0);
    root = json_loads(out, 0, NULL);
    cr_assert_not_null(root);
    cr_assert_eq(json_array_size(json_object_get(root, "kernels")), 1, "%s", out);
    json_decref(root);
}

Test(cli, disabled_paths_are_reported_and_ref_still_mines, .timeout = 120)
{
    cr_assert_eq(run("POWKIT_DISABLE=shani,avx2,avx512", "bench --seconds 0.1 -t 1 --json"), 0);
    json_t *root = json_loads(out, 0, NULL);
    cr_assert_not_null(root);
    cr_assert_str_eq(json_string_value(json_object_get(root, "best")), "ref");
    int count;
    json_t *ref = kernel_rows(root, "ref", &count);
    cr_assert_gt(json_real_value(json_object_get(ref, "mhs")), 0);
    json_t *avx2 = kernel_rows(root, "avx2", &count);
    const char *st = json_string_value(json_object_get(avx2, "selftest"));
    cr_assert(strcmp(st, "disabled") == 0 || strcmp(st, "unsupported") == 0, "%s", st);
    json_decref(root);
}

Test(cli, bad_arguments_are_refused_cleanly)
{
    cr_assert_eq(run(NULL, "bench --kernel avx9000"), 2);
    cr_assert_eq(run(NULL, "bench --seconds -1"), 2);
    cr_assert_eq(run(NULL, "bench --seconds abc"), 2);
    cr_assert_eq(run(NULL, "bench -t 0"), 2);
    cr_assert_eq(run(NULL, "bench -t 99999"), 2);
    cr_assert_eq(run(NULL, "bench extra"), 2);
    cr_assert_eq(run(NULL, "frobnicate"), 2);
    cr_assert_eq(run("POWKIT_DISABLE=avx2", "bench --kernel avx2"), 2);
    cr_assert_eq(run(NULL, "version"), 0);
    cr_assert(strstr(out, "powkit "));
}

Test(cli, table_has_a_row_per_kernel_and_thread_count, .timeout = 120)
{
    cr_assert_eq(run(NULL, "bench --seconds 0.1 -t 2 --kernel ref"), 0);
    cr_assert(strstr(out, "kernel"), "%s", out);
    int rows = 0;
    for (char *p = out; (p = strstr(p, "\nref ")); p++)
        rows++;
    cr_assert_eq(rows, 2, "%s", out);
}

/* Two SIGINTs close together (what `timeout -s INT` sends: the child and
 * its group): the second is not fatal, the summary is printed, and a
 * requested stop exits 0. */
#include <signal.h>
#include <unistd.h>
Test(cli, a_second_sigint_while_stopping_still_ends_cleanly, .timeout = 120)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fds[1], 2);
        dup2(fds[1], 1);
        close(fds[0]);
        execl(POWKIT_CLI, "powkit", "mine", "-t", "2", "--duration", "60", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    /* Wait until it hashes (its first status line), then interrupt twice. */
    char buf[8192];
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t r = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = 0;
        if (strstr(buf, "no pool given"))
            break;
    }
    cr_assert(strstr(buf, "no pool given"), "%s", buf);
    usleep(300000);
    kill(pid, SIGINT);
    kill(pid, SIGINT);
    usleep(20000);
    kill(pid, SIGINT);
    n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    close(fds[0]);
    cr_assert(WIFEXITED(st), "killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    cr_assert_eq(WEXITSTATUS(st), 0, "%s", buf);
    cr_assert(strstr(buf, "summary:"), "%s", buf);
}
