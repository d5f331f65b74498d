/* Signature verification speed, side by side (median of alternating
 * rounds): pk_verifier on 1 and 2 threads against a bare loop of
 * libsecp256k1 calls (parse DER, parse key, normalize, verify) on one
 * thread, over the same ECDSA checks made here.
 *
 * Then block 413567's own checks (5,815 signatures, 7,463 candidate
 * pairs) through pk_block_verify_sigs on 1 and 2 threads: the time of each
 * stage (recognising the spends, signature hashes, verification), median
 * of alternating rounds after one warm-up (a node runs this again and
 * again; the first round pays for page faults and libcrypto's lazy set-up).
 *
 * Last, the engines side by side (libsecp256k1, powkit's portable):
 * ECDSA and BIP340 checks per second on 1 and 2 threads, and block
 * 413567's verification on one thread, alternating engine by engine in
 * every round.
 *
 * usage: bench_verify [CHECKS=20000] [ROUNDS=5] [BLOCK=tests/data/block413567.raw]
 */
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <x86intrin.h>
/* The time-stamp counter: ticks at the nominal clock. */
static uint64_t ticks_now(void) { return __rdtsc(); }
#else
#include <time.h>
/* No TSC: nanoseconds stand in (the IFMA engine is x86-64 only anyway). */
static uint64_t ticks_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#include "../validate/secp256k1/batch.h"
#include "../validate/secp256k1/field.h"
#include "../validate/secp256k1/native.h"
#include "powkit/sigcheck.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

static int block_stages(const char *path, int rounds, pk_verifier *v1, pk_verifier *v2)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_verify: cannot open %s\n", path);
        return 1;
    }
    static uint8_t data[4 << 20];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    pk_block b;
    pk_verror e;
    if (pk_block_parse(&b, data, len, &e)) {
        fprintf(stderr, "bench_verify: %s: %s\n", path, e.msg);
        return 1;
    }
    pk_block_hash_txs(&b);
    double cl[2][50], sh[2][50], ve[2][50];
    pk_sig_report r;
    for (int round = -1; round < rounds; round++) {
        for (int k = 0; k < 2; k++) {
            pk_block_verify_sigs(&b, NULL, k ? v2 : v1, &r);
            if (round >= 0) {
                cl[k][round] = r.ms_classify, sh[k][round] = r.ms_sighash, ve[k][round] = r.ms_verify;
            }
            if (round < rounds - 1 || k == 0)
                pk_sig_report_free(&r);
        }
    }
    printf("\nblock %s: %llu signatures, %llu checks, %llu inputs valid, %llu failed; median of %d rounds\n", path,
           (unsigned long long)r.signatures, (unsigned long long)r.candidates, (unsigned long long)r.valid_inputs,
           (unsigned long long)r.failed_inputs, rounds);
    double m[2][3];
    for (int k = 0; k < 2; k++) {
        m[k][0] = median(cl[k], rounds), m[k][1] = median(sh[k], rounds), m[k][2] = median(ve[k], rounds);
        printf("  %d thread%s: recognise %.2f ms, sighash %.2f ms, verify %.2f ms (%.0f checks/s, %.0f per core); "
               "extraction+sighash = %.1f%% of verification\n",
               k + 1, k ? "s" : " ", m[k][0], m[k][1], m[k][2], r.candidates / (m[k][2] / 1e3),
               r.candidates / (m[k][2] / 1e3) / (k + 1), 100 * (m[k][0] + m[k][1]) / m[k][2]);
    }
    printf("  scaling, verification: %.2fx on 2 threads; whole (extract+sighash+verify): %.2fx\n", m[0][2] / m[1][2],
           (m[0][0] + m[0][1] + m[0][2]) / (m[1][0] + m[1][1] + m[1][2]));
    pk_sig_report_free(&r);
    pk_block_free(&b);
    return 0;
}

/* Where the IFMA engine's time goes: TSC ticks of an 8-lane field
 * product, and a profile of the engine on one thread over the checks. */
static void ifma_cycles(pk_sig_check *ecdsa, pk_sig_check *schnorr, size_t n)
{
    pk_verifier *v = pk_verifier_new(1);
    if (v)
        pk_verifier_set_batch(v, 0);
    if (!v || pk_verifier_set_engine(v, PK_ENGINE_IFMA)) {
        printf("\nifma: not available here\n");
        pk_verifier_free(v);
        return;
    }
    enum { ITERS = 2000000 };
    pk_ifma_mul_chains(1000);
    uint64_t t0 = ticks_now();
    double w0 = pk_now();
    volatile uint64_t sink = pk_ifma_mul_chains(ITERS);
    (void)sink;
    double ticks = (double)(ticks_now() - t0), wall = pk_now() - w0;
    double per_mul = ticks / (4.0 * ITERS), ns = wall * 1e9 / (4.0 * ITERS), ticks_per_ms = ticks / (wall * 1e3);
    pk_ifma_profile p;
    memset(&p, 0, sizeof p);
    pk_sig_check *c = malloc(n * sizeof *c);
    pk_ifma_profile_attach(&p);
    for (int kind = 0; kind < 2; kind++) {
        memcpy(c, kind ? schnorr : ecdsa, n * sizeof *c);
        pk_verifier_run(v, c, n, 0);
    }
    pk_ifma_profile_attach(NULL);
    free(c);
    pk_verifier_free(v);
    printf("\nifma, where the time goes (TSC ticks, one thread, %zu checks of each kind):\n", n);
    printf("  8-lane field product: %.1f ticks (%.2f ns; %.1f ticks per field product per lane), "
           "4 independent chains\n", per_mul, ns, per_mul / 8);
    /* products (M) and squares (S) of each 8-lane operation, as written in field_ifma.h's users */
    double m = 3 * (double)p.dbl + 12 * (double)p.add + 8 * (double)p.add_ge;
    double sq = 4 * (double)p.dbl + 4 * (double)p.add + 3 * (double)p.add_ge;
    uint64_t groups = p.groups[0] + p.groups[1];
    /* one square root per group (253 S + 13 M) for the keys: all BIP340 groups, the ECDSA ones with compressed keys */
    m += 13.0 * (double)groups, sq += 253.0 * (double)groups;
    printf("  field operations per verification (8 lanes full): %.0f products + %.0f squares "
           "(dbl %.1f, add %.1f, mixed add %.1f per group)\n", m / (8.0 * (double)groups), sq / (8.0 * (double)groups),
           (double)p.dbl / (double)groups, (double)p.add / (double)groups, (double)p.add_ge / (double)groups);
    static const char *kinds[2] = {"ECDSA", "BIP340"};
    for (int k = 0; k < 2; k++) {
        if (!p.groups[k])
            continue;
        double total = (double)(p.keys[k] + p.scalars[k] + p.hash[k] + p.table[k] + p.ladder[k] + p.final[k]);
        double per = total / (8.0 * (double)p.groups[k]);
        printf("  %-6s %7.0f ticks per verification in the engine: keys (square root) %4.1f%%, scalars (incl. s^-1) "
               "%4.1f%%, SHA-256 %4.1f%%, tables %4.1f%%, ladder %4.1f%%, final (incl. inversion) %4.1f%%\n",
               kinds[k], per, 100 * (double)p.keys[k] / total, 100 * (double)p.scalars[k] / total,
               100 * (double)p.hash[k] / total, 100 * (double)p.table[k] / total, 100 * (double)p.ladder[k] / total,
               100 * (double)p.final[k] / total);
    }
    printf("  shared G tables (256 points, portable code), once per process: %.2f ms\n",
           (double)p.tables_once / ticks_per_ms);
}

/* BIP340 batches of each size against libsecp256k1's single
 * schnorrsig_verify (with the key's parse, as the verifier does it) and
 * the engine's single verification, one thread, alternating; then the
 * cost of one bad signature in a batch of 4,096. */
static void batches(secp256k1_context *ctx, int rounds)
{
    enum { MAXN = 16384 };
    pk_verifier *one = pk_verifier_new(1), *bat = pk_verifier_new(1);
    pk_engine en = pk_verifier_engine(bat);
    if (en == PK_ENGINE_LIBSECP256K1) { /* no own engine is the default: the portable one batches */
        pk_verifier_set_engine(one, PK_ENGINE_PORTABLE);
        pk_verifier_set_engine(bat, PK_ENGINE_PORTABLE);
        en = PK_ENGINE_PORTABLE;
    }
    pk_verifier_set_batch(one, 0);
    pk_verifier_set_batch(bat, 1);
    pk_sig_check *c = malloc(MAXN * sizeof *c), *w = malloc(MAXN * sizeof *w);
    uint64_t seed = 0xba7c4;
    for (size_t i = 0; i < MAXN; i++) {
        uint8_t key[32], aux[32] = {0};
        secp256k1_keypair kp;
        secp256k1_xonly_pubkey xo;
        memset(&c[i], 0, sizeof c[i]);
        do
            for (int k = 0; k < 32; k++)
                key[k] = (uint8_t)pk_rng_next(&seed);
        while (!secp256k1_keypair_create(ctx, &kp, key));
        for (int k = 0; k < 32; k++)
            c[i].msg[k] = (uint8_t)pk_rng_next(&seed);
        c[i].type = PK_SIG_SCHNORR, c[i].msg_len = 32, c[i].sig_len = 64, c[i].pubkey_len = 32;
        if (!secp256k1_schnorrsig_sign32(ctx, c[i].sig, c[i].msg, &kp, aux) ||
            !secp256k1_keypair_xonly_pub(ctx, &xo, NULL, &kp) || !secp256k1_xonly_pubkey_serialize(ctx, c[i].pubkey, &xo))
            return;
    }
    static const size_t sizes[] = {16, 64, 256, 1024, 4096, 16384};
    printf("\nBIP340 batches (engine %s, one thread), signatures/s, median of %d rounds (alternating):\n",
           pk_engine_name(en), rounds);
    printf("  %6s %14s %14s %14s %12s %12s\n", "size", "libsecp256k1", "single", "batch", "vs libsecp", "vs single");
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si], reps = n >= 16384 ? 1 : 16384 / n;
        double r[3][50];
        for (int round = 0; round < rounds; round++) {
            double t0 = pk_now();
            for (size_t rep = 0; rep < reps; rep++) {
                for (size_t i = 0; i < n; i++) {
                    secp256k1_xonly_pubkey pk;
                    if (!secp256k1_xonly_pubkey_parse(ctx, &pk, c[i].pubkey) ||
                        !secp256k1_schnorrsig_verify(ctx, c[i].sig, c[i].msg, 32, &pk))
                        fprintf(stderr, "bench_verify: a valid signature failed\n");
                }
            }
            r[0][round] = (double)(n * reps) / (pk_now() - t0);
            for (int k = 0; k < 2; k++) {
                t0 = pk_now();
                for (size_t rep = 0; rep < reps; rep++) {
                    memcpy(w, c, n * sizeof *w);
                    if (pk_verifier_run(k ? bat : one, w, n, 0) != n)
                        fprintf(stderr, "bench_verify: a valid signature failed\n");
                }
                r[1 + k][round] = (double)(n * reps) / (pk_now() - t0);
            }
        }
        double m0 = median(r[0], rounds), m1 = median(r[1], rounds), m2 = median(r[2], rounds);
        printf("  %6zu %14.0f %14.0f %14.0f %11.2fx %11.2fx\n", n, m0, m1, m2, m2 / m0, m2 / m1);
    }
    /* the two ways of doing the sum, side by side: where Strauss's
     * method stops beating the buckets (the crossover the automatic
     * choice must match) */
    {
        static const size_t ms[] = {4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 512};
        pk_bip340_item *items = malloc(512 * sizeof *items);
        int8_t *alone = malloc(512);
        for (size_t i = 0; i < 512; i++)
            items[i] = (pk_bip340_item){c[i].sig, c[i].msg, 32, c[i].pubkey};
        for (int lanes = 0; lanes <= pk_engine_available(PK_ENGINE_IFMA); lanes++) {
            printf("\n  batch sums (%s buckets), signatures/s, median of %d rounds (alternating):\n",
                   lanes ? "IFMA lanes'" : "portable", rounds);
            printf("  %6s %14s %14s %10s %8s\n", "size", "Strauss", "buckets", "S/B", "auto");
            for (size_t si = 0; si < sizeof ms / sizeof ms[0]; si++) {
                size_t n = ms[si], reps = 2048 / n;
                double r[2][50];
                for (int round = 0; round < rounds; round++)
                    for (int k = 0; k < 2; k++) {
                        double t0 = pk_now();
                        for (size_t rep = 0; rep < reps; rep++)
                            if (pk_bip340_batch_with(items, n, alone, lanes, k ? PK_MSM_BUCKETS : PK_MSM_STRAUSS) != 1)
                                fprintf(stderr, "bench_verify: a valid batch failed\n");
                        r[k][round] = (double)(n * reps) / (pk_now() - t0);
                    }
                double a = median(r[0], rounds), b = median(r[1], rounds);
                printf("  %6zu %14.0f %14.0f %9.2fx %8s\n", n, a, b, a / b,
                       pk_bip340_batch_method(n, lanes) == PK_MSM_STRAUSS ? "Strauss" : "buckets");
            }
        }
        free(items);
        free(alone);
    }
    /* one bad signature among 4,096, in a different place each round */
    double good[50], bad[50];
    for (int round = 0; round < rounds; round++) {
        memcpy(w, c, 4096 * sizeof *w);
        double t0 = pk_now();
        pk_verifier_run(bat, w, 4096, 0);
        good[round] = pk_now() - t0;
        memcpy(w, c, 4096 * sizeof *w);
        size_t at = (size_t)(pk_rng_next(&seed) % 4096);
        w[at].sig[40] ^= 1;
        t0 = pk_now();
        size_t valid = pk_verifier_run(bat, w, 4096, 0);
        bad[round] = pk_now() - t0;
        if (valid != 4095 || w[at].valid != 0)
            fprintf(stderr, "bench_verify: the bad signature was not found\n");
    }
    double g = median(good, rounds), b = median(bad, rounds);
    printf("  one bad signature in 4,096: %.1f ms against %.1f ms all valid (%.2fx; found by halves)\n", b * 1e3,
           g * 1e3, b / g);
    printf("  (runs under %d BIP340 checks a thread are not batched: the batch column is single verification there)\n",
           pk_engine_available(PK_ENGINE_IFMA) ? 128 : 32);
    free(c);
    free(w);
    pk_verifier_free(one);
    pk_verifier_free(bat);
}

/* Checks per second of each engine, alternating within every round. */
static void engines(pk_sig_check *ecdsa, pk_sig_check *schnorr, size_t n, int rounds, const char *block_path)
{
    static uint8_t data[4 << 20];
    FILE *f = fopen(block_path, "rb");
    size_t len = f ? fread(data, 1, sizeof data, f) : 0;
    if (f)
        fclose(f);
    pk_block b;
    pk_verror e;
    int have_block = len && pk_block_parse(&b, data, len, &e) == 0;
    if (have_block)
        pk_block_hash_txs(&b);
    double rate[PK_ENGINE_COUNT][2][2][50], blk[PK_ENGINE_COUNT][50];
    int ok[PK_ENGINE_COUNT];
    pk_verifier *v[PK_ENGINE_COUNT][2];
    for (int en = 0; en < PK_ENGINE_COUNT; en++) {
        for (int t = 0; t < 2; t++) {
            v[en][t] = pk_verifier_new((unsigned)t + 1);
            ok[en] = pk_verifier_set_engine(v[en][t], (pk_engine)en) == 0;
            pk_verifier_set_batch(v[en][t], 0); /* single verification here: batches below */
        }
    }
    for (int r = 0; r < rounds; r++) {
        for (int en = 0; en < PK_ENGINE_COUNT; en++) {
            if (!ok[en])
                continue;
            for (int kind = 0; kind < 2; kind++) {
                for (int t = 0; t < 2; t++) {
                    double t0 = pk_now();
                    size_t good = pk_verifier_run(v[en][t], kind ? schnorr : ecdsa, n, 0);
                    rate[en][kind][t][r] = n / (pk_now() - t0);
                    if (good != n)
                        fprintf(stderr, "bench_verify: engine %s: a valid signature failed\n",
                                pk_engine_name((pk_engine)en));
                }
            }
            if (have_block) {
                pk_sig_report rep;
                pk_block_verify_sigs(&b, NULL, v[en][0], &rep);
                blk[en][r] = rep.ms_verify;
                pk_sig_report_free(&rep);
            }
        }
    }
    printf("\nengines (one by one), %zu checks each, median of %d rounds (alternating):\n", n, rounds);
    printf("  %-13s %12s %12s %12s %12s %14s\n", "engine", "ECDSA 1t/s", "ECDSA 2t/s", "BIP340 1t/s", "BIP340 2t/s",
           "413567 1t ms");
    double base[2] = {0, 0}, base_blk = 0;
    for (int en = 0; en < PK_ENGINE_COUNT; en++) {
        if (!ok[en]) {
            printf("  %-13s not available\n", pk_engine_name((pk_engine)en));
            continue;
        }
        double m[2][2], mb = have_block ? median(blk[en], rounds) : 0;
        for (int kind = 0; kind < 2; kind++)
            for (int t = 0; t < 2; t++)
                m[kind][t] = median(rate[en][kind][t], rounds);
        if (en == 0)
            base[0] = m[0][0], base[1] = m[1][0], base_blk = mb;
        printf("  %-13s %12.0f %12.0f %12.0f %12.0f %14.1f   per core vs libsecp256k1: ECDSA %.2fx, BIP340 %.2fx, "
               "block %.2fx; 2 threads %.2fx / %.2fx one\n",
               pk_engine_name((pk_engine)en), m[0][0], m[0][1], m[1][0], m[1][1], mb, m[0][0] / base[0],
               m[1][0] / base[1], mb > 0 ? base_blk / mb : 0, m[0][1] / m[0][0], m[1][1] / m[1][0]);
    }
    for (int en = 0; en < PK_ENGINE_COUNT; en++)
        for (int t = 0; t < 2; t++)
            pk_verifier_free(v[en][t]);
    if (have_block)
        pk_block_free(&b);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "batches")) { /* the BIP340 batch rows alone */
        int rounds = argc > 2 ? atoi(argv[2]) : 5;
        if (rounds < 1 || rounds > 50)
            rounds = 5;
        secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
        batches(ctx, rounds);
        secp256k1_context_destroy(ctx);
        return 0;
    }
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 100 || n > 10000000 || rounds < 1 || rounds > 50) {
        fprintf(stderr, "usage: bench_verify [CHECKS 100..1e7] [ROUNDS 1..50] [BLOCK]\n       bench_verify batches [ROUNDS]\n");
        return 2;
    }
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    pk_sig_check *c = calloc(n, sizeof *c);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        uint8_t key[32];
        do {
            for (int k = 0; k < 32; k++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                key[k] = (uint8_t)s;
            }
        } while (!secp256k1_ec_seckey_verify(ctx, key));
        c[i].type = PK_SIG_ECDSA;
        c[i].msg_len = 32;
        for (int k = 0; k < 32; k++)
            c[i].msg[k] = (uint8_t)(s >> (k % 8));
        c[i].msg[0] ^= (uint8_t)i;
        secp256k1_pubkey pk;
        secp256k1_ecdsa_signature sig;
        if (!secp256k1_ec_pubkey_create(ctx, &pk, key) || !secp256k1_ecdsa_sign(ctx, &sig, c[i].msg, key, NULL, NULL))
            return 1;
        size_t pl = 33;
        secp256k1_ec_pubkey_serialize(ctx, c[i].pubkey, &pl, &pk, SECP256K1_EC_COMPRESSED);
        c[i].pubkey_len = 33;
        size_t sl = 73;
        secp256k1_ecdsa_signature_serialize_der(ctx, c[i].sig, &sl, &sig);
        c[i].sig_len = (uint8_t)sl;
    }
    /* BIP340 checks: keys and messages from the same generator. */
    pk_sig_check *sc = calloc(n, sizeof *sc);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[32], aux[32] = {0};
        do {
            for (int k = 0; k < 32; k++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                key[k] = (uint8_t)s;
            }
        } while (!secp256k1_ec_seckey_verify(ctx, key));
        secp256k1_keypair kp;
        secp256k1_xonly_pubkey xo;
        sc[i].type = PK_SIG_SCHNORR;
        sc[i].msg_len = 32;
        memcpy(sc[i].msg, key, 32);
        sc[i].msg[0] ^= 0x5a;
        if (!secp256k1_keypair_create(ctx, &kp, key) || !secp256k1_schnorrsig_sign32(ctx, sc[i].sig, sc[i].msg, &kp, aux) ||
            !secp256k1_keypair_xonly_pub(ctx, &xo, NULL, &kp) || !secp256k1_xonly_pubkey_serialize(ctx, sc[i].pubkey, &xo))
            return 1;
        sc[i].pubkey_len = 32;
        sc[i].sig_len = 64;
    }
    pk_verifier *v1 = pk_verifier_new(1), *v2 = pk_verifier_new(2);
    double bare[50], one[50], two[50];
    for (int r = 0; r < rounds; r++) {
        double t0 = pk_now();
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            secp256k1_pubkey pk;
            secp256k1_ecdsa_signature sig;
            if (secp256k1_ec_pubkey_parse(ctx, &pk, c[i].pubkey, c[i].pubkey_len) &&
                secp256k1_ecdsa_signature_parse_der(ctx, &sig, c[i].sig, c[i].sig_len)) {
                secp256k1_ecdsa_signature_normalize(ctx, &sig, &sig);
                ok += (size_t)secp256k1_ecdsa_verify(ctx, &sig, c[i].msg, &pk);
            }
        }
        bare[r] = n / (pk_now() - t0);
        t0 = pk_now();
        size_t ok1 = pk_verifier_run(v1, c, n, 0);
        one[r] = n / (pk_now() - t0);
        t0 = pk_now();
        size_t ok2 = pk_verifier_run(v2, c, n, 0);
        two[r] = n / (pk_now() - t0);
        if (ok != n || ok1 != n || ok2 != n) {
            fprintf(stderr, "bench_verify: a valid signature failed\n");
            return 1;
        }
    }
    qsort(bare, (size_t)rounds, sizeof *bare, cmp);
    qsort(one, (size_t)rounds, sizeof *one, cmp);
    qsort(two, (size_t)rounds, sizeof *two, cmp);
    double b = bare[rounds / 2], o = one[rounds / 2], t = two[rounds / 2];
    printf("bench_verify: %zu ECDSA checks (compressed keys), median of %d rounds\n", n, rounds);
    printf("bare libsecp256k1 loop, 1 thread: %.0f/s\n", b);
    printf("pk_verifier, 1 thread:            %.0f/s (%.3fx the bare loop)\n", o, o / b);
    printf("pk_verifier, 2 threads:           %.0f/s (%.2fx one thread)\n", t, t / o);
    const char *block_path = argc > 3 ? argv[3] : POWKIT_SOURCE_DIR "/tests/data/block413567.raw";
    int rc = block_stages(block_path, rounds, v1, v2);
    pk_verifier_free(v1);
    pk_verifier_free(v2);
    engines(c, sc, n, rounds, block_path);
    ifma_cycles(c, sc, n);
    batches(ctx, rounds);
    free(c);
    free(sc);
    secp256k1_context_destroy(ctx);
    return rc;
}
