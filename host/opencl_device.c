/* OpenCL devices (see include/powkit/opencl.h). */
#define CL_TARGET_OPENCL_VERSION 120
#define _GNU_SOURCE
#include <CL/cl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../kernels/sha256_internal.h"
#include "powkit/error.h"
#include "powkit/log.h"
#include "powkit/opencl.h"
#include "powkit/sha256.h"
#include "powkit/util.h"

/* ---- the loader, opened at run time ---- */

#define CL_FUNCS(X)                                                                                    \
    X(clGetPlatformIDs) X(clGetPlatformInfo) X(clGetDeviceIDs) X(clGetDeviceInfo) X(clCreateContext)   \
    X(clCreateCommandQueue) X(clCreateProgramWithSource) X(clCreateProgramWithBinary) X(clBuildProgram) \
    X(clGetProgramBuildInfo) X(clGetProgramInfo) X(clCreateKernel) X(clCreateBuffer) X(clSetKernelArg)  \
    X(clEnqueueWriteBuffer) X(clEnqueueNDRangeKernel) X(clEnqueueReadBuffer) X(clFinish)              \
    X(clWaitForEvents) X(clReleaseEvent) X(clReleaseMemObject) X(clReleaseKernel) X(clReleaseProgram) \
    X(clReleaseCommandQueue) X(clReleaseContext) X(clEnqueueFillBuffer) X(clFlush)

static struct {
#define DECL(f) __typeof__(&f) f;
    CL_FUNCS(DECL)
#undef DECL
} cl;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_load_error[200];

static void load_loader(void)
{
    void *h = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        h = dlopen("libOpenCL.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(g_load_error, sizeof g_load_error, "no OpenCL ICD loader (libOpenCL.so.1) on this system");
        return;
    }
#define LOAD(f)                                                                                        \
    if (!(*(void **)&cl.f = dlsym(h, #f))) {                                                           \
        snprintf(g_load_error, sizeof g_load_error, "the OpenCL loader lacks %s", #f);                  \
        return;                                                                                        \
    }
    CL_FUNCS(LOAD)
#undef LOAD
}

static int loader_ok(char *err, size_t errlen)
{
    pthread_once(&g_once, load_loader);
    if (g_load_error[0]) {
        snprintf(err, errlen, "%s", g_load_error);
        return 0;
    }
    return 1;
}

int pk_cl_loader(char *path, size_t pathlen, char *err, size_t errlen)
{
    if (!loader_ok(err, errlen))
        return 0;
    Dl_info di;
    snprintf(path, pathlen, "%s",
             dladdr(*(void **)&cl.clGetPlatformIDs, &di) && di.dli_fname ? di.dli_fname : "libOpenCL.so.1");
    return 1;
}

const char *pk_cl_error_name(int code)
{
    switch (code) {
#define E(c) case c: return #c;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_BUILD_PROGRAM_FAILURE) E(CL_INVALID_VALUE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE)
    E(CL_INVALID_CONTEXT) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_BINARY)
    E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE)
    E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE)
    E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION)
    E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET)
    E(CL_INVALID_EVENT_WAIT_LIST) E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_GLOBAL_WORK_SIZE)
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
#undef E
    }
    return "CL_UNKNOWN_ERROR";
}

/* ---- listing ---- */

typedef struct devref {
    cl_platform_id platform;
    cl_device_id device;
} devref;

static size_t all_devices(devref *out, size_t max, char *err, size_t errlen)
{
    if (!loader_ok(err, errlen))
        return 0;
    cl_platform_id plats[16];
    cl_uint np = 0;
    cl_int rc = cl.clGetPlatformIDs(16, plats, &np);
    if (rc != CL_SUCCESS || np == 0) {
        snprintf(err, errlen, "no OpenCL platform (%s)", pk_cl_error_name(rc));
        return 0;
    }
    size_t n = 0;
    for (cl_uint p = 0; p < np && n < max; p++) {
        cl_device_id devs[32];
        cl_uint nd = 0;
        if (cl.clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 32, devs, &nd) != CL_SUCCESS)
            continue;
        for (cl_uint d = 0; d < nd && n < max; d++)
            out[n++] = (devref){plats[p], devs[d]};
    }
    if (n == 0)
        snprintf(err, errlen, "no OpenCL device on %u platform(s)", np);
    return n;
}

size_t pk_cl_list(pk_cl_info *out, size_t max, char *err, size_t errlen)
{
    devref refs[64];
    size_t n = all_devices(refs, max < 64 ? max : 64, err, errlen);
    for (size_t i = 0; i < n; i++) {
        pk_cl_info *d = &out[i];
        memset(d, 0, sizeof *d);
        d->index = (unsigned)i;
        cl.clGetPlatformInfo(refs[i].platform, CL_PLATFORM_NAME, sizeof d->platform - 1, d->platform, NULL);
        cl.clGetDeviceInfo(refs[i].device, CL_DEVICE_NAME, sizeof d->name - 1, d->name, NULL);
        cl.clGetDeviceInfo(refs[i].device, CL_DEVICE_VENDOR, sizeof d->vendor - 1, d->vendor, NULL);
        cl.clGetDeviceInfo(refs[i].device, CL_DRIVER_VERSION, sizeof d->driver - 1, d->driver, NULL);
        cl.clGetDeviceInfo(refs[i].device, CL_DEVICE_VERSION, sizeof d->version - 1, d->version, NULL);
        cl_uint cu = 0, vw = 0;
        cl_ulong mem = 0;
        cl_device_type type = 0;
        cl.clGetDeviceInfo(refs[i].device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
        cl.clGetDeviceInfo(refs[i].device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_INT, sizeof vw, &vw, NULL);
        cl.clGetDeviceInfo(refs[i].device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
        cl.clGetDeviceInfo(refs[i].device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
        d->compute_units = cu;
        d->pref_vector_width = vw;
        d->global_mem = mem;
        d->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
    }
    return n;
}

/* ---- the device ---- */

/* Must match job_t in kernels/sha256d.cl. */
typedef struct pk_cl_job {
    cl_uint mid[8], r3[8], r4_a, r4_e, c1[18];
    cl_uint w16, w17, w18_c, w19_c, s0_w16, s0_w17, h2_a1, h2_e1, top, pad;
} pk_cl_job;

#define OUT_MAX 256

typedef struct cl_dev {
    pk_device base;
    pk_cl_opts o;
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    cl_kernel kern;
    cl_mem job_buf, out_buf[2];
    unsigned vw;
    size_t global, local;
    int from_cache;
    pk_dispatcher *disp;
    pthread_t th;
    int running;
    _Atomic int stop;
    _Atomic uint64_t hashes;
    uint64_t loaded_job_gen; /* which range's job is in job_buf */
    const pk_job *loaded;
} cl_dev;

static void make_cl_job(const pk_job *j, pk_cl_job *c)
{
    memset(c, 0, sizeof *c);
    memcpy(c->mid, j->work.midstate, 32);
    memcpy(c->r3, j->r3, 32);
    c->r4_a = j->r4_a;
    c->r4_e = j->r4_e;
    for (int i = 4; i < 16; i++)
        c->c1[i] = pk_sha256_k[i] + j->w[i];
    c->c1[16] = pk_sha256_k[16] + j->w16;
    c->c1[17] = pk_sha256_k[17] + j->w17;
    c->w16 = j->w16;
    c->w17 = j->w17;
    c->w18_c = j->w18_c;
    c->w19_c = j->w19_c;
    c->s0_w16 = pk_ssig0(j->w16);
    c->s0_w17 = pk_ssig0(j->w17);
    const uint32_t *iv = pk_sha256_iv;
    uint32_t t1 = iv[7] + pk_bsig1(iv[4]) + pk_ch(iv[4], iv[5], iv[6]) + pk_sha256_k[0];
    c->h2_a1 = t1 + pk_bsig0(iv[0]) + pk_maj(iv[0], iv[1], iv[2]);
    c->h2_e1 = iv[3] + t1;
    c->top = j->target_w[7];
}

static void cache_file(const cl_dev *d, const char *dev_name, const char *driver, const char *opts,
                       char *path, size_t len)
{
    char dir[400] = "";
    const char *env;
    if (d->o.cache_dir)
        snprintf(dir, sizeof dir, "%s", d->o.cache_dir);
    else if ((env = getenv("POWKIT_CACHE_DIR")) && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else if ((env = getenv("HOME")) && *env)
        snprintf(dir, sizeof dir, "%s/.cache/powkit", env);
    path[0] = 0;
    if (!dir[0])
        return;
    pk_sha256_ctx c;
    uint8_t h[32];
    char hex[65];
    const char *src = d->o.source ? d->o.source : pk_sha256d_cl_source;
    pk_sha256_init(&c);
    pk_sha256_update(&c, src, strlen(src) + 1);
    pk_sha256_update(&c, dev_name, strlen(dev_name) + 1);
    pk_sha256_update(&c, driver, strlen(driver) + 1);
    pk_sha256_update(&c, opts, strlen(opts) + 1);
    pk_sha256_final(&c, h);
    pk_hex_encode(h, 16, hex);
    mkdir(dir, 0755);
    snprintf(path, len, "%s/opencl-%s.bin", dir, hex);
}

static int build(cl_dev *d, cl_device_id dev, char *err, size_t errlen)
{
    char opts[64], name[128] = "", driver[64] = "";
    snprintf(opts, sizeof opts, "-DVW=%u -cl-std=CL1.2", d->vw);
    cl.clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    cl.clGetDeviceInfo(dev, CL_DRIVER_VERSION, sizeof driver - 1, driver, NULL);
    char path[512];
    cache_file(d, name, driver, opts, path, sizeof path);
    cl_int rc;
    if (path[0]) {
        FILE *f = fopen(path, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            long sz = ftell(f);
            fseek(f, 0, SEEK_SET);
            unsigned char *bin = sz > 0 ? malloc((size_t)sz) : NULL;
            if (bin && fread(bin, 1, (size_t)sz, f) == (size_t)sz) {
                size_t bsz = (size_t)sz;
                const unsigned char *bp = bin;
                cl_int st;
                d->prog = cl.clCreateProgramWithBinary(d->ctx, 1, &dev, &bsz, &bp, &st, &rc);
                if (d->prog && rc == CL_SUCCESS && cl.clBuildProgram(d->prog, 1, &dev, opts, NULL, NULL) == CL_SUCCESS) {
                    d->from_cache = 1;
                } else if (d->prog) {
                    cl.clReleaseProgram(d->prog); /* stale or foreign: build again below */
                    d->prog = NULL;
                }
            }
            free(bin);
            fclose(f);
        }
    }
    if (d->from_cache)
        return 0;
    const char *src = d->o.source ? d->o.source : pk_sha256d_cl_source;
    d->prog = cl.clCreateProgramWithSource(d->ctx, 1, &src, NULL, &rc);
    if (!d->prog) {
        snprintf(err, errlen, "clCreateProgramWithSource: %s", pk_cl_error_name(rc));
        return -1;
    }
    rc = cl.clBuildProgram(d->prog, 1, &dev, opts, NULL, NULL);
    if (rc != CL_SUCCESS) {
        char log[4096] = "";
        cl.clGetProgramBuildInfo(d->prog, dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        snprintf(err, errlen, "building the kernel for %s failed (%s):\n%s", name, pk_cl_error_name(rc), log);
        return -1;
    }
    size_t bsz = 0;
    if (path[0] && cl.clGetProgramInfo(d->prog, CL_PROGRAM_BINARY_SIZES, sizeof bsz, &bsz, NULL) == CL_SUCCESS &&
        bsz > 0) {
        unsigned char *bin = malloc(bsz);
        if (bin && cl.clGetProgramInfo(d->prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS) {
            char tmp[530];
            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            FILE *f = fopen(tmp, "wb");
            if (f && fwrite(bin, 1, bsz, f) == bsz && fclose(f) == 0)
                rename(tmp, path);
            else if (f)
                fclose(f);
        }
        free(bin);
    }
    return 0;
}

static int load_job(cl_dev *d, const pk_job *job)
{
    pk_cl_job cj;
    make_cl_job(job, &cj);
    cl_int rc = cl.clEnqueueWriteBuffer(d->q, d->job_buf, CL_TRUE, 0, sizeof cj, &cj, 0, NULL, NULL);
    return rc;
}

/* Launch over count nonces from start into out buffer k (non-blocking);
 * results land in host[] when ev completes. */
static cl_int launch(cl_dev *d, int k, uint32_t start, uint64_t count, cl_uint *host, cl_event *ev)
{
    cl_uint zero = 0, out_max = OUT_MAX;
    size_t items = (size_t)((count + d->vw - 1) / d->vw);
    cl_int rc = cl.clEnqueueFillBuffer(d->q, d->out_buf[k], &zero, sizeof zero, 0, sizeof zero, 0, NULL, NULL);
    rc |= cl.clSetKernelArg(d->kern, 0, sizeof d->job_buf, &d->job_buf);
    rc |= cl.clSetKernelArg(d->kern, 1, sizeof start, &start);
    rc |= cl.clSetKernelArg(d->kern, 2, sizeof d->out_buf[k], &d->out_buf[k]);
    rc |= cl.clSetKernelArg(d->kern, 3, sizeof out_max, &out_max);
    if (rc != CL_SUCCESS)
        return rc;
    /* Whole work-groups: spare work-items in the last one scan past the
     * range; collect() drops what they find. */
    size_t local = d->local;
    items = (items + local - 1) / local * local;
    rc = cl.clEnqueueNDRangeKernel(d->q, d->kern, 1, NULL, &items, &local, 0, NULL, NULL);
    if (rc != CL_SUCCESS)
        return rc;
    rc = cl.clEnqueueReadBuffer(d->q, d->out_buf[k], CL_FALSE, 0, (1 + OUT_MAX) * sizeof(cl_uint), host, 0, NULL, ev);
    cl.clFlush(d->q);
    return rc;
}

/* Candidates from a launch: inside the range and meeting the full target. */
static size_t collect(const pk_job *job, uint32_t start, uint64_t count, const cl_uint *host, uint32_t *found,
                      size_t max_found, size_t hits)
{
    size_t n = host[0] < OUT_MAX ? host[0] : OUT_MAX;
    for (size_t i = 0; i < n; i++) {
        uint32_t nonce = host[1 + i];
        if ((uint64_t)(uint32_t)(nonce - start) >= count)
            continue; /* the last work-item's spare lanes */
        uint32_t h[8];
        pk_job_hash_nonce(job, nonce, h);
        if (pk_state_meets_target(h, job->target_w)) {
            if (hits < max_found)
                found[hits] = nonce;
            hits++;
        }
    }
    return hits;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

size_t pk_cl_scan(pk_device *base, const pk_job *job, uint32_t start, uint64_t count, uint32_t *found,
                  size_t max_found, int *err)
{
    cl_dev *d = (cl_dev *)base;
    *err = load_job(d, job);
    if (*err)
        return 0;
    size_t hits = 0;
    cl_uint host[1 + OUT_MAX];
    uint64_t done = 0;
    uint64_t step = (uint64_t)d->global * d->vw;
    while (done < count) {
        uint64_t n = count - done < step ? count - done : step;
        cl_event ev;
        *err = launch(d, 0, start + (uint32_t)done, n, host, &ev);
        if (*err)
            return hits;
        cl.clWaitForEvents(1, &ev);
        cl.clReleaseEvent(ev);
        hits = collect(job, start + (uint32_t)done, n, host, found, max_found, hits);
        done += n;
    }
    /* A launch's work-items finish in any order: report in scan order like
     * the CPU kernels (the stored prefix is what callers compare). */
    if (hits <= max_found) {
        uint32_t base_n = start;
        for (size_t i = 0; i < hits; i++)
            found[i] -= base_n;
        qsort(found, hits, sizeof *found, cmp_u32);
        for (size_t i = 0; i < hits; i++)
            found[i] += base_n;
    }
    return hits;
}

static void *cl_worker(void *arg)
{
    cl_dev *d = arg;
    static _Thread_local cl_uint host[2][1 + OUT_MAX];
    pk_range r[2];
    cl_event ev[2] = {NULL, NULL};
    int inflight[2] = {0, 0};
    int k = 0;
    uint64_t job_seen = UINT64_MAX;
    uint8_t job_header[80];
    while (!atomic_load(&d->stop)) {
        /* Queue launch k while launch !k runs. */
        uint32_t want = (uint32_t)((uint64_t)d->global * d->vw);
        int rc = pk_dispatcher_take(d->disp, want, 100, &r[k]);
        if (rc == PK_ESTOPPED)
            break;
        if (rc == PK_OK) {
            uint64_t key = r[k].generation ^ ((uint64_t)r[k].job_id << 20) ^ r[k].extra;
            if (key != job_seen || memcmp(job_header, r[k].header, 80) != 0) {
                if (inflight[!k]) { /* the job buffer is in use by the other launch */
                    cl.clWaitForEvents(1, &ev[!k]);
                }
                if (load_job(d, &r[k].job) != CL_SUCCESS) {
                    pk_log(PK_LOG_ERROR, "%s: cannot load the job", d->base.name);
                    break;
                }
                job_seen = key;
                memcpy(job_header, r[k].header, 80);
            }
            cl_int lrc = launch(d, k, r[k].start, r[k].count, host[k], &ev[k]);
            if (lrc != CL_SUCCESS) {
                pk_log(PK_LOG_ERROR, "%s: launch failed: %s", d->base.name, pk_cl_error_name(lrc));
                break;
            }
            inflight[k] = 1;
        }
        /* Finish the older launch. */
        int o = !k;
        if (inflight[o]) {
            double t0 = pk_now();
            cl.clWaitForEvents(1, &ev[o]);
            cl.clReleaseEvent(ev[o]);
            inflight[o] = 0;
            uint32_t found[OUT_MAX];
            size_t hits = collect(&r[o].job, r[o].start, r[o].count, host[o], found, OUT_MAX, 0);
            for (size_t i = 0; i < hits && i < OUT_MAX; i++)
                pk_dispatcher_found(d->disp, &r[o], found[i], d->base.index, 0);
            atomic_fetch_add(&d->hashes, r[o].count);
            (void)t0;
        }
        k = o;
    }
    for (int i = 0; i < 2; i++) {
        if (inflight[i]) {
            cl.clWaitForEvents(1, &ev[i]);
            cl.clReleaseEvent(ev[i]);
        }
    }
    return NULL;
}

static int cl_start(pk_device *base, pk_dispatcher *disp)
{
    cl_dev *d = (cl_dev *)base;
    d->disp = disp;
    atomic_store(&d->stop, 0);
    if (pthread_create(&d->th, NULL, cl_worker, d) != 0)
        return PK_ETHREAD;
    d->running = 1;
    return PK_OK;
}

static void cl_stop(pk_device *base)
{
    cl_dev *d = (cl_dev *)base;
    atomic_store(&d->stop, 1);
    if (d->running) {
        pthread_join(d->th, NULL);
        d->running = 0;
    }
}

static void cl_destroy(pk_device *base)
{
    cl_dev *d = (cl_dev *)base;
    cl_stop(base);
    if (d->kern)
        cl.clReleaseKernel(d->kern);
    if (d->prog)
        cl.clReleaseProgram(d->prog);
    for (int i = 0; i < 2; i++)
        if (d->out_buf[i])
            cl.clReleaseMemObject(d->out_buf[i]);
    if (d->job_buf)
        cl.clReleaseMemObject(d->job_buf);
    if (d->q)
        cl.clReleaseCommandQueue(d->q);
    if (d->ctx)
        cl.clReleaseContext(d->ctx);
    free(d);
}

static uint64_t cl_hashes(const pk_device *base) { return atomic_load(&((const cl_dev *)base)->hashes); }

static const pk_device_ops cl_ops = {cl_start, cl_stop, cl_destroy, cl_hashes};

int pk_cl_device_from_cache(const pk_device *dev) { return ((const cl_dev *)dev)->from_cache; }
unsigned pk_cl_device_vector_width(const pk_device *dev) { return ((const cl_dev *)dev)->vw; }

pk_device *pk_cl_device_new(const pk_cl_opts *o, unsigned device_index, char *err, size_t errlen)
{
    devref refs[64];
    size_t n = all_devices(refs, 64, err, errlen);
    if (n == 0)
        return NULL;
    if (o->index >= n) {
        snprintf(err, errlen, "no OpenCL device opencl:%u (there are %zu)", o->index, n);
        return NULL;
    }
    cl_dev *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->o = *o;
    d->base.ops = &cl_ops;
    d->base.index = device_index;
    snprintf(d->base.name, sizeof d->base.name, "opencl:%u", o->index);
    cl_device_id dev = refs[o->index].device;
    cl_uint pref = 0;
    cl.clGetDeviceInfo(dev, CL_DEVICE_PREFERRED_VECTOR_WIDTH_INT, sizeof pref, &pref, NULL);
    d->vw = o->vector_width ? o->vector_width : (pref >= 4 ? (pref > 16 ? 16 : pref) : 4);
    if (d->vw != 1 && d->vw != 2 && d->vw != 4 && d->vw != 8 && d->vw != 16) {
        snprintf(err, errlen, "vector width %u: use 1, 2, 4, 8 or 16", d->vw);
        free(d);
        return NULL;
    }
    cl_int rc;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)refs[o->index].platform, 0};
    d->ctx = cl.clCreateContext(props, 1, &dev, NULL, NULL, &rc);
    if (!d->ctx) {
        snprintf(err, errlen, "clCreateContext: %s", pk_cl_error_name(rc));
        cl_destroy(&d->base);
        return NULL;
    }
    d->q = cl.clCreateCommandQueue(d->ctx, dev, 0, &rc);
    if (!d->q) {
        snprintf(err, errlen, "clCreateCommandQueue: %s", pk_cl_error_name(rc));
        cl_destroy(&d->base);
        return NULL;
    }
    if (build(d, dev, err, errlen)) {
        cl_destroy(&d->base);
        return NULL;
    }
    d->kern = cl.clCreateKernel(d->prog, "scan", &rc);
    d->job_buf = cl.clCreateBuffer(d->ctx, CL_MEM_READ_ONLY, sizeof(pk_cl_job), NULL, &rc);
    for (int i = 0; i < 2; i++)
        d->out_buf[i] = cl.clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, (1 + OUT_MAX) * sizeof(cl_uint), NULL, &rc);
    if (!d->kern || !d->job_buf || !d->out_buf[0] || !d->out_buf[1]) {
        snprintf(err, errlen, "creating the kernel or buffers: %s", pk_cl_error_name(rc));
        cl_destroy(&d->base);
        return NULL;
    }
    /* An explicit work-group size: left to itself PoCL picks 4096, and its
     * CPU device keeps every work-item's private schedule on one stack. */
    d->local = o->local_size ? o->local_size : 64;
    d->global = o->global_size ? o->global_size : 1u << 14;
    if (!o->global_size) {
        /* Autotune: grow the launch until it takes the target time. */
        unsigned target = o->target_ms ? o->target_ms : 20;
        pk_job job;
        pk_work w;
        uint8_t hdr[80] = {1}, tgt[32] = {0};
        pk_work_from_header(&w, hdr, tgt);
        pk_job_init(&job, &w);
        uint32_t f[4];
        int e;
        for (int i = 0; i < 12; i++) {
            double t0 = pk_now();
            pk_cl_scan(&d->base, &job, 0, (uint64_t)d->global * d->vw, f, 4, &e);
            double ms = (pk_now() - t0) * 1e3;
            if (e) {
                snprintf(err, errlen, "first launch on %s: %s", d->base.name, pk_cl_error_name(e));
                cl_destroy(&d->base);
                return NULL;
            }
            if (ms >= target * 0.7 || d->global >= (1u << 26))
                break;
            double scale = ms > 0.05 ? target / ms : 8;
            if (scale > 8)
                scale = 8;
            d->global = (size_t)(d->global * scale);
            d->global = (d->global + 255) & ~(size_t)255;
        }
    }
    return &d->base;
}
