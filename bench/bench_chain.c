/* bench_chain: the chain validator's figures, all in one run on one
 * machine (rounds alternate, medians):
 *  - the bcoin-made regtest chain (tests/node/chain.js) from genesis:
 *    blocks/s, inputs/s and the share of each stage, with the UTXO set in
 *    memory, in LMDB, and read from a bcoin node over RPC (the read stage:
 *    the time the validator waited for the source);
 *  - bcoin's own validation of the same chain (chain.js serve times it);
 *  - block 413,567 as a chain step, its spent outputs stubbed in the state
 *    (from its scriptSigs): the whole pipeline against the bare rate of the
 *    batch verifier alone on the same checks (the ones the step's rounds
 *    verified, replayed from one array);
 *  - a projection, with its arithmetic, of a full mainnet re-validation.
 *
 *   bench_chain [ROUNDS] [CHAIN_FILE] [BLOCK_FILE] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/bcoin_node.h"
#include "bench_blocks.h"
#include "powkit/chain.h"
#include "powkit/sigcheck.h"
#include "powkit/util.h"

typedef struct chain_file {
    uint8_t **blocks;
    size_t *lens, n;
} chain_file;

static int load(const char *path, chain_file *c)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    memset(c, 0, sizeof *c);
    size_t cap = 0, lcap = 0;
    char *line = NULL;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) > 1) {
        if (line[n - 1] == '\n')
            line[--n] = 0;
        if (c->n == cap) {
            cap = cap ? cap * 2 : 1024;
            c->blocks = realloc(c->blocks, cap * sizeof *c->blocks);
            c->lens = realloc(c->lens, cap * sizeof *c->lens);
        }
        c->lens[c->n] = (size_t)n / 2;
        c->blocks[c->n] = malloc(c->lens[c->n]);
        if (pk_hex_decode(line, c->blocks[c->n], c->lens[c->n]))
            return -1;
        c->n++;
    }
    free(line);
    fclose(f);
    return c->n ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)n);
    if (fread(d, 1, (size_t)n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return d;
}

typedef struct run_result {
    double secs, read_ms;
    pk_chainstate_stats st;
} run_result;

static int run_chain(pk_block_source *src, const char *db, run_result *r)
{
    pk_chainstate_opts o = {0};
    o.chain = PK_CHAIN_REGTEST;
    o.db_dir = db;
    o.engine = -1;
    pk_chainstate *cs;
    char err[256];
    if (pk_chainstate_open(&cs, &o, err, sizeof err)) {
        fprintf(stderr, "bench_chain: %s\n", err);
        return -1;
    }
    int64_t tip = src->tip(src, err, sizeof err);
    if (tip < 0 || src->start(src, 0, tip, err, sizeof err)) {
        fprintf(stderr, "bench_chain: %s\n", err);
        pk_chainstate_close(cs);
        return -1;
    }
    double t0 = pk_now();
    r->read_ms = 0;
    for (;;) {
        int64_t h;
        uint8_t *d;
        size_t len;
        double a = pk_now();
        int rc = src->next(src, &h, &d, &len, err, sizeof err);
        r->read_ms += (pk_now() - a) * 1e3;
        if (rc == 0)
            break;
        pk_chain_verdict v;
        if (rc < 0 || pk_chainstate_connect(cs, d, len, &v) != 0 || v.valid != 1) {
            fprintf(stderr, "bench_chain: block %lld: %s %s\n", (long long)h, err, v.msg);
            free(d);
            pk_chainstate_close(cs);
            return -1;
        }
        free(d);
    }
    if (db && pk_chainstate_flush(cs, err, sizeof err)) {
        fprintf(stderr, "bench_chain: %s\n", err);
        pk_chainstate_close(cs);
        return -1;
    }
    r->secs = pk_now() - t0;
    pk_chainstate_get_stats(cs, &r->st);
    pk_chainstate_close(cs);
    return 0;
}

static void print_run(const char *name, const run_result *r)
{
    const pk_chainstate_stats *s = &r->st;
    double total = r->secs * 1e3;
    printf("  %-30s %7.1f blocks/s %8.0f inputs/s %8.0f sigs/s | read %4.1f%% parse %4.1f%% utxo %4.1f%% "
           "scripts+sigs %4.1f%% flush %4.1f%%\n",
           name, (double)s->blocks / r->secs, (double)s->inputs / r->secs, (double)s->signatures / r->secs,
           100 * r->read_ms / total, 100 * s->ms_parse / total, 100 * s->ms_utxo / total, 100 * s->ms_scripts / total,
           100 * s->ms_flush / total);
}

static int cmp_run(const void *a, const void *b)
{
    double x = ((const run_result *)a)->secs, y = ((const run_result *)b)->secs;
    return (x > y) - (x < y);
}

static uint64_t outputs_sum(const pk_block *b, const pk_tx *t)
{
    size_t pos = t->out_offset;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < t->n_out; i++) {
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v |= (uint64_t)b->data[pos + k] << (8 * k);
        sum += v;
        pos += 8;
        size_t len = (size_t)pk_compact_get(b->data, &pos);
        pos += len;
    }
    return sum;
}

static double step_parse, step_utxo, step_scripts; /* the last step's stages */

/* 1 when (txid, n) is an output of a transaction before ti in the block. */
static int output_in_block(const pk_block *b, size_t ti, const uint8_t txid[32], uint32_t n, uint64_t *value)
{
    for (size_t j = 0; j < ti; j++) {
        if (memcmp(b->tx[j].txid, txid, 32) != 0)
            continue;
        size_t pos = b->tx[j].out_offset;
        for (uint32_t i = 0; i < b->tx[j].n_out; i++) {
            uint64_t v = 0;
            for (int k = 0; k < 8; k++)
                v |= (uint64_t)b->data[pos + k] << (8 * k);
            if (i == n) {
                *value = v;
                return 1;
            }
            pos += 8;
            size_t len = (size_t)pk_compact_get(b->data, &pos);
            pos += len;
        }
    }
    return 0;
}

/* Block 413,567 connected on a state assumed at 413,566 with its spent
 * outputs as coins: ms for the whole step; *sigs its signatures. */
static double block_step(const uint8_t *blk, size_t blen, const pk_block *b, const made_prevouts *m, pk_verifier *ver,
                         uint64_t *sigs, uint64_t *checks)
{
    pk_chainstate_opts o = {0};
    o.chain = PK_CHAIN_MAIN;
    o.engine = -1;
    o.verifier = ver; /* warm, as a chain's verifier is after its first block */
    o.now = (int64_t)pk_header_time(blk) + 3600;
    pk_chainstate *cs;
    char err[256];
    if (pk_chainstate_open(&cs, &o, err, sizeof err))
        return -1;
    /* Eleven headers before it: its bits, times below its own. */
    uint8_t hdrs[11][80];
    for (int i = 0; i < 11; i++) {
        memcpy(hdrs[i], blk, 80);
        uint32_t t = pk_header_time(blk) - 600u * (uint32_t)(11 - i);
        for (int k = 0; k < 4; k++)
            hdrs[i][68 + k] = (uint8_t)(t >> (8 * k));
    }
    if (pk_chainstate_assume_tip(cs, 413566, blk + 4, (const uint8_t(*)[80])hdrs, 11)) {
        pk_chainstate_close(cs);
        return -1;
    }
    /* The coins: each input's derived script, values that pay each
     * transaction's outputs and, in all, the coinbase's fees (legacy
     * signatures commit to no amount). */
    uint64_t fees = outputs_sum(b, &b->tx[0]) - pk_block_subsidy(PK_CHAIN_MAIN, 413567);
    for (size_t ti = 1; ti < b->ntx; ti++) {
        const pk_tx *t = &b->tx[ti];
        pk_txin_ref *ins = malloc(t->n_in * sizeof *ins);
        pk_tx_inputs(b, t, ins);
        size_t k = m->pv.first[ti];
        /* Inputs that spend an earlier transaction of the block get their
         * real value there; the stubs pay the rest. */
        uint64_t in_block = 0;
        uint32_t stubs = 0;
        for (uint32_t vi = 0; vi < t->n_in; vi++) {
            const uint8_t *op = blk + ins[vi].prevout;
            uint32_t n = (uint32_t)op[32] | (uint32_t)op[33] << 8 | (uint32_t)op[34] << 16 | (uint32_t)op[35] << 24;
            uint64_t v = 0;
            if (output_in_block(b, ti, op, n, &v))
                in_block += v;
            else
                stubs++;
        }
        uint64_t out = outputs_sum(b, t), need = out > in_block ? out - in_block : 0;
        uint64_t each = stubs ? need / stubs + 1 : 0;
        int first_stub = 1;
        for (uint32_t vi = 0; vi < t->n_in; vi++) {
            const uint8_t *op = blk + ins[vi].prevout;
            uint32_t n = (uint32_t)op[32] | (uint32_t)op[33] << 8 | (uint32_t)op[34] << 16 | (uint32_t)op[35] << 24;
            uint64_t dummy;
            if (output_in_block(b, ti, op, n, &dummy))
                continue;
            uint64_t value = each + (first_stub ? fees : 0);
            first_stub = 0;
            fees = 0;
            pk_chainstate_add_coin(cs, op, n, value, 400000, 0, m->pv.out[k + vi].script,
                                   m->pv.out[k + vi].script_len);
        }
        free(ins);
    }
    pk_chain_verdict v;
    double t0 = pk_now();
    int rc = pk_chainstate_connect(cs, blk, blen, &v);
    double ms = (pk_now() - t0) * 1e3;
    pk_chainstate_close(cs);
    if (rc != 0 || v.valid != 1) {
        fprintf(stderr, "bench_chain: block 413,567 as a chain step: %s %s\n", v.reason ? v.reason : "", v.msg);
        return -1;
    }
    *sigs = v.signatures;
    *checks = v.checks;
    step_parse = v.ms_parse, step_utxo = v.ms_utxo, step_scripts = v.ms_scripts;
    return ms;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    const char *cfile = argc > 2 ? argv[2] : getenv("POWKIT_TEST_CHAIN");
    const char *bfile = argc > 3 ? argv[3] : POWKIT_SOURCE_DIR "/tests/data/block413567.raw";
    if (rounds < 1 || rounds > 50 || !cfile) {
        fprintf(stderr, "usage: bench_chain [ROUNDS 1..50] CHAIN_FILE [BLOCK_FILE]\n"
                        "  CHAIN_FILE: node tests/node/chain.js make FILE (or POWKIT_TEST_CHAIN)\n");
        return 2;
    }
    chain_file c;
    size_t blen = 0;
    uint8_t *blk = slurp(bfile, &blen);
    if (load(cfile, &c) || !blk) {
        fprintf(stderr, "bench_chain: cannot read %s or %s\n", cfile, bfile);
        return 2;
    }
    printf("bench_chain: %d rounds, medians; regtest chain of %zu blocks (%s)\n", rounds, c.n, cfile);

    /* BENCH_CHAIN_ONLY_STEP=1: block 413,567 alone (for profiling). */
    int only_step = getenv("BENCH_CHAIN_ONLY_STEP") != NULL;
    double lmdb_rate = 0; /* inputs/s of the regtest chain in LMDB */
    if (only_step)
        goto step;
    /* The chain, three ways, alternating; bcoin serving it once (its own validation, timed). */
    node_proc np;
    node_start_script(&np, "chain.js", "serve", cfile);
    double bcoin_s = atof(strchr(np.ready, ' ') ? strchr(np.ready, ' ') + 1 : "0");
    run_result *mem = calloc((size_t)rounds, sizeof *mem), *lm = calloc((size_t)rounds, sizeof *lm),
               *rpc = calloc((size_t)rounds, sizeof *rpc);
    for (int r = 0; r < rounds; r++) {
        pk_block_source *s = pk_block_source_memory((const uint8_t *const *)c.blocks, c.lens, c.n);
        if (run_chain(s, NULL, &mem[r]))
            return 1;
        s->close(s);
        char dir[] = "/tmp/powkit-bench-chain-XXXXXX", cmd[96];
        if (!mkdtemp(dir))
            return 1;
        s = pk_block_source_memory((const uint8_t *const *)c.blocks, c.lens, c.n);
        if (run_chain(s, dir, &lm[r]))
            return 1;
        s->close(s);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            return 1;
        pk_node_source_opts no = {0};
        no.url = np.url;
        no.user = "x";
        no.pass = "powkit-test";
        char err[256];
        s = pk_block_source_node(&no, err, sizeof err);
        if (!s || run_chain(s, NULL, &rpc[r]))
            return 1;
        s->close(s);
    }
    node_stop(&np);
    qsort(mem, (size_t)rounds, sizeof *mem, cmp_run);
    qsort(lm, (size_t)rounds, sizeof *lm, cmp_run);
    qsort(rpc, (size_t)rounds, sizeof *rpc, cmp_run);
    const run_result *m0 = &mem[rounds / 2], *l0 = &lm[rounds / 2], *r0 = &rpc[rounds / 2];
    printf("regtest chain, %llu blocks, %llu inputs, %llu signatures:\n", (unsigned long long)m0->st.blocks,
           (unsigned long long)m0->st.inputs, (unsigned long long)m0->st.signatures);
    print_run("UTXO set in memory", m0);
    print_run("UTXO set in LMDB", l0);
    lmdb_rate = (double)l0->st.inputs / l0->secs;
    print_run("memory, blocks from bcoin's RPC", r0);
    printf("  bcoin 1.0.2 validating the same chain (chain.add, in memory): %.2f s; powkit from bcoin's RPC "
           "%.2f s: %.1fx\n",
           bcoin_s, r0->secs, r0->secs > 0 ? bcoin_s / r0->secs : 0);

step:;
    /* Block 413,567 as a chain step. */
    pk_block b;
    pk_verror e;
    made_prevouts mp;
    if (pk_block_parse(&b, blk, blen, &e) || (pk_block_hash_txs(&b), pk_bench_derive_prevouts(&b, &mp))) {
        fprintf(stderr, "bench_chain: block 413,567 does not parse\n");
        return 1;
    }
    double *step = calloc((size_t)rounds, sizeof *step), *bare = calloc((size_t)rounds, sizeof *bare);
    double *scr = calloc((size_t)rounds, sizeof *scr), *res = calloc((size_t)rounds, sizeof *res),
           *rv = calloc((size_t)rounds, sizeof *rv);
    uint64_t sigs = 0, step_checks = 0, bare_sigs = 0;
    pk_verifier *v = pk_verifier_new(0);
    for (int r = 0; r < rounds; r++) {
        step[r] = block_step(blk, blen, &b, &mp, v, &sigs, &step_checks);
        if (step[r] < 0)
            return 1;
        /* The bare rate: the batch verifier alone on the checks the
         * rounds verified, replayed from one array (timed here, not the
         * rounds' stage, which also gathers and counts them). */
        pk_sigcheck_opts so = {&mp.pv, 413567, 1, 0, 1, 1, 0, 0};
        pk_sig_report sr;
        pk_block_verify_sigs(&b, &so, v, &sr);
        rv[r] = sr.ms_verify;
        scr[r] = sr.ms_scripts;
        res[r] = sr.ms_resolve;
        bare_sigs = sr.n_kept;
        size_t was_valid = 0;
        for (size_t i = 0; i < sr.n_kept; i++)
            was_valid += sr.kept[i].valid == 1;
        double t0 = pk_now();
        size_t ok = pk_verifier_run(v, sr.kept, sr.n_kept, 0);
        bare[r] = (pk_now() - t0) * 1e3;
        if (ok != was_valid) {
            fprintf(stderr, "bench_chain: the replayed checks disagree\n");
            return 1;
        }
        pk_sig_report_free(&sr);
    }
    double ms_step = pk_bench_median(step, rounds), ms_bare = pk_bench_median(bare, rounds);
    printf("  (verify-block's interpreter path on it, medians: scripts and sighashes %.2f ms, check rounds %.2f ms, "
           "resolve %.2f ms)\n",
           pk_bench_median(scr, rounds), pk_bench_median(rv, rounds), pk_bench_median(res, rounds));
    free(scr);
    free(res);
    free(rv);
    double pipe_rate = (double)sigs / ms_step * 1e3, bare_rate = (double)bare_sigs / ms_bare * 1e3;
    printf("block 413,567 as a chain step (spent outputs stubbed), %u threads, engine %s:\n", pk_verifier_threads(v),
           pk_engine_name(pk_verifier_engine(v)));
    /* The pipeline's rate counts the block's signatures; the bare rate
     * counts checks, some of which a multisig's matching spends on pairs
     * that fail: so the rate ratio is below the time ratio. */
    printf("  whole step %.2f ms: %llu signatures (%llu checks), %.0f signatures/s; the batch verifier alone on "
           "the same %llu checks %.2f ms: %.0f checks/s\n",
           ms_step, (unsigned long long)sigs, (unsigned long long)step_checks, pipe_rate,
           (unsigned long long)bare_sigs, ms_bare, bare_rate);
    printf("  the pipeline at %.0f%% of the bare signature rate (signatures/s over checks/s), %.0f%% of its time "
           "(bare time / step time, the same checks)\n",
           100 * pipe_rate / bare_rate, 100 * ms_bare / ms_step);
    printf("  (the last step: block checks %.2f ms, UTXO and context %.2f ms, scripts and signatures %.2f ms)\n",
           step_parse, step_utxo, step_scripts);
    if (only_step)
        return 0;
    /* The projection. */
    double inputs_main = 3.0e9; /* an assumption, not measured here: see below */
    double in_rate = (double)(b.n_inputs - 1) / ms_step * 1e3;
    printf("projection of a full mainnet re-validation on this machine:\n"
           "  assumed: about %.1e inputs in mainnet's history to the end of 2026, each about one signature;\n"
           "  at block 413,567's pipeline rate, %.0f inputs/s: %.1e / %.0f = %.0f s = %.1f hours;\n"
           "  at the regtest chain's LMDB rate, %.0f inputs/s (small blocks, per-block overhead): %.1f hours;\n"
           "  not measured here: LMDB reads of a mainnet-sized set (about 180 million coins) beyond the cache,\n"
           "  and the node's own speed at serving 600 GB of blocks.\n",
           inputs_main, in_rate, inputs_main, in_rate, inputs_main / in_rate, inputs_main / in_rate / 3600,
           lmdb_rate, inputs_main / lmdb_rate / 3600);
    pk_verifier_free(v);
    pk_block_free(&b);
    pk_bench_made_free(&mp);
    return 0;
}
