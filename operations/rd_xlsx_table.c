/*
 * rd_xlsx_table: the table_src adapter over rd_xlsx, so analyze and transform
 * read .xlsx sheets like any other table (table_open_xlsx in table.h).
 *
 * One sheet is read: options.sheet (a name, matched exactly then ignoring
 * case, or a 0-based index), else the first visible worksheet that has
 * cells. The first row with a value is the header unless options.header is
 * false. The table is as wide as the header row (or, without a header, the
 * first row); cells right of it are dropped and counted in the notes
 * (extraFieldsDropped), as the CSV reader does with long rows. Rows without
 * any value are skipped (blankRows). Dates become TC_DATETIME, errors
 * TC_ERROR, formulas their cached values.
 */
#include "table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "klimits.h"
#include "rd_xlsx.h"

#include "banned.h"

struct xt {
    struct xlsx *book;
    struct xlsx_sheet *sheet;
    bool date1904;
    struct tcell *cells;            /* ncols */
    const struct xlsx_row *pending; /* first data row when there is no header */
    uint32_t last_row;
    size_t blank_rows;
    size_t extra_fields;
    size_t long_rows;
};

/* Seconds since 1970 of an Excel serial, or NaN. */
static double xt_serial_epoch(double serial, bool date1904)
{
    if (isnan(serial))
        return NAN;
    double days = date1904 ? serial + 1462.0 : serial;
    /* 1900 system: serials before 61 are shifted by Excel's phantom 1900-02-29. */
    if (!date1904 && serial < 61)
        days += 1;
    return (days - 25569.0) * 86400.0;
}

static void xt_fill(struct xt *x, size_t ncols, const struct xlsx_row *row)
{
    for (size_t i = 0; i < ncols; i++)
        x->cells[i] = (struct tcell){TC_EMPTY, NULL, 0, 0, false};
    bool long_row = false;
    for (size_t i = 0; i < row->ncells; i++) {
        const struct xlsx_cell *c = &row->cells[i];
        if (c->col >= ncols) {
            x->extra_fields++;
            long_row = true;
            continue;
        }
        struct tcell *t = &x->cells[c->col];
        t->s = c->str;
        t->len = c->str ? c->len : 0;
        switch (c->type) {
        case XLSX_EMPTY:
            t->type = TC_EMPTY;
            break;
        case XLSX_STRING:
            t->type = c->len ? TC_STRING : TC_EMPTY;
            break;
        case XLSX_NUMBER:
            t->type = TC_NUMBER;
            t->num = c->num;
            break;
        case XLSX_BOOL:
            t->type = TC_BOOL;
            t->num = c->num;
            break;
        case XLSX_ERROR:
            t->type = TC_ERROR;
            break;
        case XLSX_DATE: {
            double secs = xt_serial_epoch(c->num, x->date1904);
            if (isnan(secs)) { /* t="d" cells carry only their ISO text */
                t->type = TC_STRING;
            } else {
                t->type = TC_DATETIME;
                t->num = secs;
                t->date_only = c->len == 10;
            }
            break;
        }
        }
    }
    if (long_row)
        x->long_rows++;
}

static enum err_code xt_next(struct table_src *src, const struct tcell **cells, size_t *ncells,
                             bool *eof, struct err *err)
{
    struct xt *x = src->impl;
    const struct xlsx_row *row = x->pending;
    x->pending = NULL;
    if (!row) {
        enum err_code rc = xlsx_sheet_next(x->sheet, &row, err);
        if (rc)
            return rc;
    }
    if (!row) {
        *eof = true;
        *ncells = 0;
        *cells = NULL;
        json_object_set_new(src->notes, "blankRows", json_integer((json_int_t)x->blank_rows));
        json_object_set_new(src->notes, "longRows", json_integer((json_int_t)x->long_rows));
        json_object_set_new(src->notes, "extraFieldsDropped",
                            json_integer((json_int_t)x->extra_fields));
        return E_OK;
    }
    if (x->last_row && row->index > x->last_row + 1)
        x->blank_rows += row->index - x->last_row - 1;
    x->last_row = row->index;
    xt_fill(x, src->ncols, row);
    *eof = false;
    *cells = x->cells;
    *ncells = src->ncols;
    return E_OK;
}

static void xt_close(struct table_src *src)
{
    struct xt *x = src->impl;
    if (x) {
        xlsx_sheet_close(x->sheet);
        xlsx_free(x->book);
        free(x->cells);
        free(x);
    }
    table_src_free(src);
}

static const struct table_ops xt_ops = {xt_next, xt_close};

/* Which sheet: by options.sheet, else the first visible worksheet with cells. */
static enum err_code xt_pick(struct xlsx *book, json_t *sel, size_t *out, struct err *err)
{
    size_t n = xlsx_sheet_count(book);
    if (sel && json_is_integer(sel)) {
        json_int_t i = json_integer_value(sel);
        if (i < 0 || (size_t)i >= n)
            return err_set(err, E_INVALID,
                           "option 'sheet': index %lld is out of range (the "
                           "workbook has %zu sheets)",
                           (long long)i, n);
        *out = (size_t)i;
        return E_OK;
    }
    if (sel && json_is_string(sel)) {
        const char *want = json_string_value(sel);
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < n; i++) {
                const char *nm = xlsx_sheet_info(book, i)->name;
                if (pass == 0 ? !strcmp(nm, want) : !strcasecmp(nm, want)) {
                    *out = i;
                    return E_OK;
                }
            }
        char names[512] = "";
        size_t off = 0;
        for (size_t i = 0; i < n && off < sizeof(names); i++) {
            int k = snprintf(names + off, sizeof(names) - off, "%s'%s'", i ? ", " : "",
                             xlsx_sheet_info(book, i)->name);
            if (k < 0)
                break;
            off += (size_t)k;
        }
        return err_set(err, E_INVALID, "option 'sheet': no sheet named '%s' (sheets: %s)", want,
                       names);
    }
    if (sel && !json_is_null(sel))
        return err_set(err, E_INVALID, "option 'sheet' must be a sheet name or a 0-based index");
    for (size_t i = 0; i < n; i++) {
        const struct xlsx_sheet_info *si = xlsx_sheet_info(book, i);
        if (si->visibility == XLSX_VISIBLE && si->part && !si->chartsheet) {
            *out = i;
            return E_OK;
        }
    }
    return err_set(err, E_UNSUPPORTED, "the workbook has no visible worksheet");
}

enum err_code table_open_xlsx(const char *path, const char *sheet, json_t *options,
                              struct table_src **out, struct err *err)
{
    enum err_code rc;
    struct table_src *src = NULL;
    struct xt *x = calloc(1, sizeof(*x));
    const char **raw = NULL;
    size_t *lens = NULL;
    char *numtxt = NULL;
    if (!x)
        return err_set(err, E_NOMEM, "out of memory");
    rc = xlsx_open(path, &x->book, err);
    if (rc)
        goto fail;
    x->date1904 = xlsx_date1904(x->book);
    json_t *sel = options ? json_object_get(options, "sheet") : NULL;
    json_t *name_sel = sheet ? json_string(sheet) : NULL;
    size_t idx = 0;
    rc = xt_pick(x->book, name_sel ? name_sel : sel, &idx, err);
    json_decref(name_sel);
    if (rc)
        goto fail;
    bool header = true;
    json_t *h = options ? json_object_get(options, "header") : NULL;
    if (h && !json_is_null(h)) {
        if (!json_is_boolean(h)) {
            rc = err_set(err, E_INVALID, "option 'header' must be true or false");
            goto fail;
        }
        header = json_is_true(h);
    }
    rc = xlsx_sheet_open(x->book, idx, &x->sheet, err);
    if (rc)
        goto fail;
    rc = table_src_new(&xt_ops, x, &src, err);
    if (rc)
        goto fail;
    const struct xlsx_row *first = NULL;
    rc = xlsx_sheet_next(x->sheet, &first, err);
    if (rc)
        goto fail_src;
    size_t ncols = 0;
    if (first && first->ncells)
        ncols = (size_t)first->cells[first->ncells - 1].col + 1;
    if (ncols > LIM_CSV_COLUMNS) {
        rc = err_set(err, E_PARSE, "sheet '%s' has more than %ld columns",
                     xlsx_sheet_info(x->book, idx)->name, (long)LIM_CSV_COLUMNS);
        goto fail_src;
    }
    x->cells = calloc(ncols ? ncols : 1, sizeof(*x->cells));
    if (!x->cells) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto fail_src;
    }
    if (header && first) {
        raw = calloc(ncols ? ncols : 1, sizeof(*raw));
        lens = calloc(ncols ? ncols : 1, sizeof(*lens));
        if (!raw || !lens) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto fail_src;
        }
        /* Header texts: a cell's text, or a number written as pandas names it. */
        numtxt = calloc(first->ncells ? first->ncells : 1, 32);
        if (!numtxt) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto fail_src;
        }
        for (size_t i = 0; i < first->ncells; i++) {
            const struct xlsx_cell *c = &first->cells[i];
            if (c->str) {
                raw[c->col] = c->str;
                lens[c->col] = c->len;
            } else if (c->type == XLSX_NUMBER) {
                raw[c->col] = numtxt + i * 32;
                lens[c->col] = xlsx_num_fmt(c->num, numtxt + i * 32, 32);
            } else if (c->type == XLSX_BOOL) {
                raw[c->col] = c->num != 0 ? "True" : "False";
                lens[c->col] = strlen(raw[c->col]);
            }
        }
        rc = table_set_names(src, raw, lens, ncols, err);
        x->last_row = first->index;
    } else {
        rc = table_set_default_names(src, ncols, err);
        x->pending = first;
    }
    if (rc)
        goto fail_src;
    json_object_set_new(src->notes, "format", json_string("xlsx"));
    json_object_set_new(src->notes, "sheet", json_string(xlsx_sheet_info(x->book, idx)->name));
    json_object_set_new(src->notes, "dateSystem", json_string(x->date1904 ? "1904" : "1900"));
    json_object_set_new(src->notes, "header", json_boolean(header));
    json_object_set_new(src->notes, "columns", json_integer((json_int_t)ncols));
    free(raw);
    free(lens);
    free(numtxt);
    *out = src;
    return E_OK;
fail_src:
    free(raw);
    free(lens);
    free(numtxt);
    xt_close(src);
    return rc;
fail:
    xlsx_sheet_close(x->sheet);
    xlsx_free(x->book);
    free(x->cells);
    free(x);
    return rc;
}
