#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "powkit/log.h"

static _Atomic int g_level = PK_LOG_INFO;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_file;  /* --log-file: every line, appended (under g_mu) */
static int g_syslog;  /* --syslog: every line to syslog too */

int pk_log_to_file(const char *path)
{
    FILE *f = path ? fopen(path, "a") : NULL;
    if (path && !f)
        return -1;
    if (f)
        setvbuf(f, NULL, _IOLBF, 0); /* a line is on disk when logged */
    pthread_mutex_lock(&g_mu);
    FILE *old = g_file;
    g_file = f;
    pthread_mutex_unlock(&g_mu);
    if (old)
        fclose(old);
    return 0;
}

void pk_log_to_syslog(const char *ident)
{
    pthread_mutex_lock(&g_mu);
    if (ident && !g_syslog)
        openlog(ident, LOG_PID, LOG_DAEMON);
    else if (!ident && g_syslog)
        closelog();
    g_syslog = ident != NULL;
    pthread_mutex_unlock(&g_mu);
}

/* ISO 8601 local time with its offset: 2026-12-02T06:01:02+01:00. */
static size_t stamp(char *out, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char zone[8];
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (strftime(zone, sizeof zone, "%z", &tm) == 5) /* +hhmm */
        n += (size_t)snprintf(out + n, len - n, "%.3s:%.2s", zone, zone + 3);
    return n;
}

void pk_log_set_level(pk_log_level level) { atomic_store(&g_level, (int)level); }
pk_log_level pk_log_get_level(void) { return (pk_log_level)atomic_load(&g_level); }

int pk_log_parse_level(const char *s, pk_log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = (pk_log_level)i;
            return 0;
        }
    }
    return -1;
}

void pk_log(pk_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if ((int)level > atomic_load(&g_level))
        return;
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char line[2048];
    size_t n = stamp(line, sizeof line);
    n += (size_t)snprintf(line + n, sizeof line - n, " [%s] ", names[level]);
    size_t text = n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_mu); /* whole lines from every thread */
    fprintf(stderr, "%s\n", line);
    if (g_file)
        fprintf(g_file, "%s\n", line);
    if (g_syslog)
        syslog(prio[level], "%s", line + text); /* syslog stamps its own time */
    pthread_mutex_unlock(&g_mu);
}

void pk_log_clean(const char *in, char *out, size_t len)
{
    size_t i = 0;
    if (!len)
        return;
    for (; in && in[i] && i + 1 < len; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[i] = 0;
}
