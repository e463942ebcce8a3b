/*
 * cli_ops: the verbs for people of SPEC §6 — `kiln exec`, `kiln analyze`,
 * `kiln transform`, `kiln parse-excel`. Each builds a SPEC request, runs it
 * through the router (so it behaves exactly like `kiln run`), and prints a
 * readable summary, or the envelope with --json. Local input files are put
 * in the store (temporary scope) and passed by fileId, so large files are
 * not base64-encoded in memory; URLs are passed as they are.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "input.h"
#include "klimits.h"
#include "router.h"
#include "store.h"

#include "banned.h"

#define CLI_OPS_MAX_FILES LIM_INPUT_FILES

/* Common state of one verb run. */
struct cli_op {
    const char *verb;
    const struct config *cfg;
    struct store *store;
    json_t *args; /* the request's arguments (owned) */
    char *temp_ids[CLI_OPS_MAX_FILES];
    size_t n_temp;
    bool json; /* print the envelope */
    bool pretty;
    const char *out_dir; /* download outputs here (-o) */
};

static bool cli_is_url(const char *s)
{
    return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8) ||
           (strstr(s, "://") != NULL && access(s, F_OK) != 0);
}

static void cli_base_name(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, len, "%s", slash ? slash + 1 : path);
}

/* Make one input source object: {"url"} or {"fileId"} (+ name). With
 * `single`, the keys are the top-level ones (fileUrl/fileId/fileName). */
static enum err_code cli_add_input(struct cli_op *op, const char *src, bool single, struct err *err)
{
    json_t *target = op->args;
    json_t *item = NULL;
    if (!single) {
        json_t *files = json_object_get(op->args, "files");
        if (!files) {
            files = json_array();
            json_object_set_new(op->args, "files", files);
        }
        if (json_array_size(files) >= CLI_OPS_MAX_FILES)
            return err_set(err, E_INVALID, "at most %d input files", CLI_OPS_MAX_FILES);
        item = json_object();
        json_array_append_new(files, item);
        target = item;
    }
    if (cli_is_url(src)) {
        json_object_set_new(target, single ? "fileUrl" : "url", json_string(src));
        return E_OK;
    }
    struct stat st;
    if (stat(src, &st) != 0)
        return err_sys(err, E_INVALID, "cannot read '%s'", src);
    if (!S_ISREG(st.st_mode))
        return err_set(err, E_INVALID, "'%s' is not a regular file", src);
    if (!op->store) {
        enum err_code rc = store_open(op->cfg, &op->store, err);
        if (rc)
            return rc;
    }
    char name[LIM_FILE_NAME_LEN + 1];
    cli_base_name(src, name, sizeof(name));
    struct store_meta meta;
    enum err_code rc =
        store_put_file(op->store, src, name, NULL, STORE_TEMPORARY, NULL, &meta, err);
    if (rc)
        return rc;
    op->temp_ids[op->n_temp] = strdup(meta.id);
    if (op->temp_ids[op->n_temp])
        op->n_temp++;
    json_object_set_new(target, "fileId", json_string(meta.id));
    if (!json_object_get(target, single ? "fileName" : "name"))
        json_object_set_new(target, single ? "fileName" : "name", json_string(name));
    return E_OK;
}

static void cli_op_release(struct cli_op *op)
{
    struct err err;
    for (size_t i = 0; i < op->n_temp; i++) {
        if (op->store)
            store_rm(op->store, op->temp_ids[i], &err);
        free(op->temp_ids[i]);
    }
    op->n_temp = 0;
    store_free(op->store);
    op->store = NULL;
    json_decref(op->args);
    op->args = NULL;
}

/* Parse a JSON argument given on the command line, or @FILE. */
static json_t *cli_json_arg(const char *verb, const char *flag, const char *s)
{
    json_error_t jerr;
    json_t *v = s[0] == '@' ? json_load_file(s + 1, JSON_REJECT_DUPLICATES, &jerr)
                            : json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        fprintf(stderr, "kiln %s: %s: %s (line %d column %d)\n", verb, flag, jerr.text, jerr.line,
                jerr.column);
    return v;
}

/* "k=v": v as JSON when it parses (numbers, true, [..]) else as a string. */
static bool cli_set_kv(json_t *obj, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return false;
    char key[256];
    size_t kl = (size_t)(eq - kv);
    if (kl >= sizeof(key))
        return false;
    memcpy(key, kv, kl);
    key[kl] = '\0';
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (!v)
        v = json_string(eq + 1);
    json_object_set_new(obj, key, v);
    return true;
}

/* Copy the action's output files into op->out_dir (created if missing). */
static int cli_download(struct cli_op *op, json_t *env)
{
    if (!op->out_dir)
        return 0;
    struct err err;
    if (mkdir(op->out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "kiln %s: cannot create '%s': %s\n", op->verb, op->out_dir,
                strerror(errno));
        return -1;
    }
    if (!op->store && store_open(op->cfg, &op->store, &err)) {
        fprintf(stderr, "kiln %s: %s\n", op->verb, err.msg);
        return -1;
    }
    size_t i;
    json_t *f;
    int failed = 0;
    json_array_foreach(json_object_get(env, "files"), i, f)
    {
        const char *id = json_string_value(json_object_get(f, "id"));
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!id || !name)
            continue;
        char path[4096];
        /* Nested output names ("plots/a.png") keep their last segment only. */
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        snprintf(path, sizeof(path), "%s/%s", op->out_dir, base);
        unlink(path);
        if (store_copy_out(op->store, id, path, &err)) {
            fprintf(stderr, "kiln %s: cannot save '%s': %s\n", op->verb, name, err.msg);
            failed = -1;
        } else if (!op->json) {
            fprintf(stderr, "saved %s\n", path);
        }
    }
    return failed;
}

static void cli_print_files(const json_t *env)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(env, "files"), i, f)
    {
        printf("  %-32s %10lld bytes  %s\n", json_string_value(json_object_get(f, "name")),
               (long long)json_integer_value(json_object_get(f, "size")),
               json_string_value(json_object_get(f, "id")));
    }
}

static void cli_print_error(const char *verb, const json_t *env)
{
    json_t *e = json_object_get(env, "error");
    fprintf(stderr, "kiln %s: %s: %s\n", verb, json_string_value(json_object_get(e, "code")),
            json_string_value(json_object_get(e, "message")));
    const char *tb = json_string_value(json_object_get(e, "traceback"));
    if (tb)
        fputs(tb, stderr);
}

typedef void (*cli_human_fn)(const json_t *env);

/* Run the request and print. */
static int cli_op_run(struct cli_op *op, const char *action, cli_human_fn human)
{
    json_t *req = json_pack("{s:s, s:O}", "action", action, "arguments", op->args);
    bool ok = false;
    json_t *env = route_request(op->cfg, op->store, req, &ok);
    json_decref(req);
    if (!env) {
        fprintf(stderr, "kiln %s: out of memory\n", op->verb);
        return CLI_FAILED;
    }
    int dl = ok ? cli_download(op, env) : 0;
    if (op->json) {
        cli_print_json(env, op->pretty);
    } else if (!ok) {
        cli_print_error(op->verb, env);
    } else {
        human(env);
    }
    json_decref(env);
    return ok && dl == 0 ? CLI_OK : CLI_FAILED;
}

/* ---- exec ---------------------------------------------------------------- */

static void cli_exec_human(const json_t *env)
{
    const json_t *r = json_object_get(env, "result");
    const char *out = json_string_value(json_object_get(r, "stdout"));
    const char *errs = json_string_value(json_object_get(r, "stderr"));
    if (out)
        fputs(out, stdout);
    if (errs)
        fputs(errs, stderr);
    if (json_is_true(json_object_get(r, "stdoutTruncated")))
        fprintf(stderr, "kiln exec: stdout was truncated\n");
    json_t *rv = json_object_get(r, "returnValue");
    if (rv && !json_is_null(rv)) {
        char *s = json_dumps(rv, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (s)
            printf("%s\n", s);
        free(s);
    }
    if (json_array_size(json_object_get(env, "files"))) {
        fprintf(stdout, "files:\n");
        cli_print_files(env);
    }
}

static void cli_exec_help(void)
{
    printf("usage: kiln exec SCRIPT.py | -c CODE | - [options]\n\n"
           "Runs Python code in the sandbox (executeCode) and prints what it printed,\n"
           "its return value and the files it wrote.\n\n"
           "options:\n"
           "  -c CODE              code given inline (else SCRIPT.py, or - for stdin)\n"
           "  -f, --file PATH|URL  an input file, staged under its own name (repeatable)\n"
           "  --input KEY=VALUE    a value for main(**inputs)/run(ctx); VALUE is JSON or a string\n"
           "  --inputs JSON|@FILE  all inputs as one JSON object\n"
           "  --session ID         keep output files in the session and stage its files\n"
           "  --package NAME       a package the code needs (repeatable)\n"
           "  --timeout MS         wall-clock limit in milliseconds (capped by the server's)\n"
           "  -o, --output DIR     save the output files into DIR\n"
           "  --json [--pretty]    print the response envelope instead (indented with --pretty)\n\n"
           "examples:\n"
           "  kiln exec -c 'import pandas as pd; print(pd.read_csv(\"sales.csv\").describe())' "
           "-f sales.csv\n"
           "  kiln exec plot.py -f data.csv -o out/\n\n"
           "exit status: 0 ok, 1 the action failed, 2 usage error.\n");
}

/* Fetch the value of an option that takes one; NULL and a message if absent. */
static const char *cli_val(const char *verb, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    if (a[0] == '-' && a[1] == '-' && eq)
        return eq + 1;
    if (*i + 1 >= argc) {
        cli_usage_error(verb, "option '%s' needs a value", a);
        return NULL;
    }
    return argv[++*i];
}

static bool cli_is(const char *arg, const char *s1, const char *s2)
{
    size_t n1 = strlen(s1);
    if (!strcmp(arg, s1) || (s1[1] == '-' && !strncmp(arg, s1, n1) && arg[n1] == '='))
        return true;
    return s2 && !strcmp(arg, s2);
}

/* Options every verb takes: --session, --timeout, -o, --json, --pretty.
 * 1 when argv[*i] was one of them, 0 when not, -1 on a usage error. */
static int cli_common_opt(struct cli_op *op, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--json")) {
        op->json = true;
    } else if (!strcmp(a, "--pretty")) {
        op->pretty = true;
    } else if (cli_is(a, "--output", "-o")) {
        if (!(op->out_dir = cli_val(op->verb, argc, argv, i)))
            return -1;
    } else if (cli_is(a, "--session", NULL)) {
        if (!(v = cli_val(op->verb, argc, argv, i)))
            return -1;
        json_object_set_new(op->args, "session", json_string(v));
    } else if (cli_is(a, "--timeout", NULL)) {
        if (!(v = cli_val(op->verb, argc, argv, i)))
            return -1;
        char *end = NULL;
        errno = 0;
        long ms = strtol(v, &end, 10);
        if (errno || !end || *end || ms <= 0) {
            cli_usage_error(op->verb, "--timeout takes milliseconds, not '%s'", v);
            return -1;
        }
        json_object_set_new(op->args, "timeoutMs", json_integer(ms));
    } else {
        return 0;
    }
    return 1;
}

/* --input/--option KEY=VALUE (single) and --inputs/--options JSON|@FILE
 * (whole object) into obj. Same return convention as cli_common_opt. */
static int cli_object_opt(struct cli_op *op, json_t *obj, const char *single, const char *whole,
                          int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    if (cli_is(a, single, NULL)) {
        if (!(v = cli_val(op->verb, argc, argv, i)))
            return -1;
        if (!cli_set_kv(obj, v)) {
            cli_usage_error(op->verb, "%s takes KEY=VALUE, not '%s'", single, v);
            return -1;
        }
        return 1;
    }
    if (!cli_is(a, whole, NULL))
        return 0;
    if (!(v = cli_val(op->verb, argc, argv, i)))
        return -1;
    json_t *o = cli_json_arg(op->verb, whole, v);
    if (!json_is_object(o)) {
        json_decref(o);
        cli_usage_error(op->verb, "%s must be a JSON object", whole);
        return -1;
    }
    json_object_update(obj, o);
    json_decref(o);
    return 1;
}

static char *cli_read_text(const char *verb, const char *path)
{
    struct buf b;
    struct err err;
    buf_init(&b, (size_t)LIM_CODE_BYTES);
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "kiln %s: cannot open '%s': %s\n", verb, path, strerror(errno));
        return NULL;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_append(&b, chunk, n, &err)) {
            fprintf(stderr, "kiln %s: '%s' is larger than %ld bytes\n", verb, path,
                    (long)LIM_CODE_BYTES);
            if (f != stdin)
                fclose(f);
            buf_release(&b);
            return NULL;
        }
    }
    if (f != stdin)
        fclose(f);
    char *s = buf_take(&b, NULL);
    return s ? s : strdup("");
}

int cli_exec(const struct config *cfg, int argc, char **argv)
{
    struct cli_op op = {.verb = "exec", .cfg = cfg, .args = json_object()};
    struct err err;
    int rc = CLI_USAGE;
    char *code = NULL;
    const char *script = NULL;
    const char *files[CLI_OPS_MAX_FILES];
    size_t nfiles = 0;
    json_t *inputs = json_object();
    json_t *packages = json_array();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int r = cli_common_opt(&op, argc, argv, &i);
        if (r == 0)
            r = cli_object_opt(&op, inputs, "--input", "--inputs", argc, argv, &i);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_exec_help();
            rc = CLI_OK;
            goto out;
        } else if (!strcmp(a, "-c")) {
            if (!(v = cli_val(op.verb, argc, argv, &i)))
                goto out;
            free(code);
            code = strdup(v);
        } else if (cli_is(a, "--file", "-f")) {
            if (!(v = cli_val(op.verb, argc, argv, &i)))
                goto out;
            if (nfiles >= CLI_OPS_MAX_FILES) {
                cli_usage_error(op.verb, "at most %d input files", CLI_OPS_MAX_FILES);
                goto out;
            }
            files[nfiles++] = v;
        } else if (cli_is(a, "--package", NULL)) {
            if (!(v = cli_val(op.verb, argc, argv, &i)))
                goto out;
            json_array_append_new(packages, json_string(v));
        } else if (a[0] == '-' && a[1]) {
            cli_usage_error(op.verb, "unknown option '%s'", a);
            goto out;
        } else if (!script && !code) {
            script = a;
        } else {
            cli_usage_error(op.verb, "unexpected argument '%s'", a);
            goto out;
        }
    }
    if (!code && !script) {
        cli_usage_error(op.verb, "give a script, '-' for stdin, or -c CODE");
        goto out;
    }
    if (!code && !(code = cli_read_text(op.verb, script)))
        goto out;
    json_object_set_new(op.args, "code", json_string(code));
    if (!json_object_get(op.args, "code")) {
        cli_usage_error(op.verb, "the code is not valid UTF-8");
        goto out;
    }
    if (json_object_size(inputs))
        json_object_set(op.args, "inputs", inputs);
    if (json_array_size(packages))
        json_object_set(op.args, "packages", packages);
    for (size_t i = 0; i < nfiles; i++) {
        if (cli_add_input(&op, files[i], false, &err)) {
            fprintf(stderr, "kiln exec: %s\n", err.msg);
            rc = CLI_FAILED;
            goto out;
        }
    }
    rc = cli_op_run(&op, "executeCode", cli_exec_human);
out:
    free(code);
    json_decref(inputs);
    json_decref(packages);
    cli_op_release(&op);
    return rc;
}

/* ---- processFile verbs ----------------------------------------------------- */

static void cli_fmt_num(char *out, size_t len, const json_t *v)
{
    if (json_is_integer(v))
        snprintf(out, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, len, "%.6g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(out, len, "%.24s", json_string_value(v));
    else if (json_is_true(v) || json_is_false(v))
        snprintf(out, len, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(out, len, "-");
}

static void cli_analyze_human(const json_t *env)
{
    const json_t *r = json_object_get(env, "result");
    const json_t *src = json_object_get(r, "source");
    printf("%lld rows", (long long)json_integer_value(json_object_get(r, "rows")));
    if (json_is_string(json_object_get(src, "format")))
        printf(", %s", json_string_value(json_object_get(src, "format")));
    if (json_is_string(json_object_get(src, "encoding")))
        printf(", %s", json_string_value(json_object_get(src, "encoding")));
    printf("\n\n%-24s %-9s %9s %8s %9s %12s %12s %14s %14s\n", "column", "type", "count", "missing",
           "distinct", "mean", "std", "min", "max");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "columns"), i, c)
    {
        char mean[32], std[32], mn[32], mx[32];
        cli_fmt_num(mean, sizeof(mean), json_object_get(c, "mean"));
        cli_fmt_num(std, sizeof(std), json_object_get(c, "std"));
        cli_fmt_num(mn, sizeof(mn), json_object_get(c, "min"));
        cli_fmt_num(mx, sizeof(mx), json_object_get(c, "max"));
        printf("%-24.24s %-9s %9lld %8lld %9lld %12s %12s %14.14s %14.14s\n",
               json_string_value(json_object_get(c, "name")),
               json_string_value(json_object_get(c, "type")),
               (long long)json_integer_value(json_object_get(c, "count")),
               (long long)json_integer_value(json_object_get(c, "missing")),
               (long long)json_integer_value(json_object_get(c, "distinct")), mean, std, mn, mx);
    }
    if (json_array_size(json_object_get(env, "files"))) {
        printf("\nreports:\n");
        cli_print_files(env);
    }
}

static void cli_parse_excel_human(const json_t *env)
{
    const json_t *r = json_object_get(env, "result");
    size_t i;
    json_t *s;
    printf("%-28s %-10s %9s %8s  %s\n", "sheet", "visibility", "rows", "columns", "file");
    json_array_foreach(json_object_get(r, "sheets"), i, s)
    {
        printf("%-28.28s %-10s %9lld %8lld  %s\n", json_string_value(json_object_get(s, "name")),
               json_string_value(json_object_get(s, "visibility")),
               (long long)json_integer_value(json_object_get(s, "rows")),
               (long long)json_integer_value(json_object_get(s, "columns")),
               json_string_value(json_object_get(s, "file")));
    }
    printf("\nfiles:\n");
    cli_print_files(env);
}

static void cli_transform_human(const json_t *env)
{
    const json_t *r = json_object_get(env, "result");
    printf("%lld rows in, %lld rows out\n",
           (long long)json_integer_value(json_object_get(r, "rowsIn")),
           (long long)json_integer_value(json_object_get(r, "rowsOut")));
    printf("\nfiles:\n");
    cli_print_files(env);
}

struct cli_pf_verb {
    const char *verb;
    const char *operation;
    cli_human_fn human;
    const char *desc;     /* the help's description paragraph */
    const char *opts;     /* the help's verb-specific option lines */
    const char *examples; /* the help's example lines */
};

static const struct cli_pf_verb cli_pf_verbs[] = {
    {"analyze", "analyze", cli_analyze_human,
     "Statistics of a table (CSV/TSV/XLSX/JSON): per column type, count, missing,\n"
     "distinct, min/max, mean/std, quartiles, top values; correlations; an HTML and\n"
     "an XLSX report.\n",
     "  --columns A,B        analyse only these columns\n"
     "  --report html|xlsx|both|none\n"
     "                       which reports to write (default: both)\n",
     "  kiln analyze sales.csv -o report/\n"
     "  kiln analyze https://example.com/data.csv --json\n"},
    {"parse-excel", "parse_excel", cli_parse_excel_human,
     "Every sheet of an .xlsx into one CSV (or JSON) file per sheet, with a summary.\n",
     "  --sheets A,B         only these sheets (names or 0-based indexes)\n"
     "  --format csv|json|jsonl\n"
     "                       the format of the sheet files (default: csv)\n",
     "  kiln parse-excel book.xlsx -o sheets/\n"},
    {"transform", "transform", cli_transform_human,
     "A list of steps (select, drop, rename, filter, derive, cast, fill, sort,\n"
     "group, dedupe, limit) producing a CSV, JSON, JSON Lines or XLSX file.\n",
     "  --steps JSON|@FILE   the steps array (see docs/transform.md)\n"
     "  --format csv|json|jsonl|xlsx\n"
     "                       the format of the result file (default: csv)\n",
     "  kiln transform sales.csv --steps '[{\"op\":\"filter\",\"where\":\"amount > 100\"}]' "
     "-o out/\n"},
};

static int cli_process_verb(const struct config *cfg, const struct cli_pf_verb *pv, int argc,
                            char **argv)
{
    struct cli_op op = {.verb = pv->verb, .cfg = cfg, .args = json_object()};
    struct err err;
    int rc = CLI_USAGE;
    const char *input = NULL;
    json_t *options = json_object();
    json_object_set_new(op.args, "operation", json_string(pv->operation));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int r = cli_common_opt(&op, argc, argv, &i);
        if (r == 0)
            r = cli_object_opt(&op, options, "--option", "--options", argc, argv, &i);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: kiln %s FILE|URL|ID [options]\n\n%s"
                   "An input of the form f_<32 hex> is a stored file id.\n\n"
                   "options:\n%s"
                   "  --option KEY=VALUE   any operation option (VALUE is JSON or a string)\n"
                   "  --options JSON|@FILE all options as one JSON object\n"
                   "  --name NAME          the input's name (picks the format when unclear)\n"
                   "  --session ID         keep output files in the session\n"
                   "  --timeout MS         wall-clock limit in milliseconds\n"
                   "  -o, --output DIR     save the output files into DIR\n"
                   "  --json [--pretty]    print the response envelope instead (indented with "
                   "--pretty)\n\n"
                   "examples:\n%s\n"
                   "exit status: 0 ok, 1 the action failed, 2 usage error.\n",
                   pv->verb, pv->desc, pv->opts, pv->examples);
            rc = CLI_OK;
            goto out;
        } else if (cli_is(a, "--steps", NULL)) {
            if (!(v = cli_val(op.verb, argc, argv, &i)))
                goto out;
            json_t *o = cli_json_arg(op.verb, "--steps", v);
            if (!json_is_array(o)) {
                json_decref(o);
                cli_usage_error(op.verb, "--steps must be a JSON array");
                goto out;
            }
            json_object_set_new(options, "steps", o);
        } else if (cli_is(a, "--format", NULL)) {
            if (!(v = cli_val(op.verb, argc, argv, &i)))
                goto out;
            if (!strcmp(pv->operation, "transform"))
                json_object_set_new(options, "output", json_pack("{s:s}", "format", v));
            else
                json_object_set_new(options, "format", json_string(v));
        } else if (cli_is(a, "--columns", NULL) || cli_is(a, "--sheets", NULL)) {
            const char *key = strncmp(a, "--columns", 9) ? "sheets" : "columns";
            if (!(v = cli_val(op.verb, argc, argv, &i)))
                goto out;
            json_t *list = json_array();
            const char *p = v;
            while (*p) {
                const char *e = strchr(p, ',');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                json_array_append_new(list, json_stringn(p, n));
                p += n + (e ? 1 : 0);
            }
            json_object_set_new(options, key, list);
        } else if (cli_is(a, "--report", NULL)) {
            if (!(v = cli_val(op.verb, argc, argv, &i)))
                goto out;
            json_object_set_new(options, "report", json_string(v));
        } else if (cli_is(a, "--name", NULL)) {
            if (!(v = cli_val(op.verb, argc, argv, &i)))
                goto out;
            json_object_set_new(op.args, "fileName", json_string(v));
        } else if (a[0] == '-' && a[1]) {
            cli_usage_error(op.verb, "unknown option '%s'", a);
            goto out;
        } else if (!input) {
            input = a;
        } else {
            cli_usage_error(op.verb,
                            "unexpected argument '%s' (one input at a time; see "
                            "'kiln batch')",
                            a);
            goto out;
        }
    }
    if (!input) {
        cli_usage_error(op.verb, "give an input FILE, URL or stored file id");
        goto out;
    }
    if (!strncmp(input, "f_", 2) && strlen(input) == STORE_ID_LEN && access(input, F_OK) != 0) {
        json_object_set_new(op.args, "fileId", json_string(input));
    } else if (cli_add_input(&op, input, true, &err)) {
        fprintf(stderr, "kiln %s: %s\n", op.verb, err.msg);
        rc = err.code == E_INVALID ? CLI_USAGE : CLI_FAILED;
        goto out;
    }
    if (json_object_size(options))
        json_object_set(op.args, "options", options);
    rc = cli_op_run(&op, "processFile", pv->human);
out:
    json_decref(options);
    cli_op_release(&op);
    return rc;
}

int cli_analyze(const struct config *cfg, int argc, char **argv)
{
    return cli_process_verb(cfg, &cli_pf_verbs[0], argc, argv);
}

int cli_parse_excel(const struct config *cfg, int argc, char **argv)
{
    return cli_process_verb(cfg, &cli_pf_verbs[1], argc, argv);
}

int cli_transform(const struct config *cfg, int argc, char **argv)
{
    return cli_process_verb(cfg, &cli_pf_verbs[2], argc, argv);
}
