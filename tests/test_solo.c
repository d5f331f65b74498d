/* Solo mining: address vectors (BIP173, BIP350), coinbase and commitment
 * bytes, and the whole flow against a real bcoin regtest node. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "powkit/address.h"
#include "powkit/coinbase.h"
#include "powkit/log.h"
#include "powkit/miner.h"
#include "powkit/util.h"
#include "powkit/validate.h"
#include "../kernels/sha256_internal.h"
#include "bcoin_node.h"


/* ---- addresses ---- */

static void script_hex(const char *addr, pk_chain chain, char *out)
{
    uint8_t s[PK_SCRIPT_MAX];
    size_t n;
    char err[300];
    if (pk_address_to_script(addr, chain, s, &n, err, sizeof err))
        snprintf(out, 200, "ERR %.190s", err);
    else
        pk_hex_encode(s, n, out);
}

static pk_chain chain_of(const char *addr)
{
    return (addr[0] == 't' || addr[0] == 'T') ? PK_CHAIN_TEST : PK_CHAIN_MAIN;
}

Test(address, bip350_valid_and_bip173_v0)
{
    static const char *v[][2] = {
        {"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"},
        {"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
         "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"},
        {"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
         "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"},
        {"BC1SW50QGDZ25J", "6002751e"},
        {"bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"},
        {"tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
         "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"},
        {"tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
         "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"},
        {"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
         "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char got[200];
        script_hex(v[i][0], chain_of(v[i][0]), got);
        cr_assert_str_eq(got, v[i][1], "%s", v[i][0]);
    }
}

Test(address, bip350_and_bip173_invalid)
{
    static const char *bad[] = {
        "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
        "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
        "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
        "bc1pw5dgrnzv",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
        "bc1gmk9yu",
        /* BIP173's invalid addresses */
        "tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
        "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2",
        "bc1rw5uspcuh",
        "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7",
        "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
        /* BIP173's v1+ examples use Bech32: invalid since BIP350 */
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
        "BC1SW50QA3JX3S",
        "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int c = 0; c < 3; c++) {
            char got[200];
            script_hex(bad[i], (pk_chain)c, got);
            cr_assert(strncmp(got, "ERR", 3) == 0, "%s accepted on chain %d: %s", bad[i], c, got);
        }
    }
}

Test(address, bech32_checksum_vectors)
{
    static const char *b32[] = {"A12UEL5L", "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "?1ezyfcl"};
    static const char *b32m[] = {"A1LQFN3A", "a1lqfn3a",
        "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
        "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
        "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
        "split1checkupstagehandshakeupstreamerranterredcaperredlc445v", "?1v759aa"};
    static const char *bad[] = {"\x20" "1nwldj5", "\x7f" "1axkwrx", "\x80" "1eym55h",
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "de1lg7wt\xff", "A1G7SGD8", "10a06t8",
        "1qzzfhee", "qyrz8wqd2c9m", "1qyrz8wqd2c9m", "y1b0jsk6g", "lt1igcx5c0", "in1muywd", "mm1crxm3i",
        "au1s5cgom", "M1VUXWEZ", "16plkw9", "1p2gdwpf"};
    char hrp[84];
    uint8_t d[90];
    size_t n;
    for (size_t i = 0; i < sizeof b32 / sizeof b32[0]; i++)
        cr_assert_eq(pk_bech32_decode(b32[i], hrp, d, &n), PK_BECH32, "%s", b32[i]);
    for (size_t i = 0; i < sizeof b32m / sizeof b32m[0]; i++)
        cr_assert_eq(pk_bech32_decode(b32m[i], hrp, d, &n), PK_BECH32M, "%s", b32m[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(pk_bech32_decode(bad[i], hrp, d, &n), 0, "%s accepted", bad[i]);
}

Test(address, base58_and_chains)
{
    char got[200];
    /* The genesis coinbase's key hash, and a P2SH on mainnet. */
    script_hex("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", PK_CHAIN_MAIN, got);
    cr_assert_str_eq(got, "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac");
    script_hex("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", PK_CHAIN_MAIN, got);
    cr_assert_str_eq(got, "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87");
    script_hex("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", PK_CHAIN_TEST, got);
    cr_assert(strstr(got, "another network"), "%s", got);
    script_hex("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", PK_CHAIN_MAIN, got);
    cr_assert(strncmp(got, "ERR", 3) == 0, "bad checksum accepted");
    script_hex("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", PK_CHAIN_REGTEST, got);
    cr_assert(strstr(got, "another network"), "%s", got);
    script_hex("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", PK_CHAIN_REGTEST, got);
    cr_assert_str_eq(got, "0014751e76e8199196d454941c45d1b3a323f1433bd6");
}

/* ---- coinbase ---- */

Test(coinbase, bip34_heights)
{
    uint8_t b[9];
    char hex[19];
    struct { int64_t h; const char *want; } v[] = {
        {0, "00"}, {1, "51"}, {16, "60"}, {17, "0111"}, {127, "017f"}, {128, "028000"}, {255, "02ff00"},
        {256, "020001"}, {32767, "02ff7f"}, {32768, "03008000"}, {822528, "03008d0c"}, {8388608, "0400008000"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = pk_bip34_height(v[i].h, b);
        pk_hex_encode(b, n, hex);
        cr_assert_str_eq(hex, v[i].want, "height %lld", (long long)v[i].h);
    }
}

static json_t *template_json(int segwit, const char *dwc)
{
    /* Two transactions: a legacy one and a segwit one (its txid skips
     * marker, flag and witness). */
    const char *legacy = "0100000001" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                         "00000000" "00" "ffffffff" "01" "00e1f50500000000" "01" "51" "00000000";
    const char *sw = "0200000000010111111111111111111111111111111111111111111111111111111111111111110100000000fdffffff01e803000000000000"
                     "015101020102" "00000000";
    json_t *t = json_pack("{s:i, s:i, s:s, s:i, s:I, s:s, s:[{s:s},{s:s}], s:[s], s:s}", "height", 500, "version",
                          0x20000000, "bits", "207fffff", "curtime", 1700000000, "coinbasevalue",
                          (json_int_t)5000012345LL, "previousblockhash",
                          "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206", "transactions", "data",
                          legacy, "data", sw, "rules", segwit ? "!segwit" : "csv", "longpollid", "lp1");
    if (dwc)
        json_object_set_new(t, "default_witness_commitment", json_string(dwc));
    return t;
}

Test(coinbase, commitment_and_block_assembly)
{
    json_t *j = template_json(1, NULL);
    pk_gbt g;
    char err[256];
    cr_assert_eq(pk_gbt_parse(j, &g, err, sizeof err), 0, "%s", err);
    cr_assert_eq(g.ntx, 2);
    cr_assert(g.segwit);
    cr_assert_neq(memcmp(g.txid[1], g.wtxid[1], 32), 0, "segwit txid differs from wtxid");
    const uint8_t payout[] = {0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    pk_pool_job job;
    cr_assert_eq(pk_solo_job(&g, payout, sizeof payout, "powkit", &job, err, sizeof err), 0, "%s", err);
    /* The coinbase script: height 500 (02f401), 8-byte extranonce push, tag. */
    cr_assert_eq(job.coinb1[41], 2 + 1 + 1 + 8 + 1 + 6, "script length");
    cr_assert_eq(job.coinb1[42], 0x02);
    cr_assert_eq(job.coinb1[43], 0xf4);
    cr_assert_eq(job.coinb1[44], 0x01);
    cr_assert_eq(job.coinb1[45], 0x08);
    cr_assert_eq(job.coinb1_len, 46);
    cr_assert_eq(job.branch_len, 2, "three leaves: two levels");
    /* A whole block, mined under regtest rules, passes powkit's own checks. */
    pk_pool_work w;
    cr_assert_eq(pk_pool_work_init(&w, &job), 0);
    uint8_t header[80];
    uint64_t t;
    cr_assert_eq(pk_pool_work_next(&w, header, &t), 0);
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    for (uint32_t nonce = 0; pk_check_pow(header, &p, NULL); nonce++)
        pk_store_le32(header + 76, nonce);
    uint8_t en2[8];
    pk_pool_work_extranonce2(&w, t, en2);
    char *hex;
    cr_assert_eq(pk_solo_block_hex(&g, &job, header, en2, &hex), 0);
    size_t len = strlen(hex) / 2;
    uint8_t *blk = malloc(len);
    cr_assert_eq(pk_hex_decode(hex, blk, len), 0);
    pk_block b;
    pk_block_report rep;
    pk_verror e;
    cr_assert_eq(pk_block_verify(&b, blk, len, &p, &rep, &e), 0, "%s (%s)", e.msg, e.reason);
    cr_assert(rep.has_commitment);
    cr_assert_eq(b.ntx, 3);
    /* The payout carries the template's value. */
    const uint8_t *out0 = blk + b.tx[0].out_offset;
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value |= (uint64_t)out0[i] << (8 * i);
    cr_assert_eq(value, 5000012345ULL);
    pk_block_free(&b);
    free(blk);
    free(hex);

    /* Templates roll version bits 13-16 first (a version-lane group): the
     * sixth differs from the first in its version alone, and its block
     * passes the same checks. */
    cr_assert_eq(job.version_mask, PK_SOLO_VERSION_ROLL);
    uint8_t first[80], rolled[80];
    memcpy(first, header, 80);
    for (int k = 0; k < 5; k++)
        cr_assert_eq(pk_pool_work_next(&w, rolled, &t), 0);
    cr_assert_eq(t, 5);
    cr_assert_eq(memcmp(rolled + 4, first + 4, 72), 0, "the same but for the version");
    cr_assert_eq(pk_load_le32(rolled), (g.version & ~PK_SOLO_VERSION_ROLL) | 5u << 13);
    for (uint32_t nonce = 0; pk_check_pow(rolled, &p, NULL); nonce++)
        pk_store_le32(rolled + 76, nonce);
    pk_pool_work_extranonce2(&w, t, en2);
    cr_assert_eq(pk_solo_block_hex(&g, &job, rolled, en2, &hex), 0);
    len = strlen(hex) / 2;
    blk = malloc(len);
    cr_assert_eq(pk_hex_decode(hex, blk, len), 0);
    cr_assert_eq(pk_block_verify(&b, blk, len, &p, &rep, &e), 0, "%s (%s)", e.msg, e.reason);
    pk_block_free(&b);
    free(blk);
    free(hex);

    /* The node's default_witness_commitment must agree, or the template is refused. */
    pk_pool_job_free(&job);
    json_t *j2 = template_json(1, "6a24aa21a9ed0000000000000000000000000000000000000000000000000000000000000000");
    pk_gbt g2;
    cr_assert_eq(pk_gbt_parse(j2, &g2, err, sizeof err), 0);
    cr_assert_eq(pk_solo_job(&g2, payout, sizeof payout, NULL, &job, err, sizeof err), -1);
    cr_assert(strstr(err, "default_witness_commitment"), "%s", err);
    pk_gbt_free(&g2);
    pk_gbt_free(&g);
    json_decref(j);
    json_decref(j2);
}

Test(coinbase, bad_templates_are_refused)
{
    static const char *bad[] = {
        "{}",
        "{\"height\":1,\"version\":1,\"bits\":\"zz\",\"curtime\":1,\"coinbasevalue\":1,\"previousblockhash\":\"00\",\"transactions\":[]}",
        "{\"height\":1,\"version\":1,\"bits\":\"207fffff\",\"curtime\":1,\"coinbasevalue\":1,"
        "\"previousblockhash\":\"0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206\",\"transactions\":[{\"data\":\"0g\"}]}",
        "{\"height\":-1,\"version\":1,\"bits\":\"207fffff\",\"curtime\":1,\"coinbasevalue\":1,"
        "\"previousblockhash\":\"0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206\",\"transactions\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        pk_gbt g;
        char err[256] = "";
        cr_assert_eq(pk_gbt_parse(j, &g, err, sizeof err), -1, "case %zu", i);
        cr_assert_neq(err[0], 0);
        json_decref(j);
    }
}

/* A template from a hostile or broken node: each refused with its reason,
 * nothing read past the transaction's bytes (ASan watches the run). */
static void expect_refused(const char *field, json_t *value, const char *words)
{
    json_t *j = template_json(1, NULL);
    json_object_set_new(j, field, value);
    pk_gbt g;
    char err[256] = "";
    cr_assert_eq(pk_gbt_parse(j, &g, err, sizeof err), -1, "%s accepted", words);
    cr_assert(strstr(err, words), "'%s' lacks '%s'", err, words);
    json_decref(j);
}

static json_t *one_tx(const char *hex) { return json_pack("[{s:s}]", "data", hex); }

Test(coinbase, hostile_templates_are_refused)
{
    /* Segwit marker, one input, the null outpoint, then a script length
     * of 0xffffffffffffffc8: it used to wrap the walk and overrun the heap. */
    char crash[200];
    snprintf(crash, sizeof crash, "00000000000101%072d%s", 0, "ffc8ffffffffffffff");
    expect_refused("transactions", one_tx(crash), "template transaction 0 is malformed");
    /* The same length as a legacy transaction, a truncated one, a count
     * that cannot fit, a non-canonical CompactSize, trailing bytes. */
    expect_refused("transactions", one_tx("0100000001"), "malformed");
    expect_refused("transactions", one_tx("01000000fd0100"), "malformed");
    expect_refused("transactions", one_tx("01000000ff0000000000000001"), "malformed");
    char trailing[300];
    snprintf(trailing, sizeof trailing, "0100000001%072d00ffffffff0000000000" "00", 0);
    expect_refused("transactions", one_tx(trailing), "after the transaction");
    /* Money that cannot exist, and heights BIP34 cannot write. */
    expect_refused("coinbasevalue", json_integer(2100000000000001ll), "more than 21,000,000 BTC");
    expect_refused("coinbasevalue", json_integer(INT64_MAX), "more than 21,000,000 BTC");
    expect_refused("coinbasevalue", json_integer(-1), "coinbasevalue");
    expect_refused("height", json_integer(0x80000000ll), "not a block height");
    expect_refused("version", json_integer(-5), "32-bit");
    expect_refused("curtime", json_integer(1ll << 40), "32-bit");
    /* The largest real value is taken. */
    json_t *j = template_json(1, NULL);
    json_object_set_new(j, "coinbasevalue", json_integer(2100000000000000ll));
    pk_gbt g;
    char err[256];
    cr_assert_eq(pk_gbt_parse(j, &g, err, sizeof err), 0, "%s", err);
    pk_gbt_free(&g);
    json_decref(j);
}

/* ---- against a real bcoin regtest node ---- */

typedef struct run {
    pk_miner *m;
    pthread_t th;
    int rc;
} run;

static void *run_thread(void *a)
{
    run *r = a;
    r->rc = pk_miner_run(r->m);
    return NULL;
}

static const char *PAYOUT = "0014751e76e8199196d454941c45d1b3a323f1433bd6";

static int mine_blocks(node_proc *np, unsigned n, const char *tag, char *dir_out)
{
    char dir[] = "/tmp/powkit-blocks-XXXXXX";
    cr_assert(mkdtemp(dir));
    if (dir_out)
        strcpy(dir_out, dir);
    pk_miner_opts o = {.threads = 1, .quiet = 1};
    o.node = (pk_node_opts){.url = np->url, .user = "x", .pass = "powkit-test",
                            .payout_script_hex = PAYOUT, .coinbase_tag = tag, .blocks_dir = dir,
                            .max_blocks = n, .retry_min_ms = 200};
    run r = {0};
    char err[300];
    cr_assert_eq(pk_miner_new(&o, &r.m, err, sizeof err), 0, "%s", err);
    pthread_create(&r.th, NULL, run_thread, &r);
    pthread_join(r.th, NULL);
    pk_miner_stats ms;
    pk_miner_get_stats(r.m, &ms);
    pk_miner_free(r.m);
    cr_assert_eq(r.rc, 0);
    return (int)ms.blocks_accepted;
}

/* Every block from `from` up: on the best chain, paying PAYOUT the
 * template's value, with the right BIP34 height; returns how many had a
 * witness commitment, and checks each raw block with powkit's validator. */
static int check_chain(node_proc *np, int64_t from, int64_t to)
{
    int commitments = 0;
    pk_chain_params p;
    pk_chain_params_init(&p, PK_CHAIN_REGTEST);
    for (int64_t h = from; h <= to; h++) {
        json_t *hash = call(np, "getblockhash", json_pack("[I]", (json_int_t)h));
        json_t *blk = call(np, "getblock", json_pack("[O,b,b]", hash, 1, 1));
        cr_assert_eq(json_integer_value(json_object_get(blk, "height")), h);
        cr_assert_gt(json_integer_value(json_object_get(blk, "confirmations")), 0, "not on the best chain");
        json_t *cb = json_array_get(json_object_get(blk, "tx"), 0);
        json_t *vout0 = json_array_get(json_object_get(cb, "vout"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(vout0, "scriptPubKey"), "hex")), PAYOUT);
        /* Regtest halves the 50 BTC subsidy every 150 blocks; no fees here. */
        double want_btc = (double)(5000000000LL >> (h / 150)) / 1e8;
        cr_assert_float_eq(json_number_value(json_object_get(vout0, "value")), want_btc, 1e-9,
                           "height %lld", (long long)h);
        const char *script = json_string_value(json_object_get(json_array_get(json_object_get(cb, "vin"), 0), "coinbase"));
        uint8_t enc[9];
        char want[19];
        pk_hex_encode(enc, pk_bip34_height(h, enc), want);
        cr_assert(strncmp(script, want, strlen(want)) == 0, "BIP34 at %lld: %s", (long long)h, script);
        json_t *raw = call(np, "getblock", json_pack("[O,b]", hash, 0));
        size_t len = json_string_length(raw) / 2;
        uint8_t *bytes = malloc(len);
        cr_assert_eq(pk_hex_decode(json_string_value(raw), bytes, len), 0);
        pk_block b;
        pk_block_report rep;
        pk_verror e;
        cr_assert_eq(pk_block_verify(&b, bytes, len, &p, &rep, &e), 0, "height %lld: %s", (long long)h, e.msg);
        commitments += rep.has_commitment;
        pk_block_free(&b);
        free(bytes);
        json_decref(raw);
        json_decref(blk);
        json_decref(hash);
    }
    return commitments;
}

static void quiet(void) { pk_log_set_level(getenv("PK_TEST_LOG") ? PK_LOG_DEBUG : PK_LOG_ERROR); }
TestSuite(bcoin, .init = quiet, .timeout = 300);

Test(bcoin, mines_blocks_that_the_node_accepts)
{
    node_proc np;
    node_start(&np);
    int64_t h0 = height_of(&np);
    char dir[64];
    cr_assert_eq(mine_blocks(&np, 6, "powkit-test", dir), 6);
    int64_t h1 = height_of(&np);
    cr_assert_eq(h1, h0 + 6);
    check_chain(&np, h0 + 1, h1);
    /* Every block went to disk before it was submitted. */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c accepted", dir);
    FILE *f = popen(cmd, "r");
    int files = 0;
    cr_assert_eq(fscanf(f, "%d", &files), 1);
    pclose(f);
    cr_assert_eq(files, 6);
    node_stop(&np);
}

Test(bcoin, mines_past_segwit_activation_with_commitments, .timeout = 600)
{
    node_proc np;
    node_start(&np);
    /* bcoin's own miner signals the deployment; stop just short of 432. */
    json_t *r = call(&np, "generatetoaddress", json_pack("[i,s]", 429, np.addr));
    json_decref(r);
    cr_assert_eq(height_of(&np), 429);
    cr_assert_eq(mine_blocks(&np, 8, NULL, NULL), 8);
    cr_assert_eq(height_of(&np), 437);
    json_t *tpl = call(&np, "getblocktemplate", json_pack("[{s:[s]}]", "rules", "segwit"));
    int active = 0;
    size_t i;
    json_t *rule;
    json_array_foreach(json_object_get(tpl, "rules"), i, rule)
        active |= strcmp(json_string_value(rule), "!segwit") == 0 || strcmp(json_string_value(rule), "segwit") == 0;
    json_decref(tpl);
    cr_assert(active, "segwit is active by height 437");
    int commitments = check_chain(&np, 430, 437);
    cr_assert_geq(commitments, 5, "blocks after activation carry the witness commitment");
    node_stop(&np);
}

/* The node source alone (no devices): a block from someone else must reach
 * it through the long poll, not the periodic refresh. */
typedef struct lp_ctx {
    uv_loop_t loop;
    pk_node *node;
    uv_async_t stop;
} lp_ctx;

static void lp_stop(uv_async_t *a)
{
    lp_ctx *c = a->data;
    pk_node_close(c->node, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *lp_thread(void *arg)
{
    lp_ctx *c = arg;
    pk_node_start(c->node);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return NULL;
}

Test(bcoin, long_poll_brings_a_new_block_within_a_second)
{
    node_proc np;
    node_start(&np);
    lp_ctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    char dir[] = "/tmp/powkit-lp-XXXXXX";
    cr_assert(mkdtemp(dir));
    pk_node_opts o = {.url = np.url, .user = "x", .pass = "powkit-test", .payout_script_hex = PAYOUT,
                      .blocks_dir = dir, .refresh_s = 3600};
    char err[300];
    cr_assert_eq(pk_node_new(&c.loop, &o, NULL, &c.node, err, sizeof err), 0, "%s", err);
    uv_async_init(&c.loop, &c.stop, lp_stop);
    c.stop.data = &c;
    pthread_t th;
    pthread_create(&th, NULL, lp_thread, &c);
    pk_node_stats st;
    for (int i = 0; i < 200; i++) {
        pk_node_get_stats(c.node, &st);
        if (st.templates >= 1)
            break;
        usleep(20000);
    }
    cr_assert_eq(st.templates, 1);
    int64_t before = st.height;
    usleep(300000); /* the long poll is now waiting at the node */
    double t0 = pk_now();
    json_decref(call(&np, "generatetoaddress", json_pack("[i,s]", 1, np.addr)));
    while (pk_now() - t0 < 1.0) {
        pk_node_get_stats(c.node, &st);
        if (st.height == before + 1)
            break;
        usleep(2000);
    }
    double took = pk_now() - t0;
    cr_assert_eq(st.height, before + 1, "no new template within a second");
    cr_log_info("new template %.1f ms after generatetoaddress was sent", took * 1e3);
    uv_async_send(&c.stop);
    pthread_join(th, NULL);
    uv_loop_close(&c.loop);
    node_stop(&np);
}

static int run_expecting(node_proc *np, const char *user, const char *address)
{
    pk_miner_opts o = {.threads = 1, .quiet = 1};
    o.node = (pk_node_opts){.url = np->url, .user = user, .pass = "powkit-test", .address = address,
                            .blocks_dir = "/tmp", .retry_min_ms = 100};
    o.duration_s = 20;
    run r = {0};
    char err[300];
    cr_assert_eq(pk_miner_new(&o, &r.m, err, sizeof err), 0, "%s", err);
    pthread_create(&r.th, NULL, run_thread, &r);
    pthread_join(r.th, NULL);
    pk_miner_stats ms;
    pk_miner_get_stats(r.m, &ms);
    pk_miner_free(r.m);
    cr_assert_eq(ms.blocks_found, 0, "nothing may be mined");
    return r.rc;
}

Test(bcoin, wrong_chain_address_and_bad_credentials_are_refused)
{
    node_proc np;
    node_start(&np);
    int64_t h0 = height_of(&np);
    /* A mainnet address on a regtest node. */
    double t0 = pk_now();
    cr_assert_eq(run_expecting(&np, "x", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), 2);
    cr_assert_lt(pk_now() - t0, 10, "refusal must be prompt, not after the duration");
    /* bcoin checks the API key (the password); a wrong one is a 401. */
    pk_miner_opts o = {.threads = 1, .quiet = 1};
    o.node = (pk_node_opts){.url = np.url, .user = "x", .pass = "wrong", .payout_script_hex = PAYOUT,
                            .blocks_dir = "/tmp"};
    o.duration_s = 20;
    run r = {0};
    char err[300];
    cr_assert_eq(pk_miner_new(&o, &r.m, err, sizeof err), 0, "%s", err);
    t0 = pk_now();
    pthread_create(&r.th, NULL, run_thread, &r);
    pthread_join(r.th, NULL);
    pk_miner_free(r.m);
    cr_assert_eq(r.rc, 2);
    cr_assert_lt(pk_now() - t0, 10);
    cr_assert_eq(height_of(&np), h0);
    node_stop(&np);
}

Test(bcoin, a_saved_block_from_an_earlier_run_is_submitted)
{
    node_proc np;
    node_start(&np);
    /* Mine one block into a directory, then make it look unconfirmed:
     * a fresh node has never seen it. */
    char dir[64];
    cr_assert_eq(mine_blocks(&np, 1, NULL, dir), 1);
    node_stop(&np);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "cd %s && for f in *.accepted; do mv \"$f\" \"${f%%.accepted}\"; done", dir);
    cr_assert_eq(system(cmd), 0);
    node_start(&np);
    cr_assert_eq(height_of(&np), 0);
    pk_miner_opts o = {.threads = 1, .quiet = 1, .duration_s = 3};
    o.node = (pk_node_opts){.url = np.url, .user = "x", .pass = "powkit-test", .payout_script_hex = PAYOUT,
                            .blocks_dir = dir, .max_blocks = 1, .retry_min_ms = 100};
    run r = {0};
    char err[300];
    cr_assert_eq(pk_miner_new(&o, &r.m, err, sizeof err), 0, "%s", err);
    pthread_create(&r.th, NULL, run_thread, &r);
    pthread_join(r.th, NULL);
    pk_miner_free(r.m);
    cr_assert_geq(height_of(&np), 1, "the saved block reached the node");
    node_stop(&np);
}

Test(bcoin, unreachable_node_is_retried_without_crash)
{
    node_proc np = {0};
    np.port = bcoin_free_port();
    snprintf(np.url, sizeof np.url, "http://127.0.0.1:%d", np.port);
    pk_miner_opts o = {.threads = 1, .quiet = 1, .duration_s = 1.5};
    o.node = (pk_node_opts){.url = np.url, .user = "x", .pass = "y", .payout_script_hex = PAYOUT,
                            .blocks_dir = "/tmp", .retry_min_ms = 100};
    run r = {0};
    char err[300];
    cr_assert_eq(pk_miner_new(&o, &r.m, err, sizeof err), 0, "%s", err);
    pthread_create(&r.th, NULL, run_thread, &r);
    pthread_join(r.th, NULL);
    pk_miner_free(r.m);
    cr_assert_eq(r.rc, 0, "a node that is down is waited for, not fatal");
}
