/*
 * report: human-readable reports of an analyze result.
 *
 * Both writers take the result object of op_analyze (docs/analyze.md) and
 * write one self-contained file: HTML with inline SVG charts (no external
 * URLs; every user text HTML-escaped), or XLSX through libxlsxwriter with a
 * summary sheet and native column charts. Pure functions of the result; not
 * thread-safe (libxlsxwriter).
 */
#pragma once

#include <jansson.h>

#include "err.h"

/* Write report.html-style output to path. E_IO, E_NOMEM. */
enum err_code report_html_write(const json_t *result, const char *title, const char *path,
                                struct err *err);
/* Write an .xlsx report to path. E_IO. */
enum err_code report_xlsx_write(const json_t *result, const char *title, const char *path,
                                struct err *err);
