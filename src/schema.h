/*
 * schema: the tool definitions of the two actions as JSON Schema, for
 * `kiln schema` and the MCP server (srv_mcp.h).
 *
 * The argument lists come from the router's action table (route_actions():
 * names, types, required, descriptions: the single source of truth); this
 * module adds what the table cannot say (the `files` item shape, the
 * `operation` enum from the operation registry, the documented `options` of
 * each operation) and renders the result in each provider's format. Every
 * schema uses the draft-07-compatible subset: type, properties, required,
 * enum, items, additionalProperties, description, minimum, maxItems.
 * Pure functions over static tables: thread- and fork-safe.
 */
#pragma once

#include <jansson.h>

#include "err.h"
#include "router.h"

enum schema_format {
    SCHEMA_MCP = 0, /* [{name, title, description, inputSchema, outputSchema, annotations}] */
    SCHEMA_OPENAI,  /* Chat Completions: [{type:"function", function:{...}}] */
    SCHEMA_OPENAI_RESPONSES, /* Responses API: [{type:"function", name, ..., strict}] */
    SCHEMA_ANTHROPIC,        /* [{name, description, input_schema}] */
};

enum schema_flags {
    /* OpenAI strict mode: every property required, optional ones nullable,
     * additionalProperties false on every object. Free-form objects
     * (`inputs`, `options`) cannot be expressed and are left out. */
    SCHEMA_STRICT = 1 << 0,
};

/* Parse "mcp" | "openai" | "openai-responses" | "anthropic". E_INVALID. */
enum err_code schema_format_parse(const char *s, enum schema_format *out, struct err *err);
/* The input schema of an action (new reference; NULL only when out of memory). */
json_t *schema_input(const struct route_action *ra, unsigned flags);
/* The schema of the response envelope, accepting both the ok:true and the
 * ok:false shape (new reference). */
json_t *schema_output(void);
/* The MCP tool definition of an action (new reference). */
json_t *schema_tool_mcp(const struct route_action *ra);
/* All tools in a format (new reference: a JSON array; NULL when out of memory). */
json_t *schema_tools(enum schema_format fmt, unsigned flags);
/* The action for a tool name (NULL when unknown). */
const struct route_action *schema_find(const char *name);
