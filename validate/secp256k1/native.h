/* powkit's own secp256k1 signature verification (the "portable" engine):
 * field, scalar and group arithmetic written here, u1*G + u2*P by
 * Strauss-Shamir with width-5 NAF for the key and a width-8 table of odd
 * multiples of G built at first use.  Inputs are parsed already (DER and
 * keys stay with libsecp256k1's parsers); answers equal libsecp256k1's.
 * Verification handles public data only: nothing here is constant-time. */
#ifndef POWKIT_SECP256K1_NATIVE_H
#define POWKIT_SECP256K1_NATIVE_H

#include <stddef.h>
#include <stdint.h>

/* ECDSA: sig64 = r || s big-endian (either S), msg32, pub65 = 04 || x || y
 * (a point on the curve).  Returns 1 valid, 0 not. */
int pk_native_ecdsa_verify(const uint8_t sig64[64], const uint8_t msg32[32], const uint8_t pub65[65]);

/* BIP340: sig64, msg of any length, a 32-byte x-only key.  Returns 1
 * valid, 0 not (a key that does not lift is not valid either). */
int pk_native_schnorr_verify(const uint8_t sig64[64], const uint8_t *msg, size_t msglen, const uint8_t xonly[32]);

/* 1 when the x-only key lifts to a point (BIP340's lift_x). */
int pk_native_xonly_valid(const uint8_t xonly[32]);
/* A compressed key (02/03 || x) as 04 || x || y; 0 when x is not a point's. */
int pk_native_decompress(uint8_t pub65[65], const uint8_t key33[33]);

/* The IFMA engine's 8-lane field operations, for the tests: r[k] = a[k] op
 * b[k] (SQR and SQRT use a: SQRT is the candidate a^((p+1)/4)); inputs
 * with every limb below 2^52.  Returns -1 when the CPU lacks IFMA. */
enum { PK_IFMA_MUL, PK_IFMA_SQR, PK_IFMA_ADD, PK_IFMA_SUB, PK_IFMA_SQRT };
struct pk_fe;
int pk_ifma_fe_op(int op, struct pk_fe *r, const struct pk_fe *a, const struct pk_fe *b); /* 8 each */
/* How many checks the IFMA engine handed to the portable one so far (a
 * lane that met an exceptional sum or ended at infinity). */
uint64_t pk_ifma_fallbacks(void);
/* Where an IFMA engine thread's time goes, in TSC ticks, while a profile
 * is attached to it (bench_verify): per 8-lane group of one kind. */
typedef struct pk_ifma_profile {
    uint64_t groups[2];       /* ECDSA, BIP340 */
    uint64_t keys[2];         /* parsing and lifting keys (a square root in the lanes) */
    uint64_t scalars[2];      /* s^-1 (one inversion per group), u1 u2, split, digits */
    uint64_t hash[2];         /* BIP340 challenges (SHA-256) */
    uint64_t table[2];        /* the lanes' tables of 1P..16P and lambda */
    uint64_t ladder[2];       /* the multi-scalar multiplication */
    uint64_t final[2];        /* comparisons, BIP340's inversion (one per group), fallbacks */
    uint64_t dbl, add, add_ge; /* 8-lane point operations in the ladders and tables */
    uint64_t tables_once;     /* building the shared G tables, once per process */
} pk_ifma_profile;
/* Attaches p to the calling thread (NULL detaches). */
void pk_ifma_profile_attach(pk_ifma_profile *p);
/* iters rounds of four independent 8-lane products (a benchmark's loop);
 * returns a value that depends on all of them. */
uint64_t pk_ifma_mul_chains(uint64_t iters);
/* What the two above run once the CPU has IFMA (ecmult_ifma.c). */
int pk_ifma_fe_op_unchecked(int op, struct pk_fe *r, const struct pk_fe *a, const struct pk_fe *b);
uint64_t pk_ifma_mul_chains_unchecked(uint64_t iters);

#endif
