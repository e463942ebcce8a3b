#!/usr/bin/python3
"""Walk the whole shared corpus through kiln: every file yields a result or a
clear error from SPEC's list — never INTERNAL, a sandbox failure, a crash, a
hang or a memory blow-up — and, where the corpus ships expected output, the
parse matches it."""
import concurrent.futures
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilntest import CORPUS, b64, main  # noqa: E402

# What a malformed or unsupported input may answer; anything else fails.
CLEAR_ERRORS = {"PARSE_ERROR", "UNSUPPORTED_FILE", "FILE_TOO_LARGE", "OUTPUT_TOO_LARGE"}


def corpus_files():
    for root, dirs, files in os.walk(CORPUS):
        dirs.sort()
        if os.path.basename(root) == "expected":
            continue
        for f in sorted(files):
            if f == "MANIFEST.tsv" or f.endswith(".expected.json"):
                continue
            yield os.path.join(root, f)


def run_op(env, path, operation, options=None):
    with open(path, "rb") as f:
        data = f.read()
    req = {"action": "processFile", "arguments": {
        "operation": operation, "fileBase64": b64(data), "fileName": os.path.basename(path),
        "timeoutMs": 30000, "options": options or {}}}
    out, rc, err = env.run(req, timeout=90)
    return out


def check(env, path, operation, options):
    rel = os.path.relpath(path, CORPUS)
    try:
        out = run_op(env, path, operation, options)
    except Exception as e:  # noqa: BLE001 - a crash or non-JSON output
        return f"{rel} ({operation}): {e}"
    if out.get("ok"):
        return None
    code, msg = out["error"]["code"], out["error"].get("message", "")
    if code not in CLEAR_ERRORS:
        return f"{rel} ({operation}): {code}: {msg}"
    if len(msg) < 10:
        return f"{rel} ({operation}): {code} with an unhelpful message {msg!r}"
    return None


def test_every_corpus_file_gets_a_result_or_a_clear_error(env):
    jobs = []
    for path in corpus_files():
        low = path.lower()
        if low.endswith((".xlsx", ".xlsm", ".xls")):
            jobs.append((path, "parse_excel", {}))
        jobs.append((path, "analyze", {"report": "html"}))
    assert len(jobs) > 500, len(jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(lambda j: check(env, *j), jobs) if p]
    assert not problems, "\n".join(problems)


def test_nasty_files_are_refused_for_the_right_reason(env):
    nasty = os.path.join(CORPUS, "nasty")
    want = {
        "encrypted_agile_aes.xlsx": ("UNSUPPORTED_FILE", "encrypted"),
        "encrypted_password_protected.xlsx": ("UNSUPPORTED_FILE", "encrypted"),
        "billion_laughs_core_and_sst.xlsx": ("PARSE_ERROR", "DTD"),
        "xml_entity_expansion_shared_strings.xlsx": ("PARSE_ERROR", "DTD"),
        "zero_byte.xlsx": (None, None),
    }
    for name, (code, text) in want.items():
        out = run_op(env, os.path.join(nasty, name), "parse_excel")
        if code is None:
            assert not out["ok"] and out["error"]["code"] in CLEAR_ERRORS, (name, out)
            continue
        assert not out["ok"] and out["error"]["code"] == code, (name, out)
        assert text in out["error"]["message"], (name, out["error"])


def test_csv_spectrum_parses_as_expected(env):
    """csv-spectrum: each CSV with its expected records (all values as text)."""
    d = os.path.join(CORPUS, "csv", "spectrum")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".csv"):
            continue
        with open(os.path.join(d, f[:-4] + ".json"), encoding="utf-8") as fh:
            want = json.load(fh)
        # Read every column as text: csv-spectrum expects the raw fields.
        out = run_op(env, os.path.join(d, f), "transform",
                     {"types": "string", "output": {"format": "json"}})
        if not want:
            assert (out["ok"] and out["result"]["rowsOut"] == 0) or \
                out["error"]["code"] in CLEAR_ERRORS, (f, out)
            continue
        assert out["ok"], (f, out)
        fid = out["files"][0]["id"]
        dst = os.path.join(env.dir, f + ".out.json")
        p = env.kiln("files", "get", fid, "-o", dst)
        assert p.returncode == 0, p
        with open(dst, encoding="utf-8") as fh:
            got = json.load(fh)

        def text(v):
            if isinstance(v, bool):
                return str(v).lower()
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return "" if v is None else str(v)
        got_txt = [{k: text(v) for k, v in row.items()} for row in got]
        assert got_txt == want, (f, got_txt, want)


if __name__ == "__main__":
    main(globals())
