/* Inputs the validation commands share. */
#include "input.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "powkit/util.h"

uint8_t *pk_cli_read_input(const char *cmd, const char *path, size_t *len)
{
    size_t n;
    uint8_t *buf = pk_cli_read_file(cmd, path, PK_CLI_MAX_INPUT, &n);
    if (!buf)
        return NULL;
    size_t digits = 0, i;
    for (i = 0; i < n; i++) {
        if (isxdigit(buf[i]))
            digits++;
        else if (!isspace(buf[i]))
            break;
    }
    if (i == n && digits > 0 && digits % 2 == 0) {
        size_t k = 0;
        char pair[3] = {0};
        for (i = 0; i < n; i++) {
            if (isspace(buf[i]))
                continue;
            pair[k % 2] = (char)buf[i];
            if (k++ % 2) {
                uint8_t v;
                pk_hex_decode(pair, &v, 1);
                buf[k / 2 - 1] = v;
            }
        }
        n = digits / 2;
    }
    *len = n;
    return buf;
}

int pk_cli_parse_chain(pk_args *a, const char *v, pk_chain *c)
{
    if (pk_chain_parse(v, c)) {
        pk_args_fail(a, "%s wants main, test or regtest, got '%s'", pk_args_typed(a), v);
        return -1;
    }
    return 0;
}

int pk_cli_parse_engine(pk_args *a, const char *v, pk_engine *e)
{
    if (pk_engine_parse(v, e)) {
        pk_args_fail(a, "%s wants libsecp256k1, portable or ifma, got '%s'", pk_args_typed(a), v);
        return -1;
    }
    return 0;
}

pk_verifier *pk_cli_verifier(const char *cmd, unsigned threads, pk_engine engine, int batch)
{
    pk_verifier *v = pk_verifier_new(threads);
    if (!v) {
        fprintf(stderr, "powkit %s: cannot start the verifier (out of memory or threads)\n", cmd);
        return NULL;
    }
    if (pk_verifier_set_engine(v, engine)) {
        fprintf(stderr, "powkit %s: engine %s is not available here (disabled or failed its self-test)\n", cmd,
                pk_engine_name(engine));
        pk_verifier_free(v);
        return NULL;
    }
    pk_verifier_set_batch(v, batch);
    return v;
}

json_t *pk_cli_error_json(const pk_verror *e)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s}", "code", pk_vcode_name(e->code), "reason",
                     e->reason ? e->reason : "", "offset", (json_int_t)e->offset, "height",
                     (json_int_t)e->height, "message", e->msg);
}
