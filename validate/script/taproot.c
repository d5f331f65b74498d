/* Taproot (BIP341): the leaf and branch hashes, the commitment of the
 * output key to the internal key and the script tree, and tapscript's
 * OP_SUCCESSx (BIP342). */
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <string.h>

#include "powkit/sha256.h"
#include "powkit/util.h"
#include "script_internal.h"

static void tagged_init(pk_sha256_ctx *h, const char *tag)
{
    uint8_t th[32];
    pk_sha256(tag, strlen(tag), th);
    pk_sha256_init(h);
    pk_sha256_update(h, th, 32);
    pk_sha256_update(h, th, 32);
}

void pk_scr_tapleaf_hash(uint8_t leaf_version, const uint8_t *script, size_t len, uint8_t out[32])
{
    pk_sha256_ctx h;
    uint8_t cs[9];
    tagged_init(&h, "TapLeaf");
    pk_sha256_update(&h, &leaf_version, 1);
    pk_sha256_update(&h, cs, pk_compact_put(cs, len));
    pk_sha256_update(&h, script, len);
    pk_sha256_final(&h, out);
}

int pk_scr_taproot_commitment(const uint8_t *control, size_t control_len, const uint8_t program[32],
                              const uint8_t tapleaf[32])
{
    uint8_t k[32];
    memcpy(k, tapleaf, 32);
    size_t path = (control_len - 33) / 32;
    for (size_t i = 0; i < path; i++) {
        const uint8_t *node = control + 33 + 32 * i;
        pk_sha256_ctx h;
        tagged_init(&h, "TapBranch");
        /* the two children in lexicographic order */
        if (memcmp(k, node, 32) < 0) {
            pk_sha256_update(&h, k, 32);
            pk_sha256_update(&h, node, 32);
        } else {
            pk_sha256_update(&h, node, 32);
            pk_sha256_update(&h, k, 32);
        }
        pk_sha256_final(&h, k);
    }
    uint8_t tweak[32];
    pk_sha256_ctx h;
    tagged_init(&h, "TapTweak");
    pk_sha256_update(&h, control + 1, 32);
    pk_sha256_update(&h, k, 32);
    pk_sha256_final(&h, tweak);
    secp256k1_xonly_pubkey p;
    if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, &p, control + 1))
        return 0;
    return secp256k1_xonly_pubkey_tweak_add_check(secp256k1_context_static, program, control[0] & 1, &p, tweak);
}

int pk_scr_is_op_success(uint8_t op)
{
    return op == 80 || op == 98 || (op >= 126 && op <= 129) || (op >= 131 && op <= 134) || (op >= 137 && op <= 138) ||
           (op >= 141 && op <= 142) || (op >= 149 && op <= 153) || (op >= 187 && op <= 254);
}
