/* The chain validator (include/powkit/chain.h) on a regtest chain of 2,100
 * blocks made and validated by bcoin (tests/node/chain.js: every spend kind
 * bcoin's wallet code signs): the whole chain valid, through the library
 * and through `powkit verify-chain --node` against bcoin serving it;
 * mutated blocks refused with Core's reasons and the state left as it was;
 * kill -9 at random moments, then resume, to the same UTXO set. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <leveldb/c.h>

#include "bcoin_node.h"
#include "fake_node.h"
#include "powkit/chain.h"
#include "powkit/sha256.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "testutil.h"

/* ---- the chain file ---- */

typedef struct chain_file {
    uint8_t **blocks;
    size_t *lens;
    size_t n;
} chain_file;

static const char *chain_path(void)
{
    const char *p = getenv("POWKIT_TEST_CHAIN");
    return p && *p ? p : POWKIT_TEST_CHAIN;
}

static void load_chain(chain_file *c)
{
    FILE *f = fopen(chain_path(), "r");
    cr_assert(f, "no chain file %s: the chain_data test makes it (node tests/node/chain.js make FILE)", chain_path());
    memset(c, 0, sizeof *c);
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!n)
            continue;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 1024;
            c->blocks = realloc(c->blocks, cap * sizeof *c->blocks);
            c->lens = realloc(c->lens, cap * sizeof *c->lens);
        }
        c->lens[c->n] = (size_t)n / 2;
        c->blocks[c->n] = malloc(c->lens[c->n]);
        cr_assert(pk_hex_decode(line, c->blocks[c->n], c->lens[c->n]) == 0, "line %zu is not hex", c->n + 1);
        c->n++;
    }
    free(line);
    fclose(f);
    cr_assert(c->n >= 2001, "the chain file holds %zu blocks, not at least 2,001", c->n);
}

static void free_chain(chain_file *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->blocks[i]);
    free(c->blocks);
    free(c->lens);
}

static pk_chainstate *open_state(const char *dir)
{
    pk_chainstate_opts o = {0};
    o.chain = PK_CHAIN_REGTEST;
    o.db_dir = dir;
    o.engine = -1;
    o.threads = 2;
    o.flush_s = 0.05;
    pk_chainstate *cs;
    char err[256];
    int rc = pk_chainstate_open(&cs, &o, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %s", err);
    return cs;
}

static void connect_ok(pk_chainstate *cs, const chain_file *c, int64_t h)
{
    pk_chain_verdict v;
    int rc = pk_chainstate_connect(cs, c->blocks[h], c->lens[h], &v);
    cr_assert_eq(rc, 0, "block %lld refused: %s: %s", (long long)h, v.reason ? v.reason : "", v.msg);
    cr_assert_eq(v.valid, 1, "block %lld: %s", (long long)h, v.msg);
}

/* ---- the whole chain ---- */

Test(chain, bcoin_chain_is_valid_every_input_judged, .timeout = 300)
{
    chain_file c;
    load_chain(&c);
    pk_chainstate *cs = open_state(NULL);
    pk_block_source *src = pk_block_source_memory((const uint8_t *const *)c.blocks, c.lens, c.n);
    char err[256];
    cr_assert_eq(src->start(src, 0, -1, err, sizeof err), 0);
    pk_chain_verdict v;
    int rc;
    uint64_t sigs = 0;
    while ((rc = pk_chainstate_step(cs, src, &v, err, sizeof err)) == 0) {
        cr_assert_eq(v.valid, 1, "block %lld: %s", (long long)v.height, v.msg);
        sigs += v.signatures;
    }
    cr_assert_eq(rc, 2, "stopped at %lld: %s %s", (long long)pk_chainstate_height(cs), err, v.msg);
    pk_chainstate_stats s;
    pk_chainstate_get_stats(cs, &s);
    cr_assert_eq(s.height, (int64_t)c.n - 1);
    cr_assert_gt(s.inputs, 5000, "only %llu inputs", (unsigned long long)s.inputs);
    cr_assert_geq(sigs, s.inputs, "fewer signatures (%llu) than inputs (%llu)", (unsigned long long)sigs,
                  (unsigned long long)s.inputs);
    cr_assert_eq(s.not_checked, 0);
    /* The last coinbase is unspent, with its height; a block's outputs a
     * later block spent are not. */
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, c.blocks[c.n - 1], c.lens[c.n - 1], &e), 0);
    pk_block_hash_txs(&b);
    uint64_t value;
    int64_t height;
    cr_assert_eq(pk_chainstate_coin(cs, b.tx[0].txid, 0, &value, &height), 1);
    cr_assert_eq(height, (int64_t)c.n - 1);
    cr_assert_geq(value, pk_block_subsidy(PK_CHAIN_REGTEST, height));
    pk_block_free(&b);
    src->close(src);
    pk_chainstate_close(cs);
    free_chain(&c);
}

/* ---- mutated blocks ---- */

typedef struct txbuf {
    uint8_t *d;
    size_t n;
} txbuf;

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A block's transactions as separate buffers, to edit. */
typedef struct mblock {
    uint8_t header[80];
    txbuf tx[64];
    size_t ntx;
} mblock;

static void split(const chain_file *c, int64_t h, mblock *m)
{
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, c->blocks[h], c->lens[h], &e), 0);
    cr_assert_leq(b.ntx, 60);
    memcpy(m->header, c->blocks[h], 80);
    m->ntx = b.ntx;
    for (size_t i = 0; i < b.ntx; i++) {
        m->tx[i].n = b.tx[i].size;
        m->tx[i].d = malloc(b.tx[i].size);
        memcpy(m->tx[i].d, c->blocks[h] + b.tx[i].offset, b.tx[i].size);
    }
    pk_block_free(&b);
}

static void free_mblock(mblock *m)
{
    for (size_t i = 0; i < m->ntx; i++)
        free(m->tx[i].d);
}

static void parse_tx(const txbuf *t, pk_tx *out)
{
    pk_verror e;
    cr_assert_eq(pk_tx_parse(out, t->d, t->n, &e), 0, "an edited transaction does not parse: %s", e.msg);
    pk_tx_hash(t->d, out);
}

/* Serializes m with its witness commitment and merkle root made anew and
 * a nonce that meets regtest's target. */
static uint8_t *assemble(mblock *m, size_t *len)
{
    pk_tx t[64];
    uint8_t (*ids)[32] = malloc(m->ntx * 32), (*wids)[32] = malloc(m->ntx * 32);
    for (size_t i = 1; i < m->ntx; i++) {
        parse_tx(&m->tx[i], &t[i]);
        memcpy(wids[i], t[i].wtxid, 32);
    }
    memset(wids[0], 0, 32);
    /* The commitment: an OP_RETURN output of the coinbase beginning aa21a9ed. */
    txbuf *cb = &m->tx[0];
    for (size_t p = 0; p + 38 <= cb->n; p++) {
        if (memcmp(cb->d + p, "\x6a\x24\xaa\x21\xa9\xed", 6) == 0) {
            uint8_t root[32], buf[64];
            int mut;
            pk_merkle_root((const uint8_t(*)[32])wids, m->ntx, root, &mut);
            memcpy(buf, root, 32);
            /* the reserved value: the coinbase's one witness item */
            pk_tx t0;
            parse_tx(cb, &t0);
            cr_assert_gt(t0.wit_size, 0, "a commitment without the coinbase's witness");
            size_t w = t0.wit_offset;
            cr_assert_eq(cb->d[w], 1);
            cr_assert_eq(cb->d[w + 1], 32);
            memcpy(buf + 32, cb->d + w + 2, 32);
            pk_sha256d(buf, 64, cb->d + p + 6);
            break;
        }
    }
    parse_tx(&m->tx[0], &t[0]);
    for (size_t i = 0; i < m->ntx; i++)
        memcpy(ids[i], t[i].txid, 32);
    uint8_t root[32];
    int mut;
    pk_merkle_root((const uint8_t(*)[32])ids, m->ntx, root, &mut);
    memcpy(m->header + 36, root, 32);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    pk_verror e;
    for (uint32_t nonce = 0;; nonce++) {
        put32(m->header + 76, nonce);
        if (pk_check_pow(m->header, &p, &e) == 0)
            break;
    }
    size_t n = 80 + 9;
    for (size_t i = 0; i < m->ntx; i++)
        n += m->tx[i].n;
    uint8_t *out = malloc(n);
    memcpy(out, m->header, 80);
    size_t pos = 80 + pk_compact_put(out + 80, m->ntx);
    for (size_t i = 0; i < m->ntx; i++) {
        memcpy(out + pos, m->tx[i].d, m->tx[i].n);
        pos += m->tx[i].n;
    }
    *len = pos;
    free(ids);
    free(wids);
    return out;
}

/* Connects the mutation; it must be refused with the reason (and the
 * message must hold `words` when given), the state unchanged. */
static void expect_refused(pk_chainstate *cs, mblock *m, const char *reason, const char *words, const char *what)
{
    size_t len;
    uint8_t *blk = assemble(m, &len);
    int64_t before = pk_chainstate_height(cs);
    pk_chainstate_stats s0, s1;
    pk_chainstate_get_stats(cs, &s0);
    pk_chain_verdict v;
    int rc = pk_chainstate_connect(cs, blk, len, &v);
    cr_assert_eq(rc, 1, "%s: not refused (rc %d, %s)", what, rc, v.msg);
    cr_assert_eq(v.valid, 0);
    cr_assert_str_eq(v.reason, reason, "%s: refused as %s (%s), not %s", what, v.reason, v.msg, reason);
    if (words)
        cr_assert(strstr(v.msg, words), "%s: \"%s\" lacks \"%s\"", what, v.msg, words);
    cr_assert_eq(pk_chainstate_height(cs), before);
    pk_chainstate_get_stats(cs, &s1);
    cr_assert_eq(s1.coins, s0.coins, "%s: the refused block changed the coin count", what);
    free(blk);
    free_mblock(m);
}

/* The first input of a transaction, where its outpoint and sequence are. */
static void first_input(const txbuf *t, size_t *outpoint, size_t *script, size_t *script_len, size_t *sequence)
{
    size_t p = 4;
    if (t->d[4] == 0 && t->d[5] == 1)
        p = 6;
    uint64_t nin = pk_compact_get(t->d, &p);
    cr_assert_geq(nin, 1);
    *outpoint = p;
    p += 36;
    *script_len = (size_t)pk_compact_get(t->d, &p);
    *script = p;
    *sequence = p + *script_len;
}

static txbuf unsigned_spend(const uint8_t txid[32], uint32_t vout, uint64_t value)
{
    txbuf t;
    t.n = 4 + 1 + 36 + 1 + 4 + 1 + 8 + 1 + 1 + 4;
    t.d = calloc(1, t.n);
    uint8_t *p = t.d;
    put32(p, 1), p += 4;
    *p++ = 1;
    memcpy(p, txid, 32), p += 32;
    put32(p, vout), p += 4;
    *p++ = 0; /* empty scriptSig */
    put32(p, 0xffffffffu), p += 4;
    *p++ = 1;
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(value >> (8 * i));
    *p++ = 1;
    *p++ = 0x51; /* OP_TRUE */
    put32(p, 0), p += 4;
    return t;
}

Test(chain, mutated_blocks_refused_with_cores_reasons, .timeout = 300)
{
    chain_file c;
    load_chain(&c);
    pk_chainstate *cs = open_state(NULL);
    int64_t last = (int64_t)c.n - 1;
    int done_sig = 0, done_bip30 = 0;
    for (int64_t h = 0; h <= last; h++) {
        mblock m;
        if (h == 1000 || (h > 1000 && !done_sig)) {
            /* One signature byte changed deep in the chain. */
            split(&c, h, &m);
            for (size_t i = 1; i < m.ntx && !done_sig; i++) {
                size_t op, sc, sl, sq;
                first_input(&m.tx[i], &op, &sc, &sl, &sq);
                /* a scriptSig whose first push is a DER signature */
                if (sl > 72 && m.tx[i].d[sc] >= 0x47 && m.tx[i].d[sc] <= 0x49 && m.tx[i].d[sc + 1] == 0x30) {
                    m.tx[i].d[sc + 12] ^= 0x01;
                    done_sig = 1;
                }
            }
            if (done_sig)
                expect_refused(cs, &m, "mandatory-script-verify-flag-failed (SCRIPT_ERR_EVAL_FALSE)", NULL,
                               "a signature byte changed");
            else
                free_mblock(&m);
            if (done_sig == 1) {
                /* The reason names the script's error: whichever the spend makes of a bad signature. */
                done_sig = 2;
            }
        }
        if (h == 1500) {
            /* Inflation by one satoshi: the coinbase takes all of subsidy and fees already. */
            split(&c, h, &m);
            pk_tx t;
            parse_tx(&m.tx[0], &t);
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v |= (uint64_t)m.tx[0].d[t.out_offset + i] << (8 * i);
            v++;
            for (int i = 0; i < 8; i++)
                m.tx[0].d[t.out_offset + i] = (uint8_t)(v >> (8 * i));
            expect_refused(cs, &m, "bad-cb-amount", NULL, "one satoshi of inflation");

            /* A double spend inside the block: the first transaction again,
             * changed so its txid differs, spends the same outpoint. */
            split(&c, h, &m);
            cr_assert_geq(m.ntx, 2);
            m.tx[m.ntx].n = m.tx[1].n;
            m.tx[m.ntx].d = malloc(m.tx[1].n);
            memcpy(m.tx[m.ntx].d, m.tx[1].d, m.tx[1].n);
            put32(m.tx[m.ntx].d + m.tx[m.ntx].n - 4, 1); /* a lock time in the past: still final */
            m.ntx++;
            expect_refused(cs, &m, "bad-txns-inputs-missingorspent", NULL, "a double spend in one block");

            /* An immature coinbase spend: the coinbase of 50 blocks ago. */
            split(&c, h, &m);
            pk_block ob;
            pk_verror e;
            cr_assert_eq(pk_block_parse(&ob, c.blocks[h - 50], c.lens[h - 50], &e), 0);
            pk_block_hash_txs(&ob);
            m.tx[m.ntx++] = unsigned_spend(ob.tx[0].txid, 0, 1000);
            pk_block_free(&ob);
            expect_refused(cs, &m, "bad-txns-premature-spend-of-coinbase", NULL, "an immature coinbase spend");

            /* A lock time in the future (and a sequence that lets it count). */
            split(&c, h, &m);
            {
                size_t op, sc, sl, sq;
                first_input(&m.tx[1], &op, &sc, &sl, &sq);
                put32(m.tx[1].d + sq, 0xfffffffeu);
                put32(m.tx[1].d + m.tx[1].n - 4, (uint32_t)h + 100);
            }
            expect_refused(cs, &m, "bad-txns-nonfinal", "not final", "a lock time in the future");

            /* A BIP68 sequence lock not met: version 2, 65,535 blocks. */
            split(&c, h, &m);
            {
                size_t op, sc, sl, sq;
                first_input(&m.tx[1], &op, &sc, &sl, &sq);
                put32(m.tx[1].d, 2);
                put32(m.tx[1].d + sq, 0x0000ffffu);
            }
            expect_refused(cs, &m, "bad-txns-nonfinal", "BIP68", "a sequence lock not met");

            /* A sigop bomb: an extra coinbase output of 20,001 OP_CHECKSIGs. */
            split(&c, h, &m);
            {
                pk_tx t0;
                parse_tx(&m.tx[0], &t0);
                txbuf *cb = &m.tx[0];
                size_t extra = 8 + 3 + 20001;
                uint8_t *nd = malloc(cb->n + extra);
                /* the output count sits just before the first output */
                size_t count_at = t0.out_offset - 1;
                cr_assert_lt(cb->d[count_at], 0xfc);
                size_t end_outs = t0.wit_size ? t0.wit_offset : t0.lock_offset;
                memcpy(nd, cb->d, end_outs);
                nd[count_at]++;
                size_t p = end_outs;
                memset(nd + p, 0, 8), p += 8;
                p += pk_compact_put(nd + p, 20001);
                memset(nd + p, 0xac, 20001), p += 20001;
                memcpy(nd + p, cb->d + end_outs, cb->n - end_outs);
                p += cb->n - end_outs;
                free(cb->d);
                cb->d = nd;
                cb->n = p;
            }
            expect_refused(cs, &m, "bad-blk-sigops", NULL, "a sigop bomb");
        }
        if (h > 1500 && !done_bip30) {
            /* A BIP30 duplicate: an earlier transaction with an unspent
             * output, again. */
            for (int64_t k = h - 1; k > h - 200 && !done_bip30; k--) {
                pk_block ob;
                pk_verror e;
                cr_assert_eq(pk_block_parse(&ob, c.blocks[k], c.lens[k], &e), 0);
                pk_block_hash_txs(&ob);
                for (size_t i = 1; i < ob.ntx && !done_bip30; i++) {
                    if (!pk_chainstate_coin(cs, ob.tx[i].txid, 0, NULL, NULL))
                        continue;
                    split(&c, h, &m);
                    m.tx[m.ntx].n = ob.tx[i].size;
                    m.tx[m.ntx].d = malloc(ob.tx[i].size);
                    memcpy(m.tx[m.ntx].d, c.blocks[k] + ob.tx[i].offset, ob.tx[i].size);
                    m.ntx++;
                    done_bip30 = 1;
                    expect_refused(cs, &m, "bad-txns-BIP30", NULL, "a BIP30 duplicate");
                }
                pk_block_free(&ob);
            }
        }
        if (h == 1800) {
            /* Another chain's block: a wrong previous hash. */
            split(&c, h, &m);
            m.header[4] ^= 1;
            expect_refused(cs, &m, "prev-blk-not-found", NULL, "a block off the tip");
            /* A time at or below the median of the last 11. */
            split(&c, h, &m);
            put32(m.header + 68, get32(c.blocks[h - 6] + 68) - 1);
            expect_refused(cs, &m, "time-too-old", NULL, "a time below the median");
        }
        connect_ok(cs, &c, h);
    }
    cr_assert_eq(done_sig, 2, "no legacy signature found to change");
    cr_assert(done_bip30, "no transaction with an unspent output found");
    pk_chainstate_close(cs);
    free_chain(&c);
}

/* ---- kill -9, then resume ---- */

static void utxo_digest(pk_chainstate *cs, const chain_file *c, uint64_t *count, uint64_t *sum)
{
    /* Every output of the last 300 blocks: which are unspent, and their values. */
    *sum = 0;
    pk_chainstate_stats s;
    pk_chainstate_get_stats(cs, &s);
    *count = s.coins;
    for (size_t h = c->n - 300; h < c->n; h++) {
        pk_block b;
        pk_verror e;
        cr_assert_eq(pk_block_parse(&b, c->blocks[h], c->lens[h], &e), 0);
        pk_block_hash_txs(&b);
        for (size_t i = 0; i < b.ntx; i++)
            for (uint32_t o = 0; o < b.tx[i].n_out; o++) {
                uint64_t v;
                int64_t ht;
                if (pk_chainstate_coin(cs, b.tx[i].txid, o, &v, &ht))
                    *sum += v * 31 + (uint64_t)ht * 7 + o + i;
            }
        pk_block_free(&b);
    }
}

Test(chain, kill_9_then_resume_same_state, .timeout = 600)
{
    chain_file c;
    load_chain(&c);
    /* The reference: one run without interruption. */
    pk_chainstate *ref = open_state(NULL);
    for (size_t h = 0; h < c.n; h++)
        connect_ok(ref, &c, (int64_t)h);
    uint64_t ref_count, ref_sum;
    utxo_digest(ref, &c, &ref_count, &ref_sum);
    pk_chainstate_close(ref);

    char dir[] = "/tmp/powkit-chain-XXXXXX";
    cr_assert(mkdtemp(dir));
    tu_rng rng = {(uint64_t)time(NULL) ^ (uint64_t)getpid()};
    int64_t resumed_from[4];
    for (int round = 0; round < 4; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            pk_chainstate_opts o = {0};
            o.chain = PK_CHAIN_REGTEST;
            o.db_dir = dir;
            o.engine = -1;
            o.threads = 1;
            o.flush_s = 0.02;
            pk_chainstate *cs;
            char err[256];
            if (pk_chainstate_open(&cs, &o, err, sizeof err))
                _exit(3);
            for (int64_t h = pk_chainstate_height(cs) + 1; h < (int64_t)c.n; h++) {
                pk_chain_verdict v;
                if (pk_chainstate_connect(cs, c.blocks[h], c.lens[h], &v) != 0)
                    _exit(4);
            }
            pk_chainstate_close(cs);
            _exit(0);
        }
        usleep(20000 + tu_below(&rng, 250000));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        cr_assert(!WIFEXITED(st) || WEXITSTATUS(st) == 0, "round %d: the child failed (%d)", round,
                  WEXITSTATUS(st));
        pk_chainstate *cs = open_state(dir);
        resumed_from[round] = pk_chainstate_height(cs);
        pk_chainstate_close(cs);
    }
    /* The last resume runs to the end. */
    pk_chainstate *cs = open_state(dir);
    int64_t from = pk_chainstate_height(cs);
    for (int64_t h = from + 1; h < (int64_t)c.n; h++)
        connect_ok(cs, &c, h);
    uint64_t count, sum;
    utxo_digest(cs, &c, &count, &sum);
    cr_assert_eq(count, ref_count, "coins %llu after resumes, %llu in one run", (unsigned long long)count,
                 (unsigned long long)ref_count);
    cr_assert_eq(sum, ref_sum, "the recent coins differ after resumes");
    pk_chainstate_close(cs);
    /* Reopened: the same tip, nothing lost by the close. */
    cs = open_state(dir);
    cr_assert_eq(pk_chainstate_height(cs), (int64_t)c.n - 1);
    pk_chainstate_close(cs);
    cr_log_info("killed at heights %lld %lld %lld %lld (flushed)", (long long)resumed_from[0],
                (long long)resumed_from[1], (long long)resumed_from[2], (long long)resumed_from[3]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    free_chain(&c);
}

/* ---- the command, against bcoin serving the chain ---- */

Test(chain, verify_chain_node_cli, .timeout = 600)
{
    node_proc np;
    node_start_script(&np, "chain.js", "serve", chain_path());
    char cmd[1024], out[16384];
    char dir[] = "/tmp/powkit-chaincli-XXXXXX";
    cr_assert(mkdtemp(dir));
    /* Interrupted (SIGINT, as Ctrl-C) part way: exit 3, resumable. */
    snprintf(cmd, sizeof cmd,
             "timeout --preserve-status -s INT 0.4 %s verify-chain --node %s --rpc-user x --rpc-password powkit-test --chain regtest "
             "--db %s/cs -t 1 --no-batch 2>&1; echo rc=$?",
             POWKIT_CLI, np.url, dir);
    tu_run(cmd, out, sizeof out);
    int interrupted = strstr(out, "rc=3") != NULL;
    cr_assert(interrupted || strstr(out, "rc=0"), "interrupted run: %s", out);
    if (interrupted)
        cr_assert(strstr(out, "interrupted") && strstr(out, "resume"), "%s", out);
    /* The same command again: resumes, to the tip, valid. */
    snprintf(cmd, sizeof cmd,
             "%s verify-chain --node %s --rpc-user x --rpc-password powkit-test --chain regtest --db %s/cs --json "
             "2>/dev/null; echo rc=$?",
             POWKIT_CLI, np.url, dir);
    tu_run(cmd, out, sizeof out);
    cr_assert(strstr(out, "\"verdict\": \"valid\""), "%s", out);
    cr_assert(strstr(out, "\"valid\": true"), "%s", out);
    char want[64];
    snprintf(want, sizeof want, "\"height\": %lld", (long long)(atoll(np.ready)));
    cr_assert(strstr(out, want), "not %s: %s", want, out);
    cr_assert(strstr(out, "rc=0"), "%s", out);
    /* Wrong credentials: a clear error, exit 2. */
    snprintf(cmd, sizeof cmd,
             "%s verify-chain --node %s --rpc-user x --rpc-password wrong --chain regtest --memory 2>&1; echo rc=$?",
             POWKIT_CLI, np.url);
    tu_run(cmd, out, sizeof out);
    cr_assert(strstr(out, "credentials") && strstr(out, "rc=2"), "%s", out);
    /* Another chain's state is refused. */
    snprintf(cmd, sizeof cmd,
             "%s verify-chain --node %s --rpc-user x --rpc-password powkit-test --chain main --db %s/cs 2>&1; "
             "echo rc=$?",
             POWKIT_CLI, np.url, dir);
    tu_run(cmd, out, sizeof out);
    cr_assert(strstr(out, "regtest chain's state") && strstr(out, "rc=2"), "%s", out);
    node_stop(&np);
    /* The node gone: an error that says so, exit 2, no hang. */
    snprintf(cmd, sizeof cmd,
             "%s verify-chain --node %s --rpc-user x --rpc-password powkit-test --chain regtest --memory 2>&1; echo rc=$?",
             POWKIT_CLI, np.url);
    tu_run(cmd, out, sizeof out);
    cr_assert(strstr(out, "rc=2"), "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A node that restarts part way writes a new cookie and refuses the old
 * one: the source reads the cookie again and goes on, every block judged;
 * a cookie that stays wrong is an error that says so. */
Test(chain, node_source_reads_a_renewed_cookie, .timeout = 300)
{
    chain_file c;
    load_chain(&c);
    size_t n = 401;
    fnode *f = fn_start(0);
    fn_serve_chain(f, (const uint8_t *const *)c.blocks, c.lens, n);
    char cookie[] = "/tmp/powkit-cookie-XXXXXX";
    int fd = mkstemp(cookie);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "__cookie__:first", 16), 16);
    close(fd);
    fn_require_auth(f, "__cookie__:first");
    fn_rotate_auth(f, 150, "__cookie__:second", cookie);
    char url[64], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fn_port(f));
    pk_node_source_opts o = {url, NULL, NULL, cookie, 16, 4};
    pk_block_source *src = pk_block_source_node(&o, err, sizeof err);
    cr_assert(src, "%s", err);
    cr_assert_eq(src->tip(src, err, sizeof err), (int64_t)n - 1, "%s", err);
    cr_assert_eq(src->start(src, 0, (int64_t)n - 1, err, sizeof err), 0, "%s", err);
    pk_chainstate *cs = open_state(NULL);
    pk_chain_verdict v;
    int rc;
    while ((rc = pk_chainstate_step(cs, src, &v, err, sizeof err)) == 0)
        cr_assert_eq(v.valid, 1, "block %lld: %s", (long long)v.height, v.msg);
    cr_assert_eq(rc, 2, "stopped at %lld: %s", (long long)pk_chainstate_height(cs), err);
    cr_assert_eq(pk_chainstate_height(cs), (int64_t)n - 1);
    fn_stats st;
    fn_stats_get(f, &st);
    cr_assert_gt(st.refused, 0, "the old cookie was refused after the restart");
    cr_assert_geq(st.getblocks, (int)n);
    src->close(src);
    pk_chainstate_close(cs);
    /* The tip too (a blocking call) after another restart. */
    fn_rotate_auth(f, 0, "", cookie);
    src = pk_block_source_node(&o, err, sizeof err);
    cr_assert(src, "%s", err);
    FILE *cf = fopen(cookie, "w");
    fputs("__cookie__:third", cf);
    fclose(cf);
    fn_require_auth(f, "__cookie__:third");
    cr_assert_eq(src->tip(src, err, sizeof err), (int64_t)n - 1, "%s", err);
    src->close(src);
    /* Refused with the cookie as it is: an error naming the credentials. */
    fn_require_auth(f, "__cookie__:other");
    src = pk_block_source_node(&o, err, sizeof err);
    cr_assert(src, "%s", err);
    cr_assert_lt(src->tip(src, err, sizeof err), 0);
    cr_assert(strstr(err, "credentials"), "%s", err);
    cr_assert_eq(src->start(src, 0, 10, err, sizeof err), 0, "%s", err);
    int64_t h;
    uint8_t *data;
    size_t len;
    cr_assert_lt(src->next(src, &h, &data, &len, err, sizeof err), 0);
    cr_assert(strstr(err, "credentials"), "%s", err);
    src->close(src);
    fn_stop(f);
    unlink(cookie);
    free_chain(&c);
}

/* ---- Bitcoin Core's block files ---- */

/* Writes c as Core does: records of regtest magic, size and block in
 * blk00000.dat, blk00001.dat, ... (800 blocks a file), everything XORed
 * with key at its file offset (no xor.dat when key is NULL), not in height
 * order (pairs swapped, as blocks arrive), a stale fork block, a block
 * stored twice, and the last file's unused tail of zeros. */
/* Core's VARINT: base 128, most significant first, each continuation one less. */
static size_t put_varint(uint8_t *out, uint64_t n)
{
    uint8_t tmp[10];
    size_t len = 0;
    for (;;) {
        tmp[len] = (uint8_t)((n & 0x7f) | (len ? 0x80 : 0));
        if (n <= 0x7f)
            break;
        n = (n >> 7) - 1;
        len++;
    }
    for (size_t i = 0; i <= len; i++)
        out[i] = tmp[len - i];
    return len + 1;
}

static uint64_t compress_amount(uint64_t n)
{
    if (n == 0)
        return 0;
    int e = 0;
    while (n % 10 == 0 && e < 9)
        n /= 10, e++;
    if (e < 9) {
        uint64_t d = n % 10;
        n /= 10;
        return 1 + (n * 9 + d - 1) * 10 + (uint64_t)e;
    }
    return 1 + (n - 1) * 10 + 9;
}

/* A coin as Core's TxInUndoFormatter writes it (compressed script forms as
 * compressor.cpp defines them). */
static size_t put_coin(uint8_t *out, const pk_prevout *po)
{
    size_t n = put_varint(out, (uint64_t)po->height * 2 + (po->coinbase ? 1 : 0));
    if (po->height > 0)
        out[n++] = 0;
    n += put_varint(out + n, compress_amount(po->value));
    const uint8_t *s = po->script;
    size_t l = po->script_len;
    if (l == 25 && s[0] == 0x76 && s[1] == 0xa9 && s[2] == 20 && s[23] == 0x88 && s[24] == 0xac) {
        n += put_varint(out + n, 0);
        memcpy(out + n, s + 3, 20);
        return n + 20;
    }
    if (l == 23 && s[0] == 0xa9 && s[1] == 20 && s[22] == 0x87) {
        n += put_varint(out + n, 1);
        memcpy(out + n, s + 2, 20);
        return n + 20;
    }
    if (l == 35 && s[0] == 33 && (s[1] == 2 || s[1] == 3) && s[34] == 0xac) {
        n += put_varint(out + n, s[1]);
        memcpy(out + n, s + 2, 32);
        return n + 32;
    }
    if (l == 67 && s[0] == 65 && s[1] == 4 && s[66] == 0xac) { /* bcoin's keys are on the curve */
        n += put_varint(out + n, 4 | (s[65] & 1));
        memcpy(out + n, s + 2, 32);
        return n + 32;
    }
    n += put_varint(out + n, l + 6);
    memcpy(out + n, s, l);
    return n + l;
}

/* Block h's undo record (CBlockUndo) from the state before it. */
static uint8_t *block_undo(pk_chainstate *ref, const chain_file *c, int64_t h, size_t *len)
{
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, c->blocks[h], c->lens[h], &e), 0);
    pk_block_hash_txs(&b);
    uint8_t *out = malloc(9 + b.n_inputs * (30 + 10100));
    size_t n = pk_compact_put(out, b.ntx - 1);
    for (size_t ti = 1; ti < b.ntx; ti++) {
        pk_txin_ref ins[64];
        cr_assert_leq(b.tx[ti].n_in, 64);
        pk_tx_inputs(&b, &b.tx[ti], ins);
        n += pk_compact_put(out + n, b.tx[ti].n_in);
        for (uint32_t vi = 0; vi < b.tx[ti].n_in; vi++) {
            const uint8_t *op = c->blocks[h] + ins[vi].prevout;
            uint32_t o = get32(op + 32);
            pk_prevout po;
            memset(&po, 0, sizeof po);
            if (!pk_chainstate_coin_get(ref, op, o, &po)) {
                /* made earlier in this block */
                size_t tj = 0;
                while (tj < ti && memcmp(b.tx[tj].txid, op, 32) != 0)
                    tj++;
                cr_assert_lt(tj, ti, "block %lld spends a coin nobody has", (long long)h);
                size_t pos = b.tx[tj].out_offset;
                for (uint32_t k = 0;; k++) {
                    uint64_t v = 0;
                    for (int i = 0; i < 8; i++)
                        v |= (uint64_t)c->blocks[h][pos + i] << (8 * i);
                    pos += 8;
                    size_t sl = (size_t)pk_compact_get(c->blocks[h], &pos);
                    if (k == o) {
                        po.value = v;
                        po.script = c->blocks[h] + pos;
                        po.script_len = sl;
                        break;
                    }
                    pos += sl;
                }
                po.height = h;
                po.coinbase = tj == 0;
            }
            n += put_coin(out + n, &po);
        }
    }
    pk_block_free(&b);
    *len = n;
    return out;
}

/* Core's block index record (CDiskBlockIndex) into LevelDB. */
static void index_put(leveldb_t *db, const uint8_t *block, int64_t height, uint32_t status, uint64_t ntx,
                      uint32_t file, uint64_t data_pos, uint64_t undo_pos)
{
    uint8_t key[33], val[200];
    key[0] = 'b';
    pk_header_hash(block, key + 1);
    size_t n = put_varint(val, 259900); /* the client version Core writes */
    n += put_varint(val + n, (uint64_t)height);
    n += put_varint(val + n, status);
    n += put_varint(val + n, ntx);
    n += put_varint(val + n, file);
    n += put_varint(val + n, data_pos);
    if (status & 16)
        n += put_varint(val + n, undo_pos);
    memcpy(val + n, block, 80);
    n += 80;
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *lerr = NULL;
    leveldb_put(db, wo, (const char *)key, 33, (const char *)val, n, &lerr);
    cr_assert_null(lerr, "leveldb: %s", lerr);
    leveldb_writeoptions_destroy(wo);
}

/* index_tip >= 0: a LevelDB block index too, its blocks fully validated
 * (BLOCK_VALID_SCRIPTS) up to index_tip and only stored above it (as when
 * Core has a block's data but has not connected it), the fork block only
 * stored. */
static void write_core_files(const chain_file *c, const char *dir, const uint8_t *key, int64_t index_tip)
{
    char path[512];
    snprintf(path, sizeof path, "%s/blocks", dir);
    cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
    if (key) {
        snprintf(path, sizeof path, "%s/blocks/xor.dat", dir);
        FILE *f = fopen(path, "wb");
        cr_assert(f && fwrite(key, 1, 8, f) == 8);
        fclose(f);
    }
    /* The order: 0..n-1 with some neighbours swapped, a fork of block 1000
     * (another time, so another hash, on the same parent) after 1001, block
     * 500 again after 900. */
    size_t n = c->n;
    int64_t *order = malloc((n + 2) * sizeof *order);
    size_t k = 0;
    for (size_t h = 0; h < n; h++) {
        if (h % 7 == 3 && h + 1 < n) {
            order[k++] = (int64_t)h + 1;
            order[k++] = (int64_t)h;
            h++;
        } else {
            order[k++] = (int64_t)h;
        }
        if (h == 1001)
            order[k++] = -1; /* the fork */
        if (h == 900)
            order[k++] = 500;
    }
    uint8_t *fork = malloc(c->lens[1000]);
    memcpy(fork, c->blocks[1000], c->lens[1000]);
    put32(fork + 68, get32(fork + 68) + 1);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    pk_verror e;
    for (uint32_t nonce = 0;; nonce++) {
        put32(fork + 76, nonce);
        if (pk_check_pow(fork, &p, &e) == 0)
            break;
    }
    FILE *f = NULL;
    uint64_t off = 0;
    uint32_t *file_of = calloc(n, sizeof *file_of);
    uint64_t *data_pos = calloc(n, sizeof *data_pos), *undo_pos = calloc(n, sizeof *undo_pos);
    uint64_t fork_pos = 0;
    uint32_t fork_file = 0;
    for (size_t i = 0; i < k; i++) {
        if (order[i] >= 0 && !data_pos[order[i]])
            file_of[order[i]] = (uint32_t)(i / 800); /* the first copy, as Core's index has it */
        if (i % 800 == 0) {
            if (f)
                fclose(f);
            snprintf(path, sizeof path, "%s/blocks/blk%05zu.dat", dir, i / 800);
            f = fopen(path, "wb");
            cr_assert(f);
            off = 0;
        }
        if (order[i] >= 0 && !data_pos[order[i]])
            data_pos[order[i]] = off + 8;
        if (order[i] < 0)
            fork_pos = off + 8, fork_file = (uint32_t)(i / 800);
        const uint8_t *blk = order[i] < 0 ? fork : c->blocks[order[i]];
        size_t len = order[i] < 0 ? c->lens[1000] : c->lens[order[i]];
        uint8_t *rec = malloc(8 + len);
        memcpy(rec, "\xfa\xbf\xb5\xda", 4);
        put32(rec + 4, (uint32_t)len);
        memcpy(rec + 8, blk, len);
        for (size_t j = 0; key && j < 8 + len; j++)
            rec[j] ^= key[(off + j) & 7];
        cr_assert_eq(fwrite(rec, 1, 8 + len, f), 8 + len);
        off += 8 + len;
        free(rec);
    }
    static const uint8_t zeros[4096];
    cr_assert_eq(fwrite(zeros, 1, sizeof zeros, f), sizeof zeros); /* Core preallocates */
    fclose(f);
    /* The undo data, as Core writes it when it connects each block: to the
     * rev file of the block's blk number, in height order, each record
     * followed by SHA256d(the previous block's hash, the record). */
    pk_chainstate *ref = open_state(NULL);
    connect_ok(ref, c, 0);
    FILE *rf[8] = {0};
    uint64_t roff[8] = {0};
    for (size_t h = 1; h < n; h++) {
        uint32_t fno = file_of[h];
        cr_assert_lt(fno, 8);
        if (!rf[fno]) {
            snprintf(path, sizeof path, "%s/blocks/rev%05u.dat", dir, fno);
            rf[fno] = fopen(path, "wb");
            cr_assert(rf[fno]);
        }
        size_t ul;
        uint8_t *u = block_undo(ref, c, (int64_t)h, &ul);
        uint8_t *rec = malloc(8 + ul + 32), *hb = malloc(32 + ul);
        memcpy(rec, "\xfa\xbf\xb5\xda", 4);
        put32(rec + 4, (uint32_t)ul);
        memcpy(rec + 8, u, ul);
        memcpy(hb, c->blocks[h] + 4, 32);
        memcpy(hb + 32, u, ul);
        pk_sha256d(hb, 32 + ul, rec + 8 + ul);
        for (size_t j = 0; key && j < 8 + ul + 32; j++)
            rec[j] ^= key[(roff[fno] + j) & 7];
        cr_assert_eq(fwrite(rec, 1, 8 + ul + 32, rf[fno]), 8 + ul + 32);
        undo_pos[h] = roff[fno] + 8;
        roff[fno] += 8 + ul + 32;
        free(rec);
        free(hb);
        free(u);
        connect_ok(ref, c, (int64_t)h);
    }
    for (int i = 0; i < 8; i++)
        if (rf[i])
            fclose(rf[i]);
    pk_chainstate_close(ref);
    if (index_tip >= 0) {
        snprintf(path, sizeof path, "%s/blocks/index", dir);
        leveldb_options_t *o = leveldb_options_create();
        leveldb_options_set_create_if_missing(o, 1);
        char *lerr = NULL;
        leveldb_t *db = leveldb_open(o, path, &lerr);
        cr_assert(db, "leveldb: %s", lerr);
        for (size_t h = 0; h < n; h++) {
            pk_block b;
            pk_verror e;
            cr_assert_eq(pk_block_parse(&b, c->blocks[h], c->lens[h], &e), 0);
            uint32_t status = ((int64_t)h <= index_tip ? 5 : 2) | 8 | (h > 0 ? 16 : 0);
            index_put(db, c->blocks[h], (int64_t)h, status, b.ntx, file_of[h], data_pos[h], undo_pos[h]);
            pk_block_free(&b);
        }
        index_put(db, fork, 1000, 2 | 8, 1, fork_file, fork_pos, 0);
        leveldb_close(db);
        leveldb_options_destroy(o);
    }
    free(data_pos);
    free(undo_pos);
    free(file_of);
    free(fork);
    free(order);
}

/* A digest of every file in dir/blocks and their names, to see that
 * nothing was written there. */
static void dir_digest(const char *dir, uint8_t out[32])
{
    char cmd[700], buf[4096];
    snprintf(cmd, sizeof cmd, "cd '%s/blocks' && ls -laR --time-style=+%%s . && find . -type f | sort | xargs sha256sum",
             dir);
    int n = tu_run(cmd, buf, sizeof buf);
    (void)n;
    pk_sha256(buf, strlen(buf), out);
}

Test(chain, core_block_files_read_only_in_chain_order, .timeout = 300)
{
    chain_file c;
    load_chain(&c);
    char dir[] = "/tmp/powkit-datadir-XXXXXX";
    cr_assert(mkdtemp(dir));
    const uint8_t key[8] = {0x5a, 0x01, 0xc3, 0x7e, 0x00, 0x99, 0xf0, 0x2b};
    write_core_files(&c, dir, key, (int64_t)c.n - 1);
    uint8_t before[32], after[32];
    dir_digest(dir, before);
    /* The library: every block, in height order, as written. */
    char err[256];
    pk_block_source *s = pk_block_source_datadir(dir, PK_CHAIN_REGTEST, err, sizeof err);
    cr_assert(s, "%s", err);
    cr_assert_eq(s->tip(s, err, sizeof err), (int64_t)c.n - 1, "%s", err);
    cr_assert_eq(s->start(s, 0, -1, err, sizeof err), 0);
    int64_t h;
    uint8_t *d;
    size_t len;
    size_t seen = 0;
    while (s->next(s, &h, &d, &len, err, sizeof err) == 1) {
        cr_assert_eq(h, (int64_t)seen);
        cr_assert_eq(len, c.lens[h]);
        cr_assert(memcmp(d, c.blocks[h], len) == 0, "block %lld differs", (long long)h);
        free(d);
        seen++;
    }
    cr_assert_eq(seen, c.n, "%zu blocks read: %s", seen, err);
    s->close(s);
    /* The command: valid to the tip. */
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "%s verify-chain --datadir %s --chain regtest --memory --json 2>/dev/null; echo rc=$?",
             POWKIT_CLI, dir);
    tu_run(cmd, out, sizeof out);
    cr_assert(strstr(out, "\"verdict\": \"valid\"") && strstr(out, "rc=0"), "%s", out);
    char want[64];
    snprintf(want, sizeof want, "\"height\": %zu", c.n - 1);
    cr_assert(strstr(out, want), "%s", out);
    dir_digest(dir, after);
    cr_assert(memcmp(before, after, 32) == 0, "the data directory changed");
    /* From a height, without a UTXO set: each block's spent coins from the
     * undo data (compressed scripts, uncompressed keys among them). */
    snprintf(cmd, sizeof cmd, "%s verify-chain --datadir %s --chain regtest --from 1500 --json 2>&1; echo rc=$?",
             POWKIT_CLI, dir);
    tu_run(cmd, out, sizeof out);
    cr_assert(strstr(out, "\"verdict\": \"valid\"") && strstr(out, "\"from\": 1500") && strstr(out, "rc=0") &&
                  strstr(out, "undo_data"),
              "%s", out);
    cr_assert(strstr(out, want), "%s", out);
    /* An undo record changed: its checksum no longer matches, a clear error. */
    {
        char rev[600];
        snprintf(rev, sizeof rev, "%s/blocks/rev00002.dat", dir);
        FILE *rfp = fopen(rev, "r+b");
        cr_assert(rfp);
        fseek(rfp, 0, SEEK_END);
        long at = ftell(rfp) - 40; /* in the last record: a block near the tip */
        fseek(rfp, at, SEEK_SET);
        int ch = fgetc(rfp);
        fseek(rfp, at, SEEK_SET);
        fputc(ch ^ 0x10, rfp);
        fclose(rfp);
        snprintf(cmd, sizeof cmd, "%s verify-chain --datadir %s --chain regtest --from 1700 2>&1; echo rc=$?",
                 POWKIT_CLI, dir);
        tu_run(cmd, out, sizeof out);
        cr_assert(strstr(out, "checksum") && strstr(out, "rc=2"), "%s", out);
        fseek(rfp = fopen(rev, "r+b"), at, SEEK_SET);
        fputc(ch, rfp);
        fclose(rfp);
    }
    /* Another key: nothing reads as a block; a clear error, exit 2. */
    snprintf(cmd, sizeof cmd, "cd %s/blocks && printf '12345678' > xor.dat && %s verify-chain --datadir %s "
             "--chain regtest --memory 2>&1; echo rc=$?", dir, POWKIT_CLI, dir);
    tu_run(cmd, out, sizeof out);
    cr_assert((strstr(out, "genesis") || strstr(out, "no block record")) && strstr(out, "rc=2"), "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    /* Before Core 28: no xor.dat, the bytes as they are. */
    char dir2[] = "/tmp/powkit-datadir-XXXXXX";
    cr_assert(mkdtemp(dir2));
    write_core_files(&c, dir2, NULL, 2000);
    /* The index decides: Core validated up to 2,000; the blocks above are stored, not connected. */
    s = pk_block_source_datadir(dir2, PK_CHAIN_REGTEST, err, sizeof err);
    cr_assert(s, "%s", err);
    cr_assert_eq(s->tip(s, err, sizeof err), 2000, "%s", err);
    s->close(s);
    snprintf(cmd, sizeof cmd, "%s verify-chain --datadir %s --chain regtest --from 1990 --json 2>&1; echo rc=$?",
             POWKIT_CLI, dir2);
    tu_run(cmd, out, sizeof out);
    cr_assert(strstr(out, "\"verdict\": \"valid\"") && strstr(out, "\"height\": 2000") && strstr(out, "rc=0"),
              "%s", out);
    /* Without the index: the blocks linked by their previous hashes, to the tip of the files. */
    snprintf(cmd, sizeof cmd, "rm -rf %s/blocks/index", dir2);
    cr_assert_eq(system(cmd), 0);
    s = pk_block_source_datadir(dir2, PK_CHAIN_REGTEST, err, sizeof err);
    cr_assert(s, "%s", err);
    cr_assert_eq(s->tip(s, err, sizeof err), (int64_t)c.n - 1, "%s", err);
    s->close(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir2);
    cr_assert_eq(system(cmd), 0);
    free_chain(&c);
}

/* ---- a state started at a height ---- */

Test(chain, assumed_tip_with_given_coins_connects_the_next_block, .timeout = 300)
{
    chain_file c;
    load_chain(&c);
    int64_t H = 1700;
    pk_chainstate *ref = open_state(NULL);
    for (int64_t h = 0; h < H; h++)
        connect_ok(ref, &c, h);
    /* A state that has seen none of it: the last 11 headers, and the coins
     * block H spends; its verifier is the caller's (one thread). */
    pk_verifier *shared = pk_verifier_new(1);
    cr_assert_not_null(shared);
    pk_chainstate_opts so = {0};
    so.chain = PK_CHAIN_REGTEST;
    so.engine = -1;
    so.verifier = shared;
    pk_chainstate *cs;
    char oerr[256];
    cr_assert_eq(pk_chainstate_open(&cs, &so, oerr, sizeof oerr), 0, "open: %s", oerr);
    uint8_t hdrs[11][80];
    for (int i = 0; i < 11; i++)
        memcpy(hdrs[i], c.blocks[H - 11 + i], 80);
    cr_assert_eq(pk_chainstate_assume_tip(cs, H - 1, c.blocks[H] + 4, (const uint8_t(*)[80])hdrs, 11), 0);
    pk_block b;
    pk_verror e;
    cr_assert_eq(pk_block_parse(&b, c.blocks[H], c.lens[H], &e), 0);
    pk_block_hash_txs(&b);
    size_t given = 0, skipped = 0;
    for (size_t ti = 1; ti < b.ntx; ti++) {
        pk_txin_ref ins[64];
        cr_assert_leq(b.tx[ti].n_in, 64);
        pk_tx_inputs(&b, &b.tx[ti], ins);
        for (uint32_t vi = 0; vi < b.tx[ti].n_in; vi++) {
            const uint8_t *op = c.blocks[H] + ins[vi].prevout;
            uint32_t n = get32(op + 32);
            pk_prevout po;
            if (!pk_chainstate_coin_get(ref, op, n, &po)) {
                skipped++; /* made in this block */
                continue;
            }
            if (given == 0) {
                /* Without its first coin the block is refused: the coins are what was given. */
                pk_chain_verdict v;
                cr_assert_eq(pk_chainstate_connect(cs, c.blocks[H], c.lens[H], &v), 1);
                cr_assert_str_eq(v.reason, "bad-txns-inputs-missingorspent");
            }
            cr_assert_eq(pk_chainstate_add_coin(cs, op, n, po.value, po.height, po.coinbase, po.script,
                                                po.script_len), 0);
            given++;
        }
    }
    cr_assert_gt(given, 0, "block %lld spends nothing", (long long)H);
    pk_block_free(&b);
    pk_chain_verdict v;
    int rc = pk_chainstate_connect(cs, c.blocks[H], c.lens[H], &v);
    cr_assert_eq(rc, 0, "%s: %s", v.reason ? v.reason : "", v.msg);
    cr_assert_eq(v.valid, 1, "%s", v.msg);
    cr_assert_eq(pk_chainstate_height(cs), H);
    cr_assert_gt(v.signatures, 0);
    cr_assert_geq(v.checks, v.signatures, "a check per signature at least");
    cr_log_info("block %lld: %zu coins given, %zu inputs spend the block's own", (long long)H, given, skipped);
    pk_chainstate_close(cs);
    /* The caller's verifier outlives the state that used it. */
    cr_assert_eq(pk_verifier_threads(shared), 1);
    pk_sig_check chk;
    memset(&chk, 0, sizeof chk);
    chk.type = PK_SIG_ECDSA;
    pk_sig_check_one(shared, &chk);
    cr_assert_eq(chk.valid, 0, "an empty check is refused, by a live verifier");
    pk_verifier_free(shared);
    pk_chainstate_close(ref);
    free_chain(&c);
}

/* ---- reading ahead ---- */

/* An inner source of made-up blocks: block h is h's bytes repeated; next
 * fails at fail_at (an error with a message); every call checks that no
 * other call into it is running (the wrapper makes them one at a time). */
typedef struct slow_source {
    pk_block_source s;
    int64_t next, to, n, fail_at;
    int in_call, overlapped, spent_calls, closed;
} slow_source;

static void slow_enter(slow_source *x)
{
    if (__atomic_add_fetch(&x->in_call, 1, __ATOMIC_SEQ_CST) != 1)
        __atomic_store_n(&x->overlapped, 1, __ATOMIC_SEQ_CST);
    usleep(200); /* long enough for the other thread to try */
}

static void slow_leave(slow_source *x) { __atomic_sub_fetch(&x->in_call, 1, __ATOMIC_SEQ_CST); }

static int64_t slow_tip(pk_block_source *s, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    return ((slow_source *)s->ctx)->n - 1;
}

static int slow_start(pk_block_source *s, int64_t from, int64_t to, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    slow_source *x = s->ctx;
    x->next = from;
    x->to = to < 0 ? x->n - 1 : to;
    return 0;
}

static int slow_next(pk_block_source *s, int64_t *height, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    slow_source *x = s->ctx;
    slow_enter(x);
    int rc = 1;
    if (x->next > x->to) {
        rc = 0;
    } else if (x->next == x->fail_at) {
        snprintf(err, errlen, "blk00007.dat: block %lld cut short", (long long)x->next);
        rc = PK_CHAIN_EIO;
    } else {
        *len = 100 + (size_t)x->next;
        *data = malloc(*len);
        memset(*data, (int)(x->next & 0xff), *len);
        *height = x->next++;
    }
    slow_leave(x);
    return rc;
}

static int slow_spent(pk_block_source *s, int64_t height, pk_prevout **out, size_t *n, uint8_t **store, char *err,
                      size_t errlen)
{
    (void)height, (void)err, (void)errlen;
    slow_source *x = s->ctx;
    slow_enter(x);
    x->spent_calls++;
    *out = NULL, *n = 0, *store = NULL;
    slow_leave(x);
    return 0;
}

static void slow_close(pk_block_source *s) { ((slow_source *)s->ctx)->closed = 1; }

static slow_source *slow_new(int64_t n, int64_t fail_at)
{
    slow_source *x = calloc(1, sizeof *x);
    x->n = n;
    x->fail_at = fail_at;
    x->s = (pk_block_source){"slow", x, slow_tip, slow_start, slow_next, slow_close, NULL, slow_spent};
    return x;
}

static void expect_block(pk_block_source *s, int64_t h)
{
    int64_t got = -1;
    uint8_t *d = NULL;
    size_t len = 0;
    char err[256] = "";
    int rc = s->next(s, &got, &d, &len, err, sizeof err);
    cr_assert_eq(rc, 1, "block %lld: rc %d %s", (long long)h, rc, err);
    cr_assert_eq(got, h);
    cr_assert_eq(len, 100 + (size_t)h);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(d[i], (uint8_t)(h & 0xff), "block %lld byte %zu", (long long)h, i);
    free(d);
}

Test(chain, read_ahead_gives_the_inner_blocks_in_order_one_call_at_a_time, .timeout = 60)
{
    char err[256];
    slow_source *x = slow_new(300, -1);
    pk_block_source *a = pk_block_source_ahead(&x->s, 4);
    cr_assert(a);
    cr_assert_str_eq(a->name, "slow");
    cr_assert_null(a->headers, "the inner source has none");
    cr_assert_not_null(a->spent);
    int64_t h = -1;
    uint8_t *d;
    size_t len;
    cr_assert_eq(a->next(a, &h, &d, &len, err, sizeof err), 0, "not started: nothing");
    cr_assert_eq(a->tip(a, err, sizeof err), 299);
    cr_assert_eq(a->start(a, 0, -1, err, sizeof err), 0, "%s", err);
    for (int64_t k = 0; k < 300; k++) {
        expect_block(a, k);
        if (k % 7 == 0) { /* the undo data asked for while the reader reads */
            pk_prevout *out;
            size_t n;
            uint8_t *store;
            cr_assert_eq(a->spent(a, k, &out, &n, &store, err, sizeof err), 0);
        }
    }
    cr_assert_eq(a->next(a, &h, &d, &len, err, sizeof err), 0, "the end");
    cr_assert_eq(a->next(a, &h, &d, &len, err, sizeof err), 0, "the end again");
    cr_assert_eq(x->spent_calls, 43);
    /* Started again on a range: only it. */
    cr_assert_eq(a->start(a, 10, 20, err, sizeof err), 0);
    for (int64_t k = 10; k <= 20; k++)
        expect_block(a, k);
    cr_assert_eq(a->next(a, &h, &d, &len, err, sizeof err), 0);
    cr_assert_eq(x->overlapped, 0, "two calls into the inner source at once");
    /* Closed while the reader holds blocks ahead (and waits for room):
     * they are freed (ASan's leak check), the inner source closed. */
    cr_assert_eq(a->start(a, 0, -1, err, sizeof err), 0);
    expect_block(a, 0);
    usleep(20000);
    a->close(a);
    cr_assert_eq(x->closed, 1);
    free(x);
}

Test(chain, read_ahead_gives_the_inner_error_where_it_came, .timeout = 60)
{
    char err[256];
    slow_source *x = slow_new(100, 37);
    pk_block_source *a = pk_block_source_ahead(&x->s, 0);
    cr_assert_eq(a->start(a, 30, -1, err, sizeof err), 0);
    for (int64_t k = 30; k < 37; k++)
        expect_block(a, k);
    int64_t h;
    uint8_t *d;
    size_t len;
    for (int i = 0; i < 2; i++) {
        err[0] = 0;
        cr_assert_eq(a->next(a, &h, &d, &len, err, sizeof err), PK_CHAIN_EIO);
        cr_assert_str_eq(err, "blk00007.dat: block 37 cut short");
    }
    a->close(a);
    free(x);
    /* No inner source, no wrapper. */
    cr_assert_null(pk_block_source_ahead(NULL, 0));
}
