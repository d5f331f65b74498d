#include <string.h>

#include "powkit/error.h"
#include "powkit/offline.h"

/* Mainnet block 822,528 (hash 000000000000000000001daacd23...4d97e93a). */
const uint8_t pk_offline_header[80] = {
    0x00, 0xe0, 0xff, 0x3f, 0x82, 0xf7, 0xaa, 0xcf, 0x60, 0xfa, 0xc3, 0x87, 0x3b, 0x0b, 0xea, 0xde,
    0x61, 0xd0, 0x70, 0x16, 0x39, 0x09, 0x0a, 0xe5, 0xf4, 0x78, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xac, 0xbc, 0x1b, 0x33, 0x81, 0xc6, 0x71, 0xb2, 0xb7, 0x75, 0x3b, 0xb2,
    0x25, 0x2d, 0x3e, 0xbd, 0x69, 0x00, 0x48, 0x6e, 0xc8, 0x15, 0x3c, 0xeb, 0x10, 0xe9, 0x54, 0xa8,
    0x6e, 0x3f, 0x9e, 0x14, 0x68, 0x78, 0x86, 0x65, 0xb3, 0xe8, 0x03, 0x17, 0xf5, 0x17, 0x16, 0x49,
};

static int offline_next(pk_source *base, pk_template *out)
{
    pk_offline_source *src = (pk_offline_source *)base;
    uint64_t seq = src->next_seq++;
    memcpy(out->header, src->header, 80);
    /* Template 0 is the real header.  Later ones roll four BIP320 version
     * bits (13-16), as a pool that grants version rolling lets a miner do,
     * then vary the merkle root, as a new extranonce would: 16 templates
     * in a row differ only in their version, a full group for version
     * lanes. */
    uint32_t version = (uint32_t)out->header[0] | (uint32_t)out->header[1] << 8 |
                       (uint32_t)out->header[2] << 16 | (uint32_t)out->header[3] << 24;
    version ^= (uint32_t)(seq % 16) << 13;
    for (int i = 0; i < 4; i++)
        out->header[i] = (uint8_t)(version >> (8 * i));
    for (int i = 0; i < 8; i++)
        out->header[36 + i] ^= (uint8_t)((seq / 16) >> (8 * i));
    memcpy(out->target, src->target, 32);
    out->job_id = 0; /* one job, forever */
    out->extra = seq;
    return PK_OK;
}

static void offline_share(pk_source *base, const pk_share *share)
{
    (void)share;
    atomic_fetch_add(&((pk_offline_source *)base)->shares, 1);
}

void pk_offline_source_init(pk_offline_source *src, const uint8_t *header, const uint8_t *target)
{
    memset(src, 0, sizeof *src);
    src->base.next_template = offline_next;
    src->base.on_share = offline_share;
    memcpy(src->header, header ? header : pk_offline_header, 80);
    if (target) {
        memcpy(src->target, target, 32);
    } else {
        memset(src->target, 0xff, 32);
        src->target[31] = src->target[30] = src->target[29] = 0;
    }
}
