/*
 * xval: typed cell values of the transform operation and their text forms.
 *
 * Owns struct xval (a 16-byte tagged value: null, integer, float, boolean,
 * date, datetime or string), the parsers that turn cell text into values
 * (numbers as pandas' read_csv reads them, pandas' default NA tokens, ISO
 * dates, strptime-like formats), the formatters back to text, ordering,
 * equality and hashing, and xval_arena, a chunked bump allocator whose
 * allocations never move (reset keeps the chunks for reuse). Strings in an
 * xval are borrowed: whoever made the value says how long they live.
 * Pure functions; an arena is not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum xtype { XT_NULL = 0, XT_INT, XT_FLOAT, XT_BOOL, XT_DATE, XT_DATETIME, XT_STRING };

/* i: XT_INT value, XT_BOOL 0/1, XT_DATE days since 1970-01-01.
 * f: XT_FLOAT value, XT_DATETIME seconds since 1970-01-01 (UTC, may be
 * fractional). s/len: XT_STRING bytes (UTF-8, not NUL-terminated). */
struct xval {
    uint8_t t;
    uint32_t len;
    union {
        int64_t i;
        double f;
        const char *s;
    } u;
};

/* Longest text xval_text() writes into its tmp buffer (dates, numbers). */
#define XVAL_TEXT_MAX 128

/* "integer", "float", "boolean", "date", "datetime", "string", "null". */
const char *xval_type_name(enum xtype t);
/* The type named s (as above), or XT_NULL when unknown. */
enum xtype xval_type_from_name(const char *s);

/* Whether (s,n) is missing: empty or one of pandas' default NA tokens. */
bool xval_is_na(const char *s, size_t n);
/* [ws][+-]digits[ws] fitting int64. */
bool xval_parse_int(const char *s, size_t n, int64_t *out);
/* A number as pandas' read_csv accepts it; *is_int: written as an integer
 * that fits int64. */
bool xval_parse_num(const char *s, size_t n, double *out, bool *is_int);
/* True/False/TRUE/FALSE/true/false. */
bool xval_parse_bool(const char *s, size_t n, bool *out);
/* ISO 8601 date or date-time (offsets applied, result UTC). */
bool xval_parse_iso(const char *s, size_t n, double *secs, bool *date_only);
/* strptime-like: %Y %m %d %H %M %S (with optional .fraction) %y %b %B %j
 * %p %I %z %f %%, other characters literal, a space matches any run of
 * spaces. *has_time: the format set a time of day. */
bool xval_parse_fmt(const char *s, size_t n, const char *fmt, double *secs, bool *has_time);
/* Whether fmt holds only directives xval_parse_fmt/xval_format_time know. */
bool xval_fmt_valid(const char *fmt);

/* Days since 1970-01-01 of a civil date, and back. */
int64_t xval_days_from_civil(int64_t y, unsigned m, unsigned d);
void xval_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* The text of v: a pointer to its own bytes (strings) or into tmp. Floats
 * use the shortest text that reads back to the same double (with ".0" for
 * integral values, like Python's repr); dates ISO 8601 unless datefmt (a
 * strftime-like format, directives as xval_parse_fmt) is given. Null: "". */
const char *xval_text(const struct xval *v, char tmp[XVAL_TEXT_MAX], size_t *len,
                      const char *datefmt);
/* Shortest round-trip text of a double into tmp; its length. */
size_t xval_fmt_double(double d, char tmp[XVAL_TEXT_MAX]);

/* Order of two non-null values of comparable types (numbers with numbers,
 * dates with datetimes, else the same type): <0, 0, >0. Strings by bytes. */
int xval_cmp(const struct xval *a, const struct xval *b);
/* Equality for keys (same column type): nulls are equal to each other. */
bool xval_key_eq(const struct xval *a, const struct xval *b);
/* Hash for keys, consistent with xval_key_eq. */
uint64_t xval_key_hash(const struct xval *v, uint64_t h);

/* A chunked bump allocator with a cap on the bytes it holds. */
struct xval_chunk;
struct xval_arena {
    struct xval_chunk *head, *cur;
    size_t used;  /* bytes handed out since the last reset */
    size_t total; /* bytes of all chunks */
    size_t max;
};

void xval_arena_init(struct xval_arena *a, size_t max);
/* n bytes aligned for any value; NULL with E_LIMIT/E_NOMEM in err. */
void *xval_arena_alloc(struct xval_arena *a, size_t n, struct err *err);
/* Forget every allocation but keep the chunks. */
void xval_arena_reset(struct xval_arena *a);
void xval_arena_release(struct xval_arena *a);
/* A copy of v whose string lives in a; E_LIMIT, E_NOMEM. */
enum err_code xval_arena_keep(struct xval_arena *a, struct xval *v, struct err *err);
