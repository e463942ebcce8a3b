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

struct sbx_opts;

/* Open files in the sandbox. */
#define SBX_RLIMIT_NOFILE 256
/* RLIMIT_AS is the memory limit plus this (code, libraries, thread stacks). */
#define SBX_RLIMIT_AS_SLACK (1024L * 1024 * 1024)

/* Child: apply the limits of o. false with errno on failure. */
bool sbx_rlimit_apply(const struct sbx_opts *o);

/* True when memory limits are enforced in this build (not a sanitizer build). */
bool sbx_rlimit_memory_enforced(void);
