/* powkit: the offline work source.
 *
 * Mines a fixed job with no network: a real mainnet header (block 822,528)
 * whose merkle root is varied per template, so every template is unique,
 * and a share target easy enough that shares keep coming and every one is
 * rechecked.  It is what `powkit bench` mines.
 */
#ifndef POWKIT_OFFLINE_H
#define POWKIT_OFFLINE_H

#include "powkit/export.h"

#include <stdatomic.h>
#include <stdint.h>

#include "powkit/dispatcher.h"

#ifdef __cplusplus
extern "C" {
#endif

PK_API extern const uint8_t pk_offline_header[80];

typedef struct pk_offline_source {
    pk_source base; /* first: the dispatcher sees this */
    uint8_t header[80];
    uint8_t target[32];
    uint64_t next_seq;
    _Atomic uint64_t shares;
} pk_offline_source;

/* header NULL: the embedded one; target NULL: the bench share target
 * (hashes whose top 32 bits are at most 0xff: one in 2^24). */
PK_API void pk_offline_source_init(pk_offline_source *src, const uint8_t *header, const uint8_t *target);

#ifdef __cplusplus
}
#endif
#endif
