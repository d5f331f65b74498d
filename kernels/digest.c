/* RIPEMD-160, SHA-1 and HASH160 through OpenSSL, with the algorithm
 * fetched once and one digest context kept per thread (see digest.h). */
#include "powkit/digest.h"

#include "powkit/sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>

enum { MD_RIPEMD160, MD_SHA1, MD_COUNT };

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static EVP_MD *g_md[MD_COUNT];
static pthread_key_t g_ctx_key;
static int g_key_ok;

static void ctx_free(void *p)
{
    EVP_MD_CTX_free(p);
}

static void digest_init(void)
{
    /* A provider without the algorithm (RIPEMD-160 sits in the legacy
     * provider on some builds) leaves the slot NULL: digest() then takes
     * OpenSSL's implicit lookup, slower but the same answer. */
    g_md[MD_RIPEMD160] = EVP_MD_fetch(NULL, "RIPEMD160", NULL);
    g_md[MD_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
    g_key_ok = pthread_key_create(&g_ctx_key, ctx_free) == 0;
}

static const EVP_MD *implicit_md(int which)
{
    return which == MD_RIPEMD160 ? EVP_ripemd160() : EVP_sha1();
}

static void digest(int which, const void *data, size_t len, uint8_t out[20])
{
    unsigned int ol = 0;
    pthread_once(&g_once, digest_init);
    const EVP_MD *md = g_md[which];
    EVP_MD_CTX *ctx = NULL;
    if (md && g_key_ok) {
        ctx = pthread_getspecific(g_ctx_key);
        if (!ctx && (ctx = EVP_MD_CTX_new()) != NULL && pthread_setspecific(g_ctx_key, ctx) != 0) {
            EVP_MD_CTX_free(ctx);
            ctx = NULL;
        }
    }
    if (ctx && EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, data, len) == 1 &&
        EVP_DigestFinal_ex(ctx, out, &ol) == 1)
        return;
    if (EVP_Digest(data, len, out, &ol, md ? md : implicit_md(which), NULL) != 1)
        abort(); /* a hash that cannot be computed cannot be judged: never guess */
}

void pk_ripemd160(const void *data, size_t len, uint8_t out[20])
{
    digest(MD_RIPEMD160, data, len, out);
}

void pk_sha1(const void *data, size_t len, uint8_t out[20])
{
    digest(MD_SHA1, data, len, out);
}

void pk_hash160(const void *data, size_t len, uint8_t out[20])
{
    uint8_t sha[32];
    pk_sha256(data, len, sha);
    digest(MD_RIPEMD160, sha, sizeof sha, out);
}
