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
 * processes; a struct store itself is not shared between threads.
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
    int64_t created; /* unix seconds */
    int64_t expires; /* unix seconds */
};

struct store;

/* Open (creating directories as needed) the store at cfg->store_dir. */
enum err_code store_open(const struct config *cfg, struct store **out, struct err *err);
/* Close; NULL-safe. */
void store_free(struct store *s);

/* Store a copy of the file at src_path under `name`. session may be NULL
 * (required for STORE_SESSION). mime may be NULL (guessed from the name).
 * Enforces the session quota (E_OUTPUT_LIMIT). On success fills *meta. */
enum err_code store_put_file(struct store *s, const char *src_path, const char *name,
                             const char *mime, enum store_scope scope, const char *session,
                             struct store_meta *meta, struct err *err);
/* Look up a live entry: E_NOTFOUND if absent, expired or malformed id. */
enum err_code store_stat(struct store *s, const char *id, struct store_meta *meta,
                         struct err *err);
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
/* Remove an entry: E_NOTFOUND if absent. */
enum err_code store_rm(struct store *s, const char *id, struct err *err);
/* Remove expired entries and stale temp files / scratch dirs; counts what
 * was reclaimed. */
enum err_code store_gc(struct store *s, size_t *removed, uint64_t *bytes, struct err *err);
/* The SPEC §2 FILE object for meta (new reference). */
json_t *store_meta_json(const struct store_meta *meta);
/* The store's root directory (borrowed). */
const char *store_root(const struct store *s);
