#include "outputs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"
#include "klimits.h"

#include "banned.h"

#define OUTPUTS_MAX_DEPTH 16

/* Visitor of regular files: rel path, the open fd, its stat. */
typedef enum err_code (*outputs_visit_fn)(void *ctx, const char *rel, int fd, const struct stat *st,
                                          struct err *err);
typedef void (*outputs_skip_fn)(void *ctx, const char *rel, const char *reason);

/* Files with several names, held open until the whole tree is seen: a
 * file all of whose names are in the tree is an output like any other (each
 * name stored); one with a name elsewhere (a link to a file outside) is
 * skipped. */
#define OUTPUTS_MAX_LINKED 256
struct linked {
    char rel[4096];
    int fd;
    struct stat st;
    size_t order;
};
struct links {
    struct linked *v;
    size_t n, cap;
};

static enum err_code walk(int dfd, const char *prefix, int depth, outputs_visit_fn visit,
                          outputs_skip_fn skip, void *ctx, struct links *links, struct err *err)
{
    enum err_code rc = E_OK;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return err_sys(err, E_IO, "cannot read output directory");
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char rel[4096];
        int n = snprintf(rel, sizeof(rel), "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
        if (n < 0 || (size_t)n >= sizeof(rel)) {
            skip(ctx, e->d_name, "path too long");
            continue;
        }
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            struct stat ls;
            if (errno == ELOOP)
                skip(ctx, rel, "symbolic link");
            else if (errno == ENXIO &&
                     fstatat(dirfd(d), e->d_name, &ls, AT_SYMLINK_NOFOLLOW) == 0 &&
                     S_ISSOCK(ls.st_mode)) /* a socket cannot be opened */
                skip(ctx, rel, "socket");
            else
                skip(ctx, rel, "cannot be opened");
            continue;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            close(fd);
            skip(ctx, rel, "cannot be inspected");
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth >= OUTPUTS_MAX_DEPTH) {
                close(fd);
                skip(ctx, rel, "directory nested too deep");
                continue;
            }
            rc = walk(fd, rel, depth + 1, visit, skip, ctx, links, err);
            if (rc)
                break;
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            close(fd);
            skip(ctx, rel,
                 S_ISFIFO(st.st_mode)   ? "FIFO"
                 : S_ISSOCK(st.st_mode) ? "socket"
                                        : "device or special file");
            continue;
        }
        if (st.st_nlink > 1) {
            if (links->n == links->cap && links->cap < OUTPUTS_MAX_LINKED) {
                size_t cap = links->cap ? links->cap * 2 : 8;
                struct linked *v = realloc(links->v, cap * sizeof(*v));
                if (v) {
                    links->v = v;
                    links->cap = cap;
                }
            }
            if (links->n == links->cap) {
                close(fd);
                skip(ctx, rel, "hard link (a file with several names)");
                continue;
            }
            struct linked *l = &links->v[links->n];
            snprintf(l->rel, sizeof(l->rel), "%s", rel);
            l->fd = fd;
            l->st = st;
            l->order = links->n++;
            continue;
        }
        rc = visit(ctx, rel, fd, &st, err);
        close(fd);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

static int linked_by_inode(const void *a, const void *b)
{
    const struct linked *x = a, *y = b;
    if (x->st.st_dev != y->st.st_dev)
        return x->st.st_dev < y->st.st_dev ? -1 : 1;
    if (x->st.st_ino != y->st.st_ino)
        return x->st.st_ino < y->st.st_ino ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int linked_by_order(const void *a, const void *b)
{
    const struct linked *x = a, *y = b;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The whole tree under dfd (closed), then its files with several names:
 * visited when every name of the file is in the tree (the count of names
 * seen is its link count), in the order the walk found them. */
static enum err_code walk_tree(int dfd, outputs_visit_fn visit, outputs_skip_fn skip, void *ctx,
                               struct err *err)
{
    struct links links = {NULL, 0, 0};
    enum err_code rc = walk(dfd, "", 0, visit, skip, ctx, &links, err);
    struct linked *v = links.v;
    size_t n = links.n;
    if (n == 0)
        return rc;
    /* The link counts as they are now, once the whole tree is seen: a name
     * added or removed during the walk is then counted or missed, never
     * taken for one inside. */
    for (size_t i = 0; i < n; i++)
        if (fstat(v[i].fd, &v[i].st) != 0)
            v[i].st.st_nlink = 0; /* matches no count of names */
    qsort(v, n, sizeof(*v), linked_by_inode);
    bool *inside = calloc(n, sizeof(*inside));
    for (size_t i = 0; inside && i < n;) {
        size_t j = i;
        bool all = true;
        while (j < n && v[j].st.st_dev == v[i].st.st_dev && v[j].st.st_ino == v[i].st.st_ino)
            j++;
        for (size_t k = i; k < j; k++)
            all = all && (nlink_t)(j - i) == v[k].st.st_nlink;
        for (size_t k = i; k < j; k++)
            inside[k] = all;
        i = j;
    }
    for (size_t i = 0; inside && i < n; i++)
        v[i].order = v[i].order * 2 + (inside[i] ? 1 : 0); /* keep the verdict through the sort */
    qsort(v, n, sizeof(*v), linked_by_order);
    for (size_t i = 0; i < n; i++) {
        if (rc == E_OK && !inside)
            rc = err_set(err, E_NOMEM, "out of memory");
        else if (rc == E_OK && (v[i].order & 1))
            rc = visit(ctx, v[i].rel, v[i].fd, &v[i].st, err);
        else if (rc == E_OK)
            skip(ctx, v[i].rel, "hard link to a file outside the scratch dir");
        close(v[i].fd);
    }
    free(inside);
    free(v);
    return rc;
}

static void skip_ignore(void *ctx, const char *rel, const char *reason)
{
    (void)ctx, (void)rel, (void)reason;
}

static enum err_code snap_visit(void *ctx, const char *rel, int fd, const struct stat *st,
                                struct err *err)
{
    (void)fd;
    struct outputs_snap *snap = ctx;
    if (snap->n >= LIM_ACTION_OUTPUT_FILES * 4)
        return E_OK;
    struct outputs_snap_entry *v = realloc(snap->v, (snap->n + 1) * sizeof(*v));
    if (!v)
        return err_set(err, E_NOMEM, "out of memory");
    snap->v = v;
    struct outputs_snap_entry *x = &v[snap->n++];
    snprintf(x->rel, sizeof(x->rel), "%s", rel);
    x->dev = st->st_dev;
    x->ino = st->st_ino;
    x->size = st->st_size;
    x->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    return E_OK;
}

enum err_code outputs_snapshot(const char *dir, struct outputs_snap *snap, struct err *err)
{
    snap->v = NULL;
    snap->n = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, E_IO, "cannot open '%s'", dir);
    enum err_code rc = walk_tree(fd, snap_visit, skip_ignore, snap, err);
    if (rc)
        outputs_snap_release(snap);
    return rc;
}

void outputs_snap_release(struct outputs_snap *snap)
{
    if (!snap)
        return;
    free(snap->v);
    snap->v = NULL;
    snap->n = 0;
}

struct collect_ctx {
    const struct outputs_snap *snap;
    struct store *store;
    enum store_scope scope;
    const char *session;
    uint64_t max_bytes;
    uint64_t total;
    size_t count;
    json_t *files;
    json_t *skipped;
};

static void collect_skip(void *vctx, const char *rel, const char *reason)
{
    struct collect_ctx *c = vctx;
    /* Bounded: code can plant far more links or FIFOs than files. */
    if (!c->skipped || json_array_size(c->skipped) >= LIM_ACTION_OUTPUT_FILES)
        return;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(rel));
    json_object_set_new(o, "reason", json_string(reason));
    json_array_append_new(c->skipped, o);
}

static enum err_code collect_visit(void *vctx, const char *rel, int fd, const struct stat *st,
                                   struct err *err)
{
    struct collect_ctx *c = vctx;
    if (c->snap) {
        int64_t mt = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
        for (size_t i = 0; i < c->snap->n; i++) {
            const struct outputs_snap_entry *x = &c->snap->v[i];
            if (!strcmp(x->rel, rel) && x->ino == st->st_ino && x->dev == st->st_dev &&
                x->size == st->st_size && x->mtime_ns == mt)
                return E_OK; /* an input left as it was */
        }
    }
    if (strlen(rel) > LIM_FILE_NAME_LEN) {
        collect_skip(c, rel, "name too long");
        return E_OK;
    }
    /* The store refuses such names; one odd name must not fail the action. */
    for (const char *p = rel; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            collect_skip(c, rel, "name holds a control character");
            return E_OK;
        }
    }
    json_t *jname = json_string(rel);
    if (!jname) {
        collect_skip(c, "(name is not valid UTF-8)", "name is not valid UTF-8");
        return E_OK;
    }
    json_decref(jname);
    if (c->count >= LIM_ACTION_OUTPUT_FILES)
        return err_set(err, E_OUTPUT_LIMIT, "more than %d output files", LIM_ACTION_OUTPUT_FILES);
    c->total += (uint64_t)st->st_size;
    if (c->total > c->max_bytes)
        return err_set(err, E_OUTPUT_LIMIT,
                       "output files exceed the limit of %llu bytes together (at '%s')",
                       (unsigned long long)c->max_bytes, rel);
    /* Store from the fd we opened and checked, not from the path. */
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    struct store_meta meta;
    enum err_code rc = store_put_file(c->store, fdpath, rel, input_mime_for_name(rel), c->scope,
                                      c->session, &meta, err);
    if (rc)
        return rc;
    c->count++;
    json_array_append_new(c->files, store_meta_json(&meta));
    return E_OK;
}

enum err_code outputs_collect(const char *dir, const struct outputs_snap *snap, struct store *store,
                              enum store_scope scope, const char *session, uint64_t max_bytes,
                              json_t *files, json_t *skipped, struct err *err)
{
    struct collect_ctx c = {snap, store, scope, session, max_bytes, 0, 0, files, skipped};
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_sys(err, E_IO, "cannot open '%s'", dir);
    return walk_tree(fd, collect_visit, collect_skip, &c, err);
}
