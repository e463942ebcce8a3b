/*
 * zipread: read-only access to the parts of a zip package (OOXML) with the
 * guards untrusted archives need.
 *
 * Owns one minizip handle and an index of the entries (names normalised:
 * '\' -> '/', no leading '/'). Lookups are case-insensitive (OPC part names
 * are); when a name occurs twice the last entry wins. Every part is read as a
 * stream: the bytes inflated from one part, from all parts together, and the
 * inflated:compressed ratio of large parts are capped (LIM_XLSX_* in
 * klimits.h), so a zip bomb stops early with E_TOO_LARGE. Encrypted entries
 * are refused. Only one part can be open at a time. Not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct zr;

/*
 * Open the zip at path. Returns E_UNSUPPORTED for an OLE/CFB file (an
 * encrypted workbook or a legacy .xls), for a file that is not a zip, and
 * for a damaged central directory; E_LIMIT for too many entries.
 */
enum err_code zr_open(const char *path, struct zr **out, struct err *err);
/* Close and free. NULL-safe. */
void zr_free(struct zr *z);
/* Number of entries and the normalised name of entry i (borrowed). */
size_t zr_count(const struct zr *z);
const char *zr_name(const struct zr *z, size_t i);
/* Index of the entry named name (case-insensitive, leading '/' ignored); false when absent. */
bool zr_find(const struct zr *z, const char *name, size_t *index);
/* Start reading entry i. E_UNSUPPORTED when encrypted, E_PARSE when damaged. */
enum err_code zr_part_open(struct zr *z, size_t i, struct err *err);
/*
 * Read up to cap inflated bytes of the open part into p; *got == 0 at the
 * end (the CRC is checked then: E_PARSE on mismatch). E_TOO_LARGE when a cap
 * is hit.
 */
enum err_code zr_part_read(struct zr *z, void *p, size_t cap, size_t *got, struct err *err);
/* Stop reading the open part (no CRC check when not at the end). NULL-safe. */
void zr_part_close(struct zr *z);
/* Read a whole (small) part into a NUL-terminated malloc'd buffer of at most max bytes. */
enum err_code zr_part_slurp(struct zr *z, size_t i, size_t max, char **data, size_t *len,
                            struct err *err);
