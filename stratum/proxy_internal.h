/* Internal to the proxy's files (stratum/proxy*.c): its state, the rigs'
 * sessions, and what one part calls of another.
 *   proxy.c          jobs to rigs, the upstream pool set, the sweep
 *                    (idle rigs, vardiff, hash rates), the lifecycle
 *   proxy_rig.c      the server: connections, reading and writing lines,
 *                    the messages a rig sends, limits, dropping a rig
 *   proxy_share.c    share checks and the duplicate set
 *   proxy_workers.c  --pass-workers: each rig's worker at the pool
 *   proxy_api.c      the figures: stats, /status JSON, /metrics */
#ifndef POWKIT_PROXY_INTERNAL_H
#define POWKIT_PROXY_INTERNAL_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "powkit/proxy.h"
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

static inline double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void hex_of(const uint8_t *b, size_t n, char *out) { pk_hex_encode(b, n, out); }

static inline int parse_hex32(const char *s, uint32_t *out)
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
static inline size_t rig_en1(const pk_proxy *px, const rig *r, uint8_t *out)
{
    memcpy(out, px->en1, px->en1_len);
    for (unsigned i = 0; i < px->prefix_bytes; i++)
        out[px->en1_len + i] = (uint8_t)(r->slot >> (8 * (px->prefix_bytes - 1 - i)));
    return px->en1_len + px->prefix_bytes;
}

static inline size_t rig_en2_size(const pk_proxy *px) { return px->up_en2_size - px->prefix_bytes; }

/* The upstream client in use (or last in use). */
static inline pk_stratum *up_client(pk_proxy *px) { return pk_pool_set_stratum(px->pools, (size_t)px->cur); }

/* proxy_rig.c: writing to a rig (a line shared by many, or one message), the server */
void pk_px_wbuf_unref(wbuf *b);
void pk_px_rig_send_wbuf(rig *r, wbuf *b, size_t off);
void pk_px_rig_send_json(rig *r, json_t *msg);
void pk_px_reply_ok(rig *r, json_t *id, json_t *result);
void pk_px_reply_err(rig *r, json_t *id, int code, const char *msg);
void pk_px_send_method(rig *r, const char *method, json_t *params);
void pk_px_send_difficulty(rig *r);
void pk_px_rig_drop(rig *r, const char *why);
void pk_px_on_connection(uv_stream_t *server, int status);

/* proxy_share.c */
void pk_px_dup_clear(pk_proxy *px);
void pk_px_rig_reject(rig *r, json_t *id, int code, const char *msg);
void pk_px_on_submit(rig *r, json_t *id, json_t *params);

/* proxy.c: a rig that may mine gets its difficulty and the current job */
void pk_px_rig_start_work(rig *r);
void pk_px_answer_subscribe(rig *r, json_t *id);

/* proxy_workers.c */
void pk_px_reauthorize_workers(pk_proxy *px);
void pk_px_authorize_upstream(rig *r, json_t *id, const char *user);
void pk_px_up_worker_result(void *arg, int pool, uint64_t tag, int ok, const char *reason);

#endif
