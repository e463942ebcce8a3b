#!/usr/bin/python3
"""processFile/transform through `kiln run`, compared with pandas 1.5.

Each test posts a corpus CSV (or a small inline one) with a list of steps,
fetches the output file with `kiln files get` and compares it with what
pandas computes from the same input: numbers within 1e-9 relative, row
order exact where the steps sort.
"""
import io
import json
import math
import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kilntest  # noqa: E402
from kilntest import b64, expect_error  # noqa: E402


def csv_path(name):
    return os.path.join(kilntest.CORPUS, "csv", name)


def request(data, name, steps, output=None, **extra):
    opts = {"steps": steps}
    if output is not None:
        opts["output"] = output
    opts.update(extra)
    return {"action": "processFile", "arguments": {
        "operation": "transform", "fileName": name, "fileBase64": b64(data), "options": opts}}


def run_ok(env, data, name, steps, output=None, **extra):
    out, rc, err = env.run(request(data, name, steps, output, **extra))
    assert out.get("ok") is True, f"failed: {json.dumps(out)[:800]} {err[:300]}"
    assert rc == 0, rc
    return out


def fetch(env, out, path):
    files = out["files"]
    assert len(files) == 1, files
    p = env.kiln("files", "get", files[0]["id"], "-o", path)
    assert p.returncode == 0, p.stderr
    return path


def close(a, b):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and \
            (b is None or (isinstance(b, float) and math.isnan(b)))
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) or abs(a - b) <= 1e-12


def test_iris_group_mean(env):
    data = open(csv_path("iris.csv"), "rb").read()
    measures = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    aggs = [{"column": m, "fn": "mean", "as": m} for m in measures]
    aggs.append({"fn": "count", "as": "n"})
    out = run_ok(env, data, "iris.csv", [{"op": "group", "by": ["species"], "aggs": aggs}],
                 {"format": "json"})
    res = out["result"]
    assert res["rowsIn"] == 150 and res["rowsOut"] == 3, res
    got = json.load(open(fetch(env, out, os.path.join(env.dir, "r.json"))))
    df = pd.read_csv(csv_path("iris.csv"))
    want = df.groupby("species", sort=False, dropna=False)[measures].mean()
    assert [r["species"] for r in got] == list(want.index)
    for r in got:
        for m in measures:
            assert close(r[m], float(want.loc[r["species"], m])), (r, m)
        assert r["n"] == 50
    assert res["columns"][1] == {"name": "sepal_length", "type": "float"}
    assert res["preview"][0]["species"] == got[0]["species"]


def test_seattle_filter_derive_sort(env):
    data = open(csv_path("seattle_weather_daily.csv"), "rb").read()
    steps = [
        {"op": "filter", "where": "weather in ('rain', 'snow') and precipitation > 5"},
        {"op": "derive", "column": "range", "expr": "temp_max - temp_min"},
        {"op": "derive", "column": "month", "expr": "month(date)"},
        {"op": "sort", "by": [{"column": "range", "desc": True}, "date"]},
        {"op": "select", "columns": ["date", "month", "precipitation", "range", "weather"]},
    ]
    out = run_ok(env, data, "seattle_weather_daily.csv", steps)
    got = pd.read_csv(fetch(env, out, os.path.join(env.dir, "r.csv")))
    df = pd.read_csv(csv_path("seattle_weather_daily.csv"), parse_dates=["date"])
    df = df[df.weather.isin(["rain", "snow"]) & (df.precipitation > 5)].copy()
    df["range"] = df.temp_max - df.temp_min
    df["month"] = df.date.dt.month
    df = df.sort_values(["range", "date"], ascending=[False, True], kind="stable")
    assert len(got) == len(df) == out["result"]["rowsOut"], (len(got), len(df))
    assert list(got.columns) == ["date", "month", "precipitation", "range", "weather"]
    assert list(got.date) == [d.strftime("%Y-%m-%d") for d in df.date]
    assert list(got.month) == list(df.month)
    for a, b in zip(got.range, df.range):
        assert close(a, b), (a, b)
    types = {c["name"]: c["type"] for c in out["result"]["columns"]}
    assert types == {"date": "date", "month": "integer", "precipitation": "float",
                     "range": "float", "weather": "string"}, types


def test_synthetic_group_dedupe_limit(env):
    data = open(csv_path("synthetic_10_types_10k_rows.csv"), "rb").read()
    steps = [
        {"op": "derive", "column": "decade", "expr": "year(date) - year(date) % 10"},
        {"op": "group", "by": ["boolean", "decade"], "aggs": [
            {"column": "integer", "fn": "sum", "as": "isum"},
            {"column": "float", "fn": "max", "as": "fmax"},
            {"column": "decimal", "fn": "median", "as": "dmed"},
            {"column": "string", "fn": "count_distinct", "as": "nstr"}]},
        {"op": "sort", "by": ["boolean", "decade"]},
    ]
    out = run_ok(env, data, "synthetic.csv", steps, {"format": "jsonl"})
    got = [json.loads(line) for line in
           open(fetch(env, out, os.path.join(env.dir, "r.jsonl"))).read().splitlines()]
    df = pd.read_csv(csv_path("synthetic_10_types_10k_rows.csv"))
    d = pd.to_datetime(df["date"], errors="coerce")
    df["decade"] = d.dt.year - d.dt.year % 10
    g = df.groupby(["boolean", "decade"], dropna=False).agg(
        isum=("integer", "sum"), fmax=("float", "max"), dmed=("decimal", "median"),
        nstr=("string", "nunique")).reset_index()
    g = g.sort_values(["boolean", "decade"], na_position="last", kind="stable")
    assert len(got) == len(g), (len(got), len(g))
    for r, (_, w) in zip(got, g.iterrows()):
        assert r["boolean"] == bool(w["boolean"]), (r, w)
        assert (r["decade"] is None) == pd.isna(w["decade"]), (r, w)
        if r["decade"] is not None:
            assert r["decade"] == int(w["decade"])
        assert close(r["isum"], float(w["isum"])), (r, w)
        assert close(r["fmax"], float(w["fmax"])), (r, w)
        assert close(r["dmed"], float(w["dmed"])), (r, w)
        assert r["nstr"] == w["nstr"], (r, w)
    # dedupe + limit + offset
    steps = [{"op": "dedupe", "columns": ["boolean"], "keep": "last"},
             {"op": "limit", "n": 1, "offset": 1}]
    out = run_ok(env, data, "synthetic.csv", steps, {"format": "json"})
    want = df.drop_duplicates(subset=["boolean"], keep="last").iloc[1:2]
    assert out["result"]["rowsOut"] == 1
    assert out["result"]["preview"][0]["string"] == want.iloc[0]["string"]
    assert out["result"]["steps"] == [{"op": "dedupe", "rowsOut": 2},
                                      {"op": "limit", "rowsOut": 1}]


def test_xlsx_output(env):
    import openpyxl
    data = ("name,price,when,ok,at\n"
            "a,1.5,2021-03-04,true,2021-03-04T05:06:07\n"
            "=HYPERLINK(\"x\"),2,2020-12-31,false,\n"
            "c,,,,\n")
    out = run_ok(env, data, "x.csv", [{"op": "derive", "column": "p2", "expr": "price * 2"}],
                 {"format": "xlsx", "name": "report"})
    assert out["files"][0]["name"] == "report.xlsx"
    path = fetch(env, out, os.path.join(env.dir, "r.xlsx"))
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("name", "price", "when", "ok", "at", "p2"), rows[0]
    assert rows[1][0] == "a" and rows[1][1] == 1.5 and rows[1][3] is True, rows[1]
    assert rows[1][2].year == 2021 and rows[1][2].month == 3 and rows[1][2].day == 4
    assert (rows[1][4].hour, rows[1][4].minute, rows[1][4].second) == (5, 6, 7)
    assert rows[1][5] == 3.0
    assert rows[2][0] == "'=HYPERLINK(\"x\")", rows[2]  # neutralised
    assert rows[3][1:] == (None, None, None, None, None), rows[3]
    assert ws["A1"].font.b is True
    assert ws.freeze_panes == "A2", ws.freeze_panes
    assert ws.auto_filter.ref == "A1:F4", ws.auto_filter.ref
    assert "yy" in ws["C2"].number_format, ws["C2"].number_format
    assert ws.column_dimensions["E"].width >= 19


def test_csv_injection(env):
    data = "a,b,n\n=1+2,@x,-3\n+SUM(A1),\tq,4\nsafe,-x,5\n"
    out = run_ok(env, data, "inj.csv", [])
    text = open(fetch(env, out, os.path.join(env.dir, "r.csv")), newline="").read()
    assert text == "a,b,n\r\n'=1+2,'@x,-3\r\n'+SUM(A1),'\tq,4\r\nsafe,'-x,5\r\n", repr(text)
    env2 = kilntest.Env()
    try:
        out = run_ok(env2, data, "inj.csv", [], {"neutraliseFormulas": False})
        text = open(fetch(env2, out, os.path.join(env2.dir, "r.csv")), newline="").read()
        assert text.startswith("a,b,n\r\n=1+2,@x,-3\r\n"), repr(text)
    finally:
        env2.close()


def test_errors(env):
    data = open(csv_path("iris.csv"), "rb").read()
    expect_error(env, request(data, "iris.csv", [
        {"op": "filter", "where": "sepal_length > 5"},
        {"op": "filter", "where": "sepal_lenght > 5"}]), "INVALID_REQUEST",
        "steps[1] (filter): expression error at character 1: unknown column 'sepal_lenght' "
        "(did you mean 'sepal_length'?)")
    expect_error(env, request(data, "iris.csv", [
        {"op": "derive", "column": "x", "expr": "sepal_length * (2 +"}]), "INVALID_REQUEST",
        "steps[0] (derive): expression error at character 20: unexpected end of expression")
    expect_error(env, request(data, "iris.csv", [{"op": "pivot"}]), "INVALID_REQUEST",
                 "steps[0]: unknown op 'pivot'")
    expect_error(env, request(data, "iris.csv", [{"op": "select", "columns": ["specis"]}]),
                 "INVALID_REQUEST", "unknown column 'specis' (did you mean 'species'?)")
    expect_error(env, request(data, "iris.csv", [
        {"op": "limit", "n": 5},
        {"op": "cast", "column": "species", "to": "float"}]), "PARSE_ERROR",
        "steps[1] (cast): row 1: cannot convert 'Iris-setosa' in column 'species' to float")
    expect_error(env, request("a\n1\nx2\n", "c.csv", [
        {"op": "cast", "column": "a", "to": "integer"}]), "PARSE_ERROR",
        "row 2: cannot convert 'x2'")
    expect_error(env, request(data, "iris.csv", [], {"format": "xml"}), "INVALID_REQUEST",
                 "'format' must be")


def test_json_typed_values(env):
    data = "k,v,d,b\nx,1,2020-01-02,true\ny,2.5,,false\nz,NA,2020-01-03,\n"
    out = run_ok(env, data, "t.csv", [{"op": "fill", "columns": ["v"], "value": 0}],
                 {"format": "json"})
    got = json.load(open(fetch(env, out, os.path.join(env.dir, "r.json"))))
    assert got == [{"k": "x", "v": 1.0, "d": "2020-01-02", "b": True},
                   {"k": "y", "v": 2.5, "d": None, "b": False},
                   {"k": "z", "v": 0.0, "d": "2020-01-03", "b": None}], got


def test_types_option_keeps_leading_zeros(env):
    data = b"zip,qty\n08123,1\n00501,2\n"
    out = run_ok(env, data, "z.csv", [], {"format": "json"}, types={"zip": "string"})
    rows = json.load(open(fetch(env, out, os.path.join(env.dir, "z.json"))))
    assert rows == [{"zip": "08123", "qty": 1}, {"zip": "00501", "qty": 2}], rows
    out = run_ok(env, data, "z.csv", [], {"format": "json"}, types="string")
    rows = json.load(open(fetch(env, out, os.path.join(env.dir, "z2.json"))))
    assert rows[1] == {"zip": "00501", "qty": "2"}, rows
    # Inference alone reads the column as integers, as pandas does.
    out = run_ok(env, data, "z.csv", [], {"format": "json"})
    rows = json.load(open(fetch(env, out, os.path.join(env.dir, "z3.json"))))
    assert rows[0]["zip"] == 8123, rows
    expect_error(env, request(data, "z.csv", [], types={"zipp": "string"}), "INVALID_REQUEST",
                 "unknown column 'zipp' (did you mean 'zip'?)")
    expect_error(env, request(data, "z.csv", [], types={"zip": "text"}), "INVALID_REQUEST",
                 "must be one of integer")


if __name__ == "__main__":
    kilntest.main(globals())
