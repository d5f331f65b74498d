/* The UTXO set: a hash table of coins in memory over an LMDB database.
 *
 * LMDB because its write transactions are atomic and durable by design (a
 * copy-on-write B+tree whose root is switched last): a flush is one
 * transaction holding the coins, the headers and the tip, so a kill -9 at
 * any moment leaves the previous flush or this one, never a mixture, and
 * nothing needs replaying.  Reads are memory-mapped, without copies.
 *
 * The cache tracks, per coin, whether it differs from the database (DIRTY)
 * and whether the database has it at all (FRESH): a coin made and spent
 * between two flushes never reaches the disk.  Every change a block makes
 * is logged, so a refused block is undone without touching the disk. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chain_internal.h"

#define MAP_SIZE ((size_t)1 << 39) /* address space, not disk: the file grows as written */

static uint64_t key_hash(const uint8_t k[36])
{
    uint64_t h;
    memcpy(&h, k, 8); /* a txid is a hash: its bytes are spread already */
    h ^= (uint64_t)k[32] | (uint64_t)k[33] << 8 | (uint64_t)k[34] << 16 | (uint64_t)k[35] << 24;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static size_t entry_bytes(const pk_coin_entry *e)
{
    return sizeof *e + e->script_len + 16; /* the allocator's own */
}

static int grow(pk_utxo *u)
{
    size_t nb = u->nbuckets ? u->nbuckets * 2 : 1024;
    pk_coin_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < u->nbuckets; i++) {
        pk_coin_entry *e = u->buckets[i];
        while (e) {
            pk_coin_entry *n = e->next;
            size_t j = key_hash(e->key) & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = n;
        }
    }
    free(u->buckets);
    u->buckets = b;
    u->nbuckets = nb;
    return 0;
}

static pk_coin_entry **slot_of(pk_utxo *u, const uint8_t key[36])
{
    pk_coin_entry **p = &u->buckets[key_hash(key) & (u->nbuckets - 1)];
    while (*p && memcmp((*p)->key, key, 36) != 0)
        p = &(*p)->next;
    return p;
}

static void insert(pk_utxo *u, pk_coin_entry *e)
{
    if (u->count >= u->nbuckets && grow(u) != 0)
        abort(); /* out of memory: nothing sensible left to do */
    size_t j = key_hash(e->key) & (u->nbuckets - 1);
    e->next = u->buckets[j];
    u->buckets[j] = e;
    u->count++;
    u->bytes += entry_bytes(e);
}

static void unlink_entry(pk_utxo *u, pk_coin_entry *e)
{
    pk_coin_entry **p = slot_of(u, e->key);
    while (*p && *p != e)
        p = &(*p)->next;
    if (*p) {
        *p = e->next;
        u->count--;
        u->bytes -= entry_bytes(e);
    }
}

static pk_coin_entry *new_entry(const uint8_t key[36], uint64_t value, uint32_t height, int coinbase,
                                const uint8_t *script, size_t len)
{
    pk_coin_entry *e = malloc(sizeof *e + len);
    if (!e)
        abort();
    e->next = NULL;
    memcpy(e->key, key, 36);
    e->value = value;
    e->height = height;
    e->coinbase = (uint8_t)(coinbase != 0);
    e->flags = 0;
    e->script_len = (uint32_t)len;
    if (len)
        memcpy(e->script, script, len);
    return e;
}

static void log_undo(pk_utxo *u, int kind, pk_coin_entry *e, pk_coin_entry *old, uint8_t flags)
{
    if (u->n_undo == u->cap_undo) {
        size_t nc = u->cap_undo ? u->cap_undo * 2 : 256;
        utxo_undo *n = realloc(u->undo, nc * sizeof *n);
        if (!n)
            abort();
        u->undo = n;
        u->cap_undo = nc;
    }
    u->undo[u->n_undo++] = (utxo_undo){kind, e, old, flags};
}

int pk_utxo_open(pk_utxo *u, const char *dir, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (grow(u)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!dir)
        return 0;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot make %s: %s", dir, strerror(errno));
        return -1;
    }
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, MAP_SIZE);
    if (rc == 0)
        rc = mdb_env_open(env, dir, MDB_NOTLS, 0644);
    if (rc) {
        snprintf(err, errlen, "cannot open the UTXO database in %s: %s", dir, mdb_strerror(rc));
        mdb_env_close(env);
        return -1;
    }
    MDB_txn *t;
    MDB_dbi c = 0, h = 0, m = 0;
    rc = mdb_txn_begin(env, NULL, 0, &t);
    if (rc == 0 && (rc = mdb_dbi_open(t, "coins", MDB_CREATE, &c)) == 0 &&
        (rc = mdb_dbi_open(t, "headers", MDB_CREATE | MDB_INTEGERKEY, &h)) == 0 &&
        (rc = mdb_dbi_open(t, "meta", MDB_CREATE, &m)) == 0)
        rc = mdb_txn_commit(t);
    else if (t)
        mdb_txn_abort(t);
    if (rc) {
        snprintf(err, errlen, "cannot open the UTXO database in %s: %s", dir, mdb_strerror(rc));
        mdb_env_close(env);
        return -1;
    }
    u->env = env;
    u->coins_dbi = c;
    u->headers_dbi = h;
    u->meta_dbi = m;
    return 0;
}

void pk_utxo_close(pk_utxo *u)
{
    for (size_t i = 0; i < u->nbuckets; i++) {
        pk_coin_entry *e = u->buckets[i];
        while (e) {
            pk_coin_entry *n = e->next;
            free(e);
            e = n;
        }
    }
    for (size_t i = 0; i < u->n_undo; i++)
        if (u->undo[i].kind == UNDO_REPLACED)
            free(u->undo[i].old);
    free(u->buckets);
    free(u->undo);
    if (u->env)
        mdb_env_close(u->env);
    memset(u, 0, sizeof *u);
}

pk_coin_entry *pk_utxo_get(pk_utxo *u, const uint8_t key[36])
{
    pk_coin_entry *e = *slot_of(u, key);
    if (e)
        return (e->flags & COIN_SPENT) ? NULL : e;
    if (!u->env)
        return NULL;
    MDB_txn *t;
    if (mdb_txn_begin(u->env, NULL, MDB_RDONLY, &t) != 0)
        abort(); /* the environment is open: this fails only without memory */
    MDB_val k = {36, (void *)key}, v;
    int rc = mdb_get(t, u->coins_dbi, &k, &v);
    u->db_reads++;
    if (rc != 0 || v.mv_size < 12) {
        mdb_txn_abort(t);
        u->db_misses++;
        return NULL;
    }
    const uint8_t *p = v.mv_data;
    uint32_t hc = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value |= (uint64_t)p[4 + i] << (8 * i);
    e = new_entry(key, value, hc >> 1, hc & 1, p + 12, v.mv_size - 12);
    mdb_txn_abort(t);
    insert(u, e);
    return e;
}

void pk_utxo_spend(pk_utxo *u, pk_coin_entry *e)
{
    log_undo(u, UNDO_FLAGS, e, NULL, e->flags);
    e->flags |= COIN_SPENT | COIN_DIRTY;
    u->delta--;
}

void pk_utxo_add(pk_utxo *u, const uint8_t key[36], uint64_t value, uint32_t height, int coinbase,
                 const uint8_t *script, size_t script_len, int may_exist)
{
    pk_coin_entry *e = new_entry(key, value, height, coinbase, script, script_len);
    pk_coin_entry **p = slot_of(u, key);
    pk_coin_entry *old = *p;
    /* Not in the database unless an entry says it may be there (an entry
     * read from it, or spent from it and not yet flushed).  Only a
     * coinbase can repeat an unspent txid (BIP30's two exceptions): for
     * one the database is asked, so that a coin is not counted twice. */
    int in_db = 0;
    if (old)
        in_db = !(old->flags & COIN_FRESH);
    else if (may_exist && u->env && pk_utxo_get(u, key)) {
        old = *slot_of(u, key);
        in_db = 1;
    }
    e->flags = COIN_DIRTY | (in_db ? 0 : COIN_FRESH);
    if (old) {
        if (!(old->flags & COIN_SPENT))
            u->delta--; /* overwritten unspent: one coin, not two */
        unlink_entry(u, old);
        log_undo(u, UNDO_REPLACED, e, old, 0);
    } else {
        log_undo(u, UNDO_INSERTED, e, NULL, 0);
    }
    insert(u, e);
    u->delta++;
}

void pk_utxo_commit(pk_utxo *u)
{
    for (size_t i = 0; i < u->n_undo; i++)
        if (u->undo[i].kind == UNDO_REPLACED)
            free(u->undo[i].old);
    u->n_undo = 0;
}

void pk_utxo_rollback(pk_utxo *u)
{
    while (u->n_undo) {
        utxo_undo *x = &u->undo[--u->n_undo];
        switch (x->kind) {
        case UNDO_FLAGS:
            if ((x->e->flags & COIN_SPENT) && !(x->old_flags & COIN_SPENT))
                u->delta++;
            x->e->flags = x->old_flags;
            break;
        case UNDO_INSERTED:
            if (!(x->e->flags & COIN_SPENT))
                u->delta--;
            unlink_entry(u, x->e);
            free(x->e);
            break;
        case UNDO_REPLACED:
            if (!(x->e->flags & COIN_SPENT))
                u->delta--;
            if (!(x->old->flags & COIN_SPENT))
                u->delta++;
            unlink_entry(u, x->e);
            free(x->e);
            insert(u, x->old);
            break;
        }
    }
}

int pk_utxo_read_meta(pk_utxo *u, pk_utxo_meta *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->height = -1;
    if (!u->env)
        return 0;
    MDB_txn *t;
    int rc = mdb_txn_begin(u->env, NULL, MDB_RDONLY, &t);
    if (rc) {
        snprintf(err, errlen, "UTXO database: %s", mdb_strerror(rc));
        return -1;
    }
    MDB_val k = {3, "tip"}, v;
    rc = mdb_get(t, u->meta_dbi, &k, &v);
    if (rc == 0) {
        if (v.mv_size != 8 + 32 + 16 + 8) {
            mdb_txn_abort(t);
            snprintf(err, errlen, "UTXO database: the tip record is damaged (%zu bytes)", v.mv_size);
            return -1;
        }
        const uint8_t *p = v.mv_data;
        uint64_t h = 0, coins = 0;
        for (int i = 0; i < 8; i++)
            h |= (uint64_t)p[i] << (8 * i), coins |= (uint64_t)p[56 + i] << (8 * i);
        m->height = (int64_t)h;
        memcpy(m->hash, p + 8, 32);
        memcpy(m->chain, p + 40, 16);
        m->chain[15] = 0;
        u->db_coins = (int64_t)coins;
    } else if (rc != MDB_NOTFOUND) {
        mdb_txn_abort(t);
        snprintf(err, errlen, "UTXO database: %s", mdb_strerror(rc));
        return -1;
    }
    mdb_txn_abort(t);
    return 0;
}

int pk_utxo_read_headers(pk_utxo *u, int64_t height, uint8_t (*hdrs)[80], char *err, size_t errlen)
{
    if (!u->env || height < 0)
        return 0;
    MDB_txn *t;
    MDB_cursor *c;
    int rc = mdb_txn_begin(u->env, NULL, MDB_RDONLY, &t);
    if (rc == 0 && (rc = mdb_cursor_open(t, u->headers_dbi, &c)) != 0)
        mdb_txn_abort(t);
    if (rc) {
        snprintf(err, errlen, "UTXO database: %s", mdb_strerror(rc));
        return -1;
    }
    MDB_val k, v;
    int64_t want = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && want <= height;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t h;
        if (k.mv_size != sizeof h || v.mv_size != 80)
            break;
        memcpy(&h, k.mv_data, sizeof h);
        if ((int64_t)h != want)
            break;
        memcpy(hdrs[want++], v.mv_data, 80);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    if (want <= height) {
        snprintf(err, errlen, "UTXO database: header %lld missing or damaged", (long long)want);
        return -1;
    }
    return 0;
}

int pk_utxo_flush(pk_utxo *u, const pk_utxo_meta *m, const uint8_t (*hdrs)[80], int64_t from, int64_t to,
                  uint64_t keep_bytes, char *err, size_t errlen)
{
    int64_t coins = u->db_coins + u->delta;
    int drop = 0;
    if (!u->env)
        goto forget; /* memory only: the spent coins go, the rest stays */
    MDB_txn *t;
    int rc = mdb_txn_begin(u->env, NULL, 0, &t);
    if (rc) {
        snprintf(err, errlen, "UTXO database: %s", mdb_strerror(rc));
        return -1;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    /* Pass 1: everything into the transaction; the cache is not touched
     * until the commit has succeeded. */
    for (size_t i = 0; i < u->nbuckets && rc == 0; i++) {
        for (pk_coin_entry *e = u->buckets[i]; e && rc == 0; e = e->next) {
            if (!(e->flags & COIN_DIRTY))
                continue;
            MDB_val k = {36, e->key};
            if (e->flags & COIN_SPENT) {
                if (!(e->flags & COIN_FRESH)) {
                    rc = mdb_del(t, u->coins_dbi, &k, NULL);
                    if (rc == MDB_NOTFOUND)
                        rc = 0;
                }
                continue;
            }
            size_t n = 12 + e->script_len;
            if (n > cap) {
                uint8_t *nb = realloc(buf, n);
                if (!nb) {
                    rc = ENOMEM;
                    break;
                }
                buf = nb;
                cap = n;
            }
            uint32_t hc = e->height << 1 | e->coinbase;
            for (int j = 0; j < 4; j++)
                buf[j] = (uint8_t)(hc >> (8 * j));
            for (int j = 0; j < 8; j++)
                buf[4 + j] = (uint8_t)(e->value >> (8 * j));
            memcpy(buf + 12, e->script, e->script_len);
            MDB_val v = {n, buf};
            rc = mdb_put(t, u->coins_dbi, &k, &v, 0);
        }
    }
    free(buf);
    for (int64_t h = from; h <= to && rc == 0; h++) {
        size_t hk = (size_t)h;
        MDB_val k = {sizeof hk, &hk}, v = {80, (void *)hdrs[h]};
        rc = mdb_put(t, u->headers_dbi, &k, &v, 0);
    }
    if (rc == 0) {
        uint8_t rec[64] = {0};
        for (int i = 0; i < 8; i++)
            rec[i] = (uint8_t)((uint64_t)m->height >> (8 * i)), rec[56 + i] = (uint8_t)((uint64_t)coins >> (8 * i));
        memcpy(rec + 8, m->hash, 32);
        memcpy(rec + 40, m->chain, strnlen(m->chain, 15));
        MDB_val k = {3, "tip"}, v = {sizeof rec, rec};
        rc = mdb_put(t, u->meta_dbi, &k, &v, 0);
    }
    if (rc) {
        mdb_txn_abort(t);
        snprintf(err, errlen, "UTXO database: cannot write: %s", mdb_strerror(rc));
        return -1;
    }
    rc = mdb_txn_commit(t);
    if (rc) {
        snprintf(err, errlen, "UTXO database: cannot commit: %s", mdb_strerror(rc));
        return -1;
    }
    u->flushes++;
    drop = u->bytes > keep_bytes;
forget:
    /* Pass 2: the cache now agrees with the disk. */
    u->db_coins = coins;
    u->delta = 0;
    for (size_t i = 0; i < u->nbuckets; i++) {
        pk_coin_entry **p = &u->buckets[i];
        while (*p) {
            pk_coin_entry *e = *p;
            if ((e->flags & COIN_SPENT) || drop) {
                *p = e->next;
                u->count--;
                u->bytes -= entry_bytes(e);
                free(e);
                continue;
            }
            e->flags = 0;
            p = &e->next;
        }
    }
    return 0;
}
