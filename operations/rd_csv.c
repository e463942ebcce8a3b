#include "rd_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "klimits.h"
#include "utf8.h"

#include "utf8.h"

#include "banned.h"

enum csv_enc { ENC_UTF8, ENC_UTF8_BOM, ENC_CP1252, ENC_UTF16LE, ENC_UTF16BE };

static const char *const csv_enc_names[] = {"utf-8", "utf-8-sig", "windows-1252", "utf-16le",
                                            "utf-16be"};

enum csv_state { S_FIELD_START, S_UNQUOTED, S_QUOTED, S_QUOTE_SEEN };

/* Byte classes for the unquoted scan. */
#define CSV_C_DELIM 1
#define CSV_C_EOL 2

struct rd_csv {
    int fd;
    bool raw_eof;
    unsigned char *raw; /* LIM_CSV_READ_BLOCK + 8 */
    size_t carry;       /* undecoded tail bytes kept at raw[0..carry) */
    char *dec;          /* transcoding output */
    size_t dec_cap;
    enum csv_enc enc;
    bool sniffed; /* the sniff window has been decoded */
    /* The current decoded window. */
    const char *buf;
    size_t len, pos;
    bool eof; /* no more decoded data after buf */

    char delim, quote;
    unsigned char cls[256];
    bool header;
    bool pending_cr;

    /* The current record. */
    struct buf row;    /* field bytes */
    struct buf offs;   /* size_t pairs: start, len */
    struct buf quoted; /* one byte per field: was quoted */
    struct tcell *cells;
    size_t cells_cap;
    size_t width; /* header width */

    size_t line;     /* 1-based physical line of the scan position */
    size_t rec_line; /* line where the current record started */
    size_t records;  /* records read, header included */
    size_t blank_lines;
    size_t min_fields, max_fields;
    size_t nul_bytes, bad_bytes;
    size_t ragged, long_rows, extra_fields;
    json_t *ragged_rows; /* first few row numbers */
};

static void csv_close(struct table_src *src);
static void csv_set_notes(struct table_src *src);
static enum err_code csv_next_row(struct table_src *src, const struct tcell **cells, size_t *ncells,
                                  bool *eof, struct err *err);

static const struct table_ops csv_ops = {csv_next_row, csv_close};

/* ---- decoding ---- */

/* Windows-1252 0x80..0x9F; the five unassigned bytes map to C1 controls. */
static const uint16_t csv_cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

/* Index of the first byte that is NUL or >= 0x80. */
static size_t csv_simple_prefix(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t z = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
        if ((w & 0x8080808080808080ULL) | z)
            break;
    }
    while (i < n && p[i] && p[i] < 0x80)
        i++;
    return i;
}

static void csv_decode(struct rd_csv *r, const unsigned char *in, size_t n)
{
    char *o = r->dec;
    size_t on = 0, i = 0;
    if (r->enc == ENC_UTF8 || r->enc == ENC_UTF8_BOM) {
        i = csv_simple_prefix(in, n);
        if (i == n) {
            r->buf = (const char *)in;
            r->len = n;
            r->pos = 0;
            return;
        }
        memcpy(o, in, i);
        on = i;
        while (i < n) {
            unsigned c = in[i];
            if (c && c < 0x80) {
                o[on++] = (char)c;
                i++;
                continue;
            }
            size_t k = c ? utf8_seq(in + i, n - i) : 0;
            if (k && k != (size_t)-1) {
                memcpy(o + on, in + i, k);
                on += k;
                i += k;
                continue;
            }
            if (c)
                r->bad_bytes++;
            else
                r->nul_bytes++;
            on += utf8_put(o + on, 0xFFFD);
            i++;
        }
    } else if (r->enc == ENC_CP1252) {
        for (; i < n; i++) {
            unsigned c = in[i];
            if (c && c < 0x80)
                o[on++] = (char)c;
            else if (!c) {
                r->nul_bytes++;
                on += utf8_put(o + on, 0xFFFD);
            } else if (c < 0xA0)
                on += utf8_put(o + on, csv_cp1252_hi[c - 0x80]);
            else
                on += utf8_put(o + on, c);
        }
    } else {
        bool le = r->enc == ENC_UTF16LE;
        while (i + 1 < n) {
            uint32_t u =
                le ? (uint32_t)(in[i] | in[i + 1] << 8) : (uint32_t)(in[i] << 8 | in[i + 1]);
            i += 2;
            if (u >= 0xD800 && u <= 0xDBFF && i + 1 < n) {
                uint32_t v =
                    le ? (uint32_t)(in[i] | in[i + 1] << 8) : (uint32_t)(in[i] << 8 | in[i + 1]);
                if (v >= 0xDC00 && v <= 0xDFFF) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
                    i += 2;
                }
            }
            if (u == 0) {
                r->nul_bytes++;
                u = 0xFFFD;
            } else if (u >= 0xD800 && u <= 0xDFFF) {
                r->bad_bytes++;
                u = 0xFFFD;
            }
            on += utf8_put(o + on, u);
        }
        if (i < n) { /* odd trailing byte at EOF */
            r->bad_bytes++;
            on += utf8_put(o + on, 0xFFFD);
        }
    }
    r->buf = r->dec;
    r->len = on;
    r->pos = 0;
}

/* How many bytes at the end of raw[0..n) form an incomplete unit to carry. */
static size_t csv_tail(const struct rd_csv *r, const unsigned char *p, size_t n)
{
    if (r->enc == ENC_UTF16LE || r->enc == ENC_UTF16BE) {
        size_t t = n & 1;
        if (n - t >= 2) {
            const unsigned char *u = p + n - t - 2;
            unsigned hi = r->enc == ENC_UTF16LE ? u[1] : u[0];
            if (hi >= 0xD8 && hi <= 0xDB)
                t += 2;
        }
        return t;
    }
    if (r->enc == ENC_CP1252)
        return 0;
    for (size_t b = 1; b <= 3 && b <= n; b++) {
        unsigned c = p[n - b];
        if (c < 0x80)
            return 0;
        if (c >= 0xC0)
            return utf8_seq(p + n - b, b) == (size_t)-1 ? b : 0;
    }
    return 0;
}

static enum err_code csv_read_block(struct rd_csv *r, size_t *got, struct err *err)
{
    size_t n = r->carry;
    while (n < (size_t)LIM_CSV_READ_BLOCK && !r->raw_eof) {
        ssize_t k = read(r->fd, r->raw + n, (size_t)LIM_CSV_READ_BLOCK - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(err, E_IO, "cannot read the table");
        }
        if (k == 0)
            r->raw_eof = true;
        n += (size_t)k;
    }
    *got = n;
    return E_OK;
}

/* Decode the next block into buf/len. Sets r->eof when nothing is left. */
static enum err_code csv_fill(struct rd_csv *r, struct err *err)
{
    size_t n = 0;
    enum err_code rc = csv_read_block(r, &n, err);
    if (rc)
        return rc;
    size_t start = 0;
    if (!r->sniffed) {
        /* Decide the encoding on the first window of raw bytes. */
        const unsigned char *p = r->raw;
        if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
            r->enc = ENC_UTF8_BOM;
            start = 3;
        } else if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
            r->enc = ENC_UTF16LE;
            start = 2;
        } else if (n >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
            r->enc = ENC_UTF16BE;
            start = 2;
        } else {
            size_t w = n < (size_t)LIM_CSV_SNIFF_BYTES ? n : (size_t)LIM_CSV_SNIFF_BYTES;
            r->enc = ENC_UTF8;
            for (size_t i = csv_simple_prefix(p, w); i < w;) {
                if (!p[i] || p[i] < 0x80) {
                    i++;
                    continue;
                }
                size_t k = utf8_seq(p + i, w - i);
                if (k == (size_t)-1 && (w < n || !r->raw_eof))
                    break; /* cut by the window */
                if (!k || k == (size_t)-1) {
                    r->enc = ENC_CP1252;
                    break;
                }
                i += k;
            }
        }
    }
    size_t tail = r->raw_eof ? 0 : csv_tail(r, r->raw + start, n - start);
    csv_decode(r, r->raw + start, n - start - tail);
    if (tail) {
        /* The decoded window may point into raw: move the tail after use, so
         * keep it aside in the spare bytes past the block. */
        memcpy(r->raw + LIM_CSV_READ_BLOCK + 4, r->raw + n - tail, tail);
    }
    r->carry = tail;
    r->eof = r->raw_eof && r->len == 0;
    return E_OK;
}

/* Before reading into raw again, put the carried bytes at its start. */
static enum err_code csv_refill(struct rd_csv *r, struct err *err)
{
    if (r->raw_eof && !r->carry) {
        r->buf = "";
        r->len = r->pos = 0;
        r->eof = true;
        return E_OK;
    }
    if (r->carry)
        memmove(r->raw, r->raw + LIM_CSV_READ_BLOCK + 4, r->carry);
    do {
        enum err_code rc = csv_fill(r, err);
        if (rc)
            return rc;
    } while (!r->len && !r->eof);
    return E_OK;
}

/* ---- dialect sniffing ---- */

/* Field counts per record of window w for delimiter d: mode and share of
 * it; *odd counts quotes that do not fit d (a quoted field that goes on
 * after its closing quote, '"a";"b"' read with ','). */
static void csv_sniff_one(const char *w, size_t n, bool whole, char d, char q, size_t *mode,
                          double *share, size_t *first, size_t *odd)
{
    enum { MAXREC = 400 };
    size_t counts[MAXREC];
    size_t nrec = 0, fields = 1, i = 0, start = 0;
    bool inq = false, field_start = true;
    *odd = 0;
    while (i < n && nrec < MAXREC) {
        char c = w[i];
        if (inq) {
            if (c == q) {
                if (i + 1 < n && w[i + 1] == q)
                    i++;
                else {
                    inq = false;
                    if (i + 1 < n && w[i + 1] != d && w[i + 1] != '\n' && w[i + 1] != '\r')
                        (*odd)++;
                }
            }
        } else if (c == q && field_start) {
            inq = true;
        } else if (c == d) {
            fields++;
            field_start = true;
            i++;
            continue;
        } else if (c == '\n' || c == '\r') {
            if (i > start)
                counts[nrec++] = fields;
            if (c == '\r' && i + 1 < n && w[i + 1] == '\n')
                i++;
            fields = 1;
            start = i + 1;
            field_start = true;
            i++;
            continue;
        }
        field_start = false;
        i++;
    }
    if (whole && i >= n && n > start && !inq && nrec < MAXREC)
        counts[nrec++] = fields;
    *mode = 0;
    *share = 0;
    *first = nrec ? counts[0] : 0;
    if (!nrec)
        return;
    size_t best = 0, bestn = 0;
    for (size_t a = 0; a < nrec; a++) {
        size_t k = 0;
        for (size_t b = 0; b < nrec; b++)
            k += counts[b] == counts[a];
        if (k > bestn || (k == bestn && counts[a] > best)) {
            best = counts[a];
            bestn = k;
        }
    }
    *mode = best;
    *share = (double)bestn / (double)nrec;
}

static char csv_sniff_delim(const char *w, size_t n, bool whole, bool tsv)
{
    static const char cands[] = {',', '\t', ';', '|', ':'};
    char best = 0;
    double best_score = -1, best_share = 0;
    for (size_t k = 0; k < sizeof(cands); k++) {
        size_t mode, first, odd;
        double share;
        csv_sniff_one(w, n, whole, cands[k], '"', &mode, &share, &first, &odd);
        if (mode < 2)
            continue;
        if (cands[k] == ':' && best && best_share >= 0.5)
            continue;
        /* Quotes that fit first (a ';' file whose quoted fields hold commas
         * splits as evenly on ',': csv.Sniffer looks at the quotes too),
         * then consistency (in 5% steps), then a header agreeing with the
         * mode, then more fields. */
        double score = (odd ? 0 : 1e7) + (double)(long)(share * 20) * 100000 +
                       (first == mode ? 50000 : 0) + (double)(mode < 49999 ? mode : 49999);
        if (cands[k] == ':' && share < 0.95)
            continue;
        if (score > best_score) {
            best_score = score;
            best_share = share;
            best = cands[k];
        }
    }
    if (!best)
        best = tsv ? '\t' : ',';
    return best;
}

/* ---- records ---- */

/* buf_append with the common case inline (capacity already there). */
static inline enum err_code csv_put(struct buf *b, const void *p, size_t n, struct err *err)
{
    if (b->data && n < b->cap - b->len && b->len + n <= b->max) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return E_OK;
    }
    return buf_append(b, p, n, err);
}

static enum err_code csv_field_append(struct rd_csv *r, const char *p, size_t n, size_t fstart,
                                      struct err *err)
{
    if (r->row.len - fstart + n > (size_t)LIM_CSV_FIELD_BYTES)
        return err_set(err, E_PARSE, "row %zu (line %zu), column %zu: field exceeds %ld bytes",
                       r->records + 1, r->rec_line, r->offs.len / (2 * sizeof(size_t)) + 1,
                       (long)LIM_CSV_FIELD_BYTES);
    enum err_code rc = csv_put(&r->row, p, n, err);
    if (rc == E_LIMIT)
        return err_set(err, E_PARSE, "row %zu (line %zu): record exceeds %ld bytes", r->records + 1,
                       r->rec_line, (long)LIM_CSV_ROW_BYTES);
    return rc;
}

static enum err_code csv_field_end(struct rd_csv *r, size_t fstart, bool quoted, struct err *err)
{
    size_t nf = r->offs.len / (2 * sizeof(size_t));
    if (nf >= (size_t)LIM_CSV_COLUMNS)
        return err_set(err, E_PARSE, "row %zu (line %zu): more than %ld columns", r->records + 1,
                       r->rec_line, (long)LIM_CSV_COLUMNS);
    size_t pair[2] = {fstart, r->row.len - fstart};
    enum err_code rc = csv_put(&r->offs, pair, sizeof(pair), err);
    unsigned char qb = quoted;
    if (!rc)
        rc = csv_put(&r->quoted, &qb, 1, err);
    return rc;
}

enum csv_fast { CSV_FAST_EOL, CSV_FAST_START, CSV_FAST_SLOW };

/* The index of the first delimiter, CR or LF in b[i..n), else n. */
static inline size_t csv_scan_unquoted(const char *b, size_t i, size_t n, const unsigned char *cls,
                                       char delim)
{
#ifdef __SSE2__
    const __m128i vd = _mm_set1_epi8(delim), vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
    while (i + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
                                   _mm_cmpeq_epi8(x, vr));
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#else
    (void)delim;
#endif
    while (i < n && !cls[(unsigned char)b[i]])
        i++;
    return i;
}

/*
 * The common case of csv_record: unquoted fields that end inside the
 * window and fit the buffers' current capacity, starting at i (a field
 * start that is not a quote). Copies them with no per-field calls and
 * leaves r->pos at the next byte. CSV_FAST_EOL: the record ended (line
 * counted, pending CR noted); CSV_FAST_START: at a field start again (a
 * quote or the end of the window); CSV_FAST_SLOW: the field at r->pos needs
 * the general path (crosses the window, needs growth, or hits a cap).
 */
static inline size_t csv_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

static inline enum csv_fast csv_fast_fields(struct rd_csv *r, size_t i)
{
    const char *b = r->buf;
    const unsigned char *cls = r->cls;
    size_t n = r->len;
    const char q = r->quote, delim = r->delim;
    struct buf *row = &r->row, *offs = &r->offs, *qb = &r->quoted;
    if (!row->data || !offs->data || !qb->data) {
        r->pos = i;
        return CSV_FAST_SLOW;
    }
    /* The lengths each buffer may reach here: room for the NUL, the cap. */
    char *rd = row->data, *od = offs->data, *qd = qb->data;
    size_t rl = row->len, ol = offs->len, ql = qb->len;
    size_t rcap = row->cap, rlim = csv_min(rcap - 1, row->max);
    size_t olim = csv_min(offs->cap - 1, offs->max);
    size_t qlim = csv_min(csv_min(qb->cap - 1, qb->max), (size_t)LIM_CSV_COLUMNS);
    enum csv_fast res;
    for (;;) {
        size_t j = csv_scan_unquoted(b, i, n, cls, delim);
        size_t fl = j - i;
        if (j == n || fl > rlim - rl || fl > (size_t)LIM_CSV_FIELD_BYTES ||
            2 * sizeof(size_t) > olim - ol || ql >= qlim) {
            res = CSV_FAST_SLOW;
            break;
        }
        size_t pair[2] = {rl, fl};
#ifdef __SSE2__
        if (fl <= 16 && i + 16 <= n && rl + 16 < rcap) /* one unaligned 16-byte copy */
            _mm_storeu_si128((__m128i *)(void *)(rd + rl),
                             _mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        else
#endif
            memcpy(rd + rl, b + i, fl);
        rl += fl;
        memcpy(od + ol, pair, sizeof(pair));
        ol += sizeof(pair);
        qd[ql++] = 0;
        char c = b[j];
        i = j + 1;
        if (c != delim) {
            r->line++;
            if (c == '\r')
                r->pending_cr = true;
            res = CSV_FAST_EOL;
            break;
        }
        if (i == n || b[i] == q) {
            res = CSV_FAST_START;
            break;
        }
    }
    r->pos = i;
    row->len = rl;
    offs->len = ol;
    qb->len = ql;
    rd[rl] = '\0';
    od[ol] = '\0';
    qd[ql] = '\0';
    return res;
}

static size_t csv_count_nl(const char *p, size_t n)
{
    size_t k = 0;
    const char *e = p + n;
    while ((p = memchr(p, '\n', (size_t)(e - p)))) {
        k++;
        p++;
    }
    return k;
}

/* Read one record into row/offs. *got false at the end of the input. Blank
 * lines are skipped here. */
static enum err_code csv_record(struct rd_csv *r, bool *got, struct err *err)
{
    enum err_code rc;
again:
    buf_reset(&r->row);
    buf_reset(&r->offs);
    buf_reset(&r->quoted);
    *got = false;
    enum csv_state st = S_FIELD_START;
    size_t fstart = 0;
    bool quoted = false, any = false;
    size_t quote_line = 0;
    const char q = r->quote;
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof || (rc = csv_refill(r, err)) || r->eof) {
                if (r->eof)
                    break;
                return rc;
            }
        }
        if (r->pending_cr) {
            r->pending_cr = false;
            if (r->buf[r->pos] == '\n') {
                r->pos++;
                continue;
            }
        }
        if (!any) {
            any = true;
            r->rec_line = r->line;
        }
        const char *b = r->buf;
        size_t i = r->pos, n = r->len;
        switch (st) {
        case S_FIELD_START:
            if (b[i] == q) {
                st = S_QUOTED;
                quoted = true;
                quote_line = r->line;
                r->pos = i + 1;
                continue;
            }
            enum csv_fast fr = csv_fast_fields(r, i);
            fstart = r->row.len;
            switch (fr) {
            case CSV_FAST_EOL:
                goto done;
            case CSV_FAST_START:
                continue; /* at a field start (a quote or the window's end) */
            case CSV_FAST_SLOW:
                break;
            }
            st = S_UNQUOTED;
            continue;
        case S_UNQUOTED: {
            size_t j = csv_scan_unquoted(b, i, n, r->cls, r->delim);
            if (j > i && (rc = csv_field_append(r, b + i, j - i, fstart, err)))
                return rc;
            r->pos = j;
            if (j == n)
                continue;
            char c = b[j];
            if ((rc = csv_field_end(r, fstart, quoted, err)))
                return rc;
            r->pos = j + 1;
            fstart = r->row.len;
            quoted = false;
            st = S_FIELD_START;
            if (c == r->delim)
                continue;
            r->line++;
            if (c == '\r')
                r->pending_cr = true;
            goto done;
        }
        case S_QUOTED: {
            const char *e = memchr(b + i, q, n - i);
            size_t j = e ? (size_t)(e - b) : n;
            if (j > i) {
                if ((rc = csv_field_append(r, b + i, j - i, fstart, err)))
                    return rc;
                r->line += csv_count_nl(b + i, j - i);
            }
            r->pos = e ? j + 1 : n;
            if (e)
                st = S_QUOTE_SEEN;
            continue;
        }
        case S_QUOTE_SEEN:
            if (b[i] == q) {
                if ((rc = csv_field_append(r, &q, 1, fstart, err)))
                    return rc;
                r->pos = i + 1;
                st = S_QUOTED;
                continue;
            }
            st = S_UNQUOTED; /* text after the closing quote is kept as is */
            continue;
        }
    }
    /* End of input. */
    if (st == S_QUOTED)
        return err_set(err, E_PARSE,
                       "row %zu: unterminated quoted field (the quote opened on line %zu)",
                       r->records + 1, quote_line);
    if (!any)
        return E_OK;
    if ((rc = csv_field_end(r, fstart, quoted, err)))
        return rc;
done:;
    size_t nf = r->offs.len / (2 * sizeof(size_t));
    if (nf == 1 && !r->quoted.data[0]) {
        /* Blank or whitespace-only line. */
        bool blank = true;
        for (size_t k = 0; k < r->row.len && blank; k++)
            blank = (r->row.data[k] == ' ' || r->row.data[k] == '\t') && r->row.data[k] != r->delim;
        if (blank) {
            r->blank_lines++;
            goto again;
        }
    }
    r->records++;
    if (r->records == 1 || nf < r->min_fields)
        r->min_fields = nf;
    if (nf > r->max_fields)
        r->max_fields = nf;
    *got = true;
    return E_OK;
}

/* Build the cells of the current record padded/cut to width. */
static enum err_code csv_cells(struct rd_csv *r, size_t width, struct err *err)
{
    if (width > r->cells_cap) {
        struct tcell *c = realloc(r->cells, width * sizeof(*c));
        if (!c)
            return err_set(err, E_NOMEM, "out of memory");
        r->cells = c;
        r->cells_cap = width;
    }
    size_t nf = r->offs.len / (2 * sizeof(size_t));
    const size_t *o = (const size_t *)(void *)r->offs.data;
    size_t m = nf < width ? nf : width;
    const char *base = r->row.data ? r->row.data : "";
    const unsigned char *qd = (const unsigned char *)r->quoted.data;
    for (size_t i = 0; i < m; i++) {
        size_t len = r->row.data ? o[2 * i + 1] : 0;
        r->cells[i] = (struct tcell){.type = (len || qd[i]) ? TC_STRING : TC_EMPTY,
                                     .s = base + (r->row.data ? o[2 * i] : 0),
                                     .len = len};
    }
    for (size_t i = m; i < width; i++)
        r->cells[i] = (struct tcell){.type = TC_EMPTY, .s = ""};
    return E_OK;
}

static enum err_code csv_next_row(struct table_src *src, const struct tcell **cells, size_t *ncells,
                                  bool *eof, struct err *err)
{
    struct rd_csv *r = src->impl;
    bool got;
    enum err_code rc = csv_record(r, &got, err);
    if (rc)
        return rc;
    if (!got) {
        csv_set_notes(src);
        *eof = true;
        *ncells = 0;
        *cells = r->cells;
        return E_OK;
    }
    size_t nf = r->offs.len / (2 * sizeof(size_t));
    if (nf != r->width) {
        r->ragged++;
        if (json_array_size(r->ragged_rows) < LIM_TABLE_NOTE_ROWS)
            json_array_append_new(r->ragged_rows, json_integer((json_int_t)r->rec_line));
        if (nf > r->width) {
            r->long_rows++;
            r->extra_fields += nf - r->width;
        }
    }
    if ((rc = csv_cells(r, r->width, err)))
        return rc;
    *cells = r->cells;
    *ncells = r->width;
    *eof = false;
    return E_OK;
}

static void csv_free(struct rd_csv *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->raw);
    free(r->dec);
    free(r->cells);
    buf_release(&r->row);
    buf_release(&r->offs);
    buf_release(&r->quoted);
    json_decref(r->ragged_rows);
    free(r);
}

static void csv_set_notes(struct table_src *src)
{
    struct rd_csv *r = src->impl;
    char d[2] = {r->delim, 0};
    json_t *n = src->notes;
    json_object_set_new(n, "format", json_string("csv"));
    json_object_set_new(n, "delimiter", json_string(d));
    json_object_set_new(n, "quote", json_string("\""));
    json_object_set_new(n, "encoding", json_string(csv_enc_names[r->enc]));
    json_object_set_new(n, "header", json_boolean(r->header));
    json_object_set_new(n, "raggedRows", json_integer((json_int_t)r->ragged));
    json_object_set_new(n, "raggedRowLines", json_deep_copy(r->ragged_rows));
    json_object_set_new(n, "longRows", json_integer((json_int_t)r->long_rows));
    json_object_set_new(n, "extraFieldsDropped", json_integer((json_int_t)r->extra_fields));
    json_object_set_new(n, "blankLines", json_integer((json_int_t)r->blank_lines));
    json_object_set_new(n, "nulBytes", json_integer((json_int_t)r->nul_bytes));
    json_object_set_new(n, "invalidBytes", json_integer((json_int_t)r->bad_bytes));
}

static void csv_close(struct table_src *src)
{
    if (!src)
        return;
    csv_free(src->impl);
    table_src_free(src);
}

void rd_csv_stats(const struct table_src *src, struct rd_csv_stats *st)
{
    const struct rd_csv *r = src->impl;
    st->records = r->records;
    st->blank_lines = r->blank_lines;
    st->min_fields = r->min_fields;
    st->max_fields = r->max_fields;
    st->delimiter = r->delim;
    st->encoding = csv_enc_names[r->enc];
    csv_set_notes((struct table_src *)src);
}

static enum err_code csv_options(struct rd_csv *r, json_t *options, struct err *err)
{
    json_t *d = options ? json_object_get(options, "delimiter") : NULL;
    if (d && !json_is_null(d)) {
        const char *s = json_string_value(d);
        if (!s)
            return err_set(err, E_INVALID, "option 'delimiter' must be a string");
        if (!strcmp(s, "tab") || !strcmp(s, "\\t"))
            r->delim = '\t';
        else if (strlen(s) == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r')
            r->delim = s[0];
        else
            return err_set(err, E_INVALID, "option 'delimiter' must be one ASCII character");
    }
    json_t *h = options ? json_object_get(options, "header") : NULL;
    r->header = true;
    if (h && !json_is_null(h)) {
        if (!json_is_boolean(h))
            return err_set(err, E_INVALID, "option 'header' must be true or false");
        r->header = json_is_true(h);
    }
    return E_OK;
}

enum err_code rd_csv_open(const char *path, bool tsv, json_t *options, struct table_src **out,
                          struct err *err)
{
    enum err_code rc = E_OK;
    struct table_src *src = NULL;
    struct rd_csv *r = calloc(1, sizeof(*r));
    if (!r)
        return err_set(err, E_NOMEM, "out of memory");
    r->fd = -1;
    r->quote = '"';
    r->line = 1;
    buf_init(&r->row, (size_t)LIM_CSV_ROW_BYTES);
    buf_init(&r->offs, (size_t)LIM_CSV_COLUMNS * 2 * sizeof(size_t) + 64);
    buf_init(&r->quoted, (size_t)LIM_CSV_COLUMNS + 64);
    r->ragged_rows = json_array();
    r->raw = malloc((size_t)LIM_CSV_READ_BLOCK + 8);
    r->dec_cap = (size_t)LIM_CSV_READ_BLOCK * 3 + 16;
    r->dec = malloc(r->dec_cap);
    if (!r->raw || !r->dec || !r->ragged_rows) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = csv_options(r, options, err)))
        goto out;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = err_sys(err, E_IO, "cannot open the table");
        goto out;
    }
    if ((rc = csv_fill(r, err)))
        goto out;
    r->sniffed = true;
    if (!r->delim) {
        size_t w = r->len < (size_t)LIM_CSV_SNIFF_BYTES ? r->len : (size_t)LIM_CSV_SNIFF_BYTES;
        r->delim = csv_sniff_delim(r->buf, w, r->raw_eof && w == r->len && !r->carry, tsv);
    }
    r->cls[(unsigned char)r->delim] = CSV_C_DELIM;
    r->cls['\n'] = CSV_C_EOL;
    r->cls['\r'] = CSV_C_EOL;
    if ((rc = table_src_new(&csv_ops, r, &src, err)))
        goto out;
    bool got;
    if ((rc = csv_record(r, &got, err)))
        goto out;
    if (!got) {
        rc = err_set(err, E_PARSE, "the table is empty (no header row)");
        goto out;
    }
    size_t nf = r->offs.len / (2 * sizeof(size_t));
    if (r->header) {
        const char **raw = calloc(nf, sizeof(*raw));
        size_t *lens = calloc(nf, sizeof(*lens));
        const size_t *o = (const size_t *)(void *)r->offs.data;
        if (!raw || !lens) {
            free(raw);
            free(lens);
            rc = err_set(err, E_NOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nf; i++) {
            raw[i] = r->row.data ? r->row.data + o[2 * i] : "";
            lens[i] = o[2 * i + 1];
        }
        rc = table_set_names(src, raw, lens, nf, err);
        free(raw);
        free(lens);
        if (rc)
            goto out;
        r->width = nf;
    } else {
        /* Headerless: the first record is data; keep it for the first next_row. */
        if ((rc = table_set_default_names(src, nf, err)))
            goto out;
        r->width = nf;
        r->records--; /* counted again when re-read */
        /* Re-reading is simplest: rewind the whole source. */
        if (lseek(r->fd, 0, SEEK_SET) < 0) {
            rc = err_sys(err, E_IO, "cannot rewind the table");
            goto out;
        }
        r->raw_eof = false;
        r->carry = 0;
        r->sniffed = false;
        r->line = 1;
        r->pending_cr = false;
        r->blank_lines = 0;
        r->records = 0;
        r->max_fields = 0;
        r->nul_bytes = r->bad_bytes = 0;
        enum csv_enc enc = r->enc;
        if ((rc = csv_fill(r, err)))
            goto out;
        r->sniffed = true;
        r->enc = enc;
    }
    csv_set_notes(src);
    *out = src;
    src = NULL;
    r = NULL;
out:
    if (src) {
        src->impl = NULL;
        table_src_free(src);
    }
    csv_free(r);
    return rc;
}
