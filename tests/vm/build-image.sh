#!/bin/bash
# Builds the real-kernel test image: the pinned Debian kernel and a busybox initramfs with the
# USB/network modules, udev and iproute2. Output: build/vm/current/{vmlinuz,initrd.gz,image.env}
# (+ vmlinux; a symlink to build/vm/images/<key>; the key hashes every input, so an unchanged rebuild is
# a no-op and a changed input never reuses a stale image).
#
#   tests/vm/build-image.sh                     build (or reuse) the image
#   tests/vm/build-image.sh --overlay DIR OUT   pack DIR into OUT (a gzip'd newc cpio) to append
#                                               to the initrd; ELF files in DIR get their
#                                               shared libraries added (from the host, via ldd)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
VMDIR=${KYOKA_VM_DIR:-$TOP/build/vm}
CACHE=$VMDIR/cache

MODULES="xhci-pci xhci-hcd usb-storage uas sd_mod sg ext4 usbnet cdc_ether rndis_host cdc_ncm e1000e veth usbhid hid-generic evdev nf_tables nft_meta_bridge ahci sr_mod cdrom isofs sdhci-pci mmc_block nvme virtio_pci virtio_blk"
# In the image but not loaded at boot: a test loads them with its own parameters
# (mac80211_hwsim radios=N: simulated Wi-Fi cards, with cfg80211 and mac80211; the crypto
# modules WPA2 (CCMP: ccm, ctr) and protected management frames (cmac, gcm) autoload).
MODULES_ONDEMAND="mac80211_hwsim ccm ctr gcm cmac ecb seqiv"
# Wireless tools from the host (tests/vm/deps.sh installs them), for the radios above.
WIRELESS_TOOLS="/usr/sbin/hostapd /usr/sbin/hostapd_cli /usr/sbin/wpa_supplicant /usr/sbin/wpa_cli /usr/sbin/iw"

die() { echo "build-image.sh: $*" >&2; exit 1; }
note() { echo "build-image.sh: $*" >&2; }

# copy_with_libs ROOT FILE...: copies each ELF's shared libraries (and the loader) into ROOT at
# the paths ldd names. Libraries come from the host: it is Debian 12 like the guest.
copy_with_libs() {
        local root=$1 f lib
        shift
        for f in "$@"; do
                [ "$(head -c4 "$f" 2>/dev/null | tr -d '\177')" = ELF ] || continue
                ldd "$f" >/dev/null 2>&1 || continue        # static
                ldd "$f" | grep -q 'not found' && die "$f: missing libraries on the host: $(ldd "$f" | grep 'not found' | tr -s ' \t' ' ')"
                for lib in $(ldd "$f" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
                        [ -e "$root$lib" ] && continue
                        mkdir -p "$root$(dirname "$lib")"
                        cp -L "$lib" "$root$lib"
                done
        done
}

# pack_cpio DIR OUT: a gzip'd newc archive of DIR, owned by root, reproducible order.
pack_cpio() {
        (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n -1 > "$2.tmp"
        mv "$2.tmp" "$2"
}

if [ "${1:-}" = --overlay ]; then
        [ $# -eq 3 ] || die "usage: $0 --overlay DIR OUT"
        src=$2 out=$3
        [ -d "$src" ] || die "$src: not a directory"
        stage=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-overlay.XXXXXX")
        trap 'rm -rf "$stage"' EXIT
        cp -a "$src/." "$stage/"
        mapfile -t elves < <(find "$stage" -type f -perm -u+x)
        copy_with_libs "$stage" "${elves[@]}"
        mkdir -p "$(dirname "$out")"
        pack_cpio "$stage" "$out"
        exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [--overlay DIR OUT]"

command -v qemu-system-x86_64 >/dev/null && command -v cpio >/dev/null && [ -x /bin/busybox ] \
        && command -v depmod >/dev/null || die "missing host tools: run tests/vm/deps.sh"

# --- the pinned kernel ----------------------------------------------------------------------
# shellcheck source=kernel.version
. "$HERE/kernel.version"          # KERNEL_PACKAGE, KERNEL_VERSION
mkdir -p "$CACHE"
cd "$CACHE"
kdeb=$(ls "${KERNEL_PACKAGE}_${KERNEL_VERSION/:/%3a}_amd64.deb" 2>/dev/null || true)
if [ -z "$kdeb" ]; then
        if apt-cache show "$KERNEL_PACKAGE=$KERNEL_VERSION" >/dev/null 2>&1; then
                apt-get download -q "$KERNEL_PACKAGE=$KERNEL_VERSION" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
        else
                cur=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
                [ -n "$cur" ] || die "no linux-image-amd64 in the archive (apt-get update?)"
                curver=$(apt-cache show "$cur" | sed -n 's/^Version: //p' | head -1)
                note "WARNING: pinned kernel $KERNEL_PACKAGE $KERNEL_VERSION is no longer in the archive;"
                note "WARNING: falling back to $cur $curver (update tests/vm/kernel.version)"
                KERNEL_PACKAGE=$cur KERNEL_VERSION=$curver
                apt-get download -q "$KERNEL_PACKAGE=$KERNEL_VERSION" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
        fi
        kdeb=$(ls "${KERNEL_PACKAGE}_${KERNEL_VERSION/:/%3a}_amd64.deb" 2>/dev/null) || die "download of $KERNEL_PACKAGE failed"
fi
KVER=${KERNEL_PACKAGE#linux-image-}

# udev: the archive's current one, downloaded once (its version is part of the key).
udeb=$(ls udev_*_amd64.deb 2>/dev/null | LC_ALL=C sort -V | tail -1 || true)
if [ -z "$udeb" ]; then
        apt-get download -q udev 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
        udeb=$(ls udev_*_amd64.deb 2>/dev/null | tail -1) || die "download of udev failed"
fi
# systemd, for its seat rules only (70-uaccess, 71-seat, 73-seat-late: logind's, not udev's
# package on Debian): a desktop has them, and they give the seat's user the hidraw node of a
# security key (uaccess), which kyoka's 73-kyoka-hidraw.rules must take back. Without logind
# in the guest the uaccess builtin itself does nothing; the tag is what can be checked.
sdeb=$(ls systemd_*_amd64.deb 2>/dev/null | LC_ALL=C sort -V | tail -1 || true)
if [ -z "$sdeb" ]; then
        apt-get download -q systemd 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
        sdeb=$(ls systemd_*_amd64.deb 2>/dev/null | tail -1) || die "download of systemd failed"
fi
SEAT_RULES="70-uaccess.rules 71-seat.rules 73-seat-late.rules"

# --- the cache key ----------------------------------------------------------------------------
hostver() { dpkg-query -W -f='${Package}=${Version} ' "$@"; }
key=$( {
        echo "$kdeb $udeb $sdeb $MODULES $MODULES_ONDEMAND $WIRELESS_TOOLS"
        hostver busybox-static kmod iproute2 libc6 libkmod2 libssl3 hostapd wpasupplicant iw
        cat "$HERE/build-image.sh" "$HERE/init" "$HERE/cmdchannel"
} | sha256sum | cut -c1-16)
IMG=$VMDIR/images/$key
if [ -f "$IMG/initrd.gz" ] && [ -f "$IMG/vmlinuz" ] && [ -f "$IMG/image.env" ]; then
        ln -sfn "images/$key" "$VMDIR/current"
        note "image $key is up to date ($KERNEL_PACKAGE $KERNEL_VERSION)"
        exit 0
fi

t0=$(date +%s.%N)
note "building image $key ($KERNEL_PACKAGE $KERNEL_VERSION)"
work=$VMDIR/work.$$
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/kernel" "$work/udev" "$work/systemd" "$work/root"
dpkg -x "$CACHE/$kdeb" "$work/kernel"
dpkg -x "$CACHE/$udeb" "$work/udev"
dpkg-deb --fsys-tarfile "$CACHE/$sdeb" | tar -x -C "$work/systemd" $(printf './lib/udev/rules.d/%s ' $SEAT_RULES)
R=$work/root

# --- the root ---------------------------------------------------------------------------------
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,run,tmp,root,var/tmp,mnt,etc/kyoka-vm}
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list-full); do
        case "${a##*/}" in
        modprobe|insmod|rmmod|lsmod|depmod|modinfo|init|linuxrc) continue;;
        esac
        [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done

# kmod (modprobe that reads MODULE.param= from /proc/cmdline, like udev's builtin)
cp /bin/kmod "$R/bin/kmod"
for a in modprobe insmod rmmod lsmod depmod modinfo; do ln -sf /bin/kmod "$R/sbin/$a"; done
# iproute2 (busybox's `ip` applet shadows the bare name: call /usr/sbin/ip)
cp /usr/sbin/ip "$R/usr/sbin/ip"
# udev
cp "$work/udev/bin/udevadm" "$R/bin/udevadm"
mkdir -p "$R/lib/systemd" "$R/lib/udev" "$R/etc/udev/rules.d"
ln -s /bin/udevadm "$R/lib/systemd/systemd-udevd"
cp -a "$work/udev/lib/udev/." "$R/lib/udev/"
rm -rf "$R/lib/udev/hwdb.d"
for f in $SEAT_RULES; do cp "$work/systemd/lib/udev/rules.d/$f" "$R/lib/udev/rules.d/$f"; done
# .link files: udev renames new links (usb0 -> enx<mac>, eth0 -> enp1s0) as on a real system
mkdir -p "$R/lib/systemd/network"
cp "$work/udev/lib/systemd/network/"*.link "$R/lib/systemd/network/"
copy_with_libs "$R" "$R/bin/kmod" "$R/usr/sbin/ip" "$R/bin/udevadm" "$R"/lib/udev/*_id
for t in $WIRELESS_TOOLS; do
        [ -x "$t" ] || die "$t missing on the host: run tests/vm/deps.sh"
        cp "$t" "$R/usr/sbin/"
done
copy_with_libs "$R" $(for t in $WIRELESS_TOOLS; do echo "$R/usr/sbin/${t##*/}"; done)

cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$R/etc/group" <<'EOF'
root:x:0:
tty:x:5:
disk:x:6:
kmem:x:15:
dialout:x:20:
cdrom:x:24:
audio:x:29:
video:x:44:
plugdev:x:46:
input:x:105:
kvm:x:106:
render:x:107:
sgx:x:108:
kyoka:x:990:
kyoka-admin:x:991:
nogroup:x:65534:
EOF
echo kyoka-vm > "$R/etc/hostname"
: > "$R/etc/fstab"

# --- modules ----------------------------------------------------------------------------------
KD=$work/kernel
depmod -b "$KD" "$KVER"
order=()
for m in $MODULES $MODULES_ONDEMAND; do
        while read -r _ ko _; do
                [ -n "$ko" ] || continue
                rel=${ko#"$KD"/}
                mkdir -p "$R/$(dirname "$rel")"
                cp "$ko" "$R/$rel"
        done < <(modprobe -d "$KD" -S "$KVER" --show-depends "$m" | grep '^insmod ')
        case " $MODULES_ONDEMAND " in *" $m "*) ;; *) order+=("$m");; esac
done
cp "$KD/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/" 2>/dev/null || true
depmod -b "$R" "$KVER"
printf '%s\n' "${order[@]}" > "$R/etc/kyoka-vm/modules"

install -m 0755 "$HERE/init" "$R/init"
install -m 0755 "$HERE/cmdchannel" "$R/etc/kyoka-vm/cmdchannel"

mkdir -p "$IMG.tmp"
cp "$KD/boot/vmlinuz-$KVER" "$IMG.tmp/vmlinuz"
# The uncompressed ELF boots through its PVH entry point: under TCG this skips about 3.5 s of
# firmware-side xz decompression (boot 8 s -> 4.5-5 s). vm.py uses it when present.
python3 - "$IMG.tmp/vmlinuz" "$IMG.tmp/vmlinux" <<'PY' || { note "no vmlinux extracted: booting bzImage"; rm -f "$IMG.tmp/vmlinux"; }
import lzma, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
elf = lzma.LZMADecompressor().decompress(data[at:]) if at >= 0 else b""
if not elf.startswith(b"\x7fELF"):
    sys.exit("vmlinuz: no xz-compressed ELF payload")
open(sys.argv[2], "wb").write(elf)
PY
pack_cpio "$R" "$IMG.tmp/initrd.gz"
cat > "$IMG.tmp/image.env" <<EOF
KERNEL_PACKAGE=$KERNEL_PACKAGE
KERNEL_VERSION=$KERNEL_VERSION
KVER=$KVER
UDEV_DEB=$udeb
SYSTEMD_DEB=$sdeb
MODULES="$MODULES"
MODULES_ONDEMAND="$MODULES_ONDEMAND"
EOF
rm -rf "$IMG"
mv "$IMG.tmp" "$IMG"
ln -sfn "images/$key" "$VMDIR/current"
# Older images (90 MB each) are of no further use: keep only this one.
for old in "$VMDIR"/images/*; do [ "$old" = "$IMG" ] || rm -rf "$old"; done
t1=$(date +%s.%N)
note "built $IMG: initrd $(du -h "$IMG/initrd.gz" | cut -f1), kernel $(du -h "$IMG/vmlinuz" | cut -f1), $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
