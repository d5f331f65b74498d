/* A powkit miner (pk_miner) on a thread of its own, for the tests that put
 * miners in front of a scripted pool or the proxy. */
#ifndef POWKIT_TEST_MINER_RUNNER_H
#define POWKIT_TEST_MINER_RUNNER_H

#include <pthread.h>

#include "powkit/miner.h"

typedef struct miner_runner {
    pk_miner *m;
    pthread_t th;
    int rc;                            /* pk_miner_run's, once stopped */
    char url[PK_POOLS_MAX][128];       /* the pools' URLs (o->pool.pools point here) */
} miner_runner;

/* One pool more in o: stratum+tcp:// (or +ssl://) 127.0.0.1:port, its URL
 * kept in r. */
void miner_runner_add_pool(miner_runner *r, pk_miner_opts *o, int port, int tls, const char *user,
                           const char *pass);
/* Creates the miner and runs it on its thread.  Returns 0, or -1 with err. */
int miner_runner_start(miner_runner *r, const pk_miner_opts *o, char *err, size_t errlen);
/* Stops it, joins and frees it; returns pk_miner_run's result (0: no
 * invalid shares). */
int miner_runner_stop(miner_runner *r);

#endif
