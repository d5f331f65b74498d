/* powkit: cgminer's API (TCP, port 4028 by convention), for the farm
 * monitors that speak it.
 *
 * A request is one line: JSON {"command":"summary","parameter":""} or the
 * plain form "summary" / "switchpool|1"; commands joined by '+' are
 * answered together.  Each answer has cgminer's STATUS (S/E, When, Code,
 * Msg, Description) and the command's section (SUMMARY, DEVS, POOLS, ...);
 * the reply ends with a NUL byte and the connection closes.  Peers outside
 * the access rules (access.h) are closed unanswered; privileged commands
 * need a "W:" rule. */
#ifndef POWKIT_CGMINER_API_H
#define POWKIT_CGMINER_API_H

#include "powkit/export.h"

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pk_access;

typedef struct pk_cg_reply {
    char status;         /* 'S' success, 'I' info, 'W' warning, 'E' error */
    int code;            /* cgminer's message code (11 summary, 14 invalid command, 45 access denied, ...) */
    char msg[200];
    const char *section; /* "SUMMARY", "DEVS", ...; NULL: STATUS alone */
    json_t *items;       /* the section's array of objects (the reply takes it) */
} pk_cg_reply;

/* One command (lower case, without the '|' parameter); privileged: the
 * peer may use privileged commands.  The handler fills r; a command it
 * does not know it leaves with code 0 (answered "Invalid command"). */
typedef void (*pk_cg_handler)(void *ud, const char *command, const char *param, int privileged, pk_cg_reply *r);

typedef struct pk_cgminer_api pk_cgminer_api;

/* addr: "host:port" (as --api-listen).  A bind other machines can reach
 * needs access rules.  Returns 0 or a negative code with err filled. */
PK_API int pk_cgminer_api_start(uv_loop_t *loop, const char *addr, const struct pk_access *access,
                                const char *description, pk_cg_handler h, void *ud, pk_cgminer_api **out,
                                char *err, size_t errlen);
PK_API int pk_cgminer_api_port(const pk_cgminer_api *api);
PK_API void pk_cgminer_api_close(pk_cgminer_api *api);

/* cpuminer's API (its --api-bind) on the same server: a request is
 * "command|params"; the handler's text is the reply ("K=V;K=V|", malloc'd,
 * NULL for an unknown command: an empty reply), NUL-terminated too. */
typedef char *(*pk_cpuminer_handler)(void *ud, const char *command, const char *param, int privileged);
PK_API int pk_cpuminer_api_start(uv_loop_t *loop, const char *addr, const struct pk_access *access,
                                 pk_cpuminer_handler h, void *ud, pk_cgminer_api **out, char *err,
                                 size_t errlen);

/* The reply to a request line, as the server sends it (without the NUL);
 * malloc'd.  For the server and the tests. */
PK_API char *pk_cgminer_reply(const char *request, int privileged, const char *description, pk_cg_handler h,
                              void *ud);

#ifdef __cplusplus
}
#endif
#endif
