/* The SIMD-lane mining kernel, written once over a small vector vocabulary
 * and included by each lane implementation (avx2.c, avx512.c), which
 * defines:
 *   V, LANES, GROUPS, SET1(x), ADD(a,b), ROTR(x,n), SHR(x,n), XOR3(a,b,c),
 *   CH(e,f,g), MAJ(a,b,c), BSWAP(x), LANE_INDEX() (0,1,2,... per lane),
 *   LE_MASK(x,t) (bitmask of lanes with x <= t, unsigned), SCAN_FN (name).
 *
 * Each lane hashes its own nonce.  GROUPS independent vectors of nonces are
 * interleaved round by round: one round is a chain of dependent operations
 * several cycles long, and a second chain beside it fills the ports that
 * the first leaves idle.  Schedule words are computed inside the rounds
 * that use them, for the same reason.
 *
 * Shortcuts: rounds 0-3 of hash 1 come from the job; message words that
 * are constants (the header's padding, hash 2's padding) are folded with K
 * once per job; hash 2 starts from a precomputed round 0 and stops after
 * round 60, which is all H7 needs, and rounds 57-60 skip the a path.
 */
#ifndef LANES
#error "lanes_impl.h is included by a lane kernel that defines its vector vocabulary"
#endif

#define BSIG0(x) XOR3(ROTR(x, 2), ROTR(x, 13), ROTR(x, 22))
#define BSIG1(x) XOR3(ROTR(x, 6), ROTR(x, 11), ROTR(x, 25))
#define SSIG0(x) XOR3(ROTR(x, 7), ROTR(x, 18), SHR(x, 3))
#define SSIG1(x) XOR3(ROTR(x, 17), ROTR(x, 19), SHR(x, 10))

#define FOR_GROUPS _Pragma("GCC unroll 4") for (int g = 0; g < GROUPS; g++)

/* Full round on every group: new e lands in d, new a in h (the caller
 * rotates the names).  KW(i, g) gives message word plus K. */
#define RND(a, b, c, d, e, f, g_, h, KW, i)                                          \
    FOR_GROUPS {                                                                     \
        V t1_ = ADD(ADD(h[g], BSIG1(e[g])), ADD(CH(e[g], f[g], g_[g]), KW(i, g)));   \
        d[g] = ADD(d[g], t1_);                                                       \
        h[g] = ADD(t1_, ADD(BSIG0(a[g]), MAJ(a[g], b[g], c[g])));                    \
    }
/* Round whose new a is never used: only the e path. */
#define RND_E(a, b, c, d, e, f, g_, h, KW, i)                                        \
    FOR_GROUPS {                                                                     \
        d[g] = ADD(d[g], ADD(ADD(h[g], BSIG1(e[g])), ADD(CH(e[g], f[g], g_[g]), KW(i, g)))); \
    }

#define RNDS8(i, KW)                                                                 \
    RND(sa, sb, sc, sd, se, sf, sg, sh, KW, (i) + 0)                                 \
    RND(sh, sa, sb, sc, sd, se, sf, sg, KW, (i) + 1)                                 \
    RND(sg, sh, sa, sb, sc, sd, se, sf, KW, (i) + 2)                                 \
    RND(sf, sg, sh, sa, sb, sc, sd, se, KW, (i) + 3)                                 \
    RND(se, sf, sg, sh, sa, sb, sc, sd, KW, (i) + 4)                                 \
    RND(sd, se, sf, sg, sh, sa, sb, sc, KW, (i) + 5)                                 \
    RND(sc, sd, se, sf, sg, sh, sa, sb, KW, (i) + 6)                                 \
    RND(sb, sc, sd, se, sf, sg, sh, sa, KW, (i) + 7)

/* Per-job scalars the schedule folds in. */
typedef struct lane_consts {
    uint32_t c1[18], c2[16]; /* K plus constant message words */
    uint32_t w16, w17, w18_c, w19_c, s0_w16, s0_w17;
} lane_consts;


/* Hash 1 schedule word i (18..63); w[3] holds the nonce word.  Words 4-15
 * are padding (0x80000000, zeros, 640) and 16, 17 are job constants. */
static inline __attribute__((always_inline)) V sched1(const V *w, int i, const lane_consts *k)
{
    switch (i) {
    case 18: return ADD(SET1(k->w18_c), SSIG0(w[3]));
    case 19: return ADD(SET1(k->w19_c), w[3]);
    case 20: return ADD(SSIG1(w[18]), SET1(0x80000000u));
    case 21: return SSIG1(w[19]);
    case 22: return ADD(SSIG1(w[20]), SET1(80 * 8));
    case 23: return ADD(SSIG1(w[21]), SET1(k->w16));
    case 24: return ADD(SSIG1(w[22]), SET1(k->w17));
    case 25: case 26: case 27: case 28: case 29:
        return ADD(SSIG1(w[i - 2]), w[i - 7]);
    case 30: return ADD(ADD(SSIG1(w[28]), w[23]), SET1(pk_ssig0(80 * 8)));
    case 31: return ADD(ADD(SSIG1(w[29]), w[24]), SET1(k->s0_w16 + 80 * 8));
    case 32: return ADD(ADD(SSIG1(w[30]), w[25]), SET1(k->s0_w17 + k->w16));
    case 33: return ADD(ADD(SSIG1(w[31]), w[26]), ADD(SSIG0(w[18]), SET1(k->w17)));
    default:
        return ADD(ADD(SSIG1(w[i - 2]), w[i - 7]), ADD(SSIG0(w[i - 15]), w[i - 16]));
    }
}

/* Hash 2 schedule word i (16..60); w[0..7] are hash 1's digest words and
 * words 8-15 the padding of a 32-byte message (0x80000000, zeros, 256). */
static inline __attribute__((always_inline)) V sched2(const V *w, int i)
{
    switch (i) {
    case 16: return ADD(SSIG0(w[1]), w[0]);
    case 17: return ADD(ADD(SSIG0(w[2]), w[1]), SET1(pk_ssig1(256)));
    case 18: case 19: case 20: case 21:
        return ADD(ADD(SSIG1(w[i - 2]), SSIG0(w[i - 15])), w[i - 16]);
    case 22: return ADD(ADD(SSIG1(w[20]), SSIG0(w[7])), ADD(w[6], SET1(256)));
    case 23: return ADD(ADD(SSIG1(w[21]), w[16]), ADD(w[7], SET1(pk_ssig0(0x80000000u))));
    case 24: return ADD(ADD(SSIG1(w[22]), w[17]), SET1(0x80000000u));
    case 25: case 26: case 27: case 28: case 29:
        return ADD(SSIG1(w[i - 2]), w[i - 7]);
    case 30: return ADD(ADD(SSIG1(w[28]), w[23]), SET1(pk_ssig0(256)));
    case 31: return ADD(ADD(SSIG1(w[29]), w[24]), ADD(SSIG0(w[16]), SET1(256)));
    default:
        return ADD(ADD(SSIG1(w[i - 2]), w[i - 7]), ADD(SSIG0(w[i - 15]), w[i - 16]));
    }
}

/* ---- General multi-buffer compression: LANES independent (state, block)
 * pairs at once, for hashing many messages (txids, merkle nodes).  No
 * mining shortcuts here: every message word is data. ---- */
#ifdef MULTI_FN
#define KWM(i, g) ADD(w[g][i], SET1(pk_sha256_k[i]))

static void MULTI_GROUP(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n)
{
    V w[1][64];
    V sa[1], sb[1], sc[1], sd[1], se[1], sf[1], sg[1], sh[1];
#ifdef GATHER_BLOCK_WORDS
    /* Transpose in with gathers: word i of every lane's block, and the
     * states from their array (lanes past n repeat the last one and are
     * not written back). */
    GATHER_BLOCK_WORDS(w[0], blocks, n);
    GATHER_STATES(sa[0], sb[0], sc[0], sd[0], se[0], sf[0], sg[0], sh[0], states, n);
    V in_a = sa[0], in_b = sb[0], in_c = sc[0], in_d = sd[0], in_e = se[0], in_f = sf[0], in_g = sg[0],
      in_h = sh[0];
#else
    uint32_t tw[16][LANES] __attribute__((aligned(64)));
    uint32_t ts[8][LANES] __attribute__((aligned(64)));
    /* Transpose in: lane l's word i to tw[i][l].  Missing lanes hash zeros
     * into a scratch state that is not written back. */
    for (size_t l = 0; l < LANES; l++) {
        for (int i = 0; i < 16; i++)
            tw[i][l] = l < n ? pk_load_be32(blocks[l] + 4 * i) : 0;
        for (int j = 0; j < 8; j++)
            ts[j][l] = l < n ? states[l][j] : 0;
    }
    for (int i = 0; i < 16; i++)
        w[0][i] = LOADA(tw[i]);
#endif
    for (int i = 16; i < 64; i++)
        w[0][i] = ADD(ADD(SSIG1(w[0][i - 2]), w[0][i - 7]), ADD(SSIG0(w[0][i - 15]), w[0][i - 16]));
#ifndef GATHER_BLOCK_WORDS
    sa[0] = LOADA(ts[0]), sb[0] = LOADA(ts[1]), sc[0] = LOADA(ts[2]), sd[0] = LOADA(ts[3]);
    se[0] = LOADA(ts[4]), sf[0] = LOADA(ts[5]), sg[0] = LOADA(ts[6]), sh[0] = LOADA(ts[7]);
#endif
#undef GROUPS
#define GROUPS 1
    RNDS8(0, KWM)
    RNDS8(8, KWM)
    RNDS8(16, KWM)
    RNDS8(24, KWM)
    RNDS8(32, KWM)
    RNDS8(40, KWM)
    RNDS8(48, KWM)
    RNDS8(56, KWM)
#ifdef GATHER_BLOCK_WORDS
    SCATTER_STATES(states, n, ADD(sa[0], in_a), ADD(sb[0], in_b), ADD(sc[0], in_c), ADD(sd[0], in_d),
                   ADD(se[0], in_e), ADD(sf[0], in_f), ADD(sg[0], in_g), ADD(sh[0], in_h));
#else
    STOREA(ts[0], ADD(sa[0], LOADA(ts[0])));
    STOREA(ts[1], ADD(sb[0], LOADA(ts[1])));
    STOREA(ts[2], ADD(sc[0], LOADA(ts[2])));
    STOREA(ts[3], ADD(sd[0], LOADA(ts[3])));
    STOREA(ts[4], ADD(se[0], LOADA(ts[4])));
    STOREA(ts[5], ADD(sf[0], LOADA(ts[5])));
    STOREA(ts[6], ADD(sg[0], LOADA(ts[6])));
    STOREA(ts[7], ADD(sh[0], LOADA(ts[7])));
    for (size_t l = 0; l < n; l++)
        for (int j = 0; j < 8; j++)
            states[l][j] = ts[j][l];
#endif
}

void MULTI_FN(uint32_t (*states)[8], const uint8_t *const *blocks, size_t n)
{
    for (; n > LANES; n -= LANES, states += LANES, blocks += LANES)
        MULTI_GROUP(states, blocks, LANES);
    MULTI_GROUP(states, blocks, n);
}
#endif

/* ---- Double SHA-256 of fixed-length messages laid side by side: 64
 * bytes (merkle nodes) and 80 (headers), LANES x D64_GROUPS per batch.
 * The second block of a 64-byte message is all padding, so its schedule
 * is one constant table (kp: K plus words); an 80-byte message's second
 * block has 4 data words and 12 constant ones.  The outer hash's message
 * is 32 bytes, so its words 8-15 are constants too (kp3) and sched2 folds
 * them into its schedule.  Groups interleave for the ports, as in the
 * mining kernel. ---- */
#ifdef D64_FN
#undef GROUPS
#define GROUPS D64_GROUPS
#define KWV(i, g) ADD(w[g][i], SET1(pk_sha256_k[i]))
#define KWP(i, g) SET1(kp[i])
#define KW3(i, g) ((i) >= 8 && (i) < 16 ? SET1(kp3[i]) : ADD(w[g][i], SET1(pk_sha256_k[i])))
#define RNDS64(KW)                                                                   \
    RNDS8(0, KW) RNDS8(8, KW) RNDS8(16, KW) RNDS8(24, KW)                            \
    RNDS8(32, KW) RNDS8(40, KW) RNDS8(48, KW) RNDS8(56, KW)
#define SET_IV(g)                                                                    \
    (sa[g] = SET1(pk_sha256_iv[0]), sb[g] = SET1(pk_sha256_iv[1]), sc[g] = SET1(pk_sha256_iv[2]), \
     sd[g] = SET1(pk_sha256_iv[3]), se[g] = SET1(pk_sha256_iv[4]), sf[g] = SET1(pk_sha256_iv[5]), \
     sg[g] = SET1(pk_sha256_iv[6]), sh[g] = SET1(pk_sha256_iv[7]))

/* Words first..first+count-1 of each of the group's messages (len bytes
 * apart) into w[first..]. */
static inline __attribute__((always_inline)) void fixed_load(V *w, const uint8_t *in, size_t len, int first,
                                                             int count)
{
#ifdef D64_LOAD
    D64_LOAD(w, in, len, first, count);
#else
    uint32_t t[16][LANES] __attribute__((aligned(64)));
    for (size_t l = 0; l < LANES; l++)
        for (int i = 0; i < count; i++)
            t[i][l] = pk_load_be32(in + len * l + 4 * (size_t)(first + i));
    for (int i = 0; i < count; i++)
        w[first + i] = LOADA(t[i]);
#endif
}

static inline __attribute__((always_inline)) void schedule(V *w)
{
    for (int i = 16; i < 64; i++)
        w[i] = ADD(ADD(SSIG1(w[i - 2]), w[i - 7]), ADD(SSIG0(w[i - 15]), w[i - 16]));
}

static inline __attribute__((always_inline)) void fixed_batch(uint8_t *out, const uint8_t *in, const size_t len,
                                                              const uint32_t kp[64], const uint32_t kp3[16])
{
    V w[GROUPS][64];
    V sa[GROUPS], sb[GROUPS], sc[GROUPS], sd[GROUPS], se[GROUPS], sf[GROUPS], sg[GROUPS], sh[GROUPS];
    V mid[GROUPS][8];
    for (int g = 0; g < GROUPS; g++) {
        fixed_load(w[g], in + len * LANES * (size_t)g, len, 0, 16);
        schedule(w[g]);
        SET_IV(g);
    }
    RNDS64(KWV)
    FOR_GROUPS {
        mid[g][0] = sa[g] = ADD(sa[g], SET1(pk_sha256_iv[0]));
        mid[g][1] = sb[g] = ADD(sb[g], SET1(pk_sha256_iv[1]));
        mid[g][2] = sc[g] = ADD(sc[g], SET1(pk_sha256_iv[2]));
        mid[g][3] = sd[g] = ADD(sd[g], SET1(pk_sha256_iv[3]));
        mid[g][4] = se[g] = ADD(se[g], SET1(pk_sha256_iv[4]));
        mid[g][5] = sf[g] = ADD(sf[g], SET1(pk_sha256_iv[5]));
        mid[g][6] = sg[g] = ADD(sg[g], SET1(pk_sha256_iv[6]));
        mid[g][7] = sh[g] = ADD(sh[g], SET1(pk_sha256_iv[7]));
    }
    if (len == 64) {
        RNDS64(KWP)
    } else { /* 80: four data words, then the padding of 640 bits */
        for (int g = 0; g < GROUPS; g++) {
            fixed_load(w[g], in + len * LANES * (size_t)g + 64, len, 0, 4);
            w[g][4] = SET1(0x80000000u);
            for (int i = 5; i < 15; i++)
                w[g][i] = SET1(0);
            w[g][15] = SET1(640);
            schedule(w[g]);
        }
        RNDS64(KWV)
    }
    for (int g = 0; g < GROUPS; g++) {
        /* The first hash is the outer hash's message. */
        w[g][0] = ADD(sa[g], mid[g][0]), w[g][1] = ADD(sb[g], mid[g][1]);
        w[g][2] = ADD(sc[g], mid[g][2]), w[g][3] = ADD(sd[g], mid[g][3]);
        w[g][4] = ADD(se[g], mid[g][4]), w[g][5] = ADD(sf[g], mid[g][5]);
        w[g][6] = ADD(sg[g], mid[g][6]), w[g][7] = ADD(sh[g], mid[g][7]);
        for (int i = 16; i < 64; i++)
            w[g][i] = sched2(w[g], i);
        SET_IV(g);
    }
    RNDS64(KW3)
    for (int g = 0; g < GROUPS; g++) {
        V h[8] = {ADD(sa[g], SET1(pk_sha256_iv[0])), ADD(sb[g], SET1(pk_sha256_iv[1])),
                  ADD(sc[g], SET1(pk_sha256_iv[2])), ADD(sd[g], SET1(pk_sha256_iv[3])),
                  ADD(se[g], SET1(pk_sha256_iv[4])), ADD(sf[g], SET1(pk_sha256_iv[5])),
                  ADD(sg[g], SET1(pk_sha256_iv[6])), ADD(sh[g], SET1(pk_sha256_iv[7]))};
        uint8_t *o = out + 32 * LANES * (size_t)g;
#ifdef D64_STORE
        D64_STORE(o, h);
#else
        uint32_t t[8][LANES] __attribute__((aligned(64)));
        for (int j = 0; j < 8; j++)
            STOREA(t[j], h[j]);
        for (size_t l = 0; l < LANES; l++)
            for (int j = 0; j < 8; j++)
                pk_store_be32(o + 32 * l + 4 * j, t[j][l]);
#endif
    }
}

/* K plus the schedule of the padding block of a 64-byte message, and K
 * plus the padding words of a 32-byte one. */
static void fixed_tables(uint32_t kp[64], uint32_t kp3[16])
{
    uint32_t wp[64] = {0x80000000u};
    wp[15] = 512;
    for (int i = 16; i < 64; i++)
        wp[i] = pk_ssig1(wp[i - 2]) + wp[i - 7] + pk_ssig0(wp[i - 15]) + wp[i - 16];
    for (int i = 0; i < 64; i++)
        kp[i] = pk_sha256_k[i] + wp[i];
    for (int i = 0; i < 16; i++)
        kp3[i] = pk_sha256_k[i];
    kp3[8] += 0x80000000u;
    kp3[15] += 256;
}

static size_t fixed_many(uint8_t *out, const uint8_t *in, size_t n, size_t len)
{
    uint32_t kp[64], kp3[16];
    fixed_tables(kp, kp3);
    size_t per = (size_t)LANES * GROUPS, done = 0;
    for (; n - done >= per; done += per) {
        if (len == 64)
            fixed_batch(out + 32 * done, in + 64 * done, 64, kp, kp3);
        else
            fixed_batch(out + 32 * done, in + 80 * done, 80, kp, kp3);
    }
    return done;
}

size_t D64_FN(uint8_t *out, const uint8_t *in, size_t n) { return fixed_many(out, in, n, 64); }
size_t D80_FN(uint8_t *out, const uint8_t *in, size_t n) { return fixed_many(out, in, n, 80); }
#endif
