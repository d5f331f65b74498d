/* CPU feature detection: CPUID says what the core implements, XGETBV what
 * register state the operating system saves on context switches. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define PK_HAVE_CPUID 1
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#define PK_HAVE_HWCAP 1
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "powkit/cpu.h"

static unsigned g_features;
static char g_brand[49] = "unknown";
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#ifdef PK_HAVE_CPUID
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect(void)
{
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (ssse3)
        f |= PK_CPU_SSSE3;
    if (sse41)
        f |= PK_CPU_SSE41;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = avx && (xcr0 & 0x6) == 0x6;
    int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (((b >> 29) & 1) && sse41 && ssse3)
            f |= PK_CPU_SHA;
        if (((b >> 5) & 1) && ymm_ok)
            f |= PK_CPU_AVX2;
        /* F, BW (byte shuffles) and VL, with the ZMM and mask state saved. */
        if (((b >> 16) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1) && zmm_ok)
            f |= PK_CPU_AVX512;
        /* IFMA (bit 21) with F (16), DQ (17), VL (31) and the ZMM state. */
        if (((b >> 21) & 1) && ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 31) & 1) && zmm_ok)
            f |= PK_CPU_AVX512IFMA;
    }
    g_features = f;

    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++)
            __cpuid(0x80000002u + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
        char raw[49];
        memcpy(raw, r, 48);
        raw[48] = 0;
        const char *s = raw;
        while (*s == ' ')
            s++;
        if (*s)
            snprintf(g_brand, sizeof g_brand, "%s", s);
    }
}
#elif defined(PK_HAVE_HWCAP)
/* AArch64 Linux: the kernel's HWCAP bits (arch/arm64/include/uapi/asm/
 * hwcap.h) say what user space may run; MIDR_EL1's implementer and part
 * name the core.  /proc/cpuinfo carries both fields on every arm64
 * kernel (an emulator may show the host's instead: then "aarch64"). */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1ul << 1)
#endif
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1ul << 6)
#endif

static const char *arm_part_name(unsigned implementer, unsigned part)
{
    static const struct { unsigned impl, part; const char *name; } parts[] = {
        {0x41, 0xd03, "ARM Cortex-A53"},  {0x41, 0xd04, "ARM Cortex-A35"},
        {0x41, 0xd05, "ARM Cortex-A55"},  {0x41, 0xd07, "ARM Cortex-A57"},
        {0x41, 0xd08, "ARM Cortex-A72"},  {0x41, 0xd09, "ARM Cortex-A73"},
        {0x41, 0xd0a, "ARM Cortex-A75"},  {0x41, 0xd0b, "ARM Cortex-A76"},
        {0x41, 0xd0c, "ARM Neoverse N1"}, {0x41, 0xd0d, "ARM Cortex-A77"},
        {0x41, 0xd40, "ARM Neoverse V1"}, {0x41, 0xd41, "ARM Cortex-A78"},
        {0x41, 0xd44, "ARM Cortex-X1"},   {0x41, 0xd46, "ARM Cortex-A510"},
        {0x41, 0xd47, "ARM Cortex-A710"}, {0x41, 0xd48, "ARM Cortex-X2"},
        {0x41, 0xd49, "ARM Neoverse N2"}, {0x41, 0xd4f, "ARM Neoverse V2"},
        {0xc0, 0xac3, "Ampere-1"},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i].impl == implementer && parts[i].part == part)
            return parts[i].name;
    return NULL;
}

static void detect(void)
{
    unsigned long hw = getauxval(AT_HWCAP);
    unsigned f = 0;
    if (hw & HWCAP_ASIMD)
        f |= PK_CPU_NEON;
    if ((hw & HWCAP_SHA2) && (hw & HWCAP_ASIMD))
        f |= PK_CPU_ARM_SHA2;
    g_features = f;

    snprintf(g_brand, sizeof g_brand, "aarch64");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp)
        return;
    char line[256];
    unsigned impl = 0, part = 0;
    int have_impl = 0, have_part = 0;
    while (fgets(line, sizeof line, fp) && !(have_impl && have_part)) {
        if (!have_impl && sscanf(line, "CPU implementer : %x", &impl) == 1)
            have_impl = 1;
        else if (!have_part && sscanf(line, "CPU part : %x", &part) == 1)
            have_part = 1;
    }
    fclose(fp);
    if (have_impl && have_part) {
        const char *name = arm_part_name(impl, part);
        if (name)
            snprintf(g_brand, sizeof g_brand, "%s", name);
        else
            snprintf(g_brand, sizeof g_brand, "aarch64 implementer 0x%02x part 0x%03x", impl, part);
    }
}
#else
/* No features to find; the brand stays "unknown". */
static void detect(void) {}
#endif

unsigned pk_cpu_features(void)
{
    pthread_once(&g_once, detect);
    return g_features;
}

const char *pk_cpu_brand(void)
{
    pthread_once(&g_once, detect);
    return g_brand;
}

void pk_cpu_feature_names(unsigned mask, char *buf, size_t len)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {PK_CPU_SSSE3, "ssse3"}, {PK_CPU_SSE41, "sse4.1"}, {PK_CPU_SHA, "sha"},
        {PK_CPU_AVX2, "avx2"},   {PK_CPU_AVX512, "avx512"}, {PK_CPU_AVX512IFMA, "avx512ifma"},
        {PK_CPU_NEON, "neon"},   {PK_CPU_ARM_SHA2, "sha2"},
    };
    size_t used = 0;
    if (len)
        buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(mask & names[i].bit))
            continue;
        int n = snprintf(buf + used, len > used ? len - used : 0, "%s%s", used ? " " : "",
                         names[i].name);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

int pk_name_in_list(const char *list, const char *name)
{
    if (!list || !name)
        return 0;
    size_t nlen = strlen(name);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if ((size_t)(last - p) == nlen && strncmp(p, name, nlen) == 0)
            return 1;
        p = end;
    }
    return 0;
}
