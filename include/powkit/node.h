/* powkit: solo mining against a local node (getblocktemplate), as a work
 * source.  It learns the chain (getblockchaininfo), takes templates with
 * {"rules": ["segwit"]} and long-polls for the next one, builds the
 * coinbase (include/powkit/coinbase.h), and when a device finds a block,
 * writes it to blocks_dir first, then submits it, and resubmits while the
 * node cannot be reached: a found block is never lost. */
#ifndef POWKIT_NODE_H
#define POWKIT_NODE_H

#include "powkit/export.h"

#include <stdint.h>
#include <uv.h>

#include "powkit/dispatcher.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_node_opts {
    const char *url;          /* http://127.0.0.1:8332 */
    const char *user, *pass;  /* --rpc-user/--rpc-password */
    const char *cookie;       /* --rpc-cookie; NULL: the default for the URL's port */
    const char *address;      /* payout address (checked against the node's chain) */
    const char *payout_script_hex; /* or a raw scriptPubKey */
    const char *coinbase_tag;
    const char *blocks_dir;   /* NULL: "blocks" */
    unsigned refresh_s;       /* new template for new transactions; 0: 30 */
    unsigned max_blocks;      /* stop after this many accepted (0: never) */
    unsigned retry_min_ms, retry_max_ms; /* 0: 1 s, 30 s */
} pk_node_opts;

typedef struct pk_node_stats {
    uint64_t templates, blocks_found, blocks_accepted, blocks_rejected, submit_retries;
    int64_t height; /* of the template being mined, -1 before the first */
    /* Found nonce (device thread) to submitblock handed to libcurl, which
     * includes writing the block to disk: last, max and mean. */
    double found_to_submit_ms, found_to_submit_max_ms, found_to_submit_sum_ms;
    char chain[16];
    char last_result[128];
} pk_node_stats;

typedef struct pk_node pk_node;

/* fatal(arg, message) is called (on the loop) when mining cannot go on:
 * wrong credentials, an address for another chain; done(arg) when
 * max_blocks were accepted. */
typedef struct pk_node_events {
    void *arg;
    void (*fatal)(void *arg, const char *message);
    void (*done)(void *arg);
} pk_node_events;

PK_API int pk_node_new(uv_loop_t *loop, const pk_node_opts *o, const pk_node_events *ev, pk_node **out,
                       char *err, size_t errlen);
PK_API pk_source *pk_node_source(pk_node *n);
PK_API void pk_node_attach(pk_node *n, pk_dispatcher *d);
PK_API int pk_node_start(pk_node *n);
PK_API void pk_node_close(pk_node *n, void (*closed)(void *arg), void *arg);
PK_API void pk_node_get_stats(pk_node *n, pk_node_stats *out);
/* When the template that became job seq (a pk_range's job_id) arrived
 * from the node (pk_now() seconds), or 0 if it is no longer held. */
PK_API double pk_node_template_time(pk_node *n, uint64_t seq);

#ifdef __cplusplus
}
#endif
#endif
