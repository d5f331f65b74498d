/* Pool work: Stratum jobs to unique header templates, and back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/error.h"
#include "powkit/kernel.h"
#include "powkit/poolwork.h"
#include "powkit/sha256.h"
#include "powkit/util.h"

static int fail(char *err, size_t len, const char *what)
{
    if (err && len)
        snprintf(err, len, "%s", what);
    return PK_EINVAL;
}

static int hex_u32(const json_t *v, uint32_t *out)
{
    uint8_t b[4];
    if (!json_is_string(v) || pk_hex_decode(json_string_value(v), b, 4))
        return -1;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

static int hex_alloc(const json_t *v, uint8_t **out, size_t *len)
{
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    if (n % 2 || n / 2 > PK_COINBASE_MAX)
        return -1;
    *out = malloc(n / 2 + 1);
    if (!*out)
        return -1;
    if (pk_hex_decode(json_string_value(v), *out, n / 2)) {
        free(*out);
        *out = NULL;
        return -1;
    }
    *len = n / 2;
    return 0;
}

int pk_stratum_prevhash_decode(const char *hex, uint8_t out[32])
{
    uint8_t raw[32];
    if (pk_hex_decode(hex, raw, 32))
        return PK_EINVAL;
    for (int w = 0; w < 8; w++)
        for (int i = 0; i < 4; i++)
            out[4 * w + i] = raw[4 * w + 3 - i];
    return PK_OK;
}

void pk_pool_job_free(pk_pool_job *job)
{
    free(job->coinb1);
    free(job->coinb2);
    job->coinb1 = job->coinb2 = NULL;
    job->coinb1_len = job->coinb2_len = 0;
}

int pk_pool_job_parse(pk_pool_job *job, const json_t *p, char *err, size_t errlen)
{
    memset(job, 0, sizeof *job);
    if (!json_is_array(p) || json_array_size(p) < 9)
        return fail(err, errlen, "mining.notify: params is not an array of 9 fields");
    const json_t *id = json_array_get(p, 0);
    if (!json_is_string(id) || json_string_length(id) == 0 ||
        json_string_length(id) >= PK_JOB_ID_MAX)
        return fail(err, errlen, "mining.notify: job_id is not a string of 1 to 63 characters");
    memcpy(job->id, json_string_value(id), json_string_length(id) + 1);
    const json_t *ph = json_array_get(p, 1);
    if (!json_is_string(ph) || pk_stratum_prevhash_decode(json_string_value(ph), job->prevhash))
        return fail(err, errlen, "mining.notify: prevhash is not 64 hex digits");
    if (hex_alloc(json_array_get(p, 2), &job->coinb1, &job->coinb1_len))
        return fail(err, errlen, "mining.notify: coinb1 is not hex (or too long)");
    if (hex_alloc(json_array_get(p, 3), &job->coinb2, &job->coinb2_len)) {
        pk_pool_job_free(job);
        return fail(err, errlen, "mining.notify: coinb2 is not hex (or too long)");
    }
    const json_t *br = json_array_get(p, 4);
    if (!json_is_array(br) || json_array_size(br) > PK_BRANCH_MAX) {
        pk_pool_job_free(job);
        return fail(err, errlen, "mining.notify: merkle_branch is not an array of at most 32 hashes");
    }
    for (size_t i = 0; i < json_array_size(br); i++) {
        const json_t *h = json_array_get(br, i);
        if (!json_is_string(h) || pk_hex_decode(json_string_value(h), job->branch[i], 32)) {
            pk_pool_job_free(job);
            return fail(err, errlen, "mining.notify: a merkle_branch entry is not 64 hex digits");
        }
    }
    job->branch_len = json_array_size(br);
    if (hex_u32(json_array_get(p, 5), &job->version) || hex_u32(json_array_get(p, 6), &job->nbits) ||
        hex_u32(json_array_get(p, 7), &job->ntime)) {
        pk_pool_job_free(job);
        return fail(err, errlen, "mining.notify: version, nbits or ntime is not 8 hex digits");
    }
    const json_t *clean = json_array_get(p, 8);
    if (!json_is_boolean(clean)) {
        pk_pool_job_free(job);
        return fail(err, errlen, "mining.notify: clean_jobs is not a boolean");
    }
    job->clean = json_is_true(clean);
    return PK_OK;
}

int pk_pool_job_copy(pk_pool_job *dst, const pk_pool_job *src)
{
    *dst = *src;
    dst->coinb1 = malloc(src->coinb1_len + 1);
    dst->coinb2 = malloc(src->coinb2_len + 1);
    if (!dst->coinb1 || !dst->coinb2) {
        pk_pool_job_free(dst);
        return PK_ENOMEM;
    }
    memcpy(dst->coinb1, src->coinb1, src->coinb1_len);
    memcpy(dst->coinb2, src->coinb2, src->coinb2_len);
    return PK_OK;
}

static uint32_t popcount32(uint32_t x) { return (uint32_t)__builtin_popcount(x); }

/* Spread the low bits of v over the set bits of mask (a software pdep). */
static uint32_t deposit(uint32_t v, uint32_t mask)
{
    uint32_t out = 0;
    for (uint32_t bit = 1; mask; bit <<= 1) {
        uint32_t low = mask & -mask;
        if (v & bit)
            out |= low;
        mask &= mask - 1;
    }
    return out;
}

int pk_pool_work_init(pk_pool_work *w, const pk_pool_job *job)
{
    memset(w, 0, sizeof *w);
    if (job->extranonce2_size > PK_EXTRANONCE2_MAX || job->extranonce1_len > PK_EXTRANONCE1_MAX)
        return PK_EINVAL;
    w->job = job;
    uint32_t mask = job->version_mask & PK_VERSION_ROLL_MAX;
    w->variants = (uint32_t)1 << popcount32(mask);
    uint64_t en2_space = job->extranonce2_size >= 8 ? UINT64_MAX
                                                    : (uint64_t)1 << (8 * job->extranonce2_size);
    if (en2_space != UINT64_MAX && en2_space <= UINT64_MAX / w->variants)
        w->templates = en2_space * w->variants;
    else
        w->templates = UINT64_MAX;
    pk_difficulty_to_target(job->difficulty, w->share_target);
    if (pk_bits_to_target(job->nbits, w->block_target))
        memset(w->block_target, 0, 32);
    if (job->use_block_target)
        memcpy(w->share_target, w->block_target, 32);
    return PK_OK;
}

void pk_pool_work_extranonce2(const pk_pool_work *w, uint64_t t, uint8_t *en2)
{
    uint64_t n = t / w->variants;
    memset(en2, 0, w->job->extranonce2_size);
    for (size_t i = 0; i < w->job->extranonce2_size && i < 8; i++)
        en2[i] = (uint8_t)(n >> (8 * i));
}

uint32_t pk_pool_work_version(const pk_pool_work *w, uint64_t t)
{
    uint32_t mask = w->job->version_mask & PK_VERSION_ROLL_MAX;
    return (w->job->version & ~mask) | deposit((uint32_t)(t % w->variants), mask);
}

void pk_pool_job_root(const pk_pool_job *j, const uint8_t *en2, uint8_t root[32])
{
    pk_sha256_ctx ctx;
    uint8_t h[32], pair[64];
    pk_sha256_init(&ctx);
    pk_sha256_update(&ctx, j->coinb1, j->coinb1_len);
    pk_sha256_update(&ctx, j->extranonce1, j->extranonce1_len);
    pk_sha256_update(&ctx, en2, j->extranonce2_size);
    pk_sha256_update(&ctx, j->coinb2, j->coinb2_len);
    pk_sha256_final(&ctx, h);
    pk_sha256(h, 32, h);
    for (size_t i = 0; i < j->branch_len; i++) {
        memcpy(pair, h, 32);
        memcpy(pair + 32, j->branch[i], 32);
        pk_sha256d(pair, 64, h);
    }
    memcpy(root, h, 32);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void header_of(const pk_pool_job *j, const uint8_t root[32], uint32_t version, uint32_t ntime,
                      uint32_t nonce, uint8_t header[80])
{
    put_le32(header, version);
    memcpy(header + 4, j->prevhash, 32);
    memcpy(header + 36, root, 32);
    put_le32(header + 68, ntime);
    put_le32(header + 72, j->nbits);
    put_le32(header + 76, nonce);
}

void pk_pool_job_header(const pk_pool_job *j, const uint8_t *en2, uint32_t version, uint32_t ntime, uint32_t nonce,
                        uint8_t header[80])
{
    uint8_t root[32];
    pk_pool_job_root(j, en2, root);
    header_of(j, root, version, ntime, nonce, header);
}

int pk_pool_work_header(pk_pool_work *w, uint64_t t, uint8_t header[80])
{
    if (w->templates != UINT64_MAX && t >= w->templates)
        return PK_EAGAIN;
    uint64_t en2 = t / w->variants;
    /* One coinbase hash per extranonce2: the version variants share it. */
    if (!w->have_root || w->cached_en2 != en2) {
        uint8_t en2b[PK_EXTRANONCE2_MAX];
        pk_pool_work_extranonce2(w, t, en2b);
        pk_pool_job_root(w->job, en2b, w->root);
        w->cached_en2 = en2;
        w->have_root = 1;
    }
    header_of(w->job, w->root, pk_pool_work_version(w, t), w->job->ntime, 0, header);
    return PK_OK;
}

int pk_pool_work_next(pk_pool_work *w, uint8_t header[80], uint64_t *t)
{
    int rc = pk_pool_work_header(w, w->next, header);
    if (rc)
        return rc;
    *t = w->next++;
    return PK_OK;
}

void pk_pool_work_submit_fields(const pk_pool_work *w, uint64_t t, uint32_t nonce,
                                pk_submit_fields *out)
{
    uint8_t en2[PK_EXTRANONCE2_MAX];
    pk_pool_work_extranonce2(w, t, en2);
    pk_hex_encode(en2, w->job->extranonce2_size, out->extranonce2);
    snprintf(out->ntime, sizeof out->ntime, "%08x", w->job->ntime);
    snprintf(out->nonce, sizeof out->nonce, "%08x", nonce);
    uint32_t mask = w->job->version_mask & PK_VERSION_ROLL_MAX;
    snprintf(out->version_bits, sizeof out->version_bits, "%08x", pk_pool_work_version(w, t) & mask);
}
