#!/usr/bin/python3
"""Run every request in samples/*.json so none can rot: each must succeed
(or, for samples named error-*.json, fail with the code in its "expectError")."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.environ.get("KILN_BIN", os.path.join(ROOT, "kiln"))


def main():
    passed = failed = 0
    sdir = os.path.join(ROOT, "samples")
    for name in sorted(os.listdir(sdir)):
        if not name.endswith(".json"):
            continue
        path = os.path.join(sdir, name)
        with open(path) as f:
            req = json.load(f)
        want = req.pop("expectError", None)
        with tempfile.TemporaryDirectory(prefix="kiln-sample-") as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
            env["KILN_STORE_DIR"] = os.path.join(tmp, "store")
            env["XDG_CONFIG_HOME"] = tmp
            p = subprocess.run([KILN, "run", "-"], input=json.dumps(req).encode(), cwd=ROOT,
                               env=env, capture_output=True, timeout=120)
        try:
            out = json.loads(p.stdout)
        except ValueError:
            out = None
        ok = out is not None and (
            (want is None and out.get("ok") is True and p.returncode == 0) or
            (want is not None and out.get("ok") is False and out["error"]["code"] == want))
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL sample {name}: exit {p.returncode}, {p.stdout[:400]!r} "
                  f"{p.stderr[:300]!r}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
