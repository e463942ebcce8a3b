/*
 * cli: the command-line verbs of SPEC §6. main() calls cli_main() and
 * exits with its status: 0 ok, 1 the action failed, 2 usage error.
 * Each verb lives in cli_<verb>.c and is registered in cli.c's table.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "config.h"

enum cli_status { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

int cli_main(int argc, char **argv);

/* Verbs: argv[0] is the verb name. */
int cli_run(const struct config *cfg, int argc, char **argv);
int cli_exec(const struct config *cfg, int argc, char **argv);
int cli_analyze(const struct config *cfg, int argc, char **argv);
int cli_parse_excel(const struct config *cfg, int argc, char **argv);
int cli_transform(const struct config *cfg, int argc, char **argv);
int cli_doctor(const struct config *cfg, int argc, char **argv);
int cli_files(const struct config *cfg, int argc, char **argv);
int cli_gc(const struct config *cfg, int argc, char **argv);
int cli_mcp(const struct config *cfg, int argc, char **argv);
int cli_schema(const struct config *cfg, int argc, char **argv);
int cli_serve(const struct config *cfg, int argc, char **argv);
int cli_batch(const struct config *cfg, int argc, char **argv);

/* Print a JSON value on stdout, compact (or indented when pretty), + newline. */
void cli_print_json(const json_t *v, bool pretty);
/* Print "kiln VERB: message" on stderr and return CLI_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when stdout is a terminal and NO_COLOR is unset. */
bool cli_color(void);
/* The version string ("0.1.0"). */
const char *cli_version(void);
