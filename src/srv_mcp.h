/*
 * srv_mcp: the Model Context Protocol server of `kiln mcp` (stdio transport).
 *
 * JSON-RPC 2.0, one message per line on in_fd, replies and notifications on
 * out_fd, logs on stderr. Protocol revisions 2025-11-25 (latest), 2025-06-18,
 * 2025-03-26 and 2024-11-05: the client's version when supported, else the
 * latest. Methods: initialize, ping, tools/list, tools/call, resources/list,
 * resources/read and resources/templates/list (kiln://files/{id}), and the
 * notifications initialized and cancelled. The tools are the two actions,
 * defined by schema.h.
 *
 * Every tools/call runs in its own forked worker (srv_child.h), up to
 * opts.workers at once, the rest queued, so the loop keeps reading stdin:
 * progress notifications go out at start, every LIM_MCP_PROGRESS_MS and at
 * the end when the call carries a progressToken, and notifications/cancelled
 * kills the worker's whole process tree (sandbox included), removes its
 * scratch dir and sends no response. The server is a child subreaper, so no
 * orphan escapes it. At EOF on in_fd it finishes the calls it has, answers
 * them and returns; SIGTERM, SIGINT or SIGHUP kill the running calls first.
 * The interpreter is warmed (sbx_py.h) right after the initialize reply.
 * Single-threaded; one server per process.
 */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "err.h"

struct srv_mcp_opts {
    int in_fd;           /* requests (read) */
    int out_fd;          /* responses and notifications (written whole lines) */
    long workers;        /* tool calls running at once, 1..LIM_MCP_WORKERS_MAX */
    bool warm;           /* initialise the interpreter once for every worker */
    const char *version; /* serverInfo.version */
};

/* Serve until EOF on in_fd or a termination signal. E_OK on a clean end;
 * E_INVALID for bad options, E_INTERNAL when the loop cannot be set up. */
enum err_code srv_mcp_run(const struct config *cfg, const struct srv_mcp_opts *o, struct err *err);
