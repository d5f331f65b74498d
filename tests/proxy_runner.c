#include "proxy_runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void snap_cb(uv_timer_t *t)
{
    proxy_runner *p = t->data;
    pthread_mutex_lock(&p->mu);
    pk_proxy_stats_get(p->px, &p->st);
    p->nrigs = pk_proxy_rigs_get(p->px, p->rigs, PR_SNAP_RIGS);
    pthread_mutex_unlock(&p->mu);
}

static void noop_close(uv_handle_t *h) { (void)h; }

static void proxy_closed(void *arg)
{
    proxy_runner *p = arg;
    uv_close((uv_handle_t *)&p->stop, noop_close);
    uv_close((uv_handle_t *)&p->snap, noop_close);
}

static void stop_cb(uv_async_t *a)
{
    proxy_runner *p = a->data;
    uv_timer_stop(&p->snap);
    pk_proxy_close(p->px, proxy_closed, p);
}

static void *loop_thread(void *arg)
{
    proxy_runner *p = arg;
    uv_run(&p->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_fatal(void *arg, const char *why)
{
    proxy_runner *p = arg;
    pthread_mutex_lock(&p->mu);
    p->fatal = 1;
    snprintf(p->fatal_why, sizeof p->fatal_why, "%s", why);
    pthread_mutex_unlock(&p->mu);
}

int proxy_runner_start(proxy_runner *p, pk_proxy_opts *o, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    uv_loop_init(&p->loop);
    o->on_fatal = on_fatal;
    o->fatal_arg = p;
    if (pk_proxy_new(&p->loop, o, &p->px, err, errlen) != 0)
        return -1;
    if (pk_proxy_start(p->px, err, errlen) != 0)
        return -1;
    uv_async_init(&p->loop, &p->stop, stop_cb);
    p->stop.data = p;
    uv_timer_init(&p->loop, &p->snap);
    p->snap.data = p;
    uv_timer_start(&p->snap, snap_cb, 10, 20);
    pthread_create(&p->th, NULL, loop_thread, p);
    return 0;
}

int proxy_runner_stop(proxy_runner *p)
{
    uv_async_send(&p->stop);
    pthread_join(p->th, NULL);
    int rc = uv_loop_close(&p->loop);
    pk_proxy_free(p->px);
    return rc;
}

pk_proxy_stats proxy_runner_stats(proxy_runner *p)
{
    pthread_mutex_lock(&p->mu);
    pk_proxy_stats st = p->st;
    pthread_mutex_unlock(&p->mu);
    return st;
}

int proxy_runner_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}
