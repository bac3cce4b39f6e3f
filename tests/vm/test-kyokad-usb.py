#!/usr/bin/env python3
"""kyokad against a real kernel: issue 3's "Tests -> real kernel" list, in one boot.

kyokad, policyctl, a trusted key and a signed policy go into the guest as an overlay. kyokad
runs in the guest in the background (its log in /tmp/kyokad.log, copied to the VM's log dir at
the end). Devices are hot-plugged over QMP. Every assertion is on the kernel's own state:
`authorized` of the device and its interfaces, the bound driver, whether /sys/block/sdX and
/dev/sdX exist, whether a dd write works, dmesg. kyokad's log is only read to find out *what*
it decided (and that strings are escaped), never as proof that something is blocked.

The approver (key, master copy of the policy, approve/revoke/sign) is on the host, as in real
life; the signed file travels into the guest and is installed there with `policyctl install`
(fallback: copy + SIGHUP, when that verb is missing). The request comes from
`policyctl request` in the guest (fallback: built from kyokad's log line). Which path was used
is printed.

Prints "ok - NAME" / "not ok - NAME" and finally "kyokad-usb: N passed, N failed".
QEMU ports: usb-storage is SuperSpeed and lands on bus 2 (2-PORT); keyboards, hubs, phones on
bus 1; devices behind the USB 2 hub are on bus 1 too. Devices are found by port with a glob.
"""

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from vm import VM  # noqa: E402
from tap import check, note, run_cases, summary  # noqa: E402
from kyoka_guest import (BLOCK_HELPER, DEV, GUEST_LIBEXECDIR, KYOKAD, LOG, POLICYCTL, Approver, Kyokad,  # noqa: E402
                         attr, auth_is, dd_roundtrip, has_usb, installed_rules_all, kyokad_log, kyokad_pid,
                         log_lines_for, make_overlay, no_sd_of, sd_count, sd_name, sd_of, stick_image, usb_path,
                         vmrss_kb, wait_log)


# Read-only media are enforced (udev rule + kyoka-block-access + kyokad's own BLKROSET;
# docs/ARCHITECTURE.md "Read-only media"): a stick whose permit says access = "read-only" is
# authorised, its block devices are read-only before anyone but root can open them. False
# would expect the old fail-closed behaviour (the stick blocked).
READ_ONLY_ENFORCED = True
RACER_SRC = os.path.join(HERE, "blk-racer.c")
RACE_PLUGS_NONROOT = 20        # plugs with a non-root racer (uid 1000, group disk)
RACE_PLUGS_ROOT = 5            # plugs with a root racer (measured and reported, out of scope)
RACE_SPIN_MS = 700             # how long the racer attacks each new node

SERIAL_OK = "KYOKA-OK-1"          # approved from the start
SERIAL_NO = "KYOKA-NO-1"          # not approved; approved later through request/approve/install
SERIAL_HUB_OK = "KYOKA-HUB-OK"    # approved, plugged behind the hub
SERIAL_HUB_NO = "KYOKA-HUB-NO"    # not approved, behind the hub
SERIAL_RO = "KYOKA-RO-1"          # approved read-only
SERIAL_EXP = "KYOKA-EXP-1"        # approved for a few seconds
WEIRD_SERIAL = "A\x01B\nC\x1b[31mD\x7fE"
SERIAL_PORT = "KYOKA-PORT-1"      # approved on one port only (--bind-port)
KBD_SERIAL = "KYOKA-KBD-HID"      # a keyboard whose permit grants raw HID (--hidraw-user)
QEMU_KBD = ("0627", "0001")

# A test-only udev rule, in the guest from boot: QEMU's keyboards become security tokens, as
# 60-fido-id.rules marks a real FIDO key, so that systemd's 70-uaccess.rules (in the image)
# tags their hidraw node `uaccess`.
TEST_RULES = {
    "61-kyoka-test-token.rules":
        'SUBSYSTEM=="hidraw", ATTRS{idVendor}=="0627", ATTRS{idProduct}=="0001", ENV{ID_SECURITY_TOKEN}="1"\n',
}

# --- the cases --------------------------------------------------------------------------------
UEVENTS = "/tmp/uevents.log"


def case_start(vm, k):
    # Every kernel uevent of the run, to show at the end that blocked devices never had an
    # interface (let alone a block device), not even for a moment between two polls.
    vm.run(f"(/bin/udevadm monitor --kernel > {UEVENTS} 2>&1 &); sleep 0.3", check=True)
    pid = k.start()
    check("kyokad starts in the guest", pid is not None, f"pid {pid}; args {k.args}")
    rc, out = vm.run(f"cat {DEV}/usb*/authorized_default {DEV}/usb*/interface_authorized_default")
    check("kyokad closed every controller (authorized_default=0, interface_authorized_default=0)",
          out.split() == ["0"] * 4, " ".join(out.split()))
    check("the signed policy was accepted", wait_log(vm, "policy loaded", 5) is not None,
          next((l for l in kyokad_log(vm).splitlines() if "policy" in l), ""))
    # The shipped udev rule (as `make install` writes it), from here on: installed only now so
    # that the controller check above is kyokad's own doing, not the rule's.
    rc, out = vm.run("cp /etc/kyoka-vm/*.rules /etc/udev/rules.d/ && /bin/udevadm control --reload && "
                     "ls /etc/udev/rules.d/ | tr '\\n' ' ' && echo reloaded")
    check("the shipped udev rules (controllers, read-only media, raw HID) are installed",
          "reloaded" in out and "70-kyoka.rules" in out and "73-kyoka-hidraw.rules" in out, out.strip())


def case_approved_stick(vm, k):
    vm.plug_usb_storage("ok1", serial=SERIAL_OK, port="1")
    took = vm.wait_for(f"{has_usb('1')} && {auth_is('1', 1)} && {sd_of('1')}", timeout=20)
    check("approved stick (46f4:0001 serial KYOKA-OK-1): authorized=1 and sdX appears", took is not None,
          f"{took:.2f} s after device_add" if took else f"authorized={attr(vm, '1', 'authorized')}")
    rc, out = vm.run(f"cat {usb_path('1')}/$(basename {usb_path('1')}):1.0/authorized; "
                     f"basename $(readlink {usb_path('1')}/$(basename {usb_path('1')}):1.0/driver)")
    check("... its interface is authorised and bound to usb-storage", out.split() == ["1", "usb-storage"],
          " ".join(out.split()))
    sd = sd_name(vm, "1")
    ok, detail = dd_roundtrip(vm, sd) if sd else (False, "no sdX")
    check("... and writable (64 KiB dd write reads back identical)", ok, f"/dev/{sd} {detail}")
    # devtmpfs makes the node 0600 root:root; udev applies 0660 root:disk when it has processed
    # the disk's event, which may still be running when sdX first shows.
    rc, out = vm.run(f"/bin/udevadm settle --timeout=15; cat /sys/block/{sd}/ro; stat -c '%a %U:%G' /dev/{sd}; "
                     f"cat /run/kyoka/usb/2-1", timeout=30)
    check("... read-write: ro=0, node 660 root:disk, kyokad's access file says read-write (and hidraw=root)",
          out.split() == ["0", "660", "root:disk", "read-write", "hidraw=root"], " ".join(out.split()))
    lines = log_lines_for(vm, "2-1")
    check("... kyokad recorded allow with the permit", any("allow" in l and "P-OK" in l for l in lines),
          lines[-1] if lines else "no log line")


def case_unapproved_stick(vm, k):
    before = sd_count(vm)
    vm.plug_usb_storage("no1", serial=SERIAL_NO, port="2")
    check("unapproved stick appears in sysfs", vm.wait_for(has_usb("2"), timeout=15) is not None)
    decided = wait_log(vm, r"usb connected 2-2 .*: block", 15)
    check("... kyokad decided block", decided is not None, (log_lines_for(vm, "2-2") or [""])[-1])
    held = vm.holds(f"{auth_is('2', 0)} && {no_sd_of('2')} && [ $(ls /sys/block | grep -c '^sd') -eq {before} ] "
                    f"&& ! ls -d {usb_path('2')}/*:* >/dev/null 2>&1", 5)
    check("... authorized stays 0, no interfaces, no new sdX for 5 s", held,
          f"authorized={attr(vm, '2', 'authorized')}")


def case_phone(vm, k, work):
    rootdir = os.path.join(work, "mtp")   # a host directory: QEMU serves it as the phone's storage
    os.makedirs(rootdir, exist_ok=True)
    vm.plug_usb("usb-mtp", "mtp1", port="3", rootdir=rootdir, desc="Kyoka Test Phone")
    check("usb-mtp phone appears", vm.wait_for(has_usb("3"), timeout=15) is not None)
    check("... kyokad decided block", wait_log(vm, r"usb connected 1-3 46f4:0004 .*: block", 15) is not None,
          (log_lines_for(vm, "1-3") or [""])[-1])
    check("... authorized stays 0 and no interface exists (3 s)",
          vm.holds(f"{auth_is('3', 0)} && ! ls -d {usb_path('3')}/*:* >/dev/null 2>&1", 3),
          f"authorized={attr(vm, '3', 'authorized')}")


def case_keyboard(vm, k):
    vm.plug_usb("usb-kbd", "kbd1", port="4")
    iface = f"{DEV}/[0-9]-4/[0-9]-4:1.0"
    took = vm.wait_for(f"{auth_is('4', 1)} && [ \"$(cat {iface}/authorized)\" = 1 ] && "
                       f"[ \"$(basename $(readlink {iface}/driver))\" = usbhid ]", timeout=20)
    rc, out = vm.run(f"cat {DEV}/[0-9]-4/authorized {iface}/authorized; basename $(readlink {iface}/driver)")
    check("usb-kbd works: authorized=1, interface 1.0 authorized=1 and bound to usbhid", took is not None,
          f"{' '.join(out.split())}" + (f", {took:.2f} s" if took else ""))
    check("... kyokad allowed it by defaults.usb_hid", wait_log(vm, r"usb connected 1-4 .*: allow \(default usb_hid", 10)
          is not None, (log_lines_for(vm, "1-4") or [""])[-1])


def case_hub(vm, k):
    vm.plug_usb("usb-hub", "hub1", port="5")
    took = vm.wait_for(f"{auth_is('5', 1)} && [ -e {DEV}/1-5/1-5:1.0/driver ]", timeout=20)
    check("usb-hub allowed by default (authorized=1, hub driver bound)", took is not None,
          (log_lines_for(vm, "1-5") or [""])[-1])
    vm.plug_usb_storage("hubno", serial=SERIAL_HUB_NO, port="5.1")
    vm.plug_usb_storage("hubok", serial=SERIAL_HUB_OK, port="5.2")
    took = vm.wait_for(f"{auth_is('5.2', 1)} && {sd_of('5.2')}", timeout=20)
    check("approved stick behind the hub: authorized=1, sdX", took is not None,
          (log_lines_for(vm, "1-5.2") or [""])[-1])
    if took is None:   # seen once under heavy host load: the children never enumerated
        note("dmesg tail: " + " | ".join(vm.dmesg().splitlines()[-15:]))
    check("unapproved stick behind the hub: kyokad decided block",
          wait_log(vm, r"usb connected 1-5\.1 .*: block", 15) is not None, (log_lines_for(vm, "1-5.1") or [""])[-1])
    check("... authorized stays 0, no sdX (3 s)", vm.holds(f"{auth_is('5.1', 0)} && {no_sd_of('5.1')}", 3),
          f"authorized={attr(vm, '5.1', 'authorized')}")
    for d in ("hubok", "hubno", "hub1"):
        vm.unplug(d)
    check("hub and children unplugged", vm.wait_for(f"! {has_usb('5')}", timeout=15) is not None)


# --- raw HID ----------------------------------------------------------------------------------
def hidraw_state(vm, port):
    """The hidraw node of the keyboard on PORT: (name, "mode user:group", udev properties)."""
    vm.run("/bin/udevadm settle --timeout=10")
    rc, out = vm.run(f"ls {DEV}/[0-9]-{port}/[0-9]-{port}:1.0/*/hidraw/ 2>/dev/null | head -1")
    node = out.strip()
    if not node:
        return None, "", {}
    rc, out = vm.run(f"stat -c '%a %U:%G' /dev/{node}; /bin/udevadm info -q property -n /dev/{node}")
    lines = out.splitlines()
    return node, lines[0] if lines else "", dict(l.split("=", 1) for l in lines[1:] if "=" in l)


def tags(props, key):
    return [t for t in props.get(key, "").split(":") if t]


def run_list(vm, node):
    """What udev would RUN after processing the node's event (udevadm test): the uaccess builtin
    of 73-seat-late.rules is what grants the seat's user an ACL."""
    rc, out = vm.run(f"/bin/udevadm test /sys/class/hidraw/{node} 2>&1 | sed -n \"s/^run: '\\(.*\\)'$/\\1/p\"")
    return [l.strip() for l in out.splitlines() if l.strip()]


def hidraw_root_only(vm, port):
    """The hidraw node is root's alone: 0600 root:root, not (or no longer) `uaccess` in its
    current tags, and udev would run nothing but kyoka's --hidraw-revoke for it (no uaccess
    builtin). What was seen."""
    node, mode, props = hidraw_state(vm, port)
    runs = run_list(vm, node) if node else []
    ok = (node is not None and mode == "600 root:root" and "uaccess" not in tags(props, "CURRENT_TAGS")
          and props.get("KYOKA_HIDRAW") == "root" and len(runs) == 1 and "--hidraw-revoke" in runs[0])
    return ok, (f"/dev/{node} {mode} CURRENT_TAGS={props.get('CURRENT_TAGS', '')} TAGS={props.get('TAGS', '')} "
                f"KYOKA_HIDRAW={props.get('KYOKA_HIDRAW')} ID_SECURITY_TOKEN={props.get('ID_SECURITY_TOKEN')} "
                f"RUN={runs}")


def key_reaches_evdev(vm, port):
    """A key pressed on the most recently plugged QEMU keyboard arrives at the evdev node of the
    keyboard on PORT: the keyboard works through the input subsystem. (QEMU sends a key to its
    newest keyboard.)"""
    rc, out = vm.run(f"ls -d {DEV}/[0-9]-{port}/[0-9]-{port}:1.0/*/input/input*/event* 2>/dev/null | head -1")
    ev = os.path.basename(out.strip())
    rc, out = vm.run(f"[ -c /dev/input/{ev} ] && echo node") if ev else (1, "")
    if "node" not in out:
        return False, f"no evdev node ({ev or 'no event* in sysfs'})"
    vm.run(f"rm -f /tmp/ev; (timeout 10 dd if=/dev/input/{ev} of=/tmp/ev bs=24 count=4 2>/dev/null &); sleep 0.5")
    for down in (True, False):
        vm.qmp("input-send-event", events=[{"type": "key", "data": {"down": down,
                                                                   "key": {"type": "qcode", "data": "a"}}}])
    vm.wait_for("[ $(stat -c %s /tmp/ev 2>/dev/null || echo 0) -ge 96 ]", timeout=8)
    data = vm.read_file("/tmp/ev")
    # struct input_event on x86-64: 16 bytes of time, u16 type, u16 code, s32 value.
    events = [struct.unpack_from("<HHi", data, off + 16) for off in range(0, len(data) - 23, 24)]
    return (1, 30, 1) in events, f"/dev/input/{ev}: {len(events)} events {events[:4]}"


def case_raw_hid(vm, k):
    """The keyboard of case_keyboard (a security token to udev, test rule): it works, its raw
    HID node is root's alone although systemd's rules tagged it for the seat's user."""
    if not vm.run(has_usb("4"))[0] == 0:
        case_keyboard(vm, k)
    ok, seen = hidraw_root_only(vm, "4")
    node, mode, props = hidraw_state(vm, "4")
    check("keyboard without a permit: its hidraw node is 0600 root:root, udev's uaccess tag is gone, "
          "no uaccess builtin in its run list (only kyoka's --hidraw-revoke)", ok, seen)
    check("... although 70-uaccess.rules tagged it (security token; the removed tag stays in TAGS, not in "
          "CURRENT_TAGS)", props.get("ID_SECURITY_TOKEN") == "1" and "uaccess" in tags(props, "TAGS"), seen)
    rc, out = vm.run("cat /run/kyoka/usb/1-4")
    check("... kyokad's access file says hidraw=root", out.split() == ["read-write", "hidraw=root"], " ".join(out.split()))
    ok, detail = key_reaches_evdev(vm, "4")
    check("... and the keyboard works: a key pressed arrives at its evdev node (input subsystem)", ok, detail)
    iface = f"{DEV}/[0-9]-4/[0-9]-4:1.0"
    rc, out = vm.run(f"cat {DEV}/[0-9]-4/authorized {iface}/authorized; basename $(readlink {iface}/driver)")
    check("... authorized=1, interface authorized=1, usbhid bound", out.split() == ["1", "1", "usbhid"],
          " ".join(out.split()))


def hid_permit(approver, permit):
    approver.approve("--vendor", QEMU_KBD[0], "--product", QEMU_KBD[1], "--serial", KBD_SERIAL,
                     "--interfaces", "03:*:*", "--permit", permit, "--hidraw-user")


def case_raw_hid_permit(vm, k, approver):
    """A second keyboard (its own serial) gets a permit with hidraw = "user": kyokad attaches it
    again and its node keeps `uaccess`; revoked while kyokad runs, and revoked while kyokad is
    down (found at start with its node still tagged): root's alone again each time."""
    vm.plug_usb("usb-kbd", "kbd2", port="5", serial=KBD_SERIAL)
    took = vm.wait_for(f"{auth_is('5', 1)} && ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/hidraw* >/dev/null 2>&1", timeout=20)
    ok, seen = hidraw_root_only(vm, "5")
    check("second keyboard (serial KYOKA-KBD-HID), no permit: works, hidraw root's alone", took is not None and ok, seen)

    def user_granted():
        node, mode, props = hidraw_state(vm, "5")
        runs = run_list(vm, node) if node else []
        return (node is not None and "uaccess" in tags(props, "CURRENT_TAGS") and props.get("KYOKA_HIDRAW") == "user"
                and "uaccess" in runs), \
            f"/dev/{node} {mode} CURRENT_TAGS={props.get('CURRENT_TAGS', '')} KYOKA_HIDRAW={props.get('KYOKA_HIDRAW')} RUN={runs}"

    hid_permit(approver, "P-HID")
    approver.sign()
    k.install(approver)
    took = vm.wait_for(f"grep -q 'hidraw=user' /run/kyoka/usb/1-5 && {auth_is('5', 1)} && "
                       f"/bin/udevadm settle && /bin/udevadm info -q property -n /dev/$(ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/) "
                       "| grep -q '^CURRENT_TAGS=.*:uaccess:'", timeout=20)
    ok, seen = user_granted()
    check("permit with hidraw = \"user\" installed: attached again, its hidraw node keeps uaccess "
          "(KYOKA_HIDRAW=user; 73-seat-late.rules' uaccess builtin in its run list)", took is not None and ok, seen)
    ok, seen = hidraw_root_only(vm, "4")
    check("... the first keyboard (no such permit) stays root's alone", ok, seen)
    ok, detail = key_reaches_evdev(vm, "5")
    check("... and the second keyboard works", ok, detail)

    approver.revoke("P-HID")
    approver.sign()
    k.install(approver)
    took = vm.wait_for(f"grep -q 'hidraw=root' /run/kyoka/usb/1-5 && {auth_is('5', 1)} && /bin/udevadm settle && "
                       f"[ \"$(stat -c '%a %U:%G' /dev/$(ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/))\" = '600 root:root' ] && "
                       f"! /bin/udevadm info -q property -n /dev/$(ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/) "
                       "| grep -q '^CURRENT_TAGS=.*:uaccess:'", timeout=20)
    ok, seen = hidraw_root_only(vm, "5")
    check("permit revoked: attached again, hidraw root's alone (no uaccess), the keyboard still allowed",
          took is not None and ok and vm.run(auth_is("5", 1))[0] == 0, seen)

    # Granted again, then taken away while kyokad is down: kyokad finds the device authorised
    # with a tagged node at start and attaches it again.
    hid_permit(approver, "P-HID-2")
    approver.sign()
    k.install(approver)
    took = vm.wait_for("grep -q 'hidraw=user' /run/kyoka/usb/1-5 && /bin/udevadm settle && "
                       f"/bin/udevadm info -q property -n /dev/$(ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/) "
                       "| grep -q '^CURRENT_TAGS=.*:uaccess:'", timeout=20)
    check("granted again: uaccess back", took is not None, user_granted()[1])
    pid = kyokad_pid(vm)
    vm.run(f"kill -9 {pid}")
    vm.wait_for(f"[ ! -d /proc/{pid} ]", timeout=10)
    approver.revoke("P-HID-2")
    approver.sign()
    how, out = k.install(approver)       # kyokad not running: installed for its next start
    n0 = len(log_lines_for(vm, "1-5"))
    k.start()
    took = vm.wait_for(f"{auth_is('5', 1)} && /bin/udevadm settle && "
                       f"[ -e /dev/$(ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/ 2>/dev/null | head -1) ] && "
                       f"! /bin/udevadm info -q property -n /dev/$(ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/) "
                       "| grep -q '^CURRENT_TAGS=.*:uaccess:'", timeout=20)
    ok, seen = hidraw_root_only(vm, "5")
    check("permit revoked while kyokad was down: at start kyokad finds the tagged node, attaches the keyboard "
          "again, hidraw root's alone", took is not None and ok,
          seen + "; " + " | ".join(log_lines_for(vm, "1-5")[n0:])[:300])
    ok, detail = key_reaches_evdev(vm, "5")
    check("... and the keyboard works", ok, detail)
    vm.unplug("kbd2")


# --- a permit bound to a port ------------------------------------------------------------------
def case_port_bound(vm, k, approver, work):
    """A stick without a permit on port 6, requested in the guest, approved with --bind-port on
    the host: usable on port 6, blocked on port 7, usable on port 6 again."""
    vm.plug_usb_storage("port1", serial=SERIAL_PORT, port="6")
    check("stick for the port-bound permit appears (blocked)", wait_log(vm, r"usb connected 2-6 .*: block", 15) is not None,
          (log_lines_for(vm, "2-6") or [""])[-1])
    rc, out = vm.run("policyctl request 2-6 --out /tmp/req-port.json")
    req = os.path.join(work, "request-port.json")
    with open(req, "wb") as f:
        f.write(vm.read_file("/tmp/req-port.json"))
    with open(req) as f:
        id_path = json.load(f)["device"].get("id_path", "")
    rc2, udev_path = vm.run(f"/bin/udevadm info -q property -p {DEV}/2-6 | sed -n 's/^ID_PATH=//p'")
    check("policyctl request 2-6: the request names the port (id_path = udev's ID_PATH)",
          rc == 0 and id_path and id_path == udev_path.strip(), f"id_path={id_path!r} ID_PATH={udev_path.strip()!r}")
    approver.approve_request(req, "P-PORT", "--bind-port")
    approver.sign()
    how, out = k.install(approver)
    rc, mode = vm.run("stat -c '%a %U:%G' /etc/kyoka/policy.conf /etc/kyoka/policy.conf.sig")
    check(f"{how} leaves policy.conf 640 root:kyoka (it lists the serials a clone would need), the signature 644",
          mode.split() == ["640", "root:kyoka", "644", "root:root"], " ".join(mode.split()))
    took = vm.wait_for(f"{auth_is('6', 1)} && {sd_of('6')}", timeout=20)
    check(f"permit bound to port {id_path}: the stick there is usable without replug", took is not None,
          f"{took:.2f} s" if took else (log_lines_for(vm, "2-6") or [""])[-1])
    vm.unplug("port1")
    vm.wait_for(f"! {has_usb('6')}", timeout=15)

    vm.plug_usb_storage("port2", serial=SERIAL_PORT, port="7")
    decided = wait_log(vm, r"usb connected 2-7 .*KYOKA-PORT-1.*: block", 15)
    line = (log_lines_for(vm, "2-7") or [""])[-1]
    check("the same stick on another port: kyokad decided block, naming the permit's port",
          decided is not None and "is for port" in line, line)
    check("... authorized stays 0, no interfaces, no sdX (3 s)",
          vm.holds(f"{auth_is('7', 0)} && {no_sd_of('7')} && ! ls -d {usb_path('7')}/*:* >/dev/null 2>&1", 3),
          f"authorized={attr(vm, '7', 'authorized')}")
    vm.unplug("port2")
    vm.wait_for(f"! {has_usb('7')}", timeout=15)

    vm.plug_usb_storage("port3", serial=SERIAL_PORT, port="6")
    took = vm.wait_for(f"{auth_is('6', 1)} && {sd_of('6')}", timeout=20)
    check("... and back on its port: usable again", took is not None, (log_lines_for(vm, "2-6") or [""])[-1])
    vm.unplug("port3")
    vm.wait_for(f"! {has_usb('6')}", timeout=15)


# --- read-only media -------------------------------------------------------------------------
RO = {}   # set by main(): "template" (the stick image), "work"


def plug_ro_stick(vm, id, serial=SERIAL_RO, port="6"):
    """A stick with a partition table and ext4, on its own copy of the template image."""
    img = os.path.join(RO["work"], f"{id}.img")
    subprocess.run(["cp", "--sparse=always", RO["template"], img], check=True)
    vm.plug_usb_storage(id, serial=serial, port=port, image=img)
    return img


def sd_and_part(port):
    """sdX and sdX1 of the device on PORT exist as block nodes and are read-only."""
    return (f"b=$(ls {DEV}/[0-9]-{port}/*:*/host*/target*/*/block/ 2>/dev/null | head -1); [ -n \"$b\" ] && "
            f"[ -b /dev/$b ] && [ -b /dev/${{b}}1 ]")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def case_read_only(vm, k):
    img = plug_ro_stick(vm, "ro1")
    check("read-only permit stick appears", vm.wait_for(has_usb("6"), timeout=15) is not None)
    wait_log(vm, r"usb connected 2-6 ", 15)
    line = (log_lines_for(vm, "2-6") or [""])[-1]
    if not READ_ONLY_ENFORCED:
        check("[read-only not enforced] read-only permit: kyokad fails closed, stick BLOCKED "
              "(authorized=0, no sdX, 3 s)",
              vm.holds(f"{auth_is('6', 0)} && {no_sd_of('6')}", 3) and ": block" in line, line)
        vm.unplug("ro1")
        return
    took = vm.wait_for(f"{auth_is('6', 1)} && {sd_and_part('6')}", timeout=20)
    sd = sd_name(vm, "6")
    check("read-only permit: authorized=1, sdX and its partition sdX1 appear", took is not None and sd,
          f"{line}; {took:.2f} s" if took else line)
    if not sd:
        vm.unplug("ro1")
        return
    vm.run("/bin/udevadm settle --timeout=10")
    rc, out = vm.run(f"cat /sys/block/{sd}/ro /sys/block/{sd}/{sd}1/ro; stat -c '%a %U:%G' /dev/{sd} /dev/{sd}1; "
                     f"cat /run/kyoka/usb/2-6")
    check("... /sys/block/sdX/ro = 1 and sdX1/ro = 1; nodes 640 root:disk; access file read-only",
          out.split() == ["1", "1", "640", "root:disk", "640", "root:disk", "read-only", "hidraw=root"],
          " ".join(out.split()))
    rc, out = vm.run("for g in /sys/class/scsi_generic/*; do [ -e $g/device ] || continue; "
                     "case $(readlink -f $g/device) in */2-6/*) stat -c '%n %a %U:%G' /dev/${g##*/};; esac; done")
    check("... its SCSI generic node (sg) is 640 root:disk too", out.strip().endswith("640 root:disk"), out.strip())
    # mount without -o ro: the kernel refuses a writable open (EACCES), mount falls back to ro.
    rc, out = vm.run(f"mkdir -p /mnt/ro && mount -t ext4 /dev/{sd}1 /mnt/ro 2>&1; "
                     f"grep ' /mnt/ro ' /proc/mounts; touch /mnt/ro/x 2>&1; echo touch=$?; umount /mnt/ro", timeout=30)
    m = re.search(r"/dev/\S+ /mnt/ro ext4 (\S+)", out)
    check("... mount (no -o ro) comes up read-only (/proc/mounts), creating a file fails",
          m and m.group(1).split(",")[0] == "ro" and "touch=0" not in out, " ".join(out.split())[:300])
    vm.run("/bin/udevadm settle --timeout=10")
    # Partition first: a writer closing the whole disk makes udev re-read the partition table,
    # and dd would create a regular file in /dev while sdX1 is briefly gone.
    results = []
    for node in (f"{sd}1", sd):
        rc, out = vm.run(f"[ -b /dev/{node} ] || {{ echo NOT-A-BLOCK-NODE; exit 9; }}; "
                         f"dd if=/dev/urandom of=/dev/{node} bs=4k count=1 oflag=direct conv=fsync 2>&1; echo rc=$?; "
                         f"[ -f /dev/{node} ] && {{ rm -f /dev/{node}; echo CREATED-A-FILE; }}; "
                         "/bin/udevadm settle --timeout=10", timeout=30)
        results.append((node, rc, out))
    check("... dd oflag=direct to sdX1 and to sdX fails (Operation not permitted), as root",
          all("Operation not permitted" in out and "rc=0" not in out for _, _, out in results),
          "; ".join(f"{n}: {' '.join(o.split())[-90:]}" for n, _, o in results))
    vm.unplug("ro1")
    with open(img, "rb") as f:
        data = f.read()
    with open(RO["template"], "rb") as f:
        check("... the stick's image is byte for byte what was plugged", data == f.read())
    os.unlink(img)


def parse_racer(text):
    nodes = []
    for l in text.splitlines():
        if l.startswith("node="):
            nodes.append({k: v for k, v in (w.split("=", 1) for w in l.split())})
    return nodes


def race(vm, who, user, plugs):
    """Starts the racer as USER, plugs the read-only stick PLUGS times (each on a fresh copy of
    the template image), returns (racer nodes, plugs whose image changed, plugs not attached)."""
    log = f"/tmp/racer-{who}.log"
    vm.run(f"(blk-racer {user} --spin-ms {RACE_SPIN_MS} KYOKA-RACER-{who} > {log} 2>&1 &); sleep 0.2", check=True)
    changed, missing = [], []
    want = 0
    tmpl = sha(RO["template"])
    for i in range(plugs):
        id = f"race{who}{i}"
        img = plug_ro_stick(vm, id)
        if vm.wait_for(f"{auth_is('6', 1)} && {sd_of('6')}", timeout=20) is None:
            missing.append(i)
        want += 3          # sdX, sdX1, sgN
        # Until the racer has finished with every node of this plug.
        vm.wait_for(f"[ $(grep -c '^node=' {log}) -ge {want} ]", timeout=10)
        vm.unplug(id)
        vm.wait_for(f"! {has_usb('6')}", timeout=15)
        if sha(img) != tmpl:
            changed.append(i)
        os.unlink(img)
    vm.run("kill $(pidof blk-racer)")
    vm.wait_for("! pidof blk-racer >/dev/null", timeout=5)
    out = vm.read_file(log).decode("utf-8", "replace")
    return out, parse_racer(out), changed, missing


def case_read_only_race(vm, k):
    """No window: a racer that waits on inotify for the nodes and attacks each one in a tight
    loop from the moment it exists. Non-root (uid 1000, in group disk, which udev gives the
    nodes to) must never write; root is measured and reported."""
    t = time.monotonic()
    out, nodes, changed, missing = race(vm, "nonroot", "--user 1000:1000:6", RACE_PLUGS_NONROOT)
    check("racer (uid 1000, group disk) started", "ready uid=1000" in out, out.splitlines()[0] if out else "")
    sds = [n for n in nodes if n["node"].startswith("sd")]
    wrote = [n for n in nodes if n["writes_ok"] != "0" or n["sgio_ok"] != "0" or n["opens_rw"] != "0"]
    attempts = sum(int(n["attempts"]) for n in nodes)
    sg_refused = sum(int(n["sgio_refused"]) for n in nodes)
    opened_ro = sum(1 for n in nodes if n["opens_ro"] != "0")
    note(f"non-root racer: {RACE_PLUGS_NONROOT} plugs in {time.monotonic() - t:.1f} s, {len(nodes)} nodes "
         f"({len(sds)} sdX/sdX1), {attempts} attack rounds, EACCES on open for writing "
         f"{sum(int(n['open_eacces']) for n in nodes)}x, read-only opens on {opened_ro} nodes, "
         f"SG_IO WRITE(10) refused {sg_refused}x ({', '.join(sorted({n['sgio_err'] for n in nodes}))})")
    check(f"no window: {RACE_PLUGS_NONROOT} plugs, every sdX/sdX1/sgN attacked from the moment it exists by a "
          "non-root racer in group disk: never opened for writing, no write, no SG_IO write",
          len(nodes) >= 3 * (RACE_PLUGS_NONROOT - len(missing)) and not wrote and not missing,
          f"breaches: {wrote[:2]}; plugs not attached: {missing}")
    check("... and every stick image is byte for byte unchanged", not changed, f"changed: {changed}")

    t = time.monotonic()
    out, nodes, changed, missing = race(vm, "root", "", RACE_PLUGS_ROOT)
    sd_nodes = [n for n in nodes if n["node"].startswith("sd")]
    w = [float(n["first_write_ms"]) for n in sd_nodes if n["writes_ok"] != "0"]
    refused = [n for n in sd_nodes if n["write_err"] in ("EPERM", "EROFS")]
    sgio = [n for n in nodes if n["sgio_ok"] != "0"]
    note(f"root racer (out of scope, measured): {RACE_PLUGS_ROOT} plugs in {time.monotonic() - t:.1f} s; "
         f"write() got through on {len(w)} of {len(sd_nodes)} sdX/sdX1 nodes "
         f"({min(w) if w else 0:.1f}-{max(w) if w else 0:.1f} ms after the node appeared), refused (EPERM) on "
         f"{len(refused)}; SG_IO WRITE(10) got through on {len(sgio)} of {len(nodes)} nodes; "
         f"images changed on {len(changed)} of {RACE_PLUGS_ROOT} plugs")
    check("root racer measured (root is out of scope: docs/ARCHITECTURE.md)", len(nodes) > 0 and not missing,
          f"plugs not attached: {missing}")


def case_access_change(vm, k, approver):
    """The permit of a plugged read-only stick becomes read-write, then read-only again: kyokad
    attaches it again under the new access, without a replug."""
    plug_ro_stick(vm, "ro2")
    took = vm.wait_for(f"{auth_is('6', 1)} && {sd_and_part('6')} && [ \"$(cat /sys/block/$b/ro)\" = 1 ]", timeout=20)
    check("read-only stick plugged again: ro=1", took is not None)
    approver.revoke("P-RO")
    approver.approve_usb(SERIAL_RO, "P-RO-RW")
    approver.sign()
    k.install(approver)
    took = vm.wait_for(f"{auth_is('6', 1)} && {sd_and_part('6')} && [ \"$(cat /sys/block/$b/ro)\" = 0 ] && "
                       f"[ \"$(stat -c %a /dev/$b)\" = 660 ]", timeout=20)
    sd = sd_name(vm, "6")
    ok, detail = dd_roundtrip(vm, sd) if took is not None and sd else (False, "no writable sdX")
    check("permit changed to read-write + install: attached again with ro=0, node 660, writable (no replug)",
          took is not None and ok, f"{took:.2f} s; {detail}" if took else (log_lines_for(vm, "2-6") or [""])[-1])
    approver.revoke("P-RO-RW")
    approver.approve_usb(SERIAL_RO, "P-RO-2", read_only=True)
    approver.sign()
    k.install(approver)
    # (dd_roundtrip above wrote over the partition table: no sdX1 any more)
    took = vm.wait_for(f"{auth_is('6', 1)} && {sd_of('6')} && [ \"$(cat /sys/block/$b/ro)\" = 1 ] && "
                       f"[ \"$(stat -c %a /dev/$b)\" = 640 ]", timeout=20)
    sd = sd_name(vm, "6")
    rc, out = vm.run(f"dd if=/dev/urandom of=/dev/{sd} bs=4k count=1 oflag=direct 2>&1", timeout=30) if sd else (0, "")
    check("... and back to read-only + install: attached again with ro=1, node 640, dd fails",
          took is not None and rc != 0 and "Operation not permitted" in out,
          f"{took:.2f} s; {' '.join(out.split())[-80:]}" if took else (log_lines_for(vm, "2-6") or [""])[-1])
    vm.run("/bin/udevadm settle --timeout=10")
    vm.unplug("ro2")


def case_request_approve_install(vm, k, approver, work):
    # The unapproved stick of case_unapproved_stick is still plugged on port 2 (2-2).
    req = os.path.join(work, "request-2-2.json")
    if k.has_request:
        rc, out = vm.run("policyctl request 2-2 --out /tmp/req.json")
        got = rc == 0
        if got:
            with open(req, "wb") as f:
                f.write(vm.read_file("/tmp/req.json"))
        check("policyctl request 2-2 in the guest writes the request", got, out.strip())
        how = "policyctl request"
    else:
        # Fallback until the control socket lands: the request from what kyokad logged.
        line = (log_lines_for(vm, "2-2") or [""])[-1]
        m = re.search(r"usb \S+ (\S+) ([0-9a-f]{4}):([0-9a-f]{4}) serial=\"([^\"]*)\" interfaces=(\S*):", line)
        with open(req, "w") as f:
            json.dump({"kyoka_request": 1, "type": "usb", "host": {"hostname": None, "machine_id": None},
                       "time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                       "device": {"vendor": m.group(2), "product": m.group(3), "serial": m.group(4),
                                  "manufacturer": "", "product_name": "", "bus_path": m.group(1), "id_path": "",
                                  "device_class": "00:00:00", "interfaces": m.group(5).split(",")}}, f)
        how = "request JSON built from kyokad's log line (no request verb)"
    note(f"request: {how}")
    with open(req) as f:
        dev = json.load(f).get("device", {})
    check("... the request names the device", dev.get("serial") == SERIAL_NO and dev.get("vendor") == "46f4"
          and dev.get("interfaces") == ["08:06:50"], json.dumps(dev))
    approver.approve_request(req, "P-REQ")
    approver.sign()
    how, out = k.install(approver)
    note(f"install: {how}: {' '.join(out.split())}")
    took = vm.wait_for(f"{auth_is('2', 1)} && {sd_of('2')}", timeout=20)
    check(f"approve -> sign -> install ({how}): the blocked stick is usable without replug", took is not None,
          f"{took:.2f} s" if took else f"authorized={attr(vm, '2', 'authorized')}; "
          + (log_lines_for(vm, "2-2") or [""])[-1])
    sd = sd_name(vm, "2")
    ok, detail = dd_roundtrip(vm, sd) if sd else (False, "no sdX")
    check("... and writable", ok, f"/dev/{sd} {detail}")

    approver.revoke("P-REQ")
    approver.sign()
    how, out = k.install(approver)
    took = vm.wait_for(f"{auth_is('2', 0)} && {no_sd_of('2')} && ! ls -d {usb_path('2')}/*:* >/dev/null 2>&1",
                       timeout=20)
    check("revoke -> sign -> install: the stick is de-authorised at once (authorized=0, sdX gone)",
          took is not None, f"{took:.2f} s" if took else f"authorized={attr(vm, '2', 'authorized')}")
    vm.unplug("no1")


def case_expiry(vm, k, approver):
    rc, out = vm.run("date +%s")
    until = int(out.strip()) + 14
    # ISO 8601 with an offset (+09:00, the workstations' zone), seconds exact.
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+09:00", time.gmtime(until + 9 * 3600))
    approver.approve_usb(SERIAL_EXP, "P-EXP", until=iso)
    approver.sign()
    k.install(approver)
    vm.plug_usb_storage("exp1", serial=SERIAL_EXP, port="7")
    took = vm.wait_for(f"{auth_is('7', 1)} && {sd_of('7')}", timeout=20)
    rc, out = vm.run("date +%s")
    check(f"permit valid until {iso}: stick authorised before then", took is not None,
          f"{until - int(out.strip())} s left" if took else (log_lines_for(vm, "2-7") or [""])[-1])
    # Still usable up to one second before valid_until, then gone on time (timer; no replug).
    rc, out = vm.run(
        "cs() { read u _ < /proc/uptime; echo $(( ${u%.*}${u#*.} )); }; "
        f"while [ $(date +%s) -lt {until - 1} ]; do {auth_is('7', 1)} || {{ echo EARLY; exit 1; }}; sleep 0.05; done; "
        f"while [ $(date +%s) -lt {until} ]; do sleep 0.01; done; t0=$(cs); "
        f"until {auth_is('7', 0)}; do sleep 0.02; [ $(( $(cs) - t0 )) -gt 1000 ] && {{ echo LATE; exit 1; }}; done; "
        f"echo $(( ($(cs) - t0) * 10 ))", timeout=40)
    ms = out.strip().split()[-1] if out.strip() else ""
    check("... de-authorised at valid_until, on time, without replug", rc == 0 and ms.isdigit() and int(ms) <= 2000,
          f"authorized=0 {ms} ms after the second of valid_until" if rc == 0 else out.strip())
    check("... and its sdX is gone", vm.wait_for(no_sd_of("7"), timeout=10) is not None)
    vm.unplug("exp1")


def case_kill9(vm, k):
    vm.unplug("ok1")
    vm.wait_for(f"! {has_usb('1')}", timeout=15)
    pid = kyokad_pid(vm)
    vm.run(f"kill -9 {pid}", check=True)
    check("kill -9 kyokad", vm.wait_for(f"[ ! -d /proc/{pid} ]", timeout=10) is not None, f"pid {pid}")
    vm.plug_usb_storage("k9", serial=SERIAL_OK, port="1")   # an approved stick
    check("while kyokad is dead: an (approved) stick arrives", vm.wait_for(has_usb("1"), timeout=15) is not None)
    check("... and stays blocked: authorized=0, no sdX (4 s); controllers still closed",
          vm.holds(f"{auth_is('1', 0)} && {no_sd_of('1')} && "
                   f"[ \"$(cat {DEV}/usb*/authorized_default | tr -d '\\n')\" = 00 ]", 4),
          f"authorized={attr(vm, '1', 'authorized')}")
    pid = k.start()
    took = vm.wait_for(f"{auth_is('1', 1)} && {sd_of('1')}", timeout=20)
    check("restart kyokad: the stick is decided (approved -> sdX)", took is not None,
          f"{took:.2f} s after ready" if took else (log_lines_for(vm, "2-1") or [""])[-1])
    rc, out = vm.run(f"cat {DEV}/[0-9]-4/authorized {DEV}/[0-9]-4/[0-9]-4:1.0/authorized")
    check("... the keyboard kept working across the restart", out.split() == ["1", "1"], " ".join(out.split()))
    vm.unplug("k9")
    vm.wait_for(f"! {has_usb('1')}", timeout=15)


def case_stage_order(vm, k):
    """The order of a decision's stages, from kyokad's own trace (KYOKAD_TRACE=1, daemon/trace.h):
    for every plug, `authorized` is written only after the ledger committed the decision (no
    device usable before its record is on disk) and only after the kernel's `bind` of the device
    (kyokad decides on `add`; authorising before the generic driver bound raced its probe: bench/
    USB.md). Three plugs of an approved stick on port 6."""
    pid = kyokad_pid(vm)
    vm.run(f"kill {pid}")
    vm.wait_for(f"[ ! -d /proc/{pid} ]", timeout=15)
    k.start(env="KYOKAD_TRACE=1")
    rc, out = vm.run(f"grep -c '^kyokad-trace ' {LOG} || true")
    before = int(out.strip() or 0)
    for i in range(3):
        vm.plug_usb_storage(f"ord{i}", serial=SERIAL_OK, port="6")
        vm.wait_for(f"{auth_is('6', 1)} && {sd_of('6')}", timeout=20)
        vm.unplug(f"ord{i}")
        vm.wait_for(f"! {has_usb('6')}", timeout=15)
    rc, out = vm.run(f"grep '^kyokad-trace ' {LOG} | tail -n +{before + 1}")
    events = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4:
            events.append((int(f[1]), f[2], f[3]))
    events.sort()
    dev = [e for e in events if e[1].endswith("-6")]
    name = dev[0][1] if dev else "?-6"
    plugs, bad = 0, []
    for i, (t, n, stage) in enumerate(events):
        if n != name or stage != "authorized":
            continue
        plugs += 1
        add = max((e[0] for e in events[:i] if e[1] == name and e[2] == "uevent-add"), default=None)
        bind = [e for e in events[:i] if e[1] == name and e[2] == "uevent-bind" and add is not None and e[0] > add]
        recorded = max((e[0] for e in events[:i] if e[1] == name and e[2] == "recorded" and add is not None
                        and e[0] > add), default=None)
        commit = [e for e in events[:i] if e[1] == "ledger" and e[2] == "commit-done" and recorded is not None
                  and e[0] > recorded]
        if add is None or not bind or recorded is None or not commit:
            bad.append(f"plug {plugs}: add {add is not None}, bind before {bool(bind)}, recorded {recorded is not None}, "
                       f"commit before {bool(commit)}")
    check("trace: every `authorized` after the kernel's bind and after the ledger's commit of the decision "
          "(3 plugs)", plugs == 3 and not bad, f"{plugs} authorised; " + "; ".join(bad)[:400])
    pid = kyokad_pid(vm)
    vm.run(f"kill {pid}")
    vm.wait_for(f"[ ! -d /proc/{pid} ]", timeout=15)
    k.start()


GONE = ("No such device", "No such file or directory")   # what pulling a stick mid-decision gives
storm_lines = [0, 0]   # kyokad's log lines written during the storm (where such failures are expected)


# The kernel's own enumeration failing (before any `authorized` write: the device is not even
# handed to user space yet, or is handed over only after retries). Under TCG on loaded cores
# QEMU's xHCI sometimes misses a control transfer's deadline here (tests/vm/storm.py measured 2
# of 500 plugs while other VMs ran); kyokad has no part in it.
ENUMERATION_ERRORS = re.compile(r"device descriptor read|device not accepting address|unable to enumerate|"
                                r"Cannot enable|can't read configurations|unable to read config index")
SET_CONFIG = re.compile(r"can't set config #\d+, error (-\d+)")
dmesg_storm = [0, 0]   # the storm's dmesg lines (classified per cycle, left out of the whole-run check)


def dmesg_lines(vm):
    rc, out = vm.run("dmesg")
    return out.splitlines()


def case_storm(vm, k, cycles=50):
    """50 plugs on one port: even cycles wait until the stick is configured (its interface
    exists: the kernel's SET_CONFIGURATION, which kyokad's `authorized` write starts, has
    completed), odd cycles pull it at once, while kyokad may be reading or authorising it.
    dmesg is read per cycle and each error judged by the cycle it happened in:
      - any error in a cycle that pulled the stick at once: the pull (-19, -71, or -110 when
        QEMU drops the transfer of a device being removed); counted, not a failure;
      - an enumeration error (before any `authorized` write): QEMU's or the kernel's; noted; a
        waited cycle whose stick never enumerated because of it is not kyokad's failure;
      - "can't set config" in a waited cycle: the configuration kyokad asked for failed on a
        stick nobody pulled: a failure."""
    pid = kyokad_pid(vm)
    rss0 = vmrss_kb(vm, pid)
    storm_lines[0] = len(kyokad_log(vm).splitlines())
    dmesg_storm[0] = len(dmesg_lines(vm))
    seen = dmesg_storm[0]
    t = time.monotonic()
    failures, qemu, pulled, set_config_failed = [], [], [], []
    for i in range(cycles):
        id = f"storm{i}"
        vm.plug_usb_storage(id, serial=SERIAL_OK, port="1", image_size_mb=8)
        waited = i % 2 == 0
        configured = None
        if waited:
            configured = vm.wait_for(f"{auth_is('1', 1)} && ls -d {DEV}/[0-9]-1/[0-9]-1:1.0 >/dev/null 2>&1",
                                     timeout=15)
        vm.unplug(id)
        vm.wait_for(f"! {has_usb('1')}", timeout=15)
        lines = dmesg_lines(vm)
        cycle, seen = lines[seen:], len(lines)
        enum = [l for l in cycle if ENUMERATION_ERRORS.search(l)]
        setc = [l for l in cycle if SET_CONFIG.search(l)]
        if not waited:
            pulled += enum + setc
            continue
        qemu += enum
        set_config_failed += setc
        if configured is None and not enum:
            failures.append(i)
    dmesg_storm[1] = seen
    took = time.monotonic() - t
    check(f"{cycles} fast plug/unplug cycles: every waited-for stick configured (but those QEMU failed to enumerate)",
          not failures, f"{took:.1f} s; failed cycles {failures}")
    alive = kyokad_pid(vm) == pid
    check("... kyokad still running (same pid)", alive, f"pid {pid}")
    check("... no 'can't set config' on a stick that was not pulled before it was configured",
          not set_config_failed, "; ".join(set_config_failed)[:300])
    note(f"storm dmesg: {len(pulled)} error line(s) in cycles that pulled the stick at once"
         + (f" ({'; '.join(sorted({SET_CONFIG.search(l).group(1) for l in pulled if SET_CONFIG.search(l)}))})"
            if pulled else "")
         + f"; {len(qemu)} enumeration error(s) of QEMU/the kernel in waited cycles"
         + (f": {qemu[0].strip()}" if qemu else ""))
    # Let kyokad drain the last events, then measure.
    vm.wait_for(f"[ \"$(tail -c 300 {LOG} | grep -c 'usb removed 2-1')\" -ge 1 ]", timeout=10)
    rss1 = vmrss_kb(vm, pid)
    lines = kyokad_log(vm).splitlines()
    storm_lines[1] = len(lines)
    failed = [l for l in lines[storm_lines[0]:] if "ENFORCEMENT FAILED" in l]
    check("... every enforcement failure during the storm is a stick pulled mid-decision (ENODEV/ENOENT)",
          all(any(g in l for g in GONE) for l in failed), f"{len(failed)} failures; " + "; ".join(failed[:2]))
    grew = (rss1 - rss0) if rss0 is not None and rss1 is not None else None
    print(f"# VmRSS of kyokad: {rss0} kB before, {rss1} kB after {cycles} cycles ({grew:+d} kB)" if grew is not None
          else "# VmRSS unreadable", flush=True)
    check("... kyokad's VmRSS steady (< 1 MiB growth)", grew is not None and grew < 1024,
          f"{rss0} kB -> {rss1} kB")
    if k.has_request:
        rc, out = vm.run("policyctl list --json", timeout=20)
        try:
            names = [d.get("device") for d in json.loads(out)]
        except ValueError:
            names = None
        check("... kyokad tracks no stale device afterwards (policyctl list)", names is not None and "2-1" not in names,
              f"{names}")
    vm.plug_usb_storage("after", serial=SERIAL_OK, port="1")
    check("... and still decides: an approved stick after the storm gets sdX",
          vm.wait_for(f"{auth_is('1', 1)} && {sd_of('1')}", timeout=20) is not None)
    vm.unplug("after")


def case_weird_strings(vm, k):
    vm.plug_usb_storage("weird", serial=WEIRD_SERIAL, port="8")
    check("stick with control characters in its serial appears", vm.wait_for(has_usb("8"), timeout=15) is not None)
    rc, raw = vm.run_bytes(f"cat {usb_path('8')}/serial")
    check("... the kernel hands kyokad the raw bytes (ESC, 0x01, newline in sysfs serial)",
          b"\x1b[31m" in raw and b"\x01" in raw and b"B\nC" in raw, repr(raw))
    check("... kyokad decided block", wait_log(vm, r"usb connected 2-8 ", 15) is not None)
    check("... authorized stays 0, no sdX (2 s)", vm.holds(f"{auth_is('8', 0)} && {no_sd_of('8')}", 2))
    log = vm.read_file(LOG)
    line = next((l for l in log.split(b"\n") if b"usb connected 2-8 " in l), b"")
    check("... its log line has the strings escaped (\\x01, \\x0a, \\x1b, \\x7f) on one line",
          b'serial="A\\x01B\\x0aC\\x1b[31mD\\x7fE"' in line, line.decode("ascii", "backslashreplace"))
    bad = [c for c in (b"\x1b", b"\x01", b"\x7f") if c in log]
    check("... no raw ESC, 0x01 or DEL anywhere in kyokad's log", not bad, repr(bad))
    check("... no log line starts with the serial's second half", not any(l.startswith(b"C") for l in log.split(b"\n")))
    if k.has_request:
        rc, out = vm.run_bytes("policyctl list; policyctl list --json", timeout=20)
        check("... policyctl list prints it without raw control characters",
              rc == 0 and b"\x1b" not in out and b"\x01" not in out and b"\\x1b" in out, out[-200:])
    vm.unplug("weird")


def main():
    t0 = time.monotonic()
    for f in (KYOKAD, POLICYCTL, BLOCK_HELPER):
        if not os.access(f, os.X_OK):
            print(f"not ok - {f} missing (make all)\nkyokad-usb: 0 passed, 1 failed")
            return 1
    work = tempfile.mkdtemp(prefix="kyoka-usb-")
    try:
        approver = Approver(work)
        approver.approve_usb(SERIAL_OK, "P-OK")
        approver.approve_usb(SERIAL_HUB_OK, "P-HUB")
        approver.approve_usb(SERIAL_RO, "P-RO", read_only=True)
        approver.sign()
        racer = os.path.join(work, "blk-racer")
        subprocess.run(["cc", "-O2", "-Wall", "-o", racer, RACER_SRC], check=True)
        RO["work"] = work
        RO["template"] = stick_image(os.path.join(work, "stick-template.img"))
        test_rules = []
        for name, text in TEST_RULES.items():
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
            test_rules.append((os.path.join(work, name), f"/etc/udev/rules.d/{name}"))
        overlay = make_overlay(work, approver, extra=[
            (BLOCK_HELPER, f"{GUEST_LIBEXECDIR}/kyoka-block-access"),
            *installed_rules_all(work), *test_rules,
            (racer, "/usr/bin/blk-racer")])
        with VM("kyokad-usb", overlays=[overlay], quiet=not os.environ.get("KYOKA_VM_VERBOSE")) as vm:
            check("boot", True, f"{vm.boot_seconds:.2f} s ({vm.accel}); logs {vm.log_dir}")
            k = Kyokad(vm)
            note(f"policyctl request: {'yes' if k.has_request else 'no (fallback)'}; "
                 f"install: {'yes' if k.has_install else 'no (copy + SIGHUP)'}")
            try:
                case_start(vm, k)
                cases = [("approved stick", lambda: case_approved_stick(vm, k)),
                         ("unapproved stick", lambda: case_unapproved_stick(vm, k)),
                         ("phone", lambda: case_phone(vm, k, work)),
                         ("keyboard", lambda: case_keyboard(vm, k)),
                         ("raw HID", lambda: case_raw_hid(vm, k)),
                         ("hub", lambda: case_hub(vm, k)),
                         ("raw HID permit", lambda: case_raw_hid_permit(vm, k, approver)),
                         ("read-only", lambda: case_read_only(vm, k)),
                         ("read-only race", lambda: case_read_only_race(vm, k) if READ_ONLY_ENFORCED else None),
                         ("read-only <-> read-write", lambda: case_access_change(vm, k, approver)
                          if READ_ONLY_ENFORCED else None),
                         ("request/approve/install/revoke", lambda: case_request_approve_install(vm, k, approver, work)),
                         ("expiry", lambda: case_expiry(vm, k, approver)),
                         ("port-bound permit", lambda: case_port_bound(vm, k, approver, work)),
                         ("kill -9", lambda: case_kill9(vm, k)),
                         ("storm", lambda: case_storm(vm, k)),
                         ("control characters", lambda: case_weird_strings(vm, k)),
                         ("stage order", lambda: case_stage_order(vm, k))]
                only = [c for c in os.environ.get("KYOKA_VM_CASES", "").split(",") if c]
                if only:   # by hand: KYOKA_VM_CASES="read-only,read-only race" runs just those
                    cases = [(n, c) for n, c in cases if n in only]
                run_cases(cases)
                # Devices that stayed blocked all along (each has its own QEMU port): the kernel
                # must never have added an interface or anything below it.
                never = ["1-3", "1-5.1", "2-8"] + ([] if READ_ONLY_ENFORCED else ["2-6"])
                never = [d for d in never if not only or {"1-3": "phone", "1-5.1": "hub", "2-8": "control characters",
                                                          "2-6": "read-only"}[d] in only]
                events = vm.read_file(UEVENTS).decode("utf-8", "backslashreplace").splitlines()
                leaks = [e for e in events for d in never if re.search(rf"/{re.escape(d)}/\S", e)]
                seen = [d for d in never if any(re.search(rf"/{re.escape(d)} \(usb\)", e) for e in events)]
                check("blocked devices never had an interface, not for a moment (every kernel uevent of the run)",
                      not leaks and seen == never, f"{len(events)} uevents; devices seen {seen}; "
                      + ("; ".join(leaks[:3]) if leaks else "no uevent below any of them"))
                # The storm's cycles were judged one by one (case_storm); the rest of the run must be clean.
                all_lines = dmesg_lines(vm)
                rest = all_lines[:dmesg_storm[0]] + all_lines[dmesg_storm[1]:]
                bad = [l for l in rest if SET_CONFIG.search(l) or "error -110" in l]
                check("no 'can't set config' nor -110 in dmesg outside the storm", not bad, "; ".join(bad)[:300])
                lines = kyokad_log(vm).splitlines()
                lines = lines[:storm_lines[0]] + lines[storm_lines[1]:]
                check("kyokad reported no enforcement failure outside the storm",
                      not any("ENFORCEMENT FAILED" in l for l in lines),
                      "; ".join(l for l in lines if "ENFORCEMENT FAILED" in l)[:400])
            finally:
                try:
                    with open(os.path.join(vm.log_dir, "kyokad.log"), "wb") as f:
                        f.write(vm.read_file(LOG))
                    with open(os.path.join(vm.log_dir, "dmesg.txt"), "w") as f:
                        f.write(vm.dmesg())
                    with open(os.path.join(vm.log_dir, "uevents.log"), "wb") as f:
                        f.write(vm.read_file(UEVENTS))
                    note(f"kyokad's log, dmesg, uevents: {vm.log_dir}/kyokad.log, dmesg.txt, uevents.log")
                except Exception:
                    pass
    except Exception as e:
        check("kyokad-usb", False, f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary("kyokad-usb", t0)


if __name__ == "__main__":
    sys.exit(main())
