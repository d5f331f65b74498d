#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/sha256.h"
#include "testutil.h"

uint64_t tu_next(tu_rng *r)
{
    /* splitmix64: good enough spread for test inputs, reproducible. */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t tu_below(tu_rng *r, uint32_t n) { return (uint32_t)(tu_next(r) % n); }

void tu_fill(tu_rng *r, void *buf, size_t len)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)tu_next(r);
}

uint8_t *tu_read_data(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", POWKIT_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "test data %s is missing", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

void tu_header_hash(const uint8_t header[80], uint32_t nonce, uint8_t out[32])
{
    uint8_t h[80];
    memcpy(h, header, 80);
    h[76] = (uint8_t)nonce;
    h[77] = (uint8_t)(nonce >> 8);
    h[78] = (uint8_t)(nonce >> 16);
    h[79] = (uint8_t)(nonce >> 24);
    pk_sha256d(h, 80, out);
}

size_t tu_scan_all(const pk_kernel *k, const pk_job *job, uint32_t start, uint64_t count,
                   uint32_t **found)
{
    size_t cap = (size_t)(count < 4096 ? count : 4096) + 1;
    *found = malloc(cap * sizeof **found);
    cr_assert(*found);
    size_t n = k->scan(job, start, count, *found, cap);
    if (n > cap) {
        free(*found);
        *found = malloc(n * sizeof **found);
        cr_assert(*found);
        cr_assert_eq(k->scan(job, start, count, *found, n), n);
    }
    return n;
}

int tu_run(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    return pclose(p);
}
