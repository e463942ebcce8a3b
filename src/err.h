/*
 * err: the one error type of kiln.
 *
 * Every fallible function returns an enum err_code and takes a struct err *
 * last; err_set()/err_sys() record the failure where it is found and return
 * the code so detection and return are one statement. The codes map one to
 * one (or many to one) onto the error codes of SPEC §2 via err_spec_code().
 * Thread-safe (no global state); async-signal-safe: no.
 */
#pragma once

#include <stddef.h>

enum err_code {
    E_OK = 0,
    E_NOMEM,        /* allocation failed                         -> INTERNAL */
    E_INVALID,      /* bad request or argument                   -> INVALID_REQUEST */
    E_IO,           /* local I/O failed                          -> INTERNAL */
    E_PARSE,        /* malformed input file                      -> PARSE_ERROR */
    E_LIMIT,        /* a generic cap from limits.h was hit       -> INVALID_REQUEST */
    E_NOTFOUND,     /* stored id absent or expired               -> NOT_FOUND */
    E_TIMEOUT,      /* wall clock ran out                        -> TIMEOUT */
    E_SANDBOX,      /* sandbox could not be set up               -> SANDBOX_ERROR */
    E_INTERNAL,     /* a bug                                     -> INTERNAL */
    E_FETCH,        /* URL could not be fetched                  -> FETCH_FAILED */
    E_BLOCKED,      /* URL scheme or address refused             -> URL_BLOCKED */
    E_TOO_LARGE,    /* an input exceeds its size limit           -> FILE_TOO_LARGE */
    E_UNSUPPORTED,  /* cannot read this kind of file             -> UNSUPPORTED_FILE */
    E_CODE,         /* user code raised                          -> CODE_ERROR */
    E_MEMORY,       /* memory limit reached                      -> MEMORY_LIMIT */
    E_OUTPUT_LIMIT, /* outputs or return value over their limit  -> OUTPUT_TOO_LARGE */
    E_PACKAGE,      /* a requested package is not importable     -> PACKAGE_MISSING */
    E_COUNT_
};

#define ERR_MSG_MAX 512

struct err {
    enum err_code code;
    int sys_errno;
    char msg[ERR_MSG_MAX];
};

/* Record the failure (err may be NULL) and return c. */
enum err_code err_set(struct err *err, enum err_code c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As err_set, with ": strerror(errno)" appended and errno kept in sys_errno. */
enum err_code err_sys(struct err *err, enum err_code c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepend context ("context: old message"); returns err->code. */
enum err_code err_wrap(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reset to E_OK with an empty message. */
void err_clear(struct err *err);
/* "E_PARSE" etc., for logs. */
const char *err_name(enum err_code c);
/* The SPEC §2 code for c: "PARSE_ERROR", "INVALID_REQUEST", ... */
const char *err_spec_code(enum err_code c);
