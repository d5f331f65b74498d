/* The proxy on a loop thread of its own, for the tests and bench_proxy:
 * the caller's thread reads a snapshot of its figures (taken on the loop
 * thread every 20 ms), never the proxy itself. */
#ifndef POWKIT_TEST_PROXY_RUNNER_H
#define POWKIT_TEST_PROXY_RUNNER_H

#include <pthread.h>
#include <uv.h>

#include "powkit/proxy.h"

#define PR_SNAP_RIGS 64

typedef struct proxy_runner {
    uv_loop_t loop;
    pk_proxy *px;
    pthread_t th;
    uv_async_t stop;
    uv_timer_t snap;
    pthread_mutex_t mu;
    pk_proxy_stats st;                  /* under mu */
    pk_proxy_rig_stats rigs[PR_SNAP_RIGS];
    size_t nrigs;
    int fatal;                          /* on_fatal was called; fatal_why says why */
    char fatal_why[512];
} proxy_runner;

/* Creates and starts the proxy (o->on_fatal is the runner's) and its
 * thread.  Returns 0, or -1 with err filled. */
int proxy_runner_start(proxy_runner *p, pk_proxy_opts *o, char *err, size_t errlen);
/* Closes the proxy on its thread, joins it, frees it.  Returns
 * uv_loop_close's result (0: every handle was closed). */
int proxy_runner_stop(proxy_runner *p);
pk_proxy_stats proxy_runner_stats(proxy_runner *p);
/* A blocking TCP connection to 127.0.0.1:port (Nagle off), or -1. */
int proxy_runner_connect(int port);

#endif
