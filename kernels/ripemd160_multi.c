/* HASH160 of many messages at once: their SHA-256s through the
 * multi-buffer SHA-256, then the RIPEMD-160s of the 32-byte digests side
 * by side in SIMD lanes (one padded block each).  OpenSSL's RIPEMD-160
 * (pk_ripemd160) is the portable path and the lanes' self-test oracle;
 * the widest lane path the CPU has is chosen once, self-tested, and
 * honours POWKIT_DISABLE ("avx512", "avx2"). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/cpu.h"
#include "powkit/digest.h"
#include "powkit/sha256.h"
#include "../base/arch.h"
#include "ripemd160_internal.h"
#include "sha256_core.h"

typedef struct rmd_path {
    const char *name;
    unsigned cpu;
    size_t (*fn)(const uint8_t (*in)[32], size_t n, uint8_t (*out)[20]);
} rmd_path;

static size_t rmd_openssl(const uint8_t (*in)[32], size_t n, uint8_t (*out)[20])
{
    for (size_t i = 0; i < n; i++)
        pk_ripemd160(in[i], 32, out[i]);
    return n;
}

static const rmd_path g_paths[] = {
#if PK_X86_SIMD
    {"avx512", PK_CPU_AVX512, pk_ripemd160_32_avx512},
    {"avx2", PK_CPU_AVX2, pk_ripemd160_32_avx2},
#endif
    {"openssl", 0, rmd_openssl},
};
#define N_PATHS (sizeof g_paths / sizeof g_paths[0])
static const rmd_path *g_pick = &g_paths[N_PATHS - 1];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* A path agrees with OpenSSL on messages of every lane position, a full
 * group and a tail (n = 19: sixteen lanes and three, eight and eleven). */
static int selftest(const rmd_path *p)
{
    enum { N = 19 };
    uint8_t in[N][32], got[N][20], want[20];
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < 32; k++)
            in[i][k] = (uint8_t)(i * 37 + k * 11 + 3);
    memset(got, 0, sizeof got);
    if (p->fn((const uint8_t(*)[32])in, N, got) != N)
        return 0;
    for (size_t i = 0; i < N; i++) {
        pk_ripemd160(in[i], 32, want);
        if (memcmp(want, got[i], 20) != 0)
            return 0;
    }
    return 1;
}

static void choose(void)
{
    unsigned cpu = pk_cpu_features();
    const char *disable = getenv("POWKIT_DISABLE");
    for (size_t i = 0; i + 1 < N_PATHS; i++) {
        const rmd_path *p = &g_paths[i];
        if ((p->cpu & cpu) == p->cpu && !pk_name_in_list(disable, p->name) && selftest(p)) {
            g_pick = p;
            return;
        }
    }
}

const char *pk_ripemd160_multi_implementation(void)
{
    pthread_once(&g_once, choose);
    return g_pick->name;
}

void pk_ripemd160_32_many(const uint8_t (*in)[32], size_t n, uint8_t (*out)[20])
{
    pthread_once(&g_once, choose);
    g_pick->fn(in, n, out);
}

void pk_hash160_many(const uint8_t *const *msgs, const size_t *lens, size_t n, uint8_t (*out)[20])
{
    enum { GROUP = 64 };
    uint8_t sha[GROUP][32];
    for (size_t done = 0; done < n; done += GROUP) {
        size_t k = n - done < GROUP ? n - done : GROUP;
        pk_sha256_many_from(pk_sha256_iv, 0, msgs + done, lens + done, k, sha);
        pk_ripemd160_32_many((const uint8_t(*)[32])sha, k, out + done);
    }
}
