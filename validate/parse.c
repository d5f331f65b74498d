/* Block and transaction parsing: every read is bounds-checked against the
 * end of the data, every count against what the remaining bytes could
 * hold, so malformed input gives a precise error and never a read past
 * the buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/sha256.h"
#include "powkit/validate.h"

#define MAX_SIZE 0x02000000u     /* CompactSize limit (Core's MAX_SIZE) */
#define MAX_BLOCK_WEIGHT 4000000u

const char *pk_vcode_name(pk_vcode c)
{
    static const char *n[] = {"ok", "truncated", "oversize", "non-canonical", "trailing-bytes",
                              "bad-witness", "bad-bits", "high-hash", "bad-merkle", "mutated",
                              "bad-witness-commitment", "bad-coinbase", "bad-weight",
                              "duplicate-tx", "bad-prev", "bad-retarget", "time-too-old", "empty", "io",
                              "bad-sigops", "bad-tx"};
    return (unsigned)c < sizeof n / sizeof n[0] ? n[c] : "unknown";
}

typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
    pk_verror *e;
    const char *what; /* the structure being read, for messages */
} rd;

static int fail(rd *r, pk_vcode code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(rd *r, pk_vcode code, const char *reason, const char *fmt, ...)
{
    if (r->e) {
        r->e->code = code;
        r->e->reason = reason;
        r->e->offset = r->pos;
        r->e->height = -1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->e->msg, sizeof r->e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Where a read is, for its error message: "block header", or "tx 5
 * input 2 script length".  Kept as parts and written out only when a read
 * fails: formatting it for every field of every transaction was most of a
 * block's parse time. */
typedef struct loc {
    const char *text;  /* the whole name, or NULL: then the parts below */
    size_t tx;
    const char *field; /* "version", "input", "output count", ... */
    int64_t item;      /* the input, output or witness number, or -1 */
    const char *part;  /* "outpoint", "script length", ... or NULL */
} loc;

static const char *loc_str(const loc *l, char *buf, size_t n)
{
    if (l->text)
        return l->text;
    int w = snprintf(buf, n, "tx %zu %s", l->tx, l->field);
    if (w > 0 && (size_t)w < n && l->item >= 0)
        w += snprintf(buf + w, n - (size_t)w, " %lld", (long long)l->item);
    if (w > 0 && (size_t)w < n && l->part)
        snprintf(buf + w, n - (size_t)w, " %s", l->part);
    return buf;
}

static const loc *named(loc *l, const char *text)
{
    memset(l, 0, sizeof *l);
    l->text = text;
    return l;
}

static int need(rd *r, size_t n, const loc *where)
{
    char buf[128];
    if (r->len - r->pos < n)
        return fail(r, PK_V_TRUNCATED, "truncated", "at byte %zu: %s needs %zu bytes, %zu left",
                    r->pos, loc_str(where, buf, sizeof buf), n, r->len - r->pos);
    return 0;
}

static int skip(rd *r, size_t n, const loc *where)
{
    if (need(r, n, where))
        return -1;
    r->pos += n;
    return 0;
}

static int compact(rd *r, uint64_t *out, const loc *where)
{
    if (need(r, 1, where))
        return -1;
    size_t at = r->pos;
    uint8_t b = r->p[r->pos++];
    uint64_t v;
    size_t n = b < 0xfd ? 0 : b == 0xfd ? 2 : b == 0xfe ? 4 : 8;
    if (n && need(r, n, where)) {
        r->pos = at;
        return -1;
    }
    char buf[128];
    if (!n) {
        v = b;
    } else {
        v = 0;
        for (size_t i = 0; i < n; i++)
            v |= (uint64_t)r->p[r->pos + i] << (8 * i);
        r->pos += n;
        uint64_t min = n == 2 ? 0xfd : n == 4 ? 0x10000 : 0x100000000ull;
        if (v < min) {
            r->pos = at;
            return fail(r, PK_V_NONCANONICAL, "non-canonical-compactsize",
                        "at byte %zu: %s is a non-canonical CompactSize", at, loc_str(where, buf, sizeof buf));
        }
    }
    if (v > MAX_SIZE) {
        r->pos = at;
        return fail(r, PK_V_OVERSIZE, "oversized-compactsize", "at byte %zu: %s %llu exceeds %u", at,
                    loc_str(where, buf, sizeof buf), (unsigned long long)v, MAX_SIZE);
    }
    *out = v;
    return 0;
}

/* A count of items of at least min_item bytes each must fit in what is left. */
static int count(rd *r, uint64_t *out, size_t min_item, const loc *where)
{
    size_t at = r->pos;
    if (compact(r, out, where))
        return -1;
    if (min_item && *out > (r->len - r->pos) / min_item) {
        char buf[128];
        r->pos = at;
        return fail(r, PK_V_OVERSIZE, "oversized-count",
                    "at byte %zu: %s %llu cannot fit in the %zu bytes left", at, loc_str(where, buf, sizeof buf),
                    (unsigned long long)*out, r->len - r->pos);
    }
    return 0;
}

/* A length-prefixed string: "<where> script length", then "<where>
 * script" (or "item"): a truncation says which of the two ran out. */
static int bytes(rd *r, loc *where, int item)
{
    uint64_t n;
    where->part = item ? "item length" : "script length";
    if (count(r, &n, 1, where))
        return -1;
    where->part = item ? "item" : "script";
    return skip(r, (size_t)n, where);
}

static const loc *at_field(loc *l, const char *field, int64_t item, const char *part)
{
    l->field = field;
    l->item = item;
    l->part = part;
    return l;
}

static int parse_tx(rd *r, pk_tx *t, size_t index)
{
    memset(t, 0, sizeof *t);
    t->offset = r->pos;
    loc w = {NULL, index, "version", -1, NULL};
    if (skip(r, 4, &w))
        return -1;
    int segwit = 0;
    /* BIP144: a zero input count here is the marker; the flag follows. */
    if (r->pos + 1 < r->len && r->p[r->pos] == 0x00) {
        if (r->p[r->pos + 1] != 0x01) {
            r->pos++;
            return fail(r, PK_V_BAD_WITNESS, "bad-txns-flag",
                        "at byte %zu: tx %zu has witness marker but flag 0x%02x (only 0x01 is defined)",
                        r->pos, index, r->p[r->pos]);
        }
        segwit = 1;
        r->pos += 2;
    }
    uint64_t nin, nout;
    t->io_offset = r->pos;
    if (count(r, &nin, 41, at_field(&w, "input count", -1, NULL)))
        return -1;
    if (nin == 0)
        return fail(r, PK_V_EMPTY, "bad-txns-vin-empty", "at byte %zu: tx %zu has no inputs", r->pos,
                    index);
    t->first_in_offset = r->pos;
    for (uint64_t i = 0; i < nin; i++) {
        if (skip(r, 36, at_field(&w, "input", (int64_t)i, "outpoint")) || bytes(r, &w, 0))
            return -1;
        if (skip(r, 4, at_field(&w, "input", (int64_t)i, "sequence")))
            return -1;
    }
    if (count(r, &nout, 9, at_field(&w, "output count", -1, NULL)))
        return -1;
    t->out_offset = r->pos;
    for (uint64_t i = 0; i < nout; i++) {
        if (skip(r, 8, at_field(&w, "output", (int64_t)i, "value")) || bytes(r, &w, 0))
            return -1;
    }
    t->io_size = r->pos - t->io_offset;
    t->n_in = (uint32_t)nin;
    t->n_out = (uint32_t)nout;
    if (segwit) {
        t->wit_offset = r->pos;
        int any = 0;
        for (uint64_t i = 0; i < nin; i++) {
            uint64_t items;
            if (count(r, &items, 1, at_field(&w, "witness", (int64_t)i, NULL)))
                return -1;
            any |= items > 0;
            for (uint64_t k = 0; k < items; k++) {
                if (bytes(r, &w, 1))
                    return -1;
            }
        }
        t->wit_size = r->pos - t->wit_offset;
        if (!any)
            return fail(r, PK_V_BAD_WITNESS, "superfluous-witness-record",
                        "at byte %zu: tx %zu has the witness flag but no witness data",
                        t->wit_offset, index);
        t->has_witness = 1;
    }
    t->lock_offset = r->pos;
    if (skip(r, 4, at_field(&w, "locktime", -1, NULL)))
        return -1;
    t->size = r->pos - t->offset;
    t->base_size = 4 + t->io_size + 4;
    return 0;
}

int pk_tx_parse(pk_tx *t, const uint8_t *data, size_t len, pk_verror *e)
{
    if (e)
        memset(e, 0, sizeof *e);
    rd r = {data, len, 0, e, "transaction"};
    if (parse_tx(&r, t, 0))
        return -1;
    if (r.pos != len)
        return fail(&r, PK_V_TRAILING, "trailing-data", "at byte %zu: %zu bytes after the transaction", r.pos,
                    len - r.pos);
    return 0;
}

void pk_tx_hash(const uint8_t *data, pk_tx *t)
{
    pk_sha256d(data + t->offset, t->size, t->wtxid);
    if (!t->has_witness) {
        memcpy(t->txid, t->wtxid, 32);
        return;
    }
    uint8_t *tmp = malloc(t->base_size);
    if (!tmp)
        abort(); /* cannot even hash one transaction */
    memcpy(tmp, data + t->offset, 4);
    memcpy(tmp + 4, data + t->io_offset, t->io_size);
    memcpy(tmp + 4 + t->io_size, data + t->lock_offset, 4);
    pk_sha256d(tmp, t->base_size, t->txid);
    free(tmp);
}

int pk_block_parse(pk_block *b, const uint8_t *data, size_t len, pk_verror *e)
{
    memset(b, 0, sizeof *b);
    if (e)
        memset(e, 0, sizeof *e);
    rd r = {data, len, 0, e, "block"};
    loc l;
    if (need(&r, 80, named(&l, "block header")))
        return -1;
    r.pos = 80;
    uint64_t ntx;
    size_t count_at = r.pos;
    if (count(&r, &ntx, 51, named(&l, "transaction count"))) /* 51 bytes: the smallest transaction (one input, no outputs: CheckTransaction refuses it, with its reason) */
        return -1;
    if (ntx == 0)
        return fail(&r, PK_V_EMPTY, "bad-blk-length", "block has no transactions");
    b->tx = calloc((size_t)ntx, sizeof *b->tx);
    if (!b->tx)
        return fail(&r, PK_V_OVERSIZE, "bad-blk-length", "no memory for %llu transactions",
                    (unsigned long long)ntx);
    b->data = data;
    b->size = len;
    b->ntx = (size_t)ntx;
    size_t base = 80 + (r.pos - count_at);
    for (size_t i = 0; i < b->ntx; i++) {
        if (parse_tx(&r, &b->tx[i], i)) {
            pk_block_free(b);
            return -1;
        }
        pk_tx *t = &b->tx[i];
        base += t->base_size;
        b->n_inputs += t->n_in;
        b->n_outputs += t->n_out;
        b->n_witness_tx += (uint64_t)t->has_witness;
    }
    if (r.pos != len) {
        size_t at = r.pos;
        pk_block_free(b);
        r.pos = at;
        return fail(&r, PK_V_TRAILING, "trailing-data",
                    "at byte %zu: %zu bytes after the last transaction", at, len - at);
    }
    /* Header and count are in both serializations: weight = 3*base + total. */
    b->weight = 3 * base + len;
    b->base_size = base;
    return 0;
}

void pk_block_free(pk_block *b)
{
    free(b->tx);
    b->tx = NULL;
    b->ntx = 0;
}

/* Messages hashed by parts of HASH_PART, one part per task of a pool. */
enum { HASH_PART = 64 };
typedef struct hash_parts {
    const uint8_t **msgs;
    const size_t *lens;
    size_t n;
    uint8_t (*out)[32];
} hash_parts;

static void hash_part(void *arg, size_t i)
{
    hash_parts *h = arg;
    size_t from = i * HASH_PART, k = h->n - from < HASH_PART ? h->n - from : HASH_PART;
    pk_sha256d_many(h->msgs + from, h->lens + from, k, h->out + from);
}

void pk_block_hash_txs_on(pk_block *b, const pk_pool *pool)
{
    size_t n = b->ntx;
    const uint8_t **msgs = calloc(2 * n, sizeof *msgs);
    size_t *lens = calloc(2 * n, sizeof *lens);
    uint8_t(*out)[32] = malloc(2 * n * 32);
    /* Stripped copies for segwit transactions (their txid skips marker,
     * flag and witnesses); legacy ones hash in place. */
    size_t scratch = 0;
    for (size_t i = 0; i < n; i++)
        scratch += b->tx[i].has_witness ? b->tx[i].base_size : 0;
    uint8_t *strip = malloc(scratch ? scratch : 1);
    if (!msgs || !lens || !out || !strip) {
        /* No memory: the same answers one at a time. */
        for (size_t i = 0; i < n; i++)
            pk_tx_hash(b->data, &b->tx[i]);
        free(msgs), free(lens), free(out), free(strip);
        b->hashed = 1;
        return;
    }
    size_t m = 0, pos = 0;
    for (size_t i = 0; i < n; i++) {
        pk_tx *t = &b->tx[i];
        if (t->has_witness) {
            uint8_t *s = strip + pos;
            memcpy(s, b->data + t->offset, 4);
            memcpy(s + 4, b->data + t->io_offset, t->io_size);
            memcpy(s + 4 + t->io_size, b->data + t->lock_offset, 4);
            pos += t->base_size;
            msgs[m] = s;
            lens[m++] = t->base_size;
            msgs[m] = b->data + t->offset; /* wtxid: the whole serialization */
            lens[m++] = t->size;
        } else {
            msgs[m] = b->data + t->offset;
            lens[m++] = t->size;
        }
    }
    if (pool && m > HASH_PART) {
        hash_parts hp = {msgs, lens, m, out};
        pool->run(pool->self, (m + HASH_PART - 1) / HASH_PART, 1, hash_part, &hp);
    } else {
        pk_sha256d_many(msgs, lens, m, out);
    }
    m = 0;
    for (size_t i = 0; i < n; i++) {
        pk_tx *t = &b->tx[i];
        memcpy(t->txid, out[m++], 32);
        memcpy(t->wtxid, t->has_witness ? out[m++] : t->txid, 32);
    }
    free(msgs), free(lens), free(out), free(strip);
    b->hashed = 1;
}

void pk_block_hash_txs(pk_block *b)
{
    pk_block_hash_txs_on(b, NULL);
}

uint64_t pk_compact_get(const uint8_t *d, size_t *pos)
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

size_t pk_tx_inputs(const pk_block *b, const pk_tx *t, pk_txin_ref *ins)
{
    const uint8_t *d = b->data;
    size_t pos = t->first_in_offset;
    for (uint32_t i = 0; i < t->n_in; i++) {
        ins[i].prevout = pos;
        pos += 36;
        ins[i].script_len = (size_t)pk_compact_get(d, &pos);
        ins[i].script = pos;
        pos += ins[i].script_len;
        ins[i].sequence = pos;
        pos += 4;
        ins[i].witness = 0;
    }
    size_t outs_at = pos;
    if (t->wit_size) {
        size_t w = t->wit_offset;
        for (uint32_t i = 0; i < t->n_in; i++) {
            ins[i].witness = w;
            uint64_t items = pk_compact_get(d, &w);
            for (uint64_t k = 0; k < items; k++) {
                uint64_t l = pk_compact_get(d, &w);
                w += (size_t)l;
            }
        }
    }
    return outs_at;
}
