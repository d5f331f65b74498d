/* Signature hashes: legacy, BIP143 (segwit v0), BIP341 (taproot key
 * path); see include/powkit/sighash.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/sha256.h"
#include "powkit/sighash.h"
#include "powkit/util.h"

#define PK_BIP341_MSG_MAX 512 /* the longest message is 363 bytes (ANYONECANPAY, annex, SINGLE, BIP342) */

/* Where output `index` starts and ends, from the output count at outs_at. */
static void output_span(const uint8_t *d, size_t outs_at, size_t index, size_t *start, size_t *end)
{
    size_t pos = outs_at;
    pk_compact_get(d, &pos);
    for (size_t o = 0;; o++) {
        *start = pos;
        pos += 8;
        uint64_t l = pk_compact_get(d, &pos);
        pos += (size_t)l;
        if (o == index)
            break;
    }
    *end = pos;
}

/* Bytes of a serialisation: kept, or with h set fed straight to SHA-256
 * (the legacy sighash hashes the whole transaction per input). */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    pk_sha256_ctx *h;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->h) {
        pk_sha256_update(b->h, d, n);
        return;
    }
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

static void put_compact(buf *b, uint64_t v)
{
    uint8_t tmp[9];
    size_t n = pk_compact_put(tmp, v); /* 1 to 9 bytes */
    put(b, tmp, n <= sizeof tmp ? n : sizeof tmp);
}

static void put_le(buf *b, uint64_t v, int bytes)
{
    uint8_t tmp[8];
    for (int i = 0; i < bytes; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    put(b, tmp, (size_t)bytes);
}

static pk_txin_ref *tx_inputs(const pk_block *b, const pk_tx *t, size_t *outs_at)
{
    pk_txin_ref *ins = malloc(t->n_in * sizeof *ins);
    if (!ins)
        abort();
    *outs_at = pk_tx_inputs(b, t, ins);
    return ins;
}

/* Where the outputs end: at the witnesses if there are any. */
static size_t outputs_end(const pk_tx *t)
{
    return t->wit_size ? t->wit_offset : t->lock_offset;
}

int pk_script_op(const uint8_t *s, size_t len, size_t *pos, uint8_t *op)
{
    if (*pos >= len)
        return 0;
    *op = s[(*pos)++];
    if (*op > 0x4e)
        return 1;
    size_t n = *op, w = *op == 0x4c ? 1 : *op == 0x4d ? 2 : *op == 0x4e ? 4 : 0;
    if (w) {
        if (len - *pos < w)
            return 0;
        n = 0;
        for (size_t i = 0; i < w; i++)
            n |= (size_t)s[*pos + i] << (8 * i);
        *pos += w;
    }
    if (len - *pos < n)
        return 0;
    *pos += n;
    return 1;
}

/* The script code as the legacy serialisation writes it: its length less
 * the OP_CODESEPARATORs, then the bytes between them. */
static void put_script_code(buf *s, const uint8_t *code, size_t len)
{
    size_t pos = 0, seps = 0, begin = 0;
    uint8_t op;
    while (pk_script_op(code, len, &pos, &op))
        seps += op == 0xab;
    put_compact(s, len - seps);
    pos = 0;
    while (pk_script_op(code, len, &pos, &op)) {
        if (op == 0xab) {
            put(s, code + begin, pos - begin - 1);
            begin = pos;
        }
    }
    if (begin != len)
        put(s, code + begin, pos - begin);
}

/* SHA-256d of what a streamed buf was fed. */
static void finish_double(pk_sha256_ctx *h, uint8_t out[32])
{
    uint8_t once[32];
    pk_sha256_final(h, once);
    pk_sha256(once, 32, out);
}

/* The signature hashes end alike: locktime, the 4-byte hash type, then the
 * double hash of it all. */
static void finish_sighash(buf *s, const uint8_t *d, const pk_tx *t, uint32_t hash_type, uint8_t out[32])
{
    put(s, d + t->lock_offset, 4);
    put_le(s, hash_type, 4);
    if (s->h) {
        finish_double(s->h, out);
    } else {
        pk_sha256d(s->p, s->n, out);
        free(s->p);
    }
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
    size_t outs_at;
    pk_txin_ref *ins = tx_inputs(b, t, &outs_at);
    buf s = {0};
    put(&s, d + t->offset, 4);
    put_compact(&s, anyone ? 1 : t->n_in);
    for (uint32_t i = 0; i < t->n_in; i++) {
        if (anyone && i != vin)
            continue;
        put(&s, d + ins[i].prevout, 36);
        if (i == vin)
            put_script_code(&s, code, code_len);
        else
            put_compact(&s, 0);
        static const uint8_t zero4[4] = {0};
        put(&s, (i != vin && (base == 2 || base == 3)) ? zero4 : d + ins[i].sequence, 4);
    }
    if (base == 2) { /* NONE */
        put_compact(&s, 0);
    } else if (base == 3) { /* SINGLE: blanked outputs up to vin, then the matching one */
        put_compact(&s, vin + 1);
        static const uint8_t blank[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
        for (size_t o = 0; o < vin; o++)
            put(&s, blank, 9); /* value -1, empty script */
        size_t start, end;
        output_span(d, outs_at, vin, &start, &end);
        put(&s, d + start, end - start);
    } else {
        put(&s, d + outs_at, outputs_end(t) - outs_at);
    }
    finish_sighash(&s, d, t, hash_type, out);
    free(ins);
}

/* The outputs without their count, for the segwit sighashes. */
static size_t outputs_start(const uint8_t *d, size_t outs_at)
{
    pk_compact_get(d, &outs_at);
    return outs_at;
}

void pk_bip143_precompute_with(const pk_block *b, const pk_tx *t, const pk_txin_ref *ins, size_t outs_at,
                               pk_bip143_cache *c)
{
    const uint8_t *d = b->data;
    c->ins = ins;
    c->outs_at = outs_at;
    c->own_ins = NULL;
    pk_sha256_ctx hp, hq;
    pk_sha256_init(&hp);
    pk_sha256_init(&hq);
    for (uint32_t i = 0; i < t->n_in; i++) {
        pk_sha256_update(&hp, d + ins[i].prevout, 36);
        pk_sha256_update(&hq, d + ins[i].sequence, 4);
    }
    finish_double(&hp, c->prevouts);
    finish_double(&hq, c->sequences);
    size_t pos = outputs_start(d, outs_at);
    pk_sha256d(d + pos, outputs_end(t) - pos, c->outputs);
}

void pk_bip143_precompute(const pk_block *b, const pk_tx *t, pk_bip143_cache *c)
{
    size_t outs_at;
    pk_txin_ref *ins = tx_inputs(b, t, &outs_at);
    pk_bip143_precompute_with(b, t, ins, outs_at, c);
    c->own_ins = ins;
}

void pk_bip143_cache_free(pk_bip143_cache *c)
{
    free(c->own_ins);
    c->own_ins = NULL;
    c->ins = NULL;
}

void pk_sighash_bip143(const pk_block *b, const pk_tx *t, const pk_bip143_cache *c, size_t vin,
                       const uint8_t *code, size_t code_len, uint64_t amount, uint32_t hash_type,
                       uint8_t out[32])
{
    const uint8_t *d = b->data;
    uint32_t base = hash_type & 0x1f;
    int anyone = (hash_type & 0x80) != 0;
    static const uint8_t zero[32] = {0};
    const pk_txin_ref *ins = c->ins;
    pk_sha256_ctx h; /* streamed: no buffer per input */
    pk_sha256_init(&h);
    buf s = {NULL, 0, 0, &h};
    uint8_t single[32];
    put(&s, d + t->offset, 4);
    put(&s, anyone ? zero : c->prevouts, 32);
    put(&s, (anyone || base == 2 || base == 3) ? zero : c->sequences, 32);
    put(&s, d + ins[vin].prevout, 36);
    put_compact(&s, code_len); /* segwit keeps separators and signatures in the code */
    put(&s, code, code_len);
    put_le(&s, amount, 8);
    put(&s, d + ins[vin].sequence, 4);
    if (base != 2 && base != 3) {
        put(&s, c->outputs, 32);
    } else if (base == 3 && vin < t->n_out) {
        size_t start, end;
        output_span(d, c->outs_at, vin, &start, &end);
        pk_sha256d(d + start, end - start, single);
        put(&s, single, 32);
    } else {
        put(&s, zero, 32);
    }
    finish_sighash(&s, d, t, hash_type, out);
}

void pk_bip341_precompute_with(const pk_block *b, const pk_tx *t, const pk_prevout *spent, const pk_txin_ref *ins,
                               size_t outs_at, pk_bip341_cache *c)
{
    const uint8_t *d = b->data;
    c->ins = ins;
    c->outs_at = outs_at;
    c->own_ins = NULL;
    pk_sha256_ctx po, am, sc, sq;
    pk_sha256_init(&po), pk_sha256_init(&am), pk_sha256_init(&sc), pk_sha256_init(&sq);
    for (uint32_t i = 0; i < t->n_in; i++) {
        uint8_t tmp[9];
        pk_sha256_update(&po, d + ins[i].prevout, 36);
        for (int k = 0; k < 8; k++)
            tmp[k] = (uint8_t)(spent[i].value >> (8 * k));
        pk_sha256_update(&am, tmp, 8);
        pk_sha256_update(&sc, tmp, pk_compact_put(tmp, spent[i].script_len));
        pk_sha256_update(&sc, spent[i].script, spent[i].script_len);
        pk_sha256_update(&sq, d + ins[i].sequence, 4);
    }
    pk_sha256_final(&po, c->prevouts), pk_sha256_final(&am, c->amounts);
    pk_sha256_final(&sc, c->scripts), pk_sha256_final(&sq, c->sequences);
    size_t pos = outputs_start(d, c->outs_at);
    pk_sha256(d + pos, outputs_end(t) - pos, c->outputs);
}

void pk_bip341_precompute(const pk_block *b, const pk_tx *t, const pk_prevout *spent, pk_bip341_cache *c)
{
    size_t outs_at;
    pk_txin_ref *ins = tx_inputs(b, t, &outs_at);
    pk_bip341_precompute_with(b, t, spent, ins, outs_at, c);
    c->own_ins = ins;
}

void pk_bip341_cache_free(pk_bip341_cache *c)
{
    free(c->own_ins);
    c->own_ins = NULL;
    c->ins = NULL;
}

/* The BIP341 message; with tapleaf set, BIP342's extension (the leaf's
 * hash, key version 0 and the last executed OP_CODESEPARATOR). */
static size_t sigmsg(const pk_block *b, const pk_tx *t, const pk_bip341_cache *c, const pk_prevout *spent, size_t vin,
                     uint8_t hash_type, const uint8_t *annex, size_t annex_len, const uint8_t *tapleaf,
                     uint32_t codesep_pos, uint8_t *msg, size_t cap)
{
    uint8_t base = hash_type & 0x03;
    int anyone = (hash_type & 0x80) != 0;
    if (!(hash_type <= 0x03 || (hash_type >= 0x81 && hash_type <= 0x83)) || (base == 3 && vin >= t->n_out))
        return 0;
    const uint8_t *d = b->data;
    const pk_txin_ref *ins = c->ins;
    buf s = {0};
    uint8_t epoch_type[2] = {0x00, hash_type};
    put(&s, epoch_type, 2);
    put(&s, d + t->offset, 4);
    put(&s, d + t->lock_offset, 4);
    if (!anyone) {
        put(&s, c->prevouts, 32);
        put(&s, c->amounts, 32);
        put(&s, c->scripts, 32);
        put(&s, c->sequences, 32);
    }
    if (base != 2 && base != 3)
        put(&s, c->outputs, 32);
    uint8_t spend_type = (uint8_t)((annex ? 1 : 0) | (tapleaf ? 2 : 0)); /* ext_flag 1 for tapscript */
    put(&s, &spend_type, 1);
    if (anyone) {
        put(&s, d + ins[vin].prevout, 36);
        put_le(&s, spent[vin].value, 8);
        put_compact(&s, spent[vin].script_len);
        put(&s, spent[vin].script, spent[vin].script_len);
        put(&s, d + ins[vin].sequence, 4);
    } else {
        put_le(&s, vin, 4);
    }
    if (annex) {
        pk_sha256_ctx a;
        uint8_t tmp[9], h[32];
        pk_sha256_init(&a);
        pk_sha256_update(&a, tmp, pk_compact_put(tmp, annex_len));
        pk_sha256_update(&a, annex, annex_len);
        pk_sha256_final(&a, h);
        put(&s, h, 32);
    }
    if (base == 3) {
        size_t start, end;
        uint8_t h[32];
        output_span(d, c->outs_at, vin, &start, &end);
        pk_sha256(d + start, end - start, h);
        put(&s, h, 32);
    }
    if (tapleaf) {
        uint8_t key_version = 0;
        put(&s, tapleaf, 32);
        put(&s, &key_version, 1);
        put_le(&s, codesep_pos, 4);
    }
    size_t n = s.n;
    if (n <= cap)
        memcpy(msg, s.p, n);
    free(s.p);
    return n;
}

size_t pk_bip341_sigmsg(const pk_block *b, const pk_tx *t, const pk_bip341_cache *c, const pk_prevout *spent,
                        size_t vin, uint8_t hash_type, const uint8_t *annex, size_t annex_len, uint8_t *msg,
                        size_t cap)
{
    return sigmsg(b, t, c, spent, vin, hash_type, annex, annex_len, NULL, 0, msg, cap);
}

static int tap_sighash(const uint8_t *msg, size_t n, uint8_t out[32])
{
    /* Tagged hash: SHA256(SHA256(tag) || SHA256(tag) || msg). */
    static const char tag[] = "TapSighash";
    uint8_t th[32];
    pk_sha256(tag, sizeof tag - 1, th);
    pk_sha256_ctx h;
    pk_sha256_init(&h);
    pk_sha256_update(&h, th, 32);
    pk_sha256_update(&h, th, 32);
    pk_sha256_update(&h, msg, n);
    pk_sha256_final(&h, out);
    return 0;
}

int pk_sighash_bip341(const pk_block *b, const pk_tx *t, const pk_bip341_cache *c, const pk_prevout *spent,
                      size_t vin, uint8_t hash_type, const uint8_t *annex, size_t annex_len, uint8_t out[32])
{
    uint8_t msg[PK_BIP341_MSG_MAX];
    size_t n = sigmsg(b, t, c, spent, vin, hash_type, annex, annex_len, NULL, 0, msg, sizeof msg);
    if (n == 0 || n > sizeof msg)
        return -1;
    return tap_sighash(msg, n, out);
}

int pk_sighash_bip342(const pk_block *b, const pk_tx *t, const pk_bip341_cache *c, const pk_prevout *spent,
                      size_t vin, uint8_t hash_type, const uint8_t *annex, size_t annex_len,
                      const uint8_t tapleaf[32], uint32_t codesep_pos, uint8_t out[32])
{
    uint8_t msg[PK_BIP341_MSG_MAX];
    size_t n = sigmsg(b, t, c, spent, vin, hash_type, annex, annex_len, tapleaf, codesep_pos, msg, sizeof msg);
    if (n == 0 || n > sizeof msg)
        return -1;
    return tap_sighash(msg, n, out);
}

void pk_legacy_all_build(pk_legacy_all *a, const pk_block *b, const pk_tx *t, const pk_txin_ref *ins,
                         size_t outs_at)
{
    const uint8_t *d = b->data;
    if (a->cap_in < t->n_in || !a->at) {
        size_t cap = t->n_in ? t->n_in : 1;
        size_t *nat = realloc(a->at, cap * sizeof *nat);
        uint32_t(*nmid)[8] = nat ? realloc(a->mid, cap * sizeof *nmid) : NULL;
        if (!nat || !nmid)
            abort();
        a->at = nat;
        a->mid = nmid;
        a->cap_in = cap;
    }
    buf s = {a->data, 0, a->cap_data, NULL};
    put(&s, d + t->offset, 4);
    put_compact(&s, t->n_in);
    for (uint32_t i = 0; i < t->n_in; i++) {
        put(&s, d + ins[i].prevout, 36);
        a->at[i] = s.n;
        put_compact(&s, 0);
        put(&s, d + ins[i].sequence, 4);
    }
    put(&s, d + outs_at, outputs_end(t) - outs_at);
    put(&s, d + t->lock_offset, 4);
    a->data = s.p;
    a->len = s.n;
    a->cap_data = s.cap;
    pk_sha256_ctx h;
    pk_sha256_init(&h);
    size_t done = 0; /* a multiple of 64: h's buffer stays empty */
    for (uint32_t i = 0; i < t->n_in; i++) {
        size_t upto = a->at[i] & ~(size_t)63;
        if (upto > done) {
            pk_sha256_update(&h, a->data + done, upto - done);
            done = upto;
        }
        memcpy(a->mid[i], h.state, sizeof a->mid[i]);
    }
}

void pk_legacy_all_init(pk_legacy_all *a, const pk_block *b, const pk_tx *t)
{
    memset(a, 0, sizeof *a);
    size_t outs_at;
    pk_txin_ref *ins = tx_inputs(b, t, &outs_at);
    pk_legacy_all_build(a, b, t, ins, outs_at);
    free(ins);
}

void pk_legacy_all_free(pk_legacy_all *a)
{
    free(a->data);
    free(a->at);
    free(a->mid);
    memset(a, 0, sizeof *a);
}

void pk_sighash_legacy_all(const pk_legacy_all *a, size_t vin, const uint8_t *code, size_t cl, uint32_t hash_type,
                           uint8_t out[32])
{
    /* The gathered message (one description of it), streamed. */
    uint8_t *ser = NULL, ht4[4];
    size_t n = 0, cap = 0;
    pk_legacy_script_code(code, cl, &ser, &n, &cap);
    for (int i = 0; i < 4; i++)
        ht4[i] = (uint8_t)(hash_type >> (8 * i));
    pk_sha256_seg segs[4];
    pk_sha256_gather g;
    pk_legacy_all_gather(a, vin, ser, n, ht4, segs, &g);
    pk_sha256_ctx h;
    memcpy(h.state, g.state, sizeof h.state);
    h.bytes = g.prefix;
    for (size_t i = 0; i < g.nsegs; i++)
        pk_sha256_update(&h, segs[i].p, segs[i].n);
    finish_double(&h, out);
    free(ser);
}

void pk_legacy_all_gather(const pk_legacy_all *a, size_t vin, const uint8_t *code, size_t code_len,
                          const uint8_t ht4[4], pk_sha256_seg segs[4], pk_sha256_gather *g)
{
    /* The input's legacy message after its midstate, piece by piece: the
     * rest of the shared prefix, its script code where its empty script
     * length byte was, the rest of the transaction, the hash type. */
    size_t at = a->at[vin], from = at & ~(size_t)63;
    memcpy(g->state, a->mid[vin], sizeof g->state);
    g->prefix = from;
    segs[0] = (pk_sha256_seg){a->data + from, at - from};
    segs[1] = (pk_sha256_seg){code, code_len};
    segs[2] = (pk_sha256_seg){a->data + at + 1, a->len - at - 1};
    segs[3] = (pk_sha256_seg){ht4, 4};
    g->segs = segs;
    g->nsegs = 4;
}

size_t pk_legacy_script_code(const uint8_t *code, size_t code_len, uint8_t **p, size_t *n, size_t *cap)
{
    buf s = {*p, *n, *cap, NULL};
    put_script_code(&s, code, code_len);
    size_t added = s.n - *n;
    *p = s.p;
    *n = s.n;
    *cap = s.cap;
    return added;
}
