/*
 * fz_util: shared helpers of the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * The readers take paths, so each input is written to an anonymous memfd
 * that is reused for every run and opened again by path through
 * /proc/self/fd/N (no file is left behind when a run is killed).
 * Header-only: each target is one translation unit.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Replace the memfd's contents with data; the path to open it, or NULL. */
static inline const char *fz_write(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("kiln-fuzz", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    return path;
}
