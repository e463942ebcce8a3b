/*
 * lazylib: libcurl and libmicrohttpd, loaded with dlopen() the first time
 * they are needed instead of at every start. Between them they pull in about
 * thirty shared libraries (GnuTLS, Kerberos, LDAP, ...) that a `kiln files
 * list`, a cold `kiln run` of code, or an analyze never use; mapping and
 * relocating them was most of kiln's start-up time.
 *
 * Each loader is thread-safe (pthread_once) and reports a missing or broken
 * library as E_INTERNAL naming it. Callers then go through the tables
 * (lz_curl.easy_init(), lz_mhd.start_daemon(), ...) with the libraries' own
 * types from their headers.
 */
#pragma once

#include <curl/curl.h>
#include <microhttpd.h>

#include "err.h"

struct lz_curl {
    CURLcode (*global_init)(long flags);
    CURLU *(*url)(void);
    void (*url_cleanup)(CURLU *u);
    CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
    CURLUcode (*url_get)(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
    const char *(*url_strerror)(CURLUcode code);
    void (*free)(void *p);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *c);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
};

struct lz_mhd {
    struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
                                       MHD_AcceptPolicyCallback apc, void *apc_cls,
                                       MHD_AccessHandlerCallback dh, void *dh_cls, ...);
    void (*stop_daemon)(struct MHD_Daemon *d);
    MHD_socket (*quiesce_daemon)(struct MHD_Daemon *d);
    struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
                                                        enum MHD_ResponseMemoryMode mode);
    struct MHD_Response *(*create_response_from_fd64)(uint64_t size, int fd);
    enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *header,
                                           const char *content);
    enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned int status,
                                      struct MHD_Response *r);
    void (*destroy_response)(struct MHD_Response *r);
    const char *(*lookup_connection_value)(struct MHD_Connection *c, enum MHD_ValueKind kind,
                                           const char *key);
    int (*get_connection_values)(struct MHD_Connection *c, enum MHD_ValueKind kind,
                                 MHD_KeyValueIterator it, void *it_cls);
    void (*suspend_connection)(struct MHD_Connection *c);
    void (*resume_connection)(struct MHD_Connection *c);
};

extern struct lz_curl lz_curl;
extern struct lz_mhd lz_mhd;

/* Load libcurl (and run curl_global_init once). */
enum err_code lz_curl_load(struct err *err);
/* Load libmicrohttpd. */
enum err_code lz_mhd_load(struct err *err);
