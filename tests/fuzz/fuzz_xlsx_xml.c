/*
 * libFuzzer entry: the XML parsers of rd_xlsx.c behind a valid zip.
 *
 * A small workbook is built in memory (two worksheets, shared strings,
 * styles) and the fuzzed bytes (after the first) replace one of its parts,
 * picked by the low bits of the first byte; bit 7 stores that part deflated
 * instead of stored, so the inflate path runs too. The zip is written by
 * hand (local headers, central directory, end record) and then walked like
 * fuzz_xlsx does, and read once with the XML scanner and once with expat:
 * whatever expat reads, the scanner must read to the same rows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fz_util.h"
#include "fz_xlsx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NS_MAIN "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define NS_REL "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define NS_PKG "http://schemas.openxmlformats.org/package/2006/relationships"
#define CT_SML "application/vnd.openxmlformats-officedocument.spreadsheetml."

struct part {
    const char *name;
    const char *text;
};

static const struct part parts[] = {
    {"xl/worksheets/sheet1.xml",
     "<worksheet xmlns=\"" NS_MAIN "\"><dimension ref=\"A1:F3\"/><sheetData>"
     "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
     "<c r=\"C1\" t=\"inlineStr\"><is><t>when</t></is></c><c r=\"D1\" t=\"str\"><v>dur</v></c>"
     "<c r=\"E1\" t=\"s\"><v>2</v></c><c r=\"F1\" t=\"s\"><v>3</v></c></row>"
     "<row r=\"2\"><c r=\"A2\"><v>1.5</v></c><c r=\"B2\" t=\"b\"><v>1</v></c>"
     "<c r=\"C2\" s=\"1\"><v>44197</v></c><c r=\"D2\" s=\"3\"><v>1.25</v></c>"
     "<c r=\"E2\" t=\"e\"><v>#DIV/0!</v></c><c r=\"F2\" "
     "s=\"2\"><f>NOW()</f><v>44197.5</v></c></row>"
     "<row r=\"3\"><c r=\"A3\"><f>A2*2</f></c><c r=\"C3\" t=\"d\"><v>2021-01-02T03:04:05</v></c>"
     "<c r=\"XFD3\"><v>-1E-7</v></c></row>"
     "</sheetData><mergeCells count=\"1\"><mergeCell ref=\"A1:B1\"/></mergeCells></worksheet>"},
    {"xl/sharedStrings.xml",
     "<sst xmlns=\"" NS_MAIN "\" count=\"4\" uniqueCount=\"4\"><si><t>name</t></si>"
     "<si><r><t>fl</t></r><r><rPr><b/></rPr><t xml:space=\"preserve\">ag </t></r></si>"
     "<si><t>a_x000D_b</t></si><si><t>&lt;&amp;&#x263A;</t><rPh><t>x</t></rPh></si></sst>"},
    {"xl/styles.xml",
     "<styleSheet xmlns=\"" NS_MAIN "\"><numFmts count=\"2\">"
     "<numFmt numFmtId=\"164\" formatCode=\"yyyy-mm-dd hh:mm\"/>"
     "<numFmt numFmtId=\"165\" formatCode=\"[h]:mm:ss\"/></numFmts>"
     "<cellXfs count=\"4\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\" applyNumberFormat=\"1\"/>"
     "<xf numFmtId=\"164\"/><xf numFmtId=\"165\"/></cellXfs></styleSheet>"},
    {"xl/workbook.xml",
     "<workbook xmlns=\"" NS_MAIN "\" xmlns:r=\"" NS_REL "\"><workbookPr date1904=\"0\"/>"
     "<sheets><sheet name=\"Data\" sheetId=\"1\" r:id=\"rId1\"/>"
     "<sheet name=\"Hidden\" sheetId=\"2\" state=\"hidden\" r:id=\"rId2\"/></sheets></workbook>"},
    {"xl/_rels/workbook.xml.rels",
     "<Relationships xmlns=\"" NS_PKG "\">"
     "<Relationship Id=\"rId1\" Type=\"" NS_REL "/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
     "<Relationship Id=\"rId2\" Type=\"" NS_REL
     "/worksheet\" Target=\"/xl/worksheets/sheet2.xml\"/>"
     "<Relationship Id=\"rId3\" Type=\"" NS_REL "/sharedStrings\" Target=\"sharedStrings.xml\"/>"
     "<Relationship Id=\"rId4\" Type=\"" NS_REL
     "/styles\" Target=\"styles.xml\"/></Relationships>"},
    {"[Content_Types].xml",
     "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
     "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package."
     "relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/>"
     "<Override PartName=\"/xl/workbook.xml\" ContentType=\"" CT_SML "sheet.main+xml\"/>"
     "<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"" CT_SML "worksheet+xml\"/>"
     "<Override PartName=\"/xl/worksheets/sheet2.xml\" ContentType=\"" CT_SML "worksheet+xml\"/>"
     "</Types>"},
    {"_rels/.rels", "<Relationships xmlns=\"" NS_PKG "\"><Relationship Id=\"rId1\" Type=\"" NS_REL
                    "/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"},
    {"xl/worksheets/sheet2.xml",
     "<worksheet xmlns=\"" NS_MAIN "\"><sheetData><row><c t=\"s\"><v>3</v></c><c><v>7</v></c>"
     "</row><row><c><v>1e308</v></c><c t=\"n\"/></row></sheetData></worksheet>"},
};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

struct zbuf {
    uint8_t *p;
    size_t n, cap;
};

static void zb_put(struct zbuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n)
            c *= 2;
        uint8_t *q = realloc(b->p, c);
        if (!q)
            abort();
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void zb_u16(struct zbuf *b, unsigned v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    zb_put(b, x, 2);
}

static void zb_u32(struct zbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    zb_put(b, x, 4);
}

/* Raw deflate of (p,n) into a malloc'd buffer; its length in *out_n. */
static uint8_t *deflate_raw(const uint8_t *p, size_t n, size_t *out_n)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* A small window and hash keep zlib's per-call allocation (and so the
     * time per run) small; the output is ordinary raw deflate. */
    if (deflateInit2(&zs, 6, Z_DEFLATED, -9, 1, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&zs, (uLong)n);
    uint8_t *out = malloc(cap ? cap : 1);
    if (!out)
        abort();
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    *out_n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

struct entry {
    const char *name;
    uint32_t crc, csize, usize, off;
    unsigned method;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    unsigned mode = data[0];
    size_t which = (mode & 0x7f) % NPARTS;
    bool deflated = mode & 0x80;
    const uint8_t *fz = data + 1;
    size_t fzn = size - 1;

    struct zbuf z = {0};
    struct entry ents[NPARTS];
    for (size_t i = 0; i < NPARTS; i++) {
        const uint8_t *p = i == which ? fz : (const uint8_t *)parts[i].text;
        size_t n = i == which ? fzn : strlen(parts[i].text);
        uint8_t *packed = NULL;
        size_t pn = n;
        if (deflated && i == which)
            packed = deflate_raw(p, n, &pn);
        struct entry *e = &ents[i];
        e->name = parts[i].name;
        e->crc = (uint32_t)crc32(0, p, (uInt)n);
        e->usize = (uint32_t)n;
        e->csize = (uint32_t)pn;
        e->method = packed ? 8 : 0;
        e->off = (uint32_t)z.n;
        size_t nl = strlen(e->name);
        zb_u32(&z, 0x04034b50);
        zb_u16(&z, 20);
        zb_u16(&z, 0); /* flags */
        zb_u16(&z, e->method);
        zb_u16(&z, 0);    /* time */
        zb_u16(&z, 0x21); /* date: 1980-01-01 */
        zb_u32(&z, e->crc);
        zb_u32(&z, e->csize);
        zb_u32(&z, e->usize);
        zb_u16(&z, (unsigned)nl);
        zb_u16(&z, 0);
        zb_put(&z, e->name, nl);
        zb_put(&z, packed ? packed : p, pn);
        free(packed);
    }
    uint32_t cd = (uint32_t)z.n;
    for (size_t i = 0; i < NPARTS; i++) {
        const struct entry *e = &ents[i];
        size_t nl = strlen(e->name);
        zb_u32(&z, 0x02014b50);
        zb_u16(&z, 20);
        zb_u16(&z, 20);
        zb_u16(&z, 0);
        zb_u16(&z, e->method);
        zb_u16(&z, 0);
        zb_u16(&z, 0x21);
        zb_u32(&z, e->crc);
        zb_u32(&z, e->csize);
        zb_u32(&z, e->usize);
        zb_u16(&z, (unsigned)nl);
        zb_u16(&z, 0); /* extra */
        zb_u16(&z, 0); /* comment */
        zb_u16(&z, 0); /* disk */
        zb_u16(&z, 0); /* internal attrs */
        zb_u32(&z, 0); /* external attrs */
        zb_u32(&z, e->off);
        zb_put(&z, e->name, nl);
    }
    uint32_t cdsize = (uint32_t)z.n - cd;
    zb_u32(&z, 0x06054b50);
    zb_u16(&z, 0);
    zb_u16(&z, 0);
    zb_u16(&z, NPARTS);
    zb_u16(&z, NPARTS);
    zb_u32(&z, cdsize);
    zb_u32(&z, cd);
    zb_u16(&z, 0);

    const char *path = fz_write(z.p, z.n);
    fz_xlsx_walk(path);
    /* the XML scanner must read whatever expat reads, the same way */
    const char *why = fz_xlsx_differ(path, false);
    if (why) {
        fprintf(stderr, "scanner and expat differ: %s\n", why);
        abort();
    }
    free(z.p);
    return 0;
}
