#include "op_parse_excel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "klimits.h"
#include "rd_xlsx.h"

#include "banned.h"

#define PX_WBUF (1 << 16)

enum px_format { PX_CSV, PX_JSON, PX_JSONL };

/* A counting, buffered output file. */
struct px_out {
    int fd;
    size_t n;
    uint64_t *total; /* all files of the run */
    uint64_t max;
    const char *sheet;
    bool over;
    char buf[PX_WBUF];
};

static enum err_code px_flush(struct px_out *o, struct err *err)
{
    size_t off = 0;
    while (off < o->n) {
        ssize_t w = write(o->fd, o->buf + off, o->n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(err, E_IO, "cannot write the output of sheet '%s'", o->sheet);
        }
        off += (size_t)w;
    }
    o->n = 0;
    return E_OK;
}

static enum err_code px_write(struct px_out *o, const void *p, size_t len, struct err *err)
{
    *o->total += len;
    if (*o->total > o->max)
        return err_set(err, E_OUTPUT_LIMIT, "output files exceed %llu bytes; select fewer sheets",
                       (unsigned long long)o->max);
    if (len > PX_WBUF - o->n) {
        enum err_code rc = px_flush(o, err);
        if (rc)
            return rc;
        if (len > PX_WBUF) {
            const char *c = p;
            while (len) {
                ssize_t w = write(o->fd, c, len);
                if (w < 0) {
                    if (errno == EINTR)
                        continue;
                    return err_sys(err, E_IO, "cannot write the output of sheet '%s'", o->sheet);
                }
                c += w;
                len -= (size_t)w;
            }
            return E_OK;
        }
    }
    memcpy(o->buf + o->n, p, len);
    o->n += len;
    return E_OK;
}

static enum err_code px_csv_field(struct px_out *o, const char *s, size_t len, struct err *err)
{
    enum err_code rc;
    bool q = false;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
            q = true;
            break;
        }
    if (!q)
        return px_write(o, s, len, err);
    if ((rc = px_write(o, "\"", 1, err)))
        return rc;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            if ((rc = px_write(o, s + start, i + 1 - start, err)) ||
                (rc = px_write(o, "\"", 1, err)))
                return rc;
            start = i + 1;
        }
    }
    if ((rc = px_write(o, s + start, len - start, err)))
        return rc;
    return px_write(o, "\"", 1, err);
}

static enum err_code px_json_str(struct px_out *o, const char *s, size_t len, struct err *err)
{
    enum err_code rc;
    static const char hex[] = "0123456789abcdef";
    if ((rc = px_write(o, "\"", 1, err)))
        return rc;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((rc = px_write(o, s + start, i - start, err)))
            return rc;
        char e[8] = {'\\', (char)c, 0};
        size_t n = 2;
        if (c == '\n')
            e[1] = 'n';
        else if (c == '\r')
            e[1] = 'r';
        else if (c == '\t')
            e[1] = 't';
        else if (c < 0x20) {
            e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
            n = 6;
        }
        if ((rc = px_write(o, e, n, err)))
            return rc;
        start = i + 1;
    }
    if ((rc = px_write(o, s + start, len - start, err)))
        return rc;
    return px_write(o, "\"", 1, err);
}

/* The text of a cell as CSV shows it (into tmp for numbers). */
static const char *px_cell_text(const struct xlsx_cell *c, char *tmp, size_t cap, size_t *len)
{
    switch (c->type) {
    case XLSX_NUMBER:
        if (c->str) {
            *len = c->len;
            return c->str;
        }
        *len = xlsx_num_fmt(c->num, tmp, cap);
        return tmp;
    case XLSX_BOOL:
        *len = c->num != 0 ? 4 : 5;
        return c->num != 0 ? "TRUE" : "FALSE";
    case XLSX_EMPTY:
        *len = 0;
        return "";
    default:
        *len = c->len;
        return c->str;
    }
}

static json_t *px_cell_json(const struct xlsx_cell *c)
{
    switch (c->type) {
    case XLSX_NUMBER:
        if (c->num > -9e15 && c->num < 9e15 && c->num == (double)(long long)c->num)
            return json_integer((json_int_t)c->num);
        return json_real(c->num);
    case XLSX_BOOL:
        return json_boolean(c->num != 0);
    case XLSX_EMPTY:
        return json_null();
    default: {
        size_t n = c->len;
        if (n > LIM_XLSX_PREVIEW_CELL_BYTES) {
            n = LIM_XLSX_PREVIEW_CELL_BYTES;
            while (n && ((unsigned char)c->str[n] & 0xC0) == 0x80)
                n--;
        }
        return json_stringn(c->str, n);
    }
    }
}

/* ---- per-sheet state ---- */

struct px_sheet {
    enum px_format fmt;
    bool header;
    struct px_out *o;
    struct buf widths; /* uint16_t per CSV record written */
    bool need_fix;
    size_t columns;
    long first_row, last_row;
    size_t records; /* records written, the header included */
    size_t data_rows;
    json_t *hdr; /* raw header texts */
    char **keys; /* JSON keys per column (header mode) */
    size_t nkeys;
    json_t *preview;
    bool first_obj;
};

static void px_sheet_release(struct px_sheet *p)
{
    buf_release(&p->widths);
    json_decref(p->hdr);
    json_decref(p->preview);
    for (size_t i = 0; i < p->nkeys; i++)
        free(p->keys[i]);
    free(p->keys);
}

/* JSON key of column col: the header text, made unique pandas-style, else the letters. */
static enum err_code px_keys_from_header(struct px_sheet *p, const struct xlsx_row *r,
                                         struct err *err)
{
    size_t n = r->ncells ? r->cells[r->ncells - 1].col + 1 : 0;
    char tmp[64];
    enum err_code rc = E_OK;
    json_t *seen = json_object(); /* keys taken so far */
    p->keys = calloc(n ? n : 1, sizeof *p->keys);
    if (!p->keys || !seen) {
        json_decref(seen);
        return err_set(err, E_NOMEM, "out of memory");
    }
    p->nkeys = n;
    size_t j = 0;
    for (size_t col = 0; col < n; col++) {
        const char *s = "";
        size_t len = 0;
        if (j < r->ncells && r->cells[j].col == col)
            s = px_cell_text(&r->cells[j++], tmp, sizeof tmp, &len);
        char *k = len ? strndup(s, len) : NULL;
        if (!len) {
            char nm[16];
            xlsx_col_name((uint32_t)col, nm, sizeof nm);
            k = strdup(nm);
        }
        if (!k) {
            rc = err_set(err, E_NOMEM, "out of memory");
            break;
        }
        json_t *cnt = json_object_get(seen, k);
        if (cnt) {
            /* taken: try base.N from the base's own counter on (pandas' naming) */
            json_int_t dup = json_integer_value(cnt);
            char *base = k, *nk = NULL;
            for (;; dup++) {
                free(nk);
                if (asprintf(&nk, "%s.%lld", base, (long long)dup) < 0) {
                    nk = NULL;
                    break;
                }
                if (!json_object_get(seen, nk))
                    break;
            }
            json_object_set_new(seen, base, json_integer(dup + 1));
            free(base);
            k = nk;
        }
        if (!k || json_object_set_new(seen, k, json_integer(1))) {
            free(k);
            rc = err_set(err, E_NOMEM, "out of memory");
            break;
        }
        p->keys[col] = k;
    }
    json_decref(seen);
    return rc;
}

static enum err_code px_json_key(struct px_sheet *p, size_t col, bool *first, struct err *err)
{
    enum err_code rc;
    char nm[16];
    const char *k = nm;
    if (p->header && col < p->nkeys)
        k = p->keys[col];
    else
        xlsx_col_name((uint32_t)col, nm, sizeof nm);
    if (!*first && (rc = px_write(p->o, ",", 1, err)))
        return rc;
    *first = false;
    if ((rc = px_json_str(p->o, k, strlen(k), err)))
        return rc;
    return px_write(p->o, ":", 1, err);
}

/* One JSON object for row r (NULL: a blank row). */
static enum err_code px_json_row(struct px_sheet *p, const struct xlsx_row *r, struct err *err)
{
    enum err_code rc;
    char tmp[64];
    bool first = true;
    if (p->fmt == PX_JSON) {
        if ((rc = px_write(p->o, p->first_obj ? "[\n" : ",\n", 2, err)))
            return rc;
        p->first_obj = false;
    }
    if ((rc = px_write(p->o, "{", 1, err)))
        return rc;
    size_t j = 0, ncells = r ? r->ncells : 0;
    size_t upto = p->header ? p->nkeys : 0;
    for (size_t col = 0; col < upto || j < ncells;) {
        const struct xlsx_cell *c = j < ncells && r->cells[j].col == col ? &r->cells[j] : NULL;
        if (c)
            j++;
        if (c || col < upto) {
            if ((rc = px_json_key(p, col, &first, err)))
                return rc;
            size_t len;
            const char *s;
            if (!c)
                rc = px_write(p->o, "null", 4, err);
            else if (c->type == XLSX_NUMBER || c->type == XLSX_BOOL) {
                s = px_cell_text(c, tmp, sizeof tmp, &len);
                if (c->type == XLSX_BOOL)
                    s = c->num != 0 ? "true" : "false", len = c->num != 0 ? 4 : 5;
                rc = px_write(p->o, s, len, err);
            } else {
                rc = px_json_str(p->o, c->str, c->len, err);
            }
            if (rc)
                return rc;
        }
        /* jump to the next column of interest */
        size_t next = col + 1;
        if (next >= upto && j < ncells && r->cells[j].col > next)
            next = r->cells[j].col;
        col = next;
    }
    return p->fmt == PX_JSONL ? px_write(p->o, "}\n", 2, err) : px_write(p->o, "}", 1, err);
}

static enum err_code px_csv_row(struct px_sheet *p, const struct xlsx_row *r, struct err *err)
{
    enum err_code rc;
    char tmp[64];
    uint32_t col = 0;
    for (size_t j = 0; j < r->ncells; j++) {
        const struct xlsx_cell *c = &r->cells[j];
        for (; col < c->col; col++)
            if ((rc = px_write(p->o, ",", 1, err)))
                return rc;
        size_t len;
        const char *s = px_cell_text(c, tmp, sizeof tmp, &len);
        if ((rc = px_csv_field(p->o, s, len, err)))
            return rc;
    }
    return px_write(p->o, "\n", 1, err);
}

static enum err_code px_record(struct px_sheet *p, const struct xlsx_row *r, struct err *err)
{
    enum err_code rc;
    uint16_t w = r ? (uint16_t)(r->cells[r->ncells - 1].col + 1) : 0;
    if (p->fmt == PX_CSV) {
        rc = r ? px_csv_row(p, r, err) : px_write(p->o, "\n", 1, err);
        if (rc)
            return rc;
        if ((rc = buf_append(&p->widths, &w, sizeof w, err)))
            return rc;
    } else if (!(p->header && p->records == 0)) {
        if ((rc = px_json_row(p, r, err)))
            return rc;
    }
    if (w > p->columns)
        p->columns = w;
    p->records++;
    return E_OK;
}

/* Pad short CSV records with empty fields up to p->columns (rewrites the file). */
static enum err_code px_csv_fix(struct px_sheet *p, const char *dir, const char *fname,
                                uint64_t *total, uint64_t max, const char *sheet, struct err *err)
{
    enum err_code rc = E_OK;
    char src[4096], dst[4096];
    FILE *in = NULL;
    struct px_out *o = NULL;
    uint64_t dummy_total = *total;
    size_t nrec = p->widths.len / sizeof(uint16_t);

    if (snprintf(src, sizeof src, "%s/%s", dir, fname) >= (int)sizeof src ||
        snprintf(dst, sizeof dst, "%s/.%s.tmp", dir, fname) >= (int)sizeof dst)
        return err_set(err, E_INVALID, "output path too long");
    o = malloc(sizeof *o);
    if (!o)
        return err_set(err, E_NOMEM, "out of memory");
    o->n = 0;
    o->total = &dummy_total;
    o->max = max;
    o->sheet = sheet;
    o->fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        rc = err_sys(err, E_IO, "cannot create '%s'", dst);
        goto out;
    }
    in = fopen(src, "rb");
    if (!in) {
        rc = err_sys(err, E_IO, "cannot open '%s'", src);
        goto out;
    }
    bool inq = false;
    size_t rec = 0;
    char chunk[PX_WBUF];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, in)) > 0) {
        size_t start = 0;
        for (size_t i = 0; i < got; i++) {
            if (chunk[i] == '"') {
                inq = !inq;
            } else if (chunk[i] == '\n' && !inq) {
                if ((rc = px_write(o, chunk + start, i - start, err)))
                    goto out;
                uint16_t w = 0;
                if (rec < nrec)
                    memcpy(&w, p->widths.data + rec * sizeof w, sizeof w);
                rec++;
                if (p->columns == 1 && w == 0) {
                    if ((rc = px_write(o, "\"\"", 2, err)))
                        goto out;
                } else {
                    for (size_t k = w ? w : 1; k < p->columns; k++)
                        if ((rc = px_write(o, ",", 1, err)))
                            goto out;
                }
                if ((rc = px_write(o, "\n", 1, err)))
                    goto out;
                start = i + 1;
            }
        }
        if ((rc = px_write(o, chunk + start, got - start, err)))
            goto out;
    }
    if (ferror(in)) {
        rc = err_sys(err, E_IO, "cannot read '%s'", src);
        goto out;
    }
    if ((rc = px_flush(o, err)))
        goto out;
    if (rename(dst, src) < 0) {
        rc = err_sys(err, E_IO, "cannot rename '%s'", dst);
        goto out;
    }
    /* the rewrite replaces the first version: count the difference only */
    *total = dummy_total;
out:
    if (in)
        fclose(in);
    if (o) {
        if (o->fd >= 0)
            close(o->fd);
        if (rc)
            unlink(dst);
        free(o);
    }
    return rc;
}

/* ---- options and naming ---- */

static const char *px_vis_name(enum xlsx_visibility v)
{
    return v == XLSX_HIDDEN ? "hidden" : v == XLSX_VERY_HIDDEN ? "veryHidden" : "visible";
}

static enum err_code px_bad_sheet(struct xlsx *x, const char *what, struct err *err)
{
    struct buf b;
    buf_init(&b, 2000);
    for (size_t i = 0; i < xlsx_sheet_count(x); i++)
        if (buf_printf(&b, NULL, "%s'%s'", i ? ", " : "", xlsx_sheet_info(x, i)->name))
            break;
    enum err_code rc = err_set(err, E_INVALID, "unknown sheet %s; the workbook has: %s", what,
                               b.data ? b.data : "(no sheets)");
    buf_release(&b);
    return rc;
}

static enum err_code px_select(struct xlsx *x, json_t *opt, bool include_hidden, bool *sel,
                               struct err *err)
{
    size_t n = xlsx_sheet_count(x);
    if (!opt || json_is_null(opt)) {
        for (size_t i = 0; i < n; i++)
            sel[i] = include_hidden || xlsx_sheet_info(x, i)->visibility == XLSX_VISIBLE;
        return E_OK;
    }
    json_t *arr = opt;
    bool single = !json_is_array(opt);
    size_t cnt = single ? 1 : json_array_size(opt);
    for (size_t k = 0; k < cnt; k++) {
        json_t *v = single ? arr : json_array_get(arr, k);
        if (json_is_integer(v)) {
            json_int_t i = json_integer_value(v);
            if (i < 0 || (size_t)i >= n) {
                char what[64];
                snprintf(what, sizeof what, "index %lld", (long long)i);
                return px_bad_sheet(x, what, err);
            }
            sel[i] = true;
        } else if (json_is_string(v)) {
            const char *name = json_string_value(v);
            size_t i;
            for (i = 0; i < n; i++)
                if (!strcmp(xlsx_sheet_info(x, i)->name, name))
                    break;
            if (i == n)
                for (i = 0; i < n; i++) /* Excel's sheet names are case-insensitive */
                    if (!strcasecmp(xlsx_sheet_info(x, i)->name, name))
                        break;
            /* Digits no sheet is named: an index, as written on a command
             * line ('--sheets 0'; a sheet named '2024' is found by name). */
            size_t dl = strspn(name, "0123456789");
            if (i == n && dl > 0 && dl <= 6 && !name[dl]) {
                size_t idx = (size_t)strtoul(name, NULL, 10);
                i = idx < n ? idx : n;
            }
            if (i == n) {
                char what[300];
                snprintf(what, sizeof what, "'%.250s'", name);
                return px_bad_sheet(x, what, err);
            }
            sel[i] = true;
        } else {
            return err_set(err, E_INVALID,
                           "option 'sheets' must be a list of sheet names or 0-based indexes");
        }
    }
    return E_OK;
}

/* A file name for sheet name: no '/', '\\', control or shell-hostile characters; unique. */
static enum err_code px_file_name(const char *sheet, const char *ext, json_t *used, char *out,
                                  size_t cap, struct err *err)
{
    char base[160];
    size_t cut = strlen(sheet), n = 0;
    if (cut > 120) {
        cut = 120;
        while (cut && ((unsigned char)sheet[cut] & 0xC0) == 0x80)
            cut--; /* do not cut a UTF-8 sequence */
    }
    if (!cut || sheet[0] == '.')
        base[n++] = cut ? '_' : 's';
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)sheet[i];
        if (c < 0x20 || c == 0x7F || strchr("/\\:*?\"<>|", c))
            c = '_';
        base[n++] = (char)c;
    }
    if (!cut) {
        memcpy(base + n, "heet", 4);
        n += 4;
    }
    base[n] = '\0';
    for (unsigned k = 1; k < 100000; k++) {
        int w = k == 1 ? snprintf(out, cap, "%s.%s", base, ext)
                       : snprintf(out, cap, "%s_%u.%s", base, k, ext);
        if (w < 0 || (size_t)w >= cap)
            return err_set(err, E_INTERNAL, "file name too long");
        char low[256];
        size_t i;
        for (i = 0; out[i] && i + 1 < sizeof low; i++)
            low[i] = (char)((out[i] >= 'A' && out[i] <= 'Z') ? out[i] | 0x20 : out[i]);
        low[i] = '\0';
        if (!json_object_get(used, low)) {
            json_object_set_new(used, low, json_true());
            return E_OK;
        }
    }
    return err_set(err, E_INTERNAL, "cannot name the output of sheet '%s'", sheet);
}

/* ---- one sheet ---- */

static enum err_code px_do_sheet(struct xlsx *x, size_t si, const struct op_ctx *ctx,
                                 enum px_format fmt, bool header, json_t *used, uint64_t *total,
                                 size_t *files, json_t **entry, struct err *err)
{
    enum err_code rc;
    const struct xlsx_sheet_info *info = xlsx_sheet_info(x, si);
    struct xlsx_sheet *sh = NULL;
    struct px_sheet p = {0};
    struct px_out *o = NULL;
    json_t *e = NULL, *notes = NULL;
    char fname[300] = "", path[4096];
    const struct xlsx_row *r;
    uint64_t max = ctx->max_output_bytes ? ctx->max_output_bytes : LIM_OUTPUT_BYTES_DEFAULT;

    buf_init(&p.widths, (size_t)(LIM_XLSX_MAX_ROWS + 1) * sizeof(uint16_t));
    p.fmt = fmt;
    p.header = header;
    p.first_obj = true;
    p.preview = json_array();
    if (!p.preview) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = xlsx_sheet_open(x, si, &sh, err)))
        goto out;
    for (;;) {
        if ((rc = xlsx_sheet_next(sh, &r, err)))
            goto out;
        if (!r)
            break;
        if (!o) {
            /* first row with a value: create the file */
            const char *ext = fmt == PX_CSV ? "csv" : fmt == PX_JSON ? "json" : "jsonl";
            if (++*files > LIM_ACTION_OUTPUT_FILES) {
                rc = err_set(err, E_OUTPUT_LIMIT,
                             "more than %d sheets with data; select sheets with the 'sheets' "
                             "option",
                             LIM_ACTION_OUTPUT_FILES);
                goto out;
            }
            if ((rc = px_file_name(info->name, ext, used, fname, sizeof fname, err)))
                goto out;
            if (snprintf(path, sizeof path, "%s/%s", ctx->out_dir, fname) >= (int)sizeof path) {
                rc = err_set(err, E_INVALID, "output path too long");
                goto out;
            }
            o = malloc(sizeof *o);
            if (!o) {
                rc = err_set(err, E_NOMEM, "out of memory");
                goto out;
            }
            o->n = 0;
            o->total = total;
            o->max = max;
            o->sheet = info->name;
            o->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (o->fd < 0) {
                rc = err_sys(err, E_IO, "cannot create '%s'", fname);
                goto out;
            }
            p.o = o;
            p.first_row = r->index;
            p.last_row = (long)r->index - 1;
        }
        /* blank rows in between */
        for (long k = p.last_row + 1; k < (long)r->index; k++) {
            if ((rc = px_record(&p, NULL, err)))
                goto out;
            if ((!header || p.records > 1) && json_array_size(p.preview) < LIM_XLSX_PREVIEW_ROWS)
                json_array_append_new(p.preview, json_array());
            if (p.fmt == PX_CSV && p.columns > 0)
                p.need_fix = true;
        }
        if ((long)r->index > p.last_row)
            p.last_row = r->index;
        bool is_header = header && p.records == 0;
        if (is_header) {
            char tmp[64];
            p.hdr = json_array();
            if (!p.hdr) {
                rc = err_set(err, E_NOMEM, "out of memory");
                goto out;
            }
            size_t j = 0, w = r->cells[r->ncells - 1].col + 1;
            for (size_t col = 0; col < w; col++) {
                size_t len = 0;
                const char *s = "";
                if (j < r->ncells && r->cells[j].col == col)
                    s = px_cell_text(&r->cells[j++], tmp, sizeof tmp, &len);
                json_array_append_new(p.hdr, json_stringn(s, len));
            }
            if ((rc = px_keys_from_header(&p, r, err)))
                goto out;
        } else if (json_array_size(p.preview) < LIM_XLSX_PREVIEW_ROWS) {
            json_t *a = json_array();
            size_t j = 0, w = r->cells[r->ncells - 1].col + 1;
            for (size_t col = 0; a && col < w; col++) {
                if (j < r->ncells && r->cells[j].col == col)
                    json_array_append_new(a, px_cell_json(&r->cells[j++]));
                else
                    json_array_append_new(a, json_null());
            }
            if (!a || json_array_append_new(p.preview, a)) {
                rc = err_set(err, E_NOMEM, "out of memory");
                goto out;
            }
        }
        size_t before = p.columns;
        size_t w = r->cells[r->ncells - 1].col + 1;
        if ((rc = px_record(&p, r, err)))
            goto out;
        if (w != before && p.records > 1)
            p.need_fix = true; /* ragged: some records are narrower than the widest */
    }
    if (o) {
        if (fmt == PX_JSON && (rc = px_write(o, p.first_obj ? "[]\n" : "\n]\n", 3, err)))
            goto out;
        if ((rc = px_flush(o, err)))
            goto out;
        close(o->fd);
        o->fd = -1;
        if (fmt == PX_CSV && p.need_fix &&
            (rc = px_csv_fix(&p, ctx->out_dir, fname, total, max, info->name, err)))
            goto out;
    }
    p.data_rows = p.records - (header && p.records ? 1 : 0);

    /* the summary */
    const struct xlsx_sheet_stats *st = xlsx_sheet_stats(sh);
    notes = json_object();
    json_t *merged = json_array();
    e = json_object();
    if (!notes || !merged || !e) {
        json_decref(merged);
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    const char *m = st->merged;
    for (size_t i = 0; i < st->merged_listed; i++) {
        json_array_append_new(merged, json_string(m));
        m += strlen(m) + 1;
    }
    json_object_set_new(notes, "merged", merged);
    if (st->merged_count > st->merged_listed)
        json_object_set_new(notes, "mergedCount", json_integer((json_int_t)st->merged_count));
    json_object_set_new(notes, "formulasWithoutValue",
                        json_integer((json_int_t)st->formulas_without_value));
    if (p.records)
        json_object_set_new(notes, "firstRow", json_integer(p.first_row));
    if (st->dimension[0])
        json_object_set_new(notes, "dimension", json_string(st->dimension));
    if (info->chartsheet)
        json_object_set_new(notes, "chartsheet", json_true());
    else if (!info->part)
        json_object_set_new(notes, "missingPart", json_true());
    /* pad the preview to the width of the table */
    for (size_t i = 0; i < json_array_size(p.preview); i++) {
        json_t *a = json_array_get(p.preview, i);
        while (json_array_size(a) < p.columns)
            json_array_append_new(a, json_null());
    }
    if (p.hdr)
        while (json_array_size(p.hdr) < p.columns)
            json_array_append_new(p.hdr, json_string(""));
    json_object_set_new(e, "name", json_string(info->name));
    json_object_set_new(e, "index", json_integer((json_int_t)si));
    json_object_set_new(e, "visibility", json_string(px_vis_name(info->visibility)));
    json_object_set_new(e, "hidden", json_boolean(info->visibility != XLSX_VISIBLE));
    json_object_set_new(e, "rows", json_integer((json_int_t)p.data_rows));
    json_object_set_new(e, "columns", json_integer((json_int_t)p.columns));
    json_object_set_new(e, "header", p.hdr ? p.hdr : json_array());
    p.hdr = NULL;
    json_object_set_new(e, "preview", p.preview);
    p.preview = NULL;
    json_object_set_new(e, "file", fname[0] ? json_string(fname) : json_null());
    json_object_set_new(e, "notes", notes);
    notes = NULL;
    *entry = e;
    e = NULL;
    rc = E_OK;
out:
    if (o) {
        if (o->fd >= 0)
            close(o->fd);
        free(o);
    }
    xlsx_sheet_close(sh);
    px_sheet_release(&p);
    json_decref(notes);
    json_decref(e);
    return rc;
}

enum err_code op_parse_excel(const struct op_ctx *ctx, json_t **result, struct err *err)
{
    enum err_code rc;
    struct xlsx *x = NULL;
    bool *sel = NULL;
    json_t *res = NULL, *sheets = NULL, *used = NULL;
    enum px_format fmt = PX_CSV;
    bool header = true, include_hidden = true;
    uint64_t total = 0;
    size_t files = 0;
    json_t *opts = ctx->options, *v;
    const char *key;

    if (opts && !json_is_object(opts))
        return err_set(err, E_INVALID, "options must be an object");
    static const char *const known[] = {"sheets", "format", "header", "includeHidden", NULL};
    const char *sug;
    if (opts && (key = op_unknown_key(opts, known, &sug)))
        return err_set(err, E_INVALID,
                       "unknown option '%.64s' for parse_excel%s%s%s (known: sheets, format, "
                       "header, includeHidden)",
                       key, sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    if (opts) {
        if ((v = json_object_get(opts, "format"))) {
            const char *f = json_string_value(v);
            if (f && !strcmp(f, "csv"))
                fmt = PX_CSV;
            else if (f && !strcmp(f, "json"))
                fmt = PX_JSON;
            else if (f && !strcmp(f, "jsonl"))
                fmt = PX_JSONL;
            else
                return err_set(err, E_INVALID,
                               "option 'format' must be \"csv\", \"json\" or "
                               "\"jsonl\"");
        }
        if ((v = json_object_get(opts, "header"))) {
            if (!json_is_boolean(v))
                return err_set(err, E_INVALID, "option 'header' must be true or false");
            header = json_is_true(v);
        }
        if ((v = json_object_get(opts, "includeHidden"))) {
            if (!json_is_boolean(v))
                return err_set(err, E_INVALID, "option 'includeHidden' must be true or false");
            include_hidden = json_is_true(v);
        }
    }
    if ((rc = xlsx_open(ctx->input->path, &x, err)))
        goto out;
    size_t n = xlsx_sheet_count(x);
    sel = calloc(n ? n : 1, sizeof *sel);
    res = json_object();
    sheets = json_array();
    used = json_object();
    if (!sel || !res || !sheets || !used) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc =
             px_select(x, opts ? json_object_get(opts, "sheets") : NULL, include_hidden, sel, err)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *entry = NULL;
        if (!sel[i])
            continue;
        if ((rc = px_do_sheet(x, i, ctx, fmt, header, used, &total, &files, &entry, err))) {
            err_wrap(err, "sheet '%s'", xlsx_sheet_info(x, i)->name);
            goto out;
        }
        json_array_append_new(sheets, entry);
    }
    json_object_set_new(res, "sheets", sheets);
    sheets = NULL;
    json_object_set_new(res, "dateSystem", json_string(xlsx_date1904(x) ? "1904" : "1900"));
    json_object_set_new(res, "format",
                        json_string(fmt == PX_CSV    ? "csv"
                                    : fmt == PX_JSON ? "json"
                                                     : "jsonl"));
    *result = res;
    res = NULL;
out:
    json_decref(used);
    json_decref(sheets);
    json_decref(res);
    free(sel);
    xlsx_free(x);
    return rc;
}
