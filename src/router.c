#include "router.h"
#include "router_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "actions.h"
#include "input.h"
#include "klimits.h"
#include "log.h"
#include "reqblob.h"
#include "sbx.h"
#include "scratch.h"
#include "store.h"

#include "banned.h"

static const struct route_arg exec_args[] = {
    {"code", RA_STRING, true,
     "Python 3 source to run. Print output, or define main(**inputs) or "
     "run(ctx) whose JSON-serialisable return value becomes returnValue."},
    {"fileUrl", RA_STRING, false, "http/https URL of an input file, fetched before the code runs."},
    {"fileBase64", RA_STRING, false, "The input file's bytes, base64 (standard or URL-safe)."},
    {"fileName", RA_STRING, false, "Name the input is staged under in the working directory."},
    {"files", RA_ARRAY, false,
     "Several inputs, each {\"url\"|\"base64\"|\"fileId\", \"name\"}; fileId is an id "
     "returned earlier by kiln."},
    {"inputs", RA_OBJECT, false, "JSON values handed to main(**inputs) / run(ctx)."},
    {"session", RA_STRING, false,
     "Session id: output files go to the session scope (24 h) and the session's files are "
     "staged into later calls with the same id."},
    {"packages", RA_ARRAY, false,
     "Python packages the code needs; missing ones are reported before running."},
    {"timeoutMs", RA_INTEGER, false, "Wall-clock limit in ms (capped at the server's limit)."},
    {NULL, RA_STRING, false, NULL},
};

static const struct route_arg process_args[] = {
    {"operation", RA_STRING, true, "analyze | transform | parse_excel"},
    {"fileUrl", RA_STRING, false, "http/https URL of the input file."},
    {"fileBase64", RA_STRING, false, "The input file's bytes, base64 (standard or URL-safe)."},
    {"fileId", RA_STRING, false, "Id of a file kiln stored earlier."},
    {"fileName", RA_STRING, false,
     "Name of the input; also picks the format when sniffing is ambiguous."},
    {"options", RA_OBJECT, false, "Operation-specific options (see the README)."},
    {"session", RA_STRING, false, "Session id: output files go to the session scope (24 h)."},
    {"timeoutMs", RA_INTEGER, false, "Wall-clock limit in ms (capped at the server's limit)."},
    {NULL, RA_STRING, false, NULL},
};

/* Sorted by name. */
static const struct route_action actions[] = {
    {"executeCode",
     "Run Python 3 code in a sandbox (no network, 60 s, 1 GiB) with input files staged in its "
     "working directory; files it writes are returned.",
     exec_args, act_execute_code},
    {"processFile",
     "Run a built-in operation on a table file: analyze (column statistics and a report), "
     "transform (select/filter/derive/sort/group steps) or parse_excel (every sheet to CSV/JSON).",
     process_args, act_process_file},
    {NULL, NULL, NULL, NULL},
};

const struct route_action *route_actions(void)
{
    return actions;
}

static const char *route_type_name(enum route_arg_type t)
{
    switch (t) {
    case RA_STRING:
        return "a string";
    case RA_INTEGER:
        return "an integer";
    case RA_OBJECT:
        return "an object";
    case RA_ARRAY:
        return "an array";
    case RA_BOOLEAN:
        return "a boolean";
    }
    return "?";
}

static bool route_type_ok(enum route_arg_type t, const json_t *v)
{
    switch (t) {
    case RA_STRING:
        return json_is_string(v);
    case RA_INTEGER:
        return json_is_integer(v);
    case RA_OBJECT:
        return json_is_object(v);
    case RA_ARRAY:
        return json_is_array(v);
    case RA_BOOLEAN:
        return json_is_boolean(v);
    }
    return false;
}

static enum err_code route_validate(const struct route_action *ra, json_t *args, struct err *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(args, key, val)
    {
        const struct route_arg *arg = NULL;
        for (const struct route_arg *x = ra->args; x->name; x++)
            if (!strcmp(x->name, key))
                arg = x;
        if (!arg) {
            char known[512] = "";
            size_t off = 0;
            for (const struct route_arg *x = ra->args; x->name && off < sizeof(known); x++) {
                int n =
                    snprintf(known + off, sizeof(known) - off, "%s%s", off ? ", " : "", x->name);
                if (n < 0)
                    break;
                off += (size_t)n;
            }
            return err_set(err, E_INVALID, "unknown argument '%s' for %s (known: %s)", key,
                           ra->name, known);
        }
        if (json_is_null(val) && !arg->required)
            continue;
        if (!route_type_ok(arg->type, val))
            return err_set(err, E_INVALID, "argument '%s' must be %s", key,
                           route_type_name(arg->type));
    }
    for (const struct route_arg *x = ra->args; x->name; x++) {
        json_t *v = json_object_get(args, x->name);
        if (x->required && (!v || json_is_null(v)))
            return err_set(err, E_INVALID, "missing required argument '%s' for %s", x->name,
                           ra->name);
    }
    json_t *t = json_object_get(args, "timeoutMs");
    if (t && json_is_integer(t) && json_integer_value(t) <= 0)
        return err_set(err, E_INVALID, "argument 'timeoutMs' must be positive");
    json_t *s = json_object_get(args, "session");
    if (s && json_is_string(s)) {
        struct err e2;
        if (input_check_session(json_string_value(s), &e2))
            return err_set(err, E_INVALID, "argument 'session': %s", e2.msg);
    }
    return E_OK;
}

json_t *route_error_envelope(const char *action, const struct err *err, json_t *extra)
{
    json_t *eo = json_object();
    json_t *env = json_object();
    if (!eo || !env) {
        json_decref(eo);
        json_decref(env);
        return NULL;
    }
    json_object_set_new(eo, "code", json_string(err_spec_code(err->code)));
    json_object_set_new(eo, "message",
                        json_string(err->msg[0] ? err->msg : err_spec_code(err->code)));
    if (extra) {
        const char *key;
        json_t *val;
        json_object_foreach(extra, key, val)
        {
            if (strcmp(key, "code") && strcmp(key, "message"))
                json_object_set(eo, key, val);
        }
    }
    json_object_set_new(env, "ok", json_false());
    json_object_set_new(env, "action", action ? json_string(action) : json_null());
    json_object_set_new(env, "error", eo);
    return env;
}

double action_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

long action_ms_left(const struct action *a)
{
    double left = a->deadline_ms - action_now_ms();
    return left > 0 ? (long)left : 0;
}

enum err_code action_store(struct action *a, struct store **out, struct err *err)
{
    if (!a->store) {
        enum err_code rc = store_open(a->cfg, &a->store, err);
        if (rc)
            return rc;
        a->own_store = true;
    }
    *out = a->store;
    return E_OK;
}

static char action_adopted[PATH_MAX];
static bool route_deferring;
static char route_pending[PATH_MAX];

void route_defer_cleanup(void)
{
    route_deferring = true;
}

void route_cleanup(void)
{
    sbx_reap_lingering();
    if (route_pending[0])
        scratch_remove(route_pending);
    route_pending[0] = '\0';
}

void action_adopt_scratch(const char *path)
{
    snprintf(action_adopted, sizeof(action_adopted), "%s", path);
}

void action_adopted_release(void)
{
    if (action_adopted[0])
        scratch_remove(action_adopted);
    action_adopted[0] = '\0';
}

enum err_code action_scratch(struct action *a, const char **out, struct err *err)
{
    if (!a->scratch[0] && action_adopted[0]) {
        memcpy(a->scratch, action_adopted, sizeof(a->scratch));
        action_adopted[0] = '\0';
    }
    if (!a->scratch[0]) {
        enum err_code rc = scratch_new(a->cfg, a->scratch, sizeof(a->scratch), err);
        if (rc)
            return rc;
    }
    *out = a->scratch;
    return E_OK;
}

enum err_code route_check(json_t *req, const struct route_action **out_ra, json_t **out_args,
                          struct err *err)
{
    const struct route_action *ra = NULL;
    if (!json_is_object(req))
        return err_set(err, E_INVALID,
                       "request must be a JSON object with 'action' and 'arguments'");
    json_t *jact = json_object_get(req, "action");
    if (!jact)
        return err_set(err, E_INVALID, "missing 'action' (executeCode or processFile)");
    if (!json_is_string(jact))
        return err_set(err, E_INVALID, "'action' must be a string");
    for (const struct route_action *x = actions; x->name; x++)
        if (!strcmp(x->name, json_string_value(jact)))
            ra = x;
    if (!ra)
        return err_set(err, E_INVALID, "unknown action '%.100s' (known: executeCode, processFile)",
                       json_string_value(jact));
    *out_ra = ra;
    const char *key;
    json_t *val;
    json_object_foreach(req, key, val)
    {
        if (strcmp(key, "action") && strcmp(key, "arguments") && strcmp(key, "id"))
            return err_set(err, E_INVALID,
                           "unknown request field '%.100s' (known: action, arguments, id)", key);
    }
    json_t *args = json_object_get(req, "arguments");
    if (!args)
        return err_set(err, E_INVALID, "missing 'arguments' object");
    if (!json_is_object(args))
        return err_set(err, E_INVALID, "'arguments' must be an object");
    enum err_code rc = route_validate(ra, args, err);
    if (rc)
        return rc;
    *out_args = args;
    return E_OK;
}

json_t *route_request(const struct config *cfg, struct store *store, json_t *req, bool *ok)
{
    struct err err;
    err_clear(&err);
    const char *aname = NULL;
    const struct route_action *ra = NULL;
    json_t *result = NULL;
    json_t *env = NULL;
    struct action a;
    memset(&a, 0, sizeof(a));
    a.cfg = cfg;
    a.store = store;
    *ok = false;

    json_t *args = NULL;
    if (route_check(req, &ra, &args, &err)) {
        aname = ra ? ra->name : NULL;
        goto fail;
    }
    aname = ra->name;
    a.name = ra->name;
    a.args = args;
    a.files = json_array();
    a.error_extra = json_object();
    a.timeout_ms = cfg->wall_ms;
    json_t *t = json_object_get(args, "timeoutMs");
    if (t && json_is_integer(t) && json_integer_value(t) < a.timeout_ms)
        a.timeout_ms = (long)json_integer_value(t);
    a.deadline_ms = action_now_ms() + (double)a.timeout_ms;
    if (!a.files || !a.error_extra) {
        err_set(&err, E_NOMEM, "out of memory");
        goto fail;
    }
    if (ra->handler(&a, &result, &err))
        goto fail;
    if (!result)
        result = json_object();
    env = json_object();
    if (!env) {
        err_set(&err, E_NOMEM, "out of memory");
        goto fail;
    }
    json_object_set_new(env, "ok", json_true());
    json_object_set_new(env, "action", json_string(aname));
    json_object_set_new(env, "result", result);
    result = NULL;
    json_object_set(env, "files", a.files);
    *ok = true;
    goto out;
fail:
    if (err.code == E_OK)
        err_set(&err, E_INTERNAL, "handler failed without saying why; please report this");
    env = route_error_envelope(aname, &err, a.error_extra);
out:
    if (env && json_is_object(req) && json_object_get(req, "id"))
        json_object_set(env, "id", json_object_get(req, "id"));
    json_decref(result);
    json_decref(a.files);
    json_decref(a.error_extra);
    if (a.scratch[0] && route_deferring && !route_pending[0]) {
        memcpy(route_pending, a.scratch, sizeof(route_pending));
    } else if (a.scratch[0]) {
        sbx_reap_lingering(); /* nothing of the sandbox may write into it any more */
        scratch_remove(a.scratch);
    }
    if (a.own_store)
        store_free(a.store);
    return env;
}

json_t *route_text(const struct config *cfg, struct store *store, const char *text, size_t len,
                   bool *ok)
{
    *ok = false;
    if (len > (size_t)LIM_REQUEST_BYTES) {
        struct err err;
        err_set(&err, E_INVALID, "request is larger than %ld bytes", (long)LIM_REQUEST_BYTES);
        return route_error_envelope(NULL, &err, NULL);
    }
    /* Large fileBase64 values stay in text; the parser reads a skeleton. */
    struct err err;
    json_t *req = reqblob_parse(text, len, &err);
    if (!req) {
        reqblob_clear();
        return route_error_envelope(NULL, &err, NULL);
    }
    json_t *env = route_request(cfg, store, req, ok);
    json_decref(req);
    reqblob_clear();
    return env;
}
