#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "reqblob.h"
#include "store.h"
#include "utf8.h"

#include "banned.h"

enum err_code input_check_session(const char *s, struct err *err)
{
    size_t n = strlen(s);
    if (n == 0 || n > LIM_SESSION_ID_LEN)
        return err_set(err, E_INVALID, "must be 1 to %d characters", LIM_SESSION_ID_LEN);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return err_set(err, E_INVALID, "may hold only letters, digits, '.', '_' and '-'");
    }
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        return err_set(err, E_INVALID, "must not be '.' or '..'");
    return E_OK;
}

enum err_code input_check_name(const char *name, const char *arg, struct err *err)
{
    size_t n = strlen(name);
    if (n == 0)
        return err_set(err, E_INVALID, "'%s' must not be empty", arg);
    if (n > LIM_FILE_NAME_LEN)
        return err_set(err, E_INVALID, "'%s' is longer than %d bytes", arg, LIM_FILE_NAME_LEN);
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return err_set(err, E_INVALID, "'%s' must be a file name, not '%s'", arg, name);
    for (size_t i = 0, k; i < n; i += k) {
        switch (utf8_name_char((const unsigned char *)name + i, n - i, &k)) {
        case UTF8_NAME_OK:
            break;
        case UTF8_NAME_NOT_UTF8:
            return err_set(err, E_INVALID, "'%s' is not valid UTF-8 at byte %zu", arg, i);
        case UTF8_NAME_SEPARATOR:
            return err_set(err, E_INVALID,
                           "'%s' must be a plain file name, not a path (found '%c' at byte %zu)",
                           arg, name[i], i);
        case UTF8_NAME_CONTROL:
            return err_set(err, E_INVALID, "'%s' holds a control character at byte %zu", arg, i);
        }
    }
    if (name[0] == ' ' || name[n - 1] == ' ')
        return err_set(err, E_INVALID, "'%s' must not begin or end with a space", arg);
    return E_OK;
}

/* ---- base64 ---------------------------------------------------------- */

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Symbol values of both alphabets ('+' and '-' are 62, '/' and '_' 63);
 * 255 for everything else (padding, whitespace, invalid). Sixteen a row. */
/* clang-format off */
static const unsigned char b64_tab[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255,  62, 255,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255,  63,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};
/* clang-format on */

/* The fast path: whole quads of alphabet symbols, 4 characters to 3 bytes,
 * until the first character that is not one (whitespace, padding, an error,
 * the end) or the output limit. Returns the characters consumed (a multiple
 * of 4); *o advances, *alpha gets 1 for '+'/'/' and 2 for '-'/'_'. */
static size_t b64_quads(const unsigned char *s, size_t len, unsigned char *p, size_t *o, size_t max,
                        int *alpha)
{
    size_t i = 0, n = *o;
    unsigned seen = 0;
    while (i + 4 <= len && n + 3 <= max) {
        unsigned a = b64_tab[s[i]], b = b64_tab[s[i + 1]], c = b64_tab[s[i + 2]],
                 d = b64_tab[s[i + 3]];
        if ((a | b | c | d) & 0x80)
            break;
        /* 62 and 63 come from two characters each: note which alphabet. */
        if (((a | b | c | d) & 0x3e) == 0x3e) {
            for (int k = 0; k < 4; k++) {
                unsigned char ch = s[i + (size_t)k];
                seen |= (ch == '+' || ch == '/') ? 1U : (ch == '-' || ch == '_') ? 2U : 0U;
            }
        }
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        p[n] = (unsigned char)(v >> 16);
        p[n + 1] = (unsigned char)(v >> 8);
        p[n + 2] = (unsigned char)v;
        n += 3;
        i += 4;
    }
    *o = n;
    *alpha |= (int)seen;
    return i;
}

enum err_code input_b64_decode(const char *s, size_t len, size_t max, const char *arg,
                               unsigned char **out, size_t *out_len, struct err *err)
{
    /* Upper bound before allocating: 3 bytes per 4 characters. */
    size_t bound = len / 4 * 3 + 3;
    size_t cap = bound < max + 3 ? bound : max + 3;
    unsigned char *p = malloc(cap ? cap : 1);
    if (!p)
        return err_set(err, E_NOMEM, "out of memory decoding '%s'", arg);
    size_t o = 0;
    unsigned int acc = 0;
    int bits = 0;
    size_t pad = 0;
    int std_alpha = 0, url_alpha = 0;
    size_t sym = 0;
    int alpha = 0;
    size_t i = b64_quads((const unsigned char *)s, len, p, &o, max, &alpha);
    sym = i;
    std_alpha = alpha & 1;
    url_alpha = (alpha >> 1) & 1;
    for (; i < len; i++) {
        /* Back on a quad boundary with whole quads ahead: the fast path. */
        if (bits == 0 && !pad && sym % 4 == 0 && i + 4 <= len) {
            size_t k = b64_quads((const unsigned char *)s + i, len - i, p, &o, max, &alpha);
            if (k) {
                i += k;
                sym += k;
                std_alpha |= alpha & 1;
                url_alpha |= (alpha >> 1) & 1;
                if (i >= len)
                    break;
            }
        }
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad) {
            free(p);
            return err_set(err, E_INVALID,
                           "'%s' is not valid base64: data after '=' padding "
                           "at character %zu",
                           arg, i);
        }
        int v = b64_val(c);
        if (v < 0) {
            free(p);
            return err_set(err, E_INVALID,
                           "'%s' is not valid base64: unexpected character 0x%02x at %zu", arg, c,
                           i);
        }
        if (c == '+' || c == '/')
            std_alpha = 1;
        if (c == '-' || c == '_')
            url_alpha = 1;
        sym++;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= max) {
                free(p);
                return err_set(err, E_TOO_LARGE, "'%s' decodes to more than the limit of %zu bytes",
                               arg, max);
            }
            p[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (std_alpha && url_alpha) {
        free(p);
        return err_set(err, E_INVALID,
                       "'%s' is not valid base64: mixes the standard and URL-safe alphabets", arg);
    }
    if (sym % 4 == 1 || pad > 2 || (pad && (sym + pad) % 4 != 0)) {
        free(p);
        return err_set(err, E_INVALID, "'%s' is not valid base64: truncated input (%zu symbols)",
                       arg, sym);
    }
    *out = p;
    *out_len = o;
    return E_OK;
}

/* ---- sniffing -------------------------------------------------------- */

static const char *name_ext(const char *name)
{
    if (!name)
        return "";
    const char *dot = strrchr(name, '.');
    return dot && dot != name ? dot + 1 : "";
}

static bool mem_has(const unsigned char *p, size_t n, const char *needle)
{
    return memmem(p, n, needle, strlen(needle)) != NULL;
}

/* Kind of a text file from its name, or NULL. */
static const char *kind_from_text_name(const char *name)
{
    const char *ext = name_ext(name);
    if (!strcasecmp(ext, "csv"))
        return "csv";
    if (!strcasecmp(ext, "tsv") || !strcasecmp(ext, "tab"))
        return "tsv";
    if (!strcasecmp(ext, "json"))
        return "json";
    if (!strcasecmp(ext, "jsonl") || !strcasecmp(ext, "ndjson"))
        return "jsonl";
    return NULL;
}

/* JSON or JSON Lines from the first bytes (first non-space char is { or [). */
static const char *sniff_json(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i >= n)
        return NULL;
    if (p[i] == '[')
        return "json";
    if (p[i] != '{')
        return NULL;
    /* JSON Lines when a later line also starts with '{'. */
    for (size_t j = i; j + 1 < n; j++) {
        if (p[j] != '\n')
            continue;
        size_t k = j + 1;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < n && p[k] == '{')
            return "jsonl";
        if (k < n && p[k] != '\n')
            break;
    }
    return "json";
}

/* csv/tsv/text by how consistently a delimiter splits the first lines. */
static const char *sniff_delimited(const unsigned char *p, size_t n)
{
    static const char delims[] = {',', '\t', ';', '|'};
    size_t counts[4][8];
    size_t lines = 0;
    memset(counts, 0, sizeof(counts));
    bool inq = false;
    size_t cur[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n && lines < 8; i++) {
        unsigned char c = p[i];
        if (c == '"')
            inq = !inq;
        if (inq)
            continue;
        for (int d = 0; d < 4; d++)
            if (c == (unsigned char)delims[d])
                cur[d]++;
        if (c == '\n' || (c == '\r' && (i + 1 >= n || p[i + 1] != '\n'))) {
            for (int d = 0; d < 4; d++)
                counts[d][lines] = cur[d], cur[d] = 0;
            lines++;
        }
    }
    if (lines < 8 && (cur[0] || cur[1] || cur[2] || cur[3])) {
        for (int d = 0; d < 4; d++)
            counts[d][lines] = cur[d];
        lines++;
    }
    int best = -1;
    for (int d = 0; d < 4; d++) {
        if (!counts[d][0])
            continue;
        bool consistent = true;
        for (size_t l = 1; l < lines; l++)
            if (counts[d][l] != counts[d][0] && !(l == lines - 1 && counts[d][l] == 0))
                consistent = false;
        if (consistent && (best < 0 || counts[d][0] > counts[best][0]))
            best = d;
    }
    if (best == 1)
        return "tsv";
    if (best >= 0)
        return "csv";
    return "text";
}

const char *input_sniff(const unsigned char *p, size_t n, const char *name_hint)
{
    const char *ext = name_ext(name_hint);
    if (n >= 4 && !memcmp(p, "PK\x03\x04", 4)) {
        if (mem_has(p, n, "xl/") || mem_has(p, n, "[Content_Types].xml")) {
            if (mem_has(p, n, "word/") || mem_has(p, n, "ppt/"))
                return "zip";
            if (mem_has(p, n, "xl/") || !strcasecmp(ext, "xlsx") || !strcasecmp(ext, "xlsm"))
                return "xlsx";
        }
        if (!strcasecmp(ext, "xlsx") || !strcasecmp(ext, "xlsm"))
            return "xlsx";
        return "zip";
    }
    if (n >= 8 && !memcmp(p, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8))
        return "xls";
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
        return "png";
    if (n >= 3 && !memcmp(p, "\xFF\xD8\xFF", 3))
        return "jpeg";
    if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
        return "gif";
    if (n >= 5 && !memcmp(p, "%PDF-", 5))
        return "pdf";
    if (n >= 4 && !memcmp(p, "PAR1", 4))
        return "parquet";
    if (n >= 2 && (!memcmp(p, "\xFF\xFE", 2) || !memcmp(p, "\xFE\xFF", 2))) {
        /* UTF-16 text: the name decides, else treat as delimited text. */
        const char *k = kind_from_text_name(name_hint);
        return k ? k : "csv";
    }
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return "gzip";
    const unsigned char *q = p;
    size_t m = n;
    if (m >= 3 && !memcmp(q, "\xEF\xBB\xBF", 3))
        q += 3, m -= 3;
    if (memchr(q, '\0', m))
        return "binary";
    const char *by_name = kind_from_text_name(name_hint);
    const char *js = sniff_json(q, m);
    if (js) {
        if (by_name && (!strcmp(by_name, "json") || !strcmp(by_name, "jsonl")))
            return by_name;
        if (!by_name || !strcmp(by_name, js))
            return js;
    }
    if (by_name)
        return by_name;
    if (m == 0)
        return "text";
    return sniff_delimited(q, m);
}

const char *input_sniff_file(const char *path, const char *name_hint)
{
    unsigned char head[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return "binary";
    ssize_t r = read(fd, head, sizeof(head));
    close(fd);
    if (r < 0)
        return "binary";
    return input_sniff(head, (size_t)r, name_hint);
}

const char *input_ext_for_kind(const char *kind)
{
    static const struct {
        const char *kind, *ext;
    } t[] = {{"xlsx", ".xlsx"},       {"xls", ".xls"},   {"zip", ".zip"},     {"csv", ".csv"},
             {"tsv", ".tsv"},         {"json", ".json"}, {"jsonl", ".jsonl"}, {"text", ".txt"},
             {"png", ".png"},         {"jpeg", ".jpg"},  {"gif", ".gif"},     {"pdf", ".pdf"},
             {"parquet", ".parquet"}, {"gzip", ".gz"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(t[i].kind, kind))
            return t[i].ext;
    return "";
}

const char *input_mime_for_name(const char *name)
{
    static const struct {
        const char *ext, *mime;
    } t[] = {
        {"csv", "text/csv"},
        {"tsv", "text/tab-separated-values"},
        {"txt", "text/plain"},
        {"log", "text/plain"},
        {"md", "text/markdown"},
        {"json", "application/json"},
        {"jsonl", "application/x-ndjson"},
        {"ndjson", "application/x-ndjson"},
        {"html", "text/html"},
        {"htm", "text/html"},
        {"xml", "application/xml"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"pdf", "application/pdf"},
        {"zip", "application/zip"},
        {"gz", "application/gzip"},
        {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {"xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12"},
        {"xls", "application/vnd.ms-excel"},
        {"parquet", "application/vnd.apache.parquet"},
        {"py", "text/x-python"},
        {"pkl", "application/octet-stream"},
        {"npy", "application/octet-stream"},
    };
    const char *ext = name_ext(name);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcasecmp(t[i].ext, ext))
            return t[i].mime;
    return "application/octet-stream";
}

/* ---- staging --------------------------------------------------------- */

void input_set_release(struct input_set *set)
{
    if (!set)
        return;
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

/* One input to stage, described by its source. */
struct input_src {
    const char *url;
    const char *b64;
    size_t b64_len;
    const char *file_id;
    const char *name; /* NULL = default */
    char where[64];   /* "fileUrl", "files[2]" ... for messages */
};

static enum err_code stage_open(const char *dir, const char *name, char *path, size_t path_len,
                                int *fd, struct err *err)
{
    int n = snprintf(path, path_len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= path_len)
        return err_set(err, E_INVALID, "input path for '%s' is too long", name);
    int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0) {
        if (errno == EEXIST)
            return err_set(err, E_INVALID, "two inputs are both named '%s'", name);
        return err_sys(err, E_IO, "cannot create input '%s'", name);
    }
    *fd = f;
    return E_OK;
}

static enum err_code write_all(int fd, const unsigned char *p, size_t n, const char *name,
                               struct err *err)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(err, E_IO, "cannot write input '%s'", name);
        }
        p += w;
        n -= (size_t)w;
    }
    return E_OK;
}

/* Final name of a staged file: given name, else a default; sniffed later. */
static enum err_code stage_one(const struct config *cfg, struct store *store,
                               const struct input_src *src, const char *dir, long timeout_ms,
                               struct input_file *out, struct err *err)
{
    enum err_code rc = E_OK;
    int fd = -1;
    unsigned char *data = NULL;
    size_t len = 0;
    char tmpname[64];
    char tmppath[4096] = "";
    memset(out, 0, sizeof(*out));

    /* Bytes go to a temporary name first: the default name may depend on them. */
    snprintf(tmpname, sizeof(tmpname), ".kiln-staging-%ld", (long)getpid());
    if (src->b64) {
        rc = input_b64_decode(src->b64, src->b64_len, (size_t)cfg->input_bytes, src->where, &data,
                              &len, err);
        if (rc)
            goto out;
        rc = stage_open(dir, tmpname, tmppath, sizeof(tmppath), &fd, err);
        if (rc)
            goto out;
        rc = write_all(fd, data, len, src->where, err);
        if (rc)
            goto out;
        const char *kind = input_sniff(data, len < 8192 ? len : 8192, src->name);
        if (src->name)
            snprintf(out->name, sizeof(out->name), "%s", src->name);
        else
            snprintf(out->name, sizeof(out->name), "input%s", input_ext_for_kind(kind));
    } else if (src->url) {
        struct fetch_info info;
        memset(&info, 0, sizeof(info));
        rc = stage_open(dir, tmpname, tmppath, sizeof(tmppath), &fd, err);
        if (rc)
            goto out;
        rc = fetch_url(cfg, src->url, fd, (size_t)cfg->input_bytes, timeout_ms, &info, err);
        if (rc)
            goto out;
        len = info.size;
        struct err e2;
        if (src->name)
            snprintf(out->name, sizeof(out->name), "%s", src->name);
        else if (info.file_name[0] && !input_check_name(info.file_name, "url", &e2))
            snprintf(out->name, sizeof(out->name), "%s", info.file_name);
        else if (info.disposition_name[0] &&
                 !input_check_name(info.disposition_name, "Content-Disposition", &e2))
            snprintf(out->name, sizeof(out->name), "%s", info.disposition_name);
        else
            snprintf(out->name, sizeof(out->name), "input%s",
                     input_ext_for_kind(input_sniff_file(tmppath, NULL)));
    } else {
        struct store_meta meta;
        if (!store)
            return err_set(err, E_INTERNAL, "no store to read '%s' from", src->where);
        rc = store_stat(store, src->file_id, &meta, err);
        if (rc)
            goto out;
        if ((long long)meta.size > (long long)cfg->input_bytes) {
            rc = err_set(err, E_TOO_LARGE,
                         "stored file '%s' (%llu bytes) exceeds the input "
                         "limit of %ld bytes",
                         src->file_id, (unsigned long long)meta.size, cfg->input_bytes);
            goto out;
        }
        snprintf(out->name, sizeof(out->name), "%s", src->name ? src->name : meta.name);
        /* Stored names may be relative paths of nested outputs: keep the base. */
        const char *slash = strrchr(out->name, '/');
        if (slash && !src->name)
            memmove(out->name, slash + 1, strlen(slash + 1) + 1);
        /* A name the code gave an output (' x.csv') that an input may not
         * have is staged cleaned, as a name from a URL is. */
        struct err e2;
        if (!src->name && input_check_name(out->name, src->where, &e2)) {
            char clean[sizeof(out->name)];
            fetch_clean_name(out->name, clean, sizeof(clean));
            snprintf(out->name, sizeof(out->name), "%s", clean[0] ? clean : "input");
        }
        int n = snprintf(tmppath, sizeof(tmppath), "%s/%s", dir, tmpname);
        if (n < 0 || (size_t)n >= sizeof(tmppath)) {
            rc = err_set(err, E_INVALID, "scratch path too long");
            goto out;
        }
        rc = store_copy_out(store, src->file_id, tmppath, err);
        if (rc)
            goto out;
        len = (size_t)meta.size;
    }
    if (fd >= 0 && fsync(fd) != 0) {
        rc = err_sys(err, E_IO, "cannot write input '%s'", out->name);
        goto out;
    }
    rc = input_check_name(out->name, src->where, err);
    if (rc)
        goto out;
    int n = snprintf(out->path, sizeof(out->path), "%s/%s", dir, out->name);
    if (n < 0 || (size_t)n >= sizeof(out->path)) {
        rc = err_set(err, E_INVALID, "input path for '%s' is too long", out->name);
        goto out;
    }
    /* Publish under the final name without replacing an earlier input. */
    if (renameat2(AT_FDCWD, tmppath, AT_FDCWD, out->path, RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST)
            rc = err_set(err, E_INVALID, "two inputs are both named '%s'", out->name);
        else
            rc = err_sys(err, E_IO, "cannot stage input '%s'", out->name);
        goto out;
    }
    tmppath[0] = '\0';
    out->size = len;
    snprintf(out->kind, sizeof(out->kind), "%s", input_sniff_file(out->path, out->name));
out:
    if (fd >= 0)
        close(fd);
    if (tmppath[0])
        unlink(tmppath);
    free(data);
    return rc;
}

/* Fill src from obj's keys k_url / k_b64 / k_id / k_name; E_NOTFOUND when
 * none of the source keys is present. */
static enum err_code src_from_json(json_t *obj, const char *k_url, const char *k_b64,
                                   const char *k_id, const char *k_name, struct input_src *src,
                                   struct err *err)
{
    int given = 0;
    json_t *v;
    if (k_url && (v = json_object_get(obj, k_url)) && !json_is_null(v)) {
        if (!json_is_string(v))
            return err_set(err, E_INVALID, "'%s%s' must be a string", src->where, k_url);
        src->url = json_string_value(v);
        if (strlen(src->url) != json_string_length(v))
            return err_set(err, E_INVALID, "'%s%s' holds a NUL byte", src->where, k_url);
        if (json_string_length(v) > LIM_URL_LEN)
            return err_set(err, E_INVALID, "'%s%s' is longer than %d characters", src->where, k_url,
                           LIM_URL_LEN);
        given++;
    }
    if (k_b64 && (v = json_object_get(obj, k_b64)) && !json_is_null(v)) {
        if (!json_is_string(v))
            return err_set(err, E_INVALID, "'%s%s' must be a string", src->where, k_b64);
        src->b64 = json_string_value(v);
        src->b64_len = json_string_length(v);
        /* A large value the request parser skipped (reqblob.h). */
        (void)reqblob_get(src->b64, src->b64_len, &src->b64, &src->b64_len);
        given++;
    }
    if ((v = json_object_get(obj, k_id)) && !json_is_null(v)) {
        if (!json_is_string(v))
            return err_set(err, E_INVALID, "'%s%s' must be a string", src->where, k_id);
        src->file_id = json_string_value(v);
        given++;
    }
    if (given > 1)
        return err_set(err, E_INVALID, "give only one of '%s%s', '%s%s', '%s%s' for one input",
                       src->where, k_url, src->where, k_b64, src->where, k_id);
    if ((v = json_object_get(obj, k_name)) && !json_is_null(v)) {
        char arg[96];
        snprintf(arg, sizeof(arg), "%s%s", src->where, k_name);
        if (!json_is_string(v))
            return err_set(err, E_INVALID, "'%s' must be a string", arg);
        if (strlen(json_string_value(v)) != json_string_length(v))
            return err_set(err, E_INVALID, "'%s' holds a NUL byte", arg);
        enum err_code rc = input_check_name(json_string_value(v), arg, err);
        if (rc)
            return rc;
        src->name = json_string_value(v);
    }
    return given ? E_OK : E_NOTFOUND;
}

enum err_code input_stage(const struct config *cfg, struct store *store, json_t *args,
                          const char *dir, long timeout_ms, struct input_set *set, struct err *err)
{
    enum err_code rc = E_OK;
    struct input_src srcs[LIM_INPUT_FILES + 1];
    size_t nsrc = 0;
    struct input_set res = {NULL, 0};
    memset(srcs, 0, sizeof(srcs));

    /* The single input: fileUrl | fileBase64 | fileId, named by fileName. */
    struct input_src *s0 = &srcs[0];
    rc = src_from_json(args, "fileUrl", "fileBase64", "fileId", "fileName", s0, err);
    if (rc == E_OK)
        nsrc = 1;
    else if (rc != E_NOTFOUND)
        return rc;
    else if (s0->name && !json_object_get(args, "files"))
        return err_set(err, E_INVALID, "'fileName' given without 'fileUrl' or 'fileBase64'");
    rc = E_OK;

    json_t *files = json_object_get(args, "files");
    if (files && !json_is_null(files)) {
        size_t i;
        json_t *f;
        if (!json_is_array(files))
            return err_set(err, E_INVALID, "'files' must be an array");
        if (json_array_size(files) + nsrc > LIM_INPUT_FILES)
            return err_set(err, E_INVALID, "too many input files (at most %d)", LIM_INPUT_FILES);
        json_array_foreach(files, i, f)
        {
            struct input_src *s = &srcs[nsrc];
            snprintf(s->where, sizeof(s->where), "files[%zu].", i);
            if (!json_is_object(f))
                return err_set(err, E_INVALID, "'files[%zu]' must be an object", i);
            const char *key;
            json_t *val;
            json_object_foreach(f, key, val)
            {
                if (strcmp(key, "url") && strcmp(key, "base64") && strcmp(key, "fileId") &&
                    strcmp(key, "name"))
                    return err_set(err, E_INVALID,
                                   "unknown key 'files[%zu].%.64s' (known: url, base64, fileId, "
                                   "name)",
                                   i, key);
            }
            rc = src_from_json(f, "url", "base64", "fileId", "name", s, err);
            if (rc == E_NOTFOUND)
                return err_set(err, E_INVALID, "'files[%zu]' needs one of url, base64, fileId", i);
            if (rc)
                return rc;
            nsrc++;
        }
    }
    for (size_t i = 0; i < nsrc; i++) {
        if (!srcs[i].where[0]) {
            const char *which = srcs[i].url ? "fileUrl" : srcs[i].b64 ? "fileBase64" : "fileId";
            snprintf(srcs[i].where, sizeof(srcs[i].where), "%s", which);
        }
    }
    if (!nsrc)
        goto done;
    res.v = calloc(nsrc, sizeof(*res.v));
    if (!res.v)
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t i = 0; i < nsrc; i++) {
        /* Messages for the top-level source name the argument, without a dot. */
        char where[64];
        snprintf(where, sizeof(where), "%s", srcs[i].where);
        size_t wl = strlen(where);
        if (wl && where[wl - 1] == '.')
            where[wl - 1] = '\0';
        snprintf(srcs[i].where, sizeof(srcs[i].where), "%s", where);
        rc = stage_one(cfg, store, &srcs[i], dir, timeout_ms, &res.v[i], err);
        if (rc)
            goto fail;
        res.n++;
    }
done:
    *set = res;
    return E_OK;
fail:
    input_set_release(&res);
    return rc;
}
