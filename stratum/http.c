#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/http.h"

#define BODY_MAX (32u << 20)

typedef struct req {
    struct req *next;
    CURL *easy;
    pk_http *h;
    pk_http_cb cb;
    void *ud;
    char *body;
    size_t len, cap;
    char *request; /* the POST body, ours until the transfer ends (libcurl does not copy it) */
    int too_big;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
} req;

typedef struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    pk_http *h;
} sock;

struct pk_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    req *reqs;
    int closing, open;
    void (*closed)(void *);
    void *closed_arg;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void req_free(req *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->request);
    free(r);
}

static void finish(req *r, long status, const char *error)
{
    pk_http *h = r->h;
    for (req **p = &h->reqs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    curl_multi_remove_handle(h->multi, r->easy);
    if (r->cb) /* also when closing (error "closed"): owners free their state */
        r->cb(r->ud, status, r->body ? r->body : "", r->len, error);
    free(r->body);
    r->body = NULL;
    req_free(r);
}

static void check_done(pk_http *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        req *r;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        const char *error = NULL;
        if (r->too_big)
            error = "response larger than 32 MiB";
        else if (m->data.result != CURLE_OK)
            error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(m->data.result);
        finish(r, error ? 0 : status, error);
    }
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    sock *s = p->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    pk_http *h = s->h;
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    check_done(h);
}

/* The last handle to close frees everything (sockets may close after the
 * timer when transfers were aborted). */
static void release(pk_http *h)
{
    if (--h->open > 0 || !h->closing)
        return;
    curl_multi_cleanup(h->multi);
    void (*cb)(void *) = h->closed;
    void *arg = h->closed_arg;
    free(h);
    if (cb)
        cb(arg);
}

static void sock_closed(uv_handle_t *hd)
{
    sock *s = hd->data;
    pk_http *h = s->h;
    free(s);
    release(h);
}

static int socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    pk_http *h = userp;
    sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            curl_multi_assign(h->multi, fd, NULL);
            uv_close((uv_handle_t *)&s->poll, sock_closed);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->fd = fd;
        s->h = h;
        if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        h->open++;
        curl_multi_assign(h->multi, fd, s);
    }
    int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&s->poll, ev, poll_cb);
    return 0;
}

static void timer_cb(uv_timer_t *t)
{
    pk_http *h = t->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int timer_fn(CURLM *m, long ms, void *userp)
{
    (void)m;
    pk_http *h = userp;
    if (ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, timer_cb, (uint64_t)ms, 0);
    return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *ud)
{
    req *r = ud;
    size_t len = size * n;
    if (r->len + len + 1 > BODY_MAX) {
        r->too_big = 1;
        return 0; /* abort the transfer */
    }
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return 0;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = 0;
    return len;
}

pk_http *pk_http_new(uv_loop_t *loop)
{
    pthread_once(&g_curl_once, curl_init_once);
    pk_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->loop = loop;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->open = 1; /* the timer */
    return h;
}

int pk_http_post(pk_http *h, const char *url, const char *userpwd, const char *body, long timeout_ms,
                 pk_http_cb cb, void *ud)
{
    req *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    size_t blen = strlen(body);
    r->easy = curl_easy_init();
    r->request = malloc(blen + 1);
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!r->easy || !r->request || !r->headers) {
        req_free(r);
        return -1;
    }
    memcpy(r->request, body, blen + 1);
    r->h = h;
    r->cb = cb;
    r->ud = ud;
    /* Every option is checked: one that did not take (a string over
     * libcurl's 8,000,000-byte limit, no memory) would leave a request that
     * does something else, e.g. reads its body from standard input.  The
     * body goes by pointer and size, so its length has no such limit. */
    CURLcode rc = CURLE_OK;
#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(r->easy, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    SET(CURLOPT_POSTFIELDS, r->request);
    SET(CURLOPT_HTTPHEADER, r->headers);
    SET(CURLOPT_WRITEFUNCTION, write_cb);
    SET(CURLOPT_WRITEDATA, r);
    SET(CURLOPT_PRIVATE, r);
    SET(CURLOPT_ERRORBUFFER, r->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    if (timeout_ms > 0)
        SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    if (userpwd) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERPWD, userpwd);
    }
#undef SET
    if (rc != CURLE_OK) {
        req_free(r);
        return -1;
    }
    r->next = h->reqs;
    h->reqs = r;
    if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
        h->reqs = r->next;
        req_free(r);
        return -1;
    }
    return 0;
}

static void timer_closed(uv_handle_t *hd) { release(hd->data); }

void pk_http_close(pk_http *h, void (*closed)(void *arg), void *arg)
{
    h->closing = 1;
    h->closed = closed;
    h->closed_arg = arg;
    while (h->reqs)
        finish(h->reqs, 0, "closed"); /* removes its sockets through socket_cb */
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, timer_closed);
}

int pk_rpc_cookie_read(const char *path, char *userpwd, size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the node's cookie %s (give --rpc-cookie, or --rpc-user and --rpc-password)",
                 path);
        return -1;
    }
    char line[512] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    if (!strchr(line, ':')) {
        snprintf(err, errlen, "cookie %s is not user:password", path);
        return -1;
    }
    snprintf(userpwd, len, "%s", line);
    return 0;
}

static void cookie_default(const char *url, char *out, size_t len)
{
    const char *home = getenv("HOME");
    const char *sub = "";
    if (strstr(url, ":18332"))
        sub = "testnet3/";
    else if (strstr(url, ":18443"))
        sub = "regtest/";
    else if (strstr(url, ":38332"))
        sub = "signet/";
    snprintf(out, len, "%s/.bitcoin/%s.cookie", home ? home : ".", sub);
}

int pk_rpc_credentials(const char *url, const char *user, const char *pass, const char *cookie, char *userpwd,
                       size_t len, char *cookie_path, size_t cplen, char *err, size_t errlen)
{
    cookie_path[0] = 0;
    if (user || pass) {
        snprintf(userpwd, len, "%s:%s", user ? user : "", pass ? pass : "");
        return 0;
    }
    if (cookie)
        snprintf(cookie_path, cplen, "%s", cookie);
    else
        cookie_default(url, cookie_path, cplen);
    if (pk_rpc_cookie_read(cookie_path, userpwd, len, err, errlen)) {
        cookie_path[0] = 0;
        return -1;
    }
    return 0;
}
