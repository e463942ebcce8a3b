/*
 * fz_xlsx: the workbook walk shared by fuzz_xlsx and fuzz_xlsx_xml: open
 * the package with rd_xlsx, stream every sheet to its end, then read it
 * through table_open(..., "xlsx") too. Header-only (one TU per target).
 */
#pragma once

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rd_xlsx.h"
#include "table.h"

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
            volatile size_t sum = strlen(info->name) + (info->part ? strlen(info->part) : 0);
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
                        sum += strlen(cell->str) + cell->len;
                }
                last = row->index;
            }
            (void)last;
            const struct xlsx_sheet_stats *st = xlsx_sheet_stats(s);
            if (st && st->dimension)
                sum += strlen(st->dimension);
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
            volatile unsigned sum = 0;
            for (size_t i = 0; i < nc; i++)
                if (cells[i].len) /* first and last byte: cheap on huge cells */
                    sum +=
                        (unsigned char)cells[i].s[0] + (unsigned char)cells[i].s[cells[i].len - 1];
        }
        free(json_dumps(src->notes, 0));
        table_close(src);
    }
}
