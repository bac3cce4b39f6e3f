#!/usr/bin/env bash
# kyoka-block-access, the udev helper for read-only media and raw HID, as udev runs it: bounded
# input, every doubt read-only (root's alone for --hidraw), BLKROSET on a real block device (a
# loop device here; the real-kernel test tests/vm/test-kyokad-usb.py runs it under udev on USB
# sticks and keyboards).
set -u
build=${1:?usage: test-block-access.sh BUILD}
helper=$build/kyoka-block-access
tmp=$(mktemp -d)
loop=
cleanup() { [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1${2:+  # $2}"; fail=$((fail + 1)); }
# expect NAME WORD EXIT ARGS...: the helper prints WORD and exits EXIT
expect() {
	local name=$1 word=$2 code=$3 out rc
	shift 3
	out=$("$helper" "$@" 2>"$tmp/err"); rc=$?
	if [ "$out" = "$word" ] && [ "$rc" = "$code" ]; then ok "$name"; else not_ok "$name" "got '$out' exit $rc; $(tr '\n' ' ' < "$tmp/err")"; fi
}

[ -x "$helper" ] || { not_ok "$helper built"; echo "block-access: $pass passed, $fail failed"; exit 1; }
rt=$tmp/run
mkdir -p "$rt/usb" && chmod 0755 "$rt" "$rt/usb"
usbpath=/sys/devices/pci0000:00/0000:00:01.0/usb2/2-6/2-6:1.0/host0/target0:0:0/0:0:0:0/block/sdb

# Usage errors: exit 2, nothing printed.
expect "no arguments: usage error" "" 2
expect "three arguments: usage error" "" 2 /dev/null 2-6 extra
expect "an unknown option: usage error" "" 2 --frobnicate x /dev/null
expect "an overlong argument (300 bytes): usage error" "" 2 "/dev/$(printf 'x%.0s' $(seq 300))"
# Not a device node: read-only, never an error that udev could read as "allowed".
expect "a regular file: read-only" read-only 0 --runtime-dir "$rt" "$tmp/err"
expect "a missing node: read-only" read-only 0 --runtime-dir "$rt" /dev/kyoka-no-such-node
ln -s /dev/null "$tmp/link"
expect "a symlink (not followed): read-only" read-only 0 --runtime-dir "$rt" "$tmp/link"
# A character device (like /dev/sgN): the decision only, nothing to set.
echo read-write > "$rt/usb/2-6"
expect "a char device under a read-write USB device: read-write" read-write 0 --runtime-dir "$rt" --devpath "$usbpath" /dev/null
expect "a char device not on USB: read-only" read-only 0 --runtime-dir "$rt" /dev/null

# Raw HID (--hidraw): only the decision, for 73-kyoka-hidraw.rules; "user" only when kyokad's
# file says hidraw=user, "root" for every doubt.
hidpath=/sys/devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0/0003:0627:0001.0001/hidraw/hidraw0
hid() { local name=$1 word=$2 content=$3; shift 3; printf '%b' "$content" > "$rt/usb/1-4"; chmod 0644 "$rt/usb/1-4"
	expect "--hidraw, access file '$(printf '%s' "$content" | sed 's/\\n/⏎/g')': $name" "$word" 0 --hidraw --runtime-dir "$rt" --devpath "$hidpath" "$@"; }
hid "user" user 'read-write\nhidraw=user\n' /dev/null
hid "user (read-only media)" user 'read-only\nhidraw=user\n' /dev/null
hid "udev's name agrees" user 'read-write\nhidraw=user\n' /dev/null 1-4
hid "udev names another USB device" root 'read-write\nhidraw=user\n' /dev/null 1-5
hid "root" root 'read-write\nhidraw=root\n' /dev/null
hid "the one-line format: root" root 'read-write\n' /dev/null
for content in 'read-write\nhidraw=user\n\n' 'read-write\nhidraw=USER\n' 'hidraw=user\n' '' 'read-write\nhidraw=user\nhidraw=user\n'; do
	hid "malformed" root "$content" /dev/null
done
printf 'read-write\nhidraw=user\n' > "$rt/usb/1-4"; chmod 0666 "$rt/usb/1-4"
expect "--hidraw, access file writable by others: root" root 0 --hidraw --runtime-dir "$rt" --devpath "$hidpath" /dev/null
chmod 0644 "$rt/usb/1-4"
expect "--hidraw, no USB device above the node: root" root 0 --hidraw --runtime-dir "$rt" /dev/null
expect "--hidraw, a regular file: root" root 0 --hidraw --runtime-dir "$rt" --devpath "$hidpath" "$tmp/err"
expect "--hidraw, a symlink (not followed): root" root 0 --hidraw --runtime-dir "$rt" --devpath "$hidpath" "$tmp/link"
expect "--hidraw, no runtime dir: root" root 0 --hidraw --runtime-dir "$tmp/none" --devpath "$hidpath" /dev/null
rm "$rt/usb/1-4"
expect "--hidraw, no access file (kyokad never authorised it, or is down): root" root 0 --hidraw --runtime-dir "$rt" --devpath "$hidpath" /dev/null
expect "--hidraw without DEVNODE: usage error" "" 2 --hidraw
expect "--hidraw-revoke without DEVNODE: usage error" "" 2 --hidraw-revoke
expect "--hidraw-revoke with two arguments: usage error" "" 2 --hidraw-revoke /dev/null x
# --hidraw-revoke, the rule's RUN for a root-only node: any ACL on the node goes.
if [ "$(id -u)" -eq 0 ] && mknod "$tmp/hidraw9" c 241 9 2>/dev/null && python3 - "$tmp/hidraw9" <<'PY' 2>/dev/null
import os, struct, sys
# An access ACL as the uaccess builtin sets it: user::rw-, user:1000:rw-, group::---, mask::rw-, other::---
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in
      ((1, 6, 0xffffffff), (2, 6, 1000), (4, 0, 0xffffffff), (16, 6, 0xffffffff), (32, 0, 0xffffffff)))
os.setxattr(sys.argv[1], "system.posix_acl_access", acl)
PY
then
	"$helper" --hidraw-revoke "$tmp/hidraw9" >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ "$rc" = 0 ] && ! python3 -c 'import os, sys; os.getxattr(sys.argv[1], "system.posix_acl_access")' "$tmp/hidraw9" 2>/dev/null; then
		ok "--hidraw-revoke removes the node's ACL (uid 1000 rw)"
	else not_ok "--hidraw-revoke removes the node's ACL" "exit $rc; $(cat "$tmp/err")"; fi
	"$helper" --hidraw-revoke "$tmp/no-such-node"; [ $? = 0 ] && ok "--hidraw-revoke of a node gone meanwhile: exit 0" ||
		not_ok "--hidraw-revoke of a node gone meanwhile: exit 0"
else
	echo "# not root, no mknod or no ACLs here: --hidraw-revoke is not checked"
fi

if [ "$(id -u)" -ne 0 ] || ! loop=$(losetup -f --show "$(truncate -s 4M "$tmp/img" && echo "$tmp/img")" 2>/dev/null); then
	echo "# no loop device (not root?): BLKROSET cases skipped"
else
	name=${loop#/dev/}
	ro() { cat "/sys/block/$name/ro"; }
	setrw() { blockdev --setrw "$loop"; }
	expect "a block device not on USB: read-only" read-only 0 --runtime-dir "$rt" "$loop"
	[ "$(ro)" = 1 ] && ok "... and it is read-only now (BLKROSET)" || not_ok "... and it is read-only now" "ro=$(ro)"
	setrw
	echo read-write > "$rt/usb/2-6"
	expect "USB device with access read-write: read-write" read-write 0 --runtime-dir "$rt" --devpath "$usbpath" "$loop"
	[ "$(ro)" = 0 ] && ok "... and it stays writable" || not_ok "... and it stays writable" "ro=$(ro)"
	expect "udev's name agrees: read-write" read-write 0 --runtime-dir "$rt" --devpath "$usbpath" "$loop" 2-6
	expect "udev names another USB device: read-only" read-only 0 --runtime-dir "$rt" --devpath "$usbpath" "$loop" 2-7
	[ "$(ro)" = 1 ] && ok "... and it is read-only now" || not_ok "... and it is read-only now" "ro=$(ro)"
	# Bound to the disks whose virus scan passed (a diskseq line): only a disk it names opens; a
	# card swapped in since (another diskseq), or a disk whose diskseq cannot be read, is held.
	fake="$tmp/sys/devices/pci0000:00/0000:00:01.0/usb2/2-6/2-6:1.0/host0/target0:0:0/0:0:0:0/block/sdb"
	mkdir -p "$fake/sdb1" && echo 41 > "$fake/diskseq" && echo 1 > "$fake/sdb1/partition"
	setrw; printf 'read-write\nhidraw=root\ndiskseq=7 41\n' > "$rt/usb/2-6"
	expect "bound to diskseq 7 and 41, the disk's is 41: read-write" read-write 0 --runtime-dir "$rt" --devpath "$fake" "$loop"
	[ "$(ro)" = 0 ] && ok "... and it stays writable" || not_ok "... and it stays writable" "ro=$(ro)"
	expect "... its partition (the disk's diskseq): read-write" read-write 0 --runtime-dir "$rt" --devpath "$fake/sdb1" "$loop"
	echo 42 > "$fake/diskseq"
	expect "... a card swapped in since (diskseq 42): held" held 0 --runtime-dir "$rt" --devpath "$fake" "$loop"
	[ "$(ro)" = 1 ] && ok "... and it is read-only now" || not_ok "... and it is read-only now" "ro=$(ro)"
	setrw
	expect "... and its partition: held" held 0 --runtime-dir "$rt" --devpath "$fake/sdb1" "$loop"
	setrw
	expect "... a disk without a diskseq to read: held" held 0 --runtime-dir "$rt" --devpath "$usbpath" "$loop"
	expect "... a char device (an sg node): held" held 0 --runtime-dir "$rt" --devpath "$usbpath" /dev/null
	setrw; printf 'read-write\nhidraw=root\ndiskseq=042\n' > "$rt/usb/2-6"
	expect "... a malformed diskseq line: read-only" read-only 0 --runtime-dir "$rt" --devpath "$fake" "$loop"
	for content in read-only "" "read-write extra" "READ-WRITE"; do
		setrw; printf '%s\n' "$content" > "$rt/usb/2-6"
		expect "access file '$content': read-only" read-only 0 --runtime-dir "$rt" --devpath "$usbpath" "$loop"
		[ "$(ro)" = 1 ] || not_ok "... ro=1 after '$content'" "ro=$(ro)"
	done
	setrw; echo read-write > "$rt/usb/2-6"; chmod 0666 "$rt/usb/2-6"
	expect "access file writable by others: read-only" read-only 0 --runtime-dir "$rt" --devpath "$usbpath" "$loop"
	chmod 0644 "$rt/usb/2-6"; setrw
	rm "$rt/usb/2-6"
	expect "no access file (kyokad never authorised it, or is down): read-only" read-only 0 --runtime-dir "$rt" --devpath "$usbpath" "$loop"
	setrw
	expect "no runtime dir: read-only" read-only 0 --runtime-dir "$tmp/none" --devpath "$usbpath" "$loop"
	setrw
	ln -s "$rt/usb" "$tmp/usblink"; mkdir -p "$tmp/rt2"; ln -s "$rt/usb" "$tmp/rt2/usb"; echo read-write > "$rt/usb/2-6"
	expect "runtime dir's usb/ a symlink: read-only" read-only 0 --runtime-dir "$tmp/rt2" --devpath "$usbpath" "$loop"
	setrw
	expect "the default runtime dir (/run/kyoka) without a file for 2-6: read-only" read-only 0 --devpath "${usbpath/2-6/9-9}" "$loop"
	[ "$(ro)" = 1 ] && ok "... ro=1" || not_ok "... ro=1" "ro=$(ro)"
	setrw
	printf 'read-write\nhidraw=user\n' > "$rt/usb/2-6"
	expect "--hidraw on a block device: root" root 0 --hidraw --runtime-dir "$rt" --devpath "$usbpath" "$loop"
	[ "$(ro)" = 0 ] && ok "... and --hidraw changed nothing (no BLKROSET)" || not_ok "... and --hidraw changed nothing" "ro=$(ro)"
	expect "the two-line file's read-write reaches the block rule" read-write 0 --runtime-dir "$rt" --devpath "$usbpath" "$loop"
	setrw
fi
# --media: a disk that is not on USB (73-kyoka-media.rules). The loop device stands for the
# disk; a sysfs tree made here says what it is (an SD card in a PCI reader, or an NVMe drive),
# under the loop's own device number, so that BLKROSET is real.
if [ "$(id -u)" -ne 0 ] || ! loop=${loop:-$(losetup -f --show "$(truncate -s 4M "$tmp/img" && echo "$tmp/img")" 2>/dev/null)}; then
	echo "# no loop device (not root?): --media cases skipped"
else
	name=${loop#/dev/}
	ro() { cat "/sys/block/$name/ro"; }
	setrw() { blockdev --setrw "$loop"; }
	devnum=$(cat "/sys/block/$name/dev")
	sys=$tmp/sys st=$tmp/state rt=$tmp/mrun root=$tmp/root
	mkdir -p "$st" "$rt/media" "$root/proc/self" "$root/etc" && chmod 0755 "$rt" "$rt/media"
	: > "$root/proc/self/mountinfo"
	# fake_disk KIND: the loop's device number as mmcblk0 (an SD card) or nvme0n1 (NVMe).
	fake_disk() {
		rm -rf "$sys"; local pci=$sys/devices/pci0000:00/0000:00:04.0 dev d
		mkdir -p "$sys/bus/pci" "$sys/bus/mmc" "$sys/class/block" "$sys/dev/block" "$pci"
		ln -s "$sys/bus/pci" "$pci/subsystem"
		if [ "$1" = mmc ]; then
			dev=$pci/mmc_host/mmc0/mmc0:0001 d=$dev/block/mmcblk0; mkdir -p "$d"; ln -s "$sys/bus/mmc" "$dev/subsystem"
			printf '0x000003\n' > "$dev/manfid"; printf 'SD32G\n' > "$dev/name"; printf '0x12345678\n' > "$dev/serial"
			printf '0x5344\n' > "$dev/oemid"; printf '01/2024\n' > "$dev/date"
		else
			dev=$pci/nvme/nvme0 d=$dev/nvme0n1; mkdir -p "$d"
			printf 'NVSER9  \n' > "$dev/serial"; printf 'EXT NVMe\n' > "$dev/model"; printf '1\n' > "$d/nsid"
		fi
		echo "$devnum" > "$d/dev"; echo 42 > "$d/diskseq"; ln -s "$dev" "$d/device"
		ln -s "$d" "$sys/class/block/$(basename "$d")"; ln -s "$d" "$sys/dev/block/$devnum"
	}
	media() { expect "$1" "$2" 0 --media --sysfs "$sys" --root "$root" --state-dir "$st" --runtime-dir "$rt" "$loop"; }
	access() { printf '%s\ndiskseq=%s\n' "$1" "$2" > "$rt/media/$3"; chmod 0644 "$rt/media/$3"; }

	fake_disk mmc
	setrw
	media "an SD card, no access file: closed" closed
	[ "$(ro)" = 1 ] && ok "... and read-only now (BLKROSET)" || not_ok "... and read-only now" "ro=$(ro)"
	setrw; access read-only 42 mmcblk0
	media "access file read-only for its diskseq: read-only" read-only
	[ "$(ro)" = 1 ] && ok "... ro=1" || not_ok "... ro=1" "ro=$(ro)"
	setrw; access read-write 42 mmcblk0
	media "access file read-write for its diskseq: read-write" read-write
	[ "$(ro)" = 0 ] && ok "... and it stays writable" || not_ok "... and it stays writable" "ro=$(ro)"
	access read-write 41 mmcblk0
	media "read-write for another diskseq (a card swapped): closed" closed
	setrw; access read-write 42 mmcblk0; chmod 0666 "$rt/media/mmcblk0"
	media "access file writable by others: closed" closed
	setrw; chmod 0644 "$rt/media/mmcblk0"; chmod 0775 "$rt/media"
	media "access directory writable by group: closed" closed
	setrw; chmod 0755 "$rt/media"; printf 'read-write\ndiskseq=42\n\n' > "$rt/media/mmcblk0"
	media "access file with a trailing line: closed" closed
	setrw; rm -f "$rt/media/mmcblk0"
	# The fixed-disk rule first, before any file is read: nothing changes on a fixed disk.
	echo "27 1 $devnum / / rw - ext4 $loop rw" > "$root/proc/self/mountinfo"
	media "the card holds the root file system: fixed" fixed
	[ "$(ro)" = 0 ] && ok "... and nothing changed (no BLKROSET)" || not_ok "... nothing changed" "ro=$(ro)"
	: > "$root/proc/self/mountinfo"
	echo "UUID=ABCD-1234 /data vfat defaults 0 0" > "$root/etc/fstab"
	env ID_FS_UUID=abcd-1234 "$helper" --media --sysfs "$sys" --root "$root" --state-dir "$st" --runtime-dir "$rt" "$loop" > "$tmp/out" 2>&1
	grep -qx fixed "$tmp/out" && [ "$(ro)" = 0 ] && ok "named by UUID in fstab (udev's environment for the node): fixed, untouched" ||
		not_ok "named by UUID in fstab: fixed" "$(tr '\n' ' ' < "$tmp/out") ro=$(ro)"
	: > "$root/etc/fstab"
	printf 'kyoka fixed disks 1\nmmc\t\t\t0x12345678\t\n' > "$st/fixed-disks"
	media "listed by the policy (STATE_DIR/fixed-disks): fixed" fixed
	[ "$(ro)" = 0 ] && ok "... untouched" || not_ok "... untouched" "ro=$(ro)"
	rm -f "$st/fixed-disks"
	printf 'kyoka fixed disks 1\nmmc\t\t\t0x12345678\t\n' > "$st/disks-at-install"
	media "an SD card present at installation is still a medium: closed" closed
	setrw; rm -f "$st/disks-at-install"

	fake_disk nvme
	media "an NVMe disk and no installation list (kyokad never ran): left alone (fixed)" fixed
	[ "$(ro)" = 0 ] && ok "... untouched" || not_ok "... untouched" "ro=$(ro)"
	echo garbage > "$st/disks-at-install"
	media "an unreadable installation list: left alone (fixed)" fixed
	printf 'kyoka fixed disks 1\nnvme\t\tEXT NVMe\tNVSER9\t\n' > "$st/disks-at-install"
	media "on the installation list: fixed" fixed
	printf 'kyoka fixed disks 1\nnvme\t\tOTHER\tNVSER1\t\n' > "$st/disks-at-install"
	media "not on the installation list (hot-plugged later): closed" closed
	[ "$(ro)" = 1 ] && ok "... ro=1" || not_ok "... ro=1" "ro=$(ro)"
	setrw
	expect "--media on the host's own loop device (not a medium): none" none 0 --media --state-dir "$st" --runtime-dir "$rt" "$loop"
	[ "$(ro)" = 0 ] && ok "... untouched" || not_ok "... untouched" "ro=$(ro)"
	expect "--media on a regular file: unknown" unknown 0 --media --sysfs "$sys" --state-dir "$st" --runtime-dir "$rt" "$tmp/img"
	expect "--media with a USB-SYSNAME: usage error" "" 2 --media "$loop" 2-1
	expect "--media --hidraw: usage error" "" 2 --media --hidraw "$loop"
fi
# --revoke-acl: block or character nodes (an optical drive's sr and sg).
expect "--revoke-acl without DEVNODE: usage error" "" 2 --revoke-acl
"$helper" --revoke-acl "$tmp/no-such-node"; [ $? = 0 ] && ok "--revoke-acl of a node gone meanwhile: exit 0" ||
	not_ok "--revoke-acl of a node gone meanwhile: exit 0"
echo "block-access: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
