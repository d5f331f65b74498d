/* The prevouts JSON (getblock HASH 3) against a block: input = a 4-byte
 * little-endian block length, the block, then the JSON.  What parses is
 * used for the signature checks with prevouts. */
#include <stdlib.h>
#include <string.h>

#include "powkit/log.h"
#include "powkit/prevouts.h"
#include "powkit/sigcheck.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

static pk_verifier *v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    pk_log_set_level((pk_log_level)-1); /* nothing */
    v = pk_verifier_new(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t bl = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    if (bl > size - 4)
        return 0;
    pk_block b;
    pk_verror e;
    if (pk_block_parse(&b, data + 4, bl, &e))
        return 0;
    pk_block_hash_txs(&b);
    pk_prevouts p;
    char err[256];
    const char *json = (const char *)data + 4 + bl;
    if (pk_prevouts_from_json(&p, &b, json, size - 4 - bl, err, sizeof err) == 0) {
        for (int mainnet = 0; mainnet <= 1; mainnet++) {
            pk_sigcheck_opts o = {&p, mainnet ? 800000 : -1, mainnet, 0, 0, 0, 0, 0};
            pk_sig_report r;
            pk_block_verify_sigs(&b, &o, v, &r);
            pk_sig_report_free(&r);
        }
        pk_prevouts_free(&p);
    }
    pk_block_free(&b);
    return 0;
}
