/* bench_proxy: the Stratum proxy under many rigs, on loopback.
 *
 *   bench_proxy [RIGS...]        (default 100 1000 10000)
 *
 * For each rig count: the scripted pool upstream and the proxy in this
 * process, the rigs in a child process (each side then needs one file
 * descriptor per rig, not two), all subscribed and authorized.  Then:
 *   - notify fan-out: from the pool writing mining.notify to the last rig
 *     reading it, 20 jobs, p50 and p99 (the proxy's own part is the same
 *     path less the loopback hops);
 *   - memory per rig: the proxy process's resident set with the rigs
 *     connected against before, divided by their number;
 *   - share check: one rig submits 500 shares it mined (below the pool's
 *     difficulty: checked and answered here), send to answer, p50 and p99;
 *   - the floor, in the same run: as many bare loopback sockets, readers
 *     in a child on epoll as the rigs are, and a plain loop writing one
 *     notify-sized line to each, p50 and p99 over 20 rounds: what one
 *     write per socket costs on this machine, with no proxy at all.
 * Loopback only; bounded in count and time. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../tests/proxy_runner.h"
#include "../tests/stratum_server.h"
#include "powkit/kernel.h"
#include "powkit/log.h"
#include "powkit/poolwork.h"
#include "powkit/proxy.h"
#include "powkit/sha256.h"
#include "powkit/util.h"

enum { JOBS = 20, SHARES = 500 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}


/* The rigs' side, in the child: connect, subscribe, authorize, then for
 * every notify after the first write the time the last rig read it. */
static void rigs_child(int port, int n, int out)
{
    int ep = epoll_create1(0), *fd = malloc((size_t)n * sizeof *fd), *seen = calloc((size_t)n, sizeof *seen);
    const char *hello = "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n"
                        "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"rig\",\"x\"]}\n";
    for (int i = 0; i < n; i++) {
        fd[i] = proxy_runner_connect(port);
        if (fd[i] < 0 || write(fd[i], hello, strlen(hello)) < 0)
            _exit(3);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
    }
    int *count = calloc(JOBS + 2, sizeof *count);
    static char buf[65536];
    struct epoll_event evs[256];
    double deadline = now_s() + 120;
    int reported = 0;
    while (reported < JOBS + 1 && now_s() < deadline) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < k; e++) {
            int i = (int)evs[e].data.u32;
            ssize_t r = read(fd[i], buf, sizeof buf);
            if (r <= 0)
                _exit(4);
            /* Lines never straddle here in practice (small, written whole);
             * count notifies in what came. */
            static const char key[] = "\"method\":\"mining.notify\"";
            for (char *p = buf; (p = memmem(p, (size_t)(buf + r - p), key, sizeof key - 1)) != NULL;
                 p += sizeof key - 1) {
                int job = seen[i]++;
                if (job <= JOBS && ++count[job] == n) {
                    double t = now_s();
                    if (write(out, &t, sizeof t) != sizeof t)
                        _exit(5);
                    reported++;
                }
            }
        }
    }
    _exit(reported == JOBS + 1 ? 0 : 6);
}

static int rigs_at(proxy_runner *p) { return (int)proxy_runner_stats(p).rigs; }

/* Share check: one rig mines shares at a tiny difficulty and submits
 * them one at a time. */
static void share_latency(int port, double *lat, int *n_out)
{
    int fd = proxy_runner_connect(port);
    FILE *in = fdopen(dup(fd), "r");
    char line[1 << 16];
    const char *hello = "{\"id\":1,\"method\":\"mining.suggest_difficulty\",\"params\":[1e-7]}\n"
                        "{\"id\":2,\"method\":\"mining.subscribe\",\"params\":[]}\n"
                        "{\"id\":3,\"method\":\"mining.authorize\",\"params\":[\"rig\",\"x\"]}\n";
    if (write(fd, hello, strlen(hello)) < 0)
        return;
    pk_pool_job job;
    int have_job = 0;
    uint8_t en1[64];
    size_t en1_len = 0, en2_size = 0;
    while (!have_job && fgets(line, sizeof line, in)) {
        json_t *m = json_loads(line, 0, NULL);
        if (json_integer_value(json_object_get(m, "id")) == 2) {
            json_t *r = json_object_get(m, "result");
            const char *e = json_string_value(json_array_get(r, 1));
            en1_len = strlen(e) / 2;
            pk_hex_decode(e, en1, en1_len);
            en2_size = (size_t)json_integer_value(json_array_get(r, 2));
        }
        const char *method = json_string_value(json_object_get(m, "method"));
        if (method && strcmp(method, "mining.notify") == 0) {
            char err[128];
            have_job = pk_pool_job_parse(&job, json_object_get(m, "params"), err, sizeof err) == 0;
        }
        json_decref(m);
    }
    if (!have_job) {
        fclose(in);
        close(fd);
        return;
    }
    memcpy(job.extranonce1, en1, en1_len);
    job.extranonce1_len = en1_len;
    job.extranonce2_size = en2_size;
    job.difficulty = 1e-7;
    job.version_mask = 0;
    pk_pool_work w;
    pk_pool_work_init(&w, &job);
    uint8_t target[32];
    pk_difficulty_to_target(1e-7, target);
    int n = 0;
    for (uint64_t t = 0; n < SHARES && t < 100000; t++) {
        uint8_t header[80], h[32];
        pk_pool_work_header(&w, t, header);
        for (uint32_t nonce = 0; nonce < 1u << 20; nonce++) {
            header[76] = (uint8_t)nonce, header[77] = (uint8_t)(nonce >> 8);
            header[78] = (uint8_t)(nonce >> 16), header[79] = (uint8_t)(nonce >> 24);
            pk_sha256d(header, 80, h);
            if (!pk_hash_meets_target(h, target))
                continue;
            pk_submit_fields f;
            pk_pool_work_submit_fields(&w, t, nonce, &f);
            char req[512];
            snprintf(req, sizeof req,
                     "{\"id\":%d,\"method\":\"mining.submit\",\"params\":[\"rig\",\"%s\",\"%s\",\"%s\",\"%s\"]}\n",
                     100 + n, job.id, f.extranonce2, f.ntime, f.nonce);
            double t0 = now_s();
            if (write(fd, req, strlen(req)) < 0)
                break;
            int got = 0;
            while (!got && fgets(line, sizeof line, in)) {
                json_t *m = json_loads(line, 0, NULL);
                got = json_integer_value(json_object_get(m, "id")) == 100 + n;
                json_decref(m);
            }
            lat[n++] = now_s() - t0;
            break; /* one share per extranonce2 */
        }
    }
    *n_out = n;
    pk_pool_job_free(&job);
    fclose(in);
    close(fd);
}

/* The floor: n bare connections, one write() of a notify-sized line to
 * each, 20 rounds. */
static void bare_floor(int n, double *p50, double *p99)
{
    *p50 = *p99 = 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096) ||
        getsockname(ls, (struct sockaddr *)&a, &al)) {
        if (ls >= 0)
            close(ls);
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        close(ls);
        int ep = epoll_create1(0);
        for (int i = 0; i < n; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
                _exit(3);
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        static char buf[65536];
        struct epoll_event evs[256];
        for (;;) {
            int k = epoll_wait(ep, evs, 256, 3000);
            if (k <= 0)
                _exit(0);
            for (int e = 0; e < k; e++)
                if (read(evs[e].data.fd, buf, sizeof buf) <= 0)
                    _exit(0);
        }
    }
    int *fd = malloc((size_t)n * sizeof *fd), got = 0;
    while (fd && got < n) {
        fd[got] = accept(ls, NULL, NULL);
        if (fd[got] < 0)
            break;
        int one = 1;
        setsockopt(fd[got], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd[got], F_SETFL, fcntl(fd[got], F_GETFL) | O_NONBLOCK);
        got++;
    }
    close(ls);
    char line[420]; /* a mining.notify with a short branch */
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    double t[20];
    usleep(200000);
    for (int r = 0; r < 20 && got == n; r++) {
        double t0 = now_s();
        for (int i = 0; i < n; i++)
            if (write(fd[i], line, sizeof line) < 0)
                break;
        t[r] = now_s() - t0;
        usleep(50000);
    }
    if (got == n) {
        *p50 = pct(t, 20, 0.5);
        *p99 = pct(t, 20, 0.99);
    }
    for (int i = 0; i < got; i++)
        close(fd[i]);
    free(fd);
    waitpid(child, NULL, 0);
}

static void run(int rigs)
{
    srv_cfg sc = {.diff_log2 = -6};
    srv *s = srv_start(&sc);
    proxy_runner p;
    char url[64];
    snprintf(url, sizeof url, "stratum+tcp://127.0.0.1:%d", srv_port(s));
    pk_proxy_opts o = {.npools = 1, .listen = "127.0.0.1:0", .max_clients = (unsigned)rigs + 16,
                       .max_conn_per_min = 1000000, .min_difficulty = 1e-9};
    o.pools[0] = (pk_pool_cfg){url, "bench", "x"};
    char err[256];
    if (proxy_runner_start(&p, &o, err, sizeof err)) {
        fprintf(stderr, "bench_proxy: %s\n", err);
        exit(1);
    }
    double t0 = now_s();
    while (!proxy_runner_stats(&p).upstream_ready && now_s() - t0 < 10)
        usleep(10000);
    int port = pk_proxy_port(p.px);
    long rss0 = rss_kib();

    int pipefd[2];
    if (pipe(pipefd) != 0)
        exit(1);
    pid_t child = fork();
    if (child == 0) {
        close(pipefd[0]);
        rigs_child(port, rigs, pipefd[1]);
    }
    close(pipefd[1]);
    t0 = now_s();
    while (rigs_at(&p) < rigs && now_s() - t0 < 120)
        usleep(10000);
    double connect_s = now_s() - t0;
    /* The first notify (sent when each rig authorized): wait for it. */
    double first;
    if (read(pipefd[0], &first, sizeof first) != sizeof first) {
        fprintf(stderr, "bench_proxy: the rigs did not all start (%d connected)\n", rigs_at(&p));
        exit(1);
    }
    usleep(200000);
    long rss1 = rss_kib();
    double fan[JOBS], inside[JOBS];
    int got = 0;
    for (int j = 0; j < JOBS; j++) {
        double sent = now_s();
        srv_notify(s, j % 2);
        double done;
        if (read(pipefd[0], &done, sizeof done) != sizeof done)
            break;
        usleep(50000);
        inside[got] = proxy_runner_stats(&p).last_fanout_s;
        fan[got++] = done - sent;
    }
    int status = 0;
    waitpid(child, &status, 0);
    close(pipefd[0]);
    double lat[SHARES];
    int nshares = 0;
    share_latency(port, lat, &nshares);
    proxy_runner_stop(&p);
    srv_stop(s);
    double f50, f99;
    bare_floor(rigs, &f50, &f99);
    double in50 = got ? pct(inside, got, 0.5) : 0;
    printf("%6d rigs: connected in %.2f s; fan-out, job in to the last socket write: p50 %.2f ms, p99 %.2f ms; "
           "pool's write to the last rig's read: p50 %.2f ms, p99 %.2f ms (%d jobs); "
           "memory %.1f KiB per rig; share check p50 %.3f ms, p99 %.3f ms (%d shares); "
           "floor, a bare write per socket: p50 %.2f ms, p99 %.2f ms (proxy p50 %.2fx it)\n",
           rigs, connect_s, 1e3 * in50, got ? 1e3 * pct(inside, got, 0.99) : 0,
           got ? 1e3 * pct(fan, got, 0.5) : 0, got ? 1e3 * pct(fan, got, 0.99) : 0, got,
           (double)(rss1 - rss0) / rigs, nshares ? 1e3 * pct(lat, nshares, 0.5) : 0,
           nshares ? 1e3 * pct(lat, nshares, 0.99) : 0, nshares, 1e3 * f50, 1e3 * f99, f50 > 0 ? in50 / f50 : 0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    pk_log_set_level(PK_LOG_WARN);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int counts[8] = {100, 1000, 10000}, n = 3;
    if (argc > 1) {
        n = 0;
        for (int i = 1; i < argc && n < 8; i++)
            counts[n++] = atoi(argv[i]);
    }
    printf("bench_proxy: the proxy on one loop thread; pool, proxy and rigs on this machine (loopback)\n");
    for (int i = 0; i < n; i++) {
        if ((rlim_t)counts[i] + 64 > rl.rlim_cur) {
            printf("%6d rigs: skipped, %llu open files allowed\n", counts[i], (unsigned long long)rl.rlim_cur);
            continue;
        }
        run(counts[i]);
    }
    return 0;
}
