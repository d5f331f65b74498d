/* Internal to validate/: what the batch verifier keeps for its users
 * between runs.  A block's script run (sigcheck_script.c) leaves its
 * per-transaction buffers here, so that the blocks of a chain, which come
 * one after another through one verifier, allocate only where a block
 * needs more room than those before it.  A verifier runs one batch at a
 * time, so one user's scratch at a time is all it holds. */
#ifndef POWKIT_VERIFIER_INTERNAL_H
#define POWKIT_VERIFIER_INTERNAL_H

#include "powkit/export.h"
#include "powkit/verify.h"

/* The scratch kept with free_fn, or NULL when there is none (or another
 * user's, which the next keep replaces). */
PK_LOCAL void *pk_verifier_scratch(pk_verifier *v, void (*free_fn)(void *));
/* Keeps p, freed by free_fn when replaced or with the verifier. */
PK_LOCAL void pk_verifier_keep_scratch(pk_verifier *v, void *p, void (*free_fn)(void *));

#endif
