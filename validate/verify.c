/* Batch signature verifier (see include/powkit/verify.h). */
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "lax_der.h"
#include "powkit/util.h"
#include "powkit/verify.h"
#include "secp256k1/batch.h"
#include "verifier_internal.h"

#define CHUNK 16

struct pk_verifier {
    secp256k1_context *ctx; /* verification only: read-only, shared by all threads */
    pk_engine engine;
    const pk_engine_impl *impl; /* powkit's own engine, or NULL: libsecp256k1 */
    int bip340_batch;           /* BIP340 checks by batches (powkit's engines) */
    unsigned nthreads;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    /* the batch in progress: checks[i], or *ptrs[i] when ptrs is set (a
     * caller's checks where they lie, not copied together) */
    pk_sig_check *checks;
    pk_sig_check *const *ptrs;
    size_t n;
    _Atomic size_t next, valid;
    _Atomic int failed;
    int stop_at_failure;
    void (*fn)(void *arg, size_t i); /* a parallel loop instead of checks */
    void *arg;
    size_t chunk;
    _Atomic uint64_t batch; /* increments per batch: workers wait for a new one */
    _Atomic unsigned busy;  /* workers still on the batch */
    _Atomic int quit;
    double spin_s; /* how long a thread spins for the next batch before it sleeps */
    /* A user's buffers kept between its runs (see verifier_internal.h). */
    void *scratch;
    void (*scratch_free)(void *);
};

/* Lax DER: what early Bitcoin nodes accepted (any length bytes, padding),
 * reduced to a 64-byte compact signature; overflowing R or S fail.  Written
 * here from the DER rules, as the Debian package lacks libsecp256k1's
 * contrib parser. */
int pk_ecdsa_parse_der_lax(const secp256k1_context *ctx, secp256k1_ecdsa_signature *sig, const uint8_t *in,
                         size_t len)
{
    size_t pos = 0;
    uint8_t rs[64] = {0};
    if (pos == len || in[pos++] != 0x30)
        return 0;
    if (pos == len)
        return 0;
    size_t lenbyte = in[pos++];
    if (lenbyte & 0x80) {
        lenbyte -= 0x80;
        if (lenbyte > len - pos)
            return 0;
        pos += lenbyte; /* the sequence length is not trusted */
    }
    for (int part = 0; part < 2; part++) {
        if (pos == len || in[pos++] != 0x02 || pos == len)
            return 0;
        size_t l = in[pos++];
        if (l & 0x80) {
            size_t nb = l - 0x80;
            if (nb > len - pos)
                return 0;
            while (nb > 0 && in[pos] == 0)
                pos++, nb--;
            if (nb >= sizeof(size_t))
                return 0;
            l = 0;
            while (nb-- > 0)
                l = (l << 8) + in[pos++];
        }
        if (l > len - pos)
            return 0;
        const uint8_t *v = in + pos;
        size_t vl = l;
        pos += l;
        while (vl > 0 && *v == 0)
            v++, vl--;
        if (vl > 32)
            return 0; /* overflow: not a valid signature */
        memcpy(rs + 32 * part + 32 - vl, v, vl);
    }
    if (!secp256k1_ecdsa_signature_parse_compact(ctx, sig, rs)) {
        /* R or S at or above the order: reject as consensus does. */
        return 0;
    }
    return 1;
}

/* A parsed check in the form powkit's engines take. */
typedef struct prepared {
    uint8_t rs[64], pub[65];
} prepared;

/* Parses c: 1 with job ready for an engine (v->impl) or verified here by
 * libsecp256k1 (no engine: c's answer set, 0 returned), 0 with c's answer
 * set when parsing decides it. */
static int prepare(pk_verifier *v, pk_sig_check *c, pk_engine_job *job, prepared *buf)
{
    c->valid = 0;
    c->reason = NULL;
    if (c->type == PK_SIG_SCHNORR) {
        secp256k1_xonly_pubkey pk;
        if (c->pubkey_len != 32 || ((c->sig_len != 64 || !v->impl) && !secp256k1_xonly_pubkey_parse(v->ctx, &pk, c->pubkey))) {
            c->reason = "bad pubkey";
            return 0;
        }
        if (c->sig_len != 64) {
            c->reason = "bad signature length";
            return 0;
        }
        if (!v->impl) {
            c->valid = (int8_t)secp256k1_schnorrsig_verify(v->ctx, c->sig, c->msg, c->msg_len, &pk);
            if (!c->valid)
                c->reason = "verify failed";
            return 0;
        }
        /* the engine lifts the key itself (and says when it does not) */
        *job = (pk_engine_job){PK_ENGINE_JOB_SCHNORR, c->sig, c->msg, c->msg_len, c->pubkey, 0};
        return 1;
    }
    secp256k1_pubkey pk;
    secp256k1_ecdsa_signature sig;
    /* A compressed key goes to an engine as it is: the engine lifts it (a
     * square root, done eight at a time in the IFMA lanes) and says when
     * it is not a point.  Where the answer is decided before, the key is
     * parsed here so that a bad key is the reason, as it is for
     * libsecp256k1. */
    int lazy = v->impl && c->pubkey_len == 33 && (c->pubkey[0] == 2 || c->pubkey[0] == 3);
    if (!lazy && !secp256k1_ec_pubkey_parse(v->ctx, &pk, c->pubkey, c->pubkey_len)) {
        c->reason = "bad pubkey";
        return 0;
    }
    int compact = (c->flags & PK_SIG_COMPACT) != 0;
    int parsed = compact ? c->sig_len == 64 && secp256k1_ecdsa_signature_parse_compact(v->ctx, &sig, c->sig)
                 : (c->flags & PK_SIG_LAX_DER) ? pk_ecdsa_parse_der_lax(v->ctx, &sig, c->sig, c->sig_len)
                                               : secp256k1_ecdsa_signature_parse_der(v->ctx, &sig, c->sig, c->sig_len);
    const char *early = NULL;
    if (!parsed || c->msg_len != 32)
        early = parsed ? "message is not 32 bytes" : compact ? "bad signature" : "bad DER";
    else if (secp256k1_ecdsa_signature_normalize(v->ctx, &sig, &sig) && (c->flags & PK_SIG_LOW_S))
        early = "high S";
    if (early) {
        c->reason = lazy && !secp256k1_ec_pubkey_parse(v->ctx, &pk, c->pubkey, c->pubkey_len) ? "bad pubkey" : early;
        return 0;
    }
    if (!v->impl) {
        c->valid = (int8_t)secp256k1_ecdsa_verify(v->ctx, &sig, c->msg, &pk);
        if (!c->valid)
            c->reason = "verify failed";
        return 0;
    }
    secp256k1_ecdsa_signature_serialize_compact(v->ctx, buf->rs, &sig);
    if (lazy) {
        memcpy(buf->pub, c->pubkey, 33);
    } else {
        size_t pl = sizeof buf->pub;
        secp256k1_ec_pubkey_serialize(v->ctx, buf->pub, &pl, &pk, SECP256K1_EC_UNCOMPRESSED);
    }
    *job = (pk_engine_job){PK_ENGINE_JOB_ECDSA, buf->rs, c->msg, 32, buf->pub, 0};
    return 1;
}

static void finish(pk_sig_check *c, const pk_engine_job *job)
{
    c->valid = job->result == 1;
    c->reason = job->result == 1 ? NULL : job->result < 0 ? "bad pubkey" : "verify failed";
}

void pk_sig_check_one(pk_verifier *v, pk_sig_check *c)
{
    pk_engine_job job;
    prepared buf;
    if (prepare(v, c, &job, &buf)) {
        v->impl->batch(&job, 1);
        finish(c, &job);
    }
}

/* The batch's check i. */
static pk_sig_check *check_at(const pk_verifier *v, size_t i) { return v->ptrs ? v->ptrs[i] : &v->checks[i]; }

/* The batch's checks idx[0..n), or from..from+n when idx is NULL (n at
 * most ENGINE_CHUNK), through v's engine in one batch. */
#define ENGINE_CHUNK 64
static void check_chunk(pk_verifier *v, const size_t *idx, size_t from, size_t n)
{
    pk_engine_job jobs[ENGINE_CHUNK];
    prepared buf[ENGINE_CHUNK];
    pk_sig_check *at[ENGINE_CHUNK];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        pk_sig_check *c = check_at(v, idx ? idx[i] : from + i);
        if (prepare(v, c, &jobs[k], &buf[k]))
            at[k++] = c;
    }
    if (k)
        v->impl->batch(jobs, k);
    for (size_t i = 0; i < k; i++)
        finish(at[i], &jobs[i]);
}

/* ---- engines ---- */

/* powkit's own engines by pk_engine value (NULL: libsecp256k1's). */
static const pk_engine_impl *const IMPLS[PK_ENGINE_COUNT] = {NULL, &pk_engine_portable, &pk_engine_ifma};

const char *pk_engine_name(pk_engine e)
{
    if ((unsigned)e >= PK_ENGINE_COUNT)
        return "unknown";
    return IMPLS[e] ? IMPLS[e]->name : "libsecp256k1";
}

int pk_engine_parse(const char *name, pk_engine *out)
{
    for (int e = 0; e < PK_ENGINE_COUNT; e++) {
        if (strcmp(name, pk_engine_name((pk_engine)e)) == 0) {
            *out = (pk_engine)e;
            return 0;
        }
    }
    return -1;
}

static int disabled(const char *name)
{
    const char *d = getenv("POWKIT_DISABLE");
    size_t l = strlen(name);
    for (const char *p = d; p && *p;) {
        size_t k = strcspn(p, ",");
        if (k == l && strncmp(p, name, l) == 0)
            return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

/* An engine against libsecp256k1 on signatures made here: valid ones, and
 * each with one bit changed, ECDSA and BIP340. */
static int selftest(const pk_engine_impl *impl)
{
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    int ok = ctx != NULL;
    for (int i = 0; ok && i < 4; i++) {
        uint8_t key[32], msg[32], rs[64], pub[65], sig64[64], aux[32] = {0};
        for (int k = 0; k < 32; k++)
            key[k] = (uint8_t)(0x31 * (i + 1) + k), msg[k] = (uint8_t)(0x17 * k + i);
        secp256k1_pubkey pk;
        secp256k1_ecdsa_signature sig;
        secp256k1_keypair kp;
        secp256k1_xonly_pubkey xo;
        uint8_t x32[32];
        size_t pl = sizeof pub;
        if (!secp256k1_ec_pubkey_create(ctx, &pk, key) || !secp256k1_ecdsa_sign(ctx, &sig, msg, key, NULL, NULL) ||
            !secp256k1_keypair_create(ctx, &kp, key) || !secp256k1_schnorrsig_sign32(ctx, sig64, msg, &kp, aux) ||
            !secp256k1_keypair_xonly_pub(ctx, &xo, NULL, &kp) || !secp256k1_xonly_pubkey_serialize(ctx, x32, &xo)) {
            ok = 0;
            break;
        }
        secp256k1_ec_pubkey_serialize(ctx, pub, &pl, &pk, SECP256K1_EC_UNCOMPRESSED);
        secp256k1_ecdsa_signature_serialize_compact(ctx, rs, &sig);
        ok &= impl->ecdsa(rs, msg, pub) == 1;
        ok &= impl->schnorr(sig64, msg, 32, x32) == 1;
        rs[5 + i] ^= 0x10;
        sig64[40 + i] ^= 0x01;
        ok &= impl->ecdsa(rs, msg, pub) == 0;
        ok &= impl->schnorr(sig64, msg, 32, x32) == 0;
    }
    if (ctx)
        secp256k1_context_destroy(ctx);
    return ok;
}

static int g_usable[PK_ENGINE_COUNT];
static pthread_once_t g_selftests = PTHREAD_ONCE_INIT;

static void run_selftests(void)
{
    for (int e = 0; e < PK_ENGINE_COUNT; e++)
        g_usable[e] = !IMPLS[e] || (IMPLS[e]->supported() && selftest(IMPLS[e]));
}

int pk_engine_available(pk_engine e)
{
    if ((unsigned)e >= PK_ENGINE_COUNT)
        return 0;
    if (!IMPLS[e])
        return 1;
    if (disabled(IMPLS[e]->name))
        return 0;
    pthread_once(&g_selftests, run_selftests);
    return g_usable[e];
}

pk_engine pk_engine_default(void)
{
    /* POWKIT_ENGINE names another default (scripts, tests of every engine) */
    pk_engine e;
    const char *want = getenv("POWKIT_ENGINE");
    if (want && *want && pk_engine_parse(want, &e) == 0 && pk_engine_available(e))
        return e;
    /* the fastest first: ifma (about 3x libsecp256k1 per core where the CPU
     * has it), then libsecp256k1 (the portable engine is slower than it) */
    static const pk_engine order[] = {PK_ENGINE_IFMA, PK_ENGINE_LIBSECP256K1};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (pk_engine_available(order[i]))
            return order[i];
    return PK_ENGINE_LIBSECP256K1;
}

int pk_verifier_set_engine(pk_verifier *v, pk_engine e)
{
    if (!pk_engine_available(e))
        return -1;
    v->engine = e;
    v->impl = IMPLS[e];
    return 0;
}

pk_engine pk_verifier_engine(const pk_verifier *v) { return v->engine; }

/* Take chunks until the batch is done (or a failure stops it). */
static void work(pk_verifier *v)
{
    for (;;) {
        if (v->stop_at_failure && atomic_load(&v->failed))
            return;
        size_t i = atomic_fetch_add(&v->next, v->chunk);
        if (i >= v->n)
            return;
        size_t end = i + v->chunk < v->n ? i + v->chunk : v->n;
        if (v->fn) {
            for (; i < end; i++)
                v->fn(v->arg, i);
            continue;
        }
        if (v->impl)
            check_chunk(v, NULL, i, end - i);
        for (; i < end; i++) {
            if (!v->impl)
                pk_sig_check_one(v, check_at(v, i));
            if (check_at(v, i)->valid)
                atomic_fetch_add(&v->valid, 1);
            else
                atomic_store(&v->failed, 1);
        }
    }
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spins up to v->spin_s while done() is false; returns done().  A block's
 * stages hand the threads a new loop every few hundred microseconds, a
 * dozen loops a block, and a thread asleep on a condition variable takes
 * microseconds to tens of them to wake (more on a virtual machine), each
 * time.  Past the spin, the threads sleep as before (an idle verifier
 * costs nothing). */
static int spin_until(const pk_verifier *v, int (*done)(const pk_verifier *v, uint64_t seen), uint64_t seen)
{
    if (done(v, seen))
        return 1;
    if (v->spin_s <= 0)
        return 0;
    double until = pk_now() + v->spin_s;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            cpu_relax();
            if (done(v, seen))
                return 1;
        }
        if (pk_now() > until)
            return done(v, seen);
    }
}

static int new_batch(const pk_verifier *v, uint64_t seen)
{
    return atomic_load_explicit(&v->batch, memory_order_acquire) != seen ||
           atomic_load_explicit(&v->quit, memory_order_relaxed);
}

static int all_done(const pk_verifier *v, uint64_t seen)
{
    (void)seen;
    return atomic_load_explicit(&v->busy, memory_order_acquire) == 0;
}

static void *worker(void *arg)
{
    pk_verifier *v = arg;
    uint64_t seen = 0;
    for (;;) {
        if (!spin_until(v, new_batch, seen)) {
            pthread_mutex_lock(&v->mu);
            while (!new_batch(v, seen))
                pthread_cond_wait(&v->cv, &v->mu);
            pthread_mutex_unlock(&v->mu);
        }
        if (atomic_load(&v->quit))
            break;
        seen = atomic_load_explicit(&v->batch, memory_order_acquire);
        work(v);
        /* The last one out wakes the caller, under the lock it waits with,
         * so that the wake cannot fall between its test and its wait. */
        if (atomic_fetch_sub_explicit(&v->busy, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&v->mu);
            pthread_cond_signal(&v->done_cv);
            pthread_mutex_unlock(&v->mu);
        }
    }
    return NULL;
}

pk_verifier *pk_verifier_new(unsigned threads)
{
    pk_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    v->nthreads = threads ? threads : (unsigned)(online > 0 ? online : 1);
#ifdef SECP256K1_CONTEXT_NONE
    v->ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
#else
    v->ctx = secp256k1_context_create(SECP256K1_CONTEXT_VERIFY);
#endif
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    pthread_cond_init(&v->done_cv, NULL);
    v->th = calloc(v->nthreads, sizeof *v->th);
    v->engine = pk_engine_default();
    v->impl = IMPLS[v->engine];
    v->bip340_batch = 1;
    /* POWKIT_SPIN_US: how long an idle thread spins for the next batch
     * (default 200 microseconds; 0 sleeps at once). */
    const char *spin = getenv("POWKIT_SPIN_US");
    v->spin_s = (spin && *spin ? atof(spin) : 200.0) * 1e-6;
    if (!v->ctx || !v->th) {
        pk_verifier_free(v);
        return NULL;
    }
    /* The caller is one of the threads: start nthreads - 1 helpers. */
    for (unsigned i = 0; i + 1 < v->nthreads; i++) {
        if (pthread_create(&v->th[i], NULL, worker, v) != 0) {
            v->nthreads = i + 1;
            break;
        }
    }
    return v;
}

unsigned pk_verifier_threads(const pk_verifier *v) { return v->nthreads; }

void *pk_verifier_scratch(pk_verifier *v, void (*free_fn)(void *))
{
    return v->scratch_free == free_fn ? v->scratch : NULL;
}

void pk_verifier_keep_scratch(pk_verifier *v, void *p, void (*free_fn)(void *))
{
    if (v->scratch_free && v->scratch != p)
        v->scratch_free(v->scratch);
    v->scratch = p;
    v->scratch_free = free_fn;
}

void pk_verifier_free(pk_verifier *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    atomic_store(&v->quit, 1);
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
    for (unsigned i = 0; v->th && i + 1 < v->nthreads; i++)
        pthread_join(v->th[i], NULL);
    free(v->th);
    if (v->scratch_free)
        v->scratch_free(v->scratch);
    if (v->ctx)
        secp256k1_context_destroy(v->ctx);
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    pthread_cond_destroy(&v->done_cv);
    free(v);
}

/* Hands the batch set up in v to the helpers, works on it too, and
 * returns when every thread is done with it. */
static void run_batch_with(pk_verifier *v, void (*own)(void *), void *own_arg);

static void run_batch(pk_verifier *v)
{
    run_batch_with(v, NULL, NULL);
}

static void run_batch_with(pk_verifier *v, void (*own)(void *), void *own_arg)
{
    atomic_store(&v->next, 0);
    atomic_store(&v->valid, 0);
    atomic_store(&v->failed, 0);
    atomic_store_explicit(&v->busy, v->nthreads - 1, memory_order_relaxed);
    pthread_mutex_lock(&v->mu);
    /* Release: a spinning worker that sees the new number sees the batch. */
    atomic_fetch_add_explicit(&v->batch, 1, memory_order_release);
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
    if (own)
        own(own_arg);
    work(v);
    if (!spin_until(v, all_done, 0)) {
        pthread_mutex_lock(&v->mu);
        while (!all_done(v, 0))
            pthread_cond_wait(&v->done_cv, &v->mu);
        pthread_mutex_unlock(&v->mu);
    }
}

static void pool_run(void *self, size_t n, size_t chunk, void (*fn)(void *arg, size_t i), void *arg)
{
    pk_verifier_for(self, n, chunk, fn, arg);
}

static void pool_run_with(void *self, size_t n, size_t chunk, void (*fn)(void *arg, size_t i), void *arg,
                          void (*own)(void *), void *own_arg)
{
    pk_verifier *v = self;
    v->fn = fn;
    v->arg = arg;
    v->n = n;
    v->chunk = chunk ? chunk : 1;
    v->stop_at_failure = 0;
    run_batch_with(v, own, own_arg);
    v->fn = NULL;
}

pk_pool pk_verifier_pool(pk_verifier *v)
{
    return (pk_pool){pool_run, v, pool_run_with};
}

void pk_verifier_for(pk_verifier *v, size_t n, size_t chunk, void (*fn)(void *arg, size_t i), void *arg)
{
    pool_run_with(v, n, chunk, fn, arg, NULL, NULL);
}

/* ---- BIP340 batches ---- */

/* The sums are done in the IFMA lanes where that engine is available
 * (not disabled), else by the portable code, whatever the engine of the
 * single checks.  Smaller batches are slower than single verification:
 * measured (bench_verify), the lanes' batches overtake the IFMA engine's
 * single checks near 128, the portable batches (Strauss's sums below 40
 * signatures, buckets above) libsecp256k1's near 32.
 * So a run batches only when each thread gets that many, and a failed
 * batch is split in halves down to that size, then checked one by one;
 * one batch holds at most BATCH_MAX. */
#define BATCH_MIN_LANES 128
#define BATCH_MIN_PORTABLE 32
#define BATCH_MAX 4096

void pk_verifier_set_batch(pk_verifier *v, int on) { v->bip340_batch = on != 0; }
int pk_verifier_batch(const pk_verifier *v) { return v->bip340_batch; }

/* The checks at idx[0..n) one at a time (the engine's lanes still fill). */
static void singles(pk_verifier *v, const size_t *idx, size_t n)
{
    if (!v->impl) {
        for (size_t i = 0; i < n; i++)
            pk_sig_check_one(v, check_at(v, idx[i]));
        return;
    }
    for (size_t i0 = 0; i0 < n; i0 += ENGINE_CHUNK)
        check_chunk(v, idx + i0, 0, n - i0 < ENGINE_CHUNK ? n - i0 : ENGINE_CHUNK);
}

/* BIP340 checks idx[0..n) as one batch; a failed one in halves. */
static void batch_checks(pk_verifier *v, size_t *idx, size_t n, int lanes)
{
    if (n < (lanes ? BATCH_MIN_LANES : BATCH_MIN_PORTABLE)) {
        singles(v, idx, n);
        return;
    }
    pk_bip340_item *items = malloc(n * sizeof *items);
    int8_t *alone = malloc(n);
    if (!items || !alone) {
        free(items);
        free(alone);
        singles(v, idx, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pk_sig_check *c = check_at(v, idx[i]);
        items[i] = (pk_bip340_item){c->sig, c->msg, c->msg_len, c->pubkey};
    }
    int all = pk_bip340_batch(items, n, alone, lanes);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        pk_sig_check *c = check_at(v, idx[i]);
        if (alone[i] == 1 && !all) {
            idx[k++] = idx[i]; /* undecided: in a half */
            continue;
        }
        c->valid = alone[i] == 1;
        c->reason = alone[i] == 1 ? NULL : alone[i] < 0 ? "bad pubkey" : "verify failed";
    }
    free(items);
    free(alone);
    if (k) {
        batch_checks(v, idx, k / 2, lanes);
        batch_checks(v, idx + k / 2, k - k / 2, lanes);
    }
}

typedef struct batch_plan {
    pk_verifier *v;
    size_t *idx, n, per; /* BIP340 checks, by batches of per */
    size_t *rest, nrest; /* the others, by ENGINE_CHUNK */
    int lanes;           /* the sums in the IFMA lanes */
} batch_plan;

static void batch_part(void *arg, size_t i)
{
    batch_plan *p = arg;
    size_t at = i * p->per, k = p->n - at < p->per ? p->n - at : p->per;
    batch_checks(p->v, p->idx + at, k, p->lanes);
}

static void rest_part(void *arg, size_t i)
{
    batch_plan *p = arg;
    if (p->v->stop_at_failure && atomic_load(&p->v->failed))
        return;
    size_t at = i * ENGINE_CHUNK, k = p->nrest - at < ENGINE_CHUNK ? p->nrest - at : ENGINE_CHUNK;
    singles(p->v, p->rest + at, k);
    for (size_t j = 0; j < k; j++)
        if (check_at(p->v, p->rest[at + j])->valid != 1)
            atomic_store(&p->v->failed, 1);
}

static int batchable(const pk_sig_check *c)
{
    return c->type == PK_SIG_SCHNORR && c->sig_len == 64 && c->pubkey_len == 32;
}

/* The run (of the batch set up in v) with BIP340 batches: 1 when it was
 * done so, 0 when batching does not apply (the caller runs the checks one
 * by one). */
static int run_with_batches(pk_verifier *v, size_t n, int stop_at_failure)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += (size_t)batchable(check_at(v, i));
    int lanes = pk_engine_available(PK_ENGINE_IFMA);
    if (count < (size_t)(lanes ? BATCH_MIN_LANES : BATCH_MIN_PORTABLE) * v->nthreads)
        return 0;
    batch_plan p = {v, malloc(count * sizeof(size_t)), count, 0, malloc((n - count + 1) * sizeof(size_t)), 0, lanes};
    if (!p.idx || !p.rest) {
        free(p.idx);
        free(p.rest);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (batchable(check_at(v, i)))
            p.idx[k++] = i;
        else
            p.rest[p.nrest++] = i;
    }
    size_t parts = v->nthreads;
    if ((count + parts - 1) / parts > BATCH_MAX)
        parts = (count + BATCH_MAX - 1) / BATCH_MAX;
    p.per = (count + parts - 1) / parts;
    atomic_store(&v->failed, 0);
    v->stop_at_failure = stop_at_failure;
    pk_verifier_for(v, (count + p.per - 1) / p.per, 1, batch_part, &p);
    for (size_t i = 0; i < count; i++)
        if (check_at(v, p.idx[i])->valid != 1)
            atomic_store(&v->failed, 1);
    if (p.nrest)
        pk_verifier_for(v, (p.nrest + ENGINE_CHUNK - 1) / ENGINE_CHUNK, 1, rest_part, &p);
    free(p.idx);
    free(p.rest);
    return 1;
}

/* The run of the n checks set up in v (checks or ptrs). */
static size_t run_set(pk_verifier *v, size_t n, int stop_at_failure)
{
    for (size_t i = 0; i < n; i++) {
        pk_sig_check *c = check_at(v, i);
        c->valid = -1;
        c->reason = "not checked";
    }
    size_t valid = 0;
    if (v->bip340_batch && run_with_batches(v, n, stop_at_failure)) {
        for (size_t i = 0; i < n; i++)
            valid += check_at(v, i)->valid == 1;
    } else {
        v->n = n;
        v->chunk = v->impl ? ENGINE_CHUNK : CHUNK;
        if (v->impl && n < (size_t)ENGINE_CHUNK * v->nthreads) {
            /* A small batch (a multisig pilot's round) split among the
             * threads, in whole lane groups of 8: not all on one thread. */
            size_t per = (n + v->nthreads - 1) / v->nthreads;
            v->chunk = per < 8 ? 8 : (per + 7) & ~(size_t)7;
        }
        v->stop_at_failure = stop_at_failure;
        run_batch(v);
        valid = atomic_load(&v->valid);
    }
    v->checks = NULL;
    v->ptrs = NULL;
    return valid;
}

size_t pk_verifier_run(pk_verifier *v, pk_sig_check *checks, size_t n, int stop_at_failure)
{
    v->checks = checks;
    v->ptrs = NULL;
    return run_set(v, n, stop_at_failure);
}

size_t pk_verifier_run_at(pk_verifier *v, pk_sig_check *const *checks, size_t n, int stop_at_failure)
{
    v->checks = NULL;
    v->ptrs = checks;
    return run_set(v, n, stop_at_failure);
}
