/* Reference kernel: portable, plain FIPS 180-4 SHA-256, no mining
 * shortcuts.  It is the oracle every other kernel is tested against, so it
 * reads only the work unit (midstate, tail, target), never the job's
 * precomputed values. */
#include "sha256_internal.h"

static size_t scan_ref(const pk_job *job, uint32_t start, uint64_t count, uint32_t *found,
                       size_t max_found)
{
    size_t hits = 0;
    uint32_t target_w[8];
    for (int i = 0; i < 8; i++)
        target_w[i] = pk_load_le32(job->work.target + 4 * i);
    uint32_t nonce = start;
    for (uint64_t i = 0; i < count; i++, nonce++) {
        uint32_t h[8];
        pk_job_hash_nonce(job, nonce, h);
        if (pk_state_meets_target(h, target_w)) {
            if (hits == max_found)
                return hits + 1; /* full: the caller resumes after found[max_found - 1] */
            found[hits++] = nonce;
        }
    }
    return hits;
}

const pk_kernel pk_kernel_ref = {.name = "ref", .lanes = 1, .cpu_features = 0, .scan = scan_ref};
