#include "report.h"

#include <stdio.h>
#include <string.h>
#include <xlsxwriter.h>

#include "klimits.h"

#include "banned.h"

/* Excel cells hold at most 32767 characters; longer text is cut. */
#define RX_CELL_CHARS 32000

static void rx_write_value(lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, const json_t *v)
{
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (n <= RX_CELL_CHARS && !memchr(s, '\0', n)) {
            worksheet_write_string(ws, r, c, s, NULL);
        } else {
            char tmp[RX_CELL_CHARS + 1];
            size_t k = 0;
            for (size_t i = 0; i < n && k < RX_CELL_CHARS - 4; i++)
                if (s[i])
                    tmp[k++] = s[i];
            while (k && ((unsigned char)tmp[k - 1] & 0xC0) == 0x80)
                k--; /* do not end inside a UTF-8 sequence */
            if (k && (unsigned char)tmp[k - 1] >= 0xC0)
                k--;
            tmp[k] = '\0';
            worksheet_write_string(ws, r, c, tmp, NULL);
        }
    } else if (json_is_number(v)) {
        worksheet_write_number(ws, r, c, json_number_value(v), NULL);
    } else if (json_is_boolean(v)) {
        worksheet_write_boolean(ws, r, c, json_is_true(v), NULL);
    }
}

enum err_code report_xlsx_write(const json_t *result, const char *title, const char *path,
                                struct err *err)
{
    static const char *const stats[] = {"type", "count", "missing", "distinct", "min", "max",
                                        "mean", "std",   "p25",     "p50",      "p75"};
    const size_t nstats = sizeof(stats) / sizeof(stats[0]);
    char tmpdir[4096];
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (dl >= sizeof(tmpdir))
        return err_set(err, E_INTERNAL, "output path too long");
    memcpy(tmpdir, path, dl);
    tmpdir[dl] = '\0';
    lxw_workbook_options wo = {
        .constant_memory = LXW_FALSE, .tmpdir = dl ? tmpdir : NULL, .use_zip64 = LXW_FALSE};
    lxw_workbook *wb = workbook_new_opt(path, &wo);
    if (!wb)
        return err_set(err, E_IO, "cannot create the XLSX report");
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    lxw_worksheet *sum = workbook_add_worksheet(wb, "Summary");
    lxw_worksheet *hist = workbook_add_worksheet(wb, "Histograms");
    lxw_worksheet *tops = workbook_add_worksheet(wb, "Top values");
    lxw_worksheet *corr = workbook_add_worksheet(wb, "Correlations");
    const json_t *cols = json_object_get(result, "columns");

    worksheet_write_string(sum, 0, 0, "Analysis of", bold);
    worksheet_write_string(sum, 0, 1, title ? title : "table", NULL);
    worksheet_write_string(sum, 1, 0, "rows", bold);
    worksheet_write_number(sum, 1, 1, json_number_value(json_object_get(result, "rows")), NULL);
    worksheet_write_string(sum, 3, 0, "column", bold);
    for (size_t k = 0; k < nstats; k++)
        worksheet_write_string(sum, 3, (lxw_col_t)(k + 1), stats[k], bold);
    worksheet_set_column(sum, 0, 0, 24, NULL);
    for (size_t i = 0; i < json_array_size(cols); i++) {
        const json_t *c = json_array_get(cols, i);
        lxw_row_t r = (lxw_row_t)(4 + i);
        rx_write_value(sum, r, 0, json_object_get(c, "name"));
        for (size_t k = 0; k < nstats; k++)
            rx_write_value(sum, r, (lxw_col_t)(k + 1), json_object_get(c, stats[k]));
    }

    /* Histograms: two data columns per numeric column, and a chart for each. */
    lxw_col_t hc = 0;
    lxw_row_t chart_row = 0;
    lxw_row_t trow = 0;
    for (size_t i = 0; i < json_array_size(cols) && i < LIM_ANALYZE_REPORT_COLUMNS; i++) {
        const json_t *c = json_array_get(cols, i);
        const json_t *h = json_object_get(c, "histogram");
        const json_t *name = json_object_get(c, "name");
        if (json_is_object(h)) {
            const json_t *edges = json_object_get(h, "edges"),
                         *counts = json_object_get(h, "counts");
            size_t n = json_array_size(counts);
            if (!n)
                continue;
            rx_write_value(hist, 0, hc, name);
            worksheet_write_string(hist, 1, hc, "bin from", bold);
            worksheet_write_string(hist, 1, (lxw_col_t)(hc + 1), "count", bold);
            for (size_t k = 0; k < n; k++) {
                worksheet_write_number(hist, (lxw_row_t)(2 + k), hc,
                                       json_number_value(json_array_get(edges, k)), NULL);
                worksheet_write_number(hist, (lxw_row_t)(2 + k), (lxw_col_t)(hc + 1),
                                       (double)json_integer_value(json_array_get(counts, k)), NULL);
            }
            lxw_chart *ch = workbook_add_chart(wb, LXW_CHART_COLUMN);
            if (ch) {
                lxw_chart_series *se = chart_add_series(ch, NULL, NULL);
                chart_series_set_categories(se, "Histograms", 2, hc, (lxw_row_t)(1 + n), hc);
                chart_series_set_values(se, "Histograms", 2, (lxw_col_t)(hc + 1),
                                        (lxw_row_t)(1 + n), (lxw_col_t)(hc + 1));
                chart_set_series_gap(ch, 5);
                char t[160];
                snprintf(t, sizeof(t), "Histogram of %.120s",
                         json_is_string(name) ? json_string_value(name) : "");
                chart_title_set_name(ch, t);
                chart_legend_set_position(ch, LXW_CHART_LEGEND_NONE);
                worksheet_insert_chart(sum, (lxw_row_t)(6 + json_array_size(cols) + chart_row),
                                       (lxw_col_t)(1 + (chart_row / 16 % 2) * 0), ch);
                chart_row += 16;
            }
            hc = (lxw_col_t)(hc + 3);
        } else {
            const json_t *top = json_object_get(c, "top");
            if (!json_array_size(top))
                continue;
            rx_write_value(tops, trow, 0, name);
            worksheet_write_string(tops, trow, 1, "value", bold);
            worksheet_write_string(tops, trow, 2, "count", bold);
            trow++;
            for (size_t k = 0; k < json_array_size(top); k++, trow++) {
                const json_t *t = json_array_get(top, k);
                rx_write_value(tops, trow, 1, json_object_get(t, "value"));
                rx_write_value(tops, trow, 2, json_object_get(t, "count"));
            }
            trow++;
        }
    }

    const json_t *co = json_object_get(result, "correlations");
    const json_t *cn = json_object_get(co, "columns"), *cm = json_object_get(co, "matrix");
    for (size_t i = 0; i < json_array_size(cn); i++) {
        rx_write_value(corr, 0, (lxw_col_t)(1 + i), json_array_get(cn, i));
        rx_write_value(corr, (lxw_row_t)(1 + i), 0, json_array_get(cn, i));
        const json_t *row = json_array_get(cm, i);
        for (size_t j = 0; j < json_array_size(row); j++)
            rx_write_value(corr, (lxw_row_t)(1 + i), (lxw_col_t)(1 + j), json_array_get(row, j));
    }

    lxw_error e = workbook_close(wb);
    if (e != LXW_NO_ERROR)
        return err_set(err, E_IO, "cannot write the XLSX report: %s", lxw_strerror(e));
    return E_OK;
}
