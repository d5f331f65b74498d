/* powkit: signature operation counts, as consensus counts them.
 *
 * A block may spend at most 80,000 units of signature-operation cost
 * (BIP141): every CHECKSIG in a scriptSig or output script counts 4,
 * every CHECKMULTISIG 80 (the "legacy" count takes the worst case of 20
 * keys); a P2SH redeem script's operations count 4 each with the keys of
 * an OP_n CHECKMULTISIG counted exactly; a witness v0 spend counts 1 for
 * P2WPKH and its witness script's exact count for P2WSH.  The legacy part
 * needs only the block; the rest needs the spent outputs. */
#ifndef POWKIT_SIGOPS_H
#define POWKIT_SIGOPS_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "powkit/validate.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_MAX_BLOCK_SIGOPS_COST 80000u
#define PK_WITNESS_SCALE 4u

/* Core's GetSigOpCount: CHECKSIG(VERIFY) 1, CHECKMULTISIG(VERIFY) 20, or
 * with accurate and OP_1..OP_16 before it, that many.  Counting stops at
 * the first operation that does not parse. */
PK_API unsigned pk_script_sigops(const uint8_t *script, size_t len, int accurate);
/* The legacy count of a parsed transaction: its scriptSigs and output
 * scripts, not accurate. */
PK_API uint64_t pk_tx_legacy_sigops(const pk_block *b, const pk_tx *t);
/* The sum over the block's transactions. */
PK_API uint64_t pk_block_legacy_sigops(const pk_block *b);

/* The last push of a push-only script (OP_0..OP_16 and OP_RESERVED count
 * as pushes of nothing), as Core takes a P2SH redeem script for counting.
 * Returns 0 and sets *data and *dlen (dlen 0 for an empty script), or -1 when
 * the script is not push-only or does not parse. */
PK_API int pk_script_last_push(const uint8_t *script, size_t len, const uint8_t **data, size_t *dlen);

#ifdef __cplusplus
}
#endif
#endif
