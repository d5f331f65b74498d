/* powkit: `powkit mine` as a library object.  One libuv loop (the thread
 * that calls pk_miner_run) owns the pool connections, the status line,
 * signals and the API; device threads hash.  With no pool configured it
 * mines the embedded offline job. */
#ifndef POWKIT_MINER_H
#define POWKIT_MINER_H

#include "powkit/export.h"

#include <stdint.h>

#include "powkit/node.h"
#include "powkit/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_miner_opts {
    pk_pool_set_opts pool;   /* npools 0 and no node: the offline job */
    pk_node_opts node;       /* node.url set: solo mining on that node */
    const char *kernel;      /* NULL: the measured pick */
    const char *devices;     /* "cpu,opencl:0"; NULL: CPU and every non-CPU OpenCL device */
    unsigned cl_vector_width, cl_global, cl_launch_ms; /* OpenCL overrides; 0: tuned */
    unsigned threads;        /* 0: every CPU */
    int affinity;
    uint64_t affinity_mask;  /* --cpu-affinity MASK (cpuminer's) */
    int normal_priority;     /* 0: device threads at SCHED_IDLE */
    unsigned status_interval_s; /* 0: 10 */
    int quiet;               /* no status lines */
    const char *api_listen;  /* NULL: off */
    const char *cgminer_api; /* cgminer's API, "127.0.0.1:4028"; NULL: off */
    const char *cpuminer_api; /* cpuminer's API (its --api-bind), "127.0.0.1:4048"; NULL: off */
    const char *api_allow;   /* "[W:]ADDR[/PREFIX],...": who may use the APIs (loopback always reads) */
    const char *api_token;   /* the HTTP API wants "Authorization: Bearer TOKEN" */
    double duration_s;       /* > 0: stop after this long */
    int no_version_lanes;    /* 1: one template per range even where versions roll */
} pk_miner_opts;

typedef struct pk_miner_stats {
    double mhs_5s, mhs_60s, mhs_avg;
    uint64_t hashes;
    double uptime_s;
    uint64_t accepted, rejected, stale, dropped, invalid, shares_found;
    double difficulty;       /* the share target of the work being mined */
    int active_pool;
    uint64_t blocks_found, blocks_accepted;
    int64_t height;          /* solo: the template's height */
    char kernel[32];
    unsigned threads;
    unsigned version_lanes;  /* versions hashed side by side by the CPU kernel; 0: off */
} pk_miner_stats;

typedef struct pk_miner pk_miner;

PK_API int pk_miner_new(const pk_miner_opts *o, pk_miner **out, char *err, size_t errlen);
/* Runs until stopped (signal, duration, pk_miner_stop, --blocks reached).
 * Returns 0; 1 when a device reported a nonce that failed the reference
 * recheck; 2 when the node refused (credentials, address chain). */
PK_API int pk_miner_run(pk_miner *m);
/* From any thread. */
PK_API void pk_miner_stop(pk_miner *m);
/* From any thread: the figures of the last second's sample. */
PK_API void pk_miner_get_stats(pk_miner *m, pk_miner_stats *out);
/* Port of the API once running (0 if off or not yet bound). */
PK_API int pk_miner_api_port(pk_miner *m);
/* The cgminer and cpuminer APIs' ports (-1 when off). */
PK_API int pk_miner_cgminer_api_port(pk_miner *m);
PK_API int pk_miner_cpuminer_api_port(pk_miner *m);
/* 1 when `restart` came through the cgminer API: run the program again. */
PK_API int pk_miner_restart_asked(pk_miner *m);
PK_API void pk_miner_free(pk_miner *m);

#ifdef __cplusplus
}
#endif
#endif
