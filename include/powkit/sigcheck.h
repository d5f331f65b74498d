/* powkit: the signature checks of a block's inputs, for the batch
 * verifier (the hashes they sign are in sighash.h).
 *
 * With the spent outputs (pk_prevouts: getblock HASH 3) every input runs
 * through the consensus script interpreter (script.h) with the flags of
 * the block's height as Bitcoin Core chooses them, its signature checks
 * deferred into one batch, and BIP68's height locks checked against the
 * spent outputs' heights where given; the rest of this comment is about
 * blocks without them.
 *
 * Spends recognised (the script templates P2PK, P2PKH and m-of-n
 * CHECKMULTISIG, bare or inside P2SH, P2WSH or P2SH-P2WSH; P2WPKH and
 * P2SH-P2WPKH; the taproot key path):
 *  - without the spent outputs, the legacy ones whose key or redeem script
 *    is in the scriptSig (P2PKH, P2SH with a template inside);
 *  - with them (pk_prevouts: getblock HASH 3), all of the above, the
 *    scriptPubKey checked against the scriptSig and witness (hashes of
 *    keys and scripts) as consensus does.
 * CHECKMULTISIG is matched as consensus does: signatures in order against
 * keys in order; every candidate pair is verified in the batch, then the
 * matching is resolved.  Anything else is counted as not checked, never as
 * valid.  ECDSA follows the consensus rules of the block's height: lax DER
 * before BIP66 (363,725 on mainnet), strict from it; high S accepted;
 * hybrid keys accepted (libsecp256k1 parses them as consensus does). */
#ifndef POWKIT_SIGCHECK_H
#define POWKIT_SIGCHECK_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "powkit/prevouts.h"
#include "powkit/sighash.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pk_spend {
    PK_SPEND_P2PK,
    PK_SPEND_P2PKH,
    PK_SPEND_MULTISIG,
    PK_SPEND_P2SH_P2PK,
    PK_SPEND_P2SH_P2PKH,
    PK_SPEND_P2SH_MULTISIG,
    PK_SPEND_P2WSH_P2PK,
    PK_SPEND_P2WSH_P2PKH,
    PK_SPEND_P2WSH_MULTISIG,
    PK_SPEND_P2SH_P2WSH_P2PK,
    PK_SPEND_P2SH_P2WSH_P2PKH,
    PK_SPEND_P2SH_P2WSH_MULTISIG,
    PK_SPEND_P2WPKH,
    PK_SPEND_P2SH_P2WPKH,
    PK_SPEND_P2TR_KEY,
    PK_SPEND_COUNT
} pk_spend;
/* "p2pkh", "p2sh_multisig", "p2sh_p2wsh_multisig", "p2tr_key", ... */
PK_API const char *pk_spend_name(pk_spend s);

typedef enum pk_unchecked {
    PK_UNCHECKED_NEEDS_PREVOUTS, /* a segwit or P2SH-wrapped spend, or a bare script, without --prevouts */
    PK_UNCHECKED_SCRIPT,         /* a script that is none of the templates */
    PK_UNCHECKED_TAPSCRIPT,      /* a taproot script-path spend */
    PK_UNCHECKED_INACTIVE,       /* segwit or taproot before its activation height */
    PK_UNCHECKED_SEQUENCE_CONTEXT, /* a BIP68 lock needs the spent output's height or the median times */
    PK_UNCHECKED_COUNT
} pk_unchecked;
PK_API const char *pk_unchecked_name(pk_unchecked u);

/* What an input spends, as the reports count it (with prevouts, every
 * input is one of these; the templates' kinds are pk_spend's too). */
typedef enum pk_script_kind {
    PK_KIND_P2PK,
    PK_KIND_P2PKH,
    PK_KIND_MULTISIG,
    PK_KIND_BARE_OTHER,
    PK_KIND_P2SH_P2PK,
    PK_KIND_P2SH_P2PKH,
    PK_KIND_P2SH_MULTISIG,
    PK_KIND_P2SH_OTHER,
    PK_KIND_P2WPKH,
    PK_KIND_P2SH_P2WPKH,
    PK_KIND_P2WSH_P2PK,
    PK_KIND_P2WSH_P2PKH,
    PK_KIND_P2WSH_MULTISIG,
    PK_KIND_P2WSH_OTHER,
    PK_KIND_P2SH_P2WSH_P2PK,
    PK_KIND_P2SH_P2WSH_P2PKH,
    PK_KIND_P2SH_P2WSH_MULTISIG,
    PK_KIND_P2SH_P2WSH_OTHER,
    PK_KIND_P2TR_KEY,
    PK_KIND_P2TR_SCRIPT,
    PK_KIND_WITNESS_UNKNOWN, /* a witness version or program size consensus leaves open */
    PK_KIND_COUNT
} pk_script_kind;
/* "p2pkh", "p2wsh_other", "p2tr_script", "bare_other", ... */
PK_API const char *pk_script_kind_name(pk_script_kind k);

typedef struct pk_sig_failure {
    size_t tx, vin;
    uint8_t txid[32];
    const char *reason;
} pk_sig_failure;

typedef struct pk_sig_unchecked {
    size_t tx, vin;
    pk_unchecked why;
} pk_sig_unchecked;

typedef struct pk_sig_report {
    uint64_t inputs;                   /* inputs other than the coinbase's */
    uint64_t by_spend[PK_SPEND_COUNT]; /* recognised inputs by kind */
    uint64_t p2pkh_compressed, p2pkh_uncompressed; /* P2PKH inputs by key size */
    uint64_t multisig_sigs, multisig_by_mn[4][4];   /* P2SH multisig: signatures; [m][n] for m,n <= 3 */
    uint64_t not_checked, not_checked_by[PK_UNCHECKED_COUNT];
    pk_sig_unchecked *unchecked; /* not_checked of them, in block order (malloc'd) */
    uint64_t signatures;         /* signatures to verify */
    uint64_t ecdsa, schnorr;     /* of them */
    uint64_t candidates;         /* checks run (multisig tries pairs) */
    uint64_t valid_inputs, failed_inputs;
    pk_sig_failure *failures; /* failed_inputs of them (malloc'd) */
    int64_t height;           /* the height the rules were taken for, -1 unknown */
    const char *error;        /* why nothing was checked (return -2), else NULL */
    /* Signature operation cost (BIP141): legacy always; P2SH and witness
     * with the prevouts (sigop_cost_complete).  Over 80,000 fails the block. */
    uint64_t sigop_cost;
    int sigop_cost_complete;
    int sigops_exceeded;
    double ms_extract;              /* ms_classify + ms_sighash */
    double ms_classify, ms_sighash; /* recognising spends (one thread); signature hashes (the pool) */
    double ms_verify;
    /* With prevouts every input goes through the script interpreter: */
    int interpreter;                  /* 1 then */
    uint64_t by_kind[PK_KIND_COUNT];  /* every input other than the coinbase's, by what it spends */
    uint64_t upgradable;              /* valid only as consensus' upgrade hooks (unknown witness or leaf
                                         versions, OP_SUCCESSx, unknown key types): counted apart */
    uint64_t reruns;                  /* inputs run again with every signature verified on the spot */
    unsigned check_rounds;            /* batches the deferred checks took (see pk_script_defer_wanted) */
    uint32_t script_flags;            /* the PK_SCRIPT_VERIFY_* flags the scripts ran with */
    double ms_scripts, ms_resolve;    /* interpreting (deferred); resolving and re-runs */
    /* With opts->keep_checks (interpreter only): a copy of every check the
     * rounds verified, in their order, with its answer (malloc'd): to
     * replay them alone, as a benchmark's bare rate does. */
    struct pk_sig_check *kept;
    size_t n_kept;
} pk_sig_report;

typedef struct pk_sigcheck_opts {
    const pk_prevouts *prevouts; /* NULL: legacy spends only */
    int64_t height;              /* -1: from the coinbase (BIP34); none there (version 1
                                    blocks): the rules before BIP66 and segwit */
    int mainnet;                 /* activation heights of BIP66, segwit, taproot apply */
    int policy;                  /* with prevouts: Core's standardness flags too */
    int no_sequence_locks;       /* with prevouts: BIP68 is the caller's (a chain validator has
                                    the median times a block alone lacks) */
    int keep_checks;             /* with prevouts: the report keeps the checks (rep->kept) */
    int legacy_sigops_known;     /* the block's legacy sigops are counted already (its block checks */
    uint64_t legacy_sigops;      /* did, pk_block_report.legacy_sigops): not counted again */
} pk_sigcheck_opts;

/* Extracts and verifies every check of a parsed, hashed block (txids are
 * needed for the failure report).  opts NULL: no prevouts, height from the
 * coinbase, mainnet rules.  Returns 0 when every recognised input is valid
 * and the signature operations are within the limit, -1 when not, -2 when
 * the rules cannot be chosen (mainnet, no height given, none readable
 * from the coinbase: rep->error says so; nothing is checked). */
PK_API int pk_block_verify_sigs(const pk_block *b, const pk_sigcheck_opts *opts, pk_verifier *v, pk_sig_report *rep);
PK_API void pk_sig_report_free(pk_sig_report *rep);

#ifdef __cplusplus
}
#endif
#endif
