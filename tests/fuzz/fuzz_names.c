/*
 * libFuzzer entry: the file names kiln derives from a server's bytes (a URL
 * path's last segment, a Content-Disposition value, a stored output's
 * name). The input is split at its first NUL: a URL path, then a header
 * value (the whole input is also a raw name). Whatever the bytes, a name
 * kiln derives is "" or one an input may have (input_check_name), and fits
 * the buffer it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fetch.h"
#include "fetch_int.h"
#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *name, size_t cap)
{
    struct err e;
    if (strlen(name) >= cap)
        abort();
    if (name[0] && input_check_name(name, "fuzz", &e) != E_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *s = malloc(size + 2);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    s[size + 1] = '\0';
    const char *path = s;
    const char *value = s + strlen(s) + 1;
    char out[256], small[8];
    fetch_path_file_name(path, out, sizeof(out));
    check(out, sizeof(out));
    fetch_path_file_name(path, small, sizeof(small));
    check(small, sizeof(small));
    fetch_disposition_name(value, out, sizeof(out));
    check(out, sizeof(out));
    fetch_clean_name(path, out, sizeof(out));
    check(out, sizeof(out));
    size_t cap = size ? 1 + data[0] % 64 : 1;
    char *o = malloc(cap);
    if (o) {
        fetch_clean_name(value, o, cap);
        check(o, cap);
        free(o);
    }
    free(s);
    return 0;
}
