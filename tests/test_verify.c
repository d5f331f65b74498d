/* The batch signature verifier: BIP340's official vectors, ECDSA checks
 * made here with libsecp256k1 (tampered, high-S, lax DER), the same answers
 * for any thread count, and `powkit verify-sigs` as scripts call it. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <secp256k1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "powkit/util.h"
#include "powkit/verify.h"
#include "testutil.h"

/* rows: pubkey, msg, sig, expected */
static size_t bip340_rows(pk_sig_check *out, int *expect, size_t max)
{
    size_t len;
    char *csv = (char *)tu_read_data("bip340-test-vectors.csv", &len);
    csv = realloc(csv, len + 1);
    csv[len] = 0;
    size_t n = 0;
    char *save, *line = strtok_r(csv, "\n", &save);
    for (line = strtok_r(NULL, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
        char *f[8] = {0}, *s2, *p = line;
        for (int i = 0; i < 8 && p; i++) {
            f[i] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = 0;
        }
        (void)s2;
        pk_sig_check *c = &out[n];
        memset(c, 0, sizeof *c);
        c->type = PK_SIG_SCHNORR;
        c->pubkey_len = 32;
        c->sig_len = 64;
        c->msg_len = (uint16_t)(strlen(f[4]) / 2);
        cr_assert_eq(pk_hex_decode(f[2], c->pubkey, 32), 0);
        cr_assert_eq(pk_hex_decode(f[5], c->sig, 64), 0);
        cr_assert_eq(pk_hex_decode(f[4], c->msg, c->msg_len), 0);
        expect[n++] = strncmp(f[6], "TRUE", 4) == 0;
    }
    free(csv);
    return n;
}

Test(verify, bip340_vectors)
{
    pk_sig_check c[32];
    int expect[32];
    size_t n = bip340_rows(c, expect, 32);
    cr_assert_eq(n, 19);
    pk_verifier *v = pk_verifier_new(2);
    cr_assert_not_null(v);
    size_t valid = pk_verifier_run(v, c, n, 0);
    cr_assert_eq(valid, 9);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(c[i].valid, expect[i], "row %zu (%s)", i, c[i].reason ? c[i].reason : "");
    cr_assert_str_eq(c[5].reason, "bad pubkey", "row 5: public key not on the curve");
    pk_verifier_free(v);
}

/* ECDSA checks made here: key k, message m, DER signature. */
static secp256k1_context *sign_ctx(void)
{
    static secp256k1_context *c;
    if (!c)
        c = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    return c;
}

static void make_ecdsa(tu_rng *r, pk_sig_check *c, int compressed)
{
    secp256k1_context *ctx = sign_ctx();
    uint8_t key[32];
    do
        tu_fill(r, key, 32);
    while (!secp256k1_ec_seckey_verify(ctx, key));
    memset(c, 0, sizeof *c);
    c->type = PK_SIG_ECDSA;
    c->msg_len = 32;
    tu_fill(r, c->msg, 32);
    secp256k1_pubkey pk;
    cr_assert(secp256k1_ec_pubkey_create(ctx, &pk, key));
    size_t pl = 65;
    secp256k1_ec_pubkey_serialize(ctx, c->pubkey, &pl, &pk, compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
    c->pubkey_len = (uint8_t)pl;
    secp256k1_ecdsa_signature sig;
    cr_assert(secp256k1_ecdsa_sign(ctx, &sig, c->msg, key, NULL, NULL));
    size_t sl = 73;
    secp256k1_ecdsa_signature_serialize_der(ctx, c->sig, &sl, &sig);
    c->sig_len = (uint8_t)sl;
}

/* The same signature with S replaced by n - S (high S), DER again. */
static void to_high_s(pk_sig_check *c)
{
    secp256k1_context *ctx = sign_ctx();
    secp256k1_ecdsa_signature sig;
    cr_assert(secp256k1_ecdsa_signature_parse_der(ctx, &sig, c->sig, c->sig_len));
    uint8_t rs[64];
    secp256k1_ecdsa_signature_serialize_compact(ctx, rs, &sig);
    cr_assert(secp256k1_ec_seckey_negate(ctx, rs + 32)); /* S -> n - S */
    /* DER by hand (serialize_der would not keep a high S from parse_compact?
     * it does; but build it here to be explicit). */
    uint8_t der[80];
    size_t k = 0;
    der[k++] = 0x30;
    der[k++] = 0;
    for (int part = 0; part < 2; part++) {
        const uint8_t *v = rs + 32 * part;
        size_t off = 0;
        while (off < 31 && v[off] == 0 && !(v[off + 1] & 0x80))
            off++;
        int pad = v[off] & 0x80;
        der[k++] = 0x02;
        der[k++] = (uint8_t)(32 - off + (pad ? 1 : 0));
        if (pad)
            der[k++] = 0;
        memcpy(der + k, v + off, 32 - off);
        k += 32 - off;
    }
    der[1] = (uint8_t)(k - 2);
    memcpy(c->sig, der, k);
    c->sig_len = (uint8_t)k;
}

Test(verify, ecdsa_valid_tampered_high_s_and_lax_der)
{
    tu_rng r = {7};
    enum { N = 400 };
    pk_sig_check *c = calloc(N, sizeof *c);
    for (int i = 0; i < N; i++)
        make_ecdsa(&r, &c[i], i % 3 != 0);
    pk_verifier *v1 = pk_verifier_new(1), *v2 = pk_verifier_new(2);
    cr_assert_eq(pk_verifier_run(v2, c, N, 0), N);
    /* Tamper: a signature byte, a message bit, a key byte. */
    c[10].msg[3] ^= 1;
    c[20].sig[c[20].sig_len - 1] ^= 0x01;
    c[30].pubkey[5] ^= 0x40;
    to_high_s(&c[40]);
    pk_sig_check copy[N];
    memcpy(copy, c, sizeof copy);
    cr_assert_eq(pk_verifier_run(v2, c, N, 0), N - 3);
    cr_assert_eq(c[10].valid, 0);
    cr_assert_eq(c[20].valid, 0);
    cr_assert_eq(c[30].valid, 0);
    cr_assert_eq(c[40].valid, 1, "high S is valid by consensus");
    /* The same answers on one thread. */
    cr_assert_eq(pk_verifier_run(v1, copy, N, 0), N - 3);
    for (int i = 0; i < N; i++)
        cr_assert_eq(copy[i].valid, c[i].valid, "check %d", i);
    /* --low-s: Core's standardness rule. */
    c[40].flags = PK_SIG_LOW_S;
    pk_sig_check_one(v1, &c[40]);
    cr_assert_eq(c[40].valid, 0);
    cr_assert_str_eq(c[40].reason, "high S");
    /* Lax DER: R padded with a superfluous zero byte. */
    pk_sig_check *x = &c[50];
    uint8_t rlen = x->sig[3];
    uint8_t lax[80];
    size_t k = 0;
    lax[k++] = 0x30, lax[k++] = (uint8_t)(x->sig[1] + 1), lax[k++] = 0x02, lax[k++] = (uint8_t)(rlen + 1), lax[k++] = 0;
    memcpy(lax + k, x->sig + 4, (size_t)x->sig_len - 4);
    k += (size_t)x->sig_len - 4;
    memcpy(x->sig, lax, k);
    x->sig_len = (uint8_t)k;
    pk_sig_check_one(v1, x);
    cr_assert_eq(x->valid, 0, "not strict DER");
    cr_assert_str_eq(x->reason, "bad DER");
    x->flags = PK_SIG_LAX_DER;
    pk_sig_check_one(v1, x);
    cr_assert_eq(x->valid, 1, "lax DER reads it");
    /* Truncated DER and a pubkey with a bad prefix: clean failures. */
    c[60].sig_len = 5;
    pk_sig_check_one(v1, &c[60]);
    cr_assert_eq(c[60].valid, 0);
    c[61].pubkey[0] = 0x05;
    pk_sig_check_one(v1, &c[61]);
    cr_assert_str_eq(c[61].reason, "bad pubkey");
    /* Stop at the first failure: checks after it may stay unchecked. */
    size_t ok = pk_verifier_run(v2, c, N, 1);
    cr_assert_lt(ok, (size_t)N);
    pk_verifier_free(v1);
    pk_verifier_free(v2);
    free(c);
}

/* PK_SIG_COMPACT: r || s as the interpreter hands it over, on every
 * engine: valid ones valid, a high S valid unless PK_SIG_LOW_S, a changed
 * message, an r at the order and a wrong length invalid. */
Test(verify, ecdsa_compact_signatures)
{
    tu_rng r = {11};
    enum { N = 200 };
    secp256k1_context *ctx = sign_ctx();
    pk_sig_check *c = calloc(N, sizeof *c), *w = calloc(N, sizeof *w);
    for (int i = 0; i < N; i++) {
        make_ecdsa(&r, &c[i], i % 2);
        if (i % 5 == 1)
            to_high_s(&c[i]);
        secp256k1_ecdsa_signature sig;
        cr_assert(secp256k1_ecdsa_signature_parse_der(ctx, &sig, c[i].sig, c[i].sig_len));
        secp256k1_ecdsa_signature_serialize_compact(ctx, c[i].sig, &sig); /* keeps a high S */
        c[i].sig_len = 64;
        c[i].flags = PK_SIG_COMPACT;
    }
    c[3].msg[0] ^= 0x80;
    static const uint8_t order[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                      0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                      0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
    memcpy(c[8].sig, order, 32);
    c[12].sig_len = 63;
    c[21].flags |= PK_SIG_LOW_S; /* 21 % 5 == 1: high S */
    for (int e = 0; e < PK_ENGINE_COUNT; e++) {
        if (!pk_engine_available((pk_engine)e))
            continue;
        pk_verifier *v = pk_verifier_new(2);
        cr_assert_eq(pk_verifier_set_engine(v, (pk_engine)e), 0);
        memcpy(w, c, N * sizeof *w);
        cr_assert_eq(pk_verifier_run(v, w, N, 0), N - 4, "engine %s", pk_engine_name((pk_engine)e));
        cr_assert_str_eq(w[3].reason, "verify failed");
        cr_assert_str_eq(w[8].reason, "bad signature");
        cr_assert_str_eq(w[12].reason, "bad signature");
        cr_assert_str_eq(w[21].reason, "high S");
        cr_assert_eq(w[6].valid, 1, "a high S, consensus' rule");
        pk_verifier_free(v);
    }
    free(c);
    free(w);
}

/* ---- the verifier's threads as a pool ---- */

typedef struct pool_seen {
    _Atomic unsigned *hits; /* per index */
    pthread_t caller;
    int own_calls, own_on_caller;
} pool_seen;

static void pool_index(void *arg, size_t i)
{
    pool_seen *s = arg;
    atomic_fetch_add(&s->hits[i], 1);
}

static void pool_own(void *arg)
{
    pool_seen *s = arg;
    s->own_calls++;
    s->own_on_caller = pthread_equal(pthread_self(), s->caller);
}

/* Every index of a loop runs once, whatever the count and chunk, over
 * thousands of loops in a row (the threads' hand-over: spinning, and
 * with POWKIT_SPIN_US=0 asleep each time); run_with runs the caller's own
 * task once, on the calling thread. */
Test(verifier_pool, every_index_once_and_own_on_the_caller)
{
    const char *spins[] = {NULL, "0"};
    for (int k = 0; k < 2; k++) {
        if (spins[k])
            setenv("POWKIT_SPIN_US", spins[k], 1);
        pk_verifier *v = pk_verifier_new(3);
        cr_assert_not_null(v);
        pk_pool pool = pk_verifier_pool(v);
        cr_assert_not_null(pool.run_with);
        enum { MAXN = 1000 };
        _Atomic unsigned hits[MAXN];
        for (int round = 0; round < 3000; round++) {
            size_t n = round % 7 == 0 ? 0 : (size_t)((round * 37) % MAXN) + 1, chunk = (size_t)(round % 5) + 1;
            for (size_t i = 0; i < MAXN; i++)
                atomic_init(&hits[i], 0);
            pool_seen s = {hits, pthread_self(), 0, 0};
            if (round % 2)
                pool.run_with(pool.self, n, chunk, pool_index, &s, pool_own, &s);
            else
                pool.run(pool.self, n, chunk, pool_index, &s);
            for (size_t i = 0; i < MAXN; i++)
                cr_assert_eq(atomic_load(&hits[i]), i < n ? 1u : 0u, "round %d, n %zu, index %zu", round, n, i);
            cr_assert_eq(s.own_calls, round % 2, "round %d", round);
            if (round % 2)
                cr_assert(s.own_on_caller, "round %d", round);
        }
        pk_verifier_free(v);
    }
    unsetenv("POWKIT_SPIN_US");
}

Test(verify_sigs, cli_streams_in_order_with_errors)
{
    char path[] = "/tmp/pk-sigs-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    pk_sig_check c[32];
    int expect[32];
    size_t n = bip340_rows(c, expect, 32);
    char ph[65], mh[600], sh[129];
    for (size_t i = 0; i < n; i++) {
        pk_hex_encode(c[i].pubkey, 32, ph);
        pk_hex_encode(c[i].msg, c[i].msg_len, mh);
        pk_hex_encode(c[i].sig, 64, sh);
        fprintf(f, "{\"type\":\"schnorr\",\"pubkey\":\"%s\",\"msg\":\"%s\",\"sig\":\"%s\"}\n", ph, mh, sh);
        if (i == 3)
            fprintf(f, "this is not json\n{\"type\":\"ecdsa\",\"pubkey\":\"00\",\"msg32\":\"00\",\"sig\":\"00\"}\n");
    }
    fclose(f);
    /* the default engine and each named one: the same lines */
    static const char *engines[] = {"", "--engine libsecp256k1", "--engine portable", "--engine ifma"};
    for (size_t en = 0; en < sizeof engines / sizeof engines[0]; en++) {
        if (en == 3 && !pk_engine_available(PK_ENGINE_IFMA))
            continue;
        char cmd[400];
        snprintf(cmd, sizeof cmd, "'%s' verify-sigs '%s' --threads 2 %s 2>/dev/null", POWKIT_CLI, path, engines[en]);
        FILE *p = popen(cmd, "r");
        char line[256];
        size_t row = 0, i = 0;
        while (fgets(line, sizeof line, p)) {
            char want[64];
            snprintf(want, sizeof want, "{\"i\":%zu,", i);
            cr_assert(strncmp(line, want, strlen(want)) == 0, "out of order: %s", line);
            if (i == 4 || i == 5) {
                cr_assert(strstr(line, "\"error\""), "%s", line);
            } else {
                cr_assert(strstr(line, expect[row] ? "\"valid\":true" : "\"valid\":false"), "%s row %zu: %s",
                          engines[en], row, line);
                row++;
            }
            i++;
        }
        /* malformed and invalid lines: exit status 1, every line answered */
        cr_assert_eq(WEXITSTATUS(pclose(p)), 1, "%s", engines[en]);
        cr_assert_eq(i, n + 2, "%s", engines[en]);
    }
    /* an unknown engine, and one switched off, are refused before any line */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "'%s' verify-sigs '%s' --engine ifma9 2>/dev/null", POWKIT_CLI, path);
    FILE *p = popen(cmd, "r");
    char line[256];
    cr_assert_null(fgets(line, sizeof line, p));
    cr_assert_eq(WEXITSTATUS(pclose(p)), 2);
    snprintf(cmd, sizeof cmd, "POWKIT_DISABLE=portable '%s' verify-sigs '%s' --engine portable 2>/dev/null", POWKIT_CLI,
             path);
    p = popen(cmd, "r");
    cr_assert_null(fgets(line, sizeof line, p));
    cr_assert_eq(WEXITSTATUS(pclose(p)), 2);
    unlink(path);
}

/* ---- block 413567's signatures ---- */

#include "powkit/sigcheck.h"
#include "powkit/sighash.h"
#include "../bench/bench_blocks.h"

static int failed_at(const pk_sig_report *r, size_t tx, size_t vin)
{
    for (size_t i = 0; i < r->failed_inputs; i++)
        if (r->failures[i].tx == tx && r->failures[i].vin == vin)
            return 1;
    return 0;
}

/* Offset in the block of input vin's scriptSig of transaction tx. */
static size_t script_at(const pk_block *b, size_t tx, size_t vin)
{
    const uint8_t *d = b->data;
    size_t pos = b->tx[tx].first_in_offset;
    for (size_t i = 0;; i++) {
        pos += 36;
        size_t l = d[pos] < 0xfd ? d[pos] : (size_t)(d[pos + 1] | d[pos + 2] << 8);
        pos += d[pos] < 0xfd ? 1 : 3;
        if (i == vin)
            return pos;
        pos += l + 4;
    }
}

/* Block 413,567 from tests/data, parsed (d is the caller's to free). */
static uint8_t *load_413567(pk_block *b)
{
    size_t len;
    uint8_t *d = tu_read_data("block413567.raw", &len);
    pk_verror e;
    cr_assert_eq(pk_block_parse(b, d, len, &e), 0, "%s", e.msg);
    return d;
}

/* The block read, its txids made, its spent outputs made from its
 * scriptSigs. */
static uint8_t *hashed_413567(pk_block *b, made_prevouts *mp)
{
    uint8_t *d = load_413567(b);
    pk_block_hash_txs(b);
    cr_assert_eq(pk_bench_derive_prevouts(b, mp), 0);
    return d;
}

Test(block_sigs, every_signature_of_block_413567, .timeout = 300)
{
    pk_block b;
    uint8_t *d = load_413567(&b);
    pk_block_hash_txs(&b);
    pk_verifier *v1 = pk_verifier_new(1), *v2 = pk_verifier_new(2);
    pk_sig_report r;
    pk_block_verify_sigs(&b, NULL, v2, &r);
    cr_assert_eq(r.signatures, 5815);
    cr_assert_eq(r.by_spend[PK_SPEND_P2PKH], 3957);
    cr_assert_eq(r.p2pkh_compressed, 3661);
    cr_assert_eq(r.p2pkh_uncompressed, 296);
    cr_assert_eq(r.by_spend[PK_SPEND_P2SH_MULTISIG], 929);
    cr_assert_eq(r.multisig_by_mn[2][3], 824);
    cr_assert_eq(r.multisig_by_mn[2][2], 105);
    cr_assert_eq(r.multisig_sigs, 1858);
    cr_assert_eq(r.not_checked, 0);
    cr_assert_eq(r.inputs, 4886);
    /* The real block: every input is valid. */
    cr_assert_eq(r.failed_inputs, 0, "first failure: tx %zu input %zu: %s", r.failed_inputs ? r.failures[0].tx : 0,
                 r.failed_inputs ? r.failures[0].vin : 0, r.failed_inputs ? r.failures[0].reason : "");
    cr_assert_eq(r.valid_inputs, 4886);
    pk_sig_report_free(&r);

    /* One changed byte in one P2PKH signature and one multisig signature:
     * exactly those inputs fail too, and one thread says the same. */
    size_t p2pkh = script_at(&b, 100, 0), ms = 0, ms_tx = 0, ms_vin = 0;
    for (size_t t = 1; t < b.ntx && !ms; t++)
        for (size_t i = 0; i < b.tx[t].n_in && !ms; i++)
            if (d[script_at(&b, t, i)] == 0x00) {
                ms = script_at(&b, t, i);
                ms_tx = t, ms_vin = i;
            }
    cr_assert_neq(ms, 0);
    d[p2pkh + 1 + 10] ^= 0x01; /* inside R of the signature push */
    d[ms + 2 + 10] ^= 0x01;    /* inside R of the first multisig signature */
    pk_block_verify_sigs(&b, NULL, v2, &r);
    cr_assert_eq(r.failed_inputs, 2);
    cr_assert(failed_at(&r, 100, 0));
    cr_assert(failed_at(&r, ms_tx, ms_vin));
    pk_sig_report r1;
    pk_block_verify_sigs(&b, NULL, v1, &r1);
    cr_assert_eq(r1.failed_inputs, 2);
    for (size_t i = 0; i < 2; i++)
        cr_assert(failed_at(&r1, r.failures[i].tx, r.failures[i].vin));
    pk_sig_report_free(&r);
    pk_sig_report_free(&r1);
    pk_verifier_free(v1);
    pk_verifier_free(v2);
    pk_block_free(&b);
    free(d);
}

/* How many signature checks consensus makes for input vin of t (block
 * 413,567's inputs are P2PKH or P2SH multisig); *pairs adds the
 * candidate pairs a multisig has (signature i against keys i to
 * i + n - m). */
static uint64_t consensus_tries(const pk_block *b, size_t t, size_t vin, uint64_t *pairs)
{
    const uint8_t *d = b->data;
    size_t at = script_at(b, t, vin), pos = b->tx[t].first_in_offset;
    for (size_t i = 0; i <= vin; i++) {
        pos += 36;
        size_t l = d[pos] < 0xfd ? d[pos] : (size_t)(d[pos + 1] | d[pos + 2] << 8);
        pos += (d[pos] < 0xfd ? 1 : 3) + l + 4;
    }
    size_t end = pos - 4;
    if (d[at] != 0x00) {
        *pairs += 1;
        return 1;
    }
    /* OP_0 sig... redeem: pushes of up to 255 bytes (OP_PUSHDATA1 for the redeem script) */
    const uint8_t *push[20];
    size_t plen[20], np = 0;
    for (size_t q = at + 1; q < end && np < 20;) {
        size_t l = d[q] == 0x4c ? d[q + 1] : d[q];
        size_t h = d[q] == 0x4c ? 2 : 1;
        push[np] = d + q + h;
        plen[np++] = l;
        q += h + l;
    }
    const uint8_t *rs = push[np - 1];
    size_t rl = plen[np - 1], m = (size_t)(rs[0] - 0x50), n = (size_t)(rs[rl - 2] - 0x50);
    cr_assert_eq(np - 1, m, "tx %zu input %zu: %zu signatures for %zu", t, vin, np - 1, m);
    const uint8_t *key[16];
    size_t kl[16];
    for (size_t k = 0, q = 1; k < n; k++) {
        key[k] = rs + q + 1;
        kl[k] = rs[q];
        q += 1 + rs[q];
    }
    *pairs += m * (n - m + 1);
    uint64_t c = 0;
    size_t isig = 0, ikey = 0;
    while (isig < m && m - isig <= n - ikey) {
        secp256k1_ecdsa_signature sg;
        secp256k1_pubkey pk;
        uint8_t h[32];
        pk_sighash_legacy(b, &b->tx[t], vin, rs, rl, push[isig][plen[isig] - 1], h);
        cr_assert(secp256k1_ecdsa_signature_parse_der(secp256k1_context_static, &sg, push[isig], plen[isig] - 1));
        secp256k1_ecdsa_signature_normalize(secp256k1_context_static, &sg, &sg); /* high S is no consensus rule */
        cr_assert(secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, key[ikey], kl[ikey]));
        c++;
        if (secp256k1_ecdsa_verify(secp256k1_context_static, &sg, h, &pk))
            isig++;
        ikey++;
    }
    cr_assert_eq(isig, m, "tx %zu input %zu is valid", t, vin);
    return c;
}

/* Through the interpreter, with the spent outputs made from the
 * scriptSigs: every input valid at the first try (a wrong signature hash,
 * from the interpreter's hashes computed several at a time after the run,
 * would fail a check and run the input again), and one changed signature
 * byte fails exactly its inputs. */
Test(block_sigs, interpreter_judges_block_413567_without_reruns, .timeout = 300)
{
    pk_block b;
    made_prevouts mp;
    uint8_t *d = hashed_413567(&b, &mp);
    pk_verifier *v = pk_verifier_new(2);
    pk_sigcheck_opts so = {&mp.pv, 413567, 1, 0, 1, 0, 0, 0};
    pk_sig_report r;
    cr_assert_eq(pk_block_verify_sigs(&b, &so, v, &r), 0, "failures %zu", (size_t)r.failed_inputs);
    cr_assert_eq(r.inputs, 4886);
    cr_assert_eq(r.valid_inputs, 4886);
    cr_assert_eq(r.not_checked, 0);
    cr_assert_eq(r.interpreter, 1, "every input through the interpreter");
    cr_assert_eq(r.reruns, 0, "every deferred check held: its hash was right");
    /* Checks as consensus tries them, counted here with libsecp256k1: one
     * per single-signature input, and a multisig's in-order matching's
     * tries (not its candidate pairs, which the templates path counts). */
    uint64_t tries = 0, pairs = 0;
    for (size_t t = 1; t < b.ntx; t++)
        for (size_t i = 0; i < b.tx[t].n_in; i++)
            tries += consensus_tries(&b, t, i, &pairs);
    cr_assert_gt(tries, r.signatures);
    cr_assert_lt(tries, pairs);
    /* The pilot's 16 multisig inputs are matched as consensus tries them
     * (one failing pair each: their second signature is for the third
     * key); their matching, the guess for the other 808, holds there. */
    cr_assert_geq(r.ecdsa, r.signatures);
    cr_assert_lt(r.ecdsa, tries);
    cr_assert_eq(r.ecdsa, r.signatures + 16, "checks %llu, signatures %llu, consensus tries %llu",
                 (unsigned long long)r.ecdsa, (unsigned long long)r.signatures, (unsigned long long)tries);
    cr_assert_eq(r.check_rounds, 3, "two for the pilot, one for the rest");
    pk_sig_report_free(&r);
    /* A P2PKH signature in the largest transaction and the second
     * signature of a 2-of-3 multisig input (whose hash the first one's
     * shares): exactly those two fail. */
    size_t big = 1;
    for (size_t t = 1; t < b.ntx; t++)
        if (b.tx[t].n_in > b.tx[big].n_in)
            big = t;
    size_t p2pkh_vin = b.tx[big].n_in - 1;
    cr_assert_neq(d[script_at(&b, big, p2pkh_vin)], 0x00, "a P2PKH input");
    size_t ms_tx = 0, ms_vin = 0;
    for (size_t t = 1; t < b.ntx && !ms_tx; t++)
        for (size_t i = 0; i < b.tx[t].n_in && !ms_tx; i++)
            if (t != big && d[script_at(&b, t, i)] == 0x00)
                ms_tx = t, ms_vin = i;
    cr_assert_neq(ms_tx, 0);
    size_t at = script_at(&b, big, p2pkh_vin), ms = script_at(&b, ms_tx, ms_vin);
    d[at + 1 + 10] ^= 0x01;            /* inside R of the signature */
    d[ms + 2 + d[ms + 1] + 1 + 10] ^= 0x01; /* inside R of the multisig's second signature */
    pk_block_verify_sigs(&b, &so, v, &r);
    cr_assert_eq(r.failed_inputs, 2);
    cr_assert(failed_at(&r, big, p2pkh_vin));
    cr_assert(failed_at(&r, ms_tx, ms_vin));
    cr_assert_eq(r.valid_inputs, 4884);
    pk_sig_report_free(&r);
    /* Restored, through the same verifier again (whose kept buffers hold
     * the failed run's checks): the first run's answers exactly. */
    d[at + 1 + 10] ^= 0x01;
    d[ms + 2 + d[ms + 1] + 1 + 10] ^= 0x01;
    cr_assert_eq(pk_block_verify_sigs(&b, &so, v, &r), 0);
    cr_assert_eq(r.valid_inputs, 4886);
    cr_assert_eq(r.failed_inputs, 0);
    cr_assert_eq(r.ecdsa, r.signatures + 16);
    cr_assert_eq(r.check_rounds, 3);
    cr_assert_eq(r.reruns, 0);
    pk_sig_report_free(&r);
    pk_verifier_free(v);
    pk_bench_made_free(&mp);
    pk_block_free(&b);
    free(d);
}

/* The keys and redeem scripts are hashed ahead of the runs, many at once:
 * a changed key byte (P2PKH) or redeem script byte (P2SH multisig) must
 * still fail its input at OP_EQUALVERIFY or OP_EQUAL, as one hash at a time
 * would, and the rest of the block stays valid. */
Test(block_sigs, keys_hashed_ahead_are_the_bytes_spent, .timeout = 300)
{
    pk_block b;
    made_prevouts mp;
    uint8_t *d = hashed_413567(&b, &mp);
    pk_verifier *v = pk_verifier_new(2);
    pk_sigcheck_opts so = {&mp.pv, 413567, 1, 0, 1, 0, 0, 0};
    size_t p2pkh_tx = 0, ms_tx = 0;
    for (size_t t = 1; t < b.ntx && (!p2pkh_tx || !ms_tx); t++) {
        uint8_t first = d[script_at(&b, t, 0)];
        if (first == 0x00 && !ms_tx)
            ms_tx = t;
        else if (first != 0x00 && !p2pkh_tx)
            p2pkh_tx = t;
    }
    cr_assert(p2pkh_tx && ms_tx);
    /* The key: the scriptSig's last push, after the signature's. */
    size_t at = script_at(&b, p2pkh_tx, 0), key = at + 1 + d[at] + 1;
    size_t ms = script_at(&b, ms_tx, 0), sl = d[ms - 1]; /* the scriptSig's length (under 0xfd) */
    size_t redeem_last = ms + sl - 1;                      /* the redeem script's last byte (OP_CHECKMULTISIG) */
    d[key + 5] ^= 0x01;
    d[redeem_last - 1] ^= 0x01; /* the key count's opcode: the script hashes differently */
    pk_sig_report r;
    pk_block_verify_sigs(&b, &so, v, &r);
    cr_assert_eq(r.failed_inputs, 2);
    cr_assert(failed_at(&r, p2pkh_tx, 0));
    cr_assert(failed_at(&r, ms_tx, 0));
    for (size_t i = 0; i < r.failed_inputs; i++)
        cr_expect(strcmp(r.failures[i].reason, "SCRIPT_ERR_EQUALVERIFY") == 0 ||
                      strcmp(r.failures[i].reason, "SCRIPT_ERR_EVAL_FALSE") == 0,
                  "%s", r.failures[i].reason);
    cr_assert_eq(r.valid_inputs, 4884);
    pk_sig_report_free(&r);
    /* Restored: all valid again through the same verifier. */
    d[key + 5] ^= 0x01;
    d[redeem_last - 1] ^= 0x01;
    cr_assert_eq(pk_block_verify_sigs(&b, &so, v, &r), 0);
    cr_assert_eq(r.valid_inputs, 4886);
    pk_sig_report_free(&r);
    pk_verifier_free(v);
    pk_bench_made_free(&mp);
    pk_block_free(&b);
    free(d);
}

Test(block_sigs, sighash_single_without_output_is_one)
{
    pk_block b;
    uint8_t *d = load_413567(&b);
    for (size_t t = 1; t < b.ntx; t++) {
        if (b.tx[t].n_in > b.tx[t].n_out) {
            uint8_t h[32], one[32] = {1};
            pk_sighash_legacy(&b, &b.tx[t], b.tx[t].n_out, (const uint8_t *)"\x51", 1, 3, h);
            cr_assert_arr_eq(h, one, 32);
            uint8_t h2[32];
            pk_sighash_legacy(&b, &b.tx[t], 0, (const uint8_t *)"\x51", 1, 3, h2);
            cr_assert_neq(memcmp(h2, one, 32), 0, "in range: a real hash");
            break;
        }
    }
    pk_block_free(&b);
    free(d);
}

/* ---- BIP143's worked examples ---- */

static void bip143_case(const char *tx_hex, size_t vin, const char *code_hex, uint64_t amount, uint32_t ht,
                        const char *want_hex)
{
    size_t tl = strlen(tx_hex) / 2, cl = strlen(code_hex) / 2;
    uint8_t *blk = calloc(1, 81 + tl), code[200], want[32], got[32];
    blk[80] = 1; /* a block holding just this transaction */
    cr_assert_eq(pk_hex_decode(tx_hex, blk + 81, tl), 0);
    cr_assert_eq(pk_hex_decode(code_hex, code, cl), 0);
    cr_assert_eq(pk_hex_decode(want_hex, want, 32), 0);
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, blk, 81 + tl, &e), 0, "%s", e.msg);
    pk_bip143_cache c;
    pk_bip143_precompute(&b, &b.tx[0], &c);
    pk_sighash_bip143(&b, &b.tx[0], &c, vin, code, cl, amount, ht, got);
    pk_bip143_cache_free(&c);
    char gh[65];
    pk_hex_encode(got, 32, gh);
    cr_assert_arr_eq(got, want, 32, "got %s, want %s", gh, want_hex);
    pk_block_free(&b);
    free(blk);
}

Test(bip143, native_p2wpkh)
{
    bip143_case("0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac11000000",
                1, "76a9141d0f172a0ecb48aee1be1f2687d2963ae33f71a188ac", 600000000, 1,
                "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670");
}

Test(bip143, p2sh_p2wpkh)
{
    bip143_case("0100000001db6b1b20aa0fd7b23880be2ecbd4a98130974cf4748fb66092ac4d3ceb1a54770100000000feffffff02b8b4eb0b000000001976a914a457b684d7f0d539a46a45bbc043f35b59d0d96388ac0008af2f000000001976a914fd270b1ee6abcaea97fea7ad0402e8bd8ad6d77c88ac92040000",
                0, "76a91479091972186c449eb1ded22b78e40d009bdf008988ac", 1000000000, 1,
                "64f3b0f4dd2bb3aa1ce8566d220cc74dda9df97d8490cc81d89d735c92e59fb6");
}

Test(bip143, native_p2wsh_single_with_codeseparators)
{
    const char *tx = "0100000002fe3dc9208094f3ffd12645477b3dc56f60ec4fa8e6f5d67c565d1c6b9216b36e0000000000ffffffff0815cf020f013ed6cf91d29f4202e8a58726b1ac6c79da47c23d1bee0a6925f80000000000ffffffff0100f2052a010000001976a914a30741f8145e5acadf23f751864167f32e0963f788ac00000000";
    bip143_case(tx, 1, "21026dccc749adc2a9d0d89497ac511f760f45c47dc5ed9cf352a58ac706453880aeadab210255a9626aebf5e29c0e6538428ba0d1dcf6ca98ffdf086aa8ced5e0d0215ea465ac",
                4900000000ULL, 3, "82dde6e4f1e94d02c2b7ad03d2115d691f48d064e9d52f58194a6637e4194391");
    bip143_case(tx, 1, "210255a9626aebf5e29c0e6538428ba0d1dcf6ca98ffdf086aa8ced5e0d0215ea465ac", 4900000000ULL, 3,
                "fef7bd749cce710c5c052bd796df1af0d935e59cea63736268bcbe2d2134fc47");
}

Test(bip143, single_anyonecanpay)
{
    const char *tx = "0100000002e9b542c5176808107ff1df906f46bb1f2583b16112b95ee5380665ba7fcfc0010000000000ffffffff80e68831516392fcd100d186b3c2c7b95c80b53c77e77c35ba03a66b429a2a1b0000000000ffffffff0280969800000000001976a914de4b231626ef508c9a74a8517e6783c0546d6b2888ac80969800000000001976a9146648a8cd4531e1ec47f35916de8e259237294d1e88ac00000000";
    bip143_case(tx, 0, "0063ab68210392972e2eb617b2388771abe27235fd5ac44af8e61693261550447a4c3e39da98ac", 16777215, 0x83,
                "e9071e75e25b8a1e298a72f0d2e9f4f95a0f5cdf86a533cda597eb402ed13b3a");
    /* The second input (its own outpoint and output), the code after its executed separator. */
    bip143_case(tx, 1, "68210392972e2eb617b2388771abe27235fd5ac44af8e61693261550447a4c3e39da98ac", 16777215, 0x83,
                "cd72f1f1a433ee9df816857fad88d8ebd97e09a75cd481583eb841c330275e54");
}

/* ---- hybrid keys, bad input through verify-sigs ---- */

/* 0x06/0x07 and X, Y: the hybrid encoding early nodes accepted; consensus
 * still does (libsecp256k1 parses it, checking the parity byte). */
static void to_hybrid(pk_sig_check *c, int wrong_parity)
{
    cr_assert_eq(c->pubkey_len, 65);
    int odd = c->pubkey[64] & 1;
    c->pubkey[0] = (uint8_t)(0x06 | (wrong_parity ? !odd : odd));
}

Test(verify, hybrid_keys)
{
    tu_rng r = {77};
    pk_verifier *v = pk_verifier_new(1);
    for (int i = 0; i < 8; i++) {
        pk_sig_check c;
        make_ecdsa(&r, &c, 0);
        to_hybrid(&c, 0);
        pk_sig_check_one(v, &c);
        cr_assert_eq(c.valid, 1, "hybrid key %d: %s", i, c.reason ? c.reason : "");
        to_hybrid(&c, 1);
        pk_sig_check_one(v, &c);
        cr_assert_eq(c.valid, 0);
        cr_assert_str_eq(c.reason, "bad pubkey");
    }
    pk_verifier_free(v);
}

Test(verify_sigs, cli_bad_input)
{
    tu_rng r = {78};
    pk_sig_check c;
    make_ecdsa(&r, &c, 1);
    char pk[131], msg[65], sig[147], hyb[131];
    pk_hex_encode(c.pubkey, c.pubkey_len, pk);
    pk_hex_encode(c.msg, 32, msg);
    pk_hex_encode(c.sig, c.sig_len, sig);
    pk_sig_check h;
    make_ecdsa(&r, &h, 0);
    to_hybrid(&h, 0);
    char hmsg[65], hsig[147];
    pk_hex_encode(h.pubkey, 65, hyb);
    pk_hex_encode(h.msg, 32, hmsg);
    pk_hex_encode(h.sig, h.sig_len, hsig);
    char path[] = "/tmp/pk-badsigs-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    const char *line = "{\"type\":\"ecdsa\",\"pubkey\":\"%s\",\"msg32\":\"%s\",\"sig\":\"%s\"}\n";
    fprintf(f, line, pk, msg, sig);                     /* 0 valid */
    char trunc[147];
    snprintf(trunc, sizeof trunc, "%.*s", (int)strlen(sig) - 4, sig);
    fprintf(f, line, pk, msg, trunc);                   /* 1 truncated DER: invalid */
    char longsig[300];
    snprintf(longsig, sizeof longsig, "%s%s", sig, "0000000000000000000000");
    fprintf(f, line, pk, msg, longsig);                 /* 2 longer than 73 bytes: error */
    char badpk[131];
    snprintf(badpk, sizeof badpk, "05%s", pk + 2);
    fprintf(f, line, badpk, msg, sig);                  /* 3 not a key: invalid */
    fprintf(f, line, "02abcd", msg, sig);               /* 4 wrong length: error */
    char nothex[147];
    snprintf(nothex, sizeof nothex, "%s", sig);
    nothex[10] = 'g';
    fprintf(f, line, pk, msg, nothex);                  /* 5 non-hex: error */
    fprintf(f, line, pk, "00ff", sig);                  /* 6 msg32 not 32 bytes: error */
    fprintf(f, line, hyb, hmsg, hsig);                  /* 7 hybrid key: valid */
    fprintf(f, "{\"type\":\"schnorr\",\"pubkey\":\"%s\",\"msg\":\"\",\"sig\":\"00\"}\n", pk + 2); /* 8 sig not 64: error */
    fputc('{', f);
    for (int i = 0; i < 70000; i++)
        fputc(' ', f);
    fputs("}\n", f);                                    /* 9 a line over 64 KiB: error, and the stream goes on */
    fprintf(f, line, pk, msg, sig);                     /* 10 valid */
    fputs("{\"type\":", f);                             /* 11 over 64 KiB with a NUL early: one error */
    fputc(0, f);
    for (int i = 0; i < 70000; i++)
        fputc('x', f);
    fputc('\n', f);
    fputs("\n", f);                                     /* 12 blank: no answer, but it is a line */
    fwrite("{\"type\":\"ecdsa\"\0}\n", 1, 18, f);        /* 13 a short line with a NUL: one error */
    fprintf(f, line, pk, msg, sig);                     /* 14 valid: "i" is its line number */
    fclose(f);
    static const char *want[] = {"\"valid\":true",  "\"valid\":false", "\"error\"", "\"valid\":false",
                                 "\"error\"",       "\"error\"",       "\"error\"", "\"valid\":true",
                                 "\"error\"",       "\"error\"",       "\"valid\":true", "{\"i\":11,\"error\"",
                                 "{\"i\":13,\"error\"", "{\"i\":14,\"valid\":true"};
    char cmd[300];
    snprintf(cmd, sizeof cmd, "'%s' verify-sigs '%s' 2>/dev/null", POWKIT_CLI, path);
    FILE *p = popen(cmd, "r");
    char out[512];
    size_t i = 0;
    while (fgets(out, sizeof out, p)) {
        cr_assert_lt(i, sizeof want / sizeof want[0]);
        cr_assert(strstr(out, want[i]), "line %zu: %s", i, out);
        i++;
    }
    cr_assert_eq(WEXITSTATUS(pclose(p)), 1); /* some lines invalid or malformed */
    cr_assert_eq(i, sizeof want / sizeof want[0]);
    unlink(path);
}

/* Legacy script codes lose their OP_CODESEPARATORs when serialised, and
 * only the opcodes: a push holding the byte 0xab keeps it. */
Test(block_sigs, legacy_codeseparators_left_out)
{
    pk_block b;
    uint8_t *d = load_413567(&b);
    const pk_tx *t = &b.tx[1];
    static const uint8_t with[] = {0x51, 0xab, 0x52, 0xab, 0xab, 0x87}, without[] = {0x51, 0x52, 0x87};
    static const uint8_t push_ab[] = {0x01, 0xab, 0x87}, push_only[] = {0x87};
    uint8_t h1[32], h2[32], h3[32], h4[32];
    for (uint32_t ht = 1; ht <= 3; ht++) {
        pk_sighash_legacy(&b, t, 0, with, sizeof with, ht, h1);
        pk_sighash_legacy(&b, t, 0, without, sizeof without, ht, h2);
        cr_assert_arr_eq(h1, h2, 32);
        pk_sighash_legacy(&b, t, 0, push_ab, sizeof push_ab, ht, h3);
        pk_sighash_legacy(&b, t, 0, push_only, sizeof push_only, ht, h4);
        cr_assert_neq(memcmp(h3, h4, 32), 0);
    }
    pk_block_free(&b);
    free(d);
}

/* The once-per-transaction serialisation hashes as the general one does,
 * for every input of the block's transactions and hash types that keep
 * all inputs and outputs. */
Test(block_sigs, legacy_all_equals_legacy)
{
    pk_block b;
    uint8_t *d = load_413567(&b);
    static const uint8_t code[] = {0x76, 0xa9, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0xab, 0x88, 0xac};
    size_t checked = 0;
    /* reused: one struct built for transaction after transaction, large
     * and small (pk_legacy_all_build), each time equal to a fresh one */
    pk_legacy_all reused;
    memset(&reused, 0, sizeof reused);
    size_t grew = 0, cap_before = 0;
    for (size_t ti = 1; ti < b.ntx; ti += 7) {
        pk_legacy_all a;
        pk_legacy_all_init(&a, &b, &b.tx[ti]);
        pk_txin_ref *ins = malloc(b.tx[ti].n_in * sizeof *ins);
        size_t outs_at = pk_tx_inputs(&b, &b.tx[ti], ins);
        pk_legacy_all_build(&reused, &b, &b.tx[ti], ins, outs_at);
        free(ins);
        cr_assert_eq(reused.len, a.len);
        cr_assert_arr_eq(reused.data, a.data, a.len, "tx %zu", ti);
        cr_assert_arr_eq(reused.at, a.at, b.tx[ti].n_in * sizeof *a.at);
        cr_assert_arr_eq(reused.mid, a.mid, b.tx[ti].n_in * sizeof *a.mid);
        grew += reused.cap_data != cap_before;
        cap_before = reused.cap_data;
        for (uint32_t vin = 0; vin < b.tx[ti].n_in; vin++) {
            static const uint32_t types[] = {0x01, 0x00, 0x41, 0x04};
            for (size_t k = 0; k < 4; k++) {
                uint8_t h1[32], h2[32];
                pk_sighash_legacy(&b, &b.tx[ti], vin, code, sizeof code, types[k], h1);
                pk_sighash_legacy_all(&a, vin, code, sizeof code, types[k], h2);
                cr_assert_arr_eq(h1, h2, 32, "tx %zu input %u type %u", ti, vin, types[k]);
                checked++;
            }
        }
        pk_legacy_all_free(&a);
    }
    cr_assert_gt(checked, 1000);
    cr_assert_lt(grew, 12, "the buffers grow only to a larger transaction (%zu times)", grew);
    pk_legacy_all_free(&reused);
    pk_block_free(&b);
    free(d);
}

/* `--no-batch`: BIP340's vectors eight times over (152 lines, on one
 * thread: a batch, with repeated signatures, valid and not): the same
 * lines with and without. */
static char *run_out(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, p)) > 0)
        n += k;
    buf[n] = 0;
    /* BIP340's vectors hold invalid signatures: exit status 1 */
    cr_assert_eq(WEXITSTATUS(pclose(p)), 1, "%s", cmd);
    return buf;
}

Test(verify_sigs, cli_no_batch_gives_the_same_lines)
{
    char path[] = "/tmp/pk-sigs-batch-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    pk_sig_check c[32];
    int expect[32];
    size_t n = bip340_rows(c, expect, 32);
    char ph[65], mh[600], sh[129];
    for (int rep = 0; rep < 8; rep++) {
        for (size_t i = 0; i < n; i++) {
            pk_hex_encode(c[i].pubkey, 32, ph);
            pk_hex_encode(c[i].msg, c[i].msg_len, mh);
            pk_hex_encode(c[i].sig, 64, sh);
            fprintf(f, "{\"type\":\"schnorr\",\"pubkey\":\"%s\",\"msg\":\"%s\",\"sig\":\"%s\"}\n", ph, mh, sh);
        }
    }
    fclose(f);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "'%s' verify-sigs '%s' --threads 1 2>/dev/null", POWKIT_CLI, path);
    char *a = run_out(cmd);
    snprintf(cmd, sizeof cmd, "'%s' verify-sigs '%s' --threads 1 --no-batch 2>/dev/null", POWKIT_CLI, path);
    char *b = run_out(cmd);
    cr_assert_str_eq(a, b);
    size_t lines = 0, valid = 0;
    for (char *p = a; (p = strchr(p, '\n')); p++)
        lines++;
    for (char *p = a; (p = strstr(p, "\"valid\":true")); p++)
        valid++;
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += expect[i] != 0;
    cr_assert_eq(lines, 8 * n);
    cr_assert_eq(valid, 8 * want);
    free(a);
    free(b);
    unlink(path);
}
