#include "scratch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

const char *scratch_base(const struct config *cfg)
{
    return cfg->scratch_dir;
}

static int scratch_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* The base must be ours and not writable by others (no one may plant or
 * swap run dirs), and every ancestor must be searchable by others: the
 * sandbox user opens the run dir by its path. */
static enum err_code scratch_check_base(const char *base, struct err *err)
{
    struct stat st;
    if (lstat(base, &st) != 0)
        return err_sys(err, E_SANDBOX, "cannot inspect scratch base '%s'", base);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022))
        return err_set(err, E_SANDBOX,
                       "scratch base '%s' must be a directory owned by uid %u and writable only "
                       "by it; remove it or set KILN_SCRATCH_DIR",
                       base, (unsigned)geteuid());
    if ((st.st_mode & 0711) != 0711 && chmod(base, 0711) != 0)
        return err_sys(err, E_SANDBOX, "cannot make scratch base '%s' searchable", base);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", base);
    for (char *slash = strrchr(path, '/'); slash && slash != path; slash = strrchr(path, '/')) {
        *slash = '\0';
        if (stat(path, &st) != 0)
            return err_sys(err, E_SANDBOX, "cannot inspect '%s'", path);
        if (!(st.st_mode & S_IXOTH))
            return err_set(err, E_SANDBOX,
                           "the sandbox cannot reach scratch dirs under '%s': '%s' is not "
                           "searchable by others; set KILN_SCRATCH_DIR (e.g. /var/tmp/kiln)",
                           base, path);
    }
    return E_OK;
}

enum err_code scratch_new(const struct config *cfg, char *out, size_t out_len, struct err *err)
{
    const char *base = scratch_base(cfg);
    if (scratch_mkdir_p(base, 0711) != 0)
        return err_sys(err, E_IO, "cannot create scratch base '%s'", base);
    enum err_code rc = scratch_check_base(base, err);
    if (rc)
        return rc;
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return err_sys(err, E_IO, "getrandom failed");
    char path[PATH_MAX];
    int n =
        snprintf(path, sizeof(path), "%s/run-%ld-%02x%02x%02x%02x%02x%02x%02x%02x", base,
                 (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (n < 0 || (size_t)n >= sizeof(path))
        return err_set(err, E_IO, "scratch path too long");
    if (mkdir(path, 0700) != 0)
        return err_sys(err, E_IO, "cannot create scratch dir '%s'", path);
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        int e = errno;
        rmdir(path);
        errno = e;
        return err_sys(err, E_IO, "cannot resolve scratch dir '%s'", path);
    }
    if (strlen(real) + 1 > out_len) {
        rmdir(path);
        return err_set(err, E_IO, "scratch path too long");
    }
    snprintf(out, out_len, "%s", real);
    return E_OK;
}

/* Remove everything below the open directory dfd, without following links. */
/* Directory levels removed by recursion (one fd each); deeper ones are
 * moved up to the top of the tree and removed from there, so that no
 * nesting (code can chdir down as deep as it likes) leaves anything. */
#define SCRATCH_RM_DEPTH 64
#define SCRATCH_RM_NAME_TRIES 1000

struct scratch_rm {
    int root;       /* the top of the tree */
    unsigned seq;   /* names for moved directories */
    unsigned moved; /* directories moved up so far */
};

/* Move directory name (in dfd) to the top under a name of its own. */
static void scratch_hoist(int dfd, const char *name, struct scratch_rm *rm)
{
    for (int t = 0; t < SCRATCH_RM_NAME_TRIES; t++) {
        char nm[32];
        snprintf(nm, sizeof(nm), ".kiln-rm-%u", rm->seq++);
        if (renameat2(dfd, name, rm->root, nm, RENAME_NOREPLACE) == 0) {
            rm->moved++;
            return;
        }
        if (errno != EEXIST)
            return;
    }
}

static void scratch_rm_at(struct scratch_rm *rm, int dfd, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            continue;
        if (errno != EISDIR && errno != EPERM)
            continue;
        if (depth >= SCRATCH_RM_DEPTH) {
            scratch_hoist(dirfd(d), e->d_name, rm);
            continue;
        }
        int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            continue;
        fchmod(sub, 0700);
        scratch_rm_at(rm, sub, depth + 1);
        unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

void scratch_remove(const char *path)
{
    if (!path || !*path)
        return;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    fchmod(fd, 0700);
    /* Again while levels were moved up (each pass removes 64 more). */
    struct scratch_rm rm = {fd, 0, 0};
    unsigned before;
    do {
        before = rm.moved;
        int it = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* own offset */
        if (it < 0)
            break;
        scratch_rm_at(&rm, it, 0);
    } while (rm.moved != before);
    close(fd);
    rmdir(path);
}

size_t scratch_sweep(const struct config *cfg)
{
    const char *base = scratch_base(cfg);
    size_t removed = 0;
    DIR *d = opendir(base);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = 0;
        char *end = NULL;
        if (strncmp(e->d_name, "run-", 4))
            continue;
        errno = 0;
        pid = strtol(e->d_name + 4, &end, 10);
        if (errno || !end || *end != '-' || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
            continue; /* owner alive */
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        scratch_remove(path);
        removed++;
    }
    closedir(d);
    return removed;
}
