"""What the Python test scripts share: one line per case, subprocesses that explain failures,
and the closing 'N passed, N failed' line ctest's output is read for."""
import os
import subprocess
import sys


class Cases:
    def __init__(self):
        self.results = []

    def report(self, name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}", flush=True)
        self.results.append(bool(ok))

    def finish(self):
        passed = sum(self.results)
        print(f"{passed} passed, {len(self.results) - passed} failed")
        sys.exit(0 if self.results and all(self.results) else 1)


def run(args, timeout=600):
    """Runs a command; raises with the end of its stderr when it fails."""
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{os.path.basename(args[0])} failed: {proc.stderr.strip()[-400:]}")
    return proc
