/* powkit: block and header validation, for nodes that offload it.
 *
 * Parse a block (legacy or segwit serialization, BIP144) with strict
 * bounds, hash its transactions many at a time, and check it: proof of
 * work, merkle root (with the CVE-2012-2459 mutation), witness commitment
 * (BIP141), coinbase placement, weight and size, duplicate txids.  Check
 * header chains: links, proof of work, retargets (mainnet rule; test and
 * regtest rules as options), median time past.
 *
 * Errors are codes plus words: pk_verror says what, where (byte offset or
 * height) and, for consensus failures, the reason string Bitcoin Core uses
 * ("high-hash", "bad-txnmrklroot", ...).
 */
#ifndef POWKIT_VALIDATE_H
#define POWKIT_VALIDATE_H

#include "powkit/export.h"
#include "powkit/util.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pk_vcode {
    PK_V_OK = 0,
    PK_V_TRUNCATED,      /* data ends before the structure does */
    PK_V_OVERSIZE,       /* a count or length larger than the data or the limits */
    PK_V_NONCANONICAL,   /* a CompactSize not in its shortest form */
    PK_V_TRAILING,       /* bytes after the last transaction */
    PK_V_BAD_WITNESS,    /* witness flag without witnesses, unknown flag */
    PK_V_BAD_BITS,       /* negative, overflowing or zero compact target, or above the limit */
    PK_V_HIGH_HASH,      /* hash above the target */
    PK_V_MERKLE,         /* merkle root mismatch */
    PK_V_MUTATED,        /* duplicate adjacent merkle nodes (CVE-2012-2459) */
    PK_V_WITNESS_COMMITMENT,
    PK_V_COINBASE,       /* first not a coinbase, or a second one */
    PK_V_WEIGHT,         /* block weight or size over the limit */
    PK_V_DUPLICATE_TX,
    PK_V_PREV_LINK,      /* header does not commit to the previous one */
    PK_V_RETARGET,       /* bits not what the difficulty rule gives */
    PK_V_TIME,           /* timestamp not above the median of the last 11 */
    PK_V_EMPTY,
    PK_V_IO,
    PK_V_SIGOPS,         /* signature operation cost over the limit */
    PK_V_BAD_TX,         /* a transaction breaks Core's CheckTransaction */
} pk_vcode;

typedef struct pk_verror {
    pk_vcode code;
    const char *reason; /* Bitcoin Core's reject reason where one exists */
    size_t offset;      /* byte offset into the data, for parse errors */
    int64_t height;     /* for header chains, -1 if not known */
    char msg[200];
} pk_verror;

PK_API const char *pk_vcode_name(pk_vcode c);

typedef struct pk_tx {
    size_t offset, size;   /* the whole serialization in the block */
    size_t base_size;      /* without marker, flag and witnesses */
    int has_witness;
    uint32_t n_in, n_out;
    /* Where the parts of the stripped (txid) serialization are. */
    size_t io_offset, io_size; /* inputs and outputs, from the input count */
    size_t lock_offset;
    size_t wit_offset, wit_size; /* witness section (0 size: none) */
    size_t first_in_offset;      /* the first input (coinbase detection) */
    size_t out_offset;           /* first output's value */
    uint8_t txid[32], wtxid[32];
} pk_tx;

typedef struct pk_block {
    const uint8_t *data;
    size_t size;
    size_t ntx;
    pk_tx *tx;
    size_t base_size; /* stripped serialization of the block */
    size_t weight;
    uint64_t n_inputs, n_outputs, n_witness_tx;
    int hashed; /* txids and wtxids are filled */
} pk_block;

/* Parses data (kept, not copied) into b.  Returns 0 or -1 with e set. */
PK_API int pk_block_parse(pk_block *b, const uint8_t *data, size_t len, pk_verror *e);
PK_API void pk_block_free(pk_block *b);
/* Fills txid and wtxid of every transaction (many at a time). */
PK_API void pk_block_hash_txs(pk_block *b);

/* pk_block_hash_txs on pool's threads (NULL: the calling thread's). */
PK_API void pk_block_hash_txs_on(pk_block *b, const pk_pool *pool);

/* Parses exactly one transaction (the whole of data, strict bounds as in
 * a block; its offsets are into data).  Returns 0 or -1 with e set. */
PK_API int pk_tx_parse(pk_tx *t, const uint8_t *data, size_t len, pk_verror *e);
/* Fills t's txid and wtxid (one transaction; data as parsed). */
PK_API void pk_tx_hash(const uint8_t *data, pk_tx *t);

/* Where each input of a parsed transaction is: offsets into the block's
 * data of the outpoint, the scriptSig (and its length), the sequence, and
 * the input's witness stack (its item count; 0 when the transaction has
 * no witnesses). */
typedef struct pk_txin_ref {
    size_t prevout, script, script_len, sequence, witness;
} pk_txin_ref;
/* Fills ins (n_in entries); returns the offset of the output count. */
PK_API size_t pk_tx_inputs(const pk_block *b, const pk_tx *t, pk_txin_ref *ins);
/* A CompactSize at *pos of data already parsed (no bounds checks). */
PK_API uint64_t pk_compact_get(const uint8_t *d, size_t *pos);

/* Header helpers. */
PK_API void pk_header_hash(const uint8_t header[80], uint8_t out[32]);
PK_API uint32_t pk_header_version(const uint8_t h[80]);
PK_API uint32_t pk_header_time(const uint8_t h[80]);
PK_API uint32_t pk_header_bits(const uint8_t h[80]);

typedef enum { PK_CHAIN_MAIN = 0, PK_CHAIN_TEST, PK_CHAIN_REGTEST } pk_chain;

typedef struct pk_chain_params {
    pk_chain chain;
    uint8_t pow_limit[32];
    int no_retarget;       /* regtest */
    int min_difficulty;    /* testnet's 20-minute rule */
    int64_t spacing, timespan; /* 600 s, 2 weeks */
} pk_chain_params;

PK_API void pk_chain_params_init(pk_chain_params *p, pk_chain chain);
/* "main", "test", "regtest". */
PK_API int pk_chain_parse(const char *name, pk_chain *out);

/* Proof of work of one header against its own bits and the chain limit. */
PK_API int pk_check_pow(const uint8_t header[80], const pk_chain_params *p, pk_verror *e);

/* Merkle root of n leaves; *mutated set when two equal siblings were
 * hashed (a tree that can be made to match with duplicated leaves). */
PK_API void pk_merkle_root(const uint8_t (*leaves)[32], size_t n, uint8_t root[32], int *mutated);

/* pk_block_report.checked: the checks that ran.  One that did not run (an
 * earlier one failed) is neither ok nor failed: "not checked". */
enum { PK_CHECK_POW = 1, PK_CHECK_MERKLE = 2, PK_CHECK_STRUCTURE = 4, PK_CHECK_WITNESS = 8 };

typedef struct pk_block_report {
    uint8_t hash[32];
    unsigned checked; /* PK_CHECK_* */
    int pow_ok, merkle_ok, witness_ok, structure_ok;
    int has_commitment;
    uint64_t legacy_sigops; /* counted once the structure is checked */
    double ms_parse, ms_hash, ms_merkle, ms_checks;
} pk_block_report;

/* All block checks (parse included).  Returns 0 when everything passes,
 * else -1 with e set to the first failure; report filled either way as
 * far as it got.  b is left parsed for the caller (pk_block_free). */
/* Bitcoin Core's context-free CheckTransaction on a parsed transaction:
 * outputs present, each value in 0..21M BTC and their sum too, the
 * stripped size within the block weight, no outpoint spent twice, a
 * coinbase's script 2 to 100 bytes, no null prevout outside the coinbase.
 * (No inputs is refused by the parser, with Core's reason.)  Returns 0, or
 * -1 with e's reason Core's ("bad-txns-vout-negative", ...). */
PK_API int pk_tx_check(const uint8_t *data, const pk_tx *t, pk_verror *e);

PK_API int pk_block_verify(pk_block *b, const uint8_t *data, size_t len, const pk_chain_params *p,
                           pk_block_report *rep, pk_verror *e);
/* The same with the txids and each transaction's own checks on pool's
 * threads (NULL: pk_block_verify); the answer, and the first failure
 * reported, are the same. */
PK_API int pk_block_verify_on(pk_block *b, const uint8_t *data, size_t len, const pk_chain_params *p,
                              pk_block_report *rep, pk_verror *e, const pk_pool *pool);
/* A caller's own work on the block, run beside its checks: fn(arg, b)
 * once the block parses and its txids are made (not when the proof of
 * work or the parse fails), whatever the checks' verdict, as one task of
 * the pool's loop that the checks' other tasks share (before them without
 * a pool).  It only reads b, which may yet fail its checks: a chain's UTXO
 * work, undone when they do. */
typedef struct pk_block_beside {
    void (*fn)(void *arg, const pk_block *b);
    void *arg;
} pk_block_beside;
PK_API int pk_block_verify_beside(pk_block *b, const uint8_t *data, size_t len, const pk_chain_params *p,
                                  pk_block_report *rep, pk_verror *e, const pk_pool *pool,
                                  const pk_block_beside *beside);

/* The difficulty rule: bits for the block after a period whose first and
 * last timestamps and last bits are given (clamped to a factor 4, capped
 * at the limit). */
PK_API uint32_t pk_next_bits(uint32_t last_bits, int64_t first_time, int64_t last_time,
                             const pk_chain_params *p);
/* Compact encoding of a 256-bit little-endian target (Core's GetCompact). */
PK_API uint32_t pk_target_to_bits(const uint8_t target[32]);

typedef struct pk_headers_report {
    uint64_t count, verified;
    uint64_t retargets_checked;
    uint64_t mtp_checked;
    /* Headers whose bits the file cannot decide: a retarget whose period
     * starts before the file, or (testnet) a walk back over minimum-
     * difficulty blocks that reaches the file's first header.  Their other
     * checks ran; the first one's height, or -1. */
    uint64_t undecided;
    int64_t first_undecided;
    double seconds;
} pk_headers_report;

typedef struct pk_headers_opts {
    int64_t start_height; /* the first header's height */
    /* Testnet: the bits of the last block before the file that was not at
     * the minimum difficulty (or of the period's first block), where the
     * 20-minute rule's walk back ends; 0 when not known. */
    uint32_t start_bits;
} pk_headers_opts;

/* Verifies n consecutive 80-byte headers, the first at start_height.
 * Returns 0, or -1 with e set (height of the first failure). */
PK_API int pk_headers_verify(const uint8_t *headers, size_t n, int64_t start_height,
                             const pk_chain_params *p, pk_headers_report *rep, pk_verror *e);
PK_API int pk_headers_verify_opts(const uint8_t *headers, size_t n, const pk_headers_opts *o,
                                  const pk_chain_params *p, pk_headers_report *rep, pk_verror *e);

/* Verifies retargets from (height, header) records as in a file of
 * period boundaries: 84-byte records, little-endian height then header.
 * Returns 0 or -1 with e set; *checked counts the retargets. */
PK_API int pk_retargets_verify(const uint8_t *records, size_t n, const pk_chain_params *p,
                               uint64_t *checked, pk_verror *e);

#ifdef __cplusplus
}
#endif
#endif
