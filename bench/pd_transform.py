#!/usr/bin/python3
"""pandas side of the transform benchmark: derive total = price * qty, then
group by city summing total and amount, written as CSV."""
import sys

import pandas as pd

df = pd.read_csv(sys.argv[1])
df["total"] = df["price"] * df["qty"]
g = df.groupby("city", as_index=False)[["total", "amount"]].sum()
g.to_csv(sys.argv[2], index=False)
