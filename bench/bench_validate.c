/* Validation speed, side by side in one run (median of alternating
 * rounds), one core:
 *  - headers: pk_headers_verify (hash, target, link, rule; hashes in SIMD
 *    batches) against hashing and checking one header at a time;
 *  - merkle: pk_sha256d64_many against one 64-byte double hash at a time;
 *  - a block's txids and merkle root: pk_block_hash_txs + pk_merkle_root
 *    against one message at a time;
 *  - the script interpreter's rows (bench/script_rows.c): block 413,567
 *    with and without it, its cost per input by kind, and a tapscript
 *    block with the batch engine against libsecp256k1 one by one.
 *
 * usage: bench_validate [ROUNDS=5] [HEADERS_FILE] [BLOCK_FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/kernel.h"
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "powkit/validate.h"

void pk_bench_script_rows(int rounds, const uint8_t *blk, size_t blen);

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    if (b && fread(b, 1, *len, f) != *len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double med(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

/* One at a time: hash, target, link. */
static int headers_scalar(const uint8_t *h, size_t n)
{
    uint8_t prev[32], hash[32], target[32];
    for (size_t i = 0; i < n; i++) {
        pk_sha256d(h + 80 * i, 80, hash);
        uint32_t bits = (uint32_t)h[80 * i + 72] | (uint32_t)h[80 * i + 73] << 8 |
                        (uint32_t)h[80 * i + 74] << 16 | (uint32_t)h[80 * i + 75] << 24;
        if (pk_bits_to_target(bits, target) || !pk_hash_meets_target(hash, target))
            return -1;
        if (i && memcmp(h + 80 * i + 4, prev, 32))
            return -1;
        memcpy(prev, hash, 32);
    }
    return 0;
}

static void merkle_scalar(uint8_t (*ids)[32], size_t n, uint8_t root[32])
{
    while (n > 1) {
        if (n & 1) {
            memcpy(ids[n], ids[n - 1], 32);
            n++;
        }
        for (size_t i = 0; i < n / 2; i++)
            pk_sha256d(ids[2 * i], 64, ids[i]);
        n /= 2;
    }
    memcpy(root, ids[0], 32);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    const char *hfile = argc > 2 ? argv[2] : POWKIT_SOURCE_DIR "/tests/data/mainnet-headers-822528-830592.bin";
    const char *bfile = argc > 3 ? argv[3] : POWKIT_SOURCE_DIR "/tests/data/block413567.raw";
    if (rounds < 1 || rounds > 50) {
        fprintf(stderr, "usage: bench_validate [ROUNDS 1..50] [HEADERS_FILE] [BLOCK_FILE]\n");
        return 2;
    }
    size_t hlen, blen;
    uint8_t *hdrs = slurp(hfile, &hlen), *blk = slurp(bfile, &blen);
    if (!hdrs || !blk) {
        fprintf(stderr, "bench_validate: cannot read %s or %s\n", hfile, bfile);
        return 2;
    }
    size_t nh = hlen / 80;
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_MAIN);
    enum { NPAIRS = 1 << 16 };
    uint8_t *pairs = malloc(NPAIRS * 64), *out = malloc(NPAIRS * 32);
    for (size_t i = 0; i < NPAIRS * 64; i++)
        pairs[i] = (uint8_t)(i * 131 + 7);
    pk_block b;
    pk_verror e;
    if (pk_block_parse(&b, blk, blen, &e)) {
        fprintf(stderr, "bench_validate: %s: %s\n", bfile, e.msg);
        return 2;
    }
    uint8_t(*ids)[32] = malloc((b.ntx + 1) * 32), root[32];
    double hv[50], hs[50], mv[50], ms[50], bv[50], bs[50];
    for (int r = 0; r < rounds; r++) {
        pk_headers_report rep;
        double t0 = pk_now();
        int reps = 0;
        do {
            pk_headers_verify(hdrs, nh, 822528, &p, &rep, &e);
            reps++;
        } while (pk_now() - t0 < 0.2);
        hv[r] = reps * (double)nh / (pk_now() - t0) / 1e6;
        t0 = pk_now(), reps = 0;
        do {
            headers_scalar(hdrs, nh);
            reps++;
        } while (pk_now() - t0 < 0.2);
        hs[r] = reps * (double)nh / (pk_now() - t0) / 1e6;

        t0 = pk_now(), reps = 0;
        do {
            pk_sha256d64_many(pairs, NPAIRS, out);
            reps++;
        } while (pk_now() - t0 < 0.2);
        mv[r] = reps * (double)NPAIRS / (pk_now() - t0) / 1e6;
        t0 = pk_now(), reps = 0;
        do {
            for (size_t i = 0; i < NPAIRS; i++)
                pk_sha256d(pairs + 64 * i, 64, out + 32 * i);
            reps++;
        } while (pk_now() - t0 < 0.2);
        ms[r] = reps * (double)NPAIRS / (pk_now() - t0) / 1e6;

        t0 = pk_now(), reps = 0;
        do {
            pk_block_hash_txs(&b);
            for (size_t i = 0; i < b.ntx; i++)
                memcpy(ids[i], b.tx[i].txid, 32);
            pk_merkle_root((const uint8_t(*)[32])ids, b.ntx, root, NULL);
            reps++;
        } while (pk_now() - t0 < 0.2);
        bv[r] = (pk_now() - t0) / reps * 1e3;
        t0 = pk_now(), reps = 0;
        do {
            for (size_t i = 0; i < b.ntx; i++)
                pk_sha256d(blk + b.tx[i].offset, b.tx[i].size, ids[i]);
            merkle_scalar(ids, b.ntx, root);
            reps++;
        } while (pk_now() - t0 < 0.2);
        bs[r] = (pk_now() - t0) / reps * 1e3;
    }
    printf("bench_validate: multi-buffer paths %s (any length), %s (64 and 80 bytes), general SHA-256 %s, median "
           "of %d rounds, 1 core\n",
           pk_sha256_multi_implementation(), pk_sha256_multi_fixed_implementation(), pk_sha256_implementation(),
           rounds);
    double a = med(hv, rounds), c = med(hs, rounds);
    printf("headers (hash, target, link, rule): %.2f M/s vs %.2f M/s one at a time: %.2fx\n", a, c, a / c);
    a = med(mv, rounds), c = med(ms, rounds);
    printf("64-byte double hashes (merkle):     %.2f M/s vs %.2f M/s one at a time: %.2fx\n", a, c, a / c);
    a = med(bv, rounds), c = med(bs, rounds);
    printf("block 413567 txids + merkle root:   %.3f ms vs %.3f ms one message at a time: %.2fx\n", a, c,
           c / a);
    pk_block_free(&b);
    pk_bench_script_rows(rounds, blk, blen);
    return 0;
}
