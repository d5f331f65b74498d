/* powkit: a Stratum v1 proxy for a farm's rigs over one upstream pool
 * connection (`powkit proxy`).
 *
 * Upstream, the pool set `powkit mine` uses (include/powkit/pool.h): one
 * Stratum session to the first pool that works, the others in order when
 * it fails, back to a higher one once it has stayed up.  Downstream, a Stratum v1 server: each rig gets
 * extranonce1 = the upstream extranonce1 + a prefix of its own carved from
 * the upstream extranonce2 space, and the rest of that space as its
 * extranonce2.  Every upstream job goes to every rig at once; each rig has
 * its own difficulty (vardiff toward a share rate); every share is
 * rebuilt and hashed here before anything goes upstream, and only shares
 * that meet the upstream difficulty are forwarded, the pool's answer going
 * back to the rig that found it.
 *
 * Everything runs on one libuv loop; nothing blocks it.  Lifecycle as in
 * libuv: pk_proxy_new, pk_proxy_start, pk_proxy_close (callback once every
 * handle is closed), pk_proxy_free.
 */
#ifndef POWKIT_PROXY_H
#define POWKIT_PROXY_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "powkit/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_proxy_opts {
    pk_pool_cfg pools[PK_POOLS_MAX]; /* upstream, in priority order */
    size_t npools;
    const char *ca_file;             /* stratum+ssl upstream */
    int insecure;
    const char *listen;              /* "host:port" for the rigs (port 0: any) */
    const char *listen_cert, *listen_key; /* both: the rigs connect over TLS (PEM files) */
    unsigned max_clients;            /* 0: 1024 */
    double share_rate_s;             /* vardiff: one share per this many seconds (0: 10) */
    double min_difficulty;           /* vardiff floor (0: 1/65536) */
    double start_difficulty;         /* a rig's first difficulty (0: the pool's) */
    unsigned retarget_s;             /* vardiff window (0: 30 s) */
    unsigned idle_timeout_s;         /* a rig silent this long is dropped (0: 600) */
    size_t max_line;                 /* longest line a rig may send (0: 16 KiB) */
    size_t max_write_queue;          /* bytes queued to a rig before it is dropped (0: 256 KiB) */
    unsigned write_stall_s;          /* a rig that takes nothing it is sent this long is dropped (0: 60) */
    unsigned max_conn_per_min;       /* new connections per address per minute (0: 120) */
    unsigned backoff_min_ms, backoff_max_ms; /* upstream reconnects (0: 1000, 30000) */
    int pass_workers;                /* each rig's worker goes upstream as ACCOUNT.WORKER (authorized
                                        there; its shares sent under it); 0: every share as ACCOUNT */
    unsigned connect_timeout_ms, request_timeout_ms; /* upstream (0: defaults) */
    /* On a backup, a higher pool is tried again with the back-off above
     * and taken back once it has stayed up this long (0: 30). */
    double failback_stable_s;
    /* The upstream's extranonce2 space cannot hold --max-clients prefixes
     * and a 2-byte extranonce2 per rig: the proxy stops; why in words. */
    void (*on_fatal)(void *arg, const char *why);
    void *fatal_arg;
} pk_proxy_opts;

typedef struct pk_proxy_rig_stats {
    uint64_t id;
    char addr[64], worker[64];
    double difficulty;
    double hashrate;            /* from accepted shares over the last window (H/s) */
    uint64_t accepted, rejected, stale, duplicate, low_difficulty, forwarded, upstream_rejected;
    double last_share;          /* unix seconds, 0: none */
    double connected_s;         /* seconds since it connected */
    char extranonce1[2 * 40 + 1];
    unsigned extranonce2_size;
    uint32_t version_mask;
} pk_proxy_rig_stats;

typedef struct pk_proxy_stats {
    size_t rigs;                /* connected */
    uint64_t connections, refused;   /* accepted ever; refused (limits) */
    uint64_t accepted, rejected, stale, forwarded, upstream_accepted, upstream_rejected;
    uint64_t notifies;          /* upstream jobs fanned out */
    double hashrate;            /* sum over rigs (H/s) */
    char upstream[512];         /* URL of the pool in use ("" when none) */
    int upstream_ready;
    double upstream_difficulty;
    unsigned prefix_bytes, rig_extranonce2_size;
    double last_fanout_s;       /* the last job: from its arrival to the last rig's socket write */
} pk_proxy_stats;

typedef struct pk_proxy pk_proxy;

/* Returns 0, or PK_EINVAL with err filled (bad URL, listen address, TLS). */
PK_API int pk_proxy_new(uv_loop_t *loop, const pk_proxy_opts *o, pk_proxy **out, char *err, size_t errlen);
/* Binds the listening socket and connects upstream.  Returns 0 or a
 * negative libuv/PK_E* code with err filled. */
PK_API int pk_proxy_start(pk_proxy *px, char *err, size_t errlen);
/* Port the rigs connect to (useful with port 0). */
PK_API int pk_proxy_port(const pk_proxy *px);
/* Closes every connection; closed(arg) runs once all handles are closed. */
PK_API void pk_proxy_close(pk_proxy *px, void (*closed)(void *arg), void *arg);
PK_API void pk_proxy_free(pk_proxy *px);

/* On the loop thread. */
PK_API void pk_proxy_stats_get(pk_proxy *px, pk_proxy_stats *out);
/* Up to max rigs' figures; returns how many were written. */
PK_API size_t pk_proxy_rigs_get(pk_proxy *px, pk_proxy_rig_stats *out, size_t max);
/* /status JSON and /metrics text (malloc'd), for the API. */
PK_API char *pk_proxy_status_json(pk_proxy *px);
PK_API char *pk_proxy_metrics(pk_proxy *px);

#ifdef __cplusplus
}
#endif
#endif
