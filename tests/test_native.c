/* powkit's own secp256k1 arithmetic: the field and scalar operations
 * against GMP on random values and edges, and the portable engine's
 * answers against libsecp256k1's on signatures made here (valid, mutated,
 * high S, edge values) and on BIP340's vectors and block 413,567. */
#include <criterion/criterion.h>
#include <gmp.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdlib.h>
#include <string.h>

#include "../validate/secp256k1/field.h"
#include "../validate/secp256k1/native.h"
#include "../validate/secp256k1/scalar.h"
#include "powkit/sha256.h"
#include "powkit/sigcheck.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "powkit/verify.h"
#include "testutil.h"

static mpz_t P, N;

static void init_consts(void)
{
    mpz_init_set_str(P, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F", 16);
    mpz_init_set_str(N, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16);
}

static void to_mpz(mpz_t r, const uint8_t b[32]) { mpz_import(r, 32, 1, 1, 1, 0, b); }

static void from_mpz(uint8_t b[32], const mpz_t v)
{
    memset(b, 0, 32);
    size_t count;
    uint8_t tmp[64];
    mpz_export(tmp, &count, 1, 1, 1, 0, v);
    cr_assert(count <= 32);
    memcpy(b + 32 - count, tmp, count);
}

/* Random 32 bytes, with a bias toward edges: all ones, zeros, near p and n. */
static void edge_or_random(tu_rng *r, uint8_t b[32], const mpz_t mod)
{
    tu_fill(r, b, 32);
    mpz_t v;
    mpz_init(v);
    switch (tu_below(r, 8)) {
    case 0: memset(b, 0, 32); b[31] = (uint8_t)tu_below(r, 3); break;                  /* 0, 1, 2 */
    case 1: mpz_sub_ui(v, mod, 1 + tu_below(r, 3)); from_mpz(b, v); break;             /* mod - 1..3 */
    case 2: memset(b, 0xff, 32); break;
    case 3: memset(b, 0, 32); memset(b + tu_below(r, 32), 0xff, 1); break;            /* one byte */
    default: break;
    }
    mpz_clear(v);
}

static void expect_fe(const pk_fe *a, const mpz_t want, const char *what, int i)
{
    uint8_t got[32], w[32];
    pk_fe_get_b32(got, a);
    from_mpz(w, want);
    cr_assert_arr_eq(got, w, 32, "%s, case %d", what, i);
}

Test(native_field, operations_match_gmp)
{
    init_consts();
    tu_rng r = {0x5eed0001};
    mpz_t a, b, t;
    mpz_inits(a, b, t, NULL);
    for (int i = 0; i < 20000; i++) {
        uint8_t ab[32], bb[32];
        edge_or_random(&r, ab, P);
        edge_or_random(&r, bb, P);
        to_mpz(a, ab);
        to_mpz(b, bb);
        pk_fe x, y, z;
        int okx = pk_fe_set_b32(&x, ab), oky = pk_fe_set_b32(&y, bb);
        cr_assert_eq(okx, mpz_cmp(a, P) < 0, "set_b32 range, case %d", i);
        cr_assert_eq(oky, mpz_cmp(b, P) < 0);
        if (!okx || !oky)
            continue;
        pk_fe_mul(&z, &x, &y);
        mpz_mul(t, a, b), mpz_mod(t, t, P);
        expect_fe(&z, t, "mul", i);
        pk_fe_sqr(&z, &x);
        mpz_mul(t, a, a), mpz_mod(t, t, P);
        expect_fe(&z, t, "sqr", i);
        pk_fe_add(&z, &x, &y);
        mpz_add(t, a, b), mpz_mod(t, t, P);
        expect_fe(&z, t, "add", i);
        pk_fe_negate(&z, &x, 1);
        mpz_neg(t, a), mpz_mod(t, t, P);
        expect_fe(&z, t, "negate", i);
        /* unreduced inputs at a high magnitude into a product */
        pk_fe big = x, big2 = y;
        pk_fe_mul_int(&big, &big, 30);
        pk_fe_negate(&big2, &y, 1);
        pk_fe_add(&big2, &big2, &big2);
        pk_fe_mul(&z, &big, &big2);
        mpz_mul_ui(t, a, 30);
        mpz_mul(t, t, b);
        mpz_mul_si(t, t, -2);
        mpz_mod(t, t, P);
        expect_fe(&z, t, "mul of magnitudes 30 and 8", i);
        if (i % 50 == 0 && mpz_sgn(a)) {
            pk_fe_inv(&z, &x);
            mpz_invert(t, a, P);
            expect_fe(&z, t, "inv", i);
            int has = pk_fe_sqrt(&z, &x);
            cr_assert_eq(has, mpz_legendre(a, P) >= 0, "sqrt exists, case %d", i);
            if (has) {
                pk_fe_sqr(&z, &z);
                expect_fe(&z, a, "sqrt squared", i);
            }
        }
    }
    mpz_clears(a, b, t, NULL);
}

Test(native_scalar, operations_match_gmp)
{
    init_consts();
    tu_rng r = {0x5eed0002};
    mpz_t a, b, t;
    mpz_inits(a, b, t, NULL);
    for (int i = 0; i < 20000; i++) {
        uint8_t ab[32], bb[32], got[32], w[32];
        edge_or_random(&r, ab, N);
        edge_or_random(&r, bb, N);
        to_mpz(a, ab);
        to_mpz(b, bb);
        pk_scalar x, y, z;
        cr_assert_eq(pk_scalar_set_b32(&x, ab), mpz_cmp(a, N) >= 0, "overflow flag, case %d", i);
        pk_scalar_set_b32(&y, bb);
        mpz_mod(a, a, N);
        mpz_mod(b, b, N);
        pk_scalar_get_b32(got, &x);
        from_mpz(w, a);
        cr_assert_arr_eq(got, w, 32, "set_b32 reduces, case %d", i);
        pk_scalar_mul(&z, &x, &y);
        mpz_mul(t, a, b), mpz_mod(t, t, N);
        pk_scalar_get_b32(got, &z), from_mpz(w, t);
        cr_assert_arr_eq(got, w, 32, "mul, case %d", i);
        pk_scalar_add(&z, &x, &y);
        mpz_add(t, a, b), mpz_mod(t, t, N);
        pk_scalar_get_b32(got, &z), from_mpz(w, t);
        cr_assert_arr_eq(got, w, 32, "add, case %d", i);
        pk_scalar_negate(&z, &x);
        mpz_neg(t, a), mpz_mod(t, t, N);
        pk_scalar_get_b32(got, &z), from_mpz(w, t);
        cr_assert_arr_eq(got, w, 32, "negate, case %d", i);
        if (i % 50 == 0 && mpz_sgn(a)) {
            pk_scalar_inverse(&z, &x);
            mpz_invert(t, a, N);
            pk_scalar_get_b32(got, &z), from_mpz(w, t);
            cr_assert_arr_eq(got, w, 32, "inverse, case %d", i);
        }
        /* The NAF's digits add back up to the scalar. */
        for (int wdt = 2; wdt <= 8; wdt += 3) {
            int naf[260];
            int len = pk_scalar_wnaf(naf, 260, &x, wdt);
            mpz_set_ui(t, 0);
            for (int k = len - 1; k >= 0; k--) {
                mpz_mul_2exp(t, t, 1);
                if (naf[k] > 0)
                    mpz_add_ui(t, t, (unsigned long)naf[k]);
                else if (naf[k] < 0)
                    mpz_sub_ui(t, t, (unsigned long)-naf[k]);
                cr_assert(naf[k] == 0 || (naf[k] & 1), "odd digits");
                cr_assert(abs(naf[k]) < (1 << (wdt - 1)));
            }
            cr_assert_eq(mpz_cmp(t, a), 0, "wnaf width %d, case %d", wdt, i);
        }
    }
    mpz_clears(a, b, t, NULL);
}

/* ---- the engine against libsecp256k1 ---- */

static secp256k1_context *ctx(void)
{
    static secp256k1_context *c;
    if (!c)
        c = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    return c;
}

/* A check made here: a random key and message, signed; then mutated by
 * kind (0 none, 1 r, 2 s, 3 message, 4 key). */
static void make_check(tu_rng *r, pk_sig_check *c, int schnorr, int mutate)
{
    memset(c, 0, sizeof *c);
    uint8_t key[32];
    do
        tu_fill(r, key, 32);
    while (!secp256k1_ec_seckey_verify(ctx(), key));
    tu_fill(r, c->msg, 32);
    c->msg_len = 32;
    if (schnorr) {
        secp256k1_keypair kp;
        secp256k1_xonly_pubkey xo;
        uint8_t aux[32];
        tu_fill(r, aux, 32);
        cr_assert(secp256k1_keypair_create(ctx(), &kp, key));
        cr_assert(secp256k1_schnorrsig_sign32(ctx(), c->sig, c->msg, &kp, aux));
        cr_assert(secp256k1_keypair_xonly_pub(ctx(), &xo, NULL, &kp));
        secp256k1_xonly_pubkey_serialize(ctx(), c->pubkey, &xo);
        c->type = PK_SIG_SCHNORR, c->pubkey_len = 32, c->sig_len = 64;
    } else {
        secp256k1_pubkey pk;
        secp256k1_ecdsa_signature sig;
        cr_assert(secp256k1_ec_pubkey_create(ctx(), &pk, key));
        cr_assert(secp256k1_ecdsa_sign(ctx(), &sig, c->msg, key, NULL, NULL));
        if (tu_below(r, 2)) { /* high S: consensus takes it */
            uint8_t rs[64];
            secp256k1_ecdsa_signature_serialize_compact(ctx(), rs, &sig);
            mpz_t s;
            mpz_init(s);
            to_mpz(s, rs + 32);
            mpz_sub(s, N, s);
            from_mpz(rs + 32, s);
            mpz_clear(s);
            secp256k1_ecdsa_signature_parse_compact(ctx(), &sig, rs);
        }
        size_t l = 72, pl = 65;
        secp256k1_ecdsa_signature_serialize_der(ctx(), c->sig, &l, &sig);
        c->sig_len = (uint8_t)l;
        int compressed = (int)tu_below(r, 2);
        secp256k1_ec_pubkey_serialize(ctx(), c->pubkey, &pl, &pk,
                                      compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
        c->pubkey_len = (uint8_t)pl;
        c->type = PK_SIG_ECDSA;
    }
    uint8_t bit = (uint8_t)(1u << tu_below(r, 8));
    switch (mutate) {
    case 1: c->sig[schnorr ? tu_below(r, 32) : 5 + tu_below(r, 20)] ^= bit; break;
    case 2: c->sig[schnorr ? 32 + tu_below(r, 32) : c->sig_len - 1 - tu_below(r, 20)] ^= bit; break;
    case 3: c->msg[tu_below(r, 32)] ^= bit; break;
    case 4: c->pubkey[1 + tu_below(r, 31)] ^= bit; break;
    }
}

/* powkit's own engines this machine runs: portable always; ifma where
 * the CPU has IFMA (a CPU without it is told in the log, not failed). */
static int own_engines(pk_engine out[PK_ENGINE_COUNT])
{
    int n = 0;
    for (int e = PK_ENGINE_PORTABLE; e < PK_ENGINE_COUNT; e++) {
        if (pk_engine_available((pk_engine)e))
            out[n++] = (pk_engine)e;
        else if (e == PK_ENGINE_PORTABLE)
            cr_assert_fail("the portable engine failed its self-test");
        else
            cr_log_info("engine %s not available on this CPU: not tested", pk_engine_name((pk_engine)e));
    }
    return n;
}

static pk_verifier *verifier_with(unsigned threads, pk_engine e)
{
    pk_verifier *v = pk_verifier_new(threads);
    cr_assert(v);
    cr_assert_eq(pk_verifier_set_engine(v, e), 0, "engine %s", pk_engine_name(e));
    if (e == PK_ENGINE_LIBSECP256K1)
        pk_verifier_set_batch(v, 0); /* the oracle: libsecp256k1 alone */
    return v;
}

/* Every check through libsecp256k1 and each own engine: the same answers
 * and reasons.  c gets libsecp256k1's. */
static void compare_engines(pk_sig_check *c, size_t n, const char *what)
{
    pk_engine own[PK_ENGINE_COUNT];
    int ne = own_engines(own);
    pk_verifier *lib = verifier_with(2, PK_ENGINE_LIBSECP256K1);
    pk_sig_check *d = malloc(n * sizeof *d);
    pk_sig_check *orig = malloc(n * sizeof *orig);
    memcpy(orig, c, n * sizeof *orig);
    pk_verifier_run(lib, c, n, 0);
    size_t valid = 0;
    for (size_t i = 0; i < n; i++)
        valid += c[i].valid == 1;
    cr_assert_gt(valid, 0);
    for (int k = 0; k < ne; k++) {
        pk_verifier *nat = verifier_with(2, own[k]);
        memcpy(d, orig, n * sizeof *d);
        pk_verifier_run(nat, d, n, 0);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(d[i].valid, c[i].valid, "%s %zu: %s says %d, libsecp256k1 %d", what, i,
                         pk_engine_name(own[k]), d[i].valid, c[i].valid);
            cr_assert_str_eq(d[i].reason ? d[i].reason : "", c[i].reason ? c[i].reason : "", "%s %zu: %s's reason",
                             what, i, pk_engine_name(own[k]));
        }
        pk_verifier_free(nat);
    }
    free(d);
    free(orig);
    pk_verifier_free(lib);
}

Test(native_engine, random_signatures_equal_libsecp256k1, .timeout = 300)
{
    init_consts();
    tu_rng r = {0x5eed0003};
    enum { COUNT = 4000 };
    pk_sig_check *c = malloc(COUNT * sizeof *c);
    for (size_t i = 0; i < COUNT; i++)
        make_check(&r, &c[i], (int)(i & 1), (int)(i / 2 % 5));
    compare_engines(c, COUNT, "random");
    free(c);
}

/* Edges by construction: r or s zero, n, n - 1; r with r + n < p; P = G,
 * P = -G; a key that is not a point; every lane of a batch of 1 to 17. */
Test(native_engine, edges_equal_libsecp256k1)
{
    init_consts();
    uint8_t g_comp[33] = {0x02, 0x79, 0xBE, 0x66, 0x7E, 0xF9, 0xDC, 0xBB, 0xAC, 0x55, 0xA0, 0x62,
                          0x95, 0xCE, 0x87, 0x0B, 0x07, 0x02, 0x9B, 0xFC, 0xDB, 0x2D, 0xCE,
                          0x28, 0xD9, 0x59, 0xF2, 0x81, 0x5B, 0x16, 0xF8, 0x17, 0x98};
    tu_rng r = {0x5eed0004};
    pk_sig_check c[64];
    size_t n = 0;
    /* ECDSA with key G (secret 1) and -G: valid signatures made by hand. */
    for (int neg = 0; neg <= 1; neg++) {
        uint8_t key[32] = {0};
        key[31] = 1;
        if (neg) {
            mpz_t k;
            mpz_init(k);
            mpz_sub_ui(k, N, 1);
            from_mpz(key, k);
            mpz_clear(k);
        }
        pk_sig_check *x = &c[n++];
        memset(x, 0, sizeof *x);
        tu_fill(&r, x->msg, 32);
        x->msg_len = 32;
        secp256k1_ecdsa_signature sig;
        cr_assert(secp256k1_ecdsa_sign(ctx(), &sig, x->msg, key, NULL, NULL));
        size_t l = 72;
        secp256k1_ecdsa_signature_serialize_der(ctx(), x->sig, &l, &sig);
        x->sig_len = (uint8_t)l;
        memcpy(x->pubkey, g_comp, 33);
        x->pubkey[0] = neg ? 0x03 : 0x02;
        x->pubkey_len = 33;
        x->type = PK_SIG_ECDSA;
    }
    /* Compact r and s at the edges, as DER, against a real key. */
    static const char *vals[] = {"00", "01", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140",
                                 "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
                                 "14551231950B75FC4402DA1722FC9BAED", "14551231950B75FC4402DA1722FC9BAEE"};
    for (size_t i = 0; i < 6; i++) {
        for (size_t k = 0; k < 6; k++) {
            pk_sig_check *x = &c[n++];
            make_check(&r, x, 0, 0);
            uint8_t rv[33] = {0}, sv[33] = {0};
            size_t rl = strlen(vals[i]) / 2, sl = strlen(vals[k]) / 2;
            pk_hex_decode(vals[i], rv + 33 - rl, rl);
            pk_hex_decode(vals[k], sv + 33 - sl, sl);
            /* minimal DER integers: no leading zeros but one before a high bit */
            const uint8_t *ri = rv, *si = sv;
            size_t rn = 33, sn = 33;
            while (rn > 1 && ri[0] == 0 && !(ri[1] & 0x80))
                ri++, rn--;
            while (sn > 1 && si[0] == 0 && !(si[1] & 0x80))
                si++, sn--;
            uint8_t *d = x->sig;
            d[0] = 0x30, d[1] = (uint8_t)(4 + rn + sn), d[2] = 2, d[3] = (uint8_t)rn;
            memcpy(d + 4, ri, rn);
            d[4 + rn] = 2, d[5 + rn] = (uint8_t)sn;
            memcpy(d + 6 + rn, si, sn);
            x->sig_len = (uint8_t)(6 + rn + sn);
        }
    }
    compare_engines(c, n, "edges");
    pk_engine own[PK_ENGINE_COUNT];
    int ne = own_engines(own);
    pk_verifier *lib = verifier_with(1, PK_ENGINE_LIBSECP256K1);
    for (int k = 0; k < ne; k++) {
        pk_verifier *nat = verifier_with(1, own[k]);
        for (size_t i = 0; i < n; i++) {
            pk_sig_check a = c[i], b = c[i];
            pk_sig_check_one(lib, &a);
            pk_sig_check_one(nat, &b);
            cr_assert_eq(b.valid, a.valid, "edge %zu, one at a time, %s", i, pk_engine_name(own[k]));
        }
        pk_verifier_free(nat);
    }
    /* r near p - n: with a key chosen so that x(R) lands in [n, p) the
     * second comparison matters; here both engines must at least agree
     * on r = p - n - 1 and r = p - n for every s above. */
    /* A bad signature in every position of batches of 1 to 17, of one
     * kind (every lane of a group) and mixed. */
    for (int k = 0; k < ne; k++) {
        pk_verifier *nat = verifier_with(1, own[k]);
        for (int mix = 0; mix < 3; mix++) {
            for (size_t len = 1; len <= 17; len++) {
                pk_sig_check batch[17];
                for (size_t bad = 0; bad < len; bad++) {
                    for (size_t i = 0; i < len; i++)
                        make_check(&r, &batch[i], mix == 2 ? (int)(i % 2) : mix, i == bad ? 1 + (int)(i % 4) : 0);
                    pk_verifier_run(nat, batch, len, 0);
                    for (size_t i = 0; i < len; i++)
                        cr_assert_eq(batch[i].valid, i == bad ? 0 : 1, "%s: batch %zu (mix %d), bad %zu, at %zu",
                                     pk_engine_name(own[k]), len, mix, bad, i);
                }
            }
        }
        pk_verifier_free(nat);
    }
    pk_verifier_free(lib);
}

/* BIP340's vectors and every signature of block 413,567 with the engine. */
static void vectors_and_block(pk_engine engine)
{
    pk_verifier *v = verifier_with(2, engine);
    size_t len;
    char *csv = (char *)tu_read_data("bip340-test-vectors.csv", &len);
    csv = realloc(csv, len + 1);
    csv[len] = 0;
    char *save, *line = strtok_r(csv, "\n", &save);
    int rows = 0;
    pk_sig_check all[19];
    for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[8] = {0}, *p = line;
        for (int i = 0; i < 8 && p; i++) {
            f[i] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = 0;
        }
        pk_sig_check c = {.type = PK_SIG_SCHNORR, .pubkey_len = 32, .sig_len = 64};
        c.msg_len = (uint16_t)(strlen(f[4]) / 2);
        pk_hex_decode(f[2], c.pubkey, 32);
        pk_hex_decode(f[5], c.sig, 64);
        pk_hex_decode(f[4], c.msg, c.msg_len);
        pk_sig_check_one(v, &c);
        cr_assert_eq(c.valid, strncmp(f[6], "TRUE", 4) == 0, "%s: BIP340 row %d", pk_engine_name(engine), rows);
        all[rows] = c;
        rows++;
    }
    cr_assert_eq(rows, 19);
    /* the same rows as one batch: groups of lanes, a partial one */
    pk_sig_check again[19];
    memcpy(again, all, sizeof again);
    pk_verifier_run(v, again, 19, 0);
    for (int i = 0; i < 19; i++)
        cr_assert_eq(again[i].valid, all[i].valid, "%s: BIP340 row %d in a batch", pk_engine_name(engine), i);
    free(csv);
    uint8_t *d = tu_read_data("block413567.raw", &len);
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, d, len, &e), 0);
    pk_block_hash_txs(&b);
    pk_sig_report rep;
    cr_assert_eq(pk_block_verify_sigs(&b, NULL, v, &rep), 0, "%s", rep.failed_inputs ? rep.failures[0].reason : "");
    cr_assert_eq(rep.valid_inputs, 4886);
    cr_assert_eq(rep.signatures, 5815);
    pk_sig_report_free(&rep);
    pk_block_free(&b);
    free(d);
    pk_verifier_free(v);
}

Test(native_engine, bip340_vectors_and_block_413567, .timeout = 300)
{
    pk_engine own[PK_ENGINE_COUNT];
    int ne = own_engines(own);
    for (int k = 0; k < ne; k++)
        vectors_and_block(own[k]);
}

/* The engine can be switched off, and names are exact. */
Test(native_engine, names_and_disable)
{
    pk_engine e;
    cr_assert_eq(pk_engine_parse("portable", &e), 0);
    cr_assert_eq(e, PK_ENGINE_PORTABLE);
    cr_assert_eq(pk_engine_parse("libsecp256k1", &e), 0);
    cr_assert_eq(e, PK_ENGINE_LIBSECP256K1);
    cr_assert_eq(pk_engine_parse("ifma9", &e), -1);
    cr_assert_eq(pk_engine_parse("ifma", &e), 0);
    cr_assert_eq(e, PK_ENGINE_IFMA);
    cr_assert_str_eq(pk_engine_name(PK_ENGINE_IFMA), "ifma");
    if (pk_engine_available(PK_ENGINE_IFMA)) {
        cr_assert_eq(pk_engine_default(), PK_ENGINE_IFMA, "the fastest engine is the default");
        setenv("POWKIT_DISABLE", "ifma", 1);
        cr_assert_not(pk_engine_available(PK_ENGINE_IFMA));
        cr_assert_eq(pk_engine_default(), PK_ENGINE_LIBSECP256K1, "without ifma the default is libsecp256k1");
        pk_verifier *w = pk_verifier_new(1);
        cr_assert_eq(pk_verifier_engine(w), PK_ENGINE_LIBSECP256K1);
        cr_assert_eq(pk_verifier_set_engine(w, PK_ENGINE_IFMA), -1);
        pk_verifier_free(w);
        unsetenv("POWKIT_DISABLE");
    } else {
        cr_assert_eq(pk_engine_default(), PK_ENGINE_LIBSECP256K1);
    }
    cr_assert_str_eq(pk_engine_name(PK_ENGINE_PORTABLE), "portable");
    cr_assert(pk_engine_available(PK_ENGINE_PORTABLE));
    setenv("POWKIT_DISABLE", "avx2,portable", 1);
    cr_assert_not(pk_engine_available(PK_ENGINE_PORTABLE));
    pk_verifier *v = pk_verifier_new(1);
    cr_assert_eq(pk_verifier_set_engine(v, PK_ENGINE_PORTABLE), -1);
    pk_engine before = pk_verifier_engine(v);
    cr_assert_eq(pk_verifier_set_engine(v, PK_ENGINE_PORTABLE), -1);
    cr_assert_eq(pk_verifier_engine(v), before, "a refused engine leaves the verifier as it was");
    unsetenv("POWKIT_DISABLE");
    cr_assert_eq(pk_verifier_set_engine(v, PK_ENGINE_PORTABLE), 0);
    cr_assert_eq(pk_verifier_engine(v), PK_ENGINE_PORTABLE);
    pk_verifier_free(v);
}

/* ---- the IFMA engine's own parts ---- */

/* A field element for the lanes: below p, or any limbs below 2^52 (a value
 * up to 2^260, not reduced), with limbs at their maximum often. */
static void lane_value(tu_rng *r, pk_fe *a, mpz_t v)
{
    uint8_t b[32];
    if (tu_below(r, 3) == 0) {
        edge_or_random(r, b, P);
        to_mpz(v, b);
        mpz_mod(v, v, P);
        from_mpz(b, v);
        pk_fe_set_b32(a, b);
    } else {
        for (int i = 0; i < 5; i++) {
            uint64_t x;
            tu_fill(r, (uint8_t *)&x, 8);
            switch (tu_below(r, 4)) {
            case 0: x = PK_FE_M52; break;   /* the largest a product takes */
            case 1: x = PK_FE_P[i]; break;  /* p's own limb */
            case 2: x &= 0xF; break;        /* small */
            default: x &= PK_FE_M52; break;
            }
            a->n[i] = x;
        }
    }
    mpz_set_ui(v, 0);
    for (int i = 4; i >= 0; i--) {
        mpz_mul_2exp(v, v, 52);
        mpz_add_ui(v, v, a->n[i]);
    }
}

static void expect_lane(const pk_fe *got, const mpz_t want, int carried, const char *what, int i, int lane)
{
    if (carried) {
        for (int k = 0; k < 4; k++)
            cr_assert_lt(got->n[k], 1ull << 52, "%s, case %d lane %d: limb %d not carried", what, i, lane, k);
        cr_assert_lt(got->n[4], 1ull << 49, "%s, case %d lane %d: top limb above 2^49", what, i, lane);
    }
    mpz_t w;
    mpz_init(w);
    mpz_mod(w, want, P);
    expect_fe(got, w, what, i * 8 + lane);
    mpz_clear(w);
}

Test(ifma_field, operations_match_gmp_in_every_lane)
{
    init_consts();
    pk_fe a[8], b[8], z[8];
    if (pk_ifma_fe_op(PK_IFMA_MUL, z, a, b) < 0) {
        cr_log_info("no AVX-512 IFMA on this CPU: the ifma field is not tested");
        return;
    }
    tu_rng r = {0x5eed0010};
    mpz_t va[8], vb[8], t, e;
    for (int l = 0; l < 8; l++)
        mpz_inits(va[l], vb[l], NULL);
    mpz_inits(t, e, NULL);
    mpz_add_ui(e, P, 1);
    mpz_fdiv_q_2exp(e, e, 2); /* (p + 1) / 4 */
    for (int i = 0; i < 3000; i++) {
        for (int l = 0; l < 8; l++) {
            lane_value(&r, &a[l], va[l]);
            lane_value(&r, &b[l], vb[l]);
        }
        cr_assert_eq(pk_ifma_fe_op(PK_IFMA_MUL, z, a, b), 0);
        for (int l = 0; l < 8; l++) {
            mpz_mul(t, va[l], vb[l]);
            expect_lane(&z[l], t, 1, "mul", i, l);
        }
        pk_ifma_fe_op(PK_IFMA_SQR, z, a, b);
        for (int l = 0; l < 8; l++) {
            mpz_mul(t, va[l], va[l]);
            expect_lane(&z[l], t, 1, "sqr", i, l);
        }
        pk_ifma_fe_op(PK_IFMA_ADD, z, a, b);
        for (int l = 0; l < 8; l++) {
            mpz_add(t, va[l], vb[l]);
            expect_lane(&z[l], t, 1, "add", i, l);
        }
        pk_ifma_fe_op(PK_IFMA_SUB, z, a, b);
        for (int l = 0; l < 8; l++) {
            mpz_sub(t, va[l], vb[l]);
            expect_lane(&z[l], t, 1, "sub", i, l);
        }
        if (i % 20 == 0) {
            pk_ifma_fe_op(PK_IFMA_SQRT, z, a, b);
            for (int l = 0; l < 8; l++) {
                mpz_powm(t, va[l], e, P);
                expect_lane(&z[l], t, 0, "sqrt candidate", i, l);
            }
        }
    }
    for (int l = 0; l < 8; l++)
        mpz_clears(va[l], vb[l], NULL);
    mpz_clears(t, e, NULL);
}

/* Signatures whose multi-scalar multiplication meets the sums the lanes'
 * formulas cannot do (a point plus itself or its negation, a result at
 * infinity): tiny u1, u2 and keys that are tiny multiples of G, so the
 * terms of the sum collide.  Every engine must give libsecp256k1's answer
 * (and the valid ones must be valid). */
Test(native_engine, ladder_exceptions_equal_libsecp256k1)
{
    init_consts();
    pk_sig_check c[256];
    size_t n = 0;
    mpz_t k, rr, ss, mm, t;
    mpz_inits(k, rr, ss, mm, t, NULL);
    static const long keys[] = {1, 2, 3, -1, -2};
    for (long a = 0; a <= 4; a++) {
        for (long b = 1; b <= 4; b++) {
            for (size_t ki = 0; ki < sizeof keys / sizeof keys[0]; ki++) {
                for (int high = 0; high <= 1; high++) {
                    /* R = (a + b key) G; r = x(R); s = r / b; m = a s: then u1 = a, u2 = b */
                    long sum = a + b * keys[ki];
                    pk_sig_check *x = &c[n++];
                    memset(x, 0, sizeof *x);
                    uint8_t sec[32], pub[65], kb[32];
                    mpz_set_si(k, keys[ki]);
                    mpz_mod(k, k, N);
                    from_mpz(kb, k);
                    secp256k1_pubkey pk;
                    cr_assert(secp256k1_ec_pubkey_create(ctx(), &pk, kb));
                    size_t pl = 33;
                    secp256k1_ec_pubkey_serialize(ctx(), x->pubkey, &pl, &pk, SECP256K1_EC_COMPRESSED);
                    x->pubkey_len = 33;
                    if (sum != 0) {
                        mpz_set_si(t, sum);
                        mpz_mod(t, t, N);
                        from_mpz(sec, t);
                        secp256k1_pubkey rp;
                        cr_assert(secp256k1_ec_pubkey_create(ctx(), &rp, sec));
                        pl = 65;
                        secp256k1_ec_pubkey_serialize(ctx(), pub, &pl, &rp, SECP256K1_EC_UNCOMPRESSED);
                        mpz_import(rr, 32, 1, 1, 1, 0, pub + 1);
                        mpz_mod(rr, rr, N);
                    } else {
                        mpz_set_ui(rr, 0x1234567); /* R at infinity: any r is wrong */
                    }
                    mpz_set_si(t, b);
                    mpz_invert(t, t, N);
                    mpz_mul(ss, rr, t);
                    mpz_mod(ss, ss, N);
                    mpz_mul_si(mm, ss, a);
                    mpz_mod(mm, mm, N);
                    if (high) /* the other S: u1 and u2 both negated */
                        mpz_sub(ss, N, ss);
                    uint8_t rs[64];
                    from_mpz(rs, rr);
                    from_mpz(rs + 32, ss);
                    from_mpz(x->msg, mm);
                    x->msg_len = 32;
                    secp256k1_ecdsa_signature sig;
                    cr_assert(secp256k1_ecdsa_signature_parse_compact(ctx(), &sig, rs));
                    size_t l = 72;
                    secp256k1_ecdsa_signature_serialize_der(ctx(), x->sig, &l, &sig);
                    x->sig_len = (uint8_t)l;
                    x->type = PK_SIG_ECDSA;
                }
            }
        }
    }
    /* BIP340 with key G (secret 1): s = e gives s G - e G = infinity; and
     * valid signatures with a tiny nonce k (s = k + e). */
    static const char tag[] = "BIP0340/challenge";
    uint8_t th[32], gx[32];
    pk_sha256((const uint8_t *)tag, sizeof tag - 1, th);
    {
        uint8_t one[32] = {0};
        one[31] = 1;
        secp256k1_pubkey g;
        cr_assert(secp256k1_ec_pubkey_create(ctx(), &g, one));
        uint8_t ser[33];
        size_t pl = 33;
        secp256k1_ec_pubkey_serialize(ctx(), ser, &pl, &g, SECP256K1_EC_COMPRESSED);
        memcpy(gx, ser + 1, 32);
    }
    for (int kk = 1; kk <= 12; kk++) {
        uint8_t kb[32] = {0}, ser[33], buf[160], e32[32];
        kb[31] = (uint8_t)kk;
        secp256k1_pubkey rp;
        cr_assert(secp256k1_ec_pubkey_create(ctx(), &rp, kb));
        size_t pl = 33;
        secp256k1_ec_pubkey_serialize(ctx(), ser, &pl, &rp, SECP256K1_EC_COMPRESSED);
        for (int inf = 0; inf <= 1; inf++) {
            pk_sig_check *x = &c[n++];
            memset(x, 0, sizeof *x);
            x->type = PK_SIG_SCHNORR, x->pubkey_len = 32, x->sig_len = 64, x->msg_len = 32;
            memcpy(x->pubkey, gx, 32);
            memset(x->msg, kk * 7 + inf, 32);
            memcpy(x->sig, ser + 1, 32);
            memcpy(buf, th, 32), memcpy(buf + 32, th, 32), memcpy(buf + 64, x->sig, 32), memcpy(buf + 96, gx, 32),
                memcpy(buf + 128, x->msg, 32);
            pk_sha256(buf, 160, e32);
            to_mpz(t, e32);
            mpz_mod(t, t, N);
            if (!inf && ser[0] == 0x02)
                mpz_add_ui(t, t, (unsigned long)kk); /* s = k + e: valid when kG has an even y */
            mpz_mod(t, t, N);
            from_mpz(x->sig + 32, t);
        }
    }
    mpz_clears(k, rr, ss, mm, t, NULL);
    /* libsecp256k1's verdicts first: the constructions must be what they claim */
    pk_verifier *lib = verifier_with(1, PK_ENGINE_LIBSECP256K1);
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        pk_sig_check y = c[i];
        pk_sig_check_one(lib, &y);
        valid += y.valid == 1;
    }
    pk_verifier_free(lib);
    cr_assert_gt(valid, n / 2, "only %zu of %zu constructions valid", valid, n);
    uint64_t before = pk_ifma_fallbacks();
    compare_engines(c, n, "ladder exception");
    if (pk_engine_available(PK_ENGINE_IFMA))
        cr_assert_gt(pk_ifma_fallbacks() - before, 20, "the constructions should reach the lanes' exceptions");
}

/* ECDSA's second comparison: x(R) in [n, p), so r = x(R) - n and only
 * (r + n) Z^2 == X accepts.  Nobody knows a key whose signature lands
 * there, but verification needs no secret: pick R with such an x, u1 and
 * u2, and the key P = (R - u1 G) / u2; then s = r / u2, m = u1 s. */
Test(native_engine, r_plus_n_below_p_equal_libsecp256k1)
{
    init_consts();
    tu_rng rng = {0x5eed0020};
    pk_sig_check c[48];
    size_t n = 0;
    mpz_t x, rhs, u1, u2, inv, r, s, m, t;
    mpz_inits(x, rhs, u1, u2, inv, r, s, m, t, NULL);
    mpz_set(x, N);
    while (n < 48) {
        /* the next x >= n with x^3 + 7 a square */
        mpz_add_ui(x, x, 1);
        mpz_powm_ui(rhs, x, 3, P);
        mpz_add_ui(rhs, rhs, 7);
        mpz_mod(rhs, rhs, P);
        if (mpz_legendre(rhs, P) != 1)
            continue;
        for (int k = 0; k < 4 && n < 48; k++) {
            uint8_t b[32], rc[33];
            rc[0] = (uint8_t)(2 + (k & 1));
            from_mpz(rc + 1, x);
            secp256k1_pubkey R, T, mu1g, P1;
            cr_assert(secp256k1_ec_pubkey_parse(ctx(), &R, rc, 33));
            do {
                tu_fill(&rng, b, 32);
                to_mpz(u1, b);
                mpz_mod(u1, u1, N);
                tu_fill(&rng, b, 32);
                to_mpz(u2, b);
                mpz_mod(u2, u2, N);
            } while (!mpz_sgn(u1) || !mpz_sgn(u2));
            mpz_sub(t, N, u1); /* -u1 G */
            from_mpz(b, t);
            cr_assert(secp256k1_ec_pubkey_create(ctx(), &mu1g, b));
            const secp256k1_pubkey *two[2] = {&R, &mu1g};
            if (!secp256k1_ec_pubkey_combine(ctx(), &T, two, 2))
                continue; /* R = u1 G: astronomically unlikely */
            mpz_invert(inv, u2, N);
            from_mpz(b, inv);
            P1 = T;
            cr_assert(secp256k1_ec_pubkey_tweak_mul(ctx(), &P1, b));
            mpz_sub(r, x, N);
            mpz_mul(s, r, inv);
            mpz_mod(s, s, N);
            mpz_mul(m, u1, s);
            mpz_mod(m, m, N);
            pk_sig_check *y = &c[n++];
            memset(y, 0, sizeof *y);
            uint8_t rs[64];
            from_mpz(rs, r);
            if (k >= 2) /* the high S of the same signature */
                mpz_sub(s, N, s);
            from_mpz(rs + 32, s);
            from_mpz(y->msg, m);
            y->msg_len = 32;
            secp256k1_ecdsa_signature sig;
            cr_assert(secp256k1_ecdsa_signature_parse_compact(ctx(), &sig, rs));
            size_t l = 72, pl = 33;
            secp256k1_ecdsa_signature_serialize_der(ctx(), y->sig, &l, &sig);
            y->sig_len = (uint8_t)l;
            secp256k1_ec_pubkey_serialize(ctx(), y->pubkey, &pl, &P1, SECP256K1_EC_COMPRESSED);
            y->pubkey_len = 33;
            y->type = PK_SIG_ECDSA;
            if (n % 3 == 0 && n < 48) { /* and one with the message off by one: invalid */
                pk_sig_check *z = &c[n++];
                *z = *y;
                z->msg[31] ^= 1;
            }
        }
    }
    mpz_clears(x, rhs, u1, u2, inv, r, s, m, t, NULL);
    pk_verifier *lib = verifier_with(1, PK_ENGINE_LIBSECP256K1);
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        pk_sig_check y = c[i];
        pk_sig_check_one(lib, &y);
        valid += y.valid == 1;
    }
    pk_verifier_free(lib);
    cr_assert_geq(valid, 30, "the constructions should be valid signatures (%zu of %zu)", valid, n);
    compare_engines(c, n, "x(R) above n");
}
