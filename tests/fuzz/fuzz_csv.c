/*
 * libFuzzer entry: the CSV/TSV/text reader (rd_csv.c through table_open).
 * Every input is read once with the default dialect sniffing, then once
 * more with a kind and options picked by its first byte (forced delimiter,
 * header off), so both the sniffer and the forced paths see every input.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "fz_util.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every row of path as kind; errors are expected, crashes are not. */
static void read_all(const char *path, const char *kind, json_t *options)
{
    struct err err;
    struct table_src *src = NULL;
    if (table_open(path, kind, "x.csv", options, &src, &err) != E_OK)
        return;
    for (;;) {
        const struct tcell *cells = NULL;
        size_t n = 0;
        bool eof = false;
        if (table_next_row(src, &cells, &n, &eof, &err) != E_OK || eof)
            break;
        /* Touch the cells so ASan sees stale or short buffers. */
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
    read_all(path, "csv", NULL);

    static const char *const kinds[] = {"csv", "tsv", "text"};
    static const char *const delims[] = {NULL, ",", ";", "tab", "|", ":", "\t", "x"};
    unsigned m = size ? data[0] : 0;
    json_t *opt = json_object();
    if (!opt)
        return 0;
    const char *d = delims[(m >> 2) & 7];
    if (d)
        json_object_set_new(opt, "delimiter", json_string(d));
    if (m & 0x20)
        json_object_set_new(opt, "header", json_false());
    read_all(path, kinds[m % 3], opt);
    json_decref(opt);
    return 0;
}
