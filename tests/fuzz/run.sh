#!/bin/sh
# Run each libFuzzer target for SECONDS, seeded from tests/fuzz/seeds/<name>
# and the shared corpus; prints "N passed, N failed" (a crash, leak, timeout,
# OOM or undefined behaviour fails).
set -u
secs=$1; shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS=$(sh "$ROOT/mk/corpus_dir.sh")
passed=0 failed=0
for bin in "$@"; do
    name=$(basename "$bin" | sed 's/^fuzz_//')
    work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzz-XXXXXX")
    seeds="$ROOT/tests/fuzz/seeds/$name"
    set -- "$work"
    [ -d "$seeds" ] && set -- "$@" "$seeds"
    case $name in
        csv) [ -d "$CORPUS/csv" ] && set -- "$@" "$CORPUS/csv" ;;
        xlsx) [ -d "$CORPUS/xlsx" ] && set -- "$@" "$CORPUS/xlsx" ;;
        json) [ -d "$CORPUS/json" ] && set -- "$@" "$CORPUS/json" ;;
    esac
    echo "== fuzz $name for ${secs}s"
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$ROOT/$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -max_len=1048576 -artifact_prefix="$work/" "$@" >"$work/log" 2>&1; then
        passed=$((passed + 1))
        grep -E '^Done|#[0-9]+.*DONE' "$work/log" | tail -n 1
        rm -rf "$work"
    else
        failed=$((failed + 1))
        echo "FAIL fuzz_$name: crash; artifacts and log in $work"
        tail -n 40 "$work/log"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
