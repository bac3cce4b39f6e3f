#!/usr/bin/env python3
"""Daemon start with N approved devices: kyokad and USBGuard side by side (bench/run.sh).

The same N devices (vendor/product spread over 24 x 1000 models, one serial each, mass-storage
interface 08:06:50) become a signed kyoka policy and a USBGuard rules.conf
(`allow id VVVV:PPPP serial "S" with-interface 08:06:50`). Each daemon is started RUNS times on
this host (natively, no VM) and timed from just before exec to the moment it has its rules in
force and turns to the devices:

- kyokad (`--network off`), exec -> its "kyokad ready" line on stderr, two ways:
  - start=first: a fresh state directory each run, as on the first boot after the policy was
    copied in by hand: reading the policy, the Ed25519 signature check, parsing, indexing, the
    anti-rollback state, the accepted copy and the compiled image (policy.image) written and
    fsynced, the ledger created, its start records fsynced;
  - start=restart: the policy installed once with `policyctl install` (which verifies it and
    writes STATE_DIR/policy.image) and kyokad started once, then each run a restart on that
    state directory, as at every boot after: reading the policy, the Ed25519 signature check and
    the SHA-256 of the bytes as before, the image read instead of the parse, the ledger's start
    records fsynced. VmRSS and VmHWM (its peak so far) are read at "ready" (rss_kb, hwm_kb, median).
- usbguard-daemon 1.1.2 (Debian's, extracted from its .deb, not installed; `-k`, FileAudit):
  exec -> its exit. This host has no USB bus, so the daemon stops at its first device scan,
  which comes right after it loaded the rule file and entered its main loop ("loadFiles:
  /sys/bus/usb/devices: No such file or directory"). It checks no signature. Its peak RSS
  (getrusage ru_maxrss of the exited process: rules loaded, maxrss_kb, median) is the figure
  to hold against kyokad's hwm_kb.

N=0 is the bare start of each. Prints one line per (daemon, start, N):
  daemon-load daemon=kyokad start=restart n=1000 runs=5 median_ms=... min_ms=... max_ms=... file_kib=... rss_kb=... hwm_kb=...
  daemon-load daemon=usbguard n=1000 runs=5 median_ms=... min_ms=... max_ms=... file_kib=... maxrss_kb=...
Usage: bench/daemon-load.py BUILD USBGUARD_ROOT [N...]   (default N: 0 1000 10000 100000;
1000000 is optional: about 160 MB of policy and a minute of USBGuard per run)
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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


def start_kyokad(build, conf, state, run):
    """Starts kyokad, returns (ms to its "kyokad ready" line, {rss_kb, hwm_kb}: VmRSS, VmHWM then); stops it."""
    os.makedirs(state, exist_ok=True)
    os.makedirs(run, exist_ok=True)
    t0 = time.monotonic()
    p = subprocess.Popen([os.path.join(build, "kyokad"), "--config-dir", conf, "--state-dir", state,
                          "--runtime-dir", run, "--network", "off"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ready, mem, line = None, {}, ""
    for line in p.stderr:
        if "kyokad ready" in line:
            ready = time.monotonic() - t0
            with open(f"/proc/{p.pid}/status") as f:
                for l in f:
                    if l.startswith(("VmRSS:", "VmHWM:")):
                        mem["rss_kb" if l.startswith("VmRSS:") else "hwm_kb"] = int(l.split()[1])
            break
    p.terminate()
    p.communicate(timeout=120)
    if ready is None or "policy in force" not in line:
        raise RuntimeError(f"kyokad ({conf}) did not become ready with the policy: {line}")
    return ready * 1000, mem


def time_kyokad(build, work, n):
    conf = os.path.join(work, f"kyoka-{n}")
    os.makedirs(os.path.join(conf, "keys.d"))
    ctl = os.path.join(build, "policyctl")
    subprocess.run([ctl, "keygen", "--out", os.path.join(work, f"k{n}")], check=True, capture_output=True)
    shutil.copy(os.path.join(work, f"k{n}.pub"), os.path.join(conf, "keys.d"))
    staged = os.path.join(work, f"staged-{n}.conf")
    kyoka_policy(staged, n)
    subprocess.run([ctl, "sign", "--key", os.path.join(work, f"k{n}.key"), staged], check=True, capture_output=True)
    shutil.copy(staged, os.path.join(conf, "policy.conf"))
    shutil.copy(staged + ".sig", os.path.join(conf, "policy.conf.sig"))
    size = os.path.getsize(staged)

    first = [start_kyokad(build, conf, os.path.join(work, f"ks{n}-{r}"), os.path.join(work, f"kr{n}-{r}"))
             for r in range(RUNS)]

    # The way a policy is put in force: policyctl install (it verifies, writes policy.image);
    # --force: the bench policy blocks every link, and kyokad runs with --network off here.
    state, run = os.path.join(work, f"ks{n}-installed"), os.path.join(work, f"kr{n}-installed")
    os.makedirs(state)
    subprocess.run([ctl, "--config-dir", conf, "--state-dir", state, "--runtime-dir", run, "install", "--force",
                    staged], check=True, capture_output=True)
    if not os.path.exists(os.path.join(state, "policy.image")):
        raise RuntimeError("policyctl install wrote no policy.image")
    start_kyokad(build, conf, state, run)      # the first boot after the install: the ledger is made
    restart = [start_kyokad(build, conf, state, run) for _ in range(RUNS)]
    return {"first": first, "restart": restart}, size


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
        with tempfile.TemporaryFile("w+") as err:
            p = subprocess.Popen([os.path.join(root, "usr/sbin/usbguard-daemon"), "-k", "-c", conf], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            timer = threading.Timer(600, p.kill)    # as subprocess.run's timeout did
            timer.start()
            _, _, usage = os.wait4(p.pid, 0)        # ru_maxrss: its peak, in KiB
            timer.cancel()
            took = time.monotonic() - t0
            p.returncode = 0
            err.seek(0)
            stderr = err.read()
        if "loadFiles: /sys/bus/usb/devices" not in stderr:
            raise RuntimeError(f"usbguard-daemon with {n} rules did not reach its device scan: {stderr[-400:]}")
        times.append((took * 1000, {"maxrss_kb": usage.ru_maxrss}))
    return {None: times}, os.path.getsize(rules)


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
                kinds, size = fn(arg, work, n)
                for kind, runs in kinds.items():
                    times = [t for t, _ in runs]
                    extra = "".join(f" {k}={statistics.median(m[k] for _, m in runs):.0f}"
                                    for k in ("rss_kb", "hwm_kb", "maxrss_kb") if all(k in m for _, m in runs))
                    print(f"daemon-load daemon={name}{f' start={kind}' if kind else ''} n={n} runs={len(times)} "
                          f"median_ms={statistics.median(times):.1f} min_ms={min(times):.1f} max_ms={max(times):.1f} "
                          f"file_kib={size // 1024}{extra}", flush=True)
            shutil.rmtree(work, ignore_errors=True)     # 1,000,000 entries: ~1 GB of files per size
            os.makedirs(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
