/* powkit: the work-source core.  The pool set, the node (solo) and the
 * proxy's upstream all hold the same things: a ring of the latest jobs by
 * sequence number, which of them is mined now, and, where devices mine,
 * the templates handed out and a queue of found shares from device
 * threads to the loop.  This is that one piece.
 *
 *   wire --> source (stratum/pool.c, node.c, proxy.c)
 *        --> pk_work_add: job in the ring, made current
 *        --> devices: the core's pk_source (next_template, on_share)
 *        --> queued shares, handed back on the loop (cfg.on_share)
 *
 * Threads: next_template and on_share run on device threads; everything
 * else on the loop thread.  The ring is guarded by one mutex, taken
 * around each call here; callers that read slots take it themselves with
 * pk_work_lock.  A source without devices (the proxy) passes no loop: it
 * then has no share queue and no async handle to close.
 */
#ifndef POWKIT_WORKCORE_H
#define POWKIT_WORKCORE_H

#include "powkit/export.h"

#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "powkit/dispatcher.h"
#include "powkit/poolwork.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_WORK_RING_MAX 16

typedef struct pk_work_slot {
    uint64_t seq;       /* 0: empty */
    int origin;         /* who sent it: a pool's index (0 when there is one source) */
    int live;           /* its shares are still wanted */
    double arrived;     /* pk_now() when it came in */
    pk_pool_job job;
    pk_pool_work work;  /* work.job points at job: slots never move */
    void *ext;          /* the source's own data for it (the node's template) */
} pk_work_slot;

/* A share found by a device, as the loop gets it. */
typedef struct pk_work_share {
    uint64_t seq, t;    /* its job and template number */
    uint32_t nonce;
    uint8_t hash[32];
    double at;          /* pk_now() when the device reported it */
} pk_work_share;

enum { PK_WORK_STALE = 1, PK_WORK_DROPPED = 2 };

typedef struct pk_work_cfg {
    unsigned ring;           /* jobs kept, 1..PK_WORK_RING_MAX (0: the maximum) */
    unsigned queue_max;      /* shares waiting for the loop (0: 65536) */
    /* Solo: a share is a block, and a block finishes its job (another
     * block on the same template would compete with the first). */
    int one_share_per_job;
    void (*ext_free)(void *ext);
    /* Loop thread: each queued share, in the order found. */
    void (*on_share)(void *arg, const pk_work_share *sh);
    /* Device thread, under the lock: a share lost before the queue, as
     * PK_WORK_STALE (its job is no longer live; slot NULL when it left the
     * ring) or PK_WORK_DROPPED (the queue is full).  May be NULL. */
    void (*on_lost)(void *arg, const pk_work_slot *slot, int why);
    void *arg;
} pk_work_cfg;

typedef struct pk_work_core {
    pk_source src; /* first: the dispatcher hands this back */
    pk_work_cfg cfg;
    uv_loop_t *loop;
    pk_dispatcher *disp;
    pthread_mutex_t mu;
    pk_work_slot ring[PK_WORK_RING_MAX];
    uint64_t next_seq, current;
    int exhausted_logged;
    pk_work_share *q;
    size_t qn, qcap;
    uv_async_t async;
    void (*closed)(void *arg);
    void *closed_arg;
} pk_work_core;

/* Returns 0.  loop may be NULL (no devices: no share queue). */
PK_API int pk_work_init(pk_work_core *c, uv_loop_t *loop, const pk_work_cfg *cfg);
/* The dispatcher told when the work devices should mine changes. */
PK_API void pk_work_attach(pk_work_core *c, pk_dispatcher *d);
/* Tell the dispatcher now (devices drop what they hold and ask again). */
PK_API void pk_work_kick(pk_work_core *c);

PK_API void pk_work_lock(pk_work_core *c);
PK_API void pk_work_unlock(pk_work_core *c);
/* The slot of job seq, or NULL once it left the ring.  Under the lock. */
PK_API pk_work_slot *pk_work_find(pk_work_core *c, uint64_t seq);
/* The newest slot whose job id is id, or NULL.  Under the lock. */
PK_API pk_work_slot *pk_work_find_id(pk_work_core *c, const char *id);
/* The current job's slot, or NULL.  Under the lock. */
PK_API pk_work_slot *pk_work_current_slot(pk_work_core *c);

/* A new job (moved in: *job is the core's now, the caller frees only the
 * struct it was in) from origin, with ext (freed with cfg.ext_free when
 * the slot is reused).  clean: the origin's older jobs are no longer
 * live.  make_current: devices mine it now (the dispatcher is told).
 * Returns its sequence number; its slot is not live when its work cannot
 * be set up (an extranonce too large). */
PK_API uint64_t pk_work_add(pk_work_core *c, pk_pool_job *job, int origin, void *ext, int clean,
                            int make_current);
/* Which job devices mine (0: none).  The dispatcher is told. */
PK_API void pk_work_set_current(pk_work_core *c, uint64_t seq);
PK_API uint64_t pk_work_current(pk_work_core *c);
/* Every live slot for which keep() says no is no longer live.  Returns
 * 1 when the current job was one of them (the caller decides whether to
 * kick the devices).  keep NULL: every slot. */
PK_API int pk_work_retire(pk_work_core *c, int (*keep)(const pk_work_slot *s, void *arg), void *arg);

/* Hand queued shares to cfg.on_share now (the loop does it by itself). */
PK_API void pk_work_drain(pk_work_core *c);
/* Closes the async handle; closed(arg) runs after (at once with no loop).
 * Then pk_work_free. */
PK_API void pk_work_close(pk_work_core *c, void (*closed)(void *arg), void *arg);
/* Frees the jobs, their ext and the queue. */
PK_API void pk_work_free(pk_work_core *c);

#ifdef __cplusplus
}
#endif
#endif
