/* General SHA-256: streaming, one-shot and double, over the fastest block
 * compression this CPU passes a self-test with.  The choice is made once,
 * thread-safely, at first use. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/cpu.h"
#include "powkit/sha256.h"
#include "../base/arch.h"
#include "sha256_internal.h"

static pk_compress_fn g_compress = pk_sha256_compress_ref;
static const char *g_compress_name = "ref";
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* A compression passes when two chained blocks of a fixed pattern give the
 * same state as the portable code. */
static int compress_selftest(pk_compress_fn fn)
{
    uint8_t blocks[128];
    for (int i = 0; i < 128; i++)
        blocks[i] = (uint8_t)(i * 7 + 3);
    uint32_t a[8], b[8];
    memcpy(a, pk_sha256_iv, sizeof a);
    memcpy(b, pk_sha256_iv, sizeof b);
    pk_sha256_compress_ref(a, blocks, 2);
    fn(b, blocks, 2);
    return memcmp(a, b, sizeof a) == 0;
}

static void choose_compress(void)
{
#if PK_X86_SIMD
    if ((pk_cpu_features() & PK_CPU_SHA) && !pk_name_in_list(getenv("POWKIT_DISABLE"), "shani") &&
        compress_selftest(pk_sha256_compress_shani)) {
        g_compress = pk_sha256_compress_shani;
        g_compress_name = "shani";
    }
#elif PK_ARM_SIMD
    if ((pk_cpu_features() & PK_CPU_ARM_SHA2) && !pk_name_in_list(getenv("POWKIT_DISABLE"), "armsha") &&
        compress_selftest(pk_sha256_compress_armsha)) {
        g_compress = pk_sha256_compress_armsha;
        g_compress_name = "armsha";
    }
#else
    (void)compress_selftest;
#endif
}

static pk_compress_fn compress(void)
{
    pthread_once(&g_once, choose_compress);
    return g_compress;
}

const char *pk_sha256_implementation(void)
{
    pthread_once(&g_once, choose_compress);
    return g_compress_name;
}

void pk_sha256_init(pk_sha256_ctx *ctx)
{
    memcpy(ctx->state, pk_sha256_iv, sizeof ctx->state);
    ctx->bytes = 0;
}

void pk_sha256_update(pk_sha256_ctx *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;
    pk_compress_fn fn = compress();
    size_t used = (size_t)(ctx->bytes % 64);
    ctx->bytes += len;
    if (used) {
        size_t take = 64 - used < len ? 64 - used : len;
        memcpy(ctx->buf + used, p, take);
        p += take;
        len -= take;
        if (used + take < 64)
            return;
        fn(ctx->state, ctx->buf, 1);
    }
    if (len >= 64) {
        fn(ctx->state, p, len / 64);
        p += len & ~(size_t)63;
        len &= 63;
    }
    if (len)
        memcpy(ctx->buf, p, len);
}

void pk_sha256_final(pk_sha256_ctx *ctx, uint8_t out[PK_SHA256_SIZE])
{
    static const uint8_t pad[64] = {0x80};
    uint64_t bits = ctx->bytes * 8;
    size_t used = (size_t)(ctx->bytes % 64);
    pk_sha256_update(ctx, pad, used < 56 ? 56 - used : 120 - used);
    uint8_t len_be[8];
    pk_store_be32(len_be, (uint32_t)(bits >> 32));
    pk_store_be32(len_be + 4, (uint32_t)bits);
    pk_sha256_update(ctx, len_be, 8);
    for (int i = 0; i < 8; i++)
        pk_store_be32(out + 4 * i, ctx->state[i]);
    pk_sha256_init(ctx);
}

void pk_sha256(const void *data, size_t len, uint8_t out[PK_SHA256_SIZE])
{
    pk_sha256_ctx ctx;
    pk_sha256_init(&ctx);
    pk_sha256_update(&ctx, data, len);
    pk_sha256_final(&ctx, out);
}

void pk_sha256d(const void *data, size_t len, uint8_t out[PK_SHA256_SIZE])
{
    uint8_t first[PK_SHA256_SIZE];
    pk_sha256(data, len, first);
    pk_sha256(first, sizeof first, out);
}

void pk_sha256_midstate(const uint8_t block[PK_SHA256_BLOCK], uint32_t out[8])
{
    memcpy(out, pk_sha256_iv, 8 * sizeof out[0]);
    compress()(out, block, 1);
}
