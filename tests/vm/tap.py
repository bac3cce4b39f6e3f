"""What every tests/vm/test-*.py prints: "ok - NAME" / "not ok - NAME" per check, "# " notes,
and the closing "NAME: N passed, N failed" line that tests/vm/run.sh adds up."""

import time

_results = []


def check(name, cond, detail=""):
    _results.append(bool(cond))
    detail = " ".join(str(detail).split())
    print(("ok - " if cond else "not ok - ") + name + (f"  # {detail}" if detail else ""), flush=True)
    return bool(cond)


def note(text):
    for line in str(text).splitlines() or [""]:
        print(f"# {line}", flush=True)


def summary(name, t0):
    """Prints the total time and the closing line; returns the exit status (no check is a failure)."""
    passed, failed = _results.count(True), _results.count(False)
    print(f"# total {time.monotonic() - t0:.1f} s")
    print(f"{name}: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0
