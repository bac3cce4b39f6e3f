#!/usr/bin/env python3
"""kyokad and media on other buses than USB, on a real kernel: issue 14's list, in one boot.

The guest has, from boot, an SD card in a PCI reader (sdhci-pci + sd-card), a virtio disk and a
SATA disk (ide-hd on the q35 AHCI): the workstation's own disks, an optical drive (ide-cd on
the AHCI) with no disc, and a second SATA disk that is taken off the kernel before kyoka is
installed (see ESATA_SCSI). kyoka's udev rules are installed and kyokad started for the first time
after boot, as on a workstation where kyoka is installed with a card left in the slot. Later: a
disc is inserted (blockdev-change-medium), cards are pulled and inserted (the same), an NVMe
drive is hot-plugged on a PCIe root port (device_add nvme), the second SATA disk comes back
(a scan of its host, as on an eSATA hot-plug).

Every assertion about access is made on the kernel's state (`ro`, the node's mode and owner,
what an open and a write by root or by uid 1000 in group disk/cdrom get); kyokad's log and
ledger are read to learn what it decided and recorded. The approver (key, master policy,
approve/revoke/sign) is on the host; requests come from `policyctl request` in the guest.

Prints "ok - NAME" / "not ok - NAME" and finally "kyokad-media: N passed, N failed".
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from vm import VM  # noqa: E402
from tap import check, note, run_cases, summary  # noqa: E402
from kyoka_guest import (BLOCK_HELPER, GUEST_LIBEXECDIR, KYOKAD, LOG, POLICYCTL, Approver, Kyokad,  # noqa: E402
                         installed_rules_all, json_lines, kyokad_log, kyokad_pid, make_overlay, stick_image, unmount, wait_log)

RACER_SRC = os.path.join(HERE, "blk-racer.c")
DISK_GROUP = "1000:1000:6"     # uid 1000 with group disk
CDROM_GROUP = "1000:1000:24"   # uid 1000 with group cdrom
CARD_INSERTIONS = 8            # card insertions under the racer
SPIN_MS = 700
VIRTIO_SERIAL = "VIRTSER1"
SATA_SERIAL = "SATASER1"
NVME_SERIAL = "NVSER123"
ESATA_SERIAL = "ESATASER2"
ESATA_MODEL = "ESATA-MODEL"
# The hot-plugged SATA disk: QEMU's AHCI cannot hot-plug a disk (its IDE buses refuse
# device_add), so the disk is on AHCI port 1 from boot, taken off the kernel before kyoka is
# installed (the SCSI device's delete) and found again later by a scan of its host: to the
# kernel, what libata does when a disk is plugged into an eSATA port (scsi_add_device, sd
# probe, add_disk, the same uevents).
ESATA_SCSI = "1:0:0:0"
SATA_SCSI = "0:0:0:0"             # the workstation's own SATA disk (AHCI port 0)
SATA = ["sda"]                   # its kernel name, read at start (the kernel names disks as they answer)
S = {}                         # state shared by the cases
LEDGER = ("policyctl --config-dir /etc/kyoka --state-dir /var/lib/kyoka --runtime-dir /run/kyoka "
          "ledger show --json")
AS_USER = "su kyokatest -s /bin/sh -c"
CARRY_THREE = {"a.txt": b"first file\n", "b.bin": bytes(range(256)) * 300, "報告書.txt": "月報\n".encode() * 50}


def sh(vm, cmd, timeout=30):
    rc, out = vm.run(cmd, timeout=timeout)
    return rc, out.strip()


def settle(vm):
    vm.run("/bin/udevadm settle --timeout=15", timeout=30)


def card(vm):
    """The SD card's disk name, or None."""
    rc, out = sh(vm, "ls /sys/block | grep '^mmcblk[0-9]*$' | head -1")
    return out or None


def node_state(vm, name):
    """'RO MODE OWNER:GROUP' of /dev/NAME and /sys/class/block/NAME/ro."""
    rc, out = sh(vm, f"echo $(cat /sys/class/block/{name}/ro) $(stat -c '%a %U:%G' /dev/{name})")
    return out


def try_as(vm, user, path, mode):
    rc, out = sh(vm, f"blk-racer --user {user} --try {path} {mode}")
    m = re.search(r"open=(\S+) io=(\S+)", out)
    return (m.group(1), m.group(2)) if m else (out, "?")


def root_write(vm, name):
    """A direct write by root to /dev/NAME: its dd output (an EPERM on a read-only disk)."""
    rc, out = sh(vm, f"[ -b /dev/{name} ] || exit 9; dd if=/dev/urandom of=/dev/{name} bs=4k count=1 seek=256 "
                     f"oflag=direct conv=fsync 2>&1; echo rc=$?")
    return out


def roundtrip(vm, name):
    """64 KiB written to /dev/NAME (at 1 MiB: past any partition table) and read back."""
    rc, out = sh(vm, f"d=/dev/{name}; head -c 65536 /dev/urandom > /tmp/w && "
                     f"dd if=/tmp/w of=$d bs=64k count=1 seek=16 conv=fsync 2>&1 && echo 3 > /proc/sys/vm/drop_caches && "
                     f"dd if=$d of=/tmp/r bs=64k count=1 skip=16 iflag=direct 2>/dev/null && cmp /tmp/w /tmp/r && echo SAME",
                 timeout=40)
    return "SAME" in out, out[-160:]


def log_media(vm, name):
    return [l for l in kyokad_log(vm).splitlines() if re.search(rf"kyokad: media \S+ {re.escape(name)} ", l)]


def wait_media(vm, event, name, decision, timeout=20):
    return wait_log(vm, rf"media {event} {name} .*: {decision} ", timeout)


def request(vm, name, path):
    rc, out = sh(vm, f"policyctl request {name} --out /tmp/req-{name}.json")
    if rc != 0:
        return None, out
    with open(path, "wb") as f:
        f.write(vm.read_file(f"/tmp/req-{name}.json"))
    with open(path) as f:
        return json.load(f), out


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def parse_racer(text):
    return [{k: v for k, v in (w.split("=", 1) for w in l.split())} for l in text.splitlines() if l.startswith("node=")]


# --- the cases --------------------------------------------------------------------------------
def esata_disk(vm):
    """The hot-plugged SATA disk's kernel name, or None."""
    rc, out = sh(vm, f"ls /sys/bus/scsi/devices/{ESATA_SCSI}/block 2>/dev/null")
    return out or None


def case_start(vm, k):
    rc, out = sh(vm, f"ls /sys/bus/scsi/devices/{SATA_SCSI}/block 2>/dev/null")
    if out:
        SATA[0] = out.split()[0]
    note(f"the workstation's SATA disk (AHCI port 0) is {SATA[0]}")
    rc, out = sh(vm, "ls -l /dev/mmcblk0 /dev/sr0 /dev/sda /dev/vda | awk '{print $1, $3, $4, $NF}'")
    note(f"before kyoka: {out}")
    name = esata_disk(vm)
    rc, model = sh(vm, f"cat /sys/bus/scsi/devices/{ESATA_SCSI}/model")
    rc, out = sh(vm, f"echo 1 > /sys/bus/scsi/devices/{ESATA_SCSI}/delete && /bin/udevadm settle --timeout=15; "
                     f"ls /sys/bus/scsi/devices/ | tr '\\n' ' '")
    check(f"the disk on AHCI port 1 ({name}, {model}) is taken off the kernel before kyoka is installed",
          name is not None and model.strip() == ESATA_MODEL and ESATA_SCSI not in out.split(), out)
    # What Debian's 60-block.rules does when the block module appears (it is built in here, so
    # the guest's coldplug never sends that event): the kernel polls drives for a new medium.
    vm.run("echo 2000 > /sys/module/block/parameters/events_dfl_poll_msecs", check=True)
    rc, out = sh(vm, "cp /etc/kyoka-vm/*.rules /etc/udev/rules.d/ && /bin/udevadm control --reload && "
                     "ls /etc/udev/rules.d/ | tr '\\n' ' '")
    check("the shipped udev rules are installed (73-kyoka-media.rules)", "73-kyoka-media.rules" in out, out)
    pid = k.start()
    check("kyokad starts for the first time on the machine", pid is not None, f"pid {pid}")
    rc, out = sh(vm, "cat /var/lib/kyoka/disks-at-install")
    lines = out.splitlines()
    check("STATE_DIR/disks-at-install lists the virtio and the SATA disk, not the card or the drive",
          lines[:1] == ["kyoka fixed disks 1"] and len(lines) == 3 and any(VIRTIO_SERIAL in l for l in lines)
          and any(SATA_SERIAL in l for l in lines), " | ".join(lines))
    for name, why in (("vda", "virtio"), (SATA[0], "SATA")):
        check(f"the {why} disk is a fixed disk: one fixed-disk note, 'present at installation'",
              wait_log(vm, rf"media fixed-disk {name} .*present at installation", 10) is not None,
              (log_media(vm, name) or [""])[-1])
    # The card and the drive were found open (udev gave them 0660 before kyoka was installed):
    # decided block, re-attached, and closed by the rule when they came back.
    ok = vm.wait_for("[ -b /dev/mmcblk0 ] && [ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '600 root:root' ] && "
                     "[ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ]", timeout=30)
    check("the card present at boot: blocked at start, re-attached, mmcblk0 ro=1, node 600 root:root", ok is not None,
          f"{node_state(vm, 'mmcblk0')}; " + "; ".join(log_media(vm, "mmcblk0"))[-300:])
    ok = vm.wait_for("[ -b /dev/sr0 ] && [ \"$(stat -c '%a %U:%G' /dev/sr0)\" = '600 root:root' ]", timeout=30)
    check("the empty optical drive: blocked at start, sr0 node 600 root:root", ok is not None, node_state(vm, "sr0"))
    settle(vm)
    rc, parts = sh(vm, "for p in /dev/mmcblk0p*; do echo $(stat -c '%n %a %U:%G' $p) $(cat /sys/class/block/${p#/dev/}/ro); "
                       "done")
    rc, props = sh(vm, "/bin/udevadm info /dev/mmcblk0 | grep -E 'UDISKS_IGNORE|KYOKA_MEDIA'")
    check("... its partition too (600 root:root, ro=1); udev: KYOKA_MEDIA=closed, UDISKS_IGNORE=1",
          parts and all(l.endswith("600 root:root 1") for l in parts.splitlines()) and "UDISKS_IGNORE=1" in props
          and "KYOKA_MEDIA=closed" in props, f"{parts}; {' '.join(props.split())}")
    out = root_write(vm, "mmcblk0")
    check("... root's own write to mmcblk0 fails (Operation not permitted: BLKROSET)",
          "Operation not permitted" in out and "rc=0" not in out, out[-100:])
    o = try_as(vm, DISK_GROUP, "/dev/mmcblk0", "ro")
    check("... uid 1000 in group disk cannot even open it for reading", o[0] == "EACCES", str(o))
    for name in ("vda", SATA[0]):
        st = node_state(vm, name)
        ok, detail = roundtrip(vm, name)
        check(f"fixed disk {name} at start: ro=0, node 660 root:disk, writable, no access file",
              st == "0 660 root:disk" and ok and vm.run(f"[ ! -e /run/kyoka/media/{name} ]")[0] == 0, f"{st}; {detail}")


def case_card_read_only(vm, k, approver, work):
    req, out = request(vm, "mmcblk0", os.path.join(work, "req-card.json"))
    dev = (req or {}).get("device", {})
    check("policyctl request mmcblk0: the card's identity (bus mmc, manfid, oemid, name, serial, date, slot)",
          dev.get("bus") == "mmc" and dev.get("serial") == "0xdeadbeef" and dev.get("oemid") and dev.get("date")
          and dev.get("path", "").endswith("-mmc"), json.dumps(dev) if dev else out)
    approver.approve_request(os.path.join(work, "req-card.json"), "P-SD-RO", "--read-only")
    approver.sign()
    how, out = k.install(approver)
    ok = vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ] && [ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '640 root:disk' ]",
                     timeout=20)
    rc, acc = sh(vm, "cat /run/kyoka/media/mmcblk0; cat /sys/block/mmcblk0/diskseq")
    check("read-only permit installed: mmcblk0 ro=1, node 640 root:disk; access file read-only with its diskseq",
          ok is not None and acc.split()[:1] == ["read-only"] and acc.split()[1] == f"diskseq={acc.split()[2]}",
          f"{node_state(vm, 'mmcblk0')}; {' '.join(acc.split())}")
    settle(vm)
    r, w = try_as(vm, DISK_GROUP, "/dev/mmcblk0", "ro"), try_as(vm, DISK_GROUP, "/dev/mmcblk0", "rw")
    check("... uid 1000 in group disk: reads it, cannot open it for writing", r == ("ok", "ok") and w[0] == "EACCES",
          f"read {r}, write {w}")
    out = root_write(vm, "mmcblk0")
    check("... root's write fails (Operation not permitted)", "Operation not permitted" in out, out[-100:])
    check("... kyokad recorded read-only with the permit",
          wait_log(vm, r"media re-evaluated mmcblk0 .*: read-only .*P-SD-RO", 5) is not None,
          (log_media(vm, "mmcblk0") or [""])[-1])


def case_card_race(vm, k, work):
    """Cards inserted while a racer (uid 1000, group disk) attacks every mmcblk node from the
    moment it exists: with the read-only permit in force, never opened for writing; the images
    are unchanged. (All QEMU cards have one CID: every one of them is the approved card.)"""
    log = "/tmp/racer-card.log"
    sh(vm, f"(blk-racer --user {DISK_GROUP} --spin-ms {SPIN_MS} --nodes mmcblk KYOKA-CARD > {log} 2>&1 &); sleep 0.2")
    changed = 0
    for i in range(CARD_INSERTIONS):
        img = os.path.join(work, f"card-{i}.img")
        subprocess.run(["cp", "--sparse=always", S["card_template"], img], check=True)
        vm.qmp("eject", id="card0", force=True)
        vm.wait_for("! ls /sys/block | grep -q '^mmcblk'", timeout=15)
        vm.qmp("blockdev-change-medium", id="card0", filename=img, format="raw")
        vm.wait_for("[ -b /dev/mmcblk0 ] && [ \"$(stat -c %a /dev/mmcblk0)\" = 640 ]", timeout=20)
        time.sleep(SPIN_MS / 1000 + 0.3)
        vm.qmp("eject", id="card0", force=True)
        vm.wait_for("! ls /sys/block | grep -q '^mmcblk'", timeout=15)
        changed += sha(img) != S["card_sha"]
    sh(vm, "kill $(pidof blk-racer)")
    vm.wait_for("! pidof blk-racer >/dev/null", timeout=5)
    nodes = parse_racer(vm.read_file(log).decode())
    rw = [n for n in nodes if n.get("opens_rw") != "0" or n.get("writes_ok") != "0" or n.get("sgio_ok") != "0"]
    check(f"{CARD_INSERTIONS} read-only cards under a racer in group disk: never opened for writing, no write; "
          "images unchanged", nodes and not rw and changed == 0,
          f"{len(nodes)} nodes, {sum(int(n.get('attempts', 0)) for n in nodes)} attempts; "
          f"{len(rw)} opened for writing; {changed} images changed")
    img = os.path.join(work, "card-last.img")
    subprocess.run(["cp", "--sparse=always", S["card_template"], img], check=True)
    vm.qmp("blockdev-change-medium", id="card0", filename=img, format="raw")
    vm.wait_for("[ -b /dev/mmcblk0 ] && [ \"$(stat -c %a /dev/mmcblk0)\" = 640 ]", timeout=20)
    S["card_img"] = img


def case_card_read_write(vm, k, approver):
    approver.revoke("P-SD-RO")
    approver.approve_request(os.path.join(S["work"], "req-card.json"), "P-SD-RW")
    approver.sign()
    k.install(approver)
    ok = vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 0 ] && [ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '660 root:disk' ]",
                     timeout=20)
    settle(vm)
    # (512 bytes at 512 KiB: before the card's partition, which is mounted next)
    w = try_as(vm, DISK_GROUP, "/dev/mmcblk0", "rw")
    check("read-write permit installed: ro=0, node 660 root:disk; uid 1000 in group disk opens it and writes",
          ok is not None and w == ("ok", "ok"), f"{node_state(vm, 'mmcblk0')}; {w}")
    # Mounted read-write, then revoked: the card is taken away (re-attached), the mount loses it.
    rc, out = sh(vm, "mkdir -p /mnt/card && mount -t ext4 /dev/mmcblk0p1 /mnt/card && touch /mnt/card/before && "
                     "grep ' /mnt/card ' /proc/mounts")
    check("... its partition mounts read-write (root, as udisks would for the user)", " rw," in out, out)
    approver.revoke("P-SD-RW")
    approver.sign()
    k.install(approver)
    ok = vm.wait_for("[ -b /dev/mmcblk0 ] && [ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '600 root:root' ] && "
                     "[ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ]", timeout=30)
    rc, out = sh(vm, "sync; touch /mnt/card/after 2>&1; echo touch=$?; sync 2>&1; umount -l /mnt/card 2>&1; true")
    check("revoked while mounted: re-attached, closed (600 root:root, ro=1); the old mount can no longer write",
          ok is not None and "touch=0" not in out and wait_log(vm, r"media mmcblk0: re-attached", 5) is not None,
          f"{node_state(vm, 'mmcblk0')}; {' '.join(out.split())[:160]}")


def ledger_records(vm, pattern):
    """The ledger's records whose JSON line contains the fixed string PATTERN."""
    rc, out = vm.run(f"{LEDGER} | grep -F '{pattern}'", timeout=60)
    return json_lines(out)


def restart_kyokad(vm, k, extra=""):
    sh(vm, "kill $(pidof kyokad)")
    vm.wait_for("! pidof kyokad >/dev/null", timeout=20)
    args = k.args
    k.args = args + extra
    try:
        return k.start()
    finally:
        k.args = args


def case_card_carry_out(vm, k, approver):
    """Issue 15 part 2 on another bus: an SD card approved read-write is recorded as a USB stick
    is (kyokad run directly, --carry-out on): three files copied to it by uid 1000 give three
    file-written records naming the card as its media records do. Without the record (kyokad
    --carry-out worker, no worker) the card approved read-write is read-only."""
    try:
        approver.revoke("P-SD-RO")      # gone already when "card read-write" ran
    except Exception:
        pass
    approver.approve_request(os.path.join(S["work"], "req-card.json"), "P-SD-CARRY")
    approver.sign()
    k.install(approver)
    ok = vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 0 ] && [ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '660 root:disk' ]",
                     timeout=30)
    settle(vm)
    mnt = "/mnt/carry"
    rc, out = sh(vm, f"mkdir -p {mnt} && mount -t ext4 /dev/mmcblk0p1 {mnt} && chown 1000:1000 {mnt} && echo mounted")
    took = vm.wait_for(f"grep -q 'recording files on mmcblk0p1' {LOG}", timeout=15)
    check("card approved read-write, mounted: kyokad marks its file system (fanotify)",
          ok is not None and "mounted" in out and took is not None,
          f"{node_state(vm, 'mmcblk0')}; {out[-200:]}; " + "; ".join(
              l for l in kyokad_log(vm).splitlines() if "Carry-out" in l)[-400:])
    # The writing user (uid 1000) by name, for su; the guest's own groups (disk, cdrom) kept.
    vm.run("grep -q '^kyokatest:' /etc/passwd || echo 'kyokatest:x:1000:1000:kyoka test:/tmp:/bin/sh' >> /etc/passwd; "
           "grep -q '^kyokatest:' /etc/group || echo 'kyokatest:x:1000:' >> /etc/group", check=True)
    vm.run("mkdir -p /tmp/three", check=True)
    for name, data in CARRY_THREE.items():
        vm.run(f"echo {__import__('base64').b64encode(data).decode()} | base64 -d > '/tmp/three/{name}'", check=True)
    vm.run("chmod -R a+rX /tmp/three", check=True)
    rc, out = sh(vm, f"{AS_USER} 'mkdir {mnt}/out && cp /tmp/three/* {mnt}/out/ && echo copied'", timeout=30)
    paths = {f"mmcblk0p1/out/{n}" for n in CARRY_THREE}
    got = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = {r["file_path"]: r for r in ledger_records(vm, '"file-written"') if r.get("file_path") in paths}
        if len(got) == 3:
            break
        time.sleep(0.5)
    check("uid 1000 copies three files to the card: three file-written records", "copied" in out and len(got) == 3,
          f"{out[-200:]}; {json.dumps(sorted(got), ensure_ascii=False)}")
    bad = [json.dumps(got.get(f"mmcblk0p1/out/{n}", {}), ensure_ascii=False)[:300] for n, data in CARRY_THREE.items()
           if not (got.get(f"mmcblk0p1/out/{n}", {}).get("sha256") == hashlib.sha256(data).hexdigest()
                   and got.get(f"mmcblk0p1/out/{n}", {}).get("bytes") == len(data))]
    check("... each with the file's SHA-256 and size", got and not bad, "\n".join(bad))
    # The card as its own media records name it (the permit's decision recorded just before).
    media = [r for r in ledger_records(vm, '"mmcblk0"') if r.get("subject") == "media"
             and r.get("event") not in ("file-written", "file-read", "files-lost") and r.get("serial")]
    card = media[-1] if media else {}
    bad = [json.dumps(r, ensure_ascii=False)[:400] for r in got.values()
           if not (r.get("subject") == "media" and r.get("bus") == "mmc" and r.get("device_name") == "mmcblk0"
                   and r.get("serial") == card.get("serial") and r.get("manufacturer") == card.get("manufacturer")
                   and r.get("product_name") == card.get("product_name") and r.get("device_path") == card.get("device_path")
                   and r.get("permit") == "P-SD-CARRY"
                   and r.get("decision") == "allow" and r.get("uid") == 1000)]
    check("... naming the card as its media records do (bus mmc, mmcblk0, serial, vendor, model), the permit "
          "and uid 1000", card and got and not bad, f"card {json.dumps(card, ensure_ascii=False)[:300]}\n" + "\n".join(bad))
    sh(vm, f"sync; {unmount(mnt)}")

    # No carry-out record: kyokad waits for kyoka-carry.service's worker, which is not there.
    restart_kyokad(vm, k, " --carry-out worker")
    ok = vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ]", timeout=30)
    w = try_as(vm, DISK_GROUP, "/dev/mmcblk0", "rw")
    check("kyokad without its carry-out record (--carry-out worker, no worker): the card approved read-write is "
          "read-only (ro=1, not opened for writing), with the reason and a carry-worker fault",
          ok is not None and w[0] != "ok"
          and wait_log(vm, r"media \S+ mmcblk0 .*read-only: the carry-out record is not running", 10) is not None
          and wait_log(vm, r"Medium mmcblk0 .*approved read-write is read-only: the carry-out record", 5) is not None,
          f"{node_state(vm, 'mmcblk0')}; {w}; " + "; ".join(log_media(vm, "mmcblk0")[-2:]))
    restart_kyokad(vm, k)
    ok = vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 0 ]", timeout=30)
    check("... kyokad with its record again (--carry-out on): read-write", ok is not None, node_state(vm, "mmcblk0"))
    approver.revoke("P-SD-CARRY")
    approver.sign()
    k.install(approver)
    vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ]", timeout=30)


def case_card_inserted_later(vm, k, work):
    """No permit now: cards inserted under the racer are never opened at all (0600 root:root
    from the node's first moment), and each is recorded blocked."""
    vm.qmp("eject", id="card0", force=True)
    vm.wait_for("! ls /sys/block | grep -q '^mmcblk'", timeout=15)
    before = len([l for l in kyokad_log(vm).splitlines() if re.search(r"media connected mmcblk0 .*: block ", l)])
    log = "/tmp/racer-card2.log"
    sh(vm, f"(blk-racer --user {DISK_GROUP} --spin-ms {SPIN_MS} --nodes mmcblk KYOKA-CARD > {log} 2>&1 &); sleep 0.2")
    n = 4
    for i in range(n):
        img = os.path.join(work, f"card-b{i}.img")
        subprocess.run(["cp", "--sparse=always", S["card_template"], img], check=True)
        vm.qmp("blockdev-change-medium", id="card0", filename=img, format="raw")
        vm.wait_for("[ -b /dev/mmcblk0 ]", timeout=20)
        time.sleep(SPIN_MS / 1000 + 0.3)
        if i + 1 < n:
            vm.qmp("eject", id="card0", force=True)
            vm.wait_for("! ls /sys/block | grep -q '^mmcblk'", timeout=15)
    sh(vm, "kill $(pidof blk-racer)")
    vm.wait_for("! pidof blk-racer >/dev/null", timeout=5)
    nodes = parse_racer(vm.read_file(log).decode())
    opened = [n for n in nodes if n.get("opens_rw") != "0" or n.get("opens_ro") != "0"]
    check(f"{n} cards inserted later without a permit: a racer in group disk never opens a node, not even to read",
          nodes and not opened, f"{len(nodes)} nodes; " + "; ".join(f"{x['node']} rw={x['opens_rw']} ro={x['opens_ro']}"
                                                                     for x in opened)[:200])
    wait_log(vm, r"media connected mmcblk0 .*: block ", 10)
    time.sleep(1)
    after = len([l for l in kyokad_log(vm).splitlines() if re.search(r"media connected mmcblk0 .*: block ", l)])
    check("... each insertion recorded as connected, blocked", after - before == n, f"{after - before} of {n}")
    check("... and the last one is closed: 600 root:root, ro=1", node_state(vm, "mmcblk0") == "1 600 root:root",
          node_state(vm, "mmcblk0"))


def case_disc(vm, k, approver, work):
    disc = os.path.join(work, "disc-1.iso")
    with open(disc, "wb") as f:
        f.write(b"KYOKA-DISC-1\n" * 2048)
        f.truncate(4 << 20)
    vm.qmp("blockdev-change-medium", id="cdrom0", filename=disc, format="raw", **{"read-only-mode": "read-only"})
    check("a disc inserted into the drive without a permit: recorded medium-inserted, blocked",
          wait_media(vm, "medium-inserted", "sr0", "block", 20) is not None, (log_media(vm, "sr0") or [""])[-1])
    settle(vm)
    r = try_as(vm, CDROM_GROUP, "/dev/sr0", "ro")
    rc, sg = sh(vm, "for g in /sys/class/scsi_generic/*; do [ -e $g/device/block/sr0 ] && echo /dev/${g##*/}; done")
    rsg = try_as(vm, CDROM_GROUP, sg, "ro") if sg else ("no sg", "")
    check("... uid 1000 in group cdrom cannot read it (sr0 and its sg node: EACCES); 600 root:root",
          r[0] == "EACCES" and rsg[0] == "EACCES" and node_state(vm, "sr0").endswith("600 root:root"),
          f"sr0 {r}, {sg} {rsg}, {node_state(vm, 'sr0')}")
    req, out = request(vm, "sr0", os.path.join(work, "req-sr0.json"))
    dev = (req or {}).get("device", {})
    check("policyctl request sr0: the drive (bus optical, its port)", dev.get("bus") == "optical"
          and dev.get("path", "").startswith("pci-"), json.dumps(dev) if dev else out)
    approver.approve_request(os.path.join(work, "req-sr0.json"), "P-DVD-RO", "--read-only")
    approver.sign()
    k.install(approver)
    ok = vm.wait_for("[ \"$(stat -c '%a %U:%G' /dev/sr0)\" = '640 root:cdrom' ]", timeout=20)
    settle(vm)
    r, w = try_as(vm, CDROM_GROUP, "/dev/sr0", "ro"), try_as(vm, CDROM_GROUP, "/dev/sr0", "rw")
    rc, content = sh(vm, "dd if=/dev/sr0 bs=2048 count=1 2>/dev/null | head -c 13")
    check("drive approved read-only (discs may be read, not written): 640 root:cdrom; group cdrom reads, "
          "cannot open for writing (no burning: SG_IO writes need a writable open)",
          ok is not None and r == ("ok", "ok") and w[0] == "EACCES" and "KYOKA-DISC-1" in content,
          f"{node_state(vm, 'sr0')}; read {r}, write {w}; {content!r}")
    disc2 = os.path.join(work, "disc-2.iso")
    with open(disc2, "wb") as f:
        f.write(b"KYOKA-DISC-2\n" * 2048)
        f.truncate(4 << 20)
    since = len(log_media(vm, "sr0"))
    # udev's cdrom_id locks the tray of a drive with a disc (60-cdrom_id.rules): forced out, as
    # the eject button does. (This kernel reports a forced eject only with the next disc: the
    # two media changes arrive together, and make one insertion.)
    vm.qmp("eject", id="cdrom0", force=True)
    time.sleep(2)
    vm.qmp("blockdev-change-medium", id="cdrom0", filename=disc2, format="raw", **{"read-only-mode": "read-only"})
    ok = vm.wait_for(f"[ $(grep -cE 'media medium-inserted sr0 .*: read-only ' {LOG}) -ge 1 ]", timeout=20)
    settle(vm)
    vm.wait_for("[ \"$(stat -c '%a %U:%G' /dev/sr0)\" = '640 root:cdrom' ]", timeout=15)
    rc, content = sh(vm, f"blk-racer --user {CDROM_GROUP} --try /dev/sr0 ro; dd if=/dev/sr0 bs=2048 count=1 2>/dev/null | "
                         "head -c 13")
    check("another disc: a new medium (diskseq), recorded medium-inserted read-only with the permit, readable",
          ok is not None and "open=ok io=ok" in content and "KYOKA-DISC-2" in content,
          "; ".join(log_media(vm, "sr0")[since:])[-300:] + f"; {content!r}")


def case_nvme(vm, k, approver, work):
    img = os.path.join(work, "nvme.img")
    stick_image(img, size_mb=64)
    sha0 = sha(img)
    log = "/tmp/racer-nvme.log"
    sh(vm, f"(blk-racer --user {DISK_GROUP} --spin-ms 1500 --nodes nvme KYOKA-NVME > {log} 2>&1 &); sleep 0.2")
    vm.qmp("blockdev-add", **{"node-name": "nv1", "driver": "raw", "file": {"driver": "file", "filename": img}})
    vm.qmp("device_add", driver="nvme", id="nvme1", bus="rp1", drive="nv1", serial=NVME_SERIAL)
    ok = vm.wait_for("[ -b /dev/nvme0n1 ] && [ \"$(stat -c '%a %U:%G' /dev/nvme0n1)\" = '600 root:root' ] && "
                     "[ \"$(cat /sys/block/nvme0n1/ro)\" = 1 ]", timeout=30)
    check("an NVMe drive hot-plugged without a permit: nvme0n1 600 root:root, ro=1", ok is not None,
          node_state(vm, "nvme0n1"))
    check("... recorded connected, blocked", wait_media(vm, "connected", "nvme0n1", "block", 15) is not None,
          (log_media(vm, "nvme0n1") or [""])[-1])
    time.sleep(2)
    sh(vm, "kill $(pidof blk-racer)")
    vm.wait_for("! pidof blk-racer >/dev/null", timeout=5)
    nodes = parse_racer(vm.read_file(log).decode())
    opened = [n for n in nodes if n.get("opens_rw") != "0" or n.get("opens_ro") != "0"]
    check("... a racer in group disk never opened nvme0n1 or its partition, not from the node's first moment",
          nodes and not opened, f"{[n['node'] for n in nodes]}; " + "; ".join(str(x) for x in opened)[:200])
    out = root_write(vm, "nvme0n1")
    check("... root's write fails (Operation not permitted)", "Operation not permitted" in out, out[-100:])
    req, out = request(vm, "nvme0n1", os.path.join(work, "req-nvme.json"))
    dev = (req or {}).get("device", {})
    check("policyctl request nvme0n1: bus nvme, its serial, model and port", dev.get("bus") == "nvme"
          and dev.get("serial") == NVME_SERIAL and dev.get("path") == "pci-0000:01:00.0-nvme-1",
          json.dumps(dev) if dev else out)
    approver.approve_request(os.path.join(work, "req-nvme.json"), "P-NVME")
    approver.sign()
    k.install(approver)
    ok = vm.wait_for("[ \"$(cat /sys/block/nvme0n1/ro)\" = 0 ] && [ \"$(stat -c '%a %U:%G' /dev/nvme0n1)\" = '660 root:disk' ]",
                     timeout=20)
    settle(vm)
    good, detail = roundtrip(vm, "nvme0n1")
    check("approved (request -> approve -> sign -> install): ro=0, 660 root:disk, writable without a replug",
          ok is not None and good, f"{node_state(vm, 'nvme0n1')}; {detail}")
    S["nvme_sha0"] = sha0


def case_sata_hotplug(vm, k, approver, work):
    log = "/tmp/racer-sata.log"
    # The racer takes every sd/sg node that is created or whose attributes change, the fixed
    # disk sda among them (a write to it, closed, makes udev's watch send a change event): sda
    # and its sg node are the workstation's, writable by group disk by design, and left out of
    # the count below.
    settle(vm)
    rc, fixed_sg = sh(vm, f"for g in /sys/class/scsi_generic/*; do [ -e $g/device/block/{SATA[0]} ] && echo ${{g##*/}}; done")
    sh(vm, f"(blk-racer --user {DISK_GROUP} --spin-ms 1500 --nodes sd,sg KYOKA-SATA > {log} 2>&1 &); sleep 0.2")
    host = "host" + ESATA_SCSI.split(":")[0]
    vm.run(f"echo '0 0 0' > /sys/class/scsi_host/{host}/scan", check=True)
    name = None
    ok = vm.wait_for(f"[ -d /sys/bus/scsi/devices/{ESATA_SCSI}/block ]", timeout=30)
    name = esata_disk(vm)
    ok = name and vm.wait_for(f"[ -b /dev/{name} ] && [ \"$(stat -c '%a %U:%G' /dev/{name})\" = '600 root:root' ] && "
                              f"[ \"$(cat /sys/block/{name}/ro)\" = 1 ]", timeout=30)
    check("a SATA disk hot-plugged (eSATA) without a permit: 600 root:root, ro=1",
          ok is not None and name not in (None, SATA[0]), f"{name}: {node_state(vm, name) if name else 'no disk'}")
    if not name:
        return
    S["esata"] = name
    check("... recorded connected, blocked (bus ata, its port)",
          wait_log(vm, rf"media connected {name} bus=ata path=pci-0000:00:1f.2-ata-2.0 .*: block ", 15) is not None,
          (log_media(vm, name) or [""])[-1])
    settle(vm)
    rc, sg = sh(vm, f"ls /sys/bus/scsi/devices/{ESATA_SCSI}/scsi_generic")
    rc, sgst = sh(vm, f"stat -c '%a %U:%G' /dev/{sg}")
    rc, props = sh(vm, f"/bin/udevadm info /dev/{name} | grep -E 'UDISKS_IGNORE|KYOKA_MEDIA'")
    check("... its sg node too (600 root:root); udev: KYOKA_MEDIA=closed, UDISKS_IGNORE=1",
          sgst == "600 root:root" and "UDISKS_IGNORE=1" in props and "KYOKA_MEDIA=closed" in props,
          f"{sg} {sgst}; {' '.join(props.split())}")
    time.sleep(1.6)
    sh(vm, "kill $(pidof blk-racer)")
    vm.wait_for("! pidof blk-racer >/dev/null", timeout=5)
    nodes = [n for n in parse_racer(vm.read_file(log).decode())
             if not n["node"].startswith(SATA[0]) and n["node"] != fixed_sg]
    opened = [n for n in nodes if n.get("opens_rw") != "0" or n.get("opens_ro") != "0" or n.get("sgio_ok") != "0"]
    check(f"... a racer in group disk never opened {name}, its partition or its sg node, from their first moment",
          any(n["node"] == name for n in nodes) and not opened, f"{[n['node'] for n in nodes]}; " + "; ".join(str(x) for x in opened)[:200])
    out = root_write(vm, name)
    check("... root's write fails (Operation not permitted)", "Operation not permitted" in out, out[-100:])
    req, out = request(vm, name, os.path.join(work, "req-sata.json"))
    dev = (req or {}).get("device", {})
    check(f"policyctl request {name}: bus ata, its serial, model and port", dev.get("bus") == "ata"
          and dev.get("serial") == ESATA_SERIAL and dev.get("model") == ESATA_MODEL
          and dev.get("path") == "pci-0000:00:1f.2-ata-2.0", json.dumps(dev) if dev else out)
    approver.approve_request(os.path.join(work, "req-sata.json"), "P-ESATA")
    approver.sign()
    k.install(approver)
    ok = vm.wait_for(f"[ \"$(cat /sys/block/{name}/ro)\" = 0 ] && [ \"$(stat -c '%a %U:%G' /dev/{name})\" = '660 root:disk' ]",
                     timeout=20)
    settle(vm)
    good, detail = roundtrip(vm, name)
    w = try_as(vm, DISK_GROUP, f"/dev/{name}", "rw")
    check("approved read-write: ro=0, 660 root:disk; root and uid 1000 in group disk write, without a replug",
          ok is not None and good and w == ("ok", "ok"), f"{node_state(vm, name)}; {w}; {detail}")
    vm.run(f"echo 1 > /sys/bus/scsi/devices/{ESATA_SCSI}/delete", check=True)
    check("unplugged: recorded removed", wait_media(vm, "removed", name, "allow", 15) is not None,
          (log_media(vm, name) or [""])[-1])


def fixed_ok(vm, when):
    for name in ("vda", SATA[0]):
        st = node_state(vm, name)
        ok, detail = roundtrip(vm, name)
        check(f"fixed disk {name} {when}: ro=0, node 660 root:disk, writable, no access file",
              st == "0 660 root:disk" and ok and vm.run(f"[ ! -e /run/kyoka/media/{name} ]")[0] == 0, f"{st}; {detail}")
    rc, out = sh(vm, f"for g in /sys/class/scsi_generic/*; do [ -e $g/device/block/{SATA[0]} ] && stat -c '%a %U:%G' /dev/${{g##*/}}; done")
    check(f"... the SATA disk's sg node {when}: 660 root:disk", out == "660 root:disk", out)


def case_fixed_disks(vm, k, approver):
    fixed_ok(vm, "after every reload")
    sh(vm, "kill $(pidof kyokad)")
    vm.wait_for("! pidof kyokad >/dev/null", timeout=10)
    fixed_ok(vm, "with kyokad stopped")
    pid = k.start()
    check("kyokad restarted (TERM, start)", pid is not None)
    time.sleep(2)
    settle(vm)
    fixed_ok(vm, "after a restart")
    sh(vm, "kill -9 $(pidof kyokad)")
    vm.wait_for("! pidof kyokad >/dev/null", timeout=10)
    # Coldplug again, as at the next boot: every disk's add event goes through the rule.
    sh(vm, "/bin/udevadm trigger --action=add --subsystem-match=block && /bin/udevadm settle --timeout=20", timeout=40)
    fixed_ok(vm, "after kill -9 and a coldplug of every disk (the rule alone)")
    pid = k.start()
    check("kyokad started again after kill -9", pid is not None)
    time.sleep(2)
    settle(vm)
    fixed_ok(vm, "after that start")
    rc, out = sh(vm, "policyctl list")
    check("policyctl list shows vda and sda as fixed", re.search(r"fixed\s+media\s+vda", out) is not None
          and re.search(rf"fixed\s+media\s+{SATA[0]}\b", out) is not None, " ".join(out.split())[:300])
    # The media approved before the restart are approved again (read-write NVMe).
    check("... and the approved NVMe is usable again after the restarts",
          node_state(vm, "nvme0n1") == "0 660 root:disk", node_state(vm, "nvme0n1"))


def case_ledger(vm, k):
    rc, out = sh(vm, "policyctl ledger verify")
    check("policyctl ledger verify: the chain is intact", rc == 0, out[-200:])
    rc, out = sh(vm, "policyctl ledger show --json", timeout=60)
    try:
        recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    except ValueError:
        recs = []
    media = [r for r in recs if r.get("subject") == "media"]
    kinds = {(r.get("device_name"), r.get("event"), r.get("decision")) for r in media}
    want = [("vda", "fixed-disk", "none"), (SATA[0], "fixed-disk", "none"), ("mmcblk0", "connected", "block"),
            ("mmcblk0", "re-evaluated", "read-only"), ("mmcblk0", "connected", "read-only"),
            ("mmcblk0", "re-evaluated", "allow"), ("mmcblk0", "re-evaluated", "block"), ("sr0", "connected", "block"),
            ("sr0", "medium-inserted", "block"), ("sr0", "medium-inserted", "read-only"),
            ("nvme0n1", "connected", "block"), ("nvme0n1", "re-evaluated", "allow"), ("mmcblk0", "removed", "read-only")]
    if S.get("esata"):
        want += [(S["esata"], "connected", "block"), (S["esata"], "re-evaluated", "allow"), (S["esata"], "removed", "allow")]
    missing = [w for w in want if w not in kinds]
    # Media fields exist since encoding 3; a later encoding keeps them.
    check("every decision is in the ledger (subject media, encoding 3 or later, bus and device_name filled)",
          media and not missing and all(r.get("version", 0) >= 3 and r.get("bus") for r in media),
          f"{len(media)} media records; missing {missing}")
    touched = [r for r in media if r.get("device_name") in ("vda", SATA[0]) and r.get("event") != "fixed-disk"]
    check("... the fixed disks have fixed-disk notes only (nothing decided, nothing enforced)", not touched,
          "; ".join(f"{r['device_name']} {r['event']}" for r in touched))
    perm = [r for r in media if r.get("permit") in ("P-SD-RO", "P-SD-RW", "P-DVD-RO", "P-NVME", "P-ESATA")]
    check("... decisions under permits name them", {r["permit"] for r in perm} == {"P-SD-RO", "P-SD-RW", "P-DVD-RO", "P-NVME", "P-ESATA"},
          sorted({r["permit"] for r in perm}))


def main():
    t0 = time.monotonic()
    for f in (KYOKAD, POLICYCTL, BLOCK_HELPER):
        if not os.access(f, os.X_OK):
            print(f"not ok - {f} missing (make all)\nkyokad-media: 0 passed, 1 failed")
            return 1
    work = tempfile.mkdtemp(prefix="kyoka-media-")
    S["work"] = work
    try:
        approver = Approver(work)
        approver.sign()
        racer = os.path.join(work, "blk-racer")
        subprocess.run(["cc", "-O2", "-Wall", "-o", racer, RACER_SRC], check=True)
        S["card_template"] = stick_image(os.path.join(work, "card-template.img"), size_mb=32)
        S["card_sha"] = sha(S["card_template"])
        boot_card = os.path.join(work, "card-boot.img")
        shutil.copy(S["card_template"], boot_card)
        disks = {}
        for name in ("vd", "sata", "esata"):
            disks[name] = os.path.join(work, f"{name}.img")
            with open(disks[name], "wb") as f:
                f.truncate(64 << 20)
        extra = ["-device", "sdhci-pci,id=sdhci,bus=pcie.0",
                 "-drive", f"if=none,id=sd0,file={boot_card},format=raw", "-device", "sd-card,drive=sd0,id=card0",
                 "-drive", f"if=none,id=vd0,file={disks['vd']},format=raw",
                 "-device", f"virtio-blk-pci,drive=vd0,id=vdisk,serial={VIRTIO_SERIAL}",
                 "-drive", f"if=none,id=sata0,file={disks['sata']},format=raw",
                 "-device", f"ide-hd,drive=sata0,bus=ide.0,id=satadisk,serial={SATA_SERIAL},model=SATA-MODEL",
                 "-drive", f"if=none,id=esata0,file={disks['esata']},format=raw",
                 "-device", f"ide-hd,drive=esata0,bus=ide.1,id=esatadisk,serial={ESATA_SERIAL},model={ESATA_MODEL}",
                 "-drive", "if=none,id=cd0", "-device", "ide-cd,drive=cd0,bus=ide.2,id=cdrom0"]
        overlay = make_overlay(work, approver, extra=[
            (BLOCK_HELPER, f"{GUEST_LIBEXECDIR}/kyoka-block-access"), *installed_rules_all(work),
            (racer, "/usr/bin/blk-racer")])
        with VM("kyokad-media", overlays=[overlay], extra_args=extra, mem=768,
                quiet=not os.environ.get("KYOKA_VM_VERBOSE")) as vm:
            check("boot", True, f"{vm.boot_seconds:.2f} s ({vm.accel}); logs {vm.log_dir}")
            k = Kyokad(vm)
            try:
                case_start(vm, k)
                cases = [("card read-only", lambda: case_card_read_only(vm, k, approver, work)),
                         ("card race", lambda: case_card_race(vm, k, work)),
                         ("card read-write", lambda: case_card_read_write(vm, k, approver)),
                         ("card carry-out", lambda: case_card_carry_out(vm, k, approver)),
                         ("card inserted later", lambda: case_card_inserted_later(vm, k, work)),
                         ("disc", lambda: case_disc(vm, k, approver, work)),
                         ("nvme", lambda: case_nvme(vm, k, approver, work)),
                         ("sata hot-plug", lambda: case_sata_hotplug(vm, k, approver, work)),
                         ("fixed disks", lambda: case_fixed_disks(vm, k, approver)),
                         ("ledger", lambda: case_ledger(vm, k))]
                only = [c for c in os.environ.get("KYOKA_VM_CASES", "").split(",") if c]
                if only:
                    cases = [(n, c) for n, c in cases if n in only]
                run_cases(cases)
                lines = kyokad_log(vm).splitlines()
                check("kyokad reported no enforcement failure", not any("ENFORCEMENT FAILED" in l for l in lines),
                      "; ".join(l for l in lines if "ENFORCEMENT FAILED" in l)[:400])
                check("kyokad is still running", kyokad_pid(vm) is not None)
            finally:
                with open(os.path.join(vm.log_dir, "kyokad.log"), "wb") as f:
                    f.write(vm.read_file(LOG))
                with open(os.path.join(vm.log_dir, "dmesg.txt"), "w") as f:
                    f.write(vm.dmesg())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary("kyokad-media", t0)


if __name__ == "__main__":
    sys.exit(main())
