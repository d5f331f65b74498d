/* BIP340 batches on the IFMA lanes: Pippenger's bucket method over the
 * GLV halves of every scalar, one window per lane (bip340_batch.c chooses
 * the method and the window width and checks the sum). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "field_ifma.h"
#include "group.h"
#include "group_ifma.h"
#include "native.h"

#define MAXBUCKET 255 /* digits 1..2^c - 1 of a c-bit window, c up to 8 (unsigned: no carries) */
#define ROW 16        /* a bucket in a lane: x, y, z limbs and an infinity flag */

/* Lane l's bucket b of the current pass: tab[b][q][l]. */
typedef uint64_t bucket_rows[MAXBUCKET][ROW][LANES];

static void load_row(gej8 *p, pk_v8 *inf, const uint64_t (*row)[LANES])
{
    for (int i = 0; i < 5; i++) {
        p->x.n[i] = _mm512_load_si512((const void *)row[i]);
        p->y.n[i] = _mm512_load_si512((const void *)row[5 + i]);
        p->z.n[i] = _mm512_load_si512((const void *)row[10 + i]);
    }
    *inf = _mm512_load_si512((const void *)row[15]);
}

/* Lanes where a (carried: its limbs are the radix-2^52 digits) is 0 mod p:
 * the digits of 0, p or 2p (a carried value is below 2^257). */
static inline __mmask8 fe8_zero_mask(const pk_fe8 *a)
{
    static const uint64_t P1[5] = {0xFFFFEFFFFFC2Full, PK_FE_M52, PK_FE_M52, PK_FE_M52, 0xFFFFFFFFFFFFull};
    static const uint64_t P2[5] = {0xFFFFDFFFFF85Eull, PK_FE_M52, PK_FE_M52, PK_FE_M52, 0x1FFFFFFFFFFFFull};
    __mmask8 z0 = 0xFF, z1 = 0xFF, z2 = 0xFF;
    for (int i = 0; i < 5; i++) {
        z0 &= _mm512_cmpeq_epi64_mask(a->n[i], _mm512_setzero_si512());
        z1 &= _mm512_cmpeq_epi64_mask(a->n[i], PK_V8(P1[i]));
        z2 &= _mm512_cmpeq_epi64_mask(a->n[i], PK_V8(P2[i]));
    }
    return z0 | z1 | z2;
}

static void fe8_get(pk_fe *r, const pk_fe8 *a, int l)
{
    uint64_t v[LANES];
    for (int i = 0; i < 5; i++) {
        _mm512_storeu_si512((void *)v, a->n[i]);
        r->n[i] = v[l];
    }
}

static void fe8_put(pk_fe8 *a, int l, const pk_fe *x)
{
    pk_fe t = *x;
    pk_fe_normalize(&t); /* carried again */
    for (int i = 0; i < 5; i++)
        a->n[i] = _mm512_mask_blend_epi64((__mmask8)(1u << l), a->n[i], PK_V8(t.n[i]));
}

static void gej8_get(pk_gej *r, const gej8 *a, int l)
{
    fe8_get(&r->x, &a->x, l);
    fe8_get(&r->y, &a->y, l);
    fe8_get(&r->z, &a->z, l);
    r->inf = 0;
}

static void gej8_put(gej8 *a, int l, const pk_gej *r)
{
    fe8_put(&a->x, l, &r->x);
    fe8_put(&a->y, l, &r->y);
    fe8_put(&a->z, l, &r->z);
}

/* The lanes of bad (a sum the lanes' formulas cannot do: Z came out 0)
 * again by the portable, exact addition of before and b; lanes whose sum
 * is infinity join *inf. */
static void redo_exact(gej8 *acc, const gej8 *before, const gej8 *b, __mmask8 bad, __mmask8 *inf)
{
    for (int l = 0; l < LANES; l++) {
        if (!(bad >> l & 1))
            continue;
        pk_gej x, y, r;
        gej8_get(&x, before, l);
        gej8_get(&y, b, l);
        pk_gej_add(&r, &x, &y);
        if (r.inf)
            *inf |= (__mmask8)(1u << l);
        else
            gej8_put(acc, l, &r);
    }
}

/* Bits [at, at + c) of a 128-bit k. */
static inline uint64_t digit_of(const uint64_t k[2], unsigned at, unsigned c)
{
    if (at >= 128)
        return 0;
    uint64_t v = at < 64 ? k[0] >> at : k[1] >> (at - 64);
    if (at < 64 && at + c > 64)
        v |= k[1] << (64 - at);
    return v & ((1u << c) - 1);
}

/* W[w] for the windows 8 pass .. 8 pass + 7 of width c (lane l: window
 * 8 pass + l); 0 when a lane met an exceptional sum. */
static int msm_pass(pk_gej *W, int nwin, const pk_msm_point *pts, size_t m, int pass, unsigned c, bucket_rows *tab)
{
    const pk_v8 iota = _mm512_loadu_si512((const void *)LANE_IOTA), one = PK_V8(1), zero = _mm512_setzero_si512();
    const int nb = (1 << c) - 1;
    for (int b = 0; b < nb; b++) /* every bucket empty */
        for (int q = 0; q < ROW; q++)
            _mm512_store_si512((void *)(*tab)[b][q], q == 15 ? one : zero);
    const uint64_t *base = &(*tab)[0][0][0];
    for (size_t i = 0; i < m; i++) {
        uint64_t dig[LANES];
        for (int l = 0; l < LANES; l++)
            dig[l] = digit_of(pts[i].k, (unsigned)(8 * pass + l) * c, c);
        pk_v8 d = _mm512_loadu_si512((const void *)dig);
        __mmask8 nz = _mm512_test_epi64_mask(d, d);
        if (!nz)
            continue;
        pk_v8 idx = _mm512_add_epi64(_mm512_slli_epi64(_mm512_max_epi64(_mm512_sub_epi64(d, one), zero), 7), iota);
        gej8 b;
        for (int q = 0; q < 5; q++) {
            b.x.n[q] = _mm512_mask_i64gather_epi64(zero, nz, _mm512_add_epi64(idx, PK_V8(q * LANES)), base, 8);
            b.y.n[q] = _mm512_mask_i64gather_epi64(zero, nz, _mm512_add_epi64(idx, PK_V8((5 + q) * LANES)), base, 8);
            b.z.n[q] = _mm512_mask_i64gather_epi64(zero, nz, _mm512_add_epi64(idx, PK_V8((10 + q) * LANES)), base, 8);
        }
        pk_v8 fl = _mm512_mask_i64gather_epi64(zero, nz, _mm512_add_epi64(idx, PK_V8(15 * LANES)), base, 8);
        __mmask8 inf = _mm512_test_epi64_mask(fl, fl);
        pk_fe8 x, y;
        pk_fe8_set1(&x, &pts[i].x);
        pk_fe8_set1(&y, &pts[i].y);
        __mmask8 was = inf;
        gej8_add_ge(&b, &x, &y, 0, nz, &inf);
        __mmask8 bad = fe8_zero_mask(&b.z) & nz & (__mmask8)~was;
        if (bad) { /* the bucket held this point or its negative: again, exactly (the table still has it) */
            for (int l = 0; l < LANES; l++) {
                if (!(bad >> l & 1))
                    continue;
                const uint64_t *row = base + (size_t)(dig[l] - 1) * ROW * LANES + (size_t)l;
                pk_gej old, r;
                for (int q = 0; q < 5; q++)
                    old.x.n[q] = row[q * LANES], old.y.n[q] = row[(5 + q) * LANES], old.z.n[q] = row[(10 + q) * LANES];
                old.inf = 0;
                pk_ge p = {pts[i].x, pts[i].y, 0};
                pk_gej_add_ge(&r, &old, &p);
                if (r.inf)
                    inf |= (__mmask8)(1u << l);
                else
                    gej8_put(&b, l, &r);
            }
        }
        for (int q = 0; q < 5; q++) {
            _mm512_mask_i64scatter_epi64((void *)base, nz, _mm512_add_epi64(idx, PK_V8(q * LANES)), b.x.n[q], 8);
            _mm512_mask_i64scatter_epi64((void *)base, nz, _mm512_add_epi64(idx, PK_V8((5 + q) * LANES)), b.y.n[q], 8);
            _mm512_mask_i64scatter_epi64((void *)base, nz, _mm512_add_epi64(idx, PK_V8((10 + q) * LANES)), b.z.n[q], 8);
        }
        _mm512_mask_i64scatter_epi64((void *)base, nz, _mm512_add_epi64(idx, PK_V8(15 * LANES)),
                                     _mm512_maskz_mov_epi64(inf, one), 8);
    }
    /* W = sum b * B[b]: running sums from the top bucket down */
    gej8 S, Wl;
    __mmask8 sinf = 0xFF, winf = 0xFF;
    for (int i = 0; i < 5; i++)
        S.x.n[i] = S.y.n[i] = S.z.n[i] = Wl.x.n[i] = Wl.y.n[i] = Wl.z.n[i] = zero;
    for (int bi = nb - 1; bi >= 0; bi--) {
        gej8 B;
        pk_v8 fl;
        load_row(&B, &fl, (const uint64_t(*)[LANES])(*tab)[bi]);
        __mmask8 have = (__mmask8)~_mm512_test_epi64_mask(fl, fl);
        if (have) {
            gej8 before = S;
            __mmask8 was = sinf;
            gej8_add(&S, &B, 0, have, &sinf);
            __mmask8 bad = fe8_zero_mask(&S.z) & have & (__mmask8)~was;
            if (bad)
                redo_exact(&S, &before, &B, bad, &sinf);
        }
        __mmask8 some = (__mmask8)~sinf;
        if (some) { /* W == S right after the first bucket when the next is empty: a doubling */
            gej8 before = Wl;
            __mmask8 was = winf;
            gej8_add(&Wl, &S, 0, some, &winf);
            __mmask8 bad = fe8_zero_mask(&Wl.z) & some & (__mmask8)~was;
            if (bad)
                redo_exact(&Wl, &before, &S, bad, &winf);
        }
    }
    pk_fe X[LANES], Y[LANES], Z[LANES];
    pk_fe8_store(X, &Wl.x);
    pk_fe8_store(Y, &Wl.y);
    pk_fe8_store(Z, &Wl.z);
    int ok = 1;
    for (int l = 0; l < LANES && 8 * pass + l < nwin; l++) {
        pk_gej *w = &W[8 * pass + l];
        w->x = X[l], w->y = Y[l], w->z = Z[l];
        w->inf = winf >> l & 1;
        if (!w->inf && pk_fe_is_zero(&Z[l]))
            ok = 0; /* Z = 0 without being empty: an exceptional sum on the way */
    }
    return ok;
}

int pk_ifma_msm_windows(pk_gej *W, const pk_msm_point *pts, size_t m, unsigned c)
{
    if (c < 1 || c > 8)
        return 0;
    bucket_rows *tab = aligned_alloc(64, sizeof *tab); /* 255 KiB: not for a thread's stack */
    if (!tab)
        return 0;
    int nwin = (int)((128 + c - 1) / c), ok = 1;
    for (int pass = 0; 8 * pass < nwin && ok; pass++)
        ok = msm_pass(W, nwin, pts, m, pass, c, tab);
    free(tab);
    return ok;
}
