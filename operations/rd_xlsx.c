#include "rd_xlsx.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "buf.h"
#include "klimits.h"
#include "xmlscan.h"
#include "zipread.h"

#include "utf8.h"

#include "banned.h"

#define XLSX_CHUNK 65536
#define XLSX_NS_SEP '\x01'

enum xlsx_datekind { DK_NONE = 0, DK_DATE, DK_DATETIME };

struct xlsx {
    struct zr *zip;
    struct xlsx_sheet_info *sheets;
    size_t nsheets;
    struct buf strs; /* names and part paths of the sheets, NUL-separated */
    bool date1904;
    unsigned char *xf_kind; /* per cellXfs index: enum xlsx_datekind */
    size_t nxf;
    struct buf sst;     /* shared-string text, each NUL-terminated */
    struct buf sst_off; /* size_t offsets into sst */
    size_t nsst;
    bool sheet_open;
};

/* ---- small helpers ---- */

static const char *xl_local(const char *name)
{
    const char *s = strrchr(name, XLSX_NS_SEP);
    return s ? s + 1 : name;
}

/* a equals lit; reads a no further than its NUL or the first difference */
static inline bool xl_eq(const char *a, const char *lit)
{
    while (*lit)
        if (*a++ != *lit++)
            return false;
    return !*a;
}

static const char *xl_attr(const char **atts, const char *local)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (xl_eq(atts[i], local))
            return atts[i + 1];
    return NULL;
}

static bool xl_truthy(const char *v)
{
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "on"));
}

/* Parse a decimal index; false when not a plain non-negative integer. */
static bool xl_index(const char *s, size_t len, unsigned long long *v)
{
    while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++, len--;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    if (!len || len > 18)
        return false;
    unsigned long long r = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        r = r * 10 + (unsigned)(s[i] - '0');
    }
    *v = r;
    return true;
}

/* Column from a cell reference ("AB12" -> 27); -1 when there are no letters, -2 when too far. */
static long xl_ref_col(const char *r)
{
    long c = 0;
    size_t n = 0;
    while (r[n] == '$')
        r++;
    for (; (r[n] >= 'A' && r[n] <= 'Z') || (r[n] >= 'a' && r[n] <= 'z'); n++) {
        c = c * 26 + ((r[n] | 0x20) - 'a' + 1);
        if (c > LIM_XLSX_MAX_COLS)
            return -2;
    }
    return n ? c - 1 : -1;
}

static int xl_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode _xHHHH_ escapes in place (the result is never longer); returns the new length. */
static size_t xl_unescape(char *s, size_t len)
{
    if (!memchr(s, '_', len))
        return len;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == '_' && i + 6 < len && s[i + 1] == 'x' && s[i + 6] == '_') {
            int h0 = xl_hex(s[i + 2]), h1 = xl_hex(s[i + 3]), h2 = xl_hex(s[i + 4]),
                h3 = xl_hex(s[i + 5]);
            if (h0 >= 0 && h1 >= 0 && h2 >= 0 && h3 >= 0) {
                unsigned long cp = (unsigned long)((h0 << 12) | (h1 << 8) | (h2 << 4) | h3);
                /* NUL and lone surrogates cannot be represented: keep the text */
                if (cp != 0 && (cp < 0xD800 || cp > 0xDFFF)) {
                    o += utf8_put(s + o, (uint32_t)cp);
                    i += 7;
                    continue;
                }
            }
        }
        s[o++] = s[i++];
    }
    s[o] = '\0';
    return o;
}

/* ---- XML driving: operations/xmlscan.c, or expat for what it leaves ---- */

/* Handlers see local names (no namespace) for elements and attributes. */
typedef void (*xl_start_fn)(void *ud, const char *name, const char **atts);
typedef void (*xl_end_fn)(void *ud, const char *name);
typedef void (*xl_text_fn)(void *ud, const char *t, size_t len);

static bool xl_expat_only; /* tests: read every part with expat */

void xlsx_set_expat_only(bool on)
{
    xl_expat_only = on;
}

struct xl_parse {
    struct xlsx *x;
    struct xs *xs;
    XML_Parser p; /* when the part is read with expat */
    xl_start_fn st;
    xl_end_fn en;
    xl_text_fn cd;
    void *ud;
    const char **latts; /* expat's attributes with local names */
    size_t latts_cap;
    enum err_code rc; /* set by a handler that stopped the parse */
    struct err *err;
    const char *part;
    size_t idx;
    bool suspend; /* a handler asks the step to return */
    bool ex_suspended, ex_eof;
};

static void xl_fail(struct xl_parse *xp, enum err_code rc)
{
    if (!xp->rc)
        xp->rc = rc ? rc : E_INTERNAL;
    if (xp->p)
        XML_StopParser(xp->p, XML_FALSE);
}

/* Return from xl_step() after this event; the next step goes on from here. */
static void xl_suspend(struct xl_parse *xp)
{
    xp->suspend = true;
    if (xp->p)
        XML_StopParser(xp->p, XML_TRUE);
}

static void XMLCALL xl_ex_start(void *v, const XML_Char *name, const XML_Char **atts)
{
    struct xl_parse *xp = v;
    size_t n = 0;
    while (atts[n])
        n += 2;
    if (n + 1 > xp->latts_cap) {
        const char **nv = realloc(xp->latts, (n + 17) * sizeof *nv);
        if (!nv) {
            xl_fail(xp, err_set(xp->err, E_NOMEM, "out of memory"));
            return;
        }
        xp->latts = nv;
        xp->latts_cap = n + 17;
    }
    for (size_t i = 0; i < n; i += 2) {
        xp->latts[i] = xl_local(atts[i]);
        xp->latts[i + 1] = atts[i + 1];
    }
    xp->latts[n] = NULL;
    xp->st(xp->ud, xl_local(name), xp->latts);
}

static void XMLCALL xl_ex_end(void *v, const XML_Char *name)
{
    struct xl_parse *xp = v;
    if (xp->en)
        xp->en(xp->ud, xl_local(name));
}

static void XMLCALL xl_ex_text(void *v, const XML_Char *t, int len)
{
    struct xl_parse *xp = v;
    xp->cd(xp->ud, t, (size_t)len);
}

static void XMLCALL xl_doctype(void *v, const XML_Char *name, const XML_Char *sys,
                               const XML_Char *pub, int has_internal)
{
    struct xl_parse *xp = v;
    (void)name, (void)sys, (void)pub, (void)has_internal;
    xl_fail(xp, err_set(xp->err, E_PARSE, "DTD not allowed in part '%s'", xp->part));
}

static void XMLCALL xl_entitydecl(void *v, const XML_Char *name, int is_param,
                                  const XML_Char *value, int value_len, const XML_Char *base,
                                  const XML_Char *sys, const XML_Char *pub,
                                  const XML_Char *notation)
{
    struct xl_parse *xp = v;
    (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sys, (void)pub,
        (void)notation;
    xl_fail(xp, err_set(xp->err, E_PARSE, "DTD not allowed in part '%s'", xp->part));
}

/* Set up xp to read the part named part of x with these handlers (ud: their data). */
static void xl_parser(struct xl_parse *xp, struct xlsx *x, void *ud, xl_start_fn st, xl_end_fn en,
                      xl_text_fn cd, const char *part, struct err *err)
{
    memset(xp, 0, sizeof *xp);
    xp->x = x;
    xp->ud = ud;
    xp->st = st;
    xp->en = en;
    xp->cd = cd;
    xp->part = part;
    xp->err = err;
}

static enum err_code xl_rd(void *ctx, void *p, size_t cap, size_t *got, struct err *err)
{
    struct xl_parse *xp = ctx;
    return zr_part_read(xp->x->zip, p, cap, got, err);
}

static enum err_code xl_expat_new(struct xl_parse *xp)
{
    xp->p = XML_ParserCreateNS(NULL, XLSX_NS_SEP);
    if (!xp->p)
        return err_set(xp->err, E_NOMEM, "out of memory");
    XML_SetUserData(xp->p, xp);
    XML_SetElementHandler(xp->p, xl_ex_start, xl_ex_end);
    if (xp->cd)
        XML_SetCharacterDataHandler(xp->p, xl_ex_text);
    XML_SetStartDoctypeDeclHandler(xp->p, xl_doctype);
    XML_SetEntityDeclHandler(xp->p, xl_entitydecl);
    XML_SetParamEntityParsing(xp->p, XML_PARAM_ENTITY_PARSING_NEVER);
    return E_OK;
}

/* Start reading entry idx. */
static enum err_code xl_begin(struct xl_parse *xp, size_t idx)
{
    enum err_code rc;
    xp->idx = idx;
    if ((rc = zr_part_open(xp->x->zip, idx, xp->err)))
        return rc;
    if (xl_expat_only)
        return xl_expat_new(xp);
    xp->xs = xs_new(xl_rd, xp, xp->part);
    return xp->xs ? E_OK : err_set(xp->err, E_NOMEM, "out of memory");
}

static void xl_parse_release(struct xl_parse *xp)
{
    xs_free(xp->xs);
    xp->xs = NULL;
    if (xp->p)
        XML_ParserFree(xp->p);
    xp->p = NULL;
    free(xp->latts);
    xp->latts = NULL;
    xp->latts_cap = 0;
    zr_part_close(xp->x->zip);
}

static enum err_code xl_parse_error(struct xl_parse *xp)
{
    if (xp->rc)
        return xp->rc;
    return err_set(xp->err, E_PARSE, "malformed XML in part '%s' at line %lu: %s", xp->part,
                   (unsigned long)XML_GetCurrentLineNumber(xp->p),
                   XML_ErrorString(XML_GetErrorCode(xp->p)));
}

/*
 * Feed the part to the handlers until one suspends (E_OK, *done false), the
 * part ends (E_OK, *done true) or something fails.
 */
static enum err_code xl_step(struct xl_parse *xp, bool *done)
{
    enum err_code rc;
    *done = false;
    while (xp->xs) {
        struct xs_event ev;
        if ((rc = xs_next(xp->xs, &ev, xp->err)))
            return rc;
        switch (ev.kind) {
        case XS_START:
            xp->st(xp->ud, ev.name, ev.atts);
            break;
        case XS_END:
            if (xp->en)
                xp->en(xp->ud, ev.name);
            break;
        case XS_TEXT:
            if (xp->cd)
                xp->cd(xp->ud, ev.text, ev.len);
            break;
        case XS_EOF:
            *done = true;
            return E_OK;
        case XS_FALLBACK:
            /* not UTF-8, or a DTD: read the part again with expat */
            xs_free(xp->xs);
            xp->xs = NULL;
            zr_part_close(xp->x->zip);
            if ((rc = zr_part_open(xp->x->zip, xp->idx, xp->err)) || (rc = xl_expat_new(xp)))
                return rc;
            break;
        }
        if (xp->rc)
            return xp->rc;
        if (xp->suspend) {
            xp->suspend = false;
            return E_OK;
        }
    }
    for (;;) {
        enum XML_Status st;
        if (xp->ex_suspended) {
            xp->ex_suspended = false;
            st = XML_ResumeParser(xp->p);
        } else if (xp->ex_eof) {
            *done = true;
            return E_OK;
        } else {
            size_t got = 0;
            void *b = XML_GetBuffer(xp->p, XLSX_CHUNK);
            if (!b)
                return err_set(xp->err, E_NOMEM, "out of memory");
            if ((rc = zr_part_read(xp->x->zip, b, XLSX_CHUNK, &got, xp->err)))
                return rc;
            xp->ex_eof = !got;
            st = XML_ParseBuffer(xp->p, (int)got, got == 0);
        }
        if (st == XML_STATUS_ERROR)
            return xl_parse_error(xp);
        if (xp->rc)
            return xp->rc;
        if (st == XML_STATUS_SUSPENDED) {
            xp->ex_suspended = true;
            if (xp->suspend) {
                xp->suspend = false;
                return E_OK;
            }
        }
    }
}

/* Read the whole entry idx through the handlers, then release xp. */
static enum err_code xl_feed(struct xl_parse *xp, size_t idx)
{
    enum err_code rc = xl_begin(xp, idx);
    bool done = false;
    while (!rc && !done)
        rc = xl_step(xp, &done);
    xl_parse_release(xp);
    return rc;
}

/* ---- package paths ---- */

/* Resolve target against the directory of source into out (normalised, no leading '/'). */
static enum err_code xl_resolve(const char *source, const char *target, struct buf *out,
                                struct err *err)
{
    enum err_code rc;
    struct buf tmp;
    buf_init(&tmp, 8192);
    buf_reset(out);
    if (target[0] != '/' && target[0] != '\\') {
        const char *slash = strrchr(source, '/');
        if (slash && (rc = buf_append(&tmp, source, (size_t)(slash - source) + 1, err)))
            goto out;
    }
    if ((rc = buf_append_str(&tmp, target, err)))
        goto out;
    /* walk segments, dropping "." and resolving ".." */
    const char *p = tmp.data;
    while (*p) {
        while (*p == '/' || *p == '\\')
            p++;
        const char *e = p;
        while (*e && *e != '/' && *e != '\\')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 1 && p[0] == '.') {
            /* skip */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *s = out->len ? memrchr(out->data, '/', out->len) : NULL;
            out->len = s ? (size_t)(s - out->data) : 0;
            out->data[out->len] = '\0';
        } else if (n) {
            if (out->len && (rc = buf_append(out, "/", 1, err)))
                goto out;
            if ((rc = buf_append(out, p, n, err)))
                goto out;
        }
        p = e;
    }
    rc = buf_append(out, "", 0, err);
out:
    buf_release(&tmp);
    return rc;
}

/* The rels part of part: "dir/_rels/name.rels". */
static enum err_code xl_rels_name(const char *part, struct buf *out, struct err *err)
{
    buf_reset(out);
    const char *slash = strrchr(part, '/');
    if (slash)
        return buf_printf(out, err, "%.*s/_rels/%s.rels", (int)(slash - part), part, slash + 1);
    return buf_printf(out, err, "_rels/%s.rels", part);
}

/* ---- relationships ---- */

struct xl_rel {
    char *id;
    char *type; /* last path segment of the Type URI */
    char *target;
    bool external;
};

struct xl_rels {
    struct xl_parse *xp;
    struct xl_rel *v;
    size_t n, cap;
};

static void xl_rels_release(struct xl_rels *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].id);
        free(r->v[i].type);
        free(r->v[i].target);
    }
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}

static void xl_rels_start(void *ud, const char *name, const char **atts)
{
    struct xl_rels *r = ud;
    if (strcmp(name, "Relationship"))
        return;
    const char *id = xl_attr(atts, "Id"), *type = xl_attr(atts, "Type"),
               *target = xl_attr(atts, "Target"), *mode = xl_attr(atts, "TargetMode");
    if (!id || !type || !target)
        return;
    if (r->n >= (size_t)LIM_XLSX_ENTRIES) {
        xl_fail(r->xp, err_set(r->xp->err, E_LIMIT, "too many relationships in '%s'", r->xp->part));
        return;
    }
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        struct xl_rel *nv = realloc(r->v, nc * sizeof *nv);
        if (!nv) {
            xl_fail(r->xp, err_set(r->xp->err, E_NOMEM, "out of memory"));
            return;
        }
        r->v = nv;
        r->cap = nc;
    }
    const char *slash = strrchr(type, '/');
    struct xl_rel *e = &r->v[r->n];
    e->id = strdup(id);
    e->type = strdup(slash ? slash + 1 : type);
    e->target = strdup(target);
    e->external = mode && !strcasecmp(mode, "External");
    if (!e->id || !e->type || !e->target) {
        free(e->id), free(e->type), free(e->target);
        xl_fail(r->xp, err_set(r->xp->err, E_NOMEM, "out of memory"));
        return;
    }
    r->n++;
}

/* Read the rels part named name into r; E_NOTFOUND when absent. */
static enum err_code xl_rels_read(struct xlsx *x, const char *name, struct xl_rels *r,
                                  struct err *err)
{
    enum err_code rc;
    size_t idx;
    struct xl_parse xp = {0};
    if (!zr_find(x->zip, name, &idx))
        return E_NOTFOUND;
    r->xp = &xp;
    xl_parser(&xp, x, r, xl_rels_start, NULL, NULL, name, err);
    rc = xl_feed(&xp, idx);
    r->xp = NULL;
    return rc;
}

/* ---- [Content_Types].xml (fallback to find the workbook) ---- */

struct xl_ct {
    struct xl_parse *xp;
    struct buf *found;
};

static void xl_ct_start(void *ud, const char *name, const char **atts)
{
    struct xl_ct *c = ud;
    if (strcmp(name, "Override") || c->found->len)
        return;
    const char *ct = xl_attr(atts, "ContentType"), *pn = xl_attr(atts, "PartName");
    if (ct && pn &&
        (strstr(ct, "spreadsheetml.sheet.main+xml") || strstr(ct, "spreadsheetml.template.main") ||
         strstr(ct, "ms-excel.sheet.macroEnabled.main")))
        if (buf_append_str(c->found, pn[0] == '/' ? pn + 1 : pn, c->xp->err))
            xl_fail(c->xp, E_LIMIT);
}

/* ---- workbook.xml ---- */

struct xl_wbsheet {
    size_t name_off;
    size_t rid_off;
    enum xlsx_visibility vis;
};

struct xl_wb {
    struct xl_parse *xp;
    struct xlsx *x;
    struct buf tmp; /* names and rids */
    struct xl_wbsheet *v;
    size_t n, cap;
};

static void xl_wb_start(void *ud, const char *name, const char **atts)
{
    struct xl_wb *w = ud;
    const char *ln = name;
    if (xl_eq(ln, "workbookPr")) {
        if (xl_truthy(xl_attr(atts, "date1904")))
            w->x->date1904 = true;
        return;
    }
    if (!xl_eq(ln, "sheet"))
        return;
    const char *nm = xl_attr(atts, "name"), *rid = xl_attr(atts, "id"),
               *state = xl_attr(atts, "state");
    if (!nm)
        nm = "";
    if (!rid)
        rid = "";
    if (w->n >= (size_t)LIM_XLSX_SHEETS) {
        xl_fail(w->xp,
                err_set(w->xp->err, E_LIMIT, "workbook has more than %ld sheets", LIM_XLSX_SHEETS));
        return;
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        struct xl_wbsheet *nv = realloc(w->v, nc * sizeof *nv);
        if (!nv) {
            xl_fail(w->xp, err_set(w->xp->err, E_NOMEM, "out of memory"));
            return;
        }
        w->v = nv;
        w->cap = nc;
    }
    struct xl_wbsheet *s = &w->v[w->n];
    s->vis = XLSX_VISIBLE;
    if (state && !strcmp(state, "hidden"))
        s->vis = XLSX_HIDDEN;
    else if (state && !strcmp(state, "veryHidden"))
        s->vis = XLSX_VERY_HIDDEN;
    s->name_off = w->tmp.len;
    if (buf_append(&w->tmp, nm, strlen(nm) + 1, w->xp->err)) {
        xl_fail(w->xp, E_LIMIT);
        return;
    }
    s->rid_off = w->tmp.len;
    if (buf_append(&w->tmp, rid, strlen(rid) + 1, w->xp->err)) {
        xl_fail(w->xp, E_LIMIT);
        return;
    }
    w->n++;
}

/* ---- styles.xml ---- */

struct xl_fmt {
    unsigned id;
    unsigned char kind;
};

struct xl_styles {
    struct xl_parse *xp;
    struct xl_fmt *fmts;
    size_t nfmts, capfmts;
    unsigned *xf_fmt;
    size_t nxf, capxf;
    int in_cellxfs;
};

/* Date kind of a custom format code (see the header: durations are numbers). */
static unsigned char xl_code_kind(const char *code)
{
    bool date = false, time = false, month = false;
    bool in_q = false;
    for (const char *p = code; *p; p++) {
        char c = *p;
        if (in_q) {
            if (c == '"')
                in_q = false;
            continue;
        }
        if (c == '"') {
            in_q = true;
            continue;
        }
        if (c == ';')
            break;
        if (c == '\\' || c == '_' || c == '*') {
            if (p[1])
                p++;
            continue;
        }
        if (c == '[') {
            const char *e = strchr(p, ']');
            if (!e)
                break;
            /* [h], [mm], [ss]: elapsed time, a duration */
            size_t n = (size_t)(e - p - 1);
            if (n && strspn(p + 1, "hHmMsS") == n)
                return DK_NONE;
            p = e;
            continue;
        }
        if (!strncasecmp(p, "AM/PM", 5)) {
            p += 4;
            time = true;
            continue;
        }
        if (!strncasecmp(p, "A/P", 3)) {
            p += 2;
            time = true;
            continue;
        }
        switch (c | 0x20) {
        case 'y':
        case 'd':
            date = true;
            break;
        case 'm':
            month = true;
            break;
        case 'h':
        case 's':
            time = true;
            break;
        default:
            break;
        }
    }
    if (month && !time)
        date = true;
    if (date && time)
        return DK_DATETIME;
    if (date)
        return DK_DATE;
    if (time)
        return DK_DATETIME;
    return DK_NONE;
}

static unsigned char xl_builtin_kind(unsigned id)
{
    if ((id >= 14 && id <= 17) || (id >= 27 && id <= 31) || (id >= 34 && id <= 36) ||
        (id >= 50 && id <= 58))
        return DK_DATE;
    if ((id >= 18 && id <= 22) || id == 32 || id == 33 || id == 45 || id == 47)
        return DK_DATETIME;
    return DK_NONE; /* 46 is [h]:mm:ss, a duration */
}

static void xl_st_start(void *ud, const char *name, const char **atts)
{
    struct xl_styles *s = ud;
    const char *ln = name;
    if (xl_eq(ln, "cellXfs")) {
        s->in_cellxfs++;
        return;
    }
    if (xl_eq(ln, "numFmt")) {
        const char *id = xl_attr(atts, "numFmtId"), *code = xl_attr(atts, "formatCode");
        unsigned long long v;
        if (!id || !code || !xl_index(id, strlen(id), &v) || v > 100000)
            return;
        if (s->nfmts >= (size_t)LIM_XLSX_NUMFMTS) {
            xl_fail(s->xp, err_set(s->xp->err, E_LIMIT, "too many number formats"));
            return;
        }
        if (s->nfmts == s->capfmts) {
            size_t nc = s->capfmts ? s->capfmts * 2 : 32;
            struct xl_fmt *nv = realloc(s->fmts, nc * sizeof *nv);
            if (!nv) {
                xl_fail(s->xp, err_set(s->xp->err, E_NOMEM, "out of memory"));
                return;
            }
            s->fmts = nv;
            s->capfmts = nc;
        }
        s->fmts[s->nfmts].id = (unsigned)v;
        s->fmts[s->nfmts].kind = xl_code_kind(code);
        s->nfmts++;
        return;
    }
    if (xl_eq(ln, "xf") && s->in_cellxfs) {
        const char *id = xl_attr(atts, "numFmtId");
        unsigned long long v = 0;
        if (!id || !xl_index(id, strlen(id), &v) || v > 100000)
            v = 0;
        if (s->nxf >= (size_t)LIM_XLSX_XFS) {
            xl_fail(s->xp, err_set(s->xp->err, E_LIMIT, "too many cell formats"));
            return;
        }
        if (s->nxf == s->capxf) {
            size_t nc = s->capxf ? s->capxf * 2 : 32;
            unsigned *nv = realloc(s->xf_fmt, nc * sizeof *nv);
            if (!nv) {
                xl_fail(s->xp, err_set(s->xp->err, E_NOMEM, "out of memory"));
                return;
            }
            s->xf_fmt = nv;
            s->capxf = nc;
        }
        s->xf_fmt[s->nxf++] = (unsigned)v;
    }
}

static void xl_st_end(void *ud, const char *name)
{
    struct xl_styles *s = ud;
    if (!strcmp(name, "cellXfs") && s->in_cellxfs)
        s->in_cellxfs--;
}

static enum err_code xl_styles_read(struct xlsx *x, const char *part, struct err *err)
{
    enum err_code rc;
    size_t idx;
    struct xl_parse xp = {0};
    struct xl_styles s = {0};
    if (!zr_find(x->zip, part, &idx))
        return E_OK; /* no styles: no dates */
    s.xp = &xp;
    xl_parser(&xp, x, &s, xl_st_start, xl_st_end, NULL, part, err);
    if ((rc = xl_feed(&xp, idx)))
        goto out;
    if (s.nxf) {
        x->xf_kind = calloc(s.nxf, 1);
        if (!x->xf_kind) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        x->nxf = s.nxf;
        for (size_t i = 0; i < s.nxf; i++) {
            unsigned id = s.xf_fmt[i];
            unsigned char k = xl_builtin_kind(id);
            for (size_t j = 0; j < s.nfmts; j++)
                if (s.fmts[j].id == id)
                    k = s.fmts[j].kind; /* a custom code overrides; last one wins */
            x->xf_kind[i] = k;
        }
    }
out:
    free(s.fmts);
    free(s.xf_fmt);
    return rc;
}

/* ---- sharedStrings.xml ---- */

struct xl_sst {
    struct xl_parse *xp;
    struct xlsx *x;
    bool in_si;
    int in_t;
    int rph;
    size_t start;
};

static void xl_sst_start(void *ud, const char *name, const char **atts)
{
    struct xl_sst *s = ud;
    const char *ln = name;
    (void)atts;
    if (xl_eq(ln, "si")) {
        s->in_si = true;
        s->rph = 0;
        s->in_t = 0;
        s->start = s->x->sst.len;
    } else if (s->in_si && xl_eq(ln, "rPh")) {
        s->rph++;
    } else if (s->in_si && xl_eq(ln, "t")) {
        s->in_t++;
    }
}

static void xl_sst_end(void *ud, const char *name)
{
    struct xl_sst *s = ud;
    struct xlsx *x = s->x;
    const char *ln = name;
    if (!s->in_si)
        return;
    if (xl_eq(ln, "rPh")) {
        if (s->rph)
            s->rph--;
    } else if (xl_eq(ln, "t")) {
        if (s->in_t)
            s->in_t--;
    } else if (xl_eq(ln, "si")) {
        s->in_si = false;
        if (x->nsst >= (size_t)LIM_XLSX_SST_COUNT) {
            xl_fail(s->xp, err_set(s->xp->err, E_LIMIT, "more than %ld shared strings",
                                   LIM_XLSX_SST_COUNT));
            return;
        }
        size_t n =
            x->sst.len > s->start ? xl_unescape(x->sst.data + s->start, x->sst.len - s->start) : 0;
        x->sst.len = s->start + n;
        if (buf_append(&x->sst, "", 1, s->xp->err) ||
            buf_append(&x->sst_off, &s->start, sizeof s->start, s->xp->err)) {
            xl_fail(s->xp, err_set(s->xp->err, E_TOO_LARGE, "shared strings exceed %ld bytes",
                                   LIM_XLSX_SST_BYTES));
            return;
        }
        x->nsst++;
    }
}

static void xl_sst_text(void *ud, const char *t, size_t len)
{
    struct xl_sst *s = ud;
    if (!s->in_si || !s->in_t || s->rph)
        return;
    if (buf_append(&s->x->sst, t, len, s->xp->err))
        xl_fail(s->xp, err_set(s->xp->err, E_TOO_LARGE, "shared strings exceed %ld bytes",
                               LIM_XLSX_SST_BYTES));
}

static enum err_code xl_sst_read(struct xlsx *x, const char *part, struct err *err)
{
    size_t idx;
    struct xl_parse xp = {0};
    struct xl_sst s = {0};
    if (!zr_find(x->zip, part, &idx))
        return E_OK;
    s.xp = &xp;
    s.x = x;
    xl_parser(&xp, x, &s, xl_sst_start, xl_sst_end, xl_sst_text, part, err);
    return xl_feed(&xp, idx);
}

/* ---- opening ---- */

static void xl_rels_find(const struct xl_rels *r, const char *type, const char **target)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->v[i].external && !strcmp(r->v[i].type, type)) {
            *target = r->v[i].target;
            return;
        }
}

void xlsx_free(struct xlsx *x)
{
    if (!x)
        return;
    zr_free(x->zip);
    free(x->sheets);
    buf_release(&x->strs);
    free(x->xf_kind);
    buf_release(&x->sst);
    buf_release(&x->sst_off);
    free(x);
}

enum err_code xlsx_open(const char *path, struct xlsx **out, struct err *err)
{
    enum err_code rc;
    struct xlsx *x = NULL;
    struct xl_rels rels = {0}, wbrels = {0};
    struct buf wbpart, tmp, part;
    struct xl_parse xp = {0};
    struct xl_wb wb = {0};
    size_t idx;

    buf_init(&wbpart, 8192);
    buf_init(&tmp, 8192);
    buf_init(&part, 8192);
    buf_init(&wb.tmp, (size_t)LIM_XLSX_SHEETS * 1024);
    x = calloc(1, sizeof *x);
    if (!x) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    buf_init(&x->strs, (size_t)LIM_XLSX_SHEETS * 10000);
    buf_init(&x->sst, (size_t)LIM_XLSX_SST_BYTES);
    buf_init(&x->sst_off, (size_t)LIM_XLSX_SST_COUNT * sizeof(size_t));
    if ((rc = zr_open(path, &x->zip, err)))
        goto out;

    /* 1. the workbook part: _rels/.rels, else [Content_Types].xml, else the usual name */
    rc = xl_rels_read(x, "_rels/.rels", &rels, err);
    if (rc == E_OK) {
        const char *t = NULL;
        xl_rels_find(&rels, "officeDocument", &t);
        if (t && (rc = xl_resolve("", t, &wbpart, err)))
            goto out;
    } else if (rc != E_NOTFOUND && rc != E_PARSE) {
        goto out;
    } else {
        err_clear(err); /* a broken package-level rels part: find the workbook otherwise */
    }
    if (!wbpart.len || !zr_find(x->zip, wbpart.data, &idx)) {
        struct xl_ct ct = {&xp, &wbpart};
        buf_reset(&wbpart);
        if (zr_find(x->zip, "[Content_Types].xml", &idx)) {
            xl_parser(&xp, x, &ct, xl_ct_start, NULL, NULL, "[Content_Types].xml", err);
            rc = xl_feed(&xp, idx);
            if (rc && rc != E_PARSE)
                goto out;
            err_clear(err);
        }
        if (!wbpart.len || !zr_find(x->zip, wbpart.data, &idx)) {
            buf_reset(&wbpart);
            if ((rc = buf_append_str(&wbpart, "xl/workbook.xml", err)))
                goto out;
        }
    }
    if (!zr_find(x->zip, wbpart.data, &idx)) {
        rc = err_set(err, E_UNSUPPORTED, "not an .xlsx workbook: no workbook part found");
        goto out;
    }
    /* use the stored spelling of the name */
    buf_reset(&wbpart);
    if ((rc = buf_append_str(&wbpart, zr_name(x->zip, idx), err)))
        goto out;

    /* 2. workbook.xml: sheets and the date system */
    wb.xp = &xp;
    wb.x = x;
    xl_parser(&xp, x, &wb, xl_wb_start, NULL, NULL, wbpart.data, err);
    rc = xl_feed(&xp, idx);
    if (rc)
        goto out;

    /* 3. its relationships */
    if ((rc = xl_rels_name(wbpart.data, &tmp, err)))
        goto out;
    rc = xl_rels_read(x, tmp.data, &wbrels, err);
    if (rc == E_NOTFOUND) {
        if (wb.n) {
            rc = err_set(err, E_PARSE, "workbook relationships part '%s' is missing", tmp.data);
            goto out;
        }
        rc = E_OK;
    }
    if (rc)
        goto out;

    const char *t = NULL;
    xl_rels_find(&wbrels, "styles", &t);
    if (t) {
        if ((rc = xl_resolve(wbpart.data, t, &part, err)) ||
            (rc = xl_styles_read(x, part.data, err)))
            goto out;
    }
    t = NULL;
    xl_rels_find(&wbrels, "sharedStrings", &t);
    if (t) {
        if ((rc = xl_resolve(wbpart.data, t, &part, err)) || (rc = xl_sst_read(x, part.data, err)))
            goto out;
    }

    /* 4. the sheet list */
    x->sheets = calloc(wb.n ? wb.n : 1, sizeof *x->sheets);
    if (!x->sheets) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    struct {
        size_t name, part;
        bool has_part;
    } *offs = calloc(wb.n ? wb.n : 1, sizeof *offs);
    if (!offs) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < wb.n; i++) {
        struct xlsx_sheet_info *si = &x->sheets[i];
        const char *rid = wb.tmp.data + wb.v[i].rid_off;
        si->visibility = wb.v[i].vis;
        offs[i].name = x->strs.len;
        if ((rc = buf_append_str(&x->strs, wb.tmp.data + wb.v[i].name_off, err)) ||
            (rc = buf_append(&x->strs, "", 1, err)))
            break;
        for (size_t j = 0; j < wbrels.n; j++) {
            struct xl_rel *r = &wbrels.v[j];
            if (strcmp(r->id, rid) || r->external)
                continue;
            si->chartsheet = !strcmp(r->type, "chartsheet");
            if ((rc = xl_resolve(wbpart.data, r->target, &part, err)))
                break;
            if (zr_find(x->zip, part.data, &idx)) {
                offs[i].has_part = true;
                offs[i].part = x->strs.len;
                if ((rc = buf_append_str(&x->strs, zr_name(x->zip, idx), err)) ||
                    (rc = buf_append(&x->strs, "", 1, err)))
                    break;
            }
            break;
        }
        if (rc)
            break;
    }
    if (!rc) {
        for (size_t i = 0; i < wb.n; i++) {
            x->sheets[i].name = x->strs.data + offs[i].name;
            x->sheets[i].part = offs[i].has_part ? x->strs.data + offs[i].part : NULL;
        }
        x->nsheets = wb.n;
    }
    free(offs);
    if (rc)
        goto out;

    *out = x;
    x = NULL;
out:
    xl_rels_release(&rels);
    xl_rels_release(&wbrels);
    free(wb.v);
    buf_release(&wb.tmp);
    buf_release(&wbpart);
    buf_release(&tmp);
    buf_release(&part);
    xlsx_free(x);
    return rc;
}

size_t xlsx_sheet_count(const struct xlsx *x)
{
    return x->nsheets;
}

const struct xlsx_sheet_info *xlsx_sheet_info(const struct xlsx *x, size_t i)
{
    return i < x->nsheets ? &x->sheets[i] : NULL;
}

bool xlsx_date1904(const struct xlsx *x)
{
    return x->date1904;
}

/*
 * True when t is already the shortest round-trip text xlsx_num_fmt() would
 * print: [-]digits[.digits], no leading/trailing zeros, at most 15
 * significant digits (any two such decimals are distinct doubles), inside
 * the fixed-notation range.
 */
static bool xl_canonical_num(const char *t, size_t len)
{
    size_t i = 0, sig = 0, intd = 0;
    if (i < len && t[i] == '-')
        i++;
    if (i >= len)
        return false;
    if (t[i] == '0') {
        i++;
        if (i == len)
            return t[0] != '-';
        if (t[i] != '.')
            return false;
        size_t z = 0;
        for (i++; i < len && t[i] == '0'; i++)
            z++;
        if (z > 3 || i == len)
            return false; /* below 1e-4: exponent form */
    } else {
        for (; i < len && t[i] >= '0' && t[i] <= '9'; i++)
            intd++, sig++;
        if (!intd || intd > 15)
            return false;
        if (i == len)
            return true;
        if (t[i] != '.')
            return false;
        i++;
    }
    size_t fd = 0;
    for (; i < len && t[i] >= '0' && t[i] <= '9'; i++)
        fd++, sig++;
    return i == len && fd && t[len - 1] != '0' && sig <= 15;
}

/*
 * The usual spelling of a cell number, [-]digits[.digits] with at most 15
 * significant digits, converted exactly as strtod would (an integer below
 * 2^53 divided by an exact power of ten is correctly rounded); false for
 * anything else, which strtod then reads.
 */
bool xlsx_fast_num(const char *t, size_t len, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0, sig = 0, frac = 0;
    bool neg = false, dot = false, any = false;
    uint64_t m = 0;
    if (len && t[0] == '-')
        neg = true, i = 1;
    for (; i < len; i++) {
        char c = t[i];
        if (c >= '0' && c <= '9') {
            any = true;
            if (m || c != '0')
                sig++;
            if (sig > 15)
                return false;
            m = m * 10 + (uint64_t)(c - '0');
            if (dot)
                frac++;
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            return false;
        }
    }
    if (!any || frac > 22 || (dot && t[len - 1] == '.') || t[neg] == '.')
        return false;
    double d = (double)m / p10[frac];
    *out = neg ? -d : d;
    return true;
}

/* ---- worksheet streaming ---- */

enum xl_ctype { CT_N, CT_S, CT_STR, CT_INLINE, CT_B, CT_E, CT_D };

struct xl_cellb {
    uint32_t col;
    enum xlsx_cell_type type;
    size_t off, len; /* text in row arena, or in the sst arena when sst */
    bool sst;
    double num;
};

struct xlsx_sheet {
    struct xl_parse xp; /* first member: the handlers' user data */
    struct xlsx *x;
    bool started, eof;
    /* parse state */
    int depth_sd; /* inside sheetData */
    bool in_row, in_c, in_v, in_is, in_t, has_f, has_v, has_is;
    int rph;
    long row_r;    /* current row number */
    long prev_row; /* last row number seen */
    long prev_col;
    enum xl_ctype ct;
    unsigned long style;
    size_t v_off, is_off, v_len, is_len;
    /* the row being built */
    struct xl_cellb *cb;
    size_t ncb, capcb;
    struct buf arena;
    /* the row handed out */
    struct xlsx_cell *cells;
    size_t capcells;
    struct xlsx_row row;
    bool row_ready;
    /* stats */
    struct buf merged;
    struct buf dim;
    struct xlsx_sheet_stats stats;
};

static void xl_sh_fail_nomem(struct xlsx_sheet *s)
{
    xl_fail(&s->xp, err_set(s->xp.err, E_NOMEM, "out of memory"));
}

static void xl_sh_cell_start(struct xlsx_sheet *s, const char **atts)
{
    const char *r = xl_attr(atts, "r"), *t = xl_attr(atts, "t"), *st = xl_attr(atts, "s");
    long col = r ? xl_ref_col(r) : -1;
    if (col == -2) {
        xl_fail(&s->xp, err_set(s->xp.err, E_PARSE,
                                "cell reference '%.20s' in '%s' is beyond "
                                "column XFD",
                                r, s->xp.part));
        return;
    }
    if (col < 0)
        col = s->prev_col + 1;
    if (col >= LIM_XLSX_MAX_COLS) {
        xl_fail(&s->xp, err_set(s->xp.err, E_PARSE, "row %ld of '%s' has cells beyond column XFD",
                                s->row_r, s->xp.part));
        return;
    }
    s->prev_col = col;
    s->in_c = true;
    s->has_f = s->has_v = s->has_is = false;
    s->ct = CT_N;
    if (t) {
        if (!strcmp(t, "s"))
            s->ct = CT_S;
        else if (!strcmp(t, "str"))
            s->ct = CT_STR;
        else if (!strcmp(t, "inlineStr"))
            s->ct = CT_INLINE;
        else if (!strcmp(t, "b"))
            s->ct = CT_B;
        else if (!strcmp(t, "e"))
            s->ct = CT_E;
        else if (!strcmp(t, "d"))
            s->ct = CT_D;
    }
    unsigned long long sv = 0;
    s->style = st && xl_index(st, strlen(st), &sv) && sv < (1ULL << 31) ? (unsigned long)sv : 0;
    if (s->ncb == s->capcb) {
        size_t nc = s->capcb ? s->capcb * 2 : 64;
        struct xl_cellb *nv = realloc(s->cb, nc * sizeof *nv);
        if (!nv) {
            xl_sh_fail_nomem(s);
            return;
        }
        s->cb = nv;
        s->capcb = nc;
    }
    s->cb[s->ncb].col = (uint32_t)col;
    s->cb[s->ncb].type = XLSX_EMPTY;
    s->cb[s->ncb].sst = false;
    s->v_off = s->is_off = s->arena.len;
    s->v_len = s->is_len = 0;
}

static bool xl_arena_nul(struct xlsx_sheet *s)
{
    if (buf_append(&s->arena, "", 1, s->xp.err)) {
        xl_fail(&s->xp, err_set(s->xp.err, E_TOO_LARGE,
                                "row %ld of '%s' holds more than %ld "
                                "bytes of text",
                                s->row_r, s->xp.part, LIM_XLSX_ROW_BYTES));
        return false;
    }
    return true;
}

static void xl_sh_cell_end(struct xlsx_sheet *s)
{
    struct xl_cellb *c = &s->cb[s->ncb];
    struct xlsx *x = s->x;
    const char *v = s->arena.data ? s->arena.data + s->v_off : "";
    size_t vlen = s->has_v ? s->v_len : 0;
    s->in_c = false;
    if (s->has_is && (s->ct == CT_INLINE || !s->has_v)) {
        c->type = XLSX_STRING;
        c->off = s->is_off;
        c->len = s->is_len ? xl_unescape(s->arena.data + s->is_off, s->is_len) : 0;
        s->arena.len = s->is_off + c->len;
        if (!xl_arena_nul(s))
            return;
        s->ncb++;
        return;
    }
    if (!s->has_v || !vlen) {
        if (s->has_f && !s->has_v)
            s->stats.formulas_without_value++;
        s->arena.len = s->v_off;
        return;
    }
    switch (s->ct) {
    case CT_S: {
        unsigned long long i;
        if (!xl_index(v, vlen, &i) || i >= x->nsst) {
            xl_fail(&s->xp,
                    err_set(s->xp.err, E_PARSE,
                            "shared string index '%.*s' out of range (%zu strings) in "
                            "row %ld of '%s'",
                            (int)(vlen > 20 ? 20 : vlen), v, x->nsst, s->row_r, s->xp.part));
            return;
        }
        size_t off;
        memcpy(&off, x->sst_off.data + i * sizeof off, sizeof off);
        c->type = XLSX_STRING;
        c->sst = true;
        c->off = off;
        if (i + 1 < x->nsst) { /* the strings lie end to end, each with its NUL */
            size_t next;
            memcpy(&next, x->sst_off.data + (i + 1) * sizeof next, sizeof next);
            c->len = next - off - 1;
        } else {
            c->len = x->sst.len - off - 1;
        }
        s->arena.len = s->v_off;
        s->ncb++;
        return;
    }
    case CT_STR:
    case CT_INLINE:
    case CT_E:
    case CT_D:
        c->type = s->ct == CT_E ? XLSX_ERROR : s->ct == CT_D ? XLSX_DATE : XLSX_STRING;
        c->off = s->v_off;
        c->len = s->ct == CT_E || s->ct == CT_D || !vlen
                     ? vlen
                     : xl_unescape(s->arena.data + s->v_off, vlen);
        c->num = NAN;
        s->arena.len = s->v_off + c->len;
        if (!xl_arena_nul(s))
            return;
        s->ncb++;
        return;
    case CT_B:
    case CT_N:
        break;
    }
    /* a number */
    s->arena.len = s->v_off + vlen;
    if (!xl_arena_nul(s))
        return;
    v = s->arena.data + s->v_off;
    char *end = NULL;
    double d;
    if (!xlsx_fast_num(v, vlen, &d)) {
        d = strtod(v, &end);
        while (end && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
            end++;
    }
    if (end && (end == v || *end || !isfinite(d))) {
        /* not a number: keep the text */
        c->type = XLSX_STRING;
        c->off = s->v_off;
        c->len = vlen;
        s->ncb++;
        return;
    }
    c->num = d;
    if (s->ct == CT_N && xl_canonical_num(v, vlen)) {
        c->off = s->v_off; /* keep the text: it is the canonical spelling */
        c->len = vlen;
    } else {
        s->arena.len = s->v_off;
        c->off = SIZE_MAX;
    }
    if (s->ct == CT_B) {
        c->type = XLSX_BOOL;
        c->num = d != 0;
        s->ncb++;
        return;
    }
    c->type = XLSX_NUMBER;
    unsigned char k = s->style < x->nxf ? x->xf_kind[s->style] : DK_NONE;
    if (k != DK_NONE) {
        char iso[40];
        if (xlsx_serial_iso(d, x->date1904, k == DK_DATE, iso, sizeof iso)) {
            c->type = XLSX_DATE;
            c->off = s->arena.len;
            c->len = strlen(iso);
            if (buf_append(&s->arena, iso, c->len + 1, s->xp.err)) {
                xl_arena_nul(s);
                return;
            }
        }
    }
    s->ncb++;
}

static int xl_cell_cmp(const void *a, const void *b)
{
    const struct xl_cellb *x = a, *y = b;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x < y ? -1 : 1; /* stable */
}

static void xl_sh_row_end(struct xlsx_sheet *s)
{
    s->in_row = false;
    if (!s->ncb) {
        buf_reset(&s->arena);
        return;
    }
    bool sorted = true;
    for (size_t i = 1; i < s->ncb; i++)
        if (s->cb[i].col <= s->cb[i - 1].col)
            sorted = false;
    if (!sorted) {
        qsort(s->cb, s->ncb, sizeof *s->cb, xl_cell_cmp);
        size_t o = 0; /* duplicates: the last one wins */
        for (size_t i = 0; i < s->ncb; i++) {
            if (o && s->cb[o - 1].col == s->cb[i].col)
                o--;
            s->cb[o++] = s->cb[i];
        }
        s->ncb = o;
    }
    if (s->ncb > s->capcells) {
        struct xlsx_cell *nv = realloc(s->cells, s->ncb * sizeof *nv);
        if (!nv) {
            xl_sh_fail_nomem(s);
            return;
        }
        s->cells = nv;
        s->capcells = s->ncb;
    }
    for (size_t i = 0; i < s->ncb; i++) {
        struct xl_cellb *b = &s->cb[i];
        struct xlsx_cell *c = &s->cells[i];
        c->col = b->col;
        c->type = b->type;
        c->num = b->num;
        c->len = b->len;
        if (b->type == XLSX_BOOL || (b->type == XLSX_NUMBER && b->off == SIZE_MAX))
            c->str = NULL, c->len = 0;
        else
            c->str = b->sst ? s->x->sst.data + b->off : s->arena.data + b->off;
    }
    s->row.index = (uint32_t)s->row_r;
    s->row.ncells = s->ncb;
    s->row.cells = s->cells;
    s->row_ready = true;
    xl_suspend(&s->xp);
}

static void xl_sh_start(void *ud, const char *name, const char **atts)
{
    struct xlsx_sheet *s = ud;
    const char *ln = name;
    if (s->in_c) {
        if (xl_eq(ln, "v")) {
            s->in_v = true;
            s->has_v = true;
            s->v_off = s->arena.len;
        } else if (xl_eq(ln, "f")) {
            s->has_f = true;
        } else if (xl_eq(ln, "is")) {
            s->in_is = true;
            s->has_is = true;
            s->rph = 0;
            s->is_off = s->arena.len;
        } else if (s->in_is && xl_eq(ln, "rPh")) {
            s->rph++;
        } else if (s->in_is && xl_eq(ln, "t")) {
            s->in_t = true;
        }
        return;
    }
    if (s->in_row) {
        if (xl_eq(ln, "c"))
            xl_sh_cell_start(s, atts);
        return;
    }
    if (xl_eq(ln, "row") && s->depth_sd) {
        const char *r = xl_attr(atts, "r");
        unsigned long long v;
        if (r && xl_index(r, strlen(r), &v) && v >= 1 && v <= (unsigned long long)LIM_XLSX_MAX_ROWS)
            s->row_r = (long)v;
        else
            s->row_r = s->prev_row + 1;
        if (s->row_r > LIM_XLSX_MAX_ROWS) {
            xl_fail(&s->xp, err_set(s->xp.err, E_PARSE, "'%s' has more than %ld rows", s->xp.part,
                                    LIM_XLSX_MAX_ROWS));
            return;
        }
        s->prev_row = s->row_r;
        s->prev_col = -1;
        s->in_row = true;
        s->ncb = 0;
        buf_reset(&s->arena);
        return;
    }
    if (xl_eq(ln, "sheetData")) {
        s->depth_sd++;
    } else if (xl_eq(ln, "mergeCell")) {
        const char *ref = xl_attr(atts, "ref");
        if (!ref)
            return;
        s->stats.merged_count++;
        if (s->stats.merged_listed < (size_t)LIM_XLSX_MERGES_REPORTED && strlen(ref) < 40) {
            if (buf_append(&s->merged, ref, strlen(ref) + 1, s->xp.err)) {
                xl_sh_fail_nomem(s);
                return;
            }
            s->stats.merged_listed++;
        }
    } else if (xl_eq(ln, "dimension")) {
        const char *ref = xl_attr(atts, "ref");
        if (ref && strlen(ref) < 40) {
            buf_reset(&s->dim);
            if (buf_append_str(&s->dim, ref, s->xp.err))
                xl_sh_fail_nomem(s);
        }
    }
}

static void xl_sh_end(void *ud, const char *name)
{
    struct xlsx_sheet *s = ud;
    const char *ln = name;
    if (s->in_c) {
        if (xl_eq(ln, "v")) {
            s->in_v = false;
            s->v_len = s->arena.len - s->v_off;
        } else if (xl_eq(ln, "is")) {
            s->in_is = false;
            s->is_len = s->arena.len - s->is_off;
        } else if (xl_eq(ln, "rPh")) {
            if (s->rph)
                s->rph--;
        } else if (xl_eq(ln, "t")) {
            s->in_t = false;
        } else if (xl_eq(ln, "c")) {
            xl_sh_cell_end(s);
        }
        return;
    }
    if (s->in_row) {
        if (xl_eq(ln, "row"))
            xl_sh_row_end(s);
        return;
    }
    if (xl_eq(ln, "sheetData") && s->depth_sd)
        s->depth_sd--;
}

static void xl_sh_text(void *ud, const char *t, size_t len)
{
    struct xlsx_sheet *s = ud;
    if (!s->in_c || !(s->in_v || (s->in_is && s->in_t && !s->rph)))
        return;
    if (buf_append(&s->arena, t, len, s->xp.err))
        xl_fail(&s->xp, err_set(s->xp.err, E_TOO_LARGE,
                                "row %ld of '%s' holds more than %ld "
                                "bytes of text",
                                s->row_r, s->xp.part, LIM_XLSX_ROW_BYTES));
}

void xlsx_sheet_close(struct xlsx_sheet *s)
{
    if (!s)
        return;
    if (s->started)
        xl_parse_release(&s->xp);
    s->x->sheet_open = false;
    free(s->cb);
    free(s->cells);
    buf_release(&s->arena);
    buf_release(&s->merged);
    buf_release(&s->dim);
    free(s);
}

enum err_code xlsx_sheet_open(struct xlsx *x, size_t i, struct xlsx_sheet **out, struct err *err)
{
    enum err_code rc;
    struct xlsx_sheet *s = NULL;
    size_t idx;

    if (i >= x->nsheets)
        return err_set(err, E_INVALID, "no sheet %zu", i);
    if (x->sheet_open)
        return err_set(err, E_INTERNAL, "a sheet is already open");
    s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, E_NOMEM, "out of memory");
    s->x = x;
    x->sheet_open = true;
    buf_init(&s->arena, (size_t)LIM_XLSX_ROW_BYTES);
    buf_init(&s->merged, (size_t)LIM_XLSX_MERGES_REPORTED * 48);
    buf_init(&s->dim, 64);
    s->prev_row = 0;
    s->prev_col = -1;
    const struct xlsx_sheet_info *si = &x->sheets[i];
    if (!si->part || si->chartsheet || !zr_find(x->zip, si->part, &idx)) {
        s->eof = true;
    } else {
        xl_parser(&s->xp, x, s, xl_sh_start, xl_sh_end, xl_sh_text, si->part, err);
        s->started = true;
        if ((rc = xl_begin(&s->xp, idx)))
            goto out;
    }
    *out = s;
    s = NULL;
    rc = E_OK;
out:
    xlsx_sheet_close(s);
    return rc;
}

enum err_code xlsx_sheet_next(struct xlsx_sheet *s, const struct xlsx_row **row, struct err *err)
{
    enum err_code rc;
    s->xp.err = err;
    s->row_ready = false;
    while (!s->eof) {
        if ((rc = xl_step(&s->xp, &s->eof)))
            return rc;
        if (s->row_ready) {
            *row = &s->row;
            return E_OK;
        }
    }
    *row = NULL;
    return E_OK;
}

const struct xlsx_sheet_stats *xlsx_sheet_stats(const struct xlsx_sheet *s)
{
    struct xlsx_sheet_stats *st = (struct xlsx_sheet_stats *)&s->stats;
    st->merged = s->merged.data ? s->merged.data : "";
    st->dimension = s->dim.data ? s->dim.data : "";
    return st;
}

/* ---- values ---- */

static void xl_civil(long long z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

bool xlsx_serial_iso(double serial, bool date1904, bool date_only, char *out, size_t cap)
{
    if (!isfinite(serial) || serial < 0 || serial > 2958465.99999999)
        return false;
    double day = floor(serial);
    long long ms = llround((serial - day) * 86400000.0);
    long long dn = (long long)day;
    if (ms >= 86400000) {
        dn++;
        ms -= 86400000;
    }
    unsigned hh = (unsigned)(ms / 3600000), mi = (unsigned)(ms / 60000 % 60),
             ss = (unsigned)(ms / 1000 % 60), mss = (unsigned)(ms % 1000);
    int n;
    if (serial < 1 && dn == 0) {
        if (mss)
            n = snprintf(out, cap, "%02u:%02u:%02u.%03u", hh, mi, ss, mss);
        else
            n = snprintf(out, cap, "%02u:%02u:%02u", hh, mi, ss);
        return n > 0 && (size_t)n < cap;
    }
    long long epoch; /* days from 1970-01-01 */
    if (date1904) {
        epoch = -24107; /* 1904-01-01 */
    } else {
        epoch = -25569; /* 1899-12-30 */
        if (serial > 0 && serial < 60)
            dn += 1;
    }
    int y;
    unsigned mo, d;
    xl_civil(epoch + dn, &y, &mo, &d);
    if (y > 9999)
        return false;
    if (y < 0 || cap < 24)
        return false;
    /* YYYY-MM-DD[THH:MM:SS[.mmm]], digits by hand (this runs per date cell) */
    unsigned v[] = {(unsigned)y / 100, (unsigned)y % 100, mo, d, hh, mi, ss};
    static const char sep[] = {0, '-', '-', 'T', ':', ':'};
    size_t k = 0, parts = date_only && !ms ? 4 : 7;
    for (size_t i = 0; i < parts; i++) {
        if (i > 1)
            out[k++] = sep[i - 1];
        out[k++] = (char)('0' + v[i] / 10);
        out[k++] = (char)('0' + v[i] % 10);
    }
    if (parts == 7 && mss) {
        out[k++] = '.';
        out[k++] = (char)('0' + mss / 100);
        out[k++] = (char)('0' + mss / 10 % 10);
        out[k++] = (char)('0' + mss % 10);
    }
    out[k] = '\0';
    return true;
}

size_t xlsx_num_fmt(double v, char *out, size_t cap)
{
    char m[40];
    int n = 0;
    if (cap < 32)
        return 0;
    if (v == 0) {
        out[0] = '0';
        out[1] = '\0';
        return 1;
    }
    if (!isfinite(v)) {
        n = snprintf(out, cap, "%s", isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        return (size_t)n;
    }
    if (fabs(v) < 1e16 && v == floor(v)) {
        n = snprintf(out, cap, "%.0f", v);
        return (size_t)n;
    }
    /* The shortest %.*e that round-trips. At most one 15-digit decimal lies
     * within a double's rounding interval (they are spaced wider than it),
     * so when 15 digits round-trip, those digits without trailing zeros are
     * the shortest form: one try instead of counting up from 1 digit. */
    int prec = fabs(v) >= DBL_MIN ? 15 : 1; /* subnormals: fewer bits, count up */
    for (;; prec++) {
        snprintf(m, sizeof m, "%.*e", prec - 1, v);
        if (prec >= 17 || strtod(m, NULL) == v)
            break;
    }
    /* m = [-]D[.DDD]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *p = m;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    long exp = strtol(p + 1, NULL, 10);
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (exp < -4 || exp >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        n = snprintf(out + o, cap - o, "e%c%02ld", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return o + (size_t)n;
    }
    if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (long i = 0; i < -exp - 1; i++)
            out[o++] = '0';
        for (size_t i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (long i = 0; i <= exp; i++)
            out[o++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)exp + 1 < nd) {
            out[o++] = '.';
            for (size_t i = (size_t)exp + 1; i < nd; i++)
                out[o++] = digits[i];
        }
    }
    out[o] = '\0';
    return o;
}

size_t xlsx_col_name(uint32_t col, char *out, size_t cap)
{
    char tmp[8];
    size_t n = 0;
    unsigned long c = (unsigned long)col + 1;
    while (c && n < sizeof tmp) {
        tmp[n++] = (char)('A' + (c - 1) % 26);
        c = (c - 1) / 26;
    }
    if (n + 1 > cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}
