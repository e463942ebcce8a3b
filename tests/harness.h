/*
 * harness: kiln's plain test runner.
 *
 * Each tests/unit/t_<module>.c holds a table of cases and registers it with
 * T_SUITE(name, table). T_EXPECT_* record a failure and continue; T_ASSERT_*
 * record and leave the case. A case may ask to run in a forked child with a
 * timeout and an expected exit status or signal (.fork = true). The runner
 * prints one line per failure and ends with "N passed, N failed".
 * Not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct t_case {
    const char *name;
    void (*fn)(void);
    bool fork;       /* run in a child process */
    int timeout_s;   /* with fork: 0 = 30 s */
    int exit_status; /* with fork: expected exit status (default 0) */
    int signal;      /* with fork: expected signal (0 = none) */
};

struct t_suite {
    const char *name;
    const struct t_case *cases;
    struct t_suite *next;
};

void t_register(struct t_suite *s);
void t_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A scratch directory for the running case, removed after it (under $TMPDIR). */
const char *t_tmpdir(void);
/* Mark the running case skipped, with a reason (call then return). */
void t_skip(const char *why);
/* Path of the kiln binary under test (KILN_BIN or ./kiln). */
const char *t_kiln_bin(void);
/* Read a whole file into a malloc'd NUL-terminated buffer; NULL on error. */
char *t_read_file(const char *path, size_t *len);
/* Write a file; false on error. */
bool t_write_file(const char *path, const void *data, size_t len);
/* Directory of the shared corpus (../shared/corpus or KILN_CORPUS). */
const char *t_corpus_dir(void);
/* Call fn(path, sub, name, ctx) for each file of corpus/<subs[i]> whose
 * name ends in suffix. Skips the case (t_skip) and returns false when a
 * directory is missing. */
typedef void (*t_corpus_fn)(const char *path, const char *sub, const char *name, void *ctx);
bool t_corpus_each(const char *const *subs, size_t n_subs, const char *suffix, t_corpus_fn fn,
                   void *ctx);

#define T_SUITE(sname, table)                                                                      \
    static struct t_suite t_suite_##sname = {#sname, table, NULL};                                 \
    __attribute__((constructor)) static void t_suite_reg_##sname(void)                             \
    {                                                                                              \
        t_register(&t_suite_##sname);                                                              \
    }

#define T_EXPECT(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            t_fail(__FILE__, __LINE__, "expected %s", #cond);                                      \
    } while (0)
#define T_ASSERT(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            t_fail(__FILE__, __LINE__, "assertion %s", #cond);                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define T_EXPECT_INT(a, b)                                                                         \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        if (t_a_ != t_b_)                                                                          \
            t_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, t_a_, #b, t_b_);     \
    } while (0)
#define T_EXPECT_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *t_a_ = (a), *t_b_ = (b);                                                       \
        if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_))                                                  \
            t_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,                        \
                   t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");                                \
    } while (0)
#define T_EXPECT_CONTAINS(hay, needle)                                                             \
    do {                                                                                           \
        const char *t_h_ = (hay), *t_n_ = (needle);                                                \
        if (!t_h_ || !strstr(t_h_, t_n_))                                                          \
            t_fail(__FILE__, __LINE__, "%s == \"%.300s\" lacks \"%s\"", #hay,                      \
                   t_h_ ? t_h_ : "(null)", t_n_);                                                  \
    } while (0)
