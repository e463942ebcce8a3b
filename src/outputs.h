/*
 * outputs: collect the files an action left in a directory and store them.
 *
 * The walk never follows links: only regular files below the directory are
 * taken (openat with O_NOFOLLOW, sizes from fstat on the opened file);
 * symlinks, FIFOs, sockets, devices and files with more than one hard link
 * are skipped and reported. Files listed in `unchanged` (staged inputs the
 * work did not modify) are not outputs.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "store.h"

struct outputs_snap_entry {
    char rel[4096];
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
};

struct outputs_snap {
    struct outputs_snap_entry *v;
    size_t n;
};

/* Record the regular files below dir (to recognise unchanged inputs later). */
enum err_code outputs_snapshot(const char *dir, struct outputs_snap *snap, struct err *err);
void outputs_snap_release(struct outputs_snap *snap);

/* Store every new or modified regular file below dir (depth-limited) in the
 * store with the given scope/session; total size must stay within max_bytes
 * (E_OUTPUT_LIMIT). Appends FILE objects to `files`, and {"name","reason"}
 * objects for skipped entries to `skipped`. snap may be NULL. */
enum err_code outputs_collect(const char *dir, const struct outputs_snap *snap, struct store *store,
                              enum store_scope scope, const char *session, uint64_t max_bytes,
                              json_t *files, json_t *skipped, struct err *err);
