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
 * usage: bench_verify [CHECKS=20000] [ROUNDS=5] [BLOCK=tests/data/block413567.raw]
 */
#include <secp256k1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 100 || n > 10000000 || rounds < 1 || rounds > 50) {
        fprintf(stderr, "usage: bench_verify [CHECKS 100..1e7] [ROUNDS 1..50]\n");
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
    free(c);
    secp256k1_context_destroy(ctx);
    int rc = block_stages(argc > 3 ? argv[3] : POWKIT_SOURCE_DIR "/tests/data/block413567.raw", rounds, v1, v2);
    pk_verifier_free(v1);
    pk_verifier_free(v2);
    return rc;
}
