/* powkit: what this CPU can run.
 *
 * On x86-64 detection asks CPUID for the instructions and XGETBV for
 * whether the operating system saves the wide registers; both must agree
 * before a path may run.  On aarch64 the kernel's HWCAP bits
 * (getauxval(AT_HWCAP)) say what user space may run.  Users switch paths off with POWKIT_DISABLE (comma separated
 * kernel names: ref is never disabled, it is the oracle).
 */
#ifndef POWKIT_CPU_H
#define POWKIT_CPU_H

#include "powkit/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    PK_CPU_SSE41 = 1u << 0,
    PK_CPU_SSSE3 = 1u << 1,
    PK_CPU_SHA = 1u << 2,    /* SHA extensions (SHA-NI), with SSE4.1 */
    PK_CPU_AVX2 = 1u << 3,   /* AVX2 and OS support for YMM state */
    PK_CPU_AVX512 = 1u << 4, /* AVX-512 F+VL and OS support for ZMM state */
    PK_CPU_AVX512IFMA = 1u << 5, /* AVX-512 IFMA (52-bit multiply-add), with F+VL+DQ and ZMM state */
    PK_CPU_NEON = 1u << 6,   /* ARMv8 Advanced SIMD (AArch64 HWCAP_ASIMD) */
    PK_CPU_ARM_SHA2 = 1u << 7, /* ARMv8 SHA-256 Crypto Extensions (HWCAP_SHA2), with NEON */
};

/* Features of the running CPU (cached after the first call). */
PK_API unsigned pk_cpu_features(void);

/* The CPU's brand string: CPUID's on x86-64; on aarch64 the implementer
 * and part from MIDR_EL1 ("ARM Cortex-A76", "ARM part 0xd40"); "unknown"
 * where neither is known. */
PK_API const char *pk_cpu_brand(void);

/* Space-separated names of the features in mask, e.g. "sse4.1 sha avx2". */
PK_API void pk_cpu_feature_names(unsigned mask, char *buf, size_t len);

/* Whether the comma-separated list (e.g. POWKIT_DISABLE's value) names
 * `name`.  A NULL list names nothing. */
PK_API int pk_name_in_list(const char *list, const char *name);

#ifdef __cplusplus
}
#endif
#endif
