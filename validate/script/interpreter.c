/* The script interpreter: Bitcoin Core's EvalScript, opcode by opcode, for
 * the legacy, witness v0 and tapscript versions.  Errors are set where
 * Core sets them, so the error, not only the verdict, is Core's. */

#include <stdlib.h>
#include <string.h>

#include "powkit/digest.h"
#include "powkit/sha256.h"
#include "script_internal.h"

void pk_sstack_grow(pk_sstack *s)
{
    size_t cap = s->cap ? s->cap * 2 : 16;
    pk_selem *ne = s->heap ? realloc(s->e, cap * sizeof *ne) : malloc(cap * sizeof *ne);
    if (!ne)
        abort();
    if (!s->heap && s->n)
        memcpy(ne, s->e, s->n * sizeof *ne);
    s->e = ne;
    s->cap = cap;
    s->heap = 1;
}

void pk_sstack_free(pk_sstack *s)
{
    if (s->heap)
        free(s->e);
    s->e = NULL;
    s->n = s->cap = 0;
    s->heap = 0;
}

int pk_scr_get_op(const uint8_t *s, size_t len, size_t *pos, uint8_t *op, const uint8_t **data, size_t *dlen)
{
    *op = OP_INVALIDOPCODE;
    *data = NULL;
    *dlen = 0;
    if (*pos >= len)
        return 0;
    uint8_t o = s[(*pos)++];
    *op = o;
    if (o > OP_PUSHDATA4)
        return 1;
    size_t n = o, w = o == OP_PUSHDATA1 ? 1 : o == OP_PUSHDATA2 ? 2 : o == OP_PUSHDATA4 ? 4 : 0;
    if (w) {
        if (len - *pos < w)
            return 0;
        n = 0;
        for (size_t i = 0; i < w; i++)
            n |= (size_t)s[*pos + i] << (8 * i);
        *pos += w;
    }
    if (len - *pos < n)
        return 0;
    *data = s + *pos;
    *dlen = n;
    *pos += n;
    return 1;
}

int pk_scr_push_only(const uint8_t *s, size_t len)
{
    size_t pos = 0;
    uint8_t op;
    const uint8_t *d;
    size_t dl;
    while (pos < len) {
        if (!pk_scr_get_op(s, len, &pos, &op, &d, &dl))
            return 0;
        /* OP_RESERVED (0x50) counts as a push here, as in Core. */
        if (op > OP_16)
            return 0;
    }
    return 1;
}

int pk_scr_cast_bool(const pk_selem *e)
{
    const uint8_t *d = pk_se_data(e);
    for (size_t i = 0; i < e->len; i++) {
        if (d[i] != 0)
            return !(i == e->len - 1 && d[i] == 0x80); /* negative zero */
    }
    return 0;
}

static int minimal_push(const uint8_t *d, size_t n, uint8_t op)
{
    if (n == 0)
        return op == OP_0;
    if (n == 1 && d[0] >= 1 && d[0] <= 16)
        return op == OP_1 + (d[0] - 1);
    if (n == 1 && d[0] == 0x81)
        return op == OP_1NEGATE;
    if (n <= 75)
        return op == n;
    if (n <= 255)
        return op == OP_PUSHDATA1;
    if (n <= 65535)
        return op == OP_PUSHDATA2;
    return 1;
}

/* Core's ConditionStack: only whether any entry is false matters, so a
 * count and the first false one's position stand for the whole stack. */
typedef struct cond {
    uint32_t size, first_false;
} cond;
#define NO_FALSE UINT32_MAX

static int disabled(uint8_t op)
{
    switch (op) {
    case OP_CAT: case OP_SUBSTR: case OP_LEFT: case OP_RIGHT: case OP_INVERT: case OP_AND: case OP_OR:
    case OP_XOR: case OP_2MUL: case OP_2DIV: case OP_MUL: case OP_DIV: case OP_MOD: case OP_LSHIFT:
    case OP_RSHIFT:
        return 1;
    default:
        return 0;
    }
}

static void set_bool(pk_selem *e, int v)
{
    e->own = 1;
    e->p = NULL;
    e->len = v ? 1 : 0;
    e->buf[0] = 1;
}

static void set_bytes(pk_selem *e, const uint8_t *d, size_t n)
{
    e->own = 1;
    e->p = NULL;
    e->len = (uint32_t)n;
    memcpy(e->buf, d, n);
}

#define FAIL(e)                                                                                                \
    do {                                                                                                       \
        rc = 0;                                                                                                \
        *err = (e);                                                                                            \
        goto done;                                                                                             \
    } while (0)
#define TOP(i) (st->e[st->n - (size_t)(i)])
#define NEED(k)                                                                                                \
    do {                                                                                                       \
        if (st->n < (size_t)(k))                                                                               \
            FAIL(PK_SCRIPT_ERR_INVALID_STACK_OPERATION);                                                        \
    } while (0)
#define NUM(el, out)                                                                                           \
    do {                                                                                                       \
        if (!pk_scr_num_get(&(el), minimal, 4, &(out)))                                                         \
            FAIL(PK_SCRIPT_ERR_SCRIPTNUM);                                                                      \
    } while (0)

static void erase(pk_sstack *st, size_t at)
{
    memmove(st->e + at, st->e + at + 1, (st->n - at - 1) * sizeof *st->e);
    st->n--;
}

static void swap(pk_sstack *st, size_t a, size_t b)
{
    pk_selem t = TOP(a);
    TOP(a) = TOP(b);
    TOP(b) = t;
}

/* An OP_HASH160 of bytes whose hash was made ahead (see
 * pk_script_txdata_set_h160): the same place in the transaction and the
 * same length are the same bytes. */
static int h160_made(const pk_checker *c, const uint8_t *d, size_t len, uint8_t h[20])
{
    if (!c || !c->txd || !c->txd->h160)
        return 0;
    const pk_script_h160 *m = c->txd->h160 + PK_SCRIPT_H160_PER_INPUT * c->vin;
    for (int k = 0; k < PK_SCRIPT_H160_PER_INPUT; k++)
        if (m[k].pre == d && m[k].len == len && d) {
            memcpy(h, m[k].hash, 20);
            return 1;
        }
    return 0;
}

int pk_scr_eval(pk_sstack *st, const uint8_t *script, size_t len, uint32_t flags, pk_checker *c,
                pk_sigversion sv, pk_execdata *ed, pk_script_error *err)
{
    int rc = 1;
    int legacy = sv == PK_SIGV_BASE || sv == PK_SIGV_WITNESS_V0;
    *err = PK_SCRIPT_ERR_UNKNOWN_ERROR;
    if (legacy && len > PK_MAX_SCRIPT_SIZE) {
        *err = PK_SCRIPT_ERR_SCRIPT_SIZE;
        return 0;
    }
    pk_selem alt_lent[PK_SSTACK_LENT];
    pk_sstack alt = PK_SSTACK_ON(alt_lent);
    cond vf = {0, NO_FALSE};
    size_t pos = 0, codehash = 0;
    int ops = 0;
    int minimal = (flags & PK_SCRIPT_VERIFY_MINIMALDATA) != 0;
    uint8_t *code_buf = NULL;
    if (ed)
        ed->codesep_pos = UINT32_MAX;
    for (uint32_t opcode_pos = 0; pos < len; opcode_pos++) {
        int exec = vf.first_false == NO_FALSE;
        uint8_t op;
        const uint8_t *push;
        size_t push_len;
        if (!pk_scr_get_op(script, len, &pos, &op, &push, &push_len))
            FAIL(PK_SCRIPT_ERR_BAD_OPCODE);
        if (push_len > PK_MAX_ELEMENT_SIZE)
            FAIL(PK_SCRIPT_ERR_PUSH_SIZE);
        if (legacy && op > OP_16 && ++ops > PK_MAX_OPS)
            FAIL(PK_SCRIPT_ERR_OP_COUNT);
        /* Disabled opcodes fail even in a branch not taken. */
        if (disabled(op))
            FAIL(PK_SCRIPT_ERR_DISABLED_OPCODE);
        if (op == OP_CODESEPARATOR && sv == PK_SIGV_BASE && (flags & PK_SCRIPT_VERIFY_CONST_SCRIPTCODE))
            FAIL(PK_SCRIPT_ERR_OP_CODESEPARATOR);
        if (exec && op <= OP_PUSHDATA4) {
            if (minimal && !minimal_push(push, push_len, op))
                FAIL(PK_SCRIPT_ERR_MINIMALDATA);
            pk_sstack_push_ref(st, push, push_len);
        } else if (exec || (op >= OP_IF && op <= OP_ENDIF)) {
            pk_selem e;
            int64_t a, b, x;
            switch (op) {
            case OP_1NEGATE:
            case OP_1: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57: case 0x58:
            case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: case OP_16:
                pk_scr_num_set(pk_sstack_slot(st), (int)op - (OP_1 - 1));
                break;
            case OP_NOP:
                break;
            case OP_CHECKLOCKTIMEVERIFY:
                if (!(flags & PK_SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY))
                    break; /* a NOP then, and not discouraged: Core does so */
                NEED(1);
                /* Five bytes: lock times reach 2^32 - 1, past a 4-byte
                 * number's range. */
                if (!pk_scr_num_get(&TOP(1), minimal, 5, &x))
                    FAIL(PK_SCRIPT_ERR_SCRIPTNUM);
                if (x < 0)
                    FAIL(PK_SCRIPT_ERR_NEGATIVE_LOCKTIME);
                if (!pk_scr_check_locktime(c, x))
                    FAIL(PK_SCRIPT_ERR_UNSATISFIED_LOCKTIME);
                break;
            case OP_CHECKSEQUENCEVERIFY:
                if (!(flags & PK_SCRIPT_VERIFY_CHECKSEQUENCEVERIFY))
                    break; /* a NOP then, and not discouraged: Core does so */
                NEED(1);
                if (!pk_scr_num_get(&TOP(1), minimal, 5, &x))
                    FAIL(PK_SCRIPT_ERR_SCRIPTNUM);
                if (x < 0)
                    FAIL(PK_SCRIPT_ERR_NEGATIVE_LOCKTIME);
                if ((x & (1LL << 31)) == 0 && !pk_scr_check_sequence(c, x))
                    FAIL(PK_SCRIPT_ERR_UNSATISFIED_LOCKTIME);
                break;
            case OP_NOP1: case OP_NOP4: case 0xb4: case 0xb5: case 0xb6: case 0xb7: case 0xb8: case OP_NOP10:
                if (flags & PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_NOPS)
                    FAIL(PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_NOPS);
                break;
            case OP_IF:
            case OP_NOTIF: {
                int v = 0;
                if (exec) {
                    if (st->n < 1)
                        FAIL(PK_SCRIPT_ERR_INVALID_STACK_OPERATION);
                    const pk_selem *t = &TOP(1);
                    int not_minimal = t->len > 1 || (t->len == 1 && pk_se_data(t)[0] != 1);
                    if (sv == PK_SIGV_TAPSCRIPT && not_minimal)
                        FAIL(PK_SCRIPT_ERR_TAPSCRIPT_MINIMALIF);
                    if (sv == PK_SIGV_WITNESS_V0 && (flags & PK_SCRIPT_VERIFY_MINIMALIF) && not_minimal)
                        FAIL(PK_SCRIPT_ERR_MINIMALIF);
                    v = pk_scr_cast_bool(t);
                    if (op == OP_NOTIF)
                        v = !v;
                    st->n--;
                }
                if (vf.first_false == NO_FALSE && !v)
                    vf.first_false = vf.size;
                vf.size++;
                break;
            }
            case OP_ELSE:
                if (vf.size == 0)
                    FAIL(PK_SCRIPT_ERR_UNBALANCED_CONDITIONAL);
                if (vf.first_false == NO_FALSE)
                    vf.first_false = vf.size - 1;
                else if (vf.first_false == vf.size - 1)
                    vf.first_false = NO_FALSE;
                break;
            case OP_ENDIF:
                if (vf.size == 0)
                    FAIL(PK_SCRIPT_ERR_UNBALANCED_CONDITIONAL);
                vf.size--;
                if (vf.first_false == vf.size)
                    vf.first_false = NO_FALSE;
                break;
            case OP_VERIFY:
                NEED(1);
                if (!pk_scr_cast_bool(&TOP(1)))
                    FAIL(PK_SCRIPT_ERR_VERIFY);
                st->n--;
                break;
            case OP_RETURN:
                FAIL(PK_SCRIPT_ERR_OP_RETURN);
            case OP_TOALTSTACK:
                NEED(1);
                pk_sstack_push(&alt, &TOP(1));
                st->n--;
                break;
            case OP_FROMALTSTACK:
                if (alt.n < 1)
                    FAIL(PK_SCRIPT_ERR_INVALID_ALTSTACK_OPERATION);
                pk_sstack_push(st, &alt.e[alt.n - 1]);
                alt.n--;
                break;
            case OP_2DROP:
                NEED(2);
                st->n -= 2;
                break;
            case OP_2DUP: {
                NEED(2);
                pk_selem x1 = TOP(2), x2 = TOP(1);
                pk_sstack_push(st, &x1);
                pk_sstack_push(st, &x2);
                break;
            }
            case OP_3DUP: {
                NEED(3);
                pk_selem x1 = TOP(3), x2 = TOP(2), x3 = TOP(1);
                pk_sstack_push(st, &x1);
                pk_sstack_push(st, &x2);
                pk_sstack_push(st, &x3);
                break;
            }
            case OP_2OVER: {
                NEED(4);
                pk_selem x1 = TOP(4), x2 = TOP(3);
                pk_sstack_push(st, &x1);
                pk_sstack_push(st, &x2);
                break;
            }
            case OP_2ROT: {
                NEED(6);
                pk_selem x1 = TOP(6), x2 = TOP(5);
                memmove(&TOP(6), &TOP(4), 4 * sizeof(pk_selem));
                st->n -= 2;
                pk_sstack_push(st, &x1);
                pk_sstack_push(st, &x2);
                break;
            }
            case OP_2SWAP:
                NEED(4);
                swap(st, 4, 2);
                swap(st, 3, 1);
                break;
            case OP_IFDUP:
                NEED(1);
                if (pk_scr_cast_bool(&TOP(1)))
                    pk_sstack_push_copy(st, 1);
                break;
            case OP_DEPTH:
                x = (int64_t)st->n; /* before the new top counts */
                pk_scr_num_set(pk_sstack_slot(st), x);
                break;
            case OP_DROP:
                NEED(1);
                st->n--;
                break;
            case OP_DUP:
                NEED(1);
                pk_sstack_push_copy(st, 1);
                break;
            case OP_NIP:
                NEED(2);
                erase(st, st->n - 2);
                break;
            case OP_OVER:
                NEED(2);
                pk_sstack_push_copy(st, 2);
                break;
            case OP_PICK:
            case OP_ROLL: {
                NEED(2);
                NUM(TOP(1), x);
                st->n--;
                /* getint(): clamped to int's range, then checked */
                if (x < 0 || (uint64_t)x >= st->n)
                    FAIL(PK_SCRIPT_ERR_INVALID_STACK_OPERATION);
                e = TOP(x + 1);
                if (op == OP_ROLL)
                    erase(st, st->n - (size_t)x - 1);
                pk_sstack_push(st, &e);
                break;
            }
            case OP_ROT:
                NEED(3);
                swap(st, 3, 2);
                swap(st, 2, 1);
                break;
            case OP_SWAP:
                NEED(2);
                swap(st, 2, 1);
                break;
            case OP_TUCK:
                NEED(2);
                e = TOP(1);
                pk_sstack_push(st, &e);
                /* [.. a b] -> [.. b a b] */
                TOP(2) = TOP(3);
                TOP(3) = e;
                break;
            case OP_SIZE:
                NEED(1);
                x = TOP(1).len;
                pk_scr_num_set(pk_sstack_slot(st), x);
                break;
            case OP_EQUAL:
            case OP_EQUALVERIFY: {
                NEED(2);
                const pk_selem *x1 = &TOP(2), *x2 = &TOP(1);
                int eq = x1->len == x2->len && memcmp(pk_se_data(x1), pk_se_data(x2), x1->len) == 0;
                st->n -= 2;
                set_bool(pk_sstack_slot(st), eq);
                if (op == OP_EQUALVERIFY) {
                    if (!eq)
                        FAIL(PK_SCRIPT_ERR_EQUALVERIFY);
                    st->n--;
                }
                break;
            }
            case OP_1ADD: case OP_1SUB: case OP_NEGATE: case OP_ABS: case OP_NOT: case OP_0NOTEQUAL:
                NEED(1);
                NUM(TOP(1), a);
                switch (op) {
                case OP_1ADD: a += 1; break;
                case OP_1SUB: a -= 1; break;
                case OP_NEGATE: a = -a; break;
                case OP_ABS: if (a < 0) a = -a; break;
                case OP_NOT: a = a == 0; break;
                default: a = a != 0; break;
                }
                pk_scr_num_set(&TOP(1), a);
                break;
            case OP_ADD: case OP_SUB: case OP_BOOLAND: case OP_BOOLOR: case OP_NUMEQUAL: case OP_NUMEQUALVERIFY:
            case OP_NUMNOTEQUAL: case OP_LESSTHAN: case OP_GREATERTHAN: case OP_LESSTHANOREQUAL:
            case OP_GREATERTHANOREQUAL: case OP_MIN: case OP_MAX:
                NEED(2);
                NUM(TOP(2), a);
                NUM(TOP(1), b);
                switch (op) {
                case OP_ADD: x = a + b; break;
                case OP_SUB: x = a - b; break;
                case OP_BOOLAND: x = a != 0 && b != 0; break;
                case OP_BOOLOR: x = a != 0 || b != 0; break;
                case OP_NUMEQUAL: case OP_NUMEQUALVERIFY: x = a == b; break;
                case OP_NUMNOTEQUAL: x = a != b; break;
                case OP_LESSTHAN: x = a < b; break;
                case OP_GREATERTHAN: x = a > b; break;
                case OP_LESSTHANOREQUAL: x = a <= b; break;
                case OP_GREATERTHANOREQUAL: x = a >= b; break;
                case OP_MIN: x = a < b ? a : b; break;
                default: x = a > b ? a : b; break;
                }
                st->n--;
                pk_scr_num_set(&TOP(1), x);
                if (op == OP_NUMEQUALVERIFY) {
                    if (!pk_scr_cast_bool(&TOP(1)))
                        FAIL(PK_SCRIPT_ERR_NUMEQUALVERIFY);
                    st->n--;
                }
                break;
            case OP_WITHIN: {
                NEED(3);
                int64_t lo, hi;
                NUM(TOP(3), x);
                NUM(TOP(2), lo);
                NUM(TOP(1), hi);
                st->n -= 2;
                set_bool(&TOP(1), lo <= x && x < hi);
                break;
            }
            case OP_RIPEMD160: case OP_SHA1: case OP_SHA256: case OP_HASH160: case OP_HASH256: {
                NEED(1);
                pk_selem *t = &TOP(1);
                uint8_t h[32];
                size_t hl = 32;
                const uint8_t *d = pk_se_data(t);
                if (op == OP_RIPEMD160) {
                    pk_ripemd160(d, t->len, h);
                    hl = 20;
                } else if (op == OP_SHA1) {
                    pk_sha1(d, t->len, h);
                    hl = 20;
                } else if (op == OP_SHA256) {
                    pk_sha256(d, t->len, h);
                } else if (op == OP_HASH160) {
                    if (!h160_made(c, d, t->len, h))
                        pk_hash160(d, t->len, h);
                    hl = 20;
                } else {
                    pk_sha256d(d, t->len, h);
                }
                set_bytes(t, h, hl);
                break;
            }
            case OP_CODESEPARATOR:
                /* Signatures commit to the script from here on. */
                codehash = pos;
                if (ed)
                    ed->codesep_pos = opcode_pos;
                break;
            case OP_CHECKSIG:
            case OP_CHECKSIGVERIFY: {
                NEED(2);
                const pk_selem *sig = &TOP(2), *key = &TOP(1);
                const uint8_t *sd = pk_se_data(sig), *kd = pk_se_data(key);
                int ok;
                if (sv == PK_SIGV_TAPSCRIPT) {
                    ok = sig->len != 0;
                    if (ok) {
                        /* BIP342: every executed signature costs 50 of the witness' weight */
                        ed->weight_left -= 50;
                        if (ed->weight_left < 0)
                            FAIL(PK_SCRIPT_ERR_TAPSCRIPT_VALIDATION_WEIGHT);
                    }
                    if (key->len == 0)
                        FAIL(PK_SCRIPT_ERR_TAPSCRIPT_EMPTY_PUBKEY);
                    if (key->len == 32) {
                        if (ok && !pk_scr_check_schnorr(c, sd, sig->len, kd, sv, ed, err)) {
                            rc = 0;
                            goto done;
                        }
                    } else {
                        if (flags & PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_PUBKEYTYPE)
                            FAIL(PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_PUBKEYTYPE);
                        if (ok && c->info)
                            c->info->upgradable = 1;
                    }
                } else {
                    const uint8_t *code = script + codehash;
                    size_t code_len = len - codehash;
                    if (sv == PK_SIGV_BASE && pk_scr_sig_in_code(code, code_len, sd, sig->len)) {
                        if (!code_buf && !(code_buf = malloc(len ? len : 1)))
                            abort();
                        size_t nl;
                        size_t found = pk_scr_find_and_delete(code, code_len, sd, sig->len, code_buf, &nl);
                        if (found && (flags & PK_SCRIPT_VERIFY_CONST_SCRIPTCODE))
                            FAIL(PK_SCRIPT_ERR_SIG_FINDANDDELETE);
                        if (found) {
                            code = code_buf;
                            code_len = nl;
                        }
                    }
                    if (!pk_scr_check_sig_encoding(sd, sig->len, flags, err) ||
                        !pk_scr_check_pubkey_encoding(kd, key->len, flags, sv, err)) {
                        rc = 0;
                        goto done;
                    }
                    ok = pk_scr_check_ecdsa(c, sd, sig->len, kd, key->len, code, code_len, sv, 1);
                    if (!ok && (flags & PK_SCRIPT_VERIFY_NULLFAIL) && sig->len)
                        FAIL(PK_SCRIPT_ERR_SIG_NULLFAIL);
                }
                st->n -= 2;
                set_bool(pk_sstack_slot(st), ok);
                if (op == OP_CHECKSIGVERIFY) {
                    if (!ok)
                        FAIL(PK_SCRIPT_ERR_CHECKSIGVERIFY);
                    st->n--;
                }
                break;
            }
            case OP_CHECKSIGADD: {
                if (legacy)
                    FAIL(PK_SCRIPT_ERR_BAD_OPCODE);
                NEED(3);
                const pk_selem *sig = &TOP(3), *key = &TOP(1);
                int64_t n;
                NUM(TOP(2), n);
                int ok = sig->len != 0;
                if (ok) {
                    ed->weight_left -= 50;
                    if (ed->weight_left < 0)
                        FAIL(PK_SCRIPT_ERR_TAPSCRIPT_VALIDATION_WEIGHT);
                }
                if (key->len == 0)
                    FAIL(PK_SCRIPT_ERR_TAPSCRIPT_EMPTY_PUBKEY);
                if (key->len == 32) {
                    if (ok && !pk_scr_check_schnorr(c, pk_se_data(sig), sig->len, pk_se_data(key), sv, ed, err)) {
                        rc = 0;
                        goto done;
                    }
                } else {
                    if (flags & PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_PUBKEYTYPE)
                        FAIL(PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_PUBKEYTYPE);
                    if (ok && c->info)
                        c->info->upgradable = 1;
                }
                st->n -= 2;
                pk_scr_num_set(&TOP(1), n + ok);
                break;
            }
            case OP_CHECKMULTISIG:
            case OP_CHECKMULTISIGVERIFY: {
                if (sv == PK_SIGV_TAPSCRIPT)
                    FAIL(PK_SCRIPT_ERR_TAPSCRIPT_CHECKMULTISIG);
                size_t i = 1;
                NEED(i);
                int64_t nk, ns;
                NUM(TOP(i), nk);
                if (nk < 0 || nk > PK_MAX_PUBKEYS_MULTISIG)
                    FAIL(PK_SCRIPT_ERR_PUBKEY_COUNT);
                ops += (int)nk;
                if (ops > PK_MAX_OPS)
                    FAIL(PK_SCRIPT_ERR_OP_COUNT);
                size_t ikey = ++i;
                i += (size_t)nk;
                NEED(i);
                NUM(TOP(i), ns);
                if (ns < 0 || ns > nk)
                    FAIL(PK_SCRIPT_ERR_SIG_COUNT);
                size_t isig = ++i;
                i += (size_t)ns;
                NEED(i);
                const pk_selem *sigs[PK_MAX_PUBKEYS_MULTISIG], *keys[PK_MAX_PUBKEYS_MULTISIG];
                for (size_t k = 0; k < (size_t)nk; k++)
                    keys[k] = &TOP(ikey + k);
                for (size_t k = 0; k < (size_t)ns; k++)
                    sigs[k] = &TOP(isig + k);
                const uint8_t *code = script + codehash;
                size_t code_len = len - codehash;
                if (sv == PK_SIGV_BASE) {
                    /* Every signature leaves the script code before any is checked. */
                    for (size_t k = 0; k < (size_t)ns; k++) {
                        if (!pk_scr_sig_in_code(code, code_len, pk_se_data(sigs[k]), sigs[k]->len))
                            continue;
                        if (!code_buf && !(code_buf = malloc(len ? len : 1)))
                            abort();
                        size_t nl;
                        size_t found =
                            pk_scr_find_and_delete(code, code_len, pk_se_data(sigs[k]), sigs[k]->len, code_buf, &nl);
                        if (found && (flags & PK_SCRIPT_VERIFY_CONST_SCRIPTCODE))
                            FAIL(PK_SCRIPT_ERR_SIG_FINDANDDELETE);
                        if (found) {
                            code = code_buf;
                            code_len = nl;
                        }
                    }
                }
                int ok = pk_scr_check_multisig(c, sigs, (size_t)ns, keys, (size_t)nk, code, code_len, sv, flags, err);
                if (ok < 0) {
                    rc = 0;
                    goto done;
                }
                if (!ok && (flags & PK_SCRIPT_VERIFY_NULLFAIL)) {
                    for (size_t k = 0; k < (size_t)ns; k++)
                        if (sigs[k]->len)
                            FAIL(PK_SCRIPT_ERR_SIG_NULLFAIL);
                }
                st->n -= i - 1;
                /* The extra item CHECKMULTISIG pops (its famous bug). */
                if (st->n < 1)
                    FAIL(PK_SCRIPT_ERR_INVALID_STACK_OPERATION);
                if ((flags & PK_SCRIPT_VERIFY_NULLDUMMY) && TOP(1).len)
                    FAIL(PK_SCRIPT_ERR_SIG_NULLDUMMY);
                set_bool(&TOP(1), ok);
                if (op == OP_CHECKMULTISIGVERIFY) {
                    if (!ok)
                        FAIL(PK_SCRIPT_ERR_CHECKMULTISIGVERIFY);
                    st->n--;
                }
                break;
            }
            default:
                FAIL(PK_SCRIPT_ERR_BAD_OPCODE);
            }
        }
        if (st->n + alt.n > PK_MAX_STACK)
            FAIL(PK_SCRIPT_ERR_STACK_SIZE);
    }
    if (vf.size != 0)
        FAIL(PK_SCRIPT_ERR_UNBALANCED_CONDITIONAL);
    *err = PK_SCRIPT_ERR_OK;
done:
    free(code_buf);
    pk_sstack_free(&alt);
    return rc;
}
