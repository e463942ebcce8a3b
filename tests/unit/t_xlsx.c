#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <xlsxwriter.h>

#include "../fuzz/fz_xlsx.h"
#include "op.h"
#include "rd_xlsx.h"

/* ---- helpers ---- */

static char *tx_path(const char *name)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", t_tmpdir(), name);
    return p;
}

/* Run parse_excel on path into a fresh out dir; returns the code, *res the result. */
static enum err_code tx_run(const char *path, const char *opts_json, const char *out_dir,
                            size_t max_out, json_t **res, struct err *e)
{
    const struct op_def *d = op_find("parse_excel");
    if (!d)
        return E_INTERNAL;
    mkdir(out_dir, 0755);
    struct op_input in = {path, "in.xlsx", "xlsx", 0};
    json_t *opts = json_loads(opts_json ? opts_json : "{}", 0, NULL);
    struct op_ctx ctx = {&in, opts, out_dir, max_out};
    *res = NULL;
    enum err_code rc = d->fn(&ctx, res, e);
    json_decref(opts);
    return rc;
}

/* The cell of row r (1-based) and col (0-based) as text, or "" (reader level). */
struct tx_grid {
    char *text[64][8];
    int type[64][8];
};

static bool tx_read_sheet(const char *path, size_t sheet, struct tx_grid *g)
{
    struct err e = {0};
    struct xlsx *x = NULL;
    struct xlsx_sheet *s = NULL;
    const struct xlsx_row *r;
    memset(g, 0, sizeof *g);
    if (xlsx_open(path, &x, &e) || xlsx_sheet_open(x, sheet, &s, &e)) {
        t_fail(__FILE__, __LINE__, "open '%s': %s", path, e.msg);
        xlsx_free(x);
        return false;
    }
    while (!xlsx_sheet_next(s, &r, &e) && r) {
        for (size_t i = 0; i < r->ncells; i++) {
            const struct xlsx_cell *c = &r->cells[i];
            if (r->index >= 64 || c->col >= 8)
                continue;
            char buf[64];
            const char *t = c->str;
            if (c->type == XLSX_NUMBER || c->type == XLSX_BOOL) {
                xlsx_num_fmt(c->num, buf, sizeof buf);
                if (c->str)
                    T_EXPECT_STR(c->str, buf); /* the kept text is the canonical one */
                t = buf;
            }
            g->text[r->index][c->col] = strdup(t);
            g->type[r->index][c->col] = c->type;
        }
    }
    T_EXPECT_STR(e.msg, "");
    xlsx_sheet_close(s);
    xlsx_free(x);
    return true;
}

static void tx_grid_free(struct tx_grid *g)
{
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 8; j++)
            free(g->text[i][j]);
}

#define TX_CELL(g, r, c) ((g)->text[r][c] ? (g)->text[r][c] : "")

/* ---- pure functions ---- */

static void t_xlsx_num_fmt(void)
{
    char b[64];
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {-1.2, "-1.2"},
        {1.2e8, "120000000"},
        {1.2e20, "1.2e+20"},
        {1.2e-20, "1.2e-20"},
        {1e100, "1e+100"},
        {1e-100, "1e-100"},
        {0.1 + 0.2, "0.30000000000000004"},
        {8595602512225.0, "8595602512225"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {1e16, "1e+16"},
        {123.456, "123.456"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xlsx_num_fmt(cases[i].v, b, sizeof b);
        T_EXPECT_STR(b, cases[i].s);
    }
    /* Random doubles (any bit pattern, subnormals included, short decimals):
     * the text reads back as the same double and has as few significant
     * digits as the shortest %.*e that does (counted up from 1 here). */
    uint64_t seed = 7;
    size_t bad = 0;
    for (int i = 0; i < 200000 && bad < 5; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double v;
        if (i % 3 == 0) {
            memcpy(&v, &seed, sizeof v);
        } else if (i % 3 == 1) {
            v = ldexp((double)(seed >> 11), (int)(seed % 2100) - 1100);
        } else {
            v = round((double)(seed >> 20) / 1000.0) / (double)(1 + seed % 7);
        }
        if (!isfinite(v) || v == 0 || (v == floor(v) && fabs(v) < 1e16))
            continue; /* non-finite, zero and integers: printed their own way */
        xlsx_num_fmt(v, b, sizeof b);
        char m[40];
        int want = 1;
        for (; want < 17; want++) {
            snprintf(m, sizeof m, "%.*e", want - 1, v);
            if (strtod(m, NULL) == v)
                break;
        }
        int sig = 0, cnt = 0;
        bool started = false;
        for (const char *q = b; *q && *q != 'e'; q++) {
            if (*q < '0' || *q > '9')
                continue;
            started = started || *q != '0';
            if (started && (++cnt, *q != '0'))
                sig = cnt;
        }
        if (strtod(b, NULL) != v || sig != want) {
            fprintf(stderr, "  %.17g -> %s (%d digits, want %d)\n", v, b, sig, want);
            bad++;
        }
    }
    T_EXPECT(bad == 0);
}

/* The fast number path agrees with strtod bit for bit, and declines what it does not read. */
static void t_xlsx_fast_num(void)
{
    static const char *declined[] = {"",
                                     "-",
                                     ".5",
                                     "-.5",
                                     "1.",
                                     "1e5",
                                     "1E-7",
                                     " 1",
                                     "1 ",
                                     "+1",
                                     "0x10",
                                     "inf",
                                     "nan",
                                     "1.2.3",
                                     "--1",
                                     "1234567890123456",
                                     "0.1234567890123456"};
    for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++) {
        double d;
        if (xlsx_fast_num(declined[i], strlen(declined[i]), &d))
            t_fail(__FILE__, __LINE__, "'%s' taken by the fast path", declined[i]);
    }
    static const char *taken[] = {
        "0",      "-0",         "1", "0.5", "44197.5", "123456789012345", "0.000000000000000000001",
        "-12.25", "000123.4500"};
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        double d = 0;
        T_EXPECT(xlsx_fast_num(taken[i], strlen(taken[i]), &d));
        double e = strtod(taken[i], NULL);
        T_EXPECT(memcmp(&d, &e, sizeof d) == 0);
    }
    /* random spellings: digits, a point, a sign */
    uint64_t st = 0x9e3779b97f4a7c15ULL;
    size_t fast = 0;
    for (int n = 0; n < 300000; n++) {
        char t[40];
        size_t len = 0;
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        if (st & 1)
            t[len++] = '-';
        size_t nd = 1 + (st >> 8) % 24, pt = (st >> 16) % (nd + 2);
        for (size_t k = 0; k < nd; k++) {
            st ^= st << 13, st ^= st >> 7, st ^= st << 17;
            if (k == pt && k)
                t[len++] = '.';
            t[len++] = (char)('0' + (st >> 20) % 10);
        }
        t[len] = '\0';
        double d, e = strtod(t, NULL);
        if (xlsx_fast_num(t, len, &d)) {
            fast++;
            if (memcmp(&d, &e, sizeof d))
                t_fail(__FILE__, __LINE__, "'%s': fast %.17g, strtod %.17g", t, d, e);
        }
    }
    T_EXPECT(fast > 100000);
}

static void t_xlsx_serial_iso(void)
{
    char b[40];
    T_EXPECT(xlsx_serial_iso(44197, false, true, b, sizeof b));
    T_EXPECT_STR(b, "2021-01-01");
    T_EXPECT(xlsx_serial_iso(44197 - 1462, true, true, b, sizeof b));
    T_EXPECT_STR(b, "2021-01-01");
    T_EXPECT(xlsx_serial_iso(44197.5, false, true, b, sizeof b));
    T_EXPECT_STR(b, "2021-01-01T12:00:00");
    T_EXPECT(xlsx_serial_iso(44197.0000001, false, false, b, sizeof b));
    T_EXPECT_STR(b, "2021-01-01T00:00:00.009");
    T_EXPECT(xlsx_serial_iso(0.25, false, false, b, sizeof b));
    T_EXPECT_STR(b, "06:00:00");
    T_EXPECT(xlsx_serial_iso(59, false, true, b, sizeof b));
    T_EXPECT_STR(b, "1900-02-28");
    T_EXPECT(xlsx_serial_iso(61, false, true, b, sizeof b));
    T_EXPECT_STR(b, "1900-03-01");
    T_EXPECT(xlsx_serial_iso(1, false, true, b, sizeof b));
    T_EXPECT_STR(b, "1900-01-01");
    T_EXPECT(xlsx_serial_iso(1, true, true, b, sizeof b));
    T_EXPECT_STR(b, "1904-01-02");
    T_EXPECT(!xlsx_serial_iso(-1, false, true, b, sizeof b));
    T_EXPECT(!xlsx_serial_iso(3e6, false, true, b, sizeof b));
}

/* ---- built workbooks ---- */

static void tx_build_types(const char *path)
{
    lxw_workbook *wb = workbook_new(path);
    lxw_format *d = workbook_add_format(wb), *dt = workbook_add_format(wb),
               *dur = workbook_add_format(wb), *red = workbook_add_format(wb);
    format_set_num_format(d, "yyyy-mm-dd");
    format_set_num_format(dt, "dd/mm/yyyy hh:mm:ss");
    format_set_num_format(dur, "[h]:mm:ss");
    format_set_num_format(red, "#,##0.00;[Red]-#,##0.00");
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Data");
    worksheet_write_string(ws, 0, 0, "name", NULL);
    worksheet_write_string(ws, 0, 1, "value", NULL);
    worksheet_write_string(ws, 0, 2, "when", NULL);
    worksheet_write_string(ws, 1, 0, "a,b \"q\"\nline", NULL);
    worksheet_write_number(ws, 1, 1, 1.5, NULL);
    worksheet_write_number(ws, 1, 2, 44197, d);
    worksheet_write_boolean(ws, 2, 0, 1, NULL);
    worksheet_write_number(ws, 2, 1, 1.5, dur);
    worksheet_write_number(ws, 2, 2, 44197.75, dt);
    worksheet_write_formula_num(ws, 3, 0, "=1+2", NULL, 3);
    worksheet_write_formula_str(ws, 3, 1, "=\"x\"&\"y\"", NULL, "xy");
    worksheet_write_number(ws, 3, 2, -1234.5, red);
    worksheet_write_string(ws, 5, 4, "far", NULL); /* blank row 5, ragged width */
    worksheet_merge_range(ws, 6, 0, 7, 1, "merged", NULL);
    lxw_worksheet *h = workbook_add_worksheet(wb, "Secret<1>");
    worksheet_write_string(h, 0, 0, "k", NULL);
    worksheet_write_number(h, 1, 0, 7, NULL);
    worksheet_hide(h);
    workbook_add_worksheet(wb, "Empty");
    T_EXPECT_INT(workbook_close(wb), LXW_NO_ERROR);
}

static void t_xlsx_reader_types(void)
{
    const char *p = tx_path("types.xlsx");
    tx_build_types(p);
    struct err e = {0};
    struct xlsx *x = NULL;
    T_ASSERT(xlsx_open(p, &x, &e) == E_OK);
    T_EXPECT_INT(xlsx_sheet_count(x), 3);
    T_EXPECT_STR(xlsx_sheet_info(x, 1)->name, "Secret<1>");
    T_EXPECT_INT(xlsx_sheet_info(x, 1)->visibility, XLSX_HIDDEN);
    T_EXPECT_INT(xlsx_sheet_info(x, 0)->visibility, XLSX_VISIBLE);
    T_EXPECT(!xlsx_date1904(x));
    xlsx_free(x);

    struct tx_grid g;
    if (!tx_read_sheet(p, 0, &g))
        return;
    T_EXPECT_STR(TX_CELL(&g, 1, 0), "name");
    T_EXPECT_STR(TX_CELL(&g, 2, 0), "a,b \"q\"\nline");
    T_EXPECT_INT(g.type[2][1], XLSX_NUMBER);
    T_EXPECT_STR(TX_CELL(&g, 2, 2), "2021-01-01");
    T_EXPECT_INT(g.type[2][2], XLSX_DATE);
    T_EXPECT_INT(g.type[3][0], XLSX_BOOL);
    T_EXPECT_STR(TX_CELL(&g, 3, 1), "1.5"); /* a duration stays a number */
    T_EXPECT_INT(g.type[3][1], XLSX_NUMBER);
    T_EXPECT_STR(TX_CELL(&g, 3, 2), "2021-01-01T18:00:00");
    T_EXPECT_STR(TX_CELL(&g, 4, 0), "3");
    T_EXPECT_STR(TX_CELL(&g, 4, 1), "xy");
    T_EXPECT_INT(g.type[4][1], XLSX_STRING);
    T_EXPECT_STR(TX_CELL(&g, 4, 2), "-1234.5");
    T_EXPECT_INT(g.type[4][2], XLSX_NUMBER); /* [Red] is a colour, not a date */
    T_EXPECT_STR(TX_CELL(&g, 6, 4), "far");
    T_EXPECT_STR(TX_CELL(&g, 7, 0), "merged");
    tx_grid_free(&g);
}

static void t_xlsx_op_csv(void)
{
    const char *p = tx_path("types.xlsx");
    tx_build_types(p);
    struct err e = {0};
    json_t *res = NULL;
    char out[4096];
    snprintf(out, sizeof out, "%s/out", t_tmpdir());
    T_ASSERT(tx_run(p, NULL, out, 1000000, &res, &e) == E_OK);
    json_t *sh = json_object_get(res, "sheets");
    T_ASSERT(json_array_size(sh) == 3);
    json_t *s0 = json_array_get(sh, 0);
    T_EXPECT_STR(json_string_value(json_object_get(s0, "file")), "Data.csv");
    T_EXPECT_INT(json_integer_value(json_object_get(s0, "rows")), 6);
    T_EXPECT_INT(json_integer_value(json_object_get(s0, "columns")), 5);
    T_EXPECT_STR(json_string_value(json_array_get(json_object_get(s0, "header"), 1)), "value");
    json_t *pv = json_object_get(s0, "preview");
    T_EXPECT_INT(json_array_size(pv), 5);
    T_EXPECT(json_is_true(json_array_get(json_array_get(pv, 1), 0)));
    T_EXPECT_STR(json_string_value(json_array_get(json_array_get(pv, 0), 2)), "2021-01-01");
    json_t *notes = json_object_get(s0, "notes");
    T_EXPECT_STR(json_string_value(json_array_get(json_object_get(notes, "merged"), 0)), "A7:B8");
    json_t *s1 = json_array_get(sh, 1);
    T_EXPECT_STR(json_string_value(json_object_get(s1, "visibility")), "hidden");
    T_EXPECT_STR(json_string_value(json_object_get(s1, "file")), "Secret_1_.csv");
    T_EXPECT(json_is_null(json_object_get(json_array_get(sh, 2), "file")));
    T_EXPECT_STR(json_string_value(json_object_get(res, "dateSystem")), "1900");

    char f[4200];
    snprintf(f, sizeof f, "%s/Data.csv", out);
    char *csv = t_read_file(f, NULL);
    T_EXPECT_STR(csv, "name,value,when,,\n"
                      "\"a,b \"\"q\"\"\nline\",1.5,2021-01-01,,\n"
                      "TRUE,1.5,2021-01-01T18:00:00,,\n"
                      "3,xy,-1234.5,,\n"
                      ",,,,\n"
                      ",,,,far\n"
                      "merged,,,,\n");
    free(csv);
    json_decref(res);

    /* json format and sheet selection */
    snprintf(out, sizeof out, "%s/outj", t_tmpdir());
    T_ASSERT(tx_run(p, "{\"format\":\"json\",\"sheets\":[\"Secret<1>\"]}", out, 1000000, &res,
                    &e) == E_OK);
    T_EXPECT_INT(json_array_size(json_object_get(res, "sheets")), 1);
    snprintf(f, sizeof f, "%s/Secret_1_.json", out);
    char *js = t_read_file(f, NULL);
    json_t *arr = js ? json_loads(js, 0, NULL) : NULL;
    T_EXPECT(json_array_size(arr) == 1);
    T_EXPECT_INT(json_integer_value(json_object_get(json_array_get(arr, 0), "k")), 7);
    json_decref(arr);
    free(js);
    json_decref(res);

    /* unknown sheet names list the sheets */
    snprintf(out, sizeof out, "%s/outx", t_tmpdir());
    T_EXPECT_INT(tx_run(p, "{\"sheets\":[\"Nope\"]}", out, 1000000, &res, &e), E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "'Data', 'Secret<1>', 'Empty'");
    T_EXPECT_INT(tx_run(p, "{\"format\":\"xml\"}", out, 1000000, &res, &e), E_INVALID);
    /* includeHidden false drops the hidden sheet */
    T_ASSERT(tx_run(p, "{\"includeHidden\":false}", out, 1000000, &res, &e) == E_OK);
    T_EXPECT_INT(json_array_size(json_object_get(res, "sheets")), 2);
    json_decref(res);
}

static long tx_maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void t_xlsx_sparse_far_cell(void)
{
    const char *p = tx_path("far.xlsx");
    lxw_workbook *wb = workbook_new(p);
    lxw_worksheet *ws = workbook_add_worksheet(wb, NULL);
    worksheet_write_number(ws, 0, 0, 1, NULL);
    worksheet_write_number(ws, 1048575, 16383, 456, NULL);
    T_ASSERT(workbook_close(wb) == LXW_NO_ERROR);

    long before = tx_maxrss_kb();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct err e = {0};
    struct xlsx *x = NULL;
    struct xlsx_sheet *s = NULL;
    const struct xlsx_row *r;
    T_ASSERT(xlsx_open(p, &x, &e) == E_OK);
    T_ASSERT(xlsx_sheet_open(x, 0, &s, &e) == E_OK);
    size_t rows = 0;
    uint32_t last_row = 0, last_col = 0;
    while (!xlsx_sheet_next(s, &r, &e) && r) {
        rows++;
        last_row = r->index;
        last_col = r->cells[r->ncells - 1].col;
    }
    T_EXPECT_STR(e.msg, "");
    T_EXPECT_INT(rows, 2);
    T_EXPECT_INT(last_row, 1048576);
    T_EXPECT_INT(last_col, 16383);
    xlsx_sheet_close(s);
    xlsx_free(x);

    /* the CSV of that extent is huge: the op stops at the output cap, quickly */
    json_t *res = NULL;
    char out[4096];
    snprintf(out, sizeof out, "%s/out", t_tmpdir());
    T_EXPECT_INT(tx_run(p, NULL, out, 2000000, &res, &e), E_OUTPUT_LIMIT);
    T_EXPECT_CONTAINS(e.msg, "exceed");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    T_EXPECT(secs < 5.0);
    T_EXPECT(tx_maxrss_kb() - before < 50 * 1024);
}

/* A 200k-row, two-sheet workbook to CSV: the bench target, kept loose for CI. */
static void t_xlsx_big_fast(void)
{
    const char *p = tx_path("big.xlsx");
    lxw_workbook_options o = {.constant_memory = LXW_TRUE, .tmpdir = NULL};
    lxw_workbook *wb = workbook_new_opt(p, &o);
    lxw_format *df = workbook_add_format(wb);
    format_set_num_format(df, "yyyy-mm-dd");
    for (int s = 0; s < 2; s++) {
        lxw_worksheet *ws = workbook_add_worksheet(wb, NULL);
        worksheet_write_string(ws, 0, 0, "id", NULL);
        worksheet_write_string(ws, 0, 1, "name", NULL);
        worksheet_write_string(ws, 0, 2, "value", NULL);
        worksheet_write_string(ws, 0, 3, "date", NULL);
        for (int r = 1; r <= 100000; r++) {
            char b[32];
            snprintf(b, sizeof b, "name %d", r % 1000);
            worksheet_write_number(ws, (lxw_row_t)r, 0, r, NULL);
            worksheet_write_string(ws, (lxw_row_t)r, 1, b, NULL);
            worksheet_write_number(ws, (lxw_row_t)r, 2, r * 1.25, NULL);
            worksheet_write_number(ws, (lxw_row_t)r, 3, 40000 + r % 5000, df);
        }
    }
    T_ASSERT(workbook_close(wb) == LXW_NO_ERROR);
    long before = tx_maxrss_kb();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_t *res = NULL;
    struct err e = {0};
    char out[4096];
    snprintf(out, sizeof out, "%s/out", t_tmpdir());
    T_ASSERT(tx_run(p, NULL, out, 100000000, &res, &e) == E_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    json_t *s1 = json_array_get(json_object_get(res, "sheets"), 1);
    T_EXPECT_INT(json_integer_value(json_object_get(s1, "rows")), 100000);
    json_decref(res);
    char f[4200];
    snprintf(f, sizeof f, "%s/Sheet2.csv", out);
    size_t len = 0;
    char *csv = t_read_file(f, &len);
    T_EXPECT(csv && !strncmp(csv, "id,name,value,date\n1,name 1,1.25,2009-07-07\n", 44));
    free(csv);
    printf("# parse_excel 200k rows: %.2f s, RSS growth %ld KB\n", secs, tx_maxrss_kb() - before);
#ifndef KILN_SANITIZE
    T_EXPECT(secs < 4.0);
    T_EXPECT(tx_maxrss_kb() - before < 60 * 1024);
#endif
}

/* ---- corpus ---- */

struct tx_corpus {
    size_t ok, failed, n;
};

/* One corpus workbook: a result or a clear error, the scanner held to expat. */
static void tx_corpus_one(const char *path, const char *sub, const char *name, void *ctx)
{
    struct tx_corpus *c = ctx;
    char out[4400];
    snprintf(out, sizeof out, "%s/o%zu", t_tmpdir(), c->n++);
    struct err e = {0};
    json_t *res = NULL;
    const char *why = fz_xlsx_differ(path, true);
    if (why)
        t_fail(__FILE__, __LINE__, "%s/%s: scanner vs expat: %s", sub, name, why);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum err_code rc = tx_run(path, NULL, out, 50000000, &res, &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (secs > 10)
        t_fail(__FILE__, __LINE__, "%s took %.1f s", name, secs);
    if (rc == E_OK) {
        c->ok++;
        if (!json_is_array(json_object_get(res, "sheets")))
            t_fail(__FILE__, __LINE__, "%s: result without sheets", name);
    } else {
        c->failed++;
        if (rc != E_PARSE && rc != E_UNSUPPORTED && rc != E_OUTPUT_LIMIT && rc != E_TOO_LARGE)
            t_fail(__FILE__, __LINE__, "%s: unexpected %s: %s", name, err_name(rc), e.msg);
        if (!e.msg[0])
            t_fail(__FILE__, __LINE__, "%s: %s without a message", name, err_name(rc));
    }
    /* specific fates */
    if (strstr(name, "encrypted") && (rc != E_UNSUPPORTED || !strstr(e.msg, "encrypted")))
        t_fail(__FILE__, __LINE__, "%s: %s '%s', expected the encrypted error", name, err_name(rc),
               e.msg);
    if ((strstr(name, "billion_laughs") || strstr(name, "entity_expansion")) &&
        (rc != E_PARSE || !strstr(e.msg, "DTD")))
        t_fail(__FILE__, __LINE__, "%s: %s '%s', expected a DTD refusal", name, err_name(rc),
               e.msg);
    if (!strcmp(sub, "xlsx") && rc != E_OK && !strstr(name, "large_strings") &&
        !strstr(name, "xfd1048576"))
        t_fail(__FILE__, __LINE__, "%s: %s: %s", name, err_name(rc), e.msg);
    json_decref(res);
}

/*
 * Every corpus workbook gives a result or a clear error, never a crash or a
 * hang; and the XML scanner reads each as expat does (the same sheets, rows,
 * cells and notes where expat reads the file, a refusal where it refuses).
 */
static void t_xlsx_corpus_all(void)
{
    static const char *const dirs[] = {"xlsx", "nasty"};
    struct tx_corpus c = {0, 0, 0};
    if (!t_corpus_each(dirs, 2, ".xlsx", tx_corpus_one, &c))
        return;
    T_EXPECT(c.ok > 90);
    T_EXPECT(c.failed > 10);
}

/*
 * Parts the XML scanner leaves to expat: a DTD in a worksheet is refused,
 * whichever parser reads it; worksheets and shared strings in UTF-16 or
 * Latin-1 read to the same rows as the UTF-8 original.
 */
static void t_xlsx_other_encodings(void)
{
    char *path = tx_path("enc.xlsx");
    lxw_workbook *wb = workbook_new(path);
    lxw_worksheet *ws = workbook_add_worksheet(wb, NULL);
    worksheet_write_string(ws, 0, 0, "caf\xc3\xa9", NULL);
    worksheet_write_string(ws, 0, 1, "na\xc3\xafve", NULL);
    worksheet_write_number(ws, 1, 0, 1.5, NULL);
    worksheet_write_string(ws, 1, 1, "caf\xc3\xa9", NULL);
    T_EXPECT(workbook_close(wb) == LXW_NO_ERROR);
    struct fz_digest orig;
    fz_xlsx_digest(path, false, &orig);
    T_EXPECT(orig.rc == E_OK && orig.rows == 2);
    /* the sheet and shared-string parts again, re-encoded */
    static const char *const kinds[] = {"dtd", "UTF-16", "ISO-8859-1"};
    for (size_t k = 0; k < 3; k++) {
        char cmd[8192], out[4096];
        snprintf(out, sizeof out, "%s/enc-%s.xlsx", t_tmpdir(), kinds[k]);
        snprintf(
            cmd, sizeof cmd,
            "/usr/bin/python3 -c 'import zipfile,sys\n"
            "zi=zipfile.ZipFile(sys.argv[1]); zo=zipfile.ZipFile(sys.argv[2], \"w\")\n"
            "kind=sys.argv[3]\n"
            "for i in zi.infolist():\n"
            "  d=zi.read(i.filename)\n"
            "  if i.filename.endswith((\"sheet1.xml\", \"sharedStrings.xml\")):\n"
            "    body=d[d.index(b\"?>\")+2:]\n"
            "    if kind==\"dtd\":\n"
            "      d=b\"<?xml version=\\\"1.0\\\"?><!DOCTYPE worksheet>\"+body\n"
            "    else:\n"
            "      t=\"<?xml version=\\\"1.0\\\" encoding=\\\"%%s\\\"?>\" %% kind+body.decode()\n"
            "      d=t.encode(kind)\n"
            "  zo.writestr(i, d)\n"
            "zo.close()' '%s' '%s' '%s'",
            path, out, kinds[k]);
        T_EXPECT(system(cmd) == 0);
        for (int expat = 0; expat < 2; expat++) {
            struct fz_digest d;
            fz_xlsx_digest(out, expat, &d);
            if (k == 0) {
                T_EXPECT(d.rc == E_PARSE);
                T_EXPECT(strstr(d.msg, "DTD not allowed in part 'xl/") != NULL);
            } else if (d.rc || d.h != orig.h || d.rows != orig.rows) {
                t_fail(__FILE__, __LINE__, "%s (expat only: %d): %s, %zu rows, %s", kinds[k], expat,
                       err_name(d.rc), d.rows, d.h == orig.h ? "same" : "other content");
            }
        }
    }
}

/* A parsed CSV: records of fields. */
struct tx_csv {
    char ***rec;
    size_t *nf;
    size_t n;
};

static void tx_csv_free(struct tx_csv *c)
{
    for (size_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->nf[i]; j++)
            free(c->rec[i][j]);
        free(c->rec[i]);
    }
    free(c->rec);
    free(c->nf);
}

/* Parse CSV text (BOM, CRLF or LF, RFC 4180 quotes; no final newline needed). */
static void tx_csv_parse(const char *t, char sep, struct tx_csv *c)
{
    memset(c, 0, sizeof *c);
    if (!strncmp(t, "\xEF\xBB\xBF", 3))
        t += 3;
    while (*t) {
        c->rec = realloc(c->rec, (c->n + 1) * sizeof *c->rec);
        c->nf = realloc(c->nf, (c->n + 1) * sizeof *c->nf);
        char **f = NULL;
        size_t nf = 0;
        for (;;) {
            char *v = malloc(strlen(t) + 1);
            size_t k = 0;
            if (*t == '"') {
                for (t++; *t; t++) {
                    if (*t == '"' && t[1] == '"')
                        v[k++] = '"', t++;
                    else if (*t == '"') {
                        t++;
                        break;
                    } else
                        v[k++] = *t;
                }
            } else {
                while (*t && *t != sep && *t != '\n' && !(*t == '\r' && t[1] == '\n'))
                    v[k++] = *t++;
            }
            v[k] = '\0';
            f = realloc(f, (nf + 1) * sizeof *f);
            f[nf++] = v;
            if (*t == sep) {
                t++;
                continue;
            }
            if (*t == '\r')
                t++;
            if (*t == '\n')
                t++;
            break;
        }
        c->rec[c->n] = f;
        c->nf[c->n++] = nf;
    }
}

struct tx_expect {
    const char *xlsx;
    const char *ours;     /* our output file */
    const char *expected; /* under xlsx/expected */
    const char *skip;     /* cells that differ by design, e.g. " A12 D12 " */
    bool bool_case;       /* expected spells booleans True/False (csvkit) */
};

/*
 * Known differences, by design: Excel's CSVs show display text (m/d/yy dates),
 * we write ISO 8601 values; csvkit spells booleans True/False and names an
 * empty header cell after its column letter.
 */
static const struct tx_expect tx_expects[] = {
    {"sheet_visibility_with_data.xlsx", "Visible.csv",
     "sheet_visibility_with_data.sheet0.excel2016.csv", "", false},
    {"sheet_visibility_with_data.xlsx", "Hidden.csv",
     "sheet_visibility_with_data.sheet1.excel2016.csv", "", false},
    {"sheet_visibility_with_data.xlsx", "VeryHidden.csv",
     "sheet_visibility_with_data.sheet2.excel2016.csv", "", false},
    {"three_sheets_unicode_sheet_name.xlsx", "\xca\xa4.csv",
     "three_sheets_unicode_sheet_name.sheet_unicode.csvkit.csv", "", false},
    {"three_sheets_unicode_sheet_name.xlsx", "data.csv", "typed_columns_date1904.csvkit_in2csv.csv",
     " H1 ", true},
    {"typed_columns_date1904.xlsx", "Sheet1.csv", "typed_columns_date1904.csvkit_in2csv.csv",
     " H1 ", true},
    {"error_types_with_iserror.xlsx", "RawErrors.csv",
     "error_types_with_iserror.sheet0.excel2016.csv", " A12 D12 E12 ", false},
    {"rich_text_runs_stress.xlsx", "Sheet1.csv", "rich_text_runs_stress.sheet0.excel2016.csv", "",
     false},
    {"newlines_in_cells.xlsx", "Sheet1.csv", "newlines_in_cells.excel.csv", "", false},
    {NULL, NULL, NULL, NULL, false},
};

static void t_xlsx_corpus_expected(void)
{
    size_t compared = 0;
    for (const struct tx_expect *x = tx_expects; x->xlsx; x++) {
        char path[4096], out[4096], ef[4096], of[8400];
        snprintf(path, sizeof path, "%s/xlsx/%s", t_corpus_dir(), x->xlsx);
        snprintf(ef, sizeof ef, "%s/xlsx/expected/%s", t_corpus_dir(), x->expected);
        snprintf(out, sizeof out, "%s/e%zu", t_tmpdir(), compared);
        if (access(path, R_OK)) {
            t_skip("corpus not found");
            return;
        }
        struct err e = {0};
        json_t *res = NULL;
        if (tx_run(path, "{\"header\":false}", out, 50000000, &res, &e)) {
            t_fail(__FILE__, __LINE__, "%s: %s", x->xlsx, e.msg);
            continue;
        }
        json_decref(res);
        snprintf(of, sizeof of, "%s/%s", out, x->ours);
        char *a = t_read_file(of, NULL), *b = t_read_file(ef, NULL);
        if (!a || !b) {
            t_fail(__FILE__, __LINE__, "%s: missing %s or %s", x->xlsx, of, ef);
            free(a), free(b);
            continue;
        }
        struct tx_csv ca, cb;
        tx_csv_parse(a, ',', &ca);
        tx_csv_parse(b, ',', &cb);
        if (ca.n != cb.n)
            t_fail(__FILE__, __LINE__, "%s vs %s: %zu records, expected %zu", x->ours, x->expected,
                   ca.n, cb.n);
        for (size_t i = 0; i < ca.n && i < cb.n; i++) {
            size_t nf = ca.nf[i] > cb.nf[i] ? ca.nf[i] : cb.nf[i];
            for (size_t j = 0; j < nf; j++) {
                const char *va = j < ca.nf[i] ? ca.rec[i][j] : "";
                const char *vb = j < cb.nf[i] ? cb.rec[i][j] : "";
                char ref[32], col[8];
                xlsx_col_name((uint32_t)j, col, sizeof col);
                snprintf(ref, sizeof ref, " %s%zu ", col, i + 1);
                if (strstr(x->skip, ref))
                    continue;
                if (x->bool_case && (!strcmp(vb, "True") || !strcmp(vb, "False")) &&
                    !strcasecmp(va, vb))
                    continue;
                if (strcmp(va, vb))
                    t_fail(__FILE__, __LINE__, "%s %s (%s):%s'%s', expected '%s'", x->xlsx, x->ours,
                           x->expected, ref, va, vb);
            }
        }
        tx_csv_free(&ca);
        tx_csv_free(&cb);
        free(a);
        free(b);
        compared++;
    }
    T_EXPECT_INT(compared, 9);
}

/* Strict OOXML gives the same cells as the Transitional save of the same workbook. */
static void t_xlsx_strict_equals_transitional(void)
{
    const char *names[] = {"sample_transitional.xlsx", "sample_strict_ooxml.xlsx"};
    char *csv[2][3] = {{0}};
    const char *files[3] = {"First Sheet.csv", "Sheet Number 2.csv", "Sheet3.csv"};
    for (int k = 0; k < 2; k++) {
        char path[4096], out[4096], f[8400];
        snprintf(path, sizeof path, "%s/xlsx/%s", t_corpus_dir(), names[k]);
        snprintf(out, sizeof out, "%s/s%d", t_tmpdir(), k);
        struct err e = {0};
        json_t *res = NULL;
        if (access(path, R_OK)) {
            t_skip("corpus not found");
            return;
        }
        T_ASSERT(tx_run(path, NULL, out, 50000000, &res, &e) == E_OK);
        json_decref(res);
        for (int i = 0; i < 3; i++) {
            snprintf(f, sizeof f, "%s/%s", out, files[i]);
            csv[k][i] = t_read_file(f, NULL);
        }
    }
    T_EXPECT(csv[0][0] && strstr(csv[0][0], "Test spreadsheet"));
    for (int i = 0; i < 3; i++) {
        if ((csv[0][i] == NULL) != (csv[1][i] == NULL) ||
            (csv[0][i] && strcmp(csv[0][i], csv[1][i])))
            t_fail(__FILE__, __LINE__, "'%s' differs between Strict and Transitional", files[i]);
        free(csv[0][i]);
        free(csv[1][i]);
    }
}

static const struct t_case t_xlsx_cases[] = {
    {"xlsx_num_fmt", t_xlsx_num_fmt},
    {"xlsx_serial_iso", t_xlsx_serial_iso},
    {"xlsx_fast_num", t_xlsx_fast_num},
    {"xlsx_reader_types", t_xlsx_reader_types},
    {"xlsx_op_csv", t_xlsx_op_csv},
    {"xlsx_sparse_far_cell", t_xlsx_sparse_far_cell, .fork = true, .timeout_s = 60},
    {"xlsx_big_fast", t_xlsx_big_fast, .fork = true, .timeout_s = 120},
    {"xlsx_corpus_all", t_xlsx_corpus_all, .fork = true, .timeout_s = 300},
    {"xlsx_corpus_expected", t_xlsx_corpus_expected, .fork = true, .timeout_s = 60},
    {"xlsx_strict_equals_transitional", t_xlsx_strict_equals_transitional},
    {"xlsx_other_encodings", t_xlsx_other_encodings, .fork = true},
    {0},
};

T_SUITE(xlsx, t_xlsx_cases)
