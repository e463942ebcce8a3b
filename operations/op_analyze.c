#include "op_analyze.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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
 * interpolation (numpy's lerp) via quickselect; top values by count, ties by
 * first appearance; correlations Pearson over pairwise complete rows.
 */

enum an_type { AT_INT = 1, AT_FLOAT = 2, AT_BOOL = 4, AT_DATE = 8, AT_DATETIME = 16 };

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
    /* Text values (not collected while numeric; see demote_row). */
    struct table_strset set;
    bool set_full;
    size_t demote_row; /* first row whose text went into set */
    bool need_pass2;
    /* Booleans, dates, lengths. */
    size_t ntrue;
    double tmin, tmax; /* datetime seconds */
    size_t lmin, lmax;
    double lsum;
};

struct an_dent {
    uint64_t key; /* bits of the value + 1; 0 = empty slot */
    uint32_t count, first;
};

struct an_state {
    /* Scratch reused by every numeric column. */
    double *sa, *sd;
    size_t scap;
    struct an_dent *map;
    size_t mapcap;
    struct an_col *cols;
    size_t ncols;
    size_t rows;
    size_t numbers; /* doubles allocated over all columns */
    size_t set_bytes;
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

/* Parse a number as pandas' read_csv would. *is_int: written as an integer. */
static bool an_number(const char *s, size_t n, double *out, bool *is_int)
{
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
    if (*is_int) {
        if (overflow)
            return false; /* pandas keeps such columns as text */
        if (neg && m > (uint64_t)INT64_MAX + 1)
            return false;
        *out = neg ? -(double)m : (double)m;
        return true;
    }
    if (!expo && !overflow && sig <= 15 && fdigits <= 22) {
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
    st->numbers -= c->capvals;
    free(c->vals);
    c->vals = NULL;
    c->nvals = c->capvals = 0;
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
        if (st->numbers - c->capvals + nc > (size_t)LIM_ANALYZE_NUMBERS) {
            an_drop_vals(st, c);
            c->vals_dropped = true;
            return E_OK;
        }
        double *nv = realloc(c->vals, nc * sizeof(*nv));
        if (!nv)
            return err_set(err, E_NOMEM, "out of memory");
        st->numbers += nc - c->capvals;
        c->vals = nv;
        c->capvals = nc;
    }
    while (c->nvals < row)
        c->vals[c->nvals++] = NAN;
    c->vals[c->nvals++] = v;
    return E_OK;
}

static enum err_code an_set_add(struct an_state *st, struct an_col *c, const char *s, size_t n,
                                size_t row, struct err *err)
{
    if (c->set_full)
        return E_OK;
    size_t before = table_strset_bytes(&c->set);
    if (st->set_bytes + n + 64 > (size_t)LIM_ANALYZE_DISTINCT_BYTES &&
        !table_strset_has(&c->set, s, n)) {
        c->set_full = true;
        return E_OK;
    }
    enum err_code rc = table_strset_add(&c->set, s, n, row, NULL, err);
    if (rc == E_LIMIT) {
        c->set_full = true;
        return E_OK;
    }
    if (rc)
        return rc;
    st->set_bytes += table_strset_bytes(&c->set) - before;
    return E_OK;
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
        bool num = false;
        if (t->type == TC_NUMBER) {
            v = t->num;
            is_int = !t->s || !strpbrk(t->s, ".eEn");
            num = true;
        } else if (t->type == TC_STRING) {
            num = an_number(s, n, &v, &is_int);
        }
        if (num) {
            if (!is_int)
                c->saw_float = true;
            c->cand = cand & (AT_INT | AT_FLOAT);
            if (c->saw_float)
                c->cand &= ~(unsigned)AT_INT;
            if ((rc = an_push_val(st, c, v, row, err)))
                return rc;
            goto length;
        }
        /* Not a number: from here on the text matters; rows before this
         * one are collected again in a second pass. */
        c->cand &= ~(unsigned)(AT_INT | AT_FLOAT);
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
    if ((rc = an_set_add(st, c, s, n, row, err)))
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

static void an_swap(double *a, size_t i, size_t j)
{
    double t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Put the k-th smallest of a[lo..hi] at a[k] (Hoare partition, median of 3). */
static void an_select(double *a, size_t lo, size_t hi, size_t k)
{
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo])
            an_swap(a, mid, lo);
        if (a[hi] < a[lo])
            an_swap(a, hi, lo);
        if (a[hi] < a[mid])
            an_swap(a, hi, mid);
        double pv = a[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pv)
                i++;
            while (a[j] > pv)
                j--;
            if (i <= j) {
                an_swap(a, i, j);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

static double an_lerp(double a, double b, double t)
{
    double diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/* Quartiles of a[0..n) (reordered). */
static void an_quartiles(double *a, size_t n, double q[3])
{
    static const double qs[3] = {0.25, 0.5, 0.75};
    size_t from = 0;
    for (int k = 0; k < 3; k++) {
        double vi = (double)n * qs[k] + (1 - qs[k]) - 1;
        size_t lo = (size_t)floor(vi);
        double t = vi - (double)lo;
        if (lo >= n - 1) {
            an_select(a, from, n - 1, n - 1);
            q[k] = a[n - 1];
            continue;
        }
        an_select(a, from, n - 1, lo);
        double next = a[lo + 1];
        for (size_t i = lo + 2; i < n; i++)
            if (a[i] < next)
                next = a[i];
        q[k] = an_lerp(a[lo], next, t);
        from = lo;
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

/* Numeric column: stats from the row-aligned values. */
static enum err_code an_scratch(struct an_state *st, size_t n, struct err *err)
{
    if (n <= st->scap)
        return E_OK;
    free(st->sa);
    free(st->sd);
    st->sa = malloc(n * sizeof(double));
    st->sd = malloc(n * sizeof(double));
    st->scap = st->sa && st->sd ? n : 0;
    return st->scap ? E_OK : err_set(err, E_NOMEM, "out of memory");
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

/* Count distinct values of vals into st->map (grows by doubling). */
static enum err_code an_count_values(struct an_state *st, const double *vals, size_t nv,
                                     size_t *nslots_out, size_t *distinct_out, struct err *err)
{
    size_t nslots = 1024, distinct = 0;
    if (st->mapcap < nslots) {
        free(st->map);
        st->map = malloc(nslots * sizeof(*st->map));
        st->mapcap = st->map ? nslots : 0;
        if (!st->map)
            return err_set(err, E_NOMEM, "out of memory");
    }
    struct an_dent *map = st->map;
    memset(map, 0, nslots * sizeof(*map));
    for (size_t r = 0; r < nv; r++) {
        double v = vals[r];
        if (isnan(v))
            continue;
        if (v == 0)
            v = 0;
        uint64_t key;
        memcpy(&key, &v, 8);
        key += 1;
        uint64_t hk = an_mix(key);
        size_t h = (size_t)hk & (nslots - 1);
        while (map[h].key && map[h].key != key)
            h = (h + 1) & (nslots - 1);
        if (!map[h].key) {
            if ((distinct + 1) * 2 > nslots) {
                /* Grow and rehash, then place this value again. */
                size_t ns = nslots * 2;
                struct an_dent *nm = calloc(ns, sizeof(*nm));
                if (!nm)
                    return err_set(err, E_NOMEM, "out of memory");
                for (size_t i = 0; i < nslots; i++) {
                    if (!map[i].key)
                        continue;
                    size_t j = (size_t)an_mix(map[i].key) & (ns - 1);
                    while (nm[j].key)
                        j = (j + 1) & (ns - 1);
                    nm[j] = map[i];
                }
                free(st->map);
                st->map = map = nm;
                st->mapcap = nslots = ns;
                h = (size_t)hk & (nslots - 1);
                while (map[h].key)
                    h = (h + 1) & (nslots - 1);
            }
            map[h] = (struct an_dent){key, 0, (uint32_t)r};
            distinct++;
        }
        map[h].count++;
    }
    *nslots_out = nslots;
    *distinct_out = distinct;
    return E_OK;
}

/* Numeric column: stats from the row-aligned values. */
static enum err_code an_numeric(struct an_state *st, struct an_col *c, bool integer, json_t *o,
                                struct err *err)
{
    enum err_code rc = E_OK;
    struct an_top *top = NULL;
    size_t n = 0;
    if ((rc = an_scratch(st, c->nvals ? c->nvals : 1, err)))
        return rc;
    double *a = st->sa, *d = st->sd;
    for (size_t i = 0; i < c->nvals; i++)
        if (!isnan(c->vals[i]))
            a[n++] = c->vals[i];
    if (!n)
        goto out;
    double mn = a[0], mx = a[0];
    for (size_t i = 1; i < n; i++) {
        if (a[i] < mn)
            mn = a[i];
        if (a[i] > mx)
            mx = a[i];
    }
    double mean = an_pairwise(a, n) / (double)n;
    json_object_set_new(o, "min", an_num_typed(mn, integer));
    json_object_set_new(o, "max", an_num_typed(mx, integer));
    json_object_set_new(o, "mean", an_num(mean));
    if (n > 1) {
        for (size_t i = 0; i < n; i++)
            d[i] = (a[i] - mean) * (a[i] - mean);
        double var = an_pairwise(d, n) / (double)(n - 1);
        json_object_set_new(o, "std", an_num(sqrt(var)));
    }
    /* Distinct and top values by value (-0 counts as 0). */
    size_t nslots = 0, distinct = 0;
    if ((rc = an_count_values(st, c->vals, c->nvals, &nslots, &distinct, err)))
        goto out;
    const struct an_dent *map = st->map;
    json_object_set_new(o, "distinct", json_integer((json_int_t)distinct));
    top = calloc(st->topn + 1, sizeof(*top));
    if (!top) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    size_t ntop = 0;
    for (size_t h = 0; h < nslots; h++)
        if (map[h].key)
            an_top_offer(top, &ntop, st->topn, h, map[h].count, map[h].first);
    json_t *ta = json_array();
    for (size_t i = 0; i < ntop; i++) {
        uint64_t key = map[top[i].idx].key - 1;
        double v;
        memcpy(&v, &key, 8);
        json_array_append_new(ta, json_pack("{s:o,s:I}", "value", an_num_typed(v, integer), "count",
                                            (json_int_t)top[i].count));
    }
    json_object_set_new(o, "top", ta);
    /* Histogram (Sturges' bins over [min, max]). */
    size_t bins = (size_t)ceil(log2((double)n)) + 1;
    if (bins > 30)
        bins = 30;
    if (mn == mx || !isfinite(mn) || !isfinite(mx))
        bins = 1;
    json_t *edges = json_array(), *counts = json_array();
    size_t hc[30] = {0};
    double w = (mx - mn) / (double)bins;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            continue;
        size_t k = bins == 1 ? 0 : (size_t)((a[i] - mn) / w);
        if (k >= bins)
            k = bins - 1;
        hc[k]++;
    }
    for (size_t k = 0; k <= bins; k++)
        json_array_append_new(edges, an_num(k == bins ? mx : mn + w * (double)k));
    for (size_t k = 0; k < bins; k++)
        json_array_append_new(counts, json_integer((json_int_t)hc[k]));
    json_object_set_new(o, "histogram", json_pack("{s:o,s:o}", "edges", edges, "counts", counts));
    /* Quartiles last: they reorder a. */
    double q[3];
    an_quartiles(a, n, q);
    json_object_set_new(o, "p25", an_num(q[0]));
    json_object_set_new(o, "p50", an_num(q[1]));
    json_object_set_new(o, "p75", an_num(q[2]));
out:
    free(top);
    return rc;
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
        } else if ((rc = an_numeric(st, c, c->cand & AT_INT, o, err))) {
            goto out;
        }
    } else if (c->count) {
        struct table_strset *s = &c->set;
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
                if (s->ents[i].first < *f)
                    *f = s->ents[i].first;
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
                const struct table_strset_ent *e = &s->ents[i];
                an_top_offer(top, &ntop, st->topn, i, e->count, e->first);
                const struct table_strset_ent *m = &s->ents[imin], *x = &s->ents[imax];
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
                const struct table_strset_ent *e = &s->ents[top[i].idx];
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
            double sx = 0, sy = 0;
            for (size_t r = 0; r < n; r++)
                if (!isnan(a[r]) && !isnan(b[r])) {
                    nobs++;
                    sx += a[r];
                    sy += b[r];
                }
            double v = NAN;
            if (nobs) {
                double mx = sx / (double)nobs, my = sy / (double)nobs, sxy = 0, sxx = 0, syy = 0;
                for (size_t r = 0; r < n; r++)
                    if (!isnan(a[r]) && !isnan(b[r])) {
                        double dx = a[r] - mx, dy = b[r] - my;
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
    free(st->sa);
    free(st->sd);
    free(st->map);
    for (size_t i = 0; i < st->ncols; i++) {
        free(st->cols[i].vals);
        table_strset_release(&st->cols[i].set);
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
        table_strset_init(&c->set, (size_t)LIM_ANALYZE_DISTINCT);
    }
    return E_OK;
}

/* Second pass: the text of rows before each demoted column's demote_row. */
static enum err_code an_pass2(struct an_state *st, const struct op_ctx *ctx, struct err *err)
{
    struct table_src *src = NULL;
    enum err_code rc =
        table_open(ctx->input->path, ctx->input->kind, ctx->input->name, ctx->options, &src, err);
    for (size_t row = 0; !rc; row++) {
        const struct tcell *cells;
        size_t nc;
        bool eof;
        if ((rc = table_next_row(src, &cells, &nc, &eof, err)) || eof)
            break;
        bool more = false;
        for (size_t i = 0; i < st->ncols && !rc; i++) {
            struct an_col *c = &st->cols[i];
            if (!c->need_pass2 || row >= c->demote_row || c->idx >= nc)
                continue;
            more = true;
            const struct tcell *t = &cells[c->idx];
            if (t->type == TC_EMPTY || an_is_na(t->s ? t->s : "", t->len))
                continue;
            rc = an_set_add(st, c, t->s ? t->s : "", t->len, row, err);
        }
        if (!more)
            break;
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
    for (;;) {
        const struct tcell *cells;
        size_t nc;
        bool eof;
        if ((rc = table_next_row(src, &cells, &nc, &eof, err)))
            goto out;
        if (eof)
            break;
        for (size_t i = 0; i < st.ncols; i++) {
            struct an_col *c = &st.cols[i];
            static const struct tcell empty = {TC_EMPTY, "", 0, 0, false};
            const struct tcell *t = c->idx < nc ? &cells[c->idx] : &empty;
            if ((rc = an_cell(&st, c, t, st.rows, err)))
                goto out;
        }
        if (++st.rows >= UINT32_MAX) {
            rc = err_set(err, E_LIMIT, "more than %u rows", UINT32_MAX - 1);
            goto out;
        }
    }
    bool pass2 = false;
    for (size_t i = 0; i < st.ncols; i++)
        pass2 |= st.cols[i].need_pass2;
    if (pass2 && (rc = an_pass2(&st, ctx, err)))
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
