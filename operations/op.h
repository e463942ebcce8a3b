/*
 * op: the built-in operations of processFile (SPEC §1).
 *
 * An operation gets one opened input (a file in the scratch dir, its
 * user-facing name and sniffed kind), the `options` object and an empty
 * output directory. It writes its output files into out_dir and returns a
 * result object. It never fetches, spawns, or knows storage paths; the
 * caller stores every regular file left in out_dir. Operations run inside
 * the sandbox (untrusted bytes): they must bound their memory and report bad
 * input as E_PARSE / E_UNSUPPORTED / E_INVALID (options) with a message that
 * says where. Not thread-safe unless an operation says so.
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "err.h"

struct op_input {
    const char *path; /* absolute path of the input file */
    const char *name; /* the input's name (fileName or default) */
    const char *kind; /* sniffed: csv, tsv, xlsx, xls, zip, json, jsonl, text, ... */
    size_t size;
};

struct op_ctx {
    const struct op_input *input;
    json_t *options;         /* borrowed; an object (empty when not given) */
    const char *out_dir;     /* existing empty directory for output files */
    size_t max_output_bytes; /* all output files together */
};

typedef enum err_code (*op_fn)(const struct op_ctx *ctx, json_t **result, struct err *err);

struct op_def {
    const char *name;
    op_fn fn;
    const char *summary;
};

/* The registered operations, terminated by a NULL name (op_registry.c). */
const struct op_def *op_list(void);
/* Look up an operation by name; NULL when unknown. */
const struct op_def *op_find(const char *name);
/* The first key of obj that is not one of known (NULL-terminated), and in
 * *sug the nearest known one (or NULL); NULL when every key is known. For
 * strict options: a typo is an error naming the key, not a default kept. */
const char *op_unknown_key(json_t *obj, const char *const *known, const char **sug);
