#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "klimits.h"
#include "xval.h"

/* Columns: price float, qty int, name string, day date, ok boolean, n int (null in row). */
static const char *const tex_names[] = {"price", "qty", "name", "day", "ok", "n", "Unit Cost"};
static const enum xtype tex_types[] = {XT_FLOAT, XT_INT, XT_STRING, XT_DATE,
                                       XT_BOOL,  XT_INT, XT_FLOAT};

static struct xval tex_row[7];

static void tex_init_row(void)
{
    tex_row[0] = (struct xval){.t = XT_FLOAT, .u.f = 2.5};
    tex_row[1] = (struct xval){.t = XT_INT, .u.i = 4};
    tex_row[2] = (struct xval){.t = XT_STRING, .len = 9, .u.s = "  Widget "};
    tex_row[3] = (struct xval){.t = XT_DATE, .u.i = xval_days_from_civil(2021, 3, 14)};
    tex_row[4] = (struct xval){.t = XT_BOOL, .u.i = 1};
    tex_row[5] = (struct xval){.t = XT_NULL};
    tex_row[6] = (struct xval){.t = XT_FLOAT, .u.f = 10};
}

/* Compile and evaluate; the result as text ("null" for null), or the error. */
static char tex_out[600];

static const char *tex_eval(const char *src)
{
    struct expr_schema sc = {tex_names, tex_types, 7};
    struct expr *e = NULL;
    struct err err;
    err_clear(&err);
    tex_init_row();
    if (expr_compile(src, &sc, &e, &err)) {
        snprintf(tex_out, sizeof(tex_out), "ERR %s", err.msg);
        return tex_out;
    }
    struct xval_arena a;
    xval_arena_init(&a, 1 << 20);
    struct xval v;
    if (expr_eval(e, tex_row, &a, &v, &err)) {
        snprintf(tex_out, sizeof(tex_out), "EVALERR %s", err.msg);
    } else if (v.t == XT_NULL) {
        snprintf(tex_out, sizeof(tex_out), "null");
    } else {
        char tmp[XVAL_TEXT_MAX];
        size_t len;
        const char *s = xval_text(&v, tmp, &len, NULL);
        snprintf(tex_out, sizeof(tex_out), "%s:%.*s", xval_type_name((enum xtype)v.t), (int)len, s);
    }
    xval_arena_release(&a);
    expr_free(e);
    return tex_out;
}

static void t_precedence(void)
{
    T_EXPECT_STR(tex_eval("1 + 2 * 3"), "integer:7");
    T_EXPECT_STR(tex_eval("(1 + 2) * 3"), "integer:9");
    T_EXPECT_STR(tex_eval("-2 * 3 + 10 % 4"), "integer:-4");
    T_EXPECT_STR(tex_eval("7 / 2"), "float:3.5");
    T_EXPECT_STR(tex_eval("-7 % 3"), "integer:2"); /* floored, like Python */
    T_EXPECT_STR(tex_eval("price * qty"), "float:10.0");
    T_EXPECT_STR(tex_eval("1 + 2 = 3 and not false or false"), "boolean:true");
    T_EXPECT_STR(tex_eval("true or false and false"), "boolean:true");
    T_EXPECT_STR(tex_eval("'a' || 1 + 2"), "string:a3");
    T_EXPECT_STR(tex_eval("[Unit Cost] * 2"), "float:20.0");
    T_EXPECT_STR(tex_eval("`Unit Cost` - 1.5"), "float:8.5");
    T_EXPECT_STR(tex_eval("qty between 1 and 4"), "boolean:true");
    T_EXPECT_STR(tex_eval("qty not between 1 and 3"), "boolean:true");
    T_EXPECT_STR(tex_eval("qty in (1, 2, 4)"), "boolean:true");
    T_EXPECT_STR(tex_eval("qty not in (1, 2)"), "boolean:true");
    T_EXPECT_STR(tex_eval("qty <> 4"), "boolean:false");
    T_EXPECT_STR(tex_eval("qty == 4.0"), "boolean:true");
    T_EXPECT_STR(tex_eval("1e3 + .5"), "float:1000.5");
}

static void t_nulls(void)
{
    T_EXPECT_STR(tex_eval("n + 1"), "null");
    T_EXPECT_STR(tex_eval("n = 1"), "null");
    T_EXPECT_STR(tex_eval("n is null"), "boolean:true");
    T_EXPECT_STR(tex_eval("n is not null"), "boolean:false");
    T_EXPECT_STR(tex_eval("n = 1 and false"), "boolean:false");
    T_EXPECT_STR(tex_eval("n = 1 and true"), "null");
    T_EXPECT_STR(tex_eval("n = 1 or true"), "boolean:true");
    T_EXPECT_STR(tex_eval("n = 1 or false"), "null");
    T_EXPECT_STR(tex_eval("not (n = 1)"), "null");
    T_EXPECT_STR(tex_eval("qty in (1, null)"), "null");
    T_EXPECT_STR(tex_eval("qty in (4, null)"), "boolean:true");
    T_EXPECT_STR(tex_eval("1 / 0"), "null");
    T_EXPECT_STR(tex_eval("qty % 0"), "null");
    T_EXPECT_STR(tex_eval("price / 0"), "null");
    T_EXPECT_STR(tex_eval("coalesce(n, qty, 7)"), "integer:4");
    T_EXPECT_STR(tex_eval("coalesce(n, 1.5)"), "float:1.5");
    T_EXPECT_STR(tex_eval("'a' || null"), "null");
    T_EXPECT_STR(tex_eval("concat('a', n, 'b')"), "string:ab");
    T_EXPECT_STR(tex_eval("if(n > 1, 'big', 'small')"), "string:small");
    T_EXPECT_STR(tex_eval("sqrt(-1)"), "null");
    T_EXPECT_STR(tex_eval("9223372036854775807 + 1"), "null");
}

static void t_functions(void)
{
    T_EXPECT_STR(tex_eval("upper(trim(name))"), "string:WIDGET");
    T_EXPECT_STR(tex_eval("lower('ÄbC')"), "string:Äbc");
    T_EXPECT_STR(tex_eval("length(trim(name))"), "integer:6");
    T_EXPECT_STR(tex_eval("length('héllo')"), "integer:5");
    T_EXPECT_STR(tex_eval("substr('héllo', 2, 3)"), "string:éll");
    T_EXPECT_STR(tex_eval("substr('hello', -3)"), "string:llo");
    T_EXPECT_STR(tex_eval("replace('a-b-c', '-', '+')"), "string:a+b+c");
    T_EXPECT_STR(tex_eval("contains(name, 'dge')"), "boolean:true");
    T_EXPECT_STR(tex_eval("startswith(trim(name), 'Wid')"), "boolean:true");
    T_EXPECT_STR(tex_eval("endswith(name, 'x')"), "boolean:false");
    T_EXPECT_STR(tex_eval("abs(-3)"), "integer:3");
    T_EXPECT_STR(tex_eval("round(2.675, 2)"), "float:2.68"); /* as numpy: 2.675 * 100 == 267.5 */
    T_EXPECT_STR(tex_eval("round(0.125, 2)"), "float:0.12");
    T_EXPECT_STR(tex_eval("round(2.5)"), "float:2.0"); /* half to even */
    T_EXPECT_STR(tex_eval("round(1234, -2)"), "integer:1200");
    T_EXPECT_STR(tex_eval("floor(-1.5)"), "float:-2.0");
    T_EXPECT_STR(tex_eval("ceil(1.2)"), "float:2.0");
    T_EXPECT_STR(tex_eval("pow(2, 10)"), "float:1024.0");
    T_EXPECT_STR(tex_eval("min(3, qty, 9)"), "integer:3");
    T_EXPECT_STR(tex_eval("max(price, qty)"), "float:4.0");
    T_EXPECT_STR(tex_eval("to_number(' 12.5 ') * 2"), "float:25.0");
    T_EXPECT_STR(tex_eval("to_number('abc')"), "null");
    T_EXPECT_STR(tex_eval("to_string(qty) || 'x'"), "string:4x");
    T_EXPECT_STR(tex_eval("year(day) * 100 + month(day)"), "integer:202103");
    T_EXPECT_STR(tex_eval("day(day)"), "integer:14");
    T_EXPECT_STR(tex_eval("date('14/03/2021', '%d/%m/%Y') = day"), "boolean:true");
    T_EXPECT_STR(tex_eval("date('2021-03-01')"), "date:2021-03-01");
    T_EXPECT_STR(tex_eval("datediff(day, '2021-01-01')"), "integer:72");
    T_EXPECT_STR(tex_eval("day > '2021-03-01'"), "boolean:true");
    T_EXPECT_STR(tex_eval("day + 1"), "date:2021-03-15");
    T_EXPECT_STR(tex_eval("day - date('2021-03-10')"), "integer:4");
    T_EXPECT_STR(tex_eval("if(ok, qty, price)"), "float:4.0");
    T_EXPECT_STR(tex_eval("\"dq\" || 'it''s'"), "string:dqit's");
}

static void t_errors(void)
{
    T_EXPECT_STR(tex_eval("pricee > 3"),
                 "ERR expression error at character 1: unknown column 'pricee' (did you mean "
                 "'price'?)");
    T_EXPECT_STR(tex_eval("qty > 1 and pricee > 3"),
                 "ERR expression error at character 13: unknown column 'pricee' (did you mean "
                 "'price'?)");
    T_EXPECT_CONTAINS(tex_eval("1 +"), "character 4: unexpected end of expression");
    T_EXPECT_CONTAINS(tex_eval("(1 + 2"),
                      "character 7: unexpected end of expression, expected ')'");
    T_EXPECT_CONTAINS(tex_eval("name + 1"), "character 6: operator '+' needs numbers");
    T_EXPECT_CONTAINS(tex_eval("name + 1"), "use || to join");
    T_EXPECT_CONTAINS(tex_eval("qty > 'x'"), "cannot compare integer with string");
    T_EXPECT_CONTAINS(tex_eval("lowr(name)"), "unknown function 'lowr' (did you mean 'lower'?)");
    T_EXPECT_CONTAINS(tex_eval("substr(name)"), "substr() takes 2 to 3 arguments, got 1");
    T_EXPECT_CONTAINS(tex_eval("'abc"), "character 1: unterminated string");
    T_EXPECT_CONTAINS(tex_eval("[Unit Cost"), "unterminated [column name]");
    T_EXPECT_CONTAINS(tex_eval("qty $ 2"), "character 5: unexpected character '$'");
    T_EXPECT_CONTAINS(tex_eval("qty 2"), "character 5: unexpected '2', expected an operator");
    T_EXPECT_CONTAINS(tex_eval("qty and ok"), "'and' needs true/false values, got integer");
    T_EXPECT_CONTAINS(tex_eval("day > '2021-13-01'"), "is not an ISO date");
    T_EXPECT_CONTAINS(tex_eval(""), "empty expression");
    T_EXPECT_CONTAINS(tex_eval("'é' || x"), "character 8: unknown column 'x'");
    T_EXPECT_CONTAINS(tex_eval("date(name, '%Q')"), "unknown directive");
}

static void t_caps(void)
{
    char *deep = malloc(400);
    T_ASSERT(deep);
    size_t k = 0;
    for (int i = 0; i < 100; i++)
        deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 100; i++)
        deep[k++] = ')';
    deep[k] = '\0';
    T_EXPECT_CONTAINS(tex_eval(deep), "nested deeper than");
    free(deep);
    size_t n = (size_t)LIM_EXPR_BYTES + 10;
    char *big = malloc(n + 1);
    T_ASSERT(big);
    memset(big, ' ', n);
    big[0] = '1';
    big[n] = '\0';
    T_EXPECT_CONTAINS(tex_eval(big), "longer than");
    /* many nodes: 1+1+1+... within the byte cap but over the node cap */
    size_t m = 0;
    for (long i = 0; i < LIM_EXPR_NODES + 5 && m + 3 < n; i++) {
        big[m++] = '1';
        big[m++] = '+';
    }
    big[m++] = '1';
    big[m] = '\0';
    T_EXPECT_CONTAINS(tex_eval(big), "more than");
    free(big);
    /* a reasonable expression still works */
    T_EXPECT_STR(tex_eval("((((1))))"), "integer:1");
}

static void t_suggest(void)
{
    const char *names[] = {"price", "quantity", "Name"};
    T_EXPECT_STR(expr_suggest("pric", names, 3), "price");
    T_EXPECT_STR(expr_suggest("name", names, 3), "Name");
    T_EXPECT(expr_suggest("zzzzzz", names, 3) == NULL);
}

static void t_xval(void)
{
    char tmp[XVAL_TEXT_MAX];
    size_t len;
    struct xval v = {.t = XT_FLOAT, .u.f = 0.1 + 0.2};
    T_EXPECT_STR(xval_text(&v, tmp, &len, NULL), "0.30000000000000004");
    v.u.f = 5;
    T_EXPECT_STR(xval_text(&v, tmp, &len, NULL), "5.0");
    double secs;
    bool d;
    T_EXPECT(xval_parse_iso("2020-02-29T12:30:00+01:00", 25, &secs, &d));
    struct xval dt = {.t = XT_DATETIME, .u.f = secs};
    T_EXPECT_STR(xval_text(&dt, tmp, &len, NULL), "2020-02-29T11:30:00");
    T_EXPECT_STR(xval_text(&dt, tmp, &len, "%d/%m/%Y %H:%M"), "29/02/2020 11:30");
    T_EXPECT(!xval_parse_iso("2021-02-29", 10, &secs, &d));
    bool ht;
    T_EXPECT(xval_parse_fmt("3 Mar 21 5:07 PM", 16, "%d %b %y %I:%M %p", &secs, &ht));
    dt.u.f = secs;
    T_EXPECT_STR(xval_text(&dt, tmp, &len, NULL), "2021-03-03T17:07:00");
    T_EXPECT(xval_is_na("NA", 2) && xval_is_na("", 0) && xval_is_na("-nan", 4));
    T_EXPECT(!xval_is_na("1.5", 3) && !xval_is_na("Na", 2));
    int64_t i;
    T_EXPECT(xval_parse_int(" -42 ", 5, &i) && i == -42);
    T_EXPECT(!xval_parse_int("9223372036854775808", 19, &i));
}

/* Found by fuzzing: date arithmetic past the calendar range and float
 * arguments that do not fit an integer (undefined behaviour in the
 * sanitizer build). Out-of-range dates are null now; int arguments saturate. */
static void t_date_arith_out_of_range(void)
{
    T_EXPECT_STR(tex_eval("day + 1"), "date:2021-03-15");
    T_EXPECT_STR(tex_eval("day + 1e300"), "null");
    T_EXPECT_STR(tex_eval("day - 1e18"), "null");
    T_EXPECT_STR(tex_eval("day + 3000000"), "null");
    T_EXPECT_STR(tex_eval("date('9999-12-31') + 0"), "date:9999-12-31");
    T_EXPECT_STR(tex_eval("date('0001-01-01') - 1"), "null");
    T_EXPECT_STR(tex_eval("year(date('2021-01-01') - 1e300)"), "null");
}

static void t_float_args_saturate(void)
{
    T_EXPECT_STR(tex_eval("substr(name, 1e300)"), "string:");
    T_EXPECT_STR(tex_eval("substr(name, -1e300, 3)"), "string:  W");
    T_EXPECT_STR(tex_eval("substr(name, 3, 1e300)"), "string:Widget ");
    T_EXPECT_STR(tex_eval("round(price, 1e300)"), "float:2.5");
    T_EXPECT_STR(tex_eval("round(price, -1e300)"), "float:0.0");
}

static const struct t_case t_expr_cases[] = {
    {"date_arith_out_of_range", t_date_arith_out_of_range},
    {"float_args_saturate", t_float_args_saturate},
    {"expr_precedence", t_precedence},
    {"expr_nulls", t_nulls},
    {"expr_functions", t_functions},
    {"expr_errors", t_errors},
    {"expr_caps", t_caps},
    {"expr_suggest", t_suggest},
    {"expr_xval", t_xval},
    {0},
};
T_SUITE(expr, t_expr_cases)
