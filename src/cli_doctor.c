/* cli_doctor: `kiln doctor [--json]`, which sandbox layers work on this host. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "lazylib.h"
#include "sbx_doctor.h"

#include "banned.h"

int cli_doctor(const struct config *cfg, int argc, char **argv)
{
    (void)cfg;
    bool json = false, pretty = cli_color();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: kiln doctor [--json [--pretty]]\n\n"
                   "Checks which sandbox layers work on this host by running a tiny sandbox "
                   "with each,\nand prints one line per layer (or a JSON object); also loads the "
                   "libraries\nkiln opens on first use (libcurl, libmicrohttpd).\n\n"
                   "options:\n"
                   "  --json               print the report as JSON\n"
                   "  --pretty             indent the JSON (the default on a terminal)\n\n"
                   "example:\n  kiln doctor --json --pretty\n\n"
                   "exit status: 0 ok (all layers work), 1 the action failed (some layer does "
                   "not work),\n2 usage error.\n");
            return CLI_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--pretty")) {
            pretty = true;
        } else {
            return cli_usage_error("doctor", "unknown argument '%s'", argv[i]);
        }
    }
    struct sbx_doctor_report r;
    sbx_doctor_run(&r, cfg);
    /* The libraries loaded on first use (URL inputs, kiln serve). */
    struct err lerr[2];
    bool lib_ok[2] = {lz_curl_load(&lerr[0]) == E_OK, lz_mhd_load(&lerr[1]) == E_OK};
    static const char *const lib_name[2] = {"libcurl", "libmicrohttpd"};
    if (json) {
        json_t *o = sbx_doctor_json(&r);
        json_t *libs = json_object();
        for (int i = 0; o && libs && i < 2; i++)
            json_object_set_new(libs, lib_name[i],
                                lib_ok[i]
                                    ? json_pack("{s:b}", "ok", 1)
                                    : json_pack("{s:b, s:s}", "ok", 0, "detail", lerr[i].msg));
        if (!o || !libs) {
            json_decref(o);
            json_decref(libs);
            fprintf(stderr, "kiln doctor: out of memory\n");
            return CLI_FAILED;
        }
        json_object_set_new(o, "libraries", libs);
        json_object_set_new(o, "ok", json_boolean(r.all_ok && lib_ok[0] && lib_ok[1]));
        cli_print_json(o, pretty);
        json_decref(o);
    } else {
        sbx_doctor_text(&r, stdout);
        printf("\nlibraries loaded on first use:\n");
        for (int i = 0; i < 2; i++)
            printf("  %-14s%s%s\n", lib_name[i],
                   lib_ok[i] ? "ok" : "FAILED: ", lib_ok[i] ? "" : lerr[i].msg);
    }
    return r.all_ok && lib_ok[0] && lib_ok[1] ? CLI_OK : CLI_FAILED;
}
