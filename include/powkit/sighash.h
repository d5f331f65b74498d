/* powkit: the signature hashes a block's signatures commit to.
 *
 * Legacy (the whole transaction re-serialised per input, with the hash
 * types' blanking rules), BIP143 for segwit v0 (per-transaction hashes
 * computed once, then constant work per input) and BIP341 for the taproot
 * key path (single SHA-256 of every spent amount and script, the annex,
 * TapSighash tagged hash).  Every function reads a transaction of a parsed
 * block in place. */
#ifndef POWKIT_SIGHASH_H
#define POWKIT_SIGHASH_H

#include "powkit/export.h"
#include "powkit/sha256.h"

#include <stddef.h>
#include <stdint.h>

#include "powkit/prevouts.h"
#include "powkit/validate.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One script opcode as Bitcoin Core's GetScriptOp reads it, from *pos:
 * returns 0 at the end or at a push that runs past it (*pos then left where
 * Core leaves it, which the legacy serialisation depends on). */
PK_API int pk_script_op(const uint8_t *s, size_t len, size_t *pos, uint8_t *op);

/* Legacy signature hash of input `vin` of transaction t in block b for
 * script_code and hash_type (the 4-byte type).  OP_CODESEPARATORs are left
 * out of the serialised script code, as consensus does; removing the
 * signature from it (FindAndDelete) is the caller's part. */
PK_API void pk_sighash_legacy(const pk_block *b, const pk_tx *t, size_t vin, const uint8_t *script_code,
                              size_t code_len, uint32_t hash_type, uint8_t out[32]);

/* BIP143 (segwit v0): the per-transaction hashes, computed once, and
 * where the inputs are, so each input's hash is constant work. */
typedef struct pk_bip143_cache {
    uint8_t prevouts[32], sequences[32], outputs[32];
    const pk_txin_ref *ins; /* the transaction's inputs: own_ins, or the caller's */
    size_t outs_at;
    pk_txin_ref *own_ins; /* malloc'd by pk_bip143_precompute */
} pk_bip143_cache;
PK_API void pk_bip143_precompute(const pk_block *b, const pk_tx *t, pk_bip143_cache *c);
/* The same with the inputs the caller has (pk_tx_inputs: ins and the
 * offset it returned), which must outlive c; c then owns nothing and
 * needs no pk_bip143_cache_free. */
PK_API void pk_bip143_precompute_with(const pk_block *b, const pk_tx *t, const pk_txin_ref *ins, size_t outs_at,
                                      pk_bip143_cache *c);
PK_API void pk_bip143_cache_free(pk_bip143_cache *c);
/* script_code without its length prefix; amount in satoshis. */
PK_API void pk_sighash_bip143(const pk_block *b, const pk_tx *t, const pk_bip143_cache *c, size_t vin,
                              const uint8_t *script_code, size_t code_len, uint64_t amount, uint32_t hash_type,
                              uint8_t out[32]);

/* BIP341 (taproot): the per-transaction single SHA-256 hashes of every
 * outpoint, spent amount, spent scriptPubKey, sequence and output. */
typedef struct pk_bip341_cache {
    uint8_t prevouts[32], amounts[32], scripts[32], sequences[32], outputs[32];
    const pk_txin_ref *ins; /* the transaction's inputs: own_ins, or the caller's */
    size_t outs_at;
    pk_txin_ref *own_ins; /* malloc'd by pk_bip341_precompute */
} pk_bip341_cache;
PK_API void pk_bip341_precompute(const pk_block *b, const pk_tx *t, const pk_prevout *spent, pk_bip341_cache *c);
/* As pk_bip143_precompute_with. */
PK_API void pk_bip341_precompute_with(const pk_block *b, const pk_tx *t, const pk_prevout *spent,
                                      const pk_txin_ref *ins, size_t outs_at, pk_bip341_cache *c);
PK_API void pk_bip341_cache_free(pk_bip341_cache *c);
/* The key-path signature message, epoch byte first, for hash_type (0x00
 * default, 0x01-0x03, 0x81-0x83) and an optional annex (with its 0x50).
 * Writes it to msg when it fits in cap; returns its length, or 0 when the
 * hash type is not defined or SINGLE has no output at vin (the spend is
 * invalid then). */
PK_API size_t pk_bip341_sigmsg(const pk_block *b, const pk_tx *t, const pk_bip341_cache *c, const pk_prevout *spent,
                               size_t vin, uint8_t hash_type, const uint8_t *annex, size_t annex_len, uint8_t *msg,
                               size_t cap);
/* TapSighash tagged hash of that message; -1 when it is not defined. */
PK_API int pk_sighash_bip341(const pk_block *b, const pk_tx *t, const pk_bip341_cache *c, const pk_prevout *spent,
                             size_t vin, uint8_t hash_type, const uint8_t *annex, size_t annex_len, uint8_t out[32]);

/* BIP342 (tapscript): the BIP341 message with the script path's
 * extension: the leaf's hash, key version 0 and the position of the last
 * executed OP_CODESEPARATOR (0xffffffff for none).  -1 when not defined. */
PK_API int pk_sighash_bip342(const pk_block *b, const pk_tx *t, const pk_bip341_cache *c, const pk_prevout *spent,
                             size_t vin, uint8_t hash_type, const uint8_t *annex, size_t annex_len,
                             const uint8_t tapleaf[32], uint32_t codesep_pos, uint8_t out[32]);

/* The legacy serialisation for hash types without NONE, SINGLE or
 * ANYONECANPAY (SIGHASH_ALL in practice), made once per transaction: each
 * input's hash then puts its script code in place and hashes, instead of
 * re-serialising the transaction. */
typedef struct pk_legacy_all {
    uint8_t *data;
    size_t len;
    size_t *at; /* per input: offset of its (empty) script length byte */
    /* Per input: SHA-256's state after the whole 64-byte blocks before
     * at[i].  Every input's message starts with the same bytes up to its
     * own script, so one pass yields them all and each hash starts there:
     * the quadratic part of legacy hashing is halved. */
    uint32_t (*mid)[8];
    size_t cap_data, cap_in; /* room in data, and in at and mid (inputs) */
} pk_legacy_all;
PK_API void pk_legacy_all_init(pk_legacy_all *a, const pk_block *b, const pk_tx *t);
/* The same into a's buffers, grown where they lack room (a from init, an
 * earlier build, or zeroed), with the inputs the caller has: a user that
 * goes from transaction to transaction allocates only to grow. */
PK_API void pk_legacy_all_build(pk_legacy_all *a, const pk_block *b, const pk_tx *t, const pk_txin_ref *ins,
                                size_t outs_at);
PK_API void pk_legacy_all_free(pk_legacy_all *a);
/* Equals pk_sighash_legacy for those hash types. */
PK_API void pk_sighash_legacy_all(const pk_legacy_all *a, size_t vin, const uint8_t *script_code, size_t code_len,
                                  uint32_t hash_type, uint8_t out[32]);
/* The same hash as a gathered message (many hashed at once with
 * pk_sha256d_many_gather): code is the script code as serialized
 * (pk_legacy_script_code), ht4 the hash type's 4 bytes; the message points
 * into a, code and ht4, which must outlive the hashing. */
PK_API void pk_legacy_all_gather(const pk_legacy_all *a, size_t vin, const uint8_t *code, size_t code_len,
                                 const uint8_t ht4[4], pk_sha256_seg segs[4], pk_sha256_gather *g);
/* Appends a legacy hash's script code as it is serialized (its length,
 * then the code without its OP_CODESEPARATORs) to the growing buffer *p
 * (*n bytes used of *cap; realloc'd); returns the bytes appended. */
PK_API size_t pk_legacy_script_code(const uint8_t *code, size_t code_len, uint8_t **p, size_t *n, size_t *cap);

#ifdef __cplusplus
}
#endif
#endif
