#include "lazylib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

struct lz_curl lz_curl;
struct lz_mhd lz_mhd;

struct lz_sym {
    const char *name;
    void **slot;
};

struct lz_lib {
    const char *const *sonames; /* tried in order */
    const struct lz_sym *syms;
    size_t n_syms;
    pthread_once_t once;
    char failure[256]; /* empty: loaded */
};

/* dlopen the first soname that loads, then every symbol or nothing. */
static void lz_open(struct lz_lib *l)
{
    void *h = NULL;
    const char *why = "not found";
    for (const char *const *s = l->sonames; *s && !h; s++) {
        h = dlopen(*s, RTLD_NOW | RTLD_LOCAL);
        if (!h && dlerror() != NULL)
            why = "could not be loaded";
    }
    if (!h) {
        snprintf(l->failure, sizeof(l->failure), "shared library %s %s (make deps installs it)",
                 l->sonames[0], why);
        return;
    }
    for (size_t i = 0; i < l->n_syms; i++) {
        void *p = dlsym(h, l->syms[i].name);
        if (!p) {
            snprintf(l->failure, sizeof(l->failure), "shared library %s has no symbol '%s'",
                     l->sonames[0], l->syms[i].name);
            for (size_t k = 0; k < l->n_syms; k++)
                *l->syms[k].slot = NULL;
            return; /* the handle stays open: harmless, and never retried */
        }
        *l->syms[i].slot = p;
    }
}

#define LZ_SYM(tbl, prefix, f)                                                                     \
    {                                                                                              \
        prefix #f, (void **)&tbl.f                                                                 \
    }

static const char *const lz_curl_names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", NULL};
static const struct lz_sym lz_curl_syms[] = {
    LZ_SYM(lz_curl, "curl_", global_init),    LZ_SYM(lz_curl, "curl_", url),
    LZ_SYM(lz_curl, "curl_", url_cleanup),    LZ_SYM(lz_curl, "curl_", url_set),
    LZ_SYM(lz_curl, "curl_", url_get),        LZ_SYM(lz_curl, "curl_", url_strerror),
    LZ_SYM(lz_curl, "curl_", free),           LZ_SYM(lz_curl, "curl_", easy_init),
    LZ_SYM(lz_curl, "curl_", easy_setopt),    LZ_SYM(lz_curl, "curl_", easy_perform),
    LZ_SYM(lz_curl, "curl_", easy_getinfo),   LZ_SYM(lz_curl, "curl_", easy_cleanup),
    LZ_SYM(lz_curl, "curl_", easy_strerror),  LZ_SYM(lz_curl, "curl_", slist_append),
    LZ_SYM(lz_curl, "curl_", slist_free_all),
};
static struct lz_lib lz_curl_lib = {lz_curl_names, lz_curl_syms,
                                    sizeof(lz_curl_syms) / sizeof(lz_curl_syms[0]),
                                    PTHREAD_ONCE_INIT, ""};

static void lz_curl_once(void)
{
    lz_open(&lz_curl_lib);
    if (!lz_curl_lib.failure[0] && lz_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        snprintf(lz_curl_lib.failure, sizeof(lz_curl_lib.failure), "libcurl failed to initialise");
}

enum err_code lz_curl_load(struct err *err)
{
    pthread_once(&lz_curl_lib.once, lz_curl_once);
    if (lz_curl_lib.failure[0])
        return err_set(err, E_INTERNAL, "cannot download: %s", lz_curl_lib.failure);
    return E_OK;
}

static const char *const lz_mhd_names[] = {"libmicrohttpd.so.12", NULL};
static const struct lz_sym lz_mhd_syms[] = {
    LZ_SYM(lz_mhd, "MHD_", start_daemon),
    LZ_SYM(lz_mhd, "MHD_", stop_daemon),
    LZ_SYM(lz_mhd, "MHD_", quiesce_daemon),
    LZ_SYM(lz_mhd, "MHD_", create_response_from_buffer),
    LZ_SYM(lz_mhd, "MHD_", create_response_from_fd64),
    LZ_SYM(lz_mhd, "MHD_", add_response_header),
    LZ_SYM(lz_mhd, "MHD_", queue_response),
    LZ_SYM(lz_mhd, "MHD_", destroy_response),
    LZ_SYM(lz_mhd, "MHD_", lookup_connection_value),
    LZ_SYM(lz_mhd, "MHD_", get_connection_values),
    LZ_SYM(lz_mhd, "MHD_", suspend_connection),
    LZ_SYM(lz_mhd, "MHD_", resume_connection),
};
static struct lz_lib lz_mhd_lib = {
    lz_mhd_names, lz_mhd_syms, sizeof(lz_mhd_syms) / sizeof(lz_mhd_syms[0]), PTHREAD_ONCE_INIT, ""};

static void lz_mhd_once(void)
{
    lz_open(&lz_mhd_lib);
}

enum err_code lz_mhd_load(struct err *err)
{
    pthread_once(&lz_mhd_lib.once, lz_mhd_once);
    if (lz_mhd_lib.failure[0])
        return err_set(err, E_INTERNAL, "cannot serve HTTP: %s", lz_mhd_lib.failure);
    return E_OK;
}
