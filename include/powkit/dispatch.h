/* powkit: choosing a kernel at run time.
 *
 * A dispatch context holds, for every kernel it was given, whether it may
 * run here (CPU features, POWKIT_DISABLE) and whether it passed its
 * self-test against ref, plus the fastest one measured on this machine.
 * The measurement is short and cached on disk per CPU, kernel set and
 * powkit version, so later starts skip it.
 */
#ifndef POWKIT_DISPATCH_H
#define POWKIT_DISPATCH_H

#include "powkit/export.h"

#include <stddef.h>

#include "powkit/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_DISPATCH_MAX 16

typedef enum pk_selftest_result {
    PK_SELFTEST_OK = 0,
    PK_SELFTEST_UNSUPPORTED, /* the CPU lacks what it needs */
    PK_SELFTEST_DISABLED,    /* named in POWKIT_DISABLE */
    PK_SELFTEST_FAILED,      /* disagreed with ref: never used */
} pk_selftest_result;

/* "ok", "unsupported", "disabled", "failed" */
PK_API const char *pk_selftest_name(pk_selftest_result r);

typedef struct pk_dispatch_opts {
    const char *disable;   /* kernels or families to switch off; NULL: $POWKIT_DISABLE */
    const char *cache_dir; /* NULL: $POWKIT_CACHE_DIR, else $XDG_CACHE_HOME/powkit,
                              else ~/.cache/powkit; "": no cache */
    unsigned calibrate_ms; /* time per kernel for the pick; 0: 30 ms */
    int no_calibrate;      /* 1: pick the widest usable kernel, measure nothing */
    int recalibrate;       /* 1: measure even when a pick is cached, and cache the new one
                              (a pick measured under load is never measured again otherwise) */
} pk_dispatch_opts;

typedef struct pk_kernel_entry {
    const pk_kernel *kernel;
    pk_selftest_result status;
    double calib_mhs;  /* one-thread MH/s from the calibration, 0 if not run */
    double calib_vmhs; /* the same for its version lanes (headers/s), 0 if none */
} pk_kernel_entry;

typedef struct pk_dispatch {
    unsigned cpu; /* PK_CPU_* of this machine */
    size_t count;
    pk_kernel_entry entries[PK_DISPATCH_MAX];
    const pk_kernel *best; /* never NULL after a successful init: ref at worst */
    /* The layout to mine with when versions roll in the lanes: the one whose
     * version lanes measured fastest, when they beat best's plain scan;
     * NULL otherwise (mine best). */
    const pk_kernel *best_vlanes;
    int best_from_cache;   /* 1 when the pick was read from the cache */
    char cache_file[512];  /* "" when there is no cache */
} pk_dispatch;

/* Checks, self-tests and (unless cached) calibrates the given kernels; the
 * first must be ref, the oracle.  opts may be NULL.  Returns 0 or a
 * negative PK_E* code. */
PK_API int pk_dispatch_init(pk_dispatch *d, const pk_kernel *const *kernels, size_t n,
                            const pk_dispatch_opts *opts);

/* The usable kernel called name, or NULL with *err set (PK_ENOTFOUND,
 * PK_EUNSUPPORTED, PK_EDISABLED, PK_ESELFTEST).  A family's name
 * ("avx512") gives its fastest layout as calibrated here (or cached), or
 * its default layout when nothing was measured. */
PK_API const pk_kernel *pk_dispatch_get(const pk_dispatch *d, const char *name, int *err);

PK_API const pk_kernel_entry *pk_dispatch_entry(const pk_dispatch *d, const char *name);

/* Runs kernel k against ref on fixed pseudo-random jobs: at-target and
 * just-above-target hashes, partial steps and a range that wraps past
 * 2^32-1.  Returns 1 when every answer matches. */
PK_API int pk_kernel_selftest(const pk_kernel *k);

/* 1 when k is a layout of family ("avx512" for "avx512:2r") or is called
 * family. */
PK_API int pk_kernel_in_family(const pk_kernel *k, const char *family);

#ifdef __cplusplus
}
#endif
#endif
