/* A block source over a node's JSON-RPC (Bitcoin Core, or bcoin): the
 * height's hash by getblockhash, the raw block by getblock HASH false
 * (Core's verbosity 0, which both take).  A thread of its own runs a
 * libuv loop with the HTTP client (libcurl's multi interface): up to
 * `parallel` requests in flight, up to `ahead` blocks held, so validation
 * never waits on a round trip while the node keeps up.  A node that cannot
 * be reached is retried with backoff, then reported; refused credentials
 * and RPC errors are reported at once. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "powkit/chain.h"
#include "powkit/http.h"
#include "powkit/log.h"
#include "powkit/util.h"

#define MAX_ATTEMPTS 8

enum { SLOT_FREE = 0, SLOT_WAITING, SLOT_READY };

typedef struct slot {
    int state;
    int64_t height;
    uint8_t *data;
    size_t len;
} slot;

typedef struct node_src {
    pk_block_source s;
    char url[512], shown[512];
    /* Credentials: userpwd under mu (the loop's thread renews it, a
     * blocking call reads it), cookie_path when they came from a cookie:
     * read again when the node refuses them, as a restarted node has
     * written a new one.  cred_gen counts the renewals. */
    char userpwd[512], cookie_path[512];
    unsigned cred_gen;
    unsigned ahead, parallel;
    /* shared between the loop's thread and the consumer, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *ring;
    int64_t consumed, to;
    int stop, failed;
    char err[512];
    /* the loop's own */
    pthread_t th;
    int started;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t retry;
    pk_http *http;
    int64_t next_issue;
    unsigned inflight;
    int64_t *retry_q;
    size_t n_retry;
    unsigned backoff_ms, attempts;
    uint64_t rng;
    int closing;
} node_src;

typedef struct req {
    node_src *n;
    int64_t height;
    int getblock;      /* 0: getblockhash */
    unsigned cred_gen; /* the credentials it was sent with */
} req;

/* The credentials now, into out; their generation. */
static unsigned credentials(node_src *n, char *out, size_t len)
{
    pthread_mutex_lock(&n->mu);
    snprintf(out, len, "%s", n->userpwd);
    unsigned g = n->cred_gen;
    pthread_mutex_unlock(&n->mu);
    return g;
}

/* After a refusal of credentials of generation gen: 1 when there are
 * newer ones to try (renewed since, or a cookie that changed), 0 when
 * not. */
static int renew_credentials(node_src *n, unsigned gen)
{
    pthread_mutex_lock(&n->mu);
    int newer = n->cred_gen != gen;
    if (!newer && n->cookie_path[0]) {
        char fresh[512], e[600];
        if (pk_rpc_cookie_read(n->cookie_path, fresh, sizeof fresh, e, sizeof e) == 0 &&
            strcmp(fresh, n->userpwd) != 0) {
            snprintf(n->userpwd, sizeof n->userpwd, "%s", fresh);
            n->cred_gen++;
            newer = 1;
            pk_log(PK_LOG_INFO, "%s refused the cookie's credentials; read the node's cookie %s again", n->shown,
                   n->cookie_path);
        }
    }
    pthread_mutex_unlock(&n->mu);
    return newer;
}

static char *rpc_body(const char *method, json_t *params)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "1.0", "id", 1, "method", method, "params", params);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* The result of a JSON-RPC answer, or NULL with err set. */
static json_t *rpc_result(long status, const char *body, size_t len, const char *error, const char *shown,
                          int *transient, char *err, size_t errlen)
{
    *transient = 0;
    if (status == 0) {
        *transient = 1;
        snprintf(err, errlen, "%s: %s", shown, error ? error : "no answer");
        return NULL;
    }
    if (status == 401 || status == 403) {
        snprintf(err, errlen, "%s refused the credentials (HTTP %ld): check --rpc-user/--rpc-password or --rpc-cookie",
                 shown, status);
        return NULL;
    }
    json_error_t je;
    json_t *o = json_loadb(body, len, 0, &je);
    json_t *e = o ? json_object_get(o, "error") : NULL;
    if (e && !json_is_null(e)) {
        json_t *m = json_object_get(e, "message");
        json_t *c = json_object_get(e, "code");
        int64_t code = json_is_integer(c) ? json_integer_value(c) : 0;
        *transient = code == -28; /* warming up */
        snprintf(err, errlen, "%s: RPC error %lld: %s", shown, (long long)code, json_is_string(m) ? json_string_value(m) : "?");
        json_decref(o);
        return NULL;
    }
    if (!o || !json_object_get(o, "result")) {
        *transient = status >= 500;
        snprintf(err, errlen, "%s: HTTP %ld without a JSON-RPC answer", shown, status);
        json_decref(o);
        return NULL;
    }
    json_t *r = json_incref(json_object_get(o, "result"));
    json_decref(o);
    return r;
}

/* ---- one call, blocking (the tip, before the thread starts) ---- */

typedef struct sync_call {
    long status;
    char *body;
    size_t len;
    char error[256];
    int done;
} sync_call;

static void sync_cb(void *ud, long status, const char *body, size_t len, const char *error)
{
    sync_call *c = ud;
    c->status = status;
    c->body = body ? malloc(len + 1) : NULL;
    if (c->body) {
        memcpy(c->body, body, len);
        c->body[len] = 0;
        c->len = len;
    }
    snprintf(c->error, sizeof c->error, "%s", error ? error : "");
    c->done = 1;
}

static void sync_closed(void *arg)
{
    (void)arg;
}

static json_t *call_sync(node_src *n, const char *method, json_t *params, char *err, size_t errlen)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop)) {
        json_decref(params);
        snprintf(err, errlen, "cannot start an event loop");
        return NULL;
    }
    pk_http *h = pk_http_new(&loop);
    char *body = rpc_body(method, params);
    sync_call c = {0};
    json_t *r = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        char userpwd[512];
        unsigned gen = credentials(n, userpwd, sizeof userpwd);
        memset(&c, 0, sizeof c);
        if (!h || !body || pk_http_post(h, n->url, userpwd, body, 30000, sync_cb, &c) != 0) {
            snprintf(err, errlen, "%s: cannot make the request", n->shown);
            break;
        }
        while (!c.done && uv_run(&loop, UV_RUN_ONCE))
            ;
        int transient;
        r = rpc_result(c.status, c.body, c.len, c.error, n->shown, &transient, err, errlen);
        if (r || !(c.status == 401 || c.status == 403) || attempt > 0 || !renew_credentials(n, gen))
            break;
        free(c.body); /* refused, and there are newer credentials: once more with them */
    }
    free(body);
    free(c.body);
    if (h)
        pk_http_close(h, sync_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return r;
}

/* ---- the loop's thread ---- */

static void post(node_src *n, int64_t height, int getblock, const char *hash);

static void fail(node_src *n, const char *msg)
{
    pthread_mutex_lock(&n->mu);
    if (!n->failed) {
        n->failed = 1;
        snprintf(n->err, sizeof n->err, "%s", msg);
    }
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* Requests for the heights the ring has room for. */
static void pump(node_src *n)
{
    if (n->closing)
        return;
    pthread_mutex_lock(&n->mu);
    int64_t limit = n->consumed + n->ahead;
    int stop = n->stop || n->failed;
    pthread_mutex_unlock(&n->mu);
    if (stop)
        return;
    while (n->inflight < n->parallel && n->next_issue <= n->to && n->next_issue < limit) {
        slot *sl = &n->ring[n->next_issue % n->ahead];
        sl->state = SLOT_WAITING;
        sl->height = n->next_issue;
        n->inflight++;
        post(n, n->next_issue++, 0, NULL);
    }
}

static void on_retry(uv_timer_t *t)
{
    node_src *n = t->data;
    size_t k = n->n_retry;
    n->n_retry = 0;
    for (size_t i = 0; i < k; i++)
        post(n, n->retry_q[i], 0, NULL);
}

static void on_answer(void *ud, long status, const char *body, size_t len, const char *error)
{
    req *q = ud;
    node_src *n = q->n;
    int64_t height = q->height;
    int getblock = q->getblock;
    unsigned gen = q->cred_gen;
    free(q);
    if (n->closing)
        return;
    char err[320];
    int transient;
    json_t *r = rpc_result(status, body, len, error, n->shown, &transient, err, sizeof err);
    if (!r && (status == 401 || status == 403) && renew_credentials(n, gen))
        transient = 1; /* the node restarted with a new cookie: again with it */
    if (!r) {
        if (!transient || ++n->attempts > MAX_ATTEMPTS) {
            char msg[400];
            snprintf(msg, sizeof msg, "block %lld: %s%s", (long long)height, err,
                     transient ? " (gave up after retries)" : "");
            fail(n, msg);
            return;
        }
        /* Again from the hash, after a pause that grows. */
        int64_t *nq = realloc(n->retry_q, (n->n_retry + 1) * sizeof *nq);
        if (!nq) {
            fail(n, "out of memory");
            return;
        }
        n->retry_q = nq;
        n->retry_q[n->n_retry++] = height;
        if (!uv_is_active((uv_handle_t *)&n->retry))
            uv_timer_start(&n->retry, on_retry, pk_backoff_next(&n->backoff_ms, 250, 8000, &n->rng), 0);
        return;
    }
    n->attempts = 0;
    n->backoff_ms = 0;
    if (!getblock) {
        if (!json_is_string(r) || strlen(json_string_value(r)) != 64) {
            json_decref(r);
            fail(n, "getblockhash did not answer a hash");
            return;
        }
        post(n, height, 1, json_string_value(r));
        json_decref(r);
        return;
    }
    const char *hex = json_is_string(r) ? json_string_value(r) : NULL;
    size_t hl = hex ? strlen(hex) : 0;
    uint8_t *data = hl && hl % 2 == 0 ? malloc(hl / 2) : NULL;
    if (!data || pk_hex_decode(hex, data, hl / 2)) {
        free(data);
        json_decref(r);
        char msg[128];
        snprintf(msg, sizeof msg, "block %lld: getblock did not answer a block in hex", (long long)height);
        fail(n, msg);
        return;
    }
    json_decref(r);
    pthread_mutex_lock(&n->mu);
    slot *sl = &n->ring[height % n->ahead];
    sl->data = data;
    sl->len = hl / 2;
    sl->state = SLOT_READY;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    n->inflight--;
    pump(n);
}

static void post(node_src *n, int64_t height, int getblock, const char *hash)
{
    req *q = malloc(sizeof *q);
    char *body = NULL, userpwd[512];
    unsigned gen = credentials(n, userpwd, sizeof userpwd);
    if (q) {
        *q = (req){n, height, getblock, gen};
        body = getblock ? rpc_body("getblock", json_pack("[s, b]", hash, 0))
                        : rpc_body("getblockhash", json_pack("[I]", (json_int_t)height));
    }
    if (!q || !body || pk_http_post(n->http, n->url, userpwd, body, 120000, on_answer, q) != 0) {
        free(q);
        fail(n, "cannot make a request to the node");
    }
    free(body);
}

static void closed_http(void *arg)
{
    node_src *n = arg;
    uv_close((uv_handle_t *)&n->wake, NULL);
    uv_close((uv_handle_t *)&n->retry, NULL);
}

static void on_wake(uv_async_t *a)
{
    node_src *n = a->data;
    pthread_mutex_lock(&n->mu);
    int stop = n->stop;
    pthread_mutex_unlock(&n->mu);
    if (stop && !n->closing) {
        n->closing = 1;
        uv_timer_stop(&n->retry);
        pk_http_close(n->http, closed_http, n);
        return;
    }
    pump(n);
}

static void *thread_main(void *arg)
{
    node_src *n = arg;
    pump(n);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- the source's functions ---- */

static int64_t node_tip(pk_block_source *s, char *err, size_t errlen)
{
    node_src *n = s->ctx;
    json_t *r = call_sync(n, "getblockcount", json_array(), err, errlen);
    if (!r)
        return PK_CHAIN_EIO;
    int64_t h = json_is_integer(r) ? json_integer_value(r) : -1;
    json_decref(r);
    if (h < 0) {
        snprintf(err, errlen, "%s: getblockcount did not answer a height", n->shown);
        return PK_CHAIN_EIO;
    }
    return h;
}

static int node_start(pk_block_source *s, int64_t from, int64_t to, char *err, size_t errlen)
{
    node_src *n = s->ctx;
    if (n->started) {
        snprintf(err, errlen, "the node source is started already");
        return PK_CHAIN_EIO;
    }
    n->ring = calloc(n->ahead, sizeof *n->ring);
    if (!n->ring || uv_loop_init(&n->loop)) {
        snprintf(err, errlen, "cannot start the node source");
        return PK_CHAIN_EIO;
    }
    n->http = pk_http_new(&n->loop);
    if (!n->http) {
        uv_loop_close(&n->loop);
        snprintf(err, errlen, "cannot start the HTTP client");
        return PK_CHAIN_EIO;
    }
    uv_async_init(&n->loop, &n->wake, on_wake);
    n->wake.data = n;
    uv_timer_init(&n->loop, &n->retry);
    n->retry.data = n;
    n->consumed = n->next_issue = from;
    n->to = to;
    n->rng = pk_random_seed();
    if (pthread_create(&n->th, NULL, thread_main, n)) {
        snprintf(err, errlen, "cannot start the node source's thread");
        return PK_CHAIN_EIO;
    }
    n->started = 1;
    return 0;
}

static int node_next(pk_block_source *s, int64_t *height, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    node_src *n = s->ctx;
    if (!n->started)
        return 0;
    pthread_mutex_lock(&n->mu);
    if (n->consumed > n->to) {
        pthread_mutex_unlock(&n->mu);
        return 0;
    }
    slot *sl = &n->ring[n->consumed % n->ahead];
    while (!(sl->state == SLOT_READY && sl->height == n->consumed) && !n->failed)
        pthread_cond_wait(&n->cv, &n->mu);
    if (sl->state != SLOT_READY || sl->height != n->consumed) {
        snprintf(err, errlen, "%s", n->err);
        pthread_mutex_unlock(&n->mu);
        return PK_CHAIN_EIO;
    }
    *data = sl->data;
    *len = sl->len;
    *height = sl->height;
    sl->data = NULL;
    sl->state = SLOT_FREE;
    n->consumed++;
    pthread_mutex_unlock(&n->mu);
    uv_async_send(&n->wake);
    return 1;
}

static void node_close(pk_block_source *s)
{
    node_src *n = s->ctx;
    if (n->started) {
        pthread_mutex_lock(&n->mu);
        n->stop = 1;
        pthread_mutex_unlock(&n->mu);
        uv_async_send(&n->wake);
        pthread_join(n->th, NULL);
        uv_loop_close(&n->loop);
    }
    if (n->ring)
        for (unsigned i = 0; i < n->ahead; i++)
            free(n->ring[i].data);
    free(n->ring);
    free(n->retry_q);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
}

pk_block_source *pk_block_source_node(const pk_node_source_opts *o, char *err, size_t errlen)
{
    if (!o->url || (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)) {
        snprintf(err, errlen, "--node wants http://host:port");
        return NULL;
    }
    node_src *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(n->url, sizeof n->url, "%s", o->url);
    pk_url_redact(o->url, n->shown, sizeof n->shown);
    if (pk_rpc_credentials(o->url, o->user, o->pass, o->cookie, n->userpwd, sizeof n->userpwd, n->cookie_path,
                           sizeof n->cookie_path, err, errlen)) {
        free(n);
        return NULL;
    }
    n->ahead = o->ahead ? o->ahead : 32;
    n->parallel = o->parallel ? o->parallel : 8;
    if (n->parallel > n->ahead)
        n->parallel = n->ahead;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    n->to = -1;
    n->s = (pk_block_source){"node", n, node_tip, node_start, node_next, node_close, NULL, NULL};
    return &n->s;
}
