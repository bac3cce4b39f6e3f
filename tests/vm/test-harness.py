#!/usr/bin/env python3
"""Self-test of the real-kernel harness, and proof of the kernel behaviour kyokad relies on:
with authorized_default=0 nothing plugged becomes usable until its `authorized` is written.

Prints TAP-like "ok - NAME" / "not ok - NAME" lines and "vm-harness: N passed, N failed".
Devices are plugged on fixed QEMU ports; the guest names them BUS-PORT, and the bus depends on
the device's speed (usb-storage is SuperSpeed: bus 2; usb-kbd/usb-hub are USB 1/2: bus 1), so
they are looked up by port with a glob.
"""

import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vm import VM  # noqa: E402
from tap import check, summary  # noqa: E402

DEV = "/sys/bus/usb/devices"
def usb_path(port):
    """Guest shell expression for the sysfs directory of the device on QEMU port `port`."""
    return f"$(ls -d {DEV}/[0-9]-{port} 2>/dev/null | head -1)"


def has_usb(port):
    return f"ls -d {DEV}/[0-9]-{port} >/dev/null 2>&1"


def attr(vm, port, name):
    rc, out = vm.run(f"cat {usb_path(port)}/{name}")
    return out.strip() if rc == 0 else None


def sd_of(port):
    """Condition: a block device sdX exists whose USB ancestor is on `port`."""
    return f"ls -d {DEV}/[0-9]-{port}/*:*/host*/target*/*/block/sd* >/dev/null 2>&1"


def test_storage(vm):
    t = time.monotonic()
    vm.plug_usb_storage("stick1", serial="KYOKA-STICK-1", port="1")
    took = vm.wait_for(has_usb("1"), timeout=10)
    check("usb-storage appears in sysfs", took is not None, f"{took:.2f} s after device_add" if took else "")
    check("usb-storage arrives unauthorized", attr(vm, "1", "authorized") == "0")
    rc, out = vm.run(f"ls -d {usb_path('1')}:* 2>/dev/null | wc -l")
    check("unauthorized usb-storage has no interfaces", out.strip() == "0", out.strip())
    check("unauthorized usb-storage: no sdX for 3 s",
          vm.holds(f"! ls /sys/block | grep -q '^sd'", 3))
    rc, out = vm.run(f"od -An -tx1 {usb_path('1')}/descriptors | tr -d ' \\n' | cut -c1-40")
    check("descriptors readable while unauthorized (device + config descriptor)",
          out.startswith("1201") and out[36:40] == "0902", out.strip())

    t = time.monotonic()
    vm.run(f"echo 1 > {usb_path('1')}/authorized", check=True)
    took = vm.wait_for(sd_of("1") + " && [ -b /dev/$(ls /sys/block | grep '^sd' | head -1) ]", timeout=10)
    check("authorized=1 brings sdX", took is not None, f"{took:.2f} s" if took else "")
    rc, out = vm.run("d=/dev/$(ls /sys/block | grep '^sd' | head -1); "
                     "head -c 65536 /dev/urandom > /tmp/w && dd if=/tmp/w of=$d bs=64k count=1 conv=fsync 2>&1 && "
                     "echo 3 > /proc/sys/vm/drop_caches && dd if=$d of=/tmp/r bs=64k count=1 iflag=direct 2>/dev/null; "
                     "cmp /tmp/w /tmp/r && echo SAME", timeout=30)
    check("dd write to the authorized stick works (read back identical)", rc == 0 and "SAME" in out, out.strip()[-200:])

    vm.run(f"echo 0 > {usb_path('1')}/authorized", check=True)
    took = vm.wait_for("! ls /sys/block | grep -q '^sd'", timeout=10)
    check("authorized=0 removes sdX", took is not None, f"{took:.2f} s" if took else "")
    rc, out = vm.run(f"ls -d {usb_path('1')}:* 2>/dev/null | wc -l")
    check("de-authorized usb-storage has no interfaces", out.strip() == "0")
    t = time.monotonic()
    vm.unplug("stick1")
    took = vm.wait_for(f"! {has_usb('1')}", timeout=10)
    check("unplug: DEVICE_DELETED and the device leaves sysfs", took is not None,
          f"{time.monotonic() - t:.2f} s")


def test_keyboard_and_interfaces(vm):
    vm.plug_usb("usb-kbd", "kbd1", port="2")
    check("usb-kbd appears", vm.wait_for(has_usb("2"), timeout=10) is not None)
    check("usb-kbd arrives unauthorized", attr(vm, "2", "authorized") == "0")
    vm.run(f"echo 1 > {usb_path('2')}/authorized", check=True)
    iface = f"{usb_path('2')}/$(basename {usb_path('2')}):1.0"
    took = vm.wait_for(f"[ -e {iface}/driver ]", timeout=10)
    check("authorized usb-kbd: interface 1.0 bound to a driver", took is not None,
          vm.run(f"basename $(readlink {iface}/driver)")[1].strip())
    rc, out = vm.run(f"cat {iface}/authorized {iface}/bInterfaceClass")
    check("per-interface authorized attribute exists (1 on an authorized device)",
          rc == 0 and out.split()[:2] == ["1", "03"], out.strip())
    vm.run(f"echo 0 > {iface}/authorized", check=True)
    took = vm.wait_for(f"[ ! -e {iface}/driver ]", timeout=10)
    check("interface authorized=0 unbinds its driver, the device stays", took is not None
          and attr(vm, "2", "authorized") == "1")
    vm.run(f"echo 1 > {iface}/authorized", check=True)
    check("interface authorized=1 alone does not bind a driver again (1 s)", vm.holds(f"[ ! -e {iface}/driver ]", 1))
    vm.run(f"basename {iface} > /sys/bus/usb/drivers_probe", check=True)
    check("... writing the interface to /sys/bus/usb/drivers_probe does",
          vm.wait_for(f"[ -e {iface}/driver ]", timeout=10) is not None)
    rc, out = vm.run(f"cat {DEV}/usb1/interface_authorized_default")
    check("controller has interface_authorized_default", rc == 0 and out.strip() in ("0", "1"), out.strip())
    vm.unplug("kbd1")
    check("usb-kbd unplugged", vm.wait_for(f"! {has_usb('2')}", timeout=10) is not None)


def test_interface_default(vm):
    """interface_authorized_default=0: an authorized device gets interfaces, none bound."""
    vm.run(f"for c in {DEV}/usb*/interface_authorized_default; do echo 0 > $c; done", check=True)
    try:
        vm.plug_usb("usb-kbd", "kbd2", port="2")
        check("usb-kbd appears (interface_authorized_default=0)", vm.wait_for(has_usb("2"), timeout=10) is not None)
        vm.run(f"echo 1 > {usb_path('2')}/authorized", check=True)
        iface = f"{usb_path('2')}/$(basename {usb_path('2')}):1.0"
        took = vm.wait_for(f"[ -e {iface}/authorized ]", timeout=10)
        rc, out = vm.run(f"cat {iface}/authorized; [ -e {iface}/driver ] && echo bound || echo unbound")
        check("authorized device: interface exists with authorized=0 and no driver",
              took is not None and out.split() == ["0", "unbound"], " ".join(out.split()))
        check("... and stays unbound (1 s)", vm.holds(f"[ ! -e {iface}/driver ]", 1))
        vm.run(f"echo 1 > {iface}/authorized && basename {iface} > /sys/bus/usb/drivers_probe", check=True)
        check("interface authorized=1 + drivers_probe binds it",
              vm.wait_for(f"[ -e {iface}/driver ]", timeout=10) is not None)
        vm.unplug("kbd2")
        vm.wait_for(f"! {has_usb('2')}", timeout=10)
    finally:
        vm.run(f"for c in {DEV}/usb*/interface_authorized_default; do echo 1 > $c; done", check=True)


def test_hub(vm):
    vm.plug_usb("usb-hub", "hub1", port="5")
    vm.plug_usb_storage("hubstick", serial="KYOKA-BEHIND-HUB", port="5.1")
    check("usb-hub appears", vm.wait_for(has_usb("5"), timeout=10) is not None)
    check("usb-hub arrives unauthorized", attr(vm, "5", "authorized") == "0")
    check("device behind an unauthorized hub does not appear (2 s)", vm.holds(f"! {has_usb('5.1')}", 2))
    vm.run(f"echo 1 > {usb_path('5')}/authorized", check=True)
    took = vm.wait_for(has_usb("5.1"), timeout=15)
    check("child appears after the hub is authorized", took is not None, f"{took:.2f} s" if took else "")
    check("child behind the hub arrives unauthorized", attr(vm, "5.1", "authorized") == "0")
    check("no sdX from the child while unauthorized (1 s)", vm.holds("! ls /sys/block | grep -q '^sd'", 1))
    vm.run(f"echo 1 > {usb_path('5.1')}/authorized", check=True)
    check("authorized child behind the hub brings sdX", vm.wait_for(sd_of("5.1"), timeout=10) is not None)
    vm.unplug("hubstick")
    vm.unplug("hub1")
    check("hub and child unplugged", vm.wait_for(f"! {has_usb('5')} && ! {has_usb('5.1')}", timeout=10) is not None)


def links(vm):
    return vm.run("/usr/sbin/ip -o link show")[1]


def test_usb_net(vm):
    mac = "52:54:00:4b:59:01"
    vm.plug_usb_net("net1", mac=mac, port="3")
    check("usb-net appears", vm.wait_for(has_usb("3"), timeout=10) is not None)
    check("usb-net arrives unauthorized", attr(vm, "3", "authorized") == "0")
    check("no link for the unauthorized usb-net (2 s)", vm.holds(f"! /usr/sbin/ip -o link | grep -qi {mac}", 2))
    vm.run(f"echo 1 > {usb_path('3')}/authorized", check=True)
    took = vm.wait_for(f"/usr/sbin/ip -o link | grep -qi {mac}", timeout=10)
    names = [l.split(":")[1].strip() for l in links(vm).splitlines() if mac in l.lower()]
    check("authorized usb-net becomes a link", took is not None, f"{took:.2f} s, {names}" if took else "")
    vm.unplug("net1")
    check("usb-net unplugged, link gone", vm.wait_for(f"! /usr/sbin/ip -o link | grep -qi {mac}", timeout=10) is not None)


def test_pcie_nic(vm):
    mac = "52:54:00:4b:59:e1"
    vm.run("/usr/sbin/ip -o monitor link > /tmp/monitor.log 2>&1 & echo $! > /tmp/monitor.pid; sleep 0.2", check=True)
    t = time.monotonic()
    vm.plug_pcie_nic("nic1", mac=mac, bus="rp1")
    took = vm.wait_for(f"/usr/sbin/ip -o link | grep -qi {mac}", timeout=15)
    check("hot-plugged e1000e on rp1 becomes a link", took is not None, f"{took:.2f} s" if took else "")
    vm.wait_for("udevadm settle -t 5", timeout=10)
    rc, out = vm.run("kill $(cat /tmp/monitor.pid); cat /tmp/monitor.log")
    newlinks = [l for l in out.splitlines() if mac in l.lower() and "Deleted" not in l]
    names = sorted({l.split(":")[1].strip() for l in newlinks})
    check("rtnetlink monitor saw RTM_NEWLINK for it", len(newlinks) >= 1,
          f"{len(newlinks)} messages, names {names}")


def test_cmdline_default():
    """usbcore.authorized_default=0 on the kernel command line (the boot-time path)."""
    with VM("harness-cmdline", cmdline=["usbcore.authorized_default=0"]) as vm:
        rc, out = vm.run(f"cat /sys/module/usbcore/parameters/authorized_default {DEV}/usb*/authorized_default")
        check("usbcore.authorized_default=0 on the command line reaches every controller",
              out.split() == ["0", "0", "0"], " ".join(out.split()))
        vm.plug_usb("usb-kbd", "kbd", port="2")
        check("... and a usb-kbd arrives unauthorized", vm.wait_for(has_usb("2"), timeout=10) is not None
              and attr(vm, "2", "authorized") == "0")
        return vm.boot_seconds


def main():
    t0 = time.monotonic()
    quick = "--quick" in sys.argv
    try:
        with VM("harness", usb_sysfs_default=0) as vm:
            check("boot", True, f"{vm.boot_seconds:.2f} s ({vm.accel}); logs {vm.log_dir}")
            rc, out = vm.run(f"cat {DEV}/usb*/authorized_default /sys/module/usbcore/parameters/authorized_default")
            check("authorized_default=0 written on every controller", out.split() == ["0", "0", "-1"],
                  " ".join(out.split()))
            rc, out = vm.run("echo -n hello; printf '\\000\\377\\n'; echo err >&2; exit 3")
            check("command channel: status, binary output, stderr",
                  rc == 3 and out == "hello\x00\\xff\nerr\n", repr(out))
            rc, out = vm.run("sleep 5", timeout=1)
            check("command channel: guest-side timeout kills the command", rc == 137, str(rc))
            rc, out = vm.run("echo after")
            check("command channel: usable after a timeout", out == "after\n")
            for test in (test_storage, test_keyboard_and_interfaces, test_interface_default, test_hub, test_usb_net, test_pcie_nic):
                try:
                    test(vm)
                except Exception as e:
                    check(test.__name__, False, f"{type(e).__name__}: {e}")
                    traceback.print_exc()
            rc, out = vm.run("dmesg | grep -E \"can't set config|error -110\"")
            check("no 'can't set config' in dmesg", rc != 0, out.strip())
        if not quick:
            test_cmdline_default()
    except Exception as e:
        check("harness", False, f"{type(e).__name__}: {e}")
        traceback.print_exc()
    return summary("vm-harness", t0)


if __name__ == "__main__":
    sys.exit(main())
