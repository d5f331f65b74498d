/* One layout of the SIMD-lane mining scan, included once per layout by a
 * lane kernel after lanes_impl.h, with:
 *   GROUPS   independent LANES-wide nonce vectors interleaved round by round
 *   ROLLED   0: every round written out; 1: hash 1 rounds 36-59 and hash 2
 *            rounds 33-56 run as a loop over blocks of 8 rounds, their
 *            schedule words and K read from memory
 *   SCAN_FN  the function's name
 *   VSCAN_FN (optional) the name of the same layout over version lanes
 * and undefines them at the end, so the next layout can set them.
 *
 * Why layouts: the fully unrolled two-group body is ~47 KB of code, more
 * than a 32 KB instruction cache and the decoded-uop cache; which layout
 * is fastest depends on the core's front end, so each is compiled and the
 * dispatcher measures them (kernels/dispatch.c).  The rolled rounds are
 * those with no constant message words to fold: the same instructions for
 * every block, so looping them costs a counter and the loads.
 */
#if !defined(GROUPS) || !defined(ROLLED) || !defined(SCAN_FN)
#error "lanes_scan.h needs GROUPS, ROLLED and SCAN_FN"
#endif

#ifndef LANES_SCAN_ONCE
#define LANES_SCAN_ONCE
/* Round whose h is a job constant already added into KW: the round the
 * caller names h only receives the new a. */
#define RND_NOH(a, b, c, d, e, f, g_, h, KW, i)                                      \
    FOR_GROUPS {                                                                     \
        V t1_ = ADD(BSIG1(e[g]), ADD(CH(e[g], f[g], g_[g]), KW(i, g)));              \
        d[g] = ADD(d[g], t1_);                                                       \
        h[g] = ADD(t1_, ADD(BSIG0(a[g]), MAJ(a[g], b[g], c[g])));                    \
    }
/* Rounds i..i+7 where the first three rounds' h is constant (rounds 4-6 of
 * hash 1 start from the job's state, rounds 1-3 of hash 2 from the IV). */
#define RNDS8_H3(i, KW)                                                              \
    RND_NOH(sa, sb, sc, sd, se, sf, sg, sh, KW, (i) + 0)                             \
    RND_NOH(sh, sa, sb, sc, sd, se, sf, sg, KW, (i) + 1)                             \
    RND_NOH(sg, sh, sa, sb, sc, sd, se, sf, KW, (i) + 2)                             \
    RND(sf, sg, sh, sa, sb, sc, sd, se, KW, (i) + 3)                                 \
    RND(se, sf, sg, sh, sa, sb, sc, sd, KW, (i) + 4)                                 \
    RND(sd, se, sf, sg, sh, sa, sb, sc, KW, (i) + 5)                                 \
    RND(sc, sd, se, sf, sg, sh, sa, sb, KW, (i) + 6)                                 \
    RND(sb, sc, sd, se, sf, sg, sh, sa, KW, (i) + 7)

/* Message word plus K for round i of group g, computing the schedule word
 * on first use.  c1/c2 hold K plus the constant words (and, for rounds
 * 4-6 / 1-3, the constant h). */
#define KW1(i, g) ((i) < 18 ? SET1(kc.c1[(i) < 18 ? (i) : 0])                        \
                            : (w[g][i] = sched1(w[g], (i), &kc), ADD(w[g][i], SET1(pk_sha256_k[i]))))
#define KW2(i, g) ((i) >= 8 && (i) < 16 ? SET1(kc.c2[(i) & 15])                      \
                   : (i) < 8 ? ADD(w[g][(i) & 7], SET1(kc.c2[(i) & 7]))                \
                   : (w[g][i] = sched2(w[g], (i)), ADD(w[g][i], SET1(pk_sha256_k[i]))))
/* The general schedule word (no constant inputs left), for the rolled
 * rounds: i is a run-time index there. */
#define KWG(i, g)                                                                    \
    (w[g][i] = ADD(ADD(SSIG1(w[g][(i) - 2]), w[g][(i) - 7]), ADD(SSIG0(w[g][(i) - 15]), w[g][(i) - 16])), \
     ADD(w[g][i], SET1(pk_sha256_k[i])))

/* Hash 1's feed-forward (MID(k): midstate word k as a vector), then hash 2
 * from its precomputed round 0 to round 60, which is all H7 needs. */
#define HASH2(MID)                                                                   \
    FOR_GROUPS {                                                                     \
        /* After 64 rounds the names are shifted: A..H = e,f,g,h,a,b,c,d. */          \
        w[g][0] = ADD(se[g], MID(0));                                                \
        w[g][1] = ADD(sf[g], MID(1));                                                \
        w[g][2] = ADD(sg[g], MID(2));                                                \
        w[g][3] = ADD(sh[g], MID(3));                                                \
        w[g][4] = ADD(sa[g], MID(4));                                                \
        w[g][5] = ADD(sb[g], MID(5));                                                \
        w[g][6] = ADD(sc[g], MID(6));                                                \
        w[g][7] = ADD(sd[g], MID(7));                                                \
        sa[g] = ADD(SET1(h2_a1), w[g][0]);                                           \
        sb[g] = SET1(iv[0]);                                                         \
        sc[g] = SET1(iv[1]);                                                         \
        sd[g] = SET1(iv[2]);                                                         \
        se[g] = ADD(SET1(h2_e1), w[g][0]);                                           \
        sf[g] = SET1(iv[4]);                                                         \
        sg[g] = SET1(iv[5]);                                                         \
        sh[g] = SET1(iv[6]);                                                         \
    }                                                                                \
    RNDS8_H3(1, KW2)                                                                 \
    RNDS8(9, KW2)                                                                    \
    MIDDLE2                                                                          \
    /* Rounds 57-60 only feed e: H7 = h after 64 rounds = e after 61. */            \
    RND_E(sa, sb, sc, sd, se, sf, sg, sh, KW2, 57)                                   \
    RND_E(sh, sa, sb, sc, sd, se, sf, sg, KW2, 58)                                   \
    RND_E(sg, sh, sa, sb, sc, sd, se, sf, KW2, 59)                                   \
    RND_E(sf, sg, sh, sa, sb, sc, sd, se, KW2, 60)

/* Hash 1's rounds 20-63 (KW: the unrolled rounds' words, KWR the rolled). */
#define HASH1_TAIL(KW, KWR)                                                          \
    MIDDLE1(KW, KWR)                                                                 \
    RND(sa, sb, sc, sd, se, sf, sg, sh, KW, 60)                                      \
    RND(sh, sa, sb, sc, sd, se, sf, sg, KW, 61)                                      \
    RND(sg, sh, sa, sb, sc, sd, se, sf, KW, 62)                                      \
    RND(sf, sg, sh, sa, sb, sc, sd, se, KW, 63)

/* Hash 2's round 0 from the IV (only W0 varies), and the early reject.  A
 * target whose top word is 0 (every share and block target below
 * difficulty 1 is not) needs H7 == 0: a after round 60 equal to -IV7, one
 * compare instead of add, byte swap and compare. */
#define HASH2_CONSTS(job)                                                            \
    const uint32_t *iv = pk_sha256_iv;                                               \
    const uint32_t h2_t1 = iv[7] + pk_bsig1(iv[4]) + pk_ch(iv[4], iv[5], iv[6]) + pk_sha256_k[0]; \
    const uint32_t h2_a1 = h2_t1 + pk_bsig0(iv[0]) + pk_maj(iv[0], iv[1], iv[2]);   \
    const uint32_t h2_e1 = iv[3] + h2_t1;                                            \
    const V top = SET1((job)->target_w[7]);                                          \
    const int top_zero = (job)->target_w[7] == 0;                                    \
    const V minus_iv7 = SET1(0u - iv[7])

/* One step's schedule and state, per group. */
#define STEP_STATE                                                                   \
    V w[GROUPS][64];                                                                 \
    V sa[GROUPS], sb[GROUPS], sc[GROUPS], sd[GROUPS], se[GROUPS], sf[GROUPS], sg[GROUPS], sh[GROUPS]

/* Lanes of group g whose H7 passes the early reject. */
#define H7_MASK(g)                                                                   \
    (top_zero ? (unsigned)EQ_MASK(sa[g], minus_iv7)                                  \
              : (unsigned)LE_MASK(BSWAP(ADD(sa[g], SET1(iv[7]))), top))

/* The per-job constants every layout derives the same way. */
static void lane_consts_init(lane_consts *kc, const pk_job *job)
{
    for (int i = 0; i < 4; i++)
        kc->c1[i] = 0;
    for (int i = 4; i < 16; i++)
        kc->c1[i] = pk_sha256_k[i] + job->w[i];
    kc->c1[16] = pk_sha256_k[16] + job->w16;
    kc->c1[17] = pk_sha256_k[17] + job->w17;
    /* Rounds 4, 5, 6 see h = the state's h, g, f after round 3. */
    kc->c1[4] += job->r3[6];
    kc->c1[5] += job->r3[5];
    kc->c1[6] += job->r3[4];
    for (int i = 0; i < 16; i++)
        kc->c2[i] = pk_sha256_k[i];
    kc->c2[8] += 0x80000000u;
    kc->c2[15] += 256;
    /* Hash 2 rounds 1, 2, 3 see h = IV words 6, 5, 4. */
    kc->c2[1] += pk_sha256_iv[6];
    kc->c2[2] += pk_sha256_iv[5];
    kc->c2[3] += pk_sha256_iv[4];
    kc->w16 = job->w16;
    kc->w17 = job->w17;
    kc->w18_c = job->w18_c;
    kc->w19_c = job->w19_c;
    kc->s0_w16 = pk_ssig0(job->w16);
    kc->s0_w17 = pk_ssig0(job->w17);
}
#endif

/* This layout's middle rounds (hash 1's 20-59, hash 2's 17-56): written
 * out, the plain ones as a loop over blocks of 8, or all of them as that
 * loop.  Looping the rounds whose schedule has constant words to fold
 * (hash 1's 20-35, hash 2's 17-32) costs the folds: their padding words
 * are stored as vectors and the general schedule computes from them. */
#if ROLLED == 2
#define MIDDLE1(KW, KWR)                                                             \
    FOR_GROUPS {                                                                     \
        w[g][4] = SET1(0x80000000u);                                                 \
        for (int i = 5; i < 15; i++)                                                 \
            w[g][i] = SET1(0);                                                       \
        w[g][15] = SET1(80 * 8);                                                     \
        w[g][16] = SET1(kc.w16);                                                     \
        w[g][17] = SET1(kc.w17);                                                     \
    }                                                                                \
    _Pragma("GCC unroll 1") for (int r = 20; r < 60; r += 8) { RNDS8(r, KWR) }
#define MIDDLE2                                                                      \
    FOR_GROUPS {                                                                     \
        w[g][8] = SET1(0x80000000u);                                                 \
        for (int i = 9; i < 15; i++)                                                 \
            w[g][i] = SET1(0);                                                       \
        w[g][15] = SET1(256);                                                        \
    }                                                                                \
    _Pragma("GCC unroll 1") for (int r = 17; r < 57; r += 8) { RNDS8(r, KWG) }
#elif ROLLED
#define MIDDLE1(KW, KWR)                                                             \
    RNDS8(20, KW) RNDS8(28, KW) _Pragma("GCC unroll 1") for (int r = 36; r < 60; r += 8) { RNDS8(r, KWR) }
#define MIDDLE2 RNDS8(17, KW2) RNDS8(25, KW2) _Pragma("GCC unroll 1") for (int r = 33; r < 57; r += 8) { RNDS8(r, KWG) }
#else
#define MIDDLE1(KW, KWR) RNDS8(20, KW) RNDS8(28, KW) RNDS8(36, KW) RNDS8(44, KW) RNDS8(52, KW)
#define MIDDLE2 RNDS8(17, KW2) RNDS8(25, KW2) RNDS8(33, KW2) RNDS8(41, KW2) RNDS8(49, KW2)
#endif

static size_t SCAN_FN(const pk_job *job, uint32_t start, uint64_t count, uint32_t *found,
                      size_t max_found)
{
    lane_consts kc;
    lane_consts_init(&kc, job);
    const uint32_t *mid = job->work.midstate;
    HASH2_CONSTS(job);

    /* Nonces stay a vector: one add per step instead of a broadcast. */
    V nonce[GROUPS];
    FOR_GROUPS nonce[g] = ADD(SET1(start + (uint32_t)(g * LANES)), LANE_INDEX());
    const V step_v = SET1((uint32_t)(LANES * GROUPS));

    size_t hits = 0;
    uint32_t n = start;
    uint64_t left = count;
    while (left > 0) {
        STEP_STATE;

        /* Hash 1: the header's second block, from round 4. */
        FOR_GROUPS {
            w[g][3] = BSWAP(nonce[g]);
            nonce[g] = ADD(nonce[g], step_v);
            sa[g] = ADD(SET1(job->r4_a), w[g][3]);
            sb[g] = SET1(job->r3[0]);
            sc[g] = SET1(job->r3[1]);
            sd[g] = SET1(job->r3[2]);
            se[g] = ADD(SET1(job->r4_e), w[g][3]);
            sf[g] = SET1(job->r3[4]);
            sg[g] = SET1(job->r3[5]);
            sh[g] = SET1(job->r3[6]);
        }
        RNDS8_H3(4, KW1)
        RNDS8(12, KW1)
        HASH1_TAIL(KW1, KWG)
#define MID_JOB(k) SET1(mid[k])
        HASH2(MID_JOB)
#undef MID_JOB

        uint64_t mask = 0;
        FOR_GROUPS mask |= (uint64_t)H7_MASK(g) << (g * LANES);
        uint64_t step = left >= (uint64_t)LANES * GROUPS ? (uint64_t)LANES * GROUPS : left;
        if (step < (uint64_t)LANES * GROUPS)
            mask &= ((uint64_t)1 << step) - 1;
        if (pk_recheck_candidates(job, n, mask, found, max_found, &hits))
            return hits + 1;
        n += (uint32_t)step;
        left -= step;
    }
    return hits;
}

#ifdef VSCAN_FN
#ifndef LANES_VSCAN_ONCE
#define LANES_VSCAN_ONCE
/* Hash 1's schedule word i plus K in version lanes: the same in every
 * lane, so computed once in general-purpose registers (ports the vector
 * rounds leave idle), each word just before its round, and broadcast. */
static inline __attribute__((always_inline)) uint32_t vsched1(uint32_t *ws, int i)
{
    if (i >= 18)
        ws[i] = pk_ssig1(ws[i - 2]) + ws[i - 7] + pk_ssig0(ws[i - 15]) + ws[i - 16];
    return ws[i] + pk_sha256_k[i];
}
#define KWV1(i, g) SET1(vsched1(ws[g], (i)))
/* Hash 1's K+W for LANES consecutive nonces, transposed: row i holds word
 * i of nonce n+j in column j.  Computed by the lane schedule (sched1, lane
 * j = nonce n+j), so one nonce's schedule costs 1/LANES of a vector op per
 * word; the version-lane rounds then read column j as a broadcast memory
 * operand.  Rows 4-17 are job constants, filled once; 0-2 are unused. */
static inline __attribute__((always_inline)) void vsched1_rows(uint32_t (*kwt)[LANES], uint32_t n,
                                                               const lane_consts *kc)
{
    V w[64];
    w[3] = BSWAP(ADD(SET1(n), LANE_INDEX()));
    STOREA(kwt[3], w[3]);
    _Pragma("GCC unroll 64") for (int i = 18; i < 64; i++) {
        w[i] = sched1(w, i, kc);
        STOREA(kwt[i], ADD(w[i], SET1(pk_sha256_k[i])));
    }
}
#define KWT1(i, g) SET1(kwt[(i)][j + (g)])
#endif

/* The same layout over version lanes: lane l hashes jobs[l]; group g of a
 * step is nonce n + g in every lane. */
static size_t VSCAN_FN(const pk_job *const *jobs, uint32_t start, uint64_t count, pk_vfound *found,
                       size_t max_found)
{
    const pk_job *j0 = jobs[0];
    lane_consts kc;
    lane_consts_init(&kc, j0); /* hash 2's constants: the same for any job */
    /* What differs per lane: the state after rounds 0-2 (3 for a and e,
     * minus the nonce word) and the midstate for the feed-forward. */
    uint32_t t[17][LANES] __attribute__((aligned(64)));
    for (int l = 0; l < LANES; l++) {
        for (int k = 0; k < 7; k++)
            t[k][l] = jobs[l]->r3[k];
        t[7][l] = jobs[l]->r4_a;
        t[8][l] = jobs[l]->r4_e;
        for (int k = 0; k < 8; k++)
            t[9 + k][l] = jobs[l]->work.midstate[k];
    }
    V r3v[7], midv[8];
    for (int k = 0; k < 7; k++)
        r3v[k] = LOADA(t[k]);
    const V r4a = LOADA(t[7]), r4e = LOADA(t[8]);
    for (int k = 0; k < 8; k++)
        midv[k] = LOADA(t[9 + k]);
    /* Hash 1's message: one per group, the nonce word set per step. */
    uint32_t ws[GROUPS][64];
    FOR_GROUPS {
        for (int i = 0; i < 16; i++)
            ws[g][i] = j0->w[i];
        ws[g][16] = j0->w16;
        ws[g][17] = j0->w17;
    }
    HASH2_CONSTS(j0);
#if ROLLED == 2
    uint32_t kwt[64][LANES] __attribute__((aligned(64)));
    for (int i = 4; i < 18; i++)
        STOREA(kwt[i], SET1(ws[0][i] + pk_sha256_k[i]));
    unsigned j = LANES; /* column of this step's first nonce; LANES: refill */
#endif

    size_t hits = 0;
    uint32_t n = start;
    uint64_t left = count;
    while (left > 0) {
        STEP_STATE;
#if ROLLED == 2
        /* GROUPS divides LANES: a step never straddles two tables. */
        if (j == LANES) {
            vsched1_rows(kwt, n, &kc);
            j = 0;
        }
#define W3(g) kwt[3][j + (g)]
#else
#define W3(g) (ws[g][3] = __builtin_bswap32(n + (uint32_t)(g)))
#endif
        FOR_GROUPS {
            const V w3 = SET1(W3(g));
            sa[g] = ADD(r4a, w3);
            sb[g] = r3v[0];
            sc[g] = r3v[1];
            sd[g] = r3v[2];
            se[g] = ADD(r4e, w3);
            sf[g] = r3v[4];
            sg[g] = r3v[5];
            sh[g] = r3v[6];
        }
#undef W3
#if ROLLED == 2
        _Pragma("GCC unroll 1") for (int r = 4; r < 60; r += 8) { RNDS8(r, KWT1) }
        RND(sa, sb, sc, sd, se, sf, sg, sh, KWT1, 60)
        RND(sh, sa, sb, sc, sd, se, sf, sg, KWT1, 61)
        RND(sg, sh, sa, sb, sc, sd, se, sf, KWT1, 62)
        RND(sf, sg, sh, sa, sb, sc, sd, se, KWT1, 63)
        j += GROUPS;
#else
        RNDS8(4, KWV1)
        RNDS8(12, KWV1)
        HASH1_TAIL(KWV1, KWV1)
#endif
#define MID_LANES(k) midv[k]
        HASH2(MID_LANES)
#undef MID_LANES

        uint64_t step = left >= (uint64_t)GROUPS ? (uint64_t)GROUPS : left;
        for (int g = 0; g < (int)step; g++) {
            unsigned mask = H7_MASK(g);
            while (mask) {
                unsigned lane = (unsigned)__builtin_ctz(mask);
                mask &= mask - 1;
                uint32_t cand = n + (uint32_t)g, hs[8];
                pk_job_hash_nonce(jobs[lane], cand, hs);
                if (pk_state_meets_target(hs, jobs[lane]->target_w)) {
                    if (hits == max_found)
                        return hits + 1; /* full: resume after found[max_found - 1] */
                    found[hits].nonce = cand;
                    found[hits].lane = lane;
                    hits++;
                }
            }
        }
        n += (uint32_t)step;
        left -= step;
    }
    return hits;
}
#undef VSCAN_FN
#endif

#undef MIDDLE1
#undef MIDDLE2
#undef GROUPS
#undef ROLLED
#undef SCAN_FN
