/* powkit: parsing `powkit mine`'s options and --config file. */
#ifndef POWKIT_MINE_CLI_H
#define POWKIT_MINE_CLI_H

#include "powkit/export.h"

#include <jansson.h>
#include <stdio.h>

#include "powkit/miner.h"

typedef struct pk_mine_cli {
    pk_miner_opts opts;
    int help; /* 1: --help, 2: --version */
    json_t *config; /* keeps the config's strings alive */
    char *owned[64];
    size_t nowned;
} pk_mine_cli;

/* argv[0] is "mine".  Returns 0 or -1 with err filled. */
PK_API int pk_mine_cli_parse(pk_mine_cli *c, int argc, char **argv, char *err, size_t errlen);
PK_API void pk_mine_cli_free(pk_mine_cli *c);
PK_API void pk_mine_usage(FILE *f);

#endif
