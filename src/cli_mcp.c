/*
 * cli_mcp: `kiln mcp`, the MCP server over stdio (srv_mcp.h). Keeps the
 * protocol channel private: stdin and stdout are moved to descriptors of
 * their own, fd 0 becomes /dev/null and fd 1 a copy of stderr, so nothing a
 * worker or a library prints can corrupt the JSON-RPC stream.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klimits.h"
#include "srv_child.h"
#include "srv_mcp.h"

#include "banned.h"

static void cli_mcp_help(FILE *f)
{
    fprintf(f, "usage: kiln mcp [--workers N] [--cold]\n\n"
               "Model Context Protocol server on stdin/stdout (JSON-RPC 2.0, one message per\n"
               "line; logs on stderr). Tools: executeCode and processFile (see 'kiln schema');\n"
               "output files are resources kiln://files/{id}. Ends at EOF on stdin after\n"
               "answering the calls in flight; SIGTERM/SIGINT stop them at once.\n\n"
               "options:\n"
               "  --workers N          tool calls run at once, each in its own process\n"
               "                       (default: 2 x CPUs; KILN_MCP_WORKERS); more calls wait\n"
               "                       in a queue\n"
               "  --cold               do not pre-import pandas/numpy/matplotlib at start\n"
               "                       (faster start, slower first executeCode)\n\n"
               "example (client configuration):\n"
               "  {\"mcpServers\": {\"kiln\": {\"command\": \"kiln\", \"args\": [\"mcp\"]}}}\n\n"
               "exit status: 0 ok, 1 the action failed (the server could not run), 2 usage "
               "error.\n");
}

static int cli_mcp_workers(const char *what, const char *v, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > LIM_MCP_WORKERS_MAX)
        return cli_usage_error("mcp", "'%s' must be an integer in 1..%ld", what,
                               (long)LIM_MCP_WORKERS_MAX);
    *out = n;
    return 0;
}

int cli_mcp(const struct config *cfg, int argc, char **argv)
{
    struct srv_mcp_opts o;
    struct err err;
    const char *env;
    memset(&o, 0, sizeof(o));
    o.workers = srv_child_cpus() * 2;
    if (o.workers > LIM_MCP_WORKERS_MAX)
        o.workers = LIM_MCP_WORKERS_MAX;
    o.warm = true;
    o.version = cli_version();
    if ((env = getenv("KILN_MCP_WORKERS")) && *env &&
        cli_mcp_workers("KILN_MCP_WORKERS", env, &o.workers))
        return CLI_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_mcp_help(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--cold")) {
            o.warm = false;
        } else if (!strcmp(a, "--workers")) {
            if (i + 1 >= argc)
                return cli_usage_error("mcp", "'--workers' needs a value");
            if (cli_mcp_workers("--workers", argv[++i], &o.workers))
                return CLI_USAGE;
        } else if (!strncmp(a, "--workers=", 10)) {
            if (cli_mcp_workers("--workers", a + 10, &o.workers))
                return CLI_USAGE;
        } else {
            return cli_usage_error("mcp", "unknown argument '%s'", a);
        }
    }
    fflush(stdout);
    o.in_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    o.out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (o.in_fd < 0 || o.out_fd < 0 || devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
        dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        fprintf(stderr, "kiln mcp: cannot set up stdio: %s\n", strerror(errno));
        return CLI_FAILED;
    }
    close(devnull);
    enum err_code rc = srv_mcp_run(cfg, &o, &err);
    close(o.in_fd);
    close(o.out_fd);
    if (rc == E_INVALID) {
        fprintf(stderr, "kiln mcp: %s\n", err.msg);
        return CLI_USAGE;
    }
    if (rc) {
        fprintf(stderr, "kiln mcp: %s\n", err.msg);
        return CLI_FAILED;
    }
    return CLI_OK;
}
