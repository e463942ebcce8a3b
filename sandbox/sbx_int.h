/*
 * sbx_int: what the sandbox modules share and nobody else uses: the setup
 * steps of the sandboxed child (each has a name for error messages and an
 * exit status SBX_EXIT_BASE + step) and the fixed-size record the child
 * writes to the status pipe.
 *
 * Everything here is used between fork() and fn(): no heap, async-signal-safe
 * calls only.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

enum sbx_step {
    SBX_STEP_NONE = 0,
    SBX_STEP_UID_MAP,
    SBX_STEP_PDEATHSIG,
    SBX_STEP_MOUNT_PRIVATE,
    SBX_STEP_MOUNT_ROOT,
    SBX_STEP_BIND_SYSTEM,
    SBX_STEP_ETC,
    SBX_STEP_MOUNT_DEV,
    SBX_STEP_MOUNT_TMP,
    SBX_STEP_BIND_SCRATCH,
    SBX_STEP_BIND_EXTRA,
    SBX_STEP_MOUNT_PROC,
    SBX_STEP_PIVOT_ROOT,
    SBX_STEP_ROOT_READONLY,
    SBX_STEP_CHDIR,
    SBX_STEP_HOSTNAME,
    SBX_STEP_NNP,
    SBX_STEP_LANDLOCK,
    SBX_STEP_CAPS,
    SBX_STEP_SETUID,
    SBX_STEP_RLIMITS,
    SBX_STEP_FDS,
    SBX_STEP_SIGNALS,
    SBX_STEP_SECCOMP,
    SBX_STEP_COUNT_
};

/* Exit status of a child whose setup failed at step s. */
#define SBX_EXIT_BASE 100
#define SBX_EXIT(s) (SBX_EXIT_BASE + (int)(s))

enum sbx_rec_kind {
    SBX_REC_SETUP_FAILED = 1, /* step, err */
    SBX_REC_READY = 2,        /* a ready sandbox's W finished its rehearsal */
    SBX_REC_RUN = 3,          /* setup is over: W calls fn (later failures are not setup's) */
    SBX_REC_DONE = 4,         /* fn returned wstatus; W was alone in its pid namespace */
    SBX_REC_SIGNAL = 5,       /* W (pid 1) ends on signal wstatus (sbx_init_signals) */
};

/* W's exit status after an SBX_REC_SIGNAL for signal s (a shell's number). */
#define SBX_EXIT_SIGNAL(s) (128 + (s))

/* Written whole (smaller than PIPE_BUF, so atomic) to the status pipe. */
struct sbx_status_rec {
    int32_t kind;
    int32_t step;
    int32_t err;
    int32_t wstatus;
};

/* fork() into new namespaces (clone flags) at once, and into the cgroup of
 * cgroup_fd when >= 0 (clone3 CLONE_INTO_CGROUP): the child goes on from
 * here on a copy of the caller's memory; -1 with errno on failure. */
pid_t sbx_clone(unsigned long flags, int cgroup_fd);

/* CLOCK_MONOTONIC in milliseconds. */
double sbx_now_ms(void);

/* The uid/gid the worker runs as inside its user namespace. */
#define SBX_INSIDE_ID 1000
/* Host uid/gid the sandbox maps to when kiln runs as root. */
#define SBX_OUTSIDE_ID_ROOT 65534

/* Fixed fd numbers inside the worker. */
#define SBX_FD_RESULT 3
#define SBX_FD_JOB 5 /* a ready sandbox: its job arrives here */
