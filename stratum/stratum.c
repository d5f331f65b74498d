/* Stratum v1 client connection (see include/powkit/stratum.h). */
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/error.h"
#include "powkit/log.h"
#include "powkit/stratum.h"
#include "powkit/util.h"
#include "stratum_internal.h"

#ifndef POWKIT_VERSION
#define POWKIT_VERSION "dev"
#endif

/* ---- URL ---- */

static int parse_url(pk_stratum *s, const char *url, char *err, size_t errlen)
{
    const char *rest;
    if (strncmp(url, "stratum+tcp://", 14) == 0) {
        rest = url + 14;
        s->tls_wanted = 0;
    } else if (strncmp(url, "stratum+ssl://", 14) == 0 || strncmp(url, "stratum+tls://", 14) == 0) {
        rest = url + 14;
        s->tls_wanted = 1;
    } else {
        snprintf(err, errlen, "pool URL '%s' must start with stratum+tcp:// or stratum+ssl://", url);
        return PK_EINVAL;
    }
    const char *host_end, *port;
    if (*rest == '[') { /* [IPv6]:port */
        host_end = strchr(rest, ']');
        if (!host_end || host_end[1] != ':') {
            snprintf(err, errlen, "pool URL '%s': bad [IPv6]:port", url);
            return PK_EINVAL;
        }
        port = host_end + 2;
        rest++;
    } else {
        host_end = strrchr(rest, ':');
        if (!host_end) {
            snprintf(err, errlen, "pool URL '%s' has no port", url);
            return PK_EINVAL;
        }
        port = host_end + 1;
    }
    size_t hl = (size_t)(host_end - rest);
    char *end;
    long p = strtol(port, &end, 10);
    if (hl == 0 || hl >= sizeof s->host || p < 1 || p > 65535 || (*end && *end != '/')) {
        snprintf(err, errlen, "pool URL '%s': bad host or port", url);
        return PK_EINVAL;
    }
    memcpy(s->host, rest, hl);
    s->host[hl] = 0;
    snprintf(s->port, sizeof s->port, "%ld", p);
    return PK_OK;
}

int pk_stratum_new(uv_loop_t *loop, const pk_stratum_opts *o, const pk_stratum_cb *cb,
                   pk_stratum **out, char *err, size_t errlen)
{
    *out = NULL;
    pk_stratum *s = calloc(1, sizeof *s);
    if (!s)
        return PK_ENOMEM;
    s->loop = loop;
    s->o = *o;
    s->cb = *cb;
    if (!o->url || strlen(o->url) >= sizeof s->url || parse_url(s, o->url, err, errlen)) {
        if (o->url && strlen(o->url) >= sizeof s->url)
            snprintf(err, errlen, "pool URL too long");
        free(s);
        return PK_EINVAL;
    }
    if (s->tls_wanted && !o->tls) {
        snprintf(err, errlen, "pool URL '%s' wants TLS but no TLS context was given", o->url);
        free(s);
        return PK_EINVAL;
    }
    snprintf(s->url, sizeof s->url, "%s", o->url);
    snprintf(s->user, sizeof s->user, "%s", o->user ? o->user : "");
    snprintf(s->pass, sizeof s->pass, "%s", o->pass ? o->pass : "x");
    s->o.url = s->url;
    if (!s->o.connect_timeout_ms)
        s->o.connect_timeout_ms = 10000;
    if (!s->o.request_timeout_ms)
        s->o.request_timeout_ms = 30000;
    if (!s->o.configure_timeout_ms)
        s->o.configure_timeout_ms = 5000;
    if (!s->o.max_line)
        s->o.max_line = 64 * 1024;
    s->line = malloc(s->o.max_line);
    if (!s->line) {
        free(s);
        return PK_ENOMEM;
    }
    s->difficulty = 1.0;
    s->reconnect_hint_ms = -1;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    *out = s;
    return PK_OK;
}

/* ---- writing ---- */

typedef struct wreq {
    uv_write_t w;
    char data[];
} wreq;

static void write_done(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows up as a read error or EOF too */
    free(w);
}

static void raw_write(pk_stratum *s, const void *data, size_t len)
{
    if (!s->c || len == 0)
        return;
    wreq *r = malloc(sizeof *r + len);
    if (!r)
        return;
    memcpy(r->data, data, len);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)len);
    if (uv_write(&r->w, (uv_stream_t *)&s->c->tcp, &b, 1, write_done) != 0)
        free(r);
}

static void flush_tls(pk_stratum *s)
{
    char buf[16384];
    size_t n;
    while (s->tls && (n = pk_tls_take_output(s->tls, buf, sizeof buf)) > 0)
        raw_write(s, buf, n);
}

static void send_json(pk_stratum *s, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return;
    size_t len = strlen(text);
    char *line = malloc(len + 2);
    if (line) {
        memcpy(line, text, len);
        line[len] = '\n';
        pk_log(PK_LOG_DEBUG, "%s > %.*s", s->host, (int)(len > 300 ? 300 : len), text);
        if (s->tls) {
            pk_tls_write(s->tls, line, len + 1);
            flush_tls(s);
        } else {
            raw_write(s, line, len + 1);
        }
        free(line);
    }
    free(text);
}

uint64_t pk_st_request(pk_stratum *s, const char *method, json_t *params, int kind, uint64_t tag)
{
    uint64_t id = ++s->next_id;
    if (s->npend < MAX_PENDING)
        s->pend[s->npend++] = (pending){id, kind, tag, pk_st_now_ms(s)};
    send_json(s, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "method", method, "params", params));
    return id;
}

void pk_st_reply(pk_stratum *s, json_t *id, json_t *result, json_t *error)
{
    send_json(s, json_pack("{s:O, s:o, s:o}", "id", id, "result", result ? result : json_null(),
                           "error", error ? error : json_null()));
}

/* ---- connection teardown ---- */

static void conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void drop_conn(pk_stratum *s)
{
    if (s->c) {
        s->c->s = NULL;
        s->c->tcp.data = s->c;
        uv_close((uv_handle_t *)&s->c->tcp, conn_closed);
        s->c = NULL;
    }
    pk_tls_free(s->tls);
    s->tls = NULL;
    if (s->addrs) {
        uv_freeaddrinfo(s->addrs);
        s->addrs = s->next_addr = NULL;
    }
    uv_timer_stop(&s->timer);
}

void pk_st_drop_held(pk_stratum *s)
{
    for (size_t i = 0; i < s->nheld; i++) {
        pk_pool_job_free(s->held[i]);
        free(s->held[i]);
    }
    s->nheld = 0;
}

static void reset_session(pk_stratum *s)
{
    s->line_len = 0;
    s->npend = 0;
    s->subscribed = s->authorized = s->configured = 0;
    pk_st_drop_held(s);
}

void pk_st_fail(pk_stratum *s, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    /* Submits in flight will never be answered now. */
    for (size_t i = 0; i < s->npend; i++) {
        if (s->pend[i].kind == REQ_SUBMIT && s->cb.submit_result)
            s->cb.submit_result(s, s->pend[i].tag, 0, "connection lost before the answer", s->cb.ud);
        if (s->pend[i].kind == REQ_WORKER && s->cb.worker_result)
            s->cb.worker_result(s, s->pend[i].tag, 0, "connection lost before the answer", s->cb.ud);
    }
    drop_conn(s);
    reset_session(s);
    int was = s->state;
    s->state = PK_STRATUM_IDLE;
    if (was != PK_STRATUM_IDLE && s->cb.down && !s->closing)
        s->cb.down(s, why, s->cb.ud);
}

void pk_stratum_disconnect(pk_stratum *s, const char *reason)
{
    if (s->state != PK_STRATUM_IDLE)
        pk_st_fail(s, "%s", reason);
}

static void timer_closed(uv_handle_t *h)
{
    pk_stratum *s = h->data;
    if (s->have_last_job)
        pk_pool_job_free(&s->last_job);
    pk_st_drop_held(s);
    free(s->line);
    void (*cb)(pk_stratum *, void *) = s->closed_cb;
    void *ud = s->cb.ud;
    free(s);
    if (cb)
        cb(NULL, ud); /* s is gone: the callback gets only its user pointer */
}

static void gai_cancelled_close(pk_stratum *s);

void pk_stratum_close(pk_stratum *s, void (*closed)(pk_stratum *s, void *ud))
{
    s->closing = 1;
    s->closed_cb = closed;
    drop_conn(s);
    s->state = PK_STRATUM_IDLE;
    if (s->gai_busy) {
        uv_cancel((uv_req_t *)&s->gai); /* its callback finishes the close */
        return;
    }
    gai_cancelled_close(s);
}

static void gai_cancelled_close(pk_stratum *s)
{
    uv_close((uv_handle_t *)&s->timer, timer_closed);
}

/* ---- libuv callbacks ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static _Thread_local char rbuf[65536]; /* the loop is one thread; data is consumed before the next read */
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = stream->data;
    pk_stratum *s = c->s;
    if (!s)
        return;
    if (nread < 0) {
        pk_st_fail(s, "%s", nread == UV_EOF ? "pool closed the connection" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0)
        return;
    /* ACK at once: a pool with Nagle on holds its next small write (the
     * next notify) until our ACK, and a delayed ACK costs ~40 ms.  Linux
     * clears the flag after use, so it is set again after every read. */
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)stream, &fd) == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
    if (!s->tls) {
        pk_st_take_bytes(s, buf->base, (size_t)nread);
        return;
    }
    char err[256], plain[16384];
    pk_tls_feed(s->tls, buf->base, (size_t)nread);
    if (s->state == PK_STRATUM_HANDSHAKE) {
        int hs = pk_tls_handshake(s->tls, err, sizeof err);
        flush_tls(s);
        if (hs < 0) {
            pk_st_fail(s, "TLS with %s: %s", s->host, err);
            return;
        }
        if (hs == 0)
            return;
        pk_log(PK_LOG_INFO, "pool %s: TLS established", s->host);
        pk_st_start_session(s);
    }
    for (;;) {
        long n = pk_tls_read(s->tls, plain, sizeof plain, err, sizeof err);
        if (n < 0) {
            pk_st_fail(s, "%s", err);
            return;
        }
        if (n == 0)
            break;
        if (pk_st_take_bytes(s, plain, (size_t)n))
            return;
    }
    flush_tls(s);
}

static void try_next_addr(pk_stratum *s);

static void connect_cb(uv_connect_t *req, int status)
{
    conn *c = req->data;
    pk_stratum *s = c->s;
    if (!s)
        return;
    if (status < 0) {
        pk_log(PK_LOG_DEBUG, "pool %s: connect: %s", s->host, uv_strerror(status));
        /* Next address, on a fresh handle. */
        c->s = NULL;
        c->tcp.data = c;
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
        s->c = NULL;
        if (s->next_addr) {
            try_next_addr(s);
            return;
        }
        pk_st_fail(s, "cannot connect to %s:%s: %s", s->host, s->port, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    c->tcp.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (s->tls_wanted) {
        s->state = PK_STRATUM_HANDSHAKE;
        s->tls = pk_tls_new(s->o.tls, s->host);
        if (!s->tls) {
            pk_st_fail(s, "TLS session setup failed");
            return;
        }
        char err[256];
        if (pk_tls_handshake(s->tls, err, sizeof err) < 0) {
            pk_st_fail(s, "TLS with %s: %s", s->host, err);
            return;
        }
        flush_tls(s);
    } else {
        pk_st_start_session(s);
    }
}

static void try_next_addr(pk_stratum *s)
{
    struct addrinfo *ai = s->next_addr;
    s->next_addr = ai->ai_next;
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        pk_st_fail(s, "out of memory");
        return;
    }
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    s->c = c;
    s->state = PK_STRATUM_CONNECTING;
    int rc = uv_tcp_connect(&c->creq, &c->tcp, ai->ai_addr, connect_cb);
    if (rc) {
        c->s = NULL;
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
        s->c = NULL;
        if (s->next_addr)
            try_next_addr(s);
        else
            pk_st_fail(s, "cannot connect to %s:%s: %s", s->host, s->port, uv_strerror(rc));
    }
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    pk_stratum *s = req->data;
    s->gai_busy = 0;
    if (s->closing) {
        if (res)
            uv_freeaddrinfo(res);
        gai_cancelled_close(s);
        return;
    }
    if (status < 0 || !res) {
        pk_st_fail(s, "cannot resolve %s: %s", s->host, uv_strerror(status));
        return;
    }
    s->addrs = s->next_addr = res;
    try_next_addr(s);
}

static void timer_cb(uv_timer_t *t)
{
    pk_stratum *s = t->data;
    uint64_t now = pk_st_now_ms(s);
    if ((s->state == PK_STRATUM_CONNECTING || s->state == PK_STRATUM_HANDSHAKE ||
         s->state == PK_STRATUM_RESOLVING) &&
        now - s->phase_started_ms > s->o.connect_timeout_ms) {
        pk_st_fail(s, "no connection to %s:%s within %u ms", s->host, s->port, s->o.connect_timeout_ms);
        return;
    }
    for (size_t i = 0; i < s->npend;) {
        pending *p = &s->pend[i];
        unsigned limit = p->kind == REQ_CONFIGURE ? s->o.configure_timeout_ms : s->o.request_timeout_ms;
        if (now - p->sent_ms <= limit) {
            i++;
            continue;
        }
        pending dead = *p;
        s->pend[i] = s->pend[--s->npend];
        switch (dead.kind) {
        case REQ_SUBSCRIBE:
        case REQ_AUTHORIZE:
            pk_st_fail(s, "pool did not answer mining.%s within %u ms",
                 dead.kind == REQ_SUBSCRIBE ? "subscribe" : "authorize", limit);
            return;
        case REQ_CONFIGURE:
            s->configured = 1; /* silence means no extensions */
            pk_log(PK_LOG_INFO, "pool %s: no answer to mining.configure: no version rolling", s->host);
            break;
        case REQ_SUBMIT:
            if (s->cb.submit_result)
                s->cb.submit_result(s, dead.tag, 0, "no answer in time", s->cb.ud);
            break;
        case REQ_WORKER:
            if (s->cb.worker_result)
                s->cb.worker_result(s, dead.tag, 0, "no answer in time", s->cb.ud);
            break;
        default:
            break;
        }
    }
}

int pk_stratum_connect(pk_stratum *s)
{
    if (s->state != PK_STRATUM_IDLE || s->closing || s->gai_busy)
        return PK_EINVAL;
    reset_session(s);
    s->reconnect_hint_ms = -1;
    s->state = PK_STRATUM_RESOLVING;
    s->phase_started_ms = pk_st_now_ms(s);
    uv_timer_start(&s->timer, timer_cb, 250, 250);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    s->gai.data = s;
    int rc = uv_getaddrinfo(s->loop, &s->gai, gai_cb, s->host, s->port, &hints);
    if (rc) {
        pk_st_fail(s, "cannot resolve %s: %s", s->host, uv_strerror(rc));
        return PK_OK;
    }
    s->gai_busy = 1;
    return PK_OK;
}

int pk_stratum_submit(pk_stratum *s, const char *job_id, const pk_submit_fields *f, uint64_t tag)
{
    return pk_stratum_submit_as(s, s->user, job_id, f, tag);
}

int pk_stratum_authorize_worker(pk_stratum *s, const char *user, const char *pass, uint64_t tag)
{
    if (s->state != PK_STRATUM_READY)
        return PK_EAGAIN;
    pk_st_request(s, "mining.authorize", json_pack("[s,s]", user, pass ? pass : "x"), REQ_WORKER, tag);
    return PK_OK;
}

int pk_stratum_submit_as(pk_stratum *s, const char *user, const char *job_id, const pk_submit_fields *f,
                         uint64_t tag)
{
    if (s->state != PK_STRATUM_READY)
        return PK_EAGAIN;
    json_t *p = json_pack("[s,s,s,s,s]", user, job_id, f->extranonce2, f->ntime, f->nonce);
    if (s->version_mask)
        json_array_append_new(p, json_string(f->version_bits));
    pk_st_request(s, "mining.submit", p, REQ_SUBMIT, tag);
    return PK_OK;
}

pk_stratum_state pk_stratum_get_state(const pk_stratum *s) { return s->state; }
const char *pk_stratum_url(const pk_stratum *s) { return s->url; }
double pk_stratum_difficulty(const pk_stratum *s) { return s->difficulty; }
uint32_t pk_stratum_version_mask(const pk_stratum *s) { return s->version_mask; }
int pk_stratum_resumed(const pk_stratum *s) { return s->resumed; }
uint64_t pk_stratum_session(const pk_stratum *s) { return s->session; }
long pk_stratum_reconnect_hint(const pk_stratum *s) { return s->reconnect_hint_ms; }

const char *pk_stratum_host(const pk_stratum *s)
{
    static _Thread_local char buf[300];
    snprintf(buf, sizeof buf, "%s:%s", s->host, s->port);
    return buf;
}

void pk_stratum_begin_offline_session(pk_stratum *s)
{
    reset_session(s);
    s->next_id = 0;
    pk_st_start_session(s);
}

void pk_stratum_feed(pk_stratum *s, const char *data, size_t len)
{
    if (s->state != PK_STRATUM_IDLE)
        pk_st_take_bytes(s, data, len);
}
