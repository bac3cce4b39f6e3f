#!/usr/bin/env python3
"""policyctl on a large policy: `check`, `approve` and `revoke` with N USB permits (bench/run.sh).

The policy is what a city's approver edits: the canonical layout (as `policyctl` writes it) with
a comment above every hundredth entry, N entries of a few hundred models with one serial each,
the same fields bench/policy-bench.c writes (~420 bytes an entry: 100,000 entries are 40 MiB).
Each command runs RUNS times as a separate process, timed from exec to exit; approve and revoke
get a fresh copy of the file each time (the copy is not timed). approve adds a USB permit (the
text edit, the check of the result, the atomic replace with fsync); revoke removes an entry from
the middle of the file.

Prints one line per N, medians of wall time and of CPU time (user + system: what a loaded
machine does not inflate as much):
  policyctl n=100000 bytes=... runs=5 check_ms=... approve_ms=... revoke_ms=... check_cpu_ms=...
            approve_cpu_ms=... revoke_cpu_ms=...
Usage: bench/policyctl-bench.py BUILD [N...]   (default N: 1000 10000 100000)
"""

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(os.environ.get("POLICYCTL_BENCH_RUNS", "5"))


def policy(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write('# kyoka policy (docs/policy.md)\nkyoka_policy = 1;\nserial = 7;\n'
                'issued = "2026-11-20T10:15+09:00";\nissuer = "木更津市 総務部 情報政策課";\n'
                'contract = "令和8年度 契約第123号";\n\n'
                'defaults = {\n        usb_hid = "allow";\n        usb_hub = "allow";\n'
                '        usb_other = "block";\n        network = "block";\n};\n\nusb = (\n')
        for i in range(n):
            if i % 100 == 0:
                f.write(f"    # batch {i // 100}: 情報政策課 2026-11-20 決裁\n")
            f.write('    {\n'
                    f'        permit = "許可-2026-{i:06d}";\n'
                    f'        vendor = "{0x400 + i % 97:04x}";\n'
                    f'        product = "{0x1000 + i % 251:04x}";\n'
                    f'        serial = "4C53{i * 7919:016d}";\n'
                    '        interfaces = [ "08:06:50" ];\n'
                    '        access = "read-write";\n'
                    '        label = "SanDisk Ultra USB 3.0 32GB";\n'
                    '        approved_by = "情報政策課 山田 太郎";\n'
                    '        approved_on = "2026-11-20";\n'
                    '        valid_from = "2026-11-21";\n'
                    '        valid_until = "2027-03-31";\n'
                    '    }' + (",\n" if i < n - 1 else "\n"))
        f.write(");\n")


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv):
    """Wall and CPU (user + system) milliseconds of one run of ARGV."""
    c, t = cpu_children(), time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ms, cpu = (time.monotonic() - t) * 1000, (cpu_children() - c) * 1000
    if p.returncode != 0:
        sys.exit(f"policyctl-bench: {' '.join(argv[:2])} failed ({p.returncode}): {p.stderr.decode()[-500:]}")
    return ms, cpu


def bench(build, work, n):
    policyctl = os.path.join(build, "policyctl")
    src = os.path.join(work, f"policy-{n}.conf")
    policy(src, n)
    path = os.path.join(work, "policy.conf")
    check, approve, revoke = [], [], []
    for _ in range(RUNS):
        check.append(timed([policyctl, "check", src]))
        shutil.copyfile(src, path)
        approve.append(timed([policyctl, "approve", path, "--vendor", "0781", "--product", "5581",
                              "--serial", "BENCH0001", "--interfaces", "08:06:50", "--permit", "許可-2026-BENCH",
                              "--by", "情報政策課 山田 太郎", "--from", "2026-11-21", "--until", "2027-03-31"]))
        shutil.copyfile(src, path)
        revoke.append(timed([policyctl, "revoke", path, "--permit", f"許可-2026-{n // 2:06d}"]))
    def med(v, i):
        return statistics.median(x[i] for x in v)
    print(f"policyctl n={n} bytes={os.path.getsize(src)} runs={RUNS} check_ms={med(check, 0):.1f} "
          f"approve_ms={med(approve, 0):.1f} revoke_ms={med(revoke, 0):.1f} check_cpu_ms={med(check, 1):.1f} "
          f"approve_cpu_ms={med(approve, 1):.1f} revoke_cpu_ms={med(revoke, 1):.1f}", flush=True)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    sizes = [int(a) for a in sys.argv[2:]] or [1000, 10000, 100000]
    work = tempfile.mkdtemp(prefix="kyoka-policyctl-bench.")
    try:
        for n in sizes:
            bench(build, work, n)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
