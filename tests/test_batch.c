/* BIP340 batch verification: every answer equal to single verification
 * (libsecp256k1's), for batches of every size, with bad signatures of
 * every kind in every position, through the MSM directly (both backends)
 * and through pk_verifier_run. */
#include <criterion/criterion.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdlib.h>
#include <string.h>

#include "../validate/secp256k1/batch.h"
#include "powkit/util.h"
#include "powkit/verify.h"
#include "testutil.h"

static secp256k1_context *ctx(void)
{
    static secp256k1_context *c;
    if (!c)
        c = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    return c;
}

/* n valid BIP340 checks signed by libsecp256k1 (message lengths vary:
 * 32 mostly, 0 and up to 100 sometimes); every fifth key used twice. */
static pk_sig_check *signed_checks(tu_rng *r, size_t n)
{
    pk_sig_check *c = calloc(n, sizeof *c);
    cr_assert(c);
    secp256k1_keypair kp;
    for (size_t i = 0; i < n; i++) {
        uint8_t key[32], aux[32];
        if (i % 5 != 1) { /* a new key; otherwise the previous one again */
            do
                tu_fill(r, key, 32);
            while (!secp256k1_keypair_create(ctx(), &kp, key));
        }
        tu_fill(r, aux, 32);
        size_t ml = i % 7 == 3 ? tu_below(r, 101) : 32;
        tu_fill(r, c[i].msg, ml);
        c[i].msg_len = (uint16_t)ml;
        c[i].type = PK_SIG_SCHNORR, c[i].sig_len = 64, c[i].pubkey_len = 32;
        secp256k1_xonly_pubkey xo;
        secp256k1_schnorrsig_extraparams ep = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
        ep.ndata = aux;
        cr_assert(secp256k1_schnorrsig_sign_custom(ctx(), c[i].sig, c[i].msg, ml, &kp, &ep));
        cr_assert(secp256k1_keypair_xonly_pub(ctx(), &xo, NULL, &kp));
        secp256k1_xonly_pubkey_serialize(ctx(), c[i].pubkey, &xo);
    }
    return c;
}

/* libsecp256k1's single answer, and its reason. */
static void single(pk_sig_check *c)
{
    static pk_verifier *lib;
    if (!lib) {
        lib = pk_verifier_new(1);
        cr_assert_eq(pk_verifier_set_engine(lib, PK_ENGINE_LIBSECP256K1), 0);
        pk_verifier_set_batch(lib, 0);
    }
    pk_sig_check_one(lib, c);
}

/* Mutations by kind: 0 r, 1 s, 2 message, 3 key, 4 a key that does not
 * lift, 5 an r that is no point's x, 6 r = p, 7 s = n. */
static void mutate(tu_rng *r, pk_sig_check *c, int kind)
{
    static const uint8_t P[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFC, 0x2F};
    static const uint8_t N[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                  0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
    uint8_t bit = (uint8_t)(1u << tu_below(r, 8));
    switch (kind) {
    case 0: c->sig[tu_below(r, 32)] ^= bit; break;
    case 1: c->sig[32 + tu_below(r, 32)] ^= bit; break;
    case 2: c->msg_len ? (void)(c->msg[tu_below(r, c->msg_len)] ^= bit) : (void)(c->msg_len = 1); break;
    case 3: c->pubkey[tu_below(r, 32)] ^= bit; break;
    case 4: memset(c->pubkey, 0xFF, 32); break; /* x >= p */
    case 5: memset(c->sig, 0, 31), c->sig[31] = (uint8_t)(5 + tu_below(r, 2)); break; /* a small x: often no point's */
    case 6: memcpy(c->sig, P, 32); break;
    case 7: memcpy(c->sig + 32, N, 32); break;
    }
}

static void expect_single(const pk_sig_check *got, const pk_sig_check *orig, const char *what, size_t i)
{
    pk_sig_check want = *orig;
    single(&want);
    cr_assert_eq(got->valid, want.valid, "%s, check %zu: %d, single %d", what, i, got->valid, want.valid);
    cr_assert_str_eq(got->reason ? got->reason : "", want.reason ? want.reason : "", "%s, check %zu: reason", what,
                     i);
}

/* The sums the batch can be done by: Strauss's method (portable), the
 * buckets portable, the buckets in the IFMA lanes where they are here. */
static const struct {
    int ifma;
    pk_msm_method method;
    const char *name;
} sums[] = {{0, PK_MSM_STRAUSS, "Strauss"}, {0, PK_MSM_BUCKETS, "portable buckets"}, {1, PK_MSM_BUCKETS, "lanes' buckets"}};

static size_t sums_here(void)
{
    if (!pk_engine_available(PK_ENGINE_IFMA)) {
        cr_log_info("no IFMA here: the lanes' MSM is not tested");
        return 2;
    }
    return 3;
}

/* The MSM itself, each way, on every size from 1 to 300: all valid gives
 * 1; one signature broken in it gives 0. */
Test(batch, msm_every_size_1_to_300_every_method, .timeout = 600)
{
    tu_rng r = {0xba7c0001};
    enum { N = 300 };
    pk_sig_check *c = signed_checks(&r, N);
    pk_bip340_item items[N];
    int8_t alone[N];
    for (size_t i = 0; i < N; i++)
        items[i] = (pk_bip340_item){c[i].sig, c[i].msg, c[i].msg_len, c[i].pubkey};
    for (size_t k = 0; k < sums_here(); k++) {
        for (size_t n = 1; n <= N; n += (sums[k].ifma || n < 40) ? 1 : 7) {
            cr_assert_eq(pk_bip340_batch_with(items, n, alone, sums[k].ifma, sums[k].method), 1, "size %zu, %s", n,
                         sums[k].name);
            for (size_t i = 0; i < n; i++)
                cr_assert_eq(alone[i], 1);
        }
        /* a flipped bit in s somewhere: the sum is no longer at infinity */
        for (size_t n = 1; n <= N; n += 23) {
            uint8_t s0 = c[n / 2].sig[40];
            c[n / 2].sig[40] ^= 0x10;
            cr_assert_eq(pk_bip340_batch_with(items, n, alone, sums[k].ifma, sums[k].method), 0, "size %zu, %s", n,
                         sums[k].name);
            c[n / 2].sig[40] = s0;
        }
    }
    /* the automatic choice (as measured): portable, Strauss for few and
     * the buckets for many; in the lanes, the buckets */
    cr_assert_eq(pk_bip340_batch_method(2, 0), PK_MSM_STRAUSS);
    cr_assert_eq(pk_bip340_batch_method(4096, 0), PK_MSM_BUCKETS);
    cr_assert_eq(pk_bip340_batch_method(2, 1), PK_MSM_BUCKETS);
    for (size_t n = 1; n <= 64; n++) /* and AUTO gives the same answers */
        cr_assert_eq(pk_bip340_batch_with(items, n, alone, 0, PK_MSM_AUTO), 1, "size %zu", n);
    free(c);
}

/* Through the verifier (batches, halves, singles) on 1 and 2 threads: one
 * bad in every position (every 7th past 130), two and all-but-one bad in
 * positions spread over the run, every mutation kind, runs of sizes around the thresholds (128
 * checks a thread); answers equal single ones. */
Test(batch, bad_signatures_in_every_position, .timeout = 900)
{
    tu_rng r = {0xba7c0002};
    static const size_t sizes[] = {1, 2, 17, 127, 128, 129, 255, 256, 257, 300};
    pk_sig_check *base = signed_checks(&r, 300), *c = malloc(300 * sizeof *c), *base_single = malloc(300 * sizeof *c);
    /* The one-by-one verdicts of the unchanged checks, once: a run then
     * verifies one by one only the checks it changed. */
    memcpy(base_single, base, 300 * sizeof *c);
    for (size_t i = 0; i < 300; i++)
        single(&base_single[i]);
    uint64_t before = pk_bip340_batches();
    for (unsigned threads = 1; threads <= 2; threads++) {
        pk_verifier *v = pk_verifier_new(threads);
        cr_assert(pk_verifier_batch(v), "batches are on by default");
        if (pk_verifier_engine(v) == PK_ENGINE_LIBSECP256K1)
            pk_verifier_set_engine(v, PK_ENGINE_PORTABLE);
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            for (size_t at = 0; at < n; at += n > 130 ? 7 : 1) {
                for (int pattern = 0; pattern < 3; pattern++) {
                    if (pattern && n > 40 && at % (1 + n / 17)) /* two bad, all but one: spread positions */
                        continue;
                    memcpy(c, base, n * sizeof *c);
                    int kind = (int)((at + (size_t)pattern + threads) % 8);
                    if (pattern == 0) { /* one bad */
                        mutate(&r, &c[at], kind);
                    } else if (pattern == 1) { /* two bad */
                        mutate(&r, &c[at], kind);
                        mutate(&r, &c[(at * 7 + 3) % n], (kind + 3) % 8);
                    } else { /* all but one bad */
                        for (size_t i = 0; i < n; i++)
                            if (i != at)
                                mutate(&r, &c[i], (int)(i % 8));
                    }
                    pk_sig_check orig[300];
                    memcpy(orig, c, n * sizeof *c);
                    pk_verifier_run(v, c, n, 0);
                    for (size_t i = 0; i < n; i++) {
                        if (memcmp(&orig[i], &base[i], sizeof orig[i]) != 0) {
                            expect_single(&c[i], &orig[i], "bad ones", i);
                            continue;
                        }
                        cr_assert_eq(c[i].valid, base_single[i].valid, "bad ones, unchanged check %zu: %d", i,
                                     c[i].valid);
                        cr_assert_str_eq(c[i].reason ? c[i].reason : "",
                                         base_single[i].reason ? base_single[i].reason : "",
                                         "bad ones, unchanged check %zu: reason", i);
                    }
                }
            }
        }
        pk_verifier_free(v);
    }
    cr_assert_gt(pk_bip340_batches() - before, 500, "the runs should have been checked by batches");
    free(base);
    free(base_single);
    free(c);
}

/* Large batches, all valid, on 2 threads: every one accepted; with
 * batches off, the same. */
Test(batch, large_batches_all_valid, .timeout = 900)
{
    tu_rng r = {0xba7c0003};
    enum { N = 16384 };
    pk_sig_check *c = signed_checks(&r, N), *d = malloc(N * sizeof *d);
    pk_verifier *v = pk_verifier_new(2);
    if (pk_verifier_engine(v) == PK_ENGINE_LIBSECP256K1)
        pk_verifier_set_engine(v, PK_ENGINE_PORTABLE);
    static const size_t sizes[] = {4096, N};
    for (size_t k = 0; k < 2; k++) {
        memcpy(d, c, sizes[k] * sizeof *d);
        cr_assert_eq(pk_verifier_run(v, d, sizes[k], 0), sizes[k], "size %zu", sizes[k]);
    }
    /* and one bad among 4,096 found exactly */
    memcpy(d, c, 4096 * sizeof *d);
    d[2345].sig[50] ^= 4;
    cr_assert_eq(pk_verifier_run(v, d, 4096, 0), 4095);
    cr_assert_eq(d[2345].valid, 0);
    cr_assert_str_eq(d[2345].reason, "verify failed");
    pk_verifier_set_batch(v, 0);
    cr_assert_not(pk_verifier_batch(v));
    memcpy(d, c, 4096 * sizeof *d);
    cr_assert_eq(pk_verifier_run(v, d, 4096, 0), 4096);
    pk_verifier_free(v);
    free(c);
    free(d);
}

/* BIP340's vectors, each placed inside a batch of 100 valid signatures:
 * every vector's answer as the file says, the others valid. */
Test(batch, bip340_vectors_inside_batches)
{
    tu_rng r = {0xba7c0004};
    pk_sig_check *base = signed_checks(&r, 100), c[101];
    size_t len;
    char *csv = (char *)tu_read_data("bip340-test-vectors.csv", &len);
    csv = realloc(csv, len + 1);
    csv[len] = 0;
    char *save, *line = strtok_r(csv, "\n", &save);
    int rows = 0;
    pk_verifier *v = pk_verifier_new(2);
    if (pk_verifier_engine(v) == PK_ENGINE_LIBSECP256K1)
        pk_verifier_set_engine(v, PK_ENGINE_PORTABLE);
    for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[8] = {0}, *p = line;
        for (int i = 0; i < 8 && p; i++) {
            f[i] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = 0;
        }
        pk_sig_check x = {.type = PK_SIG_SCHNORR, .pubkey_len = 32, .sig_len = 64};
        x.msg_len = (uint16_t)(strlen(f[4]) / 2);
        pk_hex_decode(f[2], x.pubkey, 32);
        pk_hex_decode(f[5], x.sig, 64);
        pk_hex_decode(f[4], x.msg, x.msg_len);
        size_t at = (size_t)rows * 5 % 101;
        memcpy(c, base, at * sizeof *c);
        c[at] = x;
        memcpy(c + at + 1, base + at, (100 - at) * sizeof *c);
        pk_verifier_run(v, c, 101, 0);
        int want = strncmp(f[6], "TRUE", 4) == 0;
        cr_assert_eq(c[at].valid, want, "BIP340 row %d at %zu", rows, at);
        for (size_t i = 0; i < 101; i++)
            if (i != at)
                cr_assert_eq(c[i].valid, 1, "row %d: the valid one at %zu", rows, i);
        rows++;
    }
    cr_assert_eq(rows, 19);
    pk_verifier_free(v);
    free(csv);
    free(base);
}

/* The same signature many times in one batch, and the same key with
 * related scalars: the buckets then meet a point plus itself, which the
 * lanes must add exactly. */
Test(batch, repeated_signatures_and_keys)
{
    tu_rng r = {0xba7c0005};
    pk_sig_check *base = signed_checks(&r, 8), c[200];
    for (size_t i = 0; i < 200; i++)
        c[i] = base[i % (i < 100 ? 1 : 8)];
    pk_verifier *v = pk_verifier_new(1);
    if (pk_verifier_engine(v) == PK_ENGINE_LIBSECP256K1)
        pk_verifier_set_engine(v, PK_ENGINE_PORTABLE);
    cr_assert_eq(pk_verifier_run(v, c, 200, 0), 200);
    pk_bip340_item items[200];
    int8_t alone[200];
    for (size_t i = 0; i < 200; i++)
        items[i] = (pk_bip340_item){c[i].sig, c[i].msg, c[i].msg_len, c[i].pubkey};
    for (size_t k = 0; k < sums_here(); k++)
        cr_assert_eq(pk_bip340_batch_with(items, 200, alone, sums[k].ifma, sums[k].method), 1, "%s", sums[k].name);
    pk_verifier_free(v);
    free(base);
}

/* Checks verified where they lie (pk_verifier_run_at): BIP340 ones enough
 * for batches, some broken, and ECDSA ones, spread apart in a larger
 * array and given in a shuffled order, on every engine: each answer is
 * the single check's, and nothing between them is touched. */
Test(batch, checks_verified_in_place_through_pointers, .timeout = 300)
{
    tu_rng r = {0xba7c0007};
    enum { NS = 700, NE = 90, N = NS + NE, GAP = 3 };
    pk_sig_check *s = signed_checks(&r, NS);
    pk_sig_check *spread = calloc(N * GAP, sizeof *spread), *orig = calloc(N, sizeof *orig);
    pk_sig_check **ptr = malloc(N * sizeof *ptr);
    cr_assert(spread && orig && ptr);
    secp256k1_context *sc = ctx();
    for (size_t i = 0; i < N; i++) {
        pk_sig_check c;
        if (i < NS) {
            c = s[i];
            if (i % 37 == 5)
                mutate(&r, &c, (int)tu_below(&r, 8));
        } else { /* ECDSA, one in nine with its message changed after signing */
            memset(&c, 0, sizeof c);
            uint8_t key[32];
            do
                tu_fill(&r, key, 32);
            while (!secp256k1_ec_seckey_verify(sc, key));
            c.type = PK_SIG_ECDSA;
            c.msg_len = 32;
            tu_fill(&r, c.msg, 32);
            secp256k1_pubkey pk;
            cr_assert(secp256k1_ec_pubkey_create(sc, &pk, key));
            size_t pl = 65;
            secp256k1_ec_pubkey_serialize(sc, c.pubkey, &pl, &pk, i % 2 ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
            c.pubkey_len = (uint8_t)pl;
            secp256k1_ecdsa_signature sig;
            cr_assert(secp256k1_ecdsa_sign(sc, &sig, c.msg, key, NULL, NULL));
            size_t sl = 73;
            secp256k1_ecdsa_signature_serialize_der(sc, c.sig, &sl, &sig);
            c.sig_len = (uint8_t)sl;
            if (i % 9 == 0)
                c.msg[7] ^= 1;
        }
        orig[i] = c;
    }
    for (int e = 0; e < PK_ENGINE_COUNT; e++) {
        if (!pk_engine_available((pk_engine)e))
            continue;
        pk_verifier *v = pk_verifier_new(2);
        cr_assert_eq(pk_verifier_set_engine(v, (pk_engine)e), 0);
        for (size_t i = 0; i < N * GAP; i++) { /* the ones between: marked, must stay so */
            memset(&spread[i], 0, sizeof spread[i]);
            spread[i].valid = 42;
        }
        for (size_t i = 0; i < N; i++) {
            spread[i * GAP + 1] = orig[i];
            ptr[i] = &spread[i * GAP + 1];
        }
        for (size_t i = N - 1; i > 0; i--) { /* shuffled */
            size_t j = tu_below(&r, (uint32_t)(i + 1));
            pk_sig_check *t = ptr[i];
            ptr[i] = ptr[j];
            ptr[j] = t;
        }
        size_t want_valid = 0;
        for (size_t i = 0; i < N; i++) {
            pk_sig_check w = orig[i];
            single(&w);
            want_valid += w.valid == 1;
        }
        cr_assert_eq(pk_verifier_run_at(v, ptr, N, 0), want_valid, "engine %s", pk_engine_name((pk_engine)e));
        cr_assert_lt(want_valid, (size_t)N, "some are broken");
        for (size_t i = 0; i < N; i++) {
            expect_single(&spread[i * GAP + 1], &orig[i], pk_engine_name((pk_engine)e), i);
            cr_assert_eq(spread[i * GAP].valid, 42);
            cr_assert_eq(spread[i * GAP + 2].valid, 42);
        }
        pk_verifier_free(v);
    }
    free(s);
    free(spread);
    free(orig);
    free(ptr);
}
