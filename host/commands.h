/* Internal to host/: the command-line subcommands living outside main.c. */
#ifndef POWKIT_HOST_COMMANDS_H
#define POWKIT_HOST_COMMANDS_H

int pk_cmd_verify_block(int argc, char **argv);
int pk_cmd_verify_headers(int argc, char **argv);
int pk_cmd_verify_sigs(int argc, char **argv);

#endif
