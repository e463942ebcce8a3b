/*
 * rd_json: the JSON source of table.h.
 *
 * Reads a JSON array of objects (columns: the union of keys in first-seen
 * order), an array of arrays (first row is the header unless option
 * "header" is false), an object whose values are row objects, or JSON Lines
 * (one value per line; a .json file holding several values is read as JSON
 * Lines too). The file is loaded whole with jansson (at most
 * LIM_JSON_TABLE_BYTES, the input cap; jansson bounds nesting depth).
 * Numbers are TC_NUMBER (text: "%lld" or "%.17g" with a decimal point),
 * booleans TC_BOOL, null/absent TC_EMPTY, strings TC_STRING, nested values
 * their compact JSON text as TC_STRING. Not thread-safe.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "table.h"

/* Open `path` (lines: JSON Lines). E_TOO_LARGE, E_PARSE, E_UNSUPPORTED for a
 * top-level value that is not a table, E_INVALID for bad options, E_IO. */
enum err_code rd_json_open(const char *path, bool lines, json_t *options, struct table_src **out,
                           struct err *err);
