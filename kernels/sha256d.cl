/* powkit: SHA-256d nonce scan in OpenCL C.
 *
 * Same mining shortcuts as the CPU lane kernels (kernels/lanes_impl.h):
 * the host passes the job's nonce-independent values (state after round 3
 * without the nonce word, constant schedule words, message words with K
 * folded in), so a work-item starts hash 1 at round 4; hash 2 starts from
 * a precomputed round 0, stops after round 60 (enough for H7) and rejects
 * on H7 before anything else.  Survivors go to a small buffer through an
 * atomic counter; the host rechecks every one with the reference hash.
 *
 * VW (build option -DVW=1,2,4,8,16) nonces per work-item in OpenCL vector
 * types; nonce = base + (global id * VW) + lane, so a launch needs no
 * buffer writes for its range: the base is an argument.
 *
 * Per nonce: 61 + 60 rounds and 46 + 45 schedule words, about 190 32-bit
 * operations counting rotate, bitselect (Ch, Maj) and add as one each. */
#ifndef VW
#define VW 1
#endif
#if VW == 1
typedef uint V;
#define VLOAD_LANES() (uint)(0)
#else
#define CAT(a, b) a##b
#define VT(n) CAT(uint, n)
typedef VT(VW) V;
#endif

#define ROTR(x, n) rotate((x), (uint)(32 - (n)))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
#define CH(e, f, g) bitselect((g), (f), (e))
#define MAJ(a, b, c) bitselect((a), (b), (a) ^ (c))

#define RND(a, b, c, d, e, f, g, h, kw)                                          \
    {                                                                            \
        V t1_ = h + BSIG1(e) + CH(e, f, g) + (kw);                               \
        d += t1_;                                                                \
        h = t1_ + BSIG0(a) + MAJ(a, b, c);                                       \
    }
#define RND_E(a, b, c, d, e, f, g, h, kw) \
    { d += h + BSIG1(e) + CH(e, f, g) + (kw); }

__constant uint K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* The job: see struct pk_cl_job on the host (host/opencl_device.c). */
typedef struct {
    uint mid[8];   /* midstate */
    uint r3[8];    /* state after rounds 0..2 */
    uint r4_a, r4_e;
    uint c1[18];   /* K + w for hash 1 rounds 4..17 */
    uint w16, w17, w18_c, w19_c, s0_w16, s0_w17;
    uint h2_a1, h2_e1; /* hash 2 after round 0, less W0 */
    uint top;      /* target's top 32 bits (little-endian number) */
    uint pad;
} job_t;

static inline V bswap(V x)
{
    return ROTR(x & (V)0x00ff00ffu, 8) | rotate(x & (V)0xff00ff00u, (uint)8);
}

__kernel void scan(__constant job_t *j, uint base, __global uint *out, uint out_max)
{
#if VW == 1
    V nonce = base + (uint)get_global_id(0);
#elif VW == 2
    V nonce = (V)(base + (uint)get_global_id(0) * 2u) + (V)(0, 1);
#elif VW == 4
    V nonce = (V)(base + (uint)get_global_id(0) * 4u) + (V)(0, 1, 2, 3);
#elif VW == 8
    V nonce = (V)(base + (uint)get_global_id(0) * 8u) + (V)(0, 1, 2, 3, 4, 5, 6, 7);
#else
    V nonce = (V)(base + (uint)get_global_id(0) * 16u) + (V)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#endif
    V w3 = bswap(nonce);
    V w[64];
    w[18] = j->w18_c + SSIG0(w3);
    w[19] = j->w19_c + w3;
    w[20] = SSIG1(w[18]) + 0x80000000u;
    w[21] = SSIG1(w[19]);
    w[22] = SSIG1(w[20]) + 640u;
    w[23] = SSIG1(w[21]) + j->w16;
    w[24] = SSIG1(w[22]) + j->w17;
    for (int i = 25; i < 30; i++)
        w[i] = SSIG1(w[i - 2]) + w[i - 7];
    w[30] = SSIG1(w[28]) + w[23] + 0x00a00055u; /* sigma0(640) */
    w[31] = SSIG1(w[29]) + w[24] + (j->s0_w16 + 640u);
    w[32] = SSIG1(w[30]) + w[25] + (j->s0_w17 + j->w16);
    w[33] = SSIG1(w[31]) + w[26] + SSIG0(w[18]) + j->w17;
    for (int i = 34; i < 64; i++)
        w[i] = SSIG1(w[i - 2]) + w[i - 7] + SSIG0(w[i - 15]) + w[i - 16];

    V a = j->r4_a + w3, b = j->r3[0], c = j->r3[1], d = j->r3[2];
    V e = j->r4_e + w3, f = j->r3[4], g = j->r3[5], h = j->r3[6];
#define KW1(i) ((i) < 18 ? (V)j->c1[(i) < 18 ? (i) : 0] : w[i] + K[i])
#define R8(i, KW)                          \
    RND(a, b, c, d, e, f, g, h, KW(i));     \
    RND(h, a, b, c, d, e, f, g, KW(i + 1)); \
    RND(g, h, a, b, c, d, e, f, KW(i + 2)); \
    RND(f, g, h, a, b, c, d, e, KW(i + 3)); \
    RND(e, f, g, h, a, b, c, d, KW(i + 4)); \
    RND(d, e, f, g, h, a, b, c, KW(i + 5)); \
    RND(c, d, e, f, g, h, a, b, KW(i + 6)); \
    RND(b, c, d, e, f, g, h, a, KW(i + 7));
    R8(4, KW1) R8(12, KW1) R8(20, KW1) R8(28, KW1) R8(36, KW1) R8(44, KW1) R8(52, KW1)
    RND(a, b, c, d, e, f, g, h, KW1(60));
    RND(h, a, b, c, d, e, f, g, KW1(61));
    RND(g, h, a, b, c, d, e, f, KW1(62));
    RND(f, g, h, a, b, c, d, e, KW1(63));
    /* A..H = e,f,g,h,a,b,c,d; feed forward into hash 2's message. */
    w[0] = e + j->mid[0];
    w[1] = f + j->mid[1];
    w[2] = g + j->mid[2];
    w[3] = h + j->mid[3];
    w[4] = a + j->mid[4];
    w[5] = b + j->mid[5];
    w[6] = c + j->mid[6];
    w[7] = d + j->mid[7];
    w[16] = SSIG0(w[1]) + w[0];
    w[17] = SSIG0(w[2]) + w[1] + 0x00a00000u; /* sigma1(256) */
    for (int i = 18; i < 22; i++)
        w[i] = SSIG1(w[i - 2]) + SSIG0(w[i - 15]) + w[i - 16];
    w[22] = SSIG1(w[20]) + SSIG0(w[7]) + w[6] + 256u;
    w[23] = SSIG1(w[21]) + w[16] + w[7] + 0x11002000u; /* sigma0(0x80000000) */
    w[24] = SSIG1(w[22]) + w[17] + 0x80000000u;
    for (int i = 25; i < 30; i++)
        w[i] = SSIG1(w[i - 2]) + w[i - 7];
    w[30] = SSIG1(w[28]) + w[23] + 0x00400022u; /* sigma0(256) */
    w[31] = SSIG1(w[29]) + w[24] + SSIG0(w[16]) + 256u;
    for (int i = 32; i < 61; i++)
        w[i] = SSIG1(w[i - 2]) + w[i - 7] + SSIG0(w[i - 15]) + w[i - 16];

    a = j->h2_a1 + w[0];
    b = 0x6a09e667u;
    c = 0xbb67ae85u;
    d = 0x3c6ef372u;
    e = j->h2_e1 + w[0];
    f = 0x510e527fu;
    g = 0x9b05688cu;
    h = 0x1f83d9abu;
#define KW2(i) ((i) >= 8 && (i) < 16 ? (V)(K[i] + ((i) == 8 ? 0x80000000u : (i) == 15 ? 256u : 0u)) : w[i] + K[i])
    R8(1, KW2) R8(9, KW2) R8(17, KW2) R8(25, KW2) R8(33, KW2) R8(41, KW2) R8(49, KW2)
    RND_E(a, b, c, d, e, f, g, h, KW2(57));
    RND_E(h, a, b, c, d, e, f, g, KW2(58));
    RND_E(g, h, a, b, c, d, e, f, KW2(59));
    RND_E(f, g, h, a, b, c, d, e, KW2(60));
    V top = bswap(a + 0x5be0cd19u);
#if VW == 1
    if (top <= j->top) {
        uint slot = atomic_inc(&out[0]);
        if (slot < out_max)
            out[1 + slot] = nonce;
    }
#else
    for (int l = 0; l < VW; l++) {
        uint tl = ((uint *)&top)[l];
        if (tl <= j->top) {
            uint slot = atomic_inc(&out[0]);
            if (slot < out_max)
                out[1 + slot] = ((uint *)&nonce)[l];
        }
    }
#endif
}
