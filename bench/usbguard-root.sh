#!/bin/sh
# Debian 12's usbguard (1.1.2) for the side-by-side benchmarks, extracted from the archive's
# .debs into DIR (default build/vm/usbguard), never installed: nothing of it runs on this host
# except bench/daemon-load.py's timed starts (no USB bus here). The libraries it needs beyond
# these come from the host (the VM overlay copies them with ldd). Prints DIR.
#   bench/usbguard-root.sh [DIR]
set -eu
dir=$(realpath -m "${1:-build/vm/usbguard}")
pkgs="usbguard libusbguard1 libqb100 libprotobuf32 libsodium23 libumockdev0 libseccomp2 libaudit1 libcap-ng0"
if [ ! -x "$dir/root/usr/sbin/usbguard-daemon" ]; then
	rm -rf "$dir" && mkdir -p "$dir/debs" "$dir/root"
	# apt-get download writes into the current directory (as _apt when it can; here it cannot).
	(cd "$dir/debs" && apt-get download -q $pkgs >/dev/null 2>&1) ||
		{ echo "usbguard-root.sh: apt-get download $pkgs failed (apt-get update?)" >&2; exit 1; }
	for d in "$dir"/debs/*.deb; do dpkg -x "$d" "$dir/root"; done
fi
missing=$(LD_LIBRARY_PATH="$dir/root/usr/lib/x86_64-linux-gnu:$dir/root/lib/x86_64-linux-gnu" \
	ldd "$dir/root/usr/sbin/usbguard-daemon" "$dir/root/usr/bin/usbguard" | grep 'not found' || true)
[ -z "$missing" ] || { echo "usbguard-root.sh: libraries missing: $missing" >&2; exit 1; }
echo "$dir/root"
