/* The powkit commands (internal to cli/): each takes argv with argv[0] its
 * own name and returns the exit status (args.h: 0 ok or valid, 1 invalid,
 * 2 usage or input error); each has its usage, printed by `--help`. */
#ifndef POWKIT_CLI_COMMANDS_H
#define POWKIT_CLI_COMMANDS_H

#include <stdio.h>

typedef struct pk_command {
    const char *name;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *f);
    const char *summary; /* one line for `powkit help` */
} pk_command;

/* Every command, in the order `powkit help` lists them; NULL-terminated. */
extern const pk_command pk_commands[];
const pk_command *pk_command_find(const char *name);

int pk_cmd_mine(int argc, char **argv);
void pk_usage_mine(FILE *f);
int pk_cmd_proxy(int argc, char **argv);
void pk_usage_proxy(FILE *f);
int pk_cmd_bench(int argc, char **argv);
void pk_usage_bench(FILE *f);
int pk_cmd_verify_block(int argc, char **argv);
void pk_usage_verify_block(FILE *f);
int pk_cmd_verify_chain(int argc, char **argv);
void pk_usage_verify_chain(FILE *f);
int pk_cmd_verify_headers(int argc, char **argv);
void pk_usage_verify_headers(FILE *f);
int pk_cmd_verify_sigs(int argc, char **argv);
void pk_usage_verify_sigs(FILE *f);
int pk_cmd_devices(int argc, char **argv);
void pk_usage_devices(FILE *f);
int pk_cmd_selftest(int argc, char **argv);
void pk_usage_selftest(FILE *f);
int pk_cmd_version(int argc, char **argv);
void pk_usage_version(FILE *f);

struct pk_dispatch;
/* recalibrate: measure the kernels even when the pick is cached. */
int pk_cli_init_dispatch(struct pk_dispatch *d, int recalibrate);

#ifndef POWKIT_VERSION
#define POWKIT_VERSION "dev"
#endif

#endif
