/* The script interpreter on Bitcoin Core's own suites, run the way Core's
 * script_tests.cpp and transaction_tests.cpp run them: script_tests.json
 * (crediting and spending transactions, the expected error, flags added to
 * failing cases and removed from passing ones), tx_valid.json and
 * tx_invalid.json (CheckTransaction, every input, each flag removed or
 * added), sighash.json (the legacy signature hash).  Each case is also run
 * with its signature checks deferred and resolved afterwards, and must give
 * the same verdict. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/script.h"
#include "powkit/sighash.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "powkit/verify.h"
#include "testutil.h"
#include "../validate/script/script_internal.h"

#define FLAG_BITS 21

/* ---- a growing byte buffer ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        cr_assert(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put1(buf *b, uint8_t v) { put(b, &v, 1); }
static void put_le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        put1(b, (uint8_t)(v >> (8 * i)));
}
static void put_compact(buf *b, uint64_t v)
{
    uint8_t t[9];
    put(b, t, pk_compact_put(t, v));
}
/* CScript << bytes: the shortest push prefix. */
static void put_push(buf *b, const uint8_t *d, size_t n)
{
    if (n < 0x4c)
        put1(b, (uint8_t)n);
    else if (n <= 0xff) {
        put1(b, 0x4c);
        put1(b, (uint8_t)n);
    } else if (n <= 0xffff) {
        put1(b, 0x4d);
        put_le(b, n, 2);
    } else {
        put1(b, 0x4e);
        put_le(b, n, 4);
    }
    put(b, d, n);
}

/* ---- Core's ParseScript ---- */

static const struct {
    const char *name;
    uint8_t op;
} op_names[] = {
    {"RESERVED", 0x50}, {"NOP", 0x61}, {"VER", 0x62}, {"IF", 0x63}, {"NOTIF", 0x64}, {"VERIF", 0x65},
    {"VERNOTIF", 0x66}, {"ELSE", 0x67}, {"ENDIF", 0x68}, {"VERIFY", 0x69}, {"RETURN", 0x6a},
    {"TOALTSTACK", 0x6b}, {"FROMALTSTACK", 0x6c}, {"2DROP", 0x6d}, {"2DUP", 0x6e}, {"3DUP", 0x6f},
    {"2OVER", 0x70}, {"2ROT", 0x71}, {"2SWAP", 0x72}, {"IFDUP", 0x73}, {"DEPTH", 0x74}, {"DROP", 0x75},
    {"DUP", 0x76}, {"NIP", 0x77}, {"OVER", 0x78}, {"PICK", 0x79}, {"ROLL", 0x7a}, {"ROT", 0x7b},
    {"SWAP", 0x7c}, {"TUCK", 0x7d}, {"CAT", 0x7e}, {"SUBSTR", 0x7f}, {"LEFT", 0x80}, {"RIGHT", 0x81},
    {"SIZE", 0x82}, {"INVERT", 0x83}, {"AND", 0x84}, {"OR", 0x85}, {"XOR", 0x86}, {"EQUAL", 0x87},
    {"EQUALVERIFY", 0x88}, {"RESERVED1", 0x89}, {"RESERVED2", 0x8a}, {"1ADD", 0x8b}, {"1SUB", 0x8c},
    {"2MUL", 0x8d}, {"2DIV", 0x8e}, {"NEGATE", 0x8f}, {"ABS", 0x90}, {"NOT", 0x91}, {"0NOTEQUAL", 0x92},
    {"ADD", 0x93}, {"SUB", 0x94}, {"MUL", 0x95}, {"DIV", 0x96}, {"MOD", 0x97}, {"LSHIFT", 0x98},
    {"RSHIFT", 0x99}, {"BOOLAND", 0x9a}, {"BOOLOR", 0x9b}, {"NUMEQUAL", 0x9c}, {"NUMEQUALVERIFY", 0x9d},
    {"NUMNOTEQUAL", 0x9e}, {"LESSTHAN", 0x9f}, {"GREATERTHAN", 0xa0}, {"LESSTHANOREQUAL", 0xa1},
    {"GREATERTHANOREQUAL", 0xa2}, {"MIN", 0xa3}, {"MAX", 0xa4}, {"WITHIN", 0xa5}, {"RIPEMD160", 0xa6},
    {"SHA1", 0xa7}, {"SHA256", 0xa8}, {"HASH160", 0xa9}, {"HASH256", 0xaa}, {"CODESEPARATOR", 0xab},
    {"CHECKSIG", 0xac}, {"CHECKSIGVERIFY", 0xad}, {"CHECKMULTISIG", 0xae}, {"CHECKMULTISIGVERIFY", 0xaf},
    {"NOP1", 0xb0}, {"CHECKLOCKTIMEVERIFY", 0xb1}, {"CHECKSEQUENCEVERIFY", 0xb2}, {"NOP4", 0xb3},
    {"NOP5", 0xb4}, {"NOP6", 0xb5}, {"NOP7", 0xb6}, {"NOP8", 0xb7}, {"NOP9", 0xb8}, {"NOP10", 0xb9},
    {"CHECKSIGADD", 0xba},
};

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void push_int(buf *b, int64_t v)
{
    if (v == -1 || (v >= 1 && v <= 16)) {
        put1(b, (uint8_t)(0x50 + v));
        return;
    }
    if (v == 0) {
        put1(b, 0);
        return;
    }
    uint8_t t[9];
    size_t n = 0;
    int neg = v < 0;
    uint64_t a = neg ? (uint64_t)(-v) : (uint64_t)v;
    while (a) {
        t[n++] = (uint8_t)a;
        a >>= 8;
    }
    if (t[n - 1] & 0x80)
        t[n++] = neg ? 0x80 : 0;
    else if (neg)
        t[n - 1] |= 0x80;
    put_push(b, t, n);
}

/* 0, or -1 with what in *bad. */
static int parse_script(const char *s, buf *out, char *bad, size_t badlen)
{
    out->n = 0;
    while (*s) {
        size_t n = strcspn(s, " \t\n");
        const char *w = s;
        s += n;
        if (*s)
            s++;
        if (n == 0)
            continue;
        if (all_digits(w, n) || (w[0] == '-' && n > 1 && all_digits(w + 1, n - 1))) {
            char tmp[32];
            if (n >= sizeof tmp)
                goto fail;
            memcpy(tmp, w, n);
            tmp[n] = 0;
            long long v = strtoll(tmp, NULL, 10);
            if (v > 0xffffffffLL || v < -0xffffffffLL)
                goto fail;
            push_int(out, v);
        } else if (n > 2 && w[0] == '0' && w[1] == 'x') {
            if ((n - 2) % 2)
                goto fail;
            for (size_t i = 2; i < n; i += 2) {
                int h = hexval(w[i]), l = hexval(w[i + 1]);
                if (h < 0 || l < 0)
                    goto fail;
                put1(out, (uint8_t)(h << 4 | l));
            }
        } else if (n >= 2 && w[0] == '\'' && w[n - 1] == '\'') {
            put_push(out, (const uint8_t *)w + 1, n - 2);
        } else {
            const char *name = w;
            size_t nl = n;
            if (nl > 3 && memcmp(name, "OP_", 3) == 0) {
                name += 3;
                nl -= 3;
            }
            size_t i;
            for (i = 0; i < sizeof op_names / sizeof *op_names; i++)
                if (strlen(op_names[i].name) == nl && memcmp(op_names[i].name, name, nl) == 0)
                    break;
            if (i == sizeof op_names / sizeof *op_names)
                goto fail;
            put1(out, op_names[i].op);
        }
        continue;
    fail:
        snprintf(bad, badlen, "%.*s", (int)n, w);
        return -1;
    }
    return 0;
}

/* ---- hashes (OpenSSL: an oracle apart from powkit's own) ---- */

static void sha256(const void *d, size_t n, uint8_t out[32])
{
    unsigned int ol = 32;
    EVP_Digest(d, n, out, &ol, EVP_sha256(), NULL);
}
static void sha256d(const void *d, size_t n, uint8_t out[32])
{
    uint8_t h[32];
    sha256(d, n, h);
    sha256(h, 32, out);
}
static void tagged(const char *tag, const uint8_t *d, size_t n, uint8_t out[32])
{
    uint8_t th[32];
    sha256(tag, strlen(tag), th);
    buf b = {0};
    put(&b, th, 32);
    put(&b, th, 32);
    put(&b, d, n);
    sha256(b.p, b.n, out);
    free(b.p);
}

/* ---- the transactions ---- */

typedef struct witness {
    buf items[64];
    size_t n;
} witness;

static void witness_free(witness *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->items[i].p);
    w->n = 0;
}

static void put_tx_witness(buf *b, const witness *w)
{
    put_compact(b, w->n);
    for (size_t i = 0; i < w->n; i++) {
        put_compact(b, w->items[i].n);
        put(b, w->items[i].p, w->items[i].n);
    }
}

/* Core's BuildCreditingTransaction: returns its txid. */
static void crediting_txid(const buf *spk, int64_t value, uint8_t txid[32])
{
    buf b = {0};
    put_le(&b, 1, 4);
    put_compact(&b, 1);
    uint8_t null32[32] = {0};
    put(&b, null32, 32);
    put_le(&b, 0xffffffff, 4);
    put_compact(&b, 2);
    put1(&b, 0);
    put1(&b, 0);
    put_le(&b, 0xffffffff, 4);
    put_compact(&b, 1);
    put_le(&b, (uint64_t)value, 8);
    put_compact(&b, spk->n);
    put(&b, spk->p, spk->n);
    put_le(&b, 0, 4);
    sha256d(b.p, b.n, txid);
    free(b.p);
}

/* Core's BuildSpendingTransaction. */
static void spending_tx(buf *out, const uint8_t txid[32], const buf *sig, const witness *w, int64_t value)
{
    out->n = 0;
    put_le(out, 1, 4);
    if (w->n) {
        put1(out, 0);
        put1(out, 1);
    }
    put_compact(out, 1);
    put(out, txid, 32);
    put_le(out, 0, 4);
    put_compact(out, sig->n);
    put(out, sig->p, sig->n);
    put_le(out, 0xffffffff, 4);
    put_compact(out, 1);
    put_le(out, (uint64_t)value, 8);
    put_compact(out, 0);
    if (w->n)
        put_tx_witness(out, w);
    put_le(out, 0, 4);
}

/* ---- verification, direct and deferred ---- */

static pk_verifier *verifier(void)
{
    static pk_verifier *v;
    if (!v)
        v = pk_verifier_new(1);
    return v;
}

/* The verdict with the checks deferred: the run assumes every signature
 * holds, the checks are verified after, and a run whose assumptions fail
 * is done again for real. */
static int verify_deferred(const uint8_t *tx, size_t txlen, const pk_prevout *spent, size_t vin, uint32_t flags,
                           pk_script_error *err)
{
    pk_tx t;
    if (pk_tx_parse(&t, tx, txlen, NULL))
        return -1;
    pk_block b;
    memset(&b, 0, sizeof b);
    b.data = tx;
    b.size = txlen;
    b.ntx = 1;
    b.tx = &t;
    pk_script_tx st = {&b, &t, spent};
    /* Twice: hashes computed as the script runs and every check verified,
     * then legacy ones left for pk_script_defer_hash and the checks
     * verified in rounds of those wanted (as the block verifier runs
     * them).  Both must give the direct verdict, and the second must need
     * no rerun where the first needs none: its hashes and its matching
     * are the same. */
    int rc = -1, held[2] = {0, 0};
    for (int lazy = 0; lazy < 2; lazy++) {
        pk_script_txdata *txd = pk_script_txdata_new(&st);
        pk_script_defer d;
        memset(&d, 0, sizeof d);
        d.lazy_legacy = lazy;
        pk_script_error e;
        int r = pk_script_exec(&st, txd, vin, flags, &d, &e, NULL);
        if (r == 1) {
            pk_script_defer_hash(&d, txd);
            if (!lazy) {
                for (size_t i = 0; i < d.n; i++)
                    pk_sig_check_one(verifier(), &d.checks[i]);
            } else {
                /* In rounds, as the block verifier runs them: only the
                 * checks consensus' matching asks for. */
                uint32_t *want = malloc((d.n ? d.n : 1) * sizeof *want);
                size_t k, asked = 0;
                /* Guesses of every small multisig's matching (its last m
                 * keys), right or wrong: the verdict must not depend on them. */
                pk_script_hint hints[10];
                size_t nh = 0;
                for (uint16_t n = 2; n <= 5; n++)
                    for (uint16_t m = 1; m < n && m <= 3; m++) {
                        memset(&hints[nh], 0, sizeof hints[nh]);
                        hints[nh].m = m;
                        hints[nh].n = n;
                        for (uint16_t i = 0; i < m; i++)
                            hints[nh].key[i] = (uint8_t)(n - m + i);
                        if (nh + 1 < sizeof hints / sizeof hints[0])
                            nh++;
                    }
                while ((k = pk_script_defer_wanted(&d, 0, d.n_reqs, hints, nh, want)) > 0) {
                    for (size_t i = 0; i < k; i++) {
                        pk_sig_check *c = &d.checks[want[i]];
                        cr_assert_eq(c->valid, -1, "a check asked for twice");
                        pk_sig_check_one(verifier(), c);
                        c->valid = c->valid == 1;
                    }
                    asked += k;
                }
                cr_assert_leq(asked, d.n);
                free(want);
            }
            held[lazy] = pk_script_defer_holds(&d, d.checks, 0, d.n_reqs);
            if (!held[lazy])
                r = pk_script_exec(&st, txd, vin, flags, NULL, &e, NULL);
        } else {
            r = pk_script_exec(&st, txd, vin, flags, NULL, &e, NULL);
        }
        pk_script_defer_free(&d);
        pk_script_txdata_free(txd);
        if (lazy == 0) {
            rc = r;
            *err = e;
        } else {
            cr_assert_eq(r, rc, "lazy legacy hashes: verdict %d, not %d", r, rc);
            cr_assert_eq(e, *err, "lazy legacy hashes: error %d, not %d", e, *err);
        }
    }
    cr_assert_eq(held[1], held[0], "lazy legacy hashes: the deferred checks held %d, eagerly %d", held[1], held[0]);
    return rc;
}

static int valid_combo(uint32_t f)
{
    if ((f & PK_SCRIPT_VERIFY_CLEANSTACK) &&
        (~f & (PK_SCRIPT_VERIFY_P2SH | PK_SCRIPT_VERIFY_WITNESS)))
        return 0;
    if ((f & PK_SCRIPT_VERIFY_WITNESS) && !(f & PK_SCRIPT_VERIFY_P2SH))
        return 0;
    return 1;
}

/* ---- script_tests.json ---- */

static secp256k1_context *ctx(void)
{
    static secp256k1_context *c;
    if (!c)
        c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    return c;
}

/* The internal key of the generated taproot outputs: the generator (any
 * key does; Core takes a random one). */
static const uint8_t internal_key[32] = {0x79, 0xbe, 0x66, 0x7e, 0xf9, 0xdc, 0xbb, 0xac, 0x55, 0xa0, 0x62,
                                         0x95, 0xce, 0x87, 0x0b, 0x07, 0x02, 0x9b, 0xfc, 0xdb, 0x2d, 0xce,
                                         0x28, 0xd9, 0x59, 0xf2, 0x81, 0x5b, 0x16, 0xf8, 0x17, 0x98};

/* One leaf at depth 0: control block and output key. */
static void taproot_single_leaf(const buf *script, buf *control, uint8_t output[32])
{
    buf l = {0};
    put1(&l, 0xc0);
    put_compact(&l, script->n);
    put(&l, script->p, script->n);
    uint8_t leaf[32], tweak[32];
    tagged("TapLeaf", l.p, l.n, leaf);
    free(l.p);
    uint8_t tw[64];
    memcpy(tw, internal_key, 32);
    memcpy(tw + 32, leaf, 32);
    tagged("TapTweak", tw, 64, tweak);
    secp256k1_xonly_pubkey p, q;
    secp256k1_pubkey full;
    int parity;
    cr_assert(secp256k1_xonly_pubkey_parse(ctx(), &p, internal_key));
    cr_assert(secp256k1_xonly_pubkey_tweak_add(ctx(), &full, &p, tweak));
    cr_assert(secp256k1_xonly_pubkey_from_pubkey(ctx(), &q, &parity, &full));
    secp256k1_xonly_pubkey_serialize(ctx(), output, &q);
    control->n = 0;
    put1(control, (uint8_t)(0xc0 | parity));
    put(control, internal_key, 32);
}

static int error_by_short(const char *s, pk_script_error *e)
{
    for (int i = 0; i < PK_SCRIPT_ERR_COUNT; i++)
        if (strcmp(pk_script_error_short((pk_script_error)i), s) == 0) {
            *e = (pk_script_error)i;
            return 1;
        }
    return 0;
}

static int64_t btc_amount(json_t *v)
{
    double d = json_number_value(v);
    return (int64_t)(d * 1e8 + (d >= 0 ? 0.5 : -0.5));
}

Test(script, core_script_tests, .timeout = 600)
{
    json_error_t je;
    char path[1024];
    snprintf(path, sizeof path, "%s/core/script_tests.json", POWKIT_TEST_DATA);
    json_t *all = json_load_file(path, 0, &je);
    cr_assert(all, "%s: %s", path, je.text);
    tu_rng rng = {0x5c1a7e57};
    size_t cases = 0, ok_cases = 0, fails = 0;
    buf sig = {0}, spk = {0}, tx = {0};
    for (size_t idx = 0; idx < json_array_size(all); idx++) {
        json_t *t = json_array_get(all, idx);
        size_t pos = 0;
        witness w = {0};
        int64_t value = 0;
        char bad[200] = "";
        buf control = {0};
        uint8_t output[32];
        int have_tree = 0;
        if (json_is_array(json_array_get(t, 0))) {
            json_t *wa = json_array_get(t, 0);
            size_t nw = json_array_size(wa);
            for (size_t i = 0; i + 1 < nw; i++) {
                const char *el = json_string_value(json_array_get(wa, i));
                cr_assert(el && w.n < 64);
                buf *it = &w.items[w.n];
                memset(it, 0, sizeof *it);
                if (strncmp(el, "#SCRIPT#", 8) == 0) {
                    cr_assert(parse_script(el + 8, it, bad, sizeof bad) == 0, "case %zu: bad word %s", idx, bad);
                } else if (strcmp(el, "#CONTROLBLOCK#") == 0) {
                    cr_assert(w.n > 0);
                    taproot_single_leaf(&w.items[w.n - 1], &control, output);
                    have_tree = 1;
                    put(it, control.p, control.n);
                } else {
                    size_t hl = strlen(el);
                    cr_assert(hl % 2 == 0);
                    uint8_t *raw = malloc(hl / 2 + 1);
                    cr_assert(pk_hex_decode(el, raw, hl / 2) == 0, "case %zu: witness not hex", idx);
                    put(it, raw, hl / 2);
                    free(raw);
                }
                w.n++;
            }
            value = btc_amount(json_array_get(wa, nw - 1));
            pos = 1;
        }
        if (json_array_size(t) < 4 + pos) {
            witness_free(&w);
            free(control.p);
            continue; /* a comment */
        }
        cases++;
        const char *s_sig = json_string_value(json_array_get(t, pos));
        const char *s_spk = json_string_value(json_array_get(t, pos + 1));
        const char *s_flags = json_string_value(json_array_get(t, pos + 2));
        const char *s_err = json_string_value(json_array_get(t, pos + 3));
        cr_assert(s_sig && s_spk && s_flags && s_err);
        cr_assert(parse_script(s_sig, &sig, bad, sizeof bad) == 0, "case %zu: bad word %s", idx, bad);
        if (strcmp(s_spk, "0x51 0x20 #TAPROOTOUTPUT#") == 0) {
            cr_assert(have_tree, "case %zu: no tree for the output", idx);
            spk.n = 0;
            put1(&spk, 0x51);
            put1(&spk, 0x20);
            put(&spk, output, 32);
        } else {
            cr_assert(parse_script(s_spk, &spk, bad, sizeof bad) == 0, "case %zu: bad word %s", idx, bad);
        }
        uint32_t flags;
        cr_assert(pk_script_flags_parse(s_flags, &flags, NULL, NULL) == 0, "case %zu: flags %s", idx, s_flags);
        pk_script_error want;
        cr_assert(error_by_short(s_err, &want), "case %zu: error %s", idx, s_err);
        if (flags & PK_SCRIPT_VERIFY_CLEANSTACK)
            flags |= PK_SCRIPT_VERIFY_P2SH | PK_SCRIPT_VERIFY_WITNESS;
        uint8_t txid[32];
        crediting_txid(&spk, value, txid);
        spending_tx(&tx, txid, &sig, &w, value);
        pk_prevout spent = {.value = (uint64_t)value, .script = spk.p, .script_len = spk.n};
        int expect = want == PK_SCRIPT_ERR_OK;
        pk_script_error err;
        int rc = pk_script_verify(spk.p, spk.n, (uint64_t)value, tx.p, tx.n, &spent, 1, 0, flags, &err);
        if (rc != expect || err != want) {
            fails++;
            cr_log_error("script_tests case %zu: %s where %s expected: [%s] [%s] %s", idx,
                         rc < 0 ? "CALL-ERROR" : pk_script_error_short(err), s_err, s_sig, s_spk, s_flags);
        }
        pk_script_error derr;
        int drc = verify_deferred(tx.p, tx.n, &spent, 0, flags, &derr);
        if (drc != rc || derr != err) {
            fails++;
            cr_log_error("script_tests case %zu deferred: %s, direct %s", idx, pk_script_error_short(derr),
                         pk_script_error_short(err));
        }
        ok_cases += rc == expect && err == want;
        /* Removing flags from a passing case or adding them to a failing one keeps the verdict. */
        for (int i = 0; i < 16; i++) {
            uint32_t extra = (uint32_t)(tu_next(&rng) & 0xffff);
            uint32_t f = expect ? (flags & ~extra) : (flags | extra);
            if (!valid_combo(f))
                continue;
            int r2 = pk_script_verify(spk.p, spk.n, (uint64_t)value, tx.p, tx.n, &spent, 1, 0, f, &err);
            if (r2 != expect) {
                fails++;
                cr_log_error("script_tests case %zu with flags %x: %s", idx, f, pk_script_error_short(err));
            }
        }
        witness_free(&w);
        free(control.p);
    }
    free(sig.p);
    free(spk.p);
    free(tx.p);
    json_decref(all);
    cr_log_info("script_tests.json: %zu of %zu cases give Core's answer and error", ok_cases, cases);
    cr_expect(cases > 1200, "only %zu cases read", cases);
    cr_assert_eq(fails, 0, "%zu differences from Core in script_tests.json", fails);
}

/* ---- tx_valid.json / tx_invalid.json ---- */

typedef struct prev {
    uint8_t hash[32];
    uint32_t n;
    buf spk;
    int64_t value;
} prev;

static uint32_t trim_flags(uint32_t f)
{
    if (!(f & PK_SCRIPT_VERIFY_P2SH))
        f &= ~(uint32_t)PK_SCRIPT_VERIFY_WITNESS;
    if (!(f & PK_SCRIPT_VERIFY_WITNESS))
        f &= ~(uint32_t)PK_SCRIPT_VERIFY_CLEANSTACK;
    return f;
}
static uint32_t fill_flags(uint32_t f)
{
    if (f & PK_SCRIPT_VERIFY_CLEANSTACK)
        f |= PK_SCRIPT_VERIFY_WITNESS;
    if (f & PK_SCRIPT_VERIFY_WITNESS)
        f |= PK_SCRIPT_VERIFY_P2SH;
    return f;
}

typedef struct txcase {
    uint8_t *raw;
    size_t len;
    pk_prevout *spent;
    size_t n_in;
} txcase;

static pk_script_error last_err;

/* Core's CheckTxScripts: every input valid (expect_valid) or one invalid. */
static int check_tx_scripts(const txcase *c, uint32_t flags, int expect_valid, int deferred)
{
    int all = 1;
    for (size_t i = 0; i < c->n_in && all; i++) {
        pk_script_error err;
        int rc = deferred ? verify_deferred(c->raw, c->len, c->spent, i, flags, &err)
                          : pk_script_verify(c->spent[i].script, c->spent[i].script_len, c->spent[i].value,
                                             c->raw, c->len, c->spent, c->n_in, i, flags, &err);
        cr_assert(rc >= 0, "call refused");
        all = rc == 1;
        if (all != expect_valid || !all)
            last_err = err;
    }
    if (all != expect_valid)
        cr_log_error("  flags %x%s: %s, expected %s", flags, deferred ? " deferred" : "",
                     pk_script_error_short(last_err), expect_valid ? "valid" : "invalid");
    return all == expect_valid;
}

static void run_tx_file(const char *name, int valid_file)
{
    json_error_t je;
    char path[1024];
    snprintf(path, sizeof path, "%s/core/%s", POWKIT_TEST_DATA, name);
    json_t *all = json_load_file(path, 0, &je);
    cr_assert(all, "%s: %s", path, je.text);
    tu_rng rng = {valid_file ? 0x7a11du : 0x1b7a11du};
    size_t cases = 0, good = 0, badtx = 0, fails = 0;
    for (size_t idx = 0; idx < json_array_size(all); idx++) {
        json_t *t = json_array_get(all, idx);
        if (!json_is_array(json_array_get(t, 0)))
            continue;
        cases++;
        json_t *ins = json_array_get(t, 0);
        const char *hex = json_string_value(json_array_get(t, 1));
        const char *s_flags = json_string_value(json_array_get(t, 2));
        cr_assert(json_array_size(t) == 3 && hex && s_flags, "bad case %zu", idx);
        size_t np = json_array_size(ins);
        prev *pv = calloc(np ? np : 1, sizeof *pv);
        char bad[200];
        for (size_t i = 0; i < np; i++) {
            json_t *in = json_array_get(ins, i);
            const char *h = json_string_value(json_array_get(in, 0));
            cr_assert(h && strlen(h) == 64);
            uint8_t rev[32];
            cr_assert(pk_hex_decode(h, rev, 32) == 0);
            for (int k = 0; k < 32; k++)
                pv[i].hash[k] = rev[31 - k];
            pv[i].n = (uint32_t)json_integer_value(json_array_get(in, 1));
            cr_assert(parse_script(json_string_value(json_array_get(in, 2)), &pv[i].spk, bad, sizeof bad) == 0,
                      "%s case %zu: bad word %s", name, idx, bad);
            pv[i].value = json_array_size(in) >= 4 ? json_integer_value(json_array_get(in, 3)) : 0;
        }
        txcase c = {0};
        c.len = strlen(hex) / 2;
        c.raw = malloc(c.len + 1);
        cr_assert(pk_hex_decode(hex, c.raw, c.len) == 0);
        pk_tx tx;
        pk_verror ve;
        int parsed = pk_tx_parse(&tx, c.raw, c.len, &ve) == 0;
        int checked = parsed && pk_tx_check(c.raw, &tx, &ve) == 0;
        if (!checked) {
            /* Core: CheckTransaction refuses it (or it does not even parse). */
            if (valid_file || strcmp(s_flags, "BADTX") != 0) {
                fails++;
                cr_log_error("%s case %zu refused by CheckTransaction: %s (%s)", name, idx,
                             ve.reason ? ve.reason : "", ve.msg);
            } else {
                badtx++;
                good++;
            }
            goto next;
        }
        if (strcmp(s_flags, "BADTX") == 0) {
            fails++;
            cr_log_error("%s case %zu passes CheckTransaction; Core refuses it", name, idx);
            goto next;
        }
        {
            c.n_in = tx.n_in;
            c.spent = calloc(tx.n_in, sizeof *c.spent);
            pk_block b;
            memset(&b, 0, sizeof b);
            b.data = c.raw;
            b.size = c.len;
            b.ntx = 1;
            b.tx = &tx;
            pk_txin_ref *refs = malloc(tx.n_in * sizeof *refs);
            pk_tx_inputs(&b, &tx, refs);
            for (uint32_t i = 0; i < tx.n_in; i++) {
                const uint8_t *o = c.raw + refs[i].prevout;
                uint32_t n = (uint32_t)o[32] | (uint32_t)o[33] << 8 | (uint32_t)o[34] << 16 | (uint32_t)o[35] << 24;
                size_t k;
                for (k = 0; k < np; k++)
                    if (pv[k].n == n && memcmp(pv[k].hash, o, 32) == 0)
                        break;
                cr_assert(k < np, "%s case %zu: input %u's prevout is not given", name, idx, i);
                c.spent[i].value = (uint64_t)pv[k].value;
                c.spent[i].script = pv[k].spk.p;
                c.spent[i].script_len = pv[k].spk.n;
            }
            free(refs);
            uint32_t flags;
            cr_assert(pk_script_flags_parse(s_flags, &flags, NULL, NULL) == 0, "%s case %zu: flags %s", name, idx,
                      s_flags);
            int ok = 1;
            if (valid_file) {
                uint32_t on = ~flags;
                ok &= check_tx_scripts(&c, on, 1, 0) && check_tx_scripts(&c, on, 1, 1);
                /* removing flags keeps it valid */
                for (int bit = 0; bit < FLAG_BITS; bit++) {
                    ok &= check_tx_scripts(&c, trim_flags(~(flags | 1u << bit)), 1, 0);
                    uint32_t rnd = (uint32_t)(tu_next(&rng) & ((1u << FLAG_BITS) - 1));
                    ok &= check_tx_scripts(&c, trim_flags(~(flags | rnd)), 1, 0);
                }
                /* and the flags are maximal: setting any excluded one fails it */
                for (int bit = 0; bit < FLAG_BITS; bit++) {
                    uint32_t ex = trim_flags(flags & ~(1u << bit));
                    if (ex != flags)
                        ok &= check_tx_scripts(&c, ~ex, 0, 0);
                }
            } else {
                ok &= check_tx_scripts(&c, flags, 0, 0) && check_tx_scripts(&c, flags, 0, 1);
                for (int bit = 0; bit < FLAG_BITS; bit++) {
                    ok &= check_tx_scripts(&c, fill_flags(flags | 1u << bit), 0, 0);
                    uint32_t rnd = (uint32_t)(tu_next(&rng) & ((1u << FLAG_BITS) - 1));
                    ok &= check_tx_scripts(&c, fill_flags(flags | rnd), 0, 0);
                }
                for (int bit = 0; bit < FLAG_BITS; bit++) {
                    uint32_t ex = trim_flags(flags & ~(1u << bit));
                    if (ex != flags)
                        ok &= check_tx_scripts(&c, ex, 1, 0);
                }
            }
            if (ok)
                good++;
            else {
                fails++;
                cr_log_error("%s case %zu differs from Core: %s", name, idx, json_dumps(t, JSON_COMPACT));
            }
        }
    next:
        for (size_t i = 0; i < np; i++)
            free(pv[i].spk.p);
        free(pv);
        free(c.raw);
        free(c.spent);
    }
    json_decref(all);
    cr_log_info("%s: %zu of %zu cases give Core's answer (%zu refused by CheckTransaction)", name, good, cases,
                badtx);
    cr_expect(cases > 80, "only %zu cases read", cases);
    cr_assert_eq(fails, 0, "%zu differences from Core in %s", fails, name);
}

Test(script, core_tx_valid, .timeout = 600) { run_tx_file("tx_valid.json", 1); }
Test(script, core_tx_invalid, .timeout = 600) { run_tx_file("tx_invalid.json", 0); }

/* ---- sighash.json ---- */

Test(script, core_sighash)
{
    json_error_t je;
    char path[1024];
    snprintf(path, sizeof path, "%s/core/sighash.json", POWKIT_TEST_DATA);
    json_t *all = json_load_file(path, 0, &je);
    cr_assert(all, "%s: %s", path, je.text);
    size_t cases = 0, fails = 0;
    for (size_t idx = 0; idx < json_array_size(all); idx++) {
        json_t *t = json_array_get(all, idx);
        if (json_array_size(t) != 5)
            continue;
        const char *txh = json_string_value(json_array_get(t, 0));
        const char *sch = json_string_value(json_array_get(t, 1));
        size_t vin = (size_t)json_integer_value(json_array_get(t, 2));
        uint32_t ht = (uint32_t)(int32_t)json_integer_value(json_array_get(t, 3));
        const char *want = json_string_value(json_array_get(t, 4));
        cr_assert(txh && sch && want);
        cases++;
        size_t tl = strlen(txh) / 2, sl = strlen(sch) / 2;
        uint8_t *raw = malloc(tl + 1), *sc = malloc(sl + 1);
        cr_assert(pk_hex_decode(txh, raw, tl) == 0 && pk_hex_decode(sch, sc, sl) == 0);
        pk_tx tx;
        cr_assert(pk_tx_parse(&tx, raw, tl, NULL) == 0, "sighash case %zu does not parse", idx);
        pk_block b;
        memset(&b, 0, sizeof b);
        b.data = raw;
        b.size = tl;
        b.ntx = 1;
        b.tx = &tx;
        uint8_t h[32];
        char got[65];
        pk_sighash_legacy(&b, &tx, vin, sc, sl, ht, h);
        pk_hash_to_hex(h, got);
        if (strcmp(got, want) != 0) {
            fails++;
            cr_log_error("sighash case %zu: %s, Core %s", idx, got, want);
        }
        free(raw);
        free(sc);
    }
    json_decref(all);
    cr_expect(cases >= 500, "only %zu cases", cases);
    cr_assert_eq(fails, 0, "%zu of %zu sighash cases differ from Core", fails, cases);
}

/* ---- the API's refusals and names ---- */

Test(script, api_refuses_wrong_calls)
{
    /* A one-input, one-output transaction spending an OP_TRUE output. */
    uint8_t spk[1] = {0x51};
    uint8_t txid[32] = {1};
    buf s = {0}, tx = {0};
    witness w = {0};
    spending_tx(&tx, txid, &s, &w, 0);
    pk_prevout spent = {.value = 0, .script = spk, .script_len = 1};
    pk_script_error err;
    cr_assert_eq(pk_script_verify(spk, 1, 0, tx.p, tx.n, &spent, 1, 0, PK_SCRIPT_VERIFY_P2SH, &err), 1);
    cr_assert_eq(pk_script_verify(spk, 1, 0, tx.p, tx.n, &spent, 1, 1, 0, &err), -1, "input out of range");
    cr_assert_eq(pk_script_verify(spk, 1, 0, tx.p, tx.n, &spent, 2, 0, 0, &err), -1, "spent count");
    cr_assert_eq(pk_script_verify(spk, 1, 5, tx.p, tx.n, &spent, 1, 0, 0, &err), -1, "amount not the spent one");
    cr_assert_eq(pk_script_verify(spk, 1, 0, tx.p, tx.n - 1, &spent, 1, 0, 0, &err), -1, "truncated tx");
    cr_assert_eq(pk_script_verify(spk, 1, 0, tx.p, tx.n, &spent, 1, 0, PK_SCRIPT_VERIFY_WITNESS, &err), -1,
                 "WITNESS without P2SH");
    cr_assert_eq(pk_script_verify(spk, 1, 0, tx.p, tx.n, &spent, 1, 0,
                                  PK_SCRIPT_VERIFY_CLEANSTACK | PK_SCRIPT_VERIFY_P2SH, &err),
                 -1, "CLEANSTACK without WITNESS");
    cr_assert_str_eq(pk_script_error_name(PK_SCRIPT_ERR_EVAL_FALSE), "SCRIPT_ERR_EVAL_FALSE");
    cr_assert_str_eq(pk_script_error_short(PK_SCRIPT_ERR_SIG_NULLFAIL), "NULLFAIL");
    uint32_t f;
    const char *badw;
    size_t bl;
    cr_assert_eq(pk_script_flags_parse("P2SH,WITNESS,TAPROOT", &f, NULL, NULL), 0);
    cr_assert_eq(f, PK_SCRIPT_VERIFY_P2SH | PK_SCRIPT_VERIFY_WITNESS | PK_SCRIPT_VERIFY_TAPROOT);
    cr_assert_eq(pk_script_flags_parse("P2SH,BOGUS", &f, &badw, &bl), -1);
    cr_assert_eq(bl, 5);
    cr_assert_eq(strncmp(badw, "BOGUS", 5), 0);
    free(tx.p);
}

/* ---- Core's script_assets_test: the taproot reference cases ---- */

/* The 64 combinations of the consensus flags Core's AllConsensusFlags gives. */
static size_t all_consensus_flags(uint32_t out[128])
{
    static const uint32_t bits[7] = {PK_SCRIPT_VERIFY_P2SH,
                                     PK_SCRIPT_VERIFY_DERSIG,
                                     PK_SCRIPT_VERIFY_NULLDUMMY,
                                     PK_SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY,
                                     PK_SCRIPT_VERIFY_CHECKSEQUENCEVERIFY,
                                     PK_SCRIPT_VERIFY_WITNESS,
                                     PK_SCRIPT_VERIFY_TAPROOT};
    size_t n = 0;
    for (unsigned i = 0; i < 128; i++) {
        uint32_t f = 0;
        for (int k = 0; k < 7; k++)
            if (i >> k & 1)
                f |= bits[k];
        if ((f & PK_SCRIPT_VERIFY_WITNESS) && !(f & PK_SCRIPT_VERIFY_P2SH))
            continue;
        if ((f & PK_SCRIPT_VERIFY_TAPROOT) && !(f & PK_SCRIPT_VERIFY_WITNESS))
            continue;
        out[n++] = f;
    }
    return n;
}

static void hex_to(buf *b, const char *hex)
{
    size_t n = strlen(hex);
    cr_assert(n % 2 == 0);
    b->n = 0;
    uint8_t *t = malloc(n / 2 + 1);
    cr_assert(pk_hex_decode(hex, t, n / 2) == 0, "not hex: %.40s", hex);
    put(b, t, n / 2);
    free(t);
}

/* tx with input idx's scriptSig and witness replaced. */
static void with_input(const buf *raw, size_t idx, const buf *sig, json_t *wit, buf *out)
{
    pk_tx t;
    cr_assert(pk_tx_parse(&t, raw->p, raw->n, NULL) == 0, "the case's transaction does not parse");
    pk_block b;
    memset(&b, 0, sizeof b);
    b.data = raw->p;
    b.size = raw->n;
    b.ntx = 1;
    b.tx = &t;
    pk_txin_ref *ins = malloc(t.n_in * sizeof *ins);
    size_t outs_at = pk_tx_inputs(&b, &t, ins);
    cr_assert(idx < t.n_in);
    /* the witness stacks, serialised, the one replaced */
    buf *w = calloc(t.n_in, sizeof *w);
    int any = 0;
    for (uint32_t i = 0; i < t.n_in; i++) {
        if (i == idx) {
            put_compact(&w[i], json_array_size(wit));
            for (size_t k = 0; k < json_array_size(wit); k++) {
                buf it = {0};
                hex_to(&it, json_string_value(json_array_get(wit, k)));
                put_compact(&w[i], it.n);
                put(&w[i], it.p, it.n);
                free(it.p);
            }
            any |= json_array_size(wit) > 0;
        } else if (ins[i].witness) {
            size_t pos = ins[i].witness, start = pos;
            uint64_t items = pk_compact_get(raw->p, &pos);
            for (uint64_t k = 0; k < items; k++) {
                uint64_t l = pk_compact_get(raw->p, &pos);
                pos += (size_t)l;
            }
            put(&w[i], raw->p + start, pos - start);
            any |= items > 0;
        } else {
            put1(&w[i], 0);
        }
    }
    out->n = 0;
    put(out, raw->p, 4);
    if (any) {
        put1(out, 0);
        put1(out, 1);
    }
    put_compact(out, t.n_in);
    for (uint32_t i = 0; i < t.n_in; i++) {
        put(out, raw->p + ins[i].prevout, 36);
        if (i == idx) {
            put_compact(out, sig->n);
            put(out, sig->p, sig->n);
        } else {
            put_compact(out, ins[i].script_len);
            put(out, raw->p + ins[i].script, ins[i].script_len);
        }
        put(out, raw->p + ins[i].sequence, 4);
    }
    /* the outputs, count included, as they were */
    size_t outs_end = t.io_offset + t.io_size;
    put(out, raw->p + outs_at, outs_end - outs_at);
    if (any)
        for (uint32_t i = 0; i < t.n_in; i++)
            put(out, w[i].p, w[i].n);
    put(out, raw->p + t.lock_offset, 4);
    for (uint32_t i = 0; i < t.n_in; i++)
        free(w[i].p);
    free(w);
    free(ins);
}

Test(script, core_taproot_assets, .timeout = 900)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/core/script_assets_taproot.jsonl", POWKIT_TEST_DATA);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s is missing", path);
    uint32_t combos[128];
    size_t ncombo = all_consensus_flags(combos);
    cr_assert_eq(ncombo, 64);
    static char line[1 << 20];
    size_t cases = 0, runs = 0, fails = 0, upgradable = 0, tapscript = 0;
    buf raw = {0}, tx = {0}, sig = {0};
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *t = json_loads(line, 0, &je);
        cr_assert(t, "line %zu: %s", cases + 1, je.text);
        cases++;
        hex_to(&raw, json_string_value(json_object_get(t, "tx")));
        json_t *pvs = json_object_get(t, "prevouts");
        size_t np = json_array_size(pvs);
        pk_prevout *spent = calloc(np, sizeof *spent);
        buf *spk = calloc(np, sizeof *spk);
        for (size_t i = 0; i < np; i++) {
            buf o = {0};
            hex_to(&o, json_string_value(json_array_get(pvs, i)));
            cr_assert(o.n >= 9);
            uint64_t v = 0;
            for (int k = 0; k < 8; k++)
                v |= (uint64_t)o.p[k] << (8 * k);
            size_t pos = 8;
            uint64_t l = pk_compact_get(o.p, &pos);
            cr_assert(pos + l == o.n, "prevout %zu of line %zu", i, cases);
            put(&spk[i], o.p + pos, (size_t)l);
            free(o.p);
            spent[i].value = v;
            spent[i].script = spk[i].p ? spk[i].p : (const uint8_t *)"";
            spent[i].script_len = spk[i].n;
        }
        size_t idx = (size_t)json_integer_value(json_object_get(t, "index"));
        uint32_t test_flags;
        cr_assert(pk_script_flags_parse(json_string_value(json_object_get(t, "flags")), &test_flags, NULL, NULL) == 0);
        int fin = json_is_true(json_object_get(t, "final"));
        static const char *which[2] = {"success", "failure"};
        for (int w = 0; w < 2; w++) {
            json_t *c = json_object_get(t, which[w]);
            if (!c)
                continue;
            hex_to(&sig, json_string_value(json_object_get(c, "scriptSig")));
            with_input(&raw, idx, &sig, json_object_get(c, "witness"), &tx);
            for (size_t k = 0; k < ncombo; k++) {
                uint32_t fl = combos[k];
                /* Core: successes hold under every subset of the case's flags (all flags when
                 * final); failures fail under every superset. */
                if (w == 0 ? !(fin || (fl & test_flags) == fl) : (fl & test_flags) != test_flags)
                    continue;
                pk_script_error err;
                int rc = pk_script_verify(spent[idx].script, spent[idx].script_len, spent[idx].value, tx.p, tx.n,
                                          spent, np, idx, fl, &err);
                runs++;
                if (rc != (w == 0)) {
                    fails++;
                    cr_log_error("taproot case %zu (%s, %s) %s with flags %x: %s", cases,
                                 json_string_value(json_object_get(t, "comment")), which[w],
                                 rc ? "passes" : "fails", fl, pk_script_error_name(err));
                }
            }
            /* and the same with the checks deferred, at the case's own flags */
            pk_script_error e1, e2;
            int r1 = pk_script_verify(spent[idx].script, spent[idx].script_len, spent[idx].value, tx.p, tx.n, spent,
                                      np, idx, test_flags, &e1);
            int r2 = verify_deferred(tx.p, tx.n, spent, idx, test_flags, &e2);
            if (r1 != r2 || e1 != e2) {
                fails++;
                cr_log_error("taproot case %zu deferred: %d %s, direct %d %s", cases, r2, pk_script_error_name(e2),
                             r1, pk_script_error_name(e1));
            }
            if (w == 0) {
                pk_tx pt;
                cr_assert(pk_tx_parse(&pt, tx.p, tx.n, NULL) == 0);
                pk_block b;
                memset(&b, 0, sizeof b);
                b.data = tx.p;
                b.size = tx.n;
                b.ntx = 1;
                b.tx = &pt;
                pk_script_tx st = {&b, &pt, spent};
                pk_script_info info;
                pk_script_exec(&st, NULL, idx, test_flags, NULL, &e1, &info);
                upgradable += info.upgradable;
                tapscript += info.tapscript;
            }
        }
        for (size_t i = 0; i < np; i++)
            free(spk[i].p);
        free(spk);
        free(spent);
        json_decref(t);
    }
    fclose(f);
    free(raw.p);
    free(tx.p);
    free(sig.p);
    cr_log_info("script_assets_taproot.jsonl: %zu cases, %zu verifications, %zu differences "
                "(%zu tapscript successes, %zu upgradable)",
                cases, runs, fails, tapscript, upgradable);
    cr_expect(cases >= 2700, "only %zu cases", cases);
    cr_assert_eq(fails, 0, "%zu differences from Core in the taproot reference cases", fails);
}

/* The precheck that lets most legacy CHECKSIGs skip FindAndDelete: where
 * it says the signature is nowhere in the script code, FindAndDelete
 * finds nothing; where the signature's push is at an opcode boundary, it
 * says it may be there.  Random scripts of pushes (some of the signature
 * itself, some of its prefix) and single-byte opcodes. */
Test(script, sig_in_code_never_misses_a_find_and_delete)
{
    tu_rng r = {31};
    uint8_t code[600], out[600], sig[80];
    for (int round = 0; round < 20000; round++) {
        size_t sl = tu_below(&r, 4) == 0 ? tu_below(&r, 3) : 1 + tu_below(&r, 75);
        tu_fill(&r, sig, sl);
        if (sl && tu_below(&r, 2))
            sig[0] = 0x30; /* a DER signature's first byte, also a common script byte */
        size_t len = 0;
        int planted = 0;
        while (len < 400 && tu_below(&r, 12) != 0) {
            unsigned kind = tu_below(&r, 5);
            if (kind == 0) { /* the signature's minimal push */
                code[len++] = (uint8_t)sl;
                memcpy(code + len, sig, sl);
                len += sl;
                planted = 1;
            } else if (kind == 1 && sl > 1) { /* a push of a prefix of it */
                size_t k = 1 + tu_below(&r, (uint32_t)sl - 1);
                code[len++] = (uint8_t)k;
                memcpy(code + len, sig, k);
                len += k;
            } else if (kind == 2) { /* random bytes pushed */
                size_t k = tu_below(&r, 40);
                code[len++] = (uint8_t)k;
                tu_fill(&r, code + len, k);
                len += k;
            } else { /* an opcode without data (OP_1 .. OP_NOP10) */
                code[len++] = (uint8_t)(0x51 + tu_below(&r, 0xb9 - 0x51 + 1));
            }
        }
        size_t nl = 0;
        size_t found = pk_scr_find_and_delete(code, len, sig, sl, out, &nl);
        int may = pk_scr_sig_in_code(code, len, sig, sl);
        if (!may)
            cr_assert_eq(found, 0, "round %d: precheck said no, FindAndDelete found %zu", round, found);
        if (planted)
            cr_assert(found > 0 && may, "round %d: a planted push not found (found %zu, may %d)", round, found, may);
    }
    /* A script shorter than the signature: nothing to walk. */
    uint8_t p2pkh[25] = {0x76, 0xa9, 20};
    memset(sig, 0x30, 72);
    cr_assert_eq(pk_scr_sig_in_code(p2pkh, sizeof p2pkh, sig, 72), 0);
}
