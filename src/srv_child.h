/*
 * srv_child: run one action in a forked worker process and collect its
 * envelope over a pipe. Shared by the long-running modes (kiln serve, kiln
 * batch), which fork one worker per action from a single thread so that
 * every worker inherits the parent's warm interpreter (sbx_py.h) and a
 * crash or leak of one action never touches the parent or its neighbours.
 *
 * A worker is the leader of its own process group (kill the group to end it
 * and anything it started), has the signal mask of the caller's choice, has
 * closed every inherited socket (so a client connection of the parent is
 * never held open by a worker), writes the compact envelope text to the pipe
 * and exits. Call srv_child_start from one thread only; the collector side is
 * plain data and may run anywhere.
 */
#pragma once

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "err.h"

struct srv_child {
    pid_t pid;      /* -1 when not running */
    int fd;         /* read end of the result pipe (non-blocking), -1 after EOF */
    bool exited;    /* reaped: wstatus is valid */
    int wstatus;    /* waitpid status */
    struct buf out; /* envelope text received so far */
    bool overflow;  /* the text went past out_max */
    double started_ms;
};

/* Fork a worker that runs route_request(cfg, NULL, req) (req borrowed; the
 * worker has its own copy). mask (may be NULL = empty) becomes the worker's
 * signal mask; SIGTERM, SIGINT and SIGCHLD get their default actions.
 * out_max caps the envelope text kept. E_SANDBOX when fork or pipe fail. */
enum err_code srv_child_start(const struct config *cfg, json_t *req, const sigset_t *mask,
                              size_t out_max, struct srv_child *c, struct err *err);
/* Read what is available on c->fd; closes it at EOF. Returns false when the
 * pipe is at EOF (or failed). */
bool srv_child_read(struct srv_child *c);
/* Reap the worker without blocking (or blocking when wait). True once it has
 * exited; then also drains the pipe. */
bool srv_child_reap(struct srv_child *c, bool wait);
/* Kill the worker's process group (SIGKILL). */
void srv_child_kill(struct srv_child *c);
/* The envelope of a finished worker (new reference, never NULL unless out of
 * memory): the parsed text, or an INTERNAL envelope when the worker died
 * without writing one (*crashed set). timed_out turns a killed worker's
 * result into a TIMEOUT envelope. *ok says whether the action succeeded. */
json_t *srv_child_envelope(struct srv_child *c, bool timed_out, bool *ok, bool *crashed);
/* Free the buffer and close the pipe; the worker must have been reaped. */
void srv_child_release(struct srv_child *c);
/* Number of online CPUs (at least 1). */
long srv_child_cpus(void);
