/* Bitcoin Core's VerifyScript and VerifyWitnessProgram: the scriptSig and
 * the scriptPubKey on one stack, P2SH's second run, the witness programs
 * (v0 P2WPKH and P2WSH, v1 taproot's key and script paths, every other
 * version valid as an upgrade hook) and the rules between them. */
#include <stdlib.h>
#include <string.h>

#include "powkit/sha256.h"
#include "script_internal.h"

#define TAPROOT_LEAF_MASK 0xfe
#define TAPROOT_LEAF_TAPSCRIPT 0xc0
#define TAPROOT_CONTROL_BASE 33
#define TAPROOT_CONTROL_NODE 32
#define TAPROOT_CONTROL_MAX (33 + 32 * 128)
#define ANNEX_TAG 0x50
#define VALIDATION_WEIGHT_OFFSET 50

/* Core's IsWitnessProgram: a version opcode and one direct push of 2 to 40
 * bytes, nothing else. */
static int witness_program(const uint8_t *s, size_t n, int *version, const uint8_t **prog, size_t *plen)
{
    if (n < 4 || n > 42)
        return 0;
    if (s[0] != OP_0 && (s[0] < OP_1 || s[0] > OP_16))
        return 0;
    if ((size_t)s[1] + 2 != n)
        return 0;
    *version = s[0] == OP_0 ? 0 : s[0] - (OP_1 - 1);
    *prog = s + 2;
    *plen = n - 2;
    return 1;
}

static int p2sh(const uint8_t *s, size_t n)
{
    return n == 23 && s[0] == OP_HASH160 && s[1] == 0x14 && s[22] == OP_EQUAL;
}

/* An input's witness as the transaction serialises it. */
typedef struct witness {
    const uint8_t *d; /* the tx data */
    size_t at;        /* offset of the item count; 0: no witness */
    size_t count;
    size_t size;      /* serialised size, the count included */
} witness;

static void witness_open(witness *w, const uint8_t *d, size_t at)
{
    w->d = d;
    w->at = at;
    w->count = 0;
    w->size = 1;
    if (!at)
        return;
    size_t pos = at;
    w->count = (size_t)pk_compact_get(d, &pos);
    for (size_t i = 0; i < w->count; i++) {
        size_t l = (size_t)pk_compact_get(d, &pos);
        pos += l;
    }
    w->size = pos - at;
}

/* The witness items onto st, borrowed from the transaction. */
static void witness_stack(const witness *w, pk_sstack *st)
{
    if (!w->at)
        return;
    size_t pos = w->at;
    (void)pk_compact_get(w->d, &pos);
    for (size_t i = 0; i < w->count; i++) {
        size_t l = (size_t)pk_compact_get(w->d, &pos);
        pk_sstack_push_ref(st, w->d + pos, l);
        pos += l;
    }
}

static int fail(pk_script_error *err, pk_script_error e)
{
    *err = e;
    return 0;
}

/* Core's ExecuteWitnessScript: the OP_SUCCESSx scan (tapscript), the
 * initial stack's limits, the run, and the implied clean stack. */
static int execute_witness_script(pk_sstack *st, const uint8_t *script, size_t len, uint32_t flags,
                                  pk_sigversion sv, pk_checker *c, pk_execdata *ed, pk_script_error *err)
{
    if (sv == PK_SIGV_TAPSCRIPT) {
        size_t pos = 0;
        while (pos < len) {
            uint8_t op;
            const uint8_t *d;
            size_t dl;
            if (!pk_scr_get_op(script, len, &pos, &op, &d, &dl))
                return fail(err, PK_SCRIPT_ERR_BAD_OPCODE);
            if (pk_scr_is_op_success(op)) {
                if (flags & PK_SCRIPT_VERIFY_DISCOURAGE_OP_SUCCESS)
                    return fail(err, PK_SCRIPT_ERR_DISCOURAGE_OP_SUCCESS);
                if (c->info)
                    c->info->upgradable = 1;
                *err = PK_SCRIPT_ERR_OK;
                return 1;
            }
        }
        if (st->n > PK_MAX_STACK)
            return fail(err, PK_SCRIPT_ERR_STACK_SIZE);
    }
    for (size_t i = 0; i < st->n; i++)
        if (st->e[i].len > PK_MAX_ELEMENT_SIZE)
            return fail(err, PK_SCRIPT_ERR_PUSH_SIZE);
    if (!pk_scr_eval(st, script, len, flags, c, sv, ed, err))
        return 0;
    if (st->n != 1)
        return fail(err, PK_SCRIPT_ERR_CLEANSTACK);
    if (!pk_scr_cast_bool(&st->e[0]))
        return fail(err, PK_SCRIPT_ERR_EVAL_FALSE);
    *err = PK_SCRIPT_ERR_OK;
    return 1;
}

static int verify_witness_program(const witness *w, int version, const uint8_t *prog, size_t plen, uint32_t flags,
                                  int is_p2sh, pk_checker *c, pk_script_error *err)
{
    pk_selem lent[PK_SSTACK_LENT];
    pk_sstack st = PK_SSTACK_ON(lent);
    pk_execdata ed;
    memset(&ed, 0, sizeof ed);
    ed.codesep_pos = UINT32_MAX;
    int rc;
    witness_stack(w, &st);
    if (version == 0) {
        if (plen == 32) { /* P2WSH */
            if (st.n == 0) {
                rc = fail(err, PK_SCRIPT_ERR_WITNESS_PROGRAM_WITNESS_EMPTY);
                goto out;
            }
            pk_selem s = st.e[--st.n];
            uint8_t h[32];
            pk_sha256(s.p, s.len, h);
            if (memcmp(h, prog, 32) != 0) {
                rc = fail(err, PK_SCRIPT_ERR_WITNESS_PROGRAM_MISMATCH);
                goto out;
            }
            rc = execute_witness_script(&st, s.p, s.len, flags, PK_SIGV_WITNESS_V0, c, &ed, err);
        } else if (plen == 20) { /* P2WPKH */
            if (st.n != 2) {
                rc = fail(err, PK_SCRIPT_ERR_WITNESS_PROGRAM_MISMATCH);
                goto out;
            }
            uint8_t code[25] = {OP_DUP, OP_HASH160, 20};
            memcpy(code + 3, prog, 20);
            code[23] = OP_EQUALVERIFY;
            code[24] = OP_CHECKSIG;
            rc = execute_witness_script(&st, code, sizeof code, flags, PK_SIGV_WITNESS_V0, c, &ed, err);
        } else {
            rc = fail(err, PK_SCRIPT_ERR_WITNESS_PROGRAM_WRONG_LENGTH);
        }
        goto out;
    }
    if (version == 1 && plen == 32 && !is_p2sh) {
        if (!(flags & PK_SCRIPT_VERIFY_TAPROOT)) {
            if (c->info)
                c->info->upgradable = 1;
            *err = PK_SCRIPT_ERR_OK;
            rc = 1;
            goto out;
        }
        if (st.n == 0) {
            rc = fail(err, PK_SCRIPT_ERR_WITNESS_PROGRAM_WITNESS_EMPTY);
            goto out;
        }
        if (st.n >= 2 && st.e[st.n - 1].len > 0 && st.e[st.n - 1].p[0] == ANNEX_TAG) {
            /* The annex commits as its serialisation, length first. */
            pk_selem a = st.e[--st.n];
            uint8_t pre[9];
            size_t pl;
            uint64_t l = a.len;
            if (l < 0xfd) {
                pre[0] = (uint8_t)l;
                pl = 1;
            } else if (l <= 0xffff) {
                pre[0] = 0xfd;
                pre[1] = (uint8_t)l;
                pre[2] = (uint8_t)(l >> 8);
                pl = 3;
            } else {
                pre[0] = 0xfe;
                for (int i = 0; i < 4; i++)
                    pre[1 + i] = (uint8_t)(l >> (8 * i));
                pl = 5;
            }
            pk_sha256_ctx h;
            pk_sha256_init(&h);
            pk_sha256_update(&h, pre, pl);
            pk_sha256_update(&h, a.p, a.len);
            pk_sha256_final(&h, ed.annex_hash);
            ed.annex_present = 1;
            ed.annex = a.p;
            ed.annex_len = a.len;
        }
        if (st.n == 1) { /* key path */
            rc = pk_scr_check_schnorr(c, st.e[0].p, st.e[0].len, prog, PK_SIGV_TAPROOT, &ed, err);
            if (rc)
                *err = PK_SCRIPT_ERR_OK;
            goto out;
        }
        /* script path */
        pk_selem control = st.e[--st.n];
        pk_selem script = st.e[--st.n];
        if (control.len < TAPROOT_CONTROL_BASE || control.len > TAPROOT_CONTROL_MAX ||
            (control.len - TAPROOT_CONTROL_BASE) % TAPROOT_CONTROL_NODE != 0) {
            rc = fail(err, PK_SCRIPT_ERR_TAPROOT_WRONG_CONTROL_SIZE);
            goto out;
        }
        uint8_t leaf = control.p[0] & TAPROOT_LEAF_MASK;
        pk_scr_tapleaf_hash(leaf, script.p, script.len, ed.tapleaf_hash);
        if (!pk_scr_taproot_commitment(control.p, control.len, prog, ed.tapleaf_hash)) {
            rc = fail(err, PK_SCRIPT_ERR_WITNESS_PROGRAM_MISMATCH);
            goto out;
        }
        ed.tapleaf_init = 1;
        if (leaf == TAPROOT_LEAF_TAPSCRIPT) {
            if (c->info)
                c->info->tapscript = 1;
            ed.weight_left = (int64_t)w->size + VALIDATION_WEIGHT_OFFSET;
            rc = execute_witness_script(&st, script.p, script.len, flags, PK_SIGV_TAPSCRIPT, c, &ed, err);
            goto out;
        }
        if (flags & PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION) {
            rc = fail(err, PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION);
            goto out;
        }
        if (c->info)
            c->info->upgradable = 1;
        *err = PK_SCRIPT_ERR_OK;
        rc = 1;
        goto out;
    }
    /* Pay-to-anchor (v1, 0x4e73) is standard: not discouraged. */
    int anchor = !is_p2sh && version == 1 && plen == 2 && prog[0] == 0x4e && prog[1] == 0x73;
    if (!anchor && (flags & PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM)) {
        rc = fail(err, PK_SCRIPT_ERR_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM);
        goto out;
    }
    if (c->info)
        c->info->upgradable = 1;
    *err = PK_SCRIPT_ERR_OK;
    rc = 1;
out:
    pk_sstack_free(&st);
    return rc;
}

/* Core's VerifyScript. */
static int verify_script(const uint8_t *sig, size_t sig_len, const uint8_t *spk, size_t spk_len, const witness *w,
                         uint32_t flags, pk_checker *c, pk_script_error *err)
{
    pk_selem lent[PK_SSTACK_LENT], copy_lent[PK_SSTACK_LENT];
    pk_sstack st = PK_SSTACK_ON(lent), copy = PK_SSTACK_ON(copy_lent);
    uint8_t redeem[PK_MAX_ELEMENT_SIZE];
    int rc = 0, had_witness = 0, version;
    const uint8_t *prog;
    size_t plen;
    *err = PK_SCRIPT_ERR_UNKNOWN_ERROR;
    if ((flags & PK_SCRIPT_VERIFY_SIGPUSHONLY) && !pk_scr_push_only(sig, sig_len)) {
        *err = PK_SCRIPT_ERR_SIG_PUSHONLY;
        goto out;
    }
    if (!pk_scr_eval(&st, sig, sig_len, flags, c, PK_SIGV_BASE, NULL, err))
        goto out;
    if (flags & PK_SCRIPT_VERIFY_P2SH)
        for (size_t i = 0; i < st.n; i++)
            pk_sstack_push(&copy, &st.e[i]);
    if (!pk_scr_eval(&st, spk, spk_len, flags, c, PK_SIGV_BASE, NULL, err))
        goto out;
    if (st.n == 0 || !pk_scr_cast_bool(&st.e[st.n - 1])) {
        *err = PK_SCRIPT_ERR_EVAL_FALSE;
        goto out;
    }
    if (witness_program(spk, spk_len, &version, &prog, &plen)) {
        if (c->info)
            c->info->witness_version = version;
        if (flags & PK_SCRIPT_VERIFY_WITNESS) {
            had_witness = 1;
            if (sig_len != 0) {
                *err = PK_SCRIPT_ERR_WITNESS_MALLEATED;
                goto out;
            }
            if (!verify_witness_program(w, version, prog, plen, flags, 0, c, err))
                goto out;
            st.n = 1; /* the program left true: the stack is that one element */
        }
    }
    if ((flags & PK_SCRIPT_VERIFY_P2SH) && p2sh(spk, spk_len)) {
        if (c->info)
            c->info->p2sh = 1;
        if (!pk_scr_push_only(sig, sig_len)) {
            *err = PK_SCRIPT_ERR_SIG_PUSHONLY;
            goto out;
        }
        pk_sstack t = st;
        st = copy;
        copy = t;
        /* The scriptSig left true under the hash check, so it pushed at least the redeem script. */
        if (st.n == 0) {
            *err = PK_SCRIPT_ERR_EVAL_FALSE;
            goto out;
        }
        pk_selem top = st.e[--st.n];
        size_t rlen = top.len; /* at most 520: a push's limit */
        memcpy(redeem, pk_se_data(&top), rlen);
        if (!pk_scr_eval(&st, redeem, rlen, flags, c, PK_SIGV_BASE, NULL, err))
            goto out;
        if (st.n == 0 || !pk_scr_cast_bool(&st.e[st.n - 1])) {
            *err = PK_SCRIPT_ERR_EVAL_FALSE;
            goto out;
        }
        if (witness_program(redeem, rlen, &version, &prog, &plen)) {
            if (c->info)
                c->info->witness_version = version;
            if (flags & PK_SCRIPT_VERIFY_WITNESS) {
                had_witness = 1;
                /* the scriptSig must be exactly one direct push of the program */
                if (sig_len != rlen + 1 || sig[0] != rlen || memcmp(sig + 1, redeem, rlen) != 0) {
                    *err = PK_SCRIPT_ERR_WITNESS_MALLEATED_P2SH;
                    goto out;
                }
                if (!verify_witness_program(w, version, prog, plen, flags, 1, c, err))
                    goto out;
                st.n = 1;
            }
        }
    }
    if ((flags & PK_SCRIPT_VERIFY_CLEANSTACK) && st.n != 1) {
        *err = PK_SCRIPT_ERR_CLEANSTACK;
        goto out;
    }
    if ((flags & PK_SCRIPT_VERIFY_WITNESS) && !had_witness && w->count != 0) {
        *err = PK_SCRIPT_ERR_WITNESS_UNEXPECTED;
        goto out;
    }
    *err = PK_SCRIPT_ERR_OK;
    rc = 1;
out:
    pk_sstack_free(&st);
    pk_sstack_free(&copy);
    return rc;
}

pk_script_txdata *pk_script_txdata_new(const pk_script_tx *tx)
{
    pk_script_txdata *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    pk_script_txdata_reuse(d, tx);
    return d;
}

void pk_script_txdata_reuse(pk_script_txdata *d, const pk_script_tx *tx)
{
    d->tx = *tx;
    if (d->cap_in < tx->t->n_in || !d->ins) {
        size_t cap = tx->t->n_in ? tx->t->n_in : 1;
        pk_txin_ref *ni = realloc(d->ins, cap * sizeof *ni);
        if (!ni)
            abort();
        d->ins = ni;
        d->cap_in = cap;
    }
    d->outs_at = pk_tx_inputs(tx->b, tx->t, d->ins);
    d->legacy_ready = d->bip143_ready = d->bip341_ready = 0;
    d->h160 = NULL; /* another transaction's (or the same bytes changed since) */
}

void pk_script_txdata_set_h160(pk_script_txdata *d, const pk_script_h160 *memo)
{
    d->h160 = memo;
}
size_t pk_script_txdata_bytes(const pk_script_txdata *d)
{
    return sizeof *d + d->cap_in * sizeof *d->ins + d->legacy.cap_data +
           d->legacy.cap_in * (sizeof *d->legacy.at + sizeof *d->legacy.mid);
}

void pk_script_txdata_free(pk_script_txdata *d)
{
    if (!d)
        return;
    pk_legacy_all_free(&d->legacy); /* its buffers, from this or an earlier transaction */
    free(d->ins);
    free(d);
}

const pk_txin_ref *pk_script_txdata_inputs(const pk_script_txdata *d)
{
    return d->ins;
}

int pk_script_exec(const pk_script_tx *tx, pk_script_txdata *txd, size_t vin, uint32_t flags, pk_script_defer *defer,
                   pk_script_error *err, pk_script_info *info)
{
    pk_script_error e2;
    if (!err)
        err = &e2;
    pk_script_txdata *own = NULL;
    if (!txd)
        txd = own = pk_script_txdata_new(tx);
    if (info) {
        memset(info, 0, sizeof *info);
        info->witness_version = -1;
    }
    const pk_prevout *po = &tx->spent[vin];
    const pk_txin_ref *in = &txd->ins[vin];
    const uint8_t *d = tx->b->data;
    witness w;
    witness_open(&w, d, in->witness);
    pk_checker c = {tx, txd, vin, po->value, defer, info};
    int rc = verify_script(d + in->script, in->script_len, po->script, po->script_len, &w, flags, &c, err);
    pk_script_txdata_free(own);
    return rc;
}

int pk_script_verify(const uint8_t *spk, size_t spk_len, uint64_t amount, const uint8_t *tx, size_t txlen,
                     const pk_prevout *spent, size_t n_spent, size_t vin, uint32_t flags, pk_script_error *err)
{
    pk_script_error e2;
    if (!err)
        err = &e2;
    *err = PK_SCRIPT_ERR_UNKNOWN_ERROR;
    if ((flags & PK_SCRIPT_VERIFY_CLEANSTACK) &&
        (flags & (PK_SCRIPT_VERIFY_P2SH | PK_SCRIPT_VERIFY_WITNESS)) !=
            (PK_SCRIPT_VERIFY_P2SH | PK_SCRIPT_VERIFY_WITNESS))
        return -1;
    if ((flags & PK_SCRIPT_VERIFY_WITNESS) && !(flags & PK_SCRIPT_VERIFY_P2SH))
        return -1;
    pk_tx t;
    if (!tx || pk_tx_parse(&t, tx, txlen, NULL) != 0)
        return -1;
    if (vin >= t.n_in || n_spent != t.n_in || !spent)
        return -1;
    if (spent[vin].value != amount || spent[vin].script_len != spk_len ||
        (spk_len && memcmp(spent[vin].script, spk, spk_len) != 0))
        return -1;
    pk_block b;
    memset(&b, 0, sizeof b);
    b.data = tx;
    b.size = txlen;
    b.ntx = 1;
    b.tx = &t;
    pk_script_tx st = {&b, &t, spent};
    return pk_script_exec(&st, NULL, vin, flags, NULL, err, NULL);
}
