/* Internal to validate/: the interpreter's half of pk_block_verify_sigs. */
#ifndef POWKIT_SIGCHECK_INTERNAL_H
#define POWKIT_SIGCHECK_INTERNAL_H

#include <stdint.h>

#include "powkit/sigcheck.h"

/* The consensus script flags of block b at height h (-1 unknown), as
 * Bitcoin Core chooses them (its two exception blocks included). */
uint32_t pk_sc_block_flags(const pk_block *b, int64_t h, int mainnet);

/* p with room for need elements of size each (doubling, its contents
 * kept; *cap counts elements). */
void *pk_sc_grow(void *p, size_t *cap, size_t need, size_t size);

/* Transaction ti's sigop cost from its spent outputs (BIP141: P2SH ones
 * scaled, witness ones), with its legacy ones scaled too when legacy. */
uint64_t pk_sc_tx_sigop_cost(const pk_block *b, size_t ti, const pk_txin_ref *ins, const pk_prevout *spent,
                             int segwit_on, int legacy);

/* Every input of b (opts->prevouts given) through the interpreter: fills
 * rep's inputs, kinds, signatures, failures and not-checked lists, and
 * the sigop cost (rep->sigop_cost, and whether it is over the limit),
 * counted in the same pass over the inputs. */
void pk_sc_run_scripts(const pk_block *b, const pk_sigcheck_opts *opts, int64_t h, pk_verifier *v,
                       pk_sig_report *rep);

#endif
