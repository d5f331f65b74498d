/* The Stratum proxy: one upstream session, a Stratum v1 server for the
 * rigs, every share checked here before it goes anywhere.  See
 * include/powkit/proxy.h for the shape; the comments below say why. */
#include <jansson.h>
#include <math.h>
#include <sys/ioctl.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "powkit/api.h"
#include "powkit/error.h"
#include "powkit/log.h"

#include "proxy_internal.h"

/* Stratum's prevhash: the header's 32 bytes as 8 words, each byte-reversed. */
static void prevhash_encode(const uint8_t ph[32], char out[65])
{
    uint8_t w[32];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            w[4 * i + j] = ph[4 * i + 3 - j];
    hex_of(w, 32, out);
}


/* ---- jobs to rigs ---- */

static pk_work_slot *current_job(pk_proxy *px) { return pk_work_current_slot(&px->work); }


static wbuf *notify_line(const pk_pool_job *j, int clean)
{
    char ph[65], v[9], nb[9], nt[9];
    prevhash_encode(j->prevhash, ph);
    snprintf(v, sizeof v, "%08x", j->version);
    snprintf(nb, sizeof nb, "%08x", j->nbits);
    snprintf(nt, sizeof nt, "%08x", j->ntime);
    char *c1 = malloc(2 * j->coinb1_len + 1), *c2 = malloc(2 * j->coinb2_len + 1);
    json_t *branch = json_array();
    wbuf *b = NULL;
    if (c1 && c2 && branch) {
        hex_of(j->coinb1, j->coinb1_len, c1);
        hex_of(j->coinb2, j->coinb2_len, c2);
        for (size_t i = 0; i < j->branch_len; i++) {
            char h[65];
            hex_of(j->branch[i], 32, h);
            json_array_append_new(branch, json_string(h));
        }
        json_t *msg = json_pack("{s:n, s:s, s:[s,s,s,s,O,s,s,s,b]}", "id", "method", "mining.notify", "params", j->id,
                                ph, c1, c2, branch, v, nb, nt, clean);
        char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
        json_decref(msg);
        if (s) {
            size_t n = strlen(s);
            b = malloc(sizeof *b + n + 1);
            if (b) {
                b->refs = 1;
                b->len = n + 1;
                memcpy(b->data, s, n);
                b->data[n] = '\n';
            }
            free(s);
        }
    }
    json_decref(branch);
    free(c1);
    free(c2);
    return b;
}

/* A rig that is subscribed and authorized gets its difficulty and the
 * current job (clean: it has nothing older). */
void pk_px_rig_start_work(rig *r)
{
    pk_proxy *px = r->px;
    pk_work_slot *j = current_job(px);
    if (!j || !r->subscribed || !r->authorized || r->closing)
        return;
    r->working = 1;
    pk_px_send_difficulty(r);
    wbuf *b = notify_line(&j->job, 1);
    if (b) {
        pk_px_rig_send_wbuf(r, b, 0);
        pk_px_wbuf_unref(b);
    }
}

void pk_px_answer_subscribe(rig *r, json_t *id)
{
    pk_proxy *px = r->px;
    uint8_t en1[PK_EXTRANONCE1_MAX + 4];
    size_t n = rig_en1(px, r, en1);
    char hex[2 * sizeof en1 + 1], sid[17];
    hex_of(en1, n, hex);
    snprintf(sid, sizeof sid, "%016llx", (unsigned long long)r->id);
    pk_px_reply_ok(r, id,
             json_pack("[[[s,s],[s,s]],s,i]", "mining.set_difficulty", sid, "mining.notify", sid, hex,
                       (int)rig_en2_size(px)));
    r->subscribed = 1;
    pk_px_rig_start_work(r);
}

/* ---- upstream: the pool set (failover, failback, TLS) as for `mine` ---- */

static void fatal(pk_proxy *px, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    pk_log(PK_LOG_ERROR, "proxy: %s", why);
    if (px->o.on_fatal)
        px->o.on_fatal(px->o.fatal_arg, why);
}

/* A new upstream extranonce: rigs that said they follow extranonce
 * changes get it; the others are asked to reconnect. */
static void new_extranonce(pk_proxy *px, const pk_pool_job *job)
{
    int first = !px->have_en1;
    memcpy(px->en1, job->extranonce1, job->extranonce1_len);
    px->en1_len = job->extranonce1_len;
    px->up_en2_size = job->extranonce2_size;
    px->have_en1 = 1;
    px->st.rig_extranonce2_size = (unsigned)rig_en2_size(px);
    pk_work_retire(&px->work, NULL, NULL);
    pk_px_dup_clear(px);
    if (first)
        return;
    pk_log(PK_LOG_INFO, "proxy: new upstream extranonce1: moving the rigs over");
    for (rig *r = px->rigs, *next; r; r = next) {
        next = r->next;
        if (!r->subscribed)
            continue;
        if (r->xn_sub) {
            uint8_t en1[PK_EXTRANONCE1_MAX + 4];
            size_t n = rig_en1(px, r, en1);
            char hex[2 * sizeof en1 + 1];
            hex_of(en1, n, hex);
            pk_px_send_method(r, "mining.set_extranonce", json_pack("[s,i]", hex, (int)rig_en2_size(px)));
        } else {
            /* Its extranonce1 is gone: no work until it subscribes again. */
            pk_px_send_method(r, "client.reconnect", json_array());
            r->working = 0;
            r->subscribed = 0;
        }
    }
}

/* The pool in use: which one, and whether shares can go to it now. */
static void up_active(void *arg, int pool)
{
    pk_proxy *px = arg;
    if (pool < 0) {
        px->up_ready = 0;
        if (!px->closing)
            pk_log(PK_LOG_WARN, "proxy: no upstream pool: the rigs keep their work; shares that would go to "
                                "the pool are refused as stale until one is back");
        return;
    }
    int moved = pool != px->cur;
    px->cur = pool;
    px->up_ready = 1;
    pk_log(PK_LOG_INFO, "proxy: upstream %s%s", pk_stratum_url(up_client(px)), moved ? " (a new pool)" : "");
    pk_px_reauthorize_workers(px); /* a new session knows none of them */
}

/* A job of the pool in use (the set's: copied into the proxy's ring). */
static void up_job(void *arg, int pool, const pk_pool_job *src)
{
    pk_proxy *px = arg;
    double t0 = pk_now();
    if (pool != px->cur)
        return;
    if (src->extranonce2_size < px->prefix_bytes + 2) {
        fatal(px, "the pool gives %zu bytes of extranonce2: too few for %u rigs (%u bytes of prefix each and "
                  "at least 2 for the rig); lower --max-clients or use another pool",
              src->extranonce2_size, px->o.max_clients, px->prefix_bytes);
        return;
    }
    pk_pool_job copy, *job = &copy;
    if (pk_pool_job_copy(&copy, src) != PK_OK) {
        pk_log(PK_LOG_ERROR, "proxy: out of memory for job %s", src->id);
        return;
    }
    if (!px->have_en1 || job->extranonce1_len != px->en1_len || job->extranonce2_size != px->up_en2_size ||
        memcmp(job->extranonce1, px->en1, px->en1_len) != 0)
        new_extranonce(px, job);
    px->up_mask = job->version_mask;
    px->up_diff = job->difficulty;
    if (job->clean)
        pk_px_dup_clear(px);
    pk_work_add(&px->work, job, 0, NULL, job->clean, 1);
    pk_work_slot *j = current_job(px);
    px->st.notifies++;

    /* Rigs waiting for their subscribe answer get it now. */
    for (rig *r = px->rigs, *next; r; r = next) {
        next = r->next;
        if (r->pending_subscribe) {
            json_t *id = r->pending_subscribe;
            r->pending_subscribe = NULL;
            pk_px_answer_subscribe(r, id);
            json_decref(id);
        }
    }
    /* Fan-out: one serialised line for every rig. */
    wbuf *b = notify_line(&j->job, j->job.clean);
    if (!b)
        return;
    for (rig *r = px->rigs, *next; r; r = next) {
        next = r->next;
        if (!r->subscribed || !r->authorized || r->closing)
            continue;
        if (!r->working) {
            pk_px_rig_start_work(r);
            continue;
        }
        if (r->diff != r->sent_diff)
            pk_px_send_difficulty(r);
        pk_px_rig_send_wbuf(r, b, 0);
    }
    pk_px_wbuf_unref(px->last_notify);
    px->last_notify = b;
    px->st.last_fanout_s = pk_now() - t0;
}

static void up_result(void *arg, int pool, uint64_t tag, int accepted, const char *reason)
{
    pk_proxy *px = arg;
    (void)pool;
    pending *q = &px->pend[tag % PENDING_RING];
    if (q->seq != tag)
        return;
    q->seq = 0;
    rig *r = q->slot < px->o.max_clients ? px->by_slot[q->slot] : NULL;
    if (accepted)
        px->st.upstream_accepted++;
    else
        px->st.upstream_rejected++;
    if (r && r->id == q->rig_id && !r->closing) {
        if (accepted) {
            r->accepted++;
            px->st.accepted++;
            pk_px_reply_ok(r, q->req_id, json_true());
        } else {
            r->up_rejected++;
            pk_px_rig_reject(r, q->req_id, E_OTHER, reason ? reason : "rejected by the pool");
        }
    }
    json_decref(q->req_id);
    q->req_id = NULL;
}

/* ---- the once-a-second sweep: idle rigs, vardiff, hash rates ---- */

static void sweep_cb(uv_timer_t *t)
{
    pk_proxy *px = t->data;
    double now = pk_now(), total = 0;
    for (rig *r = px->rigs, *next; r; r = next) {
        next = r->next;
        if (now - r->last_activity > px->o.idle_timeout_s) {
            pk_px_rig_drop(r, "idle for longer than the timeout");
            continue;
        }
        /* A rig that stopped reading may stop sending too, and then never
         * fills its write queue: what it has not taken (queued here and in
         * the kernel) must go down now and then. */
        size_t unsent = uv_stream_get_write_queue_size((uv_stream_t *)&r->tcp);
#ifdef SIOCOUTQ
        uv_os_fd_t fd;
        int q = 0;
        if (uv_fileno((uv_handle_t *)&r->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &q) == 0 && q > 0)
            unsent += (size_t)q;
#endif
        if (unsent == 0 || unsent < r->last_unsent || r->drained_at == 0)
            r->drained_at = now;
        r->last_unsent = unsent;
        if (unsent > 0 && now - r->drained_at > px->o.write_stall_s) {
            pk_px_rig_drop(r, "it stopped reading (nothing it was sent was taken)");
            continue;
        }
        double el = now - r->win_start;
        if (r->working && (el >= px->o.retarget_s || (r->win_shares >= 24 && el >= 1))) {
            r->hashrate = r->win_diff * 4294967296.0 / el;
            /* Toward one share per share_rate_s, at most 4x a step; a rig
             * that sent nothing for a whole window quarters it. */
            double factor = r->win_shares ? (r->win_shares / el) * px->o.share_rate_s : 0.25;
            if (factor > 4)
                factor = 4;
            if (factor < 0.25)
                factor = 0.25;
            if (factor < 0.7 || factor > 1.4) {
                double nd = r->diff * factor;
                if (nd < px->o.min_difficulty)
                    nd = px->o.min_difficulty;
                if (nd != r->diff) {
                    r->prev_diff = r->diff;
                    r->diff = nd;
                    pk_px_send_difficulty(r);
                }
            } else {
                r->prev_diff = r->diff;
            }
            r->win_start = now;
            r->win_shares = 0;
            r->win_diff = 0;
        }
        total += r->hashrate;
    }
    px->st.hashrate = total;
}

/* ---- lifecycle ---- */

int pk_proxy_new(uv_loop_t *loop, const pk_proxy_opts *o, pk_proxy **out, char *err, size_t errlen)
{
    *out = NULL;
    if (o->npools == 0 || o->npools > PK_POOLS_MAX) {
        snprintf(err, errlen, "between 1 and %d upstream pools (-o URL)", PK_POOLS_MAX);
        return PK_EINVAL;
    }
    pk_proxy *px = calloc(1, sizeof *px);
    if (!px)
        return PK_ENOMEM;
    px->loop = loop;
    px->o = *o;
    pk_work_cfg wc = {.ring = 16};
    pk_work_init(&px->work, NULL, &wc);
    if (!px->o.max_clients)
        px->o.max_clients = 1024;
    if (!(px->o.share_rate_s > 0))
        px->o.share_rate_s = 10;
    if (!(px->o.min_difficulty > 0))
        px->o.min_difficulty = 1.0 / 65536;
    if (!px->o.retarget_s)
        px->o.retarget_s = 30;
    if (!px->o.idle_timeout_s)
        px->o.idle_timeout_s = 600;
    if (!px->o.max_line)
        px->o.max_line = 16384;
    if (!px->o.max_write_queue)
        px->o.max_write_queue = 256 * 1024;
    if (!px->o.max_conn_per_min)
        px->o.max_conn_per_min = 120;
    if (!px->o.write_stall_s)
        px->o.write_stall_s = 60;
    if (!(px->o.failback_stable_s > 0))
        px->o.failback_stable_s = 30;
    if (!px->o.backoff_min_ms)
        px->o.backoff_min_ms = 1000;
    if (!px->o.backoff_max_ms)
        px->o.backoff_max_ms = 30000;
    /* Prefix bytes: enough to number max_clients rigs. */
    px->prefix_bytes = 1;
    while (px->prefix_bytes < 4 && ((uint64_t)1 << (8 * px->prefix_bytes)) < px->o.max_clients)
        px->prefix_bytes++;
    px->st.prefix_bytes = px->prefix_bytes;
    px->by_slot = calloc(px->o.max_clients, sizeof *px->by_slot);
    if (!px->by_slot) {
        pk_proxy_free(px);
        return PK_ENOMEM;
    }
    if (!o->listen_cert != !o->listen_key) {
        snprintf(err, errlen, "TLS for the rigs needs both --listen-cert and --listen-key");
        pk_proxy_free(px);
        return PK_EINVAL;
    }
    if (o->listen_cert && !(px->server_tls = pk_tls_server_ctx_new(o->listen_cert, o->listen_key, err, errlen))) {
        pk_proxy_free(px);
        return PK_EINVAL;
    }
    /* Last: once made, the pool set is closed on the loop, not freed. */
    pk_pool_set_opts so = {.npools = o->npools, .ca_file = o->ca_file, .insecure = o->insecure,
                           .backoff_min_ms = o->backoff_min_ms, .backoff_max_ms = o->backoff_max_ms,
                           .failback_stable_ms = (unsigned)(px->o.failback_stable_s * 1000),
                           .connect_timeout_ms = o->connect_timeout_ms, .request_timeout_ms = o->request_timeout_ms};
    for (size_t i = 0; i < o->npools; i++)
        so.pools[i] = (pk_pool_cfg){o->pools[i].url, o->pools[i].user, o->pools[i].pass};
    if (pk_pool_set_new(loop, &so, &px->pools, err, errlen) != PK_OK) {
        pk_proxy_free(px);
        return PK_EINVAL;
    }
    pk_pool_set_events ev = {.arg = px, .active = up_active, .job = up_job, .result = up_result,
                             .worker_result = pk_px_up_worker_result};
    pk_pool_set_watch(px->pools, &ev);
    *out = px;
    return PK_OK;
}

int pk_proxy_start(pk_proxy *px, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    if (pk_listen_addr(px->o.listen ? px->o.listen : "0.0.0.0:3333", "--listen", &sa, err, errlen))
        return PK_EINVAL;
    uv_tcp_init(px->loop, &px->server);
    px->server.data = px;
    px->handles_open++;
    int rc = uv_tcp_bind(&px->server, (struct sockaddr *)&sa, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&px->server, 511, pk_px_on_connection);
    if (rc) {
        snprintf(err, errlen, "--listen %s: %s", px->o.listen ? px->o.listen : "0.0.0.0:3333", uv_strerror(rc));
        return rc;
    }
    px->port = pk_bound_port(&px->server);
    uv_timer_init(px->loop, &px->sweep);
    px->sweep.data = px;
    px->handles_open++;
    uv_timer_start(&px->sweep, sweep_cb, 1000, 1000);
    px->started = 1;
    return pk_pool_set_start(px->pools);
}

int pk_proxy_port(const pk_proxy *px) { return px->port; }

static void handle_closed(uv_handle_t *h)
{
    pk_proxy *px = h->data;
    px->handles_open--;
    if (px->closing && px->handles_open == 0 && px->closed)
        px->closed(px->closed_arg);
}

static void pools_closed(void *arg)
{
    pk_proxy *px = arg;
    px->pools = NULL;
    px->handles_open--;
    if (px->closing && px->handles_open == 0 && px->closed)
        px->closed(px->closed_arg);
}

void pk_proxy_close(pk_proxy *px, void (*closed)(void *arg), void *arg)
{
    px->closing = 1;
    px->up_ready = 0; /* nothing goes upstream any more */
    px->closed = closed;
    px->closed_arg = arg;
    px->handles_open++; /* held while closing starts */
    for (rig *r = px->rigs, *next; r; r = next) {
        next = r->next;
        pk_px_rig_drop(r, "the proxy is stopping");
    }
    if (px->started) {
        uv_close((uv_handle_t *)&px->server, handle_closed);
        uv_close((uv_handle_t *)&px->sweep, handle_closed);
    } else if (px->server.data) {
        uv_close((uv_handle_t *)&px->server, handle_closed);
    }
    if (px->pools) {
        px->handles_open++;
        pk_pool_set_close(px->pools, pools_closed, px);
    }
    px->handles_open--;
    if (px->handles_open == 0 && closed)
        closed(arg);
}

void pk_proxy_free(pk_proxy *px)
{
    if (!px)
        return;
    pk_work_free(&px->work);
    for (size_t i = 0; i < PENDING_RING; i++)
        json_decref(px->pend[i].req_id);
    pk_px_wbuf_unref(px->last_notify);
    free(px->dup);
    free(px->workers);
    free(px->by_slot);
    pk_tls_ctx_free(px->server_tls);
    free(px);
}
