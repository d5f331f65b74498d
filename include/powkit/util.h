/* powkit: small helpers shared by the modules. */
#ifndef POWKIT_UTIL_H
#define POWKIT_UTIL_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Lower-case hex of len bytes into out (2*len+1 bytes with the NUL). */
PK_API void pk_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly 2*len hex digits (either case).  Returns 0, or PK_EINVAL
 * for a wrong length or a non-hex character; out is untouched then. */
PK_API int pk_hex_decode(const char *hex, uint8_t *out, size_t len);
/* Bitcoin shows hashes byte-reversed: 32 bytes to 64 hex digits. */
PK_API void pk_hash_to_hex(const uint8_t hash[32], char out[65]);

/* A pool of threads a block's work can be spread over: run calls fn(arg,
 * i) for every i in [0, n), chunk indices at a time, and returns when all
 * are done (pk_verifier_pool makes one of a signature verifier's threads). */
typedef struct pk_pool {
    void (*run)(void *self, size_t n, size_t chunk, void (*fn)(void *arg, size_t i), void *arg);
    void *self;
    /* Optional (NULL: use run): the same loop on the other threads while
     * the calling thread first runs own(own_arg), then joins the loop;
     * for work that belongs on the caller's thread (its caches). */
    void (*run_with)(void *self, size_t n, size_t chunk, void (*fn)(void *arg, size_t i), void *arg,
                     void (*own)(void *own_arg), void *own_arg);
} pk_pool;

/* Bitcoin's CompactSize: writes v (1, 3, 5 or 9 bytes) and returns the length. */
PK_API size_t pk_compact_put(uint8_t *p, uint64_t v);

/* 64 bits from the kernel's random source, to seed per-object generators
 * (retry jitter), so that processes started together do not act in step. */
PK_API uint64_t pk_random_seed(void);
/* The next value of a small generator (splitmix64) whose state is *state. */
PK_API uint64_t pk_rng_next(uint64_t *state);
/* base_ms scaled by a random 75% to 125%: back-off jitter. */
PK_API uint64_t pk_jitter_ms(uint64_t *state, uint64_t base_ms);
/* Exponential back-off: *backoff_ms doubles (min_ms first, max_ms at most)
 * and the next wait, with jitter, is returned.  Reset *backoff_ms to 0 on
 * success. */
PK_API uint64_t pk_backoff_next(unsigned *backoff_ms, unsigned min_ms, unsigned max_ms, uint64_t *rng);

/* url with any credentials (user:password@) replaced by "***@": for
 * logs, status pages and anything else a person or a script may see. */
PK_API void pk_url_redact(const char *url, char *out, size_t len);

/* Monotonic seconds. */
PK_API double pk_now(void);

#ifdef __cplusplus
}
#endif
#endif
