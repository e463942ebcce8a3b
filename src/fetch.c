/*
 * fetch: the only libcurl user. Each hop of a download is checked by
 * fetch_check_url() (scheme, notation, every resolved address) before curl
 * sees it; curl then connects only to those addresses (CURLOPT_RESOLVE pins
 * the name, the open-socket callback refuses anything else), follows no
 * redirect itself and writes the body straight to the caller's fd.
 */
#include "fetch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fetch_int.h"
#include "klimits.h"
#include "lazylib.h"
#include "utf8.h"

#include "banned.h"

#define FETCH_USER_AGENT "kiln/0.1"

/* ---- address classification ------------------------------------------- */

struct fetch_v4_range {
    uint32_t net;
    int prefix;
    const char *why;
};

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

/* First match wins: broadcast before the reserved 240/4 around it. */
static const struct fetch_v4_range fetch_v4_ranges[] = {
    {V4(255, 255, 255, 255), 32, "broadcast"},
    {V4(0, 0, 0, 0), 8, "unspecified"},
    {V4(10, 0, 0, 0), 8, "private"},
    {V4(100, 64, 0, 0), 10, "carrier-grade NAT (shared)"},
    {V4(127, 0, 0, 0), 8, "loopback"},
    {V4(169, 254, 0, 0), 16, "link-local"},
    {V4(172, 16, 0, 0), 12, "private"},
    {V4(192, 0, 0, 0), 24, "reserved (IETF protocol assignments)"},
    {V4(192, 0, 2, 0), 24, "reserved (documentation)"},
    {V4(192, 88, 99, 0), 24, "reserved (6to4 relay)"},
    {V4(192, 168, 0, 0), 16, "private"},
    {V4(198, 18, 0, 0), 15, "reserved (benchmarking)"},
    {V4(198, 51, 100, 0), 24, "reserved (documentation)"},
    {V4(203, 0, 113, 0), 24, "reserved (documentation)"},
    {V4(224, 0, 0, 0), 4, "multicast"},
    {V4(240, 0, 0, 0), 4, "reserved"},
};

static void fetch_why(char *why, size_t why_len, const char *a, const char *b)
{
    if (why && why_len)
        snprintf(why, why_len, "%s%s", a, b);
}

bool fetch_ipv4_blocked(uint32_t a4, char *why, size_t why_len)
{
    for (size_t i = 0; i < sizeof(fetch_v4_ranges) / sizeof(fetch_v4_ranges[0]); i++) {
        const struct fetch_v4_range *r = &fetch_v4_ranges[i];
        uint32_t mask = r->prefix == 0 ? 0 : 0xffffffffu << (32 - r->prefix);
        if ((a4 & mask) == r->net) {
            fetch_why(why, why_len, r->why, "");
            return true;
        }
    }
    return false;
}

/* An IPv6 range that embeds an IPv4 address: refused when the embedded
 * address is; public embedded addresses pass only where allow_public. */
static bool fetch_embedded_v4(const unsigned char *p, const char *kind, bool allow_public,
                              char *why, size_t why_len)
{
    uint32_t a4 = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    char inner[96];
    char dotted[INET_ADDRSTRLEN];
    snprintf(dotted, sizeof(dotted), "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
    if (fetch_ipv4_blocked(a4, inner, sizeof(inner))) {
        if (why && why_len)
            snprintf(why, why_len, "%s %s (%s)", kind, dotted, inner);
        return true;
    }
    if (!allow_public) {
        if (why && why_len)
            snprintf(why, why_len, "%s %s (deprecated)", kind, dotted);
        return true;
    }
    return false;
}

static bool fetch_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

bool fetch_ipv6_blocked(const unsigned char b[16], char *why, size_t why_len)
{
    static const unsigned char nat64[4] = {0x00, 0x64, 0xff, 0x9b};
    if (fetch_zero(b, 15) && b[15] == 0) {
        fetch_why(why, why_len, "unspecified", "");
        return true;
    }
    if (fetch_zero(b, 15) && b[15] == 1) {
        fetch_why(why, why_len, "loopback", "");
        return true;
    }
    /* ::ffff:0:0/96 mapped, ::ffff:0:0:0/96 translated, ::/96 compatible. */
    if (fetch_zero(b, 10) && b[10] == 0xff && b[11] == 0xff)
        return fetch_embedded_v4(b + 12, "IPv4-mapped", true, why, why_len);
    if (fetch_zero(b, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
        return fetch_embedded_v4(b + 12, "IPv4-translated", true, why, why_len);
    if (fetch_zero(b, 12))
        return fetch_embedded_v4(b + 12, "IPv4-compatible", false, why, why_len);
    if (memcmp(b, nat64, 4) == 0 && fetch_zero(b + 4, 8))
        return fetch_embedded_v4(b + 12, "NAT64", true, why, why_len);
    if (memcmp(b, nat64, 4) == 0 && b[4] == 0 && b[5] == 1) {
        fetch_why(why, why_len, "local-use NAT64", "");
        return true;
    }
    if (b[0] == 0x20 && b[1] == 0x02)
        return fetch_embedded_v4(b + 2, "6to4", true, why, why_len);
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
        fetch_why(why, why_len, "Teredo", "");
        return true;
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
        fetch_why(why, why_len, "reserved (documentation)", "");
        return true;
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) {
        fetch_why(why, why_len, "reserved (IETF protocol assignments)", "");
        return true;
    }
    if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) {
        fetch_why(why, why_len, "reserved (documentation)", "");
        return true;
    }
    if ((b[0] & 0xfe) == 0xfc) {
        fetch_why(why, why_len, "private (unique local)", "");
        return true;
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
        fetch_why(why, why_len, "link-local", "");
        return true;
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) {
        fetch_why(why, why_len, "site-local", "");
        return true;
    }
    if (b[0] == 0xff) {
        fetch_why(why, why_len, "multicast", "");
        return true;
    }
    /* Everything else outside global unicast 2000::/3 (incl. 100::/64). */
    if ((b[0] & 0xe0) != 0x20) {
        fetch_why(why, why_len, "reserved", "");
        return true;
    }
    return false;
}

bool fetch_addr_blocked(const struct sockaddr *sa, char *why, size_t why_len)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return fetch_ipv4_blocked(ntohl(s4->sin_addr.s_addr), why, why_len);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        return fetch_ipv6_blocked(s6->sin6_addr.s6_addr, why, why_len);
    }
    fetch_why(why, why_len, "not an IP address", "");
    return true;
}

bool fetch_ip_literal_blocked(const char *ip, char *why, size_t why_len)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, ip, &a4) == 1)
        return fetch_ipv4_blocked(ntohl(a4.s_addr), why, why_len);
    if (inet_pton(AF_INET6, ip, &a6) == 1)
        return fetch_ipv6_blocked(a6.s6_addr, why, why_len);
    fetch_why(why, why_len, "not an address", "");
    return true;
}

/* Text form of a socket address, without the port. */
static void fetch_addr_str(const struct sockaddr *sa, char *out, size_t out_len)
{
    const void *p = NULL;
    if (sa->sa_family == AF_INET)
        p = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        p = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (!p || !inet_ntop(sa->sa_family, p, out, (socklen_t)out_len))
        snprintf(out, out_len, "?");
}

/* ---- host notation ---------------------------------------------------- */

bool fetch_host_noncanonical_ipv4(const char *host)
{
    size_t end = strlen(host);
    if (end && host[end - 1] == '.')
        end--;
    if (!end)
        return false;
    size_t start = end;
    while (start > 0 && host[start - 1] != '.')
        start--;
    const char *l = host + start;
    size_t n = end - start;
    bool numeric = n > 0;
    if (n >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X')) {
        for (size_t i = 2; i < n; i++)
            if (!isxdigit((unsigned char)l[i]))
                numeric = false;
    } else {
        for (size_t i = 0; i < n; i++)
            if (!isdigit((unsigned char)l[i]))
                numeric = false;
    }
    if (!numeric)
        return false;
    /* Written as IPv4: it must read back identically from inet_ntop. */
    struct in_addr a;
    char canon[INET_ADDRSTRLEN];
    if (inet_pton(AF_INET, host, &a) != 1 || !inet_ntop(AF_INET, &a, canon, sizeof(canon)))
        return true;
    return strcmp(canon, host) != 0;
}

/* ---- file names -------------------------------------------------------- */

static int fetch_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into out (always terminated, truncated to fit). */
static void fetch_pct_decode(const char *s, size_t n, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < out_len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = fetch_hex((unsigned char)s[i + 1])) >= 0 &&
            (lo = fetch_hex((unsigned char)s[i + 2])) >= 0) {
            out[o++] = hi || lo ? (char)(hi * 16 + lo) : '_'; /* %00: the name goes on */
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* Make name usable as a single file name, in place: separators, control
 * characters (C0, DEL, C1) and bytes that are not UTF-8 become '_', spaces
 * at the ends go, and "." or ".." becomes "". */
static void fetch_safe_name(char *name)
{
    size_t n = strlen(name), o = 0;
    for (size_t i = 0, k; i < n; i += k) {
        const unsigned char *c = (const unsigned char *)name + i;
        if (utf8_name_char(c, n - i, &k) == UTF8_NAME_OK) {
            memmove(name + o, c, k);
            o += k;
        } else {
            name[o++] = '_'; /* one for each character (a C1 control is two bytes) */
        }
    }
    while (o > 0 && name[o - 1] == ' ')
        o--;
    name[o] = '\0';
    size_t lead = strspn(name, " ");
    memmove(name, name + lead, o - lead + 1);
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        name[0] = '\0';
}

/* The file name to use for name (any length) in out: made safe, and cut to
 * fit out_len with its extension (up to 16 bytes after the last '.') kept,
 * at a character boundary. */
void fetch_clean_name(const char *name, char *out, size_t out_len)
{
    if (!out_len)
        return;
    char *t = strdup(name);
    out[0] = '\0';
    if (!t)
        return;
    fetch_safe_name(t);
    size_t n = strlen(t);
    if (n >= out_len) {
        const char *dot = strrchr(t, '.');
        size_t ext = dot && dot != t && n - (size_t)(dot - t) <= 16 ? n - (size_t)(dot - t) : 0;
        if (ext + 2 > out_len) /* no room for the stem too: cut plainly */
            ext = 0;
        size_t keep = out_len - 1 - ext;
        while (keep > 0 && ((unsigned char)t[keep] & 0xc0) == 0x80)
            keep--;
        memmove(t + keep, t + n - ext, ext + 1);
        fetch_safe_name(t); /* a space the cut left at an end */
    }
    snprintf(out, out_len, "%s", t);
    free(t);
}

void fetch_path_file_name(const char *path, char *out, size_t out_len)
{
    if (!out_len)
        return;
    out[0] = '\0';
    size_t end = strcspn(path, "?#");
    while (end > 0 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    if (start == end)
        return;
    char *dec = malloc(end - start + 1);
    if (!dec)
        return;
    fetch_pct_decode(path + start, end - start, dec, end - start + 1);
    fetch_clean_name(dec, out, out_len);
    free(dec);
}

/* Convert ISO-8859-1 bytes to UTF-8 in place-safe fashion (out != in). */
static void fetch_latin1_to_utf8(const char *in, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; in[i] && o + 1 < out_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x80) {
            out[o++] = (char)c;
        } else if (o + 2 < out_len) {
            out[o++] = (char)(0xc0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else {
            break;
        }
    }
    out[o] = '\0';
}

void fetch_disposition_name(const char *value, char *out, size_t out_len)
{
    char plain[LIM_FETCH_HEADER_BYTES] = "";
    char ext[LIM_FETCH_HEADER_BYTES] = "";
    bool have_plain = false, have_ext = false;
    if (!out_len)
        return;
    out[0] = '\0';
    const char *p = strchr(value, ';');
    while (p && *p) {
        while (*p == ';' || *p == ' ' || *p == '\t')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        const char *name_end = p;
        while (name_end > name && (name_end[-1] == ' ' || name_end[-1] == '\t'))
            name_end--;
        size_t name_len = (size_t)(name_end - name);
        if (*p != '=')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        char val[LIM_FETCH_HEADER_BYTES] = "";
        size_t v = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                if (v + 1 < sizeof(val))
                    val[v++] = *p;
                p++;
            }
            if (*p == '"')
                p++;
            while (*p && *p != ';')
                p++;
        } else {
            while (*p && *p != ';') {
                if (v + 1 < sizeof(val))
                    val[v++] = *p;
                p++;
            }
            while (v > 0 && (val[v - 1] == ' ' || val[v - 1] == '\t'))
                v--;
        }
        val[v] = '\0';
        if (name_len == 8 && !strncasecmp(name, "filename", 8)) {
            snprintf(plain, sizeof(plain), "%s", val);
            have_plain = true;
        } else if (name_len == 9 && !strncasecmp(name, "filename*", 9)) {
            /* charset'language'percent-encoded (RFC 8187) */
            char *q1 = strchr(val, '\'');
            char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
            if (!q2)
                continue;
            *q1 = '\0';
            char dec[LIM_FETCH_HEADER_BYTES];
            fetch_pct_decode(q2 + 1, strlen(q2 + 1), dec, sizeof(dec));
            if (!strcasecmp(val, "utf-8")) {
                snprintf(ext, sizeof(ext), "%s", dec);
                have_ext = true;
            } else if (!strcasecmp(val, "iso-8859-1")) {
                fetch_latin1_to_utf8(dec, ext, sizeof(ext));
                have_ext = true;
            }
        }
    }
    const char *name = have_ext ? ext : have_plain ? plain : NULL;
    if (!name)
        return;
    const char *slash = strrchr(name, '/');
    const char *bslash = strrchr(name, '\\');
    if (slash && (!bslash || slash > bslash))
        name = slash + 1;
    else if (bslash)
        name = bslash + 1;
    fetch_clean_name(name, out, out_len);
}

/* ---- one hop: URL check and resolution --------------------------------- */

static bool fetch_is_localhost_name(const char *h)
{
    size_t n = strlen(h);
    if (n && h[n - 1] == '.')
        n--;
    if (n == 9 && !strncmp(h, "localhost", 9))
        return true;
    return n > 10 && !strncmp(h + n - 10, ".localhost", 10);
}

/* "host/path" for messages (never the query or credentials). */
static void fetch_make_label(struct fetch_target *t, CURLU *u, const char *raw_host)
{
    char *path = NULL;
    if (lz_curl.url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        path = NULL;
    int n = snprintf(t->label, sizeof(t->label), "%s%s", raw_host, path ? path : "");
    if (n < 0 || (size_t)n >= sizeof(t->label))
        snprintf(t->label + sizeof(t->label) - 4, 4, "...");
    lz_curl.free(path);
}

/* The authority as written (between "//" and the path), for the checks
 * that must see the user's notation rather than curl's normalised host. */
static enum err_code fetch_raw_host(const char *url, char *host, size_t host_len, bool *userinfo,
                                    struct err *err)
{
    const char *p = strstr(url, "://");
    *userinfo = false;
    if (!p)
        return err_set(err, E_INVALID, "malformed URL: no '//' after the scheme");
    p += 3;
    size_t alen = strcspn(p, "/?#");
    if (alen == 0)
        return err_set(err, E_INVALID, "malformed URL: no host");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (p[i] == '@')
            at = p + i;
    if (at) {
        *userinfo = true;
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hlen = alen;
    if (p[0] == '[') {
        const char *rb = memchr(p, ']', alen);
        if (!rb)
            return err_set(err, E_INVALID, "malformed URL: missing ']' in the host");
        hlen = (size_t)(rb + 1 - p);
    } else {
        for (size_t i = alen; i > 0; i--)
            if (p[i - 1] == ':') {
                hlen = i - 1;
                break;
            }
    }
    if (hlen == 0)
        return err_set(err, E_INVALID, "malformed URL: no host");
    if (hlen >= host_len)
        return err_set(err, E_INVALID, "malformed URL: host is longer than %zu characters",
                       host_len - 1);
    for (size_t i = 0; i < hlen; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[hlen] = '\0';
    return E_OK;
}

static bool fetch_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
        return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) &&
               x->sin6_port == y->sin6_port;
    }
    return false;
}

bool fetch_addr_pinned(const struct fetch_target *t, const struct sockaddr *sa)
{
    for (size_t i = 0; i < t->n_addrs; i++)
        if (fetch_same_addr(sa, (const struct sockaddr *)&t->addrs[i]))
            return true;
    return false;
}

static enum err_code fetch_resolve(struct fetch_target *t, struct err *err)
{
    struct addrinfo hints, *res = NULL;
    char port[16];
    enum err_code rc = E_OK;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = t->literal ? AI_NUMERICHOST | AI_NUMERICSERV : AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", t->port);
    int g = getaddrinfo(t->host, port, &hints, &res);
    if (g != 0)
        return err_set(err, E_FETCH, "cannot resolve '%s': %s", t->host,
                       g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    t->n_addrs = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (ai->ai_addrlen > sizeof(struct sockaddr_storage))
            continue;
        char why[160];
        if (!t->allowed && fetch_addr_blocked(ai->ai_addr, why, sizeof(why))) {
            char a[INET6_ADDRSTRLEN];
            fetch_addr_str(ai->ai_addr, a, sizeof(a));
            rc = err_set(err, E_BLOCKED, "address %s of '%s' is %s", a, t->host, why);
            goto out;
        }
        bool dup = false;
        for (size_t i = 0; i < t->n_addrs; i++)
            if (fetch_same_addr((const struct sockaddr *)&t->addrs[i], ai->ai_addr))
                dup = true;
        if (dup || t->n_addrs >= LIM_FETCH_ADDRS)
            continue; /* every address is still checked, only LIM_FETCH_ADDRS kept */
        memset(&t->addrs[t->n_addrs], 0, sizeof(t->addrs[0]));
        memcpy(&t->addrs[t->n_addrs], ai->ai_addr, ai->ai_addrlen);
        t->n_addrs++;
    }
    if (t->n_addrs == 0)
        rc = err_set(err, E_FETCH, "cannot resolve '%s': no IPv4 or IPv6 address", t->host);
out:
    freeaddrinfo(res);
    return rc;
}

/* Everything of fetch_check_url() but the resolution. */
static enum err_code fetch_parse_url(const struct config *cfg, const char *url,
                                     struct fetch_target *t, struct err *err)
{
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *zone = NULL;
    char raw[300];
    bool userinfo = false;
    enum err_code rc = E_OK;

    memset(t, 0, sizeof(*t));
    if ((rc = lz_curl_load(err)))
        return rc;
    size_t len = strlen(url);
    if (len == 0)
        return err_set(err, E_INVALID, "malformed URL: empty");
    if (len > LIM_URL_LEN)
        return err_set(err, E_INVALID, "URL is longer than %d characters", LIM_URL_LEN);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f || c == '\\')
            return err_set(err, E_INVALID, "malformed URL: it contains %s",
                           c == '\\'  ? "a backslash"
                           : c == ' ' ? "a space"
                                      : "a control character");
    }
    /* A scheme other than http(s) is refused by name, whatever follows it
     * (curl cannot parse 'data:,x' or 'mailto:a@b'); 'host:8080/x' (digits
     * after the colon) is a host without a scheme, left to the parser. */
    size_t sl = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    if (sl > 0 && sl <= 32 && isalpha((unsigned char)url[0]) && url[sl] == ':' &&
        !isdigit((unsigned char)url[sl + 1]) && !(sl == 4 && !strncasecmp(url, "http", 4)) &&
        !(sl == 5 && !strncasecmp(url, "https", 5)))
        return err_set(err, E_BLOCKED, "scheme '%.*s' is not allowed (only http and https)",
                       (int)sl, url);
    u = lz_curl.url();
    if (!u)
        return err_set(err, E_NOMEM, "out of memory parsing a URL");
    CURLUcode uc = lz_curl.url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        rc = err_set(err, E_INVALID, "malformed URL: %s", lz_curl.url_strerror(uc));
        goto out;
    }
    if (lz_curl.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme) {
        rc = err_set(err, E_INVALID, "malformed URL: no scheme");
        goto out;
    }
    if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
        rc = err_set(err, E_BLOCKED, "scheme '%.32s' is not allowed (only http and https)", scheme);
        goto out;
    }
    snprintf(t->scheme, sizeof(t->scheme), "%s", strcasecmp(scheme, "http") ? "https" : "http");
    rc = fetch_raw_host(url, raw, sizeof(raw), &userinfo, err);
    if (rc)
        goto out;
    if (userinfo) {
        rc = err_set(err, E_BLOCKED, "URLs with user info ('user@host') are not allowed");
        goto out;
    }
    if (raw[0] == '[' && strchr(raw, '%')) {
        rc = err_set(err, E_BLOCKED, "IPv6 zone ids are not allowed in URLs");
        goto out;
    }
    if (strchr(raw, '%')) {
        rc = err_set(err, E_INVALID, "malformed URL: percent-encoded host '%s'", raw);
        goto out;
    }
    if (raw[0] != '[' && fetch_host_noncanonical_ipv4(raw)) {
        rc = err_set(err, E_BLOCKED,
                     "host '%s' uses a non-canonical IPv4 notation (write it as a dotted quad)",
                     raw);
        goto out;
    }
    if (lz_curl.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
        rc = err_set(err, E_INVALID, "malformed URL: no host");
        goto out;
    }
    if (lz_curl.url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK && zone) {
        rc = err_set(err, E_BLOCKED, "IPv6 zone ids are not allowed in URLs");
        goto out;
    }
    size_t hl = strlen(host);
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']' || hl - 2 >= sizeof(t->host)) {
            rc = err_set(err, E_INVALID, "malformed URL: bad IPv6 host");
            goto out;
        }
        for (size_t i = 1; i + 1 < hl; i++)
            t->host[i - 1] = (char)tolower((unsigned char)host[i]);
        t->host[hl - 2] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, t->host, &a6) != 1) {
            rc = err_set(err, E_INVALID, "malformed URL: bad IPv6 host");
            goto out;
        }
        t->literal = true;
    } else {
        if (hl >= sizeof(t->host)) {
            rc = err_set(err, E_INVALID, "malformed URL: host is too long");
            goto out;
        }
        for (size_t i = 0; i <= hl; i++) {
            unsigned char c = (unsigned char)host[i];
            if (c && !isalnum(c) && c != '.' && c != '-' && c != '_') {
                rc = err_set(err, E_INVALID,
                             c >= 0x80 ? "host '%s' is not ASCII (write it in its xn-- form)"
                                       : "host '%s' holds characters not allowed in host names",
                             raw);
                goto out;
            }
            t->host[i] = (char)tolower(c);
        }
        struct in_addr a4;
        t->literal = inet_pton(AF_INET, t->host, &a4) == 1;
        if (fetch_host_noncanonical_ipv4(t->host)) {
            rc = err_set(err, E_BLOCKED, "host '%s' uses a non-canonical IPv4 notation", raw);
            goto out;
        }
    }
    if (lz_curl.url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK || !port) {
        rc = err_set(err, E_INVALID, "malformed URL: no port");
        goto out;
    }
    char *end = NULL;
    errno = 0;
    long pv = strtol(port, &end, 10);
    if (errno || !end || *end || pv < 1 || pv > 65535) {
        rc = err_set(err, E_INVALID, "malformed URL: bad port");
        goto out;
    }
    t->port = (int)pv;
    fetch_make_label(t, u, t->host);
    t->allowed = config_host_allowed(cfg, t->host, t->port);
    if (!t->allowed && fetch_is_localhost_name(t->host)) {
        rc = err_set(err, E_BLOCKED, "host '%s' is loopback", t->host);
        goto out;
    }
out:
    lz_curl.free(zone);
    lz_curl.free(port);
    lz_curl.free(host);
    lz_curl.free(scheme);
    lz_curl.url_cleanup(u);
    return rc;
}

enum err_code fetch_check_url(const struct config *cfg, const char *url, struct fetch_target *t,
                              struct err *err)
{
    enum err_code rc = fetch_parse_url(cfg, url, t, err);
    return rc ? rc : fetch_resolve(t, err);
}

/* ---- one hop: the transfer ---------------------------------------------- */

struct fetch_xfer {
    const struct fetch_target *t;
    int fd;
    size_t max_bytes;
    size_t written;
    long status;       /* of the response being received */
    long long clen;    /* its Content-Length, -1 if none */
    bool too_large;    /* stopped at the cap */
    bool http_error;   /* stopped at a >= 400 status */
    size_t discarded;  /* body bytes of error responses, capped like the file */
    bool redirect_cut; /* stopped at a redirect's body (not read: not the file) */
    bool clen_seen;    /* this response had a Content-Length */
    bool clen_clash;   /* ... and another with a different value (RFC 9112 6.3) */
    bool write_failed; /* write(2) failed, errno in write_errno */
    int write_errno;
    bool sock_refused; /* curl tried an address we did not check */
    char refused_addr[INET6_ADDRSTRLEN];
    char disposition[LIM_FETCH_HEADER_BYTES];
    char location[LIM_URL_LEN + 2]; /* raw Location; longer ones are cut and refused */
};

static size_t fetch_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct fetch_xfer *x = userp;
    size_t n = size * nmemb;
    if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
        const char *sp = memchr(data, ' ', n);
        x->status = 0;
        x->clen = -1;
        x->clen_seen = false;
        x->disposition[0] = '\0';
        x->location[0] = '\0';
        if (sp)
            for (const char *p = sp + 1; p < data + n && isdigit((unsigned char)*p); p++)
                x->status = x->status * 10 + (*p - '0');
        return n;
    }
    if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        /* End of this response's headers. */
        if (x->status >= 400) {
            x->http_error = true;
            return 0;
        }
        if (x->status >= 200 && x->status < 300 && x->clen >= 0 &&
            (unsigned long long)x->clen > (unsigned long long)x->max_bytes) {
            x->too_large = true;
            return 0;
        }
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    size_t name_len = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *e = data + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t vlen = (size_t)(e - v);
    if (name_len == 19 && !strncasecmp(data, "content-disposition", 19)) {
        if (vlen >= sizeof(x->disposition))
            vlen = sizeof(x->disposition) - 1;
        memcpy(x->disposition, v, vlen);
        x->disposition[vlen] = '\0';
    } else if (name_len == 8 && !strncasecmp(data, "location", 8)) {
        if (vlen >= sizeof(x->location))
            vlen = sizeof(x->location) - 1;
        memcpy(x->location, v, vlen);
        x->location[vlen] = '\0';
    } else if (name_len == 14 && !strncasecmp(data, "content-length", 14)) {
        long long cl = 0;
        bool ok = vlen > 0 && vlen < 19;
        for (size_t i = 0; ok && i < vlen; i++) {
            if (!isdigit((unsigned char)v[i]))
                ok = false;
            else
                cl = cl * 10 + (v[i] - '0');
        }
        if (x->clen_seen && (!ok || cl != x->clen)) {
            x->clen_clash = true; /* which length is the body's? */
            return 0;
        }
        x->clen_seen = true;
        x->clen = ok ? cl : -1;
    }
    return n;
}

static size_t fetch_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct fetch_xfer *x = userp;
    size_t n = size * nmemb;
    if (x->status >= 300 && x->status < 400) {
        /* A redirect's body is not the file, and not read: its Location is
         * known once the headers are in (the limit is the file's). */
        x->redirect_cut = true;
        return 0;
    }
    if (x->status < 200 || x->status >= 300) {
        /* An error's body: not the file, but still capped. */
        if (n > x->max_bytes - x->discarded) {
            x->too_large = true;
            return 0;
        }
        x->discarded += n;
        return n;
    }
    if (n > x->max_bytes - x->written) {
        x->too_large = true;
        return 0;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(x->fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            x->write_failed = true;
            x->write_errno = w < 0 ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    x->written += n;
    return n;
}

/* Every socket curl opens goes through here: only checked addresses. */
static curl_socket_t fetch_opensocket_cb(void *clientp, curlsocktype purpose,
                                         struct curl_sockaddr *address)
{
    struct fetch_xfer *x = clientp;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    const struct sockaddr *sa = &address->addr;
    if (!fetch_addr_pinned(x->t, sa)) {
        x->sock_refused = true;
        fetch_addr_str(sa, x->refused_addr, sizeof(x->refused_addr));
        return CURL_SOCKET_BAD;
    }
    int s = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    return s < 0 ? CURL_SOCKET_BAD : s;
}

/* True when a Location names its own scheme or authority. */
static bool fetch_location_absolute(const char *loc)
{
    if (loc[0] == '/' && loc[1] == '/')
        return true;
    if (!isalpha((unsigned char)loc[0]))
        return false;
    const char *p = loc + 1;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return *p == ':';
}

static long fetch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A Location the server sent that cannot be followed: the server's fault,
 * not the request's. A refused one stays URL_BLOCKED; a malformed one is
 * FETCH_FAILED (it read INVALID_REQUEST, as if the caller's URL were bad). */
static enum err_code fetch_redirect_error(struct err *err, const char *from)
{
    if (err->code == E_INVALID) {
        err->code = E_FETCH;
        return err_wrap(err, "redirect from '%s' to a URL kiln cannot follow", from);
    }
    return err_wrap(err, "redirect from '%s'", from);
}

/* The absolute URL of a Location (may be relative) sent for url, as curl
 * resolves it; NULL when it cannot be. Free with lz_curl.free. */
static char *fetch_resolve_location(const char *url, const char *location)
{
    CURLU *u = lz_curl.url();
    char *out = NULL;
    if (u && lz_curl.url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        lz_curl.url_set(u, CURLUPART_URL, location, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        lz_curl.url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
        out = NULL;
    if (u)
        lz_curl.url_cleanup(u);
    return out;
}

/* One request to a checked target. On a redirect, *next gets the absolute
 * URL to check next (malloc'd). */
static enum err_code fetch_hop(const struct config *cfg, const char *url,
                               const struct fetch_target *t, struct fetch_xfer *x,
                               long remaining_ms, struct fetch_info *info, char **next,
                               struct err *err)
{
    CURL *c = NULL;
    struct curl_slist *resolve = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    char *resolved = NULL; /* a Location resolved here (lz_curl.free) */
    enum err_code rc = E_OK;
    *next = NULL;

    c = lz_curl.easy_init();
    if (!c)
        return err_set(err, E_NOMEM, "cannot start a download of '%s'", t->label);
    if (!t->literal) {
        char entry[LIM_FETCH_ADDRS * (INET6_ADDRSTRLEN + 3) + 300];
        int n = snprintf(entry, sizeof(entry), "%s:%d:", t->host, t->port);
        for (size_t i = 0; i < t->n_addrs && n > 0 && (size_t)n < sizeof(entry); i++) {
            char a[INET6_ADDRSTRLEN];
            const struct sockaddr *sa = (const struct sockaddr *)&t->addrs[i];
            fetch_addr_str(sa, a, sizeof(a));
            n += snprintf(entry + n, sizeof(entry) - (size_t)n,
                          sa->sa_family == AF_INET6 ? "%s[%s]" : "%s%s", i ? "," : "", a);
        }
        if (n < 0 || (size_t)n >= sizeof(entry)) {
            rc = err_set(err, E_INTERNAL, "resolve entry for '%s' too long", t->host);
            goto out;
        }
        resolve = lz_curl.slist_append(NULL, entry);
        if (!resolve) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
    }
    long connect_ms = cfg->fetch_connect_ms > 0 ? cfg->fetch_connect_ms : remaining_ms;
    if (connect_ms > remaining_ms)
        connect_ms = remaining_ms;
    CURLcode sc = CURLE_OK;
#define FETCH_SETOPT(opt, val)                                                                     \
    do {                                                                                           \
        if (sc == CURLE_OK)                                                                        \
            sc = lz_curl.easy_setopt(c, opt, val);                                                 \
    } while (0)
    FETCH_SETOPT(CURLOPT_URL, url);
    FETCH_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    FETCH_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    FETCH_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    FETCH_SETOPT(CURLOPT_NOPROXY, "*");
    FETCH_SETOPT(CURLOPT_PROXY, "");
    FETCH_SETOPT(CURLOPT_NOSIGNAL, 1L);
    FETCH_SETOPT(CURLOPT_USERAGENT, FETCH_USER_AGENT);
    FETCH_SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    FETCH_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    FETCH_SETOPT(CURLOPT_TIMEOUT_MS, remaining_ms);
    FETCH_SETOPT(CURLOPT_LOW_SPEED_LIMIT, LIM_FETCH_LOW_SPEED_BYTES);
    FETCH_SETOPT(CURLOPT_LOW_SPEED_TIME, LIM_FETCH_LOW_SPEED_S);
    FETCH_SETOPT(CURLOPT_HEADERFUNCTION, fetch_header_cb);
    FETCH_SETOPT(CURLOPT_HEADERDATA, x);
    FETCH_SETOPT(CURLOPT_WRITEFUNCTION, fetch_write_cb);
    FETCH_SETOPT(CURLOPT_WRITEDATA, x);
    FETCH_SETOPT(CURLOPT_OPENSOCKETFUNCTION, fetch_opensocket_cb);
    FETCH_SETOPT(CURLOPT_OPENSOCKETDATA, x);
    if (resolve)
        FETCH_SETOPT(CURLOPT_RESOLVE, resolve);
#undef FETCH_SETOPT
    if (sc != CURLE_OK) {
        rc = err_set(err, E_INTERNAL, "cannot set up a download: %s", lz_curl.easy_strerror(sc));
        goto out;
    }

    CURLcode pc = lz_curl.easy_perform(c);
    long status = 0;
    lz_curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (pc == CURLE_WRITE_ERROR && x->redirect_cut)
        pc = CURLE_OK;
    if (x->clen_clash) {
        rc = err_set(err, E_FETCH, "the answer from '%s' has two different Content-Length headers",
                     t->label);
        goto out;
    }
    if (x->sock_refused) {
        rc = err_set(err, E_BLOCKED, "connection to unchecked address %s of '%s' refused",
                     x->refused_addr, t->host);
        goto out;
    }
    if (x->too_large) {
        rc = err_set(err, E_TOO_LARGE, "download of '%s' exceeds the limit of %zu bytes", t->label,
                     x->max_bytes);
        goto out;
    }
    if (x->write_failed) {
        errno = x->write_errno;
        rc = err_sys(err, E_IO, "cannot write the download of '%s'", t->label);
        goto out;
    }
    if (x->http_error || status >= 400) {
        rc = err_set(err, E_FETCH, "HTTP %ld from '%s'", status, t->host);
        goto out;
    }
    if (pc != CURLE_OK) {
        rc = err_set(err, E_FETCH, "cannot fetch '%s': %s%s%s", t->label, lz_curl.easy_strerror(pc),
                     errbuf[0] ? ": " : "", errbuf);
        goto out;
    }
    if (status >= 300 && status < 400) {
        char *loc = NULL;
        if (x->redirect_cut && x->location[0]) /* curl had no time to resolve it */
            loc = resolved = fetch_resolve_location(url, x->location);
        else if (lz_curl.easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK)
            loc = NULL;
        if ((!loc || !*loc) && x->location[0])
            loc = x->location; /* no URL curl can resolve: checked as it is, to say why */
        if (!loc || !*loc) {
            rc = err_set(err, E_FETCH, "HTTP %ld from '%s' without a usable Location", status,
                         t->host);
            goto out;
        }
        /* curl normalised loc (2130706433 -> 127.0.0.1): an absolute
         * Location must pass the notation checks as the server wrote it. */
        if (fetch_location_absolute(x->location)) {
            struct fetch_target *raw = malloc(sizeof(*raw));
            if (!raw) {
                rc = err_set(err, E_NOMEM, "out of memory");
                goto out;
            }
            char *abs = x->location;
            if (abs[0] == '/') {
                /* scheme-relative: the current scheme applies */
                size_t sl = strlen(t->scheme), ll = strlen(abs);
                abs = malloc(sl + ll + 2);
                if (abs) {
                    memcpy(abs, t->scheme, sl);
                    abs[sl] = ':';
                    memcpy(abs + sl + 1, x->location, ll + 1);
                }
            }
            rc = abs ? fetch_parse_url(cfg, abs, raw, err) : err_set(err, E_NOMEM, "out of memory");
            if (abs != x->location)
                free(abs);
            free(raw);
            if (rc) {
                rc = fetch_redirect_error(err, t->label);
                goto out;
            }
        }
        *next = strdup(loc);
        if (!*next)
            rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    if (status < 200) {
        rc = err_set(err, E_FETCH, "HTTP %ld from '%s'", status, t->host);
        goto out;
    }
    info->status = status;
    char *ct = NULL;
    if (lz_curl.easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(info->content_type, sizeof(info->content_type), "%s", ct);
    if (x->disposition[0])
        fetch_disposition_name(x->disposition, info->disposition_name,
                               sizeof(info->disposition_name));
    info->size = x->written;
out:
    lz_curl.free(resolved);
    lz_curl.easy_cleanup(c);
    lz_curl.slist_free_all(resolve);
    return rc;
}

/* The final URL's path, for fetch_info.file_name. */
static void fetch_final_name(const char *url, char *out, size_t out_len)
{
    CURLU *u = lz_curl.url();
    char *path = NULL;
    out[0] = '\0';
    if (u && lz_curl.url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        lz_curl.url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && path)
        fetch_path_file_name(path, out, out_len);
    lz_curl.free(path);
    lz_curl.url_cleanup(u);
}

enum err_code fetch_url(const struct config *cfg, const char *url, int fd, size_t max_bytes,
                        long timeout_ms, struct fetch_info *info, struct err *err)
{
    struct fetch_target *t = NULL;
    struct fetch_xfer *x = NULL;
    char *cur = NULL;
    struct fetch_info res;
    enum err_code rc = E_OK;

    if ((rc = lz_curl_load(err)))
        return rc;
    memset(&res, 0, sizeof(res));
    long total = cfg->fetch_total_ms > 0 ? cfg->fetch_total_ms : LIM_FETCH_TOTAL_MS_DEFAULT;
    if (timeout_ms > 0 && timeout_ms < total)
        total = timeout_ms;
    long deadline = fetch_now_ms() + total;
    t = malloc(sizeof(*t));
    x = malloc(sizeof(*x));
    cur = strdup(url);
    if (!t || !x || !cur) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    for (int hop = 0;; hop++) {
        char from[sizeof(t->label)];
        snprintf(from, sizeof(from), "%s", hop ? t->label : "");
        rc = fetch_check_url(cfg, cur, t, err);
        if (rc) {
            if (hop)
                rc = fetch_redirect_error(err, from);
            goto out;
        }
        long remaining = deadline - fetch_now_ms();
        if (remaining <= 0) {
            rc =
                err_set(err, E_FETCH, "cannot fetch '%s': timed out after %ld ms", t->label, total);
            goto out;
        }
        memset(x, 0, sizeof(*x));
        x->t = t;
        x->fd = fd;
        x->max_bytes = max_bytes;
        x->clen = -1;
        char *next = NULL;
        rc = fetch_hop(cfg, cur, t, x, remaining, &res, &next, err);
        if (rc)
            goto out;
        if (!next)
            break;
        free(cur);
        cur = next;
        if (hop + 1 > cfg->max_redirects) {
            rc = err_set(err, E_FETCH, "too many redirects (more than %d) from '%s'",
                         cfg->max_redirects, t->label);
            goto out;
        }
        res.redirects = hop + 1;
    }
    fetch_final_name(cur, res.file_name, sizeof(res.file_name));
    *info = res;
out:
    free(cur);
    free(x);
    free(t);
    return rc;
}
