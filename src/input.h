/*
 * input: staging an action's input files into its scratch directory.
 *
 * Sources: fileUrl (fetch.h), fileBase64, fileId (the store), and the
 * `files` array of {url|base64|fileId, name}. Names are checked (never a
 * path: no '/', '..', NUL, control characters; length cap) and defaulted per
 * SPEC §1 (URL path's last segment, or "input" + a sniffed extension).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "klimits.h"

struct store;

struct input_file {
    char name[LIM_FILE_NAME_LEN + 1]; /* file name inside the scratch dir */
    char path[4096];                  /* absolute path */
    size_t size;
    char kind[16]; /* sniffed: xlsx, zip, xls, csv, tsv, json, jsonl, text, png, jpeg, gif,
                      pdf, binary */
};

struct input_set {
    struct input_file *v;
    size_t n;
};

/* Check a file name given by the user: E_INVALID naming `arg`. */
enum err_code input_check_name(const char *name, const char *arg, struct err *err);
/* Check a session id (1..128 of [A-Za-z0-9._-]). */
enum err_code input_check_session(const char *s, struct err *err);
/* Decode base64 (standard or URL-safe, padding optional, whitespace
 * ignored) into a malloc'd buffer; E_INVALID on bad input naming `arg`,
 * E_TOO_LARGE past max bytes. */
enum err_code input_b64_decode(const char *s, size_t len, size_t max, const char *arg,
                               unsigned char **out, size_t *out_len, struct err *err);
/* Sniff the kind of a file from its first bytes (and its name as a hint). */
const char *input_sniff(const unsigned char *p, size_t n, const char *name_hint);
/* Sniff a file on disk. */
const char *input_sniff_file(const char *path, const char *name_hint);
/* The usual extension for a kind ("csv" -> ".csv"), "" for unknown. */
const char *input_ext_for_kind(const char *kind);
/* A MIME type for a file name (by extension), "application/octet-stream" default. */
const char *input_mime_for_name(const char *name);

/* Stage all inputs named by args (fileUrl/fileBase64/fileId/fileName/files)
 * into dir. deadline_ms bounds fetching. On success *set holds them (free
 * with input_set_release). */
enum err_code input_stage(const struct config *cfg, struct store *store, json_t *args,
                          const char *dir, long timeout_ms, struct input_set *set, struct err *err);
void input_set_release(struct input_set *set);
