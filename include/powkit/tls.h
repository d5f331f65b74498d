/* powkit: TLS for a socket the caller owns (a libuv stream).  OpenSSL runs
 * over two memory BIOs: the caller feeds it what arrived on the socket and
 * sends what it produced, so TLS never blocks and never touches the
 * socket itself.  Certificates are verified against the system store (or
 * a given CA file) and the host name is checked, unless `insecure`. */
#ifndef POWKIT_TLS_H
#define POWKIT_TLS_H

#include "powkit/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_tls_ctx pk_tls_ctx;
typedef struct pk_tls pk_tls;

/* ca_file NULL: the system store.  Returns NULL with err filled. */
PK_API pk_tls_ctx *pk_tls_ctx_new(const char *ca_file, int insecure, char *err, size_t errlen);
/* The server side (a proxy's rigs): a PEM certificate chain and its key.
 * Returns NULL with err filled. */
PK_API pk_tls_ctx *pk_tls_server_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errlen);
PK_API void pk_tls_ctx_free(pk_tls_ctx *ctx);

/* host: the server's name to check (client side); NULL for a server ctx. */
PK_API pk_tls *pk_tls_new(pk_tls_ctx *ctx, const char *host);
PK_API void pk_tls_free(pk_tls *t);

/* Ciphertext from the socket. */
PK_API int pk_tls_feed(pk_tls *t, const void *data, size_t len);
/* Advances the handshake: 1 done, 0 wants more input, -1 failed (err). */
PK_API int pk_tls_handshake(pk_tls *t, char *err, size_t errlen);
/* Plaintext out: bytes read, 0 nothing yet, -1 error or closed (err). */
PK_API long pk_tls_read(pk_tls *t, void *buf, size_t len, char *err, size_t errlen);
/* Plaintext in: 0 or -1. */
PK_API int pk_tls_write(pk_tls *t, const void *buf, size_t len);
/* Ciphertext to send: bytes copied into buf (call until 0). */
PK_API size_t pk_tls_take_output(pk_tls *t, void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
