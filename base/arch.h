/* Internal: which instruction-set code this build has.  The x86-64 SIMD
 * files (SHA-NI, AVX2, AVX-512 kernels and multi-buffer hashing, the IFMA
 * engine) are compiled with their own flags on x86-64 only; the ARMv8
 * files (the SHA-2 Crypto Extensions and the NEON kernels) on aarch64
 * only.  With CMake's -DPOWKIT_X86_SIMD=OFF (or -DPOWKIT_ARM_SIMD=OFF)
 * the portable code stands alone, which tests that build on any machine.
 * Run-time dispatch still decides what runs where the code is present. */
#ifndef POWKIT_ARCH_H
#define POWKIT_ARCH_H

#if defined(__x86_64__) && !defined(POWKIT_NO_X86_SIMD)
#define PK_X86_SIMD 1
#else
#define PK_X86_SIMD 0
#endif

#if defined(__aarch64__) && !defined(POWKIT_NO_ARM_SIMD)
#define PK_ARM_SIMD 1
#else
#define PK_ARM_SIMD 0
#endif

#endif
