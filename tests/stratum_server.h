/* A scripted Stratum v1 pool for the tests: loopback, ephemeral port, its
 * own thread.  Every submitted share is rebuilt and hashed with OpenSSL's
 * SHA-256 (not powkit's) and judged against the difficulty the job was
 * sent with. */
#ifndef POWKIT_TEST_STRATUM_SERVER_H
#define POWKIT_TEST_STRATUM_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct srv_cfg {
    int port;                /* 0: ephemeral */
    const char *cert_file, *key_file; /* both set: TLS */
    const char *en1_hex;     /* default "f000000d" */
    int en2_size;            /* default 4; set en2_size_set to use 0 */
    int en2_size_set;
    int diff_log2;           /* difficulty 2^diff_log2 */
    int version_rolling;     /* 1 grant mask, 0 refuse, -1 never answer configure */
    uint32_t mask;           /* granted mask (default 0x1fffe000) */
    int no_subscribe_answer; /* never answer subscribe */
    int reject_all;          /* answer every submit false */
    int nagle;               /* leave Nagle on (as some pools do); default TCP_NODELAY */
    /* Hostile or unusual pools: */
    int no_resume;           /* never resume a session: a new extranonce1 every connection */
    int jobs_outlive_sessions; /* job ids are pool-wide: old jobs stay valid, and a share is
                                  rebuilt with the current session's extranonce1 */
    int quiet_after_reconnect; /* no notify at authorize after the first connection */
    int notify_before_subscribe_answer; /* the job comes first, then the subscribe answer
                                           (and none at authorize) */
    /* Soak: per connection, at random, resume or not, the job before the
     * subscribe answer or after authorize, and a disconnect before the
     * subscribe answer, mid-submit, or mid-line (half a notify written);
     * a notify every chaos_notify_ms. */
    unsigned chaos_seed;     /* 0: off */
    int chaos_notify_ms;
} srv_cfg;

typedef struct srv_stats {
    int connections, configures, subscribes, authorizes, extranonce_subscribes, suggests;
    int resumed_subscribes;  /* subscribe carried our session id and kept extranonce1 */
    int submits, valid, invalid, stale, duplicate, bad_format;
    int with_version_bits, version_bits_nonzero, mask_violations;
    int old_job_after_clean; /* cleared-job shares after one for the job that cleared it */
    int answers;             /* answers to our own requests (ping, get_version, unknown) */
    int answer_errors;       /* ... that were JSON-RPC errors */
    char first_method[64], user_agent[64], last_answer[128];
    char user[64], pass[64]; /* the last mining.authorize's */
    int jobs_sent;
    double last_notify_at; /* CLOCK_MONOTONIC seconds when the last notify was written */
    int drops_before_subscribe_answer, drops_mid_submit, drops_mid_line, drops_idle;
    int new_sessions, notify_first;
} srv_stats;

typedef struct srv srv;

srv *srv_start(const srv_cfg *cfg);
int srv_port(const srv *s);
void srv_stop(srv *s);
void srv_stats_get(srv *s, srv_stats *out);

/* Actions, carried out by the server thread in order. */
void srv_notify(srv *s, int clean);
void srv_set_difficulty(srv *s, int log2);
void srv_set_extranonce(srv *s, const char *en1_hex, int size);
void srv_send(srv *s, const char *bytes, size_t len); /* raw, to the client */
void srv_drop_client(srv *s);                         /* close the connection */

/* Waits until pred is true (checked every 5 ms) or timeout; returns pred. */
int srv_wait(srv *s, int (*pred)(const srv_stats *st, void *arg), void *arg, double timeout_s);

/* A self-signed certificate for "localhost" / 127.0.0.1, written as PEM. */
int srv_make_cert(const char *cert_path, const char *key_path);

#endif
