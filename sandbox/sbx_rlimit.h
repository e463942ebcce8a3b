/*
 * sbx_rlimit: resource limits of the sandboxed child.
 *
 * Memory (RLIMIT_DATA, and RLIMIT_AS with slack for libraries and thread
 * stacks; both skipped in sanitizer builds, where ASan cannot start under
 * them), processes (RLIMIT_NPROC), file size (RLIMIT_FSIZE; SIGXFSZ is
 * ignored so write() fails with EFBIG), open files, no core dumps and a CPU
 * time backstop just above the wall-clock limit (SIGXCPU).
 * sbx_rlimit_apply() is async-signal-safe.
 */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

struct sbx_opts;

/* Open files in the sandbox. */
#define SBX_RLIMIT_NOFILE 256
/* RLIMIT_AS is the memory limit plus this (code, libraries, thread stacks). */
#define SBX_RLIMIT_AS_SLACK (1024L * 1024 * 1024)

/* Child: apply the limits of o. false with errno on failure. */
bool sbx_rlimit_apply(const struct sbx_opts *o);

/* True when memory limits are enforced in this build (not a sanitizer build). */
bool sbx_rlimit_memory_enforced(void);

/* RLIMIT_CPU's soft limit (seconds) for a wall-clock limit of wall_ms; the
 * hard limit is a second more. */
rlim_t sbx_rlimit_cpu_s(long wall_ms);

/* Parent: lower the CPU limit of child pid (a ready sandbox, made before the
 * call's own time limit was known) to what a fresh one gets for wall_ms.
 * false with errno on failure. */
bool sbx_rlimit_cpu_lower(pid_t pid, long wall_ms);
