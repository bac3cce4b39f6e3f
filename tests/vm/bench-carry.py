#!/usr/bin/env python3
"""The carry-out record's cost on a copy (issue 15): MB/s of copies to an approved USB stick with
kyokad recording every file (`--carry-out on`: fanotify, a SHA-256 of each file written) and
without (`--carry-out off`), on a real kernel (QEMU, TCG), for bench/CARRY.md and a row of
bench/RESULTS.md.

One boot, one approved read-write stick (ext4) mounted at /mnt/s and given to uid 1000. The
user copies, with busybox's cp, then `sync` (the copy is timed until its data is on the stick):

  - "large": one file of --mib MiB of random data;
  - "small": --files files of 16 KiB each.

kyokad runs with the record on, then is restarted with it off, then on again and off again
(ROUNDS alternations, so that a warm-up or a slow moment of the host does not fall on one mode
only). With the record on, `recorded_s` is the time from the copy's start until kyokad's log
has a file-written line for every file (the records are durable in the ledger before that line).

    tests/vm/bench-carry.py [--out FILE] [--md bench/CARRY.md] [--mib N] [--files N] [--rounds N]
Raw lines (`carry mode=on|off layout=large|small files=... bytes=... copy_s=... mib_per_s=...
[recorded_s=...]`): --out (default BUILD/bench/raw/bench-carry.txt). What this does not
measure: real USB hardware and a real CPU (TCG emulates every instruction of the guest, the
kernel's ext4 and usb-storage and kyokad's SHA-256 alike).
"""

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from vm import VM  # noqa: E402
from kyoka_guest import (BLOCK_HELPER, BUILD, GUEST_LIBEXECDIR, KYOKAD, LOG, POLICYCTL, Approver, Kyokad,  # noqa: E402
                         auth_is, has_usb, installed_rules_all, guest_user_files, kyokad_pid, make_overlay, sd_name, sd_of,
                         stick_image)

SERIAL = "BENCH-CARRY-1"
MNT = "/mnt/s"
AS_USER = "su kyokatest -s /bin/sh -c"


def guest_seconds(vm, script, timeout):
    """Runs SCRIPT in the guest between two readings of its monotonic clock; the seconds taken."""
    rc, out = vm.run(f"a=$(cut -d' ' -f1 /proc/uptime); {script} >/dev/null 2>&1; rc=$?; "
                     f"b=$(cut -d' ' -f1 /proc/uptime); echo \"$rc $a $b\"", timeout=timeout)
    rc_s, a, b = out.strip().splitlines()[-1].split()
    if rc_s != "0":
        raise RuntimeError(f"guest: {script}: exit {rc_s}")
    return float(b) - float(a)


def marks(vm, part):
    rc, out = vm.run(f"grep -c 'recording files on {part}' {LOG} || true")
    return int(out.strip() or 0)


def set_mode(vm, k, mode, part):
    n = marks(vm, part)
    pid = kyokad_pid(vm)
    if pid:
        vm.run(f"kill {pid}; i=0; while kill -0 {pid} 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done")
    k.args = k.args.replace(" --carry-out on", "").replace(" --carry-out off", "") + f" --carry-out {mode}"
    k.start(timeout=60)
    if mode == "on":
        # Marked again: kyokad learns the mount from mountinfo at start.
        if vm.wait_for(f"[ $(grep -c 'recording files on {part}' {LOG}) -gt {n} ]", timeout=30) is None:
            raise RuntimeError("kyokad does not record files on the stick")


def copy(vm, part, mode, rnd, layout, n_files, timeout):
    dst = f"{MNT}/{mode}{rnd}-{layout}"
    src = "/tmp/src/large" if layout == "large" else "/tmp/src/small"
    before = None
    if mode == "on":
        rc, out = vm.run(f"grep -c 'file written \"{part}/' {LOG} || true")
        before = int(out.strip() or 0)
    vm.run("sync; echo 3 > /proc/sys/vm/drop_caches", timeout=60)
    t = time.monotonic()
    took = guest_seconds(vm, f"{AS_USER} 'cp -r {src} {dst} && sync'", timeout=600)
    recorded = None
    if mode == "on":
        if vm.wait_for(f"[ $(grep -c 'file written \"{part}/' {LOG}) -ge {before + n_files} ]",
                       timeout=600, interval=0.5) is None:
            raise RuntimeError(f"{mode}{rnd} {layout}: not every file recorded")
        recorded = time.monotonic() - t
    vm.run(f"rm -rf {dst} && sync", timeout=120)
    return took, recorded


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(BUILD, "bench", "raw", "bench-carry.txt"))
    ap.add_argument("--md", default=os.path.join(TOP, "bench", "CARRY.md"))
    ap.add_argument("--mib", type=int, default=64, help="MiB of the large file (default 64)")
    ap.add_argument("--files", type=int, default=1000, help="small files of 16 KiB (default 1000)")
    ap.add_argument("--rounds", type=int, default=2, help="on/off alternations (default 2)")
    args = ap.parse_args()
    for f in (KYOKAD, POLICYCTL, BLOCK_HELPER):
        if not os.access(f, os.X_OK):
            print(f"bench-carry: {f} missing (make all)", file=sys.stderr)
            return 1
    work = tempfile.mkdtemp(prefix="kyoka-bench-carry-")
    lines, runs = [], []
    try:
        approver = Approver(work)
        approver.approve_usb(SERIAL, "P-" + SERIAL)
        approver.sign()
        size_mb = 2 * args.mib + args.files * 32 // 1024 + 128
        img = stick_image(os.path.join(work, "carry.img"), size_mb=size_mb)
        overlay = make_overlay(work, approver, extra=[
            (BLOCK_HELPER, f"{GUEST_LIBEXECDIR}/kyoka-block-access"), *installed_rules_all(work), *guest_user_files(work)])
        with VM("bench-carry", overlays=[overlay], mem=1024, quiet=True) as vm:
            vm.run("cp /etc/kyoka-vm/*.rules /etc/udev/rules.d/ && /bin/udevadm control --reload", check=True)
            k = Kyokad(vm)
            k.args += " --carry-out on"
            k.start(timeout=60)
            lines.append(f"# {platform.node()}: load {open('/proc/loadavg').read().split()[:3]} before; "
                         f"VM boot {vm.boot_seconds:.1f} s ({vm.accel})")
            vm.plug_usb_storage("carry", serial=SERIAL, port="1", image=img)
            if vm.wait_for(f"{has_usb('1')} && {auth_is('1', 1)} && {sd_of('1')} && [ -e /dev/$(ls "
                           f"/sys/bus/usb/devices/[0-9]-1/*:*/host*/target*/*/block/ | head -1)1 ]", timeout=60) is None:
                raise RuntimeError("the approved stick did not appear")
            part = sd_name(vm, "1") + "1"
            rc, out = vm.run(f"mkdir -p {MNT} && mount /dev/{part} {MNT} && chown 1000:1000 {MNT} && echo mounted",
                             timeout=30)
            if "mounted" not in out:
                raise RuntimeError(f"mount: {out}")
            vm.run(f"mkdir -p /tmp/src/small && head -c {args.mib << 20} /dev/urandom > /tmp/src/large && "
                   f"i=0; while [ $i -lt {args.files} ]; do head -c 16384 /dev/urandom > /tmp/src/small/f$i; "
                   f"i=$((i+1)); done; chmod -R a+rX /tmp/src", timeout=600, check=True)
            if vm.wait_for(f"grep -q 'recording files on {part}' {LOG}", timeout=20) is None:
                raise RuntimeError("kyokad does not record files on the stick")
            layouts = {"large": (1, args.mib << 20), "small": (args.files, args.files * 16384)}
            for rnd in range(args.rounds):
                for mode in ("on", "off"):
                    if rnd or mode == "off":
                        set_mode(vm, k, mode, part)
                    for layout, (n, nbytes) in layouts.items():
                        took, recorded = copy(vm, part, mode, rnd, layout, n, timeout=600)
                        runs.append((mode, layout, n, nbytes, took, recorded))
                        line = (f"carry mode={mode} layout={layout} round={rnd} files={n} bytes={nbytes} "
                                f"copy_s={took:.2f} mib_per_s={nbytes / 1048576 / took:.1f}"
                                + (f" recorded_s={recorded:.2f}" if recorded is not None else ""))
                        lines.append(line)
                        print(line, file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for layout in ("large", "small"):
        med = {}
        for mode in ("on", "off"):
            rs = [r for r in runs if r[0] == mode and r[1] == layout]
            med[mode] = statistics.median(r[4] for r in rs)
        rs = [r for r in runs if r[1] == layout]
        rec = [r[5] for r in rs if r[5] is not None]
        lines.append(f"carry summary layout={layout} files={rs[0][2]} bytes={rs[0][3]} "
                     f"on_mib_per_s={rs[0][3] / 1048576 / med['on']:.1f} off_mib_per_s={rs[0][3] / 1048576 / med['off']:.1f} "
                     f"cost_pct={(med['on'] / med['off'] - 1) * 100:.0f} recorded_s={statistics.median(rec):.2f}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    write_md(args.md, lines, args)
    print("\n".join(l for l in lines if "summary" in l))
    return 0


def write_md(path, lines, args):
    rows = [dict(kv.split("=", 1) for kv in l.split()[2:] if "=" in kv) for l in lines if l.startswith("carry summary")]
    out = ["# The carry-out record: what it costs a copy\n",
           "Generated by `tests/vm/bench-carry.py` — do not edit by hand. One run on one machine.\n",
           "An approved USB stick (ext4) in a QEMU guest (TCG), mounted and given to a user who copies to",
           "it with cp and then syncs; kyokad recording every file (`--carry-out on`: fanotify, each file",
           "written hashed with SHA-256 and recorded, durably, in the ledger) and not (`--carry-out off`),",
           f"alternated {args.rounds} times; medians. \"recorded\" is the copy's start until kyokad's log",
           "names every file (each line comes after its record's commit).\n",
           "| copy | record on | record off | cost | all recorded after |",
           "|---|---:|---:|---:|---:|"]
    for r in rows:
        what = (f"one file of {int(r['bytes']) >> 20} MiB" if r["layout"] == "large"
                else f"{int(r['files']):,} files of 16 KiB")
        out.append(f"| {what} | {r['on_mib_per_s']} MiB/s | {r['off_mib_per_s']} MiB/s | "
                   f"{r['cost_pct']} % | {r['recorded_s']} s |")
    out += ["", "Not measured here: real USB hardware and a real CPU (TCG emulates the guest's ext4, usb-storage",
            "and kyokad's SHA-256 alike; on real hardware the stick's write speed is usually the limit and",
            "the hashing, which reads the file back from the page cache, runs beside it).", "", "Raw:", "```",
            *lines, "```", ""]
    with open(path, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
