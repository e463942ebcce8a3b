/*
 * expr: the expression language of the transform operation.
 *
 * expr_compile() parses an expression (recursive descent with precedence
 * climbing) against a schema of typed columns into a compact node array
 * with a static result type; expr_eval() evaluates it over one row with no
 * allocation except result strings, which go to the caller's scratch arena.
 * Language (docs/transform.md): literals, column references (bare, [with
 * spaces] or `backticked`), + - * / % (division by zero gives null), unary
 * -, comparisons, and/or/not with SQL three-valued logic, in (...), is
 * [not] null, [not] between a and b, || concatenation and a set of
 * functions. Errors name the character (1-based) where they were found.
 * Sizes are capped by LIM_EXPR_* (klimits.h). A compiled expression is
 * read-only during evaluation; not thread-safe to compile.
 */
#pragma once

#include <stddef.h>

#include "err.h"
#include "xval.h"

struct expr;

/* The columns an expression may refer to (borrowed for the compile). */
struct expr_schema {
    const char *const *names;
    const enum xtype *types;
    size_t n;
};

/* Compile text against schema. On success *out is owned by the caller
 * (expr_free). E_INVALID with "expression error at character N: ..." for
 * syntax, unknown names (with a suggestion) and type errors; E_LIMIT when
 * a LIM_EXPR_* cap is passed; E_NOMEM. */
enum err_code expr_compile(const char *text, const struct expr_schema *schema, struct expr **out,
                           struct err *err);
/* The static result type (XT_NULL for the literal null). */
enum xtype expr_type(const struct expr *e);
/* Evaluate over row (values in schema order). The result's type is
 * expr_type(e) or XT_NULL; strings it makes live in scratch, others are
 * borrowed from row. E_LIMIT / E_NOMEM from the arena only. */
enum err_code expr_eval(const struct expr *e, const struct xval *row, struct xval_arena *scratch,
                        struct xval *out, struct err *err);
void expr_free(struct expr *e);

/* The column of names closest to name (edit distance <= 2 or equal
 * ignoring case), or NULL: for "did you mean" hints. */
const char *expr_suggest(const char *name, const char *const *names, size_t n);
