/* powkit: a chain validator with its own UTXO set.
 *
 * A pk_chainstate holds what validating a chain needs: the UTXO set (a
 * memory cache over an LMDB database, flushed in one transaction so that a
 * crash leaves the last flushed height), the headers' times and bits (for
 * retargets, median time past and BIP68), and the rules of the chain.
 * Blocks are connected one after the other from genesis; each gets a
 * verdict with Bitcoin Core's reject reason where it is refused:
 *  - the block's own checks (validate.h: proof of work, merkle root,
 *    witness commitment, weight, CheckTransaction);
 *  - the header in context: the previous block, the bits (retarget), the
 *    time against the median of the last 11 and the clock, the version
 *    (BIP34, BIP65, BIP66);
 *  - BIP34's height in the coinbase; nLockTime against the height and
 *    BIP113's median time; BIP30 with Core's two exceptions;
 *  - inputs present and unspent, no double spend inside the block,
 *    coinbase maturity 100, input values in range and not below the
 *    outputs; the coinbase at most subsidy plus fees;
 *  - BIP68 sequence locks (heights and times, from the chain's own);
 *  - every input's script through the interpreter, its signature checks in
 *    the batch verifier, and the block's signature operation cost.
 * A refused block leaves the state as it was.
 *
 * Blocks come from a pk_block_source (a node's RPC, or the caller's own). */
#ifndef POWKIT_CHAIN_H
#define POWKIT_CHAIN_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "powkit/prevouts.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Errors (negative), as elsewhere in powkit. */
enum {
    PK_CHAIN_EIO = -1,      /* the store or the source failed: message says what */
    PK_CHAIN_ESTATE = -2,   /* the store belongs to another chain, or is damaged */
    PK_CHAIN_ESOURCE = -3,  /* the source gave something that is not the next block */
};

/* ---- block sources ---- */

/* A source yields the blocks of one chain in height order.  A new source
 * is a new file: these pointers and a constructor. */
typedef struct pk_block_source pk_block_source;
struct pk_block_source {
    const char *name; /* "node", "datadir", "memory" */
    void *ctx;
    /* The height of the source's last block, or a negative error (err). */
    int64_t (*tip)(pk_block_source *s, char *err, size_t errlen);
    /* Begin at height from, stop after height to (fetching ahead). */
    int (*start)(pk_block_source *s, int64_t from, int64_t to, char *err, size_t errlen);
    /* The next block: 1 with *data (malloc'd; the caller frees) and its
     * height, 0 after the last one, a negative error with err set. */
    int (*next)(pk_block_source *s, int64_t *height, uint8_t **data, size_t *len, char *err, size_t errlen);
    void (*close)(pk_block_source *s); /* frees s too */
    /* Optional (NULL where the source has none), for a run that starts
     * above genesis: the headers of heights 0..n-1 into out; and the
     * outputs the block at height spends, from the source's undo data, in
     * input order with the coinbase's left out (*out n entries and *store
     * their scripts, both malloc'd).  0, or a negative error with err. */
    int (*headers)(pk_block_source *s, int64_t n, uint8_t (*out)[80], char *err, size_t errlen);
    int (*spent)(pk_block_source *s, int64_t height, pk_prevout **out, size_t *n, uint8_t **store, char *err,
                 size_t errlen);
};

typedef struct pk_node_source_opts {
    const char *url;         /* http://127.0.0.1:8332 */
    const char *user, *pass; /* or */
    const char *cookie;      /* NULL with no user: Core's default cookie for the URL's port */
    unsigned ahead;          /* blocks fetched ahead of validation; 0: 32 */
    unsigned parallel;       /* requests in flight; 0: 8 */
} pk_node_source_opts;

/* A node over JSON-RPC (getblockcount, getblockhash, getblock HASH 0),
 * fetched ahead on a thread of its own so the network does not stall
 * validation.  NULL with err set when the options cannot work. */
PK_API pk_block_source *pk_block_source_node(const pk_node_source_opts *o, char *err, size_t errlen);

/* Bitcoin Core's block files, read-only: DIR/blocks/blk*.dat (or DIR the
 * blocks folder), XORed with blocks/xor.dat's key where there is one, in
 * the order of Core's block index (blocks/index, LevelDB, read from a
 * copy: the highest block Core validated fully) or, without an index, the
 * blocks linked by their previous hashes (Core writes them as they
 * arrived) and the chain with the most work from the chain's genesis
 * taken; stale forks and orphans are left out.  Its undo data (rev*.dat:
 * the coins each block spent, in Core's compressed form) gives `spent`,
 * each record matched to its block by its checksum.  NULL with err set. */
PK_API pk_block_source *pk_block_source_datadir(const char *dir, pk_chain chain, char *err, size_t errlen);

/* Blocks the caller holds (block i at height i; kept, not copied). */
PK_API pk_block_source *pk_block_source_memory(const uint8_t *const *blocks, const size_t *lens, size_t n);

/* inner read ahead on a thread of its own, up to depth blocks (0: 16)
 * held: the next block is read while the last one is validated.  Takes
 * inner (closed with it, or at once when this fails: NULL); its name, and
 * its headers and spent where it has them.  inner's calls are made one at
 * a time, so inner needs no locking of its own. */
PK_API pk_block_source *pk_block_source_ahead(pk_block_source *inner, unsigned depth);

/* ---- the chain state ---- */

typedef struct pk_chainstate pk_chainstate;

typedef struct pk_chainstate_opts {
    pk_chain chain;      /* PK_CHAIN_MAIN or PK_CHAIN_REGTEST */
    const char *db_dir;  /* LMDB folder (made if missing); NULL: memory only, nothing kept */
    size_t cache_mb;     /* the coin cache; flushed when over it; 0: 450 */
    double flush_s;      /* also flush after this many seconds; 0: 300 */
    unsigned threads;    /* verification threads; 0: all CPUs */
    int engine;          /* a pk_engine; -1: the default */
    int no_batch;        /* 1: verify Schnorr signatures one by one */
    int policy;          /* Core's standardness flags on the scripts too */
    int64_t now;         /* the clock for "time-too-new"; 0: time() */
    /* A verifier of the caller's to use (its threads, engine and batch
     * setting; threads, engine and no_batch are then ignored), which the
     * caller frees after closing; NULL: the chain state makes its own. */
    struct pk_verifier *verifier;
} pk_chainstate_opts;

/* One block's verdict. */
typedef struct pk_chain_verdict {
    int64_t height;
    uint8_t hash[32];
    int valid;           /* 1 valid, 0 invalid, -1 valid as far as checked (inputs not checked) */
    const char *reason;  /* Core's reject reason when invalid ("bad-txns-inputs-missingorspent", ...) */
    char msg[256];       /* what and where, in words */
    int64_t tx, vin;     /* the transaction and input at fault, -1 when none */
    uint8_t txid[32];    /* of tx, when tx >= 0 */
    uint64_t txs, inputs, signatures, not_checked;
    uint64_t checks;     /* signature checks verified (a multisig's matching may try more than its signatures) */
    /* Block checks; UTXO and context; scripts and signatures: parts of the
     * block's time that add up to it.  The UTXO work runs on the calling
     * thread while the other threads check the block: ms_utxo is that
     * work's time, ms_parse the rest of the stage. */
    double ms_parse, ms_utxo, ms_scripts;
} pk_chain_verdict;

typedef struct pk_chainstate_stats {
    int64_t height;          /* of the last block connected, -1 none */
    int64_t flushed_height;  /* of the last one on disk, -1 none */
    uint64_t coins;          /* unspent outputs (exact once flushed; cached deltas added) */
    uint64_t cache_coins, cache_bytes;
    uint64_t db_reads, db_misses, flushes;
    uint64_t blocks, txs, inputs, signatures, not_checked, upgradable;
    double ms_parse, ms_utxo, ms_scripts, ms_flush;
} pk_chainstate_stats;

/* Opens (or makes) the state; a folder holding another chain's state is
 * refused.  Returns 0, or a negative error with err set. */
PK_API int pk_chainstate_open(pk_chainstate **out, const pk_chainstate_opts *o, char *err, size_t errlen);
/* The height of the last block connected (-1 before genesis). */
PK_API int64_t pk_chainstate_height(const pk_chainstate *cs);
/* Connects the next block (height pk_chainstate_height + 1).  Returns 0
 * when it is valid (or valid as far as checked: v->valid -1), 1 when
 * refused (v says why; the state is unchanged), a negative error. */
PK_API int pk_chainstate_connect(pk_chainstate *cs, const uint8_t *data, size_t len, pk_chain_verdict *v);
/* Takes the next block from src and connects it: as connect, and 2 after
 * the source's last block; err says why for an error. */
PK_API int pk_chainstate_step(pk_chainstate *cs, pk_block_source *src, pk_chain_verdict *v, char *err,
                              size_t errlen);
/* Writes the cached coins and the headers in one database transaction. */
PK_API int pk_chainstate_flush(pk_chainstate *cs, char *err, size_t errlen);
/* 1 when the coin (txid, n) is unspent, with its value and height. */
PK_API int pk_chainstate_coin(pk_chainstate *cs, const uint8_t txid[32], uint32_t n, uint64_t *value,
                              int64_t *height);
/* The same with all of the coin: value, script (valid until the next
 * connect or flush), height, coinbase.  1 when unspent, else 0. */
PK_API int pk_chainstate_coin_get(pk_chainstate *cs, const uint8_t txid[32], uint32_t n, pk_prevout *out);
PK_API void pk_chainstate_get_stats(const pk_chainstate *cs, pk_chainstate_stats *out);
/* A state in memory (no db_dir) started at a height whose blocks it has
 * not seen: tip is the hash the next block builds on, headers the last n
 * (n <= 11 ending at height; 11 for the exact median time), and the coins
 * are given by pk_chainstate_add_coin.  What that context cannot decide
 * (a retarget whose period began before the headers, a BIP68 time lock on
 * an older coin) makes the verdict "valid as far as checked", never valid.
 * The coins are assumed, not validated: for benchmarks and for checking a
 * range against a UTXO set from elsewhere.  Returns 0 or a negative error. */
PK_API int pk_chainstate_assume_tip(pk_chainstate *cs, int64_t height, const uint8_t tip[32],
                                    const uint8_t (*headers)[80], size_t n);
PK_API int pk_chainstate_add_coin(pk_chainstate *cs, const uint8_t txid[32], uint32_t n, uint64_t value,
                                  int64_t height, int coinbase, const uint8_t *script, size_t len);
/* Starts a state in memory (no db_dir) at height from, above genesis,
 * without a UTXO set: the headers below come from src->headers, and before
 * each block pk_chainstate_step adds the coins it spends from src->spent
 * (the source's undo data, checked against its checksums; assumed, not
 * validated here).  Every rule of the blocks from there on is checked.
 * Returns 0, or a negative error (a source without undo data). */
PK_API int pk_chainstate_start_from(pk_chainstate *cs, pk_block_source *src, int64_t from, char *err,
                                    size_t errlen);
/* Flushes (when kept on disk) and frees. */
PK_API void pk_chainstate_close(pk_chainstate *cs);

/* The block subsidy at a height, in satoshis (halvings every 210,000
 * blocks on mainnet, 150 on regtest). */
PK_API uint64_t pk_block_subsidy(pk_chain chain, int64_t height);

#ifdef __cplusplus
}
#endif
#endif
