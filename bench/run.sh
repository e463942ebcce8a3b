#!/bin/sh
# `make bench`: generate the benchmark data (cached by content hash) into
# bench/out/, build the op-level timer, and run every tool side by side
# (bench/bench.py prints the table and writes bench/out/results.json).
# Env: BUILD (kiln build dir, default build), BENCH_N (runs per tool, default
# 5), BENCH_ONLY (warm,http,analyze,parse_excel,transform,exec), CSV_ROWS,
# XLSX_ROWS1/2, HTTP_SECONDS (default 10).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=bench/out
PY=/usr/bin/python3
KILN_BIN=${KILN_BIN:-$PWD/$BUILD/kiln}
CSV_ROWS=${CSV_ROWS:-420000}
XLSX_ROWS1=${XLSX_ROWS1:-150000}
XLSX_ROWS2=${XLSX_ROWS2:-50000}
mkdir -p "$OUT"

[ -x "$KILN_BIN" ] || { echo "bench: no kiln binary at $KILN_BIN (run 'make' first)" >&2; exit 1; }
if ! [ -x /usr/bin/time ]; then
    echo "bench: installing Debian's 'time' (GNU time, for peak RSS)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time \
        >/dev/null 2>&1 || { echo "bench: /usr/bin/time is needed (apt-get install time)" >&2; exit 1; }
fi
if ! command -v mlr >/dev/null 2>&1; then
    echo "bench: installing Debian's 'miller' (mlr) for the comparison" >&2
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends miller \
            >/dev/null 2>&1 || echo "bench: could not install miller; its rows are skipped" >&2
    else
        echo "bench: not root; miller rows are skipped" >&2
    fi
fi

# The cache key of generated data: the generator's text and its arguments.
key() { { cat "$1"; echo "$2"; } | sha256sum | cut -c1-16; }

k=$(key bench/gen_csv.py "$CSV_ROWS")
if [ "$(cat "$OUT/data.csv.key" 2>/dev/null)" != "$k" ] || [ ! -f "$OUT/data.csv" ]; then
    echo "bench: generating $OUT/data.csv ($CSV_ROWS rows)" >&2
    $PY bench/gen_csv.py "$OUT/data.csv.tmp" "$CSV_ROWS"
    mv "$OUT/data.csv.tmp" "$OUT/data.csv"
    echo "$k" >"$OUT/data.csv.key"
fi

k=$(key bench/gen_xlsx.c "$XLSX_ROWS1 $XLSX_ROWS2")
if [ "$(cat "$OUT/data.xlsx.key" 2>/dev/null)" != "$k" ] || [ ! -f "$OUT/data.xlsx" ]; then
    echo "bench: generating $OUT/data.xlsx ($XLSX_ROWS1 + $XLSX_ROWS2 rows)" >&2
    cc -O2 -std=c11 -o "$OUT/gen_xlsx" bench/gen_xlsx.c $(pkg-config --cflags --libs xlsxwriter)
    "$OUT/gen_xlsx" "$OUT/data.xlsx.tmp" "$XLSX_ROWS1" "$XLSX_ROWS2"
    mv "$OUT/data.xlsx.tmp" "$OUT/data.xlsx"
    echo "$k" >"$OUT/data.xlsx.key"
fi

# The op-level timer, linked against the same library as the kiln binary.
OP_BENCH=""
LIBKILN=$(dirname "$KILN_BIN")/libkiln.a
if [ -f "$LIBKILN" ]; then
    PKGS="libcurl jansson libseccomp xlsxwriter minizip expat libcrypto"
    if cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -Ioperations -Istorage -Isandbox \
        $(pkg-config --cflags $PKGS) -o "$OUT/op_bench" bench/op_bench.c "$LIBKILN" \
        $(pkg-config --libs $PKGS) -lcsv $(/usr/bin/python3-config --embed --ldflags) \
        -lpthread -lm; then
        OP_BENCH=$PWD/$OUT/op_bench
    else
        echo "bench: could not build op_bench; op-alone rows are skipped" >&2
    fi
fi

echo "bench: $(nproc) cores; kiln $KILN_BIN" >&2
# executeCode latency, warm (kiln mcp) and cold (bench/warm.py; BENCH_ONLY=warm alone).
case ",${BENCH_ONLY:-warm}," in *,warm,*)
    KILN_BIN=$KILN_BIN BENCH_OUT=$OUT $PY bench/warm.py || echo "bench: warm.py failed" >&2 ;;
esac
# HTTP API under 64 concurrent clients (bench/http_load.sh; BENCH_ONLY=http alone).
case ",${BENCH_ONLY:-http}," in *,http,*)
    if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "bench: installing Debian's 'wrk' for the HTTP load run" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk \
            >/dev/null 2>&1 || echo "bench: could not install wrk; the HTTP load run is skipped" >&2
    fi
    if command -v wrk >/dev/null 2>&1; then
        KILN_BIN=$KILN_BIN sh bench/http_load.sh "${HTTP_SECONDS:-10}" 64 ||
            echo "bench: http_load.sh failed" >&2
    fi ;;
esac
case ",${BENCH_ONLY:-}," in *,warm,* | *,http,*)
    case ",$BENCH_ONLY," in *,analyze,* | *,parse_excel,* | *,transform,* | *,exec,*) ;; *) exit 0 ;; esac ;;
esac
KILN_BIN=$KILN_BIN OP_BENCH=$OP_BENCH BENCH_OUT=$OUT exec $PY bench/bench.py
