/* Verify a Bitcoin block with libpowkit: proof of work, merkle root and
 * the rest of the block's structure, then its signatures (the spends that
 * can be checked without the outputs they spend: P2PKH and P2SH ones).
 *
 *   verify_block BLOCK.raw
 *
 * Build against an installed powkit:
 *   cc verify_block.c $(pkg-config --cflags --libs powkit) -o verify_block
 * or with CMake: find_package(powkit) and link powkit::powkit.
 * Exit status: 0 valid, 1 invalid, 2 usage or input error. */
#include <stdio.h>
#include <stdlib.h>

#include <powkit/sigcheck.h>
#include <powkit/validate.h>
#include <powkit/verify.h>
#include <powkit/version.h>

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void print_hash(const char *label, const uint8_t h[32])
{
    printf("%s", label);
    for (int i = 31; i >= 0; i--) /* block hashes are shown byte-reversed */
        printf("%02x", h[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s BLOCK.raw\n", argv[0]);
        return 2;
    }
    size_t len;
    uint8_t *data = read_file(argv[1], &len);
    if (!data) {
        perror(argv[1]);
        return 2;
    }
    printf("libpowkit %s\n", pk_version());

    pk_chain_params params;
    pk_chain_params_init(&params, PK_CHAIN_MAIN);
    pk_block block;
    pk_block_report rep;
    pk_verror err;
    int rc = pk_block_verify(&block, data, len, &params, &rep, &err);
    print_hash("block   ", rep.hash);
    printf("pow     %s\nmerkle  %s\n", rep.pow_ok ? "ok" : "FAILED", rep.merkle_ok ? "ok" : "FAILED");
    if (rc != 0) {
        printf("INVALID %s: %s\n", err.reason ? err.reason : pk_vcode_name(err.code), err.msg);
        pk_block_free(&block);
        free(data);
        return err.code == PK_V_TRUNCATED || err.code == PK_V_EMPTY ? 2 : 1;
    }
    printf("txs     %zu\n", block.ntx);

    pk_verifier *v = pk_verifier_new(0); /* 0: one thread per CPU */
    if (!v) {
        fprintf(stderr, "cannot start the signature verifier\n");
        pk_block_free(&block);
        free(data);
        return 2;
    }
    pk_sig_report sr;
    int sig_rc = pk_block_verify_sigs(&block, NULL, v, &sr);
    if (sig_rc == -2) {
        printf("sigs    not checked: %s\n", sr.error);
    } else {
        printf("sigs    %llu signatures in %llu inputs: %llu valid, %llu failed, %llu not checked\n",
               (unsigned long long)sr.signatures, (unsigned long long)sr.inputs,
               (unsigned long long)sr.valid_inputs, (unsigned long long)sr.failed_inputs,
               (unsigned long long)sr.not_checked);
    }
    printf("%s\n", sig_rc == 0 ? "VALID" : sig_rc == -1 ? "INVALID" : "VALID (signatures not checked)");
    pk_sig_report_free(&sr);
    pk_verifier_free(v);
    pk_block_free(&block);
    free(data);
    return sig_rc == -1 ? 1 : 0;
}
