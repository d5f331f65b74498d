/* The commands' argument layer (see args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void pk_args_init(pk_args *a, const char *cmd, void (*usage)(FILE *), int argc, char **argv,
                  const char *shortopts, const struct option *longopts)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->usage = usage;
    a->argc = argc;
    a->argv = argv;
    a->shortopts = shortopts;
    a->longopts = longopts;
    optind = 1;
    opterr = 0; /* our messages, not getopt's */
}

int pk_args_fail(const pk_args *a, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "powkit %s: ", a->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'powkit %s --help')\n", a->cmd);
    return PK_EXIT_USAGE;
}

/* What the user typed for the option getopt just returned: the token
 * before optind, or the one before that when the value was separate. */
static void note_typed(pk_args *a, int has_value)
{
    int at = optind - 1;
    if (has_value && at > 0 && optarg == a->argv[at])
        at--;
    const char *tok = at > 0 && at < a->argc ? a->argv[at] : "?";
    size_t n = strcspn(tok, "=");
    if (tok[0] == '-' && tok[1] && tok[1] != '-')
        n = 2; /* -t3: the option is -t */
    if (n >= sizeof a->typed)
        n = sizeof a->typed - 1;
    memcpy(a->typed, tok, n);
    a->typed[n] = 0;
}

int pk_args_next(pk_args *a)
{
    if (a->done)
        return PK_ARGS_END;
    /* ":" first: a missing value is ':' rather than '?'.  GNU getopt
     * permutes: options may follow operands (`verify-block FILE --json`). */
    char shorts[64];
    snprintf(shorts, sizeof shorts, ":%sh", a->shortopts ? a->shortopts : "");
    /* The long table plus --help. */
    struct option longs[64];
    size_t n = 0;
    for (const struct option *o = a->longopts; o && o->name && n < 62; o++)
        longs[n++] = *o;
    longs[n++] = (struct option){"help", no_argument, 0, 'h'};
    longs[n] = (struct option){0, 0, 0, 0};
    int idx = -1;
    int c = getopt_long(a->argc, a->argv, shorts, longs, &idx);
    if (c == -1) {
        a->done = 1;
        return PK_ARGS_END;
    }
    if (c == '?') {
        const char *tok = a->argv[optind - 1];
        if (optopt && !(tok[0] == '-' && tok[1] == '-'))
            return pk_args_fail(a, "unknown option '-%c'", optopt), PK_ARGS_ERROR;
        return pk_args_fail(a, "unknown option '%s'", tok), PK_ARGS_ERROR;
    }
    if (c == ':') {
        note_typed(a, 0);
        return pk_args_fail(a, "%s needs a value", a->typed), PK_ARGS_ERROR;
    }
    note_typed(a, optarg != NULL);
    if (c == 'h') {
        a->usage(stdout);
        return PK_ARGS_HELP;
    }
    return c;
}

int pk_args_operands(pk_args *a, int min, int max, int *first)
{
    int n = a->argc - optind;
    *first = optind;
    if (n < min) {
        pk_args_fail(a, n == 0 ? "missing operand" : "too few operands");
        return -1;
    }
    if (max >= 0 && n > max) {
        pk_args_fail(a, "unexpected argument '%s'", a->argv[optind + max]);
        return -1;
    }
    return n;
}

int pk_args_uint(pk_args *a, const char *v, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || v[0] == '+' || x < lo || x > hi) {
        pk_args_fail(a, "%s wants a whole number from %u to %u, got '%s'", a->typed, lo, hi, v);
        return -1;
    }
    *out = (unsigned)x;
    return 0;
}

int pk_args_int64(pk_args *a, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || v[0] == '+' || x < lo || x > hi) {
        pk_args_fail(a, "%s wants a whole number from %lld to %lld, got '%s'", a->typed, (long long)lo,
                     (long long)hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int pk_args_double(pk_args *a, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x) || x < lo || x > hi) {
        pk_args_fail(a, "%s wants a number from %g to %g, got '%s'", a->typed, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* Refuses what is not a regular file or a stream (directories above all:
 * fopen opens them and the first read fails with EISDIR). */
static int check_path(const char *cmd, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "powkit %s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "powkit %s: %s is a directory, not a file\n", cmd, path);
        return -1;
    }
    return 0;
}

FILE *pk_cli_open_input(const char *cmd, const char *path)
{
    if (strcmp(path, "-") == 0)
        return stdin;
    if (check_path(cmd, path))
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        fprintf(stderr, "powkit %s: cannot open %s: %s\n", cmd, path, strerror(errno));
    return f;
}

uint8_t *pk_cli_read_file(const char *cmd, const char *path, size_t max, size_t *len)
{
    FILE *f = pk_cli_open_input(cmd, path);
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    int too_big = 0;
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        if (cap >= max) {
            too_big = fgetc(f) != EOF; /* exactly max bytes fit */
            break;
        }
        size_t ncap = cap * 2 > max ? max : cap * 2;
        uint8_t *nb = realloc(buf, ncap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap = ncap;
    }
    int err = ferror(f) ? errno : 0;
    if (f != stdin)
        fclose(f);
    if (!buf || err || too_big) {
        if (!buf)
            fprintf(stderr, "powkit %s: %s: out of memory\n", cmd, path);
        else if (too_big)
            fprintf(stderr, "powkit %s: %s is larger than %zu bytes\n", cmd, path, max);
        else
            fprintf(stderr, "powkit %s: cannot read %s: %s\n", cmd, path, strerror(err));
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}
