/* Signature checks of a block's inputs (see include/powkit/sigcheck.h). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "powkit/digest.h"
#include "powkit/sha256.h"
#include "powkit/sigcheck.h"
#include "powkit/sigops.h"
#include "powkit/util.h"
#include "sigcheck_internal.h"

/* Mainnet heights from which a rule is consensus. */
#define BIP66_HEIGHT 363725
#define SEGWIT_HEIGHT 481824
#define TAPROOT_HEIGHT 709632

/* A spend that failed before its kind was known (a hash that does not
 * match, a malformed wrapping): a failure, in no kind's count. */
#define SPEND_UNKNOWN PK_SPEND_COUNT

#define MAX_ITEMS 24 /* stack items looked at: 20-of-20 multisig fits */
#define MAX_SCRIPT_SIZE 10000        /* Core's MAX_SCRIPT_SIZE */
#define MAX_SCRIPT_ELEMENT_SIZE 520  /* Core's MAX_SCRIPT_ELEMENT_SIZE */

const char *pk_spend_name(pk_spend s)
{
    static const char *n[PK_SPEND_COUNT] = {
        "p2pk",           "p2pkh",           "multisig",           "p2sh_p2pk",       "p2sh_p2pkh",
        "p2sh_multisig",  "p2wsh_p2pk",      "p2wsh_p2pkh",        "p2wsh_multisig",  "p2sh_p2wsh_p2pk",
        "p2sh_p2wsh_p2pkh", "p2sh_p2wsh_multisig", "p2wpkh",        "p2sh_p2wpkh",     "p2tr_key"};
    return (unsigned)s < PK_SPEND_COUNT ? n[s] : "unknown";
}

const char *pk_unchecked_name(pk_unchecked u)
{
    static const char *n[PK_UNCHECKED_COUNT] = {"needs_prevouts", "other_script", "taproot_script_path",
                                                "not_yet_active", "sequence_locks_need_context"};
    return (unsigned)u < PK_UNCHECKED_COUNT ? n[u] : "unknown";
}

/* ---- scripts ---- */

typedef struct items {
    const uint8_t *p[MAX_ITEMS];
    size_t l[MAX_ITEMS];
    int n;
} items;

/* The stack a push-only script leaves: -1 if it holds anything else, -2
 * if more than MAX_ITEMS. */
static int pushes(const uint8_t *sc, size_t len, items *it)
{
    static const uint8_t small[17] = {0x81, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    size_t pos = 0;
    it->n = 0;
    while (pos < len) {
        size_t start = pos;
        uint8_t op;
        if (!pk_script_op(sc, len, &pos, &op) || op > 0x60 || op == 0x50)
            return -1;
        if (it->n == MAX_ITEMS)
            return -2;
        if (op >= 0x4f) { /* OP_1NEGATE, OP_1..OP_16 */
            it->p[it->n] = &small[op == 0x4f ? 0 : op - 0x50];
            it->l[it->n++] = 1;
            continue;
        }
        size_t hdr = op < 0x4c ? 1 : op == 0x4c ? 2 : op == 0x4d ? 3 : 5;
        it->p[it->n] = sc + start + hdr;
        it->l[it->n++] = pos - start - hdr;
    }
    return it->n;
}

/* What makes any script fail wherever it runs (Core's EvalScript): over
 * 10,000 bytes, a push over 520 bytes (checked even in a branch not
 * taken), a push that runs past the end.  The words name the script. */
typedef struct limit_words {
    const char *size, *truncated, *push;
} limit_words;
static const limit_words SCRIPTSIG_LIMITS = {"scriptSig over 10,000 bytes (SCRIPT_SIZE)",
                                             "scriptSig ends inside a push (BAD_OPCODE)",
                                             "scriptSig pushes more than 520 bytes (PUSH_SIZE)"};
static const limit_words WITNESS_SCRIPT_LIMITS = {"witness script over 10,000 bytes (SCRIPT_SIZE)",
                                                  "witness script ends inside a push (BAD_OPCODE)",
                                                  "witness script pushes more than 520 bytes (PUSH_SIZE)"};

static const char *script_limits(const uint8_t *s, size_t len, const limit_words *words)
{
    if (len > MAX_SCRIPT_SIZE)
        return words->size;
    size_t pos = 0;
    uint8_t op;
    while (pos < len) {
        size_t start = pos;
        if (!pk_script_op(s, len, &pos, &op))
            return words->truncated;
        size_t hdr = op < 0x4c ? 1 : op == 0x4c ? 2 : op == 0x4d ? 3 : 5;
        if (op <= 0x4e && pos - start - hdr > MAX_SCRIPT_ELEMENT_SIZE)
            return words->push;
    }
    return NULL;
}

/* Witness v0 runs its stack through the same element limit (Core's
 * ExecuteWitnessScript): no item over 520 bytes. */
static int items_within_limit(const items *w)
{
    for (int i = 0; i < w->n; i++)
        if (w->l[i] > MAX_SCRIPT_ELEMENT_SIZE)
            return 0;
    return 1;
}

static int witness_items(const uint8_t *d, size_t at, items *w)
{
    w->n = 0;
    if (!at)
        return 0;
    uint64_t n = pk_compact_get(d, &at);
    if (n > MAX_ITEMS)
        return -2;
    for (uint64_t i = 0; i < n; i++) {
        w->l[i] = (size_t)pk_compact_get(d, &at);
        w->p[i] = d + at;
        at += w->l[i];
    }
    w->n = (int)n;
    return w->n;
}

static int is_pubkey(const uint8_t *k, size_t l)
{
    return (l == 33 && (k[0] == 2 || k[0] == 3)) || (l == 65 && (k[0] == 4 || k[0] == 6 || k[0] == 7));
}

static void hash160(const uint8_t *d, size_t n, uint8_t out[20])
{
    pk_hash160(d, n, out);
}

enum { T_P2PK, T_P2PKH, T_MULTISIG };

typedef struct tmpl {
    int kind, m, n;
    const uint8_t *key[16];
    size_t kl[16];
    const uint8_t *hash; /* P2PKH */
} tmpl;

/* <key> CHECKSIG, DUP HASH160 <20> EQUALVERIFY CHECKSIG, or OP_m <keys>
 * OP_n CHECKMULTISIG with 33- or 65-byte key pushes. */
static int parse_template(const uint8_t *s, size_t l, tmpl *t)
{
    if ((l == 35 && s[0] == 33 && s[34] == 0xac) || (l == 67 && s[0] == 65 && s[66] == 0xac)) {
        t->kind = T_P2PK;
        t->key[0] = s + 1;
        t->kl[0] = s[0];
        return 1;
    }
    if (l == 25 && s[0] == 0x76 && s[1] == 0xa9 && s[2] == 20 && s[23] == 0x88 && s[24] == 0xac) {
        t->kind = T_P2PKH;
        t->hash = s + 3;
        return 1;
    }
    if (l < 37 || s[l - 1] != 0xae || s[0] < 0x51 || s[0] > 0x60 || s[l - 2] < 0x51 || s[l - 2] > 0x60)
        return 0;
    t->kind = T_MULTISIG;
    t->m = s[0] - 0x50;
    t->n = 0;
    size_t pos = 1;
    while (pos < l - 2 && t->n < 16) {
        size_t kl = s[pos];
        if ((kl != 33 && kl != 65) || pos + 1 + kl > l - 2)
            return 0;
        t->key[t->n] = s + pos + 1;
        t->kl[t->n++] = kl;
        pos += 1 + kl;
    }
    return pos == l - 2 && s[l - 2] - 0x50 == t->n && t->m <= t->n;
}

static int is_p2sh(const uint8_t *s, size_t l)
{
    return l == 23 && s[0] == 0xa9 && s[1] == 20 && s[22] == 0x87;
}

/* Witness program version (0-16) and program, or -1. */
static int witness_program(const uint8_t *s, size_t l, const uint8_t **prog, size_t *plen)
{
    if (l < 4 || l > 42 || (s[0] != 0 && (s[0] < 0x51 || s[0] > 0x60)) || s[1] + 2u != l)
        return -1;
    *prog = s + 2;
    *plen = s[1];
    return s[0] ? s[0] - 0x50 : 0;
}

/* ---- extraction ---- */

typedef struct input_plan {
    size_t tx, vin;
    int spend;          /* pk_spend, or -1 */
    int multisig, m, n; /* for resolving */
    size_t first;       /* its first check */
    const char *fail;   /* failed before any signature check */
} input_plan;

/* A signature hash to compute, on the pool, for the checks that need it. */
typedef struct sighash_job {
    const pk_tx *t;
    size_t vin;
    int segwit;                /* BIP143, else legacy */
    size_t c143;               /* index of the transaction's BIP143 hashes */
    size_t all;                /* index of its legacy_all, or SIZE_MAX */
    uint32_t hash_type;
    const uint8_t *code;       /* into the block, the prevouts, inl or owned */
    size_t code_len;
    uint8_t inl[25];           /* a P2PKH script code made here */
    uint8_t *owned;            /* a legacy code that lost signature pushes */
    uint64_t amount;
    uint8_t out[32];
} sighash_job;

typedef struct ctx {
    const pk_block *b;
    pk_sig_report *rep;
    uint8_t flags;              /* lax DER before BIP66 */
    int segwit_on, taproot_on;  /* NULLDUMMY comes with segwit */
    pk_sig_check *checks;
    size_t *check_job; /* the job whose hash a check takes, or SIZE_MAX */
    size_t nc, cap;
    sighash_job *jobs;
    size_t nj, jcap;
    pk_bip143_cache *c143; /* one per transaction that needs them */
    size_t n143, cap143;
    pk_legacy_all *all;       /* one per transaction with legacy SIGHASH_ALL inputs */
    size_t nall, capall;
    input_plan *plan;
    size_t np, pcap;
    /* the transaction at hand */
    const pk_tx *t;
    size_t ti;
    pk_txin_ref *ins;
    const pk_prevout *spent; /* NULL without prevouts */
    int have143, have341;
    size_t i143; /* this transaction's entry in c143 */
    size_t iall; /* its entry in all, SIZE_MAX before one is made */
    pk_bip341_cache c341;
} ctx;

void *pk_sc_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    p = realloc(p, c * size);
    if (!p)
        abort();
    *cap = c;
    return p;
}

static pk_sig_check *new_check(ctx *c, size_t job)
{
    size_t cap = c->cap;
    c->checks = pk_sc_grow(c->checks, &c->cap, c->nc + 1, sizeof *c->checks);
    c->check_job = pk_sc_grow(c->check_job, &cap, c->nc + 1, sizeof *c->check_job);
    c->check_job[c->nc] = job;
    pk_sig_check *x = &c->checks[c->nc++];
    memset(x, 0, sizeof *x);
    return x;
}

/* code points into the block or the prevouts, or with code_is_temp at a
 * P2PKH code made on the stack (kept in the job); owned, when not NULL,
 * replaces it and belongs to the job. */
static size_t new_job(ctx *c, size_t vin, int segwit, uint32_t hash_type, const uint8_t *code, size_t cl,
                      uint8_t *owned, uint64_t amount, int code_is_temp)
{
    c->jobs = pk_sc_grow(c->jobs, &c->jcap, c->nj + 1, sizeof *c->jobs);
    sighash_job *j = &c->jobs[c->nj];
    memset(j, 0, sizeof *j);
    j->t = c->t;
    j->vin = vin;
    j->segwit = segwit;
    j->c143 = c->i143;
    j->hash_type = hash_type;
    j->owned = owned;
    j->code = owned ? owned : code;
    j->code_len = cl;
    if (code_is_temp && !owned) {
        memcpy(j->inl, code, cl < sizeof j->inl ? cl : sizeof j->inl);
        j->code = NULL;
    }
    j->amount = amount;
    j->all = SIZE_MAX;
    if (!segwit && (hash_type & 0x1f) != 2 && (hash_type & 0x1f) != 3 && !(hash_type & 0x80)) {
        if (c->iall == SIZE_MAX) {
            c->all = pk_sc_grow(c->all, &c->capall, c->nall + 1, sizeof *c->all);
            c->iall = c->nall++;
            pk_legacy_all_init(&c->all[c->iall], c->b, c->t);
        }
        j->all = c->iall;
    }
    return c->nj++;
}

static void job_run(void *arg, size_t i)
{
    ctx *c = arg;
    sighash_job *j = &c->jobs[i];
    const uint8_t *code = j->code ? j->code : j->inl;
    if (j->all != SIZE_MAX)
        pk_sighash_legacy_all(&c->all[j->all], j->vin, code, j->code_len, j->hash_type, j->out);
    else if (j->segwit)
        pk_sighash_bip143(c->b, j->t, &c->c143[j->c143], j->vin, code, j->code_len, j->amount, j->hash_type,
                          j->out);
    else
        pk_sighash_legacy(c->b, j->t, j->vin, code, j->code_len, j->hash_type, j->out);
}

/* An ECDSA check; sig with its hash type byte.  Keys and signatures that
 * cannot fit are left empty, so the verifier rejects them. */
static void add_ecdsa(ctx *c, const uint8_t *key, size_t kl, const uint8_t *sig, size_t sl, size_t job)
{
    pk_sig_check *x = new_check(c, job);
    x->type = PK_SIG_ECDSA;
    x->flags = c->flags;
    if (kl <= sizeof x->pubkey) {
        memcpy(x->pubkey, key, kl);
        x->pubkey_len = (uint8_t)kl;
    }
    if (sl >= 1 && sl - 1 <= sizeof x->sig) {
        memcpy(x->sig, sig, sl - 1);
        x->sig_len = (uint8_t)(sl - 1);
    }
    x->msg_len = 32;
}

/* The legacy script code: the script less every push of one of the
 * signatures (Core's FindAndDelete of each). */
static size_t find_and_delete(const uint8_t *s, size_t l, const items *sigs, int first, int count, uint8_t *out)
{
    size_t pos = 0, n = 0;
    uint8_t op;
    for (;;) {
        size_t start = pos;
        if (!pk_script_op(s, l, &pos, &op)) {
            memcpy(out + n, s + start, l - start);
            return n + l - start;
        }
        int drop = 0;
        for (int i = first; i < first + count && !drop; i++) {
            size_t sl = sigs->l[i];
            uint8_t hdr[5];
            size_t hl = sl < 0x4c ? (hdr[0] = (uint8_t)sl, 1)
                        : sl < 0x100 ? (hdr[0] = 0x4c, hdr[1] = (uint8_t)sl, 2)
                                     : (hdr[0] = 0x4d, hdr[1] = (uint8_t)sl, hdr[2] = (uint8_t)(sl >> 8), 3);
            drop = pos - start == hl + sl && memcmp(s + start, hdr, hl) == 0 && memcmp(s + start + hl, sigs->p[i], sl) == 0;
        }
        if (!drop) {
            memcpy(out + n, s + start, pos - start);
            n += pos - start;
        }
    }
}

enum { WRAP_BARE, WRAP_P2SH, WRAP_P2WSH, WRAP_P2SH_P2WSH };

static void unchecked(ctx *c, input_plan *p, pk_unchecked why)
{
    p->spend = -1;
    p->fail = NULL;
    pk_sig_report *r = c->rep;
    r->not_checked_by[why]++;
    size_t n = (size_t)r->not_checked++;
    if ((n & (n - 1)) == 0) { /* grown at powers of two */
        r->unchecked = realloc(r->unchecked, (n ? 2 * n : 16) * sizeof *r->unchecked);
        if (!r->unchecked)
            abort();
    }
    r->unchecked[n] = (pk_sig_unchecked){p->tx, p->vin, why};
}


/* Checks for a template script run on a stack (bottom first): legacy
 * sighash for bare and P2SH, BIP143 for the witness wrappings. */
static void run_template(ctx *c, input_plan *p, const tmpl *tp, const uint8_t *script, size_t sl, const items *st,
                         int wrap, int script_is_temp)
{
    int segwit = wrap >= WRAP_P2WSH;
    int need = tp->kind == T_P2PK ? 1 : tp->kind == T_P2PKH ? 2 : tp->m + 1;
    p->spend = wrap * 3 + tp->kind;
    if (st->n < need || (segwit && st->n != need)) {
        p->fail = st->n < need ? "too few stack items for the script" : "extra stack items (witness clean stack)";
        return;
    }
    int top = st->n - 1, nsig = tp->kind == T_MULTISIG ? tp->m : 1;
    int sig0 = tp->kind == T_P2PKH ? top - 1 : top - nsig + 1; /* the first signature's item */
    for (int i = sig0; i < sig0 + nsig; i++) {
        if (st->l[i] > 74 && (c->flags & PK_SIG_LAX_DER)) { /* historical padding: longer than a check holds */
            unchecked(c, p, PK_UNCHECKED_SCRIPT);
            return;
        }
    }
    const uint8_t *keys[16];
    size_t kls[16];
    int nkeys = tp->kind == T_MULTISIG ? tp->n : 1;
    if (tp->kind == T_P2PKH) {
        uint8_t h[20];
        hash160(st->p[top], st->l[top], h);
        if (memcmp(h, tp->hash, 20) != 0) {
            p->fail = "public key does not match the P2PKH hash";
            return;
        }
        keys[0] = st->p[top], kls[0] = st->l[top];
    } else {
        memcpy(keys, tp->key, sizeof keys);
        memcpy(kls, tp->kl, sizeof kls);
    }
    if (tp->kind == T_MULTISIG && c->segwit_on && st->l[sig0 - 1] != 0) {
        p->fail = "CHECKMULTISIG dummy is not empty (BIP147)";
        return;
    }
    /* Legacy: the signatures leave the script code (a copy only when one
     * was there); segwit: the code is the script. */
    uint8_t *owned = NULL;
    size_t cl = sl;
    if (!segwit) {
        owned = malloc(sl ? sl : 1);
        if (!owned)
            abort();
        cl = find_and_delete(script, sl, st, sig0, nsig, owned);
        if (cl == sl) {
            free(owned);
            owned = NULL;
        }
    } else if (!c->have143) {
        c->c143 = pk_sc_grow(c->c143, &c->cap143, c->n143 + 1, sizeof *c->c143);
        c->i143 = c->n143++;
        pk_bip143_precompute(c->b, c->t, &c->c143[c->i143]);
        c->have143 = 1;
    }
    uint64_t amount = c->spent ? c->spent[p->vin].value : 0;
    p->first = c->nc;
    p->multisig = tp->kind == T_MULTISIG;
    p->m = nsig;
    p->n = nkeys;
    size_t job = SIZE_MAX, first_job = SIZE_MAX;
    for (int si = 0; si < nsig; si++) {
        const uint8_t *sig = st->p[sig0 + si];
        size_t l = st->l[sig0 + si];
        /* One hash per hash type: signatures of one input mostly share it. */
        if (l >= 1 && (job == SIZE_MAX || c->jobs[job].hash_type != sig[l - 1])) {
            job = new_job(c, p->vin, segwit, sig[l - 1], script, cl, first_job == SIZE_MAX ? owned : NULL, amount,
                          script_is_temp);
            if (first_job == SIZE_MAX)
                first_job = job;
            else if (owned)
                c->jobs[job].code = owned; /* the first job owns it */
        }
        /* Signature si may only match keys si .. n - m + si. */
        for (int kj = si; kj <= nkeys - nsig + si; kj++)
            add_ecdsa(c, keys[kj], kls[kj], sig, l, l >= 1 ? job : SIZE_MAX);
    }
    if (owned && first_job == SIZE_MAX)
        free(owned);
    c->rep->signatures += (uint64_t)nsig;
    c->rep->ecdsa += (uint64_t)nsig;
    if (tp->kind == T_MULTISIG) {
        c->rep->multisig_sigs += (uint64_t)nsig;
        if (tp->m <= 3 && tp->n <= 3)
            c->rep->multisig_by_mn[tp->m][tp->n]++;
    }
    if (p->spend == PK_SPEND_P2PKH) {
        if (kls[0] == 33)
            c->rep->p2pkh_compressed++;
        else
            c->rep->p2pkh_uncompressed++;
    }
}

/* A template inside a script whose hash the output committed to. */
static void run_script(ctx *c, input_plan *p, const uint8_t *script, size_t sl, const items *st, int wrap)
{
    tmpl tp;
    if (parse_template(script, sl, &tp) && !(tp.kind == T_MULTISIG && tp.m == 0))
        run_template(c, p, &tp, script, sl, st, wrap, 0);
    else
        unchecked(c, p, PK_UNCHECKED_SCRIPT);
}

static void witness_v0(ctx *c, input_plan *p, const uint8_t *prog, size_t plen, int wrapped)
{
    items w;
    if (witness_items(c->b->data, c->ins[p->vin].witness, &w) < 0) {
        unchecked(c, p, PK_UNCHECKED_SCRIPT);
        return;
    }
    if (plen == 20) {
        p->spend = wrapped ? PK_SPEND_P2SH_P2WPKH : PK_SPEND_P2WPKH;
        if (w.n != 2) {
            p->fail = "P2WPKH witness is not two items";
            return;
        }
        if (!items_within_limit(&w)) {
            p->fail = "witness item over 520 bytes (PUSH_SIZE)";
            return;
        }
        uint8_t code[25] = {0x76, 0xa9, 0x14};
        memcpy(code + 3, prog, 20);
        code[23] = 0x88, code[24] = 0xac;
        tmpl tp = {.kind = T_P2PKH, .hash = prog};
        run_template(c, p, &tp, code, 25, &w, WRAP_P2WSH, 1); /* the same checks as P2PKH, BIP143 hashed */
        if (p->spend >= 0)
            p->spend = wrapped ? PK_SPEND_P2SH_P2WPKH : PK_SPEND_P2WPKH;
        return;
    }
    if (plen != 32) {
        p->spend = SPEND_UNKNOWN;
        p->fail = "witness v0 program is neither 20 nor 32 bytes";
        return;
    }
    if (w.n < 1) {
        p->spend = SPEND_UNKNOWN;
        p->fail = "empty P2WSH witness";
        return;
    }
    const uint8_t *ws = w.p[w.n - 1];
    size_t wl = w.l[w.n - 1];
    uint8_t h[32];
    pk_sha256(ws, wl, h);
    w.n--;
    if (memcmp(h, prog, 32) != 0) {
        p->spend = SPEND_UNKNOWN;
        p->fail = "witness script does not match the P2WSH hash";
        return;
    }
    if (!items_within_limit(&w) || (p->fail = script_limits(ws, wl, &WITNESS_SCRIPT_LIMITS))) {
        p->spend = SPEND_UNKNOWN;
        if (!p->fail)
            p->fail = "witness item over 520 bytes (PUSH_SIZE)";
        return;
    }
    run_script(c, p, ws, wl, &w, wrapped ? WRAP_P2SH_P2WSH : WRAP_P2WSH);
}

static void taproot_key(ctx *c, input_plan *p, const uint8_t *prog)
{
    items w;
    if (witness_items(c->b->data, c->ins[p->vin].witness, &w) < 0) {
        unchecked(c, p, PK_UNCHECKED_TAPSCRIPT);
        return;
    }
    const uint8_t *annex = NULL;
    size_t al = 0;
    if (w.n >= 2 && w.l[w.n - 1] >= 1 && w.p[w.n - 1][0] == 0x50) {
        annex = w.p[w.n - 1], al = w.l[w.n - 1];
        w.n--;
    }
    if (w.n >= 2) {
        unchecked(c, p, PK_UNCHECKED_TAPSCRIPT);
        return;
    }
    p->spend = PK_SPEND_P2TR_KEY;
    if (w.n == 0) {
        p->fail = "empty taproot witness";
        return;
    }
    size_t sl = w.l[0];
    if (sl != 64 && !(sl == 65 && w.p[0][64] != 0)) {
        p->fail = sl == 65 ? "taproot signature with an explicit default hash type" : "taproot signature is not 64 or 65 bytes";
        return;
    }
    if (!c->have341) {
        pk_bip341_precompute(c->b, c->t, c->spent, &c->c341);
        c->have341 = 1;
    }
    uint8_t h[32];
    if (pk_sighash_bip341(c->b, c->t, &c->c341, c->spent, p->vin, sl == 65 ? w.p[0][64] : 0, annex, al, h)) {
        p->fail = "taproot hash type undefined, or SINGLE without its output";
        return;
    }
    p->first = c->nc;
    pk_sig_check *x = new_check(c, SIZE_MAX);
    x->type = PK_SIG_SCHNORR;
    memcpy(x->pubkey, prog, 32);
    x->pubkey_len = 32;
    memcpy(x->sig, w.p[0], 64);
    x->sig_len = 64;
    memcpy(x->msg, h, 32);
    x->msg_len = 32;
    c->rep->signatures++;
    c->rep->schnorr++;
}

/* Once segwit is active, a spend that is not a witness program's must
 * carry no witness (Core's WITNESS_UNEXPECTED). */
static int witness_unexpected(ctx *c, input_plan *p)
{
    size_t w = c->ins[p->vin].witness;
    if (!c->segwit_on || !w || c->b->data[w] == 0)
        return 0;
    p->spend = SPEND_UNKNOWN;
    p->fail = "witness data on a spend that takes none";
    return 1;
}

/* With the spent output: what it demands of the scriptSig and witness. */
static void by_prevout(ctx *c, input_plan *p, const pk_prevout *po, const items *ss, int k)
{
    const uint8_t *prog;
    size_t plen;
    if (is_p2sh(po->script, po->script_len)) {
        if (k == -2) {
            unchecked(c, p, PK_UNCHECKED_SCRIPT);
            return;
        }
        p->spend = SPEND_UNKNOWN; /* until the redeem script says */
        if (k < 1) {
            p->fail = k < 0 ? "P2SH scriptSig is not push-only" : "empty P2SH scriptSig";
            return;
        }
        const uint8_t *rs = ss->p[k - 1];
        size_t rl = ss->l[k - 1];
        uint8_t h[20];
        hash160(rs, rl, h);
        if (memcmp(h, po->script + 2, 20) != 0) {
            p->fail = "redeem script does not match the P2SH hash";
            return;
        }
        int v = witness_program(rs, rl, &prog, &plen);
        if (v == 0 && c->segwit_on) {
            /* Exactly the one canonical push of the program (Core's
             * WITNESS_MALLEATED_P2SH): no PUSHDATA1 form, nothing else. */
            const uint8_t *sig = c->b->data + c->ins[p->vin].script;
            if (k != 1 || c->ins[p->vin].script_len != 1 + rl || sig[0] != rl) {
                p->fail = k != 1 ? "P2SH-wrapped witness spend with more than the redeem script in its scriptSig"
                                 : "P2SH-wrapped witness program not pushed canonically (WITNESS_MALLEATED_P2SH)";
                return;
            }
            witness_v0(c, p, prog, plen, 1);
            return;
        }
        if (v > 0 && c->segwit_on) {
            unchecked(c, p, PK_UNCHECKED_SCRIPT); /* no rules for it yet: anyone can spend */
            return;
        }
        if (witness_unexpected(c, p))
            return;
        items st = *ss;
        st.n--;
        run_script(c, p, rs, rl, &st, WRAP_P2SH);
        return;
    }
    int v = witness_program(po->script, po->script_len, &prog, &plen);
    if (v >= 0) {
        if (!c->segwit_on || (v == 1 && plen == 32 && !c->taproot_on)) {
            unchecked(c, p, PK_UNCHECKED_INACTIVE);
            return;
        }
        if (v > 1 || (v == 1 && plen != 32)) {
            unchecked(c, p, PK_UNCHECKED_SCRIPT);
            return;
        }
        if (c->ins[p->vin].script_len != 0) {
            p->spend = SPEND_UNKNOWN;
            p->fail = "witness spend with a non-empty scriptSig";
            return;
        }
        if (v == 0)
            witness_v0(c, p, prog, plen, 0);
        else
            taproot_key(c, p, prog);
        return;
    }
    if (witness_unexpected(c, p))
        return;
    if (k < 0) {
        unchecked(c, p, PK_UNCHECKED_SCRIPT);
        return;
    }
    run_script(c, p, po->script, po->script_len, ss, WRAP_BARE);
}

/* Without it: the legacy spends that carry their key or redeem script. */
static void by_scriptsig(ctx *c, input_plan *p, const items *ss, int k)
{
    tmpl tp;
    if (k == 2 && ss->l[0] >= 9 && ss->l[0] <= 74 && is_pubkey(ss->p[1], ss->l[1])) {
        uint8_t code[25] = {0x76, 0xa9, 0x14};
        hash160(ss->p[1], ss->l[1], code + 3);
        code[23] = 0x88, code[24] = 0xac;
        parse_template(code, 25, &tp);
        run_template(c, p, &tp, code, 25, ss, WRAP_BARE, 1);
    } else if (k >= 2 && parse_template(ss->p[k - 1], ss->l[k - 1], &tp) && !(tp.kind == T_MULTISIG && tp.m == 0)) {
        items st = *ss;
        st.n--;
        run_template(c, p, &tp, ss->p[k - 1], ss->l[k - 1], &st, WRAP_P2SH, 0);
    } else {
        unchecked(c, p, PK_UNCHECKED_NEEDS_PREVOUTS);
    }
}

/* The BIP34 height: the coinbase's scriptSig starts with CScript() <<
 * height, i.e. OP_1..OP_16 for 1 to 16, else a push of 1 to 4 bytes of a
 * minimal, non-negative script number.  -1 for a version 1 block (before
 * BIP34: no height by design), -2 when a later block does not start its
 * coinbase that way (then the height is not known, not guessed). */
static int64_t block_height(const pk_block *b)
{
    if (b->size < 80 || pk_header_version(b->data) < 2)
        return -1;
    const pk_tx *cb = &b->tx[0];
    size_t pos = cb->first_in_offset + 36;
    uint64_t l = pk_compact_get(b->data, &pos);
    const uint8_t *sc = b->data + pos;
    if (l < 1)
        return -2;
    if (sc[0] >= 0x51 && sc[0] <= 0x60)
        return sc[0] - 0x50;
    size_t n = sc[0];
    if (n < 1 || n > 4 || n + 1 > l)
        return -2;
    const uint8_t *num = sc + 1;
    if (num[n - 1] & 0x80)
        return -2; /* negative */
    if ((num[n - 1] & 0x7f) == 0 && (n == 1 || !(num[n - 2] & 0x80)))
        return -2; /* not minimal */
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++)
        h |= (uint32_t)num[i] << (8 * i);
    if (h <= 16)
        return -2; /* CScript writes these as OP_0..OP_16 */
    return h;
}

/* An input's P2SH and witness signature operation cost (Core's
 * GetP2SHSigOpCount x 4 + CountWitnessSigOps), from its spent output. */
static uint64_t input_sigop_cost(const pk_block *b, const pk_txin_ref *in, const pk_prevout *po, int segwit_on)
{
    const uint8_t *ss = b->data + in->script, *last, *prog;
    size_t sl = in->script_len, ll, plen;
    int push_only = pk_script_last_push(ss, sl, &last, &ll) == 0, p2sh = is_p2sh(po->script, po->script_len);
    uint64_t cost = 0;
    if (p2sh && push_only)
        cost += PK_WITNESS_SCALE * pk_script_sigops(last, ll, 1);
    if (!segwit_on)
        return cost;
    int v = witness_program(po->script, po->script_len, &prog, &plen);
    if (v < 0 && p2sh && push_only)
        v = witness_program(last, ll, &prog, &plen);
    if (v != 0)
        return cost;
    if (plen == 20)
        return cost + 1;
    size_t w = in->witness;
    if (plen != 32 || !w)
        return cost;
    const uint8_t *d = b->data;
    uint64_t n = pk_compact_get(d, &w);
    if (n == 0)
        return cost;
    for (uint64_t i = 0; i + 1 < n; i++) {
        uint64_t l = pk_compact_get(d, &w);
        w += (size_t)l;
    }
    uint64_t l = pk_compact_get(d, &w);
    return cost + pk_script_sigops(d + w, (size_t)l, 1);
}

/* Consensus CHECKMULTISIG over the candidate results: signatures in
 * order, each against the keys left, in order. */
static int resolve_multisig(const pk_sig_check *ch, int m, int n)
{
    int isig = 0, ikey = 0;
    while (isig < m) {
        if (m - isig > n - ikey)
            return 0;
        /* the pair (isig, ikey) sits at isig*(n-m+1) + (ikey-isig) */
        if (ch[(size_t)isig * (size_t)(n - m + 1) + (size_t)(ikey - isig)].valid == 1)
            isig++;
        ikey++;
    }
    return 1;
}

uint64_t pk_sc_tx_sigop_cost(const pk_block *b, size_t ti, const pk_txin_ref *ins, const pk_prevout *spent,
                             int segwit_on, int legacy)
{
    const pk_tx *t = &b->tx[ti];
    uint64_t cost = legacy ? PK_WITNESS_SCALE * pk_tx_legacy_sigops(b, t) : 0;
    if (ti > 0)
        for (uint32_t vi = 0; vi < t->n_in; vi++)
            cost += input_sigop_cost(b, &ins[vi], &spent[vi], segwit_on);
    return cost;
}

int pk_block_verify_sigs(const pk_block *b, const pk_sigcheck_opts *opts, pk_verifier *v, pk_sig_report *rep)
{
    static const pk_sigcheck_opts defaults = {NULL, -1, 1, 0, 0, 0, 0, 0};
    if (!opts)
        opts = &defaults;
    memset(rep, 0, sizeof *rep);
    double t0 = pk_now();
    ctx c = {.b = b, .rep = rep};
    int64_t h = opts->height >= 0 ? opts->height : block_height(b);
    if (h == -2) {
        rep->height = -1;
        if (opts->mainnet) {
            /* Which rules apply depends on the height: refuse to guess. */
            rep->error = "the coinbase does not start with a BIP34 height: give the block's height (--height) "
                         "to choose the consensus rules";
            return -2;
        }
        h = -1;
    }
    rep->height = h;
    /* Mainnet without a height: a version 1 block, before BIP34 and so
     * before BIP66 and segwit too. */
    int main_rules = opts->mainnet;
    c.flags = main_rules && h < BIP66_HEIGHT ? PK_SIG_LAX_DER : 0;
    c.segwit_on = !main_rules || h >= SEGWIT_HEIGHT;
    c.taproot_on = !main_rules || h >= TAPROOT_HEIGHT;
    uint64_t sigop_cost;
    if (opts->prevouts) {
        /* Every input through the interpreter, the sigop cost from the
         * spent outputs counted on the way (pk_sc_run_scripts). */
        pk_sc_run_scripts(b, opts, h, v, rep);
        return rep->failed_inputs || rep->sigops_exceeded ? -1 : 0;
    }
    sigop_cost = PK_WITNESS_SCALE * pk_block_legacy_sigops(b);
    for (size_t ti = 1; ti < b->ntx; ti++) {
        c.t = &b->tx[ti];
        c.ti = ti;
        c.ins = malloc(c.t->n_in * sizeof *c.ins);
        if (!c.ins)
            abort();
        pk_tx_inputs(b, c.t, c.ins);
        c.spent = opts->prevouts ? pk_prevouts_of(opts->prevouts, ti) : NULL;
        c.have143 = c.have341 = 0;
        c.iall = SIZE_MAX;
        for (uint32_t vi = 0; vi < c.t->n_in; vi++) {
            rep->inputs++;
            items ss;
            const uint8_t *sig_script = b->data + c.ins[vi].script;
            int k = pushes(sig_script, c.ins[vi].script_len, &ss);
            input_plan p = {ti, vi, -1, 0, 0, 0, c.nc, NULL};
            if (c.spent)
                sigop_cost += input_sigop_cost(c.b, &c.ins[vi], &c.spent[vi], c.segwit_on);
            if ((p.fail = script_limits(sig_script, c.ins[vi].script_len, &SCRIPTSIG_LIMITS)))
                p.spend = SPEND_UNKNOWN; /* fails whatever it spends */
            else if (c.spent)
                by_prevout(&c, &p, &c.spent[vi], &ss, k);
            else
                by_scriptsig(&c, &p, &ss, k);
            if (p.spend < 0)
                continue;
            if (p.spend != SPEND_UNKNOWN)
                rep->by_spend[p.spend]++;
            c.plan = pk_sc_grow(c.plan, &c.pcap, c.np + 1, sizeof *c.plan);
            c.plan[c.np++] = p;
        }
        free(c.ins);
        if (c.have341)
            pk_bip341_cache_free(&c.c341);
    }
    rep->sigop_cost = sigop_cost;
    rep->sigop_cost_complete = opts->prevouts != NULL;
    rep->sigops_exceeded = sigop_cost > PK_MAX_BLOCK_SIGOPS_COST;
    double tj = pk_now();
    /* The signature hashes on the pool, then into their checks. */
    pk_verifier_for(v, c.nj, 8, job_run, &c);
    for (size_t i = 0; i < c.nc; i++)
        if (c.check_job[i] != SIZE_MAX)
            memcpy(c.checks[i].msg, c.jobs[c.check_job[i]].out, 32);
    for (size_t i = 0; i < c.nj; i++)
        free(c.jobs[i].owned);
    double t1 = pk_now();
    rep->ms_extract = (t1 - t0) * 1e3;
    rep->ms_classify = (tj - t0) * 1e3;
    rep->ms_sighash = (t1 - tj) * 1e3;
    rep->candidates = c.nc;
    if (c.nc)
        pk_verifier_run(v, c.checks, c.nc, 0);
    rep->ms_verify = (pk_now() - t1) * 1e3;
    for (size_t i = 0; i < c.np; i++) {
        input_plan *p = &c.plan[i];
        const pk_sig_check *ch = c.checks ? c.checks + p->first : NULL; /* NULL: no checks at all, only failures */
        const char *why = p->fail;
        if (!why && p->multisig && !resolve_multisig(ch, p->m, p->n))
            why = "CHECKMULTISIG: signatures do not match the keys in order";
        if (!why && !p->multisig && ch->valid != 1)
            why = ch->reason ? ch->reason : "verify failed";
        if (!why) {
            rep->valid_inputs++;
            continue;
        }
        pk_sig_failure *nf = realloc(rep->failures, (rep->failed_inputs + 1) * sizeof *rep->failures);
        if (!nf)
            abort();
        rep->failures = nf;
        pk_sig_failure *f = &rep->failures[rep->failed_inputs++];
        f->tx = p->tx;
        f->vin = p->vin;
        memcpy(f->txid, b->tx[p->tx].txid, 32);
        f->reason = why;
    }
    free(c.checks);
    free(c.check_job);
    free(c.jobs);
    for (size_t i = 0; i < c.n143; i++)
        pk_bip143_cache_free(&c.c143[i]);
    free(c.c143);
    for (size_t i = 0; i < c.nall; i++)
        pk_legacy_all_free(&c.all[i]);
    free(c.all);
    free(c.plan);
    return rep->failed_inputs || rep->sigops_exceeded ? -1 : 0;
}

void pk_sig_report_free(pk_sig_report *rep)
{
    free(rep->failures);
    free(rep->unchecked);
    free(rep->kept);
    rep->failures = NULL;
    rep->unchecked = NULL;
    rep->kept = NULL;
    rep->n_kept = 0;
}
