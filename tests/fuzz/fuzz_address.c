/* Payout addresses: Base58Check and Bech32/Bech32m, for every chain. */
#include <stdlib.h>
#include <string.h>

#include "powkit/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    for (int c = 0; c < 3; c++) {
        uint8_t script[PK_SCRIPT_MAX];
        size_t len;
        char err[300];
        pk_address_to_script(s, (pk_chain)c, script, &len, err, sizeof err);
    }
    free(s);
    return 0;
}
