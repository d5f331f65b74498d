/* The IFMA engine's test and benchmark entry points, behind the CPU check.
 * This file is compiled for the baseline instruction set: ecmult_ifma.c
 * is compiled for AVX-512, and a compiler may use it anywhere in a
 * function there, even before the check (clang's ASan did, in the
 * prologue), so a CPU without it must never enter one unchecked. */
#include "../../base/arch.h"
#include "../engine.h"
#include "native.h"
#include "powkit/cpu.h"

#if PK_X86_SIMD
static int have_ifma(void) { return (pk_cpu_features() & PK_CPU_AVX512IFMA) != 0; }
#else
/* Built without ecmult_ifma.c (not x86-64, or POWKIT_X86_SIMD=OFF): the
 * engine keeps its name and is unsupported, as on a CPU without IFMA, so
 * `--engine ifma` says so instead of being an unknown word. */
static int have_ifma(void) { return 0; }
const pk_engine_impl pk_engine_ifma = {"ifma", have_ifma, NULL, NULL, NULL};
#define pk_ifma_fe_op_unchecked(op, r, a, b) ((void)(op), (void)(r), (void)(a), (void)(b), -1)
#define pk_ifma_mul_chains_unchecked(iters) ((void)(iters), (uint64_t)0)
uint64_t pk_ifma_fallbacks(void) { return 0; }
void pk_ifma_profile_attach(pk_ifma_profile *p) { (void)p; }
#endif

int pk_ifma_fe_op(int op, struct pk_fe *r, const struct pk_fe *a, const struct pk_fe *b)
{
    return have_ifma() ? pk_ifma_fe_op_unchecked(op, r, a, b) : -1;
}

uint64_t pk_ifma_mul_chains(uint64_t iters) { return have_ifma() ? pk_ifma_mul_chains_unchecked(iters) : 0; }
