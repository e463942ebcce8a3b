#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    const char *spec;
} err_table[E_COUNT_] = {
    [E_OK] = {"E_OK", "OK"},
    [E_NOMEM] = {"E_NOMEM", "INTERNAL"},
    [E_INVALID] = {"E_INVALID", "INVALID_REQUEST"},
    [E_IO] = {"E_IO", "INTERNAL"},
    [E_PARSE] = {"E_PARSE", "PARSE_ERROR"},
    [E_LIMIT] = {"E_LIMIT", "INVALID_REQUEST"},
    [E_NOTFOUND] = {"E_NOTFOUND", "NOT_FOUND"},
    [E_TIMEOUT] = {"E_TIMEOUT", "TIMEOUT"},
    [E_SANDBOX] = {"E_SANDBOX", "SANDBOX_ERROR"},
    [E_INTERNAL] = {"E_INTERNAL", "INTERNAL"},
    [E_FETCH] = {"E_FETCH", "FETCH_FAILED"},
    [E_BLOCKED] = {"E_BLOCKED", "URL_BLOCKED"},
    [E_TOO_LARGE] = {"E_TOO_LARGE", "FILE_TOO_LARGE"},
    [E_UNSUPPORTED] = {"E_UNSUPPORTED", "UNSUPPORTED_FILE"},
    [E_CODE] = {"E_CODE", "CODE_ERROR"},
    [E_MEMORY] = {"E_MEMORY", "MEMORY_LIMIT"},
    [E_OUTPUT_LIMIT] = {"E_OUTPUT_LIMIT", "OUTPUT_TOO_LARGE"},
    [E_PACKAGE] = {"E_PACKAGE", "PACKAGE_MISSING"},
};

const char *err_name(enum err_code c)
{
    if ((unsigned)c >= E_COUNT_)
        return "E_UNKNOWN";
    return err_table[c].name;
}

const char *err_spec_code(enum err_code c)
{
    if ((unsigned)c >= E_COUNT_)
        return "INTERNAL";
    return err_table[c].spec;
}

__attribute__((format(printf, 4, 0))) static void err_vset(struct err *err, enum err_code c,
                                                           int sys, const char *fmt, va_list ap)
{
    err->code = c;
    err->sys_errno = sys;
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    if (n < 0)
        err->msg[0] = '\0';
}

enum err_code err_set(struct err *err, enum err_code c, const char *fmt, ...)
{
    if (!err)
        return c;
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, c, 0, fmt, ap);
    va_end(ap);
    return c;
}

enum err_code err_sys(struct err *err, enum err_code c, const char *fmt, ...)
{
    int saved = errno;
    if (!err)
        return c;
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, c, saved, fmt, ap);
    va_end(ap);
    size_t len = strlen(err->msg);
    if (len < sizeof(err->msg))
        snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(saved));
    errno = saved;
    return c;
}

enum err_code err_wrap(struct err *err, const char *fmt, ...)
{
    if (!err)
        return E_INTERNAL;
    char prefix[ERR_MSG_MAX];
    char old[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        return err->code;
    memcpy(old, err->msg, sizeof(old));
    size_t plen = strlen(prefix);
    if (plen + 2 >= sizeof(err->msg))
        plen = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    size_t room = sizeof(err->msg) - plen - 2;
    size_t olen = strnlen(old, room - 1);
    memcpy(err->msg + plen + 2, old, olen);
    err->msg[plen + 2 + olen] = '\0';
    return err->code;
}

void err_clear(struct err *err)
{
    if (!err)
        return;
    err->code = E_OK;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}
