#!/usr/bin/env python3
"""One rank of python_api_test.py's torchrun case: trains STAGES over Gloo with AdamW, as
check_training does in one process, and rank 0 writes the losses and clip norms to OUT.

usage: torchrun --nproc-per-node 2 torchrun_worker.py STAGES BATCHES OUT
"""
import json
import sys

import torch

import ppc

STAGES, BATCHES, OUT = sys.argv[1:4]
torch.set_num_threads(1)
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
