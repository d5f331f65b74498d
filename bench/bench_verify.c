/* Signature verification speed, side by side (median of alternating
 * rounds): pk_verifier on 1 and 2 threads against a bare loop of
 * libsecp256k1 calls (parse DER, parse key, normalize, verify) on one
 * thread, over the same ECDSA checks made here.
 *
 * usage: bench_verify [CHECKS=20000] [ROUNDS=5]
 */
#include <secp256k1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/util.h"
#include "powkit/verify.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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
    pk_verifier_free(v1);
    pk_verifier_free(v2);
    free(c);
    secp256k1_context_destroy(ctx);
    return 0;
}
