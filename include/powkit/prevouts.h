/* powkit: the outputs a block's inputs spend, for the segwit and taproot
 * sighashes (which commit to amounts and, for taproot, to every spent
 * scriptPubKey).  Read from the JSON Bitcoin Core's `getblock HASH 3`
 * prints (or its JSON-RPC envelope): each input's `prevout` value (BTC)
 * and `scriptPubKey.hex`.  The JSON is matched against the parsed block:
 * transaction count, txids, input counts and every outpoint must agree. */
#ifndef POWKIT_PREVOUTS_H
#define POWKIT_PREVOUTS_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "powkit/validate.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_prevout {
    uint64_t value;       /* satoshis */
    const uint8_t *script;
    size_t script_len;
    int has_height;       /* height given (getblock HASH 3 gives it) */
    int64_t height;       /* the block that made the output */
    int coinbase;         /* the output is a coinbase's ("generated") */
} pk_prevout;

typedef struct pk_prevouts {
    size_t ntx;
    size_t *first;   /* ntx entries: index in out of each transaction's first input */
    pk_prevout *out; /* one per input of the block, the coinbase's included (empty) */
    size_t n;
    uint8_t *scripts; /* storage the out[].script point into */
} pk_prevouts;

/* Reads text (len bytes) for block b, which must be parsed and hashed.
 * Returns 0, or -1 with a message in err saying which transaction and
 * input disagree or what is missing. */
PK_API int pk_prevouts_from_json(pk_prevouts *p, const pk_block *b, const char *text, size_t len, char *err,
                                 size_t errlen);
PK_API void pk_prevouts_free(pk_prevouts *p);

/* The spent outputs of transaction tx (n_in of them). */
static inline const pk_prevout *pk_prevouts_of(const pk_prevouts *p, size_t tx)
{
    return p->out + p->first[tx];
}

#ifdef __cplusplus
}
#endif
#endif
