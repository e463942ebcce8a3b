#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fz_xmlscan.h"
#include "klimits.h"
#include "zipread.h"

/* The events of text read whole, as fz_xmlscan_events writes them. */
static char *tx_events(const char *text, size_t chunk, char *msg, size_t cap)
{
    struct buf b;
    buf_init(&b, 64u << 20);
    fz_xmlscan_events(text, strlen(text), chunk, &b, msg, cap);
    buf_append(&b, "", 1, NULL);
    return b.data;
}

/* Read whole and a byte at a time (and in 2, 3, 5, 7-byte steps): the same events and message. */
static void tx_same_any_chunk(const char *text, const char *want)
{
    char mw[256], mc[256];
    char *whole = tx_events(text, (size_t)-1, mw, sizeof mw);
    if (want && strcmp(whole, want))
        t_fail(__FILE__, __LINE__, "events of '%.60s':\n%s\nwanted:\n%s", text, whole, want);
    static const size_t steps[] = {1, 2, 3, 5, 7};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char *e = tx_events(text, steps[i], mc, sizeof mc);
        if (strcmp(e, whole) || strcmp(mc, mw))
            t_fail(__FILE__, __LINE__, "'%.60s' in %zu-byte reads:\n%s(%s)\nwhole:\n%s(%s)", text,
                   steps[i], e, mc, whole, mw);
        free(e);
    }
    free(whole);
}

static void t_xmlscan_events(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"<a/>", "S a\nE a\nZ\n"},
        {"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n<a>x</a>\n",
         "S a\nT x\nE a\nZ\n"},
        /* prefixes dropped, xmlns attributes left out, values decoded */
        {"<x:ws xmlns:x=\"u\" xmlns=\"v\" r:id=\"r1\"><x:c r=\"A1\" t='s'/></x:ws>",
         "S ws id=r1\nS c r=A1 t=s\nE c\nE ws\nZ\n"},
        {"<a v=\"&lt;&amp;&#65;&#x42;&quot;&apos;&gt;\"/>", "S a v=<&AB\"'>\nE a\nZ\n"},
        /* attribute white space: tab, LF, CR LF, CR each one space; &#10; stays */
        {"<a v=\"1\t2\n3\r\n4\r5&#10;6\"/>", "S a v=1 2 3 4 5\n6\nE a\nZ\n"},
        /* text line ends: CR LF and CR to LF; &#13; stays */
        {"<a>1\r\n2\r3&#13;4</a>", "S a\nT 1\n2\n3\r4\nE a\nZ\n"},
        {"<a><![CDATA[<b>&amp;\r\n]]>t</a>", "S a\nT <b>&amp;\nt\nE a\nZ\n"},
        {"<!-- c --><a><!-- <b> --><?pi x?>t</a><!-- end -->", "S a\nT t\nE a\nZ\n"},
        {"<a>\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80</a>",
         "S a\nT \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\nE a\nZ\n"},
        {"<a >  <b\n/>\t</a >", "S a\nT   \nS b\nE b\nT \t\nE a\nZ\n"},
        /* not for the scanner: a full parser reads these */
        {"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>", "F\n"},
        {"<?xml version='1.0' encoding='windows-1252'?><a/>", "F\n"},
        {"\xFF\xFE<\0a\0/\0>\0", "F\n"},
        {"<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", "F\n"},
        /* malformed */
        {"<a><b></a>", NULL},
        {"<a>", NULL},
        {"", NULL},
        {"<a/><b/>", NULL},
        {"x<a/>", NULL},
        {"<a>&nope;</a>", NULL},
        {"<a>&#0;</a>", NULL},
        {"<a>&#xD800;</a>", NULL},
        {"<a v=1/>", NULL},
        {"<a v=\"<\"/>", NULL},
        {"<a v=\"1\"w=\"2\"/>", NULL},
        {"<a>\x01</a>", NULL},
        {"<a>\xC0\x80</a>", NULL},
        {"<a>\xED\xA0\x80</a>", NULL},
        {"<a>\xEF\xBF\xBE</a>", NULL},
        {"<a>\xF4\x90\x80\x80</a>", NULL},
        {"<a>\xE2\x82</a>", NULL},
        {"<a></b>", NULL},
        {"</a>", NULL},
        {"<a><!DOCTYPE x></a>", NULL},
        {"<a/>text", NULL},
        {"<a b=\"1\" / >", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tx_same_any_chunk(cases[i].in, cases[i].want);
        if (!cases[i].want) {
            char msg[256];
            char *e = tx_events(cases[i].in, (size_t)-1, msg, sizeof msg);
            const char *last = strrchr(e, '!');
            if (!last || strcmp(last, "!4\n") || !strstr(msg, "malformed XML in part 'part.xml'"))
                t_fail(__FILE__, __LINE__, "'%s' was not refused: %s (%s)", cases[i].in, e, msg);
            free(e);
        }
    }
}

/* Errors say the line, also after names and text were rewritten in place. */
static void t_xmlscan_error_line(void)
{
    char msg[256];
    static const struct {
        const char *in;
        const char *line;
    } at[] = {
        {"<a\nb=\"&amp;\n\"\n>\r\n&lt;\n<c\n/>\n</x>", "at line 8:"},
        {"<a>\n<b\n>t&#10;\n</b\n>\n\x01</a>", "at line 6:"},
        {"<a>\n<![CDATA[\r\n\r\n]]>\n&bad;</a>", "at line 5:"},
    };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        tx_same_any_chunk(at[i].in, NULL);
        free(tx_events(at[i].in, 1, msg, sizeof msg));
        if (!strstr(msg, at[i].line))
            t_fail(__FILE__, __LINE__, "case %zu: '%s', wanted %s", i, msg, at[i].line);
    }
    char *e = tx_events("<a>\n<b>\n</c>", (size_t)-1, msg, sizeof msg);
    T_EXPECT(strstr(msg, "at line 3: mismatched tag") != NULL);
    free(e);
    e = tx_events("<a>\n\n\n\xFF</a>", 2, msg, sizeof msg);
    T_EXPECT(strstr(msg, "at line 4: invalid UTF-8") != NULL);
    free(e);
}

/* b := head, then n bytes of fill, then tail (with its NUL). */
static void tx_big(struct buf *b, const char *head, char fill, size_t n, const char *tail)
{
    char blk[4096];
    memset(blk, fill, sizeof blk);
    buf_reset(b);
    buf_append_str(b, head, NULL);
    for (size_t i = 0; i < n; i += sizeof blk)
        buf_append(b, blk, n - i < sizeof blk ? n - i : sizeof blk, NULL);
    buf_append(b, tail, strlen(tail) + 1, NULL);
}

/* Depth and token caps are E_LIMIT with a message, not a crash or a hang. */
static void t_xmlscan_caps(void)
{
    struct buf b;
    buf_init(&b, 1u << 30);
    for (long i = 0; i <= LIM_XML_DEPTH; i++)
        buf_append(&b, "<d>", 3, NULL);
    buf_append(&b, "", 1, NULL);
    char msg[256];
    char *e = tx_events(b.data, 4096, msg, sizeof msg);
    T_EXPECT(strstr(e, "!5\n") != NULL && strstr(msg, "deep") != NULL);
    free(e);
    tx_big(&b, "<a v=\"", 'x', (size_t)LIM_XML_TOKEN_BYTES + 8192, "\"/>");
    e = tx_events(b.data, 65536, msg, sizeof msg);
    T_EXPECT(strstr(e, "!5\n") != NULL && strstr(msg, "over") != NULL);
    free(e);
    /* long text is no token: it streams in pieces */
    tx_big(&b, "<a>", 'y', (size_t)LIM_XML_TOKEN_BYTES + 8192, "</a>");
    e = tx_events(b.data, 65536, msg, sizeof msg);
    T_EXPECT(strstr(e, "Z\n") != NULL);
    free(e);
    buf_release(&b);
}

/* Every XML part of one corpus workbook: the same events in 1..7-byte
 * reads as whole (ctx counts the parts). */
static void tx_chunks_of(const char *path, const char *sub, const char *name, void *ctx)
{
    size_t *parts = ctx;
    (void)sub;
    struct zr *z = NULL;
    struct err err = {0};
    if (zr_open(path, &z, &err))
        return;
    for (size_t i = 0; i < zr_count(z); i++) {
        const char *nm = zr_name(z, i);
        size_t nl = strlen(nm);
        if (nl < 4 || (strcmp(nm + nl - 4, ".xml") && strcmp(nm + nl - 5, ".rels")))
            continue;
        char *data = NULL;
        size_t n = 0;
        if (zr_part_slurp(z, i, 2u << 20, &data, &n, &err))
            continue; /* too big for a byte-at-a-time pass, or damaged */
        struct buf whole, bytes;
        buf_init(&whole, 1u << 28);
        buf_init(&bytes, 1u << 28);
        fz_xmlscan_events(data, n, (size_t)-1, &whole, NULL, 0);
        fz_xmlscan_events(data, n, 1 + *parts % 7, &bytes, NULL, 0);
        if (whole.len != bytes.len || memcmp(whole.data, bytes.data, whole.len))
            t_fail(__FILE__, __LINE__, "%s: part '%s' reads differently in %zu-byte reads", name,
                   nm, 1 + *parts % 7);
        (*parts)++;
        buf_release(&whole);
        buf_release(&bytes);
        free(data);
    }
    zr_free(z);
}

/* Every XML part of every corpus workbook: the same events in 1..7-byte reads as whole. */
static void t_xmlscan_corpus_chunks(void)
{
    static const char *const dirs[] = {"xlsx", "nasty"};
    size_t parts = 0;
    if (!t_corpus_each(dirs, 2, ".xlsx", tx_chunks_of, &parts))
        return;
    T_EXPECT(parts > 500);
}

static const struct t_case t_xmlscan_cases[] = {
    {"xmlscan_events", t_xmlscan_events},
    {"xmlscan_error_line", t_xmlscan_error_line},
    {"xmlscan_caps", t_xmlscan_caps, .fork = true, .timeout_s = 60},
    {"xmlscan_corpus_chunks", t_xmlscan_corpus_chunks, .fork = true, .timeout_s = 300},
    {0},
};

T_SUITE(xmlscan, t_xmlscan_cases)
