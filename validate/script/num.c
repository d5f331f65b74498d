/* CScriptNum: the script's numbers, little-endian sign-magnitude, at most
 * 4 bytes as operands (5 for the lock times), minimal on request. */
#include <string.h>

#include "script_internal.h"

int pk_scr_num_get(const pk_selem *e, int minimal, size_t max, int64_t *out)
{
    size_t n = e->len;
    const uint8_t *d = pk_se_data(e);
    if (n > max)
        return 0;
    if (minimal && n > 0) {
        /* The last byte may only be 0x00 or 0x80 when the byte before
         * needs its top bit for the magnitude. */
        if ((d[n - 1] & 0x7f) == 0 && (n <= 1 || (d[n - 2] & 0x80) == 0))
            return 0;
    }
    if (n == 0) {
        *out = 0;
        return 1;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (int64_t)d[i] << (8 * i);
    if (d[n - 1] & 0x80)
        v = -(int64_t)(v & ~((int64_t)0x80 << (8 * (n - 1))));
    *out = v;
    return 1;
}

void pk_scr_num_set(pk_selem *e, int64_t v)
{
    e->own = 1;
    e->p = NULL;
    e->len = 0;
    if (v == 0)
        return;
    int neg = v < 0;
    uint64_t a = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    while (a) {
        e->buf[n++] = (uint8_t)a;
        a >>= 8;
    }
    /* A top bit in use takes one more byte for the sign. */
    if (e->buf[n - 1] & 0x80)
        e->buf[n++] = neg ? 0x80 : 0x00;
    else if (neg)
        e->buf[n - 1] |= 0x80;
    e->len = (uint32_t)n;
}
