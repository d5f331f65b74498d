/* Internal to the Stratum client's files (stratum.c: the connection,
 * stratum_proto.c: the protocol) and to its tests, which drive a session
 * without a socket (the fuzz target and unit tests feed it the pool's
 * bytes). */
#ifndef POWKIT_STRATUM_INTERNAL_H
#define POWKIT_STRATUM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "powkit/stratum.h"
#include "powkit/tls.h"

enum req_kind { REQ_CONFIGURE = 1, REQ_SUBSCRIBE, REQ_AUTHORIZE, REQ_EXTRANONCE, REQ_SUGGEST, REQ_SUBMIT, REQ_WORKER };

typedef struct pending {
    uint64_t id;
    int kind;
    uint64_t tag;
    uint64_t sent_ms;
} pending;

#define MAX_PENDING 256
#define PK_STRATUM_HELD_MAX 8

/* One connection attempt; freed once its TCP handle is closed, so late
 * callbacks of a dead attempt find it detached (c->s == NULL). */
typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    pk_stratum *s;
} conn;

struct pk_stratum {
    uv_loop_t *loop;
    pk_stratum_opts o;
    pk_stratum_cb cb;
    char url[512], host[256], port[16], user[256], pass[256];
    int tls_wanted;
    pk_stratum_state state;

    uv_getaddrinfo_t gai;
    int gai_busy;
    struct addrinfo *addrs, *next_addr;
    conn *c;
    pk_tls *tls;
    uv_timer_t timer;
    uint64_t phase_started_ms;

    char *line;
    size_t line_len;

    uint64_t next_id;
    pending pend[MAX_PENDING];
    size_t npend;

    /* session */
    char session_id[128];
    uint8_t en1[PK_EXTRANONCE1_MAX], prev_en1[PK_EXTRANONCE1_MAX];
    size_t en1_len, prev_en1_len, en2_size;
    int subscribed, authorized, configured, resumed;
    double difficulty;
    uint32_t version_mask;
    long reconnect_hint_ms;
    pk_pool_job last_job;
    int have_last_job;
    /* Sessions: a number that changes whenever a subscribe is answered with
     * a session that is not the previous one resumed.  Jobs carry it. */
    uint64_t session;
    /* Jobs that came before the subscribe answer (some pools send notify
     * first): held until the session's extranonce is known. */
    pk_pool_job *held[PK_STRATUM_HELD_MAX];
    size_t nheld;

    void (*closed_cb)(pk_stratum *s, void *ud);
    int closing;
};

static inline uint64_t pk_st_now_ms(pk_stratum *s) { return uv_now(s->loop); }

/* stratum.c */
uint64_t pk_st_request(pk_stratum *s, const char *method, json_t *params, int kind, uint64_t tag);
void pk_st_reply(pk_stratum *s, json_t *id, json_t *result, json_t *error);
void pk_st_drop_held(pk_stratum *s);
void pk_st_fail(pk_stratum *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* stratum_proto.c */
void pk_st_start_session(pk_stratum *s);
int pk_st_take_bytes(pk_stratum *s, const char *data, size_t len);

/* Puts s in the state of a fresh connection whose requests (configure,
 * subscribe, authorize, ...) were just sent, ids 1 upward; what it would
 * write goes nowhere. */
void pk_stratum_begin_offline_session(pk_stratum *s);
/* Bytes as if read from the pool's connection (framed into lines). */
void pk_stratum_feed(pk_stratum *s, const char *data, size_t len);

#endif
