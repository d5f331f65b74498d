/* powkit: handing nonce ranges to devices.
 *
 * A work source (a pool, a node, the offline benchmark job) is a struct of
 * function pointers: it makes unique header templates for its current job
 * and takes the shares found on them.  The dispatcher cuts each template's
 * 2^32 nonces into ranges for device threads, asks the source for the next
 * template when one runs out, and rechecks every nonce a device reports
 * with the reference hash before the source sees it.
 *
 * A job change (pk_dispatcher_new_job) bumps a generation number; device
 * threads compare it between short chunks and drop stale work at once.
 */
#ifndef POWKIT_DISPATCHER_H
#define POWKIT_DISPATCHER_H

#include "powkit/export.h"

#include <stdint.h>

#include "powkit/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_template {
    uint8_t header[80];  /* nonce field ignored */
    uint8_t target[32];  /* share target, little-endian */
    uint64_t job_id;     /* the source's own tags, returned with shares */
    uint64_t extra;
} pk_template;

typedef struct pk_share {
    uint8_t header[80]; /* with the winning nonce in place */
    uint8_t hash[32];   /* its double SHA-256, as computed by ref */
    uint32_t nonce;
    uint64_t job_id, extra; /* the template's tags */
    unsigned device, thread;
} pk_share;

typedef struct pk_source pk_source;
struct pk_source {
    /* Fill in the next unique template of the current job.  Return 0, or
     * PK_EAGAIN when there is no work (devices wait for new_job).  Called
     * with the dispatcher's lock held: quick, and no dispatcher calls. */
    int (*next_template)(pk_source *src, pk_template *out);
    /* A share that passed the reference recheck.  Called from a device
     * thread; must not block. */
    void (*on_share)(pk_source *src, const pk_share *share);
};

#define PK_RANGE_LANES_MAX 16

/* Nonces start .. start+count-1 of one template, or, with version lanes on
 * (pk_dispatcher_set_version_lanes), of each of `lanes` templates that
 * differ only in their version: lane l is jobs[l], headers[l], ... and
 * lane 0 is also job, header, job_id, extra. */
typedef struct pk_range {
    pk_job job;
    uint8_t header[80];
    uint64_t job_id, extra;
    uint64_t generation;
    uint32_t start;
    uint32_t count;
    unsigned lanes; /* 1, or up to the version-lane count asked for */
    pk_job jobs[PK_RANGE_LANES_MAX];
    uint8_t headers[PK_RANGE_LANES_MAX][80];
    uint64_t job_ids[PK_RANGE_LANES_MAX], extras[PK_RANGE_LANES_MAX];
} pk_range;

typedef struct pk_dispatcher_stats {
    uint64_t templates;  /* templates taken from the source */
    uint64_t groups;     /* version-lane groups handed out (each of 2+ templates) */
    uint64_t shares;     /* rechecked and passed to the source */
    uint64_t invalid;    /* reported by a device but rejected by ref: a bug */
    uint64_t stale;      /* found on a job that changed meanwhile, still passed on */
    double difficulty;   /* the share target of the work being mined (0 before any) */
    double best_share;   /* the highest difficulty a rechecked share reached */
} pk_dispatcher_stats;

typedef struct pk_dispatcher pk_dispatcher;

PK_API int pk_dispatcher_new(pk_dispatcher **out, pk_source *src);
PK_API void pk_dispatcher_free(pk_dispatcher *d);

/* The source's job changed: drop the current template. */
PK_API void pk_dispatcher_new_job(pk_dispatcher *d);
/* Wake every waiting device and make take() return PK_ESTOPPED. */
PK_API void pk_dispatcher_stop(pk_dispatcher *d);

/* Next range of up to `want` nonces.  Returns 0, PK_EAGAIN after waiting
 * up to wait_ms for work, or PK_ESTOPPED. */
PK_API int pk_dispatcher_take(pk_dispatcher *d, uint32_t want, unsigned wait_ms, pk_range *r);
/* Whether the job has changed since r was taken. */
PK_API int pk_dispatcher_is_stale(const pk_dispatcher *d, const pk_range *r);
PK_API uint64_t pk_dispatcher_generation(const pk_dispatcher *d);

/* A device found nonce in r: recheck with ref, count, pass on.  Returns 1
 * when it was a valid share, 0 when ref rejected it. */
PK_API int pk_dispatcher_found(pk_dispatcher *d, const pk_range *r, uint32_t nonce, unsigned device,
                               unsigned thread);
/* The same for lane `lane` of a version-lane range. */
PK_API int pk_dispatcher_found_lane(pk_dispatcher *d, const pk_range *r, unsigned lane, uint32_t nonce,
                                    unsigned device, unsigned thread);

/* Version lanes: hand out ranges over up to `lanes` consecutive templates
 * that differ only in their version (what a source that rolls BIP320 bits
 * gives, as pools with version rolling and the offline job do), so a
 * kernel can share hash 1's message schedule among them.  A template that
 * does not fit the group is kept for the next one; none is skipped.  0 or
 * 1: one template per range (the default).  Returns PK_EINVAL above
 * PK_RANGE_LANES_MAX. */
PK_API int pk_dispatcher_set_version_lanes(pk_dispatcher *d, unsigned lanes);

PK_API void pk_dispatcher_get_stats(const pk_dispatcher *d, pk_dispatcher_stats *st);

/* Called (on the device thread, outside the lock) each time a range is
 * taken: what benchmarks use to see when devices pick up a new job. */
typedef void (*pk_take_observer)(void *ud, const pk_range *r);
PK_API void pk_dispatcher_set_observer(pk_dispatcher *d, pk_take_observer fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
