/* powkit: log lines on stderr, "2026-11-23T19:34:07+00:00 [warn] text"
 * (ISO 8601 local time with its offset), and optionally to a file and to
 * syslog.  Text
 * from the network is passed through pk_log_clean so a pool cannot write
 * control sequences to the user's terminal. */
#ifndef POWKIT_LOG_H
#define POWKIT_LOG_H

#include "powkit/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PK_LOG_ERROR = 0, PK_LOG_WARN, PK_LOG_INFO, PK_LOG_DEBUG } pk_log_level;

PK_API void pk_log_set_level(pk_log_level level);
PK_API pk_log_level pk_log_get_level(void);
/* "error", "warn", "info", "debug"; returns 0 or -1 for another word. */
PK_API int pk_log_parse_level(const char *s, pk_log_level *out);
PK_API void pk_log(pk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Every line appended to path too (NULL: no more); -1 when it cannot be
 * opened (errno says why). */
PK_API int pk_log_to_file(const char *path);
/* Every line to syslog too, as ident (NULL: no more). */
PK_API void pk_log_to_syslog(const char *ident);
/* Copies untrusted text, replacing control characters with '?' and
 * cutting it at len-1 bytes. */
PK_API void pk_log_clean(const char *in, char *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
