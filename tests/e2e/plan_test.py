#!/usr/bin/env python3
"""The planner's training and memory options end to end: `--for train` records measured backward
times (the last stage's with the --loss pprun will use) and a predicted peak per stage; a `--max-stage-mb` that no partition meets is refused with
the smallest bound that does, and that bound then compiles; `--recompute auto` under a cap turns
recomputation on only where the cap needs it, and the pprun training run of that plan (which
recomputes those stages) gives the gradients of the same stages run without recomputation.

usage: plan_test.py PPC PPRUN FIXTURES OUTDIR
"""
import json
import os
import re
import shutil
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Cases  # noqa: E402

PPC, PPRUN, FIXTURES, OUT = sys.argv[1:5]
shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
checks = Cases()


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def compile_plan(name, model, io, extra):
    out = os.path.join(OUT, name)
    proc = run([PPC, model, "--stages", "3", "--example-inputs", io, "--for", "train",
                "--print-plan", "-o", out, "--force"] + extra)
    return out, proc


def stages_of(out):
    return json.load(open(os.path.join(out, "pipeline.json")))["stages"]


model = os.path.join(FIXTURES, "unet_script.pt")
# The fixture's images are 16x16; at 64x64 the activations outweigh the parameters, so that
# recomputation matters to the memory bound.
images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
io = os.path.join(OUT, "example.io.pt")
torch.save({"inputs": (images,)}, io)


def smallest_bound(extra):
    """The --max-stage-mb an impossible cap's refusal names, and whether it wrote nothing."""
    out = os.path.join(OUT, "refused")
    proc = run([PPC, model, "--stages", "3", "--example-inputs", io, "--for", "train",
                "--max-stage-mb", "0.01", "-o", out] + extra)
    bound = re.search(r"--max-stage-mb to at least ([\d.]+)", proc.stderr)
    return (float(bound.group(1)) if proc.returncode != 0 and bound else None,
            not os.path.exists(out), proc.stderr[-400:])


# --for train: measured backward and a predicted peak per stage.
plain, proc = compile_plan("train", model, io, [])
checks.report("--for train compiles", proc.returncode == 0, proc.stderr[-400:])
costs = [s["cost"] for s in stages_of(plain)] if proc.returncode == 0 else []
checks.report("pipeline.json: backward_ms and memory_bytes per stage",
              costs and all(c.get("backward_ms", 0) > 0 and c.get("memory_bytes", 0) > 0
                            for c in costs), str(costs))
checks.report("--print-plan: forward and backward columns and the refinement rounds",
              "backward ms" in proc.stdout and "refinement" in proc.stdout, proc.stdout[-600:])

# The forward-balanced plan is measured as a candidate; the chosen plan is never measured slower
# than it (beyond the 2% the refinement counts as a tie).
lines = [l for l in proc.stdout.split("refinement")[-1].splitlines() if re.match(r"^\s*\d+\s", l)]
forward = [float(l.split()[2]) for l in lines if "(forward-balanced plan)" in l]
chosen = [float(l.split()[2]) for l in lines if "<- chosen" in l]
checks.report("--for train measures the forward-balanced plan and is not slower than it",
              len(forward) == 1 and len(chosen) == 1 and chosen[0] <= 1.02 * forward[0],
              "\n".join(lines))

# Zero-bubble: I and W measured apart (as pprun splits backwards), per stage in --print-plan.
_, proc = compile_plan("train-zb", model, io, ["--simulate", "zero-bubble:M=4"])
table = proc.stdout.split("imbalance")[0]  # the stage rows, not the refinement's
rows = re.findall(r"^\s*\d+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s", table, re.M)
split = [tuple(float(x) for x in r) for r in rows]
checks.report("--simulate zero-bubble: --print-plan shows I and W per stage",
              proc.returncode == 0 and "(I ms   W ms)" in proc.stdout and len(split) == 3,
              proc.stdout[-800:] + proc.stderr[-300:])
checks.report("I + W is B; the first stage has no I (it receives no gradients' inputs)",
              len(split) == 3 and all(abs(i + w - b) < 2e-3 and i > 0 for b, i, w in split[1:])
              and split[0][1] == 0, str(split))

# --loss: the last stage is timed with the loss pprun will train with; a loss that is none is
# refused before anything is written, and a user's TorchScript loss is timed as given.
refused = os.path.join(OUT, "bad-loss")
proc = run([PPC, model, "--stages", "3", "--example-inputs", io, "--for", "train", "--loss",
            "hinge", "-o", refused])
checks.report("a --loss that is none is refused in one or two lines, writing nothing",
              proc.returncode != 0 and "--loss 'hinge'" in proc.stderr
              and len(proc.stderr.strip().splitlines()) <= 2 and not os.path.exists(refused),
              proc.stderr[-400:])


class L1(torch.nn.Module):
    def forward(self, out, target):
        return (out - target).abs().mean()


loss_file = os.path.join(OUT, "l1.pt")
torch.jit.script(L1()).save(loss_file)
for loss in ("mse", loss_file):
    _, proc = compile_plan("train-" + os.path.basename(loss), model, io, ["--loss", loss])
    checks.report(f"--for train --loss {os.path.basename(loss)} compiles, its stages all timed",
                  proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr[-400:])

# A cap below every partition's largest stage: refused, naming the bound that fits.
keep, nothing_written, detail = smallest_bound([])
checks.report("an impossible cap is refused, naming a bound, writing nothing",
              keep is not None and nothing_written, detail)
recompute, _, detail = smallest_bound(["--recompute", "auto"])
checks.report("with --recompute auto the smallest bound is lower",
              keep is not None and recompute is not None and recompute < keep,
              f"{recompute} against {keep} MB; {detail}")
if keep is not None:
    _, proc = compile_plan("fits", model, io, ["--max-stage-mb", str(keep)])
    checks.report(f"the bound it names ({keep} MB) compiles", proc.returncode == 0,
                  proc.stderr[-400:])
if recompute is not None and keep is not None and recompute < keep:
    # Under a cap that no plan meets without recomputation.
    auto_dir, proc = compile_plan("auto", model, io,
                                  ["--recompute", "auto", "--max-stage-mb", str(recompute)])
    checks.report("--recompute auto compiles under a cap only recomputation meets",
                  proc.returncode == 0, proc.stderr[-400:])
    if proc.returncode == 0:
        flags = [s.get("recompute", False) for s in stages_of(auto_dir)]
        checks.report("stages recompute", any(flags), str(flags))
        checks.report("--print-plan marks them", "(recomputes)" in proc.stdout,
                      proc.stdout[-600:])
        batch = os.path.join(OUT, "batch.io.pt")
        torch.save({"inputs": (images.repeat(4, 1, 1, 1),)}, batch)
        targets = os.path.join(OUT, "targets.pt")
        torch.save(torch.randn(4, 2, 64, 64, generator=torch.Generator().manual_seed(3)), targets)
        grads = {}
        for mode, extra in (("manifest", []), ("none", ["--recompute", "none"])):
            gfile = os.path.join(OUT, f"grads_{mode}.pt")
            proc = run([PPRUN, auto_dir, "--inputs", batch, "--microbatches", "4", "--train",
                        "--targets", targets, "--loss", "mse", "--schedule", "1f1b",
                        "--save-grads", gfile] + extra)
            checks.report(f"pprun trains the plan ({mode})", proc.returncode == 0,
                          proc.stderr[-400:])
            if proc.returncode == 0:
                grads[mode] = torch.load(gfile)
        if len(grads) == 2:
            worst = max(((grads["manifest"][n] - g).abs().max() / g.abs().max().clamp_min(1e-12))
                        .item() for n, g in grads["none"].items())
            checks.report("recomputed stages give the same gradients", worst <= 1e-6,
                          f"max rel diff {worst:.2e}")
checks.finish()
