#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define CFG_OFF(f) offsetof(struct config, f)

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    const char *home = getenv("HOME");
    const char *xdg = getenv("XDG_DATA_HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(cfg->store_dir, sizeof(cfg->store_dir), "%s/kiln/store", xdg);
    else if (home && *home)
        n = snprintf(cfg->store_dir, sizeof(cfg->store_dir), "%s/.local/share/kiln/store", home);
    else
        n = snprintf(cfg->store_dir, sizeof(cfg->store_dir), "/var/tmp/kiln-%u/store",
                     (unsigned)getuid());
    if (n < 0 || (size_t)n >= sizeof(cfg->store_dir))
        snprintf(cfg->store_dir, sizeof(cfg->store_dir), "/var/tmp/kiln-store");
    /* Scratch dirs are bound into the sandbox, whose user must be able to
     * traverse their parents: /var/tmp is, a home directory often is not. */
    snprintf(cfg->scratch_dir, sizeof(cfg->scratch_dir), "/var/tmp/kiln-%u", (unsigned)getuid());
    cfg->ttl_temporary_s = LIM_TTL_TEMPORARY_S_DEFAULT;
    cfg->ttl_session_s = LIM_TTL_SESSION_S_DEFAULT;
    cfg->session_quota_bytes = LIM_SESSION_QUOTA_BYTES_DEFAULT;
    cfg->session_quota_files = LIM_SESSION_QUOTA_FILES_DEFAULT;
    cfg->wall_ms = LIM_WALL_MS_DEFAULT;
    cfg->input_bytes = LIM_INPUT_BYTES_DEFAULT;
    cfg->output_bytes = LIM_OUTPUT_BYTES_DEFAULT;
    cfg->memory_bytes = LIM_MEMORY_BYTES_DEFAULT;
    cfg->stdio_bytes = LIM_STDIO_BYTES_DEFAULT;
    cfg->return_bytes = LIM_RETURN_BYTES_DEFAULT;
    cfg->procs = LIM_PROCS_DEFAULT;
    cfg->fetch_connect_ms = LIM_FETCH_CONNECT_MS_DEFAULT;
    cfg->fetch_total_ms = LIM_FETCH_TOTAL_MS_DEFAULT;
    cfg->max_redirects = LIM_REDIRECTS;
    cfg->serve_queue = -1;
    cfg->serve_metrics_public = -1;
    cfg->cgroup = CONFIG_CGROUP_AUTO;
}

const char *config_cgroup_name(enum config_cgroup mode)
{
    static const char *const names[] = {[CONFIG_CGROUP_AUTO] = "auto",
                                        [CONFIG_CGROUP_OFF] = "off",
                                        [CONFIG_CGROUP_REQUIRE] = "require",
                                        [CONFIG_CGROUP_PATH] = "path"};
    return names[mode];
}

/* "auto", "off", "require" or an absolute path. */
static enum err_code config_set_cgroup(struct config *cfg, const char *v, const char *src,
                                       struct err *err)
{
    for (int m = CONFIG_CGROUP_AUTO; m < CONFIG_CGROUP_PATH; m++)
        if (!strcmp(v, config_cgroup_name((enum config_cgroup)m))) {
            cfg->cgroup = (enum config_cgroup)m;
            cfg->cgroup_path[0] = '\0';
            return E_OK;
        }
    if (v[0] != '/' || strlen(v) >= sizeof(cfg->cgroup_path))
        return err_set(err, E_INVALID,
                       "%s: 'cgroup' must be \"auto\", \"off\", \"require\" or the absolute "
                       "path of a delegated cgroup v2 directory",
                       src);
    cfg->cgroup = CONFIG_CGROUP_PATH;
    snprintf(cfg->cgroup_path, sizeof(cfg->cgroup_path), "%s", v);
    return E_OK;
}

/* The "serve" object of the config file. */
static enum err_code config_serve(struct config *cfg, json_t *obj, const char *path,
                                  struct err *err)
{
    const char *key;
    json_t *val;
    if (!json_is_object(obj))
        return err_set(err, E_INVALID, "config '%s': 'serve' must be an object", path);
    json_object_foreach(obj, key, val)
    {
        if (!strcmp(key, "listen") || !strcmp(key, "api_key_file")) {
            bool listen = key[0] == 'l';
            char *dst = listen ? cfg->serve_listen : cfg->serve_api_key_file;
            size_t cap = listen ? sizeof(cfg->serve_listen) : sizeof(cfg->serve_api_key_file);
            if (!json_is_string(val) || !json_string_length(val) || json_string_length(val) >= cap)
                return err_set(err, E_INVALID, "config '%s': 'serve.%s' must be %s", path, key,
                               listen ? "ADDR:PORT" : "a path");
            snprintf(dst, cap, "%s", json_string_value(val));
        } else if (!strcmp(key, "metrics_public")) {
            if (!json_is_boolean(val))
                return err_set(err, E_INVALID,
                               "config '%s': 'serve.metrics_public' must be "
                               "true or false",
                               path);
            cfg->serve_metrics_public = json_is_true(val) ? 1 : 0;
        } else {
            static const struct {
                const char *key;
                size_t off;
                long min, max;
            } nums[] = {
                {"workers", CFG_OFF(serve_workers), 1, LIM_SERVE_WORKERS_MAX},
                {"queue", CFG_OFF(serve_queue), 0, LIM_SERVE_QUEUE_MAX},
                {"max_request_bytes", CFG_OFF(serve_max_request_bytes), 1, LIM_REQUEST_BYTES},
            };
            size_t i = 0;
            while (i < sizeof(nums) / sizeof(nums[0]) && strcmp(nums[i].key, key))
                i++;
            if (i == sizeof(nums) / sizeof(nums[0]))
                return err_set(err, E_INVALID,
                               "config '%s': unknown key 'serve.%s' (known: "
                               "listen, workers, queue, max_request_bytes, api_key_file, "
                               "metrics_public)",
                               path, key);
            if (!json_is_integer(val) || json_integer_value(val) < nums[i].min ||
                json_integer_value(val) > nums[i].max)
                return err_set(err, E_INVALID,
                               "config '%s': 'serve.%s' must be an integer in "
                               "%ld..%ld",
                               path, key, nums[i].min, nums[i].max);
            *(long *)((char *)cfg + nums[i].off) = (long)json_integer_value(val);
        }
    }
    return E_OK;
}

/* One numeric setting: its JSON key, its environment variable, its field. */
struct config_num {
    const char *key;
    const char *env;
    size_t off;
    long min;
    long max;
};

static const struct config_num config_nums[] = {
    {"ttl_temporary_s", "KILN_TTL_TEMPORARY_S", CFG_OFF(ttl_temporary_s), 1, 365L * 86400},
    {"ttl_session_s", "KILN_TTL_SESSION_S", CFG_OFF(ttl_session_s), 1, 365L * 86400},
    {"session_quota_bytes", "KILN_SESSION_QUOTA_BYTES", CFG_OFF(session_quota_bytes), 0, 1L << 50},
    {"session_quota_files", "KILN_SESSION_QUOTA_FILES", CFG_OFF(session_quota_files), 0, 1L << 30},
    {"wall_ms", "KILN_WALL_MS", CFG_OFF(wall_ms), 100, 24L * 3600 * 1000},
    {"input_bytes", "KILN_INPUT_BYTES", CFG_OFF(input_bytes), 1, 1L << 40},
    {"output_bytes", "KILN_OUTPUT_BYTES", CFG_OFF(output_bytes), 1, 1L << 40},
    {"memory_bytes", "KILN_MEMORY_BYTES", CFG_OFF(memory_bytes), 16L << 20, 1L << 44},
    {"stdio_bytes", "KILN_STDIO_BYTES", CFG_OFF(stdio_bytes), 1024, 1L << 32},
    {"return_bytes", "KILN_RETURN_BYTES", CFG_OFF(return_bytes), 1024, 1L << 34},
    {"procs", "KILN_PROCS", CFG_OFF(procs), 1, 100000},
    {"fetch_connect_ms", "KILN_FETCH_CONNECT_MS", CFG_OFF(fetch_connect_ms), 10, 600000},
    {"fetch_total_ms", "KILN_FETCH_TOTAL_MS", CFG_OFF(fetch_total_ms), 10, 3600000},
};

static enum err_code config_set_num(struct config *cfg, const struct config_num *cn, long v,
                                    const char *src, struct err *err)
{
    if (v < cn->min || v > cn->max)
        return err_set(err, E_INVALID, "%s: '%s' must be between %ld and %ld, not %ld", src,
                       cn->key, cn->min, cn->max, v);
    *(long *)((char *)cfg + cn->off) = v;
    return E_OK;
}

static enum err_code config_parse_long(const char *s, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return E_INVALID;
    *out = v;
    return E_OK;
}

enum err_code config_add_allow(struct config *cfg, const char *list, struct err *err)
{
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t len = (size_t)(e - p);
        char item[300];
        if (len >= sizeof(item))
            return err_set(err, E_INVALID, "allowlist entry too long");
        memcpy(item, p, len);
        item[len] = '\0';
        if (cfg->n_allow >= LIM_ALLOWLIST_ENTRIES)
            return err_set(err, E_INVALID, "allowlist has more than %d entries",
                           LIM_ALLOWLIST_ENTRIES);
        struct config_allow *a = &cfg->allow[cfg->n_allow];
        char *host = item;
        char *port = NULL;
        if (item[0] == '[') {
            char *rb = strchr(item, ']');
            if (!rb)
                return err_set(err, E_INVALID, "allowlist entry '%s': missing ']'", item);
            *rb = '\0';
            host = item + 1;
            if (rb[1] == ':')
                port = rb + 2;
            else if (rb[1])
                return err_set(err, E_INVALID, "allowlist entry '%s': junk after ']'", item);
        } else {
            char *colon = strchr(item, ':');
            if (colon && strchr(colon + 1, ':') == NULL) {
                *colon = '\0';
                port = colon + 1;
            }
        }
        long pv = 0;
        if (port && (config_parse_long(port, &pv) || pv < 1 || pv > 65535))
            return err_set(err, E_INVALID, "allowlist entry '%s': bad port", list);
        if (!*host || strlen(host) >= sizeof(a->host))
            return err_set(err, E_INVALID, "allowlist entry '%s': bad host", list);
        size_t i;
        for (i = 0; host[i]; i++)
            a->host[i] = (char)tolower((unsigned char)host[i]);
        a->host[i] = '\0';
        a->port = (int)pv;
        cfg->n_allow++;
        p = e;
    }
    return E_OK;
}

bool config_host_allowed(const struct config *cfg, const char *host, int port)
{
    for (size_t i = 0; i < cfg->n_allow; i++) {
        if (strcasecmp(cfg->allow[i].host, host) == 0 &&
            (cfg->allow[i].port == 0 || cfg->allow[i].port == port))
            return true;
    }
    return false;
}

static enum err_code config_from_json(struct config *cfg, const char *path, struct err *err)
{
    json_error_t jerr;
    json_t *root = NULL;
    enum err_code rc = E_OK;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return E_OK;
        return err_sys(err, E_INVALID, "cannot read config '%s'", path);
    }
    if (st.st_size > LIM_CONFIG_BYTES)
        return err_set(err, E_INVALID, "config '%s' is larger than %ld bytes", path,
                       (long)LIM_CONFIG_BYTES);
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return err_set(err, E_INVALID, "config '%s' line %d column %d: %s", path, jerr.line,
                       jerr.column, jerr.text);
    if (!json_is_object(root)) {
        rc = err_set(err, E_INVALID, "config '%s': top level must be an object", path);
        goto out;
    }
    snprintf(cfg->config_path, sizeof(cfg->config_path), "%s", path);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(config_nums) / sizeof(config_nums[0]); i++) {
            if (strcmp(key, config_nums[i].key))
                continue;
            known = true;
            if (!json_is_integer(val)) {
                rc = err_set(err, E_INVALID, "config '%s': '%s' must be an integer", path, key);
                goto out;
            }
            rc = config_set_num(cfg, &config_nums[i], (long)json_integer_value(val), path, err);
            if (rc)
                goto out;
        }
        if (known)
            continue;
        if (!strcmp(key, "store_dir")) {
            if (!json_is_string(val) || !json_string_length(val) ||
                json_string_length(val) >= sizeof(cfg->store_dir)) {
                rc = err_set(err, E_INVALID, "config '%s': 'store_dir' must be a path", path);
                goto out;
            }
            snprintf(cfg->store_dir, sizeof(cfg->store_dir), "%s", json_string_value(val));
        } else if (!strcmp(key, "scratch_dir")) {
            if (!json_is_string(val) || json_string_value(val)[0] != '/' ||
                json_string_length(val) >= sizeof(cfg->scratch_dir)) {
                rc = err_set(err, E_INVALID, "config '%s': 'scratch_dir' must be an absolute path",
                             path);
                goto out;
            }
            snprintf(cfg->scratch_dir, sizeof(cfg->scratch_dir), "%s", json_string_value(val));
        } else if (!strcmp(key, "max_redirects")) {
            if (!json_is_integer(val) || json_integer_value(val) < 0 ||
                json_integer_value(val) > 20) {
                rc = err_set(err, E_INVALID, "config '%s': 'max_redirects' must be 0..20", path);
                goto out;
            }
            cfg->max_redirects = (int)json_integer_value(val);
        } else if (!strcmp(key, "url_allow")) {
            size_t i;
            json_t *v;
            if (!json_is_array(val)) {
                rc = err_set(err, E_INVALID, "config '%s': 'url_allow' must be an array", path);
                goto out;
            }
            json_array_foreach(val, i, v)
            {
                if (!json_is_string(v)) {
                    rc = err_set(err, E_INVALID, "config '%s': 'url_allow' holds a non-string",
                                 path);
                    goto out;
                }
                rc = config_add_allow(cfg, json_string_value(v), err);
                if (rc)
                    goto out;
            }
        } else if (!strcmp(key, "cgroup")) {
            if (!json_is_string(val)) {
                rc = err_set(err, E_INVALID, "config '%s': 'cgroup' must be a string", path);
                goto out;
            }
            if ((rc = config_set_cgroup(cfg, json_string_value(val), path, err)))
                goto out;
        } else if (!strcmp(key, "serve")) {
            rc = config_serve(cfg, val, path, err);
            if (rc)
                goto out;
        } else {
            rc = err_set(err, E_INVALID, "config '%s': unknown key '%s'", path, key);
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

enum err_code config_load(struct config *cfg, struct err *err)
{
    enum err_code rc;
    config_defaults(cfg);
    char path[CONFIG_PATH_MAX];
    const char *env = getenv("KILN_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (env && *env) {
        if (access(env, R_OK) != 0)
            return err_sys(err, E_INVALID, "cannot read KILN_CONFIG '%s'", env);
        rc = config_from_json(cfg, env, err);
        if (rc)
            return rc;
    } else {
        int n = -1;
        if (xdg && *xdg)
            n = snprintf(path, sizeof(path), "%s/kiln/config.json", xdg);
        else if (home && *home)
            n = snprintf(path, sizeof(path), "%s/.config/kiln/config.json", home);
        if (n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0)
            rc = config_from_json(cfg, path, err);
        else
            rc = config_from_json(cfg, "/etc/kiln/config.json", err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < sizeof(config_nums) / sizeof(config_nums[0]); i++) {
        const char *s = getenv(config_nums[i].env);
        long v;
        if (!s || !*s)
            continue;
        if (config_parse_long(s, &v))
            return err_set(err, E_INVALID, "environment: %s='%s' is not an integer",
                           config_nums[i].env, s);
        rc = config_set_num(cfg, &config_nums[i], v, "environment", err);
        if (rc)
            return rc;
    }
    const char *s = getenv("KILN_STORE_DIR");
    if (s && *s) {
        if (strlen(s) >= sizeof(cfg->store_dir))
            return err_set(err, E_INVALID, "environment: KILN_STORE_DIR is too long");
        snprintf(cfg->store_dir, sizeof(cfg->store_dir), "%s", s);
    }
    s = getenv("KILN_SCRATCH_DIR");
    if (s && *s) {
        if (s[0] != '/' || strlen(s) >= sizeof(cfg->scratch_dir))
            return err_set(err, E_INVALID,
                           "environment: KILN_SCRATCH_DIR must be an absolute path");
        snprintf(cfg->scratch_dir, sizeof(cfg->scratch_dir), "%s", s);
    }
    s = getenv("KILN_MAX_REDIRECTS");
    if (s && *s) {
        long v;
        if (config_parse_long(s, &v) || v < 0 || v > 20)
            return err_set(err, E_INVALID, "environment: KILN_MAX_REDIRECTS must be 0..20");
        cfg->max_redirects = (int)v;
    }
    s = getenv("KILN_CGROUP");
    if (s && *s && (rc = config_set_cgroup(cfg, s, "environment (KILN_CGROUP)", err)))
        return rc;
    s = getenv("KILN_URL_ALLOW");
    if (s && *s) {
        rc = config_add_allow(cfg, s, err);
        if (rc)
            return err_wrap(err, "environment: KILN_URL_ALLOW");
    }
    return E_OK;
}
