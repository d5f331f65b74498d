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

void pk_scalar_inverse(pk_scalar *r, const pk_scalar *a)
{
    static const uint64_t e[4] = {0xBFD25E8CD036413Full, 0xBAAEDCE6AF48A03Bull, 0xFFFFFFFFFFFFFFFEull,
                                  0xFFFFFFFFFFFFFFFFull};
    pk_scalar acc = {{1, 0, 0, 0}};
    for (int i = 255; i >= 0; i--) {
        pk_scalar_mul(&acc, &acc, &acc);
        if (e[i / 64] >> (i % 64) & 1)
            pk_scalar_mul(&acc, &acc, a);
    }
    *r = acc;
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
