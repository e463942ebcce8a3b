/*
 * store_gc: the TTL sweep of the store (layout in store_int.h).
 *
 * Order of removal mirrors the order of creation in reverse: metadata first
 * (the entry disappears), then its data. A sweep never removes an entry
 * whose metadata says it is live, nor a temp file whose writer still holds
 * its lock. Sweeps are serialised by an flock on gc.lock; several processes
 * may sweep, write and read at once.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scratch.h"
#include "store_int.h"

#include "banned.h"

struct store_gc_tally {
    size_t removed;
    uint64_t bytes;
};

/* Split "<id><suffix>" into id; false when the name is not of that form. */
static bool store_gc_split(const char *name, const char *suffix, char *id)
{
    size_t n = strlen(name), sl = strlen(suffix);
    if (n != STORE_ID_LEN + sl || strcmp(name + STORE_ID_LEN, suffix))
        return false;
    memcpy(id, name, STORE_ID_LEN);
    id[STORE_ID_LEN] = '\0';
    return store_valid_id(id);
}

/* Remove objects/<id>, counting its bytes; true when it was removed. */
static bool store_gc_drop_data(struct store *s, const char *id, struct store_gc_tally *t)
{
    struct stat st;
    uint64_t size = 0;
    if (fstatat(s->obj_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
        size = (uint64_t)st.st_size;
    if (unlinkat(s->obj_fd, id, 0) == 0) {
        t->bytes += size;
        return true;
    }
    if (errno != ENOENT)
        log_warn("store: cannot remove the data of '%s': %s", id, strerror(errno));
    return false;
}

/* Expired entries, and metadata that stayed unreadable for a long time. */
static enum err_code store_gc_meta(struct store *s, struct store_gc_tally *t, struct err *err)
{
    int64_t now = store_now(s);
    DIR *d = store_opendir(s->meta_fd);
    if (!d)
        return err_sys(err, E_IO, "cannot list '%s/%s'", s->cfg.store_dir, STORE_DIR_META);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char id[STORE_ID_LEN + 1];
        if (!store_gc_split(e->d_name, STORE_META_SUFFIX, id))
            continue;
        struct store_meta m;
        struct err le;
        enum err_code rc = store_meta_load(s, id, &m, &le);
        if (rc == E_NOTFOUND)
            continue;
        if (rc == E_PARSE) {
            struct stat st;
            if (fstatat(s->meta_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                (int64_t)st.st_mtime + LIM_STORE_STALE_S > (int64_t)time(NULL))
                continue;
            log_warn("store: removing '%s': %s", id, le.msg);
        } else if (rc) {
            log_warn("store: skipping '%s': %s", id, le.msg);
            continue;
        } else if (m.expires > now) {
            store_index_ensure(s, m.session, id); /* live */
            continue;
        }
        if (unlinkat(s->meta_fd, e->d_name, 0) != 0) {
            if (errno != ENOENT)
                log_warn("store: cannot remove the metadata of '%s': %s", id, strerror(errno));
            continue;
        }
        store_gc_drop_data(s, id, t);
        if (rc == E_OK)
            store_index_drop(s, m.session, id);
        t->removed++;
    }
    closedir(d);
    return E_OK;
}

/* Temp files whose writer is gone (nobody holds their lock). */
static enum err_code store_gc_tmp(struct store *s, struct store_gc_tally *t, struct err *err)
{
    DIR *d = store_opendir(s->tmp_fd);
    if (!d)
        return err_sys(err, E_IO, "cannot list '%s/%s'", s->cfg.store_dir, STORE_DIR_TMP);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int fd = openat(s->tmp_fd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) {
            if (errno == ELOOP && unlinkat(s->tmp_fd, e->d_name, 0) == 0)
                t->removed++; /* a symlink has no business here */
            continue;
        }
        struct stat a, b;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
            fstatat(s->tmp_fd, e->d_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev && unlinkat(s->tmp_fd, e->d_name, 0) == 0) {
            t->removed++;
            t->bytes += (uint64_t)a.st_size;
        }
        close(fd); /* releases the lock only after the unlink */
    }
    closedir(d);
    return E_OK;
}

/* True while a writer holds tmp/<id>.meta, i.e. is between moving the data
 * into place and committing the metadata. */
static bool store_gc_writer_active(struct store *s, const char *id)
{
    char name[STORE_ID_LEN + 16];
    snprintf(name, sizeof(name), "%s.meta", id);
    int fd = openat(s->tmp_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return false;
    bool busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return busy;
}

static bool store_gc_has_meta(struct store *s, const char *id)
{
    char name[STORE_ID_LEN + 16];
    struct stat st;
    snprintf(name, sizeof(name), "%s%s", id, STORE_META_SUFFIX);
    return fstatat(s->meta_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/* Data without metadata: a writer killed between its two renames, or a
 * remover killed between its two unlinks. */
static enum err_code store_gc_orphans(struct store *s, struct store_gc_tally *t, struct err *err)
{
    DIR *d = store_opendir(s->obj_fd);
    if (!d)
        return err_sys(err, E_IO, "cannot list '%s/%s'", s->cfg.store_dir, STORE_DIR_OBJECTS);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!store_valid_id(e->d_name))
            continue;
        /* Check the writer before re-checking the metadata: a writer
         * commits (renames its metadata) before it drops its lock. */
        if (store_gc_has_meta(s, e->d_name) || store_gc_writer_active(s, e->d_name) ||
            store_gc_has_meta(s, e->d_name))
            continue;
        if (store_gc_drop_data(s, e->d_name, t))
            t->removed++;
    }
    closedir(d);
    return E_OK;
}

/* Index entries without metadata (a writer killed before its commit, a
 * remover killed before dropping it), and the sessions left empty. */
static enum err_code store_gc_sessions(struct store *s, struct err *err)
{
    if (s->ses_fd < 0)
        return E_OK;
    DIR *d = store_opendir(s->ses_fd);
    if (!d)
        return err_sys(err, E_IO, "cannot list '%s/%s'", s->cfg.store_dir, STORE_DIR_SESSIONS);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int sub = openat(s->ses_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *d2 = sub >= 0 ? fdopendir(sub) : NULL;
        if (!d2) {
            if (sub >= 0)
                close(sub);
            else if (errno == ENOTDIR || errno == ELOOP)
                unlinkat(s->ses_fd, e->d_name, 0); /* no business here */
            continue;
        }
        struct dirent *f;
        while ((f = readdir(d2)) != NULL) {
            if (!strcmp(f->d_name, ".") || !strcmp(f->d_name, ".."))
                continue;
            /* As for orphans: the writer's lock is checked between two
             * looks at the metadata (it commits before unlocking). */
            if (store_valid_id(f->d_name) &&
                (store_gc_has_meta(s, f->d_name) || store_gc_writer_active(s, f->d_name) ||
                 store_gc_has_meta(s, f->d_name)))
                continue;
            unlinkat(sub, f->d_name, 0); /* not a file of the user's: not counted */
        }
        closedir(d2);
        /* fails while it holds entries (ENOTEMPTY): a writer that just
         * made it and loses it makes it again */
        unlinkat(s->ses_fd, e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
    return E_OK;
}

static void store_gc_touch(struct store *s)
{
    int fd =
        openat(s->root_fd, STORE_FILE_LAST_GC, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_warn("store: cannot update '%s/%s': %s", s->cfg.store_dir, STORE_FILE_LAST_GC,
                 strerror(errno));
        return;
    }
    if (futimens(fd, NULL) != 0)
        log_warn("store: cannot update '%s/%s': %s", s->cfg.store_dir, STORE_FILE_LAST_GC,
                 strerror(errno));
    close(fd);
}

static bool store_gc_recent(struct store *s)
{
    struct stat st;
    if (fstatat(s->root_fd, STORE_FILE_LAST_GC, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return false;
    time_t now = time(NULL);
    return st.st_mtime <= now && now - st.st_mtime < LIM_STORE_GC_INTERVAL_S;
}

enum err_code store_gc_run(struct store *s, bool wait, size_t *removed, uint64_t *bytes,
                           struct err *err)
{
    enum err_code rc = E_OK;
    struct store_gc_tally t = {0, 0};
    int lock =
        openat(s->root_fd, STORE_FILE_GC_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0)
        return err_sys(err, E_IO, "cannot open '%s/%s'", s->cfg.store_dir, STORE_FILE_GC_LOCK);
    int r;
    while ((r = flock(lock, wait ? LOCK_EX : LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
    if (r != 0) {
        if (!wait && errno == EWOULDBLOCK)
            goto out; /* someone else is sweeping */
        rc = err_sys(err, E_IO, "cannot lock '%s/%s'", s->cfg.store_dir, STORE_FILE_GC_LOCK);
        goto out;
    }
    if (!wait && store_gc_recent(s))
        goto out; /* another process swept while we waited */
    store_gc_touch(s);
    if ((rc = store_gc_meta(s, &t, err)) || (rc = store_gc_tmp(s, &t, err)) ||
        (rc = store_gc_orphans(s, &t, err)) || (rc = store_gc_sessions(s, err)))
        goto out;
out:
    close(lock);
    if (!rc) {
        if (removed)
            *removed = t.removed;
        if (bytes)
            *bytes = t.bytes;
    }
    return rc;
}

enum err_code store_gc(struct store *s, size_t *removed, uint64_t *bytes, size_t *dirs,
                       struct err *err)
{
    enum err_code rc = store_gc_run(s, true, removed, bytes, err);
    size_t n = scratch_sweep(&s->cfg); /* not files: counted apart */
    if (dirs)
        *dirs = n;
    return rc;
}
