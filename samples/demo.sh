#!/bin/sh
# `make demo`: run kiln on the sample files and show what comes back.
set -eu
cd "$(dirname "$0")/.."
export KILN_STORE_DIR="${KILN_STORE_DIR:-$(pwd)/build/demo-store}"
echo "\$ kiln run samples/analyze-cities.json --pretty"
./kiln run samples/analyze-cities.json --pretty || true
