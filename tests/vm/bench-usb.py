#!/usr/bin/env python3
"""kyokad and USBGuard side by side on a real kernel (QEMU, TCG), for bench/USB.md and
bench/RESULTS.md: decision latency, VmRSS, idle cost.

One boot; the daemons take turns. In the guest, `uevent-stamp` (tests/vm/uevent-stamp.c, built
here) stamps every kernel uevent with CLOCK_MONOTONIC, and each daemon's output goes through
`uevent-stamp --stdin`, which stamps each line with the same clock. Per plug of a USB stick:

- t_add, t_bind: the kernel's `add` and `bind` uevents of the usb_device (both daemons decide
  on `add`; the device's sysfs reads wait until its generic driver has bound);
- t_auth (allowed devices only): the first uevent the kernel emits *inside* the daemon's write
  of authorized=1 (`change` of the device, or `add` of its first interface);
- t_log: the daemon's decision record (USBGuard's audit line; kyokad's ledger commit, stamped
  by kyokad itself with KYOKAD_TRACE=1, and its report line after the sysfs writes).
- kyokad's stages (daemon/trace.h): where its time goes, in bench/USB.md.

Also VmRSS idle and after the plug cycles, and over IDLE seconds of idle the context switches
of all threads and then (another IDLE seconds) the system calls under `strace -c -f`.

    tests/vm/bench-usb.py [--cycles N] [--idle S] [--daemons kyokad,usbguard]
                                  [--soak N [--soak-daemons kyokad]]
                                  default 50 allowed + 50 blocked plugs each, 60 s idle, no soak
Raw numbers: build/vm/bench-usb.txt; the table alone: build/vm/bench-usb.txt.md; summary:
bench/USB.md (rewritten). USBGuard comes from bench/usbguard-root.sh (Debian's .debs).
"""

import argparse
import bisect
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from vm import VM  # noqa: E402
from kyoka_guest import BUILD, LOG, Approver, Kyokad, auth_is, has_usb, make_overlay, vmrss_kb  # noqa: E402

SERIAL_OK = "BENCH-OK-1"
SERIAL_NO = "BENCH-NO-1"
STAMP_SRC = os.path.join(HERE, "uevent-stamp.c")
UEVENTS = "/tmp/uevents.log"


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summary(values):
    return {"n": len(values), "median": statistics.median(values) if values else float("nan"),
            "p95": pct(values, 95), "min": min(values, default=float("nan")), "max": max(values, default=float("nan"))}


TRACE_RE = re.compile(r"\d+ L kyokad-trace (\d+) (\S+) (\S+)$")
# kyokad's stages of one plug (daemon/trace.h), in the order they happen, and what each interval
# between one and the next is. "commit-done" is the ledger's (its name is "ledger").
STAGES = [
    ("k-add", "the kernel's `add` uevent (stamper)"),
    ("uevent-add", "`add` received by kyokad (netlink wake-up)"),
    ("k-bind", "the kernel's `bind` uevent: device lock released after the generic driver's probe"),
    ("uevent-bind", "`bind` received by kyokad"),
    ("identity-submit", "on the loop: device tracked, identity read queued (before: port and seat read here)"),
    ("identity-start", "worker thread picks it up (hand-off)"),
    ("identity-port", "the port computed from sysfs links (worker)"),
    ("identity-seat", "the seat: udev database of the device and its parents (worker)"),
    ("identity-devnum", "`devnum` read"),
    ("identity-done", "`descriptors`, `serial`, `manufacturer`, `product` read (worker)"),
    ("identity-delivered", "result back on the loop (eventfd)"),
    ("matched", "policy match"),
    ("recorded", "journal entry sent, ledger record built and queued (memory)"),
    ("commit-start", "loop reaches the deferred commit"),
    ("commit-done", "SQLite transaction: insert(s), COMMIT = WAL write + fsync"),
    ("apply-held", "decided and recorded before the `bind`: the writes wait for it"),
    ("apply-submit", "sysfs writes submitted (after the commit and the `bind`)"),
    ("apply-start", "worker thread picks it up (hand-off)"),
    ("authorized", "access file written, `authorized` read and 1 written (kernel sets the configuration)"),
    ("interfaces", "each interface's `authorized` = 1, `drivers_probe` (the driver binds)"),
    ("apply-done", "worker finishes"),
    ("apply-delivered", "result back on the loop, report queued"),
    ("report", "the report line (`usb connected ... allow`) on stderr"),
]


LIMITS = """
What kyokad does that USBGuard does not, and what it costs. The ledger commit sits between the
decision and the `authorized` write on purpose: no device is usable before its decision is on
disk. It is one SQLite transaction in WAL mode with `synchronous=FULL`: one WAL page written and
one `fdatasync` (strace of a steady-state append + commit: exactly one; SQLite's automatic
checkpoint adds a second, and the database's pages, once every 1000 WAL pages, about every 400
plugs). In this guest the state directory is in the initramfs (RAM): the fsync returns at once,
and `commit-done` is SQLite's CPU time under TCG; on a real disk the stage is that disk's flush
latency, which is the physical limit of `add` → authorised for kyoka (USBGuard's audit line is
not synced). A storm shares one commit among every decision of a turn of the loop. kyokad's
authorisation waits for the kernel's `bind` (`apply-held` marks a decision that was ready before
it); USBGuard writes as soon as it has decided, which on this kernel can precede the generic
driver's probe. kyokad's report line follows the sysfs writes (`interfaces`: the interfaces
authorised and their drivers probed) by design, so that whoever sees it finds the kernel's state.
"""


KYOKAD_RE = re.compile(r"(\d+) L kyokad: usb connected (\S+) .*: (allow|block|read-only) ")
USBGUARD_RE = re.compile(r"(\d+) L .*device\.system_name='\S*/([0-9]+-[0-9.]+)' target\.new='(allow|block|reject)'"
                         r".*type='Policy\.Device\.Update'")


def parse(uevents, daemon_log, sysname, record_re):
    """Splits the stamped streams into plugs of SYSNAME (one kernel `add` of the usb_device
    each) and measures them: add, bind, the first uevent inside the authorisation, the
    daemon's decision record."""
    ev = []
    for line in uevents.splitlines():
        p = line.split(" ")
        if len(p) >= 6 and p[1] == "K":
            ev.append((int(p[0]), "K", p[2], p[3], p[5]))
    for line in daemon_log.splitlines():
        m = record_re.match(line)
        if m and m.group(2) == sysname:
            ev.append((int(m.group(1)), "L", m.group(3), "", ""))
    traces = []
    for line in daemon_log.splitlines():
        m = TRACE_RE.match(line)
        if m and m.group(2) in (sysname, "ledger"):
            traces.append((int(m.group(1)), m.group(2), m.group(3)))
    ev.sort()
    plugs = []
    cur = None
    dev_re = re.compile(rf"/{re.escape(sysname)}$")
    if_re = re.compile(rf"/{re.escape(sysname)}/{re.escape(sysname)}:1\.0$")
    for t, kind, action, path, devtype in ev:
        if kind == "K" and action == "add" and devtype == "usb_device" and dev_re.search(path):
            cur = {"add": t, "bind": None, "auth": None, "log": None, "decision": None}
            plugs.append(cur)
        elif cur is None:
            continue
        elif kind == "K" and action == "bind" and devtype == "usb_device" and dev_re.search(path) and cur["bind"] is None:
            cur["bind"] = t
        elif kind == "K" and cur["auth"] is None and (
                (action == "change" and dev_re.search(path)) or (action == "add" and if_re.search(path))):
            cur["auth"] = t
        elif kind == "L" and cur["log"] is None:
            cur["log"], cur["decision"] = t, action
    attach_traces(plugs, sorted(traces))
    return plugs


def attach_traces(plugs, traces):
    """kyokad's own stamps (KYOKAD_TRACE=1) to the plug they belong to: a stage of the device to
    the last plug whose kernel `add` came before it (kyokad may read the `add` a hair before the
    stamper does: 5 ms of slack), the ledger's first commit after the decision was recorded."""
    adds = [p["add"] for p in plugs]
    for p in plugs:
        p["stages"] = {"k-add": p["add"]}
        if p["bind"]:
            p["stages"]["k-bind"] = p["bind"]
    for t, name, stage in traces:
        if name == "ledger":
            continue
        i = bisect.bisect_right(adds, t + 5_000_000) - 1
        if i >= 0 and stage not in plugs[i]["stages"]:
            plugs[i]["stages"][stage] = t
    commits = [(t, stage) for t, name, stage in traces if name == "ledger"]
    for p in plugs:
        st = p["stages"]
        if "recorded" not in st:
            continue
        start = next((t for t, s in commits if s == "commit-start" and t >= st["recorded"]), None)
        done = next((t for t, s in commits if s == "commit-done" and t >= st["recorded"]), None)
        if start and done:
            st["commit-start"], st["commit-done"] = start, done
        if p["log"]:
            st["report"] = p["log"]


# --- USBGuard in the guest ------------------------------------------------------------------------
USBGUARD_CONF = """RuleFile=/etc/usbguard/rules.conf
ImplicitPolicyTarget=block
PresentDevicePolicy=apply-policy
PresentControllerPolicy=keep
InsertedDevicePolicy=apply-policy
AuthorizedDefault=none
RestoreControllerDeviceState=false
DeviceManagerBackend=uevent
IPCAllowedUsers=root
DeviceRulesWithPort=false
AuditBackend=FileAudit
AuditFilePath=/dev/stdout
HidePII=false
"""
# The kyoka policy of this bench, as USBGuard rules: HID-only devices and hubs allowed (kyoka's
# defaults usb_hid/usb_hub), the approved stick by vendor, product, serial and interface,
# everything else blocked (ImplicitPolicyTarget).
USBGUARD_RULES = ('allow with-interface equals { 03:*:* }\nallow with-interface equals { 09:00:* }\n'
                  f'allow id 46f4:0001 serial "{SERIAL_OK}" with-interface 08:06:50\n')


def usbguard_overlay(root, overlay):
    """Debian's usbguard (bench/usbguard-root.sh extracted it) into the overlay. Its binaries go
    in without the x bit (the overlay packer resolves executables' libraries with the host's ldd,
    which cannot find libusbguard/libqb); the guest sets it. Their libraries are copied here."""
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr/lib/x86_64-linux-gnu"))
    libs = set()
    for b in ("usr/sbin/usbguard-daemon", "usr/bin/usbguard"):
        dst = os.path.join(overlay, "opt/usbguard", os.path.basename(b))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(os.path.join(root, b), dst)
        os.chmod(dst, 0o644)
        out = subprocess.run(["ldd", os.path.join(root, b)], env=env, capture_output=True, text=True, check=True).stdout
        libs.update(m.group(1) for m in re.finditer(r"=> (/\S+)", out))
    for lib in libs:
        guest = lib[len(root):] if lib.startswith(root + "/") else lib
        dst = os.path.join(overlay, guest.lstrip("/"))
        if os.path.exists(dst):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(lib, dst)
        if lib.startswith(root + "/"):
            os.chmod(dst, 0o644)
    d = os.path.join(overlay, "etc/usbguard")
    os.makedirs(d, exist_ok=True)
    for name, text in (("usbguard-daemon.conf", USBGUARD_CONF), ("rules.conf", USBGUARD_RULES)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(d, name), 0o600)


class Daemon:
    """One daemon under test in the guest: start (output stamped), pid, decision-record regex."""

    def __init__(self, vm, name):
        self.vm, self.name = vm, name
        self.log = LOG if name == "kyokad" else "/tmp/usbguard.log"
        self.record_re = KYOKAD_RE if name == "kyokad" else USBGUARD_RE
        self.record_grep = ("usb connected 2-1 " if name == "kyokad" else
                            "usb2/2-1' target.new=.*Policy.Device.Update")
        self.pid = None

    def start(self):
        vm = self.vm
        if self.name == "kyokad":
            # KYOKAD_TRACE=1: kyokad stamps each stage of a decision (daemon/trace.h).
            self.pid = Kyokad(vm).start(pipe="uevent-stamp --stdin", env="KYOKAD_TRACE=1")
        else:
            vm.run("chmod 0755 /opt/usbguard/*; mkdir -p /var/log/usbguard; "
                   "(/opt/usbguard/usbguard-daemon -k -c /etc/usbguard/usbguard-daemon.conf </dev/null 2>&1 "
                   f"| uevent-stamp --stdin >>{self.log} 2>&1 &)", check=True)
            if vm.wait_for("/opt/usbguard/usbguard get-parameter ImplicitPolicyTarget", timeout=30) is None:
                raise RuntimeError("usbguard-daemon did not answer over its IPC:\n"
                                   + vm.run(f"cat {self.log}")[1][-2000:])
            self.pid = vm.run("pidof usbguard-daemon")[1].split()[0]
        return self.pid

    def stop(self):
        self.vm.run(f"kill {self.pid}; i=0; while [ -d /proc/{self.pid} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done")

    def records(self):
        return int(self.vm.run(f"grep -c {shlex.quote(self.record_grep)} {self.log} || true")[1].strip() or 0)


def ctxt_switches(vm, pid):
    """Voluntary and involuntary context switches, summed over every thread of PID."""
    rc, out = vm.run(f"cat /proc/{pid}/task/*/status")
    vol = sum(int(m) for m in re.findall(r"^voluntary_ctxt_switches:\s*(\d+)", out, re.M))
    invol = sum(int(m) for m in re.findall(r"^nonvoluntary_ctxt_switches:\s*(\d+)", out, re.M))
    threads = len(re.findall(r"^Pid:", out, re.M))
    return vol, invol, threads


def idle_cost(vm, pid, seconds):
    """Over SECONDS of idle: context switches (no tracer attached), then, over another SECONDS,
    the system calls of every thread as strace -c -f counts them."""
    v0, i0, threads = ctxt_switches(vm, pid)
    vm.run(f"sleep {seconds}", timeout=seconds + 30)
    v1, i1, _ = ctxt_switches(vm, pid)
    rc, out = vm.run(f"timeout -s INT {seconds} strace -c -f -q -o /tmp/strace.txt -p {pid} >/dev/null 2>&1; "
                     "cat /tmp/strace.txt", timeout=seconds + 30)
    total = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?total$", out, re.M)
    calls = [(m.group(2), int(m.group(1))) for m in
             re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", out, re.M) if m.group(2) != "total"]
    return {"threads": threads, "voluntary": v1 - v0, "involuntary": i1 - i0,
            "syscalls": int(total.group(1)) if total else 0,
            "top": ", ".join(f"{n} {c}" for n, c in sorted(calls, key=lambda x: -x[1])[:4]) or "none",
            "strace": out}


def plug_cycles(vm, d, name, n, first=0):
    """N plugs, alternately the approved stick and the other one, each unplugged after its
    decision. Returns (expected decisions, waits timed out)."""
    failures, order = 0, []
    for i in range(first, first + n):
        allowed = i % 2 == 0
        dev = f"{name[0]}{i}"
        n_before = d.records()
        vm.plug_usb_storage(dev, serial=SERIAL_OK if allowed else SERIAL_NO, port="1", image_size_mb=8)
        # Wait for the daemon's decision to be on record and, for an allowed stick, in the kernel.
        cond = f"[ $(grep -c {shlex.quote(d.record_grep)} {d.log}) -gt {n_before} ]"
        if allowed:
            cond += f" && {auth_is('1', 1)}"
        if vm.wait_for(cond, timeout=20) is None:
            failures += 1
        order.append("allow" if allowed else "block")
        vm.unplug(dev)
        vm.wait_for(f"! {has_usb('1')}", timeout=20)
    return order, failures


def stage_stats(plugs, decision):
    """Per stage of kyokad's trace: the time from the kernel's `add`, and from the stage before it
    in the same plug (stages sorted by time), over the plugs with DECISION."""
    since_add, since_prev = {}, {}
    for p in plugs:
        if p["decision"] != decision or not p.get("stages"):
            continue
        st = sorted(p["stages"].items(), key=lambda kv: kv[1])
        for j, (stage, t) in enumerate(st):
            since_add.setdefault(stage, []).append((t - p["add"]) / 1e6)
            if j:
                since_prev.setdefault(stage, []).append((t - st[j - 1][1]) / 1e6)
    return {k: (summary(v), summary(since_prev.get(k, []))) for k, v in since_add.items()}


def run_daemon(vm, name, cycles, idle, soak=0):
    """One daemon's phase in the shared guest: start, idle memory and cost, plug cycles, and
    SOAK plugs more after them for memory growth."""
    d = Daemon(vm, name)
    first_uevent = int(vm.run(f"wc -l < {UEVENTS}")[1].strip())
    pid = d.start()
    vm.wait_for("sleep 2; true", timeout=10)      # let start-up allocations settle
    res = {"name": name, "pid": pid, "rss_idle": vmrss_kb(vm, pid)}
    res["idle"] = idle_cost(vm, pid, idle) if idle else None
    vm.run("dmesg -c >/dev/null")
    order, failures = plug_cycles(vm, d, name, 2 * cycles)
    vm.wait_for("sleep 1; true", timeout=10)
    res["rss_after"] = vmrss_kb(vm, pid)
    res["dmesg_errors"] = vm.run("dmesg | grep -cE \"can't set config|error -110|device not accepting\" || true")[1].strip()
    uevents = vm.read_file(UEVENTS).decode("utf-8", "backslashreplace").splitlines()[first_uevent:]
    dlog = vm.read_file(d.log).decode("utf-8", "backslashreplace")
    if soak:
        # Memory over many more plugs (not in the latency figures): the growth after the first cycles.
        t_soak = time.monotonic()
        s_order, s_fail = plug_cycles(vm, d, name, soak, first=2 * cycles)
        vm.wait_for("sleep 1; true", timeout=10)
        res["rss_soak"] = vmrss_kb(vm, pid)
        res["soak"] = {"plugs": len(s_order), "failures": s_fail, "seconds": time.monotonic() - t_soak,
                       "dmesg_errors": vm.run("dmesg | grep -cE \"can't set config|error -110|device not accepting\" || true")[1].strip()}
        failures += s_fail
    res["alive"] = vm.run(f"[ -d /proc/{pid} ]")[0] == 0
    d.stop()
    with open(os.path.join(vm.log_dir, f"{name}.log"), "w") as f:
        f.write(dlog)
    plugs = parse("\n".join(uevents), dlog, "2-1", d.record_re)
    rows = []
    m = {"add_auth": [], "bind_auth": [], "add_rec_allow": [], "add_rec_block": [],
         "add_report_allow": [], "add_report_block": []}
    for i, p in enumerate(plugs):
        expected = order[i] if i < len(order) else "?"
        # The decision record: kyokad's ledger commit (fsync'd) as kyokad stamps it, where traced;
        # its report line otherwise (which follows the sysfs writes, by design).
        p["rec"] = p["stages"].get("commit-done") or p["log"]
        ms = {k: (p[b] - p[a]) / 1e6 if p[a] and p[b] else None
              for k, a, b in (("add_auth", "add", "auth"), ("bind_auth", "bind", "auth"), ("add_rec", "add", "rec"),
                              ("add_report", "add", "log"))}
        rows.append((i, expected, p["decision"], ms["add_auth"], ms["bind_auth"], ms["add_rec"]))
        if p["decision"] == "allow":
            for k in ("add_auth", "bind_auth"):
                if ms[k] is not None:
                    m[k].append(ms[k])
            if ms["add_rec"] is not None:
                m["add_rec_allow"].append(ms["add_rec"])
            if ms["add_report"] is not None:
                m["add_report_allow"].append(ms["add_report"])
        elif p["decision"] in ("block", "reject"):
            if ms["add_rec"] is not None:
                m["add_rec_block"].append(ms["add_rec"])
            if ms["add_report"] is not None:
                m["add_report_block"].append(ms["add_report"])
    res["stages"] = {dec: stage_stats(plugs, dec) for dec in ("allow", "block")}
    res.update(rows=rows, stats={k: summary(v) for k, v in m.items()}, plugs=len(plugs), order=order,
               failures=failures, mismatched=sum(1 for r in rows if r[1] != {"reject": "block"}.get(r[2], r[2])))
    return res


def fmt(s):
    return f"n={s['n']} median={s['median']:.3f} p95={s['p95']:.3f} min={s['min']:.3f} max={s['max']:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=50, help="plugs per kind (allowed, blocked)")
    ap.add_argument("--idle", type=int, default=60, help="seconds of idle for context switches, then for strace")
    ap.add_argument("--daemons", default="kyokad,usbguard", help="kyokad, usbguard or both (comma-separated)")
    ap.add_argument("--soak", type=int, default=0,
                    help="plugs more after the cycles, for VmRSS growth only (e.g. 1000; not in make check)")
    ap.add_argument("--soak-daemons", default="kyokad", help="which daemons the soak runs for (comma-separated)")
    ap.add_argument("--usbguard-root", default=os.path.join(BUILD, "vm", "usbguard", "root"),
                    help="Debian's usbguard extracted (bench/usbguard-root.sh)")
    ap.add_argument("--out", default=os.path.join(BUILD, "vm", "bench-usb.txt"))
    ap.add_argument("--md", default=os.path.join(TOP, "bench", "USB.md"))
    a = ap.parse_args()
    daemons = a.daemons.split(",")

    work = tempfile.mkdtemp(prefix="kyoka-bench-usb-")
    stamp = os.path.join(work, "uevent-stamp")
    subprocess.run(["cc", "-O2", "-Wall", "-o", stamp, STAMP_SRC], check=True)
    approver = Approver(work)
    approver.approve_usb(SERIAL_OK, "P-BENCH")
    approver.sign()
    overlay = make_overlay(work, approver, extra=[(stamp, "/usr/bin/uevent-stamp"),
                                                  (shutil.which("strace") or "/usr/bin/strace", "/usr/bin/strace")])
    if "usbguard" in daemons:
        if not os.path.exists(os.path.join(a.usbguard_root, "usr/sbin/usbguard-daemon")):
            subprocess.run([os.path.join(TOP, "bench", "usbguard-root.sh"), os.path.dirname(a.usbguard_root)],
                           check=True, stdout=subprocess.DEVNULL)
        usbguard_overlay(a.usbguard_root, overlay)
    load = os.getloadavg()
    t0 = time.monotonic()
    results = []
    try:
        with VM("bench-usb", overlays=[overlay]) as vm:
            vm.run(f"(uevent-stamp > {UEVENTS} 2>&1 &) ", check=True)
            vm.wait_for(f"grep -q ' R ready' {UEVENTS}", timeout=10)
            for name in daemons:
                results.append(run_daemon(vm, name, a.cycles, a.idle, a.soak if name in a.soak_daemons.split(",") else 0))
            boot = vm.boot_seconds
            with open(os.path.join(vm.log_dir, "uevents.log"), "wb") as f:
                f.write(vm.read_file(UEVENTS))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.monotonic() - t0

    date = time.strftime("%Y-%m-%d %H:%M %Z")
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except Exception:
        pass
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(f"# bench-usb {date}; host {os.cpu_count()} CPU(s) {cpu}; {platform.release()}; "
                f"load before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; boot {boot:.2f} s; wall {wall:.1f} s\n")
        for r in results:
            n = r["name"]
            f.write(f"# {n}: plugs {r['plugs']} (expected {len(r['order'])}), wait failures {r['failures']}, "
                    f"decision mismatches {r['mismatched']}, alive {r['alive']}, dmesg errors {r['dmesg_errors']}\n")
            f.write(f"{n} rss_idle_kb={r['rss_idle']} rss_after_kb={r['rss_after']} cycles={len(r['order'])}\n")
            if r.get("soak"):
                so = r["soak"]
                f.write(f"{n} soak_plugs={so['plugs']} rss_soak_kb={r['rss_soak']} soak_growth_kb={r['rss_soak'] - r['rss_after']} "
                        f"soak_failures={so['failures']} soak_dmesg_errors={so['dmesg_errors']} soak_seconds={so['seconds']:.0f}\n")
            if r["idle"]:
                i = r["idle"]
                f.write(f"{n} idle_seconds={a.idle} threads={i['threads']} voluntary_ctxt={i['voluntary']} "
                        f"involuntary_ctxt={i['involuntary']} syscalls={i['syscalls']} top=\"{i['top']}\"\n")
            for k, s in r["stats"].items():
                f.write(f"{n} {k}: {fmt(s)} ms\n")
            for dec, st in r["stages"].items():
                for stage, (sa, sp) in sorted(st.items(), key=lambda kv: kv[1][0]["median"]):
                    f.write(f"{n} stage {dec} {stage}: since_add median={sa['median']:.3f} p95={sa['p95']:.3f} "
                            f"since_prev median={sp['median']:.3f} p95={sp['p95']:.3f} n={sa['n']} ms\n")
            f.write(f"# {n}: i expected decision add_to_auth_ms bind_to_auth_ms add_to_record_ms\n")
            for row in r["rows"]:
                f.write(f"{n} {row[0]} {row[1]} {row[2]} " + " ".join("-" if v is None else f"{v:.3f}" for v in row[3:]) + "\n")
            if r["idle"]:
                f.write(f"# {n}: strace -c -f over {a.idle} s of idle\n" + "".join(f"#   {l}\n" for l in r["idle"]["strace"].splitlines()))

    def cell(r, k, what="median"):
        s = r["stats"][k]
        return f"{s[what]:.1f} ms" if s["n"] else "—"

    by = {r["name"]: r for r in results}
    names = [n for n in ("kyokad", "usbguard") if n in by]
    head = "| | " + " | ".join("kyoka" if n == "kyokad" else "USBGuard 1.1.2" for n in names) + " |\n|---|" + "---:|" * len(names)
    lines = [head]

    def row(label, f):
        lines.append(f"| {label} | " + " | ".join(f(by[n]) for n in names) + " |")
    row("allowed stick: `add` uevent → authorised, median / p95 (n)",
        lambda r: f"{cell(r, 'add_auth')} / {cell(r, 'add_auth', 'p95')} ({r['stats']['add_auth']['n']})")
    row("allowed stick: `bind` uevent → authorised, median / p95",
        lambda r: f"{cell(r, 'bind_auth')} / {cell(r, 'bind_auth', 'p95')}")
    row("allowed stick: `add` → decision record, median / p95",
        lambda r: f"{cell(r, 'add_rec_allow')} / {cell(r, 'add_rec_allow', 'p95')}")
    row("blocked stick: `add` → decision record, median / p95 (n)",
        lambda r: f"{cell(r, 'add_rec_block')} / {cell(r, 'add_rec_block', 'p95')} ({r['stats']['add_rec_block']['n']})")
    if "kyokad" in by and by["kyokad"]["stats"]["add_report_allow"]["n"]:
        lines.append("| … kyoka's report line, after the sysfs writes (allowed / blocked), median | "
                     + " | ".join((f"{cell(by[n], 'add_report_allow')} / {cell(by[n], 'add_report_block')}"
                                   if n == "kyokad" else "—") for n in names) + " |")
    row("VmRSS idle → after the plug cycles",
        lambda r: f"{r['rss_idle']} → {r['rss_after']} kB ({len(r['order'])} plugs)")
    if any(by[n].get("soak") for n in names):
        row("VmRSS growth over the soak after them",
            lambda r: f"{r['rss_after']} → {r['rss_soak']} kB: {r['rss_soak'] - r['rss_after']:+d} kB ({r['soak']['plugs']} plugs)"
            if r.get("soak") else "—")
    if all(by[n]["idle"] for n in names):
        row(f"idle {a.idle} s: context switches, voluntary + involuntary (threads)",
            lambda r: f"{r['idle']['voluntary']} + {r['idle']['involuntary']} ({r['idle']['threads']})")
        row(f"idle {a.idle} s: system calls (strace -c -f)", lambda r: f"{r['idle']['syscalls']}")
    row("kernel errors in dmesg during the cycles (can't set config, -110)", lambda r: r["dmesg_errors"])
    row("plugs seen / decisions other than expected / waits timed out",
        lambda r: f"{r['plugs']}/{len(r['order'])} / {r['mismatched']} / {r['failures']}")
    table = "\n".join(lines)
    breakdown = ""
    if "kyokad" in by and any(by["kyokad"]["stages"][dec] for dec in ("allow", "block")):
        meaning = dict(STAGES)
        bl = ["| stage (kyokad's stamp, or the kernel's uevent) | what the interval before it is | allowed: from `add` | "
              "allowed: from the stage before | blocked: from `add` | blocked: from the stage before |",
              "|---|---|---:|---:|---:|---:|"]
        st_a, st_b = by["kyokad"]["stages"]["allow"], by["kyokad"]["stages"]["block"]
        order_ = sorted(set(st_a) | set(st_b), key=lambda k: (st_a.get(k) or st_b.get(k))[0]["median"])

        def c(st, k, which):
            if k not in st or not st[k][which]["n"]:
                return "—"
            s_ = st[k][which]
            return f"{s_['median']:.1f} ({s_['p95']:.1f})"
        for k in order_:
            bl.append(f"| `{k}` | {meaning.get(k, '')} | {c(st_a, k, 0)} | {c(st_a, k, 1)} | {c(st_b, k, 0)} | {c(st_b, k, 1)} |")
        breakdown = ("\n## Where kyokad's time goes\n\nkyokad started with `KYOKAD_TRACE=1` (daemon/trace.h) stamps each "
                     "stage of a decision with CLOCK_MONOTONIC, the stamper's clock. Median (p95) in ms over the plugs "
                     "of this run; stages in the order of their medians, each plug's stages sorted by time for "
                     "\"from the stage before\".\n\n" + "\n".join(bl) + "\n" + LIMITS)
    with open(a.out + ".md", "w") as f:      # the table alone, for bench/run.sh
        f.write(table + "\n")

    md = f"""# kyokad and USBGuard on a real kernel: decision latency, memory, idle cost

Generated by `tests/vm/bench-usb.py` on {date} — do not edit by hand. Raw numbers:
`build/vm/bench-usb.txt` (one line per plug, strace tables).

Guest: the pinned Debian kernel of `tests/vm/kernel.version` in QEMU, **TCG (software
emulation, no KVM)**, 2 vCPUs, 512 MiB, qemu-xhci. Host: {os.cpu_count()} CPU(s), {cpu}; load
average before the run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. Under TCG every guest
instruction is emulated, so these times are an upper bound for real hardware.

One boot; the daemons take turns in it ({", ".join(names)}), each alone: start, 2 s to settle,
VmRSS; {a.idle} s of idle counting context switches of all its threads
(`/proc/PID/task/*/status`, no tracer attached), then {a.idle} s more under `strace -c -f -p PID`
(system calls of all threads); then {2 * a.cycles} plugs of one QEMU usb-storage stick
(46f4:0001) on the same port, alternately with the approved serial and an unapproved one, each
unplugged after the decision; VmRSS again; stopped. The same policy for both: HID-only devices
and hubs allowed, the stick with serial `{SERIAL_OK}` and interface 08:06:50 allowed, everything
else blocked — kyoka's signed policy, and USBGuard's `rules.conf`:
```
{USBGUARD_RULES.rstrip()}
```
USBGuard is Debian 12's `usbguard` 1.1.2 (`bench/usbguard-root.sh` extracts the .debs; not
installed), run as `usbguard-daemon -k -c usbguard-daemon.conf` with `ImplicitPolicyTarget=block`,
`InsertedDevicePolicy=apply-policy`, `AuthorizedDefault=none`, `FileAudit` to its stdout. kyokad
runs `--network off`.

Method: in the guest a netlink listener (`uevent-stamp`) stamps every kernel uevent with
CLOCK_MONOTONIC, and each daemon's output goes through the same stamper (kyokad's stderr
record line; USBGuard's `Policy.Device.Update` audit line). Per plug:
- **`add`**: the kernel's first uevent of the usb_device. Both daemons decide on it. kyokad
  then writes `authorized` only after the later **`bind`** (the generic driver's probe): an
  authorisation before it races the probe, which sets the configuration again and brings the
  interfaces back unauthorised (kyokad keeps `interface_authorized_default` at 0; seen once in
  20 plugs of test-kyokad-usb.py). The identity read and the ledger commit overlap that wait.
- **authorised**: the first uevent the kernel emits inside the daemon's write of
  `authorized=1` (the device's `change`, or the `add` of its interface).
- **decision record**: for kyokad, the return of its ledger commit (the record is in SQLite's
  WAL and fsync'd: durable), as kyokad stamps it (`KYOKAD_TRACE=1`); its report line follows the
  sysfs writes by design and is given on its own row. For USBGuard, its audit line (written to
  its stdout, not synced). For a blocked stick nothing is written to sysfs: the kernel already
  holds it unauthorised.

{table}
{breakdown}
Boot {boot:.1f} s, whole run {wall:.0f} s. Reproduce: `make all && tests/vm/build-image.sh &&
tests/vm/bench-usb.py` (`--cycles N` plugs of each kind, `--idle S`, `--daemons kyokad,usbguard`,
`--soak N`: N plugs more after the cycles, for VmRSS growth only, `--soak-daemons`; not in `make check`).
"""
    os.makedirs(os.path.dirname(a.md), exist_ok=True)
    with open(a.md, "w") as f:
        f.write(md)
    print(table)
    print(f"wrote {a.out} and {a.md}")
    ok = all(r["alive"] and not r["failures"] and not r["mismatched"] and r["plugs"] == len(r["order"]) for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
