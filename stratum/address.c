#include <stdio.h>
#include <string.h>

#include "powkit/address.h"
#include "powkit/sha256.h"

static const char *CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod(const uint8_t *v, size_t n)
{
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t chk = 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t top = (uint8_t)(chk >> 25);
        chk = (chk & 0x1ffffff) << 5 ^ v[i];
        for (int k = 0; k < 5; k++)
            if ((top >> k) & 1)
                chk ^= gen[k];
    }
    return chk;
}

int pk_bech32_decode(const char *s, char hrp[84], uint8_t data[90], size_t *len)
{
    size_t n = strlen(s);
    if (n < 8 || n > 90)
        return 0;
    int lower = 0, upper = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return 0;
        lower |= c >= 'a' && c <= 'z';
        upper |= c >= 'A' && c <= 'Z';
    }
    if (lower && upper)
        return 0;
    const char *sep = strrchr(s, '1');
    if (!sep)
        return 0;
    size_t hl = (size_t)(sep - s), dl = n - hl - 1;
    if (hl < 1 || hl > 83 || dl < 6)
        return 0;
    uint8_t v[200];
    size_t k = 0;
    for (size_t i = 0; i < hl; i++) {
        char c = (char)(s[i] | 0x20 * (s[i] >= 'A' && s[i] <= 'Z'));
        hrp[i] = c;
        v[k++] = (uint8_t)((unsigned char)c >> 5);
    }
    hrp[hl] = 0;
    v[k++] = 0;
    for (size_t i = 0; i < hl; i++)
        v[k++] = (uint8_t)((unsigned char)hrp[i] & 31);
    for (size_t i = 0; i < dl; i++) {
        char c = (char)(sep[1 + i] | 0x20 * (sep[1 + i] >= 'A' && sep[1 + i] <= 'Z'));
        const char *p = strchr(CHARSET, c);
        if (!p || !c)
            return 0;
        data[i] = (uint8_t)(p - CHARSET);
        v[k++] = data[i];
    }
    uint32_t chk = polymod(v, k);
    *len = dl - 6;
    return chk == 1 ? PK_BECH32 : chk == 0x2bc830a3 ? PK_BECH32M : 0;
}

/* 5-bit groups to bytes; the padding must be zero and under 5 bits. */
static int from5(const uint8_t *in, size_t n, uint8_t *out, size_t *olen, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    *olen = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 5 | in[i];
        bits += 5;
        while (bits >= 8) {
            bits -= 8;
            if (*olen == cap)
                return -1;
            out[(*olen)++] = (uint8_t)(acc >> bits);
        }
    }
    return bits >= 5 || (acc & ((1u << bits) - 1)) ? -1 : 0;
}

static const char *segwit_hrp(pk_chain c)
{
    return c == PK_CHAIN_MAIN ? "bc" : c == PK_CHAIN_REGTEST ? "bcrt" : "tb";
}

static int base58check(const char *s, uint8_t *out, size_t *len)
{
    static const char *A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    uint8_t b[64] = {0};
    size_t n = strlen(s), zeros = 0;
    if (n == 0 || n > 50)
        return -1;
    while (zeros < n && s[zeros] == '1')
        zeros++;
    size_t size = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(A, s[i]);
        if (!p || !s[i])
            return -1;
        uint32_t carry = (uint32_t)(p - A);
        for (size_t j = 0; j < size || carry; j++) {
            if (j >= sizeof b)
                return -1;
            carry += 58u * b[sizeof b - 1 - j];
            b[sizeof b - 1 - j] = (uint8_t)carry;
            carry >>= 8;
            if (j + 1 > size)
                size = j + 1;
        }
    }
    size_t total = zeros + size;
    if (total < 5 || total > sizeof b)
        return -1;
    memset(out, 0, zeros);
    memcpy(out + zeros, b + sizeof b - size, size);
    uint8_t h[32];
    pk_sha256d(out, total - 4, h);
    if (memcmp(h, out + total - 4, 4) != 0)
        return -1;
    *len = total - 4;
    return 0;
}

int pk_address_to_script(const char *addr, pk_chain chain, uint8_t script[PK_SCRIPT_MAX],
                         size_t *len, char *err, size_t errlen)
{
    char hrp[84];
    uint8_t d5[90], prog[64];
    size_t n5, plen;
    int enc = pk_bech32_decode(addr, hrp, d5, &n5);
    if (enc) {
        if (strcmp(hrp, segwit_hrp(chain)) != 0) {
            snprintf(err, errlen, "address '%s' is for another network (prefix '%s', this chain wants '%s')",
                     addr, hrp, segwit_hrp(chain));
            return -1;
        }
        if (n5 < 1 || d5[0] > 16) {
            snprintf(err, errlen, "address '%s': no valid witness version", addr);
            return -1;
        }
        int ver = d5[0];
        if (from5(d5 + 1, n5 - 1, prog, &plen, sizeof prog) || plen < 2 || plen > 40) {
            snprintf(err, errlen, "address '%s': witness program must be 2 to 40 bytes with zero padding", addr);
            return -1;
        }
        if (ver == 0 && plen != 20 && plen != 32) {
            snprintf(err, errlen, "address '%s': version 0 programs are 20 or 32 bytes", addr);
            return -1;
        }
        if ((ver == 0) != (enc == PK_BECH32)) {
            snprintf(err, errlen, "address '%s': version %d needs %s", addr, ver, ver ? "Bech32m" : "Bech32");
            return -1;
        }
        script[0] = (uint8_t)(ver ? 0x50 + ver : 0);
        script[1] = (uint8_t)plen;
        memcpy(script + 2, prog, plen);
        *len = 2 + plen;
        return 0;
    }
    uint8_t raw[64];
    size_t rl;
    if (base58check(addr, raw, &rl) == 0 && rl == 21) {
        uint8_t p2pkh = chain == PK_CHAIN_MAIN ? 0x00 : 0x6f, p2sh = chain == PK_CHAIN_MAIN ? 0x05 : 0xc4;
        if (raw[0] == p2pkh) {
            static const uint8_t pre[3] = {0x76, 0xa9, 0x14};
            memcpy(script, pre, 3);
            memcpy(script + 3, raw + 1, 20);
            script[23] = 0x88, script[24] = 0xac;
            *len = 25;
            return 0;
        }
        if (raw[0] == p2sh) {
            script[0] = 0xa9, script[1] = 0x14;
            memcpy(script + 2, raw + 1, 20);
            script[22] = 0x87;
            *len = 23;
            return 0;
        }
        snprintf(err, errlen, "address '%s' is for another network (version byte 0x%02x)", addr, raw[0]);
        return -1;
    }
    snprintf(err, errlen, "'%s' is not a valid address (Base58Check or Bech32/Bech32m)", addr);
    return -1;
}
