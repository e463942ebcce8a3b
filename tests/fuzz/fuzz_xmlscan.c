/*
 * libFuzzer entry: operations/xmlscan.c on raw bytes. The input is scanned
 * once whole and once in small reads (1 to 8 bytes, from the first byte):
 * the events, the error and its message must be the same, so that no
 * boundary between two reads of an inflated part can change what a
 * worksheet says. Sanitizers watch the in-place decoding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_xmlscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    size_t chunk = 1 + data[0] % 8;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct buf a, b;
    char ma[256], mb[256];
    buf_init(&a, 64u << 20);
    buf_init(&b, 64u << 20);
    fz_xmlscan_events(p, n, (size_t)-1, &a, ma, sizeof ma);
    fz_xmlscan_events(p, n, chunk, &b, mb, sizeof mb);
    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len)) || strcmp(ma, mb)) {
        fprintf(stderr, "whole and %zu-byte reads differ:\n%.*s\n(%s)\n---\n%.*s\n(%s)\n", chunk,
                (int)a.len, a.data ? a.data : "", ma, (int)b.len, b.data ? b.data : "", mb);
        abort();
    }
    buf_release(&a);
    buf_release(&b);
    return 0;
}
