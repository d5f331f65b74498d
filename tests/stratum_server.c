#include "stratum_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 64
#define MAX_LINE (2 << 20)

typedef struct job {
    char id[16];
    char prevhash[65];
    uint8_t coinb1[64], coinb2[48];
    size_t c1, c2;
    uint8_t branch[2][32];
    uint32_t version, nbits, ntime;
    int diff_log2;
    uint8_t en1[32];
    size_t en1_len, en2_size;
    int valid;
    int seq;        /* order sent */
    int cleared_by; /* seq of the clean notify that voided it, 0 if none */
} job;

typedef struct action {
    int kind;
    int a, b;
    char *data;
    size_t len;
    struct action *next;
} action;

enum { A_NOTIFY = 1, A_DIFF, A_EXTRANONCE, A_SEND, A_DROP };

struct srv {
    srv_cfg cfg;
    int lfd, cfd, wake[2];
    SSL_CTX *ctx;
    SSL *ssl;
    pthread_t th;
    int stop, port;
    pthread_mutex_t mu;
    srv_stats st;
    action *head, *tail;
    job jobs[MAX_JOBS];
    int njobs;
    int diff_log2;
    uint8_t en1[32];
    size_t en1_len, en2_size;
    uint32_t mask;
    int version_on;
    int resumed; /* the current connection resumed the session */
    char session[32];
    char *buf;
    size_t blen;
    char **seen;
    size_t nseen;
    uint64_t rng;
    int newest_with_share; /* highest job seq a share arrived for */
    uint64_t chaos;        /* the soak's own generator */
    int conn_notify_first; /* this connection: the job before the subscribe answer */
    double next_chaos_notify;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t rnd(srv *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (uint32_t)s->rng;
}

/* A chance of per_mille in 1,000, from the soak's generator. */
static int chance(srv *s, unsigned per_mille)
{
    if (!s->cfg.chaos_seed)
        return 0;
    s->chaos ^= s->chaos << 13;
    s->chaos ^= s->chaos >> 7;
    s->chaos ^= s->chaos << 17;
    return s->chaos % 1000 < per_mille;
}

static void count(srv *s, int *field)
{
    pthread_mutex_lock(&s->mu);
    (*field)++;
    pthread_mutex_unlock(&s->mu);
}

static void close_client(srv *s);

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}

static int unhex(const char *h, uint8_t *out, size_t n)
{
    if (strlen(h) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static void sha256d(const uint8_t *d, size_t n, uint8_t out[32])
{
    uint8_t t[32];
    SHA256(d, n, t);
    SHA256(t, 32, out);
}

/* ---- output ---- */

static void out_raw(srv *s, const char *d, size_t n)
{
    if (s->cfd < 0)
        return;
    if (s->ssl) {
        SSL_write(s->ssl, d, (int)n);
        return;
    }
    while (n > 0) {
        ssize_t w = send(s->cfd, d, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        d += w;
        n -= (size_t)w;
    }
}

static void out_json(srv *s, json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    out_raw(s, t, strlen(t));
    out_raw(s, "\n", 1);
    free(t);
}

static void send_notify(srv *s, int clean)
{
    job *j = &s->jobs[s->njobs % MAX_JOBS];
    memset(j, 0, sizeof *j);
    j->seq = s->njobs + 1;
    snprintf(j->id, sizeof j->id, "j%d", s->njobs++);
    uint8_t ph[32];
    for (int i = 0; i < 32; i++)
        ph[i] = (uint8_t)rnd(s);
    hex(ph, 32, j->prevhash);
    j->c1 = 40 + rnd(s) % 20;
    j->c2 = 20 + rnd(s) % 20;
    for (size_t i = 0; i < j->c1; i++)
        j->coinb1[i] = (uint8_t)rnd(s);
    for (size_t i = 0; i < j->c2; i++)
        j->coinb2[i] = (uint8_t)rnd(s);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 32; i++)
            j->branch[b][i] = (uint8_t)rnd(s);
    j->version = 0x20000000;
    j->nbits = 0x1d00ffff;
    j->ntime = 0x65000000 + (uint32_t)s->njobs;
    j->diff_log2 = s->diff_log2;
    memcpy(j->en1, s->en1, s->en1_len);
    j->en1_len = s->en1_len;
    j->en2_size = s->en2_size;
    j->valid = 1;
    if (clean) {
        for (int i = 0; i < MAX_JOBS; i++) {
            if (&s->jobs[i] != j && s->jobs[i].valid) {
                s->jobs[i].valid = 0;
                s->jobs[i].cleared_by = j->seq;
            }
        }
    }
    char c1[129], c2[97], b0[65], b1[65], v[9], nb[9], nt[9];
    hex(j->coinb1, j->c1, c1);
    hex(j->coinb2, j->c2, c2);
    hex(j->branch[0], 32, b0);
    hex(j->branch[1], 32, b1);
    snprintf(v, 9, "%08x", j->version);
    snprintf(nb, 9, "%08x", j->nbits);
    snprintf(nt, 9, "%08x", j->ntime);
    double sent_at = now_s();
    out_json(s, json_pack("{s:n, s:s, s:[s,s,s,s,[s,s],s,s,s,b]}", "id", "method", "mining.notify",
                          "params", j->id, j->prevhash, c1, c2, b0, b1, v, nb, nt, clean));
    pthread_mutex_lock(&s->mu);
    s->st.jobs_sent++;
    s->st.last_notify_at = sent_at;
    pthread_mutex_unlock(&s->mu);
}

static void send_difficulty(srv *s)
{
    out_json(s, json_pack("{s:n, s:s, s:[f]}", "id", "method", "mining.set_difficulty", "params",
                          ldexp(1.0, s->diff_log2)));
}

/* ---- share check ---- */

static job *find_job(srv *s, const char *id)
{
    for (int i = 0; i < MAX_JOBS; i++)
        if (s->jobs[i].id[0] && strcmp(s->jobs[i].id, id) == 0)
            return &s->jobs[i];
    return NULL;
}

/* hash (as a little-endian number) <= 0xffff * 2^(208 - k): exact. */
static int meets(const uint8_t h[32], int k)
{
    /* Build the target bytes, little-endian. */
    uint8_t t[32] = {0};
    int shift = 208 - k; /* bit position of 0xffff's lowest bit */
    if (shift < 0)
        return 0;
    for (int bit = 0; bit < 16; bit++) {
        int pos = shift + bit;
        if (pos < 256)
            t[pos / 8] |= (uint8_t)(1u << (pos % 8));
    }
    if (shift + 16 > 256)
        memset(t, 0xff, 32);
    for (int i = 31; i >= 0; i--) {
        if (h[i] != t[i])
            return h[i] < t[i];
    }
    return 1;
}

static void reply(srv *s, json_t *id, json_t *result, json_t *err)
{
    out_json(s, json_pack("{s:O, s:o, s:o}", "id", id, "result", result, "error", err ? err : json_null()));
}

static void on_submit(srv *s, json_t *id, json_t *p)
{
    if (chance(s, 20)) { /* mid-submit: the share is neither judged nor answered */
        count(s, &s->st.drops_mid_submit);
        close_client(s);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->st.submits++;
    pthread_mutex_unlock(&s->mu);
    size_t n = json_array_size(p);
    const char *jid = json_string_value(json_array_get(p, 1));
    const char *en2 = json_string_value(json_array_get(p, 2));
    const char *nt = json_string_value(json_array_get(p, 3));
    const char *nn = json_string_value(json_array_get(p, 4));
    const char *vb = n > 5 ? json_string_value(json_array_get(p, 5)) : NULL;
    int *counter = NULL;
    const char *why = NULL;
    job *j = jid ? find_job(s, jid) : NULL;
    uint8_t e2[32];
    uint32_t ntime = 0, nonce = 0, vbits = 0;
    if (!jid || !en2 || !nt || !nn || (n > 5 && !vb) || n < 5 || n > 6) {
        counter = &s->st.bad_format, why = "bad params";
    } else if (!j) {
        counter = &s->st.stale, why = "job not found";
    } else if (!j->valid) {
        counter = &s->st.stale, why = "stale";
        /* The miner already sent a share for the job that cleared this
         * one: it had switched, and must not come back to the old job. */
        if (j->cleared_by > 0 && s->newest_with_share >= j->cleared_by) {
            pthread_mutex_lock(&s->mu);
            s->st.old_job_after_clean++;
            pthread_mutex_unlock(&s->mu);
        }
    } else if (unhex(en2, e2, j->en2_size) || sscanf(nt, "%8x", &ntime) != 1 ||
               sscanf(nn, "%8x", &nonce) != 1 || strlen(nt) != 8 || strlen(nn) != 8 ||
               (vb && (strlen(vb) != 8 || sscanf(vb, "%8x", &vbits) != 1))) {
        counter = &s->st.bad_format, why = "bad hex";
    } else if ((vb != NULL) != (s->version_on != 0)) {
        counter = &s->st.bad_format, why = "version_bits presence does not match negotiation";
    } else if (ntime != j->ntime) {
        counter = &s->st.invalid, why = "ntime changed";
    } else {
        pthread_mutex_lock(&s->mu);
        if (vb) {
            s->st.with_version_bits++;
            s->st.version_bits_nonzero += vbits != 0;
            s->st.mask_violations += (vbits & ~s->mask) != 0;
        }
        pthread_mutex_unlock(&s->mu);
        char key[128];
        snprintf(key, sizeof key, "%s/%s/%s/%s/%s", jid, en2, nt, nn, vb ? vb : "");
        int dup = 0;
        for (size_t i = 0; i < s->nseen && !dup; i++)
            dup = strcmp(s->seen[i], key) == 0;
        if (dup) {
            counter = &s->st.duplicate, why = "duplicate";
        } else {
            s->seen = realloc(s->seen, (s->nseen + 1) * sizeof *s->seen);
            s->seen[s->nseen++] = strdup(key);
            /* Rebuild: coinbase, merkle root, header; OpenSSL's SHA-256. */
            uint8_t cb[256], h[32], pair[64], hdr[80];
            size_t cl = 0;
            memcpy(cb + cl, j->coinb1, j->c1), cl += j->c1;
            if (s->cfg.jobs_outlive_sessions) /* the session's extranonce1, not the job's */
                memcpy(cb + cl, s->en1, s->en1_len), cl += s->en1_len;
            else
                memcpy(cb + cl, j->en1, j->en1_len), cl += j->en1_len;
            memcpy(cb + cl, e2, j->en2_size), cl += j->en2_size;
            memcpy(cb + cl, j->coinb2, j->c2), cl += j->c2;
            sha256d(cb, cl, h);
            for (int b = 0; b < 2; b++) {
                memcpy(pair, h, 32);
                memcpy(pair + 32, j->branch[b], 32);
                sha256d(pair, 64, h);
            }
            uint32_t version = vb ? (j->version & ~s->mask) | (vbits & s->mask) : j->version;
            uint8_t ph[32];
            unhex(j->prevhash, ph, 32);
            for (int i = 0; i < 4; i++)
                hdr[i] = (uint8_t)(version >> (8 * i));
            for (int w = 0; w < 8; w++)
                for (int i = 0; i < 4; i++)
                    hdr[4 + 4 * w + i] = ph[4 * w + 3 - i];
            memcpy(hdr + 36, h, 32);
            for (int i = 0; i < 4; i++) {
                hdr[68 + i] = (uint8_t)(j->ntime >> (8 * i));
                hdr[72 + i] = (uint8_t)(j->nbits >> (8 * i));
                hdr[76 + i] = (uint8_t)(nonce >> (8 * i));
            }
            uint8_t hh[32];
            sha256d(hdr, 80, hh);
            if (meets(hh, j->diff_log2))
                counter = &s->st.valid;
            else
                counter = &s->st.invalid, why = "low difficulty";
        }
    }
    pthread_mutex_lock(&s->mu);
    (*counter)++;
    pthread_mutex_unlock(&s->mu);
    if (j && j->valid && j->seq > s->newest_with_share)
        s->newest_with_share = j->seq;
    if (!why && s->cfg.reject_all)
        why = "rejected by test";
    if (why)
        reply(s, id, json_false(), json_pack("[i,s,n]", 23, why));
    else
        reply(s, id, json_true(), NULL);
}

static void on_line(srv *s, char *line)
{
    json_t *m = json_loads(line, 0, NULL);
    if (!m)
        return;
    json_t *id = json_object_get(m, "id"), *p = json_object_get(m, "params");
    const char *method = json_string_value(json_object_get(m, "method"));
    if (!method) { /* an answer to something we asked */
        pthread_mutex_lock(&s->mu);
        s->st.answers++;
        json_t *err = json_object_get(m, "error");
        s->st.answer_errors += err && !json_is_null(err);
        char *t = json_dumps(m, JSON_COMPACT);
        snprintf(s->st.last_answer, sizeof s->st.last_answer, "%s", t);
        free(t);
        pthread_mutex_unlock(&s->mu);
        json_decref(m);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (!s->st.first_method[0])
        snprintf(s->st.first_method, sizeof s->st.first_method, "%s", method);
    pthread_mutex_unlock(&s->mu);
    if (strcmp(method, "mining.configure") == 0) {
        pthread_mutex_lock(&s->mu);
        s->st.configures++;
        pthread_mutex_unlock(&s->mu);
        if (s->cfg.version_rolling < 0) {
        } else if (s->cfg.version_rolling) {
            char mk[9];
            snprintf(mk, 9, "%08x", s->mask);
            s->version_on = 1;
            reply(s, id, json_pack("{s:b, s:s}", "version-rolling", 1, "version-rolling.mask", mk), NULL);
        } else {
            reply(s, id, json_pack("{s:b}", "version-rolling", 0), NULL);
        }
    } else if (strcmp(method, "mining.subscribe") == 0) {
        pthread_mutex_lock(&s->mu);
        s->st.subscribes++;
        const char *ua = json_string_value(json_array_get(p, 0));
        snprintf(s->st.user_agent, sizeof s->st.user_agent, "%s", ua ? ua : "");
        const char *sess = json_string_value(json_array_get(p, 1));
        int resume = sess && strcmp(sess, s->session) == 0 && !s->cfg.no_resume && !chance(s, 500);
        s->st.resumed_subscribes += resume;
        pthread_mutex_unlock(&s->mu);
        s->resumed = resume;
        if (!resume) { /* a new session: new extranonce1, old jobs void */
            snprintf(s->session, sizeof s->session, "sess%u", rnd(s) % 100000);
            s->en1[0] ^= 0x55;
            s->en1[s->en1_len - 1]++; /* never the same twice */
            for (int i = 0; i < MAX_JOBS && !s->cfg.jobs_outlive_sessions; i++)
                s->jobs[i].valid = 0;
        }
        if (!resume)
            count(s, &s->st.new_sessions);
        if (s->cfg.no_subscribe_answer)
            goto done;
        if (chance(s, 100)) {
            count(s, &s->st.drops_before_subscribe_answer);
            close_client(s);
            goto done;
        }
        s->conn_notify_first = chance(s, 300);
        if (s->conn_notify_first)
            count(s, &s->st.notify_first);
        if (s->cfg.notify_before_subscribe_answer || s->conn_notify_first) {
            send_difficulty(s);
            send_notify(s, 1);
        }
        char e1[65];
        hex(s->en1, s->en1_len, e1);
        reply(s, id,
              json_pack("[[[s,s],[s,s]],s,i]", "mining.set_difficulty", "d1", "mining.notify", s->session,
                        e1, (int)s->en2_size),
              NULL);
    } else if (strcmp(method, "mining.authorize") == 0) {
        const char *u = json_string_value(json_array_get(p, 0)), *pw = json_string_value(json_array_get(p, 1));
        pthread_mutex_lock(&s->mu);
        s->st.authorizes++;
        snprintf(s->st.user, sizeof s->st.user, "%s", u ? u : "");
        snprintf(s->st.pass, sizeof s->st.pass, "%s", pw ? pw : "");
        pthread_mutex_unlock(&s->mu);
        reply(s, id, json_true(), NULL);
        int quiet = s->cfg.notify_before_subscribe_answer || s->conn_notify_first ||
                    (s->cfg.quiet_after_reconnect && s->st.connections > 1);
        if (!quiet) {
            send_difficulty(s);
            send_notify(s, !s->resumed); /* a resumed session keeps its jobs */
        }
    } else if (strcmp(method, "mining.extranonce.subscribe") == 0) {
        pthread_mutex_lock(&s->mu);
        s->st.extranonce_subscribes++;
        pthread_mutex_unlock(&s->mu);
        reply(s, id, json_true(), NULL);
    } else if (strcmp(method, "mining.suggest_difficulty") == 0) {
        pthread_mutex_lock(&s->mu);
        s->st.suggests++;
        pthread_mutex_unlock(&s->mu);
        reply(s, id, json_true(), NULL);
    } else if (strcmp(method, "mining.submit") == 0) {
        on_submit(s, id, p);
    } else {
        reply(s, id, json_null(), json_pack("[i,s,n]", 20, "unknown"));
    }
done:
    json_decref(m);
}

/* ---- connection ---- */

static void close_client(srv *s)
{
    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->cfd >= 0)
        close(s->cfd);
    s->cfd = -1;
    s->blen = 0;
    s->version_on = 0;
}

static void run_actions(srv *s)
{
    char b;
    while (read(s->wake[0], &b, 1) == 1) {
    }
    for (;;) {
        pthread_mutex_lock(&s->mu);
        action *a = s->head;
        if (a)
            s->head = a->next;
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        if (!a)
            return;
        switch (a->kind) {
        case A_NOTIFY: send_notify(s, a->a); break;
        case A_DIFF: s->diff_log2 = a->a; send_difficulty(s); break;
        case A_EXTRANONCE: {
            unhex(a->data, s->en1, strlen(a->data) / 2);
            s->en1_len = strlen(a->data) / 2;
            s->en2_size = (size_t)a->a;
            out_json(s, json_pack("{s:n, s:s, s:[s,i]}", "id", "method", "mining.set_extranonce",
                                  "params", a->data, a->a));
            break;
        }
        case A_SEND: out_raw(s, a->data, a->len); break;
        case A_DROP: close_client(s); break;
        }
        free(a->data);
        free(a);
    }
}

static void *thread_main(void *arg)
{
    srv *s = arg;
    while (!s->stop) {
        struct pollfd fds[3] = {{s->lfd, POLLIN, 0}, {s->wake[0], POLLIN, 0}, {s->cfd, POLLIN, 0}};
        int nf = s->cfd >= 0 ? 3 : 2;
        int pending = s->ssl && SSL_pending(s->ssl) > 0;
        if (s->cfg.chaos_seed && s->cfd >= 0 && now_s() >= s->next_chaos_notify) {
            s->next_chaos_notify = now_s() + s->cfg.chaos_notify_ms / 1000.0;
            if (chance(s, 80)) { /* mid-line: half a notify, then gone */
                out_raw(s, "{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"j", 44);
                count(s, &s->st.drops_mid_line);
                close_client(s);
            } else if (chance(s, 30)) {
                count(s, &s->st.drops_idle);
                close_client(s);
            } else {
                send_notify(s, chance(s, 500));
            }
        }
        if (!pending && poll(fds, (nfds_t)nf, s->cfg.chaos_seed ? 10 : 50) <= 0)
            continue;
        if (fds[1].revents)
            run_actions(s);
        if (fds[0].revents & POLLIN) {
            int fd = accept(s->lfd, NULL, NULL);
            if (fd >= 0) {
                close_client(s); /* one client at a time: a new one replaces it */
                s->cfd = fd;
                int nd = !s->cfg.nagle;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
                pthread_mutex_lock(&s->mu);
                s->st.connections++;
                pthread_mutex_unlock(&s->mu);
                if (s->ctx) {
                    s->ssl = SSL_new(s->ctx);
                    SSL_set_fd(s->ssl, fd);
                    struct timeval tv = {2, 0};
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                    if (SSL_accept(s->ssl) != 1)
                        close_client(s); /* the client refused our certificate */
                }
            }
            continue;
        }
        if (s->cfd >= 0 && (pending || (nf == 3 && fds[2].revents))) {
            char tmp[65536];
            ssize_t n = s->ssl ? SSL_read(s->ssl, tmp, sizeof tmp) : recv(s->cfd, tmp, sizeof tmp, 0);
            if (n <= 0) {
                if (s->ssl && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    continue;
                close_client(s);
                continue;
            }
            if (s->blen + (size_t)n > MAX_LINE) {
                close_client(s);
                continue;
            }
            memcpy(s->buf + s->blen, tmp, (size_t)n);
            s->blen += (size_t)n;
            char *start = s->buf, *nl;
            while ((nl = memchr(start, '\n', s->blen - (size_t)(start - s->buf)))) {
                *nl = 0;
                on_line(s, start);
                if (s->cfd < 0)
                    break;
                start = nl + 1;
            }
            if (s->cfd >= 0) {
                s->blen -= (size_t)(start - s->buf);
                memmove(s->buf, start, s->blen);
            }
        }
    }
    return NULL;
}

srv *srv_start(const srv_cfg *cfg)
{
    srv *s = calloc(1, sizeof *s);
    s->cfg = *cfg;
    s->cfd = -1;
    s->rng = 0x1234567 + (uint64_t)time(NULL);
    s->buf = malloc(MAX_LINE);
    s->diff_log2 = cfg->diff_log2;
    s->en2_size = cfg->en2_size_set ? (size_t)cfg->en2_size : 4;
    const char *e1 = cfg->en1_hex ? cfg->en1_hex : "f000000d";
    s->en1_len = strlen(e1) / 2;
    unhex(e1, s->en1, s->en1_len);
    s->mask = cfg->mask ? cfg->mask : 0x1fffe000u;
    s->chaos = cfg->chaos_seed ? cfg->chaos_seed : 1;
    if (!s->cfg.chaos_notify_ms)
        s->cfg.chaos_notify_ms = 200;
    pthread_mutex_init(&s->mu, NULL);
    if (pipe(s->wake) != 0)
        abort();
    fcntl(s->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(s->wake[1], F_SETFL, O_NONBLOCK);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)cfg->port);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) || listen(s->lfd, 8)) {
        close(s->lfd);
        free(s->buf);
        free(s);
        return NULL;
    }
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    if (cfg->cert_file && cfg->key_file) {
        s->ctx = SSL_CTX_new(TLS_server_method());
        if (SSL_CTX_use_certificate_file(s->ctx, cfg->cert_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_use_PrivateKey_file(s->ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1)
            abort();
    }
    pthread_create(&s->th, NULL, thread_main, s);
    return s;
}

int srv_port(const srv *s) { return s->port; }

void srv_stop(srv *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    close_client(s);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    if (s->ctx)
        SSL_CTX_free(s->ctx);
    for (size_t i = 0; i < s->nseen; i++)
        free(s->seen[i]);
    free(s->seen);
    while (s->head) {
        action *a = s->head;
        s->head = a->next;
        free(a->data);
        free(a);
    }
    free(s->buf);
    free(s);
}

void srv_stats_get(srv *s, srv_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}

static void push(srv *s, int kind, int a, const char *data, size_t len)
{
    action *x = calloc(1, sizeof *x);
    x->kind = kind;
    x->a = a;
    if (data) {
        x->data = malloc(len + 1);
        memcpy(x->data, data, len);
        x->data[len] = 0;
        x->len = len;
    }
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = x;
    else
        s->head = x;
    s->tail = x;
    pthread_mutex_unlock(&s->mu);
    if (write(s->wake[1], "x", 1) != 1) {
    }
}

void srv_notify(srv *s, int clean) { push(s, A_NOTIFY, clean, NULL, 0); }
void srv_set_difficulty(srv *s, int log2) { push(s, A_DIFF, log2, NULL, 0); }
void srv_set_extranonce(srv *s, const char *en1, int size) { push(s, A_EXTRANONCE, size, en1, strlen(en1)); }
void srv_send(srv *s, const char *bytes, size_t len) { push(s, A_SEND, 0, bytes, len); }
void srv_drop_client(srv *s) { push(s, A_DROP, 0, NULL, 0); }

int srv_wait(srv *s, int (*pred)(const srv_stats *, void *), void *arg, double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        srv_stats st;
        srv_stats_get(s, &st);
        if (pred(&st, arg))
            return 1;
        if (now_s() > end)
            return 0;
        usleep(5000);
    }
}

int srv_make_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x)
        return -1;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(time(NULL) & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, san, -1);
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(san);
    X509_EXTENSION_free(bc);
    if (!X509_sign(x, key, EVP_sha256()))
        return -1;
    FILE *f = fopen(cert_path, "w");
    FILE *k = fopen(key_path, "w");
    if (!f || !k)
        return -1;
    PEM_write_X509(f, x);
    PEM_write_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    fclose(k);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}
