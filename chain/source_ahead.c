/* Any block source read ahead on a thread of its own (Core's block files
 * through --datadir: a block read from disk, or from the page cache, while
 * the block before it is validated, not between the two).
 *
 * One reader thread calls the inner source's next() and queues what it
 * gives, up to `depth` blocks ahead; next() takes from the queue in order.
 * Every call into the inner source (the reader's next(), and tip, start,
 * headers and spent from the caller) holds one lock, so a source written
 * for one thread (its file handles, its index) needs nothing of its own;
 * spent() may wait for the block being read.  An error or the end is
 * queued like a block and ends the reading; next() gives it from then
 * on. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/chain.h"

enum { AHEAD_DEFAULT = 16, AHEAD_ERR = 256 };

typedef struct ahead_item {
    int rc; /* inner next()'s: 1 a block, 0 the end, < 0 an error */
    int64_t height;
    uint8_t *data;
    size_t len;
    char err[AHEAD_ERR];
} ahead_item;

typedef struct ahead_source {
    pk_block_source s;
    pk_block_source *inner;
    pthread_mutex_t inner_mu; /* every call into inner */
    pthread_mutex_t mu;       /* the queue and the flags below */
    pthread_cond_t filled, drained;
    ahead_item *ring;
    unsigned depth, head, count;
    int running, quit;
    ahead_item last;          /* that item, given again by every next() after it */
    int have_last;
    pthread_t th;
} ahead_source;

static void *reader(void *arg)
{
    ahead_source *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->quit && a->count == a->depth)
            pthread_cond_wait(&a->drained, &a->mu);
        int quit = a->quit;
        pthread_mutex_unlock(&a->mu);
        if (quit)
            return NULL;
        ahead_item it;
        memset(&it, 0, sizeof it);
        pthread_mutex_lock(&a->inner_mu);
        it.rc = a->inner->next(a->inner, &it.height, &it.data, &it.len, it.err, sizeof it.err);
        pthread_mutex_unlock(&a->inner_mu);
        pthread_mutex_lock(&a->mu);
        a->ring[(a->head + a->count) % a->depth] = it;
        a->count++;
        pthread_cond_signal(&a->filled);
        pthread_mutex_unlock(&a->mu);
        if (it.rc <= 0)
            return NULL;
    }
}

/* The reader stopped and joined, every queued block freed. */
static void stop(ahead_source *a)
{
    pthread_mutex_lock(&a->mu);
    a->quit = 1;
    pthread_cond_broadcast(&a->drained);
    pthread_mutex_unlock(&a->mu);
    if (a->running)
        pthread_join(a->th, NULL);
    a->running = 0;
    for (unsigned i = 0; i < a->count; i++)
        free(a->ring[(a->head + i) % a->depth].data);
    a->head = a->count = 0;
    a->quit = a->have_last = 0;
}

static int64_t ah_tip(pk_block_source *s, char *err, size_t errlen)
{
    ahead_source *a = s->ctx;
    pthread_mutex_lock(&a->inner_mu);
    int64_t t = a->inner->tip(a->inner, err, errlen);
    pthread_mutex_unlock(&a->inner_mu);
    return t;
}

static int ah_start(pk_block_source *s, int64_t from, int64_t to, char *err, size_t errlen)
{
    ahead_source *a = s->ctx;
    stop(a);
    pthread_mutex_lock(&a->inner_mu);
    int rc = a->inner->start(a->inner, from, to, err, errlen);
    pthread_mutex_unlock(&a->inner_mu);
    if (rc)
        return rc;
    if (pthread_create(&a->th, NULL, reader, a) != 0) {
        snprintf(err, errlen, "cannot start the thread that reads ahead");
        return PK_CHAIN_EIO;
    }
    a->running = 1;
    return 0;
}

static int ah_next(pk_block_source *s, int64_t *height, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    ahead_source *a = s->ctx;
    pthread_mutex_lock(&a->mu);
    if (!a->running && !a->count && !a->have_last) {
        pthread_mutex_unlock(&a->mu);
        return 0; /* not started */
    }
    while (a->count == 0 && !a->have_last)
        pthread_cond_wait(&a->filled, &a->mu);
    ahead_item it;
    if (a->count) {
        it = a->ring[a->head];
        a->head = (a->head + 1) % a->depth;
        a->count--;
        pthread_cond_signal(&a->drained);
        if (it.rc <= 0) {
            a->last = it;
            a->have_last = 1;
        }
    } else {
        it = a->last;
    }
    pthread_mutex_unlock(&a->mu);
    if (it.rc < 0)
        snprintf(err, errlen, "%s", it.err);
    if (it.rc == 1) {
        *height = it.height;
        *data = it.data;
        *len = it.len;
    }
    return it.rc;
}

static int ah_headers(pk_block_source *s, int64_t n, uint8_t (*out)[80], char *err, size_t errlen)
{
    ahead_source *a = s->ctx;
    pthread_mutex_lock(&a->inner_mu);
    int rc = a->inner->headers(a->inner, n, out, err, errlen);
    pthread_mutex_unlock(&a->inner_mu);
    return rc;
}

static int ah_spent(pk_block_source *s, int64_t height, pk_prevout **out, size_t *n, uint8_t **store, char *err,
                    size_t errlen)
{
    ahead_source *a = s->ctx;
    pthread_mutex_lock(&a->inner_mu);
    int rc = a->inner->spent(a->inner, height, out, n, store, err, errlen);
    pthread_mutex_unlock(&a->inner_mu);
    return rc;
}

static void ah_close(pk_block_source *s)
{
    ahead_source *a = s->ctx;
    stop(a);
    a->inner->close(a->inner);
    pthread_mutex_destroy(&a->inner_mu);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->filled);
    pthread_cond_destroy(&a->drained);
    free(a->ring);
    free(a);
}

pk_block_source *pk_block_source_ahead(pk_block_source *inner, unsigned depth)
{
    if (!inner)
        return NULL;
    ahead_source *a = calloc(1, sizeof *a);
    if (!a) {
        inner->close(inner);
        return NULL;
    }
    a->depth = depth ? depth : AHEAD_DEFAULT;
    a->ring = calloc(a->depth, sizeof *a->ring);
    if (!a->ring) {
        free(a);
        inner->close(inner);
        return NULL;
    }
    a->inner = inner;
    pthread_mutex_init(&a->inner_mu, NULL);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->filled, NULL);
    pthread_cond_init(&a->drained, NULL);
    a->s = (pk_block_source){inner->name, a, ah_tip, ah_start, ah_next, ah_close,
                             inner->headers ? ah_headers : NULL, inner->spent ? ah_spent : NULL};
    return &a->s;
}
