#include "srv_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "buf.h"
#include "cli.h"
#include "input.h"
#include "lazylib.h"
#include "log.h"
#include "reqblob.h"
#include "router.h"
#include "sbx_py.h"
#include "scratch.h"
#include "srv_child.h"
#include "store.h"

#include "banned.h"

#define SRV_JSON "application/json"
#define SRV_MHD_THREADS 4U /* HTTP parsing and downloads; actions run in workers */

enum srv_ep { EP_OTHER = 0, EP_ACTIONS, EP_FILE, EP_FILES, EP_HEALTH, EP_METRICS, EP_COUNT_ };

static const char *const srv_ep_names[EP_COUNT_] = {"other", "actions", "file",
                                                    "files", "health",  "metrics"};

/* Action duration histogram bounds, seconds. */
static const double srv_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define SRV_NBUCKETS (sizeof(srv_buckets) / sizeof(srv_buckets[0]))
#define SRV_STATUS_SLOTS 64

struct srv_metrics {
    struct {
        enum srv_ep ep;
        unsigned status;
        uint64_t n;
    } req[SRV_STATUS_SLOTS];
    size_t n_req;
    uint64_t hist[SRV_NBUCKETS + 1];
    double hist_sum;
    uint64_t actions_ok, actions_failed;
    uint64_t sandbox_failures, worker_crashes, rejected;
};

/* One queued or running action. refs: the connection and the dispatcher. */
struct srv_job {
    int refs;
    struct MHD_Connection *conn;
    char *text; /* the request body, until the worker has it */
    size_t text_len;
    struct srv_child child;
    bool started;
    bool done;
    bool killed;
    unsigned status;
    char *body; /* response text (malloc'd) */
    size_t body_len;
    struct srv_job *next;
};

/* One HTTP request (MHD's req_cls). */
struct srv_req {
    enum srv_ep ep;
    char method[16];
    char path[LIM_SERVE_PATH_LOG + 1];
    double t0;
    unsigned status;
    uint64_t bytes;
    bool responded;
    bool too_large;
    size_t received;
    struct buf body;
    struct srv_job *job;
};

struct srv {
    const struct config *cfg;
    const struct srv_http_opts *o;
    struct MHD_Daemon *d;
    pthread_mutex_t lock; /* queue, counts, job->done/refs, metrics */
    struct srv_job *q_head, *q_tail;
    size_t q_len;
    size_t running;
    size_t pending; /* jobs whose connection has not completed yet */
    bool draining;
    int wake_fd;
    sigset_t child_mask;
    struct srv_zygote zy;
    struct srv_metrics m;
};

/* ---- small helpers ---------------------------------------------------- */

/* One line on stderr (access log and lifecycle), written with one write(2). */
static void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void srv_log(const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "kiln serve: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

enum err_code srv_http_parse_listen(const char *s, char *host, size_t host_cap, int *port,
                                    struct err *err)
{
    const char *colon;
    size_t hl;
    const char *h = s;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return err_set(err, E_INVALID, "bad listen address '%.200s' (use [ADDR]:PORT)", s);
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return err_set(err, E_INVALID,
                           "bad listen address '%.200s' (use ADDR:PORT, or [ADDR]:PORT for IPv6)",
                           s);
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= host_cap)
        return err_set(err, E_INVALID, "bad listen address '%.200s': missing or long host", s);
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return err_set(err, E_INVALID, "bad listen port in '%.200s' (0..65535)", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return E_OK;
}

bool srv_http_key_digest(const char *key, size_t n, struct srv_http_key *out)
{
    unsigned int len = 0;
    return n > 0 && EVP_Digest(key, n, out->d, &len, EVP_sha256(), NULL) == 1 &&
           len == SRV_KEY_DIGEST;
}

bool srv_http_key_match(const struct srv_http_key *keys, size_t n_keys, const char *given)
{
    struct srv_http_key g;
    if (!srv_http_key_digest(given, strlen(given), &g))
        return false;
    unsigned match = 0;
    for (size_t k = 0; k < n_keys; k++)
        match |= (unsigned)(CRYPTO_memcmp(keys[k].d, g.d, SRV_KEY_DIGEST) == 0);
    OPENSSL_cleanse(&g, sizeof(g));
    return match != 0;
}

static bool srv_attr_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$&+-.^_`|~", ch));
}

void srv_http_content_disposition(const char *name, char *out, size_t out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    const char *pre = "attachment; filename=\"";
    if (out_len == 0)
        return;
    out[0] = '\0';
#define SRV_PUT(ch)                                                                                \
    do {                                                                                           \
        if (o + 1 < out_len)                                                                       \
            out[o++] = (ch);                                                                       \
    } while (0)
    for (const char *p = pre; *p; p++)
        SRV_PUT(*p);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        unsigned char ch = *p;
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '%')
            ch = '_';
        SRV_PUT((char)ch);
    }
    for (const char *p = "\"; filename*=UTF-8''"; *p; p++)
        SRV_PUT(*p);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        size_t need = srv_attr_char(*p) ? 1 : 3;
        if (o + need >= out_len)
            break; /* truncated: never half an escape */
        if (need == 1) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
#undef SRV_PUT
    out[o] = '\0';
}

static bool srv_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

/* Bind and listen; fills the printable bound address. */
static enum err_code srv_listen(const struct srv_http_opts *o, int *out_fd, char *shown,
                                size_t shown_len, struct err *err)
{
    char host[256], port_s[16];
    int port = 0, fd = -1;
    struct addrinfo hints, *res = NULL;
    enum err_code rc = E_OK;
    if ((rc = srv_http_parse_listen(o->listen, host, sizeof(host), &port, err)))
        return rc;
    snprintf(port_s, sizeof(port_s), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int gr = getaddrinfo(host, port_s, &hints, &res);
    if (gr != 0 || !res)
        return err_set(err, E_INVALID, "cannot resolve listen address '%s': %s", host,
                       gai_strerror(gr));
    if (!srv_is_loopback(res->ai_addr) && o->n_keys == 0) {
        rc = err_set(err, E_INVALID,
                     "refusing to listen on non-loopback address '%s' without an API key "
                     "(give --api-key-file or KILN_API_KEYS)",
                     o->listen);
        goto out;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, res->ai_protocol);
    if (fd < 0) {
        rc = err_sys(err, E_IO, "cannot create a socket for '%s'", o->listen);
        goto out;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        rc = err_sys(err, E_IO, "cannot listen on '%s'", o->listen);
        goto out;
    }
    if (listen(fd, 128) != 0) {
        rc = err_sys(err, E_IO, "cannot listen on '%s'", o->listen);
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[INET6_ADDRSTRLEN] = "?";
    int bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
            bound = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
            bound = ntohs(in6->sin6_port);
        }
    }
    snprintf(shown, shown_len, "%s%s%s:%d", ss.ss_family == AF_INET6 ? "[" : "", addr,
             ss.ss_family == AF_INET6 ? "]" : "", bound);
    *out_fd = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

/* ---- metrics ------------------------------------------------------------ */

/* Under s->lock. */
static void srv_metric_request(struct srv *s, enum srv_ep ep, unsigned status)
{
    struct srv_metrics *m = &s->m;
    for (size_t i = 0; i < m->n_req; i++) {
        if (m->req[i].ep == ep && m->req[i].status == status) {
            m->req[i].n++;
            return;
        }
    }
    if (m->n_req < SRV_STATUS_SLOTS) {
        m->req[m->n_req].ep = ep;
        m->req[m->n_req].status = status;
        m->req[m->n_req].n = 1;
        m->n_req++;
    }
}

/* Under s->lock. */
static void srv_metric_action(struct srv *s, double secs, bool ok, bool sandbox_failed,
                              bool crashed)
{
    struct srv_metrics *m = &s->m;
    size_t b = 0;
    while (b < SRV_NBUCKETS && secs > srv_buckets[b])
        b++;
    m->hist[b]++;
    m->hist_sum += secs;
    if (ok)
        m->actions_ok++;
    else
        m->actions_failed++;
    if (sandbox_failed)
        m->sandbox_failures++;
    if (crashed)
        m->worker_crashes++;
}

static char *srv_metrics_text(struct srv *s, size_t *len)
{
    struct buf b;
    buf_init(&b, 1024 * 1024);
    pthread_mutex_lock(&s->lock);
    struct srv_metrics m = s->m;
    size_t running = s->running, queued = s->q_len;
    pthread_mutex_unlock(&s->lock);
    buf_printf(&b, NULL,
               "# HELP kiln_http_requests_total HTTP requests by endpoint and status.\n"
               "# TYPE kiln_http_requests_total counter\n");
    for (size_t i = 0; i < m.n_req; i++)
        buf_printf(&b, NULL, "kiln_http_requests_total{endpoint=\"%s\",code=\"%u\"} %llu\n",
                   srv_ep_names[m.req[i].ep], m.req[i].status, (unsigned long long)m.req[i].n);
    buf_printf(&b, NULL,
               "# HELP kiln_action_duration_seconds Wall time of actions run by workers.\n"
               "# TYPE kiln_action_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < SRV_NBUCKETS; i++) {
        cum += m.hist[i];
        buf_printf(&b, NULL, "kiln_action_duration_seconds_bucket{le=\"%g\"} %llu\n",
                   srv_buckets[i], (unsigned long long)cum);
    }
    cum += m.hist[SRV_NBUCKETS];
    buf_printf(&b, NULL,
               "kiln_action_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
               "kiln_action_duration_seconds_sum %.6f\n"
               "kiln_action_duration_seconds_count %llu\n",
               (unsigned long long)cum, m.hist_sum, (unsigned long long)cum);
    buf_printf(&b, NULL,
               "# HELP kiln_actions_total Actions by outcome.\n"
               "# TYPE kiln_actions_total counter\n"
               "kiln_actions_total{result=\"ok\"} %llu\n"
               "kiln_actions_total{result=\"failed\"} %llu\n"
               "# HELP kiln_actions_in_flight Actions running in workers now.\n"
               "# TYPE kiln_actions_in_flight gauge\n"
               "kiln_actions_in_flight %zu\n"
               "# HELP kiln_queue_depth Accepted actions waiting for a worker.\n"
               "# TYPE kiln_queue_depth gauge\n"
               "kiln_queue_depth %zu\n"
               "# HELP kiln_sandbox_failures_total Actions that ended in SANDBOX_ERROR or a "
               "dead worker.\n"
               "# TYPE kiln_sandbox_failures_total counter\n"
               "kiln_sandbox_failures_total %llu\n"
               "# HELP kiln_worker_crashes_total Workers that died without a response.\n"
               "# TYPE kiln_worker_crashes_total counter\n"
               "kiln_worker_crashes_total %llu\n"
               "# HELP kiln_rejected_total Actions refused with 503 (queue full or draining).\n"
               "# TYPE kiln_rejected_total counter\n"
               "kiln_rejected_total %llu\n",
               (unsigned long long)m.actions_ok, (unsigned long long)m.actions_failed, running,
               queued, (unsigned long long)m.sandbox_failures, (unsigned long long)m.worker_crashes,
               (unsigned long long)m.rejected);
    return buf_take(&b, len);
}

/* ---- responses ------------------------------------------------------------ */

static void srv_job_unref(struct srv *s, struct srv_job *j)
{
    bool last;
    pthread_mutex_lock(&s->lock);
    last = --j->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (!last)
        return;
    free(j->text);
    srv_child_release(&j->child);
    free(j->body);
    free(j);
}

/* Queue text (takes ownership of the malloc'd text) with a content type. */
static enum MHD_Result srv_send(struct MHD_Connection *c, struct srv_req *r, unsigned status,
                                char *text, size_t len, const char *ctype, const char *hname,
                                const char *hval)
{
    struct MHD_Response *resp = lz_mhd.create_response_from_buffer(
        len, text ? text : (char *)"", text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (ctype)
        lz_mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (hname)
        lz_mhd.add_response_header(resp, hname, hval);
    lz_mhd.add_response_header(resp, "Cache-Control", "no-store");
    lz_mhd.add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = lz_mhd.queue_response(c, status, resp);
    lz_mhd.destroy_response(resp);
    r->status = status;
    r->bytes = len;
    r->responded = true;
    return ret;
}

static enum MHD_Result srv_send_json(struct MHD_Connection *c, struct srv_req *r, unsigned status,
                                     json_t *v, const char *hname, const char *hval)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    /* A trailing newline keeps curl output readable; JSON parsers ignore it. */
    char *t2 = realloc(text, len + 2);
    if (t2) {
        t2[len++] = '\n';
        t2[len] = '\0';
        text = t2;
    }
    return srv_send(c, r, status, text, len, SRV_JSON, hname, hval);
}

/* An HTTP-level error: {"ok":false,"action":null,"error":{"code","message"}}. */
/* An error envelope of the server's own (no action ran), new reference. */
static json_t *srv_error_env(const char *code, const char *msg)
{
    return json_pack("{s:b, s:n, s:{s:s, s:s}}", "ok", 0, "action", "error", "code", code,
                     "message", msg);
}

static enum MHD_Result srv_send_error(struct MHD_Connection *c, struct srv_req *r, unsigned status,
                                      const char *code, const char *msg, const char *hname,
                                      const char *hval)
{
    return srv_send_json(c, r, status, srv_error_env(code, msg), hname, hval);
}

/* ---- request handling ------------------------------------------------------ */

static enum srv_ep srv_classify(const char *url)
{
    if (!strcmp(url, "/v1/actions"))
        return EP_ACTIONS;
    if (!strcmp(url, "/v1/files") || !strcmp(url, "/v1/files/"))
        return EP_FILES;
    if (!strncmp(url, "/v1/files/", 10) && !strchr(url + 10, '/'))
        return EP_FILE;
    if (!strcmp(url, "/health"))
        return EP_HEALTH;
    if (!strcmp(url, "/metrics"))
        return EP_METRICS;
    return EP_OTHER;
}

static bool srv_authorized(struct srv *s, struct MHD_Connection *c)
{
    const char *v =
        lz_mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *key = NULL;
    if (s->o->n_keys == 0)
        return true;
    if (v && !strncasecmp(v, "Bearer ", 7)) {
        key = v + 7;
        while (*key == ' ')
            key++;
    }
    if (!key)
        key = lz_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "X-Api-Key");
    if (!key)
        return false;
    return srv_http_key_match(s->o->keys, s->o->n_keys, key);
}

static bool srv_json_ctype(struct MHD_Connection *c)
{
    const char *ct =
        lz_mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || !*ct)
        return true;
    size_t n = strcspn(ct, "; \t");
    return n == 16 && !strncasecmp(ct, SRV_JSON, 16);
}

static enum MHD_Result srv_health(struct srv *s, struct MHD_Connection *c, struct srv_req *r)
{
    pthread_mutex_lock(&s->lock);
    size_t running = s->running, queued = s->q_len;
    bool draining = s->draining;
    pthread_mutex_unlock(&s->lock);
    json_t *v = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:b}", "status",
                          draining ? "draining" : "ok", "version", cli_version(), "workers",
                          (json_int_t)s->o->workers, "queue", (json_int_t)s->o->queue, "inFlight",
                          (json_int_t)running, "queued", (json_int_t)queued, "draining", draining,
                          "warm", sbx_py_ready());
    return srv_send_json(c, r, draining ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, v, NULL,
                         NULL);
}

static enum MHD_Result srv_store_error(struct MHD_Connection *c, struct srv_req *r,
                                       const struct err *err)
{
    if (err->code == E_NOTFOUND)
        return srv_send_error(c, r, MHD_HTTP_NOT_FOUND, "NOT_FOUND", err->msg, NULL, NULL);
    if (err->code == E_INVALID)
        return srv_send_error(c, r, MHD_HTTP_BAD_REQUEST, "INVALID_REQUEST", err->msg, NULL, NULL);
    log_error("serve: store: %s", err->msg);
    return srv_send_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL", err->msg, NULL, NULL);
}

static enum MHD_Result srv_file(struct srv *s, struct MHD_Connection *c, struct srv_req *r,
                                const char *id, bool del)
{
    struct store *st = NULL;
    struct store_meta m;
    struct err err;
    int fd = -1;
    enum MHD_Result ret;
    if (store_open_ex(s->cfg, STORE_OPEN_NO_SWEEP, &st, &err))
        return srv_store_error(c, r, &err);
    if (del) {
        if (store_rm(st, id, &err)) {
            ret = srv_store_error(c, r, &err);
        } else {
            ret = srv_send(c, r, MHD_HTTP_NO_CONTENT, NULL, 0, NULL, NULL, NULL);
        }
        goto out;
    }
    if (store_open_data(st, id, &m, &fd, &err)) {
        ret = srv_store_error(c, r, &err);
        goto out;
    }
    struct MHD_Response *resp = lz_mhd.create_response_from_fd64(m.size, fd);
    if (!resp) {
        close(fd);
        ret = MHD_NO;
        goto out;
    }
    char cd[LIM_FILE_NAME_LEN * 4 + 128], len_s[32];
    srv_http_content_disposition(m.name, cd, sizeof(cd));
    lz_mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, m.mime);
    lz_mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, cd);
    lz_mhd.add_response_header(resp, "X-Content-Type-Options", "nosniff");
    lz_mhd.add_response_header(resp, "X-Kiln-Sha256", m.sha256);
    snprintf(len_s, sizeof(len_s), "%lld", (long long)m.expires);
    lz_mhd.add_response_header(resp, "X-Kiln-Expires", len_s);
    ret = lz_mhd.queue_response(c, MHD_HTTP_OK, resp);
    lz_mhd.destroy_response(resp);
    r->status = MHD_HTTP_OK;
    r->bytes = m.size;
    r->responded = true;
out:
    store_free(st);
    return ret;
}

/* The first query argument of a file listing that is not 'session'. */
static enum MHD_Result srv_list_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    const char **bad = cls;
    if (strcmp(key, "session")) {
        *bad = key;
        return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result srv_files_list(struct srv *s, struct MHD_Connection *c, struct srv_req *r)
{
    struct store *st = NULL;
    struct store_meta *v = NULL;
    size_t n = 0;
    struct err err;
    /* A typo ('sesion=s1') or a bad id listed every file of the store. */
    const char *bad = NULL;
    lz_mhd.get_connection_values(c, MHD_GET_ARGUMENT_KIND, srv_list_arg, &bad);
    if (bad) {
        err_set(&err, E_INVALID, "unknown query argument '%.60s' (the one known: session)", bad);
        return srv_send_json(c, r, MHD_HTTP_BAD_REQUEST, route_error_envelope(NULL, &err, NULL),
                             NULL, NULL);
    }
    const char *session = lz_mhd.lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "session");
    if (session && input_check_session(session, &err)) {
        err_wrap(&err, "session");
        return srv_send_json(c, r, MHD_HTTP_BAD_REQUEST, route_error_envelope(NULL, &err, NULL),
                             NULL, NULL);
    }
    if (store_open_ex(s->cfg, STORE_OPEN_NO_SWEEP, &st, &err) ||
        store_list(st, session, &v, &n, &err)) {
        store_free(st);
        return srv_store_error(c, r, &err);
    }
    store_free(st);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, store_meta_json(&v[i]));
    free(v);
    return srv_send_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "files", arr), NULL, NULL);
}

/* Wake the dispatcher. */
static void srv_wake(struct srv *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->wake_fd, &one, sizeof(one));
    (void)w;
}

/* The body is complete: parse, then queue the action or answer at once. */
static enum MHD_Result srv_action_submit(struct srv *s, struct MHD_Connection *c, struct srv_req *r)
{
    char retry[16];
    /* Parsed here only to answer malformed JSON with 400; the worker parses
     * the text again (route_text). */
    const char *body = r->body.data ? r->body.data : "";
    struct err err;
    json_t *req = reqblob_parse(body, r->body.len, &err); /* big fileBase64 values skipped */
    reqblob_clear();
    if (!req) {
        buf_release(&r->body);
        return srv_send_json(c, r, MHD_HTTP_BAD_REQUEST, route_error_envelope(NULL, &err, NULL),
                             NULL, NULL);
    }
    json_decref(req);
    struct srv_job *j = calloc(1, sizeof(*j));
    if (!j) {
        buf_release(&r->body);
        return MHD_NO;
    }
    j->text = buf_take(&r->body, &j->text_len);
    j->conn = c;
    j->refs = 2;
    j->child.pid = -1;
    j->child.fd = -1;
    j->child.req_fd = -1;
    snprintf(retry, sizeof(retry), "%d", LIM_SERVE_RETRY_AFTER_S);
    pthread_mutex_lock(&s->lock);
    bool draining = s->draining;
    bool full = s->running + s->q_len >= (size_t)(s->o->workers + s->o->queue);
    if (draining || full) {
        s->m.rejected++;
        pthread_mutex_unlock(&s->lock);
        free(j->text);
        free(j);
        return srv_send_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "BUSY",
                              draining ? "the server is shutting down"
                                       : "all workers are busy and the queue is full; retry later",
                              draining ? MHD_HTTP_HEADER_CONNECTION : MHD_HTTP_HEADER_RETRY_AFTER,
                              draining ? "close" : retry);
    }
    if (s->q_tail)
        s->q_tail->next = j;
    else
        s->q_head = j;
    s->q_tail = j;
    s->q_len++;
    s->pending++;
    r->job = j;
    lz_mhd.suspend_connection(c);
    pthread_mutex_unlock(&s->lock);
    srv_wake(s);
    return MHD_YES;
}

/* Called again after the dispatcher resumed the connection. */
static enum MHD_Result srv_action_reply(struct MHD_Connection *c, struct srv_req *r)
{
    struct srv_job *j = r->job;
    char *text = j->body;
    size_t len = j->body_len;
    j->body = NULL;
    if (!text)
        return MHD_NO;
    return srv_send(c, r, j->status, text, len, SRV_JSON, NULL, NULL);
}

/* First call for a request: headers only. Answers at once or returns YES to read on. */
static enum MHD_Result srv_begin(struct srv *s, struct MHD_Connection *c, struct srv_req *r,
                                 const char *url, const char *method)
{
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    switch (r->ep) {
    case EP_HEALTH:
        if (!get)
            return srv_send_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
                                  "use GET", MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return srv_health(s, c, r);
    case EP_OTHER:
        return srv_send_error(c, r, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such endpoint", NULL,
                              NULL);
    default:
        break;
    }
    if (!(r->ep == EP_METRICS && s->o->metrics_public) && !srv_authorized(s, c))
        return srv_send_error(c, r, MHD_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
                              "missing or wrong API key (Authorization: Bearer KEY or X-Api-Key)",
                              MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"kiln\"");
    switch (r->ep) {
    case EP_METRICS: {
        if (!get)
            return srv_send_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
                                  "use GET", MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        size_t len = 0;
        char *text = srv_metrics_text(s, &len);
        return srv_send(c, r, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4", NULL, NULL);
    }
    case EP_FILES:
        if (!get)
            return srv_send_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
                                  "use GET", MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return srv_files_list(s, c, r);
    case EP_FILE:
        if (!get && strcmp(method, "DELETE"))
            return srv_send_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
                                  "use GET or DELETE", MHD_HTTP_HEADER_ALLOW, "GET, HEAD, DELETE");
        return srv_file(s, c, r, url + 10, !get);
    case EP_ACTIONS: {
        if (strcmp(method, "POST"))
            return srv_send_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
                                  "use POST", MHD_HTTP_HEADER_ALLOW, "POST");
        if (!srv_json_ctype(c))
            return srv_send_error(c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE",
                                  "the request body must be application/json", NULL, NULL);
        const char *cl =
            lz_mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (!errno && end != cl && n > s->o->max_request_bytes) {
                r->too_large = true;
                char msg[128];
                snprintf(msg, sizeof(msg), "the request body is larger than %zu bytes",
                         s->o->max_request_bytes);
                return srv_send_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "REQUEST_TOO_LARGE", msg,
                                      MHD_HTTP_HEADER_CONNECTION, "close");
            }
        }
        buf_init(&r->body, s->o->max_request_bytes);
        return MHD_YES;
    }
    default:
        return MHD_NO;
    }
}

static enum MHD_Result srv_ah(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    struct srv *s = cls;
    struct srv_req *r = *req_cls;
    (void)version;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->t0 = action_now_ms();
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->path, sizeof(r->path), "%s", url);
        r->ep = srv_classify(url);
        *req_cls = r;
        return srv_begin(s, c, r, url, method);
    }
    if (r->job)
        return srv_action_reply(c, r);
    if (r->responded) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        r->received += *upload_size;
        if (!r->too_large && buf_append(&r->body, upload, *upload_size, NULL)) {
            r->too_large = true;
            buf_release(&r->body);
        }
        *upload_size = 0;
        /* libmicrohttpd 0.9 cannot answer mid-upload: a chunked body past the
         * cap is read (and dropped) a little further so that a 413 can be
         * sent at its end, and the connection is cut beyond that. */
        if (r->too_large && r->received > s->o->max_request_bytes + LIM_SERVE_DISCARD_BYTES) {
            r->status = MHD_HTTP_CONTENT_TOO_LARGE;
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (r->too_large) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the request body is larger than %zu bytes",
                 s->o->max_request_bytes);
        return srv_send_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "REQUEST_TOO_LARGE", msg,
                              MHD_HTTP_HEADER_CONNECTION, "close");
    }
    return srv_action_submit(s, c, r);
}

static void srv_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct srv *s = cls;
    struct srv_req *r = *req_cls;
    (void)c;
    if (!r)
        return;
    double ms = action_now_ms() - r->t0;
    pthread_mutex_lock(&s->lock);
    if (r->status)
        srv_metric_request(s, r->ep, r->status);
    if (r->job)
        s->pending--;
    pthread_mutex_unlock(&s->lock);
    /* The path never carries the query string (which may hold secrets). */
    srv_log("%s %s %u %llu %.1fms%s", r->method, r->path, r->status, (unsigned long long)r->bytes,
            ms, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    if (r->job)
        srv_job_unref(s, r->job);
    buf_release(&r->body);
    free(r);
    *req_cls = NULL;
}

/* ---- dispatcher -------------------------------------------------------------- */

/* Finish a job whose worker has exited: build the response and resume. */
static void srv_job_finish(struct srv *s, struct srv_job *j)
{
    bool ok = false, crashed = false;
    double secs = (action_now_ms() - j->child.started_ms) / 1000.0;
    json_t *env = srv_child_envelope(&j->child, j->killed, &ok, &crashed);
    json_t *err = json_object_get(env, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    bool sbx = crashed || (code && !strcmp(code, "SANDBOX_ERROR"));
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (text) {
        size_t len = strlen(text);
        char *t2 = realloc(text, len + 2);
        if (t2) {
            t2[len++] = '\n';
            t2[len] = '\0';
            text = t2;
        }
        j->body_len = len;
    }
    j->body = text;
    j->status = crashed ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_OK;
    srv_child_release(&j->child);
    pthread_mutex_lock(&s->lock);
    srv_metric_action(s, secs, ok, sbx, crashed);
    s->running--;
    j->done = true;
    pthread_mutex_unlock(&s->lock);
    lz_mhd.resume_connection(j->conn);
    srv_job_unref(s, j);
}

/* Answer a job that was not run with env (taken), status 503. */
static void srv_job_fail_env(struct srv *s, struct srv_job *j, json_t *env)
{
    j->body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    j->body_len = j->body ? strlen(j->body) : 0;
    json_decref(env);
    j->status = MHD_HTTP_SERVICE_UNAVAILABLE;
    pthread_mutex_lock(&s->lock);
    s->running--;
    j->done = true;
    pthread_mutex_unlock(&s->lock);
    lz_mhd.resume_connection(j->conn);
    srv_job_unref(s, j);
}

/* A job that could not start: answer with the error. */
static void srv_job_fail_start(struct srv *s, struct srv_job *j, const struct err *e)
{
    srv_job_fail_env(s, j, route_error_envelope(NULL, e, NULL));
}

static long srv_kill_after_ms(const struct config *cfg)
{
    return cfg->wall_ms + cfg->fetch_total_ms + LIM_SERVE_KILL_GRACE_MS;
}

static enum err_code srv_dispatch(struct srv *s, int sfd, int listen_fd, struct err *err)
{
    size_t nw = (size_t)s->o->workers;
    struct srv_job **run = calloc(nw, sizeof(*run));
    struct pollfd *pfd = calloc(nw + 2, sizeof(*pfd));
    double next_gc = action_now_ms() + LIM_SERVE_GC_INTERVAL_S * 1000.0;
    double drain_deadline = 0;
    bool hard_stop = false;
    enum err_code rc = E_OK;
    /* Warm and idle: a spare worker from the zygote, its sandbox made and
     * rehearsed, takes the next request (as kiln mcp's standby does). */
    struct srv_child spare;
    bool have_spare = false, spare_warned = false;
    /* Answered workers still cleaning up hold their slot until their pipe
     * closes (so --workers bounds the cleanups too). */
    struct srv_child *leaving = calloc(nw, sizeof(*leaving));
    bool *is_leaving = calloc(nw, sizeof(*is_leaving));
    if (!run || !pfd || !leaving || !is_leaving) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        /* Start queued jobs while there is a free worker slot. */
        for (size_t i = 0; i < nw && !hard_stop; i++) {
            if (run[i] || is_leaving[i])
                continue;
            pthread_mutex_lock(&s->lock);
            struct srv_job *j = s->q_head;
            if (j) {
                s->q_head = j->next;
                if (!s->q_head)
                    s->q_tail = NULL;
                s->q_len--;
                s->running++;
            }
            pthread_mutex_unlock(&s->lock);
            if (!j)
                break;
            struct err e2;
            if (have_spare) {
                have_spare = false;
                if (!srv_child_reap(&spare, false) &&
                    !srv_child_feed(&spare, j->text ? j->text : "", j->text_len, &e2)) {
                    j->child = spare;
                    j->started = true;
                    free(j->text);
                    j->text = NULL;
                    run[i] = j;
                    continue;
                }
                srv_child_kill(&spare); /* died waiting, or would not take it */
                srv_child_release(&spare);
            }
            if (srv_zygote_run(&s->zy, j->text ? j->text : "", j->text_len,
                               (size_t)LIM_BATCH_OUTPUT_BYTES, &j->child, &e2)) {
                log_error("serve: %s", e2.msg);
                srv_job_fail_start(s, j, &e2);
                continue;
            }
            j->started = true;
            free(j->text);
            j->text = NULL;
            run[i] = j;
        }
        pthread_mutex_lock(&s->lock);
        bool draining = s->draining;
        size_t queued = s->q_len;
        pthread_mutex_unlock(&s->lock);
        size_t nrun = 0;
        for (size_t i = 0; i < nw; i++)
            nrun += run[i] != NULL || is_leaving[i];
        if (draining && nrun == 0 && (queued == 0 || hard_stop))
            break;
        if (have_spare && (draining || srv_child_reap(&spare, false))) {
            srv_child_release(&spare); /* without a request it cleans up and exits */
            have_spare = false;
        }
        if (!have_spare && !draining && nrun == 0 && queued == 0 && sbx_py_ready()) {
            struct err e2;
            if (!srv_zygote_spare(&s->zy, (size_t)LIM_BATCH_OUTPUT_BYTES, &spare, &e2)) {
                have_spare = true;
                spare_warned = false;
            } else if (!spare_warned) {
                log_warn("serve: no spare worker: %s", e2.msg);
                spare_warned = true;
            }
        }

        size_t np = 0;
        pfd[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        pfd[np++] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
        for (size_t i = 0; i < nw; i++) {
            if (run[i] && run[i]->child.fd >= 0)
                pfd[np++] = (struct pollfd){.fd = run[i]->child.fd, .events = POLLIN};
            else if (is_leaving[i] && leaving[i].fd >= 0)
                pfd[np++] = (struct pollfd){.fd = leaving[i].fd, .events = POLLIN};
        }
        double now = action_now_ms();
        long timeout = 1000;
        if (!draining && next_gc - now < (double)timeout)
            timeout = next_gc > now ? (long)(next_gc - now) + 1 : 0;
        int pr = poll(pfd, np, (int)timeout);
        if (pr < 0 && errno != EINTR) {
            rc = err_sys(err, E_IO, "poll");
            break;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGCHLD)
                    continue;
                if (!draining) {
                    srv_log("%s: no new connections; finishing %zu running and "
                            "%zu queued actions",
                            strsignal((int)si.ssi_signo), nrun, queued);
                    pthread_mutex_lock(&s->lock);
                    s->draining = true;
                    pthread_mutex_unlock(&s->lock);
                    draining = true;
                    MHD_socket lfd = lz_mhd.quiesce_daemon(s->d);
                    if (lfd != MHD_INVALID_SOCKET)
                        close(lfd);
                    else if (listen_fd >= 0)
                        shutdown(listen_fd, SHUT_RDWR);
                    drain_deadline = action_now_ms() + (double)srv_kill_after_ms(s->cfg);
                } else if (!hard_stop) {
                    srv_log("second signal: stopping running actions now");
                    hard_stop = true;
                    for (size_t i = 0; i < nw; i++)
                        if (run[i]) {
                            run[i]->killed = true;
                            srv_child_kill(&run[i]->child);
                        }
                }
            }
        }
        if (pfd[1].revents & POLLIN) {
            uint64_t v;
            ssize_t rr = read(s->wake_fd, &v, sizeof(v));
            (void)rr;
        }
        now = action_now_ms();
        for (size_t i = 0; i < nw; i++) {
            struct srv_job *j = run[i];
            if (!j)
                continue;
            srv_child_read(&j->child);
            if (!j->killed && (now - j->child.started_ms > (double)srv_kill_after_ms(s->cfg) ||
                               (draining && drain_deadline && now > drain_deadline))) {
                log_warn("serve: killing a worker that ran %.0f ms", now - j->child.started_ms);
                j->killed = true;
                srv_child_kill(&j->child);
            }
            if (srv_child_reap(&j->child, false)) {
                run[i] = NULL;
                srv_job_finish(s, j);
            } else if (!j->killed && srv_child_done(&j->child)) {
                /* answered; the worker cleans up in its slot */
                srv_child_hand_over(&j->child, &leaving[i]);
                is_leaving[i] = true;
                run[i] = NULL;
                srv_job_finish(s, j);
            }
        }
        for (size_t i = 0; i < nw; i++)
            if (is_leaving[i] && srv_child_reap(&leaving[i], false)) {
                srv_child_release(&leaving[i]);
                is_leaving[i] = false;
            }
        if (!draining && now >= next_gc) {
            struct err e2;
            if (srv_zygote_gc(&s->zy, &e2))
                log_warn("serve: sweep: %s", e2.msg);
            next_gc = now + LIM_SERVE_GC_INTERVAL_S * 1000.0;
        }
    }
    /* Answer what is still queued (only after a second signal). */
    for (;;) {
        pthread_mutex_lock(&s->lock);
        struct srv_job *j = s->q_head;
        if (j) {
            s->q_head = j->next;
            if (!s->q_head)
                s->q_tail = NULL;
            s->q_len--;
            s->running++;
        }
        pthread_mutex_unlock(&s->lock);
        if (!j)
            break;
        /* BUSY, as a request that comes while the server drains (it read
         * SANDBOX_ERROR: nothing failed in a sandbox) */
        srv_job_fail_env(
            s, j, srv_error_env("BUSY", "the server is shutting down; the action was not run"));
    }
out:
    if (have_spare)
        srv_child_release(&spare);
    for (size_t i = 0; is_leaving && i < nw; i++)
        if (is_leaving[i])
            srv_child_release(&leaving[i]);
    free(leaving);
    free(is_leaving);
    free(run);
    free(pfd);
    return rc;
}

enum err_code srv_http_run(const struct config *cfg, const struct srv_http_opts *o, struct err *err)
{
    struct srv s;
    int listen_fd = -1, sfd = -1;
    char shown[INET6_ADDRSTRLEN + 16];
    enum err_code rc = E_OK;
    sigset_t block, old;
    bool masked = false, locked = false;
    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.o = o;
    s.wake_fd = -1;
    s.zy.pid = -1;
    s.zy.sock = -1;
    if (o->workers < 1 || o->workers > LIM_SERVE_WORKERS_MAX || o->queue < 0 ||
        o->queue > LIM_SERVE_QUEUE_MAX)
        return err_set(err, E_INVALID, "workers must be 1..%ld and queue 0..%ld",
                       (long)LIM_SERVE_WORKERS_MAX, (long)LIM_SERVE_QUEUE_MAX);
    if ((rc = srv_listen(o, &listen_fd, shown, sizeof(shown), err)))
        return rc;
    if (pthread_mutex_init(&s.lock, NULL) != 0) {
        rc = err_set(err, E_INTERNAL, "cannot create a mutex");
        goto out;
    }
    locked = true;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0) {
        rc = err_sys(err, E_INTERNAL, "sigprocmask");
        goto out;
    }
    masked = true;
    /* Warm the interpreter once: every worker (and its sandbox) inherits
     * CPython with numpy/pandas imported. A failure only costs speed. After
     * the signals are blocked, so no thread it starts can take SIGTERM. */
    struct err perr;
    if (sbx_py_init(true, &perr))
        log_warn("serve: no warm interpreter (%s); each executeCode starts cold", perr.msg);
    s.child_mask = old;
    sigdelset(&s.child_mask, SIGTERM);
    sigdelset(&s.child_mask, SIGINT);
    sigdelset(&s.child_mask, SIGCHLD);
    /* Workers are forked by a zygote forked now, while this process has no
     * other thread yet: forking from the HTTP threads' process could copy a
     * lock that one of them holds into the child. */
    if ((rc = srv_zygote_start(cfg, &s.child_mask, false, &s.zy, err)))
        goto out;
    if ((rc = lz_mhd_load(err)))
        goto out;
    sfd = signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
    s.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sfd < 0 || s.wake_fd < 0) {
        rc = err_sys(err, E_INTERNAL, "cannot create signal or wake descriptors");
        goto out;
    }
    s.d = lz_mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                                  MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
                              0, NULL, NULL, srv_ah, &s, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                              MHD_OPTION_NOTIFY_COMPLETED, srv_completed, &s,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIM_SERVE_CONN_TIMEOUT_S,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIM_SERVE_CONNECTIONS,
                              MHD_OPTION_THREAD_POOL_SIZE, SRV_MHD_THREADS, MHD_OPTION_END);
    if (!s.d) {
        rc = err_set(err, E_IO, "cannot start the HTTP server on '%s'", o->listen);
        goto out;
    }
    printf("listening on http://%s\n", shown);
    fflush(stdout);
    srv_log("%ld workers, queue %ld, %zu API key%s, store %s", o->workers, o->queue, o->n_keys,
            o->n_keys == 1 ? "" : "s", cfg->store_dir);
    rc = srv_dispatch(&s, sfd, listen_fd, err);
    /* Let the resumed connections send their responses. */
    double until = action_now_ms() + LIM_SERVE_DRAIN_EXTRA_MS;
    for (;;) {
        pthread_mutex_lock(&s.lock);
        size_t pending = s.pending;
        pthread_mutex_unlock(&s.lock);
        if (pending == 0 || action_now_ms() > until)
            break;
        usleep(10000);
    }
    lz_mhd.stop_daemon(s.d);
    s.d = NULL;
    srv_zygote_stop(&s.zy); /* waits for its workers */
    scratch_sweep(cfg);     /* the scratch dirs of workers a second signal killed */
    listen_fd = -1;         /* closed by quiesce or by MHD_stop_daemon */
    if (!rc)
        srv_log("stopped");
out:
    if (s.d)
        lz_mhd.stop_daemon(s.d);
    srv_zygote_stop(&s.zy);
    if (listen_fd >= 0 && !s.d)
        close(listen_fd);
    if (sfd >= 0)
        close(sfd);
    if (s.wake_fd >= 0)
        close(s.wake_fd);
    if (masked) {
        /* Signals that came during shutdown were handled: drop them. */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&block, NULL, &zero) > 0)
            ;
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    if (locked)
        pthread_mutex_destroy(&s.lock);
    return rc;
}
