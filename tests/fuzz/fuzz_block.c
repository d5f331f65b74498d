/* Blocks from hostile files: parsed, checked, and every signature check
 * extracted and run (no prevouts: mainnet rules from the coinbase height,
 * and regtest rules). */
#include <stdlib.h>

#include "powkit/log.h"
#include "powkit/sigcheck.h"
#include "powkit/sigops.h"
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
    pk_block b;
    pk_block_report rep;
    pk_verror e;
    pk_chain_params p;
    pk_chain_params_init(&p, size && (data[0] & 1) ? PK_CHAIN_REGTEST : PK_CHAIN_MAIN);
    pk_block_verify(&b, data, size, &p, &rep, &e);
    if (b.ntx > 0) {
        if (!b.hashed)
            pk_block_hash_txs(&b);
        pk_block_legacy_sigops(&b);
        for (int mainnet = 0; mainnet <= 1; mainnet++) {
            pk_sigcheck_opts o = {NULL, -1, mainnet, 0, 0, 0, 0, 0};
            pk_sig_report r;
            pk_block_verify_sigs(&b, &o, v, &r);
            pk_sig_report_free(&r);
        }
    }
    pk_block_free(&b);
    return 0;
}
