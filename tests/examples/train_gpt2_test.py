#!/usr/bin/env python3
"""examples/train-gpt2 end to end, small: run.sh (KJV tokens, export, ppc, torchrun) for a few steps.

usage: train_gpt2_test.py BUILD_DIR WORK_DIR
A 2-layer model, 30 steps: the loss must fall well below its start (ln 256 = 5.55 for uniform
bytes), loss.csv must hold one row per step with finite values, loss.png must be a PNG, and the
trained stages must load with plain torch.jit.load and give the logits' shape. One line per case.
"""
import csv
import math
import os
import subprocess
import sys

import torch

BUILD, WORK = sys.argv[1:3]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
STEPS = 30
passed, failed = 0, []


def report(name, ok, detail=""):
    global passed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if ok:
        passed += 1
    else:
        failed.append(name)


env = dict(os.environ, BUILD_DIR=os.path.abspath(BUILD), WORK=WORK, LAYERS="2", EMBD="64",
           HEADS="2", SEQ="64", BATCH="8", MICROBATCHES="2")
proc = subprocess.run([os.path.join(ROOT, "examples", "train-gpt2", "run.sh"), "--steps",
                       str(STEPS), "--warmup", "5", "--lr", "3e-3", "--sample", "8"],
                      env=env, capture_output=True, text=True, timeout=600)
report("run.sh exits 0", proc.returncode == 0, (proc.stdout + proc.stderr)[-1500:])

rows = []
try:
    with open(os.path.join(WORK, "loss.csv")) as f:
        rows = list(csv.DictReader(f))
except OSError as e:
    report("loss.csv exists", False, str(e))
losses = [float(r["loss"]) for r in rows]
report("loss.csv: one row per step, finite", len(rows) == STEPS and
       all(math.isfinite(x) for x in losses) and [int(r["step"]) for r in rows] == list(range(STEPS)),
       f"{len(rows)} rows")
first, last = (losses[0], sum(losses[-5:]) / 5) if len(losses) >= 5 else (math.nan, math.nan)
report("the loss falls (mean of the last 5 steps below 0.8 x the first)", last < 0.8 * first,
       f"{first} -> {last}")

png = os.path.join(WORK, "loss.png")
head = open(png, "rb").read(8) if os.path.exists(png) else b""
report("loss.png is a PNG", head == b"\x89PNG\r\n\x1a\n", repr(head))

trained = os.path.join(WORK, "trained")
try:
    import json
    stages = json.load(open(os.path.join(trained, "pipeline.json")))["stages"]
    mods = [torch.jit.load(os.path.join(trained, s["file"])) for s in stages]
    ids = torch.randint(0, 256, (2, 64))
    with torch.no_grad():
        hidden = mods[0](ids)
        logits = mods[1](*hidden) if isinstance(hidden, tuple) else mods[1](hidden)
        logits = logits[0] if isinstance(logits, tuple) else logits
    report("trained stages load with torch.jit.load and chain to (2, 64, 256) logits",
           len(mods) == 2 and tuple(logits.shape) == (2, 64, 256), str(tuple(logits.shape)))
except Exception as e:  # any failure here is the check failing, named
    report("trained stages load with torch.jit.load", False, f"{type(e).__name__}: {e}")

print(f"{passed} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
