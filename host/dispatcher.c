/* Nonce-range dispatcher: one lock around the current template and its
 * next free nonce; device threads take ranges sized to a few milliseconds
 * of their own speed, so the lock is taken a few hundred times a second. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "powkit/dispatcher.h"
#include "powkit/error.h"
#include "powkit/sha256.h"

#define NONCE_SPACE ((uint64_t)1 << 32)

struct pk_dispatcher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pk_source *src;
    int stopping;
    int have_template;
    unsigned want_lanes, lanes; /* version lanes asked for; templates held now */
    pk_template tmpl[PK_RANGE_LANES_MAX];
    pk_job job[PK_RANGE_LANES_MAX];
    int have_pending; /* a template that did not fit the last group */
    pk_template pending;
    uint64_t next_nonce; /* 0 .. 2^32 within the template */
    _Atomic uint64_t generation;
    _Atomic uint64_t templates, groups, shares, invalid, stale;
    _Atomic uint64_t difficulty_bits; /* the current target's difficulty, a double's bits */
    _Atomic uint64_t best_bits;       /* the best share's difficulty, likewise */
    pk_take_observer observer;
    void *observer_ud;
};

void pk_dispatcher_set_observer(pk_dispatcher *d, pk_take_observer fn, void *ud)
{
    pthread_mutex_lock(&d->mu);
    d->observer = fn;
    d->observer_ud = ud;
    pthread_mutex_unlock(&d->mu);
}

int pk_dispatcher_new(pk_dispatcher **out, pk_source *src)
{
    *out = NULL;
    if (!src || !src->next_template)
        return PK_EINVAL;
    pk_dispatcher *d = calloc(1, sizeof *d);
    if (!d)
        return PK_ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    d->src = src;
    *out = d;
    return PK_OK;
}

void pk_dispatcher_free(pk_dispatcher *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}

int pk_dispatcher_set_version_lanes(pk_dispatcher *d, unsigned lanes)
{
    if (lanes > PK_RANGE_LANES_MAX)
        return PK_EINVAL;
    pthread_mutex_lock(&d->mu);
    d->want_lanes = lanes;
    pthread_mutex_unlock(&d->mu);
    return PK_OK;
}

void pk_dispatcher_new_job(pk_dispatcher *d)
{
    pthread_mutex_lock(&d->mu);
    d->have_template = 0;
    d->have_pending = 0; /* from the old job */
    atomic_fetch_add(&d->generation, 1);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void pk_dispatcher_stop(pk_dispatcher *d)
{
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    atomic_fetch_add(&d->generation, 1);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

uint64_t pk_dispatcher_generation(const pk_dispatcher *d)
{
    return atomic_load_explicit(&d->generation, memory_order_acquire);
}

int pk_dispatcher_is_stale(const pk_dispatcher *d, const pk_range *r)
{
    return pk_dispatcher_generation(d) != r->generation;
}

/* Same header but the version (bytes 0-3) and the nonce (76-79), same
 * target and job. */
static int same_but_version(const pk_template *a, const pk_template *b)
{
    return memcmp(a->header + 4, b->header + 4, 72) == 0 && memcmp(a->target, b->target, 32) == 0 &&
           a->job_id == b->job_id;
}

/* With tmpl[0] taken, add the templates after it while they differ only
 * in the version; the first that does not is kept for the next group. */
static void fill_group(pk_dispatcher *d)
{
    while (d->lanes < d->want_lanes) {
        pk_template *t = &d->tmpl[d->lanes];
        if (d->src->next_template(d->src, t) != PK_OK)
            return;
        if (!same_but_version(&d->tmpl[0], t)) {
            d->pending = *t;
            d->have_pending = 1;
            return;
        }
        d->lanes++;
    }
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int pk_dispatcher_take(pk_dispatcher *d, uint32_t want, unsigned wait_ms, pk_range *r)
{
    struct timespec deadline;
    deadline_after(&deadline, wait_ms);
    if (want == 0)
        want = 1;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        if (d->stopping) {
            pthread_mutex_unlock(&d->mu);
            return PK_ESTOPPED;
        }
        if (!d->have_template || d->next_nonce >= NONCE_SPACE) {
            d->have_template = 0;
            if (d->have_pending || d->src->next_template(d->src, &d->tmpl[0]) == PK_OK) {
                if (d->have_pending)
                    d->tmpl[0] = d->pending;
                d->have_pending = 0;
                d->lanes = 1;
                fill_group(d);
                for (unsigned l = 0; l < d->lanes; l++) {
                    pk_work work;
                    pk_work_from_header(&work, d->tmpl[l].header, d->tmpl[l].target);
                    pk_job_init(&d->job[l], &work);
                }
                d->have_template = 1;
                d->next_nonce = 0;
                double diff = pk_target_to_difficulty(d->tmpl[0].target);
                uint64_t bits;
                memcpy(&bits, &diff, sizeof bits);
                atomic_store(&d->difficulty_bits, bits);
                atomic_fetch_add(&d->templates, d->lanes);
                if (d->lanes > 1)
                    atomic_fetch_add(&d->groups, 1);
                continue;
            }
            if (pthread_cond_timedwait(&d->cv, &d->mu, &deadline) != 0) {
                pthread_mutex_unlock(&d->mu);
                return PK_EAGAIN;
            }
            continue;
        }
        uint64_t left = NONCE_SPACE - d->next_nonce;
        uint32_t count = left < want ? (uint32_t)left : want;
        r->job = d->job[0];
        memcpy(r->header, d->tmpl[0].header, 80);
        r->job_id = d->tmpl[0].job_id;
        r->extra = d->tmpl[0].extra;
        r->lanes = d->lanes;
        for (unsigned l = 0; l < d->lanes && d->lanes > 1; l++) {
            r->jobs[l] = d->job[l];
            memcpy(r->headers[l], d->tmpl[l].header, 80);
            r->job_ids[l] = d->tmpl[l].job_id;
            r->extras[l] = d->tmpl[l].extra;
        }
        r->generation = atomic_load(&d->generation);
        r->start = (uint32_t)d->next_nonce;
        r->count = count;
        d->next_nonce += count;
        pk_take_observer obs = d->observer;
        void *obs_ud = d->observer_ud;
        pthread_mutex_unlock(&d->mu);
        if (obs)
            obs(obs_ud, r);
        return PK_OK;
    }
}

int pk_dispatcher_found(pk_dispatcher *d, const pk_range *r, uint32_t nonce, unsigned device,
                        unsigned thread)
{
    return pk_dispatcher_found_lane(d, r, 0, nonce, device, thread);
}

int pk_dispatcher_found_lane(pk_dispatcher *d, const pk_range *r, unsigned lane, uint32_t nonce,
                             unsigned device, unsigned thread)
{
    if (lane >= (r->lanes > 1 ? r->lanes : 1)) {
        atomic_fetch_add(&d->invalid, 1); /* no such template: a device bug */
        return 0;
    }
    const int grouped = r->lanes > 1;
    const uint8_t *target = grouped ? r->jobs[lane].work.target : r->job.work.target;
    pk_share s;
    memset(&s, 0, sizeof s);
    memcpy(s.header, grouped ? r->headers[lane] : r->header, 80);
    s.header[76] = (uint8_t)nonce;
    s.header[77] = (uint8_t)(nonce >> 8);
    s.header[78] = (uint8_t)(nonce >> 16);
    s.header[79] = (uint8_t)(nonce >> 24);
    /* The recheck: the whole header through plain SHA-256d, never the
     * kernel's shortcuts.  A kernel's word is not enough to submit. */
    pk_sha256d(s.header, 80, s.hash);
    if (!pk_hash_meets_target(s.hash, target)) {
        atomic_fetch_add(&d->invalid, 1);
        return 0;
    }
    if (pk_dispatcher_is_stale(d, r))
        atomic_fetch_add(&d->stale, 1);
    atomic_fetch_add(&d->shares, 1);
    /* The best share so far (cgminer's "Best Share"): positive doubles
     * order as their bits do. */
    double diff = pk_target_to_difficulty(s.hash);
    uint64_t bits, old = atomic_load(&d->best_bits);
    memcpy(&bits, &diff, sizeof bits);
    while (bits > old && !atomic_compare_exchange_weak(&d->best_bits, &old, bits))
        ;
    s.nonce = nonce;
    s.job_id = grouped ? r->job_ids[lane] : r->job_id;
    s.extra = grouped ? r->extras[lane] : r->extra;
    s.device = device;
    s.thread = thread;
    if (d->src->on_share)
        d->src->on_share(d->src, &s);
    return 1;
}

void pk_dispatcher_get_stats(const pk_dispatcher *d, pk_dispatcher_stats *st)
{
    st->templates = atomic_load(&d->templates);
    st->groups = atomic_load(&d->groups);
    st->shares = atomic_load(&d->shares);
    st->invalid = atomic_load(&d->invalid);
    st->stale = atomic_load(&d->stale);
    uint64_t bits = atomic_load(&d->difficulty_bits);
    memcpy(&st->difficulty, &bits, sizeof st->difficulty);
    bits = atomic_load(&d->best_bits);
    memcpy(&st->best_share, &bits, sizeof st->best_share);
}
