#pragma once
/* UTF-8: encoding a code point, checking a sequence. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Write cp (at most U+10FFFF) as UTF-8 at o (room for 4 bytes); the byte count. */
size_t utf8_put(char *o, uint32_t cp);

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 when invalid,
 * (size_t)-1 when it is a valid prefix cut by the end of the data. */
static inline size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    for (size_t i = 1; i < k; i++) {
        if (i >= n)
            return (size_t)-1;
        unsigned d = p[i];
        if (i == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF))
            return 0;
    }
    return k;
}

/* What a file name may not hold at p (n bytes left): a byte that is not
 * UTF-8, a separator ('/', '\\') or a control character (C0, DEL, C1).
 * *k: the character's length (1 for a byte that is not UTF-8). */
enum utf8_name_bad { UTF8_NAME_OK, UTF8_NAME_NOT_UTF8, UTF8_NAME_SEPARATOR, UTF8_NAME_CONTROL };
static inline enum utf8_name_bad utf8_name_char(const unsigned char *p, size_t n, size_t *k)
{
    *k = utf8_seq(p, n);
    if (*k == 0 || *k == (size_t)-1) {
        *k = 1;
        return UTF8_NAME_NOT_UTF8;
    }
    if (*p == '/' || *p == '\\')
        return UTF8_NAME_SEPARATOR;
    if (*p < 0x20 || *p == 0x7f || (*k == 2 && p[0] == 0xC2 && p[1] <= 0x9F))
        return UTF8_NAME_CONTROL;
    return UTF8_NAME_OK;
}
