/*
 * wr_text: the CSV (RFC 4180), JSON (array of objects) and JSON Lines
 * writers of the transform operation. Output is buffered and written with
 * write(2); values keep their types in JSON (numbers, booleans, null; dates
 * as ISO 8601 strings or wr_opts.datefmt). Not thread-safe.
 */
#pragma once

#include "err.h"
#include "wr.h"

struct wr_text;

/* Create path (format WR_CSV, WR_JSON or WR_JSONL) and write the header.
 * On success *out is owned by the caller (wr_text_free). E_IO. */
enum err_code wr_text_open(const char *path, const struct wr_opts *o, const struct wr_cols *cols,
                           struct wr_text **out, struct err *err);
/* One row of cols->n values. E_OUTPUT_LIMIT past max_bytes, E_IO. */
enum err_code wr_text_row(struct wr_text *w, const struct xval *row, struct err *err);
/* Write the trailer and close the file; *bytes its size. E_IO. */
enum err_code wr_text_finish(struct wr_text *w, size_t *bytes, struct err *err);
/* Free; a file not finished is removed. NULL-safe. */
void wr_text_free(struct wr_text *w);
