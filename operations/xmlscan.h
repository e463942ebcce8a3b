#pragma once
/*
 * xmlscan: a streaming pull scanner for the UTF-8 XML parts of a workbook.
 *
 * The worksheets and shared strings of an xlsx are most of its bytes, and a
 * general parser spends most of the time of parse_excel on them. This scanner
 * reads the XML those parts hold (UTF-8, no DTD) several times faster: tags
 * are found with memchr, names and values are cut out of the read buffer in
 * place, and nothing is allocated per element.
 *
 * Events carry local names (any "prefix:" is dropped, as a namespace-aware
 * parser reporting only local names would) and attribute values with
 * entity and character references decoded and white space normalised as
 * XML 1.0 says; namespace declarations (xmlns, xmlns:*) are not reported.
 * Text comes in one or more pieces, with line ends normalised to "\n".
 * CDATA sections are text; comments and processing instructions are skipped.
 *
 * Checked: UTF-8 validity and the XML character range of the whole input,
 * tag nesting, attribute syntax, references (the five predefined entities
 * and character references only), one root element, nothing but white space
 * outside it. Not checked: the spelling of names, duplicate attributes and
 * namespace bindings.
 *
 * A document this scanner is not for (a UTF-16 byte order, an encoding
 * declaration other than UTF-8, a DOCTYPE) yields XS_FALLBACK before any
 * other event; the caller then reads the part again with a full parser.
 */
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Read up to cap bytes into p; *got == 0 at the end. */
typedef enum err_code (*xs_read_fn)(void *ctx, void *p, size_t cap, size_t *got, struct err *err);

enum xs_kind { XS_START, XS_END, XS_TEXT, XS_EOF, XS_FALLBACK };

struct xs_event {
    enum xs_kind kind;
    const char *name;  /* START, END: the local name, NUL-terminated */
    const char **atts; /* START: local name, value, ..., NULL */
    const char *text;  /* TEXT: len bytes, not NUL-terminated */
    size_t len;
};

struct xs;

/* A scanner reading through rd(ctx, ...); part names the input in messages (borrowed). */
struct xs *xs_new(xs_read_fn rd, void *ctx, const char *part);
void xs_free(struct xs *x);
/*
 * The next event. Its pointers stay valid until the next call. Malformed
 * input is E_PARSE ("malformed XML in part '...' at line N: ..."), a tag or
 * comment over LIM_XML_TOKEN_BYTES is E_LIMIT; read errors pass through.
 */
enum err_code xs_next(struct xs *x, struct xs_event *ev, struct err *err);
