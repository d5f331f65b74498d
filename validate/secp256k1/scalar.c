/* Scalars mod the secp256k1 group order (see scalar.h). */
#include "scalar.h"

#include <string.h>

typedef unsigned __int128 u128;

static const uint64_t N[4] = {0xBFD25E8CD0364141ull, 0xBAAEDCE6AF48A03Bull, 0xFFFFFFFFFFFFFFFEull,
                              0xFFFFFFFFFFFFFFFFull};
/* 2^256 - n */
static const uint64_t C[3] = {0x402DA1732FC9BEBFull, 0x4551231950B75FC4ull, 1};

static int geq_n(const uint64_t a[4])
{
    for (int i = 3; i >= 0; i--)
        if (a[i] != N[i])
            return a[i] > N[i];
    return 1;
}

static void sub_n(uint64_t a[4])
{
    u128 borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 t = (u128)a[i] - N[i] - borrow;
        a[i] = (uint64_t)t;
        borrow = (t >> 64) & 1;
    }
}

/* x (len words) mod n into r: the words above the fourth folded back as
 * times C until none is left, then n subtracted while it fits. */
static void reduce(pk_scalar *r, uint64_t x[8], int len)
{
    while (len > 4) {
        uint64_t y[8] = {x[0], x[1], x[2], x[3], 0, 0, 0, 0};
        for (int i = 4; i < len; i++) {
            if (!x[i])
                continue;
            u128 carry = 0;
            int k = i - 4;
            for (int j = 0; j < 3; j++, k++) {
                carry += (u128)x[i] * C[j] + y[k];
                y[k] = (uint64_t)carry;
                carry >>= 64;
            }
            for (; carry && k < 8; k++) {
                carry += y[k];
                y[k] = (uint64_t)carry;
                carry >>= 64;
            }
        }
        memcpy(x, y, sizeof y);
        len = 8;
        while (len > 4 && !x[len - 1])
            len--;
    }
    while (geq_n(x))
        sub_n(x);
    memcpy(r->d, x, 32);
}

int pk_scalar_set_b32(pk_scalar *r, const uint8_t b[32])
{
    uint64_t x[8] = {0};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 8; k++)
            x[i] = x[i] << 8 | b[24 - 8 * i + k];
    int over = geq_n(x);
    reduce(r, x, 4);
    return over;
}

void pk_scalar_get_b32(uint8_t b[32], const pk_scalar *a)
{
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 8; k++)
            b[31 - 8 * i - k] = (uint8_t)(a->d[i] >> (8 * k));
}

int pk_scalar_is_zero(const pk_scalar *a) { return (a->d[0] | a->d[1] | a->d[2] | a->d[3]) == 0; }

void pk_scalar_mul(pk_scalar *r, const pk_scalar *a, const pk_scalar *b)
{
    uint64_t x[8] = {0};
    for (int i = 0; i < 4; i++) {
        u128 carry = 0;
        for (int j = 0; j < 4; j++) {
            carry += (u128)a->d[i] * b->d[j] + x[i + j];
            x[i + j] = (uint64_t)carry;
            carry >>= 64;
        }
        x[i + 4] = (uint64_t)carry;
    }
    reduce(r, x, 8);
}

void pk_scalar_add(pk_scalar *r, const pk_scalar *a, const pk_scalar *b)
{
    uint64_t x[8] = {0};
    u128 carry = 0;
    for (int i = 0; i < 4; i++) {
        carry += (u128)a->d[i] + b->d[i];
        x[i] = (uint64_t)carry;
        carry >>= 64;
    }
    x[4] = (uint64_t)carry;
    reduce(r, x, 5);
}

void pk_scalar_negate(pk_scalar *r, const pk_scalar *a)
{
    if (pk_scalar_is_zero(a)) {
        *r = *a;
        return;
    }
    u128 borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 t = (u128)N[i] - a->d[i] - borrow;
        r->d[i] = (uint64_t)t;
        borrow = (t >> 64) & 1;
    }
}

/* 4-word helpers for the inverse. */
static int is_one(const uint64_t a[4]) { return a[0] == 1 && (a[1] | a[2] | a[3]) == 0; }
static int geq(const uint64_t a[4], const uint64_t b[4])
{
    for (int i = 3; i >= 0; i--)
        if (a[i] != b[i])
            return a[i] > b[i];
    return 1;
}
static void sub4(uint64_t a[4], const uint64_t b[4])
{
    u128 borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 t = (u128)a[i] - b[i] - borrow;
        a[i] = (uint64_t)t;
        borrow = (t >> 64) & 1;
    }
}
static void half4(uint64_t a[4], uint64_t top)
{
    for (int i = 0; i < 3; i++)
        a[i] = a[i] >> 1 | a[i + 1] << 63;
    a[3] = a[3] >> 1 | top << 63;
}
/* x / 2 mod n: x even halves, x odd is x + n (odd + odd) then halved. */
static void half_mod_n(uint64_t x[4])
{
    if (!(x[0] & 1)) {
        half4(x, 0);
        return;
    }
    u128 carry = 0;
    for (int i = 0; i < 4; i++) {
        carry += (u128)x[i] + N[i];
        x[i] = (uint64_t)carry;
        carry >>= 64;
    }
    half4(x, (uint64_t)carry);
}
/* x - y mod n (both below n). */
static void sub_mod_n(uint64_t x[4], const uint64_t y[4])
{
    if (geq(x, y)) {
        sub4(x, y);
        return;
    }
    uint64_t t[4];
    memcpy(t, N, sizeof t);
    sub4(t, y);
    u128 carry = 0;
    for (int i = 0; i < 4; i++) { /* x + (n - y), below n */
        carry += (u128)x[i] + t[i];
        x[i] = (uint64_t)carry;
        carry >>= 64;
    }
}

/* 1/a by the binary extended Euclidean algorithm (n is odd; a nonzero):
 * invariants x1 a = u, x2 a = v (mod n).  Variable time: public data. */
void pk_scalar_inverse(pk_scalar *r, const pk_scalar *a)
{
    uint64_t u[4], v[4], x1[4] = {1, 0, 0, 0}, x2[4] = {0, 0, 0, 0};
    memcpy(u, a->d, 32);
    memcpy(v, N, 32);
    while (!is_one(u) && !is_one(v)) {
        while (!(u[0] & 1)) {
            half4(u, 0);
            half_mod_n(x1);
        }
        while (!(v[0] & 1)) {
            half4(v, 0);
            half_mod_n(x2);
        }
        if (geq(u, v)) {
            sub4(u, v);
            sub_mod_n(x1, x2);
        } else {
            sub4(v, u);
            sub_mod_n(x2, x1);
        }
    }
    memcpy(r->d, is_one(u) ? x1 : x2, 32);
}

int pk_scalar_wnaf(int *out, int len, const pk_scalar *a, int w)
{
    uint64_t k[5] = {a->d[0], a->d[1], a->d[2], a->d[3], 0};
    const int64_t full = (int64_t)1 << w, half = full >> 1;
    int last = -1;
    memset(out, 0, (size_t)len * sizeof *out);
    for (int i = 0; i < len && (k[0] | k[1] | k[2] | k[3] | k[4]); i++) {
        if (k[0] & 1) {
            int64_t d = (int64_t)(k[0] & (uint64_t)(full - 1));
            if (d >= half)
                d -= full;
            out[i] = (int)d;
            last = i;
            /* k -= d: the low w bits become zero */
            if (d > 0) {
                uint64_t before = k[0];
                k[0] -= (uint64_t)d;
                for (int j = 1; j < 5 && k[j - 1] > before; j++) {
                    before = k[j];
                    k[j]--;
                }
            } else {
                uint64_t before = k[0];
                k[0] += (uint64_t)(-d);
                for (int j = 1; j < 5 && k[j - 1] < before; j++) {
                    before = k[j];
                    k[j]++;
                }
            }
        }
        for (int j = 0; j < 4; j++)
            k[j] = k[j] >> 1 | k[j + 1] << 63;
        k[4] >>= 1;
    }
    return last + 1;
}

/* ---- the GLV split ---- */

/* lambda: a cube root of 1 mod n; lambda * (x, y) = (beta x, y) on the curve. */
static const pk_scalar LAMBDA = {{0xDF02967C1B23BD72ull, 0x122E22EA20816678ull, 0xA5261C028812645Aull,
                                  0x5363AD4CC05C30E0ull}};
/* A short basis of {(a, b): a + b lambda = 0 mod n}, found by the extended
 * Euclidean algorithm on (n, lambda): (a1, b1), (a2, b2), b2 = a1.  The
 * split uses -b1 and -b2 mod n, and g_i = round(2^384 * {b2, -b1} / n). */
static const pk_scalar MINUS_B1 = {{0x6F547FA90ABFE4C3ull, 0xE4437ED6010E8828ull, 0, 0}};
static const pk_scalar MINUS_B2 = {{0xD765CDA83DB1562Cull, 0x8A280AC50774346Dull, 0xFFFFFFFFFFFFFFFEull,
                                    0xFFFFFFFFFFFFFFFFull}};
static const uint64_t G1[4] = {0xE893209A45DBB031ull, 0x3DAA8A1471E8CA7Full, 0xE86C90E49284EB15ull,
                               0x3086D221A7D46BCDull};
static const uint64_t G2[4] = {0x1571B4AE8AC47F71ull, 0x221208AC9DF506C6ull, 0x6F547FA90ABFE4C4ull,
                               0xE4437ED6010E8828ull};

/* round(k * g / 2^384), below 2^128. */
static void mul_shift_384(pk_scalar *r, const pk_scalar *k, const uint64_t g[4])
{
    uint64_t x[8] = {0};
    for (int i = 0; i < 4; i++) {
        u128 carry = 0;
        for (int j = 0; j < 4; j++) {
            carry += (u128)k->d[i] * g[j] + x[i + j];
            x[i + j] = (uint64_t)carry;
            carry >>= 64;
        }
        x[i + 4] = (uint64_t)carry;
    }
    u128 round = (u128)x[6] + (x[5] >> 63);
    r->d[0] = (uint64_t)round;
    r->d[1] = x[7] + (uint64_t)(round >> 64);
    r->d[2] = r->d[3] = 0;
}

void pk_scalar_split_lambda(pk_scalar *k1, pk_scalar *k2, const pk_scalar *k)
{
    pk_scalar c1, c2, t;
    mul_shift_384(&c1, k, G1);
    mul_shift_384(&c2, k, G2);
    pk_scalar_mul(&c1, &c1, &MINUS_B1);
    pk_scalar_mul(&c2, &c2, &MINUS_B2);
    pk_scalar_add(k2, &c1, &c2);
    pk_scalar_mul(&t, k2, &LAMBDA);
    pk_scalar_negate(&t, &t);
    pk_scalar_add(k1, k, &t);
}

int pk_scalar_is_high(const pk_scalar *a)
{
    /* above (n - 1) / 2 = 7FFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF 5D576E73 57A4501D DFE92F46 681B20A0 */
    static const uint64_t H[4] = {0xDFE92F46681B20A0ull, 0x5D576E7357A4501Dull, 0xFFFFFFFFFFFFFFFFull,
                                  0x7FFFFFFFFFFFFFFFull};
    for (int i = 3; i >= 0; i--)
        if (a->d[i] != H[i])
            return a->d[i] > H[i];
    return 0;
}
