/* The same arbitrary checks through every engine (libsecp256k1, powkit's
 * portable one, and the IFMA one where the CPU has it): any difference in
 * an answer or its reason is a crash.
 * Input: a type byte, then key, signature and message bytes. */
#include <stdlib.h>
#include <string.h>

#include "powkit/log.h"
#include "powkit/verify.h"

static pk_verifier *lib, *own[PK_ENGINE_COUNT];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    pk_log_set_level((pk_log_level)-1); /* nothing */
    lib = pk_verifier_new(1);
    if (!lib || pk_verifier_set_engine(lib, PK_ENGINE_LIBSECP256K1))
        abort();
    pk_verifier_set_batch(lib, 0); /* libsecp256k1 alone */
    for (int e = PK_ENGINE_PORTABLE; e < PK_ENGINE_COUNT; e++) {
        if (!pk_engine_available((pk_engine)e)) {
            if (e == PK_ENGINE_PORTABLE)
                abort(); /* always built, always runs */
            continue;
        }
        own[e] = pk_verifier_new(1);
        if (!own[e] || pk_verifier_set_engine(own[e], (pk_engine)e))
            abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    pk_sig_check c;
    memset(&c, 0, sizeof c);
    int schnorr = data[0] & 1;
    data++, size--;
    if (schnorr) {
        if (size < 96)
            return 0;
        c.type = PK_SIG_SCHNORR;
        c.pubkey_len = 32, c.sig_len = 64;
        memcpy(c.pubkey, data, 32);
        memcpy(c.sig, data + 32, 64);
        c.msg_len = (uint16_t)(size - 96 < PK_SIG_MSG_MAX ? size - 96 : PK_SIG_MSG_MAX);
        memcpy(c.msg, data + 96, c.msg_len);
    } else {
        /* key: 33 or 65 bytes by its first byte; then a DER length byte, DER, message */
        size_t kl = size && (data[0] == 4 || data[0] == 6 || data[0] == 7) ? 65 : 33;
        if (size < kl + 1 + 32)
            return 0;
        size_t sl = data[kl] % 74;
        if (size < kl + 1 + sl + 32)
            return 0;
        c.type = PK_SIG_ECDSA;
        c.flags = (uint8_t)(data[kl] >> 7); /* lax DER sometimes */
        memcpy(c.pubkey, data, kl);
        c.pubkey_len = (uint8_t)kl;
        memcpy(c.sig, data + kl + 1, sl);
        c.sig_len = (uint8_t)sl;
        memcpy(c.msg, data + kl + 1 + sl, 32);
        c.msg_len = 32;
    }
    pk_sig_check d = c;
    pk_sig_check_one(lib, &c);
    for (int e = PK_ENGINE_PORTABLE; e < PK_ENGINE_COUNT; e++) {
        if (!own[e])
            continue;
        pk_sig_check x = d;
        pk_sig_check_one(own[e], &x);
        if (c.valid != x.valid || (c.reason == NULL) != (x.reason == NULL) ||
            (c.reason && strcmp(c.reason, x.reason) != 0))
            abort();
    }
    return 0;
}
