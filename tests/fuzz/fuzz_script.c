/* The script interpreter on arbitrary scripts: input = 4 bytes of flags
 * (little-endian), then the scriptPubKey, the scriptSig and witness items,
 * each a 2-byte length and its bytes, to the end.  They make Core's
 * crediting and spending pair (one input, one output); the spend is
 * verified directly and with its signature checks deferred and resolved,
 * and the two verdicts must be the same.  No crash, no leak; time and
 * memory are bounded by the consensus limits on what one input can do. */
#include <stdlib.h>
#include <string.h>

#include "powkit/log.h"
#include "powkit/script.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

static pk_verifier *v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    pk_log_set_level((pk_log_level)-1);
    v = pk_verifier_new(1);
    return 0;
}

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_le(buf *b, uint64_t x, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(x >> (8 * i));
        put(b, &c, 1);
    }
}
static void put_compact(buf *b, uint64_t x)
{
    uint8_t t[9];
    put(b, t, pk_compact_put(t, x));
}

/* A 2-byte length and its bytes from *d; 0 at the end. */
static int take(const uint8_t **d, size_t *left, const uint8_t **out, size_t *len)
{
    if (*left < 2)
        return 0;
    size_t l = (size_t)(*d)[0] | (size_t)(*d)[1] << 8;
    *d += 2, *left -= 2;
    if (l > *left)
        l = *left;
    *out = *d;
    *len = l;
    *d += l, *left -= l;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint32_t flags = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    flags &= (1u << 21) - 1;
    if (flags & PK_SCRIPT_VERIFY_CLEANSTACK)
        flags |= PK_SCRIPT_VERIFY_WITNESS;
    if (flags & PK_SCRIPT_VERIFY_WITNESS)
        flags |= PK_SCRIPT_VERIFY_P2SH;
    const uint8_t *d = data + 4, *spk = NULL, *sig = NULL, *item;
    size_t left = size - 4, spk_len = 0, sig_len = 0, il;
    take(&d, &left, &spk, &spk_len);
    take(&d, &left, &sig, &sig_len);
    buf wit = {0};
    size_t items = 0;
    while (items < 1000 && take(&d, &left, &item, &il)) {
        put_compact(&wit, il);
        put(&wit, item, il);
        items++;
    }
    /* the spending transaction (the crediting txid is any: nothing here looks it up) */
    buf tx = {0};
    put_le(&tx, 2, 4);
    if (items)
        put(&tx, "\x00\x01", 2);
    put_compact(&tx, 1);
    uint8_t prev[36] = {1};
    put(&tx, prev, 36);
    put_compact(&tx, sig_len);
    put(&tx, sig, sig_len);
    put_le(&tx, 0xfffffffe, 4);
    put_compact(&tx, 1);
    put_le(&tx, 1000, 8);
    put_compact(&tx, 0);
    if (items) {
        put_compact(&tx, items);
        put(&tx, wit.p, wit.n);
    }
    put_le(&tx, 500, 4);
    pk_prevout spent = {.value = 1000, .script = spk ? spk : (const uint8_t *)"", .script_len = spk_len};
    pk_script_error e1, e2;
    int r1 = pk_script_verify(spent.script, spk_len, 1000, tx.p, tx.n, &spent, 1, 0, flags, &e1);
    if (r1 >= 0) {
        pk_tx t;
        if (pk_tx_parse(&t, tx.p, tx.n, NULL) != 0)
            abort(); /* pk_script_verify parsed it */
        pk_block b;
        memset(&b, 0, sizeof b);
        b.data = tx.p, b.size = tx.n, b.ntx = 1, b.tx = &t;
        pk_script_tx st = {&b, &t, &spent};
        pk_script_defer df;
        memset(&df, 0, sizeof df);
        int r2 = pk_script_exec(&st, NULL, 0, flags, &df, &e2, NULL);
        if (r2 == 1) {
            for (size_t i = 0; i < df.n; i++)
                pk_sig_check_one(v, &df.checks[i]);
            if (!pk_script_defer_holds(&df, df.checks, 0, df.n_reqs))
                r2 = pk_script_exec(&st, NULL, 0, flags, NULL, &e2, NULL);
        } else {
            r2 = pk_script_exec(&st, NULL, 0, flags, NULL, &e2, NULL);
        }
        pk_script_defer_free(&df);
        if (r1 != r2 || e1 != e2)
            abort(); /* the deferred verdict must be the direct one */
    }
    free(tx.p);
    free(wit.p);
    return 0;
}
