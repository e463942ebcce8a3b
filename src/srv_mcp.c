#include "srv_mcp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "buf.h"
#include "klimits.h"
#include "log.h"
#include "reqblob.h"
#include "router.h"
#include "sbx_py.h"
#include "schema.h"
#include "scratch.h"
#include "srv_child.h"
#include "store.h"

#include "banned.h"

/* JSON-RPC and MCP error codes. */
#define MCP_PARSE_ERROR (-32700)
#define MCP_INVALID_REQUEST (-32600)
#define MCP_METHOD_NOT_FOUND (-32601)
#define MCP_INVALID_PARAMS (-32602)
#define MCP_INTERNAL_ERROR (-32603)
#define MCP_RESOURCE_NOT_FOUND (-32002)

#define MCP_URI_PREFIX "kiln://files/"

/* Newest first; the first is what we offer when the client's is unknown. */
static const char *const mcp_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

static const char mcp_instructions[] =
    "kiln runs work on files in a sandbox (no network, time and memory limits). "
    "executeCode runs Python 3 (pandas, numpy, matplotlib) with the input files in its "
    "working directory; processFile runs a built-in operation: analyze (column statistics "
    "and a report), transform (filter/derive/sort/group steps) or parse_excel (every sheet "
    "to CSV/JSON). Give inputs as fileUrl, fileBase64 (+ fileName) or fileId of an earlier "
    "output. Output files come back as resource links kiln://files/{id} (read them with "
    "resources/read; they expire after 10 minutes, 24 h with a session id) and their ids "
    "can be passed on as fileId. structuredContent holds the response envelope {ok, action, "
    "result, files} or {ok:false, error:{code, message}}.";

struct mcp_job {
    struct mcp_job *next;
    json_t *id;       /* the request id (owned) */
    json_t *req;      /* the kiln request (owned) */
    json_t *token;    /* progressToken (owned) or NULL */
    const char *tool; /* action name (static) */
    struct srv_child child;
    bool running;
    bool killed;    /* by the server's own time limit */
    bool cancelled; /* by notifications/cancelled: no response */
    double received_ms;
    double next_tick_ms;
    double last_progress;
};

#define MCP_LEAVING_MAX 64

struct mcp_srv {
    const struct config *cfg;
    const struct srv_mcp_opts *o;
    struct buf in;
    bool discarding; /* skipping the rest of an over-long line */
    bool in_eof;
    bool out_broken;
    bool initialized;
    char version[16];
    struct mcp_job *jobs; /* in arrival order */
    size_t n_running;
    size_t n_queued;
    sigset_t child_mask;
    struct store *store;
    json_t *resources; /* ids of output files, oldest first */
    double stray_until;
    bool sweep_due;
    struct srv_child spare; /* a worker waiting for its request (warm only) */
    bool have_spare;
    struct srv_zygote zy;           /* warm: forks the workers (srv_child.h), pid -1 when none */
    pid_t leaving[MCP_LEAVING_MAX]; /* answered workers still cleaning up, reaped later */
    size_t n_leaving;
};

/* ---- output ---- */

static void mcp_write(struct mcp_srv *s, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text) {
        log_error("mcp: cannot serialise a message (out of memory)");
        return;
    }
    size_t n = strlen(text);
    const char *p = text;
    size_t left = n;
    bool nl = false;
    while (!s->out_broken) {
        if (left == 0) {
            if (nl)
                break;
            p = "\n";
            left = 1;
            nl = true;
        }
        ssize_t w = write(s->o->out_fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warn("mcp: cannot write to the client: %s", strerror(errno));
            s->out_broken = true;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    free(text);
}

static void mcp_reply(struct mcp_srv *s, json_t *id, json_t *result)
{
    json_t *m = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
    if (m)
        mcp_write(s, m);
}

static void mcp_error(struct mcp_srv *s, json_t *id, int code, const char *msg, json_t *data)
{
    json_t *e = json_pack("{s:i, s:s}", "code", code, "message", msg);
    if (e && data)
        json_object_set_new(e, "data", data);
    else
        json_decref(data);
    json_t *m =
        json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", e);
    if (m)
        mcp_write(s, m);
}

static void mcp_progress(struct mcp_srv *s, struct mcp_job *j, bool final, const char *msg)
{
    if (!j->token || j->cancelled)
        return;
    double now = action_now_ms();
    double p = (double)(long)(now - j->received_ms) / 1000.0;
    if (p <= j->last_progress)
        p = j->last_progress + 0.001;
    if (j->last_progress < 0)
        p = 0;
    j->last_progress = p;
    json_t *params =
        json_pack("{s:O, s:f, s:s}", "progressToken", j->token, "progress", p, "message", msg);
    if (params && final)
        json_object_set_new(params, "total", json_real(p));
    json_t *m = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "notifications/progress",
                          "params", params);
    if (m)
        mcp_write(s, m);
}

/* ---- process trees ---- */

struct mcp_proc {
    pid_t pid, ppid, pgid;
};

/* Every process of the system with its parent and group (malloc'd). */
static size_t mcp_procs(struct mcp_proc **out)
{
    size_t n = 0, cap = 0;
    struct mcp_proc *v = NULL;
    DIR *d = opendir("/proc");
    *out = NULL;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        errno = 0;
        long pid = strtol(e->d_name, &end, 10);
        if (errno || end == e->d_name || *end || pid <= 0)
            continue;
        char path[64], line[512];
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, line, sizeof(line) - 1);
        close(fd);
        if (r <= 0)
            continue;
        line[r] = '\0';
        char *rp = strrchr(line, ')');
        long ppid = 0, pgid = 0;
        char state = 0;
        if (!rp || sscanf(rp + 1, " %c %ld %ld", &state, &ppid, &pgid) != 3)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            struct mcp_proc *nv = realloc(v, nc * sizeof(*nv));
            if (!nv)
                break;
            v = nv;
            cap = nc;
        }
        v[n++] = (struct mcp_proc){(pid_t)pid, (pid_t)ppid, (pid_t)pgid};
    }
    closedir(d);
    *out = v;
    return n;
}

/* An answered worker cleans up (its sandbox's exit, its scratch dir) after
 * its answer: reaped later, without blocking the next call. */
static void mcp_leave(struct mcp_srv *s, struct srv_child *c)
{
    if (c->remote || c->pid <= 0 || s->n_leaving == MCP_LEAVING_MAX) {
        srv_child_reap(c, true);
        return;
    }
    s->leaving[s->n_leaving++] = c->pid;
    c->exited = true; /* ours now */
}

/* Reap the leaving workers that are done; with wait, all of them (those
 * still there after LIM_MCP_LEAVE_WAIT_MS are killed: their scratch dirs
 * go with the next sweep). */
static void mcp_reap_leaving(struct mcp_srv *s, bool wait)
{
    double until = action_now_ms() + (double)LIM_MCP_LEAVE_WAIT_MS;
    for (;;) {
        size_t k = 0;
        for (size_t i = 0; i < s->n_leaving; i++) {
            pid_t r;
            do {
                r = waitpid(s->leaving[i], NULL, WNOHANG);
            } while (r < 0 && errno == EINTR);
            if (r == 0)
                s->leaving[k++] = s->leaving[i];
        }
        s->n_leaving = k;
        if (!wait || !k)
            return;
        if (action_now_ms() > until) {
            for (size_t i = 0; i < k; i++) {
                kill(-s->leaving[i], SIGKILL);
                kill(s->leaving[i], SIGKILL);
                while (waitpid(s->leaving[i], NULL, 0) < 0 && errno == EINTR) {
                }
            }
            s->n_leaving = 0;
            s->sweep_due = true;
            return;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* SIGKILL every descendant of root (and their process groups), then root's
 * group. The worker's group is stopped first so that nothing forks while
 * the tree is walked; the sandboxed child leads a group of its own, dies
 * with the worker (parent death signal) and takes its pid namespace along. */
static void mcp_kill_tree(pid_t root)
{
    pid_t self_pgid = getpgrp();
    kill(-root, SIGSTOP);
    for (int pass = 0; pass < 3; pass++) {
        struct mcp_proc *v = NULL;
        size_t n = mcp_procs(&v);
        pid_t *set = calloc(n + 1, sizeof(*set));
        size_t ns = 0;
        if (set) {
            set[ns++] = root;
            for (size_t k = 0; k < ns; k++)
                for (size_t i = 0; i < n; i++)
                    if (v[i].ppid == set[k] && ns <= n)
                        set[ns++] = v[i].pid;
            for (size_t k = 1; k < ns; k++) {
                pid_t pg = 0;
                for (size_t i = 0; i < n; i++)
                    if (v[i].pid == set[k])
                        pg = v[i].pgid;
                if (pg > 1 && pg != self_pgid)
                    kill(-pg, SIGKILL);
                kill(set[k], SIGKILL);
            }
        }
        free(set);
        free(v);
        if (ns <= 1)
            break;
    }
    kill(-root, SIGKILL);
    kill(root, SIGKILL);
}

static bool mcp_is_worker(const struct mcp_srv *s, pid_t pid)
{
    if (s->zy.pid > 0 && s->zy.pid == pid)
        return true;
    if (s->have_spare && s->spare.pid == pid)
        return true;
    for (size_t i = 0; i < s->n_leaving; i++)
        if (s->leaving[i] == pid)
            return true;
    for (const struct mcp_job *j = s->jobs; j; j = j->next)
        if (j->running && j->child.pid == pid && !j->child.exited)
            return true;
    return false;
}

/* Kill and reap orphans handed to us as subreaper (what was left of a
 * killed worker's tree). */
static void mcp_reap_strays(struct mcp_srv *s, bool wait)
{
    pid_t self = getpid();
    for (int pass = 0; pass < (wait ? 50 : 1); pass++) {
        struct mcp_proc *v = NULL;
        size_t n = mcp_procs(&v);
        size_t found = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].ppid != self || mcp_is_worker(s, v[i].pid))
                continue;
            found++;
            if (v[i].pgid > 1 && v[i].pgid != getpgrp())
                kill(-v[i].pgid, SIGKILL);
            kill(v[i].pid, SIGKILL);
            waitpid(v[i].pid, NULL, wait ? 0 : WNOHANG);
        }
        free(v);
        if (!found)
            break;
    }
}

/* ---- jobs ---- */

static void mcp_job_free(struct mcp_job *j)
{
    if (!j)
        return;
    json_decref(j->id);
    json_decref(j->req);
    json_decref(j->token);
    srv_child_release(&j->child);
    free(j);
}

static void mcp_job_unlink(struct mcp_srv *s, struct mcp_job *j)
{
    for (struct mcp_job **pp = &s->jobs; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            j->next = NULL;
            return;
        }
    }
}

static void mcp_job_kill(struct mcp_srv *s, struct mcp_job *j)
{
    if (!j->running || j->child.exited || j->child.pid <= 0)
        return;
    mcp_kill_tree(j->child.pid);
    s->stray_until = action_now_ms() + LIM_MCP_STRAY_CHECK_MS;
    s->sweep_due = true;
}

static void mcp_remember(struct mcp_srv *s, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(s->resources, i, v)
    {
        if (!strcmp(json_string_value(v), id))
            return;
    }
    while (json_array_size(s->resources) >= (size_t)LIM_MCP_RESOURCES)
        json_array_remove(s->resources, 0);
    json_array_append_new(s->resources, json_string(id));
}

static enum err_code mcp_store(struct mcp_srv *s, struct store **out, struct err *err)
{
    if (!s->store) {
        enum err_code rc = store_open(s->cfg, &s->store, err);
        if (rc)
            return rc;
    }
    *out = s->store;
    return E_OK;
}

/* Read a stored file whole (at most max bytes). */
static enum err_code mcp_read_file(struct mcp_srv *s, const char *id, size_t max,
                                   struct store_meta *meta, struct buf *b, struct err *err)
{
    struct store *st;
    int fd = -1;
    enum err_code rc = mcp_store(s, &st, err);
    if (rc)
        return rc;
    if ((rc = store_open_data(st, id, meta, &fd, err)))
        return rc;
    buf_init(b, max);
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_sys(err, E_IO, "cannot read stored file '%s'", id);
            break;
        }
        if (r == 0)
            break;
        if ((rc = buf_append(b, chunk, (size_t)r, err)))
            break;
    }
    close(fd);
    if (rc)
        buf_release(b);
    return rc;
}

static enum err_code mcp_b64(const unsigned char *p, size_t n, struct buf *out, struct err *err)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t need = (n + 2) / 3 * 4;
    buf_init(out, need);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        enum err_code rc = buf_append(out, q, 4, err);
        if (rc) {
            buf_release(out);
            return rc;
        }
    }
    return E_OK;
}

static bool mcp_version_at_least(const struct mcp_srv *s, const char *v)
{
    return strcmp(s->version, v) >= 0;
}

/* The tools/call result for a finished call's envelope (env borrowed). */
static json_t *mcp_call_result(struct mcp_srv *s, json_t *env, bool ok)
{
    json_t *content = json_array();
    char *text = json_dumps(env, JSON_COMPACT);
    json_array_append_new(content,
                          json_pack("{s:s, s:s}", "type", "text", "text", text ? text : "{}"));
    free(text);
    json_t *files = json_object_get(env, "files");
    size_t i, images = 0;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *id = json_string_value(json_object_get(f, "id"));
        const char *mime = json_string_value(json_object_get(f, "mimeType"));
        json_int_t size = json_integer_value(json_object_get(f, "size"));
        if (!id)
            continue;
        mcp_remember(s, id);
        if (!mime || strcmp(mime, "image/png") || size <= 0 || size > LIM_MCP_IMAGE_BYTES ||
            images >= LIM_MCP_IMAGES)
            continue;
        struct store_meta meta;
        struct buf raw, enc;
        struct err err;
        if (mcp_read_file(s, id, (size_t)LIM_MCP_IMAGE_BYTES, &meta, &raw, &err)) {
            log_warn("mcp: cannot inline image '%s': %s", id, err.msg);
            continue;
        }
        if (!mcp_b64((const unsigned char *)raw.data, raw.len, &enc, &err)) {
            json_array_append_new(content, json_pack("{s:s, s:s%, s:s}", "type", "image", "data",
                                                     enc.data ? enc.data : "", enc.len, "mimeType",
                                                     "image/png"));
            images++;
            buf_release(&enc);
        }
        buf_release(&raw);
    }
    /* resource_link content exists from revision 2025-06-18 on. */
    if (mcp_version_at_least(s, "2025-06-18")) {
        json_array_foreach(files, i, f)
        {
            const char *id = json_string_value(json_object_get(f, "id"));
            const char *name = json_string_value(json_object_get(f, "name"));
            const char *mime = json_string_value(json_object_get(f, "mimeType"));
            char uri[sizeof(MCP_URI_PREFIX) + STORE_ID_LEN + 1];
            if (!id || snprintf(uri, sizeof(uri), MCP_URI_PREFIX "%s", id) >= (int)sizeof(uri))
                continue;
            json_t *link = json_pack("{s:s, s:s, s:s}", "type", "resource_link", "uri", uri, "name",
                                     name ? name : id);
            if (!link)
                continue;
            if (mime)
                json_object_set_new(link, "mimeType", json_string(mime));
            json_t *size = json_object_get(f, "size");
            if (json_is_integer(size))
                json_object_set(link, "size", size);
            json_array_append_new(content, link);
        }
    }
    return json_pack("{s:o, s:O, s:b}", "content", content, "structuredContent", env, "isError",
                     !ok);
}

static size_t mcp_out_max(const struct mcp_srv *s)
{
    return (size_t)(s->cfg->return_bytes + 2 * s->cfg->stdio_bytes) * 2 +
           (size_t)LIM_MCP_ENVELOPE_EXTRA;
}

/* The zygote failed us: from now on this process forks its workers. */
static void mcp_zygote_lost(struct mcp_srv *s, const char *why)
{
    log_warn("mcp: %s; forking workers from the server itself", why);
    srv_zygote_stop(&s->zy);
}

/* Warm: keep one worker forked ahead, with its sandbox made and rehearsed,
 * so that a call skips the fork, the sandbox setup and the first-touch
 * copying of the interpreter's pages. Only while no call runs, so that the
 * preparation never competes with one for the CPU. */
static void mcp_spare_ensure(struct mcp_srv *s)
{
    struct err err;
    if (s->have_spare || !s->o->warm || !sbx_py_ready() || s->n_running || s->in_eof)
        return;
    if (s->zy.sock >= 0) {
        if (!srv_zygote_spare(&s->zy, mcp_out_max(s), &s->spare, &err)) {
            s->have_spare = true;
            return;
        }
        mcp_zygote_lost(s, err.msg);
    }
    if (srv_child_spare(s->cfg, &s->child_mask, mcp_out_max(s), &s->spare, &err)) {
        log_warn("mcp: %s", err.msg);
        return;
    }
    s->have_spare = true;
}

/* Let the spare go: without a request it cleans up and exits. */
static void mcp_spare_drop(struct mcp_srv *s)
{
    if (!s->have_spare)
        return;
    s->have_spare = false;
    srv_child_release(&s->spare); /* closes its request pipe */
    pid_t pid = s->spare.pid;
    if (pid > 0 && !s->spare.exited) {
        /* it removes its scratch dir and its sandbox, then exits */
        struct timespec ts = {0, 2 * 1000 * 1000};
        for (int i = 0; i < 1000 && waitpid(pid, NULL, WNOHANG) == 0; i++)
            nanosleep(&ts, NULL);
        if (waitpid(pid, NULL, WNOHANG) == 0) {
            kill(-pid, SIGKILL);
            waitpid(pid, NULL, 0);
            s->sweep_due = true;
        }
    }
}

/* Start j in the spare when there is one; true when it did. */
static bool mcp_job_feed_spare(struct mcp_srv *s, struct mcp_job *j)
{
    struct err err;
    if (!s->have_spare)
        return false;
    s->have_spare = false;
    if (srv_child_reap(&s->spare, false)) {
        /* it died waiting */
        srv_child_release(&s->spare);
        s->sweep_due = true;
        return false;
    }
    char *text = json_dumps(j->req, JSON_COMPACT);
    if (!text || srv_child_feed(&s->spare, text, strlen(text), &err)) {
        free(text);
        if (text)
            log_warn("mcp: %s", err.msg);
        kill(-s->spare.pid, SIGKILL);
        srv_child_reap(&s->spare, true);
        srv_child_release(&s->spare);
        s->sweep_due = true;
        return false;
    }
    free(text);
    j->child = s->spare; /* s->spare is unused until the next srv_child_spare() */
    return true;
}

/* A worker for j: the spare, else one from the zygote, else forked here;
 * false when none could be made (err set). */
static bool mcp_job_worker(struct mcp_srv *s, struct mcp_job *j, struct err *err)
{
    if (mcp_job_feed_spare(s, j))
        return true;
    if (s->zy.sock >= 0) {
        if (!srv_zygote_run_req(&s->zy, j->req, mcp_out_max(s), &j->child, err))
            return true;
        srv_child_release(&j->child);
        mcp_zygote_lost(s, err->msg);
    }
    return !srv_child_start(s->cfg, j->req, &s->child_mask, mcp_out_max(s), &j->child, err);
}

static void mcp_job_start(struct mcp_srv *s, struct mcp_job *j)
{
    struct err err;
    j->running = true;
    s->n_queued--;
    s->n_running++;
    if (!mcp_job_worker(s, j, &err)) {
        /* Answered as a failed call by the reaper: mark as exited. */
        log_error("mcp: %s", err.msg);
        j->child.exited = true;
        j->child.wstatus = 0;
        return;
    }
    mcp_progress(s, j, false, "running");
    j->next_tick_ms = action_now_ms() + LIM_MCP_PROGRESS_MS;
}

static void mcp_job_finish(struct mcp_srv *s, struct mcp_job *j)
{
    s->n_running--;
    if (j->cancelled || j->killed)
        s->sweep_due = true; /* its scratch dir, now that its pid is gone */
    if (j->cancelled) {
        log_info("mcp: call %s cancelled", j->tool);
        return;
    }
    bool ok = false, crashed = false;
    json_t *env = srv_child_envelope(&j->child, j->killed, &ok, &crashed);
    if (!env) {
        mcp_error(s, j->id, MCP_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    if (json_is_null(json_object_get(env, "action")) || !json_object_get(env, "action"))
        json_object_set_new(env, "action", json_string(j->tool));
    if (crashed)
        log_error("mcp: a %s worker ended without a response", j->tool);
    mcp_progress(s, j, true, ok ? "done" : "failed");
    json_t *res = mcp_call_result(s, env, ok);
    json_decref(env);
    if (res)
        mcp_reply(s, j->id, res);
    else
        mcp_error(s, j->id, MCP_INTERNAL_ERROR, "out of memory", NULL);
}

/* ---- methods ---- */

static void mcp_initialize(struct mcp_srv *s, json_t *id, json_t *params)
{
    json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv)) {
        mcp_error(s, id, MCP_INVALID_PARAMS, "initialize needs params.protocolVersion (a string)",
                  NULL);
        return;
    }
    if (s->initialized) {
        mcp_error(s, id, MCP_INVALID_REQUEST, "already initialized", NULL);
        return;
    }
    const char *v = mcp_versions[0];
    for (size_t i = 0; i < sizeof(mcp_versions) / sizeof(mcp_versions[0]); i++)
        if (!strcmp(json_string_value(pv), mcp_versions[i]))
            v = mcp_versions[i];
    snprintf(s->version, sizeof(s->version), "%s", v);
    s->initialized = true;
    json_t *ci = json_object_get(params, "clientInfo");
    const char *cname = json_string_value(json_object_get(ci, "name"));
    const char *cver = json_string_value(json_object_get(ci, "version"));
    log_info("mcp: client %s %s, protocol %s", cname ? cname : "?", cver ? cver : "?", s->version);
    mcp_reply(s, id,
              json_pack("{s:s, s:{s:{s:b}, s:{s:b, s:b}}, s:{s:s, s:s, s:s}, s:s}",
                        "protocolVersion", v, "capabilities", "tools", "listChanged", 0,
                        "resources", "subscribe", 0, "listChanged", 0, "serverInfo", "name", "kiln",
                        "title", "kiln", "version", s->o->version, "instructions",
                        mcp_instructions));
    if (s->o->warm) {
        /* After the reply, so the client's handshake does not wait for it (no
         * call can be running yet). Every worker (and its sandbox) inherits
         * CPython with numpy and pandas imported; a failure only costs speed. */
        struct err perr;
        if (sbx_py_init(true, &perr))
            log_warn("mcp: no warm interpreter (%s); each executeCode starts cold", perr.msg);
        else if (srv_zygote_start(s->cfg, &s->child_mask, true, &s->zy, &perr))
            mcp_zygote_lost(s, perr.msg);
    }
}

static void mcp_tools_call(struct mcp_srv *s, json_t *id, json_t *params)
{
    json_t *name = json_object_get(params, "name");
    if (!json_is_string(name)) {
        mcp_error(s, id, MCP_INVALID_PARAMS, "tools/call needs params.name (a string)", NULL);
        return;
    }
    const struct route_action *ra = schema_find(json_string_value(name));
    if (!ra) {
        char msg[200];
        snprintf(msg, sizeof(msg), "unknown tool '%.100s' (known: executeCode, processFile)",
                 json_string_value(name));
        mcp_error(s, id, MCP_INVALID_PARAMS, msg, NULL);
        return;
    }
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args) && !json_is_null(args)) {
        mcp_error(s, id, MCP_INVALID_PARAMS, "params.arguments must be an object", NULL);
        return;
    }
    json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
    if (token && !json_is_string(token) && !json_is_integer(token))
        token = NULL;
    for (struct mcp_job *o = s->jobs; o; o = o->next) {
        if (json_equal(o->id, id)) {
            mcp_error(s, id, MCP_INVALID_REQUEST, "a request with this id is still running", NULL);
            return;
        }
    }
    if (s->n_queued >= (size_t)LIM_MCP_QUEUE) {
        struct err err;
        err_set(&err, E_LIMIT, "too many tool calls waiting (%ld); retry later",
                (long)LIM_MCP_QUEUE);
        json_t *env = route_error_envelope(ra->name, &err, NULL);
        json_t *res = env ? mcp_call_result(s, env, false) : NULL;
        json_decref(env);
        if (res)
            mcp_reply(s, id, res);
        return;
    }
    struct mcp_job *j = calloc(1, sizeof(*j));
    if (!j) {
        mcp_error(s, id, MCP_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    j->child.pid = -1;
    j->child.fd = -1;
    j->child.req_fd = -1;
    j->id = json_incref(id);
    j->token = token ? json_incref(token) : NULL;
    j->tool = ra->name;
    j->received_ms = action_now_ms();
    j->last_progress = -1;
    j->req = json_pack("{s:s, s:o}", "action", ra->name, "arguments",
                       json_is_object(args) ? json_incref(args) : json_object());
    if (!j->req) {
        mcp_job_free(j);
        mcp_error(s, id, MCP_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    struct mcp_job **pp = &s->jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    s->n_queued++;
    if (s->n_running >= (size_t)s->o->workers)
        mcp_progress(s, j, false, "queued");
}

static void mcp_cancel(struct mcp_srv *s, json_t *params)
{
    json_t *rid = json_object_get(params, "requestId");
    if (!rid)
        return;
    for (struct mcp_job *j = s->jobs; j; j = j->next) {
        if (!json_equal(j->id, rid) || j->cancelled)
            continue;
        j->cancelled = true;
        if (!j->running) {
            mcp_job_unlink(s, j);
            s->n_queued--;
            mcp_job_free(j);
        } else {
            mcp_job_kill(s, j);
        }
        return;
    }
}

static void mcp_resources_list(struct mcp_srv *s, json_t *id)
{
    json_t *list = json_array();
    struct store *st = NULL;
    struct err err;
    size_t i;
    json_t *v;
    if (json_array_size(s->resources) && mcp_store(s, &st, &err))
        log_warn("mcp: cannot open the store: %s", err.msg);
    for (i = json_array_size(s->resources); st && i-- > 0;) {
        v = json_array_get(s->resources, i);
        struct store_meta m;
        if (store_stat(st, json_string_value(v), &m, &err))
            continue;
        char uri[sizeof(MCP_URI_PREFIX) + STORE_ID_LEN + 1];
        snprintf(uri, sizeof(uri), MCP_URI_PREFIX "%s", m.id);
        json_t *r = json_pack("{s:s, s:s, s:s, s:I}", "uri", uri, "name", m.name, "mimeType",
                              m.mime, "size", (json_int_t)m.size);
        if (r)
            json_array_append_new(list, r);
    }
    mcp_reply(s, id, json_pack("{s:o}", "resources", list));
}

static bool mcp_textual(const char *mime, const struct buf *b)
{
    static const char *const text_types[] = {
        "application/json", "application/xml", "application/javascript", "application/x-ndjson",
        "application/csv",  "image/svg+xml",   "application/jsonl"};
    bool t = !strncmp(mime, "text/", 5);
    for (size_t i = 0; !t && i < sizeof(text_types) / sizeof(text_types[0]); i++)
        if (!strncmp(mime, text_types[i], strlen(text_types[i])))
            t = true;
    if (!t)
        return false;
    if (b->len && memchr(b->data, '\0', b->len))
        return false;
    json_t *probe = json_stringn(b->data ? b->data : "", b->len); /* NULL unless UTF-8 */
    bool ok = probe != NULL;
    json_decref(probe);
    return ok;
}

static void mcp_resources_read(struct mcp_srv *s, json_t *id, json_t *params)
{
    json_t *juri = json_object_get(params, "uri");
    if (!json_is_string(juri)) {
        mcp_error(s, id, MCP_INVALID_PARAMS, "resources/read needs params.uri (a string)", NULL);
        return;
    }
    const char *uri = json_string_value(juri);
    if (strncmp(uri, MCP_URI_PREFIX, strlen(MCP_URI_PREFIX))) {
        mcp_error(s, id, MCP_INVALID_PARAMS, "unknown resource URI (expected kiln://files/{id})",
                  json_pack("{s:s}", "uri", uri));
        return;
    }
    const char *fid = uri + strlen(MCP_URI_PREFIX);
    struct store_meta meta;
    struct buf raw, enc;
    struct err err;
    enum err_code rc = mcp_read_file(s, fid, (size_t)s->cfg->output_bytes, &meta, &raw, &err);
    if (rc == E_NOTFOUND) {
        mcp_error(s, id, MCP_RESOURCE_NOT_FOUND, "Resource not found",
                  json_pack("{s:s}", "uri", uri));
        return;
    }
    if (rc) {
        mcp_error(s, id, MCP_INTERNAL_ERROR, err.msg, json_pack("{s:s}", "uri", uri));
        return;
    }
    json_t *c = json_pack("{s:s, s:s}", "uri", uri, "mimeType", meta.mime);
    if (c && mcp_textual(meta.mime, &raw)) {
        json_object_set_new(c, "text", json_stringn(raw.data ? raw.data : "", raw.len));
    } else if (c && !mcp_b64((const unsigned char *)raw.data, raw.len, &enc, &err)) {
        json_object_set_new(c, "blob", json_stringn(enc.data ? enc.data : "", enc.len));
        buf_release(&enc);
    } else {
        json_decref(c);
        c = NULL;
    }
    buf_release(&raw);
    if (!c) {
        mcp_error(s, id, MCP_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    mcp_reply(s, id, json_pack("{s:[o]}", "contents", c));
}

static void mcp_request(struct mcp_srv *s, const char *method, json_t *id, json_t *params)
{
    if (!strcmp(method, "ping")) {
        mcp_reply(s, id, json_object());
        return;
    }
    if (!strcmp(method, "initialize")) {
        mcp_initialize(s, id, params);
        return;
    }
    if (!strcmp(method, "server/discover")) {
        mcp_error(s, id, MCP_METHOD_NOT_FOUND,
                  "method 'server/discover' is not supported; use initialize", NULL);
        return;
    }
    static const char *const known[] = {"tools/list", "tools/call", "resources/list",
                                        "resources/read", "resources/templates/list"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(method, known[i]))
            is_known = true;
    if (!is_known) {
        char msg[160];
        snprintf(msg, sizeof(msg), "method '%.100s' not found", method);
        mcp_error(s, id, MCP_METHOD_NOT_FOUND, msg, NULL);
        return;
    }
    if (!s->initialized) {
        mcp_error(s, id, MCP_INVALID_REQUEST,
                  "the server is not initialized: send 'initialize' first", NULL);
        return;
    }
    if (!strcmp(method, "tools/list")) {
        json_t *tools = schema_tools(SCHEMA_MCP, 0);
        if (tools)
            mcp_reply(s, id, json_pack("{s:o}", "tools", tools));
        else
            mcp_error(s, id, MCP_INTERNAL_ERROR, "out of memory", NULL);
    } else if (!strcmp(method, "tools/call")) {
        mcp_tools_call(s, id, params);
    } else if (!strcmp(method, "resources/list")) {
        mcp_resources_list(s, id);
    } else if (!strcmp(method, "resources/read")) {
        mcp_resources_read(s, id, params);
    } else {
        mcp_reply(s, id,
                  json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "resourceTemplates", "uriTemplate",
                            MCP_URI_PREFIX "{id}", "name", "kiln-file", "title",
                            "A file stored by kiln", "description",
                            "An output file of executeCode or processFile, by the id listed in "
                            "the response's files (expires with its scope)."));
    }
}

static void mcp_message(struct mcp_srv *s, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *m = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!m) {
        char msg[300];
        snprintf(msg, sizeof(msg), "parse error at column %d: %s", jerr.column,
                 reqblob_json_why(&jerr));
        /* JSON all the same, with a key twice (in the arguments: which one
         * is meant?): an invalid request, answered to its id, as kiln run
         * answers INVALID_REQUEST */
        json_t *any = json_loadb(line, len, JSON_DECODE_ANY, NULL);
        json_t *aid = json_object_get(any, "id");
        if (any) {
            snprintf(msg, sizeof(msg), "invalid request at column %d: %s", jerr.column,
                     reqblob_json_why(&jerr));
            mcp_error(s, json_is_string(aid) || json_is_integer(aid) ? aid : NULL,
                      MCP_INVALID_REQUEST, msg, NULL);
        } else
            mcp_error(s, NULL, MCP_PARSE_ERROR, msg, NULL);
        json_decref(any);
        return;
    }
    json_t *id = NULL;
    if (json_is_array(m)) {
        mcp_error(s, NULL, MCP_INVALID_REQUEST, "batches are not supported", NULL);
        goto out;
    }
    if (!json_is_object(m)) {
        mcp_error(s, NULL, MCP_INVALID_REQUEST, "a message must be a JSON object", NULL);
        goto out;
    }
    id = json_object_get(m, "id");
    if (id && !json_is_string(id) && !json_is_integer(id)) {
        mcp_error(s, NULL, MCP_INVALID_REQUEST, "'id' must be a string or an integer", NULL);
        goto out;
    }
    json_t *jv = json_object_get(m, "jsonrpc");
    if (!json_is_string(jv) || strcmp(json_string_value(jv), "2.0")) {
        mcp_error(s, id, MCP_INVALID_REQUEST, "'jsonrpc' must be \"2.0\"", NULL);
        goto out;
    }
    json_t *method = json_object_get(m, "method");
    if (!method) {
        if (id && (json_object_get(m, "result") || json_object_get(m, "error")))
            goto out; /* a response; we send no requests */
        mcp_error(s, id, MCP_INVALID_REQUEST, "missing 'method'", NULL);
        goto out;
    }
    if (!json_is_string(method)) {
        mcp_error(s, id, MCP_INVALID_REQUEST, "'method' must be a string", NULL);
        goto out;
    }
    const char *name = json_string_value(method);
    json_t *params = json_object_get(m, "params");
    if (!id) {
        if (params && !json_is_object(params))
            goto out;
        if (!strcmp(name, "notifications/initialized"))
            log_debug("mcp: client initialized");
        else if (!strcmp(name, "notifications/cancelled"))
            mcp_cancel(s, params);
        goto out;
    }
    if (params && !json_is_object(params)) {
        mcp_error(s, id, MCP_INVALID_PARAMS, "'params' must be an object", NULL);
        goto out;
    }
    mcp_request(s, name, id, params);
out:
    json_decref(m);
}

/* Read what stdin has and handle every complete line. */
static void mcp_read_input(struct mcp_srv *s)
{
    char chunk[65536];
    ssize_t r = read(s->o->in_fd, chunk, sizeof(chunk));
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0) {
        s->in_eof = true;
        if (s->in.len && !s->discarding)
            mcp_message(s, s->in.data, s->in.len);
        buf_reset(&s->in);
        return;
    }
    size_t off = 0;
    while (off < (size_t)r) {
        char *nl = memchr(chunk + off, '\n', (size_t)r - off);
        size_t n = nl ? (size_t)(nl - (chunk + off)) : (size_t)r - off;
        if (!s->discarding && buf_append(&s->in, chunk + off, n, NULL)) {
            s->discarding = true;
            buf_reset(&s->in);
            char msg[128];
            snprintf(msg, sizeof(msg), "message larger than %ld bytes", (long)LIM_MCP_LINE_BYTES);
            mcp_error(s, NULL, MCP_INVALID_REQUEST, msg, NULL);
        }
        off += n;
        if (!nl)
            break;
        off++;
        if (!s->discarding) {
            size_t len = s->in.len;
            while (len && (s->in.data[len - 1] == '\r' || s->in.data[len - 1] == ' ' ||
                           s->in.data[len - 1] == '\t'))
                len--;
            size_t start = 0;
            while (start < len && (s->in.data[start] == ' ' || s->in.data[start] == '\t'))
                start++;
            if (len > start)
                mcp_message(s, s->in.data + start, len - start);
        }
        s->discarding = false;
        if (s->in.cap > LIM_MCP_KEEP_BYTES)
            buf_release(&s->in);
        else
            buf_reset(&s->in);
    }
}

static long mcp_kill_after_ms(const struct config *cfg)
{
    return cfg->wall_ms + cfg->fetch_total_ms + LIM_MCP_KILL_GRACE_MS;
}

/* Start what fits, send progress ticks, enforce the time limit, reap. */
static void mcp_tend(struct mcp_srv *s)
{
    for (struct mcp_job *j = s->jobs; j && s->n_running < (size_t)s->o->workers; j = j->next)
        if (!j->running)
            mcp_job_start(s, j);
    double now = action_now_ms();
    struct mcp_job *j = s->jobs;
    while (j) {
        struct mcp_job *next = j->next;
        if (j->running) {
            srv_child_read(&j->child);
            if (!j->killed && !j->cancelled && !j->child.exited &&
                now - j->child.started_ms > (double)mcp_kill_after_ms(s->cfg)) {
                log_warn("mcp: killing a %s worker that ran %.0f ms", j->tool,
                         now - j->child.started_ms);
                j->killed = true;
                mcp_job_kill(s, j);
            }
            /* Answer as soon as the envelope is whole, then reap: the
             * worker's exit (unmapping its copy of the warm heap) takes
             * milliseconds the client need not wait for. */
            if (srv_child_reap(&j->child, false) ||
                (!j->killed && !j->cancelled && srv_child_done(&j->child))) {
                mcp_job_unlink(s, j);
                mcp_job_finish(s, j);
                if (!j->child.exited)
                    mcp_leave(s, &j->child);
                mcp_job_free(j);
                j = next;
                continue;
            }
        }
        if (j->token && now >= j->next_tick_ms && j->running) {
            mcp_progress(s, j, false, "running");
            j->next_tick_ms = now + LIM_MCP_PROGRESS_MS;
        }
        j = next;
    }
    if (s->stray_until > 0) {
        mcp_reap_strays(s, false);
        if (now > s->stray_until)
            s->stray_until = 0;
    }
    if (s->sweep_due) {
        size_t n = scratch_sweep(s->cfg);
        if (n)
            log_debug("mcp: removed %zu scratch dirs of killed workers", n);
        s->sweep_due = false;
    }
    /* A newly started job may have taken a slot freed above. */
    for (struct mcp_job *k = s->jobs; k && s->n_running < (size_t)s->o->workers; k = k->next)
        if (!k->running)
            mcp_job_start(s, k);
    mcp_reap_leaving(s, false);
    if (s->have_spare && srv_child_reap(&s->spare, false)) {
        log_warn("mcp: the spare worker ended on its own; making another");
        s->have_spare = false;
        srv_child_release(&s->spare);
        s->sweep_due = true;
    }
    mcp_spare_ensure(s);
}

static void mcp_stop_all(struct mcp_srv *s)
{
    mcp_spare_drop(s);
    for (struct mcp_job *j = s->jobs; j; j = j->next) {
        j->cancelled = true;
        mcp_job_kill(s, j);
    }
    while (s->jobs) {
        struct mcp_job *j = s->jobs;
        s->jobs = j->next;
        if (j->running && !j->child.exited)
            srv_child_reap(&j->child, true);
        mcp_job_free(j);
    }
    s->n_running = s->n_queued = 0;
    mcp_reap_leaving(s, true);
    mcp_reap_strays(s, true);
    scratch_sweep(s->cfg);
}

static enum err_code mcp_loop(struct mcp_srv *s, int sfd, struct err *err)
{
    size_t cap = (size_t)s->o->workers + 2;
    struct pollfd *pfd = calloc(cap, sizeof(*pfd));
    if (!pfd)
        return err_set(err, E_NOMEM, "out of memory");
    for (;;) {
        mcp_tend(s);
        if (s->out_broken) {
            mcp_stop_all(s);
            break;
        }
        if (s->in_eof && !s->jobs)
            break;
        size_t np = 0;
        pfd[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        pfd[np++] = (struct pollfd){.fd = s->in_eof ? -1 : s->o->in_fd, .events = POLLIN};
        double now = action_now_ms(), next = now + LIM_MCP_PROGRESS_MS;
        for (struct mcp_job *j = s->jobs; j; j = j->next) {
            if (!j->running)
                continue;
            if (j->child.fd >= 0 && np < cap)
                pfd[np++] = (struct pollfd){.fd = j->child.fd, .events = POLLIN};
            if (j->token && j->next_tick_ms < next)
                next = j->next_tick_ms;
        }
        int timeout = next > now ? (int)(next - now) + 1 : 0;
        if (s->stray_until > 0 && timeout > 200)
            timeout = 200;
        int pr = poll(pfd, np, timeout);
        if (pr < 0 && errno != EINTR) {
            free(pfd);
            return err_sys(err, E_INTERNAL, "poll");
        }
        if (pr > 0 && (pfd[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            bool stop = false;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                if (si.ssi_signo != SIGCHLD)
                    stop = true;
            if (stop) {
                log_info("mcp: signal received; stopping %zu running calls", s->n_running);
                mcp_stop_all(s);
                break;
            }
        }
        if (pr > 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
            mcp_read_input(s);
    }
    free(pfd);
    return E_OK;
}

enum err_code srv_mcp_run(const struct config *cfg, const struct srv_mcp_opts *o, struct err *err)
{
    struct mcp_srv s;
    sigset_t block, old;
    int sfd = -1;
    bool masked = false;
    enum err_code rc = E_OK;
    if (o->workers < 1 || o->workers > LIM_MCP_WORKERS_MAX)
        return err_set(err, E_INVALID, "workers must be 1..%ld", (long)LIM_MCP_WORKERS_MAX);
    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.o = o;
    s.zy.pid = -1;
    s.zy.sock = -1;
    snprintf(s.version, sizeof(s.version), "%s", mcp_versions[0]);
    buf_init(&s.in, (size_t)LIM_MCP_LINE_BYTES);
    s.resources = json_array();
    if (!s.resources) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    /* Orphans of a killed worker's tree come back to us to be killed. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) != 0)
        log_warn("mcp: cannot become a child subreaper: %s", strerror(errno));
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0) {
        rc = err_sys(err, E_INTERNAL, "sigprocmask");
        goto out;
    }
    masked = true;
    s.child_mask = old;
    sigdelset(&s.child_mask, SIGTERM);
    sigdelset(&s.child_mask, SIGINT);
    sigdelset(&s.child_mask, SIGHUP);
    sigdelset(&s.child_mask, SIGCHLD);
    sfd = signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        rc = err_sys(err, E_INTERNAL, "signalfd");
        goto out;
    }
    log_info("mcp: ready (%ld workers, store %s)", o->workers, cfg->store_dir);
    rc = mcp_loop(&s, sfd, err);
    mcp_spare_drop(&s);
    if (s.jobs)
        mcp_stop_all(&s);
    srv_zygote_stop(&s.zy);
    mcp_reap_leaving(&s, true);
    mcp_reap_strays(&s, true);
    if (s.sweep_due)
        scratch_sweep(cfg);
out:
    if (sfd >= 0)
        close(sfd);
    if (masked)
        sigprocmask(SIG_SETMASK, &old, NULL);
    store_free(s.store);
    json_decref(s.resources);
    buf_release(&s.in);
    return rc;
}
