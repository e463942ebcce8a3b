#include "report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "klimits.h"

#include "banned.h"

#define RH_MAX_BYTES ((size_t)LIM_OUTPUT_BYTES_DEFAULT)

static enum err_code rh_esc(struct buf *b, const char *s, size_t n, struct err *err)
{
    enum err_code rc = E_OK;
    size_t start = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '\0':
            rep = "\xEF\xBF\xBD";
            break;
        default:
            break;
        }
        if (!rep)
            continue;
        if (i > start)
            rc = buf_append(b, s + start, i - start, err);
        if (!rc)
            rc = buf_append_str(b, rep, err);
        start = i + 1;
    }
    if (!rc && n > start)
        rc = buf_append(b, s + start, n - start, err);
    return rc;
}

/* A JSON value as short escaped text. */
static enum err_code rh_val(struct buf *b, const json_t *v, struct err *err)
{
    char tmp[64];
    if (!v || json_is_null(v))
        return buf_append_str(b, "", err);
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        enum err_code rc = rh_esc(b, json_string_value(v), n > 80 ? 80 : n, err);
        if (!rc && n > 80)
            rc = buf_append_str(b, "&hellip;", err);
        return rc;
    }
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
        return buf_append_str(b, tmp, err);
    }
    if (json_is_real(v)) {
        snprintf(tmp, sizeof(tmp), "%.6g", json_real_value(v));
        return buf_append_str(b, tmp, err);
    }
    if (json_is_boolean(v))
        return buf_append_str(b, json_is_true(v) ? "true" : "false", err);
    return E_OK;
}

/* Vertical bars (a histogram): labels are titles; `lo` and `hi` (may be
 * NULL) are printed under the left and right ends of the axis. */
static enum err_code rh_bars(struct buf *b, const double *vals, const char *const *labels, size_t n,
                             const char *lo, const char *hi, struct err *err)
{
    const int W = 420, H = 160, PAD = 20;
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        if (vals[i] > mx)
            mx = vals[i];
    enum err_code rc = buf_printf(b, err,
                                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                                  "height=\"%d\" role=\"img\">",
                                  W, H + PAD);
    double bw = n ? (double)(W - 2) / (double)n : 0;
    for (size_t i = 0; i < n && !rc; i++) {
        double h = mx > 0 ? vals[i] / mx * (H - 10) : 0;
        rc = buf_printf(b, err,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"#4a7bb7\"><title>",
                        1 + bw * (double)i, H - h, bw > 2 ? bw - 1 : bw, h);
        if (!rc && labels[i])
            rc = rh_esc(b, labels[i], strlen(labels[i]), err);
        if (!rc)
            rc = buf_printf(b, err, ": %.0f</title></rect>", vals[i]);
    }
    if (!rc && lo && hi && n) {
        rc = buf_printf(b, err, "<text x=\"1\" y=\"%d\" font-size=\"11\">", H + 14);
        if (!rc)
            rc = rh_esc(b, lo, strlen(lo), err);
        if (!rc)
            rc = buf_printf(b, err,
                            "</text><text x=\"%d\" y=\"%d\" font-size=\"11\" "
                            "text-anchor=\"end\">",
                            W - 1, H + 14);
        if (!rc)
            rc = rh_esc(b, hi, strlen(hi), err);
        if (!rc)
            rc = buf_append_str(b, "</text>", err);
    }
    if (!rc)
        rc = buf_append_str(b, "</svg>", err);
    return rc;
}

/* Horizontal bars with their labels and counts (top values). */
static enum err_code rh_hbars(struct buf *b, const double *vals, const char *const *labels,
                              size_t n, struct err *err)
{
    const int LABEL_W = 180, BAR_W = 300, ROW = 18;
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        if (vals[i] > mx)
            mx = vals[i];
    enum err_code rc = buf_printf(b, err,
                                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                                  "height=\"%d\" role=\"img\" font-size=\"11\">",
                                  LABEL_W + BAR_W + 60, (int)n * ROW + 4);
    for (size_t i = 0; i < n && !rc; i++) {
        double w = mx > 0 ? vals[i] / mx * BAR_W : 0;
        int y = (int)i * ROW + 2;
        rc = buf_printf(b, err,
                        "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
                        "dominant-baseline=\"middle\">",
                        LABEL_W - 6, y + ROW / 2);
        if (!rc)
            rc = rh_esc(b, labels[i], strlen(labels[i]), err);
        if (!rc)
            rc = buf_printf(b, err,
                            "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                            "fill=\"#4a7bb7\"/><text x=\"%.1f\" y=\"%d\" "
                            "dominant-baseline=\"middle\">%.0f</text>",
                            LABEL_W, y + 2, w < 1 ? 1 : w, ROW - 4, LABEL_W + w + 4, y + ROW / 2,
                            vals[i]);
    }
    if (!rc)
        rc = buf_append_str(b, "</svg>", err);
    return rc;
}

static enum err_code rh_column_chart(struct buf *b, const json_t *col, struct err *err)
{
    enum err_code rc = E_OK;
    double vals[LIM_ANALYZE_TOPN + 32];
    char lab[LIM_ANALYZE_TOPN + 32][48];
    const char *labels[LIM_ANALYZE_TOPN + 32];
    size_t n = 0;
    const json_t *hist = json_object_get(col, "histogram");
    if (json_is_object(hist)) {
        const json_t *edges = json_object_get(hist, "edges"),
                     *counts = json_object_get(hist, "counts");
        for (size_t i = 0; i < json_array_size(counts) && n < 31; i++, n++) {
            vals[n] = (double)json_integer_value(json_array_get(counts, i));
            snprintf(lab[n], sizeof(lab[n]), "%.4g", json_number_value(json_array_get(edges, i)));
            labels[n] = lab[n];
        }
        if (n) {
            char hi[48];
            snprintf(hi, sizeof(hi), "%.4g",
                     json_number_value(json_array_get(edges, json_array_size(edges) - 1)));
            rc = buf_append_str(b, "<figure><figcaption>Histogram</figcaption>", err);
            if (!rc)
                rc = rh_bars(b, vals, labels, n, labels[0], hi, err);
            return rc ? rc : buf_append_str(b, "</figure>", err);
        }
        return E_OK;
    }
    const json_t *top = json_object_get(col, "top");
    for (size_t i = 0; i < json_array_size(top) && n < LIM_ANALYZE_TOPN; i++, n++) {
        const json_t *t = json_array_get(top, i);
        vals[n] = (double)json_integer_value(json_object_get(t, "count"));
        const json_t *v = json_object_get(t, "value");
        if (json_is_string(v))
            snprintf(lab[n], sizeof(lab[n]), "%.40s", json_string_value(v));
        else if (json_is_boolean(v))
            snprintf(lab[n], sizeof(lab[n]), "%s", json_is_true(v) ? "true" : "false");
        else
            snprintf(lab[n], sizeof(lab[n]), "%.6g", json_number_value(v));
        labels[n] = lab[n];
    }
    if (!n)
        return E_OK;
    rc = buf_append_str(b, "<figure><figcaption>Most frequent values</figcaption>", err);
    if (!rc)
        rc = rh_hbars(b, vals, labels, n, err);
    if (!rc)
        rc = buf_append_str(b, "</figure>", err);
    return rc;
}

static enum err_code rh_write_file(const struct buf *b, const char *path, struct err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return err_sys(err, E_IO, "cannot create the HTML report");
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    if (fclose(f) || !ok)
        return err_sys(err, E_IO, "cannot write the HTML report");
    return E_OK;
}

enum err_code report_html_write(const json_t *result, const char *title, const char *path,
                                struct err *err)
{
    static const char *const stats[] = {"type", "count", "missing", "distinct", "min", "max",
                                        "mean", "std",   "p25",     "p50",      "p75"};
    struct buf b;
    buf_init(&b, RH_MAX_BYTES);
    enum err_code rc;
    const json_t *cols = json_object_get(result, "columns");
    const char *t = title ? title : "table";
    rc = buf_append_str(&b,
                        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<title>Analysis of ",
                        err);
    if (!rc)
        rc = rh_esc(&b, t, strlen(t), err);
    if (!rc)
        rc = buf_append_str(
            &b,
            "</title><style>body{font-family:sans-serif;margin:2em;color:#222}"
            "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
            "padding:3px 6px;text-align:right}th{background:#eee}td.l,th.l{text-align:left}"
            "section{margin:1.5em 0;padding-top:.5em;border-top:1px solid #ddd}"
            "figure{margin:.5em 0}figcaption{font-size:12px;color:#555}</style></head><body>"
            "<h1>Analysis of ",
            err);
    if (!rc)
        rc = rh_esc(&b, t, strlen(t), err);
    if (!rc)
        rc = buf_printf(&b, err, "</h1><p>%lld rows, %zu columns analysed.</p>",
                        (long long)json_integer_value(json_object_get(result, "rows")),
                        json_array_size(cols));
    /* Summary table. */
    if (!rc)
        rc = buf_append_str(&b, "<h2>Summary</h2><table><tr><th class=\"l\">column</th>", err);
    for (size_t k = 0; k < sizeof(stats) / sizeof(stats[0]) && !rc; k++)
        rc = buf_printf(&b, err, "<th>%s</th>", stats[k]);
    if (!rc)
        rc = buf_append_str(&b, "</tr>", err);
    for (size_t i = 0; i < json_array_size(cols) && !rc; i++) {
        const json_t *c = json_array_get(cols, i);
        const json_t *nm = json_object_get(c, "name");
        rc = buf_append_str(&b, "<tr><td class=\"l\">", err);
        if (!rc)
            rc = rh_val(&b, nm, err);
        for (size_t k = 0; k < sizeof(stats) / sizeof(stats[0]) && !rc; k++) {
            rc = buf_append_str(&b, k == 0 ? "</td><td class=\"l\">" : "</td><td>", err);
            if (!rc)
                rc = rh_val(&b, json_object_get(c, stats[k]), err);
        }
        if (!rc)
            rc = buf_append_str(&b, "</td></tr>", err);
    }
    if (!rc)
        rc = buf_append_str(&b, "</table>", err);
    /* Per-column sections. */
    for (size_t i = 0; i < json_array_size(cols) && i < LIM_ANALYZE_REPORT_COLUMNS && !rc; i++) {
        const json_t *c = json_array_get(cols, i);
        rc = buf_append_str(&b, "<section><h3>", err);
        if (!rc)
            rc = rh_val(&b, json_object_get(c, "name"), err);
        if (!rc)
            rc = buf_append_str(&b, " <small>(", err);
        if (!rc)
            rc = rh_val(&b, json_object_get(c, "type"), err);
        if (!rc)
            rc = buf_append_str(&b, ")</small></h3>", err);
        if (!rc)
            rc = rh_column_chart(&b, c, err);
        if (!rc)
            rc = buf_append_str(&b, "</section>", err);
    }
    /* Correlations. */
    const json_t *corr = json_object_get(result, "correlations");
    const json_t *cn = json_object_get(corr, "columns"), *cm = json_object_get(corr, "matrix");
    if (!rc && json_array_size(cn) > 1) {
        rc = buf_append_str(&b, "<h2>Correlations (Pearson)</h2><table><tr><th></th>", err);
        for (size_t i = 0; i < json_array_size(cn) && !rc; i++) {
            rc = buf_append_str(&b, "<th>", err);
            if (!rc)
                rc = rh_val(&b, json_array_get(cn, i), err);
            if (!rc)
                rc = buf_append_str(&b, "</th>", err);
        }
        for (size_t i = 0; i < json_array_size(cn) && !rc; i++) {
            rc = buf_append_str(&b, "</tr><tr><th class=\"l\">", err);
            if (!rc)
                rc = rh_val(&b, json_array_get(cn, i), err);
            if (!rc)
                rc = buf_append_str(&b, "</th>", err);
            const json_t *row = json_array_get(cm, i);
            for (size_t j = 0; j < json_array_size(row) && !rc; j++) {
                const json_t *v = json_array_get(row, j);
                if (!json_is_number(v)) {
                    rc = buf_append_str(&b, "<td></td>", err);
                    continue;
                }
                double x = json_number_value(v);
                int shade = (int)lround(255 - fabs(x) * 120);
                rc = buf_printf(&b, err, "<td style=\"background:rgb(%d,%d,255)\">%.3f</td>",
                                x >= 0 ? shade : 255, shade, x);
            }
        }
        if (!rc)
            rc = buf_append_str(&b, "</tr></table>", err);
    }
    if (!rc)
        rc = buf_append_str(&b, "</body></html>\n", err);
    if (rc == E_LIMIT)
        rc = err_set(err, E_OUTPUT_LIMIT, "the HTML report would exceed %zu bytes", RH_MAX_BYTES);
    if (!rc)
        rc = rh_write_file(&b, path, err);
    buf_release(&b);
    return rc;
}
