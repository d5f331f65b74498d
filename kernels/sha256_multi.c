/* Double SHA-256 of many messages at once (txids, wtxids, merkle nodes).
 *
 * Each SIMD lane (or interleaved SHA-NI stream) works through its own
 * message; when one finishes, its digest goes back in as a one-block job
 * for the second hash and the next message takes the lane, so lanes stay
 * busy however unequal the lengths.  The compression is chosen once, like
 * the general SHA-256: the widest path the CPU has, self-tested, honouring
 * POWKIT_DISABLE. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "powkit/cpu.h"
#include "powkit/sha256.h"
#include "../base/arch.h"
#include "sha256_internal.h"

#define MAX_LANES PK_HYBRID_LANES

static const pk_multi_path g_paths[] = {
#if PK_X86_SIMD
    {"avx512+shani", PK_CPU_AVX512 | PK_CPU_SHA, PK_HYBRID_LANES, NULL, pk_sha256_compress_hybrid_soa,
     pk_sha256d64_avx512, pk_sha256d80_avx512},
    {"avx512", PK_CPU_AVX512, 16, pk_sha256_compress_avx512_multi, NULL, pk_sha256d64_avx512, pk_sha256d80_avx512},
    {"shani", PK_CPU_SHA, 4, pk_sha256_compress_shani_multi, NULL, pk_sha256d64_shani, pk_sha256d80_shani},
    {"avx2", PK_CPU_AVX2, 8, pk_sha256_compress_avx2_multi, NULL, pk_sha256d64_avx2, pk_sha256d80_avx2},
#endif
#if PK_ARM_SIMD
    {"armsha", PK_CPU_ARM_SHA2, 4, pk_sha256_compress_armsha_multi, NULL, pk_sha256d64_armsha, pk_sha256d80_armsha},
    {"neon", PK_CPU_NEON, 4, pk_sha256_compress_neon_multi, NULL, pk_sha256d64_neon, pk_sha256d80_neon},
#endif
    {"ref", 0, 1, pk_sha256_compress_ref_multi, NULL, NULL, NULL},
};
#define N_PATHS (sizeof g_paths / sizeof g_paths[0])
/* Two picks: messages of any length (txids, signature hashes), where a
 * wide path's lanes can run part empty, and the fixed 64- and 80-byte
 * double hashes (merkle nodes, headers), where they never do. */
static const pk_multi_path *g_pick = &g_paths[N_PATHS - 1];       /* ref */
static const pk_multi_path *g_pick_fixed = &g_paths[N_PATHS - 1]; /* ref */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

const pk_multi_path *pk_sha256_multi_paths(size_t *n)
{
    *n = sizeof g_paths / sizeof g_paths[0];
    return g_paths;
}

/* A gathered message's reader: where the next 64-byte block starts. */
typedef struct gather_lane {
    size_t job, blk, nblk, len; /* len: the message's bytes after the prefix */
    size_t seg, off;            /* the next unread byte: segment and offset in it */
    int second;
    /* The whole blocks in place that follow the last one gather_block
     * returned in place, taken by the lanes' loop without a call (most of
     * a long message's blocks). */
    const uint8_t *run;
    size_t nrun;
} gather_lane;

/* Block k of lane x's message (padded at its end), in place when the
 * segment holds all 64 bytes, else gathered into scratch. */
static const uint8_t *gather_block(gather_lane *x, const pk_sha256_gather *m, uint8_t scratch[64])
{
    size_t start = 64 * x->blk;
    while (x->seg < m->nsegs && x->off == m->segs[x->seg].n) {
        x->seg++;
        x->off = 0;
    }
    if (start + 64 <= x->len && x->seg < m->nsegs && m->segs[x->seg].n - x->off >= 64) {
        const pk_sha256_seg *g = &m->segs[x->seg];
        const uint8_t *b = g->p + x->off;
        x->off += 64;
        size_t in_seg = (g->n - x->off) / 64, in_msg = (x->len - start - 64) / 64;
        x->nrun = in_seg < in_msg ? in_seg : in_msg;
        x->run = b + 64;
        x->off += 64 * x->nrun;
        return b;
    }
    size_t have = 0;
    while (have < 64 && x->seg < m->nsegs) {
        const pk_sha256_seg *g = &m->segs[x->seg];
        size_t k = g->n - x->off < 64 - have ? g->n - x->off : 64 - have;
        memcpy(scratch + have, g->p + x->off, k);
        have += k;
        x->off += k;
        if (x->off == g->n) {
            x->seg++;
            x->off = 0;
        }
    }
    if (have < 64) {
        memset(scratch + have, 0, 64 - have);
        if (start + have == x->len)
            scratch[have] = 0x80; /* the message ended in this block */
    }
    if (x->blk == x->nblk - 1) {
        uint64_t bits = ((uint64_t)x->len + m->prefix) * 8;
        for (int i = 0; i < 8; i++)
            scratch[63 - i] = (uint8_t)(bits >> (8 * i));
    }
    return scratch;
}

static void gather_start(gather_lane *x, size_t job, const pk_sha256_gather *m)
{
    size_t len = 0;
    for (size_t i = 0; i < m->nsegs; i++)
        len += m->segs[i].n;
    *x = (gather_lane){job, 0, (len + 8) / 64 + 1, len, 0, 0, 0, NULL, 0};
}

/* The lanes' states, lane by lane or word-major as the path takes them. */
typedef struct lane_states {
    uint32_t soa[8][PK_SOA_COLS] __attribute__((aligned(64)));
    uint32_t aos[MAX_LANES][8];
    int word_major;
} lane_states;

static void state_set(lane_states *s, size_t l, const uint32_t v[8])
{
    if (!s->word_major) {
        memcpy(s->aos[l], v, 32);
        return;
    }
    for (int j = 0; j < 8; j++)
        s->soa[j][l] = v[j];
}

static void state_get(const lane_states *s, size_t l, uint32_t v[8])
{
    if (!s->word_major) {
        memcpy(v, s->aos[l], 32);
        return;
    }
    for (int j = 0; j < 8; j++)
        v[j] = s->soa[j][l];
}

/* The lanes' loop: each message from its own state after its prefix; with
 * dbl, its digest is hashed once more (from the standard IV) in the lane
 * it used, before the next message takes the lane. */
static void gather_core(const pk_multi_path *p, const pk_sha256_gather *msgs, size_t n, int dbl, uint8_t (*out)[32])
{
    size_t L = p->lanes < MAX_LANES ? p->lanes : MAX_LANES;
    gather_lane ln[MAX_LANES];
    lane_states st;
    st.word_major = p->soa != NULL;
    if (st.word_major) /* a vector reads every column, the free ones too */
        memset(st.soa, 0, sizeof st.soa);
    const uint8_t *blk[MAX_LANES];
    uint8_t scratch[MAX_LANES][64] __attribute__((aligned(64))); /* a vector loads each whole */
    size_t next = 0, active = 0;

    while (active < L && next < n) {
        gather_start(&ln[active], next, &msgs[next]);
        state_set(&st, active, msgs[next].state);
        active++, next++;
    }
    while (active > 0) {
        for (size_t l = 0; l < active; l++) {
            gather_lane *x = &ln[l];
            if (x->nrun) {
                blk[l] = x->run;
                x->run += 64;
                x->nrun--;
            } else {
                blk[l] = x->second ? scratch[l] : gather_block(x, &msgs[x->job], scratch[l]);
            }
        }
        if (st.word_major)
            p->soa(st.soa, blk, active);
        else
            p->fn(st.aos, blk, active);
        for (size_t l = 0; l < active;) {
            gather_lane *x = &ln[l];
            if (++x->blk < x->nblk) {
                l++;
                continue;
            }
            uint32_t h[8];
            state_get(&st, l, h);
            if (dbl && !x->second) {
                /* First hash done: its digest is one padded block. */
                for (int i = 0; i < 8; i++)
                    pk_store_be32(scratch[l] + 4 * i, h[i]);
                memset(scratch[l] + 32, 0, 32);
                scratch[l][32] = 0x80;
                scratch[l][62] = 0x01; /* 256 bits */
                state_set(&st, l, pk_sha256_iv);
                x->second = 1;
                x->blk = 0;
                x->nblk = 1;
                l++;
                continue;
            }
            for (int i = 0; i < 8; i++)
                pk_store_be32(out[x->job] + 4 * i, h[i]);
            if (next < n) {
                gather_start(x, next, &msgs[next]);
                state_set(&st, l, msgs[next].state);
                next++;
                l++;
            } else {
                /* Close the gap with the last active lane, then look at it. */
                active--;
                ln[l] = ln[active];
                state_get(&st, active, h);
                state_set(&st, l, h);
                memcpy(scratch[l], scratch[active], 64);
            }
        }
    }
}

void pk_sha256d_many_gather_using(const pk_multi_path *p, const pk_sha256_gather *msgs, size_t n,
                                  uint8_t (*out)[32])
{
    gather_core(p, msgs, n, 1, out);
}

/* Whole messages after one shared state, in groups of gathered ones. */
static void many_core(const pk_multi_path *p, const uint32_t iv[8], uint64_t prefix, int dbl,
                      const uint8_t *const *msgs, const size_t *lens, size_t n, uint8_t (*out)[32])
{
    enum { GROUP = 128 };
    pk_sha256_gather g[GROUP];
    pk_sha256_seg seg[GROUP];
    for (size_t done = 0; done < n; done += GROUP) {
        size_t k = n - done < GROUP ? n - done : GROUP;
        for (size_t i = 0; i < k; i++) {
            seg[i] = (pk_sha256_seg){msgs[done + i], lens[done + i]};
            memcpy(g[i].state, iv, 32);
            g[i].prefix = prefix;
            g[i].segs = &seg[i];
            g[i].nsegs = 1;
        }
        gather_core(p, g, k, dbl, out + done);
    }
}

void pk_sha256d_many_using(const pk_multi_path *p, const uint8_t *const *msgs, const size_t *lens,
                           size_t n, uint8_t (*out)[32])
{
    many_core(p, pk_sha256_iv, 0, 1, msgs, lens, n, out);
}

static int multi_selftest(const pk_multi_path *p)
{
    uint8_t data[300], a[5][32], b[5][32];
    for (int i = 0; i < 300; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    const uint8_t *msgs[5] = {data, data + 1, data + 2, data, data + 100};
    const size_t lens[5] = {0, 55, 64, 300, 119};
    for (int i = 0; i < 5; i++)
        pk_sha256d(msgs[i], lens[i], a[i]);
    pk_sha256d_many_using(p, msgs, lens, 5, b);
    if (memcmp(a, b, sizeof a) != 0)
        return 0;
    /* More messages than the widest path has lanes, of unequal lengths:
     * every lane full, then lanes refilled and emptying (a path may hash
     * a few lanes otherwise than many). */
    enum { MANY = MAX_LANES + 9 };
    const uint8_t *mm[MANY];
    size_t ml[MANY];
    uint8_t ma[MANY][32], mb[MANY][32];
    for (size_t i = 0; i < MANY; i++) {
        mm[i] = data + i;
        ml[i] = (i * 37) % (300 - MANY);
        pk_sha256d(mm[i], ml[i], ma[i]);
    }
    pk_sha256d_many_using(p, mm, ml, MANY, mb);
    if (memcmp(ma, mb, sizeof ma) != 0)
        return 0;
    /* Single hashes after a shared 64-byte prefix (a tagged hash). */
    pk_sha256_ctx c;
    pk_sha256_init(&c);
    pk_sha256_update(&c, data + 200, 64);
    for (int i = 0; i < 5; i++) {
        pk_sha256_ctx d = c;
        pk_sha256_update(&d, msgs[i], lens[i]);
        pk_sha256_final(&d, a[i]);
    }
    many_core(p, c.state, 64, 0, msgs, lens, 5, b);
    if (memcmp(a, b, sizeof a) != 0)
        return 0;
    /* The fixed-length paths on whole batches and a tail. */
    enum { N = 2 * 16 + 3 };
    uint8_t in[80 * N], got[32 * N];
    uint8_t want[32];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 13 + 5);
    for (size_t len = 64; len <= 80; len += 16) {
        pk_sha256d_fixed_many_using(p, in, len, N, got);
        for (size_t i = 0; i < N; i++) {
            pk_sha256d(in + len * i, len, want);
            if (memcmp(want, got + 32 * i, 32) != 0)
                return 0;
        }
    }
    return 1;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Calibration workloads, a fraction of a millisecond each on a fast path,
 * timed path after path in CAL_ROUNDS alternating rounds (a moment of
 * noise then falls on one round of each path, not on all of one path's):
 * each path's best. */
enum { CAL_MSGS = 48, CAL_LEN = 4096, CAL_NODES = 256, CAL_ROUNDS = 5 };

static double time_var(const pk_multi_path *p, const uint8_t *data)
{
    /* Unequal lengths, as a block's transactions and inputs' messages are;
     * more of them than the widest path has lanes. */
    const uint8_t *msgs[CAL_MSGS];
    size_t lens[CAL_MSGS];
    uint8_t out[CAL_MSGS][32];
    for (size_t i = 0; i < CAL_MSGS; i++) {
        msgs[i] = data + i;
        lens[i] = 150 + (i * 1531) % (CAL_LEN - 200);
    }
    double t0 = seconds();
    pk_sha256d_many_using(p, msgs, lens, CAL_MSGS, out);
    return seconds() - t0;
}

static double time_fixed(const pk_multi_path *p, const uint8_t *data)
{
    static __thread uint8_t out[CAL_NODES * 32];
    double t0 = seconds();
    pk_sha256d_fixed_many_using(p, data, 64, CAL_NODES, out);
    return seconds() - t0;
}

/* A path "a+b" is off when it, a or b is named. */
static int path_disabled(const char *list, const char *name)
{
    if (pk_name_in_list(list, name))
        return 1;
    const char *plus = strchr(name, '+');
    if (!plus)
        return 0;
    char first[32];
    size_t k = (size_t)(plus - name) < sizeof first - 1 ? (size_t)(plus - name) : sizeof first - 1;
    memcpy(first, name, k);
    first[k] = 0;
    return pk_name_in_list(list, first) || path_disabled(list, plus + 1);
}

/* Every path this CPU has that passes its self-test (and is not
 * disabled) is timed on both workloads; each pick is the fastest, the
 * wider path on a near tie (within 5%).  The widest is not always the
 * fastest: on some CPUs two SHA-NI streams outrun sixteen AVX-512 lanes
 * on long messages, while the lanes win on 64-byte nodes. */
static void choose(void)
{
    unsigned cpu = pk_cpu_features();
    const char *disable = getenv("POWKIT_DISABLE");
    const pk_multi_path *ok[N_PATHS];
    double tv[N_PATHS], tf[N_PATHS];
    size_t n = 0;
    for (size_t i = 0; i < N_PATHS; i++) {
        const pk_multi_path *p = &g_paths[i];
        if ((p->cpu & cpu) != p->cpu || (i + 1 < N_PATHS && path_disabled(disable, p->name)) ||
            !multi_selftest(p))
            continue;
        tv[n] = tf[n] = 1e9;
        ok[n++] = p;
    }
    if (n == 0)
        return; /* not even ref's self-test passed: ref stays, as the oracle */
    g_pick = g_pick_fixed = ok[0];
    /* The portable path is timed only when it is the only one: a
     * compression in plain C is several times any SIMD path's, and its
     * runs were most of the calibration's time. */
    if (n > 1 && ok[n - 1] == &g_paths[N_PATHS - 1])
        n--;
    if (n == 1)
        return;
    uint8_t *data = malloc(CAL_LEN + CAL_MSGS + CAL_NODES * 64);
    if (!data)
        return; /* no room to time: the widest that works */
    for (size_t k = 0; k < CAL_LEN + CAL_MSGS + CAL_NODES * 64; k++)
        data[k] = (uint8_t)(k * 7 + 1);
    for (int r = 0; r < CAL_ROUNDS; r++)
        for (size_t i = 0; i < n; i++) {
            double v = time_var(ok[i], data), f = time_fixed(ok[i], data);
            tv[i] = v < tv[i] ? v : tv[i];
            tf[i] = f < tf[i] ? f : tf[i];
        }
    double best_var = tv[0], best_fixed = tf[0];
    for (size_t i = 1; i < n; i++) {
        if (tv[i] < best_var * 0.95) {
            best_var = tv[i];
            g_pick = ok[i];
        }
        if (tf[i] < best_fixed * 0.95) {
            best_fixed = tf[i];
            g_pick_fixed = ok[i];
        }
    }
    free(data);
}

const char *pk_sha256_multi_implementation(void)
{
    pthread_once(&g_once, choose);
    return g_pick->name;
}

const char *pk_sha256_multi_fixed_implementation(void)
{
    pthread_once(&g_once, choose);
    return g_pick_fixed->name;
}

void pk_sha256d_many(const uint8_t *const *msgs, const size_t *lens, size_t n, uint8_t (*out)[32])
{
    pthread_once(&g_once, choose);
    pk_sha256d_many_using(g_pick, msgs, lens, n, out);
}

void pk_sha256_many_from(const uint32_t state[8], uint64_t prefix_len, const uint8_t *const *msgs,
                         const size_t *lens, size_t n, uint8_t (*out)[32])
{
    pthread_once(&g_once, choose);
    many_core(g_pick, state, prefix_len, 0, msgs, lens, n, out);
}

void pk_sha256d_fixed_many_using(const pk_multi_path *p, const uint8_t *in, size_t len, size_t n, uint8_t *out)
{
    pk_d64_fn own = len == 64 ? p->d64 : len == 80 ? p->d80 : NULL;
    size_t done = own ? own(out, in, n) : 0;
    enum { CHUNK = 256 };
    const uint8_t *msgs[CHUNK];
    size_t lens[CHUNK];
    for (size_t i = 0; i < CHUNK; i++)
        lens[i] = len;
    for (; done < n; done += CHUNK) {
        size_t k = n - done < CHUNK ? n - done : CHUNK;
        for (size_t i = 0; i < k; i++)
            msgs[i] = in + len * (done + i);
        pk_sha256d_many_using(p, msgs, lens, k, (uint8_t(*)[32])(out + 32 * done));
    }
}

void pk_sha256d64_many(const uint8_t *in, size_t n, uint8_t *out)
{
    pthread_once(&g_once, choose);
    pk_sha256d_fixed_many_using(g_pick_fixed, in, 64, n, out);
}

void pk_sha256d80_many(const uint8_t *in, size_t n, uint8_t *out)
{
    pthread_once(&g_once, choose);
    pk_sha256d_fixed_many_using(g_pick_fixed, in, 80, n, out);
}

void pk_sha256d_many_gather(const pk_sha256_gather *msgs, size_t n, uint8_t (*out)[32])
{
    pthread_once(&g_once, choose);
    pk_sha256d_many_gather_using(g_pick, msgs, n, out);
}
