#!/bin/sh
# Installs what the real-kernel harness needs on the host, from Debian 12's archive.
# Idempotent: apt-get runs only when a package is missing (dpkg-query first), and
# `apt-get update` only when an install is needed.
#   tests/vm/deps.sh              the harness (build-image.sh, vm.py, test-harness.py), and
#                                 test-systemd.py's Debian root (debootstrap, mkfs.ext4 -d,
#                                 systemctl --root, localedef's ja_JP source from locales; the
#                                 .debs it installs come from make deb, whose tools make deps
#                                 installs)
#   tests/vm/deps.sh --fixtures   also umockdev, for record-fixtures.py
set -eu

PKGS="qemu-system-x86 busybox-static cpio kmod iproute2 gzip python3 apt dpkg debootstrap e2fsprogs systemd tar hostapd wpasupplicant iw locales clamav-daemon clamav"
[ "${1:-}" = --fixtures ] && PKGS="$PKGS umockdev"

missing=
for p in $PKGS; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
                || missing="$missing $p"
done

if [ -z "$missing" ]; then
        echo "tests/vm/deps.sh: all present"
        exit 0
fi

echo "tests/vm/deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
