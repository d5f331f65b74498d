/* The portable engine: u1*G + u2*P and the two signature schemes on it
 * (see native.h).  Written from SEC 1 (ECDSA verification), BIP340 and the
 * explicit formulas for a = 0 Jacobian curves. */
#include <pthread.h>
#include <string.h>

#include "../engine.h"
#include "batch.h"
#include "group.h"
#include "native.h"
#include "powkit/sha256.h"
#include "scalar.h"

#define WINDOW_P 5 /* odd multiples 1P..15P of P and of lambda P */
#define WINDOW_G 8 /* odd multiples 1..127 of G and of 2^128 G, affine, built once */
#define TABLE_P (1 << (WINDOW_P - 2))
#define TABLE_G (1 << (WINDOW_G - 2))
#define WNAF_LEN 260

static const uint8_t G_X[32] = {0x79, 0xBE, 0x66, 0x7E, 0xF9, 0xDC, 0xBB, 0xAC, 0x55, 0xA0, 0x62,
                                0x95, 0xCE, 0x87, 0x0B, 0x07, 0x02, 0x9B, 0xFC, 0xDB, 0x2D, 0xCE,
                                0x28, 0xD9, 0x59, 0xF2, 0x81, 0x5B, 0x16, 0xF8, 0x17, 0x98};
static const uint8_t G_Y[32] = {0x48, 0x3A, 0xDA, 0x77, 0x26, 0xA3, 0xC4, 0x65, 0x5D, 0xA4, 0xFB,
                                0xFC, 0x0E, 0x11, 0x08, 0xA8, 0xFD, 0x17, 0xB4, 0x48, 0xA6, 0x85,
                                0x54, 0x19, 0x9C, 0x47, 0xD0, 0x8F, 0xFB, 0x10, 0xD4, 0xB8};
/* beta: a cube root of 1 mod p; lambda * (x, y) = (beta x, y). */
static const uint8_t BETA[32] = {0x7a, 0xe9, 0x6a, 0x2b, 0x65, 0x7c, 0x07, 0x10, 0x6e, 0x64, 0x47,
                                 0x9e, 0xac, 0x34, 0x34, 0xe9, 0x9c, 0xf0, 0x49, 0x75, 0x12, 0xf5,
                                 0x89, 0x95, 0xc1, 0x39, 0x6c, 0x28, 0x71, 0x95, 0x01, 0xee};
/* p - n: r + n < p exactly when r < p - n. */
static const uint8_t P_MINUS_N[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                                      0x45, 0x51, 0x23, 0x19, 0x50, 0xB7, 0x5F, 0xC4, 0x40, 0x2D,
                                      0xA1, 0x72, 0x2F, 0xC9, 0xBA, 0xEE};
static const uint8_t N_B32[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                  0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};

static pk_ge g_table[TABLE_G], h_table[TABLE_G]; /* G's and 2^128 G's odd multiples */
static pk_fe g_beta;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void odd_multiples(pk_ge *out, const pk_gej *base)
{
    pk_gej acc = *base, twice;
    pk_gej_double(&twice, base);
    for (int i = 0; i < TABLE_G; i++) {
        pk_ge_set_gej(&out[i], &acc); /* (2i+1) base */
        pk_gej_add(&acc, &acc, &twice);
    }
}

static void build_tables(void)
{
    pk_ge g;
    pk_fe_set_b32(&g.x, G_X);
    pk_fe_set_b32(&g.y, G_Y);
    g.inf = 0;
    pk_fe_set_b32(&g_beta, BETA);
    pk_gej gj, h;
    pk_gej_set_ge(&gj, &g);
    odd_multiples(g_table, &gj);
    h = gj;
    for (int i = 0; i < 128; i++)
        pk_gej_double(&h, &h);
    odd_multiples(h_table, &h);
}

/* One term of the multi-scalar loop: a NAF and the table its digits pick. */
typedef struct term {
    int naf[WNAF_LEN];
    int len;
    int negate;           /* the scalar was negated: every digit's sign flips */
    const pk_gej *jac;    /* Jacobian table, or */
    const pk_ge *aff;     /* an affine one */
} term;

static void term_scalar(term *t, const pk_scalar *k, int w, int may_be_high)
{
    pk_scalar v = *k;
    t->negate = may_be_high && pk_scalar_is_high(&v);
    if (t->negate)
        pk_scalar_negate(&v, &v);
    t->len = pk_scalar_wnaf(t->naf, WNAF_LEN, &v, w);
}

/* r = na*P + ng*G: na split by the endomorphism (na1 P + na2 lambda P),
 * ng split in halves (ng_lo G + ng_hi 2^128 G): four terms of at most 129
 * digits share one run of doublings. */
static void ecmult(pk_gej *r, const pk_ge *p, const pk_scalar *na, const pk_scalar *ng)
{
    pthread_once(&g_once, build_tables);
    term t[4];
    pk_scalar a1, a2, lo = {{ng->d[0], ng->d[1], 0, 0}}, hi = {{ng->d[2], ng->d[3], 0, 0}};
    pk_scalar_split_lambda(&a1, &a2, na);
    term_scalar(&t[0], &a1, WINDOW_P, 1);
    term_scalar(&t[1], &a2, WINDOW_P, 1);
    term_scalar(&t[2], &lo, WINDOW_G, 0);
    term_scalar(&t[3], &hi, WINDOW_G, 0);
    pk_gej tp[TABLE_P], tl[TABLE_P];
    if (t[0].len || t[1].len) {
        pk_gej p2;
        pk_gej_set_ge(&tp[0], p);
        pk_gej_double(&p2, &tp[0]);
        for (int i = 1; i < TABLE_P; i++)
            pk_gej_add(&tp[i], &tp[i - 1], &p2);
        for (int i = 0; i < TABLE_P; i++) { /* lambda (X, Y, Z) = (beta X, Y, Z) */
            tl[i] = tp[i];
            pk_fe_mul(&tl[i].x, &tp[i].x, &g_beta);
        }
    }
    t[0].jac = tp, t[0].aff = NULL;
    t[1].jac = tl, t[1].aff = NULL;
    t[2].jac = NULL, t[2].aff = g_table;
    t[3].jac = NULL, t[3].aff = h_table;
    int bits = 0;
    for (int k = 0; k < 4; k++)
        if (t[k].len > bits)
            bits = t[k].len;
    r->inf = 1;
    for (int i = bits - 1; i >= 0; i--) {
        pk_gej_double(r, r);
        for (int k = 0; k < 4; k++) {
            int d = t[k].naf[i];
            if (!d)
                continue;
            int neg = (d < 0) != t[k].negate;
            int idx = (d < 0 ? -d : d) / 2;
            if (t[k].jac) {
                pk_gej e;
                if (neg)
                    pk_gej_neg(&e, &t[k].jac[idx]);
                else
                    e = t[k].jac[idx];
                pk_gej_add(r, r, &e);
            } else {
                pk_ge e;
                if (neg)
                    pk_ge_neg(&e, &t[k].aff[idx]);
                else
                    e = t[k].aff[idx];
                pk_gej_add_ge(r, r, &e);
            }
        }
    }
}

static int b32_less(const uint8_t a[32], const uint8_t b[32]) { return memcmp(a, b, 32) < 0; }

int pk_native_ecdsa_verify(const uint8_t sig64[64], const uint8_t msg32[32], const uint8_t pub65[65])
{
    pk_scalar r, s, m, w, u1, u2;
    if (pk_scalar_set_b32(&r, sig64) || pk_scalar_set_b32(&s, sig64 + 32) || pk_scalar_is_zero(&r) ||
        pk_scalar_is_zero(&s))
        return 0;
    pk_scalar_set_b32(&m, msg32); /* the hash as a number mod n */
    pk_ge p;
    if (pub65[0] != 4 || !pk_fe_set_b32(&p.x, pub65 + 1) || !pk_fe_set_b32(&p.y, pub65 + 33))
        return 0;
    p.inf = 0;
    pk_scalar_inverse(&w, &s);
    pk_scalar_mul(&u1, &m, &w);
    pk_scalar_mul(&u2, &r, &w);
    pk_gej R;
    ecmult(&R, &p, &u2, &u1);
    if (R.inf)
        return 0;
    /* x(R) mod n == r, without an inversion: X == r Z^2, or (r + n) Z^2
     * when r + n is still below p (x(R) in [n, p)). */
    pk_fe zz, xr, t;
    pk_fe_sqr(&zz, &R.z);
    pk_fe_set_b32(&xr, sig64);
    pk_fe_mul(&t, &xr, &zz);
    if (pk_fe_equal(&t, &R.x))
        return 1;
    if (!b32_less(sig64, P_MINUS_N))
        return 0;
    pk_fe nfe;
    pk_fe_set_b32(&nfe, N_B32);
    pk_fe_add(&xr, &xr, &nfe);
    pk_fe_mul(&t, &xr, &zz);
    return pk_fe_equal(&t, &R.x);
}

/* BIP340's lift_x: the point with this x and an even y. */
int pk_native_lift_x(pk_ge *r, const uint8_t x32[32])
{
    pk_fe c, seven;
    if (!pk_fe_set_b32(&r->x, x32))
        return 0;
    pk_fe_sqr(&c, &r->x);
    pk_fe_mul(&c, &c, &r->x);
    pk_fe_set_int(&seven, 7);
    pk_fe_add(&c, &c, &seven);
    if (!pk_fe_sqrt(&r->y, &c))
        return 0;
    pk_fe_normalize(&r->y);
    if (r->y.n[0] & 1) {
        pk_fe_negate(&r->y, &r->y, 1);
        pk_fe_normalize(&r->y);
    }
    r->inf = 0;
    return 1;
}

int pk_native_xonly_valid(const uint8_t xonly[32])
{
    pk_ge p;
    return pk_native_lift_x(&p, xonly);
}

int pk_native_decompress(uint8_t pub65[65], const uint8_t key33[33])
{
    pk_ge p;
    if ((key33[0] != 2 && key33[0] != 3) || !pk_native_lift_x(&p, key33 + 1))
        return 0;
    if (key33[0] == 3) { /* the odd y */
        pk_fe_negate(&p.y, &p.y, 1);
        pk_fe_normalize(&p.y);
    }
    pub65[0] = 4;
    pk_fe_get_b32(pub65 + 1, &p.x);
    pk_fe_get_b32(pub65 + 33, &p.y);
    return 1;
}

/* SHA256(SHA256(tag) || SHA256(tag) || data...) for the challenge. */
static void challenge(uint8_t out[32], const uint8_t rx[32], const uint8_t px[32], const uint8_t *msg, size_t len)
{
    static const char tag[] = "BIP0340/challenge";
    uint8_t th[32];
    pk_sha256((const uint8_t *)tag, sizeof tag - 1, th);
    pk_sha256_ctx c;
    pk_sha256_init(&c);
    pk_sha256_update(&c, th, 32);
    pk_sha256_update(&c, th, 32);
    pk_sha256_update(&c, rx, 32);
    pk_sha256_update(&c, px, 32);
    pk_sha256_update(&c, msg, len);
    pk_sha256_final(&c, out);
}

int pk_native_schnorr_verify(const uint8_t sig64[64], const uint8_t *msg, size_t msglen, const uint8_t xonly[32])
{
    pk_ge p;
    pk_fe rx;
    pk_scalar s, e;
    if (!pk_native_lift_x(&p, xonly) || !pk_fe_set_b32(&rx, sig64) || pk_scalar_set_b32(&s, sig64 + 32))
        return 0;
    uint8_t h[32];
    challenge(h, sig64, xonly, msg, msglen);
    pk_scalar_set_b32(&e, h);
    pk_scalar_negate(&e, &e);
    pk_gej R;
    ecmult(&R, &p, &e, &s); /* s G - e P */
    if (R.inf)
        return 0;
    pk_ge ra;
    pk_ge_set_gej(&ra, &R);
    return !(ra.y.n[0] & 1) && pk_fe_equal(&ra.x, &rx);
}

static int always(void) { return 1; }

static void portable_batch(pk_engine_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pk_engine_job *j = &jobs[i];
        uint8_t pub[65];
        if (j->kind == PK_ENGINE_JOB_ECDSA && j->key[0] != 4 && !pk_native_decompress(pub, j->key))
            j->result = -1;
        else if (j->kind == PK_ENGINE_JOB_ECDSA)
            j->result = (int8_t)pk_native_ecdsa_verify(j->sig, j->msg, j->key[0] == 4 ? j->key : pub);
        else if (!pk_native_xonly_valid(j->key))
            j->result = -1;
        else
            j->result = (int8_t)pk_native_schnorr_verify(j->sig, j->msg, j->msglen, j->key);
    }
}

const pk_engine_impl pk_engine_portable = {"portable", always, pk_native_ecdsa_verify, pk_native_schnorr_verify,
                                           portable_batch};
