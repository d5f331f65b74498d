/* The chain state: the UTXO set, the headers, the rules of the chain, and
 * the connection of one block after another (Bitcoin Core's
 * ContextualCheckBlockHeader, ContextualCheckBlock and ConnectBlock, in
 * that order, so the first failure is the one Core would report). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain_internal.h"
#include "powkit/chain.h"
#include "powkit/prevouts.h"
#include "powkit/script.h"
#include "powkit/sigcheck.h"
#include "powkit/sigops.h"
#include "powkit/util.h"

#define COIN 100000000ull
#define MAX_MONEY (21000000ull * COIN)
#define COINBASE_MATURITY 100
#define MAX_FUTURE_BLOCK_TIME 7200
#define LOCKTIME_THRESHOLD 500000000u
#define SEQ_DISABLE (1u << 31)
#define SEQ_TYPE (1u << 22)
#define SEQ_MASK 0xffffu
#define SEQ_GRANULARITY 9
#define BIP34_IMPLIES_BIP30_LIMIT 1983702

/* The consensus parameters a chain validator needs beyond pk_chain_params. */
typedef struct rules {
    const char *name;
    const char *genesis;  /* hash, as RPC shows it */
    int64_t halving;
    int64_t bip34, bip65, bip66, csv, segwit;
    const char *bip34_hash; /* the block at bip34; NULL: none (BIP30 always enforced) */
    int retarget;
} rules;

static const rules MAIN_RULES = {
    "main", "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f", 210000, 227931, 388381, 363725,
    419328, 481824, "000000000000024b89b42a942fe0d9fea3bb44ab7bd1b19115dd6a759c0808b8", 1};
/* Core's regtest: every rule from height 1 (segwit from 0), no retargets. */
static const rules REGTEST_RULES = {
    "regtest", "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206", 150, 1, 1, 1, 1, 0, NULL, 0};

struct pk_chainstate {
    pk_chainstate_opts o;
    const rules *r;
    pk_chain_params params;
    pk_utxo u;
    pk_verifier *v, *own_v; /* own_v: made here, freed here (NULL when the caller's) */
    uint8_t (*hdr)[80]; /* every header, by height */
    int64_t *mtp;       /* median time past of the block at each height */
    size_t cap;
    int64_t height, flushed;
    int64_t known_from; /* the first height with a header: 0, or where an assumed tip's headers begin */
    int coins_from_source; /* pk_chainstate_start_from: each block's spent coins from the source's undo data */
    uint8_t tip[32];
    double last_flush;
    pk_chainstate_stats st;
};

uint64_t pk_block_subsidy(pk_chain chain, int64_t height)
{
    int64_t halving = chain == PK_CHAIN_REGTEST ? 150 : 210000;
    int64_t n = height / halving;
    return n >= 64 ? 0 : (50 * COIN) >> n;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int hash_is(const uint8_t h[32], const char *hex)
{
    char s[65];
    pk_hash_to_hex(h, s);
    return strcmp(s, hex) == 0;
}

static int64_t median_time(const pk_chainstate *cs, int64_t h)
{
    int64_t t[11];
    int n = 0;
    for (int64_t i = h; i >= cs->known_from && n < 11; i--, n++) {
        int64_t x = pk_header_time(cs->hdr[i]);
        int j = n;
        while (j > 0 && t[j - 1] > x) {
            t[j] = t[j - 1];
            j--;
        }
        t[j] = x;
    }
    return t[n / 2];
}

static int reserve(pk_chainstate *cs, int64_t h)
{
    if ((size_t)h < cs->cap)
        return 0;
    size_t nc = cs->cap ? cs->cap * 2 : 4096;
    while (nc <= (size_t)h)
        nc *= 2;
    uint8_t (*nh)[80] = realloc(cs->hdr, nc * 80);
    if (!nh)
        return -1;
    cs->hdr = nh;
    int64_t *nm = realloc(cs->mtp, nc * sizeof *nm);
    if (!nm)
        return -1;
    cs->mtp = nm;
    cs->cap = nc;
    return 0;
}

int pk_chainstate_open(pk_chainstate **out, const pk_chainstate_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    if (o->chain != PK_CHAIN_MAIN && o->chain != PK_CHAIN_REGTEST) {
        snprintf(err, errlen, "verify-chain knows the rules of main and regtest (not testnet's minimum-difficulty walk)");
        return PK_CHAIN_ESTATE;
    }
    pk_chainstate *cs = calloc(1, sizeof *cs);
    if (!cs) {
        snprintf(err, errlen, "out of memory");
        return PK_CHAIN_EIO;
    }
    cs->o = *o;
    if (!cs->o.cache_mb)
        cs->o.cache_mb = 450;
    if (cs->o.flush_s <= 0)
        cs->o.flush_s = 300;
    cs->r = o->chain == PK_CHAIN_MAIN ? &MAIN_RULES : &REGTEST_RULES;
    pk_chain_params_init(&cs->params, o->chain);
    cs->height = cs->flushed = -1;
    if (pk_utxo_open(&cs->u, o->db_dir, err, errlen)) {
        free(cs);
        return PK_CHAIN_EIO;
    }
    pk_utxo_meta m;
    if (pk_utxo_read_meta(&cs->u, &m, err, errlen)) {
        pk_chainstate_close(cs);
        return PK_CHAIN_ESTATE;
    }
    if (m.height >= 0) {
        if (strcmp(m.chain, cs->r->name) != 0) {
            snprintf(err, errlen, "%s holds a %s chain's state, not %s's", o->db_dir, m.chain, cs->r->name);
            pk_chainstate_close(cs);
            return PK_CHAIN_ESTATE;
        }
        if (reserve(cs, m.height) || pk_utxo_read_headers(&cs->u, m.height, cs->hdr, err, errlen)) {
            pk_chainstate_close(cs);
            return PK_CHAIN_ESTATE;
        }
        uint8_t h[32];
        pk_header_hash(cs->hdr[m.height], h);
        if (memcmp(h, m.hash, 32) != 0) {
            snprintf(err, errlen, "%s: the stored tip is not the stored header at height %lld", o->db_dir,
                     (long long)m.height);
            pk_chainstate_close(cs);
            return PK_CHAIN_ESTATE;
        }
        for (int64_t i = 0; i <= m.height; i++)
            cs->mtp[i] = median_time(cs, i);
        cs->height = cs->flushed = m.height;
        memcpy(cs->tip, h, 32);
    }
    if (o->verifier) {
        cs->v = o->verifier;
    } else {
        cs->v = cs->own_v = pk_verifier_new(o->threads);
        if (!cs->v || (o->engine >= 0 && pk_verifier_set_engine(cs->v, (pk_engine)o->engine))) {
            snprintf(err, errlen, cs->v ? "the engine asked for is not available here" : "cannot start the verifier");
            pk_chainstate_close(cs);
            return PK_CHAIN_EIO;
        }
        pk_verifier_set_batch(cs->v, !o->no_batch);
    }
    cs->last_flush = pk_now();
    *out = cs;
    return 0;
}

int64_t pk_chainstate_height(const pk_chainstate *cs)
{
    return cs->height;
}

int pk_chainstate_flush(pk_chainstate *cs, char *err, size_t errlen)
{
    double t0 = pk_now();
    pk_utxo_meta m;
    memset(&m, 0, sizeof m);
    m.height = cs->height;
    memcpy(m.hash, cs->tip, 32);
    snprintf(m.chain, sizeof m.chain, "%s", cs->r->name);
    if (cs->height < 0)
        return 0;
    if (pk_utxo_flush(&cs->u, &m, (const uint8_t(*)[80])cs->hdr, cs->flushed + 1, cs->height,
                      (uint64_t)cs->o.cache_mb << 20 >> 1, err, errlen))
        return PK_CHAIN_EIO;
    if (cs->u.env)
        cs->flushed = cs->height;
    cs->last_flush = pk_now();
    cs->st.ms_flush += (cs->last_flush - t0) * 1e3;
    return 0;
}

void pk_chainstate_close(pk_chainstate *cs)
{
    if (!cs)
        return;
    if (cs->u.env && cs->height > cs->flushed) {
        char err[256];
        if (pk_chainstate_flush(cs, err, sizeof err))
            fprintf(stderr, "powkit: %s\n", err);
    }
    pk_utxo_close(&cs->u);
    pk_verifier_free(cs->own_v);
    free(cs->hdr);
    free(cs->mtp);
    free(cs);
}

int pk_chainstate_coin(pk_chainstate *cs, const uint8_t txid[32], uint32_t n, uint64_t *value, int64_t *height)
{
    uint8_t key[36];
    pk_outpoint_key(key, txid, n);
    pk_coin_entry *e = pk_utxo_get(&cs->u, key);
    if (!e)
        return 0;
    if (value)
        *value = e->value;
    if (height)
        *height = e->height;
    return 1;
}

int pk_chainstate_coin_get(pk_chainstate *cs, const uint8_t txid[32], uint32_t n, pk_prevout *out)
{
    uint8_t key[36];
    pk_outpoint_key(key, txid, n);
    pk_coin_entry *e = pk_utxo_get(&cs->u, key);
    if (!e)
        return 0;
    out->value = e->value;
    out->script = e->script;
    out->script_len = e->script_len;
    out->has_height = 1;
    out->height = e->height;
    out->coinbase = e->coinbase;
    return 1;
}

void pk_chainstate_get_stats(const pk_chainstate *cs, pk_chainstate_stats *out)
{
    *out = cs->st;
    out->height = cs->height;
    out->flushed_height = cs->flushed;
    out->coins = (uint64_t)(cs->u.db_coins + cs->u.delta);
    out->cache_coins = cs->u.count;
    out->cache_bytes = cs->u.bytes;
    out->db_reads = cs->u.db_reads;
    out->db_misses = cs->u.db_misses;
    out->flushes = cs->u.flushes;
}

/* ---- connecting a block ---- */

static int refuse(pk_chain_verdict *v, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(pk_chain_verdict *v, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
    v->valid = 0;
    v->reason = reason;
    return 1;
}

static void at_input(pk_chain_verdict *v, const pk_block *b, size_t ti, int64_t vin)
{
    v->tx = (int64_t)ti;
    v->vin = vin;
    memcpy(v->txid, b->tx[ti].txid, 32);
}

/* Core's ContextualCheckBlockHeader. */
static int check_header(pk_chainstate *cs, const uint8_t *h, int64_t height, pk_chain_verdict *v)
{
    if (memcmp(h + 4, cs->tip, 32) != 0)
        return refuse(v, "prev-blk-not-found", "block %lld does not build on the tip (height %lld)",
                      (long long)height, (long long)cs->height);
    uint32_t want = pk_header_bits(cs->hdr[height - 1]);
    int bits_known = 1;
    if (cs->r->retarget && height % 2016 == 0) {
        if (height - 2016 < cs->known_from)
            bits_known = 0; /* the period began before the assumed tip */
        else
            want = pk_next_bits(want, pk_header_time(cs->hdr[height - 2016]), pk_header_time(cs->hdr[height - 1]),
                                &cs->params);
    }
    if (!bits_known) {
        v->valid = -1;
        snprintf(v->msg, sizeof v->msg, "bits not checked: the retarget period starts before the assumed tip");
    } else if (pk_header_bits(h) != want)
        return refuse(v, "bad-diffbits", "bits %08x where the difficulty rule gives %08x", pk_header_bits(h), want);
    int64_t t = pk_header_time(h), mtp = cs->mtp[height - 1];
    if (t <= mtp)
        return refuse(v, "time-too-old", "time %lld is not above the median time past %lld", (long long)t,
                      (long long)mtp);
    int64_t now = cs->o.now ? cs->o.now : (int64_t)time(NULL);
    if (t > now + MAX_FUTURE_BLOCK_TIME)
        return refuse(v, "time-too-new", "time %lld is more than two hours after the clock's %lld", (long long)t,
                      (long long)now);
    int32_t ver = (int32_t)pk_header_version(h);
    if ((ver < 2 && height >= cs->r->bip34) || (ver < 3 && height >= cs->r->bip66) ||
        (ver < 4 && height >= cs->r->bip65)) {
        static char why[32];
        snprintf(why, sizeof why, "bad-version(0x%08x)", (uint32_t)ver);
        return refuse(v, why, "version %d is below what the height's soft forks require", ver);
    }
    return 0;
}

static int tx_final(const pk_block *b, const pk_tx *t, int64_t height, int64_t cutoff, pk_txin_ref *ins)
{
    const uint8_t *d = b->data;
    uint32_t lock = le32(d + t->lock_offset);
    if (lock == 0)
        return 1;
    if ((int64_t)lock < (lock < LOCKTIME_THRESHOLD ? height : cutoff))
        return 1;
    pk_tx_inputs(b, t, ins);
    for (uint32_t i = 0; i < t->n_in; i++)
        if (le32(d + ins[i].sequence) != 0xffffffffu)
            return 0;
    return 1;
}

/* The height as BIP34 wants it first in the coinbase: CScript() << height. */
static size_t bip34_prefix(int64_t height, uint8_t out[9])
{
    if (height == 0) {
        out[0] = 0x00;
        return 1;
    }
    if (height >= 1 && height <= 16) {
        out[0] = (uint8_t)(0x50 + height);
        return 1;
    }
    uint8_t num[8];
    size_t n = 0;
    for (uint64_t x = (uint64_t)height; x; x >>= 8)
        num[n++] = (uint8_t)x;
    if (num[n - 1] & 0x80)
        num[n++] = 0;
    out[0] = (uint8_t)n;
    memcpy(out + 1, num, n);
    return n + 1;
}

typedef struct outs_iter {
    const uint8_t *d;
    size_t pos;
    uint32_t left;
} outs_iter;

static int next_out(outs_iter *it, uint64_t *value, const uint8_t **script, size_t *len)
{
    if (!it->left)
        return 0;
    it->left--;
    *value = le64(it->d + it->pos);
    it->pos += 8;
    *len = (size_t)pk_compact_get(it->d, &it->pos);
    *script = it->d + it->pos;
    it->pos += *len;
    return 1;
}

static outs_iter outs_of(const pk_block *b, const pk_tx *t)
{
    return (outs_iter){b->data, t->out_offset, t->n_out};
}

static int unspendable(const uint8_t *s, size_t len)
{
    return (len > 0 && s[0] == 0x6a) || len > 10000;
}

/* ContextualCheckBlock and ConnectBlock up to the scripts; fills pv. */
static int connect_inputs(pk_chainstate *cs, const pk_block *b, int64_t height, pk_prevouts *pv, uint64_t *fees_out,
                          pk_chain_verdict *v)
{
    const uint8_t *d = b->data;
    int csv = height >= cs->r->csv;
    int64_t cutoff = csv ? cs->mtp[height - 1] : (int64_t)pk_header_time(d);
    size_t max_in = 1;
    for (size_t ti = 0; ti < b->ntx; ti++)
        if (b->tx[ti].n_in > max_in)
            max_in = b->tx[ti].n_in;
    pk_txin_ref *ins = malloc(max_in * sizeof *ins);
    if (!ins)
        abort();
    int rc = 0;
    /* Lock times (BIP113's median time once CSV is active). */
    for (size_t ti = 0; ti < b->ntx && !rc; ti++)
        if (!tx_final(b, &b->tx[ti], height, cutoff, ins)) {
            rc = refuse(v, "bad-txns-nonfinal", "transaction %zu is not final at height %lld (lock time %u)", ti,
                        (long long)height, le32(d + b->tx[ti].lock_offset));
            at_input(v, b, ti, -1);
        }
    /* BIP34: the height first in the coinbase. */
    if (!rc && height >= cs->r->bip34) {
        pk_tx_inputs(b, &b->tx[0], ins);
        uint8_t want[9];
        size_t n = bip34_prefix(height, want);
        if (ins[0].script_len < n || memcmp(d + ins[0].script, want, n) != 0) {
            rc = refuse(v, "bad-cb-height", "the coinbase does not begin with the height %lld", (long long)height);
            at_input(v, b, 0, 0);
        }
    }
    if (!rc && height < cs->r->segwit && b->n_witness_tx) {
        rc = refuse(v, "unexpected-witness", "witness data before segwit's activation");
    }
    /* BIP30: no transaction may overwrite an unspent one, except where
     * Core lets it: the two blocks that did, and BIP34's heights, where a
     * height in every coinbase makes duplicates impossible (until the
     * heights whose encoding an early coinbase could have held). */
    int bip30 = 1;
    if (cs->r->bip34_hash) {
        if ((height == 91842 && hash_is(v->hash, "00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec")) ||
            (height == 91880 && hash_is(v->hash, "00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721")))
            bip30 = 0;
        uint8_t h34[32];
        if (height >= cs->r->bip34 && height < BIP34_IMPLIES_BIP30_LIMIT) {
            if (cs->r->bip34 < cs->known_from) {
                bip30 = 0; /* an assumed tip above BIP34: its chain is taken as given */
            } else {
                pk_header_hash(cs->hdr[cs->r->bip34], h34);
                if (hash_is(h34, cs->r->bip34_hash))
                    bip30 = 0;
            }
        }
    }
    for (size_t ti = 0; ti < b->ntx && !rc && bip30; ti++) {
        for (uint32_t o = 0; o < b->tx[ti].n_out; o++) {
            uint8_t key[36];
            pk_outpoint_key(key, b->tx[ti].txid, o);
            if (pk_utxo_get(&cs->u, key)) {
                rc = refuse(v, "bad-txns-BIP30", "transaction %zu overwrites an unspent output of the same txid", ti);
                at_input(v, b, ti, -1);
                break;
            }
        }
    }
    /* The inputs, in block order: each spends a coin of the set or of an
     * earlier transaction of this block, once. */
    pv->ntx = b->ntx;
    pv->n = b->n_inputs;
    pv->first = calloc(b->ntx, sizeof *pv->first);
    pv->out = calloc(b->n_inputs ? b->n_inputs : 1, sizeof *pv->out);
    pv->scripts = NULL;
    if (!pv->first || !pv->out)
        abort();
    uint64_t fees = 0;
    size_t k = 0;
    for (size_t ti = 0; ti < b->ntx && !rc; ti++) {
        const pk_tx *t = &b->tx[ti];
        pv->first[ti] = k;
        if (ti > 0) {
            pk_tx_inputs(b, t, ins);
            uint64_t in = 0;
            int64_t min_height = -1, min_time = -1;
            int bip68 = csv && (int32_t)le32(d + t->offset) >= 2;
            for (uint32_t i = 0; i < t->n_in && !rc; i++) {
                uint8_t key[36];
                memcpy(key, d + ins[i].prevout, 36);
                pk_coin_entry *e = pk_utxo_get(&cs->u, key);
                if (!e) {
                    rc = refuse(v, "bad-txns-inputs-missingorspent",
                                "input %u of transaction %zu spends an output that is not in the UTXO set", i, ti);
                    at_input(v, b, ti, i);
                    break;
                }
                if (e->coinbase && height - (int64_t)e->height < COINBASE_MATURITY) {
                    rc = refuse(v, "bad-txns-premature-spend-of-coinbase",
                                "input %u of transaction %zu spends a coinbase of height %u at depth %lld", i, ti,
                                e->height, (long long)(height - e->height));
                    at_input(v, b, ti, i);
                    break;
                }
                in += e->value;
                if (e->value > MAX_MONEY || in > MAX_MONEY) {
                    rc = refuse(v, "bad-txns-inputvalues-outofrange", "transaction %zu's inputs exceed 21M BTC", ti);
                    at_input(v, b, ti, i);
                    break;
                }
                uint32_t seq = le32(d + ins[i].sequence);
                if (bip68 && !(seq & SEQ_DISABLE)) {
                    int64_t ch = e->height;
                    if (seq & SEQ_TYPE && (ch - 1 > 0 ? ch - 1 : 0) < cs->known_from) {
                        v->valid = -1; /* the coin's median time is below the assumed tip */
                        snprintf(v->msg, sizeof v->msg, "a BIP68 time lock not checked: sequence_locks_need_context");
                    } else if (seq & SEQ_TYPE) {
                        int64_t coin_time = cs->mtp[ch - 1 > 0 ? ch - 1 : 0];
                        int64_t mt = coin_time + ((int64_t)(seq & SEQ_MASK) << SEQ_GRANULARITY) - 1;
                        if (mt > min_time)
                            min_time = mt;
                    } else {
                        int64_t mh = ch + (int64_t)(seq & SEQ_MASK) - 1;
                        if (mh > min_height)
                            min_height = mh;
                    }
                }
                pk_prevout *po = &pv->out[k + i];
                po->value = e->value;
                po->script = e->script;
                po->script_len = e->script_len;
                po->has_height = 1;
                po->height = e->height;
                po->coinbase = e->coinbase;
                pk_utxo_spend(&cs->u, e);
            }
            if (rc)
                break;
            uint64_t out = 0, value;
            const uint8_t *s;
            size_t len;
            outs_iter it = outs_of(b, t);
            while (next_out(&it, &value, &s, &len))
                out += value; /* CheckTransaction bounded each and the sum */
            if (in < out) {
                rc = refuse(v, "bad-txns-in-belowout", "transaction %zu spends %llu sat and pays out %llu", ti,
                            (unsigned long long)in, (unsigned long long)out);
                at_input(v, b, ti, -1);
                break;
            }
            fees += in - out;
            if (fees > MAX_MONEY) {
                rc = refuse(v, "bad-txns-accumulated-fee-outofrange", "the block's fees exceed 21M BTC");
                at_input(v, b, ti, -1);
                break;
            }
            if (min_height >= height || min_time >= cs->mtp[height - 1]) {
                rc = refuse(v, "bad-txns-nonfinal",
                            "transaction %zu's BIP68 sequence lock is not met (height %lld needs above %lld, "
                            "median time %lld needs above %lld)",
                            ti, (long long)height, (long long)min_height, (long long)cs->mtp[height - 1],
                            (long long)min_time);
                at_input(v, b, ti, -1);
                break;
            }
        }
        k += t->n_in;
        /* Its outputs, for the transactions after it. */
        uint64_t value;
        const uint8_t *s;
        size_t len;
        outs_iter it = outs_of(b, t);
        for (uint32_t o = 0; next_out(&it, &value, &s, &len); o++) {
            if (unspendable(s, len))
                continue;
            uint8_t key[36];
            pk_outpoint_key(key, t->txid, o);
            pk_utxo_add(&cs->u, key, value, (uint32_t)height, ti == 0, s, len, ti == 0);
        }
    }
    if (!rc) {
        uint64_t cb = 0, value;
        const uint8_t *s;
        size_t len;
        outs_iter it = outs_of(b, &b->tx[0]);
        while (next_out(&it, &value, &s, &len))
            cb += value;
        uint64_t limit = fees + pk_block_subsidy(cs->o.chain, height);
        if (cb > limit) {
            rc = refuse(v, "bad-cb-amount", "the coinbase pays %llu sat, above subsidy and fees %llu",
                        (unsigned long long)cb, (unsigned long long)limit);
            at_input(v, b, 0, -1);
        }
    }
    free(ins);
    *fees_out = fees;
    return rc;
}

/* The coins block h spends, from the source's undo data, into the set:
 * those made by the block itself are left to it, and those already there
 * (made by a block connected since the start) are the same coins. */
typedef struct block_txid {
    uint8_t txid[32];
    size_t ti;
} block_txid;

static int by_txid(const void *a, const void *b)
{
    return memcmp(((const block_txid *)a)->txid, ((const block_txid *)b)->txid, 32);
}

/* On the block as connect parsed it, its txids made (the UTXO work's
 * task, before that work): a block is parsed once. */
static int add_spent_coins(pk_chainstate *cs, pk_block_source *src, int64_t h, const pk_block *b, char *err,
                           size_t errlen)
{
    const uint8_t *data = b->data;
    pk_prevout *out = NULL;
    uint8_t *store = NULL;
    size_t n = 0;
    int rc = src->spent(src, h, &out, &n, &store, err, errlen);
    if (rc)
        return rc < 0 ? rc : PK_CHAIN_ESOURCE;
    if (n != b->n_inputs - 1) {
        snprintf(err, errlen, "block %lld: the undo data holds %zu coins for %llu inputs", (long long)h, n,
                 (unsigned long long)(b->n_inputs - 1));
        free(out);
        free(store);
        return PK_CHAIN_ESOURCE;
    }
    size_t k = 0, max_in = 1;
    for (size_t ti = 1; ti < b->ntx; ti++)
        if (b->tx[ti].n_in > max_in)
            max_in = b->tx[ti].n_in;
    pk_txin_ref *ins = malloc(max_in * sizeof *ins);
    /* The block's txids sorted, with their positions: whether an input
     * spends an earlier transaction of the block is a search, not a scan
     * of every transaction before it. */
    block_txid *ids = malloc(b->ntx * sizeof *ids);
    if (!ins || !ids)
        abort();
    for (size_t ti = 0; ti < b->ntx; ti++) {
        memcpy(ids[ti].txid, b->tx[ti].txid, 32);
        ids[ti].ti = ti;
    }
    qsort(ids, b->ntx, sizeof *ids, by_txid);
    for (size_t ti = 1; ti < b->ntx; ti++) {
        pk_tx_inputs(b, &b->tx[ti], ins);
        for (uint32_t vi = 0; vi < b->tx[ti].n_in; vi++, k++) {
            const uint8_t *op = data + ins[vi].prevout;
            block_txid want;
            memcpy(want.txid, op, 32);
            const block_txid *hit = bsearch(&want, ids, b->ntx, sizeof *ids, by_txid);
            /* Duplicate txids (BIP30's) sort together: any earlier one counts. */
            int own = 0;
            if (hit) {
                size_t lo = (size_t)(hit - ids);
                while (lo > 0 && memcmp(ids[lo - 1].txid, op, 32) == 0)
                    lo--;
                for (size_t j = lo; j < b->ntx && !own && memcmp(ids[j].txid, op, 32) == 0; j++)
                    own = ids[j].ti < ti;
            }
            uint8_t key[36];
            memcpy(key, op, 36);
            if (own || pk_utxo_get(&cs->u, key))
                continue;
            if (out[k].height > cs->height) {
                snprintf(err, errlen, "block %lld: the undo data says input %u of transaction %zu spends a coin of "
                                      "height %lld",
                         (long long)h, vi, ti, (long long)out[k].height);
                rc = PK_CHAIN_ESOURCE;
                break;
            }
            pk_utxo_add(&cs->u, key, out[k].value, (uint32_t)out[k].height, out[k].coinbase, out[k].script,
                        out[k].script_len, 0);
        }
        if (rc)
            break;
    }
    pk_utxo_commit(&cs->u);
    free(ins);
    free(ids);
    free(out);
    free(store);
    return rc;
}

/* A block's UTXO work, beside its checks (see pk_block_verify_beside):
 * its verdict kept apart until they pass. */
typedef struct connect_job {
    pk_chainstate *cs;
    int64_t height;
    pk_prevouts *pv;
    pk_chain_verdict v;
    int ran, rc;
    double ms; /* its own time, on its thread */
    /* With a source of undo data: the block's spent coins first (a
     * source's error in src_rc, its message in src_err). */
    pk_block_source *src;
    int src_rc;
    char src_err[256];
} connect_job;

static void connect_beside(void *arg, const pk_block *b)
{
    connect_job *j = arg;
    double t0 = pk_now();
    j->ran = 1;
    if (j->src && (j->src_rc = add_spent_coins(j->cs, j->src, j->height, b, j->src_err, sizeof j->src_err)) != 0) {
        j->ms = (pk_now() - t0) * 1e3;
        return;
    }
    if (j->height == 0) {
        /* Genesis: its coinbase is not spendable, so nothing joins the set. */
        if (!hash_is(j->v.hash, j->cs->r->genesis))
            j->rc = refuse(&j->v, "bad-genesis", "block 0 is not %s's genesis block", j->cs->r->name);
    } else {
        uint64_t fees = 0;
        j->rc = connect_inputs(j->cs, b, j->height, j->pv, &fees, &j->v);
    }
    j->ms = (pk_now() - t0) * 1e3;
}

/* The block connected; with src, its spent coins taken from the source's
 * undo data first (pk_chainstate_start_from). */
static int connect_block(pk_chainstate *cs, const uint8_t *data, size_t len, pk_chain_verdict *v,
                         pk_block_source *src)
{
    memset(v, 0, sizeof *v);
    int64_t height = cs->height + 1;
    v->height = height;
    v->tx = v->vin = -1;
    v->valid = 1;
    if (height < cs->known_from + 1 && cs->known_from > 0) {
        snprintf(v->msg, sizeof v->msg, "no tip to build on");
        return PK_CHAIN_ESTATE;
    }
    if (len >= 80)
        pk_header_hash(data, v->hash);
    if (reserve(cs, height)) {
        snprintf(v->msg, sizeof v->msg, "out of memory");
        return PK_CHAIN_EIO;
    }
    double t0 = pk_now();
    pk_block b;
    pk_block_report rep;
    pk_verror e;
    memset(&b, 0, sizeof b);
    /* Core's order: the header's proof of work, the header in its
     * context, then the block's own checks. */
    if (len >= 80 && pk_check_pow(data, &cs->params, &e) == 0 && height > 0 && check_header(cs, data, height, v)) {
        cs->st.ms_parse += (pk_now() - t0) * 1e3;
        return 1;
    }
    /* The block's own checks on the verifier's threads, and its UTXO work
     * as one of their tasks (connect_beside): the set is changed only
     * through the undo log, so a block that fails its checks is undone
     * whole, and the checks' reason comes first, as in Core. */
    pk_pool pool = pk_verifier_pool(cs->v);
    pk_prevouts pv;
    memset(&pv, 0, sizeof pv);
    connect_job cj = {cs, height, &pv, *v, 0, 0, 0, src, 0, ""};
    pk_block_beside bs = {connect_beside, &cj};
    int checks = pk_block_verify_beside(&b, data, len, &cs->params, &rep, &e, &pool, &bs);
    if (cj.src_rc || checks) {
        if (cj.ran)
            pk_utxo_rollback(&cs->u);
        free(pv.first);
        free(pv.out);
        pk_block_free(&b);
        cs->st.ms_parse += (pk_now() - t0) * 1e3;
        if (cj.src_rc) {
            /* The source's undo data does not fit the block: an error of
             * the source, whatever the block's checks say (as before connect). */
            v->valid = 0;
            snprintf(v->msg, sizeof v->msg, "%s", cj.src_err);
            return cj.src_rc;
        }
        return refuse(v, e.reason ? e.reason : pk_vcode_name(e.code), "%s", e.msg);
    }
    double t1 = pk_now();
    *v = cj.v; /* the UTXO work's verdict, and what it saw */
    v->txs = b.ntx;
    v->inputs = height == 0 ? 0 : b.n_inputs - 1;
    v->ms_utxo = cj.ms;
    v->ms_parse = (t1 - t0) * 1e3 - v->ms_utxo;
    int rc = cj.rc;
    if (!rc && height > 0 && b.ntx > 1) {
        pk_sigcheck_opts so;
        memset(&so, 0, sizeof so);
        so.prevouts = &pv;
        so.height = height;
        so.mainnet = cs->o.chain == PK_CHAIN_MAIN;
        so.policy = cs->o.policy;
        so.no_sequence_locks = 1;
        so.legacy_sigops_known = 1; /* the block's checks counted them */
        so.legacy_sigops = rep.legacy_sigops;
        pk_sig_report sr;
        memset(&sr, 0, sizeof sr);
        int src = pk_block_verify_sigs(&b, &so, cs->v, &sr);
        v->signatures = sr.signatures;
        v->checks = sr.ecdsa + sr.schnorr;
        v->not_checked = sr.not_checked;
        cs->st.upgradable += sr.upgradable;
        if (src == -2) {
            rc = refuse(v, "not-checked", "%s", sr.error ? sr.error : "the script rules cannot be chosen");
        } else if (sr.failed_inputs) {
            static __thread char why[96];
            snprintf(why, sizeof why, "mandatory-script-verify-flag-failed (%s)", sr.failures[0].reason);
            rc = refuse(v, why, "input %zu of transaction %zu fails its script: %s (%llu inputs fail)",
                        sr.failures[0].vin, sr.failures[0].tx, sr.failures[0].reason,
                        (unsigned long long)sr.failed_inputs);
            at_input(v, &b, sr.failures[0].tx, (int64_t)sr.failures[0].vin);
        } else if (sr.sigops_exceeded) {
            rc = refuse(v, "bad-blk-sigops", "signature operation cost %llu is over %u",
                        (unsigned long long)sr.sigop_cost, PK_MAX_BLOCK_SIGOPS_COST);
        } else if (sr.not_checked) {
            v->valid = -1;
            snprintf(v->msg, sizeof v->msg, "%llu inputs not checked", (unsigned long long)sr.not_checked);
        }
        if (sr.not_checked == 0 && v->valid < 0)
            v->not_checked = 1; /* a context check above did not run: counted as one */
        pk_sig_report_free(&sr);
    }
    double t3 = pk_now();
    v->ms_scripts = (t3 - t1) * 1e3;
    free(pv.first);
    free(pv.out);
    if (rc) {
        pk_utxo_rollback(&cs->u);
        pk_block_free(&b);
        cs->st.ms_parse += v->ms_parse;
        cs->st.ms_utxo += v->ms_utxo;
        cs->st.ms_scripts += v->ms_scripts;
        return 1;
    }
    pk_utxo_commit(&cs->u);
    memcpy(cs->hdr[height], data, 80);
    cs->mtp[height] = median_time(cs, height);
    memcpy(cs->tip, v->hash, 32);
    cs->height = height;
    cs->st.blocks++;
    cs->st.txs += v->txs;
    cs->st.inputs += v->inputs;
    cs->st.signatures += v->signatures;
    cs->st.not_checked += v->not_checked;
    cs->st.ms_parse += v->ms_parse;
    cs->st.ms_utxo += v->ms_utxo;
    cs->st.ms_scripts += v->ms_scripts;
    pk_block_free(&b);
    if (cs->u.env && (cs->u.bytes > (uint64_t)cs->o.cache_mb << 20 || pk_now() - cs->last_flush > cs->o.flush_s)) {
        if (pk_chainstate_flush(cs, v->msg, sizeof v->msg))
            return PK_CHAIN_EIO;
    } else if (!cs->u.env && cs->u.bytes > (uint64_t)cs->o.cache_mb << 20) {
        char err[8];
        pk_chainstate_flush(cs, err, sizeof err); /* memory only: drops the spent coins */
    }
    return 0;
}

int pk_chainstate_connect(pk_chainstate *cs, const uint8_t *data, size_t len, pk_chain_verdict *v)
{
    return connect_block(cs, data, len, v, NULL);
}

int pk_chainstate_start_from(pk_chainstate *cs, pk_block_source *src, int64_t from, char *err, size_t errlen)
{
    if (!src->headers || !src->spent) {
        snprintf(err, errlen, "the %s source has no undo data: a run from a height needs --datadir", src->name);
        return PK_CHAIN_ESOURCE;
    }
    if (cs->u.env || cs->height >= 0 || from < 1) {
        snprintf(err, errlen, "a run from a height starts a fresh state in memory, above genesis");
        return PK_CHAIN_ESTATE;
    }
    uint8_t (*hdrs)[80] = malloc((size_t)from * 80);
    if (!hdrs) {
        snprintf(err, errlen, "out of memory");
        return PK_CHAIN_EIO;
    }
    int rc = src->headers(src, from, hdrs, err, errlen);
    if (rc == 0) {
        uint8_t tip[32];
        pk_header_hash(hdrs[from - 1], tip);
        rc = pk_chainstate_assume_tip(cs, from - 1, tip, (const uint8_t(*)[80])hdrs, (size_t)from);
        if (rc)
            snprintf(err, errlen, "cannot start at height %lld", (long long)from);
    }
    free(hdrs);
    if (rc == 0)
        cs->coins_from_source = 1;
    return rc;
}

int pk_chainstate_step(pk_chainstate *cs, pk_block_source *src, pk_chain_verdict *v, char *err, size_t errlen)
{
    int64_t h = -1;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = src->next(src, &h, &data, &len, err, errlen);
    if (rc == 0)
        return 2;
    if (rc < 0)
        return rc;
    if (h != cs->height + 1) {
        free(data);
        snprintf(err, errlen, "the %s source gave block %lld where %lld was next", src->name, (long long)h,
                 (long long)(cs->height + 1));
        return PK_CHAIN_ESOURCE;
    }
    if (cs->coins_from_source && !src->spent) {
        free(data);
        snprintf(err, errlen, "the %s source has no undo data", src->name);
        return PK_CHAIN_ESOURCE;
    }
    rc = connect_block(cs, data, len, v, cs->coins_from_source ? src : NULL);
    free(data);
    if (rc < 0)
        snprintf(err, errlen, "%s", v->msg);
    return rc;
}

int pk_chainstate_assume_tip(pk_chainstate *cs, int64_t height, const uint8_t tip[32], const uint8_t (*headers)[80],
                             size_t n)
{
    if (cs->u.env || cs->height >= 0 || height < 1 || n == 0 || (int64_t)n > height + 1 || reserve(cs, height))
        return PK_CHAIN_ESTATE;
    cs->known_from = height + 1 - (int64_t)n;
    for (size_t i = 0; i < n; i++)
        memcpy(cs->hdr[cs->known_from + (int64_t)i], headers[i], 80);
    for (int64_t h = cs->known_from; h <= height; h++)
        cs->mtp[h] = median_time(cs, h);
    cs->height = height;
    memcpy(cs->tip, tip, 32);
    return 0;
}

int pk_chainstate_add_coin(pk_chainstate *cs, const uint8_t txid[32], uint32_t n, uint64_t value, int64_t height,
                           int coinbase, const uint8_t *script, size_t len)
{
    if (height < 0 || height > cs->height || value > MAX_MONEY)
        return PK_CHAIN_ESTATE;
    uint8_t key[36];
    pk_outpoint_key(key, txid, n);
    pk_utxo_add(&cs->u, key, value, (uint32_t)height, coinbase, script, len, 0);
    pk_utxo_commit(&cs->u);
    return 0;
}
