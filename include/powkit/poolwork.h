/* powkit: pool work.  A Stratum job (mining.notify) plus the session's
 * extranonce1, extranonce2 size, difficulty and version mask becomes an
 * endless series of unique header templates:
 *
 *   coinbase = coinb1 + extranonce1 + extranonce2 + coinb2
 *   merkle root = fold of SHA256d(coinbase) with the branch
 *   template t: extranonce2 = t / V, rolled version bits = t % V
 *
 * where V is the number of versions the negotiated mask allows (BIP310,
 * BIP320: only bits inside the mask, at most 0x1fffe000, ever change).
 * ntime is never rolled.  A found share maps back to the submit fields
 * through its template number.
 */
#ifndef POWKIT_POOLWORK_H
#define POWKIT_POOLWORK_H

#include "powkit/export.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PK_JOB_ID_MAX 64       /* longest job id accepted */
#define PK_EXTRANONCE1_MAX 32  /* bytes */
#define PK_EXTRANONCE2_MAX 16  /* bytes */
#define PK_BRANCH_MAX 32       /* merkle branch length: 2^32 transactions */
#define PK_COINBASE_MAX 100000 /* bytes, the consensus limit for a coinbase's block space */
#define PK_VERSION_ROLL_MAX 0x1fffe000u /* BIP320 general-purpose bits */

typedef struct pk_pool_job {
    char id[PK_JOB_ID_MAX];
    uint8_t prevhash[32]; /* header byte order */
    uint8_t *coinb1, *coinb2;
    size_t coinb1_len, coinb2_len;
    uint8_t branch[PK_BRANCH_MAX][32];
    size_t branch_len;
    uint32_t version, nbits, ntime;
    int clean;
    /* Session state when the job arrived (set by the caller). */
    uint8_t extranonce1[PK_EXTRANONCE1_MAX];
    size_t extranonce1_len, extranonce2_size;
    double difficulty;
    uint32_t version_mask; /* 0: no version rolling */
    uint64_t session;      /* the Stratum session that sent it (its shares go only there) */
    int use_block_target;  /* solo: shares are blocks, the target is nbits's */
} pk_pool_job;

/* Parses mining.notify params.  Returns 0, or PK_EINVAL with a message in
 * err naming the field at fault; job is then left empty. */
PK_API int pk_pool_job_parse(pk_pool_job *job, const json_t *params, char *err, size_t errlen);
PK_API void pk_pool_job_free(pk_pool_job *job);
/* Deep copy; returns 0 or PK_ENOMEM. */
PK_API int pk_pool_job_copy(pk_pool_job *dst, const pk_pool_job *src);

/* The merkle root and the header of a share on job j, as a pool rebuilds
 * them: en2 is the full extranonce2 (j->extranonce2_size bytes), version
 * the header's whole version field. */
PK_API void pk_pool_job_root(const pk_pool_job *j, const uint8_t *en2, uint8_t root[32]);
PK_API void pk_pool_job_header(const pk_pool_job *j, const uint8_t *en2, uint32_t version, uint32_t ntime,
                               uint32_t nonce, uint8_t header[80]);

/* Templates of one job. */
typedef struct pk_pool_work {
    const pk_pool_job *job;
    uint64_t next;       /* next template number */
    uint64_t templates;  /* how many exist (UINT64_MAX: more than fit) */
    uint32_t variants;   /* versions per extranonce2 */
    uint8_t share_target[32], block_target[32];
    uint64_t cached_en2;
    int have_root;
    uint8_t root[32];
} pk_pool_work;

PK_API int pk_pool_work_init(pk_pool_work *w, const pk_pool_job *job);
/* Template number t: its header (nonce zero).  Returns 0 or PK_EAGAIN when
 * t is past the job's template space. */
PK_API int pk_pool_work_header(pk_pool_work *w, uint64_t t, uint8_t header[80]);
/* The next unused template; PK_EAGAIN when the job has no more. */
PK_API int pk_pool_work_next(pk_pool_work *w, uint8_t header[80], uint64_t *t);

/* Extranonce2 bytes and version of template t. */
PK_API void pk_pool_work_extranonce2(const pk_pool_work *w, uint64_t t, uint8_t *en2);
PK_API uint32_t pk_pool_work_version(const pk_pool_work *w, uint64_t t);

/* mining.submit fields for a share on template t: extranonce2, ntime,
 * nonce and version_bits as the hex strings Stratum uses. */
typedef struct pk_submit_fields {
    char extranonce2[2 * PK_EXTRANONCE2_MAX + 1];
    char ntime[9], nonce[9], version_bits[9];
} pk_submit_fields;
PK_API void pk_pool_work_submit_fields(const pk_pool_work *w, uint64_t t, uint32_t nonce,
                                       pk_submit_fields *out);

/* Stratum's prevhash hex: 8 words, each byte-reversed against the header.
 * Returns 0 or PK_EINVAL. */
PK_API int pk_stratum_prevhash_decode(const char *hex, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
#endif
