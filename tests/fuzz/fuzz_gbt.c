/* getblocktemplate answers as a hostile node could send them: parsed,
 * turned into a job, a header made and the whole block assembled. */
#include <jansson.h>
#include <stdlib.h>

#include "powkit/coinbase.h"
#include "powkit/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    pk_log_set_level((pk_log_level)-1 /* nothing */);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j)
        return 0;
    json_t *r = json_object_get(j, "result");
    pk_gbt g;
    char err[256];
    if (pk_gbt_parse(r ? r : j, &g, err, sizeof err) == 0) {
        static const uint8_t payout[22] = {0x00, 0x14};
        pk_pool_job job;
        if (pk_solo_job(&g, payout, sizeof payout, "fuzz", &job, err, sizeof err) == 0) {
            pk_pool_work w;
            uint8_t header[80], en2[PK_SOLO_EXTRANONCE];
            uint64_t t;
            if (pk_pool_work_init(&w, &job) == 0 && pk_pool_work_next(&w, header, &t) == 0) {
                pk_pool_work_extranonce2(&w, t, en2);
                char *hex;
                if (pk_solo_block_hex(&g, &job, header, en2, &hex) == 0)
                    free(hex);
            }
            pk_pool_job_free(&job);
        }
        pk_gbt_free(&g);
    }
    json_decref(j);
    return 0;
}
