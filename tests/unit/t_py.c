/* sbx_py: the runner in a plain fork (no sandbox), cold and warm. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "klimits.h"
#include "sbx.h"
#include "sbx_py.h"

struct py_res {
    struct buf out, err, result;
    int status;
    json_t *msg; /* parsed result, or NULL */
};

static void py_res_release(struct py_res *r)
{
    buf_release(&r->out);
    buf_release(&r->err);
    buf_release(&r->result);
    json_decref(r->msg);
}

/* Run code through sbx_py_child in a forked child with cwd = dir. */
static void py_run_in(const char *dir, const char *code, const char *inputs, const char *packages,
                      long return_cap, struct py_res *r)
{
    int po[2], pe[2], pr[2];
    memset(r, 0, sizeof(*r));
    buf_init(&r->out, 1 << 20);
    buf_init(&r->err, 1 << 20);
    buf_init(&r->result, 1 << 22);
    if (pipe(po) || pipe(pe) || pipe(pr))
        return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(pe[0]), close(pr[0]), close(po[1]), close(pe[1]);
        if (chdir(dir) != 0)
            _exit(99);
        struct sbx_py_job job = {code,       strlen(code),        inputs,           packages,
                                 return_cap, LIM_TRACEBACK_BYTES, LIM_RETURN_DEPTH, true};
        _exit(sbx_py_child(&job, pr[1]));
    }
    close(po[1]), close(pe[1]), close(pr[1]);
    struct pollfd fds[3] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}, {pr[0], POLLIN, 0}};
    struct buf *bufs[3] = {&r->out, &r->err, &r->result};
    int open_fds = 3;
    while (open_fds > 0) {
        if (poll(fds, 3, 30000) <= 0)
            break;
        for (int i = 0; i < 3; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char chunk[65536];
            ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
            if (n > 0) {
                buf_append(bufs[i], chunk, (size_t)n, NULL);
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    waitpid(pid, &r->status, 0);
    if (r->result.len)
        r->msg = json_loadb(r->result.data, r->result.len, JSON_ALLOW_NUL, NULL);
}

static void py_run(const char *code, const char *inputs, const char *packages, struct py_res *r)
{
    py_run_in(t_tmpdir(), code, inputs, packages, LIM_RETURN_BYTES_DEFAULT, r);
}

static const char *py_status(const struct py_res *r)
{
    return json_string_value(json_object_get(r->msg, "status"));
}

static const char *py_ecode(const struct py_res *r)
{
    return json_string_value(json_object_get(json_object_get(r->msg, "error"), "code"));
}

static const char *py_estr(const struct py_res *r, const char *key)
{
    return json_string_value(json_object_get(json_object_get(r->msg, "error"), key));
}

/* returnValue as compact JSON text (static buffer). */
static const char *py_rv(const struct py_res *r)
{
    static char text[4096];
    char *s = json_dumps(json_object_get(r->msg, "returnValue"),
                         JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    snprintf(text, sizeof(text), "%s", s ? s : "(none)");
    free(s);
    return text;
}

static void t_py_print(void)
{
    struct py_res r;
    py_run("import sys\nprint('hello')\nprint('warn', file=sys.stderr)\n", NULL, NULL, &r);
    T_EXPECT(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    T_EXPECT_STR(r.out.data, "hello\n");
    T_EXPECT_STR(r.err.data, "warn\n");
    T_EXPECT_STR(py_status(&r), "ok");
    T_EXPECT_STR(json_string_value(json_object_get(r.msg, "entryPoint")), "script");
    T_EXPECT_STR(py_rv(&r), "null");
    py_res_release(&r);
}

static void t_py_main_inputs(void)
{
    struct py_res r;
    py_run("def main(a, b=1):\n    return {'sum': a + b}\n", "{\"a\":2,\"b\":40}", NULL, &r);
    T_EXPECT_STR(py_status(&r), "ok");
    T_EXPECT_STR(json_string_value(json_object_get(r.msg, "entryPoint")), "main");
    T_EXPECT_STR(py_rv(&r), "{\"sum\":42}");
    py_res_release(&r);

    py_run("def run(ctx):\n    return sorted(ctx)\n", "{\"x\":1,\"y\":2}", NULL, &r);
    T_EXPECT_STR(json_string_value(json_object_get(r.msg, "entryPoint")), "run");
    T_EXPECT_STR(py_rv(&r), "[\"x\",\"y\"]");
    py_res_release(&r);

    /* A script that calls its own main under a __name__ guard runs it once. */
    py_run("def main():\n    print('once')\n    return 1\nif __name__ == '__main__':\n"
           "    main()\n",
           NULL, NULL, &r);
    T_EXPECT_STR(r.out.data, "once\n");
    T_EXPECT_STR(json_string_value(json_object_get(r.msg, "entryPoint")), "script");
    py_res_release(&r);

    /* An imported function named main is not an entry point. */
    py_run("from os.path import join as main\n", NULL, NULL, &r);
    T_EXPECT_STR(json_string_value(json_object_get(r.msg, "entryPoint")), "script");
    py_res_release(&r);

    /* async def main() is awaited. */
    py_run("async def main():\n    return 'awaited'\n", NULL, NULL, &r);
    T_EXPECT_STR(py_rv(&r), "\"awaited\"");
    py_res_release(&r);
}

static void t_py_exception(void)
{
    struct py_res r;
    py_run("x = 1\ndef f():\n    return 1 / 0\nf()\n", NULL, NULL, &r);
    T_EXPECT_STR(py_status(&r), "error");
    T_EXPECT_STR(py_ecode(&r), "CODE_ERROR");
    T_EXPECT_STR(py_estr(&r, "type"), "ZeroDivisionError");
    T_EXPECT_CONTAINS(py_estr(&r, "message"), "ZeroDivisionError: division by zero (line 3)");
    T_EXPECT_CONTAINS(py_estr(&r, "traceback"), "File \"<code>\", line 4, in <module>");
    T_EXPECT_CONTAINS(py_estr(&r, "traceback"), "return 1 / 0");
    const char *tb = py_estr(&r, "traceback");
    T_EXPECT(tb && !strstr(tb, "kiln-runner"));
    py_res_release(&r);

    py_run("x = = 1\n", NULL, NULL, &r);
    T_EXPECT_STR(py_estr(&r, "type"), "SyntaxError");
    T_EXPECT_CONTAINS(py_estr(&r, "traceback"), "line 1");
    py_res_release(&r);

    /* A bad call of main is reported without runner frames. */
    py_run("def main(a):\n    return a\n", "{\"b\":1}", NULL, &r);
    T_EXPECT_STR(py_ecode(&r), "CODE_ERROR");
    T_EXPECT_CONTAINS(py_estr(&r, "message"), "unexpected keyword argument 'b'");
    py_res_release(&r);

    py_run("raise MemoryError('big')\n", NULL, NULL, &r);
    T_EXPECT_STR(py_ecode(&r), "MEMORY_LIMIT");
    py_res_release(&r);
}

static void t_py_system_exit(void)
{
    struct py_res r;
    py_run("import sys\nprint('a')\nsys.exit(0)\nprint('b')\n", NULL, NULL, &r);
    T_EXPECT_STR(py_status(&r), "ok");
    T_EXPECT_STR(r.out.data, "a\n");
    py_res_release(&r);

    py_run("import sys\nsys.exit(3)\n", NULL, NULL, &r);
    T_EXPECT_STR(py_ecode(&r), "CODE_ERROR");
    T_EXPECT_CONTAINS(py_estr(&r, "message"), "exited with status 3");
    T_EXPECT_INT(json_integer_value(json_object_get(json_object_get(r.msg, "error"), "exitStatus")),
                 3);
    py_res_release(&r);
}

static void t_py_return_values(void)
{
    struct py_res r;
    py_run("import datetime, decimal, math\n"
           "def main():\n"
           "    return {'d': datetime.date(2024, 1, 2), 'dec': decimal.Decimal('1.5'),\n"
           "            'i': decimal.Decimal('7'), 's': {3, 1, 2}, 't': (1, 'x'),\n"
           "            'nan': math.nan, 'big': 2**70, 1: 'intkey', 'b': b'hi'}\n",
           NULL, NULL, &r);
    T_EXPECT_STR(py_status(&r), "ok");
    T_EXPECT_STR(py_rv(&r), "{\"1\":\"intkey\",\"b\":\"hi\",\"big\":1.1805916207174113e21,"
                            "\"d\":\"2024-01-02\",\"dec\":1.5,\"i\":7,\"nan\":null,"
                            "\"s\":[1,2,3],\"t\":[1,\"x\"]}");
    py_res_release(&r);

    py_run("import numpy as np, pandas as pd\n"
           "def main():\n"
           "    df = pd.DataFrame({'a': [1, 2], 'b': ['x', None]})\n"
           "    return {'df': df, 'col': df['a'], 'n': np.int64(5), 'arr': np.arange(3),\n"
           "            'f': np.float32(0.5), 'ts': pd.Timestamp('2024-05-01 12:00'),\n"
           "            'ser': pd.Series([1.5], index=['k'])}\n",
           NULL, NULL, &r);
    T_EXPECT_STR(py_status(&r), "ok");
    T_EXPECT_STR(py_rv(&r), "{\"arr\":[0,1,2],\"col\":[1,2],\"df\":[{\"a\":1,\"b\":\"x\"},"
                            "{\"a\":2,\"b\":null}],\"f\":0.5,\"n\":5,\"ser\":{\"k\":1.5},"
                            "\"ts\":\"2024-05-01T12:00:00\"}");
    py_res_release(&r);

    py_run("def main():\n    return object()\n", NULL, NULL, &r);
    T_EXPECT_STR(py_ecode(&r), "CODE_ERROR");
    T_EXPECT_STR(py_estr(&r, "message"), "returnValue is not JSON-serialisable: object");
    py_res_release(&r);

    py_run("def main():\n    a = []\n    a.append(a)\n    return a\n", NULL, NULL, &r);
    T_EXPECT_STR(py_ecode(&r), "CODE_ERROR");
    T_EXPECT_CONTAINS(py_estr(&r, "message"), "circular");
    py_res_release(&r);

    py_run_in(t_tmpdir(), "def main():\n    return 'x' * 1000\n", NULL, NULL, 100, &r);
    T_EXPECT_STR(py_ecode(&r), "OUTPUT_TOO_LARGE");
    py_res_release(&r);
}

static void t_py_no_shadowing(void)
{
    const char *dir = t_tmpdir();
    char path[4096];
    static const char *const shadows[] = {"os.py", "json.py", "pandas.py", "sitecustomize.py"};
    for (size_t i = 0; i < sizeof(shadows) / sizeof(shadows[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, shadows[i]);
        T_ASSERT(t_write_file(path, "raise SystemExit('shadowed')\n", 29));
    }
    snprintf(path, sizeof(path), "%s/helper.py", dir);
    T_ASSERT(t_write_file(path, "VALUE = 41\n", 11));
    struct py_res r;
    py_run_in(dir,
              "import os, json, pandas, helper, sys\n"
              "def main():\n"
              "    return [os.path.basename(os.__file__), json.dumps(1),\n"
              "            hasattr(pandas, 'DataFrame'), helper.VALUE + 1,\n"
              "            sys.path[-1] == os.getcwd(), os.path.exists('__pycache__')]\n",
              NULL, NULL, LIM_RETURN_BYTES_DEFAULT, &r);
    T_EXPECT_STR(py_status(&r), "ok");
    T_EXPECT_STR(py_rv(&r), "[\"os.py\",\"1\",true,42,true,false]");
    py_res_release(&r);
}

static void t_py_packages(void)
{
    struct py_res r;
    py_run("print('never')\n", NULL,
           "[[\"numpy\",\"numpy\"],[\"no-such-pkg\",\"no_such_pkg\"],[\"zz.top\",\"zz.top\"]]", &r);
    T_EXPECT_STR(py_ecode(&r), "PACKAGE_MISSING");
    T_EXPECT_CONTAINS(py_estr(&r, "message"), "no-such-pkg, zz.top");
    T_EXPECT_INT(json_array_size(json_object_get(json_object_get(r.msg, "error"), "missing")), 2);
    T_EXPECT(r.out.len == 0);
    py_res_release(&r);

    py_run("print('ran')\n", NULL, "[[\"pandas\",\"pandas\"],[\"python-dateutil\",\"dateutil\"]]",
           &r);
    T_EXPECT_STR(py_status(&r), "ok");
    T_EXPECT_STR(r.out.data, "ran\n");
    py_res_release(&r);
}

static void t_py_matplotlib(void)
{
    const char *dir = t_tmpdir();
    struct py_res r;
    py_run_in(dir,
              "import matplotlib.pyplot as plt\n"
              "plt.plot([1, 2, 3])\nplt.savefig('plot.png')\nplt.show()\n"
              "import matplotlib\nprint(matplotlib.get_backend())\n",
              NULL, NULL, LIM_RETURN_BYTES_DEFAULT, &r);
    T_EXPECT_STR(py_status(&r), "ok");
    T_EXPECT_STR(r.out.data, "agg\n");
    T_EXPECT(r.err.len == 0);
    char path[4096];
    snprintf(path, sizeof(path), "%s/plot.png", dir);
    size_t n = 0;
    char *png = t_read_file(path, &n);
    T_EXPECT(png && n > 8 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8));
    free(png);
    py_res_release(&r);
}

/* Warm start: this (forked) case initialises Python and pre-imports pandas;
 * its children inherit both. */
static void t_py_warm(void)
{
    struct err err;
    T_ASSERT(sbx_py_init(true, &err) == E_OK);
    T_EXPECT(sbx_py_ready());
    struct py_res r;
    for (int i = 0; i < 2; i++) {
        py_run("import sys\nwarm = 'pandas' in sys.modules\nimport pandas as pd\n"
               "def main():\n    return [warm, int(pd.DataFrame({'a': [1, 2]})['a'].sum())]\n",
               NULL, NULL, &r);
        T_EXPECT_STR(py_status(&r), "ok");
        T_EXPECT_STR(py_rv(&r), "[true,3]");
        py_res_release(&r);
    }
    py_run("print('x')\n1/0\n", NULL, NULL, &r);
    T_EXPECT_STR(r.out.data, "x\n");
    T_EXPECT_STR(py_ecode(&r), "CODE_ERROR");
    py_res_release(&r);
}

static void t_py_cold_has_no_pandas(void)
{
    struct py_res r;
    py_run("import sys\ndef main():\n    return 'pandas' in sys.modules\n", NULL, NULL, &r);
    T_EXPECT_STR(py_rv(&r), "false");
    T_EXPECT(!sbx_py_ready());
    py_res_release(&r);
}

/* Warm start through the real sandbox: the inherited interpreter works
 * under the namespaces, rlimits and seccomp filter. */
static void t_py_warm_sandbox(void)
{
    struct err err;
    struct config cfg;
    struct sbx_opts opts;
    struct sbx_outcome oc;
    config_defaults(&cfg);
    T_ASSERT(sbx_py_init(true, &err) == E_OK);
    const char *code = "import sys\nwarm = 'pandas' in sys.modules\nimport pandas as pd\n"
                       "print('hi')\ndef main(n):\n    return [warm, n * 2]\n";
    struct sbx_py_job job = {code,
                             strlen(code),
                             "{\"n\":21}",
                             NULL,
                             LIM_RETURN_BYTES_DEFAULT,
                             LIM_TRACEBACK_BYTES,
                             LIM_RETURN_DEPTH,
                             true};
    sbx_opts_from_config(&opts, &cfg, t_tmpdir());
    opts.wall_ms = 20000;
    opts.result_cap = 1 << 20;
    enum err_code rc = sbx_run(&opts, sbx_py_child, &job, &oc, &err);
    if (rc) {
        t_fail(__FILE__, __LINE__, "sbx_run: %s", err.msg);
        return;
    }
    T_EXPECT_STR(oc.out.data, "hi\n");
    T_EXPECT_CONTAINS(oc.result.data, "\"returnValue\":[true,42]");
    T_EXPECT_INT(oc.exit_status, 0);
    sbx_outcome_release(&oc);
}

/* The runner compiled at build time (mk/runner_code.py) is the one in use:
 * same bytecode magic as this interpreter, same source (a decoding slip in
 * the generator would make every cold start compile it again). */
static void t_py_runner_builtin(void)
{
    struct err err;
    T_ASSERT(sbx_py_init(false, &err) == E_OK);
    T_EXPECT(sbx_py_runner_builtin());
    struct py_res r;
    py_run("import sys\ndef main():\n    return sys._getframe(1).f_code.co_filename\n", NULL, NULL,
           &r);
    T_EXPECT_STR(py_rv(&r), "\"<kiln-runner>\"");
    py_res_release(&r);
}

static const struct t_case cases[] = {
    {"py_print", t_py_print, false, 0, 0, 0},
    {"py_runner_builtin", t_py_runner_builtin, true, 60, 0, 0},
    {"py_main_inputs", t_py_main_inputs, false, 0, 0, 0},
    {"py_exception", t_py_exception, false, 0, 0, 0},
    {"py_system_exit", t_py_system_exit, false, 0, 0, 0},
    {"py_return_values", t_py_return_values, false, 0, 0, 0},
    {"py_no_shadowing", t_py_no_shadowing, false, 0, 0, 0},
    {"py_packages", t_py_packages, false, 0, 0, 0},
    {"py_matplotlib", t_py_matplotlib, false, 0, 0, 0},
    {"py_cold_has_no_pandas", t_py_cold_has_no_pandas, false, 0, 0, 0},
    {"py_warm", t_py_warm, true, 60, 0, 0},
    {"py_warm_sandbox", t_py_warm_sandbox, true, 60, 0, 0},
    {NULL, NULL, false, 0, 0, 0},
};

T_SUITE(py, cases)
