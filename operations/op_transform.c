#include "op_transform.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "expr.h"
#include "klimits.h"
#include "table.h"
#include "wr_text.h"
#include "wr_xlsx.h"
#include "xval.h"

#include "banned.h"

/* ---- steps ---- */

enum tx_kind {
    S_SELECT,
    S_DROP,
    S_RENAME,
    S_FILTER,
    S_DERIVE,
    S_CAST,
    S_FILL,
    S_SORT,
    S_GROUP,
    S_DEDUPE,
    S_LIMIT
};

static const char *const tx_kind_names[] = {"select", "drop", "rename", "filter", "derive", "cast",
                                            "fill",   "sort", "group",  "dedupe", "limit"};
#define TX_NKINDS (sizeof(tx_kind_names) / sizeof(tx_kind_names[0]))

enum tx_aggfn { A_SUM, A_MEAN, A_MIN, A_MAX, A_COUNT, A_COUNT_DISTINCT, A_FIRST, A_LAST, A_MEDIAN };
static const char *const tx_agg_names[] = {
    "sum", "mean", "min", "max", "count", "count_distinct", "first", "last", "median"};
#define TX_NAGGS (sizeof(tx_agg_names) / sizeof(tx_agg_names[0]))

struct tx_schema {
    size_t n;
    const char **names; /* strings owned by struct tx */
    enum xtype *types;
};

struct tx_sortkey {
    size_t col;
    bool desc, nulls_first;
};

struct tx_agg {
    size_t col; /* SIZE_MAX: count rows */
    enum tx_aggfn fn;
    enum xtype in_t, out_t;
};

struct tx_aggst {
    double sum, comp;
    int64_t isum;
    size_t count;
    struct xval v;
};

struct tx_median {
    uint32_t gid;
    double v;
};

/* A hash map from key bytes to dense indices (groups, dedupe keys). */
struct tx_mapent {
    uint64_t hash;
    const char *key;
    size_t len;
};

struct tx_map {
    uint32_t *slots; /* index + 1, 0 = empty */
    size_t nslots;
    struct tx_mapent *ents;
    size_t n, cap;
};

struct tx_step {
    enum tx_kind kind;
    size_t idx;
    struct tx_schema in, out;
    struct xval *outrow;
    size_t rows_in, rows_out;
    size_t *map; /* select/drop/rename: out j <- in map[j] */
    /* filter/derive */
    struct expr *expr;
    size_t target;
    bool append;
    /* cast/fill */
    bool *mask;
    enum xtype to;
    char *fmt;
    bool on_error_null;
    struct xval *fillval;
    bool ffill;
    struct xval *last;
    struct buf *lastbuf;
    /* sort */
    struct tx_sortkey *keys;
    size_t nkeys;
    /* group */
    size_t *gcols;
    size_t ngcols;
    struct tx_agg *aggs;
    size_t naggs;
    struct buf groups; /* struct tx_aggst * per group, keys follow the states */
    struct buf medians[1];
    struct tx_median **med; /* per agg (median only) */
    size_t *nmed, *capmed;
    /* dedupe */
    size_t *dcols;
    size_t ndcols;
    bool keep_last;
    struct tx_map kmap;
    struct tx_map *dmaps; /* count_distinct: per agg */
    /* limit */
    size_t n, offset;
    /* materialised rows */
    struct buf rows; /* struct xval * each */
};

struct tx {
    struct tx_step *steps;
    size_t nsteps;
    char **owned;
    size_t nowned, capowned;
    struct xval_arena scratch; /* strings made for the row in flight */
    struct xval_arena store;   /* rows and keys kept by materialising steps */
    struct buf key;            /* serialised key of the row in flight */
    size_t first_mat;          /* index of the first materialising step */
    bool stop;                 /* a limit is full and nothing upstream materialises */
    /* sink */
    struct tx_schema final;
    struct wr_text *wt;
    struct wr_xlsx *wx;
    const char *datefmt;
    json_t *preview;
    size_t rows_out;
    /* the error context of the step being run */
};

static char *tx_own(struct tx *t, const char *s, size_t n, struct err *err)
{
    if (t->nowned == t->capowned) {
        size_t nc = t->capowned ? t->capowned * 2 : 32;
        char **no = realloc(t->owned, nc * sizeof(*no));
        if (!no) {
            err_set(err, E_NOMEM, "out of memory");
            return NULL;
        }
        t->owned = no;
        t->capowned = nc;
    }
    char *d = malloc(n + 1);
    if (!d) {
        err_set(err, E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    t->owned[t->nowned++] = d;
    return d;
}

static enum err_code tx_fail(const struct tx_step *st, struct err *err, enum err_code code,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum err_code tx_fail(const struct tx_step *st, struct err *err, enum err_code code,
                             const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(err, code, "steps[%zu] (%s): %s", st->idx, tx_kind_names[st->kind], msg);
}

/* ---- map ---- */

static void tx_map_release(struct tx_map *m)
{
    free(m->slots);
    free(m->ents);
    memset(m, 0, sizeof(*m));
}

/* Find (key,len) or add it (copied into store). *idx: its dense index. */
static enum err_code tx_map_get(struct tx_map *m, struct xval_arena *store, const char *key,
                                size_t len, uint64_t h, size_t *idx, bool *is_new, struct err *err)
{
    if ((m->n + 1) * 2 > m->nslots) {
        size_t ns = m->nslots ? m->nslots * 2 : 1024;
        uint32_t *sl = calloc(ns, sizeof(*sl));
        if (!sl)
            return err_set(err, E_NOMEM, "out of memory");
        for (size_t i = 0; i < m->n; i++) {
            size_t j = m->ents[i].hash & (ns - 1);
            while (sl[j])
                j = (j + 1) & (ns - 1);
            sl[j] = (uint32_t)(i + 1);
        }
        free(m->slots);
        m->slots = sl;
        m->nslots = ns;
    }
    size_t j = h & (m->nslots - 1);
    while (m->slots[j]) {
        const struct tx_mapent *e = &m->ents[m->slots[j] - 1];
        if (e->hash == h && e->len == len && (!len || !memcmp(e->key, key, len))) {
            *idx = m->slots[j] - 1;
            *is_new = false;
            return E_OK;
        }
        j = (j + 1) & (m->nslots - 1);
    }
    if (m->n >= UINT32_MAX - 1)
        return err_set(err, E_LIMIT, "more than %u distinct keys", UINT32_MAX - 2);
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        struct tx_mapent *ne = realloc(m->ents, nc * sizeof(*ne));
        if (!ne)
            return err_set(err, E_NOMEM, "out of memory");
        m->ents = ne;
        m->cap = nc;
    }
    char *k = xval_arena_alloc(store, len, err);
    if (!k)
        return err->code;
    if (len)
        memcpy(k, key, len);
    m->ents[m->n] = (struct tx_mapent){h, k, len};
    m->slots[j] = (uint32_t)(m->n + 1);
    *idx = m->n++;
    *is_new = true;
    return E_OK;
}

/* buf_append with the common case inline (capacity already there). */
static inline enum err_code tx_put(struct buf *b, const void *p, size_t n, struct err *err)
{
    if (b->data && n < b->cap - b->len && b->len + n <= b->max) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return E_OK;
    }
    return buf_append(b, p, n, err);
}

/* Serialise the values of cols (or all n when cols is NULL) into t->key. */
static enum err_code tx_key(struct tx *t, const struct xval *row, const size_t *cols, size_t n,
                            uint64_t *hash, struct err *err)
{
    enum err_code rc;
    buf_reset(&t->key);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        const struct xval *v = &row[cols ? cols[i] : i];
        h = xval_key_hash(v, h);
        unsigned char tag = v->t;
        if ((rc = tx_put(&t->key, &tag, 1, err)))
            return rc;
        switch ((enum xtype)v->t) {
        case XT_NULL:
            break;
        case XT_STRING: {
            uint32_t L = v->len;
            if ((rc = tx_put(&t->key, &L, sizeof(L), err)) ||
                (L && (rc = tx_put(&t->key, v->u.s, L, err))))
                return rc;
            break;
        }
        case XT_FLOAT:
        case XT_DATETIME: {
            double f = v->u.f == 0 ? 0.0 : v->u.f;
            if ((rc = tx_put(&t->key, &f, sizeof(f), err)))
                return rc;
            break;
        }
        default:
            if ((rc = tx_put(&t->key, &v->u.i, sizeof(v->u.i), err)))
                return rc;
            break;
        }
    }
    if (t->key.data)
        t->key.data[t->key.len] = '\0';
    *hash = h;
    return E_OK;
}

/* ---- row storage ---- */

static enum err_code tx_keep_row(struct tx *t, struct tx_step *st, const struct xval *row, size_t n,
                                 struct err *err)
{
    enum err_code rc;
    struct xval *r = xval_arena_alloc(&t->store, n * sizeof(*r), err);
    if (!r)
        return err->code;
    memcpy(r, row, n * sizeof(*r));
    for (size_t i = 0; i < n; i++)
        if ((rc = xval_arena_keep(&t->store, &r[i], err)))
            return rc;
    return buf_append(&st->rows, &r, sizeof(r), err);
}

/* ---- sink ---- */

static json_t *tx_json_val(const struct xval *v, const char *datefmt)
{
    char tmp[XVAL_TEXT_MAX];
    size_t len;
    const char *s;
    json_t *j = NULL;
    switch ((enum xtype)v->t) {
    case XT_NULL:
        return json_null();
    case XT_INT:
        return json_integer((json_int_t)v->u.i);
    case XT_FLOAT:
        j = isfinite(v->u.f) ? json_real(v->u.f) : NULL;
        return j ? j : json_null();
    case XT_BOOL:
        return json_boolean(v->u.i);
    case XT_DATE:
    case XT_DATETIME:
        s = xval_text(v, tmp, &len, datefmt);
        return json_stringn(s, len);
    case XT_STRING:
        j = json_stringn(v->u.s, v->len > 1000 ? 1000 : v->len);
        return j ? j : json_string("\xef\xbf\xbd");
    }
    return json_null();
}

static enum err_code tx_sink(struct tx *t, const struct xval *row, struct err *err)
{
    enum err_code rc = E_OK;
    if (t->preview && json_array_size(t->preview) < LIM_TRANSFORM_PREVIEW_ROWS) {
        json_t *o = json_object();
        if (!o)
            return err_set(err, E_NOMEM, "out of memory");
        for (size_t i = 0; i < t->final.n; i++)
            json_object_set_new(o, t->final.names[i], tx_json_val(&row[i], t->datefmt));
        json_array_append_new(t->preview, o);
    }
    if (t->wt)
        rc = wr_text_row(t->wt, row, err);
    else if (t->wx)
        rc = wr_xlsx_row(t->wx, row, err);
    t->rows_out++;
    return rc;
}

/* ---- execution ---- */

static enum err_code tx_push(struct tx *t, size_t k, struct xval *row, struct err *err);

static bool tx_truthy(const struct xval *v)
{
    return v->t == XT_BOOL && v->u.i;
}

/* Convert one value for cast; false when it cannot be converted. */
static bool tx_cast_val(struct tx *t, const struct tx_step *st, struct xval *v, struct err *err,
                        enum err_code *rc)
{
    double d, secs;
    bool is_int, date_only, has_time, b;
    int64_t i;
    *rc = E_OK;
    if (v->t == XT_NULL || v->t == st->to)
        return true;
    switch (st->to) {
    case XT_STRING: {
        char tmp[XVAL_TEXT_MAX];
        size_t len;
        const char *s = xval_text(v, tmp, &len, st->fmt);
        char *p = xval_arena_alloc(&t->scratch, len ? len : 1, err);
        if (!p) {
            *rc = err->code;
            return false;
        }
        memcpy(p, s, len);
        *v = (struct xval){.t = XT_STRING, .len = (uint32_t)len, .u.s = p};
        return true;
    }
    case XT_INT:
        if (v->t == XT_BOOL) {
            v->t = XT_INT;
            return true;
        }
        if (v->t == XT_FLOAT) {
            d = v->u.f;
        } else if (v->t == XT_STRING) {
            if (xval_parse_int(v->u.s, v->len, &i)) {
                *v = (struct xval){.t = XT_INT, .u.i = i};
                return true;
            }
            if (!xval_parse_num(v->u.s, v->len, &d, &is_int))
                return false;
        } else {
            return false;
        }
        if (d != floor(d) || fabs(d) >= 9.2e18)
            return false;
        *v = (struct xval){.t = XT_INT, .u.i = (int64_t)d};
        return true;
    case XT_FLOAT:
        if (v->t == XT_INT || v->t == XT_BOOL) {
            *v = (struct xval){.t = XT_FLOAT, .u.f = (double)v->u.i};
            return true;
        }
        if (v->t == XT_STRING && xval_parse_num(v->u.s, v->len, &d, &is_int)) {
            *v = (struct xval){.t = XT_FLOAT, .u.f = d};
            return true;
        }
        return false;
    case XT_BOOL:
        if (v->t == XT_INT || v->t == XT_FLOAT) {
            b = v->t == XT_INT ? v->u.i != 0 : v->u.f != 0;
            *v = (struct xval){.t = XT_BOOL, .u.i = b};
            return true;
        }
        if (v->t == XT_STRING) {
            static const char *const yes[] = {"true", "t", "yes", "y", "1"};
            static const char *const no[] = {"false", "f", "no", "n", "0"};
            for (size_t k = 0; k < 5; k++) {
                if (v->len == strlen(yes[k]) && !strncasecmp(v->u.s, yes[k], v->len)) {
                    *v = (struct xval){.t = XT_BOOL, .u.i = 1};
                    return true;
                }
                if (v->len == strlen(no[k]) && !strncasecmp(v->u.s, no[k], v->len)) {
                    *v = (struct xval){.t = XT_BOOL, .u.i = 0};
                    return true;
                }
            }
        }
        return false;
    case XT_DATE:
    case XT_DATETIME:
        if (v->t == XT_DATE) {
            *v = (struct xval){.t = XT_DATETIME, .u.f = (double)v->u.i * 86400.0};
            return true;
        }
        if (v->t == XT_DATETIME) {
            *v = (struct xval){.t = XT_DATE, .u.i = (int64_t)floor(v->u.f / 86400.0)};
            return true;
        }
        if (v->t != XT_STRING)
            return false;
        if (st->fmt ? !xval_parse_fmt(v->u.s, v->len, st->fmt, &secs, &has_time)
                    : !xval_parse_iso(v->u.s, v->len, &secs, &date_only))
            return false;
        if (st->to == XT_DATE)
            *v = (struct xval){.t = XT_DATE, .u.i = (int64_t)floor(secs / 86400.0)};
        else
            *v = (struct xval){.t = XT_DATETIME, .u.f = secs};
        return true;
    default:
        return false;
    }
}

static enum err_code tx_ffill(struct tx_step *st, struct xval *row, struct err *err)
{
    enum err_code rc;
    for (size_t c = 0; c < st->in.n; c++) {
        if (!st->mask[c])
            continue;
        struct xval *v = &row[c];
        if (v->t == XT_NULL) {
            *v = st->last[c];
            continue;
        }
        st->last[c] = *v;
        if (v->t == XT_STRING) {
            buf_reset(&st->lastbuf[c]);
            if ((rc = buf_append(&st->lastbuf[c], v->u.s, v->len, err)))
                return rc;
            st->last[c].u.s = st->lastbuf[c].data ? st->lastbuf[c].data : "";
        }
    }
    return E_OK;
}

static enum err_code tx_group_add(struct tx *t, struct tx_step *st, const struct xval *row,
                                  struct err *err);
static enum err_code tx_dedupe_add(struct tx *t, struct tx_step *st, const struct xval *row,
                                   bool *keep, struct err *err);

static enum err_code tx_push(struct tx *t, size_t k, struct xval *row, struct err *err)
{
    enum err_code rc;
    if (k == t->nsteps)
        return tx_sink(t, row, err);
    struct tx_step *st = &t->steps[k];
    st->rows_in++;
    struct xval *o = st->outrow;
    switch (st->kind) {
    case S_SELECT:
    case S_DROP:
    case S_RENAME:
        for (size_t j = 0; j < st->out.n; j++)
            o[j] = row[st->map[j]];
        st->rows_out++;
        return tx_push(t, k + 1, o, err);
    case S_FILTER: {
        struct xval v;
        if ((rc = expr_eval(st->expr, row, &t->scratch, &v, err)))
            return rc;
        if (!tx_truthy(&v))
            return E_OK;
        st->rows_out++;
        return tx_push(t, k + 1, row, err);
    }
    case S_DERIVE: {
        struct xval v;
        if ((rc = expr_eval(st->expr, row, &t->scratch, &v, err)))
            return rc;
        memcpy(o, row, st->in.n * sizeof(*o));
        o[st->target] = v;
        st->rows_out++;
        return tx_push(t, k + 1, o, err);
    }
    case S_CAST:
        for (size_t c = 0; c < st->in.n; c++) {
            if (!st->mask[c])
                continue;
            struct xval before = row[c];
            if (tx_cast_val(t, st, &row[c], err, &rc))
                continue;
            if (rc)
                return rc;
            if (st->on_error_null) {
                row[c].t = XT_NULL;
                continue;
            }
            char tmp[XVAL_TEXT_MAX];
            size_t len;
            const char *s = xval_text(&before, tmp, &len, NULL);
            return tx_fail(st, err, E_PARSE,
                           "row %zu: cannot convert '%.*s' in column '%s' to %s (use \"onError\": "
                           "\"null\" to keep going)",
                           st->rows_in, (int)(len > 60 ? 60 : len), s, st->in.names[c],
                           xval_type_name(st->to));
        }
        st->rows_out++;
        return tx_push(t, k + 1, row, err);
    case S_FILL:
        if (st->ffill) {
            if ((rc = tx_ffill(st, row, err)))
                return rc;
        } else {
            for (size_t c = 0; c < st->in.n; c++)
                if (st->mask[c] && row[c].t == XT_NULL)
                    row[c] = st->fillval[c];
        }
        st->rows_out++;
        return tx_push(t, k + 1, row, err);
    case S_LIMIT:
        if (st->rows_in <= st->offset)
            return E_OK;
        if (st->rows_out >= st->n) {
            if (k < t->first_mat)
                t->stop = true;
            return E_OK;
        }
        st->rows_out++;
        if (st->rows_out >= st->n && k < t->first_mat)
            t->stop = true;
        return tx_push(t, k + 1, row, err);
    case S_SORT:
        return tx_keep_row(t, st, row, st->in.n, err);
    case S_GROUP:
        return tx_group_add(t, st, row, err);
    case S_DEDUPE: {
        if (st->keep_last)
            return tx_keep_row(t, st, row, st->in.n, err);
        bool keep;
        if ((rc = tx_dedupe_add(t, st, row, &keep, err)))
            return rc;
        if (!keep)
            return E_OK;
        st->rows_out++;
        return tx_push(t, k + 1, row, err);
    }
    }
    return E_OK;
}

/* ---- dedupe ---- */

static enum err_code tx_dedupe_add(struct tx *t, struct tx_step *st, const struct xval *row,
                                   bool *keep, struct err *err)
{
    enum err_code rc;
    uint64_t h;
    size_t idx;
    if ((rc = tx_key(t, row, st->dcols, st->ndcols, &h, err)) ||
        (rc = tx_map_get(&st->kmap, &t->store, t->key.data, t->key.len, h, &idx, keep, err)))
        return rc;
    return E_OK;
}

/* ---- group ---- */

static size_t tx_group_stsize(const struct tx_step *st)
{
    return st->naggs * sizeof(struct tx_aggst) + st->ngcols * sizeof(struct xval);
}

static enum err_code tx_group_add(struct tx *t, struct tx_step *st, const struct xval *row,
                                  struct err *err)
{
    enum err_code rc;
    uint64_t h;
    size_t gid;
    bool is_new;
    if ((rc = tx_key(t, row, st->gcols, st->ngcols, &h, err)) ||
        (rc = tx_map_get(&st->kmap, &t->store, t->key.data, t->key.len, h, &gid, &is_new, err)))
        return rc;
    struct tx_aggst *ag;
    if (is_new) {
        ag = xval_arena_alloc(&t->store, tx_group_stsize(st), err);
        if (!ag)
            return err->code;
        memset(ag, 0, st->naggs * sizeof(*ag));
        struct xval *keys = (struct xval *)(ag + st->naggs);
        for (size_t i = 0; i < st->ngcols; i++) {
            keys[i] = row[st->gcols[i]];
            if ((rc = xval_arena_keep(&t->store, &keys[i], err)))
                return rc;
        }
        if ((rc = buf_append(&st->groups, &ag, sizeof(ag), err)))
            return rc;
    } else {
        ag = ((struct tx_aggst **)(void *)st->groups.data)[gid];
    }
    for (size_t a = 0; a < st->naggs; a++) {
        const struct tx_agg *g = &st->aggs[a];
        struct tx_aggst *s = &ag[a];
        if (g->col == SIZE_MAX) {
            s->count++;
            continue;
        }
        const struct xval *v = &row[g->col];
        if (v->t == XT_NULL)
            continue;
        s->count++;
        switch (g->fn) {
        case A_SUM:
        case A_MEAN:
            if (g->out_t == XT_INT) {
                if (__builtin_add_overflow(s->isum, v->u.i, &s->isum))
                    return tx_fail(st, err, E_LIMIT, "integer overflow in the sum of '%s'",
                                   st->in.names[g->col]);
            } else {
                double x = v->t == XT_FLOAT ? v->u.f : (double)v->u.i;
                /* Kahan-Babuska summation */
                double sum = s->sum + x;
                if (fabs(s->sum) >= fabs(x))
                    s->comp += (s->sum - sum) + x;
                else
                    s->comp += (x - sum) + s->sum;
                s->sum = sum;
            }
            break;
        case A_MIN:
        case A_MAX: {
            if (s->count > 1) {
                int c = xval_cmp(v, &s->v);
                if (g->fn == A_MIN ? c >= 0 : c <= 0)
                    break;
            }
            s->v = *v;
            if ((rc = xval_arena_keep(&t->store, &s->v, err)))
                return rc;
            break;
        }
        case A_FIRST:
            if (s->count == 1) {
                s->v = *v;
                if ((rc = xval_arena_keep(&t->store, &s->v, err)))
                    return rc;
            }
            break;
        case A_LAST:
            if (v->t == XT_STRING && s->v.t == XT_STRING && s->v.len >= v->len) {
                /* reuse the previous copy */
                memcpy((char *)s->v.u.s, v->u.s, v->len);
                s->v.len = v->len;
                break;
            }
            s->v = *v;
            if ((rc = xval_arena_keep(&t->store, &s->v, err)))
                return rc;
            break;
        case A_COUNT:
            break;
        case A_COUNT_DISTINCT: {
            uint64_t h2;
            size_t idx;
            bool nw;
            uint32_t g32 = (uint32_t)gid;
            if ((rc = tx_key(t, v, NULL, 1, &h2, err)) ||
                (rc = buf_append(&t->key, &g32, sizeof(g32), err)))
                return rc;
            h2 ^= (uint64_t)gid * 0x9E3779B97F4A7C15ULL;
            if ((rc = tx_map_get(&st->dmaps[a], &t->store, t->key.data, t->key.len, h2, &idx, &nw,
                                 err)))
                return rc;
            if (nw)
                s->isum++;
            break;
        }
        case A_MEDIAN: {
            if (st->nmed[a] == st->capmed[a]) {
                size_t nc = st->capmed[a] ? st->capmed[a] * 2 : 1024;
                if (nc * sizeof(struct tx_median) > (size_t)LIM_TRANSFORM_ROWS_BYTES)
                    return tx_fail(st, err, E_LIMIT, "too many values for median");
                struct tx_median *nm = realloc(st->med[a], nc * sizeof(*nm));
                if (!nm)
                    return err_set(err, E_NOMEM, "out of memory");
                st->med[a] = nm;
                st->capmed[a] = nc;
            }
            double x = v->t == XT_FLOAT ? v->u.f : (double)v->u.i;
            st->med[a][st->nmed[a]++] = (struct tx_median){(uint32_t)gid, x};
            break;
        }
        }
    }
    return E_OK;
}

static int tx_median_cmp(const void *a, const void *b)
{
    const struct tx_median *x = a, *y = b;
    if (x->gid != y->gid)
        return x->gid < y->gid ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

static enum err_code tx_group_finish(struct tx *t, size_t k, struct err *err)
{
    enum err_code rc;
    struct tx_step *st = &t->steps[k];
    size_t ng = st->groups.len / sizeof(struct tx_aggst *);
    struct tx_aggst **gs = (struct tx_aggst **)(void *)st->groups.data;
    /* medians: sort each agg's (gid, value) pairs and write the result into sum */
    for (size_t a = 0; a < st->naggs; a++) {
        if (st->aggs[a].fn != A_MEDIAN || !st->nmed[a])
            continue;
        qsort(st->med[a], st->nmed[a], sizeof(struct tx_median), tx_median_cmp);
        for (size_t i = 0; i < st->nmed[a];) {
            size_t j = i;
            while (j < st->nmed[a] && st->med[a][j].gid == st->med[a][i].gid)
                j++;
            size_t n = j - i;
            double m = n % 2 ? st->med[a][i + n / 2].v
                             : (st->med[a][i + n / 2 - 1].v + st->med[a][i + n / 2].v) / 2;
            gs[st->med[a][i].gid][a].sum = m;
            i = j;
        }
    }
    for (size_t g = 0; g < ng; g++) {
        xval_arena_reset(&t->scratch);
        struct tx_aggst *ag = gs[g];
        const struct xval *keys = (const struct xval *)(ag + st->naggs);
        struct xval *o = st->outrow;
        for (size_t i = 0; i < st->ngcols; i++)
            o[i] = keys[i];
        for (size_t a = 0; a < st->naggs; a++) {
            const struct tx_agg *gg = &st->aggs[a];
            struct tx_aggst *s = &ag[a];
            struct xval *v = &o[st->ngcols + a];
            *v = (struct xval){.t = XT_NULL};
            switch (gg->fn) {
            case A_SUM:
                if (gg->out_t == XT_INT)
                    *v = (struct xval){.t = XT_INT, .u.i = s->isum};
                else
                    *v = (struct xval){.t = XT_FLOAT, .u.f = s->sum + s->comp};
                break;
            case A_MEAN:
                if (s->count)
                    *v = (struct xval){.t = XT_FLOAT,
                                       .u.f = gg->in_t == XT_FLOAT
                                                  ? (s->sum + s->comp) / (double)s->count
                                                  : (s->sum + s->comp) / (double)s->count};
                break;
            case A_MEDIAN:
                if (s->count)
                    *v = (struct xval){.t = XT_FLOAT, .u.f = s->sum};
                break;
            case A_COUNT:
                *v = (struct xval){.t = XT_INT, .u.i = (int64_t)s->count};
                break;
            case A_COUNT_DISTINCT:
                *v = (struct xval){.t = XT_INT, .u.i = s->isum};
                break;
            default:
                if (s->count)
                    *v = s->v;
                break;
            }
        }
        st->rows_out++;
        if ((rc = tx_push(t, k + 1, o, err)))
            return rc;
    }
    return E_OK;
}

/* ---- sort ---- */

static int tx_sort_cmp(const struct tx_step *st, const struct xval *a, const struct xval *b)
{
    for (size_t i = 0; i < st->nkeys; i++) {
        const struct tx_sortkey *k = &st->keys[i];
        const struct xval *x = &a[k->col], *y = &b[k->col];
        bool xn = x->t == XT_NULL, yn = y->t == XT_NULL;
        if (xn || yn) {
            if (xn && yn)
                continue;
            int c = xn ? 1 : -1;
            return k->nulls_first ? -c : c;
        }
        int c = xval_cmp(x, y);
        if (c)
            return k->desc ? -c : c;
    }
    return 0;
}

static void tx_msort(const struct tx_step *st, struct xval **v, struct xval **tmp, size_t n)
{
    if (n < 2)
        return;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            struct xval *x = v[i];
            size_t j = i;
            while (j && tx_sort_cmp(st, v[j - 1], x) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    tx_msort(st, v, tmp, h);
    tx_msort(st, v + h, tmp, n - h);
    if (tx_sort_cmp(st, v[h - 1], v[h]) <= 0)
        return;
    memcpy(tmp, v, h * sizeof(*v));
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        v[o++] = tx_sort_cmp(st, v[j], tmp[i]) < 0 ? v[j++] : tmp[i++];
    while (i < h)
        v[o++] = tmp[i++];
}

static enum err_code tx_emit_rows(struct tx *t, size_t k, struct err *err)
{
    enum err_code rc;
    struct tx_step *st = &t->steps[k];
    struct xval **rows = (struct xval **)(void *)st->rows.data;
    size_t n = st->rows.len / sizeof(*rows);
    if (st->kind == S_SORT && n > 1) {
        struct xval **tmp = malloc((n / 2 + 1) * sizeof(*tmp));
        if (!tmp)
            return err_set(err, E_NOMEM, "out of memory");
        tx_msort(st, rows, tmp, n);
        free(tmp);
    }
    bool *keep = NULL;
    if (st->kind == S_DEDUPE) {
        keep = calloc(n + 1, sizeof(*keep));
        if (!keep)
            return err_set(err, E_NOMEM, "out of memory");
        for (size_t i = n; i-- > 0;) {
            if ((rc = tx_dedupe_add(t, st, rows[i], &keep[i], err))) {
                free(keep);
                return rc;
            }
        }
    }
    rc = E_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        if (keep && !keep[i])
            continue;
        xval_arena_reset(&t->scratch);
        memcpy(st->outrow, rows[i], st->in.n * sizeof(struct xval));
        st->rows_out++;
        rc = tx_push(t, k + 1, st->outrow, err);
    }
    free(keep);
    return rc;
}

/* ---- planning ---- */

static const char *tx_suggest(const struct tx_schema *s, const char *name)
{
    return expr_suggest(name, s->names, s->n);
}

static enum err_code tx_col(const struct tx_step *st, const struct tx_schema *s, json_t *v,
                            const char *field, size_t *out, struct err *err)
{
    const char *name = json_string_value(v);
    if (!name)
        return tx_fail(st, err, E_INVALID, "'%s' must hold column names (strings)", field);
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name)) {
            *out = i;
            return E_OK;
        }
    const char *sug = tx_suggest(s, name);
    if (sug)
        return tx_fail(st, err, E_INVALID, "unknown column '%.100s' (did you mean '%s'?)", name,
                       sug);
    return tx_fail(st, err, E_INVALID, "unknown column '%.100s'", name);
}

static enum err_code tx_check_keys(const struct tx_step *st, json_t *obj,
                                   const char *const *allowed, struct err *err)
{
    const char *sug, *key = op_unknown_key(obj, allowed, &sug);
    if (key && sug)
        return tx_fail(st, err, E_INVALID, "unknown field '%.60s' (did you mean '%s'?)", key, sug);
    if (key)
        return tx_fail(st, err, E_INVALID, "unknown field '%.60s'", key);
    return E_OK;
}

/* An array of column names (or one name when single is allowed). */
static enum err_code tx_cols(const struct tx_step *st, const struct tx_schema *s, json_t *v,
                             const char *field, bool required, size_t **out, size_t *n,
                             struct err *err)
{
    enum err_code rc;
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return tx_fail(st, err, E_INVALID, "'%s' is required (an array of column names)",
                           field);
        return E_OK;
    }
    if (json_is_string(v)) {
        *out = malloc(sizeof(**out));
        if (!*out)
            return err_set(err, E_NOMEM, "out of memory");
        *n = 1;
        return tx_col(st, s, v, field, *out, err);
    }
    if (!json_is_array(v) || (required && !json_array_size(v)))
        return tx_fail(st, err, E_INVALID, "'%s' must be a non-empty array of column names", field);
    *out = calloc(json_array_size(v) + 1, sizeof(**out));
    if (!*out)
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(v); i++) {
        if ((rc = tx_col(st, s, json_array_get(v, i), field, &(*out)[i], err)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if ((*out)[j] == (*out)[i])
                return tx_fail(st, err, E_INVALID, "column '%s' is listed twice in '%s'",
                               s->names[(*out)[i]], field);
        (*n)++;
    }
    return E_OK;
}

static enum err_code tx_schema_alloc(struct tx_schema *s, size_t n, struct err *err)
{
    s->n = n;
    s->names = calloc(n + 1, sizeof(*s->names));
    s->types = calloc(n + 1, sizeof(*s->types));
    if (!s->names || !s->types)
        return err_set(err, E_NOMEM, "out of memory");
    return E_OK;
}

static enum err_code tx_schema_copy(struct tx_schema *d, const struct tx_schema *s, size_t extra,
                                    struct err *err)
{
    enum err_code rc = tx_schema_alloc(d, s->n + extra, err);
    if (rc)
        return rc;
    d->n = s->n;
    memcpy(d->names, s->names, s->n * sizeof(*s->names));
    memcpy(d->types, s->types, s->n * sizeof(*s->types));
    return E_OK;
}

static enum err_code tx_plan_project(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    (void)t;
    enum err_code rc;
    size_t *cols = NULL, n = 0;
    if ((rc =
             tx_cols(st, &st->in, json_object_get(so, "columns"), "columns", true, &cols, &n, err)))
        goto out;
    if (st->kind == S_SELECT) {
        if ((rc = tx_schema_alloc(&st->out, n, err)))
            goto out;
        st->map = cols;
        cols = NULL;
    } else {
        bool *drop = calloc(st->in.n + 1, sizeof(*drop));
        st->map = calloc(st->in.n + 1, sizeof(*st->map));
        if (!drop || !st->map) {
            free(drop);
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            drop[cols[i]] = true;
        size_t k = 0;
        for (size_t i = 0; i < st->in.n; i++)
            if (!drop[i])
                st->map[k++] = i;
        free(drop);
        if ((rc = tx_schema_alloc(&st->out, k, err)))
            goto out;
    }
    for (size_t j = 0; j < st->out.n; j++) {
        st->out.names[j] = st->in.names[st->map[j]];
        st->out.types[j] = st->in.types[st->map[j]];
    }
out:
    free(cols);
    return rc;
}

static bool tx_name_taken(const struct tx_schema *s, const char *name, size_t except)
{
    for (size_t i = 0; i < s->n; i++)
        if (i != except && !strcmp(s->names[i], name))
            return true;
    return false;
}

static enum err_code tx_plan_rename(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    enum err_code rc;
    json_t *m = json_object_get(so, "map");
    if (!json_is_object(m) || !json_object_size(m))
        return tx_fail(st, err, E_INVALID, "'map' must be an object {\"old\": \"new\", ...}");
    if ((rc = tx_schema_copy(&st->out, &st->in, 0, err)))
        return rc;
    st->map = calloc(st->in.n + 1, sizeof(*st->map));
    if (!st->map)
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t i = 0; i < st->in.n; i++)
        st->map[i] = i;
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v)
    {
        size_t c;
        json_t *kj = json_string(key);
        rc = tx_col(st, &st->in, kj, "map", &c, err);
        json_decref(kj);
        if (rc)
            return rc;
        const char *nn = json_string_value(v);
        if (!nn || !*nn)
            return tx_fail(st, err, E_INVALID, "'map' values must be non-empty names");
        const char *own = tx_own(t, nn, strlen(nn), err);
        if (!own)
            return err->code;
        st->out.names[c] = own;
    }
    for (size_t i = 0; i < st->out.n; i++)
        if (tx_name_taken(&st->out, st->out.names[i], i))
            return tx_fail(st, err, E_INVALID, "two columns would be named '%s'", st->out.names[i]);
    return E_OK;
}

static enum err_code tx_plan_expr(struct tx *t, struct tx_step *st, json_t *so, const char *field,
                                  struct err *err)
{
    (void)t;
    enum err_code rc;
    json_t *e = json_object_get(so, field);
    if (!json_is_string(e))
        return tx_fail(st, err, E_INVALID, "'%s' must be an expression string", field);
    struct expr_schema sc = {st->in.names, st->in.types, st->in.n};
    if ((rc = expr_compile(json_string_value(e), &sc, &st->expr, err)))
        return err_wrap(err, "steps[%zu] (%s)", st->idx, tx_kind_names[st->kind]);
    return E_OK;
}

static enum err_code tx_plan_filter(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    enum err_code rc;
    if ((rc = tx_plan_expr(t, st, so, "where", err)))
        return rc;
    enum xtype rt = expr_type(st->expr);
    if (rt != XT_BOOL && rt != XT_NULL)
        return tx_fail(st, err, E_INVALID, "'where' must be a condition (true/false), got %s",
                       xval_type_name(rt));
    return tx_schema_copy(&st->out, &st->in, 0, err);
}

static enum err_code tx_plan_derive(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    enum err_code rc;
    const char *name = json_string_value(json_object_get(so, "column"));
    if (!name || !*name)
        return tx_fail(st, err, E_INVALID, "'column' must be the name of the new column");
    if ((rc = tx_plan_expr(t, st, so, "expr", err)))
        return rc;
    if ((rc = tx_schema_copy(&st->out, &st->in, 1, err)))
        return rc;
    enum xtype rt = expr_type(st->expr);
    if (rt == XT_NULL)
        rt = XT_STRING;
    st->target = st->in.n;
    for (size_t i = 0; i < st->in.n; i++)
        if (!strcmp(st->in.names[i], name))
            st->target = i;
    if (st->target == st->in.n) {
        const char *own = tx_own(t, name, strlen(name), err);
        if (!own)
            return err->code;
        st->out.names[st->out.n++] = own;
    }
    st->out.types[st->target] = rt;
    return E_OK;
}

static enum err_code tx_plan_cast(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    enum err_code rc;
    size_t *cols = NULL, n = 0;
    json_t *c1 = json_object_get(so, "column"), *cn = json_object_get(so, "columns");
    if ((c1 && cn) || (!c1 && !cn))
        return tx_fail(st, err, E_INVALID, "give either 'column' or 'columns'");
    if ((rc = tx_cols(st, &st->in, c1 ? c1 : cn, c1 ? "column" : "columns", true, &cols, &n, err)))
        goto out;
    const char *to = json_string_value(json_object_get(so, "to"));
    st->to = to ? xval_type_from_name(to) : XT_NULL;
    if (st->to == XT_NULL) {
        rc = tx_fail(st, err, E_INVALID,
                     "'to' must be \"integer\", \"float\", \"string\", \"boolean\", \"date\" or "
                     "\"datetime\"");
        goto out;
    }
    json_t *f = json_object_get(so, "format");
    if (f && !json_is_null(f)) {
        const char *fs = json_string_value(f);
        if (!fs || !*fs || strlen(fs) > LIM_TRANSFORM_FORMAT_LEN || !xval_fmt_valid(fs)) {
            rc = tx_fail(st, err, E_INVALID,
                         "'format' must be a date format like \"%%d/%%m/%%Y\" (directives %%Y "
                         "%%m %%d %%H %%M %%S %%y %%b %%B %%j %%p %%I %%z %%f %%%%)");
            goto out;
        }
        if (!(st->fmt = strdup(fs))) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
    }
    json_t *oe = json_object_get(so, "onError");
    if (oe && !json_is_null(oe)) {
        const char *s = json_string_value(oe);
        if (!s || (strcmp(s, "null") && strcmp(s, "fail"))) {
            rc = tx_fail(st, err, E_INVALID, "'onError' must be \"null\" or \"fail\"");
            goto out;
        }
        st->on_error_null = !strcmp(s, "null");
    }
    if ((rc = tx_schema_copy(&st->out, &st->in, 0, err)))
        goto out;
    st->mask = calloc(st->in.n + 1, sizeof(*st->mask));
    if (!st->mask) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        st->mask[cols[i]] = true;
        st->out.types[cols[i]] = st->to;
    }
out:
    free(cols);
    (void)t;
    return rc;
}

/* The fill value for a column of type ty from a JSON literal. */
static bool tx_fill_value(struct tx *t, json_t *v, enum xtype ty, struct xval *o, struct err *err)
{
    double secs;
    bool d;
    switch (ty) {
    case XT_INT:
        if (!json_is_integer(v))
            return false;
        *o = (struct xval){.t = XT_INT, .u.i = json_integer_value(v)};
        return true;
    case XT_FLOAT:
        if (!json_is_number(v))
            return false;
        *o = (struct xval){.t = XT_FLOAT, .u.f = json_number_value(v)};
        return true;
    case XT_BOOL:
        if (!json_is_boolean(v))
            return false;
        *o = (struct xval){.t = XT_BOOL, .u.i = json_is_true(v)};
        return true;
    case XT_DATE:
    case XT_DATETIME:
        if (!json_is_string(v) ||
            !xval_parse_iso(json_string_value(v), json_string_length(v), &secs, &d))
            return false;
        if (ty == XT_DATE)
            *o = (struct xval){.t = XT_DATE, .u.i = (int64_t)floor(secs / 86400.0)};
        else
            *o = (struct xval){.t = XT_DATETIME, .u.f = secs};
        return true;
    default: {
        char tmp[XVAL_TEXT_MAX];
        const char *s = tmp;
        size_t n;
        if (json_is_string(v)) {
            s = json_string_value(v);
            n = json_string_length(v);
        } else if (json_is_integer(v)) {
            n = (size_t)snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
        } else if (json_is_real(v)) {
            n = xval_fmt_double(json_real_value(v), tmp);
        } else if (json_is_boolean(v)) {
            s = json_is_true(v) ? "true" : "false";
            n = strlen(s);
        } else {
            return false;
        }
        const char *own = tx_own(t, s, n, err);
        if (!own)
            return false;
        *o = (struct xval){.t = XT_STRING, .len = (uint32_t)n, .u.s = own};
        return true;
    }
    }
}

static enum err_code tx_plan_fill(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    enum err_code rc;
    size_t *cols = NULL, n = 0;
    if ((rc = tx_cols(st, &st->in, json_object_get(so, "columns"), "columns", false, &cols, &n,
                      err)))
        goto out;
    if ((rc = tx_schema_copy(&st->out, &st->in, 0, err)))
        goto out;
    st->mask = calloc(st->in.n + 1, sizeof(*st->mask));
    st->fillval = calloc(st->in.n + 1, sizeof(*st->fillval));
    if (!st->mask || !st->fillval) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < st->in.n; i++)
        st->mask[i] = cols == NULL;
    for (size_t i = 0; i < n; i++)
        st->mask[cols[i]] = true;
    json_t *val = json_object_get(so, "value"), *meth = json_object_get(so, "method");
    if ((val != NULL) == (meth != NULL)) {
        rc = tx_fail(st, err, E_INVALID, "give either 'value' or 'method'");
        goto out;
    }
    if (meth) {
        const char *m = json_string_value(meth);
        if (!m || strcmp(m, "ffill")) {
            rc = tx_fail(st, err, E_INVALID, "'method' must be \"ffill\" (bfill is not supported)");
            goto out;
        }
        st->ffill = true;
        st->last = calloc(st->in.n + 1, sizeof(*st->last));
        st->lastbuf = calloc(st->in.n + 1, sizeof(*st->lastbuf));
        if (!st->last || !st->lastbuf) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < st->in.n; i++)
            buf_init(&st->lastbuf[i], (size_t)LIM_CSV_FIELD_BYTES);
        goto out;
    }
    if (json_is_null(val)) {
        rc = tx_fail(st, err, E_INVALID, "'value' must not be null");
        goto out;
    }
    for (size_t i = 0; i < st->in.n; i++) {
        if (!st->mask[i])
            continue;
        if (!tx_fill_value(t, val, st->in.types[i], &st->fillval[i], err)) {
            if (err->code == E_NOMEM) {
                rc = E_NOMEM;
                goto out;
            }
            if (cols == NULL) {
                st->mask[i] = false; /* all columns: fill only those the value fits */
                continue;
            }
            char *txt = json_dumps(val, JSON_ENCODE_ANY);
            rc = tx_fail(st, err, E_INVALID, "value %.60s does not fit column '%s' (%s)",
                         txt ? txt : "?", st->in.names[i], xval_type_name(st->in.types[i]));
            free(txt);
            goto out;
        }
    }
out:
    free(cols);
    return rc;
}

static enum err_code tx_plan_sort(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    (void)t;
    enum err_code rc;
    json_t *by = json_object_get(so, "by");
    if (json_is_string(by) || json_is_object(by)) {
        json_t *arr = json_array();
        json_array_append(arr, by);
        json_object_set_new(so, "by", arr);
        by = arr;
    }
    if (!json_is_array(by) || !json_array_size(by))
        return tx_fail(st, err, E_INVALID,
                       "'by' must be a non-empty array of column names (\"-name\" for "
                       "descending) or {\"column\", \"desc\", \"nulls\"} objects");
    st->nkeys = json_array_size(by);
    st->keys = calloc(st->nkeys, sizeof(*st->keys));
    if (!st->keys)
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t i = 0; i < st->nkeys; i++) {
        json_t *k = json_array_get(by, i);
        struct tx_sortkey *sk = &st->keys[i];
        json_t *name = NULL;
        if (json_is_string(k)) {
            const char *s = json_string_value(k);
            bool found = false;
            for (size_t c = 0; c < st->in.n; c++)
                found |= !strcmp(st->in.names[c], s);
            if (!found && s[0] == '-') {
                sk->desc = true;
                name = json_string(s + 1);
            } else {
                name = json_incref(k);
            }
        } else if (json_is_object(k)) {
            static const char *const allowed[] = {"column", "desc", "nulls", NULL};
            if ((rc = tx_check_keys(st, k, allowed, err)))
                return rc;
            name = json_incref(json_object_get(k, "column"));
            json_t *d = json_object_get(k, "desc");
            if (d && !json_is_boolean(d)) {
                json_decref(name);
                return tx_fail(st, err, E_INVALID, "'desc' must be true or false");
            }
            sk->desc = json_is_true(d);
            json_t *nl = json_object_get(k, "nulls");
            if (nl) {
                const char *ns = json_string_value(nl);
                if (!ns || (strcmp(ns, "first") && strcmp(ns, "last"))) {
                    json_decref(name);
                    return tx_fail(st, err, E_INVALID, "'nulls' must be \"first\" or \"last\"");
                }
                sk->nulls_first = !strcmp(ns, "first");
            }
        } else {
            return tx_fail(st, err, E_INVALID, "'by' items must be names or objects");
        }
        rc = tx_col(st, &st->in, name, "by", &sk->col, err);
        json_decref(name);
        if (rc)
            return rc;
    }
    return tx_schema_copy(&st->out, &st->in, 0, err);
}

static enum err_code tx_plan_group(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    enum err_code rc;
    if ((rc = tx_cols(st, &st->in, json_object_get(so, "by"), "by", true, &st->gcols, &st->ngcols,
                      err)))
        return rc;
    json_t *aggs = json_object_get(so, "aggs");
    if (aggs && !json_is_array(aggs))
        return tx_fail(st, err, E_INVALID,
                       "'aggs' must be an array of {\"column\", \"fn\", "
                       "\"as\"} objects");
    st->naggs = aggs ? json_array_size(aggs) : 0;
    st->aggs = calloc(st->naggs + 1, sizeof(*st->aggs));
    st->dmaps = calloc(st->naggs + 1, sizeof(*st->dmaps));
    st->med = calloc(st->naggs + 1, sizeof(*st->med));
    st->nmed = calloc(st->naggs + 1, sizeof(*st->nmed));
    st->capmed = calloc(st->naggs + 1, sizeof(*st->capmed));
    if (!st->aggs || !st->dmaps || !st->med || !st->nmed || !st->capmed ||
        (rc = tx_schema_alloc(&st->out, st->ngcols + st->naggs, err)))
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t i = 0; i < st->ngcols; i++) {
        st->out.names[i] = st->in.names[st->gcols[i]];
        st->out.types[i] = st->in.types[st->gcols[i]];
    }
    for (size_t a = 0; a < st->naggs; a++) {
        json_t *ao = json_array_get(aggs, a);
        struct tx_agg *g = &st->aggs[a];
        if (!json_is_object(ao))
            return tx_fail(st, err, E_INVALID, "aggs[%zu] must be an object", a);
        static const char *const allowed[] = {"column", "fn", "as", NULL};
        if ((rc = tx_check_keys(st, ao, allowed, err)))
            return rc;
        const char *fn = json_string_value(json_object_get(ao, "fn"));
        size_t f = 0;
        while (fn && f < TX_NAGGS && strcmp(tx_agg_names[f], fn))
            f++;
        if (!fn || f == TX_NAGGS) {
            const char *sug = fn ? expr_suggest(fn, tx_agg_names, TX_NAGGS) : NULL;
            return tx_fail(st, err, E_INVALID,
                           "aggs[%zu]: unknown fn '%.40s'%s%s%s (one of sum, mean, min, max, "
                           "count, count_distinct, first, last, median)",
                           a, fn ? fn : "", sug ? " (did you mean '" : "", sug ? sug : "",
                           sug ? "'?)" : "");
        }
        g->fn = (enum tx_aggfn)f;
        json_t *cj = json_object_get(ao, "column");
        g->col = SIZE_MAX;
        if (cj) {
            if ((rc = tx_col(st, &st->in, cj, "column", &g->col, err)))
                return rc;
            g->in_t = st->in.types[g->col];
        } else if (g->fn != A_COUNT) {
            return tx_fail(st, err, E_INVALID, "aggs[%zu] (%s) needs a 'column'", a, fn);
        }
        bool num = g->in_t == XT_INT || g->in_t == XT_FLOAT || g->in_t == XT_BOOL;
        switch (g->fn) {
        case A_SUM:
            if (!num)
                return tx_fail(st, err, E_INVALID,
                               "aggs[%zu]: sum needs a number column, '%s' "
                               "is %s",
                               a, st->in.names[g->col], xval_type_name(g->in_t));
            g->out_t = g->in_t == XT_FLOAT ? XT_FLOAT : XT_INT;
            break;
        case A_MEAN:
        case A_MEDIAN:
            if (!num)
                return tx_fail(st, err, E_INVALID,
                               "aggs[%zu]: %s needs a number column, '%s' "
                               "is %s",
                               a, fn, st->in.names[g->col], xval_type_name(g->in_t));
            g->out_t = XT_FLOAT;
            break;
        case A_COUNT:
        case A_COUNT_DISTINCT:
            g->out_t = XT_INT;
            break;
        default:
            g->out_t = g->in_t;
            break;
        }
        const char *as = json_string_value(json_object_get(ao, "as"));
        char def[300];
        if (!as) {
            if (g->col == SIZE_MAX)
                snprintf(def, sizeof(def), "count");
            else
                snprintf(def, sizeof(def), "%.200s_%s", st->in.names[g->col], fn);
            as = def;
        }
        const char *own = tx_own(t, as, strlen(as), err);
        if (!own)
            return err->code;
        st->out.names[st->ngcols + a] = own;
        st->out.types[st->ngcols + a] = g->out_t;
    }
    for (size_t i = 0; i < st->out.n; i++)
        if (tx_name_taken(&st->out, st->out.names[i], i))
            return tx_fail(st, err, E_INVALID,
                           "two output columns would be named '%s' (set \"as\")", st->out.names[i]);
    buf_init(&st->groups, (size_t)LIM_TRANSFORM_ROWS_BYTES);
    return E_OK;
}

static enum err_code tx_plan_dedupe(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    (void)t;
    enum err_code rc;
    if ((rc = tx_cols(st, &st->in, json_object_get(so, "columns"), "columns", false, &st->dcols,
                      &st->ndcols, err)))
        return rc;
    if (!st->dcols) {
        st->dcols = calloc(st->in.n + 1, sizeof(*st->dcols));
        if (!st->dcols)
            return err_set(err, E_NOMEM, "out of memory");
        for (size_t i = 0; i < st->in.n; i++)
            st->dcols[i] = i;
        st->ndcols = st->in.n;
    }
    json_t *k = json_object_get(so, "keep");
    if (k) {
        const char *s = json_string_value(k);
        if (!s || (strcmp(s, "first") && strcmp(s, "last")))
            return tx_fail(st, err, E_INVALID, "'keep' must be \"first\" or \"last\"");
        st->keep_last = !strcmp(s, "last");
    }
    return tx_schema_copy(&st->out, &st->in, 0, err);
}

static enum err_code tx_plan_limit(struct tx *t, struct tx_step *st, json_t *so, struct err *err)
{
    (void)t;
    json_t *n = json_object_get(so, "n"), *o = json_object_get(so, "offset");
    if (!json_is_integer(n) || json_integer_value(n) < 0)
        return tx_fail(st, err, E_INVALID, "'n' must be a non-negative integer");
    if (o && (!json_is_integer(o) || json_integer_value(o) < 0))
        return tx_fail(st, err, E_INVALID, "'offset' must be a non-negative integer");
    st->n = (size_t)json_integer_value(n);
    st->offset = o ? (size_t)json_integer_value(o) : 0;
    return tx_schema_copy(&st->out, &st->in, 0, err);
}

static enum err_code tx_plan(struct tx *t, json_t *steps, const struct tx_schema *src,
                             struct err *err)
{
    enum err_code rc;
    static const char *const fields[][6] = {
        [S_SELECT] = {"op", "columns", NULL},
        [S_DROP] = {"op", "columns", NULL},
        [S_RENAME] = {"op", "map", NULL},
        [S_FILTER] = {"op", "where", NULL},
        [S_DERIVE] = {"op", "column", "expr", NULL},
        [S_CAST] = {"op", "column", "columns", "to", "format", "onError"},
        [S_FILL] = {"op", "columns", "value", "method", NULL},
        [S_SORT] = {"op", "by", NULL},
        [S_GROUP] = {"op", "by", "aggs", NULL},
        [S_DEDUPE] = {"op", "columns", "keep", NULL},
        [S_LIMIT] = {"op", "n", "offset", NULL},
    };
    t->nsteps = json_array_size(steps);
    t->steps = calloc(t->nsteps + 1, sizeof(*t->steps));
    if (!t->steps)
        return err_set(err, E_NOMEM, "out of memory");
    t->first_mat = t->nsteps;
    const struct tx_schema *in = src;
    for (size_t i = 0; i < t->nsteps; i++) {
        struct tx_step *st = &t->steps[i];
        json_t *so = json_array_get(steps, i);
        st->idx = i;
        buf_init(&st->rows, (size_t)LIM_TRANSFORM_ROWS_BYTES);
        if (!json_is_object(so))
            return err_set(err, E_INVALID, "steps[%zu]: must be an object with an \"op\"", i);
        const char *op = json_string_value(json_object_get(so, "op"));
        size_t k = 0;
        while (op && k < TX_NKINDS && strcmp(op, tx_kind_names[k]))
            k++;
        if (!op || k == TX_NKINDS) {
            const char *sug = op ? expr_suggest(op, tx_kind_names, TX_NKINDS) : NULL;
            return err_set(err, E_INVALID,
                           "steps[%zu]: unknown op '%.40s'%s%s%s (one of select, drop, rename, "
                           "filter, derive, cast, fill, sort, group, dedupe, limit)",
                           i, op ? op : "", sug ? " (did you mean '" : "", sug ? sug : "",
                           sug ? "'?)" : "");
        }
        st->kind = (enum tx_kind)k;
        const char *allowed[7] = {0};
        for (size_t f = 0; f < 6 && fields[k][f]; f++)
            allowed[f] = fields[k][f];
        if ((rc = tx_check_keys(st, so, allowed, err)))
            return rc;
        st->in = *in;
        switch (st->kind) {
        case S_SELECT:
        case S_DROP:
            rc = tx_plan_project(t, st, so, err);
            break;
        case S_RENAME:
            rc = tx_plan_rename(t, st, so, err);
            break;
        case S_FILTER:
            rc = tx_plan_filter(t, st, so, err);
            break;
        case S_DERIVE:
            rc = tx_plan_derive(t, st, so, err);
            break;
        case S_CAST:
            rc = tx_plan_cast(t, st, so, err);
            break;
        case S_FILL:
            rc = tx_plan_fill(t, st, so, err);
            break;
        case S_SORT:
            rc = tx_plan_sort(t, st, so, err);
            break;
        case S_GROUP:
            rc = tx_plan_group(t, st, so, err);
            break;
        case S_DEDUPE:
            rc = tx_plan_dedupe(t, st, so, err);
            break;
        case S_LIMIT:
            rc = tx_plan_limit(t, st, so, err);
            break;
        }
        if (rc)
            return rc;
        if ((st->kind == S_SORT || st->kind == S_GROUP ||
             (st->kind == S_DEDUPE && st->keep_last)) &&
            t->first_mat == t->nsteps)
            t->first_mat = i;
        st->outrow = calloc(st->out.n + st->in.n + 1, sizeof(*st->outrow));
        if (!st->outrow)
            return err_set(err, E_NOMEM, "out of memory");
        in = &st->out;
    }
    t->final = *in;
    return E_OK;
}

static void tx_release(struct tx *t)
{
    for (size_t i = 0; i < t->nsteps; i++) {
        struct tx_step *st = &t->steps[i];
        free(st->out.names);
        free(st->out.types);
        free(st->outrow);
        free(st->map);
        expr_free(st->expr);
        free(st->mask);
        free(st->fmt);
        free(st->fillval);
        free(st->last);
        if (st->lastbuf)
            for (size_t c = 0; c < st->in.n; c++)
                buf_release(&st->lastbuf[c]);
        free(st->lastbuf);
        free(st->keys);
        free(st->gcols);
        if (st->med)
            for (size_t a = 0; a < st->naggs; a++)
                free(st->med[a]);
        free(st->med);
        free(st->nmed);
        free(st->capmed);
        if (st->dmaps)
            for (size_t a = 0; a < st->naggs; a++)
                tx_map_release(&st->dmaps[a]);
        free(st->dmaps);
        free(st->aggs);
        buf_release(&st->groups);
        free(st->dcols);
        tx_map_release(&st->kmap);
        buf_release(&st->rows);
    }
    free(t->steps);
    for (size_t i = 0; i < t->nowned; i++)
        free(t->owned[i]);
    free(t->owned);
    xval_arena_release(&t->scratch);
    xval_arena_release(&t->store);
    buf_release(&t->key);
    wr_text_free(t->wt);
    wr_xlsx_free(t->wx);
    json_decref(t->preview);
}

/* ---- input cache and type inference ---- */

enum { TI_INT = 1, TI_FLOAT = 2, TI_BOOL = 4, TI_DATE = 8, TI_DATETIME = 16 };

struct tx_incol {
    unsigned cand;
    bool saw_float, saw_time, any;
};

/* Narrow c's candidates by the text (s,n). *num: the value when it was
 * read as a number (*has_num). */
static void tx_classify(struct tx_incol *c, const char *s, size_t n, double *num, bool *has_num)
{
    unsigned cand = c->cand;
    c->any = true;
    *has_num = false;
    if (cand & (TI_INT | TI_FLOAT)) {
        double d;
        bool is_int;
        if (xval_parse_num(s, n, &d, &is_int)) {
            *num = d;
            *has_num = true;
            if (!is_int)
                c->saw_float = true;
            c->cand = cand & (TI_INT | TI_FLOAT);
            if (c->saw_float)
                c->cand &= ~(unsigned)TI_INT;
            return;
        }
        cand &= ~(unsigned)(TI_INT | TI_FLOAT);
    }
    if (cand & TI_BOOL) {
        bool b;
        if (!xval_parse_bool(s, n, &b))
            cand &= ~(unsigned)TI_BOOL;
    }
    if (cand & (TI_DATE | TI_DATETIME)) {
        double secs;
        bool date_only;
        if (xval_parse_iso(s, n, &secs, &date_only)) {
            if (!date_only)
                c->saw_time = true;
        } else {
            cand &= ~(unsigned)(TI_DATE | TI_DATETIME);
        }
    }
    c->cand = cand;
}

static enum xtype tx_infer(const struct tx_incol *c)
{
    if (!c->any)
        return XT_FLOAT; /* all missing: pandas reads float64 */
    if (c->cand & TI_INT)
        return XT_INT;
    if (c->cand & TI_FLOAT)
        return XT_FLOAT;
    if (c->cand & TI_BOOL)
        return XT_BOOL;
    if (c->cand & (TI_DATE | TI_DATETIME))
        return c->saw_time ? XT_DATETIME : XT_DATE;
    return XT_STRING;
}

/* The text of a source cell (NULL when missing); tmp holds made-up text. */
static const char *tx_cell_text(const struct tcell *c, char tmp[XVAL_TEXT_MAX], size_t *n)
{
    const char *s = c->s ? c->s : "";
    *n = c->len;
    switch (c->type) {
    case TC_EMPTY:
        return NULL;
    case TC_BOOL:
        s = c->num != 0 ? "true" : "false";
        *n = strlen(s);
        return s;
    case TC_NUMBER:
        if (!c->s || !c->len) {
            struct xval v = {.t = XT_FLOAT, .u.f = c->num};
            if (c->num == floor(c->num) && fabs(c->num) < 9e15)
                v = (struct xval){.t = XT_INT, .u.i = (int64_t)c->num};
            s = xval_text(&v, tmp, n, NULL);
        }
        return s;
    case TC_DATETIME: {
        struct xval v = {.t = XT_DATETIME, .u.f = c->num};
        if (c->date_only)
            v = (struct xval){.t = XT_DATE, .u.i = (int64_t)floor(c->num / 86400.0)};
        return xval_text(&v, tmp, n, NULL);
    }
    default:
        return xval_is_na(s, *n) ? NULL : s;
    }
}

static void tx_convert(const char *s, size_t n, enum xtype t, struct xval *v)
{
    double d, secs;
    bool is_int, b, date_only;
    int64_t i;
    switch (t) {
    case XT_INT:
        if (xval_parse_int(s, n, &i)) {
            *v = (struct xval){.t = XT_INT, .u.i = i};
            return;
        }
        break;
    case XT_FLOAT:
        if (xval_parse_num(s, n, &d, &is_int)) {
            *v = (struct xval){.t = XT_FLOAT, .u.f = d};
            return;
        }
        break;
    case XT_BOOL:
        if (xval_parse_bool(s, n, &b)) {
            *v = (struct xval){.t = XT_BOOL, .u.i = b};
            return;
        }
        break;
    case XT_DATE:
        if (xval_parse_iso(s, n, &secs, &date_only)) {
            *v = (struct xval){.t = XT_DATE, .u.i = (int64_t)floor(secs / 86400.0)};
            return;
        }
        break;
    case XT_DATETIME:
        if (xval_parse_iso(s, n, &secs, &date_only)) {
            *v = (struct xval){.t = XT_DATETIME, .u.f = secs};
            return;
        }
        break;
    default:
        *v = (struct xval){.t = XT_STRING, .len = (uint32_t)n, .u.s = s};
        return;
    }
    *v = (struct xval){.t = XT_NULL};
}

/* ---- columns the steps need ---- */

/* Whether a string anywhere in v (values and object keys) contains name. */
static bool tx_json_mentions(json_t *v, const char *name)
{
    const char *key;
    json_t *x;
    size_t i;
    if (json_is_string(v))
        return strstr(json_string_value(v), name) != NULL;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (tx_json_mentions(x, name))
                return true;
        }
        return false;
    }
    if (json_is_object(v)) {
        json_object_foreach(v, key, x)
        {
            if (strstr(key, name) || tx_json_mentions(x, name))
                return true;
        }
    }
    return false;
}

/*
 * Mark in need[] the source columns the steps may read or the output may
 * keep: a conservative over-approximation from the request text, so that
 * the other columns are neither type-checked nor converted. Every column
 * is needed unless a select or group step cuts the schema; then a column
 * is needed when its name occurs in any string of the steps (expressions,
 * column lists, rename maps) or when dedupe/fill work on all columns. A
 * name holding a backtick may be spelt escaped in an expression: needed.
 */
static void tx_needed(json_t *steps, const struct table_src *ts, bool *need)
{
    bool all = true;
    size_t i;
    json_t *so;
    json_array_foreach(steps, i, so)
    {
        const char *op = json_string_value(json_object_get(so, "op"));
        json_t *cols = json_object_get(so, "columns");
        if (op && (!strcmp(op, "select") || !strcmp(op, "group")))
            all = false;
        if (op && (!strcmp(op, "dedupe") || !strcmp(op, "fill")) && (!cols || json_is_null(cols))) {
            all = true;
            break;
        }
    }
    for (size_t c = 0; c < ts->ncols; c++) {
        const char *nm = ts->names[c];
        need[c] = all || !*nm || strchr(nm, '`') || tx_json_mentions(steps, nm);
    }
}

/* The text cache of the needed columns (one read of the input): per row
 * and needed column a uint32 length (TX_CACHE_NULL: missing; then nothing
 * follows), a flag byte (1: the double xval_parse_num read follows), and
 * the bytes. */
#define TX_CACHE_NULL UINT32_MAX

static inline bool tx_cache_put(struct buf *b, const char *s, size_t n, const double *num)
{
    unsigned char rec[sizeof(uint32_t) + 1 + sizeof(double)];
    uint32_t L = s ? (uint32_t)n : TX_CACHE_NULL;
    size_t h = sizeof(L);
    if (!s)
        n = 0;
    else if (n >= (size_t)TX_CACHE_NULL)
        return false;
    memcpy(rec, &L, sizeof(L));
    if (s) {
        rec[h++] = num != NULL;
        if (num) {
            memcpy(rec + h, num, sizeof(*num));
            h += sizeof(*num);
        }
    }
    if (b->data && h + n < b->cap - b->len && b->len + h + n <= b->max) {
        memcpy(b->data + b->len, rec, h);
        if (n)
            memcpy(b->data + b->len + h, s, n);
        b->len += h + n;
        return true;
    }
    struct err e;
    err_clear(&e);
    return !buf_append(b, rec, h, &e) && (!n || !buf_append(b, s, n, &e));
}

/* ---- options ---- */

/* options.types: the reading type of some columns ({"zip": "string"}), or
 * "string" for all, instead of inference (like pandas' dtype=). Values that
 * do not read as a forced type become null. */
static enum err_code tx_apply_types(json_t *types, struct tx_schema *src, struct err *err)
{
    if (!types)
        return E_OK;
    if (json_is_string(types)) {
        for (size_t c = 0; c < src->n; c++)
            src->types[c] = XT_STRING;
        return E_OK;
    }
    const char *key;
    json_t *v;
    json_object_foreach(types, key, v)
    {
        enum xtype t = json_is_string(v) ? xval_type_from_name(json_string_value(v)) : XT_NULL;
        if (t == XT_NULL)
            return err_set(err, E_INVALID,
                           "option 'types': '%.60s' must be one of integer, float, boolean, "
                           "date, datetime, string",
                           key);
        size_t c = 0;
        while (c < src->n && strcmp(src->names[c], key))
            c++;
        if (c == src->n) {
            const char *sug = expr_suggest(key, src->names, src->n);
            return err_set(err, E_INVALID, "option 'types': unknown column '%.100s'%s%s%s", key,
                           sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
        }
        src->types[c] = t;
    }
    return E_OK;
}

struct tx_out {
    struct wr_opts w;
    const char *format, *name;
};

static enum err_code tx_output_opts(json_t *o, struct tx_out *out, struct err *err)
{
    memset(out, 0, sizeof(*out));
    out->w.format = WR_CSV;
    out->w.delimiter = ',';
    out->w.header = true;
    out->format = "csv";
    out->name = "result";
    if (!o || json_is_null(o))
        goto neut;
    if (!json_is_object(o))
        return err_set(err, E_INVALID, "option 'output' must be an object");
    static const char *const allowed[] = {
        "format", "name", "delimiter", "header", "neutraliseFormulas", "dateFormat", NULL};
    const char *sug, *key = op_unknown_key(o, allowed, &sug);
    if (key)
        return err_set(err, E_INVALID, "output: unknown field '%.60s'%s%s%s", key,
                       sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    json_t *v = json_object_get(o, "format");
    if (v) {
        const char *f = json_string_value(v);
        static const char *const fmts[] = {"csv", "json", "jsonl", "xlsx"};
        size_t k = 0;
        while (f && k < 4 && strcmp(fmts[k], f))
            k++;
        if (!f || k == 4)
            return err_set(err, E_INVALID,
                           "output: 'format' must be \"csv\", \"json\", \"jsonl\" or \"xlsx\"");
        out->w.format = (enum wr_format)k;
        out->format = fmts[k];
    }
    v = json_object_get(o, "name");
    if (v) {
        const char *n = json_string_value(v);
        bool ok = n && *n && n[0] != '.' && strlen(n) <= LIM_TRANSFORM_NAME_LEN;
        for (const char *p = n; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '_' || *p == '-' || *p == '.' || *p == ' ';
        if (!ok)
            return err_set(err, E_INVALID,
                           "output: 'name' must be 1..%d letters, digits, '_', '-', '.' or "
                           "spaces, not starting with '.'",
                           LIM_TRANSFORM_NAME_LEN);
        out->name = n;
    }
    v = json_object_get(o, "delimiter");
    if (v) {
        const char *d = json_string_value(v);
        if (d && !strcmp(d, "tab"))
            d = "\t";
        if (!d || strlen(d) != 1 || *d == '"' || *d == '\n' || *d == '\r')
            return err_set(err, E_INVALID,
                           "output: 'delimiter' must be one character or "
                           "\"tab\"");
        out->w.delimiter = *d;
    }
    v = json_object_get(o, "header");
    if (v) {
        if (!json_is_boolean(v))
            return err_set(err, E_INVALID, "output: 'header' must be true or false");
        out->w.header = json_is_true(v);
    }
    v = json_object_get(o, "dateFormat");
    if (v && !json_is_null(v)) {
        const char *f = json_string_value(v);
        if (!f || !*f || strlen(f) > LIM_TRANSFORM_FORMAT_LEN || !xval_fmt_valid(f))
            return err_set(err, E_INVALID,
                           "output: 'dateFormat' must be a format like "
                           "\"%%d/%%m/%%Y\"");
        out->w.datefmt = f;
    }
neut:
    out->w.neutralise = out->w.format == WR_CSV || out->w.format == WR_XLSX;
    v = o ? json_object_get(o, "neutraliseFormulas") : NULL;
    if (v) {
        if (!json_is_boolean(v))
            return err_set(err, E_INVALID, "output: 'neutraliseFormulas' must be true or false");
        out->w.neutralise = json_is_true(v);
    }
    return E_OK;
}

static enum err_code tx_check_top(json_t *opt, struct err *err)
{
    static const char *const allowed[] = {"steps", "output", "delimiter", "header",
                                          "sheet", "types",  NULL};
    const char *sug, *key = op_unknown_key(opt, allowed, &sug);
    if (key)
        return err_set(err, E_INVALID, "unknown option '%.60s'%s%s%s", key,
                       sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    json_t *s = json_object_get(opt, "steps");
    if (s && !json_is_array(s))
        return err_set(err, E_INVALID, "option 'steps' must be an array of step objects");
    json_t *types = json_object_get(opt, "types");
    if (types && !json_is_object(types) && !json_is_string(types))
        return err_set(err, E_INVALID,
                       "option 'types' must be an object of column: type, or "
                       "\"string\" for every column");
    if (json_is_string(types) && strcmp(json_string_value(types), "string"))
        return err_set(err, E_INVALID, "option 'types' as a string must be \"string\"");
    if (s && json_array_size(s) > (size_t)LIM_TRANSFORM_STEPS)
        return err_set(err, E_LIMIT, "at most %d steps", LIM_TRANSFORM_STEPS);
    return E_OK;
}

/* ---- driver ---- */

enum err_code op_transform(const struct op_ctx *ctx, json_t **result, struct err *err)
{
    enum err_code rc = E_OK;
    struct tx t;
    size_t ncols = 0, rows_in = 0;
    struct tx_incol *ic = NULL;
    bool *need = NULL, cached = true;
    size_t *nidx = NULL, nneed = 0;
    struct buf cache;
    struct tx_schema src = {0};
    struct table_src *tsrc = NULL, *tsrc2 = NULL;
    json_t *steps = NULL, *res = NULL;
    struct xval *row = NULL;
    char path[4096];
    bool path_set = false;
    struct tx_out oo;
    memset(&t, 0, sizeof(t));
    xval_arena_init(&t.scratch, (size_t)LIM_TRANSFORM_SCRATCH_BYTES);
    xval_arena_init(&t.store, (size_t)LIM_TRANSFORM_ROWS_BYTES);
    buf_init(&t.key, (size_t)LIM_CSV_ROW_BYTES);
    buf_init(&cache, (size_t)LIM_TRANSFORM_CACHE_BYTES);

    json_t *opt = ctx->options;
    if (opt && !json_is_object(opt))
        return err_set(err, E_INVALID, "'options' must be an object");
    if (opt && (rc = tx_check_top(opt, err)))
        goto out;
    if ((rc = tx_output_opts(opt ? json_object_get(opt, "output") : NULL, &oo, err)))
        goto out;
    oo.w.max_bytes = ctx->max_output_bytes;
    t.datefmt = oo.w.datefmt;
    /* The steps are planned on a copy (sort normalises its "by"). */
    json_t *given = opt ? json_object_get(opt, "steps") : NULL;
    steps = given ? json_deep_copy(given) : json_array();
    if (!steps) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }

    /* Pass 1: infer the types of the columns the steps need and keep their
     * text (while it fits the cache) for the second pass. */
    if ((rc = table_open(ctx->input->path, ctx->input->kind, ctx->input->name, opt, &tsrc, err)))
        goto out;
    ncols = tsrc->ncols;
    ic = calloc(ncols + 1, sizeof(*ic));
    need = calloc(ncols + 1, sizeof(*need));
    nidx = calloc(ncols + 1, sizeof(*nidx));
    if (!ic || !need || !nidx) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    tx_needed(steps, tsrc, need);
    for (size_t c = 0; c < ncols; c++) {
        ic[c].cand = TI_INT | TI_FLOAT | TI_BOOL | TI_DATE | TI_DATETIME;
        if (need[c])
            nidx[nneed++] = c;
    }
    for (;;) {
        const struct tcell *cells;
        size_t nc;
        bool eof;
        if ((rc = table_next_row(tsrc, &cells, &nc, &eof, err)))
            goto out;
        if (eof)
            break;
        for (size_t k = 0; k < nneed; k++) {
            size_t c = nidx[k];
            char tmp[XVAL_TEXT_MAX];
            size_t n = 0;
            const char *s = c < nc ? tx_cell_text(&cells[c], tmp, &n) : NULL;
            double num = 0;
            bool has_num = false;
            if (s)
                tx_classify(&ic[c], s, n, &num, &has_num);
            if (cached && !tx_cache_put(&cache, s, n, has_num ? &num : NULL)) {
                cached = false;
                buf_release(&cache);
            }
        }
        rows_in++;
    }
    if ((rc = tx_schema_alloc(&src, ncols, err)))
        goto out;
    for (size_t c = 0; c < ncols; c++) {
        src.names[c] = tsrc->names[c];
        src.types[c] = tx_infer(&ic[c]);
    }
    if ((rc = tx_apply_types(opt ? json_object_get(opt, "types") : NULL, &src, err)))
        goto out;

    /* Plan. */
    if ((rc = tx_plan(&t, steps, &src, err)))
        goto out;

    /* Output. */
    static const char *const exts[] = {"csv", "json", "jsonl", "xlsx"};
    if (snprintf(path, sizeof(path), "%s/%s.%s", ctx->out_dir, oo.name, exts[oo.w.format]) >=
        (int)sizeof(path)) {
        rc = err_set(err, E_INTERNAL, "output path too long");
        goto out;
    }
    path_set = true;
    struct wr_cols wc = {t.final.names, t.final.types, t.final.n};
    if (oo.w.format == WR_XLSX)
        rc = wr_xlsx_open(path, &oo.w, &wc, &t.wx, err);
    else
        rc = wr_text_open(path, &oo.w, &wc, &t.wt, err);
    if (rc)
        goto out;
    t.preview = json_array();
    if (!t.preview) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }

    /* Pass 2: stream the typed rows through the steps, from the cache or
     * from a second read. Columns no step needs stay null. */
    row = calloc(ncols + 1, sizeof(*row));
    if (!row) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    if (cached) {
        /* cache.data stays NULL when no row was cached (a header-only
         * table): NULL + 0 is undefined behaviour (found by fuzzing,
         * t_transform "header_only_cached"). */
        const char *p = cache.data, *e = p ? p + cache.len : p;
        while (!t.stop && p < e) {
            xval_arena_reset(&t.scratch);
            memset(row, 0, ncols * sizeof(*row));
            for (size_t k = 0; k < nneed; k++) {
                size_t c = nidx[k];
                uint32_t L;
                memcpy(&L, p, sizeof(L));
                p += sizeof(L);
                if (L == TX_CACHE_NULL)
                    continue;
                bool has_num = *p++;
                double num = 0;
                if (has_num) {
                    memcpy(&num, p, sizeof(num));
                    p += sizeof(num);
                }
                if (has_num && src.types[c] == XT_FLOAT)
                    row[c] = (struct xval){.t = XT_FLOAT, .u.f = num}; /* as tx_convert reads it */
                else
                    tx_convert(p, L, src.types[c], &row[c]);
                p += L;
            }
            if ((rc = tx_push(&t, 0, row, err)))
                goto out;
        }
        goto finish;
    }
    if ((rc = table_open(ctx->input->path, ctx->input->kind, ctx->input->name, opt, &tsrc2, err)))
        goto out;
    if (tsrc2->ncols != ncols) {
        rc = err_set(err, E_INTERNAL, "the input changed between two reads");
        goto out;
    }
    while (!t.stop) {
        const struct tcell *cells;
        size_t nc;
        bool eof;
        if ((rc = table_next_row(tsrc2, &cells, &nc, &eof, err)))
            goto out;
        if (eof)
            break;
        xval_arena_reset(&t.scratch);
        memset(row, 0, ncols * sizeof(*row));
        for (size_t k = 0; k < nneed; k++) {
            size_t c = nidx[k];
            char tmp[XVAL_TEXT_MAX];
            size_t n;
            const char *s = c < nc ? tx_cell_text(&cells[c], tmp, &n) : NULL;
            if (!s)
                continue;
            if (s == tmp && src.types[c] == XT_STRING) {
                char *p = xval_arena_alloc(&t.scratch, n, err);
                if (!p) {
                    rc = err->code;
                    goto out;
                }
                memcpy(p, tmp, n);
                s = p;
            }
            tx_convert(s, n, src.types[c], &row[c]);
        }
        if ((rc = tx_push(&t, 0, row, err)))
            goto out;
    }
finish:
    for (size_t k = 0; k < t.nsteps; k++) {
        struct tx_step *st = &t.steps[k];
        if (st->kind == S_SORT || (st->kind == S_DEDUPE && st->keep_last))
            rc = tx_emit_rows(&t, k, err);
        else if (st->kind == S_GROUP)
            rc = tx_group_finish(&t, k, err);
        if (rc)
            goto out;
    }
    size_t bytes = 0;
    if (t.wx) {
        rc = wr_xlsx_finish(t.wx, &bytes, err);
    } else {
        rc = wr_text_finish(t.wt, &bytes, err);
    }
    if (rc)
        goto out;

    /* Result. */
    json_t *cols = json_array(), *sj = json_array();
    res = json_object();
    if (!cols || !sj || !res) {
        json_decref(cols);
        json_decref(sj);
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < t.final.n; i++)
        json_array_append_new(cols, json_pack("{s:s,s:s}", "name", t.final.names[i], "type",
                                              xval_type_name(t.final.types[i])));
    for (size_t k = 0; k < t.nsteps; k++)
        json_array_append_new(sj, json_pack("{s:s,s:I}", "op", tx_kind_names[t.steps[k].kind],
                                            "rowsOut", (json_int_t)t.steps[k].rows_out));
    char fname[LIM_TRANSFORM_NAME_LEN + 16];
    snprintf(fname, sizeof(fname), "%s.%s", oo.name, exts[oo.w.format]);
    json_object_set_new(res, "rowsIn", json_integer((json_int_t)rows_in));
    json_object_set_new(res, "rowsOut", json_integer((json_int_t)t.rows_out));
    json_object_set_new(res, "columns", cols);
    json_object_set_new(res, "steps", sj);
    json_object_set_new(
        res, "output",
        json_pack("{s:s,s:s,s:I}", "file", fname, "format", oo.format, "bytes", (json_int_t)bytes));
    json_object_set_new(res, "preview", t.preview);
    t.preview = NULL;
    json_t *notes = json_deep_copy(tsrc->notes);
    if (notes)
        json_object_set_new(res, "source", notes);
    *result = res;
    res = NULL;
    path_set = false;
out:
    if (rc && path_set) {
        wr_text_free(t.wt);
        wr_xlsx_free(t.wx);
        t.wt = NULL;
        t.wx = NULL;
        unlink(path);
    }
    json_decref(res);
    json_decref(steps);
    free(row);
    free(ic);
    free(need);
    free(nidx);
    buf_release(&cache);
    free(src.names);
    free(src.types);
    tx_release(&t);
    table_close(tsrc2);
    table_close(tsrc);
    return rc;
}
