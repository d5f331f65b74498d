/* Header chains: the first byte picks the chain and options, the next 8
 * the start height and the testnet start bits; the rest are 80-byte
 * headers, and as 84-byte retarget records. */
#include <string.h>

#include "powkit/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    pk_chain_params p;
    pk_chain_params_init(&p, (pk_chain)(data[0] % 3));
    pk_headers_opts o;
    uint32_t h, bits;
    memcpy(&h, data + 1, 4);
    memcpy(&bits, data + 5, 4);
    o.start_height = (int64_t)(h % 2000000);
    o.start_bits = data[0] & 4 ? bits : 0;
    const uint8_t *hd = data + 9;
    size_t n = size - 9;
    pk_headers_report rep;
    pk_verror e;
    pk_headers_verify_opts(hd, n / 80, &o, &p, &rep, &e);
    uint64_t checked;
    pk_retargets_verify(hd, n / 84, &p, &checked, &e);
    int64_t t1, t2;
    if (n >= 16) {
        memcpy(&t1, hd, 8);
        memcpy(&t2, hd + 8, 8);
        pk_next_bits(bits, t1, t2, &p);
    }
    return 0;
}
