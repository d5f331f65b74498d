/* Pool mining end to end: powkit's miner against the scripted pool in
 * tests/stratum_server.c, which rebuilds and hashes every share itself. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "powkit/log.h"
#include "powkit/cpu.h"
#include "powkit/miner.h"
#include "miner_runner.h"
#include "stratum_server.h"
#include "testutil.h"

typedef miner_runner runner;

static pk_miner_opts base_opts(void)
{
    pk_miner_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 1;
    o.quiet = 1;
    o.pool.backoff_min_ms = 50;
    o.pool.backoff_max_ms = 400;
    o.pool.failback_stable_ms = 300;
    o.pool.request_timeout_ms = 1500;
    o.pool.configure_timeout_ms = 500;
    o.pool.connect_timeout_ms = 2000;
    return o;
}

static void add_pool(runner *r, pk_miner_opts *o, int port, int tls)
{
    miner_runner_add_pool(r, o, port, tls, "worker.1", "secret");
}

static void start(runner *r, const pk_miner_opts *o)
{
    char err[256];
    cr_assert_eq(miner_runner_start(r, o, err, sizeof err), 0, "%s", err);
}

static void finish(runner *r) { cr_assert_eq(miner_runner_stop(r), 0, "the miner reported invalid shares"); }

static int valid_at_least(const srv_stats *st, void *arg) { return st->valid >= *(int *)arg; }
static int connections_at_least(const srv_stats *st, void *arg) { return st->connections >= *(int *)arg; }
static int jobs_at_least(const srv_stats *st, void *arg) { return st->jobs_sent >= *(int *)arg; }
static int answers_at_least(const srv_stats *st, void *arg) { return st->answers >= *(int *)arg; }
static int resumed_at_least(const srv_stats *st, void *arg) { return st->resumed_subscribes >= *(int *)arg; }

static void wait_valid(srv *s, int n, const char *what)
{
    cr_assert(srv_wait(s, valid_at_least, &n, 30), "%s: fewer than %d valid shares", what, n);
}

static void no_bad_shares(srv *s)
{
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.invalid, 0, "invalid shares reached the pool");
    cr_assert_eq(st.bad_format, 0, "badly formed submits");
    cr_assert_eq(st.duplicate, 0, "duplicate shares");
    cr_assert_eq(st.mask_violations, 0, "version bits outside the mask");
}

/* One pool, one miner: the shape of most tests here. */
typedef struct session {
    srv *s;
    runner r;
    pk_miner_opts o;
} session;

static void open_pool(session *x, const srv_cfg *c)
{
    memset(x, 0, sizeof *x);
    x->s = srv_start(c);
    cr_assert_not_null(x->s);
    x->o = base_opts();
}

static void start_mining(session *x, int tls)
{
    add_pool(&x->r, &x->o, srv_port(x->s), tls);
    start(&x->r, &x->o);
}

static void close_pool(session *x)
{
    finish(&x->r);
    no_bad_shares(x->s);
    srv_stop(x->s);
}

/* n more valid shares than the pool has now. */
static void wait_more(srv *s, int n, const char *what)
{
    srv_stats st;
    srv_stats_get(s, &st);
    wait_valid(s, st.valid + n, what);
}

static void quiet_logs(void) { pk_log_set_level(getenv("PK_TEST_LOG") ? PK_LOG_DEBUG : PK_LOG_ERROR); }

TestSuite(stratum, .init = quiet_logs, .timeout = 120);

Test(stratum, full_session)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    x.o.pool.suggest_difficulty = 0.5;
    start_mining(&x, 0);
    wait_valid(s, 20, "full session");
    pk_miner_stats ms;
    finish(&x.r);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_str_eq(st.first_method, "mining.configure", "configure goes first");
    cr_assert_eq(st.subscribes, 1);
    cr_assert_eq(st.authorizes, 1);
    cr_assert_eq(st.extranonce_subscribes, 1);
    cr_assert_eq(st.suggests, 1);
    cr_assert(strncmp(st.user_agent, "powkit/", 7) == 0, "user agent %s", st.user_agent);
    cr_assert_eq(st.with_version_bits, st.submits - st.stale, "6th parameter after negotiation");
    no_bad_shares(s);
    (void)ms;
    srv_stop(s);
}

Test(stratum, accepted_count_matches_the_pool)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 15, "shares");
    pk_miner_stop(x.r.m);
    pthread_join(x.r.th, NULL);
    pk_miner_stats ms;
    pk_miner_get_stats(x.r.m, &ms);
    pk_miner_free(x.r.m);
    srv_stats st;
    srv_stats_get(s, &st);
    /* Answers to the last submits may be lost at shutdown, never invented. */
    cr_assert_leq(ms.accepted, (uint64_t)st.valid);
    cr_assert_geq(ms.accepted + 5, (uint64_t)st.valid);
    cr_assert_eq(ms.invalid, 0);
    no_bad_shares(s);
    srv_stop(s);
}

Test(stratum, difficulty_changes_apply_to_the_next_job)
{
    srv_cfg c = {.diff_log2 = -14, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 10, "easy difficulty");
    srv_set_difficulty(s, -11); /* harder: old-job shares still count at the old one */
    srv_notify(s, 0);
    wait_more(s, 10, "after the change");
    srv_set_difficulty(s, -15); /* easier, a fraction far below 1 */
    srv_notify(s, 1);
    wait_more(s, 10, "after the second change");
    close_pool(&x);
}

Test(stratum, clean_jobs_leave_the_old_job)
{
    srv_cfg c = {.diff_log2 = -13, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    x.o.threads = 2;
    start_mining(&x, 0);
    wait_valid(s, 10, "first job");
    for (int i = 0; i < 5; i++) {
        srv_notify(s, 1);
        usleep(300000);
    }
    wait_more(s, 5, "last job");
    finish(&x.r);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.old_job_after_clean, 0, "shares for a cleared job kept coming");
    no_bad_shares(s);
    srv_stop(s);
}

Test(stratum, set_extranonce_takes_effect)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 5, "before");
    srv_set_extranonce(s, "0badcafe0102", 3);
    srv_notify(s, 1);
    wait_more(s, 10, "with the new extranonce"); /* built with the new one, or invalid */
    close_pool(&x);
}

Test(stratum, version_rolling_refused_means_five_parameters)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 0};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 10, "no version rolling");
    finish(&x.r);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.with_version_bits, 0);
    no_bad_shares(s);
    srv_stop(s);
}

Test(stratum, configure_never_answered_means_no_rolling)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = -1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 10, "silent configure");
    finish(&x.r);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.with_version_bits, 0);
    no_bad_shares(s);
    srv_stop(s);
}

Test(stratum, narrow_mask_is_respected)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .mask = 0x00006000};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 10, "narrow mask");
    close_pool(&x);
}

/* Version lanes: the CPU kernel hashes 8 (AVX2) or 16 (AVX-512) rolled
 * versions side by side; every share must carry its own lane's version,
 * inside the mask, and pass the pool's own check. */
static void version_lanes_case(uint32_t mask, const char *kernel)
{
    if (!(pk_cpu_features() & PK_CPU_AVX2))
        cr_skip_test("no AVX2 here");
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .mask = mask};
    session x;
    open_pool(&x, &c);
    x.o.kernel = kernel;
    x.o.threads = 2;
    start_mining(&x, 0);
    wait_valid(x.s, 30, "version lanes");
    pk_miner_stats ms;
    pk_miner_get_stats(x.r.m, &ms);
    cr_assert_eq(ms.version_lanes, 8, "%s mining alone: 8 version lanes", kernel);
    cr_assert_eq(ms.invalid, 0);
    srv_stats st;
    srv_stats_get(x.s, &st);
    cr_assert_gt(st.version_bits_nonzero, 0, "shares from the rolled lanes");
    close_pool(&x);
}

Test(stratum, version_lanes_shares_are_valid) { version_lanes_case(0, "avx2:2r"); }
Test(stratum, version_lanes_other_layout) { version_lanes_case(0, "avx2:1"); }
/* Two bits: groups of 4 versions, fewer than the lanes: template by
 * template through the plain kernel, no template skipped. */
Test(stratum, version_lanes_with_a_two_bit_mask) { version_lanes_case(0x00006000, "avx2:2r"); }

Test(stratum, session_resumes_and_offline_shares_are_sent)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    x.o.pool.backoff_min_ms = 600; /* long enough to find shares while down */
    start_mining(&x, 0);
    wait_valid(s, 5, "before the drop");
    srv_drop_client(s);
    int two = 2;
    cr_assert(srv_wait(s, connections_at_least, &two, 20), "no reconnect");
    int one = 1;
    cr_assert(srv_wait(s, resumed_at_least, &one, 20), "the session id was offered back and kept");
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.resumed_subscribes, 1);
    wait_valid(s, st.valid + 10, "after resume");
    finish(&x.r);
    srv_stats_get(s, &st);
    cr_assert_eq(st.stale, 0, "resumed: the old job's shares are still good");
    no_bad_shares(s);
    srv_stop(s);
}

Test(stratum, client_reconnect_same_host)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 3, "before");
    /* Another host without --allow-redirect: stays on this one. */
    const char *msg = "{\"id\":null,\"method\":\"client.reconnect\",\"params\":[\"evil.example\",3333,0]}\n";
    srv_send(s, msg, strlen(msg));
    int two = 2;
    cr_assert(srv_wait(s, connections_at_least, &two, 20), "did not reconnect here");
    wait_more(s, 5, "after reconnect");
    close_pool(&x);
}

Test(stratum, answers_ping_version_and_unknown_methods)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 2, "before");
    const char *m = "{\"id\":901,\"method\":\"mining.ping\",\"params\":[]}\n"
                    "{\"id\":902,\"method\":\"client.get_version\",\"params\":[]}\n"
                    "{\"id\":903,\"method\":\"mining.frobnicate\",\"params\":[]}\n"
                    "{\"id\":null,\"method\":\"client.show_message\",\"params\":[\"hello\\u001b[31m\"]}\n";
    srv_send(s, m, strlen(m));
    int three = 3;
    cr_assert(srv_wait(s, answers_at_least, &three, 10));
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.answer_errors, 1, "only the unknown method is an error");
    wait_more(s, 3, "still mining");
    close_pool(&x);
}

static int free_port(void)
{
    srv_cfg c = {0};
    srv *s = srv_start(&c);
    int p = srv_port(s);
    srv_stop(s);
    return p;
}

Test(stratum, failover_to_backup_and_back)
{
    int primary_port = free_port(); /* nothing listens there yet */
    srv_cfg cb = {.diff_log2 = -12, .version_rolling = 1};
    srv *backup = srv_start(&cb);
    runner r = {0};
    pk_miner_opts o = base_opts();
    add_pool(&r, &o, primary_port, 0);
    add_pool(&r, &o, srv_port(backup), 0);
    start(&r, &o);
    wait_valid(backup, 10, "on the backup");
    srv_cfg cp = {.port = primary_port, .diff_log2 = -12, .version_rolling = 1};
    srv *primary = srv_start(&cp);
    cr_assert_not_null(primary);
    wait_valid(primary, 10, "back on the primary");
    usleep(300000);
    srv_stats b1, b2;
    srv_stats_get(backup, &b1);
    usleep(500000);
    srv_stats_get(backup, &b2);
    cr_assert_eq(b2.submits, b1.submits, "still submitting to the backup after failing back");
    finish(&r);
    no_bad_shares(primary);
    no_bad_shares(backup);
    srv_stop(primary);
    srv_stop(backup);
}

Test(stratum, tls_with_the_pool_certificate)
{
    char cert[] = "/tmp/pk-cert-XXXXXX", key[] = "/tmp/pk-key-XXXXXX";
    close(mkstemp(cert));
    close(mkstemp(key));
    cr_assert_eq(srv_make_cert(cert, key), 0);
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .cert_file = cert, .key_file = key};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    x.o.pool.ca_file = cert;
    start_mining(&x, 1);
    wait_valid(s, 10, "over TLS");
    close_pool(&x);
    unlink(cert);
    unlink(key);
}

Test(stratum, tls_refuses_a_wrong_certificate)
{
    char cert[] = "/tmp/pk-cert-XXXXXX", key[] = "/tmp/pk-key-XXXXXX", other[] = "/tmp/pk-other-XXXXXX",
         okey[] = "/tmp/pk-okey-XXXXXX";
    close(mkstemp(cert));
    close(mkstemp(key));
    close(mkstemp(other));
    close(mkstemp(okey));
    cr_assert_eq(srv_make_cert(cert, key), 0);
    cr_assert_eq(srv_make_cert(other, okey), 0);
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .cert_file = cert, .key_file = key};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    x.o.pool.ca_file = other; /* trusts someone else */
    start_mining(&x, 1);
    int two = 2;
    cr_assert(srv_wait(s, connections_at_least, &two, 20), "the miner gave up instead of retrying");
    finish(&x.r);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.subscribes, 0, "nothing is said over an unverified connection");
    cr_assert_eq(st.submits, 0);
    srv_stop(s);
    unlink(cert);
    unlink(key);
    unlink(other);
    unlink(okey);
}

/* ---- bad input: each survived, then mining goes on ---- */

static void bad_input_case(const char *bytes, size_t len, int expect_reconnect)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 3, "before the bad input");
    srv_send(s, bytes, len);
    if (expect_reconnect) {
        int two = 2;
        cr_assert(srv_wait(s, connections_at_least, &two, 20), "no reconnect after fatal input");
    }
    srv_notify(s, 1);
    wait_more(s, 5, "after the bad input");
    close_pool(&x);
}

TestSuite(stratum_bad_input, .init = quiet_logs, .timeout = 120);

#define BAD(name, text, reconnect)                                                    \
    Test(stratum_bad_input, name) { bad_input_case(text, strlen(text), reconnect); }

BAD(malformed_json, "{\"id\":1,\"method\":\"mining.notify\",\"params\":[\n", 0)
BAD(not_an_object, "[1,2,3]\n\"hello\"\n42\n", 0)
BAD(wrong_types, "{\"id\":null,\"method\":\"mining.notify\",\"params\":[1,2,3,4,5,6,7,8,9]}\n", 0)
BAD(missing_fields, "{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"j\",\"00\"]}\n", 0)
BAD(hex_wrong_length,
    "{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"jx\",\"0011\",\"00\",\"00\",[],"
    "\"20000000\",\"1d00ffff\",\"65000000\",true]}\n",
    0)
BAD(difficulty_not_a_number, "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[\"x\"]}\n"
                             "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[-1]}\n", 0)
BAD(params_not_an_array, "{\"id\":null,\"method\":\"mining.notify\",\"params\":{\"a\":1}}\n", 0)
BAD(answer_to_nothing, "{\"id\":999999,\"result\":true,\"error\":null}\n", 0)

static void extranonce_case(int size)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .en2_size = size, .en2_size_set = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 10, "extranonce2 size from subscribe");
    srv_set_extranonce(s, "aabbccdd", size);
    srv_notify(s, 1);
    wait_more(s, 10, "extranonce2 size from set_extranonce");
    close_pool(&x);
}

Test(stratum_bad_input, extranonce2_size_16) { extranonce_case(16); }
Test(stratum_bad_input, extranonce2_size_0) { extranonce_case(0); }

Test(stratum_bad_input, extranonce2_size_17_is_refused)
{
    /* The pool's state is unusable: powkit reconnects for a fresh
     * subscribe instead of mining with stale values, and never sends a
     * share it cannot build right. */
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 3, "before");
    srv_set_extranonce(s, "aabbccdd", 17);
    srv_notify(s, 1);
    int three = 3;
    cr_assert(srv_wait(s, connections_at_least, &three, 20), "subscribe with size 17 must be refused and retried");
    close_pool(&x);
}

Test(stratum_bad_input, one_mebibyte_line_without_newline)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'a', n);
    big[0] = '{';
    bad_input_case(big, n, 1);
    free(big);
}

Test(stratum_bad_input, server_closes_mid_line)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 3, "before");
    const char *half = "{\"id\":null,\"method\":\"mining.not";
    srv_send(s, half, strlen(half));
    srv_drop_client(s);
    int two = 2;
    cr_assert(srv_wait(s, connections_at_least, &two, 20));
    wait_more(s, 5, "after");
    close_pool(&x);
}

Test(stratum_bad_input, subscribe_never_answered)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .no_subscribe_answer = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    int three = 3;
    cr_assert(srv_wait(s, connections_at_least, &three, 30), "the miner must time out and retry");
    finish(&x.r);
    srv_stats st;
    srv_stats_get(s, &st);
    cr_assert_eq(st.submits, 0);
    srv_stop(s);
}

Test(stratum_bad_input, repeated_rejects_fail_over)
{
    srv_cfg cb = {.diff_log2 = -12, .version_rolling = 1, .reject_all = 1};
    srv *bad = srv_start(&cb);
    srv_cfg cg = {.diff_log2 = -12, .version_rolling = 1};
    srv *good = srv_start(&cg);
    runner r = {0};
    pk_miner_opts o = base_opts();
    o.pool.max_rejects = 5;
    o.pool.failback_stable_ms = 60000; /* do not come back during the test */
    add_pool(&r, &o, srv_port(bad), 0);
    add_pool(&r, &o, srv_port(good), 0);
    start(&r, &o);
    wait_valid(good, 5, "on the second pool after rejects");
    finish(&r);
    no_bad_shares(good);
    srv_stop(bad);
    srv_stop(good);
}

Test(stratum, unreachable_pool_is_retried_without_crash)
{
    int port = free_port();
    runner r = {0};
    pk_miner_opts o = base_opts();
    add_pool(&r, &o, port, 0);
    start(&r, &o);
    usleep(800000);
    pk_miner_stats ms;
    pk_miner_get_stats(r.m, &ms);
    cr_assert_eq(ms.active_pool, -1);
    finish(&r);
    (void)jobs_at_least;
}

/* ---- hostile pools (each was a defect) ---- */

static int submits_at_least(const srv_stats *st, void *arg) { return st->submits >= *(int *)arg; }

/* A reconnect that does not resume the session, to a pool whose job ids
 * outlive sessions and that sends the next job only later: the old job
 * (old extranonce1) must not be mined into the new session. */
Test(stratum, jobs_of_a_lost_session_are_not_mined_into_the_next)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .no_resume = 1, .jobs_outlive_sessions = 1,
                 .quiet_after_reconnect = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 5, "first session");
    srv_drop_client(s);
    int two = 2;
    cr_assert(srv_wait(s, connections_at_least, &two, 20), "no reconnect");
    srv_stats st;
    srv_stats_get(s, &st);
    int more = st.submits + 1;
    /* 1.5 s of a new session with no job of its own: nothing to submit. */
    cr_assert_not(srv_wait(s, submits_at_least, &more, 1.5), "shares of the old session's job were sent");
    srv_notify(s, 1);
    wait_more(s, 5, "the new session's job");
    close_pool(&x);
}

/* mining.notify before the subscribe answer (and no other job): the job is
 * held until the extranonce is known, then mined with it. */
Test(stratum, notify_before_the_subscribe_answer)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1, .notify_before_subscribe_answer = 1};
    session x;
    open_pool(&x, &c);
    start_mining(&x, 0);
    wait_valid(x.s, 10, "the job sent first");
    close_pool(&x);
}

/* client.reconnect to this host on another port is a redirect too: not
 * followed without --allow-redirect. */
Test(stratum, client_reconnect_to_another_port_is_a_redirect)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    session x;
    open_pool(&x, &c);
    srv *s = x.s;
    start_mining(&x, 0);
    wait_valid(s, 3, "before");
    char msg[200];
    snprintf(msg, sizeof msg, "{\"id\":null,\"method\":\"client.reconnect\",\"params\":[\"127.0.0.1\",%d,0]}\n",
             srv_port(s) == 1 ? 2 : 1);
    srv_send(s, msg, strlen(msg));
    int two = 2;
    cr_assert(srv_wait(s, connections_at_least, &two, 20), "did not come back to this port");
    wait_more(s, 5, "after the refused redirect");
    close_pool(&x);
}

/* A cpuminer command line, run as cpuminer users run it, against the
 * scripted pool: -a sha256d, -O user:pass, -t, -q; the shares are valid
 * and every verdict is logged as cpuminer logs it. */
Test(stratum, cpuminer_command_line_mines_on_the_pool, .timeout = 120)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    srv *s = srv_start(&c);
    cr_assert(s);
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "'%s' mine -a sha256d -o stratum+tcp://127.0.0.1:%d -O worker1:secret -t 2 -q --duration 6 2>&1",
             POWKIT_CLI, srv_port(s));
    static char out[1 << 16];
    int st = tu_run(cmd, out, sizeof out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    srv_stats ss;
    srv_stats_get(s, &ss);
    cr_assert_str_eq(ss.user, "worker1");
    cr_assert_str_eq(ss.pass, "secret");
    cr_assert_gt(ss.valid, 0, "%s", out);
    cr_assert(strstr(out, "] accepted: 1/1 (100.00%), "), "%s", out);
    cr_assert(strstr(out, " yes!"), "%s", out);
    no_bad_shares(s);
    srv_stop(s);
    /* Another algorithm is refused before anything connects. */
    snprintf(cmd, sizeof cmd, "'%s' mine -a scrypt -o stratum+tcp://127.0.0.1:1 -u x 2>&1", POWKIT_CLI);
    st = tu_run(cmd, out, sizeof out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s", out);
    cr_assert(strstr(out, "sha256d"), "%s", out);
}

/* ---- cgminer's API, asked as a farm monitor asks it ---- */

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* One request from source address `from`; the reply up to its NUL. */
static char *cg_ask(int port, const char *from, const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof src), 0, "bind %s", from);
    cr_assert_eq(connect(fd, (struct sockaddr *)&dst, sizeof dst), 0);
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    shutdown(fd, SHUT_WR);
    static char buf[1 << 16];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    cr_assert(n > 0 && buf[n - 1] == 0, "the reply ends with a NUL (%zu bytes)", n);
    return strdup(buf);
}

/* reply[cmd][0]: STATUS S with code, and the section, an array. */
static json_t *cg_section(json_t *reply, const char *cmd, const char *section, int code)
{
    json_t *one = json_array_get(json_object_get(reply, cmd), 0);
    cr_assert(one, "no answer for %s", cmd);
    json_t *st = json_array_get(json_object_get(one, "STATUS"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(st, "STATUS")), "S", "%s", cmd);
    cr_assert_eq(json_integer_value(json_object_get(st, "Code")), code, "%s", cmd);
    cr_assert(json_is_integer(json_object_get(st, "When")));
    cr_assert(json_is_string(json_object_get(st, "Description")));
    json_t *sec = json_object_get(one, section);
    cr_assert(json_is_array(sec), "%s has no %s array", cmd, section);
    return sec;
}

static void cg_numbers(json_t *o, const char *const *keys, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(json_is_number(json_object_get(o, keys[i])), "%s lacks the number \"%s\"", what, keys[i]);
}

static int cg_code(const char *reply)
{
    const char *c = strstr(reply, "Code=");
    return c ? atoi(c + 5) : -1;
}

Test(stratum, cgminer_api_answers_as_cgminer_and_guards_privileged_commands, .timeout = 120)
{
    srv_cfg c = {.diff_log2 = -12, .version_rolling = 1};
    srv *a = srv_start(&c), *b = srv_start(&c);
    runner r = {0};
    pk_miner_opts o = base_opts();
    add_pool(&r, &o, srv_port(a), 0);
    add_pool(&r, &o, srv_port(b), 0);
    o.cgminer_api = "127.0.0.1:0";
    o.api_allow = "W:127.0.0.1"; /* 127.0.0.2 is loopback too: it may read, not command */
    start(&r, &o);
    int port = pk_miner_cgminer_api_port(r.m);
    cr_assert_gt(port, 0);
    wait_valid(a, 5, "on pool 0");

    char *txt = cg_ask(port, "127.0.0.1", "{\"command\":\"summary+devs+pools+version+config+stats\",\"parameter\":\"\"}");
    json_error_t je;
    json_t *reply = json_loads(txt, 0, &je);
    cr_assert(reply, "%s: %s", je.text, txt);
    json_t *sum = json_array_get(cg_section(reply, "summary", "SUMMARY", 11), 0);
    static const char *sum_keys[] = {"Elapsed", "MHS av", "MHS 5s", "MHS 1m", "Found Blocks", "Getworks", "Accepted",
                                     "Rejected", "Hardware Errors", "Utility", "Stale", "Total MH",
                                     "Difficulty Accepted", "Difficulty Rejected", "Best Share", "Pool Rejected%"};
    cg_numbers(sum, sum_keys, sizeof sum_keys / sizeof sum_keys[0], "SUMMARY");
    cr_assert_gt(json_integer_value(json_object_get(sum, "Accepted")), 0);
    cr_assert_gt(json_number_value(json_object_get(sum, "MHS av")), 0);
    cr_assert_gt(json_number_value(json_object_get(sum, "Best Share")), 0);
    json_t *devs = cg_section(reply, "devs", "DEVS", 9);
    cr_assert_eq(json_array_size(devs), 1);
    static const char *dev_keys[] = {"MHS av", "MHS 5s", "Total MH", "Hardware Errors"};
    cg_numbers(json_array_get(devs, 0), dev_keys, 4, "DEVS");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(devs, 0), "Status")), "Alive");
    json_t *pools = cg_section(reply, "pools", "POOLS", 7);
    cr_assert_eq(json_array_size(pools), 2);
    static const char *pool_keys[] = {"POOL", "Priority", "Accepted", "Rejected", "Stale", "Difficulty Accepted",
                                      "Stratum Difficulty", "Last Share Time"};
    for (size_t i = 0; i < 2; i++) {
        json_t *p = json_array_get(pools, i);
        cg_numbers(p, pool_keys, sizeof pool_keys / sizeof pool_keys[0], "POOLS");
        cr_assert_eq(json_integer_value(json_object_get(p, "POOL")), (json_int_t)i);
        cr_assert_str_eq(json_string_value(json_object_get(p, "URL")), r.url[i]);
        cr_assert_str_eq(json_string_value(json_object_get(p, "User")), "worker.1");
    }
    cr_assert(json_is_true(json_object_get(json_array_get(pools, 0), "Stratum Active")));
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(pools, 0), "Status")), "Alive");
    json_t *ver = json_array_get(cg_section(reply, "version", "VERSION", 22), 0);
    cr_assert(json_is_string(json_object_get(ver, "API")));
    json_t *cfg = json_array_get(cg_section(reply, "config", "CONFIG", 33), 0);
    cr_assert_eq(json_integer_value(json_object_get(cfg, "Pool Count")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(cfg, "Strategy")), "Failover");
    cr_assert_geq(json_array_size(cg_section(reply, "stats", "STATS", 70)), 3);
    json_decref(reply);
    free(txt);

    /* The plain form: STATUS=...|SUMMARY,...| */
    txt = cg_ask(port, "127.0.0.1", "summary");
    cr_assert(strncmp(txt, "STATUS=S,", 9) == 0 && strstr(txt, "|SUMMARY,Elapsed="), "%s", txt);
    cr_assert(strstr(txt, ",MHS av="), "%s", txt);
    free(txt);
    txt = cg_ask(port, "127.0.0.1", "frobnicate");
    cr_assert_eq(cg_code(txt), 14, "%s", txt);
    free(txt);

    /* Privileged: refused to a reader, honoured for a W: address. */
    txt = cg_ask(port, "127.0.0.2", "switchpool|1");
    cr_assert_eq(cg_code(txt), 45, "%s", txt);
    free(txt);
    txt = cg_ask(port, "127.0.0.2", "quit");
    cr_assert_eq(cg_code(txt), 45, "%s", txt);
    free(txt);
    txt = cg_ask(port, "127.0.0.1", "switchpool|7");
    cr_assert(strstr(txt, "STATUS=E"), "%s", txt);
    free(txt);
    txt = cg_ask(port, "127.0.0.1", "switchpool|1");
    cr_assert_eq(cg_code(txt), 27, "%s", txt);
    free(txt);
    wait_valid(b, 5, "on pool 1 after switchpool");
    srv_stats s1, s2;
    usleep(300000);
    srv_stats_get(a, &s1);
    usleep(600000);
    srv_stats_get(a, &s2);
    cr_assert_eq(s2.submits, s1.submits, "still submitting to pool 0 after switchpool|1");
    txt = cg_ask(port, "127.0.0.1", "{\"command\":\"pools\"}");
    reply = json_loads(txt, 0, &je);
    pools = json_object_get(reply, "POOLS");
    cr_assert(json_is_true(json_object_get(json_array_get(pools, 1), "Stratum Active")), "%s", txt);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(pools, 1), "Priority")), 0, "%s", txt);
    json_decref(reply);
    free(txt);

    /* disablepool|1: its work stops, pool 0 takes over; the last enabled
     * pool cannot be disabled; enablepool and addpool answer as cgminer. */
    txt = cg_ask(port, "127.0.0.1", "disablepool|1");
    cr_assert_eq(cg_code(txt), 48, "%s", txt);
    free(txt);
    srv_stats_get(a, &s1);
    int want = s1.valid + 3;
    cr_assert(srv_wait(a, valid_at_least, &want, 30), "pool 0 did not take over after disablepool|1");
    txt = cg_ask(port, "127.0.0.1", "disablepool|0");
    cr_assert_eq(cg_code(txt), 49, "%s", txt);
    free(txt);
    txt = cg_ask(port, "127.0.0.1", "enablepool|1");
    cr_assert_eq(cg_code(txt), 47, "%s", txt);
    free(txt);
    txt = cg_ask(port, "127.0.0.1", "addpool|stratum+tcp://127.0.0.1:1,w.9,x");
    cr_assert_eq(cg_code(txt), 55, "%s", txt);
    free(txt);
    txt = cg_ask(port, "127.0.0.1", "addpool|nonsense");
    cr_assert(strstr(txt, "STATUS=E"), "%s", txt);
    free(txt);
    txt = cg_ask(port, "127.0.0.1", "{\"command\":\"config\"}");
    cr_assert(strstr(txt, "\"Pool Count\":3"), "%s", txt);
    free(txt);

    /* quit: the reply, then the miner stops. */
    txt = cg_ask(port, "127.0.0.1", "quit");
    cr_assert_eq(cg_code(txt), 68, "%s", txt);
    cr_assert(strstr(txt, "Msg=BYE"), "%s", txt);
    free(txt);
    pthread_join(r.th, NULL);
    pk_miner_free(r.m);
    cr_assert_eq(r.rc, 0);
    no_bad_shares(a);
    no_bad_shares(b);
    srv_stop(a);
    srv_stop(b);
}
