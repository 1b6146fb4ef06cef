#!/usr/bin/env python3
"""One rank of python_api_test.py's torchrun cases over Gloo, one stage a rank.

usage: torchrun --nproc-per-node 2 torchrun_worker.py STAGES BATCHES OUT
  trains with AdamW as check_training does in one process; rank 0 writes the losses and clip
  norms to OUT.
usage: torchrun --nproc-per-node 2 torchrun_worker.py STAGES scheduled OUTDIR
  the scheduled run (scheduled.py); rank 0 writes OUTDIR/result.json, every rank
  OUTDIR/weights<rank>.pt ({name: weight} of its stages).
"""
import json
import os
import sys

import torch

import ppc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scheduled import CLIP, scheduled_run, token_batches  # noqa: E402

STAGES, BATCHES, OUT = sys.argv[1:4]
torch.set_num_threads(1)
if BATCHES == "scheduled":
    pipe = ppc.Pipeline(STAGES, microbatches=2, schedule="1f1b", backend="gloo", timeout=60)
    losses, norms, _ = scheduled_run(list(pipe.parameters()),
                                     lambda x, y: pipe.step(x, target=y).item(),
                                     lambda: pipe.clip_grad_norm_(CLIP).item(), token_batches())
    torch.save({n: p.detach().clone() for n, p in pipe.named_parameters()},
               os.path.join(OUT, f"weights{pipe.rank}.pt"))
    if pipe.rank == 0:
        json.dump({"losses": losses, "norms": norms}, open(os.path.join(OUT, "result.json"), "w"))
    sys.exit(0)
pipe = ppc.Pipeline(STAGES, microbatches=4, schedule="1f1b", backend="gloo", timeout=60)
opt = torch.optim.AdamW(pipe.parameters(), lr=1e-3)
losses, norms = [], []
for x, y in torch.load(BATCHES):
    opt.zero_grad(set_to_none=True)
    losses.append(pipe.step(x, target=y).item())
    norms.append(pipe.clip_grad_norm_(1.0).item())
    opt.step()
if pipe.rank == 0:
    json.dump({"losses": losses, "norms": norms, "world_size": pipe.world_size,
               "stages": pipe.stages}, open(OUT, "w"))
