/* powkit: the consensus script interpreter.
 *
 * Every opcode with Bitcoin Core's rules by flag: P2SH (BIP16), strict DER
 * (BIP66), CHECKLOCKTIMEVERIFY (BIP65), CHECKSEQUENCEVERIFY (BIP112),
 * NULLDUMMY (BIP147), witness v0 (BIP141/143), taproot and tapscript
 * (BIP341/342), and Core's standardness flags on request.  The answer and
 * the error are Core's (its script_tests, tx_valid and tx_invalid suites
 * are the tests), errors named as Core names them ("SCRIPT_ERR_EVAL_FALSE").
 *
 * One input is verified the way libbitcoinconsensus'
 * bitcoinconsensus_verify_script_with_spent_outputs does: the spent
 * scriptPubKey and amount, the whole spending transaction, the input's
 * index, the flags, and every output the transaction spends (taproot's
 * signature hash commits to all of them).
 *
 * Signature checks can also be deferred (pk_script_exec with a
 * pk_script_defer): the script runs as if every non-empty signature
 * verified, the checks are collected for the batch verifier, and an input
 * whose outcome depends on any of them failing is run again for real
 * (validate/script/README.md says how). */
#ifndef POWKIT_SCRIPT_H
#define POWKIT_SCRIPT_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "powkit/prevouts.h"
#include "powkit/validate.h"
#include "powkit/sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The flags, at Bitcoin Core's bit positions. */
enum {
    PK_SCRIPT_VERIFY_NONE = 0,
    PK_SCRIPT_VERIFY_P2SH = 1u << 0,
    PK_SCRIPT_VERIFY_STRICTENC = 1u << 1,
    PK_SCRIPT_VERIFY_DERSIG = 1u << 2,
    PK_SCRIPT_VERIFY_LOW_S = 1u << 3,
    PK_SCRIPT_VERIFY_NULLDUMMY = 1u << 4,
    PK_SCRIPT_VERIFY_SIGPUSHONLY = 1u << 5,
    PK_SCRIPT_VERIFY_MINIMALDATA = 1u << 6,
    PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_NOPS = 1u << 7,
    PK_SCRIPT_VERIFY_CLEANSTACK = 1u << 8,
    PK_SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY = 1u << 9,
    PK_SCRIPT_VERIFY_CHECKSEQUENCEVERIFY = 1u << 10,
    PK_SCRIPT_VERIFY_WITNESS = 1u << 11,
    PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = 1u << 12,
    PK_SCRIPT_VERIFY_MINIMALIF = 1u << 13,
    PK_SCRIPT_VERIFY_NULLFAIL = 1u << 14,
    PK_SCRIPT_VERIFY_WITNESS_PUBKEYTYPE = 1u << 15,
    PK_SCRIPT_VERIFY_CONST_SCRIPTCODE = 1u << 16,
    PK_SCRIPT_VERIFY_TAPROOT = 1u << 17,
    PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION = 1u << 18,
    PK_SCRIPT_VERIFY_DISCOURAGE_OP_SUCCESS = 1u << 19,
    PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_PUBKEYTYPE = 1u << 20,
};
/* The consensus flags (what a block's height can switch on). */
#define PK_SCRIPT_CONSENSUS_FLAGS                                                                              \
    (PK_SCRIPT_VERIFY_P2SH | PK_SCRIPT_VERIFY_DERSIG | PK_SCRIPT_VERIFY_NULLDUMMY |                            \
     PK_SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY | PK_SCRIPT_VERIFY_CHECKSEQUENCEVERIFY | PK_SCRIPT_VERIFY_WITNESS |  \
     PK_SCRIPT_VERIFY_TAPROOT)
/* Core's standard script verification flags (policy/policy.h). */
#define PK_SCRIPT_STANDARD_FLAGS                                                                               \
    (PK_SCRIPT_CONSENSUS_FLAGS | PK_SCRIPT_VERIFY_STRICTENC | PK_SCRIPT_VERIFY_MINIMALDATA |                   \
     PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_NOPS | PK_SCRIPT_VERIFY_CLEANSTACK | PK_SCRIPT_VERIFY_MINIMALIF |  \
     PK_SCRIPT_VERIFY_NULLFAIL | PK_SCRIPT_VERIFY_LOW_S | PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM | \
     PK_SCRIPT_VERIFY_WITNESS_PUBKEYTYPE | PK_SCRIPT_VERIFY_CONST_SCRIPTCODE |                                 \
     PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION | PK_SCRIPT_VERIFY_DISCOURAGE_OP_SUCCESS |         \
     PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_PUBKEYTYPE)

/* Parses "P2SH,WITNESS,..." (Core's names, "NONE" for none) into *flags.
 * Returns 0, or -1 naming the first unknown word in bad (when given). */
PK_API int pk_script_flags_parse(const char *s, uint32_t *flags, const char **bad, size_t *bad_len);
/* The name of one flag bit ("P2SH"), NULL when not a flag. */
PK_API const char *pk_script_flag_name(uint32_t bit);

typedef enum pk_script_error {
    PK_SCRIPT_ERR_OK = 0,
    PK_SCRIPT_ERR_UNKNOWN_ERROR,
    PK_SCRIPT_ERR_EVAL_FALSE,
    PK_SCRIPT_ERR_OP_RETURN,
    PK_SCRIPT_ERR_SCRIPTNUM, /* a number operand too long or not minimal */
    PK_SCRIPT_ERR_SCRIPT_SIZE,
    PK_SCRIPT_ERR_PUSH_SIZE,
    PK_SCRIPT_ERR_OP_COUNT,
    PK_SCRIPT_ERR_STACK_SIZE,
    PK_SCRIPT_ERR_SIG_COUNT,
    PK_SCRIPT_ERR_PUBKEY_COUNT,
    PK_SCRIPT_ERR_VERIFY,
    PK_SCRIPT_ERR_EQUALVERIFY,
    PK_SCRIPT_ERR_CHECKMULTISIGVERIFY,
    PK_SCRIPT_ERR_CHECKSIGVERIFY,
    PK_SCRIPT_ERR_NUMEQUALVERIFY,
    PK_SCRIPT_ERR_BAD_OPCODE,
    PK_SCRIPT_ERR_DISABLED_OPCODE,
    PK_SCRIPT_ERR_INVALID_STACK_OPERATION,
    PK_SCRIPT_ERR_INVALID_ALTSTACK_OPERATION,
    PK_SCRIPT_ERR_UNBALANCED_CONDITIONAL,
    PK_SCRIPT_ERR_NEGATIVE_LOCKTIME,
    PK_SCRIPT_ERR_UNSATISFIED_LOCKTIME,
    PK_SCRIPT_ERR_SIG_HASHTYPE,
    PK_SCRIPT_ERR_SIG_DER,
    PK_SCRIPT_ERR_MINIMALDATA,
    PK_SCRIPT_ERR_SIG_PUSHONLY,
    PK_SCRIPT_ERR_SIG_HIGH_S,
    PK_SCRIPT_ERR_SIG_NULLDUMMY,
    PK_SCRIPT_ERR_PUBKEYTYPE,
    PK_SCRIPT_ERR_CLEANSTACK,
    PK_SCRIPT_ERR_MINIMALIF,
    PK_SCRIPT_ERR_SIG_NULLFAIL,
    PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_NOPS,
    PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM,
    PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION,
    PK_SCRIPT_ERR_DISCOURAGE_OP_SUCCESS,
    PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_PUBKEYTYPE,
    PK_SCRIPT_ERR_WITNESS_PROGRAM_WRONG_LENGTH,
    PK_SCRIPT_ERR_WITNESS_PROGRAM_WITNESS_EMPTY,
    PK_SCRIPT_ERR_WITNESS_PROGRAM_MISMATCH,
    PK_SCRIPT_ERR_WITNESS_MALLEATED,
    PK_SCRIPT_ERR_WITNESS_MALLEATED_P2SH,
    PK_SCRIPT_ERR_WITNESS_UNEXPECTED,
    PK_SCRIPT_ERR_WITNESS_PUBKEYTYPE,
    PK_SCRIPT_ERR_SCHNORR_SIG_SIZE,
    PK_SCRIPT_ERR_SCHNORR_SIG_HASHTYPE,
    PK_SCRIPT_ERR_SCHNORR_SIG,
    PK_SCRIPT_ERR_TAPROOT_WRONG_CONTROL_SIZE,
    PK_SCRIPT_ERR_TAPSCRIPT_VALIDATION_WEIGHT,
    PK_SCRIPT_ERR_TAPSCRIPT_CHECKMULTISIG,
    PK_SCRIPT_ERR_TAPSCRIPT_MINIMALIF,
    PK_SCRIPT_ERR_TAPSCRIPT_EMPTY_PUBKEY,
    PK_SCRIPT_ERR_OP_CODESEPARATOR,
    PK_SCRIPT_ERR_SIG_FINDANDDELETE,
    PK_SCRIPT_ERR_COUNT
} pk_script_error;
/* "SCRIPT_ERR_EVAL_FALSE"; the short form is how Core's test files write
 * them ("EVAL_FALSE", and "NULLFAIL" for SIG_NULLFAIL).  The order is
 * Core's ScriptError_t. */
PK_API const char *pk_script_error_name(pk_script_error e);
PK_API const char *pk_script_error_short(pk_script_error e);

/* A transaction for the interpreter: parsed (pk_tx_parse, or one of a
 * parsed block), with the outputs it spends. */
typedef struct pk_script_tx {
    const pk_block *b;       /* the bytes t's offsets are into */
    const pk_tx *t;
    const pk_prevout *spent; /* t->n_in of them */
} pk_script_tx;

typedef struct pk_script_txdata pk_script_txdata; /* per-transaction hashes */

/* Verifies input vin of a serialised transaction (tx, txlen, exactly one
 * transaction) spending spk with amount, with every spent output of the
 * transaction (n_spent = its input count).  Returns 1 valid, 0 invalid
 * (*err says why), or -1 when the call itself is wrong: the transaction
 * does not parse, vin is out of range, n_spent is not the input count,
 * spk is not spent[vin]'s, or the flags are a combination Core refuses
 * (CLEANSTACK without P2SH and WITNESS, WITNESS without P2SH). */
PK_API int pk_script_verify(const uint8_t *spk, size_t spk_len, uint64_t amount, const uint8_t *tx, size_t txlen,
                            const pk_prevout *spent, size_t n_spent, size_t vin, uint32_t flags,
                            pk_script_error *err);

/* Per transaction: the signature hashes' shared parts, made once for all
 * its inputs (legacy, BIP143, BIP341, each on first use). */
PK_API pk_script_txdata *pk_script_txdata_new(const pk_script_tx *tx);
/* d made ready for another transaction, its buffers kept (they grow only
 * where the new one needs more room): for a user going through many. */
PK_API void pk_script_txdata_reuse(pk_script_txdata *d, const pk_script_tx *tx);
PK_API void pk_script_txdata_free(pk_script_txdata *d);
/* The bytes d's buffers hold (a user that keeps txdata sizes its cache). */
PK_API size_t pk_script_txdata_bytes(const pk_script_txdata *d);
/* Where the transaction's inputs are (n_in of them). */
PK_API const pk_txin_ref *pk_script_txdata_inputs(const pk_script_txdata *d);

/* HASH160s made ahead of the run, many at once (pk_hash160_many), where an
 * input's scripts will hash: the P2PKH key, the P2SH redeem script and the
 * P2WPKH key.  pre points into the transaction's bytes; an OP_HASH160 on a
 * stack element that is exactly those bytes (the same place, the same
 * length: bytes the run never changes) takes hash from here instead of
 * hashing, so a slot that guessed wrong only goes unused.  A slot with pre
 * NULL is empty. */
typedef struct pk_script_h160 {
    const uint8_t *pre;
    uint32_t len;
    uint8_t hash[20];
} pk_script_h160;
enum { PK_SCRIPT_H160_PER_INPUT = 2 };
/* d's runs take the hashes from memo (PK_SCRIPT_H160_PER_INPUT slots per
 * input, hashed, kept alive by the caller), until reused for another
 * transaction or set to NULL. */
PK_API void pk_script_txdata_set_h160(pk_script_txdata *d, const pk_script_h160 *memo);

/* Checks a deferred run collects (see pk_script_exec).  Each requirement
 * is one signature opcode's assumption: a CHECKSIG's one check, or a
 * CHECKMULTISIG's candidate pairs (signature i against key i + d, d up to
 * n - m), which must match as consensus matches them. */
struct pk_sig_check;
typedef struct pk_script_req {
    uint32_t pairs; /* offset in pairs[] of m * (n - m + 1) entries */
    uint16_t m, n;  /* CHECKSIG: 1, 1 */
} pk_script_req;
typedef struct pk_script_defer {
    struct pk_sig_check *checks; /* grow (realloc); pk_script_defer_free frees */
    size_t n, cap;
    int32_t *pairs; /* a check's index, or -1 for a pair known to fail */
    size_t n_pairs, cap_pairs;
    pk_script_req *reqs;
    size_t n_reqs, cap_reqs;
    /* Set by the caller: legacy SIGHASH_ALL hashes are not computed as the
     * script runs (a deferred check needs its hash only when verified)
     * but recorded, and pk_script_defer_hash computes them all at once,
     * several per pass of the multi-buffer SHA-256.  Until then those
     * checks' messages are zero. */
    int lazy_legacy;
    struct pk_script_hashjob *jobs;
    size_t n_jobs, cap_jobs;
    uint8_t *codes; /* the jobs' serialized script codes */
    size_t n_codes, cap_codes;
} pk_script_defer;
PK_API void pk_script_defer_free(pk_script_defer *d);
/* Empties d for another transaction, its buffers kept (lazy_legacy
 * too). */
PK_API void pk_script_defer_clear(pk_script_defer *d);
/* The bytes d's buffers hold. */
PK_API size_t pk_script_defer_bytes(const pk_script_defer *d);
/* Computes the hashes lazy_legacy left out, into their checks' messages:
 * call it after the transaction's last deferred run, while its txdata
 * lives, before the checks are verified. */
PK_API void pk_script_defer_hash(pk_script_defer *d, pk_script_txdata *txd);
/* The same for the hashes [from, to) of the n_jobs left (no reset):
 * threads may each take a range, of one transaction or of several. */
PK_API void pk_script_defer_hash_range(pk_script_defer *d, const pk_script_txdata *txd, size_t from, size_t to);
/* The two halves of it, for hashing several transactions' jobs in one
 * multi-buffer pass: jobs [from, to) described as gathered messages
 * (g and segs: to - from each; they point into d and txd), and their
 * digests h (to - from) stored into their checks. */
PK_API void pk_script_defer_describe(const pk_script_defer *d, const pk_script_txdata *txd, size_t from, size_t to,
                                     pk_sha256_gather *g, pk_sha256_seg (*segs)[4]);
PK_API void pk_script_defer_store(pk_script_defer *d, size_t from, size_t to, const uint8_t (*h)[32]);
/* 1 when requirements [from, to) hold with the verified checks (checks:
 * d->checks, or where the caller copied them, verified). */
PK_API int pk_script_defer_holds(const pk_script_defer *d, const struct pk_sig_check *checks, size_t from,
                                 size_t to);
/* A guess at how a CHECKMULTISIG of m signatures and n keys matches: the
 * key (0 to n - 1, rising) each signature verifies against. */
#define PK_SCRIPT_HINT_MAX 20
typedef struct pk_script_hint {
    uint16_t m, n;
    uint8_t key[PK_SCRIPT_HINT_MAX];
} pk_script_hint;
/* The checks (indices into d->checks) that deciding requirements [from,
 * to) needs next; none for a requirement already decided by the checks
 * verified.  For each other one: the open pairs of the hint for its m and
 * n (hints, n_hints of them; may be NULL) when none of that matching's
 * pairs is known to fail, else the pairs consensus would try if every
 * check not yet verified (valid -1) were valid, those of them still open.
 * Verify them, store their results in d->checks, and ask again until none
 * is wanted: then holds (with d->checks) decides, and a CHECKMULTISIG
 * costs about one check per signature, not one per candidate pair.
 * want has room for d->n. */
PK_API size_t pk_script_defer_wanted(const pk_script_defer *d, size_t from, size_t to, const pk_script_hint *hints,
                                     size_t n_hints, uint32_t *want);
/* 1 when requirement r holds with the checks verified; keys (room for
 * its m) then gets the key each signature matched, as a hint for others. */
PK_API int pk_script_defer_matched(const pk_script_defer *d, size_t r, uint8_t *keys);

/* What a verification saw, for the reports. */
typedef struct pk_script_info {
    int witness_version;   /* -1 none */
    int p2sh;              /* the scriptPubKey is P2SH */
    int tapscript;         /* a taproot script path with leaf 0xc0 */
    int upgradable;        /* valid only as an upgrade hook (unknown witness or leaf version, OP_SUCCESSx,
                              an unknown key type) */
    unsigned sigs;         /* non-empty signatures its script checks (CHECKSIG, each of CHECKMULTISIG) */
} pk_script_info;

/* Input vin of tx with the transaction's data (NULL: made and freed here).
 * defer NULL: every signature is verified here (libsecp256k1); otherwise
 * as the header says: returns 1 valid (deferred: valid when the
 * requirements it added hold), 0 invalid (deferred: run it again without
 * deferring, a failing signature may be what makes it valid).  info may
 * be NULL. */
PK_API int pk_script_exec(const pk_script_tx *tx, pk_script_txdata *txd, size_t vin, uint32_t flags,
                          pk_script_defer *defer, pk_script_error *err, pk_script_info *info);

#ifdef __cplusplus
}
#endif
#endif
