#include "harness.h"

#include <stdint.h>
#include <stdlib.h>

#include "input.h"

static bool dec(const char *s, const char *want, size_t want_len)
{
    unsigned char *out = NULL;
    size_t n = 0;
    struct err e;
    if (input_b64_decode(s, strlen(s), 1000, "fileBase64", &out, &n, &e) != E_OK) {
        fprintf(stderr, "  decode '%s' failed: %s\n", s, e.msg);
        return false;
    }
    bool ok = n == want_len && !memcmp(out, want, n);
    free(out);
    return ok;
}

static enum err_code dec_err(const char *s, size_t max, char *msg, size_t msglen)
{
    unsigned char *out = NULL;
    size_t n = 0;
    struct err e;
    enum err_code rc = input_b64_decode(s, strlen(s), max, "fileBase64", &out, &n, &e);
    if (rc == E_OK)
        free(out);
    else if (msg)
        snprintf(msg, msglen, "%s", e.msg);
    return rc;
}

static void t_b64_valid(void)
{
    T_EXPECT(dec("", "", 0));
    T_EXPECT(dec("YQ==", "a", 1));
    T_EXPECT(dec("YQ", "a", 1)); /* padding optional */
    T_EXPECT(dec("YWI=", "ab", 2));
    T_EXPECT(dec("YWI", "ab", 2));
    T_EXPECT(dec("YWJj", "abc", 3));
    T_EXPECT(dec("YW Jj\nZA\r\n==", "abcd", 4)); /* whitespace tolerated */
    T_EXPECT(dec("+/+/", "\xfb\xff\xbf", 3));    /* standard alphabet */
    T_EXPECT(dec("-_-_", "\xfb\xff\xbf", 3));    /* URL-safe alphabet */
    T_EXPECT(dec("AAE=", "\0\1", 2));
}

static void t_b64_invalid(void)
{
    char msg[512];
    T_EXPECT_INT(dec_err("YQ*=", 100, msg, sizeof(msg)), E_INVALID);
    T_EXPECT_CONTAINS(msg, "unexpected character 0x2a at 2");
    T_EXPECT_CONTAINS(msg, "fileBase64");
    T_EXPECT_INT(dec_err("Y", 100, msg, sizeof(msg)), E_INVALID); /* 1 symbol: truncated */
    T_EXPECT_CONTAINS(msg, "truncated");
    T_EXPECT_INT(dec_err("YQ==YQ==", 100, msg, sizeof(msg)), E_INVALID); /* data after pad */
    T_EXPECT_INT(dec_err("YQ===", 100, NULL, 0), E_INVALID);
    T_EXPECT_INT(dec_err("Y===", 100, NULL, 0), E_INVALID);
    T_EXPECT_INT(dec_err("+_+_", 100, msg, sizeof(msg)), E_INVALID); /* mixed alphabets */
    T_EXPECT_CONTAINS(msg, "mixes");
    T_EXPECT_INT(dec_err("\xc3\xa9", 100, NULL, 0), E_INVALID);
}

/* The quad fast path against a plain encoder: random bytes of every length
 * near the quad boundaries, both alphabets, whitespace and line breaks at
 * random places, padding kept or dropped; and errors found past a long valid
 * prefix still name the right character. */
static size_t t_b64_enc(const unsigned char *in, size_t n, char *out, bool url, bool pad)
{
    const char *al = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                         : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t k = n - i < 3 ? n - i : 3;
        if (k > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (k > 2)
            v |= in[i + 2];
        out[o++] = al[v >> 18 & 63];
        out[o++] = al[v >> 12 & 63];
        if (k > 1)
            out[o++] = al[v >> 6 & 63];
        else if (pad)
            out[o++] = '=';
        if (k > 2)
            out[o++] = al[v & 63];
        else if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static void t_b64_fast_path(void)
{
    unsigned char data[700], *got = NULL;
    char enc[1000], spaced[2000], msg[512];
    unsigned seed = 12345;
    for (size_t n = 0; n < 700; n += (n < 40 ? 1 : 37)) {
        for (int variant = 0; variant < 4; variant++) {
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                data[i] = (unsigned char)(seed >> 16);
            }
            size_t len = t_b64_enc(data, n, enc, variant & 1, variant & 2);
            size_t o = 0;
            for (size_t i = 0; i < len; i++) {
                seed = seed * 1103515245u + 12345u;
                if ((seed >> 16) % 29 == 0)
                    spaced[o++] = " \n\r\t"[(seed >> 8) & 3];
                spaced[o++] = enc[i];
                if (variant == 3 && i % 76 == 75)
                    spaced[o++] = '\n';
            }
            spaced[o] = '\0';
            size_t gn = 0;
            struct err e;
            enum err_code rc = input_b64_decode(spaced, o, 1000, "fileBase64", &got, &gn, &e);
            T_EXPECT_INT(rc, E_OK);
            if (rc == E_OK) {
                T_EXPECT(gn == n && !memcmp(got, data, n));
                free(got);
            }
        }
    }
    /* An error far past the fast path's start. */
    memset(data, 'x', 600);
    t_b64_enc(data, 600, enc, false, false);
    enc[403] = '*';
    T_EXPECT_INT(dec_err(enc, 1000, msg, sizeof(msg)), E_INVALID);
    T_EXPECT_CONTAINS(msg, "0x2a at 403");
    /* A URL-safe symbol after a standard one, both inside whole quads. */
    t_b64_enc(data, 600, enc, false, false);
    enc[10] = '+';
    enc[403] = '-';
    T_EXPECT_INT(dec_err(enc, 1000, msg, sizeof(msg)), E_INVALID);
    T_EXPECT_CONTAINS(msg, "mixes");
    /* The output cap inside the fast path. */
    t_b64_enc(data, 600, enc, false, false);
    T_EXPECT_INT(dec_err(enc, 600, NULL, 0), E_OK);
    T_EXPECT_INT(dec_err(enc, 599, msg, sizeof(msg)), E_TOO_LARGE);
    T_EXPECT_CONTAINS(msg, "limit of 599 bytes");
}

static void t_b64_size_cap(void)
{
    char msg[512];
    /* 8 symbols = 6 bytes: fits in 6, not in 5. */
    T_EXPECT_INT(dec_err("YWJjZGVm", 6, NULL, 0), E_OK);
    T_EXPECT_INT(dec_err("YWJjZGVm", 5, msg, sizeof(msg)), E_TOO_LARGE);
    T_EXPECT_CONTAINS(msg, "limit of 5 bytes");
}

static void t_names(void)
{
    struct err e;
    T_EXPECT_INT(input_check_name("data.csv", "fileName", &e), E_OK);
    T_EXPECT_INT(input_check_name("résumé 2024.xlsx", "fileName", &e), E_OK);
    T_EXPECT_INT(input_check_name(".hidden", "fileName", &e), E_OK);
    T_EXPECT_INT(input_check_name("../x", "fileName", &e), E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "fileName");
    T_EXPECT_CONTAINS(e.msg, "not a path");
    T_EXPECT_INT(input_check_name("/etc/passwd", "fileName", &e), E_INVALID);
    T_EXPECT_INT(input_check_name("a\\b", "fileName", &e), E_INVALID);
    T_EXPECT_INT(input_check_name("..", "fileName", &e), E_INVALID);
    T_EXPECT_INT(input_check_name(".", "fileName", &e), E_INVALID);
    T_EXPECT_INT(input_check_name("", "fileName", &e), E_INVALID);
    T_EXPECT_INT(input_check_name("a\nb", "fileName", &e), E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "control character");
    T_EXPECT_INT(input_check_name("a\x7f", "fileName", &e), E_INVALID);
    T_EXPECT_INT(input_check_name(" a", "fileName", &e), E_INVALID);
    /* C1 controls (U+0085, U+009B: a terminal's CSI) and bytes that are not
     * UTF-8 (names derived from a URL or a header) */
    T_EXPECT_INT(input_check_name("a\xc2\x85.csv", "fileName", &e), E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "control character at byte 1");
    T_EXPECT_INT(input_check_name("r\xc2\x9b"
                                  "2J.csv",
                                  "fileName", &e),
                 E_INVALID);
    T_EXPECT_INT(input_check_name("\xc2\xa0nbsp.csv", "fileName", &e), E_OK);
    T_EXPECT_INT(input_check_name("a\xff.csv", "fileName", &e), E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "not valid UTF-8 at byte 1");
    T_EXPECT_INT(input_check_name("a\xc3", "fileName", &e), E_INVALID);
    T_EXPECT_INT(input_check_name("\xed\xa0\x80.csv", "fileName", &e), E_INVALID);
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    T_EXPECT_INT(input_check_name(longname, "fileName", &e), E_INVALID);
    longname[255] = '\0';
    T_EXPECT_INT(input_check_name(longname, "fileName", &e), E_OK);
}

static void t_sessions(void)
{
    struct err e;
    T_EXPECT_INT(input_check_session("abc-1_2.x", &e), E_OK);
    T_EXPECT_INT(input_check_session("", &e), E_INVALID);
    T_EXPECT_INT(input_check_session("..", &e), E_INVALID);
    T_EXPECT_INT(input_check_session("a/b", &e), E_INVALID);
    T_EXPECT_INT(input_check_session("a b", &e), E_INVALID);
}

#define SNIFF(lit, name) input_sniff((const unsigned char *)(lit), sizeof(lit) - 1, name)

static void t_sniff(void)
{
    T_EXPECT_STR(SNIFF("a,b,c\n1,2,3\n4,5,6\n", NULL), "csv");
    T_EXPECT_STR(SNIFF("a;b;c\n1;2;3\n", NULL), "csv");
    T_EXPECT_STR(SNIFF("a\tb\tc\n1\t2\t3\n", NULL), "tsv");
    T_EXPECT_STR(SNIFF("\xEF\xBB\xBF"
                       "x,y\n1,2\n",
                       NULL),
                 "csv");
    T_EXPECT_STR(SNIFF("just some words\nand more\n", NULL), "text");
    T_EXPECT_STR(SNIFF("just some words\n", "notes.csv"), "csv"); /* name decides text */
    T_EXPECT_STR(SNIFF("[{\"a\":1},{\"a\":2}]", NULL), "json");
    T_EXPECT_STR(SNIFF("{\"a\":1}\n{\"a\":2}\n", NULL), "jsonl");
    T_EXPECT_STR(SNIFF("{\"a\":\n 1}\n", NULL), "json");
    T_EXPECT_STR(SNIFF("{\"a\":1}\n{\"a\":2}\n", "x.json"), "json");
    T_EXPECT_STR(SNIFF("\x89PNG\r\n\x1a\n....", NULL), "png");
    T_EXPECT_STR(SNIFF("\xFF\xD8\xFF\xE0", NULL), "jpeg");
    T_EXPECT_STR(SNIFF("GIF89a", NULL), "gif");
    T_EXPECT_STR(SNIFF("%PDF-1.7", NULL), "pdf");
    T_EXPECT_STR(SNIFF("PK\x03\x04....[Content_Types].xml....xl/workbook.xml", NULL), "xlsx");
    T_EXPECT_STR(SNIFF("PK\x03\x04....stuff", NULL), "zip");
    T_EXPECT_STR(SNIFF("PK\x03\x04....stuff", "book.xlsx"), "xlsx");
    T_EXPECT_STR(SNIFF("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", NULL), "xls");
    T_EXPECT_STR(SNIFF("\xFF\xFE"
                       "a\0,\0b\0",
                       NULL),
                 "csv");
    T_EXPECT_STR(SNIFF("ab\0cd", NULL), "binary");
    T_EXPECT_STR(SNIFF("", NULL), "text");
}

static void t_sniff_corpus(void)
{
    char path[4096];
    static const struct {
        const char *file, *kind;
    } files[] = {
        {"csv/iris.csv", "csv"},
        {"csv/dummy.tsv", "tsv"},
        {"csv/pipe_delimited_typed.csv", "csv"},
        {"csv/german_semicolon_trailing_delimiter.csv", "csv"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", t_corpus_dir(), files[i].file);
        T_EXPECT_STR(input_sniff_file(path, NULL), files[i].kind);
    }
}

static void t_mime(void)
{
    T_EXPECT_STR(input_mime_for_name("a.CSV"), "text/csv");
    T_EXPECT_STR(input_mime_for_name("plots/p.png"), "image/png");
    T_EXPECT_STR(input_mime_for_name("x.xlsx"),
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    T_EXPECT_STR(input_mime_for_name("noext"), "application/octet-stream");
    T_EXPECT_STR(input_ext_for_kind("csv"), ".csv");
    T_EXPECT_STR(input_ext_for_kind("nope"), "");
}

static const struct t_case cases[] = {
    {"b64_valid", t_b64_valid},
    {"b64_invalid", t_b64_invalid},
    {"b64_size_cap", t_b64_size_cap},
    {"b64_fast_path", t_b64_fast_path},
    {"names", t_names},
    {"sessions", t_sessions},
    {"sniff", t_sniff},
    {"sniff_corpus", t_sniff_corpus},
    {"mime", t_mime},
    {0},
};
T_SUITE(input, cases)
