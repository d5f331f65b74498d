#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "powkit/log.h"

static _Atomic int g_level = PK_LOG_INFO;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

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
    char line[2048];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, " [%s] ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_mu); /* whole lines from every thread */
    fprintf(stderr, "%s\n", line);
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
