#!/usr/bin/env python3
"""Daemon start with N approved devices: kyokad and USBGuard side by side (bench/run.sh).

The same N devices (vendor/product spread over 24 x 1000 models, one serial each, mass-storage
interface 08:06:50) become a signed kyoka policy and a USBGuard rules.conf
(`allow id VVVV:PPPP serial "S" with-interface 08:06:50`). Each daemon is started RUNS times on
this host (natively, no VM) and timed from just before exec to the moment it has its rules in
force and turns to the devices:

- kyokad (`--network off`, a fresh state directory each run): exec -> its "kyokad ready" line
  on stderr. That includes reading the policy, the Ed25519 signature check, parsing, indexing,
  the anti-rollback state (fsynced) and the ledger's start records (fsynced).
- usbguard-daemon 1.1.2 (Debian's, extracted from its .deb, not installed; `-k`, FileAudit):
  exec -> its exit. This host has no USB bus, so the daemon stops at its first device scan,
  which comes right after it loaded the rule file and entered its main loop ("loadFiles:
  /sys/bus/usb/devices: No such file or directory"). It checks no signature.

N=0 is the bare start of each. Prints one line per (daemon, N):
  daemon-load daemon=kyokad n=1000 runs=5 median_ms=... min_ms=... max_ms=... file_kib=...
Usage: bench/daemon-load.py BUILD USBGUARD_ROOT [N...]   (default N: 0 1000 10000 100000)
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(os.environ.get("DAEMON_LOAD_RUNS", "5"))


def devices(n):
    for i in range(n):
        yield "%04x" % (0x1000 + i // 1000 % 24), "%04x" % (i % 1000), "S%07d" % i


def kyoka_policy(path, n):
    with open(path, "w") as f:
        f.write('kyoka_policy = 1;\nserial = 1;\nissued = "2026-11-20T10:15+09:00";\nissuer = "bench";\n'
                'contract = "bench/daemon-load.py";\n'
                'defaults = { usb_hid = "allow"; usb_hub = "allow"; usb_other = "block"; network = "block"; };\n')
        f.write("usb = (\n")
        for i, (v, p, s) in enumerate(devices(n)):
            f.write('  { permit = "P-%d"; vendor = "%s"; product = "%s"; serial = "%s"; interfaces = [ "08:06:50" ]; '
                    'approved_by = "bench"; approved_on = "2026-11-20"; }%s\n' % (i, v, p, s, "," if i < n - 1 else ""))
        f.write(");\n")


def usbguard_rules(path, n):
    with open(path, "w") as f:
        # The same defaults as the kyoka policy: HID-only devices and hubs allowed.
        f.write("allow with-interface equals { 03:*:* }\nallow with-interface equals { 09:00:* }\n")
        for v, p, s in devices(n):
            f.write(f'allow id {v}:{p} serial "{s}" with-interface 08:06:50\n')
    os.chmod(path, 0o600)


def time_kyokad(build, work, n):
    conf = os.path.join(work, f"kyoka-{n}")
    os.makedirs(os.path.join(conf, "keys.d"))
    subprocess.run([os.path.join(build, "policyctl"), "keygen", "--out", os.path.join(work, f"k{n}")],
                   check=True, capture_output=True)
    shutil.copy(os.path.join(work, f"k{n}.pub"), os.path.join(conf, "keys.d"))
    kyoka_policy(os.path.join(conf, "policy.conf"), n)
    subprocess.run([os.path.join(build, "policyctl"), "sign", "--key", os.path.join(work, f"k{n}.key"),
                    os.path.join(conf, "policy.conf")], check=True, capture_output=True)
    times = []
    for r in range(RUNS):
        state, run = os.path.join(work, f"ks{n}-{r}"), os.path.join(work, f"kr{n}-{r}")
        os.makedirs(state)
        os.makedirs(run)
        t0 = time.monotonic()
        p = subprocess.Popen([os.path.join(build, "kyokad"), "--config-dir", conf, "--state-dir", state,
                              "--runtime-dir", run, "--network", "off"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ready = None
        for line in p.stderr:
            if "kyokad ready" in line:
                ready = time.monotonic() - t0
                break
        p.terminate()
        p.communicate(timeout=60)
        if ready is None or "policy in force" not in line:
            raise RuntimeError(f"kyokad with {n} entries did not become ready with the policy: {line}")
        times.append(ready * 1000)
    return times, os.path.getsize(os.path.join(conf, "policy.conf"))


def time_usbguard(root, work, n):
    d = os.path.join(work, f"ug-{n}")
    os.makedirs(d)
    rules = os.path.join(d, "rules.conf")
    usbguard_rules(rules, n)
    conf = os.path.join(d, "usbguard-daemon.conf")
    with open(conf, "w") as f:
        f.write(f"RuleFile={rules}\nImplicitPolicyTarget=block\nPresentDevicePolicy=apply-policy\n"
                "PresentControllerPolicy=keep\nInsertedDevicePolicy=apply-policy\nAuthorizedDefault=none\n"
                "RestoreControllerDeviceState=false\nDeviceManagerBackend=uevent\nIPCAllowedUsers=root\n"
                f"DeviceRulesWithPort=false\nAuditBackend=FileAudit\nAuditFilePath={d}/audit.log\nHidePII=false\n")
    os.chmod(conf, 0o600)
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr/lib/x86_64-linux-gnu"))
    times = []
    for r in range(RUNS):
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(root, "usr/sbin/usbguard-daemon"), "-k", "-c", conf], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        took = time.monotonic() - t0
        if "loadFiles: /sys/bus/usb/devices" not in p.stderr:
            raise RuntimeError(f"usbguard-daemon with {n} rules did not reach its device scan: {p.stderr[-400:]}")
        times.append(took * 1000)
    return times, os.path.getsize(rules)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build, root = os.path.realpath(argv[0]), os.path.realpath(argv[1])
    counts = [int(a) for a in argv[2:]] or [0, 1000, 10000, 100000]
    if os.path.exists("/sys/bus/usb/devices"):
        print("daemon-load: this host has a USB bus; usbguard-daemon would enforce on it: refusing", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="kyoka-daemon-load-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    try:
        for n in counts:
            for name, fn, arg in (("kyokad", time_kyokad, build), ("usbguard", time_usbguard, root)):
                times, size = fn(arg, work, n)
                print(f"daemon-load daemon={name} n={n} runs={len(times)} median_ms={statistics.median(times):.1f} "
                      f"min_ms={min(times):.1f} max_ms={max(times):.1f} file_kib={size // 1024}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
