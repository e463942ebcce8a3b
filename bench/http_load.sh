#!/bin/sh
# Load on `kiln serve` over loopback: wrk with 64 connections POSTs a trivial
# executeCode for ~10 s to a warm server and prints throughput and latency
# percentiles (p50/p90/p99). Not a test; traffic goes to 127.0.0.1 only.
#   usage: sh bench/http_load.sh [SECONDS] [CONNECTIONS]
#   env:   KILN_BIN (default ./kiln), WORKERS (default: CPUs), WRK_THREADS (2)
# Needs wrk (Debian package 'wrk': apt-get install wrk).
set -eu
DUR=${1:-10}
CONNS=${2:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN_BIN:-$ROOT/kiln}
WORKERS=${WORKERS:-$(nproc)}
if ! command -v wrk >/dev/null 2>&1; then
    echo "http_load: wrk is not installed (Debian: apt-get install wrk)" >&2
    exit 2
fi
[ -x "$KILN" ] || { echo "http_load: no kiln binary at $KILN (run make)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-http-load-XXXXXX")
chmod 711 "$tmp"
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

KEY=bench-$$-key
cat >"$tmp/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = '{"action":"executeCode","arguments":{"code":"print(sum(range(1000)))"}}'
done = function(summary, latency, requests)
  io.write(string.format("p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("requests %d in %.1f s: %.1f req/s; errors: connect %d read %d " ..
    "write %d status %d timeout %d\n", summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6), summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
EOF

KILN_STORE_DIR="$tmp/store" KILN_SCRATCH_DIR="$tmp/scratch" KILN_API_KEYS="$KEY" \
    "$KILN" serve --listen 127.0.0.1:0 --workers "$WORKERS" --queue 4096 \
    >"$tmp/out" 2>"$tmp/err" &
pid=$!
i=0
while ! grep -q '^listening on ' "$tmp/out" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "http_load: server did not start:" >&2
        cat "$tmp/err" >&2
        exit 1
    fi
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$tmp/out")
echo "kiln serve at $url, $WORKERS workers; wrk: $CONNS connections, ${DUR}s"
# Warm-up request, then the measured run.
wrk -t1 -c1 -d1s -s "$tmp/post.lua" "$url/v1/actions" >/dev/null 2>&1 || true
wrk -t"${WRK_THREADS:-2}" -c"$CONNS" -d"${DUR}s" --timeout 60s --latency -s "$tmp/post.lua" \
    "$url/v1/actions"
# wrk counts transport errors and non-2xx answers; an action that failed
# inside a 200 shows in the server's own counters.
echo "server metrics (result=\"failed\" must be 0):"
curl -s -H "Authorization: Bearer $KEY" "$url/metrics" 2>/dev/null |
    grep -E '^kiln_(actions_total|rejected_total|sandbox_failures_total|worker_crashes_total)' ||
    true
