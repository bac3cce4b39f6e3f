#!/usr/bin/env bash
# policyctl (and kyokad --help) speak the locale's language: Japanese help and errors under
# LANG=ja_JP.UTF-8 with the built catalogue, English under LANG=C and en_US.UTF-8, machine output
# (show --json, status --check) the same in every locale; po/ja.po translates every string of the
# current sources; a setuid policyctl ignores $KYOKA_LOCALEDIR. Usage: test-policyctl-ja.sh BUILD
# (needs the locale ja_JP.UTF-8: make deps generates it).
set -u
build=$(realpath "${1:?usage: test-policyctl-ja.sh BUILD}")
src=$(realpath "$(dirname "$0")/../..")
P="$build/policyctl"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-ja.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
unset LC_ALL LC_MESSAGES LANGUAGE
export KYOKA_LOCALEDIR="$build/locale" TZ=Asia/Tokyo

pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
	echo "not ok - $1${2:+: $2}"
	sed 's/^/#   out: /' out 2>/dev/null | head -20
	sed 's/^/#   err: /' err 2>/dev/null | head -20
	fail=$((fail + 1))
}
# run LANG CMD...: exit status in $rc, output in out and err.
run() { local l=$1; shift; rc=0; LANG=$l "$@" >out 2>err || rc=$?; }
# expect NAME RC PATTERN...: the last run's status, and each fixed PATTERN in stdout+stderr.
expect() {
	local name=$1 want=$2; shift 2
	if [ "$rc" -ne "$want" ]; then not_ok "$name" "exit $rc, expected $want"; return; fi
	for p in "$@"; do
		if ! cat out err | grep -qF -- "$p"; then not_ok "$name" "output lacks: $p"; return; fi
	done
	ok "$name"
}
# lacks NAME PATTERN: the last run's output does not contain PATTERN.
lacks() { if cat out err | grep -qF -- "$2"; then not_ok "$1" "output has: $2"; else ok "$1"; fi; }
pc() { "$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" "$@"; }

if ! locale -a | grep -qix 'ja_JP\.utf-\?8'; then
	echo "not ok - the locale ja_JP.UTF-8 is not generated (run make deps)"
	echo "policyctl-ja: 0 passed, 1 failed"; exit 1
fi
[ -f "$build/locale/ja/LC_MESSAGES/kyoka.mo" ] || { echo "not ok - $build/locale/ja/LC_MESSAGES/kyoka.mo not built"; exit 1; }
mkdir -p etc/keys.d state run
cp "$src/tests/data/policies/minimal.conf" policy.conf

# ---- Japanese --------------------------------------------------------------------------------
JA=ja_JP.UTF-8
run $JA pc --help;         expect "ja: --help" 0 "使い方: policyctl" "共通オプション:" "署名済みポリシーを検証して適用し"
run $JA pc check --help;   expect "ja: check --help" 0 "使い方: policyctl check FILE" "ポリシーファイルを検査します"
run $JA pc install --help; expect "ja: install --help" 0 "使い方: policyctl install" "$tmp/etc/keys.d" "--force がなければ適用を拒否します"
run $JA pc approve --help; expect "ja: approve --help" 0 "書面による許可の許可番号"
run $JA pc status --help;  expect "ja: status --help" 0 "監視システム向け" "kyoka-admin"
run $JA "$build/kyokad" --help; expect "ja: kyokad --help" 0 "使い方: kyokad" "制御ソケットの場所（既定 /run/kyoka）"
run $JA pc check;          expect "ja: usage error exits 2" 2 "policyctl: check: FILE を 1 つ指定してください" "使い方は 'policyctl check --help' で表示できます。"
run $JA pc frobnicate;     expect "ja: unknown verb exits 2" 2 "'frobnicate' という操作はありません"
run $JA pc show --bogus x; expect "ja: unknown option exits 2" 2 "'--bogus' というオプションはありません"
run $JA pc check "$tmp/missing.conf"; expect "ja: unreadable file exits 1" 1 "missing.conf: 読み込めません"
run $JA pc list;           expect "ja: kyokad not running exits 1" 1 "kyokad が動作していません（$tmp/run/control に制御ソケットがありません）"
printf 'serial = 1;\nbogus\n' >bad.conf
run $JA pc check bad.conf; expect "ja: invalid policy exits 1" 1 "bad.conf: 誤りがあります:"
run $JA pc verify --key nokey.pub policy.conf; expect "ja: verify without a key exits 1" 1 "nokey.pub: 鍵を読み込めません"

# LANGUAGE picks the language where ja_JP.UTF-8 is not generated (C.UTF-8 is not "C").
rc=0; LANG=C.UTF-8 LANGUAGE=ja "$P" check >out 2>err || rc=$?
expect "LANGUAGE=ja with C.UTF-8" 2 "FILE を 1 つ指定してください"

# ---- English -------------------------------------------------------------------------------
for l in C en_US.UTF-8 C.UTF-8; do
	run $l pc --help;  expect "$l: --help in English" 0 "Usage: policyctl [GLOBAL OPTIONS]" "verify and install a signed policy"
	lacks "$l: no Japanese in --help" "使い方"
	run $l pc check;   expect "$l: usage error in English" 2 "policyctl: check: expected one FILE" "Try 'policyctl check --help'."
	run $l pc list;    expect "$l: kyokad not running in English" 1 "kyokad is not running (no control socket at"
done
run C "$build/kyokad" --help; expect "C: kyokad --help in English" 0 "Usage: kyokad [OPTIONS]"

# ---- machine output is the same in every locale --------------------------------------------
run C pc status --check;  c_rc=$rc; cp out check.c
run $JA pc status --check
if [ "$rc" -eq "$c_rc" ] && cmp -s out check.c && grep -q '^KYOKA CRITICAL - kyokad is not running or did not answer: No such file or directory$' out
then ok "status --check: the same English line and exit status ($rc) under ja_JP.UTF-8"
else not_ok "status --check: the same English line and exit status under ja_JP.UTF-8" "rc $rc vs $c_rc"; fi
run C pc show --json policy.conf; c_rc=$rc; cp out show.c
run $JA pc show --json policy.conf
if [ "$rc" -eq 0 ] && [ "$c_rc" -eq 0 ] && cmp -s out show.c; then ok "show --json: the same bytes under ja_JP.UTF-8"
else not_ok "show --json: the same bytes under ja_JP.UTF-8" "rc $rc vs $c_rc"; fi

# ---- the catalogue covers the sources ------------------------------------------------------
# A string added to the sources without a translation fails here (the build checks ja.po alone).
rc=0; make -s -C "$src" --no-print-directory BUILD="$tmp/po-build" check-po >out 2>err || rc=$?
if [ "$rc" -eq 0 ] && grep -q 'translated message' out; then ok "po/ja.po translates every string of the sources: $(grep -o '[0-9]* translated.*' out)"
else not_ok "po/ja.po translates every string of the sources"; fi

# ---- a setuid policyctl ignores $KYOKA_LOCALEDIR --------------------------------------------
# A catalogue is a list of printf formats: one from the caller's directory must never reach a
# process with more privileges than its caller. Needs root (a binary owned by another user).
mkdir -p evil/ja/LC_MESSAGES
printf 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "no verb given"\nmsgstr "INJECTED"\n' >evil.po
msgfmt -o evil/ja/LC_MESSAGES/kyoka.mo evil.po
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 0755 "$tmp"
	cp "$P" ./policyctl-suid && chown 65534 ./policyctl-suid && chmod 0755 ./policyctl-suid
	rc=0; KYOKA_LOCALEDIR="$tmp/evil" LANG=$JA setpriv --reuid 1 --regid 1 --clear-groups ./policyctl-suid >out 2>err || rc=$?
	expect "control: a plain policyctl uses \$KYOKA_LOCALEDIR" 2 "INJECTED"
	chmod 4755 ./policyctl-suid
	rc=0; KYOKA_LOCALEDIR="$tmp/evil" LANG=$JA setpriv --reuid 1 --regid 1 --clear-groups ./policyctl-suid >out 2>err || rc=$?
	if [ "$rc" -eq 2 ] && ! grep -q INJECTED err && grep -q '^policyctl: ' err; then ok "setuid: \$KYOKA_LOCALEDIR is ignored"
	else not_ok "setuid: \$KYOKA_LOCALEDIR is ignored" "exit $rc"; fi
else
	echo "# not root: the setuid case is not checked"
fi
rc=0; (cd "$tmp" && KYOKA_LOCALEDIR=evil LANG=$JA "$P" >out 2>err) || rc=$?
if [ "$rc" -eq 2 ] && ! grep -q INJECTED err; then ok "a relative \$KYOKA_LOCALEDIR is ignored"
else not_ok "a relative \$KYOKA_LOCALEDIR is ignored" "exit $rc"; fi

echo "policyctl-ja: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
