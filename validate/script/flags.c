/* The flags' and the errors' names, as Bitcoin Core writes them. */
#include <string.h>

#include "powkit/script.h"

static const char *const flag_names[] = {
    "P2SH",
    "STRICTENC",
    "DERSIG",
    "LOW_S",
    "NULLDUMMY",
    "SIGPUSHONLY",
    "MINIMALDATA",
    "DISCOURAGE_UPGRADABLE_NOPS",
    "CLEANSTACK",
    "CHECKLOCKTIMEVERIFY",
    "CHECKSEQUENCEVERIFY",
    "WITNESS",
    "DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM",
    "MINIMALIF",
    "NULLFAIL",
    "WITNESS_PUBKEYTYPE",
    "CONST_SCRIPTCODE",
    "TAPROOT",
    "DISCOURAGE_UPGRADABLE_TAPROOT_VERSION",
    "DISCOURAGE_OP_SUCCESS",
    "DISCOURAGE_UPGRADABLE_PUBKEYTYPE",
};

const char *pk_script_flag_name(uint32_t bit)
{
    for (unsigned i = 0; i < sizeof flag_names / sizeof *flag_names; i++)
        if (bit == 1u << i)
            return flag_names[i];
    return NULL;
}

int pk_script_flags_parse(const char *s, uint32_t *flags, const char **bad, size_t *bad_len)
{
    uint32_t f = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        int found = n == 0 || (n == 4 && memcmp(s, "NONE", 4) == 0);
        for (unsigned i = 0; !found && i < sizeof flag_names / sizeof *flag_names; i++)
            if (strlen(flag_names[i]) == n && memcmp(flag_names[i], s, n) == 0) {
                f |= 1u << i;
                found = 1;
            }
        if (!found) {
            if (bad)
                *bad = s;
            if (bad_len)
                *bad_len = n;
            return -1;
        }
        s += n;
        if (*s == ',')
            s++;
    }
    *flags = f;
    return 0;
}

static const char *const error_names[] = {
    "SCRIPT_ERR_OK",
    "SCRIPT_ERR_UNKNOWN_ERROR",
    "SCRIPT_ERR_EVAL_FALSE",
    "SCRIPT_ERR_OP_RETURN",
    "SCRIPT_ERR_SCRIPTNUM",
    "SCRIPT_ERR_SCRIPT_SIZE",
    "SCRIPT_ERR_PUSH_SIZE",
    "SCRIPT_ERR_OP_COUNT",
    "SCRIPT_ERR_STACK_SIZE",
    "SCRIPT_ERR_SIG_COUNT",
    "SCRIPT_ERR_PUBKEY_COUNT",
    "SCRIPT_ERR_VERIFY",
    "SCRIPT_ERR_EQUALVERIFY",
    "SCRIPT_ERR_CHECKMULTISIGVERIFY",
    "SCRIPT_ERR_CHECKSIGVERIFY",
    "SCRIPT_ERR_NUMEQUALVERIFY",
    "SCRIPT_ERR_BAD_OPCODE",
    "SCRIPT_ERR_DISABLED_OPCODE",
    "SCRIPT_ERR_INVALID_STACK_OPERATION",
    "SCRIPT_ERR_INVALID_ALTSTACK_OPERATION",
    "SCRIPT_ERR_UNBALANCED_CONDITIONAL",
    "SCRIPT_ERR_NEGATIVE_LOCKTIME",
    "SCRIPT_ERR_UNSATISFIED_LOCKTIME",
    "SCRIPT_ERR_SIG_HASHTYPE",
    "SCRIPT_ERR_SIG_DER",
    "SCRIPT_ERR_MINIMALDATA",
    "SCRIPT_ERR_SIG_PUSHONLY",
    "SCRIPT_ERR_SIG_HIGH_S",
    "SCRIPT_ERR_SIG_NULLDUMMY",
    "SCRIPT_ERR_PUBKEYTYPE",
    "SCRIPT_ERR_CLEANSTACK",
    "SCRIPT_ERR_MINIMALIF",
    "SCRIPT_ERR_SIG_NULLFAIL",
    "SCRIPT_ERR_DISCOURAGE_UPGRADABLE_NOPS",
    "SCRIPT_ERR_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM",
    "SCRIPT_ERR_DISCOURAGE_UPGRADABLE_TAPROOT_VERSION",
    "SCRIPT_ERR_DISCOURAGE_OP_SUCCESS",
    "SCRIPT_ERR_DISCOURAGE_UPGRADABLE_PUBKEYTYPE",
    "SCRIPT_ERR_WITNESS_PROGRAM_WRONG_LENGTH",
    "SCRIPT_ERR_WITNESS_PROGRAM_WITNESS_EMPTY",
    "SCRIPT_ERR_WITNESS_PROGRAM_MISMATCH",
    "SCRIPT_ERR_WITNESS_MALLEATED",
    "SCRIPT_ERR_WITNESS_MALLEATED_P2SH",
    "SCRIPT_ERR_WITNESS_UNEXPECTED",
    "SCRIPT_ERR_WITNESS_PUBKEYTYPE",
    "SCRIPT_ERR_SCHNORR_SIG_SIZE",
    "SCRIPT_ERR_SCHNORR_SIG_HASHTYPE",
    "SCRIPT_ERR_SCHNORR_SIG",
    "SCRIPT_ERR_TAPROOT_WRONG_CONTROL_SIZE",
    "SCRIPT_ERR_TAPSCRIPT_VALIDATION_WEIGHT",
    "SCRIPT_ERR_TAPSCRIPT_CHECKMULTISIG",
    "SCRIPT_ERR_TAPSCRIPT_MINIMALIF",
    "SCRIPT_ERR_TAPSCRIPT_EMPTY_PUBKEY",
    "SCRIPT_ERR_OP_CODESEPARATOR",
    "SCRIPT_ERR_SIG_FINDANDDELETE",
};

const char *pk_script_error_name(pk_script_error e)
{
    if ((unsigned)e >= sizeof error_names / sizeof *error_names)
        return "SCRIPT_ERR_UNKNOWN_ERROR";
    return error_names[e];
}

const char *pk_script_error_short(pk_script_error e)
{
    if (e == PK_SCRIPT_ERR_SIG_NULLFAIL)
        return "NULLFAIL"; /* Core's tests write it so */
    return pk_script_error_name(e) + strlen("SCRIPT_ERR_");
}
