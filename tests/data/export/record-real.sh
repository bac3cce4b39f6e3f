#!/usr/bin/env bash
# Records tests/data/export/real/ from records that real kyokad wrote, and regenerates the
# goldens made from them. tests/integration/test-kyokad-export.sh runs kyokad under umockdev in
# a network namespace through a working week (the flagship case, a hostile stick, a burst of
# violations, a refused policy, an unclean shutdown) and, with --record, copies the ledger and
# the signed policy it used here; then the unit test writes its ja and en exports of that week
# as the new goldens. Needs root (a network namespace) and a built tree.
#     tests/data/export/record-real.sh [BUILD]        (default build)
# Review the diff: the goldens are what the city receives.
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=$(realpath "${1:-$top/build}")
real=$top/tests/data/export/real
make -s -C "$top" BUILD="$build" all "$build/tests/test-ledger-export"
rm -rf "$real"
TZ=Asia/Tokyo "$top/tests/integration/test-kyokad-export.sh" "$build" --record "$real"
KYOKA_UPDATE_GOLDEN=1 "$build/tests/test-ledger-export"
echo "recorded $real ($(cat "$real/week")); goldens rewritten: review git diff tests/data/export"
