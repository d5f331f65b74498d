/* The differential test against bcoin's interpreter: reads the lines
 * tests/node/script_diff.js prints (a transaction, the script and amount
 * input 0 spends, the flags, bcoin's verdict) and judges each with
 * pk_script_verify.  Prints the counts, the verdicts that differ (each
 * with its case) and the error names that differ where both say invalid.
 * Exit status 1 when a verdict differs, unless the case is one of the
 * differences explained below (where bcoin 1.0.2 keeps rules Core has
 * since changed), counted apart:
 *  - a witness v1 32-byte program without TAPROOT under
 *    DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM: Core's VerifyWitnessProgram
 *    returns success for it before looking at the discourage flag (bcoin
 *    predates BIP341 and discourages it);
 *  - CHECKLOCKTIMEVERIFY or CHECKSEQUENCEVERIFY with its flag off under
 *    DISCOURAGE_UPGRADABLE_NOPS: Core treats them as plain NOPs since it
 *    made every flag backward compatible (bcoin discourages them as NOP2
 *    and NOP3, as Core once did).  powkit's OK under that flag means no
 *    other NOP ran, so bcoin's discourage came from one of these two.
 * Error names that differ where both say invalid, explained:
 *  - IF/NOTIF on an empty stack: Core now says INVALID_STACK_OPERATION,
 *    bcoin UNBALANCED_CONDITIONAL (Core's earlier name);
 *  - a witness script leaving other than one item, the top false: Core's
 *    ExecuteWitnessScript checks the size first (CLEANSTACK), bcoin the
 *    value (EVAL_FALSE);
 *  - a number operand too long or not minimal: Core's SCRIPTNUM, bcoin's
 *    UNKNOWN_ERROR (Core's before the name);
 *  - bcoin stopping at a CLTV/CSV it discourages (above) before the error
 *    Core reaches later in the script.
 *   usage: node tests/node/script_diff.js N SEED | diff_bcoin */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/script.h"
#include "powkit/util.h"
#include "powkit/validate.h"

static uint8_t *unhex(const char *h, size_t *n)
{
    size_t l = h ? strlen(h) : 1;
    if (l % 2)
        return NULL;
    *n = l / 2;
    uint8_t *b = malloc(*n + 1);
    if (!b || pk_hex_decode(h, b, *n)) {
        free(b);
        return NULL;
    }
    return b;
}

int main(void)
{
    static char line[1 << 20];
    size_t cases = 0, agree = 0, verdict_diff = 0, error_diff = 0, both_ok = 0, both_bad = 0;
    size_t taproot_diff = 0, nop_diff = 0, if_name = 0, clean_name = 0, num_name = 0, nop_name = 0;
    while (fgets(line, sizeof line, stdin)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o) {
            fprintf(stderr, "diff_bcoin: line %zu is not JSON: %s\n", cases + 1, je.text);
            return 2;
        }
        size_t txl = 0, spkl = 0;
        uint8_t *tx = unhex(json_string_value(json_object_get(o, "tx")), &txl);
        uint8_t *spk = unhex(json_string_value(json_object_get(o, "spk")), &spkl);
        const char *bc = json_string_value(json_object_get(o, "bcoin"));
        if (!tx || !spk || !bc) {
            fprintf(stderr, "diff_bcoin: line %zu lacks tx, spk or bcoin\n", cases + 1);
            return 2;
        }
        uint64_t value = (uint64_t)json_integer_value(json_object_get(o, "value"));
        uint32_t flags = (uint32_t)json_integer_value(json_object_get(o, "flags"));
        pk_tx t;
        if (pk_tx_parse(&t, tx, txl, NULL)) {
            fprintf(stderr, "diff_bcoin: line %zu: the transaction does not parse\n", cases + 1);
            return 2;
        }
        /* input 0 spends (spk, value); the others an OP_TRUE output (only taproot would look) */
        pk_prevout *spent = calloc(t.n_in, sizeof *spent);
        static const uint8_t op_true = 0x51;
        for (uint32_t i = 0; i < t.n_in; i++)
            spent[i] = (pk_prevout){.value = 1, .script = &op_true, .script_len = 1};
        spent[0] = (pk_prevout){.value = value, .script = spk, .script_len = spkl};
        pk_script_error err;
        int rc = pk_script_verify(spk, spkl, value, tx, txl, spent, t.n_in, 0, flags, &err);
        if (rc < 0) {
            fprintf(stderr, "diff_bcoin: line %zu: the call was refused (flags %x)\n", cases + 1, flags);
            return 2;
        }
        cases++;
        int bcoin_ok = strcmp(bc, "OK") == 0;
        const char *ours = rc ? "OK" : pk_script_error_short(err);
        /* bcoin names a number too long or not minimal UNKNOWN_ERROR, as Core did before it
         * gave the error its own name (SCRIPT_ERR_SCRIPTNUM). */
        int same_error = strcmp(ours, bc) == 0;
        int v1_program = spkl == 34 && spk[0] == 0x51 && spk[1] == 32;
        if (rc && !bcoin_ok && strcmp(bc, "DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM") == 0 && v1_program &&
            !(flags & PK_SCRIPT_VERIFY_TAPROOT)) {
            taproot_diff++;
        } else if (rc && !bcoin_ok && strcmp(bc, "DISCOURAGE_UPGRADABLE_NOPS") == 0 &&
                   (flags & PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_NOPS) &&
                   (~flags & (PK_SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY | PK_SCRIPT_VERIFY_CHECKSEQUENCEVERIFY))) {
            nop_diff++;
        } else if (rc != bcoin_ok) {
            verdict_diff++;
            if (verdict_diff <= 20)
                printf("VERDICT %s (powkit %s, bcoin %s): %s", rc ? "valid here" : "invalid here", ours, bc, line);
        } else {
            agree++;
            if (rc)
                both_ok++;
            else
                both_bad++;
            if (!rc && !same_error && err == PK_SCRIPT_ERR_INVALID_STACK_OPERATION &&
                strcmp(bc, "UNBALANCED_CONDITIONAL") == 0)
                if_name++;
            else if (!rc && !same_error && err == PK_SCRIPT_ERR_CLEANSTACK && strcmp(bc, "EVAL_FALSE") == 0)
                clean_name++;
            else if (!rc && !same_error && err == PK_SCRIPT_ERR_SCRIPTNUM && strcmp(bc, "UNKNOWN_ERROR") == 0)
                num_name++;
            else if (!rc && !same_error && strcmp(bc, "DISCOURAGE_UPGRADABLE_NOPS") == 0 &&
                     (flags & PK_SCRIPT_VERIFY_DISCOURAGE_UPGRADABLE_NOPS) &&
                     (~flags & (PK_SCRIPT_VERIFY_CHECKLOCKTIMEVERIFY | PK_SCRIPT_VERIFY_CHECKSEQUENCEVERIFY)))
                nop_name++; /* bcoin stopped at a CLTV/CSV it discourages, before the error Core reaches */
            else if (!rc && !same_error) {
                error_diff++;
                if (error_diff <= 20)
                    printf("error: powkit %s, bcoin %s: %s", ours, bc, line);
            }
        }
        free(spent);
        free(tx);
        free(spk);
        json_decref(o);
    }
    printf("diff_bcoin: %zu cases, %zu verdicts the same (%zu valid, %zu invalid); verdicts that differ: %zu "
           "explained (%zu v1 programs bcoin discourages without taproot, %zu CLTV/CSV bcoin discourages as NOPs), "
           "%zu not explained\n",
           cases, agree, both_ok, both_bad, taproot_diff + nop_diff, taproot_diff, nop_diff, verdict_diff);
    printf("diff_bcoin: of the invalid, error names that differ: %zu explained (%zu IF on an empty stack, %zu "
           "CLEANSTACK before EVAL_FALSE, %zu SCRIPTNUM, %zu CLTV/CSV bcoin discourages first), %zu not explained\n",
           if_name + clean_name + num_name + nop_name, if_name, clean_name, num_name, nop_name, error_diff);
    return verdict_diff ? 1 : 0;
}
