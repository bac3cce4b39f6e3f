#!/usr/bin/env bash
# The scan service's worker (`kyokad --scan-worker --request-on-stdin`, started by
# systemd/kyoka-scan.socket for each connection, kyoka-scan@.service): the request kyokad sends
# on the connection and the lines it reads back, with systemd-socket-activate standing in for
# systemd (--accept --inetd: the connection is the worker's stdin and stdout, as
# StandardInput=socket gives it). clamd here accepts and never answers, so a well-formed
# request ends with the scanner's fault; the request is parsed strictly (fuzz-scan-protocol).
#
# Usage: test-scan-service.sh BUILD   (BUILD holds kyokad)
set -u
build=$(realpath "${1:?usage: test-scan-service.sh BUILD}")
K=$build/kyokad
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }
command -v systemd-socket-activate >/dev/null || { echo "not ok - systemd-socket-activate missing (make deps: systemd)"; exit 1; }

tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT

# A clamd that accepts and never answers.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
open(sys.argv[1] + ".ready", "w").close()
c = []
while True: c.append(s.accept()[0])
' "$tmp/clamd.ctl" &
pids+=($!)
systemd-socket-activate -l "$tmp/scan" --accept --inetd "$K" --scan-worker --request-on-stdin 2>"$tmp/activate.log" &
pids+=($!)
for _ in $(seq 100); do [ -e "$tmp/clamd.ctl.ready" ] && [ -S "$tmp/scan" ] && break; sleep 0.05; done

# ask REQUEST: what the worker said before it closed the connection (15 s at most).
ask() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(15); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode()); s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(4096)
    if not b: break
    out += b
sys.stdout.write(out.decode())
' "$tmp/scan" "$1"
}

out=$(ask "scan 2 1000000 0 $tmp/clamd.ctl /sys/devices/virtual/block
")
if [ "$(printf '%s\n' "$out" | grep -c '^result ')" -eq 1 ] && [[ $out == *"result fault scanner-timeout"* ]]; then
	ok "a request on the connection: the worker asks clamd (silent) and answers with its result line"
else
	not_ok "a request on the connection" "$(printf '%s' "$out" | tr '\n' '|') / $(tail -3 "$tmp/activate.log")"
fi

for bad in "scan 0 1 0 $tmp/clamd.ctl /sys/devices" "scan 2 1 0 $tmp/clamd.ctl /etc/passwd" \
	"scan 2 1 0 $tmp/clamd.ctl /sys/../etc" "scan 02 1 0 $tmp/clamd.ctl /sys/devices" \
	"scan 2 1 0 relative /sys/devices" "scan 2 1 0 $tmp/clamd.ctl /sys/devices extra" "hello"; do
	out=$(ask "$bad
")
	if [[ $out == *"result fault worker-failed 74 0 0"* && $out != *engine* ]]; then
		ok "refused without a scan: '$bad' (result fault worker-failed EBADMSG, clamd not asked)"
	else
		not_ok "refused without a scan: '$bad'" "$(printf '%s' "$out" | tr '\n' '|')"
	fi
done

# No newline (kyokad shuts its side after the line): nothing is scanned.
out=$(ask "scan 2 1000000 0 $tmp/clamd.ctl /sys/devices/virtual/block")
[[ $out == *"result fault worker-failed 74 0 0"* ]] && ok "a request without its newline is refused" ||
	not_ok "a request without its newline is refused" "$(printf '%s' "$out" | tr '\n' '|')"

echo "scan-service: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
