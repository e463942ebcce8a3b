/*
 * fz_xlsx: the workbook walk shared by fuzz_xlsx and fuzz_xlsx_xml: open
 * the package with rd_xlsx, stream every sheet to its end, then read it
 * through table_open(..., "xlsx") too. Header-only (one TU per target).
 */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_xlsx.h"
#include "table.h"

/* Where the walk adds what it reads, so that no read is optimised away. */
static volatile size_t fz_xlsx_sink;

static inline void fz_xlsx_walk(const char *path)
{
    struct err err;
    struct xlsx *x = NULL;
    if (xlsx_open(path, &x, &err) == E_OK) {
        (void)xlsx_date1904(x);
        size_t n = xlsx_sheet_count(x);
        for (size_t i = 0; i < n; i++) {
            const struct xlsx_sheet_info *info = xlsx_sheet_info(x, i);
            if (!info || !info->name)
                abort();
            fz_xlsx_sink += strlen(info->name) + (info->part ? strlen(info->part) : 0);
            struct xlsx_sheet *s = NULL;
            if (xlsx_sheet_open(x, i, &s, &err) != E_OK)
                continue;
            const struct xlsx_row *row = NULL;
            uint32_t last = 0;
            while (xlsx_sheet_next(s, &row, &err) == E_OK && row) {
                for (size_t c = 0; c < row->ncells; c++) {
                    const struct xlsx_cell *cell = &row->cells[c];
                    if (c && cell->col <= row->cells[c - 1].col)
                        abort(); /* contract: ascending, no duplicates */
                    if (cell->str)
                        fz_xlsx_sink += strlen(cell->str) + cell->len;
                }
                last = row->index;
            }
            (void)last;
            const struct xlsx_sheet_stats *st = xlsx_sheet_stats(s);
            if (st && st->dimension)
                fz_xlsx_sink += strlen(st->dimension);
            xlsx_sheet_close(s);
        }
        xlsx_free(x);
    }

    struct table_src *src = NULL;
    if (table_open(path, "xlsx", "x.xlsx", NULL, &src, &err) == E_OK) {
        for (;;) {
            const struct tcell *cells = NULL;
            size_t nc = 0;
            bool eof = false;
            if (table_next_row(src, &cells, &nc, &eof, &err) != E_OK || eof)
                break;
            for (size_t i = 0; i < nc; i++)
                if (cells[i].len) /* first and last byte: cheap on huge cells */
                    fz_xlsx_sink +=
                        (unsigned char)cells[i].s[0] + (unsigned char)cells[i].s[cells[i].len - 1];
        }
        free(json_dumps(src->notes, 0));
        table_close(src);
    }
}

/*
 * What rd_xlsx makes of a workbook, boiled down: a hash of the sheet list,
 * every row and cell and the sheet statistics, the row count, and how it
 * ended (rc, msg). Used to hold the XML scanner to expat (xlsx_set_expat_only).
 */
struct fz_digest {
    uint64_t h;
    size_t rows;
    enum err_code rc;
    char msg[256];
};

static inline void fz_mix(struct fz_digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 0x100000001b3ULL;
}

static inline void fz_mix_str(struct fz_digest *d, const char *s)
{
    fz_mix(d, s ? s : "(null)", s ? strlen(s) + 1 : 6);
}

static inline void fz_xlsx_digest(const char *path, bool expat_only, struct fz_digest *d)
{
    struct err err = {0};
    struct xlsx *x = NULL;
    memset(d, 0, sizeof *d);
    d->h = 0xcbf29ce484222325ULL;
    xlsx_set_expat_only(expat_only);
    if ((d->rc = xlsx_open(path, &x, &err)))
        goto out;
    size_t n = xlsx_sheet_count(x);
    bool d1904 = xlsx_date1904(x);
    fz_mix(d, &n, sizeof n);
    fz_mix(d, &d1904, sizeof d1904);
    for (size_t i = 0; i < n && !d->rc; i++) {
        const struct xlsx_sheet_info *info = xlsx_sheet_info(x, i);
        int vis = (int)info->visibility, chart = info->chartsheet;
        fz_mix_str(d, info->name);
        fz_mix_str(d, info->part);
        fz_mix(d, &vis, sizeof vis);
        fz_mix(d, &chart, sizeof chart);
        struct xlsx_sheet *s = NULL;
        if ((d->rc = xlsx_sheet_open(x, i, &s, &err)))
            break;
        const struct xlsx_row *row = NULL;
        while (!(d->rc = xlsx_sheet_next(s, &row, &err)) && row) {
            d->rows++;
            fz_mix(d, &row->index, sizeof row->index);
            fz_mix(d, &row->ncells, sizeof row->ncells);
            for (size_t c = 0; c < row->ncells; c++) {
                const struct xlsx_cell *cell = &row->cells[c];
                int t = (int)cell->type;
                fz_mix(d, &cell->col, sizeof cell->col);
                fz_mix(d, &t, sizeof t);
                if (cell->str)
                    fz_mix(d, cell->str, cell->len + 1);
                if (cell->type == XLSX_NUMBER || cell->type == XLSX_BOOL ||
                    (cell->type == XLSX_DATE && cell->num == cell->num))
                    fz_mix(d, &cell->num, sizeof cell->num);
            }
        }
        if (!d->rc) {
            const struct xlsx_sheet_stats *st = xlsx_sheet_stats(s);
            fz_mix(d, &st->formulas_without_value, sizeof st->formulas_without_value);
            fz_mix(d, &st->merged_count, sizeof st->merged_count);
            fz_mix(d, &st->merged_listed, sizeof st->merged_listed);
            const char *m = st->merged;
            for (size_t k = 0; m && k < st->merged_listed; k++, m += strlen(m) + 1)
                fz_mix_str(d, m);
            fz_mix_str(d, st->dimension);
        }
        xlsx_sheet_close(s);
    }
out:
    if (d->rc)
        snprintf(d->msg, sizeof d->msg, "%s", err.msg);
    xlsx_free(x);
    xlsx_set_expat_only(false);
}

/*
 * The scanner against expat on one workbook: when expat reads it, the
 * scanner must read it the same; with both_ways, when expat refuses it the
 * scanner must refuse it too (the scanner does not check everything expat
 * does: name spelling, duplicate attributes, namespace bindings). NULL when
 * they agree, else what differs (static text).
 */
static inline const char *fz_xlsx_differ(const char *path, bool both_ways)
{
    static char why[700];
    struct fz_digest a, b;
    fz_xlsx_digest(path, true, &a);
    fz_xlsx_digest(path, false, &b);
    if (!a.rc && (b.rc || a.h != b.h || a.rows != b.rows)) {
        snprintf(why, sizeof why, "expat: ok, %zu rows; scanner: %s, %zu rows%s %s", a.rows,
                 err_name(b.rc), b.rows, a.h != b.h ? ", other content" : "", b.msg);
        return why;
    }
    if (both_ways && a.rc && !b.rc) {
        snprintf(why, sizeof why, "expat: %s %s; scanner: ok, %zu rows", err_name(a.rc), a.msg,
                 b.rows);
        return why;
    }
    return NULL;
}
