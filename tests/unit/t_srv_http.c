#include "harness.h"

#include <string.h>

#include "srv_http.h"

static void t_srv_parse_listen(void)
{
    char host[64];
    int port = -1;
    struct err e;
    T_EXPECT_INT(srv_http_parse_listen("127.0.0.1:8080", host, sizeof(host), &port, &e), E_OK);
    T_EXPECT_STR(host, "127.0.0.1");
    T_EXPECT_INT(port, 8080);
    T_EXPECT_INT(srv_http_parse_listen("[::1]:0", host, sizeof(host), &port, &e), E_OK);
    T_EXPECT_STR(host, "::1");
    T_EXPECT_INT(port, 0);
    T_EXPECT_INT(srv_http_parse_listen("localhost:65535", host, sizeof(host), &port, &e), E_OK);
    T_EXPECT_STR(host, "localhost");
    static const char *const bad[] = {"8080",    ":8080",   "1.2.3.4:", "1.2.3.4:65536", "::1:80",
                                      "[::1]80", "[::1]:x", "h:-1",     "h:80 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        port = 7;
        T_EXPECT_INT(srv_http_parse_listen(bad[i], host, sizeof(host), &port, &e), E_INVALID);
        T_EXPECT_INT(port, 7);
    }
}

static void t_srv_key_match(void)
{
    struct srv_http_key keys[2];
    T_EXPECT(srv_http_key_digest("alpha-key", 9, &keys[0]));
    T_EXPECT(srv_http_key_digest("beta-and-more", 4, &keys[1])); /* "beta" */
    T_EXPECT(srv_http_key_match(keys, 2, "alpha-key"));
    T_EXPECT(srv_http_key_match(keys, 2, "beta"));
    T_EXPECT(!srv_http_key_match(keys, 2, "alpha-ke"));
    T_EXPECT(!srv_http_key_match(keys, 2, "alpha-keyy"));
    T_EXPECT(!srv_http_key_match(keys, 2, "bet"));
    T_EXPECT(!srv_http_key_match(keys, 2, "beta-and-more"));
    T_EXPECT(!srv_http_key_match(keys, 2, ""));
    T_EXPECT(!srv_http_key_match(keys, 0, "beta"));
    struct srv_http_key none;
    T_EXPECT(!srv_http_key_digest("", 0, &none));
    /* the digest is SHA-256: checked against a known value */
    static const unsigned char abc[SRV_KEY_DIGEST] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    T_EXPECT(srv_http_key_digest("abc", 3, &none));
    T_EXPECT(!memcmp(none.d, abc, sizeof(abc)));
}

static void t_srv_content_disposition(void)
{
    char out[512];
    srv_http_content_disposition("report.html", out, sizeof(out));
    T_EXPECT_STR(out, "attachment; filename=\"report.html\"; filename*=UTF-8''report.html");
    srv_http_content_disposition("r\xc3\xa9sum\xc3\xa9 \"1\" 5%.csv", out, sizeof(out));
    T_EXPECT_STR(out, "attachment; filename=\"r__sum__ _1_ 5_.csv\"; "
                      "filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22%205%25.csv");
    srv_http_content_disposition("a\\b;c\r\n", out, sizeof(out));
    T_EXPECT_STR(out, "attachment; filename=\"a_b;c__\"; filename*=UTF-8''a%5Cb%3Bc%0D%0A");
    /* Truncation keeps the buffer terminated and never splits an escape. */
    char small[40];
    srv_http_content_disposition("\xc3\xa9\xc3\xa9\xc3\xa9", small, sizeof(small));
    T_EXPECT(strlen(small) < sizeof(small));
    T_EXPECT(small[strlen(small) - 1] != '%');
}

static const struct t_case cases[] = {
    {"parse_listen", t_srv_parse_listen},
    {"key_match", t_srv_key_match},
    {"content_disposition", t_srv_content_disposition},
    {0},
};
T_SUITE(srv_http, cases)
