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
 * never held open by a worker), writes the compact envelope text and a
 * newline to the pipe, then cleans up (its sandbox, its scratch dir) and
 * exits. Call srv_child_start from one thread only; the collector side is
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
    bool remote;    /* started by a zygote: not our child; done at pipe EOF */
    double started_ms;
    int req_fd; /* a spare's request pipe until it is fed; else -1 */
};

/* Fork a worker that runs route_request(cfg, NULL, req) (req borrowed; the
 * worker has its own copy). mask (may be NULL = empty) becomes the worker's
 * signal mask; SIGTERM, SIGINT and SIGCHLD get their default actions.
 * out_max caps the envelope text kept. E_SANDBOX when fork or pipe fail. */
enum err_code srv_child_start(const struct config *cfg, json_t *req, const sigset_t *mask,
                              size_t out_max, struct srv_child *c, struct err *err);
/*
 * A spare: a worker forked before its request (warm modes). It makes its
 * scratch dir and a ready, rehearsed sandbox for executeCode
 * (act_exec_prepare), then waits for the request text; srv_child_feed()
 * hands it over, and c is then a running worker like one from
 * srv_child_start() (started_ms reset). A spare whose request pipe closes
 * without a request (srv_child_release, or the caller's death) removes its
 * scratch dir and exits 0.
 */
#define SRV_SPARE_NAME "kiln-spare" /* the process name of a spare and its sandbox */
enum err_code srv_child_spare(const struct config *cfg, const sigset_t *mask, size_t out_max,
                              struct srv_child *c, struct err *err);
enum err_code srv_child_feed(struct srv_child *c, const char *text, size_t len, struct err *err);
/* Read what is available on c->fd; closes it at EOF. Returns false when the
 * pipe is at EOF (or failed). */
bool srv_child_read(struct srv_child *c);
/* Reap the worker without blocking (or blocking when wait). True once it has
 * exited; then also drains the pipe. */
bool srv_child_reap(struct srv_child *c, bool wait);
/* True once the worker has exited, or has written a whole envelope (its
 * newline mark, or EOF after the closing brace): it may still be cleaning
 * up and exiting (reap it after answering). */
bool srv_child_done(struct srv_child *c);
/* Move c's process and pipe to *to (an answered worker still cleaning up:
 * whatever it writes more is dropped); c keeps the text read so far. */
void srv_child_hand_over(struct srv_child *c, struct srv_child *to);
/* Kill the worker's process group (SIGKILL). */
void srv_child_kill(struct srv_child *c);
/* The envelope of a finished worker (new reference, never NULL unless out of
 * memory): the parsed text, or an INTERNAL envelope when the worker died
 * without writing one (*crashed set). timed_out turns a killed worker's
 * result into a TIMEOUT envelope. *ok says whether the action succeeded. */
json_t *srv_child_envelope(struct srv_child *c, bool timed_out, bool *ok, bool *crashed);
/* Free the buffer and close the pipe; the worker must have been reaped. */
void srv_child_release(struct srv_child *c);
/*
 * A zygote: a single-threaded process forked before any thread is started
 * (it keeps the warm interpreter), which forks the workers of a
 * multi-threaded parent on request, so that no worker is ever forked from a
 * process with other threads running (locks held by them, e.g. an
 * allocator's, would stay locked in the child forever). Workers it forks are
 * not the caller's children: they are done when their pipe reaches EOF; a
 * worker that dies without an envelope becomes an INTERNAL envelope.
 * The struct is used by one thread at a time.
 */
#define SRV_ZYGOTE_NAME "kiln-zygote" /* its process name */
struct srv_zygote {
    pid_t pid;
    int sock;
    bool siblings;
};

/* Fork the zygote. mask is the signal mask of the workers. With siblings,
 * its workers are the caller's children (CLONE_PARENT), reaped and killed
 * as if forked by the caller (c->remote stays false), and the zygote dies
 * with the caller. For a single-threaded caller that keeps forking from a
 * warm interpreter: after each fork, every page the caller writes is copied
 * once more; forked from the idle zygote instead, the caller's pages stay
 * its own. Such workers are made by the raw clone system call: glibc's fork
 * handlers do not run, and glibc's cached thread id stays the zygote's
 * (sound only because the zygote is single-threaded: no pthread call in a
 * worker may name pthread_self() to the kernel). The caller's heap, which
 * the zygote shares, is made the caller's own at once (MADV_POPULATE_WRITE):
 * its next writes are not copied one page fault at a time in later calls.
 * E_SANDBOX. */
enum err_code srv_zygote_start(const struct config *cfg, const sigset_t *mask, bool siblings,
                               struct srv_zygote *z, struct err *err);
/* Have the zygote fork a worker for the request text (route_text; borrowed).
 * Fills c as srv_child_start does (c->remote set). E_SANDBOX when the zygote
 * is gone. */
enum err_code srv_zygote_run(struct srv_zygote *z, const char *text, size_t len, size_t out_max,
                             struct srv_child *c, struct err *err);
/* The same for a parsed request (borrowed). */
enum err_code srv_zygote_run_req(struct srv_zygote *z, json_t *req, size_t out_max,
                                 struct srv_child *c, struct err *err);
/* Have the zygote fork a spare (see srv_child_spare). */
enum err_code srv_zygote_spare(struct srv_zygote *z, size_t out_max, struct srv_child *c,
                               struct err *err);
/* Have the zygote fork a child running store_gc once. */
enum err_code srv_zygote_gc(struct srv_zygote *z, struct err *err);
/* Stop the zygote (it waits for its workers) and reap it; NULL-safe fields. */
void srv_zygote_stop(struct srv_zygote *z);
/* Number of online CPUs (at least 1). */
long srv_child_cpus(void);
