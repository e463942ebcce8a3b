/*
 * rd_csv: the CSV/TSV source of table.h.
 *
 * A hand-written streaming scanner: large read() blocks, table-driven field
 * scans, one reusable row arena (no allocation per field). The dialect is
 * sniffed on the first LIM_CSV_SNIFF_BYTES: encoding (UTF-8 with/without
 * BOM, UTF-16LE/BE with BOM transcoded to UTF-8, otherwise Windows-1252 when
 * the window is not valid UTF-8), delimiter among , ; TAB | (':' only when
 * nothing else is consistent), quote '"'. Records end at LF, CRLF or CR;
 * quoted fields may hold delimiters, newlines and doubled quotes; blank
 * lines are skipped. NUL bytes and invalid UTF-8 after the window become
 * U+FFFD and are counted in the notes. Not thread-safe.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "table.h"

/* Open `path` as CSV (tsv: prefer TAB when sniffing is inconclusive).
 * options: "delimiter" (one character or "tab"), "header" (bool, default
 * true). E_INVALID for bad options, E_PARSE for a malformed header, E_IO. */
enum err_code rd_csv_open(const char *path, bool tsv, json_t *options, struct table_src **out,
                          struct err *err);

/* Counters of a CSV source (for tests and notes). */
struct rd_csv_stats {
    size_t records;                /* records read so far, header included, blank lines not */
    size_t blank_lines;            /* blank (or whitespace-only) lines skipped */
    size_t min_fields, max_fields; /* over the records read */
    char delimiter;
    const char *encoding;
};

/* The counters of src, which must come from rd_csv_open. */
void rd_csv_stats(const struct table_src *src, struct rd_csv_stats *st);
