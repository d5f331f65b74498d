/* Small helpers every layer uses: hex, CompactSize, time, random seeds
 * and back-off, URL redaction. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "powkit/error.h"
#include "powkit/util.h"

void pk_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pk_hex_decode(const char *hex, uint8_t *out, size_t len)
{
    if (!hex || strlen(hex) != 2 * len)
        return PK_EINVAL;
    for (size_t i = 0; i < 2 * len; i++) {
        if (hexval(hex[i]) < 0)
            return PK_EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    return PK_OK;
}

void pk_hash_to_hex(const uint8_t hash[32], char out[65])
{
    uint8_t rev[32];
    for (int i = 0; i < 32; i++)
        rev[i] = hash[31 - i];
    pk_hex_encode(rev, 32, out);
}

size_t pk_compact_put(uint8_t *p, uint64_t v)
{
    size_t n = v < 0xfd ? 0 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    if (n == 0) {
        p[0] = (uint8_t)v;
        return 1;
    }
    p[0] = n == 2 ? 0xfd : n == 4 ? 0xfe : 0xff;
    for (size_t i = 0; i < n; i++)
        p[1 + i] = (uint8_t)(v >> (8 * i));
    return n + 1;
}

double pk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t pk_random_seed(void)
{
    uint64_t v = 0;
    /* The kernel's CSPRNG; the clock and pid only if it cannot answer. */
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
    }
    return v;
}

uint64_t pk_rng_next(uint64_t *state)
{
    /* splitmix64: any seed, every output well mixed */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t pk_jitter_ms(uint64_t *state, uint64_t base_ms)
{
    return base_ms * (750 + pk_rng_next(state) % 501) / 1000;
}

uint64_t pk_backoff_next(unsigned *backoff_ms, unsigned min_ms, unsigned max_ms, uint64_t *rng)
{
    unsigned b = *backoff_ms ? *backoff_ms * 2 : min_ms;
    if (b > max_ms)
        b = max_ms;
    *backoff_ms = b;
    return pk_jitter_ms(rng, b);
}

void pk_url_redact(const char *url, char *out, size_t len)
{
    /* scheme://user:password@host...: everything before the '@' of the
     * authority is a credential. */
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', alen);
    for (const char *p = at; p && (p = memchr(p + 1, '@', alen - (size_t)(p + 1 - auth)));)
        at = p; /* the last '@' ends the credentials */
    if (!at) {
        snprintf(out, len, "%s", url);
        return;
    }
    snprintf(out, len, "%.*s***@%s", (int)(auth - url), url, at + 1);
}
