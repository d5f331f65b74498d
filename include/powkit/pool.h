/* powkit: a set of pools in priority order, as one work source.
 *
 * It mines the job of the active pool.  When that pool fails (connect
 * error, timeout, no work for no_work_timeout_s, max_rejects rejects in a
 * row) the next pool in line takes over; a higher-priority pool that comes
 * back is probed with exponential back-off and jitter and becomes active
 * again once it has stayed up failback_stable_ms (no flapping).
 *
 * Shares come from device threads (on_share) and are submitted from the
 * loop thread; shares for a job the pool cleared are stale and not sent;
 * shares found while the pool is down are kept (up to offline_max) and
 * submitted when the session resumes with the same extranonce1, else
 * dropped and counted.
 */
#ifndef POWKIT_POOL_H
#define POWKIT_POOL_H

#include "powkit/export.h"

#include <stdint.h>
#include <uv.h>

#include "powkit/dispatcher.h"
#include "powkit/stratum.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_POOLS_MAX 8

typedef struct pk_pool_cfg {
    const char *url, *user, *pass;
} pk_pool_cfg;

typedef struct pk_pool_set_opts {
    pk_pool_cfg pools[PK_POOLS_MAX];
    size_t npools;
    const char *ca_file;
    int insecure, no_extranonce, no_version_rolling, allow_redirect;
    double suggest_difficulty;
    unsigned no_work_timeout_s;  /* 0: 180 */
    unsigned max_rejects;        /* 0: 20 in a row */
    unsigned backoff_min_ms;     /* 0: 1000 */
    unsigned backoff_max_ms;     /* 0: 60000 */
    unsigned failback_stable_ms; /* 0: 30000 */
    unsigned offline_max;        /* 0: 256 shares */
    unsigned connect_timeout_ms, request_timeout_ms, configure_timeout_ms; /* 0: defaults */
    /* Each share's verdict, on the loop thread, after the counters moved
     * (reason NULL when accepted). */
    void (*on_result)(void *arg, int pool, int accepted, const char *reason);
    void *result_arg;
    /* cpuminer's --retries: once every enabled pool has failed more than
     * this many times in a row, on_give_up(result_arg, why) (0: never). */
    unsigned max_retries;
    void (*on_give_up)(void *arg, const char *why);
} pk_pool_set_opts;

typedef struct pk_pool_stats {
    char url[512];
    int state;          /* pk_stratum_state */
    int active;
    double difficulty;
    uint64_t accepted, rejected, stale, dropped, submitted;
    double diff_accepted, diff_rejected; /* the pool's difficulty summed over the verdicts */
    double last_share_diff;
    uint64_t last_share_time;            /* unix seconds of the last verdict, 0: none */
    char last_reject[128];
    char user[128];     /* the worker name */
    int priority;       /* 0: tried first */
    int disabled;
} pk_pool_stats;

typedef struct pk_pool_set pk_pool_set;

/* Returns 0 or PK_EINVAL (bad URL, TLS setup) with err filled. */
PK_API int pk_pool_set_new(uv_loop_t *loop, const pk_pool_set_opts *o, pk_pool_set **out, char *err,
                           size_t errlen);
/* The work source to give the dispatcher. */
PK_API pk_source *pk_pool_set_source(pk_pool_set *ps);
/* The dispatcher to tell about job changes (set before start). */
PK_API void pk_pool_set_attach(pk_pool_set *ps, pk_dispatcher *d);
PK_API int pk_pool_set_start(pk_pool_set *ps);
/* Close every connection; closed() runs once all handles are closed. */
PK_API void pk_pool_set_close(pk_pool_set *ps, void (*closed)(void *arg), void *arg);

/* A consumer of the set's work other than the devices (the proxy): told,
 * on the loop thread, which pool is mined (-1: none, its shares cannot go
 * anywhere now) and the jobs to mine (the active pool's, as they arrive,
 * and its newest when it becomes active; the set keeps the job, copy what
 * is kept), and the verdicts on shares and workers it sent through
 * pk_pool_set_stratum with its own tags. */
typedef struct pk_pool_set_events {
    void *arg;
    void (*active)(void *arg, int pool);
    void (*job)(void *arg, int pool, const pk_pool_job *job);
    void (*result)(void *arg, int pool, uint64_t tag, int accepted, const char *reason);
    void (*worker_result)(void *arg, int pool, uint64_t tag, int ok, const char *reason);
} pk_pool_set_events;
PK_API void pk_pool_set_watch(pk_pool_set *ps, const pk_pool_set_events *ev);
/* Pool i's client (submit_as, authorize_worker, its session number). */
PK_API pk_stratum *pk_pool_set_stratum(pk_pool_set *ps, size_t i);

PK_API size_t pk_pool_set_count(const pk_pool_set *ps);
PK_API void pk_pool_set_stats(pk_pool_set *ps, size_t i, pk_pool_stats *out);
PK_API int pk_pool_set_active(pk_pool_set *ps); /* index, or -1 */
/* cgminer's pool commands, on the loop thread.  Switch: pool i first in
 * the order (enabled), mined as soon as it has work.  Enable/disable: a
 * disabled pool is not connected (the last enabled one cannot be).  Add:
 * a pool last in the order.  Return 0 or PK_EINVAL. */
PK_API int pk_pool_set_switch(pk_pool_set *ps, size_t i);
PK_API int pk_pool_set_enable(pk_pool_set *ps, size_t i, int on);
PK_API int pk_pool_set_add(pk_pool_set *ps, const char *url, const char *user, const char *pass, char *err,
                           size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
