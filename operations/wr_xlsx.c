#include "wr_xlsx.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "klimits.h"

#include "banned.h"

struct wr_xlsx {
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *bold, *datef, *dtf;
    char *path;
    struct wr_opts o;
    struct wr_cols cols;
    size_t rows; /* data rows written */
    double *width;
    char *tmp; /* NUL-terminated copy of a string cell */
    bool finished;
};

static double wx_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return (double)k;
}

/* Copy (s,n) as a C string, cut at a character boundary at Excel's cap,
 * with a leading quote when neutralised. */
static const char *wx_cstr(struct wr_xlsx *w, const char *s, size_t n, bool neut)
{
    size_t max = (size_t)LIM_TRANSFORM_XLSX_CELL_BYTES - (neut ? 1 : 0);
    if (n > max) {
        n = max;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    size_t o = 0;
    if (neut)
        w->tmp[o++] = '\'';
    for (size_t i = 0; i < n; i++)
        w->tmp[o++] = s[i] ? s[i] : ' ';
    w->tmp[o] = '\0';
    return w->tmp;
}

static enum err_code wx_check(lxw_error e, struct err *err)
{
    if (e == LXW_NO_ERROR)
        return E_OK;
    return err_set(err, E_IO, "cannot write the XLSX output: %s", lxw_strerror(e));
}

enum err_code wr_xlsx_open(const char *path, const struct wr_opts *o, const struct wr_cols *cols,
                           struct wr_xlsx **out, struct err *err)
{
    enum err_code rc = E_OK;
    if (cols->n > (size_t)LIM_XLSX_MAX_COLS)
        return err_set(err, E_LIMIT, "xlsx output holds at most %ld columns, the result has %zu",
                       (long)LIM_XLSX_MAX_COLS, cols->n);
    struct wr_xlsx *w = calloc(1, sizeof(*w));
    if (!w)
        return err_set(err, E_NOMEM, "out of memory");
    w->o = *o;
    w->cols = *cols;
    w->path = strdup(path);
    w->width = calloc(cols->n + 1, sizeof(*w->width));
    w->tmp = malloc((size_t)LIM_TRANSFORM_XLSX_CELL_BYTES + 2);
    if (!w->path || !w->width || !w->tmp) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    char *tmpdir = strdup(path);
    if (!tmpdir) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    char *slash = strrchr(tmpdir, '/');
    if (slash)
        *slash = '\0';
    lxw_workbook_options wo = {
        .constant_memory = LXW_TRUE, .tmpdir = slash ? tmpdir : NULL, .use_zip64 = LXW_FALSE};
    w->wb = workbook_new_opt(path, &wo);
    free(tmpdir);
    if (!w->wb) {
        rc = err_set(err, E_IO, "cannot create the XLSX output");
        goto out;
    }
    w->ws = workbook_add_worksheet(w->wb, "Result");
    w->bold = workbook_add_format(w->wb);
    w->datef = workbook_add_format(w->wb);
    w->dtf = workbook_add_format(w->wb);
    if (!w->ws || !w->bold || !w->datef || !w->dtf) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    format_set_bold(w->bold);
    format_set_num_format(w->datef, "yyyy-mm-dd");
    format_set_num_format(w->dtf, "yyyy-mm-dd hh:mm:ss");
    for (size_t i = 0; i < cols->n; i++) {
        const char *nm = cols->names[i];
        size_t n = strlen(nm);
        bool neut = o->neutralise && wr_is_formula(nm, n);
        w->width[i] = wx_len(nm, n) + (neut ? 1 : 0);
        if ((rc = wx_check(
                 worksheet_write_string(w->ws, 0, (lxw_col_t)i, wx_cstr(w, nm, n, neut), w->bold),
                 err)))
            goto out;
    }
    worksheet_freeze_panes(w->ws, 1, 0);
    *out = w;
    w = NULL;
out:
    wr_xlsx_free(w);
    return rc;
}

enum err_code wr_xlsx_row(struct wr_xlsx *w, const struct xval *row, struct err *err)
{
    enum err_code rc;
    if (w->rows + 1 >= (size_t)LIM_XLSX_MAX_ROWS)
        return err_set(err, E_LIMIT, "xlsx output holds at most %ld rows; use csv or jsonl",
                       (long)LIM_XLSX_MAX_ROWS - 1);
    lxw_row_t r = (lxw_row_t)(w->rows + 1);
    bool sample = w->rows < (size_t)LIM_TRANSFORM_XLSX_WIDTH_ROWS;
    for (size_t i = 0; i < w->cols.n; i++) {
        const struct xval *v = &row[i];
        lxw_col_t c = (lxw_col_t)i;
        lxw_error e = LXW_NO_ERROR;
        double len = 0;
        switch ((enum xtype)v->t) {
        case XT_NULL:
            continue;
        case XT_INT:
            e = worksheet_write_number(w->ws, r, c, (double)v->u.i, NULL);
            len = 8;
            break;
        case XT_FLOAT:
            if (v->u.f != v->u.f || v->u.f - v->u.f != 0)
                continue; /* Excel has no NaN or infinity */
            e = worksheet_write_number(w->ws, r, c, v->u.f, NULL);
            len = 10;
            break;
        case XT_BOOL:
            e = worksheet_write_boolean(w->ws, r, c, (int)v->u.i, NULL);
            len = 5;
            break;
        case XT_DATE:
            e = worksheet_write_number(w->ws, r, c, (double)v->u.i + 25569.0, w->datef);
            len = 10;
            break;
        case XT_DATETIME:
            e = worksheet_write_number(w->ws, r, c, v->u.f / 86400.0 + 25569.0, w->dtf);
            len = 19;
            break;
        case XT_STRING: {
            bool neut = w->o.neutralise && wr_is_formula(v->u.s, v->len);
            e = worksheet_write_string(w->ws, r, c, wx_cstr(w, v->u.s, v->len, neut), NULL);
            if (sample)
                len = wx_len(v->u.s, v->len) + (neut ? 1 : 0);
            break;
        }
        }
        if ((rc = wx_check(e, err)))
            return rc;
        if (sample && len > w->width[i])
            w->width[i] = len;
    }
    w->rows++;
    return E_OK;
}

enum err_code wr_xlsx_finish(struct wr_xlsx *w, size_t *bytes, struct err *err)
{
    for (size_t i = 0; i < w->cols.n; i++) {
        double wd = w->width[i] + 2;
        wd = wd < 8 ? 8 : wd > 60 ? 60 : wd;
        worksheet_set_column(w->ws, (lxw_col_t)i, (lxw_col_t)i, wd, NULL);
    }
    if (w->cols.n)
        worksheet_autofilter(w->ws, 0, 0, (lxw_row_t)w->rows, (lxw_col_t)(w->cols.n - 1));
    lxw_error e = workbook_close(w->wb);
    w->wb = NULL;
    if (e != LXW_NO_ERROR)
        return err_set(err, E_IO, "cannot write the XLSX output: %s", lxw_strerror(e));
    struct stat sb;
    if (stat(w->path, &sb))
        return err_sys(err, E_IO, "cannot stat the XLSX output");
    w->finished = true;
    if (w->o.max_bytes && (size_t)sb.st_size > w->o.max_bytes) {
        w->finished = false;
        return err_set(err, E_OUTPUT_LIMIT, "output file is larger than the %zu byte limit",
                       w->o.max_bytes);
    }
    *bytes = (size_t)sb.st_size;
    return E_OK;
}

void wr_xlsx_free(struct wr_xlsx *w)
{
    if (!w)
        return;
    if (w->wb) {
        workbook_close(w->wb);
        w->wb = NULL;
    }
    if (!w->finished && w->path)
        unlink(w->path);
    free(w->width);
    free(w->tmp);
    free(w->path);
    free(w);
}
