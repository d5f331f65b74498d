/* powkit: one Stratum v1 connection to one pool, on a libuv loop.
 *
 * Lifecycle as in libuv: pk_stratum_new, pk_stratum_connect (again after
 * every `down`), pk_stratum_close with a callback once its handles are
 * closed.  Everything runs on the loop thread; no call blocks.
 *
 * On connect it sends mining.configure (BIP310 version rolling), then
 * mining.subscribe (resuming the previous session id), mining.authorize,
 * mining.extranonce.subscribe and mining.suggest_difficulty as asked,
 * pipelined.  It answers client.get_version, mining.ping and unknown
 * methods; it applies set_difficulty and set_extranonce to the next job,
 * set_version_mask at once.  Lines longer than max_line, a pool that does
 * not answer subscribe or authorize in time, and a refused subscribe or
 * authorize end the connection with a reason; malformed lines and bad
 * jobs are logged and skipped.
 */
#ifndef POWKIT_STRATUM_H
#define POWKIT_STRATUM_H

#include "powkit/export.h"

#include <stdint.h>
#include <uv.h>

#include "powkit/poolwork.h"
#include "powkit/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_stratum pk_stratum;

typedef struct pk_stratum_opts {
    const char *url;        /* stratum+tcp://host:port or stratum+ssl://host:port */
    const char *user, *pass;
    pk_tls_ctx *tls;        /* for stratum+ssl; owned by the caller */
    int no_version_rolling; /* do not send mining.configure's version-rolling */
    int no_extranonce;      /* no mining.extranonce.subscribe / subscribe-extranonce */
    double suggest_difficulty; /* > 0: send mining.suggest_difficulty */
    int allow_redirect;     /* follow client.reconnect to another host */
    unsigned connect_timeout_ms; /* 0: 10 s */
    unsigned request_timeout_ms; /* 0: 30 s (subscribe, authorize, submit) */
    unsigned configure_timeout_ms; /* 0: 5 s; unanswered = no version rolling */
    size_t max_line;        /* 0: 64 KiB */
} pk_stratum_opts;

typedef struct pk_stratum_cb {
    void *ud;
    void (*ready)(pk_stratum *s, void *ud); /* subscribed and authorized */
    /* A new job; the callee owns it (pk_pool_job_free). */
    void (*job)(pk_stratum *s, pk_pool_job *job, void *ud);
    /* The connection ended (or never came up); reason in words. */
    void (*down)(pk_stratum *s, const char *reason, void *ud);
    void (*submit_result)(pk_stratum *s, uint64_t tag, int accepted, const char *reason, void *ud);
    /* The answer to pk_stratum_authorize_worker (NULL: not used). */
    void (*worker_result)(pk_stratum *s, uint64_t tag, int ok, const char *reason, void *ud);
} pk_stratum_cb;

/* Parses the URL; returns 0 or PK_EINVAL with err filled. */
PK_API int pk_stratum_new(uv_loop_t *loop, const pk_stratum_opts *o, const pk_stratum_cb *cb,
                          pk_stratum **out, char *err, size_t errlen);
PK_API int pk_stratum_connect(pk_stratum *s);
/* Ends the connection (no reconnect by itself); `down` is called. */
PK_API void pk_stratum_disconnect(pk_stratum *s, const char *reason);
/* closed(NULL, ud) runs once everything is released (s is freed by then). */
PK_API void pk_stratum_close(pk_stratum *s, void (*closed)(pk_stratum *s, void *ud));

/* Sends mining.submit; the answer comes to submit_result with tag.
 * Returns 0 or PK_EAGAIN when not connected and ready. */
PK_API int pk_stratum_submit(pk_stratum *s, const char *job_id, const pk_submit_fields *f, uint64_t tag);
/* One more worker on this session (a proxy's rigs by name): its answer
 * comes to worker_result with tag; the session stays up if it is refused.
 * Returns 0 or PK_EAGAIN when not ready.  Workers are not authorized again
 * on reconnect by themselves. */
PK_API int pk_stratum_authorize_worker(pk_stratum *s, const char *user, const char *pass, uint64_t tag);
/* mining.submit under another authorized worker's name. */
PK_API int pk_stratum_submit_as(pk_stratum *s, const char *user, const char *job_id, const pk_submit_fields *f,
                                uint64_t tag);

typedef enum {
    PK_STRATUM_IDLE = 0, PK_STRATUM_RESOLVING, PK_STRATUM_CONNECTING, PK_STRATUM_HANDSHAKE,
    PK_STRATUM_SUBSCRIBING, PK_STRATUM_READY,
} pk_stratum_state;

PK_API pk_stratum_state pk_stratum_get_state(const pk_stratum *s);
PK_API const char *pk_stratum_host(const pk_stratum *s); /* host:port now in use */
PK_API const char *pk_stratum_url(const pk_stratum *s);
PK_API double pk_stratum_difficulty(const pk_stratum *s);
PK_API uint32_t pk_stratum_version_mask(const pk_stratum *s); /* 0: no rolling */
/* The current session's number: it changes with every subscribe answered
        * by a session that is not the previous one resumed (0 before the first).
        * Jobs carry the number of the session that sent them. */
PK_API uint64_t pk_stratum_session(const pk_stratum *s);
PK_API int pk_stratum_resumed(const pk_stratum *s); /* last subscribe resumed the session */
/* Milliseconds the pool asked to wait before reconnecting (client.reconnect), or -1. */
PK_API long pk_stratum_reconnect_hint(const pk_stratum *s);

#ifdef __cplusplus
}
#endif
#endif
