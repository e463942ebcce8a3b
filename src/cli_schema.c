/*
 * cli_schema: `kiln schema`, the tool definitions (schema.h) in the format
 * of an LLM provider, on stdout.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "schema.h"

#include "banned.h"

static void cli_schema_help(FILE *f)
{
    fprintf(f, "usage: kiln schema [--format mcp|openai|openai-responses|anthropic] [--strict]\n"
               "                   [--compact | --pretty]\n\n"
               "Prints the definitions of the two tools (executeCode, processFile) as JSON, in\n"
               "the shape an LLM provider's tool list takes.\n\n"
               "formats:\n"
               "  mcp               [{name, title, description, inputSchema, outputSchema,\n"
               "                    annotations}] as in MCP tools/list (default)\n"
               "  openai            Chat Completions: [{type:\"function\", function:{name,\n"
               "                    description, parameters, strict}}]\n"
               "  openai-responses  Responses API: [{type:\"function\", name, description,\n"
               "                    parameters, strict}]\n"
               "  anthropic         Messages API: [{name, description, input_schema}]\n\n"
               "options:\n"
               "  -f, --format FMT     one of the formats above (default: mcp)\n"
               "  --strict             OpenAI strict mode (openai formats only): every property\n"
               "                       required, optional ones nullable, no additional\n"
               "                       properties; the free-form objects `inputs` and\n"
               "                       `options` are left out\n"
               "  --compact            one line instead of indented JSON\n"
               "  --pretty             indented JSON (the default)\n\n"
               "example:\n  kiln schema --format openai --strict\n\n"
               "exit status: 0 ok, 1 the action failed, 2 usage error.\n");
}

int cli_schema(const struct config *cfg, int argc, char **argv)
{
    enum schema_format fmt = SCHEMA_MCP;
    unsigned flags = 0;
    bool compact = false;
    struct err err;
    (void)cfg;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_schema_help(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--strict")) {
            flags |= SCHEMA_STRICT;
        } else if (!strcmp(a, "--compact")) {
            compact = true;
        } else if (!strcmp(a, "--pretty")) {
            compact = false;
        } else if (!strcmp(a, "--format") || !strcmp(a, "-f")) {
            if (i + 1 >= argc)
                return cli_usage_error("schema", "'%s' needs a value", a);
            v = argv[++i];
        } else if (!strncmp(a, "--format=", 9)) {
            v = a + 9;
        } else {
            return cli_usage_error("schema", "unknown argument '%s'", a);
        }
        if (v && schema_format_parse(v, &fmt, &err))
            return cli_usage_error("schema", "%s", err.msg);
    }
    if ((flags & SCHEMA_STRICT) && fmt != SCHEMA_OPENAI && fmt != SCHEMA_OPENAI_RESPONSES)
        return cli_usage_error("schema", "--strict applies to the openai formats only");
    json_t *tools = schema_tools(fmt, flags);
    if (!tools) {
        fprintf(stderr, "kiln schema: out of memory\n");
        return CLI_FAILED;
    }
    cli_print_json(tools, !compact);
    json_decref(tools);
    return CLI_OK;
}
