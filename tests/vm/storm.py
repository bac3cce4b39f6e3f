#!/usr/bin/env python3
"""The plug storm of test-kyokad-usb.py, repeated, to tell where `can't set config #1, error -110`
comes from (issue 9 point 12). Not part of `make check`: a measurement, run by hand.

  tests/vm/storm.py [--runs N] [--cycles N] MODE...

MODE (each in a boot of its own):
  kyokad   kyokad decides (on "bind"), the stick's serial approved: what the test does;
  kernel   no kyokad, controllers left open (the kernel's default): the kernel configures every
           stick itself during enumeration, nothing in user space writes `authorized`.
Per storm of CYCLES plugs on one port (even cycles wait until the stick is configured, or with
--wait authorized only until `authorized` reads 1; odd cycles pull it at once) it prints the kernel's errors from dmesg: -110 on
SET_CONFIGURATION, other errors, and the -19 of sticks pulled mid-configuration. A -110 in
`kernel` mode is QEMU's (or the kernel's) with no kyokad involved.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from vm import VM  # noqa: E402
from kyoka_guest import DEV, Approver, Kyokad, make_overlay  # noqa: E402

SERIAL = "KYOKA-STORM"
PORT = "1"


def configured(port):
    return f"[ -n \"$(cat {DEV}/[0-9]-{port}/bConfigurationValue 2>/dev/null)\" ]"


def present(port):
    return f"ls -d {DEV}/[0-9]-{port} >/dev/null 2>&1"


def authorized(port):
    return f"[ \"$(cat {DEV}/[0-9]-{port}/authorized 2>/dev/null)\" = 1 ]"


def storm(vm, cycles, tag, wait):
    vm.run("dmesg -c >/dev/null")
    waited_out = []
    lines = []
    t = time.monotonic()
    for i in range(cycles):
        id = f"s{tag}-{i}"
        vm.plug_usb_storage(id, serial=SERIAL, port=PORT, image_size_mb=8)
        cond = configured(PORT) if wait == "configured" else authorized(PORT)
        if i % 2 == 0 and vm.wait_for(cond, timeout=15) is None:
            waited_out.append(i)
        vm.unplug(id)
        vm.wait_for(f"! {present(PORT)}", timeout=15)
        rc, out = vm.run("dmesg -c")
        lines += [f"[cycle {i} {'waited' if i % 2 == 0 else 'pulled at once'}] {l}" for l in out.splitlines()]
    took = time.monotonic() - t
    e110 = [l for l in lines if "error -110" in l or "-110" in l and "set config" in l]
    e19 = [l for l in lines if "can't set config #1, error -19" in l]
    other = [l for l in lines if re.search(r"can't set config|device not accepting|unable to enumerate|"
                                            r"descriptor read|Cannot enable", l) and l not in e110 and l not in e19]
    return took, waited_out, e110, e19, other


def run_mode(mode, runs, cycles, work, wait):
    approver = Approver(os.path.join(work, mode))
    approver.approve_usb(SERIAL, "P-STORM")
    approver.sign()
    overlay = make_overlay(os.path.join(work, mode), approver)
    total110 = 0
    with VM(f"storm-{mode}", overlays=[overlay], quiet=True) as vm:
        if mode == "kyokad":
            Kyokad(vm).start()
        print(f"# {mode}: boot {vm.boot_seconds:.1f} s, logs {vm.log_dir}", flush=True)
        for r in range(runs):
            took, waited_out, e110, e19, other = storm(vm, cycles, f"{r}", wait)
            total110 += len(e110)
            print(f"{mode} run {r + 1}/{runs}: {cycles} cycles in {took:.1f} s; not configured in time: "
                  f"{waited_out or 'none'}; -110: {len(e110)}; -19 (pulled): {len(e19)}; other: {len(other)}",
                  flush=True)
            for l in e110 + other:
                print(f"#   {l}", flush=True)
    return total110


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--cycles", type=int, default=50)
    p.add_argument("--wait", choices=["configured", "authorized"], default="configured",
                   help="what even cycles wait for before the pull: the stick configured (bConfigurationValue), "
                        "or only `authorized` = 1 (set before the kernel sends SET_CONFIGURATION)")
    p.add_argument("modes", nargs="+", choices=["kyokad", "kernel"])
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="kyoka-storm-")
    try:
        for m in a.modes:
            n = run_mode(m, a.runs, a.cycles, work, a.wait)
            print(f"{m}: {n} x -110 in {a.runs} storms of {a.cycles} plugs", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
