#!/bin/sh
# Runs every suite and prints the total as the last line: "N passed, N failed".
# Each suite prints its own "N passed, N failed[, N skipped]" line last.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
export KILN_BIN="$ROOT/$BUILD/kiln"
export KILN_HELPERS="$ROOT/$BUILD/helpers"
KILN_CORPUS=$(sh "$ROOT/mk/corpus_dir.sh")
export KILN_CORPUS
[ -f "$KILN_CORPUS/MANIFEST.tsv" ] || echo "warning: no test corpus at '$KILN_CORPUS' (set KILN_CORPUS)" >&2
PY=/usr/bin/python3

total_p=0 total_f=0 total_s=0 status=0
log=$(mktemp -d "${TMPDIR:-/tmp}/kiln-tests-XXXXXX")
trap 'rm -rf "$log"' EXIT INT TERM

run_suite() {
    name=$1; shift
    echo "== $name"
    "$@" >"$log/$name.out" 2>"$log/$name.err"
    rc=$?
    # Show failures and skips (stderr) and the suite's own summary.
    # (a FAIL's indented traceback lines too)
    cat "$log/$name.err" "$log/$name.out" |
        awk '/^(FAIL|SKIP|ERROR)/ {show = 1; print; next} show && /^     / {print; next} {show = 0}' |
        head -200
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/$name.out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "suite '$name' printed no summary (exit $rc); its output:"
        tail -n 40 "$log/$name.err" "$log/$name.out"
        total_f=$((total_f + 1)); status=1; return
    fi
    echo "   $line"
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
    total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "suite '$name' exited $rc with no failed case"; total_f=$((total_f + 1))
    fi
    [ "$f" -ne 0 ] && status=1
}

run_suite unit "$ROOT/$BUILD/tests/unit/run"
run_suite func "$PY" "$ROOT/tests/func/run.py"
run_suite samples "$PY" "$ROOT/tests/run_samples.py"
for t in "$ROOT"/tests/py/test_*.py; do
    [ -f "$t" ] || continue
    run_suite "$(basename "$t" .py)" "$PY" "$t"
done

[ "$total_f" -ne 0 ] && status=1
if [ "$total_s" -ne 0 ]; then
    echo "$total_p passed, $total_f failed, $total_s skipped"
else
    echo "$total_p passed, $total_f failed"
fi
exit $status
