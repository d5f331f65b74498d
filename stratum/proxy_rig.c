/* The proxy's server side: rigs connect, send lines and are written to;
 * every limit that keeps one rig from hurting the others is here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/log.h"

#include "proxy_internal.h"

/* ---- writing to rigs ---- */

void pk_px_wbuf_unref(wbuf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static void write_cb(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    pk_px_wbuf_unref(w->b);
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
        pk_px_rig_drop(r, "it does not read what it is sent (write queue full)");
        return;
    }
    uv_buf_t buf = uv_buf_init(b->data + off, (unsigned)(b->len - off));
    int n = uv_try_write(st, &buf, 1);
    if (n == (int)buf.len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        pk_px_rig_drop(r, uv_strerror(n));
        return;
    }
    if (n > 0)
        buf = uv_buf_init(buf.base + n, buf.len - (unsigned)n);
    wreq *w = malloc(sizeof *w);
    if (!w) {
        pk_px_rig_drop(r, "out of memory");
        return;
    }
    w->b = b;
    b->refs++;
    int rc = uv_write(&w->req, st, &buf, 1, write_cb);
    if (rc) {
        pk_px_wbuf_unref(b);
        free(w);
        pk_px_rig_drop(r, uv_strerror(rc));
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
            pk_px_rig_drop(r, "out of memory");
            return;
        }
        c->refs = 1;
        c->len = n;
        memcpy(c->data, chunk, n);
        sock_send(r, c, 0);
        pk_px_wbuf_unref(c);
    }
}

/* A line to a rig: the shared bytes as they are, or encrypted for it. */
void pk_px_rig_send_wbuf(rig *r, wbuf *b, size_t off)
{
    if (r->closing)
        return;
    if (!r->tls) {
        sock_send(r, b, off);
        return;
    }
    if (!r->tls_ready || pk_tls_write(r->tls, b->data + off, b->len - off) != 0) {
        pk_px_rig_drop(r, "TLS write failed");
        return;
    }
    tls_flush(r);
}

void pk_px_rig_send_json(rig *r, json_t *msg)
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
        pk_px_rig_send_wbuf(r, b, 0);
        pk_px_wbuf_unref(b);
    }
    free(s);
}

void pk_px_reply_ok(rig *r, json_t *id, json_t *result)
{
    pk_px_rig_send_json(r, json_pack("{s:O, s:o, s:n}", "id", id ? id : json_null(), "result", result, "error"));
}

void pk_px_reply_err(rig *r, json_t *id, int code, const char *msg)
{
    pk_px_rig_send_json(r, json_pack("{s:O, s:n, s:[i,s,n]}", "id", id ? id : json_null(), "result", "error", code, msg));
}

void pk_px_send_method(rig *r, const char *method, json_t *params)
{
    pk_px_rig_send_json(r, json_pack("{s:n, s:s, s:o}", "id", "method", method, "params", params));
}

void pk_px_send_difficulty(rig *r)
{
    pk_px_send_method(r, "mining.set_difficulty", json_pack("[f]", r->diff));
    r->sent_diff = r->diff;
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
    pk_px_reply_ok(r, id, res);
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
            pk_px_rig_drop(r, "too many malformed lines");
            return;
        }
        pk_px_reply_err(r, NULL, E_OTHER, "malformed JSON");
        return;
    }
    if (!method) { /* an answer to something we asked (none expected) */
        json_decref(msg);
        return;
    }
    if (strcmp(method, "mining.subscribe") == 0) {
        if (r->subscribed) {
            pk_px_reply_err(r, id, E_OTHER, "already subscribed");
        } else if (!px->have_en1) {
            /* No upstream session yet: answered when there is one. */
            json_decref(r->pending_subscribe);
            r->pending_subscribe = json_incref(id ? id : json_null());
        } else {
            pk_px_answer_subscribe(r, id);
        }
    } else if (strcmp(method, "mining.authorize") == 0) {
        const char *user = json_string_value(json_array_get(params, 0));
        if (!user || !*user) {
            pk_px_reply_err(r, id, E_UNAUTHORIZED, "a worker name is needed");
        } else {
            char clean[64];
            pk_log_clean(user, clean, sizeof clean);
            snprintf(r->worker, sizeof r->worker, "%s", clean);
            if (px->o.pass_workers) {
                pk_px_authorize_upstream(r, id, user);
            } else {
                r->authorized = 1;
                pk_px_reply_ok(r, id, json_true());
                pk_px_rig_start_work(r);
            }
        }
    } else if (strcmp(method, "mining.submit") == 0) {
        pk_px_on_submit(r, id, params);
    } else if (strcmp(method, "mining.configure") == 0) {
        on_configure(r, id, params);
    } else if (strcmp(method, "mining.extranonce.subscribe") == 0) {
        r->xn_sub = 1;
        pk_px_reply_ok(r, id, json_true());
    } else if (strcmp(method, "mining.suggest_difficulty") == 0) {
        double d = json_number_value(json_array_get(params, 0));
        if (d > 0 && isfinite(d)) {
            r->diff = r->prev_diff = d > px->o.min_difficulty ? d : px->o.min_difficulty;
            if (r->working)
                pk_px_send_difficulty(r);
        }
        pk_px_reply_ok(r, id, json_true());
    } else if (strcmp(method, "mining.ping") == 0) {
        pk_px_reply_ok(r, id, json_string("pong"));
    } else {
        pk_px_reply_err(r, id, E_OTHER, "unknown method");
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
        pk_px_rig_drop(r, nread == UV_EOF ? "disconnected" : uv_strerror((int)nread));
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
        pk_px_rig_drop(r, "TLS: out of memory");
        return;
    }
    if (!r->tls_ready) {
        int hs = pk_tls_handshake(r->tls, err, sizeof err);
        tls_flush(r);
        if (hs < 0) {
            pk_px_rig_drop(r, err);
            return;
        }
        if (hs == 0)
            return;
        r->tls_ready = 1;
    }
    for (;;) {
        long n = pk_tls_read(r->tls, px->tbuf, sizeof px->tbuf, err, sizeof err);
        if (n < 0) {
            pk_px_rig_drop(r, err);
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
            pk_px_rig_drop(r, "a line longer than the limit");
            return;
        }
        if (r->line_len || !nl) {
            char *nb = realloc(r->line, r->line_len + take + 1);
            if (!nb) {
                pk_px_rig_drop(r, "out of memory");
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

void pk_px_rig_drop(rig *r, const char *why)
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

void pk_px_on_connection(uv_stream_t *server, int status)
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
