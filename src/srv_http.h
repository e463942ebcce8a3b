/*
 * srv_http: the HTTP API of `kiln serve` (SPEC §6), on libmicrohttpd.
 *
 * Endpoints: POST /v1/actions (a SPEC request in, the envelope out),
 * GET/DELETE /v1/files/{id}, GET /v1/files[?session=S], GET /health,
 * GET /metrics (Prometheus text). docs/deploy.md documents status codes.
 *
 * Threads and processes: libmicrohttpd's thread pool parses HTTP, checks
 * keys, serves file downloads (from the store's fd, zero-copy) and queues
 * action requests; the calling thread of srv_http_run is the dispatcher: it
 * has one worker process per action forked (at most `workers` at once, at
 * most `queue` more waiting, 503 beyond) and resumes the suspended
 * connection when the envelope arrives. Workers come from a zygote
 * (srv_child.h) forked after the interpreter was warmed (sbx_py_init) and
 * before any thread started, so each inherits CPython ready and no lock of
 * another thread. The
 * dispatcher also handles SIGTERM/SIGINT (stop accepting, finish in-flight
 * actions within the action wall limit, exit) and runs the TTL sweep in a
 * child every LIM_SERVE_GC_INTERVAL_S. One server per process.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "klimits.h"

/* What the server keeps of an API key: its SHA-256. Workers and their
 * sandboxes are forks of the server, so a key kept in memory would be in
 * the memory of every sandboxed job; a digest does not let anyone in. */
#define SRV_KEY_DIGEST 32
struct srv_http_key {
    unsigned char d[SRV_KEY_DIGEST];
};

struct srv_http_opts {
    const char *listen;              /* "ADDR:PORT", "[v6]:PORT"; port 0 = any free port */
    long workers;                    /* concurrent actions (worker processes) */
    long queue;                      /* accepted actions waiting for a worker */
    size_t max_request_bytes;        /* request body cap (413 past it) */
    bool metrics_public;             /* /metrics without a key */
    const struct srv_http_key *keys; /* accepted API keys (borrowed) */
    size_t n_keys;
};

/* Split "host:port" / "[v6]:port" into host (no brackets) and port.
 * E_INVALID on a malformed address. */
enum err_code srv_http_parse_listen(const char *s, char *host, size_t host_cap, int *port,
                                    struct err *err);
/* The digest of the n bytes of key into out; false for an empty key or
 * when hashing fails. */
bool srv_http_key_digest(const char *key, size_t n, struct srv_http_key *out);
/* True when given (non-empty) is one of the keys whose digests keys holds;
 * compares with every key, in time independent of where (or whether) the
 * digests differ. */
bool srv_http_key_match(const struct srv_http_key *keys, size_t n_keys, const char *given);
/* The value of a Content-Disposition header for a download of name:
 * attachment; filename="ASCII fallback"; filename*=UTF-8''percent-encoded
 * (RFC 6266 / RFC 8187). Always NUL-terminates (truncates when out is
 * short). */
void srv_http_content_disposition(const char *name, char *out, size_t out_len);
/* Serve until SIGTERM/SIGINT. Prints "listening on http://HOST:PORT" as the
 * first line on stdout once bound. E_INVALID for a public address without a
 * key or bad options (the caller exits 2), E_IO when it cannot listen. */
enum err_code srv_http_run(const struct config *cfg, const struct srv_http_opts *o,
                           struct err *err);
