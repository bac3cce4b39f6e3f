#!/usr/bin/env bash
# kyokad's control socket and the online verbs of policyctl on a host without USB devices:
# status, list, request, install (rollback, bad signature, other host, kyokad not running),
# reload, watch, the peer-credential checks (a stranger, a member of group kyoka, of
# kyoka-admin), garbage on the socket, the fallback to the accepted copy of the policy when
# CONFIG_DIR's pair is broken, and the connection limits (per uid, slots kept for admins, the
# idle timeout, one journal line per refused uid). Devices are the umockdev and VM tests' part.
# Usage: test-control.sh BUILD. Needs root (groups, setpriv); skips (exit 0) otherwise.
set -u
build=$(realpath "${1:?usage: test-control.sh BUILD}")
src=$(cd "$(dirname "$0")/../.." && pwd)
P="$build/policyctl" K="$build/kyokad"
if [ "$(id -u)" -ne 0 ]; then echo "ok - skipped: needs root"; echo "control: 0 passed, 0 failed"; exit 0; fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-control.XXXXXX")
chmod 0755 "$tmp"
export TZ=Asia/Tokyo LC_ALL=C.UTF-8
created_groups=() kpid=
cleanup() {
	[ -n "$kpid" ] && kill "$kpid" 2>/dev/null && wait "$kpid" 2>/dev/null
	for g in "${created_groups[@]}"; do groupdel "$g" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp" || exit 1

pass=0 fail=0
pc() { "$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" "$@"; }
run() { rc=0; "$@" >out 2>err || rc=$?; }
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
	echo "not ok - $1${2:+: $2}"
	sed 's/^/#   out: /' out 2>/dev/null | head -20
	sed 's/^/#   err: /' err 2>/dev/null | head -20
	fail=$((fail + 1))
}
expect() { # NAME RC [FIXED-STRING in stdout+stderr]
	local name=$1 want=$2 pattern=${3:-}
	if grep -q 'Sanitizer' err out 2>/dev/null; then not_ok "$name" "sanitizer report"; return 1; fi
	if [ "$rc" -ne "$want" ]; then not_ok "$name" "exit $rc, expected $want"; return 1; fi
	if [ -n "$pattern" ] && ! cat out err | grep -qF -- "$pattern"; then
		not_ok "$name" "output lacks: $pattern"; return 1
	fi
	ok "$name"
}
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }

# Raw protocol as any user: python3 sends MESSAGE (or N bytes of junk) and prints every reply
# until kyokad closes the connection or 1 s passes.
cat > raw.py <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
msg = sys.argv[2].encode() if not sys.argv[2].startswith("junk:") else b"x" * int(sys.argv[2][5:])
try:
    s.send(msg)
except OSError:
    pass    # refused at accept: kyokad's reply waits in the socket all the same
s.settimeout(1.0)
try:
    while True:
        m = s.recv(1 << 21)
        if not m:
            print("CLOSED"); break
        print(m.decode())
except socket.timeout:
    print("OPEN")
EOF
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
raw() { "$PY" raw.py "$tmp/run/control" "$@"; }
as_user() { # GROUPS CMD...: run as uid/gid 65534 with exactly these supplementary groups
	local groups=$1; shift
	if [ -n "$groups" ]; then setpriv --reuid=65534 --regid=65534 --groups="$groups" "$@"
	else setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; fi
}

for g in kyoka kyoka-admin; do
	if ! getent group "$g" >/dev/null; then groupadd --system "$g" && created_groups+=("$g"); fi
done
gid_read=$(getent group kyoka | cut -d: -f3) gid_admin=$(getent group kyoka-admin | cut -d: -f3)

# kyokad must never touch this host's network links: --network off where kyokad has it.
kargs=(--config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run")
"$K" --help | grep -q -- '--network' && kargs+=(--network off)
start_kyokad() {
	"$K" "${kargs[@]}" >>kyokad.log 2>&1 &
	kpid=$!
	for _ in $(seq 100); do [ -S run/control ] && return 0; sleep 0.05; done
	return 1
}
stop_kyokad() { kill "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null; kpid=; }

mkdir -p etc/keys.d state
chmod 0755 etc state
pc keygen --out admin >/dev/null && cp admin.pub etc/keys.d/
pc keygen --out stranger >/dev/null
pc init --issuer "木更津市 情報政策課" --contract "契約第123号" > p1.conf
pc sign --key admin.key p1.conf >/dev/null
sed 's/^serial = 1;/serial = 2;/' p1.conf > p2.conf; pc sign --key admin.key p2.conf >/dev/null
sed 's/^serial = 1;/serial = 3;/' p1.conf > p3.conf; pc sign --key admin.key p3.conf >/dev/null
sed -e 's/^serial = 1;/serial = 9;/' -e '/^contract = /a workstation = "not-this-host.example";' p1.conf > other.conf
pc sign --key admin.key other.conf >/dev/null
sed 's/^serial = 1;/serial = 8;/' p1.conf > untrusted.conf; pc sign --key stranger.key untrusted.conf >/dev/null

# ---- help and usage -------------------------------------------------------------------------
for verb in status list watch request install; do
	run pc "$verb" --help; expect "$verb --help" 0 "Usage: policyctl $verb"
done
run pc list --bogus;         expect "list --bogus is a usage error" 2 "unknown option"
run pc request;              expect "request without DEVICE is a usage error" 2 "expected one DEVICE"
run pc install;              expect "install without FILE is a usage error" 2 "expected one FILE"
run pc status extra;         expect "status with an argument is a usage error" 2 "unexpected argument"

# ---- kyokad not running ---------------------------------------------------------------------
run pc status;               expect "status without kyokad exits 1" 1 "kyokad is not running"

# ---- start without a policy: lockdown -------------------------------------------------------
check "kyokad starts and creates its socket" start_kyokad
check "the runtime directory exists" '[ -d run ]'
# Every local user may connect: kyokad checks who at accept (docs/control.md).
check "the socket is 0666" '[ "$(stat -c %a run/control)" = "666" ]' "$(stat -c %a:%U:%G run/control)"
run pc status;               expect "status: lockdown without a policy" 0 "built-in lockdown"
run pc status --json;        expect "status --json" 0 '"state":"lockdown"'
run pc list;                 expect "list: no devices on this host" 0 "no USB devices present"
run pc list --json;          expect "list --json: an empty array" 0 "["
run pc list --blocked;       expect "list --blocked" 0 "no blocked USB devices present"
run pc list;                 expect "list: links not watched with --network off" 0 "network links are not watched"
run pc status;               expect "status: links not watched with --network off" 0 "not watched (kyokad runs with --network off)"
run pc status --json;        expect "status --json: links null with --network off" 0 '"links":null'
run pc request 1-2;          expect "request for an absent device exits 1" 1 "no present USB device"
# The virus scans (issue 15): none here, but the counts are there, now and since start.
run pc status;               expect "status: the scans, none yet" 0 "since kyokad started: 0 passed, 0 infected, 0 did not finish"
run pc status --json
check "status --json: scans present and since start" 'python3 -c "
import json, sys
s = json.load(open(\"out\"))[\"scans\"]
assert s == {\"since_start\": {\"passed\": 0, \"infected\": 0, \"held\": 0}, \"waiting\": 0, \"scanning\": 0,
             \"held\": 0, \"passed\": 0, \"infected\": 0}, s
"' "$(head -c 300 out)"

# ---- install --------------------------------------------------------------------------------
run pc install p1.conf;      expect "install serial 1" 0 "kyokad reloaded: serial 1 in force"
check "installed bytes are the signed ones" 'cmp -s p1.conf etc/policy.conf && cmp -s p1.conf.sig etc/policy.conf.sig'
run pc status;               expect "status shows serial 1" 0 "serial 1"
check "status names the signer" 'grep -q "admin.pub (fingerprint" out'
check "status shows the issuer" 'grep -q "木更津市 情報政策課" out'
check "an accepted copy is kept in STATE_DIR" 'cmp -s p1.conf state/accepted/policy.conf && cmp -s p1.conf.sig state/accepted/policy.conf.sig'
run pc install p1.conf;      expect "installing the same policy again" 0 "the policy already in force"
run pc install p2.conf;      expect "install serial 2" 0 "serial 2 in force"
check "the accepted copy follows" 'cmp -s p2.conf state/accepted/policy.conf'
check "one copy directory left" '[ "$(ls -d state/accepted-* | wc -l)" -eq 1 ]'

cp etc/policy.conf before.conf
run pc install p1.conf;      expect "a rollback is refused" 1 "not newer than the last accepted"
cp p3.conf tampered.conf; cp p3.conf.sig tampered.conf.sig; echo "# changed" >> tampered.conf
run pc install tampered.conf; expect "a changed file is refused" 1 "BAD SIGNATURE"
run pc install untrusted.conf; expect "an untrusted signer is refused" 1 "BAD SIGNATURE"
run pc install other.conf;   expect "a policy for another workstation is refused" 1 "not this host"
cp p3.conf nosig.conf
run pc install nosig.conf;   expect "an unsigned policy is refused" 1 "not signed"
check "refused installs left CONFIG_DIR alone" 'cmp -s before.conf etc/policy.conf && cmp -s p2.conf.sig etc/policy.conf.sig'
check "no staging files left in CONFIG_DIR" '[ -z "$(ls -A etc | grep -v "^keys.d$\|^policy.conf$\|^policy.conf.sig$")" ]' "$(ls -A etc)"

# ---- peer credentials -----------------------------------------------------------------------
run as_user "" "$P" --runtime-dir "$tmp/run" status
expect "a stranger (no group, no seat) is refused" 1 "permission denied"
run as_user "$gid_read" "$P" --runtime-dir "$tmp/run" status
expect "a member of kyoka may read status" 0 "serial 2"
run as_user "$gid_read" "$P" --runtime-dir "$tmp/run" list
expect "a member of kyoka may list" 0 "no USB devices present"
run as_user "$gid_read" "$PY" raw.py "$tmp/run/control" '{"cmd":"reload"}'
expect "a member of kyoka may not reload" 0 "needs root or group kyoka-admin"
chmod 0777 etc
run as_user "$gid_read" "$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" install p3.conf
expect "a member of kyoka cannot make kyokad take an install" 1 "needs root or group kyoka-admin"
chmod 0755 etc
run as_user "$gid_admin,$gid_read" "$PY" raw.py "$tmp/run/control" '{"cmd":"reload"}'
expect "a member of kyoka-admin may reload" 0 '"ok":true'
check "that reload took serial 3" 'grep -q "serial 3" out' "$(head -c 300 out)"
# The socket is open to all (0666): the credential check at accept is the gate.
run as_user "" "$PY" raw.py "$tmp/run/control" '{"cmd":"status"}'
expect "a stranger gets an error reply and nothing else" 0 "permission denied"
check "not a byte of status" '! grep -q "serial\|policy" out' "$(head -c 300 out)"
check "and the connection is closed" 'grep -q CLOSED out'
check "the refusal is a journal notice" 'grep -q "control: refused uid 65534" kyokad.log'

# ---- garbage --------------------------------------------------------------------------------
run raw 'not json';                   expect "garbage gets an error reply" 0 '"ok":false'
check "and the client is dropped" 'grep -q CLOSED out'
run raw '{"cmd":"status"} trailing';  expect "trailing bytes are garbage" 0 '"ok":false'
run raw '[1,2]';                      expect "an array is garbage" 0 '"ok":false'
run raw '{"cmd":"frobnicate"}';       expect "an unknown command gets an error" 0 "unknown command"
check "but the client stays" 'grep -q OPEN out'
run raw '{"cmd":"request"}';          expect "request without device" 0 '"device\" must be'
run raw 'junk:70000';                 expect "a message over 64 KiB is refused" 0 "message too large"
run raw '{"cmd":"status"}';           expect "kyokad still answers after all that" 0 '"ok":true'

# ---- watch ----------------------------------------------------------------------------------
pc watch --json > watch.out 2> watch.err & wpid=$!
sleep 0.5
kill -HUP "$kpid"
for _ in $(seq 40); do grep -q '"subject":"policy"' watch.out && break; sleep 0.05; done
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
check "watch --json streams the policy record of a SIGHUP" 'grep -q "\"subject\":\"policy\"" watch.out' "$(cat watch.out watch.err)"
# The policy record's MESSAGE_ID, as daemon/recorder.h defines it (and catalog/ explains it).
policy_id=$(sed -n 's/^#define KYOKA_MESSAGE_POLICY *"\([0-9a-f]\{32\}\)"$/\1/p' "$src/daemon/recorder.h")
check "watch records carry the policy MESSAGE_ID ($policy_id)" '[ -n "$policy_id" ] && grep -q "\"message_id\":\"$policy_id\"" watch.out'

# ---- fallback to the accepted copy ----------------------------------------------------------
echo "# broken" >> etc/policy.conf
run raw '{"cmd":"reload"}'
expect "reload of a broken CONFIG_DIR policy is refused" 0 '"ok":false'
check "and says the accepted copy is in force" 'grep -q "last accepted policy (serial 3" out'
run pc status; expect "status: serial 3 from the accepted copy" 0 "from the last accepted copy"
stop_kyokad
check "kyokad restarts with a broken CONFIG_DIR policy" start_kyokad
run pc status; expect "after a restart: serial 3 still in force" 0 "serial 3"
check "from the accepted copy" 'grep -q "from the last accepted copy" out'
check "with a policy-fallback fault" 'grep -q "policy-fallback" out'
# A crash between the two renames of install: new policy.conf, old policy.conf.sig.
stop_kyokad
sed 's/^serial = 1;/serial = 4;/' p1.conf > p4.conf; pc sign --key admin.key p4.conf >/dev/null
cp p4.conf etc/policy.conf; cp p3.conf.sig etc/policy.conf.sig
start_kyokad
run pc status; expect "half-installed pair: the last accepted policy stays" 0 "serial 3"
# A corrupted accepted copy is not trusted either: lockdown.
stop_kyokad
echo "# also broken" >> state/accepted/policy.conf
start_kyokad
run pc status; expect "both broken: built-in lockdown" 0 "built-in lockdown"

# ---- install while kyokad is down -----------------------------------------------------------
stop_kyokad
run pc install p4.conf;  expect "install without kyokad" 0 "kyokad is not running: it will enforce this policy when it starts"
start_kyokad
run pc status;           expect "kyokad enforces it at start" 0 "serial 4"
check "from CONFIG_DIR again" '! grep -q "accepted copy" out'
stop_kyokad
check "kyokad removes its socket at exit" '[ ! -e run/control ]'

# ---- limits: nobody locks root out ----------------------------------------------------------
# Issue 9, reproduced: 64 idle connections of group kyoka locked root out of status and install.
# hold.py opens N connections and sends nothing (or "watch"); line 1: how many kyokad kept and
# what it said to the others; line 2 (after --hold s, or once kyokad closed them all): how many
# are open, and per reason kyokad gave before closing [count, min, max seconds after connect].
cat > hold.py <<'EOF'
import argparse, json, select, socket, time
ap = argparse.ArgumentParser()
ap.add_argument("socket"); ap.add_argument("n", type=int)
ap.add_argument("--watch", action="store_true"); ap.add_argument("--hold", type=float, default=0)
a = ap.parse_args()
conns = []
for _ in range(a.n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(a.socket)
    conns.append((s, time.monotonic()))
time.sleep(0.5)
kept, refused = {}, []
for s, t in conns:
    s.setblocking(False)
    try:
        m = s.recv(1 << 16)
        refused.append(json.loads(m).get("error") if m else "EOF")
        s.close()
    except BlockingIOError:
        kept[s] = t
if a.watch:
    for s in kept:
        s.send(b'{"cmd":"watch"}')
        select.select([s], [], [], 5.0)
        s.recv(1 << 16)
print(json.dumps({"admitted": len(kept), "refused": len(refused), "errors": sorted(set(refused))}), flush=True)
last, closed = {}, {}
end = time.monotonic() + a.hold
while kept and time.monotonic() < end:
    ready, _, _ = select.select(list(kept), [], [], max(0.0, end - time.monotonic()))
    for s in ready:
        try:
            m = s.recv(1 << 21)
        except ConnectionResetError:
            m, last[s] = b"", "ECONNRESET"
        if m:
            o = json.loads(m)
            if "ok" in o:
                last[s] = o.get("error", "")
            continue
        after = round(time.monotonic() - kept.pop(s), 2)
        c = closed.setdefault(last.get(s, "EOF"), [0, after, after])
        c[0] += 1; c[1] = min(c[1], after); c[2] = max(c[2], after)
        s.close()
print(json.dumps({"open": len(kept), "closed": closed}), flush=True)
EOF
# A client refused in a loop: connect, read the refusal, close; prints how many were refused.
cat > loop.py <<'EOF'
import socket, sys, time
end, n = time.monotonic() + float(sys.argv[2]), 0
while time.monotonic() < end:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    s.settimeout(2.0)
    if s.recv(4096):
        n += 1
    s.close()
print(n)
EOF
# Long enough for the table to be filled before the first idle connection goes.
idle=8
hold() { # OUT UID GROUPS ARGS...: hold.py in the background as UID with exactly GROUPS
	local out=$1 uid=$2 groups=$3; shift 3
	setpriv --reuid="$uid" --regid="$uid" --groups="$groups" "$PY" hold.py "$tmp/run/control" "$@" >"$out" 2>&1 &
}
lines() { # FILE N: waits (at most 30 s) until FILE has N lines
	for _ in $(seq 300); do [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1
}
field() { # FILE LINE EXPR: a Python expression over the JSON object o of line LINE (from 0)
	"$PY" -c 'import json, sys; o = json.loads(open(sys.argv[1]).read().splitlines()[int(sys.argv[2])]); print(eval(sys.argv[3]))' "$@" 2>/dev/null
}
since() { echo $((($(date +%s%N) - $1) / 1000000)); }
kargs+=(--control-idle-timeout "$idle")
check "kyokad starts with a ${idle} s idle timeout (hidden option, for tests)" start_kyokad
log_from=$(($(wc -l <kyokad.log) + 1))
sed 's/^serial = 1;/serial = 5;/' p1.conf > p5.conf; pc sign --key admin.key p5.conf >/dev/null

hold h1 65534 "$gid_read" 70 --hold $((idle + 8))
lines h1 1
check "one uid of group kyoka keeps 8 of 70 idle connections" '[ "$(field h1 0 "o[\"admitted\"]")" = 8 ]' "$(cat h1)"
check "the other 62 are refused with a reply that says why" \
	'[ "$(field h1 0 "o[\"refused\"]")" = 62 ] && grep -q "too many connections from this user (at most 8 at once)" h1' "$(cat h1)"
run as_user "$gid_read" "$P" --runtime-dir "$tmp/run" status
expect "policyctl as that uid is refused and says why" 1 "kyokad: too many connections from this user"
# Watchers are not idle but count: 9 watchers of one uid, 8 kept, and kept past the timeout.
hold w 60010 "$gid_read" 9 --watch --hold $((idle * 2 + 2))
lines w 1
check "a uid's watchers count against its limit" \
	'[ "$(field w 0 "o[\"admitted\"]")" = 8 ] && [ "$(field w 0 "o[\"refused\"]")" = 1 ]' "$(cat w)"
# Seven more uids, 8 each: readers fill the 56 slots they may have, not one more.
for u in 1 2 3 4 5 6 7; do hold "h-$u" $((60000 + u)) "$gid_read" 8 --hold $((idle + 8)); done
for u in 1 2 3 4 5 6 7; do lines "h-$u" 1; done
readers=$(cat h1 w h-? | grep admitted | "$PY" -c 'import json, sys; print(sum(json.loads(l)["admitted"] for l in sys.stdin))')
check "readers hold 56 connections at most (8 of 64 stay for admins)" '[ "$readers" = 56 ]' "readers: $readers"
check "the readers past 56 are told the table is full" 'grep -qh "too many clients: try again later" h-?' "$(cat h-?)"
t=$(date +%s%N); run pc status; ms=$(since "$t")
expect "root's status answers with 56 readers connected (${ms} ms)" 0 "serial 4"
check "at once (under 1 s)" '[ "$rc" -eq 0 ] && [ "$ms" -lt 1000 ]' "$ms ms"
run setpriv --reuid=65533 --regid=65533 --groups="$gid_admin,$gid_read" "$P" --runtime-dir "$tmp/run" status
expect "a kyoka-admin member's status answers too" 0 "serial 4"
# The uid at its limit loops (two processes): root is served at once all along.
for i in 1 2; do setpriv --reuid=65534 --regid=65534 --groups="$gid_read" "$PY" loop.py "$tmp/run/control" 1.5 >"loop$i" 2>&1 & done
worst=0
for _ in 1 2 3 4 5; do
	t=$(date +%s%N); run pc status; ms=$(since "$t")
	[ "$rc" -eq 0 ] || ms=99999
	[ "$ms" -gt "$worst" ] && worst=$ms
	sleep 0.2
done
lines loop1 1; lines loop2 1
refusals=$(($(cat loop1) + $(cat loop2)))
check "while that uid is refused $refusals times in 1.5 s, root's status answers 5 of 5 (worst ${worst} ms)" \
	'[ "$worst" -lt 1000 ] && [ "$refusals" -gt 100 ]' "$(cat loop1 loop2)"
# Root takes the 8 reserved slots itself: the table is full, and root is still served.
"$PY" hold.py "$tmp/run/control" 8 --hold $((idle + 8)) >r0 2>&1 &
lines r0 1
check "root holds the 8 reserved slots" '[ "$(field r0 0 "o[\"admitted\"]")" = 8 ]' "$(cat r0)"
t=$(date +%s%N); run pc status; ms=$(since "$t")
expect "root's status answers with all 64 connections taken (${ms} ms)" 0 "serial 4"
check "kyokad closed the longest idle reader for it" \
	'tail -n +$log_from kyokad.log | grep -q "control: closing the connection of uid 65534 (pid [0-9]*), idle, to serve uid 0"' \
	"$(tail -n +$log_from kyokad.log | grep control)"
run pc install p5.conf
expect "root's install goes through with all connections taken" 0 "kyokad reloaded: serial 5 in force"

# The idle ones are closed after the timeout, each told why; the watchers stay.
for f in h1 h-1 h-2 h-3 h-4 h-5 h-6 h-7 r0 w; do lines "$f" 2; done
idle_closed=$(cat h1 h-? r0 | grep '"open"' | "$PY" -c '
import json, sys
n, lo, hi = 0, [], []
for l in sys.stdin:
    for why, (k, a, b) in json.loads(l)["closed"].items():
        if why == sys.argv[1]:
            n += k; lo.append(a); hi.append(b)
print(n, min(lo, default="nan"), max(hi, default="nan"))' "closed: idle for $idle s")
read -r n lo hi <<<"$idle_closed"
check "every idle connection is closed with \"closed: idle for $idle s\" (48 readers + 8 of root - 1 evicted)" \
	'[ "$n" = 55 ]' "$idle_closed; $(cat h1 h-? r0)"
check "not before $idle s after its connect (first: ${lo} s)" '"$PY" -c "import sys; sys.exit(not float(\"$lo\") >= $idle - 0.1)"' "$lo"
check "nor much later (last: ${hi} s)" '"$PY" -c "import sys; sys.exit(not float(\"$hi\") <= $idle + 2)"' "$hi"
check "the evicted reader was told why" 'grep -q "an administrator needed one" h1' "$(cat h1)"
check "none was reset: each read kyokad's last word" '! grep -q ECONNRESET h1 h-? r0 w' "$(cat h1 h-? r0 w)"
check "the 8 watchers are still open after $((idle * 2 + 2)) s" '[ "$(field w 1 "o[\"open\"]")" = 8 ]' "$(cat w)"

# 62 + 1 + the loop's refusals of uid 65534 within a minute: one journal line.
n=$(tail -n +$log_from kyokad.log | grep -c "control: refused uid 65534 ")
check "refusals of one uid are logged once a minute (1 line for $((63 + refusals)))" '[ "$n" = 1 ]' "$n lines"
n=$(tail -n +$log_from kyokad.log | grep -c "control: refused uid")
check "and once per uid (at most 9 lines for 9 uids)" '[ "$n" -le 9 ]' "$(tail -n +$log_from kyokad.log | grep control)"
stop_kyokad

if grep -q Sanitizer kyokad.log; then not_ok "kyokad ran without sanitizer reports" "$(grep -m3 Sanitizer kyokad.log)"
else ok "kyokad ran without sanitizer reports"; fi

echo "control: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
