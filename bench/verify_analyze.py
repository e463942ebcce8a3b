#!/usr/bin/python3
"""Check an analyze result (JSON from `op_bench` with OP_BENCH_DUMP=1 or the
`result` of `kiln run`) against pandas on the same CSV: rows, per column
count, distinct (nunique), top-value counts, numeric stats within 1e-9.

usage: verify_analyze.py DATA.csv RESULT.json
"""
import json
import math
import sys

import pandas as pd

df = pd.read_csv(sys.argv[1])
res = json.load(open(sys.argv[2]))
res = res.get("result", res)
bad = 0


def close(a, b):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None) == (b is None or (isinstance(b, float) and math.isnan(b)))
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) or abs(a - b) <= 1e-12


def fail(msg):
    global bad
    bad += 1
    print("MISMATCH", msg)


if res["rows"] != len(df):
    fail(f"rows {res['rows']} != {len(df)}")
for c in res["columns"]:
    s = df[c["name"]]
    if c["count"] != s.count():
        fail(f"{c['name']} count {c['count']} != {s.count()}")
    if c["type"] != "boolean" and c["distinct"] != s.nunique():
        fail(f"{c['name']} distinct {c['distinct']} != {s.nunique()}")
    vc = s.value_counts()
    want = list(vc.values[:len(c["top"])])
    got = [t["count"] for t in c["top"]]
    if got != want:
        fail(f"{c['name']} top counts {got} != {want}")
    if c["type"] in ("integer", "float"):
        q = s.quantile([0.25, 0.5, 0.75])
        for k, v in dict(mean=s.mean(), std=s.std(), min=s.min(), max=s.max(), p25=q.iloc[0],
                         p50=q.iloc[1], p75=q.iloc[2]).items():
            if not close(c.get(k), float(v)):
                fail(f"{c['name']} {k} {c.get(k)} != {v}")
print("ok" if not bad else f"{bad} mismatches")
sys.exit(1 if bad else 0)
