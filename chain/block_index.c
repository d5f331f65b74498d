/* Bitcoin Core's block index (blocks/index, LevelDB), read from a copy:
 * LevelDB has no read-only mode (opening writes its LOCK, LOG and MANIFEST
 * files, and may compact), and powkit never writes into a data directory,
 * so the folder is copied to a temporary one and opened there.
 *
 * Each record is 'b' + the block hash -> CDiskBlockIndex, as Core
 * serializes it (chain.h): VARINT client version, VARINT height, VARINT
 * status, VARINT transaction count, then VARINT file where the block or
 * its undo data is stored, VARINT data position with BLOCK_HAVE_DATA,
 * VARINT undo position with BLOCK_HAVE_UNDO, and the 80-byte header. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain_internal.h"

static int copy_dir(const char *from, const char *to, char *err, size_t errlen)
{
    DIR *dp = opendir(from);
    if (!dp) {
        snprintf(err, errlen, "%s: %s", from, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(dp)) && !rc) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "LOCK") == 0)
            continue;
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/%s", from, de->d_name);
        snprintf(b, sizeof b, "%s/%s", to, de->d_name);
        int in = open(a, O_RDONLY | O_CLOEXEC);
        if (in < 0)
            continue; /* a file LevelDB removed meanwhile */
        int out = open(b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0) {
            close(in);
            snprintf(err, errlen, "%s: %s", b, strerror(errno));
            rc = -1;
            break;
        }
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) {
                snprintf(err, errlen, "%s: %s", b, strerror(errno));
                rc = -1;
                break;
            }
        close(in);
        close(out);
    }
    closedir(dp);
    return rc;
}

static void remove_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *de;
        while ((de = readdir(dp))) {
            if (de->d_name[0] == '.')
                continue;
            char p[1200];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(dp);
    }
    rmdir(dir);
}

static int varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10 && *pos < n; i++) {
        uint8_t b = p[(*pos)++];
        v = (v << 7) | (b & 0x7f);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
        v++;
    }
    return -1;
}

int pk_block_index_read(const char *index_dir, pk_index_entry **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    struct stat st;
    if (stat(index_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 1; /* no index: the caller links the blocks itself */
    char tmp[] = "/tmp/powkit-index-XXXXXX";
    if (!mkdtemp(tmp)) {
        snprintf(err, errlen, "cannot make a temporary folder: %s", strerror(errno));
        return -1;
    }
    if (copy_dir(index_dir, tmp, err, errlen)) {
        remove_dir(tmp);
        return -1;
    }
    leveldb_options_t *o = leveldb_options_create();
    leveldb_options_set_create_if_missing(o, 0);
    char *lerr = NULL;
    leveldb_t *db = leveldb_open(o, tmp, &lerr);
    if (!db) {
        snprintf(err, errlen, "%s: not a LevelDB block index (%s)", index_dir, lerr ? lerr : "?");
        leveldb_free(lerr);
        leveldb_options_destroy(o);
        remove_dir(tmp);
        return -1;
    }
    /* Core obfuscates a database's values with the key under
     * "\x0e\x00obfuscate_key" where it made one (not for the index, but
     * an index that has one is read with it). */
    uint8_t xk[64];
    size_t xl = 0;
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    {
        static const char okey[] = "\x0e\x00obfuscate_key";
        size_t vl = 0;
        char *v = leveldb_get(db, ro, okey, sizeof okey - 1, &vl, &lerr);
        if (v && vl >= 1 && (size_t)(uint8_t)v[0] + 1 == vl && vl - 1 <= sizeof xk) {
            xl = vl - 1;
            memcpy(xk, v + 1, xl);
            int zero = 1;
            for (size_t i = 0; i < xl; i++)
                zero &= xk[i] == 0;
            if (zero)
                xl = 0;
        }
        leveldb_free(v);
        leveldb_free(lerr);
        lerr = NULL;
    }
    leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
    size_t cap = 0, cnt = 0;
    pk_index_entry *e = NULL;
    int rc = 0;
    for (leveldb_iter_seek(it, "b", 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t kl, vl;
        const char *k = leveldb_iter_key(it, &kl);
        if (kl != 33 || k[0] != 'b')
            break;
        const char *vv = leveldb_iter_value(it, &vl);
        uint8_t *v = malloc(vl ? vl : 1);
        if (!v)
            abort();
        memcpy(v, vv, vl);
        for (size_t i = 0; xl && i < vl; i++)
            v[i] ^= xk[i % xl];
        size_t pos = 0;
        uint64_t ver, height, status, ntx, file = 0, dpos = 0, upos = 0;
        int bad = varint(v, vl, &pos, &ver) || varint(v, vl, &pos, &height) || varint(v, vl, &pos, &status) ||
                  varint(v, vl, &pos, &ntx);
        if (!bad && (status & (PK_BLOCK_HAVE_DATA | PK_BLOCK_HAVE_UNDO)))
            bad = varint(v, vl, &pos, &file);
        if (!bad && (status & PK_BLOCK_HAVE_DATA))
            bad = varint(v, vl, &pos, &dpos);
        if (!bad && (status & PK_BLOCK_HAVE_UNDO))
            bad = varint(v, vl, &pos, &upos);
        if (bad || pos + 80 != vl || height > INT32_MAX || file > UINT32_MAX) {
            free(v);
            snprintf(err, errlen, "%s: a damaged record", index_dir);
            rc = -1;
            break;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 4096;
            pk_index_entry *ne = realloc(e, cap * sizeof *ne);
            if (!ne)
                abort();
            e = ne;
        }
        pk_index_entry *x = &e[cnt++];
        memcpy(x->hash, k + 1, 32);
        memcpy(x->header, v + pos, 80);
        x->height = (int64_t)height;
        x->status = (uint32_t)status;
        x->ntx = ntx;
        x->file = (uint32_t)file;
        x->data_pos = dpos;
        x->undo_pos = upos;
        free(v);
    }
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(ro);
    leveldb_close(db);
    leveldb_options_destroy(o);
    remove_dir(tmp);
    if (rc) {
        free(e);
        return rc;
    }
    *out = e;
    *n = cnt;
    return 0;
}
