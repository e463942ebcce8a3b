#include "expr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "klimits.h"

#include "banned.h"

enum eop {
    N_LIT,
    N_COL,
    N_CONV, /* coerce kid 0 to the node's type */
    N_NEG,
    N_ADD,
    N_SUB,
    N_MUL,
    N_DIV,
    N_MOD,
    N_CONCAT,
    N_EQ,
    N_NE,
    N_LT,
    N_LE,
    N_GT,
    N_GE,
    N_AND,
    N_OR,
    N_NOT,
    N_ISNULL,
    N_NOTNULL,
    N_IN,
    N_NOTIN,
    N_BETWEEN,
    N_NOTBETWEEN,
    N_CALL,
};

enum efn_id {
    F_LOWER,
    F_UPPER,
    F_TRIM,
    F_LENGTH,
    F_SUBSTR,
    F_REPLACE,
    F_CONTAINS,
    F_STARTSWITH,
    F_ENDSWITH,
    F_CONCAT,
    F_COALESCE,
    F_IF,
    F_ABS,
    F_ROUND,
    F_FLOOR,
    F_CEIL,
    F_SQRT,
    F_POW,
    F_MIN,
    F_MAX,
    F_TO_NUMBER,
    F_TO_STRING,
    F_YEAR,
    F_MONTH,
    F_DAY,
    F_DATE,
    F_DATEDIFF,
};

struct efn {
    const char *name;
    unsigned char id, min, max;
};

static const struct efn expr_fns[] = {
    {"abs", F_ABS, 1, 1},
    {"ceil", F_CEIL, 1, 1},
    {"coalesce", F_COALESCE, 1, 255},
    {"concat", F_CONCAT, 1, 255},
    {"contains", F_CONTAINS, 2, 2},
    {"date", F_DATE, 1, 2},
    {"datediff", F_DATEDIFF, 2, 2},
    {"day", F_DAY, 1, 1},
    {"endswith", F_ENDSWITH, 2, 2},
    {"floor", F_FLOOR, 1, 1},
    {"if", F_IF, 3, 3},
    {"length", F_LENGTH, 1, 1},
    {"lower", F_LOWER, 1, 1},
    {"max", F_MAX, 1, 255},
    {"min", F_MIN, 1, 255},
    {"month", F_MONTH, 1, 1},
    {"pow", F_POW, 2, 2},
    {"replace", F_REPLACE, 3, 3},
    {"round", F_ROUND, 1, 2},
    {"sqrt", F_SQRT, 1, 1},
    {"startswith", F_STARTSWITH, 2, 2},
    {"substr", F_SUBSTR, 2, 3},
    {"to_number", F_TO_NUMBER, 1, 1},
    {"to_string", F_TO_STRING, 1, 1},
    {"trim", F_TRIM, 1, 1},
    {"upper", F_UPPER, 1, 1},
    {"year", F_YEAR, 1, 1},
};
#define EXPR_NFNS (sizeof(expr_fns) / sizeof(expr_fns[0]))

struct enode {
    uint8_t op;
    uint8_t type; /* enum xtype */
    uint8_t fn;   /* N_CALL: enum efn_id */
    uint16_t nk;  /* kids */
    uint32_t k0;  /* first kid in kids[] */
    uint32_t pos; /* 1-based character, for messages */
    uint32_t col;
    struct xval lit;
};

struct expr {
    struct enode *nodes;
    size_t nnodes, capnodes;
    uint32_t *kids;
    size_t nkids, capkids;
    char *pool; /* string literals */
    size_t npool;
    uint32_t root;
};

/* ---- lexer ---- */

enum tok { T_END, T_NUM, T_STR, T_IDENT, T_QIDENT, T_OP, T_LP, T_RP, T_COMMA, T_BAD };

struct eparser {
    const char *text;
    size_t len, i;
    struct expr *e;
    const struct expr_schema *sc;
    struct err *err;
    int depth;
    /* current token */
    enum tok tk;
    size_t ts, te; /* span in text */
    char op[3];
    struct xval num;
    const char *sval; /* T_STR, T_QIDENT: decoded into pool */
    size_t slen;
};

static size_t ep_char(const struct eparser *p, size_t off)
{
    size_t k = 1;
    for (size_t i = 0; i < off && i < p->len; i++)
        k += ((unsigned char)p->text[i] & 0xC0) != 0x80;
    return k;
}

static enum err_code ep_fail(struct eparser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum err_code ep_fail(struct eparser *p, size_t off, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(p->err, E_INVALID, "expression error at character %zu: %s", ep_char(p, off),
                   msg);
}

static bool ep_identc(unsigned char c, bool first)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 ||
           (!first && c >= '0' && c <= '9');
}

/* Decode a quoted run ending at quote q into the pool. */
static enum err_code ep_quoted(struct eparser *p, char q, bool escapes)
{
    size_t start = p->i;
    char *dst = p->e->pool + p->e->npool;
    size_t n = 0;
    p->i++;
    for (;;) {
        if (p->i >= p->len)
            return ep_fail(p, start, "unterminated %s",
                           q == ']'   ? "[column name]"
                           : q == '`' ? "`column name`"
                                      : "string");
        char c = p->text[p->i];
        if (c == q) {
            if (q != ']' && p->i + 1 < p->len && p->text[p->i + 1] == q) {
                dst[n++] = q;
                p->i += 2;
                continue;
            }
            p->i++;
            break;
        }
        if (c == '\\' && escapes && p->i + 1 < p->len) {
            char x = p->text[p->i + 1];
            dst[n++] = x == 'n' ? '\n' : x == 't' ? '\t' : x == 'r' ? '\r' : x;
            p->i += 2;
            continue;
        }
        dst[n++] = c;
        p->i++;
    }
    p->sval = dst;
    p->slen = n;
    p->e->npool += n + 1;
    dst[n] = '\0';
    return E_OK;
}

static enum err_code ep_next(struct eparser *p)
{
    while (p->i < p->len && strchr(" \t\r\n", p->text[p->i]))
        p->i++;
    p->ts = p->i;
    if (p->i >= p->len) {
        p->tk = T_END;
        p->te = p->i;
        return E_OK;
    }
    const char *s = p->text;
    char c = s[p->i];
    enum err_code rc = E_OK;
    if ((c >= '0' && c <= '9') ||
        (c == '.' && p->i + 1 < p->len && s[p->i + 1] >= '0' && s[p->i + 1] <= '9')) {
        size_t j = p->i;
        bool flt = false;
        while (j < p->len && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j < p->len && s[j] == '.') {
            flt = true;
            j++;
            while (j < p->len && s[j] >= '0' && s[j] <= '9')
                j++;
        }
        if (j < p->len && (s[j] == 'e' || s[j] == 'E')) {
            size_t k = j + 1;
            if (k < p->len && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < p->len && s[k] >= '0' && s[k] <= '9') {
                flt = true;
                j = k;
                while (j < p->len && s[j] >= '0' && s[j] <= '9')
                    j++;
            }
        }
        if (j < p->len && ep_identc((unsigned char)s[j], true))
            return ep_fail(p, j, "unexpected '%c' after a number", s[j]);
        int64_t iv;
        double dv;
        bool is_int;
        if (!flt && xval_parse_int(s + p->i, j - p->i, &iv)) {
            p->num = (struct xval){.t = XT_INT, .u.i = iv};
        } else if (xval_parse_num(s + p->i, j - p->i, &dv, &is_int)) {
            p->num = (struct xval){.t = XT_FLOAT, .u.f = dv};
        } else {
            return ep_fail(p, p->i, "bad number");
        }
        p->tk = T_NUM;
        p->i = j;
    } else if (c == '\'' || c == '"') {
        if ((rc = ep_quoted(p, c, true)))
            return rc;
        p->tk = T_STR;
    } else if (c == '[' || c == '`') {
        if ((rc = ep_quoted(p, c == '[' ? ']' : '`', false)))
            return rc;
        p->tk = T_QIDENT;
    } else if (ep_identc((unsigned char)c, true)) {
        size_t j = p->i;
        while (j < p->len && ep_identc((unsigned char)s[j], false))
            j++;
        p->tk = T_IDENT;
        p->sval = s + p->i;
        p->slen = j - p->i;
        p->i = j;
    } else if (c == '(' || c == ')' || c == ',') {
        p->tk = c == '(' ? T_LP : c == ')' ? T_RP : T_COMMA;
        p->i++;
    } else {
        static const char *const ops[] = {"||", "==", "!=", "<>", "<=", ">=", "=",
                                          "<",  ">",  "+",  "-",  "*",  "/",  "%"};
        p->tk = T_BAD;
        for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            size_t L = strlen(ops[k]);
            if (p->i + L <= p->len && !memcmp(s + p->i, ops[k], L)) {
                memcpy(p->op, ops[k], L + 1);
                p->tk = T_OP;
                p->i += L;
                break;
            }
        }
        if (p->tk == T_BAD)
            return ep_fail(p, p->i, "unexpected character '%c'", c);
    }
    p->te = p->i;
    return E_OK;
}

static bool ep_kw(const struct eparser *p, const char *kw)
{
    return p->tk == T_IDENT && p->slen == strlen(kw) && !strncasecmp(p->sval, kw, p->slen);
}

static bool ep_isop(const struct eparser *p, const char *op)
{
    return p->tk == T_OP && !strcmp(p->op, op);
}

static enum err_code ep_unexpected(struct eparser *p, const char *want)
{
    if (p->tk == T_END)
        return ep_fail(p, p->ts, "unexpected end of expression, expected %s", want);
    int n = (int)(p->te - p->ts);
    return ep_fail(p, p->ts, "unexpected '%.*s', expected %s", n > 40 ? 40 : n, p->text + p->ts,
                   want);
}

/* ---- nodes ---- */

static enum err_code ep_node(struct eparser *p, enum eop op, enum xtype t, size_t pos,
                             const uint32_t *kids, size_t nk, uint32_t *out)
{
    struct expr *e = p->e;
    if (e->nnodes >= (size_t)LIM_EXPR_NODES)
        return err_set(p->err, E_LIMIT,
                       "expression error at character %zu: expression has more "
                       "than %ld parts",
                       ep_char(p, pos), (long)LIM_EXPR_NODES);
    if (e->nnodes == e->capnodes) {
        size_t nc = e->capnodes ? e->capnodes * 2 : 16;
        struct enode *nn = realloc(e->nodes, nc * sizeof(*nn));
        if (!nn)
            return err_set(p->err, E_NOMEM, "out of memory");
        e->nodes = nn;
        e->capnodes = nc;
    }
    if (e->nkids + nk > e->capkids) {
        size_t nc = e->capkids ? e->capkids * 2 : 16;
        while (nc < e->nkids + nk)
            nc *= 2;
        uint32_t *nkd = realloc(e->kids, nc * sizeof(*nkd));
        if (!nkd)
            return err_set(p->err, E_NOMEM, "out of memory");
        e->kids = nkd;
        e->capkids = nc;
    }
    struct enode *n = &e->nodes[e->nnodes];
    memset(n, 0, sizeof(*n));
    n->op = (uint8_t)op;
    n->type = (uint8_t)t;
    n->pos = (uint32_t)pos;
    n->k0 = (uint32_t)e->nkids;
    n->nk = (uint16_t)nk;
    if (nk)
        memcpy(e->kids + e->nkids, kids, nk * sizeof(*kids));
    e->nkids += nk;
    *out = (uint32_t)e->nnodes++;
    return E_OK;
}

static enum xtype ep_type(const struct eparser *p, uint32_t n)
{
    return (enum xtype)p->e->nodes[n].type;
}

static bool ep_numeric(enum xtype t)
{
    return t == XT_INT || t == XT_FLOAT || t == XT_NULL;
}

/* Wrap node *n so it yields type t. */
static enum err_code ep_conv(struct eparser *p, uint32_t *n, enum xtype t)
{
    enum xtype have = ep_type(p, *n);
    if (have == t || have == XT_NULL)
        return E_OK;
    struct enode *nd = &p->e->nodes[*n];
    if (nd->op == N_LIT && t == XT_FLOAT && have == XT_INT) {
        nd->lit.t = XT_FLOAT;
        nd->lit.u.f = (double)nd->lit.u.i;
        nd->type = XT_FLOAT;
        return E_OK;
    }
    return ep_node(p, N_CONV, t, nd->pos, n, 1, n);
}

/* The common type of a and b (NULL when they have none but text). */
static enum xtype ep_unify(enum xtype a, enum xtype b)
{
    if (a == XT_NULL)
        return b;
    if (b == XT_NULL || a == b)
        return a;
    if (ep_numeric(a) && ep_numeric(b))
        return XT_FLOAT;
    if ((a == XT_DATE || a == XT_DATETIME) && (b == XT_DATE || b == XT_DATETIME))
        return XT_DATETIME;
    return XT_STRING;
}

static bool ep_is_time(enum xtype t)
{
    return t == XT_DATE || t == XT_DATETIME;
}

/* Make a and b comparable or fail with a type error at pos. */
static enum err_code ep_comparable(struct eparser *p, uint32_t *a, uint32_t *b, size_t pos,
                                   const char *what)
{
    enum xtype ta = ep_type(p, *a), tb = ep_type(p, *b);
    if (ta == XT_NULL || tb == XT_NULL || ta == tb)
        return E_OK;
    if (ep_numeric(ta) && ep_numeric(tb))
        return E_OK;
    if (ep_is_time(ta) && ep_is_time(tb))
        return E_OK;
    uint32_t *sn = NULL;
    if (ep_is_time(ta) && tb == XT_STRING)
        sn = b;
    else if (ep_is_time(tb) && ta == XT_STRING)
        sn = a;
    if (sn) {
        struct enode *nd = &p->e->nodes[*sn];
        if (nd->op == N_LIT) {
            double secs;
            bool date_only;
            if (!xval_parse_iso(nd->lit.u.s, nd->lit.len, &secs, &date_only))
                return ep_fail(p, nd->pos, "'%.*s' is not an ISO date (YYYY-MM-DD[THH:MM:SS])",
                               (int)(nd->lit.len > 40 ? 40 : nd->lit.len), nd->lit.u.s);
            nd->lit.t = XT_DATETIME;
            nd->lit.u.f = secs;
            nd->type = XT_DATETIME;
            return E_OK;
        }
        return ep_conv(p, sn, XT_DATETIME);
    }
    return ep_fail(p, pos, "cannot %s %s with %s", what, xval_type_name(ta), xval_type_name(tb));
}

/* ---- grammar ---- */

static enum err_code ep_or(struct eparser *p, uint32_t *out);

static enum err_code ep_enter(struct eparser *p)
{
    if (++p->depth > LIM_EXPR_DEPTH)
        return err_set(p->err, E_LIMIT,
                       "expression error at character %zu: nested deeper than %ld levels",
                       ep_char(p, p->ts), (long)LIM_EXPR_DEPTH);
    return E_OK;
}

static int ep_levenshtein(const char *a, size_t la, const char *b, size_t lb)
{
    if (la > 64 || lb > 64)
        return 99;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

const char *expr_suggest(const char *name, const char *const *names, size_t n)
{
    const char *best = NULL;
    int bd = 3;
    size_t ln = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(names[i], name))
            return names[i];
        int d = ep_levenshtein(name, ln, names[i], strlen(names[i]));
        if (d < bd && (size_t)d < ln) {
            bd = d;
            best = names[i];
        }
    }
    return best;
}

static enum err_code ep_column(struct eparser *p, const char *name, size_t len, size_t pos,
                               uint32_t *out)
{
    for (size_t c = 0; c < p->sc->n; c++)
        if (strlen(p->sc->names[c]) == len && !memcmp(p->sc->names[c], name, len)) {
            enum err_code rc = ep_node(p, N_COL, p->sc->types[c], pos, NULL, 0, out);
            if (!rc)
                p->e->nodes[*out].col = (uint32_t)c;
            return rc;
        }
    char nm[128];
    snprintf(nm, sizeof(nm), "%.*s", (int)(len > 100 ? 100 : len), name);
    const char *s = expr_suggest(nm, p->sc->names, p->sc->n);
    if (s)
        return ep_fail(p, pos, "unknown column '%s' (did you mean '%s'?)", nm, s);
    return ep_fail(p, pos, "unknown column '%s'", nm);
}

static enum err_code ep_call_check(struct eparser *p, uint32_t *args, size_t n, const struct efn *f,
                                   size_t pos, enum xtype *rt)
{
    enum err_code rc;
    enum xtype t0 = n ? ep_type(p, args[0]) : XT_NULL;
    switch ((enum efn_id)f->id) {
    case F_LOWER:
    case F_UPPER:
    case F_TRIM:
    case F_REPLACE:
    case F_TO_STRING:
    case F_CONCAT:
        *rt = XT_STRING;
        return E_OK;
    case F_LENGTH:
        *rt = XT_INT;
        return E_OK;
    case F_CONTAINS:
    case F_STARTSWITH:
    case F_ENDSWITH:
        *rt = XT_BOOL;
        return E_OK;
    case F_SUBSTR:
        for (size_t i = 1; i < n; i++)
            if (!ep_numeric(ep_type(p, args[i])))
                return ep_fail(p, p->e->nodes[args[i]].pos,
                               "substr() needs a number as argument %zu, got %s", i + 1,
                               xval_type_name(ep_type(p, args[i])));
        *rt = XT_STRING;
        return E_OK;
    case F_IF: {
        enum xtype c = ep_type(p, args[0]);
        if (c != XT_BOOL && c != XT_NULL)
            return ep_fail(p, p->e->nodes[args[0]].pos, "if() needs a boolean condition, got %s",
                           xval_type_name(c));
        enum xtype u = ep_unify(ep_type(p, args[1]), ep_type(p, args[2]));
        if ((rc = ep_conv(p, &args[1], u)) || (rc = ep_conv(p, &args[2], u)))
            return rc;
        *rt = u;
        return E_OK;
    }
    case F_COALESCE:
    case F_MIN:
    case F_MAX: {
        enum xtype u = XT_NULL;
        for (size_t i = 0; i < n; i++)
            u = ep_unify(u, ep_type(p, args[i]));
        if ((f->id == F_MIN || f->id == F_MAX) && u == XT_BOOL)
            u = XT_INT;
        for (size_t i = 0; i < n; i++)
            if ((rc = ep_conv(p, &args[i], u)))
                return rc;
        *rt = u;
        return E_OK;
    }
    case F_ABS:
    case F_ROUND:
    case F_FLOOR:
    case F_CEIL:
    case F_SQRT:
    case F_POW:
        for (size_t i = 0; i < n; i++)
            if (!ep_numeric(ep_type(p, args[i])))
                return ep_fail(p, p->e->nodes[args[i]].pos, "%s() needs a number, got %s", f->name,
                               xval_type_name(ep_type(p, args[i])));
        if (f->id == F_SQRT || f->id == F_POW) {
            for (size_t i = 0; i < n; i++)
                if ((rc = ep_conv(p, &args[i], XT_FLOAT)))
                    return rc;
            *rt = XT_FLOAT;
        } else {
            *rt = t0 == XT_NULL ? XT_FLOAT : t0;
        }
        return E_OK;
    case F_TO_NUMBER:
        *rt = XT_FLOAT;
        return E_OK;
    case F_YEAR:
    case F_MONTH:
    case F_DAY:
    case F_DATEDIFF:
        for (size_t i = 0; i < n; i++) {
            enum xtype t = ep_type(p, args[i]);
            if (!ep_is_time(t) && t != XT_STRING && t != XT_NULL)
                return ep_fail(p, p->e->nodes[args[i]].pos, "%s() needs a date, got %s", f->name,
                               xval_type_name(t));
        }
        *rt = XT_INT;
        return E_OK;
    case F_DATE:
        if (n == 2) {
            struct enode *fm = &p->e->nodes[args[1]];
            if (fm->type != XT_STRING)
                return ep_fail(p, fm->pos, "date() needs a format string, got %s",
                               xval_type_name(fm->type));
            if (fm->op == N_LIT && !xval_fmt_valid(fm->lit.u.s))
                return ep_fail(p, fm->pos, "unknown directive in date format '%s'", fm->lit.u.s);
        }
        *rt = XT_DATE;
        return E_OK;
    }
    (void)pos;
    *rt = XT_NULL;
    return E_OK;
}

static enum err_code ep_call(struct eparser *p, const char *name, size_t len, size_t pos,
                             uint32_t *out)
{
    enum err_code rc;
    const struct efn *f = NULL;
    for (size_t i = 0; i < EXPR_NFNS; i++)
        if (strlen(expr_fns[i].name) == len && !strncasecmp(expr_fns[i].name, name, len))
            f = &expr_fns[i];
    if (!f) {
        const char *names[EXPR_NFNS];
        for (size_t i = 0; i < EXPR_NFNS; i++)
            names[i] = expr_fns[i].name;
        char nm[64];
        snprintf(nm, sizeof(nm), "%.*s", (int)(len > 40 ? 40 : len), name);
        const char *s = expr_suggest(nm, names, EXPR_NFNS);
        if (s)
            return ep_fail(p, pos, "unknown function '%s' (did you mean '%s'?)", nm, s);
        return ep_fail(p, pos, "unknown function '%s'", nm);
    }
    uint32_t args[LIM_EXPR_ARGS];
    size_t n = 0;
    if ((rc = ep_next(p))) /* past '(' */
        return rc;
    if (p->tk != T_RP) {
        for (;;) {
            if (n == (size_t)LIM_EXPR_ARGS)
                return err_set(p->err, E_LIMIT,
                               "expression error at character %zu: more than %ld arguments",
                               ep_char(p, p->ts), (long)LIM_EXPR_ARGS);
            if ((rc = ep_or(p, &args[n])))
                return rc;
            n++;
            if (p->tk == T_COMMA) {
                if ((rc = ep_next(p)))
                    return rc;
                continue;
            }
            if (p->tk == T_RP)
                break;
            return ep_unexpected(p, "',' or ')'");
        }
    }
    if ((rc = ep_next(p)))
        return rc;
    if (n < f->min || n > f->max) {
        if (f->min == f->max)
            return ep_fail(p, pos, "%s() takes %u argument%s, got %zu", f->name, f->min,
                           f->min == 1 ? "" : "s", n);
        return ep_fail(p, pos, "%s() takes %u to %u arguments, got %zu", f->name, f->min, f->max,
                       n);
    }
    enum xtype rt = XT_NULL;
    if ((rc = ep_call_check(p, args, n, f, pos, &rt)))
        return rc;
    if ((rc = ep_node(p, N_CALL, rt, pos, args, n, out)))
        return rc;
    p->e->nodes[*out].fn = f->id;
    return E_OK;
}

static enum err_code ep_primary(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    size_t pos = p->ts;
    switch (p->tk) {
    case T_NUM:
        if ((rc = ep_node(p, N_LIT, (enum xtype)p->num.t, pos, NULL, 0, out)))
            return rc;
        p->e->nodes[*out].lit = p->num;
        return ep_next(p);
    case T_STR:
        if ((rc = ep_node(p, N_LIT, XT_STRING, pos, NULL, 0, out)))
            return rc;
        p->e->nodes[*out].lit =
            (struct xval){.t = XT_STRING, .len = (uint32_t)p->slen, .u.s = p->sval};
        return ep_next(p);
    case T_QIDENT:
        if ((rc = ep_column(p, p->sval, p->slen, pos, out)))
            return rc;
        return ep_next(p);
    case T_LP:
        if ((rc = ep_next(p)) || (rc = ep_or(p, out)))
            return rc;
        if (p->tk != T_RP)
            return ep_unexpected(p, "')'");
        return ep_next(p);
    case T_IDENT: {
        if (ep_kw(p, "true") || ep_kw(p, "false")) {
            if ((rc = ep_node(p, N_LIT, XT_BOOL, pos, NULL, 0, out)))
                return rc;
            p->e->nodes[*out].lit = (struct xval){.t = XT_BOOL, .u.i = ep_kw(p, "true")};
            return ep_next(p);
        }
        if (ep_kw(p, "null")) {
            if ((rc = ep_node(p, N_LIT, XT_NULL, pos, NULL, 0, out)))
                return rc;
            return ep_next(p);
        }
        static const char *const reserved[] = {"and", "or", "not", "in", "is", "between"};
        for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
            if (ep_kw(p, reserved[k]))
                return ep_fail(p, pos,
                               "unexpected '%s' (a column with this name must be written "
                               "[%s])",
                               reserved[k], reserved[k]);
        const char *name = p->sval;
        size_t len = p->slen;
        /* A name followed by '(' is a call. */
        size_t j = p->i;
        while (j < p->len && strchr(" \t\r\n", p->text[j]))
            j++;
        if (j < p->len && p->text[j] == '(') {
            if ((rc = ep_next(p)))
                return rc;
            return ep_call(p, name, len, pos, out);
        }
        if ((rc = ep_column(p, name, len, pos, out)))
            return rc;
        return ep_next(p);
    }
    default:
        return ep_unexpected(p, "a value, column or '('");
    }
}

static enum err_code ep_unary(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    if ((rc = ep_enter(p)))
        return rc;
    if (ep_isop(p, "-") || ep_isop(p, "+")) {
        bool neg = p->op[0] == '-';
        size_t pos = p->ts;
        uint32_t a;
        if ((rc = ep_next(p)) || (rc = ep_unary(p, &a)))
            return rc;
        enum xtype t = ep_type(p, a);
        if (!ep_numeric(t))
            return ep_fail(p, pos, "unary '%c' needs a number, got %s", neg ? '-' : '+',
                           xval_type_name(t));
        if (neg) {
            struct enode *nd = &p->e->nodes[a];
            if (nd->op == N_LIT && nd->lit.t == XT_INT && nd->lit.u.i != INT64_MIN) {
                nd->lit.u.i = -nd->lit.u.i;
                nd->pos = (uint32_t)pos;
                *out = a;
            } else if (nd->op == N_LIT && nd->lit.t == XT_FLOAT) {
                nd->lit.u.f = -nd->lit.u.f;
                nd->pos = (uint32_t)pos;
                *out = a;
            } else if ((rc = ep_node(p, N_NEG, t == XT_NULL ? XT_FLOAT : t, pos, &a, 1, out))) {
                return rc;
            }
        } else {
            *out = a;
        }
    } else if ((rc = ep_primary(p, out))) {
        return rc;
    }
    p->depth--;
    return E_OK;
}

static enum err_code ep_arith(struct eparser *p, char op, size_t pos, uint32_t a, uint32_t b,
                              uint32_t *out)
{
    enum err_code rc;
    enum xtype ta = ep_type(p, a), tb = ep_type(p, b), rt;
    uint32_t k[2] = {a, b};
    static const enum eop ops[] = {
        ['+'] = N_ADD, ['-'] = N_SUB, ['*'] = N_MUL, ['/'] = N_DIV, ['%'] = N_MOD};
    enum eop eo = ops[(unsigned char)op];
    if (ep_numeric(ta) && ep_numeric(tb)) {
        if (op == '/' || ta == XT_FLOAT || tb == XT_FLOAT) {
            rt = XT_FLOAT;
            if ((rc = ep_conv(p, &k[0], XT_FLOAT)) || (rc = ep_conv(p, &k[1], XT_FLOAT)))
                return rc;
        } else {
            rt = XT_INT;
        }
        if (ta == XT_NULL && tb == XT_NULL)
            rt = op == '/' ? XT_FLOAT : XT_INT;
    } else if ((op == '+' || op == '-') && ep_is_time(ta) && ep_numeric(tb)) {
        /* date +/- days */
        rt = ta == XT_DATE && tb != XT_FLOAT ? XT_DATE : XT_DATETIME;
        if ((rc = ep_conv(p, &k[0], rt)))
            return rc;
    } else if (op == '+' && ep_numeric(ta) && ep_is_time(tb)) {
        rt = tb == XT_DATE && ta != XT_FLOAT ? XT_DATE : XT_DATETIME;
        if ((rc = ep_conv(p, &k[1], rt)))
            return rc;
        uint32_t t = k[0];
        k[0] = k[1];
        k[1] = t;
    } else if (op == '-' && ep_is_time(ta) && ep_is_time(tb)) {
        /* difference in days */
        if (ta == XT_DATE && tb == XT_DATE) {
            rt = XT_INT;
        } else {
            rt = XT_FLOAT;
            if ((rc = ep_conv(p, &k[0], XT_DATETIME)) || (rc = ep_conv(p, &k[1], XT_DATETIME)))
                return rc;
        }
    } else {
        if (op == '+' && (ta == XT_STRING || tb == XT_STRING))
            return ep_fail(p, pos,
                           "operator '+' needs numbers, got %s and %s (use || to join "
                           "text)",
                           xval_type_name(ta), xval_type_name(tb));
        return ep_fail(p, pos, "operator '%c' needs numbers, got %s and %s", op, xval_type_name(ta),
                       xval_type_name(tb));
    }
    return ep_node(p, eo, rt, pos, k, 2, out);
}

static enum err_code ep_mul(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    if ((rc = ep_unary(p, out)))
        return rc;
    while (ep_isop(p, "*") || ep_isop(p, "/") || ep_isop(p, "%")) {
        char op = p->op[0];
        size_t pos = p->ts;
        uint32_t b;
        if ((rc = ep_next(p)) || (rc = ep_unary(p, &b)) ||
            (rc = ep_arith(p, op, pos, *out, b, out)))
            return rc;
    }
    return E_OK;
}

static enum err_code ep_add(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    if ((rc = ep_mul(p, out)))
        return rc;
    while (ep_isop(p, "+") || ep_isop(p, "-")) {
        char op = p->op[0];
        size_t pos = p->ts;
        uint32_t b;
        if ((rc = ep_next(p)) || (rc = ep_mul(p, &b)) || (rc = ep_arith(p, op, pos, *out, b, out)))
            return rc;
    }
    return E_OK;
}

static enum err_code ep_cat(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    if ((rc = ep_add(p, out)))
        return rc;
    while (ep_isop(p, "||")) {
        size_t pos = p->ts;
        uint32_t k[2] = {*out, 0};
        if ((rc = ep_next(p)) || (rc = ep_add(p, &k[1])))
            return rc;
        if ((rc = ep_node(p, N_CONCAT, XT_STRING, pos, k, 2, out)))
            return rc;
    }
    return E_OK;
}

static enum err_code ep_cmp(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    if ((rc = ep_cat(p, out)))
        return rc;
    size_t pos = p->ts;
    if (p->tk == T_OP && strchr("=!<>", p->op[0])) {
        const char *o = p->op;
        enum eop eo = !strcmp(o, "=") || !strcmp(o, "==")    ? N_EQ
                      : !strcmp(o, "!=") || !strcmp(o, "<>") ? N_NE
                      : !strcmp(o, "<")                      ? N_LT
                      : !strcmp(o, "<=")                     ? N_LE
                      : !strcmp(o, ">")                      ? N_GT
                                                             : N_GE;
        uint32_t k[2] = {*out, 0};
        if ((rc = ep_next(p)) || (rc = ep_cat(p, &k[1])) ||
            (rc = ep_comparable(p, &k[0], &k[1], pos, "compare")))
            return rc;
        return ep_node(p, eo, XT_BOOL, pos, k, 2, out);
    }
    if (ep_kw(p, "is")) {
        if ((rc = ep_next(p)))
            return rc;
        bool neg = false;
        if (ep_kw(p, "not")) {
            neg = true;
            if ((rc = ep_next(p)))
                return rc;
        }
        if (!ep_kw(p, "null"))
            return ep_unexpected(p, "'null'");
        if ((rc = ep_next(p)))
            return rc;
        return ep_node(p, neg ? N_NOTNULL : N_ISNULL, XT_BOOL, pos, out, 1, out);
    }
    bool neg = false;
    if (ep_kw(p, "not")) {
        /* only "not in" / "not between" continue a comparison */
        size_t save_i = p->i;
        enum err_code r2 = ep_next(p);
        if (r2)
            return r2;
        if (!ep_kw(p, "in") && !ep_kw(p, "between")) {
            p->i = save_i;
            p->ts = pos;
            return ep_fail(p, pos, "unexpected 'not' (did you mean 'not in' or 'not between'?)");
        }
        neg = true;
    }
    if (ep_kw(p, "in")) {
        uint32_t items[LIM_EXPR_ARGS + 1];
        size_t n = 1;
        items[0] = *out;
        if ((rc = ep_next(p)))
            return rc;
        if (p->tk != T_LP)
            return ep_unexpected(p, "'(' after 'in'");
        if ((rc = ep_next(p)))
            return rc;
        for (;;) {
            if (n > (size_t)LIM_EXPR_ARGS)
                return err_set(p->err, E_LIMIT,
                               "expression error at character %zu: more than %ld items in a "
                               "list",
                               ep_char(p, p->ts), (long)LIM_EXPR_ARGS);
            if ((rc = ep_cat(p, &items[n])) ||
                (rc = ep_comparable(p, &items[0], &items[n], p->e->nodes[items[n]].pos, "compare")))
                return rc;
            n++;
            if (p->tk == T_COMMA) {
                if ((rc = ep_next(p)))
                    return rc;
                continue;
            }
            if (p->tk == T_RP)
                break;
            return ep_unexpected(p, "',' or ')'");
        }
        if ((rc = ep_next(p)))
            return rc;
        return ep_node(p, neg ? N_NOTIN : N_IN, XT_BOOL, pos, items, n, out);
    }
    if (ep_kw(p, "between")) {
        uint32_t k[3] = {*out, 0, 0};
        if ((rc = ep_next(p)) || (rc = ep_cat(p, &k[1])))
            return rc;
        if (!ep_kw(p, "and"))
            return ep_unexpected(p, "'and' in 'between ... and ...'");
        if ((rc = ep_next(p)) || (rc = ep_cat(p, &k[2])) ||
            (rc = ep_comparable(p, &k[0], &k[1], pos, "compare")) ||
            (rc = ep_comparable(p, &k[0], &k[2], pos, "compare")))
            return rc;
        return ep_node(p, neg ? N_NOTBETWEEN : N_BETWEEN, XT_BOOL, pos, k, 3, out);
    }
    return E_OK;
}

static enum err_code ep_bool_operand(struct eparser *p, uint32_t n, const char *op)
{
    enum xtype t = ep_type(p, n);
    if (t != XT_BOOL && t != XT_NULL)
        return ep_fail(p, p->e->nodes[n].pos, "'%s' needs true/false values, got %s", op,
                       xval_type_name(t));
    return E_OK;
}

static enum err_code ep_not(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    if (ep_kw(p, "not")) {
        size_t pos = p->ts;
        uint32_t a;
        if ((rc = ep_enter(p)) || (rc = ep_next(p)) || (rc = ep_not(p, &a)) ||
            (rc = ep_bool_operand(p, a, "not")))
            return rc;
        p->depth--;
        return ep_node(p, N_NOT, XT_BOOL, pos, &a, 1, out);
    }
    return ep_cmp(p, out);
}

static enum err_code ep_and(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    if ((rc = ep_not(p, out)))
        return rc;
    while (ep_kw(p, "and")) {
        size_t pos = p->ts;
        uint32_t k[2] = {*out, 0};
        if ((rc = ep_next(p)) || (rc = ep_not(p, &k[1])) ||
            (rc = ep_bool_operand(p, k[0], "and")) || (rc = ep_bool_operand(p, k[1], "and")))
            return rc;
        if ((rc = ep_node(p, N_AND, XT_BOOL, pos, k, 2, out)))
            return rc;
    }
    return E_OK;
}

static enum err_code ep_or(struct eparser *p, uint32_t *out)
{
    enum err_code rc;
    if ((rc = ep_enter(p)) || (rc = ep_and(p, out)))
        return rc;
    while (ep_kw(p, "or")) {
        size_t pos = p->ts;
        uint32_t k[2] = {*out, 0};
        if ((rc = ep_next(p)) || (rc = ep_and(p, &k[1])) || (rc = ep_bool_operand(p, k[0], "or")) ||
            (rc = ep_bool_operand(p, k[1], "or")))
            return rc;
        if ((rc = ep_node(p, N_OR, XT_BOOL, pos, k, 2, out)))
            return rc;
    }
    p->depth--;
    return E_OK;
}

void expr_free(struct expr *e)
{
    if (!e)
        return;
    free(e->nodes);
    free(e->kids);
    free(e->pool);
    free(e);
}

enum err_code expr_compile(const char *text, const struct expr_schema *schema, struct expr **out,
                           struct err *err)
{
    enum err_code rc = E_OK;
    size_t len = strlen(text);
    if (len > (size_t)LIM_EXPR_BYTES)
        return err_set(err, E_LIMIT, "expression is longer than %ld bytes", (long)LIM_EXPR_BYTES);
    struct expr *e = calloc(1, sizeof(*e));
    if (!e || !(e->pool = malloc(len + 1))) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    struct eparser p = {.text = text, .len = len, .e = e, .sc = schema, .err = err};
    if ((rc = ep_next(&p)))
        goto out;
    if (p.tk == T_END) {
        rc = ep_fail(&p, 0, "empty expression");
        goto out;
    }
    if ((rc = ep_or(&p, &e->root)))
        goto out;
    if (p.tk != T_END) {
        rc = ep_unexpected(&p, "an operator or the end");
        goto out;
    }
    *out = e;
    e = NULL;
out:
    expr_free(e);
    return rc;
}

enum xtype expr_type(const struct expr *e)
{
    return (enum xtype)e->nodes[e->root].type;
}

/* ---- evaluation ---- */

struct evctx {
    const struct expr *e;
    const struct xval *row;
    struct xval_arena *scratch;
    struct err *err;
};

#define XNULL ((struct xval){.t = XT_NULL})

static enum err_code ev(struct evctx *c, uint32_t n, struct xval *o);

static char *ev_alloc(struct evctx *c, size_t n)
{
    return xval_arena_alloc(c->scratch, n ? n : 1, c->err);
}

static enum err_code ev_text(struct evctx *c, const struct xval *v, struct xval *o)
{
    if (v->t == XT_STRING || v->t == XT_NULL) {
        *o = *v;
        return E_OK;
    }
    char tmp[XVAL_TEXT_MAX];
    size_t len;
    const char *s = xval_text(v, tmp, &len, NULL);
    char *d = ev_alloc(c, len);
    if (!d)
        return c->err->code;
    memcpy(d, s, len);
    *o = (struct xval){.t = XT_STRING, .len = (uint32_t)len, .u.s = d};
    return E_OK;
}

/* Date/datetime value of v as seconds; false when it has none. */
static bool ev_secs(const struct xval *v, double *secs)
{
    bool d;
    switch ((enum xtype)v->t) {
    case XT_DATE:
        *secs = (double)v->u.i * 86400.0;
        return true;
    case XT_DATETIME:
        *secs = v->u.f;
        return true;
    case XT_STRING:
        return xval_parse_iso(v->u.s, v->len, secs, &d);
    default:
        return false;
    }
}

/* A double as int64_t, saturating (NaN gives 0): converting an out-of-range
 * double to an integer type is undefined behaviour, and function arguments
 * such as substr()'s start or round()'s digits may be any float. */
static int64_t ev_f2i(double d)
{
    if (!(d == d))
        return 0;
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    if (d <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

/* Dates and datetimes made by arithmetic stay within 0001-01-01 ..
 * 9999-12-31 (the range the readers and writers handle); a result outside
 * it is null, like division by zero. Without this, date + 1e300 reached the
 * formatters as an out-of-range integer (found by fuzzing, t_expr
 * "date_arith_out_of_range"). */
#define EV_DAYS_MIN (-719162.0) /* 0001-01-01 */
#define EV_DAYS_MAX 2932896.0   /* 9999-12-31 */

static int64_t ev_days(double secs)
{
    return ev_f2i(floor(secs / 86400.0));
}

static enum err_code ev_conv(struct evctx *c, enum xtype t, struct xval *v)
{
    if (v->t == XT_NULL || v->t == t)
        return E_OK;
    double secs;
    switch (t) {
    case XT_FLOAT:
        if (v->t == XT_INT || v->t == XT_BOOL)
            *v = (struct xval){.t = XT_FLOAT, .u.f = (double)v->u.i};
        else
            *v = XNULL;
        return E_OK;
    case XT_INT:
        if (v->t == XT_BOOL)
            v->t = XT_INT;
        else
            *v = XNULL;
        return E_OK;
    case XT_DATETIME:
        if (ev_secs(v, &secs))
            *v = (struct xval){.t = XT_DATETIME, .u.f = secs};
        else
            *v = XNULL;
        return E_OK;
    case XT_DATE:
        if (ev_secs(v, &secs))
            *v = (struct xval){.t = XT_DATE, .u.i = ev_days(secs)};
        else
            *v = XNULL;
        return E_OK;
    case XT_STRING:
        return ev_text(c, v, v);
    default:
        *v = XNULL;
        return E_OK;
    }
}

static struct xval ev_float(double d)
{
    if (isnan(d))
        return XNULL;
    return (struct xval){.t = XT_FLOAT, .u.f = d};
}

static enum err_code ev_arith(struct evctx *c, const struct enode *nd, struct xval *o)
{
    enum err_code rc;
    struct xval a, b;
    const uint32_t *k = c->e->kids + nd->k0;
    if ((rc = ev(c, k[0], &a)) || (rc = ev(c, k[1], &b)))
        return rc;
    if (a.t == XT_NULL || b.t == XT_NULL) {
        *o = XNULL;
        return E_OK;
    }
    if (nd->type == XT_DATE || nd->type == XT_DATETIME) {
        /* a is the date, b the number of days */
        double days = b.t == XT_FLOAT ? b.u.f : (double)b.u.i;
        if (nd->op == N_SUB)
            days = -days;
        if (nd->type == XT_DATE) {
            double r = (double)a.u.i + trunc(days);
            *o = r >= EV_DAYS_MIN && r <= EV_DAYS_MAX
                     ? (struct xval){.t = XT_DATE, .u.i = (int64_t)r}
                     : XNULL;
        } else {
            double r = a.u.f + days * 86400.0;
            *o = r >= EV_DAYS_MIN * 86400.0 && r < (EV_DAYS_MAX + 1) * 86400.0
                     ? (struct xval){.t = XT_DATETIME, .u.f = r}
                     : XNULL;
        }
        return E_OK;
    }
    if (a.t == XT_DATE && b.t == XT_DATE) {
        *o = (struct xval){.t = XT_INT, .u.i = a.u.i - b.u.i};
        return E_OK;
    }
    if (a.t == XT_DATETIME) {
        *o = ev_float((a.u.f - b.u.f) / 86400.0);
        return E_OK;
    }
    if (nd->type == XT_INT) {
        int64_t x = a.u.i, y = b.u.i, r;
        bool ovf = false;
        switch ((enum eop)nd->op) {
        case N_ADD:
            ovf = __builtin_add_overflow(x, y, &r);
            break;
        case N_SUB:
            ovf = __builtin_sub_overflow(x, y, &r);
            break;
        case N_MUL:
            ovf = __builtin_mul_overflow(x, y, &r);
            break;
        default: /* N_MOD, floored like Python */
            if (y == 0 || (y == -1 && x == INT64_MIN)) {
                ovf = y == 0;
                r = 0;
                break;
            }
            r = x % y;
            if (r && ((r < 0) != (y < 0)))
                r += y;
            break;
        }
        *o = ovf ? XNULL : (struct xval){.t = XT_INT, .u.i = r};
        return E_OK;
    }
    double x = a.u.f, y = b.u.f, r;
    switch ((enum eop)nd->op) {
    case N_ADD:
        r = x + y;
        break;
    case N_SUB:
        r = x - y;
        break;
    case N_MUL:
        r = x * y;
        break;
    case N_DIV:
        if (y == 0) {
            *o = XNULL;
            return E_OK;
        }
        r = x / y;
        break;
    default:
        if (y == 0) {
            *o = XNULL;
            return E_OK;
        }
        r = fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0)))
            r += y;
        break;
    }
    *o = ev_float(r);
    return E_OK;
}

/* -1/0/1 for true/null/false style: returns 1 true, 0 false, -1 null. */
static int ev_truth(const struct xval *v)
{
    return v->t == XT_NULL ? -1 : v->u.i != 0;
}

static struct xval ev_bool3(int t)
{
    return t < 0 ? XNULL : (struct xval){.t = XT_BOOL, .u.i = t};
}

static int ev_compare(const struct xval *a, const struct xval *b)
{
    return xval_cmp(a, b);
}

static size_t ev_utf8_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* Byte offset of character index ci (clamped to n). */
static size_t ev_utf8_off(const char *s, size_t n, size_t ci)
{
    size_t i = 0, k = 0;
    while (i < n) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (k == ci)
                return i;
            k++;
        }
        i++;
    }
    return n;
}

static bool ev_find(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (!nn)
        return true;
    if (nn > hn)
        return false;
    return memmem(h, hn, nd, nn) != NULL;
}

static enum err_code ev_call(struct evctx *c, const struct enode *nd, struct xval *o)
{
    enum err_code rc;
    const uint32_t *k = c->e->kids + nd->k0;
    struct xval a = XNULL, b = XNULL, x = XNULL;
    *o = XNULL;
    switch ((enum efn_id)nd->fn) {
    case F_COALESCE:
        for (size_t i = 0; i < nd->nk; i++) {
            if ((rc = ev(c, k[i], o)))
                return rc;
            if (o->t != XT_NULL)
                return E_OK;
        }
        return E_OK;
    case F_IF:
        if ((rc = ev(c, k[0], &a)))
            return rc;
        return ev(c, k[ev_truth(&a) == 1 ? 1 : 2], o);
    case F_MIN:
    case F_MAX:
        for (size_t i = 0; i < nd->nk; i++) {
            if ((rc = ev(c, k[i], &a)))
                return rc;
            if (a.t == XT_NULL || (a.t == XT_FLOAT && isnan(a.u.f)))
                continue;
            if (a.t == XT_BOOL)
                a.t = XT_INT;
            int cmp = o->t == XT_NULL ? 0 : ev_compare(&a, o);
            if (o->t == XT_NULL || (nd->fn == F_MIN ? cmp < 0 : cmp > 0))
                *o = a;
        }
        return E_OK;
    case F_CONCAT: {
        size_t total = 0;
        struct xval parts[8];
        /* two passes when more than 8 parts: evaluate into text each time */
        if (nd->nk <= 8) {
            for (size_t i = 0; i < nd->nk; i++) {
                if ((rc = ev(c, k[i], &parts[i])) || (rc = ev_text(c, &parts[i], &parts[i])))
                    return rc;
                total += parts[i].len;
            }
            char *d = ev_alloc(c, total);
            if (!d)
                return c->err->code;
            size_t off = 0;
            for (size_t i = 0; i < nd->nk; i++) {
                if (parts[i].len)
                    memcpy(d + off, parts[i].u.s, parts[i].len);
                off += parts[i].len;
            }
            *o = (struct xval){.t = XT_STRING, .len = (uint32_t)total, .u.s = d};
            return E_OK;
        }
        struct xval acc = {.t = XT_STRING, .len = 0, .u.s = ""};
        for (size_t i = 0; i < nd->nk; i++) {
            if ((rc = ev(c, k[i], &a)) || (rc = ev_text(c, &a, &a)))
                return rc;
            char *d = ev_alloc(c, (size_t)acc.len + a.len);
            if (!d)
                return c->err->code;
            if (acc.len)
                memcpy(d, acc.u.s, acc.len);
            if (a.len)
                memcpy(d + acc.len, a.u.s, a.len);
            acc = (struct xval){.t = XT_STRING, .len = acc.len + a.len, .u.s = d};
        }
        *o = acc;
        return E_OK;
    }
    default:
        break;
    }
    /* Strict functions: any null argument gives null. */
    if ((rc = ev(c, k[0], &a)))
        return rc;
    if (a.t == XT_NULL)
        return E_OK;
    if (nd->nk > 1) {
        if ((rc = ev(c, k[1], &b)))
            return rc;
        if (b.t == XT_NULL)
            return E_OK;
    }
    if (nd->nk > 2) {
        if ((rc = ev(c, k[2], &x)))
            return rc;
        if (x.t == XT_NULL)
            return E_OK;
    }
    switch ((enum efn_id)nd->fn) {
    case F_LOWER:
    case F_UPPER:
    case F_TRIM: {
        if ((rc = ev_text(c, &a, &a)))
            return rc;
        const char *s = a.u.s;
        size_t n = a.len;
        if (nd->fn == F_TRIM) {
            while (n && strchr(" \t\r\n\v\f", *s)) {
                s++;
                n--;
            }
            while (n && strchr(" \t\r\n\v\f", s[n - 1]))
                n--;
            *o = (struct xval){.t = XT_STRING, .len = (uint32_t)n, .u.s = s};
            return E_OK;
        }
        char *d = ev_alloc(c, n);
        if (!d)
            return c->err->code;
        for (size_t i = 0; i < n; i++) {
            char ch = s[i];
            if (nd->fn == F_LOWER && ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            else if (nd->fn == F_UPPER && ch >= 'a' && ch <= 'z')
                ch = (char)(ch - 'a' + 'A');
            d[i] = ch;
        }
        *o = (struct xval){.t = XT_STRING, .len = (uint32_t)n, .u.s = d};
        return E_OK;
    }
    case F_LENGTH:
        if ((rc = ev_text(c, &a, &a)))
            return rc;
        *o = (struct xval){.t = XT_INT, .u.i = (int64_t)ev_utf8_len(a.u.s, a.len)};
        return E_OK;
    case F_SUBSTR: {
        if ((rc = ev_text(c, &a, &a)))
            return rc;
        int64_t start = b.t == XT_FLOAT ? ev_f2i(b.u.f) : b.u.i;
        size_t nchars = ev_utf8_len(a.u.s, a.len);
        int64_t from = start > 0 ? start - 1 : start < 0 ? (int64_t)nchars + start : 0;
        if (from < 0)
            from = 0;
        int64_t cnt = INT64_MAX;
        if (nd->nk > 2)
            cnt = x.t == XT_FLOAT ? ev_f2i(x.u.f) : x.u.i;
        if (cnt < 0)
            cnt = 0;
        if ((uint64_t)from > nchars)
            from = (int64_t)nchars;
        size_t b0 = ev_utf8_off(a.u.s, a.len, (size_t)from);
        size_t b1 = (uint64_t)cnt >= nchars - (uint64_t)from
                        ? a.len
                        : ev_utf8_off(a.u.s, a.len, (size_t)(from + cnt));
        if (b1 < b0)
            b1 = b0;
        *o = (struct xval){.t = XT_STRING, .len = (uint32_t)(b1 - b0), .u.s = a.u.s + b0};
        return E_OK;
    }
    case F_REPLACE: {
        if ((rc = ev_text(c, &a, &a)) || (rc = ev_text(c, &b, &b)) || (rc = ev_text(c, &x, &x)))
            return rc;
        if (!b.len) {
            *o = a;
            return E_OK;
        }
        size_t hits = 0;
        for (const char *p = a.u.s, *e = a.u.s + a.len; p < e;) {
            const char *q = memmem(p, (size_t)(e - p), b.u.s, b.len);
            if (!q)
                break;
            hits++;
            p = q + b.len;
        }
        size_t nl = a.len - hits * b.len + hits * x.len;
        char *d = ev_alloc(c, nl);
        if (!d)
            return c->err->code;
        size_t off = 0;
        for (const char *p = a.u.s, *e = a.u.s + a.len; p < e;) {
            const char *q = memmem(p, (size_t)(e - p), b.u.s, b.len);
            if (!q)
                q = e;
            memcpy(d + off, p, (size_t)(q - p));
            off += (size_t)(q - p);
            if (q == e)
                break;
            if (x.len)
                memcpy(d + off, x.u.s, x.len);
            off += x.len;
            p = q + b.len;
        }
        *o = (struct xval){.t = XT_STRING, .len = (uint32_t)off, .u.s = d};
        return E_OK;
    }
    case F_CONTAINS:
    case F_STARTSWITH:
    case F_ENDSWITH: {
        if ((rc = ev_text(c, &a, &a)) || (rc = ev_text(c, &b, &b)))
            return rc;
        bool r;
        if (nd->fn == F_CONTAINS)
            r = ev_find(a.u.s, a.len, b.u.s, b.len);
        else if (b.len > a.len)
            r = false;
        else if (nd->fn == F_STARTSWITH)
            r = !b.len || !memcmp(a.u.s, b.u.s, b.len);
        else
            r = !b.len || !memcmp(a.u.s + a.len - b.len, b.u.s, b.len);
        *o = (struct xval){.t = XT_BOOL, .u.i = r};
        return E_OK;
    }
    case F_ABS:
        if (a.t == XT_INT)
            *o = a.u.i == INT64_MIN ? XNULL : (struct xval){.t = XT_INT, .u.i = llabs(a.u.i)};
        else
            *o = ev_float(fabs(a.u.f));
        return E_OK;
    case F_ROUND: {
        int64_t nd_ = nd->nk > 1 ? (b.t == XT_FLOAT ? ev_f2i(b.u.f) : b.u.i) : 0;
        if (nd_ > 300)
            nd_ = 300;
        if (nd_ < -300)
            nd_ = -300;
        if (a.t == XT_INT) {
            if (nd_ >= 0) {
                *o = a;
                return E_OK;
            }
            double sc = pow(10.0, (double)-nd_);
            double r = nearbyint((double)a.u.i / sc) * sc;
            *o = fabs(r) < 9.2e18 ? (struct xval){.t = XT_INT, .u.i = (int64_t)r} : XNULL;
            return E_OK;
        }
        /* numpy's rule: scale, round half to even, scale back */
        double sc = pow(10.0, (double)(nd_ >= 0 ? nd_ : -nd_));
        double y = nd_ >= 0 ? a.u.f * sc : a.u.f / sc;
        double r = nearbyint(y);
        r = nd_ >= 0 ? r / sc : r * sc;
        if (!isfinite(y))
            r = a.u.f;
        *o = ev_float(r);
        return E_OK;
    }
    case F_FLOOR:
    case F_CEIL:
        if (a.t == XT_INT)
            *o = a;
        else
            *o = ev_float(nd->fn == F_FLOOR ? floor(a.u.f) : ceil(a.u.f));
        return E_OK;
    case F_SQRT:
        *o = ev_float(a.u.f < 0 ? NAN : sqrt(a.u.f));
        return E_OK;
    case F_POW:
        *o = ev_float(pow(a.u.f, b.u.f));
        return E_OK;
    case F_TO_NUMBER: {
        double d;
        bool is_int;
        if (a.t == XT_INT || a.t == XT_BOOL)
            *o = (struct xval){.t = XT_FLOAT, .u.f = (double)a.u.i};
        else if (a.t == XT_FLOAT)
            *o = a;
        else if (a.t == XT_STRING && xval_parse_num(a.u.s, a.len, &d, &is_int))
            *o = ev_float(d);
        return E_OK;
    }
    case F_TO_STRING:
        return ev_text(c, &a, o);
    case F_YEAR:
    case F_MONTH:
    case F_DAY: {
        double secs;
        if (!ev_secs(&a, &secs))
            return E_OK;
        int64_t y;
        unsigned m, d;
        xval_civil_from_days(ev_days(secs), &y, &m, &d);
        *o = (struct xval){.t = XT_INT,
                           .u.i = nd->fn == F_YEAR    ? y
                                  : nd->fn == F_MONTH ? (int64_t)m
                                                      : d};
        return E_OK;
    }
    case F_DATEDIFF: {
        double s1, s2;
        if (!ev_secs(&a, &s1) || !ev_secs(&b, &s2))
            return E_OK;
        *o = (struct xval){.t = XT_INT, .u.i = ev_days(s1) - ev_days(s2)};
        return E_OK;
    }
    case F_DATE: {
        double secs;
        bool has_time;
        if (nd->nk > 1) {
            if (a.t != XT_STRING || b.t != XT_STRING || b.len >= 256)
                return E_OK;
            char fmt[256];
            memcpy(fmt, b.u.s, b.len);
            fmt[b.len] = '\0';
            if (!xval_parse_fmt(a.u.s, a.len, fmt, &secs, &has_time))
                return E_OK;
        } else if (!ev_secs(&a, &secs)) {
            return E_OK;
        }
        *o = (struct xval){.t = XT_DATE, .u.i = ev_days(secs)};
        return E_OK;
    }
    default:
        return E_OK;
    }
}

static enum err_code ev(struct evctx *c, uint32_t n, struct xval *o)
{
    enum err_code rc;
    const struct enode *nd = &c->e->nodes[n];
    const uint32_t *k = nd->nk ? c->e->kids + nd->k0 : NULL;
    struct xval a, b, x;
    switch ((enum eop)nd->op) {
    case N_LIT:
        *o = nd->lit;
        return E_OK;
    case N_COL:
        *o = c->row[nd->col];
        return E_OK;
    case N_CONV:
        if ((rc = ev(c, k[0], o)))
            return rc;
        return ev_conv(c, (enum xtype)nd->type, o);
    case N_NEG:
        if ((rc = ev(c, k[0], o)))
            return rc;
        if (o->t == XT_INT)
            *o = o->u.i == INT64_MIN ? XNULL : (struct xval){.t = XT_INT, .u.i = -o->u.i};
        else if (o->t == XT_FLOAT)
            o->u.f = -o->u.f;
        return E_OK;
    case N_ADD:
    case N_SUB:
    case N_MUL:
    case N_DIV:
    case N_MOD:
        return ev_arith(c, nd, o);
    case N_CONCAT: {
        if ((rc = ev(c, k[0], &a)) || (rc = ev(c, k[1], &b)))
            return rc;
        if (a.t == XT_NULL || b.t == XT_NULL) {
            *o = XNULL;
            return E_OK;
        }
        if ((rc = ev_text(c, &a, &a)) || (rc = ev_text(c, &b, &b)))
            return rc;
        char *d = ev_alloc(c, (size_t)a.len + b.len);
        if (!d)
            return c->err->code;
        if (a.len)
            memcpy(d, a.u.s, a.len);
        if (b.len)
            memcpy(d + a.len, b.u.s, b.len);
        *o = (struct xval){.t = XT_STRING, .len = a.len + b.len, .u.s = d};
        return E_OK;
    }
    case N_EQ:
    case N_NE:
    case N_LT:
    case N_LE:
    case N_GT:
    case N_GE: {
        if ((rc = ev(c, k[0], &a)) || (rc = ev(c, k[1], &b)))
            return rc;
        if (a.t == XT_NULL || b.t == XT_NULL || (a.t == XT_FLOAT && isnan(a.u.f)) ||
            (b.t == XT_FLOAT && isnan(b.u.f))) {
            *o = XNULL;
            return E_OK;
        }
        int r = ev_compare(&a, &b);
        bool t = nd->op == N_EQ   ? r == 0
                 : nd->op == N_NE ? r != 0
                 : nd->op == N_LT ? r < 0
                 : nd->op == N_LE ? r <= 0
                 : nd->op == N_GT ? r > 0
                                  : r >= 0;
        *o = (struct xval){.t = XT_BOOL, .u.i = t};
        return E_OK;
    }
    case N_AND:
    case N_OR: {
        if ((rc = ev(c, k[0], &a)))
            return rc;
        int ta = ev_truth(&a);
        bool is_and = nd->op == N_AND;
        if (ta == (is_and ? 0 : 1)) {
            *o = ev_bool3(ta);
            return E_OK;
        }
        if ((rc = ev(c, k[1], &b)))
            return rc;
        int tb = ev_truth(&b);
        if (is_and)
            *o = ev_bool3(tb == 0 ? 0 : (ta < 0 || tb < 0) ? -1 : 1);
        else
            *o = ev_bool3(tb == 1 ? 1 : (ta < 0 || tb < 0) ? -1 : 0);
        return E_OK;
    }
    case N_NOT:
        if ((rc = ev(c, k[0], &a)))
            return rc;
        *o = ev_bool3(ev_truth(&a) < 0 ? -1 : !ev_truth(&a));
        return E_OK;
    case N_ISNULL:
    case N_NOTNULL:
        if ((rc = ev(c, k[0], &a)))
            return rc;
        {
            bool isn = a.t == XT_NULL || (a.t == XT_FLOAT && isnan(a.u.f));
            *o = (struct xval){.t = XT_BOOL, .u.i = nd->op == N_ISNULL ? isn : !isn};
        }
        return E_OK;
    case N_IN:
    case N_NOTIN: {
        if ((rc = ev(c, k[0], &a)))
            return rc;
        if (a.t == XT_NULL) {
            *o = XNULL;
            return E_OK;
        }
        bool found = false, saw_null = false;
        for (size_t i = 1; i < nd->nk && !found; i++) {
            if ((rc = ev(c, k[i], &b)))
                return rc;
            if (b.t == XT_NULL)
                saw_null = true;
            else if (!ev_compare(&a, &b))
                found = true;
        }
        int t = found ? 1 : saw_null ? -1 : 0;
        if (nd->op == N_NOTIN && t >= 0)
            t = !t;
        *o = ev_bool3(t);
        return E_OK;
    }
    case N_BETWEEN:
    case N_NOTBETWEEN: {
        if ((rc = ev(c, k[0], &a)) || (rc = ev(c, k[1], &b)) || (rc = ev(c, k[2], &x)))
            return rc;
        int lo = (a.t == XT_NULL || b.t == XT_NULL) ? -1 : ev_compare(&a, &b) >= 0;
        int hi = (a.t == XT_NULL || x.t == XT_NULL) ? -1 : ev_compare(&a, &x) <= 0;
        int t = (lo == 0 || hi == 0) ? 0 : (lo < 0 || hi < 0) ? -1 : 1;
        if (nd->op == N_NOTBETWEEN && t >= 0)
            t = !t;
        *o = ev_bool3(t);
        return E_OK;
    }
    case N_CALL:
        return ev_call(c, nd, o);
    }
    *o = XNULL;
    return E_OK;
}

enum err_code expr_eval(const struct expr *e, const struct xval *row, struct xval_arena *scratch,
                        struct xval *out, struct err *err)
{
    struct evctx c = {e, row, scratch, err};
    enum err_code rc = ev(&c, e->root, out);
    if (!rc && out->t == XT_FLOAT && isnan(out->u.f))
        *out = XNULL;
    return rc;
}
