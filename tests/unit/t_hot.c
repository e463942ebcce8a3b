/* sbx_hot: the pages a probe writes are learnt, and a later copy of the
 * process copies exactly those at once, without changing their contents. */
#include "harness.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbx_hot.h"

#define T_HOT_PAGES 64

static unsigned char *t_hot_region;
static long t_hot_psz;

/* The probe's work: write pages 3, 10, 11, 12 and 40 of the region. */
static void t_hot_work(void)
{
    static const int hot[] = {3, 10, 11, 12, 40};
    for (size_t i = 0; i < sizeof(hot) / sizeof(hot[0]); i++)
        t_hot_region[(size_t)hot[i] * (size_t)t_hot_psz + 7]++;
}

static void t_hot_nothing(void)
{
}

/* Whether page i of the region is this process's alone (pagemap bit 56). */
static int t_hot_exclusive(int pm, size_t i)
{
    uint64_t e = 0;
    uintptr_t page = (uintptr_t)(t_hot_region + i * (size_t)t_hot_psz) / (uintptr_t)t_hot_psz;
    if (pread(pm, &e, sizeof(e), (off_t)(page * sizeof(e))) != (ssize_t)sizeof(e))
        return -1;
    return (e >> 56) & 1;
}

static bool t_hot_setup(void)
{
    t_hot_psz = sysconf(_SC_PAGESIZE);
    t_hot_region = mmap(NULL, T_HOT_PAGES * (size_t)t_hot_psz, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t_hot_region == MAP_FAILED)
        return false;
    for (size_t i = 0; i < T_HOT_PAGES; i++)
        t_hot_region[i * (size_t)t_hot_psz + 7] = (unsigned char)i;
    return true;
}

/* Run check() in a forked copy after sbx_hot_populate(); its exit status. */
static int t_hot_in_child(int (*check)(int pm))
{
    pid_t pid = fork();
    if (pid == 0) {
        sbx_hot_populate();
        int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        _exit(pm < 0 ? 90 : check(pm));
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* 0 when exactly the probe's pages are the child's own, contents kept. */
static int t_hot_check_learnt(int pm)
{
    for (size_t i = 0; i < T_HOT_PAGES; i++) {
        int want = i == 3 || i == 10 || i == 11 || i == 12 || i == 40;
        if (t_hot_exclusive(pm, i) != want)
            return 10 + (int)i;
        if (t_hot_region[i * (size_t)t_hot_psz + 7] != (unsigned char)i)
            return 80; /* the probe's write must not show: only a copy */
    }
    return 0;
}

static int t_hot_check_none(int pm)
{
    for (size_t i = 0; i < T_HOT_PAGES; i++)
        if (t_hot_exclusive(pm, i) != 0)
            return 10 + (int)i;
    return 0;
}

static int t_hot_check_unmapped(int pm)
{
    (void)pm;
    return 0; /* reached: populating a range gone since did not crash */
}

static void t_hot_learn_populate(void)
{
    T_ASSERT(t_hot_setup());
#ifndef MADV_POPULATE_WRITE
    t_skip("no MADV_POPULATE_WRITE in these headers");
    return;
#endif
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0) {
        t_skip("no /proc/self/pagemap");
        return;
    }
    close(pm);
    /* Before learning, a copy owns none of the region's pages. */
    T_EXPECT_INT(t_hot_in_child(t_hot_check_none), 0);
    sbx_hot_learn(t_hot_work);
    T_EXPECT(sbx_hot_pages() >= 5);
    T_EXPECT_INT(t_hot_in_child(t_hot_check_learnt), 0);
    /* The parent's own pages are untouched by either. */
    for (size_t i = 0; i < T_HOT_PAGES; i++)
        T_EXPECT_INT(t_hot_region[i * (size_t)t_hot_psz + 7], (unsigned char)i);
    /* Learning again replaces what was learnt. */
    sbx_hot_learn(t_hot_nothing);
    T_EXPECT_INT(t_hot_in_child(t_hot_check_none), 0);
}

static void t_hot_unmapped(void)
{
    T_ASSERT(t_hot_setup());
    sbx_hot_learn(t_hot_work);
    /* The region goes away before a copy populates it. */
    T_ASSERT(munmap(t_hot_region, T_HOT_PAGES * (size_t)t_hot_psz) == 0);
    T_EXPECT_INT(t_hot_in_child(t_hot_check_unmapped), 0);
}

static const struct t_case cases[] = {
    {"learn_populate", t_hot_learn_populate, true, 30},
    {"populate_unmapped", t_hot_unmapped, true, 30},
    {0},
};
T_SUITE(hot, cases)
