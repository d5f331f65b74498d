/* The script rules Bitcoin Core applies to the spends powkit recognises,
 * one test each (README: "Consensus rules checked").  Every case is a
 * block built here with one spend signed by libsecp256k1: the rule's
 * baseline, which must verify, and the same spend broken in that rule's
 * way alone, which must fail (or be "not checked"), never be valid. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <secp256k1.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/prevouts.h"
#include "powkit/sha256.h"
#include "powkit/script.h"
#include "powkit/sigcheck.h"
#include "powkit/sigops.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

/* ---- bytes ---- */

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    cr_assert(b->p);
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put8(buf *b, uint8_t v) { put(b, &v, 1); }
static void put32(buf *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, t, 4);
}
static void put64(buf *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}
static void put_compact(buf *b, uint64_t v)
{
    uint8_t t[9];
    put(b, t, pk_compact_put(t, v));
}
/* A minimal push of n bytes (direct, PUSHDATA1 or PUSHDATA2). */
static void push(buf *b, const void *d, size_t n)
{
    if (n < 0x4c) {
        put8(b, (uint8_t)n);
    } else if (n < 0x100) {
        put8(b, 0x4c), put8(b, (uint8_t)n);
    } else {
        put8(b, 0x4d), put8(b, (uint8_t)n), put8(b, (uint8_t)(n >> 8));
    }
    put(b, d, n);
}
static void push_filler(buf *b, size_t n)
{
    uint8_t *z = calloc(1, n + 1);
    push(b, z, n);
    free(z);
}

/* ---- keys ---- */

static secp256k1_context *ctx(void)
{
    static secp256k1_context *c;
    if (!c)
        c = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    return c;
}

static void seckey(int i, uint8_t k[32])
{
    memset(k, 0, 32);
    k[31] = (uint8_t)(i + 1);
    k[0] = 0x11;
}

static size_t pubkey(int i, int compressed, uint8_t *out)
{
    uint8_t k[32];
    seckey(i, k);
    secp256k1_pubkey pk;
    cr_assert(secp256k1_ec_pubkey_create(ctx(), &pk, k));
    size_t l = compressed ? 33 : 65; /* also how much it clears */
    secp256k1_ec_pubkey_serialize(ctx(), out, &l, &pk, compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
    return l;
}

static void hash160(const uint8_t *d, size_t n, uint8_t out[20])
{
    uint8_t s[32];
    unsigned ol = 20;
    pk_sha256(d, n, s);
    EVP_Digest(s, 32, out, &ol, EVP_ripemd160(), NULL);
}

/* ---- one spend in a block ---- */

/* Writes an input's scriptSig and witness around sig (DER + hash type).
 * The witness is a list of items in wit (count first, as serialised). */
typedef struct spend spend;
struct spend {
    buf spk;           /* the spent output's script */
    buf code;          /* the script code signed */
    buf out;           /* the spending transaction's output script (empty: OP_1) */
    int segwit;        /* BIP143, else legacy */
    int key;           /* the key that signs */
    uint64_t amount;
    void (*write)(const spend *s, const uint8_t *sig, size_t sl, buf *script_sig, buf *wit, int *nwit);
    int variant;       /* the case's own knob: 0 the baseline, 1 the broken one */
    size_t n;          /* the case's size parameter */
    uint32_t sequence; /* the input's (0: final, 0xffffffff) */
    int64_t prev_height; /* the spent output's height (0: not given) */
};

typedef struct built {
    buf data;
    pk_block b;
    pk_prevouts pv;
    pk_prevout spent[2];
    size_t first[2];
} built;

static void block_of(buf *out, const buf *tx, uint32_t height)
{
    uint8_t header[80] = {0};
    header[3] = 0x20; /* version 0x20000000 */
    out->n = 0;
    put(out, header, 80);
    put8(out, 2);
    /* Coinbase: BIP34 height, one output, no witness. */
    put32(out, 1);
    put8(out, 1);
    uint8_t zero[32] = {0};
    put(out, zero, 32);
    put32(out, 0xffffffffu);
    uint8_t ss[6] = {5, 3, (uint8_t)height, (uint8_t)(height >> 8), (uint8_t)(height >> 16), 0x51};
    put(out, ss, 6);
    put32(out, 0xffffffffu);
    put8(out, 1);
    put64(out, 0);
    put8(out, 1), put8(out, 0x51);
    put32(out, 0);
    put(out, tx->p, tx->n);
}

static void tx_of(buf *tx, const buf *script_sig, const buf *wit, int nwit, const buf *out, uint32_t sequence)
{
    tx->n = 0;
    put32(tx, 2);
    if (nwit >= 0)
        put8(tx, 0), put8(tx, 1);
    put8(tx, 1);
    uint8_t prev[32];
    memset(prev, 0xab, 32);
    put(tx, prev, 32);
    put32(tx, 0);
    put_compact(tx, script_sig->n);
    put(tx, script_sig->p, script_sig->n);
    put32(tx, sequence ? sequence : 0xffffffffu);
    put8(tx, 1);
    put64(tx, 1000);
    if (out->n) {
        put_compact(tx, out->n);
        put(tx, out->p, out->n);
    } else {
        put8(tx, 1), put8(tx, 0x51);
    }
    if (nwit >= 0) {
        put_compact(tx, (uint64_t)nwit);
        put(tx, wit->p, wit->n);
    }
    put32(tx, 0);
}

static void parse_built(built *o, const buf *tx, uint32_t height, const spend *s)
{
    block_of(&o->data, tx, height);
    pk_verror e;
    cr_assert_eq(pk_block_parse(&o->b, o->data.p, o->data.n, &e), 0, "%s", e.msg);
    pk_block_hash_txs(&o->b);
    memset(o->spent, 0, sizeof o->spent);
    o->spent[1] = (pk_prevout){.value = s->amount, .script = s->spk.p, .script_len = s->spk.n,
                               .has_height = s->prev_height > 0, .height = s->prev_height};
    o->first[0] = 0, o->first[1] = 1;
    o->pv = (pk_prevouts){.ntx = 2, .first = o->first, .out = o->spent, .n = 2};
}

/* Builds the block: once with a stand-in signature to learn the hash
 * (neither sighash covers this input's scriptSig or witness), then signed. */
static void build(built *o, const spend *s, uint32_t height)
{
    memset(o, 0, sizeof *o);
    buf ss = {0}, wit = {0}, tx = {0};
    int nwit = -1;
    uint8_t stand_in[72] = {0x30};
    s->write(s, stand_in, 72, &ss, &wit, &nwit);
    tx_of(&tx, &ss, &wit, nwit, &s->out, s->sequence);
    parse_built(o, &tx, height, s);
    uint8_t h[32];
    if (s->segwit) {
        pk_bip143_cache c;
        pk_bip143_precompute(&o->b, &o->b.tx[1], &c);
        pk_sighash_bip143(&o->b, &o->b.tx[1], &c, 0, s->code.p, s->code.n, s->amount, 1, h);
        pk_bip143_cache_free(&c);
    } else {
        pk_sighash_legacy(&o->b, &o->b.tx[1], 0, s->code.p, s->code.n, 1, h);
    }
    uint8_t k[32], der[80];
    seckey(s->key, k);
    secp256k1_ecdsa_signature sig;
    cr_assert(secp256k1_ecdsa_sign(ctx(), &sig, h, k, NULL, NULL));
    size_t dl = 72;
    secp256k1_ecdsa_signature_serialize_der(ctx(), der, &dl, &sig);
    der[dl++] = 1; /* SIGHASH_ALL */
    pk_block_free(&o->b);
    ss.n = wit.n = 0;
    nwit = -1;
    s->write(s, der, dl, &ss, &wit, &nwit);
    tx_of(&tx, &ss, &wit, nwit, &s->out, s->sequence);
    parse_built(o, &tx, height, s);
    free(ss.p), free(wit.p), free(tx.p);
}

static void built_free(built *o)
{
    pk_block_free(&o->b);
    free(o->data.p);
}

static pk_verifier *verifier(void)
{
    static pk_verifier *v;
    if (!v)
        v = pk_verifier_new(2);
    return v;
}

typedef enum { VALID, FAILS, NOT_CHECKED } outcome;

/* Verifies the built spend at height (mainnet rules) with its prevout;
 * the outcome must be want, a failure's reason must hold words. */
static void expect(const spend *s, uint32_t height, outcome want, const char *words)
{
    built o;
    build(&o, s, height);
    pk_sigcheck_opts opts = {&o.pv, -1, 1, 0, 0, 0, 0, 0};
    pk_sig_report r;
    int rc = pk_block_verify_sigs(&o.b, &opts, verifier(), &r);
    cr_assert_eq(r.inputs, 1);
    switch (want) {
    case VALID:
        cr_assert_eq(rc, 0, "variant %d: %s", s->variant, r.failed_inputs ? r.failures[0].reason : "not checked");
        cr_assert_eq(r.valid_inputs, 1);
        break;
    case FAILS:
        cr_assert_eq(rc, -1, "variant %d accepted", s->variant);
        cr_assert_eq(r.failed_inputs, 1);
        cr_assert_eq(r.valid_inputs, 0);
        cr_assert(strstr(r.failures[0].reason, words), "reason '%s' lacks '%s'", r.failures[0].reason, words);
        break;
    case NOT_CHECKED:
        cr_assert_eq(r.valid_inputs, 0, "variant %d called valid", s->variant);
        cr_assert_eq(r.failed_inputs, 0);
        cr_assert_eq(r.not_checked, 1);
        if (words)
            cr_assert_str_eq(pk_unchecked_name(r.unchecked[0].why), words);
        break;
    }
    pk_sig_report_free(&r);
    built_free(&o);
}

static void spend_free(spend *s)
{
    free(s->out.p);
    free(s->spk.p);
    free(s->code.p);
}

/* ---- scripts ---- */

static void p2pk_script(buf *b, int key)
{
    uint8_t pk[65];
    push(b, pk, pubkey(key, 1, pk));
    put8(b, 0xac);
}

static void multisig_script(buf *b, int m, int n, int compressed)
{
    put8(b, (uint8_t)(0x50 + m));
    for (int i = 0; i < n; i++) {
        uint8_t pk[65];
        push(b, pk, pubkey(i, compressed, pk));
    }
    put8(b, (uint8_t)(0x50 + n));
    put8(b, 0xae);
}

static void p2sh_of(buf *spk, const buf *redeem)
{
    uint8_t h[20];
    hash160(redeem->p, redeem->n, h);
    put8(spk, 0xa9), push(spk, h, 20), put8(spk, 0x87);
}

static void p2wsh_of(buf *spk, const buf *ws)
{
    uint8_t h[32];
    pk_sha256(ws->p, ws->n, h);
    put8(spk, 0x00), push(spk, h, 32);
}

static void wit_item(buf *w, int *n, const void *d, size_t l)
{
    put_compact(w, l);
    put(w, d, l);
    (*n)++;
}

/* ---- the rules ---- */

/* WITNESS_MALLEATED_P2SH: a P2SH-wrapped witness program must be the
 * scriptSig's one canonical push; the same bytes behind OP_PUSHDATA1 fail. */
static void write_p2sh_p2wpkh(const spend *s, const uint8_t *sig, size_t sl, buf *ss, buf *wit, int *nwit)
{
    uint8_t pk[33], prog[22] = {0x00, 0x14};
    pubkey(s->key, 1, pk);
    hash160(pk, 33, prog + 2);
    if (s->variant)
        put8(ss, 0x4c), put8(ss, 22), put(ss, prog, 22);
    else
        push(ss, prog, 22);
    *nwit = 0;
    wit_item(wit, nwit, sig, sl);
    wit_item(wit, nwit, pk, 33);
}

Test(consensus, p2sh_wrapped_witness_program_pushed_canonically)
{
    spend s = {.segwit = 1, .amount = 50000, .write = write_p2sh_p2wpkh};
    uint8_t pk[33], prog[22] = {0x00, 0x14};
    pubkey(0, 1, pk);
    hash160(pk, 33, prog + 2);
    buf redeem = {0};
    put(&redeem, prog, 22);
    p2sh_of(&s.spk, &redeem);
    put8(&s.code, 0x76), put8(&s.code, 0xa9), push(&s.code, prog + 2, 20), put8(&s.code, 0x88), put8(&s.code, 0xac);
    expect(&s, 800000, VALID, NULL);
    s.variant = 1;
    expect(&s, 800000, FAILS, "WITNESS_MALLEATED_P2SH");
    free(redeem.p);
    spend_free(&s);
}

/* PUSH_SIZE: a P2SH redeem script is a push, so at most 520 bytes: a
 * 1-of-n multisig of uncompressed keys is 465 bytes with 7 keys (valid),
 * 531 with 8 (fails), signatures and all else unchanged. */
static void write_p2sh_multisig(const spend *s, const uint8_t *sig, size_t sl, buf *ss, buf *wit, int *nwit)
{
    (void)wit, (void)nwit;
    put8(ss, 0x00);
    push(ss, sig, sl);
    push(ss, s->code.p, s->code.n);
}

Test(consensus, p2sh_redeem_script_over_520_bytes)
{
    for (int n = 7; n <= 8; n++) {
        spend s = {.amount = 1000, .write = write_p2sh_multisig, .variant = n == 8};
        multisig_script(&s.code, 1, n, 0);
        cr_assert_eq(s.code.n, n == 7 ? 465u : 531u);
        p2sh_of(&s.spk, &s.code);
        expect(&s, 800000, n == 7 ? VALID : FAILS, "PUSH_SIZE");
        /* Before BIP66 and segwit as well: the limit is as old as P2SH. */
        expect(&s, 300000, n == 7 ? VALID : FAILS, "PUSH_SIZE");
        spend_free(&s);
    }
}

/* SCRIPT_SIZE and PUSH_SIZE in the scriptSig, whatever it spends: a bare
 * P2PK with extra items under its signature (legacy scripts may leave
 * them): 520-byte items are fine, 521 is not; a scriptSig of 9,911 bytes is
 * fine, one of 10,434 is not; a push running past the end fails. */
static void write_p2pk_padded(const spend *s, const uint8_t *sig, size_t sl, buf *ss, buf *wit, int *nwit)
{
    (void)wit, (void)nwit;
    if (s->variant == 3) { /* many one-byte items under the signature */
        for (size_t i = 0; i < s->n; i++)
            push_filler(ss, 1);
        push(ss, sig, sl);
        return;
    }
    if (s->variant == 2) { /* a truncated push after the signature */
        push(ss, sig, sl);
        put8(ss, 0x4c), put8(ss, 0x10), put8(ss, 0x00);
        return;
    }
    for (size_t i = 0; i < s->n; i++)
        push_filler(ss, s->variant == 1 && i == 0 ? 521 : 520);
    push(ss, sig, sl);
}

Test(consensus, scriptsig_size_push_size_and_truncation)
{
    spend s = {.amount = 1000, .write = write_p2pk_padded};
    p2pk_script(&s.spk, 0);
    p2pk_script(&s.code, 0);
    s.n = 1;
    expect(&s, 800000, VALID, NULL);
    s.variant = 1;
    expect(&s, 800000, FAILS, "PUSH_SIZE");
    expect(&s, 300000, FAILS, "PUSH_SIZE");
    s.variant = 0, s.n = 18; /* 18 x 523 + 73: 9,487 bytes */
    expect(&s, 800000, VALID, NULL);
    s.n = 20;                /* 20 x 523 + 73: 10,533 bytes */
    expect(&s, 800000, FAILS, "SCRIPT_SIZE");
    s.variant = 2;
    expect(&s, 800000, FAILS, "BAD_OPCODE");
    /* Without prevouts the same limits hold (they need no spent output). */
    s.variant = 0, s.n = 20;
    built o;
    build(&o, &s, 800000);
    pk_sig_report r;
    cr_assert_eq(pk_block_verify_sigs(&o.b, NULL, verifier(), &r), -1);
    cr_assert_eq(r.failed_inputs, 1);
    pk_sig_report_free(&r);
    built_free(&o);
    spend_free(&s);
}

/* SIG_PUSHONLY: a P2SH scriptSig must be push-only. */
static void write_p2sh_p2pk(const spend *s, const uint8_t *sig, size_t sl, buf *ss, buf *wit, int *nwit)
{
    (void)wit, (void)nwit;
    push(ss, sig, sl);
    if (s->variant)
        put8(ss, 0x61); /* OP_NOP */
    push(ss, s->code.p, s->code.n);
}

Test(consensus, p2sh_scriptsig_push_only)
{
    spend s = {.amount = 1000, .write = write_p2sh_p2pk};
    p2pk_script(&s.code, 0);
    p2sh_of(&s.spk, &s.code);
    expect(&s, 800000, VALID, NULL);
    s.variant = 1;
    expect(&s, 800000, FAILS, "SCRIPT_ERR_SIG_PUSHONLY");
    spend_free(&s);
}

/* NULLDUMMY (BIP147): consensus from segwit's activation; before it any
 * dummy is taken. */
static void write_bare_multisig(const spend *s, const uint8_t *sig, size_t sl, buf *ss, buf *wit, int *nwit)
{
    (void)wit, (void)nwit;
    if (s->variant)
        put8(ss, 0x51); /* OP_1 as the dummy */
    else
        put8(ss, 0x00);
    push(ss, sig, sl);
}

Test(consensus, checkmultisig_null_dummy)
{
    spend s = {.amount = 1000, .write = write_bare_multisig};
    multisig_script(&s.spk, 1, 2, 1);
    multisig_script(&s.code, 1, 2, 1);
    expect(&s, 800000, VALID, NULL);
    s.variant = 1;
    expect(&s, 800000, FAILS, "SCRIPT_ERR_SIG_NULLDUMMY");
    expect(&s, 400000, VALID, NULL);
    spend_free(&s);
}

/* Witness v0 element limit: no P2WSH stack item over 520 bytes (the
 * witness script itself may be up to 10,000). */
static void write_p2wsh_p2pk(const spend *s, const uint8_t *sig, size_t sl, buf *ss, buf *wit, int *nwit)
{
    (void)ss;
    *nwit = 0;
    if (s->variant) {
        uint8_t *big = calloc(1, 521);
        memcpy(big, sig, sl);
        wit_item(wit, nwit, big, 521);
        free(big);
    } else {
        wit_item(wit, nwit, sig, sl);
    }
    wit_item(wit, nwit, s->code.p, s->code.n);
}

Test(consensus, witness_item_over_520_bytes)
{
    spend s = {.segwit = 1, .amount = 7000, .write = write_p2wsh_p2pk};
    p2pk_script(&s.code, 0);
    p2wsh_of(&s.spk, &s.code);
    expect(&s, 800000, VALID, NULL);
    s.variant = 1;
    expect(&s, 800000, FAILS, "SCRIPT_ERR_PUSH_SIZE");
    spend_free(&s);
}

/* A P2WSH multisig of 16 uncompressed keys: a 1,059-byte witness script
 * (over 520, fine under 10,000) is valid; the same inside P2SH is not. */
static void write_p2wsh_multisig(const spend *s, const uint8_t *sig, size_t sl, buf *ss, buf *wit, int *nwit)
{
    (void)ss;
    *nwit = 0;
    wit_item(wit, nwit, "", 0);
    wit_item(wit, nwit, sig, sl);
    wit_item(wit, nwit, s->code.p, s->code.n);
}

Test(consensus, witness_script_may_exceed_520_bytes)
{
    spend s = {.segwit = 1, .amount = 7000, .write = write_p2wsh_multisig};
    multisig_script(&s.code, 1, 16, 0);
    cr_assert_eq(s.code.n, 1059u);
    p2wsh_of(&s.spk, &s.code);
    expect(&s, 800000, VALID, NULL);
    spend_free(&s);
}

/* Stacks larger than powkit looks at (more than 24 items) and multisig of
 * more than 16 keys (pushed counts) are "not checked", never valid. */
/* Scripts none of the templates are: judged by the interpreter now, with
 * consensus' verdict (extra pushes under a P2PK stay on the stack; a bare
 * 1-of-17 is within CHECKMULTISIG's 20 keys). */
Test(consensus, beyond_the_templates_is_judged)
{
    spend s = {.amount = 1000, .write = write_p2pk_padded, .variant = 3, .n = 30};
    p2pk_script(&s.spk, 0);
    p2pk_script(&s.code, 0);
    expect(&s, 800000, VALID, NULL);
    spend_free(&s);

    spend m = {.amount = 1000, .write = write_bare_multisig};
    put8(&m.spk, 0x51);
    for (int i = 0; i < 17; i++) {
        uint8_t pk[65];
        push(&m.spk, pk, pubkey(i, 1, pk));
    }
    put8(&m.spk, 0x01), put8(&m.spk, 17), put8(&m.spk, 0xae);
    put(&m.code, m.spk.p, m.spk.n);
    expect(&m, 800000, VALID, NULL);
    spend_free(&m);
}

/* ---- BIP68 sequence locks and the upgrade hooks ---- */

static void write_nothing(const spend *s, const uint8_t *sig, size_t sl, buf *script_sig, buf *wit, int *nwit)
{
    (void)s, (void)sig, (void)sl, (void)script_sig, (void)wit, (void)nwit;
}

static void write_one_item(const spend *s, const uint8_t *sig, size_t sl, buf *script_sig, buf *wit, int *nwit)
{
    (void)s, (void)sig, (void)sl, (void)script_sig;
    put8(wit, 1), put8(wit, 0x01);
    *nwit = 1;
}

/* A relative height lock of 10 blocks (BIP68), on an OP_TRUE output. */
Test(consensus, bip68_height_locks_against_the_prevouts_heights)
{
    spend s = {.amount = 1000, .write = write_nothing, .sequence = 10};
    put8(&s.spk, 0x51);
    s.prev_height = 800000 - 5;
    expect(&s, 800000, FAILS, "bad-txns-nonfinal");
    s.prev_height = 800000 - 10; /* 799,990 + 10 - 1 < 800,000 */
    expect(&s, 800000, VALID, NULL);
    s.prev_height = 0; /* no height given: not checked, and why */
    expect(&s, 800000, NOT_CHECKED, "sequence_locks_need_context");
    s.sequence = (1u << 22) | 5; /* a time lock: the median times are not in a block */
    s.prev_height = 800000 - 5;
    expect(&s, 800000, NOT_CHECKED, "sequence_locks_need_context");
    s.sequence = (1u << 31) | 10; /* disabled for this input */
    expect(&s, 800000, VALID, NULL);
    s.sequence = 10; /* before CSV's height the lock is no rule */
    s.prev_height = 400000 - 5;
    expect(&s, 400000, VALID, NULL);
    spend_free(&s);
}

/* A witness version consensus leaves open is valid, counted as upgradable, not as checked. */
Test(consensus, unknown_witness_version_is_upgradable)
{
    spend s = {.amount = 1000, .write = write_one_item};
    put8(&s.spk, 0x52), put8(&s.spk, 32);
    for (int i = 0; i < 32; i++)
        put8(&s.spk, (uint8_t)i);
    built o;
    build(&o, &s, 800000);
    pk_sigcheck_opts opts = {&o.pv, -1, 1, 0, 0, 0, 0, 0};
    pk_sig_report r;
    cr_assert_eq(pk_block_verify_sigs(&o.b, &opts, verifier(), &r), 0);
    cr_assert_eq(r.upgradable, 1);
    cr_assert_eq(r.valid_inputs, 0, "not among the checked-valid");
    cr_assert_eq(r.not_checked, 0);
    cr_assert_eq(r.by_kind[PK_KIND_WITNESS_UNKNOWN], 1);
    pk_sig_report_free(&r);
    /* Core's policy discourages it. */
    opts.policy = 1;
    cr_assert_eq(pk_block_verify_sigs(&o.b, &opts, verifier(), &r), -1);
    cr_assert_str_eq(r.failures[0].reason, "SCRIPT_ERR_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM");
    pk_sig_report_free(&r);
    built_free(&o);
    spend_free(&s);
}

/* A spent script over 10,000 bytes cannot be spent. */
Test(consensus, spent_script_over_10000_bytes_is_script_size)
{
    spend s = {.amount = 1000, .write = write_nothing};
    for (int i = 0; i < 10001; i++)
        put8(&s.spk, 0x51);
    expect(&s, 800000, FAILS, "SCRIPT_ERR_SCRIPT_SIZE");
    spend_free(&s);
}

/* ---- signature operations (bad-blk-sigops) ---- */

/* The spend's output script: 999 CHECKMULTISIGs (20 each, as the legacy
 * count takes them) and n CHECKSIGs. */
static void sigop_heavy_output(spend *s, size_t n)
{
    s->out.n = 0;
    for (int i = 0; i < 999; i++)
        put8(&s->out, 0xae);
    for (size_t i = 0; i < n; i++)
        put8(&s->out, 0xac);
}

static void expect_sigops(const spend *s, uint64_t cost, int exceeded)
{
    built o;
    build(&o, s, 800000);
    pk_sigcheck_opts opts = {&o.pv, -1, 1, 0, 0, 0, 0, 0};
    pk_sig_report r;
    int rc = pk_block_verify_sigs(&o.b, &opts, verifier(), &r);
    cr_assert_eq(r.valid_inputs, 1, "%s", r.failed_inputs ? r.failures[0].reason : "");
    cr_assert_eq(r.sigop_cost, cost);
    cr_assert(r.sigop_cost_complete);
    cr_assert_eq(r.sigops_exceeded, exceeded);
    cr_assert_eq(rc, exceeded ? -1 : 0);
    pk_sig_report_free(&r);
    /* The legacy count given, as a chain's block checks give it: the same
     * cost, and a wrong count given is taken (it is not counted again). */
    uint64_t legacy = pk_block_legacy_sigops(&o.b);
    for (int wrong = 0; wrong < 2; wrong++) {
        opts.legacy_sigops_known = 1;
        opts.legacy_sigops = legacy + (uint64_t)wrong;
        rc = pk_block_verify_sigs(&o.b, &opts, verifier(), &r);
        cr_assert_eq(r.sigop_cost, cost + 4u * (uint64_t)wrong);
        cr_assert_eq(r.sigops_exceeded, r.sigop_cost > PK_MAX_BLOCK_SIGOPS_COST);
        pk_sig_report_free(&r);
    }
    built_free(&o);
}

/* With prevouts: a P2SH redeem script's operations count 4 each, exactly
 * (OP_15 CHECKMULTISIG: 15); the block is at the limit (80,000) or over. */
Test(consensus, sigop_cost_with_p2sh)
{
    spend s = {.amount = 1000, .write = write_p2sh_multisig};
    multisig_script(&s.code, 1, 15, 1);
    cr_assert_eq(s.code.n, 513u);
    p2sh_of(&s.spk, &s.code);
    sigop_heavy_output(&s, 5);
    expect_sigops(&s, 4 * (999 * 20 + 5) + 4 * 15, 0);
    sigop_heavy_output(&s, 6);
    expect_sigops(&s, 4 * (999 * 20 + 6) + 4 * 15, 1);
    spend_free(&s);
}

/* A witness script's operations count 1 each (OP_16 CHECKMULTISIG: 16). */
Test(consensus, sigop_cost_with_p2wsh)
{
    spend s = {.segwit = 1, .amount = 7000, .write = write_p2wsh_multisig};
    multisig_script(&s.code, 1, 16, 0);
    p2wsh_of(&s.spk, &s.code);
    sigop_heavy_output(&s, 16);
    expect_sigops(&s, 4 * (999 * 20 + 16) + 16, 0);
    sigop_heavy_output(&s, 17);
    expect_sigops(&s, 4 * (999 * 20 + 17) + 16, 1);
    spend_free(&s);
}

/* Without prevouts: the legacy count alone, in the block checks (Core's
 * CheckBlock): 20,000 operations pass, 20,001 fail with bad-blk-sigops. */
Test(consensus, legacy_sigops_in_block_checks)
{
    for (int over = 0; over <= 1; over++) {
        spend s = {.amount = 1000, .write = write_p2pk_padded, .n = 0};
        p2pk_script(&s.spk, 0);
        p2pk_script(&s.code, 0);
        /* the P2PK spend's own CHECKSIG is in the spent output, not this block */
        sigop_heavy_output(&s, 20 + (size_t)over);
        built o;
        build(&o, &s, 800000);
        cr_assert_eq(pk_block_legacy_sigops(&o.b), 20000u + (unsigned)over);
        /* Proof of work and merkle root so that the block checks reach the count. */
        uint8_t ids[2][32];
        memcpy(ids[0], o.b.tx[0].txid, 32);
        memcpy(ids[1], o.b.tx[1].txid, 32);
        pk_merkle_root((const uint8_t(*)[32])ids, 2, o.data.p + 36, NULL);
        o.data.p[72] = 0xff, o.data.p[73] = 0xff, o.data.p[74] = 0x7f, o.data.p[75] = 0x20;
        pk_chain_params cp;
        pk_chain_params_init(&cp, PK_CHAIN_REGTEST);
        for (uint32_t nonce = 0; pk_check_pow(o.data.p, &cp, NULL); nonce++)
            memcpy(o.data.p + 76, &nonce, 4);
        pk_block vb;
        pk_block_report rep;
        pk_verror e;
        int rc = pk_block_verify(&vb, o.data.p, o.data.n, &cp, &rep, &e);
        cr_assert_eq(rep.legacy_sigops, 20000u + (unsigned)over);
        if (over) {
            cr_assert_eq(rc, -1);
            cr_assert_str_eq(e.reason, "bad-blk-sigops");
        } else {
            cr_assert_eq(rc, 0, "%s", e.msg);
        }
        pk_block_free(&vb);
        built_free(&o);
        spend_free(&s);
    }
}

/* The script-level counts Core's GetSigOpCount gives. */
Test(consensus, script_sigop_counts)
{
    uint8_t ms[37] = {0x52, 0x21, 0x02};
    ms[35] = 0x51, ms[36] = 0xae; /* OP_2 <33-byte key> OP_1 CHECKMULTISIG */
    cr_assert_eq(pk_script_sigops(ms, sizeof ms, 1), 1);
    cr_assert_eq(pk_script_sigops(ms, sizeof ms, 0), 20);
    static const uint8_t mixed[] = {0xac, 0xad, 0xaf, 0x60, 0xae, 0x4c, 0x02, 0xae};
    cr_assert_eq(pk_script_sigops(mixed, sizeof mixed, 1), 2 + 20 + 16, "the push at the end does not parse");
    cr_assert_eq(pk_script_sigops(mixed, sizeof mixed, 0), 2 + 20 + 20);
}

/* WITNESS_MALLEATED and WITNESS_PROGRAM_MISMATCH: a native P2WPKH spend
 * with anything in its scriptSig, or a witness of three items, fails. */
static void write_p2wpkh(const spend *s, const uint8_t *sig, size_t sl, buf *ss, buf *wit, int *nwit)
{
    uint8_t pk[33];
    pubkey(s->key, 1, pk);
    if (s->variant == 1)
        put8(ss, 0x51);
    *nwit = 0;
    if (s->variant == 2)
        wit_item(wit, nwit, "", 0);
    wit_item(wit, nwit, sig, sl);
    wit_item(wit, nwit, pk, 33);
}

Test(consensus, native_witness_spend_scriptsig_and_item_count)
{
    spend s = {.segwit = 1, .amount = 20000, .write = write_p2wpkh};
    uint8_t pk[33], h[20];
    pubkey(0, 1, pk);
    hash160(pk, 33, h);
    put8(&s.spk, 0x00), push(&s.spk, h, 20);
    put8(&s.code, 0x76), put8(&s.code, 0xa9), push(&s.code, h, 20), put8(&s.code, 0x88), put8(&s.code, 0xac);
    expect(&s, 800000, VALID, NULL);
    s.variant = 1;
    expect(&s, 800000, FAILS, "SCRIPT_ERR_WITNESS_MALLEATED");
    s.variant = 2;
    expect(&s, 800000, FAILS, "SCRIPT_ERR_WITNESS_PROGRAM_MISMATCH");
    spend_free(&s);
}

/* BIP34: the height is CScript() << height.  An 8-byte push is no height
 * (it was read with a shift past its width); without --height the rules
 * are not guessed. */
static void set_coinbase_height_push(built *o, const uint8_t *push_bytes, size_t n)
{
    /* The coinbase scriptSig is 5 bytes at offset 80 + 1 + 4 + 1 + 36 + 1. */
    size_t at = 80 + 1 + 4 + 1 + 36 + 1;
    cr_assert(n <= 5);
    memset(o->data.p + at, 0x51, 5);
    memcpy(o->data.p + at, push_bytes, n);
}

Test(consensus, bip34_height_as_written)
{
    spend s = {.amount = 1000, .write = write_p2pk_padded, .n = 0};
    p2pk_script(&s.spk, 0);
    p2pk_script(&s.code, 0);
    built o;
    build(&o, &s, 800000);
    pk_sigcheck_opts opts = {&o.pv, -1, 1, 0, 0, 0, 0, 0};
    pk_sig_report r;
    cr_assert_eq(pk_block_verify_sigs(&o.b, &opts, verifier(), &r), 0);
    cr_assert_eq(r.height, 800000);
    pk_sig_report_free(&r);
    static const struct {
        uint8_t push[5];
        size_t n;
        int64_t height; /* -2: not a height */
    } cases[] = {
        {{0x04, 0xff, 0xff, 0xff, 0x7f}, 5, 0x7fffffff},
        {{0x03, 0x80, 0x00, 0x00}, 4, -2},  /* not minimal */
        {{0x02, 0x80, 0x80}, 3, -2},        /* negative */
        {{0x01, 0x05}, 2, -2},              /* 5 is OP_5 in CScript */
        {{0x01, 0x11}, 2, 17},
        {{0x08, 0xff, 0xff, 0xff, 0xff}, 5, -2}, /* 8 bytes: no height */
        {{0x5a}, 1, 10},
        {{0x02, 0x00, 0x80}, 3, -2},        /* padded, and 0x8000 would be minimal */
        {{0x03, 0x00, 0x80, 0x00}, 4, 32768},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_coinbase_height_push(&o, cases[i].push, cases[i].n);
        int rc = pk_block_verify_sigs(&o.b, &opts, verifier(), &r);
        if (cases[i].height == -2) {
            cr_assert_eq(rc, -2, "case %zu", i);
            cr_assert(r.error && strstr(r.error, "--height"), "case %zu", i);
            cr_assert_eq(r.valid_inputs, 0, "nothing is called valid under guessed rules");
        } else {
            cr_assert_eq(rc, 0, "case %zu", i);
            cr_assert_eq(r.height, cases[i].height, "case %zu", i);
        }
        pk_sig_report_free(&r);
    }
    /* With --height the rules are those of the height given. */
    pk_sigcheck_opts given = {&o.pv, 700000, 1, 0, 0, 0, 0, 0};
    cr_assert_eq(pk_block_verify_sigs(&o.b, &given, verifier(), &r), 0);
    cr_assert_eq(r.height, 700000);
    pk_sig_report_free(&r);
    built_free(&o);
    spend_free(&s);
}

/* ---- Core's CheckTransaction in the block checks ---- */

typedef struct txshape {
    int64_t values[2];
    int nout;
    int dup_input;   /* the same outpoint twice */
    int null_prevout; /* a second input spending the null outpoint */
    int cb_script;   /* the coinbase script's length (2 to 100 is right) */
} txshape;

/* A regtest block: a coinbase with a cb_script-byte script, then one transaction of the shape. */
static void shaped_block(buf *out, const txshape *s)
{
    buf cb = {0}, tx = {0};
    uint8_t zero[32] = {0};
    put32(&cb, 1);
    put8(&cb, 1);
    put(&cb, zero, 32);
    put32(&cb, 0xffffffffu);
    put8(&cb, (uint8_t)s->cb_script);
    for (int i = 0; i < s->cb_script; i++)
        put8(&cb, i == 0 ? 0x51 : 0x00);
    put32(&cb, 0xffffffffu);
    put8(&cb, 1);
    put64(&cb, 0);
    put8(&cb, 1), put8(&cb, 0x51);
    put32(&cb, 0);

    put32(&tx, 2);
    int nin = s->dup_input || s->null_prevout ? 2 : 1;
    put8(&tx, (uint8_t)nin);
    for (int i = 0; i < nin; i++) {
        /* the null outpoint second: alone it would make a second coinbase (bad-cb-multiple) */
        int null = s->null_prevout && i == 1;
        uint8_t prev[32];
        memset(prev, null ? 0 : 0xab, 32);
        put(&tx, prev, 32);
        put32(&tx, null ? 0xffffffffu : 0);
        put8(&tx, 0);
        put32(&tx, 0xffffffffu);
    }
    put8(&tx, (uint8_t)s->nout);
    for (int i = 0; i < s->nout; i++) {
        put64(&tx, (uint64_t)s->values[i]);
        put8(&tx, 1), put8(&tx, 0x51);
    }
    put32(&tx, 0);

    uint8_t ids[2][32], root[32];
    pk_sha256d(cb.p, cb.n, ids[0]);
    pk_sha256d(tx.p, tx.n, ids[1]);
    pk_merkle_root((const uint8_t(*)[32])ids, 2, root, NULL);
    uint8_t header[80] = {0};
    header[3] = 0x20;
    memcpy(header + 36, root, 32);
    header[72] = 0xff, header[73] = 0xff, header[74] = 0x7f, header[75] = 0x20; /* regtest's limit */
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    pk_verror e;
    for (uint32_t nonce = 0;; nonce++) {
        memcpy(header + 76, &nonce, 4);
        if (pk_check_pow(header, &p, &e) == 0)
            break;
    }
    out->n = 0;
    put(out, header, 80);
    put8(out, 2);
    put(out, cb.p, cb.n);
    put(out, tx.p, tx.n);
    free(cb.p);
    free(tx.p);
}

static void expect_block(const txshape *s, const char *reason)
{
    buf blk = {0};
    shaped_block(&blk, s);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    pk_block b;
    pk_block_report rep;
    pk_verror e;
    int rc = pk_block_verify(&b, blk.p, blk.n, &p, &rep, &e);
    if (!reason) {
        cr_assert_eq(rc, 0, "refused: %s (%s)", e.reason ? e.reason : "", e.msg);
    } else {
        cr_assert_eq(rc, -1, "%s: accepted", reason);
        cr_assert_str_eq(e.reason, reason, "%s", e.msg);
        cr_assert(strstr(e.msg, "transaction"), "the message names the transaction: %s", e.msg);
    }
    pk_block_free(&b);
    free(blk.p);
}

Test(consensus, check_transaction_rules_in_blocks)
{
    const int64_t coin = 100000000, max_money = 21000000 * coin;
    txshape ok = {{5000, 0}, 1, 0, 0, 2};
    expect_block(&ok, NULL);
    txshape t = ok;
    t.values[0] = -1;
    expect_block(&t, "bad-txns-vout-negative");
    t = ok, t.values[0] = max_money + 1;
    expect_block(&t, "bad-txns-vout-toolarge");
    t = ok, t.values[0] = max_money;
    expect_block(&t, NULL); /* exactly 21M is money */
    t = ok, t.nout = 2, t.values[0] = 20000000 * coin, t.values[1] = 2000000 * coin;
    expect_block(&t, "bad-txns-txouttotal-toolarge");
    t = ok, t.nout = 0;
    expect_block(&t, "bad-txns-vout-empty");
    t = ok, t.dup_input = 1;
    expect_block(&t, "bad-txns-inputs-duplicate");
    t = ok, t.null_prevout = 1;
    expect_block(&t, "bad-txns-prevout-null");
    t = ok, t.cb_script = 1;
    expect_block(&t, "bad-cb-length");
    t = ok, t.cb_script = 101;
    expect_block(&t, "bad-cb-length");
    t = ok, t.cb_script = 100;
    expect_block(&t, NULL);
}
