#!/usr/bin/env bash
# kyokad's control socket and the online verbs of policyctl on a host without USB devices:
# status, list, request, install (rollback, bad signature, other host, kyokad not running),
# reload, watch, the peer-credential checks (a stranger, a member of group kyoka, of
# kyoka-admin), garbage on the socket, and the fallback to the accepted copy of the policy when
# CONFIG_DIR's pair is broken. Devices are the umockdev and VM tests' part.
# Usage: test-control.sh BUILD. Needs root (groups, setpriv); skips (exit 0) otherwise.
set -u
build=$(realpath "${1:?usage: test-control.sh BUILD}")
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
s.send(msg)
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
check "the socket is 0660 root:kyoka" '[ "$(stat -c %a:%U:%G run/control)" = "660:root:kyoka" ]' "$(stat -c %a:%U:%G run/control)"
run pc status;               expect "status: lockdown without a policy" 0 "built-in lockdown"
run pc status --json;        expect "status --json" 0 '"state":"lockdown"'
run pc list;                 expect "list: no devices on this host" 0 "no USB devices present"
run pc list --json;          expect "list --json: an empty array" 0 "["
run pc list --blocked;       expect "list --blocked" 0 "no blocked USB devices present"
run pc list;                 expect "list: links not watched with --network off" 0 "network links are not watched"
run pc status;               expect "status: links not watched with --network off" 0 "not watched (kyokad runs with --network off)"
run pc status --json;        expect "status --json: links null with --network off" 0 '"links":null'
run pc request 1-2;          expect "request for an absent device exits 1" 1 "no present USB device"

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
expect "a stranger cannot even connect (socket mode)" 1 "permission denied"
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
# The socket's mode is the first gate; the credential check is the second, proven here by
# opening the mode (only in this test).
chmod 0666 run/control
run as_user "" "$PY" raw.py "$tmp/run/control" '{"cmd":"status"}'
expect "a stranger past the socket mode gets an error reply" 0 "permission denied"
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
check "watch records carry a MESSAGE_ID" 'grep -q "\"message_id\":\"6b796f6b" watch.out'

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

if grep -q Sanitizer kyokad.log; then not_ok "kyokad ran without sanitizer reports" "$(grep -m3 Sanitizer kyokad.log)"
else ok "kyokad ran without sanitizer reports"; fi

echo "control: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
