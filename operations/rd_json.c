#include "rd_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "klimits.h"

#include "banned.h"

struct rd_json {
    json_t *root; /* the whole document (or an array of JSON Lines values) */
    json_t *rows; /* borrowed: the array of rows */
    bool objects; /* rows are objects (else arrays) */
    size_t next;  /* next row index */
    size_t width;
    struct tcell *cells;
    char **scratch; /* per-cell text for this row (numbers, nested values) */
    size_t ragged;
    json_t *ragged_rows;
};

static void js_close(struct table_src *src);
static enum err_code js_next_row(struct table_src *src, const struct tcell **cells, size_t *ncells,
                                 bool *eof, struct err *err);

static const struct table_ops js_ops = {js_next_row, js_close};

static void js_free(struct rd_json *j)
{
    if (!j)
        return;
    json_decref(j->root);
    if (j->scratch)
        for (size_t i = 0; i < j->width; i++)
            free(j->scratch[i]);
    free(j->scratch);
    free(j->cells);
    json_decref(j->ragged_rows);
    free(j);
}

static void js_close(struct table_src *src)
{
    if (!src)
        return;
    js_free(src->impl);
    table_src_free(src);
}

/* The text of a scalar number as the analyzer expects it: reals keep a
 * decimal point or exponent so "1.0" stays a float. */
static char *js_number_text(json_t *v)
{
    char tmp[64];
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
    } else {
        int k = snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
        if (k > 0 && (size_t)k < sizeof(tmp) - 3 && !strpbrk(tmp, ".eEn"))
            memcpy(tmp + k, ".0", 3);
    }
    return strdup(tmp);
}

static enum err_code js_cell(struct rd_json *j, size_t i, json_t *v, struct err *err)
{
    struct tcell *c = &j->cells[i];
    memset(c, 0, sizeof(*c));
    c->s = "";
    free(j->scratch[i]);
    j->scratch[i] = NULL;
    if (!v || json_is_null(v)) {
        c->type = TC_EMPTY;
        return E_OK;
    }
    if (json_is_string(v)) {
        c->type = TC_STRING;
        c->s = json_string_value(v);
        c->len = json_string_length(v);
        return E_OK;
    }
    if (json_is_boolean(v)) {
        c->type = TC_BOOL;
        c->num = json_is_true(v);
        c->s = json_is_true(v) ? "True" : "False";
        c->len = strlen(c->s);
        return E_OK;
    }
    if (json_is_number(v)) {
        c->type = TC_NUMBER;
        c->num = json_number_value(v);
        j->scratch[i] = js_number_text(v);
    } else {
        c->type = TC_STRING;
        j->scratch[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (!j->scratch[i])
        return err_set(err, E_NOMEM, "out of memory");
    c->s = j->scratch[i];
    c->len = strlen(c->s);
    return E_OK;
}

static enum err_code js_next_row(struct table_src *src, const struct tcell **cells, size_t *ncells,
                                 bool *eof, struct err *err)
{
    struct rd_json *j = src->impl;
    *cells = j->cells;
    if (j->next >= json_array_size(j->rows)) {
        *eof = true;
        *ncells = 0;
        return E_OK;
    }
    json_t *row = json_array_get(j->rows, j->next++);
    enum err_code rc = E_OK;
    for (size_t i = 0; i < j->width && !rc; i++) {
        json_t *v = j->objects ? json_object_get(row, src->names[i]) : json_array_get(row, i);
        rc = js_cell(j, i, v, err);
    }
    if (rc)
        return rc;
    if (!j->objects && json_array_size(row) != j->width) {
        j->ragged++;
        if (json_array_size(j->ragged_rows) < LIM_TABLE_NOTE_ROWS)
            json_array_append_new(j->ragged_rows, json_integer((json_int_t)j->next));
        json_object_set_new(src->notes, "raggedRows", json_integer((json_int_t)j->ragged));
        json_object_set_new(src->notes, "raggedRowNumbers", json_deep_copy(j->ragged_rows));
    }
    *ncells = j->width;
    *eof = false;
    return E_OK;
}

static enum err_code js_load(const char *path, bool lines, json_t **out, struct err *err)
{
    enum err_code rc = E_OK;
    FILE *f = NULL;
    char *data = NULL;
    json_t *arr = NULL;
    struct stat st;
    f = fopen(path, "rb");
    if (!f)
        return err_sys(err, E_IO, "cannot open the table");
    if (fstat(fileno(f), &st) || st.st_size < 0) {
        rc = err_sys(err, E_IO, "cannot stat the table");
        goto out;
    }
    if (st.st_size > LIM_JSON_TABLE_BYTES) {
        rc = err_set(err, E_TOO_LARGE, "JSON tables are limited to %ld bytes",
                     (long)LIM_JSON_TABLE_BYTES);
        goto out;
    }
    size_t n = (size_t)st.st_size;
    data = malloc(n + 1);
    if (!data) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    if (n && fread(data, 1, n, f) != n) {
        rc = err_sys(err, E_IO, "cannot read the table");
        goto out;
    }
    data[n] = '\0';
    size_t off = 0;
    if (n >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        off = 3;
    json_error_t je;
    if (!lines) {
        arr = json_loadb(data + off, n - off, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        if (!arr) {
            /* Not one document: try JSON Lines before giving up. */
            json_error_t je2;
            json_t *probe = json_loadb(data + off, n - off, JSON_DISABLE_EOF_CHECK, &je2);
            bool more = probe != NULL;
            json_decref(probe);
            if (!more) {
                rc = err_set(err, E_PARSE, "invalid JSON at line %d, column %d: %s", je.line,
                             je.column, je.text);
                goto out;
            }
            lines = true;
        }
    }
    if (lines) {
        arr = json_array();
        if (!arr) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        size_t lineno = 0;
        for (size_t p = off; p < n;) {
            char *e = memchr(data + p, '\n', n - p);
            size_t end = e ? (size_t)(e - data) : n;
            lineno++;
            size_t a = p, b = end;
            while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\r'))
                a++;
            while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\r'))
                b--;
            if (b > a) {
                json_t *v = json_loadb(data + a, b - a, JSON_DECODE_ANY, &je);
                if (!v) {
                    rc = err_set(err, E_PARSE, "invalid JSON on line %zu, column %d: %s", lineno,
                                 je.column, je.text);
                    goto out;
                }
                if (json_array_append_new(arr, v)) {
                    rc = err_set(err, E_NOMEM, "out of memory");
                    goto out;
                }
            }
            p = end + 1;
        }
    }
    *out = arr;
    arr = NULL;
out:
    json_decref(arr);
    free(data);
    if (f)
        fclose(f);
    return rc;
}

enum err_code rd_json_open(const char *path, bool lines, json_t *options, struct table_src **out,
                           struct err *err)
{
    enum err_code rc = E_OK;
    struct table_src *src = NULL;
    struct table_strset keys;
    table_strset_init(&keys, (size_t)LIM_CSV_COLUMNS);
    const char **raw = NULL;
    size_t *lens = NULL;
    struct rd_json *j = calloc(1, sizeof(*j));
    if (!j)
        return err_set(err, E_NOMEM, "out of memory");
    j->ragged_rows = json_array();
    bool header = true;
    json_t *h = options ? json_object_get(options, "header") : NULL;
    if (h && !json_is_null(h)) {
        if (!json_is_boolean(h)) {
            rc = err_set(err, E_INVALID, "option 'header' must be true or false");
            goto out;
        }
        header = json_is_true(h);
    }
    if ((rc = js_load(path, lines, &j->root, err)))
        goto out;
    if (json_is_object(j->root)) {
        /* {"key": {row}, ...}: the values are the rows. */
        json_t *arr = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(j->root, k, v)
        {
            if (!json_is_object(v)) {
                json_decref(arr);
                rc = err_set(err, E_UNSUPPORTED,
                             "a JSON object table must map keys to row objects (key '%.64s')", k);
                goto out;
            }
            json_array_append(arr, v);
        }
        json_decref(j->root);
        j->root = arr;
    }
    if (!json_is_array(j->root)) {
        rc = err_set(err, E_UNSUPPORTED,
                     "expected a JSON array of objects or arrays, or JSON Lines");
        goto out;
    }
    j->rows = j->root;
    size_t nrows = json_array_size(j->rows);
    json_t *first = json_array_get(j->rows, 0);
    j->objects = !first || json_is_object(first);
    if ((rc = table_src_new(&js_ops, j, &src, err)))
        goto out;
    for (size_t i = 0; i < nrows; i++) {
        json_t *row = json_array_get(j->rows, i);
        if (j->objects ? !json_is_object(row) : !json_is_array(row)) {
            rc = err_set(err, E_PARSE, "row %zu: expected %s like the first row", i + 1,
                         j->objects ? "an object" : "an array");
            goto out;
        }
        if (j->objects) {
            const char *k;
            json_t *v;
            json_object_foreach(row, k, v)
            {
                (void)v;
                rc = table_strset_add(&keys, k, strlen(k), i, NULL, err);
                if (rc == E_LIMIT)
                    rc =
                        err_set(err, E_PARSE, "more than %ld distinct keys", (long)LIM_CSV_COLUMNS);
                if (rc)
                    goto out;
            }
        } else if (json_array_size(row) > j->width) {
            j->width = json_array_size(row);
            if (j->width > (size_t)LIM_CSV_COLUMNS) {
                rc = err_set(err, E_PARSE, "row %zu: more than %ld columns", i + 1,
                             (long)LIM_CSV_COLUMNS);
                goto out;
            }
        }
    }
    if (j->objects) {
        j->width = keys.n;
        raw = calloc(keys.n + 1, sizeof(*raw));
        lens = calloc(keys.n + 1, sizeof(*lens));
        if (!raw || !lens) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        /* The arena stays NULL when every key is "" ({"": 1}): point empty
         * keys at "" rather than at NULL + 0, which is undefined behaviour
         * and reached strndup(NULL, 0) below (found by fuzzing, t_csv
         * "json_empty_key"). */
        for (size_t i = 0; i < keys.n; i++) {
            raw[i] = keys.ents[i].len ? keys.arena + keys.ents[i].off : "";
            lens[i] = keys.ents[i].len;
        }
        /* Keys are unique already; names must equal them to look values up. */
        char **names = calloc(keys.n + 1, sizeof(*names));
        if (!names) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        src->names = names;
        for (size_t i = 0; i < keys.n; i++) {
            names[i] = strndup(raw[i], lens[i]);
            if (!names[i]) {
                rc = err_set(err, E_NOMEM, "out of memory");
                goto out;
            }
            src->ncols = i + 1;
        }
    } else if (header && nrows) {
        json_t *hr = json_array_get(j->rows, 0);
        raw = calloc(j->width + 1, sizeof(*raw));
        lens = calloc(j->width + 1, sizeof(*lens));
        char **tmp = calloc(j->width + 1, sizeof(*tmp));
        if (!raw || !lens || !tmp) {
            free(tmp);
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < j->width; i++) {
            json_t *v = json_array_get(hr, i);
            if (json_is_string(v)) {
                raw[i] = json_string_value(v);
                lens[i] = json_string_length(v);
            } else if (v && !json_is_null(v)) {
                tmp[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                raw[i] = tmp[i];
                lens[i] = tmp[i] ? strlen(tmp[i]) : 0;
            }
        }
        rc = table_set_names(src, raw, lens, j->width, err);
        for (size_t i = 0; i < j->width; i++)
            free(tmp[i]);
        free(tmp);
        if (rc)
            goto out;
        j->next = 1;
    } else if ((rc = table_set_default_names(src, j->width, err))) {
        goto out;
    }
    j->cells = calloc(j->width + 1, sizeof(*j->cells));
    j->scratch = calloc(j->width + 1, sizeof(*j->scratch));
    if (!j->cells || !j->scratch) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    json_object_set_new(src->notes, "format", json_string(lines ? "jsonl" : "json"));
    json_object_set_new(src->notes, "layout", json_string(j->objects ? "objects" : "arrays"));
    json_object_set_new(src->notes, "header", json_boolean(j->objects || header));
    json_object_set_new(src->notes, "loadedWhole", json_true());
    json_object_set_new(src->notes, "raggedRows", json_integer(0));
    *out = src;
    src = NULL;
    j = NULL;
out:
    free(raw);
    free(lens);
    table_strset_release(&keys);
    if (src) {
        src->impl = NULL;
        table_src_free(src);
    }
    js_free(j);
    return rc;
}
