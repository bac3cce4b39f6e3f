#!/usr/bin/env bash
# kyokad's workers are processes named kyokad too, so a reload sent by name (`killall -HUP
# kyokad`, `kill -HUP $(pidof kyokad)`) reaches them. A worker must not end on it: a scan
# worker that ended so left its medium's scan without a result (seen once in
# tests/vm/test-kyokad-scan.py: "worker-failed" after a SIGHUP). Here the real scan worker
# (kyokad --scan-worker, as scan.c starts it) talks to a clamd that accepts and never answers,
# gets SIGHUP while it waits, and must still end with its one result line (a fault: clamd did
# not answer in time) and exit 0.
#
# Usage: test-worker-signals.sh BUILD   (BUILD holds kyokad)
set -u
build=$(realpath "${1:?usage: test-worker-signals.sh BUILD}")
K=$build/kyokad
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1${2:+: $2}"; fail=$((fail + 1)); }

tmp=$(mktemp -d)
trap 'kill $silent 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/medium" && echo hello > "$tmp/medium/a.txt"

# A clamd that accepts and never answers.
python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(8)
open(sys.argv[1] + ".ready", "w").close()
conns = []
while True:
    conns.append(s.accept()[0])
' "$tmp/clamd.ctl" &
silent=$!
for _ in $(seq 100); do [ -e "$tmp/clamd.ctl.ready" ] && break; sleep 0.05; done

"$K" --scan-worker --socket "$tmp/clamd.ctl" --max-seconds 3 --max-bytes 1000000 --max-database-age 0 \
	--directory "$tmp/medium" > "$tmp/out" 2> "$tmp/err" &
worker=$!
sleep 0.5
kill -HUP "$worker"
wait "$worker"
rc=$?
result=$(grep '^result ' "$tmp/out")
if [ "$rc" -eq 0 ] && [ "$(grep -c '^result ' "$tmp/out")" -eq 1 ] && [[ $result == "result fault "* ]]; then
	ok "scan worker given SIGHUP while clamd is silent: goes on, ends with its result line ($result), exit 0"
else
	not_ok "scan worker given SIGHUP: exit $rc, output: $(tr '\n' '|' < "$tmp/out")" "$(cat "$tmp/err")"
fi

# SIGTERM still ends it (kyokad's way to stop a scan is SIGKILL; SIGTERM is an admin's).
"$K" --scan-worker --socket "$tmp/clamd.ctl" --max-seconds 30 --max-bytes 1000000 --max-database-age 0 \
	--directory "$tmp/medium" > "$tmp/out2" 2>&1 &
worker=$!
sleep 0.5
kill -TERM "$worker"
wait "$worker"
rc=$?
if [ "$rc" -eq 143 ]; then
	ok "scan worker given SIGTERM: ends (exit 143)"
else
	not_ok "scan worker given SIGTERM: exit $rc" "$(cat "$tmp/out2")"
fi

echo "worker-signals: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
