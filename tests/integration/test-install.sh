#!/usr/bin/env bash
# make install: every file in its place with its mode, the unit valid for systemd, and its
# exposure (systemd-analyze security) within the least-privilege budget; the man pages render
# without a groff warning, the journal catalog compiles, the binaries say the changelog's version.
set -u
build=${1:?usage: test-install.sh BUILD}
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@" >"$tmp/out" 2>&1; then ok "$name"; else not_ok "$name"; sed 's/^/# /' "$tmp/out"; fi; }

# DESTDIR staging, as a package build does it.
check "make install DESTDIR=... PREFIX=/usr" make -s -C "$top" BUILD="$build" install DESTDIR="$tmp/dest" PREFIX=/usr
for f in usr/bin/policyctl:755 usr/sbin/kyokad:755 usr/lib/kyoka/kyoka-block-access:755 \
	 usr/lib/systemd/system/kyokad.service:644 usr/lib/systemd/system/kyoka-carry.service:644 \
	 usr/lib/systemd/system/kyoka-scan.socket:644 usr/lib/systemd/system/kyoka-scan@.service:644 \
	 usr/lib/udev/rules.d/70-kyoka.rules:644 usr/lib/udev/rules.d/73-kyoka-hidraw.rules:644 \
	 usr/lib/sysusers.d/kyoka.conf:644 \
	 usr/lib/tmpfiles.d/kyoka.conf:644 usr/share/doc/kyoka/policy.md:644 \
	 usr/share/man/man8/kyokad.8:644 usr/share/man/man8/policyctl.8:644 \
	 usr/share/man/man5/kyoka-policy.5:644 usr/share/man/man5/kyoka-request.5:644 \
	 usr/lib/systemd/catalog/kyoka.catalog:644 usr/lib/systemd/catalog/kyoka.ja.catalog:644 \
	 usr/share/bash-completion/completions/policyctl:644 usr/share/zsh/vendor-completions/_policyctl:644; do
	check "installed ${f%:*} mode ${f#*:}" test "$(stat -c %a "$tmp/dest/${f%:*}" 2>/dev/null)" = "${f#*:}"
done
check "unit runs /usr/sbin/kyokad, its carry-out record in the worker's unit" grep -qx 'ExecStart=/usr/sbin/kyokad --carry-out worker' "$tmp/dest/usr/lib/systemd/system/kyokad.service"
check "kyoka-carry.service runs /usr/sbin/kyokad --carry-worker as kyoka-carry, wanted by kyokad.service" \
	bash -c "grep -qx 'ExecStart=/usr/sbin/kyokad --carry-worker' '$tmp/dest/usr/lib/systemd/system/kyoka-carry.service' &&
		grep -qx 'User=kyoka-carry' '$tmp/dest/usr/lib/systemd/system/kyoka-carry.service' &&
		grep -q '^Wants=.* kyoka-carry.service' '$tmp/dest/usr/lib/systemd/system/kyokad.service' &&
		grep -q '^u kyoka-carry ' '$tmp/dest/usr/lib/sysusers.d/kyoka.conf'"
check "kyoka-scan.socket (root's /run/kyoka/scan, one kyoka-scan@.service per connection) runs the scan worker, wanted by kyokad.service" \
	bash -c "grep -qx 'ListenStream=/run/kyoka/scan' '$tmp/dest/usr/lib/systemd/system/kyoka-scan.socket' &&
		grep -qx 'SocketMode=0600' '$tmp/dest/usr/lib/systemd/system/kyoka-scan.socket' &&
		grep -qx 'Accept=yes' '$tmp/dest/usr/lib/systemd/system/kyoka-scan.socket' &&
		grep -qx 'ExecStart=/usr/sbin/kyokad --scan-worker --request-on-stdin' '$tmp/dest/usr/lib/systemd/system/kyoka-scan@.service' &&
		grep -q '^Wants=.* kyoka-scan.socket' '$tmp/dest/usr/lib/systemd/system/kyokad.service'"
check "unit's Documentation= starts with man:kyokad(8)" grep -q '^Documentation=man:kyokad(8) ' "$tmp/dest/usr/lib/systemd/system/kyokad.service"
version=$(head -1 "$top/packaging/debian/changelog" | cut -d'(' -f2 | cut -d')' -f1)
check "kyokad --version says the changelog's version ($version)" \
	bash -c "[ \"\$('$tmp/dest/usr/sbin/kyokad' --version)\" = 'kyokad (kyoka) $version' ]"

# Man pages: man -l renders each without a warning (groff -ww) at 60, 80 and 200 columns; the NAME
# line is what whatis/apropos read; policyctl(8) has every verb of `policyctl help` and the exit codes.
for page in "$tmp"/dest/usr/share/man/man*/*; do
	name=$(basename "$page")
	check "man -l $name: no warning at 60, 80, 200 columns" bash -c "
		for w in 60 80 200; do MANWIDTH=\$w man --warnings=w -l '$page' 2>&1 >/dev/null; done | grep . && exit 1
		preconv '$page' | groff -ww -man -t -Tutf8 -z 2>&1 | grep . && exit 1; exit 0"
	check "$name: NAME is '${name%.*} - ...' (lexgrog)" bash -c "lexgrog '$page' | grep -q ': \"${name%.*} - '"
done
for verb in $("$build/policyctl" help | sed -n '/^Verbs:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
	grep -q -- "^\.SS ${verb}\b\|^policyctl ${verb}\b" "$tmp/dest/usr/share/man/man8/policyctl.8" || missing="${missing:-} $verb"
done
check "policyctl(8) has a section or synopsis line for every verb of 'policyctl help'" test -z "${missing:-}"
[ -z "${missing:-}" ] || echo "# missing:$missing"
check "policyctl(8) has EXIT STATUS with 0, 1 and 2" bash -c "MANWIDTH=80 man -l '$tmp/dest/usr/share/man/man8/policyctl.8' 2>/dev/null |
	sed -n '/^EXIT STATUS/,/^[A-Z]/p' | grep -c '^       [012] ' | grep -qx 3"

# The journal catalog: journalctl compiles it, and every MESSAGE_ID kyokad sends
# (daemon/recorder.h) has an entry in English and one in Japanese (ja_JP.UTF-8 built here with
# localedef, as the host may have no Japanese locale).
mkdir -p "$tmp/cat/var/lib/systemd/catalog" "$tmp/cat/usr/lib/systemd" "$tmp/locale"
cp -r "$tmp/dest/usr/lib/systemd/catalog" "$tmp/cat/usr/lib/systemd/"
check "journalctl --update-catalog compiles kyoka's catalog" journalctl --root="$tmp/cat" --update-catalog
ids=$(sed -n 's/^#define KYOKA_MESSAGE_[A-Z_]* *"\([0-9a-f]\{32\}\)"$/\1/p' "$top/daemon/recorder.h")
check "daemon/recorder.h defines 15 MESSAGE_IDs" test "$(echo "$ids" | wc -l)" -eq 15
localedef -i ja_JP -f UTF-8 "$tmp/locale/ja_JP.UTF-8" 2>/dev/null
for id in $ids; do
	check "catalog: $id in English" bash -c "LC_ALL=C journalctl --root='$tmp/cat' --list-catalog $id | grep -q '^$id kyoka: [A-Za-z]'"
	check "catalog: $id in Japanese" bash -c "LOCPATH='$tmp/locale' LC_ALL=ja_JP.UTF-8 journalctl --root='$tmp/cat' --list-catalog $id |
		LC_ALL=C.UTF-8 grep -qP '^$id kyoka: .*[\\x{3040}-\\x{30ff}\\x{4e00}-\\x{9fff}]'"
done
check "udev rule runs /usr/lib/kyoka/kyoka-block-access, no @...@ left" \
	bash -c "grep -q 'PROGRAM=\"/usr/lib/kyoka/kyoka-block-access ' '$tmp/dest/usr/lib/udev/rules.d/70-kyoka.rules' &&
		! grep -q '@[A-Z]*@' '$tmp/dest/usr/lib/udev/rules.d/70-kyoka.rules'"
check "raw HID rule runs /usr/lib/kyoka/kyoka-block-access --hidraw, no @...@ left" \
	bash -c "grep -q 'PROGRAM=\"/usr/lib/kyoka/kyoka-block-access --hidraw ' '$tmp/dest/usr/lib/udev/rules.d/73-kyoka-hidraw.rules' &&
		! grep -q '@[A-Z]*@' '$tmp/dest/usr/lib/udev/rules.d/73-kyoka-hidraw.rules'"

# A prefix install, so that systemd can check the unit against binaries that exist.
check "make install PREFIX=$tmp/prefix" make -s -C "$top" BUILD="$build" install PREFIX="$tmp/prefix"
unit=$tmp/prefix/lib/systemd/system/kyokad.service
# (MANPATH: verify checks that the Documentation= man pages exist.)
check "systemd-analyze verify kyokad.service" env MANPATH="$tmp/prefix/share/man" systemd-analyze verify "$unit"
check "systemd-analyze security: exposure at most 3.0" systemd-analyze security --offline=true --threshold=30 "$unit"
score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*exposure level for kyokad.service: \([0-9.]*\).*/\1/p')
echo "# kyokad.service exposure level: ${score:-?} (usbguard.service on Debian 12: 2.8)"
carry=$tmp/prefix/lib/systemd/system/kyoka-carry.service
check "systemd-analyze verify kyoka-carry.service" env MANPATH="$tmp/prefix/share/man" systemd-analyze verify "$carry"
check "systemd-analyze security kyoka-carry.service: exposure at most 3.0" systemd-analyze security --offline=true --threshold=30 "$carry"
score=$(systemd-analyze security --offline=true "$carry" 2>/dev/null | sed -n 's/.*exposure level for kyoka-carry.service: \([0-9.]*\).*/\1/p')
echo "# kyoka-carry.service exposure level (offline): ${score:-?}"
scan=$tmp/prefix/lib/systemd/system/kyoka-scan@.service
check "systemd-analyze verify kyoka-scan.socket and kyoka-scan@.service" env MANPATH="$tmp/prefix/share/man" \
	systemd-analyze verify "$tmp/prefix/lib/systemd/system/kyoka-scan.socket" "$scan"
check "systemd-analyze security kyoka-scan@.service: exposure at most 2.0" systemd-analyze security --offline=true --threshold=20 "$scan"
score=$(systemd-analyze security --offline=true "$scan" 2>/dev/null | sed -n 's/.*exposure level for kyoka-scan@.*service: \([0-9.]*\).*/\1/p')
echo "# kyoka-scan@.service exposure level (offline): ${score:-?}"
check "unit is Type=notify with a watchdog and Restart=always" \
	bash -c "grep -qx 'Type=notify' '$unit' && grep -q '^WatchdogSec=' '$unit' && grep -qx 'Restart=always' '$unit'"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
