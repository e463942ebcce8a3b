#!/usr/bin/python3
"""Functional cases: tests/func/NNN-name/ holds request.json and expected.json.

kiln runs the request (`kiln run request.json`) with the case directory as its
working directory and a private store; the response must contain
expected.json: every key given there must be present with an equal value
(objects are matched recursively as subsets, arrays element by element and
with equal length). The string "<any>" matches any value, "<string>" any
string, "<int>" any integer, "<contains:TEXT>" any string containing TEXT.
expected.json may also hold "exit": the expected exit status (default 0 when
ok is true, else 1). An optional env.json adds environment variables.
"""
import json
import os
import subprocess
import sys
import tempfile

KILN = os.environ.get("KILN_BIN", os.path.abspath("kiln"))
HERE = os.path.dirname(os.path.abspath(__file__))


def match(exp, got, path="$"):
    if isinstance(exp, str):
        if exp == "<any>":
            return []
        if exp == "<string>":
            return [] if isinstance(got, str) else [f"{path}: expected a string, got {got!r}"]
        if exp == "<int>":
            ok = isinstance(got, int) and not isinstance(got, bool)
            return [] if ok else [f"{path}: expected an integer, got {got!r}"]
        if exp.startswith("<contains:") and exp.endswith(">"):
            needle = exp[len("<contains:"):-1]
            if isinstance(got, str) and needle in got:
                return []
            return [f"{path}: expected a string containing {needle!r}, got {got!r}"]
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object, got {got!r}"]
        errs = []
        for k, v in exp.items():
            if k not in got:
                errs.append(f"{path}.{k}: missing")
            else:
                errs += match(v, got[k], f"{path}.{k}")
        return errs
    if isinstance(exp, list):
        if not isinstance(got, list) or len(got) != len(exp):
            return [f"{path}: expected a list of {len(exp)}, got {got!r}"]
        errs = []
        for i, (a, b) in enumerate(zip(exp, got)):
            errs += match(a, b, f"{path}[{i}]")
        return errs
    if exp != got or type(exp) != type(got):
        return [f"{path}: expected {exp!r}, got {got!r}"]
    return []


def main():
    filt = sys.argv[1:]
    passed = failed = 0
    for name in sorted(os.listdir(HERE)):
        d = os.path.join(HERE, name)
        if not os.path.isdir(d) or not os.path.exists(os.path.join(d, "request.json")):
            continue
        if filt and not any(f in name for f in filt):
            continue
        with open(os.path.join(d, "expected.json")) as f:
            exp = json.load(f)
        want_exit = exp.pop("exit", 0 if exp.get("ok", True) else 1)
        env = dict(os.environ)
        with tempfile.TemporaryDirectory(prefix="kiln-func-") as tmp:
            env["KILN_STORE_DIR"] = os.path.join(tmp, "store")
            env.pop("KILN_CONFIG", None)
            env["XDG_CONFIG_HOME"] = tmp
            if os.path.exists(os.path.join(d, "env.json")):
                with open(os.path.join(d, "env.json")) as f:
                    env.update({k: str(v) for k, v in json.load(f).items()})
            try:
                p = subprocess.run([KILN, "run", "request.json"], cwd=d, env=env,
                                   capture_output=True, timeout=120)
            except subprocess.TimeoutExpired:
                print(f"FAIL {name}: timed out", file=sys.stderr)
                failed += 1
                continue
        errs = []
        try:
            got = json.loads(p.stdout)
            errs = match(exp, got)
        except ValueError:
            errs = [f"stdout is not JSON: {p.stdout[:300]!r}"]
        if p.returncode != want_exit:
            errs.append(f"exit status {p.returncode}, expected {want_exit}")
        if errs:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(errs), file=sys.stderr)
            if p.stderr:
                print(f"     stderr: {p.stderr[:500]!r}", file=sys.stderr)
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
