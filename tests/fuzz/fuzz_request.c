/* libFuzzer entry: request JSON validation, base64, sniffing, names, allowlists. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "input.h"
#include "reqblob.h"
#include "router_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does the skeleton's value v (maybe a placeholder) equal the original o? */
static void fz_same_value(json_t *v, json_t *o)
{
    const char *p = NULL;
    size_t n = 0;
    if (!json_is_string(v) || !json_is_string(o))
        return;
    if (!reqblob_get(json_string_value(v), json_string_length(v), &p, &n)) {
        p = json_string_value(v);
        n = json_string_length(v);
    }
    if (n != json_string_length(o) || memcmp(p, json_string_value(o), n))
        abort();
}

/* The skeleton parses exactly when the text does, and its placeholders
 * resolve to the text's own values. */
static void fz_skeleton(const char *text, size_t size)
{
    size_t sk_len = 0;
    char *sk = reqblob_skeleton(text, size, &sk_len);
    if (sk) {
        json_t *a = json_loadb(sk, sk_len, JSON_REJECT_DUPLICATES, NULL);
        json_t *b = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
        if ((a == NULL) != (b == NULL))
            abort();
        json_t *aa = json_object_get(a, "arguments"), *ba = json_object_get(b, "arguments");
        fz_same_value(json_object_get(aa, "fileBase64"), json_object_get(ba, "fileBase64"));
        json_t *af = json_object_get(aa, "files"), *bf = json_object_get(ba, "files");
        for (size_t i = 0; i < json_array_size(af) && i < json_array_size(bf); i++)
            fz_same_value(json_object_get(json_array_get(af, i), "base64"),
                          json_object_get(json_array_get(bf, i), "base64"));
        json_decref(a);
        json_decref(b);
        free(sk);
    }
    reqblob_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err err;
    json_error_t jerr;
    json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (req) {
        const struct route_action *ra = NULL;
        json_t *args = NULL;
        route_check(req, &ra, &args, &err);
        json_decref(req);
    }
    fz_skeleton((const char *)data, size);
    unsigned char *out = NULL;
    size_t n = 0;
    if (input_b64_decode((const char *)data, size, 1 << 16, "fileBase64", &out, &n, &err) == E_OK)
        free(out);
    (void)input_sniff(data, size, "x.csv");
    (void)input_sniff(data, size, NULL);
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)input_check_name(s, "fileName", &err);
    (void)input_check_session(s, &err);
    struct config cfg;
    config_defaults(&cfg);
    (void)config_add_allow(&cfg, s, &err);
    free(s);
    return 0;
}
