/* BIP340 batch verification (see batch.h), written from BIP340's "Batch
 * Verification" section: the weights, the lifts of every R and P, the
 * challenges, the multi-scalar multiplication by Pippenger's buckets. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/arch.h"
#include "batch.h"
#include "powkit/sha256.h"
#include "scalar.h"

static const uint8_t G_X[32] = {0x79, 0xBE, 0x66, 0x7E, 0xF9, 0xDC, 0xBB, 0xAC, 0x55, 0xA0, 0x62,
                                0x95, 0xCE, 0x87, 0x0B, 0x07, 0x02, 0x9B, 0xFC, 0xDB, 0x2D, 0xCE,
                                0x28, 0xD9, 0x59, 0xF2, 0x81, 0x5B, 0x16, 0xF8, 0x17, 0x98};
static const uint8_t G_Y[32] = {0x48, 0x3A, 0xDA, 0x77, 0x26, 0xA3, 0xC4, 0x65, 0x5D, 0xA4, 0xFB,
                                0xFC, 0x0E, 0x11, 0x08, 0xA8, 0xFD, 0x17, 0xB4, 0x48, 0xA6, 0x85,
                                0x54, 0x19, 0x9C, 0x47, 0xD0, 0x8F, 0xFB, 0x10, 0xD4, 0xB8};
static const uint8_t BETA[32] = {0x7a, 0xe9, 0x6a, 0x2b, 0x65, 0x7c, 0x07, 0x10, 0x6e, 0x64, 0x47,
                                 0x9e, 0xac, 0x34, 0x34, 0xe9, 0x9c, 0xf0, 0x49, 0x75, 0x12, 0xf5,
                                 0x89, 0x95, 0xc1, 0x39, 0x6c, 0x28, 0x71, 0x95, 0x01, 0xee};

static pk_sha256_ctx g_challenge; /* after SHA256(tag) || SHA256(tag) */
static pk_fe g_beta;
static pk_ge g_g;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t g_batches;

uint64_t pk_bip340_batches(void) { return atomic_load(&g_batches); }

static void init(void)
{
    static const char tag[] = "BIP0340/challenge";
    uint8_t th[32];
    pk_sha256((const uint8_t *)tag, sizeof tag - 1, th);
    pk_sha256_init(&g_challenge);
    pk_sha256_update(&g_challenge, th, 32);
    pk_sha256_update(&g_challenge, th, 32);
    pk_fe_set_b32(&g_beta, BETA);
    pk_fe_set_b32(&g_g.x, G_X);
    pk_fe_set_b32(&g_g.y, G_Y);
    g_g.inf = 0;
}

/* k P as its two GLV halves: k = k1 + k2 lambda, k1 P + k2 (beta x, y);
 * a negative half negates the point.  Returns 0 when a half does not fit
 * in 128 bits (never for a correct split). */
static int add_term(pk_msm_point *pts, size_t *m, const pk_ge *p, const pk_scalar *k)
{
    pk_scalar h[2];
    pk_scalar_split_lambda(&h[0], &h[1], k);
    for (int j = 0; j < 2; j++) {
        pk_msm_point *o = &pts[*m];
        o->x = p->x;
        if (j) {
            pk_fe_mul(&o->x, &p->x, &g_beta);
            pk_fe_normalize(&o->x);
        }
        o->y = p->y;
        if (pk_scalar_is_high(&h[j])) {
            pk_scalar_negate(&h[j], &h[j]);
            pk_fe_negate(&o->y, &p->y, 1);
            pk_fe_normalize(&o->y);
        }
        if (h[j].d[2] || h[j].d[3])
            return 0;
        if (!h[j].d[0] && !h[j].d[1])
            continue;
        o->k[0] = h[j].d[0], o->k[1] = h[j].d[1];
        (*m)++;
    }
    return 1;
}

/* The window sums of width c, one window at a time (portable). */
static int windows_portable(pk_gej *W, const pk_msm_point *pts, size_t m, unsigned c)
{
    int nwin = (int)((128 + c - 1) / c), nb = (1 << c) - 1;
    pk_gej *B = malloc((size_t)nb * sizeof *B);
    if (!B)
        return 0;
    for (int w = 0; w < nwin; w++) {
        for (int b = 0; b < nb; b++)
            B[b].inf = 1;
        unsigned at = (unsigned)w * c;
        for (size_t i = 0; i < m; i++) {
            uint64_t v = at < 64 ? pts[i].k[0] >> at : pts[i].k[1] >> (at - 64);
            if (at < 64 && at + c > 64)
                v |= pts[i].k[1] << (64 - at);
            unsigned d = (unsigned)v & ((1u << c) - 1);
            if (!d)
                continue;
            pk_ge p = {pts[i].x, pts[i].y, 0};
            pk_gej_add_ge(&B[d - 1], &B[d - 1], &p);
        }
        pk_gej S, acc;
        S.inf = acc.inf = 1;
        for (int b = nb - 1; b >= 0; b--) {
            pk_gej_add(&S, &S, &B[b]);
            pk_gej_add(&acc, &acc, &S);
        }
        W[w] = acc;
    }
    free(B);
    return 1;
}

/* Strauss's method (portable): one run of doublings shared by every
 * point, each point adding its own odd multiples (1P .. (2^(w-1)-1)P,
 * made affine with one inversion for all of them) at its width-w NAF
 * digits.  Fewer additions than the buckets for few points: no bucket
 * sums, but 128 / (w + 1) additions per point instead of 128 / c. */
#define STRAUSS_LEN 132 /* a 128-bit k has at most 129 NAF digits */
static int strauss_portable(pk_gej *r, const pk_msm_point *pts, size_t m, int w)
{
    r->inf = 1;
    size_t tn = (size_t)1 << (w - 2), nt = m * tn;
    pk_gej *J = malloc(nt * sizeof *J);
    pk_ge *A = malloc(nt * sizeof *A);
    pk_fe *pre = malloc(nt * sizeof *pre), **zs = malloc(nt * sizeof *zs);
    int8_t *naf = malloc(m * STRAUSS_LEN);
    int ok = J && A && pre && zs && naf;
    if (!ok || m == 0)
        goto out;
    int top = 0;
    for (size_t i = 0; i < m; i++) {
        pk_ge p = {pts[i].x, pts[i].y, 0};
        pk_gej p2, *t = &J[i * tn];
        pk_gej_set_ge(&t[0], &p);
        pk_gej_double(&p2, &t[0]);
        for (size_t j = 1; j < tn; j++)
            pk_gej_add(&t[j], &t[j - 1], &p2);
        int d[STRAUSS_LEN];
        pk_scalar k = {{pts[i].k[0], pts[i].k[1], 0, 0}};
        int len = pk_scalar_wnaf(d, STRAUSS_LEN, &k, w);
        for (int b = 0; b < STRAUSS_LEN; b++)
            naf[i * STRAUSS_LEN + (size_t)b] = (int8_t)d[b];
        if (len > top)
            top = len;
    }
    /* the tables affine: Montgomery's trick over every Z (none is zero:
     * an odd multiple below n of a point is never infinity) */
    for (size_t i = 0; i < nt; i++)
        zs[i] = &J[i].z;
    pk_fe_inv_all(zs, nt, pre); /* each Z becomes 1/Z */
    for (size_t i = 0; i < nt; i++) {
        pk_fe zi2;
        pk_fe_sqr(&zi2, &J[i].z);
        pk_fe_mul(&A[i].x, &J[i].x, &zi2);
        pk_fe_mul(&zi2, &zi2, &J[i].z);
        pk_fe_mul(&A[i].y, &J[i].y, &zi2);
        pk_fe_normalize(&A[i].x);
        pk_fe_normalize(&A[i].y);
        A[i].inf = 0;
    }
    for (int b = top - 1; b >= 0; b--) {
        pk_gej_double(r, r);
        for (size_t i = 0; i < m; i++) {
            int dg = naf[i * STRAUSS_LEN + (size_t)b];
            if (!dg)
                continue;
            pk_ge e = A[i * tn + (size_t)((dg < 0 ? -dg : dg) / 2)];
            if (dg < 0)
                pk_ge_neg(&e, &e);
            pk_gej_add_ge(r, r, &e);
        }
    }
out:
    free(J), free(A), free(pre), free(zs), free(naf);
    return ok;
}

/* Pippenger's width for m points: the fewest point additions, counting
 * a bucket addition (mixed) as 11 field operations and a running-sum one
 * as 16; in the lanes, eight windows go at once. */
static unsigned buckets_width(size_t m, int lanes)
{
    unsigned best = 4;
    double best_cost = 0;
    for (unsigned c = 2; c <= (lanes ? 8u : 12u); c++) {
        double win = (double)((128 + c - 1) / c), passes = lanes ? (double)((128 / c + 7 + (128 % c != 0)) / 8) : win;
        double cost = passes * ((double)m * 11 + 2.0 * (double)((1u << c) - 1) * 16);
        if (c == 2 || cost < best_cost)
            best = c, best_cost = cost;
    }
    return best;
}

/* Measured (bench_verify batches: the "batch sums" rows, Strauss and the
 * buckets side by side in one run): Strauss's method beats the portable
 * buckets below about 40 signatures, and never the lanes' buckets (those
 * are faster from 4 signatures up), so the lanes always use buckets.
 * Strauss's window: 4 (odd multiples up to 7P) measured fastest, 3 and 5
 * about 5% slower. */
#define STRAUSS_BELOW 40
#define STRAUSS_W 4

pk_msm_method pk_bip340_batch_method(size_t n, int use_ifma)
{
    return !use_ifma && n < STRAUSS_BELOW ? PK_MSM_STRAUSS : PK_MSM_BUCKETS;
}

#if PK_X86_SIMD
/* Lifts of the lanes' x (IFMA) into ys; mask: which of xs[0..n) to lift.
 * ok[i] becomes 0 where there is no root. */
static void lift_many_ifma(pk_ge *pts, const uint8_t *const *x32, const int8_t *want, int8_t *ok, size_t n)
{
    for (size_t i0 = 0; i0 < n; i0 += 8) {
        pk_fe px[8], py[8];
        int even[8] = {0};
        unsigned mask = 0;
        size_t k = n - i0 < 8 ? n - i0 : 8;
        for (size_t l = 0; l < 8; l++) {
            px[l] = g_g.x;
            if (l < k && want[i0 + l] && pk_fe_set_b32(&px[l], x32[i0 + l]))
                mask |= 1u << l;
            else
                px[l] = g_g.x;
        }
        unsigned got = pk_ifma_lift8(px, py, mask, even);
        for (size_t l = 0; l < k; l++) {
            if (!want[i0 + l])
                continue;
            ok[i0 + l] = (int8_t)(got >> l & 1);
            pts[i0 + l].x = px[l], pts[i0 + l].y = py[l], pts[i0 + l].inf = 0;
        }
    }
}
#else
/* Built without the IFMA code: batches always run on the portable code. */
#define lift_many_ifma lift_many_portable
#define pk_ifma_msm_windows windows_portable
#endif

static void lift_many_portable(pk_ge *pts, const uint8_t *const *x32, const int8_t *want, int8_t *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (want[i])
            ok[i] = (int8_t)pk_native_lift_x(&pts[i], x32[i]);
}

static void le64(uint8_t b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

int pk_bip340_batch(const pk_bip340_item *items, size_t n, int8_t *alone, int use_ifma)
{
    return pk_bip340_batch_with(items, n, alone, use_ifma, PK_MSM_AUTO);
}

int pk_bip340_batch_with(const pk_bip340_item *items, size_t n, int8_t *alone, int use_ifma, pk_msm_method method)
{
    pthread_once(&g_once, init);
    atomic_fetch_add_explicit(&g_batches, 1, memory_order_relaxed);
    if (n == 0)
        return 1;
    use_ifma = use_ifma && PK_X86_SIMD;
    void (*lift)(pk_ge *, const uint8_t *const *, const int8_t *, int8_t *, size_t) =
        use_ifma ? lift_many_ifma : lift_many_portable;
    pk_ge *P = malloc(n * sizeof *P), *R = malloc(n * sizeof *R);
    pk_scalar *s = malloc(n * sizeof *s), *e = malloc(n * sizeof *e);
    const uint8_t **xs = calloc(n, sizeof *xs);
    int8_t *want = calloc(n, 1), *ok = calloc(n, 1);
    pk_msm_point *pts = malloc((4 * n + 2) * sizeof *pts);
    int result = 0;
    for (size_t i = 0; i < n; i++)
        alone[i] = 1;
    if (!P || !R || !s || !e || !xs || !want || !ok || !pts)
        goto out;
    /* keys first: one that does not lift is the answer, whatever the signature */
    for (size_t i = 0; i < n; i++)
        xs[i] = items[i].key, want[i] = 1, ok[i] = 1;
    lift(P, xs, want, ok, n);
    for (size_t i = 0; i < n; i++) {
        pk_fe rx;
        alone[i] = 1;
        if (!ok[i])
            alone[i] = -1;
        else if (!pk_fe_set_b32(&rx, items[i].sig) || pk_scalar_set_b32(&s[i], items[i].sig + 32))
            alone[i] = 0;
        xs[i] = items[i].sig, want[i] = alone[i] == 1, ok[i] = 1;
    }
    lift(R, xs, want, ok, n); /* R: x = r, the even y */
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (alone[i] == 1 && !ok[i])
            alone[i] = 0;
        live += alone[i] == 1;
    }
    if (!live) {
        result = 1;
        goto out;
    }
    /* the challenges, many at once (r || P || msg after the tag's block) */
    {
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            if (alone[i] == 1)
                total += 64 + items[i].msglen;
        uint8_t *arena = malloc(total ? total : 1), (*h)[32] = malloc(live * 32);
        const uint8_t **msgs = malloc(live * sizeof *msgs);
        size_t *lens = malloc(live * sizeof *lens);
        if (!arena || !h || !msgs || !lens) {
            free(arena), free(h), free(msgs), free(lens);
            goto out;
        }
        size_t at = 0, k = 0;
        for (size_t i = 0; i < n; i++) {
            if (alone[i] != 1)
                continue;
            memcpy(arena + at, items[i].sig, 32);
            memcpy(arena + at + 32, items[i].key, 32);
            memcpy(arena + at + 64, items[i].msg, items[i].msglen);
            msgs[k] = arena + at, lens[k++] = 64 + items[i].msglen;
            at += 64 + items[i].msglen;
        }
        pk_sha256_many_from(g_challenge.state, 64, msgs, lens, live, h);
        k = 0;
        for (size_t i = 0; i < n; i++)
            if (alone[i] == 1)
                pk_scalar_set_b32(&e[i], h[k++]);
        free(arena), free(h), free(msgs), free(lens);
    }
    /* the weights: a_1 = 1, then SHA-256(seed || i) mod n, the seed the
     * hash of every input of the batch */
    uint8_t seed[32];
    {
        static const char tag[] = "powkit/BIP340 batch";
        pk_sha256_ctx c;
        pk_sha256_init(&c);
        pk_sha256_update(&c, tag, sizeof tag - 1);
        for (size_t i = 0; i < n; i++) {
            uint8_t l[8];
            le64(l, items[i].msglen);
            pk_sha256_update(&c, items[i].sig, 64);
            pk_sha256_update(&c, items[i].key, 32);
            pk_sha256_update(&c, l, 8);
            pk_sha256_update(&c, items[i].msg, items[i].msglen);
        }
        pk_sha256_final(&c, seed);
    }
    pk_scalar sum = {{0, 0, 0, 0}};
    size_t m = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (alone[i] != 1)
            continue;
        pk_scalar a = {{1, 0, 0, 0}}, t;
        if (k > 0) {
            uint8_t in[40], h[32];
            memcpy(in, seed, 32);
            le64(in + 32, k);
            pk_sha256(in, sizeof in, h);
            pk_scalar_set_b32(&a, h);
            if (pk_scalar_is_zero(&a))
                a.d[0] = 1;
        }
        k++;
        pk_scalar_mul(&t, &a, &s[i]);
        pk_scalar_add(&sum, &sum, &t);
        pk_scalar_negate(&t, &a); /* - a_i R_i */
        if (!add_term(pts, &m, &R[i], &t))
            goto out;
        pk_scalar_mul(&t, &a, &e[i]); /* - a_i e_i P_i */
        pk_scalar_negate(&t, &t);
        if (!add_term(pts, &m, &P[i], &t))
            goto out;
    }
    if (!add_term(pts, &m, &g_g, &sum)) /* + (sum a_i s_i) G */
        goto out;
    pk_gej acc;
    if (method == PK_MSM_AUTO)
        method = pk_bip340_batch_method(k, use_ifma); /* k: the signatures in the sum */
    if (method == PK_MSM_STRAUSS) {
        if (!strauss_portable(&acc, pts, m, STRAUSS_W))
            goto out;
    } else {
        unsigned c = buckets_width(m, use_ifma);
        int nwin = (int)((128 + c - 1) / c);
        pk_gej W[128];
        if (use_ifma ? !pk_ifma_msm_windows(W, pts, m, c) : !windows_portable(W, pts, m, c))
            goto out; /* undecided: the caller checks smaller batches */
        acc.inf = 1;
        for (int w = nwin - 1; w >= 0; w--) {
            for (unsigned i = 0; i < c && w < nwin - 1; i++)
                pk_gej_double(&acc, &acc);
            pk_gej_add(&acc, &acc, &W[w]);
        }
    }
    result = acc.inf;
out:
    free(P), free(R), free(s), free(e), free(xs), free(want), free(ok), free(pts);
    return result;
}
