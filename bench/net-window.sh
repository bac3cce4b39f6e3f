#!/usr/bin/env bash
# The window of issue 4: how long an unapproved link can be up, and how many packets get out,
# while an attacker keeps setting it up and sending (bench/net-attacker.c: UDP through the IP
# stack and raw AF_PACKET frames). kyokad runs in a network namespace made here with a signed
# policy that blocks the link; a peer namespace counts what arrives on the other veth end.
# Two runs: kyokad as shipped (link kept down + nftables tables), and link-down alone (kyokad's
# tables deleted after start, for comparison).
# Usage: bench/net-window.sh [BUILD [SECONDS]]   (root; prints one line per run:
#   "net-window mode=... seconds=... attempts=... downed=... median_us=... p95_us=... max_us=... escaped=...")
set -euo pipefail
build=$(realpath "${1:-build}")
seconds=${2:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "net-window: needs root (network namespaces)" >&2; exit 1; }
for f in "$build/kyokad" "$build/policyctl"; do [ -x "$f" ] || { echo "net-window: $f missing (make)" >&2; exit 1; }; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-netwin.XXXXXX")
ka=kyoka-wa-$$ kb=kyoka-wb-$$ kpid=
cleanup() {
	[ -n "$kpid" ] && kill -KILL "$kpid" 2>/dev/null; wait 2>/dev/null || true
	ip netns del "$ka" 2>/dev/null || true; ip netns del "$kb" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -o "$tmp/net-attacker" "$top/bench/net-attacker.c"
mkdir -p "$tmp/config/keys.d" "$tmp/state" "$tmp/run"
"$build/policyctl" keygen --out "$tmp/admin" >/dev/null
cp "$tmp/admin.pub" "$tmp/config/keys.d/"
cat >"$tmp/config/policy.conf" <<POLICY
kyoka_policy = 1;
serial = 1;
issued = "$(date +%Y-%m-%dT%H:%M%:z)";
issuer = "bench";
contract = "net-window";
defaults = { network = "block"; };
POLICY
"$build/policyctl" sign --key "$tmp/admin.key" "$tmp/config/policy.conf" >/dev/null

ip netns add "$ka"; ip netns add "$kb"
ip -n "$ka" link set lo up
ip -n "$ka" link add vblk type veth peer name pblk netns "$kb"
ip -n "$kb" link set pblk up
ip -n "$ka" addr add 10.78.0.1/24 dev vblk
peer_mac=$(ip -n "$kb" -o link show pblk | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
ip -n "$ka" neigh replace 10.78.0.2 lladdr "$peer_mac" dev vblk nud permanent

ip netns exec "$ka" "$build/kyokad" --config-dir "$tmp/config" --state-dir "$tmp/state" \
	--runtime-dir "$tmp/run" >"$tmp/kyokad.log" 2>&1 &
kpid=$!
for _ in $(seq 50); do grep -q "kyokad ready" "$tmp/kyokad.log" && break; sleep 0.1; done
grep -q "kyokad ready" "$tmp/kyokad.log" || { echo "net-window: kyokad did not start" >&2; cat "$tmp/kyokad.log" >&2; exit 1; }

rx() { ip netns exec "$kb" cat /sys/class/net/pblk/statistics/rx_packets; }
run() {
	local mode=$1 r0 r1 out
	r0=$(rx)
	out=$(ip netns exec "$ka" "$tmp/net-attacker" vblk 10.78.0.2 "$peer_mac" --seconds "$seconds" --mode both)
	sleep 0.3
	r1=$(rx)
	echo "net-window mode=$mode seconds=$seconds $(sed 's/up_failed=[0-9]* //' <<<"$out") escaped=$((r1 - r0))"
}
run "link-down+nftables"
for fam in inet arp bridge netdev; do ip netns exec "$ka" nft delete table "$fam" kyoka; done
run "link-down-only"
