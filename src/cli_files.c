#include "cli.h"

#include <stdio.h>

#include "banned.h"

int cli_files(const struct config *cfg, int argc, char **argv)
{
    (void)cfg, (void)argc, (void)argv;
    fprintf(stderr, "kiln files: not yet available\n");
    return CLI_FAILED;
}

int cli_gc(const struct config *cfg, int argc, char **argv)
{
    (void)cfg, (void)argc, (void)argv;
    fprintf(stderr, "kiln gc: not yet available\n");
    return CLI_FAILED;
}
