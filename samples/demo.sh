#!/bin/sh
# `make demo`: kiln on the sample files — the built-in analyze operation, the
# same request as raw JSON, and Python code in the sandbox.
set -eu
cd "$(dirname "$0")/.."
export KILN_STORE_DIR="${KILN_STORE_DIR:-$(pwd)/build/demo-store}"
out=build/demo-out
rm -rf "$out"

echo "\$ kiln analyze samples/cities.csv -o $out"
./kiln analyze samples/cities.csv -o "$out"
echo
echo "\$ kiln run samples/analyze-cities.json   # the same as a JSON action (first lines)"
./kiln run samples/analyze-cities.json --pretty | head -n 30
echo "  ..."
echo
echo "\$ kiln exec -c '...pandas...' -f samples/cities.csv"
./kiln exec -f samples/cities.csv -c '
import pandas as pd
df = pd.read_csv("cities.csv")
print(df.sort_values("population", ascending=False).to_string(index=False))
def main():
    return {"total_population": int(df.population.sum())}
'
echo
echo "reports saved in $out/: $(ls "$out" | tr '\n' ' ')"
