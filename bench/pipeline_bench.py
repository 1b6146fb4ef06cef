#!/usr/bin/env python3
"""Benchmarks of ppc and pprun on the real 12-layer GPT-2 export; prints one JSON object a line.

usage: bench/pipeline_bench.py [--build build] [--model ../shared/models/gpt2-12l-lm.pt]

- pipeline: 2 stages, 2 Gloo processes with one intra-op thread each, M = 8: measured step time
  against the ideal (M+S-1)*t_slowest from per-stage times of the same run, and the speedup over
  the unpartitioned model in one process with one thread.
- overhead: per-microbatch runtime cost on the threads transport with stages that compute
  almost nothing (M = 64).
- partition: slowest measured stage of ppc --stages 4 --balance time against brute force over
  block boundaries, DeepSpeed-style uniform and parameter-count splits, all timed in one
  process one stage after another; predicted vs measured per-stage and step times.
- compile: time to partition vs time LibTorch needs to load and save the model.
Timings are machine-dependent; nothing here is a pass/fail test.
"""
import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

ap = argparse.ArgumentParser()
here = os.path.dirname(os.path.abspath(__file__))
ap.add_argument("--build", default=os.path.join(here, "..", "build"))
ap.add_argument("--model", default=os.path.join(here, "..", "..", "shared", "models", "gpt2-12l-lm.pt"))
args = ap.parse_args()
PPC = os.path.join(args.build, "tools", "ppc")
PPRUN = os.path.join(args.build, "tools", "pprun")
work = tempfile.mkdtemp(prefix="ppc-bench-")


def emit(**record):
    print(json.dumps(record), flush=True)


def sh(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    return proc


def compile_stages(name, flags):
    out = os.path.join(work, name)
    proc = sh([PPC, args.model, "-o", out, "--force", "--time-passes"] + flags)
    return out, proc


def run_report(stages, extra):
    report = os.path.join(work, os.path.basename(stages) + ".report.json")
    sh([PPRUN, stages, "--inputs", io, "--report", report] + extra)
    return json.load(open(report))


torch.manual_seed(0)
ids = torch.randint(0, 50257, (8, 64))
io = os.path.join(work, "batch8.io.pt")
torch.save({"inputs": (ids,)}, io)
# Example inputs are one microbatch, so that predicted stage times are per microbatch.
example = os.path.join(work, "example.io.pt")
torch.save({"inputs": (ids[:1],)}, example)
example4 = os.path.join(work, "example4.io.pt")
torch.save({"inputs": (ids[:4],)}, example4)

# Unpartitioned, one process, one thread.
torch.set_num_threads(1)
model = torch.jit.load(args.model).eval()
with torch.no_grad():
    model(ids)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        model(ids)
        times.append((time.perf_counter() - start) * 1e3)
baseline_ms = sorted(times)[2]

# pipeline: 2 stages over 2 Gloo processes.
two, proc2 = compile_stages("two", ["--stages", "2", "--example-inputs", example, "--print-plan"])
rep = run_report(two, ["--nproc", "2", "--microbatches", "8", "--schedule", "1f1b", "--steps", "5"])
emit(bench="pipeline", model=os.path.basename(args.model), stages=2, ranks=2, backend="gloo",
     microbatches=8, step_ms=rep["step_ms"], ideal_ms=rep["ideal_ms"],
     ideal_over_measured=rep["ideal_over_measured"], bubble=rep["bubble"],
     unpartitioned_1thread_ms=baseline_ms, speedup=baseline_ms / rep["step_ms"],
     per_stage_ms=[s["ms_per_microbatch"] for s in rep["per_stage"]])

# overhead: near-empty stages on threads.
sys.path.insert(0, os.path.join(here, "..", "tests", "e2e"))
import make_models  # noqa: E402
make_models.export("tuples", "script", work)
tiny = os.path.join(work, "tiny")
sh([PPC, os.path.join(work, "tuples_script.pt"), "--split", "layer1:begin", "-o", tiny, "--force"])
tiny_io = os.path.join(work, "tiny.io.pt")
torch.save({"inputs": (torch.randn(64, 8),)}, tiny_io)
tiny_report = os.path.join(work, "tiny.report.json")
sh([PPRUN, tiny, "--inputs", tiny_io, "--microbatches", "64", "--schedule", "gpipe", "--steps", "20",
    "--report", tiny_report])
t = json.load(open(tiny_report))
emit(bench="overhead", backend="threads", stages=2, microbatches=64,
     per_microbatch_us=t["step_ms"] * 1e3 / 64,
     runtime_overhead_us=t["runtime_overhead_ms_per_microbatch"] * 1e3,
     stage_compute_us=[s["compute_ms_per_microbatch"] * 1e3 for s in t["per_stage"]],
     note="two stages of 8-wide linears; overhead = step time not spent inside the models on "
          "the busiest rank, per microbatch")

# partition: chosen vs brute force vs baselines, each stage timed alone on one rank.
def measured_stage_ms(stages_dir, n):
    rep = run_report(stages_dir, ["--nproc", "1", "--backend", "threads", "--schedule", "gpipe",
                                  "--microbatches", "2", "--steps", "4"])
    return [s["ms_per_microbatch"] for s in rep["per_stage"]]

blocks = [f"transformer.h.{i}:begin" for i in range(1, 12)] + ["transformer.ln_f:begin", "lm_head:begin"]
regions_dir, _ = compile_stages("regions", ["--split", ",".join(blocks)])
regions = measured_stage_ms(regions_dir, len(blocks) + 1)
best = min(max(sum(regions[a:b]) for a, b in zip((0,) + cut, cut + (len(regions),)))
           for cut in itertools.combinations(range(1, len(regions)), 3))
results = {}
plan_pred = None
for name, flags in [("chosen", ["--stages", "4", "--balance", "time", "--example-inputs", example4,
                                "--print-plan"]),
                    ("uniform", ["--split", "transformer.h.3:begin,transformer.h.6:begin,transformer.h.9:begin"]),
                    ("params", ["--stages", "4", "--balance", "params", "--example-inputs", example4])]:
    d, proc = compile_stages("part_" + name, flags)
    per = measured_stage_ms(d, 4)
    results[name] = per
    if name == "chosen":
        plan_pred = [float(m.group(1)) + float(m.group(2)) for m in
                     re.finditer(r"^\s+\d+\s+([\d.]+)\s+([\d.]+)", proc.stdout, re.M)]
        phases = dict(re.findall(r"^\s+([\w-]+)\s+([\d.]+) ms$", proc.stderr, re.M))
emit(bench="partition", stages=4, balance="time", chosen_slowest_ms=max(results["chosen"]),
     brute_force_blocks_slowest_ms=best, chosen_over_brute=max(results["chosen"]) / best,
     uniform_slowest_ms=max(results["uniform"]), params_slowest_ms=max(results["params"]),
     chosen_per_stage_ms=results["chosen"], predicted_per_stage_ms=plan_pred,
     per_stage_prediction_error=[abs(p - m) / m for p, m in zip(plan_pred, results["chosen"])])
pred2 = [float(m.group(1)) + float(m.group(2)) for m in
         re.finditer(r"^\s+\d+\s+([\d.]+)\s+([\d.]+)", proc2.stdout, re.M)]
pred_step = (8 + 2 - 1) * max(pred2)
emit(bench="step_prediction", stages=2, microbatches=8, predicted_step_ms=pred_step,
     measured_step_ms=rep["step_ms"], error=abs(pred_step - rep["step_ms"]) / rep["step_ms"])
emit(bench="compile", load_ms=float(phases.get("load", 0)), emit_ms=float(phases.get("emit", 0)),
     measure_costs_ms=float(phases.get("measure-costs", 0)),
     choose_splits_ms=float(phases.get("choose-splits", 0)),
     partition_over_load_and_save=float(phases.get("choose-splits", 0)) /
     (float(phases.get("load", 1)) + float(phases.get("emit", 1))))
