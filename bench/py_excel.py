#!/usr/bin/python3
"""Python side of the parse_excel benchmark.

usage: py_excel.py openpyxl|pandas IN.xlsx OUT_DIR
openpyxl: read_only workbook, iterate every sheet's rows, write one CSV per
sheet. pandas: read_excel(sheet_name=None) then to_csv per sheet.
"""
import csv
import os
import sys

mode, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
if mode == "openpyxl":
    import openpyxl
    wb = openpyxl.load_workbook(src, read_only=True, data_only=True)
    for ws in wb.worksheets:
        with open(os.path.join(out, ws.title + ".csv"), "w", newline="") as f:
            w = csv.writer(f)
            for row in ws.iter_rows(values_only=True):
                w.writerow(["" if v is None else v for v in row])
    wb.close()
else:
    import pandas as pd
    for name, df in pd.read_excel(src, sheet_name=None).items():
        df.to_csv(os.path.join(out, name + ".csv"), index=False)
