#!/usr/bin/env bash
# The weekly submission from records that real kyokad wrote (issue 12). kyokad runs under
# umockdev (USB) inside a network namespace of its own (network links), with a signed policy
# that names the contractor and its responsible person, through the README's flagship case and
# the rest of a working week: an approved stick used and removed; a stick blocked, its request
# approved by the city, installed, and working without a replug; a stick whose descriptor
# strings attack a spreadsheet; a phone; a veth link blocked and set up again and again (a
# burst of violations), loopback; a policy.conf that fails its signature (kyokad keeps the last
# accepted one); kyokad killed and started again. Then, as the contractor and the city would:
# policyctl export (CSV, JSON, HTML, PDF), verify-export (one week and across weeks, a missing
# week, a ledger started afresh), collect, and the documents checked as a person reads them:
# the CSVs read back by Python and converted by LibreOffice (dates are dates, serials and
# permits text), the PDF's fonts embedded (pdffonts) and its pages as pictures (pdftoppm,
# kept in BUILD/test-artifacts/).
#
# Usage: test-kyokad-export.sh BUILD [--record DIR]
#   --record DIR: also copy the ledger and the policy kyokad used into DIR (the goldens of
#   tests/unit/test-ledger-export.c: tests/data/export/real/, regenerated with
#   tests/data/export/record-real.sh).
set -u

record=
if [ "${2:-}" = --record ]; then
        record=$(realpath "${3:?--record DIR}")
        set -- "$1"
fi
KYOKA_UMOCKDEV_SOURCED=1
# shellcheck source=test-kyokad-umockdev.sh
. "$(dirname "$0")/test-kyokad-umockdev.sh" "$@" || exit 1
P=$build/policyctl
artifacts=$build/test-artifacts
export TZ=Asia/Tokyo LC_ALL=C.UTF-8
for t in python3 ip; do
        command -v "$t" >/dev/null || { echo "not ok - $t is missing"; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "not ok - needs root (a network namespace)"; exit 1; }
mkdir -p "$artifacts"

netns=kyoka-export-$$
cleanup_export() {
        ip netns del "$netns" 2>/dev/null
        cleanup
}
trap cleanup_export EXIT
ip netns add "$netns" || { echo "not ok - ip netns add"; exit 1; }
N() { ip netns exec "$netns" "$@"; }

ISSUER="木更津市 総務部 情報政策課"
CONTRACT="令和8年度 契約第123号 住民情報システム運用保守業務委託"
CONTRACTOR="株式会社かずさシステム"
RESPONSIBLE="情報管理責任者 技術部長 鈴木 一郎"
APPROVER="情報政策課 山田 太郎"
SERIAL_DIGITS=0001234567           # an all-digit serial: must stay text in a spreadsheet
PERMIT_DIGITS=2026017              # an all-digit permit number, likewise

# The stick whose descriptor strings attack whoever opens the CSV (formula, escape sequences).
hostile() {
        hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
        printf 'P: %s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: ID_PATH=pci-0000:00:14.0-usb-0:%s\n' "$1" "${1##*-}"
        printf 'A: authorized=0\\n\nA: idVendor=46f4\\n\nA: idProduct=0001\\n\nA: serial=+SUM(1)\\n\n'
        printf 'H: manufacturer=%s0a\nH: product=%s0a\nH: descriptors=%s\n\n' "$(hex "=cmd|' /C calc'!A0")" \
                "$(hex $'Evil\033[2J\r\nStick \xe2\x80\xae''fdp.exe')" "$D_STICK"
        usb_interface "$1" 0 0 08 06 50
}

# policy_header FILE SERIAL: the header of every policy of this test.
policy_header() {
        printf 'kyoka_policy = 1;\nserial = %s;\nissued = "2026-11-20";\nissuer = "%s";\ncontract = "%s";\n' \
                "$2" "$ISSUER" "$CONTRACT" >"$1"
        printf 'contractor = "%s";\nresponsible = "%s";\n' "$CONTRACTOR" "$RESPONSIBLE" >>"$1"
        printf 'defaults = { usb_hid = "allow"; usb_hub = "allow"; usb_other = "block"; network = "block"; };\n' >>"$1"
}

pc() { "$P" --config-dir "$dir/config" --state-dir "$dir/state" --runtime-dir "$dir/run" "$@"; }

start_kyokad_netns() {
        : >>"$dir/kyokad.log"
        ip netns exec "$netns" env UMOCKDEV_DIR="$root" LD_PRELOAD="$preload" \
                ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
                "$kyokad" --config-dir "$dir/config" --state-dir "$dir/state" --runtime-dir "$dir/run" \
                --udev-events udev --debug >>"$dir/kyokad.log" 2>&1 7>&- &
        kyokad_pid=$!
        wait_for "kyokad ready" grep -q "kyokad ready" "$dir/kyokad.log"
}

# ---- a working week, recorded by real kyokad -------------------------------------------------
STICK_B=$HC1/1-5 EVIL=$HC1/1-6
week_of_records() {
        case_begin export "keyboard $KEYBOARD 0 0" "stick $STICK $SERIAL_A 0 0" || return 1
        # As a kernel has it: a driver is bound when kyokad asks (writes land in the testbed).
        mkdir -p "$sys/bus/usb" && : >"$sys/bus/usb/drivers_probe" || return 1
        # The city's policy, signed: stick A for delivery data, one more read-only.
        mkdir -p "$dir/approver" && cp "$scratch/admin.key" "$dir/approver/approver.key" &&
                cp "$scratch/admin.pub" "$dir/approver/approver.pub" || return 1
        rm -f "$dir/config/keys.d/admin.pub" && cp "$scratch/admin.pub" "$dir/config/keys.d/approver.pub"
        local pol=$dir/approver/policy.conf
        policy_header "$pol" 1
        printf 'usb = ( {\n permit = "許可-2026-001"; vendor = "46f4"; product = "0001"; serial = "%s";\n' "$SERIAL_A" >>"$pol"
        printf ' interfaces = [ "08:06:50" ]; label = "納品用USBメモリ"; purpose = "納品データの受け渡し";\n' >>"$pol"
        printf ' holder = "%s 佐藤 花子"; approved_by = "%s"; approved_on = "2026-11-20"; } );\n' "$CONTRACTOR" "$APPROVER" >>"$pol"
        (cd "$dir/approver" && "$P" sign --key approver.key policy.conf >/dev/null) || return 1
        cp "$pol" "$pol.sig" "$dir/config/" || return 1
        N ip link set lo up
        start_kyokad_netns || return 1
        wait_decision connected $STICK && wait_decision connected $KEYBOARD || return 1
        expect_attr $STICK/authorized 1 || return 1

        echo "# a veth link appears: blocked; set up 60 times: each time set down again (a burst)"
        N ip link add vx0 address 02:00:00:00:00:0e type veth peer name vx0p || return 1
        wait_log "net appeared" || return 1
        for _ in $(seq 60); do N ip link set vx0 up 2>/dev/null; done
        wait_log "net violation" || return 1

        echo "# the flagship case: a stick blocked, requested, approved, installed: works without a replug"
        usb_device "$STICK_B" 0 "$D_STICK" "$SERIAL_DIGITS" "QEMU USB HARDDRIVE" >"$dir/b.umockdev" &&
                usb_interface "$STICK_B" 0 0 08 06 50 >>"$dir/b.umockdev" &&
                drv load "$dir/b.umockdev" && drv uevent "/sys$STICK_B" bind && wait_decision connected $STICK_B &&
                expect_attr $STICK_B/authorized 0 || return 1
        pc request 1-5 --out "$dir/approver/stick.json" >/dev/null || return 1
        (cd "$dir/approver" &&
                "$P" approve policy.conf --request stick.json --permit "$PERMIT_DIGITS" --by "$APPROVER" \
                        --purpose "障害調査ログの持ち出し" >/dev/null &&
                "$P" sign --key approver.key policy.conf >/dev/null) || return 1
        pc install "$pol" >/dev/null || return 1
        wait_attr $STICK_B/authorized 1 && wait_decision re-evaluated $STICK_B || return 1

        echo "# an attacker's stick and a phone: blocked"
        hostile "$EVIL" >"$dir/evil.umockdev" && drv load "$dir/evil.umockdev" && drv uevent "/sys$EVIL" bind &&
                wait_decision connected $EVIL || return 1
        phone "$PHONE" 0 0 >"$dir/phone.umockdev" && drv load "$dir/phone.umockdev" && drv uevent "/sys$PHONE" bind &&
                wait_decision connected $PHONE || return 1

        echo "# the sticks are removed"
        drv uevent "/sys$STICK_B" remove && drv remove "/sys$STICK_B" && wait_log "usb removed 1-5 " || return 1
        drv uevent "/sys$STICK" remove && drv remove "/sys$STICK" && wait_log "usb removed 1-1 " || return 1

        echo "# policy.conf changed after it was signed: refused, the last accepted policy stays"
        sed -i 's/^serial = 2;/serial = 3;/' "$dir/config/policy.conf" && kill -HUP "$kyokad_pid" &&
                wait_for "a refusal" refusals_at_least 1 || return 1
        echo "# kyokad killed, and started again"
        kill -KILL "$kyokad_pid" && wait "$kyokad_pid" 2>/dev/null
        kyokad_pid=
        cp "$dir/approver/policy.conf" "$dir/approver/policy.conf.sig" "$dir/config/" || return 1
        start_kyokad_netns && wait_log "daemon unclean-shutdown" || return 1
        case_end
}

run_case "kyokad records a working week (umockdev + network namespace)" week_of_records
state=$scratch/export/state
[ -s "$state/ledger.db" ] || { echo "kyokad-export: $pass passed, $((fail + 1)) failed"; exit 1; }
if [ -n "$record" ]; then
        mkdir -p "$record"
        sqlite3 "$state/ledger.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
        cp "$state/ledger.db" "$record/ledger.db"
        cp "$scratch/export/approver/policy.conf" "$scratch/export/approver/policy.conf.sig" \
                "$scratch/export/approver/approver.pub" "$record/"
        date +%G-W%V >"$record/week"
        echo "# recorded into $record"
fi

echo "kyokad-export: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
