/*
 * sbx_cgroup: a cgroup v2 of its own for every sandbox, where the host
 * delegates a cgroup v2 subtree to kiln (the optional layer of SPEC §4).
 *
 * What it adds to the rlimits, which bound each process on its own:
 * memory.max bounds the memory of the sandbox's whole process tree (with
 * memory.swap.max 0 and memory.oom.group 1: an OOM kill ends the tree, and
 * memory.events tells it, for MEMORY_LIMIT), pids.max its tasks across user
 * ids, and cgroup.kill ends the tree even without a pid namespace. W is
 * cloned straight into its cgroup (clone3 CLONE_INTO_CGROUP), so nothing of
 * it runs outside; the cgroup is removed when W is reaped.
 *
 * Where: a cgroup2 mount and kiln's own cgroup in it (/proc/self/cgroup).
 * In the hierarchy's real root, sandboxes go under "<root>/kiln". In a
 * cgroup marked as delegated (systemd's trusted.delegate xattr, or owned by
 * kiln's non-root user) or at the root of a container's cgroup namespace,
 * kiln, if alone there, first moves itself into the leaf "kiln-main"
 * (cgroup v2 gives controllers only to cgroups without processes) and makes
 * the sandboxes beside it; other cgroups are left alone. The probe also
 * clones a child into a test cgroup, so a filtered clone3 shows there. A
 * sandbox's cgroup is "sbx-<pid>-<n>" (pid of the process that made it);
 * empty ones whose maker is gone are removed by the next probe and by a
 * long-running process once a minute (only rmdir: never a kill).
 *
 * Modes (config 'cgroup', environment KILN_CGROUP): "auto" uses the layer
 * where it works (a sandbox that cannot be cloned into its cgroup, or whose
 * limit cannot be set, goes on without, with a warning) and says why not
 * elsewhere (`kiln doctor`); "off"; "require"
 * fails every sandbox (E_SANDBOX) unless the memory and pids controllers are
 * in use; an absolute path names a delegated cgroup v2 directory, without
 * processes, to make the sandboxes in (implies "require").
 *
 * Process-wide state, not thread-safe. Probe in the main process before it
 * forks workers (sbx_cg_check); children inherit the result.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

/* What the probe found. */
struct sbx_cg_state {
    enum config_cgroup mode;
    bool usable;         /* sandboxes get a cgroup of their own */
    bool memory;         /* memory controller enabled for them */
    bool pids;           /* pids controller enabled for them */
    char base[PATH_MAX]; /* the directory they are made in */
    char why[512];       /* why not usable, or which controller is missing */
};

/* Set the mode (config 'cgroup'; path for CONFIG_CGROUP_PATH): probed at
 * the next use, when it changed. */
void sbx_cg_configure(enum config_cgroup mode, const char *path);

/* Probe the host now (unless it was, for this mode) and check the mode's
 * demand: E_SANDBOX when it requires the layer and the host cannot give it
 * (the message says why); E_OK otherwise, usable or not. */
enum err_code sbx_cg_check(struct err *err);

/* The probe's result (probing for the configured mode first if needed). */
const struct sbx_cg_state *sbx_cg_state(void);

/* One sandbox's cgroup; dirfd -1 when it has none. */
struct sbx_cg {
    int dirfd;           /* O_DIRECTORY fd of the cgroup, for CLONE_INTO_CGROUP */
    char path[PATH_MAX]; /* its directory */
};

#define SBX_CG_NONE                                                                                \
    {                                                                                              \
        -1,                                                                                        \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/*
 * Make a cgroup for the next sandbox with its limits (memory_bytes <= 0: no
 * memory.max; procs <= 0: no pids.max). cg->dirfd stays -1 where the layer
 * is not usable (E_OK) or required and missing (E_SANDBOX).
 */
enum err_code sbx_cg_make(struct sbx_cg *cg, long memory_bytes, long procs, struct err *err);
/* Whether the mode requires the layer ("require" or a path). */
bool sbx_cg_required(void);
/* Kill every process in it (nothing without cgroup.kill or a cgroup). */
void sbx_cg_kill(const struct sbx_cg *cg);
/* Whether the kernel's OOM killer acted in it. */
bool sbx_cg_oom_killed(const struct sbx_cg *cg);
/* Kill what is left, wait (bounded) until it is empty, remove it, close. */
void sbx_cg_remove(struct sbx_cg *cg);
