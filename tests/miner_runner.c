#include "miner_runner.h"

#include <stdio.h>

static void *run_thread(void *a)
{
    miner_runner *r = a;
    r->rc = pk_miner_run(r->m);
    return NULL;
}

void miner_runner_add_pool(miner_runner *r, pk_miner_opts *o, int port, int tls, const char *user,
                           const char *pass)
{
    size_t i = o->pool.npools;
    snprintf(r->url[i], sizeof r->url[i], "stratum+%s://127.0.0.1:%d", tls ? "ssl" : "tcp", port);
    o->pool.pools[i] = (pk_pool_cfg){r->url[i], user, pass};
    o->pool.npools++;
}

int miner_runner_start(miner_runner *r, const pk_miner_opts *o, char *err, size_t errlen)
{
    if (pk_miner_new(o, &r->m, err, errlen) != 0)
        return -1;
    if (pthread_create(&r->th, NULL, run_thread, r) != 0) {
        snprintf(err, errlen, "cannot start the miner's thread");
        pk_miner_free(r->m);
        return -1;
    }
    return 0;
}

int miner_runner_stop(miner_runner *r)
{
    pk_miner_stop(r->m);
    pthread_join(r->th, NULL);
    pk_miner_free(r->m);
    r->m = NULL;
    return r->rc;
}
