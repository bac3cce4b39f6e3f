#!/usr/bin/env python3
"""Records fixtures for kyokad's unit and umockdev tests from QEMU devices on the pinned kernel.

    python3 tests/vm/record-fixtures.py [OUTDIR]        (default tests/data/usb)

For each device: NAME.descriptors (the raw sysfs `descriptors` bytes, read while the device is
unauthorized: what kyokad parses), NAME.attrs (sysfs attributes unauthorized and authorized,
the interfaces, udev's properties) and, for a few, NAME.umockdev / NAME-unauthorized.umockdev
(umockdev-record run inside the guest; needs the host's umockdev, whose binary and libraries
are added to the guest as an overlay). Not part of `make check`: rerun when the kernel or QEMU
changes, and review the diff.
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vm import VM, TOP  # noqa: E402

DEV = "/sys/bus/usb/devices"
ATTRS = ["idVendor", "idProduct", "bcdDevice", "serial", "manufacturer", "product",
         "bDeviceClass", "bDeviceSubClass", "bDeviceProtocol", "bNumConfigurations",
         "bNumInterfaces", "bConfigurationValue", "speed", "version", "removable", "authorized"]
WEIRD_SERIAL = "A\x01B\nC\x1b[31mD\x7fE\u00ffF\u20acG"   # control chars, DEL, Latin-1, a 3-byte char
LONG_SERIAL = "L" * 200                                 # QEMU's bLength is 8 bits: 402 wraps

# name, driver, QEMU properties, umockdev recording wanted
DEVICES = [
    ("usb-storage", "usb-storage", {"serial": "KYOKA-STICK-1"}, True),
    ("usb-storage-weird-serial", "usb-storage", {"serial": WEIRD_SERIAL}, False),
    ("usb-storage-long-serial", "usb-storage", {"serial": LONG_SERIAL}, False),
    ("usb-kbd", "usb-kbd", {}, True),
    ("usb-mouse", "usb-mouse", {}, False),
    ("usb-mtp", "usb-mtp", {"rootdir": None, "desc": "Kyoka Test Phone"}, True),
    ("usb-hub", "usb-hub", {}, False),
    ("usb-net", "usb-net", {"mac": "52:54:00:4b:59:02"}, False),
]


def esc(b):
    """Bytes -> one line: printable ASCII as is, anything else as \\xNN."""
    return "".join(chr(c) if 0x20 <= c < 0x7f and c != 0x5c else f"\\x{c:02x}" for c in b)


def read_attrs(vm, path):
    lines = []
    for a in ATTRS:
        rc, out = vm.run_bytes(f"cat {path}/{a}")
        lines.append(f"{a}=" + (esc(out.rstrip(b"\n")) if rc == 0 else "(absent)"))
    return lines


def udev_props(vm, path):
    out = vm.run_bytes(f"udevadm info -q property -p {path}")[1]
    return "\n".join(esc(l) for l in out.rstrip(b"\n").split(b"\n"))


def main():
    out_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "tests", "data", "usb"))
    os.makedirs(out_dir, exist_ok=True)
    umockdev = shutil.which("umockdev-record")
    overlay = tempfile.mkdtemp(prefix="kyoka-fixtures-")
    mtp_root = tempfile.mkdtemp(prefix="kyoka-mtp-")
    with open(os.path.join(mtp_root, "photo.txt"), "w") as f:
        f.write("not a photo\n")
    if umockdev:
        os.makedirs(os.path.join(overlay, "usr/bin"))
        shutil.copy(umockdev, os.path.join(overlay, "usr/bin/umockdev-record"))
    else:
        print("record-fixtures: no umockdev-record on the host (apt-get install umockdev): "
              "skipping .umockdev trees", file=sys.stderr)
    try:
        with VM("fixtures", usb_sysfs_default=0, overlays=[overlay]) as vm:
            kver = vm.run("uname -r")[1].strip()
            qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0]
            for port, (name, driver, props, want_umockdev) in enumerate(DEVICES, start=1):
                props = dict(props)
                if "rootdir" in props:
                    props["rootdir"] = mtp_root
                record(vm, out_dir, name, driver, props, str(port), want_umockdev and umockdev, kver, qemu)
    finally:
        shutil.rmtree(overlay, ignore_errors=True)
        shutil.rmtree(mtp_root, ignore_errors=True)


def record(vm, out_dir, name, driver, props, port, want_umockdev, kver, qemu):
    id = name.replace("-", "")
    if driver == "usb-storage":
        vm.plug_usb_storage(id, port=port, **props)
    elif driver == "usb-net":
        vm.plug_usb_net(id, port=port, **props)
    else:
        vm.plug_usb(driver, id, port=port, **props)
    if vm.wait_for(f"ls -d {DEV}/[0-9]-{port}", timeout=15) is None:
        raise RuntimeError(f"{name}: never appeared")
    path = vm.run(f"ls -d {DEV}/[0-9]-{port}")[1].strip()
    vm.run("udevadm settle -t 10")
    desc_unauth = vm.read_file(f"{path}/descriptors")
    unauth = read_attrs(vm, path)
    udev_unauth = udev_props(vm, path)
    if want_umockdev:
        rc, tree = vm.run_bytes(f"umockdev-record {path}", timeout=60)
        if rc == 0:
            open(os.path.join(out_dir, f"{name}-unauthorized.umockdev"), "wb").write(tree)
        else:
            print(f"record-fixtures: umockdev-record failed: {tree.decode(errors='replace')}", file=sys.stderr)

    vm.run(f"echo 1 > {path}/authorized", check=True)
    n = int(vm.run(f"cat {path}/bNumInterfaces")[1].strip() or 0)
    vm.wait_for(f"[ $(ls -d {path}:* 2>/dev/null | wc -l) -ge {n} ]", timeout=15)
    vm.run("udevadm settle -t 10")
    if driver == "usb-storage":
        vm.wait_for(f"ls -d {path}/*:*/host*/target*/*/block/sd*", timeout=15)
        vm.run("udevadm settle -t 10")
    desc_auth = vm.read_file(f"{path}/descriptors")
    auth = read_attrs(vm, path)
    ifaces = vm.run(
        f"for i in {path}:*; do echo \"interface $(basename $i) class=$(cat $i/bInterfaceClass) "
        f"subclass=$(cat $i/bInterfaceSubClass) protocol=$(cat $i/bInterfaceProtocol) "
        f"authorized=$(cat $i/authorized) driver=$(basename $(readlink $i/driver) 2>/dev/null)\"; done; "
        f"ls -d {path}/*:*/host*/target*/*/block/* {path}/*:*/net/* 2>/dev/null | sed 's|.*/|child |'")[1]
    udev_auth = udev_props(vm, path)
    if want_umockdev:
        children = vm.run(f"ls -d {path}:* {path}/*:*/host*/target*/*/block/sd* 2>/dev/null")[1].split()
        rc, tree = vm.run_bytes(f"umockdev-record {path} {' '.join(children)}", timeout=60)
        if rc == 0:
            open(os.path.join(out_dir, f"{name}.umockdev"), "wb").write(tree)

    open(os.path.join(out_dir, f"{name}.descriptors"), "wb").write(desc_unauth)
    if name == "usb-storage-weird-serial":
        open(os.path.join(out_dir, f"{name}.serial"), "wb").write(vm.read_file(f"{path}/serial"))
    with open(os.path.join(out_dir, f"{name}.attrs"), "w") as f:
        shown = {k: ("(a temporary directory)" if k == "rootdir" else v) for k, v in props.items()}
        f.write(f"# {name}: QEMU {driver} {esc(repr(shown).encode())} on port {port} ({path})\n"
                f"# {qemu}; kernel {kver}; recorded by tests/vm/record-fixtures.py\n"
                f"# values: printable ASCII as is, any other byte (and backslash) as \\xNN\n"
                f"# {name}.descriptors is the unauthorized read; after authorization it is "
                f"{'identical' if desc_auth == desc_unauth else 'DIFFERENT'} ({len(desc_unauth)} bytes)\n")
        f.write("\n[unauthorized]\n" + "\n".join(unauth) + "\n")
        f.write("\n[unauthorized udev]\n" + udev_unauth + "\n")
        f.write("\n[authorized]\n" + "\n".join(auth) + "\n" + ifaces.rstrip("\n") + "\n")
        f.write("\n[authorized udev]\n" + udev_auth + "\n")
    print(f"record-fixtures: {name}: {len(desc_unauth)} descriptor bytes, "
          f"{'umockdev, ' if want_umockdev else ''}{path}")
    vm.unplug(id)


if __name__ == "__main__":
    main()
