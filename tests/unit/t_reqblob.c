#include "harness.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "reqblob.h"

/* A request text with a fileBase64 value of n 'A's (and what surrounds it). */
static char *t_req(const char *before, size_t n, const char *after)
{
    size_t lb = strlen(before), la = strlen(after);
    char *t = malloc(lb + n + la + 1);
    memcpy(t, before, lb);
    memset(t + lb, 'A', n);
    memcpy(t + lb + n, after, la + 1);
    return t;
}

/* The value of key k of object o in the parsed skeleton, resolved. */
static bool t_resolved(json_t *o, const char *k, size_t want_len)
{
    json_t *v = json_object_get(o, k);
    const char *p = NULL;
    size_t n = 0;
    if (!json_is_string(v) || !reqblob_get(json_string_value(v), json_string_length(v), &p, &n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] != 'A')
            return false;
    return n == want_len;
}

static void t_replaced_and_resolved(void)
{
    char *t = t_req("{\"action\":\"processFile\",\"arguments\":{\"fileBase64\" :\n \"", 100000,
                    "\",\"files\":[{\"fileBase64\":\"QUJD\"}],\"code\":\"x\"}}");
    size_t n = 0;
    char *sk = reqblob_skeleton(t, strlen(t), &n);
    T_EXPECT(sk != NULL);
    if (sk) {
        T_EXPECT(n < 400);
        json_error_t je;
        json_t *req = json_loadb(sk, n, JSON_REJECT_DUPLICATES, &je);
        T_EXPECT(req != NULL);
        json_t *args = json_object_get(req, "arguments");
        T_EXPECT(t_resolved(args, "fileBase64", 100000));
        /* A short value is left to the parser. */
        json_t *f0 = json_array_get(json_object_get(args, "files"), 0);
        T_EXPECT_STR(json_string_value(json_object_get(f0, "fileBase64")), "QUJD");
        json_decref(req);
        free(sk);
    }
    reqblob_clear();
    /* After clear, a placeholder means nothing. */
    const char *p;
    size_t pn;
    T_EXPECT(!reqblob_get("kiln-blob:0000000000000000:0", 28, &p, &pn));
    free(t);
}

static void t_left_alone(void)
{
    /* Each: the text before and after 9000 'A's that must stay as sent. */
    static const char *const cases[][2] = {
        /* escapes inside: the parser must see them */
        {"{\"arguments\":{\"fileBase64\":\"\\u0041", "\"}}"},
        /* a key that merely contains the name; the name inside another
         * string; an array element */
        {"{\"arguments\":{\"xfileBase64\":\"", "\"}}"},
        {"{\"arguments\":{\"code\":\"\\\"fileBase64\\\":\\\"", "\"}}"},
        {"{\"arguments\":{\"fileBase64\":[\"", "\"]}}"},
        /* non-ASCII bytes: left for the parser to judge */
        {"{\"arguments\":{\"fileBase64\":\"\xc3\xa9", "\"}}"},
        /* user data using the names: inputs, the top level, a files entry's
         * fileBase64, options */
        {"{\"arguments\":{\"inputs\":{\"fileBase64\":\"", "\"}}}"},
        {"{\"fileBase64\":\"", "\"}"},
        {"{\"arguments\":{\"files\":[{\"fileBase64\":\"", "\"}]}}"},
        {"{\"arguments\":{\"options\":{\"files\":[{\"base64\":\"", "\"}]}}}"},
        /* unterminated */
        {"{\"arguments\":{\"fileBase64\":\"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        char *t = t_req(cases[i][0], 9000, cases[i][1]);
        char *sk = reqblob_skeleton(t, strlen(t), &n);
        if (sk)
            fprintf(stderr, "  case %zu was replaced\n", i);
        T_EXPECT(sk == NULL);
        free(sk);
        free(t);
    }
    reqblob_clear();
}

static void t_several(void)
{
    /* Two large values in files[] and a key with an escaped quote before them. */
    char *a = t_req("{\"k\\\"ey\":1,\"arguments\":{\"x\":[{}],\"files\":[{\"base64\":\"", 5000,
                    "\"},{\"name\":\"b\",\"base64\":\"");
    char *t = t_req(a, 7000, "\"}]}}");
    size_t n = 0;
    char *sk = reqblob_skeleton(t, strlen(t), &n);
    T_EXPECT(sk != NULL);
    if (sk) {
        json_t *req = json_loadb(sk, n, 0, NULL);
        json_t *files = json_object_get(json_object_get(req, "arguments"), "files");
        T_EXPECT(t_resolved(json_array_get(files, 0), "base64", 5000));
        T_EXPECT(t_resolved(json_array_get(files, 1), "base64", 7000));
        json_decref(req);
        free(sk);
    }
    reqblob_clear();
    free(a);
    free(t);
}

static const struct t_case cases[] = {
    {"replaced_and_resolved", t_replaced_and_resolved},
    {"left_alone", t_left_alone},
    {"several", t_several},
    {0},
};
T_SUITE(reqblob, cases)
