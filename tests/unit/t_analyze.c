#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "op.h"
#include "op_analyze.h"

/* pandas 1.5 (Debian's /usr/bin/python3) computes the oracle: numeric
 * columns' count/mean/std/min/max/quartiles, the row count and corr(). */
static const char tan_oracle_py[] =
    "import sys, json, math\n"
    "import pandas as pd\n"
    "df = pd.read_csv(sys.argv[1], sep=sys.argv[2] if len(sys.argv) > 2 else ',')\n"
    "num = df.select_dtypes(include=['number']).select_dtypes(exclude=['bool'])\n"
    "def f(x):\n"
    "    x = float(x)\n"
    "    return None if math.isnan(x) or math.isinf(x) else x\n"
    "cols = {}\n"
    "for c in num.columns:\n"
    "    s = num[c]\n"
    "    q = s.quantile([0.25, 0.5, 0.75])\n"
    "    cols[str(c)] = dict(count=int(s.count()), mean=f(s.mean()), std=f(s.std()),\n"
    "        min=f(s.min()), max=f(s.max()), p25=f(q.iloc[0]), p50=f(q.iloc[1]),\n"
    "        p75=f(q.iloc[2]), distinct=int(s.nunique()))\n"
    "corr = num.corr()\n"
    "print(json.dumps(dict(rows=len(df), columns=cols, corrColumns=[str(c) for c in "
    "corr.columns],\n"
    "    corr=[[f(v) for v in row] for row in corr.values.tolist()])))\n";

static json_t *tan_run(const char *path, const char *kind, const char *opts, const char *outdir,
                       enum err_code *rc, struct err *e)
{
    struct op_input in = {path, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, kind, 0};
    json_t *o = json_loads(opts ? opts : "{}", 0, NULL);
    mkdir(outdir, 0700);
    struct op_ctx ctx = {&in, o, outdir, 50000000};
    json_t *res = NULL;
    *rc = op_analyze(&ctx, &res, e);
    json_decref(o);
    return res;
}

static json_t *tan_oracle(const char *path, const char *sep)
{
    char script[1024], cmd[4096];
    snprintf(script, sizeof(script), "%s/oracle.py", t_tmpdir());
    if (!t_write_file(script, tan_oracle_py, sizeof(tan_oracle_py) - 1))
        return NULL;
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s' '%s' 2>/dev/null", script, path, sep);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    json_error_t je;
    json_t *v = json_loadf(p, 0, &je);
    pclose(p);
    return v;
}

static bool tan_close(json_t *a, json_t *b)
{
    if (json_is_null(a) || json_is_null(b) || !a || !b)
        return (!a || json_is_null(a)) && (!b || json_is_null(b));
    double x = json_number_value(a), y = json_number_value(b);
    double d = fabs(x - y), m = fmax(fabs(x), fabs(y));
    return d <= 1e-9 * m || d <= 1e-12;
}

static const json_t *tan_col(const json_t *res, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(
        json_object_get(res, "columns"), i,
        c) if (!strcmp(json_string_value(json_object_get(c, "name")), name)) return c;
    return NULL;
}

/* Compare analyze with pandas on one CSV file. */
static void tan_compare(const char *path, const char *sep, const char *opts)
{
    char out[1024];
    snprintf(out, sizeof(out), "%s/out-%s", t_tmpdir(), strrchr(path, '/') + 1);
    enum err_code rc;
    struct err e = {0};
    json_t *res = tan_run(path, "csv", opts, out, &rc, &e);
    if (rc) {
        t_fail(__FILE__, __LINE__, "%s: analyze failed: %s", path, e.msg);
        return;
    }
    json_t *ora = tan_oracle(path, sep);
    if (!ora) {
        t_fail(__FILE__, __LINE__, "%s: the pandas oracle failed", path);
        json_decref(res);
        return;
    }
    if (json_integer_value(json_object_get(res, "rows")) !=
        json_integer_value(json_object_get(ora, "rows")))
        t_fail(__FILE__, __LINE__, "%s: rows %lld, pandas %lld", path,
               (long long)json_integer_value(json_object_get(res, "rows")),
               (long long)json_integer_value(json_object_get(ora, "rows")));
    const char *name;
    json_t *oc;
    static const char *const keys[] = {"count", "mean", "std", "min",     "max",
                                       "p25",   "p50",  "p75", "distinct"};
    size_t nnum = 0;
    json_object_foreach(json_object_get(ora, "columns"), name, oc)
    {
        const json_t *c = tan_col(res, name);
        const char *type = c ? json_string_value(json_object_get(c, "type")) : "(none)";
        if (!c || (strcmp(type, "integer") && strcmp(type, "float"))) {
            t_fail(__FILE__, __LINE__, "%s: column '%s' is %s, pandas: numeric", path, name, type);
            continue;
        }
        nnum++;
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            if (!tan_close(json_object_get(c, keys[k]), json_object_get(oc, keys[k])))
                t_fail(__FILE__, __LINE__, "%s: column '%s' %s = %.17g, pandas %.17g", path, name,
                       keys[k], json_number_value(json_object_get(c, keys[k])),
                       json_number_value(json_object_get(oc, keys[k])));
    }
    /* Our numeric columns are exactly pandas' numeric columns. */
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(res, "columns"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *n = json_string_value(json_object_get(c, "name"));
        if ((!strcmp(t, "integer") || !strcmp(t, "float")) &&
            !json_object_get(json_object_get(ora, "columns"), n))
            t_fail(__FILE__, __LINE__, "%s: column '%s' is %s, pandas: not numeric", path, n, t);
    }
    json_t *corr = json_object_get(res, "correlations");
    json_t *rm = json_object_get(corr, "matrix"), *om = json_object_get(ora, "corr");
    if (json_array_size(json_object_get(corr, "columns")) != json_array_size(om))
        t_fail(__FILE__, __LINE__, "%s: correlation over %zu columns, pandas %zu", path,
               json_array_size(json_object_get(corr, "columns")), json_array_size(om));
    else
        for (size_t x = 0; x < json_array_size(om); x++)
            for (size_t y = 0; y < json_array_size(om); y++)
                if (!tan_close(json_array_get(json_array_get(rm, x), y),
                               json_array_get(json_array_get(om, x), y)))
                    t_fail(__FILE__, __LINE__, "%s: corr[%zu][%zu] = %.17g, pandas %.17g", path, x,
                           y, json_number_value(json_array_get(json_array_get(rm, x), y)),
                           json_number_value(json_array_get(json_array_get(om, x), y)));
    if (getenv("KILN_ANALYZE_DUMP")) {
        char dump[2048];
        snprintf(dump, sizeof(dump), "%s/%s.json", getenv("KILN_ANALYZE_DUMP"),
                 strrchr(path, '/') + 1);
        json_dump_file(res, dump, JSON_INDENT(1));
    }
    json_decref(res);
    json_decref(ora);
}

static void t_analyze_corpus_vs_pandas(void)
{
    static const char *const files[] = {
        "csv/iris.csv",
        "csv/seattle_weather_daily.csv",
        "csv/synthetic_10_types_10k_rows.csv",
        "csv/nfl_play_by_play_10k.csv",
        "csv/weather_seattle_newyork.csv",
        "csv/worldcitiespop_20k.csv",
        "csv/us_airports.csv",
        "csv/iowa_electricity_by_source.csv",
        "csv/uspop_empty_population.csv",
        "csv/exonerations_1651_rows.csv",
        "csv/smallpop.csv",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", t_corpus_dir(), files[i]);
        struct stat sb;
        if (stat(path, &sb)) {
            t_fail(__FILE__, __LINE__, "corpus file %s missing", files[i]);
            continue;
        }
        tan_compare(path, ",", "{\"report\":\"none\"}");
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/csv/us_county_unemployment.tsv", t_corpus_dir());
    tan_compare(path, "\t", "{\"report\":\"none\"}");
}

static void t_analyze_generated_vs_pandas(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/gen.csv", t_tmpdir());
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fprintf(f, "i,x,y,z,big,s\n");
    srand(7);
    static const char *const na[] = {"", "NA", "n/a", "NULL", "nan", "#N/A", "-NaN", "<NA>"};
    for (int r = 0; r < 20000; r++) {
        double x = (rand() / (double)RAND_MAX - 0.5) * 1e6;
        double y = x * 0.3 + (rand() % 1000) / 7.0;
        if (r % 97 == 0)
            fprintf(f, "%d,%s,%.6f,%de-3,%lld,s%d\n", r, na[r % 8], y, rand() % 100000,
                    (long long)rand() * 1000003LL, rand() % 50);
        else if (r % 89 == 0)
            fprintf(f, "%d,%.10g,%s,%d.5E2,%lld,\n", r, x, na[(r / 89) % 8], r,
                    -(long long)rand() * 7919LL);
        else
            fprintf(f, "%d,%.10g,%.3f, %d ,%lld,text %d\n", -r, x, y, rand() % 1000 - 500,
                    (long long)rand() * 31LL, rand() % 1000);
    }
    fclose(f);
    tan_compare(path, ",", "{\"report\":\"none\"}");
}

static void t_analyze_types_and_reports(void)
{
    char path[1024], out[1024];
    snprintf(path, sizeof(path), "%s/t.csv", t_tmpdir());
    const char *csv = "n,f,b,d,dt,s,<script>x</script>,e\n"
                      "1,1.5,True,2024-01-31,2024-01-31T10:00:00Z,a,1,\n"
                      "2,NA,false,2023-12-01,2024-02-01 00:00:00,b,2,\n"
                      "3,-2e1,TRUE,,2024-01-01T00:00:00.250+01:00,a,3,NA\n"
                      "4,3,False,2024-02-29,,<b>&,4,\n";
    T_ASSERT(t_write_file(path, csv, strlen(csv)));
    snprintf(out, sizeof(out), "%s/out", t_tmpdir());
    enum err_code rc;
    struct err e = {0};
    json_t *res = tan_run(path, "csv", "{\"topN\":2}", out, &rc, &e);
    T_ASSERT(rc == E_OK);
    static const char *const types[][2] = {{"n", "integer"}, {"f", "float"},     {"b", "boolean"},
                                           {"d", "date"},    {"dt", "datetime"}, {"s", "string"},
                                           {"e", "empty"}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const json_t *c = tan_col(res, types[i][0]);
        T_ASSERT(c);
        T_EXPECT_STR(json_string_value(json_object_get(c, "type")), types[i][1]);
    }
    const json_t *c = tan_col(res, "f");
    T_EXPECT_INT(json_integer_value(json_object_get(c, "missing")), 1);
    T_EXPECT(json_number_value(json_object_get(c, "min")) == -20);
    c = tan_col(res, "b");
    T_EXPECT(json_is_true(json_object_get(json_array_get(json_object_get(c, "top"), 0), "value")));
    T_EXPECT_INT(
        json_integer_value(json_object_get(json_array_get(json_object_get(c, "top"), 0), "count")),
        2);
    c = tan_col(res, "d");
    T_EXPECT_STR(json_string_value(json_object_get(c, "min")), "2023-12-01");
    T_EXPECT_STR(json_string_value(json_object_get(c, "max")), "2024-02-29");
    c = tan_col(res, "dt");
    T_EXPECT_STR(json_string_value(json_object_get(c, "min")), "2023-12-31T23:00:00.250000");
    c = tan_col(res, "s");
    T_EXPECT_STR(
        json_string_value(json_object_get(json_array_get(json_object_get(c, "top"), 0), "value")),
        "a");
    T_EXPECT_INT(json_array_size(json_object_get(c, "top")), 2);
    T_EXPECT_INT(json_integer_value(json_object_get(json_object_get(c, "length"), "max")), 4);
    c = tan_col(res, "e");
    T_EXPECT_INT(json_integer_value(json_object_get(c, "missing")), 4);
    T_EXPECT(json_is_null(json_object_get(c, "mean")));
    /* Reports: self-contained, escaped. */
    char hp[1200], xp[1200];
    snprintf(hp, sizeof(hp), "%s/report.html", out);
    snprintf(xp, sizeof(xp), "%s/report.xlsx", out);
    char *html = t_read_file(hp, NULL);
    T_ASSERT(html);
    T_EXPECT(!strstr(html, "<script>"));
    T_EXPECT_CONTAINS(html, "&lt;script&gt;x&lt;/script&gt;");
    T_EXPECT_CONTAINS(html, "<svg");
    T_EXPECT(!strstr(html, "src=") && !strstr(html, "href=") && !strstr(html, "url("));
    free(html);
    size_t xl = 0;
    char *x = t_read_file(xp, &xl);
    T_EXPECT(x && xl > 1000 && !memcmp(x, "PK", 2));
    free(x);
    json_decref(res);
    /* Options. */
    res = tan_run(path, "csv", "{\"report\":\"none\",\"columns\":[\"s\",\"n\"]}", out, &rc, &e);
    T_ASSERT(rc == E_OK);
    T_EXPECT_INT(json_array_size(json_object_get(res, "columns")), 2);
    json_decref(res);
    res = tan_run(path, "csv", "{\"columns\":[\"nope\"]}", out, &rc, &e);
    T_EXPECT_INT(rc, E_INVALID);
    res = tan_run(path, "csv", "{\"report\":\"pdf\"}", out, &rc, &e);
    T_EXPECT_INT(rc, E_INVALID);
    res = tan_run(path, "xlsx", "{}", out, &rc, &e);
    T_EXPECT_INT(rc, E_UNSUPPORTED);
}

static void t_analyze_json_source(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/penguins_array_of_objects.json", t_tmpdir());
    char src[1024];
    snprintf(src, sizeof(src), "%s/json/penguins_array_of_objects.json", t_corpus_dir());
    size_t n = 0;
    char *d = t_read_file(src, &n);
    if (!d) {
        t_skip("corpus not found");
        return;
    }
    T_ASSERT(t_write_file(path, d, n));
    free(d);
    char out[1024];
    snprintf(out, sizeof(out), "%s/out", t_tmpdir());
    enum err_code rc;
    struct err e = {0};
    json_t *res = tan_run(path, "json", "{\"report\":\"html\"}", out, &rc, &e);
    T_ASSERT(rc == E_OK);
    T_EXPECT(json_integer_value(json_object_get(res, "rows")) > 100);
    T_EXPECT_STR(json_string_value(json_object_get(json_object_get(res, "source"), "format")),
                 "json");
    json_decref(res);
}

/* Top values (count desc, then first appearance), distinct counts (-0 is 0),
 * a late-demoted column (second pass) and a high-cardinality text column,
 * against counts computed here. */
static void t_analyze_top_distinct(void)
{
    enum { ROWS = 30000 };
    char path[1024], out[1024];
    snprintf(path, sizeof(path), "%s/top.csv", t_tmpdir());
    snprintf(out, sizeof(out), "%s/out", t_tmpdir());
    FILE *f = fopen(path, "w");
    T_ASSERT(f != NULL);
    fputs("n,s,late\n", f);
    /* n: v = (i * 7919) % 1000 - 500 (ties everywhere); 0 written as -0 on
     * odd rows; every 13th blank. */
    static long cnt[1000];
    static long first[1000];
    for (int k = 0; k < 1000; k++)
        first[k] = -1;
    for (long i = 0; i < ROWS; i++) {
        long v = (i * 7919) % 1000 - 500;
        if (i % 13 == 0)
            fputs(",", f);
        else {
            if (v == 0 && i % 2)
                fputs("-0.0,", f);
            else
                fprintf(f, "%ld,", v);
            if (first[v + 500] < 0)
                first[v + 500] = i;
            cnt[v + 500]++;
        }
        fprintf(f, "w%ld,", (i * 31) % 20011);
        if (i == ROWS - 5)
            fputs("text\n", f);
        else
            fprintf(f, "%ld\n", i % 97);
    }
    fclose(f);
    /* Expected top 5 of n by brute force. */
    long best[5];
    for (int t = 0; t < 5; t++) {
        long b = -1;
        for (int k = 0; k < 1000; k++) {
            bool taken = false;
            for (int u = 0; u < t; u++)
                taken |= best[u] == k;
            if (taken || !cnt[k])
                continue;
            if (b < 0 || cnt[k] > cnt[b] || (cnt[k] == cnt[b] && first[k] < first[b]))
                b = k;
        }
        best[t] = b;
    }
    enum err_code rc;
    struct err e = {0};
    json_t *res = tan_run(path, "csv", "{\"report\":\"none\"}", out, &rc, &e);
    T_ASSERT(rc == E_OK);
    const json_t *n = tan_col(res, "n"), *sc = tan_col(res, "s"), *late = tan_col(res, "late");
    T_ASSERT(n && sc && late);
    T_EXPECT_INT(json_integer_value(json_object_get(n, "distinct")), 1000);
    json_t *top = json_object_get(n, "top");
    T_EXPECT_INT(json_array_size(top), 5);
    for (size_t t = 0; t < json_array_size(top) && t < 5; t++) {
        json_t *it = json_array_get(top, t);
        T_EXPECT_INT(json_integer_value(json_object_get(it, "value")), best[t] - 500);
        T_EXPECT_INT(json_integer_value(json_object_get(it, "count")), cnt[best[t]]);
    }
    /* (i * 31) % 20011 over 30000 rows: 20011 distinct, the first 9989 twice. */
    T_EXPECT_INT(json_integer_value(json_object_get(sc, "distinct")), 20011);
    json_t *st0 = json_array_get(json_object_get(sc, "top"), 0);
    T_EXPECT_STR(json_string_value(json_object_get(st0, "value")), "w0");
    T_EXPECT_INT(json_integer_value(json_object_get(st0, "count")), 2);
    T_EXPECT_STR(json_string_value(json_object_get(late, "type")), "string");
    T_EXPECT_INT(json_integer_value(json_object_get(late, "distinct")), 98);
    json_t *lt0 = json_array_get(json_object_get(late, "top"), 0);
    T_EXPECT_STR(json_string_value(json_object_get(lt0, "value")), "0");
    json_decref(res);
}

static const struct t_case cases[] = {
    {"corpus_vs_pandas", t_analyze_corpus_vs_pandas, .fork = true, .timeout_s = 120},
    {"generated_vs_pandas", t_analyze_generated_vs_pandas, .fork = true, .timeout_s = 60},
    {"types_and_reports", t_analyze_types_and_reports},
    {"json_source", t_analyze_json_source},
    {"top_distinct", t_analyze_top_distinct, .fork = true, .timeout_s = 60},
    {0},
};
T_SUITE(analyze, cases)
