/* `powkit verify-headers`: a file of consecutive 80-byte headers. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "input.h"
#include "powkit/util.h"
#include "powkit/validate.h"

void pk_usage_verify_headers(FILE *f)
{
    fprintf(f,
            "usage: powkit verify-headers FILE [--start-height H] [--start-bits HEX] [--json]\n"
            "                             [--chain main|test|regtest]\n"
            "\n"
            "Checks consecutive 80-byte headers (raw or hex; - reads standard input): links,\n"
            "proof of work, the difficulty rule, median time past.  The first failure is\n"
            "reported with its height; what the file cannot decide is said, not failed.\n"
            "\n"
            "  --start-height H  the first header's height (needed unless it is the genesis block)\n"
            "  --start-bits HEX  testnet: bits of the last block before the file not at the minimum\n"
            "  --json            one JSON object instead of the report\n"
            "  --chain C         main (default), test or regtest\n"
            "\n"
            "exit status: 0 every header passes, 1 a header fails, 2 usage or input error\n");
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
    pk_args a;
    pk_args_init(&a, "verify-headers", pk_usage_verify_headers, argc, argv, "", opts);
    int c, first, have_start = 0;
    while ((c = pk_args_next(&a)) != PK_ARGS_END) {
        switch (c) {
        case PK_ARGS_HELP: return PK_EXIT_OK;
        case PK_ARGS_ERROR: return PK_EXIT_USAGE;
        case 'j': json = 1; break;
        case 's': {
            int64_t h;
            if (pk_args_int64(&a, optarg, 0, 100000000, &h))
                return PK_EXIT_USAGE;
            start = h;
            have_start = 1;
            break;
        }
        case 'c':
            if (pk_cli_parse_chain(&a, optarg, &chain))
                return PK_EXIT_USAGE;
            break;
        case 'b': {
            uint8_t b4[4];
            if (strlen(optarg) != 8 || pk_hex_decode(optarg, b4, 4))
                return pk_args_fail(&a, "%s wants 8 hex digits (as getblockheader's \"bits\"), got '%s'",
                                    pk_args_typed(&a), optarg);
            start_bits = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | (uint32_t)b4[2] << 8 | b4[3];
            break;
        }
        }
    }
    if (pk_args_operands(&a, 1, 1, &first) < 0)
        return PK_EXIT_USAGE;
    const char *path = argv[first];
    size_t len;
    uint8_t *data = pk_cli_read_input("verify-headers", path, &len);
    if (!data)
        return PK_EXIT_USAGE;
    if (len % 80 != 0 || len == 0) {
        fprintf(stderr, "powkit verify-headers: %s is %zu bytes, not a whole number of 80-byte headers\n", path, len);
        free(data);
        return PK_EXIT_USAGE;
    }
    /* Only the genesis block has no previous block: any other first header
     * needs its height, or every retarget would be checked at the wrong
     * place (and fail far from where the data is wrong). */
    static const uint8_t zero[32];
    if (!have_start && memcmp(data + 4, zero, 32) != 0) {
        fprintf(stderr,
                "powkit verify-headers: %s does not start at the genesis block: give the first header's height "
                "with --start-height H\n",
                path);
        free(data);
        return PK_EXIT_USAGE;
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
            json_object_set_new(o, "first_failure", pk_cli_error_json(&e));
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
    return rc ? PK_EXIT_INVALID : PK_EXIT_OK;
}
