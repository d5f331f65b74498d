/* bench_validate's script-interpreter rows, side by side in one run
 * (alternating rounds, medians):
 *  - block 413,567 with --sigs as before (the templates, no prevouts)
 *    against every input through the interpreter (its spent outputs made
 *    from the scriptSigs: P2PKH from the key, P2SH from the redeem script;
 *    legacy signatures commit to no amount);
 *  - the interpreter's cost per input by kind (deferred, no verification);
 *  - a block of tapscript spends signed here (<key> CHECKSIG leaves):
 *    inputs/s through the interpreter with the default engine and its
 *    BIP340 batches against libsecp256k1 verifying the same checks one by
 *    one. */
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/digest.h"
#include "powkit/script.h"
#include "powkit/sha256.h"
#include "powkit/sigcheck.h"
#include "powkit/sighash.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "powkit/verify.h"
#include "bench_blocks.h"

void pk_bench_script_rows(int rounds, const uint8_t *blk, size_t blen);

typedef struct sbuf {
    uint8_t *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_le(sbuf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(b, &c, 1);
    }
}
static void put_compact(sbuf *b, uint64_t v)
{
    uint8_t t[9];
    put(b, t, pk_compact_put(t, v));
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
double pk_bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return v[n / 2];
}

static void hash160(const uint8_t *d, size_t n, uint8_t out[20])
{
    pk_hash160(d, n, out);
}

/* The last push of a push-only scriptSig and how many pushes it has. */
static int last_push(const uint8_t *s, size_t l, const uint8_t **p, size_t *pl)
{
    size_t pos = 0;
    int n = 0;
    while (pos < l) {
        size_t start = pos;
        uint8_t op;
        if (!pk_script_op(s, l, &pos, &op) || op > 0x4e)
            return -1;
        size_t hdr = op < 0x4c ? 1 : op == 0x4c ? 2 : op == 0x4d ? 3 : 5;
        *p = s + start + hdr;
        *pl = pos - start - hdr;
        n++;
    }
    return n;
}

int pk_bench_derive_prevouts(const pk_block *b, made_prevouts *m)
{
    memset(m, 0, sizeof *m);
    size_t n = 0;
    for (size_t i = 0; i < b->ntx; i++)
        n += b->tx[i].n_in;
    m->pv.ntx = b->ntx;
    m->pv.n = n;
    m->pv.first = calloc(b->ntx, sizeof *m->pv.first);
    m->pv.out = calloc(n, sizeof *m->pv.out);
    m->pv.scripts = calloc(n, 25);
    m->kind = calloc(n, 1);
    size_t k = 0;
    for (size_t ti = 0; ti < b->ntx; ti++) {
        const pk_tx *t = &b->tx[ti];
        m->pv.first[ti] = k;
        pk_txin_ref *ins = malloc(t->n_in * sizeof *ins);
        pk_tx_inputs(b, t, ins);
        for (uint32_t vi = 0; vi < t->n_in; vi++, k++) {
            uint8_t *spk = m->pv.scripts + 25 * k;
            m->pv.out[k].script = spk;
            if (ti == 0)
                continue;
            const uint8_t *lp;
            size_t ll;
            int pushes = last_push(b->data + ins[vi].script, ins[vi].script_len, &lp, &ll);
            if (pushes < 1) {
                free(ins);
                return -1;
            }
            if (pushes == 2 && (ll == 33 || ll == 65) && (lp[0] == 2 || lp[0] == 3 || lp[0] == 4)) {
                spk[0] = 0x76, spk[1] = 0xa9, spk[2] = 20;
                hash160(lp, ll, spk + 3);
                spk[23] = 0x88, spk[24] = 0xac;
                m->pv.out[k].script_len = 25;
                m->kind[k] = 1;
            } else {
                spk[0] = 0xa9, spk[1] = 20;
                hash160(lp, ll, spk + 2);
                spk[22] = 0x87;
                m->pv.out[k].script_len = 23;
                m->kind[k] = 2;
            }
        }
        free(ins);
    }
    return 0;
}

void pk_bench_made_free(made_prevouts *m)
{
    free(m->pv.first);
    free(m->pv.out);
    free(m->pv.scripts);
    free(m->kind);
}

/* ---- a block of tapscript spends ---- */

static void tagged(const char *tag, const uint8_t *d, size_t n, uint8_t out[32])
{
    uint8_t th[32];
    pk_sha256(tag, strlen(tag), th);
    pk_sha256_ctx c;
    pk_sha256_init(&c);
    pk_sha256_update(&c, th, 32);
    pk_sha256_update(&c, th, 32);
    pk_sha256_update(&c, d, n);
    pk_sha256_final(&c, out);
}

typedef struct tap_block {
    sbuf data;
    pk_block b;
    made_prevouts m;
    uint8_t spk[34];
} tap_block;

static void build_tap_block(tap_block *tb, size_t nin)
{
    memset(tb, 0, sizeof *tb);
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seck[32] = {0}, ik[32] = {0};
    seck[31] = 7, ik[31] = 3;
    secp256k1_keypair kp, ikp;
    if (!secp256k1_keypair_create(ctx, &kp, seck) || !secp256k1_keypair_create(ctx, &ikp, ik))
        abort();
    secp256k1_xonly_pubkey xk, xi, xq;
    int parity;
    if (!secp256k1_keypair_xonly_pub(ctx, &xk, NULL, &kp) || !secp256k1_keypair_xonly_pub(ctx, &xi, NULL, &ikp))
        abort();
    uint8_t key[32], internal[32], leaf[32], tweak[32], q[32];
    secp256k1_xonly_pubkey_serialize(ctx, key, &xk);
    secp256k1_xonly_pubkey_serialize(ctx, internal, &xi);
    uint8_t script[34];
    script[0] = 32;
    memcpy(script + 1, key, 32);
    script[33] = 0xac; /* <key> CHECKSIG */
    uint8_t lbuf[64];
    lbuf[0] = 0xc0, lbuf[1] = 34;
    memcpy(lbuf + 2, script, 34);
    tagged("TapLeaf", lbuf, 36, leaf);
    uint8_t tw[64];
    memcpy(tw, internal, 32);
    memcpy(tw + 32, leaf, 32);
    tagged("TapTweak", tw, 64, tweak);
    secp256k1_pubkey full;
    if (!secp256k1_xonly_pubkey_tweak_add(ctx, &full, &xi, tweak))
        abort();
    if (!secp256k1_xonly_pubkey_from_pubkey(ctx, &xq, &parity, &full))
        abort();
    secp256k1_xonly_pubkey_serialize(ctx, q, &xq);
    tb->spk[0] = 0x51, tb->spk[1] = 32;
    memcpy(tb->spk + 2, q, 32);
    uint8_t control[33];
    control[0] = (uint8_t)(0xc0 | parity);
    memcpy(control + 1, internal, 32);

    uint8_t sigs_zero[64] = {0};
    uint8_t(*sigs)[64] = calloc(nin, 64);
    for (int pass = 0; pass < 2; pass++) {
        sbuf tx = {0};
        put_le(&tx, 2, 4);
        put(&tx, "\x00\x01", 2);
        put_compact(&tx, nin);
        for (size_t i = 0; i < nin; i++) {
            uint8_t op[36] = {0};
            op[0] = (uint8_t)i, op[1] = (uint8_t)(i >> 8), op[2] = 0x7a;
            put(&tx, op, 36);
            put_compact(&tx, 0);
            put_le(&tx, 0xffffffff, 4);
        }
        put_compact(&tx, 1);
        put_le(&tx, 1000 * nin, 8);
        put_compact(&tx, 1);
        put(&tx, "\x51", 1);
        for (size_t i = 0; i < nin; i++) {
            put_compact(&tx, 3);
            put_compact(&tx, 64);
            put(&tx, pass ? sigs[i] : sigs_zero, 64);
            put_compact(&tx, 34);
            put(&tx, script, 34);
            put_compact(&tx, 33);
            put(&tx, control, 33);
        }
        put_le(&tx, 0, 4);
        /* the block: header, coinbase, the transaction */
        tb->data.n = 0;
        uint8_t header[80] = {0};
        header[3] = 0x20;
        put(&tb->data, header, 80);
        put_compact(&tb->data, 2);
        put_le(&tb->data, 1, 4);
        put_compact(&tb->data, 1);
        uint8_t zero[32] = {0};
        put(&tb->data, zero, 32);
        put_le(&tb->data, 0xffffffff, 4);
        put(&tb->data, "\x04\x03\x00\x35\x0c", 5); /* height 800,000 */
        put_le(&tb->data, 0xffffffff, 4);
        put_compact(&tb->data, 1);
        put_le(&tb->data, 0, 8);
        put(&tb->data, "\x01\x51", 2);
        put_le(&tb->data, 0, 4);
        put(&tb->data, tx.p, tx.n);
        free(tx.p);
        if (pass)
            pk_block_free(&tb->b);
        pk_verror e;
        if (pk_block_parse(&tb->b, tb->data.p, tb->data.n, &e)) {
            fprintf(stderr, "tapscript block: %s\n", e.msg);
            abort();
        }
        pk_block_hash_txs(&tb->b);
        if (pass == 0) {
            /* the prevouts, then each input's BIP342 hash signed */
            made_prevouts *m = &tb->m;
            m->pv.ntx = 2;
            m->pv.n = 1 + nin;
            m->pv.first = calloc(2, sizeof *m->pv.first);
            m->pv.first[1] = 1;
            m->pv.out = calloc(1 + nin, sizeof *m->pv.out);
            for (size_t i = 0; i < nin; i++) {
                m->pv.out[1 + i].value = 1000;
                m->pv.out[1 + i].script = tb->spk;
                m->pv.out[1 + i].script_len = 34;
            }
            m->pv.out[0].script = tb->spk;
            pk_bip341_cache c;
            const pk_tx *t = &tb->b.tx[1];
            pk_bip341_precompute(&tb->b, t, m->pv.out + 1, &c);
            for (size_t i = 0; i < nin; i++) {
                uint8_t h[32];
                if (pk_sighash_bip342(&tb->b, t, &c, m->pv.out + 1, i, 0, NULL, 0, leaf, 0xffffffffu, h))
                    abort();
                if (!secp256k1_schnorrsig_sign32(ctx, sigs[i], h, &kp, NULL))
                    abort();
            }
            pk_bip341_cache_free(&c);
        }
    }
    free(sigs);
    secp256k1_context_destroy(ctx);
}

/* ---- the rows ---- */

static double time_sigs(const pk_block *b, const pk_sigcheck_opts *o, pk_verifier *v, pk_sig_report *keep)
{
    pk_sig_report r;
    double t0 = pk_now();
    pk_block_verify_sigs(b, o, v, &r);
    double dt = pk_now() - t0;
    if (keep)
        *keep = r;
    else
        pk_sig_report_free(&r);
    return dt;
}

void pk_bench_script_rows(int rounds, const uint8_t *blk, size_t blen)
{
    pk_block b;
    pk_verror e;
    if (pk_block_parse(&b, blk, blen, &e)) {
        fprintf(stderr, "script rows: %s\n", e.msg);
        return;
    }
    pk_block_hash_txs(&b);
    made_prevouts m;
    if (pk_bench_derive_prevouts(&b, &m)) {
        fprintf(stderr, "script rows: an input is not push-only\n");
        pk_block_free(&b);
        return;
    }
    printf("\nscript interpreter (engine %s), median of %d alternating rounds:\n", pk_engine_name(pk_engine_default()),
           rounds);
    for (unsigned threads = 1; threads <= 2; threads++) {
        pk_verifier *v = pk_verifier_new(threads);
        pk_sigcheck_opts plain = {NULL, -1, 1, 0, 0, 0, 0, 0}, interp = {&m.pv, -1, 1, 0, 0, 0, 0, 0};
        double a[50], c[50];
        pk_sig_report ra, rc;
        time_sigs(&b, &plain, v, &ra);
        time_sigs(&b, &interp, v, &rc);
        for (int r = 0; r < rounds; r++) {
            a[r] = time_sigs(&b, &plain, v, NULL);
            c[r] = time_sigs(&b, &interp, v, NULL);
        }
        double ma = pk_bench_median(a, rounds) * 1e3, mc = pk_bench_median(c, rounds) * 1e3;
        printf("  block 413567 --sigs, %u thread%s: templates %.2f ms (%llu of %llu inputs valid), interpreter %.2f ms "
               "(%llu valid, %llu failed, %llu not checked, %llu run again): %.3fx\n",
               threads, threads > 1 ? "s" : "", ma, (unsigned long long)ra.valid_inputs,
               (unsigned long long)ra.inputs, mc, (unsigned long long)rc.valid_inputs,
               (unsigned long long)rc.failed_inputs, (unsigned long long)rc.not_checked,
               (unsigned long long)rc.reruns, mc / ma);
        pk_sig_report_free(&ra);
        pk_sig_report_free(&rc);
        pk_verifier_free(v);
    }

    /* Interpretation per input by kind: deferred runs, no signature verified. */
    tap_block tb;
    enum { NTAP = 2000 };
    build_tap_block(&tb, NTAP);
    double kind_ns[3][50];
    size_t kind_n[3] = {0, 0, 0};
    const char *kind_name[3] = {"p2pkh", "p2sh_multisig (and other P2SH)", "p2tr_script (tapscript <key> CHECKSIG)"};
    for (int r = 0; r < rounds; r++) {
        double tk[3] = {0, 0, 0};
        size_t nk[3] = {0, 0, 0};
        for (size_t ti = 1; ti < b.ntx; ti++) {
            pk_script_tx st = {&b, &b.tx[ti], pk_prevouts_of(&m.pv, ti)};
            pk_script_txdata *txd = pk_script_txdata_new(&st);
            for (uint32_t vi = 0; vi < b.tx[ti].n_in; vi++) {
                pk_script_defer d;
                memset(&d, 0, sizeof d);
                int k = m.kind[m.pv.first[ti] + vi] - 1;
                double t0 = pk_now();
                pk_script_exec(&st, txd, vi, PK_SCRIPT_CONSENSUS_FLAGS, &d, NULL, NULL);
                tk[k] += pk_now() - t0;
                nk[k]++;
                pk_script_defer_free(&d);
            }
            pk_script_txdata_free(txd);
        }
        pk_script_tx st = {&tb.b, &tb.b.tx[1], pk_prevouts_of(&tb.m.pv, 1)};
        pk_script_txdata *txd = pk_script_txdata_new(&st);
        for (uint32_t vi = 0; vi < NTAP; vi++) {
            pk_script_defer d;
            memset(&d, 0, sizeof d);
            double t0 = pk_now();
            pk_script_exec(&st, txd, vi, PK_SCRIPT_CONSENSUS_FLAGS, &d, NULL, NULL);
            tk[2] += pk_now() - t0;
            nk[2]++;
            pk_script_defer_free(&d);
        }
        pk_script_txdata_free(txd);
        for (int k = 0; k < 3; k++) {
            kind_ns[k][r] = nk[k] ? tk[k] / (double)nk[k] * 1e9 : 0;
            kind_n[k] = nk[k];
        }
    }
    printf("  interpretation per input (deferred: scripts, signature hashes, no verification), 1 thread:\n");
    for (int k = 0; k < 3; k++)
        printf("    %-40s %8.0f ns  (%zu inputs)\n", kind_name[k], pk_bench_median(kind_ns[k], rounds), kind_n[k]);

    /* The tapscript block: default engine with batches against libsecp256k1 one by one. */
    pk_verifier *fast = pk_verifier_new(1), *ref = pk_verifier_new(1);
    pk_verifier_set_engine(ref, PK_ENGINE_LIBSECP256K1);
    pk_verifier_set_batch(ref, 0);
    pk_sigcheck_opts o = {&tb.m.pv, -1, 1, 0, 0, 0, 0, 0};
    double f[50], s[50];
    pk_sig_report rf, rs;
    time_sigs(&tb.b, &o, fast, &rf);
    time_sigs(&tb.b, &o, ref, &rs);
    for (int r = 0; r < rounds; r++) {
        f[r] = time_sigs(&tb.b, &o, fast, NULL);
        s[r] = time_sigs(&tb.b, &o, ref, NULL);
    }
    double mf = pk_bench_median(f, rounds), ms = pk_bench_median(s, rounds);
    printf("  a block of %d tapscript spends signed here, 1 thread: %s with batches %.0f inputs/s (%llu valid), "
           "libsecp256k1 one by one %.0f inputs/s (%llu valid): %.2fx\n",
           NTAP, pk_engine_name(pk_verifier_engine(fast)), NTAP / mf, (unsigned long long)rf.valid_inputs, NTAP / ms,
           (unsigned long long)rs.valid_inputs, ms / mf);
    pk_sig_report_free(&rf);
    pk_sig_report_free(&rs);
    pk_verifier_free(fast);
    pk_verifier_free(ref);
    pk_block_free(&tb.b);
    free(tb.data.p);
    free(tb.m.pv.first);
    free(tb.m.pv.out);
    pk_bench_made_free(&m);
    pk_block_free(&b);
}
