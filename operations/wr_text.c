#include "wr_text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define WR_TEXT_BUF (1024 * 1024)

struct wr_text {
    int fd;
    char *path;
    struct wr_opts o;
    struct wr_cols cols;
    char *buf;
    size_t len;
    size_t total; /* bytes flushed + buffered */
    size_t rows;
    bool finished;
    char **keys; /* JSON: escaped "name": per column */
    size_t *keylen;
};

static enum err_code wt_flush(struct wr_text *w, struct err *err)
{
    size_t off = 0;
    while (off < w->len) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(err, E_IO, "cannot write the output file");
        }
        off += (size_t)n;
    }
    w->len = 0;
    return E_OK;
}

static enum err_code wt_put(struct wr_text *w, const char *p, size_t n, struct err *err)
{
    enum err_code rc;
    w->total += n;
    if (w->o.max_bytes && w->total > w->o.max_bytes)
        return err_set(err, E_OUTPUT_LIMIT, "output file is larger than the %zu byte limit",
                       w->o.max_bytes);
    while (n) {
        if (w->len == WR_TEXT_BUF && (rc = wt_flush(w, err)))
            return rc;
        size_t k = WR_TEXT_BUF - w->len;
        if (k > n)
            k = n;
        memcpy(w->buf + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
    }
    return E_OK;
}

static enum err_code wt_putc(struct wr_text *w, char c, struct err *err)
{
    if (w->len < WR_TEXT_BUF && !(w->o.max_bytes && w->total + 1 > w->o.max_bytes)) {
        w->buf[w->len++] = c;
        w->total++;
        return E_OK;
    }
    return wt_put(w, &c, 1, err);
}

static enum err_code wt_csv_field(struct wr_text *w, const char *s, size_t n, bool neut,
                                  struct err *err)
{
    enum err_code rc;
    bool q = false;
    for (size_t i = 0; i < n && !q; i++)
        q = s[i] == w->o.delimiter || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (q && (rc = wt_putc(w, '"', err)))
        return rc;
    if (neut && (rc = wt_putc(w, '\'', err)))
        return rc;
    if (!q)
        return wt_put(w, s, n, err);
    size_t st = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"') {
            if ((rc = wt_put(w, s + st, i + 1 - st, err)) || (rc = wt_putc(w, '"', err)))
                return rc;
            st = i + 1;
        }
    if ((rc = wt_put(w, s + st, n - st, err)))
        return rc;
    return wt_putc(w, '"', err);
}

static enum err_code wt_json_str(struct wr_text *w, const char *s, size_t n, struct err *err)
{
    enum err_code rc;
    if ((rc = wt_putc(w, '"', err)))
        return rc;
    size_t st = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((rc = wt_put(w, s + st, i - st, err)))
            return rc;
        char esc[8];
        size_t el = 2;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default: {
            static const char hex[] = "0123456789abcdef";
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
            break;
        }
        }
        if ((rc = wt_put(w, esc, el, err)))
            return rc;
        st = i + 1;
    }
    if ((rc = wt_put(w, s + st, n - st, err)))
        return rc;
    return wt_putc(w, '"', err);
}

static enum err_code wt_json_val(struct wr_text *w, const struct xval *v, struct err *err)
{
    char tmp[XVAL_TEXT_MAX];
    size_t len;
    const char *s;
    switch ((enum xtype)v->t) {
    case XT_NULL:
        return wt_put(w, "null", 4, err);
    case XT_FLOAT:
        if (v->u.f != v->u.f || v->u.f - v->u.f != 0)
            return wt_put(w, "null", 4, err);
        s = xval_text(v, tmp, &len, NULL);
        return wt_put(w, s, len, err);
    case XT_INT:
    case XT_BOOL:
        s = xval_text(v, tmp, &len, NULL);
        return wt_put(w, s, len, err);
    default:
        s = xval_text(v, tmp, &len, w->o.datefmt);
        return wt_json_str(w, s, len, err);
    }
}

enum err_code wr_text_open(const char *path, const struct wr_opts *o, const struct wr_cols *cols,
                           struct wr_text **out, struct err *err)
{
    enum err_code rc = E_OK;
    struct wr_text *w = calloc(1, sizeof(*w));
    if (!w)
        return err_set(err, E_NOMEM, "out of memory");
    w->fd = -1;
    w->o = *o;
    w->cols = *cols;
    w->buf = malloc(WR_TEXT_BUF);
    w->path = strdup(path);
    w->keys = calloc(cols->n + 1, sizeof(*w->keys));
    w->keylen = calloc(cols->n + 1, sizeof(*w->keylen));
    if (!w->buf || !w->path || !w->keys || !w->keylen) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = err_sys(err, E_IO, "cannot create the output file");
        goto out;
    }
    if (o->format == WR_CSV) {
        if (o->header) {
            for (size_t i = 0; i < cols->n; i++) {
                const char *nm = cols->names[i];
                size_t n = strlen(nm);
                if ((i && (rc = wt_putc(w, o->delimiter, err))) ||
                    (rc = wt_csv_field(w, nm, n, o->neutralise && wr_is_formula(nm, n), err)))
                    goto out;
            }
            if ((rc = wt_put(w, "\r\n", 2, err)))
                goto out;
        }
    } else {
        /* Pre-escape the keys: "name": */
        size_t save_total = w->total;
        for (size_t i = 0; i < cols->n; i++) {
            if (strlen(cols->names[i]) > WR_TEXT_BUF / 8) {
                rc = err_set(err, E_LIMIT, "column name %zu is longer than %d bytes", i + 1,
                             WR_TEXT_BUF / 8);
                goto out;
            }
            size_t mark = w->len;
            if ((rc = wt_json_str(w, cols->names[i], strlen(cols->names[i]), err)) ||
                (rc = wt_putc(w, ':', err)))
                goto out;
            size_t kl = w->len - mark;
            w->keys[i] = malloc(kl);
            if (!w->keys[i]) {
                rc = err_set(err, E_NOMEM, "out of memory");
                goto out;
            }
            memcpy(w->keys[i], w->buf + mark, kl);
            w->keylen[i] = kl;
            w->len = mark;
        }
        w->total = save_total;
        if (o->format == WR_JSON && (rc = wt_putc(w, '[', err)))
            goto out;
    }
    *out = w;
    w = NULL;
out:
    wr_text_free(w);
    return rc;
}

enum err_code wr_text_row(struct wr_text *w, const struct xval *row, struct err *err)
{
    enum err_code rc;
    char tmp[XVAL_TEXT_MAX];
    if (w->o.format == WR_CSV) {
        for (size_t i = 0; i < w->cols.n; i++) {
            const struct xval *v = &row[i];
            if (i && (rc = wt_putc(w, w->o.delimiter, err)))
                return rc;
            if (v->t == XT_NULL)
                continue;
            size_t len;
            const char *s = xval_text(v, tmp, &len, w->o.datefmt);
            bool neut = w->o.neutralise && v->t == XT_STRING && wr_is_formula(s, len);
            if ((rc = wt_csv_field(w, s, len, neut, err)))
                return rc;
        }
        w->rows++;
        return wt_put(w, "\r\n", 2, err);
    }
    if (w->o.format == WR_JSON && (rc = wt_put(w, w->rows ? ",\n" : "\n", w->rows ? 2 : 1, err)))
        return rc;
    if ((rc = wt_putc(w, '{', err)))
        return rc;
    for (size_t i = 0; i < w->cols.n; i++) {
        if ((i && (rc = wt_putc(w, ',', err))) || (rc = wt_put(w, w->keys[i], w->keylen[i], err)) ||
            (rc = wt_json_val(w, &row[i], err)))
            return rc;
    }
    if ((rc = wt_putc(w, '}', err)))
        return rc;
    w->rows++;
    if (w->o.format == WR_JSONL)
        return wt_putc(w, '\n', err);
    return E_OK;
}

enum err_code wr_text_finish(struct wr_text *w, size_t *bytes, struct err *err)
{
    enum err_code rc;
    if (w->o.format == WR_JSON && (rc = wt_put(w, w->rows ? "\n]\n" : "]\n", w->rows ? 3 : 2, err)))
        return rc;
    if ((rc = wt_flush(w, err)))
        return rc;
    int fd = w->fd;
    w->fd = -1;
    if (close(fd))
        return err_sys(err, E_IO, "cannot write the output file");
    w->finished = true;
    *bytes = w->total;
    return E_OK;
}

void wr_text_free(struct wr_text *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (!w->finished && w->path)
        unlink(w->path);
    if (w->keys)
        for (size_t i = 0; i < w->cols.n; i++)
            free(w->keys[i]);
    free(w->keys);
    free(w->keylen);
    free(w->buf);
    free(w->path);
    free(w);
}
