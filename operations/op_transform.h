/*
 * op_transform: the `transform` operation of processFile.
 *
 * Reads a table (table.h) twice: once to infer each column's type
 * (integer, float, boolean, date, datetime, string; pandas' NA tokens are
 * null), then again to run the typed rows through a pipeline of steps: select, drop, rename,
 * filter, derive, cast, fill and limit stream row by row; sort, group and dedupe (keep last) keep
 * rows in an arena. The result goes to one output file (CSV, JSON, JSON Lines or XLSX) in out_dir.
 * Steps, options and the result object are documented in docs/transform.md; expressions in expr.h.
 * Memory is bounded by the LIM_TRANSFORM_* caps of klimits.h. Not thread-safe.
 */
#pragma once

#include <jansson.h>

#include "err.h"
#include "op.h"

/* The op_fn of "transform". Options: "steps" (array of step objects),
 * "output" ({"format","name","delimiter","header","neutraliseFormulas",
 * "dateFormat"}), and the reader's "delimiter", "header", "sheet".
 * E_INVALID for bad options or steps (the message names the step), E_PARSE
 * for unreadable input or a failed cast, E_UNSUPPORTED, E_LIMIT,
 * E_OUTPUT_LIMIT, E_NOMEM, E_IO. */
enum err_code op_transform(const struct op_ctx *ctx, json_t **result, struct err *err);
