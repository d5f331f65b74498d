/* A scripted bitcoind for solo-mining fault tests: JSON-RPC over HTTP/1.1
 * on loopback, its own thread, keep-alive and long polls, regtest bits.
 * It answers getblockchaininfo, getblocktemplate (long polls held until
 * the tip moves), submitblock, getblockheader and getblockhash, and its
 * submitblock answers can be scripted: the next answers may be a busy
 * node (HTTP 503), a node warming up (-28), refused credentials (401),
 * no answer at all, "duplicate", or the block accepted with no answer.
 * Every block it accepts is checked with OpenSSL's SHA-256 against its
 * bits and the tip it builds on.  It can also serve a chain of whole
 * blocks (getblockcount, getblockhash, getblock HASH 0) for verify-chain,
 * and ask for credentials, changing them part way as a restarted node
 * writes a new cookie. */
#ifndef POWKIT_TEST_FAKE_NODE_H
#define POWKIT_TEST_FAKE_NODE_H

#include <stddef.h>
#include <stdint.h>

typedef enum fn_mode {
    FN_NORMAL = 0,   /* judge the block and answer */
    FN_BUSY,         /* HTTP 503 "Work queue depth exceeded" */
    FN_WARMUP,       /* JSON-RPC error -28 */
    FN_UNAUTHORIZED, /* HTTP 401 */
    FN_SILENT,       /* close the connection without an answer (block not taken) */
    FN_ACCEPT_SILENT,/* take the block, then close without an answer */
    FN_DUPLICATE,    /* say "duplicate" whatever the block */
} fn_mode;

typedef struct fn_stats {
    int submits;          /* submitblock calls, any answer */
    int accepted;         /* distinct blocks taken into the chain */
    int bad;              /* blocks refused on their merits (high-hash, wrong tip) */
    int templates;
    int64_t height;       /* of the tip */
    size_t largest_body;  /* bytes of the largest request */
    int refused;          /* requests answered 401 for their credentials */
    int getblocks;        /* getblock calls answered with a block */
} fn_stats;

typedef struct fnode fnode;

/* big_tx_bytes > 0 puts one transaction of about that size in every template. */
fnode *fn_start(size_t big_tx_bytes);
int fn_port(const fnode *f);
void fn_stop(fnode *f);
void fn_stats_get(fnode *f, fn_stats *out);
/* The next n submitblock calls get this answer (queued after earlier ones). */
void fn_script(fnode *f, fn_mode mode, int n);
/* Drops the answers still queued by fn_script. */
void fn_script_clear(fnode *f);
/* Every submitblock from now on gets this answer (FN_NORMAL to end it). */
void fn_always(fnode *f, fn_mode mode);
/* 1 when the block with this hash (hex, as RPC shows it) is in the chain;
 * 0 when the node never took it. */
int fn_in_chain(fnode *f, const char *hash_hex);
/* Every hash the node ever received in a submitblock (hex), with a count. */
size_t fn_received(fnode *f, char (*out)[65], size_t max);

/* While held, getblocktemplate answers "downloading blocks" (-10). */
void fn_hold_templates(fnode *f, int hold);
/* The RPC methods called so far, space-separated; clear to start anew. */
void fn_events(fnode *f, char *out, size_t len, int clear);

/* Serves these blocks (block i at height i; kept, not copied) to
 * getblockcount, getblockhash and getblock instead of its own chain. */
void fn_serve_chain(fnode *f, const uint8_t *const *blocks, const size_t *lens, size_t n);
/* From now on a request without HTTP basic credentials user:password
 * (userpwd) is answered 401; NULL: none asked. */
void fn_require_auth(fnode *f, const char *userpwd);
/* After the getblock call number after_getblocks, the node "restarts":
 * writes userpwd into cookie_path and asks for it from then on. */
void fn_rotate_auth(fnode *f, int after_getblocks, const char *userpwd, const char *cookie_path);

#endif
