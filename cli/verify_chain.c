/* `powkit verify-chain`: a thin layer on include/powkit/chain.h. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "input.h"
#include "powkit/chain.h"
#include "powkit/util.h"

void pk_usage_verify_chain(FILE *f)
{
    fprintf(f,
            "usage: powkit verify-chain (--node URL [--rpc-user U --rpc-password P | --rpc-cookie FILE] | --datadir DIR)\n"
            "                           [--chain main|regtest] [--db DIR | --memory] [--from HEIGHT] [--to HEIGHT]\n"
            "                           [-t N] [--dbcache MB] [--engine E] [--no-batch] [--policy] [--json]\n"
            "\n"
            "Validates a chain from genesis with a UTXO set of its own: every block's own checks,\n"
            "the headers in context (retargets, median time, versions), BIP30 and BIP34, lock\n"
            "times (BIP113) and sequence locks (BIP68), inputs present and unspent, coinbase\n"
            "maturity, values and the subsidy, and every input's script through the consensus\n"
            "interpreter with its signatures in the batch verifier.  Stops at the first invalid\n"
            "block and says where and why (Bitcoin Core's reject reason).\n"
            "\n"
            "  --node URL          a node's JSON-RPC (Bitcoin Core or bcoin), read-only: getblockcount,\n"
            "                      getblockhash, getblock; blocks are fetched ahead of validation\n"
            "  --datadir DIR       Bitcoin Core's data directory (or its blocks/ folder), read-only:\n"
            "                      blk*.dat with the xor.dat key, blocks linked by their previous hashes\n"
            "  --rpc-user U, --rpc-password P, --rpc-cookie FILE\n"
            "                      credentials (default: Core's cookie for the URL's port)\n"
            "  --chain C           main (default) or regtest\n"
            "  --db DIR            the UTXO set (LMDB; default ~/.powkit/chainstate-CHAIN): a run\n"
            "                      that stops (Ctrl-C, kill) resumes there with the same command\n"
            "  --memory            keep the UTXO set in memory only (nothing resumes)\n"
            "  --from HEIGHT       with --datadir: start there, without a UTXO set: each block's spent coins\n"
            "                      from Core's undo data (rev*.dat, each record checked against its\n"
            "                      checksum); kept in memory, so nothing resumes\n"
            "  --to HEIGHT         stop after this height (default: the node's tip)\n"
            "  -t, --threads N     verification threads (default: all CPUs)\n"
            "  --dbcache MB        the coin cache before a flush (default 450)\n"
            "  --engine E          libsecp256k1, portable or ifma\n"
            "  --no-batch          verify Schnorr signatures one by one\n"
            "  --policy            Bitcoin Core's standardness flags on every script too\n"
            "  --json              a JSON summary on standard output\n"
            "\n"
            "Progress goes to standard error: a bar on a terminal, a line every 10 s otherwise.\n"
            "\n"
            "exit status: 0 valid up to the height reached (or valid as far as checked), 1 an\n"
            "invalid block, 2 usage, source or store error, 3 interrupted (resume with the same command)\n");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void progress(const pk_chainstate_stats *s, int64_t start_height, int64_t to, double t0, int tty, int final)
{
    double el = pk_now() - t0;
    if (el <= 0)
        el = 1e-9;
    double bps = (double)s->blocks / el, ips = (double)s->inputs / el, sps = (double)s->signatures / el;
    int64_t left = to - s->height;
    double eta = bps > 0 ? (double)left / bps : 0;
    double done = to > start_height ? (double)(s->height - start_height) / (double)(to - start_height) : 1;
    if (done < 0)
        done = 0;
    if (tty) {
        char bar[31];
        int filled = (int)(done * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %5.1f%% height %lld/%lld  %.1f blk/s  %.0f in/s  %.0f sig/s  ETA %.0f s   ", bar,
                done * 100, (long long)s->height, (long long)to, bps, ips, sps, eta);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "verify-chain: height %lld of %lld (%.1f%%), %.1f blocks/s, %.0f inputs/s, %.0f signatures/s, "
                        "ETA %.0f s\n",
                (long long)s->height, (long long)to, done * 100, bps, ips, sps, eta);
    }
    fflush(stderr);
}

int pk_cmd_verify_chain(int argc, char **argv)
{
    pk_node_source_opts no = {0};
    pk_chainstate_opts co = {0};
    co.chain = PK_CHAIN_MAIN;
    co.engine = -1;
    const char *db = NULL, *datadir = NULL;
    int memory = 0, json = 0;
    int64_t to = -1, from = -1;
    unsigned threads = 0, dbcache = 0;
    pk_engine engine;
    static const struct option opts[] = {{"node", required_argument, 0, 'n'},
                                         {"rpc-user", required_argument, 0, 'u'},
                                         {"datadir", required_argument, 0, 'X'},
                                         {"rpc-password", required_argument, 0, 'p'},
                                         {"rpc-cookie", required_argument, 0, 'C'},
                                         {"chain", required_argument, 0, 'c'},
                                         {"db", required_argument, 0, 'd'},
                                         {"memory", no_argument, 0, 'm'},
                                         {"to", required_argument, 0, 'T'},
                                         {"from", required_argument, 0, 'F'},
                                         {"threads", required_argument, 0, 't'},
                                         {"dbcache", required_argument, 0, 'D'},
                                         {"engine", required_argument, 0, 'e'},
                                         {"no-batch", no_argument, 0, 'B'},
                                         {"policy", no_argument, 0, 'P'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    pk_args a;
    pk_args_init(&a, "verify-chain", pk_usage_verify_chain, argc, argv, "t:", opts);
    int c;
    while ((c = pk_args_next(&a)) != PK_ARGS_END) {
        switch (c) {
        case PK_ARGS_HELP: return PK_EXIT_OK;
        case PK_ARGS_ERROR: return PK_EXIT_USAGE;
        case 'n': no.url = optarg; break;
        case 'X': datadir = optarg; break;
        case 'u': no.user = optarg; break;
        case 'p': no.pass = optarg; break;
        case 'C': no.cookie = optarg; break;
        case 'c':
            if (pk_cli_parse_chain(&a, optarg, &co.chain))
                return PK_EXIT_USAGE;
            break;
        case 'd': db = optarg; break;
        case 'm': memory = 1; break;
        case 'F':
            if (pk_args_int64(&a, optarg, 1, INT32_MAX, &from))
                return PK_EXIT_USAGE;
            break;
        case 'T':
            if (pk_args_int64(&a, optarg, 0, INT32_MAX, &to))
                return PK_EXIT_USAGE;
            break;
        case 't':
            if (pk_args_uint(&a, optarg, 1, 1024, &threads))
                return PK_EXIT_USAGE;
            break;
        case 'D':
            if (pk_args_uint(&a, optarg, 16, 1u << 20, &dbcache))
                return PK_EXIT_USAGE;
            break;
        case 'e':
            if (pk_cli_parse_engine(&a, optarg, &engine))
                return PK_EXIT_USAGE;
            co.engine = (int)engine;
            break;
        case 'B': co.no_batch = 1; break;
        case 'P': co.policy = 1; break;
        case 'j': json = 1; break;
        }
    }
    int first;
    if (pk_args_operands(&a, 0, 0, &first) < 0)
        return PK_EXIT_USAGE;
    if (!no.url == !datadir)
        return pk_args_fail(&a, "give one source of blocks: --node URL or --datadir DIR");
    if (memory && db)
        return pk_args_fail(&a, "--db and --memory exclude each other");
    if (from >= 0 && !datadir)
        return pk_args_fail(&a, "--from needs --datadir (the coins come from Core's undo data)");
    if (from >= 0 && db)
        return pk_args_fail(&a, "--from keeps its coins in memory: no --db");
    if (from >= 0)
        memory = 1;
    if (co.chain != PK_CHAIN_MAIN && co.chain != PK_CHAIN_REGTEST)
        return pk_args_fail(&a, "--chain: main or regtest (testnet's rules are not here)");
    const char *chain_name = co.chain == PK_CHAIN_MAIN ? "main" : "regtest";
    char dbpath[1024];
    if (!memory) {
        if (db) {
            snprintf(dbpath, sizeof dbpath, "%s", db);
        } else {
            const char *home = getenv("HOME");
            char dir[900];
            snprintf(dir, sizeof dir, "%s/.powkit", home && *home ? home : ".");
            mkdir(dir, 0755);
            snprintf(dbpath, sizeof dbpath, "%s/chainstate-%s", dir, chain_name);
        }
        co.db_dir = dbpath;
    }
    co.threads = threads;
    co.cache_mb = dbcache;

    char err[512];
    /* Core's files read ahead on a thread of their own, as the node's
     * blocks are fetched ahead by its source. */
    pk_block_source *src = NULL;
    if (datadir) {
        pk_block_source *files = pk_block_source_datadir(datadir, co.chain, err, sizeof err);
        if (files && !(src = pk_block_source_ahead(files, 0)))
            snprintf(err, sizeof err, "out of memory");
    } else {
        src = pk_block_source_node(&no, err, sizeof err);
    }
    if (!src) {
        fprintf(stderr, "powkit verify-chain: %s\n", err);
        return PK_EXIT_USAGE;
    }
    pk_chainstate *cs;
    if (pk_chainstate_open(&cs, &co, err, sizeof err)) {
        fprintf(stderr, "powkit verify-chain: %s\n", err);
        src->close(src);
        return PK_EXIT_USAGE;
    }
    int64_t tip = src->tip(src, err, sizeof err);
    if (tip < 0) {
        fprintf(stderr, "powkit verify-chain: %s\n", err);
        pk_chainstate_close(cs);
        src->close(src);
        return PK_EXIT_USAGE;
    }
    if (to < 0 || to > tip)
        to = tip;
    if (from >= 0 && pk_chainstate_start_from(cs, src, from, err, sizeof err)) {
        fprintf(stderr, "powkit verify-chain: %s\n", err);
        pk_chainstate_close(cs);
        src->close(src);
        return PK_EXIT_USAGE;
    }
    int64_t start = pk_chainstate_height(cs);
    if (start >= 0)
        fprintf(stderr, "verify-chain: resuming after height %lld (%s)\n", (long long)start,
                memory ? "memory" : dbpath);
    if (start < to && src->start(src, start + 1, to, err, sizeof err)) {
        fprintf(stderr, "powkit verify-chain: %s\n", err);
        pk_chainstate_close(cs);
        src->close(src);
        return PK_EXIT_USAGE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int tty = isatty(2);
    double t0 = pk_now(), last = t0;
    pk_chain_verdict v, bad;
    memset(&bad, 0, sizeof bad);
    int invalid = 0, failed = 0, partial = 0;
    err[0] = 0;
    while (pk_chainstate_height(cs) < to && !interrupted) {
        int rc = pk_chainstate_step(cs, src, &v, err, sizeof err);
        if (rc == 2)
            break;
        if (rc < 0) {
            failed = 1;
            break;
        }
        if (rc == 1) {
            invalid = 1;
            bad = v;
            break;
        }
        if (v.valid < 0)
            partial = 1;
        double now = pk_now();
        if (now - last >= (tty ? 0.25 : 10)) {
            pk_chainstate_stats s;
            pk_chainstate_get_stats(cs, &s);
            progress(&s, start, to, t0, tty, 0);
            last = now;
        }
    }
    double secs = pk_now() - t0;
    char ferr[256] = "";
    int flush_failed = !memory && pk_chainstate_flush(cs, ferr, sizeof ferr) != 0;
    pk_chainstate_stats s;
    pk_chainstate_get_stats(cs, &s);
    if (tty && s.blocks)
        progress(&s, start, to, t0, tty, 1);
    int reached = s.height >= to;
    const char *verdict = failed || flush_failed ? "error"
                          : invalid              ? "invalid"
                          : !reached             ? "interrupted"
                          : partial              ? "valid_as_far_as_checked"
                                                 : "valid";
    double el = secs > 0 ? secs : 1e-9;
    char badhash[65] = "", badtxid[65] = "";
    if (invalid) {
        pk_hash_to_hex(bad.hash, badhash);
        if (bad.tx >= 0)
            pk_hash_to_hex(bad.txid, badtxid);
    }
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "chain", json_string(chain_name));
        json_object_set_new(o, "source", json_string(src->name));
        json_object_set_new(o, "verdict", json_string(verdict));
        json_object_set_new(o, "valid", strcmp(verdict, "valid") == 0     ? json_true()
                                        : invalid                         ? json_false()
                                                                          : json_null());
        json_object_set_new(o, "from", json_integer(start + 1));
        json_object_set_new(o, "to", json_integer(to));
        json_object_set_new(o, "height", json_integer(s.height));
        json_object_set_new(o, "blocks", json_integer((json_int_t)s.blocks));
        json_object_set_new(o, "transactions", json_integer((json_int_t)s.txs));
        json_object_set_new(o, "inputs", json_integer((json_int_t)s.inputs));
        json_object_set_new(o, "signatures", json_integer((json_int_t)s.signatures));
        json_object_set_new(o, "not_checked", json_integer((json_int_t)s.not_checked));
        json_object_set_new(o, "upgradable", json_integer((json_int_t)s.upgradable));
        json_object_set_new(o, "seconds", json_real(secs));
        json_object_set_new(o, "blocks_per_s", json_real((double)s.blocks / el));
        json_object_set_new(o, "inputs_per_s", json_real((double)s.inputs / el));
        json_object_set_new(o, "signatures_per_s", json_real((double)s.signatures / el));
        json_object_set_new(o, "ms", json_pack("{s:f, s:f, s:f, s:f}", "parse", s.ms_parse, "utxo", s.ms_utxo,
                                               "scripts", s.ms_scripts, "flush", s.ms_flush));
        json_object_set_new(o, "coins", json_integer((json_int_t)s.coins));
        json_object_set_new(o, "flushed_height", json_integer(s.flushed_height));
        json_object_set_new(o, "db", memory ? json_null() : json_string(dbpath));
        json_object_set_new(o, "coins_from", json_string(from >= 0 ? "undo_data" : "own_utxo_set"));
        if (invalid) {
            json_t *b = json_pack("{s:I, s:s, s:s, s:s}", "height", (json_int_t)bad.height, "hash", badhash, "reason",
                                  bad.reason ? bad.reason : "", "message", bad.msg);
            if (bad.tx >= 0) {
                json_object_set_new(b, "txid", json_string(badtxid));
                json_object_set_new(b, "tx", json_integer(bad.tx));
                json_object_set_new(b, "vin", bad.vin >= 0 ? json_integer(bad.vin) : json_null());
            }
            json_object_set_new(o, "invalid_block", b);
        }
        if (failed || flush_failed)
            json_object_set_new(o, "error", json_string(failed ? err : ferr));
        char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(txt);
        free(txt);
        json_decref(o);
    } else {
        printf("verify-chain: %s chain from %s, UTXO set %s\n", chain_name, src->name, memory ? "in memory" : dbpath);
        printf("  %llu blocks (heights %lld..%lld) in %.1f s: %.1f blocks/s, %.0f inputs/s, %.0f signatures/s\n",
               (unsigned long long)s.blocks, (long long)(start + 1), (long long)s.height, secs, (double)s.blocks / el,
               (double)s.inputs / el, (double)s.signatures / el);
        printf("  %llu transactions, %llu inputs, %llu signatures; %llu inputs not checked, %llu upgradable\n",
               (unsigned long long)s.txs, (unsigned long long)s.inputs, (unsigned long long)s.signatures,
               (unsigned long long)s.not_checked, (unsigned long long)s.upgradable);
        printf("  time: block checks %.0f ms, UTXO and context %.0f ms, scripts and signatures %.0f ms, flushes %.0f ms\n",
               s.ms_parse, s.ms_utxo, s.ms_scripts, s.ms_flush);
        printf("  UTXO set: %llu coins, %llu in the cache; %llu database reads; flushed at height %lld\n",
               (unsigned long long)s.coins, (unsigned long long)s.cache_coins, (unsigned long long)s.db_reads,
               (long long)s.flushed_height);
        if (failed || flush_failed)
            printf("result: ERROR at height %lld: %s\n", (long long)(s.height + 1), failed ? err : ferr);
        else if (invalid)
            printf("result: INVALID block %lld (%s): %s: %s%s%s%s\n", (long long)bad.height, badhash,
                   bad.reason ? bad.reason : "", bad.msg, bad.tx >= 0 ? " [transaction " : "", badtxid,
                   bad.tx >= 0 ? "]" : "");
        else if (!reached)
            printf("result: stopped at height %lld of %lld (interrupted): every block so far valid; run the same "
                   "command to resume\n",
                   (long long)s.height, (long long)to);
        else if (partial)
            printf("result: valid as far as checked up to height %lld: %llu inputs not checked\n", (long long)s.height,
                   (unsigned long long)s.not_checked);
        else if (from >= 0)
            printf("result: valid: every block from height %lld to %lld (spent coins from Core's undo data)\n",
                   (long long)from, (long long)s.height);
        else
            printf("result: valid: every block from genesis to height %lld\n", (long long)s.height);
    }
    if (flush_failed)
        fprintf(stderr, "powkit verify-chain: %s\n", ferr);
    if (failed)
        fprintf(stderr, "powkit verify-chain: %s\n", err);
    pk_chainstate_close(cs);
    src->close(src);
    if (failed || flush_failed)
        return PK_EXIT_USAGE;
    if (invalid)
        return PK_EXIT_INVALID;
    return reached ? PK_EXIT_OK : 3;
}
