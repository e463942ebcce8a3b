/* Sandbox tests (SPEC §4): every promise is checked with all layers on, and
 * the same attack is shown to succeed with the stopping layer(s) off, so no
 * case passes vacuously. The attacks are C functions run inside sbx_run. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sbx.h"
#include "sbx_cgroup.h"
#include "sbx_int.h"
#include "sbx_rlimit.h"

extern char **environ;

/* ---- helpers ------------------------------------------------------------ */

static void t_sbx_opts(struct sbx_opts *o, unsigned layers)
{
    struct config cfg;
    config_defaults(&cfg);
    sbx_opts_from_config(o, &cfg, t_tmpdir());
    o->wall_ms = 10000;
    o->memory_bytes = 256L * 1024 * 1024;
    o->procs = 32;
    o->fsize_bytes = 1024 * 1024;
    o->stdio_cap = 4096;
    o->result_cap = 4096;
    o->layers = layers;
}

static void t_put(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void t_putf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void t_putf(int fd, const char *fmt, ...)
{
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    t_put(fd, b);
}

/* "OK" when r >= 0, else "ERR <errno>". */
static int t_report(int rfd, long r)
{
    if (r >= 0)
        t_put(rfd, "OK");
    else
        t_putf(rfd, "ERR %d", errno);
    return 0;
}

/* Run fn under layers (opts tweaked by tweak when not NULL); the result text
 * is copied to res. false (and a recorded failure) when sbx_run fails. */
static bool t_run(unsigned layers, void (*tweak)(struct sbx_opts *), sbx_child_fn fn, void *arg,
                  struct sbx_outcome *oc)
{
    struct sbx_opts o;
    struct err err;
    t_sbx_opts(&o, layers);
    if (tweak)
        tweak(&o);
    if (sbx_run(&o, fn, arg, oc, &err) != E_OK) {
        t_fail(__FILE__, __LINE__, "sbx_run: %s", err.msg);
        return false;
    }
    return true;
}

/* The attack's result with layers; "" when sbx_run failed. */
static char t_last[4096];
static const char *t_attack(unsigned layers, sbx_child_fn fn, void *arg)
{
    struct sbx_outcome oc;
    t_last[0] = '\0';
    if (!t_run(layers, NULL, fn, arg, &oc))
        return t_last;
    snprintf(t_last, sizeof(t_last), "%s", oc.result.data ? oc.result.data : "");
    if (oc.exit_status || oc.term_signal)
        fprintf(stderr, "note: attack ended with status %d signal %d, stderr: %.300s\n",
                oc.exit_status, oc.term_signal, oc.err.data ? oc.err.data : "");
    sbx_outcome_release(&oc);
    return t_last;
}

/* Expect "ERR ..." (blocked) with all layers and "OK" with `off` removed. */
static void t_expect_blocked(sbx_child_fn fn, void *arg, unsigned off, const char *what)
{
    const char *r = t_attack(SBX_L_ALL, fn, arg);
    if (strncmp(r, "ERR", 3))
        t_fail(__FILE__, __LINE__, "%s: not blocked with all layers: '%s'", what, r);
    r = t_attack(SBX_L_ALL & ~off, fn, arg);
    if (strcmp(r, "OK"))
        t_fail(__FILE__, __LINE__, "%s: still blocked with layers 0x%x off: '%s'", what, off, r);
}

/* ---- plumbing ----------------------------------------------------------- */

static int t_fn_echo(void *arg, int rfd)
{
    (void)arg;
    printf("hello out");
    fflush(stdout);
    fputs("hello err", stderr);
    t_put(rfd, "the result");
    return 7;
}

/* What t_fn_echo leaves in an outcome. */
static void t_expect_echo(const struct sbx_outcome *oc)
{
    T_EXPECT_INT(oc->exit_status, 7);
    T_EXPECT_INT(oc->term_signal, 0);
    T_EXPECT(!oc->timed_out);
    T_EXPECT_STR(oc->out.data ? oc->out.data : "", "hello out");
    T_EXPECT_STR(oc->err.data ? oc->err.data : "", "hello err");
    T_EXPECT_STR(oc->result.data ? oc->result.data : "", "the result");
}

static void t_sbx_echo(void)
{
    struct sbx_outcome oc;
    if (!t_run(SBX_L_ALL, NULL, t_fn_echo, NULL, &oc))
        return;
    t_expect_echo(&oc);
    sbx_outcome_release(&oc);
}

static int t_fn_identity(void *arg, int rfd)
{
    (void)arg;
    char host[64] = "", cwd[4096] = "", line[256], capeff[64] = "?";
    gethostname(host, sizeof(host));
    if (!getcwd(cwd, sizeof(cwd)))
        cwd[0] = '\0';
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "CapEff:", 7))
            sscanf(line + 7, "%63s", capeff);
    if (f)
        fclose(f);
    t_putf(rfd, "uid=%d gid=%d pid=%d host=%s nnp=%d cap=%s cwd=%s", (int)getuid(), (int)getgid(),
           (int)getpid(), host, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), capeff, cwd);
    return 0;
}

static void t_sbx_identity(void)
{
    char want[4200];
    char real[4096];
    T_ASSERT(realpath(t_tmpdir(), real) != NULL);
    snprintf(want, sizeof(want),
             "uid=1000 gid=1000 pid=1 host=kiln nnp=1 cap=0000000000000000 cwd=%s", real);
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_identity, NULL), want);
}

static int t_fn_env(void *arg, int rfd)
{
    (void)arg;
    const char *s = getenv("KILN_TEST_SECRET");
    const char *home = getenv("HOME");
    t_putf(rfd, "secret=%s mpl=%s home_set=%d", s ? s : "(none)",
           getenv("MPLBACKEND") ? getenv("MPLBACKEND") : "", home != NULL);
    return 0;
}

static void t_sbx_env_scrubbed(void)
{
    setenv("KILN_TEST_SECRET", "s3cret", 1);
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_env, NULL), "secret=(none) mpl=Agg home_set=1");
}

static int t_fn_fds(void *arg, int rfd)
{
    (void)arg;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return t_report(rfd, -1);
    int self = dirfd(d);
    struct dirent *e;
    char list[256] = "";
    size_t off = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strtol(e->d_name, NULL, 10) == self)
            continue;
        int fl = fcntl((int)strtol(e->d_name, NULL, 10), F_GETFD);
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s%s", off ? "," : "", e->d_name,
                                fl >= 0 && (fl & FD_CLOEXEC) ? "c" : "");
        if (off >= sizeof(list))
            break;
    }
    closedir(d);
    t_put(rfd, list);
    return 0;
}

static void t_sbx_no_fd_leak(void)
{
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: must not reach fn */
    /* stdio, the result pipe, and the status pipe (its RUN and DONE
     * records), which no exec'd program gets */
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_fds, NULL), "0,1,2,3,4c");
    close(leak);
}

static int t_fn_flood(void *arg, int rfd)
{
    (void)arg;
    char b[1000];
    memset(b, 'x', sizeof(b));
    for (int i = 0; i < 100; i++) {
        if (write(1, b, sizeof(b)) < 0 || write(rfd, b, sizeof(b)) < 0)
            return 1;
    }
    fputs("short", stderr);
    return 0;
}

static void t_sbx_caps_truncate(void)
{
    struct sbx_outcome oc;
    if (!t_run(SBX_L_ALL, NULL, t_fn_flood, NULL, &oc))
        return;
    T_EXPECT_INT(oc.exit_status, 0);
    T_EXPECT_INT(oc.out.len, 4096);
    T_EXPECT(oc.out_truncated);
    T_EXPECT_INT(oc.result.len, 4096);
    T_EXPECT(oc.result_truncated);
    T_EXPECT_STR(oc.err.data, "short");
    T_EXPECT(!oc.err_truncated);
    sbx_outcome_release(&oc);
}

static int t_fn_write_scratch(void *arg, int rfd)
{
    (void)arg;
    FILE *f = fopen("made.txt", "w");
    if (!f)
        return t_report(rfd, -1);
    fputs("data", f);
    fclose(f);
    return t_report(rfd, 0);
}

static void t_sbx_scratch_only_fn_files(void)
{
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_write_scratch, NULL), "OK");
    DIR *d = opendir(t_tmpdir());
    T_ASSERT(d != NULL);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            n++;
            T_EXPECT_STR(e->d_name, "made.txt");
        }
    closedir(d);
    T_EXPECT_INT(n, 1);
}

static void t_sbx_setup_failure_named(void)
{
    /* Without a user namespace and without no_new_privs the worker has no
     * privilege left to install seccomp: the run must fail, naming it. */
    struct sbx_opts o;
    struct sbx_outcome oc;
    struct err err;
    t_sbx_opts(&o, SBX_L_ALL & ~(SBX_L_USERNS | SBX_L_NNP));
    T_EXPECT_INT(sbx_run(&o, t_fn_echo, NULL, &oc, &err), E_SANDBOX);
    T_EXPECT_CONTAINS(err.msg, "sandbox setup failed at step 'seccomp': Permission denied");
    const char *const bad[] = {"/nonexistent/kiln", NULL};
    t_sbx_opts(&o, SBX_L_ALL);
    o.ro_binds = bad;
    T_EXPECT_INT(sbx_run(&o, t_fn_echo, NULL, &oc, &err), E_SANDBOX);
    T_EXPECT_CONTAINS(err.msg, "/nonexistent/kiln");
}

/* ---- filesystem --------------------------------------------------------- */

static int t_fn_read(void *arg, int rfd)
{
    return t_report(rfd, open((const char *)arg, O_RDONLY));
}

static void t_sbx_host_files_hidden(void)
{
    t_expect_blocked(t_fn_read, (void *)"/etc/debian_version", SBX_L_MNTNS | SBX_L_LANDLOCK,
                     "read /etc/debian_version");
    /* Hidden by the mount layer alone, and by Landlock alone. */
    T_EXPECT_CONTAINS(t_attack(SBX_L_ALL & ~SBX_L_LANDLOCK, t_fn_read, (void *)"/etc/hostname"),
                      "ERR");
    T_EXPECT_CONTAINS(t_attack(SBX_L_ALL & ~SBX_L_MNTNS, t_fn_read, (void *)"/etc/hostname"),
                      "ERR");
    T_EXPECT_CONTAINS(t_attack(SBX_L_ALL, t_fn_read, (void *)"/etc/shadow"), "ERR");
    T_EXPECT_CONTAINS(t_attack(SBX_L_ALL, t_fn_read, (void *)"/root"), "ERR");
    /* The Python installation stays readable. */
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_read, (void *)"/usr/lib/python3.11/os.py"), "OK");
}

static char t_outside[256];

static int t_fn_write_outside(void *arg, int rfd)
{
    return t_report(rfd, open((const char *)arg, O_WRONLY | O_CREAT | O_EXCL, 0644));
}

static void t_sbx_write_outside_scratch(void)
{
    snprintf(t_outside, sizeof(t_outside), "/var/tmp/kiln-sbx-t-%d", (int)getpid());
    unlink(t_outside);
    t_expect_blocked(t_fn_write_outside, t_outside, SBX_L_MNTNS | SBX_L_LANDLOCK, "write /var/tmp");
    unlink(t_outside);
    T_EXPECT_CONTAINS(t_attack(SBX_L_ALL, t_fn_write_outside, (void *)"/usr/kiln-x"), "ERR");
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_write_outside, (void *)"/tmp/private-x"), "OK");
}

static int t_fn_setuid_bit(void *arg, int rfd)
{
    (void)arg;
    int fd = open("suid", O_WRONLY | O_CREAT, 0755);
    if (fd < 0 || fchmod(fd, 04755) != 0)
        return t_report(rfd, -1);
    close(fd);
    struct statvfs sv;
    if (statvfs(".", &sv) != 0)
        return t_report(rfd, -1);
    if (sv.f_flag & ST_NOSUID) {
        errno = EPERM; /* the bit is inert on a nosuid mount */
        return t_report(rfd, -1);
    }
    return t_report(rfd, 0);
}

static void t_sbx_setuid_inert(void)
{
    t_expect_blocked(t_fn_setuid_bit, NULL, SBX_L_MNTNS, "setuid bit in scratch");
}

/* ---- processes ---------------------------------------------------------- */

static int t_fn_count_procs(void *arg, int rfd)
{
    (void)arg;
    DIR *d = opendir("/proc");
    if (!d)
        return t_report(rfd, -1);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
            n++;
    closedir(d);
    if (n > 5) {
        t_put(rfd, "OK");
        return 0;
    }
    t_putf(rfd, "ERR only %d processes visible", n);
    return 0;
}

static void t_sbx_host_procs_hidden(void)
{
    t_expect_blocked(t_fn_count_procs, NULL, SBX_L_PIDNS, "list host processes");
}

static pid_t t_victim;

static int t_fn_kill(void *arg, int rfd)
{
    (void)arg;
    return t_report(rfd, kill(t_victim, SIGTERM));
}

static void t_sbx_kill_host_pid(void)
{
    t_victim = fork();
    T_ASSERT(t_victim >= 0);
    if (t_victim == 0) {
        /* Same host uid as the sandbox user, so only the sandbox stops it. */
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
            _exit(1);
        for (;;)
            pause();
    }
    usleep(20000);
    t_expect_blocked(t_fn_kill, NULL, SBX_L_PIDNS | SBX_L_LANDLOCK, "kill a host process");
    kill(t_victim, SIGKILL);
    waitpid(t_victim, NULL, 0);
}

static int t_fn_forkbomb(void *arg, int rfd)
{
    (void)arg;
    int n = 0;
    for (; n < 200; n++) {
        pid_t p = fork();
        if (p < 0)
            break;
        if (p == 0) {
            pause();
            _exit(0);
        }
    }
    if (n >= 200)
        return t_report(rfd, 0);
    t_putf(rfd, "ERR forks=%d", n);
    return 0;
}

static void t_sbx_fork_bomb(void)
{
    /* RLIMIT_NPROC, and pids.max where the host gives sandbox cgroups one
     * (cgroup_pids). */
    t_expect_blocked(t_fn_forkbomb, NULL, SBX_L_RLIMITS | SBX_L_CGROUP, "fork bomb");
}

static int t_fn_spin(void *arg, int rfd)
{
    (void)arg;
    (void)rfd;
    for (volatile unsigned long i = 0;; i++) {
    }
    return 0;
}

static void t_sbx_timeout_kills(void)
{
    struct sbx_outcome oc;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct sbx_opts o;
    struct err err;
    t_sbx_opts(&o, SBX_L_ALL);
    o.wall_ms = 400;
    T_ASSERT(sbx_run(&o, t_fn_spin, NULL, &oc, &err) == E_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1000 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    T_EXPECT(oc.timed_out);
    T_EXPECT_INT(oc.term_signal, SIGKILL);
    T_EXPECT(ms >= 390 && ms < 2500);
    sbx_outcome_release(&oc);
}

/* A daemon (double fork + setsid) appends to a marker in scratch every 20 ms
 * and records its pid; fn then spins until the wall clock kills the tree. */
static int t_fn_daemon(void *arg, int rfd)
{
    (void)arg;
    (void)rfd;
    pid_t p = fork();
    if (p == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
        int pf = open("daemon.pid", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (pf >= 0) {
            if (write(pf, pid, (size_t)n) < 0)
                _exit(1);
            close(pf);
        }
        for (;;) {
            int fd = open("marker", O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                if (write(fd, "x", 1) < 0)
                    _exit(1);
                close(fd);
            }
            usleep(20000);
        }
    }
    waitpid(p, NULL, 0);
    for (;;)
        pause();
    return 0;
}

static off_t t_marker_size(void)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof(path), "%s/marker", t_tmpdir());
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static bool t_daemon_alive_after(unsigned layers)
{
    struct sbx_opts o;
    struct sbx_outcome oc;
    struct err err;
    t_sbx_opts(&o, layers);
    o.wall_ms = 500;
    if (sbx_run(&o, t_fn_daemon, NULL, &oc, &err) != E_OK) {
        t_fail(__FILE__, __LINE__, "sbx_run: %s", err.msg);
        return false;
    }
    T_EXPECT(oc.timed_out);
    sbx_outcome_release(&oc);
    usleep(100000);
    off_t s1 = t_marker_size();
    usleep(300000);
    off_t s2 = t_marker_size();
    if (s1 <= 0)
        t_fail(__FILE__, __LINE__, "the daemon never ran");
    /* Clean up a survivor (only possible without the pid namespace). */
    char path[4200];
    snprintf(path, sizeof(path), "%s/daemon.pid", t_tmpdir());
    char *txt = t_read_file(path, NULL);
    if (txt && s2 != s1) {
        long pid = strtol(txt, NULL, 10);
        if (pid > 1)
            kill((pid_t)pid, SIGKILL);
    }
    free(txt);
    return s2 != s1;
}

static void t_sbx_daemon_killed(void)
{
    T_EXPECT(!t_daemon_alive_after(SBX_L_ALL));
    char path[4200];
    snprintf(path, sizeof(path), "%s/marker", t_tmpdir());
    unlink(path);
    /* Without its pid namespace (and its own cgroup, which would still kill
     * the whole tree: cgroup_kills_tree), the sandbox leaves the daemon. */
    T_EXPECT(t_daemon_alive_after(SBX_L_ALL & ~(SBX_L_PIDNS | SBX_L_CGROUP)));
}

/* ---- cgroup v2 (where the host delegates one) ----------------------------- */

/* The sandbox cgroups of this process under base: how many, and whether one
 * of them held a process. */
static int t_cg_count(const char *base, bool *populated)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "sbx-%d-", (int)getpid());
    DIR *d = opendir(base);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)))
            continue;
        n++;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof(path), "%s/%s/cgroup.procs", base, e->d_name);
        size_t len = 0;
        char *txt = t_read_file(path, &len);
        if (txt && len > 0 && populated)
            *populated = true;
        free(txt);
    }
    closedir(d);
    return n;
}

static volatile bool t_cg_stop;
static bool t_cg_seen;

static void *t_cg_watch(void *arg)
{
    const char *base = arg;
    for (int i = 0; i < 2000 && !t_cg_stop && !t_cg_seen; i++) {
        (void)t_cg_count(base, &t_cg_seen);
        usleep(1000);
    }
    return NULL;
}

static int t_fn_cgroup(void *arg, int rfd)
{
    (void)arg;
    usleep(300000);
    /* Its cgroup namespace: its own cgroup is the root it sees. */
    int fd = open("/proc/self/cgroup", O_RDONLY);
    char b[1024] = "";
    ssize_t n = fd >= 0 ? read(fd, b, sizeof(b) - 1) : -1;
    if (fd >= 0)
        close(fd);
    b[n > 0 ? n : 0] = '\0';
    t_put(rfd, strstr(b, "0::/\n") ? "root" : b);
    return 0;
}

/* Run t_fn_cgroup with layers while a thread watches base; whether one of
 * this process's sandbox cgroups there was seen holding a process. */
static bool t_cg_run_watched(const char *base, unsigned layers, struct sbx_outcome *oc, bool *ran)
{
    pthread_t th;
    t_cg_stop = false;
    t_cg_seen = false;
    *ran = false;
    if (pthread_create(&th, NULL, t_cg_watch, (void *)base) != 0)
        return false;
    *ran = t_run(layers, NULL, t_fn_cgroup, NULL, oc);
    t_cg_stop = true;
    pthread_join(th, NULL);
    return t_cg_seen;
}

/* W runs in a cgroup of its own, made for it and gone after. */
static void t_sbx_cgroup_own(void)
{
    const struct sbx_cg_state *st = sbx_cg_state();
    if (!st->usable) {
        t_skip(st->why);
        return;
    }
    struct sbx_outcome oc;
    bool ran = false;
    bool seen = t_cg_run_watched(st->base, SBX_L_ALL, &oc, &ran);
    T_ASSERT(ran);
    T_EXPECT(seen);
    T_EXPECT_STR(oc.result.data ? oc.result.data : "", "root");
    sbx_outcome_release(&oc);
    sbx_reap_lingering();
    T_EXPECT_INT(t_cg_count(st->base, NULL), 0);
    /* The layer off: no cgroup is made. */
    seen = t_cg_run_watched(st->base, SBX_L_ALL & ~SBX_L_CGROUP, &oc, &ran);
    T_ASSERT(ran);
    T_EXPECT(!seen);
    sbx_outcome_release(&oc);
}

/* Without the pid namespace, the cgroup still ends the whole tree. */
static void t_sbx_cgroup_kills_tree(void)
{
    const struct sbx_cg_state *st = sbx_cg_state();
    if (!st->usable) {
        t_skip(st->why);
        return;
    }
    T_EXPECT(!t_daemon_alive_after(SBX_L_ALL & ~SBX_L_PIDNS));
    char path[4200];
    snprintf(path, sizeof(path), "%s/marker", t_tmpdir());
    unlink(path);
    T_EXPECT(t_daemon_alive_after(SBX_L_ALL & ~(SBX_L_PIDNS | SBX_L_CGROUP)));
}

/* pids.max bounds the tree's tasks where RLIMIT_NPROC is off. */
static void t_sbx_cgroup_pids(void)
{
    const struct sbx_cg_state *st = sbx_cg_state();
    if (!st->usable || !st->pids) {
        t_skip(st->why);
        return;
    }
    const char *r = t_attack(SBX_L_ALL & ~SBX_L_RLIMITS, t_fn_forkbomb, NULL);
    if (strncmp(r, "ERR", 3))
        t_fail(__FILE__, __LINE__, "fork bomb not stopped by pids.max: '%s'", r);
    r = t_attack(SBX_L_ALL & ~(SBX_L_RLIMITS | SBX_L_CGROUP), t_fn_forkbomb, NULL);
    T_EXPECT_STR(r, "OK");
}

/* Four processes of 100 MiB each: each is within its RLIMIT_DATA (256 MiB),
 * the tree is not within memory.max (256 MiB). */
static int t_fn_memory_tree(void *arg, int rfd)
{
    (void)arg;
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            /* Every page written through a volatile pointer: the compiler
             * may not drop the allocation. */
            size_t n = 100L * 1024 * 1024;
            volatile char *p = malloc(n);
            if (!p)
                _exit(1);
            for (size_t k = 0; k < n; k += 4096)
                p[k] = 1;
            sleep(2);
            _exit(p[n - 4096] == 1 ? 0 : 1);
        }
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        int st = 1;
        if (kids[i] < 0 || waitpid(kids[i], &st, 0) < 0 || st != 0)
            bad++;
    }
    if (bad)
        t_putf(rfd, "ERR %d failed", bad);
    else
        t_put(rfd, "OK");
    return 0;
}

static void t_sbx_cgroup_memory(void)
{
    const struct sbx_cg_state *st = sbx_cg_state();
    if (!sbx_rlimit_memory_enforced()) {
        t_skip("memory limits are not applied in sanitizer builds");
        return;
    }
    if (!st->usable || !st->memory) {
        t_skip(st->why);
        return;
    }
    /* The rlimits off: MEMORY_LIMIT can only come from the cgroup's
     * memory.events (the rlimit layer's guess from a SIGKILL is off too). */
    struct sbx_outcome oc;
    T_ASSERT(t_run(SBX_L_ALL & ~SBX_L_RLIMITS, NULL, t_fn_memory_tree, NULL, &oc));
    T_EXPECT(oc.mem_limit);
    T_EXPECT(strcmp(oc.result.data ? oc.result.data : "", "OK") != 0);
    sbx_outcome_release(&oc);
    T_EXPECT_STR(t_attack(SBX_L_ALL & ~(SBX_L_RLIMITS | SBX_L_CGROUP), t_fn_memory_tree, NULL),
                 "OK");
}

/* cgroup "require" (and a path) fails where the host gives no limits. */
static void t_sbx_cgroup_required(void)
{
    struct config cfg;
    struct sbx_opts o;
    struct sbx_outcome oc;
    struct err err;
    config_defaults(&cfg);
    cfg.cgroup = CONFIG_CGROUP_REQUIRE;
    sbx_opts_from_config(&o, &cfg, t_tmpdir());
    enum err_code rc = sbx_run(&o, t_fn_echo, NULL, &oc, &err);
    const struct sbx_cg_state *st = sbx_cg_state();
    if (st->usable && st->memory && st->pids) {
        T_EXPECT_INT(rc, E_OK);
    } else {
        T_EXPECT_INT(rc, E_SANDBOX);
        T_EXPECT(strstr(err.msg, "cgroup v2 limits are required") != NULL);
    }
    if (rc == E_OK)
        sbx_outcome_release(&oc);
    /* A path that is no cgroup v2 directory. */
    cfg.cgroup = CONFIG_CGROUP_PATH;
    snprintf(cfg.cgroup_path, sizeof(cfg.cgroup_path), "%s", t_tmpdir());
    sbx_opts_from_config(&o, &cfg, t_tmpdir());
    rc = sbx_run(&o, t_fn_echo, NULL, &oc, &err);
    T_EXPECT_INT(rc, E_SANDBOX);
    T_EXPECT(strstr(err.msg, "is not a cgroup v2 directory") != NULL);
    if (rc == E_OK)
        sbx_outcome_release(&oc);
    sbx_cg_configure(CONFIG_CGROUP_AUTO, NULL);
}

/* A killed kiln's sandbox cgroup is removed by the next probe. */
static void t_sbx_cgroup_sweep(void)
{
    const struct sbx_cg_state *st = sbx_cg_state();
    if (!st->usable) {
        t_skip(st->why);
        return;
    }
    pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    T_ASSERT(gone > 0 && waitpid(gone, NULL, 0) == gone);
    char path[PATH_MAX + 64], mine[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/sbx-%d-1", st->base, (int)gone);
    snprintf(mine, sizeof(mine), "%s/sbx-%d-999999", st->base, (int)getpid());
    T_ASSERT(mkdir(path, 0755) == 0);
    T_ASSERT(mkdir(mine, 0755) == 0);
    sbx_cg_configure(CONFIG_CGROUP_OFF, NULL);
    sbx_cg_configure(CONFIG_CGROUP_AUTO, NULL);
    st = sbx_cg_state();
    T_EXPECT(st->usable);
    T_EXPECT(access(path, F_OK) != 0);
    T_EXPECT(access(mine, F_OK) == 0); /* a live process's stays */
    rmdir(mine);
}

/* ---- resources ---------------------------------------------------------- */

static int t_fn_memory(void *arg, int rfd)
{
    (void)arg;
    void *p = malloc(400L * 1024 * 1024);
    int r = p ? 0 : -1;
    if (!p)
        errno = ENOMEM;
    free(p);
    return t_report(rfd, r);
}

static void t_sbx_memory_limit(void)
{
    if (!sbx_rlimit_memory_enforced()) {
        t_skip("memory limits are not applied in sanitizer builds");
        return;
    }
    t_expect_blocked(t_fn_memory, NULL, SBX_L_RLIMITS, "allocate over the memory limit");
}

static int t_fn_disk_fill(void *arg, int rfd)
{
    (void)arg;
    int fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return t_report(rfd, -1);
    static char b[65536];
    for (int i = 0; i < 32; i++) /* 2 MiB */
        if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
            t_putf(rfd, "ERR %d", errno);
            close(fd);
            unlink("big");
            return 0;
        }
    close(fd);
    unlink("big");
    return t_report(rfd, 0);
}

static void t_sbx_disk_fill(void)
{
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_disk_fill, NULL), "ERR 27"); /* EFBIG */
    T_EXPECT_STR(t_attack(SBX_L_ALL & ~SBX_L_RLIMITS, t_fn_disk_fill, NULL), "OK");
}

/* ---- network ------------------------------------------------------------ */

static int t_port4, t_port6;
static char t_abstract[64];

static int t_fn_tcp(void *arg, int rfd)
{
    bool v6 = arg != NULL;
    int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return t_report(rfd, -1);
    int r;
    if (v6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)t_port6)};
        a.sin6_addr = in6addr_loopback;
        r = connect(s, (struct sockaddr *)&a, sizeof(a));
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t_port4)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        r = connect(s, (struct sockaddr *)&a, sizeof(a));
    }
    return t_report(rfd, r);
}

static int t_listen(int family)
{
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    int port = -1;
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t l = sizeof(a);
        if (!bind(s, (struct sockaddr *)&a, sizeof(a)) && !listen(s, 8) &&
            !getsockname(s, (struct sockaddr *)&a, &l))
            port = ntohs(a.sin_port);
    } else {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6};
        a.sin6_addr = in6addr_loopback;
        socklen_t l = sizeof(a);
        if (!bind(s, (struct sockaddr *)&a, sizeof(a)) && !listen(s, 8) &&
            !getsockname(s, (struct sockaddr *)&a, &l))
            port = ntohs(a.sin6_port);
    }
    return port; /* the socket stays open for the case (forked: freed on exit) */
}

static void t_sbx_no_network_v4(void)
{
    t_port4 = t_listen(AF_INET);
    T_ASSERT(t_port4 > 0);
    t_expect_blocked(t_fn_tcp, NULL, SBX_L_NETNS | SBX_L_SECCOMP | SBX_L_LANDLOCK,
                     "connect 127.0.0.1");
    /* Each layer alone stops it. */
    T_EXPECT_CONTAINS(t_attack(SBX_L_ALL & ~(SBX_L_SECCOMP | SBX_L_LANDLOCK), t_fn_tcp, NULL),
                      "ERR");
    T_EXPECT_CONTAINS(t_attack(SBX_L_ALL & ~(SBX_L_NETNS | SBX_L_LANDLOCK), t_fn_tcp, NULL), "ERR");
    T_EXPECT_CONTAINS(t_attack(SBX_L_ALL & ~(SBX_L_NETNS | SBX_L_SECCOMP), t_fn_tcp, NULL), "ERR");
}

static void t_sbx_no_network_v6(void)
{
    t_port6 = t_listen(AF_INET6);
    if (t_port6 <= 0) {
        t_skip("no IPv6 loopback on this host");
        return;
    }
    t_expect_blocked(t_fn_tcp, (void *)"6", SBX_L_NETNS | SBX_L_SECCOMP | SBX_L_LANDLOCK,
                     "connect ::1");
}

static int t_fn_abstract(void *arg, int rfd)
{
    (void)arg;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0)
        return t_report(rfd, -1);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(t_abstract + 1) + 1;
    memcpy(a.sun_path, t_abstract, n);
    return t_report(rfd, connect(s, (struct sockaddr *)&a,
                                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)));
}

static void t_sbx_no_abstract_unix(void)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_ASSERT(s >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(t_abstract + 1, sizeof(t_abstract) - 1, "kiln-sbx-t-%d", (int)getpid());
    size_t n = strlen(t_abstract + 1) + 1;
    memcpy(a.sun_path, t_abstract, n);
    T_ASSERT(bind(s, (struct sockaddr *)&a,
                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) == 0);
    T_ASSERT(listen(s, 8) == 0);
    t_expect_blocked(t_fn_abstract, NULL, SBX_L_NETNS | SBX_L_LANDLOCK,
                     "connect a host abstract socket");
    close(s);
}

static int t_fn_socket(void *arg, int rfd)
{
    int fam = (int)(long)arg;
    int type = fam == AF_PACKET ? SOCK_RAW : fam == AF_NETLINK ? SOCK_RAW : SOCK_STREAM;
    return t_report(rfd, socket(fam, type, 0));
}

static void t_sbx_socket_families(void)
{
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_socket, (void *)(long)AF_UNIX), "OK");
    char want[32];
    snprintf(want, sizeof(want), "ERR %d", EAFNOSUPPORT);
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_socket, (void *)(long)AF_INET), want);
    T_EXPECT_STR(t_attack(SBX_L_ALL, t_fn_socket, (void *)(long)AF_INET6), want);
    t_expect_blocked(t_fn_socket, (void *)(long)AF_NETLINK, SBX_L_SECCOMP, "netlink socket");
    t_expect_blocked(t_fn_socket, (void *)(long)AF_PACKET, SBX_L_SECCOMP | SBX_L_NNP,
                     "packet socket");
}

/* ---- system calls ------------------------------------------------------- */

static int t_fn_syscall(void *arg, int rfd)
{
    const char *what = arg;
    long r = -1;
    if (!strcmp(what, "ptrace")) {
        r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    } else if (!strcmp(what, "mount")) {
        r = mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    } else if (!strcmp(what, "unshare")) {
        r = unshare(CLONE_NEWUSER);
    } else if (!strcmp(what, "clone-ns")) {
        r = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
        if (r == 0)
            _exit(0);
        if (r > 0)
            waitpid((pid_t)r, NULL, 0);
    } else if (!strcmp(what, "keyctl")) {
        r = syscall(SYS_keyctl, 0L /* GET_KEYRING_ID */, -3L /* session */, 0L);
    } else if (!strcmp(what, "io_uring_setup")) {
        char params[120];
        memset(params, 0, sizeof(params));
        r = syscall(SYS_io_uring_setup, 1L, params);
    } else if (!strcmp(what, "userfaultfd")) {
        r = syscall(SYS_userfaultfd, 1L /* UFFD_USER_MODE_ONLY */);
    } else if (!strcmp(what, "perf_event_open")) {
        struct perf_event_attr pa;
        memset(&pa, 0, sizeof(pa));
        pa.type = PERF_TYPE_SOFTWARE;
        pa.size = sizeof(pa);
        pa.config = PERF_COUNT_SW_TASK_CLOCK;
        pa.exclude_kernel = 1;
        pa.exclude_hv = 1;
        r = syscall(SYS_perf_event_open, &pa, 0L, -1L, -1L, 0L);
    } else if (!strcmp(what, "bpf")) {
        r = syscall(SYS_bpf, 0L, NULL, 0L);
    } else if (!strcmp(what, "chroot")) {
        r = chroot("/tmp");
    }
    return t_report(rfd, r);
}

static void t_sbx_syscalls_blocked(void)
{
    static const struct {
        const char *name;
        unsigned off;
    } calls[] = {
        {"ptrace", SBX_L_SECCOMP},
        {"unshare", SBX_L_SECCOMP},
        {"clone-ns", SBX_L_SECCOMP},
        {"keyctl", SBX_L_SECCOMP},
        {"io_uring_setup", SBX_L_SECCOMP | SBX_L_RLIMITS}, /* memlock 0 */
        {"userfaultfd", SBX_L_SECCOMP},
        {"perf_event_open", SBX_L_SECCOMP},
        {"mount", SBX_L_SECCOMP | SBX_L_NNP | SBX_L_LANDLOCK},
        {"chroot", SBX_L_SECCOMP | SBX_L_NNP | SBX_L_LANDLOCK},
        {"bpf", 0},
    };
    char eperm[16];
    snprintf(eperm, sizeof(eperm), "ERR %d", EPERM);
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        const char *r = t_attack(SBX_L_ALL, t_fn_syscall, (void *)calls[i].name);
        if (strcmp(r, eperm))
            t_fail(__FILE__, __LINE__, "%s with all layers: '%s', expected '%s'", calls[i].name, r,
                   eperm);
        if (!calls[i].off)
            continue;
        r = t_attack(SBX_L_ALL & ~calls[i].off, t_fn_syscall, (void *)calls[i].name);
        if (strcmp(r, "OK"))
            t_fail(__FILE__, __LINE__, "%s with layers 0x%x off: '%s', expected 'OK'",
                   calls[i].name, calls[i].off, r);
    }
}

/* ---- Python ------------------------------------------------------------- */

static int t_fn_python(void *arg, int rfd)
{
    (void)rfd;
    char *argv[] = {(char *)"/usr/bin/python3", (char *)"-c", (char *)arg, NULL};
    execve(argv[0], argv, environ);
    _exit(127);
}

static void t_sbx_python_stack_runs(void)
{
    static const char script[] =
        "import os, tempfile, multiprocessing\n"
        "import numpy, pandas, matplotlib\n"
        "import matplotlib.pyplot as plt\n"
        "df = pandas.DataFrame({'a': [1, 2, 3]})\n"
        "df.to_csv('out.csv', index=False)\n"
        "plt.plot(df['a']); plt.savefig('plot.png')\n"
        "with tempfile.TemporaryDirectory() as d: pass\n"
        "print('sum', int(numpy.ones(10).sum()), len(pandas.read_csv('out.csv')), "
        "os.path.getsize('plot.png') > 1000)\n";
    struct sbx_outcome oc;
    struct sbx_opts o;
    struct err err;
    t_sbx_opts(&o, SBX_L_ALL);
    o.wall_ms = 30000;
    o.memory_bytes = 1024L * 1024 * 1024;
    o.stdio_cap = 65536;
    T_ASSERT(sbx_run(&o, t_fn_python, (void *)script, &oc, &err) == E_OK);
    T_EXPECT_INT(oc.exit_status, 0);
    T_EXPECT_STR(oc.out.data, "sum 10 3 True\n");
    if (oc.exit_status)
        fprintf(stderr, "python stderr: %.3000s\n", oc.err.data ? oc.err.data : "");
    sbx_outcome_release(&oc);
}

/* ---- the probe binary (exec'd inside, helpers dir bound read-only) ------ */

static char t_probe_path[4200];
static char t_probe_dir[64]; /* where the probe is bound from */

static int t_fn_probe(void *arg, int rfd)
{
    (void)rfd;
    char **args = arg;
    char *argv[] = {t_probe_path, args[0], args[1], NULL};
    execve(argv[0], argv, environ);
    return 127;
}

static bool t_probe(unsigned layers, const char *mode, const char *param, int *status)
{
    const char *dir = t_probe_dir;
    const char *const binds[] = {dir, NULL};
    char *args[] = {(char *)mode, (char *)param};
    struct sbx_opts o;
    struct sbx_outcome oc;
    struct err err;
    snprintf(t_probe_path, sizeof(t_probe_path), "%s/probe", dir);
    t_sbx_opts(&o, layers);
    o.ro_binds = binds;
    if (sbx_run(&o, t_fn_probe, args, &oc, &err) != E_OK) {
        t_fail(__FILE__, __LINE__, "sbx_run: %s", err.msg);
        return false;
    }
    *status = oc.exit_status;
    sbx_outcome_release(&oc);
    return true;
}

static void t_sbx_probe_binary(void)
{
    const char *dir = getenv("KILN_HELPERS");
    char path[4200];
    snprintf(path, sizeof(path), "%s/probe", dir ? dir : "");
    if (!dir || access(path, X_OK) != 0) {
        t_skip("KILN_HELPERS/probe not built (run through make check-unit)");
        return;
    }
    /* A copy in a dir the sandbox user can reach whatever the checkout's
     * parents allow (a clone under a 0700 temp dir, say). */
    snprintf(t_probe_dir, sizeof(t_probe_dir), "/tmp/kiln-probe-XXXXXX");
    char cmd[4500];
    if (!mkdtemp(t_probe_dir) || chmod(t_probe_dir, 0755) != 0) {
        t_fail(__FILE__, __LINE__, "cannot make a dir for the probe");
        return;
    }
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s/probe' && chmod 755 '%s/probe'", path, t_probe_dir,
             t_probe_dir);
    if (system(cmd) != 0) {
        t_fail(__FILE__, __LINE__, "cannot copy the probe");
        return;
    }
    static const struct {
        const char *mode, *param;
        unsigned off;
    } cases[] = {
        {"read-file", "/etc/debian_version", SBX_L_MNTNS | SBX_L_LANDLOCK},
        {"socket-inet", "", SBX_L_SECCOMP},
        {"ptrace", "", SBX_L_SECCOMP},
        {"unshare", "", SBX_L_SECCOMP},
        {"keyctl", "", SBX_L_SECCOMP},
        /* mount is covered in-process: exec drops the capabilities anyway. */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = -1;
        if (t_probe(SBX_L_ALL, cases[i].mode, cases[i].param, &st) && st != 1)
            t_fail(__FILE__, __LINE__, "probe %s: status %d with all layers, expected 1",
                   cases[i].mode, st);
        if (t_probe(SBX_L_ALL & ~cases[i].off, cases[i].mode, cases[i].param, &st) && st != 0)
            t_fail(__FILE__, __LINE__, "probe %s: status %d with layers 0x%x off, expected 0",
                   cases[i].mode, st, cases[i].off);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_probe_dir);
    if (system(cmd) != 0)
        t_fail(__FILE__, __LINE__, "cannot remove '%s'", t_probe_dir);
}

/* ---- the end of a run: W alone says DONE, and is reaped later ---------- */

/* W alone: the run is answered at DONE, W reaped afterwards. */
static void t_sbx_done_when_alone(void)
{
    struct sbx_outcome oc;
    if (!t_run(SBX_L_ALL, NULL, t_fn_echo, NULL, &oc))
        return;
    t_expect_echo(&oc);
    pid_t w = sbx_lingering_pid();
    T_EXPECT(w > 0);
    sbx_reap_lingering();
    T_EXPECT_INT(sbx_lingering_pid(), -1);
    T_EXPECT(w <= 0 || (kill(w, 0) != 0 && errno == ESRCH));
    sbx_outcome_release(&oc);
    /* Without a pid namespace a double-forked process could outlive W
     * unseen: no DONE, the run ends at W's exit as before. */
    if (!t_run(SBX_L_ALL & ~SBX_L_PIDNS, NULL, t_fn_echo, NULL, &oc))
        return;
    T_EXPECT_INT(oc.exit_status, 7);
    T_EXPECT_INT(sbx_lingering_pid(), -1);
    sbx_outcome_release(&oc);
}

static int t_fn_child_left(void *arg, int rfd)
{
    (void)arg;
    pid_t c = fork();
    if (c == 0) {
        sleep(30);
        _exit(0);
    }
    t_put(rfd, c > 0 ? "forked" : "nofork");
    return 0;
}

static void *t_sleeper(void *arg)
{
    (void)arg;
    sleep(30);
    return NULL;
}

static int t_fn_thread_left(void *arg, int rfd)
{
    (void)arg;
    pthread_t t;
    t_put(rfd, pthread_create(&t, NULL, t_sleeper, NULL) == 0 ? "thread" : "nothread");
    return 0;
}

/* A child or a second thread still there: no DONE, the run ends when the
 * namespace is gone (and kills them). */
static void t_sbx_no_done_when_not_alone(void)
{
    struct sbx_outcome oc;
    if (!t_run(SBX_L_ALL, NULL, t_fn_child_left, NULL, &oc))
        return;
    T_EXPECT_STR(oc.result.data ? oc.result.data : "", "forked");
    T_EXPECT_INT(sbx_lingering_pid(), -1);
    sbx_outcome_release(&oc);
    if (!t_run(SBX_L_ALL, NULL, t_fn_thread_left, NULL, &oc))
        return;
    T_EXPECT_STR(oc.result.data ? oc.result.data : "", "thread");
    T_EXPECT_INT(sbx_lingering_pid(), -1);
    sbx_outcome_release(&oc);
}

static void t_put_rec(int32_t kind, int32_t wstatus)
{
    struct sbx_status_rec r = {kind, 1, EPERM, wstatus};
    ssize_t n = write(4, &r, sizeof(r));
    (void)n;
}

/* The job's own code forges records on the status pipe (fd 4). */
static int t_fn_forge_fail(void *arg, int rfd)
{
    (void)arg;
    t_put_rec(SBX_REC_SETUP_FAILED, 0);
    t_put(rfd, "ran");
    return 3;
}

static int t_fn_forge_done(void *arg, int rfd)
{
    (void)arg;
    pid_t c = fork();
    if (c == 0) { /* its own session, and it keeps writing until killed */
        setsid();
        int fd = open("beat", O_WRONLY | O_CREAT | O_APPEND, 0600);
        for (;;) {
            if (write(fd, "x", 1) != 1)
                _exit(1);
            usleep(500);
        }
    }
    usleep(100 * 1000);
    t_put(rfd, "forged");
    t_put_rec(SBX_REC_DONE, 9);
    sleep(20);
    return 0;
}

static off_t t_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A forged setup failure after RUN is ignored; a forged DONE only ends the
 * job's own run early, and nothing of its sandbox outlives the reap. */
static void t_sbx_forged_records(void)
{
    struct sbx_outcome oc;
    if (!t_run(SBX_L_ALL, NULL, t_fn_forge_fail, NULL, &oc))
        return;
    T_EXPECT_INT(oc.exit_status, 3);
    T_EXPECT_STR(oc.result.data ? oc.result.data : "", "ran");
    sbx_outcome_release(&oc);
    sbx_reap_lingering();

    /* W is not alone: the caller sees it, kills W and waits for the
     * namespace to go before it answers (nothing writes after the return). */
    double t0 = (double)time(NULL);
    if (!t_run(SBX_L_ALL, NULL, t_fn_forge_done, NULL, &oc))
        return;
    char beat[4096];
    snprintf(beat, sizeof(beat), "%s/beat", t_tmpdir());
    off_t a = t_size(beat);
    T_EXPECT((double)time(NULL) - t0 < 10);
    T_EXPECT_INT(oc.exit_status, 9);
    T_EXPECT_STR(oc.result.data ? oc.result.data : "", "forged");
    /* Which path it took is a race, not a promise: W, killed at the DONE,
     * may have exited by the time the caller looks, and then it is alone
     * (an init reparents nothing: its exit kills and waits for every
     * process of its namespace first) and left to reap later. Either way
     * nothing of the sandbox writes after the return (below). */
    sbx_outcome_release(&oc);
    T_EXPECT(a > 0);
    usleep(100 * 1000);
    T_EXPECT_INT((long)t_size(beat), (long)a);
}

static int t_fn_flood_status(void *arg, int rfd)
{
    (void)arg;
    static char junk[65536];
    double end = (double)time(NULL) + 2;
    while ((double)time(NULL) < end)
        if (write(4, junk, sizeof(junk)) < 0)
            break;
    t_put(rfd, "flooded");
    return 0;
}

static double t_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Junk on the status pipe: the caller stops reading it (the job's write
 * then fails) instead of spending its own CPU on it for the whole run. */
static void t_sbx_status_flood(void)
{
    struct sbx_outcome oc;
    double c0 = t_cpu_s();
    if (!t_run(SBX_L_ALL, NULL, t_fn_flood_status, NULL, &oc))
        return;
    double used = t_cpu_s() - c0;
    T_EXPECT_STR(oc.result.data ? oc.result.data : "", "flooded");
    T_EXPECT_INT(oc.exit_status, 0);
    if (used > 0.3)
        t_fail(__FILE__, __LINE__, "the caller spent %.2f s of CPU on the flood", used);
    sbx_outcome_release(&oc);
}

/* SIGTERM sent to itself, with or without sbx_init_signals (arg non-NULL:
 * with), then "survived". */
static int t_fn_self_term(void *arg, int rfd)
{
    if (arg)
        sbx_init_signals();
    raise(SIGTERM);
    t_put(rfd, getpid() == 1 ? "survived as init" : "survived");
    return 0;
}

/* W is pid 1 of its namespace: a signal it sends itself is dropped (the
 * kernel's rule for an init), unless sbx_init_signals ran: then it ends W,
 * and the outcome says killed by it. Without the pid namespace W is an
 * ordinary process that the signal kills anyway. */
static void t_sbx_init_signals(void)
{
    struct sbx_outcome oc;
    int on = 1;
    if (!t_run(SBX_L_ALL, NULL, t_fn_self_term, NULL, &oc))
        return;
    T_EXPECT_STR(oc.result.data ? oc.result.data : "", "survived as init");
    T_EXPECT_INT(oc.term_signal, 0);
    sbx_outcome_release(&oc);
    sbx_reap_lingering();
    if (!t_run(SBX_L_ALL, NULL, t_fn_self_term, &on, &oc))
        return;
    T_EXPECT_STR(oc.result.data ? oc.result.data : "", "");
    T_EXPECT_INT(oc.term_signal, SIGTERM);
    T_EXPECT_INT(oc.exit_status, 0);
    sbx_outcome_release(&oc);
    if (!t_run(SBX_L_ALL & ~SBX_L_PIDNS, NULL, t_fn_self_term, &on, &oc))
        return;
    T_EXPECT_INT(oc.term_signal, SIGTERM);
    sbx_outcome_release(&oc);
}

/* Limits kiln was started under that are lower than the sandbox's (a
 * shell's 'ulimit -v') stay; every sandbox failed at step 'rlimits' (EPERM:
 * raising a hard limit needs a privilege). */
static void t_sbx_rlimits_below_inherited(void)
{
    struct rlimit lo = {4096, 4096}, got;
    T_ASSERT(setrlimit(RLIMIT_FSIZE, &lo) == 0);
    rlim_t as = ((rlim_t)3 << 30) - 4096; /* under memory + SBX_RLIMIT_AS_SLACK */
    bool mem = sbx_rlimit_memory_enforced();
    if (mem)
        T_ASSERT(setrlimit(RLIMIT_AS, &(struct rlimit){as, as}) == 0);
    struct sbx_opts o = {.memory_bytes = 2L << 30, .fsize_bytes = 1L << 20, .wall_ms = 5000};
    T_EXPECT(sbx_rlimit_apply(&o));
    T_ASSERT(getrlimit(RLIMIT_FSIZE, &got) == 0);
    T_EXPECT_INT((long long)got.rlim_cur, 4096);
    T_EXPECT_INT((long long)got.rlim_max, 4096);
    if (mem) {
        T_ASSERT(getrlimit(RLIMIT_AS, &got) == 0);
        T_EXPECT_INT((long long)got.rlim_max, (long long)as);
        T_ASSERT(getrlimit(RLIMIT_DATA, &got) == 0);
        T_EXPECT_INT((long long)got.rlim_max, 2LL << 30);
    }
    T_ASSERT(getrlimit(RLIMIT_CPU, &got) == 0);
    T_EXPECT_INT((long long)got.rlim_cur, (long long)sbx_rlimit_cpu_s(5000));
}

static const struct t_case cases[] = {
    {"echo", t_sbx_echo, true, 20},
    {"rlimits_below_inherited", t_sbx_rlimits_below_inherited, true, 20},
    {"done_when_alone", t_sbx_done_when_alone, true, 20},
    {"no_done_when_not_alone", t_sbx_no_done_when_not_alone, true, 20},
    {"forged_records", t_sbx_forged_records, true, 40},
    {"status_flood", t_sbx_status_flood, true, 30},
    {"identity", t_sbx_identity, true, 20},
    {"env_scrubbed", t_sbx_env_scrubbed, true, 20},
    {"no_fd_leak", t_sbx_no_fd_leak, true, 20},
    {"caps_truncate", t_sbx_caps_truncate, true, 20},
    {"scratch_only_fn_files", t_sbx_scratch_only_fn_files, true, 20},
    {"setup_failure_named", t_sbx_setup_failure_named, true, 20},
    {"host_files_hidden", t_sbx_host_files_hidden, true, 20},
    {"write_outside_scratch", t_sbx_write_outside_scratch, true, 20},
    {"setuid_inert", t_sbx_setuid_inert, true, 20},
    {"host_procs_hidden", t_sbx_host_procs_hidden, true, 20},
    {"kill_host_pid", t_sbx_kill_host_pid, true, 20},
    {"fork_bomb", t_sbx_fork_bomb, true, 30},
    {"timeout_kills", t_sbx_timeout_kills, true, 20},
    {"init_signals", t_sbx_init_signals, true, 20},
    {"daemon_killed", t_sbx_daemon_killed, true, 20},
    {"memory_limit", t_sbx_memory_limit, true, 20},
    {"cgroup_own", t_sbx_cgroup_own, true, 20},
    {"cgroup_kills_tree", t_sbx_cgroup_kills_tree, true, 20},
    {"cgroup_pids", t_sbx_cgroup_pids, true, 30},
    {"cgroup_memory", t_sbx_cgroup_memory, true, 30},
    {"cgroup_required", t_sbx_cgroup_required, true, 20},
    {"cgroup_sweep", t_sbx_cgroup_sweep, true, 20},
    {"disk_fill", t_sbx_disk_fill, true, 20},
    {"no_network_v4", t_sbx_no_network_v4, true, 20},
    {"no_network_v6", t_sbx_no_network_v6, true, 20},
    {"no_abstract_unix", t_sbx_no_abstract_unix, true, 20},
    {"socket_families", t_sbx_socket_families, true, 20},
    {"syscalls_blocked", t_sbx_syscalls_blocked, true, 30},
    {"probe_binary", t_sbx_probe_binary, true, 30},
    {"python_stack_runs", t_sbx_python_stack_runs, true, 60},
    {0},
};
T_SUITE(sbx, cases)
