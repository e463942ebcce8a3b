/*
 * op_analyze: the `analyze` operation of processFile.
 *
 * Streams a table (table.h: CSV/TSV, JSON; XLSX once its reader lands) and
 * computes per-column statistics in one pass (a second pass only for
 * columns that looked numeric and turned out not to be), the Pearson
 * correlation matrix of numeric columns, and writes report.html and/or
 * report.xlsx into out_dir. Inference rules, options and the result shape
 * are documented in docs/analyze.md. Memory is bounded by the LIM_ANALYZE_*
 * caps of klimits.h. Uses up to three threads internally (a reader and two
 * column workers, see op_analyze.c); one call at a time per input.
 */
#pragma once

#include <jansson.h>

#include "err.h"
#include "op.h"

/* The op_fn of "analyze". Options: "columns" (array of names), "delimiter",
 * "header", "sheet", "topN" (0..LIM_ANALYZE_TOPN, default 5), "report"
 * ("html" | "xlsx" | "both" | "none", default "both"). Returns E_INVALID for
 * bad options, E_UNSUPPORTED / E_PARSE from the reader, E_OUTPUT_LIMIT when
 * the reports exceed ctx->max_output_bytes, E_NOMEM, E_IO. */
enum err_code op_analyze(const struct op_ctx *ctx, json_t **result, struct err *err);
