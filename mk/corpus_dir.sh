#!/bin/sh
# Prints the shared test corpus directory (../shared/corpus, see its
# MANIFEST.tsv): $KILN_CORPUS when set; else beside this checkout; else
# beside the repository it was cloned from (a CI clone in a temporary
# directory). Prints the first candidate when none exists (the tests then
# name the missing files).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${KILN_CORPUS:-}" ]; then
    echo "$KILN_CORPUS"
    exit 0
fi
origin=$(git -C "$ROOT" config --get remote.origin.url 2>/dev/null || true)
for d in "$ROOT/../shared/corpus" ${origin:+"$origin/../shared/corpus"}; do
    case "$d" in /*) ;; *) continue ;; esac # a local path, not a URL
    if [ -f "$d/MANIFEST.tsv" ]; then
        (cd "$d" && pwd)
        exit 0
    fi
done
echo "$ROOT/../shared/corpus"
