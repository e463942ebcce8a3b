/*
 * sbx_spawn: the process side of the sandbox (see sbx.h).
 *
 * Process tree: the caller (P) clones the sandboxed child (W) straight into
 * new user, pid, mount, net, ipc and uts namespaces (one copy of P's address
 * space: with a warm CPython parent each extra copy costs milliseconds). P
 * writes W's uid/gid maps and tells W to go on; W, pid 1 of its namespace,
 * builds the filesystem view, drops privileges, applies Landlock, rlimits
 * and seccomp, and calls fn. When W ends, for whatever reason, the kernel
 * kills whatever else is left in its pid namespace (double-forked daemons
 * included). W dies with P (PR_SET_PDEATHSIG, forced across the namespace
 * boundary), so killing the caller (a server's worker, kiln itself) takes
 * the sandbox too, although W leads its own process group. Without a pid
 * namespace P kills W's process group instead.
 *
 * As pid 1, W ignores signals sent from inside its namespace that it has no
 * handler for (the kernel protects an init); faults and the kernel's
 * SIGKILLs (RLIMIT_CPU's hard limit, P's wall-clock kill) still end it.
 *
 * Child code follows STYLE §3: a flat list of steps; the first failure writes
 * a struct sbx_status_rec to the status pipe and _exit(SBX_EXIT(step)).
 * Not thread-safe (one sbx_run at a time per process).
 */
#include "sbx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klimits.h"
#include "log.h"
#include "sbx_cgroup.h"
#include "sbx_fs.h"
#include "sbx_int.h"
#include "sbx_rlimit.h"
#include "sbx_seccomp.h"

#include "banned.h"

extern char **environ;

static const char *const sbx_step_names[SBX_STEP_COUNT_] = {
    [SBX_STEP_NONE] = "none",
    [SBX_STEP_UID_MAP] = "uid/gid map",
    [SBX_STEP_PDEATHSIG] = "parent death signal",
    [SBX_STEP_MOUNT_PRIVATE] = "make mounts private",
    [SBX_STEP_MOUNT_ROOT] = "mount new root",
    [SBX_STEP_BIND_SYSTEM] = "bind system dirs",
    [SBX_STEP_ETC] = "populate /etc",
    [SBX_STEP_MOUNT_DEV] = "mount /dev",
    [SBX_STEP_MOUNT_TMP] = "mount /tmp",
    [SBX_STEP_BIND_SCRATCH] = "bind scratch dir",
    [SBX_STEP_BIND_EXTRA] = "bind extra paths",
    [SBX_STEP_MOUNT_PROC] = "mount /proc",
    [SBX_STEP_PIVOT_ROOT] = "pivot_root",
    [SBX_STEP_ROOT_READONLY] = "remount root read-only",
    [SBX_STEP_CHDIR] = "chdir to scratch",
    [SBX_STEP_HOSTNAME] = "sethostname",
    [SBX_STEP_NNP] = "no_new_privs",
    [SBX_STEP_LANDLOCK] = "landlock",
    [SBX_STEP_CAPS] = "drop capabilities",
    [SBX_STEP_SETUID] = "switch to the sandbox user",
    [SBX_STEP_RLIMITS] = "rlimits",
    [SBX_STEP_FDS] = "file descriptors",
    [SBX_STEP_SIGNALS] = "signals",
    [SBX_STEP_SECCOMP] = "seccomp",
};

#define SBX_ENV_MAX 12
#define SBX_ENV_LEN (PATH_MAX + 32)
#define SBX_READ_CHUNK 65536
#define SBX_GRACE_MS 200 /* pipes still open after W exited (its own children) */
#define SBX_RECHECK_MS 1 /* all pipes closed, W not yet gone, no pidfd */
#define SBX_HOSTNAME "kiln"
#define SBX_READY_WAIT_MS 150   /* a ready sandbox still rehearsing: wait this long */
#define SBX_STATUS_CHUNK 4096   /* status pipe reads (whole records) */
#define SBX_MEM_CRASH_SHARE 0.5 /* a crash with this share of the memory limit resident */

/* Everything the children need, prepared by the parent before fork(). */
struct sbx_ctx {
    const struct sbx_opts *o;
    sbx_child_fn fn;
    void *arg;
    sbx_job_fn jfn; /* a ready sandbox: W runs jfn(SBX_FD_JOB, SBX_FD_RESULT) instead */
    int job_r, job_w;
    unsigned layers;
    int out_w, err_w, res_w, status_w, sync_c; /* child ends */
    int death_w; /* held by the caller only: W sees it close when the caller dies */
    int out_r, err_r, res_r, status_r, sync_p; /* parent ends (closed in children) */
    int devnull;
    bool set_ids;
    uid_t run_uid;
    gid_t run_gid;
    const struct sock_fprog *prog;
    struct sbx_cg cg; /* W's own cgroup (dirfd -1: none) */
    struct sbx_fs_plan fs;
    char env_store[SBX_ENV_MAX][SBX_ENV_LEN];
    char *envp[SBX_ENV_MAX + 1];
};

static struct sbx_ctx sbx_ctx;
static int sbx_status_fd = -1;   /* child: where sbx_fail() reports */
static pid_t sbx_lingering = -1; /* parent: a W that said DONE, not yet reaped */
static struct sbx_cg sbx_lingering_cg = SBX_CG_NONE; /* its cgroup */
static uid_t sbx_chown_uid;
static gid_t sbx_chown_gid;

void sbx_opts_from_config(struct sbx_opts *o, const struct config *cfg, const char *scratch)
{
    memset(o, 0, sizeof(*o));
    o->scratch = scratch;
    o->wall_ms = cfg->wall_ms;
    o->memory_bytes = cfg->memory_bytes;
    o->procs = cfg->procs;
    o->fsize_bytes = cfg->output_bytes;
    o->stdio_cap = (size_t)cfg->stdio_bytes;
    o->result_cap = (size_t)cfg->return_bytes;
    o->layers = SBX_L_ALL;
    o->ro_binds = NULL;
    sbx_cg_configure(cfg->cgroup, cfg->cgroup_path);
}

enum err_code sbx_host_init(const struct config *cfg, struct err *err)
{
    sbx_cg_configure(cfg->cgroup, cfg->cgroup_path);
    return sbx_cg_check(err);
}

void sbx_outcome_release(struct sbx_outcome *outcome)
{
    if (!outcome)
        return;
    buf_release(&outcome->out);
    buf_release(&outcome->err);
    buf_release(&outcome->result);
}

/* ---- child side (no heap, async-signal-safe) ---------------------------- */

/* The raw system call: also from a signal handler (sbx_init_signals), where
 * a sanitizer's wrapper of write looks for the thread's stack in /proc,
 * which the sandbox has not, and aborts. */
static void sbx_status_put(int32_t kind, int32_t step, int32_t e, int32_t wstatus)
{
    struct sbx_status_rec r = {kind, step, e, wstatus};
    if (sbx_status_fd >= 0 && syscall(SYS_write, sbx_status_fd, &r, sizeof(r)) < 0) {
        /* nothing to tell: the caller goes by the exit status */
    }
}

static _Noreturn void sbx_fail(enum sbx_step step, int e)
{
    sbx_status_put(SBX_REC_SETUP_FAILED, (int32_t)step, e, 0);
    _exit(SBX_EXIT(step));
}

static void sbx_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

static void sbx_close_parent_ends(const struct sbx_ctx *c)
{
    sbx_close(c->job_w);
    sbx_close(c->out_r);
    sbx_close(c->err_r);
    sbx_close(c->res_r);
    sbx_close(c->status_r);
    sbx_close(c->sync_p);
}

static bool sbx_step_nnp(void)
{
    return prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) == 0;
}

/* True when this process holds no capability (its permitted set is empty):
 * a user other than root, outside a user namespace of its own. */
static bool sbx_caps_none(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    return syscall(SYS_capget, &hdr, data) == 0 && !data[0].permitted && !data[1].permitted;
}

/* Empty the bounding and ambient sets (needs CAP_SETPCAP, so before setuid).
 * A process without any capability cannot change its bounding set, and
 * needs not: with no_new_privs set first, no exec grants it one (file
 * capabilities and set-user-ID bits are ignored), so the bounding set can
 * add nothing. */
static bool sbx_step_bounding(void)
{
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, (long)cap, 0L, 0L, 0L) != 0) {
            if (errno == EINVAL)
                break; /* past the last capability the kernel knows */
            if (errno == EPERM && prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) == 1 &&
                sbx_caps_none())
                break;
            return false;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) != 0 && errno != EINVAL)
        return false;
    return true;
}

static bool sbx_step_capset_zero(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    return syscall(SYS_capset, &hdr, data) == 0;
}

static bool sbx_step_setuid(const struct sbx_ctx *c)
{
    if (!c->set_ids)
        return true;
    if (setresgid(c->run_gid, c->run_gid, c->run_gid) != 0)
        return false;
    return setresuid(c->run_uid, c->run_uid, c->run_uid) == 0;
}

/* 0 = /dev/null, 1 = stdout pipe, 2 = stderr pipe, 3 = result, 4 = status,
 * 5 = the job (a ready sandbox only); everything else closed. */
static bool sbx_step_fds(const struct sbx_ctx *c)
{
    int src[6] = {c->devnull, c->out_w, c->err_w, c->res_w, c->status_w, c->job_r};
    int hi[6];
    int n = c->job_r >= 0 ? 6 : 5;
    for (int i = 0; i < n; i++) {
        hi[i] = fcntl(src[i], F_DUPFD, 64);
        if (hi[i] < 0)
            return false;
    }
    for (int i = 0; i < n; i++)
        if (dup2(hi[i], i) != i)
            return false;
    sbx_status_fd = 4;
    /* It stays open for the RUN and DONE records, but no program W execs
     * gets it. */
    if (fcntl(4, F_SETFD, FD_CLOEXEC) != 0)
        return false;
    if (syscall(SYS_close_range, (unsigned)n, ~0U, 0U) != 0) {
        for (int fd = n; fd < 4096; fd++)
            close(fd);
    }
    return true;
}

/* The host's environment strings stay in this process's memory after
 * environ points at the sandbox's own list: on the initial stack, in
 * setenv's copies. Zero them, so that code reading its own memory finds no
 * secret a variable held (a server's KILN_API_KEYS, a DATABASE_URL). */
static void sbx_step_env_wipe(void)
{
    for (char **e = environ; e && *e; e++)
        explicit_bzero(*e, strlen(*e));
}

static bool sbx_step_signals(unsigned layers)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, &sa, NULL) != 0 && errno != EINVAL)
            return false;
    }
    if (layers & SBX_L_RLIMITS) {
        sa.sa_handler = SIG_IGN; /* write() past RLIMIT_FSIZE fails with EFBIG */
        if (sigaction(SIGXFSZ, &sa, NULL) != 0)
            return false;
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        return false;
    struct itimerval zero;
    memset(&zero, 0, sizeof(zero));
    alarm(0);
    setitimer(ITIMER_REAL, &zero, NULL);
    setitimer(ITIMER_VIRTUAL, &zero, NULL);
    setitimer(ITIMER_PROF, &zero, NULL);
    return true;
}

/* Whether sig's default action ends a process (terminate or core dump; so
 * every real-time signal). Stop, continue and ignore are left alone: an
 * init is not stopped, but a sandbox has no job control to miss. */
static bool sbx_sig_default_ends(int sig)
{
    switch (sig) {
    case SIGKILL: /* never caught; the kernel's own kills still work */
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
    case SIGCONT:
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
        return false;
    default:
        return true;
    }
}

/* Handler of sbx_init_signals (async-signal-safe). In W: report the signal
 * and end, as the signal would end any other process. In a process W
 * forked (not pid 1, so the kernel's usual rules hold): the default action,
 * taken once the handler returns (the signal is blocked until then; a
 * fault's instruction runs again and faults anew). */
static void sbx_init_sig_handler(int sig)
{
    if (getpid() != 1) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    sbx_status_put(SBX_REC_SIGNAL, 0, 0, sig);
    syscall(SYS_exit_group, SBX_EXIT_SIGNAL(sig)); /* not _exit: see sbx_status_put */
}

void sbx_init_signals(void)
{
    if (getpid() != 1)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sbx_init_sig_handler;
    sa.sa_flags = SA_ONSTACK;
    sigfillset(&sa.sa_mask); /* the handler is not interrupted by another */
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction old;
        if (!sbx_sig_default_ends(sig) || sigaction(sig, NULL, &old) != 0 ||
            old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
            continue;
        sigaction(sig, &sa, NULL);
    }
}

/* W's thread count (from its own /proc), or -1. */
static int sbx_threads(void)
{
    char b[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    b[n] = '\0';
    const char *p = strrchr(b, ')');
    /* after the name: state is field 3, num_threads field 20 */
    for (int field = 2; p && field < 20; field++) {
        p = strchr(p + 1, ' ');
    }
    if (!p)
        return -1;
    int v = 0;
    for (p++; *p >= '0' && *p <= '9' && v < 1000000; p++)
        v = v * 10 + (*p - '0');
    return v;
}

/*
 * fn returned rc. When W is alone in its pid namespace (no child, live or
 * dead, and no other thread), nothing in the sandbox can write any more:
 * say so, and the caller collects at once instead of waiting for W's exit
 * (which unmaps W's copy of a warm interpreter: milliseconds). Every process
 * of the namespace descends from W, so no child means no process. The
 * caller does not take W's word for it (the job's code can write the same
 * record): it kills W and checks from outside (sbx_alone_seen).
 */
static void sbx_done_signal(unsigned layers, int rc)
{
    if (sbx_status_fd < 0 || !(layers & SBX_L_PIDNS))
        return;
    pid_t r;
    while ((r = waitpid(-1, NULL, WNOHANG | __WALL)) > 0) {
    }
    if (r == 0 || errno != ECHILD) /* a child still running */
        return;
    if (sbx_threads() != 1)
        return;
    sbx_status_put(SBX_REC_DONE, 0, 0, rc & 0xff);
}

/* The confinement steps after the filesystem view, then fn. */
static _Noreturn void sbx_confine_and_run(const struct sbx_ctx *c)
{
    unsigned l = c->layers;
    if ((l & SBX_L_NNP) && !sbx_step_nnp())
        sbx_fail(SBX_STEP_NNP, errno);
    if ((l & SBX_L_LANDLOCK) && !sbx_fs_landlock(&c->fs, (l & SBX_L_MNTNS) != 0))
        sbx_fail(SBX_STEP_LANDLOCK, errno);
    if ((l & SBX_L_NNP) && !sbx_step_bounding())
        sbx_fail(SBX_STEP_CAPS, errno);
    if (!sbx_step_setuid(c))
        sbx_fail(SBX_STEP_SETUID, errno);
    if ((l & SBX_L_NNP) && !sbx_step_capset_zero())
        sbx_fail(SBX_STEP_CAPS, errno);
    if ((l & SBX_L_RLIMITS) && !sbx_rlimit_apply(c->o))
        sbx_fail(SBX_STEP_RLIMITS, errno);
    if (!sbx_step_fds(c))
        sbx_fail(SBX_STEP_FDS, errno);
    if (!sbx_step_signals(l))
        sbx_fail(SBX_STEP_SIGNALS, errno);
    sbx_step_env_wipe();
    environ = (char **)c->envp;
    if ((l & SBX_L_SECCOMP) && !sbx_seccomp_apply(c->prog))
        sbx_fail(SBX_STEP_SECCOMP, errno);
    int rc;
    if (c->jfn) { /* it reports READY on the status fd (sbx_ready_signal) */
        rc = c->jfn(SBX_FD_JOB, SBX_FD_RESULT);
    } else {
        sbx_status_put(SBX_REC_RUN, 0, 0, 0);
        rc = c->fn(c->arg, SBX_FD_RESULT);
    }
    sbx_done_signal(l, rc);
    _exit(rc);
}

/* The sandboxed child W, born in its new namespaces (pid 1 of the new pid
 * namespace). */
static _Noreturn void sbx_child(const struct sbx_ctx *c, int death_r)
{
    sbx_status_fd = c->status_w;
    sbx_close_parent_ends(c);
    setpgid(0, 0);
    if (c->layers & SBX_L_USERNS) {
        /* Wait for the uid/gid maps, then become the mapped user
         * (capabilities in the new namespace stay): files created while
         * building the root need a mapped owner. */
        char b = 0;
        if (read(c->sync_c, &b, 1) != 1 || b != 'm')
            sbx_fail(SBX_STEP_UID_MAP, EPROTO);
        if (!sbx_step_setuid(c))
            sbx_fail(SBX_STEP_SETUID, errno);
    }
    close(c->sync_c);
    /* W dies with the caller (a server cancelling an action kills its
     * worker; kiln itself may be killed): forced across the pid namespace
     * boundary, and the namespace goes with W. Armed after the last
     * credential change, which would clear it. The caller holds the write
     * end of the death pipe and never writes: readable means it is gone. */
    if (prctl(PR_SET_PDEATHSIG, (long)SIGKILL, 0L, 0L, 0L) != 0)
        sbx_fail(SBX_STEP_PDEATHSIG, errno);
    struct pollfd pfd = {death_r, POLLIN, 0};
    if (poll(&pfd, 1, 0) != 0)
        sbx_fail(SBX_STEP_PDEATHSIG, ESRCH);
    close(death_r);
    if (c->layers & SBX_L_MNTNS) {
        enum sbx_step st = SBX_STEP_NONE;
        if (!sbx_fs_enter(&c->fs, &st))
            sbx_fail(st, errno);
    } else if (chdir(c->fs.scratch) != 0) {
        sbx_fail(SBX_STEP_CHDIR, errno);
    }
    if ((c->layers & SBX_L_UTSNS) && sethostname(SBX_HOSTNAME, strlen(SBX_HOSTNAME)) != 0)
        sbx_fail(SBX_STEP_HOSTNAME, errno);
    sbx_confine_and_run(c);
}

/* fork() into new namespaces at once: the raw clone system call with
 * namespace flags and no new stack behaves like fork() (the child goes on
 * from here on a copy of the caller's memory). One copy of a warm parent's
 * address space instead of a chain of them. glibc's fork handlers do not
 * run; the child is single-threaded and re-initialises what it uses
 * (CPython: PyOS_AfterFork_Child). */
pid_t sbx_clone(unsigned long flags, int cgroup_fd)
{
    if (cgroup_fd >= 0) {
        /* Straight into W's cgroup: nothing of W ever runs outside it. */
        struct clone_args a;
        memset(&a, 0, sizeof(a));
        a.flags = flags | CLONE_INTO_CGROUP;
        a.exit_signal = SIGCHLD;
        a.cgroup = (uint64_t)cgroup_fd;
        return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
    }
    /* No stack, no tid pointers: the argument order of the architectures
     * does not matter. */
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* ---- parent side -------------------------------------------------------- */

double sbx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int sbx_chown_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (lchown(path, sbx_chown_uid, sbx_chown_gid) != 0)
        return -1;
    return 0;
}

static enum err_code sbx_env_add(struct sbx_ctx *c, size_t *n, const char *k, const char *v,
                                 struct err *err)
{
    if (*n >= SBX_ENV_MAX)
        return err_set(err, E_INTERNAL, "too many sandbox environment variables");
    int r = snprintf(c->env_store[*n], SBX_ENV_LEN, "%s=%s", k, v);
    if (r < 0 || r >= SBX_ENV_LEN)
        return err_set(err, E_SANDBOX, "environment variable '%s' is too long", k);
    c->envp[*n] = c->env_store[*n];
    (*n)++;
    c->envp[*n] = NULL;
    return E_OK;
}

static enum err_code sbx_env_build(struct sbx_ctx *c, struct err *err)
{
    size_t n = 0;
    enum err_code rc;
    static const char *const fixed[][2] = {
        {"PATH", "/usr/local/bin:/usr/bin:/bin"},
        {"LANG", "C.UTF-8"},
        {"MPLBACKEND", "Agg"},
        {"OPENBLAS_NUM_THREADS", "1"},
        {"OMP_NUM_THREADS", "1"},
        {"MKL_NUM_THREADS", "1"},
        {"PYTHONDONTWRITEBYTECODE", "1"},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if ((rc = sbx_env_add(c, &n, fixed[i][0], fixed[i][1], err)))
            return rc;
    if ((rc = sbx_env_add(c, &n, "HOME", c->fs.scratch, err)))
        return rc;
    if (c->layers & SBX_L_MNTNS) {
        /* Private /tmp: matplotlib's cache and Python's tempfile go there. */
        if ((rc = sbx_env_add(c, &n, "TMPDIR", "/tmp", err)))
            return rc;
        if ((rc = sbx_env_add(c, &n, "MPLCONFIGDIR", "/tmp/matplotlib", err)))
            return rc;
    }
    return E_OK;
}

/* The sandbox user must own the scratch tree to write into it. */
static enum err_code sbx_chown_scratch(const struct sbx_ctx *c, struct err *err)
{
    if (geteuid() != 0)
        return E_OK;
    sbx_chown_uid = SBX_OUTSIDE_ID_ROOT;
    sbx_chown_gid = SBX_OUTSIDE_ID_ROOT;
    if (nftw(c->fs.scratch, sbx_chown_cb, 16, FTW_PHYS) != 0)
        return err_sys(err, E_SANDBOX, "cannot hand the scratch dir '%s' to the sandbox user",
                       c->fs.scratch);
    return E_OK;
}

/* Prepare the context: fs plan, seccomp program, ids, environment, fds. */
static enum err_code sbx_ctx_init(struct sbx_ctx *c, const struct sbx_opts *o, sbx_child_fn fn,
                                  void *arg, struct err *err)
{
    enum err_code rc;
    memset(c, 0, sizeof(*c));
    c->o = o;
    c->fn = fn;
    c->arg = arg;
    c->layers = o->layers & SBX_L_ALL;
    c->job_r = c->job_w = -1;
    c->out_w = c->err_w = c->res_w = c->status_w = c->sync_c = -1;
    c->out_r = c->err_r = c->res_r = c->status_r = c->sync_p = -1;
    c->devnull = -1;
    c->death_w = -1;
    c->cg.dirfd = -1;
    if (!o->scratch || !*o->scratch)
        return err_set(err, E_SANDBOX, "sandbox needs a scratch dir");
    if ((rc = sbx_fs_plan_init(&c->fs, o->scratch, o->ro_binds, err)))
        return rc;
    c->fs.fresh_proc = (c->layers & SBX_L_PIDNS) != 0;
    c->fs.tmp_bytes = o->fsize_bytes > 0 ? o->fsize_bytes : LIM_OUTPUT_BYTES_DEFAULT;
    if ((c->layers & SBX_L_SECCOMP) && (rc = sbx_seccomp_prog(&c->prog, err)))
        return rc;
    if (c->layers & SBX_L_USERNS) {
        c->set_ids = true;
        c->run_uid = SBX_INSIDE_ID;
        c->run_gid = SBX_INSIDE_ID;
    } else if (geteuid() == 0) {
        c->set_ids = true;
        c->run_uid = SBX_OUTSIDE_ID_ROOT;
        c->run_gid = SBX_OUTSIDE_ID_ROOT;
    }
    if ((rc = sbx_chown_scratch(c, err)))
        return rc;
    return sbx_env_build(c, err);
}

static void sbx_ctx_close(struct sbx_ctx *c)
{
    int *fds[] = {&c->out_w,   &c->err_w,   &c->res_w, &c->status_w, &c->sync_c,
                  &c->out_r,   &c->err_r,   &c->res_r, &c->status_r, &c->sync_p,
                  &c->devnull, &c->death_w, &c->job_r, &c->job_w};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

static enum err_code sbx_pipe(int *r, int *w, struct err *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return err_sys(err, E_SANDBOX, "cannot create a pipe for the sandbox");
    *r = p[0];
    *w = p[1];
    return E_OK;
}

static enum err_code sbx_write_file(pid_t pid, const char *name, const char *text, struct err *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, E_SANDBOX,
                       "sandbox setup failed at step 'uid/gid map': cannot open "
                       "'%s'",
                       path);
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    close(fd);
    if (n != (ssize_t)len) {
        errno = n < 0 ? e : EIO;
        return err_sys(err, E_SANDBOX, "sandbox setup failed at step 'uid/gid map': writing '%s'",
                       path);
    }
    return E_OK;
}

/* Write the new user namespace's maps for W, then tell it 'm'. A child
 * that died first is not an error here: its status record says why. */
static enum err_code sbx_map_ids(struct sbx_ctx *c, pid_t pid, struct err *err)
{
    unsigned long ou = geteuid() == 0 ? SBX_OUTSIDE_ID_ROOT : (unsigned long)geteuid();
    unsigned long og = getegid() == 0 ? SBX_OUTSIDE_ID_ROOT : (unsigned long)getegid();
    char map[64];
    enum err_code rc;
    if ((rc = sbx_write_file(pid, "setgroups", "deny", err)))
        return rc;
    snprintf(map, sizeof(map), "%d %lu 1\n", SBX_INSIDE_ID, ou);
    if ((rc = sbx_write_file(pid, "uid_map", map, err)))
        return rc;
    snprintf(map, sizeof(map), "%d %lu 1\n", SBX_INSIDE_ID, og);
    if ((rc = sbx_write_file(pid, "gid_map", map, err)))
        return rc;
    char b = 'm';
    if (write(c->sync_p, &b, 1) != 1 && errno != EPIPE)
        return err_sys(err, E_SANDBOX, "sandbox setup failed at step 'uid/gid map'");
    return E_OK;
}

struct sbx_stream {
    int *fd;
    struct buf *b;
    size_t cap;
    bool *truncated;
};

/* Read what is there; false at EOF or error (the fd is then closed). */
static bool sbx_drain(struct sbx_stream *s, char *chunk)
{
    ssize_t n = read(*s->fd, chunk, SBX_READ_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        close(*s->fd);
        *s->fd = -1;
        return false;
    }
    size_t take = (size_t)n;
    if (s->b->len + take > s->cap) {
        take = s->cap > s->b->len ? s->cap - s->b->len : 0;
        *s->truncated = true;
    }
    if (take && buf_append(s->b, chunk, take, NULL) != E_OK)
        *s->truncated = true;
    return true;
}

/* Status records: the first setup failure; the start and end of fn. Once
 * fn runs, the job's code could write to the pipe too: only a DONE or a
 * SIGNAL is taken then (what the code could fake is its own fate), and
 * anything else ends the reading (a flood must not keep the caller busy). */
struct sbx_status_acc {
    unsigned char raw[sizeof(struct sbx_status_rec)];
    size_t have;
    bool failed;
    struct sbx_status_rec fail;
    bool started; /* RUN (or READY, for a ready sandbox) seen */
    bool done;
    int done_status;
    int signal; /* W said it ends on this signal (SBX_REC_SIGNAL), else 0 */
};

/* Take one record; false: stop reading the pipe. */
static bool sbx_status_take(struct sbx_status_acc *a, const struct sbx_status_rec *r)
{
    if (!a->started) {
        if (r->kind == SBX_REC_SETUP_FAILED && !a->failed) {
            a->failed = true;
            a->fail = *r;
        } else if (r->kind == SBX_REC_RUN || r->kind == SBX_REC_READY) {
            a->started = true;
        }
        return true;
    }
    if (r->kind == SBX_REC_SIGNAL && !a->failed && !a->done && r->wstatus > 0 &&
        r->wstatus < NSIG) {
        a->signal = r->wstatus;
        return false; /* W exits now */
    }
    if (r->kind != SBX_REC_DONE || a->failed || a->done)
        return false;
    a->done = true;
    a->done_status = r->wstatus & 0xff;
    return true;
}

static bool sbx_drain_status(int *fd, struct sbx_status_acc *a)
{
    unsigned char chunk[SBX_STATUS_CHUNK];
    ssize_t n = read(*fd, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    bool more = n > 0;
    for (ssize_t i = 0; more && i < n; i++) {
        a->raw[a->have++] = chunk[i];
        if (a->have < sizeof(a->raw))
            continue;
        struct sbx_status_rec r;
        memcpy(&r, a->raw, sizeof(r));
        a->have = 0;
        more = sbx_status_take(a, &r);
    }
    if (!more) {
        close(*fd);
        *fd = -1;
    }
    return more;
}

/* After a DONE, with W killed (no fork or clone of its can succeed any
 * more): is W really alone? One task and no child, read from the caller's
 * /proc (every process of W's pid namespace descends from W). */
static bool sbx_alone_seen(pid_t pid)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    int tasks = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            tasks++;
    closedir(d);
    if (tasks != 1)
        return false;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char b[32];
    ssize_t n = read(fd, b, sizeof(b));
    close(fd);
    return n == 0;
}

/* Has W exited? (not reaped: its pid and group stay ours) */
static bool sbx_exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return true;
    return si.si_pid == pid;
}

/* W and its process group. */
static void sbx_kill_w(pid_t pid)
{
    kill(pid, SIGKILL);
    kill(-pid, SIGKILL);
}

/* W, its group, and whatever else is in its cgroup. */
static void sbx_kill_tree(const struct sbx_ctx *c, pid_t pid)
{
    sbx_kill_w(pid);
    sbx_cg_kill(&c->cg);
}

/*
 * Create the pipes and clone W into its namespaces (W runs sbx_child: fn,
 * or jfn for a ready sandbox); map its ids. *pid is W on success, else -1.
 */
static enum err_code sbx_launch(struct sbx_ctx *c, pid_t *pid_out, struct err *err)
{
    enum err_code rc;
    pid_t pid = -1;
    *pid_out = -1;
    if ((rc = sbx_pipe(&c->out_r, &c->out_w, err)) || (rc = sbx_pipe(&c->err_r, &c->err_w, err)) ||
        (rc = sbx_pipe(&c->res_r, &c->res_w, err)) ||
        (rc = sbx_pipe(&c->status_r, &c->status_w, err)))
        return rc;
    if (c->jfn && (rc = sbx_pipe(&c->job_r, &c->job_w, err)))
        return rc;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
        return err_sys(err, E_SANDBOX, "cannot create the sandbox sync socket");
    c->sync_p = sp[0];
    c->sync_c = sp[1];
    c->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (c->devnull < 0)
        return err_sys(err, E_SANDBOX, "cannot open '/dev/null'");

    /* Host root's supplementary groups must not reach the sandbox (its
     * user namespace cannot drop them once the maps are written). */
    if (geteuid() == 0 && setgroups(0, NULL) != 0)
        return err_sys(err, E_SANDBOX, "sandbox setup failed at step 'setgroups'");
    int death[2];
    if (pipe2(death, O_CLOEXEC) != 0)
        return err_sys(err, E_SANDBOX, "cannot create a pipe for the sandbox");
    unsigned long fl = 0;
    static const struct {
        unsigned layer;
        unsigned long flag;
    } ns[] = {{SBX_L_USERNS, CLONE_NEWUSER}, {SBX_L_PIDNS, CLONE_NEWPID},
              {SBX_L_NETNS, CLONE_NEWNET},   {SBX_L_MNTNS, CLONE_NEWNS},
              {SBX_L_IPCNS, CLONE_NEWIPC},   {SBX_L_UTSNS, CLONE_NEWUTS}};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        if (c->layers & ns[i].layer)
            fl |= ns[i].flag;
    if ((c->layers & SBX_L_CGROUP) &&
        (rc = sbx_cg_make(&c->cg, c->o->memory_bytes, c->o->procs, err))) {
        close(death[0]);
        close(death[1]);
        return rc;
    }
    /* Its own cgroup namespace, rooted at its cgroup: the host's cgroup
     * paths stay hidden. */
    if (c->cg.dirfd >= 0)
        fl |= CLONE_NEWCGROUP;
    fflush(NULL);
    pid = sbx_clone(fl, c->cg.dirfd);
    if (pid < 0 && c->cg.dirfd >= 0 && !sbx_cg_required()) {
        /* "auto": the cgroup worked at the probe; whatever refuses it now
         * (a seccomp filter on clone3 or on cgroup namespaces), the
         * sandbox goes on without it, as on a host that has none. */
        log_warn("cannot clone the sandbox into its cgroup (%s): going on without it",
                 strerror(errno));
        sbx_cg_remove(&c->cg);
        fl &= ~(unsigned long)CLONE_NEWCGROUP;
        pid = sbx_clone(fl, -1);
    }
    if (pid < 0) {
        int e = errno;
        close(death[0]);
        close(death[1]);
        errno = e;
        return err_sys(err, E_SANDBOX, "sandbox setup failed at step 'unshare namespaces'");
    }
    if (pid == 0) {
        close(death[1]);
        sbx_child(c, death[0]);
    }
    close(death[0]);
    c->death_w = death[1];
    setpgid(pid, pid);
    int *child_ends[] = {&c->out_w,  &c->err_w,   &c->res_w, &c->status_w,
                         &c->sync_c, &c->devnull, &c->job_r};
    for (size_t i = 0; i < sizeof(child_ends) / sizeof(child_ends[0]); i++) {
        sbx_close(*child_ends[i]);
        *child_ends[i] = -1;
    }
    *pid_out = pid;
    if ((c->layers & SBX_L_USERNS) && (rc = sbx_map_ids(c, pid, err)))
        return rc;
    return E_OK;
}

/* CPU seconds of a reaped process (user and system). */
static double sbx_cpu_s(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_stime.tv_sec +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/*
 * Collect W's output until it and its pipes are done or the wall clock
 * (wall_ms from t0) runs out; reap it; fill the outcome. *pid is -1 after.
 */
static enum err_code sbx_watch(struct sbx_ctx *c, pid_t *pid_io, double t0, long wall_ms,
                               bool started, struct sbx_outcome *outcome, struct err *err)
{
    enum err_code rc = E_OK;
    pid_t pid = *pid_io;
    char *chunk = NULL;
    int pidfd = -1;
    struct sbx_status_acc acc;
    memset(&acc, 0, sizeof(acc));
    acc.started = started;
    chunk = malloc(SBX_READ_CHUNK);
    if (!chunk)
        return err_set(err, E_NOMEM, "out of memory");
    const struct sbx_opts *o = c->o;
    struct sbx_stream streams[3] = {
        {&c->out_r, &outcome->out, o->stdio_cap, &outcome->out_truncated},
        {&c->err_r, &outcome->err, o->stdio_cap, &outcome->err_truncated},
        {&c->res_r, &outcome->result, o->result_cap, &outcome->result_truncated},
    };
    double deadline = t0 + (double)(wall_ms > 0 ? wall_ms : LIM_WALL_MS_DEFAULT);
    double grace_end = 0;
    /* A pidfd turns readable when W exits: no polling interval
     * between the end of the run and its report. Without one (old kernel)
     * the loop re-checks every SBX_RECHECK_MS. */
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0U);
    while (!acc.done) {
        double now = sbx_now_ms();
        if (!outcome->timed_out && now >= deadline) {
            outcome->timed_out = true;
            sbx_kill_tree(c, pid);
        }
        if (grace_end == 0 && sbx_exited(pid)) {
            kill(-pid, SIGKILL); /* stragglers without a pid namespace */
            grace_end = now + SBX_GRACE_MS;
        }
        if (grace_end != 0 && now >= grace_end)
            break;
        struct pollfd pfd[5];
        int *which[5];
        nfds_t n = 0;
        for (int i = 0; i < 3; i++)
            if (*streams[i].fd >= 0) {
                pfd[n] = (struct pollfd){*streams[i].fd, POLLIN, 0};
                which[n++] = streams[i].fd;
            }
        if (c->status_r >= 0) {
            pfd[n] = (struct pollfd){c->status_r, POLLIN, 0};
            which[n++] = &c->status_r;
        }
        if (n == 0 && grace_end != 0)
            break;
        if (pidfd >= 0 && grace_end == 0) {
            pfd[n] = (struct pollfd){pidfd, POLLIN, 0};
            which[n++] = &pidfd;
        } else if (n == 0) {
            /* All pipes closed: wait for W to exit. */
            struct timespec ts = {0, SBX_RECHECK_MS * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        double until = grace_end != 0 ? grace_end : deadline;
        if (pidfd < 0 && !outcome->timed_out && grace_end == 0 && until > now + 50)
            until = now + 50; /* re-check W now and then */
        int tmo = until > now ? (int)(until - now) + 1 : 0;
        int r = poll(pfd, n, tmo);
        if (r < 0 && errno != EINTR) {
            rc = err_sys(err, E_SANDBOX, "poll on the sandbox pipes");
            goto out;
        }
        for (nfds_t i = 0; r > 0 && i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (which[i] == &pidfd)
                continue; /* W exited: seen at the loop's top */
            if (which[i] == &c->status_r) {
                sbx_drain_status(&c->status_r, &acc);
                continue;
            }
            for (int k = 0; k < 3; k++)
                if (streams[k].fd == which[i])
                    sbx_drain(&streams[k], chunk);
        }
    }
    /* Drain what is left without waiting (data of a finished worker). */
    for (int k = 0; k < 3; k++)
        while (*streams[k].fd >= 0) {
            struct pollfd p1 = {*streams[k].fd, POLLIN, 0};
            if (poll(&p1, 1, 0) <= 0 || !sbx_drain(&streams[k], chunk))
                break;
        }
    while (c->status_r >= 0) {
        struct pollfd p1 = {c->status_r, POLLIN, 0};
        if (poll(&p1, 1, 0) <= 0 || !sbx_drain_status(&c->status_r, &acc))
            break;
    }

    bool done = acc.done && !outcome->timed_out;
    if (done) {
        /* W and its group only: the cgroup's kill would take whatever else
         * is there too, and the check below must see it. */
        sbx_kill_w(pid);
        if (sbx_alone_seen(pid)) {
            /* Everything W wrote is in: it may exit (and be reaped) later. */
            sbx_reap_lingering();
            sbx_lingering = pid;
            sbx_lingering_cg = c->cg;
            c->cg.dirfd = -1;
            *pid_io = -1;
            outcome->wall_ms = sbx_now_ms() - t0;
            outcome->exit_status = acc.done_status;
            goto out;
        }
    }
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    kill(-pid, SIGKILL);
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
    }
    *pid_io = -1;
    outcome->wall_ms = sbx_now_ms() - t0;
    if (done) {
        /* A DONE with W not alone (the job wrote it): the run ended there,
         * and the namespace is gone now that W is. */
        outcome->exit_status = acc.done_status;
        goto out;
    }

    if (acc.failed) {
        int step = acc.fail.step;
        const char *name = step > 0 && step < SBX_STEP_COUNT_ ? sbx_step_names[step] : "unknown";
        errno = acc.fail.err;
        rc = err_sys(err, E_SANDBOX, "sandbox setup failed at step '%s'", name);
        goto out;
    }
    int ws = st;
    if (outcome->timed_out) {
        outcome->term_signal = SIGKILL;
    } else if (WIFSIGNALED(ws)) {
        outcome->term_signal = WTERMSIG(ws);
    } else if (acc.signal && WIFEXITED(ws) && WEXITSTATUS(ws) == SBX_EXIT_SIGNAL(acc.signal)) {
        outcome->term_signal = acc.signal; /* sbx_init_signals: as if killed */
    } else if (WIFEXITED(ws)) {
        outcome->exit_status = WEXITSTATUS(ws);
    }
    /* RLIMIT_CPU's hard limit kills with SIGKILL a second after its
     * SIGXCPU (the code caught or ignored that): not the memory limit. Past
     * the soft limit, since the time reaped lags the kernel's own count. */
    if (!outcome->timed_out && outcome->term_signal == SIGKILL && (c->layers & SBX_L_RLIMITS) &&
        sbx_cpu_s(&ru) >= (double)sbx_rlimit_cpu_s(wall_ms))
        outcome->term_signal = SIGXCPU;
    /* The cgroup's OOM killer acted (the whole tree was killed). */
    if (!outcome->timed_out && sbx_cg_oom_killed(&c->cg))
        outcome->mem_limit = true;
    /* Killed (the kernel's OOM killer), or a crash with much memory in use
     * (a C library's failed allocation): the memory limit. A crash of a
     * small process is a crash (a ctypes mistake, a bug in an extension). */
    bool big = c->o->memory_bytes > 0 &&
               (double)ru.ru_maxrss * 1024.0 >= (double)c->o->memory_bytes * SBX_MEM_CRASH_SHARE;
    if (!outcome->timed_out && (c->layers & SBX_L_RLIMITS) && sbx_rlimit_memory_enforced() &&
        (outcome->term_signal == SIGKILL ||
         (big && (outcome->term_signal == SIGSEGV || outcome->term_signal == SIGBUS ||
                  outcome->term_signal == SIGABRT))))
        outcome->mem_limit = true;
out:
    if (pidfd >= 0)
        close(pidfd);
    free(chunk);
    return rc;
}

static void sbx_outcome_init(const struct sbx_opts *o, struct sbx_outcome *outcome)
{
    memset(outcome, 0, sizeof(*outcome));
    buf_init(&outcome->out, o->stdio_cap);
    buf_init(&outcome->err, o->stdio_cap);
    buf_init(&outcome->result, o->result_cap);
}

/* Kill W's tree (if any) and wait for W; close the context. */
static void sbx_end(struct sbx_ctx *c, pid_t pid)
{
    if (pid > 0) {
        sbx_kill_tree(c, pid);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    sbx_cg_remove(&c->cg);
    sbx_ctx_close(c);
}

void sbx_ready_signal(void)
{
    sbx_status_put(SBX_REC_READY, 0, 0, 0);
}

pid_t sbx_lingering_pid(void)
{
    return sbx_lingering;
}

void sbx_reap_lingering(void)
{
    if (sbx_lingering <= 0)
        return;
    while (waitpid(sbx_lingering, NULL, 0) < 0 && errno == EINTR) {
    }
    sbx_lingering = -1;
    sbx_cg_remove(&sbx_lingering_cg);
}

/* A ready sandbox of this process, not yet used (at most one). */
struct sbx_ready {
    pid_t pid;
    bool rehearsed;    /* its READY record came */
    struct sbx_opts o; /* as made, o.scratch pointing at scratch */
    char scratch[PATH_MAX];
    sbx_job_fn jfn;
};

static struct sbx_ready sbx_ready_one = {.pid = -1};

void sbx_ready_discard(void)
{
    if (sbx_ready_one.pid <= 0)
        return;
    sbx_end(&sbx_ctx, sbx_ready_one.pid);
    sbx_ready_one.pid = -1;
    sbx_ctx.jfn = NULL;
}

enum err_code sbx_run(const struct sbx_opts *o, sbx_child_fn fn, void *arg,
                      struct sbx_outcome *outcome, struct err *err)
{
    enum err_code rc;
    struct sbx_ctx *c = &sbx_ctx;
    pid_t pid = -1;
    sbx_ready_discard(); /* one sandbox at a time per process */
    sbx_reap_lingering();
    sbx_outcome_init(o, outcome);
    double t0 = sbx_now_ms();
    if ((rc = sbx_ctx_init(c, o, fn, arg, err)) || (rc = sbx_launch(c, &pid, err)))
        goto out;
    rc = sbx_watch(c, &pid, t0, o->wall_ms, false, outcome, err);
out:
    sbx_end(c, pid);
    if (rc != E_OK)
        sbx_outcome_release(outcome);
    return rc;
}

enum err_code sbx_ready_prepare(const struct sbx_opts *o, sbx_job_fn jfn, struct err *err)
{
    enum err_code rc;
    struct sbx_ready *r = &sbx_ready_one;
    struct sbx_ctx *c = &sbx_ctx;
    pid_t pid = -1;
    sbx_ready_discard();
    sbx_reap_lingering();
    if (!o->scratch ||
        snprintf(r->scratch, sizeof(r->scratch), "%s", o->scratch) >= (int)sizeof(r->scratch))
        return err_set(err, E_SANDBOX, "scratch path too long");
    r->o = *o;
    r->o.scratch = r->scratch;
    r->o.ro_binds = NULL;
    if (o->ro_binds)
        return err_set(err, E_SANDBOX, "a ready sandbox takes no extra binds");
    r->jfn = jfn;
    r->rehearsed = false;
    if ((rc = sbx_ctx_init(c, &r->o, NULL, NULL, err)))
        goto fail;
    c->jfn = jfn;
    if ((rc = sbx_launch(c, &pid, err)))
        goto fail;
    r->pid = pid;
    return E_OK;
fail:
    sbx_end(c, pid);
    c->jfn = NULL;
    r->pid = -1;
    return rc;
}

bool sbx_ready_fits(const struct sbx_opts *o, sbx_job_fn jfn)
{
    struct sbx_ready *r = &sbx_ready_one;
    if (!(r->pid > 0 && r->jfn == jfn && o->scratch && !strcmp(o->scratch, r->scratch) &&
          o->memory_bytes == r->o.memory_bytes && o->procs == r->o.procs &&
          o->fsize_bytes == r->o.fsize_bytes && o->stdio_cap == r->o.stdio_cap &&
          o->result_cap == r->o.result_cap && o->layers == r->o.layers && !o->ro_binds))
        return false;
    /* Still in its first rehearsal: that ends sooner than a fresh sandbox
     * starts (bounded wait); a failure or death discards it. */
    struct pollfd p = {sbx_ctx.status_r, POLLIN, 0};
    if (!r->rehearsed && sbx_ctx.status_r >= 0 && poll(&p, 1, SBX_READY_WAIT_MS) == 1) {
        struct sbx_status_rec rec;
        if (read(sbx_ctx.status_r, &rec, sizeof(rec)) == (ssize_t)sizeof(rec) &&
            rec.kind == SBX_REC_READY)
            r->rehearsed = true;
    }
    if (!r->rehearsed)
        sbx_ready_discard();
    return r->pid > 0 && r->rehearsed;
}

enum err_code sbx_ready_run(long wall_ms, const void *job, size_t len, struct sbx_outcome *outcome,
                            struct err *err)
{
    enum err_code rc;
    struct sbx_ready *r = &sbx_ready_one;
    struct sbx_ctx *c = &sbx_ctx;
    pid_t pid = r->pid;
    if (pid <= 0)
        return err_set(err, E_INTERNAL, "no ready sandbox");
    r->pid = -1;
    sbx_outcome_init(&r->o, outcome);
    double t0 = sbx_now_ms();
    /* Files staged since W was made: hand them to the sandbox user too. */
    if ((rc = sbx_chown_scratch(c, err)))
        goto out;
    /* Its CPU limit as a fresh sandbox has it for the time this call has
     * left (the ready one was made for the server's whole limit). */
    if ((r->o.layers & SBX_L_RLIMITS) && !sbx_rlimit_cpu_lower(pid, wall_ms)) {
        rc = err_sys(err, E_SANDBOX, "cannot set the ready sandbox's CPU limit");
        goto out;
    }
    /* The job: W reads it to EOF (a pipe's worth is buffered; a larger one
     * is written while W reads, which it does at once). A W that died
     * meanwhile shows as EPIPE here (kiln's main ignores SIGPIPE) and as its
     * fate in the watch below. */
    (void)fd_write_all(c->job_w, job, len);
    close(c->job_w);
    c->job_w = -1;
    rc = sbx_watch(c, &pid, t0, wall_ms, true, outcome, err);
out:
    sbx_end(c, pid);
    c->jfn = NULL;
    if (rc != E_OK)
        sbx_outcome_release(outcome);
    return rc;
}
