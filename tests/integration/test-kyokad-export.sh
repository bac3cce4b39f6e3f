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
        # A log of this run alone: "kyokad ready" below is this run's.
        [ -s "$dir/kyokad.log" ] && cat "$dir/kyokad.log" >>"$dir/kyokad.old.log"
        : >"$dir/kyokad.log"
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

# ---- the contractor's side: export the week ----------------------------------------------------
dir=$scratch/export
x=$scratch/x
mkdir -p "$x"
out() { cat "$x/out" "$x/err" 2>/dev/null | sed 's/^/#   /' | head -20; }
check() { # NAME COMMAND...: ok if COMMAND succeeds
        local name=$1
        shift
        if "$@"; then ok "$name"; else not_ok "$name"; out; fi
}
runx() { rc=0; "$@" >"$x/out" 2>"$x/err" || rc=$?; }
week=$(date +%G-W%V)
prev=$(python3 -c 'import datetime,sys; d=datetime.date.today()-datetime.timedelta(7); y,w,_=d.isocalendar(); print(f"{y}-W{w:02d}")')
next=$(python3 -c 'import datetime,sys; d=datetime.date.today()+datetime.timedelta(7); y,w,_=d.isocalendar(); print(f"{y}-W{w:02d}")')

runx pc export --week "$week" --out "$x/exports"
check "export of the week kyokad recorded (all formats, the PDF by WeasyPrint)" [ "$rc" -eq 0 ]
wd=$(ls -d "$x"/exports/*/"$week" 2>/dev/null | head -1)
host=$(basename "$(dirname "$wd")")
files_ok() { for f in MANIFEST MANIFEST.sig faults.csv media.csv records.jsonl report.html report.pdf usage.csv; do
        [ -s "$wd/$f" ] || { echo "# $f missing"; return 1; }; done; }
check "the folder holds the CSVs, records.jsonl, report.html, report.pdf and the signed MANIFEST" files_ok
runx pc verify-export "$wd"
check "verify-export: good (signature, 6 files, 28 records chain)" grep -q "good: $week, .*6 files match, 28 records chain" "$x/out"
cp -r "$wd" "$x/again-before"
runx pc export --week "$week" --out "$x/exports"
check "the same week exported again gives the same bytes, report.pdf included" diff -r "$wd" "$x/again-before"

# ---- the PDF, as a person sees it --------------------------------------------------------------
pdf_fonts_embedded() {
        pdffonts "$wd/report.pdf" >"$x/fonts" || return 1
        # Every font embedded ("emb" yes), the Japanese one among them.
        awk 'NR > 2 && $(NF-4) != "yes" { bad = 1 } END { exit bad }' "$x/fonts" && grep -q IPAexGothic "$x/fonts"
}
check "report.pdf: every font embedded (pdffonts), IPAexGothic for the Japanese" pdf_fonts_embedded
check "report.pdf is A4" sh -c "pdfinfo '$wd/report.pdf' | grep -q 'Page size: *595.276 x 841.89 pts (A4)'"
pdf_text() {
        pdftotext -layout "$wd/report.pdf" "$x/report.txt" || return 1
        local pages
        pages=$(pdfinfo "$wd/report.pdf" | awk '/^Pages:/ { print $2 }')
        for want in 機器等の使用記録及び障害記録 確認欄 発注者 受注者 株式会社かずさシステム 情報管理責任者 記憶媒体の記録簿 \
                "1 ?/ ?$pages\$" "$pages ?/ ?$pages\$" 様式第3号相当 2026017; do
                grep -qE -- "$want" "$x/report.txt" || { echo "# the PDF's text lacks: $want"; return 1; }
        done
}
check "report.pdf reads as the document: title, header, sign-off box, record book, page numbers N / M" pdf_text
rm -f "$artifacts"/report-page-*.png
pdftoppm -r 80 -png "$wd/report.pdf" "$artifacts/report-page" 2>/dev/null
page_pictures() {
        local first
        first=$(ls "$artifacts"/report-page-*1.png 2>/dev/null | head -1)
        [ -n "$first" ] && [ "$(head -c 8 "$first" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
                [ "$(stat -c %s "$first")" -gt 30000 ]
}
check "report.pdf's pages as pictures (pdftoppm): $artifacts/report-page-1.png" page_pictures

# ---- the CSVs, as a spreadsheet reads them ------------------------------------------------------
# LibreOffice headless, the nearest thing to Excel here, with the import Excel does on a Japanese
# Windows (UTF-8, comma, quotes, language ja-JP): the date column holds dates, serials and permit
# numbers stay text, counts are numbers, no cell is a formula but the text ones kyoka wrote.
libreoffice_types() {
        local home=$x/lo-home
        mkdir -p "$home" "$x/lo"
        HOME=$home timeout 120 soffice --headless --norestore --convert-to fods --outdir "$x/lo" \
                --infilter="CSV:44,34,76,1,,1041" "$wd/usage.csv" "$wd/media.csv" >"$x/lo.log" 2>&1 || return 1
        python3 - "$x/lo/usage.fods" "$x/lo/media.fods" <<'PY'
import re, sys, html
def cells(path):
    s = open(path, encoding="utf-8").read()
    rows = []
    for row in re.findall(r"<table:table-row[^>]*>(.*?)</table:table-row>", s, re.S):
        out = []
        for attrs, body in re.findall(r"<table:table-cell([^>]*?)(?:/>|>(.*?)</table:table-cell>)", row, re.S):
            rep = re.search(r'table:number-columns-repeated="(\d+)"', attrs)
            t = re.search(r'office:value-type="([a-z]+)"', attrs)
            text = html.unescape(re.sub(r"<[^>]+>", "", body or "")).strip()
            sv = re.search(r'office:string-value="([^"]*)"', attrs)
            f = re.search(r'table:formula="([^"]*)"', attrs)
            c = (t.group(1) if t else "", html.unescape(sv.group(1)) if sv else text, html.unescape(f.group(1)) if f else "")
            out += [c] * min(int(rep.group(1)) if rep else 1, 50)
        rows.append(out)
    return rows
u = cells(sys.argv[1])
head = [c[1] for c in u[0]]
col = {name: head.index(name) for name in head if name}
data = [r for r in u[1:] if len(r) > col["記録番号"] and r[col["記録番号"]][0]]
assert len(data) == 23, len(data)
for r in data:
    assert r[col["日時"]][0] == "date", ("日時", r[col["日時"]])
    assert r[col["時差"]] == ("string", "UTC+09:00", ""), r[col["時差"]]
    assert r[col["回数"]][0] == "float" and r[col["記録番号"]][0] == "float", (r[col["回数"]], r[col["記録番号"]])
    for c in r:
        assert not c[2] or re.fullmatch(r'of:="[0-9A-Za-z .:/,()%$+-]*"', c[2]), ("a formula", c)
serials = [r[col["シリアル番号"]] for r in data if r[col["シリアル番号"]][1].endswith("1234567")]
assert serials and all(c[0] == "string" and c[1] == "0001234567" for c in serials), serials
permits = [r[col["許可番号"]] for r in data if r[col["許可番号"]][1] == "2026017"]
assert permits and all(c[0] == "string" for c in permits), permits
ports = [r[col["接続位置"]] for r in data if r[col["接続位置"]][1] == "1-5"]
assert ports and all(c[0] == "string" for c in ports), ports     # not 5 January
evil = [r[col["機器名"]] for r in data if r[col["機器名"]][1].startswith("'=cmd")]
assert evil and all(c[0] == "string" and not c[2] for c in evil), evil
m = cells(sys.argv[2])
mh = [c[1] for c in m[0]]
mrows = [r for r in m[1:] if len(r) > 3 and r[0][0]]
assert len(mrows) == 4 and all(r[0][0] == "date" for r in mrows), mrows
print("# LibreOffice: %d usage rows, dates as dates, 0001234567 and 2026017 as text" % len(data))
PY
}
if command -v soffice >/dev/null; then
        check "LibreOffice reads the CSVs: dates are dates, serials and permits text, counts numbers, no formula" libreoffice_types
else
        not_ok "LibreOffice (soffice) is not installed (make deps)"
fi

# ---- across weeks: the week before and after, a missing week, a ledger started afresh -----------
runx pc export --week "$prev" --out "$x/exports"
runx pc export --week "$next" --out "$x/exports"
W() { echo "$x/exports/$host/$1"; }
runx pc verify-export "$(W "$next")" "$(W "$prev")" "$(W "$week")"
check "verify-export of three weeks: each starts where the one before ended" \
        grep -q "good: 3 weeks, each starting where the one before ended" "$x/out"
runx pc verify-export "$(W "$prev")" "$(W "$next")"
check "verify-export names a missing week and the records missing with it" \
        sh -c "[ $rc -eq 1 ] && grep -q 'continuity: REFUSED: the weeks between $prev and $next are missing, and with them records 1..28' '$x/out'"
cp -r "$(W "$week")" "$x/altered" && sed -i 's/QEMU USB HARDDRIVE/QEMU USB HARDDISK/' "$x/altered/usage.csv"
runx pc verify-export "$(W "$prev")" "$x/altered" "$(W "$next")"
check "verify-export names an altered week, and cannot link through it" \
        sh -c "[ $rc -eq 1 ] && grep -q 'altered: REFUSED: usage.csv: its SHA-256 differs' '$x/out' && grep -q 'cannot be linked through it' '$x/out'"
# The ledger wiped: kyokad starts afresh on an empty state (the export key kept), next week exported.
mv "$dir/state" "$x/old-state" && mkdir -p "$dir/state" && cp "$x/old-state/export.key" "$x/old-state/export.pub" "$dir/state/"
fresh_start() { case_begin fresh "keyboard $KEYBOARD 0 0" && dir=$scratch/export && start_kyokad_netns && case_end; }
( trap case_abort EXIT; fresh_start ) >"$x/fresh.log" 2>&1 || { not_ok "kyokad starts again on a fresh ledger"; sed 's/^/#   /' "$x/fresh.log" | tail -20; }
dir=$scratch/export
runx pc export --week "$next" --out "$x/fresh-exports"
runx pc verify-export "$(W "$week")" "$x/fresh-exports/$host/$next"
check "verify-export names a ledger wiped and started afresh between two exports" \
        sh -c "[ $rc -eq 1 ] && grep -q 'the ledger was wiped and started afresh between them' '$x/out'"

# ---- the city's side: collect -------------------------------------------------------------------
mkdir -p "$x/keys" && cp "$dir/state/export.pub" "$x/keys/$host 出力鍵.pub"
runx "$P" collect --keys "$x/keys" --out "$x/summary" "$x/exports"
check "collect: 3 weeks verified and continuous, summary.csv, summary.html, summary.pdf" \
        sh -c "[ $rc -eq 0 ] && grep -q '1 workstations, 3 weeks, 3 verified and continuous, 0 problems' '$x/out' &&
               [ -s '$x/summary/summary.csv' ] && [ -s '$x/summary/summary.html' ] && pdffonts '$x/summary/summary.pdf' | grep -q IPAexGothic"
rm -f "$artifacts"/summary-page-*.png
pdftoppm -r 80 -png -f 1 -l 1 "$x/summary/summary.pdf" "$artifacts/summary-page" 2>/dev/null
cp -r "$x/exports" "$x/exports2" && rm -rf "$x/exports2/$host/$week" && echo '"x"' >>"$x/exports2/$host/$prev/usage.csv"
runx "$P" collect --keys "$x/keys" --out "$x/summary2" "$x/exports2"
check "collect names an altered week and a missing one, per workstation and week, and still writes the summary" \
        sh -c "[ $rc -eq 1 ] && grep -q '$host $prev' '$x/err' && grep -q '$host $week' '$x/err' && grep -q '欠落' '$x/summary2/summary.csv'"

echo "kyokad-export: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
