#include "harness.h"

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct t_suite *t_suites;
static struct t_suite **t_suites_tail = &t_suites;
static int t_case_failed;
static int t_case_skipped;
static char t_skip_why[256];
static char t_dir[4096];
static const char *t_cur_suite;
static const char *t_cur_case;

void t_register(struct t_suite *s)
{
    *t_suites_tail = s;
    t_suites_tail = &s->next;
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "FAIL %s/%s at %s:%d: %s\n", t_cur_suite, t_cur_case, file, line, msg);
    fflush(stderr);
    t_case_failed++;
}

void t_skip(const char *why)
{
    t_case_skipped = 1;
    snprintf(t_skip_why, sizeof(t_skip_why), "%s", why);
}

const char *t_tmpdir(void)
{
    return t_dir;
}

const char *t_kiln_bin(void)
{
    static char path[4096];
    const char *e = getenv("KILN_BIN");
    if (e && *e)
        return e;
    if (!path[0] && !realpath("./kiln", path))
        snprintf(path, sizeof(path), "./kiln");
    return path;
}

const char *t_corpus_dir(void)
{
    static char path[4096];
    const char *e = getenv("KILN_CORPUS");
    if (e && *e)
        return e;
    if (!path[0] && !realpath("../shared/corpus", path))
        snprintf(path, sizeof(path), "../shared/corpus");
    return path;
}

bool t_corpus_each(const char *const *subs, size_t n_subs, const char *suffix, t_corpus_fn fn,
                   void *ctx)
{
    size_t sl = strlen(suffix);
    for (size_t d = 0; d < n_subs; d++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", t_corpus_dir(), subs[d]);
        DIR *dh = opendir(dir);
        if (!dh) {
            t_skip("corpus not found");
            return false;
        }
        struct dirent *de;
        while ((de = readdir(dh))) {
            size_t l = strlen(de->d_name);
            if (l <= sl || strcmp(de->d_name + l - sl, suffix))
                continue;
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            fn(path, subs[d], de->d_name, ctx);
        }
        closedir(dh);
    }
    return true;
}

char *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *p = malloc(cap);
    for (;;) {
        if (!p)
            break;
        if (n + 1 >= cap) {
            char *q = realloc(p, cap * 2);
            if (!q) {
                free(p);
                p = NULL;
                break;
            }
            p = q;
            cap *= 2;
        }
        size_t r = fread(p + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (p) {
        p[n] = '\0';
        if (len)
            *len = n;
    }
    return p;
}

bool t_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static int t_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static void t_rm_rf(const char *path)
{
    nftw(path, t_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

/* Result of one case: 0 pass, 1 fail, 2 skip. */
static int t_run_case(const struct t_case *c)
{
    const char *base = getenv("TMPDIR");
    snprintf(t_dir, sizeof(t_dir), "%s/kiln-t-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(t_dir)) {
        fprintf(stderr, "FAIL %s/%s: mkdtemp: %s\n", t_cur_suite, c->name, strerror(errno));
        return 1;
    }
    t_case_failed = 0;
    t_case_skipped = 0;
    int result;
    if (!c->fork) {
        c->fn();
        result = t_case_failed ? 1 : t_case_skipped ? 2 : 0;
    } else {
        int pfd[2];
        if (pipe(pfd) != 0)
            return 1;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            setpgid(0, 0);
            c->fn();
            char r = t_case_failed ? 'F' : t_case_skipped ? 'S' : 'P';
            if (write(pfd[1], &r, 1) != 1)
                _exit(99);
            if (t_case_skipped)
                fprintf(stderr, "SKIP %s/%s: %s\n", t_cur_suite, c->name, t_skip_why);
            fflush(NULL);
            _exit(c->exit_status);
        }
        close(pfd[1]);
        int timeout = c->timeout_s > 0 ? c->timeout_s : 30;
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int st = 0;
        bool timed_out = false;
        for (;;) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid)
                break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec >= timeout) {
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                timed_out = true;
                break;
            }
            usleep(2000);
        }
        char r = 0;
        if (read(pfd[0], &r, 1) != 1)
            r = 0;
        close(pfd[0]);
        kill(-pid, SIGKILL);
        if (timed_out) {
            fprintf(stderr, "FAIL %s/%s: timed out after %d s\n", t_cur_suite, c->name, timeout);
            result = 1;
        } else if (c->signal) {
            result = (WIFSIGNALED(st) && WTERMSIG(st) == c->signal) ? 0 : 1;
            if (result)
                fprintf(stderr, "FAIL %s/%s: expected signal %d, got status 0x%x\n", t_cur_suite,
                        c->name, c->signal, st);
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != c->exit_status) {
            fprintf(stderr, "FAIL %s/%s: child ended with status 0x%x\n", t_cur_suite, c->name, st);
            result = 1;
        } else {
            result = r == 'P' ? 0 : r == 'S' ? 2 : 1;
        }
    }
    if (!getenv("T_KEEP"))
        t_rm_rf(t_dir);
    if (!c->fork && result == 2)
        fprintf(stderr, "SKIP %s/%s: %s\n", t_cur_suite, c->name, t_skip_why);
    return result;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;
    bool verbose = getenv("V") && *getenv("V") == '1';
    signal(SIGPIPE, SIG_IGN);
    for (struct t_suite *s = t_suites; s; s = s->next) {
        for (const struct t_case *c = s->cases; c->name; c++) {
            if (argc > 1) {
                bool match = false;
                char full[512];
                snprintf(full, sizeof(full), "%s/%s", s->name, c->name);
                for (int i = 1; i < argc; i++)
                    if (strstr(full, argv[i]))
                        match = true;
                if (!match)
                    continue;
            }
            t_cur_suite = s->name;
            t_cur_case = c->name;
            if (verbose)
                fprintf(stderr, "RUN  %s/%s\n", s->name, c->name);
            int r = t_run_case(c);
            if (r == 0)
                passed++;
            else if (r == 1)
                failed++;
            else
                skipped++;
        }
    }
    fflush(stderr);
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
