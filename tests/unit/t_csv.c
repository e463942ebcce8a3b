#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "klimits.h"
#include "rd_csv.h"
#include "table.h"

/* A table read whole: cells joined as "a|b|c" lines for easy comparison. */
struct tc_read {
    enum err_code rc;
    struct err err;
    char names[512];
    char rows[4096];
    size_t nrows;
    json_t *notes;
    struct rd_csv_stats st;
};

static void tc_read_path(const char *path, const char *kind, const char *name, const char *opts,
                         struct tc_read *out)
{
    memset(out, 0, sizeof(*out));
    json_t *o = opts ? json_loads(opts, 0, NULL) : NULL;
    struct table_src *src = NULL;
    out->rc = table_open(path, kind, name, o, &src, &out->err);
    if (out->rc)
        goto done;
    size_t nl = 0;
    for (size_t i = 0; i < src->ncols && nl < sizeof(out->names) - 1; i++) {
        int k =
            snprintf(out->names + nl, sizeof(out->names) - nl, "%s%s", i ? "|" : "", src->names[i]);
        nl += k > 0 ? (size_t)k : 0;
    }
    if (nl >= sizeof(out->names))
        out->names[sizeof(out->names) - 1] = '\0';
    size_t rl = 0;
    for (;;) {
        const struct tcell *c;
        size_t n;
        bool eof;
        out->rc = table_next_row(src, &c, &n, &eof, &out->err);
        if (out->rc || eof)
            break;
        out->nrows++;
        for (size_t i = 0; i < n && rl < sizeof(out->rows) - 64; i++) {
            int k = snprintf(out->rows + rl, sizeof(out->rows) - rl, "%s%.*s%s", i ? "|" : "",
                             (int)c[i].len, c[i].s, c[i].type == TC_EMPTY ? "~" : "");
            rl += k > 0 ? (size_t)k : 0;
            if (rl >= sizeof(out->rows) - 64) {
                rl = sizeof(out->rows) - 64;
                out->rows[rl] = '\0';
            }
        }
        if (rl < sizeof(out->rows) - 2)
            out->rows[rl++] = '\n';
    }
    const char *fmt = json_string_value(json_object_get(src->notes, "format"));
    if (fmt && !strcmp(fmt, "csv"))
        rd_csv_stats(src, &out->st);
    out->notes = json_deep_copy(src->notes);
done:
    table_close(src);
    json_decref(o);
}

static void tc_read(const void *data, size_t len, const char *name, const char *opts,
                    struct tc_read *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", t_tmpdir(), name);
    if (!t_write_file(path, data, len)) {
        memset(out, 0, sizeof(*out));
        out->rc = E_IO;
        return;
    }
    const char *kind = strstr(name, ".json")  ? (strstr(name, ".jsonl") ? "jsonl" : "json")
                       : strstr(name, ".tsv") ? "tsv"
                                              : "csv";
    tc_read_path(path, kind, name, opts, out);
}

#define TC_S(lit) lit, sizeof(lit) - 1

static void t_csv_basic_and_sniff(void)
{
    struct tc_read r;
    tc_read(TC_S("a,b,c\n1,2,3\n4,5,6\n"), "x.csv", NULL, &r);
    T_ASSERT(r.rc == E_OK);
    T_EXPECT_STR(r.names, "a|b|c");
    T_EXPECT_STR(r.rows, "1|2|3\n4|5|6\n");
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "delimiter")), ",");
    json_decref(r.notes);

    static const char *const dl[] = {";", "\t", "|"};
    static const char *const src[] = {"x;y;z\n1,5;2;3\n4;5,5;6\n", "x\ty\tz\n1\t2\t3\n4\t5\t6\n",
                                      "x|y|z\n1|2|3\n4|5|6\n"};
    for (int i = 0; i < 3; i++) {
        tc_read(src[i], strlen(src[i]), "x.csv", NULL, &r);
        T_EXPECT_INT(r.rc, E_OK);
        T_EXPECT_STR(r.names, "x|y|z");
        T_EXPECT_STR(json_string_value(json_object_get(r.notes, "delimiter")), dl[i]);
        T_EXPECT_INT(r.nrows, 2);
        json_decref(r.notes);
    }
    /* ':' only when consistent and nothing else is. */
    tc_read(TC_S("a:b:c\n1:2:3\n4:5:6\n"), "x.csv", NULL, &r);
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "delimiter")), ":");
    json_decref(r.notes);
    tc_read(TC_S("t;v\n12:30:00;1\n13:45:10;2\n"), "x.csv", NULL, &r);
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "delimiter")), ";");
    json_decref(r.notes);
    /* A European export: ';' between quoted fields that hold commas splits
     * as evenly on ',' (it was read so, columns 'Name;"City'...); the
     * quotes say which (csv.Sniffer and pandas' sep=None pick ';'). */
    tc_read(TC_S("\"Name\";\"City, State\";\"Amount, EUR\"\n\"Smith, J\";\"Springfield, IL\";"
                 "\"1,50\"\n\"Doe, A\";\"Shelbyville, KY\";\"2,75\"\n"),
            "x.csv", NULL, &r);
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "delimiter")), ";");
    T_EXPECT_STR(r.names, "Name|City, State|Amount, EUR");
    T_EXPECT_STR(r.rows, "Smith, J|Springfield, IL|1,50\nDoe, A|Shelbyville, KY|2,75\n");
    json_decref(r.notes);
    tc_read(TC_S("\"a,b\";\"c,d\"\n\"1,2\";\"3,4\"\n"), "x.csv", NULL, &r);
    T_EXPECT_STR(r.names, "a,b|c,d");
    json_decref(r.notes);
    /* and a comma file with quoted semicolons stays a comma file */
    tc_read(TC_S("\"a;b\",\"c;d\"\n\"1;2\",\"3;4\"\n"), "x.csv", NULL, &r);
    T_EXPECT_STR(r.names, "a;b|c;d");
    json_decref(r.notes);
    /* Explicit delimiter and header=false. */
    tc_read(TC_S("1;2\n3;4\n"), "x.csv", "{\"delimiter\":\";\",\"header\":false}", &r);
    T_EXPECT_INT(r.rc, E_OK);
    T_EXPECT_STR(r.names, "column_1|column_2");
    T_EXPECT_STR(r.rows, "1|2\n3|4\n");
    json_decref(r.notes);
    tc_read(TC_S("a\n"), "x.csv", "{\"delimiter\":\"ab\"}", &r);
    T_EXPECT_INT(r.rc, E_INVALID);
    tc_read(TC_S("a\n"), "x.csv", "{\"header\":\"yes\"}", &r);
    T_EXPECT_INT(r.rc, E_INVALID);
}

static void t_csv_quoting(void)
{
    struct tc_read r;
    tc_read(TC_S("a,b\n\"x,y\",\"line1\nline2\"\n\"he said \"\"hi\"\"\",\"\"\n\"q\"tail,z\n"),
            "x.csv", NULL, &r);
    T_ASSERT(r.rc == E_OK);
    T_EXPECT_STR(r.rows, "x,y|line1\nline2\nhe said \"hi\"|\nqtail|z\n");
    T_EXPECT_INT(r.nrows, 3);
    json_decref(r.notes);
    /* A quote inside an unquoted field is literal. */
    tc_read(TC_S("a,b\nab\"c,d\n"), "x.csv", NULL, &r);
    T_EXPECT_STR(r.rows, "ab\"c|d\n");
    json_decref(r.notes);
}

static void t_csv_line_endings_and_blanks(void)
{
    struct tc_read r;
    tc_read(TC_S("a,b\r\n1,2\r\n\r\n3,4\r\n"), "x.csv", NULL, &r);
    T_EXPECT_STR(r.rows, "1|2\n3|4\n");
    T_EXPECT_INT(r.st.blank_lines, 1);
    json_decref(r.notes);
    tc_read(TC_S("a,b\r1,2\r3,\"x\ry\"\r"), "x.csv", NULL, &r);
    T_EXPECT_STR(r.rows, "1|2\n3|x\ry\n");
    json_decref(r.notes);
    tc_read(TC_S("a,b\n1,2\n  \n,\n5,6"), "x.csv", NULL, &r);
    T_EXPECT_STR(r.rows, "1|2\n~|~\n5|6\n");
    json_decref(r.notes);
}

static void t_csv_encodings(void)
{
    struct tc_read r;
    tc_read(TC_S("\xEF\xBB\xBFna\xC3\xAFve,b\n1,2\n"), "x.csv", NULL, &r);
    T_EXPECT_STR(r.names, "na\xC3\xAFve|b");
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "encoding")), "utf-8-sig");
    json_decref(r.notes);
    /* UTF-16LE/BE with BOM: "a,\u00e9\n1,2\n" */
    static const unsigned char le[] = {0xFF, 0xFE, 'a', 0,   ',', 0,   0xE9, 0,    '\n',
                                       0,    '1',  0,   ',', 0,   '2', 0,    '\n', 0};
    tc_read(le, sizeof(le), "x.csv", NULL, &r);
    T_EXPECT_INT(r.rc, E_OK);
    T_EXPECT_STR(r.names, "a|\xC3\xA9");
    T_EXPECT_STR(r.rows, "1|2\n");
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "encoding")), "utf-16le");
    json_decref(r.notes);
    static const unsigned char be[] = {0xFE, 0xFF, 0,    'a', 0,   ',', 0xD8, 0x3D, 0xDE,
                                       0x00, 0,    '\n', 0,   '1', 0,   ',',  0,    '2'};
    tc_read(be, sizeof(be), "x.csv", NULL, &r);
    T_EXPECT_STR(r.names, "a|\xF0\x9F\x98\x80");
    T_EXPECT_STR(r.rows, "1|2\n");
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "encoding")), "utf-16be");
    json_decref(r.notes);
    /* Invalid UTF-8 in the window: Windows-1252. */
    tc_read(TC_S("name,price\ncaf\xE9,\x80 5\n"), "x.csv", NULL, &r);
    T_EXPECT_STR(r.rows, "caf\xC3\xA9|\xE2\x82\xAC 5\n");
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "encoding")), "windows-1252");
    json_decref(r.notes);
    /* NUL bytes become U+FFFD and are counted. */
    tc_read("a,b\nx\0y,2\n", 10, "x.csv", NULL, &r);
    T_EXPECT_STR(r.rows, "x\xEF\xBF\xBDy|2\n");
    T_EXPECT_INT(json_integer_value(json_object_get(r.notes, "nulBytes")), 1);
    json_decref(r.notes);
}

static void t_csv_ragged_and_names(void)
{
    struct tc_read r;
    tc_read(TC_S("a,a,,a.1\n1,2\n1,2,3,4,5,6\n1,2,3,4\n"), "x.csv", NULL, &r);
    T_ASSERT(r.rc == E_OK);
    T_EXPECT_STR(r.names, "a|a.2|Unnamed: 2|a.1");
    T_EXPECT_STR(r.rows, "1|2|~|~\n1|2|3|4\n1|2|3|4\n");
    T_EXPECT_INT(json_integer_value(json_object_get(r.notes, "raggedRows")), 2);
    T_EXPECT_INT(json_integer_value(json_object_get(r.notes, "longRows")), 1);
    T_EXPECT_INT(json_integer_value(json_object_get(r.notes, "extraFieldsDropped")), 2);
    T_EXPECT_INT(json_integer_value(json_array_get(json_object_get(r.notes, "raggedRowLines"), 0)),
                 2);
    json_decref(r.notes);
}

static void t_csv_errors_and_caps(void)
{
    struct tc_read r;
    tc_read(TC_S("a,b\n1,2\n3,\"open\n4,5\n"), "x.csv", NULL, &r);
    T_EXPECT_INT(r.rc, E_PARSE);
    T_EXPECT_CONTAINS(r.err.msg, "row 3");
    T_EXPECT_CONTAINS(r.err.msg, "line 3");
    tc_read(TC_S(""), "x.csv", NULL, &r);
    T_EXPECT_INT(r.rc, E_PARSE);
    /* One field over LIM_CSV_FIELD_BYTES. */
    size_t big = (size_t)LIM_CSV_FIELD_BYTES + 10;
    char *p = malloc(big + 32);
    T_ASSERT(p);
    memcpy(p, "a,b,c\n1,2,", 10);
    memset(p + 10, 'x', big);
    memcpy(p + 10 + big, "\n", 1);
    tc_read(p, big + 11, "x.csv", NULL, &r);
    free(p);
    T_EXPECT_INT(r.rc, E_PARSE);
    T_EXPECT_CONTAINS(r.err.msg, "row 2 (line 2), column 3: field exceeds");
    /* More than LIM_CSV_COLUMNS fields. */
    size_t n = (size_t)LIM_CSV_COLUMNS + 1;
    p = malloc(n * 2 + 8);
    T_ASSERT(p);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = 'x';
        p[2 * i + 1] = ',';
    }
    p[2 * n - 1] = '\n';
    tc_read(p, 2 * n, "x.csv", NULL, &r);
    free(p);
    T_EXPECT_INT(r.rc, E_PARSE);
    T_EXPECT_CONTAINS(r.err.msg, "columns");
    /* Unsupported kinds. */
    struct table_src *src = NULL;
    struct err e;
    T_EXPECT_INT(table_open("/nonexistent", "xls", "a.xls", NULL, &src, &e), E_UNSUPPORTED);
    T_EXPECT_CONTAINS(e.msg, "legacy .xls");
    /* xlsx goes to the workbook reader, which reports the missing file. */
    T_EXPECT(table_open("/nonexistent", "xlsx", "a.xlsx", NULL, &src, &e) != E_OK);
    T_EXPECT_CONTAINS(e.msg, "workbook");
    T_EXPECT_INT(table_open("/nonexistent", "png", "a.png", NULL, &src, &e), E_UNSUPPORTED);
}

static void t_csv_block_boundaries(void)
{
    /* Quoted fields, CRLF and multi-byte characters across read blocks. */
    struct buf b;
    struct err e;
    buf_init(&b, 8u << 20);
    buf_append_str(&b, "id,text\r\n", &e);
    size_t rows = 0;
    while (b.len < (size_t)LIM_CSV_READ_BLOCK * 2 + 12345) {
        buf_printf(&b, &e, "%zu,\"caf\xC3\xA9 \"\"q\"\"\r\nnext, %zu\"\r\n", rows, rows);
        rows++;
    }
    struct tc_read r;
    tc_read(b.data, b.len, "x.csv", NULL, &r);
    buf_release(&b);
    T_EXPECT_INT(r.rc, E_OK);
    T_EXPECT_INT(r.nrows, rows);
    T_EXPECT_INT(r.st.min_fields, 2);
    T_EXPECT_INT(r.st.max_fields, 2);
    T_EXPECT_STR(json_string_value(json_object_get(r.notes, "encoding")), "utf-8");
    T_EXPECT_INT(json_integer_value(json_object_get(r.notes, "invalidBytes")), 0);
    json_decref(r.notes);
}

static void t_json_tables(void)
{
    struct tc_read r;
    tc_read(TC_S("[{\"a\":1,\"b\":\"x\"},{\"b\":null,\"c\":true,\"a\":2.5},{\"a\":{\"n\":[1]}}]"),
            "x.json", NULL, &r);
    T_ASSERT(r.rc == E_OK);
    T_EXPECT_STR(r.names, "a|b|c");
    T_EXPECT_STR(r.rows, "1|x|~\n2.5|~|True\n{\"n\":[1]}|~|~\n");
    json_decref(r.notes);
    tc_read(TC_S("[[\"id\",\"name\"],[1,\"en\"],[2]]"), "x.json", NULL, &r);
    T_EXPECT_STR(r.names, "id|name");
    T_EXPECT_STR(r.rows, "1|en\n2|~\n");
    json_decref(r.notes);
    tc_read(TC_S("{\"a\":1}\n\n{\"b\":2}\n"), "x.jsonl", NULL, &r);
    T_EXPECT_STR(r.names, "a|b");
    T_EXPECT_STR(r.rows, "1|~\n~|2\n");
    json_decref(r.notes);
    tc_read(TC_S("[1,"), "x.json", NULL, &r);
    T_EXPECT_INT(r.rc, E_PARSE);
    tc_read(TC_S("\"str\""), "x.json", NULL, &r);
    T_EXPECT_INT(r.rc, E_UNSUPPORTED);
}

/* Found by fuzzing: a JSON table whose only key is "" read its name from a
 * NULL key arena (undefined behaviour in the sanitizer build). */
static void t_json_empty_key(void)
{
    struct tc_read r;
    tc_read(TC_S("[{\"\":1},{\"\":\"x\"}]"), "x.json", NULL, &r);
    T_ASSERT(r.rc == E_OK);
    T_EXPECT_STR(r.names, "");
    T_EXPECT_STR(r.rows, "1\nx\n");
    json_decref(r.notes);
    tc_read(TC_S("{\"\":2}\n{\"b\":3}\n"), "x.jsonl", NULL, &r);
    T_ASSERT(r.rc == E_OK);
    T_EXPECT_STR(r.names, "|b");
    T_EXPECT_STR(r.rows, "2|~\n~|3\n");
    json_decref(r.notes);
}

/* Every CSV-like corpus file against the manifest's record/field counts. */
static void t_csv_corpus(void)
{
    char mpath[1024];
    snprintf(mpath, sizeof(mpath), "%s/MANIFEST.tsv", t_corpus_dir());
    char *m = t_read_file(mpath, NULL);
    if (!m) {
        t_skip("corpus not found");
        return;
    }
    size_t checked = 0;
    char *save = NULL;
    for (char *line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[16] = {0};
        size_t nf = 0;
        for (char *p = line; p && nf < 16;) {
            f[nf++] = p;
            char *t = strchr(p, '\t');
            if (t)
                *t++ = '\0';
            p = t;
        }
        if (nf < 10 || (strncmp(f[0], "csv/", 4) && strncmp(f[0], "nasty/", 6)))
            continue;
        const char *ext = strrchr(f[0], '.');
        if (!ext || (strcmp(ext, ".csv") && strcmp(ext, ".tsv") && strcmp(ext, ".txt")))
            continue;
        size_t rows, fmin, fmax;
        const char *feat = f[9];
        const char *rp = strstr(feat, "rows=");
        if (!rp || sscanf(rp, "rows=%zu fields=%zu-%zu", &rows, &fmin, &fmax) != 3)
            continue;
        /* Files whose dialect is outside this reader's contract: '#' comment
         * lines and backslash escapes are read as data (like pandas). */
        if (strstr(f[0], "comment") || strstr(f[0], "backslash"))
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", t_corpus_dir(), f[0]);
        struct tc_read r;
        tc_read_path(path, "csv", strrchr(f[0], '/') + 1, NULL, &r);
        if (r.rc && fmax == 0 && r.rc == E_PARSE) {
            checked++; /* an empty table: the reader says so */
            continue;
        }
        if (r.rc) {
            t_fail(__FILE__, __LINE__, "%s: %s", f[0], r.err.msg);
            continue;
        }
        char d = 0;
        const char *dp = strstr(feat, "delim='");
        if (dp)
            d = dp[7] == '\\' ? '\t' : dp[7];
        if (d && d != r.st.delimiter)
            t_fail(__FILE__, __LINE__, "%s: delimiter '%c', manifest '%c'", f[0], r.st.delimiter,
                   d);
        else if (r.st.records + r.st.blank_lines != rows)
            t_fail(__FILE__, __LINE__, "%s: %zu records + %zu blank, manifest rows=%zu", f[0],
                   r.st.records, r.st.blank_lines, rows);
        else if (r.st.max_fields != fmax ||
                 (r.st.min_fields != fmin && !(fmin == 0 && r.st.blank_lines)))
            t_fail(__FILE__, __LINE__, "%s: fields %zu-%zu, manifest %zu-%zu", f[0],
                   r.st.min_fields, r.st.max_fields, fmin, fmax);
        bool utf8 = strstr(feat, "enc=utf-8") != NULL;
        const char *enc = json_string_value(json_object_get(r.notes, "encoding"));
        if (utf8 && enc && strncmp(enc, "utf-8", 5))
            t_fail(__FILE__, __LINE__, "%s: encoding %s, manifest utf-8", f[0], enc);
        if (strstr(feat, "NOT-UTF-8") && enc && strcmp(enc, "windows-1252"))
            t_fail(__FILE__, __LINE__, "%s: encoding %s, expected windows-1252", f[0], enc);
        json_decref(r.notes);
        checked++;
    }
    free(m);
    T_EXPECT(checked >= 60);
}

static const struct t_case cases[] = {
    {"basic_and_sniff", t_csv_basic_and_sniff},
    {"quoting", t_csv_quoting},
    {"line_endings_and_blanks", t_csv_line_endings_and_blanks},
    {"encodings", t_csv_encodings},
    {"ragged_and_names", t_csv_ragged_and_names},
    {"errors_and_caps", t_csv_errors_and_caps, .fork = true, .timeout_s = 60},
    {"block_boundaries", t_csv_block_boundaries},
    {"json_tables", t_json_tables},
    {"json_empty_key", t_json_empty_key},
    {"corpus", t_csv_corpus, .fork = true, .timeout_s = 60},
    {0},
};
T_SUITE(csv, cases)
