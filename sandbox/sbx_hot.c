#include "sbx_hot.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "sbx_int.h"

#include "banned.h"

#define SBX_HOT_MAX_MAPS 4096   /* private writable mappings looked at */
#define SBX_HOT_MAX_RANGES 4096 /* page ranges kept */
#define SBX_HOT_PROBE_MS 10000  /* a probe that takes longer is killed */
/* A larger mapping is a reservation (a sanitizer's shadow, an arena), not
 * heap the warm-up filled: not looked at. */
#define SBX_HOT_MAX_MAP_BYTES (1UL << 30)
#define SBX_HOT_PM_PRESENT (1ULL << 63)
#define SBX_HOT_PM_EXCLUSIVE (1ULL << 56)

struct sbx_hot_range {
    uintptr_t lo, hi;
};

static struct sbx_hot_range *sbx_hot; /* learnt in the warm parent, inherited */
static size_t sbx_hot_n;

void sbx_hot_populate(void)
{
#ifdef MADV_POPULATE_WRITE
    /* A range gone since (unmapped, made read-only) fails alone. */
    for (size_t i = 0; i < sbx_hot_n; i++)
        (void)madvise((void *)sbx_hot[i].lo, sbx_hot[i].hi - sbx_hot[i].lo, MADV_POPULATE_WRITE);
#endif
}

size_t sbx_hot_pages(void)
{
    size_t pages = 0;
    long psz = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < sbx_hot_n && psz > 0; i++)
        pages += (sbx_hot[i].hi - sbx_hot[i].lo) / (size_t)psz;
    return pages;
}

/* Probe: the private writable mappings of this process now (the parent's,
 * as fork copied them), into maps; their number. */
static size_t sbx_hot_maps(struct sbx_hot_range *maps, size_t cap)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return 0;
    char line[512];
    size_t n = 0;
    while (n < cap && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char perms[8];
        int at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s%n", &lo, &hi, perms, &at) < 3 || hi <= lo)
            continue;
        /* rw-p: private and writable; not the stack (the probe's own) nor
         * the kernel's pages */
        if (strcmp(perms, "rw-p") != 0 || strstr(line + at, "[stack") || strstr(line + at, "[v") ||
            hi - lo > SBX_HOT_MAX_MAP_BYTES)
            continue;
        maps[n].lo = lo;
        maps[n].hi = hi;
        n++;
    }
    fclose(f);
    return n;
}

/* Probe: write the pages of maps that are now this process's own (written
 * since the fork) to fd as ranges, adjacent pages joined. Its buffers are
 * on its stack, which is not in maps. */
static void sbx_hot_report(int fd, const struct sbx_hot_range *maps, size_t nmaps)
{
    long psz = sysconf(_SC_PAGESIZE);
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0 || psz <= 0)
        return;
    uint64_t ent[512]; /* pagemap entries read at a time */
    struct sbx_hot_range out[SBX_HOT_MAX_RANGES];
    size_t nout = 0;
    for (size_t m = 0; m < nmaps && nout < SBX_HOT_MAX_RANGES; m++) {
        uintptr_t page = maps[m].lo / (uintptr_t)psz, end = maps[m].hi / (uintptr_t)psz;
        while (page < end && nout < SBX_HOT_MAX_RANGES) {
            size_t k = end - page < 512 ? end - page : 512;
            ssize_t r = pread(pm, ent, k * sizeof(ent[0]), (off_t)(page * sizeof(ent[0])));
            if (r <= 0)
                break;
            k = (size_t)r / sizeof(ent[0]);
            for (size_t i = 0; i < k && nout < SBX_HOT_MAX_RANGES; i++) {
                if (!(ent[i] & SBX_HOT_PM_PRESENT) || !(ent[i] & SBX_HOT_PM_EXCLUSIVE))
                    continue;
                uintptr_t at = (page + i) * (uintptr_t)psz;
                if (nout && out[nout - 1].hi == at)
                    out[nout - 1].hi = at + (uintptr_t)psz;
                else
                    out[nout++] = (struct sbx_hot_range){at, at + (uintptr_t)psz};
            }
            page += k;
        }
    }
    close(pm);
    (void)fd_write_all(fd, out, nout * sizeof(out[0]));
}

static _Noreturn void sbx_hot_probe(int fd, void (*work)(void))
{
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
    }
    struct sbx_hot_range maps[SBX_HOT_MAX_MAPS]; /* on the stack: left out */
    size_t n = sbx_hot_maps(maps, SBX_HOT_MAX_MAPS);
    if (n) {
        work();
        sbx_hot_report(fd, maps, n);
    }
    _exit(0);
}

/* Read the probe's report from fd until it closes (*eof) or the deadline
 * passes. */
static size_t sbx_hot_read(int fd, struct sbx_hot_range *r, size_t cap, bool *eof)
{
    size_t got = 0, want = cap * sizeof(*r);
    double end = sbx_now_ms() + SBX_HOT_PROBE_MS;
    while (got < want) {
        struct pollfd pf = {fd, POLLIN, 0};
        double left = end - sbx_now_ms();
        int pr = left > 0 ? poll(&pf, 1, (int)left + 1) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break; /* late: its report is not waited for */
        ssize_t n = read(fd, (char *)r + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *eof = n == 0;
            break;
        }
        got += (size_t)n;
    }
    return got / sizeof(*r);
}

/* Whether the kernel knows MADV_POPULATE_WRITE (5.14 and later): tried on
 * a page of our own. */
static bool sbx_hot_supported(size_t psz)
{
#ifdef MADV_POPULATE_WRITE
    void *t = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        return false;
    bool known = madvise(t, psz, MADV_POPULATE_WRITE) == 0;
    munmap(t, psz);
    return known;
#else
    (void)psz;
    return false;
#endif
}

void sbx_hot_learn(void (*work)(void))
{
    int p[2];
    free(sbx_hot);
    sbx_hot = NULL;
    sbx_hot_n = 0;
    long psz = sysconf(_SC_PAGESIZE);
    if (psz <= 0 || !sbx_hot_supported((size_t)psz)) {
        log_debug("warm children: this kernel cannot copy pages ahead (MADV_POPULATE_WRITE)");
        return;
    }
    struct sbx_hot_range *r = malloc(SBX_HOT_MAX_RANGES * sizeof(*r));
    if (!r || pipe2(p, O_CLOEXEC) != 0) {
        free(r);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        sbx_hot_probe(p[1], work);
    }
    close(p[1]);
    bool eof = false;
    size_t n = pid > 0 ? sbx_hot_read(p[0], r, SBX_HOT_MAX_RANGES, &eof) : 0;
    close(p[0]);
    if (pid > 0) {
        if (!eof) /* late (or a full report): it has nothing more to say */
            kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (!n) {
        free(r);
        log_debug("warm children: no pages learnt to copy ahead");
        return;
    }
    sbx_hot = r;
    sbx_hot_n = n;
    log_debug("warm children: %zu pages in %zu ranges copied ahead", sbx_hot_pages(), n);
}
