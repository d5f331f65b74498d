/* A set of pools as one work source (see include/powkit/pool.h).
 *
 * Threads: everything here runs on the loop thread except what device
 * threads do through the work core (next_template, on_share): the job
 * ring, the current job and the share queue live there, under its lock
 * (include/powkit/workcore.h).  The pool counters the core touches on a
 * device thread (stale, dropped) change under that lock too. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "powkit/error.h"
#include "powkit/kernel.h"
#include "powkit/log.h"
#include "powkit/pool.h"
#include "powkit/util.h"
#include "powkit/workcore.h"

/* A share kept while its pool is down, with the pool it is for. */
typedef struct offline_share {
    int pool;
    pk_work_share sh;
} offline_share;

typedef struct pool_entry {
    pk_pool_set *ps;
    int index;
    pk_stratum *s;
    int ever_failed;     /* failed since it was last ready: the next pool may step in */
    int session_job;     /* a job arrived in this session */
    uint64_t retry_at;
    unsigned backoff_ms;
    uint64_t ready_since; /* 0: not ready */
    uint64_t last_job_ms;
    uint64_t latest_seq;
    unsigned rejects_in_row;
    int disabled;        /* cgminer's disablepool: never connected, never mined */
    unsigned failures_in_row; /* downs since it was last ready (--retries) */
    int switch_now;      /* switchpool: promote as soon as it has work, no failback wait */
    char *owned[3];      /* url, user, pass of a pool added at run time */
    pk_pool_stats st;
} pool_entry;

struct pk_pool_set {
    pk_work_core work; /* first: the dispatcher hands its source back */
    uv_loop_t *loop;
    pk_pool_set_opts o;
    pk_tls_ctx *tls;
    pool_entry pools[PK_POOLS_MAX];
    size_t n;
    int active;
    /* Priority: by_rank[0] is tried first.  Pool indexes never change (the
     * API and the shares name pools by them); their order does. */
    int by_rank[PK_POOLS_MAX], rank[PK_POOLS_MAX];
    int gave_up;
    uint64_t stale_unknown; /* shares whose job was gone from the ring */
    pk_pool_set_events ev;   /* a consumer besides the devices (the proxy) */

    offline_share *offline;
    size_t noffline;
    uint64_t rng; /* back-off jitter */

    uv_timer_t tick;
    int open_handles;
    void (*closed)(void *);
    void *closed_arg;
};

/* ---- device threads (through the core) ---- */

/* Under the core's lock. */
static void share_lost(void *arg, const pk_work_slot *slot, int why)
{
    pk_pool_set *ps = arg;
    if (!slot)
        ps->stale_unknown++;
    else if (why == PK_WORK_STALE)
        ps->pools[slot->origin].st.stale++;
    else
        ps->pools[slot->origin].st.dropped++;
}

/* ---- loop thread ---- */

static void keep_offline(pk_pool_set *ps, int pool, const pk_work_share *sh)
{
    unsigned max = ps->o.offline_max;
    if (ps->noffline == max) { /* full: the oldest goes */
        ps->pools[ps->offline[0].pool].st.dropped++;
        memmove(ps->offline, ps->offline + 1, (max - 1) * sizeof *ps->offline);
        ps->noffline--;
    }
    ps->offline[ps->noffline++] = (offline_share){pool, *sh};
}

/* A share from the core's queue (or kept offline), on the loop thread. */
static void submit_one(void *arg, const pk_work_share *sh)
{
    pk_pool_set *ps = arg;
    pk_submit_fields f;
    char job_id[PK_JOB_ID_MAX];
    int block = 0, pool = -1, valid = 0;
    pk_work_lock(&ps->work);
    pk_work_slot *j = pk_work_find(&ps->work, sh->seq);
    if (j) {
        pool = j->origin;
        /* A share goes only to the session whose job it solves. */
        valid = j->live && j->job.session == pk_stratum_session(ps->pools[pool].s);
    }
    if (valid) {
        pk_pool_work_submit_fields(&j->work, sh->t, sh->nonce, &f);
        memcpy(job_id, j->job.id, sizeof job_id);
        block = pk_hash_meets_target(sh->hash, j->work.block_target);
    }
    pk_work_unlock(&ps->work);
    if (pool < 0) {
        ps->stale_unknown++;
        return;
    }
    pool_entry *e = &ps->pools[pool];
    if (!valid) {
        e->st.stale++;
        return;
    }
    if (block) {
        char hex[65];
        pk_hash_to_hex(sh->hash, hex);
        pk_log(PK_LOG_INFO, "BLOCK candidate %s on job %s: submitted to pool %d", hex, job_id, e->index);
    }
    if (pk_stratum_submit(e->s, job_id, &f, 0) == PK_OK)
        e->st.submitted++;
    else
        keep_offline(ps, pool, sh);
}

static int other_pool(const pk_work_slot *s, void *arg) { return s->origin == *(int *)arg; }

/* The watcher's copy of pool p's job seq.  Job contents never change once
 * in the ring, and slots are reused only on this thread: no lock. */
static void tell_job(pk_pool_set *ps, int p, uint64_t seq)
{
    pk_work_lock(&ps->work);
    pk_work_slot *j = pk_work_find(&ps->work, seq);
    int ok = j && j->live;
    pk_work_unlock(&ps->work);
    if (ok && ps->ev.job)
        ps->ev.job(ps->ev.arg, p, &j->job);
}

/* Make pool p's newest job the one devices mine (p may be -1: none). */
static void set_active(pk_pool_set *ps, int p)
{
    ps->active = p;
    for (size_t i = 0; i < ps->n; i++)
        ps->pools[i].st.active = (int)i == p;
    if (p >= 0) {
        pk_work_retire(&ps->work, other_pool, &p); /* another pool's work is worth nothing here */
        pk_work_set_current(&ps->work, ps->pools[p].latest_seq);
    } else {
        pk_work_kick(&ps->work);
    }
    if (ps->ev.active)
        ps->ev.active(ps->ev.arg, p);
    if (p >= 0)
        tell_job(ps, p, ps->pools[p].latest_seq);
}

static void on_job(pk_stratum *s, pk_pool_job *job, void *ud)
{
    pool_entry *e = ud;
    pk_pool_set *ps = e->ps;
    double difficulty = job->difficulty;
    /* Devices move to it at once when its pool is the one mined. */
    e->latest_seq = pk_work_add(&ps->work, job, e->index, NULL, job->clean, ps->active == e->index);
    free(job);
    pk_work_lock(&ps->work);
    e->st.difficulty = difficulty;
    pk_work_unlock(&ps->work);
    e->last_job_ms = uv_now(ps->loop);
    e->session_job = 1;
    (void)s;
    if (ps->active == e->index)
        tell_job(ps, e->index, e->latest_seq);
}

static void flush_offline(pk_pool_set *ps, int p)
{
    offline_share *keep = ps->offline;
    size_t n = ps->noffline, k = 0, sent = 0;
    ps->noffline = 0;
    offline_share mine[256];
    size_t nm = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i].pool == p && nm < 256)
            mine[nm++] = keep[i];
        else
            keep[k++] = keep[i];
    }
    ps->noffline = k;
    for (size_t i = 0; i < nm; i++) {
        submit_one(ps, &mine[i].sh);
        sent++;
    }
    if (sent)
        pk_log(PK_LOG_INFO, "pool %d: %zu share(s) kept while offline sent", p, sent);
}

/* Kept: other pools' jobs and this pool's jobs of its new session. */
struct session_of {
    int pool;
    uint64_t session;
};
static int same_session(const pk_work_slot *j, void *arg)
{
    const struct session_of *k = arg;
    return j->origin != k->pool || j->job.session == k->session;
}

static void on_ready(pk_stratum *s, void *ud)
{
    pool_entry *e = ud;
    pk_pool_set *ps = e->ps;
    e->ready_since = uv_now(ps->loop);
    e->backoff_ms = 0;
    e->ever_failed = 0;
    e->failures_in_row = 0;
    e->rejects_in_row = 0;
    if (!pk_stratum_resumed(s)) {
        /* A new session: the old extranonce1 is gone with every job on it.
         * Jobs of this session (sent before the subscribe answer) stay. */
        size_t dropped = 0, k = 0;
        struct session_of keep = {e->index, pk_stratum_session(s)};
        if (pk_work_retire(&ps->work, same_session, &keep))
            pk_work_kick(&ps->work); /* stop hashing work no session will take */
        for (size_t i = 0; i < ps->noffline; i++) {
            if (ps->offline[i].pool == e->index) {
                dropped++;
            } else {
                ps->offline[k++] = ps->offline[i];
            }
        }
        ps->noffline = k;
        e->st.dropped += dropped;
        if (dropped)
            pk_log(PK_LOG_WARN, "pool %d: session not resumed: %zu share(s) kept offline dropped",
                   e->index, dropped);
    } else {
        flush_offline(ps, e->index);
    }
}

static void on_down(pk_stratum *s, const char *reason, void *ud)
{
    pool_entry *e = ud;
    pk_pool_set *ps = e->ps;
    uint64_t now = uv_now(ps->loop);
    pk_log(PK_LOG_WARN, "pool %d (%s): %s", e->index, pk_stratum_host(s), reason);
    e->ever_failed = 1;
    e->ready_since = 0;
    e->session_job = 0;
    e->failures_in_row++;
    if (ps->o.max_retries && ps->o.on_give_up && !ps->gave_up) {
        int all = 1;
        for (size_t i = 0; i < ps->n; i++)
            all &= ps->pools[i].disabled || ps->pools[i].failures_in_row > ps->o.max_retries;
        if (all) {
            char why[128];
            snprintf(why, sizeof why, "every pool failed more than %u times in a row (--retries)", ps->o.max_retries);
            ps->gave_up = 1;
            ps->o.on_give_up(ps->o.result_arg, why);
        }
    }
    long hint = pk_stratum_reconnect_hint(s);
    if (hint >= 0) {
        e->retry_at = now + (uint64_t)hint;
    } else {
        /* Jitter: 75%..125% from a generator seeded from the kernel, so
         * miners started together do not come back in step. */
        uint64_t delay = pk_backoff_next(&e->backoff_ms, ps->o.backoff_min_ms, ps->o.backoff_max_ms, &ps->rng);
        e->retry_at = now + delay;
        pk_log(PK_LOG_INFO, "pool %d: next attempt in %.1f s", e->index, delay / 1000.0);
    }
    if (ps->active == e->index) {
        ps->active = -1; /* devices keep mining its job; its shares wait offline */
        e->st.active = 0;
        if (ps->ev.active)
            ps->ev.active(ps->ev.arg, -1);
    }
}

static void on_result(pk_stratum *s, uint64_t tag, int accepted, const char *reason, void *ud)
{
    pool_entry *e = ud;
    if (e->ps->ev.result)
        e->ps->ev.result(e->ps->ev.arg, e->index, tag, accepted, reason);
    e->st.last_share_diff = e->st.difficulty;
    e->st.last_share_time = (uint64_t)time(NULL);
    if (accepted) {
        e->st.diff_accepted += e->st.difficulty;
        e->st.accepted++;
        e->rejects_in_row = 0;
        pk_log(PK_LOG_DEBUG, "pool %d: share accepted", e->index);
        if (e->ps->o.on_result)
            e->ps->o.on_result(e->ps->o.result_arg, e->index, 1, NULL);
        return;
    }
    e->st.rejected++;
    e->st.diff_rejected += e->st.difficulty;
    e->rejects_in_row++;
    snprintf(e->st.last_reject, sizeof e->st.last_reject, "%s", reason ? reason : "rejected");
    pk_log(PK_LOG_WARN, "pool %d (%s): share rejected: %s", e->index, pk_stratum_host(s),
           e->st.last_reject);
    if (e->ps->o.on_result)
        e->ps->o.on_result(e->ps->o.result_arg, e->index, 0, e->st.last_reject);
}

/* Connected or connecting: every enabled pool ranked at or above the
 * active one; with none active, the first enabled one and each after a
 * pool that failed. */
static int wanted(pk_pool_set *ps, size_t i)
{
    if (ps->pools[i].disabled)
        return 0;
    if (ps->active >= 0)
        return ps->rank[i] <= ps->rank[ps->active];
    for (int r = ps->rank[i] - 1; r >= 0; r--) {
        const pool_entry *above = &ps->pools[ps->by_rank[r]];
        if (!above->disabled)
            return above->ever_failed;
    }
    return 1;
}

static void tick_cb(uv_timer_t *t)
{
    pk_pool_set *ps = t->data;
    uint64_t now = uv_now(ps->loop);

    /* The active pool: alive and useful? */
    if (ps->active >= 0) {
        pool_entry *a = &ps->pools[ps->active];
        if (now - a->last_job_ms > (uint64_t)ps->o.no_work_timeout_s * 1000) {
            char why[64];
            snprintf(why, sizeof why, "no new work for %u s", ps->o.no_work_timeout_s);
            pk_stratum_disconnect(a->s, why);
        } else if (a->rejects_in_row >= ps->o.max_rejects) {
            char why[64];
            snprintf(why, sizeof why, "%u shares rejected in a row", a->rejects_in_row);
            a->rejects_in_row = 0;
            pk_stratum_disconnect(a->s, why);
        }
    }
    /* Promotion: the best ready pool with work, a higher one only once it
     * has stayed up long enough (or at once when switched to). */
    for (size_t r = 0; r < ps->n; r++) {
        size_t i = (size_t)ps->by_rank[r];
        pool_entry *e = &ps->pools[i];
        if (e->disabled || pk_stratum_get_state(e->s) != PK_STRATUM_READY || !e->session_job)
            continue;
        if (ps->active < 0) {
            pk_log(PK_LOG_INFO, "mining on pool %zu (%s)", i, pk_stratum_host(e->s));
            e->switch_now = 0;
            set_active(ps, (int)i);
            break;
        }
        if ((int)r < ps->rank[ps->active] && (e->switch_now || now - e->ready_since >= ps->o.failback_stable_ms)) {
            pk_log(PK_LOG_INFO, "pool %zu (%s) %s: mining on it%s", i, pk_stratum_host(e->s),
                   e->switch_now ? "switched to" : "is back", e->switch_now ? "" : " again");
            e->switch_now = 0;
            set_active(ps, (int)i);
            break;
        }
        if ((int)r >= ps->rank[ps->active])
            break;
    }
    /* Connect what is wanted, drop what is not. */
    for (size_t i = 0; i < ps->n; i++) {
        pool_entry *e = &ps->pools[i];
        pk_stratum_state st = pk_stratum_get_state(e->s);
        e->st.state = (int)st;
        if (wanted(ps, i)) {
            if (st == PK_STRATUM_IDLE && now >= e->retry_at) {
                pk_log(PK_LOG_INFO, "pool %zu: connecting to %s", i, pk_stratum_host(e->s));
                pk_stratum_connect(e->s);
            }
        } else if (st != PK_STRATUM_IDLE && (e->disabled || (ps->active >= 0 && ps->rank[i] > ps->rank[ps->active]))) {
            pk_stratum_disconnect(e->s, e->disabled ? "disabled" : "not needed: a higher-priority pool is active");
            e->retry_at = 0;
            e->backoff_ms = 0;
            e->ever_failed = 0;
        }
    }
    /* Nothing to mine for too long: stop hashing a dead job. */
    if (ps->active < 0) {
        pk_work_lock(&ps->work);
        pk_work_slot *j = pk_work_current_slot(&ps->work);
        int idle = j && now - ps->pools[j->origin].last_job_ms > (uint64_t)ps->o.no_work_timeout_s * 1000;
        pk_work_unlock(&ps->work);
        if (idle) {
            pk_log(PK_LOG_WARN, "no pool has given work for %u s: devices wait", ps->o.no_work_timeout_s);
            pk_work_set_current(&ps->work, 0);
        }
    }
}

static void on_worker(pk_stratum *s, uint64_t tag, int ok, const char *reason, void *ud)
{
    pool_entry *e = ud;
    (void)s;
    if (e->ps->ev.worker_result)
        e->ps->ev.worker_result(e->ps->ev.arg, e->index, tag, ok, reason);
}

/* Pool cfg at the next index, ranked last. */
static int add_entry(pk_pool_set *ps, const pk_pool_cfg *cfg, char *err, size_t errlen)
{
    const pk_pool_set_opts *o = &ps->o;
    pool_entry *e = &ps->pools[ps->n];
    memset(e, 0, sizeof *e);
    e->ps = ps;
    e->index = (int)ps->n;
    pk_stratum_opts so = {
        .url = cfg->url, .user = cfg->user, .pass = cfg->pass,
        .tls = ps->tls, .no_version_rolling = o->no_version_rolling,
        .no_extranonce = o->no_extranonce, .suggest_difficulty = o->suggest_difficulty,
        .allow_redirect = o->allow_redirect, .connect_timeout_ms = o->connect_timeout_ms,
        .request_timeout_ms = o->request_timeout_ms,
        .configure_timeout_ms = o->configure_timeout_ms,
    };
    pk_stratum_cb cb = {.ud = e, .ready = on_ready, .job = on_job, .down = on_down, .submit_result = on_result,
                        .worker_result = on_worker};
    if (pk_stratum_new(ps->loop, &so, &cb, &e->s, err, errlen))
        return -1;
    pk_url_redact(cfg->url, e->st.url, sizeof e->st.url);
    snprintf(e->st.user, sizeof e->st.user, "%s", cfg->user ? cfg->user : "");
    ps->rank[ps->n] = (int)ps->n;
    ps->by_rank[ps->n] = (int)ps->n;
    ps->n++;
    return 0;
}

int pk_pool_set_new(uv_loop_t *loop, const pk_pool_set_opts *o, pk_pool_set **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (o->npools == 0 || o->npools > PK_POOLS_MAX) {
        snprintf(err, errlen, "between 1 and %d pools", PK_POOLS_MAX);
        return PK_EINVAL;
    }
    pk_pool_set *ps = calloc(1, sizeof *ps);
    if (!ps)
        return PK_ENOMEM;
    ps->loop = loop;
    ps->o = *o;
#define DEF(f, v) if (!ps->o.f) ps->o.f = (v)
    DEF(no_work_timeout_s, 180);
    DEF(max_rejects, 20);
    DEF(backoff_min_ms, 1000);
    DEF(backoff_max_ms, 60000);
    DEF(failback_stable_ms, 30000);
    DEF(offline_max, 256);
#undef DEF
    ps->offline = calloc(ps->o.offline_max, sizeof *ps->offline);
    ps->active = -1;
    ps->rng = pk_random_seed();
    pk_work_cfg wc = {.ring = 16, .on_share = submit_one, .on_lost = share_lost, .arg = ps};
    int need_tls = 0;
    for (size_t i = 0; i < o->npools; i++)
        need_tls |= o->pools[i].url && strncmp(o->pools[i].url, "stratum+tcp://", 14) != 0;
    if (need_tls) {
        ps->tls = pk_tls_ctx_new(o->ca_file, o->insecure, err, errlen);
        if (!ps->tls)
            goto fail;
        if (o->insecure)
            pk_log(PK_LOG_WARN, "--insecure: pool certificates are NOT checked");
    }
    for (size_t i = 0; i < o->npools; i++) {
        if (add_entry(ps, &o->pools[i], err, errlen))
            goto fail;
    }
    pk_work_init(&ps->work, loop, &wc);
    uv_timer_init(loop, &ps->tick);
    ps->tick.data = ps;
    *out = ps;
    return PK_OK;
fail:
    /* Nothing has started: the stratum objects own only an idle timer. */
    for (size_t i = 0; i < ps->n; i++)
        pk_stratum_close(ps->pools[i].s, NULL);
    pk_tls_ctx_free(ps->tls);
    free(ps->offline);
    free(ps);
    return PK_EINVAL;
}

pk_source *pk_pool_set_source(pk_pool_set *ps) { return &ps->work.src; }
void pk_pool_set_attach(pk_pool_set *ps, pk_dispatcher *d) { pk_work_attach(&ps->work, d); }

int pk_pool_set_start(pk_pool_set *ps)
{
    uv_timer_start(&ps->tick, tick_cb, 0, 100);
    return PK_OK;
}

static void one_closed(pk_pool_set *ps)
{
    if (--ps->open_handles > 0)
        return;
    pk_work_free(&ps->work);
    pk_tls_ctx_free(ps->tls);
    free(ps->offline);
    for (size_t i = 0; i < ps->n; i++)
        for (int k = 0; k < 3; k++)
            free(ps->pools[i].owned[k]);
    void (*cb)(void *) = ps->closed;
    void *arg = ps->closed_arg;
    free(ps);
    if (cb)
        cb(arg);
}

static void stratum_closed(pk_stratum *s, void *ud)
{
    (void)s;
    one_closed(((pool_entry *)ud)->ps);
}

static void handle_closed(uv_handle_t *h) { one_closed(h->data); }
static void work_closed(void *arg) { one_closed(arg); }

void pk_pool_set_close(pk_pool_set *ps, void (*closed)(void *arg), void *arg)
{
    ps->closed = closed;
    ps->closed_arg = arg;
    pk_work_drain(&ps->work);
    ps->open_handles = (int)ps->n + 2;
    uv_timer_stop(&ps->tick);
    uv_close((uv_handle_t *)&ps->tick, handle_closed);
    pk_work_close(&ps->work, work_closed, ps);
    for (size_t i = 0; i < ps->n; i++)
        pk_stratum_close(ps->pools[i].s, stratum_closed);
}

size_t pk_pool_set_count(const pk_pool_set *ps) { return ps->n; }
void pk_pool_set_watch(pk_pool_set *ps, const pk_pool_set_events *ev) { ps->ev = *ev; }
pk_stratum *pk_pool_set_stratum(pk_pool_set *ps, size_t i) { return i < ps->n ? ps->pools[i].s : NULL; }
int pk_pool_set_active(pk_pool_set *ps) { return ps->active; }

void pk_pool_set_stats(pk_pool_set *ps, size_t i, pk_pool_stats *out)
{
    pool_entry *e = &ps->pools[i];
    pk_work_lock(&ps->work);
    *out = e->st;
    pk_work_unlock(&ps->work);
    out->state = (int)pk_stratum_get_state(e->s);
    out->active = ps->active == (int)i;
    out->priority = ps->rank[i];
    out->disabled = e->disabled;
}

int pk_pool_set_switch(pk_pool_set *ps, size_t i)
{
    if (i >= ps->n)
        return PK_EINVAL;
    /* To the top of the order, enabled; mined as soon as it has work. */
    for (int r = ps->rank[i]; r > 0; r--) {
        ps->by_rank[r] = ps->by_rank[r - 1];
        ps->rank[ps->by_rank[r]] = r;
    }
    ps->by_rank[0] = (int)i;
    ps->rank[i] = 0;
    pool_entry *e = &ps->pools[i];
    e->disabled = 0;
    e->switch_now = (int)i != ps->active;
    e->retry_at = 0; /* connect now, not after a back-off */
    pk_log(PK_LOG_INFO, "pool %zu (%s): first in the order now", i, e->st.url);
    return PK_OK;
}

int pk_pool_set_enable(pk_pool_set *ps, size_t i, int on)
{
    if (i >= ps->n)
        return PK_EINVAL;
    pool_entry *e = &ps->pools[i];
    if (!on) {
        size_t enabled = 0;
        for (size_t k = 0; k < ps->n; k++)
            enabled += !ps->pools[k].disabled;
        if (!e->disabled && enabled == 1)
            return PK_EINVAL; /* the last enabled pool stays */
    }
    e->disabled = !on;
    if (!on && ps->active == (int)i)
        set_active(ps, -1); /* the next one in the order takes over */
    if (on)
        e->retry_at = 0;
    pk_log(PK_LOG_INFO, "pool %zu (%s) %s", i, e->st.url, on ? "enabled" : "disabled");
    return PK_OK;
}

int pk_pool_set_add(pk_pool_set *ps, const char *url, const char *user, const char *pass, char *err, size_t errlen)
{
    if (ps->n == PK_POOLS_MAX) {
        snprintf(err, errlen, "at most %d pools", PK_POOLS_MAX);
        return PK_EINVAL;
    }
    if (strncmp(url, "stratum+tcp://", 14) != 0 && !ps->tls) {
        ps->tls = pk_tls_ctx_new(ps->o.ca_file, ps->o.insecure, err, errlen);
        if (!ps->tls)
            return PK_EINVAL;
    }
    char *u = strdup(url), *us = strdup(user ? user : ""), *pw = strdup(pass ? pass : "x");
    pk_pool_cfg cfg = {u, us, pw};
    if (!u || !us || !pw || add_entry(ps, &cfg, err, errlen)) {
        free(u);
        free(us);
        free(pw);
        return PK_EINVAL;
    }
    pool_entry *e = &ps->pools[ps->n - 1];
    e->owned[0] = u, e->owned[1] = us, e->owned[2] = pw;
    pk_log(PK_LOG_INFO, "pool %zu (%s) added, last in the order", ps->n - 1, e->st.url);
    return PK_OK;
}
