#!/usr/bin/env bash
# The ledger and the weekly export end to end, with policyctl: kill -9 during a storm of 10,000
# records (every seq reported committed is there, the chain verifies), tampering of each kind
# found by `ledger verify` and by `verify-export`, the golden CSVs read back with python3's csv
# module (BOM, CRLF, hostile cells, the count column), a ledger.db and an export written before
# the record count (tests/data/export/v1/) read, migrated, exported and verified, and
# report.html rendered by headless Chromium (screenshot in BUILD/test-artifacts/).
# Usage: test-ledger.sh BUILD
set -u
build=$(realpath "${1:?usage: test-ledger.sh BUILD}")
top=$(cd "$(dirname "$0")/../.." && pwd)
P="$build/policyctl"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyoka-ledger.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export TZ=Asia/Tokyo LC_ALL=C.UTF-8
golden="$top/tests/data/export"
artifacts="$build/test-artifacts"
mkdir -p "$artifacts" "$tmp/state"

pass=0 fail=0
pc() { "$P" --config-dir "$tmp/etc" --state-dir "$tmp/state" --runtime-dir "$tmp/run" "$@"; }
run() { rc=0; "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; }
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
	echo "not ok - $1${2:+: $2}"
	sed 's/^/#   out: /' "$tmp/out" 2>/dev/null | head -20
	sed 's/^/#   err: /' "$tmp/err" 2>/dev/null | head -20
	fail=$((fail + 1))
}
expect() {
	local name=$1 want=$2 pattern=${3:-}
	if grep -q 'Sanitizer' "$tmp/err"; then not_ok "$name" "sanitizer report"; return 1; fi
	if [ "$rc" -ne "$want" ]; then not_ok "$name" "exit $rc, expected $want"; return 1; fi
	if [ -n "$pattern" ] && ! cat "$tmp/out" "$tmp/err" | grep -qF -- "$pattern"; then
		not_ok "$name" "output lacks: $pattern"; return 1
	fi
	ok "$name"
}

"$top/bench/ledger.sh" "$build" --build-only || { echo "not ok - build ledger-bench"; exit 1; }
bench="$build/bench/ledger-bench"
db="$tmp/state/ledger.db"

# ---- kill -9 during a storm -----------------------------------------------------------------
"$bench" storm "$db" 10000 25 >"$tmp/seqs" 2>"$tmp/storm.err" &
storm=$!
for _ in $(seq 200); do
	[ "$(wc -l <"$tmp/seqs")" -ge 2000 ] && break
	sleep 0.01
done
kill -9 "$storm" 2>/dev/null
wait "$storm" 2>/dev/null
reported=$(wc -l <"$tmp/seqs")
sqlite3 "$db" 'SELECT seq FROM records ORDER BY seq' >"$tmp/in-db"
missing=$(sort -n "$tmp/seqs" | comm -23 - <(sort -n "$tmp/in-db") | wc -l)
stored=$(wc -l <"$tmp/in-db")
if [ "$reported" -gt 0 ] && [ "$reported" -lt 10000 ] && [ "$missing" -eq 0 ]; then
	ok "kill -9 mid-storm: all $reported reported seqs are in the ledger ($stored stored)"
else
	not_ok "kill -9 mid-storm" "reported=$reported missing=$missing stored=$stored"
fi
run pc ledger verify
expect "ledger verify after kill -9" 0 "chain verifies: $stored records"

# The storm goes on after the crash: the chain continues from the stored tail.
"$bench" storm "$db" 100 10 >/dev/null
run pc ledger verify
expect "appends after the crash continue the chain" 0 "chain verifies: $((stored + 100)) records"

# ---- show -----------------------------------------------------------------------------------
run pc ledger show --json
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq $((stored + 100)) ] && head -1 "$tmp/out" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["seq"]==1 and len(r["hash"])==64'; then
	ok "ledger show --json: one record a line with its hashes"
else not_ok "ledger show --json"; fi
run pc ledger show --since 2000-01-01 --until 2000-01-02
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ]; then ok "ledger show --since/--until selects by time"; else not_ok "ledger show --since/--until"; fi
run pc ledger show --since yesterday
expect "ledger show with a malformed time is a usage error" 2

# ---- export of this week from the live ledger ----------------------------------------------
week=$(date +%G-W%V)
run pc export --week "$week" --out "$tmp/exports"
expect "export the current week (creates the export key)" 0 "$week"
dir=$(ls -d "$tmp"/exports/*/"$week")
run pc verify-export "$dir"
expect "verify-export with the workstation's export.pub" 0 "records chain from start to end hash"
run pc export-key
expect "export-key shows the fingerprint" 0 "fingerprint: "
cp -r "$dir" "$tmp/again"
run pc export --week "$week" --out "$tmp/exports"
if diff -r "$dir" "$tmp/again" >/dev/null; then ok "exporting the same week twice gives the same bytes"
else not_ok "exporting the same week twice gives the same bytes"; fi
run pc export --week 2026-W99 --out "$tmp/exports"
expect "export --week with an impossible week is a usage error" 2
run pc export --week "$week"
expect "export without --out is a usage error" 2

# ---- tampering, found by ledger verify ------------------------------------------------------
tamper_case() {
	local name=$1 sql=$2 pattern=$3
	cp "$db" "$tmp/saved.db"
	sqlite3 "$db" "PRAGMA wal_checkpoint; $sql" >/dev/null
	run pc ledger verify
	expect "ledger verify finds: $name" 1 "$pattern"
	cp "$tmp/saved.db" "$db"; rm -f "$db-wal" "$db-shm"
}
sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
cp "$db" "$tmp/clean.db"
tamper_case "a modified field" "UPDATE records SET serial = 'X' WHERE seq = 50" "CHAIN BROKEN at seq 50"
tamper_case "a deleted row" "DELETE FROM records WHERE seq = 50" "CHAIN BROKEN at seq 51"
tamper_case "an inserted row" "UPDATE records SET seq = -seq WHERE seq >= 50; UPDATE records SET seq = 1 - seq WHERE seq < 0; INSERT INTO records SELECT 50, time, time_nsec, utc_offset, boot_id, hostname, machine_id, subject, event, vendor, product, serial, manufacturer, product_name, bus_path, interfaces, ifname, mac, link_kind, link_path, driver, policy_serial, signer, decision, reason, permit, uid, user, outcome, error_number, message, encoding, prev_hash, hash, count, bus, device_name, device_path, oemid, manufacture_date, wireless_mode, ssid, bssid, security, files, bytes, duration_ms, scanner, signature, file_path, sha256, pid, process FROM records WHERE seq = 49" "CHAIN BROKEN at seq 50"
tamper_case "reordered rows" "UPDATE records SET seq = -1 WHERE seq = 50; UPDATE records SET seq = 50 WHERE seq = 51; UPDATE records SET seq = 51 WHERE seq = -1" "CHAIN BROKEN at seq 50"
tamper_case "a changed seq" "UPDATE records SET seq = 100000 WHERE seq = 50" "CHAIN BROKEN at seq 51"
tamper_case "a changed hash" "UPDATE records SET hash = zeroblob(32) WHERE seq = 50" "CHAIN BROKEN at seq 50"
tamper_case "a changed count" "UPDATE records SET count = 2 WHERE seq = 50" "column count differs"
tamper_case "a changed media field" "UPDATE records SET device_name = 'sdz' WHERE seq = 50" "column device_name differs"

# ---- the golden exports: CSV read back, verify-export, tampering -----------------------------
for lang in ja en; do
	g="$golden/$lang/ws-test01/2026-W47"
	if python3 - "$g" "$lang" <<'PY'
import csv, io, re, sys
d, lang = sys.argv[1], sys.argv[2]
text_formula = re.compile(r'^="[0-9A-Za-z .:/,()%$+-]*"$')   # ours: keeps a value text, computes nothing
for name in ("usage.csv", "faults.csv", "media.csv"):
    raw = open(f"{d}/{name}", "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf"), "no BOM"
    body = raw[3:]
    assert body.count(b"\n") == body.count(b"\r\n") and body.endswith(b"\r\n"), "not CRLF"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    head = rows[0]
    width = 20 if name == "media.csv" else 19   # media.csv: the record book with its files (docs/ledger.md)
    assert len(head) == width and all(len(r) == width for r in rows), "ragged rows"
    assert head[0] == ("日時" if lang == "ja" else "Date and time"), head[0]
    assert head[1] == ("時差" if lang == "ja" else "UTC offset"), head[1]
    for r in rows[1:]:
        assert re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", r[0]), r[0]
        assert r[1] == "UTC+09:00", r[1]
        for c in r:
            assert not any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in c), "control character in %r" % c
            assert c[:1] not in ("+", "-", "@") and (c[:1] != "=" or text_formula.match(c)), "formula cell %r" % c
    if name != "media.csv":
        assert head[16] == ("回数" if lang == "ja" else "Count"), head[16]
        assert all(r[16].isdigit() and int(r[16]) >= 1 for r in rows[1:]), "count not a number >= 1"
usage = list(csv.reader(io.StringIO(open(f"{d}/usage.csv", encoding="utf-8-sig", newline="").read())))
evil = [r for r in usage if r[9].startswith("'=cmd")][0]
assert evil[9] == "'=cmd|' /C calc'!A0 Evil\\x1b[2J\\x0d\\x0aStick \\xe2\\x80\\xaefdp.exe", evil[9]
assert evil[11] == "'+SUM(1)\\xff\\xfe", evil[11]
assert evil[10] == '="1234:5678"', evil[10]          # a spreadsheet would read it as a time
quoted = [r for r in usage if r[9] == "バッファロー RUF3-K32GA"][0]
assert quoted[11] == "'-1234,\"quoted\"", quoted[11]
burst = [r for r in usage if r[18] == "8"][0]
assert burst[16] == "2999" and sum(int(r[16]) for r in usage[1:]) == 3006, burst
print(len(usage) - 1, "usage rows")
PY
	then ok "golden $lang CSVs: BOM, CRLF, one thing a column, dates, parsed by python's csv, hostile cells neutralised, counts"
	else not_ok "golden $lang CSVs read back with python's csv"; fi
	run pc verify-export "$g" --key "$golden/export.pub"
	expect "verify-export accepts the golden $lang folder" 0 "14 records chain"
done

g="$golden/ja/ws-test01/2026-W47"
vcase() {
	local name=$1 cmd=$2 pattern=$3
	rm -rf "$tmp/v"; cp -r "$g" "$tmp/v"
	(cd "$tmp/v" && eval "$cmd")
	run pc verify-export "$tmp/v" --key "$golden/export.pub"
	expect "verify-export refuses: $name" 1 "$pattern"
}
vcase "a changed CSV cell" "sed -i 's/tanaka/suzuki/' usage.csv" "usage.csv: its SHA-256 differs"
vcase "a deleted record" "sed -i '3d' records.jsonl" "records.jsonl: its SHA-256 differs"
vcase "a removed file" "rm report.html" "report.html is listed in MANIFEST but missing"
vcase "an added file" "touch notes.txt" "notes.txt is not listed"
vcase "an edited MANIFEST" "sed -i 's/^records 14/records 15/' MANIFEST" "MANIFEST.sig is not"
run pc verify-export "$g" --key "$tmp/state/export.pub"
expect "verify-export refuses another workstation's key" 1 "MANIFEST.sig is not"
if (cd "$g" && grep -E '^[0-9a-f]{64}  ' MANIFEST | sha256sum -c --quiet); then ok "MANIFEST checks with sha256sum -c"
else not_ok "MANIFEST checks with sha256sum -c"; fi
if openssl pkeyutl -verify -pubin -inkey "$golden/export.pub" -rawin -in "$g/MANIFEST" -sigfile "$g/MANIFEST.sig" >/dev/null 2>&1
then ok "MANIFEST.sig checks with openssl pkeyutl"; else not_ok "MANIFEST.sig checks with openssl pkeyutl"; fi

# ---- a ledger and an export from before the record count ------------------------------------
# Both written by the code before it (tests/data/export/v1/make-ledger-v1.c says how).
v1="$golden/v1"
run pc verify-export "$v1/ja/ws-test01/2026-W47" --key "$golden/export.pub"
expect "verify-export accepts an export written before the count" 0 "14 records chain"
rm -rf "$tmp/state" && mkdir -p "$tmp/state" && cp "$v1/ledger.db" "$db"
has_count() { sqlite3 "$db" "SELECT count(*) FROM pragma_table_info('records') WHERE name = 'count'"; }
run pc ledger verify
if [ "$rc" -eq 0 ] && grep -q "chain verifies: 16 records" "$tmp/out" && [ "$(has_count)" = 0 ]; then
	ok "ledger verify reads an old ledger.db as it is (read-only: not migrated)"
else not_ok "ledger verify of an old ledger.db" "count column: $(has_count)"; fi
cp "$golden/export.key" "$golden/export.pub" "$tmp/state/"
run pc export --week 2026-W47 --out "$tmp/v1-out"
if [ "$rc" -eq 0 ] && [ "$(has_count)" = 1 ] &&
	cmp -s "$tmp/v1-out/ws-test01/2026-W47/records.jsonl" "$v1/ja/ws-test01/2026-W47/records.jsonl" &&
	[ "$(grep '^chain-' "$tmp/v1-out/ws-test01/2026-W47/MANIFEST")" = "$(grep '^chain-' "$v1/ja/ws-test01/2026-W47/MANIFEST")" ]; then
	ok "export migrates the old ledger.db and exports its week's records and chain hashes as before"
else not_ok "export of an old ledger.db" "count column: $(has_count)"; fi
# Appends after the upgrade, then a week that holds old and new records: record 16 (version 1)
# opens 2026-W48; these are stamped Tuesday 2026-11-24 10:00 JST, in it.
"$bench" storm "$db" 100 10 1795482000 >/dev/null
run pc ledger verify
expect "the migrated ledger goes on with version 5 records and verifies" 0 "chain verifies: 116 records"
if [ "$(sqlite3 "$db" "SELECT group_concat(DISTINCT hex(substr(encoding, 1, 1))) FROM records WHERE seq <= 16")" = 01 ] &&
	[ "$(sqlite3 "$db" "SELECT group_concat(DISTINCT hex(substr(encoding, 1, 1))) FROM records WHERE seq > 16")" = 05 ]; then
	ok "old records keep encoding version 1, new ones are version 5"
else not_ok "encoding versions in the migrated ledger"; fi
run pc export --week 2026-W48 --out "$tmp/v1-out"
expect "export a week of version 1 and version 5 records" 0 "2026-W48"
run pc verify-export "$(ls -d "$tmp"/v1-out/*/2026-W48)" --key "$golden/export.pub"
expect "an export holding version 1 and version 5 records verifies" 0 "101 records chain"
run pc ledger show --json
if [ "$rc" -eq 0 ] && python3 - "$tmp/out" <<'PY'
import json, sys
R = [json.loads(l) for l in open(sys.argv[1])]
assert all("version" not in r and "count" not in r for r in R[:16]), "v1 shape"
assert all(r["version"] == 5 and r["count"] == 1 and r["bus"] == "" and "device_path" in r and r["ssid"] == "" and r["files"] == 0 and r["sha256"] == "" for r in R[16:]), "v5 shape"
PY
then ok "ledger show --json: version 1 records as before, version 5 with version, count, the media, wireless and scan fields"
else not_ok "ledger show --json of a mixed ledger"; fi

# ---- the report in a browser ----------------------------------------------------------------
if command -v chromium >/dev/null; then
	for lang in ja en; do
		png="$artifacts/report-$lang.png"
		rm -f "$png"
		timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
			--disable-component-update --no-first-run --user-data-dir="$tmp/chromium-$lang" \
			--screenshot="$png" --window-size=1200,1600 "file://$golden/$lang/ws-test01/2026-W47/report.html" \
			>"$tmp/out" 2>"$tmp/err"
		if [ -s "$png" ] && [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
			[ "$(stat -c %s "$png")" -gt 20000 ]; then
			ok "report.html ($lang) renders in headless Chromium: $png"
		else not_ok "report.html ($lang) renders in headless Chromium"; fi
	done
	if grep -qiE '<script|src=|href=|@import|url\(' "$g/report.html"; then not_ok "report.html has no external resources or script"
	else ok "report.html has no external resources or script"; fi
else
	not_ok "chromium is not installed (make deps)"
fi

echo "test-ledger: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
