/* `powkit proxy` end to end: the scripted pool upstream (it rebuilds and
 * hashes every share with OpenSSL), the proxy on its own loop thread, and
 * downstream raw socket clients that mine their own shares, powkit miners,
 * and misbehaving rigs. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "powkit/error.h"
#include "powkit/kernel.h"
#include "powkit/log.h"
#include "powkit/miner.h"
#include "powkit/poolwork.h"
#include "powkit/proxy.h"
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "miner_runner.h"
#include "proxy_runner.h"
#include "stratum_server.h"
#include "testutil.h"

/* ---- the proxy on a thread of its own ---- */

typedef struct prun {
    proxy_runner r;
    char url[2][64];
} prun;

static void proxy_start(prun *p, pk_proxy_opts *o, const int *ports, size_t nports)
{
    for (size_t i = 0; i < nports; i++) {
        snprintf(p->url[i], sizeof p->url[i], "stratum+tcp://127.0.0.1:%d", ports[i]);
        o->pools[i] = (pk_pool_cfg){p->url[i], "farm.account", "x"};
    }
    o->npools = nports;
    o->listen = "127.0.0.1:0";
    o->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 100;
    o->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 500;
    o->connect_timeout_ms = 2000;
    o->request_timeout_ms = 3000;
    char err[256];
    cr_assert_eq(proxy_runner_start(&p->r, o, err, sizeof err), 0, "%s", err);
}

static void proxy_stop(prun *p) { cr_assert_eq(proxy_runner_stop(&p->r), 0, "every handle closed"); }

static pk_proxy_stats proxy_stats(prun *p) { return proxy_runner_stats(&p->r); }

static int wait_stat(prun *p, int (*pred)(const pk_proxy_stats *, const void *), const void *arg, double timeout)
{
    double t0 = pk_now();
    while (pk_now() - t0 < timeout) {
        pk_proxy_stats st = proxy_stats(p);
        if (pred(&st, arg))
            return 1;
        usleep(10000);
    }
    return 0;
}

static int up_ready(const pk_proxy_stats *st, const void *arg) { (void)arg; return st->upstream_ready && st->notifies > 0; }
static int rigs_at_least(const pk_proxy_stats *st, const void *arg) { return st->rigs >= *(const size_t *)arg; }

/* ---- a raw Stratum client ---- */

typedef struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
    int next_id;
    /* what the proxy told it */
    uint8_t en1[PK_EXTRANONCE1_MAX];
    size_t en1_len, en2_size;
    double diff;
    pk_pool_job job;
    int have_job;
    int notifies;
    int set_extranonces, reconnects;
} client;


static void client_open(client *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = proxy_runner_connect(port);
    cr_assert_geq(c->fd, 0, "connect to the proxy");
    struct timeval tv = {.tv_sec = 15};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    c->next_id = 1;
}

static void client_close(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->have_job)
        pk_pool_job_free(&c->job);
    c->have_job = 0;
}

static void send_raw(client *c, const char *s)
{
    size_t n = strlen(s);
    cr_assert_eq(send(c->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Sends a request; returns its id. */
static int request(client *c, const char *method, json_t *params)
{
    int id = c->next_id++;
    json_t *m = json_pack("{s:i, s:s, s:o}", "id", id, "method", method, "params", params);
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    char line[8192];
    snprintf(line, sizeof line, "%s\n", s);
    free(s);
    send_raw(c, line);
    return id;
}

/* The next line as JSON; NULL on EOF or time-out. */
static json_t *next_msg(client *c)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            json_t *m = json_loadb(c->buf, n, 0, NULL);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            if (m)
                return m;
            continue;
        }
        ssize_t k = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (k <= 0)
            return NULL;
        c->len += (size_t)k;
    }
}

/* Notes what the proxy says unasked (difficulty, jobs, extranonce). */
static void note_method(client *c, json_t *m)
{
    const char *method = json_string_value(json_object_get(m, "method"));
    json_t *params = json_object_get(m, "params");
    if (!method)
        return;
    if (strcmp(method, "mining.set_difficulty") == 0) {
        c->diff = json_number_value(json_array_get(params, 0));
    } else if (strcmp(method, "mining.notify") == 0) {
        pk_pool_job j;
        char err[128];
        cr_assert_eq(pk_pool_job_parse(&j, params, err, sizeof err), 0, "%s", err);
        if (c->have_job)
            pk_pool_job_free(&c->job);
        c->job = j;
        c->have_job = 1;
        c->notifies++;
    } else if (strcmp(method, "mining.set_extranonce") == 0) {
        const char *h = json_string_value(json_array_get(params, 0));
        c->en1_len = strlen(h) / 2;
        pk_hex_decode(h, c->en1, c->en1_len);
        c->en2_size = (size_t)json_integer_value(json_array_get(params, 1));
        c->set_extranonces++;
    } else if (strcmp(method, "client.reconnect") == 0) {
        c->reconnects++;
    }
}

/* The answer to request id (methods on the way are noted). */
static json_t *answer(client *c, int id)
{
    for (;;) {
        json_t *m = next_msg(c);
        cr_assert_not_null(m, "no answer to request %d", id);
        if (json_integer_value(json_object_get(m, "id")) == id && !json_object_get(m, "method"))
            return m;
        note_method(c, m);
        json_decref(m);
    }
}

/* Reads until the proxy has sent n notifies in all. */
static void wait_notifies(client *c, int n)
{
    while (c->notifies < n) {
        json_t *m = next_msg(c);
        cr_assert_not_null(m, "waiting for notify %d", n);
        note_method(c, m);
        json_decref(m);
    }
}

static int error_code(json_t *m)
{
    json_t *e = json_object_get(m, "error");
    return json_is_array(e) ? (int)json_integer_value(json_array_get(e, 0)) : 0;
}

/* The subscribe answer: extranonce1 and the extranonce2 size. */
static void take_subscribe(client *c, json_t *a)
{
    json_t *r = json_object_get(a, "result");
    cr_assert(json_is_array(r), "subscribe result");
    const char *en1 = json_string_value(json_array_get(r, 1));
    cr_assert_not_null(en1);
    c->en1_len = strlen(en1) / 2;
    cr_assert_eq(pk_hex_decode(en1, c->en1, c->en1_len), 0);
    c->en2_size = (size_t)json_integer_value(json_array_get(r, 2));
}

static void subscribe_authorize(client *c)
{
    json_t *a = answer(c, request(c, "mining.subscribe", json_pack("[s]", "test-rig/1")));
    take_subscribe(c, a);
    json_decref(a);
    a = answer(c, request(c, "mining.authorize", json_pack("[s,s]", "rig.one", "x")));
    cr_assert(json_is_true(json_object_get(a, "result")));
    json_decref(a);
    wait_notifies(c, 1);
}

/* A share on the client's job: extranonce2 from en2_index, the first
 * nonce from start whose hash meets want_diff and (fail_diff > 0) not
 * fail_diff. */
typedef struct share {
    pk_submit_fields f;
    char job_id[PK_JOB_ID_MAX];
    uint8_t hash[32];
} share;

static void find_share(client *c, uint64_t en2_index, double want_diff, double fail_diff, share *out)
{
    cr_assert(c->have_job);
    pk_pool_job j;
    cr_assert_eq(pk_pool_job_copy(&j, &c->job), 0);
    memcpy(j.extranonce1, c->en1, c->en1_len);
    j.extranonce1_len = c->en1_len;
    j.extranonce2_size = c->en2_size;
    j.difficulty = want_diff;
    j.version_mask = 0;
    pk_pool_work w;
    cr_assert_eq(pk_pool_work_init(&w, &j), 0);
    uint8_t header[80], want[32], fail[32];
    cr_assert_eq(pk_pool_work_header(&w, en2_index, header), 0);
    pk_difficulty_to_target(want_diff, want);
    if (fail_diff > 0)
        pk_difficulty_to_target(fail_diff, fail);
    for (uint32_t nonce = 0; nonce < 50000000; nonce++) {
        header[76] = (uint8_t)nonce, header[77] = (uint8_t)(nonce >> 8);
        header[78] = (uint8_t)(nonce >> 16), header[79] = (uint8_t)(nonce >> 24);
        uint8_t h[32];
        pk_sha256d(header, 80, h);
        if (!pk_hash_meets_target(h, want) || (fail_diff > 0 && pk_hash_meets_target(h, fail)))
            continue;
        pk_pool_work_submit_fields(&w, en2_index, nonce, &out->f);
        snprintf(out->job_id, sizeof out->job_id, "%s", j.id);
        memcpy(out->hash, h, 32);
        pk_pool_job_free(&j);
        return;
    }
    cr_assert_fail("no share found");
}

static json_t *submit(client *c, const share *s, const char *version_bits)
{
    json_t *p = json_pack("[s,s,s,s,s]", "rig.one", s->job_id, s->f.extranonce2, s->f.ntime, s->f.nonce);
    if (version_bits)
        json_array_append_new(p, json_string(version_bits));
    return answer(c, request(c, "mining.submit", p));
}

static int srv_valid(const srv_stats *st, void *arg) { return st->valid >= *(int *)arg; }

/* ---- tests ---- */

TestSuite(proxy, .timeout = 240);

Test(proxy, shares_are_checked_locally_and_forwarded_when_they_meet_the_pool)
{
    srv_cfg sc = {.diff_log2 = -14, .en1_hex = "f000000d", .en2_size = 4};
    srv *s = srv_start(&sc);
    prun p;
    pk_proxy_opts o = {.max_clients = 200, .min_difficulty = 1.0 / 65536, .start_difficulty = 1.0 / 65536};
    int port = srv_port(s);
    proxy_start(&p, &o, &port, 1);
    cr_assert(wait_stat(&p, up_ready, NULL, 10), "the proxy has upstream work");

    client c;
    client_open(&c, pk_proxy_port(p.r.px));
    subscribe_authorize(&c);
    /* 200 rigs: one prefix byte, three bytes of extranonce2 left. */
    cr_assert_eq(c.en1_len, 5);
    /* The pool's extranonce1 (its session's), then the rig's prefix. */
    char e1[2 * PK_EXTRANONCE1_MAX + 1];
    pk_hex_encode(c.en1, c.en1_len, e1);
    usleep(100000);
    pthread_mutex_lock(&p.r.mu);
    cr_assert_eq(p.r.nrigs, 1);
    cr_assert_str_eq(p.r.rigs[0].extranonce1, e1);
    pthread_mutex_unlock(&p.r.mu);
    cr_assert(strncmp(e1, "f000000d", 8) == 0 || strncmp(e1, "a500000e", 8) == 0, "%s", e1);
    cr_assert_eq(c.en2_size, 3);
    cr_assert_float_eq(c.diff, 1.0 / 65536, 1e-12);

    /* Below the pool's difficulty: accepted here, not sent. */
    share sh;
    find_share(&c, 0, 1.0 / 65536, 1.0 / 16384, &sh);
    json_t *a = submit(&c, &sh, NULL);
    cr_assert(json_is_true(json_object_get(a, "result")), "a local share is accepted");
    json_decref(a);
    srv_stats ss;
    srv_stats_get(s, &ss);
    cr_assert_eq(ss.submits, 0, "nothing below the pool's difficulty goes upstream");

    /* Meeting it: forwarded, the pool's verdict comes back. */
    share up;
    find_share(&c, 1, 1.0 / 16384, 0, &up);
    a = submit(&c, &up, NULL);
    cr_assert(json_is_true(json_object_get(a, "result")), "the pool accepts the forwarded share");
    json_decref(a);
    int one = 1;
    cr_assert(srv_wait(s, srv_valid, &one, 5));
    srv_stats_get(s, &ss);
    cr_assert_eq(ss.invalid, 0);
    cr_assert_eq(ss.submits, 1);

    /* The same share again: duplicate, not sent. */
    a = submit(&c, &up, NULL);
    cr_assert_eq(error_code(a), 22, "duplicate");
    json_decref(a);
    /* A job that never was. */
    share bad = sh;
    snprintf(bad.job_id, sizeof bad.job_id, "nosuchjob");
    a = submit(&c, &bad, NULL);
    cr_assert_eq(error_code(a), 21, "unknown job");
    json_decref(a);
    /* Low difficulty: a nonce whose hash misses the rig's target. */
    share low;
    find_share(&c, 2, 1e-12, 1.0 / 65536, &low);
    a = submit(&c, &low, NULL);
    cr_assert_eq(error_code(a), 23, "low difficulty");
    json_decref(a);
    /* Wrong extranonce2 size, ntime out of range, version bits without a grant. */
    bad = sh;
    snprintf(bad.f.extranonce2, sizeof bad.f.extranonce2, "00000000");
    a = submit(&c, &bad, NULL);
    cr_assert_eq(error_code(a), 20);
    json_decref(a);
    bad = sh;
    snprintf(bad.f.ntime, sizeof bad.f.ntime, "%08x", c.job.ntime + 7201);
    a = submit(&c, &bad, NULL);
    cr_assert_eq(error_code(a), 20);
    json_decref(a);
    a = submit(&c, &sh, "00002000");
    cr_assert_eq(error_code(a), 20, "version bits outside the (empty) grant");
    json_decref(a);

    /* A clean job makes the old one stale. */
    share old;
    find_share(&c, 3, 1.0 / 65536, 0, &old);
    srv_notify(s, 1);
    wait_notifies(&c, 2);
    a = submit(&c, &old, NULL);
    cr_assert_eq(error_code(a), 21, "stale after a clean job");
    json_decref(a);

    srv_stats_get(s, &ss);
    cr_assert_eq(ss.invalid, 0, "nothing invalid ever reached the pool");
    cr_assert_eq(ss.submits, 1);
    usleep(100000);
    pk_proxy_stats st = proxy_stats(&p);
    cr_assert_eq(st.forwarded, 1);
    cr_assert_eq(st.upstream_accepted, 1);
    cr_assert_geq(st.rejected, 6);
    client_close(&c);
    proxy_stop(&p);
    srv_stop(s);
}

Test(proxy, order_is_enforced_and_version_masks_intersect)
{
    srv_cfg sc = {.diff_log2 = -14, .version_rolling = 1, .mask = 0x1fffe000};
    srv *s = srv_start(&sc);
    prun p;
    pk_proxy_opts o = {.max_clients = 100, .start_difficulty = 1.0 / 65536};
    int port = srv_port(s);
    proxy_start(&p, &o, &port, 1);
    cr_assert(wait_stat(&p, up_ready, NULL, 10));
    client c;
    client_open(&c, pk_proxy_port(p.r.px));
    share dummy;
    memset(&dummy, 0, sizeof dummy);
    snprintf(dummy.job_id, sizeof dummy.job_id, "1");
    snprintf(dummy.f.extranonce2, sizeof dummy.f.extranonce2, "000000");
    snprintf(dummy.f.ntime, sizeof dummy.f.ntime, "00000000");
    snprintf(dummy.f.nonce, sizeof dummy.f.nonce, "00000000");
    json_t *a = submit(&c, &dummy, NULL);
    cr_assert_eq(error_code(a), 25, "not subscribed");
    json_decref(a);
    /* The rig asks for a mask wider than the pool's grant: it gets the
     * intersection. */
    a = answer(&c, request(&c, "mining.configure",
                           json_pack("[[s],{s:s}]", "version-rolling", "version-rolling.mask", "00fff000")));
    json_t *res = json_object_get(a, "result");
    cr_assert(json_is_true(json_object_get(res, "version-rolling")));
    cr_assert_str_eq(json_string_value(json_object_get(res, "version-rolling.mask")), "00ffe000");
    json_decref(a);
    a = answer(&c, request(&c, "mining.subscribe", json_array()));
    take_subscribe(&c, a);
    json_decref(a);
    cr_assert_eq(c.en2_size, 3, "100 rigs: one prefix byte of the pool's four");
    a = submit(&c, &dummy, NULL);
    cr_assert_eq(error_code(a), 24, "not authorized");
    json_decref(a);
    a = answer(&c, request(&c, "mining.authorize", json_pack("[s,s]", "rig.one", "x")));
    json_decref(a);
    wait_notifies(&c, 1);
    /* Version-rolled shares: inside the mask accepted and valid upstream,
     * outside refused. */
    share sh;
    find_share(&c, 0, 1.0 / 16384, 0, &sh);
    json_t *ok = submit(&c, &sh, "00000000");
    cr_assert(json_is_true(json_object_get(ok, "result")), "%s", json_dumps(ok, 0));
    json_decref(ok);
    json_t *no = submit(&c, &sh, "01000000");
    cr_assert_eq(error_code(no), 20, "bits inside the pool's mask but outside the rig's grant");
    json_decref(no);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.invalid, 0);
    cr_assert_eq(st.mask_violations, 0);
    client_close(&c);
    proxy_stop(&p);
    srv_stop(s);
}

/* ---- powkit miners behind the proxy ---- */

typedef miner_runner mrun;

/* A powkit miner on the proxy at port (tls: stratum+ssl://, ca_file the
 * certificate the proxy shows). */
static void miner_start_tls(mrun *r, int port, const char *user, int tls, const char *ca_file)
{
    pk_miner_opts o;
    memset(&o, 0, sizeof o);
    memset(r, 0, sizeof *r);
    o.threads = 1;
    o.quiet = 1;
    o.pool.backoff_min_ms = 50;
    o.pool.backoff_max_ms = 400;
    o.pool.request_timeout_ms = 3000;
    o.pool.configure_timeout_ms = 1000;
    o.pool.ca_file = ca_file;
    miner_runner_add_pool(r, &o, port, tls, user, "x");
    char err[256];
    cr_assert_eq(miner_runner_start(r, &o, err, sizeof err), 0, "%s", err);
}

static void miner_start(mrun *r, int port, const char *user) { miner_start_tls(r, port, user, 0, NULL); }

static void miner_stop(mrun *r) { cr_assert_eq(miner_runner_stop(r), 0, "the miner saw invalid shares"); }

static int rigs_with_shares(prun *p, size_t want)
{
    pthread_mutex_lock(&p->r.mu);
    size_t n = 0;
    for (size_t i = 0; i < p->r.nrigs; i++)
        n += p->r.rigs[i].accepted > 0;
    pthread_mutex_unlock(&p->r.mu);
    return n >= want;
}

Test(proxy, powkit_miners_mine_through_it_and_every_share_is_valid_upstream)
{
    srv_cfg sc = {.diff_log2 = -6, .version_rolling = 1};
    srv *s = srv_start(&sc);
    prun p;
    pk_proxy_opts o = {.max_clients = 64, .share_rate_s = 0.5, .retarget_s = 2, .min_difficulty = 1.0 / 1024};
    int port = srv_port(s);
    proxy_start(&p, &o, &port, 1);
    cr_assert(wait_stat(&p, up_ready, NULL, 10));
    mrun m[2];
    miner_start(&m[0], pk_proxy_port(p.r.px), "rig.a");
    miner_start(&m[1], pk_proxy_port(p.r.px), "rig.b");
    double t0 = pk_now();
    while (!rigs_with_shares(&p, 2) && pk_now() - t0 < 60)
        usleep(50000);
    cr_assert(rigs_with_shares(&p, 2), "both rigs' shares are accepted and attributed to them");
    int some = 3;
    cr_assert(srv_wait(s, srv_valid, &some, 60), "shares reach the pool");
    srv_notify(s, 1);
    usleep(1500000);
    pthread_mutex_lock(&p.r.mu);
    cr_assert_eq(p.r.nrigs, 2);
    cr_assert_str_neq(p.r.rigs[0].extranonce1, p.r.rigs[1].extranonce1, "extranonce prefixes never overlap");
    int workers = (!strcmp(p.r.rigs[0].worker, "rig.a") || !strcmp(p.r.rigs[1].worker, "rig.a")) &&
                  (!strcmp(p.r.rigs[0].worker, "rig.b") || !strcmp(p.r.rigs[1].worker, "rig.b"));
    pthread_mutex_unlock(&p.r.mu);
    cr_assert(workers, "each rig's worker name is kept");
    miner_stop(&m[0]);
    miner_stop(&m[1]);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.invalid, 0, "zero invalid shares at the pool");
    cr_assert_eq(st.mask_violations, 0);
    pk_proxy_stats ps = proxy_stats(&p);
    cr_assert_eq(ps.upstream_rejected, 0);
    proxy_stop(&p);
    srv_stop(s);
}

Test(proxy, failover_moves_rigs_with_set_extranonce_without_reconnecting)
{
    srv_cfg a = {.diff_log2 = -6, .en1_hex = "aaaa0001"}, b = {.diff_log2 = -6, .en1_hex = "bbbb0002"};
    srv *sa = srv_start(&a), *sb = srv_start(&b);
    prun p;
    pk_proxy_opts o = {.max_clients = 16, .start_difficulty = 1.0 / 256};
    int ports[2] = {srv_port(sa), srv_port(sb)};
    proxy_start(&p, &o, ports, 2);
    cr_assert(wait_stat(&p, up_ready, NULL, 10));
    mrun m;
    miner_start(&m, pk_proxy_port(p.r.px), "rig.a");
    /* A rig that did not subscribe to extranonce changes. */
    client plain;
    client_open(&plain, pk_proxy_port(p.r.px));
    subscribe_authorize(&plain);
    int some = 2;
    cr_assert(srv_wait(sa, srv_valid, &some, 60), "shares reach the first pool");
    srv_stop(sa);
    cr_assert(srv_wait(sb, srv_valid, &some, 60), "the rig mines on the backup");
    pk_proxy_stats st = proxy_stats(&p);
    cr_assert_eq(st.connections, 2, "the miner never reconnected: it took mining.set_extranonce");
    while (plain.reconnects == 0) {
        json_t *msg = next_msg(&plain);
        cr_assert_not_null(msg, "the other rig is asked to reconnect");
        note_method(&plain, msg);
        json_decref(msg);
    }
    cr_assert_eq(plain.set_extranonces, 0);
    share old;
    memset(&old, 0, sizeof old);
    snprintf(old.job_id, sizeof old.job_id, "%s", plain.job.id);
    snprintf(old.f.extranonce2, sizeof old.f.extranonce2, "000000");
    snprintf(old.f.ntime, sizeof old.f.ntime, "%08x", plain.job.ntime);
    snprintf(old.f.nonce, sizeof old.f.nonce, "00000000");
    json_t *ans = submit(&plain, &old, NULL);
    cr_assert_eq(error_code(ans), 25, "no work for it until it subscribes again");
    json_decref(ans);
    client_close(&plain);
    miner_stop(&m);
    srv_stats bs;
    srv_stats_get(sb, &bs);
    cr_assert_eq(bs.invalid, 0);
    proxy_stop(&p);
    srv_stop(sb);
}

Test(proxy, a_pool_with_too_little_extranonce2_space_is_refused)
{
    srv_cfg sc = {.diff_log2 = -6, .en2_size = 2, .en2_size_set = 1};
    srv *s = srv_start(&sc);
    prun p;
    pk_proxy_opts o = {.max_clients = 1024}; /* two prefix bytes: none left for the rigs */
    int port = srv_port(s);
    proxy_start(&p, &o, &port, 1);
    double t0 = pk_now();
    int fatal = 0;
    while (!fatal && pk_now() - t0 < 10) {
        pthread_mutex_lock(&p.r.mu);
        fatal = p.r.fatal;
        pthread_mutex_unlock(&p.r.mu);
        usleep(10000);
    }
    cr_assert(fatal, "the proxy says it cannot serve");
    cr_assert(strstr(p.r.fatal_why, "--max-clients"), "%s", p.r.fatal_why);
    proxy_stop(&p);
    srv_stop(s);
}

/* A rig that never reads: its queue fills, it is dropped; the others
 * go on. */
Test(proxy, bad_rigs_are_dropped_and_the_others_unaffected)
{
    srv_cfg sc = {.diff_log2 = -14};
    srv *s = srv_start(&sc);
    prun p;
    pk_proxy_opts o = {.max_clients = 64, .start_difficulty = 1.0 / 65536, .max_write_queue = 32768,
                       .max_line = 1024, .write_stall_s = 2};
    int port = srv_port(s);
    proxy_start(&p, &o, &port, 1);
    cr_assert(wait_stat(&p, up_ready, NULL, 10));
    client good;
    client_open(&good, pk_proxy_port(p.r.px));
    subscribe_authorize(&good);

    /* Garbage: answered with errors, then dropped. */
    client g;
    client_open(&g, pk_proxy_port(p.r.px));
    send_raw(&g, "this is not json\n");
    json_t *m = next_msg(&g);
    cr_assert_eq(error_code(m), 20, "a malformed line is answered");
    json_decref(m);
    /* More than it tolerates, in one write (it may drop the rig before a
     * second write could land). */
    char many[40 * 17 + 1] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "this is not json\n");
    send_raw(&g, many);
    while ((m = next_msg(&g)) != NULL) /* answers, then the end */
        json_decref(m);
    client_close(&g);

    /* An oversized line: dropped. */
    client big;
    client_open(&big, pk_proxy_port(p.r.px));
    char line[4096];
    memset(line, 'x', sizeof line - 2);
    line[sizeof line - 2] = '\n';
    line[sizeof line - 1] = 0;
    send_raw(&big, line);
    cr_assert_null(next_msg(&big), "closed");
    client_close(&big);

    /* A rig that never reads, asking for answers: dropped once its queue
     * is full or nothing it is sent moves for write_stall_s. */
    for (int mode = 0; mode < 2; mode++) {
    int deaf = proxy_runner_connect(pk_proxy_port(p.r.px));
    if (mode == 1) {
        /* A tiny receive buffer: TCP itself can stall both ways then, so
         * the queue may never fill; the stall timer catches it. */
        int small = 4096;
        setsockopt(deaf, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    const char *ping = "{\"id\":1,\"method\":\"mining.ping\",\"params\":[]}\n";
    size_t plen = strlen(ping);
    char chunk[64 * 64];
    for (int i = 0; i < 64; i++)
        memcpy(chunk + i * plen, ping, plen);
    size_t two = 2;
    cr_assert(wait_stat(&p, rigs_at_least, &two, 10), "the good rig and the deaf one");
    /* Dropped: the proxy counts one rig again (a reset may not reach a
     * peer whose own buffers are full, so the socket is not the witness). */
    int dropped = 0;
    double t0 = pk_now();
    while (!dropped && pk_now() - t0 < 30) {
        ssize_t w = send(deaf, chunk, 64 * plen, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            usleep(10000);
        dropped = proxy_stats(&p).rigs == 1;
    }
    cr_assert(dropped, "the rig that does not read is dropped (mode %d)", mode);
    close(deaf);
    }

    /* The good rig still gets jobs and its shares are accepted. */
    srv_notify(s, 1);
    wait_notifies(&good, 2);
    share sh;
    find_share(&good, 0, 1.0 / 65536, 0, &sh);
    json_t *a = submit(&good, &sh, NULL);
    cr_assert(json_is_true(json_object_get(a, "result")));
    json_decref(a);
    client_close(&good);
    proxy_stop(&p);
    srv_stop(s);
}

/* 1,000 rigs subscribed and authorized, a notify every second: each gets
 * every job. */
Test(proxy, a_thousand_rigs_get_every_job, .timeout = 240)
{
    enum { N = 1000, JOBS = 3 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * N + 200) {
        rl.rlim_cur = rl.rlim_max < 2 * N + 200 ? rl.rlim_max : 2 * N + 200;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < 2 * N + 200)
            cr_skip_test("needs %d open files, may have %llu", 2 * N + 200, (unsigned long long)rl.rlim_cur);
    }
    srv_cfg sc = {.diff_log2 = -6};
    srv *s = srv_start(&sc);
    prun p;
    pk_proxy_opts o = {.max_clients = 4096, .max_conn_per_min = 100000};
    int port = srv_port(s);
    proxy_start(&p, &o, &port, 1);
    cr_assert(wait_stat(&p, up_ready, NULL, 10));
    int *fd = malloc(N * sizeof *fd), *seen = calloc(N, sizeof *seen);
    char **buf = calloc(N, sizeof *buf);
    size_t *len = calloc(N, sizeof *len);
    struct pollfd *pf = calloc(N, sizeof *pf);
    const char *hello = "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n"
                        "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"rig\",\"x\"]}\n";
    for (int i = 0; i < N; i++) {
        fd[i] = proxy_runner_connect(pk_proxy_port(p.r.px));
        cr_assert_geq(fd[i], 0, "rig %d connects", i);
        cr_assert_eq(write(fd[i], hello, strlen(hello)), (ssize_t)strlen(hello));
        buf[i] = malloc(65536);
        pf[i].fd = fd[i];
        pf[i].events = POLLIN;
    }
    size_t want = N;
    cr_assert(wait_stat(&p, rigs_at_least, &want, 30), "every rig connected");
    /* Counts "mining.notify" lines per rig while jobs come every second. */
    double t0 = pk_now(), last_job = t0;
    int jobs = 0, done = 0;
    while (pk_now() - t0 < 60 && done < N) {
        if (jobs < JOBS && pk_now() - last_job >= 1) {
            srv_notify(s, jobs % 2);
            jobs++;
            last_job = pk_now();
        }
        if (poll(pf, N, 100) <= 0)
            continue;
        for (int i = 0; i < N; i++) {
            if (!(pf[i].revents & POLLIN))
                continue;
            ssize_t k = read(fd[i], buf[i] + len[i], 65535 - len[i]);
            cr_assert_gt(k, 0, "rig %d still connected", i);
            len[i] += (size_t)k;
            buf[i][len[i]] = 0;
            char *nl;
            while ((nl = strchr(buf[i], '\n')) != NULL) {
                *nl = 0;
                if (strstr(buf[i], "\"mining.notify\"") && ++seen[i] == JOBS + 1)
                    done++;
                size_t used = (size_t)(nl + 1 - buf[i]);
                memmove(buf[i], nl + 1, len[i] - used + 1);
                len[i] -= used;
            }
        }
    }
    cr_assert_eq(done, N, "%d of %d rigs got the first job and %d more", done, N, JOBS);
    for (int i = 0; i < N; i++) {
        close(fd[i]);
        free(buf[i]);
    }
    free(fd), free(seen), free(buf), free(len), free(pf);
    proxy_stop(&p);
    srv_stop(s);
}

/* The command: runs against the pool, says its rigs and rates on stop,
 * serves /status, refuses a pool it cannot split. */
Test(proxy, the_command_runs_reports_and_refuses_what_it_cannot_do, .timeout = 120)
{
    srv_cfg sc = {.diff_log2 = -6};
    srv *s = srv_start(&sc);
    char cmd[1024], out[16384];
    snprintf(cmd, sizeof cmd,
             "'%s' proxy -o stratum+tcp://127.0.0.1:%d -u farm --listen 127.0.0.1:0 --duration 2 2>&1", POWKIT_CLI,
             srv_port(s));
    int st = tu_run(cmd, out, sizeof out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    cr_assert(strstr(out, "rigs connect to port"), "%s", out);
    cr_assert(strstr(out, "proxy: rigs 0, "), "the status line: %s", out);
    srv_stop(s);

    srv_cfg small = {.diff_log2 = -6, .en2_size = 2, .en2_size_set = 1};
    s = srv_start(&small);
    snprintf(cmd, sizeof cmd,
             "'%s' proxy -o stratum+tcp://127.0.0.1:%d -u farm --listen 127.0.0.1:0 --max-clients 1000 "
             "--duration 20 2>&1",
             POWKIT_CLI, srv_port(s));
    st = tu_run(cmd, out, sizeof out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", out);
    cr_assert(strstr(out, "--max-clients"), "%s", out);
    srv_stop(s);

    snprintf(cmd, sizeof cmd, "'%s' proxy --listen 127.0.0.1:0 2>&1", POWKIT_CLI);
    st = tu_run(cmd, out, sizeof out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "no pool: %s", out);
}

/* --pass-workers: each rig's worker is authorized at the pool as
 * ACCOUNT.WORKER before the rig is answered, and its shares go under it. */
Test(proxy, workers_are_passed_through_when_asked)
{
    srv_cfg sc = {.diff_log2 = -14};
    srv *s = srv_start(&sc);
    prun p;
    pk_proxy_opts o = {.max_clients = 100, .start_difficulty = 1.0 / 65536, .pass_workers = 1};
    int port = srv_port(s);
    proxy_start(&p, &o, &port, 1);
    cr_assert(wait_stat(&p, up_ready, NULL, 10));
    client c;
    client_open(&c, pk_proxy_port(p.r.px));
    subscribe_authorize(&c); /* as "rig.one" */
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.authorizes, 2, "the proxy's account, then the rig's worker");
    cr_assert_str_eq(st.user, "farm.account.one");
    /* A second rig with the same worker name: no second authorize. */
    client d;
    client_open(&d, pk_proxy_port(p.r.px));
    subscribe_authorize(&d);
    srv_stats_get(s, &st);
    cr_assert_eq(st.authorizes, 2);
    /* The pool sends a clean job at every authorize: a share on a job
     * that went stale meanwhile is mined again on the next. */
    json_t *a = NULL;
    for (int tries = 0; tries < 4; tries++) {
        share up;
        find_share(&c, (uint64_t)tries, 1.0 / 16384, 0, &up);
        json_decref(a);
        a = submit(&c, &up, NULL);
        if (error_code(a) != 21)
            break;
        if (strcmp(up.job_id, c.job.id) == 0) /* the newer job is not here yet */
            wait_notifies(&c, c.notifies + 1);
    }
    cr_assert(json_is_true(json_object_get(a, "result")), "forwarded under the worker and accepted: %s",
              json_dumps(a, JSON_COMPACT));
    json_decref(a);
    int one = 1;
    cr_assert(srv_wait(s, srv_valid, &one, 5));
    srv_stats_get(s, &st);
    cr_assert_eq(st.invalid, 0);
    client_close(&c);
    client_close(&d);
    proxy_stop(&p);
    srv_stop(s);
}

/* --listen-cert/--listen-key: a powkit miner over stratum+ssl:// to the
 * proxy, its certificate checked; shares valid at the pool. */
Test(proxy, rigs_connect_over_tls)
{
    char cert[] = "/tmp/powkit-proxy-cert-XXXXXX", key[] = "/tmp/powkit-proxy-key-XXXXXX";
    int cf = mkstemp(cert), kf = mkstemp(key);
    cr_assert(cf >= 0 && kf >= 0);
    close(cf), close(kf);
    cr_assert_eq(srv_make_cert(cert, key), 0);
    srv_cfg sc = {.diff_log2 = -6};
    srv *s = srv_start(&sc);
    prun p;
    pk_proxy_opts o = {.max_clients = 16, .start_difficulty = 1.0 / 256, .listen_cert = cert, .listen_key = key};
    int port = srv_port(s);
    proxy_start(&p, &o, &port, 1);
    cr_assert(wait_stat(&p, up_ready, NULL, 10));
    mrun m;
    miner_start_tls(&m, pk_proxy_port(p.r.px), "rig.tls", 1, cert);
    int some = 2;
    cr_assert(srv_wait(s, srv_valid, &some, 60), "shares from the TLS rig reach the pool");
    miner_stop(&m);
    /* A plain-text client is not a TLS rig: dropped, the proxy goes on. */
    client c;
    client_open(&c, pk_proxy_port(p.r.px));
    send_raw(&c, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n");
    cr_assert_null(next_msg(&c), "no Stratum answer in the clear");
    client_close(&c);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.invalid, 0);
    proxy_stop(&p);
    srv_stop(s);
    unlink(cert);
    unlink(key);
}

/* Failback: on the backup, the first pool comes back on its port; the
 * proxy returns to it once it has stayed up, the miner following with
 * set_extranonce. */
Test(proxy, it_fails_back_to_the_first_pool_when_it_returns)
{
    srv_cfg a = {.diff_log2 = -6, .en1_hex = "aaaa0001"}, b = {.diff_log2 = -6, .en1_hex = "bbbb0002"};
    srv *sa = srv_start(&a), *sb = srv_start(&b);
    prun p;
    pk_proxy_opts o = {.max_clients = 16, .start_difficulty = 1.0 / 256, .failback_stable_s = 1};
    int ports[2] = {srv_port(sa), srv_port(sb)};
    proxy_start(&p, &o, ports, 2);
    cr_assert(wait_stat(&p, up_ready, NULL, 10));
    mrun m;
    miner_start(&m, pk_proxy_port(p.r.px), "rig.a");
    int some = 2;
    cr_assert(srv_wait(sa, srv_valid, &some, 60), "shares reach the first pool");
    srv_stop(sa);
    cr_assert(srv_wait(sb, srv_valid, &some, 60), "the rig mines on the backup");
    srv_cfg a2 = a;
    a2.port = ports[0];
    srv *sa2 = srv_start(&a2);
    cr_assert(srv_wait(sa2, srv_valid, &some, 60), "back on the first pool");
    pk_proxy_stats st = proxy_stats(&p);
    char want[64];
    snprintf(want, sizeof want, ":%d", ports[0]);
    cr_assert(strstr(st.upstream, want), "%s", st.upstream);
    cr_assert_eq(st.connections, 1, "the miner never reconnected");
    miner_stop(&m);
    srv_stats s1, s2;
    srv_stats_get(sb, &s1);
    srv_stats_get(sa2, &s2);
    cr_assert_eq(s1.invalid + s2.invalid, 0);
    proxy_stop(&p);
    srv_stop(sb);
    srv_stop(sa2);
}
