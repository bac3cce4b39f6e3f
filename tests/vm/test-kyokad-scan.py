#!/usr/bin/env python3
"""Scan before use (issue 15) on the real kernel, in one boot.

clamd (Debian's clamav-daemon binary from the host, with its libraries) runs in the guest with a
signature database made at test time: `sigtool --md5` of the EICAR test file (nothing is
downloaded). The policy says defaults.scan = "required" and approves four sticks read-write.
Every assertion is on the kernel's state (authorized, the block device's `ro`, the node's mode
and owner, a dd write) and on the ledger (`policyctl ledger show --json`: typed events and
fields, never the message):

  - a clean stick is held (authorised, ro=1, nodes 0600 root:root) until its scan has passed,
    then usable read-write, and the scan is recorded (files, bytes, engine);
  - a stick with the EICAR file is de-authorised and an incident recorded (signature, file);
  - with clamd stopped a stick stays held (scan-held, scanner-missing), and passes once clamd
    is back and kyokad decides again (SIGHUP);
  - a stick whose partition holds no file system stays held (unmountable);
  - media on other buses (issue 15 item 2): an SD card put into a PCI reader (sdhci-pci + sd-card) and
    a hot-plugged NVMe drive, blocked without a permit, are approved from their requests with
    `policyctl approve --scan`; the card is held (closed: 0600 root:root, ro=1) while clamd is
    stopped (scan-held, scanner-missing), then passes and opens read-write; the card's permit
    with scan = "in-and-out" makes it read-only (files written to media on other buses are not
    seen, so none could be scanned), "required" again read-write; the NVMe drive with
    the EICAR file stays closed with a scan-infected record; an optical drive approved with --scan
    waits for a disc, keeps a disc with EICAR closed, and scans the next disc again (a new
    diskseq), which then reads;
  - `policyctl status` counts the scans (present by state, and since kyokad started);
  - files carried out (issue 15 part 3): a stick approved with `approve --scan-in-and-out` is
    scanned before use, then each file written to it is scanned when it is closed (kyokad run
    directly, --carry-out on): a clean file's file-written record names the scanner; writing the
    EICAR file de-authorises the stick, its file-written record has the signature and SHA-256,
    and a scan-infected record names the file; on a second such stick, a file written while
    clamd is stopped holds the stick (read-only, root's; scan-held scanner-missing naming the
    file) until clamd is back and the whole stick has been scanned again; the week's report says
    of each file written whether it was virus-scanned or what was found.

Prints "ok - NAME" / "not ok - NAME" and finally "kyokad-scan: N passed, N failed".
"""

import base64
import hashlib
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from vm import VM  # noqa: E402
from tap import check, note, run_cases, summary  # noqa: E402
from kyoka_guest import (BLOCK_HELPER, CLAMD, CLAMD_SOCKET, DEV, EICAR, GUEST_LIBEXECDIR, KYOKAD, LOG,  # noqa: E402
                         POLICYCTL, SIGTOOL, Approver, Kyokad, attr, auth_is, clamd_overlay_files, has_usb, json_lines, usb_path,
                         installed_rules_all, kyokad_log, make_overlay, no_sd_of, sd_name, sd_of, start_clamd,
                         stick_image, stick_with_files, unmount, wait_log)

SOCKET = CLAMD_SOCKET

SERIAL_CLEAN = "SCAN-CLEAN-1"
SERIAL_EICAR = "SCAN-EICAR-1"
SERIAL_HELD = "SCAN-HELD-1"
SERIAL_NOFS = "SCAN-NOFS-1"
SERIAL_OUT = "SCAN-OUT-1"
SERIAL_OUT2 = "SCAN-OUT-2"
SERIAL_READER = "SCAN-READER-1"
READER_LUN = "/machine/peripheral/reader/reader.0/legacy[0]"   # usb-storage's SCSI disk (QOM path)
DISK_GROUP = "1000:1000:6"     # uid 1000 with group disk (blk-racer --user)
RACER_SRC = os.path.join(HERE, "blk-racer.c")
NVME_SERIAL = "NVSCAN-EICAR"
CARD_FILES = {"写真/2026-11.jpg": b"\xff\xd8" + b"jpeg" * 500, "notes.txt": b"card\n"}
CLEAN_FILES = {"報告書/2026-11.txt": b"monthly report\n" * 100, "data.csv": b"a,b\n1,2\n", "empty": b""}


def partition_of(vm, port):
    sd = sd_name(vm, port)
    return (sd + "1") if sd else None


def node_state(vm, port):
    """(ro of the partition, mode owner:group of its node) or None."""
    part = partition_of(vm, port)
    if not part:
        return None
    rc, out = vm.run(f"cat /sys/class/block/{part}/ro; stat -c '%a %U:%G' /dev/{part}")
    return " ".join(out.split()) if rc == 0 else None


def ledger(vm):
    rc, out = vm.run("policyctl --config-dir /etc/kyoka --state-dir /var/lib/kyoka --runtime-dir /run/kyoka "
                     "ledger show --json", timeout=30)
    return json_lines(out)


def records_for(vm, serial, event):
    return [r for r in ledger(vm) if r.get("serial") == serial and r.get("event") == event]


def case_start(vm, k):
    took = start_clamd(vm)
    check("clamd starts in the guest with the test database (sigtool --md5 of EICAR)", took is not None,
          f"{took:.1f} s" if took is not None else vm.run("tail -5 /tmp/clamd.log /tmp/clamd.out")[1])
    pid = k.start()
    check("kyokad starts", pid is not None, f"pid {pid}")
    rc, out = vm.run("cp /etc/kyoka-vm/*.rules /etc/udev/rules.d/ && /bin/udevadm control --reload && echo reloaded")
    check("the shipped udev rules are installed", "reloaded" in out, out.strip())


def case_clean(vm, k):
    vm.plug_usb_storage("clean", serial=SERIAL_CLEAN, port="1", image=IMAGES["clean"])
    took = vm.wait_for(f"{has_usb('1')} && {auth_is('1', 1)} && {sd_of('1')} && [ -e /sys/class/block/$(ls "
                       f"/sys/bus/usb/devices/[0-9]-1/*:*/host*/target*/*/block/ | head -1)1 ]", timeout=20)
    check("clean stick: authorised and its block devices appear", took is not None,
          f"{took:.2f} s" if took else f"authorized={attr(vm, '1', 'authorized')}")
    # udev has processed the partition once its database entry exists (then the rule has run);
    # its state is read in the same test as that (the scan may pass a moment later: it starts
    # once the block devices have been quiet for 1.5 s, and a small stick's takes one more).
    held = vm.wait_for(f"p=$(ls /sys/bus/usb/devices/[0-9]-1/*:*/host*/target*/*/block/ | head -1)1 && "
                       f"[ -e /run/udev/data/b$(cat /sys/class/block/$p/dev) ] && "
                       f"[ \"$(cat /sys/class/block/$p/ro) $(stat -c '%a %U:%G' /dev/$p)\" = '1 600 root:root' ]",
                       timeout=5)
    check("... held while it is scanned: read-only, its node root's alone (0600 root:root)",
          held is not None, node_state(vm, "1") if held is None else "1 600 root:root")
    took = wait_log(vm, r"SCAN-CLEAN-1.*virus scan passed", 60)
    check("... clamd passes it (kyokad's record)", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "SCAN-CLEAN" in l)[-600:])
    took = vm.wait_for(f"{sd_of('1')} && p=$(ls /sys/bus/usb/devices/[0-9]-1/*:*/host*/target*/*/block/ | head -1)1 && "
                       f"[ \"$(cat /sys/class/block/$p/ro)\" = 0 ] && [ \"$(stat -c %a:%G /dev/$p)\" = 660:disk ]",
                       timeout=20)
    check("... then usable read-write (opened in place): ro=0, node 660 root:disk", took is not None, node_state(vm, "1"))
    part = partition_of(vm, "1")
    rc, out = vm.run(f"mkdir -p /mnt/c && mount /dev/{part} /mnt/c && echo new > /mnt/c/written && sync && "
                     f"cat /mnt/c/written && ls /mnt/c && {unmount('/mnt/c')}", timeout=30)
    check("... its file system mounts read-write and takes a new file", rc == 0 and "new" in out, out.strip()[-200:])
    recs = records_for(vm, SERIAL_CLEAN, "scan-passed")
    r = recs[-1] if recs else {}
    check("... the ledger has scan-passed: 3 files, their bytes, the engine, reason clean, decision allow",
          r.get("files") == 3 and r.get("bytes") == sum(len(v) for v in CLEAN_FILES.values()) and
          r.get("scanner", "").startswith("ClamAV ") and r.get("reason") == "clean" and r.get("decision") == "allow"
          and r.get("version") == 5, json.dumps(r, ensure_ascii=False)[:400])


def case_eicar(vm, k):
    vm.plug_usb_storage("eicar", serial=SERIAL_EICAR, port="2", image=IMAGES["eicar"])
    took = wait_log(vm, r"SCAN-EICAR-1.*VIRUS FOUND", 60)
    check("EICAR stick: clamd finds the test virus", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "SCAN-EICAR" in l)[-600:])
    took = vm.wait_for(f"{has_usb('2')} && {auth_is('2', 0)} && {no_sd_of('2')}", timeout=20)
    check("... it is de-authorised: authorized=0, no block device", took is not None,
          f"authorized={attr(vm, '2', 'authorized')}")
    recs = records_for(vm, SERIAL_EICAR, "scan-infected")
    r = recs[-1] if recs else {}
    check("... an incident record names the signature and the file",
          r.get("signature") == "eicar.com.UNOFFICIAL" and r.get("file_path", "").endswith("docs/eicar.com")
          and r.get("decision") == "block", json.dumps(r, ensure_ascii=False)[:400])
    held = vm.holds(f"{auth_is('2', 0)}", 3)
    check("... and stays de-authorised", held, f"authorized={attr(vm, '2', 'authorized')}")


def case_clamd_stopped(vm, k):
    vm.run("kill $(pidof clamd); sleep 0.5; rm -f " + SOCKET)
    vm.plug_usb_storage("held", serial=SERIAL_HELD, port="3", image=IMAGES["held"])
    took = wait_log(vm, r"SCAN-HELD-1.*scanner-missing", 40)
    check("clamd stopped: the scan fails with scanner-missing", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "SCAN-HELD" in l)[-600:])
    ok = vm.holds(f"{auth_is('3', 1)} && p=$(ls /sys/bus/usb/devices/[0-9]-3/*:*/host*/target*/*/block/ | head -1)1 && "
                  f"[ \"$(cat /sys/class/block/$p/ro)\" = 1 ] && [ \"$(stat -c %a:%U /dev/$p)\" = 600:root ]", 3)
    check("... the stick stays held: authorised, read-only, root's alone", ok, node_state(vm, "3"))
    recs = records_for(vm, SERIAL_HELD, "scan-held")
    r = recs[-1] if recs else {}
    check("... scan-held recorded with reason scanner-missing", r.get("reason") == "scanner-missing",
          json.dumps(r, ensure_ascii=False)[:300])
    rc, out = vm.run("policyctl --runtime-dir /run/kyoka list")
    check("... policyctl list shows it held", "scan       held: scanner-missing" in out, out.strip()[-400:])
    took = start_clamd(vm)
    vm.run("kill -HUP $(pidof kyokad)")
    took = wait_log(vm, r"SCAN-HELD-1.*virus scan passed", 60)
    check("... clamd back and kyokad told (SIGHUP): the scan passes", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "SCAN-HELD" in l)[-400:])
    took = vm.wait_for(f"{sd_of('3')} && p=$(ls /sys/bus/usb/devices/[0-9]-3/*:*/host*/target*/*/block/ | head -1)1 && "
                       f"[ \"$(cat /sys/class/block/$p/ro)\" = 0 ] && [ \"$(stat -c %a:%G /dev/$p)\" = 660:disk ]",
                       timeout=20)
    check("... and the stick is usable read-write", took is not None, node_state(vm, "3"))


def case_unmountable(vm, k):
    vm.plug_usb_storage("nofs", serial=SERIAL_NOFS, port="4", image=IMAGES["nofs"])
    took = wait_log(vm, r"SCAN-NOFS-1.*unmountable", 40)
    check("a partition without a file system: the scan fails with unmountable", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "SCAN-NOFS" in l)[-400:])
    ok = vm.holds(f"{auth_is('4', 1)} && p=$(ls /sys/bus/usb/devices/[0-9]-4/*:*/host*/target*/*/block/ | head -1)1 && "
                  f"[ \"$(cat /sys/class/block/$p/ro)\" = 1 ] && [ \"$(stat -c %a:%U /dev/$p)\" = 600:root ]", 3)
    check("... the stick stays held: authorised, read-only, root's alone", ok, node_state(vm, "4"))


def medium_state(vm, name):
    """'RO MODE OWNER:GROUP KYOKA_MEDIA' of /dev/NAME (the last: what kyoka's udev rule concluded)."""
    rc, out = vm.run(f"echo $(cat /sys/class/block/{name}/ro) $(stat -c '%a %U:%G' /dev/{name}) "
                     f"$(/bin/udevadm info -q property -n /dev/{name} | grep ^KYOKA_MEDIA=)")
    return " ".join(out.split())


def media_records(vm, name, event):
    return [r for r in ledger(vm) if r.get("subject") == "media" and r.get("device_name") == name
            and r.get("event") == event]


def request_medium(vm, name, work):
    """policyctl request NAME in the guest, copied to the host: its path, or None."""
    rc, out = vm.run(f"policyctl --runtime-dir /run/kyoka request {name} --out /tmp/req-{name}.json")
    if rc != 0:
        return None
    path = os.path.join(work, f"req-{name}.json")
    with open(path, "wb") as f:
        f.write(vm.read_file(f"/tmp/req-{name}.json"))
    return path


def case_card(vm, k, approver, work):
    # The reader's slot was empty until now: the card arrives as on a workstation with kyoka
    # installed. (A card present at kyokad's first start, found open, makes kyokad re-attach the
    # reader's PCI function: test-kyokad-media.py covers that.)
    vm.qmp("blockdev-change-medium", id="card0", filename=IMAGES["card"], format="raw")
    # devtmpfs makes the node 0600 root:root before udev has run: the state that counts is the
    # one after udev's rules (KYOKA_MEDIA says what kyoka's rule concluded).
    vm.wait_for("[ -b /dev/mmcblk0 ]", timeout=30)
    vm.run("/bin/udevadm settle --timeout=15", timeout=30)
    ok = vm.wait_for("[ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '600 root:root' ] && "
                     "[ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ] && "
                     "/bin/udevadm info -q property -n /dev/mmcblk0 | grep -qx KYOKA_MEDIA=closed", timeout=30)
    check("SD card without a permit: closed (mmcblk0 ro=1, 600 root:root, udev: closed)", ok is not None,
          medium_state(vm, "mmcblk0"))
    req = request_medium(vm, "mmcblk0", work)
    check("... policyctl request mmcblk0 writes its request", req is not None)
    approver.approve_request(req, "P-CARD", "--scan")
    check("... approve --scan puts scan = \"required\" into its permit",
          'scan = "required";' in approver.text().split('"P-CARD"', 1)[-1].split("}", 1)[0], approver.text()[-600:])
    approver.sign()
    vm.run("kill $(pidof clamd); sleep 0.5; rm -f " + SOCKET)
    k.install(approver)
    took = wait_log(vm, r"Medium mmcblk0 .*virus scan did not finish \(scanner-missing", 40)
    check("... installed with clamd stopped: the card's scan fails with scanner-missing", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "mmcblk0" in l)[-600:])
    ok = vm.holds("[ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '600 root:root' ] && [ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ] "
                  "&& [ \"$(stat -c '%a %U:%G' /dev/mmcblk0p1)\" = '600 root:root' ] && "
                  "[ \"$(cat /sys/class/block/mmcblk0p1/ro)\" = 1 ]", 3)
    check("... the card stays held: mmcblk0 and its partition ro=1, 600 root:root", ok,
          f"{medium_state(vm, 'mmcblk0')}; p1 {medium_state(vm, 'mmcblk0p1')}")
    rc, out = vm.run("policyctl --runtime-dir /run/kyoka list --json")
    try:
        m = {x["device"]: x for x in json.loads(out) if x.get("type") == "media"}.get("mmcblk0", {})
    except (ValueError, KeyError, TypeError):
        m = {}
    check("... policyctl list --json: verdict allow, scan held (scanner-missing)",
          m.get("verdict") == "allow" and m.get("scan", {}).get("state") == "held"
          and m.get("scan", {}).get("fault") == "scanner-missing", json.dumps(m)[:400])
    rc, out = vm.run("policyctl --runtime-dir /run/kyoka list")
    check("... policyctl list shows the card held", "scan       held: scanner-missing" in out.split("mmcblk0", 1)[-1],
          out.strip()[-400:])
    recs = media_records(vm, "mmcblk0", "scan-held")
    r = recs[-1] if recs else {}
    check("... scan-held recorded for the medium, reason scanner-missing",
          r.get("reason") == "scanner-missing" and r.get("permit") == "P-CARD", json.dumps(r, ensure_ascii=False)[:300])
    start_clamd(vm)
    vm.run("kill -HUP $(pidof kyokad)")
    took = wait_log(vm, r"Medium mmcblk0 .*virus scan passed", 60)
    check("... clamd back and kyokad told (SIGHUP): the card's scan passes", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "mmcblk0" in l)[-400:])
    ok = vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 0 ] && [ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '660 root:disk' ]",
                     timeout=20)
    check("... then open as its permit says: ro=0, node 660 root:disk", ok is not None, medium_state(vm, "mmcblk0"))
    vm.run("/bin/udevadm settle --timeout=15", timeout=30)
    rc, out = vm.run("mkdir -p /mnt/card && mount /dev/mmcblk0p1 /mnt/card && echo new > /mnt/card/written && sync && "
                     f"cat /mnt/card/notes.txt /mnt/card/written && {unmount('/mnt/card')}", timeout=30)
    check("... its file system mounts read-write and takes a new file", rc == 0 and "card" in out and "new" in out,
          out.strip()[-200:])
    recs = media_records(vm, "mmcblk0", "scan-passed")
    r = recs[-1] if recs else {}
    check("... the ledger has scan-passed for the medium: 2 files, their bytes, the engine, decision allow",
          r.get("files") == 2 and r.get("bytes") == sum(len(v) for v in CARD_FILES.values())
          and r.get("scanner", "").startswith("ClamAV ") and r.get("decision") == "allow" and r.get("bus") == "mmc",
          json.dumps(r, ensure_ascii=False)[:400])


def set_card_scan(approver, scan):
    """Rewrites the scan key of the card's permit P-CARD (approve refuses --scan-in-and-out for a
    medium: the approver writes it by hand, as an admin could) and signs."""
    text = approver.text()
    head, rest = text.split('"P-CARD"', 1)
    body, tail = rest.split("}", 1)
    body = re.sub(r'scan = "[a-z-]+";', f'scan = "{scan}";', body)
    text = head + '"P-CARD"' + body + "}" + tail
    # A changed policy needs a higher serial (anti-rollback).
    text = re.sub(r"^serial = (\d+);", lambda m: f"serial = {int(m.group(1)) + 1};", text, count=1, flags=re.M)
    with open(approver.policy, "w") as f:
        f.write(text)
    approver.ctl(["check", approver.policy])
    approver.sign()


def case_card_in_and_out(vm, k, approver):
    """scan = "in-and-out" on a medium of another bus: files written to it are recorded but not
    scanned (the scan of files written is USB's), so none could be scanned as asked: read-only."""
    set_card_scan(approver, "in-and-out")
    k.install(approver)
    ok = vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ] && [ \"$(cat /sys/class/block/mmcblk0p1/ro)\" = 1 ] && "
                     "[ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '640 root:disk' ]", timeout=60)
    check("SD card whose permit says scan = \"in-and-out\": read-only (mmcblk0 and mmcblk0p1 ro=1, node 640 root:disk)",
          ok is not None, f"{medium_state(vm, 'mmcblk0')}; p1 {medium_state(vm, 'mmcblk0p1')}")
    check("... kyokad says why (files written to it could not be scanned)",
          wait_log(vm, r"mmcblk0 .*read-only: files written to it could not be scanned", 10) is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "mmcblk0" in l)[-400:])
    vm.run("/bin/udevadm settle --timeout=15", timeout=30)
    rc, out = vm.run("dd if=/dev/zero of=/dev/mmcblk0p1 bs=512 count=1 seek=1 conv=notrunc,fsync 2>&1; echo rc=$?; "
                     "mkdir -p /mnt/card && mount -o rw /dev/mmcblk0p1 /mnt/card 2>&1; echo mount=$?; "
                     "grep ' /mnt/card ' /proc/mounts; umount /mnt/card 2>/dev/null; true", timeout=30)
    check("... root's write to its partition fails, and it does not mount read-write",
          "rc=0" not in out and " /mnt/card ext4 rw" not in out, " ".join(out.split())[-300:])
    rc, out = vm.run("policyctl --runtime-dir /run/kyoka list --json")
    try:
        m = {x["device"]: x for x in json.loads(out) if x.get("type") == "media"}.get("mmcblk0", {})
    except (ValueError, KeyError, TypeError):
        m = {}
    check("... policyctl list --json: verdict read-only", m.get("verdict") == "read-only", json.dumps(m)[:300])
    set_card_scan(approver, "required")
    k.install(approver)
    ok = vm.wait_for("[ \"$(cat /sys/block/mmcblk0/ro)\" = 0 ] && [ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '660 root:disk' ]",
                     timeout=20)
    check("... back to scan = \"required\": read-write again (ro=0, node 660 root:disk)",
          ok is not None, medium_state(vm, "mmcblk0"))


def case_nvme_eicar(vm, k, approver, work):
    vm.qmp("blockdev-add", **{"node-name": "nv1", "driver": "raw", "file": {"driver": "file", "filename": IMAGES["nvme"]}})
    vm.qmp("device_add", driver="nvme", id="nvme1", bus="rp1", drive="nv1", serial=NVME_SERIAL)
    ok = vm.wait_for("[ -b /dev/nvme0n1 ] && [ \"$(stat -c '%a %U:%G' /dev/nvme0n1)\" = '600 root:root' ] && "
                     "[ \"$(cat /sys/block/nvme0n1/ro)\" = 1 ] && grep -q 'media connected nvme0n1 ' " + LOG, timeout=30)
    check("NVMe drive hot-plugged without a permit: closed (ro=1, 600 root:root)", ok is not None,
          medium_state(vm, "nvme0n1"))
    req = request_medium(vm, "nvme0n1", work)
    check("... policyctl request nvme0n1 writes its request", req is not None)
    approver.approve_request(req, "P-NVME", "--scan")
    approver.sign()
    k.install(approver)
    took = wait_log(vm, r"Medium nvme0n1 .*VIRUS FOUND", 60)
    check("... approved with --scan and installed: clamd finds the test virus on it", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "nvme0n1" in l)[-600:])
    ok = vm.holds("[ \"$(stat -c '%a %U:%G' /dev/nvme0n1)\" = '600 root:root' ] && [ \"$(cat /sys/block/nvme0n1/ro)\" = 1 ] "
                  "&& [ \"$(stat -c '%a %U:%G' /dev/nvme0n1p1)\" = '600 root:root' ]", 3)
    check("... and it stays closed: nvme0n1 and its partition ro=1, 600 root:root", ok,
          f"{medium_state(vm, 'nvme0n1')}; p1 {medium_state(vm, 'nvme0n1p1')}")
    recs = media_records(vm, "nvme0n1", "scan-infected")
    r = recs[-1] if recs else {}
    check("... an incident record for the medium names the signature and the file, decision block",
          r.get("signature") == "eicar.com.UNOFFICIAL" and r.get("file_path", "").endswith("docs/eicar.com")
          and r.get("decision") == "block" and r.get("serial") == NVME_SERIAL, json.dumps(r, ensure_ascii=False)[:400])
    vm.run("kill -HUP $(pidof kyokad)")
    time.sleep(2)
    rc, out = vm.run("policyctl --runtime-dir /run/kyoka list --json")
    try:
        m = {x["device"]: x for x in json.loads(out) if x.get("type") == "media"}.get("nvme0n1", {})
    except (ValueError, KeyError, TypeError):
        m = {}
    check("... a reload does not let it back: list says block, scan infected; still 600 root:root",
          m.get("verdict") == "block" and m.get("scan", {}).get("state") == "infected"
          and medium_state(vm, "nvme0n1").startswith("1 600 root:root "), f"{json.dumps(m)[:300]}; {medium_state(vm, 'nvme0n1')}")


def case_disc(vm, k, approver, work):
    # What Debian's 60-block.rules does when the block module appears (built in here): the
    # kernel polls drives for a new medium.
    vm.run("echo 2000 > /sys/module/block/parameters/events_dfl_poll_msecs", check=True)
    ok = vm.wait_for("[ -b /dev/sr0 ] && [ \"$(stat -c '%a %U:%G' /dev/sr0)\" = '600 root:root' ]", timeout=20)
    check("an empty optical drive without a permit: sr0 600 root:root", ok is not None, medium_state(vm, "sr0"))
    req = request_medium(vm, "sr0", work)
    approver.approve_request(req, "P-DVD", "--scan", "--read-only")
    approver.sign()
    k.install(approver)
    took = wait_log(vm, r"media re-evaluated sr0 .*held for its virus scan", 20)
    rc, out = vm.run("policyctl --runtime-dir /run/kyoka list --json")
    try:
        m = {x["device"]: x for x in json.loads(out) if x.get("type") == "media"}.get("sr0", {})
    except (ValueError, KeyError, TypeError):
        m = {}
    check("... approved with --scan --read-only: held, waiting for a disc (no scan without one)",
          took is not None and m.get("scan", {}).get("state") == "waiting" and not media_records(vm, "sr0", "scan-held"),
          json.dumps(m)[:400])
    vm.qmp("blockdev-change-medium", id="cdrom0", filename=IMAGES["disc-eicar"], format="raw",
           **{"read-only-mode": "read-only"})
    took = wait_log(vm, r"Medium sr0 .*VIRUS FOUND", 60)
    check("a disc with the EICAR file: clamd finds it", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "sr0" in l)[-500:])
    ok = vm.holds("[ \"$(stat -c '%a %U:%G' /dev/sr0)\" = '600 root:root' ]", 3)
    check("... the drive stays closed (600 root:root) with a scan-infected record for the disc",
          ok and any(r.get("signature") == "eicar.com.UNOFFICIAL" for r in media_records(vm, "sr0", "scan-infected")),
          medium_state(vm, "sr0"))
    # (udev's cdrom_id locks the tray: forced out, as the eject button does.)
    vm.qmp("eject", id="cdrom0", force=True)
    time.sleep(2)
    vm.qmp("blockdev-change-medium", id="cdrom0", filename=IMAGES["disc-clean"], format="raw",
           **{"read-only-mode": "read-only"})
    took = wait_log(vm, r"Medium sr0 .*virus scan passed", 60)
    ok = vm.wait_for("[ \"$(stat -c '%a %U:%G' /dev/sr0)\" = '640 root:cdrom' ]", timeout=20)
    check("another disc (a new diskseq) is scanned again: passed, then readable as the permit says (640 root:cdrom)",
          took is not None and ok is not None,
          f"{medium_state(vm, 'sr0')}; " + "\n".join(l for l in kyokad_log(vm).splitlines() if "sr0" in l)[-400:])
    recs = media_records(vm, "sr0", "scan-passed")
    r = recs[-1] if recs else {}
    check("... scan-passed recorded for it (1 file), decision read-only",
          r.get("files") == 1 and r.get("decision") == "read-only", json.dumps(r, ensure_ascii=False)[:300])


def case_status(vm, k):
    rc, out = vm.run("policyctl --runtime-dir /run/kyoka status --json")
    try:
        s = json.loads(out)["scans"]
    except (ValueError, KeyError):
        s = {}
    since = s.get("since_start", {})
    # USB: clean, held (after clamd came back) passed; EICAR infected; held, nofs did not finish.
    # Media: the card held then passed; the NVMe drive infected; a disc infected, the next passed.
    # Reloads try held ones again.
    check("status --json: scans since start: passed >= 4, infected 3, did not finish >= 3",
          since.get("passed", 0) >= 4 and since.get("infected") == 3 and since.get("held", 0) >= 3, json.dumps(s))
    check("... present: 2 infected (the EICAR stick and the NVMe drive), the stick without a file system held",
          s.get("infected") == 2 and s.get("held", 0) >= 1 and s.get("passed", 0) >= 3, json.dumps(s))
    rc, out = vm.run("policyctl --runtime-dir /run/kyoka status")
    check("... and status says it in its Scans lines", "Scans:" in out and f"{since.get('infected')} infected" in out,
          out.strip()[-600:])


def usable_rw(vm, port, timeout=60):
    return vm.wait_for(f"{sd_of(port)} && p=$(ls /sys/bus/usb/devices/[0-9]-{port}/*:*/host*/target*/*/block/ | head -1)1 "
                       f"&& [ \"$(cat /sys/class/block/$p/ro)\" = 0 ] && [ \"$(stat -c %a:%G /dev/$p)\" = 660:disk ]",
                       timeout=timeout)


def written(vm, serial, name):
    """The file-written records of SERIAL whose path ends with NAME."""
    return [r for r in records_for(vm, serial, "file-written") if r.get("file_path", "").endswith(name)]


def case_carried_out(vm, k, approver):
    entry = approver.text().split('"P-SCAN-OUT-1"', 1)[-1].split("}", 1)[0]
    check("approve --scan-in-and-out writes scan = \"in-and-out\" into the permit", 'scan = "in-and-out";' in entry,
          entry[-300:])
    vm.plug_usb_storage("out", serial=SERIAL_OUT, port="5", image=IMAGES["out"])
    took = wait_log(vm, r"SCAN-OUT-1.*virus scan passed", 60)
    check("scan in-and-out stick: scanned before use, then usable read-write",
          took is not None and usable_rw(vm, "5") is not None, node_state(vm, "5"))
    part = partition_of(vm, "5")
    vm.run("/bin/udevadm settle --timeout=15", timeout=30)
    rc, out = vm.run(f"mkdir -p /mnt/o && mount /dev/{part} /mnt/o && echo report > /mnt/o/clean.txt && sync && echo ok",
                     timeout=30)
    check("... mounted; a clean file written to it", rc == 0 and "ok" in out, out.strip()[-200:])
    took = vm.wait_for(f"grep -q 'clean.txt.*scanned: clean' {LOG}", timeout=60)
    recs = written(vm, SERIAL_OUT, "clean.txt")
    r = recs[-1] if recs else {}
    check("... its file-written record names the scanner (clean: no signature)",
          took is not None and r.get("scanner", "").startswith("ClamAV ") and r.get("signature") == ""
          and r.get("permit") == "P-SCAN-OUT-1", json.dumps(r, ensure_ascii=False)[:400])
    check("... and the stick stays authorised and read-write", vm.holds(auth_is("5", 1), 2) and usable_rw(vm, "5", 5)
          is not None, node_state(vm, "5"))

    vm.run(f"echo {base64.b64encode(EICAR).decode()} | base64 -d > /mnt/o/eicar.com && sync", timeout=30)
    took = wait_log(vm, r"SCAN-OUT-1.*VIRUS FOUND in a file written to it", 60)
    check("the EICAR file written to it: clamd finds it", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "SCAN-OUT-1" in l)[-600:])
    took = vm.wait_for(f"{has_usb('5')} && {auth_is('5', 0)} && {no_sd_of('5')}", timeout=20)
    check("... the stick is de-authorised: authorized=0, no block device", took is not None,
          f"authorized={attr(vm, '5', 'authorized')}")
    vm.run("umount -l /mnt/o", timeout=20)
    recs = written(vm, SERIAL_OUT, "eicar.com")
    r = recs[-1] if recs else {}
    check("... its file-written record has the signature and the file's SHA-256",
          r.get("signature") == "eicar.com.UNOFFICIAL" and r.get("sha256") == hashlib.sha256(EICAR).hexdigest()
          and r.get("scanner", "").startswith("ClamAV "), json.dumps(r, ensure_ascii=False)[:400])
    recs = records_for(vm, SERIAL_OUT, "scan-infected")
    r = recs[-1] if recs else {}
    check("... a scan-infected record names the file and the signature, decision block",
          r.get("signature") == "eicar.com.UNOFFICIAL" and r.get("file_path", "").endswith("eicar.com")
          and r.get("decision") == "block", json.dumps(r, ensure_ascii=False)[:400])
    vm.run("kill -HUP $(pidof kyokad)")
    check("... and a reload does not let it back", vm.holds(auth_is("5", 0), 3), f"authorized={attr(vm, '5', 'authorized')}")


def case_carried_out_held(vm, k):
    vm.plug_usb_storage("out2", serial=SERIAL_OUT2, port="6", image=IMAGES["out2"])
    took = wait_log(vm, r"SCAN-OUT-2.*virus scan passed", 60)
    check("a second in-and-out stick: usable read-write after its scan",
          took is not None and usable_rw(vm, "6") is not None, node_state(vm, "6"))
    part = partition_of(vm, "6")
    vm.run("/bin/udevadm settle --timeout=15", timeout=30)
    vm.run("kill $(pidof clamd); sleep 0.5; rm -f " + SOCKET)
    rc, out = vm.run(f"mkdir -p /mnt/o2 && mount /dev/{part} /mnt/o2 && echo late > /mnt/o2/unscanned.txt && sync && "
                     "echo ok", timeout=30)
    check("... clamd stopped, a file written to it", rc == 0 and "ok" in out, out.strip()[-200:])
    took = wait_log(vm, r"SCAN-OUT-2.*could not be scanned \(scanner-missing", 60)
    check("... it could not be scanned: kyokad says so", took is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "SCAN-OUT-2" in l)[-600:])
    vm.run("umount -l /mnt/o2", timeout=20)
    ok = vm.wait_for(f"{auth_is('6', 1)} && p=$(ls /sys/bus/usb/devices/[0-9]-6/*:*/host*/target*/*/block/ | head -1)1 && "
                     f"[ \"$(cat /sys/class/block/$p/ro)\" = 1 ] && [ \"$(stat -c %a:%U /dev/$p)\" = 600:root ]", timeout=30)
    check("... the stick is held: authorised, read-only, root's alone", ok is not None, node_state(vm, "6"))
    recs = written(vm, SERIAL_OUT2, "unscanned.txt")
    r = recs[-1] if recs else {}
    check("... its file-written record names no scanner", bool(recs) and r.get("scanner") == "" and r.get("sha256"),
          json.dumps(r, ensure_ascii=False)[:400])
    recs = records_for(vm, SERIAL_OUT2, "scan-held")
    r = recs[0] if recs else {}
    check("... scan-held recorded: scanner-missing, naming the file",
          r.get("reason") == "scanner-missing" and r.get("file_path", "").endswith("unscanned.txt"),
          json.dumps(r, ensure_ascii=False)[:400])
    # The rescan the hold started (clamd still stopped) ends before clamd is back: a reload while
    # it runs would find it running and leave its outcome standing.
    wait_log(vm, r"SCAN-OUT-2.*virus scan did not finish", 60)
    start_clamd(vm)
    vm.run("kill -HUP $(pidof kyokad)")
    took = wait_log(vm, r"SCAN-OUT-2.*virus scan passed: 2 files", 90)
    check("... clamd back and kyokad told: the whole stick scanned again (2 files) and usable read-write",
          took is not None and usable_rw(vm, "6") is not None,
          "\n".join(l for l in kyokad_log(vm).splitlines() if "SCAN-OUT-2" in l)[-600:])


def case_carried_out_report(vm, k):
    """The week's export: the record book says of each file written whether it was scanned."""
    rc, out = vm.run("date +%G-W%V")
    week = out.strip()
    rc, out = vm.run(f"rm -rf /tmp/export; policyctl --config-dir /etc/kyoka --state-dir /var/lib/kyoka "
                     f"--runtime-dir /run/kyoka export --week {week} --out /tmp/export", timeout=120)
    rc2, folder = vm.run(f"ls -d /tmp/export/*/{week} | head -1")
    folder = folder.strip()
    check("the week exported", rc == 0 and rc2 == 0 and folder, out.strip()[-300:])
    html = vm.read_file(folder + "/report.html").decode("utf-8", "replace") if folder else ""
    check("... the report's record book: the clean file virus-scanned, the EICAR file with its signature",
          "clean.txt (7 バイト、ウイルス検査済み)" in html and "eicar.com (68 バイト、ウイルス検出: eicar.com.UNOFFICIAL)" in html,
          "; ".join(l.strip()[:200] for l in html.splitlines() if "clean.txt" in l or "eicar.com (" in l)[:600])


def reader_disk(vm, port):
    """(disk name, its diskseq) of the reader on PORT, or (None, None)."""
    rc, out = vm.run(f"b=$(ls {DEV}/[0-9]-{port}/*:*/host*/target*/*/block/ 2>/dev/null | head -1); "
                     f"[ -n \"$b\" ] && echo $b $(cat /sys/block/$b/diskseq)")
    w = out.split()
    return (w[0], w[1]) if rc == 0 and len(w) == 2 else (None, None)


def swap_card(vm, image):
    """Another card into the reader (QEMU's usb-storage with a removable medium)."""
    vm.qmp("blockdev-change-medium", id=READER_LUN, filename=image, format="raw")


def watch_new_card(vm, port, old_seq, until, before=None, seconds=40):
    """After a swap: every node of the reader's disk (and its first partition) that belongs to
    another medium than OLD_SEQ is tried as uid 1000 in group disk (blk-racer --try, read-write)
    until UNTIL (a shell condition) holds. A try counts only if BEFORE (a shell condition: the
    new card's scan has not passed yet) still holds after it. Returns (tries, list of tries that
    opened or wrote, the first state seen of the new medium)."""
    tries, opened, first = 0, [], None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rc, _ = vm.run(until)
        if rc == 0:
            break
        b, seq = reader_disk(vm, port)
        if b and seq != old_seq:
            for node in (b, b + "1"):
                rc, out = vm.run(f"[ -b /dev/{node} ] && echo $(cat /sys/class/block/{node}/ro) "
                                 f"$(stat -c '%a %U:%G' /dev/{node}) && blk-racer --user {DISK_GROUP} --try /dev/{node} rw")
                if rc != 0 or "try=" not in out:
                    continue
                if before and vm.run(before)[0] != 0:
                    break               # passed meanwhile: this try may have come after it
                tries += 1
                if first is None:
                    first = f"{node}: " + " ".join(out.split()[:3])
                m = {k: v for k, v in (w.split("=", 1) for w in out.split() if "=" in w)}
                if m.get("open") == "ok" or m.get("io") == "ok":
                    opened.append(f"{node} seq {seq}: " + " ".join(out.split()))
        time.sleep(0.1)
    return tries, opened, first


def case_reader_swap(vm, k):
    """A USB card reader (usb-storage, removable medium) approved with scan required: each card
    swapped in is held at once and scanned again (issue 15: before, a card swapped into a reader
    whose scan had passed was read-write without a scan)."""
    vm.run("echo 1000 > /sys/module/block/parameters/events_dfl_poll_msecs", check=True)
    vm.plug_usb_storage("reader", serial=SERIAL_READER, port="7", image=IMAGES["reader1"], removable=True)
    took = wait_log(vm, r"SCAN-READER-1.*virus scan passed", 60)
    check("card reader, first card clean: scanned, then usable read-write",
          took is not None and usable_rw(vm, "7") is not None, node_state(vm, "7"))
    b, seq1 = reader_disk(vm, "7")
    rc, out = vm.run(f"cat /run/kyoka/usb/$(basename {usb_path('7')})")
    check("... its access file is bound to the disk that was scanned (diskseq line)",
          seq1 is not None and out.split() == ["read-write", "hidraw=root", f"diskseq={seq1}"], out.strip())
    passes = len(records_for(vm, SERIAL_READER, "scan-passed"))

    swap_card(vm, IMAGES["reader2"])
    tries, opened, first = watch_new_card(
        vm, "7", seq1, f"b=$(ls {DEV}/[0-9]-7/*:*/host*/target*/*/block/ 2>/dev/null | head -1); [ -n \"$b\" ] && "
        f"[ \"$(cat /sys/block/$b/diskseq)\" != {seq1} ] && [ \"$(cat /sys/block/$b/ro)\" = 0 ] && "
        f"[ -b /dev/${{b}}1 ] && [ \"$(stat -c %a:%G /dev/${{b}}1)\" = 660:disk ] && "
        f"grep -c 'SCAN-READER-1.*virus scan passed' {LOG} | grep -qx {passes + 1}",
        before=f"grep -c 'SCAN-READER-1.*virus scan passed' {LOG} | grep -qx {passes}")
    check("a clean second card swapped in: held at once (uid 1000 in group disk cannot open it for writing)",
          tries > 0 and not opened, f"{tries} tries, first {first}; opened: {opened[:3]}")
    took = wait_log(vm, r"SCAN-READER-1.*virus scan passed", 60)
    recs = records_for(vm, SERIAL_READER, "scan-passed")
    check("... scanned again (a second scan-passed record: 1 file)",
          len(recs) == passes + 1 and recs[-1].get("files") == 1, json.dumps(recs[-1:], ensure_ascii=False)[:300])
    ok = usable_rw(vm, "7", 30)
    b, seq2 = reader_disk(vm, "7")
    check("... then usable read-write (ro=0, 660 root:disk)", ok is not None and seq2 != seq1, node_state(vm, "7"))
    vm.run("/bin/udevadm settle --timeout=15", timeout=30)
    rc, out = vm.run(f"mkdir -p /mnt/r && mount /dev/{b}1 /mnt/r && cat /mnt/r/second.txt && echo new > /mnt/r/w && "
                     f"sync && {unmount('/mnt/r')}", timeout=30)
    check("... its file system mounts read-write (the second card's file)", rc == 0 and "second" in out,
          out.strip()[-200:])

    # Pulled: no medium is held (scan-held no-medium); the next card is scanned when it comes.
    vm.qmp("eject", id=READER_LUN, force=True)
    took = wait_log(vm, r"SCAN-READER-1.*virus scan did not finish \(no-medium", 40)
    ok = vm.holds(f"b=$(ls {DEV}/[0-9]-7/*:*/host*/target*/*/block/ | head -1) && [ \"$(cat /sys/block/$b/ro)\" = 1 ] && "
                  f"[ \"$(stat -c %a:%U:%G /dev/$b)\" = 600:root:root ]", 2)
    recs = records_for(vm, SERIAL_READER, "scan-held")
    check("the card pulled: the reader is held (ro=1, 600 root:root), scan-held no-medium recorded",
          took is not None and ok and recs and recs[-1].get("reason") == "no-medium",
          f"{node_state(vm, '7')}; {json.dumps(recs[-1:], ensure_ascii=False)[:200]}")
    swap_card(vm, IMAGES["reader2b"])
    took = vm.wait_for(f"grep -c 'SCAN-READER-1.*virus scan passed' {LOG} | grep -qx {passes + 2}", timeout=60)
    ok = usable_rw(vm, "7", 30)
    b, seq2 = reader_disk(vm, "7")
    check("... a card put into the empty reader: scanned, then usable read-write", took is not None and ok is not None,
          node_state(vm, "7"))

    # clamd is stopped while the new card is tried: a fast scan would otherwise end (and
    # de-authorise the reader) before the first try, leaving nothing to check.
    vm.run("kill -STOP $(pidof clamd)")
    try:
        swap_card(vm, IMAGES["reader3"])
        tries, opened, first = watch_new_card(vm, "7", seq2, f"{auth_is('7', 0)}", seconds=8)
    finally:
        vm.run("kill -CONT $(pidof clamd)")
    check("a card with the EICAR file swapped in: held at once (uid 1000 in group disk cannot open it for writing)",
          tries > 0 and not opened, f"{tries} tries, first {first}; opened: {opened[:3]}")
    took = vm.wait_for(f"{has_usb('7')} && {auth_is('7', 0)} && {no_sd_of('7')}", timeout=60)
    recs = records_for(vm, SERIAL_READER, "scan-infected")
    r = recs[-1] if recs else {}
    check("... scanned: the reader is de-authorised, scan-infected recorded (signature, file)",
          took is not None and r.get("signature") == "eicar.com.UNOFFICIAL"
          and r.get("file_path", "").endswith("eicar.com"), json.dumps(r, ensure_ascii=False)[:300])


IMAGES = {}


def main():
    t0 = time.monotonic()
    for f in (KYOKAD, POLICYCTL, BLOCK_HELPER, CLAMD, SIGTOOL):
        if not os.access(f, os.X_OK):
            print(f"not ok - {f} missing (make all; make deps for clamav-daemon)\nkyokad-scan: 0 passed, 1 failed")
            return 1
    work = tempfile.mkdtemp(prefix="kyoka-scan-")
    try:
        approver = Approver(work)
        for serial in (SERIAL_CLEAN, SERIAL_EICAR, SERIAL_HELD, SERIAL_NOFS, SERIAL_READER):
            approver.approve_usb(serial, "P-" + serial)
        for serial in (SERIAL_OUT, SERIAL_OUT2):
            approver.approve_usb(serial, "P-" + serial, options=("--scan-in-and-out",))
        # (The media permits come later, from the guest's requests, with approve --scan.)
        # Every stick's storage must pass a scan; the test database has no date, so its age is
        # not bounded here (test-scan-protocol.c covers the age check).
        with open(approver.policy) as f:
            text = f.read()
        text = text.replace("defaults = {", 'defaults = {\n        scan = "required";', 1)
        text += "\nscan = { max_seconds = 60; max_megabytes = 1024; max_database_days = 0; };\n"
        with open(approver.policy, "w") as f:
            f.write(text)
        approver.ctl(["check", approver.policy])
        approver.sign()

        clamd_files = clamd_overlay_files(work)
        IMAGES["clean"] = stick_with_files(work, "clean", CLEAN_FILES)
        IMAGES["eicar"] = stick_with_files(work, "eicar", {"readme.txt": b"hello\n", "docs/eicar.com": EICAR})
        IMAGES["held"] = stick_with_files(work, "held", {"a.txt": b"a\n"})
        IMAGES["out"] = stick_with_files(work, "out", {"a.txt": b"a\n"})
        IMAGES["out2"] = stick_with_files(work, "out2", {"b.txt": b"b\n"})
        IMAGES["nofs"] = stick_image(os.path.join(work, "nofs.img"), fs=False)
        IMAGES["card"] = stick_with_files(work, "card", CARD_FILES, size_mb=32)
        IMAGES["reader1"] = stick_with_files(work, "reader1", {"first.txt": b"first\n"})
        IMAGES["reader2"] = stick_with_files(work, "reader2", {"second.txt": b"second\n"})
        IMAGES["reader2b"] = stick_with_files(work, "reader2b", {"again.txt": b"again\n"})
        IMAGES["reader3"] = stick_with_files(work, "reader3", {"third.txt": b"third\n", "eicar.com": EICAR})
        racer = os.path.join(work, "blk-racer")
        subprocess.run(["cc", "-O2", "-Wall", "-o", racer, RACER_SRC], check=True)
        for name, files in (("disc-eicar", {"docs/eicar.com": EICAR}), ("disc-clean", {"readme.txt": b"disc\n"})):
            tree = os.path.join(work, name + ".d")
            for rel, data in files.items():
                os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
                with open(os.path.join(tree, rel), "wb") as f:
                    f.write(data)
            # A disc with an ext4 file system (4 KiB blocks: above the drive's 2 KiB sectors).
            IMAGES[name] = os.path.join(work, name + ".img")
            subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-d", tree, "-O", "^has_journal", IMAGES[name], "8M"],
                           check=True)
        IMAGES["nvme"] = stick_with_files(work, "nvme", {"readme.txt": b"hello\n", "docs/eicar.com": EICAR}, size_mb=64)
        # An SD card reader on PCI and an optical drive, both empty at boot.
        extra = ["-device", "sdhci-pci,id=sdhci,bus=pcie.0",
                 "-drive", "if=none,id=sd0", "-device", "sd-card,drive=sd0,id=card0",
                 "-drive", "if=none,id=cd0", "-device", "ide-cd,drive=cd0,bus=ide.2,id=cdrom0"]

        overlay = make_overlay(work, approver, extra=[
            (BLOCK_HELPER, f"{GUEST_LIBEXECDIR}/kyoka-block-access"),
            *installed_rules_all(work),
            (racer, "/usr/bin/blk-racer"),
            *clamd_files])
        with VM("kyokad-scan", overlays=[overlay], extra_args=extra, mem=768,
                quiet=not os.environ.get("KYOKA_VM_VERBOSE")) as vm:
            check("boot", True, f"{vm.boot_seconds:.2f} s ({vm.accel}); logs {vm.log_dir}")
            k = Kyokad(vm)
            try:
                case_start(vm, k)
                cases = [("clean stick", lambda: case_clean(vm, k)),
                         ("EICAR stick", lambda: case_eicar(vm, k)),
                         ("clamd stopped", lambda: case_clamd_stopped(vm, k)),
                         ("unmountable", lambda: case_unmountable(vm, k)),
                         ("SD card", lambda: case_card(vm, k, approver, work)),
                         ("SD card in-and-out", lambda: case_card_in_and_out(vm, k, approver)),
                         ("NVMe EICAR", lambda: case_nvme_eicar(vm, k, approver, work)),
                         ("disc", lambda: case_disc(vm, k, approver, work)),
                         ("status", lambda: case_status(vm, k)),
                         ("carried out", lambda: case_carried_out(vm, k, approver)),
                         ("carried out held", lambda: case_carried_out_held(vm, k)),
                         ("carried out report", lambda: case_carried_out_report(vm, k)),
                         ("reader swap", lambda: case_reader_swap(vm, k))]
                only = [c for c in os.environ.get("KYOKA_VM_CASES", "").split(",") if c]
                if only:
                    cases = [(n, c) for n, c in cases if n in only]
                run_cases(cases)
            finally:
                try:
                    with open(os.path.join(vm.log_dir, "kyokad.log"), "wb") as f:
                        f.write(vm.read_file(LOG))
                    with open(os.path.join(vm.log_dir, "clamd.log"), "wb") as f:
                        f.write(vm.read_file("/tmp/clamd.log"))
                    note(f"kyokad's and clamd's logs: {vm.log_dir}")
                except Exception:
                    pass
    except Exception as e:
        check("kyokad-scan", False, f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary("kyokad-scan", t0)


if __name__ == "__main__":
    sys.exit(main())
