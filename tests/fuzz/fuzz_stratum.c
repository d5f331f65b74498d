/* A hostile pool's bytes, through a session's states: the answers to
 * configure (id 1), subscribe (2), authorize (3), extranonce (4), then
 * notifies, difficulty, extranonce and version-mask changes, reconnects;
 * every job that comes out is turned into headers and submit fields. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../../stratum/stratum_internal.h"
#include "powkit/log.h"
#include "powkit/poolwork.h"

static void on_job(pk_stratum *s, pk_pool_job *job, void *ud)
{
    (void)s, (void)ud;
    pk_pool_work w;
    if (pk_pool_work_init(&w, job) == 0) {
        uint8_t header[80];
        uint64_t t;
        for (int i = 0; i < 3 && pk_pool_work_next(&w, header, &t) == 0; i++) {
            pk_submit_fields f;
            pk_pool_work_submit_fields(&w, t, 0x12345678, &f);
        }
    }
    pk_pool_job_free(job);
    free(job);
}

static void on_ready(pk_stratum *s, void *ud) { (void)s, (void)ud; }
static void on_down(pk_stratum *s, const char *why, void *ud) { (void)s, (void)why, (void)ud; }
static void on_result(pk_stratum *s, uint64_t tag, int ok, const char *why, void *ud)
{
    (void)s, (void)tag, (void)ok, (void)why, (void)ud;
}

static uv_loop_t loop;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    pk_log_set_level((pk_log_level)-1 /* nothing */);
    uv_loop_init(&loop);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pk_stratum_opts o = {.url = "stratum+tcp://127.0.0.1:3333", .user = "u", .pass = "p", .max_line = 4096};
    pk_stratum_cb cb = {.ready = on_ready, .job = on_job, .down = on_down, .submit_result = on_result};
    pk_stratum *s;
    char err[256];
    if (pk_stratum_new(&loop, &o, &cb, &s, err, sizeof err))
        abort();
    /* The input may hold several sessions, split at a form feed: each
     * starts as a reconnect would (the session id offered back). */
    const char *p = (const char *)data, *end = p + size;
    while (p <= end) {
        const char *ff = memchr(p, '\f', (size_t)(end - p));
        size_t n = ff ? (size_t)(ff - p) : (size_t)(end - p);
        pk_stratum_begin_offline_session(s);
        pk_stratum_feed(s, p, n);
        if (pk_stratum_get_state(s) == PK_STRATUM_READY) {
            pk_submit_fields f = {"00000000", "65000000", "00000000", "00000000"};
            pk_stratum_submit(s, "j0", &f, 1);
        }
        pk_stratum_disconnect(s, "fuzz");
        if (!ff)
            break;
        p = ff + 1;
    }
    pk_stratum_close(s, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    return 0;
}
