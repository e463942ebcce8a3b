/*
 * fz_xmlscan: run operations/xmlscan.c over a byte string read in chunks of
 * a given size and write down every event, for t_xmlscan and fuzz_xmlscan.
 * The chunking must never show: reading a byte at a time gives the same
 * events (text pieces joined) as reading everything at once.
 * Header-only (one TU per target).
 */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmlscan.h"

struct fz_src {
    const char *p;
    size_t n, off, chunk;
};

static inline enum err_code fz_src_read(void *ctx, void *p, size_t cap, size_t *got,
                                        struct err *err)
{
    struct fz_src *s = ctx;
    (void)err;
    size_t k = s->n - s->off;
    if (k > cap)
        k = cap;
    if (k > s->chunk)
        k = s->chunk;
    memcpy(p, s->p + s->off, k);
    s->off += k;
    *got = k;
    return E_OK;
}

/*
 * Scan (p, n) in chunks of chunk bytes; the events go to out as text
 * ("S name a=v ...\n", "E name\n", "T text\n" with adjacent pieces joined,
 * "F\n" for a fallback, "!code\n" at an error, "Z\n" at the end).
 * The error message (if any) goes to msg.
 */
static inline void fz_xmlscan_events(const char *p, size_t n, size_t chunk, struct buf *out,
                                     char *msg, size_t msg_cap)
{
    struct fz_src src = {p, n, 0, chunk};
    struct xs *x = xs_new(fz_src_read, &src, "part.xml");
    struct err err = {0};
    bool in_text = false;
    if (msg_cap)
        msg[0] = '\0';
    if (!x)
        abort();
    for (;;) {
        struct xs_event ev;
        enum err_code rc = xs_next(x, &ev, &err);
        if (in_text && (rc || ev.kind != XS_TEXT)) {
            buf_append(out, "\n", 1, NULL);
            in_text = false;
        }
        if (rc) {
            buf_printf(out, NULL, "!%d\n", (int)rc);
            if (msg_cap)
                snprintf(msg, msg_cap, "%s", err.msg);
            break;
        }
        if (ev.kind == XS_START) {
            buf_printf(out, NULL, "S %s", ev.name);
            for (size_t i = 0; ev.atts[i]; i += 2)
                buf_printf(out, NULL, " %s=%s", ev.atts[i], ev.atts[i + 1]);
            buf_append(out, "\n", 1, NULL);
        } else if (ev.kind == XS_END) {
            buf_printf(out, NULL, "E %s\n", ev.name);
        } else if (ev.kind == XS_TEXT) {
            if (!in_text)
                buf_append(out, "T ", 2, NULL);
            in_text = true;
            buf_append(out, ev.text, ev.len, NULL);
        } else {
            buf_append(out, ev.kind == XS_FALLBACK ? "F\n" : "Z\n", 2, NULL);
            break;
        }
    }
    xs_free(x);
}
