#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/coinbase.h"
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "powkit/validate.h"

static void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static int hex32_reversed(const json_t *v, uint8_t out[32])
{
    uint8_t b[32];
    if (!json_is_string(v) || pk_hex_decode(json_string_value(v), b, 32))
        return -1;
    for (int i = 0; i < 32; i++)
        out[i] = b[31 - i];
    return 0;
}

void pk_gbt_free(pk_gbt *t)
{
    for (size_t i = 0; t->data && i < t->ntx; i++)
        free(t->data[i]);
    free(t->data);
    free(t->len);
    free(t->txid);
    free(t->wtxid);
    memset(t, 0, sizeof *t);
}

int pk_gbt_parse(const json_t *r, pk_gbt *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    const json_t *h = json_object_get(r, "height"), *v = json_object_get(r, "version"),
                 *bits = json_object_get(r, "bits"), *ct = json_object_get(r, "curtime"),
                 *cv = json_object_get(r, "coinbasevalue"), *txs = json_object_get(r, "transactions"),
                 *rules = json_object_get(r, "rules"), *lp = json_object_get(r, "longpollid"),
                 *dwc = json_object_get(r, "default_witness_commitment");
    uint8_t b4[4];
    if (!json_is_object(r) || !json_is_integer(h) || json_integer_value(h) < 0 || !json_is_integer(v) ||
        !json_is_string(bits) || pk_hex_decode(json_string_value(bits), b4, 4) || !json_is_integer(ct) ||
        !json_is_integer(cv) || json_integer_value(cv) < 0 || !json_is_array(txs) ||
        hex32_reversed(json_object_get(r, "previousblockhash"), t->prevhash)) {
        snprintf(err, errlen, "template is missing a field or has one of the wrong type/hex "
                              "(height, version, bits, curtime, coinbasevalue, previousblockhash, transactions)");
        return -1;
    }
    /* What no real node sends: refused before anything is built on it. */
    if (json_integer_value(h) > PK_GBT_MAX_HEIGHT) {
        snprintf(err, errlen, "template height %lld is not a block height (at most %d)",
                 (long long)json_integer_value(h), PK_GBT_MAX_HEIGHT);
        return -1;
    }
    if (json_integer_value(cv) > PK_MAX_MONEY) {
        snprintf(err, errlen, "template coinbasevalue %lld satoshis is more than 21,000,000 BTC: refused",
                 (long long)json_integer_value(cv));
        return -1;
    }
    if (json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffll || json_integer_value(ct) < 0 ||
        json_integer_value(ct) > 0xffffffffll) {
        snprintf(err, errlen, "template version or curtime is not a 32-bit unsigned number");
        return -1;
    }
    t->height = json_integer_value(h);
    t->version = (uint32_t)json_integer_value(v);
    t->bits = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
    t->curtime = (uint32_t)json_integer_value(ct);
    t->coinbasevalue = json_integer_value(cv);
    size_t i;
    const json_t *rule;
    json_array_foreach(rules, i, rule) {
        const char *s = json_string_value(rule);
        if (s && (strcmp(s, "segwit") == 0 || strcmp(s, "!segwit") == 0))
            t->segwit = 1;
    }
    if (json_is_string(lp))
        snprintf(t->longpollid, sizeof t->longpollid, "%s", json_string_value(lp));
    if (json_is_string(dwc) && json_string_length(dwc) % 2 == 0 &&
        json_string_length(dwc) / 2 <= sizeof t->default_commitment &&
        pk_hex_decode(json_string_value(dwc), t->default_commitment, json_string_length(dwc) / 2) == 0) {
        t->has_default_commitment = 1;
        t->default_commitment_len = json_string_length(dwc) / 2;
    }
    t->ntx = json_array_size(txs);
    t->txid = calloc(t->ntx + 1, 32);
    t->wtxid = calloc(t->ntx + 1, 32);
    t->data = calloc(t->ntx + 1, sizeof *t->data);
    t->len = calloc(t->ntx + 1, sizeof *t->len);
    if (!t->txid || !t->wtxid || !t->data || !t->len) {
        snprintf(err, errlen, "no memory for %zu transactions", t->ntx);
        pk_gbt_free(t);
        return -1;
    }
    const json_t *tx;
    json_array_foreach(txs, i, tx) {
        const json_t *d = json_object_get(tx, "data");
        size_t n = json_is_string(d) ? json_string_length(d) : 1;
        if (n % 2 || n == 0 || !(t->data[i] = malloc(n / 2)) ||
            pk_hex_decode(json_string_value(d), t->data[i], n / 2)) {
            snprintf(err, errlen, "template transaction %zu: data is not hex", i);
            pk_gbt_free(t);
            return -1;
        }
        t->len[i] = n / 2;
        t->data_total += n / 2;
        /* Every length in it is read by the strict parser: a template
         * transaction that does not parse is refused, never walked. */
        pk_tx parsed;
        pk_verror ve;
        if (pk_tx_parse(&parsed, t->data[i], t->len[i], &ve)) {
            snprintf(err, errlen, "template transaction %zu is malformed: %s", i, ve.msg);
            pk_gbt_free(t);
            return -1;
        }
        pk_tx_hash(t->data[i], &parsed);
        memcpy(t->txid[i], parsed.txid, 32);
        memcpy(t->wtxid[i], parsed.wtxid, 32);
        uint8_t said[32];
        if (json_object_get(tx, "txid") && (hex32_reversed(json_object_get(tx, "txid"), said) ||
                                            memcmp(said, t->txid[i], 32) != 0)) {
            snprintf(err, errlen, "template transaction %zu: its txid does not match its data", i);
            pk_gbt_free(t);
            return -1;
        }
    }
    return 0;
}

size_t pk_bip34_height(int64_t height, uint8_t out[9])
{
    if (height == 0) {
        out[0] = 0x00; /* OP_0 */
        return 1;
    }
    if (height >= 1 && height <= 16) {
        out[0] = (uint8_t)(0x50 + height); /* OP_1 .. OP_16 */
        return 1;
    }
    uint8_t num[8];
    size_t n = 0;
    for (uint64_t v = (uint64_t)height; v; v >>= 8)
        num[n++] = (uint8_t)v;
    if (num[n - 1] & 0x80)
        num[n++] = 0; /* keep it positive */
    out[0] = (uint8_t)n;
    memcpy(out + 1, num, n);
    return n + 1;
}

static void merkle_branch(const pk_gbt *t, pk_pool_job *job)
{
    /* Leaves: the coinbase (unknown here) then the template's txids; the
     * branch is the coinbase's sibling at each level. */
    size_t n = t->ntx + 1;
    uint8_t(*level)[32] = malloc((n + 1) * 32);
    if (!level)
        return;
    memcpy(level + 1, t->txid, t->ntx * 32);
    memset(level[0], 0, 32);
    job->branch_len = 0;
    while (n > 1 && job->branch_len < PK_BRANCH_MAX) {
        memcpy(job->branch[job->branch_len++], level[1], 32);
        if (n & 1) {
            memcpy(level[n], level[n - 1], 32);
            n++;
        }
        for (size_t i = 1; i < n / 2; i++) {
            uint8_t pair[64];
            memcpy(pair, level[2 * i], 64);
            pk_sha256d(pair, 64, level[i]);
        }
        n /= 2;
    }
    free(level);
}

int pk_solo_job(const pk_gbt *t, const uint8_t *payout, size_t payout_len, const char *tag,
                pk_pool_job *job, char *err, size_t errlen)
{
    memset(job, 0, sizeof *job);
    size_t tag_len = tag ? strlen(tag) : 0;
    if (tag_len > 32) {
        snprintf(err, errlen, "--coinbase-tag is longer than 32 bytes");
        return -1;
    }
    uint8_t commit_script[38];
    if (t->segwit) {
        uint8_t(*w)[32] = malloc((t->ntx + 1) * 32), root[32], buf[64];
        if (!w)
            return -1;
        memset(w[0], 0, 32); /* the coinbase's wtxid counts as zero */
        memcpy(w + 1, t->wtxid, t->ntx * 32);
        pk_merkle_root((const uint8_t(*)[32])w, t->ntx + 1, root, NULL);
        free(w);
        memcpy(buf, root, 32);
        memset(buf + 32, 0, 32); /* the reserved value */
        static const uint8_t pre[6] = {0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed};
        memcpy(commit_script, pre, 6);
        pk_sha256d(buf, 64, commit_script + 6);
        if (t->has_default_commitment &&
            (t->default_commitment_len != 38 || memcmp(t->default_commitment, commit_script, 38) != 0)) {
            snprintf(err, errlen, "the witness commitment powkit computed differs from the node's "
                                  "default_witness_commitment: template refused");
            return -1;
        }
    }
    uint8_t c1[256], c2[256];
    size_t n1 = 0, n2 = 0;
    store_le32(c1, 1), n1 = 4;
    c1[n1++] = 1;                       /* one input */
    memset(c1 + n1, 0, 32), n1 += 32;   /* null prevout */
    store_le32(c1 + n1, 0xffffffffu), n1 += 4;
    uint8_t h[9];
    size_t hl = pk_bip34_height(t->height, h);
    size_t script_len = hl + 1 + PK_SOLO_EXTRANONCE + (tag_len ? 1 + tag_len : 0);
    c1[n1++] = (uint8_t)script_len;
    memcpy(c1 + n1, h, hl), n1 += hl;
    c1[n1++] = PK_SOLO_EXTRANONCE;      /* push of the extranonce, which follows */
    if (tag_len) {
        c2[n2++] = (uint8_t)tag_len;
        memcpy(c2 + n2, tag, tag_len), n2 += tag_len;
    }
    store_le32(c2 + n2, 0xffffffffu), n2 += 4; /* sequence */
    c2[n2++] = t->segwit ? 2 : 1;
    for (int i = 0; i < 8; i++)
        c2[n2++] = (uint8_t)((uint64_t)t->coinbasevalue >> (8 * i));
    c2[n2++] = (uint8_t)payout_len;
    memcpy(c2 + n2, payout, payout_len), n2 += payout_len;
    if (t->segwit) {
        memset(c2 + n2, 0, 8), n2 += 8;
        c2[n2++] = 38;
        memcpy(c2 + n2, commit_script, 38), n2 += 38;
    }
    store_le32(c2 + n2, 0), n2 += 4; /* locktime */
    job->coinb1 = malloc(n1);
    job->coinb2 = malloc(n2);
    if (!job->coinb1 || !job->coinb2) {
        pk_pool_job_free(job);
        return -1;
    }
    memcpy(job->coinb1, c1, n1);
    memcpy(job->coinb2, c2, n2);
    job->coinb1_len = n1;
    job->coinb2_len = n2;
    snprintf(job->id, sizeof job->id, "h%lld", (long long)t->height);
    memcpy(job->prevhash, t->prevhash, 32);
    job->version = t->version;
    job->nbits = t->bits;
    job->ntime = t->curtime;
    job->clean = 1;
    job->extranonce1_len = 0;
    job->extranonce2_size = PK_SOLO_EXTRANONCE;
    job->use_block_target = 1;
    job->version_mask = PK_SOLO_VERSION_ROLL;
    merkle_branch(t, job);
    return 0;
}

int pk_solo_block_hex(const pk_gbt *t, const pk_pool_job *job, const uint8_t header[80],
                      const uint8_t *en2, char **hex)
{
    size_t cb_len = job->coinb1_len + PK_SOLO_EXTRANONCE + job->coinb2_len + (t->segwit ? 2 + 34 : 0);
    size_t total = 80 + 9 + cb_len + t->data_total;
    uint8_t *b = malloc(total);
    *hex = malloc(2 * total + 1);
    if (!b || !*hex) {
        free(b);
        free(*hex);
        *hex = NULL;
        return -1;
    }
    size_t n = 0;
    memcpy(b, header, 80), n = 80;
    n += pk_compact_put(b + n, t->ntx + 1);
    /* Coinbase: with segwit, marker and flag after the version and the
     * reserved value as its witness before the locktime. */
    memcpy(b + n, job->coinb1, 4), n += 4;
    if (t->segwit)
        b[n++] = 0x00, b[n++] = 0x01;
    memcpy(b + n, job->coinb1 + 4, job->coinb1_len - 4), n += job->coinb1_len - 4;
    memcpy(b + n, en2, PK_SOLO_EXTRANONCE), n += PK_SOLO_EXTRANONCE;
    memcpy(b + n, job->coinb2, job->coinb2_len - 4), n += job->coinb2_len - 4;
    if (t->segwit) {
        b[n++] = 1, b[n++] = 32;
        memset(b + n, 0, 32), n += 32;
    }
    memcpy(b + n, job->coinb2 + job->coinb2_len - 4, 4), n += 4;
    for (size_t i = 0; i < t->ntx; i++)
        memcpy(b + n, t->data[i], t->len[i]), n += t->len[i];
    pk_hex_encode(b, n, *hex);
    free(b);
    return 0;
}
