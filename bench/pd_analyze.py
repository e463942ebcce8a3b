#!/usr/bin/python3
"""pandas side of the analyze benchmark: read_csv + describe(all) + corr."""
import sys

import pandas as pd

df = pd.read_csv(sys.argv[1])
d = df.describe(include="all")
c = df.corr(numeric_only=True)
print(len(df), d.shape, c.shape)
