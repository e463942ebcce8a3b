/*
 * sbx_fs: the filesystem view of the sandboxed child (SPEC §4).
 *
 * A new root on a small tmpfs holds read-only binds of the system directories
 * (/usr and the /bin, /lib* links or dirs), a minimal /etc (the loader cache,
 * the zone file, matplotlib's rc, a passwd/group naming only the sandbox
 * user), a /dev with null, zero, full, random, urandom bound from the host,
 * private size-capped tmpfs /tmp and /dev/shm, a fresh /proc of the child's
 * pid namespace, extra read-only binds, and the scratch dir read-write at its
 * host path. Landlock then limits the same tree a second time.
 *
 * sbx_fs_plan_init() runs in the parent (may allocate nothing, checks paths);
 * the other functions run in the child between fork() and fn(): no heap,
 * async-signal-safe calls only. Not thread-safe.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "sbx_int.h"

#define SBX_FS_MAX_BINDS 8

struct sbx_fs_plan {
    char scratch[PATH_MAX]; /* canonical host path, also the path inside */
    char ro[SBX_FS_MAX_BINDS][PATH_MAX];
    size_t n_ro;
    long tmp_bytes;  /* size of /tmp and of /dev/shm each */
    bool fresh_proc; /* mount a new proc (needs a new pid namespace) */
};

/* Parent: resolve scratch and the extra read-only paths (NULL-terminated list,
 * may be NULL). E_SANDBOX when a path is missing or too many binds. */
enum err_code sbx_fs_plan_init(struct sbx_fs_plan *p, const char *scratch,
                               const char *const *ro_binds, struct err *err);

/* Child, in a fresh mount namespace with CAP_SYS_ADMIN over it and inside the
 * new pid namespace: build the new root, pivot into it and chdir to scratch.
 * false with errno and *step set on failure. */
bool sbx_fs_enter(const struct sbx_fs_plan *p, enum sbx_step *step);

/* Child: Landlock ruleset (read+exec on system dirs and extra binds,
 * read-write on scratch and, when private_tmp, /tmp and /dev/shm; no TCP bind
 * or connect; no abstract unix sockets or signals outside). Needs
 * no_new_privs or CAP_SYS_ADMIN. false with errno on failure, ENOSYS /
 * EOPNOTSUPP when the kernel has no Landlock. */
bool sbx_fs_landlock(const struct sbx_fs_plan *p, bool private_tmp);

/* The kernel's Landlock ABI version, or -1 with errno when unavailable. */
int sbx_fs_landlock_abi(void);
