#include "xmlscan.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "klimits.h"

#include "utf8.h"

#include "banned.h"

#define XS_CHUNK 65536
#define XS_SNIFF 1024 /* bytes the XML declaration is looked for in */

enum xs_state { XS_ST_START, XS_ST_PROLOG, XS_ST_BODY, XS_ST_EPILOG, XS_ST_DONE };

struct xs {
    xs_read_fn rd;
    void *ctx;
    const char *part;
    char *buf;
    size_t cap, len; /* bytes read into buf */
    size_t pos;      /* first byte not yet consumed */
    size_t vlen;     /* buf[0..vlen) checked; tokens never look past it */
    bool eof;
    unsigned long nl; /* newlines in the input before buf[vlen], counted unmodified */
    enum xs_state st;
    /* open elements: raw names, NUL-separated, and their offsets */
    char *stk;
    size_t stk_len, stk_cap;
    size_t *stk_off;
    size_t depth, off_cap;
    /* the attributes of the last start tag */
    const char **atts;
    size_t atts_cap;
    size_t *apos; /* name, name end, value, value end: offsets into buf */
    size_t apos_cap;
    /* an empty element's END to deliver next */
    const char *pend;
    /* a byte at vlen that is not UTF-8 or not an XML character */
    bool bad;
    struct err bad_err;
};

struct xs *xs_new(xs_read_fn rd, void *ctx, const char *part)
{
    struct xs *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->rd = rd;
    x->ctx = ctx;
    x->part = part;
    x->cap = 2 * XS_CHUNK;
    x->buf = malloc(x->cap);
    if (!x->buf) {
        free(x);
        return NULL;
    }
    return x;
}

void xs_free(struct xs *x)
{
    if (!x)
        return;
    free(x->buf);
    free(x->stk);
    free(x->stk_off);
    free(x->atts);
    free(x->apos);
    free(x);
}

/* ---- errors ---- */

/*
 * The line of buf[at]: counted back from vlen, since the bytes from a
 * reported position on are never yet rewritten in place (those before it
 * may be: decoded text, NUL-terminated names).
 */
static unsigned long xs_line(const struct xs *x, size_t at)
{
    unsigned long n = x->nl + 1;
    const char *p = x->buf + (at < x->vlen ? at : x->vlen), *e = x->buf + x->vlen;
    while (p < e && (p = memchr(p, '\n', (size_t)(e - p)))) {
        n--;
        p++;
    }
    return n;
}

__attribute__((format(printf, 4, 5))) static enum err_code
xs_bad(const struct xs *x, size_t at, struct err *err, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(err, E_PARSE, "malformed XML in part '%s' at line %lu: %s", x->part,
                   xs_line(x, at), what);
}

/* ---- input ---- */

/*
 * Check buf[vlen..len): UTF-8 well-formed (no overlong forms, surrogates or
 * code points past U+10FFFF) and XML characters only (no C0 controls but
 * tab, LF and CR; no U+FFFE or U+FFFF), moving vlen past what is good. An
 * incomplete sequence at the end waits for more input; a bad byte stops
 * vlen for good and is reported once the tokens before it are read.
 */
static void xs_check(struct xs *x)
{
    const unsigned char *b = (const unsigned char *)x->buf;
    size_t i = x->vlen, n = x->len;
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    while (i < n) {
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, b + i, 8);
            /* any byte >= 0x80, or any byte < 0x20 */
            if ((w & high) | ((w - ones * 0x20) & ~w & high))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned c = b[i];
        if (c < 0x80) {
            if (c == '\n') {
                x->nl++;
            } else if (c < 0x20 && c != '\t' && c != '\r') {
                xs_bad(x, i, &x->bad_err, "character 0x%02x is not allowed in XML", c);
                goto bad;
            }
            i++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            k = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else {
            xs_bad(x, i, &x->bad_err, "invalid UTF-8 byte 0x%02x", c);
            goto bad;
        }
        if (n - i < k) {
            bool ok = true; /* what is there so far must still fit */
            for (size_t j = 1; j < n - i; j++)
                if (b[i + j] < (j == 1 ? lo : 0x80) || b[i + j] > (j == 1 ? hi : 0xBF))
                    ok = false;
            if (!ok || x->eof) {
                xs_bad(x, i, &x->bad_err, "invalid UTF-8 sequence");
                goto bad;
            }
            break;
        }
        for (size_t j = 1; j < k; j++)
            if (b[i + j] < (j == 1 ? lo : 0x80) || b[i + j] > (j == 1 ? hi : 0xBF)) {
                xs_bad(x, i, &x->bad_err, "invalid UTF-8 sequence");
                goto bad;
            }
        if (c == 0xEF && b[i + 1] == 0xBF && b[i + 2] >= 0xBE) {
            xs_bad(x, i, &x->bad_err, "character U+FFF%c is not allowed in XML",
                   b[i + 2] == 0xBE ? 'E' : 'F');
            goto bad;
        }
        i += k;
    }
    x->vlen = i;
    return;
bad:
    /* reported when the tokens before it are used up: the first problem in
     * document order, however the input was split into reads (its message
     * was made with nl counting the newlines before i) */
    x->vlen = i;
    x->bad = true;
}

/*
 * Make more input available: drop the consumed front of the buffer, grow it
 * when one token fills it, read, check. Sets eof at the end of the input.
 */
static enum err_code xs_more(struct xs *x, struct err *err)
{
    enum err_code rc;
    if (x->eof)
        return E_OK;
    if (x->pos) {
        memmove(x->buf, x->buf + x->pos, x->len - x->pos);
        x->len -= x->pos;
        x->vlen -= x->pos;
        x->pos = 0;
    }
    if (x->cap - x->len < XS_CHUNK) {
        /* one token fills the buffer: grow it, up to the cap */
        size_t nc = x->cap * 2;
        if (nc > (size_t)LIM_XML_TOKEN_BYTES + XS_CHUNK)
            nc = (size_t)LIM_XML_TOKEN_BYTES + XS_CHUNK;
        if (x->len >= (size_t)LIM_XML_TOKEN_BYTES || nc <= x->cap)
            return err_set(err, E_LIMIT,
                           "part '%s' has an XML tag, comment or CDATA section over %ld bytes "
                           "near line %lu",
                           x->part, LIM_XML_TOKEN_BYTES, xs_line(x, 0));
        char *nb = realloc(x->buf, nc);
        if (!nb)
            return err_set(err, E_NOMEM, "out of memory");
        x->buf = nb;
        x->cap = nc;
    }
    size_t got = 0;
    if ((rc = x->rd(x->ctx, x->buf + x->len, x->cap - x->len, &got, err)))
        return rc;
    if (!got)
        x->eof = true;
    x->len += got;
    xs_check(x);
    return E_OK;
}

/* ---- the prolog ---- */

/*
 * At the start of the input: false when the document is not one for this
 * scanner (UTF-16, another declared encoding). Skips a UTF-8 byte order mark.
 */
static bool xs_sniff(struct xs *x)
{
    const unsigned char *b = (const unsigned char *)x->buf;
    size_t n = x->len;
    if (n >= 2 && ((b[0] == 0xFE && b[1] == 0xFF) || (b[0] == 0xFF && b[1] == 0xFE)))
        return false;
    if (n >= 2 && (b[0] == 0 || b[1] == 0))
        return false;
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
        x->pos = 3;
    const char *d = x->buf + x->pos;
    size_t dn = n - x->pos; /* the same window however the input was read */
    if (dn > XS_SNIFF - x->pos)
        dn = XS_SNIFF - x->pos;
    if (dn < 6 || memcmp(d, "<?xml", 5) || !strchr(" \t\r\n", d[5]))
        return true;
    const char *end = memmem(d, dn, "?>", 2);
    if (!end)
        return false; /* an unfinished declaration: let the full parser judge */
    const char *enc = memmem(d, (size_t)(end - d), "encoding", 8);
    if (!enc)
        return true;
    enc += 8;
    while (enc < end && strchr(" \t\r\n=", *enc))
        enc++;
    if (enc >= end || (*enc != '"' && *enc != '\''))
        return false;
    char q = *enc++;
    const char *ee = memchr(enc, q, (size_t)(end - enc));
    if (!ee)
        return false;
    size_t el = (size_t)(ee - enc);
    return (el == 5 && !strncasecmp(enc, "UTF-8", 5)) || (el == 4 && !strncasecmp(enc, "UTF8", 4));
}

/* ---- references ---- */

/*
 * Decode the reference r[0..semi] ('&' ... ';') into o (at most 4 bytes,
 * never more than the reference's own length); 0 when it is not a valid one.
 */
static size_t xs_ref(const char *r, size_t n, char *o)
{
    const char *s = r + 1;
    size_t sl = n - 2;
    if (sl >= 2 && s[0] == '#') {
        unsigned long cp = 0;
        size_t i = 1;
        bool hex = s[1] == 'x';
        if (hex)
            i++;
        if (i >= sl)
            return 0;
        for (; i < sl; i++) {
            int d;
            char c = s[i];
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                return 0;
            cp = cp * (hex ? 16 : 10) + (unsigned long)d;
            if (cp > 0x10FFFF)
                return 0;
        }
        if (!(cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
              (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000))
            return 0;
        return utf8_put(o, (uint32_t)cp);
    }
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == sl && !memcmp(s, named[i].name, sl)) {
            o[0] = named[i].c;
            return 1;
        }
    return 0;
}

/*
 * Decode an attribute value in place: references, and tab/LF/CR (CR LF as
 * one) to a space. Returns the new length, or SIZE_MAX at a bad reference
 * (*bad: its offset).
 */
static size_t xs_attval(char *v, size_t n, size_t *bad)
{
    size_t r = 0, w = 0;
    while (r < n) {
        char c = v[r];
        if (c == '&') {
            const char *semi = memchr(v + r, ';', n - r);
            size_t k = semi ? xs_ref(v + r, (size_t)(semi - (v + r)) + 1, v + w) : 0;
            if (!k) {
                *bad = r;
                return SIZE_MAX;
            }
            w += k;
            r = (size_t)(semi - v) + 1;
        } else if (c == '\r') {
            v[w++] = ' ';
            r += r + 1 < n && v[r + 1] == '\n' ? 2 : 1;
        } else {
            v[w++] = c == '\t' || c == '\n' ? ' ' : c;
            r++;
        }
    }
    return w;
}

static bool xs_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* The local part of a name: after its first ':' (colon, or NULL when none). */
static const char *xs_local(const char *n, const char *colon)
{
    return colon ? colon + 1 : n;
}

/* ---- tokens ---- */

enum xs_step { XS_GOT, XS_MORE, XS_FAIL };

/* In an attribute's end offset: its value has references or white space to rewrite. */
#define XS_DECODE ((size_t)1 << (sizeof(size_t) * 8 - 1))

static enum xs_step xs_push(struct xs *x, const char *name, size_t n, struct err *err)
{
    if (x->depth >= (size_t)LIM_XML_DEPTH) {
        err_set(err, E_LIMIT, "part '%s' nests XML elements more than %ld deep", x->part,
                LIM_XML_DEPTH);
        return XS_FAIL;
    }
    if (x->depth == x->off_cap) {
        size_t nc = x->off_cap ? x->off_cap * 2 : 32;
        size_t *nv = realloc(x->stk_off, nc * sizeof *nv);
        if (!nv)
            goto nomem;
        x->stk_off = nv;
        x->off_cap = nc;
    }
    if (x->stk_cap - x->stk_len < n + 1) {
        size_t nc = (x->stk_cap ? x->stk_cap : 256) * 2 + n;
        char *nv = realloc(x->stk, nc);
        if (!nv)
            goto nomem;
        x->stk = nv;
        x->stk_cap = nc;
    }
    x->stk_off[x->depth++] = x->stk_len;
    memcpy(x->stk + x->stk_len, name, n);
    x->stk[x->stk_len + n] = '\0';
    x->stk_len += n + 1;
    return XS_GOT;
nomem:
    err_set(err, E_NOMEM, "out of memory");
    return XS_FAIL;
}

static void xs_pop(struct xs *x)
{
    x->stk_len = x->stk_off[--x->depth];
    if (!x->depth)
        x->st = XS_ST_EPILOG;
}

/* The bytes that end a name: white space and the markup characters. */
static const bool xs_stop[256] = {
    [' '] = true, ['\t'] = true, ['\n'] = true, ['\r'] = true, ['>'] = true, ['/'] = true,
    ['='] = true, ['<'] = true,  ['"'] = true,  ['\''] = true, ['&'] = true,
};

/* The end of the name at q (before e); *colon: its first ':', or NULL. */
static char *xs_name(char *q, const char *e, char **colon)
{
    *colon = NULL;
    while (q < e && !xs_stop[(unsigned char)*q]) {
        if (*q == ':' && !*colon)
            *colon = q;
        q++;
    }
    return q;
}

/* An end tag at buf[pos] ("</"). */
static enum xs_step xs_end_tag(struct xs *x, struct xs_event *ev, struct err *err)
{
    char *p = x->buf + x->pos, *e = x->buf + x->vlen;
    char *n = p + 2, *colon;
    char *ne = xs_name(n, e, &colon);
    char *gt = ne;
    while (gt < e && xs_space(*gt))
        gt++;
    if (gt >= e)
        return XS_MORE;
    if (*gt != '>') {
        xs_bad(x, x->pos, err, "bad end tag");
        return XS_FAIL;
    }
    size_t nl = (size_t)(ne - n);
    if (!x->depth) {
        xs_bad(x, x->pos, err, "end tag '</%.*s>' with no element open", (int)(nl > 40 ? 40 : nl),
               n);
        return XS_FAIL;
    }
    const char *top = x->stk + x->stk_off[x->depth - 1];
    size_t tl = x->stk_len - x->stk_off[x->depth - 1] - 1; /* its length */
    if (tl != nl || memcmp(top, n, nl)) {
        xs_bad(x, x->pos, err, "mismatched tag: '<%.40s>' closed by '</%.*s>'", top,
               (int)(nl > 40 ? 40 : nl), n);
        return XS_FAIL;
    }
    if (!nl) {
        xs_bad(x, x->pos, err, "bad end tag");
        return XS_FAIL;
    }
    *ne = '\0';
    xs_pop(x);
    ev->kind = XS_END;
    ev->name = xs_local(n, colon);
    x->pos = (size_t)(gt + 1 - x->buf);
    return XS_GOT;
}

/* A start tag at buf[pos] ('<' and a name character). */
static enum xs_step xs_start_tag(struct xs *x, struct xs_event *ev, struct err *err)
{
    char *b = x->buf, *p = b + x->pos, *e = b + x->vlen;
    char *colon;
    char *q = xs_name(p + 1, e, &colon);
    size_t na = 0;
    if (q >= e)
        return XS_MORE;
    char *name = p + 1, *name_end = q;
    if (name_end == name || !(xs_space(*q) || *q == '>' || *q == '/')) {
        xs_bad(x, x->pos, err, "bad element name");
        return XS_FAIL;
    }
    bool empty = false;
    for (;;) {
        bool sp = false;
        while (q < e && xs_space(*q))
            q++, sp = true;
        if (q >= e)
            return XS_MORE;
        if (*q == '>') {
            q++;
            break;
        }
        if (*q == '/') {
            if (q + 1 >= e)
                return XS_MORE;
            if (q[1] != '>') {
                xs_bad(x, (size_t)(q - b), err, "'/' not followed by '>' in a tag");
                return XS_FAIL;
            }
            empty = true;
            q += 2;
            break;
        }
        if (!sp) {
            xs_bad(x, (size_t)(q - b), err, "no white space before an attribute");
            return XS_FAIL;
        }
        char *an = q, *acolon;
        q = xs_name(q, e, &acolon);
        if (q >= e)
            return XS_MORE;
        char *ane = q;
        while (q < e && xs_space(*q))
            q++;
        if (q >= e)
            return XS_MORE;
        if (ane == an || *q != '=') {
            xs_bad(x, (size_t)(an - b), err, "bad attribute in tag '<%.*s'",
                   (int)((name_end - name) > 40 ? 40 : (name_end - name)), name);
            return XS_FAIL;
        }
        q++;
        while (q < e && xs_space(*q))
            q++;
        if (q >= e)
            return XS_MORE;
        if (*q != '"' && *q != '\'') {
            xs_bad(x, (size_t)(q - b), err, "attribute value without quotes");
            return XS_FAIL;
        }
        char quote = *q++;
        char *ve = q;
        unsigned char sp_or_ref = 0;
        while (ve < e && *ve != quote) {
            unsigned char c = (unsigned char)*ve++;
            if (c <= '<') {
                if (c == '<') {
                    xs_bad(x, (size_t)(ve - 1 - b), err, "'<' in an attribute value");
                    return XS_FAIL;
                }
                sp_or_ref |= c == '&' || c == '\r' || c == '\n' || c == '\t';
            }
        }
        if (ve >= e)
            return XS_MORE;
        if (na * 5 + 5 > x->apos_cap) {
            size_t nc = x->apos_cap ? x->apos_cap * 2 : 64;
            size_t *nv = realloc(x->apos, nc * sizeof *nv);
            if (!nv) {
                err_set(err, E_NOMEM, "out of memory");
                return XS_FAIL;
            }
            x->apos = nv;
            x->apos_cap = nc;
        }
        x->apos[na * 5] = (size_t)(an - b);
        x->apos[na * 5 + 1] = (size_t)(ane - b);
        x->apos[na * 5 + 2] = (size_t)(q - b);
        x->apos[na * 5 + 3] = (size_t)(ve - b) | (sp_or_ref ? XS_DECODE : 0);
        x->apos[na * 5 + 4] = acolon ? (size_t)(acolon - b) : SIZE_MAX;
        na++;
        q = ve + 1;
    }
    /* the whole tag is there: where may it stand? */
    if (x->st == XS_ST_EPILOG || x->st == XS_ST_DONE) {
        xs_bad(x, x->pos, err, "a second root element ('<%.*s>')",
               (int)((name_end - name) > 40 ? 40 : (name_end - name)), name);
        return XS_FAIL;
    }
    if (na * 2 + 1 > x->atts_cap) {
        size_t nc = na * 2 + 17;
        const char **nv = realloc(x->atts, nc * sizeof *nv);
        if (!nv) {
            err_set(err, E_NOMEM, "out of memory");
            return XS_FAIL;
        }
        x->atts = nv;
        x->atts_cap = nc;
    }
    size_t k = 0;
    for (size_t i = 0; i < na; i++) {
        const size_t *ap = x->apos + i * 5;
        char *an = b + ap[0], *v = b + ap[2];
        size_t anl = ap[1] - ap[0];
        size_t vl = (ap[3] & ~XS_DECODE) - ap[2], bad = 0;
        if (ap[3] & XS_DECODE) {
            vl = xs_attval(v, vl, &bad);
            if (vl == SIZE_MAX) {
                xs_bad(x, (size_t)(v + bad - b), err, "bad reference in an attribute value");
                return XS_FAIL;
            }
        }
        v[vl] = '\0';
        an[anl] = '\0';
        if ((anl == 5 && !memcmp(an, "xmlns", 5)) || (anl > 6 && !memcmp(an, "xmlns:", 6)))
            continue;
        x->atts[k++] = xs_local(an, ap[4] == SIZE_MAX ? NULL : b + ap[4]);
        x->atts[k++] = v;
    }
    x->atts[k] = NULL;
    size_t nl = (size_t)(name_end - name);
    if (xs_push(x, name, nl, err) != XS_GOT)
        return XS_FAIL;
    *name_end = '\0';
    x->st = XS_ST_BODY;
    ev->kind = XS_START;
    ev->name = xs_local(name, colon);
    ev->atts = x->atts;
    x->pos = (size_t)(q - b);
    if (empty) {
        x->pend = ev->name;
        xs_pop(x);
    }
    return XS_GOT;
}

/* Normalise line ends of t[0..n) in place ("\r\n" and "\r" to "\n"); the new length. */
static size_t xs_eol(char *t, size_t n)
{
    char *cr = memchr(t, '\r', n);
    if (!cr)
        return n;
    size_t r = (size_t)(cr - t), w = r;
    while (r < n) {
        if (t[r] == '\r') {
            t[w++] = '\n';
            r += r + 1 < n && t[r + 1] == '\n' ? 2 : 1;
        } else {
            t[w++] = t[r++];
        }
    }
    return w;
}

/* Markup starting "<!" or "<?" at buf[pos]. */
static enum xs_step xs_special(struct xs *x, struct xs_event *ev, bool *got_event, struct err *err)
{
    char *b = x->buf, *p = b + x->pos, *e = b + x->vlen;
    size_t av = (size_t)(e - p);
    *got_event = false;
    if (p[1] == '?') {
        char *end = memmem(p + 2, av - 2, "?>", 2);
        if (!end)
            return XS_MORE;
        x->pos = (size_t)(end + 2 - b);
        return XS_GOT;
    }
    if (av < 4)
        return XS_MORE;
    if (!memcmp(p, "<!--", 4)) {
        char *end = memmem(p + 4, av - 4, "-->", 3);
        if (!end)
            return XS_MORE;
        x->pos = (size_t)(end + 3 - b);
        return XS_GOT;
    }
    if (av < 9)
        return x->eof ? (xs_bad(x, x->pos, err, "bad markup"), XS_FAIL) : XS_MORE;
    if (!memcmp(p, "<![CDATA[", 9)) {
        if (x->st != XS_ST_BODY) {
            xs_bad(x, x->pos, err, "CDATA section outside the root element");
            return XS_FAIL;
        }
        char *end = memmem(p + 9, av - 9, "]]>", 3);
        if (!end)
            return XS_MORE;
        ev->kind = XS_TEXT;
        ev->text = p + 9;
        ev->len = xs_eol(p + 9, (size_t)(end - (p + 9)));
        x->pos = (size_t)(end + 3 - b);
        *got_event = true;
        return XS_GOT;
    }
    if (!memcmp(p, "<!DOCTYPE", 9) && x->st == XS_ST_PROLOG) {
        ev->kind = XS_FALLBACK;
        *got_event = true;
        return XS_GOT;
    }
    xs_bad(x, x->pos, err, "bad markup");
    return XS_FAIL;
}

/*
 * Character data at buf[pos] up to the next '<': one piece of it, decoded in
 * place. XS_MORE when nothing could be delivered yet.
 */
static enum xs_step xs_text(struct xs *x, struct xs_event *ev, struct err *err)
{
    char *b = x->buf, *p = b + x->pos, *e = b + x->vlen;
    char *q = p, *special = NULL;
    while (q < e && *q != '<') {
        if ((*q == '&' || *q == '\r') && !special)
            special = q;
        q++;
    }
    char *lt = q < e ? q : NULL;
    if (x->st != XS_ST_BODY) {
        while (p < q && xs_space(*p))
            p++;
        if (p < q) {
            xs_bad(x, (size_t)(p - b), err, "text outside the root element");
            return XS_FAIL;
        }
        x->pos = (size_t)(q - b);
        return lt || x->eof ? XS_GOT : XS_MORE;
    }
    size_t n = (size_t)(q - p);
    if (!special) {
        ev->kind = XS_TEXT;
        ev->text = p;
        ev->len = n;
        x->pos = (size_t)(q - b);
        return n ? XS_GOT : XS_MORE;
    }
    size_t r = (size_t)(special - p), w = r;
    bool open = !lt && !x->eof; /* the text may go on past q */
    while (r < n) {
        char c = p[r];
        if (c == '&') {
            char *semi = memchr(p + r, ';', n - r);
            if (!semi && open)
                break;
            size_t k = semi ? xs_ref(p + r, (size_t)(semi - (p + r)) + 1, p + w) : 0;
            if (!k) {
                if (w)
                    break; /* the text before it first, as a split read would */
                size_t shown = semi && semi - (p + r) < 30 ? (size_t)(semi - (p + r)) + 1 : 12;
                xs_bad(x, (size_t)(p + r - b), err, "bad reference '%.*s'",
                       (int)(shown < n - r ? shown : n - r), p + r);
                return XS_FAIL;
            }
            w += k;
            r = (size_t)(semi - p) + 1;
        } else if (c == '\r') {
            if (r + 1 == n && open)
                break; /* its LF may come next */
            p[w++] = '\n';
            r += r + 1 < n && p[r + 1] == '\n' ? 2 : 1;
        } else {
            p[w++] = c;
            r++;
        }
    }
    x->pos += r;
    if (!w)
        return XS_MORE;
    ev->kind = XS_TEXT;
    ev->text = p;
    ev->len = w;
    return XS_GOT;
}

enum err_code xs_next(struct xs *x, struct xs_event *ev, struct err *err)
{
    enum err_code rc;
    memset(ev, 0, sizeof *ev);
    if (x->pend) {
        ev->kind = XS_END;
        ev->name = x->pend;
        x->pend = NULL;
        return E_OK;
    }
    if (x->st == XS_ST_START) {
        /* the first bytes: sniffed before they are checked */
        while (!x->eof && x->len < XS_SNIFF) {
            size_t got = 0;
            if ((rc = x->rd(x->ctx, x->buf + x->len, x->cap - x->len, &got, err)))
                return rc;
            x->len += got;
            x->eof = !got;
        }
        if (!xs_sniff(x)) {
            ev->kind = XS_FALLBACK;
            return E_OK;
        }
        x->vlen = x->pos;
        xs_check(x);
        x->st = XS_ST_PROLOG;
    }
    for (;;) {
        enum xs_step s = XS_MORE;
        bool avail = x->pos < x->vlen;
        if (avail) {
            char *p = x->buf + x->pos;
            if (*p != '<') {
                s = xs_text(x, ev, err);
                if (s == XS_GOT && x->st != XS_ST_BODY)
                    continue; /* white space between top-level items */
            } else if (x->vlen - x->pos < 2) {
                s = XS_MORE;
            } else if (p[1] == '/') {
                s = xs_end_tag(x, ev, err);
            } else if (p[1] == '!' || p[1] == '?') {
                bool ev_set;
                s = xs_special(x, ev, &ev_set, err);
                if (s == XS_GOT && !ev_set)
                    continue;
            } else {
                s = xs_start_tag(x, ev, err);
            }
            if (s == XS_GOT)
                return E_OK;
            if (s == XS_FAIL)
                return err->code ? err->code : E_PARSE;
        }
        if (x->bad) {
            *err = x->bad_err;
            return err->code;
        }
        if (x->eof) {
            if (avail)
                return xs_bad(x, x->pos, err, "unclosed token");
            if (x->depth)
                return xs_bad(x, x->len, err, "no end tag for '<%.40s>'",
                              x->stk + x->stk_off[x->depth - 1]);
            if (x->st != XS_ST_EPILOG && x->st != XS_ST_DONE)
                return xs_bad(x, x->len, err, "no element found");
            x->st = XS_ST_DONE;
            ev->kind = XS_EOF;
            return E_OK;
        }
        if ((rc = xs_more(x, err)))
            return rc;
    }
}
