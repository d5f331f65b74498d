/* --pass-workers: each rig's worker authorized at the pool as
 * ACCOUNT.WORKER before the rig is answered, again on every new session. */
#include <stdlib.h>
#include <string.h>

#include "powkit/log.h"

#include "proxy_internal.h"

/* ---- --pass-workers: each rig's worker as ACCOUNT.WORKER upstream ---- */

static void worker_request(pk_proxy *px, size_t i)
{
    px->workers[i].state = px->workers[i].state == WK_OK ? WK_OK : WK_PENDING;
    if (px->up_ready)
        pk_stratum_authorize_worker(up_client(px), px->workers[i].name, px->o.pools[px->cur].pass, i);
}

/* A new session knows none of the rigs' workers: ask again before any of
 * their shares (requests are answered in order). */
void pk_px_reauthorize_workers(pk_proxy *px)
{
    for (size_t i = 0; i < px->nworkers; i++)
        if (px->workers[i].state == WK_OK || px->workers[i].state == WK_PENDING)
            worker_request(px, i);
}

void pk_px_authorize_upstream(rig *r, json_t *id, const char *user)
{
    pk_proxy *px = r->px;
    /* The rig's own name after its last dot: "rig7" and "me.rig7" are both
     * ACCOUNT.rig7 at the pool. */
    const char *dot = strrchr(user, '.'), *suffix = dot && dot[1] ? dot + 1 : user;
    char name[160];
    snprintf(name, sizeof name, "%s.%.63s", px->o.pools[px->cur].user, suffix);
    size_t i;
    for (i = 0; i < px->nworkers && strcmp(px->workers[i].name, name) != 0; i++) {
    }
    if (i == px->nworkers) {
        if (px->nworkers == px->cap_workers) {
            size_t cap = px->cap_workers ? 2 * px->cap_workers : 64;
            up_worker *w = realloc(px->workers, cap * sizeof *w);
            if (!w) {
                pk_px_reply_err(r, id, E_OTHER, "out of memory");
                return;
            }
            px->workers = w;
            px->cap_workers = cap;
        }
        memset(&px->workers[i], 0, sizeof px->workers[i]);
        snprintf(px->workers[i].name, sizeof px->workers[i].name, "%s", name);
        px->nworkers++;
    }
    r->worker_idx = (long)i;
    switch (px->workers[i].state) {
    case WK_OK:
        r->authorized = 1;
        pk_px_reply_ok(r, id, json_true());
        pk_px_rig_start_work(r);
        return;
    case WK_REFUSED:
        pk_px_reply_err(r, id, E_UNAUTHORIZED, "the pool refused this worker");
        return;
    default:
        json_decref(r->pending_authorize);
        r->pending_authorize = json_incref(id ? id : json_null());
        if (px->workers[i].state == WK_NONE)
            worker_request(px, i);
    }
}

void pk_px_up_worker_result(void *arg, int pool, uint64_t tag, int ok, const char *reason)
{
    pk_proxy *px = arg;
    if (tag >= px->nworkers || pool != px->cur)
        return;
    up_worker *w = &px->workers[tag];
    if (!ok && reason && (strstr(reason, "connection lost") || strstr(reason, "no answer"))) {
        /* Not the pool's verdict: asked again on the next session (or now). */
        if (strstr(reason, "no answer"))
            worker_request(px, tag);
        return;
    }
    w->state = ok ? WK_OK : WK_REFUSED;
    if (!ok)
        pk_log(PK_LOG_WARN, "proxy: the pool refused worker %s: %s", w->name, reason ? reason : "refused");
    for (rig *r = px->rigs, *next; r; r = next) {
        next = r->next;
        if (r->worker_idx != (long)tag || !r->pending_authorize)
            continue;
        json_t *id = r->pending_authorize;
        r->pending_authorize = NULL;
        if (ok) {
            r->authorized = 1;
            pk_px_reply_ok(r, id, json_true());
            pk_px_rig_start_work(r);
        } else {
            pk_px_reply_err(r, id, E_UNAUTHORIZED, "the pool refused this worker");
        }
        json_decref(id);
    }
}
