/*
 * table: a streaming row reader over tabular files (CSV/TSV, JSON, later XLSX).
 *
 * A struct table_src yields one row at a time as an array of typed cells.
 * Each source (rd_csv.c, rd_json.c, rd_xlsx.c) fills in the vtable; callers
 * only use table_open(), table_next_row() and table_close(). Rows are padded
 * to the header width (short rows) and cut to it (long rows; the reader counts
 * and reports them in its notes). The cells and the strings they point to are
 * borrowed and valid until the next call on the source.
 *
 * Also owns a small string hash set (table_strset) used for header
 * de-duplication and distinct counting. Not thread-safe; one source per
 * thread.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum tcell_type { TC_EMPTY, TC_STRING, TC_NUMBER, TC_BOOL, TC_DATETIME, TC_ERROR };

/* One cell. s/len: the text (UTF-8, not NUL-terminated) for TC_STRING and
 * TC_ERROR; may also be set for other types as the source's own spelling.
 * num: TC_NUMBER value; TC_BOOL 0/1; TC_DATETIME seconds since 1970-01-01
 * UTC (may be fractional), date_only when it carries no time of day. */
struct tcell {
    enum tcell_type type;
    const char *s;
    size_t len;
    double num;
    bool date_only;
};

struct table_src;

struct table_ops {
    /* The next row: cells and ncells are borrowed until the next call. At the end
     * *eof is true and *ncells 0. E_PARSE with a message naming the row. */
    enum err_code (*next_row)(struct table_src *src, const struct tcell **cells, size_t *ncells,
                              bool *eof, struct err *err);
    void (*close)(struct table_src *src);
};

struct table_src {
    const struct table_ops *ops;
    void *impl;   /* the reader's state */
    char **names; /* column names, unique (pandas' naming), ncols entries */
    size_t ncols;
    json_t *notes; /* object: format, delimiter, encoding, header, raggedRows, ... */
};

/* Open the table in `path` of sniffed `kind` (csv, tsv, text, json, jsonl;
 * xlsx is not yet read here); `name` is the user-facing file name (a hint
 * when kind is unknown), `options` an object or NULL ("delimiter",
 * "header"). On success *out is owned by the caller (table_close).
 * E_UNSUPPORTED for other kinds, E_INVALID for bad options, E_PARSE, E_IO. */
enum err_code table_open(const char *path, const char *kind, const char *name, json_t *options,
                         struct table_src **out, struct err *err);
/* The next row (see table_ops.next_row). */
enum err_code table_next_row(struct table_src *src, const struct tcell **cells, size_t *ncells,
                             bool *eof, struct err *err);
/* Release the source. NULL-safe. */
void table_close(struct table_src *src);

/*
 * The XLSX source (rd_xlsx_table.c): opens `sheet` (a name; NULL: options'
 * "sheet", a name or 0-based index, else the first visible worksheet) of
 * the workbook in `path`. table_open() dispatches kind "xlsx" here.
 */
enum err_code table_open_xlsx(const char *path, const char *sheet, json_t *options,
                              struct table_src **out, struct err *err);

/* Helpers for readers. */
/* A new source with the given ops and impl, an empty notes object. */
enum err_code table_src_new(const struct table_ops *ops, void *impl, struct table_src **out,
                            struct err *err);
/* Set the column names from raw header texts (NULL entry = no name): empty
 * names become "Unnamed: i" (0-based), duplicates "a.1", "a.2" (pandas). */
enum err_code table_set_names(struct table_src *src, const char *const *raw, const size_t *lens,
                              size_t n, struct err *err);
/* Names "column_1".."column_n" for headerless tables. */
enum err_code table_set_default_names(struct table_src *src, size_t n, struct err *err);
/* Free the names and notes (the reader's close calls this last). */
void table_src_free(struct table_src *src);

/*
 * table_strset: an open-addressing hash set of byte strings with a count and
 * first-seen index per entry. Memory is capped by the caller through max
 * entries; table_strset_add answers E_LIMIT when a new entry would pass it.
 */
struct table_strset_ent {
    uint64_t hash;
    size_t off; /* into the arena */
    size_t len;
    size_t count;
    size_t first;
};

struct table_strset {
    size_t *slots; /* index+1 into ents, 0 = empty */
    size_t nslots;
    struct table_strset_ent *ents;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
    size_t max_entries;
};

void table_strset_init(struct table_strset *s, size_t max_entries);
void table_strset_release(struct table_strset *s);
uint64_t table_hash(const void *p, size_t len);
/* Count one occurrence of (p,len) seen at index `at`; *is_new tells whether it was
 * added (may be NULL). E_LIMIT when new and the set is full, E_NOMEM. */
enum err_code table_strset_add(struct table_strset *s, const char *p, size_t len, size_t at,
                               bool *is_new, struct err *err);
/* Whether (p,len) is present. */
bool table_strset_has(const struct table_strset *s, const char *p, size_t len);
/* Bytes used by the set (for budgets). */
size_t table_strset_bytes(const struct table_strset *s);
