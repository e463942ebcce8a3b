#include "sbx_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banned.h"

/* The new root is built on a tmpfs mounted here (host paths we still need
 * are reached through fds opened before). */
#define SBX_FS_NEWROOT "/tmp"
#define SBX_FS_ROOT_OPTS "size=4m,nr_inodes=4096,mode=0755"
#define SBX_FS_DEV_OPTS "size=64k,nr_inodes=64,mode=0755"

static const char *const sbx_fs_sys_dirs[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64"};
static const char *const sbx_fs_etc_files[] = {"ld.so.cache", "localtime", "timezone",
                                               "matplotlibrc", "mime.types"};
/* Read-only dirs of /etc: the alternatives links (libblas, liblapack) and
 * fontconfig. */
static const char *const sbx_fs_etc_dirs[] = {"alternatives", "fonts"};
static const char *const sbx_fs_devs[] = {"null", "zero", "full", "random", "urandom"};

static const char sbx_fs_passwd[] = "sandbox:x:1000:1000:sandbox:/tmp:/usr/sbin/nologin\n";
static const char sbx_fs_group[] = "sandbox:x:1000:\n";

enum err_code sbx_fs_plan_init(struct sbx_fs_plan *p, const char *scratch,
                               const char *const *ro_binds, struct err *err)
{
    struct stat st;
    memset(p, 0, sizeof(*p));
    if (!realpath(scratch, p->scratch))
        return err_sys(err, E_SANDBOX, "cannot resolve the scratch dir '%s'", scratch);
    if (stat(p->scratch, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, E_SANDBOX, "scratch dir '%s' is not a directory", scratch);
    if (!strcmp(p->scratch, "/"))
        return err_set(err, E_SANDBOX, "scratch dir cannot be '/'");
    for (size_t i = 0; ro_binds && ro_binds[i]; i++) {
        if (p->n_ro >= SBX_FS_MAX_BINDS)
            return err_set(err, E_SANDBOX, "more than %d extra read-only paths", SBX_FS_MAX_BINDS);
        if (!realpath(ro_binds[i], p->ro[p->n_ro]))
            return err_sys(err, E_SANDBOX, "cannot resolve read-only path '%s'", ro_binds[i]);
        p->n_ro++;
    }
    return E_OK;
}

/* ---- child helpers: fixed buffers, async-signal-safe ------------------- */

static bool sbx_fs_join(char *dst, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb + 1 > PATH_MAX) {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(dst, a, la);
    size_t off = la;
    if (lb && b[0] != '/')
        dst[off++] = '/';
    memcpy(dst + off, b, lb);
    dst[off + lb] = '\0';
    return true;
}

static bool sbx_fs_mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    size_t len = strlen(path);
    if (len + 1 > sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return false;
        tmp[i] = c;
    }
    return true;
}

static bool sbx_fs_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* Flags a remount in a user namespace must keep (the kernel locks them). */
static unsigned long sbx_fs_locked_flags(const char *path)
{
    struct statvfs sv;
    unsigned long f = 0;
    if (statvfs(path, &sv) != 0)
        return 0;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    if (sv.f_flag & ST_RDONLY)
        f |= MS_RDONLY;
    return f;
}

/* Bind src on dst, then remount with flags added to the locked ones. */
static bool sbx_fs_bind(const char *src, const char *dst, unsigned long flags)
{
    if (mount(src, dst, NULL, MS_BIND, NULL) != 0)
        return false;
    unsigned long f = MS_REMOUNT | MS_BIND | flags | sbx_fs_locked_flags(dst);
    return mount(NULL, dst, NULL, f, NULL) == 0;
}

/* Recreate a symlink or bind a directory/file of the host, read-only. */
static bool sbx_fs_mirror(const char *host, const char *dst, bool dir)
{
    struct stat st;
    if (lstat(host, &st) != 0)
        return errno == ENOENT;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(host, target, sizeof(target) - 1);
        if (n < 0)
            return false;
        target[n] = '\0';
        return symlink(target, dst) == 0;
    }
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return true;
    if (dir ? mkdir(dst, 0755) != 0 : !sbx_fs_touch(dst))
        return false;
    return sbx_fs_bind(host, dst, MS_RDONLY | MS_NOSUID | MS_NODEV);
}

static bool sbx_fs_write(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    bool ok = write(fd, text, len) == (ssize_t)len;
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

/* "size=<n>,mode=1777" without stdio. */
static void sbx_fs_tmp_opts(char *dst, size_t cap, long bytes)
{
    static const char pre[] = "size=", post[] = ",nr_inodes=65536,mode=1777";
    char digits[24];
    size_t nd = 0;
    unsigned long v = bytes > 0 ? (unsigned long)bytes : 1UL << 20;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && nd < sizeof(digits));
    size_t off = 0;
    memcpy(dst, pre, sizeof(pre) - 1);
    off = sizeof(pre) - 1;
    while (nd && off + 1 < cap)
        dst[off++] = digits[--nd];
    if (off + sizeof(post) <= cap) {
        memcpy(dst + off, post, sizeof(post));
    } else {
        dst[off] = '\0';
    }
}

static bool sbx_fs_proc_fd_path(char *dst, int fd)
{
    static const char pre[] = "/proc/self/fd/";
    char digits[16];
    size_t nd = 0;
    unsigned v = (unsigned)fd;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && nd < sizeof(digits));
    memcpy(dst, pre, sizeof(pre) - 1);
    size_t off = sizeof(pre) - 1;
    while (nd)
        dst[off++] = digits[--nd];
    dst[off] = '\0';
    return true;
}

#define SBX_FS_FAIL(s)                                                                             \
    do {                                                                                           \
        *step = (s);                                                                               \
        return false;                                                                              \
    } while (0)

static bool sbx_fs_system(const char *root)
{
    char dst[PATH_MAX], host[PATH_MAX];
    for (size_t i = 0; i < sizeof(sbx_fs_sys_dirs) / sizeof(sbx_fs_sys_dirs[0]); i++) {
        if (!sbx_fs_join(dst, root, sbx_fs_sys_dirs[i]) ||
            !sbx_fs_join(host, "/", sbx_fs_sys_dirs[i]) || !sbx_fs_mirror(host, dst, true))
            return false;
    }
    return true;
}

static bool sbx_fs_etc(const char *root)
{
    char dir[PATH_MAX], dst[PATH_MAX], host[PATH_MAX];
    if (!sbx_fs_join(dir, root, "etc") || mkdir(dir, 0755) != 0)
        return false;
    for (size_t i = 0; i < sizeof(sbx_fs_etc_files) / sizeof(sbx_fs_etc_files[0]); i++) {
        if (!sbx_fs_join(dst, dir, sbx_fs_etc_files[i]) ||
            !sbx_fs_join(host, "/etc", sbx_fs_etc_files[i]) || !sbx_fs_mirror(host, dst, false))
            return false;
    }
    for (size_t i = 0; i < sizeof(sbx_fs_etc_dirs) / sizeof(sbx_fs_etc_dirs[0]); i++) {
        if (!sbx_fs_join(dst, dir, sbx_fs_etc_dirs[i]) ||
            !sbx_fs_join(host, "/etc", sbx_fs_etc_dirs[i]) || !sbx_fs_mirror(host, dst, true))
            return false;
    }
    if (!sbx_fs_join(dst, dir, "passwd") ||
        !sbx_fs_write(dst, sbx_fs_passwd, sizeof(sbx_fs_passwd) - 1))
        return false;
    if (!sbx_fs_join(dst, dir, "group") ||
        !sbx_fs_write(dst, sbx_fs_group, sizeof(sbx_fs_group) - 1))
        return false;
    return true;
}

static bool sbx_fs_dev(const char *root, long shm_bytes)
{
    static const char *const links[][2] = {{"fd", "/proc/self/fd"},
                                           {"stdin", "/proc/self/fd/0"},
                                           {"stdout", "/proc/self/fd/1"},
                                           {"stderr", "/proc/self/fd/2"}};
    char dir[PATH_MAX], dst[PATH_MAX], host[PATH_MAX], opts[96];
    if (!sbx_fs_join(dir, root, "dev") || mkdir(dir, 0755) != 0)
        return false;
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NOEXEC, SBX_FS_DEV_OPTS) != 0)
        return false;
    for (size_t i = 0; i < sizeof(sbx_fs_devs) / sizeof(sbx_fs_devs[0]); i++) {
        if (!sbx_fs_join(dst, dir, sbx_fs_devs[i]) || !sbx_fs_join(host, "/dev", sbx_fs_devs[i]))
            return false;
        if (!sbx_fs_touch(dst) || mount(host, dst, NULL, MS_BIND, NULL) != 0)
            return false;
    }
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (!sbx_fs_join(dst, dir, links[i][0]) || symlink(links[i][1], dst) != 0)
            return false;
    if (!sbx_fs_join(dst, dir, "shm") || mkdir(dst, 01777) != 0)
        return false;
    sbx_fs_tmp_opts(opts, sizeof(opts), shm_bytes);
    if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0)
        return false;
    /* The tmpfs of /dev itself stays writable only until the root goes
     * read-only; make it read-only now (binds keep their own flags). */
    return mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) ==
           0;
}

/* Files of a proc that tell of the host rather than the sandbox's own
 * processes: the kernel's boot line and symbols, its modules, timers,
 * scheduler and key tables, the magic SysRq switch. Each that exists is
 * covered with /dev/null (read: empty). */
static const char *const sbx_fs_proc_masked[] = {
    "cmdline", "kallsyms",  "kcore",         "modules",   "timer_list", "sched_debug",
    "keys",    "key-users", "sysrq-trigger", "config.gz", "kmsg",       "vmallocinfo",
};

static bool sbx_fs_proc_mask(const char *proc)
{
    char dst[PATH_MAX];
    for (size_t i = 0; i < sizeof(sbx_fs_proc_masked) / sizeof(sbx_fs_proc_masked[0]); i++) {
        struct stat st;
        if (!sbx_fs_join(dst, proc, sbx_fs_proc_masked[i]))
            return false;
        if (lstat(dst, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (mount("/dev/null", dst, NULL, MS_BIND, NULL) != 0)
            return false;
    }
    return true;
}

bool sbx_fs_enter(const struct sbx_fs_plan *p, enum sbx_step *step)
{
    const char *root = SBX_FS_NEWROOT;
    char dst[PATH_MAX], src[64], opts[96];
    int scratch_fd = -1;
    int ro_fd[SBX_FS_MAX_BINDS];

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        SBX_FS_FAIL(SBX_STEP_MOUNT_PRIVATE);
    /* Reach host paths through fds: the new root may cover them. Bind
     * sources must live in this mount namespace, so they are opened here,
     * as the sandbox user: scratch_new() keeps their parents traversable. */
    scratch_fd = open(p->scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (scratch_fd < 0)
        SBX_FS_FAIL(SBX_STEP_BIND_SCRATCH);
    for (size_t i = 0; i < p->n_ro; i++) {
        ro_fd[i] = open(p->ro[i], O_PATH | O_CLOEXEC);
        if (ro_fd[i] < 0)
            SBX_FS_FAIL(SBX_STEP_BIND_EXTRA);
    }
    if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, SBX_FS_ROOT_OPTS) != 0)
        SBX_FS_FAIL(SBX_STEP_MOUNT_ROOT);
    if (!sbx_fs_system(root))
        SBX_FS_FAIL(SBX_STEP_BIND_SYSTEM);
    if (!sbx_fs_etc(root))
        SBX_FS_FAIL(SBX_STEP_ETC);
    if (!sbx_fs_dev(root, p->tmp_bytes))
        SBX_FS_FAIL(SBX_STEP_MOUNT_DEV);
    sbx_fs_tmp_opts(opts, sizeof(opts), p->tmp_bytes);
    if (!sbx_fs_join(dst, root, "tmp") || mkdir(dst, 01777) != 0 ||
        mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
        SBX_FS_FAIL(SBX_STEP_MOUNT_TMP);
    /* Scratch at its host path: read-write, no devices, no setuid, no exec. */
    sbx_fs_proc_fd_path(src, scratch_fd);
    if (!sbx_fs_join(dst, root, p->scratch) || !sbx_fs_mkdir_p(dst) ||
        !sbx_fs_bind(src, dst, MS_NOSUID | MS_NODEV | MS_NOEXEC))
        SBX_FS_FAIL(SBX_STEP_BIND_SCRATCH);
    close(scratch_fd);
    for (size_t i = 0; i < p->n_ro; i++) {
        struct stat st;
        sbx_fs_proc_fd_path(src, ro_fd[i]);
        if (fstat(ro_fd[i], &st) != 0 || !sbx_fs_join(dst, root, p->ro[i]))
            SBX_FS_FAIL(SBX_STEP_BIND_EXTRA);
        if (S_ISDIR(st.st_mode)) {
            if (!sbx_fs_mkdir_p(dst))
                SBX_FS_FAIL(SBX_STEP_BIND_EXTRA);
        } else {
            char *slash = strrchr(dst, '/');
            *slash = '\0';
            bool ok = sbx_fs_mkdir_p(dst);
            *slash = '/';
            if (!ok || !sbx_fs_touch(dst))
                SBX_FS_FAIL(SBX_STEP_BIND_EXTRA);
        }
        if (!sbx_fs_bind(src, dst, MS_RDONLY | MS_NOSUID | MS_NODEV))
            SBX_FS_FAIL(SBX_STEP_BIND_EXTRA);
        close(ro_fd[i]);
    }
    /* A fresh proc shows only the new pid namespace; without one, the
     * kernel refuses a new proc and the host's is bound instead. */
    if (!sbx_fs_join(dst, root, "proc") || mkdir(dst, 0555) != 0)
        SBX_FS_FAIL(SBX_STEP_MOUNT_PROC);
    if (p->fresh_proc ? mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0
                      : mount("/proc", dst, NULL, MS_BIND | MS_REC, NULL) != 0)
        SBX_FS_FAIL(SBX_STEP_MOUNT_PROC);
    if (!sbx_fs_proc_mask(dst))
        SBX_FS_FAIL(SBX_STEP_MOUNT_PROC);
    if (chdir(root) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        SBX_FS_FAIL(SBX_STEP_PIVOT_ROOT);
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        SBX_FS_FAIL(SBX_STEP_ROOT_READONLY);
    if (chdir(p->scratch) != 0)
        SBX_FS_FAIL(SBX_STEP_CHDIR);
    return true;
}

/* ---- Landlock (raw system calls; the installed header may be older) --- */

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#define SBX_LL_EXECUTE (1ULL << 0)
#define SBX_LL_WRITE_FILE (1ULL << 1)
#define SBX_LL_READ_FILE (1ULL << 2)
#define SBX_LL_READ_DIR (1ULL << 3)
#define SBX_LL_MAKE_CHAR (1ULL << 6)
#define SBX_LL_MAKE_BLOCK (1ULL << 11)
#define SBX_LL_REFER (1ULL << 13)
#define SBX_LL_TRUNCATE (1ULL << 14)
#define SBX_LL_IOCTL_DEV (1ULL << 15)
#define SBX_LL_NET_BIND_TCP (1ULL << 0)
#define SBX_LL_NET_CONNECT_TCP (1ULL << 1)
#define SBX_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define SBX_LL_SCOPE_SIGNAL (1ULL << 1)
#define SBX_LL_RULE_PATH_BENEATH 1

/* struct landlock_ruleset_attr as of ABI 6. */
struct sbx_ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct sbx_ll_path_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

int sbx_fs_landlock_abi(void)
{
    long r = syscall(SYS_landlock_create_ruleset, NULL, (size_t)0,
                     (uint32_t)LANDLOCK_CREATE_RULESET_VERSION);
    return r < 0 ? -1 : (int)r;
}

static bool sbx_ll_add(int ruleset, const char *path, uint64_t dir_access, uint64_t file_access,
                       uint64_t handled)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT; /* absent on this host: nothing to allow */
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return false;
    }
    struct sbx_ll_path_attr a;
    a.allowed_access = (S_ISDIR(st.st_mode) ? dir_access : file_access) & handled;
    a.parent_fd = fd;
    long r = a.allowed_access
                 ? syscall(SYS_landlock_add_rule, ruleset, SBX_LL_RULE_PATH_BENEATH, &a, 0U)
                 : 0;
    int e = errno;
    close(fd);
    errno = e;
    return r == 0;
}

bool sbx_fs_landlock(const struct sbx_fs_plan *p, bool private_tmp)
{
    int abi = sbx_fs_landlock_abi();
    if (abi < 1)
        return false;
    struct sbx_ll_ruleset_attr attr;
    memset(&attr, 0, sizeof(attr));
    uint64_t fs = (1ULL << 13) - 1;
    if (abi >= 2)
        fs |= SBX_LL_REFER;
    if (abi >= 3)
        fs |= SBX_LL_TRUNCATE;
    if (abi >= 5)
        fs |= SBX_LL_IOCTL_DEV;
    attr.handled_access_fs = fs;
    size_t size = sizeof(uint64_t);
    if (abi >= 4) {
        attr.handled_access_net = SBX_LL_NET_BIND_TCP | SBX_LL_NET_CONNECT_TCP;
        size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = SBX_LL_SCOPE_ABSTRACT_UNIX | SBX_LL_SCOPE_SIGNAL;
        size = sizeof(attr);
    }
    long rs = syscall(SYS_landlock_create_ruleset, &attr, size, 0U);
    if (rs < 0)
        return false;
    int ruleset = (int)rs;
    const uint64_t rx = SBX_LL_EXECUTE | SBX_LL_READ_FILE | SBX_LL_READ_DIR;
    const uint64_t rfile = SBX_LL_READ_FILE;
    const uint64_t rw =
        fs & ~(SBX_LL_MAKE_CHAR | SBX_LL_MAKE_BLOCK | SBX_LL_EXECUTE | SBX_LL_IOCTL_DEV);
    const uint64_t rwfile = SBX_LL_READ_FILE | SBX_LL_WRITE_FILE | SBX_LL_TRUNCATE;
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof(sbx_fs_sys_dirs) / sizeof(sbx_fs_sys_dirs[0]); i++) {
        char path[PATH_MAX];
        ok = sbx_fs_join(path, "/", sbx_fs_sys_dirs[i]) && sbx_ll_add(ruleset, path, rx, rx, fs);
    }
    for (size_t i = 0; ok && i < sizeof(sbx_fs_etc_dirs) / sizeof(sbx_fs_etc_dirs[0]); i++) {
        char path[PATH_MAX];
        ok = sbx_fs_join(path, "/etc", sbx_fs_etc_dirs[i]) &&
             sbx_ll_add(ruleset, path, SBX_LL_READ_FILE | SBX_LL_READ_DIR, rfile, fs);
    }
    for (size_t i = 0; ok && i < sizeof(sbx_fs_etc_files) / sizeof(sbx_fs_etc_files[0]); i++) {
        char path[PATH_MAX];
        ok = sbx_fs_join(path, "/etc", sbx_fs_etc_files[i]) &&
             sbx_ll_add(ruleset, path, 0, rfile, fs);
    }
    if (private_tmp) {
        /* Our own passwd/group; the host's stay hidden without the mount layer. */
        ok = ok && sbx_ll_add(ruleset, "/etc/passwd", 0, rfile, fs) &&
             sbx_ll_add(ruleset, "/etc/group", 0, rfile, fs) &&
             sbx_ll_add(ruleset, "/tmp", rw, rwfile, fs) &&
             sbx_ll_add(ruleset, "/dev/shm", rw, rwfile, fs);
    }
    for (size_t i = 0; ok && i < sizeof(sbx_fs_devs) / sizeof(sbx_fs_devs[0]); i++) {
        char path[PATH_MAX];
        ok = sbx_fs_join(path, "/dev", sbx_fs_devs[i]) && sbx_ll_add(ruleset, path, 0, rwfile, fs);
    }
    ok = ok && sbx_ll_add(ruleset, "/proc", SBX_LL_READ_FILE | SBX_LL_READ_DIR, rfile, fs);
    for (size_t i = 0; ok && i < p->n_ro; i++)
        ok = sbx_ll_add(ruleset, p->ro[i], rx, rx, fs);
    ok = ok && sbx_ll_add(ruleset, p->scratch, rw, rwfile, fs);
    if (ok)
        ok = syscall(SYS_landlock_restrict_self, ruleset, 0U) == 0;
    int e = errno;
    close(ruleset);
    errno = e;
    return ok;
}
