#include "schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "klimits.h"
#include "op.h"

#include "banned.h"

/* What a tool adds to the router's one-line description. */
struct schema_tool_info {
    const char *action;
    const char *title;
    const char *more;
    const char *strict_note; /* appended in strict mode */
};

static const struct schema_tool_info schema_info[] = {
    {"executeCode", "Run Python code on files",
     "The input files are staged in the working directory under their names "
     "(pd.read_csv('data.csv')). pandas, numpy and matplotlib (Agg) are available; "
     "plt.savefig() output is returned like any file. Files the code writes are stored and "
     "listed in `files` (each with an id usable as fileId later). The response is "
     "{ok:true, result:{stdout, stderr, returnValue, durationMs}, files:[...]} or "
     "{ok:false, error:{code, message, traceback?}}.",
     " (Strict schema: `inputs` is not available; write values into the code.)"},
    {"processFile", "Analyze, transform or parse a table file",
     "Reads CSV/TSV, XLSX, JSON or JSON Lines. The response is {ok:true, result:{...}, "
     "files:[...]} (files: the report or converted outputs, each with an id) or "
     "{ok:false, error:{code, message}}.",
     " (Strict schema: `options` is not available; operations run with their defaults.)"},
};

/* The SPEC §2 error codes, in the order of err.h. */
static const enum err_code schema_codes[] = {
    E_INVALID, E_FETCH,  E_BLOCKED,      E_TOO_LARGE, E_UNSUPPORTED, E_PARSE,   E_CODE,
    E_TIMEOUT, E_MEMORY, E_OUTPUT_LIMIT, E_PACKAGE,   E_NOTFOUND,    E_SANDBOX, E_INTERNAL,
};

static const char *const schema_step_ops[] = {
    "select", "drop", "rename", "filter", "derive", "cast",
    "fill",   "sort", "group",  "dedupe", "limit",
};

static const struct schema_tool_info *schema_info_for(const char *action)
{
    for (size_t i = 0; i < sizeof(schema_info) / sizeof(schema_info[0]); i++)
        if (!strcmp(schema_info[i].action, action))
            return &schema_info[i];
    return NULL;
}

enum err_code schema_format_parse(const char *s, enum schema_format *out, struct err *err)
{
    static const struct {
        const char *name;
        enum schema_format fmt;
    } names[] = {
        {"mcp", SCHEMA_MCP},
        {"openai", SCHEMA_OPENAI},
        {"openai-responses", SCHEMA_OPENAI_RESPONSES},
        {"anthropic", SCHEMA_ANTHROPIC},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcmp(s, names[i].name)) {
            *out = names[i].fmt;
            return E_OK;
        }
    }
    return err_set(err, E_INVALID,
                   "unknown format '%.64s' (known: mcp, openai, openai-responses, anthropic)", s);
}

const struct route_action *schema_find(const char *name)
{
    for (const struct route_action *ra = route_actions(); ra->name; ra++)
        if (!strcmp(ra->name, name))
            return ra;
    return NULL;
}

static const char *schema_type_name(enum route_arg_type t)
{
    switch (t) {
    case RA_STRING:
        return "string";
    case RA_INTEGER:
        return "integer";
    case RA_OBJECT:
        return "object";
    case RA_ARRAY:
        return "array";
    case RA_BOOLEAN:
        return "boolean";
    }
    return "string";
}

static json_t *schema_prop(const char *type, const char *description)
{
    return json_pack("{s:s, s:s}", "type", type, "description", description);
}

static json_t *schema_string_enum(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* files[]: {url | base64 | fileId, name}. */
static void schema_files_items(json_t *p)
{
    json_t *props = json_object();
    json_object_set_new(props, "url",
                        schema_prop("string", "http/https URL of the file, fetched by kiln."));
    json_object_set_new(props, "base64",
                        schema_prop("string", "The file's bytes, base64 (standard or URL-safe)."));
    json_object_set_new(props, "fileId",
                        schema_prop("string", "Id of a file kiln stored earlier (from `files`)."));
    json_object_set_new(props, "name",
                        schema_prop("string", "Name it is staged under (a plain file name, no "
                                              "path)."));
    json_t *items = json_pack("{s:s, s:s, s:o, s:b}", "type", "object", "description",
                              "One input: exactly one of url, base64, fileId; name optional.",
                              "properties", props, "additionalProperties", 0);
    json_object_set_new(p, "items", items);
    json_object_set_new(p, "maxItems", json_integer(LIM_INPUT_FILES));
}

/* The documented options of the operations, as one object (each operation
 * rejects keys it does not know, with a hint). */
static void schema_options(json_t *p)
{
    json_t *props = json_object();
    json_t *cols =
        json_pack("{s:s, s:s, s:{s:s}}", "type", "array", "description",
                  "analyze: column names to analyse (default: all).", "items", "type", "string");
    json_object_set_new(props, "columns", cols);
    json_object_set_new(props, "delimiter",
                        schema_prop("string", "analyze, transform: input field separator, one "
                                              "character or \"tab\" (default: sniffed)."));
    json_object_set_new(props, "header",
                        schema_prop("boolean", "analyze, transform: the first row is a header "
                                               "(default true); parse_excel: the first row of "
                                               "each sheet holds column names (default true)."));
    json_t *top = schema_prop("integer", "analyze: top values listed per column (default 5).");
    json_object_set_new(top, "minimum", json_integer(0));
    json_object_set_new(top, "maximum", json_integer(LIM_ANALYZE_TOPN));
    json_object_set_new(props, "topN", top);
    static const char *const reports[] = {"html", "xlsx", "both", "none"};
    json_t *rep = schema_prop("string", "analyze: report files to write (default \"both\").");
    json_object_set_new(rep, "enum", schema_string_enum(reports, 4));
    json_object_set_new(props, "report", rep);
    json_object_set_new(props, "sheet",
                        json_pack("{s:[s,s], s:s}", "type", "string", "integer", "description",
                                  "analyze, transform: the sheet of an XLSX input (name or "
                                  "0-based index)."));
    json_object_set_new(props, "sheets",
                        json_pack("{s:s, s:s, s:{s:[s,s]}}", "type", "array", "description",
                                  "parse_excel: sheets to convert, by name or 0-based index "
                                  "(default: every visible sheet).",
                                  "items", "type", "string", "integer"));
    static const char *const pxf[] = {"csv", "json", "jsonl"};
    json_t *fmt = schema_prop("string", "parse_excel: output format of each sheet (default "
                                        "\"csv\").");
    json_object_set_new(fmt, "enum", schema_string_enum(pxf, 3));
    json_object_set_new(props, "format", fmt);
    json_object_set_new(props, "includeHidden",
                        schema_prop("boolean", "parse_excel: also convert hidden sheets (default "
                                               "false)."));
    json_t *op = schema_prop("string", "The step.");
    json_object_set_new(
        op, "enum",
        schema_string_enum(schema_step_ops, sizeof(schema_step_ops) / sizeof(schema_step_ops[0])));
    json_t *step = json_pack("{s:s, s:s, s:{s:o}, s:[s]}", "type", "object", "description",
                             "A step: {\"op\":\"select\"|\"drop\",\"columns\":[...]}, "
                             "{\"op\":\"rename\",\"map\":{old:new}}, "
                             "{\"op\":\"filter\",\"where\":EXPR}, "
                             "{\"op\":\"derive\",\"column\":C,\"expr\":EXPR}, "
                             "{\"op\":\"cast\",\"column\":C,\"to\":TYPE,\"format\"?,\"onError\"?}, "
                             "{\"op\":\"fill\",\"columns\"?,\"value\"|\"method\":\"ffill\"}, "
                             "{\"op\":\"sort\",\"by\":[\"-col\",...]}, "
                             "{\"op\":\"group\",\"by\":[...],\"aggs\":[{\"column\",\"fn\","
                             "\"as\"}]}, {\"op\":\"dedupe\",\"columns\"?,\"keep\"?}, "
                             "{\"op\":\"limit\",\"n\":N}. EXPR is SQL-like: "
                             "\"price > 10 and region = 'EU'\".",
                             "properties", "op", op, "required", "op");
    json_t *steps = json_pack("{s:s, s:s, s:o, s:i}", "type", "array", "description",
                              "transform: steps run in order (see docs/transform.md).", "items",
                              step, "maxItems", (int)LIM_TRANSFORM_STEPS);
    json_object_set_new(props, "steps", steps);
    static const char *const tf[] = {"csv", "json", "jsonl", "xlsx"};
    json_t *ofmt = schema_prop("string", "Output file format (default \"csv\").");
    json_object_set_new(ofmt, "enum", schema_string_enum(tf, 4));
    json_t *oprops = json_object();
    json_object_set_new(oprops, "format", ofmt);
    json_object_set_new(oprops, "name",
                        schema_prop("string", "Base name of the output file (default "
                                              "\"result\"); the extension is added."));
    json_object_set_new(oprops, "delimiter",
                        schema_prop("string", "CSV field separator (default \",\")."));
    json_object_set_new(oprops, "header", schema_prop("boolean", "Write a CSV header line."));
    json_object_set_new(oprops, "dateFormat",
                        schema_prop("string", "strftime-like format of dates (default ISO "
                                              "8601)."));
    json_object_set_new(oprops, "neutraliseFormulas",
                        schema_prop("boolean", "Prefix cells starting with = + - @ with ' "
                                               "(default true for CSV/XLSX)."));
    json_object_set_new(props, "output",
                        json_pack("{s:s, s:s, s:o, s:b}", "type", "object", "description",
                                  "transform: the output file.", "properties", oprops,
                                  "additionalProperties", 0));
    json_object_set_new(p, "properties", props);
    json_object_set_new(p, "description",
                        json_string("Operation-specific options. analyze: columns, delimiter, "
                                    "header, topN, report, sheet. transform: steps, output, "
                                    "delimiter, header, sheet. parse_excel: sheets, format, "
                                    "header, includeHidden. Unknown keys are errors."));
}

/* Richer details of one argument. */
static void schema_extra(const char *action, const char *arg, json_t *p)
{
    if (!strcmp(arg, "files")) {
        schema_files_items(p);
    } else if (!strcmp(arg, "packages")) {
        json_object_set_new(p, "items", json_pack("{s:s}", "type", "string"));
        json_object_set_new(p, "maxItems", json_integer(LIM_PACKAGES));
    } else if (!strcmp(arg, "timeoutMs")) {
        json_object_set_new(p, "minimum", json_integer(1));
    } else if (!strcmp(arg, "inputs")) {
        json_object_set_new(p, "additionalProperties", json_true());
    } else if (!strcmp(action, "processFile") && !strcmp(arg, "operation")) {
        json_t *e = json_array();
        for (const struct op_def *op = op_list(); e && op->name; op++)
            json_array_append_new(e, json_string(op->name));
        json_object_set_new(p, "enum", e);
        json_object_set_new(p, "description",
                            json_string("analyze: column statistics and an HTML/XLSX report; "
                                        "transform: select/filter/derive/cast/sort/group "
                                        "steps into a CSV/JSON/XLSX file; parse_excel: every "
                                        "sheet of an .xlsx into typed CSV/JSON files."));
    } else if (!strcmp(action, "processFile") && !strcmp(arg, "options")) {
        schema_options(p);
    }
}

/* Arguments that hold free-form objects, which strict mode cannot express. */
static bool schema_free_form(const char *arg)
{
    return !strcmp(arg, "inputs") || !strcmp(arg, "options");
}

static const char *const schema_strict_drop[] = {
    "minimum", "maximum", "maxItems", "minItems", "maxLength", "minLength", "pattern", "format",
};

/* Turn a schema into OpenAI's strict subset, in place. required_keys lists
 * the properties that were required before. */
static void schema_strictify(json_t *s)
{
    for (size_t i = 0; i < sizeof(schema_strict_drop) / sizeof(schema_strict_drop[0]); i++)
        json_object_del(s, schema_strict_drop[i]);
    json_t *items = json_object_get(s, "items");
    if (json_is_object(items))
        schema_strictify(items);
    json_t *props = json_object_get(s, "properties");
    if (!json_is_object(props))
        return;
    json_t *req = json_object_get(s, "required");
    json_t *all = json_array();
    const char *key;
    json_t *val;
    json_object_foreach(props, key, val)
    {
        bool was_required = false;
        size_t i;
        json_t *r;
        json_array_foreach(req, i, r)
        {
            if (json_is_string(r) && !strcmp(json_string_value(r), key))
                was_required = true;
        }
        schema_strictify(val);
        if (!was_required) {
            json_t *t = json_object_get(val, "type");
            if (json_is_string(t)) {
                json_object_set_new(val, "type", json_pack("[s,s]", json_string_value(t), "null"));
            } else if (json_is_array(t)) {
                json_array_append_new(t, json_string("null"));
            }
            json_t *e = json_object_get(val, "enum");
            if (json_is_array(e))
                json_array_append_new(e, json_null());
        }
        json_array_append_new(all, json_string(key));
    }
    json_object_set_new(s, "required", all);
    json_object_set_new(s, "additionalProperties", json_false());
}

json_t *schema_input(const struct route_action *ra, unsigned flags)
{
    bool strict = flags & SCHEMA_STRICT;
    json_t *props = json_object();
    json_t *req = json_array();
    json_t *s = NULL;
    if (!props || !req)
        goto out;
    for (const struct route_arg *a = ra->args; a->name; a++) {
        if (strict && schema_free_form(a->name))
            continue;
        json_t *p = schema_prop(schema_type_name(a->type), a->description);
        if (!p)
            goto out;
        schema_extra(ra->name, a->name, p);
        json_object_set_new(props, a->name, p);
        if (a->required)
            json_array_append_new(req, json_string(a->name));
    }
    s = json_pack("{s:s, s:O, s:O, s:b}", "type", "object", "properties", props, "required", req,
                  "additionalProperties", 0);
    if (s && strict)
        schema_strictify(s);
out:
    json_decref(props);
    json_decref(req);
    return s;
}

json_t *schema_output(void)
{
    json_t *codes = json_array();
    for (size_t i = 0; codes && i < sizeof(schema_codes) / sizeof(schema_codes[0]); i++)
        json_array_append_new(codes, json_string(err_spec_code(schema_codes[i])));
    json_t *file = json_pack(
        "{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:[s,s]}, s:{s:s}, s:{s:s},"
        " s:{s:s}}, s:[s]}",
        "type", "object", "description",
        "A stored output file; fetch it with resources/read of kiln://files/{id} or pass the id "
        "as fileId.",
        "properties", "id", "type", "string", "name", "type", "string", "size", "type", "integer",
        "mimeType", "type", "string", "scope", "type", "string", "enum", "temporary", "session",
        "expiresAt", "type", "string", "sha256", "type", "string", "session", "type", "string",
        "required", "id");
    json_t *error =
        json_pack("{s:s, s:s, s:{s:{s:s, s:o}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}, s:[s,s]}",
                  "type", "object", "description",
                  "Present when ok is false: a SPEC error code, a message, and what was captured.",
                  "properties", "code", "type", "string", "enum", codes, "message", "type",
                  "string", "traceback", "type", "string", "stdout", "type", "string", "stderr",
                  "type", "string", "required", "code", "message");
    return json_pack("{s:s, s:s, s:{s:{s:s, s:s}, s:{s:[s,s]}, s:{s:s, s:s}, s:{s:s, s:o},"
                     " s:o}, s:[s]}",
                     "type", "object", "description",
                     "The kiln response envelope: {ok:true, action, result, files} or "
                     "{ok:false, action, error}.",
                     "properties", "ok", "type", "boolean", "description",
                     "Whether the action succeeded.", "action", "type", "string", "null", "result",
                     "type", "object", "description",
                     "When ok: the action's result (executeCode: stdout, stderr, returnValue, "
                     "durationMs, truncation flags; processFile: the operation's result).",
                     "files", "type", "array", "items", file, "error", error, "required", "ok");
}

static json_t *schema_description(const struct route_action *ra, unsigned flags)
{
    const struct schema_tool_info *ti = schema_info_for(ra->name);
    char d[2048];
    snprintf(d, sizeof(d), "%s%s%s%s", ra->description, ti ? " " : "", ti ? ti->more : "",
             (ti && (flags & SCHEMA_STRICT)) ? ti->strict_note : "");
    return json_string(d);
}

json_t *schema_tool_mcp(const struct route_action *ra)
{
    const struct schema_tool_info *ti = schema_info_for(ra->name);
    const char *title = ti ? ti->title : ra->name;
    json_t *ann = json_pack("{s:s, s:b, s:b, s:b, s:b}", "title", title, "readOnlyHint", 0,
                            "destructiveHint", 0, "idempotentHint", 0, "openWorldHint", 1);
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "name", ra->name, "title", title,
                     "description", schema_description(ra, 0), "inputSchema", schema_input(ra, 0),
                     "outputSchema", schema_output(), "annotations", ann);
}

json_t *schema_tools(enum schema_format fmt, unsigned flags)
{
    json_t *arr = json_array();
    bool strict = flags & SCHEMA_STRICT;
    if (!arr)
        return NULL;
    for (const struct route_action *ra = route_actions(); ra->name; ra++) {
        json_t *t = NULL;
        switch (fmt) {
        case SCHEMA_MCP:
            t = schema_tool_mcp(ra);
            break;
        case SCHEMA_OPENAI:
            t = json_pack("{s:s, s:{s:s, s:o, s:o, s:b}}", "type", "function", "function", "name",
                          ra->name, "description", schema_description(ra, flags), "parameters",
                          schema_input(ra, flags), "strict", strict);
            break;
        case SCHEMA_OPENAI_RESPONSES:
            t = json_pack("{s:s, s:s, s:o, s:o, s:b}", "type", "function", "name", ra->name,
                          "description", schema_description(ra, flags), "parameters",
                          schema_input(ra, flags), "strict", strict);
            break;
        case SCHEMA_ANTHROPIC:
            t = json_pack("{s:s, s:o, s:o}", "name", ra->name, "description",
                          schema_description(ra, 0), "input_schema", schema_input(ra, 0));
            break;
        }
        if (!t || json_array_append_new(arr, t)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
