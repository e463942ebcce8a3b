/* The action handlers' helpers that run outside any request. */
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "actions.h"
#include "config.h"

/* Entries of dir, recursively (directories count too); -1 when unreadable. */
static long t_count(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        char sub[4096];
        struct stat st;
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            long k = t_count(sub);
            n += k > 0 ? k : 0;
        }
    }
    closedir(d);
    return n;
}

/* A spare's rehearsal of the request path keeps nothing: no store entry,
 * no scratch dir; it can run again (and under the sanitizers leaks
 * nothing). */
static void t_actions_rehearse_leaves_nothing(void)
{
    struct config cfg;
    config_defaults(&cfg);
    snprintf(cfg.store_dir, sizeof(cfg.store_dir), "%s/store", t_tmpdir());
    snprintf(cfg.scratch_dir, sizeof(cfg.scratch_dir), "%s/scratch", t_tmpdir());
    T_ASSERT(mkdir(cfg.scratch_dir, 0700) == 0);
    act_exec_rehearse(&cfg);
    long after_one = t_count(cfg.store_dir);
    act_exec_rehearse(&cfg);
    T_EXPECT_INT(t_count(cfg.scratch_dir), 0);
    /* the store's own directories only (made by its first open), no object */
    T_EXPECT(after_one >= 0);
    T_EXPECT_INT(t_count(cfg.store_dir), after_one);
    char objects[4096];
    snprintf(objects, sizeof(objects), "%s/objects", cfg.store_dir);
    T_EXPECT_INT(t_count(objects), 0);
}

static const struct t_case t_actions_cases[] = {
    {"rehearse_leaves_nothing", t_actions_rehearse_leaves_nothing, true, 20},
    {0},
};
T_SUITE(actions, t_actions_cases)
