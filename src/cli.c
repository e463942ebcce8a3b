#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fetch.h"
#include "klimits.h"
#include "log.h"
#include "router.h"
#include "sbx.h"

#include "banned.h"

#define KILN_VERSION "0.1.0"

typedef int (*cli_verb_fn)(const struct config *cfg, int argc, char **argv);

struct cli_verb {
    const char *name;
    cli_verb_fn fn;
    const char *summary;
    bool forks; /* runs workers: probes the sandbox host before it forks them */
};

/* Sorted by name. */
static const struct cli_verb cli_verbs[] = {
    {"analyze", cli_analyze, "statistics and a report of a table file (processFile analyze)"},
    {"batch", cli_batch, "run many files or a JSON Lines file of requests in parallel", true},
    {"doctor", cli_doctor, "check which sandbox layers work on this host (--json)"},
    {"exec", cli_exec, "run Python code on files in the sandbox (executeCode)"},
    {"files", cli_files, "list, get or remove stored files (files list|get|rm)"},
    {"gc", cli_gc, "remove expired files and leftovers from the store"},
    {"mcp", cli_mcp, "Model Context Protocol server over stdio (both actions as tools)", true},
    {"parse-excel", cli_parse_excel, "every sheet of an .xlsx to CSV/JSON files"},
    {"run", cli_run, "run one JSON request (file or '-') and print the JSON response"},
    {"schema", cli_schema, "the tool definitions as JSON Schema (mcp, openai, anthropic)"},
    {"serve", cli_serve, "HTTP API: actions, file download, health, metrics (API keys)", true},
    {"transform", cli_transform, "select/filter/derive/sort/group steps over a table file"},
};

void cli_print_json(const json_t *v, bool pretty)
{
    size_t flags = pretty ? JSON_INDENT(2) : JSON_COMPACT;
    char *s = json_dumps(v, flags | JSON_ENCODE_ANY);
    if (!s) {
        fputs("{\"ok\":false,\"action\":null,\"error\":{\"code\":\"INTERNAL\","
              "\"message\":\"cannot serialise the response\"}}\n",
              stdout);
        return;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "kiln %s: %s\n", verb ? verb : "", msg);
    fprintf(stderr, "try 'kiln %s%s--help'\n", verb ? verb : "", verb ? " " : "");
    return CLI_USAGE;
}

const char *cli_version(void)
{
    return KILN_VERSION;
}

bool cli_color(void)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(nc && *nc);
}

static void cli_help(FILE *f)
{
    fprintf(f, "kiln %s — run Python or built-in operations on files, in a sandbox\n\n",
            KILN_VERSION);
    fprintf(f, "usage: kiln VERB [ARGS...]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof(cli_verbs) / sizeof(cli_verbs[0]); i++)
        fprintf(f, "  %-12s %s\n", cli_verbs[i].name, cli_verbs[i].summary);
    fprintf(f, "\n'kiln VERB --help' or 'kiln help VERB' for a verb's options; 'man -l "
               "docs/kiln.1'.\nExit status: 0 ok, 1 the action failed, 2 usage error.\n");
}

/* Read all of a stream, capped. */
static int cli_read_all(FILE *f, struct buf *b, struct err *err)
{
    char chunk[65536];
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n && buf_append(b, chunk, n, err))
            return -1;
        if (n < sizeof(chunk)) {
            if (ferror(f))
                return err_sys(err, E_IO, "read error"), -1;
            return 0;
        }
    }
}

int cli_run(const struct config *cfg, int argc, char **argv)
{
    const char *path = "-";
    bool pretty = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: kiln run [REQUEST.json | -] [--pretty]\n\n"
                   "Runs one action. The request is JSON, {\"action\": \"executeCode\" | "
                   "\"processFile\",\n\"arguments\": {...}}, read from REQUEST.json or from "
                   "stdin ('-', the default);\nthe response envelope is printed on stdout.\n\n"
                   "options:\n"
                   "  --pretty             indent the JSON response\n\n"
                   "example:\n  echo '{\"action\":\"processFile\",\"arguments\":{"
                   "\"operation\":\"analyze\",\"fileUrl\":\"https://example.com/a.csv\"}}' | "
                   "kiln run -\n\n"
                   "exit status: 0 ok, 1 the action failed, 2 usage error.\n");
            return CLI_OK;
        } else if (!strcmp(argv[i], "--pretty")) {
            pretty = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("run", "unknown option '%s'", argv[i]);
        } else if (i == argc - 1 || (i == argc - 2 && !strcmp(argv[i + 1], "--pretty"))) {
            path = argv[i];
        } else {
            return cli_usage_error("run", "too many arguments");
        }
    }
    struct buf b;
    struct err err;
    buf_init(&b, (size_t)LIM_REQUEST_BYTES + 1);
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    struct stat st;
    if (f && f != stdin && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        f = NULL;
        errno = EISDIR; /* a usage error, as a missing file (it read INTERNAL) */
    }
    if (!f) {
        fprintf(stderr, "kiln run: cannot open '%s': %s\n", path, strerror(errno));
        return CLI_USAGE;
    }
    int r = cli_read_all(f, &b, &err);
    if (f != stdin)
        fclose(f);
    json_t *env;
    bool ok = false;
    if (r != 0) {
        if (err.code == E_LIMIT)
            err_set(&err, E_INVALID, "request is larger than %ld bytes", (long)LIM_REQUEST_BYTES);
        env = route_error_envelope(NULL, &err, NULL);
    } else {
        env = route_text(cfg, NULL, b.data ? b.data : "", b.len, &ok);
    }
    buf_release(&b);
    cli_print_json(env, pretty);
    json_decref(env);
    return ok ? CLI_OK : CLI_FAILED;
}

int cli_main(int argc, char **argv)
{
    struct config cfg;
    struct err err;
    log_init();
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        cli_help(stderr);
        return CLI_USAGE;
    }
    const char *verb = argv[1];
    /* `kiln help VERB` is `kiln VERB --help`. */
    char *help_argv[] = {argv[0], argc > 2 ? argv[2] : NULL, (char *)"--help", NULL};
    if (!strcmp(verb, "help") && argc == 3) {
        verb = argv[2];
        argv = help_argv;
    }
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        cli_help(stdout);
        return CLI_OK;
    }
    if (!strcmp(verb, "--version") || !strcmp(verb, "version")) {
        printf("kiln %s\n", KILN_VERSION);
        return CLI_OK;
    }
    const struct cli_verb *v = NULL;
    for (size_t i = 0; i < sizeof(cli_verbs) / sizeof(cli_verbs[0]); i++)
        if (!strcmp(cli_verbs[i].name, verb))
            v = &cli_verbs[i];
    if (!v) {
        fprintf(stderr, "kiln: unknown verb '%s'\n\n", verb);
        cli_help(stderr);
        return CLI_USAGE;
    }
    if (config_load(&cfg, &err)) {
        fprintf(stderr, "kiln: configuration error: %s\n", err.msg);
        return CLI_USAGE;
    }
    /* Servers probe the host's sandbox layers (cgroups) once, in the main
     * process, before they fork workers; a required layer that is missing
     * is a configuration error. */
    bool probe = v->forks;
    for (int i = 2; probe && i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            probe = false;
    if (probe && sbx_host_init(&cfg, &err)) {
        fprintf(stderr, "kiln: configuration error: %s\n", err.msg);
        return CLI_USAGE;
    }
    return v->fn(&cfg, argc - 1, argv + 1);
}
