#include "op.h"
#include "op_analyze.h"
#include "op_parse_excel.h"
#include "op_transform.h"

#include <jansson.h>

#include <string.h>

#include "expr.h"

#include "banned.h"

/* Sorted by name. Each operation's entry is added when it lands. */
static const struct op_def op_table[] = {
    {"analyze", op_analyze, "statistics of a table with HTML/XLSX reports"},
    {"parse_excel", op_parse_excel, "every sheet of an .xlsx into CSV/JSON files"},
    {"transform", op_transform, "steps (filter, derive, group, sort...) into CSV/JSON/XLSX"},
    {NULL, NULL, NULL},
};

const struct op_def *op_list(void)
{
    return op_table;
}

const struct op_def *op_find(const char *name)
{
    for (const struct op_def *d = op_table; d->name; d++)
        if (!strcmp(d->name, name))
            return d;
    return NULL;
}

const char *op_unknown_key(json_t *obj, const char *const *known, const char **sug)
{
    const char *key;
    json_t *v;
    size_t n = 0;
    while (known[n])
        n++;
    *sug = NULL;
    json_object_foreach(obj, key, v)
    {
        size_t k = 0;
        while (k < n && strcmp(known[k], key))
            k++;
        if (k == n) {
            *sug = expr_suggest(key, known, n);
            return key;
        }
    }
    return NULL;
}
