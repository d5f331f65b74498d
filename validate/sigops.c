/* Signature operation counts (see include/powkit/sigops.h). */
#include "powkit/sighash.h"
#include "powkit/sigops.h"

#define OP_1 0x51
#define OP_16 0x60
#define OP_CHECKSIG 0xac
#define OP_CHECKSIGVERIFY 0xad
#define OP_CHECKMULTISIG 0xae
#define OP_CHECKMULTISIGVERIFY 0xaf
#define MAX_PUBKEYS_PER_MULTISIG 20

unsigned pk_script_sigops(const uint8_t *s, size_t len, int accurate)
{
    unsigned n = 0;
    size_t pos = 0;
    uint8_t op, last = 0xff; /* OP_INVALIDOPCODE */
    while (pk_script_op(s, len, &pos, &op)) {
        if (op == OP_CHECKSIG || op == OP_CHECKSIGVERIFY)
            n++;
        else if (op == OP_CHECKMULTISIG || op == OP_CHECKMULTISIGVERIFY)
            n += accurate && last >= OP_1 && last <= OP_16 ? (unsigned)(last - OP_1 + 1) : MAX_PUBKEYS_PER_MULTISIG;
        last = op;
    }
    return n;
}

uint64_t pk_tx_legacy_sigops(const pk_block *b, const pk_tx *t)
{
    const uint8_t *d = b->data;
    uint64_t n = 0;
    size_t pos = t->first_in_offset;
    for (uint32_t i = 0; i < t->n_in; i++) {
        pos += 36;
        size_t l = (size_t)pk_compact_get(d, &pos);
        n += pk_script_sigops(d + pos, l, 0);
        pos += l + 4;
    }
    pos = t->out_offset;
    for (uint32_t i = 0; i < t->n_out; i++) {
        pos += 8;
        size_t l = (size_t)pk_compact_get(d, &pos);
        n += pk_script_sigops(d + pos, l, 0);
        pos += l;
    }
    return n;
}

uint64_t pk_block_legacy_sigops(const pk_block *b)
{
    uint64_t n = 0;
    for (size_t i = 0; i < b->ntx; i++)
        n += pk_tx_legacy_sigops(b, &b->tx[i]);
    return n;
}

int pk_script_last_push(const uint8_t *s, size_t len, const uint8_t **data, size_t *dlen)
{
    size_t pos = 0;
    uint8_t op;
    *data = s;
    *dlen = 0;
    while (pos < len) {
        size_t start = pos;
        if (!pk_script_op(s, len, &pos, &op) || op > OP_16)
            return -1;
        if (op <= 0x4e) {
            size_t hdr = op < 0x4c ? 1 : op == 0x4c ? 2 : op == 0x4d ? 3 : 5;
            *data = s + start + hdr;
            *dlen = pos - start - hdr;
        } else {
            *dlen = 0; /* OP_1NEGATE, OP_RESERVED, OP_1..OP_16 carry no data */
        }
    }
    return 0;
}
