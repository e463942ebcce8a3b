/*
 * sbx_seccomp: the default-deny system call filter of the sandboxed child.
 *
 * The filter is compiled once in the parent with libseccomp (an allowlist of
 * what CPython, numpy, pandas and matplotlib need; every other call fails
 * with EPERM; sockets only AF_UNIX; clone without namespace flags; clone3
 * reports ENOSYS so libc falls back to clone) and kept as a classic BPF
 * program; the child installs it with one system call and no allocation.
 * Only the native architecture is allowed (x32 and foreign ABIs fail).
 * sbx_seccomp_prog() is not thread-safe; sbx_seccomp_apply() is
 * async-signal-safe.
 */
#pragma once

#include <stdbool.h>

#include "err.h"

struct sock_fprog;

/* Parent: the compiled filter, built on first use and kept for the life of
 * the process (borrowed). E_SANDBOX when libseccomp fails. */
enum err_code sbx_seccomp_prog(const struct sock_fprog **prog, struct err *err);

/* Child: install prog on all threads. Needs no_new_privs or CAP_SYS_ADMIN.
 * false with errno on failure. */
bool sbx_seccomp_apply(const struct sock_fprog *prog);
