/* Internal to chain/: the UTXO store and its cache. */
#ifndef POWKIT_CHAIN_INTERNAL_H
#define POWKIT_CHAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "powkit/prevouts.h"

/* A coin in the cache.  Entries live until a flush or an undo, so pointers
 * into them (the script) stay valid while a block is judged. */
enum { COIN_DIRTY = 1, COIN_FRESH = 2, COIN_SPENT = 4 };

typedef struct pk_coin_entry {
    struct pk_coin_entry *next; /* bucket chain */
    uint8_t key[36];            /* txid, then the output index little-endian */
    uint64_t value;
    uint32_t height;
    uint8_t coinbase;
    uint8_t flags;     /* COIN_*: DIRTY differs from the database; FRESH not in it */
    uint32_t script_len;
    uint8_t script[];
} pk_coin_entry;

/* What a block did to the cache, so a refused block can be undone. */
typedef struct utxo_undo {
    enum { UNDO_FLAGS, UNDO_INSERTED, UNDO_REPLACED } kind;
    pk_coin_entry *e, *old;
    uint8_t old_flags;
} utxo_undo;

typedef struct pk_utxo {
    void *env; /* MDB_env *, NULL: memory only */
    unsigned coins_dbi, headers_dbi, meta_dbi;
    pk_coin_entry **buckets;
    size_t nbuckets, count;
    uint64_t bytes;
    utxo_undo *undo;
    size_t n_undo, cap_undo;
    int64_t db_coins; /* coins in the database */
    int64_t delta;    /* unspent coins added minus spent, since the flush */
    uint64_t db_reads, db_misses, flushes;
} pk_utxo;

int pk_utxo_open(pk_utxo *u, const char *dir, char *err, size_t errlen);
void pk_utxo_close(pk_utxo *u);
/* The unspent coin at key (cache, then the database), or NULL. */
pk_coin_entry *pk_utxo_get(pk_utxo *u, const uint8_t key[36]);
void pk_utxo_spend(pk_utxo *u, pk_coin_entry *e);
/* Adds a coin (replacing a spent or, BIP30's exceptions, an unspent one;
 * may_exist: the database may hold it, a coinbase's). */
void pk_utxo_add(pk_utxo *u, const uint8_t key[36], uint64_t value, uint32_t height, int coinbase,
                 const uint8_t *script, size_t script_len, int may_exist);
/* Ends a block: keep its changes, or undo them. */
void pk_utxo_commit(pk_utxo *u);
void pk_utxo_rollback(pk_utxo *u);

/* The state on disk beside the coins. */
typedef struct pk_utxo_meta {
    int64_t height;     /* -1: nothing */
    uint8_t hash[32];
    char chain[16];
} pk_utxo_meta;
int pk_utxo_read_meta(pk_utxo *u, pk_utxo_meta *m, char *err, size_t errlen);
/* Reads the stored headers 0..height into hdrs (80 bytes each). */
int pk_utxo_read_headers(pk_utxo *u, int64_t height, uint8_t (*hdrs)[80], char *err, size_t errlen);
/* Writes every dirty coin, the headers from..to (hdrs indexed by height)
 * and m, in one transaction; then drops the clean coins when the cache is
 * over keep_bytes.  Memory only: forgets nothing, writes nothing. */
int pk_utxo_flush(pk_utxo *u, const pk_utxo_meta *m, const uint8_t (*hdrs)[80], int64_t from, int64_t to,
                  uint64_t keep_bytes, char *err, size_t errlen);

static inline void pk_outpoint_key(uint8_t key[36], const uint8_t txid[32], uint32_t n)
{
    for (int i = 0; i < 32; i++)
        key[i] = txid[i];
    key[32] = (uint8_t)n;
    key[33] = (uint8_t)(n >> 8);
    key[34] = (uint8_t)(n >> 16);
    key[35] = (uint8_t)(n >> 24);
}

/* Bitcoin Core's block index (blocks/index, LevelDB), one entry a block. */
enum { PK_BLOCK_VALID_MASK = 7, PK_BLOCK_VALID_SCRIPTS = 5, PK_BLOCK_HAVE_DATA = 8, PK_BLOCK_HAVE_UNDO = 16,
       PK_BLOCK_FAILED = 32 | 64 };
typedef struct pk_index_entry {
    uint8_t hash[32], header[80];
    int64_t height;
    uint32_t status, file;
    uint64_t ntx, data_pos, undo_pos;
} pk_index_entry;
/* Reads the index from a copy of index_dir (LevelDB writes when it opens
 * a folder).  0 with the entries (malloc'd), 1 when there is no index, -1
 * with err when it cannot be read. */
int pk_block_index_read(const char *index_dir, pk_index_entry **out, size_t *n, char *err, size_t errlen);

/* Core's undo data of one block with ntx transactions: its spent coins in
 * input order (the coinbase's left out), scripts in *store.  0, or -1 when
 * it is not what Core writes.  And Core's amount compression both ways. */
int pk_undo_decode(const uint8_t *p, size_t n, size_t ntx, pk_prevout **out, size_t *nout, uint8_t **store);
uint64_t pk_undo_decompress_amount(uint64_t x);
uint64_t pk_undo_compress_amount(uint64_t n);

#endif
