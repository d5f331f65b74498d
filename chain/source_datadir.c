/* A block source over Bitcoin Core's block files, read-only: blocks/blk*.dat
 * (records of network magic, size, block), XORed with the 8-byte key of
 * blocks/xor.dat (Core 28 and later; absent or zeros before).  Core writes
 * blocks in the order they arrived, not by height, and keeps stale forks:
 * the files are scanned once for headers only (a short read and a seek per
 * block), the blocks linked by their previous hashes, and the chain with
 * the most work from genesis taken.  Files are opened O_RDONLY; nothing is
 * written into the data directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain_internal.h"
#include "powkit/chain.h"
#include "powkit/sha256.h"
#include "powkit/util.h"

typedef struct dentry {
    uint8_t hash[32], prev[32];
    uint8_t hdr[80];
    uint64_t ntx;
    int64_t rev_off; /* its undo record's data in rev of the same number, -1 not found */
    uint32_t rev_size;
    uint32_t file, size;
    uint64_t off; /* of the block's first byte in its file */
    int64_t height;   /* -1 unknown, -2 not linked to genesis */
    int64_t parent;   /* index, -1 none */
    long double work; /* from genesis */
} dentry;

typedef struct dsrc {
    pk_block_source s;
    char dir[1024];  /* the blocks folder */
    uint8_t key[8];
    uint8_t magic[4];
    const char *genesis;
    int scanned;
    dentry *e;
    size_t n, cap;
    int64_t *slots; /* hash table: index + 1, 0 empty */
    size_t nslots;
    int64_t *chain; /* main chain: entry index by height */
    int64_t tip;
    int64_t next, to;
    int fd_file;
    int fd;
    uint32_t nfiles;
    int undo_matched;
    int from_index, no_index;
} dsrc;

static void unxor(const dsrc *d, uint8_t *p, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= d->key[(off + i) & 7];
}

static uint64_t slot_hash(const uint8_t h[32])
{
    uint64_t x;
    memcpy(&x, h, 8);
    return x * 0x9e3779b97f4a7c15ull;
}

static int64_t find(const dsrc *d, const uint8_t h[32])
{
    for (size_t i = slot_hash(h) & (d->nslots - 1);; i = (i + 1) & (d->nslots - 1)) {
        int64_t v = d->slots[i];
        if (!v)
            return -1;
        if (memcmp(d->e[v - 1].hash, h, 32) == 0)
            return v - 1;
    }
}

static int index_all(dsrc *d)
{
    free(d->slots);
    d->nslots = 1;
    while (d->nslots < d->n * 2 + 2)
        d->nslots <<= 1;
    d->slots = calloc(d->nslots, sizeof *d->slots);
    if (!d->slots)
        return -1;
    for (size_t k = 0; k < d->n; k++) {
        size_t i = slot_hash(d->e[k].hash) & (d->nslots - 1);
        while (d->slots[i] && memcmp(d->e[d->slots[i] - 1].hash, d->e[k].hash, 32) != 0)
            i = (i + 1) & (d->nslots - 1);
        if (!d->slots[i])
            d->slots[i] = (int64_t)k + 1; /* a block stored twice: the first copy */
    }
    return 0;
}

static long double block_work(uint32_t bits)
{
    int exp = (int)(bits >> 24);
    uint32_t mant = bits & 0x007fffff;
    if (!mant)
        return 0;
    long double target = ldexpl((long double)mant, 8 * (exp - 3));
    return ldexpl(1.0L, 256) / (target + 1);
}

static int file_path(const dsrc *d, uint32_t n, char *out, size_t len)
{
    return snprintf(out, len, "%s/blk%05u.dat", d->dir, n) < (int)len ? 0 : -1;
}

/* The headers of one file: records until its end, or its zero padding. */
static int scan_file(dsrc *d, uint32_t fno, char *err, size_t errlen)
{
    char path[1100];
    file_path(d, fno, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    fstat(fd, &st);
    uint64_t off = 0, size = (uint64_t)st.st_size;
    uint8_t h[97];
    while (off + 89 <= size) {
        size_t want = off + 97 <= size ? 97 : (size_t)(size - off);
        if (pread(fd, h, want, (off_t)off) != (ssize_t)want)
            break;
        unxor(d, h, want, off);
        if (memcmp(h, d->magic, 4) != 0)
            break; /* zeros where Core preallocated, or the end of what it wrote */
        uint32_t bsize = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
        if (bsize < 81 || off + 8 + bsize > size)
            break; /* a record cut short (Core stopped while writing it) */
        if (d->n == d->cap) {
            size_t nc = d->cap ? d->cap * 2 : 4096;
            dentry *ne = realloc(d->e, nc * sizeof *ne);
            if (!ne) {
                close(fd);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            d->e = ne;
            d->cap = nc;
        }
        dentry *e = &d->e[d->n++];
        memset(e, 0, sizeof *e);
        pk_header_hash(h + 8, e->hash);
        memcpy(e->hdr, h + 8, 80);
        e->ntx = want > 88 && h[88] < 0xfd ? h[88] : 0; /* else read with the block when needed */
        e->rev_off = -1;
        memcpy(e->prev, h + 12, 32);
        e->file = fno;
        e->off = off + 8;
        e->size = bsize;
        e->height = -1;
        e->parent = -1;
        e->work = block_work(pk_header_bits(h + 8));
        off += 8 + bsize;
    }
    close(fd);
    return 0;
}

static uint32_t le32at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The main chain from Core's block index: the highest block Core validated
 * fully (BLOCK_VALID_SCRIPTS, its data here, not failed), linked down to
 * genesis through the index.  0, 1 without an index, -1 on an error. */
static int from_index(dsrc *d, char *err, size_t errlen)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/index", d->dir);
    pk_index_entry *x;
    size_t n;
    int rc = pk_block_index_read(path, &x, &n, err, errlen);
    if (rc)
        return rc;
    d->e = calloc(n ? n : 1, sizeof *d->e);
    if (!d->e) {
        free(x);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int64_t best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i].status & PK_BLOCK_HAVE_DATA) || (x[i].status & PK_BLOCK_FAILED))
            continue;
        dentry *e = &d->e[d->n++];
        memcpy(e->hash, x[i].hash, 32);
        memcpy(e->hdr, x[i].header, 80);
        memcpy(e->prev, x[i].header + 4, 32);
        e->ntx = x[i].ntx;
        e->file = x[i].file;
        e->off = x[i].data_pos;
        e->size = 0; /* read from the record when the block is */
        e->rev_off = (x[i].status & PK_BLOCK_HAVE_UNDO) ? (int64_t)x[i].undo_pos : -1;
        e->height = x[i].height;
        e->parent = -1;
        if ((x[i].status & PK_BLOCK_VALID_MASK) >= PK_BLOCK_VALID_SCRIPTS &&
            (best < 0 || e->height > d->e[best].height))
            best = (int64_t)d->n - 1;
    }
    free(x);
    if (best < 0 || index_all(d)) {
        snprintf(err, errlen, "%s: no fully validated block in the index", path);
        return -1;
    }
    d->tip = d->e[best].height;
    d->chain = malloc((size_t)(d->tip + 1) * sizeof *d->chain);
    if (!d->chain) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int64_t k = best;
    for (int64_t h = d->tip; h >= 0; h--) {
        if (k < 0 || d->e[k].height != h) {
            snprintf(err, errlen, "%s: the chain below height %lld is not in the index", path, (long long)(h + 1));
            return -1;
        }
        d->chain[h] = k;
        if (h > 0)
            k = find(d, d->e[k].prev);
    }
    char hex[65];
    pk_hash_to_hex(d->e[d->chain[0]].hash, hex);
    if (strcmp(hex, d->genesis) != 0) {
        snprintf(err, errlen, "%s: the index's chain does not start at %s's genesis block", path, d->s.name);
        return -1;
    }
    for (uint32_t f = 0;; f++) {
        char p2[1100];
        file_path(d, f, p2, sizeof p2);
        if (access(p2, R_OK) != 0)
            break;
        d->nfiles = f + 1;
    }
    d->undo_matched = 1; /* the index says where each undo record is */
    d->from_index = 1;
    d->scanned = 1;
    return 0;
}

static int scan(dsrc *d, char *err, size_t errlen)
{
    if (d->scanned)
        return 0;
    int ir = d->no_index ? 1 : from_index(d, err, errlen);
    if (ir <= 0)
        return ir;
    for (uint32_t f = 0;; f++) {
        char path[1100];
        file_path(d, f, path, sizeof path);
        if (access(path, R_OK) != 0)
            break;
        if (scan_file(d, f, err, errlen))
            return -1;
        d->nfiles = f + 1;
    }
    if (!d->nfiles) {
        snprintf(err, errlen, "%s holds no blk00000.dat", d->dir);
        return -1;
    }
    if (index_all(d)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Heights and work from genesis; what does not reach it is left out. */
    int64_t best = -1;
    int64_t *stack = malloc((d->n + 1) * sizeof *stack);
    if (!stack) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < d->n; k++) {
        size_t sp = 0;
        int64_t x = (int64_t)k;
        while (x >= 0 && d->e[x].height == -1) {
            stack[sp++] = x;
            char hex[65];
            pk_hash_to_hex(d->e[x].hash, hex);
            int64_t p = strcmp(hex, d->genesis) == 0 ? -1 : find(d, d->e[x].prev);
            if (p < 0 && strcmp(hex, d->genesis) != 0) {
                x = -2; /* an orphan, or another chain's block */
                break;
            }
            d->e[x].parent = p;
            if (p < 0) {
                x = -1; /* genesis */
                break;
            }
            x = p;
        }
        /* x: -1 genesis below, -2 no genesis, else an entry whose height is known (or -2) */
        while (sp) {
            int64_t y = stack[--sp];
            if (x == -2 || (x >= 0 && d->e[x].height == -2)) {
                d->e[y].height = -2;
                x = y;
                continue;
            }
            int64_t p = d->e[y].parent;
            d->e[y].height = p < 0 ? 0 : d->e[p].height + 1;
            if (p >= 0)
                d->e[y].work += d->e[p].work;
            x = y;
        }
    }
    free(stack);
    for (size_t k = 0; k < d->n; k++)
        if (d->e[k].height >= 0 && (best < 0 || d->e[k].work > d->e[best].work))
            best = (int64_t)k;
    if (best < 0) {
        snprintf(err, errlen, "%s: no block links to the %s genesis block (another chain's files?)", d->dir,
                 d->s.name);
        return -1;
    }
    d->tip = d->e[best].height;
    d->chain = malloc((size_t)(d->tip + 1) * sizeof *d->chain);
    if (!d->chain) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int64_t x = best; x >= 0; x = d->e[x].parent)
        d->chain[d->e[x].height] = x;
    d->scanned = 1;
    return 0;
}

/* Matches the records of rev files to the main chain's blocks from..to:
 * a record's checksum is SHA256d(the previous block's hash, the undo
 * data), and Core writes it to the rev file of the block's blk number. */
static int match_undo(dsrc *d, int64_t from, int64_t to, char *err, size_t errlen)
{
    for (uint32_t f = 0; f < d->nfiles; f++) {
        int used = 0;
        for (int64_t h = from; h <= to && !used; h++)
            used = d->e[d->chain[h]].file == f && d->e[d->chain[h]].rev_off < 0;
        if (!used)
            continue;
        /* The main chain's blocks of this file, in height order (Core's order of writing undo). */
        size_t nc = 0, cur = 0;
        int64_t *cand = malloc((size_t)(d->tip + 1) * sizeof *cand);
        if (!cand) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (int64_t h = 1; h <= d->tip; h++)
            if (d->e[d->chain[h]].file == f)
                cand[nc++] = d->chain[h];
        char path[1100];
        snprintf(path, sizeof path, "%s/rev%05u.dat", d->dir, f);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            free(cand);
            continue; /* no undo data here: those blocks have none */
        }
        struct stat st;
        fstat(fd, &st);
        uint64_t off = 0, size = (uint64_t)st.st_size;
        uint8_t *buf = NULL;
        size_t cap = 0;
        while (off + 8 + 32 <= size) {
            uint8_t h8[8];
            if (pread(fd, h8, 8, (off_t)off) != 8)
                break;
            unxor(d, h8, 8, off);
            if (memcmp(h8, d->magic, 4) != 0)
                break;
            uint32_t n = (uint32_t)h8[4] | (uint32_t)h8[5] << 8 | (uint32_t)h8[6] << 16 | (uint32_t)h8[7] << 24;
            if (off + 8 + n + 32 > size)
                break;
            if (32 + (size_t)n > cap) {
                cap = 32 + (size_t)n;
                uint8_t *nb = realloc(buf, cap);
                if (!nb)
                    break;
                buf = nb;
            }
            /* the previous block's hash, then the record: hashed together */
            if (pread(fd, buf + 32, n, (off_t)(off + 8)) != (ssize_t)n)
                break;
            unxor(d, buf + 32, n, off + 8);
            uint8_t sum[32], got[32];
            if (pread(fd, got, 32, (off_t)(off + 8 + n)) != 32)
                break;
            unxor(d, got, 32, off + 8 + n);
            for (size_t k = 0; k < nc; k++) {
                size_t i = (cur + k) % nc;
                dentry *e = &d->e[cand[i]];
                if (e->rev_off >= 0)
                    continue;
                memcpy(buf, e->prev, 32);
                pk_sha256d(buf, 32 + (size_t)n, sum);
                if (memcmp(sum, got, 32) == 0) {
                    e->rev_off = (int64_t)(off + 8);
                    e->rev_size = n;
                    cur = i + 1;
                    break;
                }
            }
            off += 8 + n + 32;
        }
        free(buf);
        free(cand);
        close(fd);
    }
    return 0;
}

static int dd_headers(pk_block_source *s, int64_t n, uint8_t (*out)[80], char *err, size_t errlen)
{
    dsrc *d = s->ctx;
    if (scan(d, err, errlen))
        return PK_CHAIN_EIO;
    if (n > d->tip + 1) {
        snprintf(err, errlen, "the block files reach height %lld only", (long long)d->tip);
        return PK_CHAIN_EIO;
    }
    for (int64_t h = 0; h < n; h++)
        memcpy(out[h], d->e[d->chain[h]].hdr, 80);
    return 0;
}

static int dd_spent(pk_block_source *s, int64_t height, pk_prevout **out, size_t *n, uint8_t **store, char *err,
                    size_t errlen)
{
    dsrc *d = s->ctx;
    if (scan(d, err, errlen))
        return PK_CHAIN_EIO;
    if (height < 1 || height > d->tip) {
        snprintf(err, errlen, "no block %lld in the files", (long long)height);
        return PK_CHAIN_EIO;
    }
    dentry *e = &d->e[d->chain[height]];
    if (e->rev_off < 0 && !d->undo_matched) {
        if (match_undo(d, height, d->to >= height ? d->to : d->tip, err, errlen))
            return PK_CHAIN_EIO;
        d->undo_matched = 1;
    }
    if (e->rev_off < 0) {
        snprintf(err, errlen, "rev%05u.dat holds no undo record for block %lld whose checksum matches", e->file,
                 (long long)height);
        return PK_CHAIN_EIO;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/rev%05u.dat", d->dir, e->file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && e->rev_size == 0) {
        uint8_t h8[8];
        if (e->rev_off >= 8 && pread(fd, h8, 8, (off_t)(e->rev_off - 8)) == 8) {
            unxor(d, h8, 8, (uint64_t)e->rev_off - 8);
            if (memcmp(h8, d->magic, 4) == 0)
                e->rev_size = le32at(h8 + 4);
        }
    }
    /* the record, then its checksum: SHA256d(the previous block's hash, the record) */
    uint8_t *p = fd >= 0 && e->rev_size ? malloc(32 + (size_t)e->rev_size + 32) : NULL;
    ssize_t got = p ? pread(fd, p + 32, (size_t)e->rev_size + 32, (off_t)e->rev_off) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)e->rev_size + 32) {
        free(p);
        snprintf(err, errlen, "%s: cannot read block %lld's undo record", path, (long long)height);
        return PK_CHAIN_EIO;
    }
    unxor(d, p + 32, (size_t)e->rev_size + 32, (uint64_t)e->rev_off);
    memcpy(p, e->prev, 32);
    uint8_t sum[32];
    pk_sha256d(p, 32 + (size_t)e->rev_size, sum);
    if (memcmp(sum, p + 32 + e->rev_size, 32) != 0) {
        free(p);
        snprintf(err, errlen, "rev%05u.dat: block %lld's undo record fails its checksum", e->file, (long long)height);
        return PK_CHAIN_EIO;
    }
    memmove(p, p + 32, e->rev_size);
    uint64_t ntx = e->ntx;
    if (!ntx) {
        /* a count of 253 or more: from the block itself */
        uint8_t c9[9];
        int bfd = -1;
        char bp[1100];
        file_path(d, e->file, bp, sizeof bp);
        bfd = open(bp, O_RDONLY | O_CLOEXEC);
        if (bfd >= 0 && pread(bfd, c9, 9, (off_t)(e->off + 80)) == 9) {
            unxor(d, c9, 9, e->off + 80);
            size_t pos = 0;
            ntx = pk_compact_get(c9, &pos);
        }
        if (bfd >= 0)
            close(bfd);
    }
    int rc = pk_undo_decode(p, e->rev_size, (size_t)ntx, out, n, store);
    free(p);
    if (rc) {
        snprintf(err, errlen, "block %lld's undo record is not Core's undo format", (long long)height);
        return PK_CHAIN_EIO;
    }
    return 0;
}

static int64_t dd_tip(pk_block_source *s, char *err, size_t errlen)
{
    dsrc *d = s->ctx;
    if (scan(d, err, errlen))
        return PK_CHAIN_EIO;
    return d->tip;
}

static int dd_start(pk_block_source *s, int64_t from, int64_t to, char *err, size_t errlen)
{
    dsrc *d = s->ctx;
    if (scan(d, err, errlen))
        return PK_CHAIN_EIO;
    d->next = from;
    d->to = to < 0 || to > d->tip ? d->tip : to;
    return 0;
}

static int dd_next(pk_block_source *s, int64_t *height, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    dsrc *d = s->ctx;
    if (!d->scanned || d->next > d->to)
        return 0;
    dentry *e = &d->e[d->chain[d->next]];
    if (d->fd < 0 || d->fd_file != (int)e->file) {
        if (d->fd >= 0)
            close(d->fd);
        char path[1100];
        file_path(d, e->file, path, sizeof path);
        d->fd = open(path, O_RDONLY | O_CLOEXEC);
        d->fd_file = (int)e->file;
        if (d->fd < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return PK_CHAIN_EIO;
        }
    }
    if (e->size == 0) {
        /* from the index: the record's own size, before the block */
        uint8_t h8[8];
        if (e->off < 8 || pread(d->fd, h8, 8, (off_t)(e->off - 8)) != 8) {
            snprintf(err, errlen, "blk%05u.dat: no record at %llu for block %lld", e->file,
                     (unsigned long long)e->off, (long long)d->next);
            return PK_CHAIN_EIO;
        }
        unxor(d, h8, 8, e->off - 8);
        if (memcmp(h8, d->magic, 4) != 0 || le32at(h8 + 4) < 81) {
            snprintf(err, errlen, "blk%05u.dat: the index points at no block record for height %lld", e->file,
                     (long long)d->next);
            return PK_CHAIN_EIO;
        }
        e->size = le32at(h8 + 4);
    }
    uint8_t *p = malloc(e->size);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return PK_CHAIN_EIO;
    }
    ssize_t got = pread(d->fd, p, e->size, (off_t)e->off);
    if (got != (ssize_t)e->size) {
        free(p);
        snprintf(err, errlen, "blk%05u.dat: block %lld cut short", e->file, (long long)d->next);
        return PK_CHAIN_EIO;
    }
    unxor(d, p, e->size, e->off);
    *data = p;
    *len = e->size;
    *height = d->next++;
    return 1;
}

static void dd_close(pk_block_source *s)
{
    dsrc *d = s->ctx;
    if (d->fd >= 0)
        close(d->fd);
    free(d->e);
    free(d->slots);
    free(d->chain);
    free(d);
}

pk_block_source *pk_block_source_datadir(const char *datadir, pk_chain chain, char *err, size_t errlen)
{
    dsrc *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->fd = -1;
    /* DIR/blocks, or the blocks folder itself. */
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/blocks/blk00000.dat", datadir);
    if (access(probe, R_OK) == 0)
        snprintf(d->dir, sizeof d->dir, "%s/blocks", datadir);
    else
        snprintf(d->dir, sizeof d->dir, "%s", datadir);
    snprintf(probe, sizeof probe, "%s/blk00000.dat", d->dir);
    if (access(probe, R_OK) != 0) {
        snprintf(err, errlen, "%s: no blocks/blk00000.dat (give Bitcoin Core's data directory)", datadir);
        free(d);
        return NULL;
    }
    if (chain == PK_CHAIN_MAIN) {
        memcpy(d->magic, "\xf9\xbe\xb4\xd9", 4);
        d->genesis = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
    } else if (chain == PK_CHAIN_REGTEST) {
        memcpy(d->magic, "\xfa\xbf\xb5\xda", 4);
        d->genesis = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
    } else {
        snprintf(err, errlen, "--datadir: main or regtest");
        free(d);
        return NULL;
    }
    snprintf(probe, sizeof probe, "%s/xor.dat", d->dir);
    int fd = open(probe, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, d->key, 8);
        uint8_t extra;
        int more = read(fd, &extra, 1) == 1;
        close(fd);
        if (n != 8 || more) {
            snprintf(err, errlen, "%s: not an 8-byte key", probe);
            free(d);
            return NULL;
        }
    }
    d->next = 0;
    d->to = -1;
    d->s = (pk_block_source){"datadir", d, dd_tip, dd_start, dd_next, dd_close, dd_headers, dd_spent};
    return &d->s;
}
