/* Bitcoin Core's undo data (rev*.dat): a block's CBlockUndo, the coins its
 * transactions spent, in Core's compact forms, written here from the
 * serialization Core defines (undo.h, compressor.h, serialize.h):
 *  - VARINT: base 128, most significant group first, each continuation
 *    adding one (so every number has one encoding);
 *  - a coin: VARINT(height * 2 + coinbase), a zero where height > 0 (an
 *    old version field), the amount compressed (VARINT of Core's
 *    CompressAmount), the script compressed: VARINT size 0 P2PKH (20-byte
 *    hash), 1 P2SH (20), 2 and 3 a compressed key's P2PK (32 bytes of x),
 *    4 and 5 an uncompressed key's P2PK (x, the parity in the size; the
 *    key decompressed by libsecp256k1), else size - 6 bytes of script. */
#include <secp256k1.h>
#include <stdlib.h>
#include <string.h>

#include "chain_internal.h"

typedef struct rd {
    const uint8_t *p;
    size_t n, pos;
    int bad;
} rd;

static uint64_t varint(rd *r)
{
    uint64_t n = 0;
    for (int i = 0; i < 10; i++) {
        if (r->pos >= r->n) {
            r->bad = 1;
            return 0;
        }
        uint8_t b = r->p[r->pos++];
        if (n > (UINT64_MAX >> 7)) {
            r->bad = 1;
            return 0;
        }
        n = (n << 7) | (b & 0x7f);
        if (!(b & 0x80))
            return n;
        n++;
    }
    r->bad = 1;
    return 0;
}

static uint64_t compact(rd *r)
{
    if (r->pos >= r->n) {
        r->bad = 1;
        return 0;
    }
    uint8_t b = r->p[r->pos++];
    int len = b < 0xfd ? 0 : b == 0xfd ? 2 : b == 0xfe ? 4 : 8;
    if (!len)
        return b;
    if (r->pos + (size_t)len > r->n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < len; i++)
        v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)len;
    return v;
}

uint64_t pk_undo_decompress_amount(uint64_t x)
{
    if (x == 0)
        return 0;
    x--;
    int e = (int)(x % 10);
    x /= 10;
    uint64_t n;
    if (e < 9) {
        uint64_t d = x % 9 + 1;
        x /= 9;
        n = x * 10 + d;
    } else {
        n = x + 1;
    }
    while (e--)
        n *= 10;
    return n;
}

uint64_t pk_undo_compress_amount(uint64_t n)
{
    if (n == 0)
        return 0;
    int e = 0;
    while (n % 10 == 0 && e < 9) {
        n /= 10;
        e++;
    }
    if (e < 9) {
        uint64_t d = n % 10;
        n /= 10;
        return 1 + (n * 9 + d - 1) * 10 + (uint64_t)e;
    }
    return 1 + (n - 1) * 10 + 9;
}

static const secp256k1_context *ctx(void)
{
    static secp256k1_context *c;
    if (!c)
        c = secp256k1_context_create(SECP256K1_CONTEXT_NONE); /* a race makes two, both valid */
    return c;
}

/* One compressed script into out (at most 10,000 + a few bytes). */
static size_t script(rd *r, uint8_t *out, size_t cap)
{
    uint64_t size = varint(r);
    if (r->bad)
        return 0;
    if (size < 6) {
        size_t need = size < 2 ? 20 : 32;
        if (r->pos + need > r->n) {
            r->bad = 1;
            return 0;
        }
        const uint8_t *d = r->p + r->pos;
        r->pos += need;
        if (size == 0) { /* OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG */
            out[0] = 0x76, out[1] = 0xa9, out[2] = 20;
            memcpy(out + 3, d, 20);
            out[23] = 0x88, out[24] = 0xac;
            return 25;
        }
        if (size == 1) { /* OP_HASH160 <20> OP_EQUAL */
            out[0] = 0xa9, out[1] = 20;
            memcpy(out + 2, d, 20);
            out[22] = 0x87;
            return 23;
        }
        uint8_t key[65];
        key[0] = (uint8_t)(size & 1 ? 3 : 2);
        memcpy(key + 1, d, 32);
        if (size < 4) {
            out[0] = 33;
            memcpy(out + 1, key, 33);
            out[34] = 0xac;
            return 35;
        }
        secp256k1_pubkey pk;
        size_t kl = 65;
        if (!secp256k1_ec_pubkey_parse(ctx(), &pk, key, 33) ||
            !secp256k1_ec_pubkey_serialize(ctx(), key, &kl, &pk, SECP256K1_EC_UNCOMPRESSED)) {
            r->bad = 1; /* Core stores only keys that are on the curve */
            return 0;
        }
        out[0] = 65;
        memcpy(out + 1, key, 65);
        out[66] = 0xac;
        return 67;
    }
    size -= 6;
    if (size > r->n - r->pos) {
        r->bad = 1;
        return 0;
    }
    if (size > 10000) {
        /* Core keeps an oversized script as a lone OP_RETURN: unspendable either way. */
        r->pos += size;
        out[0] = 0x6a;
        return 1;
    }
    if (size > cap) {
        r->bad = 1;
        return 0;
    }
    memcpy(out, r->p + r->pos, size);
    r->pos += size;
    return (size_t)size;
}

int pk_undo_decode(const uint8_t *p, size_t n, size_t ntx, pk_prevout **out, size_t *nout, uint8_t **store)
{
    rd r = {p, n, 0, 0};
    *out = NULL;
    *store = NULL;
    *nout = 0;
    uint64_t ntxu = compact(&r);
    if (r.bad || ntxu + 1 != ntx)
        return -1;
    size_t cap = 64, count = 0, scap = 4096, slen = 0;
    pk_prevout *o = malloc(cap * sizeof *o);
    uint8_t *s = malloc(scap);
    size_t *offs = malloc(cap * sizeof *offs);
    if (!o || !s || !offs)
        abort();
    for (uint64_t t = 0; t < ntxu && !r.bad; t++) {
        uint64_t nin = compact(&r);
        if (nin > n)
            r.bad = 1;
        for (uint64_t i = 0; i < nin && !r.bad; i++) {
            uint64_t code = varint(&r);
            if (code >> 1 > INT32_MAX) {
                r.bad = 1;
                break;
            }
            if (code >> 1)
                (void)varint(&r); /* the old version field */
            uint64_t amount = pk_undo_decompress_amount(varint(&r));
            if (count == cap) {
                cap *= 2;
                o = realloc(o, cap * sizeof *o);
                offs = realloc(offs, cap * sizeof *offs);
                if (!o || !offs)
                    abort();
            }
            if (slen + 10100 > scap) {
                while (slen + 10100 > scap)
                    scap *= 2;
                s = realloc(s, scap);
                if (!s)
                    abort();
            }
            size_t l = script(&r, s + slen, 10100);
            memset(&o[count], 0, sizeof o[count]);
            o[count].value = amount;
            o[count].script_len = l;
            o[count].has_height = 1;
            o[count].height = (int64_t)(code >> 1);
            o[count].coinbase = (int)(code & 1);
            offs[count] = slen;
            slen += l;
            count++;
        }
    }
    if (r.bad || r.pos != n) {
        free(o);
        free(s);
        free(offs);
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        o[i].script = s + offs[i];
    free(offs);
    *out = o;
    *nout = count;
    *store = s;
    return 0;
}
