/*
 * cli_batch: `kiln batch`, many actions in parallel (SPEC §6).
 *
 * Inputs are local files (--op: each becomes a processFile request with the
 * file as fileBase64) or the lines of a JSON Lines file (--requests: each
 * line a SPEC request, optional "id"). Each runs in its own worker process
 * (srv_child.h), at most --jobs at once, forked by a zygote made before any
 * input is read (a requests file is only indexed by then, by offsets, in a
 * buffer wiped after): a worker and its sandbox are copies of their parent,
 * and this process comes to hold every request and every answer, which no
 * job may see of another. Results are printed as one JSON line per input in
 * input order: {"input": NAME-or-LINE, "id"?, ...envelope}.
 * --shard i/N keeps the inputs whose index % N == i; --resume skips inputs
 * already present in the -o file. Single-threaded.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "action.h"
#include "buf.h"
#include "klimits.h"
#include "log.h"
#include "reqblob.h"
#include "router.h"
#include "sbx_py.h"
#include "scratch.h"
#include "srv_child.h"

#include "banned.h"

struct batch_input {
    char *path; /* file mode: the file; NULL in request mode */
    long line;  /* request mode: 1-based line number */
    off_t off;  /* request mode: the line's bytes */
    size_t len;
};

struct batch_slot {
    struct srv_child child;
    size_t item; /* index into the run list */
    bool busy;
    bool killed; /* by an interruption */
    json_t *id;  /* the request's id, for an answer without one (a crash) */
};

/* The result of an input an interruption cut off: no line, so that
 * --resume runs it again. */
static char batch_cut_off[] = "";

struct batch {
    const struct config *cfg;
    const char *op;
    json_t *options;
    int req_fd; /* the JSONL file */
    struct batch_input *in;
    size_t n_in, cap_in;
    size_t *run; /* indexes into in[] of the inputs to run */
    size_t n_run;
    char **done_keys; /* sorted keys already in the output (--resume) */
    size_t n_done;
    char **results; /* output lines waiting to be printed, by run index */
    FILE *out;
    size_t n_ok, n_failed, n_skipped, n_finished;
    size_t n_cut; /* cut off by an interruption (not in n_finished) */
    char **ids;   /* sorted keys of the request lines' ids (--resume) */
    size_t n_ids;
    bool progress;
    struct srv_zygote zy; /* forks every worker */
};

static volatile sig_atomic_t batch_stop;

static void batch_on_signal(int sig)
{
    batch_stop = sig;
}

static void batch_help(FILE *f)
{
    fprintf(f, "usage: kiln batch --op analyze|parse_excel|transform [--options JSON]\n"
               "                  FILE|DIR|GLOB... [common options]\n"
               "       kiln batch --requests FILE.jsonl [common options]\n\n"
               "Runs one action per input, --jobs at a time, each in its own process, and\n"
               "prints one JSON line per input, in input order:\n"
               "  {\"input\": NAME or LINE, \"id\": ID (when the request has one), ...envelope}\n\n"
               "options:\n"
               "  --op NAME         processFile operation for file inputs; a DIR means the\n"
               "                    regular files directly in it, a GLOB is expanded (sorted)\n"
               "  --options JSON    the operation's options object\n"
               "  --requests FILE   JSON Lines of SPEC requests ('-' = stdin is not supported);\n"
               "                    empty lines are skipped, line numbers are kept\n"
               "common options:\n"
               "  -o, --output FILE write the lines to FILE instead of stdout\n"
               "  --jobs N          parallel workers (default: CPUs)\n"
               "  --resume          skip inputs already in the -o FILE (by input and id);\n"
               "                    new lines are appended\n"
               "  --shard I/N       only inputs whose index %% N == I (0 <= I < N), for\n"
               "                    splitting one run over N machines or jobs\n\n"
               "Progress on stderr when it is a terminal; a summary line at the end.\n\n"
               "examples:\n"
               "  kiln batch --op analyze data/*.csv -o results.jsonl\n"
               "  kiln batch --op parse_excel reports/ --jobs 4 -o sheets.jsonl --resume\n"
               "  kiln batch --requests jobs.jsonl --shard 0/8 -o part-0.jsonl\n\n"
               "exit status: 0 all ok, 1 any input failed, 2 usage error.\n");
}

/* ---- inputs ------------------------------------------------------------------- */

static int batch_add(struct batch *b, const struct batch_input *x)
{
    if (b->n_in >= (size_t)LIM_BATCH_INPUTS)
        return cli_usage_error("batch", "more than %ld inputs", (long)LIM_BATCH_INPUTS);
    if (b->n_in == b->cap_in) {
        size_t nc = b->cap_in ? b->cap_in * 2 : 64;
        struct batch_input *v = realloc(b->in, nc * sizeof(*v));
        if (!v)
            return cli_usage_error("batch", "out of memory");
        b->in = v;
        b->cap_in = nc;
    }
    b->in[b->n_in++] = *x;
    return 0;
}

static int batch_add_path(struct batch *b, const char *path)
{
    struct batch_input x = {0};
    x.path = strdup(path);
    if (!x.path)
        return cli_usage_error("batch", "out of memory");
    int rc = batch_add(b, &x);
    if (rc)
        free(x.path);
    return rc;
}

static int batch_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int batch_add_dir(struct batch *b, const char *dir)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!d)
        return cli_usage_error("batch", "cannot open directory '%s': %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat st;
        int k = snprintf(path, sizeof(path), "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
                         e->d_name);
        if (k < 0 || (size_t)k >= sizeof(path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **v = realloc(names, nc * sizeof(*v));
            if (!v) {
                rc = cli_usage_error("batch", "out of memory");
                goto out;
            }
            names = v;
            cap = nc;
        }
        if (!(names[n] = strdup(path))) {
            rc = cli_usage_error("batch", "out of memory");
            goto out;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof(*names), batch_cmp_str);
    for (size_t i = 0; i < n && !rc; i++)
        rc = batch_add_path(b, names[i]);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

static int batch_add_arg(struct batch *b, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return batch_add_dir(b, arg);
        return batch_add_path(b, arg);
    }
    if (!strpbrk(arg, "*?[")) {
        return cli_usage_error("batch", "cannot open '%s': %s", arg, strerror(errno));
    }
    glob_t g;
    memset(&g, 0, sizeof(g));
    int gr = glob(arg, 0, NULL, &g);
    if (gr == GLOB_NOMATCH) {
        globfree(&g);
        return cli_usage_error("batch", "no file matches '%s'", arg);
    }
    if (gr != 0) {
        globfree(&g);
        return cli_usage_error("batch", "cannot expand '%s'", arg);
    }
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
        if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = batch_add_path(b, g.gl_pathv[i]);
    }
    globfree(&g);
    return rc;
}

/* Is "executeCode" in the bytes read so far (then the interpreter is
 * warmed)? tail keeps the last bytes read, for a word split over two reads. */
#define BATCH_WORD "executeCode"
#define BATCH_WORD_LEN (sizeof(BATCH_WORD) - 1)
struct batch_word {
    char tail[BATCH_WORD_LEN - 1];
    size_t n;
    bool found;
};

static void batch_word_scan(struct batch_word *w, const char *p, size_t n)
{
    char seam[2 * (BATCH_WORD_LEN - 1)];
    if (w->found)
        return;
    size_t h = n < BATCH_WORD_LEN - 1 ? n : BATCH_WORD_LEN - 1;
    memcpy(seam, w->tail, w->n);
    memcpy(seam + w->n, p, h);
    size_t sn = w->n + h;
    w->found =
        memmem(seam, sn, BATCH_WORD, BATCH_WORD_LEN) || memmem(p, n, BATCH_WORD, BATCH_WORD_LEN);
    /* the last bytes seen: of this read, or with the tail before it */
    const char *from = n >= BATCH_WORD_LEN - 1 ? p + n : seam + sn;
    w->n = sn < BATCH_WORD_LEN - 1 ? sn : BATCH_WORD_LEN - 1;
    memmove(w->tail, from - w->n, w->n);
    explicit_bzero(seam, sizeof(seam));
}

/* Index the lines of the JSONL file (offsets only; lines are read when run,
 * and the buffer is wiped after: this runs before the zygote is forked);
 * *python: the file names executeCode. */
static int batch_index_lines(struct batch *b, const char *path, bool *python)
{
    char chunk[65536];
    struct batch_word w = {.n = 0, .found = false};
    off_t pos = 0, start = 0;
    long line = 1;
    bool blank = true;
    b->req_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (b->req_fd < 0)
        return cli_usage_error("batch", "cannot open '%s': %s", path, strerror(errno));
    for (;;) {
        ssize_t r = read(b->req_fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cli_usage_error("batch", "cannot read '%s': %s", path, strerror(errno));
        batch_word_scan(&w, chunk, (size_t)r);
        for (ssize_t i = 0; i < r; i++) {
            char ch = chunk[i];
            if (ch == '\n') {
                if (!blank) {
                    struct batch_input x = {
                        .line = line, .off = start, .len = (size_t)(pos + i - start)};
                    if (batch_add(b, &x))
                        return CLI_USAGE;
                }
                line++;
                start = pos + i + 1;
                blank = true;
            } else if (ch != ' ' && ch != '\t' && ch != '\r') {
                blank = false;
            }
        }
        if (r == 0)
            break;
        pos += r;
    }
    explicit_bzero(chunk, sizeof(chunk));
    explicit_bzero(&w.tail, sizeof(w.tail));
    *python = w.found;
    if (!blank) {
        struct batch_input x = {.line = line, .off = start, .len = (size_t)(pos - start)};
        if (batch_add(b, &x))
            return CLI_USAGE;
    }
    return 0;
}

/* ---- resume ---------------------------------------------------------------------- */

/* "i:" + input as JSON, or "d:" + id as JSON. */
static char *batch_key(char kind, const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t)
        return NULL;
    size_t n = strlen(t);
    char *k = malloc(n + 3);
    if (k) {
        k[0] = kind;
        k[1] = ':';
        memcpy(k + 2, t, n + 1);
    }
    free(t);
    return k;
}

static bool batch_is_done(const struct batch *b, char kind, const json_t *v)
{
    if (!b->n_done || !v)
        return false;
    char *k = batch_key(kind, v);
    if (!k)
        return false;
    bool found = bsearch(&k, b->done_keys, b->n_done, sizeof(char *), batch_cmp_str) != NULL;
    free(k);
    return found;
}

/* Collect the inputs and ids of the lines already in path; *ends_nl says
 * whether the file ends with a newline (else the next line needs one). */
static int batch_load_done(struct batch *b, const char *path, bool *ends_nl)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    *ends_nl = true;
    if (!f)
        return errno == ENOENT
                   ? 0
                   : cli_usage_error("batch", "cannot read '%s': %s", path, strerror(errno));
    while ((len = getline(&line, &cap, f)) > 0) {
        *ends_nl = line[len - 1] == '\n';
        json_t *o = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, NULL);
        const char *kinds = "id";
        const char *fields[] = {"input", "id"};
        for (int k = 0; k < 2; k++) {
            json_t *v = json_object_get(o, fields[k]);
            if (!v || json_is_null(v))
                continue;
            char **nv = realloc(b->done_keys, (n + 1) * sizeof(char *));
            if (!nv)
                break;
            b->done_keys = nv;
            if ((nv[n] = batch_key(kinds[k], v)))
                n++;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    b->n_done = n;
    if (n)
        qsort(b->done_keys, n, sizeof(char *), batch_cmp_str);
    return 0;
}

/* Whether the request id v is had by one input line only (batch_load_ids). */
static bool batch_id_unique(const struct batch *b, const json_t *v)
{
    if (!v || json_is_null(v))
        return false;
    char *k = batch_key('d', v);
    if (!k)
        return false;
    char **at = bsearch(&k, b->ids, b->n_ids, sizeof(char *), batch_cmp_str);
    bool unique = at && (at == b->ids || strcmp(at[-1], k)) &&
                  (at + 1 == b->ids + b->n_ids || strcmp(at[1], k));
    free(k);
    return unique;
}

/* ---- requests ---------------------------------------------------------------------- */

static char *batch_b64(const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* The processFile request for a local file, or NULL with err set. */
static json_t *batch_file_request(const struct batch *b, const char *path, struct err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    unsigned char *data = NULL;
    char *enc = NULL;
    json_t *req = NULL;
    struct stat st;
    if (fd < 0) {
        err_sys(err, E_INVALID, "cannot open '%s'", path);
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err_set(err, E_INVALID, "'%s' is not a regular file", path);
        goto out;
    }
    if (st.st_size > b->cfg->input_bytes) {
        err_set(err, E_TOO_LARGE, "'%s' is larger than %ld bytes", path, b->cfg->input_bytes);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    data = malloc(size ? size : 1);
    if (!data) {
        err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != size) {
        err_sys(err, E_IO, "cannot read '%s'", path);
        goto out;
    }
    if (!(enc = batch_b64(data, size))) {
        err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    const char *slash = strrchr(path, '/');
    json_t *args = json_pack("{s:s, s:s, s:s}", "operation", b->op, "fileBase64", enc, "fileName",
                             slash ? slash + 1 : path);
    if (args && b->options)
        json_object_set(args, "options", b->options);
    req = args ? json_pack("{s:s, s:o}", "action", "processFile", "arguments", args) : NULL;
    if (!req)
        err_set(err, E_NOMEM, "out of memory");
out:
    free(enc);
    free(data);
    if (fd >= 0)
        close(fd);
    return req;
}

/* The request of a JSONL line (parsed) or NULL with err set (malformed). */
static json_t *batch_line_request(const struct batch *b, const struct batch_input *x,
                                  struct err *err)
{
    json_error_t jerr;
    if (x->len > (size_t)LIM_BATCH_LINE_BYTES) {
        err_set(err, E_INVALID, "request is larger than %ld bytes", (long)LIM_BATCH_LINE_BYTES);
        return NULL;
    }
    char *text = malloc(x->len ? x->len : 1);
    if (!text) {
        err_set(err, E_NOMEM, "out of memory");
        return NULL;
    }
    size_t got = 0;
    while (got < x->len) {
        ssize_t r = pread(b->req_fd, text + got, x->len - got, x->off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    json_t *req = NULL;
    size_t bom = got == x->len ? reqblob_bom(text, x->len) : 0;
    if (got != x->len)
        err_sys(err, E_IO, "cannot read line %ld", x->line);
    else if (!(req = json_loadb(text + bom, x->len - bom, JSON_REJECT_DUPLICATES, &jerr)))
        reqblob_json_error(err, &jerr);
    free(text);
    return req;
}

/* The ids of every request line, sorted (--resume: batch_id_unique). */
static int batch_load_ids(struct batch *b)
{
    for (size_t i = 0; i < b->n_in; i++) {
        if (b->in[i].path)
            continue;
        struct err e;
        json_t *req = batch_line_request(b, &b->in[i], &e);
        json_t *id = json_object_get(req, "id");
        char *k = id && !json_is_null(id) ? batch_key('d', id) : NULL;
        json_decref(req);
        if (!k)
            continue;
        char **nv = realloc(b->ids, (b->n_ids + 1) * sizeof(char *));
        if (!nv) {
            free(k);
            return cli_usage_error("batch", "out of memory");
        }
        b->ids = nv;
        b->ids[b->n_ids++] = k;
    }
    if (b->n_ids)
        qsort(b->ids, b->n_ids, sizeof(char *), batch_cmp_str);
    return 0;
}

static json_t *batch_input_json(const struct batch_input *x)
{
    return x->path ? json_string(x->path) : json_integer(x->line);
}

/* The output line for an envelope (takes the envelope). */
static char *batch_line(const struct batch_input *x, json_t *env)
{
    json_t *o = json_object();
    char *text = NULL;
    if (o && env) {
        json_object_set_new(o, "input", batch_input_json(x));
        json_t *id = json_object_get(env, "id");
        if (id)
            json_object_set(o, "id", id);
        const char *key;
        json_t *val;
        json_object_foreach(env, key, val)
        {
            if (strcmp(key, "id") && strcmp(key, "input"))
                json_object_set(o, key, val);
        }
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(o);
    json_decref(env);
    return text;
}

/* ---- the run ------------------------------------------------------------------------ */

static void batch_progress(const struct batch *b, double t0, bool final)
{
    if (!b->progress)
        return;
    if (final) {
        fputs("\r\033[K", stderr);
        return;
    }
    double secs = (action_now_ms() - t0) / 1000.0;
    double rate = secs > 0 ? (double)b->n_finished / secs : 0;
    size_t total = b->n_run, left = total - b->n_finished;
    char eta[32] = "?";
    if (rate > 0) {
        long e = (long)((double)left / rate + 0.5);
        snprintf(eta, sizeof(eta), "%ld:%02ld", e / 60, e % 60);
    }
    int width = 30;
    int fill = total ? (int)((double)b->n_finished * width / (double)total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r\033[K[%s] %zu/%zu  %zu failed  %.1f/s  ETA %s", bar, b->n_finished, total,
            b->n_failed, rate, eta);
    fflush(stderr);
}

static int batch_emit(struct batch *b, size_t *next_print)
{
    while (*next_print < b->n_run && b->results[*next_print]) {
        char *t = b->results[*next_print];
        if (t == batch_cut_off) {
            (*next_print)++;
            continue;
        }
        if (fputs(t, b->out) == EOF || fputc('\n', b->out) == EOF || fflush(b->out) == EOF) {
            fprintf(stderr, "\nkiln batch: cannot write the output: %s\n", strerror(errno));
            return -1;
        }
        free(t);
        b->results[*next_print] = (char *)"";
        (*next_print)++;
    }
    return 0;
}

static void batch_record(struct batch *b, size_t item, json_t *env, bool ok)
{
    const struct batch_input *x = &b->in[b->run[item]];
    char *line = batch_line(x, env);
    if (!line)
        line = strdup("{\"ok\":false,\"action\":null,\"error\":{\"code\":\"INTERNAL\","
                      "\"message\":\"cannot serialise the result\"}}");
    b->results[item] = line;
    b->n_finished++;
    if (ok)
        b->n_ok++;
    else
        b->n_failed++;
}

/* Start item (or record it at once when it cannot be run). */
static void batch_start(struct batch *b, struct batch_slot *slot, size_t item)
{
    const struct batch_input *x = &b->in[b->run[item]];
    struct err err;
    err_clear(&err);
    json_t *req = x->path ? batch_file_request(b, x->path, &err) : batch_line_request(b, x, &err);
    if (!req) {
        batch_record(b, item, route_error_envelope(x->path ? "processFile" : NULL, &err, NULL),
                     false);
        return;
    }
    if (srv_zygote_run_req(&b->zy, req, (size_t)LIM_BATCH_OUTPUT_BYTES, &slot->child, &err)) {
        json_t *env = route_error_envelope(NULL, &err, NULL);
        if (env && json_object_get(req, "id"))
            json_object_set(env, "id", json_object_get(req, "id"));
        batch_record(b, item, env, false);
        json_decref(req);
        return;
    }
    json_decref(slot->id);
    slot->id = json_incref(json_object_get(req, "id"));
    json_decref(req);
    slot->item = item;
    slot->busy = true;
    slot->killed = false;
}

static int batch_run(struct batch *b, long jobs)
{
    struct batch_slot *slots = calloc((size_t)jobs, sizeof(*slots));
    struct pollfd *pfd = calloc((size_t)jobs, sizeof(*pfd));
    size_t next_start = 0, next_print = 0, window = (size_t)jobs * 16 + 64;
    int rc = 0;
    double t0 = action_now_ms(), last_draw = 0;
    b->results = calloc(b->n_run ? b->n_run : 1, sizeof(char *));
    if (!slots || !pfd || !b->results) {
        fprintf(stderr, "kiln batch: out of memory\n");
        rc = -1;
        goto out;
    }
    for (;;) {
        size_t busy = 0;
        for (long i = 0; i < jobs && !batch_stop; i++) {
            while (!slots[i].busy && next_start < b->n_run && next_start < next_print + window)
                batch_start(b, &slots[i], next_start++);
        }
        if (batch_emit(b, &next_print)) {
            rc = -1;
            goto out;
        }
        size_t np = 0;
        for (long i = 0; i < jobs; i++) {
            if (!slots[i].busy)
                continue;
            busy++;
            if (slots[i].child.fd >= 0)
                pfd[np++] = (struct pollfd){.fd = slots[i].child.fd, .events = POLLIN};
        }
        if (busy == 0 && (next_start >= b->n_run || batch_stop))
            break;
        if (batch_stop) {
            for (long i = 0; i < jobs; i++)
                if (slots[i].busy && !slots[i].killed) {
                    srv_child_kill(&slots[i].child);
                    slots[i].killed = true;
                }
        }
        if (poll(pfd, np, 200) < 0 && errno != EINTR) {
            rc = -1;
            goto out;
        }
        for (long i = 0; i < jobs; i++) {
            struct batch_slot *s = &slots[i];
            if (!s->busy)
                continue;
            srv_child_read(&s->child);
            if (!srv_child_reap(&s->child, false))
                continue;
            bool ok = false, crashed = false;
            json_t *env = srv_child_envelope(&s->child, false, &ok, &crashed);
            srv_child_release(&s->child);
            s->busy = false;
            if (crashed && s->killed) { /* cut off, not failed: no line */
                json_decref(env);
                b->results[s->item] = batch_cut_off;
                b->n_cut++;
                continue;
            }
            if (env && s->id && !json_object_get(env, "id"))
                json_object_set(env, "id", s->id);
            batch_record(b, s->item, env, ok);
        }
        double now = action_now_ms();
        if (now - last_draw > 200) {
            batch_progress(b, t0, false);
            last_draw = now;
        }
    }
    if (batch_emit(b, &next_print))
        rc = -1;
out:
    batch_progress(b, t0, true);
    if (slots) {
        for (long i = 0; i < jobs; i++) {
            if (slots[i].busy) {
                srv_child_kill(&slots[i].child);
                srv_child_reap(&slots[i].child, true);
                srv_child_release(&slots[i].child);
            }
            json_decref(slots[i].id);
        }
    }
    if (b->results)
        for (size_t i = next_print; i < b->n_run; i++)
            if (b->results[i] != batch_cut_off)
                free(b->results[i]);
    free(b->results);
    b->results = NULL;
    free(slots);
    free(pfd);
    return rc;
}

static int batch_num(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return cli_usage_error("batch", "'%s' must be an integer in %ld..%ld", opt, lo, hi);
    *out = n;
    return 0;
}

static int batch_parse_shard(const char *v, long *idx, long *count)
{
    char *end = NULL;
    errno = 0;
    long i = strtol(v, &end, 10);
    if (errno || end == v || *end != '/')
        return cli_usage_error("batch", "'--shard' must be I/N, e.g. 0/4");
    const char *ns = end + 1;
    long n = strtol(ns, &end, 10);
    if (errno || end == ns || *end || n < 1 || n > LIM_BATCH_INPUTS || i < 0 || i >= n)
        return cli_usage_error("batch", "'--shard' must be I/N with 0 <= I < N");
    *idx = i;
    *count = n;
    return 0;
}

int cli_batch(const struct config *cfg, int argc, char **argv)
{
    struct batch b;
    const char *requests = NULL, *outpath = NULL, *options = NULL;
    long jobs = srv_child_cpus(), shard_i = 0, shard_n = 1;
    bool resume = false, ends_nl = true;
    int rc = CLI_USAGE;
    char **paths = NULL;
    size_t n_paths = 0;
    memset(&b, 0, sizeof(b));
    b.cfg = cfg;
    b.req_fd = -1;
    b.zy.pid = -1;
    b.zy.sock = -1;
    paths = calloc((size_t)argc, sizeof(char *));
    if (!paths)
        return cli_usage_error("batch", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            batch_help(stdout);
            rc = CLI_OK;
            goto out;
        }
        if (!strcmp(a, "--resume")) {
            resume = true;
            continue;
        }
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++)
                paths[n_paths++] = argv[i];
            break;
        }
        static const char *const with_value[] = {"--op",     "--options", "--requests", "-o",
                                                 "--output", "--jobs",    "--shard"};
        const char *opt = NULL, *v = NULL;
        for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
            size_t n = strlen(with_value[k]);
            if (!strncmp(a, with_value[k], n) && (a[n] == '\0' || a[n] == '=')) {
                opt = with_value[k];
                if (a[n] == '=')
                    v = a + n + 1;
                else if (i + 1 < argc)
                    v = argv[++i];
                else {
                    cli_usage_error("batch", "'%s' needs a value", opt);
                    goto out;
                }
            }
        }
        if (!opt) {
            if (a[0] == '-' && a[1]) {
                cli_usage_error("batch", "unknown option '%s'", a);
                goto out;
            }
            paths[n_paths++] = argv[i];
            continue;
        }
        if (!strcmp(opt, "--op"))
            b.op = v;
        else if (!strcmp(opt, "--options"))
            options = v;
        else if (!strcmp(opt, "--requests"))
            requests = v;
        else if (!strcmp(opt, "-o") || !strcmp(opt, "--output"))
            outpath = v;
        else if (!strcmp(opt, "--jobs")) {
            if (batch_num(opt, v, 1, LIM_SERVE_WORKERS_MAX, &jobs))
                goto out;
        } else if (batch_parse_shard(v, &shard_i, &shard_n)) {
            goto out;
        }
    }
    if (!requests == !b.op) {
        cli_usage_error("batch", "give either --op NAME with files, or --requests FILE.jsonl");
        goto out;
    }
    if (requests && (n_paths || options)) {
        cli_usage_error("batch", "--requests takes no file arguments or --options");
        goto out;
    }
    if (b.op && strcmp(b.op, "analyze") && strcmp(b.op, "parse_excel") &&
        strcmp(b.op, "transform")) {
        cli_usage_error("batch", "unknown operation '%s' (analyze, parse_excel, transform)", b.op);
        goto out;
    }
    if (b.op && !n_paths) {
        cli_usage_error("batch", "no input files");
        goto out;
    }
    if (resume && !outpath) {
        cli_usage_error("batch", "--resume needs -o FILE");
        goto out;
    }
    if (options) {
        json_error_t jerr;
        b.options = json_loads(options, 0, &jerr);
        if (!json_is_object(b.options)) {
            cli_usage_error("batch", "--options must be a JSON object (%s)",
                            b.options ? "not an object" : jerr.text);
            goto out;
        }
    }
    if (requests && !strcmp(requests, "-")) {
        cli_usage_error("batch", "--requests needs a file (not stdin)");
        goto out;
    }
    /* The interpreter warmed (for executeCode lines) and the zygote made
     * before any input is read (see the header): the requests file is only
     * indexed by then. */
    bool python = false;
    if (requests && batch_index_lines(&b, requests, &python))
        goto out;
    if (python) {
        struct err perr;
        if (sbx_py_init(true, &perr))
            log_warn("batch: no warm interpreter (%s)", perr.msg);
    }
    sigset_t none;
    sigemptyset(&none);
    struct err zerr;
    if (srv_zygote_start(cfg, &none, true, &b.zy, &zerr)) {
        fprintf(stderr, "kiln batch: %s\n", zerr.msg);
        rc = CLI_FAILED;
        goto out;
    }
    for (size_t i = 0; !requests && i < n_paths; i++)
        if (batch_add_arg(&b, paths[i]))
            goto out;
    if (resume && batch_load_done(&b, outpath, &ends_nl))
        goto out;
    b.run = calloc(b.n_in ? b.n_in : 1, sizeof(size_t));
    if (!b.run) {
        cli_usage_error("batch", "out of memory");
        goto out;
    }
    if (resume && b.n_done && batch_load_ids(&b))
        goto out;
    for (size_t i = 0; i < b.n_in; i++) {
        if ((long)(i % (size_t)shard_n) != shard_i)
            continue;
        if (resume) {
            json_t *key = batch_input_json(&b.in[i]);
            bool done = batch_is_done(&b, 'i', key);
            json_decref(key);
            if (!done && !b.in[i].path && b.n_done) {
                /* A request line may also be known by its id, when no other
                 * line has it (the second of two lines with one id was
                 * taken for done). */
                struct err e2;
                json_t *req = batch_line_request(&b, &b.in[i], &e2);
                json_t *id = json_object_get(req, "id");
                done = batch_id_unique(&b, id) && batch_is_done(&b, 'd', id);
                json_decref(req);
            }
            if (done) {
                b.n_skipped++;
                continue;
            }
        }
        b.run[b.n_run++] = i;
    }
    if (outpath) {
        b.out = fopen(outpath, resume ? "a" : "w");
        if (!b.out) {
            cli_usage_error("batch", "cannot open '%s': %s", outpath, strerror(errno));
            goto out;
        }
        if (!ends_nl)
            fputc('\n', b.out);
    } else {
        b.out = stdout;
    }
    b.progress = isatty(STDERR_FILENO) && !getenv("KILN_NO_PROGRESS");
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = batch_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double t0 = action_now_ms();
    int r = batch_run(&b, jobs);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    double secs = (action_now_ms() - t0) / 1000.0;
    fprintf(stderr, "kiln batch: %zu ok, %zu failed", b.n_ok, b.n_failed);
    if (b.n_skipped)
        fprintf(stderr, ", %zu skipped", b.n_skipped);
    if (b.n_cut)
        fprintf(stderr, ", %zu cut off", b.n_cut);
    if (b.n_run > b.n_finished + b.n_cut)
        fprintf(stderr, ", %zu not run", b.n_run - b.n_finished - b.n_cut);
    fprintf(stderr, " in %.1f s%s\n", secs, batch_stop ? " (interrupted)" : "");
    if (batch_stop)
        rc = 128 + (int)batch_stop;
    else
        rc = (r || b.n_failed) ? CLI_FAILED : CLI_OK;
out:
    srv_zygote_stop(&b.zy); /* waits for its workers */
    if (batch_stop)         /* the scratch dirs of the workers it killed */
        scratch_sweep(cfg);
    if (b.out && b.out != stdout)
        fclose(b.out);
    for (size_t i = 0; i < b.n_in; i++)
        free(b.in[i].path);
    free(b.in);
    free(b.run);
    for (size_t i = 0; i < b.n_done; i++)
        free(b.done_keys[i]);
    free(b.done_keys);
    for (size_t i = 0; i < b.n_ids; i++)
        free(b.ids[i]);
    free(b.ids);
    json_decref(b.options);
    if (b.req_fd >= 0)
        close(b.req_fd);
    free(paths);
    return rc;
}
