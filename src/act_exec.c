/*
 * executeCode: stage the inputs (and a session's files) in a scratch dir, run
 * the Python code there in the sandbox (sandbox/sbx_py.h), and turn what the
 * child reported on its result channel, plus its captured stdout/stderr, into
 * the SPEC result; files the code created or changed become stored outputs.
 */
#include "actions.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "input.h"
#include "klimits.h"
#include "log.h"
#include "outputs.h"
#include "router.h"
#include "sbx.h"
#include "sbx_py.h"
#include "scratch.h"
#include "store.h"

#include "banned.h"

/* pip distribution names whose import name differs (lower-case keys). */
static const struct {
    const char *pip;
    const char *mod;
} exec_pkg_map[] = {
    {"beautifulsoup4", "bs4"},
    {"opencv-contrib-python", "cv2"},
    {"opencv-python", "cv2"},
    {"opencv-python-headless", "cv2"},
    {"pillow", "PIL"},
    {"protobuf", "google.protobuf"},
    {"pyjwt", "jwt"},
    {"pymupdf", "fitz"},
    {"python-dateutil", "dateutil"},
    {"python-docx", "docx"},
    {"python-pptx", "pptx"},
    {"pyyaml", "yaml"},
    {"scikit-image", "skimage"},
    {"scikit-learn", "sklearn"},
    {"tables", "tables"},
};

static bool exec_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool exec_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* An import name: dotted identifiers (ASCII). */
static bool exec_module_ok(const char *m)
{
    bool start = true;
    if (!*m)
        return false;
    for (; *m; m++) {
        if (*m == '.') {
            if (start)
                return false;
            start = true;
            continue;
        }
        if (start ? !exec_alpha(*m) : !(exec_alpha(*m) || exec_digit(*m)))
            return false;
        start = false;
    }
    return !start;
}

/* One `packages` entry: a pip-style name, optionally with a version spec or
 * extras, which are ignored ("pandas>=2", "requests[socks]"). Fills the
 * import name to check. */
static enum err_code exec_package(const char *req, size_t len, size_t idx, char *mod,
                                  size_t mod_len, struct err *err)
{
    char name[LIM_PACKAGE_NAME_LEN + 1];
    size_t n = 0;
    if (len == 0 || len > LIM_PACKAGE_NAME_LEN || strlen(req) != len)
        return err_set(err, E_INVALID,
                       "'packages[%zu]' must be a package name of 1 to %d "
                       "characters",
                       idx, LIM_PACKAGE_NAME_LEN);
    while (*req == ' ')
        req++;
    while (req[n] && !strchr("<>=!~[;@ ", req[n]))
        n++;
    memcpy(name, req, n);
    name[n] = '\0';
    if (!n || !(exec_alpha(name[0]) || exec_digit(name[0])))
        return err_set(err, E_INVALID, "'packages[%zu]' is not a package name: '%.100s'", idx, req);
    for (size_t i = 0; i < n; i++)
        if (!(exec_alpha(name[i]) || exec_digit(name[i]) || name[i] == '-' || name[i] == '.'))
            return err_set(err, E_INVALID, "'packages[%zu]' is not a package name: '%.100s'", idx,
                           req);
    char lower[LIM_PACKAGE_NAME_LEN + 1];
    for (size_t i = 0; i <= n; i++)
        lower[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
    for (size_t i = 0; i < sizeof(exec_pkg_map) / sizeof(exec_pkg_map[0]); i++) {
        if (!strcmp(lower, exec_pkg_map[i].pip)) {
            snprintf(mod, mod_len, "%s", exec_pkg_map[i].mod);
            return E_OK;
        }
    }
    for (size_t i = 0; i <= n; i++)
        mod[i] = name[i] == '-' ? '_' : name[i];
    if (!exec_module_ok(mod))
        return err_set(err, E_INVALID, "'packages[%zu]': '%.100s' is not an importable name", idx,
                       name);
    return E_OK;
}

/* `packages` as the JSON text [[requested, import name], ...] for the child. */
static enum err_code exec_packages(json_t *arr, char **out, struct err *err)
{
    enum err_code rc = E_OK;
    json_t *pairs = json_array();
    size_t i;
    json_t *v;
    if (!pairs)
        return err_set(err, E_NOMEM, "out of memory");
    if (arr && json_array_size(arr) > LIM_PACKAGES) {
        rc = err_set(err, E_INVALID, "'packages' lists more than %d names", LIM_PACKAGES);
        goto out;
    }
    json_array_foreach(arr, i, v)
    {
        char mod[LIM_PACKAGE_NAME_LEN + 1];
        if (!json_is_string(v)) {
            rc = err_set(err, E_INVALID, "'packages[%zu]' must be a string", i);
            goto out;
        }
        rc = exec_package(json_string_value(v), json_string_length(v), i, mod, sizeof(mod), err);
        if (rc)
            goto out;
        json_array_append_new(pairs, json_pack("[s,s]", json_string_value(v), mod));
    }
    *out = json_dumps(pairs, JSON_COMPACT);
    if (!*out)
        rc = err_set(err, E_NOMEM, "out of memory");
out:
    json_decref(pairs);
    return rc;
}

/* A stored session file's name as a relative path we are willing to create:
 * components without '.', '..', empty parts or control characters. */
static bool exec_rel_ok(const char *name)
{
    const char *p = name;
    if (!*p || *p == '/')
        return false;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                return false;
        p += n;
        if (*p == '/')
            p++;
        if (e && !*p)
            return false;
    }
    return true;
}

/* Create the parent directories of rel below dir (fresh scratch: nothing in
 * it is a link we did not make). */
static bool exec_mkparents(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof(path))
        return false;
    size_t base = strlen(dir) + 1;
    for (char *s = path + base; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                return false;
        } else if (mkdir(path, 0700) != 0) {
            return false;
        }
        *s = '/';
    }
    return true;
}

/* Stage the session's stored files into dir (after the user's inputs, which
 * win over session files of the same name; of several session files with
 * one name the newest wins). *staged (malloc'd, *n_staged) gets the
 * entries staged, for exec_forget_removed. */
static enum err_code exec_stage_session(struct store *store, const char *session, const char *dir,
                                        struct store_meta **staged, size_t *n_staged,
                                        struct err *err)
{
    enum err_code rc = E_OK;
    struct store_meta *v = NULL;
    size_t n = 0;
    rc = store_list(store, session, &v, &n, err);
    if (rc)
        return rc;
    *staged = v; /* the staged entries are moved to the front of v */
    *n_staged = 0;
    for (size_t i = 0; i < n; i++) { /* newest first */
        char path[PATH_MAX];
        struct stat st;
        if (!exec_rel_ok(v[i].name))
            continue;
        int k = snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
        if (k < 0 || (size_t)k >= sizeof(path))
            continue;
        if (lstat(path, &st) == 0 || !exec_mkparents(dir, v[i].name))
            continue; /* an input or a newer session file has this name */
        rc = store_copy_out(store, v[i].id, path, err);
        if (rc == E_NOTFOUND) { /* expired since it was listed */
            rc = E_OK;
            continue;
        }
        if (rc)
            break;
        v[(*n_staged)++] = v[i];
    }
    return rc;
}

/* A session file the code removed (or replaced by what is no regular
 * file) is gone from the session too, as from a working directory: later
 * calls do not see it again. */
static void exec_forget_removed(struct store *store, const char *dir, const struct store_meta *v,
                                size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        struct err err;
        int k = snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
        if (k < 0 || (size_t)k >= sizeof(path) || (lstat(path, &st) == 0 && S_ISREG(st.st_mode)))
            continue;
        if (store_session_forget(store, &v[i], &err))
            log_warn("executeCode: cannot remove '%s' from its session: %s", v[i].name, err.msg);
    }
}

/* A JSON string from captured bytes: invalid UTF-8 becomes U+FFFD. */
static json_t *exec_text(const char *p, size_t n)
{
    struct buf b;
    json_t *s;
    if (!p)
        return json_string("");
    buf_init(&b, n * 3 + 1);
    for (size_t i = 0; i < n;) {
        const unsigned char *u = (const unsigned char *)p + i;
        size_t len = 0;
        uint32_t cp = 0;
        if (u[0] < 0x80)
            len = 1;
        else if ((u[0] & 0xE0) == 0xC0)
            len = 2, cp = u[0] & 0x1F;
        else if ((u[0] & 0xF0) == 0xE0)
            len = 3, cp = u[0] & 0x0F;
        else if ((u[0] & 0xF8) == 0xF0)
            len = 4, cp = u[0] & 0x07;
        bool ok = len > 0 && i + len <= n;
        for (size_t j = 1; ok && j < len; j++) {
            if ((u[j] & 0xC0) != 0x80)
                ok = false;
            else
                cp = (cp << 6) | (u[j] & 0x3F);
        }
        if (ok && len > 1) {
            static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
            if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                ok = false;
        }
        if (ok) {
            buf_append(&b, u, len, NULL);
            i += len;
        } else {
            buf_append(&b, "\xEF\xBF\xBD", 3, NULL);
            i++;
        }
    }
    s = json_stringn(b.data ? b.data : "", b.len);
    buf_release(&b);
    return s;
}

/* stdout/stderr, their flags and the duration: in the result and in the
 * error object alike. */
static void exec_put_stdio(json_t *o, const struct sbx_outcome *oc)
{
    json_object_set_new(o, "stdout", exec_text(oc->out.data, oc->out.len));
    json_object_set_new(o, "stderr", exec_text(oc->err.data, oc->err.len));
    json_object_set_new(o, "stdoutTruncated", json_boolean(oc->out_truncated));
    json_object_set_new(o, "stderrTruncated", json_boolean(oc->err_truncated));
    json_object_set_new(o, "durationMs", json_integer((json_int_t)oc->wall_ms));
}

static bool exec_memory_hint(const struct sbx_outcome *oc)
{
    static const char *const hints[] = {"MemoryError",        "Cannot allocate memory",
                                        "out of memory",      "bad_alloc",
                                        "Unable to allocate", "memory allocation failed"};
    if (!oc->err.data)
        return false;
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
        if (memmem(oc->err.data, oc->err.len, hints[i], strlen(hints[i])))
            return true;
    return false;
}

/* The child ended without a result on its channel. */
static enum err_code exec_no_result(const struct action *a, const struct sbx_outcome *oc,
                                    bool *ok_exit, struct err *err)
{
    *ok_exit = false;
    if (oc->result_truncated)
        return err_set(err, E_OUTPUT_LIMIT,
                       "the code's result is larger than the limit of %ld "
                       "bytes",
                       a->cfg->return_bytes);
    if (oc->mem_limit || (oc->term_signal == SIGKILL && !oc->timed_out))
        return err_set(err, E_MEMORY,
                       "the code was killed on reaching the memory limit of %ld "
                       "bytes",
                       a->cfg->memory_bytes);
    if (oc->term_signal == SIGSYS)
        return err_set(err, E_CODE,
                       "the code made a system call the sandbox forbids and was "
                       "killed (SIGSYS)");
    if (oc->term_signal == SIGXCPU)
        return err_set(err, E_TIMEOUT, "the code used up its CPU time limit and was killed");
    if (oc->term_signal == SIGXFSZ)
        return err_set(err, E_OUTPUT_LIMIT,
                       "the code wrote a file larger than the limit of %ld "
                       "bytes",
                       a->cfg->output_bytes);
    if ((oc->term_signal == SIGSEGV || oc->term_signal == SIGABRT || oc->term_signal == SIGBUS) &&
        exec_memory_hint(oc))
        return err_set(err, E_MEMORY,
                       "the code crashed running out of memory (limit %ld "
                       "bytes, signal %d)",
                       a->cfg->memory_bytes, oc->term_signal);
    if (oc->term_signal)
        return err_set(err, E_CODE, "the Python process was killed by signal %d (%s)",
                       oc->term_signal, strsignal(oc->term_signal));
    if (oc->exit_status == 0) {
        *ok_exit = true; /* os._exit(0): a success without a return value */
        return E_OK;
    }
    if (oc->exit_status == SBX_PY_EXIT_INIT)
        return err_set(err, E_SANDBOX, "the Python interpreter could not start in the sandbox");
    if (oc->exit_status == SBX_PY_EXIT_RUNNER || oc->exit_status == SBX_PY_EXIT_WRITE)
        return err_set(err, E_INTERNAL,
                       "the Python runner failed (status %d); please report "
                       "this with the stderr shown",
                       oc->exit_status);
    return err_set(err, E_CODE, "the code exited with status %d", oc->exit_status);
}

static enum err_code exec_code_of(const char *s)
{
    static const struct {
        const char *name;
        enum err_code code;
    } t[] = {{"CODE_ERROR", E_CODE},
             {"MEMORY_LIMIT", E_MEMORY},
             {"OUTPUT_TOO_LARGE", E_OUTPUT_LIMIT},
             {"INVALID_REQUEST", E_INVALID},
             {"PACKAGE_MISSING", E_PACKAGE},
             {"SANDBOX_ERROR", E_SANDBOX},
             {"TIMEOUT", E_TIMEOUT}};
    for (size_t i = 0; s && i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(s, t[i].name))
            return t[i].code;
    return E_INTERNAL;
}

/* Copy the details the child reported about a failure into error_extra. */
static enum err_code exec_child_error(struct action *a, json_t *e, struct err *err)
{
    static const char *const keys[] = {"traceback", "type",      "line",
                                       "missing",   "installed", "exitStatus"};
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(e, keys[i]);
        if (v)
            json_object_set(a->error_extra, keys[i], v);
    }
    return err_set(err, exec_code_of(code), "%s", msg ? msg : "the code failed");
}

/* Interpret the outcome: the result object (new reference) on success. */
static enum err_code exec_outcome(struct action *a, const struct sbx_outcome *oc, json_t **result,
                                  struct err *err)
{
    enum err_code rc = E_OK;
    json_t *msg = NULL;
    json_t *res = NULL;
    bool ok_exit = false;
    json_error_t jerr;

    exec_put_stdio(a->error_extra, oc);
    if (oc->timed_out)
        return err_set(err, E_TIMEOUT, "the code ran longer than %ld ms and was stopped",
                       a->timeout_ms);
    if (oc->result.len && !oc->result_truncated) {
        msg = json_loadb(oc->result.data, oc->result.len, JSON_ALLOW_NUL, &jerr);
        if (!msg || !json_is_object(msg)) {
            rc = err_set(err, E_INTERNAL,
                         "unreadable result from the Python runner (%s); "
                         "please report this",
                         msg ? "not an object" : jerr.text);
            goto out;
        }
    } else {
        rc = exec_no_result(a, oc, &ok_exit, err);
        if (rc)
            goto out;
    }
    const char *entry = msg ? json_string_value(json_object_get(msg, "entryPoint")) : NULL;
    json_object_set_new(a->error_extra, "entryPoint", json_string(entry ? entry : "script"));
    const char *status = msg ? json_string_value(json_object_get(msg, "status")) : "ok";
    if (!status || strcmp(status, "ok") != 0) {
        json_t *e = json_object_get(msg, "error");
        if (!json_is_object(e)) {
            rc = err_set(err, E_INTERNAL,
                         "the Python runner reported a failure without "
                         "details; please report this");
            goto out;
        }
        rc = exec_child_error(a, e, err);
        goto out;
    }
    res = json_object();
    if (!res) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    exec_put_stdio(res, oc);
    json_t *rv = msg ? json_object_get(msg, "returnValue") : NULL;
    json_object_set(res, "returnValue", rv ? rv : json_null());
    json_object_set_new(res, "entryPoint", json_string(entry ? entry : "script"));
    *result = res;
    res = NULL;
out:
    json_decref(res);
    json_decref(msg);
    return rc;
}

/* The sandbox options of executeCode in scratch (the wall clock set by the caller). */
static void exec_sbx_opts(const struct config *cfg, const char *scratch, struct sbx_opts *o)
{
    sbx_opts_from_config(o, cfg, scratch);
    size_t need = (size_t)cfg->return_bytes + LIM_TRACEBACK_BYTES + LIM_RESULT_OVERHEAD;
    if (o->result_cap < need)
        o->result_cap = need;
}

enum err_code act_exec_prepare(const struct config *cfg, struct err *err)
{
    enum err_code rc;
    char scratch[PATH_MAX];
    if (!sbx_py_ready())
        return err_set(err, E_SANDBOX, "no warm interpreter");
    if ((rc = scratch_new(cfg, scratch, sizeof(scratch), err)))
        return rc;
    action_adopt_scratch(scratch);
    struct sbx_opts o;
    exec_sbx_opts(cfg, scratch, &o);
    if ((rc = sbx_ready_prepare(&o, sbx_py_ready_child, err)))
        action_adopted_release();
    return rc;
}

void act_exec_unprepare(void)
{
    sbx_ready_discard();
    action_adopted_release();
}

void act_exec_rehearse(const struct config *cfg)
{
    static const char req[] = "{\"action\":\"executeCode\",\"arguments\":{}}";
    static const char res[] = "{\"status\":\"ok\",\"entryPoint\":\"script\","
                              "\"returnValue\":null}";
    struct err err;
    bool ok = false;
    /* The router: parse, check (a missing argument), the error envelope. */
    json_t *env = route_text(cfg, NULL, req, sizeof(req) - 1, &ok);
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    free(text);
    json_decref(env);
    /* The store, opened and closed. */
    struct store *st = NULL;
    if (!store_open_ex(cfg, STORE_OPEN_NO_SWEEP, &st, &err))
        store_free(st);
    /* A runner's result read into a result, as after a run. */
    struct action a;
    memset(&a, 0, sizeof(a));
    a.cfg = cfg;
    a.error_extra = json_object();
    struct sbx_outcome oc;
    memset(&oc, 0, sizeof(oc));
    buf_init(&oc.out, 64);
    buf_init(&oc.err, 64);
    buf_init(&oc.result, sizeof(res));
    json_t *result = NULL;
    if (a.error_extra && !buf_append(&oc.out, "1\n", 2, &err) &&
        !buf_append(&oc.result, res, sizeof(res) - 1, &err) &&
        !exec_outcome(&a, &oc, &result, &err)) {
        env =
            json_pack("{s:b, s:s, s:O, s:[]}", "ok", 1, "action", "executeCode", "result", result);
        text = env ? json_dumps(env, JSON_COMPACT) : NULL;
        free(text);
        json_decref(env);
    }
    json_decref(result);
    json_decref(a.error_extra);
    sbx_outcome_release(&oc);
}

/* Run job in the sandbox: the ready one when it was made for these options. */
static enum err_code exec_run(const struct sbx_opts *opts, const struct sbx_py_job *job,
                              struct sbx_outcome *oc, struct err *err)
{
    if (!sbx_ready_fits(opts, sbx_py_ready_child))
        return sbx_run(opts, sbx_py_child, (void *)job, oc, err);
    struct buf jb;
    buf_init(&jb, (size_t)LIM_REQUEST_BYTES + (size_t)LIM_CODE_BYTES);
    enum err_code rc = sbx_py_job_pack(job, &jb, err);
    if (!rc)
        rc = sbx_ready_run(opts->wall_ms, jb.data, jb.len, oc, err);
    buf_release(&jb);
    if (rc == E_SANDBOX) {
        /* A ready sandbox that went wrong costs a fresh one, not the call. */
        log_warn("executeCode: the ready sandbox failed (%s); running in a fresh one", err->msg);
        err_clear(err);
        rc = sbx_run(opts, sbx_py_child, (void *)job, oc, err);
    }
    return rc;
}

enum err_code act_execute_code(struct action *a, json_t **result, struct err *err)
{
    enum err_code rc = E_OK;
    struct input_set inputs = {NULL, 0};
    struct outputs_snap snap = {NULL, 0};
    struct store_meta *staged = NULL; /* the session files staged */
    size_t n_staged = 0;
    struct sbx_outcome oc;
    bool oc_init = false;
    char *inputs_json = NULL;
    char *packages_json = NULL;
    json_t *res = NULL;
    json_t *skipped = NULL;
    struct store *store = NULL;
    const char *scratch = NULL;

    json_t *jcode = json_object_get(a->args, "code");
    const char *code = json_string_value(jcode);
    size_t code_len = json_string_length(jcode);
    if (!code)
        return err_set(err, E_INVALID, "missing required argument 'code' for executeCode");
    if (code_len > (size_t)LIM_CODE_BYTES)
        return err_set(err, E_INVALID, "'code' is longer than %ld bytes", (long)LIM_CODE_BYTES);
    if (strlen(code) != code_len)
        return err_set(err, E_INVALID, "'code' holds a NUL character");
    const char *session = json_string_value(json_object_get(a->args, "session"));
    json_t *jin = json_object_get(a->args, "inputs");
    if (jin && !json_is_null(jin)) {
        inputs_json = json_dumps(jin, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!inputs_json)
            return err_set(err, E_NOMEM, "out of memory");
    }
    json_t *jpk = json_object_get(a->args, "packages");
    rc = exec_packages(json_is_array(jpk) ? jpk : NULL, &packages_json, err);
    if (rc)
        goto out;

    rc = action_store(a, &store, err);
    if (rc)
        goto out;
    rc = action_scratch(a, &scratch, err);
    if (rc)
        goto out;
    rc = input_stage(a->cfg, store, a->args, scratch, action_ms_left(a), &inputs, err);
    if (rc)
        goto out;
    if (session) {
        rc = exec_stage_session(store, session, scratch, &staged, &n_staged, err);
        if (rc)
            goto out;
    }
    rc = outputs_snapshot(scratch, &snap, err);
    if (rc)
        goto out;

    struct sbx_py_job job = {code,
                             code_len,
                             inputs_json,
                             packages_json,
                             a->cfg->return_bytes,
                             LIM_TRACEBACK_BYTES,
                             LIM_RETURN_DEPTH,
                             true};
    struct sbx_opts opts;
    exec_sbx_opts(a->cfg, scratch, &opts);
    opts.wall_ms = action_ms_left(a);
    if (opts.wall_ms <= 0) {
        rc = err_set(err, E_TIMEOUT, "the time limit of %ld ms ran out while staging inputs",
                     a->timeout_ms);
        goto out;
    }
    rc = exec_run(&opts, &job, &oc, err);
    if (rc)
        goto out;
    oc_init = true;
    rc = exec_outcome(a, &oc, &res, err);
    if (rc)
        goto out;
    skipped = json_array();
    if (!skipped) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    rc = outputs_collect(scratch, &snap, store, session ? STORE_SESSION : STORE_TEMPORARY, session,
                         (uint64_t)a->cfg->output_bytes, a->files, skipped, err);
    if (rc)
        goto out;
    exec_forget_removed(store, scratch, staged, n_staged);
    if (json_array_size(skipped))
        json_object_set(res, "skippedOutputs", skipped);
    *result = res;
    res = NULL;
out:
    if (oc_init)
        sbx_outcome_release(&oc);
    json_decref(res);
    json_decref(skipped);
    free(inputs_json);
    free(packages_json);
    outputs_snap_release(&snap);
    free(staged);
    input_set_release(&inputs);
    return rc;
}
