/* bench_ports: what bounds the AVX-512 SHA-256d kernels on this CPU,
 * measured rather than taken from a vendor table.
 *
 *   bench_ports [OPS_PER_NONCE ...]
 *
 * It times, on one thread:
 *   - the clock: a chain of dependent scalar adds (one cycle each on every
 *     x86-64 core), so cycles below are this run's cycles;
 *   - latency (one dependent chain) and throughput (twelve independent
 *     chains) of the 512-bit operations the kernels are made of: vpaddd,
 *     vprord, vpternlogd, vpsrld;
 *   - the kernels' mix (per 14 ops: 5 adds, 5 rotates, 3 three-input
 *     logic ops, 1 shift; the avx512 kernels' proportions, see
 *     bench/kernel_counts.py) on twelve chains: the vector ops per cycle
 *     the ports sustain for this work.
 * For each OPS_PER_NONCE given (vector ops per nonce from kernel_counts.py,
 * e.g. 178.1 for avx512:1, 149 for +v) it prints the port bound in cycles
 * and MH/s at the measured clock.  A SHA-256 round is four dependent
 * operations deep (e: Sigma1 or Ch, their sum, + T1, + d), so one 16-lane
 * group is also bounded by 4 x latency x ~125 rounds / 16 cycles a nonce;
 * that figure is printed too.  Best of 5 runs for each. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "powkit/cpu.h"

#define ITERS 2000000L

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define R4(x) x x x x
#define R16(x) R4(x) R4(x) R4(x) R4(x)
#define R64(x) R16(x) R16(x) R16(x) R16(x)

/* 64 dependent adds per iteration. */
static double scalar_chain(void)
{
    unsigned long x = 0, one = 1;
    double t0 = now_s();
    for (long i = 0; i < ITERS; i++)
        __asm__ volatile(R64("add %1, %0\n\t") : "+r"(x) : "r"(one));
    return (now_s() - t0) / (64.0 * ITERS);
}

#define ZCLOB "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm31"

/* One op on one chain: 64 per iteration, each on the last one's result. */
#define LAT_FN(name, op)                                                     \
    __attribute__((target("avx512f"))) static double name(void)              \
    {                                                                        \
        double t0 = now_s();                                                 \
        for (long i = 0; i < ITERS; i++)                                     \
            __asm__ volatile(R64(op "\n\t")::: ZCLOB);                        \
        return (now_s() - t0) / (64.0 * ITERS);                              \
    }
LAT_FN(lat_add, "vpaddd %%zmm31, %%zmm0, %%zmm0")
LAT_FN(lat_ror, "vprord $7, %%zmm0, %%zmm0")
LAT_FN(lat_tern, "vpternlogd $0x96, %%zmm31, %%zmm31, %%zmm0")
LAT_FN(lat_shr, "vpsrld $3, %%zmm0, %%zmm0")

/* The op on twelve independent chains, 8 rounds: 96 per iteration. */
#define C12(f) f(0) f(1) f(2) f(3) f(4) f(5) f(6) f(7) f(8) f(9) f(10) f(11)
#define ADD_(i) "vpaddd %%zmm31, %%zmm" #i ", %%zmm" #i "\n\t"
#define ROR_(i) "vprord $7, %%zmm" #i ", %%zmm" #i "\n\t"
#define TERN_(i) "vpternlogd $0x96, %%zmm31, %%zmm31, %%zmm" #i "\n\t"
#define SHR_(i) "vpsrld $3, %%zmm" #i ", %%zmm" #i "\n\t"
#define THR_FN(name, f)                                                      \
    __attribute__((target("avx512f"))) static double name(void)              \
    {                                                                        \
        double t0 = now_s();                                                 \
        for (long i = 0; i < ITERS; i++)                                     \
            __asm__ volatile(C12(f) C12(f) C12(f) C12(f) C12(f) C12(f) C12(f) C12(f)::: ZCLOB); \
        return (now_s() - t0) / (96.0 * ITERS);                              \
    }
THR_FN(thr_add, ADD_)
THR_FN(thr_ror, ROR_)
THR_FN(thr_tern, TERN_)
THR_FN(thr_shr, SHR_)

/* The kernels' mix, 14 ops a unit on the twelve chains in turn: 168 per
 * iteration (12 units). */
#define MIX_(i) ADD_(i) ROR_(i) TERN_(i) ADD_(i) ROR_(i) ADD_(i) ROR_(i) TERN_(i) ROR_(i) ADD_(i) SHR_(i) \
    ROR_(i) TERN_(i) ADD_(i)
__attribute__((target("avx512f"))) static double thr_mix(void)
{
    double t0 = now_s();
    for (long i = 0; i < ITERS; i++)
        __asm__ volatile(C12(MIX_)::: ZCLOB);
    return (now_s() - t0) / (168.0 * ITERS);
}

static double best(double (*f)(void))
{
    double b = 1e9;
    for (int r = 0; r < 5; r++) {
        double t = f();
        if (t < b)
            b = t;
    }
    return b;
}

int main(int argc, char **argv)
{
    if (!(pk_cpu_features() & PK_CPU_AVX512)) {
        printf("bench_ports: no AVX-512 here (or disabled): nothing to measure\n");
        return 0;
    }
    double cycle = best(scalar_chain);
    double ghz = 1e-9 / cycle;
    printf("bench_ports: %s, one thread, best of 5\n", pk_cpu_brand());
    printf("clock (dependent scalar adds): %.2f GHz\n", ghz);
    struct {
        const char *name;
        double (*lat)(void), (*thr)(void);
    } ops[] = {{"vpaddd zmm", lat_add, thr_add},
               {"vprord zmm", lat_ror, thr_ror},
               {"vpternlogd zmm", lat_tern, thr_tern},
               {"vpsrld zmm", lat_shr, thr_shr}};
    double lat_max = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        double l = best(ops[i].lat) / cycle, t = cycle / best(ops[i].thr);
        if (l > lat_max)
            lat_max = l;
        printf("%-15s latency %.2f cycles, throughput %.2f per cycle\n", ops[i].name, l, t);
    }
    double mix = cycle / best(thr_mix);
    printf("kernel mix      %.2f vector ops per cycle (5 add, 5 rotate, 3 ternlog, 1 shift per 14)\n", mix);
    /* 61 + 64 rounds, less the ones the kernels skip, ~125 dependent
     * rounds per header, 4 ops deep. */
    double chain = 4 * lat_max * 125 / 16;
    printf("one 16-lane group's dependency chain: %.1f cycles per nonce (%.1f MH/s)\n", chain, ghz * 1e3 / chain);
    for (int i = 1; i < argc; i++) {
        double ops_n = atof(argv[i]);
        if (ops_n <= 0)
            continue;
        double cyc = ops_n / mix;
        printf("%.1f vector ops per nonce: port bound %.1f cycles per nonce, %.1f MH/s\n", ops_n, cyc,
               ghz * 1e3 / cyc);
    }
    return 0;
}
