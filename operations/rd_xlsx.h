/*
 * rd_xlsx: a streaming reader of .xlsx workbooks (Transitional and Strict
 * OOXML SpreadsheetML).
 *
 * xlsx_open() resolves the package ([Content_Types].xml, _rels/.rels ->
 * workbook part -> its rels -> sheets, sharedStrings, styles; relative or
 * absolute targets, case-insensitive part names), reads the sheet list,
 * the date system and the styles, and loads the shared strings into one
 * capped arena. xlsx_sheet_open() then streams one worksheet: the part is
 * inflated in chunks into the XML scanner of xmlscan.h (expat reads the
 * parts that scanner leaves: other encodings, DTDs, which are then refused)
 * and xlsx_sheet_next() returns one row at a
 * time, holding only that row (sparse: only cells with a value), so a cell
 * at XFD1048576 costs nothing. DTDs and entity declarations are refused
 * (E_PARSE). Cell strings are UTF-8 with _xHHHH_ escapes decoded; a number
 * whose cell style has a date/time number format is returned as
 * XLSX_DATE with its ISO 8601 text. Durations ([h]:mm) stay numbers.
 * One sheet may be open at a time per workbook. Not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct xlsx;
struct xlsx_sheet;

enum xlsx_visibility { XLSX_VISIBLE, XLSX_HIDDEN, XLSX_VERY_HIDDEN };

struct xlsx_sheet_info {
    const char *name;
    enum xlsx_visibility visibility;
    const char *part; /* normalised zip part name; NULL when the part is absent */
    bool chartsheet;  /* a chartsheet (no cells) */
};

enum xlsx_cell_type {
    XLSX_EMPTY = 0,
    XLSX_STRING, /* str/len */
    XLSX_NUMBER, /* num; str/len: its text when that is already xlsx_num_fmt()'s, else NULL */
    XLSX_BOOL,   /* num is 0 or 1 */
    XLSX_ERROR,  /* str/len: "#DIV/0!" ... */
    XLSX_DATE,   /* str/len: ISO 8601 text; num: the serial (NaN for t="d" cells) */
};

struct xlsx_cell {
    uint32_t col; /* 0-based column */
    enum xlsx_cell_type type;
    const char *str; /* valid until the next xlsx_sheet_next(); NUL-terminated */
    size_t len;
    double num;
};

struct xlsx_row {
    uint32_t index; /* 1-based row number */
    size_t ncells;  /* cells with a value, ascending col, no duplicates */
    const struct xlsx_cell *cells;
};

struct xlsx_sheet_stats {
    size_t formulas_without_value; /* <f> with no cached <v> */
    size_t merged_count;
    const char *merged; /* "A1:B2\0C3:D4\0..." (first LIM_XLSX_MERGES_REPORTED) */
    size_t merged_listed;
    const char *dimension; /* the <dimension ref>, "" when absent */
};

/*
 * Open the workbook at path. Errors: E_UNSUPPORTED (not a zip, encrypted,
 * legacy .xls, no workbook part), E_PARSE (malformed XML, DTD, bad index),
 * E_TOO_LARGE (zip caps), E_NOMEM.
 */
enum err_code xlsx_open(const char *path, struct xlsx **out, struct err *err);
/* NULL-safe; closes nothing the caller still holds (close sheets first). */
void xlsx_free(struct xlsx *x);
size_t xlsx_sheet_count(const struct xlsx *x);
/* Borrowed, valid until xlsx_free(). */
const struct xlsx_sheet_info *xlsx_sheet_info(const struct xlsx *x, size_t i);
bool xlsx_date1904(const struct xlsx *x);

/* Start streaming sheet i (a missing part or a chartsheet yields no rows). */
enum err_code xlsx_sheet_open(struct xlsx *x, size_t i, struct xlsx_sheet **out, struct err *err);
/*
 * The next row that has at least one value, or *row = NULL at the end. The
 * row and its strings are valid until the next call.
 */
enum err_code xlsx_sheet_next(struct xlsx_sheet *s, const struct xlsx_row **row, struct err *err);
/* Statistics; complete once xlsx_sheet_next() has returned NULL. */
const struct xlsx_sheet_stats *xlsx_sheet_stats(const struct xlsx_sheet *s);
void xlsx_sheet_close(struct xlsx_sheet *s);

/*
 * Format serial (days since the workbook epoch) as ISO 8601, rounded to the
 * millisecond: "HH:MM:SS" for a serial in [0, 1) (a time, as openpyxl
 * reads it), "YYYY-MM-DD" when date_only and the time is 00:00, else
 * "YYYY-MM-DDTHH:MM:SS" (".mmm" added when the milliseconds are not zero).
 * The 1900 system reproduces Excel's leap-year bug like openpyxl (serials
 * in (0, 60) shift by a day; 59 and 60 both give 1900-02-28). False when the
 * serial is negative or past 9999-12-31 (then keep it a number).
 */
bool xlsx_serial_iso(double serial, bool date1904, bool date_only, char *out, size_t cap);
/* Shortest round-trip decimal text of v, integers without ".0", exponent
 * form like Python's repr outside 1e-4 <= |v| < 1e16. Returns the length. */
size_t xlsx_num_fmt(double v, char *out, size_t cap);
/* Column letters ("A", "XFD") of 0-based col; returns the length. */
size_t xlsx_col_name(uint32_t col, char *out, size_t cap);
/*
 * The common spelling of a number, [-]digits[.digits] with at most 15
 * significant digits, into *out exactly as strtod() would read it; false
 * for any other text (then use strtod()).
 */
bool xlsx_fast_num(const char *t, size_t len, double *out);
/* Tests and fuzzers: read every part with expat instead of the scanner (process-wide). */
void xlsx_set_expat_only(bool on);
