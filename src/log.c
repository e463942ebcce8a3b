#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

static enum log_level log_level_cur = LOG_WARN;

void log_init(void)
{
    const char *s = getenv("KILN_LOG");
    if (!s)
        return;
    if (!strcmp(s, "error"))
        log_level_cur = LOG_ERROR;
    else if (!strcmp(s, "warn"))
        log_level_cur = LOG_WARN;
    else if (!strcmp(s, "info"))
        log_level_cur = LOG_INFO;
    else if (!strcmp(s, "debug"))
        log_level_cur = LOG_DEBUG;
}

void log_set_level(enum log_level lvl)
{
    log_level_cur = lvl;
}

enum log_level log_get_level(void)
{
    return log_level_cur;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (lvl > log_level_cur)
        return;
    char line[1024];
    int n = snprintf(line, sizeof(line), "kiln: %s: ", names[lvl]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = strlen(line);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
