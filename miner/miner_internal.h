/* Internal to the miner's files: miner.c (sources wired to devices,
 * sampling, the status line, stopping, the lifecycle) and miner_api.c
 * (the HTTP API, cgminer's and cpuminer's APIs from the miner's state). */
#ifndef POWKIT_MINER_INTERNAL_H
#define POWKIT_MINER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "powkit/cgminer_api.h"
#include "powkit/device.h"
#include "powkit/dispatch.h"
#include "powkit/miner.h"
#include "powkit/offline.h"
#include "powkit/api.h"

#define SAMPLES 61
#define HISTORY 360 /* 10-s points: an hour */

struct pk_miner {
    pk_miner_opts o;
    uv_loop_t loop;
    pk_dispatch disp;
    const pk_kernel *kernel;
    unsigned version_lanes; /* 0: off */
    pk_dispatcher *d;
    pk_device *dev;        /* the CPU device, NULL when not asked for */
    pk_device *devs[9];    /* every device: CPU first, then OpenCL */
    size_t ndev;
    pk_pool_set *pools;
    pk_node *node;
    int exit_code;
    pk_offline_source offline;
    pk_api *api;
    _Atomic int api_port;
    pk_cgminer_api *cg, *cpm;
    _Atomic int cg_port;
    int restart; /* the cgminer API asked for a restart */
    uv_timer_t sampler, status, deadline;
    uv_signal_t sigint, sigterm;
    uv_async_t stop_async;
    double started;
    uint64_t samples[SAMPLES];
    uint64_t dev_samples[9][SAMPLES]; /* per device, same clock */
    double sample_t[SAMPLES];
    /* The last hour for the status page's chart: the 10-s rate every 10 s. */
    double hist_t[HISTORY], hist_mhs[HISTORY];
    unsigned nhist, next_hist;
    unsigned nsamples, next_sample, ticks;
    pthread_mutex_t mu;
    pk_miner_stats snap;
    int stopping;
    char node_url[512]; /* --node with its credentials redacted */
};

/* miner.c */
double pk_mn_dev_rate(pk_miner *m, size_t dev, unsigned secs);
void pk_mn_take_snapshot(pk_miner *m);
const char *pk_mn_state_name(int st);
/* miner_api.c */
void pk_mn_cg_handler(void *ud, const char *cmd, const char *param, int privileged, pk_cg_reply *r);
char *pk_mn_cpm_handler(void *ud, const char *cmd, const char *param, int privileged);
int pk_mn_api_handler(void *ud, const char *path, char **body, const char **type);

#endif
