/* The layouts of a lane kernel, included last by avx2.c and avx512.c with
 * KERNEL_ID (avx2, avx512) and KERNEL_CPU (its PK_CPU_* bits) defined:
 * three scan layouts (lanes_scan.h) and their version-lane twins, and the
 * pk_kernel_<id>, pk_kernel_<id>_1, pk_kernel_<id>_2 descriptions. */
#if !defined(KERNEL_ID) || !defined(KERNEL_CPU)
#error "lanes_layouts.h needs KERNEL_ID and KERNEL_CPU"
#endif

#define LAYOUT_NAME_(prefix, id, layout) prefix##id##_##layout
#define LAYOUT_NAME(prefix, id, layout) LAYOUT_NAME_(prefix, id, layout)
#define FAMILY_NAME_(prefix, id) prefix##id
#define FAMILY_NAME(prefix, id) FAMILY_NAME_(prefix, id)
#define LAYOUT_STR_(id, layout) #id ":" #layout
#define LAYOUT_STR(id, layout) LAYOUT_STR_(id, layout)

/* One group unrolled, two groups unrolled, two groups with the plain
 * middle rounds rolled, two groups with all middle rounds rolled. */
#undef GROUPS
#define GROUPS 1
#define ROLLED 0
#define SCAN_FN LAYOUT_NAME(scan_, KERNEL_ID, 1)
#define VSCAN_FN LAYOUT_NAME(vscan_, KERNEL_ID, 1)
#include "lanes_scan.h"
#define GROUPS 2
#define ROLLED 0
#define SCAN_FN LAYOUT_NAME(scan_, KERNEL_ID, 2)
#define VSCAN_FN LAYOUT_NAME(vscan_, KERNEL_ID, 2)
#include "lanes_scan.h"
#define GROUPS 2
#define ROLLED 1
#define SCAN_FN LAYOUT_NAME(scan_, KERNEL_ID, 2r)
#define VSCAN_FN LAYOUT_NAME(vscan_, KERNEL_ID, 2r)
#include "lanes_scan.h"
/* Two groups with every middle round in the loop: the code fits a 32 KB
 * instruction cache and the groups still hide each other's latency.  Its
 * version-lane twin loops all of hash 1 over a table of K+W that the lane
 * schedule builds for LANES nonces at a time. */
#define GROUPS 2
#define ROLLED 2
#define SCAN_FN LAYOUT_NAME(scan_, KERNEL_ID, 2l)
#define VSCAN_FN LAYOUT_NAME(vscan_, KERNEL_ID, 2l)
#include "lanes_scan.h"

#define LAYOUT_KERNEL(layout)                                                        \
    {.name = LAYOUT_STR(KERNEL_ID, layout), .lanes = LANES, .cpu_features = KERNEL_CPU, \
     .scan = LAYOUT_NAME(scan_, KERNEL_ID, layout), .vlanes = LANES,                  \
     .vscan = LAYOUT_NAME(vscan_, KERNEL_ID, layout)}
/* The family's default (first in pk_kernels_all) is the rolled layout. */
const pk_kernel FAMILY_NAME(pk_kernel_, KERNEL_ID) = LAYOUT_KERNEL(2r);
const pk_kernel LAYOUT_NAME(pk_kernel_, KERNEL_ID, 1) = LAYOUT_KERNEL(1);
const pk_kernel LAYOUT_NAME(pk_kernel_, KERNEL_ID, 2) = LAYOUT_KERNEL(2);
const pk_kernel LAYOUT_NAME(pk_kernel_, KERNEL_ID, 2l) = LAYOUT_KERNEL(2l);
