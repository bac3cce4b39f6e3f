#!/usr/bin/env python3
"""kyoka on a fleet (issue 18): the Ansible role, records in real time to a journal collector,
the weekly exports collected and verified. Everything on this machine, no real network:

- the workstation: the Debian 12 root with systemd of test-systemd.py (build-systemd-root.sh,
  cached; it has openssh-server, systemd-journal-remote and python3-apt), booted in QEMU with
  user-mode networking in `restrict=on` mode: the guest reaches nothing but what is forwarded.
  Its SSH port is forwarded to the host's loopback (hostfwd); 10.0.2.100:19532 in the guest is
  the collector (guestfwd, one socat per connection to the collector's loopback port);
- the Ansible control node: this host, Debian's ansible-playbook with packaging/ansible's role,
  over SSH with a key made for this run;
- the collector: systemd-journal-remote on 127.0.0.1, HTTPS with a CA made for this run (the
  guest checks the collector's certificate; Debian 12's journal-remote cannot check clients');
- the city: policyctl collect on the exports the role's collect tasks fetched.

Cases: the role applied (changed), applied again (nothing changed); kyokad's decisions arrive
in the collector with their fields and are queried by field; the time from a decision to its
record in the collector (measured); the collector down for a while, decisions meanwhile, the
collector back: every record arrives (journal-upload's cursor); check mode with a new policy
shows install's --dry-run and changes nothing, the real run installs it (changed=1: the
policy alone); the export delivered to the role's drop directory, fetched, `policyctl collect` good.

Prints "ok - NAME" / "not ok - NAME" and finally "fleet: N passed, N failed".
"""

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from vm import VM  # noqa: E402
from tap import check, note, summary  # noqa: E402
from kyoka_guest import BUILD, POLICYCTL, Approver, has_usb  # noqa: E402

DEB_DIR = os.environ.get("KYOKA_DEB_DIR", os.path.join(BUILD, "deb"))
ROLE_DIR = os.path.join(TOP, "packaging", "ansible")
NIC_MAC = "52:54:00:4b:59:f1"
COLLECTOR_IP = "10.0.2.100"     # in the guest; guestfwd hands it to the host's loopback
COLLECTOR_NAME = "collector.kyoka.test"
HOSTNAME = "ws-01"
USB_DECISION = "600e48a098cf489b9e8ef701cf5e680b"   # KYOKA_MESSAGE_USB_DECISION (daemon/recorder.h)
EXPORT_DIR = "/var/spool/kyoka-exports"              # the role's drop directory for the test
CMD_UNIT = """[Unit]
Description=kyoka test: vm.py's command channel on ttyS1 (tests/vm/test-fleet.py)
After=multi-user.target

[Service]
Type=exec
ExecStart=/usr/local/lib/kyoka-test/cmdchannel /dev/ttyS1
StandardInput=null
StandardOutput=journal

[Install]
WantedBy=multi-user.target
"""


def sh(*argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {(p.stderr or p.stdout).strip()[-800:]}")
    return p.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pki(d):
    """A CA, the collector's certificate (its name and the guest's forwarded address) and the
    workstation's client certificate."""
    os.makedirs(d)
    ossl = ["openssl"]

    def p(n):
        return os.path.join(d, n)
    sh(*ossl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kyoka fleet test CA",
       "-keyout", p("ca.key"), "-out", p("ca.pem"))
    for name, san in (("collector", f"DNS:{COLLECTOR_NAME},IP:{COLLECTOR_IP},IP:127.0.0.1"), (HOSTNAME, f"DNS:{HOSTNAME}")):
        sh(*ossl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", p(f"{name}.key"),
           "-out", p(f"{name}.csr"))
        with open(p(f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\n")
        sh(*ossl, "x509", "-req", "-in", p(f"{name}.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
           "-CAcreateserial", "-days", "2", "-extfile", p(f"{name}.ext"), "-out", p(f"{name}.pem"))
    return p


class Collector:
    """systemd-journal-remote on 127.0.0.1:PORT (HTTPS), writing to DIR; stopped and started again
    by the outage case. Debian 12's build has no --trust (it is built without GnuTLS: "Option
    --trust is not available"), so it cannot check the workstations' client certificates; the
    workstation checks the collector's certificate against the CA."""

    def __init__(self, pki, out, port):
        self.pki, self.out, self.port, self.proc = pki, out, port, None
        os.makedirs(out, exist_ok=True)

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.out), "journal-remote.log"), "a")
        self.proc = subprocess.Popen(
            ["/lib/systemd/systemd-journal-remote", f"--listen-https=127.0.0.1:{self.port}",
             f"--key={self.pki('collector.key')}", f"--cert={self.pki('collector.pem')}",
             "--split-mode=host", f"--output={self.out}/"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("systemd-journal-remote does not listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def query(self, *matches):
        """The collector's entries matching MATCHES (journalctl field matches), as dicts."""
        p = subprocess.run(["journalctl", f"--directory={self.out}", "-o", "json", "--no-pager", *matches],
                           capture_output=True, text=True)
        return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def make_disk(img, work, ssh_pub):
    root = os.path.join(work, "root")
    os.makedirs(root)
    sh("tar", "-C", root, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xzf",
       os.path.join(img, "root.tar.gz"))
    os.makedirs(os.path.join(root, "usr/local/lib/kyoka-test"), exist_ok=True)
    shutil.copy(os.path.join(HERE, "cmdchannel"), os.path.join(root, "usr/local/lib/kyoka-test/cmdchannel"))
    os.chmod(os.path.join(root, "usr/local/lib/kyoka-test/cmdchannel"), 0o755)
    with open(os.path.join(root, "etc/systemd/system/kyoka-test-cmd.service"), "w") as f:
        f.write(CMD_UNIT)
    sh("systemctl", f"--root={root}", "enable", "kyoka-test-cmd.service")
    with open(os.path.join(root, "etc/hostname"), "w") as f:
        f.write(HOSTNAME + "\n")
    # The control node's key for root (made for this run).
    os.makedirs(os.path.join(root, "root/.ssh"), mode=0o700, exist_ok=True)
    shutil.copy(ssh_pub, os.path.join(root, "root/.ssh/authorized_keys"))
    os.chmod(os.path.join(root, "root/.ssh/authorized_keys"), 0o600)
    # The e1000e gets its address from slirp's DHCP (the root has no network manager).
    os.makedirs(os.path.join(root, "etc/systemd/network"), exist_ok=True)
    with open(os.path.join(root, "etc/systemd/network/50-e1000e.network"), "w") as f:
        f.write(f"[Match]\nMACAddress={NIC_MAC}\n\n[Network]\nDHCP=ipv4\n")
    sh("systemctl", f"--root={root}", "enable", "systemd-networkd.service")
    disk = os.path.join(work, "disk.img")
    sh("mkfs.ext4", "-q", "-F", "-L", "kyoka-root", "-E", "root_owner=0:0", "-d", root, disk, "2G")
    shutil.rmtree(root)
    return disk


class Ansible:
    def __init__(self, work, ssh_key, ssh_port, extra_vars):
        self.dir = os.path.join(work, "ansible")
        os.makedirs(self.dir)
        self.inventory = os.path.join(self.dir, "inventory")
        with open(self.inventory, "w") as f:
            f.write("[kyoka_workstations]\n"
                    f"{HOSTNAME} ansible_host=127.0.0.1 ansible_port={ssh_port} ansible_user=root "
                    f"ansible_ssh_private_key_file={ssh_key} ansible_python_interpreter=/usr/bin/python3\n")
        self.vars = os.path.join(self.dir, "vars.json")
        with open(self.vars, "w") as f:
            json.dump(extra_vars, f)
        cfg = os.path.join(self.dir, "ansible.cfg")
        with open(cfg, "w") as f:
            f.write(f"[defaults]\nroles_path = {ROLE_DIR}/roles\nhost_key_checking = False\n"
                    "stdout_callback = default\nretry_files_enabled = False\n"
                    "[ssh_connection]\nssh_args = -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no "
                    "-o ControlMaster=auto -o ControlPersist=60s\npipelining = True\n")
        self.env = dict(os.environ, ANSIBLE_CONFIG=cfg, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                        ANSIBLE_LOCAL_TEMP=os.path.join(self.dir, "tmp"), HOME=self.dir)
        self.n = 0

    def play(self, playbook, *args):
        """(exit status, {ok, changed, failed, ...} of the workstation, output)."""
        self.n += 1
        t = time.monotonic()
        p = subprocess.run(["ansible-playbook", "-i", self.inventory, "-e", f"@{self.vars}",
                            os.path.join(ROLE_DIR, playbook), *args],
                           capture_output=True, text=True, env=self.env, timeout=900)
        out = p.stdout + p.stderr
        with open(os.path.join(self.dir, f"run-{self.n}.log"), "w") as f:
            f.write(out)
        m = re.search(rf"^{re.escape(HOSTNAME)}\s*:\s*(.*)$", out, re.M)
        recap = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))) if m else {}
        recap["seconds"] = round(time.monotonic() - t, 1)
        return p.returncode, recap, out


def guest_clock_offset(vm):
    """Guest realtime minus host realtime, in seconds (midpoint of a round trip, about 0.05 s)."""
    best = None
    for _ in range(5):
        t0 = time.time()
        rc, out = vm.run("date +%s.%N")
        t1 = time.time()
        off = float(out.strip()) - (t0 + t1) / 2
        if best is None or t1 - t0 < best[0]:
            best = (t1 - t0, off)
    return best[1], best[0]


def guest_kyoka_entries(vm):
    rc, out = vm.run("journalctl -o json --no-pager _SYSTEMD_UNIT=kyokad.service + SYSLOG_IDENTIFIER=kyokad "
                     "| grep KYOKA_EVENT", timeout=60)
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def key_of(e):
    return (e.get("__REALTIME_TIMESTAMP"), e.get("KYOKA_EVENT"), e.get("KYOKA_SUBJECT"), e.get("MESSAGE"))


def main():
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="kyoka-fleet-")
    collector = None
    try:
        debs = sorted(f for f in os.listdir(DEB_DIR) if f.endswith(".deb") and "dbgsym" not in f
                      and (f.startswith("kyoka_") or f.startswith("kyoka-approver_")))
        # kyoka-approver first: kyoka depends on it.
        debs = [os.path.join(DEB_DIR, f) for f in sorted(debs, key=lambda f: not f.startswith("kyoka-approver_"))]
        if len(debs) != 2:
            raise RuntimeError(f"{DEB_DIR}: no kyoka and kyoka-approver .deb: run make deb")
        p = subprocess.run([os.path.join(HERE, "build-systemd-root.sh")], stdout=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError("build-systemd-root.sh failed")
        img = p.stdout.strip().splitlines()[-1]
        note(f"root: {img} ({time.monotonic() - t0:.1f} s)")

        # The approver: one fleet policy for ws-01 and ws-02, the NIC approved by its MAC (it
        # carries the SSH session: install refuses a policy that would cut it), one stick.
        approver = Approver(work)
        text = approver.text()
        text = re.sub(r"^network = \(", f'workstation = [ "{HOSTNAME}", "ws-02" ];\n'
                      f'network = (\n    {{ permit = "P-NIC"; mac = "{NIC_MAC}"; approved_by = "fleet test"; '
                      f'approved_on = "2026-01-01"; }}', text, count=1, flags=re.M)
        with open(approver.policy, "w") as f:
            f.write(text)
        approver.approve_usb("FLEET-OK", "P-OK")
        approver.sign()
        serial1 = re.search(r"serial\s*=\s*(\d+)", approver.text()).group(1)

        pki = make_pki(os.path.join(work, "pki"))
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(work, "id_ed25519"))
        disk = make_disk(img, work, os.path.join(work, "id_ed25519.pub"))
        ssh_port, coll_port = free_port(), free_port()
        collector = Collector(pki, os.path.join(work, "collector", "journal"), coll_port)
        collector.start()
        net = (f"user,id=nic0,restrict=on,hostfwd=tcp:127.0.0.1:{ssh_port}-:22,"
               f"guestfwd=tcp:{COLLECTOR_IP}:19532-cmd:socat STDIO TCP:127.0.0.1:{coll_port}")
        extra = ["-drive", f"file={disk},if=virtio,format=raw,cache=unsafe",
                 "-netdev", net, "-device", f"e1000e,netdev=nic0,mac={NIC_MAC}"]
        ansible = Ansible(work, os.path.join(work, "id_ed25519"), ssh_port, {
            "kyoka_debs": debs,
            "kyoka_keys": [os.path.join(approver.dir, "admin.pub")],
            "kyoka_policy": approver.policy,
            "kyoka_export_dir": EXPORT_DIR,
            "kyoka_journal_upload_url": f"https://{COLLECTOR_NAME}:19532",
            "kyoka_journal_upload_key": pki(f"{HOSTNAME}.key"),
            "kyoka_journal_upload_cert": pki(f"{HOSTNAME}.pem"),
            "kyoka_journal_upload_trust": pki("ca.pem"),
            "kyoka_journal_upload_retry": "2s",
            "kyoka_hosts_entries": [f"{COLLECTOR_IP} {COLLECTOR_NAME}"],
            "kyoka_collect_dir": os.path.join(work, "city"),
        })
        cmdline = ["root=/dev/vda", "systemd.show_status=false", "usb-storage.delay_use=0",
                   "usbcore.authorized_default=0"]
        with VM("fleet", image_dir=img, cmdline=cmdline, mem=768, boot_timeout=240, extra_args=extra,
                quiet=not os.environ.get("KYOKA_VM_VERBOSE")) as vm:
            check("the workstation boots (systemd, sshd; user-mode network restricted to the forwards)", True,
                  f"{vm.boot_seconds:.1f} s; logs {vm.log_dir}")
            try:
                cases(vm, ansible, approver, collector, serial1, work)
            finally:
                try:
                    with open(os.path.join(vm.log_dir, "journal.txt"), "w") as f:
                        f.write(vm.run("journalctl -b --no-pager -o short-monotonic", timeout=60)[1])
                    for f in os.listdir(ansible.dir):
                        if f.endswith(".log"):
                            shutil.copy(os.path.join(ansible.dir, f), vm.log_dir)
                    shutil.copy(collector.log.name, vm.log_dir)
                except Exception:
                    pass
    except Exception as e:
        check("fleet", False, f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        if collector:
            collector.stop()
        shutil.rmtree(work, ignore_errors=True)
    return summary("fleet", t0)


def cases(vm, ansible, approver, collector, serial1, work):
    # --- the role, applied and applied again -------------------------------------------------
    ok = vm.wait_for("systemctl is-active -q ssh.service", timeout=60) is not None
    check("sshd is active in the guest", ok)
    rc, recap, out = ansible.play("site.yml")
    check(f"ansible-playbook site.yml: the role applied (changed={recap.get('changed')}, {recap['seconds']} s)",
          rc == 0 and recap.get("failed") == 0 and recap.get("changed", 0) > 0, out[-1500:] if rc else recap)
    if rc != 0:
        return      # nothing below can work without the role (its log: the VM's log directory)
    rc, st = vm.run("policyctl status; systemctl is-active kyokad.service systemd-journal-upload.service "
                    "kyoka-export.timer; ls /etc/kyoka/keys.d")
    check(f"... kyokad active with the fleet policy (serial {serial1}), the key installed, journal-upload active",
          f"serial {serial1}," in st and st.count("\nactive") + st.startswith("active") >= 3 and "admin.pub" in st,
          " ".join(st.split())[:400])
    rc, recap, out = ansible.play("site.yml")
    check(f"... applied again: nothing changed (changed={recap.get('changed')}, {recap['seconds']} s)",
          rc == 0 and recap.get("changed") == 0 and recap.get("failed") == 0, out[-1500:] if rc else recap)

    # --- records in real time ----------------------------------------------------------------
    t = time.monotonic()
    got = None
    while time.monotonic() - t < 60 and not got:
        got = collector.query("KYOKA_EVENT=loaded", f"_HOSTNAME={HOSTNAME}")
        time.sleep(0.2)
    check("the collector has kyokad's policy record, queried by field (KYOKA_EVENT=loaded _HOSTNAME=ws-01)",
          bool(got), f"{len(got or [])} entries; {(got or [{}])[-1].get('MESSAGE', '')[:160]}")
    off, rtt = guest_clock_offset(vm)
    note(f"guest clock - host clock: {off:+.3f} s (round trip {rtt * 1000:.0f} ms)")
    lat = []
    for i in range(5):
        serial = f"FLEET-NO-{i}"
        vm.plug_usb_storage(f"no{i}", serial, port="2")
        seen = None
        t = time.monotonic()
        while time.monotonic() - t < 30:
            e = collector.query(f"MESSAGE_ID={USB_DECISION}", "KYOKA_EVENT=connected", f"KYOKA_SERIAL={serial}")
            if e:
                seen = (time.time(), e[0])
                break
            time.sleep(0.02)
        if seen:
            decided = int(seen[1]["__REALTIME_TIMESTAMP"]) / 1e6 - off   # host clock
            lat.append(seen[0] - decided)
        vm.unplug(f"no{i}")
    e = collector.query(f"MESSAGE_ID={USB_DECISION}", "KYOKA_SERIAL=FLEET-NO-0")
    e0 = e[0] if e else {}
    keys = sorted(k for k in e0 if k.startswith("KYOKA_"))
    check("decisions arrive with kyokad's fields, queried by field (MESSAGE_ID=<usb decision> "
          "KYOKA_EVENT=connected KYOKA_SERIAL=...)", len(lat) == 5 and "KYOKA_SUBJECT" in keys,
          f"{len(lat)}/5; " + " ".join(f"{k}={e0[k]}" for k in keys)[:400])
    if lat:
        check(f"decision to collector: median {statistics.median(lat):.2f} s, max {max(lat):.2f} s "
              f"(5 blocked sticks; {' '.join(f'{x:.2f}' for x in lat)})", max(lat) < 10, "")

    # --- the collector down for a while ------------------------------------------------------
    collector.stop()
    rc, n0 = vm.run("systemctl show -P NRestarts systemd-journal-upload.service")
    for i in range(3):
        vm.plug_usb_storage(f"down{i}", f"FLEET-DOWN-{i}", port="2")
        vm.wait_for(has_usb("2"), timeout=20)
        time.sleep(1)
        vm.unplug(f"down{i}")
    time.sleep(20)    # about 10 failed tries of journal-upload at RestartSec=2s
    rc, st = vm.run("systemctl show -P NRestarts systemd-journal-upload.service; "
                    "systemctl show -P ActiveState systemd-journal-upload.service")
    n1, state = (st.split() + ["?", "?"])[:2]
    check(f"collector down 25 s: journal-upload keeps trying (NRestarts {n0.strip()} -> {n1}, {state}), never gives up",
          n1.isdigit() and int(n1) > int(n0.strip() or 0) and state != "failed", st)
    down_guest = [x for x in guest_kyoka_entries(vm) if "FLEET-DOWN" in x.get("KYOKA_SERIAL", "")]
    check("... kyokad decided meanwhile (6 records of 3 sticks in the workstation's journal)", len(down_guest) >= 6,
          f"{len(down_guest)}")
    t_back = time.monotonic()
    collector.start()
    want = set(key_of(x) for x in guest_kyoka_entries(vm))
    have = set()
    while time.monotonic() - t_back < 60:
        have = set(key_of(x) for x in collector.query(f"_HOSTNAME={HOSTNAME}") if "KYOKA_EVENT" in x)
        if want <= have:
            break
        time.sleep(0.5)
    missing = want - have
    check(f"collector back: every kyoka record of the workstation arrives ({len(want)}; "
          f"{time.monotonic() - t_back:.1f} s after the restart), none lost, none twice",
          not missing and len(collector.query("KYOKA_SERIAL=FLEET-DOWN-0")) == 2,
          f"missing {len(missing)}: {sorted(missing)[:3]}")

    # --- check mode with a new policy, then applied ------------------------------------------
    approver.approve_usb("FLEET-NEW", "P-NEW")
    approver.sign()
    serial2 = re.search(r"serial\s*=\s*(\d+)", approver.text()).group(1)
    rc, recap, out = ansible.play("site.yml", "--check")
    rc2, st = vm.run("policyctl status")
    check(f"--check with serial {serial2}: reports a change and shows install's --dry-run; serial {serial1} "
          "still in force", rc == 0 and recap.get("changed", 0) >= 1 and "would be installed" in out
          and f"serial {serial1}," in st, (out[-1200:] if rc else recap, " ".join(st.split())[:200]))
    rc, recap, out = ansible.play("site.yml")
    rc2, st = vm.run("policyctl status")
    check(f"... applied: serial {serial2} in force (changed={recap.get('changed')})",
          rc == 0 and recap.get("changed") == 1 and f"serial {serial2}," in st,
          (out[-1200:] if rc else recap, " ".join(st.split())[:200]))

    # --- the weekly export, collected and verified -------------------------------------------
    rc, out = vm.run("systemctl start kyoka-export.service && find " + EXPORT_DIR + " -name MANIFEST", timeout=180)
    check(f"kyoka-export.service delivers to the role's drop directory {EXPORT_DIR}", rc == 0 and "MANIFEST" in out,
          out.strip()[-300:])
    rc, recap, out = ansible.play("collect.yml")
    city = os.path.join(work, "city")
    check("collect.yml fetches the exports and export.pub to the control node",
          rc == 0 and os.path.exists(os.path.join(city, "keys", f"{HOSTNAME}.pub")),
          out[-1200:] if rc else recap)
    p = subprocess.run([POLICYCTL, "collect", "--keys", os.path.join(city, "keys"), "--out",
                        os.path.join(city, "summary"), "--no-pdf", os.path.join(city, "exports")],
                       capture_output=True, text=True)
    check("the city: policyctl collect verifies them (exit 0)", p.returncode == 0,
          " ".join((p.stdout + p.stderr).split())[-400:])


if __name__ == "__main__":
    sys.exit(main())
