/* powkit: payout addresses to scriptPubKey.
 *
 * Base58Check P2PKH and P2SH, and Bech32 (witness v0, BIP173) / Bech32m
 * (v1 to v16, BIP350) witness programs, with Bitcoin Core's prefixes per
 * chain: main 1/3/bc, test and signet m-n/2/tb, regtest m-n/2/bcrt. */
#ifndef POWKIT_ADDRESS_H
#define POWKIT_ADDRESS_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "powkit/validate.h" /* pk_chain */

#ifdef __cplusplus
extern "C" {
#endif

#define PK_SCRIPT_MAX 42

typedef enum { PK_BECH32 = 1, PK_BECH32M = 2 } pk_bech32_encoding;

/* Decodes any Bech32/Bech32m string (BIP173 rules: length, case, HRP
 * characters, checksum).  hrp gets the lower-case HRP, data the 5-bit
 * values without the checksum.  Returns the encoding, or 0 if invalid. */
PK_API int pk_bech32_decode(const char *s, char hrp[84], uint8_t data[90], size_t *len);

/* Address for chain to scriptPubKey.  Returns 0, or -1 with err telling
 * why (wrong chain, bad checksum, bad length, ...). */
PK_API int pk_address_to_script(const char *addr, pk_chain chain, uint8_t script[PK_SCRIPT_MAX],
                                size_t *len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
