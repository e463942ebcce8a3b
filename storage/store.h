/*
 * store: the TTL file store of SPEC §5.
 *
 * Files live under config.store_dir; nothing outside storage/ knows the
 * on-disk layout. Two scopes: STORE_TEMPORARY (config.ttl_temporary_s) and
 * STORE_SESSION (config.ttl_session_s, grouped by a session id). Ids are
 * unguessable (128 random bits from getrandom, hex). Writes are atomic (temp
 * file, fsync, rename): readers never see half a file, and a kill at any
 * moment leaves nothing visible. Expired entries are invisible at once
 * (NOT_FOUND) and their bytes reclaimed by store_gc(). Safe under concurrent
 * processes (and across fork: a child may keep using its parent's struct
 * store); a struct store itself is not shared between threads. The on-disk
 * layout and the crash-safety protocol are described in store_int.h.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "klimits.h"

enum store_scope { STORE_TEMPORARY = 0, STORE_SESSION = 1 };

#define STORE_ID_LEN (LIM_STORE_ID_BYTES * 2 + 2) /* "f_" + hex */

struct store_meta {
    char id[STORE_ID_LEN + 1];
    char name[LIM_FILE_NAME_LEN + 1];
    uint64_t size;
    char mime[128];
    char sha256[65];
    enum store_scope scope;
    char session[LIM_SESSION_ID_LEN + 1]; /* "" when none */
    int64_t created;                      /* unix seconds */
    int64_t created_ns;                   /* and nanoseconds (0 in older entries) */
    int64_t expires;                      /* unix seconds */
};

struct store;

/* Open (creating directories as needed) the store at cfg->store_dir. Runs a
 * sweep when the last one is older than LIM_STORE_GC_INTERVAL_S, so a
 * long-unused store is cleaned by its next user. E_INVALID, E_IO, E_NOMEM. */
enum err_code store_open(const struct config *cfg, struct store **out, struct err *err);

enum store_open_flags {
    STORE_OPEN_NO_SWEEP = 1 << 0, /* skip the opportunistic sweep */
};
/* store_open with flags (enum store_open_flags). */
enum err_code store_open_ex(const struct config *cfg, unsigned flags, struct store **out,
                            struct err *err);
/* Close; NULL-safe. */
void store_free(struct store *s);

/* Store a copy of the file at src_path under `name` (kept as given, never
 * used as a path; 1..LIM_FILE_NAME_LEN printable characters). session may be
 * NULL (required for STORE_SESSION; recorded for either scope). mime may be
 * NULL (guessed from the name's extension). For STORE_SESSION, enforces the
 * session quota (config session_quota_bytes / session_quota_files over the
 * session's live session-scope entries but those of this name; 0 = no
 * limit) with E_OUTPUT_LIMIT, and then removes the session's older files of
 * this name (a session holds one file per name).
 * The entry lives at least its scope's TTL. On success fills *meta.
 * E_INVALID (bad name, session, mime or source), E_IO, E_NOMEM. */
enum err_code store_put_file(struct store *s, const char *src_path, const char *name,
                             const char *mime, enum store_scope scope, const char *session,
                             struct store_meta *meta, struct err *err);
/* Look up a live entry: E_NOTFOUND if absent, expired or malformed id. */
enum err_code store_stat(struct store *s, const char *id, struct store_meta *meta, struct err *err);
/* Open a live entry's bytes for reading (O_RDONLY|O_CLOEXEC); fills *meta. */
enum err_code store_open_data(struct store *s, const char *id, struct store_meta *meta, int *fd,
                              struct err *err);
/* Copy a live entry's bytes to dst_path (created, mode 0644, must not exist). */
enum err_code store_copy_out(struct store *s, const char *id, const char *dst_path,
                             struct err *err);
/* List live entries (all, or one session's when session != NULL), newest
 * first. *v is malloc'd (free()); *n its count. */
enum err_code store_list(struct store *s, const char *session, struct store_meta **v, size_t *n,
                         struct err *err);
/* A session file the session no longer has (its code removed it): remove
 * m and the session's older files of m's name (a newer one stays). Storing
 * a session file also replaces the session's older files of its name. */
enum err_code store_session_forget(struct store *s, const struct store_meta *m, struct err *err);
/* Remove an entry: E_NOTFOUND if absent or expired (an expired entry's
 * bytes are removed all the same). */
enum err_code store_rm(struct store *s, const char *id, struct err *err);
/* Remove expired entries, temp files of dead writers, data without
 * metadata, and scratch dirs of dead processes (scratch_sweep); *removed
 * counts the files, *bytes the stored bytes reclaimed and *dirs the scratch
 * dirs (any may be NULL). Never removes a live entry. Waits for a sweep
 * running elsewhere. E_IO. */
enum err_code store_gc(struct store *s, size_t *removed, uint64_t *bytes, size_t *dirs,
                       struct err *err);
/* The SPEC §2 FILE object for meta (new reference). */
json_t *store_meta_json(const struct store_meta *meta);
/* The store's root directory (borrowed). */
const char *store_root(const struct store *s);
