/* cli_doctor: `kiln doctor [--json]`, which sandbox layers work on this host. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "sbx_doctor.h"

#include "banned.h"

int cli_doctor(const struct config *cfg, int argc, char **argv)
{
    (void)cfg;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: kiln doctor [--json]\n\n"
                   "Checks which sandbox layers work on this host by running a tiny sandbox "
                   "with each.\nExit status: 0 all layers work, 1 some do not.\n");
            return CLI_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
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
        cli_print_json(o, cli_color());
        json_decref(o);
    } else {
        sbx_doctor_text(&r, stdout);
    }
    return r.all_ok ? CLI_OK : CLI_FAILED;
}
