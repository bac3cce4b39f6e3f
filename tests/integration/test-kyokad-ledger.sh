#!/usr/bin/env bash
# kyokad writes its decisions and faults to the ledger (STATE_DIR/ledger.db, issue 5): under
# umockdev (test-kyokad-umockdev.sh's testbeds and helpers, sourced), it checks what
# `policyctl ledger show --json` holds after decisions, starts and stops, a kill -9, and a
# full disk; that `policyctl ledger verify` passes each time; and that every record kyokad
# logged (it logs a record only once it is committed) is in the ledger.
#
# Usage: test-kyokad-ledger.sh BUILD   (BUILD holds kyokad and policyctl; an ASan build works too)
set -u

KYOKA_UMOCKDEV_SOURCED=1
# shellcheck source=test-kyokad-umockdev.sh
. "$(dirname "$0")/test-kyokad-umockdev.sh" "$@" || exit 1
P=$build/policyctl
[ -x "$P" ] || { echo "not ok - $P is missing (make)"; exit 1; }
for t in python3 unshare nsenter; do
        command -v "$t" >/dev/null || { echo "not ok - $t is missing"; exit 1; }
done

holder=                              # a process holding the private mount namespace (full disk)
cleanup_ledger() {
        [ -n "$holder" ] && kill -KILL "$holder" 2>/dev/null
        cleanup
}
trap cleanup_ledger EXIT

# Runs a command where kyokad sees STATE_DIR: in the private mount namespace if there is one.
ns() { if [ -n "$holder" ]; then nsenter -t "$holder" -m -- "$@"; else "$@"; fi; }

# ledger_is EXPR: EXPR (Python) holds over R, the records of `policyctl ledger show --json`;
# ev(EVENT, field=value, ...) selects records. On failure the records are listed.
ledger_is() {
        ns "$P" --state-dir "$dir/state" ledger show --json >"$dir/ledger.jsonl" 2>"$dir/ledger.err" ||
                { echo "# policyctl ledger show failed: $(cat "$dir/ledger.err")"; return 1; }
        python3 - "$dir/ledger.jsonl" "$1" <<'EOF'
import json, sys
R = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
def ev(e, **kw):
    return [r for r in R if r["event"] == e and all(r.get(k) == v for k, v in kw.items())]
ok = eval("(" + sys.argv[2] + ")")   # parenthesised: the expression may span lines
if not ok:
    print("# ledger check failed: " + sys.argv[2])
    for r in R:
        print("#   %d %s %s %s %s %s outcome=%s errno=%d: %s" % (r["seq"], r["subject"], r["event"],
              r["bus_path"] or r["ifname"] or "-", r["decision"], r["permit"] or "-", r["outcome"],
              r["error_number"], r["message"][:110]))
sys.exit(0 if ok else 1)
EOF
}
ledger_has() { ledger_is "$1" 2>/dev/null >/dev/null; }
wait_ledger() { wait_for "the ledger to hold: $1" ledger_has "$1" || ledger_is "$1"; }

verify() {
        local out
        out=$(ns "$P" --state-dir "$dir/state" ledger verify 2>&1) && return 0
        echo "# policyctl ledger verify: $out"
        return 1
}

# The records LOG shows (kyokad logs one line per record, after its commit), and whether the
# ledger holds exactly as many (the ledger's own delayed/lost notes aside) from the run that
# wrote LOG: nothing reported is missing.
log_records() { grep -cE '^kyokad: (usb|net|policy|fault|daemon) ' "$1"; }
ledger_matches_log() {
        local n boot
        n=$(log_records "$1")
        ledger_is "len([r for r in R if r['event'] not in ('ledger-delayed', 'ledger-lost')]) == $n" ||
                { echo "# the log shows $n records"; return 1; }
}

# Starts kyokad with STATE_DIR on a tmpfs of SIZE in a mount namespace of its own (held by a
# sleeping process, so that the test can fill it and read the ledger after kyokad is gone).
start_kyokad_on_tmpfs() {
        unshare -m --propagation private sleep infinity &
        holder=$!
        local i
        for ((i = 0; i < 50; i++)); do
                [ "$(readlink /proc/$holder/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && break
                sleep 0.02
        done
        ns mount -t tmpfs -o "size=$1,mode=0755" tmpfs "$dir/state" || return 1
        : >"$dir/kyokad.log"
        nsenter -t "$holder" -m -- env UMOCKDEV_DIR="$root" LD_PRELOAD="$preload" \
                ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
                "$kyokad" --config-dir "$dir/config" --state-dir "$dir/state" --runtime-dir "$dir/run" \
                --udev-events udev --network off --debug >>"$dir/kyokad.log" 2>&1 &
        kyokad_pid=$!
        wait_log "kyokad ready"
}

# --- cases ----------------------------------------------------------------------------------

t_decisions_recorded() {
        case_begin decisions "stick $STICK $SERIAL_A 0 0" "phone $PHONE 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                wait_decision connected $STICK && wait_decision connected $PHONE &&
                echo "# devices present at start, the policy, kyokad started" &&
                ledger_is "len(ev('started', subject='daemon')) == 1 and not ev('unclean-shutdown')" &&
                ledger_is "len(ev('policy-loaded', subject='policy', policy_serial=1)) == 1
                           and ev('policy-loaded')[0]['signer'].startswith('admin.pub')" &&
                ledger_is "[(r['vendor'], r['product'], r['serial'], r['product_name'], r['interfaces'], r['decision'],
                             r['permit'], r['outcome'], r['policy_serial'], r['hostname'] != '', len(r['machine_id']))
                            for r in ev('connected', subject='usb', bus_path='1-1')]
                           == [('46f4', '0001', '$SERIAL_A', 'QEMU USB HARDDRIVE', '08:06:50', 'allow', '許可-0001',
                                'done', 1, True, 32)]" &&
                ledger_is "[(r['decision'], r['permit'], r['reason'].startswith('default usb_other'))
                            for r in ev('connected', bus_path='1-3')] == [('block', '', True)]" &&
                echo "# a hot-plugged stick that is not approved, then removed" &&
                stick $HOTPLUG $SERIAL_B 0 0 >"$dir/hotplug.umockdev" && drv load "$dir/hotplug.umockdev" &&
                drv uevent /sys$HOTPLUG bind && wait_decision connected $HOTPLUG &&
                expect_attr $HOTPLUG/authorized 0 &&
                ledger_is "[r['decision'] for r in ev('connected', bus_path='1-5')] == ['block']" &&
                drv uevent /sys$HOTPLUG remove && drv remove /sys$HOTPLUG && wait_log "usb removed 1-5 " &&
                ledger_is "[r['serial'] for r in ev('removed', subject='usb', bus_path='1-5')] == ['$SERIAL_B']" &&
                echo "# an approval taking effect (SIGHUP, serial 2 approves the stick that is present)" &&
                stick $OTHER $SERIAL_B 0 0 >"$dir/other.umockdev" && drv load "$dir/other.umockdev" &&
                drv uevent /sys$OTHER bind && wait_decision connected $OTHER &&
                policy "$dir/config/policy.conf" 2 allow "$POLICY_A" "$(usb_entry 許可-0003 46f4 0001 $SERIAL_B)" &&
                kill -HUP "$kyokad_pid" && wait_attr $OTHER/authorized 1 && wait_decision re-evaluated $OTHER &&
                ledger_is "[(r['decision'], r['permit'], r['policy_serial']) for r in ev('re-evaluated', bus_path='1-4')]
                           == [('allow', '許可-0003', 2)]" &&
                echo "# a refused policy (tampered) is a fault record" &&
                policy "$dir/config/policy.conf" 3 allow "$POLICY_A" &&
                sed -i 's/^serial = 3;/serial = 4;/' "$dir/config/policy.conf" &&
                kill -HUP "$kyokad_pid" && wait_for "a refusal" refusals_at_least 1 &&
                wait_ledger "len(ev('policy-refused', subject='policy', outcome='failed')) == 1" &&
                echo "# policyctl status shows the ledger" &&
                "$P" --runtime-dir "$dir/run" status --json >"$dir/status.json" &&
                python3 -c 'import json,sys; l = json.load(open(sys.argv[1]))["ledger"]; \
                        sys.exit(0 if l["open"] and l["records"] == l["last_seq"] > 5 and l["queued"] == 0 \
                                 and l["error"] is None and l["path"].endswith("/ledger.db") else 1)' "$dir/status.json" &&
                "$P" --runtime-dir "$dir/run" status | grep -q "^Ledger: .*ledger.db: [0-9]* records, last seq" &&
                case_end &&
                echo "# stopped, the marker gone, the chain verifies, and every logged record is there" &&
                ledger_is "len(ev('stopped', subject='daemon', outcome='done')) == 1 and R[-1]['event'] == 'stopped'" &&
                [ ! -e "$dir/state/running" ] &&
                verify && ledger_matches_log "$dir/kyokad.log"
}

t_unclean_shutdown() {
        local pid1
        case_begin unclean "stick $STICK $SERIAL_A 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad && wait_decision connected $STICK &&
                [ -e "$dir/state/running" ] &&
                pid1=$kyokad_pid && kill -KILL "$kyokad_pid" && { wait "$kyokad_pid"; true; } && kyokad_pid= &&
                cp "$dir/kyokad.log" "$dir/kyokad-1.log" &&
                echo "# everything the killed kyokad logged is in the ledger, and the chain verifies" &&
                ledger_matches_log "$dir/kyokad-1.log" && verify &&
                ledger_is "not ev('stopped')" &&
                start_kyokad && wait_decision connected $STICK &&
                ledger_is "len(ev('unclean-shutdown', subject='daemon')) == 1
                           and 'pid $pid1' in ev('unclean-shutdown')[0]['message']
                           and 'same boot' in ev('unclean-shutdown')[0]['message']
                           and len(ev('started')) == 2
                           and ev('unclean-shutdown')[0]['seq'] < ev('started')[1]['seq']" &&
                "$P" --runtime-dir "$dir/run" status | grep -q "unclean-shutdown" &&
                case_end && verify &&
                ledger_is "len(ev('stopped')) == 1 and len(ev('unclean-shutdown')) == 1"
}

t_full_disk() {
        local n_usb
        case_begin fulldisk "stick $STICK $SERIAL_A 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad_on_tmpfs 1m && wait_decision connected $STICK &&
                ledger_is "len(ev('connected', bus_path='1-1')) == 1" &&
                echo "# the tmpfs filled up: enforcement goes on, records wait" &&
                { ns dd if=/dev/zero of="$dir/state/fill" bs=4k 2>/dev/null; ns sync; true; } &&
                stick $HOTPLUG $SERIAL_B 0 0 >"$dir/hp.umockdev" && drv load "$dir/hp.umockdev" &&
                drv uevent /sys$HOTPLUG bind && wait_decision connected $HOTPLUG &&
                expect_attr $HOTPLUG/authorized 0 &&
                stick $OTHER $SERIAL_A 0 0 >"$dir/other.umockdev" && drv load "$dir/other.umockdev" &&
                drv uevent /sys$OTHER bind && wait_attr $OTHER/authorized 1 && wait_decision connected $OTHER &&
                wait_log "fault ledger-failing" &&
                "$P" --runtime-dir "$dir/run" status --json >"$dir/status.json" &&
                python3 -c 'import json,sys; l = json.load(open(sys.argv[1]))["ledger"]; \
                        sys.exit(0 if l["error"] and l["error"]["name"] == "ENOSPC" and l["queued"] >= 3 else 1)' \
                        "$dir/status.json" &&
                "$P" --runtime-dir "$dir/run" status | grep -q "FAILING: ENOSPC" &&
                ledger_is "not ev('connected', bus_path='1-5')" &&
                echo "# space again: the retry timer writes them, with the gap recorded" &&
                ns rm -f "$dir/state/fill" &&
                TIMEOUT=40 wait_ledger "len(ev('ledger-delayed', subject='ledger', error_number=28)) == 1" &&
                ledger_is "[r['decision'] for r in ev('connected', bus_path='1-5')] == ['block']
                           and [r['decision'] for r in ev('connected', bus_path='1-4')] == ['allow']
                           and len(ev('fault', subject='ledger', reason='ledger-failing', error_number=28)) == 1
                           and ev('ledger-delayed')[0]['seq'] > ev('connected', bus_path='1-4')[0]['seq']" &&
                "$P" --runtime-dir "$dir/run" status --json >"$dir/status.json" &&
                python3 -c 'import json,sys; l = json.load(open(sys.argv[1]))["ledger"]; \
                        sys.exit(0 if l["error"] is None and l["queued"] == 0 else 1)' "$dir/status.json" &&
                case_end &&
                echo "# nothing lost: every record kyokad logged is in the ledger, which verifies" &&
                ledger_matches_log "$dir/kyokad.log" && verify &&
                ledger_is "R[-1]['event'] == 'stopped'"
}

# Issue 9: a new policy whose serial cannot be written to STATE_DIR/policy.state must not be
# put in force: after a restart the anti-rollback check would let the older policy back.
t_serial_not_recorded() {
        case_begin serial "stick $STICK $SERIAL_A 0 0" "stick $OTHER $SERIAL_B 0 0" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad_on_tmpfs 1m && wait_decision connected $STICK && wait_decision connected $OTHER &&
                expect_attr $OTHER/authorized 0 &&
                echo "# the disk is full; serial 2 approves the second stick" &&
                { ns dd if=/dev/zero of="$dir/state/fill" bs=4k 2>/dev/null; ns sync; true; } &&
                policy "$dir/config/policy.conf" 2 allow "$POLICY_A" "$(usb_entry 許可-0003 46f4 0001 $SERIAL_B)" &&
                kill -HUP "$kyokad_pid" && wait_log "serial 2 could not be recorded" &&
                sleep 0.3 && expect_attr $OTHER/authorized 0 && echo "# still blocked" &&
                ns cat "$dir/state/policy.state" | grep -q '^serial 1$' && echo "# policy.state still says serial 1" &&
                "$P" --runtime-dir "$dir/run" status | grep -q "^Policy: *serial 1" && echo "# status: serial 1" &&
                echo "# space again: the same policy is accepted and takes effect" &&
                ns rm -f "$dir/state/fill" &&
                kill -HUP "$kyokad_pid" && wait_attr $OTHER/authorized 1 &&
                ns cat "$dir/state/policy.state" | grep -q '^serial 2$' &&
                case_end
}

# As the sourced run_case, and the namespace holder of a full-disk case goes with its case.
run_case() {
        if ( trap '[ -n "$holder" ] && kill -KILL "$holder" 2>/dev/null; case_abort' EXIT; "$2" ); then
                ok "$1"
        else not_ok "$1"; fi
}

run_case "decisions, policy loads and refusals, start and stop are in the ledger" t_decisions_recorded
run_case "kill -9, restart: an unclean-shutdown fault, nothing reported is missing" t_unclean_shutdown
run_case "full disk: enforcement goes on, the records wait and are written with the gap" t_full_disk
run_case "full disk: a policy whose serial cannot be recorded is not put in force" t_serial_not_recorded

echo "kyokad-ledger: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
