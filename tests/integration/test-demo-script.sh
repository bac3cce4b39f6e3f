#!/usr/bin/env bash
# tests/vm/demo.py (`make demo`) boots a VM, so `make check` does not run it; this keeps it from
# rotting cheaply: the script compiles, imports vm.py and kyoka_guest.py, and its host side (the
# approver's keygen, init, approve, check, sign, verify with this build's policyctl) passes.
set -u
build=${1:?usage: test-demo-script.sh BUILD}
top=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if python3 -m py_compile "$top/tests/vm/demo.py" >"$out" 2>&1; then echo "ok - demo.py compiles"; pass=$((pass + 1))
else echo "not ok - demo.py compiles"; sed 's/^/# /' "$out"; fail=$((fail + 1)); fi
if BUILD="$build" python3 "$top/tests/vm/demo.py" --dry-run >"$out" 2>&1 && tail -1 "$out" | grep -q 'PASS'; then
	echo "ok - demo.py --dry-run (imports, approver side)"; pass=$((pass + 1))
else echo "not ok - demo.py --dry-run"; sed 's/^/# /' "$out"; fail=$((fail + 1)); fi
echo "demo-script: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
