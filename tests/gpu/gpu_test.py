#!/usr/bin/env python3
"""pprun --device cuda against the unpartitioned model; exits 77 (ctest: skipped) without a GPU.

usage: gpu_test.py PPC PPRUN WORK_DIR
A live GPT-2 export of the 12-layer fixture's shape (n_embd 96, vocab 50257) in 2 and 4 stages on
one GPU (threads, a CUDA stream each): outputs equal the CPU reference, one training step's
gradients equal autograd on the unpartitioned model on the same GPU (TF32 off), and the report
names the GPU. With two or more GPUs the same runs over NCCL, one process per GPU.
"""
import json
import os
import sys

import torch

if not torch.cuda.is_available():
    print("no CUDA device: skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from compare import compare_grads, rel_diff  # noqa: E402
from harness import Cases, run  # noqa: E402

PPC, PPRUN, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
cases = Cases()
report = cases.report


model = os.path.join(WORK, "gpt2_12l.pt")
io = model[:-3] + ".io.pt"
run([sys.executable, os.path.join(HERE, "..", "hf", "export_gpt2.py"), model, "--layers", "12",
     "--embd", "96", "--vocab", "50257", "--batch", "8", "--seq", "64"])
want = torch.load(io)["outputs"]
ids = torch.load(io)["inputs"][0]
targets = torch.randint(0, 50257, ids.shape, generator=torch.Generator().manual_seed(5))
tpath = os.path.join(WORK, "targets.pt")
torch.save(targets, tpath)
m = torch.jit.load(model, map_location="cuda").eval()
logits = m(ids.cuda())[0]
torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                  targets.cuda().reshape(-1)).backward()
reference = {n: p.grad.cpu() for n, p in m.named_parameters() if p.grad is not None}

splits = {2: "transformer.h.6:begin",
          4: "transformer.h.3:begin,transformer.h.6:begin,transformer.h.9:begin"}
launches = [("threads", [])]
if torch.cuda.device_count() >= 2:
    launches.append(("nccl", ["--nproc", "2", "--backend", "nccl"]))
for n, split in splits.items():
    stages = os.path.join(WORK, f"stages{n}")
    run([PPC, model, "--split", split, "-o", stages, "--force"])
    for backend, extra in launches:
        name = f"{n} stages {backend}"
        try:
            out, rep = (os.path.join(WORK, f"{n}_{backend}.{x}") for x in ("out.pt", "json"))
            run([PPRUN, stages, "--inputs", io, "--microbatches", "4", "--device", "cuda",
                 "--output", out, "--report", rep] + extra)
            d = rel_diff(torch.load(out), want)
            devices = json.load(open(rep))["devices"]
            report(f"{name}: outputs equal the CPU reference", d <= 1e-4,
                   f"max rel diff {d:.1e} on {devices}")
            report(f"{name}: the report names the GPU", all("cuda" in x for x in devices))
            grads = os.path.join(WORK, f"{n}_{backend}.grads.pt")
            run([PPRUN, stages, "--inputs", io, "--microbatches", "4", "--device", "cuda",
                 "--schedule", "1f1b", "--train", "--targets", tpath, "--save-grads", grads] + extra)
            worst, detail = compare_grads(torch.load(grads), reference)
            report(f"{name}: one training step's gradients", worst <= 1e-4, detail)
        except Exception as e:
            report(name, False, str(e).splitlines()[-1] if str(e) else repr(e))
if len(launches) == 1:
    print("one GPU: NCCL needs a GPU per rank, so the NCCL runs were not made")
cases.finish()
