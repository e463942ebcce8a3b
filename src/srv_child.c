#include "srv_child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "router.h"

#include "banned.h"

/* Close every inherited socket except nothing we need (the pipe is no socket). */
static void srv_child_close_sockets(void)
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
        if (errno || end == e->d_name || *end || fd <= 2 || fd == self)
            continue;
        struct stat st;
        if (fstat((int)fd, &st) == 0 && S_ISSOCK(st.st_mode))
            close((int)fd);
    }
    closedir(d);
}

static void srv_child_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* The worker: never returns. */
static void srv_child_main(const struct config *cfg, json_t *req, const sigset_t *mask, int wfd)
{
    sigset_t none;
    setpgid(0, 0);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, mask ? mask : &none, NULL);
    srv_child_close_sockets();
    bool ok = false;
    json_t *env = route_request(cfg, NULL, req, &ok);
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    if (text)
        srv_child_write_all(wfd, text, strlen(text));
    close(wfd);
    _exit(text ? (ok ? 0 : 1) : 3);
}

enum err_code srv_child_start(const struct config *cfg, json_t *req, const sigset_t *mask,
                              size_t out_max, struct srv_child *c, struct err *err)
{
    int p[2];
    memset(c, 0, sizeof(*c));
    c->pid = -1;
    c->fd = -1;
    buf_init(&c->out, out_max);
    if (pipe2(p, O_CLOEXEC) != 0)
        return err_sys(err, E_SANDBOX, "cannot create a result pipe");
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return err_sys(err, E_SANDBOX, "cannot fork a worker");
    }
    if (pid == 0) {
        close(p[0]);
        srv_child_main(cfg, req, mask, p[1]);
    }
    /* Also from the parent, so a kill of the group right away cannot miss. */
    setpgid(pid, pid);
    close(p[1]);
    int fl = fcntl(p[0], F_GETFL);
    if (fl >= 0)
        fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
    c->pid = pid;
    c->fd = p[0];
    c->started_ms = action_now_ms();
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

void srv_child_kill(struct srv_child *c)
{
    if (c->pid > 0 && !c->exited) {
        kill(-c->pid, SIGKILL);
        kill(c->pid, SIGKILL);
    }
}

json_t *srv_child_envelope(struct srv_child *c, bool timed_out, bool *ok, bool *crashed)
{
    struct err err;
    *ok = false;
    *crashed = false;
    if (!timed_out && !c->overflow && c->out.len > 0) {
        json_t *env = json_loadb(c->out.data, c->out.len, 0, NULL);
        if (json_is_object(env)) {
            *ok = json_is_true(json_object_get(env, "ok"));
            return env;
        }
        json_decref(env);
    }
    if (timed_out) {
        err_set(&err, E_TIMEOUT, "the action did not finish in time; its worker was killed");
    } else {
        *crashed = true;
        if (c->overflow)
            err_set(&err, E_OUTPUT_LIMIT, "the response is larger than %zu bytes", c->out.max);
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
    buf_release(&c->out);
}

long srv_child_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}
