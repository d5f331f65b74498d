/* Inputs the validation commands share (internal to cli/). */
#ifndef POWKIT_CLI_INPUT_H
#define POWKIT_CLI_INPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

/* The largest block or header file read: 2 GiB. */
#define PK_CLI_MAX_INPUT ((size_t)1 << 31)

/* A whole file ("-": standard input) as bytes: hex text (whitespace
 * allowed) is decoded, anything else is taken as raw.  NULL after a
 * message (args.h: the reason, directories refused). */
uint8_t *pk_cli_read_input(const char *cmd, const char *path, size_t *len);

/* --chain: main, test or regtest; -1 after a message naming the option. */
int pk_cli_parse_chain(pk_args *a, const char *v, pk_chain *c);

/* --engine: libsecp256k1, portable or ifma; -1 after a message. */
int pk_cli_parse_engine(pk_args *a, const char *v, pk_engine *e);

/* The signature verifier the verify commands run: threads (0: every
 * CPU), engine, batching.  NULL after a message (out of memory, or the
 * engine disabled or failed here). */
pk_verifier *pk_cli_verifier(const char *cmd, unsigned threads, pk_engine engine, int batch);

/* A validation error as JSON: code, reason, offset, height, message. */
json_t *pk_cli_error_json(const pk_verror *e);

#endif
