#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "outputs.h"
#include "scratch.h"
#include "store.h"
#include "store_int.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void t_store_cfg(struct config *cfg)
{
    config_defaults(cfg);
    snprintf(cfg->store_dir, sizeof(cfg->store_dir), "%s/store", t_tmpdir());
    snprintf(cfg->scratch_dir, sizeof(cfg->scratch_dir), "%s/scratch", t_tmpdir());
}

static void t_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", t_tmpdir(), name);
}

static const char *t_src(const char *name, const void *data, size_t len)
{
    static char path[4096];
    t_path(path, sizeof(path), name);
    if (!t_write_file(path, data, len))
        t_fail(__FILE__, __LINE__, "cannot write %s", path);
    return path;
}

static void t_sha_hex(const void *p, size_t n, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
    for (unsigned i = 0; i < dl; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Entries in <store>/<sub>, not counting . and .. */
static int t_count(const struct config *cfg, const char *sub)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", cfg->store_dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Read a live entry's bytes through the API; NULL on failure. */
static char *t_read_entry(struct store *s, const char *id, size_t *len, struct store_meta *m)
{
    int fd = -1;
    struct err e;
    if (store_open_data(s, id, m, &fd, &e))
        return NULL;
    size_t cap = m->size + 1, n = 0;
    char *p = malloc(cap);
    for (;;) {
        ssize_t r = read(fd, p + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap)
            break;
    }
    close(fd);
    *len = n;
    return p;
}

static void t_store_put_stat_open_copy(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta m, m2;
    struct err e;
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    struct stat st;
    T_ASSERT(stat(cfg.store_dir, &st) == 0);
    T_EXPECT_INT(st.st_mode & 0777, 0700);

    time_t before = time(NULL);
    T_ASSERT(store_put_file(s, t_src("in.bin", "abc", 3), "data.csv", NULL, STORE_TEMPORARY, NULL,
                            &m, &e) == E_OK);
    T_EXPECT(store_valid_id(m.id));
    T_EXPECT_INT(strlen(m.id), 34);
    T_EXPECT_STR(m.name, "data.csv");
    T_EXPECT_INT(m.size, 3);
    T_EXPECT_STR(m.mime, "text/csv");
    T_EXPECT_STR(m.sha256, SHA_ABC);
    T_EXPECT_INT(m.scope, STORE_TEMPORARY);
    T_EXPECT_STR(m.session, "");
    T_EXPECT(m.created >= before && m.created <= time(NULL));
    T_EXPECT(m.expires >= m.created + 600 && m.expires <= m.created + 601);

    T_ASSERT(store_stat(s, m.id, &m2, &e) == E_OK);
    T_EXPECT(memcmp(&m, &m2, sizeof(m)) == 0);
    size_t len = 0;
    char *data = t_read_entry(s, m.id, &len, &m2);
    T_ASSERT(data != NULL);
    T_EXPECT_INT(len, 3);
    T_EXPECT(memcmp(data, "abc", 3) == 0);
    free(data);

    char dst[4096];
    t_path(dst, sizeof(dst), "out.csv");
    T_EXPECT_INT(store_copy_out(s, m.id, dst, &e), E_OK);
    char *got = t_read_file(dst, &len);
    T_EXPECT(got && len == 3 && !memcmp(got, "abc", 3));
    free(got);
    /* The destination must not exist; an existing file is left alone. */
    t_write_file(dst, "keep", 4);
    T_EXPECT_INT(store_copy_out(s, m.id, dst, &e), E_IO);
    got = t_read_file(dst, &len);
    T_EXPECT(got && len == 4 && !memcmp(got, "keep", 4));
    free(got);

    /* Other MIME guesses, explicit MIME, empty file. */
    T_ASSERT(store_put_file(s, t_src("e", "", 0), "Chart.PNG", NULL, STORE_TEMPORARY, NULL, &m2,
                            &e) == E_OK);
    T_EXPECT_STR(m2.mime, "image/png");
    T_EXPECT_STR(m2.sha256, SHA_EMPTY);
    T_EXPECT_INT(m2.size, 0);
    T_ASSERT(store_put_file(s, t_src("e", "", 0), "noext", NULL, STORE_TEMPORARY, NULL, &m2, &e) ==
             E_OK);
    T_EXPECT_STR(m2.mime, "application/octet-stream");
    T_ASSERT(store_put_file(s, t_src("e", "x", 1), "r.xlsx", "text/plain", STORE_TEMPORARY, NULL,
                            &m2, &e) == E_OK);
    T_EXPECT_STR(m2.mime, "text/plain");

    /* SPEC §2 FILE object. */
    json_t *o = store_meta_json(&m);
    T_ASSERT(o != NULL);
    T_EXPECT_STR(json_string_value(json_object_get(o, "id")), m.id);
    T_EXPECT_STR(json_string_value(json_object_get(o, "name")), "data.csv");
    T_EXPECT_INT(json_integer_value(json_object_get(o, "size")), 3);
    T_EXPECT_STR(json_string_value(json_object_get(o, "mimeType")), "text/csv");
    T_EXPECT_STR(json_string_value(json_object_get(o, "scope")), "temporary");
    T_EXPECT_STR(json_string_value(json_object_get(o, "sha256")), SHA_ABC);
    T_EXPECT(json_object_get(o, "session") == NULL);
    T_EXPECT_INT(json_object_size(o), 7);
    char want[32];
    time_t t = (time_t)m.expires;
    struct tm tm;
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    T_EXPECT_STR(json_string_value(json_object_get(o, "expiresAt")), want);
    T_EXPECT_INT(strlen(want), 20);
    json_decref(o);

    /* Nothing is left in tmp; the name never became a path. */
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_TMP), 0);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 4);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_META), 4);
    store_free(s);
}

static void t_store_list_rm(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta a, b, c, *v = NULL;
    size_t n = 0;
    struct err e;
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_ASSERT(store_list(s, NULL, &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, 0);
    free(v);
    T_ASSERT(store_put_file(s, t_src("a", "A", 1), "a.txt", NULL, STORE_SESSION, "s1", &a, &e) ==
             E_OK);
    store_test_set_skew(s, 1);
    T_ASSERT(store_put_file(s, t_src("b", "BB", 2), "b.txt", NULL, STORE_TEMPORARY, NULL, &b, &e) ==
             E_OK);
    store_test_set_skew(s, 2);
    T_ASSERT(store_put_file(s, t_src("c", "CCC", 3), "c.txt", NULL, STORE_SESSION, "s1", &c, &e) ==
             E_OK);
    T_EXPECT(a.expires >= a.created + 86400);

    T_ASSERT(store_list(s, NULL, &v, &n, &e) == E_OK);
    T_ASSERT(n == 3);
    T_EXPECT_STR(v[0].id, c.id); /* newest first */
    T_EXPECT_STR(v[1].id, b.id);
    T_EXPECT_STR(v[2].id, a.id);
    free(v);
    T_ASSERT(store_list(s, "s1", &v, &n, &e) == E_OK);
    T_ASSERT(n == 2);
    T_EXPECT_STR(v[0].id, c.id);
    T_EXPECT_STR(v[1].id, a.id);
    T_EXPECT_STR(v[1].session, "s1");
    json_t *o = store_meta_json(&v[1]);
    T_EXPECT_STR(json_string_value(json_object_get(o, "scope")), "session");
    T_EXPECT_STR(json_string_value(json_object_get(o, "session")), "s1");
    json_decref(o);
    free(v);
    T_ASSERT(store_list(s, "nobody", &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, 0);
    free(v);

    T_EXPECT_INT(store_rm(s, a.id, &e), E_OK);
    T_EXPECT_INT(store_rm(s, a.id, &e), E_NOTFOUND);
    T_EXPECT_CONTAINS(e.msg, "not found");
    T_EXPECT_INT(store_stat(s, a.id, &b, &e), E_NOTFOUND);
    T_ASSERT(store_list(s, NULL, &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, 2);
    free(v);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 2);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_META), 2);
    store_free(s);
}

static void t_store_expiry_skew(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta m, live, x, *v = NULL;
    size_t n = 0, removed = 0;
    uint64_t bytes = 0;
    struct err e;
    int fd = -1;
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_ASSERT(store_put_file(s, t_src("a", "hello", 5), "h.txt", NULL, STORE_TEMPORARY, NULL, &m,
                            &e) == E_OK);
    T_ASSERT(store_put_file(s, t_src("b", "sess", 4), "s.txt", NULL, STORE_SESSION, "s", &live,
                            &e) == E_OK);
    store_test_set_skew(s, cfg.ttl_temporary_s + 2);
    /* Expired: invisible at once, before any sweep. */
    T_EXPECT_INT(store_stat(s, m.id, &x, &e), E_NOTFOUND);
    T_EXPECT_INT(store_open_data(s, m.id, &x, &fd, &e), E_NOTFOUND);
    char dst[4096];
    t_path(dst, sizeof(dst), "out");
    T_EXPECT_INT(store_copy_out(s, m.id, dst, &e), E_NOTFOUND);
    T_EXPECT(access(dst, F_OK) != 0);
    T_ASSERT(store_list(s, NULL, &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, 1);
    if (n == 1)
        T_EXPECT_STR(v[0].id, live.id);
    free(v);
    T_EXPECT_INT(store_stat(s, live.id, &x, &e), E_OK);
    /* Still on disk until the sweep. */
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 2);
    T_EXPECT_INT(store_gc(s, &removed, &bytes, NULL, &e), E_OK);
    T_EXPECT_INT(removed, 1);
    T_EXPECT_INT(bytes, 5);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 1);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_META), 1);
    T_EXPECT_INT(store_stat(s, live.id, &x, &e), E_OK);
    /* rm of an expired entry: not found, but its bytes go. */
    store_test_set_skew(s, cfg.ttl_session_s + 5);
    T_EXPECT_INT(store_rm(s, live.id, &e), E_NOTFOUND);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 0);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_META), 0);
    store_free(s);
}

static void t_store_expiry_real_clock(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta m, x;
    size_t removed = 0;
    struct err e;
    t_store_cfg(&cfg);
    cfg.ttl_temporary_s = 1;
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_ASSERT(store_put_file(s, t_src("a", "tick", 4), "t.txt", NULL, STORE_TEMPORARY, NULL, &m,
                            &e) == E_OK);
    T_EXPECT_INT(store_stat(s, m.id, &x, &e), E_OK);
    usleep(2100 * 1000);
    T_EXPECT_INT(store_stat(s, m.id, &x, &e), E_NOTFOUND);
    T_EXPECT_INT(store_gc(s, &removed, NULL, NULL, &e), E_OK);
    T_EXPECT_INT(removed, 1);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 0);
    store_free(s);
}

static void t_store_session_quota(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta m;
    struct err e;
    t_store_cfg(&cfg);
    cfg.session_quota_files = 3;
    cfg.session_quota_bytes = 100;
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    const char *ten = t_src("ten", "0123456789", 10);
    static const char *const names[] = {"f0.txt", "f1.txt", "f2.txt"};
    for (int i = 0; i < 3; i++)
        T_EXPECT_INT(store_put_file(s, ten, names[i], NULL, STORE_SESSION, "s1", &m, &e), E_OK);
    T_EXPECT_INT(store_put_file(s, ten, "f.txt", NULL, STORE_SESSION, "s1", &m, &e),
                 E_OUTPUT_LIMIT);
    T_EXPECT_CONTAINS(e.msg, "quota");
    T_EXPECT_CONTAINS(e.msg, "s1");
    /* A name stored again replaces the session's file of that name: the
     * quota does not count the one replaced, whose id is then gone. */
    struct store_meta old;
    T_EXPECT_INT(store_put_file(s, ten, "f0.txt", NULL, STORE_SESSION, "s1", &old, &e), E_OK);
    T_EXPECT_INT(store_put_file(s, ten, "f0.txt", NULL, STORE_SESSION, "s1", &m, &e), E_OK);
    T_EXPECT_INT(store_stat(s, old.id, &old, &e), E_NOTFOUND);
    struct store_meta *v = NULL;
    size_t n = 0;
    T_ASSERT(store_list(s, "s1", &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, 3);
    free(v);
    /* A file the session forgets goes with its older versions; a newer one
     * (another call's, stored meanwhile) would stay. */
    struct store_meta f1;
    T_ASSERT(store_put_file(s, ten, "f1.txt", NULL, STORE_SESSION, "s1", &f1, &e) == E_OK);
    T_EXPECT_INT(store_session_forget(s, &old, &e), E_OK); /* older than m: m stays */
    T_EXPECT_INT(store_stat(s, m.id, &m, &e), E_OK);
    T_EXPECT_INT(store_session_forget(s, &f1, &e), E_OK);
    T_EXPECT_INT(store_stat(s, f1.id, &f1, &e), E_NOTFOUND);
    T_ASSERT(store_list(s, "s1", &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, 2);
    free(v);
    /* Other sessions and the temporary scope are not affected. */
    T_EXPECT_INT(store_put_file(s, ten, "f.txt", NULL, STORE_TEMPORARY, "s1", &m, &e), E_OK);
    T_EXPECT_INT(store_put_file(s, ten, "f.txt", NULL, STORE_SESSION, "s2", &m, &e), E_OK);
    char big[95];
    memset(big, 'x', sizeof(big));
    T_EXPECT_INT(store_put_file(s, t_src("big", big, sizeof(big)), "big.txt", NULL, STORE_SESSION,
                                "s2", &m, &e),
                 E_OUTPUT_LIMIT);
    T_EXPECT_CONTAINS(e.msg, "bytes");
    T_EXPECT_INT(
        store_put_file(s, t_src("big", big, 90), "big.txt", NULL, STORE_SESSION, "s2", &m, &e),
        E_OK);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_TMP), 0);
    /* Expired entries do not count. */
    store_test_set_skew(s, cfg.ttl_session_s + 5);
    T_EXPECT_INT(store_put_file(s, ten, "f.txt", NULL, STORE_SESSION, "s1", &m, &e), E_OK);
    /* 0 means no limit. */
    store_free(s);
    cfg.session_quota_files = 0;
    cfg.session_quota_bytes = 0;
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    for (int i = 0; i < 5; i++)
        T_EXPECT_INT(store_put_file(s, ten, "f.txt", NULL, STORE_SESSION, "s3", &m, &e), E_OK);
    store_free(s);
}

static void t_store_bad_args(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta m;
    struct err e;
    int fd = -1;
    char victim[4096], dst[4096], p[4096];
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    t_path(victim, sizeof(victim), "victim");
    T_ASSERT(t_write_file(victim, "v", 1));
    /* A file named like an id just outside the store. */
    t_path(p, sizeof(p), "f_00000000000000000000000000000000");
    T_ASSERT(t_write_file(p, "w", 1));
    char longid[5000];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    const char *bad[] = {
        "",
        "../victim",
        "../../victim",
        "f_../../victim",
        "f_0000000000000000000000000000000",   /* 31 hex */
        "f_000000000000000000000000000000000", /* 33 hex */
        "f_ABCDEF00000000000000000000000000",  /* upper case */
        "f_0000000000000000000000000000000g",
        "f_00000000000000000000000000000000/..",
        "g_00000000000000000000000000000000",
        "../f_00000000000000000000000000000000",
        "f_00000000000000000000000000000000", /* well-formed, absent */
        longid,
    };
    t_path(dst, sizeof(dst), "dst");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        T_EXPECT_INT(store_stat(s, bad[i], &m, &e), E_NOTFOUND);
        T_EXPECT_INT(store_open_data(s, bad[i], &m, &fd, &e), E_NOTFOUND);
        T_EXPECT_INT(store_copy_out(s, bad[i], dst, &e), E_NOTFOUND);
        T_EXPECT_INT(store_rm(s, bad[i], &e), E_NOTFOUND);
        T_EXPECT_CONTAINS(e.msg, "not found");
    }
    T_EXPECT(access(victim, F_OK) == 0);
    T_EXPECT(access(p, F_OK) == 0);
    T_EXPECT(access(dst, F_OK) != 0);

    const char *src = t_src("x", "x", 1);
    T_EXPECT_INT(store_put_file(s, src, "a", NULL, STORE_SESSION, NULL, &m, &e), E_INVALID);
    T_EXPECT_INT(store_put_file(s, src, "a", NULL, STORE_SESSION, "../x", &m, &e), E_INVALID);
    T_EXPECT_INT(store_put_file(s, src, "", NULL, STORE_TEMPORARY, NULL, &m, &e), E_INVALID);
    T_EXPECT_INT(store_put_file(s, src, "a\nb", NULL, STORE_TEMPORARY, NULL, &m, &e), E_INVALID);
    T_EXPECT_INT(store_put_file(s, src, "bad\xff\xfe.csv", NULL, STORE_TEMPORARY, NULL, &m, &e),
                 E_INVALID);
    T_EXPECT_INT(store_put_file(s, src, "caf\xc3\xa9.csv", NULL, STORE_TEMPORARY, NULL, &m, &e),
                 E_OK);
    T_EXPECT_STR(m.name, "caf\xc3\xa9.csv");
    T_EXPECT_INT(store_put_file(s, t_tmpdir(), "d", NULL, STORE_TEMPORARY, NULL, &m, &e),
                 E_INVALID);
    t_path(p, sizeof(p), "absent");
    T_EXPECT_INT(store_put_file(s, p, "d", NULL, STORE_TEMPORARY, NULL, &m, &e), E_IO);
    /* Names are data, never paths. */
    T_EXPECT_INT(store_put_file(s, src, "../../escape", NULL, STORE_TEMPORARY, NULL, &m, &e), E_OK);
    T_EXPECT_STR(m.name, "../../escape");
    t_path(p, sizeof(p), "escape");
    T_EXPECT(access(p, F_OK) != 0);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_TMP), 0);
    store_free(s);
}

#define T_WRITERS 8
#define T_PER_WRITER 50

static void t_content(int k, int i, char *buf, size_t cap, size_t *len)
{
    int n = snprintf(buf, cap, "writer %d file %d\n", k, i);
    size_t l = (size_t)n;
    while (l + (size_t)n < cap && l < (size_t)(i * 37 + 1))
        l += (size_t)snprintf(buf + l, cap - l, "writer %d file %d\n", k, i);
    *len = l;
}

static int t_writer(const struct config *cfg, int k)
{
    struct store *s = NULL;
    struct err e;
    char src[4096], ids[4096], buf[4096];
    FILE *f = NULL;
    snprintf(src, sizeof(src), "%s/src-%d", t_tmpdir(), k);
    snprintf(ids, sizeof(ids), "%s/ids-%d", t_tmpdir(), k);
    if (store_open(cfg, &s, &e) || !(f = fopen(ids, "w")))
        return 1;
    for (int i = 0; i < T_PER_WRITER; i++) {
        size_t len = 0;
        struct store_meta m;
        t_content(k, i, buf, sizeof(buf), &len);
        if (!t_write_file(src, buf, len))
            return 2;
        char name[64]; /* a session holds one file per name: one each */
        snprintf(name, sizeof(name), "w-%d-%d.txt", k, i);
        if (store_put_file(s, src, name, NULL, k % 2 ? STORE_SESSION : STORE_TEMPORARY,
                           k % 2 ? "conc" : NULL, &m, &e)) {
            fprintf(stderr, "writer %d: %s\n", k, e.msg);
            return 3;
        }
        fprintf(f, "%s %d %d\n", m.id, k, i);
        /* and all of them one name, each replacing the last */
        if (k % 2 && store_put_file(s, src, "same.txt", NULL, STORE_SESSION, "conc-same", &m, &e)) {
            fprintf(stderr, "writer %d: %s\n", k, e.msg);
            return 3;
        }
    }
    fclose(f);
    store_free(s);
    return 0;
}

/* Sweeps and lists while the writers run: must never drop a live entry. */
static int t_sweeper(const struct config *cfg, const char *stop)
{
    struct store *s = NULL;
    struct err e;
    if (store_open(cfg, &s, &e))
        return 1;
    while (access(stop, F_OK) != 0) {
        struct store_meta *v = NULL;
        size_t n = 0;
        if (store_gc(s, NULL, NULL, NULL, &e) || store_list(s, NULL, &v, &n, &e)) {
            fprintf(stderr, "sweeper: %s\n", e.msg);
            return 2;
        }
        free(v);
    }
    store_free(s);
    return 0;
}

static void t_store_concurrent_writers(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct err e;
    pid_t pids[T_WRITERS + 1];
    char stop[4096];
    t_store_cfg(&cfg);
    t_path(stop, sizeof(stop), "stop");
    for (int k = 0; k <= T_WRITERS; k++) {
        pids[k] = fork();
        T_ASSERT(pids[k] >= 0);
        if (pids[k] == 0)
            _exit(k < T_WRITERS ? t_writer(&cfg, k) : t_sweeper(&cfg, stop));
    }
    for (int k = 0; k < T_WRITERS; k++) {
        int st = 0;
        waitpid(pids[k], &st, 0);
        T_EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    t_write_file(stop, "", 0);
    int st = 0;
    waitpid(pids[T_WRITERS], &st, 0);
    T_EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    char(*ids)[STORE_ID_LEN + 1] = calloc(T_WRITERS * T_PER_WRITER, sizeof(*ids));
    size_t nids = 0;
    for (int k = 0; k < T_WRITERS; k++) {
        char path[4096], id[64];
        int kk, i;
        snprintf(path, sizeof(path), "%s/ids-%d", t_tmpdir(), k);
        FILE *f = fopen(path, "r");
        T_ASSERT(f != NULL);
        while (fscanf(f, "%63s %d %d", id, &kk, &i) == 3) {
            char buf[4096], want[65];
            size_t len = 0, got_len = 0;
            struct store_meta m;
            t_content(kk, i, buf, sizeof(buf), &len);
            t_sha_hex(buf, len, want);
            char *got = t_read_entry(s, id, &got_len, &m);
            T_EXPECT(got != NULL);
            if (got) {
                T_EXPECT(got_len == len && !memcmp(got, buf, len));
                T_EXPECT_STR(m.sha256, want);
            }
            free(got);
            for (size_t j = 0; j < nids; j++)
                if (!strcmp(ids[j], id))
                    t_fail(__FILE__, __LINE__, "duplicate id %s", id);
            if (nids < T_WRITERS * T_PER_WRITER)
                snprintf(ids[nids++], STORE_ID_LEN + 1, "%s", id);
        }
        fclose(f);
    }
    T_EXPECT_INT(nids, T_WRITERS * T_PER_WRITER);
    struct store_meta *v = NULL;
    size_t n = 0;
    T_ASSERT(store_list(s, NULL, &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, T_WRITERS * T_PER_WRITER + 1); /* and one same.txt */
    free(v);
    T_ASSERT(store_list(s, "conc", &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, T_WRITERS / 2 * T_PER_WRITER);
    free(v);
    /* Writers replacing one another's file of one name leave one, not none. */
    T_ASSERT(store_list(s, "conc-same", &v, &n, &e) == E_OK);
    T_EXPECT_INT(n, 1);
    free(v);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_TMP), 0);
    free(ids);
    store_free(s);
}

/* Every listed entry's bytes match its size and sha256. */
static void t_check_all_entries(struct store *s)
{
    struct store_meta *v = NULL;
    size_t n = 0;
    struct err e;
    T_ASSERT(store_list(s, NULL, &v, &n, &e) == E_OK);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        struct store_meta m;
        char want[65];
        char *got = t_read_entry(s, v[i].id, &len, &m);
        T_EXPECT(got != NULL);
        if (!got)
            continue;
        T_EXPECT_INT(len, m.size);
        t_sha_hex(got, len, want);
        T_EXPECT_STR(m.sha256, want);
        free(got);
    }
    free(v);
}

static void t_store_kill9_mid_write(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta m;
    struct err e;
    size_t removed = 0;
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_ASSERT(store_put_file(s, t_src("small", "small", 5), "small.txt", NULL, STORE_TEMPORARY, NULL,
                            &m, &e) == E_OK);
    size_t big_len = 4u << 20;
    char *big = malloc(big_len);
    T_ASSERT(big != NULL);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 + (i >> 12));
    char bigpath[4096];
    snprintf(bigpath, sizeof(bigpath), "%s", t_src("big", big, big_len));
    free(big);

    bool left_temp = false;
    for (int attempt = 0; attempt < 20 && !left_temp; attempt++) {
        pid_t pid = fork();
        T_ASSERT(pid >= 0);
        if (pid == 0) {
            struct store *cs = NULL;
            struct store_meta cm;
            if (store_open(&cfg, &cs, &e))
                _exit(1);
            for (;;)
                store_put_file(cs, bigpath, "big.bin", NULL, STORE_TEMPORARY, NULL, &cm, &e);
        }
        /* Kill once a temp file is being written (or after a while). */
        for (int i = 0; i < 2000 && t_count(&cfg, STORE_DIR_TMP) == 0; i++)
            usleep(200);
        usleep((useconds_t)(attempt * 500));
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        T_EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        left_temp = t_count(&cfg, STORE_DIR_TMP) > 0;
        /* Whatever the moment of the kill: no visible partial entry. */
        t_check_all_entries(s);
    }
    T_EXPECT(left_temp);
    T_EXPECT_INT(store_gc(s, &removed, NULL, NULL, &e), E_OK);
    T_EXPECT(removed >= 1);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_TMP), 0);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), t_count(&cfg, STORE_DIR_META));
    T_EXPECT_INT(store_stat(s, m.id, &m, &e), E_OK);
    t_check_all_entries(s);
    store_free(s);
}

/* Data without metadata is swept, except while its writer holds the lock
 * on its metadata temp file (between its two renames). */
static void t_store_gc_orphans(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta m;
    struct err e;
    size_t removed = 0;
    char p[4200];
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_ASSERT(store_put_file(s, t_src("a", "abc", 3), "a", NULL, STORE_TEMPORARY, NULL, &m, &e) ==
             E_OK);
    /* A remover killed between its unlinks. */
    snprintf(p, sizeof(p), "%s/%s/%s%s", cfg.store_dir, STORE_DIR_META, m.id, STORE_META_SUFFIX);
    T_ASSERT(unlink(p) == 0);
    T_EXPECT_INT(store_stat(s, m.id, &m, &e), E_NOTFOUND);

    /* A live writer between its renames. */
    const char *wid = "f_0123456789abcdef0123456789abcdef";
    snprintf(p, sizeof(p), "%s/%s/%s", cfg.store_dir, STORE_DIR_OBJECTS, wid);
    T_ASSERT(t_write_file(p, "wip", 3));
    snprintf(p, sizeof(p), "%s/%s/%s.meta", cfg.store_dir, STORE_DIR_TMP, wid);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    T_ASSERT(fd >= 0);
    T_ASSERT(flock(fd, LOCK_EX) == 0);

    T_EXPECT_INT(store_gc(s, &removed, NULL, NULL, &e), E_OK);
    T_EXPECT_INT(removed, 1);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 1);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_TMP), 1);
    close(fd); /* the writer dies */
    T_EXPECT_INT(store_gc(s, &removed, NULL, NULL, &e), E_OK);
    T_EXPECT_INT(removed, 2);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 0);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_TMP), 0);
    store_free(s);
}

static void t_store_gc_scratch(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct err e;
    size_t removed = 0;
    char dead[4200], live[4200], file[4300];
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    snprintf(dead, sizeof(dead), "%s/scratch/run-%ld-00aa", t_tmpdir(), (long)pid);
    snprintf(live, sizeof(live), "%s/scratch/run-%ld-00bb", t_tmpdir(), (long)getpid());
    T_ASSERT(mkdir(scratch_base(&cfg), 0700) == 0 || errno == EEXIST);
    T_ASSERT(mkdir(dead, 0700) == 0);
    T_ASSERT(mkdir(live, 0700) == 0);
    snprintf(file, sizeof(file), "%s/out.csv", dead);
    T_ASSERT(t_write_file(file, "x", 1));
    T_EXPECT_INT(store_gc(s, &removed, NULL, NULL, &e), E_OK);
    T_EXPECT_INT(removed, 0); /* a dir is not a stored file: not counted as one */
    T_EXPECT(access(dead, F_OK) != 0);
    T_EXPECT(access(live, F_OK) == 0);
    store_free(s);
    /* Every store open sweeps them, not only one past the gc interval (a
     * Ctrl-C'd kiln run's dir stayed for minutes). */
    T_ASSERT(mkdir(dead, 0700) == 0);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_EXPECT(access(dead, F_OK) != 0);
    T_EXPECT(access(live, F_OK) == 0);
    store_free(s);
    T_EXPECT(rmdir(live) == 0);
}

static void t_store_opportunistic_gc(void)
{
    struct config cfg;
    struct store *s = NULL, *old = NULL;
    struct store_meta m;
    struct err e;
    char p[4200];
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &old, &e) == E_OK);
    /* A store whose clock is far behind writes already-expired entries. */
    store_test_set_skew(old, -100000);
    T_ASSERT(store_put_file(old, t_src("a", "abc", 3), "a", NULL, STORE_TEMPORARY, NULL, &m, &e) ==
             E_OK);
    /* The last sweep was recent: opening does not sweep. */
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    store_free(s);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 1);
    /* Long ago: the next open sweeps. */
    snprintf(p, sizeof(p), "%s/%s", cfg.store_dir, STORE_FILE_LAST_GC);
    struct timespec ts[2] = {{time(NULL) - 2 * LIM_STORE_GC_INTERVAL_S, 0},
                             {time(NULL) - 2 * LIM_STORE_GC_INTERVAL_S, 0}};
    T_ASSERT(utimensat(AT_FDCWD, p, ts, 0) == 0);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 0);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_META), 0);
    store_free(s);
    /* Without the flag's sweep. */
    T_ASSERT(store_put_file(old, t_src("a", "abc", 3), "a", NULL, STORE_TEMPORARY, NULL, &m, &e) ==
             E_OK);
    T_ASSERT(utimensat(AT_FDCWD, p, ts, 0) == 0);
    T_ASSERT(store_open_ex(&cfg, STORE_OPEN_NO_SWEEP, &s, &e) == E_OK);
    T_EXPECT_INT(t_count(&cfg, STORE_DIR_OBJECTS), 1);
    store_free(s);
    store_free(old);
}

/* Output collection and files with several names: one whose every name is
 * in the scratch dir is an output under each name; one with a name outside
 * (a hard link to a file elsewhere) is skipped and reported, never read. */
static void t_store_outputs_hard_links(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct err e;
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    char dir[4096], sub[4096], p[4096], q[4096];
    t_path(dir, sizeof(dir), "out");
    snprintf(sub, sizeof(sub), "%s/d", dir);
    T_ASSERT(mkdir(dir, 0700) == 0 && mkdir(sub, 0700) == 0);
    snprintf(p, sizeof(p), "%s/a.txt", dir);
    T_ASSERT(t_write_file(p, "inside", 6));
    snprintf(q, sizeof(q), "%s/b.txt", dir);
    T_ASSERT(link(p, q) == 0);
    snprintf(q, sizeof(q), "%s/c.txt", sub);
    T_ASSERT(link(p, q) == 0);
    const char *secret = t_src("secret", "host secret", 11); /* outside dir */
    snprintf(q, sizeof(q), "%s/leak.txt", dir);
    T_ASSERT(link(secret, q) == 0);
    snprintf(q, sizeof(q), "%s/plain.txt", dir);
    T_ASSERT(t_write_file(q, "p", 1));

    json_t *files = json_array(), *skipped = json_array();
    T_ASSERT(outputs_collect(dir, NULL, s, STORE_TEMPORARY, NULL, 1 << 20, files, skipped, &e) ==
             E_OK);
    const char *want[] = {"a.txt", "b.txt", "d/c.txt", "plain.txt"};
    size_t seen = 0;
    for (size_t i = 0; i < json_array_size(files); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(files, i), "name"));
        T_ASSERT(name);
        for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
            seen += !strcmp(name, want[k]);
        T_EXPECT(strcmp(name, "leak.txt") != 0);
    }
    T_EXPECT_INT(json_array_size(files), 4);
    T_EXPECT_INT(seen, 4);
    T_EXPECT_INT(json_array_size(skipped), 1);
    json_t *sk = json_array_get(skipped, 0);
    T_EXPECT_STR(json_string_value(json_object_get(sk, "name")), "leak.txt");
    T_EXPECT_STR(json_string_value(json_object_get(sk, "reason")),
                 "hard link to a file outside the scratch dir");
    json_decref(files);
    json_decref(skipped);
    store_free(s);
}

static int t_open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* More files with several names than the collector holds open (256): each
 * is still skipped, the ones past the limit as plain hard links, and no
 * descriptor is left open. */
static void t_store_outputs_hard_links_cap(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct err e;
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    char dir[4096], q[4096];
    t_path(dir, sizeof(dir), "many");
    T_ASSERT(mkdir(dir, 0700) == 0);
    const char *secret = t_src("secret2", "host secret", 11); /* outside dir */
    for (int i = 0; i < 300; i++) {
        snprintf(q, sizeof(q), "%s/l%03d", dir, i);
        T_ASSERT(link(secret, q) == 0);
    }
    int fds = t_open_fds();
    json_t *files = json_array(), *skipped = json_array();
    T_ASSERT(outputs_collect(dir, NULL, s, STORE_TEMPORARY, NULL, 1 << 20, files, skipped, &e) ==
             E_OK);
    T_EXPECT_INT(json_array_size(files), 0);
    T_EXPECT_INT(json_array_size(skipped), 300);
    size_t outside = 0, capped = 0;
    for (size_t i = 0; i < json_array_size(skipped); i++) {
        const char *why = json_string_value(json_object_get(json_array_get(skipped, i), "reason"));
        outside += why && !strcmp(why, "hard link to a file outside the scratch dir");
        capped += why && !strcmp(why, "hard link (a file with several names)");
    }
    T_EXPECT_INT(outside, 256);
    T_EXPECT_INT(capped, 44);
    T_EXPECT_INT(t_open_fds(), fds);
    json_decref(files);
    json_decref(skipped);
    store_free(s);
}

static size_t t_list_n(struct store *s, const char *session)
{
    struct store_meta *v = NULL;
    size_t n = 0;
    struct err e;
    if (store_list(s, session, &v, &n, &e) != E_OK)
        return (size_t)-1;
    free(v);
    return n;
}

static void t_rm_rf(const char *path)
{
    char cmd[4300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    T_ASSERT(system(cmd) == 0);
}

/* A session's listing, quota and replacing read its index
 * (sessions/<session>/<id>), kept in step by writes, replacing and removal,
 * and built from meta/ for a store that has none (an older kiln's, or one
 * whose build was killed). */
static void t_store_session_index(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta a, b, c, t, a2;
    struct err e;
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_EXPECT_INT(t_count(&cfg, "sessions"), 0);
    T_ASSERT(store_put_file(s, t_src("a", "A", 1), "a.txt", NULL, STORE_SESSION, "s1", &a, &e) ==
             E_OK);
    T_ASSERT(store_put_file(s, t_src("b", "B", 1), "b.txt", NULL, STORE_SESSION, "s1", &b, &e) ==
             E_OK);
    T_ASSERT(store_put_file(s, t_src("c", "C", 1), "c.txt", NULL, STORE_SESSION, "s-2", &c, &e) ==
             E_OK);
    T_ASSERT(store_put_file(s, t_src("t", "T", 1), "t.txt", NULL, STORE_TEMPORARY, NULL, &t, &e) ==
             E_OK);
    T_EXPECT_INT(t_count(&cfg, "sessions"), 2);
    T_EXPECT_INT(t_count(&cfg, "sessions/s1"), 2);
    T_EXPECT_INT(t_count(&cfg, "sessions/s-2"), 1);
    T_EXPECT_INT(t_list_n(s, "s1"), 2);
    /* the same name again replaces the earlier file, in the index too */
    T_ASSERT(store_put_file(s, t_src("a2", "AA", 2), "a.txt", NULL, STORE_SESSION, "s1", &a2, &e) ==
             E_OK);
    T_EXPECT_INT(t_count(&cfg, "sessions/s1"), 2);
    T_EXPECT_INT(store_stat(s, a.id, NULL, &e), E_NOTFOUND);
    T_ASSERT(store_rm(s, b.id, &e) == E_OK);
    T_EXPECT_INT(t_count(&cfg, "sessions/s1"), 1);
    T_EXPECT_INT(t_list_n(s, "s1"), 1);
    T_EXPECT_INT(t_list_n(s, "../meta"), 0);
    store_free(s);

    /* a store without the index, and a killed build's leftovers */
    char p[4200];
    snprintf(p, sizeof(p), "%s/sessions", cfg.store_dir);
    t_rm_rf(p);
    snprintf(p, sizeof(p), "%s/sessions.new", cfg.store_dir);
    T_ASSERT(mkdir(p, 0700) == 0);
    snprintf(p, sizeof(p), "%s/sessions.new/junk", cfg.store_dir);
    T_ASSERT(mkdir(p, 0700) == 0);
    snprintf(p, sizeof(p), "%s/sessions.new/junk/%s", cfg.store_dir, t.id);
    T_ASSERT(t_write_file(p, "", 0));
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_EXPECT_INT(t_count(&cfg, "sessions.new"), -1);
    T_EXPECT_INT(t_count(&cfg, "sessions"), 2);
    T_EXPECT_INT(t_list_n(s, "s1"), 1);
    T_EXPECT_INT(t_list_n(s, "s-2"), 1);
    T_EXPECT_INT(t_list_n(s, "junk"), 0);
    T_EXPECT_INT(t_list_n(s, NULL), 3);

    /* the listing reads the index: an entry missing from it (written by an
     * older kiln) is not seen until the sweep adds it */
    snprintf(p, sizeof(p), "%s/sessions/s-2/%s", cfg.store_dir, c.id);
    T_ASSERT(unlink(p) == 0);
    T_EXPECT_INT(t_list_n(s, "s-2"), 0);
    size_t removed = 0;
    uint64_t bytes = 0;
    T_EXPECT_INT(store_gc(s, &removed, &bytes, NULL, &e), E_OK);
    T_EXPECT_INT(t_list_n(s, "s-2"), 1);
    store_free(s);

    /* no index to be had (sessions/ is a file): read from meta/, slower */
    snprintf(p, sizeof(p), "%s/sessions", cfg.store_dir);
    t_rm_rf(p);
    T_ASSERT(t_write_file(p, "x", 1));
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_EXPECT_INT(t_list_n(s, "s1"), 1);
    T_ASSERT(store_put_file(s, t_src("d", "D", 1), "d.txt", NULL, STORE_SESSION, "s1", &b, &e) ==
             E_OK);
    T_EXPECT_INT(t_list_n(s, "s1"), 2);
    store_free(s);
    T_ASSERT(unlink(p) == 0);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_EXPECT_INT(t_count(&cfg, "sessions/s1"), 2);
    T_EXPECT_INT(t_list_n(s, "s1"), 2);
    store_free(s);
}

/* The sweep drops index entries without metadata, unless their writer is
 * still at work (it holds tmp/<id>.meta), and sessions left empty; an
 * expired session file goes from the index with its metadata. */
static void t_store_session_index_gc(void)
{
    struct config cfg;
    struct store *s = NULL;
    struct store_meta a;
    struct err e;
    t_store_cfg(&cfg);
    T_ASSERT(store_open(&cfg, &s, &e) == E_OK);
    T_ASSERT(store_put_file(s, t_src("a", "A", 1), "a.txt", NULL, STORE_SESSION, "s1", &a, &e) ==
             E_OK);
    const char *dead = "f_00000000000000000000000000000001";
    const char *busy = "f_00000000000000000000000000000002";
    char p[4200];
    snprintf(p, sizeof(p), "%s/sessions/s1/%s", cfg.store_dir, dead);
    T_ASSERT(t_write_file(p, "", 0));
    snprintf(p, sizeof(p), "%s/sessions/s1/%s", cfg.store_dir, busy);
    T_ASSERT(t_write_file(p, "", 0));
    snprintf(p, sizeof(p), "%s/tmp/%s.meta", cfg.store_dir, busy);
    int w = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    T_ASSERT(w >= 0 && flock(w, LOCK_EX) == 0);
    T_EXPECT_INT(t_list_n(s, "s1"), 1);
    size_t removed = 0;
    uint64_t bytes = 0;
    T_EXPECT_INT(store_gc(s, &removed, &bytes, NULL, &e), E_OK);
    T_EXPECT_INT(t_count(&cfg, "sessions/s1"), 2); /* a's and the busy writer's */
    T_EXPECT_INT(removed, 0);
    close(w);
    store_test_set_skew(s, cfg.ttl_session_s + 2);
    T_EXPECT_INT(store_gc(s, &removed, &bytes, NULL, &e), E_OK);
    T_EXPECT_INT(removed, 2); /* a, and the dead writer's temp file */
    T_EXPECT_INT(t_count(&cfg, "sessions"), 0);
    T_EXPECT_INT(t_count(&cfg, "meta"), 0);
    store_free(s);
}

static const struct t_case t_store_cases[] = {
    {"put_stat_open_copy", t_store_put_stat_open_copy},
    {"list_rm", t_store_list_rm},
    {"expiry_skew", t_store_expiry_skew},
    {"expiry_real_clock", t_store_expiry_real_clock, .fork = true, .timeout_s = 15},
    {"session_quota", t_store_session_quota},
    {"bad_args", t_store_bad_args},
    {"concurrent_writers", t_store_concurrent_writers, .fork = true, .timeout_s = 90},
    {"kill9_mid_write", t_store_kill9_mid_write, .fork = true, .timeout_s = 90},
    {"gc_orphans", t_store_gc_orphans},
    {"gc_scratch", t_store_gc_scratch, .fork = true},
    {"opportunistic_gc", t_store_opportunistic_gc},
    {"outputs_hard_links", t_store_outputs_hard_links},
    {"outputs_hard_links_cap", t_store_outputs_hard_links_cap},
    {"session_index", t_store_session_index},
    {"session_index_gc", t_store_session_index_gc},
    {0},
};

T_SUITE(store, t_store_cases)
