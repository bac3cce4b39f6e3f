#!/bin/bash
# Builds (or reuses) the full Debian 12 root that tests/vm/test-systemd.py and test-fleet.py boot with systemd
# as PID 1: debootstrap minbase with systemd, udev, dbus, kmod, iproute2, procps and the
# runtime libraries of kyokad and policyctl (ldd build/kyokad), the package's Recommends
# (weasyprint, fonts-ipaexfont-gothic), clamav-daemon with its units masked (clamd for the
# virus scan before use; test-systemd.py starts it with its own database), plus the pinned kernel's
# modules that the tests need (e1000e: the NIC whose link must survive kyoka's installation).
# Also a 1 MB busybox initrd that loads virtio/ext4 and switch_roots to /dev/vda. No kyoka
# files: the test installs kyoka's .deb (make deb) in the running guest on every run; the
# runtime libraries are here because the guest has no network to fetch the package's Depends.
#
# Output: build/vm/systemd/<key>/{root.tar.gz,initrd.gz,vmlinux,vmlinuz,image.env} and the
# symlink build/vm/systemd/current. The key hashes every input (debootstrap's version, the
# mirror, the package list, the kernel .deb, the module list, this script, busybox), so an
# unchanged rebuild is a no-op and a changed input never reuses a stale root. Needs the
# kernel from tests/vm/build-image.sh (build/vm/cache, build/vm/current) and the host tools of
# tests/vm/deps.sh (debootstrap, e2fsprogs, qemu-utils).
#
#   tests/vm/build-systemd-root.sh       prints the image directory on stdout
#   KYOKA_DEBIAN_MIRROR=URL              overrides the mirror (default: the first one apt uses)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
VMDIR=${KYOKA_VM_DIR:-$TOP/build/vm}
OUT=$VMDIR/systemd
SUITE=bookworm
# kyokad: libconfig9 libjson-c5 libssl3 libsystemd0 libudev1 libnl-3-200 libnl-genl-3-200 libnl-route-3-200
# libnftables1 (libnftnl11 libmnl0 libxtables12 libjansson4 libgmp10) libsqlite3-0.
PACKAGES="systemd,systemd-sysv,udev,dbus,kmod,iproute2,procps,nftables,openssh-server,systemd-journal-remote,python3-apt,libconfig9,libjson-c5,libssl3,libnl-3-200,libnl-genl-3-200,libnl-route-3-200,libnftables1,libnftnl11,libmnl0,libxtables12,libjansson4,libgmp10,libsqlite3-0"
# The package's Recommends, installed by apt in the root after debootstrap: weasyprint and
# fonts-ipaexfont-gothic make report.pdf inside kyoka-export.service's sandbox. python3-munkres
# first: python3-fonttools depends on "python3-scipy | python3-munkres", and apt's first choice
# brings scipy, pythran, g++ and boost (845 MB instead of 227 MB more; docs/install.md).
RECOMMENDS="python3-munkres weasyprint fonts-ipaexfont-gothic"
# clamd for the virus scan before use (test-systemd.py's "virus scan under systemd"): Debian's
# clamav-daemon (Depends only). Its units are masked below: the guest has no network for
# freshclam and no signature database until the test brings one and starts clamd itself.
SCANNER="clamav-daemon"
SCANNER_UNITS="clamav-daemon.service clamav-daemon.socket clamav-freshclam.service clamav-clamonacc.service"
# In the root (loaded by udev and kyokad): USB storage and HID, nftables for kyokad's network
# enforcement, e1000e for a NIC present before kyoka is installed. In the initrd: what mounting the root needs.
MODULES="xhci-pci xhci-hcd usb-storage uas sd_mod sg usbhid hid-generic nf_tables nft_meta_bridge autofs4 e1000e"
INITRD_MODULES="virtio_pci virtio_blk ext4"

die() { echo "build-systemd-root.sh: $*" >&2; exit 1; }
note() { echo "build-systemd-root.sh: $*" >&2; }

command -v debootstrap >/dev/null && command -v mkfs.ext4 >/dev/null && [ -x /bin/busybox ] \
        || die "missing host tools: run tests/vm/deps.sh"
[ -f "$VMDIR/current/image.env" ] || die "no kernel image: run tests/vm/build-image.sh"
# shellcheck disable=SC1091
. "$VMDIR/current/image.env"     # KERNEL_PACKAGE KERNEL_VERSION KVER
kdeb=$VMDIR/cache/${KERNEL_PACKAGE}_${KERNEL_VERSION/:/%3a}_amd64.deb
[ -f "$kdeb" ] || die "$kdeb missing: run tests/vm/build-image.sh"

mirror=${KYOKA_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
        # deb822 (.sources) first, then one-line .list entries: the first http(s) archive of bookworm.
        mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
                /^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") s = 1 }
                /^$/ { if (s && u ~ /debian\/?$/) { print u; exit } u = ""; s = 0 }
                END { if (s && u ~ /debian\/?$/) print u }' | head -1)
        [ -n "$mirror" ] || mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
                awk '$1 == "deb" && $3 == "bookworm" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' | head -1)
        [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

key=$( {
        echo "$SUITE $mirror $PACKAGES $RECOMMENDS $SCANNER $SCANNER_UNITS $MODULES $INITRD_MODULES $(basename "$kdeb")"
        dpkg-query -W -f='${Package}=${Version} ' debootstrap busybox-static kmod
        cat "$0"
} | sha256sum | cut -c1-16)
IMG=$OUT/$key
if [ -f "$IMG/root.tar.gz" ] && [ -f "$IMG/initrd.gz" ] && [ -f "$IMG/image.env" ]; then
        ln -sfn "$key" "$OUT/current"
        note "root $key is up to date"
        echo "$IMG"
        exit 0
fi

t0=$(date +%s.%N)
note "building root $key: debootstrap $SUITE from $mirror (about a minute)"
mkdir -p "$OUT"
work=$OUT/work.$$
rm -rf "$work"
trap 'rm -rf "$work" "$IMG.tmp.$$"' EXIT
R=$work/root
mkdir -p "$work/kernel" "$R"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$R" "$mirror" > "$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
cp /etc/resolv.conf "$R/etc/resolv.conf"
# shellcheck disable=SC2086
{ chroot "$R" apt-get update && DEBIAN_FRONTEND=noninteractive chroot "$R" apt-get install -y \
        --no-install-recommends $RECOMMENDS $SCANNER; } >> "$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; die "apt-get install $RECOMMENDS $SCANNER in the root failed"; }
# Masked (a symlink to /dev/null, as systemctl mask makes): none of clamav's units starts at
# boot, so none fails ("the system is running").
for u in $SCANNER_UNITS; do
        ln -sfn /dev/null "$R/etc/systemd/system/$u"
done
rm -f "$R/etc/resolv.conf"
# apt's caches and lists (105 MB): the guest has no network to use them.
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/*_*
echo kyoka-systemd > "$R/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$R/etc/fstab"
# Booted each time from scratch: a fresh machine-id on every boot (systemd writes it early).
: > "$R/etc/machine-id"
ln -sfn /lib/systemd/system/multi-user.target "$R/etc/systemd/system/default.target"

# --- modules ----------------------------------------------------------------------------------
dpkg -x "$kdeb" "$work/kernel"
KD=$work/kernel
depmod -b "$KD" "$KVER"
copy_modules() {        # copy_modules DEST MODULE...: each with its dependencies
        local dest=$1 m ko rel
        shift
        for m in "$@"; do
                while read -r _ ko _; do
                        [ -n "$ko" ] || continue
                        rel=${ko#"$KD"/}
                        mkdir -p "$dest/$(dirname "$rel")"
                        cp "$ko" "$dest/$rel"
                        echo "$rel"
                done < <(modprobe -d "$KD" -S "$KVER" --show-depends "$m" | grep '^insmod ')
        done
}
copy_modules "$R" $MODULES $INITRD_MODULES >/dev/null
cp "$KD/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"

# --- the initrd: busybox, the root's modules, switch_root ---------------------------------------
I=$work/initrd
mkdir -p "$I"/{bin,dev,proc,sys,newroot}
cp /bin/busybox "$I/bin/busybox"
copy_modules "$I" $INITRD_MODULES | awk '!seen[$0]++' > "$I/modules"
cat > "$I/init" <<'EOF'
#!/bin/busybox sh
# Loads virtio and ext4, mounts /dev/vda and hands over to systemd.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
while read -r m; do /bin/busybox insmod "/$m" 2>/dev/null; done < /modules
n=0
while [ ! -b /dev/vda ] && [ $n -lt 200 ]; do /bin/busybox sleep 0.05; n=$((n + 1)); done
/bin/busybox mount -t ext4 -o rw /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; /bin/busybox sh; }
/bin/busybox umount /proc /sys
/bin/busybox mount --move /dev /newroot/dev
exec /bin/busybox switch_root /newroot /sbin/init
EOF
chmod 0755 "$I/init"

tmp=$IMG.tmp.$$
mkdir -p "$tmp"
(cd "$I" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n -1 > "$tmp/initrd.gz"
cp "$VMDIR/current/vmlinuz" "$tmp/vmlinuz"
[ -f "$VMDIR/current/vmlinux" ] && cp "$VMDIR/current/vmlinux" "$tmp/vmlinux"
tar -C "$R" --numeric-owner --xattrs --xattrs-include='*' -I 'gzip -1' -cf "$tmp/root.tar.gz" .
cat > "$tmp/image.env" <<EOF
KERNEL_PACKAGE=$KERNEL_PACKAGE
KERNEL_VERSION=$KERNEL_VERSION
KVER=$KVER
MIRROR=$mirror
SYSTEMD=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Version}' systemd)
EOF
rm -rf "$IMG"
mv "$tmp" "$IMG"
ln -sfn "$key" "$OUT/current"
# Older roots (80 MB each) are of no further use; a concurrent build's work.PID and
# KEY.tmp.PID are left alone.
for old in "$OUT"/*; do
        case ${old##*/} in "$key"|current|work.*|*.tmp.*) ;; *) rm -rf "$old";; esac
done
t1=$(date +%s.%N)
note "built $IMG: root.tar.gz $(du -h "$IMG/root.tar.gz" | cut -f1), $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
echo "$IMG"
