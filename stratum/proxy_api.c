/* The proxy's figures: its stats, every rig's, /status JSON and /metrics. */
#include <stdarg.h>
#include <stdlib.h>

#include "powkit/log.h"

#include "proxy_internal.h"

/* ---- figures ---- */

void pk_proxy_stats_get(pk_proxy *px, pk_proxy_stats *out)
{
    *out = px->st;
    out->rigs = px->nrigs;
    out->upstream_ready = px->up_ready;
    out->upstream_difficulty = px->up_diff;
    out->upstream[0] = 0;
    if (px->pools)
        pk_url_redact(pk_stratum_url(up_client(px)), out->upstream, sizeof out->upstream);
}

size_t pk_proxy_rigs_get(pk_proxy *px, pk_proxy_rig_stats *out, size_t max)
{
    size_t n = 0;
    double now = pk_now();
    for (rig *r = px->rigs; r && n < max; r = r->next, n++) {
        pk_proxy_rig_stats *s = &out[n];
        memset(s, 0, sizeof *s);
        s->id = r->id;
        snprintf(s->addr, sizeof s->addr, "%s", r->addr);
        snprintf(s->worker, sizeof s->worker, "%s", r->worker);
        s->difficulty = r->diff;
        s->hashrate = r->hashrate;
        s->accepted = r->accepted;
        s->rejected = r->rejected;
        s->stale = r->stale;
        s->duplicate = r->duplicate;
        s->low_difficulty = r->low_diff;
        s->forwarded = r->forwarded;
        s->upstream_rejected = r->up_rejected;
        s->last_share = r->last_share;
        s->connected_s = now - r->connected_at;
        s->version_mask = r->mask;
        if (px->have_en1) {
            uint8_t en1[PK_EXTRANONCE1_MAX + 4];
            size_t k = rig_en1(px, r, en1);
            hex_of(en1, k, s->extranonce1);
            s->extranonce2_size = (unsigned)rig_en2_size(px);
        }
    }
    return n;
}

char *pk_proxy_status_json(pk_proxy *px)
{
    pk_proxy_stats st;
    pk_proxy_stats_get(px, &st);
    json_t *rigs = json_array();
    size_t cap = px->nrigs ? px->nrigs : 1;
    pk_proxy_rig_stats *rs = malloc(cap * sizeof *rs);
    size_t n = rs ? pk_proxy_rigs_get(px, rs, cap) : 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(
            rigs, json_pack("{s:I, s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:s, s:i}", "id",
                            (json_int_t)rs[i].id, "addr", rs[i].addr, "worker", rs[i].worker, "difficulty",
                            rs[i].difficulty, "hashrate", rs[i].hashrate, "accepted", (json_int_t)rs[i].accepted,
                            "rejected", (json_int_t)rs[i].rejected, "stale", (json_int_t)rs[i].stale,
                            "duplicate", (json_int_t)rs[i].duplicate, "low_difficulty",
                            (json_int_t)rs[i].low_difficulty, "forwarded", (json_int_t)rs[i].forwarded,
                            "last_share", rs[i].last_share, "connected_s", rs[i].connected_s, "extranonce1",
                            rs[i].extranonce1, "extranonce2_size", (int)rs[i].extranonce2_size));
    }
    free(rs);
    json_t *root = json_pack(
        "{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s, s:b, s:f, s:i, s:i}, s:o}", "proxy", "rigs",
        (json_int_t)st.rigs, "connections", (json_int_t)st.connections, "refused", (json_int_t)st.refused,
        "accepted", (json_int_t)st.accepted, "rejected", (json_int_t)st.rejected, "stale", (json_int_t)st.stale,
        "forwarded", (json_int_t)st.forwarded, "upstream_accepted", (json_int_t)st.upstream_accepted,
        "upstream_rejected", (json_int_t)st.upstream_rejected, "hashrate", st.hashrate, "upstream", st.upstream,
        "upstream_ready", st.upstream_ready, "upstream_difficulty", st.upstream_difficulty, "prefix_bytes",
        (int)st.prefix_bytes, "rig_extranonce2_size", (int)st.rig_extranonce2_size, "rigs", rigs);
    char *s = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
    json_decref(root);
    return s;
}

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int failed;
} strbuf;

static void __attribute__((format(printf, 2, 3))) emit(strbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if (b->s && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? 2 * b->cap : 4096) + (size_t)k;
        char *n = realloc(b->s, cap);
        if (!n) {
            b->failed = 1;
            return;
        }
        b->s = n;
        b->cap = cap;
    }
}

char *pk_proxy_metrics(pk_proxy *px)
{
    pk_proxy_stats st;
    pk_proxy_stats_get(px, &st);
    strbuf sb = {0};
    strbuf *out = &sb;
#define EMIT(...) emit(out, __VA_ARGS__)
    EMIT("# HELP powkit_proxy_rigs Rigs connected.\n# TYPE powkit_proxy_rigs gauge\npowkit_proxy_rigs %zu\n", st.rigs);
    EMIT("# HELP powkit_proxy_hashrate Hash rate of all rigs from their shares (H/s).\n"
         "# TYPE powkit_proxy_hashrate gauge\npowkit_proxy_hashrate %.0f\n", st.hashrate);
    EMIT("# HELP powkit_proxy_shares_total Rigs' shares by verdict.\n# TYPE powkit_proxy_shares_total counter\n");
    EMIT("powkit_proxy_shares_total{result=\"accepted\"} %llu\n", (unsigned long long)st.accepted);
    EMIT("powkit_proxy_shares_total{result=\"rejected\"} %llu\n", (unsigned long long)st.rejected);
    EMIT("powkit_proxy_shares_total{result=\"stale\"} %llu\n", (unsigned long long)st.stale);
    EMIT("# HELP powkit_proxy_upstream_shares_total Shares sent to the pool by its verdict.\n"
         "# TYPE powkit_proxy_upstream_shares_total counter\n");
    EMIT("powkit_proxy_upstream_shares_total{result=\"accepted\"} %llu\n", (unsigned long long)st.upstream_accepted);
    EMIT("powkit_proxy_upstream_shares_total{result=\"rejected\"} %llu\n", (unsigned long long)st.upstream_rejected);
    EMIT("# HELP powkit_proxy_upstream_up 1 while the pool connection has work.\n"
         "# TYPE powkit_proxy_upstream_up gauge\npowkit_proxy_upstream_up %d\n", st.upstream_ready);
    EMIT("# HELP powkit_proxy_rig_hashrate A rig's hash rate from its shares (H/s).\n"
         "# TYPE powkit_proxy_rig_hashrate gauge\n");
    for (rig *r = px->rigs; r; r = r->next) {
        char w[64];
        pk_log_clean(r->worker, w, sizeof w);
        for (char *c = w; *c; c++)
            if (*c == '"' || *c == '\\')
                *c = '_';
        EMIT("powkit_proxy_rig_hashrate{rig=\"%llu\",addr=\"%s\",worker=\"%s\"} %.0f\n", (unsigned long long)r->id,
             r->addr, w, r->hashrate);
        EMIT("powkit_proxy_rig_shares_total{rig=\"%llu\",result=\"accepted\"} %llu\n", (unsigned long long)r->id,
             (unsigned long long)r->accepted);
        EMIT("powkit_proxy_rig_shares_total{rig=\"%llu\",result=\"rejected\"} %llu\n", (unsigned long long)r->id,
             (unsigned long long)r->rejected);
    }
#undef EMIT
    if (sb.failed) {
        free(sb.s);
        return NULL;
    }
    return sb.s;
}
