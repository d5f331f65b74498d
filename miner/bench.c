#include <string.h>
#include <time.h>

#include "powkit/bench.h"
#include "powkit/device.h"
#include "powkit/error.h"
#include "powkit/offline.h"
#include "powkit/util.h"

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int device_run(pk_device *dev, double seconds, unsigned version_lanes, pk_bench_row *row)
{
    pk_offline_source src;
    pk_offline_source_init(&src, NULL, NULL);
    pk_dispatcher *d;
    int rc = pk_dispatcher_new(&d, &src.base);
    if (rc)
        return rc;
    if (version_lanes > 1 && (rc = pk_dispatcher_set_version_lanes(d, version_lanes)) != PK_OK) {
        pk_dispatcher_free(d);
        return rc;
    }
    double t0 = pk_now();
    rc = pk_device_start(dev, d);
    if (rc == PK_OK) {
        sleep_s(seconds);
        pk_dispatcher_stop(d);
        pk_device_stop(dev);
    }
    row->seconds = pk_now() - t0;
    row->hashes = pk_device_hashes(dev);
    row->mhs = row->seconds > 0 ? (double)row->hashes / row->seconds / 1e6 : 0;
    pk_dispatcher_stats st;
    pk_dispatcher_get_stats(d, &st);
    row->shares = st.shares;
    row->invalid = st.invalid;
    pk_dispatcher_free(d);
    return rc;
}

int pk_bench_device_run(pk_device *dev, double seconds, pk_bench_row *row)
{
    return device_run(dev, seconds, 0, row);
}

int pk_bench_row_run_lanes(const pk_kernel *k, unsigned threads, double seconds, int affinity,
                           int version_lanes, pk_bench_row *row)
{
    memset(row, 0, sizeof *row);
    row->kernel = k->name;
    row->threads = threads;
    if (version_lanes && !k->vscan)
        return PK_EUNSUPPORTED;
    pk_cpu_device_opts o = {.kernel = k, .threads = threads, .affinity = affinity};
    pk_device *dev = pk_cpu_device_new(&o, 0);
    if (!dev)
        return PK_ENOMEM;
    int rc = device_run(dev, seconds, version_lanes ? k->vlanes : 0, row);
    pk_device_destroy(dev);
    return rc;
}

int pk_bench_row_run(const pk_kernel *k, unsigned threads, double seconds, int affinity,
                     pk_bench_row *row)
{
    return pk_bench_row_run_lanes(k, threads, seconds, affinity, 0, row);
}
