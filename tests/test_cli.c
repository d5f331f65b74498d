/* The powkit command as users and scripts call it: `powkit bench --json`
 * is an interface, so its fields are checked here on the real binary. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "powkit/cpu.h"
#include "testutil.h"

static char out[1 << 16];

/* Runs the CLI with a shell-quoted argument string; returns exit status. */
static int run(const char *env, const char *args)
{
    /* stderr kept aside (out is stdout alone), shown when the command fails. */
    char cmd[1024], errf[64];
    snprintf(errf, sizeof errf, "/tmp/powkit-test-cli-%ld.err", (long)getpid());
    snprintf(cmd, sizeof cmd, "%s '%s' %s 2>%s", env ? env : "", POWKIT_CLI, args, errf);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *e = fopen(errf, "r");
    if (e) {
        char err[2048];
        size_t k = fread(err, 1, sizeof err - 1, e);
        err[k] = 0;
        fclose(e);
        if (rc != 0 || !WIFEXITED(st))
            cr_log_info("powkit %s: status %d (raw %d), stderr: %s", args, rc, st, err);
    }
    unlink(errf);
    return rc;
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
        {"ref", 0}, {TU_SHA_FAMILY, TU_SHA_CPU}, {TU_LANE_FAMILY, TU_LANE_CPU},
#if !PK_ARM_SIMD
        {"avx512", PK_CPU_AVX512},
#endif
    };
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int count;
        json_t *row = kernel_rows(root, ks[i].name, &count);
        cr_assert_not_null(row, "kernel %s missing", ks[i].name);
        const char *st = json_string_value(json_object_get(row, "selftest"));
        cr_assert(json_is_integer(json_object_get(row, "threads")));
        cr_assert(json_is_real(json_object_get(row, "mhs")));
        if ((pk_cpu_features() & ks[i].feat) != ks[i].feat) {
            cr_assert_str_eq(st, "unsupported");
            cr_assert_eq(count, 1, "an unsupported kernel is listed once");
        } else if (i > 0 && pk_name_in_list(getenv("POWKIT_DISABLE"), ks[i].name)) {
            cr_assert_str_eq(st, "disabled"); /* the suite run with paths switched off */
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
    if ((pk_cpu_features() & TU_LANE_CPU) == 0)
        cr_skip_test("no %s here", TU_LANE_FAMILY);
    cr_assert_eq(run(NULL, "bench --seconds 0.1 -t 1 --kernel " TU_LANE_FAMILY " --json"), 0);
    json_t *root = json_loads(out, 0, NULL);
    cr_assert_not_null(root);
    int count;
    json_t *fam = kernel_rows(root, TU_LANE_FAMILY, &count);
    cr_assert_not_null(fam);
    const char *layout = json_string_value(json_object_get(fam, "layout"));
    cr_assert_not_null(layout, "the family row names the layout it stands for");
    cr_assert(strncmp(layout, TU_LANE_FAMILY ":", strlen(TU_LANE_FAMILY ":")) == 0, "%s", layout);
    json_t *lay = kernel_rows(root, layout, &count);
    cr_assert_not_null(lay, "the picked layout has its own row");
    cr_assert_float_eq(json_real_value(json_object_get(fam, "mhs")), json_real_value(json_object_get(lay, "mhs")),
                       1e-9, "the family row is its layout's measurement");
    static const char *const layouts[] = {TU_LANE_FAMILY ":1", TU_LANE_FAMILY ":2", TU_LANE_FAMILY ":2r"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_not_null(kernel_rows(root, layouts[i], &count), "%s", layouts[i]);
        cr_assert_eq(count, 1);
    }
    cr_assert_null(kernel_rows(root, TU_SHA_FAMILY, &count), "--kernel measures its family only");
    json_decref(root);

    /* One layout by name: its row and its version-lane row; with
     * --no-version-lanes its row alone. */
    cr_assert_eq(run(NULL, "bench --seconds 0.1 -t 1 --kernel " TU_LANE_FAMILY ":1 --json"), 0);
    root = json_loads(out, 0, NULL);
    cr_assert_not_null(root);
    cr_assert_eq(json_array_size(json_object_get(root, "kernels")), 2, "%s", out);
    cr_assert_not_null(kernel_rows(root, TU_LANE_FAMILY ":1", &count));
    json_t *v = kernel_rows(root, TU_LANE_FAMILY ":1+v", &count);
    cr_assert_not_null(v, "%s", out);
    cr_assert_gt(json_integer_value(json_object_get(v, "hashes")), 0);
    cr_assert_eq(json_integer_value(json_object_get(v, "invalid")), 0);
    json_decref(root);
    cr_assert_eq(run(NULL, "bench --seconds 0.1 -t 1 --kernel " TU_LANE_FAMILY ":1 --no-version-lanes --json"), 0);
    root = json_loads(out, 0, NULL);
    cr_assert_not_null(root);
    cr_assert_eq(json_array_size(json_object_get(root, "kernels")), 1, "%s", out);
    json_decref(root);
}

Test(cli, disabled_paths_are_reported_and_ref_still_mines, .timeout = 120)
{
    cr_assert_eq(run("POWKIT_DISABLE=" TU_FAST_FAMILIES, "bench --seconds 0.1 -t 1 --json"), 0);
    json_t *root = json_loads(out, 0, NULL);
    cr_assert_not_null(root);
    cr_assert_str_eq(json_string_value(json_object_get(root, "best")), "ref");
    int count;
    json_t *ref = kernel_rows(root, "ref", &count);
    cr_assert_gt(json_real_value(json_object_get(ref, "mhs")), 0);
    json_t *lane = kernel_rows(root, TU_LANE_FAMILY, &count);
    const char *st = json_string_value(json_object_get(lane, "selftest"));
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
    cr_assert_eq(run("POWKIT_DISABLE=" TU_LANE_FAMILY, "bench --kernel " TU_LANE_FAMILY), 2);
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

/* The documentation users get with the package says what the program does:
 * every long option a command's help lists is in its man page and in the
 * bash completion, and every option of `mine` is a key (or a documented
 * "//key") of the example config, which itself loads. */
static char *slurp(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", POWKIT_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    char *buf = malloc(1 << 16); /* the caller frees */
    cr_assert(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Each "--name" in text's usage and option lines (those starting, after
 * spaces, with "usage:" or '-'), once, into names (up to max). */
static size_t long_options(const char *text, char names[][32], size_t max)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, "--")); p += 2) {
        const char *bol = p;
        while (bol > text && bol[-1] != '\n')
            bol--;
        bol += strspn(bol, " ");
        if (*bol != '-' && strncmp(bol, "usage:", 6) != 0 && strncmp(bol, "powkit ", 7) != 0)
            continue;
        size_t len = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
        if (len < 2 || len >= 32 || p[2 + len - 1] == '-')
            continue;
        char name[32];
        memcpy(name, p + 2, len);
        name[len] = 0;
        size_t i;
        for (i = 0; i < n && strcmp(names[i], name); i++)
            ;
        if (i == n && n < max)
            snprintf(names[n++], 32, "%s", name);
    }
    return n;
}

/* roff writes a hyphen as \- */
static int in_man(const char *man, const char *name)
{
    char want[80] = "\\-\\-";
    for (const char *s = name; *s; s++) {
        size_t l = strlen(want);
        if (*s == '-')
            snprintf(want + l, sizeof want - l, "\\-");
        else
            snprintf(want + l, sizeof want - l, "%c", *s);
    }
    return strstr(man, want) != NULL;
}

/* The opts="..." list of one command's case in the completion script, cut
 * in place. */
static char *completion_opts(char *comp, const char *cmd)
{
    char label[48];
    snprintf(label, sizeof label, "\n    %s)", cmd);
    char *p = strstr(comp, label);
    cr_assert(p, "the completion has no case for %s", cmd);
    p = strstr(p, "opts=\"");
    cr_assert(p);
    p += 6;
    char *end = strchr(p, '"');
    cr_assert(end);
    *end = 0;
    return p;
}

/* word as a whole, space-separated word of list */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p++)
        if ((p == list || strchr(" \t\n", p[-1])) && (!p[n] || strchr(" \t\n", p[n])))
            return 1;
    return 0;
}

Test(cli, mine_options_are_documented_in_man_page_completion_and_example_config)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mine --config '%s/contrib/powkit.json' --help", POWKIT_SOURCE_DIR);
    cr_assert_eq(run(NULL, cmd), 0, "the example config does not load");
    char names[128][32];
    size_t n = long_options(out, names, 128);
    cr_assert_gt(n, 30, "%s", out);
    char *man = slurp("contrib/man/powkit-mine.1"), *comp_file = slurp("contrib/completion/powkit.bash"),
         *conf = slurp("contrib/powkit.json");
    const char *comp = completion_opts(comp_file, "mine");
    for (size_t i = 0; i < n; i++) {
        char word[48], key[48], ckey[48];
        snprintf(word, sizeof word, "--%.31s", names[i]);
        snprintf(key, sizeof key, "\"%.31s\"", names[i]);
        snprintf(ckey, sizeof ckey, "\"//%.31s\"", names[i]);
        cr_expect(in_man(man, names[i]), "powkit-mine.1 lacks --%s", names[i]);
        cr_expect(has_word(comp, word), "the completion lacks mine --%s", names[i]);
        if (strcmp(names[i], "config") && strcmp(names[i], "help") && strcmp(names[i], "version") &&
            strcmp(names[i], "url") && strcmp(names[i], "user") && strcmp(names[i], "pass"))
            cr_expect(strstr(conf, key) || strstr(conf, ckey), "the example config lacks \"%s\"", names[i]);
    }
    free(man);
    free(comp_file);
    free(conf);
}

Test(cli, every_command_has_a_man_page_and_completion_listing_its_options)
{
    static const char *cmds[] = {"mine", "proxy", "bench", "verify-block", "verify-headers", "verify-sigs",
                                 "devices", "selftest", "version"};
    char *top = slurp("contrib/man/powkit.1");
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        char rel[64], args[64];
        snprintf(rel, sizeof rel, "contrib/man/powkit-%s.1", cmds[c]);
        char *man = slurp(rel), *comp = slurp("contrib/completion/powkit.bash");
        /* powkit.1 refers to the page: .BR powkit\-verify\-sigs (1) */
        char want[64] = "powkit\\-";
        for (const char *p = cmds[c]; *p; p++) {
            size_t l = strlen(want);
            snprintf(want + l, sizeof want - l, *p == '-' ? "\\-" : "%c", *p);
        }
        cr_expect(strstr(top, want), "powkit.1 does not refer to %s", rel);
        char cmdword[32];
        snprintf(cmdword, sizeof cmdword, "%s", cmds[c]);
        cr_expect(strstr(comp, cmdword), "the completion lacks the command %s", cmds[c]);
        /* The options the command's own --help lists. */
        snprintf(args, sizeof args, "%s --help", cmds[c]);
        cr_assert_eq(run(NULL, args), 0, "%s", args);
        char names[128][32];
        size_t n = long_options(out, names, 128);
        const char *opts =
            completion_opts(comp, strcmp(cmds[c], "devices") && strcmp(cmds[c], "version") ? cmds[c] : "devices | version");
        for (size_t i = 0; i < n; i++) {
            char word[48];
            snprintf(word, sizeof word, "--%.31s", names[i]);
            cr_expect(in_man(man, names[i]), "%s lacks --%s", rel, names[i]);
            if (strcmp(cmds[c], "version")) /* `powkit --version` is the command's other name */
                cr_expect(has_word(opts, word), "the completion of %s lacks --%s", cmds[c], names[i]);
        }
        free(man);
        free(comp);
    }
    free(top);
}

Test(cli, version_says_how_it_was_built)
{
    cr_assert_eq(run(NULL, "version --json"), 0);
    json_error_t je;
    json_t *v = json_loads(out, 0, &je);
    cr_assert(v, "%s", out);
    char version[64];
    snprintf(version, sizeof version, "powkit %s\n", json_string_value(json_object_get(v, "version")));
    const char *kernels = json_string_value(json_object_get(v, "kernels"));
    cr_assert(kernels && strstr(kernels, "ref"), "%s", out);
    cr_assert(json_is_boolean(json_object_get(v, "opencl_loader")));
    cr_assert(json_string_length(json_object_get(v, "commit")) > 0);
    cr_assert(json_string_length(json_object_get(v, "compiler")) > 0);
    /* built against the 0.2 API; loaded from a file the dynamic linker named */
    cr_assert(strchr(json_string_value(json_object_get(v, "secp256k1")), '.'), "%s", out);
    cr_assert(strstr(json_string_value(json_object_get(v, "secp256k1_loaded_from")), "secp256k1"), "%s", out);
    json_decref(v);
    cr_assert_eq(run(NULL, "--version"), 0);
    cr_assert(strncmp(out, version, strlen(version)) == 0, "%s", out);
    cr_assert(strstr(out, "libsecp256k1"), "%s", out);
    cr_assert_eq(run(NULL, "version --bogus"), 2);
}

/* Runs the CLI with stderr into out too. */
static int run2(const char *args)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", POWKIT_CLI, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *all_commands[] = {"mine", "proxy", "bench", "verify-block", "verify-headers", "verify-sigs",
                                     "devices", "selftest", "version"};

Test(cli, every_command_answers_help_unknown_options_and_extra_arguments_alike)
{
    for (size_t i = 0; i < sizeof all_commands / sizeof all_commands[0]; i++) {
        const char *c = all_commands[i];
        char args[128], want[64];
        snprintf(want, sizeof want, "usage: powkit %s", c);
        snprintf(args, sizeof args, "%s --help", c);
        cr_assert_eq(run(NULL, args), 0, "%s", args);
        cr_assert(strstr(out, want), "%s: %s", args, out);
        cr_assert(strstr(out, "exit status"), "%s documents no exit status: %s", c, out);
        snprintf(args, sizeof args, "%s -h", c);
        cr_assert_eq(run(NULL, args), 0, "%s", args);
        cr_assert(strstr(out, want), "%s: %s", args, out);
        snprintf(args, sizeof args, "help %s", c);
        cr_assert_eq(run(NULL, args), 0, "%s", args);
        cr_assert(strstr(out, want), "%s: %s", args, out);
        snprintf(args, sizeof args, "%s --bogus", c);
        cr_assert_eq(run2(args), 2, "%s: %s", args, out);
        cr_assert(strstr(out, "'--bogus'"), "%s does not name the option: %s", args, out);
    }
    /* extra arguments: named */
    cr_assert_eq(run2("devices extra"), 2);
    cr_assert(strstr(out, "'extra'"), "%s", out);
    cr_assert_eq(run2("selftest --bogus extra"), 2);
    cr_assert_eq(run2("selftest extra"), 2);
    cr_assert(strstr(out, "'extra'"), "%s", out);
    cr_assert_eq(run2("version extra"), 2);
    cr_assert_eq(run2("verify-sigs a b c"), 2);
    cr_assert(strstr(out, "unexpected argument 'b'"), "%s", out);
    cr_assert_eq(run2("verify-block a b"), 2);
    cr_assert(strstr(out, "unexpected argument 'b'"), "%s", out);
    cr_assert_eq(run2("verify-block"), 2);
    cr_assert(strstr(out, "missing operand"), "%s", out);
    cr_assert_eq(run2("help frobnicate"), 2);
    cr_assert_eq(run2("verify-block --chain"), 2);
    cr_assert(strstr(out, "--chain needs a value"), "%s", out);
}

Test(cli, numbers_are_strict_and_name_the_option_as_typed)
{
    cr_assert_eq(run2("mine -t 0"), 2);
    cr_assert(strstr(out, "-t wants a whole number from 1 to 1024, got '0'"), "%s", out);
    cr_assert_eq(run2("mine --threads 99999"), 2);
    cr_assert(strstr(out, "--threads wants a whole number"), "%s", out);
    cr_assert_eq(run2("mine -t 2.5"), 2, "2.5 threads must be refused, not taken as 2: %s", out);
    cr_assert_eq(run2("mine -t abc"), 2);
    cr_assert_eq(run2("mine -l 0"), 2);
    cr_assert(strstr(out, "-l wants"), "%s", out);
    cr_assert_eq(run2("mine --status-interval=0"), 2);
    cr_assert(strstr(out, "--status-interval wants"), "%s", out);
    cr_assert_eq(run2("bench -t 2.5"), 2);
    cr_assert(strstr(out, "-t wants a whole number"), "%s", out);
    cr_assert_eq(run2("bench --threads=0"), 2);
    cr_assert(strstr(out, "--threads wants"), "%s", out);
    cr_assert_eq(run2("verify-sigs --threads 1x"), 2);
    cr_assert_eq(run2("verify-block x --height -5"), 2);
    cr_assert(strstr(out, "--height wants"), "%s", out);
}

Test(cli, files_are_refused_with_the_reason)
{
    static const char *cmds[] = {"verify-block", "verify-headers", "verify-sigs"};
    for (size_t i = 0; i < 3; i++) {
        char args[128];
        snprintf(args, sizeof args, "%s /nonexistent/powkit-input", cmds[i]);
        cr_assert_eq(run2(args), 2, "%s", args);
        cr_assert(strstr(out, "No such file or directory"), "%s: %s", args, out);
        snprintf(args, sizeof args, "%s /tmp", cmds[i]);
        cr_assert_eq(run2(args), 2, "%s", args);
        cr_assert(strstr(out, "is a directory"), "%s: %s", args, out);
    }
    cr_assert_eq(run2("mine -c /nonexistent/powkit.json"), 2);
    cr_assert(strstr(out, "No such file or directory") && !strstr(out, "line -1"), "%s", out);
    cr_assert_eq(run2("mine -c /tmp"), 2);
    cr_assert(strstr(out, "directory"), "%s", out);
    /* An empty block file is an input error, not an invalid block. */
    char path[] = "/tmp/powkit-empty-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    char args[128];
    snprintf(args, sizeof args, "verify-block %s", path);
    cr_assert_eq(run2(args), 2, "%s", out);
    cr_assert(strstr(out, "empty"), "%s", out);
    unlink(path);
}

Test(cli, verify_sigs_exit_status_and_line_numbers)
{
    char path[] = "/tmp/powkit-sigs-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    /* line 0 blank, line 1 malformed */
    cr_assert_eq(write(fd, "\n{\"type\":\"ecdsa\"}\n", 18), 18);
    close(fd);
    char args[128];
    snprintf(args, sizeof args, "verify-sigs %s", path);
    cr_assert_eq(run(NULL, args), 1, "%s", out);
    cr_assert(strstr(out, "{\"i\":1,\"error\""), "%s", out);
    /* nothing to check: every line (none) valid */
    fd = open(path, O_WRONLY | O_TRUNC);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "\n\n", 2), 2);
    close(fd);
    cr_assert_eq(run(NULL, args), 0, "%s", out);
    unlink(path);
}

Test(cli, verify_headers_needs_the_start_height_of_a_slice)
{
    char args[512];
    snprintf(args, sizeof args, "verify-headers '%s/tests/data/mainnet-headers-822528-830592.bin'", POWKIT_SOURCE_DIR);
    cr_assert_eq(run2(args), 2, "%s", out);
    cr_assert(strstr(out, "--start-height"), "%s", out);
    snprintf(args, sizeof args, "verify-headers '%s/tests/data/mainnet-headers-822528-830592.bin' --start-height 822528",
             POWKIT_SOURCE_DIR);
    cr_assert_eq(run2(args), 0, "%s", out);
}

Test(cli, small_things_users_met, .timeout = 120)
{
    /* A typo in POWKIT_DISABLE is said, not silently ignored. */
    cr_assert_eq(run2("version"), 0);
    cr_assert_null(strstr(out, "POWKIT_DISABLE"), "%s", out);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "POWKIT_DISABLE=" TU_LANE_FAMILY ",bogus '%s' version 2>&1", POWKIT_CLI);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    cr_assert(strstr(out, "'bogus'") && !strstr(out, "'" TU_LANE_FAMILY "'"), "%s", out);
    /* An OpenCL device that is not there is named. */
    cr_assert_eq(run2("mine --devices cpu,opencl:7 --duration 1 -t 1"), 2, "%s", out);
    cr_assert(strstr(out, "opencl:7"), "%s", out);
    /* A host name for the API. */
    cr_assert_eq(run2("mine --api-listen localhost:0 --duration 1 -t 1"), 0, "%s", out);
    /* The offline job finds shares; it accepts none (nothing is sent). */
    cr_assert_eq(run2("mine --duration 2 -t 1 -l 1"), 0, "%s", out);
    cr_assert(strstr(out, "| found "), "%s", out);
    cr_assert(strstr(out, "accepted 0,"), "%s", out);
    cr_assert_null(strstr(out, "diff 0 "), "%s", out);
    cr_assert(strstr(out, " on 1 thread;"), "%s", out);
    /* A bad address is refused before the node is asked, and no blocks/
     * folder is left behind. */
    char dir[] = "/tmp/powkit-cwd-XXXXXX";
    cr_assert(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' mine --node http://127.0.0.1:1 --address bc1qnotanaddress 2>&1", dir,
             POWKIT_CLI);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", out);
    cr_assert(strstr(out, "--address bc1qnotanaddress"), "%s", out);
    char blocks[64];
    snprintf(blocks, sizeof blocks, "%s/blocks", dir);
    cr_assert_neq(access(blocks, F_OK), 0, "blocks/ made at start");
    rmdir(dir);
    /* The cached pick can be measured again. */
    cr_assert_eq(run2("selftest"), 0);
    cr_assert_eq(run2("selftest --recalibrate"), 0, "%s", out);
    cr_assert(strstr(out, "(measured now)"), "%s", out);
    /* The multi-buffer picks are shown; with the fast families off, the portable ones. */
    cr_assert(strstr(out, "sha256 many: "), "%s", out);
    cr_assert_eq(run("POWKIT_DISABLE=" TU_FAST_FAMILIES, "selftest"), 0, "%s", out);
    cr_assert(strstr(out, "sha256 many: ref (any length), ref (64 and 80 bytes)"), "%s", out);
}

Test(cli, cpuminer_retries_and_affinity_mask, .timeout = 60)
{
    /* -r: every pool down more than N times in a row ends the run, 2. */
    cr_assert_eq(run2("mine -o stratum+tcp://127.0.0.1:1 -u x -r 1 -R 1 -t 1 -q"), 2, "%s", out);
    cr_assert(strstr(out, "--retries"), "%s", out);
    cr_assert_eq(run2("mine -r 0"), 2, "%s", out);
    /* --cpu-affinity MASK, cpuminer's way and with = */
    cr_assert_eq(run2("mine --cpu-affinity 0x1 -t 1 --duration 1 -q"), 0, "%s", out);
    cr_assert_eq(run2("mine --cpu-affinity=1 -t 1 --duration 1 -q"), 0, "%s", out);
    cr_assert_eq(run2("mine --cpu-affinity=zz -t 1"), 2, "%s", out);
    cr_assert(strstr(out, "CPU mask"), "%s", out);
}
