#!/usr/bin/env python3
"""A QEMU guest for kyoka's real-kernel tests (stdlib only).

    with VM("name", overlays=["build/vm/overlay"], cmdline=["usbcore.authorized_default=0"]) as vm:
        rc, out = vm.run("cat /sys/bus/usb/devices/usb1/authorized_default")
        vm.plug_usb_storage("stick1", serial="ABC123")
        vm.wait_for("ls /sys/block | grep -q sd", timeout=5)
        vm.unplug("stick1")

The image comes from tests/vm/build-image.sh (build/vm/current). Every socket of the machine
(console, command channel, QMP) is read all the time by one background thread: an undrained
console makes each USB plug about 1 s slower. QEMU is started with PR_SET_PDEATHSIG and is
killed on every exit path, so a failing test cannot leak it. Logs: build/vm/logs/<name>-<time>/.
"""

import atexit
import base64
import ctypes
import itertools
import json
import os
import secrets
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
VMDIR = os.environ.get("KYOKA_VM_DIR", os.path.join(TOP, "build", "vm"))

_live = set()  # every running VM, killed at interpreter exit whatever happened


def _kill_all():
    for vm in list(_live):
        vm.kill()


atexit.register(_kill_all)


class VMError(Exception):
    pass


class QMPError(VMError):
    pass


def kvm_usable():
    """KVM only where a real backend is loaded: /dev/kvm alone may be a stalling paravirtual one."""
    return os.access("/dev/kvm", os.R_OK | os.W_OK) and (
        os.path.isdir("/sys/module/kvm_intel") or os.path.isdir("/sys/module/kvm_amd"))


def make_overlay(src_dir, out_path):
    """Packs src_dir into a gzip'd cpio (plus the shared libraries of its ELF files) that is
    appended to the initrd: its files land on the guest's / and replace the image's ones."""
    subprocess.run([os.path.join(HERE, "build-image.sh"), "--overlay", src_dir, out_path], check=True)
    return out_path


def _set_pdeathsig():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: qemu dies with the test process
    os.setsid()                    # and a Ctrl-C in the terminal reaches only us


class VM:
    def __init__(self, name="vm", image_dir=None, overlays=(), cmdline=(), usb_sysfs_default=None,
                 iface_default=None, mem=512, smp=2, accel=None, extra_args=(), log_dir=None,
                 boot_timeout=90, quiet=True, pvh=True):
        self.name = name
        self.image_dir = os.path.realpath(image_dir or os.path.join(VMDIR, "current"))
        if not os.path.isfile(os.path.join(self.image_dir, "initrd.gz")):
            raise VMError(f"no image in {self.image_dir}: run tests/vm/build-image.sh")
        self.overlays = list(overlays)
        self.cmdline = list(cmdline)
        if usb_sysfs_default is not None:
            self.cmdline.append(f"kyoka.usb_sysfs_default={int(usb_sysfs_default)}")
        if iface_default is not None:
            self.cmdline.append(f"kyoka.iface_default={int(iface_default)}")
        self.mem, self.smp = mem, smp
        self.accel = accel or ("kvm" if kvm_usable() else "tcg")
        self.extra_args = list(extra_args)
        self.boot_timeout = boot_timeout
        self.quiet = quiet
        vmlinux = os.path.join(self.image_dir, "vmlinux")
        self.kernel = vmlinux if pvh and os.path.isfile(vmlinux) else os.path.join(self.image_dir, "vmlinuz")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.log_dir = log_dir or os.path.join(VMDIR, "logs", f"{name}-{stamp}-{os.getpid()}")
        os.makedirs(self.log_dir, exist_ok=True)
        # Unix socket paths are limited to 108 bytes: keep them short, under /tmp.
        self.run_dir = f"/tmp/kyoka-vm-{os.getpid()}-{secrets.token_hex(3)}"
        self.proc = None
        self.boot_seconds = None
        self._t0 = time.monotonic()
        self._lock = threading.Condition()
        self._qmp_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._replies = {}         # command id -> (rc, bytes)
        self._pending = None       # (id, [lines]) being received
        self._ready = False
        self._qmp_replies = {}     # qmp id -> message
        self.events = []           # QMP events, (monotonic time, message)
        self._console = bytearray()
        self._stop = False
        self._thread = None
        self._socks = {}
        self._logs = {}
        self._devices = {}         # id -> what to clean after DEVICE_DELETED

    # --- lifecycle --------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.kill()
            raise
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False

    def log(self, what, text):
        t = time.monotonic() - self._t0
        f = self._logs.get(what)
        if f is None:
            f = self._logs[what] = open(os.path.join(self.log_dir, what + ".log"), "a", buffering=1,
                                        errors="backslashreplace")
        for line in text.splitlines() or [""]:
            f.write(f"[{t:9.3f}] {line}\n")

    def _listen(self, what):
        path = os.path.join(self.run_dir, what)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)
        return s, path

    @staticmethod
    def _remove_stale_run_dirs():
        """Run dirs of test processes that were killed (-9) before they could clean up."""
        for d in os.listdir("/tmp"):
            if d.startswith("kyoka-vm-"):
                pid = d.split("-")[2]
                if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                    shutil.rmtree(os.path.join("/tmp", d), ignore_errors=True)

    def start(self):
        self._remove_stale_run_dirs()
        os.makedirs(self.run_dir)
        os.makedirs(os.path.join(self.run_dir, "disks"))
        initrd = os.path.join(self.image_dir, "initrd.gz")
        if self.overlays:
            # A second (third...) cpio appended to the first is unpacked over it by the kernel.
            initrd = os.path.join(self.run_dir, "initrd.gz")
            with open(initrd, "wb") as out:
                for part in [os.path.join(self.image_dir, "initrd.gz")] + self.overlays:
                    if os.path.isdir(part):
                        part = make_overlay(part, os.path.join(self.run_dir, f"overlay{next(self._ids)}.gz"))
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, out)
        listeners = {w: self._listen(w) for w in ("console", "cmd", "qmp")}
        append = ["console=ttyS0", "loglevel=3" if self.quiet else "loglevel=7", "panic=-1",
                  "rdinit=/init", "tsc=reliable", "no_timer_check"] + self.cmdline
        accel = ["-accel", "kvm", "-cpu", "host"] if self.accel == "kvm" else \
                ["-accel", "tcg,thread=multi", "-cpu", "max"]
        argv = ["qemu-system-x86_64", *accel, "-machine", "q35", "-smp", str(self.smp),
                "-m", str(self.mem), "-nodefaults", "-display", "none", "-no-reboot",
                "-kernel", self.kernel, "-initrd", initrd,
                "-append", " ".join(append),
                "-device", "qemu-xhci,id=xhci,p2=8,p3=8",
                "-device", "pcie-root-port,id=rp1,chassis=1,slot=1",
                "-device", "pcie-root-port,id=rp2,chassis=2,slot=2",
                "-chardev", f"socket,id=con0,path={listeners['console'][1]},server=off,"
                            f"logfile={os.path.join(self.log_dir, 'console.raw')}",
                "-serial", "chardev:con0",
                "-chardev", f"socket,id=cmd0,path={listeners['cmd'][1]},server=off",
                "-serial", "chardev:cmd0",
                "-chardev", f"socket,id=qmp0,path={listeners['qmp'][1]},server=off",
                "-mon", "chardev=qmp0,mode=control",
                *self.extra_args]
        self.log("vm", "argv: " + shlex.join(argv))
        self._t0 = time.monotonic()
        stderr = open(os.path.join(self.log_dir, "qemu.stderr"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                     preexec_fn=_set_pdeathsig)
        _live.add(self)
        for what, (lsock, _) in listeners.items():
            lsock.settimeout(20)
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                raise VMError(f"qemu did not connect its {what} socket: see {self.log_dir}/qemu.stderr")
            finally:
                lsock.close()
            conn.setblocking(False)
            self._socks[what] = conn
        self._thread = threading.Thread(target=self._reader, name=f"vm-{self.name}", daemon=True)
        self._thread.start()
        self.qmp("qmp_capabilities")
        deadline = time.monotonic() + self.boot_timeout
        with self._lock:
            while not self._ready:
                self._check_alive()
                if not self._lock.wait(timeout=min(0.5, max(0, deadline - time.monotonic()))) \
                        and time.monotonic() > deadline:
                    raise VMError(f"guest not ready after {self.boot_timeout} s: see {self.log_dir}/console.log")
        self.boot_seconds = time.monotonic() - self._t0
        self.log("vm", f"ready after {self.boot_seconds:.2f} s ({self.accel})")

    def _check_alive(self):
        if self.proc is None or self.proc.poll() is not None:
            raise VMError(f"qemu exited ({self.proc and self.proc.returncode}): see {self.log_dir}")

    def shutdown(self, timeout=10):
        """Stops the machine (QMP quit; the guest has nothing to flush) and cleans up."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.qmp("quit", timeout=5)
            except Exception:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self):
        """Kills qemu (if still running) and frees everything; safe to call repeatedly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        _live.discard(self)
        self._stop = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)
        for s in self._socks.values():
            try:
                s.close()
            except OSError:
                pass
        self._socks = {}
        shutil.rmtree(self.run_dir, ignore_errors=True)
        for f in self._logs.values():
            try:
                f.close()
            except Exception:
                pass

    # --- the reader thread ------------------------------------------------------------------
    def _reader(self):
        sel = selectors.DefaultSelector()
        bufs = {}
        for what, s in self._socks.items():
            sel.register(s, selectors.EVENT_READ, what)
            bufs[what] = b""
        while not self._stop:
            for key, _ in sel.select(timeout=0.2):
                what = key.data
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    with self._lock:
                        self._lock.notify_all()
                    continue
                if what == "console":
                    with self._lock:
                        self._console += data
                buf = bufs[what] + data
                *lines, bufs[what] = buf.split(b"\n")
                for line in lines:
                    getattr(self, "_on_" + what)(line.rstrip(b"\r"))
            if self.proc.poll() is not None and not sel.get_map():
                break
        with self._lock:
            self._lock.notify_all()

    def _on_console(self, line):
        self.log("console", line.decode("utf-8", "backslashreplace"))

    def _on_cmd(self, line):
        with self._lock:
            if line.startswith(b"@@KYOKA-BEGIN "):
                self._pending = (line[14:].rstrip(b"@").decode(), [])
            elif line.startswith(b"@@KYOKA-END ") and self._pending:
                cid, rc = line[12:].rstrip(b"@").decode().split()
                if cid == self._pending[0]:
                    out = base64.b64decode(b"".join(self._pending[1]))
                    self._replies[cid] = (int(rc), out)
                self._pending = None
                self._lock.notify_all()
            elif self._pending:
                self._pending[1].append(line)
            elif line.startswith(b"@@KYOKA-BAD "):
                cid = line[12:].rstrip(b"@").decode("ascii", "replace")
                self._replies[cid] = (None, b"")
                self._lock.notify_all()
            elif line == b"@@KYOKA-READY@@":
                self._ready = True
                self._lock.notify_all()
            else:
                self.log("cmd", "stray: " + line.decode("utf-8", "backslashreplace"))

    def _on_qmp(self, line):
        if not line.strip():
            return
        msg = json.loads(line)
        self.log("qmp", "<- " + line.decode())
        with self._lock:
            if "event" in msg:
                self.events.append((time.monotonic(), msg))
            elif "id" in msg:
                self._qmp_replies[msg["id"]] = msg
            self._lock.notify_all()

    # --- the command channel ----------------------------------------------------------------
    def run_bytes(self, cmd, timeout=30):
        """Runs a shell script in the guest (busybox sh, as root). Returns (status, output bytes),
        stdout and stderr merged. The guest kills the script after `timeout` s (status 137)."""
        cid = f"{os.getpid()}-{next(self._ids)}-{secrets.token_hex(4)}"
        tmo = max(1, int(timeout + 0.999))
        b64 = base64.b64encode(cmd.encode()).decode()
        line = f"RUN {cid} {tmo} {len(b64)} {b64}\n".encode()
        self.log("cmd", f"$ {cmd}  [{cid}]")
        t = time.monotonic()
        self._socks["cmd"].setblocking(True)
        self._socks["cmd"].sendall(line)
        deadline = t + tmo + 15  # slack: TCG, a busy serial line
        with self._lock:
            while cid not in self._replies:
                self._check_alive()
                if time.monotonic() > deadline:
                    raise VMError(f"no reply to {cmd!r} within {tmo + 15} s")
                self._lock.wait(0.5)
            rc, out = self._replies.pop(cid)
        if rc is None:
            raise VMError(f"the guest received {cmd!r} garbled (see {self.log_dir}/cmd.log)")
        self.log("cmd", f"  -> {rc} in {time.monotonic() - t:.3f} s, {len(out)} bytes\n"
                 + out[:4000].decode("utf-8", "backslashreplace"))
        return rc, out

    def run(self, cmd, timeout=30, check=False):
        """run_bytes() with the output decoded (invalid UTF-8 escaped). check=True raises on
        a non-zero status."""
        rc, out = self.run_bytes(cmd, timeout)
        text = out.decode("utf-8", "backslashreplace")
        if check and rc != 0:
            raise VMError(f"{cmd!r} exited {rc}: {text}")
        return rc, text

    def read_file(self, path, timeout=10):
        rc, out = self.run_bytes(f"cat {shlex.quote(path)}", timeout)
        if rc != 0:
            raise VMError(f"cat {path}: {out.decode(errors='replace')}")
        return out

    def wait_for(self, predicate, timeout=10, interval=0.05):
        """Waits until predicate holds; returns the seconds it took, or None on timeout.
        A string is a guest shell condition, polled inside the guest (one round trip);
        a callable is polled on the host."""
        t = time.monotonic()
        if isinstance(predicate, str):
            script = (f"until {{ {predicate}\n}} >/dev/null 2>&1; do sleep {interval}; done")
            try:
                rc, _ = self.run(script, timeout=timeout)
            except VMError:
                return None
            return time.monotonic() - t if rc == 0 else None
        while True:
            if predicate():
                return time.monotonic() - t
            if time.monotonic() - t > timeout:
                return None
            time.sleep(interval)

    def holds(self, condition, seconds, interval=0.05):
        """True if the guest shell condition stays true for `seconds` (checked every interval,
        at least twice), timed on the guest's clock in centiseconds."""
        script = ("cs() { read u _ < /proc/uptime; echo $(( ${u%.*}${u#*.} )); }; "
                  f"end=$(( $(cs) + {int(seconds * 100)} )); n=0; "
                  f"while [ $(cs) -lt $end ] || [ $n -lt 2 ]; do "
                  f"{{ {condition}\n}} >/dev/null 2>&1 || exit 1; n=$((n+1)); sleep {interval}; done")
        rc, _ = self.run(script, timeout=seconds + 10)
        return rc == 0

    def dmesg(self):
        return self.run("dmesg", timeout=20, check=True)[1]

    def console(self):
        with self._lock:
            return self._console.decode("utf-8", "backslashreplace")

    # --- QMP ----------------------------------------------------------------------------------
    def qmp(self, execute, timeout=20, **arguments):
        """Runs a QMP command; returns its "return" value, raises QMPError on an "error"."""
        with self._qmp_lock:
            qid = f"q{next(self._ids)}"
            msg = {"execute": execute, "id": qid}
            if arguments:
                msg["arguments"] = arguments
            data = json.dumps(msg)
            self.log("qmp", "-> " + data)
            s = self._socks["qmp"]
            s.setblocking(True)
            s.sendall(data.encode() + b"\n")
            deadline = time.monotonic() + timeout
            with self._lock:
                while qid not in self._qmp_replies:
                    if self.proc.poll() is not None and execute != "quit":
                        raise VMError(f"qemu exited during {execute}")
                    if time.monotonic() > deadline:
                        raise QMPError(f"{execute}: no reply within {timeout} s")
                    self._lock.wait(0.2)
                reply = self._qmp_replies.pop(qid)
        if "error" in reply:
            raise QMPError(f"{execute} {arguments}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def wait_event(self, name, match=None, timeout=10, since=0):
        """Waits for a QMP event `name` (whose data contains every item of `match`), seen at
        index >= since of self.events; returns the message."""
        deadline = time.monotonic() + timeout
        with self._lock:
            i = since
            while True:
                while i < len(self.events):
                    _, ev = self.events[i]
                    i += 1
                    data = ev.get("data", {})
                    if ev["event"] == name and all(data.get(k) == v for k, v in (match or {}).items()):
                        return ev
                if time.monotonic() > deadline:
                    raise QMPError(f"no {name} {match or ''} within {timeout} s")
                self._check_alive()
                self._lock.wait(0.2)

    def plug_usb(self, driver, id, bus="xhci.0", **props):
        """device_add of any USB device (usb-kbd, usb-mtp, usb-hub, usb-serial, ...). `port` is
        a string like "5" or "5.1" (behind the hub on port 5)."""
        args = {"driver": driver, "id": id, "bus": bus}
        args.update({k: v for k, v in props.items() if v is not None})
        self.qmp("device_add", **args)
        self._devices.setdefault(id, [])
        return id

    def plug_usb_storage(self, id, serial=None, image_size_mb=16, port=None, readonly=False,
                         image=None, **props):
        """A USB stick backed by its own sparse image file (a shared image trips QEMU's lock)."""
        path = image or os.path.join(self.run_dir, "disks", f"{id}.img")
        if image is None:
            with open(path, "wb") as f:
                f.truncate(image_size_mb * 1024 * 1024)
        node = f"blk-{id}"
        self.qmp("blockdev-add", **{"node-name": node, "driver": "raw", "read-only": readonly,
                                    "file": {"driver": "file", "filename": path, "read-only": readonly}})
        try:
            self.plug_usb("usb-storage", id, drive=node, serial=serial, port=port, **props)
        except Exception:
            self.qmp("blockdev-del", **{"node-name": node})
            raise
        self._devices[id] = [("blockdev-del", {"node-name": node})]
        return path

    def plug_usb_net(self, id, mac, port=None, **props):
        nd = f"net-{id}"
        self.qmp("netdev_add", type="user", id=nd)
        self.plug_usb("usb-net", id, netdev=nd, mac=mac, port=port, **props)
        self._devices[id] = [("netdev_del", {"id": nd})]

    def plug_pcie_nic(self, id, mac, bus="rp1", driver="e1000e"):
        nd = f"net-{id}"
        self.qmp("netdev_add", type="user", id=nd)
        self.qmp("device_add", driver=driver, id=id, bus=bus, netdev=nd, mac=mac)
        self._devices[id] = [("netdev_del", {"id": nd})]

    def unplug(self, id, timeout=15):
        """device_del, then wait for its DEVICE_DELETED and free its backend (drive, netdev).
        A PCIe device needs the guest's cooperation (pciehp); e1000e on rp1 took 0.1 s."""
        since = len(self.events)
        self.qmp("device_del", id=id)
        self.wait_event("DEVICE_DELETED", {"device": id}, timeout=timeout, since=since)
        for cmd, args in self._devices.pop(id, []):
            self.qmp(cmd, **args)
        disk = os.path.join(self.run_dir, "disks", f"{id}.img")
        if os.path.exists(disk):
            os.unlink(disk)


# --- a tiny command line, for poking at the guest by hand ---------------------------------------
def main(argv):
    import argparse
    p = argparse.ArgumentParser(description="boot the kyoka test guest and run commands in it")
    p.add_argument("--overlay", action="append", default=[], help="directory or cpio.gz to add")
    p.add_argument("--append", action="append", default=[], help="kernel command line word")
    p.add_argument("commands", nargs="*", help="shell commands to run in the guest")
    a = p.parse_args(argv)
    with VM("cli", overlays=a.overlay, cmdline=a.append) as vm:
        print(f"# booted in {vm.boot_seconds:.2f} s ({vm.accel}); logs: {vm.log_dir}", file=sys.stderr)
        rc = 0
        for c in a.commands:
            rc, out = vm.run(c, timeout=120)
            sys.stdout.write(out)
            print(f"# exit {rc}", file=sys.stderr)
        return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
