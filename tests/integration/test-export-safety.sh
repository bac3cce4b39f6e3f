#!/usr/bin/env bash
# Issue 9, point 7, as the attack was reproduced: a user who owns (or can write) the directory
# root's `policyctl export --out` writes to plants symlinks at the names the export writes, to a
# root-owned file. The export must refuse (non-zero exit, an English message naming the
# directory, nothing written) and the root-owned file must stay byte for byte what it was. The
# attacker is `nobody` (setpriv); root's /tmp-like sticky directories still work.
# Usage: test-export-safety.sh BUILD. Needs root (setpriv, chown); skips (exit 0) otherwise.
# BUILD is a plain build, as for test-ledger.sh: the ledger is filled by bench/ledger-bench,
# linked with BUILD's libraries without sanitizers (the unit tests cover the export under ASan).
set -u
build=$(realpath "${1:?usage: test-export-safety.sh BUILD}")
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "ok - skipped: needs root"; echo "export-safety: 0 passed, 0 failed"; exit 0; fi
P="$build/policyctl"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-export-safety.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"                       # the attacker must reach the directories below
export TZ=Asia/Tokyo LC_ALL=C.UTF-8
mkdir -p "$tmp/state"

pass=0 fail=0
pc() { "$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" "$@"; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
run() { rc=0; "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; }
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
	echo "not ok - $1${2:+: $2}"
	sed 's/^/#   out: /' "$tmp/out" 2>/dev/null | head -20
	sed 's/^/#   err: /' "$tmp/err" 2>/dev/null | head -20
	fail=$((fail + 1))
}
expect() {
	local name=$1 want=$2 pattern=${3:-}
	if grep -q 'Sanitizer' "$tmp/err"; then not_ok "$name" "sanitizer report"; return 1; fi
	if [ "$rc" -ne "$want" ]; then not_ok "$name" "exit $rc, expected $want"; return 1; fi
	if [ -n "$pattern" ] && ! cat "$tmp/out" "$tmp/err" | grep -qF -- "$pattern"; then
		not_ok "$name" "output lacks: $pattern"; return 1
	fi
	ok "$name"
}

# The root-owned file the attacker aims at (standing for /etc/shadow).
victim="$tmp/victim"
printf 'root:$y$j9T$precious:20000:0:99999:7:::\n' >"$victim"
chmod 0600 "$victim"
victim_sum=$(sha256sum <"$victim")
victim_intact() {
	if [ -f "$victim" ] && [ ! -L "$victim" ] && [ "$(sha256sum <"$victim")" = "$victim_sum" ]; then
		ok "$1: the root-owned file is unchanged"
	else
		not_ok "$1: the root-owned file is unchanged" "$(head -c 200 "$victim" | od -c | head -3)"
	fi
}
# Nothing of the export below DIR (the attacker's own symlinks aside).
nothing_written() {
	local found
	found=$(find "$1" ! -type d ! -type l | head -5)
	if [ -z "$found" ]; then ok "$2: nothing written"; else not_ok "$2: nothing written" "$found"; fi
}

# A ledger with records in this week, and the names the export uses (host and week).
"$top/bench/ledger.sh" "$build" --build-only || { echo "not ok - build ledger-bench"; exit 1; }
"$build/bench/ledger-bench" storm "$tmp/state/ledger.db" 50 10 >/dev/null
week=$(date +%G-W%V)
run pc export --week "$week" --out "$tmp/probe"
expect "export into a fresh directory of root's" 0 "$week"
host=$(basename "$(dirname "$(ls -d "$tmp"/probe/*/"$week")")")
exports=("usage.csv" "faults.csv" "records.jsonl" "report.html" "MANIFEST" "MANIFEST.sig")

# ---- the reproduction: the user's own output directory --------------------------------------
out="$tmp/home/out"
mkdir -p "$tmp/home" && chmod 0755 "$tmp/home"
mkdir "$out" && chown nobody:nogroup "$out"
as_nobody mkdir -p "$out/$host/$week"
for f in "${exports[@]}"; do
	as_nobody ln -s "$victim" "$out/$host/$week/.$f.tmp"
	as_nobody ln -s "$victim" "$out/$host/$week/$f"
done
if [ "$(stat -c %U "$out/$host/$week/.usage.csv.tmp")" = nobody ]; then ok "nobody planted the symlinks"
else not_ok "nobody planted the symlinks"; fi
run pc export --week "$week" --out "$out"
expect "root's export refuses the output directory nobody owns" 1 "$out: owned by uid 65534 (neither root nor uid 0)"
victim_intact "user-owned output directory"
nothing_written "$out" "user-owned output directory"

# ---- a directory of root's that the group may write (not sticky) ----------------------------
shared="$tmp/shared"
mkdir "$shared" && chmod 0775 "$shared"
run pc export --week "$week" --out "$shared"
expect "root's export refuses a group-writable output directory" 1 "$shared: writable by group or others (mode 0775)"
nothing_written "$shared" "group-writable output directory"

# ---- root's sticky directory (as /tmp): what others put in it first is refused --------------
sticky="$tmp/sticky"
mkdir "$sticky" && chmod 1777 "$sticky"
as_nobody mkdir -p "$sticky/$host/$week"
as_nobody ln -s "$victim" "$sticky/$host/$week/.usage.csv.tmp"
run pc export --week "$week" --out "$sticky"
expect "a host directory nobody made first in a sticky directory is refused" 1 "$sticky/$host: owned by uid 65534"
victim_intact "sticky directory, nobody's host directory"
nothing_written "$sticky" "sticky directory, nobody's host directory"

as_nobody rm -rf "$sticky/$host"
mkdir "$tmp/roots"
as_nobody ln -s "$tmp/roots" "$sticky/$host"
run pc export --week "$week" --out "$sticky"
expect "a symlink in place of the host directory is refused" 1 "$sticky/$host: a symbolic link or not a directory"
nothing_written "$tmp/roots" "symlinked host directory"

as_nobody rm -f "$sticky/$host"
run pc export --week "$week" --out "$sticky"
expect "export into root's sticky directory once nothing is planted" 0 "$week"
run pc verify-export "$sticky/$host/$week"
expect "the export in the sticky directory verifies" 0 "records chain from start to end hash"
if diff -r "$tmp/probe/$host/$week" "$sticky/$host/$week" >/dev/null; then ok "the same bytes as the first export"
else not_ok "the same bytes as the first export"; fi
victim_intact "after every attempt"

echo "export-safety: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
