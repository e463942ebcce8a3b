/*
 * cli_files: the store verbs of SPEC §6: `kiln files list|get|put|stat|rm`
 * and `kiln gc`. They talk to the store only through store.h.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "input.h"
#include "klimits.h"
#include "store.h"

#include "banned.h"

#define CLI_FILES_SNIFF_BYTES 8192

static void cli_files_help(FILE *f)
{
    fprintf(f,
            "usage: kiln files list [--session ID] [--json [--pretty]]\n"
            "       kiln files get ID [-o PATH]\n"
            "       kiln files put PATH [--session ID] [--name NAME] [--mime TYPE] [--pretty]\n"
            "       kiln files stat ID [--pretty]\n"
            "       kiln files rm ID...\n\n"
            "The TTL store: 'temporary' files live %ld s, 'session' files %ld s by default\n"
            "(KILN_TTL_TEMPORARY_S, KILN_TTL_SESSION_S); the store is at KILN_STORE_DIR.\n\n"
            "subcommands:\n"
            "  list   live files, newest first: a table, or a JSON array with --json\n"
            "  get    copy a file's bytes to PATH (which must not exist) or to stdout;\n"
            "         binary data is not written to a terminal unless -o is given\n"
            "  put    store a local file (session scope with --session, else temporary)\n"
            "         and print its FILE object as JSON\n"
            "  stat   print a file's FILE object as JSON\n"
            "  rm     remove files; exit 1 when one was not found\n\n"
            "options:\n"
            "  --session ID         list: only the session's files; put: session scope\n"
            "  --json               list: a JSON array of FILE objects instead of a table\n"
            "  --pretty             indent the JSON (list --json, put, stat)\n"
            "  -o, --output PATH    get: write the bytes to PATH instead of stdout\n"
            "  --name NAME          put: the stored name (default: PATH's last component)\n"
            "  --mime TYPE          put: the media type (default: from the name)\n\n"
            "examples:\n"
            "  kiln files put data.csv --session s1\n"
            "  kiln files list --session s1\n"
            "  kiln files get f_0123456789abcdef0123456789abcdef -o copy.csv\n\n"
            "exit status: 0 ok, 1 the action failed, 2 usage error.\n",
            (long)LIM_TTL_TEMPORARY_S_DEFAULT, (long)LIM_TTL_SESSION_S_DEFAULT);
}

/* Match "--opt VALUE" or "--opt=VALUE"; advances *i past a separate value. */
static bool cli_files_opt(int argc, char **argv, int *i, const char *opt, const char **val,
                          bool *missing)
{
    size_t n = strlen(opt);
    const char *a = argv[*i];
    if (strncmp(a, opt, n))
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        return true;
    }
    if (a[n])
        return false;
    if (*i + 1 >= argc) {
        *missing = true;
        return true;
    }
    *val = argv[++*i];
    return true;
}

static int cli_files_fail(const char *verb, const struct err *err)
{
    fprintf(stderr, "kiln %s: %s\n", verb, err->msg);
    return CLI_FAILED;
}

static void cli_files_human_size(uint64_t n, char *out, size_t cap)
{
    static const char *units[] = {"kB", "MB", "GB", "TB"};
    if (n < 1000) {
        snprintf(out, cap, "%llu B", (unsigned long long)n);
        return;
    }
    double v = (double)n;
    size_t u = 0;
    v /= 1000.0;
    while (v >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1000.0;
        u++;
    }
    snprintf(out, cap, "%.1f %s", v, units[u]);
}

static void cli_files_human_left(int64_t s, char *out, size_t cap)
{
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf(out, cap, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(out, cap, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(out, cap, "%lldh %02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, cap, "%lldd %02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static int cli_files_list(struct store *s, int argc, char **argv)
{
    const char *session = NULL;
    bool json = false, pretty = false, missing = false;
    struct store_meta *v = NULL;
    size_t n = 0;
    struct err err;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--pretty"))
            pretty = true;
        else if (cli_files_opt(argc, argv, &i, "--session", &session, &missing)) {
            if (missing)
                return cli_usage_error("files list", "'--session' needs a value");
        } else
            return cli_usage_error("files list", "unexpected argument '%s'", argv[i]);
    }
    if (session && input_check_session(session, &err))
        return cli_usage_error("files list", "session id %s", err.msg);
    if (store_list(s, session, &v, &n, &err))
        return cli_files_fail("files list", &err);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, store_meta_json(&v[i]));
        cli_print_json(arr, pretty);
        json_decref(arr);
    } else if (n == 0) {
        printf("no stored files%s%s\n", session ? " in session " : "", session ? session : "");
    } else {
        time_t now = time(NULL);
        printf("%-34s  %-28s  %9s  %-9s  %-10s  %s\n", "ID", "NAME", "SIZE", "SCOPE", "EXPIRES IN",
               "SESSION");
        for (size_t i = 0; i < n; i++) {
            char size[32], left[32];
            cli_files_human_size(v[i].size, size, sizeof(size));
            cli_files_human_left(v[i].expires - (int64_t)now, left, sizeof(left));
            bool longname = strlen(v[i].name) > 28;
            printf("%-34s  %-*.*s%s  %9s  %-9s  %-10s  %s\n", v[i].id, longname ? 25 : 28,
                   longname ? 25 : 28, v[i].name, longname ? "..." : "", size,
                   v[i].scope == STORE_SESSION ? "session" : "temporary", left,
                   v[i].session[0] ? v[i].session : "-");
        }
    }
    free(v);
    fflush(stdout);
    return CLI_OK;
}

static bool cli_files_textual_mime(const char *mime)
{
    return !strncmp(mime, "text/", 5) || !strcmp(mime, "application/json") ||
           !strcmp(mime, "application/jsonl") || !strcmp(mime, "application/xml") ||
           !strcmp(mime, "image/svg+xml") || !strcmp(mime, "application/octet-stream");
}

/* Copy fd to stdout; refuses binary data on a terminal. */
static int cli_files_to_stdout(struct store *s, const char *id)
{
    int rc = CLI_OK, fd = -1;
    struct store_meta m;
    struct err err;
    char *chunk = NULL;
    bool first = true;
    if (store_open_data(s, id, &m, &fd, &err))
        return cli_files_fail("files get", &err);
    chunk = malloc(LIM_STORE_COPY_CHUNK);
    if (!chunk) {
        fprintf(stderr, "kiln files get: out of memory\n");
        rc = CLI_FAILED;
        goto out;
    }
    fflush(stdout);
    for (;;) {
        ssize_t r = read(fd, chunk, LIM_STORE_COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "kiln files get: cannot read '%s': %s\n", id, strerror(errno));
            rc = CLI_FAILED;
            goto out;
        }
        if (r == 0)
            break;
        if (first && isatty(STDOUT_FILENO)) {
            size_t k = (size_t)r < CLI_FILES_SNIFF_BYTES ? (size_t)r : CLI_FILES_SNIFF_BYTES;
            if (!cli_files_textual_mime(m.mime) || memchr(chunk, '\0', k)) {
                rc = cli_usage_error("files get",
                                     "refusing to write binary data ('%s', %s) to a terminal; "
                                     "use -o PATH or a pipe",
                                     m.name, m.mime);
                goto out;
            }
        }
        first = false;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(STDOUT_FILENO, chunk + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                if (errno != EPIPE)
                    fprintf(stderr, "kiln files get: cannot write: %s\n", strerror(errno));
                rc = CLI_FAILED;
                goto out;
            }
            off += w;
        }
    }
out:
    free(chunk);
    close(fd);
    return rc;
}

static int cli_files_get(struct store *s, int argc, char **argv)
{
    const char *id = NULL, *dst = NULL;
    bool missing = false;
    struct err err;
    for (int i = 1; i < argc; i++) {
        if (cli_files_opt(argc, argv, &i, "-o", &dst, &missing) ||
            cli_files_opt(argc, argv, &i, "--output", &dst, &missing)) {
            if (missing)
                return cli_usage_error("files get", "'-o' needs a path");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("files get", "unknown option '%s'", argv[i]);
        } else if (!id) {
            id = argv[i];
        } else {
            return cli_usage_error("files get", "one file id at a time");
        }
    }
    if (!id)
        return cli_usage_error("files get", "missing file id");
    if (!dst || !strcmp(dst, "-"))
        return cli_files_to_stdout(s, id);
    if (store_copy_out(s, id, dst, &err))
        return cli_files_fail("files get", &err);
    return CLI_OK;
}

static int cli_files_stat(struct store *s, int argc, char **argv)
{
    struct store_meta m;
    struct err err;
    const char *id = NULL;
    bool pretty = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pretty"))
            pretty = true;
        else if (argv[i][0] == '-' || id)
            return cli_usage_error("files stat", "expected exactly one file id");
        else
            id = argv[i];
    }
    if (!id)
        return cli_usage_error("files stat", "expected exactly one file id");
    if (store_stat(s, id, &m, &err))
        return cli_files_fail("files stat", &err);
    json_t *o = store_meta_json(&m);
    cli_print_json(o, pretty);
    json_decref(o);
    return CLI_OK;
}

static int cli_files_rm(struct store *s, int argc, char **argv)
{
    int rc = CLI_OK;
    struct err err;
    if (argc < 2)
        return cli_usage_error("files rm", "missing file id");
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-')
            return cli_usage_error("files rm", "unknown option '%s'", argv[i]);
    for (int i = 1; i < argc; i++) {
        if (store_rm(s, argv[i], &err)) {
            fprintf(stderr, "kiln files rm: %s\n", err.msg);
            rc = CLI_FAILED;
        }
    }
    return rc;
}

static int cli_files_put(struct store *s, int argc, char **argv)
{
    const char *path = NULL, *session = NULL, *name = NULL, *mime = NULL;
    bool missing = false, pretty = false;
    struct store_meta m;
    struct err err;
    for (int i = 1; i < argc; i++) {
        if (cli_files_opt(argc, argv, &i, "--session", &session, &missing) ||
            cli_files_opt(argc, argv, &i, "--name", &name, &missing) ||
            cli_files_opt(argc, argv, &i, "--mime", &mime, &missing)) {
            if (missing)
                return cli_usage_error("files put", "'%s' needs a value", argv[i]);
        } else if (!strcmp(argv[i], "--pretty")) {
            pretty = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("files put", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("files put", "one file at a time");
        }
    }
    if (!path)
        return cli_usage_error("files put", "missing file path");
    const char *arg = "--name";
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
        arg = "the file's name (give another with --name)";
    }
    /* the rule a name of an input follows: a stored file is one by its id */
    if (input_check_name(name, arg, &err))
        return cli_usage_error("files put", "%s", err.msg);
    if (session && input_check_session(session, &err))
        return cli_usage_error("files put", "session id %s", err.msg);
    if (store_put_file(s, path, name, mime, session ? STORE_SESSION : STORE_TEMPORARY, session, &m,
                       &err))
        return cli_files_fail("files put", &err);
    json_t *o = store_meta_json(&m);
    cli_print_json(o, pretty);
    json_decref(o);
    return CLI_OK;
}

int cli_files(const struct config *cfg, int argc, char **argv)
{
    struct store *s = NULL;
    struct err err;
    int rc;
    if (argc < 2)
        return cli_usage_error("files", "missing subcommand (list, get, put, stat or rm)");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        cli_files_help(stdout);
        return CLI_OK;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cli_files_help(stdout);
            return CLI_OK;
        }
    }
    int (*fn)(struct store *, int, char **) = NULL;
    if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
        fn = cli_files_list;
    else if (!strcmp(sub, "get"))
        fn = cli_files_get;
    else if (!strcmp(sub, "put"))
        fn = cli_files_put;
    else if (!strcmp(sub, "stat"))
        fn = cli_files_stat;
    else if (!strcmp(sub, "rm"))
        fn = cli_files_rm;
    else
        return cli_usage_error("files", "unknown subcommand '%s'", sub);
    if (store_open(cfg, &s, &err))
        return cli_files_fail("files", &err);
    rc = fn(s, argc - 1, argv + 1);
    store_free(s);
    return rc;
}

int cli_gc(const struct config *cfg, int argc, char **argv)
{
    struct store *s = NULL;
    struct err err;
    bool json = false, pretty = false;
    size_t removed = 0;
    uint64_t bytes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: kiln gc [--json [--pretty]]\n\n"
                   "Removes expired files from the store (%s), temp files of\n"
                   "interrupted writes, and scratch dirs of dead kiln processes, and\n"
                   "says what was reclaimed. kiln also does this on its own at most\n"
                   "every %ld s.\n\n"
                   "options:\n"
                   "  --json               print {\"removed\": N, \"reclaimedBytes\": N, "
                   "\"scratchDirs\": N}\n"
                   "  --pretty             indent the JSON\n\n"
                   "example:\n  kiln gc --json\n\n"
                   "exit status: 0 ok, 1 the action failed, 2 usage error.\n",
                   cfg->store_dir, (long)LIM_STORE_GC_INTERVAL_S);
            return CLI_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--pretty")) {
            pretty = true;
        } else {
            return cli_usage_error("gc", "unexpected argument '%s'", argv[i]);
        }
    }
    if (store_open_ex(cfg, STORE_OPEN_NO_SWEEP, &s, &err))
        return cli_files_fail("gc", &err);
    size_t dirs = 0;
    enum err_code rc = store_gc(s, &removed, &bytes, &dirs, &err);
    store_free(s);
    if (rc)
        return cli_files_fail("gc", &err);
    if (json) {
        json_t *o = json_pack("{s:I, s:I, s:I}", "removed", (json_int_t)removed, "reclaimedBytes",
                              (json_int_t)bytes, "scratchDirs", (json_int_t)dirs);
        cli_print_json(o, pretty);
        json_decref(o);
    } else {
        char size[32];
        cli_files_human_size(bytes, size, sizeof(size));
        printf("removed %zu file%s, reclaimed %s", removed, removed == 1 ? "" : "s", size);
        if (dirs)
            printf("; removed %zu scratch dir%s of killed processes", dirs, dirs == 1 ? "" : "s");
        printf("\n");
    }
    return CLI_OK;
}
