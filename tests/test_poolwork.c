/* Pool work: notify parsing, templates, version rolling, submit fields;
 * the miner's HTTP API; `powkit mine` option and config parsing. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include "powkit/error.h"
#include "powkit/log.h"
#include "../cli/mine.h"
#include "powkit/miner.h"
#include "powkit/poolwork.h"
#include "powkit/sha256.h"
#include "powkit/util.h"

static const char *NOTIFY =
    "[\"job1\",\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\","
    "\"01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008\","
    "\"072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000\","
    "[\"aa00000000000000000000000000000000000000000000000000000000000000\"],"
    "\"00000002\",\"1c2ac4af\",\"504e86b9\",false]";

static void parse_ok(pk_pool_job *job, const char *text)
{
    json_t *p = json_loads(text, 0, NULL);
    cr_assert_not_null(p);
    char err[200];
    cr_assert_eq(pk_pool_job_parse(job, p, err, sizeof err), 0, "%s", err);
    json_decref(p);
}

Test(poolwork, notify_fields)
{
    pk_pool_job job;
    parse_ok(&job, NOTIFY);
    cr_assert_str_eq(job.id, "job1");
    cr_assert_eq(job.version, 2);
    cr_assert_eq(job.nbits, 0x1c2ac4af);
    cr_assert_eq(job.ntime, 0x504e86b9);
    cr_assert_eq(job.clean, 0);
    cr_assert_eq(job.branch_len, 1);
    /* Stratum's prevhash has each 4-byte word reversed against the header. */
    cr_assert_eq(job.prevhash[0], 0xf8);
    cr_assert_eq(job.prevhash[3], 0x4d);
    cr_assert_eq(job.prevhash[31], 0x00);
    pk_pool_job_free(&job);
}

Test(poolwork, notify_rejects_bad_fields)
{
    static const char *bad[] = {
        "{}", "[]", "[1,2,3,4,5,6,7,8,9]",
        "[\"j\",\"00\",\"\",\"\",[],\"00000002\",\"1c2ac4af\",\"504e86b9\",false]",
        "[\"j\",\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\",\"0g\",\"\",[],\"00000002\",\"1c2ac4af\",\"504e86b9\",false]",
        "[\"j\",\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\",\"00\",\"\",[\"12\"],\"00000002\",\"1c2ac4af\",\"504e86b9\",false]",
        "[\"j\",\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\",\"00\",\"\",[],\"2\",\"1c2ac4af\",\"504e86b9\",false]",
        "[\"j\",\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\",\"00\",\"\",[],\"00000002\",\"1c2ac4af\",\"504e86b9\",1]",
        "[\"\",\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\",\"00\",\"\",[],\"00000002\",\"1c2ac4af\",\"504e86b9\",true]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *p = json_loads(bad[i], 0, NULL);
        pk_pool_job job;
        char err[200] = "";
        cr_assert_eq(pk_pool_job_parse(&job, p, err, sizeof err), PK_EINVAL, "case %zu accepted", i);
        cr_assert(strncmp(err, "mining.notify", 13) == 0, "case %zu: '%s'", i, err);
        json_decref(p);
    }
}

static void setup_job(pk_pool_job *job, size_t en2, uint32_t mask)
{
    parse_ok(job, NOTIFY);
    uint8_t en1[4] = {0xf8, 0x00, 0x00, 0x2a};
    memcpy(job->extranonce1, en1, 4);
    job->extranonce1_len = 4;
    job->extranonce2_size = en2;
    job->difficulty = 1;
    job->version_mask = mask;
}

Test(poolwork, header_is_coinbase_merkle_and_fields)
{
    pk_pool_job job;
    setup_job(&job, 4, 0);
    pk_pool_work w;
    cr_assert_eq(pk_pool_work_init(&w, &job), 0);
    uint8_t header[80];
    uint64_t t;
    cr_assert_eq(pk_pool_work_next(&w, header, &t), 0);
    cr_assert_eq(pk_pool_work_next(&w, header, &t), 0);
    cr_assert_eq(t, 1);
    /* By hand: coinbase with extranonce2 = 01 00 00 00, one branch. */
    uint8_t cb[512], h[32], pair[64];
    size_t n = 0;
    memcpy(cb + n, job.coinb1, job.coinb1_len), n += job.coinb1_len;
    memcpy(cb + n, job.extranonce1, 4), n += 4;
    cb[n++] = 1, cb[n++] = 0, cb[n++] = 0, cb[n++] = 0;
    memcpy(cb + n, job.coinb2, job.coinb2_len), n += job.coinb2_len;
    pk_sha256d(cb, n, h);
    memcpy(pair, h, 32);
    memcpy(pair + 32, job.branch[0], 32);
    pk_sha256d(pair, 64, h);
    cr_assert_arr_eq(header + 36, h, 32);
    cr_assert_arr_eq(header + 4, job.prevhash, 32);
    cr_assert_eq(header[0], 2);
    cr_assert_eq(header[68], 0xb9); /* ntime little-endian */
    cr_assert_eq(header[72], 0xaf);
    pk_submit_fields f;
    pk_pool_work_submit_fields(&w, 1, 0x1234abcd, &f);
    cr_assert_str_eq(f.extranonce2, "01000000");
    cr_assert_str_eq(f.ntime, "504e86b9");
    cr_assert_str_eq(f.nonce, "1234abcd");
    pk_pool_job_free(&job);
}

Test(poolwork, version_rolling_stays_inside_the_mask)
{
    pk_pool_job job;
    setup_job(&job, 2, 0x1fffe000 | 0x00000f00 | 0x80000000u); /* extra bits must be ignored */
    pk_pool_work w;
    cr_assert_eq(pk_pool_work_init(&w, &job), 0);
    cr_assert_eq(w.variants, 1u << 16);
    cr_assert_eq(w.templates, (1ull << 16) * (1ull << 16));
    uint32_t seen_or = 0;
    for (uint64_t t = 0; t < 70000; t += 7) {
        uint32_t v = pk_pool_work_version(&w, t);
        cr_assert_eq(v & ~0x1fffe000u, job.version & ~0x1fffe000u, "bit outside the mask at t=%llu",
                     (unsigned long long)t);
        seen_or |= v ^ job.version;
        pk_submit_fields f;
        pk_pool_work_submit_fields(&w, t, 0, &f);
        uint32_t bits = (uint32_t)strtoul(f.version_bits, NULL, 16);
        cr_assert_eq(bits, v & 0x1fffe000u);
    }
    cr_assert_eq(seen_or, 0x1fffe000u, "every allowed bit gets used");
    /* Different templates on one extranonce2 differ only in the version. */
    uint8_t a[80], b[80];
    pk_pool_work_header(&w, 0, a);
    pk_pool_work_header(&w, 1, b);
    cr_assert_arr_eq(a + 4, b + 4, 76);
    cr_assert_neq(memcmp(a, b, 4), 0);
    pk_pool_job_free(&job);
}

Test(poolwork, template_space_ends)
{
    pk_pool_job job;
    setup_job(&job, 0, 0); /* no extranonce2, no rolling: one template */
    pk_pool_work w;
    cr_assert_eq(pk_pool_work_init(&w, &job), 0);
    uint8_t h[80];
    uint64_t t;
    cr_assert_eq(pk_pool_work_next(&w, h, &t), 0);
    cr_assert_eq(pk_pool_work_next(&w, h, &t), PK_EAGAIN);
    pk_submit_fields f;
    pk_pool_work_submit_fields(&w, 0, 5, &f);
    cr_assert_str_eq(f.extranonce2, "");
    pk_pool_job_free(&job);

    setup_job(&job, 1, 0x00006000); /* 256 extranonce2 x 4 versions */
    cr_assert_eq(pk_pool_work_init(&w, &job), 0);
    cr_assert_eq(w.templates, 1024);
    job.extranonce2_size = 17;
    cr_assert_eq(pk_pool_work_init(&w, &job), PK_EINVAL);
    pk_pool_job_free(&job);
}

Test(poolwork, sixteen_byte_extranonce2)
{
    pk_pool_job job;
    setup_job(&job, 16, 0);
    pk_pool_work w;
    cr_assert_eq(pk_pool_work_init(&w, &job), 0);
    cr_assert_eq(w.templates, UINT64_MAX);
    pk_submit_fields f;
    pk_pool_work_submit_fields(&w, 0x0102, 0, &f);
    cr_assert_str_eq(f.extranonce2, "02010000000000000000000000000000");
    pk_pool_job_free(&job);
}

/* ---- the API, on a running offline miner ---- */

static void *run_miner(void *m) { pk_miner_run(m); return NULL; }

static int http_get_auth(int port, const char *path, const char *extra, char *out, size_t len);

static int http_get(int port, const char *path, char *out, size_t len)
{
    return http_get_auth(port, path, "", out, len);
}

Test(api, status_and_metrics, .timeout = 60)
{
    pk_log_set_level(PK_LOG_ERROR);
    pk_miner_opts o = {.threads = 1, .quiet = 1, .api_listen = "127.0.0.1:0"};
    pk_miner *m;
    char err[200];
    cr_assert_eq(pk_miner_new(&o, &m, err, sizeof err), 0, "%s", err);
    pthread_t th;
    pthread_create(&th, NULL, run_miner, m);
    int port = pk_miner_api_port(m);
    cr_assert_gt(port, 0);
    usleep(1500000);
    static char buf[65536];
    cr_assert_gt(http_get(port, "/status", buf, sizeof buf), 0);
    cr_assert(strstr(buf, "HTTP/1.1 200"), "%s", buf);
    char *body = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(body);
    json_t *st = json_loads(body + 4, 0, NULL);
    cr_assert_not_null(st, "status is JSON");
    cr_assert(json_is_true(json_object_get(st, "offline")));
    cr_assert_gt(json_integer_value(json_object_get(st, "hashes")), 0);
    cr_assert(json_is_array(json_object_get(st, "devices")));
    json_decref(st);
    cr_assert_gt(http_get(port, "/metrics", buf, sizeof buf), 0);
    cr_assert(strstr(buf, "# TYPE powkit_hashes_total counter"), "%s", buf);
    cr_assert(strstr(buf, "powkit_hashrate_mhs{window=\"5s\"}"));
    /* Every metric the Grafana dashboard in contrib/ plots is served. */
    {
        char path[1024];
        snprintf(path, sizeof path, "%s/../../contrib/grafana/powkit-dashboard.json", POWKIT_TEST_DATA);
        json_error_t je;
        json_t *dash = json_load_file(path, 0, &je);
        cr_assert(dash, "%s: %s", path, je.text);
        size_t i, k, checked = 0;
        json_t *panel, *target;
        json_array_foreach(json_object_get(dash, "panels"), i, panel) {
            json_array_foreach(json_object_get(panel, "targets"), k, target) {
                const char *expr = json_string_value(json_object_get(target, "expr"));
                cr_assert(expr);
                for (const char *p = expr; (p = strstr(p, "powkit_")); p += 7) {
                    char name[64], want[96];
                    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
                    snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), p);
                    snprintf(want, sizeof want, "# TYPE %s ", name);
                    cr_assert(strstr(buf, want), "the dashboard plots %s, /metrics has no such metric", name);
                    checked++;
                }
            }
        }
        cr_assert_gt(checked, 8);
        json_decref(dash);
    }
    cr_assert_gt(http_get(port, "/nope", buf, sizeof buf), 0);
    cr_assert(strstr(buf, "HTTP/1.1 404"));
    pk_miner_stop(m);
    pthread_join(th, NULL);
    pk_miner_free(m);
}

/* ---- who may use the APIs ---- */

#include "powkit/access.h"

static struct sockaddr_storage addr_of(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        cr_assert_eq(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        cr_assert_eq(inet_pton(AF_INET, ip, &a4->sin_addr), 1);
    }
    return ss;
}

static int level(const pk_access *a, const char *ip)
{
    struct sockaddr_storage ss = addr_of(ip);
    return pk_access_check(a, (struct sockaddr *)&ss);
}

Test(access, rules_like_cgminers_api_allow)
{
    pk_access a;
    char err[200];
    cr_assert_eq(pk_access_parse(&a, "W:192.168.1.0/24,10.0.0.5,W:2001:db8::/32", err, sizeof err), 0, "%s", err);
    cr_assert_eq(level(&a, "192.168.1.77"), PK_ACCESS_WRITE);
    cr_assert_eq(level(&a, "192.168.2.1"), PK_ACCESS_DENIED);
    cr_assert_eq(level(&a, "10.0.0.5"), PK_ACCESS_READ);
    cr_assert_eq(level(&a, "10.0.0.6"), PK_ACCESS_DENIED);
    cr_assert_eq(level(&a, "2001:db8:1::9"), PK_ACCESS_WRITE);
    cr_assert_eq(level(&a, "2001:db9::1"), PK_ACCESS_DENIED);
    cr_assert_eq(level(&a, "::ffff:192.168.1.3"), PK_ACCESS_WRITE, "IPv4-mapped is IPv4");
    /* Loopback always reads, and only reads unless a W: rule says more. */
    cr_assert_eq(level(&a, "127.0.0.1"), PK_ACCESS_READ);
    cr_assert_eq(level(&a, "::1"), PK_ACCESS_READ);
    cr_assert_eq(pk_access_parse(&a, NULL, err, sizeof err), 0);
    cr_assert_eq(level(&a, "127.0.0.2"), PK_ACCESS_READ);
    cr_assert_eq(level(&a, "192.168.1.77"), PK_ACCESS_DENIED);
    cr_assert_eq(pk_access_parse(&a, "W:127.0.0.1", err, sizeof err), 0);
    cr_assert_eq(level(&a, "127.0.0.1"), PK_ACCESS_WRITE);
    cr_assert_eq(level(&a, "127.0.0.2"), PK_ACCESS_READ);
    /* Nonsense is refused with the entry named. */
    static const char *bad[] = {"W:", "10.0.0.1/33", "::1/129", "example.com", "10.0.0.1,,10.0.0.2", "1.2.3.4/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(pk_access_parse(&a, bad[i], err, sizeof err), -1, "%s accepted", bad[i]);
}

static int http_get_auth(int port, const char *path, const char *extra, char *out, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, extra);
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return -1;
    }
    size_t n = 0;
    ssize_t r;
    while (n < len - 1 && (r = read(fd, out + n, len - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fd);
    return (int)n;
}

Test(api, token_and_public_binds, .timeout = 60)
{
    pk_log_set_level(PK_LOG_ERROR);
    pk_miner *m;
    char err[300];
    /* Reachable from other machines with nothing to say who may ask: no. */
    pk_miner_opts pub = {.threads = 1, .quiet = 1, .api_listen = "0.0.0.0:0"};
    cr_assert_neq(pk_miner_new(&pub, &m, err, sizeof err), 0);
    cr_assert(strstr(err, "--api-allow") && strstr(err, "--api-token"), "%s", err);
    pk_miner_opts cg = {.threads = 1, .quiet = 1, .cgminer_api = "0.0.0.0:0"};
    cr_assert_neq(pk_miner_new(&cg, &m, err, sizeof err), 0);
    cr_assert(strstr(err, "--api-allow"), "%s", err);
    /* With a token, every request needs it. */
    pk_miner_opts o = {.threads = 1, .quiet = 1, .api_listen = "0.0.0.0:0", .api_token = "s3cret"};
    cr_assert_eq(pk_miner_new(&o, &m, err, sizeof err), 0, "%s", err);
    pthread_t th;
    pthread_create(&th, NULL, run_miner, m);
    int port = pk_miner_api_port(m);
    static char buf[65536];
    cr_assert_gt(http_get_auth(port, "/status", "", buf, sizeof buf), 0);
    cr_assert(strstr(buf, "HTTP/1.1 401"), "%s", buf);
    cr_assert_gt(http_get_auth(port, "/status", "Authorization: Bearer wrong\r\n", buf, sizeof buf), 0);
    cr_assert(strstr(buf, "HTTP/1.1 401"), "%s", buf);
    cr_assert_gt(http_get_auth(port, "/status", "Authorization: Bearer s3cret\r\n", buf, sizeof buf), 0);
    cr_assert(strstr(buf, "HTTP/1.1 200"), "%s", buf);
    pk_miner_stop(m);
    pthread_join(th, NULL);
    pk_miner_free(m);
}

/* ---- option parsing ---- */

Test(mine_cli, pools_and_options)
{
    char *argv[] = {"mine", "-o", "stratum+tcp://a:1", "-u", "w1", "-p", "x", "-o",
                    "stratum+ssl://b:2", "-u", "w2", "-t", "3", "--no-extranonce", "--api-listen",
                    "127.0.0.1:4048", "--suggest-diff", "0.25", NULL};
    pk_mine_cli c;
    char err[200];
    cr_assert_eq(pk_mine_cli_parse(&c, 18, argv, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.opts.pool.npools, 2);
    cr_assert_str_eq(c.opts.pool.pools[1].user, "w2");
    cr_assert_null(c.opts.pool.pools[1].pass);
    cr_assert_eq(c.opts.threads, 3);
    cr_assert(c.opts.pool.no_extranonce);
    cr_assert_float_eq(c.opts.pool.suggest_difficulty, 0.25, 1e-12);
    pk_mine_cli_free(&c);
}

Test(mine_cli, refusals)
{
    char *a1[] = {"mine", "-u", "w", NULL};
    char *a2[] = {"mine", "-o", "stratum+tcp://a:1", NULL};
    char *a3[] = {"mine", "-t", "0", NULL};
    char *a4[] = {"mine", "--devices", "gpu:0", NULL};
    char *a5[] = {"mine", "--bogus", NULL};
    char *a6[] = {"mine", "--config", "/nonexistent/powkit.json", NULL};
    char **cases[] = {a1, a2, a3, a4, a5, a6};
    int counts[] = {3, 3, 3, 3, 2, 3};
    for (int i = 0; i < 6; i++) {
        pk_mine_cli c;
        char err[200] = "";
        cr_assert_eq(pk_mine_cli_parse(&c, counts[i], cases[i], err, sizeof err), -1, "case %d", i);
        cr_assert_neq(err[0], 0);
        pk_mine_cli_free(&c);
    }
}

Test(mine_cli, config_file_with_command_line_override)
{
    char path[] = "/tmp/pk-config-XXXXXX";
    int fd = mkstemp(path);
    const char *cfg = "{\"pools\":[{\"url\":\"stratum+tcp://p:1\",\"user\":\"u\",\"pass\":\"s\"}],"
                      "\"threads\":2,\"quiet\":true,\"no-work-timeout\":30,\"kernel\":\"ref\"}";
    cr_assert_eq(write(fd, cfg, strlen(cfg)), (ssize_t)strlen(cfg));
    close(fd);
    char *argv[] = {"mine", "--config", path, "-t", "1", NULL};
    pk_mine_cli c;
    char err[200];
    cr_assert_eq(pk_mine_cli_parse(&c, 5, argv, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.opts.pool.npools, 1);
    cr_assert_str_eq(c.opts.pool.pools[0].pass, "s");
    cr_assert_eq(c.opts.threads, 1, "the command line wins");
    cr_assert(c.opts.quiet);
    cr_assert_eq(c.opts.pool.no_work_timeout_s, 30);
    cr_assert_str_eq(c.opts.kernel, "ref");
    pk_mine_cli_free(&c);

    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "{\"threds\":2}";
    cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    char *argv2[] = {"mine", "-c", path, NULL};
    cr_assert_eq(pk_mine_cli_parse(&c, 3, argv2, err, sizeof err), -1);
    cr_assert(strstr(err, "threds"), "%s", err);
    pk_mine_cli_free(&c);
    unlink(path);
}

/* ---- cpuminer's API (--api-bind) ---- */

static char *ask_text(int port, const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    static char buf[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    cr_assert(n > 0 && buf[n - 1] == 0, "NUL-terminated");
    return buf;
}

Test(api, cpuminer_api_summary_threads_quit, .timeout = 60)
{
    pk_log_set_level(PK_LOG_ERROR);
    pk_miner_opts o = {.threads = 1, .quiet = 1, .cpuminer_api = "127.0.0.1:0"};
    pk_miner *m;
    char err[200];
    cr_assert_eq(pk_miner_new(&o, &m, err, sizeof err), 0, "%s", err);
    pthread_t th;
    pthread_create(&th, NULL, run_miner, m);
    int port = pk_miner_cpuminer_api_port(m);
    cr_assert_gt(port, 0);
    usleep(1500000);
    const char *s = ask_text(port, "summary|"); /* no newline: as cpuminer's clients send it */
    cr_assert(strncmp(s, "NAME=powkit;VER=", 16) == 0 && strstr(s, ";ALGO=sha256d;") && strstr(s, ";KHS="), "%s", s);
    cr_assert(strstr(s, ";UPTIME=") && s[strlen(s) - 1] == '|', "%s", s);
    cr_assert_gt(atof(strstr(s, ";KHS=") + 5), 0, "%s", s);
    s = ask_text(port, "threads|\n");
    cr_assert(strncmp(s, "CPU=0;NAME=cpu:", 15) == 0, "%s", s);
    s = ask_text(port, "quit|");
    cr_assert_str_eq(s, "", "quit without a W: rule: nothing");
    pk_miner_stop(m);
    pthread_join(th, NULL);
    pk_miner_free(m);
}

/* ---- the status page in a real browser ---- */

static const char *find_chromium(void)
{
    static const char *names[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (access(names[i], X_OK) == 0)
            return names[i];
    return NULL;
}

/* The page's DOM after its scripts ran for 5 s of (virtual) time. */
static char *dump_dom(const char *chromium, int port)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "'%s' --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 --dump-dom "
             "http://127.0.0.1:%d/ 2>/dev/null",
             chromium, port);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while ((k = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += k;
    buf[n] = 0;
    pclose(p);
    return buf;
}

/* The text of the element with this id (up to the next '<'). */
static void text_of(const char *dom, const char *id, char *out, size_t len)
{
    char want[64];
    snprintf(want, sizeof want, "id=\"%s\"", id);
    const char *p = strstr(dom, want);
    cr_assert(p, "no #%s in the page", id);
    p = strchr(p, '>');
    cr_assert(p);
    size_t n = strcspn(p + 1, "<");
    snprintf(out, len, "%.*s", (int)n, p + 1);
}

/* The hashes cell (the third) of the page's first device row. */
static unsigned long long device_hashes(const char *dom)
{
    const char *p = strstr(dom, "<tr class=\"device\">");
    cr_assert(p, "no device row");
    for (int i = 0; i < 3; i++) {
        p = strstr(p + 1, "<td");
        cr_assert(p);
    }
    p = strchr(p, '>');
    return strtoull(p + 1, NULL, 10);
}

Test(api, status_page_draws_the_chart_and_devices_in_chromium, .timeout = 120)
{
    const char *chromium = find_chromium();
    if (!chromium)
        cr_skip_test("no chromium here (scripts/install-deps.sh --tests installs it)");
    pk_log_set_level(PK_LOG_ERROR);
    pk_miner_opts o = {.threads = 1, .quiet = 1, .api_listen = "127.0.0.1:0"};
    pk_miner *m;
    char err[200];
    cr_assert_eq(pk_miner_new(&o, &m, err, sizeof err), 0, "%s", err);
    pthread_t th;
    pthread_create(&th, NULL, run_miner, m);
    int port = pk_miner_api_port(m);
    static char buf[1 << 17];
    /* The page itself: one file, nothing fetched from elsewhere. */
    cr_assert_gt(http_get(port, "/", buf, sizeof buf), 0);
    cr_assert(strstr(buf, "HTTP/1.1 200") && strstr(buf, "text/html"), "%.300s", buf);
    cr_assert_null(strstr(buf, "src=\"http"), "an external script");
    cr_assert_null(strstr(buf, "href=\"http"), "an external style or font");
    sleep(11); /* a point of the hour's history is made every 10 s */

    char *a = dump_dom(chromium, port);
    char updates[32], hashrate[32], line[256];
    text_of(a, "updates", updates, sizeof updates);
    text_of(a, "hashrate", hashrate, sizeof hashrate);
    cr_assert_geq(atoi(updates), 2, "the page polls /status: %s updates", updates);
    cr_assert_gt(atof(hashrate), 0, "hash rate shown: '%s'", hashrate);
    cr_assert(strstr(a, "<tr class=\"device\"><td>cpu:"), "no device row:\n%s", a);
    const char *pts = strstr(a, "id=\"line\"");
    cr_assert(pts && (pts = strstr(pts, "points=\"")), "no chart line");
    snprintf(line, sizeof line, "%.*s", (int)strcspn(pts + 8, "\""), pts + 8);
    cr_assert(strchr(line, ','), "the chart has no point: '%s'", line);

    /* Again a moment later: the numbers moved (the page is live). */
    sleep(2);
    char *b = dump_dom(chromium, port);
    cr_assert_gt(device_hashes(b), device_hashes(a), "the device's hashes did not move");
    char up_a[32], up_b[32];
    text_of(a, "uptime", up_a, sizeof up_a);
    text_of(b, "uptime", up_b, sizeof up_b);
    cr_assert_str_neq(up_a, up_b, "the page did not update");
    free(a);
    free(b);
    pk_miner_stop(m);
    pthread_join(th, NULL);
    pk_miner_free(m);
}
