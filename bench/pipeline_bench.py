#!/usr/bin/env python3
"""Benchmarks of ppc and pprun; prints one JSON object a line.

usage: bench/pipeline_bench.py [--build build] [--model ../shared/models/gpt2-12l-lm.pt]
                               [--only pipeline,zero-bubble,overhead,partition,compile]

- pipeline: the real 12-layer GPT-2, 2 stages, 2 Gloo processes with one intra-op thread each,
  M = 8: measured step time against the lower bound sum_s t_s + (M-1) max_s t_s from the
  per-stage times of the same run (efficiency = bound / measured <= 1), and the speedup over
  the unpartitioned model in one process with one thread.
- zero-bubble: training, ZB-H1 against 1F1B: per stage F, B, I and W ms per microbatch (I + W
  against the fused B), step time and measured bubble; on gpt2-12l-lm (2 stages, M = 8) and on a
  balanced model (8 GPT-2 blocks on hidden states in two equal halves, M = 2S; threads with W
  filling waits and in static order, gloo-p2p, gloo; the median of five runs), each beside a
  replay of the two action lists with the run's per-stage action times and free transfers, and
  a replay of each measured step with every action's own time in the order it ran
  (bench/replay.py); and I + W against B for one stage alone (build/bench/split_backward_bench).
- overhead: per-microbatch runtime cost on the threads transport with stages that compute
  almost nothing (M = 64).
- partition: on models whose blocks are the work (GPT-2 blocks without the 50257-word head, and
  ResNet-50), the slowest measured stage of ppc --stages 4 --balance time against brute force
  over block boundaries (every block timed as its own stage), DeepSpeed-style uniform and
  parameter-count splits, all timed one stage after another in one process; predicted vs
  measured per-stage times.
- compile: time to partition vs time LibTorch needs to load and save the model; and the wall time
  of `ppc --stages 4` on the model against a bare LibTorch load + save process (median of 7).
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
ap.add_argument("--only", default="pipeline,zero-bubble,overhead,partition,compile")
args = ap.parse_args()
ONLY = set(args.only.split(","))
PPC = os.path.join(args.build, "tools", "ppc")
PPRUN = os.path.join(args.build, "tools", "pprun")
work = tempfile.mkdtemp(prefix="ppc-bench-")
sys.path.insert(0, os.path.join(here, "..", "tests", "e2e"))
sys.path.insert(0, here)
import make_models  # noqa: E402
import replay  # noqa: E402


def emit(**record):
    print(json.dumps(record), flush=True)


def sh(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    return proc


def compile_stages(name, model, flags):
    out = os.path.join(work, name)
    proc = sh([PPC, model, "-o", out, "--time-passes"] + flags)
    return out, proc


def run_report(stages, io, extra, trace=False):
    """pprun's report of one run; with `trace`, the path of its trace under "trace_file"."""
    base = os.path.join(work, os.path.basename(stages) + f".{len(os.listdir(work))}")
    traced = ["--trace", base + ".trace.json"] if trace else []
    sh([PPRUN, stages, "--inputs", io, "--report", base + ".report.json"] + traced + extra)
    rep = json.load(open(base + ".report.json"))
    if trace:
        rep["trace_file"] = base + ".trace.json"
    return rep


def save_inputs(name, *inputs):
    path = os.path.join(work, name + ".io.pt")
    torch.save({"inputs": inputs}, path)
    return path


def plan_times(stdout):
    """Predicted compute + comm ms per stage from --print-plan."""
    return [float(m.group(1)) + float(m.group(2))
            for m in re.finditer(r"^\s+\d+\s+([\d.]+)\s+([\d.]+)", stdout, re.M)]


torch.manual_seed(0)
ids = torch.randint(0, 50257, (8, 64))
io = save_inputs("batch8", ids)
# Example inputs are one microbatch, so that predicted stage times are per microbatch.
example = save_inputs("example", ids[:1])
two, proc2 = compile_stages("two", args.model, ["--stages", "2", "--example-inputs", example,
                                                "--print-plan"])

if "pipeline" in ONLY:
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
    rep = run_report(two, io, ["--nproc", "2", "--microbatches", "8", "--schedule", "1f1b",
                               "--steps", "5"])
    emit(bench="pipeline", model=os.path.basename(args.model), stages=2, ranks=2, backend="gloo",
         microbatches=8, step_ms=rep["step_ms"], bound_ms=rep["bound_ms"], bound=rep["bound"],
         efficiency=rep["efficiency"], bubble=rep["bubble"], unpartitioned_1thread_ms=baseline_ms,
         speedup=baseline_ms / rep["step_ms"],
         per_stage_ms=[s["ms_per_microbatch"] for s in rep["per_stage"]])
    pred2 = plan_times(proc2.stdout)
    pred_step = sum(pred2) + (8 - 1) * max(pred2)
    emit(bench="step_prediction", stages=2, microbatches=8, predicted_step_ms=pred_step,
         measured_step_ms=rep["step_ms"], error=abs(pred_step - rep["step_ms"]) / rep["step_ms"])


def median_run(stages, io, extra, runs, trace=False):
    """The run with the median step time of `runs` (the machine's noise is per run)."""
    reps = sorted((run_report(stages, io, extra, trace) for _ in range(runs)),
                  key=lambda r: r["step_ms"])
    return reps[len(reps) // 2]


def action_lists(stages, io, targets, loss, m, schedule):
    """The schedule's action lists per rank, from pprun --print-schedule."""
    proc = sh([PPRUN, stages, "--inputs", io, "--microbatches", str(m), "--schedule", schedule,
               "--train", "--targets", targets, "--loss", loss, "--print-schedule"])
    return replay.parse_grid(proc.stdout + proc.stderr)


def training_compare(label, stages, io, targets, loss, m, runs=1, backend="gloo", steps=4,
                     static_order=False):
    """ZB-H1 against 1F1B on 2 ranks: per-stage action times, step time and bubble, and the
    bubble each schedule would have with the same action times and free transfers (replay)."""
    out, ideal, own = {}, {}, {}
    ranks = ["--nproc", "2", "--backend", backend] if backend != "threads" else []
    ranks += ["--static-order"] if static_order else []
    for schedule in ("1f1b", "zero-bubble"):
        out[schedule] = median_run(stages, io, ranks + [
            "--microbatches", str(m), "--schedule", schedule, "--steps", str(steps),
            "--train", "--targets", targets, "--loss", loss, "--optimizer", "sgd", "--lr", "0"],
            runs, trace=True)
        lists = action_lists(stages, io, targets, loss, m, schedule)
        ideal[schedule] = replay.replay(lists, out[schedule]["per_stage"])
        own[schedule] = replay.replay_trace(out[schedule]["trace_file"])
    fused = [s["backward_ms"] for s in out["1f1b"]["per_stage"]]
    split = [s["input_grad_ms"] + s["weight_grad_ms"] for s in out["zero-bubble"]["per_stage"]]
    emit(bench="zero-bubble", model=label, stages=2, ranks=2, backend=backend, microbatches=m,
         order="static" if static_order or backend == "gloo" else "W fills waits", runs=runs, steps=steps, fused_backward_ms=fused, input_plus_weight_grad_ms=split,
         split_over_fused=[b / a for a, b in zip(fused, split)],
         input_grad_ms=[s["input_grad_ms"] for s in out["zero-bubble"]["per_stage"]],
         weight_grad_ms=[s["weight_grad_ms"] for s in out["zero-bubble"]["per_stage"]],
         forward_ms={k: [s["forward_ms"] for s in r["per_stage"]] for k, r in out.items()},
         step_ms={k: r["step_ms"] for k, r in out.items()},
         schedule_ms={k: r["schedule_ms"] for k, r in out.items()},
         after_schedule_ms={k: r["after_schedule_ms"] for k, r in out.items()},
         bubble={k: r["bubble"] for k, r in out.items()},
         zb_bubble_over_1f1b=out["zero-bubble"]["bubble"] / max(1e-9, out["1f1b"]["bubble"]),
         replay_span_ms={k: v[0] for k, v in ideal.items()},
         replay_bubble={k: v[1] for k, v in ideal.items()},
         replay_zb_bubble_over_1f1b=ideal["zero-bubble"][1] / max(1e-9, ideal["1f1b"][1]),
         # Per measured step of the median run: measured and replayed span and bubble, the
         # replay running each action in the order it ran with its own measured time.
         own_times_replay={k: [[round(x, 4) for x in step] for step in v] for k, v in own.items()},
         own_times_replay_span_error={
             k: max(abs(st[2] / st[0] - 1) for st in v) for k, v in own.items()},
         efficiency={k: r["efficiency"] for k, r in out.items()})


def split_backward(label, module, shape):
    """I + W against the fused backward of one stage, alone on one thread."""
    proc = sh([os.path.join(args.build, "bench", "split_backward_bench"), module, shape, "40"])
    emit(**dict(json.loads(proc.stdout), model=label))


if "zero-bubble" in ONLY:
    targets = os.path.join(work, "targets8.pt")
    torch.save(torch.randint(0, 50257, (8, 64)), targets)
    training_compare(os.path.basename(args.model), two, io, targets, "cross_entropy", 8)
    # Balanced: 8 GPT-2 blocks on hidden states (no embedding, so that the halves are equal
    # stages, forward and backward), split in two, M = 2S; three runs of each schedule.
    torch.manual_seed(0)
    stack_model = os.path.join(work, "gpt2_stack.pt")
    hidden = torch.randn(4, 64, 512)
    torch.jit.trace(make_models.GPT2Stack(512, 8).eval(), (hidden[:1],)).save(stack_model)
    half, _ = compile_stages("stack_half", stack_model, ["--split", "h.4:begin"])
    stack_targets = os.path.join(work, "stack_targets.pt")
    torch.save(torch.randn(4, 64, 512), stack_targets)
    stack_io = save_inputs("stack4", hidden)
    for backend, static in (("threads", False), ("threads", True), ("gloo-p2p", False),
                            ("gloo", True)):
        training_compare("gpt2-stack-8x512 (balanced)", half, stack_io, stack_targets, "mse", 4,
                         runs=5, backend=backend, steps=6, static_order=static)
    split_backward("gpt2-stack-8x512 stage 1", os.path.join(half, "stage1.pt"), "1x64x512")
    blocks = os.path.join(work, "gpt2_stack256.pt")
    torch.jit.trace(make_models.GPT2Stack(256, 4).eval(), (torch.randn(1, 128, 256),)).save(blocks)
    split_backward("gpt2-stack-4x256", blocks, "1x128x256")

if "overhead" in ONLY:
    make_models.export("tuples", "script", work)
    tiny = os.path.join(work, "tiny")
    sh([PPC, os.path.join(work, "tuples_script.pt"), "--split", "layer1:begin", "-o", tiny])
    t = run_report(tiny, save_inputs("tiny", torch.randn(64, 8)),
                   ["--microbatches", "64", "--schedule", "gpipe", "--steps", "20"])
    emit(bench="overhead", backend="threads", stages=2, microbatches=64,
         per_microbatch_us=t["step_ms"] * 1e3 / 64,
         runtime_overhead_us=t["runtime_overhead_ms_per_microbatch"] * 1e3,
         stage_compute_us=[s["compute_ms_per_microbatch"] * 1e3 for s in t["per_stage"]],
         note="two stages of 8-wide linears; overhead = step time not spent inside the models "
              "on the busiest rank, per microbatch")


def measured_stage_ms(stages_dir, io):
    """Each stage's forward ms per microbatch, all stages on one rank one after another."""
    rep = run_report(stages_dir, io, ["--nproc", "1", "--backend", "threads", "--schedule",
                                      "gpipe", "--microbatches", "2", "--steps", "4"])
    return [s["ms_per_microbatch"] for s in rep["per_stage"]]


def partition_evidence(label, model, io, example, blocks, uniform):
    """Chosen partition vs brute force over block boundaries vs the baselines, 4 stages."""
    regions_dir, _ = compile_stages(label + "_regions", model, ["--split", ",".join(blocks)])
    regions = measured_stage_ms(regions_dir, io)
    cuts_best = min(itertools.combinations(range(1, len(regions)), 3),
                    key=lambda cut: max(sum(regions[a:b]) for a, b in
                                        zip((0,) + cut, cut + (len(regions),))))
    best = max(sum(regions[a:b]) for a, b in zip((0,) + cuts_best, cuts_best + (len(regions),)))
    brute_dir, _ = compile_stages(label + "_brute", model,
                                  ["--split", ",".join(blocks[c - 1] for c in cuts_best)])
    brute = measured_stage_ms(brute_dir, io)
    results, pred, phases = {}, None, {}
    for name, flags in [("chosen", ["--stages", "4", "--balance", "time", "--example-inputs",
                                    example, "--print-plan"]),
                        ("uniform", ["--split", ",".join(uniform)]),
                        ("params", ["--stages", "4", "--balance", "params", "--example-inputs",
                                    example])]:
        d, proc = compile_stages(f"{label}_{name}", model, flags)
        results[name] = measured_stage_ms(d, io)
        if name == "chosen":
            pred = plan_times(proc.stdout)
            phases = dict(re.findall(r"^\s+([\w-]+)\s+([\d.]+) ms$", proc.stderr, re.M))
    emit(bench="partition", model=label, stages=4, balance="time", blocks=len(regions),
         chosen_slowest_ms=max(results["chosen"]),
         brute_force_blocks_slowest_ms_summed=best, brute_force_blocks_slowest_ms=max(brute),
         brute_force_splits=[blocks[c - 1] for c in cuts_best],
         chosen_over_brute=max(results["chosen"]) / max(brute),
         uniform_slowest_ms=max(results["uniform"]), params_slowest_ms=max(results["params"]),
         chosen_per_stage_ms=results["chosen"], brute_per_stage_ms=brute,
         predicted_per_stage_ms=pred,
         per_stage_prediction_error=[abs(p - m) / m for p, m in zip(pred, results["chosen"])])
    return phases


if "partition" in ONLY or "compile" in ONLY:
    torch.manual_seed(0)
    blocks_model = os.path.join(work, "gpt2_blocks12.pt")
    b_ids = torch.randint(0, 1000, (4, 128))
    torch.jit.trace(make_models.GPT2Blocks(layers=12).eval(), (b_ids[:1],)).save(blocks_model)
    phases = partition_evidence(
        "gpt2-blocks-12x256", blocks_model, save_inputs("b12", b_ids), save_inputs("b12ex", b_ids[:2]),
        [f"transformer.h.{i}:begin" for i in range(12)] + ["transformer.ln_f:begin"],
        [f"transformer.h.{i}:begin" for i in (3, 6, 9)])
    import torchvision
    torch.manual_seed(0)
    resnet = os.path.join(work, "resnet50.pt")
    images = torch.randn(4, 3, 64, 64)
    torch.jit.trace(torchvision.models.resnet50(weights=None, num_classes=10).eval(),
                    (images[:2],)).save(resnet)
    bottlenecks = [f"layer{l}.{i}:begin" for l, n in ((1, 3), (2, 4), (3, 6), (4, 3))
                   for i in range(n)] + ["avgpool:begin"]
    partition_evidence("resnet50", resnet, save_inputs("r50", images), save_inputs("r50ex", images[:2]),
                       bottlenecks, ["layer2.1:begin", "layer3.1:begin", "layer3.5:begin"])  # 4 blocks each
    emit(bench="compile", model="gpt2-blocks-12x256", load_ms=float(phases.get("load", 0)),
         emit_ms=float(phases.get("emit", 0)),
         measure_costs_ms=float(phases.get("measure-costs", 0)),
         choose_splits_ms=float(phases.get("choose-splits", 0)),
         partition_over_load_and_save=float(phases.get("choose-splits", 0)) /
         (float(phases.get("load", 1)) + float(phases.get("emit", 1))))

if "compile" in ONLY:
    # Wall time of `ppc --stages 4` against a bare LibTorch load + save of the same archive, both
    # whole processes, alternating, 7 runs each: build/bench/load_save links LibTorch as its
    # CMake config says (CUDA libraries too), load_save_cpu only its CPU library, as ppc does.
    def wall_s(cmd):
        start = time.perf_counter()
        sh(cmd)
        return time.perf_counter() - start

    out4 = os.path.join(work, "wall4")
    ppc_cmd = [PPC, args.model, "--stages", "4", "--example-inputs", example, "-o", out4, "--force"]
    bare_cmds = {k: [os.path.join(args.build, "bench", k), args.model,
                     os.path.join(work, "resaved.pt")] for k in ("load_save", "load_save_cpu")}
    walls = {"ppc": [], "load_save": [], "load_save_cpu": []}
    for _ in range(7):
        walls["ppc"].append(wall_s(ppc_cmd))
        for k, cmd in bare_cmds.items():
            walls[k].append(wall_s(cmd))
    med = {k: sorted(v)[len(v) // 2] for k, v in walls.items()}
    passes = sh(ppc_cmd + ["--time-passes"]).stderr
    emit(bench="compile_wall", model=os.path.basename(args.model), stages=4,
         ppc_wall_s=med["ppc"], load_save_wall_s=med["load_save"],
         load_save_cpu_only_wall_s=med["load_save_cpu"],
         ppc_over_load_save=med["ppc"] / med["load_save"],
         ppc_over_load_save_cpu_only=med["ppc"] / med["load_save_cpu"],
         runs={k: [round(x, 3) for x in v] for k, v in walls.items()},
         passes_ms={m.group(1): float(m.group(2))
                    for m in re.finditer(r"^\s+([\w-]+)\s+([\d.]+) ms", passes, re.M)})
