/* powkit: solo work.  A getblocktemplate answer becomes a pk_pool_job
 * (so templates, extranonce rolling and share rechecks are those of pool
 * mining) plus what is needed to assemble the block when one is found.
 *
 * The coinbase: version 1, one input (null prevout), scriptSig = BIP34
 * height as a minimal script number, an 8-byte extranonce push, then an
 * optional tag; outputs = the payout (coinbasevalue), then, with segwit
 * active, the BIP141 commitment (OP_RETURN aa21a9ed + SHA256d(witness
 * root || reserved)), and one 32-byte zero reserved value as its witness. */
#ifndef POWKIT_COINBASE_H
#define POWKIT_COINBASE_H

#include "powkit/export.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "powkit/poolwork.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_SOLO_EXTRANONCE 8
/* Solo templates roll BIP320 version bits 13-16 (16 versions per
 * extranonce, a full version-lane group), no more: the node accepts any
 * of them, and fewer rolled bits keep blocks' versions plain. */
#define PK_SOLO_VERSION_ROLL 0x0001e000u
/* 21,000,000 BTC in satoshis: a coinbasevalue above it is refused. */
#define PK_MAX_MONEY 2100000000000000ll
/* BIP34 heights are pushed in at most 4 bytes. */
#define PK_GBT_MAX_HEIGHT 0x7fffffff

typedef struct pk_gbt {
    int64_t height;
    uint32_t version, bits, curtime;
    uint8_t prevhash[32]; /* header byte order */
    int64_t coinbasevalue;
    int segwit;           /* rules hold segwit or !segwit */
    size_t ntx;
    uint8_t (*txid)[32];
    uint8_t (*wtxid)[32];
    uint8_t **data;
    size_t *len;
    size_t data_total;
    int has_default_commitment;
    uint8_t default_commitment[64];
    size_t default_commitment_len;
    char longpollid[256];
} pk_gbt;

/* Parses a getblocktemplate result.  Every transaction is parsed with the
 * block parser's bounds and its txid and wtxid computed here from its data
 * (and must match what the node says); a coinbasevalue outside 0 to 21
 * million BTC, or a height that is none, refuses the template.
 * Returns 0 or -1 with err. */
PK_API int pk_gbt_parse(const json_t *result, pk_gbt *t, char *err, size_t errlen);
PK_API void pk_gbt_free(pk_gbt *t);

/* BIP34: height as a minimal CScript push (OP_0..OP_16 for 0..16). */
PK_API size_t pk_bip34_height(int64_t height, uint8_t out[9]);

/* The job for t paying to payout (a scriptPubKey), with an optional tag
 * (at most 32 bytes).  Returns 0 or -1 with err (e.g. the commitment does
 * not match the node's default_witness_commitment). */
PK_API int pk_solo_job(const pk_gbt *t, const uint8_t *payout, size_t payout_len, const char *tag,
                       pk_pool_job *job, char *err, size_t errlen);

/* The whole block for a header whose coinbase used extranonce2 en2:
 * malloc'd hex in *hex.  Returns 0 or -1 on no memory. */
PK_API int pk_solo_block_hex(const pk_gbt *t, const pk_pool_job *job, const uint8_t header[80],
                             const uint8_t *en2, char **hex);

#ifdef __cplusplus
}
#endif
#endif
