#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "fetch.h"
#include "fetch_int.h"

/* ---- the loopback test server (tests/helpers/httpd.py) ------------------ */

struct srv {
    pid_t pid;
    int port;
    char log[4096];
};

static const char *srv_script(void)
{
    static const char *const cands[] = {"tests/helpers/httpd.py", "../tests/helpers/httpd.py",
                                        "../../tests/helpers/httpd.py"};
    const char *dir = getenv("KILN_SRC_DIR");
    static char buf[4096];
    if (dir && *dir) {
        snprintf(buf, sizeof(buf), "%s/tests/helpers/httpd.py", dir);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], R_OK) == 0)
            return cands[i];
    return NULL;
}

static bool srv_start(struct srv *s)
{
    const char *script = srv_script();
    int pfd[2];
    memset(s, 0, sizeof(*s));
    s->pid = -1;
    if (!script || access("/usr/bin/python3", X_OK) != 0)
        return false;
    snprintf(s->log, sizeof(s->log), "%s/httpd.log", t_tmpdir());
    if (pipe(pfd) != 0)
        return false;
    s->pid = fork();
    if (s->pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        close(pfd[1]);
        execl("/usr/bin/python3", "python3", script, s->log, "--v6", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[32] = "";
    size_t n = 0;
    while (n + 1 < sizeof(line)) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t r = read(pfd[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(pfd[0]);
    s->port = (int)strtol(line, NULL, 10);
    return s->port > 0;
}

static void srv_stop(struct srv *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = -1;
    }
}

/* Lines of the server log starting with prefix ("GET ", "CONN "). */
static int srv_count(const struct srv *s, const char *prefix)
{
    char *text = t_read_file(s->log, NULL);
    int n = 0;
    if (!text)
        return -1;
    for (char *p = text; *p;) {
        if (!strncmp(p, prefix, strlen(prefix)))
            n++;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    free(text);
    return n;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A config that allows exactly 127.0.0.1:port (0: nothing). */
static void test_cfg(struct config *cfg, int port)
{
    struct err e;
    char allow[64];
    config_defaults(cfg);
    cfg->fetch_connect_ms = 3000;
    cfg->fetch_total_ms = 10000;
    if (port > 0) {
        snprintf(allow, sizeof(allow), "127.0.0.1:%d", port);
        T_EXPECT_INT(config_add_allow(cfg, allow, &e), E_OK);
    }
}

static int out_fd(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", t_tmpdir(), name);
    return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static off_t fd_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_size : -1;
}

/* Fetch http://127.0.0.1:PORT<path>; returns the code, fills info and err. */
static enum err_code get(const struct config *cfg, const struct srv *s, const char *path, int fd,
                         size_t max, long timeout_ms, struct fetch_info *info, struct err *e)
{
    char url[2048];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
    memset(info, 0, sizeof(*info));
    err_clear(e);
    return fetch_url(cfg, url, fd, max, timeout_ms, info, e);
}

/* Copy tmpl to out with every "%d" replaced by port. */
static void fill_port(char *out, size_t out_len, const char *tmpl, int port)
{
    size_t o = 0;
    for (const char *p = tmpl; *p && o + 1 < out_len; p++) {
        if (p[0] == '%' && p[1] == 'd') {
            int n = snprintf(out + o, out_len - o, "%d", port);
            if (n < 0 || (size_t)n >= out_len - o)
                break;
            o += (size_t)n;
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

#define START_SERVER(s)                                                                            \
    do {                                                                                           \
        if (!srv_start(&(s))) {                                                                    \
            srv_stop(&(s));                                                                        \
            t_skip("cannot start tests/helpers/httpd.py with /usr/bin/python3");                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* ---- pure pieces ---------------------------------------------------------- */

static void t_fetch_classifier(void)
{
    static const struct {
        const char *ip;
        bool blocked;
        const char *why; /* substring of the reason */
    } tab[] = {
        {"8.8.8.8", false, NULL},
        {"1.1.1.1", false, NULL},
        {"93.184.216.34", false, NULL},
        {"2606:4700::1", false, NULL},
        {"2a00:1450:4001::200e", false, NULL},
        {"::ffff:8.8.8.8", false, NULL},
        {"64:ff9b::808:808", false, NULL},
        {"2002:808:808::1", false, NULL},
        {"172.15.255.255", false, NULL},
        {"172.32.0.0", false, NULL},
        {"100.63.255.255", false, NULL},
        {"100.128.0.0", false, NULL},
        {"198.20.0.1", false, NULL},
        {"223.255.255.255", false, NULL},
        {"127.0.0.1", true, "loopback"},
        {"127.255.255.254", true, "loopback"},
        {"0.0.0.0", true, "unspecified"},
        {"0.1.2.3", true, "unspecified"},
        {"10.0.0.1", true, "private"},
        {"172.16.0.1", true, "private"},
        {"172.31.255.255", true, "private"},
        {"192.168.1.1", true, "private"},
        {"169.254.169.254", true, "link-local"},
        {"169.254.0.1", true, "link-local"},
        {"100.64.0.1", true, "carrier-grade NAT"},
        {"100.127.255.255", true, "carrier-grade NAT"},
        {"224.0.0.1", true, "multicast"},
        {"239.255.255.250", true, "multicast"},
        {"240.0.0.1", true, "reserved"},
        {"255.255.255.255", true, "broadcast"},
        {"192.0.0.8", true, "reserved"},
        {"192.0.2.1", true, "documentation"},
        {"198.18.0.1", true, "benchmarking"},
        {"198.19.255.255", true, "benchmarking"},
        {"198.51.100.7", true, "documentation"},
        {"203.0.113.9", true, "documentation"},
        {"::1", true, "loopback"},
        {"::", true, "unspecified"},
        {"fe80::1", true, "link-local"},
        {"febf::1", true, "link-local"},
        {"fec0::1", true, "site-local"},
        {"fc00::1", true, "private"},
        {"fd12:3456::1", true, "private"},
        {"ff02::1", true, "multicast"},
        {"2001:db8::1", true, "documentation"},
        {"2001::1", true, "Teredo"},
        {"::ffff:127.0.0.1", true, "IPv4-mapped 127.0.0.1 (loopback)"},
        {"::ffff:7f00:1", true, "loopback"},
        {"::ffff:10.1.2.3", true, "private"},
        {"::ffff:169.254.169.254", true, "link-local"},
        {"::127.0.0.1", true, "IPv4-compatible"},
        {"::8.8.8.8", true, "IPv4-compatible"},
        {"64:ff9b::7f00:1", true, "NAT64 127.0.0.1 (loopback)"},
        {"64:ff9b::a00:1", true, "private"},
        {"64:ff9b:1::1", true, "NAT64"},
        {"2002:7f00:1::1", true, "6to4 127.0.0.1"},
        {"2002:a9fe:a9fe::", true, "link-local"},
        {"::ffff:0:7f00:1", true, "loopback"},
        {"100::1", true, "reserved"},
        {"4000::1", true, "reserved"},
        {"not-an-ip", true, "not an address"},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        char why[160] = "";
        bool b = fetch_ip_literal_blocked(tab[i].ip, why, sizeof(why));
        if (b != tab[i].blocked)
            t_fail(__FILE__, __LINE__, "%s: blocked=%d, expected %d (%s)", tab[i].ip, b,
                   tab[i].blocked, why);
        if (tab[i].why && !strstr(why, tab[i].why))
            t_fail(__FILE__, __LINE__, "%s: reason '%s' lacks '%s'", tab[i].ip, why, tab[i].why);
    }
    /* The sockaddr entry point agrees. */
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
    T_EXPECT(fetch_addr_blocked((struct sockaddr *)&s4, NULL, 0));
    inet_pton(AF_INET, "8.8.4.4", &s4.sin_addr);
    T_EXPECT(!fetch_addr_blocked((struct sockaddr *)&s4, NULL, 0));
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:192.168.0.1", &s6.sin6_addr);
    T_EXPECT(fetch_addr_blocked((struct sockaddr *)&s6, NULL, 0));
    struct sockaddr su = {.sa_family = AF_UNIX};
    T_EXPECT(fetch_addr_blocked(&su, NULL, 0));
}

static void t_fetch_noncanonical(void)
{
    static const char *const bad[] = {"2130706433", "0x7f000001", "0X7F000001", "0177.0.0.1",
                                      "127.1",      "127.0.1",    "127.0.0.1.", "0x7f.1",
                                      "999.1.1.1",  "1.2.3.4.5",  "01.2.3.4",   "example.1",
                                      "0x",         "0"};
    static const char *const good[] = {
        "127.0.0.1",       "8.8.8.8",      "example.com",  "a1.example",
        "1.2.3.4.example", "example.com.", "0x7f.example", "1e5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (!fetch_host_noncanonical_ipv4(bad[i]))
            t_fail(__FILE__, __LINE__, "'%s' should be non-canonical IPv4", bad[i]);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (fetch_host_noncanonical_ipv4(good[i]))
            t_fail(__FILE__, __LINE__, "'%s' wrongly called non-canonical IPv4", good[i]);
}

static void t_fetch_names(void)
{
    char out[256];
    fetch_path_file_name("/a/b/data%20set.csv", out, sizeof(out));
    T_EXPECT_STR(out, "data set.csv");
    fetch_path_file_name("/a/b/", out, sizeof(out));
    T_EXPECT_STR(out, "b");
    fetch_path_file_name("/", out, sizeof(out));
    T_EXPECT_STR(out, "");
    fetch_path_file_name("", out, sizeof(out));
    T_EXPECT_STR(out, "");
    fetch_path_file_name("/x/a%2Fb%00c.csv", out, sizeof(out)); /* NUL cut it: "a_b" */
    T_EXPECT_STR(out, "a_b_c.csv");
    /* bytes that are not UTF-8 and C1 controls (U+0085, U+009B: a
     * terminal's CSI) become '_' (they were kept) */
    fetch_path_file_name("/%FF%FE.csv", out, sizeof(out));
    T_EXPECT_STR(out, "__.csv");
    fetch_path_file_name("/c%C2%85d%C2%9B2J.csv", out, sizeof(out));
    T_EXPECT_STR(out, "c_d_2J.csv");
    fetch_path_file_name("/%E2%82.csv", out, sizeof(out)); /* a cut sequence */
    T_EXPECT_STR(out, "__.csv");
    fetch_path_file_name("/%20%20sp.csv%20", out, sizeof(out));
    T_EXPECT_STR(out, "sp.csv");
    /* a long name keeps its extension (it was cut at 255 bytes) */
    char longp[1024];
    int lp = snprintf(longp, sizeof(longp), "/");
    for (int i = 0; i < 140; i++)
        lp += snprintf(longp + lp, sizeof(longp) - (size_t)lp, "%%C3%%A9"); /* 280 bytes */
    snprintf(longp + lp, sizeof(longp) - (size_t)lp, ".csv");
    fetch_path_file_name(longp, out, sizeof(out));
    T_EXPECT_INT((long long)strlen(out), 254); /* 125 whole characters, then ".csv" */
    T_EXPECT_STR(out + 250, ".csv");
    T_EXPECT(!strncmp(out, "\xc3\xa9\xc3\xa9", 4));
    fetch_path_file_name("/x/..", out, sizeof(out));
    T_EXPECT_STR(out, "");
    fetch_path_file_name("/x/%2e%2e", out, sizeof(out));
    T_EXPECT_STR(out, "");
    fetch_path_file_name("/r%C3%A9sum%C3%A9.xlsx", out, sizeof(out));
    T_EXPECT_STR(out, "r\xc3\xa9sum\xc3\xa9.xlsx");
    fetch_path_file_name("/bad%zz%4", out, sizeof(out));
    T_EXPECT_STR(out, "bad%zz%4");
    char small[4];
    fetch_path_file_name("/abcdefgh", small, sizeof(small));
    T_EXPECT_STR(small, "abc");
    fetch_path_file_name("/ab%C3%A9", small, sizeof(small));
    T_EXPECT_STR(small, "ab");

    fetch_disposition_name("attachment; filename=\"report.csv\"", out, sizeof(out));
    T_EXPECT_STR(out, "report.csv");
    fetch_disposition_name("attachment; filename=plain.txt ; size=3", out, sizeof(out));
    T_EXPECT_STR(out, "plain.txt");
    fetch_disposition_name("attachment; filename=\"../../etc/report 2024.csv\"", out, sizeof(out));
    T_EXPECT_STR(out, "report 2024.csv");
    fetch_disposition_name("attachment; filename=\"C:\\\\temp\\\\x.csv\"", out, sizeof(out));
    T_EXPECT_STR(out, "x.csv");
    fetch_disposition_name("attachment; filename=\"fallback.csv\"; "
                           "filename*=UTF-8''na%C3%AFve%20file.csv",
                           out, sizeof(out));
    T_EXPECT_STR(out, "na\xc3\xafve file.csv");
    fetch_disposition_name("attachment; FILENAME*=iso-8859-1'en'caf%E9.txt", out, sizeof(out));
    T_EXPECT_STR(out, "caf\xc3\xa9.txt");
    fetch_disposition_name("attachment; filename=\"a \\\"q\\\" b.txt\"", out, sizeof(out));
    T_EXPECT_STR(out, "a \"q\" b.txt");
    fetch_disposition_name("inline", out, sizeof(out));
    T_EXPECT_STR(out, "");
    fetch_disposition_name("attachment; filename=\"..\"", out, sizeof(out));
    T_EXPECT_STR(out, "");
    fetch_disposition_name("attachment; name=x; filename", out, sizeof(out));
    T_EXPECT_STR(out, "");
}

/* Refusals that need no server: nothing is resolved or connected. */
static void t_fetch_scheme_and_syntax(void)
{
    static const struct {
        const char *url;
        enum err_code code;
        const char *msg;
    } tab[] = {
        {"ftp://example.com/x", E_BLOCKED, "scheme 'ftp'"},
        {"file:///etc/passwd", E_BLOCKED, "scheme 'file'"},
        {"gopher://example.com/", E_BLOCKED, "scheme 'gopher'"},
        {"dict://example.com:11211/stat", E_BLOCKED, "scheme 'dict'"},
        {"javascript://x/%0aalert(1)", E_BLOCKED, "scheme"},
        {"FTP://example.com/", E_BLOCKED, "not allowed"},
        /* schemes curl cannot parse: refused by name (read malformed) */
        {"data:text/csv;base64,YSxiCjEsMgo=", E_BLOCKED, "scheme 'data'"},
        {"data:,a%2Cb", E_BLOCKED, "scheme 'data'"},
        {"javascript:alert(1)", E_BLOCKED, "scheme 'javascript'"},
        {"mailto:a@example.com", E_BLOCKED, "scheme 'mailto'"},
        {"about:blank", E_BLOCKED, "scheme 'about'"},
        {"urn:isbn:123", E_BLOCKED, "scheme 'urn'"},
        {"example.com:8080/file.csv", E_INVALID, "malformed URL"},
        {"not a url", E_INVALID, "malformed URL"},
        {"example.com/file.csv", E_INVALID, "malformed URL"},
        {"http://", E_INVALID, "malformed URL"},
        {"http:///etc/passwd", E_INVALID, "no host"},
        {"http://exa mple.com/", E_INVALID, "malformed URL"},
        {"http://a\\@127.0.0.1/", E_INVALID, "backslash"},
        {"http://example.com/\x01", E_INVALID, "control"},
        {"", E_INVALID, "empty"},
        {"http://user:pw@example.com/", E_BLOCKED, "user info"},
        {"http://example.com@127.0.0.1/", E_BLOCKED, "user info"},
        {"http://%31%32%37.0.0.1/", E_INVALID, "percent-encoded host"},
        {"http://[fe80::1%25eth0]/", E_BLOCKED, "zone"},
        {"http://m\xc3\xbcnchen.example/", E_INVALID, "xn--"},
        {"http://example.com:99999/", E_INVALID, "malformed URL"},
        {"http://localhost/", E_BLOCKED, "loopback"},
        {"http://foo.localhost./", E_BLOCKED, "loopback"},
    };
    struct config cfg;
    test_cfg(&cfg, 0);
    int fd = out_fd("out");
    T_ASSERT(fd >= 0);
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        struct fetch_info info;
        struct err e;
        err_clear(&e);
        long t0 = now_ms();
        enum err_code rc = fetch_url(&cfg, tab[i].url, fd, 1000, 5000, &info, &e);
        if (rc != tab[i].code || !strstr(e.msg, tab[i].msg))
            t_fail(__FILE__, __LINE__, "'%s': got %s '%s', expected %s with '%s'", tab[i].url,
                   err_name(rc), e.msg, err_name(tab[i].code), tab[i].msg);
        T_EXPECT(now_ms() - t0 < 1000);
    }
    /* Longer than LIM_URL_LEN. */
    size_t n = LIM_URL_LEN + 10;
    char *url = malloc(n + 1);
    T_ASSERT(url);
    memcpy(url, "http://example.com/", 19);
    memset(url + 19, 'a', n - 19);
    url[n] = '\0';
    struct fetch_info info;
    struct err e;
    T_EXPECT_INT(fetch_url(&cfg, url, fd, 1000, 5000, &info, &e), E_INVALID);
    T_EXPECT_CONTAINS(e.msg, "longer than");
    free(url);
    T_EXPECT_INT(fd_size(fd), 0);
    close(fd);
}

/* ---- against the loopback server ---------------------------------------- */

static void t_fetch_ok(void)
{
    struct srv s;
    START_SERVER(s);
    struct config cfg;
    test_cfg(&cfg, s.port);
    int fd = out_fd("ok");
    struct fetch_info info;
    struct err e;
    T_EXPECT_INT(get(&cfg, &s, "/ok?x=1", fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_INT(info.status, 200);
    T_EXPECT_STR(info.content_type, "text/csv");
    T_EXPECT_STR(info.file_name, "ok");
    T_EXPECT_STR(info.disposition_name, "");
    T_EXPECT_INT(info.size, 11);
    T_EXPECT_INT(info.redirects, 0);
    T_EXPECT_INT(fd_size(fd), 11);
    char buf[64] = "";
    T_EXPECT_INT(pread(fd, buf, sizeof(buf) - 1, 0), 11);
    T_EXPECT_STR(buf, "hello kiln\n");
    T_EXPECT_INT(srv_count(&s, "GET /ok?x=1"), 1);

    /* Written from the fd's current offset. */
    T_EXPECT_INT(get(&cfg, &s, "/ok", fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_INT(fd_size(fd), 22);

    /* Exactly the cap is fine; the path's last segment is decoded. */
    T_EXPECT_INT(get(&cfg, &s, "/big?n=1000&cl=0", fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_INT(info.size, 1000);
    T_EXPECT_INT(get(&cfg, &s, "/files/data%20set.csv", fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_STR(info.file_name, "data set.csv");
    T_EXPECT_INT(get(&cfg, &s,
                     "/disp?v=attachment%3B%20filename%3D%22..%2F..%2Fetc%2Freport%20"
                     "2024.csv%22",
                     fd, 1000, 5000, &info, &e),
                 E_OK);
    T_EXPECT_STR(info.disposition_name, "report 2024.csv");
    T_EXPECT_STR(info.file_name, "disp");
    close(fd);
    srv_stop(&s);
}

static void t_fetch_http_errors(void)
{
    struct srv s;
    START_SERVER(s);
    struct config cfg;
    test_cfg(&cfg, s.port);
    int fd = out_fd("err");
    struct fetch_info info;
    struct err e;
    T_EXPECT_INT(get(&cfg, &s, "/status/404?token=SEKRET", fd, 1000, 5000, &info, &e), E_FETCH);
    T_EXPECT_CONTAINS(e.msg, "HTTP 404 from '127.0.0.1'");
    T_EXPECT(!strstr(e.msg, "SEKRET"));
    T_EXPECT_INT(get(&cfg, &s, "/status/500", fd, 1000, 5000, &info, &e), E_FETCH);
    T_EXPECT_CONTAINS(e.msg, "HTTP 500");
    T_EXPECT_INT(fd_size(fd), 0); /* error bodies are not the file */

    /* https to a plain-HTTP server: a TLS failure. */
    char url[256];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/ok", s.port);
    T_EXPECT_INT(fetch_url(&cfg, url, fd, 1000, 5000, &info, &e), E_FETCH);
    T_EXPECT_CONTAINS(e.msg, "127.0.0.1/ok");

    /* Connection refused on an allowlisted but closed port. */
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    T_ASSERT(sock >= 0 && bind(sock, (struct sockaddr *)&a, sizeof(a)) == 0);
    T_ASSERT(getsockname(sock, (struct sockaddr *)&a, &alen) == 0);
    int closed = ntohs(a.sin_port);
    close(sock);
    struct config cfg2;
    test_cfg(&cfg2, closed);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", closed);
    T_EXPECT_INT(fetch_url(&cfg2, url, fd, 1000, 5000, &info, &e), E_FETCH);
    T_EXPECT_CONTAINS(e.msg, "cannot fetch '127.0.0.1/x'");
    close(fd);
    srv_stop(&s);
}

static void t_fetch_redirects(void)
{
    struct srv s;
    START_SERVER(s);
    struct config cfg;
    test_cfg(&cfg, s.port);
    T_EXPECT_INT(cfg.max_redirects, 5);
    int fd = out_fd("redir");
    struct fetch_info info;
    struct err e;
    T_EXPECT_INT(get(&cfg, &s, "/redir/1", fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_INT(info.redirects, 1);
    T_EXPECT_STR(info.file_name, "0");
    T_EXPECT_INT(info.size, 13);
    T_EXPECT_INT(fd_size(fd), 13); /* the redirect's own body was not written */
    T_EXPECT_INT(get(&cfg, &s, "/redir/5", fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_INT(info.redirects, 5);
    T_EXPECT_INT(fd_size(fd), 26);

    int before = srv_count(&s, "GET ");
    T_EXPECT_INT(get(&cfg, &s, "/redir/6", fd, 1000, 5000, &info, &e), E_FETCH);
    T_EXPECT_CONTAINS(e.msg, "too many redirects");
    T_EXPECT_INT(srv_count(&s, "GET ") - before, 6);

    /* A redirect's body is not the input: not read, whatever its size. */
    T_EXPECT_INT(get(&cfg, &s, "/to?u=/ok&body=100000", fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_INT(info.redirects, 1);
    T_EXPECT_INT(fd_size(fd), 26 + 11);
    /* Two Content-Length headers that differ: which is the body's? (the
     * file was cut to the second); two that agree are one. */
    T_EXPECT_INT(get(&cfg, &s, "/twolen?a=8&b=4", fd, 1000, 5000, &info, &e), E_FETCH);
    T_EXPECT_CONTAINS(e.msg, "two different Content-Length headers");
    T_EXPECT_INT(get(&cfg, &s, "/twolen?a=4&b=4", fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_INT(info.size, 4);
    /* A Location past the URL limit: the server's fault, said so. */
    char big[64];
    snprintf(big, sizeof(big), "/to?u=/files/&pad=%d", LIM_URL_LEN);
    T_EXPECT_INT(get(&cfg, &s, big, fd, 1000, 5000, &info, &e), E_FETCH);
    T_EXPECT_CONTAINS(e.msg, "redirect from '127.0.0.1/to'");
    T_EXPECT_CONTAINS(e.msg, "longer than");

    /* max_redirects = 0: no redirect at all is followed. */
    cfg.max_redirects = 0;
    before = srv_count(&s, "GET ");
    T_EXPECT_INT(get(&cfg, &s, "/redir/1", fd, 1000, 5000, &info, &e), E_FETCH);
    T_EXPECT_CONTAINS(e.msg, "too many redirects");
    T_EXPECT_INT(srv_count(&s, "GET ") - before, 1);
    close(fd);
    srv_stop(&s);
}

/* A redirect to a refused target stops before any connection to it. */
static void t_fetch_redirect_blocked(void)
{
    struct srv s;
    START_SERVER(s);
    struct config cfg;
    test_cfg(&cfg, s.port);
    int fd = out_fd("rb");
    char target[256], path[512];
    const char *const targets[] = {
        "http://127.0.0.2:%d/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:%d/x",
        "http://[::1]:%d/x",
        "http://2130706433:%d/x",
        "ftp://127.0.0.1:%d/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:%d/x",
        "http://10.0.0.1/",
        "dict://127.0.0.1:%d/x",
        "data:,x",
        "mailto:a@example.com",
        /* a Location that is no URL is the server's fault: FETCH_FAILED,
         * not INVALID_REQUEST (as if the caller's URL were bad) */
        "http:/127.0.0.1:%d/x",
        "http://127.0.0.1%3A%d/x",
        "\\127.0.0.1:%d/x",
    };
    const enum err_code codes[] = {E_BLOCKED, E_BLOCKED, E_BLOCKED, E_BLOCKED, E_BLOCKED,
                                   E_BLOCKED, E_BLOCKED, E_BLOCKED, E_BLOCKED, E_BLOCKED,
                                   E_BLOCKED, E_BLOCKED, E_FETCH,   E_FETCH,   E_FETCH};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        struct fetch_info info;
        struct err e;
        fill_port(target, sizeof(target), targets[i], s.port);
        /* percent-encode ':' '/' '[' ']' for the query */
        char enc[768];
        size_t o = 0;
        for (const char *p = target; *p && o + 4 < sizeof(enc); p++) {
            if (strchr(":/[]?&=%\\", *p))
                o += (size_t)snprintf(enc + o, sizeof(enc) - o, "%%%02X", (unsigned char)*p);
            else
                enc[o++] = *p;
        }
        enc[o] = '\0';
        snprintf(path, sizeof(path), "/to?u=%s", enc);
        int before_get = srv_count(&s, "GET ");
        int before_conn = srv_count(&s, "CONN ");
        enum err_code rc = get(&cfg, &s, path, fd, 1000, 5000, &info, &e);
        if (rc != codes[i] || !strstr(e.msg, "redirect from '127.0.0.1/to'"))
            t_fail(__FILE__, __LINE__, "redirect to '%s': got %s '%s'", target, err_name(rc),
                   e.msg);
        T_EXPECT_INT(srv_count(&s, "GET ") - before_get, 1);
        T_EXPECT_INT(srv_count(&s, "CONN ") - before_conn, 1);
    }
    T_EXPECT_INT(fd_size(fd), 0);
    close(fd);
    srv_stop(&s);
}

static void t_fetch_slow(void)
{
    struct srv s;
    START_SERVER(s);
    struct config cfg;
    test_cfg(&cfg, s.port);
    int fd = out_fd("slow");
    struct fetch_info info;
    struct err e;
    long t0 = now_ms();
    T_EXPECT_INT(get(&cfg, &s, "/slow", fd, 1000000, 700, &info, &e), E_FETCH);
    long dt = now_ms() - t0;
    T_EXPECT(dt >= 600 && dt < 3000);
    T_EXPECT_CONTAINS(e.msg, "cannot fetch '127.0.0.1/slow'");
    T_EXPECT_CONTAINS(e.msg, "imeout");
    /* The config's total cap applies when the caller's is larger. */
    cfg.fetch_total_ms = 500;
    t0 = now_ms();
    T_EXPECT_INT(get(&cfg, &s, "/slow", fd, 1000000, 60000, &info, &e), E_FETCH);
    dt = now_ms() - t0;
    T_EXPECT(dt >= 400 && dt < 3000);
    close(fd);
    srv_stop(&s);
}

static void t_fetch_too_large(void)
{
    struct srv s;
    START_SERVER(s);
    struct config cfg;
    test_cfg(&cfg, s.port);
    struct fetch_info info;
    struct err e;
    /* Announced by Content-Length: refused before the body. */
    int fd = out_fd("big1");
    T_EXPECT_INT(get(&cfg, &s, "/big?n=5000000&cl=1", fd, 1000, 5000, &info, &e), E_TOO_LARGE);
    T_EXPECT_CONTAINS(e.msg, "download of '127.0.0.1/big' exceeds the limit of 1000 bytes");
    T_EXPECT(!strstr(e.msg, "n=5000000"));
    T_EXPECT_INT(fd_size(fd), 0);
    close(fd);
    /* No Content-Length: stopped once past the cap. */
    fd = out_fd("big2");
    long t0 = now_ms();
    T_EXPECT_INT(get(&cfg, &s, "/big?n=50000000&cl=0", fd, 100000, 5000, &info, &e), E_TOO_LARGE);
    T_EXPECT(now_ms() - t0 < 3000);
    T_EXPECT_CONTAINS(e.msg, "exceeds the limit of 100000 bytes");
    off_t sz = fd_size(fd);
    T_EXPECT(sz >= 0 && sz <= 100000 + 16384);
    close(fd);
    /* One byte over. */
    fd = out_fd("big3");
    T_EXPECT_INT(get(&cfg, &s, "/big?n=1001&cl=0", fd, 1000, 5000, &info, &e), E_TOO_LARGE);
    T_EXPECT(fd_size(fd) <= 1000);
    close(fd);
    srv_stop(&s);
}

/* Every notation of a refused address: E_BLOCKED, fast, and the server
 * (listening on 127.0.0.1 and ::1) sees no connection at all. */
static void t_fetch_ssrf_notations(void)
{
    struct srv s;
    START_SERVER(s);
    struct config cfg;
    test_cfg(&cfg, 0); /* nothing allowlisted */
    static const char *const urls[] = {
        "http://localhost:%d/",
        "http://127.0.0.1:%d/",
        "http://2130706433:%d/",
        "http://0x7f000001:%d/",
        "http://0177.0.0.1:%d/",
        "http://127.1:%d/",
        "http://127.0.0.1.:%d/",
        "http://[::1]:%d/",
        "http://[::ffff:127.0.0.1]:%d/",
        "http://[::ffff:7f00:1]:%d/",
        "http://0.0.0.0:%d/",
        "http://[::]:%d/",
        "http://LOCALHOST:%d/",
        "http://[0:0:0:0:0:0:0:1]:%d/",
        "http://169.254.169.254/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://224.0.0.1/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://[2001::1]/",
        "http://255.255.255.255/",
        "https://10.1.2.3/",
    };
    int fd = out_fd("ssrf");
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char url[256];
        struct fetch_info info;
        struct err e;
        fill_port(url, sizeof(url), urls[i], s.port);
        err_clear(&e);
        long t0 = now_ms();
        enum err_code rc = fetch_url(&cfg, url, fd, 1000, 5000, &info, &e);
        long dt = now_ms() - t0;
        if (rc != E_BLOCKED)
            t_fail(__FILE__, __LINE__, "'%s': got %s '%s', expected E_BLOCKED", url, err_name(rc),
                   e.msg);
        if (dt > 500)
            t_fail(__FILE__, __LINE__, "'%s': refusal took %ld ms", url, dt);
        if (!e.msg[0])
            t_fail(__FILE__, __LINE__, "'%s': empty message", url);
    }
    /* Messages name the host and the reason. */
    struct fetch_info info;
    struct err e;
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
    fetch_url(&cfg, url, fd, 1000, 5000, &info, &e);
    T_EXPECT_STR(e.msg, "address 127.0.0.1 of '127.0.0.1' is loopback");
    fetch_url(&cfg, "http://169.254.169.254/latest/?k=v", fd, 1000, 5000, &info, &e);
    T_EXPECT_STR(e.msg, "address 169.254.169.254 of '169.254.169.254' is link-local");
    snprintf(url, sizeof(url), "http://0x7f000001:%d/", s.port);
    fetch_url(&cfg, url, fd, 1000, 5000, &info, &e);
    T_EXPECT_CONTAINS(e.msg, "'0x7f000001' uses a non-canonical IPv4 notation");
    snprintf(url, sizeof(url), "http://[::ffff:7f00:1]:%d/", s.port);
    fetch_url(&cfg, url, fd, 1000, 5000, &info, &e);
    T_EXPECT_CONTAINS(e.msg, "loopback");
    T_EXPECT_CONTAINS(e.msg, "'::ffff:7f00:1'");

    /* Allowlisting one port does not allow other ports or notations. */
    test_cfg(&cfg, s.port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port + 1 > 65535 ? 1 : s.port + 1);
    T_EXPECT_INT(fetch_url(&cfg, url, fd, 1000, 5000, &info, &e), E_BLOCKED);
    snprintf(url, sizeof(url), "http://2130706433:%d/ok", s.port);
    T_EXPECT_INT(fetch_url(&cfg, url, fd, 1000, 5000, &info, &e), E_BLOCKED);
    snprintf(url, sizeof(url), "http://localhost:%d/ok", s.port);
    T_EXPECT_INT(fetch_url(&cfg, url, fd, 1000, 5000, &info, &e), E_BLOCKED);
    snprintf(url, sizeof(url), "http://user@127.0.0.1:%d/ok", s.port);
    T_EXPECT_INT(fetch_url(&cfg, url, fd, 1000, 5000, &info, &e), E_BLOCKED);

    T_EXPECT_INT(srv_count(&s, "CONN "), 0);
    T_EXPECT_INT(srv_count(&s, "GET "), 0);
    T_EXPECT_INT(fd_size(fd), 0);
    close(fd);
    srv_stop(&s);
}

/* An allowlisted name is resolved and pinned (IPv4 and IPv6 addresses). */
static void t_fetch_allow_by_name(void)
{
    struct srv s;
    START_SERVER(s);
    struct config cfg;
    struct err e;
    test_cfg(&cfg, 0);
    char allow[64], url[256];
    snprintf(allow, sizeof(allow), "localhost:%d", s.port);
    T_ASSERT(config_add_allow(&cfg, allow, &e) == E_OK);
    struct fetch_target t;
    snprintf(url, sizeof(url), "http://localhost:%d/ok?secret=1", s.port);
    T_EXPECT_INT(fetch_check_url(&cfg, url, &t, &e), E_OK);
    T_EXPECT(t.allowed);
    T_EXPECT(!t.literal);
    T_EXPECT(t.n_addrs >= 1);
    T_EXPECT_STR(t.label, "localhost/ok");
    T_EXPECT_INT(t.port, s.port);
    /* The pinned set: 127.0.0.1 on this port only, nothing else. */
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
    inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
    T_EXPECT(fetch_addr_pinned(&t, (struct sockaddr *)&a4));
    a4.sin_port = htons((uint16_t)(s.port == 65535 ? 1 : s.port + 1));
    T_EXPECT(!fetch_addr_pinned(&t, (struct sockaddr *)&a4));
    a4.sin_port = htons((uint16_t)s.port);
    inet_pton(AF_INET, "127.0.0.2", &a4.sin_addr);
    T_EXPECT(!fetch_addr_pinned(&t, (struct sockaddr *)&a4));
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)s.port)};
    inet_pton(AF_INET6, "::ffff:10.0.0.1", &a6.sin6_addr);
    T_EXPECT(!fetch_addr_pinned(&t, (struct sockaddr *)&a6));
    int fd = out_fd("name");
    struct fetch_info info;
    T_EXPECT_INT(fetch_url(&cfg, url, fd, 1000, 5000, &info, &e), E_OK);
    T_EXPECT_INT(info.size, 11);
    T_EXPECT_INT(srv_count(&s, "GET /ok"), 1);
    close(fd);
    srv_stop(&s);
}

static const struct t_case cases[] = {
    {"classifier", t_fetch_classifier},
    {"noncanonical_ipv4", t_fetch_noncanonical},
    {"file_names", t_fetch_names},
    {"scheme_and_syntax", t_fetch_scheme_and_syntax, .fork = true, .timeout_s = 20},
    {"ok", t_fetch_ok, .fork = true, .timeout_s = 30},
    {"http_errors", t_fetch_http_errors, .fork = true, .timeout_s = 30},
    {"redirects", t_fetch_redirects, .fork = true, .timeout_s = 30},
    {"redirect_blocked", t_fetch_redirect_blocked, .fork = true, .timeout_s = 30},
    {"slow", t_fetch_slow, .fork = true, .timeout_s = 30},
    {"too_large", t_fetch_too_large, .fork = true, .timeout_s = 30},
    {"ssrf_notations", t_fetch_ssrf_notations, .fork = true, .timeout_s = 30},
    {"allow_by_name", t_fetch_allow_by_name, .fork = true, .timeout_s = 30},
    {0},
};
T_SUITE(fetch, cases)
