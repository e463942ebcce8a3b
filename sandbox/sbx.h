/*
 * sbx: run a function in a sandboxed child process (SPEC §4).
 *
 * sbx_run() forks a child that enters new user, pid, net, mount, ipc and uts
 * namespaces, sees only a minimal read-only filesystem (system libraries and
 * the Python installation) plus the scratch dir (read-write, its cwd) and a
 * private /tmp, drops all capabilities, sets no_new_privs, rlimits and a
 * default-deny seccomp filter, and then calls fn(arg, result_fd). Whatever fn
 * writes to result_fd is returned in `result` (capped); the child's stdout and
 * stderr are captured (capped, with truncation flags). The whole process tree
 * is killed at the wall-clock limit and always gone when sbx_run returns.
 * Because the child is forked, a parent that already initialised CPython and
 * imported pandas hands that warm state to every child (warm start).
 *
 * Only this folder includes <seccomp.h> or <Python.h>. Not thread-safe: call
 * from one thread at a time per process.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "err.h"

/* Layers, for `kiln doctor` and for test builds that switch one off to show
 * that the attack it stops then succeeds. */
enum sbx_layer {
    SBX_L_USERNS = 1 << 0,
    SBX_L_PIDNS = 1 << 1,
    SBX_L_NETNS = 1 << 2,
    SBX_L_MNTNS = 1 << 3, /* and the minimal filesystem view */
    SBX_L_IPCNS = 1 << 4,
    SBX_L_UTSNS = 1 << 5,
    SBX_L_SECCOMP = 1 << 6,
    SBX_L_LANDLOCK = 1 << 7,
    SBX_L_RLIMITS = 1 << 8,
    SBX_L_NNP = 1 << 9, /* no_new_privs + capabilities dropped */
    /* A cgroup v2 of its own, where the host delegates one (optional, see
     * sbx_cgroup.h: skipped where unusable unless config requires it). */
    SBX_L_CGROUP = 1 << 10,
    SBX_L_ALL = (1 << 11) - 1,
};

struct sbx_opts {
    const char *scratch; /* read-write working directory of the child */
    long wall_ms;        /* wall-clock limit */
    long memory_bytes;   /* address-space/data limit (skipped in sanitizer builds) */
    long procs;          /* processes/threads */
    long fsize_bytes;    /* largest file the child may write */
    size_t stdio_cap;    /* captured stdout / stderr, each */
    size_t result_cap;   /* bytes accepted on the result channel */
    unsigned layers;     /* enum sbx_layer bits to apply; SBX_L_ALL normally */
    /* NULL-terminated extra host paths visible read-only (and executable) at
     * the same path inside; NULL for none (at most 8). */
    const char *const *ro_binds;
};

typedef int (*sbx_child_fn)(void *arg, int result_fd);

struct sbx_outcome {
    int exit_status; /* when exited */
    int term_signal; /* when killed by a signal, else 0 */
    bool timed_out;  /* wall clock ran out (tree killed) */
    bool mem_limit;  /* memory limit was hit (best-known) */
    double wall_ms;
    struct buf out; /* captured stdout */
    struct buf err; /* captured stderr */
    struct buf result;
    bool out_truncated;
    bool err_truncated;
    bool result_truncated;
};

/* Process-wide settings of cfg (the cgroup mode, sbx_cgroup.h), with the
 * host probed now: servers call it in their main process before they fork
 * workers. E_SANDBOX when cfg requires a layer the host cannot give. */
enum err_code sbx_host_init(const struct config *cfg, struct err *err);
/* Defaults from cfg (wall, memory, procs, output, stdio, return caps; the
 * cgroup mode is noted, for the next sandbox). */
void sbx_opts_from_config(struct sbx_opts *o, const struct config *cfg, const char *scratch);
/* Run fn in the sandbox. E_OK when the child ran (whatever its fate: see
 * outcome), E_SANDBOX when the sandbox could not be set up (message says which
 * step). The outcome's buffers are initialised here; free with
 * sbx_outcome_release(). */
enum err_code sbx_run(const struct sbx_opts *o, sbx_child_fn fn, void *arg,
                      struct sbx_outcome *outcome, struct err *err);
void sbx_outcome_release(struct sbx_outcome *outcome);

/*
 * A ready sandbox: W made before its job is known (warm spare workers take
 * the cloning, the confinement and a rehearsal off the path of a request).
 * sbx_ready_prepare() clones and confines W exactly as sbx_run() would for
 * o (its scratch dir, limits and layers; no extra binds); W then calls
 * jfn(SBX job fd, result fd), which may warm itself up before it reads the
 * job bytes to EOF and runs them. One per process: sbx_run() and a second
 * prepare discard it. A caller whose options fit sends the job with
 * sbx_ready_run(), which runs and collects as sbx_run() does, the wall clock
 * counting from the job on.
 */
typedef int (*sbx_job_fn)(int job_fd, int result_fd);
enum err_code sbx_ready_prepare(const struct sbx_opts *o, sbx_job_fn jfn, struct err *err);
/* Whether the ready sandbox exists, was made for these options (wall_ms
 * aside) and jfn, and has finished its rehearsal (see sbx_ready_signal). */
bool sbx_ready_fits(const struct sbx_opts *o, sbx_job_fn jfn);
/* Send the job and run it (uses the ready sandbox up, whatever happens). */
enum err_code sbx_ready_run(long wall_ms, const void *job, size_t len, struct sbx_outcome *outcome,
                            struct err *err);
/* In W, from jfn: the rehearsal is done. */
void sbx_ready_signal(void);
/* In W, from fn or jfn, before the job's own code: signals whose
 * default action ends a process end W too. As pid 1 of its namespace W is
 * an init, which the kernel never kills on a signal sent from inside
 * (alarm(1), abort(), kill(getpid(), SIGTERM), RLIMIT_CPU's SIGXCPU would
 * otherwise be dropped); a handler reports the signal on the status pipe
 * and exits, and the caller's outcome says killed by that signal. Only
 * signals at their default action when called; a process W forks (not
 * pid 1) dies of them as usual. Nothing when W is not pid 1. */
void sbx_init_signals(void);
/* A run whose W said it was done (alone in its namespace, see
 * sbx_spawn.c) returns before W has exited; W is killed and reaped here.
 * Call it before the scratch dir is removed (sbx_run and sbx_ready_prepare
 * call it too). Nothing when there is none. */
void sbx_reap_lingering(void);
/* That W's pid, or -1 (for tests and diagnostics). */
pid_t sbx_lingering_pid(void);
/* Kill an unused ready sandbox and wait for it (nothing when there is none). */
void sbx_ready_discard(void);
