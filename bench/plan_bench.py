#!/usr/bin/env python3
"""How well ppc's automatic plans hold when they run (issue 17); prints one JSON object a line.

usage: build/python3 bench/plan_bench.py [--build build] [--only spread,brute,train,memory,recompute]
                                         [--models resnet50,densenet121,...] [--quick]

Held-out models, built here with the venv's torch/torchvision (eval, torch.jit.trace, random
weights from seed 0, one microbatch as example input so predicted times are per microbatch):
resnet50, densenet121, convnext_tiny, inception_v3 (aux_logits=False), unet (tests/e2e's UNet,
16 channels) and gpt2 (../shared/models/gpt2-12l-lm.pt, one sequence; skipped when absent).
Everything at one intra-op thread, with pprun's host memory settings (freed memory reused).

- spread: `ppc --stages S --example-inputs EX --print-plan` for S = 3, 4. Predicted per stage is
  pipeline.json's stages[k].cost.time_ms; measured per stage is the emitted stage alone, plain
  torch.jit.load, under no_grad, the median of 15 runs after 3 warm-up runs (and the median of
  five such passes over all stages), on the values it
  really receives (the stages run in order on the example inputs, each fed by name from the
  manifest). spread = max/min over stages of predicted/measured (target <= 1.10); also the
  measured slowest/fastest stage, the whole model's time, the compile wall time, and the
  rounds of the refinement table `--print-plan` prints (when it does).
- brute: the model's block units (ResNet-50 bottlenecks, DenseNet-121 groups of three dense
  layers and the transitions, ConvNeXt-tiny blocks and downsamplers, Inception-v3 top-level
  children, U-Net top-level children, GPT-2 blocks; stem and head units at the ends) compiled
  one stage per unit with --split and timed as above; every grouping into S = 4 contiguous groups
  scored by its summed slowest group; the best 3 compiled with --split and measured for real;
  brute = the least measured slowest stage of those. The --stages S plan, the equal-unit-count
  split (uniform) and the 3 candidates are measured in interleaved rounds (the median over
  rounds per stage) so that drift hits all alike. chosen_over_brute: target <= 1.05.
- train: on gpt2, resnet50 and convnext_tiny, S = 2 and 4: the plan of `--for train` against
  the forward-balanced one; where their splits differ, `pprun --train --schedule 1f1b
  --microbatches 8 --steps 6` (threads, one intra-op thread per rank, cross_entropy, SGD at
  lr 0 so every run computes on the same weights) on both, alternating A/B five times; the
  report's step_ms already leaves out the first step. Where the splits are equal: said so.
- memory: on gpt2 and resnet50, 4 stages, M = 8, SGD: each rank's predicted peak (ppc --for train
  --simulate, the stages a rank holds summed) against pprun's measured peak_tensor_mb (threads, and
  Gloo processes as measured_gloo_mb,
  one rank per stage; interleaved-1f1b 4 stages on 2 ranks) for gpipe, 1f1b, interleaved-1f1b
  and zero-bubble (target: within 15%).
- recompute: the same --for train plan (4 stages, 1F1B, M = 8) trained with and without pprun
  --recompute all: each rank's peak tensor memory and the step time (median of alternating runs).
Timings are machine-dependent and, on a small shared machine, noisy; nothing here is a test.
"""
import argparse
import copy
import ctypes
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ap = argparse.ArgumentParser()
here = os.path.dirname(os.path.abspath(__file__))
ap.add_argument("--build", default=os.path.join(here, "..", "build"))
PARTS = "spread,brute,train,memory,recompute"
ap.add_argument("--only", default=PARTS)
ALL = "resnet50,densenet121,convnext_tiny,inception_v3,unet,gpt2"
ap.add_argument("--models", default=ALL)
ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller inputs")
args = ap.parse_args()
ONLY = set(args.only.split(","))
MODELS = args.models.split(",")
if set(MODELS) - set(ALL.split(",")) or set(ONLY) - set(PARTS.split(",")):
    ap.error(f"--models takes some of {ALL}; --only some of {PARTS}")
PPC = os.path.join(args.build, "tools", "ppc")
PPRUN = os.path.join(args.build, "tools", "pprun")
GPT2 = os.path.join(here, "..", "..", "shared", "models", "gpt2-12l-lm.pt")
WARM, RUNS, ROUNDS, AB, STEPS = (2, 5, 1, 1, 3) if args.quick else (3, 15, 5, 5, 6)
work = tempfile.mkdtemp(prefix="ppc-plan-bench-")
sys.path.insert(0, os.path.join(here, "..", "tests", "e2e"))
import make_models  # noqa: E402

torch.set_num_threads(1)
# The host memory settings pprun and ppc run stages with (support/HostMemory.cpp): freed memory
# is kept for reuse instead of glibc mapping and unmapping each large buffer per run.
_libc = ctypes.CDLL("libc.so.6")
_libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
_libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
_libc.mallopt(-8, 2)  # M_ARENA_MAX


def emit(**record):
    print(json.dumps(record), flush=True)


class Failed(Exception):
    pass


def sh(cmd):
    """Runs a tool; waits (up to 40 minutes) while the build has no binary of that name."""
    for _ in range(80):
        if os.access(cmd[0], os.X_OK):
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True)
                break
            except OSError:  # replaced while we started it (text file busy)
                pass
        time.sleep(30)
    else:
        raise Failed(f"no {cmd[0]} after 40 minutes")
    if proc.returncode:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise Failed(f"{os.path.basename(cmd[0])} exited {proc.returncode}: "
                     + " | ".join(lines[-3:]))
    return proc


def guarded(bench, model, stages, fn, *a):
    """Runs one measurement; a failure becomes a JSON line, and the bench goes on."""
    try:
        fn(*a)
    except Failed as e:
        emit(bench=bench, model=model, stages=stages, error=str(e))


# --- models ---------------------------------------------------------------------------------

class Spec:
    """A model file, its one-microbatch example inputs, a batch of 8 and targets for training,
    and its block units as the --split specs that begin units 1..n-1."""

    def __init__(self, name, module, example, batch, targets, units):
        self.name, self.units = name, units
        self.path = module if isinstance(module, str) else os.path.join(work, name + ".pt")
        if not isinstance(module, str):
            torch.jit.trace(module.eval(), example).save(self.path)
        self.example_inputs = example
        self.example = save(name + ".ex", {"inputs": example})
        self.batch = save(name + ".batch", {"inputs": batch})
        self.targets = save(name + ".targets", targets)


def save(name, obj):
    path = os.path.join(work, name + ".pt")
    torch.save(obj, path)
    return path


def vision(name, module, hw, units):
    torch.manual_seed(1)
    batch = torch.randn(8, 3, hw, hw)
    return Spec(name, module, (batch[:1].clone(),), (batch,), torch.randint(0, 10, (8,)), units)


def build(name):
    import torchvision.models as tv
    torch.manual_seed(0)
    q = args.quick
    if name == "resnet50":
        m = tv.resnet50(weights=None, num_classes=10)
        units = [f"layer{l}.{i}:begin" for l, n in ((1, 3), (2, 4), (3, 6), (4, 3))
                 for i in range(n)] + ["avgpool:begin"]
        return vision(name, m, 64 if q else 128, units)
    if name == "densenet121":
        m = tv.densenet121(weights=None, num_classes=10)
        units = []
        for b, n in enumerate((6, 12, 24, 16), 1):
            units += [f"features.denseblock{b}.denselayer{i + 1}:begin" for i in range(0, n, 3)]
            units.append(f"features.transition{b}:begin" if b < 4 else "features.norm5:begin")
        return vision(name, m, 64 if q else 128, units)
    if name == "convnext_tiny":
        m = tv.convnext_tiny(weights=None, num_classes=10)
        units = []
        for i in range(1, 8):
            stage = m.features[i]
            units += ([f"features.{i}.{j}:begin" for j in range(len(stage))] if i % 2
                      else [f"features.{i}:begin"])
        return vision(name, m, 64 if q else 128, units + ["avgpool:begin"])
    if name == "inception_v3":
        m = tv.inception_v3(weights=None, num_classes=10, aux_logits=False, init_weights=False)
        body = [c for c, _ in m.named_children() if c not in ("AuxLogits", "avgpool", "dropout", "fc")]
        return vision(name, m, 75 if q else 139, [c + ":begin" for c in body[1:]] + ["avgpool:begin"])
    if name == "unet":
        units = [c + ":begin" for c in ("down2", "down3", "bottom", "up3", "up2", "up1", "head")]
        return vision(name, make_models.UNet(16), 128 if q else 256, units)
    if name == "gpt2":
        if not os.path.exists(GPT2):
            return None
        seq = 32 if q else 64
        ids = torch.load(GPT2[:-3] + ".io.pt")["inputs"][0][:1, :seq].clone()
        torch.manual_seed(1)
        batch = torch.cat([ids, torch.randint(0, 50257, (7, seq))])
        units = [f"transformer.h.{i}:begin" for i in range(12)] + ["transformer.ln_f:begin"]
        return Spec(name, GPT2, (ids,), (batch,), torch.randint(0, 50257, (8, seq)), units)


_specs = {}


def spec(name):
    if name not in _specs:
        _specs[name] = build(name)
    return _specs[name]


# --- compiling ------------------------------------------------------------------------------

_compiled = {}


def compile_plan(s, flags):
    """ppc's output dir for these flags (compiled once a run), its stdout, and its wall time."""
    key = (s.name, tuple(flags))
    if key not in _compiled:
        out = os.path.join(work, f"{s.name}.{len(_compiled)}")
        start = time.perf_counter()
        proc = sh([PPC, s.path, "-o", out, "--force", "--time-passes"] + flags)
        wall = time.perf_counter() - start
        passes = {m.group(1): float(m.group(2))
                  for m in re.finditer(r"^\s+([\w-]+)\s+([\d.]+) ms$", proc.stderr, re.M)}
        _compiled[key] = (out, proc.stdout, wall, passes)
    return _compiled[key]


def stages_flags(s, stages, extra=()):
    return ["--stages", str(stages), "--example-inputs", s.example, "--print-plan", *extra]


def split_flags(splits):
    return ["--split", ",".join(splits)]


def manifest(d):
    return json.load(open(os.path.join(d, "pipeline.json")))


def refinement(stdout):
    """The rounds of --print-plan's refinement table, or None when it printed none."""
    head = re.search(r"^refinement \((.*)\):$", stdout, re.M)
    if not head:
        return None
    rounds = []
    for line in stdout[head.end():].lstrip("\n").splitlines()[1:]:
        m = re.match(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d. ]+)(.*)$", line)
        if not m:
            break
        rounds.append({"predicted_slowest_ms": float(m.group(2)),
                       "measured_slowest_ms": float(m.group(3)),
                       "measured_over_predicted": [float(x) for x in m.group(4).split()],
                       "within_tolerance": "within tolerance" in m.group(5),
                       "chosen": "chosen" in m.group(5)})
    return {"note": head.group(1), "rounds": len(rounds), "table": rounds}


# --- timing stages in Python ----------------------------------------------------------------

def fresh(v):
    """A copy sharing no mutable state with v (a stage may write its inputs in place)."""
    if isinstance(v, torch.Tensor):
        return v.clone()
    if isinstance(v, (tuple, list)):
        return type(v)(fresh(e) for e in v)
    return copy.deepcopy(v)


class Plan:
    """A compiled dir's stages, loaded, with the values each receives on the example inputs."""

    def __init__(self, s, d):
        man = manifest(d)
        self.splits = man.get("splits", [])
        self.predicted = [st.get("cost", {}).get("time_ms") for st in man["stages"]]
        env = {("input", i["name"]): x for i, x in zip(man["inputs"], s.example_inputs)}
        self.stages = []
        for k, st in enumerate(man["stages"]):
            mod = torch.jit.load(os.path.join(d, st["file"]))
            mod.eval()
            inputs = [env[(v["from"], v["value"])] for v in st["inputs"]]
            with torch.no_grad():
                out = mod(*fresh(inputs))
            outs = out if isinstance(out, tuple) else (out,)
            if len(outs) != len(st["outputs"]):
                raise Failed(f"{d}: stage {k} returned {len(outs)} values, "
                             f"manifest lists {len(st['outputs'])}")
            env.update({(k, name): v for name, v in zip(st["outputs"], outs)})
            self.stages.append((mod, inputs))

    def measure(self):
        """Each stage's median ms of RUNS after WARM warm-up runs, one stage at a time."""
        return [median_ms(mod, inputs) for mod, inputs in self.stages]


def median_ms(mod, inputs):
    times = []
    with torch.no_grad():
        for i in range(WARM + RUNS):
            a = fresh(inputs)
            start = time.perf_counter()
            mod(*a)
            if i >= WARM:
                times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure_interleaved(plans):
    """Per plan, per stage the median over ROUNDS rounds, each round timing every plan once;
    and per plan the slowest stage of each round (the spread)."""
    rounds = {name: [] for name in plans}
    for _ in range(ROUNDS):
        for name, plan in plans.items():
            rounds[name].append(plan.measure())
    per_stage = {n: [statistics.median(x) for x in zip(*r)] for n, r in rounds.items()}
    slowest = {n: [round(max(x), 3) for x in r] for n, r in rounds.items()}
    return per_stage, slowest


def r3(xs):
    return [round(x, 3) if isinstance(x, float) else x for x in xs]


# --- 1. spread ------------------------------------------------------------------------------

_whole_ms = {}


def spread(s, stages):
    if s.name not in _whole_ms:  # the unpartitioned model, timed the same way
        _whole_ms[s.name] = median_ms(torch.jit.load(s.path).eval(), list(s.example_inputs))
    whole = _whole_ms[s.name]
    d, stdout, wall, passes = compile_plan(s, stages_flags(s, stages))
    plan = Plan(s, d)
    # ROUNDS passes over all stages, the median per stage: one pass is not precise enough on a
    # shared machine (the same stage file differed by 40% between two passes of one run).
    passes_ms = [plan.measure() for _ in range(ROUNDS)]
    measured = [statistics.median(x) for x in zip(*passes_ms)]
    ratio = [p / m if p is not None else None for p, m in zip(plan.predicted, measured)]
    known = [r for r in ratio if r is not None]
    ref = refinement(stdout)
    emit(bench="spread", model=s.name, stages=stages, splits=plan.splits,
         predicted_ms=r3(plan.predicted), measured_ms=r3(measured),
         measured_ms_per_pass=[r3(x) for x in passes_ms], predicted_over_measured=r3(ratio),
         spread=round(max(known) / min(known), 3) if known else None, target=1.10,
         measured_slowest_ms=round(max(measured), 3),
         measured_fastest_ms=round(min(measured), 3),
         measured_slowest_over_fastest=round(max(measured) / min(measured), 3),
         measured_sum_ms=round(sum(measured), 3), whole_model_ms=round(whole, 3),
         compile_wall_s=round(wall, 2), passes_ms=passes,
         refinement_rounds=ref["rounds"] if ref else None, refinement=ref)


# --- 2. brute -------------------------------------------------------------------------------

def groups(weights, cuts):
    bounds = (0,) + tuple(cuts) + (len(weights),)
    return [sum(weights[a:b]) for a, b in zip(bounds, bounds[1:])]


_unit_ms = {}


def brute(s, stages):
    if s.name not in _unit_ms:
        units_dir = compile_plan(s, split_flags(s.units))[0]
        _unit_ms[s.name] = measure_interleaved({"units": Plan(s, units_dir)})[0]["units"]
    unit_ms = _unit_ms[s.name]
    n = len(unit_ms)
    scored = sorted(itertools.combinations(range(1, n), stages - 1),
                    key=lambda c: (max(groups(unit_ms, c)),
                                   sum(g * g for g in groups(unit_ms, c))))
    best = scored[:3]
    uniform = [round(k * n / stages) for k in range(1, stages)]
    dirs = {"chosen": compile_plan(s, stages_flags(s, stages))[0],
            "uniform": compile_plan(s, split_flags([s.units[c - 1] for c in uniform]))[0]}
    for i, cuts in enumerate(best):
        dirs[f"brute{i}"] = compile_plan(s, split_flags([s.units[c - 1] for c in cuts]))[0]
    plans = {k: Plan(s, d) for k, d in dirs.items()}
    per_stage, slowest_by_round = measure_interleaved(plans)
    slow = {k: max(v) for k, v in per_stage.items()}
    top = min(range(len(best)), key=lambda i: slow[f"brute{i}"])
    candidates = [{"splits": plans[f"brute{i}"].splits,
                   "summed_slowest_ms": round(max(groups(unit_ms, c)), 3),
                   "measured_slowest_ms": round(slow[f"brute{i}"], 3),
                   "measured_ms": r3(per_stage[f"brute{i}"])} for i, c in enumerate(best)]
    brute_ms = slow[f"brute{top}"]
    emit(bench="brute", model=s.name, stages=stages, units=n, unit_ms=r3(unit_ms),
         rounds=ROUNDS, chosen_splits=plans["chosen"].splits,
         chosen_measured_ms=r3(per_stage["chosen"]),
         chosen_slowest_ms=round(slow["chosen"], 3),
         brute_splits=plans[f"brute{top}"].splits, brute_slowest_ms=round(brute_ms, 3),
         chosen_over_brute=round(slow["chosen"] / brute_ms, 3), target=1.05,
         uniform_splits=plans["uniform"].splits,
         uniform_slowest_ms=round(slow["uniform"], 3),
         uniform_over_brute=round(slow["uniform"] / brute_ms, 3),
         brute_candidates=candidates, slowest_by_round=slowest_by_round)


# --- 3. train -------------------------------------------------------------------------------

def train_report(s, d, tag):
    report = os.path.join(work, f"{os.path.basename(d)}.{tag}.report.json")
    sh([PPRUN, d, "--inputs", s.batch, "--train", "--targets", s.targets,
        "--loss", "cross_entropy", "--optimizer", "sgd", "--lr", "0", "--schedule", "1f1b",
        "--microbatches", "8", "--steps", str(STEPS), "--threads-per-rank", "1",
        "--report", report])
    return json.load(open(report))


def train(s, stages):
    infer_dir = compile_plan(s, stages_flags(s, stages))[0]
    train_dir, stdout, wall, _ = compile_plan(s, stages_flags(s, stages, ("--for", "train")))
    plans = {"train": manifest(train_dir), "infer": manifest(infer_dir)}
    record = dict(bench="train", model=s.name, stages=stages,
                  train_splits=plans["train"]["splits"],
                  infer_splits=plans["infer"]["splits"],
                  train_predicted_ms=r3([st["cost"]["time_ms"] for st in plans["train"]["stages"]]),
                  infer_predicted_ms=r3([st["cost"]["time_ms"] for st in plans["infer"]["stages"]]),
                  train_compile_wall_s=round(wall, 2))
    if plans["train"]["splits"] == plans["infer"]["splits"]:
        emit(**record, identical=True, note="the two plans are the same; nothing to run")
        return
    steps = {"train": [], "infer": []}
    reports = {}
    for i in range(AB):
        for k, d in (("train", train_dir), ("infer", infer_dir)):
            reports[k] = train_report(s, d, f"{k}{i}")
            steps[k].append(reports[k]["step_ms"])
    med = {k: statistics.median(v) for k, v in steps.items()}
    emit(**record, identical=False, schedule="1f1b", microbatches=8, steps=STEPS,
         runs=AB, train_plan_step_ms=round(med["train"], 2),
         infer_plan_step_ms=round(med["infer"], 2),
         train_over_infer=round(med["train"] / med["infer"], 3),
         step_ms_runs={k: r3(v) for k, v in steps.items()},
         forward_backward_ms={k: [[round(st["forward_ms"], 2), round(st["backward_ms"], 2)]
                                  for st in r["per_stage"]] for k, r in reports.items()})


# --- 4. memory and 5. recompute ---------------------------------------------------------------

MIB = 1.048576  # pprun's peak_tensor_mb is in MiB; ppc's memory in MB (1e6 bytes)
MEMORY_RUNS = [("gpipe", 4, 4), ("1f1b", 4, 4), ("interleaved-1f1b", 4, 2), ("zero-bubble", 4, 4)]


def simulated_peaks(stdout, schedule):
    """Per stage predicted peak MB of `schedule` from the --simulate table."""
    for line in stdout.splitlines():
        if line.split()[:1] == [schedule]:
            return [float(x) for x in re.findall(r"([\d.]+) \(", line)]
    raise Failed(f"no {schedule} row in --simulate")


def train_run(s, d, schedule, ranks, extra=(), loss="cross_entropy", backend="threads"):
    report = os.path.join(work, f"{os.path.basename(d)}.{schedule}.{len(os.listdir(work))}.json")
    sh([PPRUN, d, "--inputs", s.batch, "--train", "--targets", s.targets, "--loss", loss,
        "--optimizer", "sgd", "--lr", "0", "--schedule", schedule, "--microbatches", "8",
        "--steps", "2", "--nproc", str(ranks), "--backend", backend, "--threads-per-rank", "1",
        "--report", report, *extra])
    return json.load(open(report))


def memory(s, stages):
    """Predicted peak per rank (ppc --simulate of the --for train plan, the stages a rank holds
    summed) against pprun's measured peak tensor memory per rank, for each schedule: on threads
    (the table's figure) and on Gloo processes (measured_gloo_mb). On threads a received tensor
    is the sender's, so the counter charges it to the sender's rank; on processes (as on
    devices) the receiver holds its own copy, which the prediction charges to the receiver."""
    for schedule, n, ranks in MEMORY_RUNS:
        sim = f"{schedule}:M=8" + (f":N={ranks}" if ranks != n else "")
        d, stdout, _, _ = compile_plan(s, stages_flags(s, n, ("--for", "train", "--simulate", sim)))
        per_stage = simulated_peaks(stdout, schedule)
        predicted = [sum(per_stage[k] for k in range(r, n, ranks)) for r in range(ranks)]
        rep = train_run(s, d, schedule, ranks)
        measured = [r["peak_tensor_mb"] * MIB for r in rep["per_rank"]]
        gloo = train_run(s, d, schedule, ranks, backend="gloo")
        measured_gloo = [r["peak_tensor_mb"] * MIB for r in gloo["per_rank"]]
        emit(bench="memory", model=s.name, stages=n, ranks=ranks, schedule=schedule,
             microbatches=8, optimizer="sgd", predicted_mb=r3(predicted),
             measured_mb=r3(measured),
             error=r3([p / m - 1 for p, m in zip(predicted, measured)]),
             measured_gloo_mb=r3(measured_gloo),
             error_gloo=r3([p / m - 1 for p, m in zip(predicted, measured_gloo)]))


def recompute(s, stages):
    """The same plan trained with and without --recompute all: peak tensor memory per rank and
    step time (median of AB alternating runs), gradients compared."""
    d = compile_plan(s, stages_flags(s, stages, ("--for", "train")))[0]
    runs = {"none": [], "all": []}
    for i in range(AB):
        for mode in runs:
            runs[mode].append(train_run(s, d, "1f1b", stages, ("--recompute", mode)))
    med = {m: statistics.median(r["step_ms"] for r in v) for m, v in runs.items()}
    peak = {m: [r["peak_tensor_mb"] * MIB for r in v[0]["per_rank"]] for m, v in runs.items()}
    emit(bench="recompute", model=s.name, stages=stages, schedule="1f1b", microbatches=8,
         peak_mb_none=r3(peak["none"]), peak_mb_all=r3(peak["all"]),
         step_ms_none=round(med["none"], 2), step_ms_all=round(med["all"], 2),
         step_all_over_none=round(med["all"] / med["none"], 3),
         step_ms_runs={m: r3([r["step_ms"] for r in v]) for m, v in runs.items()})


# --- main -----------------------------------------------------------------------------------

emit(bench="config", quick=args.quick, work=work, warmup=WARM, runs=RUNS, rounds=ROUNDS,
     torch=torch.__version__, threads=torch.get_num_threads())
for name in MODELS:
    try:
        s = spec(name)
    except Exception as e:  # a model this torchvision cannot build or trace
        emit(bench="model", model=name, error=f"{type(e).__name__}: {e}")
        continue
    if s is None:
        emit(bench="model", model=name, skipped=f"{GPT2} not found")
        continue
    for stages in (3, 4) if "spread" in ONLY else ():
        guarded("spread", name, stages, spread, s, stages)
    for stages in (4,) if "brute" in ONLY else ():
        guarded("brute", name, stages, brute, s, stages)
    if "train" in ONLY and name in ("gpt2", "resnet50", "convnext_tiny"):
        for stages in (2, 4):
            guarded("train", name, stages, train, s, stages)
    if "memory" in ONLY and name in ("gpt2", "resnet50"):
        guarded("memory", name, 4, memory, s, 4)
    if "recompute" in ONLY and name in ("gpt2", "resnet50"):
        guarded("recompute", name, 4, recompute, s, 4)
