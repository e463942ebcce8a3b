/*
 * config: operator settings, from a JSON config file and environment
 * variables (environment wins). See README "Configuration" for the keys.
 *
 * The config file is $KILN_CONFIG if set, else $XDG_CONFIG_HOME/kiln/config.json
 * (or ~/.config/kiln/config.json), else /etc/kiln/config.json; a missing file
 * is fine, a malformed one is an error. struct config is plain data: copy it
 * freely. Not thread-safe while loading; read-only afterwards.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "klimits.h"

#define CONFIG_PATH_MAX 4096

struct config_allow {
    char host[256]; /* lower-case host name or literal address (no brackets) */
    int port;       /* 0 = any port */
};

#define CONFIG_LISTEN_MAX 128

/* Config 'cgroup': "auto", "off", "require", or a delegated directory. */
enum config_cgroup {
    CONFIG_CGROUP_AUTO = 0,
    CONFIG_CGROUP_OFF,
    CONFIG_CGROUP_REQUIRE,
    CONFIG_CGROUP_PATH,
};

struct config {
    char store_dir[CONFIG_PATH_MAX];   /* root of the TTL store */
    char scratch_dir[CONFIG_PATH_MAX]; /* parent of per-action scratch dirs */
    char config_path[CONFIG_PATH_MAX]; /* file actually loaded, "" if none */
    long ttl_temporary_s;
    long ttl_session_s;
    long session_quota_bytes;
    long session_quota_files;
    long wall_ms;                      /* wall time per action */
    long input_bytes;                  /* one input file */
    long output_bytes;                 /* all output files of one action */
    long memory_bytes;                 /* sandboxed work */
    long stdio_bytes;                  /* captured stdout / stderr each */
    long return_bytes;                 /* serialised returnValue */
    long procs;                        /* processes/threads in the sandbox */
    enum config_cgroup cgroup;         /* sandbox cgroups (sandbox/sbx_cgroup.h) */
    char cgroup_path[CONFIG_PATH_MAX]; /* the directory of CONFIG_CGROUP_PATH */
    long fetch_connect_ms;
    long fetch_total_ms;
    int max_redirects;
    struct config_allow allow[LIM_ALLOWLIST_ENTRIES]; /* URL allowlist (SPEC §4) */
    size_t n_allow;
    /* `kiln serve` settings from the file's "serve" object ("" / 0 / -1:
     * not set; the environment and the flags come on top). */
    char serve_listen[CONFIG_LISTEN_MAX];
    char serve_api_key_file[CONFIG_PATH_MAX];
    long serve_workers;           /* 0: not set */
    long serve_queue;             /* -1: not set */
    long serve_max_request_bytes; /* 0: not set */
    int serve_metrics_public;     /* -1: not set, else 0/1 */
};

/* Fill cfg with the built-in defaults (no file, no environment). */
void config_defaults(struct config *cfg);
/* The config word of a cgroup mode ("auto", "off", "require"; "path" for a
 * directory). */
const char *config_cgroup_name(enum config_cgroup mode);
/* Defaults, then the config file, then the environment. E_INVALID on a bad
 * file or value (the message names the key and the source). */
enum err_code config_load(struct config *cfg, struct err *err);
/* Parse "host[:port],host[:port]" (IPv6 as [::1]:8080) and append to the
 * allowlist. */
enum err_code config_add_allow(struct config *cfg, const char *list, struct err *err);
/* True when host (lower-cased, no brackets) and port are on the allowlist. */
bool config_host_allowed(const struct config *cfg, const char *host, int port);
