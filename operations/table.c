#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "klimits.h"
#include "rd_csv.h"
#include "rd_json.h"

#include "banned.h"

static bool table_ext_is(const char *name, const char *ext)
{
    if (!name)
        return false;
    const char *dot = strrchr(name, '.');
    return dot && !strcasecmp(dot + 1, ext);
}

enum err_code table_open(const char *path, const char *kind, const char *name, json_t *options,
                         struct table_src **out, struct err *err)
{
    const char *k = kind ? kind : "";
    if (options && !json_is_object(options))
        return err_set(err, E_INVALID, "'options' must be an object");
    if (!strcmp(k, "xlsx") || (!strcmp(k, "zip") && table_ext_is(name, "xlsx")))
        return table_open_xlsx(path, NULL, options, out, err);
    if (!strcmp(k, "xls"))
        return err_set(err, E_UNSUPPORTED,
                       "'%s' is a legacy .xls (or encrypted) workbook; save it as .xlsx",
                       name ? name : "");
    if (!strcmp(k, "csv") || !strcmp(k, "tsv") || !strcmp(k, "text"))
        return rd_csv_open(path, !strcmp(k, "tsv") || table_ext_is(name, "tsv"), options, out, err);
    if (!strcmp(k, "json") || !strcmp(k, "jsonl"))
        return rd_json_open(path, !strcmp(k, "jsonl"), options, out, err);
    /* Unknown sniff (e.g. UTF-16 text): trust the name's extension. */
    if (table_ext_is(name, "csv") || table_ext_is(name, "txt") || table_ext_is(name, "tab"))
        return rd_csv_open(path, false, options, out, err);
    if (table_ext_is(name, "tsv"))
        return rd_csv_open(path, true, options, out, err);
    if (table_ext_is(name, "json"))
        return rd_json_open(path, false, options, out, err);
    if (table_ext_is(name, "jsonl") || table_ext_is(name, "ndjson"))
        return rd_json_open(path, true, options, out, err);
    return err_set(err, E_UNSUPPORTED, "cannot read '%s' as a table (kind %s)", name ? name : "",
                   kind && *kind ? kind : "unknown");
}

enum err_code table_next_row(struct table_src *src, const struct tcell **cells, size_t *ncells,
                             bool *eof, struct err *err)
{
    return src->ops->next_row(src, cells, ncells, eof, err);
}

void table_close(struct table_src *src)
{
    if (src)
        src->ops->close(src);
}

enum err_code table_src_new(const struct table_ops *ops, void *impl, struct table_src **out,
                            struct err *err)
{
    struct table_src *s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(err, E_NOMEM, "out of memory");
    s->notes = json_object();
    if (!s->notes) {
        free(s);
        return err_set(err, E_NOMEM, "out of memory");
    }
    s->ops = ops;
    s->impl = impl;
    *out = s;
    return E_OK;
}

void table_src_free(struct table_src *src)
{
    if (!src)
        return;
    for (size_t i = 0; i < src->ncols; i++)
        free(src->names[i]);
    free(src->names);
    json_decref(src->notes);
    free(src);
}

static char *table_strndup(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static size_t table_strset_find(const struct table_strset *s, uint64_t h, const char *p,
                                size_t len);

/* Index of (p,len)'s entry in s, or (size_t)-1. */
static size_t table_strset_index(const struct table_strset *s, const char *p, size_t len)
{
    size_t slot = table_strset_find(s, table_hash(p, len), p, len);
    if (slot == (size_t)-1 || !s->slots[slot])
        return (size_t)-1;
    return s->slots[slot] - 1;
}

enum err_code table_set_names(struct table_src *src, const char *const *raw, const size_t *lens,
                              size_t n, struct err *err)
{
    enum err_code rc = E_OK;
    struct table_strset seen, used;
    /* Per base name (entry of `seen`), the next suffix to try: suffixes of
     * one base are handed out in increasing order, so a header of 16384
     * equal names costs n tries, not n^2. */
    size_t *next_k = calloc(n ? n : 1, sizeof(*next_k));
    table_strset_init(&seen, (size_t)-1);
    table_strset_init(&used, (size_t)-1);
    char **names = calloc(n ? n : 1, sizeof(*names));
    if (!names || !next_k) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    /* Pass 1: the base names; all of them are taken before suffixes are made. */
    for (size_t i = 0; i < n; i++) {
        if (!raw[i] || !lens[i]) {
            char tmp[32];
            int k = snprintf(tmp, sizeof(tmp), "Unnamed: %zu", i);
            names[i] = table_strndup(tmp, (size_t)k);
        } else {
            names[i] = table_strndup(raw[i], lens[i]);
        }
        if (!names[i]) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = table_strset_add(&seen, names[i], strlen(names[i]), i, NULL, err)))
            goto out;
    /* Pass 2: later duplicates get ".k" with the smallest k not taken. */
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (!table_strset_has(&used, names[i], len)) {
            if ((rc = table_strset_add(&used, names[i], len, i, NULL, err)))
                break;
            continue;
        }
        size_t base = table_strset_index(&seen, names[i], len);
        size_t k0 = base != (size_t)-1 && next_k[base] ? next_k[base] : 1;
        for (size_t k = k0;; k++) {
            char *cand = malloc(len + 24);
            if (!cand) {
                rc = err_set(err, E_NOMEM, "out of memory");
                break;
            }
            int m = snprintf(cand, len + 24, "%s.%zu", names[i], k);
            if (!table_strset_has(&used, cand, (size_t)m) &&
                !table_strset_has(&seen, cand, (size_t)m)) {
                free(names[i]);
                names[i] = cand;
                if (base != (size_t)-1)
                    next_k[base] = k + 1;
                rc = table_strset_add(&used, cand, (size_t)m, i, NULL, err);
                break;
            }
            free(cand);
        }
        if (rc)
            break;
    }
    if (rc)
        goto out;
    for (size_t i = 0; i < src->ncols; i++)
        free(src->names[i]);
    free(src->names);
    src->names = names;
    src->ncols = n;
    names = NULL;
out:
    if (names) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    free(next_k);
    table_strset_release(&seen);
    table_strset_release(&used);
    return rc;
}

enum err_code table_set_default_names(struct table_src *src, size_t n, struct err *err)
{
    char **names = calloc(n ? n : 1, sizeof(*names));
    if (!names)
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char tmp[32];
        int k = snprintf(tmp, sizeof(tmp), "column_%zu", i + 1);
        names[i] = table_strndup(tmp, (size_t)k);
        if (!names[i]) {
            for (size_t j = 0; j < i; j++)
                free(names[j]);
            free(names);
            return err_set(err, E_NOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < src->ncols; i++)
        free(src->names[i]);
    free(src->names);
    src->names = names;
    src->ncols = n;
    return E_OK;
}

/* ---- string set ---- */

static uint64_t table_mum(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t ha = a >> 32, la = (uint32_t)a, hb = b >> 32, lb = (uint32_t)b;
    uint64_t rh = ha * hb, rm0 = ha * lb, rm1 = hb * la, rl = la * lb, t = rl + (rm0 << 32);
    uint64_t c = t < rl;
    uint64_t lo = t + (rm1 << 32);
    c += lo < t;
    uint64_t hi = rh + (rm0 >> 32) + (rm1 >> 32) + c;
    return lo ^ hi;
#endif
}

static uint64_t table_r8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t table_r4(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

uint64_t table_hash(const void *key, size_t len)
{
    /* Multiply-fold mixing of 16-byte blocks; short keys (most cells) take
     * two overlapping loads and two multiplications. */
    static const uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL,
                          k2 = 0x8ebc6af09c88c6e3ULL;
    const unsigned char *p = key;
    uint64_t seed = k0 ^ table_mum(len ^ k1, k0), a, b;
    if (len <= 16) {
        if (len >= 4) {
            size_t d = (len >> 3) << 2;
            a = table_r4(p) << 32 | table_r4(p + d);
            b = table_r4(p + len - 4) << 32 | table_r4(p + len - 4 - d);
        } else if (len) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[len >> 1] << 8 | p[len - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = len;
        while (i > 16) {
            seed = table_mum(table_r8(p) ^ k1, table_r8(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = table_r8(p + i - 16);
        b = table_r8(p + i - 8);
    }
    return table_mum(k1 ^ len, table_mum(a ^ k1, b ^ seed ^ k2));
}

void table_strset_init(struct table_strset *s, size_t max_entries)
{
    memset(s, 0, sizeof(*s));
    s->max_entries = max_entries;
}

void table_strset_release(struct table_strset *s)
{
    if (!s)
        return;
    free(s->slots);
    free(s->ents);
    free(s->arena);
    memset(s, 0, sizeof(*s));
}

size_t table_strset_bytes(const struct table_strset *s)
{
    return s->nslots * sizeof(size_t) + s->cap * sizeof(*s->ents) + s->acap;
}

static size_t table_strset_find(const struct table_strset *s, uint64_t h, const char *p, size_t len)
{
    if (!s->nslots)
        return (size_t)-1;
    size_t mask = s->nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        size_t v = s->slots[i];
        if (!v)
            return i;
        const struct table_strset_ent *e = &s->ents[v - 1];
        /* len 0: the arena may still be NULL (only "" added so far), and
         * NULL + 0 is undefined behaviour (found by fuzzing, t_csv
         * "json_empty_key"). */
        if (e->hash == h && e->len == len && (!len || !memcmp(s->arena + e->off, p, len)))
            return i;
    }
}

bool table_strset_has(const struct table_strset *s, const char *p, size_t len)
{
    size_t i = table_strset_find(s, table_hash(p, len), p, len);
    return i != (size_t)-1 && s->slots[i];
}

static enum err_code table_strset_grow(struct table_strset *s, struct err *err)
{
    size_t ns = s->nslots ? s->nslots * 2 : 64;
    size_t *slots = calloc(ns, sizeof(*slots));
    if (!slots)
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (size_t)s->ents[k].hash & (ns - 1);
        while (slots[i])
            i = (i + 1) & (ns - 1);
        slots[i] = k + 1;
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = ns;
    return E_OK;
}

enum err_code table_strset_add(struct table_strset *s, const char *p, size_t len, size_t at,
                               bool *is_new, struct err *err)
{
    uint64_t h = table_hash(p, len);
    size_t i = table_strset_find(s, h, p, len);
    if (i != (size_t)-1 && s->slots[i]) {
        struct table_strset_ent *e = &s->ents[s->slots[i] - 1];
        e->count++;
        if (at < e->first)
            e->first = at;
        if (is_new)
            *is_new = false;
        return E_OK;
    }
    if (s->n >= s->max_entries)
        return err_set(err, E_LIMIT, "too many distinct values");
    if ((s->n + 1) * 2 > s->nslots) {
        enum err_code rc = table_strset_grow(s, err);
        if (rc)
            return rc;
        i = table_strset_find(s, h, p, len);
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        void *ne = realloc(s->ents, nc * sizeof(*s->ents));
        if (!ne)
            return err_set(err, E_NOMEM, "out of memory");
        s->ents = ne;
        s->cap = nc;
    }
    if (s->alen + len > s->acap) {
        size_t na = s->acap ? s->acap : 256;
        while (na < s->alen + len)
            na *= 2;
        char *a = realloc(s->arena, na);
        if (!a)
            return err_set(err, E_NOMEM, "out of memory");
        s->arena = a;
        s->acap = na;
    }
    if (len)
        memcpy(s->arena + s->alen, p, len);
    s->ents[s->n] = (struct table_strset_ent){h, s->alen, len, 1, at};
    s->alen += len;
    s->slots[i] = ++s->n;
    if (is_new)
        *is_new = true;
    return E_OK;
}
