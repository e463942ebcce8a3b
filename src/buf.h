/*
 * buf: a growable byte buffer with an explicit maximum.
 *
 * Anything that grows from outside data goes through a buf whose max comes
 * from limits.h or config. The data is always NUL-terminated (the NUL is not
 * counted in len and does not count against max). Not thread-safe; owned by
 * whoever initialised it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;
};

/* Initialise an empty buffer that may grow to max bytes. */
void buf_init(struct buf *b, size_t max);
/* Free the storage; b is empty and reusable afterwards. NULL-safe. */
void buf_release(struct buf *b);
/* Empty but keep capacity. */
void buf_reset(struct buf *b);
/* Append; E_LIMIT when the result would exceed max, E_NOMEM. */
enum err_code buf_append(struct buf *b, const void *p, size_t n, struct err *err);
enum err_code buf_append_str(struct buf *b, const char *s, struct err *err);
/* Append what fd gives until EOF (EINTR retried). Past max the rest is still
 * read and dropped, so a writer never blocks, and E_LIMIT is returned at EOF;
 * E_IO when a read fails. */
enum err_code buf_read_fd(struct buf *b, int fd, struct err *err);
/* Write all n bytes of p to fd (EINTR retried); false when a write fails
 * (errno set). Async-signal-safe: also for a forked or sandboxed child. */
bool fd_write_all(int fd, const void *p, size_t n);
enum err_code buf_printf(struct buf *b, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Hand the payload (NUL-terminated, may be NULL when empty) to the caller. */
char *buf_take(struct buf *b, size_t *len);
