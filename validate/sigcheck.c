/* Signature checks of a block's inputs (see include/powkit/sigcheck.h). */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/sha256.h"
#include "powkit/sigcheck.h"
#include "powkit/util.h"

#define BIP66_HEIGHT 363725

static uint64_t rd_compact(const uint8_t *d, size_t *pos)
{
    uint8_t b = d[(*pos)++];
    if (b < 0xfd)
        return b;
    size_t n = b == 0xfd ? 2 : b == 0xfe ? 4 : 8;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)d[*pos + i] << (8 * i);
    *pos += n;
    return v;
}

typedef struct txin {
    size_t prevout, script, script_len, sequence; /* offsets in the block */
} txin;

/* Offsets of every input of t, and of the output count. */
static size_t walk_inputs(const pk_block *b, const pk_tx *t, txin *ins, size_t *outs_at)
{
    const uint8_t *d = b->data;
    size_t pos = t->first_in_offset;
    for (uint32_t i = 0; i < t->n_in; i++) {
        ins[i].prevout = pos;
        pos += 36;
        ins[i].script_len = (size_t)rd_compact(d, &pos);
        ins[i].script = pos;
        pos += ins[i].script_len;
        ins[i].sequence = pos;
        pos += 4;
    }
    *outs_at = pos;
    return t->n_in;
}

/* Where output `index` starts and ends, from the output count at outs_at. */
static void output_span(const uint8_t *d, size_t outs_at, size_t index, size_t *start, size_t *end)
{
    size_t pos = outs_at;
    rd_compact(d, &pos);
    for (size_t o = 0;; o++) {
        *start = pos;
        pos += 8;
        uint64_t l = rd_compact(d, &pos);
        pos += (size_t)l;
        if (o == index)
            break;
    }
    *end = pos;
}

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

/* Both sighash serialisations end alike: locktime, the 4-byte hash type,
 * then the double hash of it all. */
static void finish_sighash(buf *s, const uint8_t *d, const pk_tx *t, uint32_t hash_type, uint8_t out[32])
{
    put(s, d + t->lock_offset, 4);
    uint8_t ht[4] = {(uint8_t)hash_type, (uint8_t)(hash_type >> 8), (uint8_t)(hash_type >> 16),
                     (uint8_t)(hash_type >> 24)};
    put(s, ht, 4);
    pk_sha256d(s->p, s->n, out);
    free(s->p);
}

void pk_sighash_legacy(const pk_block *b, const pk_tx *t, size_t vin, const uint8_t *code, size_t code_len,
                       uint32_t hash_type, uint8_t out[32])
{
    const uint8_t *d = b->data;
    uint32_t base = hash_type & 0x1f;
    int anyone = (hash_type & 0x80) != 0;
    if (base == 3 && vin >= t->n_out) { /* SINGLE without a matching output: the famous 1 */
        memset(out, 0, 32);
        out[0] = 1;
        return;
    }
    txin *ins = malloc(t->n_in * sizeof *ins);
    size_t outs_at;
    walk_inputs(b, t, ins, &outs_at);
    buf s = {0};
    uint8_t tmp[16];
    put(&s, d + t->offset, 4);
    put(&s, tmp, pk_compact_put(tmp, anyone ? 1 : t->n_in));
    for (uint32_t i = 0; i < t->n_in; i++) {
        if (anyone && i != vin)
            continue;
        put(&s, d + ins[i].prevout, 36);
        if (i == vin) {
            put(&s, tmp, pk_compact_put(tmp, code_len));
            put(&s, code, code_len);
        } else {
            put(&s, tmp, pk_compact_put(tmp, 0));
        }
        static const uint8_t zero4[4] = {0};
        put(&s, (i != vin && (base == 2 || base == 3)) ? zero4 : d + ins[i].sequence, 4);
    }
    if (base == 2) { /* NONE */
        put(&s, tmp, pk_compact_put(tmp, 0));
    } else if (base == 3) { /* SINGLE: blanked outputs up to vin, then the matching one */
        put(&s, tmp, pk_compact_put(tmp, vin + 1));
        static const uint8_t blank[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
        for (size_t o = 0; o < vin; o++)
            put(&s, blank, 9); /* value -1, empty script */
        size_t start, end;
        output_span(d, outs_at, vin, &start, &end);
        put(&s, d + start, end - start);
    } else {
        put(&s, d + outs_at, t->lock_offset - outs_at);
    }
    finish_sighash(&s, d, t, hash_type, out);
    free(ins);
}

void pk_bip143_precompute(const pk_block *b, const pk_tx *t, pk_bip143_cache *c)
{
    const uint8_t *d = b->data;
    txin *ins = malloc(t->n_in * sizeof *ins);
    size_t outs_at;
    walk_inputs(b, t, ins, &outs_at);
    buf p = {0}, q = {0};
    for (uint32_t i = 0; i < t->n_in; i++) {
        put(&p, d + ins[i].prevout, 36);
        put(&q, d + ins[i].sequence, 4);
    }
    pk_sha256d(p.p, p.n, c->prevouts);
    pk_sha256d(q.p, q.n, c->sequences);
    size_t pos = outs_at;
    rd_compact(d, &pos); /* the outputs without their count */
    pk_sha256d(d + pos, t->lock_offset - pos, c->outputs);
    free(p.p);
    free(q.p);
    free(ins);
}

void pk_sighash_bip143(const pk_block *b, const pk_tx *t, const pk_bip143_cache *c, size_t vin,
                       const uint8_t *code, size_t code_len, uint64_t amount, uint32_t hash_type,
                       uint8_t out[32])
{
    const uint8_t *d = b->data;
    uint32_t base = hash_type & 0x1f;
    int anyone = (hash_type & 0x80) != 0;
    static const uint8_t zero[32] = {0};
    txin *ins = malloc(t->n_in * sizeof *ins);
    size_t outs_at;
    walk_inputs(b, t, ins, &outs_at);
    buf s = {0};
    uint8_t tmp[16], single[32];
    put(&s, d + t->offset, 4);
    put(&s, anyone ? zero : c->prevouts, 32);
    put(&s, (anyone || base == 2 || base == 3) ? zero : c->sequences, 32);
    put(&s, d + ins[vin].prevout, 36);
    put(&s, tmp, pk_compact_put(tmp, code_len));
    put(&s, code, code_len);
    for (int i = 0; i < 8; i++)
        tmp[i] = (uint8_t)(amount >> (8 * i));
    put(&s, tmp, 8);
    put(&s, d + ins[vin].sequence, 4);
    if (base != 2 && base != 3) {
        put(&s, c->outputs, 32);
    } else if (base == 3 && vin < t->n_out) {
        size_t start, end;
        output_span(d, outs_at, vin, &start, &end);
        pk_sha256d(d + start, end - start, single);
        put(&s, single, 32);
    } else {
        put(&s, zero, 32);
    }
    finish_sighash(&s, d, t, hash_type, out);
    free(ins);
}

/* Pushes of a script that holds only pushes; -1 if anything else. */
static int pushes(const uint8_t *sc, size_t len, const uint8_t **item, size_t *ilen, int max)
{
    size_t pos = 0;
    int n = 0;
    while (pos < len) {
        uint8_t op = sc[pos++];
        size_t l;
        if (op == 0x00) {
            l = 0;
        } else if (op <= 0x4b) {
            l = op;
        } else if (op == 0x4c && pos + 1 <= len) {
            l = sc[pos++];
        } else if (op == 0x4d && pos + 2 <= len) {
            l = sc[pos] | (size_t)sc[pos + 1] << 8;
            pos += 2;
        } else {
            return -1;
        }
        if (l > len - pos || n == max)
            return -1;
        item[n] = sc + pos;
        ilen[n++] = l;
        pos += l;
    }
    return n;
}

static int is_pubkey(const uint8_t *k, size_t l)
{
    return (l == 33 && (k[0] == 2 || k[0] == 3)) || (l == 65 && k[0] == 4);
}

static void hash160(const uint8_t *d, size_t n, uint8_t out[20])
{
    uint8_t sha[32];
    unsigned int ol = 20;
    pk_sha256(d, n, sha);
    EVP_Digest(sha, 32, out, &ol, EVP_ripemd160(), NULL);
}

/* The coinbase's BIP34 height (first push of its scriptSig), or -1. */
static int64_t block_height(const pk_block *b)
{
    const pk_tx *cb = &b->tx[0];
    size_t pos = cb->first_in_offset + 36;
    uint64_t l = rd_compact(b->data, &pos);
    const uint8_t *sc = b->data + pos;
    if (l < 1)
        return -1;
    if (sc[0] >= 0x51 && sc[0] <= 0x60)
        return sc[0] - 0x50;
    if (sc[0] < 1 || sc[0] > 8 || sc[0] + 1u > l)
        return -1;
    int64_t h = 0;
    for (int i = 0; i < sc[0]; i++)
        h |= (int64_t)sc[1 + i] << (8 * i);
    return h;
}

typedef struct input_plan {
    size_t tx, vin;
    int kind; /* 1 P2PKH, 2 multisig */
    int m, n;
    size_t first; /* index of its first check */
} input_plan;

static void add_check(pk_sig_check **c, size_t *nc, size_t *cap, const uint8_t *key, size_t klen,
                      const uint8_t *sig, size_t slen, const uint8_t hash[32], uint8_t flags)
{
    if (*nc == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *c = realloc(*c, *cap * sizeof **c);
        if (!*c)
            abort();
    }
    pk_sig_check *x = &(*c)[(*nc)++];
    memset(x, 0, sizeof *x);
    x->type = PK_SIG_ECDSA;
    x->flags = flags;
    memcpy(x->pubkey, key, klen);
    x->pubkey_len = (uint8_t)klen;
    size_t dl = slen - 1 > 73 ? 73 : slen - 1; /* without the hash type byte */
    memcpy(x->sig, sig, dl);
    x->sig_len = (uint8_t)dl;
    memcpy(x->msg, hash, 32);
    x->msg_len = 32;
}

int pk_block_verify_sigs(const pk_block *b, pk_verifier *v, pk_sig_report *rep)
{
    memset(rep, 0, sizeof *rep);
    double t0 = pk_now();
    int64_t height = block_height(b);
    uint8_t flags = (height >= 0 && height < BIP66_HEIGHT) ? PK_SIG_LAX_DER : 0;
    pk_sig_check *checks = NULL;
    size_t nc = 0, cap = 0, np = 0, pcap = 0;
    input_plan *plan = NULL;
    for (size_t ti = 1; ti < b->ntx; ti++) {
        const pk_tx *t = &b->tx[ti];
        txin *ins = malloc(t->n_in * sizeof *ins);
        size_t outs_at;
        walk_inputs(b, t, ins, &outs_at);
        for (uint32_t vi = 0; vi < t->n_in; vi++) {
            rep->inputs++;
            const uint8_t *it[24];
            size_t il[24];
            int k = pushes(b->data + ins[vi].script, ins[vi].script_len, it, il, 24);
            input_plan p = {ti, vi, 0, 0, 0, nc};
            if (k == 2 && il[0] >= 9 && il[0] <= 74 && is_pubkey(it[1], il[1])) {
                /* P2PKH: the previous script is DUP HASH160 <hash> EQUALVERIFY CHECKSIG. */
                uint8_t code[25] = {0x76, 0xa9, 0x14};
                hash160(it[1], il[1], code + 3);
                code[23] = 0x88, code[24] = 0xac;
                uint8_t h[32];
                pk_sighash_legacy(b, t, vi, code, 25, it[0][il[0] - 1], h);
                add_check(&checks, &nc, &cap, it[1], il[1], it[0], il[0], h, flags);
                p.kind = 1;
                rep->p2pkh++;
                if (il[1] == 33)
                    rep->p2pkh_compressed++;
                else
                    rep->p2pkh_uncompressed++;
                rep->signatures++;
            } else if (k >= 3 && il[0] == 0) {
                /* P2SH multisig: OP_0 <sigs> <OP_m keys OP_n CHECKMULTISIG>. */
                const uint8_t *rs = it[k - 1];
                size_t rl = il[k - 1];
                const uint8_t *keys[20];
                size_t kl[20];
                int m = rl > 3 ? rs[0] - 0x50 : 0, n = 0;
                int ok = rl > 3 && m >= 1 && m <= 16 && rs[rl - 1] == 0xae;
                size_t pos = 1;
                while (ok && pos < rl - 2 && n < 20) {
                    size_t l = rs[pos];
                    if (!(l == 33 || l == 65) || pos + 1 + l > rl - 2 || !is_pubkey(rs + pos + 1, l)) {
                        ok = 0;
                        break;
                    }
                    keys[n] = rs + pos + 1;
                    kl[n++] = l;
                    pos += 1 + l;
                }
                ok = ok && pos == rl - 2 && rs[rl - 2] == 0x50 + n && m <= n && k - 2 == m;
                if (ok) {
                    for (int si = 0; si < m; si++) {
                        if (il[1 + si] < 9 || il[1 + si] > 74) {
                            ok = 0;
                            break;
                        }
                    }
                }
                if (ok) {
                    p.kind = 2;
                    p.m = m;
                    p.n = n;
                    rep->multisig++;
                    rep->multisig_sigs += (uint64_t)m;
                    rep->signatures += (uint64_t)m;
                    if (m <= 3 && n <= 3)
                        rep->multisig_by_mn[m][n]++;
                    /* Candidate pairs: signature i may only match key j with
                     * i <= j <= n - m + i. */
                    for (int si = 0; si < m; si++) {
                        uint8_t h[32];
                        const uint8_t *sig = it[1 + si];
                        pk_sighash_legacy(b, t, vi, rs, rl, sig[il[1 + si] - 1], h);
                        for (int kj = si; kj <= n - m + si; kj++)
                            add_check(&checks, &nc, &cap, keys[kj], kl[kj], sig, il[1 + si], h, flags);
                    }
                }
            }
            if (!p.kind) {
                rep->not_checked++;
                continue;
            }
            if (np == pcap) {
                pcap = pcap ? pcap * 2 : 4096;
                plan = realloc(plan, pcap * sizeof *plan);
                if (!plan)
                    abort();
            }
            plan[np++] = p;
        }
        free(ins);
    }
    double t1 = pk_now();
    rep->ms_extract = (t1 - t0) * 1e3;
    rep->candidates = nc;
    if (nc)
        pk_verifier_run(v, checks, nc, 0);
    rep->ms_verify = (pk_now() - t1) * 1e3;
    /* Resolve: P2PKH is its one check; multisig walks keys in order. */
    for (size_t i = 0; i < np; i++) {
        input_plan *p = &plan[i];
        int ok;
        if (p->kind == 1) {
            ok = checks[p->first].valid == 1;
        } else {
            int isig = 0, ikey = 0, m = p->m, n = p->n;
            ok = 1;
            while (isig < m) {
                if (m - isig > n - ikey) {
                    ok = 0;
                    break;
                }
                /* the pair (isig, ikey) sits at offset isig*(n-m+1) + (ikey-isig) */
                if (ikey - isig > n - m) {
                    ok = 0;
                    break;
                }
                if (checks[p->first + (size_t)isig * (size_t)(n - m + 1) + (size_t)(ikey - isig)].valid == 1)
                    isig++;
                ikey++;
            }
        }
        if (ok) {
            rep->valid_inputs++;
        } else {
            rep->failures = realloc(rep->failures, (rep->failed_inputs + 1) * sizeof *rep->failures);
            pk_sig_failure *f = &rep->failures[rep->failed_inputs++];
            f->tx = p->tx;
            f->vin = p->vin;
            memcpy(f->txid, b->tx[p->tx].txid, 32);
            f->reason = p->kind == 1 ? (checks[p->first].reason ? checks[p->first].reason : "verify failed")
                                     : "CHECKMULTISIG: signatures do not match the keys in order";
        }
    }
    free(checks);
    free(plan);
    return rep->failed_inputs ? -1 : 0;
}

void pk_sig_report_free(pk_sig_report *rep)
{
    free(rep->failures);
    rep->failures = NULL;
}
