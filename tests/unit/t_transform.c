#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "op.h"
#include "op_transform.h"

static const char ttx_csv[] = "id,name,price,qty,day,flag\n"
                              "1,apple,1.5,10,2021-01-03,true\n"
                              "2,pear,,3,2021-01-01,false\n"
                              "3,=cmd,2.25,NA,2021-02-10,true\n"
                              "4,apple,0.5,7,,false\n"
                              "5,\"kiwi, gold\",4,1,2021-01-02,true\n";

static enum err_code ttx_run(const char *csv, const char *opts, json_t **res, struct err *e)
{
    char in[1024], out[1024];
    snprintf(in, sizeof(in), "%s/in.csv", t_tmpdir());
    snprintf(out, sizeof(out), "%s/out", t_tmpdir());
    mkdir(out, 0700);
    if (!t_write_file(in, csv, strlen(csv)))
        return E_IO;
    struct op_input inp = {in, "in.csv", "csv", strlen(csv)};
    json_error_t je;
    json_t *o = json_loads(opts, 0, &je);
    if (!o) {
        t_fail(__FILE__, __LINE__, "bad options JSON: %s", je.text);
        return E_INVALID;
    }
    struct op_ctx ctx = {&inp, o, out, 10000000};
    err_clear(e);
    *res = NULL;
    enum err_code rc = op_transform(&ctx, res, e);
    json_decref(o);
    return rc;
}

static char *ttx_output(const char *name)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/out/%s", t_tmpdir(), name);
    return t_read_file(p, NULL);
}

static void t_select_filter_derive(void)
{
    json_t *res;
    struct err e;
    enum err_code rc = ttx_run(
        ttx_csv,
        "{\"steps\":[{\"op\":\"filter\",\"where\":\"qty > 2 and name != 'pear'\"},"
        "{\"op\":\"derive\",\"column\":\"total\",\"expr\":\"price * qty\"},"
        "{\"op\":\"select\",\"columns\":[\"name\",\"total\"]}],\"output\":{\"format\":\"csv\"}}",
        &res, &e);
    T_ASSERT(rc == E_OK);
    char *out = ttx_output("result.csv");
    T_EXPECT_STR(out, "name,total\r\napple,15.0\r\napple,3.5\r\n");
    free(out);
    T_EXPECT_INT(json_integer_value(json_object_get(res, "rowsIn")), 5);
    T_EXPECT_INT(json_integer_value(json_object_get(res, "rowsOut")), 2);
    json_t *steps = json_object_get(res, "steps");
    T_EXPECT_INT(json_integer_value(json_object_get(json_array_get(steps, 0), "rowsOut")), 2);
    json_t *cols = json_object_get(res, "columns");
    T_EXPECT_STR(json_string_value(json_object_get(json_array_get(cols, 1), "type")), "float");
    json_decref(res);
}

static void t_types_json(void)
{
    json_t *res;
    struct err e;
    enum err_code rc = ttx_run(ttx_csv,
                               "{\"steps\":[{\"op\":\"limit\",\"n\":2}],"
                               "\"output\":{\"format\":\"json\",\"name\":\"r\"}}",
                               &res, &e);
    T_ASSERT(rc == E_OK);
    char *out = ttx_output("r.json");
    json_t *j = json_loads(out ? out : "", 0, NULL);
    free(out);
    T_ASSERT(json_is_array(j));
    T_EXPECT_INT(json_array_size(j), 2);
    json_t *r1 = json_array_get(j, 1);
    T_EXPECT(json_is_integer(json_object_get(r1, "id")));
    T_EXPECT(json_is_null(json_object_get(r1, "price")));
    T_EXPECT_STR(json_string_value(json_object_get(r1, "day")), "2021-01-01");
    T_EXPECT(json_is_false(json_object_get(r1, "flag")));
    json_decref(j);
    json_t *cols = json_object_get(res, "columns");
    const char *want[] = {"integer", "string", "float", "integer", "date", "boolean"};
    for (size_t i = 0; i < 6; i++)
        T_EXPECT_STR(json_string_value(json_object_get(json_array_get(cols, i), "type")), want[i]);
    T_EXPECT_INT(json_array_size(json_object_get(res, "preview")), 2);
    json_decref(res);
}

static void t_sort_group(void)
{
    json_t *res;
    struct err e;
    enum err_code rc =
        ttx_run(ttx_csv,
                "{\"steps\":[{\"op\":\"sort\",\"by\":[\"-price\", \"id\"]}],\"output\":{\"format\":"
                "\"jsonl\"}}",
                &res, &e);
    T_ASSERT(rc == E_OK);
    char *out = ttx_output("result.jsonl");
    T_ASSERT(out);
    /* descending price, nulls last */
    const char *p5 = strstr(out, "\"id\":5"), *p3 = strstr(out, "\"id\":3"),
               *p1 = strstr(out, "\"id\":1"), *p4 = strstr(out, "\"id\":4"),
               *p2 = strstr(out, "\"id\":2");
    T_EXPECT(p5 && p3 && p1 && p4 && p2 && p5 < p3 && p3 < p1 && p1 < p4 && p4 < p2);
    free(out);
    json_decref(res);

    rc = ttx_run(ttx_csv,
                 "{\"steps\":[{\"op\":\"group\",\"by\":[\"name\"],\"aggs\":["
                 "{\"column\":\"qty\",\"fn\":\"sum\"},{\"column\":\"price\",\"fn\":\"mean\"},"
                 "{\"fn\":\"count\"},{\"column\":\"id\",\"fn\":\"max\",\"as\":\"maxid\"},"
                 "{\"column\":\"day\",\"fn\":\"min\"},{\"column\":\"qty\",\"fn\":\"median\"},"
                 "{\"column\":\"price\",\"fn\":\"count_distinct\"}]}]}",
                 &res, &e);
    T_ASSERT(rc == E_OK);
    out = ttx_output("result.csv");
    T_EXPECT_STR(out, "name,qty_sum,price_mean,count,maxid,day_min,qty_median,price_count_"
                      "distinct\r\n"
                      "apple,17,1.0,2,4,2021-01-03,8.5,2\r\n"
                      "pear,3,,1,2,2021-01-01,3.0,0\r\n"
                      "'=cmd,0,2.25,1,3,2021-02-10,,1\r\n"
                      "\"kiwi, gold\",1,4.0,1,5,2021-01-02,1.0,1\r\n");
    free(out);
    json_decref(res);
}

static void t_dedupe_fill_cast_rename(void)
{
    json_t *res;
    struct err e;
    enum err_code rc =
        ttx_run(ttx_csv,
                "{\"steps\":[{\"op\":\"dedupe\",\"columns\":[\"name\"],\"keep\":\"last\"},"
                "{\"op\":\"fill\",\"columns\":[\"price\"],\"value\":0},"
                "{\"op\":\"cast\",\"column\":\"id\",\"to\":\"string\"},"
                "{\"op\":\"rename\",\"map\":{\"id\":\"key\"}},"
                "{\"op\":\"drop\",\"columns\":[\"day\",\"flag\",\"qty\"]}],"
                "\"output\":{\"neutraliseFormulas\":false}}",
                &res, &e);
    T_ASSERT(rc == E_OK);
    char *out = ttx_output("result.csv");
    T_EXPECT_STR(out, "key,name,price\r\n2,pear,0.0\r\n3,=cmd,2.25\r\n4,apple,0.5\r\n"
                      "5,\"kiwi, gold\",4.0\r\n");
    free(out);
    json_decref(res);

    rc = ttx_run("d,v\n03/01/2021,a\n,b\n15/12/2020,\n",
                 "{\"steps\":[{\"op\":\"cast\",\"column\":\"d\",\"to\":\"date\",\"format\":\"%d/%m/"
                 "%Y\"},{\"op\":\"fill\",\"method\":\"ffill\"},{\"op\":\"dedupe\"}],"
                 "\"output\":{\"dateFormat\":\"%Y%m%d\"}}",
                 &res, &e);
    T_ASSERT(rc == E_OK);
    out = ttx_output("result.csv");
    T_EXPECT_STR(out, "d,v\r\n20210103,a\r\n20210103,b\r\n20201215,b\r\n");
    free(out);
    json_decref(res);
}

static void t_errors(void)
{
    json_t *res;
    struct err e;
    T_EXPECT_INT(ttx_run(ttx_csv,
                         "{\"steps\":[{\"op\":\"select\",\"columns\":[\"id\"]},"
                         "{\"op\":\"filter\",\"where\":\"id > 1\"},"
                         "{\"op\":\"filter\",\"where\":\"id > 2\"},"
                         "{\"op\":\"filter\",\"where\":\"id > 1 and pricee > 3\"}]}",
                         &res, &e),
                 E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "steps[3] (filter): expression error at character 12: unknown "
                             "column 'pricee'");
    T_EXPECT_INT(ttx_run(ttx_csv,
                         "{\"steps\":[{\"op\":\"filter\",\"where\":\"price > 1\"},"
                         "{\"op\":\"filter\",\"where\":\"pricee > 1\"}]}",
                         &res, &e),
                 E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "(did you mean 'price'?)");
    T_EXPECT_INT(ttx_run(ttx_csv, "{\"steps\":[{\"op\":\"explode\"}]}", &res, &e), E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "steps[0]: unknown op 'explode'");
    T_EXPECT_INT(ttx_run(ttx_csv, "{\"steps\":[{\"op\":\"sort\",\"by\":[\"nme\"]}]}", &res, &e),
                 E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "steps[0] (sort): unknown column 'nme' (did you mean 'name'?)");
    T_EXPECT_INT(ttx_run(ttx_csv, "{\"steps\":[{\"op\":\"limit\",\"count\":3}]}", &res, &e),
                 E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "steps[0] (limit): unknown field 'count'");
    T_EXPECT_INT(ttx_run(ttx_csv,
                         "{\"steps\":[{\"op\":\"cast\",\"column\":\"name\",\"to\":\"integer\"}]}",
                         &res, &e),
                 E_PARSE);
    T_EXPECT_CONTAINS(e.msg, "steps[0] (cast): row 1: cannot convert 'apple' in column 'name' "
                             "to integer");
    T_EXPECT_INT(ttx_run(ttx_csv,
                         "{\"steps\":[{\"op\":\"group\",\"by\":[\"name\"],\"aggs\":[{\"column\":"
                         "\"name\",\"fn\":\"sum\"}]}]}",
                         &res, &e),
                 E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "sum needs a number column");
    T_EXPECT_INT(ttx_run(ttx_csv, "{\"output\":{\"format\":\"parquet\"}}", &res, &e), E_INVALID);
    T_EXPECT_INT(ttx_run(ttx_csv, "{\"output\":{\"name\":\"../x\"}}", &res, &e), E_INVALID);
    T_EXPECT_INT(ttx_run(ttx_csv, "{\"stepz\":[]}", &res, &e), E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "did you mean 'steps'");
    /* failed runs leave no output file behind */
    char p[1024];
    snprintf(p, sizeof(p), "%s/out/result.csv", t_tmpdir());
    T_EXPECT(access(p, F_OK) != 0);
    /* onError null keeps going */
    T_EXPECT_INT(ttx_run(ttx_csv,
                         "{\"steps\":[{\"op\":\"cast\",\"column\":\"name\",\"to\":\"integer\","
                         "\"onError\":\"null\"},{\"op\":\"filter\",\"where\":\"name is null\"}]}",
                         &res, &e),
                 E_OK);
    T_EXPECT_INT(json_integer_value(json_object_get(res, "rowsOut")), 5);
    json_decref(res);
}

static void t_csv_quoting(void)
{
    json_t *res;
    struct err e;
    enum err_code rc = ttx_run("a,b\n\"x\"\"y\",+1 2\n\"l1\nl2\",@SUM(A1)\n", "{}", &res, &e);
    T_ASSERT(rc == E_OK);
    char *out = ttx_output("result.csv");
    T_EXPECT_STR(out, "a,b\r\n\"x\"\"y\",'+1 2\r\n\"l1\nl2\",'@SUM(A1)\r\n");
    free(out);
    json_decref(res);
    rc =
        ttx_run("a;b\n1;x\n", "{\"delimiter\":\";\",\"output\":{\"delimiter\":\"tab\"}}", &res, &e);
    T_ASSERT(rc == E_OK);
    out = ttx_output("result.csv");
    T_EXPECT_STR(out, "a\tb\r\n1\tx\r\n");
    free(out);
    json_decref(res);
}

/* Found by fuzzing: a header-only table read from the row cache did
 * pointer arithmetic on its NULL buffer (undefined behaviour). */
static void t_header_only_cached(void)
{
    json_t *res;
    struct err e;
    enum err_code rc = ttx_run("name,val,when\n",
                               "{\"steps\":[{\"op\":\"fill\",\"method\":\"ffill\"},"
                               "{\"op\":\"dedupe\"},{\"op\":\"limit\",\"n\":20}],"
                               "\"output\":{\"format\":\"jsonl\"}}",
                               &res, &e);
    T_ASSERT(rc == E_OK);
    char *out = ttx_output("result.jsonl");
    T_EXPECT_STR(out, "");
    free(out);
    T_EXPECT_INT(json_integer_value(json_object_get(res, "rowsOut")), 0);
    json_decref(res);
    rc = ttx_run("a,b\n", "{}", &res, &e);
    T_ASSERT(rc == E_OK);
    out = ttx_output("result.csv");
    T_EXPECT_STR(out, "a,b\r\n");
    free(out);
    json_decref(res);
}

static const struct t_case t_transform_cases[] = {
    {"transform_header_only_cached", t_header_only_cached},
    {"transform_select_filter_derive", t_select_filter_derive},
    {"transform_types_json", t_types_json},
    {"transform_sort_group", t_sort_group},
    {"transform_dedupe_fill_cast_rename", t_dedupe_fill_cast_rename},
    {"transform_errors", t_errors},
    {"transform_csv_quoting", t_csv_quoting},
    {0},
};
T_SUITE(transform, t_transform_cases)
