#!/usr/bin/env python3
"""Does a long training run's memory stay flat? Prints one JSON object a line (issue 22).

usage: build/python3 bench/soak.py [--build build] [--steps 10000] [--backends threads,gloo,gloo-p2p]
                                   [--pprun PATH]   (another pprun binary, e.g. an older build)

The 3-stage tiny GPT-2 of tests/data (batch 4 x 16, M = 2) trained by `pprun --train --optimizer
adam` for --steps steps on 3 ranks. While it runs, the resident size (VmRSS) of every pprun
process is sampled every 0.2 s; the process whose RSS grows most is reported. Between a warm-up
(the first 20% of the run's samples) and the run's end (the last 5%: outputs and report being
written), RSS against time is fitted by least squares, and the
slope is turned into bytes per step by the run's own step rate (steps / wall time of the sampled
part). Also the first and the last RSS of that window. Target: under 1 KB a step.
Machine-dependent; nothing here is a test.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.path.join(here, "..", "build"))
ap.add_argument("--steps", type=int, default=10000)
ap.add_argument("--backends", default="threads,gloo,gloo-p2p")
ap.add_argument("--pprun", default=None)
args = ap.parse_args()
PPC = os.path.join(args.build, "tools", "ppc")
PPRUN = args.pprun or os.path.join(args.build, "tools", "pprun")
MODEL = os.path.join(here, "..", "tests", "data", "gpt2-tiny-lm.pt")
work = tempfile.mkdtemp(prefix="ppc-soak-")


def emit(**record):
    print(json.dumps(record), flush=True)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def pprun_pids(root):
    """root and its descendants that run pprun (the launcher and its rank processes)."""
    pids, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        pids.append(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                frontier += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def slope(points):
    """Least-squares slope of (t, y) points."""
    n = len(points)
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / var if var else 0.0


def prepare():
    ids = torch.randint(0, 1000, (4, 16), generator=torch.Generator().manual_seed(1))
    targets = torch.randint(0, 1000, (4, 16), generator=torch.Generator().manual_seed(2))
    inputs, tpath = os.path.join(work, "x.pt"), os.path.join(work, "y.pt")
    torch.save({"inputs": (ids,)}, inputs)
    torch.save(targets, tpath)
    stages = os.path.join(work, "stages")
    subprocess.run([PPC, MODEL, "--split", "transformer.h.1:begin,transformer.h.3:begin", "-o",
                    stages], check=True, capture_output=True)
    return stages, inputs, tpath


def soak(backend, stages, inputs, targets):
    report = os.path.join(work, f"{backend}.json")
    cmd = [PPRUN, stages, "--inputs", inputs, "--train", "--targets", targets, "--loss",
           "cross_entropy", "--optimizer", "adam", "--lr", "1e-4", "--microbatches", "2",
           "--steps", str(args.steps), "--nproc", "3", "--backend", backend,
           "--threads-per-rank", "1", "--log-every", str(args.steps), "--report", report]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples = {}  # pid -> [(t, rss bytes)]
    start = time.monotonic()
    while proc.poll() is None:
        now = time.monotonic() - start
        for pid in pprun_pids(proc.pid):
            kb = rss_kb(pid)
            if kb is not None:
                samples.setdefault(pid, []).append((now, kb * 1024))
        time.sleep(0.2)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        emit(bench="soak", backend=backend, error=proc.stderr.strip().splitlines()[-1:])
        return
    steps_per_s = args.steps / wall
    worst = None
    for pid, points in samples.items():
        steady = points[len(points) // 5:len(points) * 19 // 20]
        if len(steady) < 10:
            continue
        per_step = slope(steady) / steps_per_s
        if worst is None or per_step > worst[0]:
            worst = (per_step, steady[0][1], steady[-1][1], len(steady))
    if worst is None:
        emit(bench="soak", backend=backend, error="too few RSS samples: run more --steps")
        return
    emit(bench="soak", backend=backend, steps=args.steps, wall_s=round(wall, 1),
         processes=len(samples), bytes_per_step=round(worst[0], 1),
         rss_after_warmup_mb=round(worst[1] / 2**20, 1), rss_end_mb=round(worst[2] / 2**20, 1),
         samples=worst[3], pprun=PPRUN)


def main():
    stages, inputs, targets = prepare()
    for backend in args.backends.split(","):
        soak(backend, stages, inputs, targets)


if __name__ == "__main__":
    sys.exit(main())
