#!/usr/bin/env bash
# kyokad against umockdev device trees: no kernel, but kyokad's real libudev monitor and
# enumeration, its sysfs reads and writes, the policy gate and its signal handling. Each case
# builds a testbed (umockdev-driver), starts kyokad in it with libumockdev-preload, and checks
# what kyokad wrote to the mock sysfs: `authorized` of devices and interfaces, and the
# controllers' authorized_default / interface_authorized_default.
#
# Usage: test-kyokad-umockdev.sh BUILD   (BUILD holds kyokad; an ASan build works too)
# What umockdev cannot show: the kernel's reaction to those writes (interfaces appearing,
# drivers binding, the bus stalling); tests/vm/ covers that.
set -u

build=$(realpath "${1:?usage: test-kyokad-umockdev.sh BUILD}")
top=$(cd "$(dirname "$0")/../.." && pwd)
kyokad=$build/kyokad
driver=$build/tests/integration/umockdev-driver
data=${TEST_DATA_DIR:-$top/tests/data}
TIMEOUT=${KYOKA_TEST_TIMEOUT:-5}     # seconds, per awaited condition

pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }

for t in openssl umockdev-wrapper; do
        command -v "$t" >/dev/null || { echo "not ok - $t is missing (make deps)"; exit 1; }
done
[ -x "$kyokad" ] || { echo "not ok - $kyokad is missing (make)"; exit 1; }
if [ ! -x "$driver" ]; then
        # An ASan build dir (build/asan) usually lacks the driver; it needs no sanitizer.
        make -s -C "$top" BUILD="$build" "$driver" >/dev/null || { echo "not ok - cannot build $driver"; exit 1; }
fi

# kyokad's opens of /sys and its uevent socket must go to the testbed. An ASan build wants its
# runtime first in the library list: then its interceptors call on into umockdev's.
preload=libumockdev-preload.so.0
asan=$(ldd "$kyokad" | awk '/libasan\.so/ { print $3 }')
[ -n "$asan" ] && preload="$asan $preload"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-umockdev.XXXXXX")
export TMPDIR=$scratch               # the testbeds (umockdev.XXXXXX) land here too
kyokad_pid= drv_pid=
cleanup() {
        [ -n "$kyokad_pid" ] && kill -KILL "$kyokad_pid" 2>/dev/null
        [ -n "$drv_pid" ] && kill -KILL "$drv_pid" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$scratch"
}
trap cleanup EXIT

openssl genpkey -algorithm ed25519 -out "$scratch/admin.key" 2>/dev/null &&
        openssl pkey -in "$scratch/admin.key" -pubout -out "$scratch/admin.pub" 2>/dev/null ||
        { echo "not ok - cannot generate an Ed25519 key with openssl"; exit 1; }

# --- device trees ---------------------------------------------------------------------------
# Raw descriptors as QEMU's devices present them (the stick and the composite are the bytes of
# tests/unit/test-usb-descriptors.c). Each device has its interface directories, with their own
# `authorized`, although a real unauthorised device has none: kyokad must not need them to
# decide, and the tests can see what it writes to them.
D_ROOTHUB=12010002090001406b1d020001060302010109021900010100e0000904000001090000000705810304000c
D_STICK=1201000200000040f446010000000102030109022000010100c0320904000002080650000705810200020007050202000200
D_KEYBOARD=120100020000004027060100000001040b0109022200010108a032090400000103010100092111010001223f0007058103080007
D_PHONE=1201000200000040f446040000000102030109022700010100c00109040000030601010007058102000200070502020002000705830340000a
D_HUB=12010002090000400904115a0001000000010902190001010080000904000001090000000705810301000c
D_COMBO=1201000200000040810781550001010203010902390002010080320904000002080650000705810200020007050202000200090401000103010100092111010001223f000705830308000a

HC1=/devices/pci0000:00/0000:00:14.0/usb1
HC2=/devices/pci0000:00/0000:00:1d.0/usb2

# Two controllers, open as the kernel leaves them without usbcore.authorized_default=0.
controllers() {
        local pci hc
        for hc in $HC1 $HC2; do
                pci=${hc%/usb*}
                printf 'P: %s\nE: SUBSYSTEM=pci\nE: DRIVER=xhci_hcd\nA: vendor=0x1b36\nA: device=0x000d\n\n' "$pci"
                printf 'P: %s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\nA: authorized=1\\n\n' "$hc"
                printf 'A: authorized_default=1\\n\nA: interface_authorized_default=1\\n\nA: idVendor=1d6b\\n\nA: idProduct=0002\\n\n'
                printf 'H: descriptors=%s\n\n' "$D_ROOTHUB"
        done
}

# Text attributes end with a newline, as the kernel writes them ("\n" is umockdev's escape).
# usb_device DEVPATH AUTHORIZED DESCRIPTORS SERIAL PRODUCT_NAME [SERIAL_HEX]
usb_device() {
        printf 'P: %s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: ID_PATH=pci-0000:00:14.0-usb-0:%s\n' "$1" "${1##*-}"
        printf 'A: authorized=%s\\n\nA: idVendor=%s\\n\nA: idProduct=%s\\n\n' "$2" "${3:18:2}${3:16:2}" "${3:22:2}${3:20:2}"
        [ -n "$4" ] && printf 'A: serial=%s\\n\n' "$4"
        [ -n "${6:-}" ] && printf 'H: serial=%s0a\n' "$6"
        printf 'A: manufacturer=QEMU\\n\nA: product=%s\\n\nH: descriptors=%s\n\n' "$5" "$3"
}
# usb_interface DEVPATH NUMBER AUTHORIZED CLASS SUBCLASS PROTOCOL
usb_interface() {
        printf 'P: %s/%s:1.%s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nA: authorized=%s\\n\n' "$1" "${1##*/}" "$2" "$3"
        printf 'A: bInterfaceClass=%s\\n\nA: bInterfaceSubClass=%s\\n\nA: bInterfaceProtocol=%s\\n\n\n' "$4" "$5" "$6"
}
# stick DEVPATH SERIAL AUTHORIZED IF_AUTHORIZED, and so on
stick() { usb_device "$1" "$3" "$D_STICK" "$2" "QEMU USB HARDDRIVE"; usb_interface "$1" 0 "$4" 08 06 50; }
keyboard() { usb_device "$1" "$2" "$D_KEYBOARD" 42 "QEMU USB Keyboard"; usb_interface "$1" 0 "$3" 03 01 01; }
phone() { usb_device "$1" "$2" "$D_PHONE" "" "QEMU MTP"; usb_interface "$1" 0 "$3" 06 01 01; }
hub() { usb_device "$1" "$2" "$D_HUB" "" "USB Hub"; usb_interface "$1" 0 "$3" 09 00 00; }
# combo DEVPATH SERIAL AUTHORIZED STORAGE_IF_AUTHORIZED HID_IF_AUTHORIZED
combo() {
        usb_device "$1" "$3" "$D_COMBO" "$2" "Ultra Fit"
        usb_interface "$1" 0 "$4" 08 06 50
        usb_interface "$1" 1 "$5" 03 01 01
}

STICK=$HC1/1-1 KEYBOARD=$HC1/1-2 PHONE=$HC1/1-3 COMBO=$HC2/2-1 OTHER=$HC1/1-4 HOTPLUG=$HC1/1-5
SERIAL_A=KYOKA-STICK-1 SERIAL_B=KYOKA-STICK-2

# --- policies -------------------------------------------------------------------------------
# usb_entry PERMIT VENDOR PRODUCT SERIAL [INTERFACES [UNLISTED]]: one entry of the usb list.
usb_entry() {
        printf '    {\n        permit = "%s";\n        vendor = "%s"; product = "%s"; serial = "%s";\n' "$1" "$2" "$3" "$4"
        [ -n "${5:-}" ] && printf '        interfaces = [ %s ];\n' "$5"
        [ -n "${6:-}" ] && printf '        unlisted_interfaces = "%s";\n' "$6"
        printf '        approved_by = "情報政策課 山田 太郎";\n        approved_on = "2026-11-20";\n    }'
}
# policy FILE SERIAL USB_HID [ENTRY...]: writes a policy and signs it with the trusted key.
policy() {
        local file=$1 serial=$2 hid=$3 sep="" e
        shift 3
        {
                printf 'kyoka_policy = 1;\nserial = %s;\nissued = "2026-11-20";\n' "$serial"
                printf 'issuer = "木更津市 総務部 情報政策課";\ncontract = "令和8年度 契約第123号";\n'
                printf 'defaults = { usb_hid = "%s"; usb_hub = "allow"; usb_other = "block"; network = "block"; };\n' "$hid"
                printf 'usb = (\n'
                for e in "$@"; do printf '%s%s' "$sep" "$e"; sep=$',\n'; done
                printf '\n);\n'
        } >"$file"
        openssl pkeyutl -sign -inkey "$scratch/admin.key" -rawin -in "$file" -out "$file.sig"
}

# --- one kyokad in one testbed --------------------------------------------------------------
# case_begin NAME DEVICES...: a fresh testbed holding the controllers (unless NO_CONTROLLERS is
# set) and DEVICES (shell commands printing device descriptions), fresh config and state dirs
# (keys.d with the trusted key). kyokad is not started yet.
case_begin() {
        name=$1
        shift
        dir=$scratch/$name
        mkdir -p "$dir/config/keys.d" "$dir/state" "$dir/run"
        cp "$scratch/admin.pub" "$dir/config/keys.d/"
        { [ -n "${NO_CONTROLLERS:-}" ] || controllers; for d in "$@"; do eval "$d"; done; } >"$dir/devices.umockdev"
        # The driver runs under the preload too: umockdev's uevent sender looks the device up
        # by its /sys path.
        coproc DRV { exec umockdev-wrapper "$driver"; }
        drv_pid=$DRV_PID
        local line
        read -r -t 10 -u "${DRV[0]}" line && [ "${line%% *}" = root ] || { echo "# driver did not start"; return 1; }
        root=${line#root }
        sys=$root/sys
        drv load "$dir/devices.umockdev"
}

# drv COMMAND...: one command to the driver; fails unless it answers "ok".
drv() {
        local answer
        echo "$*" >&"${DRV[1]}"
        read -r -t 10 -u "${DRV[0]}" answer || { echo "# driver: no answer to '$*'"; return 1; }
        [ "$answer" = ok ] || { echo "# driver: $answer"; return 1; }
}

start_kyokad() {
        start_kyokad_async &&
                # Devices present at start are decided before kyokad says it is ready.
                wait_log "kyokad ready"
}
start_kyokad_async() {
        : >"$dir/kyokad.log"
        UMOCKDEV_DIR=$root LD_PRELOAD=$preload ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
                "$kyokad" --config-dir "$dir/config" --state-dir "$dir/state" --runtime-dir "$dir/run" \
                --udev-events udev --network off --debug >>"$dir/kyokad.log" 2>&1 7>&- &
        kyokad_pid=$!
}

# Stops kyokad with SIGTERM and the driver; fails if kyokad did not exit 0 or a sanitizer spoke.
case_end() {
        local rc=0 status
        if [ -n "$kyokad_pid" ]; then
                kill -TERM "$kyokad_pid" 2>/dev/null
                wait "$kyokad_pid"
                status=$?
                kyokad_pid=
                [ "$status" -eq 0 ] || { echo "# kyokad exited with status $status"; rc=1; }
        fi
        if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$dir/kyokad.log"; then
                echo "# sanitizer report in $dir/kyokad.log"
                rc=1
        fi
        if [ -n "$drv_pid" ]; then
                echo quit >&"${DRV[1]}"
                wait "$drv_pid" 2>/dev/null
                drv_pid=
        fi
        [ "$rc" -eq 0 ] || sed 's/^/#   /' "$dir/kyokad.log"
        return $rc
}

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds, for at most TIMEOUT seconds.
wait_for() {
        local what=$1 i
        shift
        for ((i = 0; i < TIMEOUT * 20; i++)); do
                "$@" && return 0
                sleep 0.05
        done
        "$@" && return 0
        echo "# timed out waiting for: $what"
        return 1
}

attr_is() { [ "$(cat "$sys$1" 2>/dev/null)" = "$2" ]; }
# wait_attr DEVPATH/ATTRIBUTE VALUE
wait_attr() {
        wait_for "$1 = $2" attr_is "$1" "$2" ||
                { echo "#   now: '$(cat "$sys$1" 2>/dev/null)'"; return 1; }
}
# expect_attr DEVPATH/ATTRIBUTE VALUE: for a state that must already hold (after a sync point).
expect_attr() {
        attr_is "$1" "$2" && return 0
        echo "# $1 is '$(cat "$sys$1" 2>/dev/null)', expected '$2'"
        return 1
}
# A refused policy is logged as "fault policy-refused", or "fault policy-fallback" when kyokad
# falls back to its copy of the last accepted one.
refusals_at_least() { [ "$(grep -cE "fault policy-(refused|fallback)" "$dir/kyokad.log")" -ge "$1" ]; }
log_has() { grep -qF -- "$1" "$dir/kyokad.log"; }
wait_log() { wait_for "kyokad to log '$1'" log_has "$1"; }
# The decision kyokad logged for SYSNAME ("connected" or "re-evaluated"), as a sync point.
wait_decision() { wait_log "usb $1 ${2##*/} "; }

ifc() { echo "$1/${1##*/}:1.$2/authorized"; }

# A case that stopped half-way: show kyokad's log, stop what it started.
case_abort() {
        [ -n "$kyokad_pid$drv_pid" ] || return
        [ -f "${dir:-}/kyokad.log" ] && sed 's/^/#   /' "$dir/kyokad.log"
        [ -n "$kyokad_pid" ] && kill -KILL "$kyokad_pid" 2>/dev/null
        [ -n "$drv_pid" ] && kill -KILL "$drv_pid" 2>/dev/null
        wait 2>/dev/null
}

# run_case NAME FUNCTION: FUNCTION runs the case in a subshell (its steps chained with &&), so
# each case has its own testbed, kyokad and driver.
run_case() {
        if ( trap case_abort EXIT; "$2" ); then ok "$1"; else not_ok "$1"; fi
}

# --- cases ----------------------------------------------------------------------------------
POLICY_A="$(usb_entry 許可-0001 46f4 0001 "$SERIAL_A")"

t_controllers_closed_at_start() {
        case_begin controllers "stick $STICK $SERIAL_A 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                expect_attr $HC1/authorized_default 0 &&
                expect_attr $HC1/interface_authorized_default 0 &&
                expect_attr $HC2/authorized_default 0 &&
                expect_attr $HC2/interface_authorized_default 0 &&
                expect_attr $HC1/authorized 1 &&
                case_end
}

# The stick, a keyboard, a phone, an unapproved stick and the hot-plugged ones, one policy.
t_signed_policy() {
        case_begin signed "stick $STICK $SERIAL_A 0 0" "keyboard $KEYBOARD 0 0" "phone $PHONE 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                log_has "policy loaded" &&
                echo "# approved stick present at start" &&
                expect_attr $STICK/authorized 1 && expect_attr "$(ifc $STICK 0)" 1 &&
                echo "# keyboard (usb_hid = allow)" &&
                expect_attr $KEYBOARD/authorized 1 && expect_attr "$(ifc $KEYBOARD 0)" 1 &&
                echo "# phone (usb-mtp, 06:01:01)" &&
                wait_decision connected $PHONE && expect_attr $PHONE/authorized 0 &&
                echo "# hot-plugged stick with another serial: add, then bind" &&
                stick $HOTPLUG $SERIAL_B 0 0 >"$dir/hotplug.umockdev" && drv load "$dir/hotplug.umockdev" &&
                drv uevent /sys$HOTPLUG bind &&
                wait_decision connected $HOTPLUG && expect_attr $HOTPLUG/authorized 0 &&
                expect_attr "$(ifc $HOTPLUG 0)" 0 &&
                echo "# hot-plugged approved stick: nothing on add, authorized on bind" &&
                stick $OTHER $SERIAL_A 0 0 >"$dir/hotplug2.umockdev" && drv load "$dir/hotplug2.umockdev" &&
                echo "#   (a keyboard plugged after it is the sync point: uevents come in order)" &&
                keyboard $HC1/1-6 0 0 >"$dir/hotplug3.umockdev" && drv load "$dir/hotplug3.umockdev" &&
                drv uevent /sys$HC1/1-6 bind && wait_attr $HC1/1-6/authorized 1 &&
                expect_attr $OTHER/authorized 0 &&
                drv uevent /sys$OTHER bind &&
                wait_attr $OTHER/authorized 1 && wait_attr "$(ifc $OTHER 0)" 1 &&
                case_end
}

# kyokad says it is ready once the devices present are decided and enforced (docs/kyokad.md,
# THE UNIT): from its own trace (KYOKAD_TRACE, one stderr with the log), the stick's and the
# keyboard's sysfs writes end (apply-done) before the "kyokad ready" line. (It said ready as
# soon as their identity reads were queued: a check of authorized right after ready flaked.)
line_of() { grep -n -m1 -- "$1" "$dir/kyokad.log" | cut -d: -f1; }
t_present_devices_enforced_before_ready() {
        case_begin ready "stick $STICK $SERIAL_A 0 0" "keyboard $KEYBOARD 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                KYOKAD_TRACE=1 start_kyokad &&
                local ready stick keyboard &&
                ready=$(line_of "kyokad ready") &&
                stick=$(line_of " ${STICK##*/} apply-done") && keyboard=$(line_of " ${KEYBOARD##*/} apply-done") &&
                echo "# log lines: stick apply-done $stick, keyboard apply-done $keyboard, ready $ready" &&
                [ -n "$stick" ] && [ -n "$keyboard" ] && [ "$stick" -lt "$ready" ] && [ "$keyboard" -lt "$ready" ] &&
                expect_attr $STICK/authorized 1 && expect_attr $KEYBOARD/authorized 1 &&
                case_end
}

t_keyboard_blocked_by_usb_hid_block() {
        # The keyboard was usable before kyokad started: kyokad must take it away.
        case_begin hid-block "keyboard $KEYBOARD 1 1" "stick $STICK $SERIAL_A 0 0" &&
                policy "$dir/config/policy.conf" 1 block "$POLICY_A" &&
                start_kyokad &&
                expect_attr $KEYBOARD/authorized 0 &&
                expect_attr $STICK/authorized 1 &&
                case_end
}

t_composite_with_storage_only_entry_blocked() {
        # A stick that is also a keyboard, approved as storage only: the whole device is blocked.
        case_begin combo-block "combo $COMBO COMBO-1 0 0 0" "keyboard $KEYBOARD 0 0" &&
                policy "$dir/config/policy.conf" 1 allow \
                        "$(usb_entry 許可-0002 0781 5581 COMBO-1 '"08:06:50"')" &&
                start_kyokad &&
                wait_decision connected $COMBO &&
                expect_attr $COMBO/authorized 0 &&
                expect_attr "$(ifc $COMBO 0)" 0 && expect_attr "$(ifc $COMBO 1)" 0 &&
                case_end
}

t_composite_with_unlisted_disable() {
        # The same device with unlisted_interfaces = "disable": storage on, its keyboard off. The
        # HID interface starts authorised so that its 0 is kyokad's doing.
        case_begin combo-disable "combo $COMBO COMBO-1 0 0 1" &&
                policy "$dir/config/policy.conf" 1 allow \
                        "$(usb_entry 許可-0002 0781 5581 COMBO-1 '"08:06:50"' disable)" &&
                start_kyokad &&
                expect_attr $COMBO/authorized 1 &&
                expect_attr "$(ifc $COMBO 0)" 1 &&
                expect_attr "$(ifc $COMBO 1)" 0 &&
                case_end
}

t_no_policy_lockdown() {
        case_begin no-policy "stick $STICK $SERIAL_A 0 0" "keyboard $KEYBOARD 0 0" "phone $PHONE 0 0" &&
                rm -f "$dir"/config/keys.d/*.pub &&
                start_kyokad &&
                log_has "built-in lockdown" &&
                expect_attr $HC1/authorized_default 0 &&
                expect_attr $KEYBOARD/authorized 1 && expect_attr "$(ifc $KEYBOARD 0)" 1 &&
                expect_attr $STICK/authorized 0 &&
                expect_attr $PHONE/authorized 0 &&
                case_end
}

t_tampered_policy_refused() {
        # One byte changed after signing: the approved serial becomes the attacker's stick's.
        case_begin tampered "stick $STICK $SERIAL_A 0 0" "stick $OTHER $SERIAL_B 0 0" "keyboard $KEYBOARD 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                cp "$dir/config/policy.conf" "$dir/signed.conf" &&
                sed -i "s/$SERIAL_A/$SERIAL_B/" "$dir/config/policy.conf" &&
                [ "$(cmp -l "$dir/signed.conf" "$dir/config/policy.conf" | wc -l)" -eq 1 ] &&
                start_kyokad &&
                refusals_at_least 1 && log_has "built-in lockdown" &&
                expect_attr $STICK/authorized 0 &&
                expect_attr $OTHER/authorized 0 &&
                expect_attr $KEYBOARD/authorized 1 &&
                case_end
}

t_sighup_approves_and_revokes() {
        local conf
        case_begin reload "stick $STICK $SERIAL_A 0 0" "stick $OTHER $SERIAL_B 0 0" &&
                conf=$dir/config/policy.conf &&
                policy "$conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                expect_attr $STICK/authorized 1 && expect_attr $OTHER/authorized 0 &&
                echo "# serial 2 approves the blocked stick: usable without a uevent" &&
                policy "$conf" 2 allow "$POLICY_A" "$(usb_entry 許可-0003 46f4 0001 $SERIAL_B)" &&
                kill -HUP "$kyokad_pid" &&
                wait_attr $OTHER/authorized 1 && wait_attr "$(ifc $OTHER 0)" 1 &&
                expect_attr $STICK/authorized 1 &&
                echo "# a tampered serial 3 is refused: serial 2 stays in force" &&
                policy "$conf" 3 allow "$POLICY_A" &&
                sed -i 's/^serial = 3;/serial = 4;/' "$conf" &&
                kill -HUP "$kyokad_pid" &&
                wait_for "a refusal" refusals_at_least 1 &&
                expect_attr $OTHER/authorized 1 && expect_attr $STICK/authorized 1 &&
                echo "# serial 3 revokes it: de-authorised at once" &&
                policy "$conf" 3 allow "$POLICY_A" &&
                kill -HUP "$kyokad_pid" &&
                wait_attr $OTHER/authorized 0 &&
                expect_attr $STICK/authorized 1 &&
                echo "# rolling back to serial 2 is refused" &&
                policy "$conf" 2 allow "$POLICY_A" "$(usb_entry 許可-0003 46f4 0001 $SERIAL_B)" &&
                kill -HUP "$kyokad_pid" &&
                wait_for "a second refusal" refusals_at_least 2 &&
                expect_attr $OTHER/authorized 0 &&
                case_end
}

t_preauthorized_unapproved_device_taken_off() {
        # Authorised before kyokad ran (say, kyokad was not installed yet) but not approved.
        case_begin preauthorized "stick $OTHER $SERIAL_B 1 1" "phone $PHONE 1 1" "stick $STICK $SERIAL_A 1 1" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                expect_attr $OTHER/authorized 0 &&
                expect_attr $PHONE/authorized 0 &&
                expect_attr $STICK/authorized 1 && expect_attr "$(ifc $STICK 0)" 1 &&
                case_end
}

t_unplug_and_replug_other_device() {
        # The approved stick leaves; a phone arrives at the same port: it is a new device.
        case_begin replug "stick $STICK $SERIAL_A 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                expect_attr $STICK/authorized 1 &&
                drv uevent /sys$STICK remove && drv remove /sys$STICK &&
                wait_log "usb removed 1-1 " &&
                phone $STICK 0 0 >"$dir/phone.umockdev" && drv load "$dir/phone.umockdev" &&
                drv uevent /sys$STICK bind &&
                wait_log "usb connected 1-1 46f4:0004" &&
                expect_attr $STICK/authorized 0 &&
                echo "# and the stick again" &&
                drv uevent /sys$STICK remove && drv remove /sys$STICK &&
                stick $STICK $SERIAL_A 0 0 >"$dir/stick.umockdev" && drv load "$dir/stick.umockdev" &&
                drv uevent /sys$STICK bind &&
                wait_attr $STICK/authorized 1 && wait_attr "$(ifc $STICK 0)" 1 &&
                case_end
}

t_time_window() {
        # valid_from and valid_until a few seconds ahead: kyokad's timer, not a uevent, turns the
        # stick on and off again.
        local now from until
        now=$(date +%s) &&
                from=$(date -u -d "@$((now + 3))" +%Y-%m-%dT%H:%M:%SZ) &&
                until=$(date -u -d "@$((now + 5))" +%Y-%m-%dT%H:%M:%SZ) &&
                case_begin window "stick $STICK $SERIAL_A 0 0" &&
                policy "$dir/config/policy.conf" 1 allow \
                        "$(usb_entry 許可-0004 46f4 0001 $SERIAL_A | sed "s/^    }$/        valid_from = \"$from\"; valid_until = \"$until\";\n    }/")" &&
                start_kyokad &&
                expect_attr $STICK/authorized 0 &&
                wait_attr $STICK/authorized 1 && wait_attr "$(ifc $STICK 0)" 1 &&
                wait_attr $STICK/authorized 0 &&
                case_end
}

t_hub() {
        # An external hub is a device like any other (default usb_hub = allow); what is behind it
        # is decided in turn.
        case_begin hub "hub $HC1/1-3 0 0" "stick $HC1/1-3/1-3.1 $SERIAL_A 0 0" "stick $HC1/1-3/1-3.2 $SERIAL_B 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                expect_attr $HC1/1-3/authorized 1 && expect_attr "$(ifc $HC1/1-3 0)" 1 &&
                expect_attr $HC1/1-3/1-3.1/authorized 1 &&
                wait_decision connected $HC1/1-3/1-3.2 && expect_attr $HC1/1-3/1-3.2/authorized 0 &&
                case_end
}

t_hostile_device_data() {
        # Truncated descriptors (authorised before kyokad ran), and a serial with an escape
        # sequence and invalid UTF-8 that claims to be the approved one.
        local hostile
        hostile=$(printf '%s' "$SERIAL_A" | od -An -tx1 | tr -d ' \n')1b5b33316dff
        case_begin hostile "usb_device $STICK 1 ${D_STICK:0:70} $SERIAL_A 'QEMU USB HARDDRIVE'" \
                "usb_device $OTHER 0 $D_STICK '' 'QEMU USB HARDDRIVE' $hostile" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                expect_attr $STICK/authorized 0 &&
                log_has "descriptors unreadable or malformed" &&
                wait_decision connected $OTHER && expect_attr $OTHER/authorized 0 &&
                ! LC_ALL=C grep -q $'[\x1b\xff]' "$dir/kyokad.log" &&
                case_end
}

t_policy_expiry() {
        # The policy's own valid_until passes while kyokad runs: the built-in lockdown applies.
        local until
        until=$(date -u -d "@$(($(date +%s) + 3))" +%Y-%m-%dT%H:%M:%SZ) &&
                case_begin expiry "stick $STICK $SERIAL_A 0 0" "keyboard $KEYBOARD 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                sed -i "s/^contract = .*/&\nvalid_until = \"$until\";/" "$dir/config/policy.conf" &&
                openssl pkeyutl -sign -inkey "$scratch/admin.key" -rawin -in "$dir/config/policy.conf" \
                        -out "$dir/config/policy.conf.sig" &&
                start_kyokad &&
                expect_attr $STICK/authorized 1 && expect_attr $KEYBOARD/authorized 1 &&
                wait_attr $STICK/authorized 0 &&
                wait_log "policy expired" &&
                expect_attr $KEYBOARD/authorized 1 &&
                case_end
}

t_controllers_closed_before_any_decision() {
        # Regression: the enumeration closed each controller only when it reached it in syspath
        # order, so usb2 stayed open while the devices of usb1 were being decided. The stick's
        # descriptors are a FIFO here: kyokad stops on it, and usb2 must be closed by then.
        local fifo seen
        case_begin order "stick $STICK $SERIAL_A 0 0" &&
                fifo=$sys$STICK/descriptors seen=$dir/usb2-while-deciding &&
                rm "$fifo" && mkfifo "$fifo" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad_async &&
                timeout "$TIMEOUT" bash -c 'exec 3>"$1"; cat "$2" >"$3"; printf "%s" "$4" | xxd -r -p >&3' _ \
                        "$fifo" "$sys$HC2/authorized_default" "$seen" "$D_STICK" &&
                wait_log "kyokad ready" &&
                { [ "$(cat "$seen")" = 0 ] || { echo "# usb2 authorized_default was '$(cat "$seen")' while usb1's stick was decided"; false; }; } &&
                # The stick's identity arrives through the FIFO as kyokad gets ready: its decision
                # may be logged after "kyokad ready" (it was, in both orders, under load).
                wait_decision connected $STICK &&
                expect_attr $STICK/authorized 1 &&
                case_end
}

# kyokad must sleep while a device's identity is pending: regression for a timer armed at
# "now" for an undecided device, which spun the loop (a whole core) until the read returned.
# The bound is loose on purpose (a spinning loop uses ~100 ticks a second).
idle_while_waiting() {
        local before after
        before=$(awk '{ print $14 + $15 }' "/proc/$kyokad_pid/stat") && sleep 2 &&
                after=$(awk '{ print $14 + $15 }' "/proc/$kyokad_pid/stat") &&
                { [ $((after - before)) -lt 50 ] ||
                        { echo "# kyokad used $((after - before)) clock ticks in 2 s while waiting"; false; }; }
}

t_hung_device_does_not_stall_others() {
        # Regression: kyokad read sysfs on its event loop, so one device whose descriptors
        # never answer (a FIFO here) held up every other decision. The keyboard must be decided
        # while the stick's read hangs; the stick once it answers. The test holds the FIFO's
        # write end open so that kyokad's open() returns and its read() hangs: umockdev's
        # preload serialises open() calls, which would hang every thread in this mock only.
        local fifo rc=0
        case_begin hung "stick $STICK $SERIAL_A 0 0" "keyboard $KEYBOARD 0 0" &&
                fifo=$sys$STICK/descriptors &&
                rm "$fifo" && mkfifo "$fifo" &&
                exec 7<>"$fifo" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad_async &&
                wait_attr $KEYBOARD/authorized 1 &&
                expect_attr $STICK/authorized 0 &&
                idle_while_waiting &&
                printf '%s' "$D_STICK" | xxd -r -p >&7 && exec 7>&- &&
                wait_attr $STICK/authorized 1 &&
                case_end || rc=1
        exec 7>&- 2>/dev/null
        return $rc
}

t_recorded_devices() {
        # umockdev-record trees of QEMU's usb-storage (serial KYOKA-STICK-1), usb-kbd and usb-mtp,
        # recorded unauthorised on a real kernel (tests/vm/record-fixtures.py): no interface
        # directories, as the kernel has them. The recordings share their parents: each device
        # (paragraph) is loaded once. The controllers are opened first, so that closing them is
        # kyokad's doing.
        local rec=$data/usb hc
        for f in usb-storage usb-kbd usb-mtp; do
                [ -f "$rec/$f-unauthorized.umockdev" ] || { echo "# missing fixture $rec/$f-unauthorized.umockdev"; return 1; }
        done
        NO_CONTROLLERS=1 case_begin recorded &&
                awk 'BEGIN { RS = ""; ORS = "\n\n" } { split($0, l, "\n"); if (!(l[1] in seen)) { seen[l[1]] = 1; print } }' \
                        "$rec"/usb-{storage,kbd,mtp}-unauthorized.umockdev >"$dir/recorded.umockdev" &&
                drv load "$dir/recorded.umockdev" &&
                for hc in usb1 usb2; do
                        drv attr /sys/devices/pci0000:00/0000:00:01.0/$hc authorized_default 1 || return 1
                done &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                for hc in usb1 usb2; do
                        expect_attr /devices/pci0000:00/0000:00:01.0/$hc/authorized_default 0 &&
                                expect_attr /devices/pci0000:00/0000:00:01.0/$hc/interface_authorized_default 0 || return 1
                done &&
                expect_attr /devices/pci0000:00/0000:00:01.0/usb2/2-1/authorized 1 &&
                expect_attr /devices/pci0000:00/0000:00:01.0/usb1/1-4/authorized 1 &&
                wait_decision connected /devices/pci0000:00/0000:00:01.0/usb1/1-6 &&
                expect_attr /devices/pci0000:00/0000:00:01.0/usb1/1-6/authorized 0 &&
                case_end
}

# test-kyokad-ledger.sh sources this file for its testbeds and helpers, then runs its own cases.
[ -n "${KYOKA_UMOCKDEV_SOURCED:-}" ] && return 0

run_case "kyokad closes every controller at start" t_controllers_closed_at_start
run_case "a device whose sysfs reads hang does not stall the others" t_hung_device_does_not_stall_others
run_case "recorded QEMU stick (approved), keyboard and phone" t_recorded_devices
run_case "signed policy: approved stick, keyboard, phone, hot-plugged sticks" t_signed_policy
run_case "devices present at start are enforced before kyokad is ready" t_present_devices_enforced_before_ready
run_case "usb_hid = block takes a keyboard off" t_keyboard_blocked_by_usb_hid_block
run_case "stick+keyboard with an entry for 08:06:50 only is blocked" t_composite_with_storage_only_entry_blocked
run_case "stick+keyboard with unlisted_interfaces = disable: storage on, HID off" t_composite_with_unlisted_disable
run_case "no policy: lockdown (keyboard yes, stick and phone no)" t_no_policy_lockdown
run_case "tampered policy is refused: lockdown" t_tampered_policy_refused
run_case "SIGHUP: approve, refuse tampered, revoke, refuse rollback" t_sighup_approves_and_revokes
run_case "devices authorised before kyokad started are decided" t_preauthorized_unapproved_device_taken_off
run_case "unplug, another device at the same port, replug" t_unplug_and_replug_other_device
run_case "time window: allowed at valid_from, taken off at valid_until" t_time_window
run_case "hub allowed, the devices behind it decided each" t_hub
run_case "malformed descriptors and a hostile serial are blocked, logged safely" t_hostile_device_data
run_case "policy expiry while running: lockdown" t_policy_expiry
run_case "every controller is closed before any device is decided" t_controllers_closed_before_any_decision

echo "kyokad-umockdev: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
