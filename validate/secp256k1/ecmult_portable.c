/* The portable engine: u1*G + u2*P and the two signature schemes on it
 * (see native.h).  Written from SEC 1 (ECDSA verification), BIP340 and the
 * explicit formulas for a = 0 Jacobian curves. */
#include <pthread.h>
#include <string.h>

#include "group.h"
#include "native.h"
#include "powkit/sha256.h"
#include "scalar.h"

#define WINDOW_P 5 /* odd multiples 1P..15P */
#define WINDOW_G 8 /* odd multiples 1G..127G, affine, built once */
#define TABLE_P (1 << (WINDOW_P - 2))
#define TABLE_G (1 << (WINDOW_G - 2))
#define WNAF_LEN 260

static const uint8_t G_X[32] = {0x79, 0xBE, 0x66, 0x7E, 0xF9, 0xDC, 0xBB, 0xAC, 0x55, 0xA0, 0x62,
                                0x95, 0xCE, 0x87, 0x0B, 0x07, 0x02, 0x9B, 0xFC, 0xDB, 0x2D, 0xCE,
                                0x28, 0xD9, 0x59, 0xF2, 0x81, 0x5B, 0x16, 0xF8, 0x17, 0x98};
static const uint8_t G_Y[32] = {0x48, 0x3A, 0xDA, 0x77, 0x26, 0xA3, 0xC4, 0x65, 0x5D, 0xA4, 0xFB,
                                0xFC, 0x0E, 0x11, 0x08, 0xA8, 0xFD, 0x17, 0xB4, 0x48, 0xA6, 0x85,
                                0x54, 0x19, 0x9C, 0x47, 0xD0, 0x8F, 0xFB, 0x10, 0xD4, 0xB8};
/* p - n: r + n < p exactly when r < p - n. */
static const uint8_t P_MINUS_N[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                                      0x45, 0x51, 0x23, 0x19, 0x50, 0xB7, 0x5F, 0xC4, 0x40, 0x2D,
                                      0xA1, 0x72, 0x2F, 0xC9, 0xBA, 0xEE};
static const uint8_t N_B32[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48,
                                  0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};

static pk_ge g_table[TABLE_G];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void build_g_table(void)
{
    pk_ge g;
    pk_fe_set_b32(&g.x, G_X);
    pk_fe_set_b32(&g.y, G_Y);
    g.inf = 0;
    pk_gej acc, g2;
    pk_gej_set_ge(&acc, &g);
    pk_gej_double(&g2, &acc);
    for (int i = 0; i < TABLE_G; i++) {
        pk_ge_set_gej(&g_table[i], &acc); /* (2i+1)G */
        pk_gej_add(&acc, &acc, &g2);
    }
}

/* r = na*P + ng*G. */
static void ecmult(pk_gej *r, const pk_ge *p, const pk_scalar *na, const pk_scalar *ng)
{
    pthread_once(&g_once, build_g_table);
    int wa[WNAF_LEN], wg[WNAF_LEN];
    int la = pk_scalar_wnaf(wa, WNAF_LEN, na, WINDOW_P);
    int lg = pk_scalar_wnaf(wg, WNAF_LEN, ng, WINDOW_G);
    pk_gej tp[TABLE_P];
    if (la) {
        pk_gej p2;
        pk_gej_set_ge(&tp[0], p);
        pk_gej_double(&p2, &tp[0]);
        for (int i = 1; i < TABLE_P; i++)
            pk_gej_add(&tp[i], &tp[i - 1], &p2);
    }
    int bits = la > lg ? la : lg;
    r->inf = 1;
    for (int i = bits - 1; i >= 0; i--) {
        pk_gej_double(r, r);
        if (wa[i]) {
            pk_gej t;
            if (wa[i] > 0)
                t = tp[wa[i] / 2];
            else
                pk_gej_neg(&t, &tp[-wa[i] / 2]);
            pk_gej_add(r, r, &t);
        }
        if (wg[i]) {
            pk_ge t;
            if (wg[i] > 0)
                t = g_table[wg[i] / 2];
            else
                pk_ge_neg(&t, &g_table[-wg[i] / 2]);
            pk_gej_add_ge(r, r, &t);
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
static int lift_x(pk_ge *r, const uint8_t x32[32])
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
    return lift_x(&p, xonly);
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
    if (!lift_x(&p, xonly) || !pk_fe_set_b32(&rx, sig64) || pk_scalar_set_b32(&s, sig64 + 32))
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
