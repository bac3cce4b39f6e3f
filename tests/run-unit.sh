#!/usr/bin/env bash
# Runs every cmocka test binary in DIR and prints one closing "N passed, N failed" line.
set -u
dir=${1:?usage: run-unit.sh DIR}
pass=0 fail=0 failed=()
for t in "$dir"/test-*; do
	[ -x "$t" ] || continue
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$(basename "$t")"); fi
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "unit ($dir): $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
