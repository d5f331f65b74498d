/* Internal to powkit and its tests: drive a Stratum session without a
 * socket (the fuzz target and unit tests feed it the pool's bytes). */
#ifndef POWKIT_STRATUM_INTERNAL_H
#define POWKIT_STRATUM_INTERNAL_H

#include <stddef.h>

#include "powkit/stratum.h"

/* Puts s in the state of a fresh connection whose requests (configure,
 * subscribe, authorize, ...) were just sent, ids 1 upward; what it would
 * write goes nowhere. */
void pk_stratum_begin_offline_session(pk_stratum *s);
/* Bytes as if read from the pool's connection (framed into lines). */
void pk_stratum_feed(pk_stratum *s, const char *data, size_t len);

#endif
