#!/usr/bin/python3
"""The `kiln run` contract: request validation, error codes, exit statuses."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilntest import b64, expect_error, main  # noqa: E402

PF = "processFile"
# Input validation happens before the operation runs; any operation will do.
OP = "parse_excel"


def pf(**args):
    return {"action": PF, "arguments": args}


def test_malformed_json(env):
    out, rc, _ = env.run(b'{"action": "processFile", ')
    assert rc == 1 and out["ok"] is False
    assert out["error"]["code"] == "INVALID_REQUEST"
    assert "malformed JSON at line 1" in out["error"]["message"], out
    assert out["action"] is None


def test_json_kiln_cannot_take(env):
    # Valid JSON beyond what a request can carry: said in kiln's words,
    # with where (python3's json reads each of these texts).
    cases = ((b'"a\\u0000b"', "a string holds \\u0000 (a NUL character)"),
             (b"123456789012345678901234567890", "an integer beyond 64 bits"),
             (b"1e400", "a number beyond the range of a double"))
    for value, why in cases:
        text = b'{"action": "executeCode", "arguments": {"code": "print(1)", "inputs": {"x": ' + \
            value + b'}}}'
        json.loads(text)
        out, rc, _ = env.run(text)
        assert rc == 1 and out["error"]["code"] == "INVALID_REQUEST", out
        msg = out["error"]["message"]
        assert msg.startswith("JSON kiln cannot take at line 1 column ") and why in msg, msg
        assert "JSON_ALLOW_NUL" not in msg, msg


def test_not_an_object(env):
    expect_error(env, b"[1,2]", "INVALID_REQUEST", "must be a JSON object")
    expect_error(env, b'"x"', "INVALID_REQUEST")


def test_unknown_action(env):
    expect_error(env, {"action": "deleteEverything", "arguments": {}}, "INVALID_REQUEST",
                 "unknown action 'deleteEverything'")


def test_missing_fields(env):
    expect_error(env, {"arguments": {}}, "INVALID_REQUEST", "missing 'action'")
    expect_error(env, {"action": PF}, "INVALID_REQUEST", "missing 'arguments'")
    expect_error(env, {"action": PF, "arguments": []}, "INVALID_REQUEST",
                 "'arguments' must be an object")
    expect_error(env, {"action": PF, "arguments": {}, "extra": 1}, "INVALID_REQUEST",
                 "unknown request field 'extra'")


def test_duplicate_keys_rejected(env):
    expect_error(env, b'{"action":"processFile","action":"executeCode","arguments":{}}',
                 "INVALID_REQUEST", "duplicate")


def test_missing_required_argument(env):
    out = expect_error(env, pf(fileBase64=b64("a\n1\n")), "INVALID_REQUEST",
                       "missing required argument 'operation'")
    assert out["action"] == PF
    expect_error(env, {"action": "executeCode", "arguments": {}}, "INVALID_REQUEST",
                 "missing required argument 'code'")


def test_mistyped_arguments(env):
    expect_error(env, pf(operation=3), "INVALID_REQUEST", "'operation' must be a string")
    expect_error(env, pf(operation=OP, options=[1]), "INVALID_REQUEST",
                 "'options' must be an object")
    expect_error(env, {"action": "executeCode", "arguments": {"code": "1", "timeoutMs": "5"}},
                 "INVALID_REQUEST", "'timeoutMs' must be an integer")
    expect_error(env, {"action": "executeCode", "arguments": {"code": "1", "timeoutMs": 0}},
                 "INVALID_REQUEST", "'timeoutMs' must be positive")
    expect_error(env, {"action": "executeCode", "arguments": {"code": "1", "packages": "x"}},
                 "INVALID_REQUEST", "'packages' must be an array")


def test_unknown_argument_named(env):
    expect_error(env, pf(operation=OP, fileurl="x"), "INVALID_REQUEST",
                 "unknown argument 'fileurl'")


def test_unknown_option_named(env):
    # analyze is as strict as transform and parse_excel: 'topn' ran with 5
    expect_error(env, pf(operation="analyze", fileBase64=b64("a\n1\n"),
                         options={"topn": 3}), "INVALID_REQUEST",
                 "unknown option 'topn' for analyze (did you mean 'topN'?)")
    for op in ("transform", "parse_excel"):
        expect_error(env, pf(operation=op, fileBase64=b64("a\n1\n"), options={"bogus": 1}),
                     "INVALID_REQUEST", "unknown option 'bogus'")


def test_unknown_operation(env):
    expect_error(env, pf(operation="explode", fileBase64=b64("a")), "INVALID_REQUEST",
                 "unknown operation 'explode'")


def test_input_required_and_exclusive(env):
    expect_error(env, pf(operation=OP), "INVALID_REQUEST",
                 "needs one of 'fileUrl', 'fileBase64' or 'fileId'")
    expect_error(env, pf(operation=OP, fileBase64=b64("a"), fileUrl="http://x/"),
                 "INVALID_REQUEST", "only one of")


def test_bad_file_names(env):
    for name, why in [("../x.csv", "not a path"), ("/etc/passwd", "not a path"),
                      ("a\u0000b", "NUL"), ("..", "must be a file name"),
                      ("a\nb", "control character"), ("", "must not be empty"),
                      ("x" * 300, "longer than")]:
        expect_error(env, pf(operation=OP, fileBase64=b64("a,b\n1,2\n"), fileName=name),
                     "INVALID_REQUEST", why)


def test_bad_base64(env):
    expect_error(env, pf(operation=OP, fileBase64="YQ*=", fileName="a.csv"),
                 "INVALID_REQUEST", "not valid base64")


def test_base64_too_large(env):
    data = b64(b"x" * 5000)
    expect_error(env, pf(operation=OP, fileBase64=data, fileName="a.csv"),
                 "FILE_TOO_LARGE", "limit of 4096 bytes", extra_env={"KILN_INPUT_BYTES": 4096})


def test_large_base64_values(env):
    # Values past the parser's fast-path threshold (src/reqblob.c) reach the
    # operation byte for byte: two files and the single input.
    rows = "".join(f"{i},{i * 3 % 17},name{i % 13}\n" for i in range(6000))
    csv = ("a,b,c\n" + rows).encode()
    one, two = os.urandom(70000), os.urandom(50001)
    code = ("import hashlib\n"
            "for n in ('one.bin', 'two.bin'):\n"
            "    print(n, hashlib.sha256(open(n, 'rb').read()).hexdigest())\n")
    out, rc, _ = env.run({"action": "executeCode", "arguments": {"code": code, "files": [
        {"base64": b64(one), "name": "one.bin"},
        {"base64": b64(two).rstrip("="), "name": "two.bin"}]}})
    import hashlib
    want = "".join(f"{n} {hashlib.sha256(d).hexdigest()}\n" for n, d in (("one.bin", one),
                                                                       ("two.bin", two)))
    assert rc == 0 and out["result"]["stdout"] == want, out
    out, rc, _ = env.run(pf(operation="analyze", fileBase64=b64(csv), fileName="t.csv"))
    assert rc == 0 and out["result"]["rows"] == 6000, out
    # A bad character deep inside is reported at its own position.
    bad = b64(csv)
    bad = bad[:30001] + "*" + bad[30002:]
    expect_error(env, pf(operation=OP, fileBase64=bad, fileName="a.csv"),
                 "INVALID_REQUEST", "0x2a at 30001")
    # Malformed JSON after a large value: the position is the text's own.
    text = json.dumps(pf(operation=OP, fileBase64=b64(csv), fileName="a.csv"))[:-1] + ",}"
    out, rc, _ = env.run(text.encode())
    assert rc == 1 and out["error"]["code"] == "INVALID_REQUEST", out
    assert f"column {len(text)}" in out["error"]["message"], out["error"]["message"]


def test_missing_file_id(env):
    expect_error(env, pf(operation=OP, fileId="f_" + "0" * 32), "NOT_FOUND")
    expect_error(env, pf(operation=OP, fileId="../../etc/passwd"), "NOT_FOUND")


def test_bad_session(env):
    expect_error(env, {"action": "executeCode", "arguments": {"code": "1", "session": "a/b"}},
                 "INVALID_REQUEST", "'session'")


def test_url_scheme_refused(env):
    expect_error(env, pf(operation=OP, fileUrl="file:///etc/passwd"), "URL_BLOCKED")
    expect_error(env, pf(operation=OP, fileUrl="http://127.0.0.1:9/x.csv"), "URL_BLOCKED")


def test_id_echoed(env):
    out, rc, _ = env.run({"id": "req-7", "action": "nope", "arguments": {}})
    assert out["id"] == "req-7", out


def test_usage_exit_status(env):
    p = env.kiln("run", "--bogus")
    assert p.returncode == 2, p
    p = env.kiln("frobnicate")
    assert p.returncode == 2, p
    p = env.kiln("run", "/nonexistent/request.json")
    assert p.returncode == 2, p
    p = env.kiln("run", env.dir)  # a directory (it was INTERNAL, exit 1)
    assert p.returncode == 2 and b"Is a directory" in p.stderr and not p.stdout, p
    p = env.kiln("--help")
    assert p.returncode == 0 and b"usage: kiln" in p.stdout


def test_request_from_file(env):
    path = os.path.join(env.dir, "req.json")
    with open(path, "w") as f:
        json.dump({"action": "nope", "arguments": {}}, f)
    p = env.kiln("run", path)
    assert p.returncode == 1
    assert json.loads(p.stdout)["error"]["code"] == "INVALID_REQUEST"


def test_byte_order_mark_skipped(env):
    # A UTF-8 BOM before the request (a Windows editor's, PowerShell's
    # redirect) is skipped, as RFC 8259 lets a parser do; it was refused
    # with a message quoting an invisible character. Also in batch lines.
    req = {"action": "executeCode", "id": "b", "arguments": {"code": "print(7)"}}
    path = os.path.join(env.dir, "bom.json")
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf" + json.dumps(req).encode())
    p = env.kiln("run", path)
    assert p.returncode == 0 and json.loads(p.stdout)["result"]["stdout"] == "7\n", p
    p = env.kiln("batch", "--requests", path)
    assert p.returncode == 0 and json.loads(p.stdout)["id"] == "b", p
    p = env.kiln("run", "-", input=b"\xef\xbb\xbf\xef\xbb\xbf{}")  # one only
    assert p.returncode == 1 and b"INVALID_REQUEST" in p.stdout, p


def test_bad_config_is_usage_error(env):
    path = os.path.join(env.dir, "bad.json")
    with open(path, "w") as f:
        f.write('{"wall_ms": "soon"}')
    p = env.kiln("run", "-", input=b"{}", env={"KILN_CONFIG": path})
    assert p.returncode == 2
    assert b"'wall_ms' must be an integer" in p.stderr, p.stderr
    p = env.kiln("run", "-", input=b"{}", env={"KILN_WALL_MS": "abc"})
    assert p.returncode == 2 and b"KILN_WALL_MS" in p.stderr


if __name__ == "__main__":
    main(globals())
