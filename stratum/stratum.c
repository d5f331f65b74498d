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

enum req_kind { REQ_CONFIGURE = 1, REQ_SUBSCRIBE, REQ_AUTHORIZE, REQ_EXTRANONCE, REQ_SUGGEST, REQ_SUBMIT, REQ_WORKER };

typedef struct pending {
    uint64_t id;
    int kind;
    uint64_t tag;
    uint64_t sent_ms;
} pending;

#define MAX_PENDING 256
#define PK_STRATUM_HELD_MAX 8

/* One connection attempt; freed once its TCP handle is closed, so late
 * callbacks of a dead attempt find it detached (c->s == NULL). */
typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    pk_stratum *s;
} conn;

struct pk_stratum {
    uv_loop_t *loop;
    pk_stratum_opts o;
    pk_stratum_cb cb;
    char url[512], host[256], port[16], user[256], pass[256];
    int tls_wanted;
    pk_stratum_state state;

    uv_getaddrinfo_t gai;
    int gai_busy;
    struct addrinfo *addrs, *next_addr;
    conn *c;
    pk_tls *tls;
    uv_timer_t timer;
    uint64_t phase_started_ms;

    char *line;
    size_t line_len;

    uint64_t next_id;
    pending pend[MAX_PENDING];
    size_t npend;

    /* session */
    char session_id[128];
    uint8_t en1[PK_EXTRANONCE1_MAX], prev_en1[PK_EXTRANONCE1_MAX];
    size_t en1_len, prev_en1_len, en2_size;
    int subscribed, authorized, configured, resumed;
    double difficulty;
    uint32_t version_mask;
    long reconnect_hint_ms;
    pk_pool_job last_job;
    int have_last_job;
    /* Sessions: a number that changes whenever a subscribe is answered with
     * a session that is not the previous one resumed.  Jobs carry it. */
    uint64_t session;
    /* Jobs that came before the subscribe answer (some pools send notify
     * first): held until the session's extranonce is known. */
    pk_pool_job *held[PK_STRATUM_HELD_MAX];
    size_t nheld;

    void (*closed_cb)(pk_stratum *s, void *ud);
    int closing;
};

static uint64_t now_ms(pk_stratum *s) { return uv_now(s->loop); }

static void fail(pk_stratum *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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

static uint64_t request(pk_stratum *s, const char *method, json_t *params, int kind, uint64_t tag)
{
    uint64_t id = ++s->next_id;
    if (s->npend < MAX_PENDING)
        s->pend[s->npend++] = (pending){id, kind, tag, now_ms(s)};
    send_json(s, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "method", method, "params", params));
    return id;
}

static void reply(pk_stratum *s, json_t *id, json_t *result, json_t *error)
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

static void drop_held(pk_stratum *s)
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
    drop_held(s);
}

static void fail(pk_stratum *s, const char *fmt, ...)
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
        fail(s, "%s", reason);
}

static void timer_closed(uv_handle_t *h)
{
    pk_stratum *s = h->data;
    if (s->have_last_job)
        pk_pool_job_free(&s->last_job);
    drop_held(s);
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

/* ---- protocol ---- */

static void start_session(pk_stratum *s)
{
    s->state = PK_STRATUM_SUBSCRIBING;
    s->phase_started_ms = now_ms(s);
    s->configured = 0;
    s->version_mask = 0;
    json_t *ext = json_array(), *params = json_object();
    if (!s->o.no_version_rolling) {
        json_array_append_new(ext, json_string("version-rolling"));
        json_object_set_new(params, "version-rolling.mask", json_string("1fffe000"));
        json_object_set_new(params, "version-rolling.min-bit-count", json_integer(2));
    }
    if (!s->o.no_extranonce)
        json_array_append_new(ext, json_string("subscribe-extranonce"));
    if (json_array_size(ext) > 0)
        request(s, "mining.configure", json_pack("[o,o]", ext, params), REQ_CONFIGURE, 0);
    else {
        json_decref(ext);
        json_decref(params);
        s->configured = 1;
    }
    json_t *sub = json_pack("[s]", "powkit/" POWKIT_VERSION);
    if (s->session_id[0])
        json_array_append_new(sub, json_string(s->session_id));
    request(s, "mining.subscribe", sub, REQ_SUBSCRIBE, 0);
    request(s, "mining.authorize", json_pack("[s,s]", s->user, s->pass), REQ_AUTHORIZE, 0);
    if (!s->o.no_extranonce)
        request(s, "mining.extranonce.subscribe", json_array(), REQ_EXTRANONCE, 0);
    if (s->o.suggest_difficulty > 0)
        request(s, "mining.suggest_difficulty", json_pack("[f]", s->o.suggest_difficulty),
                REQ_SUGGEST, 0);
}

static void maybe_ready(pk_stratum *s)
{
    if (s->state == PK_STRATUM_SUBSCRIBING && s->subscribed && s->authorized) {
        s->state = PK_STRATUM_READY;
        pk_log(PK_LOG_INFO, "pool %s: ready (extranonce1 %zu bytes, extranonce2 %zu bytes%s%s)",
               s->host, s->en1_len, s->en2_size, s->version_mask ? ", version rolling" : "",
               s->resumed ? ", session resumed" : "");
        if (s->cb.ready)
            s->cb.ready(s, s->cb.ud);
    }
}

static void emit_job(pk_stratum *s, pk_pool_job *job)
{
    memcpy(job->extranonce1, s->en1, s->en1_len);
    job->extranonce1_len = s->en1_len;
    job->extranonce2_size = s->en2_size;
    job->difficulty = s->difficulty;
    job->version_mask = s->version_mask;
    job->session = s->session;
    if (s->have_last_job)
        pk_pool_job_free(&s->last_job);
    s->have_last_job = pk_pool_job_copy(&s->last_job, job) == PK_OK;
    if (s->cb.job)
        s->cb.job(s, job, s->cb.ud);
    else
        pk_pool_job_free(job);
}

static int parse_en1(const json_t *v, uint8_t *out, size_t *len)
{
    if (!json_is_string(v) || json_string_length(v) % 2 ||
        json_string_length(v) / 2 > PK_EXTRANONCE1_MAX)
        return -1;
    *len = json_string_length(v) / 2;
    return pk_hex_decode(json_string_value(v), out, *len);
}

static const char *error_text(const json_t *error, char *buf, size_t len)
{
    if (json_is_array(error) && json_is_string(json_array_get(error, 1)))
        pk_log_clean(json_string_value(json_array_get(error, 1)), buf, len);
    else if (json_is_string(error))
        pk_log_clean(json_string_value(error), buf, len);
    else if (json_is_object(error) && json_is_string(json_object_get(error, "message")))
        pk_log_clean(json_string_value(json_object_get(error, "message")), buf, len);
    else
        snprintf(buf, len, "no reason given");
    return buf;
}

static void on_subscribe(pk_stratum *s, const json_t *result, const json_t *error)
{
    char why[256];
    if (!json_is_array(result) || json_array_size(result) < 3) {
        fail(s, "mining.subscribe refused or malformed: %s", error_text(error, why, sizeof why));
        return;
    }
    uint8_t en1[PK_EXTRANONCE1_MAX];
    size_t en1_len;
    const json_t *sz = json_array_get(result, 2);
    if (parse_en1(json_array_get(result, 1), en1, &en1_len)) {
        fail(s, "mining.subscribe: extranonce1 is not hex of at most %d bytes", PK_EXTRANONCE1_MAX);
        return;
    }
    if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
        json_integer_value(sz) > PK_EXTRANONCE2_MAX) {
        fail(s, "mining.subscribe: extranonce2 size must be 0 to %d, got %s", PK_EXTRANONCE2_MAX,
             json_is_integer(sz) ? "another number" : "no number");
        return;
    }
    s->resumed = s->session_id[0] && s->prev_en1_len == en1_len &&
                 memcmp(s->prev_en1, en1, en1_len) == 0;
    if (!s->resumed || !s->session) {
        s->session++; /* the jobs of any earlier session are not this one's */
        if (s->have_last_job)
            pk_pool_job_free(&s->last_job);
        s->have_last_job = 0;
    }
    memcpy(s->en1, en1, en1_len);
    s->en1_len = en1_len;
    memcpy(s->prev_en1, en1, en1_len);
    s->prev_en1_len = en1_len;
    s->en2_size = (size_t)json_integer_value(sz);
    if (s->en2_size == 0)
        pk_log(PK_LOG_WARN, "pool %s: extranonce2 size 0: only %s per job", s->host,
               s->o.no_version_rolling ? "2^32 hashes" : "version rolling adds space");
    /* The session id: by convention the mining.notify subscription id. */
    const json_t *subs = json_array_get(result, 0), *sub;
    size_t i;
    json_array_foreach(subs, i, sub) {
        const json_t *name = json_array_get(sub, 0), *id = json_array_get(sub, 1);
        if (json_is_string(name) && json_is_string(id) && json_string_length(id) < sizeof s->session_id &&
            strcmp(json_string_value(name), "mining.notify") == 0)
            snprintf(s->session_id, sizeof s->session_id, "%s", json_string_value(id));
    }
    if (json_is_array(subs) && json_is_string(json_array_get(subs, 1)) && !s->session_id[0] &&
        json_string_length(json_array_get(subs, 1)) < sizeof s->session_id)
        snprintf(s->session_id, sizeof s->session_id, "%s", json_string_value(json_array_get(subs, 1)));
    s->subscribed = 1;
    /* Jobs sent before this answer belong to this session: stamped now. */
    size_t nheld = s->nheld;
    s->nheld = 0;
    for (size_t k = 0; k < nheld; k++)
        emit_job(s, s->held[k]);
    maybe_ready(s);
}

static void on_configure(pk_stratum *s, const json_t *result)
{
    s->configured = 1;
    const json_t *vr = json_object_get(result, "version-rolling");
    const json_t *mask = json_object_get(result, "version-rolling.mask");
    uint8_t b[4];
    if (json_is_true(vr) && json_is_string(mask) && pk_hex_decode(json_string_value(mask), b, 4) == 0) {
        uint32_t m = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        s->version_mask = m & PK_VERSION_ROLL_MAX;
        pk_log(PK_LOG_INFO, "pool %s: version rolling on, mask %08x", s->host, s->version_mask);
    } else {
        s->version_mask = 0;
        pk_log(PK_LOG_INFO, "pool %s: no version rolling", s->host);
    }
}

static void handle_response(pk_stratum *s, uint64_t id, const json_t *result, const json_t *error)
{
    size_t i;
    for (i = 0; i < s->npend && s->pend[i].id != id; i++) {
    }
    if (i == s->npend) {
        pk_log(PK_LOG_DEBUG, "pool %s: answer to unknown request %llu", s->host, (unsigned long long)id);
        return;
    }
    pending p = s->pend[i];
    s->pend[i] = s->pend[--s->npend];
    char why[256];
    int ok = json_is_true(result) && (!error || json_is_null(error));
    switch (p.kind) {
    case REQ_CONFIGURE: on_configure(s, json_is_object(result) ? result : NULL); break;
    case REQ_SUBSCRIBE: on_subscribe(s, result, error); break;
    case REQ_AUTHORIZE:
        if (!ok) {
            char user[128];
            pk_log_clean(s->user, user, sizeof user);
            fail(s, "worker '%s' not authorized: %s", user, error_text(error, why, sizeof why));
            return;
        }
        s->authorized = 1;
        maybe_ready(s);
        break;
    case REQ_SUBMIT:
        if (s->cb.submit_result)
            s->cb.submit_result(s, p.tag, ok, ok ? NULL : error_text(error, why, sizeof why), s->cb.ud);
        break;
    case REQ_WORKER:
        if (s->cb.worker_result)
            s->cb.worker_result(s, p.tag, ok, ok ? NULL : error_text(error, why, sizeof why), s->cb.ud);
        break;
    default:
        if (!ok)
            pk_log(PK_LOG_DEBUG, "pool %s: request %llu refused: %s", s->host,
                   (unsigned long long)id, error_text(error, why, sizeof why));
    }
}

static int json_hex_u32(const json_t *v, uint32_t *out)
{
    uint8_t b[4];
    if (!json_is_string(v) || pk_hex_decode(json_string_value(v), b, 4))
        return -1;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

static void on_reconnect(pk_stratum *s, const json_t *params)
{
    const json_t *h = json_array_get(params, 0), *p = json_array_get(params, 1),
                 *w = json_array_get(params, 2);
    char host[256];
    snprintf(host, sizeof host, "%s", s->host);
    char port[16];
    snprintf(port, sizeof port, "%s", s->port);
    if (json_is_string(h) && json_string_length(h) > 0 && json_string_length(h) < sizeof host)
        snprintf(host, sizeof host, "%s", json_string_value(h));
    if (json_is_integer(p) && json_integer_value(p) > 0 && json_integer_value(p) < 65536)
        snprintf(port, sizeof port, "%lld", (long long)json_integer_value(p));
    else if (json_is_string(p) && atoi(json_string_value(p)) > 0 && atoi(json_string_value(p)) < 65536)
        snprintf(port, sizeof port, "%d", atoi(json_string_value(p)));
    long wait = json_is_integer(w) ? (long)json_integer_value(w) : 0;
    if (wait < 0 || wait > 3600)
        wait = 0;
    char shown[256];
    pk_log_clean(host, shown, sizeof shown);
    /* A redirect is anything but this very host and port. */
    if ((strcmp(host, s->host) != 0 || strcmp(port, s->port) != 0) && !s->o.allow_redirect) {
        pk_log(PK_LOG_WARN, "pool %s asked to move to %s:%s; staying (use --allow-redirect to follow)",
               s->host, shown, port);
    } else {
        snprintf(s->host, sizeof s->host, "%s", host);
        snprintf(s->port, sizeof s->port, "%s", port);
    }
    s->reconnect_hint_ms = wait * 1000;
    fail(s, "pool asked to reconnect to %s:%s in %ld s", s->host, s->port, wait);
}

static void handle_method(pk_stratum *s, const char *method, json_t *id, const json_t *params)
{
    char err[256];
    if (strcmp(method, "mining.notify") == 0) {
        pk_pool_job *job = malloc(sizeof *job);
        if (!job)
            return;
        if (pk_pool_job_parse(job, params, err, sizeof err)) {
            pk_log(PK_LOG_WARN, "pool %s: job ignored: %s", s->host, err);
            free(job);
            return;
        }
        if (!s->subscribed) {
            /* No extranonce1 yet: a job stamped now would make shares the
             * pool cannot take.  Hold it (a clean job drops older ones). */
            if (job->clean)
                drop_held(s);
            if (s->nheld == PK_STRATUM_HELD_MAX) {
                pk_pool_job_free(s->held[0]);
                free(s->held[0]);
                memmove(s->held, s->held + 1, (PK_STRATUM_HELD_MAX - 1) * sizeof *s->held);
                s->nheld--;
            }
            s->held[s->nheld++] = job;
            pk_log(PK_LOG_DEBUG, "pool %s: job before the subscribe answer: held", s->host);
            return;
        }
        emit_job(s, job);
    } else if (strcmp(method, "mining.set_difficulty") == 0) {
        const json_t *d = json_array_get(params, 0);
        if (!json_is_number(d) || !(json_number_value(d) > 0)) {
            pk_log(PK_LOG_WARN, "pool %s: set_difficulty ignored: not a positive number", s->host);
            return;
        }
        s->difficulty = json_number_value(d);
        pk_log(PK_LOG_INFO, "pool %s: difficulty %g from the next job", s->host, s->difficulty);
    } else if (strcmp(method, "mining.set_extranonce") == 0) {
        const json_t *sz = json_array_get(params, 1);
        uint8_t en1[PK_EXTRANONCE1_MAX];
        size_t len;
        if (parse_en1(json_array_get(params, 0), en1, &len) || !json_is_integer(sz) ||
            json_integer_value(sz) < 0 || json_integer_value(sz) > PK_EXTRANONCE2_MAX) {
            /* The jobs that follow would be built on values we cannot use:
             * start over with a fresh subscribe rather than mine them. */
            fail(s, "mining.set_extranonce with an unusable extranonce1 or size (0 to %d bytes)",
                 PK_EXTRANONCE2_MAX);
            return;
        }
        memcpy(s->en1, en1, len);
        s->en1_len = len;
        s->en2_size = (size_t)json_integer_value(sz);
        pk_log(PK_LOG_INFO, "pool %s: new extranonce from the next job", s->host);
    } else if (strcmp(method, "mining.set_version_mask") == 0) {
        uint32_t m;
        if (json_hex_u32(json_array_get(params, 0), &m)) {
            pk_log(PK_LOG_WARN, "pool %s: set_version_mask ignored: not 8 hex digits", s->host);
            return;
        }
        if (s->o.no_version_rolling)
            return;
        s->version_mask = m & PK_VERSION_ROLL_MAX;
        pk_log(PK_LOG_INFO, "pool %s: version mask %08x", s->host, s->version_mask);
        /* Valid at once (BIP310): the current job again, under the new mask. */
        if (s->have_last_job) {
            pk_pool_job *job = malloc(sizeof *job);
            if (job && pk_pool_job_copy(job, &s->last_job) == PK_OK) {
                job->clean = 1;
                emit_job(s, job);
            } else {
                free(job);
            }
        }
    } else if (strcmp(method, "client.reconnect") == 0) {
        on_reconnect(s, params);
    } else if (strcmp(method, "client.get_version") == 0) {
        if (id && !json_is_null(id))
            reply(s, id, json_string("powkit/" POWKIT_VERSION), NULL);
    } else if (strcmp(method, "client.show_message") == 0) {
        const json_t *m = json_array_get(params, 0);
        char text[512];
        pk_log_clean(json_is_string(m) ? json_string_value(m) : "(not text)", text, sizeof text);
        pk_log(PK_LOG_INFO, "pool %s says: %s", s->host, text);
    } else if (strcmp(method, "mining.ping") == 0) {
        if (id && !json_is_null(id))
            reply(s, id, json_string("pong"), NULL);
    } else {
        char m[128];
        pk_log_clean(method, m, sizeof m);
        pk_log(PK_LOG_WARN, "pool %s: unknown method '%s' ignored", s->host, m);
        if (id && !json_is_null(id))
            reply(s, id, NULL, json_pack("[i,s,n]", 20, "unknown method"));
    }
}

static void handle_line(pk_stratum *s, char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return;
    pk_log(PK_LOG_DEBUG, "%s < %.*s", s->host, (int)(len > 300 ? 300 : len), line);
    json_error_t jerr;
    json_t *msg = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(msg)) {
        char text[160];
        pk_log_clean(jerr.text, text, sizeof text);
        pk_log(PK_LOG_WARN, "pool %s: line ignored: %s", s->host,
               msg ? "not a JSON object" : text);
        json_decref(msg);
        return;
    }
    json_t *id = json_object_get(msg, "id"), *method = json_object_get(msg, "method");
    json_t *params = json_object_get(msg, "params");
    if (json_is_string(method)) {
        json_t *empty = json_is_array(params) ? NULL : json_array();
        handle_method(s, json_string_value(method), id, empty ? empty : params);
        json_decref(empty);
    } else if (json_is_integer(id)) {
        handle_response(s, (uint64_t)json_integer_value(id), json_object_get(msg, "result"),
                        json_object_get(msg, "error"));
    } else {
        pk_log(PK_LOG_WARN, "pool %s: line ignored: neither a request nor an answer to ours", s->host);
    }
    json_decref(msg);
}

/* Bytes from the stream: frame into lines, never growing past max_line. */
static int take_bytes(pk_stratum *s, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t chunk = nl ? (size_t)(nl - data) : len;
        if (s->line_len + chunk > s->o.max_line - 1) {
            fail(s, "pool sent a line longer than %zu bytes", s->o.max_line - 1);
            return -1;
        }
        memcpy(s->line + s->line_len, data, chunk);
        s->line_len += chunk;
        if (!nl)
            return 0;
        s->line[s->line_len] = 0;
        size_t l = s->line_len;
        s->line_len = 0;
        pk_stratum_state before = s->state;
        handle_line(s, s->line, l);
        if (s->state == PK_STRATUM_IDLE || before == PK_STRATUM_IDLE)
            return -1; /* the line ended the connection */
        data = nl + 1;
        len -= chunk + 1;
    }
    return 0;
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
        fail(s, "%s", nread == UV_EOF ? "pool closed the connection" : uv_strerror((int)nread));
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
        take_bytes(s, buf->base, (size_t)nread);
        return;
    }
    char err[256], plain[16384];
    pk_tls_feed(s->tls, buf->base, (size_t)nread);
    if (s->state == PK_STRATUM_HANDSHAKE) {
        int hs = pk_tls_handshake(s->tls, err, sizeof err);
        flush_tls(s);
        if (hs < 0) {
            fail(s, "TLS with %s: %s", s->host, err);
            return;
        }
        if (hs == 0)
            return;
        pk_log(PK_LOG_INFO, "pool %s: TLS established", s->host);
        start_session(s);
    }
    for (;;) {
        long n = pk_tls_read(s->tls, plain, sizeof plain, err, sizeof err);
        if (n < 0) {
            fail(s, "%s", err);
            return;
        }
        if (n == 0)
            break;
        if (take_bytes(s, plain, (size_t)n))
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
        fail(s, "cannot connect to %s:%s: %s", s->host, s->port, uv_strerror(status));
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
            fail(s, "TLS session setup failed");
            return;
        }
        char err[256];
        if (pk_tls_handshake(s->tls, err, sizeof err) < 0) {
            fail(s, "TLS with %s: %s", s->host, err);
            return;
        }
        flush_tls(s);
    } else {
        start_session(s);
    }
}

static void try_next_addr(pk_stratum *s)
{
    struct addrinfo *ai = s->next_addr;
    s->next_addr = ai->ai_next;
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        fail(s, "out of memory");
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
            fail(s, "cannot connect to %s:%s: %s", s->host, s->port, uv_strerror(rc));
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
        fail(s, "cannot resolve %s: %s", s->host, uv_strerror(status));
        return;
    }
    s->addrs = s->next_addr = res;
    try_next_addr(s);
}

static void timer_cb(uv_timer_t *t)
{
    pk_stratum *s = t->data;
    uint64_t now = now_ms(s);
    if ((s->state == PK_STRATUM_CONNECTING || s->state == PK_STRATUM_HANDSHAKE ||
         s->state == PK_STRATUM_RESOLVING) &&
        now - s->phase_started_ms > s->o.connect_timeout_ms) {
        fail(s, "no connection to %s:%s within %u ms", s->host, s->port, s->o.connect_timeout_ms);
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
            fail(s, "pool did not answer mining.%s within %u ms",
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
    s->phase_started_ms = now_ms(s);
    uv_timer_start(&s->timer, timer_cb, 250, 250);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    s->gai.data = s;
    int rc = uv_getaddrinfo(s->loop, &s->gai, gai_cb, s->host, s->port, &hints);
    if (rc) {
        fail(s, "cannot resolve %s: %s", s->host, uv_strerror(rc));
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
    request(s, "mining.authorize", json_pack("[s,s]", user, pass ? pass : "x"), REQ_WORKER, tag);
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
    request(s, "mining.submit", p, REQ_SUBMIT, tag);
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
    start_session(s);
}

void pk_stratum_feed(pk_stratum *s, const char *data, size_t len)
{
    if (s->state != PK_STRATUM_IDLE)
        take_bytes(s, data, len);
}
