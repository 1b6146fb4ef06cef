#!/usr/bin/env python3
"""The torch.export (.pt2) frontend end to end, measured with the venv's torch.

usage: export_test.py PART PPC PPRUN FIXTURES WORK
PART: inference | training | errors
FIXTURES is what export_models.py wrote. inference: each model compiled from its .pt2 and run
chained (ppc verify, check_stages.py) and by pprun with microbatches must equal the exported
program's outputs as torch.export.load computes them (max rel diff <= 1e-5). training: one
pprun training step's gradients must equal autograd on the eager model the program was
exported from (rel <= 1e-4). errors: unsupported programs fail with one clear line naming the
node, and write nothing. Prints one line per case and 'N passed, N failed' at the end.
"""
import os
import shutil
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from compare import rel_diff, tensor_rel_diff  # noqa: E402  (NaN or Inf on either side fails)
from harness import Cases  # noqa: E402

cases = Cases()
report = cases.report

PART, PPC, PPRUN, FIX, WORK = sys.argv[1:6]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_models  # noqa: E402

CHECK_STAGES = os.path.join(HERE, "..", "e2e", "check_stages.py")
os.makedirs(WORK, exist_ok=True)

# name: (splits, microbatches, loss)
CASES = {
    "gpt2": ("transformer.h.1:begin,transformer.h.3:begin", 4, "cross_entropy"),
    "unet": ("down2:begin,dec2:begin", 2, "mse"),
    "tied": ("layers.1:begin", 3, "cross_entropy"),
    "dynamic": ("fc2:begin", 3, "cross_entropy"),
}




def run(args, timeout=300):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def last_line(proc):
    return (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]


def fixture(name, ext):
    return os.path.join(FIX, name + ext)


def compile_model(name, splits, label):
    out = os.path.join(WORK, label)
    args = [PPC, fixture(name, ".pt2"), "-o", out, "--force"]
    if splits.startswith("auto:"):
        args += ["--stages", splits[5:], "--example-inputs", fixture(name, ".io.pt")]
    else:
        args += ["--split", splits]
    proc = run(args)
    return out if proc.returncode == 0 else proc


def inference():
    for name, (splits, microbatches, _) in CASES.items():
        for label, spec in [(name, splits)] + ([(name + "-auto3", "auto:3")] if name == "gpt2" else []):
            stages = compile_model(name, spec, label)
            if not isinstance(stages, str):
                report(f"{label} compile", False, last_line(stages))
                continue
            io = fixture(name, ".io.pt")
            proc = run([PPC, "verify", fixture(name, ".pt2"), stages, "--inputs", io])
            report(f"{label} ppc verify", proc.returncode == 0, last_line(proc))
            # Chained in Python with plain torch.jit.load, against torch.export.load's outputs.
            proc = run([sys.executable, CHECK_STAGES, stages, io])
            report(f"{label} check_stages", proc.returncode == 0, last_line(proc))
            out = os.path.join(WORK, label + ".out.pt")
            proc = run([PPRUN, stages, "--inputs", io, "--microbatches", str(microbatches),
                        "--schedule", "1f1b", "--output", out])
            if proc.returncode != 0:
                report(f"{label} pprun M={microbatches}", False, last_line(proc))
                continue
            d = rel_diff(torch.load(out), torch.load(io)["outputs"])
            report(f"{label} pprun M={microbatches} vs exported program", d <= 1e-5,
                   f"max rel diff {d:.1e}")


def reference_grads(name, loss_kind):
    """Autograd on the eager module, whole batch; every name of a shared tensor listed."""
    model, inputs, kwargs, targets = export_models.eager_model(FIX, name)
    out = model(*inputs, **kwargs)
    out = out[0] if isinstance(out, (tuple, list)) else out
    if loss_kind == "mse":
        loss = torch.nn.functional.mse_loss(out, targets)
    else:
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]),
                                                 targets.reshape(-1))
    loss.backward()
    named = dict(model.named_parameters(remove_duplicate=False))
    return {n: p.grad for n, p in named.items() if p.grad is not None}, len(list(model.parameters()))


def training():
    for name, (splits, microbatches, loss) in CASES.items():
        stages = compile_model(name, splits, name + "-train")
        if not isinstance(stages, str):
            report(f"{name} compile", False, last_line(stages))
            continue
        want, unique = reference_grads(name, loss)
        for schedule in ("gpipe", "1f1b", "zero-bubble"):
            gfile = os.path.join(WORK, f"{name}-{schedule}.grads.pt")
            proc = run([PPRUN, stages, "--inputs", fixture(name, ".io.pt"), "--microbatches",
                        str(microbatches), "--schedule", schedule, "--train", "--targets",
                        fixture(name, ".targets.pt"), "--loss", loss, "--save-grads", gfile])
            label = f"{name} grads {schedule} M={microbatches}"
            if proc.returncode != 0:
                report(label, False, last_line(proc))
                continue
            got = torch.load(gfile)
            unknown = sorted(set(got) - set(want))
            # Each distinct eager parameter must have its gradient under one of its names.
            covered = {id(p) for n, p in export_models.eager_model(FIX, name)[0].named_parameters()
                       if n in got}
            if unknown or len(covered) != unique:
                report(label, False, f"names differ: unknown {unknown[:3]}, "
                       f"{unique - len(covered)} parameters without a gradient")
                continue
            worst = max(tensor_rel_diff(g, want[n], floor=1e-12) for n, g in got.items())
            report(label, worst <= 1e-4, f"max rel diff {worst:.1e} over {len(got)} parameters")
    merge_after_sgd()


def merge_after_sgd():
    """One SGD step by pprun, merged back with `ppc merge MODEL.pt2`: eager p - lr * grad."""
    name, lr = "tied", 0.1
    splits, microbatches, loss = CASES[name]
    stages = compile_model(name, splits, name + "-sgd")
    if not isinstance(stages, str):
        return report("tied sgd step merged", False, last_line(stages))
    trained, merged = os.path.join(WORK, "tied-trained"), os.path.join(WORK, "tied-merged.pt")
    shutil.rmtree(trained, ignore_errors=True)
    proc = run([PPRUN, stages, "--inputs", fixture(name, ".io.pt"), "--microbatches",
                str(microbatches), "--train", "--targets", fixture(name, ".targets.pt"), "--loss",
                loss, "--optimizer", "sgd", "--lr", str(lr), "--steps", "1", "--checkpoint",
                trained])
    if proc.returncode == 0:
        proc = run([PPC, "merge", fixture(name, ".pt2"), trained, "-o", merged])
    if proc.returncode != 0:
        return report("tied sgd step merged", False, last_line(proc))
    grads, _ = reference_grads(name, loss)
    model = export_models.eager_model(FIX, name)[0]
    want = {n: p.detach() - lr * grads[n] for n, p in model.named_parameters(remove_duplicate=False)}
    # Python lists a shared tensor once (head.weight is embed.weight).
    got = dict(torch.jit.load(merged).named_parameters())
    if set(got) - set(want) or len(got) != len(list(model.parameters())):
        return report("tied sgd step merged", False, f"names differ: {sorted(got)[:4]}")
    worst = max(tensor_rel_diff(g.detach(), want[n], floor=1e-12) for n, g in got.items())
    report("tied sgd step merged into the .pt2's model", worst <= 1e-5,
           f"max rel diff {worst:.1e} over {len(got)} parameters")


def errors():
    refusals = [
        ("bad-cond", ["node 'cond'", "torch.ops.higher_order.cond", "higher-order"]),
        ("bad-customop", ["node 'twice'", "torch.ops.ppctest.twice.default",
                          "no operator ppctest::twice"]),
        ("bad-schema", ["schema version 9.", "ppc reads schema 8.x"]),
    ]
    for name, expected in refusals:
        out = os.path.join(WORK, name + ".out")
        shutil.rmtree(out, ignore_errors=True)
        proc = run([PPC, fixture(name, ".pt2"), "--split", "fc:begin", "-o", out])
        text = proc.stderr.strip()
        ok = (proc.returncode != 0 and all(e in text for e in expected)
              and len(text.splitlines()) <= 2 and "Traceback" not in text
              and not os.path.exists(out))
        report(f"{name} is refused", ok, repr(text))


{"inference": inference, "training": training, "errors": errors}[PART]()
cases.finish()
