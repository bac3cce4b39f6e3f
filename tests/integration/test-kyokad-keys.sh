#!/usr/bin/env bash
# keys.d as issue 9 (point 8) found it: one unparsable *.pub took every trusted key away, so
# kyokad fell back to the lockdown (and at the next start had no policy at all); and a key file
# or keys.d that others could write was trusted. Under umockdev (test-kyokad-umockdev.sh's
# testbeds and helpers, sourced): with a junk .pub, a group-writable and a symlinked key next to
# the approver's, kyokad keeps enforcing the signed policy (at start, after SIGHUP, after a
# restart), and each key left out is a 'policy-key' fault in `policyctl status`, the journal
# line and the ledger; a keys.d others can write is refused whole (the lockdown, a
# policy-refused fault naming why). `policyctl verify` warns about each key and goes on.
#
# Usage: test-kyokad-keys.sh BUILD   (BUILD holds kyokad and policyctl; an ASan build works too)
set -u

KYOKA_UMOCKDEV_SOURCED=1
# shellcheck source=test-kyokad-umockdev.sh
. "$(dirname "$0")/test-kyokad-umockdev.sh" "$@" || exit 1
P=$build/policyctl
[ -x "$P" ] || { echo "not ok - $P is missing (make)"; exit 1; }

status() { "$P" --runtime-dir "$dir/run" status >"$dir/status.out" 2>&1; }
status_has() {
        status && grep -qF -- "$1" "$dir/status.out" && return 0
        echo "# policyctl status lacks: $1"
        sed 's/^/#   /' "$dir/status.out"
        return 1
}
ledger_has_fault() {
        "$P" --state-dir "$dir/state" ledger show --json 2>/dev/null |
                python3 -c 'import json,sys; n = sum(1 for l in sys.stdin if l.strip() and (lambda r: r["event"] == "fault" and r["reason"] == "policy-key" and sys.argv[1] in r["message"])(json.loads(l))); sys.exit(0 if n >= 1 else 1)' "$1" ||
                { echo "# no policy-key fault naming $1 in the ledger"; return 1; }
}

# The approver's key and three that must be left out: junk, group-writable, a symlink (to a
# valid key elsewhere, which would otherwise be trusted through the link).
bad_keys() {
        local k=$dir/config/keys.d
        printf 'this is not a key\n' >"$k/junk.pub" && chmod 0644 "$k/junk.pub" &&
                openssl genpkey -algorithm ed25519 -out "$dir/other.key" 2>/dev/null &&
                openssl pkey -in "$dir/other.key" -pubout -out "$k/group.pub" 2>/dev/null &&
                chmod 0664 "$k/group.pub" &&
                openssl pkey -in "$dir/other.key" -pubout -out "$dir/elsewhere.pub" 2>/dev/null &&
                ln -s "$dir/elsewhere.pub" "$k/linked.pub"
}
faults_for_bad_keys() {
        local k=$dir/config/keys.d
        log_has "fault policy-key: Trusted key $k/junk.pub skipped: not exactly one public key in PEM form" &&
                log_has "fault policy-key: Trusted key $k/group.pub skipped: writable by group or others (mode 0664)" &&
                log_has "fault policy-key: Trusted key $k/linked.pub skipped: a symbolic link (not followed)" &&
                status_has "junk.pub skipped: not exactly one public key in PEM form" &&
                status_has "group.pub skipped: writable by group or others" &&
                status_has "linked.pub skipped: a symbolic link" &&
                ledger_has_fault "junk.pub"
}

t_junk_key_at_start() {
        case_begin junk-start "stick $STICK $SERIAL_A 0 0" "stick $OTHER $SERIAL_B 0 0" &&
                chmod 0755 "$dir/config/keys.d" && chmod 0644 "$dir/config/keys.d/admin.pub" &&
                bad_keys &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                log_has "policy loaded" && ! log_has "built-in lockdown" &&
                expect_attr $STICK/authorized 1 && expect_attr "$(ifc $STICK 0)" 1 &&
                expect_attr $OTHER/authorized 0 &&
                status_has "serial 1" &&
                faults_for_bad_keys &&
                echo "# a policy signed by the group-writable key is not trusted" &&
                policy "$dir/config/policy.conf" 2 allow "$POLICY_A" "$(usb_entry 許可-0003 46f4 0001 $SERIAL_B)" &&
                openssl pkeyutl -sign -inkey "$dir/other.key" -rawin -in "$dir/config/policy.conf" \
                        -out "$dir/config/policy.conf.sig" &&
                kill -HUP "$kyokad_pid" && wait_for "a refusal" refusals_at_least 1 &&
                expect_attr $OTHER/authorized 0 && expect_attr $STICK/authorized 1 &&
                echo "# the approver's serial 2: accepted with the bad keys still there" &&
                policy "$dir/config/policy.conf" 2 allow "$POLICY_A" "$(usb_entry 許可-0003 46f4 0001 $SERIAL_B)" &&
                kill -HUP "$kyokad_pid" && wait_attr $OTHER/authorized 1 &&
                status_has "serial 2" &&
                echo "# restart with the junk still in keys.d: the policy is enforced from the start" &&
                kill -TERM "$kyokad_pid" && wait "$kyokad_pid" && kyokad_pid= &&
                drv attr /sys$STICK authorized 0 && drv attr /sys$OTHER authorized 0 &&
                expect_attr $STICK/authorized 0 &&
                start_kyokad &&
                expect_attr $STICK/authorized 1 && expect_attr $OTHER/authorized 1 &&
                status_has "serial 2" && faults_for_bad_keys &&
                case_end
}

t_junk_key_added_while_running() {
        case_begin junk-reload "stick $STICK $SERIAL_A 0 0" "stick $OTHER $SERIAL_B 0 0" &&
                chmod 0755 "$dir/config/keys.d" && chmod 0644 "$dir/config/keys.d/admin.pub" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                expect_attr $STICK/authorized 1 && expect_attr $OTHER/authorized 0 &&
                printf 'garbage\n' >"$dir/config/keys.d/new.pub" && chmod 0644 "$dir/config/keys.d/new.pub" &&
                policy "$dir/config/policy.conf" 2 allow "$POLICY_A" "$(usb_entry 許可-0003 46f4 0001 $SERIAL_B)" &&
                kill -HUP "$kyokad_pid" &&
                wait_attr $OTHER/authorized 1 && expect_attr $STICK/authorized 1 &&
                wait_log "fault policy-key: Trusted key $dir/config/keys.d/new.pub skipped" &&
                ! refusals_at_least 1 &&
                status_has "serial 2" && status_has "new.pub skipped" &&
                case_end
}

t_group_writable_keys_dir_refused() {
        case_begin keys-dir "stick $STICK $SERIAL_A 0 0" "keyboard $KEYBOARD 0 0" &&
                chmod 0775 "$dir/config/keys.d" && chmod 0644 "$dir/config/keys.d/admin.pub" &&
                policy "$dir/config/policy.conf" 1 allow "$POLICY_A" &&
                start_kyokad &&
                refusals_at_least 1 && log_has "built-in lockdown" &&
                log_has "No usable trusted key in $dir/config/keys.d: writable by group or others (mode 0775)" &&
                expect_attr $STICK/authorized 0 &&
                expect_attr $KEYBOARD/authorized 1 &&
                status_has "built-in lockdown" &&
                status_has "writable by group or others (mode 0775)" &&
                case_end
}

# policyctl verify with the same keys.d: a warning per key, the good signature still found.
t_verify_warns_and_goes_on() {
        local k
        case_begin verify "keyboard $KEYBOARD 0 0" &&
                : >"$dir/kyokad.log" &&
                k=$dir/config/keys.d && chmod 0755 "$k" && chmod 0644 "$k/admin.pub" &&
                bad_keys &&
                policy "$dir/config/policy.conf" 5 allow "$POLICY_A" &&
                "$P" --config-dir "$dir/config" --state-dir "$dir/state" verify "$dir/config/policy.conf" \
                        >"$dir/verify.out" 2>"$dir/verify.err" &&
                grep -qF "good signature by admin.pub" "$dir/verify.out" &&
                grep -qF "warning: $k/junk.pub: key skipped: not exactly one public key in PEM form" "$dir/verify.err" &&
                grep -qF "warning: $k/group.pub: key skipped: writable by group or others (mode 0664)" "$dir/verify.err" &&
                grep -qF "warning: $k/linked.pub: key skipped: a symbolic link (not followed)" "$dir/verify.err" &&
                chmod 0777 "$k" &&
                { ! "$P" --config-dir "$dir/config" --state-dir "$dir/state" verify "$dir/config/policy.conf" \
                        >"$dir/verify.out" 2>"$dir/verify.err"; } &&
                grep -qF "$k: refused, no key in it is trusted: writable by group or others (mode 0777)" "$dir/verify.err" &&
                case_end ||
                { sed 's/^/#   verify: /' "$dir/verify.out" "$dir/verify.err" 2>/dev/null; false; }
}

run_case "a junk, a group-writable and a symlinked *.pub: the signed policy is enforced, each is a fault" t_junk_key_at_start
run_case "a junk *.pub added while running: SIGHUP still takes the new policy" t_junk_key_added_while_running
run_case "a group-writable keys.d is refused whole: lockdown, a fault naming why" t_group_writable_keys_dir_refused
run_case "policyctl verify warns about each skipped key and goes on" t_verify_warns_and_goes_on

echo "kyokad-keys: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
