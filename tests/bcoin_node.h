/* A bcoin regtest node for tests and benchmarks (tests/node/regtest.js):
 * started as a child process on a free loopback port, JSON-RPC helpers. */
#ifndef POWKIT_TEST_BCOIN_NODE_H
#define POWKIT_TEST_BCOIN_NODE_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct node_proc {
    pid_t pid;
    int in_fd;
    int port;
    char url[64];
    char addr[100]; /* a bcoin-format regtest address for generatetoaddress */
    char ready[200]; /* what followed "ready" on the script's first line */
} node_proc;

int bcoin_free_port(void);
/* Starts the node; aborts the process with a message if it cannot. */
void node_start(node_proc *np);
/* Another script of tests/node, with up to two arguments before the port
 * and the API key; it prints "ready ..." when it answers. */
void node_start_script(node_proc *np, const char *script_name, const char *arg1, const char *arg2);
void node_stop(node_proc *np);
/* Blocking JSON-RPC; params are stolen; returns the result (a new ref). */
json_t *call(node_proc *np, const char *method, json_t *params);
int64_t height_of(node_proc *np);

#endif
