/* powkit: error codes.  Functions that can fail return 0 or one of these
 * negative codes; pk_strerror gives the words. */
#ifndef POWKIT_ERROR_H
#define POWKIT_ERROR_H

#include "powkit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    PK_OK = 0,
    PK_EINVAL = -1,      /* invalid argument */
    PK_ENOMEM = -2,      /* out of memory */
    PK_EUNSUPPORTED = -3, /* this CPU or build cannot run it */
    PK_EDISABLED = -4,   /* switched off by POWKIT_DISABLE */
    PK_ESELFTEST = -5,   /* failed its self-test */
    PK_ENOTFOUND = -6,   /* no such name */
    PK_EAGAIN = -7,      /* nothing to do yet */
    PK_ESTOPPED = -8,    /* shutting down */
    PK_EIO = -9,         /* input/output error */
    PK_ETHREAD = -10,    /* could not start a thread */
};

PK_API const char *pk_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
