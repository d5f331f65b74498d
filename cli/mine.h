/* `powkit mine`: parsing its options and --config file (internal to cli/; the
 * fuzz target and the tests call the parser). */
#ifndef POWKIT_CLI_MINE_H
#define POWKIT_CLI_MINE_H

#include <jansson.h>
#include <stdio.h>

#include "powkit/miner.h"

typedef struct pk_mine_cli {
    pk_miner_opts opts;
    int help; /* 1: --help, 2: --version */
    json_t *config; /* keeps the config's strings alive */
    char *owned[64];
    size_t nowned;
    int benchmark;          /* --benchmark: the offline job (what no pool gives too) */
    int log_level;          /* pk_log_level + 1; 0: unchanged */
    const char *log_file;   /* --log-file */
    int syslog;             /* --syslog */
} pk_mine_cli;

/* argv[0] is "mine".  Returns 0 or -1 with err filled. */
int pk_mine_cli_parse(pk_mine_cli *c, int argc, char **argv, char *err, size_t errlen);
void pk_mine_cli_free(pk_mine_cli *c);

#endif
