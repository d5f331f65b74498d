/* powkit: who may use the miner's APIs (HTTP and cgminer's).
 *
 * A list like cgminer's --api-allow: "W:192.168.1.0/24,10.0.0.5,::1",
 * addresses or prefixes, IPv4 or IPv6; "W:" before one grants the
 * privileged commands too (cgminer's switchpool, quit, ...).  Loopback is
 * always allowed to read.  An empty list allows loopback only. */
#ifndef POWKIT_ACCESS_H
#define POWKIT_ACCESS_H

#include "powkit/export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr;

#define PK_ACCESS_MAX 32

typedef struct pk_access_rule {
    int family;        /* AF_INET or AF_INET6 */
    uint8_t addr[16];  /* network byte order */
    unsigned prefix;   /* bits that must match */
    int write;         /* "W:": privileged commands too */
} pk_access_rule;

typedef struct pk_access {
    pk_access_rule rules[PK_ACCESS_MAX];
    size_t n;
} pk_access;

enum { PK_ACCESS_DENIED = 0, PK_ACCESS_READ = 1, PK_ACCESS_WRITE = 2 };

/* Parses list (NULL or "": no rules).  Returns 0, or -1 with err saying
 * which entry is wrong. */
PK_API int pk_access_parse(pk_access *a, const char *list, char *err, size_t errlen);
/* What a peer may do: PK_ACCESS_DENIED, _READ or _WRITE. */
PK_API int pk_access_check(const pk_access *a, const struct sockaddr *peer);
/* 1 for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. */
PK_API int pk_addr_is_loopback(const struct sockaddr *sa);

#ifdef __cplusplus
}
#endif
#endif
