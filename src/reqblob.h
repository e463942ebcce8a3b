/*
 * reqblob: large base64 strings of a request kept away from the JSON parser.
 *
 * jansson reads a string value byte by byte into a growing buffer and then
 * copies it: for a 50 MB file sent as `fileBase64` (67 MB of text) that was
 * most of the request's time. reqblob_skeleton() scans the request text once
 * (strings and escapes honoured), and replaces every `fileBase64` value that
 * is long and plain (printable ASCII, no escapes: exactly its own value) by a
 * short placeholder; the parser then reads the small skeleton, and
 * input staging takes the bytes straight from the original text through
 * reqblob_get(). The text must stay alive and unchanged until
 * reqblob_clear(). One set per thread.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* A malloc'd skeleton of text (and its length), or NULL when nothing was
 * replaced (parse the text itself) or on allocation failure. */
char *reqblob_skeleton(const char *text, size_t len, size_t *out_len);
/* If s (n bytes) is a placeholder of the current set: its bytes. */
bool reqblob_get(const char *s, size_t n, const char **p, size_t *plen);
/* Forget the current set. */
void reqblob_clear(void);
/* The request text parsed as JSON through a skeleton (the set stays until
 * reqblob_clear()); NULL with err set (E_INVALID: where, and what) when the
 * text is not JSON. */
json_t *reqblob_parse(const char *text, size_t len, struct err *err);
/* The bytes of a UTF-8 byte order mark that starts text (3 or 0): skipped
 * before a request (a Windows editor's, a PowerShell redirect's), as RFC
 * 8259 lets a parser do. */
size_t reqblob_bom(const char *text, size_t len);
/* What is wrong, as the message of a request that is not JSON. */
const char *reqblob_json_why(const json_error_t *je);
/* err set to E_INVALID "malformed JSON at line L column C: why" (or "JSON
 * kiln cannot take ...": a NUL in a string, a number out of range). */
enum err_code reqblob_json_error(struct err *err, const json_error_t *je);
