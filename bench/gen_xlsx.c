/*
 * gen_xlsx: a deterministic two-sheet workbook for the parse_excel
 * benchmark, written with libxlsxwriter (shared strings, date cells).
 *
 * usage: gen_xlsx OUT.xlsx [ROWS1 [ROWS2]]   (default 150000 and 50000)
 * Sheet "orders": id, date (date cell), region, product, qty, price,
 * amount (float), note (text, some blank). Sheet "customers": id, name,
 * city, since (datetime cell), score, vip (boolean).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <xlsxwriter.h>

static uint64_t gx_state = 0x9E3779B97F4A7C15ULL;

static uint64_t gx_next(void)
{
    uint64_t z = (gx_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static unsigned gx_below(unsigned n)
{
    return (unsigned)(gx_next() % n);
}

static const char *const gx_regions[] = {"North", "South", "East", "West", "Central"};
static const char *const gx_products[] = {"bolt",  "nut",   "washer",  "screw",  "rivet",
                                          "hinge", "clamp", "bracket", "spring", "pin"};
static const char *const gx_cities[] = {"Berlin", "Paris", "Lagos", "Lima",  "Osaka",  "Quito",
                                        "Perth",  "Oslo",  "Cairo", "Delhi", "Austin", "Leeds"};
static const char *const gx_words[] = {"fast",   "slow", "late", "early",  "broken", "ok",
                                       "return", "gift", "bulk", "sample", "rush",   "hold"};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_xlsx OUT.xlsx [ROWS1 [ROWS2]]\n");
        return 2;
    }
    long n1 = argc > 2 ? strtol(argv[2], NULL, 10) : 150000;
    long n2 = argc > 3 ? strtol(argv[3], NULL, 10) : 50000;
    lxw_workbook *wb = workbook_new(argv[1]);
    if (!wb)
        return 1;
    lxw_format *fdate = workbook_add_format(wb);
    format_set_num_format(fdate, "yyyy-mm-dd");
    lxw_format *fdt = workbook_add_format(wb);
    format_set_num_format(fdt, "yyyy-mm-dd hh:mm:ss");
    lxw_worksheet *ws = workbook_add_worksheet(wb, "orders");
    const char *h1[] = {"id", "date", "region", "product", "qty", "price", "amount", "note"};
    for (int c = 0; c < 8; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, h1[c], NULL);
    char note[96];
    for (long r = 1; r <= n1; r++) {
        lxw_row_t row = (lxw_row_t)r;
        lxw_datetime dt = {
            2015 + (int)gx_below(10), 1 + (int)gx_below(12), 1 + (int)gx_below(28), 0, 0, 0};
        unsigned qty = 1 + gx_below(50);
        double price = (double)(50 + gx_below(100000)) / 100.0;
        worksheet_write_number(ws, row, 0, (double)r, NULL);
        worksheet_write_datetime(ws, row, 1, &dt, fdate);
        worksheet_write_string(ws, row, 2, gx_regions[gx_below(5)], NULL);
        worksheet_write_string(ws, row, 3, gx_products[gx_below(10)], NULL);
        worksheet_write_number(ws, row, 4, qty, NULL);
        worksheet_write_number(ws, row, 5, price, NULL);
        worksheet_write_number(ws, row, 6, price * qty, NULL);
        if (gx_below(10) < 7) {
            snprintf(note, sizeof(note), "%s %s, order %ld", gx_words[gx_below(12)],
                     gx_words[gx_below(12)], r % 977);
            worksheet_write_string(ws, row, 7, note, NULL);
        }
    }
    ws = workbook_add_worksheet(wb, "customers");
    const char *h2[] = {"id", "name", "city", "since", "score", "vip"};
    for (int c = 0; c < 6; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, h2[c], NULL);
    char name[32];
    for (long r = 1; r <= n2; r++) {
        lxw_row_t row = (lxw_row_t)r;
        lxw_datetime dt = {2000 + (int)gx_below(24), 1 + (int)gx_below(12), 1 + (int)gx_below(28),
                           (int)gx_below(24),        (int)gx_below(60),     (double)gx_below(60)};
        snprintf(name, sizeof(name), "cust-%05u", gx_below(40000));
        worksheet_write_number(ws, row, 0, (double)r, NULL);
        worksheet_write_string(ws, row, 1, name, NULL);
        worksheet_write_string(ws, row, 2, gx_cities[gx_below(12)], NULL);
        worksheet_write_datetime(ws, row, 3, &dt, fdt);
        worksheet_write_number(ws, row, 4, (double)gx_below(100000) / 1000.0, NULL);
        worksheet_write_boolean(ws, row, 5, gx_below(5) == 0, NULL);
    }
    return workbook_close(wb) == LXW_NO_ERROR ? 0 : 1;
}
