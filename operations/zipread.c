#include "zipread.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <minizip/unzip.h>

#include "buf.h"
#include "klimits.h"

#include "banned.h"

#define ZR_NAME_MAX 4096

struct zr_entry {
    size_t name_off; /* into names */
    unz64_file_pos pos;
    uint64_t csize;
    uint64_t usize;
    bool encrypted;
};

struct zr {
    unzFile uf;
    struct zr_entry *ents;
    size_t n;
    struct buf names;
    /* the open part */
    bool open;
    size_t cur;
    uint64_t part_read;
    uint64_t total_read;
};

static enum err_code zr_sniff(const char *path, struct err *err)
{
    unsigned char sig[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_sys(err, E_IO, "cannot open workbook");
    size_t n = fread(sig, 1, sizeof sig, f);
    fclose(f);
    static const unsigned char cfb[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    if (n == sizeof sig && !memcmp(sig, cfb, sizeof cfb))
        return err_set(err, E_UNSUPPORTED,
                       "encrypted or legacy .xls workbook (OLE compound file), not an .xlsx "
                       "package: save it unencrypted as .xlsx");
    if (n == 0)
        return err_set(err, E_UNSUPPORTED, "empty file is not an .xlsx workbook");
    if (n < 4 || sig[0] != 'P' || sig[1] != 'K')
        return err_set(err, E_UNSUPPORTED, "not an .xlsx workbook (not a zip archive)");
    return E_OK;
}

void zr_free(struct zr *z)
{
    if (!z)
        return;
    zr_part_close(z);
    if (z->uf)
        unzClose(z->uf);
    free(z->ents);
    buf_release(&z->names);
    free(z);
}

enum err_code zr_open(const char *path, struct zr **out, struct err *err)
{
    enum err_code rc;
    struct zr *z = NULL;
    unz_global_info64 gi;
    char name[ZR_NAME_MAX];

    if ((rc = zr_sniff(path, err)))
        return rc;
    z = calloc(1, sizeof *z);
    if (!z)
        return err_set(err, E_NOMEM, "out of memory");
    buf_init(&z->names, (size_t)LIM_XLSX_ENTRIES * 256);
    z->uf = unzOpen64(path);
    if (!z->uf) {
        rc = err_set(err, E_UNSUPPORTED,
                     "not a readable .xlsx workbook (damaged or truncated zip archive)");
        goto out;
    }
    if (unzGetGlobalInfo64(z->uf, &gi) != UNZ_OK) {
        rc = err_set(err, E_UNSUPPORTED, "damaged zip archive (central directory)");
        goto out;
    }
    if (gi.number_entry > (uint64_t)LIM_XLSX_ENTRIES) {
        rc = err_set(err, E_LIMIT, "zip archive has too many entries (%llu, at most %ld)",
                     (unsigned long long)gi.number_entry, LIM_XLSX_ENTRIES);
        goto out;
    }
    z->ents = calloc(gi.number_entry ? gi.number_entry : 1, sizeof *z->ents);
    if (!z->ents) {
        rc = err_set(err, E_NOMEM, "out of memory");
        goto out;
    }
    int r = gi.number_entry ? unzGoToFirstFile(z->uf) : UNZ_END_OF_LIST_OF_FILE;
    while (r == UNZ_OK) {
        unz_file_info64 fi;
        if (z->n >= gi.number_entry)
            break;
        if (unzGetCurrentFileInfo64(z->uf, &fi, name, sizeof name, NULL, 0, NULL, 0) != UNZ_OK) {
            rc = err_set(err, E_UNSUPPORTED, "damaged zip archive (entry %zu)", z->n);
            goto out;
        }
        struct zr_entry *e = &z->ents[z->n];
        if (unzGetFilePos64(z->uf, &e->pos) != UNZ_OK) {
            rc = err_set(err, E_UNSUPPORTED, "damaged zip archive (entry %zu)", z->n);
            goto out;
        }
        e->csize = fi.compressed_size;
        e->usize = fi.uncompressed_size;
        e->encrypted = fi.flag & 1;
        e->name_off = z->names.len;
        const char *p = name;
        while (*p == '/' || *p == '\\')
            p++;
        for (; *p; p++) {
            char c = *p == '\\' ? '/' : *p;
            if ((rc = buf_append(&z->names, &c, 1, err)))
                goto out;
        }
        if ((rc = buf_append(&z->names, "", 1, err)))
            goto out;
        z->n++;
        r = unzGoToNextFile(z->uf);
    }
    if (r != UNZ_END_OF_LIST_OF_FILE && r != UNZ_OK) {
        rc = err_set(err, E_UNSUPPORTED, "damaged zip archive (central directory)");
        goto out;
    }
    *out = z;
    z = NULL;
    rc = E_OK;
out:
    zr_free(z);
    return rc;
}

size_t zr_count(const struct zr *z)
{
    return z->n;
}

const char *zr_name(const struct zr *z, size_t i)
{
    return z->names.data + z->ents[i].name_off;
}

bool zr_find(const struct zr *z, const char *name, size_t *index)
{
    while (*name == '/')
        name++;
    bool found = false;
    for (size_t i = 0; i < z->n; i++) {
        if (!strcasecmp(zr_name(z, i), name)) {
            *index = i;
            found = true;
        }
    }
    return found;
}

enum err_code zr_part_open(struct zr *z, size_t i, struct err *err)
{
    zr_part_close(z);
    struct zr_entry *e = &z->ents[i];
    if (e->encrypted)
        return err_set(err, E_UNSUPPORTED, "zip entry '%s' is encrypted", zr_name(z, i));
    if (unzGoToFilePos64(z->uf, &e->pos) != UNZ_OK || unzOpenCurrentFile(z->uf) != UNZ_OK)
        return err_set(err, E_PARSE, "damaged zip entry '%s'", zr_name(z, i));
    z->open = true;
    z->cur = i;
    z->part_read = 0;
    return E_OK;
}

enum err_code zr_part_read(struct zr *z, void *p, size_t cap, size_t *got, struct err *err)
{
    if (!z->open)
        return err_set(err, E_INTERNAL, "no zip entry open");
    const char *nm = zr_name(z, z->cur);
    if (cap > (1u << 30))
        cap = 1u << 30;
    int n = unzReadCurrentFile(z->uf, p, (unsigned)cap);
    if (n < 0)
        return err_set(err, E_PARSE, "damaged zip entry '%s' (inflate error %d)", nm, n);
    if (n == 0) {
        int r = unzCloseCurrentFile(z->uf);
        z->open = false;
        if (r == UNZ_CRCERROR)
            return err_set(err, E_PARSE, "zip entry '%s' fails its CRC-32 check", nm);
        if (r != UNZ_OK)
            return err_set(err, E_PARSE, "damaged zip entry '%s'", nm);
        *got = 0;
        return E_OK;
    }
    z->part_read += (uint64_t)n;
    z->total_read += (uint64_t)n;
    if (z->part_read > (uint64_t)LIM_XLSX_PART_INFLATED)
        return err_set(err, E_TOO_LARGE, "zip entry '%s' inflates to more than %ld bytes", nm,
                       LIM_XLSX_PART_INFLATED);
    if (z->total_read > (uint64_t)LIM_XLSX_TOTAL_INFLATED)
        return err_set(err, E_TOO_LARGE, "workbook inflates to more than %ld bytes",
                       LIM_XLSX_TOTAL_INFLATED);
    uint64_t cs = z->ents[z->cur].csize;
    if (z->part_read > (uint64_t)LIM_XLSX_RATIO_MIN_BYTES &&
        z->part_read / (cs ? cs : 1) > (uint64_t)LIM_XLSX_RATIO_MAX)
        return err_set(err, E_TOO_LARGE,
                       "zip entry '%s' has a compression ratio above %ld:1 (zip bomb?)", nm,
                       LIM_XLSX_RATIO_MAX);
    *got = (size_t)n;
    return E_OK;
}

void zr_part_close(struct zr *z)
{
    if (z && z->open) {
        unzCloseCurrentFile(z->uf);
        z->open = false;
    }
}

enum err_code zr_part_slurp(struct zr *z, size_t i, size_t max, char **data, size_t *len,
                            struct err *err)
{
    enum err_code rc;
    struct buf b;
    char chunk[65536];
    size_t got;

    buf_init(&b, max);
    if ((rc = zr_part_open(z, i, err)))
        goto out;
    for (;;) {
        if ((rc = zr_part_read(z, chunk, sizeof chunk, &got, err)))
            goto out;
        if (!got)
            break;
        if ((rc = buf_append(&b, chunk, got, err))) {
            rc = err_set(err, E_TOO_LARGE, "zip entry '%s' is larger than %zu bytes", zr_name(z, i),
                         max);
            goto out;
        }
    }
    if ((rc = buf_append(&b, "", 0, err)))
        goto out;
    *len = b.len;
    *data = buf_take(&b, NULL);
    if (!*data) {
        *data = calloc(1, 1);
        if (!*data)
            rc = err_set(err, E_NOMEM, "out of memory");
    }
out:
    zr_part_close(z);
    buf_release(&b);
    return rc;
}
