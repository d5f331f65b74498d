/* Helpers shared by the Criterion tests. */
#ifndef POWKIT_TESTUTIL_H
#define POWKIT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "powkit/kernel.h"

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

uint64_t tu_next(tu_rng *r);
uint32_t tu_below(tu_rng *r, uint32_t n);
void tu_fill(tu_rng *r, void *buf, size_t len);

/* Whole file from tests/data; aborts the test with a message if missing. */
uint8_t *tu_read_data(const char *name, size_t *len);

/* Double SHA-256 of header with nonce put in: the independent oracle. */
void tu_header_hash(const uint8_t header[80], uint32_t nonce, uint8_t out[32]);

/* Scan with a kernel into a heap buffer big enough for every hit. */
size_t tu_scan_all(const pk_kernel *k, const pk_job *job, uint32_t start, uint64_t count,
                   uint32_t **found);

#endif
