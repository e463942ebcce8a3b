/* Regression tests for holes found by a review of kiln's trust boundaries
 * (sandbox filter, output collection); each fails without its fix. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "sbx.h"

/* ---- helpers ------------------------------------------------------------ */

static void t_rv_put(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Run fn in a sandbox with all layers; its result text into out. */
static bool t_rv_run(sbx_child_fn fn, void *arg, char *out, size_t out_len)
{
    struct config cfg;
    struct sbx_opts o;
    struct sbx_outcome oc;
    struct err err;
    config_defaults(&cfg);
    sbx_opts_from_config(&o, &cfg, t_tmpdir());
    o.wall_ms = 10000;
    o.memory_bytes = 256L * 1024 * 1024;
    o.procs = 32;
    o.fsize_bytes = 1024 * 1024;
    o.stdio_cap = 4096;
    o.result_cap = 4096;
    o.layers = SBX_L_ALL;
    if (sbx_run(&o, fn, arg, &oc, &err) != E_OK) {
        t_fail(__FILE__, __LINE__, "sbx_run: %s", err.msg);
        return false;
    }
    snprintf(out, out_len, "%s", oc.result.data ? oc.result.data : "");
    sbx_outcome_release(&oc);
    return true;
}

/* ---- seccomp: ioctl(TIOCSTI) with high bits in the request -------------- */

/* fd 0 is /dev/null: an ioctl the filter lets through fails with ENOTTY,
 * one it stops fails with EPERM. */
static int t_rv_fn_ioctl(void *arg, int rfd)
{
    unsigned long req = (unsigned long)(uintptr_t)arg;
    char ch = 'x';
    long r = syscall(SYS_ioctl, 0L, req, &ch);
    char b[64];
    snprintf(b, sizeof(b), "%s %d", r >= 0 ? "OK" : "ERR", r >= 0 ? 0 : errno);
    t_rv_put(rfd, b);
    return 0;
}

static void t_rv_tiocsti_high_bits(void)
{
    char got[128], eperm[32], enotty[32];
    snprintf(eperm, sizeof(eperm), "ERR %d", EPERM);
    snprintf(enotty, sizeof(enotty), "ERR %d", ENOTTY);
    if (t_rv_run(t_rv_fn_ioctl, (void *)(uintptr_t)TIOCSTI, got, sizeof(got)))
        T_EXPECT_STR(got, eperm);
    /* The kernel truncates the request to 32 bits: this is TIOCSTI too. */
    unsigned long hi = (unsigned long)TIOCSTI | (1UL << 32);
    if (t_rv_run(t_rv_fn_ioctl, (void *)(uintptr_t)hi, got, sizeof(got)))
        T_EXPECT_STR(got, eperm);
    hi = (unsigned long)TIOCSTI | 0xffffffff00000000UL;
    if (t_rv_run(t_rv_fn_ioctl, (void *)(uintptr_t)hi, got, sizeof(got)))
        T_EXPECT_STR(got, eperm);
    /* Other requests still reach the kernel. */
    if (t_rv_run(t_rv_fn_ioctl, (void *)(uintptr_t)TCGETS, got, sizeof(got)))
        T_EXPECT_STR(got, enotty);
    if (t_rv_run(t_rv_fn_ioctl, (void *)(uintptr_t)(TIOCSTI ^ 1), got, sizeof(got)))
        T_EXPECT_STR(got, enotty);
}

static const struct t_case cases[] = {
    {"tiocsti_high_bits", t_rv_tiocsti_high_bits, true, 30},
    {0},
};
T_SUITE(security_review, cases)
