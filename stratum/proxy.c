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

#include "powkit/access.h"
#include "powkit/api.h"
#include "powkit/error.h"
#include "powkit/kernel.h"
#include "powkit/log.h"
#include "powkit/proxy.h"
#include "powkit/sha256.h"
#include "powkit/stratum.h"
#include "powkit/tls.h"
#include "powkit/util.h"
#include "powkit/workcore.h"

#define PENDING_RING 4096
#define RATE_SLOTS 256
#define READ_CHUNK 65536
#define GARBAGE_MAX 16 /* malformed lines a rig may send before it is dropped */

/* Stratum's share error codes (the de-facto table every pool uses). */
enum { E_OTHER = 20, E_STALE = 21, E_DUPLICATE = 22, E_LOW_DIFF = 23, E_UNAUTHORIZED = 24, E_NOT_SUBSCRIBED = 25 };

/* One line written to many rigs: the notify is serialised once and the
 * same bytes are queued to every socket that could not take them at once. */
typedef struct wbuf {
    int refs;
    size_t len;
    char data[];
} wbuf;

typedef struct wreq {
    uv_write_t req;
    wbuf *b;
} wreq;

typedef struct rig {
    uv_tcp_t tcp;
    pk_proxy *px;
    uint64_t id;
    uint32_t slot;          /* its extranonce prefix */
    struct rig *prev, *next;
    char addr[64], worker[64];
    char *line;             /* a partial line, when one is pending */
    size_t line_len;
    unsigned garbage;
    int subscribed, authorized, xn_sub, closing, working;
    json_t *pending_subscribe; /* the request id while upstream has no work yet */
    json_t *pending_authorize; /* the request id while the pool has not answered for its worker */
    long worker_idx;           /* --pass-workers: its upstream worker (px->workers), else -1 */
    pk_tls *tls;               /* --listen-cert: the rig's TLS session */
    int tls_ready;             /* handshake done */
    uint32_t mask;          /* granted version-rolling mask */
    double diff, prev_diff, sent_diff;
    double connected_at, last_activity;
    double win_start, win_diff;
    unsigned win_shares;
    double hashrate;
    uint64_t accepted, rejected, stale, duplicate, low_diff, forwarded, up_rejected;
    double last_share; /* unix seconds */
    size_t last_unsent; /* bytes not yet taken by the rig at the last sweep */
    double drained_at;  /* when they last went down (or were none) */
} rig;

typedef struct pending {
    uint64_t seq;   /* 0: free */
    uint32_t slot;
    uint64_t rig_id;
    json_t *req_id;
} pending;

typedef struct rate_slot {
    char addr[64];
    double window;
    unsigned count;
} rate_slot;

/* An upstream worker (ACCOUNT.WORKER) and what the pool said of it. */
enum { WK_NONE = 0, WK_PENDING, WK_OK, WK_REFUSED };
typedef struct up_worker {
    char name[160];
    int state;
} up_worker;

struct pk_proxy {
    uv_loop_t *loop;
    pk_proxy_opts o;
    pk_tls_ctx *server_tls;  /* rigs over TLS (--listen-cert/--listen-key) */
    /* Upstream: the same pool set `mine` uses (priority order, failover,
     * back-off, failback once the first pool has stayed up, TLS). */
    pk_pool_set *pools;
    int cur;                 /* the pool in use, or last in use */
    int up_ready;            /* cur is active: shares can go to it */
    uv_timer_t sweep;
    uv_tcp_t server;
    int port, started, closing, handles_open;
    void (*closed)(void *);
    void *closed_arg;

    /* The upstream's extranonce as the rigs know it. */
    uint8_t en1[PK_EXTRANONCE1_MAX];
    size_t en1_len, up_en2_size;
    int have_en1;
    unsigned prefix_bytes;
    uint32_t up_mask;
    double up_diff;

    /* The upstream's jobs (no devices here: a core without a share
     * queue); a slot's work.share_target is the upstream's share target. */
    pk_work_core work;
    wbuf *last_notify;       /* the current job's notify, for rigs that join */

    rig *rigs;               /* list of connected rigs */
    rig **by_slot;           /* max_clients entries */
    size_t nrigs;
    uint64_t next_rig_id;

    uint64_t *dup;           /* share hashes (first 8 bytes) since the last clean job */
    size_t dup_cap, dup_count;

    /* --pass-workers: the upstream worker names rigs asked for. */
    struct up_worker *workers;
    size_t nworkers, cap_workers;

    pending pend[PENDING_RING];
    uint64_t pend_seq;
    rate_slot rates[RATE_SLOTS];
    char rbuf[READ_CHUNK];
    char tbuf[READ_CHUNK];   /* plaintext of a TLS rig's read */

    pk_proxy_stats st;
};

/* ---- small helpers ---- */

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void hex_of(const uint8_t *b, size_t n, char *out) { pk_hex_encode(b, n, out); }

/* Stratum's prevhash: the header's 32 bytes as 8 words, each byte-reversed. */
static void prevhash_encode(const uint8_t ph[32], char out[65])
{
    uint8_t w[32];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            w[4 * i + j] = ph[4 * i + 3 - j];
    hex_of(w, 32, out);
}

static int parse_hex32(const char *s, uint32_t *out)
{
    if (!s || strlen(s) != 8)
        return -1;
    uint8_t b[4];
    if (pk_hex_decode(s, b, 4))
        return -1;
    *out = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    return 0;
}

/* The rig's extranonce1: the upstream's and its prefix (big-endian slot). */
static size_t rig_en1(const pk_proxy *px, const rig *r, uint8_t *out)
{
    memcpy(out, px->en1, px->en1_len);
    for (unsigned i = 0; i < px->prefix_bytes; i++)
        out[px->en1_len + i] = (uint8_t)(r->slot >> (8 * (px->prefix_bytes - 1 - i)));
    return px->en1_len + px->prefix_bytes;
}

static size_t rig_en2_size(const pk_proxy *px) { return px->up_en2_size - px->prefix_bytes; }

/* ---- writing to rigs ---- */

static void wbuf_unref(wbuf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static void rig_drop(rig *r, const char *why);

static void write_cb(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    wbuf_unref(w->b);
    free(w);
    (void)status; /* a failed write shows up as a read error or EOF */
}

/* Writes what the socket takes now; queues the rest.  A rig whose queue
 * grows past max_write_queue stopped reading: it is dropped, so it never
 * holds memory or the loop for the others. */
static void sock_send(rig *r, wbuf *b, size_t off)
{
    if (r->closing)
        return;
    uv_stream_t *st = (uv_stream_t *)&r->tcp;
    if (uv_stream_get_write_queue_size(st) + b->len - off > r->px->o.max_write_queue) {
        rig_drop(r, "it does not read what it is sent (write queue full)");
        return;
    }
    uv_buf_t buf = uv_buf_init(b->data + off, (unsigned)(b->len - off));
    int n = uv_try_write(st, &buf, 1);
    if (n == (int)buf.len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        rig_drop(r, uv_strerror(n));
        return;
    }
    if (n > 0)
        buf = uv_buf_init(buf.base + n, buf.len - (unsigned)n);
    wreq *w = malloc(sizeof *w);
    if (!w) {
        rig_drop(r, "out of memory");
        return;
    }
    w->b = b;
    b->refs++;
    int rc = uv_write(&w->req, st, &buf, 1, write_cb);
    if (rc) {
        wbuf_unref(b);
        free(w);
        rig_drop(r, uv_strerror(rc));
    }
}

/* A TLS rig's ciphertext, as OpenSSL produced it, to its socket. */
static void tls_flush(rig *r)
{
    char chunk[16384];
    size_t n;
    while (!r->closing && (n = pk_tls_take_output(r->tls, chunk, sizeof chunk)) > 0) {
        wbuf *c = malloc(sizeof *c + n);
        if (!c) {
            rig_drop(r, "out of memory");
            return;
        }
        c->refs = 1;
        c->len = n;
        memcpy(c->data, chunk, n);
        sock_send(r, c, 0);
        wbuf_unref(c);
    }
}

/* A line to a rig: the shared bytes as they are, or encrypted for it. */
static void rig_send_wbuf(rig *r, wbuf *b, size_t off)
{
    if (r->closing)
        return;
    if (!r->tls) {
        sock_send(r, b, off);
        return;
    }
    if (!r->tls_ready || pk_tls_write(r->tls, b->data + off, b->len - off) != 0) {
        rig_drop(r, "TLS write failed");
        return;
    }
    tls_flush(r);
}

static void rig_send_json(rig *r, json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!s)
        return;
    size_t n = strlen(s);
    wbuf *b = malloc(sizeof *b + n + 1);
    if (b) {
        b->refs = 1;
        b->len = n + 1;
        memcpy(b->data, s, n);
        b->data[n] = '\n';
        rig_send_wbuf(r, b, 0);
        wbuf_unref(b);
    }
    free(s);
}

static void reply_ok(rig *r, json_t *id, json_t *result)
{
    rig_send_json(r, json_pack("{s:O, s:o, s:n}", "id", id ? id : json_null(), "result", result, "error"));
}

static void reply_err(rig *r, json_t *id, int code, const char *msg)
{
    rig_send_json(r, json_pack("{s:O, s:n, s:[i,s,n]}", "id", id ? id : json_null(), "result", "error", code, msg));
}

static void send_method(rig *r, const char *method, json_t *params)
{
    rig_send_json(r, json_pack("{s:n, s:s, s:o}", "id", "method", method, "params", params));
}

static void send_difficulty(rig *r)
{
    send_method(r, "mining.set_difficulty", json_pack("[f]", r->diff));
    r->sent_diff = r->diff;
}

/* ---- the duplicate set: first 8 bytes of every share's hash since the
 * last clean job (the hash covers the rig's own extranonce, so one set
 * serves every rig). ---- */

static void dup_clear(pk_proxy *px)
{
    if (px->dup)
        memset(px->dup, 0, px->dup_cap * sizeof *px->dup);
    px->dup_count = 0;
}

/* 1 if seen before (and now remembered), 0 if new, -1 out of memory. */
static int dup_check(pk_proxy *px, const uint8_t hash[32])
{
    uint64_t k;
    memcpy(&k, hash, 8);
    if (k == 0)
        k = 1;
    if (px->dup_count * 2 >= px->dup_cap) {
        size_t cap = px->dup_cap ? 2 * px->dup_cap : 4096;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t)
            return -1;
        for (size_t i = 0; i < px->dup_cap; i++) {
            uint64_t v = px->dup[i];
            if (!v)
                continue;
            size_t j = (size_t)(v * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = v;
        }
        free(px->dup);
        px->dup = t;
        px->dup_cap = cap;
    }
    size_t j = (size_t)(k * 0x9e3779b97f4a7c15ull) & (px->dup_cap - 1);
    while (px->dup[j]) {
        if (px->dup[j] == k)
            return 1;
        j = (j + 1) & (px->dup_cap - 1);
    }
    px->dup[j] = k;
    px->dup_count++;
    return 0;
}

/* ---- jobs to rigs ---- */

static pk_work_slot *current_job(pk_proxy *px) { return pk_work_current_slot(&px->work); }

/* The upstream client in use (or last in use). */
static pk_stratum *up_client(pk_proxy *px) { return pk_pool_set_stratum(px->pools, (size_t)px->cur); }

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
static void rig_start_work(rig *r)
{
    pk_proxy *px = r->px;
    pk_work_slot *j = current_job(px);
    if (!j || !r->subscribed || !r->authorized || r->closing)
        return;
    r->working = 1;
    send_difficulty(r);
    wbuf *b = notify_line(&j->job, 1);
    if (b) {
        rig_send_wbuf(r, b, 0);
        wbuf_unref(b);
    }
}

static void answer_subscribe(rig *r, json_t *id)
{
    pk_proxy *px = r->px;
    uint8_t en1[PK_EXTRANONCE1_MAX + 4];
    size_t n = rig_en1(px, r, en1);
    char hex[2 * sizeof en1 + 1], sid[17];
    hex_of(en1, n, hex);
    snprintf(sid, sizeof sid, "%016llx", (unsigned long long)r->id);
    reply_ok(r, id,
             json_pack("[[[s,s],[s,s]],s,i]", "mining.set_difficulty", sid, "mining.notify", sid, hex,
                       (int)rig_en2_size(px)));
    r->subscribed = 1;
    rig_start_work(r);
}

/* ---- share checks ---- */

static void rig_reject(rig *r, json_t *id, int code, const char *msg)
{
    r->rejected++;
    r->px->st.rejected++;
    if (code == E_STALE) {
        r->stale++;
        r->px->st.stale++;
    } else if (code == E_DUPLICATE) {
        r->duplicate++;
    } else if (code == E_LOW_DIFF) {
        r->low_diff++;
    }
    pk_log(PK_LOG_DEBUG, "proxy: rig %s (%s): share rejected: %s", r->addr, r->worker, msg);
    reply_err(r, id, code, msg);
}

static void rig_accept(rig *r, json_t *id, double share_diff)
{
    r->accepted++;
    r->px->st.accepted++;
    r->win_shares++;
    r->win_diff += share_diff;
    r->last_share = unix_now();
    reply_ok(r, id, json_true());
}

static void on_submit(rig *r, json_t *id, json_t *params)
{
    pk_proxy *px = r->px;
    if (!r->subscribed)
        return rig_reject(r, id, E_NOT_SUBSCRIBED, "not subscribed");
    if (!r->authorized)
        return rig_reject(r, id, E_UNAUTHORIZED, "unauthorized worker");
    const char *job_id = json_string_value(json_array_get(params, 1));
    const char *en2_hex = json_string_value(json_array_get(params, 2));
    const char *ntime_hex = json_string_value(json_array_get(params, 3));
    const char *nonce_hex = json_string_value(json_array_get(params, 4));
    json_t *vb = json_array_get(params, 5);
    if (!json_is_array(params) || !job_id || !en2_hex || !ntime_hex || !nonce_hex)
        return rig_reject(r, id, E_OTHER, "malformed mining.submit");
    pk_work_slot *j = pk_work_find_id(&px->work, job_id);
    if (!j)
        return rig_reject(r, id, E_STALE, "job not found");
    if (!j->live)
        return rig_reject(r, id, E_STALE, "stale job");
    size_t en2n = rig_en2_size(px);
    uint8_t en2[PK_EXTRANONCE2_MAX];
    if (strlen(en2_hex) != 2 * en2n || pk_hex_decode(en2_hex, en2, en2n))
        return rig_reject(r, id, E_OTHER, "extranonce2 of the wrong size");
    uint32_t ntime, nonce, vbits = 0;
    if (parse_hex32(ntime_hex, &ntime) || parse_hex32(nonce_hex, &nonce))
        return rig_reject(r, id, E_OTHER, "ntime or nonce is not 8 hex digits");
    /* ntime: not before the job's, at most two hours after it (what
     * consensus allows a block over the network's time). */
    if (ntime < j->job.ntime || ntime > j->job.ntime + 7200)
        return rig_reject(r, id, E_OTHER, "ntime out of range");
    if (vb && !json_is_null(vb)) {
        if (!json_is_string(vb) || parse_hex32(json_string_value(vb), &vbits))
            return rig_reject(r, id, E_OTHER, "version bits are not 8 hex digits");
        if (vbits & ~r->mask)
            return rig_reject(r, id, E_OTHER, "version bits outside the granted mask");
    }
    uint32_t version = (j->job.version & ~r->mask) | (vbits & r->mask);
    if (!vb || json_is_null(vb))
        version = j->job.version;

    /* Rebuild the share as the pool will: its full extranonce2 is the
     * rig's prefix and what the rig rolled. */
    uint8_t full[PK_EXTRANONCE2_MAX], header[80], hash[32];
    for (unsigned i = 0; i < px->prefix_bytes; i++)
        full[i] = (uint8_t)(r->slot >> (8 * (px->prefix_bytes - 1 - i)));
    memcpy(full + px->prefix_bytes, en2, en2n);
    pk_pool_job_header(&j->job, full, version, ntime, nonce, header);
    pk_sha256d(header, 80, hash);

    /* The target first: only shares that meet it are remembered, so a rig
     * spraying made-up shares cannot grow the duplicate set. */
    uint8_t rig_target[32];
    double d = r->diff < r->prev_diff ? r->diff : r->prev_diff;
    pk_difficulty_to_target(d, rig_target);
    if (!pk_hash_meets_target(hash, rig_target))
        return rig_reject(r, id, E_LOW_DIFF, "low difficulty share");
    int seen = dup_check(px, hash);
    if (seen < 0)
        return rig_reject(r, id, E_OTHER, "out of memory");
    if (seen)
        return rig_reject(r, id, E_DUPLICATE, "duplicate share");
    double share_diff = d;
    if (!pk_hash_meets_target(hash, j->work.share_target))
        return rig_accept(r, id, share_diff);

    /* Upstream's difficulty met: it goes to the pool, and the pool's
     * answer goes back to this rig. */
    pk_stratum *up = up_client(px);
    if (!px->up_ready || j->job.session != pk_stratum_session(up))
        return rig_reject(r, id, E_STALE, "the pool connection that sent this job is gone");
    pending *q = &px->pend[(px->pend_seq + 1) % PENDING_RING];
    if (q->seq)
        return rig_reject(r, id, E_OTHER, "too many shares waiting for the pool");
    pk_submit_fields f;
    char en2full[2 * PK_EXTRANONCE2_MAX + 1];
    hex_of(full, px->up_en2_size, en2full);
    snprintf(f.extranonce2, sizeof f.extranonce2, "%s", en2full);
    snprintf(f.ntime, sizeof f.ntime, "%08x", ntime);
    snprintf(f.nonce, sizeof f.nonce, "%08x", nonce);
    /* The pool rebuilds version = (job & ~mask) | (bits & mask): a rig that
     * did not roll sends the job's own bits. */
    snprintf(f.version_bits, sizeof f.version_bits, "%08x", version & px->up_mask);
    uint64_t seq = ++px->pend_seq;
    const char *as = px->o.pass_workers && r->worker_idx >= 0 ? px->workers[r->worker_idx].name
                                                              : px->o.pools[px->cur].user;
    if (pk_stratum_submit_as(up, as, j->job.id, &f, seq) != PK_OK) {
        px->pend_seq--;
        return rig_reject(r, id, E_STALE, "the pool connection is down");
    }
    q->seq = seq;
    q->slot = r->slot;
    q->rig_id = r->id;
    q->req_id = json_incref(id ? id : json_null());
    r->forwarded++;
    px->st.forwarded++;
    r->win_shares++;
    r->win_diff += share_diff;
    r->last_share = unix_now();
}

/* ---- messages from a rig ---- */

static void on_configure(rig *r, json_t *id, json_t *params)
{
    pk_proxy *px = r->px;
    json_t *exts = json_array_get(params, 0), *opts = json_array_get(params, 1), *res = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(exts, i, e) {
        const char *name = json_string_value(e);
        if (!name)
            continue;
        if (strcmp(name, "version-rolling") == 0) {
            uint32_t want = 0xffffffffu;
            const char *m = json_string_value(json_object_get(opts, "version-rolling.mask"));
            if (m && parse_hex32(m, &want))
                want = 0;
            /* Never more than the pool granted the proxy. */
            r->mask = want & px->up_mask;
            char mk[9];
            snprintf(mk, sizeof mk, "%08x", r->mask);
            json_object_set_new(res, "version-rolling", json_boolean(r->mask != 0));
            json_object_set_new(res, "version-rolling.mask", json_string(mk));
        } else if (strcmp(name, "subscribe-extranonce") == 0) {
            r->xn_sub = 1;
            json_object_set_new(res, "subscribe-extranonce", json_true());
        } else {
            json_object_set_new(res, name, json_false());
        }
    }
    reply_ok(r, id, res);
}

/* ---- --pass-workers: each rig's worker as ACCOUNT.WORKER upstream ---- */

static void worker_request(pk_proxy *px, size_t i)
{
    px->workers[i].state = px->workers[i].state == WK_OK ? WK_OK : WK_PENDING;
    if (px->up_ready)
        pk_stratum_authorize_worker(up_client(px), px->workers[i].name, px->o.pools[px->cur].pass, i);
}

/* A new session knows none of the rigs' workers: ask again before any of
 * their shares (requests are answered in order). */
static void reauthorize_workers(pk_proxy *px)
{
    for (size_t i = 0; i < px->nworkers; i++)
        if (px->workers[i].state == WK_OK || px->workers[i].state == WK_PENDING)
            worker_request(px, i);
}

static void authorize_upstream(rig *r, json_t *id, const char *user)
{
    pk_proxy *px = r->px;
    /* The rig's own name after its last dot: "rig7" and "me.rig7" are both
     * ACCOUNT.rig7 at the pool. */
    const char *dot = strrchr(user, '.'), *suffix = dot && dot[1] ? dot + 1 : user;
    char name[160];
    snprintf(name, sizeof name, "%s.%.63s", px->o.pools[px->cur].user, suffix);
    size_t i;
    for (i = 0; i < px->nworkers && strcmp(px->workers[i].name, name) != 0; i++) {
    }
    if (i == px->nworkers) {
        if (px->nworkers == px->cap_workers) {
            size_t cap = px->cap_workers ? 2 * px->cap_workers : 64;
            up_worker *w = realloc(px->workers, cap * sizeof *w);
            if (!w) {
                reply_err(r, id, E_OTHER, "out of memory");
                return;
            }
            px->workers = w;
            px->cap_workers = cap;
        }
        memset(&px->workers[i], 0, sizeof px->workers[i]);
        snprintf(px->workers[i].name, sizeof px->workers[i].name, "%s", name);
        px->nworkers++;
    }
    r->worker_idx = (long)i;
    switch (px->workers[i].state) {
    case WK_OK:
        r->authorized = 1;
        reply_ok(r, id, json_true());
        rig_start_work(r);
        return;
    case WK_REFUSED:
        reply_err(r, id, E_UNAUTHORIZED, "the pool refused this worker");
        return;
    default:
        json_decref(r->pending_authorize);
        r->pending_authorize = json_incref(id ? id : json_null());
        if (px->workers[i].state == WK_NONE)
            worker_request(px, i);
    }
}

static void up_worker_result(void *arg, int pool, uint64_t tag, int ok, const char *reason)
{
    pk_proxy *px = arg;
    if (tag >= px->nworkers || pool != px->cur)
        return;
    up_worker *w = &px->workers[tag];
    if (!ok && reason && (strstr(reason, "connection lost") || strstr(reason, "no answer"))) {
        /* Not the pool's verdict: asked again on the next session (or now). */
        if (strstr(reason, "no answer"))
            worker_request(px, tag);
        return;
    }
    w->state = ok ? WK_OK : WK_REFUSED;
    if (!ok)
        pk_log(PK_LOG_WARN, "proxy: the pool refused worker %s: %s", w->name, reason ? reason : "refused");
    for (rig *r = px->rigs, *next; r; r = next) {
        next = r->next;
        if (r->worker_idx != (long)tag || !r->pending_authorize)
            continue;
        json_t *id = r->pending_authorize;
        r->pending_authorize = NULL;
        if (ok) {
            r->authorized = 1;
            reply_ok(r, id, json_true());
            rig_start_work(r);
        } else {
            reply_err(r, id, E_UNAUTHORIZED, "the pool refused this worker");
        }
        json_decref(id);
    }
}

static void handle_line(rig *r, const char *line, size_t len)
{
    pk_proxy *px = r->px;
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return;
    json_error_t jerr;
    json_t *msg = json_loadb(line, len, 0, &jerr);
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id"), *params = json_object_get(msg, "params");
    if (!json_is_object(msg)) {
        json_decref(msg);
        if (++r->garbage > GARBAGE_MAX) {
            rig_drop(r, "too many malformed lines");
            return;
        }
        reply_err(r, NULL, E_OTHER, "malformed JSON");
        return;
    }
    if (!method) { /* an answer to something we asked (none expected) */
        json_decref(msg);
        return;
    }
    if (strcmp(method, "mining.subscribe") == 0) {
        if (r->subscribed) {
            reply_err(r, id, E_OTHER, "already subscribed");
        } else if (!px->have_en1) {
            /* No upstream session yet: answered when there is one. */
            json_decref(r->pending_subscribe);
            r->pending_subscribe = json_incref(id ? id : json_null());
        } else {
            answer_subscribe(r, id);
        }
    } else if (strcmp(method, "mining.authorize") == 0) {
        const char *user = json_string_value(json_array_get(params, 0));
        if (!user || !*user) {
            reply_err(r, id, E_UNAUTHORIZED, "a worker name is needed");
        } else {
            char clean[64];
            pk_log_clean(user, clean, sizeof clean);
            snprintf(r->worker, sizeof r->worker, "%s", clean);
            if (px->o.pass_workers) {
                authorize_upstream(r, id, user);
            } else {
                r->authorized = 1;
                reply_ok(r, id, json_true());
                rig_start_work(r);
            }
        }
    } else if (strcmp(method, "mining.submit") == 0) {
        on_submit(r, id, params);
    } else if (strcmp(method, "mining.configure") == 0) {
        on_configure(r, id, params);
    } else if (strcmp(method, "mining.extranonce.subscribe") == 0) {
        r->xn_sub = 1;
        reply_ok(r, id, json_true());
    } else if (strcmp(method, "mining.suggest_difficulty") == 0) {
        double d = json_number_value(json_array_get(params, 0));
        if (d > 0 && isfinite(d)) {
            r->diff = r->prev_diff = d > px->o.min_difficulty ? d : px->o.min_difficulty;
            if (r->working)
                send_difficulty(r);
        }
        reply_ok(r, id, json_true());
    } else if (strcmp(method, "mining.ping") == 0) {
        reply_ok(r, id, json_string("pong"));
    } else {
        reply_err(r, id, E_OTHER, "unknown method");
    }
    json_decref(msg);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    rig *r = h->data;
    (void)suggested;
    /* One buffer for every rig: a read is handled before the next one
     * starts, and only a partial line is kept per rig. */
    *buf = uv_buf_init(r->px->rbuf, sizeof r->px->rbuf);
}

static void take_bytes(rig *r, const char *p, const char *end);

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    rig *r = st->data;
    if (nread < 0) {
        rig_drop(r, nread == UV_EOF ? "disconnected" : uv_strerror((int)nread));
        return;
    }
    r->last_activity = pk_now();
    if (!r->tls) {
        take_bytes(r, buf->base, buf->base + nread);
        return;
    }
    pk_proxy *px = r->px;
    char err[256];
    if (pk_tls_feed(r->tls, buf->base, (size_t)nread) != 0) {
        rig_drop(r, "TLS: out of memory");
        return;
    }
    if (!r->tls_ready) {
        int hs = pk_tls_handshake(r->tls, err, sizeof err);
        tls_flush(r);
        if (hs < 0) {
            rig_drop(r, err);
            return;
        }
        if (hs == 0)
            return;
        r->tls_ready = 1;
    }
    for (;;) {
        long n = pk_tls_read(r->tls, px->tbuf, sizeof px->tbuf, err, sizeof err);
        if (n < 0) {
            rig_drop(r, err);
            return;
        }
        if (n == 0 || r->closing)
            break;
        take_bytes(r, px->tbuf, px->tbuf + n);
    }
    tls_flush(r);
}

/* Plaintext from a rig: whole lines handled, a partial one kept. */
static void take_bytes(rig *r, const char *p, const char *end)
{
    pk_proxy *px = r->px;
    while (p < end && !r->closing) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (r->line_len + take > px->o.max_line) {
            rig_drop(r, "a line longer than the limit");
            return;
        }
        if (r->line_len || !nl) {
            char *nb = realloc(r->line, r->line_len + take + 1);
            if (!nb) {
                rig_drop(r, "out of memory");
                return;
            }
            r->line = nb;
            memcpy(r->line + r->line_len, p, take);
            r->line_len += take;
        }
        if (!nl)
            break;
        if (r->line_len) {
            handle_line(r, r->line, r->line_len);
            free(r->line);
            r->line = NULL;
            r->line_len = 0;
        } else {
            handle_line(r, p, take);
        }
        p = nl + 1;
    }
}

static void rig_closed(uv_handle_t *h)
{
    rig *r = h->data;
    pk_proxy *px = r->px;
    free(r->line);
    json_decref(r->pending_subscribe);
    json_decref(r->pending_authorize);
    pk_tls_free(r->tls);
    free(r);
    px->handles_open--;
    if (px->closing && px->handles_open == 0 && px->closed)
        px->closed(px->closed_arg);
}

static void rig_drop(rig *r, const char *why)
{
    if (r->closing)
        return;
    pk_proxy *px = r->px;
    r->closing = 1;
    pk_log(PK_LOG_INFO, "proxy: rig %s (%s) dropped: %s", r->addr, r->worker[0] ? r->worker : "-", why);
    if (r->prev)
        r->prev->next = r->next;
    else
        px->rigs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    px->by_slot[r->slot] = NULL;
    px->nrigs--;
    uv_close((uv_handle_t *)&r->tcp, rig_closed);
}

/* New connections per address per minute: a rig stuck in a reconnect
 * loop (or anyone else) cannot fill the slots. */
static int rate_ok(pk_proxy *px, const char *addr)
{
    double now = pk_now();
    rate_slot *oldest = &px->rates[0];
    for (size_t i = 0; i < RATE_SLOTS; i++) {
        rate_slot *s = &px->rates[i];
        if (strcmp(s->addr, addr) == 0) {
            if (now - s->window >= 60) {
                s->window = now;
                s->count = 0;
            }
            return ++s->count <= px->o.max_conn_per_min;
        }
        if (s->window < oldest->window)
            oldest = s;
    }
    snprintf(oldest->addr, sizeof oldest->addr, "%s", addr);
    oldest->window = now;
    oldest->count = 1;
    return 1;
}

static void peer_name(uv_tcp_t *t, char *out, size_t len)
{
    struct sockaddr_storage ss;
    int n = sizeof ss;
    snprintf(out, len, "?");
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &n) == 0) {
        char ip[64] = "";
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            snprintf(out, len, "[%s]:%d", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            snprintf(out, len, "%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
        }
    }
}

static void refuse_closed(uv_handle_t *h)
{
    pk_proxy *px = h->data ? ((rig *)h->data)->px : NULL;
    free(h->data);
    if (px) {
        px->handles_open--;
        if (px->closing && px->handles_open == 0 && px->closed)
            px->closed(px->closed_arg);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    pk_proxy *px = server->data;
    if (status < 0 || px->closing)
        return;
    rig *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->px = px;
    uv_tcp_init(px->loop, &r->tcp);
    r->tcp.data = r;
    px->handles_open++;
    if (uv_accept(server, (uv_stream_t *)&r->tcp) != 0) {
        uv_close((uv_handle_t *)&r->tcp, refuse_closed);
        return;
    }
    peer_name(&r->tcp, r->addr, sizeof r->addr);
    char host[64];
    snprintf(host, sizeof host, "%s", r->addr);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
    uint32_t slot = UINT32_MAX;
    if (px->nrigs < px->o.max_clients) {
        for (uint32_t i = 0; i < px->o.max_clients; i++) {
            if (!px->by_slot[i]) {
                slot = i;
                break;
            }
        }
    }
    if (slot == UINT32_MAX || !rate_ok(px, host)) {
        px->st.refused++;
        pk_log(PK_LOG_WARN, "proxy: %s refused: %s", r->addr,
               slot == UINT32_MAX ? "--max-clients reached" : "too many connections from it this minute");
        uv_close((uv_handle_t *)&r->tcp, refuse_closed);
        return;
    }
    uv_tcp_nodelay(&r->tcp, 1);
    if (px->server_tls && !(r->tls = pk_tls_new(px->server_tls, NULL))) {
        px->st.refused++;
        uv_close((uv_handle_t *)&r->tcp, refuse_closed);
        return;
    }
    r->slot = slot;
    r->worker_idx = -1;
    r->id = ++px->next_rig_id;
    r->connected_at = r->last_activity = r->win_start = pk_now();
    r->diff = r->prev_diff = px->o.start_difficulty > 0 ? px->o.start_difficulty
                                                        : (px->up_diff > 0 ? px->up_diff : 1.0);
    if (r->diff < px->o.min_difficulty)
        r->diff = r->prev_diff = px->o.min_difficulty;
    px->by_slot[slot] = r;
    r->next = px->rigs;
    if (px->rigs)
        px->rigs->prev = r;
    px->rigs = r;
    px->nrigs++;
    px->st.connections++;
    pk_log(PK_LOG_DEBUG, "proxy: rig %s connected (prefix %u)", r->addr, slot);
    uv_read_start((uv_stream_t *)&r->tcp, alloc_cb, read_cb);
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
    dup_clear(px);
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
            send_method(r, "mining.set_extranonce", json_pack("[s,i]", hex, (int)rig_en2_size(px)));
        } else {
            /* Its extranonce1 is gone: no work until it subscribes again. */
            send_method(r, "client.reconnect", json_array());
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
    reauthorize_workers(px); /* a new session knows none of them */
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
        dup_clear(px);
    pk_work_add(&px->work, job, 0, NULL, job->clean, 1);
    pk_work_slot *j = current_job(px);
    px->st.notifies++;

    /* Rigs waiting for their subscribe answer get it now. */
    for (rig *r = px->rigs, *next; r; r = next) {
        next = r->next;
        if (r->pending_subscribe) {
            json_t *id = r->pending_subscribe;
            r->pending_subscribe = NULL;
            answer_subscribe(r, id);
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
            rig_start_work(r);
            continue;
        }
        if (r->diff != r->sent_diff)
            send_difficulty(r);
        rig_send_wbuf(r, b, 0);
    }
    wbuf_unref(px->last_notify);
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
            reply_ok(r, q->req_id, json_true());
        } else {
            r->up_rejected++;
            rig_reject(r, q->req_id, E_OTHER, reason ? reason : "rejected by the pool");
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
            rig_drop(r, "idle for longer than the timeout");
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
            rig_drop(r, "it stopped reading (nothing it was sent was taken)");
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
                    send_difficulty(r);
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
                             .worker_result = up_worker_result};
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
        rc = uv_listen((uv_stream_t *)&px->server, 511, on_connection);
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
        rig_drop(r, "the proxy is stopping");
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
    wbuf_unref(px->last_notify);
    free(px->dup);
    free(px->workers);
    free(px->by_slot);
    pk_tls_ctx_free(px->server_tls);
    free(px);
}

/* ---- figures ---- */

void pk_proxy_stats_get(pk_proxy *px, pk_proxy_stats *out)
{
    *out = px->st;
    out->rigs = px->nrigs;
    out->upstream_ready = px->up_ready;
    out->upstream_difficulty = px->up_diff;
    out->upstream[0] = 0;
    if (px->pools)
        pk_url_redact(pk_stratum_url(up_client(px)), out->upstream, sizeof out->upstream);
}

size_t pk_proxy_rigs_get(pk_proxy *px, pk_proxy_rig_stats *out, size_t max)
{
    size_t n = 0;
    double now = pk_now();
    for (rig *r = px->rigs; r && n < max; r = r->next, n++) {
        pk_proxy_rig_stats *s = &out[n];
        memset(s, 0, sizeof *s);
        s->id = r->id;
        snprintf(s->addr, sizeof s->addr, "%s", r->addr);
        snprintf(s->worker, sizeof s->worker, "%s", r->worker);
        s->difficulty = r->diff;
        s->hashrate = r->hashrate;
        s->accepted = r->accepted;
        s->rejected = r->rejected;
        s->stale = r->stale;
        s->duplicate = r->duplicate;
        s->low_difficulty = r->low_diff;
        s->forwarded = r->forwarded;
        s->upstream_rejected = r->up_rejected;
        s->last_share = r->last_share;
        s->connected_s = now - r->connected_at;
        s->version_mask = r->mask;
        if (px->have_en1) {
            uint8_t en1[PK_EXTRANONCE1_MAX + 4];
            size_t k = rig_en1(px, r, en1);
            hex_of(en1, k, s->extranonce1);
            s->extranonce2_size = (unsigned)rig_en2_size(px);
        }
    }
    return n;
}

char *pk_proxy_status_json(pk_proxy *px)
{
    pk_proxy_stats st;
    pk_proxy_stats_get(px, &st);
    json_t *rigs = json_array();
    size_t cap = px->nrigs ? px->nrigs : 1;
    pk_proxy_rig_stats *rs = malloc(cap * sizeof *rs);
    size_t n = rs ? pk_proxy_rigs_get(px, rs, cap) : 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(
            rigs, json_pack("{s:I, s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:s, s:i}", "id",
                            (json_int_t)rs[i].id, "addr", rs[i].addr, "worker", rs[i].worker, "difficulty",
                            rs[i].difficulty, "hashrate", rs[i].hashrate, "accepted", (json_int_t)rs[i].accepted,
                            "rejected", (json_int_t)rs[i].rejected, "stale", (json_int_t)rs[i].stale,
                            "duplicate", (json_int_t)rs[i].duplicate, "low_difficulty",
                            (json_int_t)rs[i].low_difficulty, "forwarded", (json_int_t)rs[i].forwarded,
                            "last_share", rs[i].last_share, "connected_s", rs[i].connected_s, "extranonce1",
                            rs[i].extranonce1, "extranonce2_size", (int)rs[i].extranonce2_size));
    }
    free(rs);
    json_t *root = json_pack(
        "{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s, s:b, s:f, s:i, s:i}, s:o}", "proxy", "rigs",
        (json_int_t)st.rigs, "connections", (json_int_t)st.connections, "refused", (json_int_t)st.refused,
        "accepted", (json_int_t)st.accepted, "rejected", (json_int_t)st.rejected, "stale", (json_int_t)st.stale,
        "forwarded", (json_int_t)st.forwarded, "upstream_accepted", (json_int_t)st.upstream_accepted,
        "upstream_rejected", (json_int_t)st.upstream_rejected, "hashrate", st.hashrate, "upstream", st.upstream,
        "upstream_ready", st.upstream_ready, "upstream_difficulty", st.upstream_difficulty, "prefix_bytes",
        (int)st.prefix_bytes, "rig_extranonce2_size", (int)st.rig_extranonce2_size, "rigs", rigs);
    char *s = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
    json_decref(root);
    return s;
}

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int failed;
} strbuf;

static void __attribute__((format(printf, 2, 3))) emit(strbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? 2 * b->cap : 4096) + (size_t)k;
        char *n = realloc(b->s, cap);
        if (!n) {
            b->failed = 1;
            return;
        }
        b->s = n;
        b->cap = cap;
    }
}

char *pk_proxy_metrics(pk_proxy *px)
{
    pk_proxy_stats st;
    pk_proxy_stats_get(px, &st);
    strbuf sb = {0};
    strbuf *out = &sb;
#define EMIT(...) emit(out, __VA_ARGS__)
    EMIT("# HELP powkit_proxy_rigs Rigs connected.\n# TYPE powkit_proxy_rigs gauge\npowkit_proxy_rigs %zu\n", st.rigs);
    EMIT("# HELP powkit_proxy_hashrate Hash rate of all rigs from their shares (H/s).\n"
         "# TYPE powkit_proxy_hashrate gauge\npowkit_proxy_hashrate %.0f\n", st.hashrate);
    EMIT("# HELP powkit_proxy_shares_total Rigs' shares by verdict.\n# TYPE powkit_proxy_shares_total counter\n");
    EMIT("powkit_proxy_shares_total{result=\"accepted\"} %llu\n", (unsigned long long)st.accepted);
    EMIT("powkit_proxy_shares_total{result=\"rejected\"} %llu\n", (unsigned long long)st.rejected);
    EMIT("powkit_proxy_shares_total{result=\"stale\"} %llu\n", (unsigned long long)st.stale);
    EMIT("# HELP powkit_proxy_upstream_shares_total Shares sent to the pool by its verdict.\n"
         "# TYPE powkit_proxy_upstream_shares_total counter\n");
    EMIT("powkit_proxy_upstream_shares_total{result=\"accepted\"} %llu\n", (unsigned long long)st.upstream_accepted);
    EMIT("powkit_proxy_upstream_shares_total{result=\"rejected\"} %llu\n", (unsigned long long)st.upstream_rejected);
    EMIT("# HELP powkit_proxy_upstream_up 1 while the pool connection has work.\n"
         "# TYPE powkit_proxy_upstream_up gauge\npowkit_proxy_upstream_up %d\n", st.upstream_ready);
    EMIT("# HELP powkit_proxy_rig_hashrate A rig's hash rate from its shares (H/s).\n"
         "# TYPE powkit_proxy_rig_hashrate gauge\n");
    for (rig *r = px->rigs; r; r = r->next) {
        char w[64];
        pk_log_clean(r->worker, w, sizeof w);
        for (char *c = w; *c; c++)
            if (*c == '"' || *c == '\\')
                *c = '_';
        EMIT("powkit_proxy_rig_hashrate{rig=\"%llu\",addr=\"%s\",worker=\"%s\"} %.0f\n", (unsigned long long)r->id,
             r->addr, w, r->hashrate);
        EMIT("powkit_proxy_rig_shares_total{rig=\"%llu\",result=\"accepted\"} %llu\n", (unsigned long long)r->id,
             (unsigned long long)r->accepted);
        EMIT("powkit_proxy_rig_shares_total{rig=\"%llu\",result=\"rejected\"} %llu\n", (unsigned long long)r->id,
             (unsigned long long)r->rejected);
    }
#undef EMIT
    if (sb.failed) {
        free(sb.s);
        return NULL;
    }
    return sb.s;
}
