/*
 * wr_xlsx: the XLSX writer of the transform operation (libxlsxwriter,
 * constant-memory mode). Typed cells: numbers, booleans, dates and
 * datetimes as Excel serial dates with a date number format, strings (cut
 * to Excel's 32767 characters); a bold, frozen header row with an
 * autofilter and column widths from the first rows. Not thread-safe.
 */
#pragma once

#include "err.h"
#include "wr.h"

struct wr_xlsx;

/* Create the workbook at path and write the header row. E_IO, E_NOMEM. */
enum err_code wr_xlsx_open(const char *path, const struct wr_opts *o, const struct wr_cols *cols,
                           struct wr_xlsx **out, struct err *err);
/* One row. E_LIMIT past Excel's row count, E_IO. */
enum err_code wr_xlsx_row(struct wr_xlsx *w, const struct xval *row, struct err *err);
/* Finish and close the workbook; *bytes its size. E_IO, E_OUTPUT_LIMIT. */
enum err_code wr_xlsx_finish(struct wr_xlsx *w, size_t *bytes, struct err *err);
/* Free; a workbook not finished is removed. NULL-safe. */
void wr_xlsx_free(struct wr_xlsx *w);
