#!/usr/bin/env bash
# make bench: every benchmark in one run, into bench/RESULTS.md (bench/results.py writes it from
# the raw outputs kept in BUILD/bench/raw/):
#   - policy load+verify and lookup at 1k, 10k, 100k USB permits (bench/policy-bench.c);
#   - policyctl check, approve and revoke at 1k, 10k, 100k USB permits (bench/policyctl-bench.py);
#   - kyokad (first start, and restart after `policyctl install`) and usbguard-daemon start with
#     0, 1k, 10k, 100k devices (bench/daemon-load.py; 1,000,000 by hand: daemon-load.py BUILD ROOT 1000000);
#   - the network window under an attacker loop (bench/net-window.sh; root);
#   - the ledger's durable appends and a week of 1,000,000 records (bench/ledger.sh -> LEDGER.md);
#   - kyokad and USBGuard in one VM: decision latency, VmRSS, idle cost (tests/vm/bench-usb.py
#     -> USB.md; BENCH_USB_CYCLES, BENCH_IDLE, BENCH_USB_SOAK (kyokad's soak, default 1000 plugs) shorten it);
#   - the carry-out record's cost on a copy (tests/vm/bench-carry.py -> CARRY.md);
#   - the virus scan of a 1 GiB stick, many small and few large files (tests/vm/bench-scan.py ->
#     SCAN.md; BENCH_SCAN_MIB changes the size; skipped without clamd). Slow under TCG: on a
#     machine loaded by other VMs (load 15) QEMU read the stick at about 0.6 MB/s, so two 1 GiB
#     sticks can take an hour there; on an idle machine far less (not measured yet).
# About 12 minutes on 2 cores. Usage: bench/run.sh [BUILD [SIZE...]]   (make bench: after make all)
# With SIZEs (entry counts) it only prints the policy-bench lines and leaves RESULTS.md alone.
set -euo pipefail
build=${1:-build}
[ $# -eq 0 ] || shift
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cd "$top"

for lib in "$build/libkyoka-policy.a" "$build/libkyoka-basic.a"; do
	[ -f "$lib" ] || { echo "bench/run.sh: $lib missing (run make first)" >&2; exit 1; }
done

bin=$build/bench/policy-bench
mkdir -p "$(dirname "$bin")"
# The same flags as the libraries (-O2), without sanitizers: this measures the real thing.
cc -std=gnu11 -O2 -g -D_GNU_SOURCE -Ibasic -Ipolicy -Wall -Wextra -Werror -Wno-unused-parameter \
	$(pkg-config --cflags libconfig json-c libcrypto) \
	-o "$bin" bench/policy-bench.c "$build/libkyoka-policy.a" "$build/libkyoka-basic.a" \
	$(pkg-config --libs libconfig json-c libcrypto)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
# What was built, taken before this run rewrites bench/*.md.
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)
dirty=$(git status --short --untracked-files=no 2>/dev/null | awk '{ print $2 }' | tr '\n' ' ')
raw=$build/bench/raw
echo "bench: running $bin (1k, 10k, 100k entries; about a minute)" >&2
out=$("$bin" "$@") || { echo "bench/run.sh: policy-bench failed" >&2; exit 1; }
printf '%s\n' "$out" >&2
[ $# -eq 0 ] || exit 0

mkdir -p "$raw"
printf '%s\n' "$out" > "$raw/policy.txt"

# --- policyctl check / approve / revoke on 1k, 10k, 100k entries (the approver's edits) ---------
echo "bench: policyctl check, approve and revoke at 1k, 10k, 100k entries (about a minute)" >&2
python3 bench/policyctl-bench.py "$build" | tee "$raw/policyctl.txt" >&2

# --- kyokad and usbguard-daemon start with N devices (natively, this host) ----------------------
echo "bench: daemon start with 0, 1k, 10k, 100k devices: kyokad and usbguard-daemon (about a minute)" >&2
ugroot=$(bench/usbguard-root.sh "$build/vm/usbguard") || { echo "bench/run.sh: usbguard not available" >&2; exit 1; }
python3 bench/daemon-load.py "$build" "$ugroot" | tee "$raw/daemon-load.txt" >&2

# --- network window (issue 4) -------------------------------------------------------------------
# How long an unapproved link stays up under an attacker loop and how many packets get out
# (bench/net-window.sh: needs root for network namespaces).
if [ "$(id -u)" -eq 0 ] && command -v nft >/dev/null && [ -x "$build/kyokad" ]; then
	echo "bench: running bench/net-window.sh (2 x ${NET_WINDOW_SECONDS:-5} s)" >&2
	bench/net-window.sh "$build" "${NET_WINDOW_SECONDS:-5}" | tee "$raw/net-window.txt" >&2 ||
		{ echo "bench/run.sh: net-window failed" >&2; exit 1; }
else
	echo "bench: network window skipped (needs root, nft and $build/kyokad)" >&2
fi

# --- ledger (issue 5): writes bench/LEDGER.md, its raw lines go into RESULTS.md too --------------
bench/ledger.sh "$build"
sed -n '/^```$/,/^```$/p' bench/LEDGER.md | grep -E '^(throughput|week|fleet) ' > "$raw/ledger.txt"

# --- kyokad and USBGuard on a real kernel (QEMU): writes bench/USB.md ----------------------------
echo "bench: tests/vm/bench-usb.py: kyokad and usbguard-daemon in one VM, then kyokad's soak of ${BENCH_USB_SOAK:-1000} plugs (about 8 minutes + 2 s a plug)" >&2
tests/vm/deps.sh >/dev/null && tests/vm/build-image.sh >&2
BUILD=$(realpath "$build") python3 tests/vm/bench-usb.py --cycles "${BENCH_USB_CYCLES:-50}" --idle "${BENCH_IDLE:-60}" --soak "${BENCH_USB_SOAK:-1000}" \
	--usbguard-root "$ugroot" --out "$raw/bench-usb.txt" >&2 ||
	echo "bench/run.sh: bench-usb.py reported a problem (see bench/USB.md); its figures are kept" >&2

# --- scan before use (issue 15): writes bench/SCAN.md ------------------------------------------------
if command -v clamd >/dev/null && command -v sigtool >/dev/null; then
	echo "bench: tests/vm/bench-scan.py: the scan of two ${BENCH_SCAN_MIB:-1024} MiB sticks (slow under TCG)" >&2
	BUILD=$(realpath "$build") python3 tests/vm/bench-scan.py --mib "${BENCH_SCAN_MIB:-1024}" --out "$raw/bench-scan.txt" >&2 ||
		echo "bench/run.sh: bench-scan.py failed (see above); its rows are left out" >&2
else
	echo "bench: scan bench skipped (no clamd/sigtool: make deps)" >&2
fi

# --- the carry-out record's cost on a copy (issue 15): writes bench/CARRY.md -----------------------
echo "bench: tests/vm/bench-carry.py: copies to an approved stick with the carry-out record on and off" >&2
BUILD=$(realpath "$build") python3 tests/vm/bench-carry.py --out "$raw/bench-carry.txt" >&2 ||
	echo "bench/run.sh: bench-carry.py failed (see above); its rows are left out" >&2

# --- RESULTS.md -----------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
	echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(( $(date +%s) - started )) s in all; commit \`$commit\`."
	[ -z "$dirty" ] || echo "Built with uncommitted changes to: $dirty"
	echo
	echo "Machine: $(nproc) CPU(s), ${cpu:-unknown CPU}, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM;"
	echo "$(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME"); QEMU $(qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p') (TCG) for the VM rows."
	echo "Load average: $load_before before the run, $(cut -d' ' -f1-3 /proc/loadavg) after it (other work on the"
	echo "machine skews the figures; compare runs on an idle machine)."
} > "$raw/header.txt"
python3 bench/results.py "$raw" "$build" > bench/RESULTS.md.tmp && mv bench/RESULTS.md.tmp bench/RESULTS.md
echo "bench: wrote bench/RESULTS.md" >&2
