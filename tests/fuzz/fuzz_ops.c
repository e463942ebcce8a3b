/*
 * libFuzzer entry: the processFile operations (analyze, parse_excel,
 * transform) end to end on fuzzed files, outputs included (reports,
 * CSV/JSON/XLSX writers). The first byte picks the operation, the input's
 * name (so the sniffed kind varies) and small fixed options; the file is
 * the rest of the input. Inputs over 64 KiB are skipped to keep runs short.
 * Outputs go to a per-process temp dir that is emptied after each run.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fz_util.h"
#include "input.h"
#include "op.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out_dir[64];

static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (unlink(p) != 0) {
            empty_dir(p);
            rmdir(p);
        }
    }
    closedir(d);
}

static void cleanup(void)
{
    if (out_dir[0]) {
        empty_dir(out_dir);
        rmdir(out_dir);
    }
}

/* Transform steps that use the table's own column names (first and last),
 * so they get past name checks; variant v picks the pipeline. */
static json_t *transform_steps(const char *path, const char *kind, const char *name, unsigned v)
{
    struct err err;
    struct table_src *src = NULL;
    json_t *steps = json_array();
    if (!steps || table_open(path, kind, name, NULL, &src, &err) != E_OK || !src->ncols) {
        table_close(src);
        return steps;
    }
    const char *c0 = src->names[0];
    const char *cl = src->names[src->ncols - 1];
    char ex[512];
    switch (v % 4) {
    case 0:
        snprintf(ex, sizeof(ex), "[%s] is not null or length(to_string([%s])) > 2", c0, cl);
        json_array_append_new(steps, json_pack("{s:s, s:s}", "op", "filter", "where", ex));
        snprintf(ex, sizeof(ex), "to_string([%s]) || '-' || to_string([%s])", c0, cl);
        json_array_append_new(
            steps, json_pack("{s:s, s:s, s:s}", "op", "derive", "column", "k", "expr", ex));
        json_array_append_new(steps, json_pack("{s:s, s:[s]}", "op", "sort", "by", "-k"));
        break;
    case 1:
        json_array_append_new(
            steps, json_pack("{s:s, s:[s], s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:s}]}", "op",
                             "group", "by", c0, "aggs", "fn", "count", "as", "rows", "column", cl,
                             "fn", "max", "column", cl, "fn", "count_distinct", "as", "nd"));
        break;
    case 2:
        json_array_append_new(steps, json_pack("{s:s, s:s}", "op", "fill", "method", "ffill"));
        json_array_append_new(steps, json_pack("{s:s}", "op", "dedupe"));
        json_array_append_new(steps, json_pack("{s:s, s:i}", "op", "limit", "n", 20));
        break;
    default:
        json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:s}", "op", "cast", "column", cl,
                                               "to", "string", "onError", "null"));
        json_array_append_new(steps, json_pack("{s:s, s:[{s:s, s:b, s:s}]}", "op", "sort", "by",
                                               "column", c0, "desc", 1, "nulls", "first"));
        break;
    }
    table_close(src);
    return steps;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    if (!out_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(out_dir, sizeof(out_dir), "%s/kiln-fuzz-ops-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(out_dir))
            abort();
        atexit(cleanup);
    }
    static const char *const ops[] = {"analyze", "parse_excel", "transform", "transform"};
    static const char *const names[] = {"x.csv", "x.xlsx", "x.json", "x.tsv"};
    static const char *const formats[] = {"csv", "json", "jsonl", "xlsx"};
    static const char *const reports[] = {"both", "html", "xlsx", "none"};
    unsigned m = data[0];
    data++;
    size--;
    const char *opname = ops[m & 3];
    const char *name = names[(m >> 2) & 3];
    const char *kind = input_sniff(data, size, name);
    if (!kind)
        kind = "";
    const char *path = fz_write(data, size);

    json_t *opt = json_object();
    if (!opt)
        return 0;
    if (!strcmp(opname, "analyze")) {
        json_object_set_new(opt, "report", json_string(reports[(m >> 4) & 3]));
        json_object_set_new(opt, "topN", json_integer(3));
    } else if (!strcmp(opname, "parse_excel")) {
        static const char *const pe_formats[] = {"csv", "json", "jsonl", "csv"};
        json_object_set_new(opt, "format", json_string(pe_formats[(m >> 4) & 3]));
        if (m & 0x40)
            json_object_set_new(opt, "header", json_false());
    } else {
        json_object_set_new(opt, "steps", transform_steps(path, kind, name, m >> 4));
        json_object_set_new(opt, "output", json_pack("{s:s}", "format", formats[(m >> 6) & 3]));
    }

    struct op_input in = {.path = path, .name = name, .kind = kind, .size = size};
    struct op_ctx ctx = {
        .input = &in, .options = opt, .out_dir = out_dir, .max_output_bytes = 8u << 20};
    const struct op_def *def = op_find(opname);
    json_t *result = NULL;
    struct err err;
    enum err_code rc = def ? def->fn(&ctx, &result, &err) : E_INVALID;
    if (rc == E_OK)
        free(json_dumps(result, 0));
    if (getenv("FZ_VERBOSE")) /* for checking the seeds: what each run did */
        fprintf(stderr, "%s kind=%s rc=%d %s\n", opname, kind, (int)rc, rc ? err.msg : "ok");
    json_decref(result);
    json_decref(opt);
    empty_dir(out_dir);
    return 0;
}
