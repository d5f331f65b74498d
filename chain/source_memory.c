/* A block source over blocks the caller holds (tests, benchmarks, a
 * program that has its blocks already). */
#include <stdlib.h>
#include <string.h>

#include "powkit/chain.h"

typedef struct mem_source {
    pk_block_source s;
    const uint8_t *const *blocks;
    const size_t *lens;
    size_t n;
    int64_t next, to;
} mem_source;

static int64_t mem_tip(pk_block_source *s, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    return (int64_t)((mem_source *)s->ctx)->n - 1;
}

static int mem_start(pk_block_source *s, int64_t from, int64_t to, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    mem_source *m = s->ctx;
    m->next = from;
    m->to = to;
    return 0;
}

static int mem_next(pk_block_source *s, int64_t *height, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    mem_source *m = s->ctx;
    if (m->next < 0 || (size_t)m->next >= m->n || (m->to >= 0 && m->next > m->to))
        return 0;
    size_t i = (size_t)m->next++;
    *data = malloc(m->lens[i] ? m->lens[i] : 1);
    if (!*data)
        return PK_CHAIN_EIO;
    memcpy(*data, m->blocks[i], m->lens[i]);
    *len = m->lens[i];
    *height = (int64_t)i;
    return 1;
}

static void mem_close(pk_block_source *s)
{
    free(s->ctx);
}

pk_block_source *pk_block_source_memory(const uint8_t *const *blocks, const size_t *lens, size_t n)
{
    mem_source *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->blocks = blocks;
    m->lens = lens;
    m->n = n;
    m->to = -1;
    m->s = (pk_block_source){"memory", m, mem_tip, mem_start, mem_next, mem_close, NULL, NULL};
    return &m->s;
}
