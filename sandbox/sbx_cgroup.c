#include "sbx_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sbx_int.h"
#include "sbx_rlimit.h"

#include "banned.h"

#define SBX_CG_LEAF "kiln-main"  /* kiln itself, in a delegated cgroup of its own */
#define SBX_CG_ROOT_SUB "kiln"   /* the sandboxes' parent in a hierarchy's root */
#define SBX_CG_PREFIX "sbx-"     /* a sandbox's cgroup: sbx-<pid>-<n> */
#define SBX_CG_FILE_MAX 4096     /* small control files read whole */
#define SBX_CG_EMPTY_WAIT_MS 500 /* a killed cgroup empties within this */
#define SBX_CG_SWEEP_S 60        /* a long-running process sweeps this often */

static struct sbx_cg_state sbx_cg_st;
static bool sbx_cg_probed;
static enum config_cgroup sbx_cg_mode = CONFIG_CGROUP_AUTO; /* as configured */
static char sbx_cg_path[CONFIG_PATH_MAX]; /* the path of CONFIG_CGROUP_PATH mode */
static unsigned long sbx_cg_seq;
static double sbx_cg_swept_ms; /* when this process last swept (monotonic) */

/* Read a small file at dirfd/name (dirfd AT_FDCWD for a path) into b, NUL
 * terminated. false with errno on failure. */
static bool sbx_cg_read(int dirfd, const char *name, char *b, size_t cap)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t have = 0;
    while (have + 1 < cap) {
        ssize_t n = read(fd, b + have, cap - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    int e = errno;
    close(fd);
    b[have] = '\0';
    errno = e;
    return true;
}

static bool sbx_cg_write(int dirfd, const char *name, const char *text)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    close(fd);
    errno = n < 0 ? e : n == (ssize_t)len ? 0 : EIO;
    return n == (ssize_t)len;
}

/* Whether the space-separated list holds word. */
static bool sbx_cg_has_word(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += wl)
        if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\n' || !p[wl]))
            return true;
    return false;
}

/* The value of "key N" in a flat keyed file's text, or -1. */
static long sbx_cg_key(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == ' ')
            return strtol(p + kl + 1, NULL, 10);
    return -1;
}

/* Undo mountinfo's octal escapes (\040 and the like) in place. */
static void sbx_cg_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* kiln's own cgroup v2 directory: the "0::" line of /proc/self/cgroup under
 * a cgroup2 mount of /proc/self/mountinfo whose root holds it. rel gets the
 * path inside the hierarchy. false with st->why set. */
static bool sbx_cg_own_dir(struct sbx_cg_state *st, char *dir, size_t n, char *rel, size_t rn)
{
    char line[PATH_MAX + 64];
    bool found = false;
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) {
        snprintf(st->why, sizeof(st->why), "cannot read /proc/self/cgroup: %s", strerror(errno));
        return false;
    }
    while (!found && fgets(line, sizeof(line), f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = '\0';
            found = snprintf(rel, rn, "%s", line + 3) < (int)rn;
        }
    fclose(f);
    if (!found) {
        snprintf(st->why, sizeof(st->why),
                 "kiln is in no cgroup v2 (no '0::' line in "
                 "/proc/self/cgroup)");
        return false;
    }
    f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        snprintf(st->why, sizeof(st->why), "cannot read /proc/self/mountinfo: %s", strerror(errno));
        return false;
    }
    static char mi[PATH_MAX * 3];
    found = false;
    while (!found && fgets(mi, sizeof(mi), f)) {
        char *sep = strstr(mi, " - cgroup2 ");
        if (!sep)
            continue;
        /* id parent major:minor root mountpoint ... */
        char *save = NULL;
        char *tok = strtok_r(mi, " ", &save);
        for (int i = 0; tok && i < 3; i++)
            tok = strtok_r(NULL, " ", &save);
        char *root = tok;
        char *mnt = root ? strtok_r(NULL, " ", &save) : NULL;
        if (!root || !mnt)
            continue;
        sbx_cg_unescape(root);
        sbx_cg_unescape(mnt);
        size_t rl = strlen(root);
        const char *inside = NULL;
        if (!strcmp(root, "/"))
            inside = rel;
        else if (!strncmp(rel, root, rl) && (rel[rl] == '/' || !rel[rl]))
            inside = rel + rl;
        if (!inside)
            continue;
        int w = snprintf(dir, n, "%s%s", mnt, strcmp(inside, "/") ? inside : "");
        found = w > 0 && (size_t)w < n;
    }
    fclose(f);
    if (!found)
        snprintf(st->why, sizeof(st->why), "kiln's cgroup v2 '%s' is not mounted here", rel);
    return found;
}

/* Enable the memory and pids controllers for dir's children where offered
 * (one at a time: a missing one must not block the other). */
static void sbx_cg_enable(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    char have[SBX_CG_FILE_MAX];
    if (sbx_cg_read(fd, "cgroup.subtree_control", have, sizeof(have))) {
        if (!sbx_cg_has_word(have, "memory"))
            (void)sbx_cg_write(fd, "cgroup.subtree_control", "+memory");
        if (!sbx_cg_has_word(have, "pids"))
            (void)sbx_cg_write(fd, "cgroup.subtree_control", "+pids");
    }
    close(fd);
}

/* Whether cgroup dir dfd holds no process but pid (none at all for 0). */
static bool sbx_cg_holds_only(int dfd, pid_t pid)
{
    char want[32] = "", have[64] = "";
    if (pid > 0)
        snprintf(want, sizeof(want), "%ld\n", (long)pid);
    return sbx_cg_read(dfd, "cgroup.procs", have, sizeof(have)) && !strcmp(have, want);
}

/* In a non-root cgroup of its own: move kiln into the leaf SBX_CG_LEAF so
 * that its cgroup may hand controllers to the sandboxes. */
static bool sbx_cg_leave_own(struct sbx_cg_state *st, const char *dir)
{
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = false;
    if (dfd < 0 || !sbx_cg_holds_only(dfd, getpid()))
        snprintf(st->why, sizeof(st->why),
                 "kiln's cgroup '%s' holds other processes (give kiln a cgroup of its own, "
                 "e.g. systemd Delegate=yes, or set 'cgroup' to a delegated directory)",
                 dir);
    else if (mkdirat(dfd, SBX_CG_LEAF, 0755) != 0 && errno != EEXIST)
        snprintf(st->why, sizeof(st->why), "cgroup '%s' is not delegated to kiln: mkdir: %s", dir,
                 strerror(errno));
    else if (!sbx_cg_write(dfd, SBX_CG_LEAF "/cgroup.procs", pid))
        snprintf(st->why, sizeof(st->why), "cannot move kiln into '%s/%s': %s", dir, SBX_CG_LEAF,
                 strerror(errno));
    else
        ok = true;
    if (dfd >= 0)
        close(dfd);
    return ok;
}

/* Remove the empty sandbox cgroups whose maker is gone (a killed kiln's or
 * worker's: its sandbox died with it). Only rmdir, never a kill: a maker in
 * another pid namespace looks dead from here, and its sandbox's cgroup is
 * populated (rmdir fails). */
static void sbx_cg_sweep(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, SBX_CG_PREFIX, strlen(SBX_CG_PREFIX)))
            continue;
        char *end = NULL;
        long pid = strtol(e->d_name + strlen(SBX_CG_PREFIX), &end, 10);
        if (pid <= 0 || *end != '-' || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        (void)unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

/* Whether dir is the hierarchy's real root (the only cgroup that may hold
 * processes and still hand out controllers): it has no cgroup.type. A
 * container's cgroup namespace root shows as "/" but is not. */
static bool sbx_cg_real_root(const char *dir)
{
    char p[PATH_MAX + 16];
    return snprintf(p, sizeof(p), "%s/cgroup.type", dir) < (int)sizeof(p) && access(p, F_OK) != 0 &&
           errno == ENOENT;
}

/* Evidence that dir was delegated to kiln: systemd's "trusted.delegate" (or
 * "user.delegate") xattr, or ownership by kiln's own (non-root) user. Root
 * passes every permission check, so writability proves nothing. */
static bool sbx_cg_delegated(const char *dir)
{
    char v[8];
    struct stat st;
    if (getxattr(dir, "trusted.delegate", v, sizeof(v)) > 0 ||
        getxattr(dir, "user.delegate", v, sizeof(v)) > 0)
        return true;
    return geteuid() != 0 && stat(dir, &st) == 0 && st.st_uid == geteuid();
}

/* Whether a child can be cloned into the cgroup dir (clone3 may be
 * filtered, or the kernel may refuse the move: delegation, nsdelegate). */
static bool sbx_cg_clone_works(const char *dir, int *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        *e = errno;
        return false;
    }
    pid_t pid = sbx_clone(0, fd);
    *e = errno;
    if (pid == 0)
        _exit(0);
    close(fd);
    if (pid < 0)
        return false;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return true;
}

/* Whether /proc/cgroups has controller name in a cgroup v1 hierarchy. */
static bool sbx_cg_on_v1(const char *name)
{
    char line[256];
    bool v1 = false;
    FILE *f = fopen("/proc/cgroups", "re");
    if (!f)
        return false;
    size_t nl = strlen(name);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, name, nl) && line[nl] == '\t')
            v1 = strtol(line + nl + 1, NULL, 10) != 0;
    fclose(f);
    return v1;
}

static void sbx_cg_run_probe(struct sbx_cg_state *st)
{
    char dir[PATH_MAX], rel[PATH_MAX];
    struct statfs sf;
    if (st->mode == CONFIG_CGROUP_OFF) {
        snprintf(st->why, sizeof(st->why), "switched off (config 'cgroup' is \"off\")");
        return;
    }
    if (st->mode == CONFIG_CGROUP_PATH) {
        snprintf(st->base, sizeof(st->base), "%s", sbx_cg_path);
        if (statfs(st->base, &sf) != 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
            snprintf(st->why, sizeof(st->why), "'%s' is not a cgroup v2 directory", st->base);
            return;
        }
        /* Controllers go only to a cgroup without processes. */
        int bfd = open(st->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bool empty = bfd >= 0 && sbx_cg_holds_only(bfd, 0);
        if (bfd >= 0)
            close(bfd);
        if (!empty) {
            snprintf(st->why, sizeof(st->why),
                     "'%s' holds processes (a directory for the sandboxes must hold none)",
                     st->base);
            return;
        }
    } else {
        if (!sbx_cg_own_dir(st, dir, sizeof(dir), rel, sizeof(rel)))
            return;
        size_t dl = strlen(dir), ll = strlen("/" SBX_CG_LEAF);
        int w;
        if (!strcmp(rel, "/") && sbx_cg_real_root(dir)) {
            /* The hierarchy's root may hold processes and hand out
             * controllers: the sandboxes go into a subtree of kiln's. */
            sbx_cg_enable(dir);
            w = snprintf(st->base, sizeof(st->base), "%s/%s", dir, SBX_CG_ROOT_SUB);
            if (w < 0 || (size_t)w >= sizeof(st->base) ||
                (mkdir(st->base, 0755) != 0 && errno != EEXIST)) {
                snprintf(st->why, sizeof(st->why), "cannot make '%s/%s': %s", dir, SBX_CG_ROOT_SUB,
                         strerror(errno));
                return;
            }
        } else if (dl > ll && !strcmp(dir + dl - ll, "/" SBX_CG_LEAF)) {
            /* Moved there already (by this kiln's parent kiln). */
            dir[dl - ll] = '\0';
            snprintf(st->base, sizeof(st->base), "%s", dir);
        } else {
            /* A container's cgroup (the root of its cgroup namespace,
             * mounted writable) is the container's to use; a cgroup of the
             * host's hierarchy must say it was delegated. */
            if (strcmp(rel, "/") && !sbx_cg_delegated(dir)) {
                snprintf(st->why, sizeof(st->why),
                         "kiln's cgroup '%s' is not delegated to it (systemd: Delegate=yes; or "
                         "set 'cgroup' to a delegated directory)",
                         dir);
                return;
            }
            if (!sbx_cg_leave_own(st, dir))
                return;
            snprintf(st->base, sizeof(st->base), "%s", dir);
        }
    }
    sbx_cg_enable(st->base);
    /* Try one: mkdir, the files a sandbox needs, rmdir. */
    char probe[PATH_MAX];
    if (snprintf(probe, sizeof(probe), "%s/%s%ld-probe", st->base, SBX_CG_PREFIX, (long)getpid()) >=
        (int)sizeof(probe)) {
        snprintf(st->why, sizeof(st->why), "cgroup path too long");
        return;
    }
    if (mkdir(probe, 0755) != 0 && errno != EEXIST) {
        snprintf(st->why, sizeof(st->why), "cgroup '%s' is not delegated to kiln: mkdir: %s",
                 st->base, strerror(errno));
        return;
    }
    bool kill_ok = false;
    int ce = 0;
    int pfd = open(probe, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd >= 0) {
        kill_ok = faccessat(pfd, "cgroup.kill", W_OK, 0) == 0;
        st->memory = faccessat(pfd, "memory.max", W_OK, 0) == 0;
        st->pids = faccessat(pfd, "pids.max", W_OK, 0) == 0;
        close(pfd);
    }
    bool clone_ok = kill_ok && sbx_cg_clone_works(probe, &ce);
    rmdir(probe);
    if (!kill_ok) {
        st->memory = st->pids = false;
        snprintf(st->why, sizeof(st->why),
                 "no writable cgroup.kill in '%s' (kernel older than 5.14, or not delegated)",
                 st->base);
        return;
    }
    if (!clone_ok) {
        st->memory = st->pids = false;
        snprintf(st->why, sizeof(st->why), "cannot clone a process into a cgroup under '%s': %s",
                 st->base, strerror(ce));
        return;
    }
    st->usable = true;
    if (!st->memory || !st->pids) {
        bool v1 = (!st->memory && sbx_cg_on_v1("memory")) || (!st->pids && sbx_cg_on_v1("pids"));
        snprintf(st->why, sizeof(st->why), "%s%s%s not offered to '%s' (%s)",
                 st->memory ? "" : "memory", !st->memory && !st->pids ? " and " : "",
                 st->pids ? "" : "pids", st->base,
                 v1 ? "the host binds them to cgroup v1 hierarchies" : "not delegated to kiln");
    }
    sbx_cg_sweep(st->base);
    sbx_cg_swept_ms = sbx_now_ms();
}

void sbx_cg_configure(enum config_cgroup mode, const char *path)
{
    const char *p = mode == CONFIG_CGROUP_PATH && path ? path : "";
    if (mode == sbx_cg_mode && !strcmp(p, sbx_cg_path))
        return;
    sbx_cg_mode = mode;
    snprintf(sbx_cg_path, sizeof(sbx_cg_path), "%s", p);
    sbx_cg_probed = false;
}

/* E_SANDBOX when the mode requires what the probe did not find. */
static enum err_code sbx_cg_need(const struct sbx_cg_state *st, struct err *err)
{
    if (sbx_cg_required() && !(st->usable && st->memory && st->pids))
        return err_set(err, E_SANDBOX, "cgroup v2 limits are required (config 'cgroup') but: %s",
                       st->why);
    return E_OK;
}

const struct sbx_cg_state *sbx_cg_state(void)
{
    if (!sbx_cg_probed) {
        memset(&sbx_cg_st, 0, sizeof(sbx_cg_st));
        sbx_cg_st.mode = sbx_cg_mode;
        sbx_cg_run_probe(&sbx_cg_st);
        sbx_cg_probed = true;
    }
    return &sbx_cg_st;
}

enum err_code sbx_cg_check(struct err *err)
{
    return sbx_cg_need(sbx_cg_state(), err);
}

enum err_code sbx_cg_make(struct sbx_cg *cg, long memory_bytes, long procs, struct err *err)
{
    enum err_code rc;
    const struct sbx_cg_state *st = sbx_cg_state();
    cg->dirfd = -1;
    cg->path[0] = '\0';
    if ((rc = sbx_cg_need(st, err)))
        return rc;
    if (!st->usable)
        return E_OK;
    /* Those of workers killed meanwhile (a server's cancelled calls). */
    if (sbx_now_ms() - sbx_cg_swept_ms >= SBX_CG_SWEEP_S * 1000.0) {
        sbx_cg_sweep(st->base);
        sbx_cg_swept_ms = sbx_now_ms();
    }
    char path[PATH_MAX];
    for (int tries = 0;; tries++) {
        if (snprintf(path, sizeof(path), "%s/%s%ld-%lu", st->base, SBX_CG_PREFIX, (long)getpid(),
                     ++sbx_cg_seq) >= (int)sizeof(path))
            return err_set(err, E_SANDBOX, "cgroup path too long");
        if (mkdir(path, 0755) == 0)
            break;
        if (errno != EEXIST || tries >= 100)
            return err_sys(err, E_SANDBOX, "cannot make the sandbox's cgroup '%s'", path);
    }
    cg->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg->dirfd < 0) {
        rc = err_sys(err, E_SANDBOX, "cannot open the sandbox's cgroup '%s'", path);
        rmdir(path);
        return rc;
    }
    snprintf(cg->path, sizeof(cg->path), "%s", path);
    char v[32];
    const char *what = NULL;
    if (st->memory && memory_bytes > 0 && sbx_rlimit_memory_enforced()) {
        snprintf(v, sizeof(v), "%ld", memory_bytes);
        if (!sbx_cg_write(cg->dirfd, "memory.max", v))
            what = "memory.max";
        else if (!sbx_cg_write(cg->dirfd, "memory.swap.max", "0") && errno != ENOENT)
            what = "memory.swap.max";
        else if (!sbx_cg_write(cg->dirfd, "memory.oom.group", "1"))
            what = "memory.oom.group";
    }
    if (!what && st->pids && procs > 0) {
        snprintf(v, sizeof(v), "%ld", procs);
        if (!sbx_cg_write(cg->dirfd, "pids.max", v))
            what = "pids.max";
    }
    if (what && sbx_cg_required()) {
        rc = err_sys(err, E_SANDBOX, "cannot set '%s' of the sandbox's cgroup '%s'", what, path);
        sbx_cg_remove(cg);
        return rc;
    }
    if (what) {
        /* "auto": the host took the controller away (its manager rewrote
         * subtree_control); say so once and go on without that limit. */
        log_warn("cannot set '%s' of the sandbox's cgroup '%s' (%s): going on without it", what,
                 path, strerror(errno));
        if (!strncmp(what, "memory", 6))
            sbx_cg_st.memory = false;
        else
            sbx_cg_st.pids = false;
        snprintf(sbx_cg_st.why, sizeof(sbx_cg_st.why), "'%s' could not be set under '%s'", what,
                 st->base);
    }
    return E_OK;
}

bool sbx_cg_required(void)
{
    return sbx_cg_mode == CONFIG_CGROUP_REQUIRE || sbx_cg_mode == CONFIG_CGROUP_PATH;
}

void sbx_cg_kill(const struct sbx_cg *cg)
{
    if (cg->dirfd >= 0)
        (void)sbx_cg_write(cg->dirfd, "cgroup.kill", "1");
}

bool sbx_cg_oom_killed(const struct sbx_cg *cg)
{
    char ev[SBX_CG_FILE_MAX];
    if (cg->dirfd < 0 || !sbx_cg_read(cg->dirfd, "memory.events", ev, sizeof(ev)))
        return false;
    return sbx_cg_key(ev, "oom_kill") > 0 || sbx_cg_key(ev, "oom_group_kill") > 0;
}

void sbx_cg_remove(struct sbx_cg *cg)
{
    if (cg->dirfd < 0)
        return;
    /* Its own path: the mode may have changed since it was made. */
    const char *path = cg->path;
    bool killed = false;
    double until = 0;
    while (rmdir(path) != 0 && errno == EBUSY) {
        /* Still populated: whatever is left dies (it was killed already
         * where W was; this is for processes outside a pid namespace). */
        if (!killed) {
            sbx_cg_kill(cg);
            killed = true;
            until = sbx_now_ms() + SBX_CG_EMPTY_WAIT_MS;
        } else if (sbx_now_ms() > until) {
            log_warn("sandbox cgroup '%s' did not empty; left for the next sweep", path);
            break;
        }
        struct timespec ts = {0, 500 * 1000};
        nanosleep(&ts, NULL);
    }
    close(cg->dirfd);
    cg->dirfd = -1;
    cg->path[0] = '\0';
}
