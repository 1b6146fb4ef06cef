#!/usr/bin/env python3
"""A HuggingFace GPT-2 exported live (the venv's transformers, random init) through ppc and pprun.

usage: hf_live_test.py PPC PPRUN WORK_DIR
For the torchscript=True export and a tied one: ppc compiles 3 stages and `ppc verify` passes;
pprun's inference over threads, 3 Gloo processes and under torchrun equals the traced model (rel <= 1e-5); one
training step's gradients equal autograd on the traced model (rel <= 1e-4).
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from compare import compare_grads, rel_diff  # noqa: E402
from harness import Cases, run  # noqa: E402

PPC, PPRUN, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
cases = Cases()
report = cases.report


def autograd_grads(model, ids, targets):
    m = torch.jit.load(model).eval()
    logits = m(ids)[0]
    torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                      targets.reshape(-1)).backward()
    return {n: p.grad for n, p in m.named_parameters() if p.grad is not None}


def check(label, tied):
    model = os.path.join(WORK, f"{label}.pt")
    io = model[:-3] + ".io.pt"
    run([sys.executable, os.path.join(HERE, "export_gpt2.py"), model, "--batch", "4"] +
        (["--tied"] if tied else []))
    stages = os.path.join(WORK, f"{label}_stages")
    run([PPC, model, "--split", "transformer.h.1:begin,transformer.h.3:begin", "-o", stages,
         "--force"])
    verified = run([PPC, "verify", model, stages, "--inputs", io]).stdout.strip().splitlines()
    report(f"{label}: ppc verify", verified[-1].startswith("ok:"), verified[-1])
    want = torch.load(io)["outputs"]
    torchrun = [os.path.join(os.path.dirname(sys.executable), "torchrun"), "--standalone",
                "--nproc-per-node", "3", "--no-python"]
    for backend in ("threads", "gloo", "torchrun"):
        out = os.path.join(WORK, f"{label}_{backend}.out.pt")
        args = [PPRUN, stages, "--inputs", io, "--microbatches", "2", "--output", out]
        if backend == "gloo":
            args += ["--nproc", "3", "--backend", "gloo"]
        run(torchrun + args if backend == "torchrun" else args)
        d = rel_diff(torch.load(out), want)
        report(f"{label}: pprun inference {backend}", d <= 1e-5, f"max rel diff {d:.1e}")
    ids = torch.load(io)["inputs"][0]
    targets = torch.randint(0, 1000, ids.shape, generator=torch.Generator().manual_seed(3))
    tpath = os.path.join(WORK, f"{label}_targets.pt")
    torch.save(targets, tpath)
    grads = os.path.join(WORK, f"{label}.grads.pt")
    run([PPRUN, stages, "--inputs", io, "--microbatches", "2", "--schedule", "1f1b", "--train",
         "--targets", tpath, "--save-grads", grads])
    worst, detail = compare_grads(torch.load(grads), autograd_grads(model, ids, targets))
    report(f"{label}: one training step's gradients", worst <= 1e-4, detail)


for label, tied in [("hf_gpt2", False), ("hf_gpt2_tied", True)]:
    try:
        check(label, tied)
    except Exception as e:  # one failed case must not hide the others
        report(label, False, str(e).splitlines()[-1] if str(e) else repr(e))
cases.finish()
