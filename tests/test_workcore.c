/* The work-source core: the job ring, the current job and its templates,
 * shares from device threads to the loop, and a share's header rebuilt
 * from its fields as the proxy does it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <uv.h>

#include "powkit/error.h"
#include "powkit/poolwork.h"
#include "powkit/sha256.h"
#include "powkit/workcore.h"

static const char *NOTIFY =
    "[\"%s\",\"4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000\","
    "\"01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008\","
    "\"072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000\","
    "[\"aa00000000000000000000000000000000000000000000000000000000000000\"],"
    "\"20000000\",\"1c2ac4af\",\"504e86b9\",false]";

static void make_job(pk_pool_job *job, const char *id, uint32_t mask)
{
    char text[1024];
    snprintf(text, sizeof text, NOTIFY, id);
    json_t *p = json_loads(text, 0, NULL);
    cr_assert_not_null(p);
    char err[200];
    cr_assert_eq(pk_pool_job_parse(job, p, err, sizeof err), 0, "%s", err);
    json_decref(p);
    job->extranonce1[0] = 0xf8;
    job->extranonce1[1] = 0x2a;
    job->extranonce1_len = 2;
    job->extranonce2_size = 4;
    job->difficulty = 1;
    job->version_mask = mask;
}

typedef struct events {
    unsigned stale, stale_gone, dropped, shares;
    pk_work_share got[8];
    int ext_freed;
} events;

static void on_lost(void *arg, const pk_work_slot *slot, int why)
{
    events *ev = arg;
    if (why == PK_WORK_DROPPED)
        ev->dropped++;
    else if (slot)
        ev->stale++;
    else
        ev->stale_gone++;
}

static void on_share(void *arg, const pk_work_share *sh)
{
    events *ev = arg;
    if (ev->shares < 8)
        ev->got[ev->shares] = *sh;
    ev->shares++;
}

static void ext_free(void *ext) { (*(int *)ext)++; }
static void closed_flag(void *arg) { *(int *)arg = 1; }

static uint64_t add(pk_work_core *c, const char *id, int origin, int clean, int current)
{
    pk_pool_job job;
    make_job(&job, id, 0);
    return pk_work_add(c, &job, origin, NULL, clean, current);
}

static void share_on(pk_work_core *c, uint64_t seq, uint64_t t, uint32_t nonce)
{
    pk_share sh = {.job_id = seq, .extra = t, .nonce = nonce};
    sh.hash[0] = (uint8_t)nonce;
    c->src.on_share(&c->src, &sh);
}

/* A core without a loop (no share queue): the proxy's kind. */
static void open_bare(pk_work_core *c, unsigned ring)
{
    pk_work_cfg cfg = {.ring = ring};
    pk_work_init(c, NULL, &cfg);
}

static void close_bare(pk_work_core *c)
{
    int closed = 0;
    pk_work_close(c, closed_flag, &closed);
    cr_assert_eq(closed, 1, "closed at once without a loop");
    pk_work_free(c);
}

Test(workcore, ring_keeps_the_newest_jobs_by_seq_and_id)
{
    pk_work_core c;
    open_bare(&c, 4);
    uint64_t seqs[6];
    for (int i = 0; i < 6; i++) {
        char id[8];
        snprintf(id, sizeof id, "j%d", i % 3); /* ids repeat: the newest is meant */
        seqs[i] = add(&c, id, 0, 0, 1);
        cr_assert_eq(seqs[i], (uint64_t)i + 1);
    }
    cr_assert_null(pk_work_find(&c, seqs[0]), "pushed out of a ring of 4");
    cr_assert_null(pk_work_find(&c, seqs[1]));
    cr_assert_null(pk_work_find(&c, 0));
    cr_assert_null(pk_work_find(&c, 99));
    cr_assert_not_null(pk_work_find(&c, seqs[2]));
    cr_assert_eq(pk_work_find_id(&c, "j0")->seq, seqs[3]);
    cr_assert_eq(pk_work_find_id(&c, "j2")->seq, seqs[5]);
    cr_assert_null(pk_work_find_id(&c, "nope"));
    cr_assert_eq(pk_work_current_slot(&c)->seq, seqs[5]);
    cr_assert_eq(pk_work_current(&c), seqs[5]);
    close_bare(&c);
}

static int keep_origin(const pk_work_slot *s, void *arg) { return s->origin == *(int *)arg; }

Test(workcore, clean_retires_only_its_origin_and_retire_reports_the_current)
{
    pk_work_core c;
    open_bare(&c, 8);
    uint64_t a1 = add(&c, "a1", 0, 0, 1);
    uint64_t b1 = add(&c, "b1", 1, 0, 0);
    uint64_t a2 = add(&c, "a2", 0, 1, 1); /* clean: a1 goes, b1 stays */
    cr_assert_eq(pk_work_find(&c, a1)->live, 0);
    cr_assert_eq(pk_work_find(&c, b1)->live, 1);
    cr_assert_eq(pk_work_find(&c, a2)->live, 1);
    cr_assert_eq(pk_work_current(&c), a2, "b1 was not made current");
    int one = 1;
    cr_assert_eq(pk_work_retire(&c, keep_origin, &one), 1, "a2, the current job, was retired");
    cr_assert_eq(pk_work_find(&c, b1)->live, 1);
    cr_assert_eq(pk_work_retire(&c, keep_origin, &one), 0, "nothing left to retire but b1, kept");
    pk_work_set_current(&c, b1);
    cr_assert_eq(pk_work_retire(&c, NULL, NULL), 1);
    cr_assert_eq(pk_work_find(&c, b1)->live, 0);
    close_bare(&c);
}

Test(workcore, templates_come_from_the_current_live_job)
{
    pk_work_core c;
    open_bare(&c, 4);
    pk_template t;
    cr_assert_eq(c.src.next_template(&c.src, &t), PK_EAGAIN, "no job yet");
    pk_pool_job job, copy;
    make_job(&job, "x", 0x1e000);   /* 4 version bits: 16 templates per extranonce2 */
    cr_assert_eq(pk_pool_job_copy(&copy, &job), 0);
    uint64_t seq = pk_work_add(&c, &job, 0, NULL, 0, 1);
    pk_pool_work w;
    cr_assert_eq(pk_pool_work_init(&w, &copy), 0);
    for (uint64_t i = 0; i < 40; i++) {
        uint8_t want[80];
        uint64_t n;
        cr_assert_eq(c.src.next_template(&c.src, &t), 0);
        cr_assert_eq(pk_pool_work_next(&w, want, &n), 0);
        cr_assert_eq(t.job_id, seq);
        cr_assert_eq(t.extra, i);
        cr_assert_arr_eq(t.header, want, 80, "template %llu", (unsigned long long)i);
        cr_assert_arr_eq(t.target, w.share_target, 32);
    }
    pk_work_retire(&c, NULL, NULL);
    cr_assert_eq(c.src.next_template(&c.src, &t), PK_EAGAIN, "a retired job gives no work");
    pk_pool_job_free(&copy);
    close_bare(&c);
}

Test(workcore, a_full_template_space_gives_no_more_work)
{
    pk_work_core c;
    open_bare(&c, 2);
    pk_pool_job job;
    make_job(&job, "small", 0);
    job.extranonce2_size = 1; /* 256 templates */
    pk_work_add(&c, &job, 0, NULL, 0, 1);
    pk_template t;
    for (int i = 0; i < 256; i++)
        cr_assert_eq(c.src.next_template(&c.src, &t), 0);
    cr_assert_eq(c.src.next_template(&c.src, &t), PK_EAGAIN);
    close_bare(&c);
}

/* A core with a share queue on its own loop, its events counted. */
typedef struct qcore {
    uv_loop_t loop;
    events ev;
    pk_work_core c;
} qcore;

static pk_work_core *open_on_loop(qcore *q, pk_work_cfg cfg)
{
    uv_loop_init(&q->loop);
    memset(&q->ev, 0, sizeof q->ev);
    cfg.on_share = on_share;
    cfg.on_lost = on_lost;
    cfg.arg = &q->ev;
    pk_work_init(&q->c, &q->loop, &cfg);
    return &q->c;
}

/* Closed through the loop, freed, and the loop left with no handle. */
static void close_on_loop(qcore *q)
{
    int closed = 0;
    pk_work_close(&q->c, closed_flag, &closed);
    uv_run(&q->loop, UV_RUN_DEFAULT);
    cr_assert_eq(closed, 1);
    pk_work_free(&q->c);
    cr_assert_eq(uv_loop_close(&q->loop), 0);
}

Test(workcore, shares_reach_the_loop_in_order_and_stale_ones_do_not)
{
    qcore q;
    pk_work_core *c = open_on_loop(&q, (pk_work_cfg){.ring = 2, .ext_free = ext_free});
    events *ev = &q.ev;
    int freed = 0;
    pk_pool_job job;
    make_job(&job, "e", 0);
    uint64_t s1 = pk_work_add(c, &job, 0, &freed, 0, 1);
    share_on(c, s1, 7, 0x11);
    share_on(c, s1, 8, 0x22);
    uint64_t s2 = add(c, "f", 0, 1, 1); /* clean: s1 is stale */
    share_on(c, s1, 9, 0x33);
    share_on(c, s2, 1, 0x44);
    add(c, "g", 0, 0, 1);
    cr_assert_eq(freed, 1, "s1's ext was freed when its slot was reused");
    share_on(c, s1, 9, 0x55); /* gone from the ring */
    cr_assert_eq(ev->stale, 1);
    cr_assert_eq(ev->stale_gone, 1);
    cr_assert_eq(ev->shares, 0, "shares reach the loop only through it");
    uv_run(&q.loop, UV_RUN_NOWAIT);
    cr_assert_eq(ev->shares, 3);
    cr_assert_eq(ev->got[0].seq, s1);
    cr_assert_eq(ev->got[0].t, 7);
    cr_assert_eq(ev->got[0].nonce, 0x11);
    cr_assert_eq(ev->got[0].hash[0], 0x11);
    cr_assert_eq(ev->got[1].nonce, 0x22);
    cr_assert_eq(ev->got[2].seq, s2);
    cr_assert_eq(ev->got[2].nonce, 0x44);
    cr_assert_gt(ev->got[2].at, 0);
    close_on_loop(&q);
}

Test(workcore, solo_one_block_per_job_stops_the_devices)
{
    qcore q;
    pk_work_core *c = open_on_loop(&q, (pk_work_cfg){.ring = 4, .one_share_per_job = 1});
    events *ev = &q.ev;
    uint64_t old = add(c, "t1", 0, 0, 1);
    uint64_t cur = add(c, "t2", 0, 0, 1);
    share_on(c, old, 0, 1); /* a block on the older template still counts */
    cr_assert_eq(pk_work_current(c), cur);
    share_on(c, cur, 0, 2);
    cr_assert_eq(pk_work_current(c), 0, "nothing to mine once the current template is solved");
    pk_template t;
    cr_assert_eq(c->src.next_template(&c->src, &t), PK_EAGAIN);
    share_on(c, cur, 0, 3); /* a second block on one template competes with the first */
    cr_assert_eq(ev->stale, 1);
    pk_work_drain(c);
    cr_assert_eq(ev->shares, 2);
    cr_assert_eq(ev->got[0].seq, old);
    cr_assert_eq(ev->got[1].seq, cur);
    close_on_loop(&q);
}

Test(workcore, a_full_queue_drops_and_says_so)
{
    qcore q;
    pk_work_core *c = open_on_loop(&q, (pk_work_cfg){.ring = 2, .queue_max = 64});
    events *ev = &q.ev;
    uint64_t s = add(c, "q", 0, 0, 1);
    for (uint32_t i = 0; i < 70; i++)
        share_on(c, s, i, i);
    cr_assert_eq(ev->dropped, 6);
    pk_work_drain(c);
    cr_assert_eq(ev->shares, 64);
    close_on_loop(&q);
}

/* The proxy rebuilds a rig's share from its fields: the header must be
 * the one the template had, for every extranonce2 and version. */
Test(workcore, a_share_rebuilt_from_its_fields_is_its_template)
{
    pk_pool_job job;
    make_job(&job, "r", 0x1e000);
    pk_pool_work w;
    cr_assert_eq(pk_pool_work_init(&w, &job), 0);
    for (uint64_t t = 0; t < 300; t += 7) {
        uint8_t want[80], got[80], en2[PK_EXTRANONCE2_MAX];
        cr_assert_eq(pk_pool_work_header(&w, t, want), 0);
        want[76] = 0x78, want[77] = 0x56, want[78] = 0x34, want[79] = 0x12;
        pk_pool_work_extranonce2(&w, t, en2);
        pk_pool_job_header(&job, en2, pk_pool_work_version(&w, t), job.ntime, 0x12345678, got);
        cr_assert_arr_eq(got, want, 80, "template %llu", (unsigned long long)t);
    }
    pk_pool_job_free(&job);
}
