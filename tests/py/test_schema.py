"""kiln schema: every format checked against its provider's rules, the input
schemas against real arguments, the output schema against real envelopes."""
import json
import re
import subprocess

import kilntest
from kilntest import KILN, b64

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
CSV = "x,y\n1,2\n3,5\n4,4\n"
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
KNOWN_KEYWORDS = {"type", "properties", "required", "additionalProperties", "enum", "items",
                  "description", "minimum", "maximum", "maxItems", "minItems", "maxLength",
                  "title"}
STRICT_KEYWORDS = {"type", "properties", "required", "additionalProperties", "enum", "items",
                   "description", "anyOf"}


def validate(schema, v, where="$"):
    """Errors of v against the draft-07 subset kiln uses (a list of strings)."""
    errs = []
    unknown = set(schema) - KNOWN_KEYWORDS
    if unknown:
        return [f"{where}: schema uses unsupported keywords {unknown}"]
    t = schema.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(TYPES[x](v) for x in ts):
            return [f"{where}: {json.dumps(v)[:60]} is not of type {t}"]
    if "enum" in schema and v not in schema["enum"]:
        errs.append(f"{where}: {v!r} not in {schema['enum']}")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in schema and v < schema["minimum"]:
            errs.append(f"{where}: {v} < minimum")
        if "maximum" in schema and v > schema["maximum"]:
            errs.append(f"{where}: {v} > maximum")
    if isinstance(v, list):
        if "maxItems" in schema and len(v) > schema["maxItems"]:
            errs.append(f"{where}: too many items")
        for i, x in enumerate(v):
            if "items" in schema:
                errs += validate(schema["items"], x, f"{where}[{i}]")
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                errs.append(f"{where}: missing required '{k}'")
        for k, x in v.items():
            if k in props:
                errs += validate(props[k], x, f"{where}.{k}")
            elif schema.get("additionalProperties") is False:
                errs.append(f"{where}: additional property '{k}'")
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate(schema["additionalProperties"], x, f"{where}.{k}")
    return errs


def schema(env, *args):
    p = env.kiln("schema", *args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def check_object_root(s):
    assert s["type"] == "object" and isinstance(s["properties"], dict), s
    assert s.get("additionalProperties") is False


def walk_objects(s, fn, where="$"):
    if not isinstance(s, dict):
        return
    fn(s, where)
    for k, p in s.get("properties", {}).items():
        walk_objects(p, fn, f"{where}.{k}")
    if isinstance(s.get("items"), dict):
        walk_objects(s["items"], fn, f"{where}[]")
    for i, a in enumerate(s.get("anyOf", [])):
        walk_objects(a, fn, f"{where}|{i}")


def check_keywords(s, where):
    bad = set(s) - KNOWN_KEYWORDS
    assert not bad, f"{where}: keywords outside the draft-07 subset: {bad}"
    assert isinstance(s.get("description", ""), str)


def check_strict(s, where):
    bad = set(s) - STRICT_KEYWORDS
    assert not bad, f"{where}: keywords outside the strict subset: {bad}"
    t = s.get("type")
    ts = t if isinstance(t, list) else [t]
    if "object" in ts:
        props = s.get("properties")
        assert isinstance(props, dict), f"{where}: object without properties (free-form)"
        assert s.get("additionalProperties") is False, f"{where}: additionalProperties"
        assert sorted(s.get("required", [])) == sorted(props), f"{where}: not all required"


def test_mcp_format(env):
    tools = schema(env)
    assert tools == schema(env, "--format", "mcp")
    assert [t["name"] for t in tools] == ["executeCode", "processFile"]
    for t in tools:
        assert NAME_RE.match(t["name"])
        assert set(t) == {"name", "title", "description", "inputSchema", "outputSchema",
                          "annotations"}, set(t)
        check_object_root(t["inputSchema"])
        assert t["outputSchema"]["type"] == "object"
        a = t["annotations"]
        assert a["readOnlyHint"] is False and a["destructiveHint"] is False
        assert a["idempotentHint"] is False and a["openWorldHint"] is True and a["title"]
        walk_objects(t["inputSchema"], check_keywords)
    ex, pf = tools
    assert ex["inputSchema"]["required"] == ["code"]
    assert pf["inputSchema"]["required"] == ["operation"]
    assert sorted(pf["inputSchema"]["properties"]["operation"]["enum"]) == \
        ["analyze", "parse_excel", "transform"]
    fi = ex["inputSchema"]["properties"]["files"]["items"]
    assert set(fi["properties"]) == {"url", "base64", "fileId", "name"}
    assert fi["additionalProperties"] is False
    opts = pf["inputSchema"]["properties"]["options"]
    for k in ["steps", "output", "topN", "sheets", "format", "report"]:
        assert k in opts["properties"], k


def test_input_schema_accepts_and_rejects(env):
    ex, pf = schema(env)
    good = [
        (ex, {"code": "print(1)"}),
        (ex, {"code": "x", "files": [{"url": "https://e.com/a.csv", "name": "a.csv"}],
              "inputs": {"n": 3, "deep": {"a": [1]}}, "packages": ["pandas"],
              "timeoutMs": 5000, "session": "s1"}),
        (pf, {"operation": "transform", "fileBase64": "eA==", "options": {
            "steps": [{"op": "filter", "where": "x > 1"}, {"op": "limit", "n": 2}],
            "output": {"format": "xlsx", "name": "r"}}}),
        (pf, {"operation": "parse_excel", "fileId": "f_1", "options": {"sheets": ["A", 1]}}),
    ]
    for s, v in good:
        errs = validate(s["inputSchema"], v)
        assert not errs, (v, errs)
    bad = [
        (ex, {}),
        (ex, {"code": 1}),
        (ex, {"code": "x", "bogus": 1}),
        (ex, {"code": "x", "files": [{"path": "/etc/passwd"}]}),
        (ex, {"code": "x", "timeoutMs": 0}),
        (pf, {"operation": "explode"}),
        (pf, {"operation": "analyze", "options": {"report": "pdf"}}),
        (pf, {"operation": "transform", "options": {"steps": [{"op": "pivot"}]}}),
    ]
    for s, v in bad:
        assert validate(s["inputSchema"], v), f"accepted: {v}"


def test_output_schema_accepts_real_envelopes(env):
    out_schema = schema(env)[0]["outputSchema"]
    assert out_schema == schema(env)[1]["outputSchema"]
    reqs = [
        ({"action": "executeCode", "arguments": {
            "code": "open('o.txt','w').write('x')\nprint(2)"}}, True),
        ({"action": "executeCode", "arguments": {"code": "raise KeyError('k')"}}, False),
        ({"action": "processFile", "arguments": {"operation": "analyze",
                                                  "fileBase64": b64(CSV), "fileName": "t.csv"}},
         True),
        ({"action": "processFile", "arguments": {"operation": "nope"}}, False),
        ({"action": "processFile", "arguments": {"operation": "analyze",
                                                  "fileId": "f_00000000000000000000000000000000"}},
         False),
        ({"action": "nope", "arguments": {}}, False),
    ]
    for req, ok in reqs:
        env_, rc, err = env.run(req)
        assert env_["ok"] is ok, (req, env_)
        errs = validate(out_schema, env_)
        assert not errs, (env_, errs)
    for bad in [{"ok": "yes"}, {}, {"ok": False, "error": {"code": "WHATEVER", "message": "m"}},
                {"ok": True, "files": [{"name": "no id"}]}]:
        assert validate(out_schema, bad), f"accepted: {bad}"


def test_openai_formats(env):
    chat = schema(env, "--format", "openai")
    resp = schema(env, "--format=openai-responses")
    assert len(chat) == len(resp) == 2
    for c, r in zip(chat, resp):
        assert set(c) == {"type", "function"} and c["type"] == "function"
        f = c["function"]
        assert set(f) == {"name", "description", "parameters", "strict"}
        assert NAME_RE.match(f["name"]) and f["strict"] is False
        check_object_root(f["parameters"])
        assert set(r) == {"type", "name", "description", "parameters", "strict"}
        assert r["type"] == "function" and r["name"] == f["name"] and r["strict"] is False
        assert r["parameters"] == f["parameters"]


def test_openai_strict_subset(env):
    for fmt in ["openai", "openai-responses"]:
        tools = schema(env, "--format", fmt, "--strict")
        for t in tools:
            f = t["function"] if fmt == "openai" else t
            assert f["strict"] is True and NAME_RE.match(f["name"])
            p = f["parameters"]
            check_object_root(p)
            walk_objects(p, check_strict)
            props = p["properties"]
            assert "inputs" not in props and "options" not in props
            for k, v in props.items():
                nullable = "null" in (v["type"] if isinstance(v["type"], list) else [v["type"]])
                assert nullable == (k not in ("code", "operation")), (k, v)
            if f["name"] == "processFile":
                assert props["operation"]["type"] == "string"
                assert None not in props["operation"]["enum"]
            if f["name"] == "executeCode":
                item = props["files"]["items"]
                assert sorted(item["required"]) == ["base64", "fileId", "name", "url"]
                assert all(v["type"] == ["string", "null"] for v in item["properties"].values())


def test_strict_shaped_calls_run(env):
    """What a strict-mode model sends (every key, null for unused) is accepted."""
    tools = {t["function"]["name"]: t["function"]["parameters"]
             for t in schema(env, "--format", "openai", "--strict")}
    ex = {k: None for k in tools["executeCode"]["properties"]}
    ex["code"] = "import pandas as pd\nprint(len(pd.read_csv('t.csv')))"
    ex["files"] = [{"url": None, "base64": b64(CSV), "fileId": None, "name": "t.csv"}]
    assert not validate(tools["executeCode"], ex)
    out, rc, err = env.run({"action": "executeCode", "arguments": ex})
    assert out["ok"] is True and out["result"]["stdout"] == "3\n", out
    pf = {k: None for k in tools["processFile"]["properties"]}
    pf.update(operation="analyze", fileBase64=b64(CSV), fileName="t.csv")
    assert not validate(tools["processFile"], pf)
    out, rc, err = env.run({"action": "processFile", "arguments": pf})
    assert out["ok"] is True, out


def test_anthropic_format(env):
    tools = schema(env, "--format", "anthropic", "--compact")
    mcp = schema(env)
    for t, m in zip(tools, mcp):
        assert set(t) == {"name", "description", "input_schema"}
        assert NAME_RE.match(t["name"]) and t["description"]
        check_object_root(t["input_schema"])
        assert t["input_schema"] == m["inputSchema"]


def test_compact_and_usage(env):
    p = env.kiln("schema", "--compact")
    assert p.returncode == 0 and p.stdout.count(b"\n") == 1
    for args in [["--format", "gemini"], ["--strict"], ["--format", "anthropic", "--strict"],
                 ["--bogus"], ["--format"]]:
        p = env.kiln("schema", *args)
        assert p.returncode == 2, (args, p.returncode)
        assert b"kiln schema" in p.stderr
    p = env.kiln("schema", "--help")
    assert p.returncode == 0 and b"openai-responses" in p.stdout


def test_mcp_tools_list_matches_schema(env):
    msgs = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    p = subprocess.run([KILN, "mcp", "--cold"], input="\n".join(json.dumps(m) for m in msgs),
                       capture_output=True, text=True, timeout=60, env=env.env)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert lines[1]["result"]["tools"] == schema(env)


if __name__ == "__main__":
    kilntest.main(globals())
