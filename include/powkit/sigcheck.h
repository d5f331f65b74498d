/* powkit: the signature checks of a block's inputs, for the batch
 * verifier.  Recognised without the UTXO set (the key or redeem script is
 * in the scriptSig): P2PKH, and P2SH multisig (OP_m <keys> OP_n
 * OP_CHECKMULTISIG), with legacy sighashes (ALL, NONE, SINGLE with its
 * out-of-range rule, ANYONECANPAY; the signature removed from the script
 * code).  CHECKMULTISIG is matched as consensus does: signatures in order
 * against keys in order; every candidate pair is verified in the batch,
 * then the matching is resolved.  Other inputs are counted as not
 * checked, never as valid. */
#ifndef POWKIT_SIGCHECK_H
#define POWKIT_SIGCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "powkit/validate.h"
#include "powkit/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_sig_failure {
    size_t tx, vin;
    uint8_t txid[32];
    const char *reason;
} pk_sig_failure;

typedef struct pk_sig_report {
    uint64_t inputs, p2pkh, p2pkh_compressed, p2pkh_uncompressed;
    uint64_t multisig, multisig_sigs, multisig_by_mn[4][4]; /* [m][n] for m,n <= 3 */
    uint64_t not_checked;   /* inputs of other kinds */
    uint64_t signatures;    /* signatures to verify */
    uint64_t candidates;    /* signature checks run (multisig tries pairs) */
    uint64_t valid_inputs, failed_inputs;
    pk_sig_failure *failures; /* failed_inputs of them (malloc'd) */
    double ms_extract, ms_verify;
} pk_sig_report;

/* Legacy signature hash of input `vin` of transaction t in block b for
 * script_code and hash_type (the 4-byte type). */
void pk_sighash_legacy(const pk_block *b, const pk_tx *t, size_t vin, const uint8_t *script_code,
                       size_t code_len, uint32_t hash_type, uint8_t out[32]);

/* BIP143 (segwit v0): the per-transaction hashes, computed once. */
typedef struct pk_bip143_cache {
    uint8_t prevouts[32], sequences[32], outputs[32];
} pk_bip143_cache;
void pk_bip143_precompute(const pk_block *b, const pk_tx *t, pk_bip143_cache *c);
/* script_code without its length prefix; amount in satoshis. */
void pk_sighash_bip143(const pk_block *b, const pk_tx *t, const pk_bip143_cache *c, size_t vin,
                       const uint8_t *script_code, size_t code_len, uint64_t amount, uint32_t hash_type,
                       uint8_t out[32]);

/* Extracts and verifies every check of a parsed, hashed block (txids are
 * needed for the failure report).  Returns 0 when every recognised input
 * is valid. */
int pk_block_verify_sigs(const pk_block *b, pk_verifier *v, pk_sig_report *rep);
void pk_sig_report_free(pk_sig_report *rep);

#ifdef __cplusplus
}
#endif
#endif
