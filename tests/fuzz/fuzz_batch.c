/* BIP340 batches against single verification: the checks an input makes,
 * repeated to a run long enough for batches (128 to 255 checks on one
 * thread: a batch with repeated signatures and keys), through a verifier
 * with batches and one without; any different answer or reason is a crash.
 * Input: a length byte, then per check a message-length byte (mod 41), a
 * 32-byte key, a 64-byte signature and the message. */
#include <stdlib.h>
#include <string.h>

#include "powkit/log.h"
#include "powkit/verify.h"

static pk_verifier *with, *without;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    pk_log_set_level((pk_log_level)-1); /* nothing */
    with = pk_verifier_new(1);
    without = pk_verifier_new(1);
    if (!with || !without)
        abort();
    /* powkit's engine batches; where IFMA is missing, the portable one */
    if (pk_verifier_engine(with) == PK_ENGINE_LIBSECP256K1 && pk_verifier_set_engine(with, PK_ENGINE_PORTABLE))
        abort();
    pk_verifier_set_batch(without, 0);
    if (pk_verifier_set_engine(without, PK_ENGINE_LIBSECP256K1))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAX = 16 };
    static pk_sig_check one[MAX], a[256], b[256];
    if (size < 1)
        return 0;
    size_t total = 128 + data[0] % 128, k = 0, at = 1;
    while (k < MAX && at < size) {
        size_t ml = data[at] % 41;
        if (size - at - 1 < 96 + ml)
            break;
        pk_sig_check *c = &one[k++];
        memset(c, 0, sizeof *c);
        c->type = PK_SIG_SCHNORR, c->pubkey_len = 32, c->sig_len = 64, c->msg_len = (uint16_t)ml;
        memcpy(c->pubkey, data + at + 1, 32);
        memcpy(c->sig, data + at + 33, 64);
        memcpy(c->msg, data + at + 97, ml);
        at += 97 + ml;
    }
    if (!k)
        return 0;
    for (size_t i = 0; i < total; i++)
        a[i] = one[i % k];
    memcpy(b, a, total * sizeof *a);
    pk_verifier_run(with, a, total, 0);
    pk_verifier_run(without, b, total, 0);
    for (size_t i = 0; i < total; i++)
        if (a[i].valid != b[i].valid || (a[i].reason == NULL) != (b[i].reason == NULL) ||
            (a[i].reason && strcmp(a[i].reason, b[i].reason) != 0))
            abort();
    return 0;
}
