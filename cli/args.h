/* The commands' one argument layer: every command parses its options,
 * numbers, operands and input files through here, so every command answers
 * alike.  `--help`/`-h` prints the command's usage to stdout (exit 0);
 * unknown options, missing values, bad numbers and extra arguments print
 * one line naming what the user typed, with a pointer to --help (exit 2).
 *
 * Exit statuses, the same for every command:
 *   0 done, valid;  1 invalid (a check failed);  2 usage or input error. */
#ifndef POWKIT_CLI_ARGS_H
#define POWKIT_CLI_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { PK_EXIT_OK = 0, PK_EXIT_INVALID = 1, PK_EXIT_USAGE = 2 };

typedef struct pk_args {
    const char *cmd;             /* "bench": messages say "powkit bench: ..." */
    void (*usage)(FILE *f);      /* the command's usage */
    int argc;
    char **argv;
    const char *shortopts;
    const struct option *longopts;
    char typed[48];              /* the option as typed: "-t", "--threads" */
    int done;                    /* options are over: operands from argv[optind] */
} pk_args;

/* argv[0] is the command's name.  h/help needs no entry in the tables:
 * it is handled here. */
void pk_args_init(pk_args *a, const char *cmd, void (*usage)(FILE *), int argc, char **argv,
                  const char *shortopts, const struct option *longopts);

/* The next option's val (optarg holds its value), or:
 *   PK_ARGS_END   options are over; pk_args_operands() for the rest
 *   PK_ARGS_HELP  usage printed to stdout: exit PK_EXIT_OK
 *   PK_ARGS_ERROR a message printed (unknown option, missing value): exit PK_EXIT_USAGE */
enum { PK_ARGS_END = -1, PK_ARGS_HELP = -2, PK_ARGS_ERROR = -3 };
int pk_args_next(pk_args *a);

/* The operands after the options: between min and max of them (max -1: any
 * number).  Returns their count, or -1 after a message naming the missing
 * or the first extra one.  *first gets the index of the first. */
int pk_args_operands(pk_args *a, int min, int max, int *first);

/* Strict numbers: the whole value, in range, decimal.  On failure a message
 * names the option as typed and its range; returns -1. */
int pk_args_uint(pk_args *a, const char *v, unsigned lo, unsigned hi, unsigned *out);
int pk_args_int64(pk_args *a, const char *v, int64_t lo, int64_t hi, int64_t *out);
int pk_args_double(pk_args *a, const char *v, double lo, double hi, double *out);

/* "powkit CMD: <message> (see 'powkit CMD --help')" on stderr; returns
 * PK_EXIT_USAGE. */
int pk_args_fail(const pk_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A whole input file ("-": standard input), NUL-terminated after *len
 * bytes, at most max bytes.  A directory, a missing or unreadable file or
 * one over max is refused with the reason (strerror) on stderr: NULL. */
uint8_t *pk_cli_read_file(const char *cmd, const char *path, size_t max, size_t *len);

/* An input stream ("-": standard input) with the same checks; NULL after
 * the message. */
FILE *pk_cli_open_input(const char *cmd, const char *path);

/* The option currently being handled, as typed (for messages of callers
 * that parse values themselves). */
static inline const char *pk_args_typed(const pk_args *a) { return a->typed; }

#endif
