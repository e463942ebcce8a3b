#include "op_analyze.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "expr.h"
#include "klimits.h"
#include "report.h"
#include "table.h"

#include "banned.h"

/*
 * Type inference (docs/analyze.md has the user-facing version):
 *  - A cell is missing when it is empty or one of pandas' default NA
 *    strings (AN_NA below), compared exactly. Missing cells never vote.
 *  - integer: every value is [ws][+-]digits[ws] fitting int64 (or uint64
 *    when positive), like pandas' int64/uint64 columns.
 *  - float: every value is a number as pandas' read_csv accepts it (decimal
 *    with optional exponent, inf/infinity with sign, any case), and some
 *    value is not an integer.
 *  - boolean: every value is True/False/TRUE/FALSE/true/false.
 *  - date: every value is YYYY-MM-DD; datetime: every value is
 *    YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|+HH:MM|-HH:MM|+HHMM] or a date.
 *  - string: anything else; empty: no value at all.
 * Typed JSON cells vote for their own type (numbers, booleans).
 * Statistics: count/missing; distinct exact (numeric: by value; others by
 * text) up to LIM_ANALYZE_DISTINCT per column and LIM_ANALYZE_DISTINCT_BYTES
 * for all sets, then a lower bound flagged distinctApproximate; mean with
 * pairwise summation, std two-pass (ddof 1), quartiles with linear
 * interpolation (numpy's lerp) on the radix-sorted values, which also give
 * the numeric distinct counts and runs; top values by count, ties by first
 * appearance; correlations Pearson over pairwise complete rows.
 * Threads: the scan runs a reader thread (rows copied into batches) and two
 * column workers that each take a (column, next batch) task, so a column
 * sees its rows in order on one thread at a time; numeric summaries run on
 * two threads too. Shared budgets are atomics.
 */

/* ---- memory and the distinct-value set ---- */

/* Large arrays (values, sets, sort scratch) live in their own mappings
 * with transparent huge pages: on many (virtual) machines the 4 KiB page
 * faults of fresh memory cost more than the analysis itself. Smaller ones
 * use malloc. Callers pass the byte sizes they hold. */
#define AN_BIG ((size_t)2 << 20)

static size_t an_round(size_t b)
{
    return (b + AN_BIG - 1) & ~(AN_BIG - 1);
}

static void an_advise(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

/* Grow a block from oldb to newb bytes (contents kept; new bytes zero when
 * the block is mapped, unspecified otherwise). NULL on failure, p intact. */
static void *an_grow(void *p, size_t oldb, size_t newb)
{
    if (newb < AN_BIG)
        return realloc(p, newb ? newb : 1);
    size_t nr = an_round(newb);
    void *q;
    if (oldb < AN_BIG) {
        q = mmap(NULL, nr, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q == MAP_FAILED)
            return NULL;
        an_advise(q, nr);
        if (p && oldb)
            memcpy(q, p, oldb);
        free(p);
        return q;
    }
    size_t orr = an_round(oldb);
    if (nr == orr)
        return p;
    q = mremap(p, orr, nr, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return NULL;
    an_advise(q, nr);
    return q;
}

/* A zeroed block of `bytes`. */
static void *an_zalloc(size_t bytes)
{
    if (bytes < AN_BIG)
        return calloc(1, bytes ? bytes : 1);
    return an_grow(NULL, 0, bytes);
}

static void an_release(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < AN_BIG)
        free(p);
    else
        munmap(p, an_round(bytes));
}

/* Grow an array of `size`-byte elements from oldn to newn. */
static void *an_realloc(void *p, size_t oldn, size_t newn, size_t size)
{
    if (newn > SIZE_MAX / size)
        return NULL;
    return an_grow(p, oldn * size, newn * size);
}

/* One distinct text: its bytes in the arena and how often it was seen.
 * Entries are in order of first appearance (their index is the rank). */
struct an_sent {
    uint64_t off;
    uint32_t len, count;
};

/* Open addressing; a slot is (hash high 32 bits) << 32 | (entry + 1), 0 empty. */
struct an_sset {
    uint64_t *slots;
    size_t nslots;
    struct an_sent *ents;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
};

/* Bytes in use (what the LIM_ANALYZE_DISTINCT_BYTES budget counts):
 * capacity never written costs no memory. */
static size_t an_sset_bytes(const struct an_sset *t)
{
    return t->nslots * sizeof(*t->slots) + t->n * sizeof(*t->ents) + t->alen;
}

static void an_sset_release(struct an_sset *t)
{
    an_release(t->slots, t->nslots * sizeof(*t->slots));
    an_release(t->ents, t->cap * sizeof(*t->ents));
    an_release(t->arena, t->acap);
    memset(t, 0, sizeof(*t));
}

/* Add one occurrence. *added: bytes newly allocated; E_LIMIT when a new
 * entry would pass max_entries or the byte budget `room`. */
static enum err_code an_sset_add(struct an_sset *t, const char *s, size_t n, size_t room,
                                 size_t *added, struct err *err)
{
    uint64_t h = table_hash(s, n);
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = 0;
    *added = 0;
    if (t->nslots) {
        size_t mask = t->nslots - 1;
        for (i = tag & mask;; i = (i + 1) & mask) {
            uint64_t v = t->slots[i];
            if (!v)
                break;
            if ((uint32_t)(v >> 32) == tag) {
                struct an_sent *e = &t->ents[(uint32_t)v - 1];
                /* n == 0: the arena may not exist yet (only empty texts). */
                if (e->len == n && (n == 0 || !memcmp(t->arena + e->off, s, n))) {
                    e->count++;
                    return E_OK;
                }
            }
        }
    }
    if (t->n >= (size_t)LIM_ANALYZE_DISTINCT || n > UINT32_MAX)
        return E_LIMIT;
    /* Room for the new entry: slots (load <= 3/4: probes stay within a
     * cache line or two), entries, bytes. */
    size_t ns = t->nslots, ec = t->cap, ac = t->acap;
    if ((t->n + 1) * 4 > ns * 3)
        ns = ns ? ns * 2 : 64;
    if (t->n == ec)
        ec = ec ? ec * 2 : 64;
    /* The arena exists once there is an entry, even an empty text, so that
     * arena + off is always a valid pointer. */
    if (t->alen + n > ac || !ac) {
        ac = ac ? ac : 1024;
        while (ac < t->alen + n)
            ac *= 2;
    }
    size_t grow = (ns - t->nslots) * sizeof(*t->slots) + sizeof(*t->ents) + n;
    if (grow > room)
        return E_LIMIT;
    if (ns != t->nslots) {
        uint64_t *sl = an_zalloc(ns * sizeof(*sl));
        if (!sl)
            return err_set(err, E_NOMEM, "out of memory");
        for (size_t k = 0; k < t->nslots; k++) {
            uint64_t v = t->slots[k];
            if (!v)
                continue;
            size_t j = (size_t)(v >> 32) & (ns - 1);
            while (sl[j])
                j = (j + 1) & (ns - 1);
            sl[j] = v;
        }
        an_release(t->slots, t->nslots * sizeof(*t->slots));
        t->slots = sl;
        t->nslots = ns;
        for (i = tag & (ns - 1); sl[i]; i = (i + 1) & (ns - 1))
            ;
    }
    if (ec != t->cap) {
        struct an_sent *ne = an_realloc(t->ents, t->cap, ec, sizeof(*ne));
        if (!ne)
            return err_set(err, E_NOMEM, "out of memory");
        t->ents = ne;
        t->cap = ec;
    }
    if (ac != t->acap) {
        char *na = an_realloc(t->arena, t->acap, ac, 1);
        if (!na)
            return err_set(err, E_NOMEM, "out of memory");
        t->arena = na;
        t->acap = ac;
    }
    if (n)
        memcpy(t->arena + t->alen, s, n);
    t->ents[t->n] = (struct an_sent){t->alen, (uint32_t)n, 1};
    t->alen += n;
    t->slots[i] = (uint64_t)tag << 32 | (uint64_t)(t->n + 1);
    t->n++;
    *added = grow;
    return E_OK;
}

enum an_type { AT_INT = 1, AT_FLOAT = 2, AT_BOOL = 4, AT_DATE = 8, AT_DATETIME = 16 };

struct an_wide {
    size_t row;
    uint64_t bits; /* the int64, two's complement */
};

struct an_col {
    size_t idx; /* source column */
    const char *name;
    size_t count, missing;
    unsigned cand;  /* still possible types */
    bool saw_float; /* a numeric value not written as an integer */
    bool saw_time;  /* a datetime value with a time of day */
    /* Numeric: one slot per row (NaN = missing) while AT_INT|AT_FLOAT. */
    double *vals;
    size_t nvals, capvals;
    bool vals_dropped; /* LIM_ANALYZE_NUMBERS reached */
    /* Integers of magnitude 2^53 and more, which doubles cannot tell apart
     * (IDs): exact, with their rows, for min, max, distinct and top. */
    struct an_wide *wide;
    size_t nwide, capwide;
    bool int_neg; /* an integer below 0 */
    bool int_u64; /* an integer past INT64_MAX (then doubles, as before) */
    bool saw_big; /* an integer past 64 bits (a float, or the column is text) */
    /* Text values (not collected while numeric; see demote_row). */
    struct an_sset set;
    bool set_full;
    size_t demote_row; /* first row whose text went into set */
    bool need_pass2;
    struct an_numres *nres; /* numeric statistics, once summarised */
    /* Booleans, dates, lengths. */
    size_t ntrue;
    double tmin, tmax; /* datetime seconds */
    size_t lmin, lmax;
    double lsum;
};

struct an_state {
    struct an_col *cols;
    size_t ncols;
    size_t rows;
    atomic_size_t numbers;   /* doubles allocated over all columns */
    atomic_size_t set_bytes; /* bytes of all distinct-value sets */
    size_t topn;
};

/* ---- cell classification ---- */

static const char *const an_na[] = {"#N/A", "#N/A N/A", "#NA",     "-1.#IND", "-1.#QNAN", "-NaN",
                                    "-nan", "1.#IND",   "1.#QNAN", "<NA>",    "N/A",      "NA",
                                    "NULL", "NaN",      "n/a",     "nan",     "null"};

static bool an_is_na(const char *s, size_t n)
{
    if (!n)
        return true;
    if (n > 8)
        return false;
    switch (s[0]) {
    case '#':
    case '-':
    case '1':
    case '<':
    case 'N':
    case 'n':
        break;
    default:
        return false;
    }
    for (size_t i = 0; i < sizeof(an_na) / sizeof(an_na[0]); i++)
        if (strlen(an_na[i]) == n && !memcmp(an_na[i], s, n))
            return true;
    return false;
}

static bool an_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static const double an_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool an_ieq(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

/* Whether s[0..n) holds one of the characters of set. */
static bool an_has_any(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(set, s[i]) && s[i])
            return true;
    return false;
}

/* Parse a number as pandas' read_csv would. *is_int: written as an integer,
 * whose magnitude and sign are then in *mag and *mneg, unless *big: past
 * the 64-bit range, no integer dtype holds it (*out is then its double). */
static bool an_number(const char *s, size_t n, double *out, bool *is_int, uint64_t *mag, bool *mneg,
                      bool *big)
{
    *big = false;
    size_t a = 0, b = n;
    while (a < b && an_space(s[a]))
        a++;
    while (b > a && an_space(s[b - 1]))
        b--;
    if (a == b)
        return false;
    const char *p = s + a, *e = s + b;
    bool neg = false;
    const char *q = p;
    if (*q == '+' || *q == '-') {
        neg = *q == '-';
        q++;
    }
    /* Fast path and syntax check together. */
    uint64_t m = 0;
    int digits = 0, fdigits = 0, sig = 0;
    bool overflow = false;
    const char *d = q;
    while (d < e && *d >= '0' && *d <= '9') {
        unsigned v = (unsigned)(*d - '0');
        if (sig || v) {
            sig++;
        }
        if (m > (UINT64_MAX - v) / 10)
            overflow = true;
        else
            m = m * 10 + v;
        digits++;
        d++;
    }
    bool frac = false, expo = false;
    if (d < e && *d == '.') {
        frac = true;
        d++;
        while (d < e && *d >= '0' && *d <= '9') {
            unsigned v = (unsigned)(*d - '0');
            if (sig || v)
                sig++;
            if (m > (UINT64_MAX - v) / 10)
                overflow = true;
            else
                m = m * 10 + v;
            fdigits++;
            d++;
        }
    }
    if (digits + fdigits == 0) {
        size_t k = (size_t)(e - q);
        if (an_ieq(q, k, "inf") || an_ieq(q, k, "infinity")) {
            *out = neg ? -INFINITY : INFINITY;
            *is_int = false;
            return true;
        }
        return false;
    }
    if (d < e && (*d == 'e' || *d == 'E')) {
        expo = true;
        d++;
        if (d < e && (*d == '+' || *d == '-'))
            d++;
        const char *ds = d;
        while (d < e && *d >= '0' && *d <= '9')
            d++;
        if (d == ds)
            return false;
    }
    if (d != e)
        return false;
    *is_int = !frac && !expo;
    if (*is_int && !overflow && !(neg && m > (uint64_t)INT64_MAX + 1)) {
        *out = neg ? -(double)m : (double)m;
        *mag = m;
        *mneg = neg && m;
        return true;
    }
    if (*is_int) {
        /* pandas reads it as a float in a column with floats, and keeps a
         * column of integers with it as text (decided at the end) */
        *big = true;
    } else if (!expo && !overflow && sig <= 15 && fdigits <= 22) {
        double v = (double)m / an_pow10[fdigits];
        *out = neg ? -v : v;
        return true;
    }
    char tmp[128];
    char *buf = tmp;
    size_t len = (size_t)(e - p);
    if (len >= sizeof(tmp)) {
        buf = malloc(len + 1);
        if (!buf)
            return false;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    bool ok = end == buf + len;
    if (buf != tmp)
        free(buf);
    *out = v;
    return ok;
}

static bool an_bool(const char *s, size_t n, bool *v)
{
    if (n == 4 && (!memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4) || !memcmp(s, "true", 4))) {
        *v = true;
        return true;
    }
    if (n == 5 && (!memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5) || !memcmp(s, "false", 5))) {
        *v = false;
        return true;
    }
    return false;
}

static int64_t an_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool an_digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

/* ISO 8601 date or date-time; seconds since the epoch (UTC; offsets applied). */
static bool an_datetime(const char *s, size_t n, double *secs, bool *date_only)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (n < 10 || s[4] != '-' || s[7] != '-')
        return false;
    if (!an_digits(s, 4, &y) || !an_digits(s + 5, 2, &mo) || !an_digits(s + 8, 2, &d))
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    double frac = 0;
    int off = 0;
    *date_only = n == 10;
    if (n > 10) {
        size_t i = 10;
        if (s[i] != 'T' && s[i] != ' ')
            return false;
        i++;
        if (n < i + 5 || s[i + 2] != ':' || !an_digits(s + i, 2, &h) ||
            !an_digits(s + i + 3, 2, &mi))
            return false;
        i += 5;
        if (i < n && s[i] == ':') {
            if (n < i + 3 || !an_digits(s + i + 1, 2, &se))
                return false;
            i += 3;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                i++;
                double scale = 0.1;
                size_t st = i;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    frac += (s[i] - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == st)
                    return false;
            }
        }
        if (i < n && s[i] == 'Z') {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int oh, om = 0;
            int sign = s[i] == '-' ? -1 : 1;
            i++;
            if (n < i + 2 || !an_digits(s + i, 2, &oh))
                return false;
            i += 2;
            if (i < n && s[i] == ':')
                i++;
            if (i + 2 <= n) {
                if (!an_digits(s + i, 2, &om))
                    return false;
                i += 2;
            }
            off = sign * (oh * 3600 + om * 60);
        }
        if (i != n || h > 23 || mi > 59 || se > 60)
            return false;
    }
    *secs = (double)an_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400.0 + h * 3600 +
            mi * 60 + se - off + frac;
    return true;
}

static size_t an_utf8_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* ---- per-cell work ---- */

static void an_drop_vals(struct an_state *st, struct an_col *c)
{
    atomic_fetch_sub(&st->numbers, c->capvals);
    an_release(c->vals, c->capvals * sizeof(*c->vals));
    c->vals = NULL;
    c->nvals = c->capvals = 0;
}

static void an_drop_wide(struct an_state *st, struct an_col *c)
{
    atomic_fetch_sub(&st->numbers, 2 * c->capwide);
    free(c->wide);
    c->wide = NULL;
    c->nwide = c->capwide = 0;
}

/* Keep an integer of magnitude mag >= 2^53 exactly (row order). */
static enum err_code an_push_wide(struct an_state *st, struct an_col *c, uint64_t mag, bool neg,
                                  size_t row, struct err *err)
{
    if (c->vals_dropped)
        return E_OK;
    if (c->nwide == c->capwide) {
        size_t nc = c->capwide ? c->capwide * 2 : 64;
        size_t add = 2 * (nc - c->capwide); /* counted in doubles */
        if (atomic_fetch_add(&st->numbers, add) + add > (size_t)LIM_ANALYZE_NUMBERS) {
            atomic_fetch_sub(&st->numbers, add);
            an_drop_wide(st, c);
            an_drop_vals(st, c);
            c->vals_dropped = true;
            return E_OK;
        }
        struct an_wide *nw = realloc(c->wide, nc * sizeof(*nw));
        if (!nw) {
            atomic_fetch_sub(&st->numbers, add);
            return err_set(err, E_NOMEM, "out of memory");
        }
        c->wide = nw;
        c->capwide = nc;
    }
    c->wide[c->nwide++] = (struct an_wide){row, neg ? ~mag + 1 : mag};
    return E_OK;
}

static enum err_code an_push_val(struct an_state *st, struct an_col *c, double v, size_t row,
                                 struct err *err)
{
    if (c->vals_dropped)
        return E_OK;
    if (row >= c->capvals) {
        size_t nc = c->capvals ? c->capvals * 2 : 1024;
        while (nc <= row)
            nc *= 2;
        size_t add = nc - c->capvals;
        if (atomic_fetch_add(&st->numbers, add) + add > (size_t)LIM_ANALYZE_NUMBERS) {
            atomic_fetch_sub(&st->numbers, add);
            an_drop_vals(st, c);
            c->vals_dropped = true;
            return E_OK;
        }
        double *nv = an_realloc(c->vals, c->capvals, nc, sizeof(*nv));
        if (!nv) {
            atomic_fetch_sub(&st->numbers, add);
            return err_set(err, E_NOMEM, "out of memory");
        }
        c->vals = nv;
        c->capvals = nc;
    }
    while (c->nvals < row)
        c->vals[c->nvals++] = NAN;
    c->vals[c->nvals++] = v;
    return E_OK;
}

static enum err_code an_set_add(struct an_state *st, struct an_col *c, const char *s, size_t n,
                                struct err *err)
{
    if (c->set_full)
        return E_OK;
    size_t used = atomic_load(&st->set_bytes), added = 0;
    size_t room =
        used < (size_t)LIM_ANALYZE_DISTINCT_BYTES ? (size_t)LIM_ANALYZE_DISTINCT_BYTES - used : 0;
    enum err_code rc = an_sset_add(&c->set, s, n, room, &added, err);
    if (rc == E_LIMIT) {
        c->set_full = true;
        return E_OK;
    }
    if (added)
        atomic_fetch_add(&st->set_bytes, added);
    return rc;
}

static enum err_code an_cell(struct an_state *st, struct an_col *c, const struct tcell *t,
                             size_t row, struct err *err)
{
    enum err_code rc;
    const char *s = t->s ? t->s : "";
    size_t n = t->len;
    if (t->type == TC_EMPTY || ((t->type == TC_STRING || t->type == TC_ERROR) && an_is_na(s, n))) {
        c->missing++;
        return E_OK;
    }
    c->count++;
    unsigned cand = c->cand;
    double v = 0;
    bool is_int = false, b = false, date_only = false;
    if (cand & (AT_INT | AT_FLOAT)) {
        bool num = false, mneg = false;
        uint64_t mag = 0;
        if (t->type == TC_NUMBER) {
            v = t->num;
            /* t->s holds t->len bytes, not a C string: a row's cells lie
             * side by side ("1" then "x.y" read as a float) */
            is_int = !t->s || !an_has_any(t->s, t->len, ".eEn");
            num = true;
            double dv;
            bool di, dbig;
            if (is_int && t->s && fabs(v) >= 9007199254740992.0 &&
                (!an_number(t->s, t->len, &dv, &di, &mag, &mneg, &dbig) || dbig))
                mag = 0; /* no exact text (past 64 bits): as the double */
            else if (is_int && !t->s)
                mag = 0;
        } else if (t->type == TC_STRING) {
            bool big = false;
            num = an_number(s, n, &v, &is_int, &mag, &mneg, &big);
            if (num && big) {
                c->saw_big = true;
                mag = 0;
            }
        }
        if (num) {
            if (!is_int && !c->saw_float && c->wide)
                an_drop_wide(st, c); /* a float column: doubles are what pandas has */
            if (!is_int)
                c->saw_float = true;
            c->cand = cand & (AT_INT | AT_FLOAT);
            if (c->saw_float)
                c->cand &= ~(unsigned)AT_INT;
            if ((rc = an_push_val(st, c, v, row, err)))
                return rc;
            if (is_int && !c->saw_float) {
                c->int_neg |= mneg;
                c->int_u64 |= !mneg && mag > (uint64_t)INT64_MAX;
                if (mag >= ((uint64_t)1 << 53) && (rc = an_push_wide(st, c, mag, mneg, row, err)))
                    return rc;
            }
            goto length;
        }
        /* Not a number: from here on the text matters; rows before this
         * one are collected again in a second pass. */
        c->cand &= ~(unsigned)(AT_INT | AT_FLOAT);
        an_drop_wide(st, c);
        an_drop_vals(st, c);
        c->demote_row = row;
        c->need_pass2 = c->count > 1;
    }
    cand = c->cand;
    if (cand & AT_BOOL) {
        if (t->type == TC_BOOL ? (b = t->num != 0, true)
                               : (t->type == TC_STRING && an_bool(s, n, &b))) {
            c->ntrue += b;
            c->cand = AT_BOOL;
        } else {
            c->cand &= ~(unsigned)AT_BOOL;
        }
    }
    if (c->cand & (AT_DATE | AT_DATETIME)) {
        bool ok = false;
        if (t->type == TC_DATETIME) {
            v = t->num;
            date_only = t->date_only;
            ok = true;
        } else if (t->type == TC_STRING) {
            ok = an_datetime(s, n, &v, &date_only);
        }
        if (ok) {
            if (c->count == 1 || v < c->tmin)
                c->tmin = v;
            if (c->count == 1 || v > c->tmax)
                c->tmax = v;
            if (!date_only)
                c->saw_time = true;
            c->cand &= AT_DATE | AT_DATETIME;
        } else {
            c->cand &= ~(unsigned)(AT_DATE | AT_DATETIME);
        }
    }
    if ((rc = an_set_add(st, c, s, n, err)))
        return rc;
length:;
    size_t L = an_utf8_len(s, n);
    if (c->count == 1 || L < c->lmin)
        c->lmin = L;
    if (L > c->lmax)
        c->lmax = L;
    c->lsum += (double)L;
    return E_OK;
}

/* ---- numeric summaries ---- */

/* numpy's pairwise summation. */
static double an_pairwise(const double *a, size_t n)
{
    if (n < 8) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (int k = 0; k < 8; k++)
            r[k] = a[k];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++)
                r[k] += a[i + k];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            s += a[i];
        return s;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return an_pairwise(a, n2) + an_pairwise(a + n2, n - n2);
}

/* Sorting keys of doubles: unsigned order equals numeric order (no NaN). */
union an_u {
    double d;
    uint64_t u;
};

static uint64_t an_key(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return (u >> 63) ? ~u : u | 0x8000000000000000ULL;
}

static double an_unkey(uint64_t k)
{
    uint64_t u = (k >> 63) ? k & 0x7FFFFFFFFFFFFFFFULL : ~k;
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* LSD radix sort of the keys in a[0..n) (11-bit digits; digits that are the
 * same in every key are skipped); b is scratch of n. Returns the buffer that
 * holds the sorted keys. */
static union an_u *an_radix(union an_u *a, union an_u *b, size_t n)
{
    enum { BITS = 11, PASSES = 6, BUCKETS = 1 << BITS };
    size_t(*hist)[BUCKETS] = calloc(PASSES, sizeof(*hist));
    if (!hist)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = a[i].u;
        for (int p = 0; p < PASSES; p++)
            hist[p][(k >> (p * BITS)) & (BUCKETS - 1)]++;
    }
    for (int p = 0; p < PASSES; p++) {
        size_t *h = hist[p];
        unsigned shift = (unsigned)(p * BITS);
        if (n && h[(a[0].u >> shift) & (BUCKETS - 1)] == n)
            continue; /* every key has this digit */
        size_t sum = 0;
        for (size_t d = 0; d < BUCKETS; d++) {
            size_t t = h[d];
            h[d] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t k = a[i].u;
            b[h[(k >> shift) & (BUCKETS - 1)]++].u = k;
        }
        union an_u *t = a;
        a = b;
        b = t;
    }
    free(hist);
    return a;
}

/* numpy's pairwise summation of (a[i] - m)^2, same blocking as an_pairwise. */
static double an_pairwise_sq(const double *a, size_t n, double m)
{
    if (n < 8) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += (a[i] - m) * (a[i] - m);
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (int k = 0; k < 8; k++)
            r[k] = (a[k] - m) * (a[k] - m);
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++)
                r[k] += (a[i + k] - m) * (a[i + k] - m);
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            s += (a[i] - m) * (a[i] - m);
        return s;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return an_pairwise_sq(a, n2, m) + an_pairwise_sq(a + n2, n - n2, m);
}

static double an_lerp(double a, double b, double t)
{
    double diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/* Quartiles of the sorted s[0..n) (numpy's linear method). */
static void an_quartiles(const double *s, size_t n, double q[3])
{
    static const double qs[3] = {0.25, 0.5, 0.75};
    for (int k = 0; k < 3; k++) {
        double vi = (double)n * qs[k] + (1 - qs[k]) - 1;
        size_t lo = (size_t)floor(vi);
        double t = vi - (double)lo;
        q[k] = lo >= n - 1 ? s[n - 1] : an_lerp(s[lo], s[lo + 1], t);
    }
}

struct an_top {
    size_t idx; /* entry index */
    size_t count, first;
};

/* Keep the best `cap` by count desc, first asc, in order. */
static void an_top_offer(struct an_top *top, size_t *n, size_t cap, size_t idx, size_t count,
                         size_t first)
{
    if (!cap)
        return;
    if (*n == cap) {
        struct an_top *w = &top[cap - 1];
        if (count < w->count || (count == w->count && first > w->first))
            return;
        (*n)--;
    }
    size_t i = *n;
    while (i > 0 &&
           (top[i - 1].count < count || (top[i - 1].count == count && top[i - 1].first > first))) {
        top[i] = top[i - 1];
        i--;
    }
    top[i] = (struct an_top){idx, count, first};
    (*n)++;
}

static json_t *an_num(double v)
{
    if (!isfinite(v))
        return json_null();
    return json_real(v);
}

static json_t *an_num_typed(double v, bool integer)
{
    if (integer && isfinite(v) && fabs(v) < 9007199254740992.0 && v == floor(v))
        return json_integer((json_int_t)v);
    return an_num(v);
}

static json_t *an_iso(double secs, bool date_only)
{
    char tmp[64];
    double fl = floor(secs);
    time_t t = (time_t)fl;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return json_null();
    if (date_only) {
        strftime(tmp, sizeof(tmp), "%Y-%m-%d", &tm);
    } else {
        size_t k = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
        double frac = secs - fl;
        if (frac > 0 && k < sizeof(tmp) - 10) {
            long us = lround(frac * 1e6);
            if (us > 0 && us < 1000000)
                snprintf(tmp + k, sizeof(tmp) - k, ".%06ld", us);
        }
    }
    return json_string(tmp);
}

static uint64_t an_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* The statistics of one numeric column, computed without touching JSON so
 * that columns can be summarised on several threads. */
struct an_numres {
    size_t n, distinct;
    double min, max, mean, std, q[3];
    bool has_std;
    size_t bins;
    size_t hist[30];
    size_t ntop;
    double topv[LIM_ANALYZE_TOPN];
    size_t topc[LIM_ANALYZE_TOPN];
    bool exact; /* integers past 2^53: these exact, not the doubles */
    int64_t emin, emax, topi[LIM_ANALYZE_TOPN];
};

/* Scratch of one summarising thread. */
struct an_scratch {
    union an_u *a, *b;
    size_t cap;
};

static enum err_code an_scratch_need(struct an_scratch *s, size_t n, struct err *err)
{
    if (n <= s->cap)
        return E_OK;
    an_release(s->a, s->cap * sizeof(*s->a));
    an_release(s->b, s->cap * sizeof(*s->b));
    s->a = an_grow(NULL, 0, n * sizeof(*s->a));
    s->b = an_grow(NULL, 0, n * sizeof(*s->b));
    s->cap = n;
    if (!s->a || !s->b) {
        an_release(s->a, n * sizeof(*s->a));
        an_release(s->b, n * sizeof(*s->b));
        s->a = s->b = NULL;
        s->cap = 0;
        return err_set(err, E_NOMEM, "out of memory");
    }
    return E_OK;
}

/* Normalised bits of a value for the candidate table (-0 is 0). */
static uint64_t an_vbits(double v)
{
    if (v == 0)
        v = 0;
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

/* Top values: runs of the sorted u[0..U) with counts cnt[]; first
 * appearances come from a scan of vals in row order. */
static enum err_code an_num_top(const double *vals, size_t nv, const double *u, const size_t *cnt,
                                size_t U, size_t topn, struct an_numres *r, struct err *err)
{
    enum err_code rc = E_OK;
    if (!topn || !U)
        return E_OK;
    /* Threshold: the topn-th largest count (min-heap of counts). */
    size_t T = 0, hn = 0;
    size_t heap[LIM_ANALYZE_TOPN];
    for (size_t i = 0; i < U; i++) {
        size_t c = cnt[i];
        if (hn < topn) {
            size_t j = hn++;
            while (j && heap[(j - 1) / 2] > c) {
                heap[j] = heap[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            heap[j] = c;
        } else if (c > heap[0]) {
            size_t j = 0;
            for (;;) {
                size_t l = 2 * j + 1, m = j;
                if (l < hn && heap[l] < c)
                    m = l;
                if (l + 1 < hn && heap[l + 1] < (m == j ? c : heap[m]))
                    m = l + 1;
                if (m == j)
                    break;
                heap[j] = heap[m];
                j = m;
            }
            heap[j] = c;
        }
    }
    T = U <= topn ? 0 : heap[0];
    /* Candidates: every run with count >= T, in a small hash (or, when
     * there are very many, binary search over u). */
    size_t ngreater = 0, ncand = 0;
    for (size_t i = 0; i < U; i++) {
        ngreater += cnt[i] > T;
        ncand += cnt[i] >= T;
    }
    size_t need_ties = U <= topn ? 0 : topn - ngreater;
    size_t nslots = 0;
    uint64_t *hk = NULL;
    uint32_t *hv = NULL;
    if (ncand <= 65536) {
        nslots = 64;
        while (nslots < ncand * 2)
            nslots *= 2;
        hk = calloc(nslots, sizeof(*hk));
        hv = calloc(nslots, sizeof(*hv));
        if (!hk || !hv) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < U; i++) {
            if (cnt[i] < T)
                continue;
            uint64_t k = an_vbits(u[i]) + 1;
            size_t h = (size_t)an_mix(k) & (nslots - 1);
            while (hk[h])
                h = (h + 1) & (nslots - 1);
            hk[h] = k;
            hv[h] = (uint32_t)i;
        }
    }
    /* Chosen runs with their first rows. */
    struct an_top sel[2 * LIM_ANALYZE_TOPN + 2];
    size_t nsel = 0, found_greater = 0, ties = 0;
    size_t want_all = U <= topn ? U : 0;
    for (size_t row = 0; row < nv; row++) {
        double v = vals[row];
        if (isnan(v))
            continue;
        size_t idx = (size_t)-1;
        if (hk) {
            uint64_t k = an_vbits(v) + 1;
            size_t h = (size_t)an_mix(k) & (nslots - 1);
            while (hk[h] && hk[h] != k)
                h = (h + 1) & (nslots - 1);
            if (hk[h])
                idx = hv[h];
        } else {
            size_t lo = 0, hi = U;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (u[mid] < v)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < U && u[lo] == v && cnt[lo] >= T)
                idx = lo;
        }
        if (idx == (size_t)-1)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nsel && !seen; k++)
            seen = sel[k].idx == idx;
        if (seen)
            continue;
        if (want_all || cnt[idx] > T) {
            sel[nsel++] = (struct an_top){idx, cnt[idx], row};
            found_greater++;
        } else if (ties < need_ties) {
            sel[nsel++] = (struct an_top){idx, cnt[idx], row};
            ties++;
        } else {
            continue;
        }
        if ((want_all ? found_greater == want_all : found_greater == ngreater) && ties == need_ties)
            break;
    }
    struct an_top top[LIM_ANALYZE_TOPN + 1];
    size_t ntop = 0;
    for (size_t k = 0; k < nsel; k++)
        an_top_offer(top, &ntop, topn, sel[k].idx, sel[k].count, sel[k].first);
    for (size_t k = 0; k < ntop; k++) {
        r->topv[k] = u[top[k].idx] == 0 ? 0 : u[top[k].idx];
        r->topc[k] = top[k].count;
    }
    r->ntop = ntop;
out:
    free(hk);
    free(hv);
    return rc;
}

/* Edge k of a histogram of bins bins of width w over [mn, mx] (numpy's
 * linspace: mn + w * k, the last one mx); one value only: [mn - 0.5,
 * mx + 0.5], as numpy.histogram makes it. */
static double an_hist_edge(double mn, double mx, double w, size_t bins, size_t k)
{
    if (mn == mx)
        return k ? mx + 0.5 : mn - 0.5;
    return k == bins ? mx : mn + w * (double)k;
}

struct an_erow {
    uint64_t key; /* the int64 with its sign bit flipped: unsigned order */
    size_t row;
};

static int an_erow_cmp(const void *pa, const void *pb)
{
    const struct an_erow *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* An integer column with values past 2^53 (c->wide): min, max, distinct
 * and top values from the exact integers (as pandas' int64 has them),
 * where the doubles merge 2^53 and 2^53 + 1. n: the values. */
static enum err_code an_exact_ints(const struct an_col *c, size_t n, size_t topn,
                                   struct an_numres *r, struct err *err)
{
    struct an_erow *e = malloc((n ? n : 1) * sizeof(*e));
    if (!e)
        return err_set(err, E_NOMEM, "out of memory");
    size_t k = 0, w = 0;
    const uint64_t flip = (uint64_t)1 << 63;
    for (size_t row = 0; row < c->nvals && k < n; row++) {
        double v = c->vals[row];
        if (isnan(v))
            continue;
        uint64_t bits;
        if (w < c->nwide && c->wide[w].row == row)
            bits = c->wide[w++].bits;
        else
            bits = (uint64_t)(int64_t)v; /* under 2^53: the double is exact */
        e[k++] = (struct an_erow){bits ^ flip, row};
    }
    qsort(e, k, sizeof(*e), an_erow_cmp);
    struct an_top top[LIM_ANALYZE_TOPN + 1];
    size_t ntop = 0, U = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i + 1;
        while (j < k && e[j].key == e[i].key)
            j++;
        an_top_offer(top, &ntop, topn, i, j - i, e[i].row); /* e[i]: its first row */
        U++;
        i = j;
    }
    if (k) {
        r->emin = (int64_t)(e[0].key ^ flip);
        r->emax = (int64_t)(e[k - 1].key ^ flip);
    }
    for (size_t i = 0; i < ntop; i++) {
        r->topi[i] = (int64_t)(e[top[i].idx].key ^ flip);
        r->topc[i] = top[i].count;
    }
    r->ntop = ntop;
    r->distinct = U;
    r->exact = k > 0;
    free(e);
    return E_OK;
}

/* Numeric column: stats from the row-aligned values (NaN = missing). */
static enum err_code an_numeric_compute(struct an_scratch *sc, const struct an_col *c, size_t topn,
                                        struct an_numres *r, struct err *err)
{
    enum err_code rc;
    memset(r, 0, offsetof(struct an_numres, topv));
    if ((rc = an_scratch_need(sc, c->nvals ? c->nvals : 1, err)))
        return rc;
    union an_u *a = sc->a;
    size_t n = 0;
    /* The compact values, as doubles in sc->b for the sums. */
    double *x = (double *)(void *)sc->b;
    for (size_t i = 0; i < c->nvals; i++)
        if (!isnan(c->vals[i]))
            x[n++] = c->vals[i];
    r->n = n;
    if (!n)
        return E_OK;
    double mn = x[0], mx = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < mn)
            mn = x[i];
        if (x[i] > mx)
            mx = x[i];
    }
    r->min = mn;
    r->max = mx;
    r->mean = an_pairwise(x, n) / (double)n;
    if (n > 1) {
        r->std = sqrt(an_pairwise_sq(x, n, r->mean) / (double)(n - 1));
        r->has_std = true;
    }
    /* Histogram (Sturges' bins over [min, max]). */
    size_t bins = (size_t)ceil(log2((double)n)) + 1;
    if (bins > 30)
        bins = 30;
    if (mn == mx || !isfinite(mn) || !isfinite(mx))
        bins = 1;
    double w = (mx - mn) / (double)bins;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        size_t k = bins == 1 ? 0 : (size_t)((x[i] - mn) / w);
        if (k >= bins)
            k = bins - 1;
        /* The division rounds (5.1 in [4.3, 4.7, 5.1...] gave 1.99...):
         * the bin is the one whose reported edges hold x, [e_k, e_k+1),
         * the last closed, as numpy.histogram puts it. */
        if (k > 0 && x[i] < an_hist_edge(mn, mx, w, bins, k))
            k--;
        else if (k + 1 < bins && x[i] >= an_hist_edge(mn, mx, w, bins, k + 1))
            k++;
        r->hist[k]++;
    }
    r->bins = bins;
    /* Sort: quartiles, distinct (-0 counts as 0) and runs for top values. */
    for (size_t i = 0; i < n; i++)
        a[i].u = an_key(x[i]);
    union an_u *s = an_radix(a, sc->b, n);
    if (!s)
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        s[i].d = an_unkey(s[i].u);
    double *sd = (double *)(void *)s;
    an_quartiles(sd, n, r->q);
    /* Runs, compacted in place: values to the front of s, counts in the other buffer. */
    size_t *cnt = (size_t *)(void *)(s == sc->a ? sc->b : sc->a);
    size_t U = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && sd[j] == sd[i])
            j++;
        sd[U] = sd[i];
        cnt[U++] = j - i;
        i = j;
    }
    r->distinct = U;
    r->exact = false;
    if ((rc = an_num_top(c->vals, c->nvals, sd, cnt, U, topn, r, err)))
        return rc;
    if (c->nwide && (c->cand & AT_INT) && !c->int_u64 && !c->vals_dropped)
        return an_exact_ints(c, n, topn, r, err);
    return E_OK;
}

/* The JSON fields of a numeric column from its statistics. */
static void an_numeric_json(const struct an_numres *r, bool integer, json_t *o)
{
    if (!r->n)
        return;
    bool ex = r->exact && integer;
    json_object_set_new(o, "min", ex ? json_integer(r->emin) : an_num_typed(r->min, integer));
    json_object_set_new(o, "max", ex ? json_integer(r->emax) : an_num_typed(r->max, integer));
    json_object_set_new(o, "mean", an_num(r->mean));
    if (r->has_std)
        json_object_set_new(o, "std", an_num(r->std));
    json_object_set_new(o, "distinct", json_integer((json_int_t)r->distinct));
    json_t *ta = json_array();
    for (size_t i = 0; i < r->ntop; i++)
        json_array_append_new(
            ta, json_pack("{s:o,s:I}", "value",
                          ex ? json_integer(r->topi[i]) : an_num_typed(r->topv[i], integer),
                          "count", (json_int_t)r->topc[i]));
    json_object_set_new(o, "top", ta);
    json_t *edges = json_array(), *counts = json_array();
    double w = (r->max - r->min) / (double)r->bins;
    for (size_t k = 0; k <= r->bins; k++)
        json_array_append_new(edges, an_num(an_hist_edge(r->min, r->max, w, r->bins, k)));
    for (size_t k = 0; k < r->bins; k++)
        json_array_append_new(counts, json_integer((json_int_t)r->hist[k]));
    json_object_set_new(o, "histogram", json_pack("{s:o,s:o}", "edges", edges, "counts", counts));
    json_object_set_new(o, "p25", an_num(r->q[0]));
    json_object_set_new(o, "p50", an_num(r->q[1]));
    json_object_set_new(o, "p75", an_num(r->q[2]));
}

static const char *an_type_name(const struct an_col *c)
{
    if (!c->count)
        return "empty";
    if (c->cand & AT_INT)
        return "integer";
    if (c->cand & AT_FLOAT)
        return "float";
    if (c->cand & AT_BOOL)
        return "boolean";
    if (c->cand & (AT_DATE | AT_DATETIME))
        return c->saw_time ? "datetime" : "date";
    return "string";
}

static enum err_code an_column_json(struct an_state *st, struct an_col *c, json_t **out,
                                    struct err *err)
{
    enum err_code rc = E_OK;
    const char *type = an_type_name(c);
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:[],s:n,s:n}", "name",
                          c->name, "type", type, "count", (json_int_t)c->count, "missing",
                          (json_int_t)c->missing, "distinct", "min", "max", "mean", "std", "p25",
                          "p50", "p75", "top", "length", "histogram");
    if (!o)
        return err_set(err, E_NOMEM, "out of memory");
    bool numeric = c->count && (c->cand & (AT_INT | AT_FLOAT));
    if (numeric) {
        if (c->vals_dropped) {
            json_object_set_new(o, "statsOmitted", json_string("numeric value cap reached"));
        } else if (c->nres) {
            an_numeric_json(c->nres, c->cand & AT_INT, o);
        }
    } else if (c->count) {
        struct an_sset *s = &c->set;
        json_object_set_new(o, "distinct", json_integer((json_int_t)s->n));
        if (c->set_full)
            json_object_set_new(o, "distinctApproximate", json_true());
        struct an_top *top = calloc(st->topn + 1, sizeof(*top));
        if (!top) {
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        size_t ntop = 0;
        if (c->cand & AT_BOOL) {
            size_t nf = c->count - c->ntrue;
            size_t ft = (size_t)-1, ff = (size_t)-1; /* first appearance by spelling */
            for (size_t i = 0; i < s->n; i++) {
                bool bv;
                an_bool(s->arena + s->ents[i].off, s->ents[i].len, &bv);
                size_t *f = bv ? &ft : &ff;
                if (i < *f)
                    *f = i;
            }
            if (c->ntrue)
                an_top_offer(top, &ntop, st->topn, 1, c->ntrue, ft);
            if (nf)
                an_top_offer(top, &ntop, st->topn, 0, nf, ff);
            json_object_set_new(o, "distinct", json_integer((c->ntrue > 0) + (nf > 0)));
            json_t *ta = json_object_get(o, "top");
            for (size_t i = 0; i < ntop; i++)
                json_array_append_new(ta, json_pack("{s:b,s:I}", "value", (int)top[i].idx, "count",
                                                    (json_int_t)top[i].count));
        } else {
            size_t imin = 0, imax = 0;
            for (size_t i = 0; i < s->n; i++) {
                const struct an_sent *e = &s->ents[i];
                an_top_offer(top, &ntop, st->topn, i, e->count, i);
                const struct an_sent *m = &s->ents[imin], *x = &s->ents[imax];
                size_t lm = e->len < m->len ? e->len : m->len;
                int cm = memcmp(s->arena + e->off, s->arena + m->off, lm);
                if (cm < 0 || (cm == 0 && e->len < m->len))
                    imin = i;
                size_t lx = e->len < x->len ? e->len : x->len;
                int cx = memcmp(s->arena + e->off, s->arena + x->off, lx);
                if (cx > 0 || (cx == 0 && e->len > x->len))
                    imax = i;
            }
            json_t *ta = json_object_get(o, "top");
            for (size_t i = 0; i < ntop; i++) {
                const struct an_sent *e = &s->ents[top[i].idx];
                json_array_append_new(ta, json_pack("{s:s%,s:I}", "value", s->arena + e->off,
                                                    e->len, "count", (json_int_t)e->count));
            }
            if (c->cand & (AT_DATE | AT_DATETIME)) {
                json_object_set_new(o, "min", an_iso(c->tmin, !c->saw_time));
                json_object_set_new(o, "max", an_iso(c->tmax, !c->saw_time));
            } else if (s->n && !c->set_full) {
                json_object_set_new(o, "min",
                                    json_stringn(s->arena + s->ents[imin].off, s->ents[imin].len));
                json_object_set_new(o, "max",
                                    json_stringn(s->arena + s->ents[imax].off, s->ents[imax].len));
            }
        }
        free(top);
        if (!(c->cand & (AT_BOOL | AT_DATE | AT_DATETIME)))
            json_object_set_new(o, "length",
                                json_pack("{s:I,s:o,s:I}", "min", (json_int_t)c->lmin, "mean",
                                          an_num(c->lsum / (double)c->count), "max",
                                          (json_int_t)c->lmax));
    }
    *out = o;
    o = NULL;
out:
    json_decref(o);
    return rc;
}

/* Pearson correlation over pairwise complete rows (pandas' DataFrame.corr). */
static json_t *an_correlations(struct an_state *st)
{
    json_t *names = json_array(), *matrix = json_array();
    struct an_col *cols[LIM_ANALYZE_CORR_COLUMNS];
    size_t k = 0;
    bool cut = false;
    for (size_t i = 0; i < st->ncols; i++) {
        struct an_col *c = &st->cols[i];
        if (!c->count || !(c->cand & (AT_INT | AT_FLOAT)) || c->vals_dropped)
            continue;
        if (k == (size_t)LIM_ANALYZE_CORR_COLUMNS) {
            cut = true;
            break;
        }
        cols[k++] = c;
        json_array_append_new(names, json_string(c->name));
    }
    double *res = calloc(k * k + 1, sizeof(*res));
    for (size_t x = 0; x < k && res; x++) {
        for (size_t y = 0; y <= x; y++) {
            const double *a = cols[x]->vals, *b = cols[y]->vals;
            size_t n = cols[x]->nvals < cols[y]->nvals ? cols[x]->nvals : cols[y]->nvals;
            size_t nobs = 0;
            /* Sums of the values less the first pair's: with a large offset
             * (1e15 + i) the plain sums lose the digits the deviations
             * are made of (r read -0.96197 for -0.96269). */
            double sx = 0, sy = 0, ax = 0, ay = 0;
            for (size_t r = 0; r < n; r++)
                if (!isnan(a[r]) && !isnan(b[r])) {
                    if (isfinite(a[r]) && isfinite(b[r])) { /* else no shift */
                        ax = a[r];
                        ay = b[r];
                    }
                    break;
                }
            for (size_t r = 0; r < n; r++)
                if (!isnan(a[r]) && !isnan(b[r])) {
                    nobs++;
                    sx += a[r] - ax;
                    sy += b[r] - ay;
                }
            double v = NAN;
            if (nobs) {
                double mx = sx / (double)nobs, my = sy / (double)nobs; /* of the shifted values */
                double sxy = 0, sxx = 0, syy = 0;
                for (size_t r = 0; r < n; r++)
                    if (!isnan(a[r]) && !isnan(b[r])) {
                        double dx = (a[r] - ax) - mx, dy = (b[r] - ay) - my;
                        sxy += dx * dy;
                        sxx += dx * dx;
                        syy += dy * dy;
                    }
                double div = sqrt(sxx * syy);
                if (div != 0) {
                    v = sxy / div;
                    if (v > 1)
                        v = 1;
                    if (v < -1)
                        v = -1;
                }
            }
            res[x * k + y] = res[y * k + x] = v;
        }
    }
    for (size_t x = 0; x < k && res; x++) {
        json_t *row = json_array();
        for (size_t y = 0; y < k; y++)
            json_array_append_new(row, an_num(res[x * k + y]));
        json_array_append_new(matrix, row);
    }
    free(res);
    json_t *o = json_pack("{s:o,s:o}", "columns", names, "matrix", matrix);
    if (o && cut)
        json_object_set_new(o, "truncated", json_true());
    return o;
}

/* ---- options, passes, driver ---- */

struct an_opts {
    size_t topn;
    bool html, xlsx;
    json_t *columns; /* borrowed */
};

static enum err_code an_options(json_t *opt, struct an_opts *o, struct err *err)
{
    o->topn = 5;
    o->html = o->xlsx = true;
    o->columns = NULL;
    if (!opt)
        return E_OK;
    /* strict, as transform and parse_excel: a typo ('topn') is an error,
     * not a default silently kept */
    static const char *const known[] = {"columns", "delimiter", "header", "topN",
                                        "report",  "sheet",     NULL};
    const char *sug, *key = op_unknown_key(opt, known, &sug);
    if (key)
        return err_set(err, E_INVALID,
                       "unknown option '%.60s' for analyze%s%s%s (known: columns, delimiter, "
                       "header, topN, report, sheet)",
                       key, sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    json_t *v = json_object_get(opt, "topN");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > LIM_ANALYZE_TOPN)
            return err_set(err, E_INVALID, "option 'topN' must be an integer 0..%ld",
                           (long)LIM_ANALYZE_TOPN);
        o->topn = (size_t)json_integer_value(v);
    }
    v = json_object_get(opt, "report");
    if (v && !json_is_null(v)) {
        const char *s = json_string_value(v);
        if (!s ||
            (strcmp(s, "html") && strcmp(s, "xlsx") && strcmp(s, "both") && strcmp(s, "none")))
            return err_set(err, E_INVALID,
                           "option 'report' must be \"html\", \"xlsx\", \"both\" or \"none\"");
        o->html = !strcmp(s, "html") || !strcmp(s, "both");
        o->xlsx = !strcmp(s, "xlsx") || !strcmp(s, "both");
    }
    v = json_object_get(opt, "columns");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v) || !json_array_size(v))
            return err_set(err, E_INVALID, "option 'columns' must be a non-empty array of names");
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!json_is_string(x)) return err_set(
            err, E_INVALID, "option 'columns' must hold strings (item %zu)", i);
        o->columns = v;
    }
    v = json_object_get(opt, "sheet");
    if (v && !json_is_null(v) && !json_is_string(v) && !json_is_integer(v))
        return err_set(err, E_INVALID, "option 'sheet' must be a name or an index");
    return E_OK;
}

static void an_state_release(struct an_state *st)
{
    for (size_t i = 0; i < st->ncols; i++) {
        an_release(st->cols[i].vals, st->cols[i].capvals * sizeof(double));
        free(st->cols[i].wide);
        free(st->cols[i].nres);
        an_sset_release(&st->cols[i].set);
    }
    free(st->cols);
}

static enum err_code an_pick_columns(struct an_state *st, const struct table_src *src, json_t *want,
                                     struct err *err)
{
    size_t n = want ? json_array_size(want) : src->ncols;
    st->cols = calloc(n ? n : 1, sizeof(*st->cols));
    if (!st->cols)
        return err_set(err, E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t idx = i;
        if (want) {
            const char *nm = json_string_value(json_array_get(want, i));
            for (idx = 0; idx < src->ncols && strcmp(src->names[idx], nm); idx++)
                ;
            if (idx == src->ncols)
                return err_set(err, E_INVALID, "option 'columns': no column named '%.100s'", nm);
        }
        struct an_col *c = &st->cols[st->ncols++];
        c->idx = idx;
        c->name = src->names[idx];
        c->cand = AT_INT | AT_FLOAT | AT_BOOL | AT_DATE | AT_DATETIME;
    }
    return E_OK;
}

/* ---- the scan: serial, or a reader thread and two column workers ---- */

static enum err_code an_scan_serial(struct an_state *st, struct table_src *src, struct err *err)
{
    enum err_code rc;
    for (;;) {
        const struct tcell *cells;
        size_t nc;
        bool eof;
        if ((rc = table_next_row(src, &cells, &nc, &eof, err)))
            return rc;
        if (eof)
            return E_OK;
        for (size_t i = 0; i < st->ncols; i++) {
            struct an_col *c = &st->cols[i];
            static const struct tcell empty = {TC_EMPTY, "", 0, 0, false};
            const struct tcell *t = c->idx < nc ? &cells[c->idx] : &empty;
            if ((rc = an_cell(st, c, t, st->rows, err)))
                return rc;
        }
        if (++st->rows >= UINT32_MAX)
            return err_set(err, E_LIMIT, "more than %u rows", UINT32_MAX - 1);
    }
}

/* A batch of rows copied out of the reader: cells column-major (ncols x
 * cap), their bytes in one arena that never moves while the batch fills. */
struct an_batch {
    size_t row0, nrows;
    struct tcell *cells;
    char *bytes;
    size_t blen, bcap;
    size_t pending; /* columns still to process it */
};

struct an_pipe {
    struct an_state *st;
    struct table_src *src;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct an_batch b[LIM_ANALYZE_BATCHES];
    size_t produced; /* batches filled so far */
    bool eof, stop;
    size_t *next; /* per column: the next batch to process */
    bool *busy;
    enum err_code rc;
    struct err err;
};

static void an_pipe_fail(struct an_pipe *p, enum err_code rc, const struct err *e)
{
    pthread_mutex_lock(&p->mu);
    if (!p->rc) {
        p->rc = rc;
        p->err = *e;
    }
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Copy one row into batch b (false: no room, the batch is full). */
static bool an_batch_put(struct an_batch *b, size_t ncols, const struct an_col *cols,
                         const struct tcell *cells, size_t nc)
{
    static const struct tcell empty = {TC_EMPTY, "", 0, 0, false};
    size_t need = 0;
    for (size_t i = 0; i < ncols; i++)
        if (cols[i].idx < nc)
            need += cells[cols[i].idx].len;
    if (b->nrows && b->blen + need > b->bcap)
        return false;
    if (b->blen + need > b->bcap) {
        /* The first row of the batch: the arena may move (no cells point at it). */
        char *nb = realloc(b->bytes, need + 1);
        if (!nb)
            return false;
        b->bytes = nb;
        b->bcap = need + 1;
    }
    size_t r = b->nrows;
    for (size_t i = 0; i < ncols; i++) {
        const struct tcell *t = cols[i].idx < nc ? &cells[cols[i].idx] : &empty;
        struct tcell *d = &b->cells[i * LIM_ANALYZE_BATCH_ROWS + r];
        *d = *t;
        if (t->s && t->len) {
            memcpy(b->bytes + b->blen, t->s, t->len);
            d->s = b->bytes + b->blen;
            b->blen += t->len;
        } else {
            d->s = "";
        }
    }
    b->nrows++;
    return true;
}

static void *an_reader(void *arg)
{
    struct an_pipe *p = arg;
    struct an_state *st = p->st;
    struct err e;
    enum err_code rc = E_OK;
    const struct tcell *cells = NULL;
    size_t nc = 0;
    bool held = false; /* a row read but not yet stored */
    size_t rows = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        for (;;) {
            if (p->stop)
                break;
            size_t oldest = p->produced;
            for (size_t i = 0; i < st->ncols; i++)
                if (p->next[i] < oldest)
                    oldest = p->next[i];
            if (p->produced - oldest < (size_t)LIM_ANALYZE_BATCHES)
                break;
            pthread_cond_wait(&p->cv, &p->mu);
        }
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return NULL;
        struct an_batch *b = &p->b[p->produced % LIM_ANALYZE_BATCHES];
        b->row0 = rows;
        b->nrows = b->blen = 0;
        bool eof = false;
        while (b->nrows < (size_t)LIM_ANALYZE_BATCH_ROWS) {
            if (!held) {
                if ((rc = table_next_row(p->src, &cells, &nc, &eof, &e)))
                    break;
                if (eof)
                    break;
                held = true;
            }
            if (!an_batch_put(b, st->ncols, st->cols, cells, nc)) {
                if (!b->nrows)
                    rc = err_set(&e, E_NOMEM, "out of memory");
                break;
            }
            held = false;
            if (++rows >= UINT32_MAX) {
                rc = err_set(&e, E_LIMIT, "more than %u rows", UINT32_MAX - 1);
                break;
            }
        }
        if (rc) {
            an_pipe_fail(p, rc, &e);
            return NULL;
        }
        pthread_mutex_lock(&p->mu);
        if (b->nrows) {
            b->pending = st->ncols;
            p->produced++;
        }
        if (eof) {
            p->eof = true;
            st->rows = rows;
        }
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (eof)
            return NULL;
    }
}

static void an_worker(struct an_pipe *p)
{
    struct an_state *st = p->st;
    struct err e;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->stop)
            break;
        /* The free column furthest behind whose next batch is ready. */
        size_t pick = (size_t)-1, all_done = 1;
        for (size_t i = 0; i < st->ncols; i++) {
            if (p->next[i] < p->produced)
                all_done = 0;
            if (p->busy[i] || p->next[i] >= p->produced)
                continue;
            if (pick == (size_t)-1 || p->next[i] < p->next[pick])
                pick = i;
        }
        if (pick == (size_t)-1) {
            if (p->eof && all_done)
                break;
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        p->busy[pick] = true;
        struct an_batch *b = &p->b[p->next[pick] % LIM_ANALYZE_BATCHES];
        pthread_mutex_unlock(&p->mu);
        struct an_col *c = &st->cols[pick];
        const struct tcell *cells = &b->cells[pick * LIM_ANALYZE_BATCH_ROWS];
        enum err_code rc = E_OK;
        for (size_t r = 0; r < b->nrows && !rc; r++)
            rc = an_cell(st, c, &cells[r], b->row0 + r, &e);
        if (rc) {
            an_pipe_fail(p, rc, &e);
            pthread_mutex_lock(&p->mu);
            break;
        }
        pthread_mutex_lock(&p->mu);
        p->busy[pick] = false;
        p->next[pick]++;
        b->pending--;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

static void *an_worker_thread(void *arg)
{
    an_worker(arg);
    return NULL;
}

/* The threaded scan; *ran false when threads could not be started (the
 * caller scans serially then; nothing was read). */
static enum err_code an_scan_threads(struct an_state *st, struct table_src *src, bool *ran,
                                     struct err *err)
{
    enum err_code rc = E_OK;
    struct an_pipe p = {.st = st, .src = src};
    pthread_t rd, wk;
    bool rd_ok = false, wk_ok = false;
    *ran = false;
    p.next = calloc(st->ncols, sizeof(*p.next));
    p.busy = calloc(st->ncols, sizeof(*p.busy));
    bool init = !pthread_mutex_init(&p.mu, NULL);
    if (init && pthread_cond_init(&p.cv, NULL)) {
        pthread_mutex_destroy(&p.mu);
        init = false;
    }
    bool mem = p.next && p.busy;
    for (size_t k = 0; k < (size_t)LIM_ANALYZE_BATCHES && mem; k++) {
        p.b[k].cells = malloc((size_t)LIM_ANALYZE_BATCH_ROWS * st->ncols * sizeof(struct tcell));
        p.b[k].bcap = (size_t)LIM_ANALYZE_BATCH_BYTES;
        p.b[k].bytes = malloc(p.b[k].bcap);
        mem = p.b[k].cells && p.b[k].bytes;
    }
    if (!init || !mem)
        goto out;
    rd_ok = !pthread_create(&rd, NULL, an_reader, &p);
    if (!rd_ok)
        goto out;
    *ran = true;
    wk_ok = !pthread_create(&wk, NULL, an_worker_thread, &p);
    an_worker(&p);
    if (wk_ok)
        pthread_join(wk, NULL);
    pthread_join(rd, NULL);
    if (p.rc) {
        *err = p.err;
        rc = p.rc;
    }
out:
    if (init) {
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
    }
    for (size_t k = 0; k < (size_t)LIM_ANALYZE_BATCHES; k++) {
        free(p.b[k].cells);
        free(p.b[k].bytes);
    }
    free(p.next);
    free(p.busy);
    return rc;
}

static enum err_code an_scan(struct an_state *st, struct table_src *src, struct err *err)
{
    if (st->ncols && st->ncols <= (size_t)LIM_ANALYZE_THREAD_COLUMNS) {
        bool ran;
        enum err_code rc = an_scan_threads(st, src, &ran, err);
        if (ran || rc)
            return rc;
    }
    return an_scan_serial(st, src, err);
}

/* The statistics of every numeric column (the costly part after the
 * scan: sorting), one column per task on up to two threads. */
struct an_sumjob {
    struct an_state *st;
    atomic_size_t next;
    atomic_int rc;
    struct err err; /* the first failure */
    atomic_flag err_taken;
};

static void an_sum_worker(struct an_sumjob *j)
{
    struct an_scratch sc = {0};
    struct err e;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->st->ncols || atomic_load(&j->rc))
            break;
        struct an_col *c = &j->st->cols[i];
        if (!c->count || !(c->cand & (AT_INT | AT_FLOAT)) || c->vals_dropped)
            continue;
        enum err_code rc = E_OK;
        c->nres = malloc(sizeof(*c->nres));
        if (!c->nres)
            rc = err_set(&e, E_NOMEM, "out of memory");
        else
            rc = an_numeric_compute(&sc, c, j->st->topn, c->nres, &e);
        if (rc) {
            if (!atomic_flag_test_and_set(&j->err_taken)) {
                j->err = e;
                atomic_store(&j->rc, (int)rc);
            }
            break;
        }
    }
    an_release(sc.a, sc.cap * sizeof(*sc.a));
    an_release(sc.b, sc.cap * sizeof(*sc.b));
}

static void *an_sum_thread(void *arg)
{
    an_sum_worker(arg);
    return NULL;
}

static enum err_code an_summarise(struct an_state *st, struct err *err)
{
    struct an_sumjob j = {.st = st, .err_taken = ATOMIC_FLAG_INIT};
    atomic_init(&j.next, 0);
    atomic_init(&j.rc, 0);
    size_t numeric = 0;
    for (size_t i = 0; i < st->ncols; i++)
        numeric += st->cols[i].count && (st->cols[i].cand & (AT_INT | AT_FLOAT));
    pthread_t th;
    bool two = numeric > 1 && pthread_create(&th, NULL, an_sum_thread, &j) == 0;
    an_sum_worker(&j);
    if (two)
        pthread_join(th, NULL);
    if (atomic_load(&j.rc)) {
        *err = j.err;
        return (enum err_code)atomic_load(&j.rc);
    }
    return E_OK;
}

/* Second pass: the text of rows before each demoted column's demote_row. */
static enum err_code an_pass2(struct an_state *st, const struct op_ctx *ctx, struct err *err)
{
    /* The sets of demoted columns are rebuilt from the first row so that
     * entries stay in order of first appearance. */
    for (size_t i = 0; i < st->ncols; i++) {
        struct an_col *c = &st->cols[i];
        if (!c->need_pass2)
            continue;
        atomic_fetch_sub(&st->set_bytes, an_sset_bytes(&c->set));
        an_sset_release(&c->set);
        c->set_full = false;
    }
    struct table_src *src = NULL;
    enum err_code rc =
        table_open(ctx->input->path, ctx->input->kind, ctx->input->name, ctx->options, &src, err);
    while (!rc) {
        const struct tcell *cells;
        size_t nc;
        bool eof;
        if ((rc = table_next_row(src, &cells, &nc, &eof, err)) || eof)
            break;
        for (size_t i = 0; i < st->ncols && !rc; i++) {
            struct an_col *c = &st->cols[i];
            if (!c->need_pass2 || c->idx >= nc)
                continue;
            const struct tcell *t = &cells[c->idx];
            const char *s = t->s ? t->s : "";
            if (t->type == TC_EMPTY ||
                ((t->type == TC_STRING || t->type == TC_ERROR) && an_is_na(s, t->len)))
                continue;
            rc = an_set_add(st, c, s, t->len, err);
        }
    }
    table_close(src);
    return rc;
}

static enum err_code an_file_size(const char *dir, const char *name, size_t *total, struct err *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return err_set(err, E_INTERNAL, "output path too long");
    struct stat sb;
    if (stat(path, &sb))
        return err_sys(err, E_IO, "cannot stat '%s'", name);
    *total += (size_t)sb.st_size;
    return E_OK;
}

enum err_code op_analyze(const struct op_ctx *ctx, json_t **result, struct err *err)
{
    enum err_code rc;
    struct table_src *src = NULL;
    struct an_state st = {0};
    json_t *res = NULL, *cols = NULL;
    struct an_opts o;
    if ((rc = an_options(ctx->options, &o, err)))
        return rc;
    st.topn = o.topn;
    if ((rc = table_open(ctx->input->path, ctx->input->kind, ctx->input->name, ctx->options, &src,
                         err)))
        goto out;
    if ((rc = an_pick_columns(&st, src, o.columns, err)))
        goto out;
    if ((rc = an_scan(&st, src, err)))
        goto out;
    /* Integers that no integer dtype holds together (one past 64 bits, or
     * negatives beside one past INT64_MAX): pandas keeps the column as text
     * (object) unless it has floats. Their text comes in a second pass. */
    for (size_t i = 0; i < st.ncols; i++) {
        struct an_col *c = &st.cols[i];
        if ((c->cand & AT_INT) && (c->saw_big || (c->int_neg && c->int_u64))) {
            c->cand &= ~(unsigned)(AT_INT | AT_FLOAT);
            an_drop_wide(&st, c);
            an_drop_vals(&st, c);
            c->demote_row = 0;
            c->need_pass2 = true;
        }
    }
    bool pass2 = false;
    for (size_t i = 0; i < st.ncols; i++)
        pass2 |= st.cols[i].need_pass2;
    if (pass2 && (rc = an_pass2(&st, ctx, err)))
        goto out;
    if ((rc = an_summarise(&st, err)))
        goto out;
    cols = json_array();
    if (!cols) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < st.ncols; i++) {
        json_t *cj = NULL;
        if ((rc = an_column_json(&st, &st.cols[i], &cj, err)))
            goto out;
        json_array_append_new(cols, cj);
    }
    json_t *source = json_deep_copy(src->notes);
    json_object_set_new(source, "columns", json_integer((json_int_t)src->ncols));
    res = json_pack("{s:I,s:o,s:o,s:o}", "rows", (json_int_t)st.rows, "columns", cols,
                    "correlations", an_correlations(&st), "source", source);
    cols = NULL;
    if (!res) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    /* Reports. */
    char path[4096];
    size_t total = 0;
    json_t *files = json_array();
    json_object_set_new(res, "reports", files);
    if (o.html) {
        if (snprintf(path, sizeof(path), "%s/report.html", ctx->out_dir) >= (int)sizeof(path)) {
            rc = err_set(err, E_INTERNAL, "output path too long");
            goto out;
        }
        if ((rc = report_html_write(res, ctx->input->name, path, err)) ||
            (rc = an_file_size(ctx->out_dir, "report.html", &total, err)))
            goto out;
        json_array_append_new(files, json_string("report.html"));
    }
    if (o.xlsx) {
        if (snprintf(path, sizeof(path), "%s/report.xlsx", ctx->out_dir) >= (int)sizeof(path)) {
            rc = err_set(err, E_INTERNAL, "output path too long");
            goto out;
        }
        if ((rc = report_xlsx_write(res, ctx->input->name, path, err)) ||
            (rc = an_file_size(ctx->out_dir, "report.xlsx", &total, err)))
            goto out;
        json_array_append_new(files, json_string("report.xlsx"));
    }
    if (ctx->max_output_bytes && total > ctx->max_output_bytes) {
        rc = err_set(err, E_OUTPUT_LIMIT, "reports are %zu bytes, over the %zu byte limit", total,
                     ctx->max_output_bytes);
        goto out;
    }
    *result = res;
    res = NULL;
out:
    json_decref(res);
    json_decref(cols);
    an_state_release(&st);
    table_close(src);
    return rc;
}
