#!/usr/bin/python3
"""analyze and transform over .xlsx sheets, checked against pandas.read_excel."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kilntest import CORPUS, b64, expect_error, main  # noqa: E402

import pandas as pd  # noqa: E402

XLSX = os.path.join(CORPUS, "xlsx")


def analyze(env, path, **options):
    with open(path, "rb") as f:
        data = f.read()
    options.setdefault("report", "none")
    out, rc, err = env.run({"action": "processFile", "arguments": {
        "operation": "analyze", "fileBase64": b64(data), "fileName": os.path.basename(path),
        "options": options}})
    assert out["ok"], out
    return out["result"]


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and (b is None or (isinstance(b, float) and math.isnan(b)))
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def check_numeric(res, df):
    cols = {c["name"]: c for c in res["columns"]}
    assert res["rows"] == len(df), (res["rows"], len(df))
    numeric = df.select_dtypes("number")
    assert numeric.columns.size > 0
    for name in numeric.columns:
        c = cols[str(name)]
        s = numeric[name].dropna()
        assert c["count"] == len(s), (name, c["count"], len(s))
        for key, want in [("mean", s.mean()), ("std", s.std()), ("min", s.min()),
                          ("max", s.max()), ("p50", s.median()),
                          ("p25", s.quantile(0.25)), ("p75", s.quantile(0.75))]:
            assert close(c[key], float(want)), (name, key, c[key], want)


def test_military_surplus_sheet_matches_pandas(env):
    path = os.path.join(XLSX, "ne_1033_military_surplus_1036_rows.xlsx")
    res = analyze(env, path)
    assert res["source"]["format"] == "xlsx"
    check_numeric(res, pd.read_excel(path))


def test_sheet_by_name_and_index(env):
    path = os.path.join(XLSX, "mixed_types_six_sheets.xlsx")
    book = pd.ExcelFile(path)
    name = book.sheet_names[2]
    res = analyze(env, path, sheet=name)
    assert res["source"]["sheet"] == name
    df = book.parse(name)
    assert res["rows"] == len(df)
    assert [c["name"] for c in res["columns"]] == [str(c) for c in df.columns]
    res2 = analyze(env, path, sheet=2)
    assert res2["source"]["sheet"] == name


def test_unknown_sheet_lists_sheets(env):
    path = os.path.join(XLSX, "mixed_types_six_sheets.xlsx")
    with open(path, "rb") as f:
        data = f.read()
    expect_error(env, {"action": "processFile", "arguments": {
        "operation": "analyze", "fileBase64": b64(data), "fileName": "m.xlsx",
        "options": {"sheet": "nope"}}}, "INVALID_REQUEST", "no sheet named 'nope'")


def test_dates_are_dates(env):
    path = os.path.join(XLSX, "dates_1904_epoch_builtin_format14.xlsx")
    res = analyze(env, path)
    types = {c["name"]: c["type"] for c in res["columns"]}
    df = pd.read_excel(path)
    for name in df.columns:
        if str(df[name].dtype).startswith("datetime64"):
            assert types[str(name)] in ("date", "datetime"), (name, types)
            c = [c for c in res["columns"] if c["name"] == str(name)][0]
            assert c["min"].startswith(str(df[name].min().date())), (c["min"], df[name].min())


def test_transform_reads_xlsx(env):
    path = os.path.join(XLSX, "ne_1033_military_surplus_1036_rows.xlsx")
    df = pd.read_excel(path)
    num = df.select_dtypes("number").columns[0]
    with open(path, "rb") as f:
        data = f.read()
    out, rc, _ = env.run({"action": "processFile", "arguments": {
        "operation": "transform", "fileBase64": b64(data), "fileName": "m.xlsx",
        "options": {"steps": [{"op": "select", "columns": [str(num)]}],
                    "output": {"format": "json"}}}})
    assert out["ok"], out
    assert out["result"]["rowsOut"] == len(df), out["result"]


if __name__ == "__main__":
    main(globals())
