/* Signatures in scripts: the encoding rules (BIP66, STRICTENC, LOW_S,
 * the key types), FindAndDelete, the signature hashes, and the checker
 * that verifies here or records the check for the batch verifier. */
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../lax_der.h"
#include "powkit/verify.h"
#include "script_internal.h"

/* BIP66's strict DER, the hash type byte included. */
static int valid_der(const uint8_t *sig, size_t n)
{
    if (n < 9 || n > 73 || sig[0] != 0x30 || sig[1] != n - 3)
        return 0;
    size_t lr = sig[3];
    if (5 + lr >= n)
        return 0;
    size_t ls = sig[5 + lr];
    if (lr + ls + 7 != n)
        return 0;
    if (sig[2] != 0x02 || lr == 0 || (sig[4] & 0x80) || (lr > 1 && sig[4] == 0 && !(sig[5] & 0x80)))
        return 0;
    if (sig[lr + 4] != 0x02 || ls == 0 || (sig[lr + 6] & 0x80) ||
        (ls > 1 && sig[lr + 6] == 0 && !(sig[lr + 7] & 0x80)))
        return 0;
    return 1;
}

static int low_s(const uint8_t *sig, size_t n)
{
    secp256k1_ecdsa_signature s;
    if (!pk_ecdsa_parse_der_lax(secp256k1_context_static, &s, sig, n - 1))
        return 0;
    /* normalize returns 1 when S was high */
    return !secp256k1_ecdsa_signature_normalize(secp256k1_context_static, NULL, &s);
}

int pk_scr_check_sig_encoding(const uint8_t *sig, size_t n, uint32_t flags, pk_script_error *err)
{
    /* Empty: a compact way to give a failing signature, always allowed. */
    if (n == 0)
        return 1;
    if ((flags & (PK_SCRIPT_VERIFY_DERSIG | PK_SCRIPT_VERIFY_LOW_S | PK_SCRIPT_VERIFY_STRICTENC)) &&
        !valid_der(sig, n)) {
        *err = PK_SCRIPT_ERR_SIG_DER;
        return 0;
    }
    if ((flags & PK_SCRIPT_VERIFY_LOW_S) && !low_s(sig, n)) {
        *err = PK_SCRIPT_ERR_SIG_HIGH_S;
        return 0;
    }
    if (flags & PK_SCRIPT_VERIFY_STRICTENC) {
        uint8_t t = sig[n - 1] & 0x7f; /* without ANYONECANPAY */
        if (t < 1 || t > 3) {
            *err = PK_SCRIPT_ERR_SIG_HASHTYPE;
            return 0;
        }
    }
    return 1;
}

static int compressed(const uint8_t *k, size_t n)
{
    return n == 33 && (k[0] == 2 || k[0] == 3);
}

int pk_scr_check_pubkey_encoding(const uint8_t *k, size_t n, uint32_t flags, pk_sigversion sv, pk_script_error *err)
{
    if ((flags & PK_SCRIPT_VERIFY_STRICTENC) && !(compressed(k, n) || (n == 65 && k[0] == 4))) {
        *err = PK_SCRIPT_ERR_PUBKEYTYPE;
        return 0;
    }
    if ((flags & PK_SCRIPT_VERIFY_WITNESS_PUBKEYTYPE) && sv == PK_SIGV_WITNESS_V0 && !compressed(k, n)) {
        *err = PK_SCRIPT_ERR_WITNESS_PUBKEYTYPE;
        return 0;
    }
    return 1;
}

int pk_scr_sig_in_code(const uint8_t *code, size_t len, const uint8_t *sig, size_t sig_len)
{
    /* sig's bytes anywhere (the push before them is in the pattern too,
     * so they start at least one byte in): a match at an opcode boundary
     * needs one. */
    if (sig_len == 0)
        return len > 0; /* the pattern is OP_0 alone: let the walk decide */
    if (sig_len + 1 > len)
        return 0;
    for (const uint8_t *p = code + 1, *end = code + len - sig_len; p <= end; p++) {
        p = memchr(p, sig[0], (size_t)(end - p) + 1);
        if (!p)
            return 0;
        if (memcmp(p, sig, sig_len) == 0)
            return 1;
    }
    return 0;
}

size_t pk_scr_find_and_delete(const uint8_t *code, size_t len, const uint8_t *sig, size_t sig_len, uint8_t *out,
                              size_t *out_len)
{
    /* The pattern: sig as the minimal push CScript() << sig writes. */
    uint8_t pat[5 + PK_MAX_ELEMENT_SIZE];
    size_t pl = 0;
    if (sig_len > PK_MAX_ELEMENT_SIZE)
        return 0; /* cannot be on the stack */
    if (sig_len < OP_PUSHDATA1) {
        pat[pl++] = (uint8_t)sig_len;
    } else if (sig_len <= 0xff) {
        pat[pl++] = OP_PUSHDATA1;
        pat[pl++] = (uint8_t)sig_len;
    } else {
        pat[pl++] = OP_PUSHDATA2;
        pat[pl++] = (uint8_t)sig_len;
        pat[pl++] = (uint8_t)(sig_len >> 8);
    }
    memcpy(pat + pl, sig, sig_len);
    pl += sig_len;
    /* Matches only at opcode boundaries, consecutive ones all removed;
     * out may be code (writes never pass reads). */
    size_t found = 0, pos = 0, keep = 0, w = 0;
    for (;;) {
        memmove(out + w, code + keep, pos - keep);
        w += pos - keep;
        while (len - pos >= pl && memcmp(code + pos, pat, pl) == 0) {
            pos += pl;
            found++;
        }
        keep = pos;
        uint8_t op;
        const uint8_t *d;
        size_t dl;
        if (!pk_scr_get_op(code, len, &pos, &op, &d, &dl))
            break;
    }
    if (!found)
        return 0;
    memmove(out + w, code + keep, len - keep);
    w += len - keep;
    *out_len = w;
    return found;
}

static const uint8_t *tx_data(const pk_checker *c)
{
    return c->tx->b->data;
}

int pk_scr_check_locktime(const pk_checker *c, int64_t lock)
{
    const uint8_t *d = tx_data(c);
    const pk_tx *t = c->tx->t;
    const uint8_t *l = d + t->lock_offset;
    int64_t tx_lock = (int64_t)((uint32_t)l[0] | (uint32_t)l[1] << 8 | (uint32_t)l[2] << 16 | (uint32_t)l[3] << 24);
    const int64_t threshold = 500000000;
    /* Heights compare with heights, times with times. */
    if (!((tx_lock < threshold && lock < threshold) || (tx_lock >= threshold && lock >= threshold)))
        return 0;
    if (lock > tx_lock)
        return 0;
    /* A final input would let the lock time be ignored. */
    const uint8_t *s = d + c->txd->ins[c->vin].sequence;
    return !(s[0] == 0xff && s[1] == 0xff && s[2] == 0xff && s[3] == 0xff);
}

int pk_scr_check_sequence(const pk_checker *c, int64_t seq)
{
    const uint8_t *d = tx_data(c);
    const pk_tx *t = c->tx->t;
    const uint8_t *v = d + t->offset;
    uint32_t version = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
    const uint8_t *s = d + c->txd->ins[c->vin].sequence;
    int64_t tx_seq = (int64_t)((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);
    if (version < 2)
        return 0;
    if (tx_seq & (1LL << 31))
        return 0;
    const int64_t type = 1 << 22, mask = type | 0xffff;
    int64_t tm = tx_seq & mask, sm = seq & mask;
    if (!((tm < type && sm < type) || (tm >= type && sm >= type)))
        return 0;
    return sm <= tm;
}

/* ---- deferral ---- */

static pk_sig_check *defer_check(pk_script_defer *d)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        pk_sig_check *nc = realloc(d->checks, cap * sizeof *nc);
        if (!nc)
            abort();
        d->checks = nc;
        d->cap = cap;
    }
    pk_sig_check *c = &d->checks[d->n++];
    memset(c, 0, offsetof(pk_sig_check, msg));
    c->valid = -1;
    c->reason = NULL;
    return c;
}

static int32_t *defer_req(pk_script_defer *d, uint16_t m, uint16_t n)
{
    size_t np = (size_t)m * (size_t)(n - m + 1);
    if (d->n_reqs == d->cap_reqs) {
        size_t cap = d->cap_reqs ? d->cap_reqs * 2 : 16;
        pk_script_req *nr = realloc(d->reqs, cap * sizeof *nr);
        if (!nr)
            abort();
        d->reqs = nr;
        d->cap_reqs = cap;
    }
    while (d->n_pairs + np > d->cap_pairs) {
        size_t cap = d->cap_pairs ? d->cap_pairs * 2 : 32;
        int32_t *npairs = realloc(d->pairs, cap * sizeof *npairs);
        if (!npairs)
            abort();
        d->pairs = npairs;
        d->cap_pairs = cap;
    }
    d->reqs[d->n_reqs++] = (pk_script_req){(uint32_t)d->n_pairs, m, n};
    int32_t *p = d->pairs + d->n_pairs;
    d->n_pairs += np;
    return p;
}

/* A legacy SIGHASH_ALL hash left for pk_script_defer_hash, and the checks
 * [from, to) that take it (recorded right after it, one after another). */
struct pk_script_hashjob {
    uint32_t vin;
    uint8_t ht4[4];
    size_t code_off, code_len;
    size_t from, to;
};

void pk_script_defer_clear(pk_script_defer *d)
{
    d->n = d->n_pairs = d->n_reqs = d->n_jobs = d->n_codes = 0;
}

size_t pk_script_defer_bytes(const pk_script_defer *d)
{
    return d->cap * sizeof *d->checks + d->cap_pairs * sizeof *d->pairs + d->cap_reqs * sizeof *d->reqs +
           d->cap_jobs * sizeof *d->jobs + d->cap_codes;
}

void pk_script_defer_free(pk_script_defer *d)
{
    free(d->checks);
    free(d->pairs);
    free(d->reqs);
    free(d->jobs);
    free(d->codes);
    memset(d, 0, sizeof *d);
}

/* A new job for input c->vin's hash of type ht over code; its checks are
 * the ones recorded next. */
static int32_t defer_job(pk_checker *c, const uint8_t *code, size_t code_len, uint32_t ht)
{
    pk_script_defer *d = c->defer;
    if (d->n_jobs == d->cap_jobs) {
        size_t cap = d->cap_jobs ? d->cap_jobs * 2 : 16;
        struct pk_script_hashjob *nj = realloc(d->jobs, cap * sizeof *nj);
        if (!nj)
            abort();
        d->jobs = nj;
        d->cap_jobs = cap;
    }
    struct pk_script_hashjob *j = &d->jobs[d->n_jobs];
    j->vin = (uint32_t)c->vin;
    for (int i = 0; i < 4; i++)
        j->ht4[i] = (uint8_t)(ht >> (8 * i));
    j->code_off = d->n_codes;
    j->code_len = pk_legacy_script_code(code, code_len, &d->codes, &d->n_codes, &d->cap_codes);
    j->from = j->to = d->n;
    return (int32_t)d->n_jobs++;
}

void pk_script_defer_hash(pk_script_defer *d, pk_script_txdata *txd)
{
    pk_script_defer_hash_range(d, txd, 0, d->n_jobs);
    d->n_jobs = 0;
    d->n_codes = 0;
}

void pk_script_defer_describe(const pk_script_defer *d, const pk_script_txdata *txd, size_t from, size_t to,
                              pk_sha256_gather *g, pk_sha256_seg (*segs)[4])
{
    for (size_t i = from; i < to; i++) {
        const struct pk_script_hashjob *j = &d->jobs[i];
        pk_legacy_all_gather(&txd->legacy, j->vin, d->codes + j->code_off, j->code_len, j->ht4, segs[i - from],
                             &g[i - from]);
    }
}

void pk_script_defer_store(pk_script_defer *d, size_t from, size_t to, const uint8_t (*h)[32])
{
    for (size_t i = from; i < to; i++) {
        const struct pk_script_hashjob *j = &d->jobs[i];
        for (size_t k = j->from; k < j->to; k++)
            memcpy(d->checks[k].msg, h[i - from], 32);
    }
}

void pk_script_defer_hash_range(pk_script_defer *d, const pk_script_txdata *txd, size_t from, size_t to)
{
    if (to > d->n_jobs)
        to = d->n_jobs;
    if (from >= to)
        return;
    size_t n = to - from;
    pk_sha256_gather *g = malloc(n * sizeof *g);
    pk_sha256_seg(*segs)[4] = malloc(n * sizeof *segs);
    uint8_t(*h)[32] = malloc(n * sizeof *h);
    if (!g || !segs || !h)
        abort();
    pk_script_defer_describe(d, txd, from, to, g, segs);
    pk_sha256d_many_gather(g, n, h);
    pk_script_defer_store(d, from, to, (const uint8_t(*)[32])h);
    free(g);
    free(segs);
    free(h);
}

/* Consensus' in-order matching of requirement q over the verified checks
 * (d->checks, or where the caller copied them): with optimistic, a check not yet verified counts as valid and is put in
 * want (when not NULL); else only checks verified valid count.  Returns 1
 * when every signature finds its key; keys (when not NULL) gets each one's. */
static int match_walk(const pk_script_defer *d, const pk_sig_check *checks, const pk_script_req *q, int optimistic,
                      uint8_t *keys, uint32_t *want, size_t *nw)
{
    const int32_t *p = d->pairs + q->pairs;
    size_t w = (size_t)(q->n - q->m + 1);
    size_t isig = 0, ikey = 0, ns = q->m, nk = q->n;
    while (ns > 0 && ns <= nk) {
        int32_t k = p[isig * w + (ikey - isig)];
        int v = k >= 0 ? checks[k].valid : 0;
        int ok = optimistic ? v != 0 : v == 1;
        if (ok && v < 0 && want)
            want[(*nw)++] = (uint32_t)k;
        if (ok) {
            if (keys)
                keys[isig] = (uint8_t)ikey;
            isig++;
            ns--;
        }
        ikey++;
        nk--;
    }
    return ns == 0;
}

int pk_script_defer_holds(const pk_script_defer *d, const pk_sig_check *checks, size_t from, size_t to)
{
    for (size_t r = from; r < to; r++)
        if (!match_walk(d, checks, &d->reqs[r], 0, NULL, NULL, NULL))
            return 0;
    return 1;
}

int pk_script_defer_matched(const pk_script_defer *d, size_t r, uint8_t *keys)
{
    return match_walk(d, d->checks, &d->reqs[r], 0, keys, NULL, NULL);
}

size_t pk_script_defer_wanted(const pk_script_defer *d, size_t from, size_t to, const pk_script_hint *hints,
                              size_t n_hints, uint32_t *want)
{
    size_t nw = 0;
    for (size_t r = from; r < to; r++) {
        const pk_script_req *q = &d->reqs[r];
        /* Decided: the signatures match keys in order by checks verified
         * valid (then consensus' own walk succeeds too: taking each
         * signature's first valid key never leaves fewer keys for the
         * rest), or they cannot even if every open check were valid. */
        if (match_walk(d, d->checks, q, 0, NULL, NULL, NULL) || !match_walk(d, d->checks, q, 1, NULL, NULL, NULL))
            continue;
        /* A hinted matching whose pairs are not known to fail: its open
         * pairs, instead of the pairs consensus tries first. */
        const pk_script_hint *h = NULL;
        for (size_t i = 0; i < n_hints && !h && q->n > q->m; i++)
            if (hints[i].m == q->m && hints[i].n == q->n)
                h = &hints[i];
        if (h) {
            const int32_t *p = d->pairs + q->pairs;
            size_t w = (size_t)(q->n - q->m + 1), start = nw;
            int usable = 1;
            for (size_t i = 0; i < q->m && usable; i++) {
                if (h->key[i] < i || h->key[i] - i >= w || (i > 0 && h->key[i] <= h->key[i - 1])) {
                    usable = 0; /* not a matching of this requirement */
                    break;
                }
                int32_t k = p[i * w + (size_t)(h->key[i] - i)];
                if (k < 0 || d->checks[k].valid == 0)
                    usable = 0;
                else if (d->checks[k].valid < 0)
                    want[nw++] = (uint32_t)k;
            }
            if (usable && nw > start)
                continue;
            nw = start;
        }
        match_walk(d, d->checks, q, 1, NULL, want, &nw);
    }
    return nw;
}

/* ---- ECDSA ---- */

static int key_valid(const uint8_t *k, size_t n)
{
    if (n == 0)
        return 0;
    size_t want = (k[0] == 2 || k[0] == 3) ? 33 : (k[0] == 4 || k[0] == 6 || k[0] == 7) ? 65 : 0;
    return want == n;
}

/* Hash types that keep every input and output (not NONE, SINGLE or
 * ANYONECANPAY): their legacy hashes share the transaction's midstates. */
static int keeps_all(uint32_t ht)
{
    return (ht & 0x1f) != 2 && (ht & 0x1f) != 3 && !(ht & 0x80);
}

static const pk_legacy_all *legacy_all(pk_checker *c)
{
    pk_script_txdata *x = c->txd;
    if (!x->legacy_ready) {
        pk_legacy_all_build(&x->legacy, c->tx->b, c->tx->t, x->ins, x->outs_at);
        x->legacy_ready = 1;
    }
    return &x->legacy;
}

static void ecdsa_sighash(pk_checker *c, const uint8_t *code, size_t code_len, uint32_t ht, pk_sigversion sv,
                          uint8_t h[32])
{
    pk_script_txdata *x = c->txd;
    const pk_script_tx *tx = c->tx;
    if (sv == PK_SIGV_WITNESS_V0) {
        if (!x->bip143_ready) {
            pk_bip143_precompute_with(tx->b, tx->t, x->ins, x->outs_at, &x->bip143);
            x->bip143_ready = 1;
        }
        pk_sighash_bip143(tx->b, tx->t, &x->bip143, c->vin, code, code_len, c->amount, ht, h);
        return;
    }
    if (keeps_all(ht)) {
        pk_sighash_legacy_all(legacy_all(c), c->vin, code, code_len, ht, h);
        return;
    }
    pk_sighash_legacy(tx->b, tx->t, c->vin, code, code_len, ht, h);
}

/* The hash in h (-1), or, for a check about to be recorded (record) when
 * the caller asked for lazy legacy hashes and this is one, a job that
 * will compute it (its index). */
static int32_t ecdsa_sighash_or_job(pk_checker *c, int record, const uint8_t *code, size_t code_len, uint32_t ht,
                                    pk_sigversion sv, uint8_t h[32])
{
    if (record && c->defer->lazy_legacy && sv == PK_SIGV_BASE && keeps_all(ht)) {
        legacy_all(c); /* the midstates the job starts from */
        return defer_job(c, code, code_len, ht);
    }
    ecdsa_sighash(c, code, code_len, ht, sv, h);
    return -1;
}

/* Parses and hashes; 0 when the answer is already known to be false.
 * *sig gets the parsed signature, normalised; with record (the check will
 * be recorded), *job may get a hash job instead of h (see above). */
static int ecdsa_prepare(pk_checker *c, const uint8_t *sig, size_t sig_len, const uint8_t *k, size_t kl,
                         const uint8_t *code, size_t code_len, pk_sigversion sv, secp256k1_ecdsa_signature *s,
                         uint8_t h[32], int record, int32_t *job)
{
    *job = -1;
    if (!key_valid(k, kl) || sig_len == 0)
        return 0;
    if (!pk_ecdsa_parse_der_lax(secp256k1_context_static, s, sig, sig_len - 1))
        return 0;
    secp256k1_ecdsa_signature_normalize(secp256k1_context_static, s, s);
    *job = ecdsa_sighash_or_job(c, record, code, code_len, sig[sig_len - 1], sv, h);
    return 1;
}

static int ecdsa_verify_now(const uint8_t *k, size_t kl, const secp256k1_ecdsa_signature *s, const uint8_t h[32])
{
    secp256k1_pubkey pk;
    if (!secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, k, kl))
        return 0;
    return secp256k1_ecdsa_verify(secp256k1_context_static, s, h, &pk);
}

static int32_t ecdsa_record(pk_checker *c, const uint8_t *k, size_t kl, const secp256k1_ecdsa_signature *s,
                            const uint8_t h[32], int32_t job)
{
    pk_script_defer *d = c->defer;
    if (job >= 0) {
        /* The job's checks follow it without a gap: its range grows. */
        struct pk_script_hashjob *j = &d->jobs[job];
        if (j->to != d->n)
            abort();
        j->to++;
    }
    pk_sig_check *q = defer_check(d);
    q->type = PK_SIG_ECDSA;
    q->flags = PK_SIG_COMPACT; /* the parsed signature as it is, S already low: not DER to be parsed again */
    memcpy(q->pubkey, k, kl);
    q->pubkey_len = (uint8_t)kl;
    secp256k1_ecdsa_signature_serialize_compact(secp256k1_context_static, q->sig, s);
    q->sig_len = 64;
    if (job >= 0)
        memset(q->msg, 0, 32); /* pk_script_defer_hash writes it */
    else
        memcpy(q->msg, h, 32);
    q->msg_len = 32;
    return (int32_t)(c->defer->n - 1);
}

int pk_scr_check_ecdsa(pk_checker *c, const uint8_t *sig, size_t sig_len, const uint8_t *k, size_t kl,
                       const uint8_t *code, size_t code_len, pk_sigversion sv, int may_defer)
{
    secp256k1_ecdsa_signature s;
    uint8_t h[32];
    if (c->info && may_defer && sig_len)
        c->info->sigs++; /* a CHECKSIG's; CHECKMULTISIG counts its own */
    int record = c->defer && may_defer;
    int32_t job;
    if (!ecdsa_prepare(c, sig, sig_len, k, kl, code, code_len, sv, &s, h, record, &job))
        return 0;
    if (record) {
        int32_t *p = defer_req(c->defer, 1, 1);
        *p = ecdsa_record(c, k, kl, &s, h, job);
        return 1;
    }
    return ecdsa_verify_now(k, kl, &s, h);
}

int pk_scr_check_multisig(pk_checker *c, const pk_selem *const *sigs, size_t m, const pk_selem *const *keys,
                          size_t n, const uint8_t *code, size_t code_len, pk_sigversion sv, uint32_t flags,
                          pk_script_error *err)
{
    if (m == 0)
        return 1;
    if (c->info)
        for (size_t i = 0; i < m; i++)
            c->info->sigs += sigs[i]->len != 0;
    if (c->defer) {
        /* Deferred only when no encoding check can fail, wherever the
         * matching stops: then the pairs decide alone. */
        int clean = 1;
        pk_script_error e2;
        for (size_t i = 0; i < m && clean; i++)
            clean = pk_scr_check_sig_encoding(pk_se_data(sigs[i]), sigs[i]->len, flags, &e2);
        for (size_t j = 0; j < n && clean; j++)
            clean = pk_scr_check_pubkey_encoding(pk_se_data(keys[j]), keys[j]->len, flags, sv, &e2);
        if (clean) {
            size_t w = n - m + 1;
            int32_t *p = defer_req(c->defer, (uint16_t)m, (uint16_t)n);
            uint8_t h[32];
            int have_ht = -1;  /* the hash type h (or job) is the hash for, or -1 */
            int32_t job = -1;
            for (size_t i = 0; i < m; i++) {
                /* One signature hash per hash type, whichever signature and
                 * key it is for: the script code is the same for every
                 * signature here (all were deleted from it before). */
                const pk_selem *sg = sigs[i];
                secp256k1_ecdsa_signature s;
                int sig_ok = sg->len != 0 &&
                             pk_ecdsa_parse_der_lax(secp256k1_context_static, &s, pk_se_data(sg), sg->len - 1);
                if (sig_ok) {
                    secp256k1_ecdsa_signature_normalize(secp256k1_context_static, &s, &s);
                    int ht = pk_se_data(sg)[sg->len - 1];
                    if (ht != have_ht) {
                        job = ecdsa_sighash_or_job(c, 1, code, code_len, (uint32_t)ht, sv, h);
                        have_ht = ht;
                    }
                }
                for (size_t dd = 0; dd < w; dd++) {
                    const pk_selem *ky = keys[i + dd];
                    int32_t idx = -1;
                    if (sig_ok && key_valid(pk_se_data(ky), ky->len))
                        idx = ecdsa_record(c, pk_se_data(ky), ky->len, &s, h, job);
                    p[i * w + dd] = idx; /* pairs[] is its own array: recording checks does not move it */
                }
            }
            return 1;
        }
    }
    size_t isig = 0, ikey = 0, ns = m, nk = n;
    int ok = 1;
    while (ok && ns > 0) {
        const pk_selem *sg = sigs[isig], *ky = keys[ikey];
        if (!pk_scr_check_sig_encoding(pk_se_data(sg), sg->len, flags, err) ||
            !pk_scr_check_pubkey_encoding(pk_se_data(ky), ky->len, flags, sv, err))
            return -1;
        if (pk_scr_check_ecdsa(c, pk_se_data(sg), sg->len, pk_se_data(ky), ky->len, code, code_len, sv, 0)) {
            isig++;
            ns--;
        }
        ikey++;
        nk--;
        if (ns > nk)
            ok = 0;
    }
    return ok;
}

/* ---- Schnorr (BIP340 through BIP341/342) ---- */

int pk_scr_check_schnorr(pk_checker *c, const uint8_t *sig, size_t sig_len, const uint8_t *pk32, pk_sigversion sv,
                         const pk_execdata *ed, pk_script_error *err)
{
    if (c->info && sig_len)
        c->info->sigs++;
    if (sig_len != 64 && sig_len != 65) {
        *err = PK_SCRIPT_ERR_SCHNORR_SIG_SIZE;
        return 0;
    }
    uint8_t ht = 0;
    if (sig_len == 65) {
        ht = sig[64];
        if (ht == 0) { /* the default type is written by leaving it out */
            *err = PK_SCRIPT_ERR_SCHNORR_SIG_HASHTYPE;
            return 0;
        }
    }
    pk_script_txdata *x = c->txd;
    const pk_script_tx *tx = c->tx;
    if (!x->bip341_ready) {
        pk_bip341_precompute_with(tx->b, tx->t, tx->spent, x->ins, x->outs_at, &x->bip341);
        x->bip341_ready = 1;
    }
    uint8_t h[32];
    int r = sv == PK_SIGV_TAPSCRIPT
                ? pk_sighash_bip342(tx->b, tx->t, &x->bip341, tx->spent, c->vin, ht, ed->annex, ed->annex_len,
                                    ed->tapleaf_hash, ed->codesep_pos, h)
                : pk_sighash_bip341(tx->b, tx->t, &x->bip341, tx->spent, c->vin, ht, ed->annex, ed->annex_len, h);
    if (r != 0) {
        *err = PK_SCRIPT_ERR_SCHNORR_SIG_HASHTYPE;
        return 0;
    }
    if (c->defer) {
        pk_sig_check *q = defer_check(c->defer);
        q->type = PK_SIG_SCHNORR;
        memcpy(q->pubkey, pk32, 32);
        q->pubkey_len = 32;
        memcpy(q->sig, sig, 64);
        q->sig_len = 64;
        memcpy(q->msg, h, 32);
        q->msg_len = 32;
        int32_t *p = defer_req(c->defer, 1, 1);
        *p = (int32_t)(c->defer->n - 1);
        return 1;
    }
    secp256k1_xonly_pubkey xk;
    if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, &xk, pk32) ||
        !secp256k1_schnorrsig_verify(secp256k1_context_static, sig, h, 32, &xk)) {
        *err = PK_SCRIPT_ERR_SCHNORR_SIG;
        return 0;
    }
    return 1;
}
