#!/usr/bin/env bash
# Network links over kyokad's control socket (issue 4 item 5): kyokad runs inside a network
# namespace made here (it would set the host's links down otherwise); policyctl talks to it
# over --runtime-dir (a path socket, reachable from any namespace). status counts links and
# violations; list shows a blocked veth with its MAC and reason, --blocked filters, --json
# parses; watch prints the violation when the link is set up; request for the blocked veth ->
# approve -> sign -> install lets it up and it carries a ping.
# Usage: test-control-net.sh BUILD   (BUILD holds kyokad and policyctl; an ASan build works too)
set -u
build=$(realpath "${1:?usage: test-control-net.sh BUILD}")
kyokad=$build/kyokad P=$build/policyctl
top=$(cd "$(dirname "$0")/../.." && pwd)
export TZ=Asia/Tokyo LC_ALL=C.UTF-8

pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
	echo "not ok - $1${2:+: $2}"
	sed 's/^/#   out: /' "$tmp/out" 2>/dev/null | head -20
	sed 's/^/#   err: /' "$tmp/err" 2>/dev/null | head -20
	fail=$((fail + 1))
}
finish() {
	if [ "$fail" -gt 0 ] && [ -f "$tmp/kyokad.log" ]; then
		echo "# kyokad log (last 30 lines):"; tail -30 "$tmp/kyokad.log" | sed 's/^/#   /'
	fi
	echo "control-net: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
bail() { echo "not ok - $1"; echo "control-net: 0 passed, 1 failed"; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "ok - skipped: needs root (network namespaces)"; echo "control-net: 0 passed, 0 failed"; exit 0; }
command -v ip >/dev/null || bail "ip is missing (make deps)"
[ -x "$kyokad" ] && [ -x "$P" ] || bail "kyokad or policyctl missing in $build (make)"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3) || bail "python3 is missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-control-net.XXXXXX")
ka=kyoka-ca-$$ kb=kyoka-cb-$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ns in "$ka" "$kb"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$tmp" || exit 1

pc() { "$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" "$@"; }
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
A() { ip netns exec "$ka" "$@"; }
is_up() { ip -n "$ka" -o link show dev "$1" 2>/dev/null | grep -q '<[^>]*[<,]UP[,>]'; }
wait_down() { local i; for ((i = 0; i < 20; i++)); do is_up "$1" || return 0; sleep 0.1; done; return 1; }
# wait_for FILE PATTERN [TENTHS]: true once FILE has a line matching PATTERN (grep -E).
wait_for() { local i; for ((i = 0; i < ${3:-30}; i++)); do grep -qE -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# ---- keys, the policy (vok approved by MAC, everything else blocked) -------------------------
mkdir -p etc/keys.d state run approver
pc keygen --out approver/admin >/dev/null 2>&1 && cp approver/admin.pub etc/keys.d/ || bail "policyctl keygen"
cat >approver/policy.conf <<EOF
kyoka_policy = 1;
serial = 1;
issued = "$(date +%F)";
issuer = "kyoka test";
contract = "test-control-net";
defaults = { network = "block"; };
network = (
    { permit = "P-ok"; mac = "02:00:00:00:00:0a"; approved_by = "test"; approved_on = "$(date +%F)"; }
);
EOF
pc sign --key approver/admin.key approver/policy.conf >/dev/null 2>&1 &&
	cp approver/policy.conf approver/policy.conf.sig etc/ || bail "policyctl sign"

# ---- namespaces: ka holds kyokad and the links, kb the peer that answers pings ----------------
ip netns add "$ka" && ip netns add "$kb" || bail "ip netns add"
A ip link set lo up
ip -n "$ka" link add vok address 02:00:00:00:00:0a type veth peer name pok netns "$kb" &&
	ip -n "$ka" link add vblk address 02:00:00:00:00:0b type veth peer name pblk netns "$kb" &&
	A ip link set vok up &&
	ip -n "$kb" link set pok up && ip -n "$kb" link set pblk up &&
	ip -n "$kb" addr add 10.78.2.2/24 dev pblk && A ip addr add 10.78.2.1/24 dev vblk || bail "veth pairs"
idx=$(ip -n "$ka" -o link show dev vblk | cut -d: -f1)

log=$tmp/kyokad.log
# Not through A(): a backgrounded function is a subshell, and $! would be that shell.
ip netns exec "$ka" "$kyokad" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" >"$log" 2>&1 &
kpid=$!
pids+=("$kpid")
wait_for "$log" "kyokad ready" 50 && [ -S run/control ] || bail "kyokad starts in the namespace: $(tail -3 "$log")"
ok "kyokad starts in a test namespace with its socket in --runtime-dir"

# ---- status -----------------------------------------------------------------------------------
run pc status
expect "status counts the links: lo and vok allowed, vblk blocked" 0 "3 present: 2 allowed, 1 blocked; 0 violations"
run pc status --json
check "status --json has the link counts" \
	'"$PY" -c "import json,sys; l=json.load(open(sys.argv[1]))[\"links\"]; sys.exit(not (l[\"present\"]==3 and l[\"blocked\"]==1 and l[\"violations\"]==0))" "$tmp/out"'

# ---- list -------------------------------------------------------------------------------------
run pc list
expect "list shows the blocked veth with its MAC (not permanent) and kind" 0 \
	"block     network vblk (ifindex $idx) 02:00:00:00:00:0b (not permanent), kind veth"
check "list gives the blocked veth's reason" 'grep -A1 "network vblk " "$tmp/out" | grep -q "down; 0 violations; default"'
check "list shows the approved veth with its permit" 'grep -A1 "allow     network vok " "$tmp/out" | grep -q "P-ok"'
check "list shows loopback as allowed" 'grep -q "allow     network lo (ifindex 1)" "$tmp/out"'
check "list still says there are no USB devices" 'grep -q "no USB devices present" "$tmp/out"'
run pc list --blocked
expect "list --blocked shows the blocked veth" 0 "network vblk (ifindex $idx)"
check "list --blocked leaves out vok and lo" '! grep -qE "network (vok|lo) " "$tmp/out"'
run pc list --json
cat >check-list.py <<'EOF'
import json, sys
links = [d for d in json.load(open(sys.argv[1])) if d.get("type") == "network"]
by = {d["name"]: d for d in links}
v = by["vblk"]
assert v["verdict"] == "block" and v["mac"] == "02:00:00:00:00:0b" and v["mac_permanent"] is False, v
assert v["kind"] == "veth" and v["reason"] and v["permit"] is None and v["up"] is False, v
assert v["ifindex"] == int(sys.argv[2]) and v["violations"] == int(sys.argv[3]), v
assert by["vok"]["verdict"] == "allow" and by["vok"]["permit"] == "P-ok", by["vok"]
assert by["lo"]["loopback"] is True and by["lo"]["verdict"] == "allow", by["lo"]
for d in links:
    for k in ("path", "driver"):
        assert isinstance(d[k], str), d
EOF
check "list --json parses: type, identity, decision, reason, permit, violations" \
	'"$PY" check-list.py "$tmp/out" "$idx" 0 2>"$tmp/err"'
run pc list --blocked --json
check "list --blocked --json holds only vblk" \
	'"$PY" -c "import json,sys; a=json.load(open(sys.argv[1])); sys.exit(not ([d[\"name\"] for d in a]==[\"vblk\"]))" "$tmp/out"'

# ---- watch: a violation ----------------------------------------------------------------------
pc watch >watch.out 2>watch.err &
wpid=$!
pids+=("$wpid")
pc watch --json >watch.json 2>watch.json.err &
wjpid=$!
pids+=("$wjpid")
wait_for watch.err "watching" 30
sleep 0.3
A ip link set vblk up
wait_down vblk && ok "the attacker's set-up is taken back down" || not_ok "the attacker's set-up is taken back down"
if wait_for watch.out "network violation: .*\"vblk\".*set up while blocked" 30; then
	ok "watch prints a violation line for the blocked veth"
else not_ok "watch prints a violation line for the blocked veth" "$(cat watch.out watch.err)"; fi
if wait_for watch.json "\"event\":\"violation\".*\"ifname\":\"vblk\"" 30; then
	ok "watch --json streams the violation record with the link's fields"
else not_ok "watch --json streams the violation record" "$(cat watch.json)"; fi
run pc status
expect "status counts the violation" 0 "1 blocked; 1 violation"
run pc list --json
check "list --json counts the violation" '"$PY" check-list.py "$tmp/out" "$idx" 1 2>"$tmp/err"'

# ---- bash completion of request: the names kyokad reports (policyctl list --json) --------------
bc=/usr/share/bash-completion/bash_completion
if [ -r "$bc" ]; then
	complete_request() { # [setpriv ARGS...]: the words offered for "policyctl --runtime-dir RUN request "
		"$@" bash --norc --noprofile -c '
		. "$1" && . "$2" || exit 9
		line="$3 --runtime-dir $4 request "
		COMP_LINE=$line COMP_POINT=${#line}
		read -ra COMP_WORDS <<<"$line"; COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_policyctl policyctl "" request
		printf "%s\n" "${COMPREPLY[@]}"' bash "$bc" "$top/shell-completion/bash/policyctl" "$P" "$tmp/run" 2>&1 |
		LC_ALL=C sort | tr '\n' ' '
	}
	got=$(complete_request)
	[ "$got" = "lo vblk vok " ] && ok "bash completion of 'policyctl request <TAB>' offers the links kyokad lists: $got" ||
		not_ok "bash completion of 'policyctl request <TAB>' offers the links kyokad lists" "got [$got], expected [lo vblk vok ]"
	got=$(complete_request setpriv --reuid=65534 --regid=65534 --clear-groups)
	[ "$got" = " " ] || [ -z "$got" ] && ok "... and nothing, without an error, to a user outside group kyoka" ||
		not_ok "... and nothing, without an error, to a user outside group kyoka" "got [$got]"
else
	not_ok "bash completion: $bc missing (make deps)"
fi

# ---- request ---------------------------------------------------------------------------------
run pc request vblk --out req.json
expect "request vblk writes the request" 0 "request for network link vblk written to req.json"
check "the request is for the network link, with its MAC and kind" \
	'"$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); d=r[\"device\"]; sys.exit(not (r[\"type\"]==\"network\" and d[\"name\"]==\"vblk\" and d[\"mac\"]==\"02:00:00:00:00:0b\" and d[\"kind\"]==\"veth\" and d[\"ifindex\"]==int(sys.argv[2])))" req.json "$idx"'
run pc request "$idx"
expect "request by ifindex names the same link" 0 '"name":"vblk"'
run pc request --network vblk
expect "request --network vblk" 0 '"type":"network"'
run pc request --usb vblk
expect "request --usb vblk finds no USB device" 1 "no present USB device"
run pc request vnone
expect "request for an absent link exits 1" 1 "no network link that name or ifindex"
run pc request --usb --network vblk
expect "--usb with --network is a usage error" 2 "exclude each other"
run pc request vok
expect "request for an allowed link is written with a note" 0 "network link vok is not blocked"

# ---- approve -> sign -> install: the link may come up -----------------------------------------
run pc approve approver/policy.conf --request req.json --permit P-blk --by "test approver"
expect "approve --request takes the network request" 0 "P-blk"
check "the new entry is keyed by kind and name (the veth's MAC is not permanent)" \
	'grep -q "kind = \"veth\"" approver/policy.conf && grep -q "name = \"vblk\"" approver/policy.conf && ! grep -q "0b\"" approver/policy.conf'
run pc sign --key approver/admin.key approver/policy.conf
expect "sign the approved policy" 0
run pc install approver/policy.conf
expect "install reloads kyokad" 0 "kyokad reloaded: serial 2 in force"
check "install reports the link's change" \
	'grep -q "link vblk (ifindex $idx) 02:00:00:00:00:0b (not permanent), kind veth: block -> allow (permit P-blk" "$tmp/out"'
A ip link set vblk up
sleep 0.5
if is_up vblk && A ping -c 2 -i 0.2 -W 1 10.78.2.2 >/dev/null; then
	ok "the approved veth stays up and passes a ping"
else not_ok "the approved veth stays up and passes a ping" "$(ip -n "$ka" -o link show dev vblk)"; fi
run pc list
check "list shows vblk allowed by P-blk" 'grep -A1 "allow     network vblk " "$tmp/out" | grep -q "P-blk"'
run pc status
expect "status: 3 links allowed now" 0 "3 present: 3 allowed, 0 blocked"
if wait_for watch.out "network re-evaluated: .*\"vblk\".*allow" 20; then ok "watch prints the link's new decision"
else not_ok "watch prints the link's new decision" "$(tail -5 watch.out)"; fi

# ---- kyokad exits cleanly --------------------------------------------------------------------
kill "$wpid" "$wjpid" 2>/dev/null
kill -TERM "$kpid"
st=0; wait "$kpid" || st=$?
if [ "$st" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error:' "$log" watch.err watch.json.err; then
	ok "kyokad exits 0 on SIGTERM, no sanitizer report"
else not_ok "kyokad exits 0 on SIGTERM, no sanitizer report" "status $st"; fi
finish
