/* Block and header validation on real mainnet data, with OpenSSL's SHA-256
 * as the independent oracle, plus blocks built and mined here under
 * regtest rules to exercise the all-pass path (legacy and segwit). */
#include <criterion/criterion.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/sha256_internal.h"
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "testutil.h"

static void ossl_sha256d(const uint8_t *d, size_t n, uint8_t out[32])
{
    uint8_t t[32];
    SHA256(d, n, t);
    SHA256(t, 32, out);
}

static void ossl_merkle(uint8_t (*ids)[32], size_t n, uint8_t root[32])
{
    while (n > 1) {
        if (n & 1) {
            memcpy(ids[n], ids[n - 1], 32);
            n++;
        }
        for (size_t i = 0; i < n / 2; i++) {
            uint8_t p[64];
            memcpy(p, ids[2 * i], 32);
            memcpy(p + 32, ids[2 * i + 1], 32);
            ossl_sha256d(p, 64, ids[i]);
        }
        n /= 2;
    }
    memcpy(root, ids[0], 32);
}

/* ---- block 413567 ---- */

Test(block413567, parses_with_the_published_counts)
{
    size_t len;
    uint8_t *d = tu_read_data("block413567.raw", &len);
    cr_assert_eq(len, 999887);
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, d, len, &e), 0, "%s", e.msg);
    cr_assert_eq(b.ntx, 1557);
    cr_assert_eq(b.n_inputs, 4887);
    cr_assert_eq(b.n_outputs, 3581); /* Bitcoin Core's tally: 3 OP_RETURN + 2841 P2PKH + 737 P2SH */
    cr_assert_eq(b.n_witness_tx, 0);
    cr_assert_eq(b.weight, 4 * len, "no witness: weight is four times the size");
    uint8_t h[32];
    char hex[65];
    pk_header_hash(d, h);
    pk_hash_to_hex(h, hex);
    cr_assert_str_eq(hex, "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069");
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    cr_assert_eq(pk_check_pow(d, &p, &e), 0, "%s", e.msg);
    pk_block_free(&b);
    free(d);
}

Test(block413567, txids_and_merkle_root_match_an_independent_computation)
{
    size_t len;
    uint8_t *d = tu_read_data("block413567.raw", &len);
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, d, len, &e), 0);
    pk_block_hash_txs(&b);
    uint8_t(*ids)[32] = malloc((b.ntx + 1) * 32), (*mine)[32] = malloc(b.ntx * 32);
    for (size_t i = 0; i < b.ntx; i++) {
        ossl_sha256d(d + b.tx[i].offset, b.tx[i].size, ids[i]);
        cr_assert_arr_eq(b.tx[i].txid, ids[i], 32, "txid %zu", i);
        memcpy(mine[i], b.tx[i].txid, 32);
    }
    uint8_t want[32], got[32];
    int mutated;
    ossl_merkle(ids, b.ntx, want);
    pk_merkle_root((const uint8_t(*)[32])mine, b.ntx, got, &mutated);
    cr_assert_arr_eq(got, want, 32);
    cr_assert_not(mutated);
    /* The real block: its root is the header's 64a50c64..., and every
     * block check passes. */
    char root_hex[65];
    pk_hash_to_hex(got, root_hex);
    cr_assert_str_eq(root_hex, "64a50c649fc816baaa2effda230c39cacf1504e4e616a2863685b72aaa7dce05");
    pk_block vb;
    pk_block_report rep;
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    cr_assert_eq(pk_block_verify(&vb, d, len, &p, &rep, &e), 0, "%s", e.msg);
    cr_assert(rep.merkle_ok && rep.pow_ok && rep.structure_ok && rep.witness_ok);
    cr_assert_eq(rep.checked, PK_CHECK_POW | PK_CHECK_MERKLE | PK_CHECK_STRUCTURE | PK_CHECK_WITNESS);
    pk_block_free(&vb);
    /* Proof of work first, as Core's CheckBlockHeader: a changed nonce and
     * a changed transaction byte fail as high-hash, and the merkle root is
     * not checked (neither ok nor failed). */
    uint8_t *bad = malloc(len);
    memcpy(bad, d, len);
    bad[76] ^= 1;
    bad[len - 1] ^= 1;
    cr_assert_eq(pk_block_verify(&vb, bad, len, &p, &rep, &e), -1);
    cr_assert_eq(e.code, PK_V_HIGH_HASH, "%s", e.msg);
    cr_assert_eq(rep.checked, PK_CHECK_POW);
    cr_assert(!rep.pow_ok && !rep.merkle_ok);
    pk_block_free(&vb);
    /* The work holds, a transaction byte does not: the merkle root fails,
     * the later checks did not run. */
    bad[76] ^= 1;
    cr_assert_eq(pk_block_verify(&vb, bad, len, &p, &rep, &e), -1);
    cr_assert_eq(e.code, PK_V_MERKLE, "%s", e.msg);
    cr_assert_eq(rep.checked, PK_CHECK_POW | PK_CHECK_MERKLE);
    cr_assert(rep.pow_ok && !rep.merkle_ok);
    pk_block_free(&vb);
    free(bad);
    free(ids);
    free(mine);
    pk_block_free(&b);
    free(d);
}

Test(block413567, any_flipped_transaction_byte_changes_the_root, .timeout = 300)
{
    size_t len;
    uint8_t *d = tu_read_data("block413567.raw", &len);
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, d, len, &e), 0);
    pk_block_hash_txs(&b);
    uint8_t(*ids)[32] = malloc(b.ntx * 32), base[32];
    for (size_t i = 0; i < b.ntx; i++)
        memcpy(ids[i], b.tx[i].txid, 32);
    pk_merkle_root((const uint8_t(*)[32])ids, b.ntx, base, NULL);
    pk_block_free(&b);
    tu_rng r = {77};
    for (int k = 0; k < 150; k++) {
        size_t off = 81 + 2 + tu_below(&r, (uint32_t)(len - 83)); /* inside the transactions */
        uint8_t old = d[off];
        d[off] ^= (uint8_t)(1u << tu_below(&r, 8));
        pk_block b2;
        if (pk_block_parse(&b2, d, len, &e) == 0) {
            /* Still well-formed: the merkle root must move. */
            pk_block_hash_txs(&b2);
            for (size_t i = 0; i < b2.ntx; i++)
                memcpy(ids[i], b2.tx[i].txid, 32);
            uint8_t root[32];
            pk_merkle_root((const uint8_t(*)[32])ids, b2.ntx, root, NULL);
            cr_assert_neq(memcmp(root, base, 32), 0, "flip at %zu not seen", off);
            pk_block_free(&b2);
        } else {
            cr_assert_neq(e.code, PK_V_OK); /* a clean error also catches it */
        }
        d[off] = old;
    }
    free(ids);
    free(d);
}

Test(block413567, truncation_anywhere_is_a_clean_error, .timeout = 300)
{
    size_t len;
    uint8_t *d = tu_read_data("block413567.raw", &len);
    tu_rng r = {78};
    for (int k = 0; k < 400; k++) {
        size_t cut = k < 100 ? (size_t)k : tu_below(&r, (uint32_t)len);
        /* A fresh allocation of exactly cut bytes: ASan sees any overread. */
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, d, cut);
        pk_block b;
        pk_verror e;
        cr_assert_eq(pk_block_parse(&b, t, cut, &e), -1, "truncated at %zu accepted", cut);
        cr_assert(e.code == PK_V_TRUNCATED || e.code == PK_V_OVERSIZE, "cut %zu: %s", cut, e.msg);
        cr_assert_leq(e.offset, cut);
        free(t);
    }
    /* The message names the part that ran out, here in the last input of
     * the last transaction with several (the counts before it fit): its
     * outpoint, its script length, its script, its sequence. */
    {
        pk_block full;
        pk_verror e;
        cr_assert_eq(pk_block_parse(&full, d, len, &e), 0);
        size_t t = full.ntx - 1;
        while (full.tx[t].n_in < 2)
            t--;
        pk_txin_ref ins[64];
        cr_assert_leq(full.tx[t].n_in, 64);
        pk_tx_inputs(&full, &full.tx[t], ins);
        const pk_txin_ref *last = &ins[full.tx[t].n_in - 1];
        cr_assert_gt(last->script_len, 2);
        const struct { size_t cut; const char *words; } named[] = {
            {last->prevout + 10, "outpoint needs 36 bytes"},
            {last->script - 1, "script length"}, /* a one-byte length, not there */
            {last->script + 1, "script length"}, /* longer than what is left */
            {last->sequence + 2, "sequence needs 4 bytes"},
        };
        for (size_t k = 0; k < 4; k++) {
            pk_block b;
            char words[128];
            snprintf(words, sizeof words, "tx %zu input %u %s", t, full.tx[t].n_in - 1, named[k].words);
            cr_assert_eq(pk_block_parse(&b, d, named[k].cut, &e), -1);
            cr_assert(strstr(e.msg, words), "cut %zu: %s (wanted %s)", named[k].cut, e.msg, words);
        }
        pk_block_free(&full);
    }
    /* And trailing bytes. */
    uint8_t *t = malloc(len + 1);
    memcpy(t, d, len);
    t[len] = 0;
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, t, len + 1, &e), -1);
    cr_assert_eq(e.code, PK_V_TRAILING);
    cr_assert_eq(e.offset, len);
    free(t);
    free(d);
}

/* ---- header chains ---- */

Test(headers, all_8065_verify_with_4_retargets)
{
    size_t len;
    uint8_t *d = tu_read_data("mainnet-headers-822528-830592.bin", &len);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    pk_headers_report rep;
    pk_verror e;
    cr_assert_eq(pk_headers_verify(d, len / 80, 822528, &p, &rep, &e), 0, "%s", e.msg);
    cr_assert_eq(rep.verified, 8065);
    cr_assert_eq(rep.retargets_checked, 4);
    uint8_t h[32];
    char hex[65];
    pk_header_hash(d + len - 80, h);
    pk_hash_to_hex(h, hex);
    cr_assert_str_eq(hex, "00000000000000000000506183a8b30fa3224b85e82a70416e1d594bdb632fdb");
    free(d);
}

static void expect_failure_at(uint8_t *d, size_t n, int64_t height, pk_vcode code)
{
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    pk_headers_report rep;
    pk_verror e;
    cr_assert_eq(pk_headers_verify(d, n, 822528, &p, &rep, &e), -1);
    cr_assert_eq(e.height, height, "reported at %lld, expected %lld (%s)", (long long)e.height,
                 (long long)height, e.msg);
    cr_assert_eq(e.code, code, "%s", e.msg);
    cr_assert_eq(rep.verified, (uint64_t)(height - 822528));
}

Test(headers, damage_is_reported_at_its_height)
{
    size_t len;
    uint8_t *d = tu_read_data("mainnet-headers-822528-830592.bin", &len);
    size_t n = len / 80;
    tu_rng r = {90};
    for (int k = 0; k < 5; k++) {
        size_t i = 1 + tu_below(&r, (uint32_t)(n - 2));
        uint8_t *h = d + 80 * i;
        /* A changed nonce: the hash misses the target. */
        h[76] ^= 1;
        expect_failure_at(d, n, 822528 + (int64_t)i, PK_V_HIGH_HASH);
        h[76] ^= 1;
        /* A broken link: the previous-hash field changed. */
        h[4] ^= 0x80;
        expect_failure_at(d, n, 822528 + (int64_t)i, PK_V_PREV_LINK);
        h[4] ^= 0x80;
    }
    /* A wrong bits field inside a period, and at a retarget. */
    size_t inside = 1000, boundary = 824544 - 822528;
    uint8_t *h = d + 80 * inside;
    uint8_t save[4];
    memcpy(save, h + 72, 4);
    h[72] -= 1; /* not the period's bits: the rule names it before the hash */
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    pk_headers_report rep;
    pk_verror e;
    cr_assert_eq(pk_headers_verify(d, n, 822528, &p, &rep, &e), -1);
    cr_assert_eq(e.height, 822528 + (int64_t)inside);
    cr_assert_eq(e.code, PK_V_RETARGET, "%s", e.msg);
    memcpy(h + 72, save, 4);
    h = d + 80 * boundary;
    memcpy(save, h + 72, 4);
    h[74] += 1; /* an easier target at the retarget */
    cr_assert_eq(pk_headers_verify(d, n, 822528, &p, &rep, &e), -1);
    cr_assert_eq(e.height, 824544);
    cr_assert_eq(e.code, PK_V_RETARGET, "%s", e.msg);
    memcpy(h + 72, save, 4);
    free(d);
}

Test(headers, all_413_retargets_recompute)
{
    size_t len;
    uint8_t *d = tu_read_data("mainnet-retarget-boundaries.bin", &len);
    cr_assert_eq(len, 827 * 84);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    uint64_t checked;
    pk_verror e;
    cr_assert_eq(pk_retargets_verify(d, len / 84, &p, &checked, &e), 0, "%s", e.msg);
    cr_assert_eq(checked, 413);
    /* One wrong bits value is found. */
    d[84 * 500 + 4 + 72] ^= 0x01;
    cr_assert_eq(pk_retargets_verify(d, len / 84, &p, &checked, &e), -1);
    free(d);
}

Test(headers, compact_round_trip)
{
    uint32_t cases[] = {0x1d00ffff, 0x1b0404cb, 0x17034219, 0x1a05db8b, 0x207fffff, 0x03123456, 0x04123456};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t t[32];
        cr_assert_eq(pk_bits_to_target(cases[i], t), 0);
        cr_assert_eq(pk_target_to_bits(t), cases[i], "%08x", cases[i]);
    }
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    /* Clamps: four times faster at most, capped at the limit. */
    cr_assert_eq(pk_next_bits(0x1d00ffff, 0, 14 * 24 * 3600, &p), 0x1d00ffff);
    cr_assert_eq(pk_next_bits(0x1d00ffff, 0, 10 * 14 * 24 * 3600, &p), 0x1d00ffff, "capped at the limit");
    cr_assert_eq(pk_next_bits(0x1d00ffff, 0, 1, &p), 0x1c3fffc0, "a quarter of the target");
}

/* ---- blocks built and mined here (regtest rules) ---- */

typedef struct buf {
    uint8_t d[4096];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n) { memcpy(b->d + b->n, p, n), b->n += n; }
static void put8(buf *b, uint8_t v) { b->d[b->n++] = v; }
static void put32(buf *b, uint32_t v) { pk_store_le32(b->d + b->n, v), b->n += 4; }
static void put64(buf *b, uint64_t v) { put32(b, (uint32_t)v), put32(b, (uint32_t)(v >> 32)); }

/* A coinbase with optional witness commitment; returns its size. */
static void coinbase(buf *b, int height, const uint8_t *commitment)
{
    put32(b, 1);
    if (commitment)
        put8(b, 0), put8(b, 1);
    put8(b, 1);
    uint8_t zero[32] = {0};
    put(b, zero, 32);
    put32(b, 0xffffffffu);
    put8(b, 4), put8(b, 3), put8(b, (uint8_t)height), put8(b, (uint8_t)(height >> 8)), put8(b, 0);
    put32(b, 0xffffffffu);
    put8(b, commitment ? 2 : 1);
    put64(b, 5000000000ull);
    put8(b, 1), put8(b, 0x51); /* OP_TRUE */
    if (commitment) {
        put64(b, 0);
        put8(b, 38);
        static const uint8_t pre[6] = {0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed};
        put(b, pre, 6);
        put(b, commitment, 32);
        put8(b, 1), put8(b, 32); /* witness: one 32-byte reserved value (zeros) */
        put(b, zero, 32);
    }
    put32(b, 0);
}

static void spend(buf *b, uint8_t tag, int witness)
{
    put32(b, 2);
    if (witness)
        put8(b, 0), put8(b, 1);
    put8(b, 1);
    uint8_t prev[32];
    memset(prev, tag, 32);
    put(b, prev, 32);
    put32(b, 0);
    put8(b, 0); /* empty scriptSig */
    put32(b, 0xfffffffeu);
    put8(b, 1);
    put64(b, 1000);
    put8(b, 1), put8(b, 0x51);
    if (witness) {
        put8(b, 2), put8(b, 3), put8(b, 1), put8(b, 2), put8(b, 3), put8(b, 1), put8(b, tag);
    }
    put32(b, 0);
}

/* Builds [header | count | txs], fixes the merkle root and mines it. */
static size_t build_block(uint8_t *out, int segwit, int ntx)
{
    buf txs[8];
    memset(txs, 0, sizeof txs);
    uint8_t commit[32] = {0};
    for (int i = 1; i < ntx; i++)
        spend(&txs[i], (uint8_t)i, segwit && i % 2);
    if (segwit) {
        /* wtxids: coinbase zero, the rest hashed with their witness. */
        uint8_t ids[9][32], root[32], pair[64];
        memset(ids[0], 0, 32);
        for (int i = 1; i < ntx; i++)
            ossl_sha256d(txs[i].d, txs[i].n, ids[i]);
        ossl_merkle(ids, (size_t)ntx, root);
        memcpy(pair, root, 32);
        memset(pair + 32, 0, 32);
        ossl_sha256d(pair, 64, commit);
    }
    coinbase(&txs[0], 500, segwit ? commit : NULL);
    size_t n = 80;
    memset(out, 0, 80);
    pk_store_le32(out, 0x20000000);
    pk_store_le32(out + 68, 1700000000);
    pk_store_le32(out + 72, 0x207fffff);
    out[n++] = (uint8_t)ntx;
    uint8_t ids[9][32];
    for (int i = 0; i < ntx; i++) {
        memcpy(out + n, txs[i].d, txs[i].n);
        pk_block b;
        /* txid by hand: strip marker, flag and witness for segwit txs */
        n += txs[i].n;
        (void)b;
    }
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, out, n, &e), 0, "%s", e.msg);
    for (int i = 0; i < ntx; i++) {
        pk_tx *t = &b.tx[i];
        uint8_t strip[4096];
        size_t k = 0;
        memcpy(strip, out + t->offset, 4), k = 4;
        memcpy(strip + k, out + t->io_offset, t->io_size), k += t->io_size;
        memcpy(strip + k, out + t->lock_offset, 4), k += 4;
        ossl_sha256d(strip, k, ids[i]);
    }
    pk_block_free(&b);
    ossl_merkle(ids, (size_t)ntx, out + 36);
    for (uint32_t nonce = 0;; nonce++) {
        pk_store_le32(out + 76, nonce);
        pk_chain_params p;
        pk_chain_params_init(&p, PK_CHAIN_REGTEST);
        if (pk_check_pow(out, &p, NULL) == 0)
            break;
    }
    return n;
}

Test(built_blocks, legacy_and_segwit_pass_every_check)
{
    uint8_t blk[65536];
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    for (int segwit = 0; segwit < 2; segwit++) {
        for (int ntx = 1; ntx <= 7; ntx++) {
            size_t n = build_block(blk, segwit, ntx);
            pk_block b;
            pk_block_report rep;
            pk_verror e;
            int rc = pk_block_verify(&b, blk, n, &p, &rep, &e);
            cr_assert_eq(rc, 0, "segwit %d, %d txs: %s (%s)", segwit, ntx, e.msg, e.reason);
            cr_assert(rep.pow_ok && rep.merkle_ok && rep.structure_ok && rep.witness_ok);
            cr_assert_eq(rep.has_commitment, segwit);
            cr_assert_eq(b.n_witness_tx, segwit ? (uint64_t)(ntx / 2) + 1 : 0);
            if (segwit)
                cr_assert_lt(b.weight, 4 * n, "witness bytes weigh less");
            else
                cr_assert_eq(b.weight, 4 * n);
            pk_block_free(&b);
        }
    }
}

Test(built_blocks, each_check_fails_on_its_own_damage)
{
    uint8_t blk[65536];
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    pk_block b;
    pk_block_report rep;
    pk_verror e;
    /* Witness data changed: txid and merkle hold, the commitment does not. */
    size_t n = build_block(blk, 1, 3);
    pk_block_parse(&b, blk, n, &e);
    size_t wit = b.tx[1].wit_offset + b.tx[1].wit_size - 1;
    pk_block_free(&b);
    blk[wit] ^= 0xff;
    cr_assert_eq(pk_block_verify(&b, blk, n, &p, &rep, &e), -1);
    cr_assert_eq(e.code, PK_V_WITNESS_COMMITMENT, "%s", e.msg);
    cr_assert_str_eq(e.reason, "bad-witness-merkle-match");
    pk_block_free(&b);
    /* Header's bits: above the target. */
    n = build_block(blk, 0, 2);
    pk_store_le32(blk + 72, 0x1d00ffff);
    cr_assert_eq(pk_block_verify(&b, blk, n, &p, &rep, &e), -1);
    cr_assert(e.code == PK_V_HIGH_HASH || e.code == PK_V_MERKLE, "%s", e.msg);
    pk_block_free(&b);
    /* Negative and overflowing bits. */
    n = build_block(blk, 0, 2);
    pk_store_le32(blk + 72, 0x04923456);
    cr_assert_eq(pk_check_pow(blk, &p, &e), -1);
    cr_assert_eq(e.code, PK_V_BAD_BITS);
    pk_store_le32(blk + 72, 0xff123456);
    cr_assert_eq(pk_check_pow(blk, &p, &e), -1);
    cr_assert_eq(e.code, PK_V_BAD_BITS);
}

Test(built_blocks, parser_edge_cases)
{
    uint8_t blk[65536];
    size_t n = build_block(blk, 1, 2);
    pk_block b;
    pk_verror e;
    /* Witness flag but empty witnesses. */
    cr_assert_eq(pk_block_parse(&b, blk, n, &e), 0);
    size_t w = b.tx[1].wit_offset;
    pk_block_free(&b);
    uint8_t t[65536];
    size_t k = 0;
    memcpy(t, blk, w), k = w;
    t[k++] = 0; /* zero items for the one input */
    memcpy(t + k, blk + w + 7, n - w - 7), k += n - w - 7;
    cr_assert_eq(pk_block_parse(&b, t, k, &e), -1);
    cr_assert_eq(e.code, PK_V_BAD_WITNESS, "%s", e.msg);
    cr_assert_str_eq(e.reason, "superfluous-witness-record");
    /* An unknown flag. */
    memcpy(t, blk, n);
    cr_assert_eq(pk_block_parse(&b, blk, n, &e), 0);
    size_t flag = b.tx[1].offset + 5;
    pk_block_free(&b);
    t[flag] = 0x02;
    cr_assert_eq(pk_block_parse(&b, t, n, &e), -1);
    cr_assert_eq(e.code, PK_V_BAD_WITNESS);
    /* A non-canonical count: 0xfd 0x02 0x00 for 2. */
    memcpy(t, blk, 80);
    t[80] = 0xfd, t[81] = 0x02, t[82] = 0x00;
    memcpy(t + 83, blk + 81, n - 81);
    cr_assert_eq(pk_block_parse(&b, t, n + 2, &e), -1);
    cr_assert_eq(e.code, PK_V_NONCANONICAL);
    cr_assert_eq(e.offset, 80);
    /* A count no data could hold. */
    memcpy(t, blk, n);
    t[80] = 0xfe, t[81] = 0xff, t[82] = 0xff, t[83] = 0xff, t[84] = 0x01;
    cr_assert_eq(pk_block_parse(&b, t, n, &e), -1);
    cr_assert(e.code == PK_V_OVERSIZE, "%s", e.msg);
}

Test(merkle, mutation_is_detected)
{
    uint8_t l[6][32];
    for (int i = 0; i < 6; i++)
        memset(l[i], i + 1, 32);
    uint8_t r1[32], r2[32];
    int m;
    pk_merkle_root((const uint8_t(*)[32])l, 5, r1, &m);
    cr_assert_not(m);
    /* CVE-2012-2459: [1..5] and [1..5,5] have the same root. */
    memcpy(l[5], l[4], 32);
    pk_merkle_root((const uint8_t(*)[32])l, 6, r2, &m);
    cr_assert_arr_eq(r1, r2, 32);
    cr_assert(m, "the duplicated pair must be flagged");
    pk_merkle_root((const uint8_t(*)[32])l, 1, r1, &m);
    cr_assert_arr_eq(r1, l[0], 32, "one leaf is its own root");
}

/* ---- testnet's minimum-difficulty rule at the start of a file ---- */

/* Testnet's rules with regtest's easy limit, so the headers mine fast. */
static void testnet_easy(pk_chain_params *p)
{
    pk_chain_params reg;
    pk_chain_params_init(p, PK_CHAIN_TEST);
    pk_chain_params_init(&reg, PK_CHAIN_REGTEST);
    memcpy(p->pow_limit, reg.pow_limit, 32);
}

static void mine_header(uint8_t *hd, const uint8_t *prev, uint32_t time, uint32_t bits, const pk_chain_params *p)
{
    memset(hd, 0, 80);
    pk_store_le32(hd, 0x20000000);
    if (prev)
        pk_header_hash(prev, hd + 4);
    memset(hd + 36, 0x5a, 32);
    pk_store_le32(hd + 68, time);
    pk_store_le32(hd + 72, bits);
    for (uint32_t nonce = 0; pk_check_pow(hd, p, NULL); nonce++)
        pk_store_le32(hd + 76, nonce);
}

Test(headers, testnet_walk_back_past_the_file_is_undecided_not_failed)
{
    pk_chain_params p;
    testnet_easy(&p);
    const uint32_t limit = pk_target_to_bits(p.pow_limit), normal = 0x2000ffff;
    /* Heights 1000-1002: two late blocks at the limit, then one on time,
     * which must carry the bits of the last block before them that was not
     * at the limit: a block before the file. */
    uint8_t h[3 * 80];
    mine_header(h, NULL, 1700000000, limit, &p);
    mine_header(h + 80, h, 1700000000 + 1300, limit, &p);
    mine_header(h + 160, h + 80, 1700000000 + 1400, normal, &p);
    pk_headers_report rep;
    pk_verror e;
    cr_assert_eq(pk_headers_verify(h, 3, 1000, &p, &rep, &e), 0, "%s", e.msg);
    cr_assert_eq(rep.verified, 3);
    cr_assert_eq(rep.undecided, 1);
    cr_assert_eq(rep.first_undecided, 1002);
    /* Told the bits before the file, it decides: these match ... */
    pk_headers_opts o = {1000, normal};
    cr_assert_eq(pk_headers_verify_opts(h, 3, &o, &p, &rep, &e), 0, "%s", e.msg);
    cr_assert_eq(rep.undecided, 0);
    /* ... and the limit's bits on the on-time block fail. */
    mine_header(h + 160, h + 80, 1700000000 + 1400, limit, &p);
    cr_assert_eq(pk_headers_verify_opts(h, 3, &o, &p, &rep, &e), -1);
    cr_assert_eq(e.height, 1002);
    cr_assert_str_eq(e.reason, "bad-diffbits");
    /* A walk that ends inside the file decides by itself: a normal block first. */
    mine_header(h, NULL, 1700000000, normal, &p);
    mine_header(h + 80, h, 1700000000 + 1300, limit, &p);
    mine_header(h + 160, h + 80, 1700000000 + 1400, normal, &p);
    cr_assert_eq(pk_headers_verify(h, 3, 1000, &p, &rep, &e), 0, "%s", e.msg);
    cr_assert_eq(rep.undecided, 0);
    mine_header(h + 160, h + 80, 1700000000 + 1400, limit, &p);
    cr_assert_eq(pk_headers_verify(h, 3, 1000, &p, &rep, &e), -1);
    cr_assert_eq(e.height, 1002);
}

/* Any 64-bit times: the span is clamped to a factor 4 either way, with no
 * overflow on the way (UBSan watches). */
Test(headers, next_bits_with_extreme_times)
{
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    uint32_t bits = 0x1b0404cb;
    uint32_t slow = pk_next_bits(bits, 0, p.timespan * 4, &p), fast = pk_next_bits(bits, 0, p.timespan / 4, &p);
    cr_assert_eq(pk_next_bits(bits, INT64_MIN, INT64_MAX, &p), slow);
    cr_assert_eq(pk_next_bits(bits, -1, INT64_MAX, &p), slow);
    cr_assert_eq(pk_next_bits(bits, INT64_MAX, INT64_MIN, &p), fast);
    cr_assert_eq(pk_next_bits(bits, 1, INT64_MIN, &p), fast);
    cr_assert_neq(slow, fast);
}

/* A block that fails to parse after a whole header is still named by the
 * header's hash (it was 64 zeros). */
Test(block413567, a_truncated_block_is_named_by_its_header)
{
    size_t len;
    uint8_t *d = tu_read_data("block413567.raw", &len);
    pk_block b;
    pk_block_report rep;
    pk_verror e;
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    cr_assert_eq(pk_block_verify(&b, d, 5000, &p, &rep, &e), -1);
    char hex[65];
    pk_hash_to_hex(rep.hash, hex);
    cr_assert_str_eq(hex, "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069");
    pk_block_free(&b);
    free(d);
}

/* A pool that runs the tasks backwards, two indices at a time: the
 * answers may not depend on the order tasks finish in. */
static void backwards_run(void *self, size_t n, size_t chunk, void (*fn)(void *arg, size_t i), void *arg)
{
    (void)chunk;
    size_t *calls = self;
    for (size_t i = n; i-- > 0;) {
        fn(arg, i);
        (*calls)++;
    }
}

/* Block 413,567 read and parsed into b (not hashed); *len its size. */
static uint8_t *parsed_413567(pk_block *b, size_t *len)
{
    uint8_t *d = tu_read_data("block413567.raw", len);
    pk_verror e;
    cr_assert_eq(pk_block_parse(b, d, *len, &e), 0, "%s", e.msg);
    return d;
}

/* A changed block made whole again under regtest's rules: its merkle root
 * over its transactions as they are now, regtest's bits, a nonce that
 * meets them. */
static void remine_regtest(uint8_t *d, size_t len)
{
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, d, len, &e), 0, "%s", e.msg);
    pk_block_hash_txs(&b);
    uint8_t(*ids)[32] = malloc((b.ntx + 1) * 32); /* room for ossl_merkle's odd level */
    for (size_t i = 0; i < b.ntx; i++)
        memcpy(ids[i], b.tx[i].txid, 32);
    ossl_merkle(ids, b.ntx, d + 36);
    free(ids);
    pk_block_free(&b);
    pk_store_le32(d + 72, 0x207fffff);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    for (uint32_t nonce = 0; pk_check_pow(d, &p, NULL) != 0; nonce++)
        pk_store_le32(d + 76, nonce);
}

/* Block 413,567 with transaction values changed (negative), made whole
 * again under regtest's rules: the first failing transaction, and its
 * message, are the same with a pool as without. */
static size_t damaged_413567(uint8_t **out, const size_t *bad, size_t nbad)
{
    size_t len;
    pk_block b;
    uint8_t *d = parsed_413567(&b, &len);
    for (size_t k = 0; k < nbad; k++)
        d[b.tx[bad[k]].out_offset + 7] = 0x80; /* the first output's value, negative */
    pk_block_free(&b);
    remine_regtest(d, len);
    *out = d;
    return len;
}

Test(block_pool, checks_on_a_pool_answer_as_on_one_thread)
{
    size_t len;
    uint8_t *d = tu_read_data("block413567.raw", &len);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    size_t calls = 0;
    pk_pool pool = {backwards_run, &calls, NULL};
    pk_block b1, b2;
    pk_block_report r1, r2;
    pk_verror e1, e2;
    cr_assert_eq(pk_block_verify(&b1, d, len, &p, &r1, &e1), 0, "%s", e1.msg);
    cr_assert_eq(pk_block_verify_on(&b2, d, len, &p, &r2, &e2, &pool), 0, "%s", e2.msg);
    cr_assert_geq(calls, (b1.ntx + 63) / 64 + (b1.ntx + 31) / 32,
                  "the pool ran the txids (64 a task) and every transaction's checks (32 a task)");
    cr_assert_eq(r1.legacy_sigops, r2.legacy_sigops);
    cr_assert_gt(r1.legacy_sigops, 0);
    for (size_t i = 0; i < b1.ntx; i++) {
        cr_assert_arr_eq(b1.tx[i].txid, b2.tx[i].txid, 32, "tx %zu", i);
        cr_assert_arr_eq(b1.tx[i].wtxid, b2.tx[i].wtxid, 32, "tx %zu", i);
    }
    size_t ntx = b1.ntx;
    pk_block_free(&b1);
    pk_block_free(&b2);
    free(d);
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    const size_t one[] = {ntx - 300}, two[] = {ntx - 300, 700};
    const size_t *sets[] = {one, two};
    const size_t sizes[] = {1, 2};
    for (int k = 0; k < 2; k++) {
        len = damaged_413567(&d, sets[k], sizes[k]);
        cr_assert_eq(pk_block_verify(&b1, d, len, &p, &r1, &e1), -1);
        cr_assert_eq(pk_block_verify_on(&b2, d, len, &p, &r2, &e2, &pool), -1);
        cr_assert_str_eq(e1.reason, "bad-txns-vout-negative", "%s", e1.msg);
        cr_assert_str_eq(e2.reason, e1.reason);
        cr_assert_str_eq(e2.msg, e1.msg);
        char want[32];
        snprintf(want, sizeof want, "transaction %zu: ", k ? (size_t)700 : ntx - 300);
        cr_assert(strncmp(e1.msg, want, strlen(want)) == 0, "%s", e1.msg);
        pk_block_free(&b1);
        pk_block_free(&b2);
        free(d);
    }
}

/* A pool with run_with: the caller's own task first, then the loop
 * backwards, as backwards_run. */
static void backwards_run_with(void *self, size_t n, size_t chunk, void (*fn)(void *arg, size_t i), void *arg,
                               void (*own)(void *), void *own_arg)
{
    own(own_arg);
    backwards_run(self, n, chunk, fn, arg);
}

typedef struct beside_seen {
    int calls;
    int txids_made; /* every txid there when it ran */
} beside_seen;

static void count_beside(void *arg, const pk_block *b)
{
    beside_seen *s = arg;
    s->calls++;
    static const uint8_t zero[32];
    s->txids_made = b->hashed;
    for (size_t i = 0; i < b->ntx; i++)
        s->txids_made &= memcmp(b->tx[i].txid, zero, 32) != 0;
}

/* The caller's work beside the checks runs once the block parses and its
 * txids are made, once, whether the checks pass or fail, on every kind of
 * pool and without one; not at all when the proof of work fails. */
Test(block_pool, beside_runs_once_whatever_the_checks_say)
{
    size_t len, calls = 0;
    uint8_t *good = tu_read_data("block413567.raw", &len);
    const size_t bad_tx[] = {700};
    uint8_t *bad;
    size_t bad_len = damaged_413567(&bad, bad_tx, 1);
    pk_pool plain = {backwards_run, &calls, NULL}, with = {backwards_run, &calls, backwards_run_with};
    const pk_pool *pools[] = {NULL, &plain, &with};
    for (int k = 0; k < 3; k++) {
        pk_chain_params p;
        pk_block b;
        pk_block_report rep;
        pk_verror e;
        beside_seen s = {0, 0};
        pk_block_beside bs = {count_beside, &s};
        pk_chain_params_init(&p, PK_CHAIN_MAIN);
        cr_assert_eq(pk_block_verify_beside(&b, good, len, &p, &rep, &e, pools[k], &bs), 0, "%s", e.msg);
        cr_assert_eq(s.calls, 1, "pool %d", k);
        cr_assert(s.txids_made, "pool %d", k);
        pk_block_free(&b);
        /* regtest's bits: mainnet's proof of work fails first */
        s.calls = 0;
        cr_assert_eq(pk_block_verify_beside(&b, bad, bad_len, &p, &rep, &e, pools[k], &bs), -1);
        cr_assert_eq(s.calls, 0, "pool %d: %s", k, e.reason);
        pk_block_free(&b);
        pk_chain_params_init(&p, PK_CHAIN_REGTEST);
        cr_assert_eq(pk_block_verify_beside(&b, bad, bad_len, &p, &rep, &e, pools[k], &bs), -1);
        cr_assert_str_eq(e.reason, "bad-txns-vout-negative");
        cr_assert_eq(s.calls, 1, "pool %d", k);
        pk_block_free(&b);
    }
    free(good);
    free(bad);
}

/* Block 413,567 with its last transaction replaced by a copy of an
 * earlier one (its merkle root fixed, mined at regtest's bits): refused
 * as Core's CheckBlock refuses two transactions with one txid, with and
 * without a pool. */
Test(block_pool, a_repeated_transaction_is_a_duplicate_txid)
{
    size_t len;
    pk_block b;
    pk_verror e;
    uint8_t *d = parsed_413567(&b, &len);
    size_t ntx = b.ntx, copy = 1;
    while (b.tx[copy].size > b.tx[ntx - 1].size) /* one that fits where the last one was */
        copy++;
    cr_assert_lt(copy, ntx - 1);
    size_t last = b.tx[ntx - 1].offset, tx_off = b.tx[copy].offset, tx_len = b.tx[copy].size;
    uint8_t *m = malloc(len);
    memcpy(m, d, last);
    memcpy(m + last, d + tx_off, tx_len);
    size_t n = last + tx_len;
    pk_block_free(&b);
    cr_assert_eq(pk_block_parse(&b, m, n, &e), 0, "%s", e.msg);
    cr_assert_eq(b.ntx, ntx);
    pk_block_hash_txs(&b);
    cr_assert_arr_eq(b.tx[ntx - 1].txid, b.tx[copy].txid, 32);
    pk_block_free(&b);
    remine_regtest(m, n);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    size_t calls = 0;
    pk_pool pool = {backwards_run, &calls, NULL};
    pk_block_report rep;
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(pk_block_verify_on(&b, m, n, &p, &rep, &e, k ? &pool : NULL), -1);
        cr_assert_str_eq(e.reason, "bad-txns-duplicate", "%s", e.msg);
        cr_assert_eq(e.code, PK_V_DUPLICATE_TX, "not the merkle tree's mutation: %s", e.msg);
        pk_block_free(&b);
    }
    free(m);
    free(d);
}
