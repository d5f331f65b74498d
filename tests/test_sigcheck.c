/* Signature checks from blocks with the spent outputs (--prevouts): a
 * block built here from the signed transactions of BIP143's examples and
 * BIP341's wallet vectors (real signatures made by others), their
 * sighashes against the vectors' intermediate values, and the bad inputs a
 * prevouts file can bring. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "powkit/prevouts.h"
#include "powkit/sha256.h"
#include "powkit/script.h"
#include "powkit/sigcheck.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "powkit/verify.h"
#include "testutil.h"

/* ---- the signed transactions and what they spend ---- */

typedef struct spent {
    const char *spk;
    uint64_t sats;
} spent;

typedef struct vtx {
    const char *hex;
    int n_in;
    spent in[2];
} vtx;

/* BIP143's serialized signed transactions, with the outputs the text says
 * they spend. */
static const vtx BIP143[] = {
    /* native P2WPKH: input 0 is a P2PK, input 1 the P2WPKH */
    {"01000000000102fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f00000000494830450221008b9d1dc26ba6a9cb62127b02742fa9d754cd3bebf337f7a55d114c8e5cdd30be022040529b194ba3f9281a99f2b1c0a19c0489bc22ede944ccf4ecbab4cc618ef3ed01eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac000247304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee0121025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee635711000000",
     2,
     {{"2103c9f4836b9a4f77fc0d81f7bcb01b7f1b35916864b9476c241ce9fc198bd25432ac", 625000000},
      {"00141d0f172a0ecb48aee1be1f2687d2963ae33f71a1", 600000000}}},
    /* P2SH-P2WPKH */
    {"01000000000101db6b1b20aa0fd7b23880be2ecbd4a98130974cf4748fb66092ac4d3ceb1a5477010000001716001479091972186c449eb1ded22b78e40d009bdf0089feffffff02b8b4eb0b000000001976a914a457b684d7f0d539a46a45bbc043f35b59d0d96388ac0008af2f000000001976a914fd270b1ee6abcaea97fea7ad0402e8bd8ad6d77c88ac02473044022047ac8e878352d3ebbde1c94ce3a10d057c24175747116f8288e5d794d12d482f0220217f36a485cae903c713331d877c1f64677e3622ad4010726870540656fe9dcb012103ad1d8e89212f0b92c74d23bb710c00662ad1470198ac48c43f7d6f93a2a2687392040000",
     1,
     {{"a9144733f37cf4db86fbc2efed2500b4f4e49f31202387", 1000000000}}},
    /* native P2WSH with OP_CODESEPARATOR: input 0 a P2PK, input 1 a script no template matches */
    {"01000000000102fe3dc9208094f3ffd12645477b3dc56f60ec4fa8e6f5d67c565d1c6b9216b36e000000004847304402200af4e47c9b9629dbecc21f73af989bdaa911f7e6f6c2e9394588a3aa68f81e9902204f3fcf6ade7e5abb1295b6774c8e0abd94ae62217367096bc02ee5e435b67da201ffffffff0815cf020f013ed6cf91d29f4202e8a58726b1ac6c79da47c23d1bee0a6925f80000000000ffffffff0100f2052a010000001976a914a30741f8145e5acadf23f751864167f32e0963f788ac000347304402200de66acf4527789bfda55fc5459e214fa6083f936b430a762c629656216805ac0220396f550692cd347171cbc1ef1f51e15282e837bb2b30860dc77c8f78bc8501e503473044022027dc95ad6b740fe5129e7e62a75dd00f291a2aeb1200b84b09d9e3789406b6c002201a9ecd315dd6a0e632ab20bbb98948bc0c6fb204f2c286963bb48517a7058e27034721026dccc749adc2a9d0d89497ac511f760f45c47dc5ed9cf352a58ac706453880aeadab210255a9626aebf5e29c0e6538428ba0d1dcf6ca98ffdf086aa8ced5e0d0215ea465ac00000000",
     2,
     {{"21036d5c20fa14fb2f635474c1dc4ef5909d4568e5569b79fc94d3448486e14685f8ac", 156250000},
      {"00205d1b56b63d714eebe542309525f484b7e9d6f686b3781b6f61ef925d66d6f6a0", 4900000000ull}}},
    /* P2SH-P2WSH 6-of-6 multisig, one signature of each hash type */
    {"0100000000010136641869ca081e70f394c6948e8af409e18b619df2ed74aa106c1ca29787b96e0100000023220020a16b5755f7f6f96dbd65f5f0d6ab9418b89af4b1f14a1bb8a09062c35f0dcb54ffffffff0200e9a435000000001976a914389ffce9cd9ae88dcc0631e88a821ffdbe9bfe2688acc0832f05000000001976a9147480a33f950689af511e6e84c138dbbd3c3ee41588ac080047304402206ac44d672dac41f9b00e28f4df20c52eeb087207e8d758d76d92c6fab3b73e2b0220367750dbbe19290069cba53d096f44530e4f98acaa594810388cf7409a1870ce01473044022068c7946a43232757cbdf9176f009a928e1cd9a1a8c212f15c1e11ac9f2925d9002205b75f937ff2f9f3c1246e547e54f62e027f64eefa2695578cc6432cdabce271502473044022059ebf56d98010a932cf8ecfec54c48e6139ed6adb0728c09cbe1e4fa0915302e022007cd986c8fa870ff5d2b3a89139c9fe7e499259875357e20fcbb15571c76795403483045022100fbefd94bd0a488d50b79102b5dad4ab6ced30c4069f1eaa69a4b5a763414067e02203156c6a5c9cf88f91265f5a942e96213afae16d83321c8b31bb342142a14d16381483045022100a5263ea0553ba89221984bd7f0b13613db16e7a70c549a86de0cc0444141a407022005c360ef0ae5a5d4f9f2f87a56c1546cc8268cab08c73501d6b3be2e1e1a8a08824730440220525406a1482936d5a21888260dc165497a90a15669636d8edca6b9fe490d309c022032af0c646a34a44d1f4576bf6a4a74b67940f8faa84c7df9abe12a01a11e2b4783cf56210307b8ae49ac90a048e9b53357a2354b3334e9c8bee813ecb98e99a7e07e8c3ba32103b28f0c28bfab54554ae8c658ac5c3e0ce6e79ad336331f78c428dd43eea8449b21034b8113d703413d57761b8b9781957b8c0ac1dfe69f492580ca4195f50376ba4a21033400f6afecb833092a9a21cfdf1ed1376e58c5d1f47de74683123987e967a8f42103a6d48b1131e94ba04d9737d61acdaa1322008af9602b3b14862c07a1789aac162102d8b661b0b3302ee2f162b09e07a55ad5dfbe673a9f01d9f0c19617681024306b56ae00000000",
     1,
     {{"a9149993a429037b5d912407a71c252019287b8d27a587", 987654321}}},
    /* "No FindAndDelete": CHECKSIGVERIFY <sig>, no template */
    {"0100000000010169c12106097dc2e0526493ef67f21269fe888ef05c7a3a5dacab38e1ac8387f14c1d000000ffffffff01010000000000000000034830450220487fb382c4974de3f7d834c1b617fe15860828c7f96454490edd6d891556dcc9022100baf95feb48f845d5bfc9882eb6aeefa1bc3790e39f59eaa46ff7f15ae626c53e012102a9781d66b61fb5a7ef00ac5ad5bc6ffc78be7b44a566e3c87870e1079368df4c4aad4830450220487fb382c4974de3f7d834c1b617fe15860828c7f96454490edd6d891556dcc9022100baf95feb48f845d5bfc9882eb6aeefa1bc3790e39f59eaa46ff7f15ae626c53e0100000000",
     1,
     {{"00209e1be07558ea5cc8e02ed1d80c0911048afad949affa36d5c3951e3159dbea19", 200000}}},
};
#define N_BIP143 (sizeof BIP143 / sizeof BIP143[0])

static json_t *bip341_vectors(void)
{
    size_t len;
    uint8_t *d = tu_read_data("bip341-wallet-test-vectors.json", &len);
    json_error_t je;
    json_t *j = json_loadb((const char *)d, len, 0, &je);
    free(d);
    cr_assert(j, "bip341 vectors: %s", je.text);
    return json_array_get(json_object_get(j, "keyPathSpending"), 0) ? j : NULL;
}

static const json_t *kp(const json_t *j) { return json_array_get(json_object_get(j, "keyPathSpending"), 0); }

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    cr_assert(n <= cap);
    cr_assert_eq(pk_hex_decode(hex, out, n), 0, "bad hex in a vector");
    return n;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want, const char *what)
{
    uint8_t w[512];
    size_t wl = unhex(want, w, sizeof w);
    char gh[1025];
    pk_hex_encode(got, n < 512 ? n : 512, gh);
    cr_assert(wl == n && memcmp(got, w, n) == 0, "%s: got %s, want %s", what, gh, want);
}

/* ---- BIP341's wallet vectors: every intermediate hash, message and sighash ---- */

Test(bip341, key_path_sighashes_and_signatures)
{
    json_t *j = bip341_vectors();
    const json_t *v = kp(j), *given = json_object_get(v, "given");
    uint8_t *blk = calloc(1, 1 << 16);
    blk[80] = 1; /* a block of just this transaction */
    size_t tl = unhex(json_string_value(json_object_get(given, "rawUnsignedTx")), blk + 81, (1 << 16) - 81);
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, blk, 81 + tl, &e), 0, "%s", e.msg);
    const json_t *utxos = json_object_get(given, "utxosSpent");
    size_t n = json_array_size(utxos);
    cr_assert_eq(n, b.tx[0].n_in);
    pk_prevout prev[16];
    uint8_t scripts[16][64];
    for (size_t i = 0; i < n; i++) {
        const json_t *u = json_array_get(utxos, i);
        prev[i].script_len = unhex(json_string_value(json_object_get(u, "scriptPubKey")), scripts[i], 64);
        prev[i].script = scripts[i];
        prev[i].value = (uint64_t)json_integer_value(json_object_get(u, "amountSats"));
    }
    pk_bip341_cache c;
    pk_bip341_precompute(&b, &b.tx[0], prev, &c);
    const json_t *im = json_object_get(v, "intermediary");
    assert_hex(c.amounts, 32, json_string_value(json_object_get(im, "hashAmounts")), "hashAmounts");
    assert_hex(c.outputs, 32, json_string_value(json_object_get(im, "hashOutputs")), "hashOutputs");
    assert_hex(c.prevouts, 32, json_string_value(json_object_get(im, "hashPrevouts")), "hashPrevouts");
    assert_hex(c.scripts, 32, json_string_value(json_object_get(im, "hashScriptPubkeys")), "hashScriptPubkeys");
    assert_hex(c.sequences, 32, json_string_value(json_object_get(im, "hashSequences")), "hashSequences");

    pk_verifier *ver = pk_verifier_new(1);
    const json_t *spends = json_object_get(v, "inputSpending");
    cr_assert_eq(json_array_size(spends), 7);
    for (size_t k = 0; k < json_array_size(spends); k++) {
        const json_t *s = json_array_get(spends, k);
        const json_t *g = json_object_get(s, "given"), *i2 = json_object_get(s, "intermediary");
        size_t vin = (size_t)json_integer_value(json_object_get(g, "txinIndex"));
        uint8_t ht = (uint8_t)json_integer_value(json_object_get(g, "hashType"));
        uint8_t msg[512], h[32];
        size_t ml = pk_bip341_sigmsg(&b, &b.tx[0], &c, prev, vin, ht, NULL, 0, msg, sizeof msg);
        assert_hex(msg, ml, json_string_value(json_object_get(i2, "sigMsg")), "sigMsg");
        cr_assert_eq(pk_sighash_bip341(&b, &b.tx[0], &c, prev, vin, ht, NULL, 0, h), 0);
        assert_hex(h, 32, json_string_value(json_object_get(i2, "sigHash")), "sigHash");
        /* The expected witness is the signature (hash type appended unless default). */
        uint8_t sig[65];
        size_t sl = unhex(json_string_value(json_array_get(json_object_get(json_object_get(s, "expected"), "witness"), 0)),
                          sig, sizeof sig);
        cr_assert_eq(sl, ht ? 65u : 64u);
        if (ht)
            cr_assert_eq(sig[64], ht);
        pk_sig_check ch = {.type = PK_SIG_SCHNORR, .pubkey_len = 32, .sig_len = 64, .msg_len = 32};
        memcpy(ch.pubkey, prev[vin].script + 2, 32);
        memcpy(ch.sig, sig, 64);
        memcpy(ch.msg, h, 32);
        pk_sig_check_one(ver, &ch);
        cr_assert_eq(ch.valid, 1, "input %zu: the vector's signature does not verify", vin);
    }
    /* Hash types outside the defined set, and SINGLE past the outputs, have no message. */
    uint8_t h[32];
    cr_assert_eq(pk_sighash_bip341(&b, &b.tx[0], &c, prev, 0, 0x04, NULL, 0, h), -1);
    cr_assert_eq(pk_sighash_bip341(&b, &b.tx[0], &c, prev, 0, 0x80, NULL, 0, h), -1);
    cr_assert_eq(pk_sighash_bip341(&b, &b.tx[0], &c, prev, 5, 0x03, NULL, 0, h), -1, "2 outputs: SINGLE at input 5");
    /* The annex is committed to. */
    uint8_t h0[32], h1[32];
    static const uint8_t annex[3] = {0x50, 1, 2};
    pk_sighash_bip341(&b, &b.tx[0], &c, prev, 1, 0, NULL, 0, h0);
    pk_sighash_bip341(&b, &b.tx[0], &c, prev, 1, 0, annex, 3, h1);
    cr_assert_neq(memcmp(h0, h1, 32), 0);
    pk_bip341_cache_free(&c);
    pk_verifier_free(ver);
    pk_block_free(&b);
    free(blk);
    json_decref(j);
}

/* ---- a block of those transactions ---- */

typedef struct sbuf {
    uint8_t *p;
    size_t n;
} sbuf;

static void sput(sbuf *b, const void *d, size_t n)
{
    b->p = realloc(b->p, b->n + n);
    cr_assert(b->p);
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void sput32(sbuf *b, uint32_t v)
{
    uint8_t t[4];
    le32(t, v);
    sput(b, t, 4);
}

/* Coinbase with the BIP34 height, the witness commitment and its reserved value. */
static void coinbase(sbuf *b, uint32_t height, const uint8_t commit[32])
{
    static const uint8_t zero[32] = {0};
    sput32(b, 1);
    sput(b, "\x00\x01\x01", 3);
    sput(b, zero, 32);
    sput32(b, 0xffffffffu);
    uint8_t ss[7] = {6, 3, (uint8_t)height, (uint8_t)(height >> 8), (uint8_t)(height >> 16), 'p', 'k'};
    sput(b, ss, 7);
    sput32(b, 0xffffffffu);
    sput(b, "\x02", 1);
    sput32(b, 0), sput32(b, 0);
    sput(b, "\x01\x51", 2);
    sput32(b, 0), sput32(b, 0);
    sput(b, "\x26\x6a\x24\xaa\x21\xa9\xed", 7);
    sput(b, commit, 32);
    sput(b, "\x01\x20", 2);
    sput(b, zero, 32);
    sput32(b, 0);
}

static void assemble(sbuf *out, const uint8_t commit[32], uint32_t height, const sbuf *txs, size_t ntx)
{
    out->n = 0;
    uint8_t header[80] = {0};
    le32(header, 0x20000000);
    le32(header + 68, 1700000000);
    le32(header + 72, 0x207fffff);
    sput(out, header, 80);
    uint8_t cnt = (uint8_t)(ntx + 1);
    sput(out, &cnt, 1);
    coinbase(out, height, commit);
    for (size_t i = 0; i < ntx; i++)
        sput(out, txs[i].p, txs[i].n);
}

typedef struct vblock {
    sbuf data;
    pk_block b;
    char *prevouts; /* getblock 3 style JSON */
} vblock;

static void json_add(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_add(sbuf *s, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof tmp);
    sput(s, tmp, (size_t)n);
}

static void rpc_hash(const uint8_t h[32], char out[65])
{
    uint8_t r[32];
    for (int i = 0; i < 32; i++)
        r[i] = h[31 - i];
    pk_hex_encode(r, 32, out);
}

/* The BIP143 transactions and BIP341's signed one in a block mined at
 * regtest difficulty, and the prevouts JSON Bitcoin Core would print. */
static void make_vblock(vblock *vb, uint32_t height)
{
    memset(vb, 0, sizeof *vb);
    json_t *j = bip341_vectors();
    const json_t *given = json_object_get(kp(j), "given");
    size_t ntx = N_BIP143 + 1;
    sbuf txs[N_BIP143 + 1];
    memset(txs, 0, sizeof txs);
    for (size_t i = 0; i < ntx; i++) {
        const char *hex = i < N_BIP143 ? BIP143[i].hex
                                       : json_string_value(json_object_get(json_object_get(kp(j), "auxiliary"), "fullySignedTx"));
        txs[i].n = strlen(hex) / 2;
        txs[i].p = malloc(txs[i].n);
        cr_assert_eq(pk_hex_decode(hex, txs[i].p, txs[i].n), 0);
    }
    /* Witness commitment from the wtxids (the coinbase's counts as zero). */
    uint8_t zero[32] = {0}, commit[32], root[32], pair[64];
    pk_verror e;
    assemble(&vb->data, zero, height, txs, ntx);
    cr_assert_eq(pk_block_parse(&vb->b, vb->data.p, vb->data.n, &e), 0, "%s", e.msg);
    pk_block_hash_txs(&vb->b);
    uint8_t(*ids)[32] = calloc(ntx + 1, 32);
    for (size_t i = 1; i <= ntx; i++)
        memcpy(ids[i], vb->b.tx[i].wtxid, 32);
    int mutated;
    pk_merkle_root((const uint8_t(*)[32])ids, ntx + 1, root, &mutated);
    memcpy(pair, root, 32);
    memset(pair + 32, 0, 32);
    pk_sha256d(pair, 64, commit);
    pk_block_free(&vb->b);
    assemble(&vb->data, commit, height, txs, ntx);
    cr_assert_eq(pk_block_parse(&vb->b, vb->data.p, vb->data.n, &e), 0, "%s", e.msg);
    pk_block_hash_txs(&vb->b);
    for (size_t i = 0; i <= ntx; i++)
        memcpy(ids[i], vb->b.tx[i].txid, 32);
    pk_merkle_root((const uint8_t(*)[32])ids, ntx + 1, vb->data.p + 36, &mutated);
    pk_chain_params cp;
    pk_chain_params_init(&cp, PK_CHAIN_REGTEST);
    for (uint32_t nonce = 0;; nonce++) {
        le32(vb->data.p + 76, nonce);
        if (pk_check_pow(vb->data.p, &cp, &e) == 0)
            break;
    }
    free(ids);
    /* The prevouts, as getblock HASH 3 gives them (amounts in BTC, 8 decimals). */
    sbuf js = {0};
    char id[65];
    json_add(&js, "{\"height\":%u,\"tx\":[", height);
    rpc_hash(vb->b.tx[0].txid, id);
    json_add(&js, "{\"txid\":\"%s\",\"vin\":[{\"coinbase\":\"03\",\"sequence\":4294967295}]}", id);
    const json_t *utxos = json_object_get(given, "utxosSpent");
    for (size_t i = 1; i <= ntx; i++) {
        const pk_tx *t = &vb->b.tx[i];
        pk_txin_ref ins[16];
        cr_assert(t->n_in <= 16);
        pk_tx_inputs(&vb->b, t, ins);
        rpc_hash(t->txid, id);
        json_add(&js, ",{\"txid\":\"%s\",\"vin\":[", id);
        for (uint32_t k = 0; k < t->n_in; k++) {
            const char *spk;
            uint64_t sats;
            if (i <= N_BIP143) {
                spk = BIP143[i - 1].in[k].spk, sats = BIP143[i - 1].in[k].sats;
            } else {
                const json_t *u = json_array_get(utxos, k);
                spk = json_string_value(json_object_get(u, "scriptPubKey"));
                sats = (uint64_t)json_integer_value(json_object_get(u, "amountSats"));
            }
            const uint8_t *op = vb->b.data + ins[k].prevout;
            rpc_hash(op, id);
            json_add(&js,
                     "%s{\"txid\":\"%s\",\"vout\":%u,\"prevout\":{\"generated\":false,\"height\":1,"
                     "\"value\":%llu.%08llu,\"scriptPubKey\":{\"asm\":\"\",\"hex\":\"%s\",\"type\":\"x\"}}}",
                     k ? "," : "", id, (unsigned)(op[32] | op[33] << 8 | op[34] << 16 | (uint32_t)op[35] << 24),
                     (unsigned long long)(sats / 100000000), (unsigned long long)(sats % 100000000), spk);
        }
        json_add(&js, "]}");
    }
    json_add(&js, "]}");
    sput(&js, "", 1);
    vb->prevouts = (char *)js.p;
    for (size_t i = 0; i < ntx; i++)
        free(txs[i].p);
    json_decref(j);
}

static void free_vblock(vblock *vb)
{
    pk_block_free(&vb->b);
    free(vb->data.p);
    free(vb->prevouts);
}

/* Mainnet's activation heights unless mainnet is 0 (regtest blocks). */
static int sigs_on(vblock *vb, const char *prevouts, int64_t height, int mainnet, pk_verifier *v, pk_sig_report *r)
{
    pk_prevouts p;
    char err[256];
    cr_assert_eq(pk_prevouts_from_json(&p, &vb->b, prevouts, strlen(prevouts), err, sizeof err), 0, "%s", err);
    pk_sigcheck_opts o = {&p, height, mainnet, 0, 0, 0, 0, 0};
    int rc = pk_block_verify_sigs(&vb->b, &o, v, r);
    pk_prevouts_free(&p);
    return rc;
}

static int sigs_of(vblock *vb, const char *prevouts, int64_t height, pk_verifier *v, pk_sig_report *r)
{
    return sigs_on(vb, prevouts, height, 1, v, r);
}

static int failed_at(const pk_sig_report *r, size_t tx, size_t vin)
{
    for (size_t i = 0; i < r->failed_inputs; i++)
        if (r->failures[i].tx == tx && r->failures[i].vin == vin)
            return 1;
    return 0;
}

#define TX_P2WPKH 1
#define TX_P2SH_P2WPKH 2
#define TX_CODESEP 3
#define TX_6OF6 4
#define TX_NOFAD 5
#define TX_TAPROOT 6

Test(block_sigs, every_kind_with_prevouts)
{
    vblock vb;
    make_vblock(&vb, 800000);
    pk_verifier *v1 = pk_verifier_new(1), *v2 = pk_verifier_new(2);
    pk_sig_report r;
    cr_assert_eq(sigs_of(&vb, vb.prevouts, -1, v2, &r), 0, "failures: %zu, first %s", (size_t)r.failed_inputs,
                 r.failed_inputs ? r.failures[0].reason : "");
    cr_assert_eq(r.height, 800000, "height from the coinbase");
    cr_assert_eq(r.inputs, 16);
    cr_assert_eq(r.by_spend[PK_SPEND_P2PK], 2);
    cr_assert_eq(r.by_spend[PK_SPEND_P2PKH], 1);
    cr_assert_eq(r.by_spend[PK_SPEND_P2WPKH], 2);
    cr_assert_eq(r.by_spend[PK_SPEND_P2SH_P2WPKH], 1);
    cr_assert_eq(r.by_spend[PK_SPEND_P2SH_P2WSH_MULTISIG], 1);
    cr_assert_eq(r.by_spend[PK_SPEND_P2TR_KEY], 7);
    /* With prevouts every input goes through the interpreter: the two
     * scripts no template matches (a code separator under P2WSH, a legacy
     * signature FindAndDelete must not touch) are judged too. */
    cr_assert_eq(r.interpreter, 1);
    cr_assert_eq(r.not_checked, 0, "every input judged");
    char kinds[512] = "";
    for (int k = 0; k < PK_KIND_COUNT; k++)
        if (r.by_kind[k])
            snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), " %s %llu", pk_script_kind_name((pk_script_kind)k),
                     (unsigned long long)r.by_kind[k]);
    cr_assert_eq(r.by_kind[PK_KIND_P2WSH_OTHER], 2, "the code-separator P2WSH and the one FindAndDelete must not touch:%s", kinds);
    cr_assert_eq(r.by_kind[PK_KIND_P2TR_KEY], 7);
    cr_assert_eq(r.schnorr, 7);
    cr_assert_eq(r.valid_inputs, 16);
    cr_assert_eq(r.upgradable, 0);
    cr_assert_eq(r.reruns, 0, "nothing to run again when every signature holds");
    cr_assert_eq(r.failed_inputs, 0);
    pk_sig_report_free(&r);

    /* Without prevouts only the legacy P2PKH is checked; nothing is called valid that was not checked. */
    cr_assert_eq(pk_block_verify_sigs(&vb.b, NULL, v2, &r), 0);
    cr_assert_eq(r.valid_inputs, 1);
    cr_assert_eq(r.by_spend[PK_SPEND_P2PKH], 1);
    cr_assert_eq(r.not_checked_by[PK_UNCHECKED_NEEDS_PREVOUTS], 15);
    pk_sig_report_free(&r);

    /* Earlier heights: Core enforces P2SH, witness and taproot for every
     * block (but its two exceptions), the other rules from their heights;
     * these spends are valid under all of them. */
    static const int64_t heights[] = {700000, 400000};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(sigs_of(&vb, vb.prevouts, heights[i], v2, &r), 0);
        cr_assert_eq(r.valid_inputs, 16, "height %lld", (long long)heights[i]);
        cr_assert(r.script_flags & PK_SCRIPT_VERIFY_TAPROOT);
        cr_assert_eq(!!(r.script_flags & PK_SCRIPT_VERIFY_NULLDUMMY), heights[i] >= 481824);
        pk_sig_report_free(&r);
    }

    /* A version 1 block has no BIP34 height: the rules before BIP66. */
    vb.data.p[0] = 1, vb.data.p[3] = 0;
    cr_assert_eq(sigs_of(&vb, vb.prevouts, -1, v2, &r), 0);
    cr_assert_eq(r.height, -1);
    cr_assert_eq(r.script_flags & PK_SCRIPT_VERIFY_DERSIG, 0);
    cr_assert_eq(r.valid_inputs, 16);
    cr_assert_eq(r.failed_inputs, 0);
    pk_sig_report_free(&r);
    vb.data.p[0] = 0, vb.data.p[3] = 0x20;

    /* A changed byte in one signature of each kind: exactly those inputs fail, on 1 and 2 threads. */
    pk_txin_ref ins[16];
    uint8_t *d = vb.data.p;
    pk_tx_inputs(&vb.b, &vb.b.tx[TX_TAPROOT], ins);
    size_t w = ins[0].witness; /* count, length 0x41, signature */
    cr_assert_eq(d[w], 1);
    d[w + 2 + 5] ^= 1;
    pk_tx_inputs(&vb.b, &vb.b.tx[TX_6OF6], ins);
    w = ins[0].witness; /* 08, 00 (dummy), 47 <sig 1> */
    cr_assert_eq(d[w], 8);
    d[w + 3 + 10] ^= 1;
    pk_tx_inputs(&vb.b, &vb.b.tx[TX_P2WPKH], ins);
    d[ins[0].script + 1 + 10] ^= 1; /* the P2PK's signature */
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(sigs_of(&vb, vb.prevouts, -1, threads == 1 ? v1 : v2, &r), -1);
        cr_assert_eq(r.failed_inputs, 3);
        cr_assert(failed_at(&r, TX_TAPROOT, 0));
        cr_assert(failed_at(&r, TX_6OF6, 0));
        cr_assert(failed_at(&r, TX_P2WPKH, 0));
        pk_sig_report_free(&r);
    }
    pk_verifier_free(v1);
    pk_verifier_free(v2);
    free_vblock(&vb);
}

/* Prevouts that do not match the block: a clear error, or (amount and
 * script, which only the signatures can tell) exactly the inputs that
 * depend on them fail. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    cr_assert(at, "'%s' not in the fixture", from);
    size_t a = (size_t)(at - s), fl = strlen(from), tl = strlen(to), n = strlen(s);
    char *o = malloc(n - fl + tl + 1);
    memcpy(o, s, a);
    memcpy(o + a, to, tl);
    memcpy(o + a + tl, at + fl, n - a - fl + 1);
    return o;
}

static void expect_error(vblock *vb, const char *json, const char *words)
{
    pk_prevouts p;
    char err[256] = "";
    cr_assert_eq(pk_prevouts_from_json(&p, &vb->b, json, strlen(json), err, sizeof err), -1, "accepted: %s", words);
    cr_assert(strstr(err, words), "message '%s' lacks '%s'", err, words);
}

Test(block_sigs, prevouts_that_do_not_match)
{
    vblock vb;
    make_vblock(&vb, 800000);
    expect_error(&vb, "{\"tx\":", "not JSON");
    expect_error(&vb, "[1,2]", "no \"tx\" array");
    expect_error(&vb, "{\"tx\":[]}", "0 transactions, the block has 7");
    expect_error(&vb, "{\"tx\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"]}", "verbosity 1");
    static const struct {
        const char *from, *to, *words;
    } edits[] = {
        {"\"vout\":0", "\"vout\":7", "outpoint is not the block's"},
        {"\"hex\":\"00141d0f", "\"hex\":\"zz141d0f", "not hex"},
        {"\"value\":6.00000000", "\"value\":\"6\"", "not an amount"},
        {"\"value\":6.00000000", "\"value\":-1", "not an amount"},
        {"\"prevout\":{", "\"prevoutX\":{", "no prevout"},
        {"{\"txid\":\"", "{\"txid\":\"00", "not in the block"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *bad = replace(vb.prevouts, edits[i].from, edits[i].to);
        expect_error(&vb, bad, edits[i].words);
        free(bad);
    }
    expect_error(&vb, "{\"result\":null}", "no \"tx\" array");

    /* The RPC envelope is accepted as well. */
    size_t n = strlen(vb.prevouts);
    char *env = malloc(n + 32);
    snprintf(env, n + 32, "{\"result\":%s,\"error\":null}", vb.prevouts);
    pk_prevouts p;
    char err[256];
    cr_assert_eq(pk_prevouts_from_json(&p, &vb.b, env, strlen(env), err, sizeof err), 0, "%s", err);
    pk_prevouts_free(&p);
    free(env);

    /* A wrong amount under a P2WPKH: its signature fails; a wrong P2SH hash: that input fails. */
    pk_verifier *v = pk_verifier_new(2);
    pk_sig_report r;
    char *bad = replace(vb.prevouts, "\"value\":6.00000000", "\"value\":6.00000001");
    cr_assert_eq(sigs_of(&vb, bad, -1, v, &r), -1);
    cr_assert_eq(r.failed_inputs, 1);
    cr_assert(failed_at(&r, TX_P2WPKH, 1));
    pk_sig_report_free(&r);
    free(bad);
    bad = replace(vb.prevouts, "a9144733f37cf4db86fbc2efed2500b4f4e49f31202387", "a9144733f37cf4db86fbc2efed2500b4f4e49f31202487");
    cr_assert_eq(sigs_of(&vb, bad, -1, v, &r), -1);
    cr_assert_eq(r.failed_inputs, 1);
    cr_assert(failed_at(&r, TX_P2SH_P2WPKH, 0));
    cr_assert_str_eq(r.failures[0].reason, "SCRIPT_ERR_EVAL_FALSE", "the hash check leaves false");
    cr_assert_eq(r.by_kind[PK_KIND_P2SH_P2WPKH], 1, "counted by its shape, failed by the interpreter");
    pk_sig_report_free(&r);
    free(bad);
    /* A P2WSH hash that is not the witness script's fails, template or not. */
    bad = replace(vb.prevouts, "00205d1b56b63d714eebe542309525f484b7e9d6f686b3781b6f61ef925d66d6f6a0",
                  "00205d1b56b63d714eebe542309525f484b7e9d6f686b3781b6f61ef925d66d6f6a1");
    cr_assert_eq(sigs_of(&vb, bad, -1, v, &r), -1);
    cr_assert_eq(r.failed_inputs, 1);
    cr_assert(failed_at(&r, TX_CODESEP, 1));
    cr_assert_str_eq(r.failures[0].reason, "SCRIPT_ERR_WITNESS_PROGRAM_MISMATCH");
    cr_assert_eq(r.not_checked, 0);
    pk_sig_report_free(&r);
    free(bad);
    /* A taproot input's amount is in every key-path hash of its transaction
     * but those signed ANYONECANPAY (inputs 1, 7, 8 here): input 0's own and
     * inputs 3, 4 and 6 fail; the P2WPKH and P2PKH beside them do not. */
    bad = replace(vb.prevouts, "\"value\":4.20000000", "\"value\":4.20000001");
    sigs_of(&vb, bad, -1, v, &r);
    cr_assert_eq(r.failed_inputs, 4);
    cr_assert(failed_at(&r, TX_TAPROOT, 0) && failed_at(&r, TX_TAPROOT, 3) && failed_at(&r, TX_TAPROOT, 4) &&
              failed_at(&r, TX_TAPROOT, 6));
    pk_sig_report_free(&r);
    free(bad);
    pk_verifier_free(v);
    free_vblock(&vb);
}

/* ---- the command: powkit verify-block FILE --sigs --prevouts FILE ---- */

static char out[1 << 16];

static int run(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", POWKIT_CLI, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(d, 1, n, f), n);
    fclose(f);
}

Test(verify_block_cli, prevouts_json_and_exit_status)
{
    vblock vb;
    make_vblock(&vb, 800000);
    char dir[] = "/tmp/powkit-sigcheck-XXXXXX", blk[128], pv[128], args[512];
    cr_assert(mkdtemp(dir));
    snprintf(blk, sizeof blk, "%s/block.raw", dir);
    snprintf(pv, sizeof pv, "%s/prevouts.json", dir);
    write_file(blk, vb.data.p, vb.data.n);
    write_file(pv, vb.prevouts, strlen(vb.prevouts));

    snprintf(args, sizeof args, "verify-block '%s' --chain regtest --sigs --prevouts '%s' --json --threads 2", blk, pv);
    cr_assert_eq(run(args), 0, "%s", out);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    cr_assert(o, "not JSON: %s", out);
    cr_assert(json_is_true(json_object_get(o, "valid")));
    const json_t *s = json_object_get(o, "signatures"), *by = json_object_get(s, "by_type");
    cr_assert_eq(json_integer_value(json_object_get(by, "p2tr_key")), 7);
    cr_assert_eq(json_integer_value(json_object_get(by, "p2sh_p2wsh_multisig")), 1);
    cr_assert_eq(json_integer_value(json_object_get(by, "p2wpkh")), 2);
    cr_assert_eq(json_integer_value(json_object_get(s, "schnorr")), 7);
    cr_assert(json_integer_value(json_object_get(s, "ecdsa")) >= 12, "every ECDSA signature in the batch");
    cr_assert_eq(json_integer_value(json_object_get(s, "not_checked")), 0, "every input judged by the interpreter");
    cr_assert_str_eq(json_string_value(json_object_get(o, "verdict")), "valid");
    cr_assert(json_is_true(json_object_get(s, "interpreter")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "by_kind"), "p2wsh_other")), 2);
    cr_assert_eq(json_integer_value(json_object_get(s, "upgradable")), 0);
    cr_assert_eq(json_integer_value(json_object_get(s, "failed_inputs")), 0);
    cr_assert(json_is_true(json_object_get(s, "prevouts")));
    json_decref(o);

    /* Without the prevouts most inputs cannot be judged: the verdict says
     * so, in the text and in the JSON, and is never plain "valid". */
    snprintf(args, sizeof args, "verify-block '%s' --chain regtest --sigs --json", blk);
    cr_assert_eq(run(args), 0, "%s", out);
    o = json_loads(out, 0, &je);
    cr_assert(o, "not JSON: %s", out);
    cr_assert(json_is_null(json_object_get(o, "valid")), "%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(o, "verdict")), "valid_as_far_as_checked");
    cr_assert_str_eq(json_string_value(json_object_get(o, "not_checked")), "15 inputs not checked");
    json_decref(o);
    snprintf(args, sizeof args, "verify-block '%s' --chain regtest", blk);
    cr_assert_eq(run(args), 0, "%s", out);
    cr_assert(strstr(out, "result: valid as far as checked: signatures not checked"), "%s", out);

    /* One changed signature: exit 1, the input named as txid:vin. */
    pk_txin_ref ins[16];
    pk_tx_inputs(&vb.b, &vb.b.tx[TX_TAPROOT], ins);
    vb.data.p[ins[3].witness + 2 + 9] ^= 0x40;
    write_file(blk, vb.data.p, vb.data.n);
    char id[65], want[128];
    rpc_hash(vb.b.tx[TX_TAPROOT].txid, id);
    snprintf(want, sizeof want, "FAILED        %s:3: SCRIPT_ERR_SCHNORR_SIG", id);
    for (int nb = 0; nb < 2; nb++) { /* with BIP340 batches (the default) and --no-batch */
        snprintf(args, sizeof args, "verify-block '%s' --chain regtest --sigs --prevouts '%s'%s", blk, pv,
                 nb ? " --no-batch" : "");
        cr_assert_eq(run(args), 1, "%s", out);
        cr_assert(strstr(out, want), "no '%s' in:\n%s", want, out);
        cr_assert(strstr(out, "result: INVALID"), "the verdict says invalid:\n%s", out);
        cr_assert(!strstr(out, "result: valid"), "%s", out);
    }

    /* Only an input fails (the block's own checks pass): the verdict is
     * INVALID in the text and false in the JSON, not "valid" after a FAILED. */
    vb.data.p[ins[3].witness + 2 + 9] ^= 0x40; /* the signature back as it was */
    write_file(blk, vb.data.p, vb.data.n);
    char *wrong = replace(vb.prevouts, "a9144733f37cf4db86fbc2efed2500b4f4e49f31202387",
                          "a9144733f37cf4db86fbc2efed2500b4f4e49f31202487");
    write_file(pv, wrong, strlen(wrong));
    free(wrong);
    snprintf(args, sizeof args, "verify-block '%s' --chain regtest --sigs --prevouts '%s'", blk, pv);
    cr_assert_eq(run(args), 1, "%s", out);
    cr_assert(strstr(out, "SCRIPT_ERR_EVAL_FALSE"), "%s", out);
    cr_assert(strstr(out, "result: INVALID: 1 inputs failed"), "%s", out);
    cr_assert(!strstr(out, "result: valid"), "%s", out);
    snprintf(args, sizeof args, "verify-block '%s' --chain regtest --sigs --prevouts '%s' --json", blk, pv);
    cr_assert_eq(run(args), 1, "%s", out);
    o = json_loads(out, 0, &je);
    cr_assert(o, "not JSON: %s", out);
    cr_assert(json_is_false(json_object_get(o, "valid")), "%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(o, "verdict")), "invalid");
    cr_assert(json_is_true(json_object_get(o, "block_checks_valid")));
    json_decref(o);
    /* A spent script over 10,000 bytes cannot be spent (SCRIPT_SIZE): invalid, not an input error. */
    char *big = malloc(2 * 10001 + 1);
    for (int i = 0; i < 10001; i++)
        memcpy(big + 2 * i, "51", 2);
    big[2 * 10001] = 0;
    char *huge = replace(vb.prevouts, "a9144733f37cf4db86fbc2efed2500b4f4e49f31202387", big);
    free(big);
    write_file(pv, huge, strlen(huge));
    free(huge);
    snprintf(args, sizeof args, "verify-block '%s' --chain regtest --sigs --prevouts '%s'", blk, pv);
    cr_assert_eq(run(args), 1, "%s", out);
    cr_assert(strstr(out, "SCRIPT_ERR_SCRIPT_SIZE"), "%s", out);
    write_file(pv, vb.prevouts, strlen(vb.prevouts));

    /* Prevouts of another block: exit 2 and why. */
    char *other = replace(vb.prevouts, "\"vout\":1", "\"vout\":2");
    write_file(pv, other, strlen(other));
    free(other);
    cr_assert_eq(run(args), 2, "%s", out);
    cr_assert(strstr(out, "outpoint is not the block's"), "%s", out);
    snprintf(args, sizeof args, "verify-block '%s' --sigs --prevouts '%s/missing.json'", blk, dir);
    cr_assert_eq(run(args), 2, "%s", out);
    cr_assert(strstr(out, "cannot open"), "%s", out);
    snprintf(args, sizeof args, "verify-block '%s' --sigs --height x", blk);
    cr_assert_eq(run(args), 2, "%s", out);

    char rm[256];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    cr_assert_eq(system(rm), 0);
    free_vblock(&vb);
}

/* ---- every template kind, signed and validated by another implementation ---- */

/* tests/node/spends.js: bcoin signs one input of each kind with the hash
 * types in turn and accepts the block with its full script validation. */
static json_t *bcoin_block(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s/tests/node' && node spends.js", POWKIT_SOURCE_DIR);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    static char line[1 << 20];
    size_t n = fread(line, 1, sizeof line - 1, p);
    line[n] = 0;
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "tests/node/spends.js failed (Node.js and `npm install` in tests/node are needed)");
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    cr_assert(o, "spends.js printed no JSON: %s", je.text);
    return o;
}

/* The first signature-looking push (0x30, DER length) of an input: in its
 * scriptSig, else in its witness.  Returns its offset in the block. */
static size_t first_sig(const pk_block *b, const pk_txin_ref *in)
{
    const uint8_t *d = b->data;
    for (size_t pos = in->script; pos < in->script + in->script_len;) {
        uint8_t op = d[pos];
        if (op >= 9 && op <= 0x4b && d[pos + 1] == 0x30 && d[pos + 2] + 3u == op)
            return pos + 1;
        pos += 1 + (op <= 0x4b ? op : 0);
    }
    size_t w = in->witness;
    cr_assert(w, "no signature found");
    size_t items = d[w++];
    for (size_t i = 0; i < items; i++) {
        size_t l = d[w++];
        if (l >= 9 && d[w] == 0x30 && d[w + 1] + 3u == l)
            return w;
        w += l;
    }
    cr_assert_fail("no signature found");
    return 0;
}

Test(block_sigs, every_template_kind_signed_by_bcoin, .timeout = 120)
{
    json_t *o = bcoin_block();
    const char *hex = json_string_value(json_object_get(o, "block"));
    size_t len = strlen(hex) / 2;
    uint8_t *d = malloc(len);
    cr_assert_eq(pk_hex_decode(hex, d, len), 0);
    char *prevouts = json_dumps(json_object_get(o, "prevouts"), JSON_COMPACT);
    vblock vb = {.data = {d, len}, .prevouts = prevouts};
    pk_verror e;
    cr_assert_eq(pk_block_parse(&vb.b, d, len, &e), 0, "%s", e.msg);
    pk_block_hash_txs(&vb.b);
    pk_verifier *v1 = pk_verifier_new(1), *v2 = pk_verifier_new(2);
    pk_sig_report r;
    cr_assert_eq(sigs_on(&vb, prevouts, -1, 0, v2, &r), 0, "first failure: %s",
                 r.failed_inputs ? r.failures[0].reason : "");
    cr_assert_eq(r.height, json_integer_value(json_object_get(o, "height")));
    static const struct {
        pk_spend kind;
        uint64_t n;
    } want[] = {{PK_SPEND_P2PK, 2},          {PK_SPEND_P2PKH, 2},          {PK_SPEND_MULTISIG, 2},
                {PK_SPEND_P2SH_P2PK, 1},     {PK_SPEND_P2SH_P2PKH, 1},     {PK_SPEND_P2SH_MULTISIG, 1},
                {PK_SPEND_P2WSH_P2PK, 1},    {PK_SPEND_P2WSH_P2PKH, 1},    {PK_SPEND_P2WSH_MULTISIG, 1},
                {PK_SPEND_P2SH_P2WSH_P2PK, 1}, {PK_SPEND_P2SH_P2WSH_P2PKH, 1}, {PK_SPEND_P2SH_P2WSH_MULTISIG, 1},
                {PK_SPEND_P2WPKH, 1},        {PK_SPEND_P2SH_P2WPKH, 1},    {PK_SPEND_P2TR_KEY, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_eq(r.by_spend[want[i].kind], want[i].n, "%s: %llu", pk_spend_name(want[i].kind),
                     (unsigned long long)r.by_spend[want[i].kind]);
    cr_assert_eq(r.p2pkh_compressed, 1);
    cr_assert_eq(r.p2pkh_uncompressed, 1);
    cr_assert_eq(r.multisig_by_mn[1][2], 1);
    cr_assert_eq(r.multisig_by_mn[2][3], 4);
    cr_assert_eq(r.signatures, 21, "14 single-key inputs, a 1-of-2 and four 2-of-3");
    cr_assert_eq(r.not_checked, 0);
    cr_assert_eq(r.valid_inputs, 17);
    pk_sig_report_free(&r);

    /* Each input in turn with a changed byte in a signature: exactly it fails. */
    const pk_tx *t = &vb.b.tx[1];
    pk_txin_ref ins[32];
    cr_assert_eq(t->n_in, 17);
    pk_tx_inputs(&vb.b, t, ins);
    for (uint32_t i = 0; i < t->n_in; i++) {
        size_t at = first_sig(&vb.b, &ins[i]) + 8;
        d[at] ^= 0x10;
        cr_assert_eq(sigs_on(&vb, prevouts, -1, 0, i % 2 ? v1 : v2, &r), -1);
        cr_assert_eq(r.failed_inputs, 1, "input %u", i);
        cr_assert(failed_at(&r, 1, i), "input %u", i);
        pk_sig_report_free(&r);
        d[at] ^= 0x10;
    }

    /* A witness item put on the P2PK input (it takes none): that input,
     * and only it, fails; the txids and so the prevouts stay the same. */
    size_t w = ins[0].witness;
    cr_assert_eq(d[w], 0);
    uint8_t *d2 = malloc(len + 2);
    memcpy(d2, d, w);
    memcpy(d2 + w, "\x01\x01\xaa", 3);
    memcpy(d2 + w + 3, d + w + 1, len - w - 1);
    vblock vw = {.data = {d2, len + 2}, .prevouts = NULL};
    cr_assert_eq(pk_block_parse(&vw.b, d2, len + 2, &e), 0, "%s", e.msg);
    pk_block_hash_txs(&vw.b);
    cr_assert_eq(sigs_on(&vw, prevouts, -1, 0, v2, &r), -1);
    cr_assert_eq(r.failed_inputs, 1);
    cr_assert(failed_at(&r, 1, 0));
    cr_assert_str_eq(r.failures[0].reason, "SCRIPT_ERR_WITNESS_UNEXPECTED");
    cr_assert_eq(r.valid_inputs, 16);
    pk_sig_report_free(&r);
    free_vblock(&vw);

    pk_verifier_free(v1);
    pk_verifier_free(v2);
    free_vblock(&vb);
    json_decref(o);
}
