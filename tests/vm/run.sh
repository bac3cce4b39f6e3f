#!/bin/sh
# The real-kernel suite, as `make check` runs it: host tools, the (cached) image, then every
# tests/vm/test-*.py in turn. Each prints "NAME: N passed, N failed" last; this sums them.
#   tests/vm/run.sh [TEST.py...]        default: all of tests/vm/test-*.py but test-fleet.py
# (make check-fleet runs that one: `tests/vm/run.sh tests/vm/test-fleet.py`).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
"$HERE/deps.sh" >/dev/null || exit 1
"$HERE/build-image.sh" || exit 1

if [ $# -eq 0 ]; then
        for t in "$HERE"/test-*.py; do
                [ "$t" = "$HERE/test-fleet.py" ] || set -- "$@" "$t"
        done
fi
passed=0 failed=0 broken=0
start=$(date +%s)
for t in "$@"; do
        out=$(mktemp)
        python3 "$t" 2>&1 | tee "$out"
        last=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
        rm -f "$out"
        if [ -z "$last" ]; then
                echo "not ok - $(basename "$t") printed no summary"
                broken=$((broken + 1))
                continue
        fi
        p=$(echo "$last" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
        f=$(echo "$last" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
        passed=$((passed + p)) failed=$((failed + f))
done
echo "vm: $passed passed, $((failed + broken)) failed ($(( $(date +%s) - start )) s)"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
