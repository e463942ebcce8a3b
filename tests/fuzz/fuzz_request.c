/* libFuzzer entry: request JSON validation, base64, sniffing, names, allowlists. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "input.h"
#include "router_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
