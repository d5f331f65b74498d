/* powkit: batch signature verification (libsecp256k1, or powkit's own engine).
 *
 * Checks are independent: a persistent pool of threads (the caller's among
 * them) takes them in chunks from a shared counter, the way Bitcoin Core's
 * check queue does, so any thread count gives the same answers.  ECDSA
 * signatures are DER: strict (BIP66) by default, or lax for historical
 * encodings; high S is accepted by normalising (consensus) unless low_s
 * asks for Core's standardness rule.  Schnorr signatures follow BIP340. */
#ifndef POWKIT_VERIFY_H
#define POWKIT_VERIFY_H

#include "powkit/export.h"
#include "powkit/util.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { PK_SIG_ECDSA = 1, PK_SIG_SCHNORR = 2 };
/* PK_SIG_COMPACT: the ECDSA signature is r || s, 64 bytes big-endian
 * (either S; r and s below the order), not DER: what a caller that has
 * parsed the signature already (the script interpreter) hands over, so
 * that it is not written as DER to be parsed again. */
enum { PK_SIG_LAX_DER = 1, PK_SIG_LOW_S = 2, PK_SIG_COMPACT = 4 };
#define PK_SIG_MSG_MAX 256

typedef struct pk_sig_check {
    uint8_t type;  /* PK_SIG_ECDSA or PK_SIG_SCHNORR */
    uint8_t flags; /* PK_SIG_LAX_DER, PK_SIG_LOW_S, PK_SIG_COMPACT (ECDSA) */
    uint8_t pubkey[65];
    uint8_t pubkey_len; /* ECDSA 33 or 65; Schnorr 32 (x-only) */
    uint8_t sig[73];
    uint8_t sig_len;    /* ECDSA DER (up to 73) or compact (64); Schnorr 64 */
    uint8_t msg[PK_SIG_MSG_MAX];
    uint16_t msg_len;   /* ECDSA 32 */
    /* results */
    int8_t valid;       /* 1, 0, or -1 when not checked (stopped early) */
    const char *reason; /* why not valid: "bad pubkey", "bad DER", "high S", "verify failed" */
} pk_sig_check;

typedef struct pk_verifier pk_verifier;

/* Verification engines: libsecp256k1 (the tests' oracle), powkit's own
 * "portable" arithmetic (validate/secp256k1/, 64-bit integers, any CPU)
 * and "ifma" (eight verifications at once in the lanes of AVX-512 IFMA,
 * where the CPU has it), each self-tested against libsecp256k1 before
 * first use.  Parsing (DER, keys, high-S normalisation) is the same for
 * all.  A new verifier takes pk_engine_default(): POWKIT_ENGINE's when
 * set, else ifma when available, else libsecp256k1.  Verification handles public data only: powkit's
 * engines are not constant-time, and need not be. */
typedef enum pk_engine { PK_ENGINE_LIBSECP256K1 = 0, PK_ENGINE_PORTABLE, PK_ENGINE_IFMA, PK_ENGINE_COUNT } pk_engine;
PK_API const char *pk_engine_name(pk_engine e);
/* "libsecp256k1", "portable", "ifma".  Returns 0 or -1 for an unknown name. */
PK_API int pk_engine_parse(const char *name, pk_engine *out);
/* 1 when e can be used here: built, not disabled by POWKIT_DISABLE, and
 * its self-test passed (run once, at first ask). */
PK_API int pk_engine_available(pk_engine e);
/* What pk_verifier_new chooses: the engine POWKIT_ENGINE names when it is
 * available, else the fastest available one. */
PK_API pk_engine pk_engine_default(void);
/* Chooses the engine of v's checks; returns 0, or -1 when it is not
 * available (v keeps its engine). */
PK_API int pk_verifier_set_engine(pk_verifier *v, pk_engine e);
PK_API pk_engine pk_verifier_engine(const pk_verifier *v);

/* BIP340 batch verification (BIP340's "Batch Verification": one
 * multi-scalar multiplication with random weights for many signatures),
 * on by default: pk_verifier_run checks its BIP340 checks by batches split
 * among the threads when each thread gets enough (128 where the IFMA
 * lanes do the sums, 32 with the portable code), whatever the engine; a
 * batch that fails is checked again in halves, and below that size one by
 * one with the engine, so every answer is the one single verification
 * gives.  on 0 turns it off (every check by the engine alone). */
PK_API void pk_verifier_set_batch(pk_verifier *v, int on);
PK_API int pk_verifier_batch(const pk_verifier *v);

/* threads 0: one per online CPU.  NULL when the context or threads
 * cannot be made. */
PK_API pk_verifier *pk_verifier_new(unsigned threads);
PK_API void pk_verifier_free(pk_verifier *v);
PK_API unsigned pk_verifier_threads(const pk_verifier *v);

/* Verifies every check (or, with stop_at_failure, until a failure is seen:
 * the rest keep valid = -1).  Returns how many were valid. */
PK_API size_t pk_verifier_run(pk_verifier *v, pk_sig_check *checks, size_t n, int stop_at_failure);
/* The same for checks that lie apart (*checks[i]), verified where they
 * are: a caller whose checks are spread over its own records saves
 * copying them together and back. */
PK_API size_t pk_verifier_run_at(pk_verifier *v, pk_sig_check *const *checks, size_t n, int stop_at_failure);

/* Runs fn(arg, i) for i in [0, n) on the pool, chunk indices at a time,
 * and returns when all are done: other work that parallelises like the
 * checks (signature hashes of a block). */
PK_API void pk_verifier_for(pk_verifier *v, size_t n, size_t chunk, void (*fn)(void *arg, size_t i), void *arg);

/* v's threads as a pool for a block's other work (pk_block_verify_on). */
PK_API pk_pool pk_verifier_pool(pk_verifier *v);

/* One check on the calling thread. */
PK_API void pk_sig_check_one(pk_verifier *v, pk_sig_check *c);

#ifdef __cplusplus
}
#endif
#endif
