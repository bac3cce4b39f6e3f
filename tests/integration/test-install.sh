#!/usr/bin/env bash
# make install: every file in its place with its mode, the unit valid for systemd, and its
# exposure (systemd-analyze security) within the least-privilege budget.
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
	 usr/lib/systemd/system/kyokad.service:644 \
	 usr/lib/udev/rules.d/70-kyoka.rules:644 usr/lib/udev/rules.d/73-kyoka-hidraw.rules:644 \
	 usr/lib/sysusers.d/kyoka.conf:644 \
	 usr/lib/tmpfiles.d/kyoka.conf:644 usr/share/doc/kyoka/policy.md:644; do
	check "installed ${f%:*} mode ${f#*:}" test "$(stat -c %a "$tmp/dest/${f%:*}" 2>/dev/null)" = "${f#*:}"
done
check "unit runs /usr/sbin/kyokad" grep -qx 'ExecStart=/usr/sbin/kyokad' "$tmp/dest/usr/lib/systemd/system/kyokad.service"
check "udev rule runs /usr/lib/kyoka/kyoka-block-access, no @...@ left" \
	bash -c "grep -q 'PROGRAM=\"/usr/lib/kyoka/kyoka-block-access ' '$tmp/dest/usr/lib/udev/rules.d/70-kyoka.rules' &&
		! grep -q '@[A-Z]*@' '$tmp/dest/usr/lib/udev/rules.d/70-kyoka.rules'"
check "raw HID rule runs /usr/lib/kyoka/kyoka-block-access --hidraw, no @...@ left" \
	bash -c "grep -q 'PROGRAM=\"/usr/lib/kyoka/kyoka-block-access --hidraw ' '$tmp/dest/usr/lib/udev/rules.d/73-kyoka-hidraw.rules' &&
		! grep -q '@[A-Z]*@' '$tmp/dest/usr/lib/udev/rules.d/73-kyoka-hidraw.rules'"

# A prefix install, so that systemd can check the unit against binaries that exist.
check "make install PREFIX=$tmp/prefix" make -s -C "$top" BUILD="$build" install PREFIX="$tmp/prefix"
unit=$tmp/prefix/lib/systemd/system/kyokad.service
check "systemd-analyze verify kyokad.service" systemd-analyze verify "$unit"
check "systemd-analyze security: exposure at most 3.0" systemd-analyze security --offline=true --threshold=30 "$unit"
score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*exposure level for kyokad.service: \([0-9.]*\).*/\1/p')
echo "# kyokad.service exposure level: ${score:-?} (usbguard.service on Debian 12: 2.8)"
check "unit is Type=notify with a watchdog and Restart=always" \
	bash -c "grep -qx 'Type=notify' '$unit' && grep -q '^WatchdogSec=' '$unit' && grep -qx 'Restart=always' '$unit'"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
