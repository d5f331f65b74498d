#define _GNU_SOURCE
#include "fake_node.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_CHAIN 4096
#define MAX_RECEIVED 4096
#define MAX_SCRIPT 256

typedef struct client {
    int fd;
    char *buf;
    size_t len, cap;
    int held;        /* a long poll waiting for the tip to move */
    json_t *held_id;
    double held_since;
} client;

struct fnode {
    int lfd, port, wake[2], stop;
    pthread_t th;
    pthread_mutex_t mu;
    client cl[MAX_CLIENTS];
    uint8_t chain[MAX_CHAIN][32]; /* hashes by height, internal byte order */
    int64_t height;
    char received[MAX_RECEIVED][65];
    size_t nreceived;
    fn_mode script[MAX_SCRIPT];
    size_t nscript;
    fn_mode always;
    fn_stats st;
    char *big_tx; /* hex */
    int hold_templates;
    char events[8192]; /* method names in order, space-separated */
    const uint8_t *const *blocks; /* fn_serve_chain's, or NULL */
    const size_t *blens;
    size_t nblocks;
    char (*bhash)[65]; /* their hashes, as RPC shows them */
    char auth[512]; /* "Basic ..." a request must carry, or empty */
    int rotate_after;
    char rotate_userpwd[256], rotate_cookie[512];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void to_hex_rev(const uint8_t h[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", h[31 - i]);
}

static int from_hex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static void send_all(int fd, const char *d, size_t n)
{
    while (n) {
        ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        d += w;
        n -= (size_t)w;
    }
}

static void respond(client *c, int code, const char *body)
{
    char head[256];
    const char *reason = code == 200 ? "OK" : code == 401 ? "Unauthorized" : code == 503 ? "Service Unavailable"
                                                                                     : "Internal Server Error";
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", code, reason,
                     strlen(body));
    send_all(c->fd, head, (size_t)n);
    send_all(c->fd, body, strlen(body));
}

static void respond_json(client *c, json_t *id, json_t *result, json_t *error)
{
    json_t *o = json_pack("{s:o, s:o, s:O}", "result", result ? result : json_null(), "error",
                          error ? error : json_null(), "id", id ? id : json_null());
    char *t = json_dumps(o, JSON_COMPACT);
    respond(c, error ? 500 : 200, t);
    free(t);
    json_decref(o);
}

static void drop(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    json_decref(c->held_id);
    c->held_id = NULL;
    c->held = 0;
}

static json_t *template_json(fnode *f)
{
    char prev[65];
    to_hex_rev(f->chain[f->height], prev);
    json_t *txs = json_array();
    if (f->big_tx)
        json_array_append_new(txs, json_pack("{s:s}", "data", f->big_tx));
    f->st.templates++;
    return json_pack("{s:I, s:i, s:s, s:I, s:I, s:s, s:o, s:[s], s:s}", "height", (json_int_t)(f->height + 1),
                     "version", 0x20000000, "bits", "207fffff", "curtime", (json_int_t)(1700000000 + f->height * 600),
                     "coinbasevalue", (json_int_t)5000000000LL, "previousblockhash", prev, "transactions", txs,
                     "rules", "csv", "longpollid", prev);
}

static int known(fnode *f, const char *hex)
{
    for (size_t i = 0; i < f->nreceived; i++)
        if (strcmp(f->received[i], hex) == 0)
            return 1;
    return 0;
}

/* 1 accepted, 0 duplicate, -1 refused (reason set). */
static int judge(fnode *f, const char *hex, char *hash_out, const char **reason)
{
    size_t n = strlen(hex) / 2;
    if (n < 81) {
        *reason = "bad-blk-length";
        return -1;
    }
    uint8_t hdr[80], h1[32], h[32];
    if (from_hex(hex, hdr, 80)) {
        *reason = "Block decode failed";
        return -1;
    }
    SHA256(hdr, 80, h1);
    SHA256(h1, 32, h);
    to_hex_rev(h, hash_out);
    for (int64_t i = 0; i <= f->height; i++)
        if (memcmp(f->chain[i], h, 32) == 0)
            return 0;
    /* regtest's limit: the top byte at most 0x7f, the rest anything */
    if (h[31] > 0x7f) {
        *reason = "high-hash";
        return -1;
    }
    if (memcmp(hdr + 4, f->chain[f->height], 32) != 0) {
        *reason = "inconclusive-not-best-prevblk";
        return -1;
    }
    if (f->height + 1 >= MAX_CHAIN) {
        *reason = "chain full";
        return -1;
    }
    memcpy(f->chain[++f->height], h, 32);
    f->st.accepted++;
    f->st.height = f->height;
    return 1;
}

static void wake_long_polls(fnode *f)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        client *c = &f->cl[i];
        if (c->fd >= 0 && c->held) {
            json_t *id = c->held_id;
            c->held_id = NULL;
            c->held = 0;
            respond_json(c, id, template_json(f), NULL);
            json_decref(id);
        }
    }
}

static void on_submit(fnode *f, client *c, json_t *id, const char *hex)
{
    f->st.submits++;
    fn_mode mode = f->always;
    if (f->nscript) {
        mode = f->script[0];
        memmove(f->script, f->script + 1, (--f->nscript) * sizeof *f->script);
    }
    char hash[65] = "";
    const char *reason = NULL;
    if (hex && strlen(hex) >= 160) {
        uint8_t hdr[80], h1[32], h[32];
        if (from_hex(hex, hdr, 80) == 0) {
            SHA256(hdr, 80, h1);
            SHA256(h1, 32, h);
            to_hex_rev(h, hash);
            if (!known(f, hash) && f->nreceived < MAX_RECEIVED)
                snprintf(f->received[f->nreceived++], 65, "%s", hash);
        }
    }
    switch (mode) {
    case FN_BUSY: respond(c, 503, "Work queue depth exceeded"); return;
    case FN_WARMUP:
        respond_json(c, id, NULL, json_pack("{s:i, s:s}", "code", -28, "message", "Loading block index..."));
        return;
    case FN_UNAUTHORIZED: respond(c, 401, ""); return;
    case FN_SILENT: drop(c); return;
    case FN_DUPLICATE: respond_json(c, id, json_string("duplicate"), NULL); return;
    case FN_ACCEPT_SILENT:
    case FN_NORMAL: break;
    }
    if (!hex) {
        respond_json(c, id, NULL, json_pack("{s:i, s:s}", "code", -1, "message", "submitblock \"hexdata\""));
        return;
    }
    int r = judge(f, hex, hash, &reason);
    if (r < 0)
        f->st.bad++;
    if (mode == FN_ACCEPT_SILENT) {
        drop(c);
    } else if (r == 1) {
        respond_json(c, id, json_null(), NULL);
    } else {
        respond_json(c, id, json_string(r == 0 ? "duplicate" : reason), NULL);
    }
    if (r == 1)
        wake_long_polls(f);
}

static void block_hash_hex(const uint8_t *block, char out[65])
{
    uint8_t h[32];
    SHA256(block, 80, h);
    SHA256(h, 32, h);
    to_hex_rev(h, out);
}

static void set_auth(fnode *f, const char *userpwd)
{
    f->auth[0] = 0;
    if (!userpwd)
        return;
    char b64[400];
    size_t n = strlen(userpwd);
    if (4 * ((n + 2) / 3) >= sizeof b64)
        abort();
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)userpwd, (int)n);
    snprintf(f->auth, sizeof f->auth, "Basic %s", b64);
}

/* The served chain's methods: 1 when answered. */
static int serve_chain(fnode *f, client *c, const char *method, json_t *id, json_t *params)
{
    if (strcmp(method, "getblockcount") == 0) {
        respond_json(c, id, json_integer((json_int_t)f->nblocks - 1), NULL);
        return 1;
    }
    if (strcmp(method, "getblockhash") == 0) {
        json_int_t h = json_integer_value(json_array_get(params, 0));
        if (h < 0 || (size_t)h >= f->nblocks) {
            respond_json(c, id, NULL, json_pack("{s:i, s:s}", "code", -8, "message", "Block height out of range"));
        } else {
            respond_json(c, id, json_string(f->bhash[h]), NULL);
        }
        return 1;
    }
    if (strcmp(method, "getblock") == 0) {
        const char *want = json_string_value(json_array_get(params, 0));
        for (size_t i = 0; want && i < f->nblocks; i++) {
            if (strcmp(f->bhash[i], want) != 0)
                continue;
            char *hex = malloc(2 * f->blens[i] + 1);
            for (size_t k = 0; k < f->blens[i]; k++)
                sprintf(hex + 2 * k, "%02x", f->blocks[i][k]);
            respond_json(c, id, json_string(hex), NULL);
            free(hex);
            if (++f->st.getblocks == f->rotate_after) {
                FILE *cf = fopen(f->rotate_cookie, "w");
                if (cf) {
                    fputs(f->rotate_userpwd, cf);
                    fclose(cf);
                }
                set_auth(f, f->rotate_userpwd);
            }
            return 1;
        }
        respond_json(c, id, NULL, json_pack("{s:i, s:s}", "code", -5, "message", "Block not found"));
        return 1;
    }
    return 0;
}

static void on_request(fnode *f, client *c, const char *body, size_t len)
{
    if (len > f->st.largest_body)
        f->st.largest_body = len;
    json_t *req = json_loadb(body, len, 0, NULL);
    const char *method = json_string_value(json_object_get(req, "method"));
    json_t *id = json_object_get(req, "id"), *params = json_object_get(req, "params");
    size_t el = strlen(f->events);
    if (method && el + strlen(method) + 2 < sizeof f->events)
        snprintf(f->events + el, sizeof f->events - el, "%s%s", el ? " " : "", method);
    if (!method) {
        respond(c, 500, "{\"result\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"},\"id\":null}");
    } else if (f->blocks && serve_chain(f, c, method, id, params)) {
        /* answered from the served chain */
    } else if (strcmp(method, "getblockchaininfo") == 0) {
        respond_json(c, id, json_pack("{s:s, s:I}", "chain", "regtest", "blocks", (json_int_t)f->height), NULL);
    } else if (strcmp(method, "getblocktemplate") == 0 && f->hold_templates) {
        respond_json(c, id, NULL, json_pack("{s:i, s:s}", "code", -10, "message", "Bitcoin is downloading blocks..."));
    } else if (strcmp(method, "getblocktemplate") == 0) {
        const char *lp = json_string_value(json_object_get(json_array_get(params, 0), "longpollid"));
        char tip[65];
        to_hex_rev(f->chain[f->height], tip);
        if (lp && strcmp(lp, tip) == 0) {
            c->held = 1;
            c->held_id = json_incref(id);
            c->held_since = now_s();
        } else {
            respond_json(c, id, template_json(f), NULL);
        }
    } else if (strcmp(method, "submitblock") == 0) {
        on_submit(f, c, id, json_string_value(json_array_get(params, 0)));
    } else if (strcmp(method, "getblockheader") == 0) {
        const char *h = json_string_value(json_array_get(params, 0));
        int64_t found = -1;
        for (int64_t i = 0; h && i <= f->height && found < 0; i++) {
            char x[65];
            to_hex_rev(f->chain[i], x);
            if (strcmp(x, h) == 0)
                found = i;
        }
        if (found < 0)
            respond_json(c, id, NULL, json_pack("{s:i, s:s}", "code", -5, "message", "Block not found"));
        else
            respond_json(c, id, json_pack("{s:s, s:I, s:I}", "hash", h, "height", (json_int_t)found, "confirmations",
                                          (json_int_t)(f->height - found + 1)),
                         NULL);
    } else if (strcmp(method, "getblockhash") == 0) {
        json_int_t h = json_integer_value(json_array_get(params, 0));
        if (h < 0 || h > f->height) {
            respond_json(c, id, NULL, json_pack("{s:i, s:s}", "code", -8, "message", "Block height out of range"));
        } else {
            char x[65];
            to_hex_rev(f->chain[h], x);
            respond_json(c, id, json_string(x), NULL);
        }
    } else {
        respond_json(c, id, NULL, json_pack("{s:i, s:s}", "code", -32601, "message", "Method not found"));
    }
    json_decref(req);
}

/* Whole requests out of a client's buffer (headers, Content-Length body). */
static void take(fnode *f, client *c)
{
    for (;;) {
        if (c->fd < 0 || c->held)
            return;
        char *end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (!end)
            return;
        size_t hl = (size_t)(end - c->buf) + 4;
        size_t cl = 0;
        char auth[512] = "";
        for (char *p = c->buf; p < end; p++) {
            if (strncasecmp(p, "\r\nContent-Length:", 17) == 0)
                cl = strtoul(p + 17, NULL, 10);
            if (strncasecmp(p, "\r\nAuthorization:", 16) == 0) {
                const char *v = p + 16;
                while (*v == ' ')
                    v++;
                const char *e = strstr(v, "\r\n");
                size_t n = e ? (size_t)(e - v) : 0;
                if (n < sizeof auth) {
                    memcpy(auth, v, n);
                    auth[n] = 0;
                }
            }
        }
        if (c->len < hl + cl)
            return;
        pthread_mutex_lock(&f->mu);
        if (f->auth[0] && strcmp(auth, f->auth) != 0) {
            f->st.refused++;
            respond(c, 401, "");
        } else {
            on_request(f, c, c->buf + hl, cl);
        }
        pthread_mutex_unlock(&f->mu);
        if (c->fd < 0)
            return;
        memmove(c->buf, c->buf + hl + cl, c->len - hl - cl);
        c->len -= hl + cl;
    }
}

static void *thread_main(void *arg)
{
    fnode *f = arg;
    while (!f->stop) {
        struct pollfd p[MAX_CLIENTS + 1];
        int idx[MAX_CLIENTS + 1], n = 0;
        p[n].fd = f->lfd, p[n].events = POLLIN, idx[n++] = -1;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (f->cl[i].fd >= 0) {
                p[n].fd = f->cl[i].fd, p[n].events = POLLIN, idx[n++] = i;
            }
        }
        if (poll(p, (nfds_t)n, 50) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int fd = accept(f->lfd, NULL, NULL);
            int slot = -1;
            for (int i = 0; i < MAX_CLIENTS && slot < 0 && fd >= 0; i++)
                if (f->cl[i].fd < 0)
                    slot = i;
            if (slot < 0) {
                if (fd >= 0)
                    close(fd);
            } else {
                f->cl[slot].fd = fd;
            }
        }
        for (int k = 1; k < n; k++) {
            if (!p[k].revents)
                continue;
            client *c = &f->cl[idx[k]];
            if (c->fd < 0)
                continue;
            if (c->cap - c->len < 65536) {
                c->cap = c->cap ? 2 * c->cap + 65536 : 1 << 20;
                c->buf = realloc(c->buf, c->cap);
            }
            ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
            if (r <= 0) {
                pthread_mutex_lock(&f->mu);
                drop(c);
                pthread_mutex_unlock(&f->mu);
                continue;
            }
            c->len += (size_t)r;
            take(f, c);
        }
    }
    return NULL;
}

fnode *fn_start(size_t big_tx_bytes)
{
    fnode *f = calloc(1, sizeof *f);
    for (int i = 0; i < MAX_CLIENTS; i++)
        f->cl[i].fd = -1;
    for (int i = 0; i < 32; i++)
        f->chain[0][i] = (uint8_t)(i * 37 + 11); /* a genesis of our own */
    if (big_tx_bytes) {
        /* version, one input with a scriptSig of the size asked, one output, locktime */
        size_t script = big_tx_bytes;
        size_t n = 4 + 1 + 36 + 5 + script + 4 + 1 + 8 + 1 + 1 + 4;
        uint8_t *t = calloc(1, n);
        size_t k = 0;
        t[k++] = 2, k += 3;
        t[k++] = 1;
        memset(t + k, 0x42, 32), k += 36;
        t[k++] = 0xfe;
        for (int i = 0; i < 4; i++)
            t[k++] = (uint8_t)(script >> (8 * i));
        memset(t + k, 0x51, script), k += script;
        memset(t + k, 0xff, 4), k += 4;
        t[k++] = 1;
        k += 8;
        t[k++] = 1, t[k++] = 0x51;
        k += 4;
        f->big_tx = malloc(2 * k + 1);
        for (size_t i = 0; i < k; i++)
            sprintf(f->big_tx + 2 * i, "%02x", t[i]);
        free(t);
    }
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) || listen(f->lfd, 64))
        abort();
    socklen_t al = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->th, NULL, thread_main, f);
    return f;
}

int fn_port(const fnode *f) { return f->port; }

void fn_stop(fnode *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    for (int i = 0; i < MAX_CLIENTS; i++)
        drop(&f->cl[i]);
    close(f->lfd);
    free(f->big_tx);
    free(f->bhash);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void fn_stats_get(fnode *f, fn_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->st;
    pthread_mutex_unlock(&f->mu);
}

void fn_script(fnode *f, fn_mode mode, int n)
{
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < n && f->nscript < MAX_SCRIPT; i++)
        f->script[f->nscript++] = mode;
    pthread_mutex_unlock(&f->mu);
}

void fn_always(fnode *f, fn_mode mode)
{
    pthread_mutex_lock(&f->mu);
    f->always = mode;
    pthread_mutex_unlock(&f->mu);
}

int fn_in_chain(fnode *f, const char *hash_hex)
{
    pthread_mutex_lock(&f->mu);
    int in = 0;
    for (int64_t i = 1; i <= f->height && !in; i++) {
        char x[65];
        to_hex_rev(f->chain[i], x);
        in = strcmp(x, hash_hex) == 0;
    }
    pthread_mutex_unlock(&f->mu);
    return in;
}

size_t fn_received(fnode *f, char (*out)[65], size_t max)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nreceived < max ? f->nreceived : max;
    memcpy(out, f->received, n * 65);
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fn_hold_templates(fnode *f, int hold)
{
    pthread_mutex_lock(&f->mu);
    f->hold_templates = hold;
    pthread_mutex_unlock(&f->mu);
}

void fn_events(fnode *f, char *out, size_t len, int clear)
{
    pthread_mutex_lock(&f->mu);
    snprintf(out, len, "%s", f->events);
    if (clear)
        f->events[0] = 0;
    pthread_mutex_unlock(&f->mu);
}

void fn_script_clear(fnode *f)
{
    pthread_mutex_lock(&f->mu);
    f->nscript = 0;
    pthread_mutex_unlock(&f->mu);
}

void fn_serve_chain(fnode *f, const uint8_t *const *blocks, const size_t *lens, size_t n)
{
    char(*h)[65] = malloc((n ? n : 1) * sizeof *h);
    for (size_t i = 0; i < n; i++)
        block_hash_hex(blocks[i], h[i]);
    pthread_mutex_lock(&f->mu);
    free(f->bhash);
    f->bhash = h;
    f->blocks = blocks;
    f->blens = lens;
    f->nblocks = n;
    pthread_mutex_unlock(&f->mu);
}

void fn_require_auth(fnode *f, const char *userpwd)
{
    pthread_mutex_lock(&f->mu);
    set_auth(f, userpwd);
    pthread_mutex_unlock(&f->mu);
}

void fn_rotate_auth(fnode *f, int after_getblocks, const char *userpwd, const char *cookie_path)
{
    pthread_mutex_lock(&f->mu);
    f->rotate_after = after_getblocks;
    snprintf(f->rotate_userpwd, sizeof f->rotate_userpwd, "%s", userpwd);
    snprintf(f->rotate_cookie, sizeof f->rotate_cookie, "%s", cookie_path);
    pthread_mutex_unlock(&f->mu);
}
