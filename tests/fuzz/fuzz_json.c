/*
 * libFuzzer entry: the JSON / JSON Lines reader (rd_json.c through
 * table_open). Each input is read as "json" and as "jsonl"; the first byte
 * also turns option "header" off for the second read.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "fz_util.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(const char *path, const char *kind, json_t *options)
{
    struct err err;
    struct table_src *src = NULL;
    if (table_open(path, kind, "x.json", options, &src, &err) != E_OK)
        return;
    for (;;) {
        const struct tcell *cells = NULL;
        size_t n = 0;
        bool eof = false;
        if (table_next_row(src, &cells, &n, &eof, &err) != E_OK || eof)
            break;
        volatile unsigned sum = 0;
        for (size_t i = 0; i < n; i++)
            if (cells[i].len) /* first and last byte: cheap on huge cells */
                sum += (unsigned char)cells[i].s[0] + (unsigned char)cells[i].s[cells[i].len - 1];
        if (n != src->ncols)
            abort(); /* rows are padded/cut to the header width */
    }
    free(json_dumps(src->notes, 0));
    table_close(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write(data, size);
    read_all(path, "json", NULL);
    json_t *opt = json_object();
    if (!opt)
        return 0;
    if (size && (data[0] & 1))
        json_object_set_new(opt, "header", json_false());
    read_all(path, "jsonl", opt);
    read_all(path, "json", opt);
    json_decref(opt);
    return 0;
}
