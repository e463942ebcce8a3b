#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "scratch.h"
#include "store_int.h"

#include "banned.h"

/* Name of meta/<id>.json and tmp/<id>.{data,meta}: id + a short suffix. */
#define STORE_NAME_MAX (STORE_ID_LEN + 16)

/* MIME types by extension, sorted by extension. */
static const struct {
    const char *ext;
    const char *mime;
} store_mimes[] = {
    {"csv", "text/csv"},
    {"gif", "image/gif"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"json", "application/json"},
    {"jsonl", "application/jsonl"},
    {"md", "text/markdown"},
    {"parquet", "application/vnd.apache.parquet"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"py", "text/x-python"},
    {"svg", "image/svg+xml"},
    {"tsv", "text/tab-separated-values"},
    {"txt", "text/plain"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
};

static const char *store_mime_for_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && dot != name && dot[1]) {
        for (size_t i = 0; i < sizeof(store_mimes) / sizeof(store_mimes[0]); i++)
            if (!strcasecmp(dot + 1, store_mimes[i].ext))
                return store_mimes[i].mime;
    }
    return "application/octet-stream";
}

bool store_valid_id(const char *id)
{
    if (!id || id[0] != 'f' || id[1] != '_')
        return false;
    size_t i;
    for (i = 2; id[i]; i++) {
        char c = id[i];
        if (i >= STORE_ID_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return i == STORE_ID_LEN;
}

static bool store_valid_session(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LIM_SESSION_ID_LEN || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool store_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* Names end up in JSON, which must be UTF-8. */
static bool store_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

int64_t store_now(const struct store *s)
{
    return (int64_t)time(NULL) + (s ? s->skew_s : 0);
}

void store_test_set_skew(struct store *s, int64_t skew_s)
{
    s->skew_s = skew_s;
}

DIR *store_opendir(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

static void store_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* mkdir -p with mode 0700 for every directory created. */
static enum err_code store_mkdir_p(const char *path, struct err *err)
{
    char tmp[CONFIG_PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return err_set(err, E_INVALID, "store directory path is too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return err_sys(err, E_IO, "cannot create '%s'", tmp);
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return err_sys(err, E_IO, "cannot create store directory '%s'", tmp);
    return E_OK;
}

static enum err_code store_subdir(struct store *s, const char *name, int *out, struct err *err)
{
    if (mkdirat(s->root_fd, name, 0700) != 0 && errno != EEXIST)
        return err_sys(err, E_IO, "cannot create '%s/%s'", s->cfg.store_dir, name);
    int fd = openat(s->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_sys(err, E_IO, "cannot open '%s/%s'", s->cfg.store_dir, name);
    *out = fd;
    return E_OK;
}

/* Sweep when the last sweep is older than LIM_STORE_GC_INTERVAL_S, so a
 * long-unused store is cleaned by its next user. Failures only log. */
static void store_maybe_gc(struct store *s)
{
    /* The scratch dirs of killed kilns (a Ctrl-C'd kiln run) at every open:
     * a readdir of a few entries, not worth waiting minutes for (so not
     * part of the sweep below). */
    size_t dirs = scratch_sweep(&s->cfg);
    if (dirs)
        log_info("store: removed %zu scratch dirs of processes that were killed", dirs);
    struct stat st;
    if (fstatat(s->root_fd, STORE_FILE_LAST_GC, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        time_t now = time(NULL);
        if (st.st_mtime <= now && now - st.st_mtime < LIM_STORE_GC_INTERVAL_S)
            return;
    }
    struct err e;
    size_t removed = 0;
    uint64_t bytes = 0;
    if (store_gc_run(s, false, &removed, &bytes, &e))
        log_warn("store: sweep failed: %s", e.msg);
    else if (removed)
        log_info("store: swept %zu files (%llu bytes)", removed, (unsigned long long)bytes);
}

static void store_sessions_open(struct store *s);

enum err_code store_open(const struct config *cfg, struct store **out, struct err *err)
{
    return store_open_ex(cfg, 0, out, err);
}

enum err_code store_open_ex(const struct config *cfg, unsigned flags, struct store **out,
                            struct err *err)
{
    enum err_code rc = E_OK;
    struct store *s = NULL;
    if (!cfg->store_dir[0])
        return err_set(err, E_INVALID, "no store directory configured");
    s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(err, E_NOMEM, "out of memory opening the store");
    s->cfg = *cfg;
    s->root_fd = s->obj_fd = s->meta_fd = s->tmp_fd = s->ses_fd = -1;
    if ((rc = store_mkdir_p(cfg->store_dir, err)))
        goto out;
    s->root_fd = open(cfg->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        rc = err_sys(err, E_IO, "cannot open store directory '%s'", cfg->store_dir);
        goto out;
    }
    if ((rc = store_subdir(s, STORE_DIR_OBJECTS, &s->obj_fd, err)) ||
        (rc = store_subdir(s, STORE_DIR_META, &s->meta_fd, err)) ||
        (rc = store_subdir(s, STORE_DIR_TMP, &s->tmp_fd, err)))
        goto out;
    store_sessions_open(s);
    if (!(flags & STORE_OPEN_NO_SWEEP))
        store_maybe_gc(s);
    *out = s;
    s = NULL;
out:
    store_free(s);
    return rc;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    store_close(s->ses_fd);
    store_close(s->tmp_fd);
    store_close(s->meta_fd);
    store_close(s->obj_fd);
    store_close(s->root_fd);
    free(s);
}

const char *store_root(const struct store *s)
{
    return s->cfg.store_dir;
}

static enum err_code store_write_all(int fd, const void *p, size_t n, const char *what,
                                     struct err *err)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(err, E_IO, "cannot write %s", what);
        }
        c += w;
        n -= (size_t)w;
    }
    return E_OK;
}

/* Copy in to out until EOF, hashing into md when not NULL. */
static enum err_code store_copy_fd(int in, int out, EVP_MD_CTX *md, uint64_t *total,
                                   const char *what, struct err *err)
{
    enum err_code rc = E_OK;
    uint64_t n = 0;
    char *chunk = malloc(LIM_STORE_COPY_CHUNK);
    if (!chunk)
        return err_set(err, E_NOMEM, "out of memory copying %s", what);
    for (;;) {
        ssize_t r = read(in, chunk, LIM_STORE_COPY_CHUNK);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = err_sys(err, E_IO, "cannot read %s", what);
            goto out;
        }
        if (r == 0)
            break;
        if (md && EVP_DigestUpdate(md, chunk, (size_t)r) != 1) {
            rc = err_set(err, E_INTERNAL, "sha256 update failed");
            goto out;
        }
        if ((rc = store_write_all(out, chunk, (size_t)r, what, err)))
            goto out;
        n += (uint64_t)r;
    }
    if (total)
        *total = n;
out:
    free(chunk);
    return rc;
}

static void store_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static enum err_code store_new_id(char *id, struct err *err)
{
    unsigned char rnd[LIM_STORE_ID_BYTES];
    size_t got = 0;
    while (got < sizeof(rnd)) {
        ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(err, E_IO, "getrandom failed");
        }
        got += (size_t)r;
    }
    id[0] = 'f';
    id[1] = '_';
    store_hex(rnd, sizeof(rnd), id + 2);
    return E_OK;
}

static void store_meta_name(const char *id, char *out)
{
    snprintf(out, STORE_NAME_MAX, "%s%s", id, STORE_META_SUFFIX);
}

/* Create tmp/<name> exclusively and hold an flock on it. A sweeper may
 * delete the file between open and flock (it looked abandoned); then the
 * name no longer refers to our inode and we create it again. */
static enum err_code store_tmp_create(struct store *s, const char *name, int *out, struct err *err)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd =
            openat(s->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return err_sys(err, E_IO, "cannot create a temp file in '%s/%s'", s->cfg.store_dir,
                           STORE_DIR_TMP);
        int r;
        while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
            ;
        if (r != 0) {
            err_sys(err, E_IO, "cannot lock a temp file in '%s/%s'", s->cfg.store_dir,
                    STORE_DIR_TMP);
            unlinkat(s->tmp_fd, name, 0);
            close(fd);
            return E_IO;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && fstatat(s->tmp_fd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
            a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            *out = fd;
            return E_OK;
        }
        close(fd);
    }
    return err_set(err, E_IO, "temp files in '%s/%s' keep vanishing", s->cfg.store_dir,
                   STORE_DIR_TMP);
}

static const char *store_scope_name(enum store_scope scope)
{
    return scope == STORE_SESSION ? "session" : "temporary";
}

/* The on-disk metadata document. */
static json_t *store_meta_disk_json(const struct store_meta *m)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "v", 1, "id", m->id,
                          "name", m->name, "size", (json_int_t)m->size, "mime", m->mime, "sha256",
                          m->sha256, "scope", store_scope_name(m->scope), "created",
                          (json_int_t)m->created, "expires", (json_int_t)m->expires);
    /* Orders entries stored within one second (a session's versions of a
     * file written by calls made back to back). */
    if (o && json_object_set_new(o, "createdNs", json_integer((json_int_t)m->created_ns))) {
        json_decref(o);
        return NULL;
    }
    if (o && m->session[0] && json_object_set_new(o, "session", json_string(m->session))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static bool store_json_str(json_t *o, const char *key, char *dst, size_t cap, bool required)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        dst[0] = '\0';
        return !required;
    }
    const char *s = json_string_value(v);
    if (!s || strlen(s) >= cap)
        return false;
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

static bool store_json_int(json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

enum err_code store_meta_load(struct store *s, const char *id, struct store_meta *meta,
                              struct err *err)
{
    enum err_code rc = E_OK;
    int fd = -1;
    json_t *j = NULL;
    char name[STORE_NAME_MAX];
    char raw[LIM_STORE_META_BYTES + 1];
    size_t len = 0;
    struct store_meta m;
    char scope[16];
    int64_t size = 0;

    if (!store_valid_id(id))
        return err_set(err, E_NOTFOUND, "file not found (malformed id)");
    store_meta_name(id, name);
    fd = openat(s->meta_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return err_set(err, E_NOTFOUND, "file '%s' not found (it may have expired)", id);
        return err_sys(err, E_IO, "cannot open the metadata of '%s'", id);
    }
    for (;;) {
        ssize_t r = read(fd, raw + len, sizeof(raw) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_sys(err, E_IO, "cannot read the metadata of '%s'", id);
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == sizeof(raw)) {
            rc = err_set(err, E_PARSE, "metadata of '%s' is too large", id);
            goto out;
        }
    }
    j = json_loadb(raw, len, JSON_REJECT_DUPLICATES, NULL);
    memset(&m, 0, sizeof(m));
    if (!json_is_object(j) || !store_json_str(j, "id", m.id, sizeof(m.id), true) ||
        strcmp(m.id, id) || !store_json_str(j, "name", m.name, sizeof(m.name), true) ||
        !store_json_str(j, "mime", m.mime, sizeof(m.mime), true) ||
        !store_json_str(j, "sha256", m.sha256, sizeof(m.sha256), true) ||
        !store_json_str(j, "scope", scope, sizeof(scope), true) ||
        !store_json_str(j, "session", m.session, sizeof(m.session), false) ||
        !store_json_int(j, "size", &size) || size < 0 ||
        !store_json_int(j, "created", &m.created) || !store_json_int(j, "expires", &m.expires)) {
        rc = err_set(err, E_PARSE, "metadata of '%s' is unreadable", id);
        goto out;
    }
    if (json_object_get(j, "createdNs") && (!store_json_int(j, "createdNs", &m.created_ns) ||
                                            m.created_ns < 0 || m.created_ns > 999999999)) {
        rc = err_set(err, E_PARSE, "metadata of '%s' is unreadable", id);
        goto out;
    }
    if (!strcmp(scope, "session")) {
        m.scope = STORE_SESSION;
    } else if (!strcmp(scope, "temporary")) {
        m.scope = STORE_TEMPORARY;
    } else {
        rc = err_set(err, E_PARSE, "metadata of '%s' has an unknown scope", id);
        goto out;
    }
    m.size = (uint64_t)size;
    *meta = m;
out:
    json_decref(j);
    store_close(fd);
    return rc;
}

/* Load a live entry: E_NOTFOUND when malformed, absent or expired. */
static enum err_code store_live(struct store *s, const char *id, struct store_meta *meta,
                                struct err *err)
{
    struct store_meta m;
    enum err_code rc = store_meta_load(s, id, &m, err);
    if (rc == E_PARSE)
        return err_set(err, E_IO, "the metadata of '%s' is unreadable", id);
    if (rc)
        return rc;
    if (m.expires <= store_now(s))
        return err_set(err, E_NOTFOUND, "file '%s' not found (it may have expired)", id);
    *meta = m;
    return E_OK;
}

/* Open objects/<id> and check it against meta. */
static enum err_code store_open_obj(struct store *s, const struct store_meta *m, int *out,
                                    struct err *err)
{
    int fd = openat(s->obj_fd, m->id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return err_set(err, E_NOTFOUND, "file '%s' not found (it may have expired)", m->id);
        return err_sys(err, E_IO, "cannot open the data of '%s'", m->id);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != m->size) {
        close(fd);
        return err_set(err, E_IO, "the data of '%s' does not match its metadata", m->id);
    }
    *out = fd;
    return E_OK;
}

enum err_code store_stat(struct store *s, const char *id, struct store_meta *meta, struct err *err)
{
    return store_live(s, id, meta, err);
}

enum err_code store_open_data(struct store *s, const char *id, struct store_meta *meta, int *fd,
                              struct err *err)
{
    struct store_meta m;
    enum err_code rc = store_live(s, id, &m, err);
    if (rc)
        return rc;
    if ((rc = store_open_obj(s, &m, fd, err)))
        return rc;
    if (meta)
        *meta = m;
    return E_OK;
}

enum err_code store_copy_out(struct store *s, const char *id, const char *dst_path, struct err *err)
{
    enum err_code rc = E_OK;
    int in = -1, out = -1;
    bool created = false;
    struct store_meta m;
    uint64_t n = 0;
    if ((rc = store_open_data(s, id, &m, &in, err)))
        goto out;
    out = open(dst_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0) {
        rc = err_sys(err, E_IO, "cannot create '%s'", dst_path);
        goto out;
    }
    created = true;
    if ((rc = store_copy_fd(in, out, NULL, &n, "the stored file", err)))
        goto out;
    if (n != m.size) {
        rc = err_set(err, E_IO, "the data of '%s' changed while copying", id);
        goto out;
    }
    int c = close(out);
    out = -1;
    if (c != 0)
        rc = err_sys(err, E_IO, "cannot write '%s'", dst_path);
out:
    store_close(out);
    if (rc && created)
        unlink(dst_path);
    store_close(in);
    return rc;
}

typedef enum err_code (*store_each_fn)(void *ctx, const struct store_meta *m, struct err *err);

/* The next "<id><suffix>" of the listing d (true, id set), or false at its
 * end, with *failed set when reading it failed. Other names are passed. */
static bool store_next_id(DIR *d, const char *suffix, char *id, bool *failed)
{
    size_t sl = strlen(suffix);
    struct dirent *e;
    for (;;) {
        errno = 0;
        if (!(e = readdir(d))) {
            *failed = errno != 0;
            return false;
        }
        if (strlen(e->d_name) != STORE_ID_LEN + sl || strcmp(e->d_name + STORE_ID_LEN, suffix))
            continue;
        memcpy(id, e->d_name, STORE_ID_LEN);
        id[STORE_ID_LEN] = '\0';
        if (store_valid_id(id))
            return true;
    }
}

/* fn for entry id when it is live, its data exists and (session !=
 * NULL) it is of that session; nothing for an entry that vanished. */
static enum err_code store_each_one(struct store *s, const char *id, const char *session,
                                    int64_t now, store_each_fn fn, void *ctx, struct err *err)
{
    struct store_meta m;
    struct err le;
    enum err_code lrc = store_meta_load(s, id, &m, &le);
    if (lrc == E_NOTFOUND)
        return E_OK;
    if (lrc) {
        log_warn("store: skipping '%s': %s", id, le.msg);
        return E_OK;
    }
    struct stat st;
    if (m.expires <= now || (session && strcmp(session, m.session)) ||
        fstatat(s->obj_fd, id, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return E_OK;
    return fn(ctx, &m, err);
}

/* Call fn for each live entry whose data exists; of one session when
 * session != NULL, read from its index (sessions/<session>/), not from the
 * whole store. Entries that vanish meanwhile are skipped. */
static enum err_code store_each_live(struct store *s, const char *session, store_each_fn fn,
                                     void *ctx, struct err *err)
{
    enum err_code rc = E_OK;
    int64_t now = store_now(s);
    DIR *d;
    if (session && s->ses_fd >= 0) {
        if (!store_valid_session(session))
            return E_OK; /* no entry has it */
        int fd = openat(s->ses_fd, session, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT)
            return E_OK;
        if (fd < 0 || !(d = fdopendir(fd))) {
            rc = err_sys(err, E_IO, "cannot list '%s/%s/%s'", s->cfg.store_dir, STORE_DIR_SESSIONS,
                         session);
            store_close(fd);
            return rc;
        }
    } else if (!(d = store_opendir(s->meta_fd))) {
        return err_sys(err, E_IO, "cannot list '%s/%s'", s->cfg.store_dir, STORE_DIR_META);
    }
    bool indexed = session && s->ses_fd >= 0, failed = false;
    char id[STORE_ID_LEN + 1];
    while (store_next_id(d, indexed ? "" : STORE_META_SUFFIX, id, &failed))
        if ((rc = store_each_one(s, id, session, now, fn, ctx, err)))
            break;
    if (!rc && failed)
        rc = err_sys(err, E_IO, "cannot list the store's %s",
                     indexed ? "session index" : "metadata");
    closedir(d);
    return rc;
}

static int store_cmp_newest(const void *a, const void *b)
{
    const struct store_meta *x = a, *y = b;
    if (x->created != y->created)
        return x->created > y->created ? -1 : 1;
    if (x->created_ns != y->created_ns)
        return x->created_ns > y->created_ns ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Session writers take turns (quota check and commit are one step): the
 * store's session lock, held until *fd is closed. */
static enum err_code store_session_lock(struct store *s, const char *session, int *fd,
                                        struct err *err)
{
    *fd = openat(s->root_fd, STORE_FILE_SESSION_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                 0600);
    if (*fd < 0 || flock(*fd, LOCK_EX) != 0)
        return err_sys(err, E_IO, "cannot lock the store %s%s%s", session ? "for session '" : "",
                       session ? session : "to build its session index", session ? "'" : "");
    return E_OK;
}

/* dfd/<session>/<id> (an index entry), the session's directory made when
 * missing; with sync, both on disk when this returns. A sweep may remove
 * the directory (it looked empty) between making it and the entry: then it
 * is made again. 0, or -1 with errno set. */
static int store_index_put(int dfd, const char *session, const char *id, bool sync)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        bool made = mkdirat(dfd, session, 0700) == 0;
        if (!made && errno != EEXIST)
            return -1;
        int sfd = openat(dfd, session, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sfd < 0 && errno == ENOENT)
            continue;
        if (sfd < 0)
            return -1;
        /* in a directory removed meanwhile, ENOENT: made again */
        int fd = openat(sfd, id, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        int rc = fd < 0 ? -1 : 0;
        store_close(fd);
        if (rc == 0 && sync && (fsync(sfd) != 0 || (made && fsync(dfd) != 0)))
            rc = -1;
        int e = errno;
        close(sfd);
        errno = e;
        if (rc == 0 || e != ENOENT)
            return rc;
    }
    errno = ENOENT;
    return -1;
}

enum err_code store_index_add(struct store *s, const char *session, const char *id, struct err *err)
{
    if (s->ses_fd < 0)
        return E_OK; /* no index: sessions are read from meta/ */
    if (store_index_put(s->ses_fd, session, id, true) != 0)
        return err_sys(err, E_IO, "cannot add '%s' to '%s/%s/%s'", id, s->cfg.store_dir,
                       STORE_DIR_SESSIONS, session);
    return E_OK;
}

void store_index_ensure(struct store *s, const char *session, const char *id)
{
    char path[LIM_SESSION_ID_LEN + STORE_ID_LEN + 4];
    struct stat st;
    struct err e;
    if (!session[0] || !store_valid_session(session) || s->ses_fd < 0)
        return;
    snprintf(path, sizeof(path), "%s/%s", session, id);
    if (fstatat(s->ses_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
        return;
    if (store_index_add(s, session, id, &e) == E_OK)
        log_info("store: '%s' added to the index of session '%s'", id, session);
    else
        log_warn("store: %s", e.msg);
}

void store_index_drop(struct store *s, const char *session, const char *id)
{
    char path[LIM_SESSION_ID_LEN + STORE_ID_LEN + 4];
    if (!session[0] || !store_valid_session(session) || s->ses_fd < 0)
        return;
    snprintf(path, sizeof(path), "%s/%s", session, id);
    if (unlinkat(s->ses_fd, path, 0) != 0 && errno != ENOENT)
        log_warn("store: cannot remove '%s/%s/%s': %s", s->cfg.store_dir, STORE_DIR_SESSIONS, path,
                 strerror(errno));
}

/* Empty a sessions directory tree (two levels: a directory per session, an
 * empty file per entry) that a killed build left. */
static void store_index_clear(int dfd)
{
    DIR *d = store_opendir(dfd);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *d2 = sub >= 0 ? fdopendir(sub) : NULL;
        struct dirent *f;
        while (d2 && (f = readdir(d2)) != NULL)
            if (strcmp(f->d_name, ".") && strcmp(f->d_name, ".."))
                unlinkat(sub, f->d_name, 0);
        if (d2)
            closedir(d2);
        else
            store_close(sub);
        if (unlinkat(dfd, e->d_name, AT_REMOVEDIR) != 0)
            unlinkat(dfd, e->d_name, 0);
    }
    if (d)
        closedir(d);
}

/* fsync every session directory under dfd. 0, or -1 with errno set. */
static int store_index_sync(int dfd)
{
    DIR *d = store_opendir(dfd);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int sfd = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sfd < 0 || fsync(sfd) != 0)
            rc = -1;
        store_close(sfd);
    }
    closedir(d);
    return rc;
}

/* Index every entry of meta/ that has a session into dfd. An entry whose
 * metadata cannot be read now is left out (and said): the sweep, which
 * reads every entry, adds it when it can. */
static enum err_code store_index_build(struct store *s, int dfd, struct err *err)
{
    enum err_code rc = E_OK;
    DIR *d = store_opendir(s->meta_fd);
    if (!d)
        return err_sys(err, E_IO, "cannot list '%s/%s'", s->cfg.store_dir, STORE_DIR_META);
    bool failed = false;
    char id[STORE_ID_LEN + 1];
    while (store_next_id(d, STORE_META_SUFFIX, id, &failed)) {
        struct store_meta m;
        struct err le;
        enum err_code lrc = store_meta_load(s, id, &m, &le);
        if (lrc && lrc != E_NOTFOUND)
            log_warn("store: '%s' left out of the session index for now: %s", id, le.msg);
        if (lrc || !m.session[0] || !store_valid_session(m.session))
            continue;
        if (store_index_put(dfd, m.session, id, false) != 0) {
            rc = err_sys(err, E_IO, "cannot index the sessions of '%s'", s->cfg.store_dir);
            break;
        }
    }
    if (!rc && failed)
        rc = err_sys(err, E_IO, "cannot list '%s/%s'", s->cfg.store_dir, STORE_DIR_META);
    closedir(d);
    if (!rc && store_index_sync(dfd) != 0)
        rc = err_sys(err, E_IO, "cannot sync the session index of '%s'", s->cfg.store_dir);
    return rc;
}

/* Open sessions/, building it first in a store that has none (an older
 * kiln's, or a new one): in sessions.new, renamed into place when whole,
 * under the session lock (writers of session entries wait for it). */
static enum err_code store_sessions_try(struct store *s, struct err *err)
{
    const int dflags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
    if ((s->ses_fd = openat(s->root_fd, STORE_DIR_SESSIONS, dflags)) >= 0)
        return E_OK;
    if (errno != ENOENT)
        return err_sys(err, E_IO, "cannot open '%s/%s'", s->cfg.store_dir, STORE_DIR_SESSIONS);
    int lock = -1, nfd = -1;
    enum err_code rc = store_session_lock(s, NULL, &lock, err);
    if (rc || (s->ses_fd = openat(s->root_fd, STORE_DIR_SESSIONS, dflags)) >= 0)
        goto out;
    if ((nfd = openat(s->root_fd, STORE_DIR_SESSIONS_NEW, dflags)) >= 0) {
        store_index_clear(nfd); /* a killed build's */
        close(nfd);
        unlinkat(s->root_fd, STORE_DIR_SESSIONS_NEW, AT_REMOVEDIR);
    }
    if ((mkdirat(s->root_fd, STORE_DIR_SESSIONS_NEW, 0700) != 0 && errno != EEXIST) ||
        (nfd = openat(s->root_fd, STORE_DIR_SESSIONS_NEW, dflags)) < 0) {
        rc = err_sys(err, E_IO, "cannot create '%s/%s'", s->cfg.store_dir, STORE_DIR_SESSIONS_NEW);
        goto out;
    }
    if ((rc = store_index_build(s, nfd, err)))
        goto out;
    if (fsync(nfd) != 0 ||
        renameat(s->root_fd, STORE_DIR_SESSIONS_NEW, s->root_fd, STORE_DIR_SESSIONS) != 0 ||
        fsync(s->root_fd) != 0 || (s->ses_fd = openat(s->root_fd, STORE_DIR_SESSIONS, dflags)) < 0)
        rc =
            err_sys(err, E_IO, "cannot put '%s/%s' in place", s->cfg.store_dir, STORE_DIR_SESSIONS);
out:
    store_close(nfd);
    store_close(lock);
    return rc;
}

/* The index, or none (a store kiln cannot write, sessions/ not a
 * directory): then a session's files are found by reading every file's
 * metadata, as slow as that is, and said once per open. */
static void store_sessions_open(struct store *s)
{
    struct err e;
    if (store_sessions_try(s, &e) == E_OK)
        return;
    store_close(s->ses_fd);
    s->ses_fd = -1;
    log_warn("store: no session index (%s): a session's files are found by reading the "
             "metadata of every stored file",
             e.msg);
}

/* One walk over a session as file m (new, or being forgotten) changes it:
 * the files of other names (what the quota counts), and the ids of m's
 * name that are older than m (and m itself when inclusive), which go. A
 * newer one, stored meanwhile by another call, stays. */
struct store_scan {
    const struct store_meta *m;
    bool inclusive;
    uint64_t bytes;
    size_t files;
    struct buf older; /* of char[STORE_ID_LEN + 1] */
};

static enum err_code store_scan_add(void *ctx, const struct store_meta *e, struct err *err)
{
    struct store_scan *sc = ctx;
    if (e->scope != STORE_SESSION)
        return E_OK;
    if (strcmp(e->name, sc->m->name)) {
        sc->bytes += e->size;
        sc->files++;
        return E_OK;
    }
    int c = store_cmp_newest(e, sc->m); /* > 0: e is older */
    if (c < 0 || (c == 0 && !sc->inclusive))
        return E_OK;
    return buf_append(&sc->older, e->id, STORE_ID_LEN + 1, err);
}

static enum err_code store_scan(struct store *s, const struct store_meta *m, bool inclusive,
                                struct store_scan *sc, struct err *err)
{
    *sc = (struct store_scan){m, inclusive, 0, 0, {0}};
    buf_init(&sc->older, (size_t)LIM_STORE_LIST_ENTRIES * (STORE_ID_LEN + 1));
    enum err_code rc = store_each_live(s, m->session, store_scan_add, sc, err);
    if (rc)
        buf_release(&sc->older);
    return rc;
}

/* Remove the ids a scan found older, and release it. Best effort: a
 * failure is logged. */
static void store_scan_drop(struct store *s, struct store_scan *sc)
{
    struct err err;
    for (size_t off = 0; off + STORE_ID_LEN + 1 <= sc->older.len; off += STORE_ID_LEN + 1) {
        enum err_code rc = store_rm(s, sc->older.data + off, &err);
        if (rc && rc != E_NOTFOUND)
            log_warn("store: cannot remove '%s': %s", sc->older.data + off, err.msg);
    }
    buf_release(&sc->older);
}

enum err_code store_session_forget(struct store *s, const struct store_meta *m, struct err *err)
{
    int fd = -1;
    struct store_scan sc;
    if (m->scope != STORE_SESSION || !*m->session)
        return err_set(err, E_INVALID, "'%s' is not a session file", m->id);
    enum err_code rc = store_session_lock(s, m->session, &fd, err);
    if (!rc && !(rc = store_scan(s, m, true, &sc, err)))
        store_scan_drop(s, &sc);
    store_close(fd);
    return rc;
}

/* E_OUTPUT_LIMIT when adding size bytes to what a scan counted would take
 * the session over its quota (a quota of 0 means none). */
static enum err_code store_check_quota(const struct store *s, const struct store_scan *sc,
                                       uint64_t size, struct err *err)
{
    long qb = s->cfg.session_quota_bytes, qf = s->cfg.session_quota_files;
    const char *session = sc->m->session;
    if (qf > 0 && sc->files + 1 > (size_t)qf)
        return err_set(err, E_OUTPUT_LIMIT,
                       "session '%s' is over its quota: it already holds %zu files (limit %ld)",
                       session, sc->files, qf);
    if (qb > 0 && sc->bytes + size > (uint64_t)qb)
        return err_set(err, E_OUTPUT_LIMIT,
                       "session '%s' is over its quota: %llu bytes stored + %llu new > limit "
                       "%ld bytes",
                       session, (unsigned long long)sc->bytes, (unsigned long long)size, qb);
    return E_OK;
}

static bool store_has_quota(const struct store *s)
{
    return s->cfg.session_quota_bytes > 0 || s->cfg.session_quota_files > 0;
}

enum err_code store_put_file(struct store *s, const char *src_path, const char *name,
                             const char *mime, enum store_scope scope, const char *session,
                             struct store_meta *meta, struct err *err)
{
    enum err_code rc = E_OK;
    int src = -1, dfd = -1, mfd = -1, lock_fd = -1;
    EVP_MD_CTX *md = NULL;
    json_t *j = NULL;
    char *doc = NULL;
    bool data_tmp = false, meta_tmp = false, data_placed = false, scanned = false;
    bool indexed = false;
    struct store_scan sc;
    char dname[STORE_NAME_MAX], mname[STORE_NAME_MAX], mfinal[STORE_NAME_MAX];
    struct store_meta m;
    struct stat st;
    struct timespec ts;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    uint64_t size = 0;

    memset(&m, 0, sizeof(m));
    if (!name || !*name || strlen(name) > LIM_FILE_NAME_LEN)
        return err_set(err, E_INVALID, "a stored file needs a name of 1 to %d bytes",
                       LIM_FILE_NAME_LEN);
    if (!store_printable(name))
        return err_set(err, E_INVALID, "a stored file's name must not hold a control character");
    if (!store_utf8(name))
        return err_set(err, E_INVALID, "a stored file's name must be valid UTF-8");
    if (scope != STORE_TEMPORARY && scope != STORE_SESSION)
        return err_set(err, E_INTERNAL, "unknown store scope %d", (int)scope);
    if (scope == STORE_SESSION && (!session || !*session))
        return err_set(err, E_INVALID, "the session scope needs a session id");
    if (session && *session && !store_valid_session(session))
        return err_set(err, E_INVALID, "malformed session id");
    if (mime &&
        (!*mime || strlen(mime) >= sizeof(m.mime) || !store_printable(mime) || !store_utf8(mime)))
        return err_set(err, E_INVALID, "malformed MIME type");
    memcpy(m.name, name, strlen(name) + 1);
    const char *mt = mime ? mime : store_mime_for_name(name);
    memcpy(m.mime, mt, strlen(mt) + 1);
    if (session)
        memcpy(m.session, session, strlen(session) + 1);
    m.scope = scope;

    src = open(src_path, O_RDONLY | O_CLOEXEC);
    if (src < 0) {
        rc = err_sys(err, E_IO, "cannot open '%s'", src_path);
        goto out;
    }
    if (fstat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = err_set(err, E_INVALID, "'%s' is not a regular file", src_path);
        goto out;
    }
    /* Fail early, before copying, when the quota is already exhausted (m
     * has no time yet: the scan finds nothing older to drop). */
    if (scope == STORE_SESSION && store_has_quota(s)) {
        if ((rc = store_scan(s, &m, false, &sc, err)))
            goto out;
        rc = store_check_quota(s, &sc, (uint64_t)st.st_size, err);
        buf_release(&sc.older);
        if (rc)
            goto out;
    }

    if ((rc = store_new_id(m.id, err)))
        goto out;
    snprintf(dname, sizeof(dname), "%s.data", m.id);
    snprintf(mname, sizeof(mname), "%s.meta", m.id);
    store_meta_name(m.id, mfinal);

    if ((rc = store_tmp_create(s, dname, &dfd, err)))
        goto out;
    data_tmp = true;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = err_set(err, E_NOMEM, "cannot set up sha256");
        goto out;
    }
    if ((rc = store_copy_fd(src, dfd, md, &size, "the file to store", err)))
        goto out;
    if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 32) {
        rc = err_set(err, E_INTERNAL, "sha256 failed");
        goto out;
    }
    store_hex(digest, dlen, m.sha256);
    if (fsync(dfd) != 0) {
        rc = err_sys(err, E_IO, "cannot sync a stored file");
        goto out;
    }
    m.size = size;
    clock_gettime(CLOCK_REALTIME, &ts);
    m.created = (int64_t)ts.tv_sec + s->skew_s;
    m.created_ns = (int64_t)ts.tv_nsec;
    /* Round up so an entry lives at least its whole TTL. */
    m.expires = m.created + (ts.tv_nsec > 0 ? 1 : 0) +
                (scope == STORE_SESSION ? s->cfg.ttl_session_s : s->cfg.ttl_temporary_s);

    if (!(j = store_meta_disk_json(&m)) || !(doc = json_dumps(j, JSON_COMPACT))) {
        rc = err_set(err, E_NOMEM, "cannot build the metadata of a stored file");
        goto out;
    }
    if ((rc = store_tmp_create(s, mname, &mfd, err)))
        goto out;
    meta_tmp = true;
    if ((rc = store_write_all(mfd, doc, strlen(doc), "metadata", err)))
        goto out;
    if (fsync(mfd) != 0) {
        rc = err_sys(err, E_IO, "cannot sync metadata");
        goto out;
    }

    if (scope == STORE_SESSION) {
        /* Quota check, commit and the replacing are one step. */
        if ((rc = store_session_lock(s, session, &lock_fd, err)) ||
            (rc = store_scan(s, &m, false, &sc, err)))
            goto out;
        scanned = true;
        if ((rc = store_check_quota(s, &sc, size, err)))
            goto out;
    }

    if (renameat(s->tmp_fd, dname, s->obj_fd, m.id) != 0) {
        rc = err_sys(err, E_IO, "cannot move a stored file into place");
        goto out;
    }
    data_tmp = false;
    data_placed = true;
    if (fsync(s->obj_fd) != 0) {
        rc = err_sys(err, E_IO, "cannot sync '%s/%s'", s->cfg.store_dir, STORE_DIR_OBJECTS);
        goto out;
    }
    if (m.session[0]) {
        if ((rc = store_index_add(s, m.session, m.id, err)))
            goto out;
        indexed = true;
    }
    /* The commit point: from here on the id exists. */
    if (renameat(s->tmp_fd, mname, s->meta_fd, mfinal) != 0) {
        rc = err_sys(err, E_IO, "cannot move metadata into place");
        goto out;
    }
    meta_tmp = false;
    data_placed = false;
    indexed = false;
    if (fsync(s->meta_fd) != 0)
        log_warn("store: cannot sync '%s/%s': %s", s->cfg.store_dir, STORE_DIR_META,
                 strerror(errno));
    if (meta)
        *meta = m;
    /* A session holds one file per name: the earlier ones are replaced. */
    if (scanned) {
        store_scan_drop(s, &sc);
        scanned = false;
    }
out:
    if (scanned)
        buf_release(&sc.older);
    if (meta_tmp)
        unlinkat(s->tmp_fd, mname, 0);
    if (data_tmp)
        unlinkat(s->tmp_fd, dname, 0);
    if (data_placed)
        unlinkat(s->obj_fd, m.id, 0);
    if (indexed)
        store_index_drop(s, m.session, m.id);
    store_close(lock_fd);
    store_close(mfd);
    store_close(dfd);
    free(doc);
    json_decref(j);
    EVP_MD_CTX_free(md);
    store_close(src);
    return rc;
}

static enum err_code store_list_add(void *ctx, const struct store_meta *m, struct err *err)
{
    struct buf *b = ctx;
    enum err_code rc = buf_append(b, m, sizeof(*m), err);
    if (rc == E_LIMIT)
        return err_set(err, E_LIMIT, "the store holds more than %ld files; run 'kiln gc'",
                       (long)LIM_STORE_LIST_ENTRIES);
    return rc;
}

enum err_code store_list(struct store *s, const char *session, struct store_meta **v, size_t *n,
                         struct err *err)
{
    struct buf b;
    struct err le;
    enum err_code rc;
    buf_init(&b, (size_t)LIM_STORE_LIST_ENTRIES * sizeof(struct store_meta));
    err_clear(&le);
    rc = store_each_live(s, session, store_list_add, &b, &le);
    if (rc) {
        buf_release(&b);
        if (err)
            *err = le;
        return rc;
    }
    size_t len = 0;
    struct store_meta *arr = (struct store_meta *)(void *)buf_take(&b, &len);
    size_t count = len / sizeof(struct store_meta);
    if (count > 1)
        qsort(arr, count, sizeof(*arr), store_cmp_newest);
    if (!arr) {
        arr = malloc(sizeof(*arr));
        if (!arr)
            return err_set(err, E_NOMEM, "out of memory listing the store");
    }
    *v = arr;
    *n = count;
    return E_OK;
}

enum err_code store_rm(struct store *s, const char *id, struct err *err)
{
    struct store_meta m;
    char name[STORE_NAME_MAX];
    enum err_code rc = store_meta_load(s, id, &m, err);
    if (rc == E_NOTFOUND || rc == E_IO)
        return rc;
    bool live = rc == E_OK && m.expires > store_now(s);
    store_meta_name(id, name);
    if (unlinkat(s->meta_fd, name, 0) != 0) {
        if (errno == ENOENT)
            return err_set(err, E_NOTFOUND, "file '%s' not found (it may have expired)", id);
        return err_sys(err, E_IO, "cannot remove the metadata of '%s'", id);
    }
    if (unlinkat(s->obj_fd, id, 0) != 0 && errno != ENOENT)
        log_warn("store: cannot remove the data of '%s': %s", id, strerror(errno));
    if (rc == E_OK)
        store_index_drop(s, m.session, id);
    if (!live)
        return err_set(err, E_NOTFOUND, "file '%s' not found (it may have expired)", id);
    return E_OK;
}

json_t *store_meta_json(const struct store_meta *meta)
{
    char when[32];
    struct tm tm;
    time_t t = (time_t)meta->expires;
    if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
        when[0] = '\0';
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "id", meta->id, "name", meta->name,
                          "size", (json_int_t)meta->size, "mimeType", meta->mime, "scope",
                          store_scope_name(meta->scope), "expiresAt", when, "sha256", meta->sha256);
    if (o && meta->session[0])
        json_object_set_new(o, "session", json_string(meta->session));
    return o;
}
