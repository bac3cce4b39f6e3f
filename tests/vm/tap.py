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


def run_cases(cases):
    """Runs each (name, function) of CASES in turn: an exception fails that case (a check named
    after it, with the traceback) and the next one runs; each case's time is noted."""
    import traceback
    for name, case in cases:
        ts = time.monotonic()
        try:
            case()
        except Exception as e:
            check(name, False, f"{type(e).__name__}: {e}")
            traceback.print_exc()
        note(f"{name}: {time.monotonic() - ts:.1f} s")
