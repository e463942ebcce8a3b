#include "srv_child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "action.h"
#include "actions.h"
#include "klimits.h"
#include "log.h"
#include "router.h"
#include "store.h"

#include "banned.h"

#define SRV_OWN_HEAP_CHUNK (1UL << 20) /* srv_own_heap: a request waits at most one */
#define SRV_SPARE_SETTLE_MS 50         /* a spare idle this long copies its heap */

/* Close every inherited socket but keep (the result pipe is no socket). */
static void srv_child_close_sockets_except(int keep)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        errno = 0;
        long fd = strtol(e->d_name, &end, 10);
        if (errno || end == e->d_name || *end || fd <= 2 || fd == self || fd == keep)
            continue;
        struct stat st;
        if (fstat((int)fd, &st) == 0 && S_ISSOCK(st.st_mode))
            close((int)fd);
    }
    closedir(d);
}

/* Make this process's heap its own: copy now every page of it that it
 * still shares with the process it was forked from (or that forked from
 * it), instead of one page fault at a time in the middle of later calls
 * (malloc reuses holes all over a heap the warm-up left). A megabyte at a
 * time; stops early when stop_fd (>= 0) becomes readable. Best effort (an
 * older kernel lacks MADV_POPULATE_WRITE). */
static void srv_own_heap(int stop_fd)
{
#ifdef MADV_POPULATE_WRITE
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return;
    char line[512];
    bool stop = false;
    while (!stop && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (!strstr(line, "[heap]") || sscanf(line, "%lx-%lx", &lo, &hi) != 2 || hi <= lo)
            continue;
        for (unsigned long at = lo; at < hi && !stop; at += SRV_OWN_HEAP_CHUNK) {
            unsigned long n = hi - at < SRV_OWN_HEAP_CHUNK ? hi - at : SRV_OWN_HEAP_CHUNK;
            if (madvise((void *)at, n, MADV_POPULATE_WRITE) != 0) {
                log_debug("cannot populate the heap: %s", strerror(errno));
                stop = true;
            }
            struct pollfd p = {stop_fd, POLLIN, 0};
            if (stop_fd >= 0 && poll(&p, 1, 0) != 0)
                stop = true;
        }
    }
    fclose(f);
#else
    (void)stop_fd;
#endif
}

/* The worker: never returns. */
/* What every worker does first: its own process group, the caller's signal
 * mask, default signal actions, no inherited sockets. */
static void srv_child_enter(const sigset_t *mask)
{
    sigset_t none;
    setpgid(0, 0);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, mask ? mask : &none, NULL);
    srv_child_close_sockets_except(-1);
}

/* Write the envelope and end the worker. */
static _Noreturn void srv_child_leave(json_t *env, bool ok, int wfd)
{
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    /* The envelope and a newline (compact JSON has none): the caller
     * answers at once (srv_child_done). The pipe stays open through the
     * cleanup nobody waits for, so that a caller counting workers until
     * their pipe closes counts the cleanup too. */
    if (text && fd_write_all(wfd, text, strlen(text)))
        fd_write_all(wfd, "\n", 1);
    act_exec_unprepare(); /* a ready sandbox the action did not use */
    route_cleanup();
    _exit(text ? (ok ? 0 : 1) : 3);
}

static _Noreturn void srv_child_main(const struct config *cfg, json_t *req, const sigset_t *mask,
                                     int wfd)
{
    srv_child_enter(mask);
    route_defer_cleanup();
    bool ok = false;
    json_t *env = route_request(cfg, NULL, req, &ok);
    srv_child_leave(env, ok, wfd);
}

/* A spare: get ready, wait for the request text, run it. */
static _Noreturn void srv_child_spare_main(const struct config *cfg, const sigset_t *mask,
                                           int req_r, int wfd)
{
    struct err err;
    srv_child_enter(mask);
    /* "kiln-spare" (also its sandbox's name until the job comes) tells a
     * standby apart from a worker with a call */
    prctl(PR_SET_NAME, (unsigned long)SRV_SPARE_NAME, 0UL, 0UL, 0UL);
    if (act_exec_prepare(cfg, &err))
        log_debug("spare worker: no ready sandbox (%s)", err.msg);
    /* Then the request path once, on nothing: see act_exec_rehearse. */
    act_exec_rehearse(cfg);
    /* Still no request a while later (calls an agent's turns apart): copy
     * the rest of the heap now too, as the server does (srv_own_heap). */
    struct pollfd idle = {req_r, POLLIN, 0};
    if (poll(&idle, 1, SRV_SPARE_SETTLE_MS) == 0)
        srv_own_heap(req_r);
    struct buf in;
    buf_init(&in, (size_t)LIM_REQUEST_BYTES + 1024 * 1024);
    bool over = buf_read_fd(&in, req_r, NULL) == E_LIMIT;
    close(req_r);
    prctl(PR_SET_NAME, (unsigned long)"kiln", 0UL, 0UL, 0UL);
    if (!in.len) {
        /* no request: the server stopped or went away */
        act_exec_unprepare();
        _exit(0);
    }
    bool ok = false;
    json_t *env = NULL;
    if (over) {
        err_set(&err, E_INVALID, "request over %ld bytes", (long)LIM_REQUEST_BYTES);
        env = route_error_envelope(NULL, &err, NULL);
    } else {
        route_defer_cleanup();
        env = route_text(cfg, NULL, in.data, in.len, &ok);
    }
    srv_child_leave(env, ok, wfd);
}

/*
 * Fork a worker with its result pipe (and a request pipe for a spare): in
 * the child returns 0 with *wfd (and *rfd) set; in the parent the pid, with
 * c filled; -1 on failure (err set).
 */
static pid_t srv_child_fork(struct srv_child *c, size_t out_max, bool spare, int *wfd, int *rfd,
                            struct err *err)
{
    int p[2], q[2] = {-1, -1};
    memset(c, 0, sizeof(*c));
    c->pid = -1;
    c->fd = -1;
    c->req_fd = -1;
    buf_init(&c->out, out_max);
    if (pipe2(p, O_CLOEXEC) != 0) {
        err_sys(err, E_SANDBOX, "cannot create a result pipe");
        return -1;
    }
    if (spare && pipe2(q, O_CLOEXEC) != 0) {
        err_sys(err, E_SANDBOX, "cannot create a request pipe");
        close(p[0]);
        close(p[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        err_sys(err, E_SANDBOX, "cannot fork a worker");
        close(p[0]);
        close(p[1]);
        if (spare) {
            close(q[0]);
            close(q[1]);
        }
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        *wfd = p[1];
        if (spare) {
            close(q[1]);
            *rfd = q[0];
        }
        return 0;
    }
    /* Also from the parent, so a kill of the group right away cannot miss. */
    setpgid(pid, pid);
    close(p[1]);
    if (spare) {
        close(q[0]);
        c->req_fd = q[1];
    }
    int fl = fcntl(p[0], F_GETFL);
    if (fl >= 0)
        fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
    c->pid = pid;
    c->fd = p[0];
    c->started_ms = action_now_ms();
    return pid;
}

enum err_code srv_child_spare(const struct config *cfg, const sigset_t *mask, size_t out_max,
                              struct srv_child *c, struct err *err)
{
    int w = -1, r = -1;
    pid_t pid = srv_child_fork(c, out_max, true, &w, &r, err);
    if (pid < 0)
        return err->code;
    if (pid == 0)
        srv_child_spare_main(cfg, mask, r, w);
    return E_OK;
}

enum err_code srv_child_feed(struct srv_child *c, const char *text, size_t len, struct err *err)
{
    if (c->req_fd < 0)
        return err_set(err, E_INTERNAL, "not a spare worker");
    enum err_code rc = E_OK;
    if (!fd_write_all(c->req_fd, text, len))
        rc = err_sys(err, E_SANDBOX, "cannot hand the request to a spare worker");
    close(c->req_fd);
    c->req_fd = -1;
    c->started_ms = action_now_ms();
    return rc;
}

enum err_code srv_child_start(const struct config *cfg, json_t *req, const sigset_t *mask,
                              size_t out_max, struct srv_child *c, struct err *err)
{
    int w = -1;
    pid_t pid = srv_child_fork(c, out_max, false, &w, NULL, err);
    if (pid < 0)
        return err->code;
    if (pid == 0)
        srv_child_main(cfg, req, mask, w);
    return E_OK;
}

bool srv_child_read(struct srv_child *c)
{
    char chunk[65536];
    if (c->fd < 0)
        return false;
    for (;;) {
        ssize_t r = read(c->fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (r <= 0) {
            close(c->fd);
            c->fd = -1;
            return false;
        }
        /* Past the cap the text is dropped (and the envelope becomes INTERNAL). */
        if (!c->overflow && buf_append(&c->out, chunk, (size_t)r, NULL))
            c->overflow = true;
    }
}

bool srv_child_reap(struct srv_child *c, bool wait)
{
    if (c->exited)
        return true;
    if (c->remote) {
        /* Not our child: done when the pipe is at EOF. */
        if (c->fd >= 0 && wait) {
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            while (c->fd >= 0 && poll(&p, 1, -1) >= 0)
                srv_child_read(c);
        }
        if (c->fd >= 0 && srv_child_read(c))
            return false;
        c->exited = true;
        return true;
    }
    if (c->pid < 0)
        return true;
    int st = 0;
    pid_t r;
    do {
        r = waitpid(c->pid, &st, wait ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    c->exited = true;
    c->wstatus = r < 0 ? 0 : st;
    /* Drain what the worker wrote before it went (a grandchild holding the
     * pipe must not keep us waiting for EOF). */
    srv_child_read(c);
    return true;
}

void srv_child_hand_over(struct srv_child *c, struct srv_child *to)
{
    *to = *c;
    buf_init(&to->out, 0);
    to->req_fd = -1;
    c->fd = -1;
}

void srv_child_kill(struct srv_child *c)
{
    if (c->pid > 0 && !c->exited) {
        kill(-c->pid, SIGKILL);
        kill(c->pid, SIGKILL);
    }
}

bool srv_child_done(struct srv_child *c)
{
    if (c->exited)
        return true;
    if (c->overflow || !c->out.len)
        return false;
    size_t n = c->out.len;
    /* the worker's mark after a whole envelope (compact JSON holds no raw
     * newline), or at EOF the envelope's closing brace */
    if (n >= 2 && c->out.data[n - 1] == '\n' && c->out.data[n - 2] == '}')
        return true;
    return c->fd < 0 && c->out.data[n - 1] == '}';
}

json_t *srv_child_envelope(struct srv_child *c, bool timed_out, bool *ok, bool *crashed)
{
    struct err err;
    *ok = false;
    *crashed = false;
    if (!timed_out && !c->overflow && c->out.len > 0) {
        /* NUL: a string the code printed or returned may hold one */
        json_t *env = json_loadb(c->out.data, c->out.len, JSON_ALLOW_NUL, NULL);
        if (json_is_object(env)) {
            *ok = json_is_true(json_object_get(env, "ok"));
            return env;
        }
        json_decref(env);
    }
    if (!c->exited && !c->remote)
        srv_child_reap(c, true); /* its fate, for the message */
    if (timed_out) {
        err_set(&err, E_TIMEOUT, "the action did not finish in time; its worker was killed");
    } else {
        *crashed = true;
        if (c->overflow)
            err_set(&err, E_OUTPUT_LIMIT, "the response is larger than %zu bytes", c->out.max);
        else if (c->remote)
            err_set(&err, E_INTERNAL,
                    "the worker process ended without a response; please report this");
        else if (WIFSIGNALED(c->wstatus))
            err_set(&err, E_INTERNAL, "the worker process died (signal %d); please report this",
                    WTERMSIG(c->wstatus));
        else
            err_set(&err, E_INTERNAL,
                    "the worker process exited (status %d) without a response; please report this",
                    WIFEXITED(c->wstatus) ? WEXITSTATUS(c->wstatus) : -1);
    }
    return route_error_envelope(NULL, &err, NULL);
}

void srv_child_release(struct srv_child *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->req_fd >= 0)
        close(c->req_fd);
    c->req_fd = -1;
    buf_release(&c->out);
}

long srv_child_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* ---- zygote ------------------------------------------------------------ */

enum { SRV_ZY_ACTION = 1, SRV_ZY_GC = 2, SRV_ZY_SPARE = 3 };

struct srv_zy_hdr {
    uint32_t type;
    uint32_t pad;
    uint64_t len;
};

static bool srv_zy_read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

/* Worker forked by the zygote: never returns. */
static void srv_zy_worker(const struct config *cfg, const sigset_t *mask, int sock, int wfd,
                          const char *text, size_t len)
{
    setpgid(0, 0);
    close(sock);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    route_defer_cleanup();
    bool ok = false;
    json_t *env = route_text(cfg, NULL, text, len, &ok);
    srv_child_leave(env, ok, wfd);
}

static void srv_zy_gc(const struct config *cfg, const sigset_t *mask, int sock)
{
    struct store *st = NULL;
    struct err err;
    size_t removed = 0;
    uint64_t bytes = 0;
    int rc = 1;
    setpgid(0, 0);
    close(sock);
    sigprocmask(SIG_SETMASK, mask, NULL);
    if (!store_open_ex(cfg, STORE_OPEN_NO_SWEEP, &st, &err) &&
        !store_gc(st, &removed, &bytes, NULL, &err)) {
        rc = 0;
        if (removed)
            log_info("sweep removed %zu entries (%llu bytes)", removed, (unsigned long long)bytes);
    } else {
        log_warn("sweep failed: %s", err.msg);
    }
    store_free(st);
    _exit(rc);
}

/* A new process as fork() makes it, but (siblings) a child of the
 * zygote's parent: the raw system call, as the sandbox clones its child
 * (glibc's fork handlers do not run; the child is single-threaded). */
static pid_t srv_zy_fork(bool siblings)
{
    if (!siblings)
        return fork();
    fflush(NULL);
    return (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), NULL, NULL, NULL,
                          NULL);
}

/* The zygote's loop: never returns. */
static void srv_zy_main(const struct config *cfg, const sigset_t *mask, int sock, bool siblings)
{
    srv_child_close_sockets_except(sock);
    /* The caller's stdin and stdout (an MCP client's pipes) are not its. */
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        close(nul);
    }
    prctl(PR_SET_NAME, (unsigned long)SRV_ZYGOTE_NAME, 0UL, 0UL, 0UL);
    /* Siblings: it goes with its parent, whose children its workers are. */
    if (siblings)
        prctl(PR_SET_PDEATHSIG, (long)SIGKILL, 0L, 0L, 0L);
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        struct pollfd p = {.fd = sock, .events = POLLIN};
        int pr = poll(&p, 1, 1000);
        if (pr == 0 || (pr < 0 && errno == EINTR))
            continue;
        struct srv_zy_hdr h;
        int fds[2] = {-1, -1}; /* the result pipe's write end; a spare's request read end */
        char cbuf[CMSG_SPACE(sizeof(fds))];
        struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t r = recvmsg(sock, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC);
        if (r != (ssize_t)sizeof(h))
            break; /* parent gone or closed: stop */
        /* One SCM_RIGHTS message of at most two fds; anything else is
         * closed and refused (the caller is kiln itself). */
        bool bad = (m.msg_flags & MSG_CTRUNC) != 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
            if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                continue;
            size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int got[2];
            memcpy(got, CMSG_DATA(cm), (n < 2 ? n : 2) * sizeof(int));
            for (size_t i = 0; i < n && i < 2; i++) {
                if (fds[i] < 0 && !bad)
                    fds[i] = got[i];
                else
                    close(got[i]);
            }
            if (fds[0] < 0)
                bad = true;
        }
        if (bad)
            h.len = (uint64_t)LIM_REQUEST_BYTES + 1; /* refused below */
        char *text = malloc((size_t)(h.len <= (uint64_t)LIM_REQUEST_BYTES ? h.len + 1 : 1));
        bool got = text && h.len <= (uint64_t)LIM_REQUEST_BYTES &&
                   srv_zy_read_all(sock, text, (size_t)h.len) &&
                   (h.type != SRV_ZY_SPARE || fds[1] >= 0);
        pid_t pid = -1;
        if (got) {
            text[h.len] = '\0';
            pid = srv_zy_fork(siblings);
            if (pid == 0) {
                prctl(PR_SET_NAME, (unsigned long)"kiln", 0UL, 0UL, 0UL);
                if (h.type == SRV_ZY_GC)
                    srv_zy_gc(cfg, mask, sock);
                if (h.type == SRV_ZY_SPARE)
                    srv_child_spare_main(cfg, mask, fds[1], fds[0]);
                srv_zy_worker(cfg, mask, sock, fds[0], text, (size_t)h.len);
            }
            if (pid > 0 && !siblings)
                setpgid(pid, pid);
        }
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        /* Every later worker is a copy of this process: no caller's
         * request may stay behind in its freed memory. */
        if (text && h.len <= (uint64_t)LIM_REQUEST_BYTES)
            explicit_bzero(text, (size_t)h.len + 1);
        free(text);
        int64_t reply = pid;
        if (!got || !fd_write_all(sock, &reply, sizeof(reply)))
            break;
    }
    /* Let running workers finish; they are reaped here. */
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    _exit(0);
}

enum err_code srv_zygote_start(const struct config *cfg, const sigset_t *mask, bool siblings,
                               struct srv_zygote *z, struct err *err)
{
    int sv[2];
    z->pid = -1;
    z->sock = -1;
    z->siblings = siblings;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return err_sys(err, E_SANDBOX, "cannot create the zygote socket");
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return err_sys(err, E_SANDBOX, "cannot fork the zygote");
    }
    if (pid == 0) {
        close(sv[0]);
        srv_zy_main(cfg, mask, sv[1], siblings);
    }
    close(sv[1]);
    z->pid = pid;
    z->sock = sv[0];
    /* The caller goes on writing its heap, which the zygote now shares. */
    srv_own_heap(-1);
    return E_OK;
}

static enum err_code srv_zygote_send(struct srv_zygote *z, uint32_t type, const char *text,
                                     size_t len, int wfd, int rfd, pid_t *out, struct err *err)
{
    struct srv_zy_hdr h = {.type = type, .pad = 0, .len = len};
    int fds[2] = {wfd, rfd};
    size_t nfd = rfd >= 0 ? 2 : wfd >= 0 ? 1 : 0;
    char cbuf[CMSG_SPACE(sizeof(fds))];
    struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    memset(cbuf, 0, sizeof(cbuf));
    if (nfd) {
        m.msg_control = cbuf;
        m.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfd * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfd * sizeof(int));
    }
    int64_t reply = -1;
    if (z->sock < 0)
        return err_set(err, E_SANDBOX, "the worker zygote is gone");
    ssize_t w;
    do {
        w = sendmsg(z->sock, &m, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof(h) || (len && !fd_write_all(z->sock, text, len)) ||
        !srv_zy_read_all(z->sock, &reply, sizeof(reply)) || reply <= 0) {
        close(z->sock);
        z->sock = -1;
        return err_set(err, E_SANDBOX, "the worker zygote is gone; restart the server");
    }
    *out = (pid_t)reply;
    return E_OK;
}

/* A worker (a spare when text is NULL) from the zygote. */
static enum err_code srv_zygote_fork(struct srv_zygote *z, const char *text, size_t len,
                                     size_t out_max, struct srv_child *c, struct err *err)
{
    int p[2], q[2] = {-1, -1};
    pid_t pid = -1;
    memset(c, 0, sizeof(*c));
    c->pid = -1;
    c->fd = -1;
    c->req_fd = -1;
    c->remote = !z->siblings;
    buf_init(&c->out, out_max);
    if (pipe2(p, O_CLOEXEC) != 0)
        return err_sys(err, E_SANDBOX, "cannot create a result pipe");
    if (!text && pipe2(q, O_CLOEXEC) != 0) {
        close(p[0]);
        close(p[1]);
        return err_sys(err, E_SANDBOX, "cannot create a request pipe");
    }
    enum err_code rc =
        srv_zygote_send(z, text ? SRV_ZY_ACTION : SRV_ZY_SPARE, text, len, p[1], q[0], &pid, err);
    close(p[1]);
    if (q[0] >= 0)
        close(q[0]);
    if (rc) {
        close(p[0]);
        if (q[1] >= 0)
            close(q[1]);
        return rc;
    }
    /* Our child: its group is set from here too, so a kill of the group
     * right away cannot miss. */
    if (z->siblings)
        setpgid(pid, pid);
    int fl = fcntl(p[0], F_GETFL);
    if (fl >= 0)
        fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
    c->pid = pid;
    c->fd = p[0];
    c->req_fd = q[1];
    c->started_ms = action_now_ms();
    return E_OK;
}

enum err_code srv_zygote_run(struct srv_zygote *z, const char *text, size_t len, size_t out_max,
                             struct srv_child *c, struct err *err)
{
    return srv_zygote_fork(z, text ? text : "", len, out_max, c, err);
}

enum err_code srv_zygote_run_req(struct srv_zygote *z, json_t *req, size_t out_max,
                                 struct srv_child *c, struct err *err)
{
    char *text = json_dumps(req, JSON_COMPACT);
    if (!text)
        return err_set(err, E_NOMEM, "out of memory");
    enum err_code rc = srv_zygote_run(z, text, strlen(text), out_max, c, err);
    free(text);
    return rc;
}

enum err_code srv_zygote_spare(struct srv_zygote *z, size_t out_max, struct srv_child *c,
                               struct err *err)
{
    return srv_zygote_fork(z, NULL, 0, out_max, c, err);
}

enum err_code srv_zygote_gc(struct srv_zygote *z, struct err *err)
{
    pid_t pid;
    return srv_zygote_send(z, SRV_ZY_GC, NULL, 0, -1, -1, &pid, err);
}

void srv_zygote_stop(struct srv_zygote *z)
{
    if (z->sock >= 0)
        close(z->sock);
    z->sock = -1;
    if (z->pid > 0) {
        while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    z->pid = -1;
}
