#include "harness.h"

#include <errno.h>
#include <stdlib.h>

#include "buf.h"
#include "err.h"

static void t_err_set_returns_code(void)
{
    struct err e;
    T_EXPECT_INT(err_set(&e, E_PARSE, "bad row %d", 7), E_PARSE);
    T_EXPECT_STR(e.msg, "bad row 7");
    T_EXPECT_STR(err_spec_code(e.code), "PARSE_ERROR");
    T_EXPECT_INT(err_set(NULL, E_IO, "x"), E_IO);
}

static void t_err_sys_appends_strerror(void)
{
    struct err e;
    errno = ENOENT;
    err_sys(&e, E_IO, "cannot open '%s'", "a.csv");
    T_EXPECT_STR(e.msg, "cannot open 'a.csv': No such file or directory");
    T_EXPECT_INT(e.sys_errno, ENOENT);
    err_wrap(&e, "staging '%s'", "x");
    T_EXPECT_STR(e.msg, "staging 'x': cannot open 'a.csv': No such file or directory");
}

static void t_err_spec_codes(void)
{
    T_EXPECT_STR(err_spec_code(E_INVALID), "INVALID_REQUEST");
    T_EXPECT_STR(err_spec_code(E_FETCH), "FETCH_FAILED");
    T_EXPECT_STR(err_spec_code(E_BLOCKED), "URL_BLOCKED");
    T_EXPECT_STR(err_spec_code(E_TOO_LARGE), "FILE_TOO_LARGE");
    T_EXPECT_STR(err_spec_code(E_UNSUPPORTED), "UNSUPPORTED_FILE");
    T_EXPECT_STR(err_spec_code(E_CODE), "CODE_ERROR");
    T_EXPECT_STR(err_spec_code(E_TIMEOUT), "TIMEOUT");
    T_EXPECT_STR(err_spec_code(E_MEMORY), "MEMORY_LIMIT");
    T_EXPECT_STR(err_spec_code(E_OUTPUT_LIMIT), "OUTPUT_TOO_LARGE");
    T_EXPECT_STR(err_spec_code(E_PACKAGE), "PACKAGE_MISSING");
    T_EXPECT_STR(err_spec_code(E_NOTFOUND), "NOT_FOUND");
    T_EXPECT_STR(err_spec_code(E_SANDBOX), "SANDBOX_ERROR");
    T_EXPECT_STR(err_spec_code(E_INTERNAL), "INTERNAL");
    T_EXPECT_STR(err_spec_code((enum err_code)999), "INTERNAL");
}

static void t_buf_caps(void)
{
    struct buf b;
    struct err e;
    buf_init(&b, 10);
    T_EXPECT_INT(buf_append(&b, "12345", 5, &e), E_OK);
    T_EXPECT_INT(buf_printf(&b, &e, "%d", 6789), E_OK);
    T_EXPECT_STR(b.data, "123456789");
    T_EXPECT_INT(buf_append(&b, "ab", 2, &e), E_LIMIT);
    T_EXPECT_INT(b.len, 9);
    T_EXPECT_INT(buf_append(&b, "a", 1, &e), E_OK);
    size_t len;
    char *p = buf_take(&b, &len);
    T_EXPECT_INT(len, 10);
    T_EXPECT_STR(p, "123456789a");
    free(p);
    T_EXPECT(b.data == NULL);
    buf_release(&b);
}

static const struct t_case cases[] = {
    {"set_returns_code", t_err_set_returns_code},
    {"sys_appends_strerror", t_err_sys_appends_strerror},
    {"spec_codes", t_err_spec_codes},
    {"buf_caps", t_buf_caps},
    {0},
};
T_SUITE(err, cases)
