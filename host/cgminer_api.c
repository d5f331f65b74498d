/* cgminer's API on the miner's loop (see include/powkit/cgminer_api.h). */
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "powkit/access.h"
#include "powkit/api.h"
#include "powkit/cgminer_api.h"
#include "powkit/error.h"
#include "powkit/log.h"

#define REQ_MAX 4096
#define IDLE_MS 5000
#define CLIENTS_MAX 32

struct pk_cgminer_api {
    uv_tcp_t server;
    pk_cg_handler handler;
    pk_cpuminer_handler text_handler; /* set: cpuminer's protocol */
    void *ud;
    pk_access access;
    char description[64];
    int port;
    unsigned clients;
    struct cg_client *list;
    int closing, server_gone;
};

typedef struct cg_client {
    struct cg_client *next, *prev;
    pk_cgminer_api *api;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t w;
    char req[REQ_MAX];
    size_t len;
    char *out;
    int privileged, answered, open;
} cg_client;

/* ---- replies ---- */

static json_t *status_obj(const pk_cg_reply *r, const char *description)
{
    return json_pack("{s:s#, s:I, s:i, s:s, s:s}", "STATUS", &r->status, (size_t)1, "When", (json_int_t)time(NULL),
                     "Code", r->code, "Msg", r->msg, "Description", description);
}

static void put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (!*buf)
        return;
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb) {
            free(*buf);
            *buf = NULL;
            return;
        }
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
}

/* cgminer's plain form: "K=V,K=V" per object; strings as they are, with
 * the separators ',', '|', '=' and '\' escaped by '\' as cgminer does. */
static void plain_value(char **buf, size_t *len, size_t *cap, const char *s)
{
    for (; *s; s++) {
        if (*s == ',' || *s == '|' || *s == '=' || *s == '\\')
            put(buf, len, cap, "\\", 1);
        put(buf, len, cap, s, 1);
    }
}

static void plain_object(char **buf, size_t *len, size_t *cap, json_t *o)
{
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(o, k, v) {
        if (!first)
            put(buf, len, cap, ",", 1);
        first = 0;
        plain_value(buf, len, cap, k);
        put(buf, len, cap, "=", 1);
        char num[64];
        if (json_is_string(v)) {
            plain_value(buf, len, cap, json_string_value(v));
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            put(buf, len, cap, num, strlen(num));
        } else if (json_is_real(v)) {
            snprintf(num, sizeof num, "%.2f", json_real_value(v));
            put(buf, len, cap, num, strlen(num));
        } else if (json_is_boolean(v)) {
            put(buf, len, cap, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5);
        }
    }
}

/* An object whose first key names what it is ("POOL=0", "GPU=1") stands
 * alone in the plain form; others are preceded by their section. */
static int self_named(json_t *o)
{
    static const char *keys[] = {"POOL", "GPU", "ASC", "PGA", "CPU", "STATS"};
    void *it = json_object_iter(o);
    const char *k = it ? json_object_iter_key(it) : "";
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(k, keys[i]) == 0)
            return 1;
    return 0;
}

static const char *const privileged_commands[] = {"switchpool", "enablepool", "disablepool", "addpool",
                                                  "removepool", "quit", "restart"};

static void run_one(const char *cmd, const char *param, int privileged, pk_cg_handler h, void *ud, pk_cg_reply *r)
{
    memset(r, 0, sizeof *r);
    r->status = 'S';
    int priv_cmd = 0;
    for (size_t i = 0; i < sizeof privileged_commands / sizeof privileged_commands[0]; i++)
        priv_cmd |= strcmp(cmd, privileged_commands[i]) == 0;
    if (priv_cmd && !privileged) {
        r->status = 'E';
        r->code = 45;
        snprintf(r->msg, sizeof r->msg, "Access denied to '%s' command", cmd);
        return;
    }
    h(ud, cmd, param ? param : "", privileged, r);
    if (r->code == 0) {
        json_decref(r->items);
        memset(r, 0, sizeof *r);
        r->status = 'E';
        r->code = 14;
        snprintf(r->msg, sizeof r->msg, "Invalid command");
    }
}

char *pk_cgminer_reply(const char *request, int privileged, const char *description, pk_cg_handler h, void *ud)
{
    char line[REQ_MAX];
    snprintf(line, sizeof line, "%s", request);
    /* Trim the line: a trailing newline or spaces are not part of it. */
    size_t n = strlen(line);
    while (n && isspace((unsigned char)line[n - 1]))
        line[--n] = 0;
    char *start = line + strspn(line, " \t");
    int is_json = *start == '{';
    char commands[REQ_MAX] = "", param[REQ_MAX] = "";
    if (is_json) {
        json_error_t je;
        json_t *req = json_loads(start, 0, &je);
        const json_t *c = json_object_get(req, "command"), *p = json_object_get(req, "parameter");
        if (json_is_string(c))
            snprintf(commands, sizeof commands, "%s", json_string_value(c));
        if (json_is_string(p))
            snprintf(param, sizeof param, "%s", json_string_value(p));
        else if (json_is_integer(p))
            snprintf(param, sizeof param, "%lld", (long long)json_integer_value(p));
        json_decref(req);
        if (!commands[0]) {
            pk_cg_reply r = {.status = 'E', .code = 23};
            snprintf(r.msg, sizeof r.msg, "Invalid JSON");
            json_t *o = json_pack("{s:[o], s:i}", "STATUS", status_obj(&r, description), "id", 1);
            char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
            return s;
        }
    } else {
        char *bar = strchr(start, '|');
        if (bar) {
            *bar = 0;
            snprintf(param, sizeof param, "%s", bar + 1);
        }
        snprintf(commands, sizeof commands, "%s", start);
    }
    for (char *q = commands; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    int joined = strchr(commands, '+') != NULL;
    json_t *all = json_object();
    char *plain = malloc(256);
    size_t plen = 0, pcap = 256;
    if (plain)
        plain[0] = 0;
    char *save = NULL;
    for (char *cmd = strtok_r(commands, "+", &save); cmd; cmd = strtok_r(NULL, "+", &save)) {
        pk_cg_reply r;
        run_one(cmd, joined ? "" : param, privileged, h, ud, &r); /* joined commands take no parameter */
        json_t *one = json_object();
        json_object_set_new(one, "STATUS", json_pack("[o]", status_obj(&r, description)));
        if (r.section && r.items)
            json_object_set(one, r.section, r.items);
        json_object_set_new(one, "id", json_integer(1));
        if (joined)
            json_object_set_new(all, cmd, json_pack("[o]", one));
        else
            json_object_update(all, one), json_decref(one);
        /* the plain form of the same */
        json_t *st = status_obj(&r, description);
        plain_object(&plain, &plen, &pcap, st);
        json_decref(st);
        put(&plain, &plen, &pcap, "|", 1);
        size_t i;
        json_t *item;
        json_array_foreach(r.items, i, item) {
            if (!self_named(item) && r.section) {
                put(&plain, &plen, &pcap, r.section, strlen(r.section));
                put(&plain, &plen, &pcap, ",", 1);
            }
            plain_object(&plain, &plen, &pcap, item);
            put(&plain, &plen, &pcap, "|", 1);
        }
        json_decref(r.items);
    }
    if (is_json) {
        free(plain);
        char *s = json_dumps(all, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(all);
        return s;
    }
    json_decref(all);
    return plain;
}

/* ---- the server ---- */

static void client_closed(uv_handle_t *h)
{
    cg_client *c = h->data;
    if (--c->open > 0)
        return;
    pk_cgminer_api *api = c->api;
    if (c->prev)
        c->prev->next = c->next;
    else
        api->list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    api->clients--;
    free(c->out);
    free(c);
    if (api->server_gone && api->clients == 0)
        free(api); /* the last one out */
}

static void client_close(cg_client *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    uv_close((uv_handle_t *)&c->tcp, client_closed);
    uv_close((uv_handle_t *)&c->timer, client_closed);
}

static void written(uv_write_t *w, int status)
{
    (void)status;
    client_close(w->data);
}

static void answer(cg_client *c)
{
    if (c->answered)
        return;
    c->answered = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->req[c->len] = 0;
    if (c->api->text_handler) {
        /* cpuminer's "command|params" */
        char cmd[64], *param = strchr(c->req, '|');
        size_t n = param ? (size_t)(param - c->req) : strcspn(c->req, "\r\n");
        snprintf(cmd, sizeof cmd, "%.*s", (int)(n < sizeof cmd ? n : sizeof cmd - 1), c->req);
        for (char *q = cmd; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        if (param)
            param[strcspn(param, "\r\n")] = 0;
        c->out = c->api->text_handler(c->api->ud, cmd, param ? param + 1 : "", c->privileged);
        if (!c->out)
            c->out = strdup("");
    } else {
        c->out = pk_cgminer_reply(c->req, c->privileged, c->api->description, c->api->handler, c->api->ud);
    }
    if (!c->out) {
        client_close(c);
        return;
    }
    /* The NUL is part of the reply: cgminer's clients read up to it. */
    uv_buf_t b = uv_buf_init(c->out, (unsigned)strlen(c->out) + 1);
    c->w.data = c;
    if (uv_write(&c->w, (uv_stream_t *)&c->tcp, &b, 1, written) != 0)
        client_close(c);
}

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *buf)
{
    (void)s;
    cg_client *c = h->data;
    *buf = uv_buf_init(c->req + c->len, (unsigned)(REQ_MAX - 1 - c->len));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    cg_client *c = st->data;
    if (n == UV_EOF && c->len > 0) {
        answer(c); /* the client wrote its request and shut its side */
        return;
    }
    if (n < 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = 0;
    /* A request ends at a newline, a NUL, or a complete JSON object. */
    if (memchr(c->req, '\n', c->len) || strlen(c->req) < c->len || c->len >= REQ_MAX - 1) {
        answer(c);
        return;
    }
    json_error_t je;
    const char *s = c->req + strspn(c->req, " \t\r");
    if (*s == '{') {
        json_t *j = json_loads(s, JSON_DISABLE_EOF_CHECK, &je);
        if (j) {
            json_decref(j);
            answer(c);
        }
    }
}

static void timeout_cb(uv_timer_t *t)
{
    cg_client *c = t->data;
    if (c->len > 0 && !c->answered)
        answer(c); /* a plain word without a newline: what cgminer's clients send */
    else
        client_close(c);
}

static void server_closed(uv_handle_t *h);

static void on_conn(uv_stream_t *server, int status)
{
    pk_cgminer_api *api = server->data;
    if (status < 0)
        return;
    cg_client *c = calloc(1, sizeof *c);
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
    int level = pk_accept_checked(server, &c->tcp, &api->access);
    if (level == PK_ACCESS_DENIED || api->clients > CLIENTS_MAX) {
        client_close(c);
        return;
    }
    c->privileged = level == PK_ACCESS_WRITE;
    /* cgminer's clients often send a bare word and wait: answer after a
     * short pause when no newline comes. */
    uv_timer_start(&c->timer, timeout_cb, 300, 0);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static int start(uv_loop_t *loop, const char *addr, const pk_access *access, const char *description,
                 pk_cg_handler h, pk_cpuminer_handler th, void *ud, pk_cgminer_api **out, char *err, size_t errlen);

int pk_cgminer_api_start(uv_loop_t *loop, const char *addr, const pk_access *access, const char *description,
                         pk_cg_handler h, void *ud, pk_cgminer_api **out, char *err, size_t errlen)
{
    return start(loop, addr, access, description, h, NULL, ud, out, err, errlen);
}

int pk_cpuminer_api_start(uv_loop_t *loop, const char *addr, const pk_access *access, pk_cpuminer_handler h,
                          void *ud, pk_cgminer_api **out, char *err, size_t errlen)
{
    return start(loop, addr, access, "", NULL, h, ud, out, err, errlen);
}

static int start(uv_loop_t *loop, const char *addr, const pk_access *access, const char *description,
                 pk_cg_handler h, pk_cpuminer_handler th, void *ud, pk_cgminer_api **out, char *err, size_t errlen)
{
    const char *opt = th ? "--api-bind" : "--cgminer-api";
    *out = NULL;
    struct sockaddr_storage sa;
    if (pk_listen_addr(addr, opt, &sa, err, errlen))
        return PK_EINVAL;
    if (!pk_addr_is_loopback((struct sockaddr *)&sa) && (!access || access->n == 0)) {
        snprintf(err, errlen, "%s %s is reachable from other machines: give --api-allow [W:]ADDRESS[/PREFIX],...",
                 opt, addr);
        return PK_EINVAL;
    }
    pk_cgminer_api *api = calloc(1, sizeof *api);
    if (!api)
        return PK_ENOMEM;
    api->handler = h;
    api->text_handler = th;
    api->ud = ud;
    if (access)
        api->access = *access;
    snprintf(api->description, sizeof api->description, "%s", description);
    uv_tcp_init(loop, &api->server);
    api->server.data = api;
    int rc = uv_tcp_bind(&api->server, (struct sockaddr *)&sa, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&api->server, 16, on_conn);
    if (rc) {
        snprintf(err, errlen, "%s %s: %s", opt, addr, uv_strerror(rc));
        api->closing = 1;
        uv_close((uv_handle_t *)&api->server, server_closed);
        return rc;
    }
    api->port = pk_bound_port(&api->server);
    pk_log(PK_LOG_INFO, "%s API on %s (port %d)", th ? "cpuminer" : "cgminer", addr, api->port);
    *out = api;
    return 0;
}

int pk_cgminer_api_port(const pk_cgminer_api *api) { return api ? api->port : -1; }

static void server_closed(uv_handle_t *h)
{
    pk_cgminer_api *api = h->data;
    api->server_gone = 1;
    if (api->clients == 0)
        free(api);
}

void pk_cgminer_api_close(pk_cgminer_api *api)
{
    if (!api || api->closing)
        return;
    api->closing = 1;
    /* A reply being written finishes first (quit's own, above all). */
    for (cg_client *c = api->list; c; c = c->next)
        if (!c->answered)
            client_close(c);
    uv_close((uv_handle_t *)&api->server, server_closed);
}
