#!/usr/bin/env python3
"""kyokad in the test guest: shared by test-kyokad-usb.py and bench-usb.py (stdlib only).

- guest shell expressions for a USB device found by its QEMU port (`[0-9]-PORT`: the bus
  depends on the device's speed), its sdX, its `authorized`;
- `Approver`: the city's side on the host (key, master policy, approve/revoke/sign with
  build/policyctl);
- `make_overlay`: kyokad, policyctl, the trusted key and the signed policy as a directory to
  append to the guest's initrd;
- `Kyokad`: starts kyokad in the guest's background (log in /tmp/kyokad.log), installs a
  policy (`policyctl install`, else copy + SIGHUP).
"""

import base64
import json
import os
import re
import shlex
import shutil
import struct
import subprocess

from vm import VMError

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
KYOKAD = os.path.join(BUILD, "kyokad")
POLICYCTL = os.path.join(BUILD, "policyctl")
BLOCK_HELPER = os.path.join(BUILD, "kyoka-block-access")
RULES_DIR = os.path.join(TOP, "udev-rules")
RULES = os.path.join(RULES_DIR, "70-kyoka.rules")
GUEST_LIBEXECDIR = "/usr/lib/kyoka"
DEV = "/sys/bus/usb/devices"
LOG = "/tmp/kyokad.log"
QEMU_STORAGE = ("46f4", "0001")


# --- guest shell expressions -------------------------------------------------------------------
def usb_path(port):
    return f"$(ls -d {DEV}/[0-9]-{port} 2>/dev/null | head -1)"


def has_usb(port):
    return f"ls -d {DEV}/[0-9]-{port} >/dev/null 2>&1"


def auth_is(port, value):
    return f"[ \"$(cat {DEV}/[0-9]-{port}/authorized 2>/dev/null)\" = {value} ]"


def sd_of(port):
    """A block device sdX whose USB ancestor is the device on `port`, in sysfs and in /dev."""
    return (f"b=$(ls {DEV}/[0-9]-{port}/*:*/host*/target*/*/block/ 2>/dev/null | head -1); "
            f"[ -n \"$b\" ] && [ -e /sys/block/$b ] && [ -b /dev/$b ]")


def no_sd_of(port):
    return f"! ls {DEV}/[0-9]-{port}/*:*/host*/target*/*/block/sd* >/dev/null 2>&1"


def attr(vm, port, name):
    rc, out = vm.run(f"cat {usb_path(port)}/{name}")
    return out.strip() if rc == 0 else None


def sd_name(vm, port):
    rc, out = vm.run(f"ls {DEV}/[0-9]-{port}/*:*/host*/target*/*/block/ 2>/dev/null | head -1")
    return out.strip() or None


def sd_count(vm):
    return int(vm.run("ls /sys/block | grep -c '^sd'")[1].strip() or 0)


def dd_roundtrip(vm, sd):
    """Writes 64 KiB of random data to /dev/SD, reads it back past the page cache."""
    rc, out = vm.run(f"d=/dev/{sd}; head -c 65536 /dev/urandom > /tmp/w && "
                     f"dd if=/tmp/w of=$d bs=64k count=1 conv=fsync 2>&1 && "
                     f"echo 3 > /proc/sys/vm/drop_caches && "
                     f"dd if=$d of=/tmp/r bs=64k count=1 iflag=direct 2>/dev/null && cmp /tmp/w /tmp/r && echo SAME",
                     timeout=40)
    return rc == 0 and "SAME" in out, out.strip()[-160:]


def kyokad_log(vm):
    return vm.read_file(LOG).decode("utf-8", "backslashreplace")


def log_lines_for(vm, bus_path):
    """kyokad's USB record lines for the device BUS_PATH."""
    return [l for l in kyokad_log(vm).splitlines() if re.search(rf"kyokad: usb \S+ {re.escape(bus_path)} ", l)]


def wait_log(vm, pattern, timeout=15):
    """Waits until kyokad's log has a line matching the grep -E PATTERN."""
    return vm.wait_for(f"grep -qE {shlex.quote(pattern)} {LOG}", timeout=timeout)


def kyokad_pid(vm):
    """The daemon's pid: not its nftables worker's, which runs the same binary (and is named so)."""
    rc, out = vm.run("for p in $(pidof kyokad); do grep -q nft-worker /proc/$p/cmdline 2>/dev/null || echo $p; done")
    return out.split()[0] if rc == 0 and out.split() else None


def vmrss_kb(vm, pid):
    rc, out = vm.run(f"grep VmRSS /proc/{pid}/status")
    m = re.search(r"(\d+)\s*kB", out)
    return int(m.group(1)) if m else None


def stick_image(path, size_mb=16, fs=True):
    """A stick image with an MBR partition table: partition 1 from 1 MiB to the end (type 83),
    holding an ext4 file system (label KYOKA, no journal) when FS, made with the host's mke2fs."""
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    start, n = 2048, (size_mb << 11) - 2048
    mbr = bytearray(512)
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", 0x83, b"\xff\xff\xff", start, n)
    mbr[510:512] = b"\x55\xaa"
    with open(path, "r+b") as f:
        f.write(mbr)
    if fs:
        subprocess.run(["mkfs.ext4", "-q", "-F", "-E", f"offset={start * 512}", "-L", "KYOKA", "-O", "^has_journal",
                        path, f"{n // 2}k"], check=True)
    return path


def stick_with_files(work, name, files, size_mb=16, mkfs_extra=()):
    """An MBR stick (stick_image's layout) in WORK/NAME.img whose ext4 file system holds FILES
    ({relative path: bytes}); MKFS_EXTRA: more mkfs.ext4 options (e.g. "-N", "16384")."""
    tree = os.path.join(work, name + ".d")
    for rel, data in files.items():
        p = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    img = stick_image(os.path.join(work, name + ".img"), size_mb=size_mb, fs=False)
    part = os.path.join(work, name + ".part")
    n = (size_mb << 11) - 2048
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", tree, *mkfs_extra, "-L", "KYOKA", "-O", "^has_journal", part,
                    f"{n // 2}k"], check=True)
    subprocess.run(["dd", f"if={part}", f"of={img}", "bs=1M", "seek=1", "conv=notrunc", "status=none"], check=True)
    os.unlink(part)
    return img


def json_lines(text):
    """The JSON values of TEXT, one a line (policyctl ledger show --json); other lines skipped."""
    values = []
    for line in text.splitlines():
        try:
            values.append(json.loads(line))
        except ValueError:
            pass
    return values


def unmount(mnt, tries=100):
    """A guest shell snippet: unmounts MNT, again while it is busy, as a desktop's eject would be
    retried. Right after a file was written on a recorded medium the carry-out record holds the
    file (the kernel's fanotify event, then kyokad reading it for its SHA-256) and umount can find
    the file system busy for that moment (docs/kyokad.md). Fails if MNT stays mounted."""
    return (f"for i in $(seq {tries}); do umount {mnt} 2>/dev/null && break; sleep 0.1; done; "
            f"! grep -q ' {mnt} ' /proc/mounts")


def installed_rules(work):
    """udev-rules/70-kyoka.rules as `make install` writes it, for the guest's paths."""
    out = os.path.join(work, "70-kyoka.rules")
    with open(RULES) as f, open(out, "w") as g:
        g.write(f.read().replace("@LIBEXECDIR@", GUEST_LIBEXECDIR))
    return out


def installed_rules_all(work):
    """Every udev-rules/*.rules as `make install` writes it: (host file, guest path) pairs, the
    guest path under /etc/kyoka-vm/ (a test copies them into /etc/udev/rules.d when it wants)."""
    pairs = []
    for name in sorted(os.listdir(RULES_DIR)):
        if not name.endswith(".rules"):
            continue
        out = os.path.join(work, name)
        with open(os.path.join(RULES_DIR, name)) as f, open(out, "w") as g:
            g.write(f.read().replace("@LIBEXECDIR@", GUEST_LIBEXECDIR))
        pairs.append((out, f"/etc/kyoka-vm/{name}"))
    return pairs


# --- the approver, on the host -----------------------------------------------------------------
class Approver:
    def __init__(self, work):
        self.dir = os.path.join(work, "approver")
        os.makedirs(self.dir)
        self.policy = os.path.join(self.dir, "policy.conf")
        self.key = os.path.join(self.dir, "admin.key")
        self.ctl(["keygen", "--out", os.path.join(self.dir, "admin")])
        out = self.ctl(["init", "--issuer", "kyoka VM test", "--contract", "tests/vm/test-kyokad-usb.py"])
        with open(self.policy, "w") as f:
            f.write(out)

    def ctl(self, args):
        p = subprocess.run([POLICYCTL, *args], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"policyctl {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def approve_usb(self, serial, permit, until=None, read_only=False, options=()):
        """OPTIONS: more approve options, e.g. ("--scan-in-and-out",)."""
        args = ["approve", self.policy, "--vendor", QEMU_STORAGE[0], "--product", QEMU_STORAGE[1],
                "--serial", serial, "--interfaces", "08:06:50", "--permit", permit, "--by", "vm test", *options]
        if until:
            args += ["--until", until]
        if read_only:
            args.append("--read-only")
        self.ctl(args)

    def ctl_rc(self, args):
        """policyctl ARGS: (exit status, stderr), without raising."""
        p = subprocess.run([POLICYCTL, *args], capture_output=True, text=True)
        return p.returncode, p.stderr

    def text(self):
        with open(self.policy) as f:
            return f.read()

    def approve_request(self, request_path, permit, *options):
        """OPTIONS: more approve options, e.g. "--bind-port", "--hidraw-user"."""
        self.ctl(["approve", self.policy, "--request", request_path, "--permit", permit, "--by", "vm test", *options])

    def approve(self, *args):
        """approve with ARGS as given (the device and any options), by "vm test"."""
        self.ctl(["approve", self.policy, *args, "--by", "vm test"])

    def revoke(self, permit):
        self.ctl(["revoke", self.policy, "--permit", permit])

    def sign(self):
        self.ctl(["sign", "--key", self.key, self.policy])

    def files(self):
        with open(self.policy, "rb") as f, open(self.policy + ".sig", "rb") as g:
            return f.read(), g.read()


def guest_user_files(work):
    """/etc/passwd and /etc/group for the guest with a user "kyokatest" (uid and gid 1000), as
    (host file, guest path) pairs for make_overlay's EXTRA."""
    passwd, group = os.path.join(work, "passwd"), os.path.join(work, "group")
    with open(passwd, "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nkyokatest:x:1000:1000:kyoka test:/tmp:/bin/sh\n")
    with open(group, "w") as f:
        f.write("root:x:0:\nkyokatest:x:1000:\n")
    return [(passwd, "/etc/passwd"), (group, "/etc/group")]


# ---- clamd in the guest (tests/vm/test-kyokad-scan.py, bench-scan.py, demo.py) ----------------
# Debian's clamav-daemon binary from the host, with a signature database made at test time:
# `sigtool --md5` of the EICAR test file (nothing is downloaded).
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
SIGTOOL = shutil.which("sigtool") or "/usr/bin/sigtool"
CLAMD_SOCKET = "/run/clamav/clamd.ctl"


def clamd_overlay_files(work, conf_extra=""):
    """The files that make clamd run in the guest, as make_overlay's EXTRA: the binary, its
    configuration (CONF_EXTRA: more lines) and the one-signature database."""
    db = os.path.join(work, "clamd-db")
    os.makedirs(db, exist_ok=True)
    with open(os.path.join(work, "eicar.com"), "wb") as f:
        f.write(EICAR)
    with open(os.path.join(db, "test.hdb"), "w") as f:
        f.write(subprocess.run([SIGTOOL, "--md5", "eicar.com"], cwd=work, capture_output=True, text=True,
                               check=True).stdout)
    conf = os.path.join(work, "clamd.conf")
    with open(conf, "w") as f:
        f.write(f"LocalSocket {CLAMD_SOCKET}\nLocalSocketMode 666\nDatabaseDirectory /etc/clamav-test/db\n"
                f"Foreground yes\nLogFile /tmp/clamd.log\nTemporaryDirectory /tmp\n{conf_extra}")
    return [(CLAMD, "/usr/sbin/clamd"), (conf, "/etc/clamav-test/clamd.conf"),
            (os.path.join(db, "test.hdb"), "/etc/clamav-test/db/test.hdb")]


def start_clamd(vm, timeout=60):
    """Starts clamd in the guest (clamd_overlay_files): seconds until its socket exists, or None."""
    vm.run("mkdir -p /run/clamav && (setsid clamd -c /etc/clamav-test/clamd.conf </dev/null >/tmp/clamd.out 2>&1 &)",
           check=True)
    return vm.wait_for(f"[ -S {CLAMD_SOCKET} ]", timeout=timeout)


def make_overlay(work, approver, extra=()):
    """EXTRA: (host file, guest path) pairs, e.g. a helper binary."""
    root = os.path.join(work, "overlay")
    for d in ("usr/sbin", "usr/bin", "etc/kyoka/keys.d", "var/lib/kyoka", "srv/mtp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(KYOKAD, os.path.join(root, "usr/sbin/kyokad"))
    shutil.copy(POLICYCTL, os.path.join(root, "usr/bin/policyctl"))
    shutil.copy(os.path.join(approver.dir, "admin.pub"), os.path.join(root, "etc/kyoka/keys.d/admin.pub"))
    shutil.copy(approver.policy, os.path.join(root, "etc/kyoka/policy.conf"))
    shutil.copy(approver.policy + ".sig", os.path.join(root, "etc/kyoka/policy.conf.sig"))
    for src, dst in extra:
        os.makedirs(os.path.dirname(os.path.join(root, dst.lstrip("/"))), exist_ok=True)
        shutil.copy(src, os.path.join(root, dst.lstrip("/")))
    return root


class Kyokad:
    """kyokad in the guest, in the background of the command shell."""

    def __init__(self, vm):
        self.vm = vm
        rc, out = vm.run("kyokad --help")
        self.args = "--config-dir /etc/kyoka --state-dir /var/lib/kyoka --runtime-dir /run/kyoka"
        if "--network" in out:
            self.args += " --network off"   # USB only here; test-kyokad-net.py enforces links
        rc, out = vm.run("policyctl --help")
        self.has_request = " request " in out
        self.has_install = " install " in out

    def start(self, timeout=20, pipe=None, env=""):
        """Starts kyokad; waits for its 'ready' line (appended to the log). Returns the pid.
        PIPE: a guest command that kyokad's output goes through on its way to the log; ENV:
        assignments put before the command (\"KYOKAD_TRACE=1\")."""
        rc, before = self.vm.run(f"grep -c 'kyokad ready' {LOG} 2>/dev/null || true")
        n = int(before.strip() or 0)
        env = env + " " if env else ""
        if pipe:
            self.vm.run(f"({env}/usr/sbin/kyokad {self.args} </dev/null 2>&1 | {pipe} >>{LOG} 2>&1) &", check=True)
        else:
            self.vm.run(f"{env}setsid /usr/sbin/kyokad {self.args} </dev/null >>{LOG} 2>&1 &", check=True)
        took = self.vm.wait_for(f"[ $(grep -c 'kyokad ready' {LOG}) -gt {n} ]", timeout=timeout)
        if took is None:
            raise VMError("kyokad did not become ready:\n" + kyokad_log(self.vm)[-2000:])
        return kyokad_pid(self.vm)

    def install(self, approver):
        """Puts the approver's signed policy into force in the guest. Returns how."""
        text, sig = approver.files()
        self.vm.run(f"mkdir -p /tmp/new && echo {base64.b64encode(text).decode()} | base64 -d > /tmp/new/policy.conf && "
                    f"echo {base64.b64encode(sig).decode()} | base64 -d > /tmp/new/policy.conf.sig", check=True)
        if self.has_install:
            rc, out = self.vm.run("policyctl install /tmp/new/policy.conf", timeout=30)
            if rc != 0:
                raise VMError(f"policyctl install: exit {rc}: {out}")
            return "policyctl install", out
        self.vm.run("cp /tmp/new/policy.conf.sig /tmp/new/policy.conf /etc/kyoka/ && kill -HUP $(pidof kyokad)",
                    check=True)
        return "copy + SIGHUP", ""
