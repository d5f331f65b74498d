/* The words for the error codes of powkit/error.h. */
#include "powkit/error.h"

const char *pk_strerror(int err)
{
    switch (err) {
    case PK_OK: return "success";
    case PK_EINVAL: return "invalid argument";
    case PK_ENOMEM: return "out of memory";
    case PK_EUNSUPPORTED: return "not supported by this CPU";
    case PK_EDISABLED: return "disabled by POWKIT_DISABLE";
    case PK_ESELFTEST: return "failed its self-test";
    case PK_ENOTFOUND: return "not found";
    case PK_EAGAIN: return "no work yet";
    case PK_ESTOPPED: return "stopped";
    case PK_EIO: return "input/output error";
    case PK_ETHREAD: return "could not start a thread";
    }
    return "unknown error";
}
