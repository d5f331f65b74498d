/* powkit: HTTP POST on a libuv loop through libcurl's multi-socket
 * interface: curl says which sockets to watch and when to time out, the
 * loop watches them (uv_poll, uv_timer), nothing blocks.  Lifecycle as in
 * libuv: pk_http_new, requests, pk_http_close with a callback. */
#ifndef POWKIT_HTTP_H
#define POWKIT_HTTP_H

#include "powkit/export.h"

#include <stddef.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_http pk_http;

/* status: the HTTP status (0 when the transfer failed: error says why).
 * body is NUL-terminated and freed after the callback. */
typedef void (*pk_http_cb)(void *ud, long status, const char *body, size_t len, const char *error);

PK_API pk_http *pk_http_new(uv_loop_t *loop);
/* userpwd "user:password" or NULL; timeout_ms 0: none (long polls).
 * Responses over 32 MiB are cut off with an error.  Returns 0 or -1. */
PK_API int pk_http_post(pk_http *h, const char *url, const char *userpwd, const char *body, long timeout_ms,
                        pk_http_cb cb, void *ud);
/* Aborts transfers in flight: their callbacks run now with status 0 and
 * error "closed", so their owners can release what they hold. */
PK_API void pk_http_close(pk_http *h, void (*closed)(void *arg), void *arg);

/* A node's RPC credentials as "user:password" into userpwd: user and pass
 * when either is given, else read from the cookie file (cookie, or Bitcoin
 * Core's for the URL's port: ~/.bitcoin/.cookie, or testnet3/, regtest/,
 * signet/ below it), whose path goes to cookie_path ("" otherwise) so it
 * can be read again.  Returns 0, or -1 with err saying what to give. */
PK_API int pk_rpc_credentials(const char *url, const char *user, const char *pass, const char *cookie,
                              char *userpwd, size_t len, char *cookie_path, size_t cplen, char *err,
                              size_t errlen);
/* Reads "user:password" from a cookie file into userpwd.  Returns 0, or
 * -1 with err saying what to give instead. */
PK_API int pk_rpc_cookie_read(const char *path, char *userpwd, size_t len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
