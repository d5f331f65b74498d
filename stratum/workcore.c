/* The work-source core (see include/powkit/workcore.h).  Lock order: the
 * dispatcher's lock, then `mu` (next_template runs under the dispatcher's
 * lock); so nothing here calls the dispatcher while holding `mu`. */
#include <stdlib.h>
#include <string.h>

#include "powkit/error.h"
#include "powkit/kernel.h"
#include "powkit/log.h"
#include "powkit/util.h"
#include "powkit/workcore.h"

static unsigned ring_len(const pk_work_core *c) { return c->cfg.ring; }

pk_work_slot *pk_work_find(pk_work_core *c, uint64_t seq)
{
    pk_work_slot *s = &c->ring[seq % ring_len(c)];
    return seq && s->seq == seq ? s : NULL;
}

pk_work_slot *pk_work_find_id(pk_work_core *c, const char *id)
{
    /* Newest first: a pool may reuse an id, and the newest one is meant. */
    for (uint64_t k = 0; k < ring_len(c) && k < c->next_seq; k++) {
        pk_work_slot *s = pk_work_find(c, c->next_seq - k);
        if (s && strcmp(s->job.id, id) == 0)
            return s;
    }
    return NULL;
}

pk_work_slot *pk_work_current_slot(pk_work_core *c) { return pk_work_find(c, c->current); }

void pk_work_lock(pk_work_core *c) { pthread_mutex_lock(&c->mu); }
void pk_work_unlock(pk_work_core *c) { pthread_mutex_unlock(&c->mu); }

void pk_work_attach(pk_work_core *c, pk_dispatcher *d) { c->disp = d; }

void pk_work_kick(pk_work_core *c)
{
    if (c->disp)
        pk_dispatcher_new_job(c->disp);
}

/* ---- device threads ---- */

static int src_next(pk_source *src, pk_template *t)
{
    pk_work_core *c = (pk_work_core *)src;
    int rc = PK_EAGAIN;
    pthread_mutex_lock(&c->mu);
    pk_work_slot *s = pk_work_find(c, c->current);
    if (s && s->live) {
        uint64_t n;
        if (pk_pool_work_next(&s->work, t->header, &n) == PK_OK) {
            memcpy(t->target, s->work.share_target, 32);
            t->job_id = s->seq;
            t->extra = n;
            rc = PK_OK;
        } else if (!c->exhausted_logged) {
            c->exhausted_logged = 1;
            pk_log(PK_LOG_WARN, "job %s: every extranonce2 and version is used; waiting for a new job", s->job.id);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void src_share(pk_source *src, const pk_share *sh)
{
    pk_work_core *c = (pk_work_core *)src;
    int stop_devices = 0;
    pthread_mutex_lock(&c->mu);
    pk_work_slot *s = pk_work_find(c, sh->job_id);
    if (!s || !s->live || !c->loop) {
        if (c->cfg.on_lost)
            c->cfg.on_lost(c->cfg.arg, s, PK_WORK_STALE);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (c->qn == c->qcap) {
        size_t cap = c->qcap ? 2 * c->qcap : 64;
        pk_work_share *q = cap <= c->cfg.queue_max ? realloc(c->q, cap * sizeof *q) : NULL;
        if (!q) {
            if (c->cfg.on_lost)
                c->cfg.on_lost(c->cfg.arg, s, PK_WORK_DROPPED);
            pthread_mutex_unlock(&c->mu);
            if (c->cfg.one_share_per_job)
                pk_log(PK_LOG_ERROR, "no memory to queue a found block");
            return;
        }
        c->q = q;
        c->qcap = cap;
    }
    if (c->cfg.one_share_per_job) {
        s->live = 0;
        if (c->current == s->seq) {
            c->current = 0; /* nothing to mine until the next job */
            stop_devices = 1;
        }
    }
    pk_work_share *q = &c->q[c->qn++];
    q->seq = sh->job_id;
    q->t = sh->extra;
    q->nonce = sh->nonce;
    memcpy(q->hash, sh->hash, 32);
    q->at = pk_now();
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
    if (stop_devices)
        pk_work_kick(c);
}

/* ---- loop thread ---- */

void pk_work_drain(pk_work_core *c)
{
    for (;;) {
        pk_work_share batch[64];
        pthread_mutex_lock(&c->mu);
        size_t n = c->qn < 64 ? c->qn : 64;
        if (n == 0) { /* and maybe no queue at all yet */
            pthread_mutex_unlock(&c->mu);
            return;
        }
        memcpy(batch, c->q, n * sizeof *batch);
        memmove(c->q, c->q + n, (c->qn - n) * sizeof *c->q);
        c->qn -= n;
        pthread_mutex_unlock(&c->mu);
        for (size_t i = 0; i < n; i++)
            if (c->cfg.on_share)
                c->cfg.on_share(c->cfg.arg, &batch[i]);
    }
}

static void async_cb(uv_async_t *a) { pk_work_drain(a->data); }

static void slot_clear(pk_work_core *c, pk_work_slot *s)
{
    if (!s->seq)
        return;
    pk_pool_job_free(&s->job);
    if (s->ext && c->cfg.ext_free)
        c->cfg.ext_free(s->ext);
    memset(s, 0, sizeof *s);
}

uint64_t pk_work_add(pk_work_core *c, pk_pool_job *job, int origin, void *ext, int clean, int make_current)
{
    pthread_mutex_lock(&c->mu);
    uint64_t seq = ++c->next_seq;
    pk_work_slot *s = &c->ring[seq % ring_len(c)];
    slot_clear(c, s);
    if (clean) {
        for (unsigned i = 0; i < ring_len(c); i++)
            if (c->ring[i].seq && c->ring[i].origin == origin)
                c->ring[i].live = 0;
    }
    s->seq = seq;
    s->origin = origin;
    s->arrived = pk_now();
    s->job = *job;
    memset(job, 0, sizeof *job);
    s->ext = ext;
    s->live = pk_pool_work_init(&s->work, &s->job) == PK_OK;
    if (make_current) {
        c->current = seq;
        c->exhausted_logged = 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (make_current)
        pk_work_kick(c); /* every device moves to it at once */
    return seq;
}

void pk_work_set_current(pk_work_core *c, uint64_t seq)
{
    pthread_mutex_lock(&c->mu);
    c->current = seq;
    c->exhausted_logged = 0;
    pthread_mutex_unlock(&c->mu);
    pk_work_kick(c);
}

uint64_t pk_work_current(pk_work_core *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t seq = c->current;
    pthread_mutex_unlock(&c->mu);
    return seq;
}

int pk_work_retire(pk_work_core *c, int (*keep)(const pk_work_slot *s, void *arg), void *arg)
{
    int current_gone = 0;
    pthread_mutex_lock(&c->mu);
    for (unsigned i = 0; i < ring_len(c); i++) {
        pk_work_slot *s = &c->ring[i];
        if (s->seq && s->live && !(keep && keep(s, arg))) {
            s->live = 0;
            current_gone |= s->seq == c->current;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return current_gone;
}

/* ---- lifecycle ---- */

int pk_work_init(pk_work_core *c, uv_loop_t *loop, const pk_work_cfg *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    if (c->cfg.ring == 0 || c->cfg.ring > PK_WORK_RING_MAX)
        c->cfg.ring = PK_WORK_RING_MAX;
    if (c->cfg.queue_max == 0)
        c->cfg.queue_max = 65536;
    c->loop = loop;
    c->src.next_template = src_next;
    c->src.on_share = src_share;
    pthread_mutex_init(&c->mu, NULL);
    if (loop) {
        uv_async_init(loop, &c->async, async_cb);
        c->async.data = c;
    }
    return PK_OK;
}

static void async_closed(uv_handle_t *h)
{
    pk_work_core *c = h->data;
    if (c->closed)
        c->closed(c->closed_arg);
}

void pk_work_close(pk_work_core *c, void (*closed)(void *arg), void *arg)
{
    c->closed = closed;
    c->closed_arg = arg;
    if (!c->loop) {
        if (closed)
            closed(arg);
        return;
    }
    uv_close((uv_handle_t *)&c->async, async_closed);
}

void pk_work_free(pk_work_core *c)
{
    for (unsigned i = 0; i < PK_WORK_RING_MAX; i++)
        slot_clear(c, &c->ring[i]);
    free(c->q);
    c->q = NULL;
    c->qn = c->qcap = 0;
    pthread_mutex_destroy(&c->mu);
}
