/* Soak test of pool mining against a chaotic pool (the tests' scripted
 * pool in its chaos mode, loopback): disconnects at random points
 * (before the subscribe answer, mid-submit, mid-line, idle), sessions
 * resumed or not (a new extranonce1), the job before the subscribe answer
 * or after authorize, a notify every 50 ms.  Runs until DROPS disconnects
 * and reports the pool's verdicts on every share (OpenSSL rebuilds each)
 * and the process's resident memory after the first minute and at the end.
 *
 * usage: soak_stratum [DROPS=1000] [SEED=time] [THREADS=1]
 * Exit status 1 when any share was invalid or badly formed, or (runs past
 * 90 s) resident memory grew more than 1 MiB after the first minute. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tests/stratum_server.h"
#include "powkit/log.h"
#include "powkit/miner.h"
#include "powkit/util.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

typedef struct run {
    pk_miner *m;
    int rc;
} run;

static void *run_thread(void *a)
{
    run *r = a;
    r->rc = pk_miner_run(r->m);
    return NULL;
}

static int drops(const srv_stats *st)
{
    return st->drops_before_subscribe_answer + st->drops_mid_submit + st->drops_mid_line + st->drops_idle;
}

int main(int argc, char **argv)
{
    int target = argc > 1 ? atoi(argv[1]) : 1000;
    unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : (unsigned)time(NULL);
    unsigned threads = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
    pk_log_set_level(getenv("PK_SOAK_LOG") ? PK_LOG_DEBUG : (pk_log_level)-1 /* nothing */);
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .chaos_seed = seed ? seed : 1, .chaos_notify_ms = 50};
    srv *s = srv_start(&c);
    if (!s) {
        fprintf(stderr, "soak: cannot start the pool\n");
        return 2;
    }
    char url[64];
    snprintf(url, sizeof url, "stratum+tcp://127.0.0.1:%d", srv_port(s));
    pk_miner_opts o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.quiet = 1;
    o.pool.pools[0] = (pk_pool_cfg){url, "soak.1", "x"};
    o.pool.npools = 1;
    o.pool.backoff_min_ms = 20;
    o.pool.backoff_max_ms = 200;
    o.pool.request_timeout_ms = 2000;
    o.pool.configure_timeout_ms = 500;
    o.pool.connect_timeout_ms = 2000;
    o.pool.max_rejects = 1000000; /* answers lost to drops are not the pool's rejects */
    run r = {0};
    char err[256];
    if (pk_miner_new(&o, &r.m, err, sizeof err)) {
        fprintf(stderr, "soak: %s\n", err);
        return 2;
    }
    pthread_t th;
    pthread_create(&th, NULL, run_thread, &r);
    double t0 = pk_now(), last_print = t0;
    long rss_minute = -1, rss_start = rss_kib();
    srv_stats st;
    for (;;) {
        usleep(200000);
        srv_stats_get(s, &st);
        double t = pk_now() - t0;
        if (rss_minute < 0 && t >= 60)
            rss_minute = rss_kib();
        if (pk_now() - last_print >= 30) {
            last_print = pk_now();
            fprintf(stderr, "soak: %.0f s, %d drops, %d connections, %d valid, %d invalid, RSS %ld KiB\n", t,
                    drops(&st), st.connections, st.valid, st.invalid, rss_kib());
        }
        if (drops(&st) >= target)
            break;
    }
    double secs = pk_now() - t0;
    long rss_end = rss_kib();
    pk_miner_stop(r.m);
    pthread_join(th, NULL);
    pk_miner_stats ms;
    pk_miner_get_stats(r.m, &ms);
    pk_miner_free(r.m);
    srv_stats_get(s, &st);
    srv_stop(s);
    printf("soak_stratum seed %u: %.0f s, %d disconnects (%d before the subscribe answer, %d mid-submit, %d mid-line, "
           "%d idle), %d connections, %d new sessions (new extranonce1), %d with the job before the subscribe "
           "answer\n",
           seed, secs, drops(&st), st.drops_before_subscribe_answer, st.drops_mid_submit, st.drops_mid_line,
           st.drops_idle, st.connections, st.new_sessions, st.notify_first);
    printf("shares at the pool: %d submitted, %d valid, %d invalid, %d stale, %d duplicate, %d badly formed, "
           "%d outside the version mask; miner: %llu accepted, %llu rejected, %llu stale, %llu dropped, %llu invalid\n",
           st.submits, st.valid, st.invalid, st.stale, st.duplicate, st.bad_format, st.mask_violations,
           (unsigned long long)ms.accepted, (unsigned long long)ms.rejected, (unsigned long long)ms.stale,
           (unsigned long long)ms.dropped, (unsigned long long)ms.invalid);
    printf("resident memory: %ld KiB at start, %ld KiB after the first minute, %ld KiB at the end\n", rss_start,
           rss_minute, rss_end);
    int bad = st.invalid || st.bad_format || st.duplicate || st.mask_violations || ms.invalid || r.rc;
    if (rss_minute > 0 && secs > 90 && rss_end - rss_minute > 1024) {
        printf("FAILED: resident memory grew %ld KiB after the first minute\n", rss_end - rss_minute);
        bad = 1;
    }
    if (st.valid == 0) {
        printf("FAILED: no valid share at all\n");
        bad = 1;
    }
    printf("%s\n", bad ? "soak: FAILED" : "soak: ok");
    return bad;
}
