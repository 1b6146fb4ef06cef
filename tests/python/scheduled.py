"""The scheduled training run python_api_test.py and torchrun_worker.py both do: AdamW with
weight decay, a torch LambdaLR (pprun's --lr-schedule cosine --warmup 5 --min-lr 3e-4) and
clipping, on batches cut from one token stream."""
import math

import torch

STEPS, WARMUP, LR, MIN_LR, CLIP = 20, 5, 3e-3, 3e-4, 0.5


def lr_factor(k):
    """pprun's --lr-schedule cosine --warmup 5 --min-lr 3e-4 as a LambdaLR factor of LR."""
    if k < WARMUP:
        return (k + 1) / WARMUP
    p = (k - WARMUP) / max(1, STEPS - WARMUP)
    return (MIN_LR + (LR - MIN_LR) * (1 + math.cos(math.pi * p)) / 2) / LR


def token_batches():
    """20 batches of (4, 16) from one token stream, inputs and the same shifted by one."""
    tokens = torch.randint(0, 1000, (3000,), generator=torch.Generator().manual_seed(7))
    out = []
    for k in range(STEPS):
        chunk = tokens[k * 64:k * 64 + 65]
        out.append((chunk[:-1].reshape(4, 16).clone(), chunk[1:].reshape(4, 16).clone()))
    return out


def scheduled_run(params, step_fn, clip_fn, data):
    """AdamW (weight decay 0.1) with warmup + cosine (LambdaLR) and clipping; losses, norms and
    the first step's gradients."""
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.1, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    losses, norms, first = [], [], None
    for x, y in data:
        opt.zero_grad(set_to_none=True)
        losses.append(step_fn(x, y))
        if first is None:
            first = [p.grad.detach().clone() for p in params]
        norms.append(clip_fn())
        opt.step()
        sched.step()
    return losses, norms, first
