/* Who may use the APIs (see include/powkit/access.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "powkit/access.h"

int pk_access_parse(pk_access *a, const char *list, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        char item[80];
        if (len == 0 || len >= sizeof item) {
            snprintf(err, errlen, "--api-allow: an empty or too long entry in '%s'", list);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = 0;
        p += len + (p[len] == ',');
        if (a->n == PK_ACCESS_MAX) {
            snprintf(err, errlen, "--api-allow: more than %d entries", PK_ACCESS_MAX);
            return -1;
        }
        pk_access_rule *r = &a->rules[a->n];
        char *s = item;
        if ((s[0] == 'W' || s[0] == 'w') && s[1] == ':') {
            r->write = 1;
            s += 2;
        }
        char *slash = strchr(s, '/');
        long prefix = -1;
        if (slash) {
            char *end;
            *slash = 0;
            prefix = strtol(slash + 1, &end, 10);
            if (!slash[1] || *end || prefix < 0) {
                snprintf(err, errlen, "--api-allow: bad prefix in '%s'", item);
                return -1;
            }
        }
        if (inet_pton(AF_INET, s, r->addr) == 1) {
            r->family = AF_INET;
            if (prefix > 32) {
                snprintf(err, errlen, "--api-allow: an IPv4 prefix is at most /32: '%s'", item);
                return -1;
            }
            r->prefix = prefix < 0 ? 32 : (unsigned)prefix;
        } else if (inet_pton(AF_INET6, s, r->addr) == 1) {
            r->family = AF_INET6;
            if (prefix > 128) {
                snprintf(err, errlen, "--api-allow: an IPv6 prefix is at most /128: '%s'", item);
                return -1;
            }
            r->prefix = prefix < 0 ? 128 : (unsigned)prefix;
        } else {
            snprintf(err, errlen, "--api-allow: '%s' is not [W:]ADDRESS[/PREFIX]", item);
            return -1;
        }
        a->n++;
    }
    return 0;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* The peer as IPv4 when it is one (an IPv4-mapped IPv6 address too). */
static int peer_bytes(const struct sockaddr *sa, int *family, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        *family = AF_INET;
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, 12) == 0) {
            *family = AF_INET;
            memcpy(out, b + 12, 4);
        } else {
            *family = AF_INET6;
            memcpy(out, b, 16);
        }
        return 0;
    }
    return -1;
}

int pk_addr_is_loopback(const struct sockaddr *sa)
{
    int family;
    uint8_t b[16];
    if (peer_bytes(sa, &family, b))
        return 0;
    if (family == AF_INET)
        return b[0] == 127;
    static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return memcmp(b, one, 16) == 0;
}

int pk_access_check(const pk_access *a, const struct sockaddr *peer)
{
    int family, best = pk_addr_is_loopback(peer) ? PK_ACCESS_READ : PK_ACCESS_DENIED;
    uint8_t b[16];
    if (peer_bytes(peer, &family, b))
        return PK_ACCESS_DENIED;
    for (size_t i = 0; a && i < a->n; i++) {
        const pk_access_rule *r = &a->rules[i];
        if (r->family == family && prefix_match(b, r->addr, r->prefix)) {
            int level = r->write ? PK_ACCESS_WRITE : PK_ACCESS_READ;
            if (level > best)
                best = level;
        }
    }
    return best;
}
