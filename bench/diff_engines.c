/* Differential test of the verification engines: COUNT random checks
 * (half ECDSA with random S side and key form, half BIP340), a fifth of
 * them valid and the rest with one flipped bit in r, s, the message or the
 * key, verified by libsecp256k1 alone and by each of powkit's engines (with
 * BIP340 batches, the default: mostly failed ones, so halves and singles); every
 * answer must be the same.
 *
 * usage: diff_engines [COUNT=1000000] [SEED=1]
 * Exit status 1 on any difference (the first ones are printed). */
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/util.h"
#include "powkit/verify.h"

static uint64_t rng;
static uint64_t next(void) { return pk_rng_next(&rng); }
static void fill(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)next();
}

static void make(secp256k1_context *ctx, pk_sig_check *c, size_t i)
{
    memset(c, 0, sizeof *c);
    uint8_t key[32];
    do
        fill(key, 32);
    while (!secp256k1_ec_seckey_verify(ctx, key));
    fill(c->msg, 32);
    c->msg_len = 32;
    if (i & 1) {
        secp256k1_keypair kp;
        secp256k1_xonly_pubkey xo;
        uint8_t aux[32];
        fill(aux, 32);
        if (!secp256k1_keypair_create(ctx, &kp, key) || !secp256k1_schnorrsig_sign32(ctx, c->sig, c->msg, &kp, aux) ||
            !secp256k1_keypair_xonly_pub(ctx, &xo, NULL, &kp) || !secp256k1_xonly_pubkey_serialize(ctx, c->pubkey, &xo))
            abort();
        c->type = PK_SIG_SCHNORR, c->pubkey_len = 32, c->sig_len = 64;
    } else {
        secp256k1_pubkey pk;
        secp256k1_ecdsa_signature sig;
        if (!secp256k1_ec_pubkey_create(ctx, &pk, key) || !secp256k1_ecdsa_sign(ctx, &sig, c->msg, key, NULL, NULL))
            abort();
        if (next() & 1) { /* the high-S twin: negate S by hand */
            uint8_t rs[64];
            secp256k1_ecdsa_signature_serialize_compact(ctx, rs, &sig);
            static const uint8_t N[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                          0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                          0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
            int borrow = 0;
            for (int k = 31; k >= 0; k--) {
                int v = N[k] - rs[32 + k] - borrow;
                borrow = v < 0;
                rs[32 + k] = (uint8_t)(v + (borrow ? 256 : 0));
            }
            if (!secp256k1_ecdsa_signature_parse_compact(ctx, &sig, rs))
                abort();
        }
        size_t l = 72, pl = 65;
        secp256k1_ecdsa_signature_serialize_der(ctx, c->sig, &l, &sig);
        c->sig_len = (uint8_t)l;
        secp256k1_ec_pubkey_serialize(ctx, c->pubkey, &pl, &pk,
                                      next() & 1 ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
        c->pubkey_len = (uint8_t)pl;
        c->type = PK_SIG_ECDSA;
    }
    uint8_t bit = (uint8_t)(1u << (next() % 8));
    int schnorr = c->type == PK_SIG_SCHNORR;
    switch (next() % 5) {
    case 1: c->sig[schnorr ? next() % 32 : 5 + next() % 20] ^= bit; break;
    case 2: c->sig[schnorr ? 32 + next() % 32 : c->sig_len - 1 - next() % 20] ^= bit; break;
    case 3: c->msg[next() % 32] ^= bit; break;
    case 4: c->pubkey[1 + next() % 31] ^= bit; break;
    default: break; /* valid */
    }
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    enum { BATCH = 8192 };
    pk_sig_check *ref = malloc(BATCH * sizeof *ref), *got = malloc(BATCH * sizeof *got);
    pk_verifier *lib = pk_verifier_new(0), *eng[PK_ENGINE_COUNT] = {0};
    /* the reference: libsecp256k1 alone; the engines with BIP340 batches on (the default) */
    if (!lib || pk_verifier_set_engine(lib, PK_ENGINE_LIBSECP256K1))
        return 2;
    pk_verifier_set_batch(lib, 0);
    for (int e = 1; e < PK_ENGINE_COUNT; e++) {
        eng[e] = pk_verifier_new(0);
        if (pk_verifier_set_engine(eng[e], (pk_engine)e)) {
            printf("engine %s: not available\n", pk_engine_name((pk_engine)e));
            pk_verifier_free(eng[e]);
            eng[e] = NULL;
        }
    }
    size_t done = 0, valid = 0, diffs = 0;
    while (done < count) {
        size_t n = count - done < BATCH ? count - done : BATCH;
        for (size_t i = 0; i < n; i++)
            make(ctx, &ref[i], done + i);
        memcpy(got, ref, n * sizeof *got);
        valid += pk_verifier_run(lib, ref, n, 0);
        for (int e = 1; e < PK_ENGINE_COUNT; e++) {
            if (!eng[e])
                continue;
            memcpy(got, ref, n * sizeof *got);
            pk_verifier_run(eng[e], got, n, 0);
            for (size_t i = 0; i < n; i++) {
                if (got[i].valid != ref[i].valid && diffs++ < 10)
                    printf("DIFFERENCE: check %zu (%s): libsecp256k1 %d, %s %d\n", done + i,
                           ref[i].type == PK_SIG_SCHNORR ? "BIP340" : "ECDSA", ref[i].valid,
                           pk_engine_name((pk_engine)e), got[i].valid);
            }
        }
        done += n;
    }
    printf("diff_engines: %zu checks (%zu valid), %zu differences\n", done, valid, diffs);
    for (int e = 1; e < PK_ENGINE_COUNT; e++)
        pk_verifier_free(eng[e]);
    pk_verifier_free(lib);
    free(ref);
    free(got);
    secp256k1_context_destroy(ctx);
    return diffs ? 1 : 0;
}
