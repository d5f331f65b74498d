/* The Stratum v1 client's protocol: the session's requests and the pool's
 * answers, its methods (notify, difficulty, extranonce, reconnect), and
 * lines framed from the connection's bytes.  The connection, its timers
 * and writes are stratum.c's. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/error.h"
#include "powkit/log.h"
#include "powkit/util.h"
#include "stratum_internal.h"

#ifndef POWKIT_VERSION
#define POWKIT_VERSION "dev"
#endif

/* ---- protocol ---- */

void pk_st_start_session(pk_stratum *s)
{
    s->state = PK_STRATUM_SUBSCRIBING;
    s->phase_started_ms = pk_st_now_ms(s);
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
        pk_st_request(s, "mining.configure", json_pack("[o,o]", ext, params), REQ_CONFIGURE, 0);
    else {
        json_decref(ext);
        json_decref(params);
        s->configured = 1;
    }
    json_t *sub = json_pack("[s]", "powkit/" POWKIT_VERSION);
    if (s->session_id[0])
        json_array_append_new(sub, json_string(s->session_id));
    pk_st_request(s, "mining.subscribe", sub, REQ_SUBSCRIBE, 0);
    pk_st_request(s, "mining.authorize", json_pack("[s,s]", s->user, s->pass), REQ_AUTHORIZE, 0);
    if (!s->o.no_extranonce)
        pk_st_request(s, "mining.extranonce.subscribe", json_array(), REQ_EXTRANONCE, 0);
    if (s->o.suggest_difficulty > 0)
        pk_st_request(s, "mining.suggest_difficulty", json_pack("[f]", s->o.suggest_difficulty),
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
        pk_st_fail(s, "mining.subscribe refused or malformed: %s", error_text(error, why, sizeof why));
        return;
    }
    uint8_t en1[PK_EXTRANONCE1_MAX];
    size_t en1_len;
    const json_t *sz = json_array_get(result, 2);
    if (parse_en1(json_array_get(result, 1), en1, &en1_len)) {
        pk_st_fail(s, "mining.subscribe: extranonce1 is not hex of at most %d bytes", PK_EXTRANONCE1_MAX);
        return;
    }
    if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
        json_integer_value(sz) > PK_EXTRANONCE2_MAX) {
        pk_st_fail(s, "mining.subscribe: extranonce2 size must be 0 to %d, got %s", PK_EXTRANONCE2_MAX,
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
            pk_st_fail(s, "worker '%s' not authorized: %s", user, error_text(error, why, sizeof why));
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
    pk_st_fail(s, "pool asked to reconnect to %s:%s in %ld s", s->host, s->port, wait);
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
                pk_st_drop_held(s);
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
            pk_st_fail(s, "mining.set_extranonce with an unusable extranonce1 or size (0 to %d bytes)",
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
            pk_st_reply(s, id, json_string("powkit/" POWKIT_VERSION), NULL);
    } else if (strcmp(method, "client.show_message") == 0) {
        const json_t *m = json_array_get(params, 0);
        char text[512];
        pk_log_clean(json_is_string(m) ? json_string_value(m) : "(not text)", text, sizeof text);
        pk_log(PK_LOG_INFO, "pool %s says: %s", s->host, text);
    } else if (strcmp(method, "mining.ping") == 0) {
        if (id && !json_is_null(id))
            pk_st_reply(s, id, json_string("pong"), NULL);
    } else {
        char m[128];
        pk_log_clean(method, m, sizeof m);
        pk_log(PK_LOG_WARN, "pool %s: unknown method '%s' ignored", s->host, m);
        if (id && !json_is_null(id))
            pk_st_reply(s, id, NULL, json_pack("[i,s,n]", 20, "unknown method"));
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
int pk_st_take_bytes(pk_stratum *s, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t chunk = nl ? (size_t)(nl - data) : len;
        if (s->line_len + chunk > s->o.max_line - 1) {
            pk_st_fail(s, "pool sent a line longer than %zu bytes", s->o.max_line - 1);
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
