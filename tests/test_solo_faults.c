/* Solo mining against a node that fails: busy (503), warming up (-28),
 * refusing credentials (401), not answering, saying "duplicate" for a
 * block it took; a template too large for libcurl's string options; a
 * flood of idle API clients while descriptors are scarce; kill -9 while
 * blocks are found.  A found block is never lost and never miscounted. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_node.h"
#include "powkit/log.h"
#include "powkit/miner.h"
#include "powkit/util.h"

static const char *PAYOUT = "0014751e76e8199196d454941c45d1b3a323f1433bd6";

typedef struct run {
    pk_miner *m;
    pthread_t th;
    int rc;
    char url[128], dir[64];
} run;

static void *run_thread(void *a)
{
    run *r = a;
    r->rc = pk_miner_run(r->m);
    return NULL;
}

static pk_miner_opts solo_opts(run *r, fnode *f, unsigned max_blocks, double duration)
{
    snprintf(r->url, sizeof r->url, "http://127.0.0.1:%d", fn_port(f));
    if (!r->dir[0]) {
        snprintf(r->dir, sizeof r->dir, "/tmp/powkit-faults-XXXXXX");
        cr_assert(mkdtemp(r->dir));
    }
    pk_miner_opts o = {.threads = 1, .quiet = 1, .duration_s = duration};
    o.node = (pk_node_opts){.url = r->url, .user = "x", .pass = "y", .payout_script_hex = PAYOUT,
                            .blocks_dir = r->dir, .max_blocks = max_blocks, .retry_min_ms = 50,
                            .retry_max_ms = 400};
    return o;
}

static void start(run *r, const pk_miner_opts *o)
{
    char err[300];
    cr_assert_eq(pk_miner_new(o, &r->m, err, sizeof err), 0, "%s", err);
    pthread_create(&r->th, NULL, run_thread, r);
}

static pk_miner_stats finish(run *r)
{
    pthread_join(r->th, NULL);
    pk_miner_stats st;
    pk_miner_get_stats(r->m, &st);
    pk_miner_free(r->m);
    r->m = NULL;
    return st;
}

/* Files in dir by their ending: .accepted, .rejected, .hex (no verdict). */
typedef struct files {
    int accepted, rejected, pending, tmp;
    char hash[256][65];
    int verdict[256]; /* 1 accepted, 0 rejected, -1 none */
    int n;
} files;

static void list_files(const char *dir, files *fl)
{
    memset(fl, 0, sizeof *fl);
    DIR *d = opendir(dir);
    cr_assert(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name, *dash = strchr(name, '-');
        if (!dash || strlen(dash + 1) < 64)
            continue;
        int v = strstr(name, ".hex.accepted") ? 1 : strstr(name, ".hex.rejected") ? 0 : -1;
        if (strstr(name, ".tmp")) {
            fl->tmp++;
            continue;
        }
        fl->accepted += v == 1, fl->rejected += v == 0, fl->pending += v == -1;
        if (fl->n < 256) {
            snprintf(fl->hash[fl->n], 65, "%.64s", dash + 1);
            fl->verdict[fl->n++] = v;
        }
    }
    closedir(d);
}

static void rm_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void quiet(void) { pk_log_set_level(getenv("PK_TEST_LOG") ? PK_LOG_DEBUG : PK_LOG_ERROR); }
TestSuite(solo_faults, .init = quiet, .timeout = 300);

/* Transient answers are waited out; only the node's verdict ends a block. */
Test(solo_faults, busy_warming_unauthorized_and_silent_nodes_are_retried)
{
    fnode *f = fn_start(0);
    fn_script(f, FN_BUSY, 2);
    fn_script(f, FN_WARMUP, 2);
    fn_script(f, FN_UNAUTHORIZED, 2);
    fn_script(f, FN_SILENT, 1);
    run r = {0};
    pk_miner_opts o = solo_opts(&r, f, 3, 60);
    start(&r, &o);
    pk_miner_stats st = finish(&r);
    cr_assert_eq(r.rc, 0);
    fn_stats ns;
    fn_stats_get(f, &ns);
    cr_assert_eq(ns.accepted, 3, "the node took %d", ns.accepted);
    cr_assert_eq(st.blocks_accepted, 3);
    cr_assert_geq(ns.submits, 3 + 7, "every transient answer was followed by another try");
    files fl;
    list_files(r.dir, &fl);
    cr_assert_eq(fl.accepted, 3);
    cr_assert_eq(fl.rejected, 0, "a transient error is not a verdict");
    cr_assert_eq(fl.pending, 0);
    for (int i = 0; i < fl.n; i++)
        cr_assert(fn_in_chain(f, fl.hash[i]));
    rm_dir(r.dir);
    fn_stop(f);
}

/* The node took the block but its answer was lost: the resubmission hears
 * "duplicate", and the chain says it is in: accepted, once. */
Test(solo_faults, duplicate_of_a_block_in_the_chain_is_accepted)
{
    fnode *f = fn_start(0);
    fn_script(f, FN_ACCEPT_SILENT, 1);
    run r = {0};
    pk_miner_opts o = solo_opts(&r, f, 2, 60);
    start(&r, &o);
    pk_miner_stats st = finish(&r);
    fn_stats ns;
    fn_stats_get(f, &ns);
    /* Blocks after the silent one may be accepted before its resubmission
     * (how many depends on the kernel's speed); --blocks 2 then waits for
     * its verdict before stopping.  Every block the node took is counted
     * once, and every file has its verdict. */
    cr_assert_eq(r.rc, 0);
    cr_assert_geq(st.blocks_accepted, 2);
    cr_assert_eq(ns.accepted, (int)st.blocks_accepted, "the node took %d, the miner counted %llu", ns.accepted,
                 (unsigned long long)st.blocks_accepted);
    files fl;
    list_files(r.dir, &fl);
    cr_assert_eq(fl.accepted, (int)st.blocks_accepted);
    cr_assert_eq(fl.rejected, 0);
    cr_assert_eq(fl.pending, 0, "the silent block got its verdict: duplicate, and in the chain");
    /* "duplicate" for a block the node does not have in its chain is a verdict against it. */
    fn_always(f, FN_DUPLICATE);
    run r2 = {0};
    pk_miner_opts o2 = solo_opts(&r2, f, 1, 3);
    start(&r2, &o2);
    st = finish(&r2);
    cr_assert_eq(st.blocks_accepted, 0);
    list_files(r2.dir, &fl);
    cr_assert_geq(fl.rejected, 1);
    cr_assert_eq(fl.accepted, 0);
    rm_dir(r.dir);
    rm_dir(r2.dir);
    fn_stop(f);
}

/* A block the node took before powkit was stopped (its answer never came)
 * is resubmitted at the next start and recorded accepted; no template is
 * asked for before the saved blocks have their verdicts. */
Test(solo_faults, saved_blocks_get_their_verdict_before_mining_resumes)
{
    fnode *f = fn_start(0);
    fn_script(f, FN_ACCEPT_SILENT, 1); /* taken, answer lost */
    fn_always(f, FN_SILENT);           /* then nothing is taken or answered */
    run r = {0};
    pk_miner_opts o = solo_opts(&r, f, 0, 1.5);
    start(&r, &o);
    finish(&r);
    fn_stats ns;
    fn_stats_get(f, &ns);
    cr_assert_eq(ns.accepted, 1);
    files fl;
    list_files(r.dir, &fl);
    int pending = fl.pending;
    cr_assert_geq(pending, 1, "the blocks wait in their files for a verdict");
    cr_assert_eq(fl.accepted + fl.rejected, 0);
    /* Next run: the node is busy a while, then answers. */
    fn_always(f, FN_NORMAL);
    fn_script(f, FN_BUSY, 3);
    char ev[8192];
    fn_events(f, ev, sizeof ev, 1);
    run r2 = {0};
    snprintf(r2.dir, sizeof r2.dir, "%s", r.dir);
    pk_miner_opts o2 = solo_opts(&r2, f, (unsigned)pending + 1, 60);
    start(&r2, &o2);
    pk_miner_stats st = finish(&r2);
    fn_events(f, ev, sizeof ev, 0);
    char *first_template = strstr(ev, "getblocktemplate");
    cr_assert(first_template, "%s", ev);
    int submits_before = 0;
    for (char *p = ev; (p = strstr(p, "submitblock")) && p < first_template; p++)
        submits_before++;
    cr_assert_geq(submits_before, pending + 3, "a template was asked for before the saved blocks' verdicts: %s", ev);
    cr_assert(strstr(ev, "getblockhash") < first_template, "the duplicate was checked against the chain first");
    cr_assert_eq(st.blocks_accepted, (uint64_t)pending + 1, "the saved blocks, then one mined after them");
    list_files(r.dir, &fl);
    cr_assert_eq(fl.pending, 0);
    cr_assert_eq(fl.rejected, 0);
    cr_assert_eq(fl.accepted, pending + 1);
    for (int i = 0; i < fl.n; i++)
        cr_assert(fn_in_chain(f, fl.hash[i]));
    rm_dir(r.dir);
    fn_stop(f);
}

/* A block whose submitblock body is over libcurl's 8,000,000-byte limit
 * for string options: sent by size, not read from standard input. */
Test(solo_faults, a_block_over_8_megabytes_of_hex_is_submitted)
{
    fnode *f = fn_start(4500000);
    run r = {0};
    pk_miner_opts o = solo_opts(&r, f, 1, 60);
    start(&r, &o);
    pk_miner_stats st = finish(&r);
    fn_stats ns;
    fn_stats_get(f, &ns);
    cr_assert_gt(ns.largest_body, 9000000u);
    cr_assert_eq(ns.accepted, 1);
    /* (Once seen failing under heavy load on the machine: say enough to
     * tell how.) */
    cr_assert_eq(st.blocks_accepted, 1,
                 "blocks found %llu, accepted %llu, rejected %llu; miner exit %d; node: %d submits, %d bad, height %lld",
                 (unsigned long long)st.blocks_found, (unsigned long long)st.blocks_accepted,
                 (unsigned long long)st.rejected, r.rc, ns.submits, ns.bad, (long long)ns.height);
    rm_dir(r.dir);
    fn_stop(f);
}

/* Descriptors scarce (a limit of 200) and hundreds of idle API clients:
 * the API caps its clients, and every found block still reaches the disk. */
static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

Test(solo_faults, idle_api_clients_cannot_stop_blocks_being_saved)
{
    int to_child[2], from_child[2];
    cr_assert_eq(pipe(to_child), 0);
    cr_assert_eq(pipe(from_child), 0);
    pid_t pid = fork();
    if (pid == 0) { /* the flood, with its own descriptors */
        int port;
        if (read(to_child[0], &port, sizeof port) != sizeof port)
            _exit(1);
        int opened = 0;
        for (int i = 0; i < 600; i++)
            opened += connect_to(port) >= 0;
        if (write(from_child[1], &opened, sizeof opened) != sizeof opened)
            _exit(1);
        sleep(20);
        _exit(0);
    }
    struct rlimit rl = {200, 200};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    fnode *f = fn_start(0);
    fn_hold_templates(f, 1);
    run r = {0};
    pk_miner_opts o = solo_opts(&r, f, 5, 60);
    o.api_listen = "127.0.0.1:0";
    start(&r, &o);
    int port = 0;
    for (int i = 0; i < 500 && !port; i++, usleep(10000))
        port = pk_miner_api_port(r.m);
    cr_assert_neq(port, 0);
    cr_assert_eq(write(to_child[1], &port, sizeof port), (ssize_t)sizeof port);
    int opened = 0;
    cr_assert_eq(read(from_child[0], &opened, sizeof opened), (ssize_t)sizeof opened);
    cr_assert_geq(opened, 300, "the flood could not connect");
    fn_hold_templates(f, 0);
    pk_miner_stats st = finish(&r);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_eq(st.blocks_accepted, 5);
    files fl;
    list_files(r.dir, &fl);
    cr_assert_eq(fl.accepted, 5, "blocks on disk: %d accepted, %d rejected, %d without verdict", fl.accepted,
                 fl.rejected, fl.pending);
    rm_dir(r.dir);
    fn_stop(f);
}

/* Credentials in --node never reach the API or the status line. */
static int http_get(int port, const char *path, char *out, size_t cap)
{
    int fd = connect_to(port);
    if (fd < 0)
        return -1;
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t k;
    while (got < cap - 1 && (k = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = 0;
    close(fd);
    return 0;
}

Test(solo_faults, node_credentials_are_redacted)
{
    char shown[128];
    pk_url_redact("http://alice:s3cret@127.0.0.1:8332/wallet/x", shown, sizeof shown);
    cr_assert_str_eq(shown, "http://***@127.0.0.1:8332/wallet/x");
    pk_url_redact("http://127.0.0.1:8332", shown, sizeof shown);
    cr_assert_str_eq(shown, "http://127.0.0.1:8332");
    pk_url_redact("http://a:b@c@host:1", shown, sizeof shown);
    cr_assert_str_eq(shown, "http://***@host:1");

    fnode *f = fn_start(0);
    fn_hold_templates(f, 1);
    run r = {0};
    pk_miner_opts o = solo_opts(&r, f, 0, 30);
    snprintf(r.url, sizeof r.url, "http://x:s3cretpw@127.0.0.1:%d", fn_port(f));
    o.api_listen = "127.0.0.1:0";
    start(&r, &o);
    int port = 0;
    for (int i = 0; i < 500 && !port; i++, usleep(10000))
        port = pk_miner_api_port(r.m);
    usleep(300000);
    char body[16384];
    cr_assert_eq(http_get(port, "/status", body, sizeof body), 0);
    cr_assert(strstr(body, "127.0.0.1"), "%s", body);
    cr_assert_null(strstr(body, "s3cretpw"), "%s", body);
    cr_assert_eq(http_get(port, "/metrics", body, sizeof body), 0);
    cr_assert_null(strstr(body, "s3cretpw"));
    pk_miner_stop(r.m);
    finish(&r);
    rm_dir(r.dir);
    fn_stop(f);
}

/* kill -9 at random moments while blocks are found, against a node that
 * answers at random 503, -28, 401, nothing, or takes a block without
 * answering: every block the node received is on disk, and after a last
 * run every file has a verdict that matches the node's chain. */
Test(solo_faults, kill_9_while_blocks_are_found, .timeout = 240)
{
    fnode *f = fn_start(0);
    char dir[] = "/tmp/powkit-kill-XXXXXX";
    cr_assert(mkdtemp(dir));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fn_port(f));
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    static const fn_mode modes[] = {FN_NORMAL, FN_NORMAL, FN_BUSY, FN_WARMUP, FN_UNAUTHORIZED, FN_SILENT,
                                    FN_ACCEPT_SILENT};
    for (int round = 0; round < 16; round++) {
        for (int k = 0; k < 6; k++)
            fn_script(f, modes[rand() % 7], 1);
        pid_t pid = fork();
        if (pid == 0) {
            int nul = open("/dev/null", O_WRONLY);
            dup2(nul, 1), dup2(nul, 2);
            execl(POWKIT_CLI, "powkit", "mine", "-t", "1", "--node", url, "--rpc-user", "x", "--rpc-password", "y",
                  "--payout-script", PAYOUT, "--blocks-dir", dir, "--gbt-refresh", "1", (char *)NULL);
            _exit(127);
        }
        usleep(150000 + (useconds_t)(rand() % 900) * 1000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    /* Every block the node ever received is on disk (written before it was sent). */
    static char got[4096][65];
    size_t ngot = fn_received(f, got, 4096);
    files fl;
    list_files(dir, &fl);
    cr_assert_gt(ngot, 0, "no block was found (seed %u)", seed);
    for (size_t i = 0; i < ngot; i++) {
        int on_disk = 0;
        for (int k = 0; k < fl.n && !on_disk; k++)
            on_disk = strcmp(fl.hash[k], got[i]) == 0;
        cr_assert(on_disk, "block %s reached the node but not the disk (seed %u)", got[i], seed);
    }
    /* A last run with a well node: every saved block gets its verdict. */
    fn_stats ns;
    fn_stats_get(f, &ns);
    fn_always(f, FN_NORMAL);
    fn_script_clear(f);
    fn_hold_templates(f, 1); /* verdicts only, no new blocks */
    run r = {0};
    snprintf(r.dir, sizeof r.dir, "%s", dir);
    pk_miner_opts o = solo_opts(&r, f, 0, 4);
    start(&r, &o);
    finish(&r);
    list_files(dir, &fl);
    cr_assert_eq(fl.pending, 0, "blocks without a verdict after a run with a well node (seed %u)", seed);
    int accepted = 0;
    for (int k = 0; k < fl.n; k++) {
        int in = fn_in_chain(f, fl.hash[k]);
        cr_assert_eq(fl.verdict[k], in, "block %s recorded %s but %s the chain (seed %u)", fl.hash[k],
                     fl.verdict[k] ? "accepted" : "rejected", in ? "in" : "not in", seed);
        accepted += in;
    }
    fn_stats_get(f, &ns);
    cr_assert_eq(accepted, ns.accepted, "every block the node took has its file (seed %u)", seed);
    cr_log_info("kill -9 x16 (seed %u): %d blocks on disk, %d accepted, %d rejected", seed, fl.n, fl.accepted,
                fl.rejected);
    rm_dir(dir);
    fn_stop(f);
}
