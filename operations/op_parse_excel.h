/*
 * op_parse_excel: the parse_excel operation (SPEC §1 processFile).
 *
 * Streams every selected sheet of an .xlsx (rd_xlsx) into one output file
 * per sheet (CSV, JSON array of objects, or JSON Lines) written as rows
 * complete, and returns a per-sheet summary. Options (all optional):
 *   "sheets": [name | 0-based index, ...]   default: every sheet
 *   "format": "csv" | "json" | "jsonl"      default "csv"
 *   "header": bool                          first row is the header (default true)
 *   "includeHidden": bool                   default true; hidden sheets are flagged
 * Values: numbers in shortest round-trip form (integers without ".0"),
 * booleans TRUE/FALSE in CSV (true/false in JSON), errors as their text
 * (#DIV/0!), dates and times as ISO 8601 (date-only formats give
 * "YYYY-MM-DD"), durations ([h]:mm formats) as the number of days. Leading
 * empty rows are skipped (notes.firstRow gives the sheet row of the first
 * output row); columns start at A; trailing empty rows and columns are not
 * written. Empty sheets and chartsheets get no file. Not thread-safe.
 */
#pragma once

#include "op.h"

enum err_code op_parse_excel(const struct op_ctx *ctx, json_t **result, struct err *err);
