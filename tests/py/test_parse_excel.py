"""parse_excel through `kiln run` processFile, checked against openpyxl.

For every corpus workbook that openpyxl 3.0.9 reads (MANIFEST.tsv column
openpyxl_3.0.9_result == ok ...) and that is small enough to keep the suite
fast, the CSV files kiln stores are fetched with `kiln files get` and every
non-empty cell is compared with openpyxl's data_only value, rendered the way
parse_excel documents it (ISO 8601 dates, TRUE/FALSE, shortest numbers).
Durations ([h]:mm formats, a timedelta in openpyxl) are compared as days.
"""
import csv
import datetime
import io
import json
import math
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kilntest  # noqa: E402

warnings.simplefilter("ignore")
try:
    import openpyxl  # noqa: E402
except ImportError:  # pragma: no cover
    openpyxl = None

MAX_BYTES = 400_000
# A spread of writers and features; every `kiln run` costs ~0.4 s, so the
# suite compares these rather than the whole corpus (the C unit test runs
# every corpus workbook through the operation).
ORACLE_FILES = [
    "cell_types_date1904_bool_error.xlsx", "cells_without_r_attribute.xlsx",
    "date1904_with_text_formula_results.xlsx", "date_formats_with_quoted_literals.xlsx",
    "dates_1900_epoch_builtin_format14.xlsx", "dates_1904_epoch_builtin_format14.xlsx",
    "dates_datetime_duration_libreoffice.xlsx", "dates_1904_system_libreoffice.xlsx",
    "dates_iso8601_cell_type_d.xlsx", "error_values_all_kinds.xlsx",
    "empty_rows_and_columns_date1904.xlsx", "float_extremes_1e100_1e-100.xlsx",
    "float_rounding_artifacts.xlsx", "inline_string_with_v_element.xlsx",
    "korean_shared_formula_in_styled_blank_grid.xlsx", "mixed_types_six_sheets.xlsx",
    "nonstandard_xml_namespace_prefix.xlsx", "phonetic_ruby_runs.xlsx",
    "rows_and_cells_without_refs.xlsx", "typed_columns_date1904.xlsx",
    "whitespace_preserve_inline_vs_shared.xlsx", "xml_char_entities_in_strings.xlsx",
    "percent_and_date_formats_guess_types.xlsx", "number_precision_display_cases.xlsx",
]
# Workbooks whose value differs from openpyxl's by design (see the report):
# openpyxl 3.0.9 does not treat built-in formats 27-36/50-58 as dates, and it
# leaves _xHHHH_ escapes of inline strings alone.
KNOWN = {}


def manifest():
    rows = []
    with open(os.path.join(kilntest.CORPUS, "MANIFEST.tsv"), encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if r["file"].endswith(".xlsx") and r["file"].startswith("xlsx/"):
                rows.append(r)
    return rows


def fmt_num(v):
    if isinstance(v, int):
        return str(v)
    if v == int(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def ms_text(t):
    ms = round(t.microsecond / 1000)
    s = t.strftime("%H:%M:%S")
    return s + (".%03d" % ms if ms else "")


def oracle_cell(v):
    """Accepted texts for an openpyxl value (a set), or a float for durations."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return {"TRUE" if v else "FALSE"}
    if isinstance(v, (int, float)):
        return {fmt_num(v)}
    if isinstance(v, datetime.datetime):
        d = v.strftime("%Y-%m-%d") if v.year >= 1000 else "%04d-%02d-%02d" % (v.year, v.month, v.day)
        full = d + "T" + ms_text(v)
        return {d, full} if v.time() == datetime.time(0) else {full}
    if isinstance(v, datetime.date):
        return {v.isoformat()}
    if isinstance(v, datetime.time):
        return {ms_text(v)}
    if isinstance(v, datetime.timedelta):
        return v.total_seconds() / 86400.0
    return {str(v)}


def ours_cells(text, first_row):
    cells = {}
    for i, rec in enumerate(csv.reader(io.StringIO(text, newline=""))):
        for j, v in enumerate(rec):
            if v != "":
                cells[(first_row + i, j)] = v
    return cells


def oracle_cells(ws):
    cells = {}
    for row in ws.iter_rows():
        for c in row:
            o = oracle_cell(c.value)
            if o is not None:
                cells[(c.row, c.column - 1)] = o
    return cells


def compare(name, sheet, ours, want):
    bad = []
    for k in sorted(set(ours) | set(want)):
        a, w = ours.get(k), want.get(k)
        ref = openpyxl.utils.get_column_letter(k[1] + 1) + str(k[0])
        if isinstance(w, float):
            try:
                if a is not None and math.isclose(float(a), w, rel_tol=0, abs_tol=1e-8):
                    continue
            except ValueError:
                pass
        elif a is not None and w is not None and a in w:
            continue
        bad.append(f"{name}[{sheet}]!{ref}: kiln {a!r}, openpyxl {w if w is None else sorted(w) if isinstance(w, set) else w!r}")
    return bad


def run_parse(env, path, options=None):
    with open(path, "rb") as f:
        data = f.read()
    req = {"action": "processFile", "arguments": {
        "operation": "parse_excel", "fileBase64": kilntest.b64(data),
        "fileName": os.path.basename(path), "options": options or {"header": False}}}
    out, rc, err = env.run(req)
    return out, rc, err


def fetch(env, fid, dest):
    if os.path.exists(dest):
        os.unlink(dest)
    p = env.kiln("files", "get", fid, "-o", dest)
    assert p.returncode == 0, f"kiln files get {fid}: {p.stderr[:300]!r}"
    with open(dest, encoding="utf-8", newline="") as f:
        return f.read()


def test_openpyxl_oracle(env):
    if openpyxl is None:
        return "skip"
    problems = []
    checked = 0
    for r in manifest():
        path = os.path.join(kilntest.CORPUS, r["file"])
        if not r["openpyxl_3.0.9_result"].startswith("ok") or "Strict" in r["openpyxl_3.0.9_result"]:
            continue
        if os.path.basename(path) not in ORACLE_FILES:
            continue
        if os.path.getsize(path) > MAX_BYTES or r["file"] in KNOWN:
            continue
        try:
            wb = openpyxl.load_workbook(path, data_only=True)
        except Exception:  # openpyxl cannot read it: no oracle
            continue
        out, rc, err = run_parse(env, path)
        name = os.path.basename(path)
        if not out.get("ok"):
            problems.append(f"{name}: kiln failed: {out.get('error')}")
            continue
        files = {f["name"]: f["id"] for f in out.get("files", [])}
        by_name = {s["name"]: s for s in out["result"]["sheets"]}
        for ws in wb.worksheets:
            s = by_name.get(ws.title)
            if s is None:
                problems.append(f"{name}: sheet {ws.title!r} missing from the result")
                continue
            ours = {}
            if s["file"]:
                text = fetch(env, files[s["file"]], os.path.join(env.dir, "got.csv"))
                ours = ours_cells(text, s["notes"]["firstRow"])
            problems += compare(name, ws.title, ours, oracle_cells(ws))
        checked += 1
    assert checked >= 20, f"only {checked} workbooks compared"
    assert not problems, f"{len(problems)} cell mismatches:\n" + "\n".join(problems[:60])


def test_visibility_and_summary(env):
    path = os.path.join(kilntest.CORPUS, "xlsx/sheets_visible_hidden_veryhidden_chartsheet.xlsx")
    out, rc, err = run_parse(env, path, {})
    assert rc == 0 and out["ok"], out
    vis = [s["visibility"] for s in out["result"]["sheets"]]
    assert "hidden" in vis and "veryHidden" in vis and "visible" in vis, vis
    for s in out["result"]["sheets"]:
        for k in ("name", "index", "rows", "columns", "header", "preview", "file", "notes"):
            assert k in s, (k, s)
    assert out["result"]["dateSystem"] == "1900"


def test_errors(env):
    enc = os.path.join(kilntest.CORPUS, "nasty/encrypted_agile_aes.xlsx")
    with open(enc, "rb") as f:
        data = f.read()
    kilntest.expect_error(env, {"action": "processFile", "arguments": {
        "operation": "parse_excel", "fileBase64": kilntest.b64(data), "fileName": "x.xlsx"}},
        "UNSUPPORTED_FILE", "encrypted")
    bomb = os.path.join(kilntest.CORPUS, "nasty/billion_laughs_core_and_sst.xlsx")
    with open(bomb, "rb") as f:
        data = f.read()
    kilntest.expect_error(env, {"action": "processFile", "arguments": {
        "operation": "parse_excel", "fileBase64": kilntest.b64(data), "fileName": "x.xlsx"}},
        "PARSE_ERROR", "DTD")
    ok = os.path.join(kilntest.CORPUS, "xlsx/sheet_visibility_with_data.xlsx")
    with open(ok, "rb") as f:
        data = f.read()
    kilntest.expect_error(env, {"action": "processFile", "arguments": {
        "operation": "parse_excel", "fileBase64": kilntest.b64(data), "fileName": "x.xlsx",
        "options": {"sheets": ["Nope"]}}}, "INVALID_REQUEST", "'Visible', 'Hidden', 'VeryHidden'")


def test_sheets_by_index_from_the_command_line(env):
    """--sheets 1 is the second sheet, as the help says (it was 'unknown
    sheet'); a sheet whose name is those digits is found by name first."""
    path = os.path.join(env.dir, "s.xlsx")
    wb = openpyxl.Workbook()
    wb.active.title = "One"
    wb.active.append(["a"])
    wb.active.append([1])
    for name, v in (("Two", 2), ("0", 3)):
        ws = wb.create_sheet(name)
        ws.append(["a"])
        ws.append([v])
    wb.save(path)
    for sel, want in (("1", ["Two"]), ("0", ["0"]), ("2,One", ["One", "0"]), ("One,1", ["One", "Two"])):
        p = env.kiln("parse-excel", path, "--json", "--sheets", sel)
        assert p.returncode == 0, (sel, p.stdout, p.stderr)
        got = [s["name"] for s in json.loads(p.stdout)["result"]["sheets"]]
        assert got == want, (sel, got)
    p = env.kiln("parse-excel", path, "--json", "--sheets", "3")
    assert p.returncode == 1 and b"unknown sheet '3'" in p.stdout, p


if __name__ == "__main__":
    kilntest.main(globals())
