/*
 * fetch_int: the testable pieces of fetch.c (address classifier, URL/host
 * checks, header parsing). Only fetch.c and its unit tests include this.
 * All functions are pure (no network, no global state) and thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "err.h"
#include "klimits.h"

/* One hop, checked and ready to connect: only addrs may be connected to. */
struct fetch_target {
    char scheme[8]; /* "http" or "https" */
    char host[256]; /* lower case, IPv6 without brackets */
    int port;
    bool literal;    /* host is an IP address (nothing to resolve) */
    bool allowed;    /* on the operator allowlist: address check skipped */
    char label[200]; /* "host/path" for messages: no query, no credentials */
    struct sockaddr_storage addrs[LIM_FETCH_ADDRS];
    size_t n_addrs;
};

/* True when the address must not be fetched from; why gets the reason
 * ("loopback", "private", "IPv4-mapped 127.0.0.1 (loopback)" ...).
 * a4 is in host byte order; b6 is the 16 network-order bytes. */
bool fetch_ipv4_blocked(uint32_t a4, char *why, size_t why_len);
bool fetch_ipv6_blocked(const unsigned char b6[16], char *why, size_t why_len);
bool fetch_addr_blocked(const struct sockaddr *sa, char *why, size_t why_len);
/* Convenience for tests: classify a literal address string ("10.0.0.1",
 * "::1"); a string that is no address counts as blocked ("not an address"). */
bool fetch_ip_literal_blocked(const char *ip, char *why, size_t why_len);

/* True when host is written as an IPv4 address (its last label is numeric,
 * as URL parsers decide) but is not the canonical dotted quad: 2130706433,
 * 0x7f000001, 0177.0.0.1, 127.1, 127.0.0.1. ... */
bool fetch_host_noncanonical_ipv4(const char *host);

/* Check one URL for one hop without connecting: syntax (E_INVALID), scheme
 * and user info (E_BLOCKED), host notation (E_BLOCKED), resolution (E_FETCH)
 * and every resolved address (E_BLOCKED unless allowlisted). Fills t. */
enum err_code fetch_check_url(const struct config *cfg, const char *url, struct fetch_target *t,
                              struct err *err);

/* True when sa (address and port) is one of t's checked addresses: the
 * open-socket callback refuses every other address curl may try. */
bool fetch_addr_pinned(const struct fetch_target *t, const struct sockaddr *sa);

/* Last non-empty segment of a URL path ("/a/b%20c.csv?x" -> "b c.csv"),
 * percent-decoded and made safe as a file name; "" when none. */
void fetch_path_file_name(const char *path, char *out, size_t out_len);
/* filename (or filename*) of a Content-Disposition value, without any
 * directory part and made safe as a file name; "" when none. */
void fetch_disposition_name(const char *value, char *out, size_t out_len);
