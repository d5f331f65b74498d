/* `powkit verify-sigs [FILE|-] [--threads N] [--engine E] [--no-batch] [--lax-der] [--low-s]`:
 * JSON lines in, one answer per line out, in input order, in batches of
 * at most BATCH lines (bounded memory however long the stream). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "input.h"
#include "powkit/util.h"
#include "powkit/verify.h"

#define BATCH 4096
#define LINE_MAX_BYTES (64 * 1024)

/* One line, whatever bytes it holds (NULs included): at most
 * LINE_MAX_BYTES kept, the rest of a longer one read and dropped, so each
 * input line is exactly one item.  The newline and a CR before it are not
 * kept.  Returns -1 at the end of the input with nothing read. */
static int read_line(FILE *in, char *line, size_t *len, int *too_long)
{
    size_t n = 0;
    int ch, any = 0;
    *too_long = 0;
    while ((ch = getc(in)) != EOF) {
        any = 1;
        if (ch == '\n')
            break;
        if (n < LINE_MAX_BYTES)
            line[n++] = (char)ch;
        else
            *too_long = 1;
    }
    if (!any)
        return -1;
    if (!*too_long && n && line[n - 1] == '\r')
        n--;
    line[n] = 0;
    *len = n;
    return 0;
}

typedef struct item {
    int error; /* the line itself was malformed */
    char msg[96];
} item;

static int hex_field(const json_t *o, const char *key, uint8_t *out, size_t min, size_t max, size_t *len,
                     char *msg, size_t msglen)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) {
        snprintf(msg, msglen, "\"%s\" missing or not a string", key);
        return -1;
    }
    size_t n = json_string_length(v);
    if (n % 2 || n / 2 < min || n / 2 > max) {
        snprintf(msg, msglen, "\"%s\" must be %zu to %zu bytes of hex", key, min, max);
        return -1;
    }
    if (pk_hex_decode(json_string_value(v), out, n / 2)) {
        snprintf(msg, msglen, "\"%s\" is not hex", key);
        return -1;
    }
    *len = n / 2;
    return 0;
}

static void parse_line(const char *line, size_t len, uint8_t flags, pk_sig_check *c, item *it)
{
    memset(c, 0, sizeof *c);
    it->error = 1;
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    if (!json_is_object(o)) {
        snprintf(it->msg, sizeof it->msg, "not a JSON object");
        json_decref(o);
        return;
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    size_t pl, sl, ml;
    if (type && strcmp(type, "ecdsa") == 0) {
        c->type = PK_SIG_ECDSA;
        c->flags = flags;
        if (hex_field(o, "pubkey", c->pubkey, 33, 65, &pl, it->msg, sizeof it->msg) ||
            hex_field(o, "msg32", c->msg, 32, 32, &ml, it->msg, sizeof it->msg) ||
            hex_field(o, "sig", c->sig, 8, 73, &sl, it->msg, sizeof it->msg))
            goto out;
        if (pl != 33 && pl != 65) {
            snprintf(it->msg, sizeof it->msg, "\"pubkey\" must be 33 or 65 bytes");
            goto out;
        }
    } else if (type && strcmp(type, "schnorr") == 0) {
        c->type = PK_SIG_SCHNORR;
        if (hex_field(o, "pubkey", c->pubkey, 32, 32, &pl, it->msg, sizeof it->msg) ||
            hex_field(o, "msg", c->msg, 0, PK_SIG_MSG_MAX, &ml, it->msg, sizeof it->msg) ||
            hex_field(o, "sig", c->sig, 64, 64, &sl, it->msg, sizeof it->msg))
            goto out;
    } else {
        snprintf(it->msg, sizeof it->msg, "\"type\" must be \"ecdsa\" or \"schnorr\"");
        goto out;
    }
    c->pubkey_len = (uint8_t)pl;
    c->sig_len = (uint8_t)sl;
    c->msg_len = (uint16_t)ml;
    it->error = 0;
out:
    json_decref(o);
}

void pk_usage_verify_sigs(FILE *f)
{
    fprintf(f,
            "usage: powkit verify-sigs [FILE|-] [--threads N] [--engine E] [--no-batch] [--lax-der] [--low-s]\n"
            "\n"
            "Reads JSON lines (FILE or standard input), one check each:\n"
            "  {\"type\":\"ecdsa\",\"pubkey\":HEX,\"msg32\":HEX,\"sig\":HEX_DER}\n"
            "  {\"type\":\"schnorr\",\"pubkey\":HEX_XONLY,\"msg\":HEX,\"sig\":HEX64}\n"
            "and writes one answer per non-blank line, in order: {\"i\":N,\"valid\":true|false}, or\n"
            "{\"i\":N,\"error\":\"...\"} for a malformed line; N is the line's number from 0.\n"
            "\n"
            "  -t, --threads N   verification threads (default: all CPUs)\n"
            "  --engine E        libsecp256k1, portable or ifma (default: the fastest that passed\n"
            "                    its self-test)\n"
            "  --no-batch        verify Schnorr signatures one by one, not in batches\n"
            "  --lax-der         accept historical, non-strict DER encodings\n"
            "  --low-s           Bitcoin Core's standardness rule: a high S is invalid\n"
            "\n"
            "exit status: 0 every line valid, 1 a line invalid or malformed, 2 usage error or\n"
            "unreadable input\n");
}

int pk_cmd_verify_sigs(int argc, char **argv)
{
    unsigned threads = 0;
    uint8_t flags = 0;
    int batch = 1;
    pk_engine engine = pk_engine_default();
    static const struct option opts[] = {{"threads", required_argument, 0, 't'}, {"engine", required_argument, 0, 'e'},
                                         {"lax-der", no_argument, 0, 'l'}, {"no-batch", no_argument, 0, 'B'},
                                         {"low-s", no_argument, 0, 's'}, {0, 0, 0, 0}};
    pk_args a;
    pk_args_init(&a, "verify-sigs", pk_usage_verify_sigs, argc, argv, "t:", opts);
    int c, first;
    while ((c = pk_args_next(&a)) != PK_ARGS_END) {
        switch (c) {
        case PK_ARGS_HELP: return PK_EXIT_OK;
        case PK_ARGS_ERROR: return PK_EXIT_USAGE;
        case 'e':
            if (pk_cli_parse_engine(&a, optarg, &engine))
                return PK_EXIT_USAGE;
            break;
        case 't':
            if (pk_args_uint(&a, optarg, 1, 1024, &threads))
                return PK_EXIT_USAGE;
            break;
        case 'B': batch = 0; break;
        case 'l': flags |= PK_SIG_LAX_DER; break;
        case 's': flags |= PK_SIG_LOW_S; break;
        }
    }
    int nops = pk_args_operands(&a, 0, 1, &first);
    if (nops < 0)
        return PK_EXIT_USAGE;
    const char *path = nops ? argv[first] : "-";
    FILE *in = pk_cli_open_input("verify-sigs", path);
    if (!in)
        return PK_EXIT_USAGE;
    pk_verifier *v = pk_cli_verifier("verify-sigs", threads, engine, batch);
    pk_sig_check *checks = malloc(BATCH * sizeof *checks);
    item *items = malloc(BATCH * sizeof *items);
    char *line = malloc(LINE_MAX_BYTES + 2);
    if (!v || !checks || !items || !line) {
        if (v)
            fprintf(stderr, "powkit verify-sigs: out of memory\n");
        pk_verifier_free(v);
        free(checks);
        free(items);
        free(line);
        if (in != stdin)
            fclose(in);
        return PK_EXIT_USAGE;
    }
    uint64_t index = 0, line_no = 0, n_valid = 0, n_invalid = 0, n_error = 0;
    static uint64_t where_line[BATCH]; /* each item's line number: its "i" */
    double t0 = pk_now(), t_verify = 0;
    int eof = 0;
    while (!eof) {
        size_t n = 0;
        while (n < BATCH) {
            int too_long;
            size_t len;
            if (read_line(in, line, &len, &too_long)) {
                eof = 1;
                break;
            }
            uint64_t at = line_no++;
            if (len == 0 && !too_long)
                continue; /* blank lines are not items */
            where_line[n] = at;
            if (too_long) {
                memset(&checks[n], 0, sizeof checks[n]);
                items[n].error = 1;
                snprintf(items[n].msg, sizeof items[n].msg, "line longer than %d bytes", LINE_MAX_BYTES);
            } else {
                parse_line(line, len, flags, &checks[n], &items[n]);
            }
            n++;
        }
        /* Malformed lines are not verified: move them out of the way. */
        size_t m = 0;
        static pk_sig_check batch[BATCH];
        static size_t where[BATCH];
        for (size_t i = 0; i < n; i++) {
            if (!items[i].error) {
                batch[m] = checks[i];
                where[m++] = i;
            }
        }
        double tv = pk_now();
        pk_verifier_run(v, batch, m, 0);
        t_verify += pk_now() - tv;
        for (size_t k = 0; k < m; k++)
            checks[where[k]] = batch[k];
        for (size_t i = 0; i < n; i++, index++) {
            if (items[i].error) {
                json_t *o = json_pack("{s:I, s:s}", "i", (json_int_t)where_line[i], "error", items[i].msg);
                char *s = json_dumps(o, JSON_COMPACT);
                puts(s);
                free(s);
                json_decref(o);
                n_error++;
            } else {
                printf("{\"i\":%llu,\"valid\":%s}\n", (unsigned long long)where_line[i],
                       checks[i].valid == 1 ? "true" : "false");
                if (checks[i].valid == 1)
                    n_valid++;
                else
                    n_invalid++;
            }
        }
        fflush(stdout);
    }
    double secs = pk_now() - t0;
    fprintf(stderr,
            "verify-sigs: %llu lines: %llu valid, %llu invalid, %llu malformed; %u threads; %.3f s "
            "(verification %.3f s, %.0f signatures/s)\n",
            (unsigned long long)index, (unsigned long long)n_valid, (unsigned long long)n_invalid,
            (unsigned long long)n_error, pk_verifier_threads(v), secs, t_verify,
            t_verify > 0 ? (double)(n_valid + n_invalid) / t_verify : 0);
    if (in != stdin)
        fclose(in);
    pk_verifier_free(v);
    free(checks);
    free(items);
    free(line);
    /* Every line answered; the status says whether all were valid. */
    return n_invalid || n_error ? PK_EXIT_INVALID : PK_EXIT_OK;
}
