/* powkit: a tiny read-only HTTP endpoint on the miner's libuv loop, for
 * `--api-listen`.  GET / is a status page, GET /status answers JSON, GET
 * /metrics Prometheus text; anything else 404 (or 405 for another method).  A request must fit in
 * 8 KiB and arrive within 5 s; one request per connection. */
#ifndef POWKIT_API_H
#define POWKIT_API_H

#include "powkit/export.h"

#include <stddef.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_api pk_api;

/* Fills *body (malloc'd) and *type for a path; returns the HTTP status. */
typedef int (*pk_api_handler)(void *ud, const char *path, char **body, const char **type);

struct pk_access;

/* addr is "host:port", "[v6]:port" or "name:port" (resolved once, now).
 * Peers not allowed by access (NULL: loopback only) are closed unanswered;
 * with a token, every request needs "Authorization: Bearer TOKEN" (401
 * without).  A bind that other machines can reach needs access rules or a
 * token.  Returns 0 or a negative libuv or PK_E* code with err filled. */
PK_API int pk_api_start(uv_loop_t *loop, const char *addr, const struct pk_access *access, const char *token,
                        pk_api_handler h, void *ud, pk_api **out, char *err, size_t errlen);
/* Port actually bound (useful with port 0). */
PK_API int pk_api_port(const pk_api *api);
PK_API void pk_api_close(pk_api *api);

/* An address to listen on, "host:port", "[v6]:port" or "name:port" (a
 * name is resolved now, blocking: call it before the loop runs).  opt
 * names the option in the message.  Returns 0, or -1 with err filled. */
struct sockaddr_storage;
PK_API int pk_listen_addr(const char *addr, const char *opt, struct sockaddr_storage *sa, char *err, size_t errlen);
/* Accepts a connection on server into client (initialised) and says what
 * its peer may do under access (access.h: PK_ACCESS_DENIED when the
 * accept itself failed). */
PK_API int pk_accept_checked(uv_stream_t *server, uv_tcp_t *client, const struct pk_access *access);
/* The port a listening handle got (useful with port 0); -1 if unknown. */
PK_API int pk_bound_port(const uv_tcp_t *server);

/* Splits "host:port" / "[v6]:port"; returns 0 or -1. */
PK_API int pk_split_host_port(const char *in, char *host, size_t hostlen, int *port);

#ifdef __cplusplus
}
#endif
#endif
