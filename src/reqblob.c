#include "reqblob.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "banned.h"

#ifdef KILN_FUZZ
#define RB_MIN_LEN 1 /* fuzzing: every value takes the skeleton path */
#else
#define RB_MIN_LEN 4096 /* shorter strings are cheap enough for the parser */
#endif
#define RB_MAX 64 /* blobs per request (files[] entries and the single input) */

struct rb_set {
    const char *text;
    size_t n;
    size_t off[RB_MAX], len[RB_MAX];
    char prefix[40]; /* "kiln-blob:<random>:" */
};

static _Thread_local struct rb_set rb_cur;

/* End of the JSON string whose opening quote is at t[i] (the index of its
 * closing quote, or len when unterminated); *plain: no escapes and only
 * printable ASCII inside. */
static size_t rb_string_end(const char *t, size_t len, size_t i, bool *plain)
{
    size_t j = i + 1;
    /* The common case: no backslash before the next quote. */
    const char *q = j < len ? memchr(t + j, '"', len - j) : NULL;
    if (q && !memchr(t + j, '\\', (size_t)(q - (t + j)))) {
        unsigned bad = 0;
        for (const unsigned char *u = (const unsigned char *)t + j; u < (const unsigned char *)q;
             u++)
            bad |= (unsigned)(*u < 0x20) | (unsigned)(*u > 0x7e);
        *plain = !bad;
        return (size_t)(q - t);
    }
    while (j < len) {
        unsigned char c = (unsigned char)t[j];
        if (c == '"') {
            *plain = false;
            return j;
        }
        j += c == '\\' ? 2 : 1;
    }
    *plain = false;
    return len;
}

/* Does key k (n bytes of the text) equal lit? */
static bool rb_is(const char *t, size_t k, size_t n, const char *lit)
{
    return n == strlen(lit) && !memcmp(t + k, lit, n);
}

char *reqblob_skeleton(const char *text, size_t len, size_t *out_len)
{
    struct rb_set *s = &rb_cur;
    memset(s, 0, sizeof(*s));
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return NULL;
    snprintf(s->prefix, sizeof(s->prefix), "kiln-blob:%016" PRIx64 ":", r);
    size_t nb = 0;
    /* Containers open so far (the first RB_DEPTH): their kind and the key
     * they are the value of (len 0: none). Only two places qualify:
     * {"arguments": {"fileBase64": ...}} and
     * {"arguments": {"files": [{"base64": ...}]}}; anything else (inputs,
     * options, code) stays as sent. */
    enum { RB_DEPTH = 5 };
    char kind[RB_DEPTH] = {0};
    size_t ck_at[RB_DEPTH] = {0}, ck_len[RB_DEPTH] = {0};
    size_t depth = 0;
    size_t key_at = 0, key_len = 0; /* the last string */
    bool after_colon = false;
    for (size_t i = 0; i < len && nb < RB_MAX; i++) {
        char c = text[i];
        if (c == '"') {
            bool plain = false;
            size_t e = rb_string_end(text, len, i, &plain);
            if (e >= len)
                break; /* unterminated: the parser reports it */
            size_t n = e - i - 1;
            if (after_colon && plain && n >= RB_MIN_LEN && depth < RB_DEPTH && kind[1] == '{' &&
                depth >= 2 && kind[2] == '{' && rb_is(text, ck_at[2], ck_len[2], "arguments") &&
                ((depth == 2 && rb_is(text, key_at, key_len, "fileBase64")) ||
                 (depth == 4 && kind[3] == '[' && rb_is(text, ck_at[3], ck_len[3], "files") &&
                  kind[4] == '{' && rb_is(text, key_at, key_len, "base64")))) {
                s->off[nb] = i + 1;
                s->len[nb] = n;
                nb++;
            }
            after_colon = false;
            key_at = i + 1;
            key_len = n;
            i = e;
        } else if (c == ':') {
            after_colon = true;
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth < RB_DEPTH) {
                kind[depth] = c;
                ck_at[depth] = after_colon ? key_at : 0;
                ck_len[depth] = after_colon ? key_len : 0;
            }
            after_colon = false;
        } else if (c == '}' || c == ']') {
            if (depth)
                depth--;
            after_colon = false;
        } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            after_colon = false;
        }
    }
    if (!nb) {
        memset(s, 0, sizeof(*s));
        return NULL;
    }
    size_t plen = strlen(s->prefix), cut = 0;
    for (size_t k = 0; k < nb; k++)
        cut += s->len[k];
    size_t cap = len - cut + nb * (plen + 4) + 1;
    char *out = malloc(cap);
    if (!out) {
        memset(s, 0, sizeof(*s));
        return NULL;
    }
    size_t o = 0, from = 0;
    for (size_t k = 0; k < nb; k++) {
        memcpy(out + o, text + from, s->off[k] - from);
        o += s->off[k] - from;
        o += (size_t)snprintf(out + o, cap - o, "%s%zu", s->prefix, k);
        from = s->off[k] + s->len[k];
    }
    memcpy(out + o, text + from, len - from);
    o += len - from;
    out[o] = '\0';
    s->text = text;
    s->n = nb;
    *out_len = o;
    return out;
}

bool reqblob_get(const char *str, size_t n, const char **p, size_t *plen)
{
    const struct rb_set *s = &rb_cur;
    size_t pl = strlen(s->prefix);
    if (!s->n || n <= pl || n > pl + 3 || memcmp(str, s->prefix, pl))
        return false;
    size_t k = 0;
    for (size_t i = pl; i < n; i++) {
        if (str[i] < '0' || str[i] > '9')
            return false;
        k = k * 10 + (size_t)(str[i] - '0');
    }
    if (k >= s->n)
        return false;
    *p = s->text + s->off[k];
    *plen = s->len[k];
    return true;
}

void reqblob_clear(void)
{
    memset(&rb_cur, 0, sizeof(rb_cur));
}

size_t reqblob_bom(const char *text, size_t len)
{
    return len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0;
}

json_t *reqblob_parse(const char *text, size_t len, struct err *err)
{
    json_error_t jerr;
    size_t sk_len = 0;
    size_t bom = reqblob_bom(text, len); /* it was refused, quoting an invisible character */
    text += bom;
    len -= bom;
    char *sk = reqblob_skeleton(text, len, &sk_len);
    json_t *req = json_loadb(sk ? sk : text, sk ? sk_len : len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req && sk) /* the text as sent: its own error message (or, should the
                       skeleton be wrong, its own parse) */
        req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(sk);
    if (!req)
        reqblob_json_error(err, &jerr);
    return req;
}

const char *reqblob_json_why(const json_error_t *je)
{
    switch (json_error_code(je)) {
    case json_error_null_character:
        return "a string holds \\u0000 (a NUL character), which a request cannot carry; "
               "send such data base64-encoded";
    case json_error_numeric_overflow:
        if (!strstr(je->text, "integer"))
            return "a number beyond the range of a double; send it as a string";
        return "an integer beyond 64 bits (from -9223372036854775808 to 9223372036854775807); "
               "send a larger one as a string";
    default:
        return je->text;
    }
}

enum err_code reqblob_json_error(struct err *err, const json_error_t *je)
{
    const char *why = reqblob_json_why(je);
    /* valid JSON that kiln's numbers and strings cannot hold, or no JSON */
    return err_set(err, E_INVALID, "%s at line %d column %d: %s",
                   why == je->text ? "malformed JSON" : "JSON kiln cannot take", je->line,
                   je->column, why);
}
