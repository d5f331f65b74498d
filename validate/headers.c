/* Header chains: links, proof of work, the difficulty rule, median time
 * past.  Targets are 256-bit little-endian byte strings; the retarget is
 * exact integer arithmetic on 32-bit limbs, as Core's arith_uint256. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/kernel.h"
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "powkit/validate.h"

#define INTERVAL 2016

static int herr(pk_verror *e, pk_vcode code, const char *reason, int64_t height, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int herr(pk_verror *e, pk_vcode code, const char *reason, int64_t height, const char *fmt, ...)
{
    if (e) {
        e->code = code;
        e->reason = reason;
        e->height = height;
        e->offset = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

uint32_t pk_target_to_bits(const uint8_t t[32])
{
    int top = 31;
    while (top >= 0 && t[top] == 0)
        top--;
    if (top < 0)
        return 0;
    unsigned size = (unsigned)top + 1;
    uint32_t mant = 0;
    for (int i = 0; i < 3; i++) {
        int pos = (int)size - 1 - i;
        mant = mant << 8 | (pos >= 0 ? t[pos] : 0);
    }
    if (mant & 0x00800000u) { /* would read as negative: one more byte */
        mant >>= 8;
        size++;
    }
    return size << 24 | mant;
}

uint32_t pk_next_bits(uint32_t last_bits, int64_t first_time, int64_t last_time,
                      const pk_chain_params *p)
{
    if (p->no_retarget)
        return last_bits;
    int64_t span;
    if (__builtin_sub_overflow(last_time, first_time, &span)) /* extreme times: clamped below all the same */
        span = last_time < first_time ? INT64_MIN : INT64_MAX;
    if (span < p->timespan / 4)
        span = p->timespan / 4;
    if (span > p->timespan * 4)
        span = p->timespan * 4;
    uint8_t t[32];
    if (pk_bits_to_target(last_bits, t))
        return last_bits;
    /* target * span / timespan, in 32-bit limbs with a ninth for the carry. */
    uint32_t w[9] = {0};
    for (int i = 0; i < 8; i++)
        w[i] = (uint32_t)t[4 * i] | (uint32_t)t[4 * i + 1] << 8 | (uint32_t)t[4 * i + 2] << 16 |
               (uint32_t)t[4 * i + 3] << 24;
    uint64_t carry = 0;
    for (int i = 0; i < 9; i++) {
        uint64_t v = (uint64_t)w[i] * (uint64_t)span + carry;
        w[i] = (uint32_t)v;
        carry = v >> 32;
    }
    uint64_t rem = 0;
    for (int i = 8; i >= 0; i--) {
        uint64_t cur = rem << 32 | w[i];
        w[i] = (uint32_t)(cur / (uint64_t)p->timespan);
        rem = cur % (uint64_t)p->timespan;
    }
    uint8_t out[32];
    if (w[8]) {
        memcpy(out, p->pow_limit, 32);
    } else {
        for (int i = 0; i < 8; i++)
            for (int k = 0; k < 4; k++)
                out[4 * i + k] = (uint8_t)(w[i] >> (8 * k));
        for (int i = 31; i >= 0; i--) { /* cap at the limit */
            if (out[i] != p->pow_limit[i]) {
                if (out[i] > p->pow_limit[i])
                    memcpy(out, p->pow_limit, 32);
                break;
            }
        }
    }
    return pk_target_to_bits(out);
}

/* Checks header i against its own hash (computed in batches outside). */
static int check_pow_hashed(const uint8_t *hd, const uint8_t hash[32], const pk_chain_params *p,
                            pk_verror *e)
{
    uint8_t target[32], zero[32] = {0};
    uint32_t bits = pk_header_bits(hd);
    if (pk_bits_to_target(bits, target) || memcmp(target, zero, 32) == 0) {
        return pk_check_pow(hd, p, e); /* the one-header path words the error */
    }
    for (int i = 31; i >= 0; i--) {
        if (target[i] != p->pow_limit[i]) {
            if (target[i] > p->pow_limit[i])
                return pk_check_pow(hd, p, e);
            break;
        }
    }
    if (!pk_hash_meets_target(hash, target))
        return pk_check_pow(hd, p, e);
    return 0;
}

#define HASH_BATCH 4096

int pk_headers_verify(const uint8_t *h, size_t n, int64_t start, const pk_chain_params *p,
                      pk_headers_report *rep, pk_verror *e)
{
    pk_headers_opts o = {start, 0};
    return pk_headers_verify_opts(h, n, &o, p, rep, e);
}

int pk_headers_verify_opts(const uint8_t *h, size_t n, const pk_headers_opts *o, const pk_chain_params *p,
                           pk_headers_report *rep, pk_verror *e)
{
    int64_t start = o->start_height;
    memset(rep, 0, sizeof *rep);
    rep->first_undecided = -1;
    rep->count = n;
    double t0 = pk_now();
    uint8_t prev_hash[32];
    /* Every header's hash once, many at a time in SIMD lanes. */
    static _Thread_local uint8_t hashes[HASH_BATCH][32];
    size_t batch_start = 0, batch_n = 0;
    uint32_t limit_bits = pk_target_to_bits(p->pow_limit);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *hd = h + 80 * i;
        int64_t height = start + (int64_t)i;
        /* Link and difficulty rule first: any change to a header also moves
         * its hash, and the more specific fault is the useful one. */
        if (i > 0) {
            if (memcmp(hd + 4, prev_hash, 32) != 0) {
                rc = herr(e, PK_V_PREV_LINK, "bad-prevblk", height,
                          "header at height %lld does not commit to the one before it", (long long)height);
                break;
            }
            const uint8_t *prev = hd - 80;
            uint32_t bits = pk_header_bits(hd), pbits = pk_header_bits(prev);
            uint32_t want = pbits;
            int known = 1;
            if (!p->no_retarget && height % INTERVAL == 0) {
                /* The period's first block must be in the file. */
                int64_t first = height - INTERVAL;
                if (first >= start) {
                    want = pk_next_bits(pbits, pk_header_time(h + 80 * (size_t)(first - start)),
                                        pk_header_time(prev), p);
                    rep->retargets_checked++;
                } else {
                    known = 0;
                }
            } else if (p->min_difficulty && !p->no_retarget) {
                /* Testnet: a block 20 minutes late may use the limit; other
                 * blocks carry the last bits that were not the limit's. */
                if (pk_header_time(hd) > pk_header_time(prev) + 2 * p->spacing) {
                    want = limit_bits;
                } else {
                    /* Core walks back over blocks at the limit to a period's
                     * first block or one that is not at the limit; a walk
                     * that reaches the file's start without either goes on
                     * before it: only start_bits can say where it ends. */
                    int64_t k = (int64_t)i - 1;
                    while (k > 0 && (start + k) % INTERVAL != 0 && pk_header_bits(h + 80 * (size_t)k) == limit_bits)
                        k--;
                    want = pk_header_bits(h + 80 * (size_t)k);
                    if (k == 0 && start % INTERVAL != 0 && want == limit_bits) {
                        if (o->start_bits)
                            want = o->start_bits;
                        else
                            known = 0;
                    }
                }
            }
            if (p->no_retarget)
                want = pbits;
            if (!known) {
                if (rep->undecided++ == 0)
                    rep->first_undecided = height;
            }
            if (known && bits != want) {
                rc = herr(e, PK_V_RETARGET, "bad-diffbits", height,
                          "header at height %lld has bits %08x, the rule gives %08x", (long long)height, bits,
                          want);
                break;
            }
        }
        if (i >= batch_start + batch_n) {
            batch_start = i;
            batch_n = n - i < HASH_BATCH ? n - i : HASH_BATCH;
            pk_sha256d80_many(h + 80 * i, batch_n, (uint8_t *)hashes);
        }
        const uint8_t *hash = hashes[i - batch_start];
        if (check_pow_hashed(hd, hash, p, e)) {
            if (e)
                e->height = height;
            rc = -1;
            break;
        }
        if (i >= 11) {
            uint32_t t[11];
            for (int k = 0; k < 11; k++) { /* insertion sort: 11 values */
                uint32_t v = pk_header_time(hd - 80 * (size_t)(k + 1));
                int j = k;
                for (; j > 0 && t[j - 1] > v; j--)
                    t[j] = t[j - 1];
                t[j] = v;
            }
            if (pk_header_time(hd) <= t[5]) {
                rc = herr(e, PK_V_TIME, "time-too-old", height,
                          "header at height %lld: time %u is not above the median %u of the 11 before",
                          (long long)height, pk_header_time(hd), t[5]);
                break;
            }
            rep->mtp_checked++;
        }
        memcpy(prev_hash, hash, 32);
        rep->verified++;
    }
    rep->seconds = pk_now() - t0;
    return rc;
}

int pk_retargets_verify(const uint8_t *rec, size_t n, const pk_chain_params *p, uint64_t *checked,
                        pk_verror *e)
{
    *checked = 0;
    for (size_t i = 0; i + 2 < n + 0 && i + 2 <= n - 1; i++) {
        const uint8_t *a = rec + 84 * i, *b = rec + 84 * (i + 1), *c = rec + 84 * (i + 2);
        uint32_t ha = (uint32_t)a[0] | (uint32_t)a[1] << 8 | (uint32_t)a[2] << 16 | (uint32_t)a[3] << 24;
        uint32_t hb = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        uint32_t hc = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
        /* A period: its first block a, last b, and the next period's first c. */
        if (ha % INTERVAL != 0 || hb != ha + INTERVAL - 1 || hc != hb + 1)
            continue;
        uint8_t hash_b[32];
        pk_header_hash(b + 4, hash_b);
        if (memcmp(c + 4 + 4, hash_b, 32) != 0)
            return herr(e, PK_V_PREV_LINK, "bad-prevblk", hc, "height %u does not commit to %u", hc, hb);
        uint32_t want = pk_next_bits(pk_header_bits(b + 4), pk_header_time(a + 4), pk_header_time(b + 4), p);
        if (pk_header_bits(c + 4) != want)
            return herr(e, PK_V_RETARGET, "bad-diffbits", hc, "height %u has bits %08x, the rule gives %08x", hc,
                        pk_header_bits(c + 4), want);
        if (pk_check_pow(c + 4, p, e)) {
            if (e)
                e->height = hc;
            return -1;
        }
        (*checked)++;
    }
    return 0;
}
