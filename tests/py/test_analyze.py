#!/usr/bin/python3
"""processFile/analyze through `kiln run`, compared with pandas 1.5.

Pending (not run by tests/run_all.sh): move to tests/py/ once processFile
runs operations in the sandbox. The same comparison runs today in
tests/unit/t_analyze.c, which calls the operation directly.
"""
import base64, json, math, os, subprocess, sys, tempfile
import numpy as np
import pandas as pd

KILN = os.environ.get("KILN_BIN", "./kiln")
CORPUS = os.environ.get("KILN_CORPUS", "../shared/corpus")
FILES = ["csv/iris.csv", "csv/seattle_weather_daily.csv", "csv/synthetic_10_types_10k_rows.csv",
         "csv/nfl_play_by_play_10k.csv", "csv/weather_seattle_newyork.csv",
         "csv/worldcitiespop_20k.csv", "csv/us_airports.csv", "csv/iowa_electricity_by_source.csv"]
passed = failed = 0


def close(a, b):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None) == (b is None or math.isnan(b))
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) or abs(a - b) <= 1e-12


def check(name, cond, msg=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {msg}", file=sys.stderr)


for rel in FILES:
    path = os.path.join(CORPUS, rel)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, KILN_STORE_DIR=os.path.join(tmp, "store"))
        req = {"action": "processFile", "arguments": {
            "operation": "analyze", "fileName": os.path.basename(path),
            "fileBase64": base64.b64encode(open(path, "rb").read()).decode(),
            "options": {"report": "none"}}}
        p = subprocess.run([KILN, "run", "-"], input=json.dumps(req).encode(), env=env,
                           capture_output=True, timeout=60)
        try:
            resp = json.loads(p.stdout)
        except ValueError:
            check(rel, False, f"no JSON reply: {p.stderr[:300]!r}")
            continue
        if not resp.get("ok"):
            check(rel, False, json.dumps(resp.get("error")))
            continue
        res = resp["result"]
        df = pd.read_csv(path)
        num = df.select_dtypes(include=["number"]).select_dtypes(exclude=["bool"])
        check(rel + " rows", res["rows"] == len(df), f'{res["rows"]} != {len(df)}')
        cols = {c["name"]: c for c in res["columns"]}
        for c in num.columns:
            s = num[c]
            q = s.quantile([0.25, 0.5, 0.75])
            want = dict(count=s.count(), mean=s.mean(), std=s.std(), min=s.min(), max=s.max(),
                        p25=q.iloc[0], p50=q.iloc[1], p75=q.iloc[2])
            for k, v in want.items():
                got = cols.get(str(c), {}).get(k)
                check(f"{rel} {c} {k}", close(got, float(v)), f"{got} != {v}")
            # the histogram against numpy's over the same number of bins
            # (a value on an edge fell into the bin below it)
            h = cols.get(str(c), {}).get("histogram") or {}
            fin = s[np.isfinite(s)]
            if h.get("counts") and len(fin):
                cnt, edges = np.histogram(fin, bins=len(h["counts"]))
                check(f"{rel} {c} histogram", h["counts"] == cnt.tolist() and all(
                    close(a, b) for a, b in zip(h["edges"], edges.tolist())),
                    f'{h} != {cnt.tolist()} {edges.tolist()}')
        corr = num.corr().values.tolist()
        m = res["correlations"]["matrix"]
        check(rel + " corr", len(m) == len(corr) and all(
            close(m[i][j], corr[i][j]) for i in range(len(corr)) for j in range(len(corr))))

# Integers past 2^53 (IDs): min, max, distinct and top values are the exact
# int64s pandas has (doubles merged 2^53 and 2^53 + 1, and printed the int64
# max as 9.223372036854776e+18).
WIDE = {
    "wide_53.csv": "a\n9007199254740993\n9007199254740992\n1\n9007199254740993\n",
    "wide_ids.csv": "id\n1450000000000000001\n1450000000000000002\n1450000000000000002\n-5\n"
                    "9223372036854775807\n-9223372036854775808\n",
    "wide_then_float.csv": "a\n9007199254740993\n1.5\n",
    "wide_json.json": '[{"a": 9007199254740993}, {"a": 9007199254740992}, {"a": 3}]',
    # a JSON number's text was read past its end, into the next cell's
    # ("1" then "x.y": a float)
    "next_cell.json": '[{"a": 1, "b": "x.y"}, {"a": 2, "b": "z"}]',
    # past 64 bits: a float in a column with floats, else the column is text
    # (object), as are negatives beside one past INT64_MAX
    "past64_float.csv": "a\n1.5\n123456789012345678901234567890\n",
    "past64_text.csv": "a\n123456789012345678901234567890\n5\n",
    "neg_and_u64.csv": "a\n-1\n9223372036854775808\n",
    "below_int64_float.csv": "a\n-9223372036854775809\n2.5\n",
}
for name, text in WIDE.items():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ, KILN_STORE_DIR=os.path.join(tmp, "store"))
        p = subprocess.run([KILN, "analyze", path, "--json", "--report", "none"], env=env,
                           capture_output=True, timeout=60)
        col = json.loads(p.stdout)["result"]["columns"][0]
        s = (pd.read_json(path, dtype={"a": "int64", "b": "object"}) if name.endswith(".json")
             else pd.read_csv(path)).iloc[:, 0]
        if s.dtype.kind == "i":
            vc = s.value_counts(sort=False)
            first = {v: i for i, v in reversed(list(enumerate(s)))}
            want_top = sorted(vc.items(), key=lambda kv: (-kv[1], first[kv[0]]))[:5]
            got_top = [(t["value"], t["count"]) for t in col["top"]]
            check(f"{name} exact", col["type"] == "integer" and col["min"] == int(s.min()) and
                  col["max"] == int(s.max()) and col["distinct"] == s.nunique() and
                  got_top == [(int(v), int(c)) for v, c in want_top],
                  f"{col} != {s.min()} {s.max()} {s.nunique()} {want_top}")
        elif s.dtype.kind == "O":
            check(f"{name} text", col["type"] == "string" and col["distinct"] == s.nunique(),
                  f"{col} != {s.dtype} {s.nunique()}")
        else:
            check(f"{name} float", col["type"] == "float" and close(col["max"], float(s.max())),
                  f"{col} != {s.dtype} {s.max()}")

# Correlation of values with a large offset (1e15 + i): exact arithmetic is
# the oracle (pandas itself is off in the 5th digit here; kiln was further).
from fractions import Fraction  # noqa: E402
xs = [10**15 + i for i in range(10)]
ys = [10**15 - i * i for i in range(10)]
fx = [Fraction(v) for v in xs]
fy = [Fraction(v) for v in ys]
mx, my = sum(fx) / 10, sum(fy) / 10
exact = float(sum((a - mx) * (b - my) for a, b in zip(fx, fy))) / math.sqrt(
    float(sum((a - mx) ** 2 for a in fx) * sum((b - my) ** 2 for b in fy)))
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "offset.csv")
    with open(path, "w") as f:
        f.write("x,y\n" + "".join("%d.0,%d.0\n" % (a, b) for a, b in zip(xs, ys)))
    env = dict(os.environ, KILN_STORE_DIR=os.path.join(tmp, "store"))
    p = subprocess.run([KILN, "analyze", path, "--json", "--report", "none"], env=env,
                       capture_output=True, timeout=60)
    got = json.loads(p.stdout)["result"]["correlations"]["matrix"][0][1]
    check("offset correlation", abs(got - exact) < 1e-12, f"{got} != {exact}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
