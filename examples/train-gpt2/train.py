#!/usr/bin/env python3
"""Trains a compiled stages directory on a token file through ppc's Python API.

usage: torchrun --standalone --nproc-per-node 2 train.py STAGES TOKENS.bin OUT_DIR [options]
       (or plain `python3 train.py ...`: one process, a thread per stage)
Each step k reads the B*T+1 tokens at offset (k*B*T) mod (N - B*T) of the uint16 file, the order
`pprun --data` reads them in, so `pprun --train --data` with the same flags trains on the same
batches. AdamW, linear warmup then cosine decay (pprun's --lr-schedule cosine formula, as a
torch LambdaLR), global gradient clipping over both ranks. Rank 0 logs each step and writes
OUT_DIR/loss.csv and OUT_DIR/loss.png; every rank writes its stages into OUT_DIR/trained/.
"""
import argparse
import csv
import math
import os
import time

import numpy as np
import torch

import ppc

PROMPT = b"And God said"


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("stages")
    ap.add_argument("tokens")
    ap.add_argument("out")
    ap.add_argument("--seq", type=int, default=128, help="T, tokens per row")
    ap.add_argument("--batch", type=int, default=16, help="B, rows per step")
    ap.add_argument("--microbatches", type=int, default=4)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--clip-grad-norm", type=float, default=1.0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--sample", type=int, default=200, help="bytes to generate at the end")
    return ap.parse_args()


def lr_factor(step, args):
    """pprun's schedule (runtime/LrSchedule.cpp) over --steps, as a fraction of --lr."""
    if step < args.warmup:
        return (step + 1) / args.warmup
    p = (step - args.warmup) / max(1, args.steps - args.warmup)
    return (args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * p))) / args.lr


def batch(tokens, step, b, t):
    """Step `step`'s inputs and targets, read exactly as pprun --data reads them."""
    offset = (step * b * t) % (len(tokens) - b * t)
    ids = torch.from_numpy(tokens[offset:offset + b * t + 1].astype(np.int64))
    return ids[:-1].view(b, t), ids[1:].view(b, t)


def sample(pipe, prompt, n, seq, rows, temperature=0.8):
    """n bytes drawn after `prompt`, from a window of the last `seq` bytes. Every microbatch needs
    a row, so the window is repeated; the generator is seeded alike on every rank, and every
    rank gets the same logits, so all ranks feed the same bytes."""
    g = torch.Generator().manual_seed(0)
    ids = list(prompt)
    for _ in range(n):
        logits = pipe(torch.tensor(ids[-seq:]).repeat(rows, 1))[0, -1]
        probs = torch.softmax(logits / temperature, dim=-1)
        ids.append(int(torch.multinomial(probs, 1, generator=g)))
    return bytes(ids[len(prompt):]).decode("utf-8", "replace")


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")  # no display; rank 0 only writes the file
    import matplotlib.pyplot as plt
    steps, losses, lrs = zip(*[(r[0], r[1], r[2]) for r in rows])
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(steps, losses, lw=1, color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (nats/byte)", color="tab:blue")
    lr_ax = ax.twinx()
    lr_ax.plot(steps, lrs, lw=1, color="tab:gray", ls="--")
    lr_ax.set_ylabel("learning rate", color="tab:gray")
    ax.set_title("byte-level GPT-2 on the KJV, 2 pipeline stages (ppc)")
    fig.tight_layout()
    fig.savefig(path)


def main():
    args = parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # one core per rank: 2 ranks share the 2 cores
    tokens = np.memmap(args.tokens, dtype=np.uint16, mode="r")
    pipe = ppc.Pipeline(args.stages, microbatches=args.microbatches, schedule="1f1b",
                        loss="cross_entropy")
    opt = torch.optim.AdamW(pipe.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: lr_factor(k, args))
    lead = pipe.rank == 0
    if lead:
        os.makedirs(args.out, exist_ok=True)
        print(f"{len(tokens):,} tokens; {pipe.world_size} ranks, stages {pipe.stages} here; "
              f"B={args.batch} T={args.seq} M={args.microbatches}", flush=True)

    rows, begin = [], time.perf_counter()
    for step in range(args.steps):
        x, y = batch(tokens, step, args.batch, args.seq)
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = pipe.step(x, target=y).item()
        norm = pipe.clip_grad_norm_(args.clip_grad_norm).item()
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        tok_s = x.numel() / (time.perf_counter() - start)
        rows.append((step, loss, lr, norm, tok_s))
        if lead and (step % args.log_every == 0 or step == args.steps - 1):
            print(f"step {step:4d}  loss {loss:.4f}  lr {lr:.2e}  grad norm {norm:.3f}  "
                  f"{tok_s:,.0f} tokens/s", flush=True)
    elapsed = time.perf_counter() - begin

    pipe.save(os.path.join(args.out, "trained"))
    text = ""
    if args.sample > 0:  # every rank runs the pipeline; rank 0 prints
        text = sample(pipe, PROMPT, args.sample, args.seq, args.microbatches)
    if not lead:
        return
    with open(os.path.join(args.out, "loss.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "loss", "lr", "grad_norm", "tokens_per_s"])
        w.writerows([(s, f"{l:.5f}", f"{r:.6g}", f"{n:.4f}", f"{t:.0f}") for s, l, r, n, t in rows])
    plot(rows, os.path.join(args.out, "loss.png"))
    print(f"trained {args.steps} steps in {elapsed:.1f} s "
          f"({args.steps * args.batch * args.seq / elapsed:,.0f} tokens/s); loss "
          f"{rows[0][1]:.3f} -> {rows[-1][1]:.3f}; wrote {args.out}/loss.csv, loss.png, trained/")
    if text:
        print(f"sample (temperature 0.8): {PROMPT.decode()}{text}")


if __name__ == "__main__":
    main()
