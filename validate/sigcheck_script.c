/* A block's inputs through the script interpreter (with the spent
 * outputs): every input's script run with its signature checks deferred,
 * all the checks in one batch, the deferred verdicts resolved, and the
 * inputs whose assumptions failed run again with every signature verified
 * on the spot.  BIP68's height locks are checked here too; time locks need
 * the median times, which a single block does not carry. */
#include <stdlib.h>
#include <string.h>

#include "powkit/digest.h"
#include "powkit/script.h"
#include "powkit/sigcheck.h"
#include "powkit/sigops.h"
#include "powkit/util.h"
#include "sigcheck_internal.h"
#include "verifier_internal.h"

#define BIP65_HEIGHT 388381
#define BIP66_HEIGHT 363725
#define CSV_HEIGHT 419328
#define SEGWIT_HEIGHT 481824

const char *pk_script_kind_name(pk_script_kind k)
{
    static const char *n[PK_KIND_COUNT] = {
        "p2pk",          "p2pkh",          "multisig",            "bare_other",          "p2sh_p2pk",
        "p2sh_p2pkh",    "p2sh_multisig",  "p2sh_other",          "p2wpkh",              "p2sh_p2wpkh",
        "p2wsh_p2pk",    "p2wsh_p2pkh",    "p2wsh_multisig",      "p2wsh_other",         "p2sh_p2wsh_p2pk",
        "p2sh_p2wsh_p2pkh", "p2sh_p2wsh_multisig", "p2sh_p2wsh_other", "p2tr_key",         "p2tr_script",
        "witness_unknown"};
    return (unsigned)k < PK_KIND_COUNT ? n[k] : "unknown";
}

/* The template kinds as pk_spend counts them (-1: not a template). */
static int spend_of(pk_script_kind k)
{
    switch (k) {
    case PK_KIND_P2PK: return PK_SPEND_P2PK;
    case PK_KIND_P2PKH: return PK_SPEND_P2PKH;
    case PK_KIND_MULTISIG: return PK_SPEND_MULTISIG;
    case PK_KIND_P2SH_P2PK: return PK_SPEND_P2SH_P2PK;
    case PK_KIND_P2SH_P2PKH: return PK_SPEND_P2SH_P2PKH;
    case PK_KIND_P2SH_MULTISIG: return PK_SPEND_P2SH_MULTISIG;
    case PK_KIND_P2WPKH: return PK_SPEND_P2WPKH;
    case PK_KIND_P2SH_P2WPKH: return PK_SPEND_P2SH_P2WPKH;
    case PK_KIND_P2WSH_P2PK: return PK_SPEND_P2WSH_P2PK;
    case PK_KIND_P2WSH_P2PKH: return PK_SPEND_P2WSH_P2PKH;
    case PK_KIND_P2WSH_MULTISIG: return PK_SPEND_P2WSH_MULTISIG;
    case PK_KIND_P2SH_P2WSH_P2PK: return PK_SPEND_P2SH_P2WSH_P2PK;
    case PK_KIND_P2SH_P2WSH_P2PKH: return PK_SPEND_P2SH_P2WSH_P2PKH;
    case PK_KIND_P2SH_P2WSH_MULTISIG: return PK_SPEND_P2SH_P2WSH_MULTISIG;
    case PK_KIND_P2TR_KEY: return PK_SPEND_P2TR_KEY;
    default: return -1;
    }
}

/* ---- the kind of a spend, for the counts (the verdict is the interpreter's) ---- */

static int p2sh_spk(const uint8_t *s, size_t l) { return l == 23 && s[0] == 0xa9 && s[1] == 20 && s[22] == 0x87; }

static int wprog(const uint8_t *s, size_t l, size_t *plen)
{
    if (l < 4 || l > 42 || (s[0] != 0 && (s[0] < 0x51 || s[0] > 0x60)) || s[1] + 2u != l)
        return -1;
    *plen = s[1];
    return s[0] ? s[0] - 0x50 : 0;
}

/* 0 P2PK, 1 P2PKH, 2 multisig (m, n), 3 other. */
static int tmpl_of(const uint8_t *s, size_t l, int *m, int *n)
{
    if ((l == 35 && s[0] == 33 && s[34] == 0xac) || (l == 67 && s[0] == 65 && s[66] == 0xac))
        return 0;
    if (l == 25 && s[0] == 0x76 && s[1] == 0xa9 && s[2] == 20 && s[23] == 0x88 && s[24] == 0xac)
        return 1;
    if (l < 37 || s[l - 1] != 0xae || s[0] < 0x51 || s[0] > 0x60 || s[l - 2] < 0x51 || s[l - 2] > 0x60)
        return 3;
    int keys = 0;
    size_t pos = 1;
    while (pos < l - 2) {
        size_t kl = s[pos];
        if ((kl != 33 && kl != 65) || pos + 1 + kl > l - 2)
            return 3;
        pos += 1 + kl;
        keys++;
    }
    if (keys != s[l - 2] - 0x50 || s[0] - 0x50 > keys)
        return 3;
    *m = s[0] - 0x50;
    *n = keys;
    return 2;
}

/* The last push of a script ending in one (NULL if none). */
static const uint8_t *last_push(const uint8_t *s, size_t l, size_t *out)
{
    const uint8_t *last = NULL;
    size_t pos = 0;
    while (pos < l) {
        size_t start = pos;
        uint8_t op;
        if (!pk_script_op(s, l, &pos, &op))
            return NULL;
        if (op > 0x4e) {
            last = NULL;
            continue;
        }
        size_t hdr = op < 0x4c ? 1 : op == 0x4c ? 2 : op == 0x4d ? 3 : 5;
        last = s + start + hdr;
        *out = pos - start - hdr;
    }
    return last;
}

/* The witness items: count, and the last two (after an annex). */
static size_t witness_last(const uint8_t *d, size_t at, const uint8_t **last, size_t *ll, int *annex)
{
    *last = NULL;
    *annex = 0;
    if (!at)
        return 0;
    uint64_t n = pk_compact_get(d, &at);
    const uint8_t *prev = NULL, *cur = NULL;
    size_t pl = 0, cl = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t l = (size_t)pk_compact_get(d, &at);
        prev = cur;
        pl = cl;
        cur = d + at;
        cl = l;
        at += l;
    }
    if (n >= 2 && cl > 0 && cur[0] == 0x50) {
        *annex = 1;
        *last = prev;
        *ll = pl;
        return (size_t)n - 1;
    }
    *last = cur;
    *ll = cl;
    return (size_t)n;
}

typedef struct kind_info {
    pk_script_kind kind;
    int m, n;      /* multisig */
    size_t key_len; /* P2PKH: the key pushed */
} kind_info;

static pk_script_kind wrapped(int base, int t)
{
    static const pk_script_kind k[3][4] = {
        {PK_KIND_P2SH_P2PK, PK_KIND_P2SH_P2PKH, PK_KIND_P2SH_MULTISIG, PK_KIND_P2SH_OTHER},
        {PK_KIND_P2WSH_P2PK, PK_KIND_P2WSH_P2PKH, PK_KIND_P2WSH_MULTISIG, PK_KIND_P2WSH_OTHER},
        {PK_KIND_P2SH_P2WSH_P2PK, PK_KIND_P2SH_P2WSH_P2PKH, PK_KIND_P2SH_P2WSH_MULTISIG, PK_KIND_P2SH_P2WSH_OTHER}};
    return k[base][t];
}

/* The bytes an input's scripts will HASH160, found on the way: the P2PKH
 * key, the P2SH redeem script, the P2WPKH key (see pk_script_h160). */
static void h160_slot(pk_script_h160 *memo, const uint8_t *pre, size_t len)
{
    pk_script_h160 *m = memo[0].pre ? &memo[1] : &memo[0];
    m->pre = pre;
    m->len = (uint32_t)len;
}

/* The input's kind, for the counts, and (memo: two slots) the bytes its
 * scripts will HASH160. */
static void classify(const pk_block *b, const pk_txin_ref *in, const pk_prevout *po, kind_info *ki,
                     pk_script_h160 memo[PK_SCRIPT_H160_PER_INPUT])
{
    const uint8_t *d = b->data, *ss = d + in->script, *spk = po->script;
    size_t sl = in->script_len, spl = po->script_len, plen, ll = 0, wl = 0;
    const uint8_t *wlast;
    int annex, m = 0, n = 0;
    memset(ki, 0, sizeof *ki);
    memset(memo, 0, PK_SCRIPT_H160_PER_INPUT * sizeof *memo);
    int v = wprog(spk, spl, &plen), t;
    const uint8_t *redeem = NULL;
    int wrap = 0;
    if (v < 0 && p2sh_spk(spk, spl) && (redeem = last_push(ss, sl, &ll)) != NULL) {
        h160_slot(memo, redeem, ll);
        v = wprog(redeem, ll, &plen);
        wrap = 1;
        if (v < 0) {
            t = tmpl_of(redeem, ll, &m, &n);
            ki->kind = wrapped(0, t);
            goto tmpl_done;
        }
    } else if (v < 0 && p2sh_spk(spk, spl)) {
        ki->kind = PK_KIND_P2SH_OTHER;
        return;
    }
    if (v == 0 && plen == 20) {
        ki->kind = wrap ? PK_KIND_P2SH_P2WPKH : PK_KIND_P2WPKH;
        if (witness_last(d, in->witness, &wlast, &wl, &annex) == 2)
            h160_slot(memo, wlast, wl); /* the key */
        return;
    }
    if (v == 0 && plen == 32) {
        size_t items = witness_last(d, in->witness, &wlast, &wl, &annex);
        t = items && wlast ? tmpl_of(wlast, wl, &m, &n) : 3;
        ki->kind = wrapped(wrap ? 2 : 1, t);
        goto tmpl_done;
    }
    if (v == 1 && plen == 32 && !wrap) {
        size_t items = witness_last(d, in->witness, &wlast, &wl, &annex);
        ki->kind = items >= 2 ? PK_KIND_P2TR_SCRIPT : PK_KIND_P2TR_KEY;
        return;
    }
    if (v >= 0) {
        ki->kind = wrap && v == 0 ? PK_KIND_P2SH_OTHER : PK_KIND_WITNESS_UNKNOWN;
        return;
    }
    t = tmpl_of(spk, spl, &m, &n);
    ki->kind = t == 0 ? PK_KIND_P2PK : t == 1 ? PK_KIND_P2PKH : t == 2 ? PK_KIND_MULTISIG : PK_KIND_BARE_OTHER;
    const uint8_t *key;
    if (t == 1 && (key = last_push(ss, sl, &ll)) != NULL) {
        ki->key_len = ll;
        h160_slot(memo, key, ll);
    }
tmpl_done:
    if (t == 2) {
        ki->m = m;
        ki->n = n;
    }
}

/* ---- the run ---- */

typedef struct input_res {
    int rc;                  /* 1 valid, 0 invalid */
    pk_script_error err;
    pk_script_info info;
    size_t req_from, req_to; /* its requirements in the transaction's defer */
    int unchecked;           /* -1, or a pk_unchecked */
    const char *fail;        /* a failure outside the script (BIP68) */
    int rerun;
    int pilot;               /* among the first inputs whose checks decide the guesses */
    int decided;             /* its requirements wanted nothing in a round: none will (results only
                                go from open to 0 or 1), so later rounds pass it by */
} input_res;

typedef struct tx_run {
    pk_script_txdata *txd;
    pk_script_defer defer;
    size_t bytes;    /* its buffers' size when last used (for scratch_trim) */
    uint64_t sigops; /* its sigop cost (tx_prepare) */
} tx_run;

/* A block run's buffers, kept with the verifier between blocks (see
 * verifier_internal.h): the transactions' slots (their txdata and defer,
 * whose buffers grow to the largest transaction a slot has seen) and the
 * per-input and per-check arrays.  What a run leaves beyond
 * SCRATCH_KEEP_BYTES in the slots is freed after it, so that one huge
 * block does not pin its memory for the rest of a chain. */
#define SCRATCH_KEEP_BYTES ((size_t)64 << 20)
typedef struct sc_scratch {
    tx_run *txs;
    size_t cap_txs; /* slots, zeroed when made */
    input_res *res;
    kind_info *kinds;
    size_t cap_res, cap_kinds;
    pk_sig_check **all;
    uint32_t *w_base, *w_count, *w_idx;
    uint8_t *again;
    size_t cap_all, cap_w_base, cap_w_count, cap_w_idx, cap_again;
    struct hash_job *jobs;
    size_t cap_jobs;
    uint32_t *order;
    uint8_t *rank;
    size_t cap_order, cap_rank;
    pk_script_h160 *h160; /* PK_SCRIPT_H160_PER_INPUT per input of the block */
    size_t cap_h160;
} sc_scratch;

#define GROW(p, cap, n) ((p) = pk_sc_grow((p), &(cap), (n), sizeof *(p)))

static void scratch_free_slot(tx_run *x)
{
    pk_script_txdata_free(x->txd);
    pk_script_defer_free(&x->defer);
    x->txd = NULL;
}

/* What sc holds, freed (sc itself is the caller's). */
static void scratch_release(sc_scratch *sc)
{
    for (size_t i = 0; i < sc->cap_txs; i++)
        scratch_free_slot(&sc->txs[i]);
    free(sc->txs);
    free(sc->res);
    free(sc->kinds);
    free(sc->all);
    free(sc->w_base);
    free(sc->w_count);
    free(sc->again);
    free(sc->w_idx);
    free(sc->jobs);
    free(sc->order);
    free(sc->rank);
    free(sc->h160);
}

static void scratch_free(void *p)
{
    if (!p)
        return;
    scratch_release(p);
    free(p);
}

/* v's scratch, made on first use; NULL only when memory is short (the
 * run then takes a scratch of its own). */
static sc_scratch *scratch_of(pk_verifier *v)
{
    sc_scratch *sc = pk_verifier_scratch(v, scratch_free);
    if (!sc && (sc = calloc(1, sizeof *sc)) != NULL)
        pk_verifier_keep_scratch(v, sc, scratch_free);
    return sc;
}

/* Room for ntx slots, the new ones zeroed. */
static tx_run *scratch_slots(sc_scratch *sc, size_t ntx)
{
    if (ntx > sc->cap_txs) {
        tx_run *n = realloc(sc->txs, ntx * sizeof *n);
        if (!n)
            abort();
        memset(n + sc->cap_txs, 0, (ntx - sc->cap_txs) * sizeof *n);
        sc->txs = n;
        sc->cap_txs = ntx;
    }
    return sc->txs;
}

/* After a run: the slots beyond the budget freed. */
static void scratch_trim(sc_scratch *sc)
{
    size_t kept = 0;
    for (size_t i = 0; i < sc->cap_txs; i++) {
        kept += sc->txs[i].bytes;
        if (kept > SCRATCH_KEEP_BYTES) {
            scratch_free_slot(&sc->txs[i]);
            sc->txs[i].bytes = 0;
        }
    }
}

typedef struct run {
    const pk_block *b;
    const pk_prevouts *pv;
    uint32_t flags;
    int bip68;
    int64_t height;
    tx_run *txs;
    input_res *res; /* one per input of the block (pv->first indexes it) */
    kind_info *kinds;
    pk_sig_check **all; /* a round's checks, where they lie in the defers */
    sc_scratch *sc;
    uint32_t *order; /* the transactions by falling cost: the longest start first */
    pk_script_h160 *h160; /* the inputs' HASH160s made ahead (tx_prepare) */
    int segwit_on;        /* witness sigops count (BIP141) */
    int legacy_sigops;    /* legacy sigops are counted here (not known already) */
} run;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* BIP68 for one input: NULL met, a reason when not, or *unchecked set. */
static const char *sequence_lock(const run *r, const pk_tx *t, const pk_txin_ref *in, const pk_prevout *po,
                                 int *unchecked)
{
    const uint8_t *d = r->b->data;
    if (le32(d + t->offset) < 2)
        return NULL;
    uint32_t seq = le32(d + in->sequence);
    if (seq & (1u << 31))
        return NULL; /* disabled for this input */
    uint32_t value = seq & 0xffff;
    if (value == 0)
        return NULL; /* the spent output's block is never after this one */
    if (seq & (1u << 22)) {
        *unchecked = PK_UNCHECKED_SEQUENCE_CONTEXT; /* time: the median times are not in a block */
        return NULL;
    }
    if (!po->has_height || r->height < 0) {
        *unchecked = PK_UNCHECKED_SEQUENCE_CONTEXT;
        return NULL;
    }
    /* Core: the lock holds when coin height + value - 1 < block height. */
    if (po->height + (int64_t)value - 1 >= r->height)
        return "bad-txns-nonfinal (a BIP68 relative height lock is not met)";
    return NULL;
}

/* Before the runs, PREP_TXS transactions in block order per task: each
 * transaction's txdata and its inputs' kinds and sequence locks, and the
 * HASH160s its scripts will take (keys, redeem scripts), all of the
 * task's hashed at once in SIMD lanes instead of one by one in the runs:
 * most transactions have one or two inputs, so one alone would leave the
 * lanes empty. */
enum { PREP_TXS = 16, H160_BATCH = 64 };

typedef struct h160_batch {
    const uint8_t *msgs[H160_BATCH];
    size_t lens[H160_BATCH];
    pk_script_h160 *slots[H160_BATCH];
    size_t n;
} h160_batch;

static void h160_flush(h160_batch *q)
{
    uint8_t out[H160_BATCH][20];
    pk_hash160_many(q->msgs, q->lens, q->n, out);
    for (size_t i = 0; i < q->n; i++)
        memcpy(q->slots[i]->hash, out[i], 20);
    q->n = 0;
}

static void tx_prepare(void *arg, size_t c)
{
    run *r = arg;
    const pk_block *b = r->b;
    size_t from = 1 + c * PREP_TXS, to = from + PREP_TXS < b->ntx ? from + PREP_TXS : b->ntx;
    h160_batch q;
    q.n = 0;
    for (size_t ti = from; ti < to; ti++) {
        const pk_tx *t = &b->tx[ti];
        const pk_prevout *spent = pk_prevouts_of(r->pv, ti);
        tx_run *x = &r->txs[ti];
        pk_script_tx st = {b, t, spent};
        if (x->txd)
            pk_script_txdata_reuse(x->txd, &st); /* a slot of an earlier block: its buffers stay */
        else
            x->txd = pk_script_txdata_new(&st);
        pk_script_defer_clear(&x->defer);
        x->defer.lazy_legacy = 1;
        size_t base = r->pv->first[ti];
        pk_script_h160 *memo = r->h160 + PK_SCRIPT_H160_PER_INPUT * base;
        for (uint32_t vi = 0; vi < t->n_in; vi++) {
            input_res *o = &r->res[base + vi];
            const pk_txin_ref *in = &pk_script_txdata_inputs(x->txd)[vi];
            pk_script_h160 *m = memo + PK_SCRIPT_H160_PER_INPUT * vi;
            classify(b, in, &spent[vi], &r->kinds[base + vi], m);
            o->unchecked = -1;
            o->fail = r->bip68 ? sequence_lock(r, t, in, &spent[vi], &o->unchecked) : NULL;
            for (size_t j = 0; j < PK_SCRIPT_H160_PER_INPUT && m[j].pre; j++) {
                q.msgs[q.n] = m[j].pre;
                q.lens[q.n] = m[j].len;
                q.slots[q.n++] = &m[j];
                if (q.n == H160_BATCH)
                    h160_flush(&q);
            }
        }
        pk_script_txdata_set_h160(x->txd, memo);
        x->sigops = pk_sc_tx_sigop_cost(b, ti, pk_script_txdata_inputs(x->txd), spent, r->segwit_on, r->legacy_sigops);
    }
    if (q.n)
        h160_flush(&q);
}

/* One transaction's runs (the costliest first: see cost_order). */
static void tx_interpret(void *arg, size_t i)
{
    run *r = arg;
    size_t ti = r->order[i];
    const pk_block *b = r->b;
    const pk_tx *t = &b->tx[ti];
    tx_run *x = &r->txs[ti];
    pk_script_tx st = {b, t, pk_prevouts_of(r->pv, ti)};
    size_t base = r->pv->first[ti];
    for (uint32_t vi = 0; vi < t->n_in; vi++) {
        input_res *o = &r->res[base + vi];
        o->req_from = x->defer.n_reqs;
        o->rc = pk_script_exec(&st, x->txd, vi, r->flags, &x->defer, &o->err, &o->info);
        o->req_to = x->defer.n_reqs;
    }
    /* its buffers have grown as far as this block takes them (the hashes only fill them) */
    x->bytes = pk_script_defer_bytes(&x->defer) + pk_script_txdata_bytes(x->txd);
}

/* The legacy hashes the runs left out, in chunks the threads share (a
 * large transaction's are much of the block's hashing): each chunk one
 * multi-buffer pass over the jobs of one or several transactions, so that
 * a wide path's lanes stay full where most transactions have one or two
 * inputs. */
typedef struct hash_job {
    uint32_t ti, job;
} hash_job;

enum { HASH_CHUNK = 64 };

typedef struct hash_run {
    run *r;
    const hash_job *jobs;
    size_t n;
} hash_run;

static void tx_hash_chunk(void *arg, size_t c)
{
    hash_run *h = arg;
    size_t from = c * HASH_CHUNK, to = from + HASH_CHUNK < h->n ? from + HASH_CHUNK : h->n, n = to - from;
    pk_sha256_gather g[HASH_CHUNK];
    memset(g, 0, sizeof g); /* describe fills what a message has */
    pk_sha256_seg segs[HASH_CHUNK][4];
    uint8_t out[HASH_CHUNK][32];
    for (size_t i = from; i < to; i++) {
        tx_run *x = &h->r->txs[h->jobs[i].ti];
        pk_script_defer_describe(&x->defer, x->txd, h->jobs[i].job, h->jobs[i].job + 1, g + (i - from),
                                 segs + (i - from));
    }
    pk_sha256d_many_gather(g, n, out);
    for (size_t i = from; i < to; i++) {
        tx_run *x = &h->r->txs[h->jobs[i].ti];
        pk_script_defer_store(&x->defer, h->jobs[i].job, h->jobs[i].job + 1,
                              (const uint8_t(*)[32])(out + (i - from)));
    }
}

static void hash_legacy(run *r, pk_verifier *v)
{
    const pk_block *b = r->b;
    size_t n = 0;
    for (size_t ti = 1; ti < b->ntx; ti++)
        n += r->txs[ti].defer.n_jobs;
    if (n == 0)
        return;
    hash_job *jobs = GROW(r->sc->jobs, r->sc->cap_jobs, n);
    size_t k = 0;
    for (size_t i = 0; i + 1 < b->ntx; i++) { /* the costliest transactions' first */
        size_t ti = r->order[i];
        for (size_t j = 0; j < r->txs[ti].defer.n_jobs; j++)
            jobs[k++] = (hash_job){(uint32_t)ti, (uint32_t)j};
    }
    hash_run h = {r, jobs, n};
    pk_verifier_for(v, (n + HASH_CHUNK - 1) / HASH_CHUNK, 1, tx_hash_chunk, &h);
    for (size_t ti = 1; ti < b->ntx; ti++) { /* done: as pk_script_defer_hash leaves them */
        r->txs[ti].defer.n_jobs = 0;
        r->txs[ti].defer.n_codes = 0;
    }
}

static void tx_resolve(void *arg, size_t i)
{
    run *r = arg;
    size_t ti = i + 1;
    const pk_block *b = r->b;
    const pk_tx *t = &b->tx[ti];
    tx_run *x = &r->txs[ti];
    pk_script_tx st = {b, t, pk_prevouts_of(r->pv, ti)};
    size_t base = r->pv->first[ti];
    for (uint32_t vi = 0; vi < t->n_in; vi++) {
        input_res *o = &r->res[base + vi];
        if (o->rc == 1 && (o->req_from == o->req_to || pk_script_defer_holds(&x->defer, x->defer.checks, o->req_from, o->req_to)))
            continue;
        /* A failed assumption, or a deferred run that failed: the real
         * run decides (a script may need a signature to fail). */
        o->rerun = 1;
        pk_script_info info;
        o->rc = pk_script_exec(&st, x->txd, vi, r->flags, NULL, &o->err, &info);
    }
}

/* The order of a transaction's interpretation cost, roughly (legacy
 * hashing is its size per input): its octave and the two bits below its
 * top one, so that costs within a quarter octave tie (0..255). */
static uint8_t cost_rank(const pk_tx *t)
{
    uint64_t c = (uint64_t)t->n_in * (t->base_size + 256);
    if (c < 4)
        return (uint8_t)c;
    unsigned top = 63u - (unsigned)__builtin_clzll(c);
    return (uint8_t)(4 * (top - 1) + (unsigned)((c >> (top - 2)) & 3));
}

/* Largest first, so that the threads finish together (a block's few
 * large transactions are much of its work, wherever they are in it):
 * by quarter octaves, block order within one, a counting sort (qsort
 * took 0.14 ms of a large block's serial time). */
static uint32_t *cost_order(const pk_block *b, sc_scratch *sc)
{
    enum { RANKS = 256 };
    size_t n = b->ntx - 1, at[RANKS + 1] = {0};
    uint8_t *rank = GROW(sc->rank, sc->cap_rank, n);
    uint32_t *o = GROW(sc->order, sc->cap_order, n);
    for (size_t i = 0; i < n; i++) {
        rank[i] = (uint8_t)(RANKS - 1 - cost_rank(&b->tx[i + 1])); /* the costliest first */
        at[rank[i] + 1]++;
    }
    for (size_t r = 0; r < RANKS; r++)
        at[r + 1] += at[r];
    for (size_t i = 0; i < n; i++)
        o[at[rank[i]]++] = (uint32_t)(i + 1);
    return o;
}

uint32_t pk_sc_block_flags(const pk_block *b, int64_t h, int mainnet)
{
    uint32_t f = PK_SCRIPT_CONSENSUS_FLAGS;
    if (!mainnet)
        return f;
    /* Core: P2SH, witness and taproot for every block but two, the rest from their heights. */
    f = PK_SCRIPT_VERIFY_P2SH | PK_SCRIPT_VERIFY_WITNESS | PK_SCRIPT_VERIFY_TAPROOT;
    if (b->size >= 80) {
        static const char *bip16_exception = "00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22";
        static const char *taproot_exception = "0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad";
        uint8_t hash[32];
        char hex[65];
        pk_header_hash(b->data, hash);
        pk_hash_to_hex(hash, hex);
        if (strcmp(hex, bip16_exception) == 0)
            f = 0;
        else if (strcmp(hex, taproot_exception) == 0)
            f = PK_SCRIPT_VERIFY_P2SH | PK_SCRIPT_VERIFY_WITNESS;
    }
    if (h >= BIP66_HEIGHT)
        f |= PK_SCRIPT_VERIFY_DERSIG;
    if (h >= BIP65_HEIGHT)
        f |= PK_SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY;
    if (h >= CSV_HEIGHT)
        f |= PK_SCRIPT_VERIFY_CHECKSEQUENCEVERIFY;
    if (h >= SEGWIT_HEIGHT)
        f |= PK_SCRIPT_VERIFY_NULLDUMMY;
    return f;
}

static void add_failure(pk_sig_report *rep, const pk_block *b, size_t ti, size_t vi, const char *why)
{
    pk_sig_failure *nf = realloc(rep->failures, (rep->failed_inputs + 1) * sizeof *rep->failures);
    if (!nf)
        abort();
    rep->failures = nf;
    pk_sig_failure *f = &rep->failures[rep->failed_inputs++];
    f->tx = ti;
    f->vin = vi;
    memcpy(f->txid, b->tx[ti].txid, 32);
    f->reason = why;
}

static void add_unchecked(pk_sig_report *rep, size_t ti, size_t vi, pk_unchecked why)
{
    pk_sig_unchecked *nu = realloc(rep->unchecked, (rep->not_checked + 1) * sizeof *rep->unchecked);
    if (!nu)
        abort();
    rep->unchecked = nu;
    nu[rep->not_checked].tx = ti;
    nu[rep->not_checked].vin = vi;
    nu[rep->not_checked].why = why;
    rep->not_checked++;
    rep->not_checked_by[why]++;
}

/* ---- the checks, in rounds ---- */

typedef struct rounds {
    run *r;
    pk_verifier *v;
    pk_sig_report *rep;
    /* A round's wanted checks, found transaction by transaction in
     * parallel: transaction ti's w_count[ti] of them (indices into its
     * defer) at w_idx + w_base[ti], where its defer's n have room. */
    uint32_t *w_base, *w_count, *w_idx;
    /* After a round: again[ti], some check of transaction ti's came back
     * not valid.  A transaction without one has nothing more to check:
     * each input's wanted checks, all valid, decide it (they are a
     * matching, or consensus' own walk, that holds once they are valid).
     * Were that ever not so, the input would be undecided at the end and
     * run again whole (tx_resolve): only slower, never another answer. */
    uint8_t *again;
    int after; /* again holds the last round's */
    pk_script_hint *hints;
    size_t n_hints, total;
    int keep;  /* copy the checks into rep->kept */
    int pilot; /* this round: the pilot inputs' checks only */
} rounds;

static void tx_wanted(void *arg, size_t i)
{
    rounds *ro = arg;
    run *r = ro->r;
    size_t ti = i + 1;
    tx_run *x = &r->txs[ti];
    size_t base = r->pv->first[ti], nw = 0;
    uint32_t *out = ro->w_idx + ro->w_base[ti];
    if (ro->after && !ro->again[ti]) {
        ro->w_count[ti] = 0;
        return;
    }
    for (uint32_t vi = 0; vi < r->b->tx[ti].n_in && x->defer.n; vi++) {
        input_res *o = &r->res[base + vi];
        if (o->rc != 1 || o->req_from == o->req_to || o->decided || (ro->pilot && !o->pilot))
            continue; /* run again anyway, nothing to check, decided, or not now */
        size_t k = pk_script_defer_wanted(&x->defer, o->req_from, o->req_to, ro->hints, ro->n_hints, out + nw);
        o->decided = k == 0;
        nw += k;
    }
    ro->w_count[ti] = (uint32_t)nw;
}

/* Batches of the checks the inputs' requirements want (pilot: of the pilot
 * inputs only), their results stored, until none is wanted. */
static void check_rounds(rounds *ro, int pilot)
{
    run *r = ro->r;
    const pk_block *b = r->b;
    ro->pilot = pilot;
    ro->after = 0;
    for (;;) {
        pk_verifier_for(ro->v, b->ntx - 1, 16, tx_wanted, ro);
        size_t nw = 0;
        for (size_t ti = 1; ti < b->ntx; ti++) {
            pk_sig_check *checks = r->txs[ti].defer.checks;
            const uint32_t *w = ro->w_idx + ro->w_base[ti];
            for (uint32_t j = 0; j < ro->w_count[ti]; j++) {
                pk_sig_check *c = &checks[w[j]];
                r->all[nw++] = c;
                if (c->type == PK_SIG_ECDSA)
                    ro->rep->ecdsa++;
                else
                    ro->rep->schnorr++;
            }
        }
        if (nw == 0)
            return;
        pk_verifier_run_at(ro->v, r->all, nw, 0);
        size_t not_valid = 0;
        for (size_t ti = 1, i = 0; ti < b->ntx; ti++) {
            uint8_t bad = 0;
            for (uint32_t j = 0; j < ro->w_count[ti]; j++, i++) {
                bad |= r->all[i]->valid != 1;
                r->all[i]->valid = r->all[i]->valid == 1 ? 1 : 0; /* never open again: the rounds end */
            }
            ro->again[ti] = bad;
            not_valid += bad;
        }
        if (ro->keep) {
            pk_sig_check *nk = realloc(ro->rep->kept, (ro->rep->n_kept + nw) * sizeof *nk);
            if (!nk)
                abort();
            ro->rep->kept = nk;
            for (size_t i = 0; i < nw; i++)
                nk[ro->rep->n_kept++] = *r->all[i];
        }
        ro->total += nw;
        ro->rep->check_rounds++;
        if (not_valid == 0)
            return; /* every input these checks were for is decided */
        ro->after = 1;
    }
}

/* The pilot: the first inputs, in block order, with a CHECKMULTISIG that
 * has more keys than signatures (where guessing the matching pays).
 * Returns how many. */
static size_t pick_pilot(run *r)
{
    enum { PILOT = 16 };
    const pk_block *b = r->b;
    size_t n = 0;
    for (size_t ti = 1; ti < b->ntx && n < PILOT; ti++) {
        const pk_script_defer *d = &r->txs[ti].defer;
        size_t base = r->pv->first[ti];
        for (uint32_t vi = 0; vi < b->tx[ti].n_in && n < PILOT; vi++) {
            input_res *o = &r->res[base + vi];
            if (o->rc != 1)
                continue;
            for (size_t q = o->req_from; q < o->req_to && !o->pilot; q++)
                if (d->reqs[q].n > d->reqs[q].m && d->reqs[q].m <= PK_SCRIPT_HINT_MAX)
                    o->pilot = 1;
            n += (size_t)o->pilot;
        }
    }
    return n;
}

/* Per (m, n): the matching most of the pilot's requirements had. */
static void learn_hints(rounds *ro)
{
    enum { MAX_SEEN = 32 };
    typedef struct seen {
        pk_script_hint h;
        unsigned count;
    } seen;
    seen s[MAX_SEEN];
    size_t ns = 0;
    run *r = ro->r;
    const pk_block *b = r->b;
    for (size_t ti = 1; ti < b->ntx; ti++) {
        const pk_script_defer *d = &r->txs[ti].defer;
        size_t base = r->pv->first[ti];
        for (uint32_t vi = 0; vi < b->tx[ti].n_in; vi++) {
            const input_res *o = &r->res[base + vi];
            if (!o->pilot)
                continue;
            for (size_t q = o->req_from; q < o->req_to; q++) {
                const pk_script_req *rq = &d->reqs[q];
                pk_script_hint h;
                memset(&h, 0, sizeof h);
                if (rq->n <= rq->m || rq->m > PK_SCRIPT_HINT_MAX || !pk_script_defer_matched(d, q, h.key))
                    continue;
                h.m = rq->m;
                h.n = rq->n;
                size_t i = 0;
                while (i < ns && memcmp(&s[i].h, &h, sizeof h) != 0)
                    i++;
                if (i == ns && ns < MAX_SEEN)
                    s[ns++] = (seen){h, 0};
                if (i < ns)
                    s[i].count++;
            }
        }
    }
    /* One hint per (m, n): the most frequent (the first seen on a tie). */
    ro->hints = ns ? calloc(ns, sizeof *ro->hints) : NULL;
    unsigned kept[MAX_SEEN];
    for (size_t i = 0; i < ns && ro->hints; i++) {
        size_t j = 0;
        while (j < ro->n_hints && (ro->hints[j].m != s[i].h.m || ro->hints[j].n != s[i].h.n))
            j++;
        if (j == ro->n_hints)
            ro->n_hints++;
        else if (s[i].count <= kept[j])
            continue;
        ro->hints[j] = s[i].h;
        kept[j] = s[i].count;
    }
}

void pk_sc_run_scripts(const pk_block *b, const pk_sigcheck_opts *opts, int64_t h, pk_verifier *v,
                       pk_sig_report *rep)
{
    double t0 = pk_now();
    run r = {0};
    r.b = b;
    r.pv = opts->prevouts;
    r.height = h;
    r.flags = pk_sc_block_flags(b, h, opts->mainnet);
    if (opts->policy)
        r.flags |= PK_SCRIPT_STANDARD_FLAGS;
    r.bip68 = !opts->no_sequence_locks && (!opts->mainnet || h >= CSV_HEIGHT);
    rep->interpreter = 1;
    rep->script_flags = r.flags;
    size_t nin = r.pv->n;
    sc_scratch *sc = scratch_of(v), own = {0};
    if (!sc)
        sc = &own; /* this run's alone, freed at its end */
    r.sc = sc;
    r.txs = scratch_slots(sc, b->ntx ? b->ntx : 1);
    r.res = GROW(sc->res, sc->cap_res, nin ? nin : 1);
    r.kinds = GROW(sc->kinds, sc->cap_kinds, nin ? nin : 1);
    memset(r.res, 0, (nin ? nin : 1) * sizeof *r.res);
    memset(r.kinds, 0, (nin ? nin : 1) * sizeof *r.kinds);
    r.segwit_on = !opts->mainnet || h >= SEGWIT_HEIGHT;
    r.legacy_sigops = !opts->legacy_sigops_known;
    /* The sigop cost (BIP141): the coinbase's legacy ones here, the other
     * transactions' in the pass that prepares them. */
    uint64_t sigop_cost = opts->legacy_sigops_known ? PK_WITNESS_SCALE * opts->legacy_sigops
                          : b->ntx ? PK_WITNESS_SCALE * pk_tx_legacy_sigops(b, &b->tx[0])
                                   : 0;
    if (b->ntx > 1) {
        r.order = cost_order(b, sc);
        r.h160 = GROW(sc->h160, sc->cap_h160, PK_SCRIPT_H160_PER_INPUT * (nin ? nin : 1));
        pk_verifier_for(v, (b->ntx - 1 + PREP_TXS - 1) / PREP_TXS, 1, tx_prepare, &r);
        for (size_t ti = 1; ti < b->ntx; ti++)
            sigop_cost += r.txs[ti].sigops;
        pk_verifier_for(v, b->ntx - 1, 1, tx_interpret, &r);
        hash_legacy(&r, v);
    }
    rep->sigop_cost = sigop_cost;
    rep->sigop_cost_complete = 1;
    rep->sigops_exceeded = sigop_cost > PK_MAX_BLOCK_SIGOPS_COST;
    double t1 = pk_now();
    /* The deferred checks in rounds, each one batch (see check_rounds):
     * first those of a few multisig inputs, whose matchings become the
     * guesses for the rest. */
    size_t max = 0;
    for (size_t ti = 1; ti < b->ntx; ti++)
        max += r.txs[ti].defer.n;
    rounds ro = {.r = &r, .v = v, .rep = rep, .keep = opts->keep_checks};
    if (max) {
        r.all = GROW(sc->all, sc->cap_all, max);
        ro.w_idx = GROW(sc->w_idx, sc->cap_w_idx, max);
        ro.w_base = GROW(sc->w_base, sc->cap_w_base, b->ntx);
        ro.w_count = GROW(sc->w_count, sc->cap_w_count, b->ntx);
        ro.again = GROW(sc->again, sc->cap_again, b->ntx);
        for (size_t ti = 1, at = 0; ti < b->ntx; ti++) {
            ro.w_base[ti] = (uint32_t)at;
            at += r.txs[ti].defer.n;
        }
        if (pick_pilot(&r))
            check_rounds(&ro, 1);
        learn_hints(&ro);
        check_rounds(&ro, 0);
    }
    size_t total = ro.total;
    double t2 = pk_now();
    if (b->ntx > 1)
        pk_verifier_for(v, b->ntx - 1, 4, tx_resolve, &r);
    double t3 = pk_now();
    rep->candidates = total;
    for (size_t ti = 1; ti < b->ntx; ti++) {
        const pk_tx *t = &b->tx[ti];
        size_t base = r.pv->first[ti];
        for (uint32_t vi = 0; vi < t->n_in; vi++) {
            input_res *o = &r.res[base + vi];
            kind_info *k = &r.kinds[base + vi];
            rep->inputs++;
            rep->by_kind[k->kind]++;
            int sp = spend_of(k->kind);
            if (sp >= 0)
                rep->by_spend[sp]++;
            if (k->kind == PK_KIND_P2PKH) {
                rep->p2pkh_compressed += k->key_len == 33;
                rep->p2pkh_uncompressed += k->key_len == 65;
            }
            if (k->m && k->m <= 3 && k->n <= 3)
                rep->multisig_by_mn[k->m][k->n]++;
            if (k->kind == PK_KIND_P2SH_MULTISIG)
                rep->multisig_sigs += (uint64_t)k->m;
            rep->signatures += o->info.sigs;
            rep->reruns += o->rerun;
            if (!o->rc) {
                add_failure(rep, b, ti, vi, pk_script_error_name(o->err));
                continue;
            }
            if (o->fail) {
                add_failure(rep, b, ti, vi, o->fail);
                continue;
            }
            if (o->unchecked >= 0) {
                add_unchecked(rep, ti, vi, (pk_unchecked)o->unchecked);
                continue;
            }
            if (o->info.upgradable) {
                /* valid as consensus says, but nothing of it was checked: not among the checked-valid */
                rep->upgradable++;
                continue;
            }
            rep->valid_inputs++;
        }
    }
    free(ro.hints);
    if (sc == &own)
        scratch_release(&own);
    else
        scratch_trim(sc);
    rep->ms_scripts = (t1 - t0) * 1e3;
    rep->ms_verify = (t2 - t1) * 1e3;
    rep->ms_resolve = (t3 - t2) * 1e3;
    rep->ms_extract = rep->ms_scripts;
    rep->ms_classify = rep->ms_scripts;
}
