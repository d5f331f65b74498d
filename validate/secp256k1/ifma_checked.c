/* The IFMA engine's test and benchmark entry points, behind the CPU check.
 * This file is compiled for the baseline instruction set: ecmult_ifma.c
 * is compiled for AVX-512, and a compiler may use it anywhere in a
 * function there, even before the check (clang's ASan did, in the
 * prologue), so a CPU without it must never enter one unchecked. */
#include "powkit/cpu.h"
#include "native.h"

static int have_ifma(void) { return (pk_cpu_features() & PK_CPU_AVX512IFMA) != 0; }

int pk_ifma_fe_op(int op, struct pk_fe *r, const struct pk_fe *a, const struct pk_fe *b)
{
    return have_ifma() ? pk_ifma_fe_op_unchecked(op, r, a, b) : -1;
}

uint64_t pk_ifma_mul_chains(uint64_t iters) { return have_ifma() ? pk_ifma_mul_chains_unchecked(iters) : 0; }
