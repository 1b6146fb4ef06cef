#!/usr/bin/env python3
"""GPU throughput of pipelined GPT-2 against the unpartitioned model on the same GPU; prints one
JSON object a line.

usage: bench/gpu_bench.py [--build build] [--microbatches 8] [--batch 32] [--steps 10]

A live GPT-2 export of the 12-layer fixture's shape (tests/hf/export_gpt2.py) in 1, 2 and 4
stages: pprun --device cuda with the threads transport (all stages on one GPU, a CUDA stream each),
inference and training steps, samples/s from pprun's --report (the mean of the steps after the
first), against torch.jit.load of the whole model on the same GPU timed the same way; with two
GPUs also 2 stages over NCCL. Timings are machine-dependent; nothing here is a pass/fail test.
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
ap.add_argument("--microbatches", type=int, default=8)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--steps", type=int, default=10)
args = ap.parse_args()
if not torch.cuda.is_available():
    sys.exit("gpu_bench: no CUDA device is visible; run it on a GPU machine")
PPC, PPRUN = (os.path.join(args.build, "tools", t) for t in ("ppc", "pprun"))
work = tempfile.mkdtemp(prefix="ppc-gpu-bench-")
model = os.path.join(work, "gpt2_12l.pt")
io = model[:-3] + ".io.pt"
subprocess.run([sys.executable, os.path.join(here, "..", "tests", "hf", "export_gpt2.py"), model,
                "--layers", "12", "--embd", "96", "--vocab", "50257", "--batch", str(args.batch),
                "--seq", "64"], check=True, capture_output=True)
ids = torch.load(io)["inputs"][0]
targets = torch.randint(0, 50257, ids.shape)
tpath = os.path.join(work, "targets.pt")
torch.save(targets, tpath)


def emit(**record):
    print(json.dumps(record), flush=True)


def unpartitioned(train):
    m = torch.jit.load(model, map_location="cuda")
    m.train(train)
    x, t = ids.cuda(), targets.cuda()
    opt = torch.optim.SGD(m.parameters(), lr=1e-3)
    times = []
    for _ in range(args.steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.set_grad_enabled(train):
            logits = m(x)[0]
            if train:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                  t.reshape(-1)).backward()
                opt.step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    step = sum(times[1:]) / (len(times) - 1)
    return args.batch / step


splits = {2: "transformer.h.6:begin",
          4: "transformer.h.3:begin,transformer.h.6:begin,transformer.h.9:begin"}
launches = [("threads", [])]
if torch.cuda.device_count() >= 2:
    launches.append(("nccl", ["--nproc", "2", "--backend", "nccl"]))
for train in (False, True):
    base = unpartitioned(train)
    emit(kind="unpartitioned", training=train, samples_per_s=base,
         device=torch.cuda.get_device_name(0))
    for n, split in splits.items():
        stages = os.path.join(work, f"stages{n}")
        subprocess.run([PPC, model, "--split", split, "-o", stages, "--force"], check=True,
                       capture_output=True)
        for backend, extra in launches:
            if backend == "nccl" and n != 2:
                continue
            rep = os.path.join(work, f"r{n}{backend}{train}.json")
            cmd = [PPRUN, stages, "--inputs", io, "--microbatches", str(args.microbatches),
                   "--device", "cuda", "--steps", str(args.steps), "--report", rep] + extra
            if train:
                cmd += ["--train", "--targets", tpath, "--schedule", "1f1b", "--lr", "1e-3"]
            subprocess.run(cmd, check=True, capture_output=True)
            r = json.load(open(rep))
            emit(kind="pipeline", training=train, stages=n, backend=backend,
                 microbatches=args.microbatches, samples_per_s=r["samples_per_s"],
                 speedup_vs_unpartitioned=r["samples_per_s"] / base, devices=r["devices"])
