#!/usr/bin/env bash
# policyctl end to end, as a municipal IT admin uses it: keys, a skeleton, approvals from
# requests, signatures (checked against openssl(1) both ways), verification with anti-rollback,
# show, revoke, and the exit codes (0 success, 1 refused, 2 usage). Usage: test-policyctl.sh BUILD
set -u
build=$(realpath "${1:?usage: test-policyctl.sh BUILD}")
P="$build/policyctl"
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-policyctl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export TZ=Asia/Tokyo LC_ALL=C.UTF-8

pass=0 fail=0
# Never the system's directories: every run names its own.
pc() { "$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" "$@"; }
# run CMD...: exit status in $rc, output in files out and err.
run() { rc=0; "$@" >out 2>err || rc=$?; }
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
	echo "not ok - $1${2:+: $2}"
	sed 's/^/#   out: /' out 2>/dev/null | head -20
	sed 's/^/#   err: /' err 2>/dev/null | head -20
	fail=$((fail + 1))
}
# expect NAME RC [GREP-PATTERN-IN-STDOUT+STDERR]: the last run's status and output.
expect() {
	local name=$1 want=$2 pattern=${3:-}
	# Under an ASan build a leak or overflow on a refusal path would hide behind exit 1.
	if grep -q 'Sanitizer' err; then not_ok "$name" "sanitizer report"; return 1; fi
	if [ "$rc" -ne "$want" ]; then not_ok "$name" "exit $rc, expected $want"; return 1; fi
	if [ -n "$pattern" ] && ! cat out err | grep -qF -- "$pattern"; then
		not_ok "$name" "output lacks: $pattern"; return 1
	fi
	ok "$name"
}
today=$(date +%F)
sha256() { sha256sum "$1" | cut -d' ' -f1; }
serial_of() { sed -n 's/^serial = \([0-9]*\)L*;.*/\1/p' "$1"; }

mkdir -p etc/keys.d state run

# ---- help and usage -------------------------------------------------------------------------
for verb in keygen init check sign verify show approve revoke; do
	run pc "$verb" --help
	expect "$verb --help" 0 "Usage: policyctl $verb"
done
run pc --help;    expect "--help lists the verbs" 0 "approve"
# The version is packaging/debian/changelog's (the .deb's and the .rpm's too).
version=$(head -1 "$src/packaging/debian/changelog" 2>/dev/null | cut -d'(' -f2 | cut -d')' -f1)
[ -n "$version" ] || version="?"
run pc --version; expect "--version says the changelog's version ($version)" 0 "policyctl (kyoka) $version"
run pc help;      expect "help lists the verbs, help among them" 0 "help           show this list"
run pc help revoke; expect "help VERB is VERB --help" 0 "Usage: policyctl revoke FILE --permit REF"
run pc help --help; expect "help --help is help" 0 "Usage: policyctl [GLOBAL OPTIONS] VERB"

usage_case() {
	local name=$1; shift
	run pc "$@"
	if [ "$rc" -eq 2 ] && grep -q '^policyctl: ' err && ! grep -q Sanitizer err; then ok "usage error exits 2: $name"
	else not_ok "usage error exits 2: $name" "exit $rc"; fi
}
usage_case "no verb"
usage_case "unknown verb" frobnicate
usage_case "help of an unknown verb" help frobnicate
usage_case "help of two verbs" help check sign
usage_case "unknown global option" --bogus check x
usage_case "unknown verb option" show --bogus policy.conf
usage_case "option without its value" sign policy.conf --key
usage_case "check without FILE" check
usage_case "check with two FILEs" check a b
usage_case "keygen without --out" keygen
usage_case "sign without --key" sign policy.conf
usage_case "verify --key and --keys" verify --key a.pub --keys etc/keys.d policy.conf
usage_case "approve without a device" approve policy.conf --permit P --by B
usage_case "approve without --permit" approve policy.conf --vendor 0781 --product 5581 --serial S --by B
usage_case "approve with a malformed vendor" approve policy.conf --vendor 78x1 --product 5581 --serial S --permit P --by B
usage_case "approve with --request and --vendor" approve policy.conf --request r.json --vendor 0781 --product 5581 --serial S --permit P --by B
usage_case "approve with a malformed date" approve policy.conf --vendor 0781 --product 5581 --serial S --permit P --by B --until 2027-02-30
usage_case "approve until a past date" approve policy.conf --vendor 0781 --product 5581 --serial S --permit P --by B --until 2020-01-01
usage_case "approve with --from after --until" approve policy.conf --vendor 0781 --product 5581 --serial S --permit P --by B --from 2099-02-01 --until 2099-01-01
usage_case "approve with a control character" approve policy.conf --vendor 0781 --product 5581 --serial S --permit "$(printf 'P\033[2J')" --by B
usage_case "approve with a malformed interface" approve policy.conf --vendor 0781 --product 5581 --serial S --permit P --by B --interfaces 08:06
usage_case "revoke without --permit" revoke policy.conf

# ---- keygen ---------------------------------------------------------------------------------
run pc keygen --out admin
if [ "$rc" -eq 0 ] && [ "$(stat -c %a admin.key)" = 600 ] && grep -q 'BEGIN PRIVATE KEY' admin.key &&
	grep -q 'BEGIN PUBLIC KEY' admin.pub; then ok "keygen writes admin.key (0600) and admin.pub"
else not_ok "keygen writes admin.key (0600) and admin.pub"; fi
cp admin.key admin.key.orig
run pc keygen --out admin
if [ "$rc" -eq 1 ] && cmp -s admin.key admin.key.orig; then ok "keygen refuses to overwrite a key"
else not_ok "keygen refuses to overwrite a key" "exit $rc"; fi
run pc keygen --out other; expect "keygen of a second key" 0 "fingerprint"

# ---- init and check -------------------------------------------------------------------------
pc init > skeleton.conf
run pc check skeleton.conf
expect "init without --issuer does not pass check" 1 "skeleton.conf:20: issuer: must not be empty"
sed -e 's/^issuer = "";/issuer = "木更津市 総務部 情報政策課";/' -e 's/^contract = "";/contract = "令和8年度 契約第123号";/' \
	skeleton.conf > filled.conf
run pc check filled.conf; expect "init output passes check once filled in" 0 "filled.conf: valid, serial 1"

run pc init --issuer '木更津市 "総務部"' --contract '令和8年度 契約第123号'
cp out policy.conf
if [ "$rc" -eq 0 ] && grep -q '^serial = 1;' policy.conf && grep -q "^issued = \"$today\";" policy.conf &&
	grep -q '^issuer = "木更津市 \\"総務部\\"";' policy.conf; then ok "init --issuer --contract: serial 1, issued today, escaped"
else not_ok "init --issuer --contract: serial 1, issued today, escaped"; fi
run pc check policy.conf; expect "init --issuer --contract passes check" 0 "valid, serial 1"
# The contractor and its responsible person, named in the weekly report (optional fields).
run pc init --issuer 木更津市 --contract 契約第123号 --contractor '株式会社かずさ情報' --responsible '技術部長 鈴木 一郎'
cp out contractor.conf
run pc show contractor.conf
if grep -q '^contractor = "株式会社かずさ情報";' contractor.conf && grep -q '^responsible = "技術部長 鈴木 一郎";' contractor.conf &&
	[ "$rc" -eq 0 ] && grep -q '^contractor   株式会社かずさ情報$' out && grep -q '^responsible  技術部長 鈴木 一郎$' out
then ok "init --contractor --responsible: written, and show prints them"
else not_ok "init --contractor --responsible"; fi
run pc init --contractor $'a\tb'
expect "init --contractor with a control character is a usage error" 2 "--contractor must be UTF-8 text"
# An admin's own comment, to see that edits keep it.
sed -i 's|^kyoka_policy = 1;|kyoka_policy = 1;   // 2026-11-22 総務部と協議済み|' policy.conf

header='kyoka_policy = 1;
serial = 3;
issued = "2026-11-20";
issuer = "木更津市";
contract = "契約第123号";'
malformed() { # NAME BODY EXPECTED-MESSAGE
	printf '%s\n%s\n' "$header" "$2" > bad.conf
	run pc check bad.conf
	if [ "$rc" -eq 1 ] && grep -qxF -- "$3" err; then ok "check: $1"
	else not_ok "check: $1" "exit $rc, expected exit 1 and: $3"; fi
}
malformed "vendor not hex" 'usb = ( {
  permit = "許可-1";
  vendor = "78x1"; product = "5581"; serial = "S";
  approved_by = "山田"; approved_on = "2026-11-20";
} );' 'bad.conf:8: usb[0].vendor: expected 4 hex digits, got "78x1"'
malformed "missing approved_by" 'usb = ( {
  permit = "許可-1"; vendor = "0781"; product = "5581"; serial = "S"; approved_on = "2026-11-20";
} );' 'bad.conf:6: usb[0].approved_by: missing (required)'
malformed "unknown key" 'colour = "blue";' 'bad.conf:6: colour: unknown key'
malformed "valid_from after valid_until" 'usb = ( {
  permit = "許可-1"; vendor = "0781"; product = "5581"; serial = "S"; approved_by = "山田"; approved_on = "2026-11-20";
  valid_from = "2027-01-01"; valid_until = "2026-12-31";
} );' 'bad.conf:8: usb[0].valid_from: "2027-01-01" is not before valid_until "2026-12-31"'
malformed "duplicate permit" 'usb = ( { permit = "X"; vendor = "0781"; product = "5581"; serial = "S"; approved_by = "A"; approved_on = "2026-02-01"; },
  { permit = "X"; vendor = "0781"; product = "5582"; serial = "S"; approved_by = "A"; approved_on = "2026-02-01"; } );' \
	'bad.conf:7: usb[1].permit: duplicate permit "X" (first at line 6)'
malformed "syntax error" 'usb = ( { permit = "X" ' 'bad.conf:7: syntax error'

printf '%s\n%s\n' "$header" 'usb = ( { permit = "X"; vendor = "0781"; product = "5581"; serial = "S"; approved_by = "A"; approved_on = "2026-02-01"; } );' > warn.conf
run pc check warn.conf
expect "check: warnings are printed, exit 0" 0 "warn.conf:6: warning: usb[0].interfaces: not given"

# ---- approve ----------------------------------------------------------------------------------
# A request as kyokad writes it (docs/request.md).
cat > stick.json <<'EOF'
{
  "kyoka_request": 1,
  "type": "usb",
  "host": { "hostname": "kyoka-pc-01", "machine_id": null },
  "time": "2026-11-22T10:00:00+09:00",
  "device": {
    "vendor": "0781",
    "product": "5581",
    "serial": "4C530001230101115423",
    "manufacturer": "SanDisk",
    "product_name": "Ultra",
    "bus_path": "1-2",
    "id_path": "pci-0000:00:14.0-usb-0:2:1.0",
    "device_class": "00:00:00",
    "interfaces": [ "08:06:50" ]
  }
}
EOF
chmod 640 policy.conf
run pc approve policy.conf --request stick.json --permit 許可-2026-017 --by "情報政策課 山田" \
	--until 2027-03-31 --read-only --purpose "納品データの受け渡し" --holder "田中 一郎"
expect "approve from a USB request" 0 "Sign it: policyctl sign" &&
	{ [ "$(serial_of policy.conf)" = 2 ] && ok "approve raises the serial" || not_ok "approve raises the serial"; }
if grep -qF '// 2026-11-22 総務部と協議済み' policy.conf && grep -qF '# 通し番号' policy.conf &&
	grep -qF '#       permit = "許可-2026-017";' policy.conf; then ok "approve keeps the file's comments"
else not_ok "approve keeps the file's comments"; fi
[ "$(stat -c %a policy.conf)" = 640 ] && ok "approve keeps the file's mode" || not_ok "approve keeps the file's mode"
run pc check policy.conf; expect "the approved policy passes check" 0 "1 usb and 0 network"

run pc show --json policy.conf
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
p = json.load(sys.stdin)
e = p["usb"][0]
assert p["serial"] == 2, p["serial"]
assert e["permit"] == "許可-2026-017" and e["vendor"] == "0781" and e["product"] == "5581"
assert e["serial"] == "4C530001230101115423" and e["interfaces"] == ["08:06:50"]
assert e["access"] == "read-only" and e["label"] == "SanDisk Ultra" and e["holder"] == "田中 一郎"
assert e["approved_by"] == "情報政策課 山田" and e["approved_on"] == sys.argv[1] and e["valid_until"] == "2027-03-31"
' "$today" < out; then ok "the entry holds the request's identity and interfaces (show --json)"
else not_ok "the entry holds the request's identity and interfaces (show --json)"; fi

cp policy.conf before-dup.conf
run pc approve policy.conf --vendor 1234 --product 5678 --serial X --permit 許可-2026-017 --by B
if [ "$rc" -eq 1 ] && grep -q 'exists already' err && cmp -s policy.conf before-dup.conf; then ok "approve refuses a duplicate permit"
else not_ok "approve refuses a duplicate permit" "exit $rc"; fi

run pc approve policy.conf --vendor 046d --product c52b --serial "" --permit 許可-2026-018 --by "情報政策課 山田" \
	--label 'Logitech "Unifying" C:\dongle' --interfaces '03:01:*,03:*:*'
expect "approve from --vendor/--product/--serial" 0 "serial is now 3"
run pc approve policy.conf --vendor 0bda --product 8153 --serial 000001 --permit 許可-2026-019 --by "山田"
expect "approve without --interfaces warns" 0 "warning: no --interfaces"

cat > link.json <<'EOF'
{
  "kyoka_request": 1,
  "type": "network",
  "host": { "hostname": "kyoka-pc-01", "machine_id": "0123456789abcdef0123456789abcdef" },
  "time": "2026-11-22T10:05:00+09:00",
  "device": {
    "ifindex": 3,
    "name": "enx00e04c680001",
    "mac": "00:e0:4c:68:00:01",
    "mac_permanent": true,
    "kind": "",
    "path": "pci-0000:00:14.0-usb-0:3:1.0",
    "driver": "r8152",
    "loopback": false
  }
}
EOF
run pc approve policy.conf --request link.json --permit 許可-2026-020 --by "山田" --from 2026-12-01 --until 2027-03-31
expect "approve from a network request" 0 "network mac 00:e0:4c:68:00:01"

# A virtual link: no permanent MAC, no bus path. Its kind alone would approve every veth.
sed -e 's/"mac_permanent": true/"mac_permanent": false/' -e 's/"kind": ""/"kind": "veth"/' -e 's/"path": "[^"]*"/"path": ""/' \
	-e 's/"name": "[^"]*"/"name": "veth-build"/' link.json > veth.json
cp policy.conf before-veth.conf
run pc approve policy.conf --request veth.json --permit 許可-VETH --by "山田"
if [ "$rc" -eq 0 ] && grep -q 'kind veth name veth-build' out && grep -q 'name = "veth-build";' policy.conf &&
	! grep -q 'mac = "00:e0:4c:68:00:01"; *$' <(sed -n '/許可-VETH/,/}/p' policy.conf); then
	ok "approve of a virtual link keys it by kind and name, not by a changeable MAC"
else not_ok "approve of a virtual link keys it by kind and name, not by a changeable MAC"; fi
cp before-veth.conf policy.conf
sed -e 's/"mac_permanent": true/"mac_permanent": false/' -e 's/"path": "[^"]*"/"path": ""/' link.json > nameless.json
run pc approve policy.conf --request nameless.json --permit 許可-X --by "山田"
if [ "$rc" -eq 1 ] && grep -q 'no stable identity' err && cmp -s policy.conf before-veth.conf; then
	ok "approve refuses a link with no stable identity"
else not_ok "approve refuses a link with no stable identity" "exit $rc"; fi

run pc show --json policy.conf
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
p = json.load(sys.stdin)
assert p["serial"] == 5 and len(p["usb"]) == 3 and len(p["network"]) == 1
u = {e["permit"]: e for e in p["usb"]}
assert u["許可-2026-018"]["label"] == "Logitech \"Unifying\" C:\\dongle", u["許可-2026-018"]["label"]
assert u["許可-2026-018"]["serial"] == "" and u["許可-2026-018"]["interfaces"] == ["03:01:*", "03:*:*"]
assert u["許可-2026-019"]["interfaces"] is None
n = p["network"][0]
assert n["mac"] == "00:e0:4c:68:00:01" and n["path"] == "pci-0000:00:14.0-usb-0:3:1.0" and n["kind"] is None
assert n["valid_from"] == "2026-12-01" and n["label"] == "enx00e04c680001 (r8152)"
assert p["defaults"]["usb_other"] == "block"
' < out; then ok "show --json is valid JSON with every entry"
else not_ok "show --json is valid JSON with every entry"; fi

run pc show policy.conf
if [ "$rc" -eq 0 ] && grep -q '^permit       許可-2026-017$' out && grep -q 'device       usb 0781:5581 serial 4C530001230101115423' out &&
	grep -q 'access       read-only' out && grep -q "approved     by 情報政策課 山田 on $today" out &&
	grep -q 'validity     through 2027-03-31' out && grep -q 'holder       田中 一郎' out &&
	grep -q 'device       network mac 00:e0:4c:68:00:01 path pci-0000:00:14.0-usb-0:3:1.0' out; then
	ok "show prints the table"
else not_ok "show prints the table"; fi

# ---- sign and verify ------------------------------------------------------------------------
run pc sign --key admin.key policy.conf
if [ "$rc" -eq 0 ] && [ "$(stat -c %s policy.conf.sig)" = 64 ]; then ok "sign writes a 64-byte policy.conf.sig"
else not_ok "sign writes a 64-byte policy.conf.sig"; fi
run pc verify --key admin.pub policy.conf
expect "verify --key accepts the signature" 0 "policy.conf: good signature by admin.pub (fingerprint"
cp admin.pub etc/keys.d/
run pc verify policy.conf; expect "verify uses CONFIG_DIR/keys.d by default" 0 "serial 5"
run pc verify --keys etc/keys.d policy.conf; expect "verify --keys DIR" 0 "good signature"
run openssl pkeyutl -verify -pubin -inkey admin.pub -rawin -in policy.conf -sigfile policy.conf.sig
expect "openssl verifies policyctl's signature" 0 "Signature Verified Successfully"

run pc verify --key other.pub policy.conf
expect "verify refuses a signature by another key" 1 "signature does not match"

cp policy.conf tampered.conf; cp policy.conf.sig tampered.conf.sig
# One byte: the 'T' of the tour's permit number becomes another letter.
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); i = b.index(b"4C53"); b[i] ^= 1; open(sys.argv[1], "wb").write(b)' tampered.conf
run pc verify --key admin.pub tampered.conf
expect "one changed byte: verify exits 1, the signature does not match" 1 "the signature does not match"
head -c 63 policy.conf.sig > short.conf.sig; cp policy.conf short.conf
run pc verify --key admin.pub short.conf; expect "a truncated signature is refused" 1 "BAD SIGNATURE"
cp policy.conf unsigned.conf
run pc verify --key admin.pub unsigned.conf; expect "a missing signature is refused" 1 "not signed"

# openssl the other way, and openssl-made keys in policyctl.
run openssl pkeyutl -sign -inkey admin.key -rawin -in policy.conf -out policy.conf.sig
run pc verify --key admin.pub policy.conf; expect "policyctl verifies openssl's signature" 0 "good signature"
openssl genpkey -algorithm ed25519 -out ossl.key 2>/dev/null && openssl pkey -in ossl.key -pubout -out ossl.pub 2>/dev/null
cp policy.conf o.conf
run pc sign --key ossl.key o.conf
run pc verify --key ossl.pub o.conf; expect "keys from openssl genpkey sign and verify" 0 "good signature by ossl.pub"
run openssl pkeyutl -verify -pubin -inkey ossl.pub -rawin -in o.conf -sigfile o.conf.sig
expect "openssl verifies with its own key what policyctl signed" 0 "Signature Verified Successfully"

cp bad.conf unsignable.conf
run pc sign --key admin.key unsignable.conf
if [ "$rc" -eq 1 ] && [ ! -e unsignable.conf.sig ] && grep -q 'refusing to sign' err; then ok "sign refuses a policy that does not check"
else not_ok "sign refuses a policy that does not check" "exit $rc"; fi

# ---- anti-rollback ----------------------------------------------------------------------------
pc sign --key admin.key policy.conf >/dev/null 2>&1
# The state as kyokad leaves it after accepting serial 9 (policy-rollback.h).
printf 'kyoka-policy-state 1\nserial 9\nsha256 %s\n' "$(sha256 filled.conf)" > state/policy.state
run pc verify --key admin.pub policy.conf
expect "an older serial is refused when the state dir records a newer one" 1 "not newer than the last accepted policy's serial 9"
printf 'kyoka-policy-state 1\nserial 5\nsha256 %s\n' "$(sha256 policy.conf)" > state/policy.state
run pc verify --key admin.pub policy.conf; expect "the same serial with the same bytes is accepted" 0 "the same policy as the last one accepted"
printf 'kyoka-policy-state 1\nserial 5\nsha256 %s\n' "$(sha256 filled.conf)" > state/policy.state
run pc verify --key admin.pub policy.conf; expect "the same serial with other bytes is refused" 1 "different contents"
printf 'kyoka-policy-state 1\nserial 4\nsha256 %s\n' "$(sha256 filled.conf)" > state/policy.state
run pc verify --key admin.pub policy.conf; expect "a newer serial is accepted" 0 "newer than the last policy accepted"
rm -f state/policy.state

# ---- revoke -----------------------------------------------------------------------------------
run pc revoke policy.conf --permit 許可-2026-018
expect "revoke removes the entry" 0 "serial is now 6"
run pc check policy.conf; expect "the revoked policy passes check" 0 "2 usb and 1 network"
if ! grep -q '許可-2026-018' policy.conf && grep -qF '// 2026-11-22 総務部と協議済み' policy.conf; then ok "revoke removes the entry's text, keeps comments"
else not_ok "revoke removes the entry's text, keeps comments"; fi
run pc verify --key admin.pub policy.conf; expect "after an edit the old signature no longer matches" 1 "signature does not match"
run pc revoke policy.conf --permit 許可-2026-020; expect "revoke a network entry" 0 "serial is now 7"
run pc revoke policy.conf --permit 許可-2026-999; expect "revoke of an unknown permit is refused" 1 "no entry with permit"
run pc sign --key admin.key policy.conf
run pc verify --key admin.pub policy.conf; expect "sign again after revoke" 0 "serial 7"

# ---- the port (--bind-port), raw HID (--hidraw-user), serial-less permits ---------------------
pc init --issuer 木更津市 --contract 契約第123号 > port.conf 2>/dev/null
port=pci-0000:00:14.0-usb-0:2
sed -e 's/"serial": "4C530001230101115423"/"serial": null/' -e "s/\"id_path\": \"[^\"]*\"/\"id_path\": \"$port\"/" \
	stick.json > clone.json
run pc approve port.conf --request clone.json --permit P-ANY --by 山田
expect "approve of a serial-less device warns and names --bind-port" 0 \
	"the entry approves every unit of 0781:5581 without one (a clone needs only vendor:product); --bind-port binds it to the port in the request"
line=$(grep -n '^ *serial = "";' port.conf | cut -d: -f1)
run pc check port.conf
expect "check flags a permit with serial \"\" (file:line), saying the port narrows it" 0 \
	"port.conf:$line: warning: usb[0].serial: \"\" approves every unit of this model that reports no serial number (a clone needs only vendor:product): binding it to its port narrows it (path; policyctl approve --bind-port)"
grep -q '^ *path = ' port.conf && not_ok "without --bind-port the entry names no port" || ok "without --bind-port the entry names no port"
pc revoke port.conf --permit P-ANY >/dev/null 2>&1
run pc approve port.conf --request clone.json --permit P-PORT --by 山田 --bind-port
expect "approve --bind-port: the device on its port" 0 "usb 0781:5581 serial (none) on port $port"
grep -q "^ *path = \"$port\";" port.conf && ok "approve --bind-port writes the request's id_path as path" ||
	not_ok "approve --bind-port writes the request's id_path as path"
line=$(grep -n '^ *serial = "";' port.conf | cut -d: -f1)
run pc check port.conf
expect "check still warns about serial \"\" on a port, naming the port" 0 \
	"port.conf:$line: warning: usb[0].serial: \"\" approves every unit of this model that reports no serial number, on port \"$port\""
# Another unit of the model on another port, at the same time: valid (one plug, one port).
sed "s/\"id_path\": \"[^\"]*\"/\"id_path\": \"${port}.4\"/" clone.json > clone2.json
run pc approve port.conf --request clone2.json --permit P-PORT2 --by 山田 --bind-port
expect "a second permit for the model on another port" 0 "on port ${port}.4"
run pc check port.conf; expect "two ports, overlapping windows: valid" 0 "2 usb and 0 network"
# The same model for any port would overlap both.
cp port.conf before-any.conf
run pc approve port.conf --request clone.json --permit P-ANY2 --by 山田
if [ "$rc" -eq 1 ] && grep -q 'for an overlapping time' err && cmp -s port.conf before-any.conf; then
	ok "a permit for any port overlapping a port's is refused"
else not_ok "a permit for any port overlapping a port's is refused" "exit $rc"; fi
usage_case "approve --bind-port without --request" approve port.conf --vendor 0781 --product 5581 --serial S --permit P --by B --bind-port
usage_case "approve --bind-port of a network link" approve port.conf --request link.json --permit P --by B --bind-port
usage_case "approve --hidraw-user of a network link" approve port.conf --request link.json --permit P --by B --hidraw-user
sed 's/"id_path": "[^"]*"/"id_path": ""/' clone.json > nopath.json
run pc approve port.conf --request nopath.json --permit P-NOPATH --by 山田 --bind-port
if [ "$rc" -eq 1 ] && grep -q 'names no port' err && cmp -s port.conf before-any.conf; then ok "approve --bind-port of a request without id_path is refused"
else not_ok "approve --bind-port of a request without id_path is refused" "exit $rc"; fi

# A security key: raw HID for the user at the seat, on its port.
sed -e 's/"vendor": "0781"/"vendor": "1050"/' -e 's/"product": "5581"/"product": "0407"/' \
	-e 's/"interfaces": \[ "08:06:50" \]/"interfaces": [ "03:00:00", "03:01:01" ]/' clone.json > key.json
run pc approve port.conf --request key.json --permit P-KEY --by 山田 --bind-port --hidraw-user
expect "approve --hidraw-user" 0 "usb 1050:0407"
grep -q '^ *hidraw = "user";' port.conf && ok "approve --hidraw-user writes hidraw = \"user\"" ||
	not_ok "approve --hidraw-user writes hidraw = \"user\""
sed "s/\"id_path\": \"[^\"]*\"/\"id_path\": \"${port}.5\"/" clone.json > clone3.json
run pc approve port.conf --request clone3.json --permit P-STICK-HID --by 山田 --bind-port --hidraw-user
expect "approve --hidraw-user without a HID interface warns" 0 "warning: --hidraw-user has no effect"
run pc show port.conf
if [ "$rc" -eq 0 ] && grep -q "^  port         $port\$" out && grep -q '^  hidraw       user' out &&
	grep -q '^  hidraw       root only' out; then ok "show prints the port and raw HID"
else not_ok "show prints the port and raw HID"; fi
run pc show --json port.conf
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
u = {e["permit"]: e for e in json.load(sys.stdin)["usb"]}
assert u["P-KEY"]["path"] == sys.argv[1] and u["P-KEY"]["hidraw"] == "user", u["P-KEY"]
assert u["P-PORT"]["path"] == sys.argv[1] and u["P-PORT"]["hidraw"] == "root", u["P-PORT"]
assert u["P-PORT2"]["path"] == sys.argv[1] + ".4"
' "$port" < out; then ok "show --json has path and hidraw"
else not_ok "show --json has path and hidraw"; fi
malformed "hidraw not root or user" 'usb = ( { permit = "X"; vendor = "0781"; product = "5581"; serial = "S"; hidraw = "all";
  approved_by = "A"; approved_on = "2026-02-01"; } );' 'bad.conf:6: usb[0].hidraw: expected "root" or "user", got "all"'

# ---- wireless networks (issue 16) -----------------------------------------------------------
pc init --issuer 木更津市 --contract 契約-1 > wl.conf
run pc approve wl.conf --ssid city-net --bssid 02:00:00:00:00:00 --bssid 02:00:00:00:00:01 --permit W-CITY --by 山田
expect "approve --ssid --bssid" 0 'wireless network "city-net" at its listed access points (wpa2-psk or better)'
if sed -n '/W-CITY/,/}/p' wl.conf | grep -q 'ssid = "city-net";' &&
	sed -n '/W-CITY/,/}/p' wl.conf | grep -q 'bssid = \[ "02:00:00:00:00:00", "02:00:00:00:00:01" \];' &&
	sed -n '/W-CITY/,/}/p' wl.conf | grep -q 'security = "wpa2-psk";'; then ok "approve --ssid writes a wireless entry"
else not_ok "approve --ssid writes a wireless entry"; fi
# Any 32 bytes, as hex: an escape sequence, an invalid UTF-8 byte, a newline. Open, any access
# point: allowed, with a warning, because it says so.
run pc approve wl.conf --ssid-hex 1b5b324aff0a41 --security open --permit W-ODD --by 山田
expect "approve --ssid-hex --security open warns without --bssid" 0 "warning: an open network without --bssid"
if grep -q 'ssid_hex = "1b5b324aff0a41";' wl.conf && ! grep -q $'\x1b' wl.conf && grep -q 'label = "Wi-Fi \\\\x1b\[2J\\\\xff\\\\x0aA";' wl.conf
then ok "... written as ssid_hex, the label escaped, no raw byte in the file"
else not_ok "... written as ssid_hex, the label escaped, no raw byte in the file"; fi
[ "$(grep -c '^wireless = ($' wl.conf)" = 1 ] && grep -q '^    wireless = "block";' wl.conf &&
	ok "the skeleton has defaults.wireless and a wireless list; approve adds to it" ||
	not_ok "the skeleton has defaults.wireless and a wireless list; approve adds to it"
run pc check wl.conf; expect "check counts the wireless entries" 0 "0 usb and 0 network entries, 2 wireless entries"
run pc show wl.conf
if [ "$rc" -eq 0 ] && grep -q '^  network      wireless ssid "city-net"$' out &&
	grep -q '^  bssid        02:00:00:00:00:00 02:00:00:00:00:01$' out && grep -q '^  security     wpa2-psk or better$' out &&
	grep -qF '  network      wireless ssid "\x1b[2J\xff\x0aA"' out && grep -q '^  bssid        any$' out &&
	grep -q 'network block, wireless block, media block$' out && ! grep -q $'\x1b' out; then ok "show prints the wireless entries, escaped"
else not_ok "show prints the wireless entries, escaped"; fi
run pc show --json wl.conf
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
p = json.load(sys.stdin)
w = {e["permit"]: e for e in p["wireless"]}
assert p["defaults"]["wireless"] == "block"
assert w["W-CITY"]["ssid"] == "city-net" and w["W-CITY"]["bssid"] == ["02:00:00:00:00:00", "02:00:00:00:00:01"]
assert w["W-CITY"]["security"] == "wpa2-psk"
assert w["W-ODD"]["ssid_hex"] == "1b5b324aff0a41" and w["W-ODD"]["ssid"] == "\\x1b[2J\\xff\\x0aA" and w["W-ODD"]["bssid"] is None
assert w["W-ODD"]["security"] == "open"
' < out; then ok "show --json lists the wireless entries"
else not_ok "show --json lists the wireless entries"; fi
usage_case "approve --ssid and --ssid-hex" approve wl.conf --ssid a --ssid-hex 61 --permit P --by B
usage_case "approve --ssid of 33 bytes" approve wl.conf --ssid 123456789012345678901234567890123 --permit P --by B
usage_case "approve --ssid with a control character" approve wl.conf --ssid "$(printf 'a\033b')" --permit P --by B
usage_case "approve --ssid-hex of odd length" approve wl.conf --ssid-hex 616 --permit P --by B
usage_case "approve --bssid malformed" approve wl.conf --ssid a --bssid 02:00:00:00:00 --permit P --by B
usage_case "approve --security unknown" approve wl.conf --ssid a --security wep --permit P --by B
usage_case "approve --security with a USB device" approve wl.conf --vendor 0781 --product 5581 --serial S --security open --permit P --by B
usage_case "approve --bssid without a network" approve wl.conf --bssid 02:00:00:00:00:00 --permit P --by B
# From a request: the access points it saw and the security it offered.
cat > wreq.json <<'EOF2'
{
  "kyoka_request": 1,
  "type": "wireless",
  "host": { "hostname": "kyoka-pc-01", "machine_id": "0123456789abcdef0123456789abcdef" },
  "time": "2026-11-22T10:05:00+09:00",
  "network": {
    "ifname": "wlan0",
    "seen": "scan",
    "ssid": "庁舎-5F",
    "ssid_hex": "e5ba81e8888e2d3546",
    "bssids": [ "02:00:00:00:05:00" ],
    "security": "wpa3-sae"
  }
}
EOF2
run pc approve wl.conf --request wreq.json --permit W-5F --by 山田
if [ "$rc" -eq 0 ] && sed -n '/W-5F/,/}/p' wl.conf | grep -q 'ssid = "庁舎-5F";' &&
	sed -n '/W-5F/,/}/p' wl.conf | grep -q 'bssid = \[ "02:00:00:00:05:00" \];' &&
	sed -n '/W-5F/,/}/p' wl.conf | grep -q 'security = "wpa3-sae";'; then
	ok "approve --request of a wireless request: its access points and its security"
else not_ok "approve --request of a wireless request: its access points and its security" "exit $rc"; fi
# A hotspot as seen: open. Not approved by accident.
sed -e 's/"security": "wpa3-sae"/"security": "open"/' wreq.json > wopen.json
cp wl.conf before-open.conf
run pc approve wl.conf --request wopen.json --permit W-OPEN --by 山田
if [ "$rc" -eq 1 ] && grep -q 'as good as open' err && cmp -s wl.conf before-open.conf; then
	ok "approve --request of an open network is refused without --security open"
else not_ok "approve --request of an open network is refused without --security open" "exit $rc"; fi
sed -e 's/"ssid": "庁舎-5F"/"ssid": "other"/' wreq.json > wlie.json
run pc approve wl.conf --request wlie.json --permit W-LIE --by 山田
if [ "$rc" -eq 1 ] && grep -q 'network.ssid: does not match ssid_hex' err && cmp -s wl.conf before-open.conf; then
	ok "approve --request whose ssid text and hex differ is refused"
else not_ok "approve --request whose ssid text and hex differ is refused" "exit $rc"; fi
run pc revoke wl.conf --permit W-ODD
expect "revoke a wireless permit" 0 "revoked permit W-ODD"
grep -q 1b5b324aff0a41 wl.conf && not_ok "... the entry is gone" || ok "... the entry is gone"

# ---- virus scan before use (issue 15): approve --scan, show --------------------------------------
pc init --issuer 木更津市 --contract 契約-1 > scan.conf
run pc show scan.conf
if [ "$rc" -eq 0 ] && grep -qx 'scan         where a permit requires it; at most 900 s and 65536 MiB per medium, signatures at most 7 days old' out
then ok "show prints the scan bounds (their defaults)"
else not_ok "show prints the scan bounds (their defaults)"; fi
run pc approve scan.conf --request stick.json --permit S-USB --by 山田 --scan
expect "approve --scan of a USB request" 0 "added permit S-USB"
sed -n '/S-USB/,/}/p' scan.conf | grep -q '^ *scan = "required";$' && ok "... writes scan = \"required\" into the entry" ||
	not_ok "... writes scan = \"required\" into the entry"
cat > card.json <<'EOF'
{
  "kyoka_request": 1,
  "type": "media",
  "host": { "hostname": "kyoka-pc-01", "machine_id": null },
  "time": "2026-11-22T13:05:09+09:00",
  "device": { "bus": "mmc", "name": "mmcblk0", "path": "pci-0000:00:04.0-mmc", "vendor": "0x0000aa", "model": "QEMU!",
              "serial": "0xdeadbeef", "oemid": "0x5859", "date": "02/2006" }
}
EOF
run pc approve scan.conf --request card.json --permit S-CARD --by 山田 --scan --read-only
expect "approve --scan of a media request" 0 "added permit S-CARD"
sed -n '/S-CARD/,/}/p' scan.conf | grep -q '^ *scan = "required";$' && ok "... writes scan = \"required\" into the media entry" ||
	not_ok "... writes scan = \"required\" into the media entry"
run pc approve scan.conf --request card.json --permit S-PLAIN --by 山田 --bind-port --label plain
expect "approve without --scan" 0 "added permit S-PLAIN"
sed -n '/S-PLAIN/,/}/p' scan.conf | grep -q 'scan =' && not_ok "... writes no scan key" || ok "... writes no scan key"
run pc check scan.conf; expect "the policy with scans passes check" 0 "valid, serial 4"
# defaults.scan and the bounds, as an admin writes them by hand.
sed -i -e '/^    wireless = "block";/a\    scan = "required";' scan.conf
printf 'scan = { max_seconds = 120; max_megabytes = 2048; max_database_days = 0; };\n' >> scan.conf
run pc show scan.conf
if [ "$rc" -eq 0 ] && grep -qx 'scan         required by default (defaults.scan); at most 120 s and 2048 MiB per medium, signature age not checked' out &&
	[ "$(grep -c '^  scan         required before use$' out)" = 2 ] &&
	[ "$(grep -c '^  scan         required before use (defaults.scan)$' out)" = 1 ]
then ok "show prints each permit's scan and defaults.scan with the bounds"
else not_ok "show prints each permit's scan and defaults.scan with the bounds"; fi
run pc show --json scan.conf
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
p = json.load(sys.stdin)
assert p["defaults"]["scan"] == "required", p["defaults"]
assert p["scan"] == {"max_seconds": 120, "max_megabytes": 2048, "max_database_days": 0}, p["scan"]
u = p["usb"][0]; m = {e["permit"]: e for e in p["media"]}
assert u["scan"] == "required" and u["scan_required"] is True, u
assert m["S-CARD"]["scan"] == "required" and m["S-CARD"]["scan_required"] is True
assert m["S-PLAIN"]["scan"] is None and m["S-PLAIN"]["scan_required"] is True, m["S-PLAIN"]
' < out; then ok "show --json: scan, scan_required, defaults.scan and the bounds"
else not_ok "show --json: scan, scan_required, defaults.scan and the bounds"; fi
cp scan.conf before-scan.conf
run pc approve scan.conf --ssid city-net --permit S-W --by 山田 --scan
expect "approve --scan of a wireless network is a usage error" 2 "--scan is for storage"
run pc approve scan.conf --request link.json --permit S-N --by 山田 --scan
expect "approve --scan of a network request is a usage error" 2 "--scan is for storage"
run pc approve scan.conf --request card.json --permit S-IO-CARD --by 山田 --scan-in-and-out
expect "approve --scan-in-and-out of a media request is a usage error" 2 "--scan-in-and-out is for USB storage"
cmp -s scan.conf before-scan.conf && ok "... and the policy is left as it was" || not_ok "... and the policy is left as it was"
run pc approve scan.conf --vendor 046d --product c52b --serial K --interfaces 03:01:01 --permit S-KBD --by 山田 --scan
expect "approve --scan of a device without storage warns" 0 "warning: --scan has no effect"
# scan = "in-and-out": before use, and each file written to the stick (issue 15 part 3).
run pc approve scan.conf --vendor 0781 --product 5581 --serial IO-1 --interfaces 08:06:50 --permit S-IO --by 山田 --scan-in-and-out
expect "approve --scan-in-and-out of a USB stick" 0 "added permit S-IO"
sed -n '/S-IO/,/}/p' scan.conf | grep -q '^ *scan = "in-and-out";$' && ok "... writes scan = \"in-and-out\" into the entry" ||
	not_ok "... writes scan = \"in-and-out\" into the entry"
run pc show scan.conf
[ "$rc" -eq 0 ] && [ "$(grep -c '^  scan         required before use, and of every file written to it$' out)" = 1 ] &&
	ok "show says the files written to it are scanned too" || not_ok "show says the files written to it are scanned too"
run pc show --json scan.conf
if [ "$rc" -eq 0 ] && python3 -c '
import json, sys
u = {e["permit"]: e for e in json.load(sys.stdin)["usb"]}
assert u["S-IO"]["scan"] == "in-and-out" and u["S-IO"]["scan_required"] is True and u["S-IO"]["scan_written"] is True, u["S-IO"]
assert u["S-USB"]["scan_written"] is False, u["S-USB"]
' < out; then ok "show --json: scan in-and-out, scan_written"
else not_ok "show --json: scan in-and-out, scan_written"; fi

# ---- install: policy.conf lists the serials a clone would need -------------------------------
pc sign --key admin.key port.conf >/dev/null 2>&1
run pc install port.conf
expect "install (kyokad not running)" 0 "kyokad is not running"
if getent group kyoka >/dev/null; then want="640 root:kyoka"; else want="600 root:root"; fi
got=$(stat -c '%a %U:%G' etc/policy.conf)
[ "$got" = "$want" ] && ok "install leaves policy.conf $want" || not_ok "install leaves policy.conf $want" "got $got"
got=$(stat -c '%a' etc/policy.conf.sig)
[ "$got" = 644 ] && ok "... and policy.conf.sig 644" || not_ok "... and policy.conf.sig 644" "got $got"
# Without a group kyoka (a host where sysusers has not run): root's alone, and a warning.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	grep -v '^kyoka:' /etc/group > group.nokyoka
	rm -f etc/policy.conf
	rc=0
	unshare -m sh -c 'mount --bind "$1" /etc/group && shift && exec "$@"' sh "$tmp/group.nokyoka" \
		"$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" install port.conf >out 2>err || rc=$?
	expect "install without a group kyoka warns" 0 "warning: no group kyoka"
	got=$(stat -c '%a %U:%G' etc/policy.conf)
	[ "$got" = "600 root:root" ] && ok "... and leaves policy.conf 600 root:root" ||
		not_ok "... and leaves policy.conf 600 root:root" "got $got"
else
	echo "# not root or no unshare: the install without a group kyoka is not checked"
fi

echo "policyctl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
