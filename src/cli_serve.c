/*
 * cli_serve: `kiln serve`, the options of the HTTP API (srv_http.h): listen
 * address, API keys (file, environment), worker and queue sizes, request
 * cap, metrics access.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "klimits.h"
#include "log.h"
#include "srv_child.h"
#include "srv_http.h"

#include "banned.h"

/* Only the keys' digests (srv_http_key): the plain keys are wiped from
 * every buffer they were read into. */
struct cli_serve_keys {
    struct srv_http_key k[LIM_SERVE_API_KEYS];
    size_t n;
};

static void cli_serve_help(FILE *f)
{
    fprintf(f,
            "usage: kiln serve [--listen ADDR:PORT] [--api-key-file PATH] [--workers N]\n"
            "                  [--queue N] [--max-request-bytes N] [--metrics-public]\n\n"
            "HTTP API: POST /v1/actions (a JSON request -> the envelope), GET|DELETE\n"
            "/v1/files/ID, GET /v1/files?session=S, GET /health, GET /metrics.\n"
            "See docs/deploy.md.\n\n"
            "options:\n"
            "  --listen ADDR:PORT     default 127.0.0.1:8080 ([::1]:PORT for IPv6; port 0 picks\n"
            "                         a free port). A non-loopback address needs an API key.\n"
            "  --api-key-file PATH    API keys, one per line ('#' comments); also\n"
            "                         KILN_API_KEY_FILE, and KILN_API_KEYS=key1,key2\n"
            "  --workers N            actions run at once, each in its own process\n"
            "                         (default: CPUs; KILN_WORKERS)\n"
            "  --queue N              accepted actions waiting for a worker; 503 beyond\n"
            "                         (default %ld; KILN_QUEUE)\n"
            "  --max-request-bytes N  request body cap, 413 beyond (default %ld;\n"
            "                         KILN_MAX_REQUEST_BYTES)\n"
            "  --metrics-public       serve /metrics without a key (KILN_METRICS_PUBLIC=1)\n\n"
            "The config file's \"serve\" object sets the same (listen, api_key_file,\n"
            "workers, queue, max_request_bytes, metrics_public); the environment and\n"
            "then the flags override it.\n"
            "Prints 'listening on http://ADDR:PORT' on stdout once bound; access log on\n"
            "stderr. SIGTERM/SIGINT: stop accepting, finish running actions, exit 0.\n\n"
            "examples:\n"
            "  kiln serve --listen 127.0.0.1:8080 --workers 4\n"
            "  KILN_API_KEYS=s3cret kiln serve --listen 0.0.0.0:8080 --queue 256\n"
            "  curl -s -H 'Authorization: Bearer s3cret' -d '{\"action\":\"executeCode\",\n"
            "       \"arguments\":{\"code\":\"print(6*7)\"}}' http://127.0.0.1:8080/v1/actions\n\n"
            "exit status: 0 stopped cleanly, 1 could not serve, 2 usage error.\n",
            (long)LIM_SERVE_QUEUE_DEFAULT, (long)LIM_REQUEST_BYTES);
}

static int cli_serve_add_key(struct cli_serve_keys *k, const char *s, size_t n)
{
    while (n && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n == 0 || s[0] == '#')
        return 0;
    if (n > LIM_SERVE_API_KEY_LEN)
        return cli_usage_error("serve", "an API key is longer than %d characters",
                               LIM_SERVE_API_KEY_LEN);
    if (k->n >= LIM_SERVE_API_KEYS)
        return cli_usage_error("serve", "more than %d API keys", LIM_SERVE_API_KEYS);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return cli_usage_error("serve", "an API key holds a space or control character");
    if (!srv_http_key_digest(s, n, &k->k[k->n]))
        return cli_usage_error("serve", "cannot hash an API key (SHA-256 unavailable)");
    k->n++;
    return 0;
}

static int cli_serve_key_file(struct cli_serve_keys *k, const char *path)
{
    char line[LIM_SERVE_API_KEY_LEN + 64];
    char iobuf[4096]; /* stdio's buffer, ours so that it can be wiped */
    struct stat st;
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_usage_error("serve", "cannot open API key file '%s': %s", path, strerror(errno));
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0004))
        log_warn("serve: API key file '%s' is world-readable", path);
    int rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            rc = cli_usage_error("serve", "a line of '%s' is too long for an API key", path);
            break;
        }
        rc = cli_serve_add_key(k, line, n);
    }
    fclose(f);
    explicit_bzero(line, sizeof(line));
    explicit_bzero(iobuf, sizeof(iobuf));
    return rc;
}

/* KILN_API_KEYS: comma-separated keys; the value is wiped in place after
 * (the variable reads as empty from then on, in /proc too). */
static int cli_serve_key_env(struct cli_serve_keys *k, char *env)
{
    int rc = 0;
    for (const char *p = env; *p && !rc;) {
        size_t n = strcspn(p, ",");
        rc = cli_serve_add_key(k, p, n);
        p += n;
        if (*p == ',')
            p++;
    }
    explicit_bzero(env, strlen(env));
    return rc;
}

static int cli_serve_num(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return cli_usage_error("serve", "'%s' must be an integer in %ld..%ld", opt, lo, hi);
    *out = n;
    return 0;
}

int cli_serve(const struct config *cfg, int argc, char **argv)
{
    static struct cli_serve_keys keys; /* large; one server per process */
    struct srv_http_opts o;
    struct err err;
    const char *env;
    long workers = srv_child_cpus(), queue = LIM_SERVE_QUEUE_DEFAULT;
    long maxreq = LIM_REQUEST_BYTES;
    memset(&o, 0, sizeof(o));
    memset(&keys, 0, sizeof(keys));
    o.listen = cfg->serve_listen[0] ? cfg->serve_listen : "127.0.0.1:8080";
    if (cfg->serve_workers > 0)
        workers = cfg->serve_workers;
    if (cfg->serve_queue >= 0)
        queue = cfg->serve_queue;
    if (cfg->serve_max_request_bytes > 0)
        maxreq = cfg->serve_max_request_bytes;
    if (cfg->serve_metrics_public >= 0)
        o.metrics_public = cfg->serve_metrics_public == 1;
    if (cfg->serve_api_key_file[0] && cli_serve_key_file(&keys, cfg->serve_api_key_file))
        return CLI_USAGE;
    if ((env = getenv("KILN_LISTEN")) && *env)
        o.listen = env;
    if ((env = getenv("KILN_WORKERS")) && *env &&
        cli_serve_num("KILN_WORKERS", env, 1, LIM_SERVE_WORKERS_MAX, &workers))
        return CLI_USAGE;
    if ((env = getenv("KILN_QUEUE")) && *env &&
        cli_serve_num("KILN_QUEUE", env, 0, LIM_SERVE_QUEUE_MAX, &queue))
        return CLI_USAGE;
    if ((env = getenv("KILN_MAX_REQUEST_BYTES")) && *env &&
        cli_serve_num("KILN_MAX_REQUEST_BYTES", env, 1, LIM_REQUEST_BYTES, &maxreq))
        return CLI_USAGE;
    if ((env = getenv("KILN_METRICS_PUBLIC")) && !strcmp(env, "1"))
        o.metrics_public = true;
    char *keys_env = getenv("KILN_API_KEYS");
    if (keys_env && *keys_env && cli_serve_key_env(&keys, keys_env))
        return CLI_USAGE;
    if ((env = getenv("KILN_API_KEY_FILE")) && *env && cli_serve_key_file(&keys, env))
        return CLI_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_serve_help(stdout);
            return CLI_OK;
        }
        if (!strcmp(a, "--metrics-public")) {
            o.metrics_public = true;
            continue;
        }
        static const char *const with_value[] = {"--listen", "--api-key-file", "--workers",
                                                 "--queue", "--max-request-bytes"};
        const char *opt = NULL;
        for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
            size_t n = strlen(with_value[k]);
            if (!strncmp(a, with_value[k], n) && (a[n] == '\0' || a[n] == '=')) {
                opt = with_value[k];
                if (a[n] == '=')
                    v = a + n + 1;
                else if (i + 1 < argc)
                    v = argv[++i];
                else
                    return cli_usage_error("serve", "'%s' needs a value", opt);
            }
        }
        if (!opt)
            return cli_usage_error("serve", "unknown argument '%s'", a);
        if (!strcmp(opt, "--listen"))
            o.listen = v;
        else if (!strcmp(opt, "--api-key-file")) {
            if (cli_serve_key_file(&keys, v))
                return CLI_USAGE;
        } else if (!strcmp(opt, "--workers")) {
            if (cli_serve_num(opt, v, 1, LIM_SERVE_WORKERS_MAX, &workers))
                return CLI_USAGE;
        } else if (!strcmp(opt, "--queue")) {
            if (cli_serve_num(opt, v, 0, LIM_SERVE_QUEUE_MAX, &queue))
                return CLI_USAGE;
        } else if (cli_serve_num(opt, v, 1, LIM_REQUEST_BYTES, &maxreq)) {
            return CLI_USAGE;
        }
    }
    o.workers = workers;
    o.queue = queue;
    o.max_request_bytes = (size_t)maxreq;
    o.keys = keys.k;
    o.n_keys = keys.n;
    enum err_code rc = srv_http_run(cfg, &o, &err);
    if (rc == E_INVALID) {
        fprintf(stderr, "kiln serve: %s\n", err.msg);
        return CLI_USAGE;
    }
    if (rc) {
        fprintf(stderr, "kiln serve: %s\n", err.msg);
        return CLI_FAILED;
    }
    return CLI_OK;
}
