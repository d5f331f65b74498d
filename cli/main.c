/* powkit: the command line.  Each command lives in its own file in cli/;
 * this is the table of them and the top-level help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "powkit/kernel.h"

/* POWKIT_DISABLE names kernels, layouts and engines; a word that is none
 * of them (a typo) would switch nothing off without a word said. */
static void check_disable(void)
{
    const char *list = getenv("POWKIT_DISABLE");
    static const char *other[] = {"shani", "avx2", "avx512", "avx512+shani", "armsha", "neon", "ifma", "portable"};
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        int known = len == 0;
        for (size_t i = 0; !known && i < pk_kernels_count; i++) {
            const char *name = pk_kernels_all[i]->name;
            size_t fam = strcspn(name, ":");
            known = (strlen(name) == len && strncmp(name, p, len) == 0) || (fam == len && strncmp(name, p, len) == 0);
        }
        for (size_t i = 0; !known && i < sizeof other / sizeof other[0]; i++)
            known = strlen(other[i]) == len && strncmp(other[i], p, len) == 0;
        if (!known)
            fprintf(stderr, "powkit: POWKIT_DISABLE: '%.*s' is no kernel, layout or engine here: ignored\n", (int)len,
                    p);
        p += len + (p[len] == ',');
    }
}

const pk_command pk_commands[] = {
    {"mine", pk_cmd_mine, pk_usage_mine, "mine on pools (-o URL -u USER -p PASS), a node (--node), or the offline job"},
    {"proxy", pk_cmd_proxy, pk_usage_proxy, "a Stratum server for a farm's rigs over one pool connection"},
    {"bench", pk_cmd_bench, pk_usage_bench, "every CPU kernel and layout and OpenCL device on the offline job"},
    {"verify-block", pk_cmd_verify_block, pk_usage_verify_block,
     "check a block: proof of work, merkle root, witness, structure, signatures"},
    {"verify-chain", pk_cmd_verify_chain, pk_usage_verify_chain,
     "validate a chain from genesis with its own UTXO set, from a node (--node)"},
    {"verify-headers", pk_cmd_verify_headers, pk_usage_verify_headers, "check a file of consecutive 80-byte headers"},
    {"verify-sigs", pk_cmd_verify_sigs, pk_usage_verify_sigs, "verify JSON lines of ECDSA and Schnorr checks"},
    {"devices", pk_cmd_devices, pk_usage_devices, "the CPU's kernels and every OpenCL device"},
    {"selftest", pk_cmd_selftest, pk_usage_selftest, "check every kernel against the reference and show the pick"},
    {"version", pk_cmd_version, pk_usage_version, "version, commit, compiler, kernels, OpenCL loader, libsecp256k1"},
    {NULL, NULL, NULL, NULL},
};

const pk_command *pk_command_find(const char *name)
{
    for (const pk_command *c = pk_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "powkit %s: Bitcoin proof-of-work toolkit\n"
            "\n"
            "usage: powkit COMMAND [options]     (powkit COMMAND --help, or powkit help COMMAND)\n"
            "\n"
            "commands:\n",
            POWKIT_VERSION);
    for (const pk_command *c = pk_commands; c->name; c++)
        fprintf(f, "  %-15s %s\n", c->name, c->summary);
    fprintf(f, "\n"
               "environment:\n"
               "  POWKIT_DISABLE=shani,avx2,...  switch kernels, layouts or engines off (ref always stays)\n"
               "  POWKIT_ENGINE=NAME             the default signature engine\n"
               "  POWKIT_CACHE_DIR=DIR           where the kernel pick is cached\n"
               "\n"
               "exit status: 0 done or valid, 1 invalid (a check failed), 2 usage or input error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    check_disable();
    const pk_command *c = pk_command_find(cmd);
    if (c)
        return c->run(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
        return pk_cmd_version(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 3) {
            fprintf(stderr, "powkit help: unexpected argument '%s' (usage: powkit help [COMMAND])\n", argv[3]);
            return 2;
        }
        if (argc == 3) {
            const pk_command *h = pk_command_find(argv[2]);
            if (!h) {
                fprintf(stderr, "powkit help: unknown command '%s' (try 'powkit help')\n", argv[2]);
                return 2;
            }
            h->usage(stdout);
            return 0;
        }
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "powkit: unknown command '%s' (try 'powkit help')\n", cmd);
    return 2;
}
