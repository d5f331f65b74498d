/* powkit: devices, the things that scan nonce ranges.
 *
 * A device is a struct of function pointers plus its name; it takes ranges
 * from a dispatcher on threads of its own until stopped.  The CPU device
 * runs one kernel on N threads; OpenCL devices plug in the same way.
 */
#ifndef POWKIT_DEVICE_H
#define POWKIT_DEVICE_H

#include "powkit/export.h"

#include <stdint.h>

#include "powkit/dispatcher.h"
#include "powkit/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pk_device pk_device;

typedef struct pk_device_ops {
    int (*start)(pk_device *dev, pk_dispatcher *d); /* 0 or PK_E* */
    void (*stop)(pk_device *dev);                  /* stop and join its threads */
    void (*destroy)(pk_device *dev);
    uint64_t (*hashes)(const pk_device *dev);      /* nonces scanned so far */
} pk_device_ops;

struct pk_device {
    const pk_device_ops *ops;
    char name[64];   /* "cpu:avx512" */
    unsigned index;  /* reported with shares */
};

typedef struct pk_cpu_device_opts {
    const pk_kernel *kernel;
    /* For single templates and version groups that kernel's version lanes
     * cannot take whole (a pool granting fewer bits); NULL: kernel.  The
     * fastest plain layout is not always the one with the fastest version
     * lanes. */
    const pk_kernel *plain_kernel;
    unsigned threads;     /* 0: one per online CPU */
    int affinity;         /* pin thread i to CPU i mod ncpu */
    uint64_t affinity_mask; /* cpuminer's --cpu-affinity MASK: thread i to the (i mod n)th CPU set
                               in it (CPUs 0-63); 0: as affinity says */
    unsigned chunk_ms;    /* target time per range; 0: 4 ms (job changes are seen
                             every quarter of it) */
    int idle_priority;    /* run threads at SCHED_IDLE: anything else, the
                             network thread first, preempts them at once */
} pk_cpu_device_opts;

/* Returns NULL on a bad argument or no memory. */
PK_API pk_device *pk_cpu_device_new(const pk_cpu_device_opts *opts, unsigned index);
PK_API unsigned pk_cpu_device_threads(const pk_device *dev);

/* Online CPUs (at least 1). */
PK_API unsigned pk_online_cpus(void);

static inline int pk_device_start(pk_device *dev, pk_dispatcher *d) { return dev->ops->start(dev, d); }
static inline void pk_device_stop(pk_device *dev) { dev->ops->stop(dev); }
static inline void pk_device_destroy(pk_device *dev) { if (dev) dev->ops->destroy(dev); }
static inline uint64_t pk_device_hashes(const pk_device *dev) { return dev->ops->hashes(dev); }

#ifdef __cplusplus
}
#endif
#endif
