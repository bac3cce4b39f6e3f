#!/usr/bin/env bash
# Runs every tests/integration/test-*.sh with the build directory as $1 and prints one
# closing "N passed, N failed" line (counting scripts).
set -u
build=$(realpath "${1:?usage: run-integration.sh BUILD}")
cd "$(dirname "$0")/integration" || exit 1
pass=0 fail=0 failed=()
for t in test-*.sh; do
	[ -f "$t" ] || continue
	echo "== $t"
	if bash "$t" "$build"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$t"); fi
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
