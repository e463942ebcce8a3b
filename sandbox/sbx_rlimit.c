#include "sbx_rlimit.h"

#include <errno.h>
#include <sys/resource.h>

#include "sbx.h"

#include "banned.h"

bool sbx_rlimit_memory_enforced(void)
{
#if defined(KILN_SANITIZE) && KILN_SANITIZE
    return false;
#else
    return true;
#endif
}

/* Set a limit, never above the hard limit kiln was started with (raising
 * it needs a privilege: under 'ulimit -v 2000000' every sandbox failed at
 * this step). A lower inherited limit is the stricter one, and it stays. */
static bool sbx_rlimit_set(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit now;
    if (getrlimit(res, &now) == 0 && now.rlim_max != RLIM_INFINITY) {
        if (hard == RLIM_INFINITY || hard > now.rlim_max)
            hard = now.rlim_max;
        if (soft == RLIM_INFINITY || soft > hard)
            soft = hard;
    }
    struct rlimit rl = {soft, hard};
    return setrlimit(res, &rl) == 0;
}

bool sbx_rlimit_apply(const struct sbx_opts *o)
{
    if (sbx_rlimit_memory_enforced() && o->memory_bytes > 0) {
        rlim_t m = (rlim_t)o->memory_bytes;
        if (!sbx_rlimit_set(RLIMIT_DATA, m, m))
            return false;
        if (!sbx_rlimit_set(RLIMIT_AS, m + SBX_RLIMIT_AS_SLACK, m + SBX_RLIMIT_AS_SLACK))
            return false;
    }
    if (o->procs > 0 && !sbx_rlimit_set(RLIMIT_NPROC, (rlim_t)o->procs, (rlim_t)o->procs))
        return false;
    if (o->fsize_bytes > 0 &&
        !sbx_rlimit_set(RLIMIT_FSIZE, (rlim_t)o->fsize_bytes, (rlim_t)o->fsize_bytes))
        return false;
    if (!sbx_rlimit_set(RLIMIT_NOFILE, SBX_RLIMIT_NOFILE, SBX_RLIMIT_NOFILE))
        return false;
    if (!sbx_rlimit_set(RLIMIT_CORE, 0, 0))
        return false;
    if (!sbx_rlimit_set(RLIMIT_MEMLOCK, 0, 0))
        return false;
    if (o->wall_ms > 0) {
        rlim_t s = sbx_rlimit_cpu_s(o->wall_ms);
        if (!sbx_rlimit_set(RLIMIT_CPU, s, s + 1))
            return false;
    }
    return true;
}

rlim_t sbx_rlimit_cpu_s(long wall_ms)
{
    return (rlim_t)(wall_ms / 1000 + 1);
}

bool sbx_rlimit_cpu_lower(pid_t pid, long wall_ms)
{
    struct rlimit now;
    if (wall_ms <= 0 || prlimit(pid, RLIMIT_CPU, NULL, &now) != 0)
        return false;
    rlim_t s = sbx_rlimit_cpu_s(wall_ms);
    if (now.rlim_cur <= s)
        return true;
    struct rlimit rl = {s, s + 1};
    return prlimit(pid, RLIMIT_CPU, &rl, NULL) == 0;
}
