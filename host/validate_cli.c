/* `powkit verify-block` and `powkit verify-headers`. */
#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "powkit/util.h"
#include "powkit/sigcheck.h"
#include "powkit/sigops.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

/* Whole file, NUL-terminated.  Returns NULL with a message on stderr. */
static uint8_t *read_raw(const char *cmd, const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "powkit %s: cannot open %s\n", cmd, path);
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if (cap >= ((size_t)1 << 31)) {
                fprintf(stderr, "powkit %s: %s is larger than 2 GiB\n", cmd, path);
                free(buf);
                buf = NULL;
                break;
            }
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    if (f != stdin)
        fclose(f);
    if (!buf) {
        fprintf(stderr, "powkit %s: cannot read %s\n", cmd, path);
        return NULL;
    }
    buf[n] = 0; /* n < cap: the loop grows the buffer when it fills */
    *len = n;
    return buf;
}

/* Whole file; hex text (whitespace allowed) is decoded, anything else is
 * taken as raw bytes.  Returns NULL with a message on stderr. */
static uint8_t *read_input(const char *cmd, const char *path, size_t *len)
{
    size_t n;
    uint8_t *buf = read_raw(cmd, path, &n);
    if (!buf)
        return NULL;
    size_t digits = 0, i;
    for (i = 0; i < n; i++) {
        if (isxdigit(buf[i]))
            digits++;
        else if (!isspace(buf[i]))
            break;
    }
    if (i == n && digits > 0 && digits % 2 == 0) {
        size_t k = 0;
        char pair[3] = {0};
        for (i = 0; i < n; i++) {
            if (isspace(buf[i]))
                continue;
            pair[k % 2] = (char)buf[i];
            if (k++ % 2) {
                uint8_t v;
                pk_hex_decode(pair, &v, 1);
                buf[k / 2 - 1] = v;
            }
        }
        n = digits / 2;
    }
    *len = n;
    return buf;
}

static json_t *error_json(const pk_verror *e)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s}", "code", pk_vcode_name(e->code), "reason",
                     e->reason ? e->reason : "", "offset", (json_int_t)e->offset, "height",
                     (json_int_t)e->height, "message", e->msg);
}

static int parse_chain(const char *v, pk_chain *c)
{
    if (pk_chain_parse(v, c)) {
        fprintf(stderr, "powkit: --chain wants main, test or regtest, got '%s'\n", v);
        return -1;
    }
    return 0;
}

int pk_cmd_verify_block(int argc, char **argv)
{
    int json = 0, sigs = 0, batch = 1;
    unsigned threads = 0;
    pk_engine engine = pk_engine_default();
    long long height = -1;
    const char *prevouts_path = NULL;
    pk_chain chain = PK_CHAIN_MAIN;
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"chain", required_argument, 0, 'c'},
                                         {"sigs", no_argument, 0, 's'},
                                         {"threads", required_argument, 0, 't'},
                                         {"engine", required_argument, 0, 'e'},
                                         {"no-batch", no_argument, 0, 'B'},
                                         {"prevouts", required_argument, 0, 'p'},
                                         {"height", required_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 's') {
            sigs = 1;
        } else if (c == 'B') {
            batch = 0;
        } else if (c == 'e') {
            if (pk_engine_parse(optarg, &engine)) {
                fprintf(stderr, "powkit verify-block: --engine wants libsecp256k1, portable or ifma, got '%s'\n", optarg);
                return 2;
            }
        } else if (c == 't') {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end || t < 1 || t > 1024) {
                fprintf(stderr, "powkit verify-block: --threads wants 1 to 1024\n");
                return 2;
            }
            threads = (unsigned)t;
        } else if (c == 'p') {
            prevouts_path = optarg;
            sigs = 1;
        } else if (c == 'H') {
            char *end;
            height = strtoll(optarg, &end, 10);
            if (*end || height < 0 || height > 100000000) {
                fprintf(stderr, "powkit verify-block: --height wants a block height, got '%s'\n", optarg);
                return 2;
            }
        } else if (c == 'c') {
            if (parse_chain(optarg, &chain))
                return 2;
        } else {
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: powkit verify-block FILE [--json] [--chain main|test|regtest] "
                        "[--sigs [--prevouts FILE] [--height N] [--threads N] [--engine E] [--no-batch]]\n");
        return 2;
    }
    size_t len;
    uint8_t *data = read_input("verify-block", argv[optind], &len);
    if (!data)
        return 2;
    pk_chain_params p;
    pk_chain_params_init(&p, chain);
    pk_block b;
    pk_block_report rep;
    pk_verror e;
    int rc = pk_block_verify(&b, data, len, &p, &rep, &e);
    char hash[65] = "";
    if (len >= 80)
        pk_hash_to_hex(rep.hash, hash);
    /* Signatures: after a successful parse, whatever the other checks said. */
    pk_sig_report sr;
    memset(&sr, 0, sizeof sr);
    int sig_rc = 0, parsed = b.ntx > 0;
    pk_verifier *verifier = NULL;
    pk_prevouts prev;
    memset(&prev, 0, sizeof prev);
    if (sigs && parsed) {
        if (!b.hashed)
            pk_block_hash_txs(&b);
        if (prevouts_path) {
            size_t pl;
            char *text = (char *)read_raw("verify-block", prevouts_path, &pl);
            char err[256];
            if (!text || pk_prevouts_from_json(&prev, &b, text, pl, err, sizeof err)) {
                if (text)
                    fprintf(stderr, "powkit verify-block: %s: %s\n", prevouts_path, err);
                free(text);
                pk_block_free(&b);
                free(data);
                return 2;
            }
            free(text);
        }
        pk_sigcheck_opts so = {prevouts_path ? &prev : NULL, height, chain == PK_CHAIN_MAIN};
        verifier = pk_verifier_new(threads);
        if (verifier && pk_verifier_set_engine(verifier, engine)) {
            fprintf(stderr, "powkit verify-block: engine %s is not available here (disabled or failed its self-test)\n",
                    pk_engine_name(engine));
            pk_verifier_free(verifier);
            pk_prevouts_free(&prev);
            pk_block_free(&b);
            free(data);
            return 2;
        }
        if (verifier)
            pk_verifier_set_batch(verifier, batch);
        sig_rc = verifier ? pk_block_verify_sigs(&b, &so, verifier, &sr) : -1;
        if (sig_rc == -2) {
            fprintf(stderr, "powkit verify-block: %s\n", sr.error);
            pk_verifier_free(verifier);
            pk_prevouts_free(&prev);
            pk_block_free(&b);
            free(data);
            return 2;
        }
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "hash", hash, "valid",
                              rc == 0, "size", (json_int_t)len, "stripped_size", (json_int_t)b.base_size,
                              "weight", (json_int_t)b.weight, "transactions", (json_int_t)b.ntx, "inputs",
                              (json_int_t)b.n_inputs, "outputs", (json_int_t)b.n_outputs, "witness_transactions",
                              (json_int_t)b.n_witness_tx);
        json_object_set_new(o, "checks",
                            json_pack("{s:b, s:b, s:b, s:b, s:b}", "pow", rep.pow_ok, "merkle", rep.merkle_ok,
                                      "structure", rep.structure_ok, "witness", rep.witness_ok,
                                      "witness_commitment", rep.has_commitment));
        json_object_set_new(o, "timing_ms",
                            json_pack("{s:f, s:f, s:f, s:f}", "parse", rep.ms_parse, "hash", rep.ms_hash,
                                      "merkle", rep.ms_merkle, "checks", rep.ms_checks));
        if (rc)
            json_object_set_new(o, "error", error_json(&e));
        if (sigs && parsed) {
            json_t *fails = json_array();
            for (size_t i = 0; i < sr.failed_inputs; i++) {
                char id[65], where[80];
                pk_hash_to_hex(sr.failures[i].txid, id);
                snprintf(where, sizeof where, "%s:%zu", id, sr.failures[i].vin);
                json_array_append_new(fails, json_pack("{s:s, s:s}", "input", where, "reason", sr.failures[i].reason));
            }
            json_t *by = json_object(), *nc = json_object();
            for (int k = 0; k < PK_SPEND_COUNT; k++)
                json_object_set_new(by, pk_spend_name((pk_spend)k), json_integer((json_int_t)sr.by_spend[k]));
            for (int k = 0; k < PK_UNCHECKED_COUNT; k++)
                json_object_set_new(nc, pk_unchecked_name((pk_unchecked)k),
                                    json_integer((json_int_t)sr.not_checked_by[k]));
            json_t *so = json_pack(
                "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f, s:f, s:i}", "inputs",
                (json_int_t)sr.inputs, "p2pkh", (json_int_t)sr.by_spend[PK_SPEND_P2PKH], "p2pkh_compressed",
                (json_int_t)sr.p2pkh_compressed, "p2pkh_uncompressed", (json_int_t)sr.p2pkh_uncompressed,
                "p2sh_multisig", (json_int_t)sr.by_spend[PK_SPEND_P2SH_MULTISIG], "multisig_2of3", (json_int_t)sr.multisig_by_mn[2][3],
                "multisig_2of2", (json_int_t)sr.multisig_by_mn[2][2], "signatures", (json_int_t)sr.signatures,
                "checks_run", (json_int_t)sr.candidates, "not_checked", (json_int_t)sr.not_checked,
                "valid_inputs", (json_int_t)sr.valid_inputs, "failed_inputs", (json_int_t)sr.failed_inputs,
                "failures", fails, "ms_extract", sr.ms_extract, "ms_verify", sr.ms_verify, "threads",
                verifier ? (int)pk_verifier_threads(verifier) : 0);
            json_t *ul = json_array();
            for (size_t i = 0; i < sr.not_checked; i++) {
                char id[65], where[120];
                pk_hash_to_hex(b.tx[sr.unchecked[i].tx].txid, id);
                snprintf(where, sizeof where, "%s:%zu", id, sr.unchecked[i].vin);
                json_array_append_new(ul, json_pack("{s:s, s:s}", "input", where, "reason",
                                                    pk_unchecked_name(sr.unchecked[i].why)));
            }
            json_object_set_new(so, "not_checked_inputs", ul);
            json_object_set_new(so, "by_type", by);
            json_object_set_new(so, "not_checked_by", nc);
            json_object_set_new(so, "ecdsa", json_integer((json_int_t)sr.ecdsa));
            json_object_set_new(so, "schnorr", json_integer((json_int_t)sr.schnorr));
            json_object_set_new(so, "height", json_integer((json_int_t)sr.height));
            json_object_set_new(so, "ms_classify", json_real(sr.ms_classify));
            json_object_set_new(so, "ms_sighash", json_real(sr.ms_sighash));
            json_object_set_new(so, "prevouts", json_boolean(prevouts_path != NULL));
            json_object_set_new(so, "sigop_cost", json_integer((json_int_t)sr.sigop_cost));
            json_object_set_new(so, "sigop_cost_complete", json_boolean(sr.sigop_cost_complete));
            json_object_set_new(so, "sigops_ok", json_boolean(!sr.sigops_exceeded));
            json_object_set_new(o, "signatures", so);
        }
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("block %s\n", hash[0] ? hash : "(no header)");
        if (b.ntx)
            printf("  %zu transactions (%llu with witness), %llu inputs, %llu outputs\n"
                   "  %zu bytes, stripped %zu, weight %zu\n",
                   b.ntx, (unsigned long long)b.n_witness_tx, (unsigned long long)b.n_inputs,
                   (unsigned long long)b.n_outputs, len, b.base_size, b.weight);
        printf("  merkle root   %s\n  proof of work %s\n  structure     %s\n  witness       %s\n",
               rep.merkle_ok ? "ok" : "-", rep.pow_ok ? "ok" : "-", rep.structure_ok ? "ok" : "-",
               rep.witness_ok ? (rep.has_commitment ? "ok (commitment matches)" : "ok (no commitment, no witness data)")
                              : "-");
        printf("  time          parse %.3f ms, txids %.3f ms, merkle %.3f ms, checks %.3f ms\n",
               rep.ms_parse, rep.ms_hash, rep.ms_merkle, rep.ms_checks);
        if (sigs && parsed) {
            printf("  signatures    %llu (%llu ECDSA, %llu Schnorr) in %llu inputs, rules of height %lld%s\n",
                   (unsigned long long)sr.signatures, (unsigned long long)sr.ecdsa, (unsigned long long)sr.schnorr,
                   (unsigned long long)sr.inputs, (long long)sr.height, prevouts_path ? ", with prevouts" : "");
            printf("                %llu P2PKH (%llu compressed, %llu uncompressed), %llu P2SH multisig; "
                   "multisig of all kinds: %llu 2-of-3, %llu 2-of-2\n",
                   (unsigned long long)sr.by_spend[PK_SPEND_P2PKH], (unsigned long long)sr.p2pkh_compressed,
                   (unsigned long long)sr.p2pkh_uncompressed, (unsigned long long)sr.by_spend[PK_SPEND_P2SH_MULTISIG],
                   (unsigned long long)sr.multisig_by_mn[2][3], (unsigned long long)sr.multisig_by_mn[2][2]);
            printf("                by type:");
            for (int k = 0; k < PK_SPEND_COUNT; k++)
                if (sr.by_spend[k])
                    printf(" %s %llu", pk_spend_name((pk_spend)k), (unsigned long long)sr.by_spend[k]);
            printf("\n                %llu not checked", (unsigned long long)sr.not_checked);
            for (int k = 0; k < PK_UNCHECKED_COUNT; k++)
                if (sr.not_checked_by[k])
                    printf(" (%s %llu)", pk_unchecked_name((pk_unchecked)k), (unsigned long long)sr.not_checked_by[k]);
            printf("\n");
            printf("                %llu checks run on %u threads: extract+sighash %.1f ms (recognise %.1f, "
                   "sighash %.1f), verify %.1f ms; %llu inputs valid, %llu failed\n",
                   (unsigned long long)sr.candidates, verifier ? pk_verifier_threads(verifier) : 0, sr.ms_extract,
                   sr.ms_classify, sr.ms_sighash, sr.ms_verify, (unsigned long long)sr.valid_inputs, (unsigned long long)sr.failed_inputs);
            printf("                signature operation cost %llu of %u%s\n", (unsigned long long)sr.sigop_cost,
                   PK_MAX_BLOCK_SIGOPS_COST, sr.sigop_cost_complete ? "" : " (legacy only: P2SH and witness need --prevouts)");
            for (size_t i = 0; i < sr.failed_inputs; i++) {
                char id[65];
                pk_hash_to_hex(sr.failures[i].txid, id);
                printf("  FAILED        %s:%zu: %s\n", id, sr.failures[i].vin, sr.failures[i].reason);
            }
            if (sr.sigops_exceeded)
                printf("  FAILED        block: signature operation cost over %u (bad-blk-sigops)\n",
                       PK_MAX_BLOCK_SIGOPS_COST);
        }
        if (rc)
            printf("result: INVALID: %s (%s)%s\n", e.msg, e.reason ? e.reason : pk_vcode_name(e.code), "");
        else
            printf("result: valid\n");
    }
    pk_sig_report_free(&sr);
    pk_prevouts_free(&prev);
    pk_verifier_free(verifier);
    pk_block_free(&b);
    free(data);
    return rc || sig_rc ? 1 : 0;
}

int pk_cmd_verify_headers(int argc, char **argv)
{
    int json = 0;
    long long start = 0;
    uint32_t start_bits = 0;
    pk_chain chain = PK_CHAIN_MAIN;
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"start-height", required_argument, 0, 's'},
                                         {"chain", required_argument, 0, 'c'},
                                         {"start-bits", required_argument, 0, 'b'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 's') {
            char *end;
            start = strtoll(optarg, &end, 10);
            if (*end || start < 0 || start > 100000000) {
                fprintf(stderr, "powkit verify-headers: --start-height wants a height, got '%s'\n", optarg);
                return 2;
            }
        } else if (c == 'c') {
            if (parse_chain(optarg, &chain))
                return 2;
        } else if (c == 'b') {
            uint8_t b4[4];
            if (strlen(optarg) != 8 || pk_hex_decode(optarg, b4, 4)) {
                fprintf(stderr, "powkit verify-headers: --start-bits wants 8 hex digits (as getblockheader's \"bits\"), "
                                "got '%s'\n", optarg);
                return 2;
            }
            start_bits = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
        } else {
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: powkit verify-headers FILE [--start-height H] [--start-bits HEX] [--json] [--chain ...]\n");
        return 2;
    }
    size_t len;
    uint8_t *data = read_input("verify-headers", argv[optind], &len);
    if (!data)
        return 2;
    if (len % 80 != 0 || len == 0) {
        fprintf(stderr, "powkit verify-headers: %s is %zu bytes, not a whole number of 80-byte headers\n",
                argv[optind], len);
        free(data);
        return 2;
    }
    pk_chain_params p;
    pk_chain_params_init(&p, chain);
    pk_headers_report rep;
    pk_verror e;
    pk_headers_opts ho = {start, start_bits};
    int rc = pk_headers_verify_opts(data, len / 80, &ho, &p, &rep, &e);
    double rate = rep.seconds > 0 ? rep.verified / rep.seconds : 0;
    if (json) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:f, s:f}", "count", (json_int_t)rep.count,
                              "start_height", (json_int_t)start, "verified", (json_int_t)rep.verified,
                              "retargets_checked", (json_int_t)rep.retargets_checked, "mtp_checked",
                              (json_int_t)rep.mtp_checked, "valid", rc == 0, "seconds", rep.seconds,
                              "headers_per_second", rate);
        json_object_set_new(o, "undecided", json_integer((json_int_t)rep.undecided));
        json_object_set_new(o, "first_undecided_height", json_integer((json_int_t)rep.first_undecided));
        if (rc)
            json_object_set_new(o, "first_failure", error_json(&e));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("%llu headers from height %lld: %llu verified, %llu retargets checked, %llu median-time checks\n",
               (unsigned long long)rep.count, start, (unsigned long long)rep.verified,
               (unsigned long long)rep.retargets_checked, (unsigned long long)rep.mtp_checked);
        printf("  %.3f ms, %.2f M headers/s\n", rep.seconds * 1e3, rate / 1e6);
        if (rep.undecided)
            printf("  %llu header(s) whose bits the file cannot decide, the first at height %lld: the rule needs "
                   "blocks before the file (a retarget's period start; on testnet the last block not at the minimum "
                   "difficulty: give its bits with --start-bits)\n",
                   (unsigned long long)rep.undecided, (long long)rep.first_undecided);
        if (rc)
            printf("first failure: height %lld: %s (%s)\n", (long long)e.height, e.msg,
                   e.reason ? e.reason : pk_vcode_name(e.code));
        else
            printf("result: valid\n");
    }
    free(data);
    return rc ? 1 : 0;
}
