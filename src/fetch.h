/*
 * fetch: download a URL to a file descriptor, safely. The only libcurl user.
 *
 * http and https only (also after redirects, at most config.max_redirects).
 * Every host is resolved by kiln, every resolved address is checked (SPEC §4:
 * loopback, private, link-local, CGNAT, multicast, reserved, unspecified,
 * v4-mapped/compat IPv6 ... refused) and curl connects only to a checked,
 * pinned address; odd notations (2130706433, 0x7f000001, 127.1) are refused.
 * Hosts on config's allowlist skip the address check. Refusal happens before
 * any connection. The download stops as soon as it passes max_bytes.
 * Thread-safe; libcurl is loaded on first use (lazylib.h).
 */
#pragma once

#include <stddef.h>

#include "config.h"
#include "err.h"

struct fetch_info {
    long status;                /* final HTTP status */
    char content_type[128];     /* "" when none */
    char file_name[256];        /* last path segment of the final URL, "" if none */
    char disposition_name[256]; /* filename from Content-Disposition, "" if none */
    size_t size;                /* bytes written */
    int redirects;
};

/* A file name made of name (any length, any bytes) in out: separators,
 * control characters (C0, DEL, C1) and bytes that are not UTF-8 become '_',
 * spaces at the ends go, "." and ".." give "", and a name past out_len - 1
 * bytes is cut before its extension, at a character boundary. */
void fetch_clean_name(const char *name, char *out, size_t out_len);

/* Download url into fd (written from its current offset). Errors: E_INVALID
 * (malformed URL), E_BLOCKED (scheme, address), E_FETCH (DNS, connect, TLS,
 * HTTP >= 400 with the status, too many redirects, timeout), E_TOO_LARGE. */
enum err_code fetch_url(const struct config *cfg, const char *url, int fd, size_t max_bytes,
                        long timeout_ms, struct fetch_info *info, struct err *err);
