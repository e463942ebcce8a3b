/* cli_doctor: `kiln doctor [--json]`, which sandbox layers work on this host. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

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
                   "with each,\nand prints one line per layer (or a JSON object).\n\n"
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
    sbx_doctor_run(&r);
    if (json) {
        json_t *o = sbx_doctor_json(&r);
        if (!o) {
            fprintf(stderr, "kiln doctor: out of memory\n");
            return CLI_FAILED;
        }
        cli_print_json(o, pretty);
        json_decref(o);
    } else {
        sbx_doctor_text(&r, stdout);
    }
    return r.all_ok ? CLI_OK : CLI_FAILED;
}
