/*
 * libFuzzer entry: the transform expression language (expr.c). The input
 * (up to its first NUL) is compiled against a fixed schema of every column
 * type and, when it compiles, evaluated over three fixed rows: typical
 * values, edge values (INT64_MIN, NaN, a 64 KiB string, the first and
 * last dates the readers make) and all nulls.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "klimits.h"
#include "xval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCOLS 8

static const char *const names[NCOLS] = {"a", "b", "s", "d", "t", "flag", "with space", "n"};
static const enum xtype types[NCOLS] = {XT_INT,      XT_FLOAT, XT_STRING, XT_DATE,
                                        XT_DATETIME, XT_BOOL,  XT_STRING, XT_INT};

static struct xval xs(const char *s)
{
    struct xval v = {.t = XT_STRING, .len = (uint32_t)strlen(s)};
    v.u.s = s;
    return v;
}

static struct xval xi(uint8_t t, int64_t i)
{
    struct xval v = {.t = t};
    v.u.i = i;
    return v;
}

static struct xval xf(uint8_t t, double f)
{
    struct xval v = {.t = t};
    v.u.f = f;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4 * (size_t)LIM_EXPR_BYTES)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    static char big[70000];
    if (!big[0])
        memset(big, 'x', sizeof(big) - 1);
    struct xval rows[3][NCOLS] = {
        {xi(XT_INT, 42), xf(XT_FLOAT, 2.5), xs("Hello, World"), xi(XT_DATE, 18628),
         xf(XT_DATETIME, 1609459200.5), xi(XT_BOOL, 1), xs(" spaced "), xi(XT_INT, -7)},
        {xi(XT_INT, INT64_MIN), xf(XT_FLOAT, NAN), xs(big), xi(XT_DATE, -719162),
         xf(XT_DATETIME, 253402300799.999), xi(XT_BOOL, 0), xs(""), xi(XT_INT, INT64_MAX)},
        {{0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}},
    };

    struct expr_schema sc = {.names = names, .types = types, .n = NCOLS};
    struct expr *e = NULL;
    struct err err;
    if (expr_compile(text, &sc, &e, &err) == E_OK) {
        struct xval_arena arena;
        xval_arena_init(&arena, 1u << 20);
        enum xtype want = expr_type(e);
        for (size_t r = 0; r < 3; r++) {
            struct xval out;
            if (expr_eval(e, rows[r], &arena, &out, &err) == E_OK) {
                if (out.t != XT_NULL && out.t != want)
                    abort(); /* contract: the static type or null */
                char tmp[XVAL_TEXT_MAX];
                size_t len = 0;
                const char *s = xval_text(&out, tmp, &len, NULL);
                volatile unsigned sum = 0;
                for (size_t i = 0; i < len; i++)
                    sum += (unsigned char)s[i];
            }
            xval_arena_reset(&arena);
        }
        xval_arena_release(&arena);
        expr_free(e);
    }
    free(text);
    return 0;
}
