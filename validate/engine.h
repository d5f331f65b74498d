/* Internal to validate/: a verification engine of powkit's own, as the
 * batch verifier sees it.  Checks reach it parsed (DER, keys and high-S
 * normalisation stay with libsecp256k1's parsers), so an engine is only
 * curve arithmetic.  A new engine is a new file with one of these and a
 * line in the table of verify.c. */
#ifndef POWKIT_VALIDATE_ENGINE_H
#define POWKIT_VALIDATE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "powkit/export.h"

enum { PK_ENGINE_JOB_ECDSA = 1, PK_ENGINE_JOB_SCHNORR = 2 };

/* One parsed check for an engine's batch entry. */
typedef struct pk_engine_job {
    uint8_t kind;       /* PK_ENGINE_JOB_ECDSA or _SCHNORR */
    const uint8_t *sig; /* ECDSA r || s big-endian (either S); BIP340 sig64 */
    const uint8_t *msg;
    size_t msglen;      /* ECDSA 32 */
    /* ECDSA 04 || x || y on the curve, or 02/03 || x (compressed, not yet
     * known to be on the curve: the engine lifts it); BIP340 x-only (32) */
    const uint8_t *key;
    int8_t result;      /* out: 1 valid, 0 not, -1 the key is not a point */
} pk_engine_job;

typedef struct pk_engine_impl {
    const char *name;
    /* 1 when this CPU can run it (feature bits); the self-test and
     * POWKIT_DISABLE are applied by the verifier. */
    int (*supported)(void);
    /* rs = r || s big-endian (either S), msg32, pub65 = 04 || x || y on the curve. */
    int (*ecdsa)(const uint8_t rs[64], const uint8_t msg32[32], const uint8_t pub65[65]);
    /* BIP340: sig64, msg of any length, a 32-byte x-only key (not checked to lift). */
    int (*schnorr)(const uint8_t sig64[64], const uint8_t *msg, size_t msglen, const uint8_t xonly[32]);
    /* Many checks at once, in any mix: what the verifier calls. */
    void (*batch)(pk_engine_job *jobs, size_t n);
} pk_engine_impl;

/* validate/secp256k1/ecmult_portable.c */
PK_LOCAL extern const pk_engine_impl pk_engine_portable;
/* validate/secp256k1/ecmult_ifma.c */
PK_LOCAL extern const pk_engine_impl pk_engine_ifma;

#endif
