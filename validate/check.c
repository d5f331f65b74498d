/* Block checks: proof of work, merkle root and its mutation, witness
 * commitment, coinbase placement, weight and size, duplicate txids. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/kernel.h"
#include "powkit/sha256.h"
#include "powkit/sigops.h"
#include "powkit/util.h"
#include "powkit/validate.h"

#define MAX_BLOCK_WEIGHT 4000000u
#define WITNESS_SCALE 4u

static int verr(pk_verror *e, pk_vcode code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int verr(pk_verror *e, pk_vcode code, const char *reason, const char *fmt, ...)
{
    if (e) {
        e->code = code;
        e->reason = reason;
        e->height = -1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void pk_header_hash(const uint8_t header[80], uint8_t out[32]) { pk_sha256d(header, 80, out); }
uint32_t pk_header_version(const uint8_t h[80]) { return le32(h); }
uint32_t pk_header_time(const uint8_t h[80]) { return le32(h + 68); }
uint32_t pk_header_bits(const uint8_t h[80]) { return le32(h + 72); }

void pk_chain_params_init(pk_chain_params *p, pk_chain chain)
{
    memset(p, 0, sizeof *p);
    p->chain = chain;
    p->spacing = 600;
    p->timespan = 14 * 24 * 3600;
    if (chain == PK_CHAIN_REGTEST) {
        /* 0x7fffff << 232 */
        p->pow_limit[31] = 0x7f;
        memset(p->pow_limit, 0xff, 31);
        p->no_retarget = 1;
        p->min_difficulty = 1;
    } else {
        /* 0x00000000ffff... : 2^224 - 1 */
        memset(p->pow_limit, 0xff, 28);
        p->min_difficulty = chain == PK_CHAIN_TEST;
    }
}

int pk_chain_parse(const char *name, pk_chain *out)
{
    if (strcmp(name, "main") == 0 || strcmp(name, "mainnet") == 0)
        *out = PK_CHAIN_MAIN;
    else if (strcmp(name, "test") == 0 || strcmp(name, "testnet") == 0)
        *out = PK_CHAIN_TEST;
    else if (strcmp(name, "regtest") == 0)
        *out = PK_CHAIN_REGTEST;
    else
        return -1;
    return 0;
}

static int above(const uint8_t a[32], const uint8_t b[32])
{
    for (int i = 31; i >= 0; i--)
        if (a[i] != b[i])
            return a[i] > b[i];
    return 0;
}

int pk_check_pow(const uint8_t header[80], const pk_chain_params *p, pk_verror *e)
{
    uint8_t target[32], zero[32] = {0}, hash[32];
    uint32_t bits = pk_header_bits(header);
    if (pk_bits_to_target(bits, target) || memcmp(target, zero, 32) == 0 || above(target, p->pow_limit))
        return verr(e, PK_V_BAD_BITS, "bad-diffbits",
                    "bits %08x: negative, overflowing, zero or above the chain's limit", bits);
    pk_header_hash(header, hash);
    if (!pk_hash_meets_target(hash, target)) {
        char hex[65];
        pk_hash_to_hex(hash, hex);
        return verr(e, PK_V_HIGH_HASH, "high-hash", "hash %s is above the target of bits %08x", hex, bits);
    }
    return 0;
}

void pk_merkle_root(const uint8_t (*leaves)[32], size_t n, uint8_t root[32], int *mutated)
{
    int mut = 0;
    if (n == 0) {
        memset(root, 0, 32);
        if (mutated)
            *mutated = 0;
        return;
    }
    /* Each level: pairs side by side (the last duplicated when odd), all
     * hashed at once with the 64-byte double SHA-256. */
    size_t cap = n + 1;
    uint8_t *pairs = malloc(cap * 32), *next = malloc(cap * 32);
    if (!pairs || !next)
        abort();
    memcpy(pairs, leaves, n * 32);
    while (n > 1) {
        for (size_t i = 0; i + 1 < n; i += 2)
            mut |= memcmp(pairs + 32 * i, pairs + 32 * (i + 1), 32) == 0;
        if (n & 1) {
            memcpy(pairs + 32 * n, pairs + 32 * (n - 1), 32);
            n++;
        }
        pk_sha256d64_many(pairs, n / 2, next);
        n /= 2;
        uint8_t *t = pairs;
        pairs = next;
        next = t;
    }
    memcpy(root, pairs, 32);
    free(pairs);
    free(next);
    if (mutated)
        *mutated = mut;
}

static const uint8_t COMMIT_PREFIX[6] = {0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed};

/* The last coinbase output carrying the BIP141 commitment: its script's
 * offset in the block, or 0. */
static size_t find_commitment(const pk_block *b)
{
    const pk_tx *cb = &b->tx[0];
    size_t pos = cb->out_offset, found = 0;
    for (uint32_t i = 0; i < cb->n_out; i++) {
        pos += 8;
        uint64_t len = b->data[pos];
        size_t hdr = 1;
        if (len == 0xfd) {
            len = b->data[pos + 1] | (uint64_t)b->data[pos + 2] << 8;
            hdr = 3;
        } else if (len == 0xfe) {
            len = le32(b->data + pos + 1);
            hdr = 5;
        } else if (len == 0xff) {
            len = (uint64_t)le32(b->data + pos + 1) | (uint64_t)le32(b->data + pos + 5) << 32;
            hdr = 9;
        }
        const uint8_t *script = b->data + pos + hdr;
        if (len >= 38 && memcmp(script, COMMIT_PREFIX, 6) == 0)
            found = pos + hdr;
        pos += hdr + (size_t)len;
    }
    return found;
}

/* The coinbase witness: exactly one 32-byte item (the reserved value). */
static const uint8_t *coinbase_reserved(const pk_block *b)
{
    const pk_tx *cb = &b->tx[0];
    if (!cb->has_witness || cb->n_in != 1)
        return NULL;
    const uint8_t *w = b->data + cb->wit_offset;
    if (cb->wit_size != 34 || w[0] != 1 || w[1] != 32)
        return NULL;
    return w + 2;
}

static int is_coinbase(const pk_block *b, const pk_tx *t)
{
    static const uint8_t null_hash[32] = {0};
    const uint8_t *in = b->data + t->first_in_offset;
    return t->n_in == 1 && memcmp(in, null_hash, 32) == 0 && le32(in + 32) == 0xffffffffu;
}

/* 1 when two of the n txids are equal: an open-addressed table of their
 * indices, placed by their first 8 bytes (a hash's bytes are spread
 * already); linear in n, where sorting them cost a block's merkle root. */
static int has_duplicate(const uint8_t (*ids)[32], size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slot = calloc(cap, sizeof *slot); /* index + 1; 0 empty */
    if (!slot)
        abort();
    int dup = 0;
    for (size_t i = 0; i < n && !dup; i++) {
        uint64_t k;
        memcpy(&k, ids[i], 8);
        size_t j = (size_t)(k ^ (k >> 32)) & (cap - 1);
        while (slot[j] && !(dup = memcmp(ids[slot[j] - 1], ids[i], 32) == 0))
            j = (j + 1) & (cap - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    free(slot);
    return dup;
}

static int cmp36(const void *a, const void *b) { return memcmp(a, b, 36); }

static int outpoint_null(const uint8_t *o)
{
    static const uint8_t null_hash[32] = {0};
    return memcmp(o, null_hash, 32) == 0 && le32(o + 32) == 0xffffffffu;
}

int pk_tx_check(const uint8_t *data, const pk_tx *t, pk_verror *e)
{
    if (e)
        memset(e, 0, sizeof *e);
    const int64_t max_money = 21000000LL * 100000000LL;
    if (t->n_in == 0)
        return verr(e, PK_V_BAD_TX, "bad-txns-vin-empty", "the transaction has no inputs");
    if (t->n_out == 0)
        return verr(e, PK_V_BAD_TX, "bad-txns-vout-empty", "the transaction has no outputs");
    if (t->base_size * WITNESS_SCALE > MAX_BLOCK_WEIGHT)
        return verr(e, PK_V_BAD_TX, "bad-txns-oversize", "stripped size %zu bytes is over the block's limit",
                    t->base_size);
    size_t pos = t->out_offset;
    int64_t total = 0;
    for (uint32_t i = 0; i < t->n_out; i++) {
        uint64_t u = 0;
        for (int k = 0; k < 8; k++)
            u |= (uint64_t)data[pos + k] << (8 * k);
        pos += 8;
        int64_t v = (int64_t)u;
        if (v < 0)
            return verr(e, PK_V_BAD_TX, "bad-txns-vout-negative", "output %u has a negative value (%lld)", i,
                        (long long)v);
        if (v > max_money)
            return verr(e, PK_V_BAD_TX, "bad-txns-vout-toolarge", "output %u's value %lld is above 21M BTC", i,
                        (long long)v);
        total += v; /* both at most 21M BTC: no overflow */
        if (total > max_money)
            return verr(e, PK_V_BAD_TX, "bad-txns-txouttotal-toolarge",
                        "the outputs up to %u sum to %lld, above 21M BTC", i, (long long)total);
        size_t l = (size_t)pk_compact_get(data, &pos);
        pos += l;
    }
    /* The outpoints, sorted, to find one spent twice. */
    uint8_t small[16 * 36];
    uint8_t *ops = t->n_in <= 16 ? small : malloc((size_t)t->n_in * 36);
    if (!ops)
        return verr(e, PK_V_OVERSIZE, "bad-txns-oversize", "no memory");
    pos = t->first_in_offset;
    for (uint32_t i = 0; i < t->n_in; i++) {
        memcpy(ops + (size_t)i * 36, data + pos, 36);
        pos += 36;
        size_t l = (size_t)pk_compact_get(data, &pos);
        pos += l + 4;
    }
    int coinbase = t->n_in == 1 && outpoint_null(ops);
    int rc = 0;
    qsort(ops, t->n_in, 36, cmp36);
    for (uint32_t i = 1; i < t->n_in && !rc; i++)
        if (memcmp(ops + (size_t)(i - 1) * 36, ops + (size_t)i * 36, 36) == 0)
            rc = verr(e, PK_V_BAD_TX, "bad-txns-inputs-duplicate", "an outpoint is spent twice");
    if (!rc && coinbase) {
        size_t p2 = t->first_in_offset + 36;
        uint64_t l = pk_compact_get(data, &p2);
        if (l < 2 || l > 100)
            rc = verr(e, PK_V_COINBASE, "bad-cb-length", "coinbase script is %llu bytes (2 to 100)",
                      (unsigned long long)l);
    } else if (!rc) {
        for (uint32_t i = 0; i < t->n_in && !rc; i++)
            if (outpoint_null(ops + (size_t)i * 36))
                rc = verr(e, PK_V_BAD_TX, "bad-txns-prevout-null", "an input spends the null outpoint");
    }
    if (ops != small)
        free(ops);
    return rc;
}

/* What the block's checks compute before any is judged, as the tasks of
 * one parallel loop: the caller's own work beside them (see
 * pk_block_verify_beside), the merkle roots, the duplicate search, and
 * each transaction's CheckTransaction verdict and legacy sigops in groups.
 * Judged afterwards in Core's order, so the first failure reported is the
 * same however the tasks ran; a failed transaction is checked again alone
 * for its message. */
typedef struct block_work {
    const pk_block *b;
    const pk_block_beside *beside;
    uint8_t (*ids)[32], (*wids)[32]; /* txids; wtxids (the coinbase's zero) */
    uint8_t root[32], wroot[32];
    int mutated, dup;
    size_t commit; /* the witness commitment's output, or 0 */
    int8_t *bad;
    uint64_t *sigops;
} block_work;

enum { TASK_BESIDE, TASK_MERKLE, TASK_WITNESS, TASK_DUP, TASK_TXS, TX_GROUP = 32 };

static void block_task(void *arg, size_t i)
{
    block_work *w = arg;
    const pk_block *b = w->b;
    switch (i) {
    case TASK_BESIDE:
        if (w->beside && w->beside->fn)
            w->beside->fn(w->beside->arg, b);
        return;
    case TASK_MERKLE:
        pk_merkle_root((const uint8_t(*)[32])w->ids, b->ntx, w->root, &w->mutated);
        return;
    case TASK_WITNESS:
        w->commit = find_commitment(b);
        if (w->commit) {
            for (size_t k = 0; k < b->ntx; k++)
                memcpy(w->wids[k], k == 0 ? (const uint8_t[32]){0} : b->tx[k].wtxid, 32);
            pk_merkle_root((const uint8_t(*)[32])w->wids, b->ntx, w->wroot, NULL);
        }
        return;
    case TASK_DUP:
        w->dup = has_duplicate((const uint8_t(*)[32])w->ids, b->ntx);
        return;
    default: {
        size_t from = (i - TASK_TXS) * TX_GROUP, to = from + TX_GROUP < b->ntx ? from + TX_GROUP : b->ntx;
        for (size_t k = from; k < to; k++) {
            w->bad[k] = pk_tx_check(b->data, &b->tx[k], NULL) != 0;
            w->sigops[k] = pk_tx_legacy_sigops(b, &b->tx[k]);
        }
    }
    }
}

static void beside_task(void *arg) { block_task(arg, TASK_BESIDE); }
static void block_task_after(void *arg, size_t i) { block_task(arg, i + 1); }

int pk_block_verify(pk_block *b, const uint8_t *data, size_t len, const pk_chain_params *p,
                    pk_block_report *rep, pk_verror *e)
{
    return pk_block_verify_beside(b, data, len, p, rep, e, NULL, NULL);
}

int pk_block_verify_on(pk_block *b, const uint8_t *data, size_t len, const pk_chain_params *p,
                       pk_block_report *rep, pk_verror *e, const pk_pool *pool)
{
    return pk_block_verify_beside(b, data, len, p, rep, e, pool, NULL);
}

int pk_block_verify_beside(pk_block *b, const uint8_t *data, size_t len, const pk_chain_params *p,
                           pk_block_report *rep, pk_verror *e, const pk_pool *pool, const pk_block_beside *beside)
{
    memset(rep, 0, sizeof *rep);
    memset(b, 0, sizeof *b);
    if (e)
        memset(e, 0, sizeof *e);
    double t0 = pk_now();
    /* The header names the block even when what follows it is broken, and
     * its proof of work is checked first, as Core's CheckBlockHeader does:
     * a block without the work is not worth parsing. */
    if (len >= 80) {
        pk_header_hash(data, rep->hash);
        rep->checked |= PK_CHECK_POW;
        if (pk_check_pow(data, p, e))
            return -1;
        rep->pow_ok = 1;
    }
    if (pk_block_parse(b, data, len, e))
        return -1;
    double t1 = pk_now();
    rep->ms_parse = (t1 - t0) * 1e3;

    pk_block_hash_txs_on(b, pool);
    double t2 = pk_now();
    rep->ms_hash = (t2 - t1) * 1e3;

    block_work w = {b, beside, malloc(b->ntx * 32), malloc(b->ntx * 32), {0}, {0}, 0, 0, 0,
                    calloc(b->ntx, 1), calloc(b->ntx, sizeof(uint64_t))};
    if (!w.ids || !w.wids || !w.bad || !w.sigops) {
        if (beside && beside->fn)
            beside->fn(beside->arg, b); /* it runs once the block parses, whatever follows */
        free(w.ids), free(w.wids), free(w.bad), free(w.sigops);
        return verr(e, PK_V_OVERSIZE, "bad-blk-length", "no memory");
    }
    for (size_t i = 0; i < b->ntx; i++)
        memcpy(w.ids[i], b->tx[i].txid, 32);
    size_t ntasks = TASK_TXS + (b->ntx + TX_GROUP - 1) / TX_GROUP;
    if (pool && beside && pool->run_with) /* the caller's work on its own thread: its caches */
        pool->run_with(pool->self, ntasks - 1, 1, block_task_after, &w, beside_task, &w);
    else if (pool && (b->ntx > 64 || beside))
        pool->run(pool->self, ntasks, 1, block_task, &w);
    else
        for (size_t i = 0; i < ntasks; i++)
            block_task(&w, i);
    double t3 = pk_now();
    rep->ms_merkle = (t3 - t2) * 1e3; /* with every other task of the loop */
    int rc = 0;
    rep->checked |= PK_CHECK_MERKLE;
    if (memcmp(w.root, data + 36, 32) != 0) {
        rc = verr(e, PK_V_MERKLE, "bad-txnmrklroot", "merkle root of the %zu txids differs from the header's",
                  b->ntx);
        goto out;
    }
    if (w.mutated) {
        rc = verr(e, PK_V_MUTATED, "bad-txns-duplicate",
                  "merkle tree has two equal siblings (CVE-2012-2459 mutation)");
        goto out;
    }
    rep->merkle_ok = 1;

    rep->checked |= PK_CHECK_STRUCTURE;
    /* Size and weight (Core's CheckBlock and ContextualCheckBlock). */
    if (b->ntx * WITNESS_SCALE > MAX_BLOCK_WEIGHT || b->base_size * WITNESS_SCALE > MAX_BLOCK_WEIGHT) {
        rc = verr(e, PK_V_WEIGHT, "bad-blk-length", "stripped size %zu bytes is over the limit", b->base_size);
        goto out;
    }
    if (b->weight > MAX_BLOCK_WEIGHT) {
        rc = verr(e, PK_V_WEIGHT, "bad-blk-weight", "weight %zu is over %u", b->weight, MAX_BLOCK_WEIGHT);
        goto out;
    }
    /* Coinbase first and only. */
    if (!is_coinbase(b, &b->tx[0])) {
        rc = verr(e, PK_V_COINBASE, "bad-cb-missing", "first transaction is not a coinbase");
        goto out;
    }
    for (size_t i = 1; i < b->ntx; i++) {
        if (is_coinbase(b, &b->tx[i])) {
            rc = verr(e, PK_V_COINBASE, "bad-cb-multiple", "transaction %zu is a second coinbase", i);
            goto out;
        }
    }
    /* Every transaction's own rules (Core's CheckTransaction), the
     * coinbase's script length among them: the first that failed, again
     * for its message. */
    uint64_t legacy_sigops = 0;
    for (size_t i = 0; i < b->ntx; i++) {
        legacy_sigops += w.sigops[i];
        if (!w.bad[i])
            continue;
        pk_tx_check(b->data, &b->tx[i], e);
        if (e) {
            char m[sizeof e->msg];
            memcpy(m, e->msg, sizeof m);
            int n = snprintf(e->msg, sizeof e->msg, "transaction %zu: ", i);
            if (n > 0 && (size_t)n < sizeof e->msg) {
                size_t room = sizeof e->msg - (size_t)n - 1, k = strnlen(m, room);
                memcpy(e->msg + n, m, k);
                e->msg[(size_t)n + k] = 0;
            }
        }
        rc = -1;
        goto out;
    }
    /* Duplicate txids. */
    if (w.dup) {
        rc = verr(e, PK_V_DUPLICATE_TX, "bad-txns-duplicate", "two transactions share a txid");
        goto out;
    }
    /* Signature operations countable from the block alone (Core's
     * CheckBlock); P2SH and witness ones need the spent outputs. */
    rep->legacy_sigops = legacy_sigops;
    if (rep->legacy_sigops * PK_WITNESS_SCALE > PK_MAX_BLOCK_SIGOPS_COST) {
        rc = verr(e, PK_V_SIGOPS, "bad-blk-sigops", "%llu legacy signature operations: cost %llu is over %u",
                  (unsigned long long)rep->legacy_sigops, (unsigned long long)rep->legacy_sigops * PK_WITNESS_SCALE,
                  PK_MAX_BLOCK_SIGOPS_COST);
        goto out;
    }
    rep->structure_ok = 1;

    /* Witness commitment (BIP141). */
    rep->checked |= PK_CHECK_WITNESS;
    size_t commit = w.commit;
    rep->has_commitment = commit != 0;
    if (commit) {
        const uint8_t *reserved = coinbase_reserved(b);
        if (!reserved) {
            rc = verr(e, PK_V_WITNESS_COMMITMENT, "bad-witness-nonce-size",
                      "coinbase witness is not one 32-byte reserved value");
            goto out;
        }
        uint8_t buf[64], commitment[32];
        memcpy(buf, w.wroot, 32);
        memcpy(buf + 32, reserved, 32);
        pk_sha256d(buf, 64, commitment);
        if (memcmp(commitment, b->data + commit + 6, 32) != 0) {
            rc = verr(e, PK_V_WITNESS_COMMITMENT, "bad-witness-merkle-match",
                      "witness commitment does not match the wtxids");
            goto out;
        }
    } else if (b->n_witness_tx > 0) {
        rc = verr(e, PK_V_WITNESS_COMMITMENT, "unexpected-witness",
                  "%llu transactions have witnesses but the coinbase commits to none",
                  (unsigned long long)b->n_witness_tx);
        goto out;
    }
    rep->witness_ok = 1;
out:
    rep->ms_checks = (pk_now() - t3) * 1e3;
    free(w.ids);
    free(w.wids);
    free(w.bad);
    free(w.sigops);
    return rc;
}
