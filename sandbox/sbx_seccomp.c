#include "sbx_seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banned.h"

/* What CPython, numpy, pandas, matplotlib and libc need (names resolved by
 * libseccomp; names the native architecture lacks are skipped). Missing from
 * purpose, among others: ptrace, mount, umount2, pivot_root, chroot, unshare,
 * setns, bpf, keyctl, add_key, request_key, perf_event_open, io_uring_*,
 * userfaultfd, kexec_*, *_module, reboot, swapon/off, open_by_handle_at,
 * name_to_handle_at, process_vm_readv/writev, quotactl, acct, settimeofday,
 * clock_settime, mknod and mknodat of devices, setuid and friends, capset. */
static const char *const sbx_seccomp_allow[] = {
    /* files and fds */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "close",
    "close_range",
    "creat",
    "lseek",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "ftruncate",
    "truncate",
    "fallocate",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "umask",
    "getcwd",
    "chdir",
    "fchdir",
    "pipe",
    "pipe2",
    "sendfile",
    "copy_file_range",
    "splice",
    "tee",
    "fadvise64",
    "readahead",
    "memfd_create",
    "eventfd",
    "eventfd2",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "ioctl",
    /* memory */
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "msync",
    "mincore",
    "mlock",
    "munlock",
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    "membarrier",
    /* polling and time */
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "times",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "alarm",
    "getitimer",
    "setitimer",
    /* processes and threads */
    "clone",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "getpgrp",
    "setpgid",
    "getsid",
    "setsid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "capget",
    "futex",
    "futex_waitv",
    "set_robust_list",
    "get_robust_list",
    "set_tid_address",
    "rseq",
    "arch_prctl",
    "prctl",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "getpriority",
    "setpriority",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "getrusage",
    "sysinfo",
    "uname",
    "getrandom",
    "getcpu",
    "restart_syscall",
    /* signals */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "kill",
    "tgkill",
    "tkill",
    "pause",
    "signalfd",
    "signalfd4",
    "pidfd_open",
    "pidfd_send_signal",
    /* local sockets (socket() itself is filtered below) */
    "socketpair",
    "bind",
    "connect",
    "listen",
    "accept",
    "accept4",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "setsockopt",
    "getsockopt",
    /* System V IPC inside the private ipc namespace, POSIX message queues */
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
};

/* Namespace flags clone() may not carry. */
#define SBX_SECCOMP_NS_FLAGS                                                                       \
    ((scmp_datum_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |  \
                    CLONE_NEWPID | CLONE_NEWNET | 0x00000080 /* NEWTIME */))

static struct sock_fprog sbx_seccomp_compiled;
static bool sbx_seccomp_ready;

static enum err_code sbx_seccomp_fail(struct err *err, int r, const char *what)
{
    errno = r < 0 ? -r : EINVAL;
    return err_sys(err, E_SANDBOX, "sandbox setup failed at step 'seccomp': %s", what);
}

/* clone with namespace flags and ioctl(TIOCSTI) must lose against the plain
 * allow rules above; libseccomp gives the more restrictive action when rules
 * overlap on the same syscall with argument filters, so those calls are
 * filtered by argument instead of being allowed wholesale. */
static const char *const sbx_seccomp_argfiltered[] = {"clone", "ioctl", "mknod", "mknodat"};

/* mknod makes files of these types only (os.mkfifo, os.mknod of a regular
 * file or a socket, in the dirs the code may write); never a device. The
 * kernel reads the mode as 16 bits: only its type bits are compared. */
static const scmp_datum_t sbx_seccomp_mknod_types[] = {0, S_IFREG, S_IFIFO, S_IFSOCK};

static int sbx_seccomp_arg_rules(scmp_filter_ctx ctx)
{
    int r;
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, SBX_SECCOMP_NS_FLAGS, 0))) < 0)
        return r;
    /* The kernel reads ioctl's request as a 32-bit int, so a plain 64-bit
     * "!= TIOCSTI" lets TIOCSTI | (1 << 32) through: allow only requests
     * whose low 32 bits differ from TIOCSTI in at least one bit. */
    for (int i = 0; i < 32; i++) {
        scmp_datum_t bit = (scmp_datum_t)1 << i;
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, bit, ~(scmp_datum_t)TIOCSTI & bit));
        if (r < 0)
            return r;
    }
    int nr = seccomp_syscall_resolve_name("mknod"); /* not on every architecture */
    for (size_t i = 0; i < sizeof(sbx_seccomp_mknod_types) / sizeof(sbx_seccomp_mknod_types[0]);
         i++) {
        scmp_datum_t t = sbx_seccomp_mknod_types[i];
        if (nr >= 0 && nr != __NR_SCMP_ERROR &&
            (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, t))) < 0)
            return r;
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mknodat), 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, t))) < 0)
            return r;
    }
    return 0;
}

static bool sbx_seccomp_is_argfiltered(const char *name)
{
    for (size_t i = 0; i < sizeof(sbx_seccomp_argfiltered) / sizeof(sbx_seccomp_argfiltered[0]);
         i++)
        if (!strcmp(name, sbx_seccomp_argfiltered[i]))
            return true;
    return false;
}

static enum err_code sbx_seccomp_build(struct err *err)
{
    enum err_code rc = E_OK;
    scmp_filter_ctx ctx = NULL;
    int mfd = -1;
    char *bpf = NULL;
    size_t bpf_len = 0;
    int r;

    ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        rc = err_set(err, E_SANDBOX, "sandbox setup failed at step 'seccomp': seccomp_init");
        goto out;
    }
    /* Native architecture only (seccomp_init adds it; x32 stays out). */
    if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
        (r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0) {
        rc = sbx_seccomp_fail(err, r, "attributes");
        goto out;
    }
    for (size_t i = 0; i < sizeof(sbx_seccomp_allow) / sizeof(sbx_seccomp_allow[0]); i++) {
        const char *name = sbx_seccomp_allow[i];
        if (sbx_seccomp_is_argfiltered(name))
            continue;
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR || nr < 0)
            continue;
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) {
            rc = sbx_seccomp_fail(err, r, name);
            goto out;
        }
    }
    if ((r = sbx_seccomp_arg_rules(ctx)) < 0) {
        rc = sbx_seccomp_fail(err, r, "argument rules");
        goto out;
    }
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, AF_UNIX))) < 0 ||
        (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_NE, AF_UNIX))) < 0 ||
        (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0 ||
        (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_EQ, 0))) < 0 ||
        (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_EQ, 0xffffffffU))) < 0) {
        rc = sbx_seccomp_fail(err, r, "argument rules");
        goto out;
    }
    mfd = memfd_create("kiln-seccomp", MFD_CLOEXEC);
    if (mfd < 0) {
        rc = err_sys(err, E_SANDBOX, "sandbox setup failed at step 'seccomp'");
        goto out;
    }
    if ((r = seccomp_export_bpf(ctx, mfd)) < 0) {
        rc = sbx_seccomp_fail(err, r, "export");
        goto out;
    }
    off_t end = lseek(mfd, 0, SEEK_END);
    if (end <= 0 || end > 1024 * 1024 || lseek(mfd, 0, SEEK_SET) != 0) {
        rc = err_set(err, E_SANDBOX, "sandbox setup failed at step 'seccomp': bad program");
        goto out;
    }
    bpf_len = (size_t)end;
    bpf = malloc(bpf_len);
    if (!bpf) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    if (read(mfd, bpf, bpf_len) != (ssize_t)bpf_len) {
        rc = err_sys(err, E_SANDBOX, "sandbox setup failed at step 'seccomp': reading program");
        goto out;
    }
out:
    if (mfd >= 0)
        close(mfd);
    if (rc == E_OK) {
        if (bpf_len == 0 || bpf_len % sizeof(struct sock_filter) != 0) {
            rc = err_set(err, E_SANDBOX, "sandbox setup failed at step 'seccomp': bad program");
        } else {
            sbx_seccomp_compiled.len = (unsigned short)(bpf_len / sizeof(struct sock_filter));
            sbx_seccomp_compiled.filter = (struct sock_filter *)(void *)bpf;
            bpf = NULL;
            sbx_seccomp_ready = true;
        }
    }
    free(bpf);
    seccomp_release(ctx);
    return rc;
}

enum err_code sbx_seccomp_prog(const struct sock_fprog **prog, struct err *err)
{
    if (!sbx_seccomp_ready) {
        enum err_code rc = sbx_seccomp_build(err);
        if (rc)
            return rc;
    }
    *prog = &sbx_seccomp_compiled;
    return E_OK;
}

bool sbx_seccomp_apply(const struct sock_fprog *prog)
{
    if (!prog) {
        errno = EINVAL;
        return false;
    }
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog) == 0;
}
