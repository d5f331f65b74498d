/* The proxy's share checks: every share rebuilt and hashed here before
 * anything goes upstream; the duplicate set. */
#include <stdlib.h>
#include <string.h>

#include "powkit/error.h"
#include "powkit/log.h"
#include "powkit/sha256.h"

#include "proxy_internal.h"

/* ---- the duplicate set: first 8 bytes of every share's hash since the
 * last clean job (the hash covers the rig's own extranonce, so one set
 * serves every rig). ---- */

void pk_px_dup_clear(pk_proxy *px)
{
    if (px->dup)
        memset(px->dup, 0, px->dup_cap * sizeof *px->dup);
    px->dup_count = 0;
}

/* 1 if seen before (and now remembered), 0 if new, -1 out of memory. */
static int dup_check(pk_proxy *px, const uint8_t hash[32])
{
    uint64_t k;
    memcpy(&k, hash, 8);
    if (k == 0)
        k = 1;
    if (px->dup_count * 2 >= px->dup_cap) {
        size_t cap = px->dup_cap ? 2 * px->dup_cap : 4096;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t)
            return -1;
        for (size_t i = 0; i < px->dup_cap; i++) {
            uint64_t v = px->dup[i];
            if (!v)
                continue;
            size_t j = (size_t)(v * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = v;
        }
        free(px->dup);
        px->dup = t;
        px->dup_cap = cap;
    }
    size_t j = (size_t)(k * 0x9e3779b97f4a7c15ull) & (px->dup_cap - 1);
    while (px->dup[j]) {
        if (px->dup[j] == k)
            return 1;
        j = (j + 1) & (px->dup_cap - 1);
    }
    px->dup[j] = k;
    px->dup_count++;
    return 0;
}

/* ---- share checks ---- */

void pk_px_rig_reject(rig *r, json_t *id, int code, const char *msg)
{
    r->rejected++;
    r->px->st.rejected++;
    if (code == E_STALE) {
        r->stale++;
        r->px->st.stale++;
    } else if (code == E_DUPLICATE) {
        r->duplicate++;
    } else if (code == E_LOW_DIFF) {
        r->low_diff++;
    }
    pk_log(PK_LOG_DEBUG, "proxy: rig %s (%s): share rejected: %s", r->addr, r->worker, msg);
    pk_px_reply_err(r, id, code, msg);
}

static void rig_accept(rig *r, json_t *id, double share_diff)
{
    r->accepted++;
    r->px->st.accepted++;
    r->win_shares++;
    r->win_diff += share_diff;
    r->last_share = unix_now();
    pk_px_reply_ok(r, id, json_true());
}

void pk_px_on_submit(rig *r, json_t *id, json_t *params)
{
    pk_proxy *px = r->px;
    if (!r->subscribed)
        return pk_px_rig_reject(r, id, E_NOT_SUBSCRIBED, "not subscribed");
    if (!r->authorized)
        return pk_px_rig_reject(r, id, E_UNAUTHORIZED, "unauthorized worker");
    const char *job_id = json_string_value(json_array_get(params, 1));
    const char *en2_hex = json_string_value(json_array_get(params, 2));
    const char *ntime_hex = json_string_value(json_array_get(params, 3));
    const char *nonce_hex = json_string_value(json_array_get(params, 4));
    json_t *vb = json_array_get(params, 5);
    if (!json_is_array(params) || !job_id || !en2_hex || !ntime_hex || !nonce_hex)
        return pk_px_rig_reject(r, id, E_OTHER, "malformed mining.submit");
    pk_work_slot *j = pk_work_find_id(&px->work, job_id);
    if (!j)
        return pk_px_rig_reject(r, id, E_STALE, "job not found");
    if (!j->live)
        return pk_px_rig_reject(r, id, E_STALE, "stale job");
    size_t en2n = rig_en2_size(px);
    uint8_t en2[PK_EXTRANONCE2_MAX];
    if (strlen(en2_hex) != 2 * en2n || pk_hex_decode(en2_hex, en2, en2n))
        return pk_px_rig_reject(r, id, E_OTHER, "extranonce2 of the wrong size");
    uint32_t ntime, nonce, vbits = 0;
    if (parse_hex32(ntime_hex, &ntime) || parse_hex32(nonce_hex, &nonce))
        return pk_px_rig_reject(r, id, E_OTHER, "ntime or nonce is not 8 hex digits");
    /* ntime: not before the job's, at most two hours after it (what
     * consensus allows a block over the network's time). */
    if (ntime < j->job.ntime || ntime > j->job.ntime + 7200)
        return pk_px_rig_reject(r, id, E_OTHER, "ntime out of range");
    if (vb && !json_is_null(vb)) {
        if (!json_is_string(vb) || parse_hex32(json_string_value(vb), &vbits))
            return pk_px_rig_reject(r, id, E_OTHER, "version bits are not 8 hex digits");
        if (vbits & ~r->mask)
            return pk_px_rig_reject(r, id, E_OTHER, "version bits outside the granted mask");
    }
    uint32_t version = (j->job.version & ~r->mask) | (vbits & r->mask);
    if (!vb || json_is_null(vb))
        version = j->job.version;

    /* Rebuild the share as the pool will: its full extranonce2 is the
     * rig's prefix and what the rig rolled. */
    uint8_t full[PK_EXTRANONCE2_MAX], header[80], hash[32];
    for (unsigned i = 0; i < px->prefix_bytes; i++)
        full[i] = (uint8_t)(r->slot >> (8 * (px->prefix_bytes - 1 - i)));
    memcpy(full + px->prefix_bytes, en2, en2n);
    pk_pool_job_header(&j->job, full, version, ntime, nonce, header);
    pk_sha256d(header, 80, hash);

    /* The target first: only shares that meet it are remembered, so a rig
     * spraying made-up shares cannot grow the duplicate set. */
    uint8_t rig_target[32];
    double d = r->diff < r->prev_diff ? r->diff : r->prev_diff;
    pk_difficulty_to_target(d, rig_target);
    if (!pk_hash_meets_target(hash, rig_target))
        return pk_px_rig_reject(r, id, E_LOW_DIFF, "low difficulty share");
    int seen = dup_check(px, hash);
    if (seen < 0)
        return pk_px_rig_reject(r, id, E_OTHER, "out of memory");
    if (seen)
        return pk_px_rig_reject(r, id, E_DUPLICATE, "duplicate share");
    double share_diff = d;
    if (!pk_hash_meets_target(hash, j->work.share_target))
        return rig_accept(r, id, share_diff);

    /* Upstream's difficulty met: it goes to the pool, and the pool's
     * answer goes back to this rig. */
    pk_stratum *up = up_client(px);
    if (!px->up_ready || j->job.session != pk_stratum_session(up))
        return pk_px_rig_reject(r, id, E_STALE, "the pool connection that sent this job is gone");
    pending *q = &px->pend[(px->pend_seq + 1) % PENDING_RING];
    if (q->seq)
        return pk_px_rig_reject(r, id, E_OTHER, "too many shares waiting for the pool");
    pk_submit_fields f;
    char en2full[2 * PK_EXTRANONCE2_MAX + 1];
    hex_of(full, px->up_en2_size, en2full);
    snprintf(f.extranonce2, sizeof f.extranonce2, "%s", en2full);
    snprintf(f.ntime, sizeof f.ntime, "%08x", ntime);
    snprintf(f.nonce, sizeof f.nonce, "%08x", nonce);
    /* The pool rebuilds version = (job & ~mask) | (bits & mask): a rig that
     * did not roll sends the job's own bits. */
    snprintf(f.version_bits, sizeof f.version_bits, "%08x", version & px->up_mask);
    uint64_t seq = ++px->pend_seq;
    const char *as = px->o.pass_workers && r->worker_idx >= 0 ? px->workers[r->worker_idx].name
                                                              : px->o.pools[px->cur].user;
    if (pk_stratum_submit_as(up, as, j->job.id, &f, seq) != PK_OK) {
        px->pend_seq--;
        return pk_px_rig_reject(r, id, E_STALE, "the pool connection is down");
    }
    q->seq = seq;
    q->slot = r->slot;
    q->rig_id = r->id;
    q->req_id = json_incref(id ? id : json_null());
    r->forwarded++;
    px->st.forwarded++;
    r->win_shares++;
    r->win_diff += share_diff;
    r->last_share = unix_now();
}
