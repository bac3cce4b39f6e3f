#!/usr/bin/env bash
# policyctl install --dry-run, the guard of a real install, and status --check (issue 13 item 4),
# against kyokad in a network namespace made here. vok carries 10.79.1.1 (the "SSH session"'s
# local address) and a default route; policy 2 blocks it:
#   - install --dry-run prints vok: allow -> block marked as carrying the session, and changes
#     nothing (policy.conf, kyokad's serial and vok's state stay);
#   - install with SSH_CONNECTION on vok's address is refused (exit 1), nothing written;
#   - the same without SSH_CONNECTION is still refused: vok holds the default route;
#   - a policy that changes nothing on vok installs; --force installs policy 2 and vok goes down;
#   - status --check: OK, WARNING when the policy ends within --warn-days, CRITICAL in lockdown
#     and when kyokad is not running.
#   - install writes STATE_DIR/policy.image; kyokad restarted reads it instead of parsing, and a
#     damaged image is not used (parsed, same serial, the image written again).
# Usage: test-install-guard.sh BUILD
set -u
build=$(realpath "${1:?usage: test-install-guard.sh BUILD}")
kyokad=$build/kyokad P=$build/policyctl
export TZ=Asia/Tokyo LC_ALL=C.UTF-8

pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
	echo "not ok - $1${2:+: $2}"
	sed 's/^/#   out: /' "$tmp/out" 2>/dev/null | head -20
	sed 's/^/#   err: /' "$tmp/err" 2>/dev/null | head -20
	fail=$((fail + 1))
}
bail() { echo "not ok - $1"; echo "install-guard: $pass passed, $((fail + 1)) failed"; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "ok - skipped: needs root (network namespaces)"; echo "install-guard: 0 passed, 0 failed"; exit 0; }
command -v ip >/dev/null || bail "ip is missing (make deps)"
[ -x "$kyokad" ] && [ -x "$P" ] || bail "kyokad or policyctl missing in $build (make)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-install-guard.XXXXXX")
ka=kyoka-ga-$$ kb=kyoka-gb-$$
kpid=
cleanup() {
	[ -n "$kpid" ] && kill -KILL "$kpid" 2>/dev/null
	wait 2>/dev/null
	for ns in "$ka" "$kb"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$tmp" || exit 1

# policyctl runs in kyokad's namespace: the guard reads that namespace's addresses and routes.
pc() { ip netns exec "$ka" "$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" "$@"; }
run() { rc=0; "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; }
expect() { # NAME RC [FIXED-STRING in stdout+stderr]
	local name=$1 want=$2 pattern=${3:-}
	if grep -q 'Sanitizer' "$tmp/err" "$tmp/out" 2>/dev/null; then not_ok "$name" "sanitizer report"; return 1; fi
	if [ "$rc" -ne "$want" ]; then not_ok "$name" "exit $rc, expected $want"; return 1; fi
	if [ -n "$pattern" ] && ! cat "$tmp/out" "$tmp/err" | grep -qF -- "$pattern"; then
		not_ok "$name" "output lacks: $pattern"; return 1
	fi
	ok "$name"
}
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
is_up() { ip -n "$ka" -o link show dev "$1" 2>/dev/null | grep -q '<[^>]*[<,]UP[,>]'; }
wait_down() { local i; for ((i = 0; i < 30; i++)); do is_up "$1" || return 0; sleep 0.1; done; return 1; }
wait_for() { local i; for ((i = 0; i < ${3:-30}; i++)); do grep -qE -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
serial_in_force() { pc status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"].get("serial"))'; }

# policy SERIAL VOK-APPROVED [VALID_UNTIL] > approver/policy-SERIAL.conf, signed
policy() {
	local until=${3:+valid_until = \"$3\";}
	{
		echo "kyoka_policy = 1; serial = $1; issued = \"$(date +%F)\"; issuer = \"kyoka test\";"
		echo "contract = \"test-install-guard\"; $until defaults = { network = \"block\"; };"
		echo "network = ("
		[ "$2" = yes ] && echo "  { permit = \"P-ok\"; mac = \"02:00:00:00:01:0a\"; approved_by = \"t\"; approved_on = \"$(date +%F)\"; },"
		echo "  { permit = \"P-other\"; mac = \"02:00:00:00:01:0c\"; approved_by = \"t\"; approved_on = \"$(date +%F)\"; }"
		echo ");"
	} >"approver/policy-$1.conf"
	"$P" sign --key approver/admin.key "approver/policy-$1.conf" >/dev/null 2>&1 || bail "policyctl sign $1"
}

mkdir -p etc/keys.d state run approver
"$P" keygen --out approver/admin >/dev/null 2>&1 && cp approver/admin.pub etc/keys.d/ || bail "policyctl keygen"
policy 1 yes
cp approver/policy-1.conf etc/policy.conf && cp approver/policy-1.conf.sig etc/policy.conf.sig

ip netns add "$ka" && ip netns add "$kb" || bail "ip netns add"
ip -n "$ka" link set lo up
ip -n "$ka" link add vok address 02:00:00:00:01:0a type veth peer name pok netns "$kb" &&
	ip -n "$ka" link set vok up && ip -n "$kb" link set pok up &&
	ip -n "$ka" addr add 10.79.1.1/24 dev vok && ip -n "$kb" addr add 10.79.1.2/24 dev pok &&
	ip -n "$ka" route add default via 10.79.1.2 dev vok || bail "veth pair, address and default route"

# kyokad's unit has no status --check of its own: the check before kyokad runs is CRITICAL.
run pc status --check
expect "status --check: CRITICAL (exit 2) while kyokad is not running" 2 "KYOKA CRITICAL - kyokad is not running"

ip netns exec "$ka" "$kyokad" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" >kyokad.log 2>&1 &
kpid=$!
wait_for kyokad.log "kyokad ready" 50 && [ -S run/control ] || bail "kyokad starts: $(tail -3 kyokad.log)"
is_up vok || bail "vok (approved by policy 1) is up"

run pc status --check
expect "status --check: OK (exit 0) with serial 1 in force" 0 "KYOKA OK - serial 1 in force"

# ---- dry-run ------------------------------------------------------------------------------------
policy 2 no
cp etc/policy.conf before.conf
rc=0; ip netns exec "$ka" env SSH_CONNECTION="10.79.1.2 50022 10.79.1.1 22" "$P" --config-dir "$tmp/etc" \
	--state-dir "$tmp/state" --runtime-dir "$tmp/run" install --dry-run approver/policy-2.conf >out 2>err || rc=$?
expect "install --dry-run: vok allow -> block, marked as carrying this SSH session and a default route" 0 \
	"(ifindex"
check "install --dry-run names the change" 'grep -qE "link vok .*: allow -> block \(default network\)  <- carries this SSH session and a default route" out'
check "install --dry-run says a real install needs --force" 'grep -q "installing it needs --force" out'
check "install --dry-run wrote nothing" 'cmp -s before.conf etc/policy.conf'
check "install --dry-run: serial 1 still in force, vok still up" '[ "$(serial_in_force)" = 1 ] && is_up vok'

# ---- the guard ----------------------------------------------------------------------------------
rc=0; ip netns exec "$ka" env SSH_CONNECTION="10.79.1.2 50022 10.79.1.1 22" "$P" --config-dir "$tmp/etc" \
	--state-dir "$tmp/state" --runtime-dir "$tmp/run" install approver/policy-2.conf >out 2>err || rc=$?
expect "install refuses (exit 1) a policy blocking the link of this SSH session" 1 "refused: this policy blocks 1 link"
check "refused install wrote nothing; serial 1 in force, vok up" 'cmp -s before.conf etc/policy.conf && [ "$(serial_in_force)" = 1 ] && is_up vok'

run pc install approver/policy-2.conf
expect "install refuses (exit 1) a policy blocking the default route's link, without SSH" 1 "carries a default route"

policy 3 yes
run pc install approver/policy-3.conf
expect "a policy that keeps vok installs (exit 0)" 0 "kyokad reloaded: serial 3 in force"
check "vok stays up" 'is_up vok'

policy 4 no
run pc install --force approver/policy-4.conf
expect "install --force blocks the link anyway (exit 0), with a warning" 0 "warning: --force"
check "after --force: serial 4 in force and vok set down" '[ "$(serial_in_force)" = 4 ] && wait_down vok'

# ---- status --check -----------------------------------------------------------------------------
policy 5 yes "$(date -d '+3 days' +%F)"
run pc install approver/policy-5.conf
expect "policy 5 (ending in 3 days) installs" 0 "serial 5 in force"
run pc status --check
expect "status --check: WARNING (exit 1) when the policy ends within 14 days" 1 "KYOKA WARNING - the policy (serial 5) ends in"
run pc status --check --warn-days 2
expect "status --check --warn-days 2: OK (exit 0)" 0 "KYOKA OK"
run pc status --warn-days 2
expect "--warn-days without --check is a usage error (exit 2)" 2 "--warn-days needs --check"
check "install wrote the compiled policy state/policy.image (0600)" '[ "$(stat -c %a state/policy.image)" = 600 ]'
# A restart reads the image instead of parsing; a damaged image is not used: the policy is parsed,
# the same serial is in force, and the image is written again.
restart_debug() { # LOG
	kill -TERM "$kpid"; wait "$kpid" 2>/dev/null
	ip netns exec "$ka" "$kyokad" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" --debug >"$1" 2>&1 &
	kpid=$!
	wait_for "$1" "kyokad ready" 50 || bail "kyokad restarts: $(tail -3 "$1")"
}
restart_debug kyokad-image.log
check "a restart reads the image (no parse), serial 5 in force" \
	'grep -q "read from $tmp/state/policy.image" kyokad-image.log && [ "$(serial_in_force)" = 5 ]' "$(tail -5 kyokad-image.log)"
cp state/policy.image image.good
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(b)' state/policy.image
restart_debug kyokad-damaged.log
check "a damaged image is not used: the policy is parsed, serial 5 in force" \
	'grep -q "policy.image not used (Bad message)" kyokad-damaged.log && [ "$(serial_in_force)" = 5 ]' "$(tail -5 kyokad-damaged.log)"
check "... and the image is written again" 'cmp -s state/policy.image image.good'
# No policy and no accepted copy: kyokad restarts into the built-in lockdown.
kill -TERM "$kpid"; wait "$kpid" 2>/dev/null
rm -rf etc/policy.conf etc/policy.conf.sig state/accepted*
ip netns exec "$ka" "$kyokad" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" >kyokad2.log 2>&1 &
kpid=$!
wait_for kyokad2.log "kyokad ready" 50 || bail "kyokad restarts: $(tail -3 kyokad2.log)"
run pc status --check
expect "status --check: CRITICAL (exit 2) in the built-in lockdown" 2 "KYOKA CRITICAL - no valid policy"


echo "install-guard: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
