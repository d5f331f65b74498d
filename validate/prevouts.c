/* The spent outputs of a block's inputs, from `getblock HASH 3` JSON
 * (see include/powkit/prevouts.h). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/prevouts.h"
#include "powkit/util.h"

#define MAX_MONEY_SATS 2100000000000000ull
/* A spent script can be as long as a block holds; over 10,000 bytes it
 * cannot be spent (SCRIPT_SIZE), which is the interpreter's verdict to give,
 * not an input error. */
#define MAX_SCRIPT 4000000

static int say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A hash as RPC prints it (byte-reversed hex) equal to h? */
static int same_hash(const char *hex, const uint8_t h[32])
{
    uint8_t v[32];
    if (!hex || strlen(hex) != 64 || pk_hex_decode(hex, v, 32))
        return 0;
    for (int i = 0; i < 32; i++)
        if (v[i] != h[31 - i])
            return 0;
    return 1;
}

/* Satoshis from a JSON amount in BTC (Core prints 8 decimals). */
static int amount(const json_t *v, uint64_t *out)
{
    double btc;
    if (json_is_integer(v))
        btc = (double)json_integer_value(v);
    else if (json_is_real(v))
        btc = json_real_value(v);
    else
        return -1;
    if (!(btc >= 0) || btc * 1e8 > (double)MAX_MONEY_SATS)
        return -1;
    *out = (uint64_t)llround(btc * 1e8);
    return 0;
}

int pk_prevouts_from_json(pk_prevouts *p, const pk_block *b, const char *text, size_t len, char *err,
                          size_t errlen)
{
    memset(p, 0, sizeof *p);
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root)
        return say(err, errlen, "prevouts: not JSON: line %d: %s", je.line, je.text);
    int rc = -1;
    const json_t *blk = json_object_get(root, "result") ? json_object_get(root, "result") : root;
    const json_t *txs = json_object_get(blk, "tx");
    size_t *script_at = NULL; /* offsets into p->scripts until the end */
    size_t used = 0, cap = 0;
    if (!json_is_array(txs)) {
        say(err, errlen, "prevouts: no \"tx\" array (the output of getblock HASH 3 is wanted)");
        goto out;
    }
    if (json_array_size(txs) != b->ntx) {
        say(err, errlen, "prevouts: %zu transactions, the block has %zu", json_array_size(txs), b->ntx);
        goto out;
    }
    p->ntx = b->ntx;
    p->first = malloc(b->ntx * sizeof *p->first);
    p->n = (size_t)b->n_inputs;
    p->out = calloc(p->n ? p->n : 1, sizeof *p->out);
    script_at = calloc(p->n ? p->n : 1, sizeof *script_at);
    if (!p->first || !p->out || !script_at) {
        say(err, errlen, "prevouts: out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t ti = 0; ti < b->ntx; ti++) {
        const pk_tx *t = &b->tx[ti];
        const json_t *jt = json_array_get(txs, ti);
        p->first[ti] = k;
        if (!json_is_object(jt)) {
            say(err, errlen, "prevouts: tx %zu is not an object (verbosity 1 lists only txids; use 3)", ti);
            goto out;
        }
        const char *txid = json_string_value(json_object_get(jt, "txid"));
        if (txid && !same_hash(txid, t->txid)) {
            say(err, errlen, "prevouts: tx %zu is %.64s in the JSON but not in the block", ti, txid);
            goto out;
        }
        const json_t *vin = json_object_get(jt, "vin");
        if (!json_is_array(vin) || json_array_size(vin) != t->n_in) {
            say(err, errlen, "prevouts: tx %zu has %zu inputs in the JSON, %u in the block", ti,
                json_is_array(vin) ? json_array_size(vin) : 0, t->n_in);
            goto out;
        }
        pk_txin_ref *ins = malloc(t->n_in * sizeof *ins);
        if (!ins) {
            say(err, errlen, "prevouts: out of memory");
            goto out;
        }
        pk_tx_inputs(b, t, ins);
        for (uint32_t vi = 0; vi < t->n_in; vi++, k++) {
            const json_t *ji = json_array_get(vin, vi);
            if (ti == 0)
                continue; /* the coinbase spends nothing */
            const json_t *pv = json_object_get(ji, "prevout");
            const char *ptx = json_string_value(json_object_get(ji, "txid"));
            const json_t *vout = json_object_get(ji, "vout");
            const uint8_t *op = b->data + ins[vi].prevout;
            uint32_t n = (uint32_t)op[32] | (uint32_t)op[33] << 8 | (uint32_t)op[34] << 16 | (uint32_t)op[35] << 24;
            if (!ptx || !json_is_integer(vout) || !same_hash(ptx, op) || json_integer_value(vout) != (json_int_t)n) {
                say(err, errlen, "prevouts: tx %zu input %u: the JSON's outpoint is not the block's", ti, vi);
                free(ins);
                goto out;
            }
            const json_t *spk = json_object_get(pv, "scriptPubKey");
            const char *hex = json_string_value(json_object_get(spk, "hex"));
            if (!json_is_object(pv) || !hex) {
                say(err, errlen, "prevouts: tx %zu input %u has no prevout with scriptPubKey.hex (use getblock HASH 3)",
                    ti, vi);
                free(ins);
                goto out;
            }
            size_t hl = strlen(hex);
            if (amount(json_object_get(pv, "value"), &p->out[k].value)) {
                say(err, errlen, "prevouts: tx %zu input %u: prevout value is not an amount", ti, vi);
                free(ins);
                goto out;
            }
            const json_t *jh = json_object_get(pv, "height");
            if (jh) {
                if (!json_is_integer(jh) || json_integer_value(jh) < 0) {
                    say(err, errlen, "prevouts: tx %zu input %u: prevout height is not a height", ti, vi);
                    free(ins);
                    goto out;
                }
                p->out[k].has_height = 1;
                p->out[k].height = json_integer_value(jh);
            }
            p->out[k].coinbase = json_is_true(json_object_get(pv, "generated"));
            if (hl % 2 || hl / 2 > MAX_SCRIPT) {
                say(err, errlen, "prevouts: tx %zu input %u: scriptPubKey.hex is not hex of at most %d bytes", ti,
                    vi, MAX_SCRIPT);
                free(ins);
                goto out;
            }
            if (used + hl / 2 > cap || !p->scripts) { /* an empty script still gets storage to point into */
                cap = (used + hl / 2) * 2 + 4096;
                uint8_t *ns = realloc(p->scripts, cap);
                if (!ns) {
                    say(err, errlen, "prevouts: out of memory");
                    free(ins);
                    goto out;
                }
                p->scripts = ns;
            }
            if (pk_hex_decode(hex, p->scripts + used, hl / 2)) {
                say(err, errlen, "prevouts: tx %zu input %u: scriptPubKey.hex is not hex", ti, vi);
                free(ins);
                goto out;
            }
            script_at[k] = used;
            p->out[k].script_len = hl / 2;
            used += hl / 2;
        }
        free(ins);
    }
    for (size_t i = 0; i < p->n; i++)
        p->out[i].script = p->scripts ? p->scripts + script_at[i] : NULL;
    rc = 0;
out:
    free(script_at);
    json_decref(root);
    if (rc)
        pk_prevouts_free(p);
    return rc;
}

void pk_prevouts_free(pk_prevouts *p)
{
    free(p->first);
    free(p->out);
    free(p->scripts);
    memset(p, 0, sizeof *p);
}
