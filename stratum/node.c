/* Solo mining source (see include/powkit/node.h).  Device threads reach
 * only the work core (its ring of templates, under its lock); everything
 * here runs on the loop.  The stats are read under the core's lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powkit/address.h"
#include "powkit/coinbase.h"
#include "powkit/error.h"
#include "powkit/http.h"
#include "powkit/log.h"
#include "powkit/node.h"
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "powkit/workcore.h"

/* Templates kept: a block found on one is built from it (its slot's ext
 * is the pk_gbt). */
#define RING 4

typedef struct pending_block {
    struct pending_block *next;
    char *hex;
    char path[600];
    char hash[65];
    int in_flight;
    int saved;       /* on disk as path; until then the save is retried */
    unsigned save_failures;
    uint64_t save_at;
    int resumed;     /* from an earlier run: mining waits for its verdict */
    uint64_t retry_at;
    unsigned backoff_ms;
} pending_block;

struct pk_node {
    pk_work_core work; /* first: the dispatcher hands its source back */
    uv_loop_t *loop;
    pk_node_opts o;
    pk_node_events ev;
    pk_http *http;
    char url[512], shown_url[512], userpwd[600], blocks_dir[512];
    char cookie_path[512]; /* credentials from a cookie file: read again when refused */
    int spare_fd;          /* given up for a block's file when descriptors run out */
    unsigned resuming;     /* saved blocks of an earlier run without a verdict yet */
    uint8_t payout[PK_SCRIPT_MAX + 40];
    size_t payout_len;
    int have_payout;
    pk_chain chain;

    uv_timer_t timer; /* retries, refresh */
    int started, closing, fatal_done, lp_active;
    unsigned backoff_ms;
    uint64_t rng; /* retry jitter */
    uint64_t next_refresh, next_gbt_retry;
    pending_block *blocks;
    /* Hashes of blocks that got a verdict this run: the same block found
     * again (a refreshed template identical to the last, on regtest's
     * target) is one block, not two. */
    char decided[16][65];
    unsigned ndecided;
    int capped;            /* --blocks N reached: no new work */
    int done_sent;
    uint64_t cap_deadline; /* stop by then even if verdicts are missing */
    pk_node_stats st;
    void (*closed)(void *);
    void *closed_arg;
    int open;
};

static void gbt_free(void *ext)
{
    pk_gbt_free(ext);
    free(ext);
}

static pk_gbt *slot_gbt(const pk_work_slot *s) { return s->ext; }

/* ---- RPC ---- */

/* How a call failed.  transient: worth the same call again later (node
 * unreachable or not answering, HTTP 5xx or anything but a JSON-RPC
 * answer, warming up, credentials refused); otherwise the node's answer. */
typedef struct rpc_err {
    int transient, auth;
    long code; /* JSON-RPC error code, 0 if none */
    char msg[1200];
} rpc_err;

typedef void (*rpc_cb)(pk_node *n, json_t *result, const rpc_err *e, void *ud);

typedef struct rpc_call {
    pk_node *n;
    rpc_cb cb;
    void *ud;
    char method[32];
} rpc_call;

static int read_cookie(pk_node *n, const char *path, char *err, size_t errlen);

/* Core's codes for a node that cannot answer yet: warming up, not
 * connected, in initial download. */
static int transient_code(long code) { return code == -28 || code == -9 || code == -10; }

static void rpc_done(void *arg, long status, const char *body, size_t len, const char *error)
{
    rpc_call *c = arg;
    pk_node *n = c->n;
    rpc_err e = {0};
    int failed = 1;
    json_t *res = NULL, *msg = NULL;
    if (status == 0) {
        e.transient = 1;
        snprintf(e.msg, sizeof e.msg, "node %s unreachable: %s", n->shown_url, error ? error : "no answer");
    } else if (status == 401 || status == 403) {
        e.transient = e.auth = 1;
        snprintf(e.msg, sizeof e.msg,
                 "node refused the credentials (HTTP %ld): check --rpc-user/--rpc-password or --rpc-cookie", status);
        char err[300];
        if (n->cookie_path[0] && read_cookie(n, n->cookie_path, err, sizeof err) == 0)
            pk_log(PK_LOG_INFO, "read the node's cookie %s again", n->cookie_path);
    } else {
        json_error_t je;
        msg = json_loadb(body, len, 0, &je);
        json_t *jerr = json_object_get(msg, "error");
        if (!json_is_object(msg)) {
            e.transient = 1;
            char clean[120];
            pk_log_clean(body, clean, sizeof clean);
            snprintf(e.msg, sizeof e.msg, "%s: HTTP %ld, not a JSON-RPC answer (%s)", c->method, status, clean);
        } else if (jerr && !json_is_null(jerr)) {
            const char *m = json_string_value(json_object_get(jerr, "message"));
            char clean[200];
            pk_log_clean(m ? m : "error", clean, sizeof clean);
            e.code = (long)json_integer_value(json_object_get(jerr, "code"));
            e.transient = transient_code(e.code);
            snprintf(e.msg, sizeof e.msg, "%s: %s (code %ld)", c->method, clean, e.code);
        } else {
            res = json_object_get(msg, "result");
            failed = 0;
        }
    }
    if (!n->closing)
        c->cb(n, res, failed ? &e : NULL, c->ud);
    json_decref(msg);
    free(c);
}

static int rpc(pk_node *n, const char *method, json_t *params, long timeout_ms, rpc_cb cb, void *ud)
{
    rpc_call *c = calloc(1, sizeof *c);
    if (!c) {
        json_decref(params);
        return -1;
    }
    c->n = n;
    c->cb = cb;
    c->ud = ud;
    snprintf(c->method, sizeof c->method, "%s", method);
    json_t *req = json_pack("{s:s, s:s, s:o}", "jsonrpc", "1.0", "method", method, "params", params);
    json_object_set_new(req, "id", json_string("powkit"));
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    int rc = body ? pk_http_post(n->http, n->url, n->userpwd[0] ? n->userpwd : NULL, body, timeout_ms,
                                 rpc_done, c)
                  : -1;
    free(body);
    if (rc)
        free(c);
    return rc;
}

/* ---- templates ---- */

static void request_template(pk_node *n, int longpoll);

static void retry_later(pk_node *n, const char *why)
{
    uint64_t delay = pk_backoff_next(&n->backoff_ms, n->o.retry_min_ms, n->o.retry_max_ms, &n->rng);
    n->next_gbt_retry = uv_now(n->loop) + delay;
    pk_log(PK_LOG_WARN, "%s; retrying in %.1f s", why, delay / 1000.0);
}

static void use_template(pk_node *n, pk_gbt *g, double arrived)
{
    pk_pool_job job;
    char err[256];
    pk_gbt *kept = malloc(sizeof *kept);
    if (!kept || pk_solo_job(g, n->payout, n->payout_len, n->o.coinbase_tag, &job, err, sizeof err)) {
        pk_log(PK_LOG_ERROR, "template at height %lld refused: %s", (long long)g->height,
               kept ? err : "out of memory");
        pk_gbt_free(g);
        free(kept);
        return;
    }
    *kept = *g;
    pk_log(PK_LOG_INFO, "template: height %lld, %zu transactions, %s%s", (long long)g->height, g->ntx,
           g->segwit ? "segwit" : "no segwit", g->longpollid[0] ? ", long poll" : "");
    /* Devices move to it at once, unless --blocks N is reached. */
    uint64_t seq = pk_work_add(&n->work, &job, 0, kept, 1, !n->capped);
    pk_work_lock(&n->work);
    pk_work_find(&n->work, seq)->arrived = arrived;
    n->st.templates++;
    n->st.height = kept->height;
    pk_work_unlock(&n->work);
}

/* Wrong credentials stop mining (found blocks stay on disk); anything
 * else is waited out. */
static int fatal_auth(pk_node *n, const rpc_err *e)
{
    if (!e->auth)
        return 0;
    if (n->ev.fatal && !n->fatal_done) {
        n->fatal_done = 1;
        n->ev.fatal(n->ev.arg, e->msg);
    }
    return 1;
}

static void on_template(pk_node *n, json_t *result, const rpc_err *e, void *ud)
{
    int longpoll = ud != NULL;
    double arrived = pk_now();
    if (longpoll)
        n->lp_active = 0;
    if (e) {
        if (!fatal_auth(n, e))
            retry_later(n, e->msg);
        return;
    }
    pk_gbt g;
    char err[256];
    if (pk_gbt_parse(result, &g, err, sizeof err)) {
        retry_later(n, err);
        return;
    }
    n->backoff_ms = 0;
    n->next_refresh = uv_now(n->loop) + (uint64_t)n->o.refresh_s * 1000;
    int has_lp = g.longpollid[0] != 0;
    use_template(n, &g, arrived);
    if (has_lp && !n->lp_active)
        request_template(n, 1);
}

static void request_template(pk_node *n, int longpoll)
{
    json_t *p = json_pack("{s:[s]}", "rules", "segwit");
    if (longpoll) {
        pk_work_lock(&n->work);
        pk_work_slot *s = pk_work_find(&n->work, n->work.next_seq); /* the newest template */
        if (s && slot_gbt(s)->longpollid[0])
            json_object_set_new(p, "longpollid", json_string(slot_gbt(s)->longpollid));
        pk_work_unlock(&n->work);
        n->lp_active = 1;
    }
    if (rpc(n, "getblocktemplate", json_pack("[o]", p), longpoll ? 0 : 30000, on_template,
            longpoll ? (void *)1 : NULL)) {
        if (longpoll)
            n->lp_active = 0;
        retry_later(n, "cannot start an HTTP request");
    }
}

static void on_chain(pk_node *n, json_t *result, const rpc_err *e, void *ud)
{
    (void)ud;
    if (e) {
        if (!fatal_auth(n, e))
            retry_later(n, e->msg);
        n->started = 0;
        return;
    }
    const char *chain = json_string_value(json_object_get(result, "chain"));
    if (!chain) {
        retry_later(n, "getblockchaininfo: no chain name");
        n->started = 0;
        return;
    }
    snprintf(n->st.chain, sizeof n->st.chain, "%s", chain);
    n->chain = strcmp(chain, "main") == 0 ? PK_CHAIN_MAIN
               : strcmp(chain, "regtest") == 0 ? PK_CHAIN_REGTEST
                                               : PK_CHAIN_TEST;
    if (!n->have_payout) {
        char err[300];
        if (pk_address_to_script(n->o.address, n->chain, n->payout, &n->payout_len, err, sizeof err)) {
            char msg[400];
            snprintf(msg, sizeof msg, "the node is on %s: %s", chain, err);
            if (n->ev.fatal && !n->fatal_done) {
                n->fatal_done = 1;
                n->ev.fatal(n->ev.arg, msg);
            }
            return;
        }
        n->have_payout = 1;
    }
    pk_log(PK_LOG_INFO, "node %s: chain %s", n->shown_url, chain);
    request_template(n, 0);
}

/* ---- found blocks ---- */

/* Writes data to path through a temporary and a rename, so the file is
 * whole or absent.  With keep_fd, the descriptor is left open for an fsync
 * after the submit (the block reaches the node first; the file already
 * survives a crash of powkit, the fsync makes it survive a power cut),
 * else it is synced here.  When descriptors have run out, the spare one
 * kept for this is given up for the moment.  Returns 0 or -1 (errno). */
static int write_file(pk_node *n, const char *path, const char *data, int *keep_fd)
{
    char tmp[620];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && n->spare_fd >= 0) {
        close(n->spare_fd);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return -1;
    size_t len = strlen(data), done = 0;
    int rc = 0;
    while (done < len && rc == 0) {
        ssize_t w = write(fd, data + done, len - done);
        if (w <= 0)
            rc = -1;
        else
            done += (size_t)w;
    }
    if (rc == 0 && (write(fd, "\n", 1) != 1 || (!keep_fd && fsync(fd) != 0)))
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc || !keep_fd) {
        int saved_errno = errno;
        close(fd);
        if (rc)
            unlink(tmp);
        errno = saved_errno;
    } else {
        *keep_fd = fd;
    }
    return rc;
}

/* Tries to put an unsaved block on disk; logs the first failure loudly. */
static void save_block(pk_node *n, pending_block *b, int *keep_fd)
{
    if (b->saved)
        return;
    /* The folder is made for the first block, not at start: a miner that
     * finds nothing leaves nothing behind. */
    (void)mkdir(n->blocks_dir, 0755); /* if it fails, write_file does too, and says why */
    if (write_file(n, b->path, b->hex, keep_fd) == 0) {
        b->saved = 1;
        return;
    }
    if (b->save_failures++ % 60 == 0)
        pk_log(PK_LOG_ERROR, "block %s NOT saved to %s (%s): it is held in memory and the save is retried", b->hash,
           b->path, strerror(errno));
}

static void submit_block(pk_node *n, pending_block *b);

static void retry_block(pk_node *n, pending_block *b, const char *why)
{
    uint64_t delay = pk_backoff_next(&b->backoff_ms, n->o.retry_min_ms, n->o.retry_max_ms, &n->rng);
    b->retry_at = uv_now(n->loop) + delay;
    n->st.submit_retries++;
    pk_log(PK_LOG_WARN, "block %s not submitted (%s): kept%s%s, retrying in %.1f s", b->hash, why,
           b->saved ? " in " : " in memory", b->saved ? b->path : "", delay / 1000.0);
}

static void forget_block(pk_node *n, pending_block *b)
{
    for (pending_block **p = &n->blocks; *p; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            break;
        }
    }
    if (b->resumed && n->resuming > 0)
        n->resuming--;
    free(b->hex);
    free(b);
}

/* --blocks N: after the Nth acceptance, wait this long at most for the
 * verdicts on blocks found meanwhile (those without one stay in their
 * files and are submitted again at the next start). */
#define CAP_WAIT_MS 10000

static void check_cap(pk_node *n)
{
    if (!n->capped || n->done_sent)
        return;
    if (n->blocks && uv_now(n->loop) < n->cap_deadline)
        return;
    n->done_sent = 1;
    if (n->ev.done)
        n->ev.done(n->ev.arg);
}

/* The journey's end: the node's verdict, recorded in the file's name. */
static void block_verdict(pk_node *n, pending_block *b, int accepted, const char *reason)
{
    char done_path[620];
    if (accepted) {
        n->st.blocks_accepted++;
        snprintf(n->st.last_result, sizeof n->st.last_result, "accepted");
        pk_log(PK_LOG_INFO, "block %s accepted by the node (%llu so far)", b->hash,
               (unsigned long long)n->st.blocks_accepted);
        snprintf(done_path, sizeof done_path, "%s.accepted", b->path);
    } else {
        n->st.blocks_rejected++;
        pk_log_clean(reason, n->st.last_result, sizeof n->st.last_result);
        pk_log(PK_LOG_WARN, "block %s: the node says '%s'", b->hash, n->st.last_result);
        snprintf(done_path, sizeof done_path, "%s.rejected", b->path);
    }
    if (b->saved ? rename(b->path, done_path) != 0 : write_file(n, done_path, b->hex, NULL) != 0)
        pk_log(PK_LOG_WARN, "block %s: cannot record the verdict as %s: %s", b->hash, done_path, strerror(errno));
    snprintf(n->decided[n->ndecided++ % 16], sizeof n->decided[0], "%s", b->hash);
    int reached = accepted && n->o.max_blocks && n->st.blocks_accepted >= n->o.max_blocks;
    forget_block(n, b);
    if (reached && !n->capped) {
        /* No new work: a block beyond the cap would be found only to be
         * left without a verdict.  Blocks already found still get theirs. */
        n->capped = 1;
        n->cap_deadline = uv_now(n->loop) + CAP_WAIT_MS;
        pk_work_set_current(&n->work, 0);
        if (n->blocks)
            pk_log(PK_LOG_INFO, "%u block(s) accepted; waiting up to %d s for the verdict on the blocks still pending",
                   n->o.max_blocks, CAP_WAIT_MS / 1000);
    }
    check_cap(n);
}

/* "duplicate" and "inconclusive" say the node has the block, not where:
 * it counts as accepted only if it is in the active chain (its height's
 * hash is its own). */
typedef struct chain_check {
    pending_block *b;
    const char *said;
    int64_t height;
} chain_check;

static void on_block_hash_at(pk_node *n, json_t *result, const rpc_err *e, void *ud)
{
    chain_check *cc = ud;
    pending_block *b = cc->b;
    b->in_flight = 0;
    if (e) {
        retry_block(n, b, e->msg); /* the submit comes again, the check after it */
    } else {
        const char *h = json_string_value(result);
        int active = h && strcmp(h, b->hash) == 0;
        char why[160];
        snprintf(why, sizeof why, "%s (not in the active chain)", cc->said);
        block_verdict(n, b, active, why);
    }
    free(cc);
}

static void on_block_header(pk_node *n, json_t *result, const rpc_err *e, void *ud)
{
    chain_check *cc = ud;
    pending_block *b = cc->b;
    const json_t *h = json_object_get(result, "height");
    if (e && !e->transient) { /* "Block not found": the node does not have it after all */
        b->in_flight = 0;
        char why[160];
        snprintf(why, sizeof why, "%s, but the node does not know the block", cc->said);
        block_verdict(n, b, 0, why);
        free(cc);
        return;
    }
    if (e || !json_is_integer(h)) {
        b->in_flight = 0;
        retry_block(n, b, e ? e->msg : "getblockheader: no height");
        free(cc);
        return;
    }
    cc->height = json_integer_value(h);
    if (rpc(n, "getblockhash", json_pack("[I]", (json_int_t)cc->height), 30000, on_block_hash_at, cc)) {
        b->in_flight = 0;
        retry_block(n, b, "cannot start an HTTP request");
        free(cc);
    }
}

static void check_in_chain(pk_node *n, pending_block *b, const char *said)
{
    chain_check *cc = calloc(1, sizeof *cc);
    if (!cc || rpc(n, "getblockheader", json_pack("[s]", b->hash), 30000, on_block_header, cc)) {
        free(cc);
        b->in_flight = 0;
        retry_block(n, b, "cannot start an HTTP request");
        return;
    }
    cc->b = b;
    cc->said = said;
}

/* Core's submitblock codes that are a verdict on the block itself. */
static int verdict_code(long code) { return code == -22 || code == -25 || code == -26 || code == -27; }

static void on_submitted(pk_node *n, json_t *result, const rpc_err *e, void *ud)
{
    pending_block *b = ud;
    if (e && !verdict_code(e->code)) {
        /* Unreachable, busy (HTTP 503), warming up (-28), refused
         * credentials, an error that says nothing of the block: again. */
        b->in_flight = 0;
        retry_block(n, b, e->msg);
        return;
    }
    b->backoff_ms = 0;
    const char *reason = e ? e->msg : json_is_string(result) ? json_string_value(result) : NULL;
    if (!e && !reason && !json_is_null(result) && result) {
        b->in_flight = 0;
        retry_block(n, b, "submitblock: an answer that is neither null nor a reason");
        return;
    }
    /* The node has the block but does not say where: ask the chain.  (The
     * words kept must outlive this answer, so they are constants.) */
    const char *ask = !reason                                           ? NULL
                      : strcmp(reason, "duplicate") == 0                ? "duplicate"
                      : strcmp(reason, "duplicate-inconclusive") == 0   ? "duplicate-inconclusive"
                      : strncmp(reason, "inconclusive", 12) == 0        ? "inconclusive"
                                                                        : NULL;
    if (ask) {
        check_in_chain(n, b, ask);
        return; /* still in flight */
    }
    b->in_flight = 0;
    block_verdict(n, b, reason == NULL, reason);
}

static void submit_block(pk_node *n, pending_block *b)
{
    b->in_flight = 1;
    if (rpc(n, "submitblock", json_pack("[s]", b->hex), 60000, on_submitted, b)) {
        b->in_flight = 0;
        retry_block(n, b, "cannot start an HTTP request");
    }
}

static void handle_found(void *arg, const pk_work_share *f)
{
    pk_node *n = arg;
    char *hex = NULL;
    uint8_t header[80], hash[32], en2[PK_SOLO_EXTRANONCE];
    int64_t height = -1;
    pk_work_lock(&n->work);
    pk_work_slot *s = pk_work_find(&n->work, f->seq);
    if (s && pk_pool_work_header(&s->work, f->t, header) == PK_OK) {
        header[76] = (uint8_t)f->nonce, header[77] = (uint8_t)(f->nonce >> 8);
        header[78] = (uint8_t)(f->nonce >> 16), header[79] = (uint8_t)(f->nonce >> 24);
        pk_pool_work_extranonce2(&s->work, f->t, en2);
        height = slot_gbt(s)->height;
        if (pk_solo_block_hex(slot_gbt(s), &s->job, header, en2, &hex))
            hex = NULL;
    }
    pk_work_unlock(&n->work);
    if (!hex) {
        pk_log(PK_LOG_WARN, "a block was found on a template no longer held: dropped");
        return;
    }
    pending_block *b = calloc(1, sizeof *b);
    if (!b) { /* the log is the last place it can go */
        pk_log(PK_LOG_ERROR, "no memory to keep a found block; its hex, for submitblock by hand: %s", hex);
        free(hex);
        return;
    }
    pk_sha256d(header, 80, hash);
    pk_hash_to_hex(hash, b->hash);
    int seen = 0;
    for (pending_block *p = n->blocks; p && !seen; p = p->next)
        seen = strcmp(p->hash, b->hash) == 0;
    for (unsigned i = 0; i < 16 && !seen; i++)
        seen = strcmp(n->decided[i], b->hash) == 0;
    if (seen) {
        pk_log(PK_LOG_DEBUG, "block %s found again: already submitted", b->hash);
        free(hex);
        free(b);
        return;
    }
    n->st.blocks_found++;
    b->hex = hex;
    snprintf(b->path, sizeof b->path, "%s/%lld-%s.hex", n->blocks_dir, (long long)height, b->hash);
    /* To disk first (synced), then to the node: a crash between the two
     * leaves the block for the next run to submit. */
    int fd = -1;
    save_block(n, b, &fd);
    b->next = n->blocks;
    n->blocks = b;
    submit_block(n, b);
    double ms = (pk_now() - f->at) * 1e3;
    if (b->saved)
        pk_log(PK_LOG_INFO, "BLOCK found at height %lld: %s, saved to %s and submitted", (long long)height, b->hash,
               b->path);
    else
        pk_log(PK_LOG_INFO, "BLOCK found at height %lld: %s, submitted (NOT yet saved)", (long long)height, b->hash);
    if (fd >= 0) {
        if (fsync(fd) != 0)
            pk_log(PK_LOG_WARN, "fsync %s: %s", b->path, strerror(errno));
        close(fd);
    }
    pk_work_lock(&n->work);
    n->st.found_to_submit_ms = ms;
    n->st.found_to_submit_sum_ms += ms;
    if (ms > n->st.found_to_submit_max_ms)
        n->st.found_to_submit_max_ms = ms;
    pk_work_unlock(&n->work);
}

static void timer_cb(uv_timer_t *t)
{
    pk_node *n = t->data;
    uint64_t now = uv_now(n->loop);
    check_cap(n);
    if (!n->started && now >= n->next_gbt_retry && n->resuming == 0) {
        /* Blocks of an earlier run first: a fresh template now could
         * orphan them. */
        n->started = 1;
        rpc(n, "getblockchaininfo", json_array(), 30000, on_chain, NULL);
        return;
    }
    if (n->started && n->have_payout) {
        if (n->next_gbt_retry && now >= n->next_gbt_retry) {
            n->next_gbt_retry = 0;
            request_template(n, 0);
        } else if (n->o.refresh_s && n->next_refresh && now >= n->next_refresh) {
            n->next_refresh = 0;
            request_template(n, 0); /* new transactions since */
        }
    }
    for (pending_block *b = n->blocks; b; b = b->next) {
        if (!b->saved && now >= b->save_at) {
            b->save_at = now + 1000;
            save_block(n, b, NULL);
            if (b->saved)
                pk_log(PK_LOG_INFO, "block %s saved to %s", b->hash, b->path);
        }
        if (!b->in_flight && b->retry_at && now >= b->retry_at) {
            b->retry_at = 0;
            submit_block(n, b);
        }
    }
}

/* ---- lifecycle ---- */

static int read_cookie(pk_node *n, const char *path, char *err, size_t errlen)
{
    return pk_rpc_cookie_read(path, n->userpwd, sizeof n->userpwd, err, errlen);
}

int pk_node_new(uv_loop_t *loop, const pk_node_opts *o, const pk_node_events *ev, pk_node **out,
                char *err, size_t errlen)
{
    *out = NULL;
    if (!o->url || (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)) {
        snprintf(err, errlen, "--node wants http://host:port");
        return PK_EINVAL;
    }
    if (!o->address == !o->payout_script_hex) {
        snprintf(err, errlen, "solo mining needs exactly one of --address or --payout-script");
        return PK_EINVAL;
    }
    /* An address that is one on no chain is refused now; which chain it
     * must be for is checked once the node has said its chain. */
    if (o->address) {
        uint8_t script[PK_SCRIPT_MAX];
        size_t slen;
        char why[256];
        int ok = 0;
        for (int c = PK_CHAIN_MAIN; c <= PK_CHAIN_REGTEST && !ok; c++) {
            char e2[256];
            ok = pk_address_to_script(o->address, (pk_chain)c, script, &slen, c == PK_CHAIN_MAIN ? why : e2,
                                      sizeof why) == 0;
        }
        if (!ok) {
            snprintf(err, errlen, "--address %s: %s", o->address, why);
            return PK_EINVAL;
        }
    }
    pk_node *n = calloc(1, sizeof *n);
    if (!n)
        return PK_ENOMEM;
    n->loop = loop;
    n->o = *o;
    if (ev)
        n->ev = *ev;
    snprintf(n->url, sizeof n->url, "%s", o->url);
    pk_url_redact(o->url, n->shown_url, sizeof n->shown_url); /* what logs and the API show */
    n->spare_fd = -1;
    snprintf(n->blocks_dir, sizeof n->blocks_dir, "%s", o->blocks_dir ? o->blocks_dir : "blocks");
    if (!n->o.refresh_s)
        n->o.refresh_s = 30;
    if (!n->o.retry_min_ms)
        n->o.retry_min_ms = 1000;
    if (!n->o.retry_max_ms)
        n->o.retry_max_ms = 30000;
    if (o->payout_script_hex) {
        size_t hl = strlen(o->payout_script_hex);
        if (hl == 0 || hl % 2 || hl / 2 > sizeof n->payout ||
            pk_hex_decode(o->payout_script_hex, n->payout, hl / 2)) {
            snprintf(err, errlen, "--payout-script wants 1 to %zu bytes of hex", sizeof n->payout);
            free(n);
            return PK_EINVAL;
        }
        n->payout_len = hl / 2;
        n->have_payout = 1;
    }
    if (pk_rpc_credentials(o->url, o->user, o->pass, o->cookie, n->userpwd, sizeof n->userpwd, n->cookie_path,
                           sizeof n->cookie_path, err, errlen)) {
        free(n);
        return PK_EINVAL;
    }
    /* Blocks must be writable before the first is found: the folder, or
     * where it would be made (it is made with the first block). */
    {
        char parent[512];
        snprintf(parent, sizeof parent, "%s", n->blocks_dir);
        char *slash = strrchr(parent, '/');
        if (slash)
            *(slash == parent ? slash + 1 : slash) = 0;
        else
            snprintf(parent, sizeof parent, ".");
        struct stat st;
        int exists = stat(n->blocks_dir, &st) == 0;
        if (exists ? (!S_ISDIR(st.st_mode) || access(n->blocks_dir, W_OK | X_OK) != 0)
                   : access(parent, W_OK | X_OK) != 0) {
            snprintf(err, errlen, "found blocks could not be saved to %s: %s", n->blocks_dir,
                     exists && !S_ISDIR(st.st_mode) ? "not a directory" : strerror(errno));
            free(n);
            return PK_EIO;
        }
    }
    n->http = pk_http_new(loop);
    if (!n->http) {
        snprintf(err, errlen, "libcurl initialisation failed");
        free(n);
        return PK_ENOMEM;
    }
    pk_work_cfg wc = {.ring = RING, .one_share_per_job = 1, .ext_free = gbt_free, .on_share = handle_found, .arg = n};
    pk_work_init(&n->work, loop, &wc);
    n->rng = pk_random_seed();
    /* Kept for the moment a found block must go to disk and every other
     * descriptor is taken. */
    n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    n->st.height = -1;
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    *out = n;
    return PK_OK;
}

pk_source *pk_node_source(pk_node *n) { return &n->work.src; }
void pk_node_attach(pk_node *n, pk_dispatcher *d) { pk_work_attach(&n->work, d); }

/* Blocks a previous run found but never heard back about: submit again. */
static void resume_saved_blocks(pk_node *n)
{
    DIR *d = opendir(n->blocks_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".hex") != 0 || l > 200)
            continue;
        pending_block *b = calloc(1, sizeof *b);
        if (!b)
            break;
        snprintf(b->path, sizeof b->path, "%.380s/%.200s", n->blocks_dir, de->d_name);
        FILE *f = fopen(b->path, "r");
        long size = -1;
        if (f && fseek(f, 0, SEEK_END) == 0)
            size = ftell(f);
        if (!f || size <= 0 || size > (64L << 20) || fseek(f, 0, SEEK_SET) != 0 ||
            !(b->hex = malloc((size_t)size + 1)) || fread(b->hex, 1, (size_t)size, f) != (size_t)size) {
            if (f)
                fclose(f);
            free(b->hex);
            free(b);
            continue;
        }
        fclose(f);
        b->hex[size] = 0;
        b->hex[strcspn(b->hex, "\r\n")] = 0;
        b->saved = 1;
        b->resumed = 1;
        n->resuming++;
        const char *dash = strchr(de->d_name, '-');
        snprintf(b->hash, sizeof b->hash, "%.64s", dash ? dash + 1 : de->d_name);
        b->retry_at = uv_now(n->loop) + 1;
        b->next = n->blocks;
        n->blocks = b;
        pk_log(PK_LOG_INFO, "found block %s from an earlier run was never confirmed: submitting it again",
               b->path);
    }
    closedir(d);
}

int pk_node_start(pk_node *n)
{
    resume_saved_blocks(n);
    uv_timer_start(&n->timer, timer_cb, 0, 50);
    return PK_OK;
}

void pk_node_get_stats(pk_node *n, pk_node_stats *out)
{
    pk_work_lock(&n->work);
    *out = n->st;
    pk_work_unlock(&n->work);
}

double pk_node_template_time(pk_node *n, uint64_t seq)
{
    pk_work_lock(&n->work);
    pk_work_slot *s = pk_work_find(&n->work, seq);
    double t = s ? s->arrived : 0;
    pk_work_unlock(&n->work);
    return t;
}

static void part_closed(void *arg)
{
    pk_node *n = arg;
    if (--n->open > 0)
        return;
    pk_work_free(&n->work);
    while (n->blocks) {
        pending_block *b = n->blocks;
        n->blocks = b->next;
        save_block(n, b, NULL); /* a last try for one never saved */
        if (b->saved)
            pk_log(PK_LOG_WARN, "block %s has no verdict from the node yet; it is kept in %s for the next run",
                   b->hash, b->path);
        else
            pk_log(PK_LOG_ERROR, "block %s could not be saved; its hex, for submitblock by hand: %s", b->hash,
                   b->hex);
        free(b->hex);
        free(b);
    }
    if (n->spare_fd >= 0)
        close(n->spare_fd);
    void (*cb)(void *) = n->closed;
    void *a = n->closed_arg;
    free(n);
    if (cb)
        cb(a);
}

static void handle_closed(uv_handle_t *h) { part_closed(h->data); }

void pk_node_close(pk_node *n, void (*closed)(void *arg), void *arg)
{
    pk_work_drain(&n->work); /* blocks found at the last moment still go to disk */
    n->closing = 1;
    n->closed = closed;
    n->closed_arg = arg;
    n->open = 3;
    uv_timer_stop(&n->timer);
    uv_close((uv_handle_t *)&n->timer, handle_closed);
    pk_work_close(&n->work, part_closed, n);
    pk_http_close(n->http, part_closed, n);
}
