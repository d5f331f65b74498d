/* The "ifma" engine: eight secp256k1 verifications at once, one per lane
 * of AVX-512 IFMA (field_ifma.h).  Every lane runs the same sequence of
 * operations on its own data, so the multi-scalar multiplication uses
 * fixed windows (signed digits at the same bit positions in every lane,
 * zero digits masked) instead of the sparse NAF the portable engine uses:
 * u1 G + u2 P = a1 P + a2 (lambda P) + lo G + hi (2^128 G), the key's
 * scalar split by the endomorphism into two 128-bit halves with width-5
 * windows over a per-lane table of 1P..16P (gathered lane by lane), the
 * other halved with width-8 windows over shared affine tables of 1..128
 * times G and 2^128 G built at first use by powkit's own code.
 *
 * The lanes' formulas do not handle the exceptional sums (a point plus
 * itself or its negation): such a sum leaves Z = 0, which every later
 * doubling and addition keeps, so a lane that ends with Z = 0 (or still at
 * infinity) is verified again by the portable engine, whose answer is
 * exact.  Scalars (s^-1 batched over the lanes, the split, the digits),
 * the tagged hash and the final comparisons are per lane, on the portable
 * code.  Public data only: nothing here is constant-time. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../engine.h"
#include "batch.h"
#include "field_ifma.h"
#include "group.h"
#include "group_ifma.h"
#include "native.h"
#include "powkit/cpu.h"
#include "powkit/sha256.h"
#include "scalar.h"

#define WP 5   /* key windows: digits in (-16, 16] */
#define NWP 26 /* 130 bits: a 128-bit half and the last carry */
#define TP 16  /* 1P..16P */
#define WG 8   /* generator windows: digits in (-128, 128] */
#define NWG 17 /* 16 windows of a 128-bit half and a carry digit */
#define TG 128 /* 1..128 times G and 2^128 G */

static const uint8_t G_X[32] = {0x79, 0xBE, 0x66, 0x7E, 0xF9, 0xDC, 0xBB, 0xAC, 0x55, 0xA0, 0x62,
                                0x95, 0xCE, 0x87, 0x0B, 0x07, 0x02, 0x9B, 0xFC, 0xDB, 0x2D, 0xCE,
                                0x28, 0xD9, 0x59, 0xF2, 0x81, 0x5B, 0x16, 0xF8, 0x17, 0x98};
static const uint8_t G_Y[32] = {0x48, 0x3A, 0xDA, 0x77, 0x26, 0xA3, 0xC4, 0x65, 0x5D, 0xA4, 0xFB,
                                0xFC, 0x0E, 0x11, 0x08, 0xA8, 0xFD, 0x17, 0xB4, 0x48, 0xA6, 0x85,
                                0x54, 0x19, 0x9C, 0x47, 0xD0, 0x8F, 0xFB, 0x10, 0xD4, 0xB8};
static const uint8_t BETA[32] = {0x7a, 0xe9, 0x6a, 0x2b, 0x65, 0x7c, 0x07, 0x10, 0x6e, 0x64, 0x47,
                                 0x9e, 0xac, 0x34, 0x34, 0xe9, 0x9c, 0xf0, 0x49, 0x75, 0x12, 0xf5,
                                 0x89, 0x95, 0xc1, 0x39, 0x6c, 0x28, 0x71, 0x95, 0x01, 0xee};
static const uint8_t P_MINUS_N[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                                      0x45, 0x51, 0x23, 0x19, 0x50, 0xB7, 0x5F, 0xC4, 0x40, 0x2D,
                                      0xA1, 0x72, 0x2F, 0xC9, 0xBA, 0xEE};
static const uint8_t N_B32[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                  0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};

/* g_tab[0][i], g_tab[1][i]: (i+1) G and (i+1) 2^128 G, affine, x limbs then y limbs. */
static uint64_t g_tab[2][TG][10] __attribute__((aligned(64)));
static pk_fe g_beta, g_gx, g_gy;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void build_tables(void);
static _Atomic uint64_t g_fallbacks; /* lanes the portable engine answered */
static uint64_t g_tables_ticks;
static __thread pk_ifma_profile *g_prof;

void pk_ifma_profile_attach(pk_ifma_profile *p)
{
    g_prof = p;
    if (p) {
        pthread_once(&g_once, build_tables);
        p->tables_once = g_tables_ticks;
    }
}

static inline uint64_t tick(void) { return g_prof ? __rdtsc() : 0; }
/* adds the ticks since t to the profile's field, and restarts t */
#define SPENT(field, k, t)                                                                                             \
    do {                                                                                                               \
        if (g_prof) {                                                                                                  \
            uint64_t now_ = __rdtsc();                                                                                 \
            g_prof->field[k] += now_ - (t);                                                                            \
            (t) = now_;                                                                                                \
        }                                                                                                              \
    } while (0)
#define COUNT(field)                                                                                                   \
    do {                                                                                                               \
        if (g_prof)                                                                                                    \
            g_prof->field++;                                                                                           \
    } while (0)

static void init_tagged(void);

static void build_tables(void)
{
    uint64_t t0 = __rdtsc();
    init_tagged();
    pk_ge g;
    pk_fe_set_b32(&g.x, G_X);
    pk_fe_set_b32(&g.y, G_Y);
    g.inf = 0;
    g_gx = g.x, g_gy = g.y;
    pk_fe_set_b32(&g_beta, BETA);
    pk_gej base;
    pk_gej_set_ge(&base, &g);
    for (int t = 0; t < 2; t++) {
        pk_ge b = {0};
        pk_ge_set_gej(&b, &base);
        pk_gej acc = base;
        for (int i = 0; i < TG; i++) {
            pk_ge a = {0};
            pk_ge_set_gej(&a, &acc);
            memcpy(g_tab[t][i], a.x.n, 40);
            memcpy(g_tab[t][i] + 5, a.y.n, 40);
            pk_gej_add_ge(&acc, &acc, &b);
        }
        for (int i = 0; i < 128; i++)
            pk_gej_double(&base, &base);
    }
    g_tables_ticks = __rdtsc() - t0;
}

/* ---- scalars to digits ---- */

/* Signed fixed windows of a 128-bit value (lo, hi words): digit i in
 * (-2^(w-1), 2^(w-1)] at bit w*i, times sign; out[i * LANES] for lane 0's
 * slot.  Returns 0 when nw windows do not hold the value. */
static int recode(int64_t *out, int nw, uint64_t lo, uint64_t hi, int w, int sign)
{
    int64_t carry = 0, half = (int64_t)1 << (w - 1), full = (int64_t)1 << w;
    for (int i = 0; i < nw; i++) {
        int bit = w * i;
        uint64_t v = 0;
        if (bit < 64) {
            v = lo >> bit;
            if (bit + w > 64)
                v |= hi << (64 - bit);
        } else if (bit < 128) {
            v = hi >> (bit - 64);
        }
        int64_t d = (int64_t)(v & (uint64_t)(full - 1)) + carry;
        carry = d > half;
        if (carry)
            d -= full;
        out[i * LANES] = sign * d;
    }
    return carry == 0;
}

/* The digits of one group: the key's two halves (width 5) and the
 * generator's two halves (width 8), lane by lane. */
typedef struct digits {
    int64_t p[2][NWP][LANES];
    int64_t g[2][NWG][LANES];
} digits;

/* Lane l: k = na P + ng G (na split by lambda).  Returns 0 when the
 * windows could not hold the halves (never for a correct split). */
static int lane_digits(digits *d, int l, const pk_scalar *na, const pk_scalar *ng)
{
    pk_scalar a[2];
    pk_scalar_split_lambda(&a[0], &a[1], na);
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        int sign = 1;
        if (pk_scalar_is_high(&a[k])) {
            pk_scalar_negate(&a[k], &a[k]);
            sign = -1;
        }
        ok &= a[k].d[2] == 0 && a[k].d[3] == 0;
        ok &= recode(&d->p[k][0][l], NWP, a[k].d[0], a[k].d[1], WP, sign);
    }
    ok &= recode(&d->g[0][0][l], NWG, ng->d[0], ng->d[1], WG, 1);
    ok &= recode(&d->g[1][0][l], NWG, ng->d[2], ng->d[3], WG, 1);
    return ok;
}

static void lane_zero(digits *d, int l)
{
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < NWP; i++)
            d->p[k][i][l] = 0;
        for (int i = 0; i < NWG; i++)
            d->g[k][i][l] = 0;
    }
}

/* ---- the multi-scalar multiplication ---- */

/* Per-lane tables: tab[e][q][l] is limb q (x0..x4, y0..y4, z0..z4) of
 * (e+1) P in lane l; lx the same x times beta (lambda P's). */
typedef struct ptable {
    uint64_t tab[TP][15][LANES] __attribute__((aligned(64)));
    uint64_t lx[TP][5][LANES] __attribute__((aligned(64)));
} ptable;

static void store_gej8(ptable *t, int e, const gej8 *p, const pk_fe8 *lx)
{
    const pk_fe8 *c[3] = {&p->x, &p->y, &p->z};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 5; i++)
            _mm512_store_si512((void *)t->tab[e][5 * k + i], c[k]->n[i]);
    for (int i = 0; i < 5; i++)
        _mm512_store_si512((void *)t->lx[e][i], lx->n[i]);
}

static void build_ptable(ptable *t, const pk_fe8 *px, const pk_fe8 *py)
{
    pk_fe8 beta, lx;
    pk_fe8_set1(&beta, &g_beta);
    gej8 p, acc;
    p.x = *px, p.y = *py;
    for (int i = 0; i < 5; i++)
        p.z.n[i] = i ? _mm512_setzero_si512() : PK_V8(1);
    pk_fe8_mul(&lx, &p.x, &beta);
    store_gej8(t, 0, &p, &lx);
    gej8_double(&acc, &p);
    COUNT(dbl);
    __mmask8 none = 0;
    for (int e = 1; e < TP; e++) {
        if (e > 1) {
            gej8_add_ge(&acc, px, py, 0, 0xFF, &none); /* (e+1) P from e P: never exceptional */
            COUNT(add_ge);
        }
        pk_fe8_mul(&lx, &acc.x, &beta);
        store_gej8(t, e, &acc, &lx);
    }
}


/* acc = sum of the four terms; *inf: lanes still at infinity. */
static void ladder(gej8 *acc, __mmask8 *inf, const ptable *pt, const digits *d)
{
    const pk_v8 iota = _mm512_loadu_si512((const void *)LANE_IOTA), one = PK_V8(1), zero = _mm512_setzero_si512();
    int top = -1;
    for (int j = 128; j >= 0 && top < 0; j--) {
        for (int l = 0; l < LANES && top < 0; l++) {
            if (j % WP == 0 && (d->p[0][j / WP][l] || d->p[1][j / WP][l]))
                top = j;
            if (j % WG == 0 && (d->g[0][j / WG][l] || d->g[1][j / WG][l]))
                top = j;
        }
    }
    *inf = 0xFF;
    for (int i = 0; i < 5; i++)
        acc->x.n[i] = acc->y.n[i] = acc->z.n[i] = zero;
    for (int j = top; j >= 0; j--) {
        if (j != top) {
            gej8_double(acc, acc);
            COUNT(dbl);
        }
        if (j % WP == 0) {
            for (int k = 0; k < 2; k++) {
                pk_v8 dv = _mm512_loadu_si512((const void *)d->p[k][j / WP]);
                __mmask8 nz = _mm512_test_epi64_mask(dv, dv);
                if (!nz)
                    continue;
                __mmask8 neg = _mm512_cmplt_epi64_mask(dv, zero);
                pk_v8 e = _mm512_max_epi64(_mm512_sub_epi64(_mm512_abs_epi64(dv), one), zero);
                pk_v8 base = _mm512_add_epi64(_mm512_mullo_epi64(e, PK_V8(15 * LANES)), iota);
                pk_v8 lbase = _mm512_add_epi64(_mm512_mullo_epi64(e, PK_V8(5 * LANES)), iota);
                gej8 b;
                for (int i = 0; i < 5; i++) {
                    b.x.n[i] = k ? _mm512_i64gather_epi64(_mm512_add_epi64(lbase, PK_V8(i * LANES)), pt->lx, 8)
                                 : _mm512_i64gather_epi64(_mm512_add_epi64(base, PK_V8(i * LANES)), pt->tab, 8);
                    b.y.n[i] = _mm512_i64gather_epi64(_mm512_add_epi64(base, PK_V8((5 + i) * LANES)), pt->tab, 8);
                    b.z.n[i] = _mm512_i64gather_epi64(_mm512_add_epi64(base, PK_V8((10 + i) * LANES)), pt->tab, 8);
                }
                gej8_add(acc, &b, neg, nz, inf);
                COUNT(add);
            }
        }
        if (j % WG == 0) {
            for (int k = 0; k < 2; k++) {
                pk_v8 dv = _mm512_loadu_si512((const void *)d->g[k][j / WG]);
                __mmask8 nz = _mm512_test_epi64_mask(dv, dv);
                if (!nz)
                    continue;
                __mmask8 neg = _mm512_cmplt_epi64_mask(dv, zero);
                pk_v8 e = _mm512_max_epi64(_mm512_sub_epi64(_mm512_abs_epi64(dv), one), zero);
                pk_v8 base = _mm512_mullo_epi64(e, PK_V8(10));
                pk_fe8 x, y;
                for (int i = 0; i < 5; i++) {
                    x.n[i] = _mm512_i64gather_epi64(_mm512_add_epi64(base, PK_V8(i)), g_tab[k], 8);
                    y.n[i] = _mm512_i64gather_epi64(_mm512_add_epi64(base, PK_V8(5 + i)), g_tab[k], 8);
                }
                gej8_add_ge(acc, &x, &y, neg, nz, inf);
                COUNT(add_ge);
            }
        }
    }
}

/* ---- the two schemes ---- */

#define SLICE 64 /* jobs whose inversions are shared (Montgomery's trick) */

/* *a[i] = 1 / *a[i] for i < n (all nonzero): one inversion and 3(n-1)
 * products. */
static void scalar_batch_inverse(pk_scalar *const *a, size_t n)
{
    pk_scalar pre[SLICE], acc = {{1, 0, 0, 0}}, inv;
    if (!n)
        return;
    for (size_t i = 0; i < n; i++) {
        pre[i] = acc;
        pk_scalar_mul(&acc, &acc, a[i]);
    }
    pk_scalar_inverse(&inv, &acc);
    for (size_t i = n; i-- > 0;) {
        pk_scalar t;
        pk_scalar_mul(&t, &inv, &pre[i]);
        pk_scalar_mul(&inv, &inv, a[i]);
        *a[i] = t;
    }
}

static void fe_batch_inverse(pk_fe *const *a, size_t n)
{
    pk_fe pre[SLICE];
    pk_fe_inv_all(a, n, pre);
}

/* What a job carries between the passes of a slice. */
typedef struct job_state {
    pk_scalar w;    /* ECDSA: 1 / s */
    int w_ok;       /* s was in [1, n) */
    int fin;        /* BIP340: X, Y, Z wait for the shared inversion */
    pk_fe X, Y, Z, rx;
} job_state;

/* y for x in the lanes of lift (x^3 + 7 a square there): the root of
 * the parity want[l] (0 even, 1 odd); lanes where x is no point's leave
 * lift.  Returns the lanes lifted. */
static unsigned lift8(pk_fe px[LANES], pk_fe py[LANES], unsigned lift, const int want[LANES])
{
    pk_fe8 x8, c8, y8;
    pk_fe8_load(&x8, px);
    pk_fe8_sqr(&c8, &x8);
    pk_fe8_mul(&c8, &c8, &x8);
    c8.n[0] = _mm512_add_epi64(c8.n[0], PK_V8(7));
    pk_fe8_carry(&c8);
    pk_fe8_sqrt_candidate(&y8, &c8);
    pk_fe y[LANES], cc[LANES];
    pk_fe8_store(y, &y8);
    pk_fe8_store(cc, &c8);
    for (int l = 0; l < LANES; l++) {
        if (!(lift >> l & 1))
            continue;
        pk_fe chk;
        pk_fe_sqr(&chk, &y[l]);
        if (!pk_fe_equal(&chk, &cc[l])) {
            lift &= ~(1u << l);
            continue;
        }
        pk_fe_normalize(&y[l]);
        if ((int)(y[l].n[0] & 1) != want[l]) {
            pk_fe_negate(&y[l], &y[l], 1);
            pk_fe_normalize(&y[l]);
        }
        py[l] = y[l];
    }
    return lift;
}

/* Up to eight ECDSA jobs. */
static void ecdsa8(pk_engine_job **jobs, job_state **st, int n)
{
    pk_scalar r[LANES], m[LANES];
    pk_fe px[LANES], py[LANES];
    unsigned live = 0, lift = 0;
    int odd[LANES] = {0};
    digits d;
    uint64_t t = tick();
    if (g_prof)
        g_prof->groups[0]++;
    /* the keys first: a key that is no point is the answer, whatever the signature */
    for (int l = 0; l < LANES; l++) {
        px[l] = g_gx, py[l] = g_gy;
        lane_zero(&d, l);
        if (l >= n)
            continue;
        pk_engine_job *j = jobs[l];
        j->result = -1;
        if (j->key[0] == 4) {
            if (!pk_fe_set_b32(&px[l], j->key + 1) || !pk_fe_set_b32(&py[l], j->key + 33)) {
                px[l] = g_gx, py[l] = g_gy;
                continue;
            }
        } else if (j->key[0] == 2 || j->key[0] == 3) {
            if (!pk_fe_set_b32(&px[l], j->key + 1)) {
                px[l] = g_gx;
                continue;
            }
            odd[l] = j->key[0] == 3;
            lift |= 1u << l;
        } else {
            continue;
        }
        live |= 1u << l;
    }
    if (lift) {
        unsigned lifted = lift8(px, py, lift, odd);
        for (int l = 0; l < LANES; l++) {
            if ((lift & ~lifted) >> l & 1) {
                live &= ~(1u << l);
                px[l] = g_gx, py[l] = g_gy;
            }
        }
    }
    for (int l = 0; l < n; l++) {
        if (!(live >> l & 1))
            continue;
        pk_engine_job *j = jobs[l];
        j->result = 0;
        if (pk_scalar_set_b32(&r[l], j->sig) || pk_scalar_is_zero(&r[l]) || !st[l]->w_ok) {
            live &= ~(1u << l);
            px[l] = g_gx, py[l] = g_gy;
            continue;
        }
        pk_scalar_set_b32(&m[l], j->msg);
    }
    SPENT(keys, 0, t);
    unsigned redo = 0;
    for (int l = 0; l < LANES; l++) {
        if (!(live >> l & 1))
            continue;
        pk_scalar u1, u2;
        pk_scalar_mul(&u1, &m[l], &st[l]->w);
        pk_scalar_mul(&u2, &r[l], &st[l]->w);
        if (!lane_digits(&d, l, &u2, &u1)) {
            lane_zero(&d, l);
            redo |= 1u << l;
        }
    }
    SPENT(scalars, 0, t);
    pk_fe8 x8, y8;
    pk_fe8_load(&x8, px);
    pk_fe8_load(&y8, py);
    static __thread ptable pt;
    build_ptable(&pt, &x8, &y8);
    SPENT(table, 0, t);
    gej8 acc;
    __mmask8 inf;
    ladder(&acc, &inf, &pt, &d);
    SPENT(ladder, 0, t);
    pk_fe X[LANES], Z[LANES];
    pk_fe8_store(X, &acc.x);
    pk_fe8_store(Z, &acc.z);
    for (int l = 0; l < n; l++) {
        if (!(live >> l & 1))
            continue;
        pk_engine_job *j = jobs[l];
        if ((redo >> l & 1) || (inf >> l & 1) || pk_fe_is_zero(&Z[l])) {
            atomic_fetch_add_explicit(&g_fallbacks, 1, memory_order_relaxed);
            uint8_t pub[65];
            pub[0] = 4;
            pk_fe_get_b32(pub + 1, &px[l]);
            pk_fe_get_b32(pub + 33, &py[l]);
            j->result = (int8_t)pk_native_ecdsa_verify(j->sig, j->msg, pub);
            continue;
        }
        /* x(R) mod n == r without an inversion: X == r Z^2, or (r + n) Z^2. */
        pk_fe zz, xr, v;
        pk_fe_sqr(&zz, &Z[l]);
        pk_fe_set_b32(&xr, j->sig);
        pk_fe_mul(&v, &xr, &zz);
        if (pk_fe_equal(&v, &X[l])) {
            j->result = 1;
            continue;
        }
        if (memcmp(j->sig, P_MINUS_N, 32) >= 0)
            continue;
        pk_fe nfe;
        pk_fe_set_b32(&nfe, N_B32);
        pk_fe_add(&xr, &xr, &nfe);
        pk_fe_mul(&v, &xr, &zz);
        j->result = (int8_t)pk_fe_equal(&v, &X[l]);
    }
    SPENT(final, 0, t);
}

/* The BIP340 challenge: SHA256(tag hash || tag hash || r || P || msg),
 * from the state after the tag's 64-byte block (computed once). */
static pk_sha256_ctx g_tagged;

static void init_tagged(void)
{
    static const char tag[] = "BIP0340/challenge";
    uint8_t th[32];
    pk_sha256((const uint8_t *)tag, sizeof tag - 1, th);
    pk_sha256_init(&g_tagged);
    pk_sha256_update(&g_tagged, th, 32);
    pk_sha256_update(&g_tagged, th, 32);
}

static void challenge(uint8_t out[32], const uint8_t rx[32], const uint8_t px[32], const uint8_t *msg, size_t len)
{
    pk_sha256_ctx c = g_tagged;
    pk_sha256_update(&c, rx, 32);
    pk_sha256_update(&c, px, 32);
    pk_sha256_update(&c, msg, len);
    pk_sha256_final(&c, out);
}

/* Up to eight BIP340 jobs. */
static void schnorr8(pk_engine_job **jobs, job_state **st, int n)
{
    pk_scalar s[LANES], e[LANES];
    pk_fe px[LANES], rx[LANES];
    unsigned live = 0, keyed = 0;
    digits d;
    uint64_t t = tick();
    if (g_prof)
        g_prof->groups[1]++;
    for (int l = 0; l < LANES; l++) {
        px[l] = g_gx;
        lane_zero(&d, l);
        if (l >= n)
            continue;
        pk_engine_job *j = jobs[l];
        j->result = 0;
        if (!pk_fe_set_b32(&px[l], j->key)) {
            j->result = -1;
            px[l] = g_gx;
            continue;
        }
        keyed |= 1u << l;
        if (!pk_fe_set_b32(&rx[l], j->sig) || pk_scalar_set_b32(&s[l], j->sig + 32))
            continue;
        live |= 1u << l;
    }
    /* lift_x: the even root */
    pk_fe py[LANES];
    int even[LANES] = {0};
    unsigned lifted = lift8(px, py, 0xFF, even);
    for (int l = 0; l < LANES; l++) {
        if (lifted >> l & 1)
            continue;
        if (keyed >> l & 1)
            jobs[l]->result = -1;
        live &= ~(1u << l);
        px[l] = g_gx, py[l] = g_gy;
    }
    SPENT(keys, 1, t);
    /* the challenges, eight messages at once through the multi-buffer SHA-256 */
    uint8_t buf[LANES][64 + 256], h[LANES][32];
    const uint8_t *msgs[LANES];
    size_t lens[LANES];
    int at[LANES], k = 0;
    for (int l = 0; l < n; l++) {
        if (!(live >> l & 1))
            continue;
        pk_engine_job *j = jobs[l];
        if (j->msglen > 256) { /* longer than the verifier's checks carry: one at a time */
            challenge(h[l], j->sig, j->key, j->msg, j->msglen);
            pk_scalar_set_b32(&e[l], h[l]);
            continue;
        }
        memcpy(buf[l], j->sig, 32);
        memcpy(buf[l] + 32, j->key, 32);
        memcpy(buf[l] + 64, j->msg, j->msglen);
        msgs[k] = buf[l], lens[k] = 64 + j->msglen, at[k++] = l;
    }
    uint8_t got[LANES][32];
    pk_sha256_many_from(g_tagged.state, 64, msgs, lens, (size_t)k, got);
    for (int i = 0; i < k; i++)
        pk_scalar_set_b32(&e[at[i]], got[i]);
    SPENT(hash, 1, t);
    unsigned redo = 0;
    for (int l = 0; l < n; l++) {
        if (!(live >> l & 1))
            continue;
        pk_scalar_negate(&e[l], &e[l]);
        if (!lane_digits(&d, l, &e[l], &s[l])) { /* s G - e P */
            lane_zero(&d, l);
            redo |= 1u << l;
        }
    }
    SPENT(scalars, 1, t);
    pk_fe8 x8, y8;
    pk_fe8_load(&x8, px);
    pk_fe8_load(&y8, py);
    static __thread ptable pt;
    build_ptable(&pt, &x8, &y8);
    SPENT(table, 1, t);
    gej8 acc;
    __mmask8 inf;
    ladder(&acc, &inf, &pt, &d);
    SPENT(ladder, 1, t);
    pk_fe X[LANES], Y[LANES], Z[LANES];
    pk_fe8_store(X, &acc.x);
    pk_fe8_store(Y, &acc.y);
    pk_fe8_store(Z, &acc.z);
    for (int l = 0; l < n; l++) {
        st[l]->fin = 0;
        if (!(live >> l & 1))
            continue;
        if ((redo >> l & 1) || (inf >> l & 1) || pk_fe_is_zero(&Z[l])) {
            atomic_fetch_add_explicit(&g_fallbacks, 1, memory_order_relaxed);
            jobs[l]->result = (int8_t)pk_native_schnorr_verify(jobs[l]->sig, jobs[l]->msg, jobs[l]->msglen, jobs[l]->key);
            continue;
        }
        st[l]->fin = 1;
        st[l]->X = X[l], st[l]->Y = Y[l], st[l]->Z = Z[l], st[l]->rx = rx[l];
    }
    SPENT(final, 1, t);
}

/* ---- the engine ---- */

/* Up to SLICE jobs: ECDSA's s^-1 for all of them in one inversion, groups
 * of eight lanes by kind, BIP340's affine conversions in one inversion. */
static void ifma_slice(pk_engine_job *jobs, size_t n)
{
    job_state st[SLICE];
    pk_scalar *inv[SLICE];
    size_t ninv = 0;
    uint64_t t = tick();
    for (size_t i = 0; i < n; i++) {
        st[i].w_ok = 0, st[i].fin = 0;
        if (jobs[i].kind != PK_ENGINE_JOB_ECDSA)
            continue;
        st[i].w_ok = !pk_scalar_set_b32(&st[i].w, jobs[i].sig + 32) && !pk_scalar_is_zero(&st[i].w);
        if (st[i].w_ok)
            inv[ninv++] = &st[i].w;
    }
    scalar_batch_inverse(inv, ninv);
    SPENT(scalars, 0, t);
    pk_engine_job *group[2][LANES];
    job_state *gst[2][LANES];
    int fill[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        int k = jobs[i].kind == PK_ENGINE_JOB_SCHNORR;
        group[k][fill[k]] = &jobs[i];
        gst[k][fill[k]++] = &st[i];
        if (fill[k] == LANES) {
            (k ? schnorr8 : ecdsa8)(group[k], gst[k], LANES);
            fill[k] = 0;
        }
    }
    if (fill[0])
        ecdsa8(group[0], gst[0], fill[0]);
    if (fill[1])
        schnorr8(group[1], gst[1], fill[1]);
    t = tick();
    pk_fe *zs[SLICE];
    size_t nz = 0;
    for (size_t i = 0; i < n; i++)
        if (st[i].fin)
            zs[nz++] = &st[i].Z;
    fe_batch_inverse(zs, nz);
    for (size_t i = 0; i < n; i++) {
        if (!st[i].fin)
            continue;
        pk_fe z2, z3, x, y;
        pk_fe_sqr(&z2, &st[i].Z);
        pk_fe_mul(&z3, &z2, &st[i].Z);
        pk_fe_mul(&x, &st[i].X, &z2);
        pk_fe_mul(&y, &st[i].Y, &z3);
        jobs[i].result = (int8_t)(!pk_fe_is_odd(&y) && pk_fe_equal(&x, &st[i].rx));
    }
    SPENT(final, 1, t);
}

static void ifma_batch(pk_engine_job *jobs, size_t n)
{
    pthread_once(&g_once, build_tables);
    for (size_t i = 0; i < n; i += SLICE)
        ifma_slice(jobs + i, n - i < SLICE ? n - i : SLICE);
}

static int ifma_ecdsa(const uint8_t rs[64], const uint8_t msg32[32], const uint8_t pub65[65])
{
    pk_engine_job j = {PK_ENGINE_JOB_ECDSA, rs, msg32, 32, pub65, 0};
    ifma_batch(&j, 1);
    return j.result == 1;
}

static int ifma_schnorr(const uint8_t sig64[64], const uint8_t *msg, size_t msglen, const uint8_t xonly[32])
{
    pk_engine_job j = {PK_ENGINE_JOB_SCHNORR, sig64, msg, msglen, xonly, 0};
    ifma_batch(&j, 1);
    return j.result == 1;
}

static int ifma_supported(void) { return (pk_cpu_features() & PK_CPU_AVX512IFMA) != 0; }

const pk_engine_impl pk_engine_ifma = {"ifma", ifma_supported, ifma_ecdsa, ifma_schnorr, ifma_batch};

/* For the BIP340 batches (msm_ifma.c). */
unsigned pk_ifma_lift8(pk_fe px[8], pk_fe py[8], unsigned mask, const int want[8]) { return lift8(px, py, mask, want); }

/* ---- for the tests ---- */

/* Called only through pk_ifma_fe_op (ifma_checked.c), after the CPU
 * check: under clang's ASan even this function's prologue may use AVX-512
 * (its 64-byte vector locals), so the check cannot live here. */
int pk_ifma_fe_op_unchecked(int op, pk_fe *r, const pk_fe *a, const pk_fe *b)
{
    pk_fe8 x, y, z;
    pk_fe8_load(&x, a);
    pk_fe8_load(&y, b);
    switch (op) {
    case PK_IFMA_MUL:
        pk_fe8_mul(&z, &x, &y);
        break;
    case PK_IFMA_SQR:
        pk_fe8_sqr(&z, &x);
        break;
    case PK_IFMA_ADD:
        pk_fe8_add(&z, &x, &y);
        pk_fe8_carry(&z);
        break;
    case PK_IFMA_SUB:
        pk_fe8_sub(&z, &x, &y);
        pk_fe8_carry(&z);
        break;
    case PK_IFMA_SQRT:
        pk_fe8_sqrt_candidate(&z, &x);
        break;
    default:
        return -1;
    }
    pk_fe8_store(r, &z);
    return 0;
}

uint64_t pk_ifma_fallbacks(void) { return atomic_load(&g_fallbacks); }

uint64_t pk_ifma_mul_chains_unchecked(uint64_t iters)
{
    pk_fe8 a[4], b;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 5; i++)
            a[k].n[i] = PK_V8(0x123456789ABull * (uint64_t)(k + 1) + (uint64_t)i);
    pk_fe8_set1(&b, &g_beta);
    b.n[0] = PK_V8(0x9876543210Full);
    for (uint64_t it = 0; it < iters; it++)
        for (int k = 0; k < 4; k++)
            pk_fe8_mul(&a[k], &a[k], &b);
    uint64_t out[8];
    _mm512_storeu_si512((void *)out, _mm512_xor_si512(_mm512_xor_si512(a[0].n[0], a[1].n[1]), _mm512_xor_si512(a[2].n[2], a[3].n[4])));
    return out[0] ^ out[7];
}
