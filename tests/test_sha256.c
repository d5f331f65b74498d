/* SHA-256: FIPS 180-4 / NIST vectors, streaming in every split, both block
 * compressions, midstate, the genesis header, and target arithmetic. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../base/arch.h"
#include "../kernels/ripemd160_internal.h"
#include "../kernels/sha256_internal.h"
#include "powkit/cpu.h"
#include "powkit/digest.h"
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "testutil.h"

/* d's first n bytes (32 at most) are hex. */
static void expect_hex_n(const uint8_t *d, size_t n, const char *hex)
{
    char got[65];
    pk_hex_encode(d, n, got);
    cr_assert_str_eq(got, hex);
}

static void expect_hex(const uint8_t d[32], const char *hex)
{
    expect_hex_n(d, 32, hex);
}

Test(sha256, nist_short_vectors)
{
    uint8_t d[32];
    pk_sha256("", 0, d);
    expect_hex(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pk_sha256("abc", 3, d);
    expect_hex(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    pk_sha256(m448, strlen(m448), d);
    expect_hex(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    pk_sha256(m896, strlen(m896), d);
    expect_hex(d, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, million_a_streamed)
{
    pk_sha256_ctx ctx;
    uint8_t chunk[1000], d[32];
    memset(chunk, 'a', sizeof chunk);
    pk_sha256_init(&ctx);
    for (int i = 0; i < 1000; i++)
        pk_sha256_update(&ctx, chunk, sizeof chunk);
    pk_sha256_final(&ctx, d);
    expect_hex(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, million_a_with_portable_compression)
{
    setenv("POWKIT_DISABLE", TU_SHA_FAMILY, 1); /* each test runs in its own process */
    cr_assert_str_eq(pk_sha256_implementation(), "ref");
    uint8_t *buf = malloc(1000000), d[32];
    memset(buf, 'a', 1000000);
    pk_sha256(buf, 1000000, d);
    free(buf);
    expect_hex(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, uses_sha_extensions_when_present)
{
    int on = (pk_cpu_features() & TU_SHA_CPU) && !pk_name_in_list(getenv("POWKIT_DISABLE"), TU_SHA_FAMILY);
    const char *want = on ? TU_SHA_FAMILY : "ref";
    cr_assert_str_eq(pk_sha256_implementation(), want);
}

Test(sha256, streaming_equals_one_shot_for_every_split)
{
    tu_rng r = {1};
    uint8_t msg[300];
    tu_fill(&r, msg, sizeof msg);
    for (size_t len = 0; len <= sizeof msg; len += 1 + len / 16) {
        uint8_t want[32], got[32];
        pk_sha256(msg, len, want);
        for (size_t split = 0; split <= len; split += 1 + split / 8) {
            pk_sha256_ctx ctx;
            pk_sha256_init(&ctx);
            pk_sha256_update(&ctx, msg, split);
            pk_sha256_update(&ctx, msg + split, 0);
            pk_sha256_update(&ctx, msg + split, len - split);
            pk_sha256_final(&ctx, got);
            cr_assert_arr_eq(got, want, 32, "len %zu split %zu", len, split);
        }
    }
}

Test(sha256, final_resets_the_context)
{
    pk_sha256_ctx ctx;
    uint8_t a[32], b[32];
    pk_sha256_init(&ctx);
    pk_sha256_update(&ctx, "junk", 4);
    pk_sha256_final(&ctx, a);
    pk_sha256_update(&ctx, "abc", 3);
    pk_sha256_final(&ctx, b);
    expect_hex(b, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The SHA-instruction compression of this build (SHA-NI, or ARMv8's). */
#if PK_ARM_SIMD
#define SHA_COMPRESS pk_sha256_compress_armsha
#define SHA_COMPRESS_MULTI pk_sha256_compress_armsha_multi
#elif PK_X86_SIMD
#define SHA_COMPRESS pk_sha256_compress_shani
#define SHA_COMPRESS_MULTI pk_sha256_compress_shani_multi
#endif
#ifdef SHA_COMPRESS
Test(sha256, sha_instructions_compression_matches_portable)
{
    if (!(pk_cpu_features() & TU_SHA_CPU))
        cr_skip_test("no SHA extensions on this CPU");
    tu_rng r = {2};
    for (int t = 0; t < 500; t++) {
        uint8_t blocks[64 * 5];
        uint32_t a[8], b[8];
        tu_fill(&r, blocks, sizeof blocks);
        tu_fill(&r, a, sizeof a);
        memcpy(b, a, sizeof a);
        size_t n = 1 + tu_below(&r, 5);
        pk_sha256_compress_ref(a, blocks, n);
        SHA_COMPRESS(b, blocks, n);
        cr_assert_arr_eq(a, b, sizeof a);
    }
}

Test(sha256, sha_instructions_multi_stream_matches_portable)
{
    if (!(pk_cpu_features() & TU_SHA_CPU))
        cr_skip_test("no SHA extensions on this CPU");
    tu_rng r = {4};
    for (size_t n = 1; n <= 17; n++) {
        uint8_t data[17][64];
        const uint8_t *blocks[17];
        uint32_t a[17][8], b[17][8];
        tu_fill(&r, data, sizeof data);
        tu_fill(&r, a, sizeof a);
        memcpy(b, a, sizeof a);
        for (size_t s = 0; s < n; s++) {
            blocks[s] = data[s];
            pk_sha256_compress_ref(a[s], data[s], 1);
        }
        SHA_COMPRESS_MULTI(b, blocks, n);
        cr_assert_arr_eq(a, b, sizeof a, "%zu streams", n);
    }
}

#endif

Test(sha256, genesis_header_double_hash)
{
    static const char *hex = "0100000000000000000000000000000000000000000000000000000000000000"
                             "000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa"
                             "4b1e5e4a29ab5f49ffff001d1dac2b7c";
    uint8_t header[80], d[32];
    char shown[65];
    cr_assert_eq(pk_hex_decode(hex, header, 80), 0);
    pk_sha256d(header, 80, d);
    pk_hash_to_hex(d, shown);
    cr_assert_str_eq(shown, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
}

Test(sha256, midstate_is_the_first_block_state)
{
    tu_rng r = {3};
    uint8_t header[80], d1[32], d2[32];
    tu_fill(&r, header, sizeof header);
    uint32_t mid[8];
    pk_sha256_midstate(header, mid);
    /* Finish by hand: second block plus padding, then hash again. */
    uint8_t block[64] = {0};
    memcpy(block, header + 64, 16);
    block[16] = 0x80;
    block[62] = 0x02; /* 640 bits */
    block[63] = 0x80;
    pk_sha256_compress_ref(mid, block, 1);
    for (int i = 0; i < 8; i++)
        pk_store_be32(d1 + 4 * i, mid[i]);
    pk_sha256(d1, 32, d1);
    pk_sha256d(header, 80, d2);
    cr_assert_arr_eq(d1, d2, 32);
}

Test(target, compact_bits)
{
    uint8_t t[32], want[32];
    cr_assert_eq(pk_bits_to_target(0x1d00ffff, t), 0);
    memset(want, 0, 32);
    want[26] = want[27] = 0xff;
    cr_assert_arr_eq(t, want, 32);

    cr_assert_eq(pk_bits_to_target(0x04123456, t), 0);
    memset(want, 0, 32);
    want[1] = 0x56, want[2] = 0x34, want[3] = 0x12;
    cr_assert_arr_eq(t, want, 32);

    cr_assert_eq(pk_bits_to_target(0x01123456, t), 0); /* size 1 keeps the top byte */
    memset(want, 0, 32);
    want[0] = 0x12;
    cr_assert_arr_eq(t, want, 32);

    cr_assert_eq(pk_bits_to_target(0x21000100, t), 0); /* largest that fits */
    memset(want, 0, 32);
    want[31] = 0x01;
    cr_assert_arr_eq(t, want, 32);

    cr_assert_eq(pk_bits_to_target(0x01fedcba, t), -1, "negative");
    cr_assert_eq(pk_bits_to_target(0x04923456, t), -1, "negative");
    cr_assert_eq(pk_bits_to_target(0x23000001, t), -1, "overflow");
    cr_assert_eq(pk_bits_to_target(0x22000100, t), -1, "overflow");
    cr_assert_eq(pk_bits_to_target(0x21010000, t), -1, "overflow");
    cr_assert_eq(pk_bits_to_target(0x00800000, t), 0, "negative zero is zero");
}

Test(target, pool_difficulty)
{
    uint8_t t[32], want[32];
    pk_difficulty_to_target(1.0, t);
    memset(want, 0, 32);
    want[26] = want[27] = 0xff;
    cr_assert_arr_eq(t, want, 32);
    pk_difficulty_to_target(2.0, t); /* 0xffff << 207 */
    memset(want, 0, 32);
    want[25] = 0x80, want[26] = 0xff, want[27] = 0x7f;
    cr_assert_arr_eq(t, want, 32);
    pk_difficulty_to_target(0.5, t); /* 0xffff << 209 */
    memset(want, 0, 32);
    want[26] = 0xfe, want[27] = 0xff, want[28] = 0x01;
    cr_assert_arr_eq(t, want, 32);
    pk_difficulty_to_target(0.0, t);
    memset(want, 0xff, 32);
    cr_assert_arr_eq(t, want, 32, "difficulty 0 accepts everything");
}

Test(target, hash_compare_is_little_endian)
{
    uint8_t h[32] = {0}, t[32] = {0};
    t[31] = 1;
    h[0] = 0xff; /* low byte large, high byte zero: below */
    cr_assert(pk_hash_meets_target(h, t));
    h[31] = 1;
    cr_assert_not(pk_hash_meets_target(h, t));
    memcpy(t, h, 32);
    cr_assert(pk_hash_meets_target(h, t), "equal meets");
}

Test(util, hex_decode_rejects_bad_input)
{
    uint8_t out[2] = {7, 7};
    cr_assert_eq(pk_hex_decode("0g12", out, 2), -1);
    cr_assert_eq(pk_hex_decode("012", out, 2), -1);
    cr_assert_eq(pk_hex_decode(NULL, out, 2), -1);
    cr_assert_eq(out[0], 7, "untouched on error");
    cr_assert_eq(pk_hex_decode("aBcD", out, 2), 0);
    cr_assert_eq(out[0], 0xab);
    cr_assert_eq(out[1], 0xcd);
}

/* Every multi-buffer path against one-at-a-time SHA256d: all lengths 0 to
 * 2,000 bytes, message counts from 1 to past two full lane groups. */
Test(sha256_many, every_path_matches_scalar_on_all_lengths, .timeout = 300)
{
    size_t npaths;
    const pk_multi_path *paths = pk_sha256_multi_paths(&npaths);
    enum { MAXLEN = 2000, N = MAXLEN + 1 };
    tu_rng r = {5};
    uint8_t *data = malloc(MAXLEN + 64);
    tu_fill(&r, data, MAXLEN + 64);
    const uint8_t **msgs = malloc(N * sizeof *msgs);
    size_t *lens = malloc(N * sizeof *lens);
    uint8_t(*want)[32] = malloc(N * 32), (*got)[32] = malloc(N * 32);
    for (size_t i = 0; i < N; i++) {
        msgs[i] = data + (i % 61); /* unaligned starts too */
        lens[i] = i;
        pk_sha256d(msgs[i], lens[i], want[i]);
    }
    for (size_t p = 0; p < npaths; p++) {
        if ((paths[p].cpu & pk_cpu_features()) != paths[p].cpu)
            continue;
        /* All lengths in one call: lanes refill with unequal messages. */
        memset(got, 0, N * 32);
        pk_sha256d_many_using(&paths[p], msgs, lens, N, got);
        cr_assert_arr_eq(got, want, N * 32, "%s: all lengths", paths[p].name);
        /* Every count up to two groups plus one, on mixed lengths. */
        for (size_t count = 1; count <= 2 * paths[p].lanes + 1; count++) {
            size_t off = tu_below(&r, N - count);
            pk_sha256d_many_using(&paths[p], msgs + off, lens + off, count, got);
            cr_assert_arr_eq(got, want + off, count * 32, "%s: %zu messages", paths[p].name, count);
        }
    }
    free(data);
    free(msgs);
    free(lens);
    free(want);
    free(got);
}

Test(sha256_many, d64_matches_scalar)
{
    tu_rng r = {6};
    enum { N = 1000 };
    uint8_t *in = malloc(N * 64), *out = malloc(N * 32), want[32];
    tu_fill(&r, in, N * 64);
    pk_sha256d64_many(in, N, out);
    for (size_t i = 0; i < N; i++) {
        pk_sha256d(in + 64 * i, 64, want);
        cr_assert_arr_eq(out + 32 * i, want, 32, "pair %zu", i);
    }
    free(in);
    free(out);
}

/* Every path's 64- and 80-byte double hashes (its own batches, then the
 * general path for the tail), for counts around the batch sizes, unaligned
 * input. */
Test(sha256_many, fixed_length_every_path_matches_scalar)
{
    size_t npaths;
    const pk_multi_path *paths = pk_sha256_multi_paths(&npaths);
    unsigned cpu = pk_cpu_features();
    enum { N = 200 };
    tu_rng r = {7};
    uint8_t *buf = malloc(N * 80 + 1), *in = buf + 1, *out = malloc(N * 32), want[32];
    tu_fill(&r, buf, N * 80 + 1);
    /* Around every batch size: 4 (SHA-NI, armsha), 8 (AVX2, NEON's two
     * groups), 16 and 32 (AVX-512's one and two groups). */
    static const size_t counts[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200};
    for (size_t p = 0; p < npaths; p++) {
        if ((paths[p].cpu & cpu) != paths[p].cpu)
            continue;
        for (size_t len = 64; len <= 80; len += 16) {
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
                memset(out, 0, N * 32);
                pk_sha256d_fixed_many_using(&paths[p], in, len, counts[c], out);
                for (size_t i = 0; i < counts[c]; i++) {
                    pk_sha256d(in + len * i, len, want);
                    cr_assert_arr_eq(out + 32 * i, want, 32, "%s, %zu bytes: %zu of %zu", paths[p].name, len, i,
                                     counts[c]);
                }
            }
        }
    }
    free(buf);
    free(out);
}

Test(sha256_many, disabled_paths_fall_back)
{
    setenv("POWKIT_DISABLE", TU_FAST_FAMILIES, 1);
    cr_assert_str_eq(pk_sha256_multi_implementation(), "ref");
    cr_assert_str_eq(pk_sha256_multi_fixed_implementation(), "ref");
    uint8_t in[64] = {1}, out[32], want[32];
    pk_sha256d64_many(in, 1, out);
    pk_sha256d(in, 64, want);
    cr_assert_arr_eq(out, want, 32);
}

Test(util, compact_size_boundaries)
{
    struct { uint64_t v; const char *hex; } c[] = {
        {0, "00"}, {0xfc, "fc"}, {0xfd, "fdfd00"}, {0xffff, "fdffff"}, {0x10000, "fe00000100"},
        {0xffffffffull, "feffffffff"}, {0x100000000ull, "ff0000000001000000"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint8_t b[9];
        char hex[19];
        size_t n = pk_compact_put(b, c[i].v);
        pk_hex_encode(b, n, hex);
        cr_assert_str_eq(hex, c[i].hex, "%llu", (unsigned long long)c[i].v);
    }
}

/* Single hashes after a shared prefix of whole blocks (BIP340's tagged
 * hash): every length from 0 to 300 against the streaming hash, in
 * batches that leave lanes empty. */
Test(sha256_many, after_a_prefix_matches_streaming)
{
    static uint8_t data[400], got[301][32], want[32];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 37 + 11);
    for (size_t prefix = 64; prefix <= 128; prefix += 64) {
        pk_sha256_ctx c;
        pk_sha256_init(&c);
        pk_sha256_update(&c, data + 99, prefix);
        const uint8_t *msgs[301];
        size_t lens[301];
        for (size_t i = 0; i <= 300; i++)
            msgs[i] = data + (i % 7), lens[i] = i;
        for (size_t batch = 1; batch <= 301; batch += 37) {
            for (size_t off = 0; off < 301; off += batch) {
                size_t k = 301 - off < batch ? 301 - off : batch;
                pk_sha256_many_from(c.state, prefix, msgs + off, lens + off, k, got + off);
            }
            for (size_t i = 0; i <= 300; i++) {
                pk_sha256_ctx d = c;
                pk_sha256_update(&d, msgs[i], lens[i]);
                pk_sha256_final(&d, want);
                cr_assert_arr_eq(got[i], want, 32, "prefix %zu, length %zu, batch %zu", prefix, i, batch);
            }
        }
    }
}

Test(digest, known_vectors)
{
    uint8_t d[20];
    pk_ripemd160("", 0, d);
    expect_hex_n(d, 20, "9c1185a5c5e9fc54612808977ee8f548b2258d31");
    pk_ripemd160("abc", 3, d);
    expect_hex_n(d, 20, "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc");
    pk_sha1("abc", 3, d);
    expect_hex_n(d, 20, "a9993e364706816aba3e25717850c26c9cd0d89d");
    pk_hash160("", 0, d);
    expect_hex_n(d, 20, "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb");
}

/* OpenSSL's RIPEMD160(SHA256(d)), the oracle. */
static void openssl_hash160(const uint8_t *d, size_t n, uint8_t out[20])
{
    uint8_t s[32];
    unsigned int ol = 0;
    cr_assert_eq(EVP_Digest(d, n, s, &ol, EVP_sha256(), NULL), 1);
    cr_assert_eq(EVP_Digest(s, 32, out, &ol, EVP_ripemd160(), NULL), 1);
}

/* Every RIPEMD-160 lane path this CPU has, against OpenSSL, on random
 * digests: counts 1 to 40 (every lane position, whole groups and tails)
 * and a long run; lanes past the count are never written. */
Test(digest, ripemd160_lanes_match_openssl)
{
    typedef size_t (*lanes_fn)(const uint8_t (*)[32], size_t, uint8_t (*)[20]);
    struct {
        const char *name;
        unsigned cpu;
        lanes_fn fn;
    } paths[] = {
#if PK_X86_SIMD
        {"avx512", PK_CPU_AVX512, pk_ripemd160_32_avx512},
        {"avx2", PK_CPU_AVX2, pk_ripemd160_32_avx2},
#endif
        {"many", 0, NULL},
    };
    enum { N = 1000 };
    static uint8_t in[N][32], got[N + 1][20];
    unsigned seed = 7;
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < 32; k++)
            in[i][k] = (uint8_t)rand_r(&seed);
    size_t ran = 0;
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        if ((pk_cpu_features() & paths[p].cpu) != paths[p].cpu)
            continue;
        ran++;
        for (size_t n = 1; n <= N; n = n < 40 ? n + 1 : n + N - 40) {
            memset(got, 0xa5, sizeof got);
            if (paths[p].fn)
                cr_assert_eq(paths[p].fn((const uint8_t(*)[32])in, n, got), n);
            else
                pk_ripemd160_32_many((const uint8_t(*)[32])in, n, got);
            for (size_t i = 0; i < n; i++) {
                uint8_t want[20];
                unsigned int ol = 0;
                EVP_Digest(in[i], 32, want, &ol, EVP_ripemd160(), NULL);
                cr_assert_arr_eq(got[i], want, 20, "%s: message %zu of %zu", paths[p].name, i, n);
            }
            for (size_t k = 0; k < 20; k++)
                cr_assert_eq(got[n][k], 0xa5, "%s: wrote past %zu", paths[p].name, n);
        }
    }
    cr_assert_geq(ran, 1);
}

/* HASH160 of many messages of random lengths (0 to 300 bytes: one to six
 * SHA-256 blocks), counts across the 64-message groups, against OpenSSL. */
Test(digest, hash160_many_matches_openssl)
{
    enum { N = 300 };
    static uint8_t buf[N * 300], out[N][20];
    const uint8_t *msgs[N];
    size_t lens[N];
    unsigned seed = 11;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rand_r(&seed);
    for (size_t i = 0; i < N; i++) {
        msgs[i] = buf + (size_t)rand_r(&seed) % (sizeof buf - 300);
        lens[i] = i < 4 ? (size_t[]){0, 33, 65, 105}[i] : (size_t)rand_r(&seed) % 301;
    }
    const size_t counts[] = {0, 1, 5, 63, 64, 65, 129, N};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        pk_hash160_many(msgs, lens, counts[c], out);
        for (size_t i = 0; i < counts[c]; i++) {
            uint8_t want[20];
            openssl_hash160(msgs[i], lens[i], want);
            cr_assert_arr_eq(out[i], want, 20, "message %zu (%zu bytes) of %zu", i, lens[i], counts[c]);
        }
    }
}

Test(digest, hash160_many_falls_back_to_openssl)
{
    setenv("POWKIT_DISABLE", TU_FAST_FAMILIES, 1);
    cr_assert_str_eq(pk_ripemd160_multi_implementation(), "openssl");
    const uint8_t *m[2] = {(const uint8_t *)"abc", (const uint8_t *)""};
    size_t l[2] = {3, 0};
    uint8_t out[2][20], want[20];
    pk_hash160_many(m, l, 2, out);
    openssl_hash160(m[0], 3, want);
    cr_assert_arr_eq(out[0], want, 20);
    expect_hex_n(out[1], 20, "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb");
}

Test(digest, widest_ripemd160_lanes_chosen)
{
    unsigned f = pk_cpu_features();
    const char *want = "openssl";
#if PK_X86_SIMD
    if (f & PK_CPU_AVX512)
        want = "avx512";
    else if (f & PK_CPU_AVX2)
        want = "avx2";
#endif
    (void)f;
    unsetenv("POWKIT_DISABLE");
    cr_assert_str_eq(pk_ripemd160_multi_implementation(), want);
}

/* Each thread keeps its own digest context: threads hashing at once must
 * each get OpenSSL's own one-shot answer for every input. */
static void *digest_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    uint8_t buf[300], a[20], b[20];
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rand_r(&seed);
        unsigned int ol = 0;
        int sha1 = i & 1;
        if (sha1)
            pk_sha1(buf, n, a);
        else
            pk_ripemd160(buf, n, a);
        EVP_Digest(buf, n, b, &ol, sha1 ? EVP_sha1() : EVP_ripemd160(), NULL);
        if (ol != 20 || memcmp(a, b, 20) != 0)
            return (void *)1;
    }
    return NULL;
}

Test(digest, threads_match_openssl_one_shot)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, digest_thread, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_expect_null(r, "thread %d: a digest differs from EVP_Digest's", i);
    }
}

/* Gathered messages from midstates, on every multi-buffer path, against
 * SHA256d of the whole message at once: prefixes of 0 to 3 blocks, 1 to 6
 * segments of 0 to 300 bytes (empty ones, ones under and over a block,
 * ends on and off block boundaries), counts past two lane groups. */
Test(sha256_many, gather_from_midstates_matches_scalar)
{
    size_t npaths;
    const pk_multi_path *paths = pk_sha256_multi_paths(&npaths);
    enum { N = 300, MAXSEG = 6, MAXLEN = 3 * 64 + MAXSEG * 300 };
    tu_rng r = {11};
    uint8_t *data = malloc(N * MAXLEN);
    tu_fill(&r, data, N * MAXLEN);
    pk_sha256_gather *m = calloc(N, sizeof *m);
    pk_sha256_seg(*segs)[MAXSEG] = calloc(N, sizeof *segs);
    uint8_t(*want)[32] = malloc(N * 32), (*got)[32] = malloc(N * 32);
    for (size_t i = 0; i < N; i++) {
        uint8_t *msg = data + i * MAXLEN;
        size_t prefix = 64 * tu_below(&r, 4), at = prefix;
        pk_sha256_ctx c;
        pk_sha256_init(&c);
        pk_sha256_update(&c, msg, prefix);
        memcpy(m[i].state, c.state, 32);
        m[i].prefix = prefix;
        m[i].nsegs = 1 + tu_below(&r, MAXSEG);
        for (size_t k = 0; k < m[i].nsegs; k++) {
            size_t n = tu_below(&r, 4) == 0 ? 0 : tu_below(&r, 301);
            segs[i][k] = (pk_sha256_seg){msg + at, n};
            at += n;
        }
        m[i].segs = segs[i];
        pk_sha256d(msg, at, want[i]);
    }
    for (size_t p = 0; p < npaths; p++) {
        if ((paths[p].cpu & pk_cpu_features()) != paths[p].cpu)
            continue;
        memset(got, 0, N * 32);
        pk_sha256d_many_gather_using(&paths[p], m, N, got);
        cr_assert_arr_eq(got, want, N * 32, "%s: all at once", paths[p].name);
        for (size_t count = 1; count <= 2 * paths[p].lanes + 1; count++) {
            size_t off = tu_below(&r, N - count);
            pk_sha256d_many_gather_using(&paths[p], m + off, count, got);
            cr_assert_arr_eq(got, want + off, count * 32, "%s: %zu messages", paths[p].name, count);
        }
    }
    pk_sha256d_many_gather(m, N, got);
    cr_assert_arr_eq(got, want, N * 32, "the chosen path");
    free(data);
    free(m);
    free(segs);
    free(want);
    free(got);
}
