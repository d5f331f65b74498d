/* What the benchmark programs share about real blocks (bench/script_rows.c). */
#ifndef POWKIT_BENCH_BLOCKS_H
#define POWKIT_BENCH_BLOCKS_H

#include <stdint.h>

#include "powkit/prevouts.h"
#include "powkit/validate.h"

typedef struct made_prevouts {
    pk_prevouts pv;
    uint8_t *kind; /* per input: 1 P2PKH, 2 P2SH */
} made_prevouts;

/* Spent outputs for a legacy block from its scriptSigs (P2PKH from the
 * key, P2SH from the redeem script; legacy signatures commit to no
 * amount, so the values are left 0).  Returns 0, or -1 for a scriptSig
 * that is not push-only. */
int pk_bench_derive_prevouts(const pk_block *b, made_prevouts *m);
void pk_bench_made_free(made_prevouts *m);
/* The median of n values (sorts v). */
double pk_bench_median(double *v, int n);

#endif
