#!/usr/bin/env python3
"""A NaN in a stage fails both checks and is named: `ppc verify` and check_stages.py.

max() over differences drops NaN (every comparison with it is false), so a check built on it
passes a stage that computes NaN. usage: nan_test.py PPC PYTHON_CHECKER_DIR MODEL IO WORK_DIR
"""
import os
import shutil
import subprocess
import sys

import torch

PPC, HERE, MODEL, IO, WORK = sys.argv[1:6]
failures = []


def expect_failure(name, args):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    text = proc.stdout + proc.stderr
    last = text.strip().splitlines()[-1:] if text.strip() else []
    ok = proc.returncode != 0 and "NaN" in "".join(last) and "max rel diff" not in "".join(last)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {proc.returncode}, {last}")
    if not ok:
        failures.append(name)


out = os.path.join(WORK, "nan_stages")
shutil.rmtree(out, ignore_errors=True)
subprocess.run([PPC, MODEL, "--split", "transformer.h.2:begin", "-o", out], check=True,
               capture_output=True)
stage = torch.jit.load(os.path.join(out, "stage1.pt"))
with torch.no_grad():
    dict(stage.named_parameters())["transformer.ln_f.weight"][0] = float("nan")
stage.save(os.path.join(out, "stage1.pt"))
expect_failure("ppc verify", [PPC, "verify", MODEL, out, "--inputs", IO])
expect_failure("check_stages.py", [sys.executable, os.path.join(HERE, "check_stages.py"), out, IO])
sys.exit(1 if failures else 0)
