#define _GNU_SOURCE /* strcasestr */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "powkit/access.h"
#include "powkit/api.h"
#include "powkit/error.h"
#include "powkit/log.h"

#define REQ_MAX 8192
/* Clients served at once: a flood of idle connections must not take the
 * descriptors the miner needs (found blocks go to disk, pools and the node
 * need sockets).  Past the cap a connection is closed as soon as it is
 * accepted; every client has IDLE_MS to send its request. */
#define API_CLIENTS_MAX 32
#define IDLE_MS 5000

struct pk_api {
    uv_tcp_t server;
    pk_api_handler handler;
    void *ud;
    pk_access access;
    char token[128]; /* "": none */
    int port;
    unsigned clients;
    uint64_t refused;
    struct client *list; /* open clients, closed with the server */
    int closing, server_open;
};

typedef struct client {
    struct client *next, *prev;
    uv_tcp_t tcp;
    uv_timer_t timer;
    pk_api *api;
    char req[REQ_MAX];
    size_t len;
    int done, open;
} client;

int pk_split_host_port(const char *in, char *host, size_t hostlen, int *port)
{
    const char *colon, *h = in;
    size_t hl;
    if (*in == '[') {
        const char *end = strchr(in, ']');
        if (!end || end[1] != ':')
            return -1;
        h = in + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(in, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - in);
    }
    char *e;
    long p = strtol(colon + 1, &e, 10);
    if (hl == 0 || hl >= hostlen || *e || p < 0 || p > 65535 || colon[1] == 0)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (int)p;
    return 0;
}

static void api_release(pk_api *api)
{
    if (api->closing && !api->server_open && api->clients == 0)
        free(api);
}

static void client_closed(uv_handle_t *h)
{
    client *c = h->data;
    if (--c->open > 0)
        return;
    pk_api *api = c->api;
    if (c->prev)
        c->prev->next = c->next;
    else
        api->list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    api->clients--;
    free(c);
    api_release(api);
}

static void client_close(client *c)
{
    if (c->done)
        return;
    c->done = 1;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, client_closed);
    uv_close((uv_handle_t *)&c->timer, client_closed);
}

typedef struct wr {
    uv_write_t w;
    client *c;
    char *data;
} wr;

static void written(uv_write_t *w, int status)
{
    (void)status;
    wr *r = (wr *)w;
    free(r->data);
    client_close(r->c);
    free(r);
}

static void respond(client *c, int code, const char *type, char *body)
{
    const char *reason = code == 200   ? "OK"
                         : code == 401 ? "Unauthorized"
                         : code == 403 ? "Forbidden"
                         : code == 404 ? "Not Found"
                         : code == 405 ? "Method Not Allowed"
                                       : "Bad Request";
    size_t blen = body ? strlen(body) : 0;
    size_t cap = blen + 256;
    wr *r = malloc(sizeof *r);
    char *out = malloc(cap);
    if (!r || !out) {
        free(r);
        free(out);
        free(body);
        client_close(c);
        return;
    }
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "%sConnection: close\r\n\r\n",
                     code, reason, type, blen, code == 401 ? "WWW-Authenticate: Bearer\r\n" : "");
    memcpy(out + n, body ? body : "", blen);
    free(body);
    r->c = c;
    r->data = out;
    uv_buf_t b = uv_buf_init(out, (unsigned)(n + (int)blen));
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, written) != 0) {
        free(out);
        free(r);
        client_close(c);
    }
}

static void handle(client *c)
{
    char method[16], path[256];
    c->req[c->len] = 0;
    if (sscanf(c->req, "%15s %255s", method, path) != 2) {
        respond(c, 400, "text/plain", strdup("bad request\n"));
        return;
    }
    if (strcmp(method, "GET") != 0) {
        respond(c, 405, "text/plain", strdup("only GET\n"));
        return;
    }
    /* With --api-token, every request carries it (Authorization: Bearer);
     * but the status page itself, which holds no data and asks /status
     * with the token from its URL (#token=...). */
    if (c->api->token[0] && strcmp(path, "/") != 0 && strcmp(path, "/index.html") != 0) {
        const char *auth = strcasestr(c->req, "\nAuthorization:");
        int ok = 0;
        if (auth) {
            auth += 15;
            auth += strspn(auth, " \t");
            size_t tl = strlen(c->api->token);
            ok = strncasecmp(auth, "Bearer ", 7) == 0 && strncmp(auth + 7, c->api->token, tl) == 0 &&
                 (auth[7 + tl] == '\r' || auth[7 + tl] == '\n');
        }
        if (!ok) {
            respond(c, 401, "text/plain", strdup("a bearer token is needed (--api-token)\n"));
            return;
        }
    }
    char *body = NULL;
    const char *type = "text/plain";
    int code = c->api->handler(c->api->ud, path, &body, &type);
    respond(c, code, type, body);
}

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *buf)
{
    (void)s;
    client *c = h->data;
    *buf = uv_buf_init(c->req + c->len, (unsigned)(REQ_MAX - 1 - c->len));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    client *c = st->data;
    if (n < 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = 0;
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
        handle(c);
    } else if (c->len >= REQ_MAX - 1) {
        respond(c, 400, "text/plain", strdup("request too large\n"));
    }
}

static void timeout_cb(uv_timer_t *t) { client_close(t->data); }

static void on_conn(uv_stream_t *server, int status)
{
    pk_api *api = server->data;
    if (status < 0)
        return;
    client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->api = api;
    api->clients++;
    c->next = api->list;
    if (api->list)
        api->list->prev = c;
    api->list = c;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open = 2;
    if (pk_accept_checked(server, &c->tcp, &api->access) == PK_ACCESS_DENIED) {
        client_close(c); /* not on --api-allow: not a word */
        return;
    }
    if (api->clients > API_CLIENTS_MAX) {
        if (api->refused++ % 1000 == 0)
            pk_log(PK_LOG_WARN, "API: more than %d clients at once: closing the extra connections", API_CLIENTS_MAX);
        client_close(c);
        return;
    }
    uv_timer_start(&c->timer, timeout_cb, IDLE_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

int pk_listen_addr(const char *addr, const char *opt, struct sockaddr_storage *sa, char *err, size_t errlen)
{
    char host[128];
    int port;
    if (pk_split_host_port(addr, host, sizeof host, &port)) {
        snprintf(err, errlen, "%s '%s': want HOST:PORT", opt, addr);
        return -1;
    }
    memset(sa, 0, sizeof *sa);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0 || uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0)
        return 0;
    /* A name ("localhost"): resolved once, here, before the loop runs. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0 || !res || res->ai_addrlen > sizeof *sa) {
        snprintf(err, errlen, "%s '%s': %s", opt, addr, gai ? gai_strerror(gai) : "no address");
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (sa->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    return 0;
}

int pk_accept_checked(uv_stream_t *server, uv_tcp_t *client, const pk_access *access)
{
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    if (uv_accept(server, (uv_stream_t *)client) != 0 ||
        uv_tcp_getpeername(client, (struct sockaddr *)&peer, &plen) != 0)
        return PK_ACCESS_DENIED;
    return pk_access_check(access, (struct sockaddr *)&peer);
}

int pk_bound_port(const uv_tcp_t *server)
{
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(server, (struct sockaddr *)&bound, &blen) != 0)
        return -1;
    return ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                             : ((struct sockaddr_in *)&bound)->sin_port);
}

int pk_api_start(uv_loop_t *loop, const char *addr, const pk_access *access, const char *token,
                 pk_api_handler h, void *ud, pk_api **out, char *err, size_t errlen)
{
    if (token && strlen(token) >= sizeof ((pk_api *)0)->token) {
        snprintf(err, errlen, "--api-token: at most %zu characters", sizeof((pk_api *)0)->token - 1);
        return PK_EINVAL;
    }
    *out = NULL;
    struct sockaddr_storage sa;
    if (pk_listen_addr(addr, "--api-listen", &sa, err, errlen))
        return PK_EINVAL;
    int loopback = pk_addr_is_loopback((struct sockaddr *)&sa);
    pk_api *api = calloc(1, sizeof *api);
    if (!api)
        return PK_ENOMEM;
    if (!loopback && (!access || access->n == 0) && !(token && *token)) {
        snprintf(err, errlen,
                 "--api-listen %s is reachable from other machines: give --api-allow ADDRESSES (who may ask) or "
                 "--api-token TOKEN", addr);
        free(api);
        return PK_EINVAL;
    }
    if (access)
        api->access = *access;
    snprintf(api->token, sizeof api->token, "%s", token ? token : "");
    api->handler = h;
    api->ud = ud;
    uv_tcp_init(loop, &api->server);
    api->server.data = api;
    api->server_open = 1;
    int rc = uv_tcp_bind(&api->server, (struct sockaddr *)&sa, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&api->server, 16, on_conn);
    if (rc) {
        snprintf(err, errlen, "--api-listen %s: %s", addr, uv_strerror(rc));
        api->server.data = api;
        uv_close((uv_handle_t *)&api->server, (uv_close_cb)free);
        return rc;
    }
    api->port = pk_bound_port(&api->server);
    if (!loopback)
        pk_log(PK_LOG_WARN, "API listening on %s: reachable from other machines (%s)", addr,
               api->token[0] ? "with the bearer token" : "for the --api-allow addresses");
    *out = api;
    return PK_OK;
}

int pk_api_port(const pk_api *api) { return api->port; }

static void server_closed(uv_handle_t *h)
{
    pk_api *api = h->data;
    api->server_open = 0;
    api_release(api);
}

void pk_api_close(pk_api *api)
{
    if (!api)
        return;
    api->closing = 1;
    for (client *c = api->list; c; c = c->next)
        client_close(c);
    uv_close((uv_handle_t *)&api->server, server_closed);
}
