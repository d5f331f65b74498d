#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/tls.h"

struct pk_tls_ctx {
    SSL_CTX *ctx;
    int insecure;
    int server;
};

struct pk_tls {
    SSL *ssl;
    BIO *in, *out; /* network side: in = from socket, out = to socket */
};

static void ssl_error(const char *what, char *err, size_t len)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    if (err && len)
        snprintf(err, len, "%s%s%s", what, e ? ": " : "", buf);
    ERR_clear_error();
}

pk_tls_ctx *pk_tls_ctx_new(const char *ca_file, int insecure, char *err, size_t errlen)
{
    pk_tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->insecure = insecure;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        ssl_error("TLS context", err, errlen);
        free(c);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    if (insecure) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        int ok = ca_file ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(c->ctx);
        if (!ok) {
            ssl_error(ca_file ? "loading the CA file" : "loading the system CA store", err, errlen);
            SSL_CTX_free(c->ctx);
            free(c);
            return NULL;
        }
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    return c;
}

pk_tls_ctx *pk_tls_server_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    pk_tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->server = 1;
    c->ctx = SSL_CTX_new(TLS_server_method());
    if (!c->ctx) {
        ssl_error("TLS context", err, errlen);
        free(c);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    const char *what = NULL;
    if (SSL_CTX_use_certificate_chain_file(c->ctx, cert_file) != 1)
        what = "loading the certificate";
    else if (SSL_CTX_use_PrivateKey_file(c->ctx, key_file, SSL_FILETYPE_PEM) != 1)
        what = "loading the private key";
    else if (SSL_CTX_check_private_key(c->ctx) != 1)
        what = "the private key does not match the certificate";
    if (what) {
        ssl_error(what, err, errlen);
        SSL_CTX_free(c->ctx);
        free(c);
        return NULL;
    }
    return c;
}

void pk_tls_ctx_free(pk_tls_ctx *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->ctx);
    free(c);
}

pk_tls *pk_tls_new(pk_tls_ctx *c, const char *host)
{
    pk_tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ssl = SSL_new(c->ctx);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        SSL_free(t->ssl);
        BIO_free(t->in);
        BIO_free(t->out);
        free(t);
        return NULL;
    }
    SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both BIOs now */
    if (c->server) {
        SSL_set_accept_state(t->ssl);
        return t;
    }
    SSL_set_connect_state(t->ssl);
    SSL_set_tlsext_host_name(t->ssl, host); /* SNI */
    if (!c->insecure)
        SSL_set1_host(t->ssl, host); /* name (or IP) checked against the certificate */
    return t;
}

void pk_tls_free(pk_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

int pk_tls_feed(pk_tls *t, const void *data, size_t len)
{
    return BIO_write(t->in, data, (int)len) == (int)len ? 0 : -1;
}

static int soft(pk_tls *t, int rc)
{
    int e = SSL_get_error(t->ssl, rc);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

int pk_tls_handshake(pk_tls *t, char *err, size_t errlen)
{
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1)
        return 1;
    if (soft(t, rc))
        return 0;
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK) {
        snprintf(err, errlen, "certificate verification failed: %s",
                 X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else {
        ssl_error("TLS handshake failed", err, errlen);
    }
    return -1;
}

long pk_tls_read(pk_tls *t, void *buf, size_t len, char *err, size_t errlen)
{
    int rc = SSL_read(t->ssl, buf, (int)len);
    if (rc > 0)
        return rc;
    if (soft(t, rc))
        return 0;
    if (SSL_get_error(t->ssl, rc) == SSL_ERROR_ZERO_RETURN)
        snprintf(err, errlen, "TLS session closed by the peer");
    else
        ssl_error("TLS read failed", err, errlen);
    return -1;
}

int pk_tls_write(pk_tls *t, const void *buf, size_t len)
{
    return SSL_write(t->ssl, buf, (int)len) == (int)len ? 0 : -1;
}

size_t pk_tls_take_output(pk_tls *t, void *buf, size_t len)
{
    int n = BIO_read(t->out, buf, (int)len);
    return n > 0 ? (size_t)n : 0;
}
