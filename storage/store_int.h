/*
 * store_int: internals shared by store.c and store_gc.c, and seams for the
 * store's unit tests. Not for other modules: only storage/ knows the layout.
 *
 * On-disk layout under the root (all directories 0700, files 0600):
 *   objects/<id>       the bytes of an entry
 *   meta/<id>.json     its metadata; the commit point: an id exists once
 *                      this file exists (its data was renamed in before)
 *   tmp/<id>.data      in-progress writes; each temp file is flock()ed by
 *   tmp/<id>.meta      its writer for its whole life, so an unlocked temp
 *                      file belongs to a dead writer and may be swept
 *   sessions/<session>/<id>
 *                      an empty file per entry of a session: the index a
 *                      session's listing, quota and replacing read (not the
 *                      whole store). Made before the commit, removed after
 *                      the metadata; one without metadata is skipped, and
 *                      swept once no writer holds tmp/<id>.meta. A store
 *                      without sessions/ (an older kiln's) gets it built
 *                      from meta/ when first opened; the sweep adds what
 *                      is missing (an entry an older kiln wrote since). A
 *                      store where it cannot be had is read without it.
 *   last-gc            mtime = start of the last sweep
 *   gc.lock            serialises sweeps
 *   session.lock       serialises session quota check + commit
 *
 * A write: copy into tmp/<id>.data (O_EXCL, locked, hashed), fsync; write
 * tmp/<id>.meta (locked), fsync; rename the data to objects/, fsync objects/;
 * add sessions/<session>/<id> when the entry has a session; rename the
 * metadata to meta/ (commit), fsync meta/; only then unlock.
 * A removal: unlink the metadata (the id is gone), then the data. So a kill
 * at any moment leaves at most an unlocked temp file or data without
 * metadata, both invisible and both swept; data without metadata is spared
 * while its writer still holds tmp/<id>.meta.
 */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "store.h"

#define STORE_DIR_OBJECTS "objects"
#define STORE_DIR_META "meta"
#define STORE_DIR_TMP "tmp"
#define STORE_DIR_SESSIONS "sessions"
#define STORE_DIR_SESSIONS_NEW "sessions.new"
#define STORE_FILE_LAST_GC "last-gc"
#define STORE_FILE_GC_LOCK "gc.lock"
#define STORE_FILE_SESSION_LOCK "session.lock"
#define STORE_META_SUFFIX ".json"

struct store {
    struct config cfg; /* a copy: scratch_sweep and TTLs */
    int root_fd;
    int obj_fd;
    int meta_fd;
    int tmp_fd;
    int ses_fd;     /* sessions/ */
    int64_t skew_s; /* added to the clock; tests only */
};

/* True when id is exactly "f_" + 32 lower-case hex digits. */
bool store_valid_id(const char *id);
/* The store's notion of now (unix seconds). */
int64_t store_now(const struct store *s);
/* Read meta/<id>.json (no liveness check): E_NOTFOUND when absent, E_PARSE
 * when unreadable, E_IO. */
enum err_code store_meta_load(struct store *s, const char *id, struct store_meta *meta,
                              struct err *err);
/* Add sessions/<session>/<id>, on disk when this returns (nothing without
 * an index). */
enum err_code store_index_add(struct store *s, const char *session, const char *id,
                              struct err *err);
/* Add sessions/<session>/<id> when it is missing (an entry written by an
 * older kiln, or left out of a build); failures are logged. */
void store_index_ensure(struct store *s, const char *session, const char *id);
/* Remove sessions/<session>/<id> (nothing when session is ""). */
void store_index_drop(struct store *s, const char *session, const char *id);
/* A fresh directory stream over the directory dfd (its own offset); NULL
 * with errno set on failure. Close with closedir(). */
DIR *store_opendir(int dfd);
/* Run a sweep; with wait false, return E_OK at once (nothing done) when
 * another process is sweeping. removed/bytes may be NULL. */
enum err_code store_gc_run(struct store *s, bool wait, size_t *removed, uint64_t *bytes,
                           struct err *err);
/* Test seam: shift the store's clock by skew_s seconds. */
void store_test_set_skew(struct store *s, int64_t skew_s);
