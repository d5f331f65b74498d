/* `powkit verify-block`. */
#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "input.h"
#include "powkit/util.h"
#include "powkit/script.h"
#include "powkit/sigcheck.h"
#include "powkit/sigops.h"
#include "powkit/validate.h"
#include "powkit/verify.h"

void pk_usage_verify_block(FILE *f)
{
    fprintf(f,
            "usage: powkit verify-block FILE [--json] [--chain main|test|regtest]\n"
            "                           [--sigs [--prevouts FILE] [--policy] [--height N] [-t N] [--engine E]\n"
            "                           [--no-batch]]\n"
            "\n"
            "Checks a block (raw bytes or hex; - reads standard input): proof of work, merkle\n"
            "root (and the CVE-2012-2459 mutation), witness commitment, coinbase, size and\n"
            "weight, duplicate txids, signature operations; with --sigs its signatures.\n"
            "\n"
            "  --json            one JSON object instead of the report\n"
            "  --chain C         main (default), test or regtest\n"
            "  --sigs            verify every recognised input's signatures too\n"
            "  --prevouts FILE   the spent outputs, as `getblock HASH 3` prints them (implies --sigs):\n"
            "                    every input's script is then run by the consensus interpreter\n"
            "  --policy          with --prevouts: Bitcoin Core's standardness flags too\n"
            "  --height N        the block's height for the consensus rules (default: from BIP34)\n"
            "  -t, --threads N   verification threads (default: all CPUs)\n"
            "  --engine E        libsecp256k1, portable or ifma\n"
            "  --no-batch        verify Schnorr signatures one by one, not in batches\n"
            "\n"
            "The verdict is \"valid\" only when every check ran and passed, signatures\n"
            "included; \"valid as far as checked\" when some were not run (no --sigs, inputs\n"
            "not checked), saying what; \"INVALID\" when any failed.\n"
            "\n"
            "exit status: 0 valid or valid as far as checked, 1 invalid, 2 usage or input\n"
            "error (an unreadable or empty file, prevouts that do not match the block)\n");
}

int pk_cmd_verify_block(int argc, char **argv)
{
    int json = 0, sigs = 0, batch = 1, policy = 0;
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
                                         {"policy", no_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    pk_args a;
    pk_args_init(&a, "verify-block", pk_usage_verify_block, argc, argv, "t:", opts);
    int c, first;
    while ((c = pk_args_next(&a)) != PK_ARGS_END) {
        switch (c) {
        case PK_ARGS_HELP: return PK_EXIT_OK;
        case PK_ARGS_ERROR: return PK_EXIT_USAGE;
        case 'j': json = 1; break;
        case 's': sigs = 1; break;
        case 'B': batch = 0; break;
        case 'P': policy = 1; break;
        case 'e':
            if (pk_cli_parse_engine(&a, optarg, &engine))
                return PK_EXIT_USAGE;
            break;
        case 't':
            if (pk_args_uint(&a, optarg, 1, 1024, &threads))
                return PK_EXIT_USAGE;
            break;
        case 'p':
            prevouts_path = optarg;
            sigs = 1;
            break;
        case 'H': {
            int64_t h;
            if (pk_args_int64(&a, optarg, 0, 100000000, &h))
                return PK_EXIT_USAGE;
            height = h;
            break;
        }
        case 'c':
            if (pk_cli_parse_chain(&a, optarg, &chain))
                return PK_EXIT_USAGE;
            break;
        }
    }
    if (pk_args_operands(&a, 1, 1, &first) < 0)
        return PK_EXIT_USAGE;
    size_t len;
    uint8_t *data = pk_cli_read_input("verify-block", argv[first], &len);
    if (!data)
        return PK_EXIT_USAGE;
    if (len == 0) {
        fprintf(stderr, "powkit verify-block: %s is empty\n", argv[first]);
        free(data);
        return PK_EXIT_USAGE;
    }
    /* Every input is read before anything is checked: an unreadable file
     * is an input error whatever the block turns out to be. */
    char *prevouts_text = NULL;
    size_t prevouts_len = 0;
    if (prevouts_path &&
        !(prevouts_text = (char *)pk_cli_read_file("verify-block", prevouts_path, PK_CLI_MAX_INPUT, &prevouts_len))) {
        free(data);
        return PK_EXIT_USAGE;
    }
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
            char err[256];
            if (pk_prevouts_from_json(&prev, &b, prevouts_text, prevouts_len, err, sizeof err)) {
                fprintf(stderr, "powkit verify-block: %s: %s\n", prevouts_path, err);
                free(prevouts_text);
                pk_block_free(&b);
                free(data);
                return PK_EXIT_USAGE;
            }
        }
        free(prevouts_text); /* prev holds its own copies */
        prevouts_text = NULL;
        pk_sigcheck_opts so = {prevouts_path ? &prev : NULL, height, chain == PK_CHAIN_MAIN, policy, 0, 0, 0, 0};
        verifier = pk_cli_verifier("verify-block", threads, engine, batch);
        if (!verifier) {
            pk_prevouts_free(&prev);
            pk_block_free(&b);
            free(data);
            return PK_EXIT_USAGE;
        }
        sig_rc = pk_block_verify_sigs(&b, &so, verifier, &sr);
        if (sig_rc == -2) {
            fprintf(stderr, "powkit verify-block: %s\n", sr.error);
            pk_verifier_free(verifier);
            pk_prevouts_free(&prev);
            pk_block_free(&b);
            free(data);
            return 2;
        }
    }
    /* One verdict: valid only when every check ran and passed. */
    int invalid = rc != 0 || sig_rc != 0;
    uint64_t unchecked_inputs = sigs && parsed ? sr.not_checked : 0;
    int complete = !invalid && sigs && parsed && unchecked_inputs == 0;
    char why_partial[160] = "";
    if (!invalid && !complete) {
        if (!sigs)
            snprintf(why_partial, sizeof why_partial, "signatures not checked (--sigs, --prevouts)");
        else
            snprintf(why_partial, sizeof why_partial, "%llu inputs not checked",
                     (unsigned long long)unchecked_inputs);
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "hash", hash, "valid",
                              invalid ? json_false() : complete ? json_true() : json_null(), "size", (json_int_t)len, "stripped_size", (json_int_t)b.base_size,
                              "weight", (json_int_t)b.weight, "transactions", (json_int_t)b.ntx, "inputs",
                              (json_int_t)b.n_inputs, "outputs", (json_int_t)b.n_outputs, "witness_transactions",
                              (json_int_t)b.n_witness_tx);
        /* true passed, false failed, null not checked (an earlier check failed) */
#define CHECK_JSON(bit, ok) ((rep.checked & (bit)) ? json_boolean(ok) : json_null())
        json_t *checks = json_object();
        json_object_set_new(checks, "pow", CHECK_JSON(PK_CHECK_POW, rep.pow_ok));
        json_object_set_new(checks, "merkle", CHECK_JSON(PK_CHECK_MERKLE, rep.merkle_ok));
        json_object_set_new(checks, "structure", CHECK_JSON(PK_CHECK_STRUCTURE, rep.structure_ok));
        json_object_set_new(checks, "witness", CHECK_JSON(PK_CHECK_WITNESS, rep.witness_ok));
        json_object_set_new(checks, "witness_commitment",
                            (rep.checked & PK_CHECK_WITNESS) ? json_boolean(rep.has_commitment) : json_null());
#undef CHECK_JSON
        json_object_set_new(o, "checks", checks);
        json_object_set_new(o, "timing_ms",
                            json_pack("{s:f, s:f, s:f, s:f}", "parse", rep.ms_parse, "hash", rep.ms_hash,
                                      "merkle", rep.ms_merkle, "checks", rep.ms_checks));
        json_object_set_new(o, "verdict", json_string(invalid ? "invalid" : complete ? "valid" : "valid_as_far_as_checked"));
        json_object_set_new(o, "block_checks_valid", json_boolean(rc == 0));
        if (!invalid && !complete)
            json_object_set_new(o, "not_checked", json_string(why_partial));
        if (rc)
            json_object_set_new(o, "error", pk_cli_error_json(&e));
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
            json_object_set_new(so, "interpreter", json_boolean(sr.interpreter));
            if (sr.interpreter) {
                json_t *kinds = json_object(), *fl = json_array();
                for (int k = 0; k < PK_KIND_COUNT; k++)
                    json_object_set_new(kinds, pk_script_kind_name((pk_script_kind)k),
                                        json_integer((json_int_t)sr.by_kind[k]));
                for (int bit = 0; bit < 32; bit++)
                    if ((sr.script_flags >> bit & 1) && pk_script_flag_name(1u << bit))
                        json_array_append_new(fl, json_string(pk_script_flag_name(1u << bit)));
                json_object_set_new(so, "by_kind", kinds);
                json_object_set_new(so, "upgradable", json_integer((json_int_t)sr.upgradable));
                json_object_set_new(so, "reruns", json_integer((json_int_t)sr.reruns));
                json_object_set_new(so, "script_flags", fl);
                json_object_set_new(so, "ms_scripts", json_real(sr.ms_scripts));
                json_object_set_new(so, "ms_resolve", json_real(sr.ms_resolve));
            }
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
#define CHECK_TEXT(bit, ok, yes) (!(rep.checked & (bit)) ? "not checked" : (ok) ? (yes) : "FAILED")
        printf("  proof of work %s\n  merkle root   %s\n  structure     %s\n  witness       %s\n",
               CHECK_TEXT(PK_CHECK_POW, rep.pow_ok, "ok"), CHECK_TEXT(PK_CHECK_MERKLE, rep.merkle_ok, "ok"),
               CHECK_TEXT(PK_CHECK_STRUCTURE, rep.structure_ok, "ok"),
               CHECK_TEXT(PK_CHECK_WITNESS, rep.witness_ok,
                          rep.has_commitment ? "ok (commitment matches)" : "ok (no commitment, no witness data)"));
#undef CHECK_TEXT
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
            if (sr.interpreter) {
                for (int k = 0; k < PK_KIND_COUNT; k++)
                    if (sr.by_kind[k])
                        printf(" %s %llu", pk_script_kind_name((pk_script_kind)k), (unsigned long long)sr.by_kind[k]);
                printf("\n                every input's script run by the interpreter (flags");
                for (int bit = 0; bit < 32; bit++)
                    if ((sr.script_flags >> bit & 1) && pk_script_flag_name(1u << bit))
                        printf(" %s", pk_script_flag_name(1u << bit));
                printf("); %llu upgradable (valid by consensus, nothing to check); %llu run again to decide",
                       (unsigned long long)sr.upgradable, (unsigned long long)sr.reruns);
            } else {
                for (int k = 0; k < PK_SPEND_COUNT; k++)
                    if (sr.by_spend[k])
                        printf(" %s %llu", pk_spend_name((pk_spend)k), (unsigned long long)sr.by_spend[k]);
            }
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
            printf("result: INVALID: %s (%s)\n", e.msg, e.reason ? e.reason : pk_vcode_name(e.code));
        else if (sig_rc && sr.failed_inputs)
            printf("result: INVALID: %llu inputs failed (the first: input %zu of transaction %zu: %s)\n",
                   (unsigned long long)sr.failed_inputs, sr.failures[0].vin, sr.failures[0].tx,
                   sr.failures[0].reason);
        else if (sig_rc)
            printf("result: INVALID: signature operation cost over %u (bad-blk-sigops)\n", PK_MAX_BLOCK_SIGOPS_COST);
        else if (!complete)
            printf("result: valid as far as checked: %s\n", why_partial);
        else
            printf("result: valid\n");
    }
    pk_sig_report_free(&sr);
    pk_prevouts_free(&prev);
    pk_verifier_free(verifier);
    pk_block_free(&b);
    free(data);
    free(prevouts_text);
    return rc || sig_rc ? PK_EXIT_INVALID : PK_EXIT_OK;
}
