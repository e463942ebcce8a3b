#include "xval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static const char *const xval_names[] = {"null", "integer",  "float", "boolean",
                                         "date", "datetime", "string"};

const char *xval_type_name(enum xtype t)
{
    return (unsigned)t < sizeof(xval_names) / sizeof(xval_names[0]) ? xval_names[t] : "null";
}

enum xtype xval_type_from_name(const char *s)
{
    for (unsigned i = 1; i < sizeof(xval_names) / sizeof(xval_names[0]); i++)
        if (!strcmp(s, xval_names[i]))
            return (enum xtype)i;
    return XT_NULL;
}

static const char *const xval_na[] = {"#N/A", "#N/A N/A", "#NA",     "-1.#IND", "-1.#QNAN", "-NaN",
                                      "-nan", "1.#IND",   "1.#QNAN", "<NA>",    "N/A",      "NA",
                                      "NULL", "NaN",      "n/a",     "nan",     "null"};

bool xval_is_na(const char *s, size_t n)
{
    if (!n)
        return true;
    if (n > 8)
        return false;
    switch (s[0]) {
    case '#':
    case '-':
    case '<':
    case 'N':
    case 'n':
        break;
    case '1':
        if (n < 5 || s[1] != '.')
            return false;
        break;
    default:
        return false;
    }
    for (size_t i = 0; i < sizeof(xval_na) / sizeof(xval_na[0]); i++)
        if (xval_na[i][0] == s[0] && strlen(xval_na[i]) == n && !memcmp(xval_na[i], s, n))
            return true;
    return false;
}

static bool xval_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool xval_parse_int(const char *s, size_t n, int64_t *out)
{
    size_t a = 0, b = n;
    while (a < b && xval_space(s[a]))
        a++;
    while (b > a && xval_space(s[b - 1]))
        b--;
    if (a == b)
        return false;
    bool neg = false;
    if (s[a] == '+' || s[a] == '-') {
        neg = s[a] == '-';
        a++;
    }
    if (a == b)
        return false;
    uint64_t m = 0;
    for (size_t i = a; i < b; i++) {
        unsigned v = (unsigned)(s[i] - '0');
        if (v > 9 || m > (UINT64_MAX - v) / 10)
            return false;
        m = m * 10 + v;
    }
    if (neg ? m > (uint64_t)INT64_MAX + 1 : m > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? (int64_t)(0 - m) : (int64_t)m;
    return true;
}

static const double xval_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool xval_ieq(const char *a, size_t n, const char *lit)
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

/* Accumulate the decimal digits at d (before e) into *m: *sig counts the
 * digits from the first non-zero one; *overflow is set once the value
 * passes UINT64_MAX (m is then meaningless). Returns the first non-digit. */
static inline const char *xval_num_digits(const char *d, const char *e, uint64_t *m, int *sig,
                                          bool *overflow)
{
    uint64_t x = *m;
    int k = *sig;
    for (; d < e; d++) {
        unsigned v = (unsigned)(*d - '0');
        if (v > 9)
            break;
        if (k < 19) {
            x = x * 10 + v; /* below 10^19: cannot wrap */
            k += (k || v);
            continue;
        }
        k++;
        if (!*overflow && (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, v, &x)))
            *overflow = true;
    }
    *m = x;
    *sig = k;
    return d;
}

bool xval_parse_num(const char *s, size_t n, double *out, bool *is_int)
{
    size_t a = 0, b = n;
    while (a < b && xval_space(s[a]))
        a++;
    while (b > a && xval_space(s[b - 1]))
        b--;
    if (a == b)
        return false;
    const char *p = s + a, *e = s + b, *q = p;
    bool neg = false;
    if (*q == '+' || *q == '-') {
        neg = *q == '-';
        q++;
    }
    uint64_t m = 0;
    int digits = 0, fdigits = 0, sig = 0;
    bool overflow = false;
    const char *d = xval_num_digits(q, e, &m, &sig, &overflow);
    digits = (int)(d - q);
    bool frac = false, expo = false;
    if (d < e && *d == '.') {
        frac = true;
        const char *fs = d + 1;
        d = xval_num_digits(fs, e, &m, &sig, &overflow);
        fdigits = (int)(d - fs);
    }
    if (digits + fdigits == 0) {
        size_t k = (size_t)(e - q);
        if (xval_ieq(q, k, "inf") || xval_ieq(q, k, "infinity")) {
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
    bool integral = !frac && !expo;
    if (integral && !overflow && (neg ? m <= (uint64_t)INT64_MAX + 1 : m <= (uint64_t)INT64_MAX)) {
        *is_int = true;
        *out = neg ? -(double)m : (double)m;
        return true;
    }
    *is_int = false;
    if (!expo && !overflow && sig <= 15 && fdigits <= 22) {
        double v = (double)m / xval_pow10[fdigits];
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

bool xval_parse_bool(const char *s, size_t n, bool *out)
{
    if (n == 4 && (!memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4) || !memcmp(s, "true", 4))) {
        *out = true;
        return true;
    }
    if (n == 5 && (!memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5) || !memcmp(s, "false", 5))) {
        *out = false;
        return true;
    }
    return false;
}

int64_t xval_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void xval_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool xval_digits(const char *s, int n, int *v)
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

static bool xval_valid_date(int y, int mo, int d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    return true;
}

bool xval_parse_iso(const char *s, size_t n, double *secs, bool *date_only)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (n < 10 || s[4] != '-' || s[7] != '-')
        return false;
    if (!xval_digits(s, 4, &y) || !xval_digits(s + 5, 2, &mo) || !xval_digits(s + 8, 2, &d))
        return false;
    if (!xval_valid_date(y, mo, d))
        return false;
    double frac = 0;
    int off = 0;
    *date_only = n == 10;
    if (n > 10) {
        size_t i = 10;
        if (s[i] != 'T' && s[i] != ' ')
            return false;
        i++;
        if (n < i + 5 || s[i + 2] != ':' || !xval_digits(s + i, 2, &h) ||
            !xval_digits(s + i + 3, 2, &mi))
            return false;
        i += 5;
        if (i < n && s[i] == ':') {
            if (n < i + 3 || !xval_digits(s + i + 1, 2, &se))
                return false;
            i += 3;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                i++;
                double scale = 0.1;
                size_t st = i;
                for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
                    frac += (s[i] - '0') * scale;
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
            if (n < i + 2 || !xval_digits(s + i, 2, &oh))
                return false;
            i += 2;
            if (i < n && s[i] == ':')
                i++;
            if (i + 2 <= n) {
                if (!xval_digits(s + i, 2, &om))
                    return false;
                i += 2;
            }
            off = sign * (oh * 3600 + om * 60);
        }
        if (i != n || h > 23 || mi > 59 || se > 60)
            return false;
    }
    *secs = (double)xval_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400.0 + h * 3600 +
            mi * 60 + se - off + frac;
    return true;
}

static const char *const xval_months[] = {"january",   "february", "march",    "april",
                                          "may",       "june",     "july",     "august",
                                          "september", "october",  "november", "december"};

static char xval_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Up to max digits (at least one) at s[*i]. */
static bool xval_num_at(const char *s, size_t n, size_t *i, int max, int *v)
{
    int x = 0, k = 0;
    while (*i < n && k < max && s[*i] >= '0' && s[*i] <= '9') {
        x = x * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    *v = x;
    return k > 0;
}

bool xval_fmt_valid(const char *fmt)
{
    for (const char *f = fmt; *f; f++) {
        if (*f != '%')
            continue;
        f++;
        if (!*f || !strchr("YmdHMSybBjpIzf%", *f))
            return false;
    }
    return true;
}

bool xval_parse_fmt(const char *s, size_t n, const char *fmt, double *secs, bool *has_time)
{
    int y = 1900, mo = 1, d = 1, h = 0, mi = 0, se = 0, yday = 0, off = 0;
    bool pm = false, ampm = false, timeset = false;
    double frac = 0;
    size_t i = 0;
    while (i < n && xval_space(s[i]))
        i++;
    for (const char *f = fmt; *f; f++) {
        if (*f == ' ') {
            while (i < n && xval_space(s[i]))
                i++;
            continue;
        }
        if (*f != '%') {
            if (i >= n || s[i] != *f)
                return false;
            i++;
            continue;
        }
        f++;
        switch (*f) {
        case 'Y': {
            bool neg = i < n && s[i] == '-';
            if (neg)
                i++;
            if (!xval_num_at(s, n, &i, 4, &y))
                return false;
            if (neg)
                y = -y;
            break;
        }
        case 'y':
            if (!xval_num_at(s, n, &i, 2, &y))
                return false;
            y += y < 69 ? 2000 : 1900;
            break;
        case 'm':
            if (!xval_num_at(s, n, &i, 2, &mo))
                return false;
            break;
        case 'd':
            if (!xval_num_at(s, n, &i, 2, &d))
                return false;
            break;
        case 'j':
            if (!xval_num_at(s, n, &i, 3, &yday) || yday < 1 || yday > 366)
                return false;
            break;
        case 'H':
        case 'I':
            if (!xval_num_at(s, n, &i, 2, &h))
                return false;
            timeset = true;
            ampm |= *f == 'I';
            break;
        case 'M':
            if (!xval_num_at(s, n, &i, 2, &mi))
                return false;
            timeset = true;
            break;
        case 'S':
            if (!xval_num_at(s, n, &i, 2, &se))
                return false;
            timeset = true;
            if (i < n && s[i] == '.' && f[1] != '.') {
                double scale = 0.1;
                for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
                    frac += (s[i] - '0') * scale;
            }
            break;
        case 'f': {
            double scale = 0.1;
            size_t st = i;
            for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
                frac += (s[i] - '0') * scale;
            if (i == st)
                return false;
            break;
        }
        case 'p':
            if (i + 2 > n)
                return false;
            if (xval_lower(s[i]) == 'p')
                pm = true;
            else if (xval_lower(s[i]) != 'a')
                return false;
            if (xval_lower(s[i + 1]) != 'm')
                return false;
            i += 2;
            ampm = true;
            break;
        case 'b':
        case 'B': {
            int found = -1;
            size_t flen = 0;
            for (int k = 0; k < 12 && found < 0; k++) {
                size_t full = strlen(xval_months[k]);
                size_t tries[2] = {full, 3};
                for (int t = 0; t < 2 && found < 0; t++) {
                    size_t L = tries[t];
                    if (i + L > n)
                        continue;
                    size_t j = 0;
                    while (j < L && xval_lower(s[i + j]) == xval_months[k][j])
                        j++;
                    if (j == L) {
                        found = k;
                        flen = L;
                    }
                }
            }
            if (found < 0)
                return false;
            mo = found + 1;
            i += flen;
            break;
        }
        case 'z': {
            if (i < n && s[i] == 'Z') {
                i++;
                break;
            }
            if (i >= n || (s[i] != '+' && s[i] != '-'))
                return false;
            int sign = s[i] == '-' ? -1 : 1, oh = 0, om = 0;
            i++;
            if (i + 2 > n || !xval_digits(s + i, 2, &oh))
                return false;
            i += 2;
            if (i < n && s[i] == ':')
                i++;
            if (i + 2 <= n && xval_digits(s + i, 2, &om))
                i += 2;
            off = sign * (oh * 3600 + om * 60);
            break;
        }
        case '%':
            if (i >= n || s[i] != '%')
                return false;
            i++;
            break;
        default:
            return false;
        }
    }
    while (i < n && xval_space(s[i]))
        i++;
    if (i != n)
        return false;
    if (ampm) {
        if (h < 1 || h > 12)
            return false;
        h = h % 12 + (pm ? 12 : 0);
    }
    if (h > 23 || mi > 59 || se > 60)
        return false;
    int64_t days;
    if (yday) {
        days = xval_days_from_civil(y, 1, 1) + yday - 1;
    } else {
        if (!xval_valid_date(y, mo, d))
            return false;
        days = xval_days_from_civil(y, (unsigned)mo, (unsigned)d);
    }
    *secs = (double)days * 86400.0 + h * 3600 + mi * 60 + se - off + frac;
    *has_time = timeset || frac != 0;
    return true;
}

size_t xval_fmt_double(double d, char tmp[XVAL_TEXT_MAX])
{
    if (isnan(d)) {
        memcpy(tmp, "nan", 4);
        return 3;
    }
    if (isinf(d)) {
        memcpy(tmp, d < 0 ? "-inf" : "inf", d < 0 ? 5 : 4);
        return d < 0 ? 4 : 3;
    }
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, XVAL_TEXT_MAX, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    if (n < 0)
        n = 0;
    if (!strpbrk(tmp, ".en") && n + 2 < XVAL_TEXT_MAX) {
        tmp[n++] = '.';
        tmp[n++] = '0';
        tmp[n] = '\0';
    }
    return (size_t)n;
}

/* strftime-like output of secs (days when date_only) with the directives of
 * xval_parse_fmt. */
static size_t xval_format_time(double secs, const char *fmt, char *out, size_t cap)
{
    double fl = floor(secs);
    double frac = secs - fl;
    int64_t t = (int64_t)fl;
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sod = t - days * 86400;
    int64_t y;
    unsigned m, d;
    xval_civil_from_days(days, &y, &m, &d);
    int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60), se = (int)(sod % 60);
    size_t o = 0;
    for (const char *f = fmt; *f && o + 32 < cap; f++) {
        if (*f != '%') {
            out[o++] = *f;
            continue;
        }
        f++;
        int w = 0;
        switch (*f) {
        case 'Y':
            w = snprintf(out + o, cap - o, "%04lld", (long long)y);
            break;
        case 'y':
            w = snprintf(out + o, cap - o, "%02d", (int)(((y % 100) + 100) % 100));
            break;
        case 'm':
            w = snprintf(out + o, cap - o, "%02u", m);
            break;
        case 'd':
            w = snprintf(out + o, cap - o, "%02u", d);
            break;
        case 'j':
            w = snprintf(out + o, cap - o, "%03d", (int)(days - xval_days_from_civil(y, 1, 1) + 1));
            break;
        case 'H':
            w = snprintf(out + o, cap - o, "%02d", h);
            break;
        case 'I':
            w = snprintf(out + o, cap - o, "%02d", h % 12 ? h % 12 : 12);
            break;
        case 'p':
            w = snprintf(out + o, cap - o, "%s", h < 12 ? "AM" : "PM");
            break;
        case 'M':
            w = snprintf(out + o, cap - o, "%02d", mi);
            break;
        case 'S':
            w = snprintf(out + o, cap - o, "%02d", se);
            break;
        case 'f':
            w = snprintf(out + o, cap - o, "%06d", (int)(frac * 1e6 + 0.5) % 1000000);
            break;
        case 'b':
            w = snprintf(out + o, cap - o, "%c%.2s", xval_months[m - 1][0] - 'a' + 'A',
                         xval_months[m - 1] + 1);
            break;
        case 'B':
            w = snprintf(out + o, cap - o, "%c%s", xval_months[m - 1][0] - 'a' + 'A',
                         xval_months[m - 1] + 1);
            break;
        case 'z':
            w = snprintf(out + o, cap - o, "+0000");
            break;
        case '%':
            out[o++] = '%';
            break;
        default:
            f--;
            break;
        }
        if (w > 0 && (size_t)w < cap - o)
            o += (size_t)w;
        if (!*f)
            break;
    }
    out[o] = '\0';
    return o;
}

const char *xval_text(const struct xval *v, char tmp[XVAL_TEXT_MAX], size_t *len,
                      const char *datefmt)
{
    int n = 0;
    switch ((enum xtype)v->t) {
    case XT_STRING:
        *len = v->len;
        return v->u.s;
    case XT_NULL:
        *len = 0;
        return "";
    case XT_INT:
        n = snprintf(tmp, XVAL_TEXT_MAX, "%lld", (long long)v->u.i);
        break;
    case XT_FLOAT:
        *len = xval_fmt_double(v->u.f, tmp);
        return tmp;
    case XT_BOOL:
        *len = v->u.i ? 4 : 5;
        return v->u.i ? "true" : "false";
    case XT_DATE:
        *len = xval_format_time((double)v->u.i * 86400.0, datefmt ? datefmt : "%Y-%m-%d", tmp,
                                XVAL_TEXT_MAX);
        return tmp;
    case XT_DATETIME: {
        if (datefmt) {
            *len = xval_format_time(v->u.f, datefmt, tmp, XVAL_TEXT_MAX);
            return tmp;
        }
        size_t k = xval_format_time(v->u.f, "%Y-%m-%dT%H:%M:%S", tmp, XVAL_TEXT_MAX);
        double fr = v->u.f - floor(v->u.f);
        long us = lround(fr * 1e6);
        if (us > 0 && us < 1000000) {
            int w = snprintf(tmp + k, XVAL_TEXT_MAX - k, ".%06ld", us);
            if (w > 0) {
                k += (size_t)w;
                while (tmp[k - 1] == '0')
                    tmp[--k] = '\0';
            }
        }
        *len = k;
        return tmp;
    }
    }
    if (n < 0)
        n = 0;
    *len = (size_t)n;
    return tmp;
}

static double xval_as_f(const struct xval *v)
{
    switch ((enum xtype)v->t) {
    case XT_INT:
    case XT_BOOL:
        return (double)v->u.i;
    case XT_DATE:
        return (double)v->u.i * 86400.0;
    case XT_FLOAT:
    case XT_DATETIME:
        return v->u.f;
    default:
        return 0;
    }
}

int xval_cmp(const struct xval *a, const struct xval *b)
{
    if (a->t == XT_STRING && b->t == XT_STRING) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->u.s, b->u.s, n) : 0;
        if (c)
            return c;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    if (a->t == b->t && (a->t == XT_INT || a->t == XT_BOOL || a->t == XT_DATE))
        return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    double x = xval_as_f(a), y = xval_as_f(b);
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y); /* NaN sorts last */
    return x < y ? -1 : x > y;
}

bool xval_key_eq(const struct xval *a, const struct xval *b)
{
    if (a->t != b->t)
        return false;
    switch ((enum xtype)a->t) {
    case XT_NULL:
        return true;
    case XT_STRING:
        return a->len == b->len && (!a->len || !memcmp(a->u.s, b->u.s, a->len));
    case XT_FLOAT:
    case XT_DATETIME:
        return a->u.f == b->u.f || (isnan(a->u.f) && isnan(b->u.f));
    default:
        return a->u.i == b->u.i;
    }
}

uint64_t xval_key_hash(const struct xval *v, uint64_t h)
{
    const uint64_t prime = 0x100000001b3ULL;
    h ^= v->t;
    h *= prime;
    uint64_t bits = 0;
    switch ((enum xtype)v->t) {
    case XT_NULL:
        return h;
    case XT_STRING:
        for (uint32_t i = 0; i < v->len; i++) {
            h ^= (unsigned char)v->u.s[i];
            h *= prime;
        }
        return h;
    case XT_FLOAT:
    case XT_DATETIME: {
        double f = v->u.f == 0 ? 0.0 : v->u.f;
        if (isnan(f))
            f = NAN;
        memcpy(&bits, &f, sizeof(bits));
        break;
    }
    default:
        bits = (uint64_t)v->u.i;
        break;
    }
    h ^= bits;
    h *= prime;
    h ^= h >> 29;
    return h;
}

/* ---- arena ---- */

struct xval_chunk {
    struct xval_chunk *next;
    size_t cap, used;
    max_align_t data[];
};

#define XVAL_CHUNK_MIN (256 * 1024)

void xval_arena_init(struct xval_arena *a, size_t max)
{
    memset(a, 0, sizeof(*a));
    a->max = max;
}

void *xval_arena_alloc(struct xval_arena *a, size_t n, struct err *err)
{
    size_t al = sizeof(max_align_t);
    n = (n + al - 1) / al * al;
    if (!n)
        n = al;
    for (; a->cur; a->cur = a->cur->next) {
        struct xval_chunk *c = a->cur;
        if (c->cap - c->used >= n) {
            void *p = (char *)c->data + c->used;
            c->used += n;
            a->used += n;
            return p;
        }
        if (!c->next)
            break;
        c->next->used = 0;
    }
    size_t cap = n > XVAL_CHUNK_MIN ? n : XVAL_CHUNK_MIN;
    if (a->total >= XVAL_CHUNK_MIN * 16 && cap < a->total / 8)
        cap = a->total / 8; /* grow geometrically; fewer mallocs */
    cap = (cap + al - 1) / al * al;
    if (a->total + cap > a->max) {
        if (a->total + n > a->max) {
            err_set(err, E_LIMIT, "working memory over the %zu byte limit", a->max);
            return NULL;
        }
        cap = n;
    }
    struct xval_chunk *c = malloc(sizeof(*c) + cap);
    if (!c) {
        err_set(err, E_NOMEM, "out of memory");
        return NULL;
    }
    c->next = NULL;
    c->cap = cap;
    c->used = n;
    a->total += cap;
    a->used += n;
    if (a->cur) {
        /* Insert after cur so chunks after it stay reusable. */
        c->next = a->cur->next;
        a->cur->next = c;
    } else {
        a->head = c;
    }
    a->cur = c;
    return c->data;
}

void xval_arena_reset(struct xval_arena *a)
{
    a->cur = a->head;
    if (a->cur)
        a->cur->used = 0;
    a->used = 0;
}

void xval_arena_release(struct xval_arena *a)
{
    struct xval_chunk *c = a->head;
    while (c) {
        struct xval_chunk *n = c->next;
        free(c);
        c = n;
    }
    xval_arena_init(a, a->max);
}

enum err_code xval_arena_keep(struct xval_arena *a, struct xval *v, struct err *err)
{
    if (v->t != XT_STRING || !v->len)
        return E_OK;
    char *p = xval_arena_alloc(a, v->len, err);
    if (!p)
        return err->code;
    memcpy(p, v->u.s, v->len);
    v->u.s = p;
    return E_OK;
}
