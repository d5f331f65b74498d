/* Internal to validate/script/: the stack, the execution data and the
 * signature checker the interpreter's files share. */
#ifndef POWKIT_SCRIPT_INTERNAL_H
#define POWKIT_SCRIPT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "powkit/script.h"
#include "powkit/sighash.h"

#define PK_MAX_SCRIPT_SIZE 10000
#define PK_MAX_ELEMENT_SIZE 520
#define PK_MAX_OPS 201
#define PK_MAX_STACK 1000
#define PK_MAX_PUBKEYS_MULTISIG 20

enum {
    OP_0 = 0x00, OP_PUSHDATA1 = 0x4c, OP_PUSHDATA2 = 0x4d, OP_PUSHDATA4 = 0x4e, OP_1NEGATE = 0x4f,
    OP_RESERVED = 0x50, OP_1 = 0x51, OP_16 = 0x60, OP_NOP = 0x61, OP_VER = 0x62, OP_IF = 0x63,
    OP_NOTIF = 0x64, OP_VERIF = 0x65, OP_VERNOTIF = 0x66, OP_ELSE = 0x67, OP_ENDIF = 0x68, OP_VERIFY = 0x69,
    OP_RETURN = 0x6a, OP_TOALTSTACK = 0x6b, OP_FROMALTSTACK = 0x6c, OP_2DROP = 0x6d, OP_2DUP = 0x6e,
    OP_3DUP = 0x6f, OP_2OVER = 0x70, OP_2ROT = 0x71, OP_2SWAP = 0x72, OP_IFDUP = 0x73, OP_DEPTH = 0x74,
    OP_DROP = 0x75, OP_DUP = 0x76, OP_NIP = 0x77, OP_OVER = 0x78, OP_PICK = 0x79, OP_ROLL = 0x7a,
    OP_ROT = 0x7b, OP_SWAP = 0x7c, OP_TUCK = 0x7d, OP_CAT = 0x7e, OP_SUBSTR = 0x7f, OP_LEFT = 0x80,
    OP_RIGHT = 0x81, OP_SIZE = 0x82, OP_INVERT = 0x83, OP_AND = 0x84, OP_OR = 0x85, OP_XOR = 0x86,
    OP_EQUAL = 0x87, OP_EQUALVERIFY = 0x88, OP_RESERVED1 = 0x89, OP_RESERVED2 = 0x8a, OP_1ADD = 0x8b,
    OP_1SUB = 0x8c, OP_2MUL = 0x8d, OP_2DIV = 0x8e, OP_NEGATE = 0x8f, OP_ABS = 0x90, OP_NOT = 0x91,
    OP_0NOTEQUAL = 0x92, OP_ADD = 0x93, OP_SUB = 0x94, OP_MUL = 0x95, OP_DIV = 0x96, OP_MOD = 0x97,
    OP_LSHIFT = 0x98, OP_RSHIFT = 0x99, OP_BOOLAND = 0x9a, OP_BOOLOR = 0x9b, OP_NUMEQUAL = 0x9c,
    OP_NUMEQUALVERIFY = 0x9d, OP_NUMNOTEQUAL = 0x9e, OP_LESSTHAN = 0x9f, OP_GREATERTHAN = 0xa0,
    OP_LESSTHANOREQUAL = 0xa1, OP_GREATERTHANOREQUAL = 0xa2, OP_MIN = 0xa3, OP_MAX = 0xa4, OP_WITHIN = 0xa5,
    OP_RIPEMD160 = 0xa6, OP_SHA1 = 0xa7, OP_SHA256 = 0xa8, OP_HASH160 = 0xa9, OP_HASH256 = 0xaa,
    OP_CODESEPARATOR = 0xab, OP_CHECKSIG = 0xac, OP_CHECKSIGVERIFY = 0xad, OP_CHECKMULTISIG = 0xae,
    OP_CHECKMULTISIGVERIFY = 0xaf, OP_NOP1 = 0xb0, OP_CHECKLOCKTIMEVERIFY = 0xb1,
    OP_CHECKSEQUENCEVERIFY = 0xb2, OP_NOP4 = 0xb3, OP_NOP10 = 0xb9, OP_CHECKSIGADD = 0xba,
    OP_INVALIDOPCODE = 0xff
};

typedef enum { PK_SIGV_BASE = 0, PK_SIGV_WITNESS_V0, PK_SIGV_TAPROOT, PK_SIGV_TAPSCRIPT } pk_sigversion;

/* A stack element: borrowed bytes (a push from a script or a witness item,
 * which outlive the run) or up to 32 bytes of its own (numbers, hashes). */
typedef struct pk_selem {
    const uint8_t *p;
    uint32_t len;
    uint8_t own;
    uint8_t buf[32];
} pk_selem;
static inline const uint8_t *pk_se_data(const pk_selem *e)
{
    return e->own ? e->buf : e->p;
}

/* A stack's elements start in storage its user lends (PK_SSTACK_ON:
 * most scripts never need more) and move to the heap when they outgrow it
 * (heap 1), so that most inputs make no allocation for their stacks.  A
 * copy of the struct points to the same elements, as a heap pointer
 * would. */
typedef struct pk_sstack {
    pk_selem *e;
    size_t n, cap;
    int heap;
} pk_sstack;
enum { PK_SSTACK_LENT = 8 };
#define PK_SSTACK_ON(buf) ((pk_sstack){(buf), 0, sizeof(buf) / sizeof(buf)[0], 0})
void pk_sstack_grow(pk_sstack *s); /* room for one more: to the heap, doubling */
/* Inline: every push, number and hash result goes through here.  A
 * borrowed element is copied field by field: its buffer is not its own,
 * and a whole copy loads the fields in wider pieces than they were just
 * stored, which the CPU cannot forward from its store buffer (a stall on
 * every OP_DUP of a pushed key). */
static inline void pk_selem_copy(pk_selem *d, const pk_selem *e)
{
    if (e->own) {
        *d = *e;
        return;
    }
    d->p = e->p;
    d->len = e->len;
    d->own = 0;
}
static inline void pk_sstack_push(pk_sstack *s, const pk_selem *e)
{
    if (s->n == s->cap)
        pk_sstack_grow(s);
    pk_selem_copy(&s->e[s->n++], e);
}
/* Bytes that outlive the run (a script's push, a witness item). */
static inline void pk_sstack_push_ref(pk_sstack *s, const uint8_t *p, size_t len)
{
    if (s->n == s->cap)
        pk_sstack_grow(s);
    pk_selem *d = &s->e[s->n++];
    d->p = p;
    d->len = (uint32_t)len;
    d->own = 0;
}
/* A new top, for the caller to fill in place (a number, a result): built
 * aside and copied in, its fields would be loaded wider than stored. */
static inline pk_selem *pk_sstack_slot(pk_sstack *s)
{
    if (s->n == s->cap)
        pk_sstack_grow(s);
    return &s->e[s->n++];
}
/* A copy of the element k from the top (1: the top) pushed on top. */
static inline void pk_sstack_push_copy(pk_sstack *s, size_t k)
{
    if (s->n == s->cap)
        pk_sstack_grow(s); /* before the source is taken: it may move */
    pk_selem_copy(&s->e[s->n], &s->e[s->n - k]);
    s->n++;
}
void pk_sstack_free(pk_sstack *s);

/* BIP341/342 execution data of one input. */
typedef struct pk_execdata {
    int annex_present;
    uint8_t annex_hash[32];
    const uint8_t *annex;
    size_t annex_len;
    int tapleaf_init;
    uint8_t tapleaf_hash[32];
    uint32_t codesep_pos;
    int64_t weight_left;
} pk_execdata;

struct pk_script_txdata {
    pk_script_tx tx;
    pk_txin_ref *ins; /* room for cap_in; the caches below borrow it */
    size_t cap_in, outs_at;
    int legacy_ready, bip143_ready, bip341_ready; /* legacy's buffers stay for the next transaction */
    pk_legacy_all legacy;
    pk_bip143_cache bip143;
    pk_bip341_cache bip341;
    const pk_script_h160 *h160; /* hashes made ahead, or NULL (pk_script_txdata_set_h160) */
};

/* The signature checker of one input. */
typedef struct pk_checker {
    const pk_script_tx *tx;
    pk_script_txdata *txd;
    size_t vin;
    uint64_t amount;
    pk_script_defer *defer; /* NULL: verify here */
    pk_script_info *info;
} pk_checker;

/* interpreter.c */
int pk_scr_eval(pk_sstack *st, const uint8_t *script, size_t len, uint32_t flags, pk_checker *c,
                pk_sigversion sv, pk_execdata *ed, pk_script_error *err);
int pk_scr_cast_bool(const pk_selem *e);
/* Core's GetScriptOp: 0 at the end or on a truncated push. */
int pk_scr_get_op(const uint8_t *s, size_t len, size_t *pos, uint8_t *op, const uint8_t **data, size_t *dlen);
int pk_scr_push_only(const uint8_t *s, size_t len);

/* num.c: CScriptNum. */
int pk_scr_num_get(const pk_selem *e, int minimal, size_t max, int64_t *out); /* 0: SCRIPTNUM */
void pk_scr_num_set(pk_selem *e, int64_t v);

/* 0 when sig's bytes occur nowhere in the script code, so that
 * FindAndDelete cannot find its push there (the common case: the script
 * code is shorter than a signature, or holds none), without the walk. */
int pk_scr_sig_in_code(const uint8_t *code, size_t len, const uint8_t *sig, size_t sig_len);

/* signature.c */
int pk_scr_check_sig_encoding(const uint8_t *sig, size_t len, uint32_t flags, pk_script_error *err);
int pk_scr_check_pubkey_encoding(const uint8_t *pk, size_t len, uint32_t flags, pk_sigversion sv,
                                 pk_script_error *err);
/* The script code with every push of sig removed (legacy only); returns
 * how many were removed, writing the result to out (len bytes at most). */
size_t pk_scr_find_and_delete(const uint8_t *code, size_t len, const uint8_t *sig, size_t sig_len, uint8_t *out,
                              size_t *out_len);
/* CHECKSIG's ECDSA check (Core's CheckECDSASignature): 1 or 0; deferred
 * checks return 1 and are recorded (req single). */
int pk_scr_check_ecdsa(pk_checker *c, const uint8_t *sig, size_t sig_len, const uint8_t *pk, size_t pk_len,
                       const uint8_t *code, size_t code_len, pk_sigversion sv, int may_defer);
/* CHECKMULTISIG's matching of m signatures to n keys; 1 success. */
int pk_scr_check_multisig(pk_checker *c, const pk_selem *const *sigs, size_t m, const pk_selem *const *keys,
                          size_t n, const uint8_t *code, size_t code_len, pk_sigversion sv, uint32_t flags,
                          pk_script_error *err);
int pk_scr_check_schnorr(pk_checker *c, const uint8_t *sig, size_t sig_len, const uint8_t *pk32,
                         pk_sigversion sv, const pk_execdata *ed, pk_script_error *err);
int pk_scr_check_locktime(const pk_checker *c, int64_t lock);
int pk_scr_check_sequence(const pk_checker *c, int64_t seq);

/* taproot.c */
void pk_scr_tapleaf_hash(uint8_t leaf_version, const uint8_t *script, size_t len, uint8_t out[32]);
int pk_scr_taproot_commitment(const uint8_t *control, size_t control_len, const uint8_t program[32],
                              const uint8_t tapleaf[32]);
int pk_scr_is_op_success(uint8_t op);

#endif
