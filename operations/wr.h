/*
 * wr: options shared by the transform output writers (wr_text.c: CSV, JSON,
 * JSON Lines; wr_xlsx.c: XLSX). Each writer takes rows of struct xval in
 * column order, bounds the bytes it writes by max_bytes (E_OUTPUT_LIMIT)
 * and removes its file when freed before it finished. Header only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "xval.h"

enum wr_format { WR_CSV, WR_JSON, WR_JSONL, WR_XLSX };

struct wr_opts {
    enum wr_format format;
    char delimiter;      /* CSV */
    bool header;         /* CSV: write the header line */
    bool neutralise;     /* CSV/XLSX: prefix ' to strings starting with = + - @ TAB CR */
    const char *datefmt; /* text formats: strftime-like, NULL = ISO 8601 */
    size_t max_bytes;    /* 0 = no cap */
};

/* The columns of the rows a writer gets (borrowed for the writer's life). */
struct wr_cols {
    const char *const *names;
    const enum xtype *types;
    size_t n;
};

/* Whether a string cell is neutralised (starts with = + - @ TAB or CR). */
static inline bool wr_is_formula(const char *s, size_t n)
{
    return n && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
                 s[0] == '\r');
}
