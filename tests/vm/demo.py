#!/usr/bin/env python3
"""`make demo`: kyoka doing its whole job on a real Linux kernel, narrated for a municipal IT
admin (Japanese and English), each step checked against the kernel's own state.

The host plays the approver's machine (情報政策課): it makes the key, writes and signs the
policy. The QEMU guest plays the contractor's workstation (受託事業者の端末): kyokad runs there
with the signed policy, devices are plugged over QMP, and what the demo calls "works" or
"blocked" is read from the kernel itself (`authorized`, its interfaces, /sys/block, a dd write,
/sys/class/net), never from kyokad's own words.

Scenario: key + policy signed; approved stick works (dd write); read-only stick cannot be
written (or, while read-only media are not enforced, stays blocked: kyokad fails closed);
unapproved stick, phone (usb-mtp) and USB network adapter (usb-net) blocked; an SD card left in
the reader is closed to every user and read-only; a stick approved with `--scan-in-and-out` is
held until ClamAV's clamd has scanned it, then usable, a file written to it is scanned and
recorded, and writing the EICAR test file de-authorises it (clamd from the host with a
one-signature test database); the blocked
stick's request (`policyctl request` on the workstation) becomes an approval on the approver's
machine, is signed, installed (`policyctl install`), and the stick works without replugging;
`policyctl list` / `status`; the week exported (`policyctl export`) with the CSV's first lines
and the report's summary; and, at the end, the submission as the city receives it: report.pdf,
its first page as a picture (the path is printed) and its summary. The guest has no PDF
engine: the same export is made again on the host from a copy of the workstation's ledger,
export key and policy (the same bytes, and report.pdf beside them).

Ends with "demo: PASS" (exit 0) or "demo: FAIL (N of M steps failed)" (exit 1).
    python3 tests/vm/demo.py            (after make all and tests/vm/build-image.sh; `make demo` does all)
    python3 tests/vm/demo.py --dry-run  (no VM: checks the script and the host side only)
"""

import base64
import datetime
import html
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from vm import VM  # noqa: E402
from kyoka_guest import (BLOCK_HELPER, CLAMD, DEV, EICAR, GUEST_LIBEXECDIR, KYOKAD, LOG, POLICYCTL,  # noqa: E402
                         QEMU_STORAGE, SIGTOOL, Kyokad, auth_is, clamd_overlay_files, dd_roundtrip, has_usb,
                         installed_rules_all, make_overlay, no_sd_of, sd_count, sd_name, sd_of, start_clamd,
                         stick_image, usb_path)

SERIAL_OK = "KYOKA-DEMO-OK"      # approved from the start
SERIAL_RO = "KYOKA-DEMO-RO"      # approved read-only
SERIAL_NO = "KYOKA-DEMO-NEW"     # not approved; approved during the demo from its request
SERIAL_SCAN = "KYOKA-DEMO-SCAN"  # approved with scan = "in-and-out": virus-checked before use and on carry-out
ISSUER = "デモ市 総務部 情報政策課 (Demo City, IT policy division)"
CONTRACT = "令和8年度 契約第123号 (contract 123)"
CONTRACTOR = "株式会社デモシステム (Demo Systems Co.)"
RESPONSIBLE = "情報管理責任者 技術部長 鈴木 (Suzuki, responsible person)"
APPROVER = "情報政策課 山田 (Yamada)"
HOSTNAME = "ws-demo01"            # the contractor's workstation

TTY = sys.stdout.isatty()
OK_MARK = "\033[32m✓\033[0m" if TTY else "✓"
NG_MARK = "\033[31m✗\033[0m" if TTY else "✗"


class Narrator:
    def __init__(self):
        self.results = []
        self.t0 = time.monotonic()
        self.n = 0

    def step(self, ja, en):
        self.n += 1
        print(f"\n[{self.n}] {ja}\n    {en}", flush=True)

    def say(self, text):
        for line in text.splitlines() or [""]:
            print(f"    {line}", flush=True)

    def show(self, cmd, out=None):
        """A command as the admin would type it, and (indented) what it printed."""
        print(f"    $ {cmd}", flush=True)
        if out:
            for line in out.rstrip("\n").splitlines()[:25]:
                print(f"      {line}", flush=True)

    def check(self, cond, ja, en, detail=""):
        self.results.append(bool(cond))
        mark = OK_MARK if cond else NG_MARK
        print(f"    {mark} {ja} / {en}" + (f"  ({detail})" if detail else ""), flush=True)
        return bool(cond)


# --- the approver's machine (the host) -----------------------------------------------------------
class ApproverDesk:
    """The city's side: runs build/policyctl in its own folder, shows each command."""

    def __init__(self, work, say):
        self.dir = os.path.join(work, "approver")
        os.makedirs(self.dir)
        self.say = say
        self.policy = os.path.join(self.dir, "policy.conf")
        self.key = os.path.join(self.dir, "approver.key")
        self.pub = os.path.join(self.dir, "approver.pub")

    def ctl(self, args, shown=None, stdout=None):
        p = subprocess.run([POLICYCTL, *args], capture_output=True, text=True, cwd=self.dir)
        out = (p.stdout if stdout is None else "") + p.stderr
        self.say.show(shown or "policyctl " + " ".join(shlex.quote(a) for a in args), out)
        if stdout is not None:
            with open(os.path.join(self.dir, stdout), "w") as f:
                f.write(p.stdout)
        return p.returncode, p.stdout + p.stderr

    def files(self):
        """The signed policy's bytes, as Kyokad.install() carries them to the workstation."""
        with open(self.policy, "rb") as f, open(self.policy + ".sig", "rb") as g:
            return f.read(), g.read()


CLAMD_FILES = []


def until_date():
    return (datetime.date.today() + datetime.timedelta(days=180)).isoformat()


def report_summary(report_html):
    """(label, number) rows of the report's summary table (1. 概要 / 1. Summary)."""
    m = re.search(r"<h2>1\. (概要|Summary)</h2>\s*<table[^>]*>(.*?)</table>", report_html, re.S)
    if not m:
        return []
    return [(html.unescape(k), v) for k, v in re.findall(r"<tr><th>(.*?)</th><td class=\"n\">(\d+)</td></tr>", m.group(2))]


# --- the scenario ---------------------------------------------------------------------------------
def approver_prepares(n, desk):
    n.step("承認者の端末: 鍵を作り、ポリシーを書いて署名する",
           "On the approver's machine (here: the host): make a key, write the policy, approve two sticks, sign")
    rc, _ = desk.ctl(["keygen", "--out", "approver"])
    n.check(rc == 0 and os.path.exists(desk.key) and os.stat(desk.key).st_mode & 0o077 == 0,
            "署名鍵を作成 (approver.key は 0600)", "signing key created (approver.key is mode 0600)")
    rc, _ = desk.ctl(["init", "--issuer", ISSUER, "--contract", CONTRACT, "--contractor", CONTRACTOR,
                      "--responsible", RESPONSIBLE],
                     shown=f"policyctl init --issuer {shlex.quote(ISSUER)} --contract {shlex.quote(CONTRACT)} "
                           f"--contractor {shlex.quote(CONTRACTOR)} --responsible {shlex.quote(RESPONSIBLE)} > policy.conf",
                     stdout="policy.conf")
    until = until_date()
    rc1, _ = desk.ctl(["approve", "policy.conf", "--vendor", QEMU_STORAGE[0], "--product", QEMU_STORAGE[1],
                       "--serial", SERIAL_OK, "--interfaces", "08:06:50", "--permit", "許可-2026-001",
                       "--by", APPROVER, "--until", until, "--purpose", "納品データの受け渡し (delivery data)"])
    rc2, _ = desk.ctl(["approve", "policy.conf", "--vendor", QEMU_STORAGE[0], "--product", QEMU_STORAGE[1],
                       "--serial", SERIAL_RO, "--interfaces", "08:06:50", "--permit", "許可-2026-002",
                       "--by", APPROVER, "--until", until, "--read-only", "--purpose", "資料の閲覧のみ (read only)"])
    rc4, _ = desk.ctl(["approve", "policy.conf", "--vendor", QEMU_STORAGE[0], "--product", QEMU_STORAGE[1],
                       "--serial", SERIAL_SCAN, "--interfaces", "08:06:50", "--permit", "許可-2026-004",
                       "--by", APPROVER, "--until", until, "--scan-in-and-out",
                       "--purpose", "成果物の納品 (ウイルス検査つき) (delivery, virus-checked)"])
    # The scanner here has a one-signature test database without a date: the bound on its age
    # (max_database_days, 7 by default) is off; a real clamd's database is dated by freshclam.
    with open(desk.policy, "a") as f:
        f.write("\nscan = { max_seconds = 120; max_database_days = 0; };\n")
    n.say("policy.conf += scan = { max_seconds = 120; max_database_days = 0; };   "
          "# the demo's test signatures carry no date")
    rc3, _ = desk.ctl(["check", "policy.conf"])
    n.check(rc == 0 and rc1 == 0 and rc2 == 0 and rc3 == 0 and rc4 == 0,
            "ポリシーに3本のUSBメモリを許可 (1本は読み取り専用、1本はウイルス検査つき)",
            f"policy approves three sticks (one read-only, one virus-checked in and out), valid until {until}")
    rc, _ = desk.ctl(["sign", "--key", "approver.key", "policy.conf"])
    rc2, out = desk.ctl(["verify", "--key", "approver.pub", "policy.conf"])
    n.check(rc == 0 and rc2 == 0 and "good signature" in out, "署名し、検証できた", "signed, and the signature verifies")


def boot_workstation(n, vm, k):
    n.step("受託事業者の端末 (QEMU の実カーネル) で kyokad を起動する",
           "Start kyokad on the contractor's workstation (a real Linux kernel in QEMU)")
    n.say(f"the workstation booted in {vm.boot_seconds:.1f} s ({vm.accel}); approver.pub is in /etc/kyoka/keys.d/, "
          "the signed policy in /etc/kyoka/")
    vm.run(f"hostname {HOSTNAME}; echo {HOSTNAME} > /etc/hostname", check=True)
    # What `make install` puts in place: kyoka's udev rules (controllers closed, read-only media,
    # raw HID for root alone).
    rc, out = vm.run("cp /etc/kyoka-vm/*.rules /etc/udev/rules.d/ && /bin/udevadm control --reload && echo ok")
    n.check("ok" in out, "kyoka の udev ルールを導入", "kyoka's udev rules installed (as make install does)")
    pid = k.start()
    n.check(pid is not None, "kyokad が起動した", "kyokad is running", f"pid {pid}")
    rc, out = vm.run(f"cat {DEV}/usb*/authorized_default")
    n.check(out.split() == ["0", "0"], "USBコントローラーは既定で閉じている (authorized_default=0)",
            "every USB controller closed by default: a new device gets nothing until kyokad decides",
            " ".join(out.split()))
    rc, out = vm.run(f"grep -m1 'policy' {LOG}")
    n.say("kyokad: " + out.strip().split("kyokad: ", 1)[-1][:160])


def decision(vm, bus_path, timeout=20):
    """kyokad's decision word for BUS_PATH from its log (only to narrate; checks use the kernel)."""
    vm.wait_for(f"grep -qE 'usb connected {re.escape(bus_path)} ' {LOG}", timeout=timeout)
    rc, out = vm.run(f"grep -E 'usb connected {re.escape(bus_path)} ' {LOG} | tail -1")
    m = re.search(r": (allow|read-only|block) \(([^)]*)\)", out)
    return (m.group(1), m.group(2)) if m else (None, out.strip()[-120:])


def bus_path_of(vm, port):
    rc, out = vm.run(f"basename {usb_path(port)}")
    return out.strip()


def approved_stick(n, vm):
    n.step("許可されたUSBメモリを挿す", f"Plug the approved stick (serial {SERIAL_OK}, permit 許可-2026-001)")
    vm.plug_usb_storage("ok", serial=SERIAL_OK, port="1")
    took = vm.wait_for(f"{has_usb('1')} && {auth_is('1', 1)} && {sd_of('1')}", timeout=25)
    sd = sd_name(vm, "1")
    n.check(took is not None and sd, "カーネルが認可し、ディスクとして現れた",
            "the kernel authorised it and it became a disk", f"authorized=1, /sys/block/{sd}" if sd else "no sdX")
    ok, detail = dd_roundtrip(vm, sd) if sd else (False, "no sdX")
    n.check(ok, "書き込めた (64 KiB を dd で書き、読み戻して一致)", "writable: 64 KiB written with dd reads back identical",
            f"/dev/{sd}")
    d = decision(vm, bus_path_of(vm, "1"))
    n.say(f"kyokad's record: {d[0]} ({d[1]})")


def read_only_stick(n, vm, work):
    n.step("読み取り専用で許可されたUSBメモリを挿す",
           f"Plug the stick approved read-only (serial {SERIAL_RO}, permit 許可-2026-002; it holds an ext4 file system)")
    vm.plug_usb_storage("ro", serial=SERIAL_RO, port="6", image=stick_image(os.path.join(work, "ro.img")))
    vm.wait_for(has_usb("6"), timeout=20)
    d = decision(vm, bus_path_of(vm, "6"))
    if d[0] == "read-only":
        took = vm.wait_for(f"{auth_is('6', 1)} && {sd_of('6')} && b=$(ls {DEV}/[0-9]-6/*:*/host*/target*/*/block/) "
                           "&& [ -e /dev/${b}1 ] && [ \"$(cat /sys/block/$b/ro)\" = 1 ]", timeout=25)
        sd = sd_name(vm, "6")
        n.check(took is not None and sd, "読み取り専用のディスクとして現れた", "it is a disk, and the kernel holds it read-only",
                f"/sys/block/{sd}/ro = 1" if took is not None else f"sd={sd}")
        rc, out = vm.run(f"mkdir -p /mnt/usb && mount -t ext4 /dev/{sd}1 /mnt/usb 2>&1; grep ' /mnt/usb ' /proc/mounts; "
                         "ls /mnt/usb; touch /mnt/usb/new.txt; echo write=$?; umount /mnt/usb", timeout=30)
        mounted_ro = re.search(r" /mnt/usb ext4 ro[,\s]", out) is not None
        n.show(f"mount /dev/{sd}1 /mnt/usb; ls /mnt/usb; touch /mnt/usb/new.txt", out)
        n.check(mounted_ro and "write=0" not in out, "読める (マウントは読み取り専用) が、ファイルは作れない",
                "readable (it mounts read-only), but no file can be written")
        rc, out = vm.run(f"dd if=/dev/urandom of=/dev/{sd} bs=4k count=1 oflag=direct conv=fsync 2>&1", timeout=30)
        n.check(sd and rc != 0, "ディスクへの直接の書き込み (dd) も拒否された", "a raw dd write to the disk is refused too",
                next((l for l in out.splitlines() if l.startswith("dd:")), out.strip()[-100:]))
    else:
        n.say("Read-only media are not enforced by kyokad yet. Until they are, kyokad fails closed:")
        n.say("読み取り専用の強制が未実装のため、kyokad は安全側に倒して遮断します。")
        held = vm.holds(f"{auth_is('6', 0)} && {no_sd_of('6')} && ! ls -d {usb_path('6')}/*:* >/dev/null 2>&1", 3)
        n.check(held and d[0] == "block", "書き込めない: 遮断されたまま (authorized=0、ディスクなし、3 秒間)",
                "cannot be written: it stays blocked (authorized=0, no interface, no disk, for 3 s)",
                f"kyokad: {d[0]} ({d[1]})")
    vm.unplug("ro")


def blocked(n, vm, port, ja, en, extra_cond="", extra_detail=""):
    vm.wait_for(has_usb(port), timeout=20)
    d = decision(vm, bus_path_of(vm, port))
    held = vm.holds(f"{auth_is(port, 0)} && ! ls -d {usb_path(port)}/*:* >/dev/null 2>&1 {extra_cond}", 3)
    n.check(held and d[0] == "block", ja, en, f"authorized=0, no interface for 3 s{extra_detail}; kyokad: {d[0]} ({d[1]})")


def unapproved_stick(n, vm):
    n.step("許可されていないUSBメモリを挿す", f"Plug a stick nobody approved (serial {SERIAL_NO})")
    before = sd_count(vm)
    vm.plug_usb_storage("new", serial=SERIAL_NO, port="2")
    blocked(n, vm, "2", "遮断された: ディスクは現れない", "blocked: no disk appears",
            f"&& {no_sd_of('2')} && [ $(ls /sys/block | grep -c '^sd') -eq {before} ]", ", no new sdX")


def phone(n, vm, work):
    n.step("スマートフォン (MTP) を挿す", "Plug a phone (usb-mtp)")
    root = os.path.join(work, "phone")
    os.makedirs(root, exist_ok=True)
    vm.plug_usb("usb-mtp", "phone", port="3", rootdir=root, desc="Demo Phone")
    blocked(n, vm, "3", "遮断された", "blocked")


def usb_nic(n, vm):
    n.step("USBネットワークアダプターを挿す", "Plug a USB network adapter (usb-net)")
    rc, before = vm.run("ls /sys/class/net | sort | tr '\\n' ' '")
    vm.plug_usb_net("nic", mac="52:54:00:4b:59:01", port="4")
    blocked(n, vm, "4", "遮断された: ネットワークインターフェースは現れない", "blocked: no network interface appears",
            f"&& [ \"$(ls /sys/class/net | sort | tr '\\n' ' ')\" = {shlex.quote(before)} ]",
            f", links still only: {before.strip()}")


def sd_card(n, vm):
    n.step("SDカードが挿さったまま起動: 許可がないので利用者には開けない",
           "An SD card left in the laptop's reader (sdhci-pci): no permit, so no user can open it")
    ok = vm.wait_for("[ -b /dev/mmcblk0 ] && [ \"$(stat -c '%a %U:%G' /dev/mmcblk0)\" = '600 root:root' ] && "
                     "[ \"$(cat /sys/block/mmcblk0/ro)\" = 1 ]", timeout=30)
    rc, state = vm.run("stat -c '%n %a %U:%G' /dev/mmcblk0; echo ro=$(cat /sys/block/mmcblk0/ro)")
    n.check(ok is not None, "遮断された: root 以外は読み書きできず、読み取り専用 (BLKROSET)",
            "blocked: the node is root's alone (not group disk's) and the disk read-only",
            " ".join(state.split()))
    rc, out = vm.run("dd if=/dev/urandom of=/dev/mmcblk0 bs=4k count=1 seek=256 oflag=direct conv=fsync 2>&1; echo rc=$?")
    why = next((l for l in out.splitlines() if l.startswith("dd:")), out.strip().splitlines()[-1] if out.strip() else "")
    n.check("rc=0" not in out, "root の直接の書き込みも失敗する", "even root's direct write fails", why)
    rc, out = vm.run(f"grep -E 'kyokad: media \\S+ mmcblk0 ' {LOG} | tail -1")
    n.say("kyokad: " + out.strip().split("kyokad: ", 1)[-1][:160])
    rc, out = vm.run("policyctl request mmcblk0 | head -12", timeout=20)
    n.show("policyctl request mmcblk0        # the card's identity (CID) for the approver", out)


def virus_check(n, vm, work):
    n.step("ウイルス検査: 使う前に媒体全体を、持ち出すときはファイルごとに",
           "Virus check: the whole stick before use, then each file written to it (scan = \"in-and-out\")")
    if not CLAMD_FILES:
        n.say("clamd (clamav-daemon) is not installed on this host (make deps installs it): scene skipped")
        return
    took = start_clamd(vm)
    n.check(took is not None, "ウイルス対策ソフト (ClamAV の clamd) が動作", "the anti-virus scanner (ClamAV's clamd) runs",
            "test signature database: sigtool --md5 of the EICAR test file")
    img = stick_image(os.path.join(work, "scan.img"))
    vm.plug_usb_storage("scan", serial=SERIAL_SCAN, port="7", image=img)
    part = "p=$(ls /sys/bus/usb/devices/[0-9]-7/*:*/host*/target*/*/block/ 2>/dev/null | head -1)1"
    held = vm.wait_for(f"{part} && [ -e /dev/$p ] && [ \"$(cat /sys/class/block/$p/ro)\" = 1 ] && "
                       f"[ \"$(stat -c %a:%U /dev/$p)\" = 600:root ]", timeout=25)
    passed = vm.wait_for(f"grep -q 'KYOKA-DEMO-SCAN.*virus scan passed' {LOG}", timeout=90)
    n.check(held is not None or passed is not None, "検査が終わるまでは root 専用・読み取り専用で保留",
            "held until its scan has passed: read-only, root's alone")
    usable = vm.wait_for(f"{part} && [ \"$(cat /sys/class/block/$p/ro)\" = 0 ] && [ \"$(stat -c %a:%G /dev/$p)\" = 660:disk ]",
                         timeout=30)
    n.check(passed is not None and usable is not None, "検査に合格し、読み書きできるようになった",
            "the scan passed (recorded: files, bytes, engine); the stick is usable read-write")
    rc, sdp = vm.run(f"{part}; echo $p")
    vm.run("/bin/udevadm settle --timeout=15", timeout=30)
    rc, out = vm.run(f"mkdir -p /mnt/scan && mount /dev/{sdp.strip()} /mnt/scan && "
                     "echo '令和8年11月分 納品データ' > /mnt/scan/納品.txt && sync && echo ok", timeout=30)
    took = vm.wait_for(f"grep -q '納品.txt.*scanned: clean' {LOG}", timeout=60)
    n.check("ok" in out and took is not None, "持ち出したファイルを検査し記録した (SHA-256・利用者・プロセス)",
            "the file carried out was scanned and recorded (SHA-256, user, process)")
    rc, out = vm.run(f"grep '納品.txt' {LOG} | tail -1")
    n.say("kyokad: " + out.strip().split("kyokad: ", 1)[-1][:220])
    vm.run(f"echo {base64.b64encode(EICAR).decode()} | base64 -d > /mnt/scan/eicar.com; sync", timeout=30)
    took = vm.wait_for(f"{has_usb('7')} && {auth_is('7', 0)} && {no_sd_of('7')}", timeout=60)
    n.check(took is not None, "ウイルスを含むファイルを書き込むと、USBメモリは切り離され障害として記録される",
            "a file with a virus written to it: the stick is de-authorised at once and an incident recorded",
            "EICAR test file -> authorized=0")
    rc, out = vm.run(f"grep 'VIRUS FOUND in a file written' {LOG} | tail -1")
    n.say("kyokad: " + out.strip().split("kyokad: ", 1)[-1][:220])
    vm.run("umount -l /mnt/scan", timeout=20)
    vm.unplug("scan")


def keyboard(n, vm):
    n.step("キーボードを挿す: 入力は使えるが、生の HID データ通信路は開かない",
           "Plug a keyboard: typing works, but its raw HID data channel stays closed to users")
    vm.plug_usb("usb-kbd", "kbd", port="5")
    ok = vm.wait_for(f"{auth_is('5', 1)} && ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/input/*/event* >/dev/null 2>&1",
                     timeout=20) is not None
    n.check(ok, "キーボードは許可され、入力デバイスがある", "the keyboard is authorised and has its input device")
    node = None
    if vm.wait_for(f"ls {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/hidraw* >/dev/null 2>&1", timeout=10) is not None:
        rc, out = vm.run(f"basename $(ls -d {DEV}/[0-9]-5/[0-9]-5:1.0/*/hidraw/hidraw* | head -1)")
        node = out.strip()
    mode = None
    if node and vm.wait_for(f"[ \"$(stat -c '%a %U:%G' /dev/{node})\" = '600 root:root' ]", timeout=10) is not None:
        mode = "600 root:root"
    n.check(mode is not None, f"/dev/{node} は root のみ (0600): 許可なしに利用者が生データを読み書きできない",
            f"/dev/{node} is root's alone (0600): without a permit no user can read or write raw HID data",
            mode or "not root-only")


def request_approve_install(n, vm, k, desk, work):
    n.step("遮断されたUSBメモリの申請 → 承認 → 署名 → インストール (挿し直し不要)",
           "The blocked stick: request on the workstation -> approval and signature on the approver's machine -> "
           "install on the workstation; no replug")
    bus = bus_path_of(vm, "2")
    rc, out = vm.run("policyctl list --blocked", timeout=20)
    n.show("policyctl list --blocked        # on the workstation", out)
    rc, out = vm.run(f"policyctl request {bus} --out /tmp/stick.json", timeout=20)
    n.show(f"policyctl request {bus} --out stick.json        # on the workstation", out)
    req = os.path.join(desk.dir, "stick.json")
    if rc == 0:
        with open(req, "wb") as f:
            f.write(vm.read_file("/tmp/stick.json"))
    n.check(rc == 0, "申請ファイルを作成", "request written", f"{bus}")
    n.say("stick.json goes to the approver (申請書と一緒に). On the approver's machine:")
    rc1, _ = desk.ctl(["approve", "policy.conf", "--request", "stick.json", "--permit", "許可-2026-003",
                       "--by", APPROVER, "--until", until_date(), "--purpose", "納品データの受け渡し (delivery data)"])
    rc2, _ = desk.ctl(["sign", "--key", "approver.key", "policy.conf"])
    n.check(rc1 == 0 and rc2 == 0, "承認し、署名した", "approved (permit 許可-2026-003) and signed")
    n.say("policy.conf and policy.conf.sig go back to the workstation. There:")
    how, out = k.install(desk)
    n.show("policyctl install policy.conf        # on the workstation", out)
    took = vm.wait_for(f"{auth_is('2', 1)} && {sd_of('2')}", timeout=25)
    sd = sd_name(vm, "2")
    n.check(took is not None and sd, "挿し直さずに使えるようになった", "the stick works now, without replugging",
            f"authorized=1, /sys/block/{sd}, {took:.1f} s after install" if took is not None else "still blocked")
    ok, detail = dd_roundtrip(vm, sd) if sd else (False, "no sdX")
    n.check(ok, "書き込めた", "writable (dd round trip)", f"/dev/{sd}")


def list_status(n, vm):
    n.step("端末の状態を見る", "What the workstation enforces now: policyctl list and status")
    rc1, out = vm.run("policyctl list", timeout=20)
    n.show("policyctl list", out)
    rc2, out2 = vm.run("policyctl status", timeout=20)
    n.show("policyctl status", out2)
    n.check(rc1 == 0 and "許可-2026-003" in out and SERIAL_OK in out, "一覧: 使える機器とその許可番号",
            "list: what is allowed, under which permit", "the stick approved from its request is under 許可-2026-003")
    n.check(rc2 == 0 and "serial 5" in out2, "状態: 適用中のポリシー (通し番号 5)", "status: the policy in force (serial 5)",
            "" if rc2 == 0 else out2.strip()[-100:])


def ledger_export(n, vm):
    n.step("週次の記録を出力する (使用記録・障害記録)", "Export the week's records (usage and fault records) for the city")
    rc, _ = vm.run("[ -e /var/lib/kyoka/ledger.db ]")
    if rc != 0:
        n.say("kyokad does not write the ledger yet (the ledger wiring is pending): no export to show.")
        n.say("記録台帳への書き込みは未実装です。kyokad の記録 (stderr / journal) を示します:")
        rc, out = vm.run(f"grep -E 'usb (connected|re-evaluated)|policy ' {LOG} | tail -12 | sed 's/^.*kyokad: //'")
        n.show("journalctl -u kyokad        # here: kyokad's stderr", out)
        n.check(rc == 0 and out.strip(), "判定の記録は stderr / journal にある (台帳は未接続)",
                "every decision is on record in kyokad's log (ledger: pending)")
        return
    rc, out = vm.run("date +%G-W%V")     # this week, in the workstation's local time
    week = out.strip()
    rc, out = vm.run("policyctl ledger verify", timeout=60)
    n.show("policyctl ledger verify", out)
    n.check(rc == 0, "記録台帳のハッシュ連鎖は正常", "the ledger's hash chain verifies")
    rc, out = vm.run(f"rm -rf /tmp/export; policyctl export --week {week} --out /tmp/export", timeout=60)
    n.show(f"policyctl export --week {week} --out /tmp/export", out)
    rc2, folder = vm.run(f"ls -d /tmp/export/*/{week} | head -1")
    folder = folder.strip()
    n.check(rc == 0 and rc2 == 0 and folder, "出力した", "exported", folder)
    if not folder:
        return
    q = shlex.quote(folder)
    rc, out = vm.run(f"ls {q}; policyctl verify-export {q}", timeout=60)
    n.show(f"ls {q}; policyctl verify-export {q}", out)
    n.check(rc == 0 and "good" in out, "市が署名とハッシュを検証できる", "the city can verify it (signature, hashes, chain)")
    csv = vm.read_file(folder + "/usage.csv").decode("utf-8-sig", "replace").replace("\r\n", "\n")
    n.show("head -6 usage.csv        # UTF-8 with BOM, CRLF: opens in Excel", "\n".join(csv.splitlines()[:6]))
    has_rows = any(SERIAL_OK in l for l in csv.splitlines()) and any(SERIAL_NO in l for l in csv.splitlines())
    n.check(has_rows, "CSV に許可・遮断された機器がある", "the CSV lists the approved and the blocked sticks")
    rows = report_summary(vm.read_file(folder + "/report.html").decode("utf-8", "replace"))
    n.show("report.html: 概要 (summary)", "\n".join(f"{k}: {v}" for k, v in rows))
    n.check(len(rows) >= 3 and all(int(v) > 0 for _, v in rows[:2]), "週次報告書 (HTML) の概要",
            "the weekly report's summary counts allowed and blocked connections")


SUBMISSION = {}        # what the demo ends with: the PDF, its first page, its summary
ARTIFACTS = os.path.join(os.environ.get("BUILD", os.path.join(os.path.dirname(os.path.dirname(HERE)), "build")),
                         "test-artifacts")


def submission_pdf(n, vm, work):
    """The week as the city receives it: report.pdf made from a copy of the workstation's ledger."""
    n.step("市に提出する週次報告書 (PDF)", "The weekly submission as the city receives it: report.pdf")
    rc, out = vm.run("date +%G-W%V")
    week = out.strip()
    host = os.path.join(work, "city-copy")
    state, etc = os.path.join(host, "state"), os.path.join(host, "etc")
    os.makedirs(os.path.join(etc, "keys.d"), mode=0o755)
    os.makedirs(state, mode=0o755)
    for guest, local in (("/var/lib/kyoka/ledger.db", "state/ledger.db"), ("/var/lib/kyoka/ledger.db-wal", "state/ledger.db-wal"),
                         ("/var/lib/kyoka/export.key", "state/export.key"), ("/var/lib/kyoka/export.pub", "state/export.pub"),
                         ("/etc/kyoka/policy.conf", "etc/policy.conf"), ("/etc/kyoka/policy.conf.sig", "etc/policy.conf.sig"),
                         ("/etc/kyoka/keys.d/approver.pub", "etc/keys.d/approver.pub")):
        rc, _ = vm.run(f"[ -e {guest} ]")
        if rc == 0:
            with open(os.path.join(host, local), "wb") as f:
                f.write(vm.read_file(guest))
    os.chmod(os.path.join(state, "export.key"), 0o600)
    n.say("The workstation image has no PDF engine; a real one installs weasyprint. The same export, made again")
    n.say("here from a copy of its ledger, export key and signed policy, gives the same bytes and report.pdf beside them:")
    env = dict(os.environ, TZ="Asia/Tokyo")
    out_dir = os.path.join(host, "export")
    p = subprocess.run([POLICYCTL, "--config-dir", etc, "--state-dir", state, "export", "--week", week, "--out", out_dir],
                       capture_output=True, text=True, env=env)
    n.show(f"policyctl export --week {week} --out export        # a copy of {HOSTNAME}'s ledger and key", p.stdout + p.stderr)
    folder = os.path.join(out_dir, HOSTNAME, week)
    pdf = os.path.join(folder, "report.pdf")
    n.check(p.returncode == 0 and os.path.exists(pdf), "report.pdf を作成", "report.pdf made", pdf)
    if not os.path.exists(pdf):
        return
    same = all(open(os.path.join(folder, f), "rb").read() == vm.read_file(f"/tmp/export/{HOSTNAME}/{week}/{f}")
               for f in ("usage.csv", "faults.csv", "media.csv", "records.jsonl", "report.html"))
    n.check(same, "端末での出力と同じバイト列 (CSV・records.jsonl・report.html)",
            "the same bytes as the workstation's export (CSVs, records.jsonl, report.html)")
    fonts = subprocess.run(["pdffonts", pdf], capture_output=True, text=True).stdout
    embedded = [l for l in fonts.splitlines()[2:] if l.strip()]
    n.check(embedded and all(l.split()[-5] == "yes" for l in embedded),
            "フォントはすべて埋め込み済み (pdffonts)", "every font embedded in the PDF (pdffonts)",
            ", ".join(sorted({l.split()[0].split("+")[-1] for l in embedded})))
    pages = re.search(r"^Pages:\s+(\d+)", subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout, re.M)
    os.makedirs(ARTIFACTS, exist_ok=True)
    png_base = os.path.join(ARTIFACTS, "demo-report-page")
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", pdf, png_base], check=False)
    png = png_base + ".png"
    ok = os.path.exists(png) and os.path.getsize(png) > 30000
    n.check(ok, "1ページ目を画像にした", "its first page as a picture", png)
    kept = os.path.join(ARTIFACTS, "demo-report.pdf")
    shutil.copy(pdf, kept)
    rows = report_summary(open(os.path.join(folder, "report.html"), encoding="utf-8").read())
    html_text = open(os.path.join(folder, "report.html"), encoding="utf-8").read()
    n.check(CONTRACTOR in html_text and "確認欄" in html_text, "発注者・受注者・情報管理責任者と確認欄がある",
            "it names the issuer, the contractor and its responsible person, and has the sign-off box")
    SUBMISSION.update(pdf=kept, png=png, pages=pages.group(1) if pages else "?", rows=rows)


def dry_run():
    """No VM: the script imports, the host-side approver works (keygen/init/approve/sign/verify)."""
    n = Narrator()
    for f in (KYOKAD, POLICYCTL):
        if not os.access(f, os.X_OK):
            print(f"demo --dry-run: {f} missing (make all)")
            return 1
    work = tempfile.mkdtemp(prefix="kyoka-demo-")
    try:
        approver_prepares(n, ApproverDesk(work, n))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = n.results and all(n.results)
    print(f"demo --dry-run: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main():
    if "--dry-run" in sys.argv[1:]:
        return dry_run()
    n = Narrator()
    print("kyoka デモ / kyoka demo: 市の事前の書面による許可 (signed policy) なしには、記憶媒体・スマートフォン・\n"
          "ネットワーク機器は使えない。Without the city's prior written permission, no storage medium, phone or\n"
          "network device can be used. Every ✓ below is read from the kernel itself (authorized, /sys/block, dd).")
    for f in (KYOKAD, POLICYCTL):
        if not os.access(f, os.X_OK):
            print(f"{NG_MARK} {f} missing: run `make demo` (it builds first)\ndemo: FAIL")
            return 1
    work = tempfile.mkdtemp(prefix="kyoka-demo-")
    log_dir = None
    try:
        desk = ApproverDesk(work, n)
        approver_prepares(n, desk)
        # make_overlay wants the key as admin.pub; the guest keeps the approver's name for it.
        shutil.copy(desk.pub, os.path.join(desk.dir, "admin.pub"))
        # The workstation as the city knows it: a host name, a machine-id, Japan's time zone
        # (kyokad's records and the export show local time with its offset).
        extra = [("/usr/share/zoneinfo/Asia/Tokyo", "/etc/localtime")] \
            if os.path.exists("/usr/share/zoneinfo/Asia/Tokyo") else []
        with open(os.path.join(work, "machine-id"), "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        extra.append((os.path.join(work, "machine-id"), "/etc/machine-id"))
        if os.access(BLOCK_HELPER, os.X_OK):
            extra += [(BLOCK_HELPER, f"{GUEST_LIBEXECDIR}/kyoka-block-access")] + installed_rules_all(work)
        # ClamAV's clamd, as on a workstation with clamav-daemon (make deps installs it here).
        if os.access(CLAMD, os.X_OK) and os.access(SIGTOOL, os.X_OK):
            CLAMD_FILES.extend(clamd_overlay_files(work))
            extra += CLAMD_FILES
        overlay = make_overlay(work, desk, extra=extra)
        # A laptop's SD card reader with a card in it, there from boot (issue 14: every medium).
        card = stick_image(os.path.join(work, "card.img"), size_mb=16)
        qemu_extra = ["-device", "sdhci-pci,id=sdhci,bus=pcie.0",
                      "-drive", f"if=none,id=sd0,file={card},format=raw", "-device", "sd-card,drive=sd0,id=card0"]
        os.rename(os.path.join(overlay, "etc/kyoka/keys.d/admin.pub"), os.path.join(overlay, "etc/kyoka/keys.d/approver.pub"))
        with VM("demo", overlays=[overlay], extra_args=qemu_extra, mem=768) as vm:
            log_dir = vm.log_dir
            k = Kyokad(vm)
            try:
                boot_workstation(n, vm, k)
                for f in (lambda: approved_stick(n, vm), lambda: read_only_stick(n, vm, work),
                          lambda: unapproved_stick(n, vm), lambda: phone(n, vm, work), lambda: usb_nic(n, vm),
                          lambda: keyboard(n, vm), lambda: sd_card(n, vm), lambda: virus_check(n, vm, work),
                          lambda: request_approve_install(n, vm, k, desk, work), lambda: list_status(n, vm),
                          lambda: ledger_export(n, vm), lambda: submission_pdf(n, vm, work)):
                    try:
                        f()
                    except Exception as e:
                        n.check(False, "手順が途中で失敗", "step broke off", f"{type(e).__name__}: {e}")
                        traceback.print_exc()
                rc, _ = vm.run("pidof kyokad")
                n.check(rc == 0, "kyokad は最後まで動作", "kyokad ran throughout")
            finally:
                try:
                    with open(os.path.join(vm.log_dir, "kyokad.log"), "wb") as f:
                        f.write(vm.read_file(LOG))
                except Exception:
                    pass
    except Exception as e:
        n.check(False, "デモが中断", "the demo broke off", f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = n.results.count(False)
    took = time.monotonic() - n.t0
    print()
    if log_dir:
        print(f"logs (kyokad.log, console, commands): {log_dir}")
    if SUBMISSION:
        print("\n週次報告書 / the weekly submission (report.pdf, %s pages, A4):" % SUBMISSION["pages"])
        print(f"  PDF:                {SUBMISSION['pdf']}")
        print(f"  1ページ目 / page 1:  {SUBMISSION['png']}")
        print("  1. 概要 / summary:")
        for k, v in SUBMISSION["rows"]:
            print(f"    {k}: {v}")
    if failed or not n.results:
        print(f"demo: FAIL ({failed} of {len(n.results)} checks failed, {took:.0f} s) / 失敗")
        return 1
    print(f"demo: PASS ({len(n.results)} checks, {took:.0f} s) / 成功")
    return 0


if __name__ == "__main__":
    sys.exit(main())
