#!/usr/bin/env python3
"""Exports a small byte-level GPT-2 (random init, nothing downloaded) as TorchScript for ppc.

usage: make_model.py OUT.pt [--layers 4] [--embd 128] [--heads 4] [--seq 128] [--batch 4]
Writes OUT.pt, torch.jit.trace of HF GPT2LMHeadModel with torchscript=True (the way HF
documents its TorchScript export), and OUT.io.pt = {"inputs": (input_ids,)}, one microbatch of
example inputs for `ppc --example-inputs`. torchscript=True clones lm_head's weight from wte's,
so the trace holds two equal parameters: compile with
`--tie transformer.wte.weight=lm_head.weight` to train them as one (their gradients summed).
"""
import argparse

import torch
import transformers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    torch.manual_seed(0)
    # use_cache=False: training needs the logits only, not every layer's keys and values.
    # Dropout off: the trace is taken in eval mode, which drops dropout from the graph anyway.
    config = transformers.GPT2Config(vocab_size=256, n_positions=args.seq, n_layer=args.layers,
                                     n_embd=args.embd, n_head=args.heads, use_cache=False,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                     torchscript=True, attn_implementation="eager")
    model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.randint(0, 256, (args.batch, args.seq), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        traced = torch.jit.trace(model, (ids,))
        worst = (traced(ids)[0] - model(ids)[0]).abs().max().item()
    if worst > 1e-5:
        raise SystemExit(f"the trace differs from the eager model by {worst}")
    traced.save(args.out)
    torch.save({"inputs": (ids,)}, args.out[:-3] + ".io.pt")
    params = sum(p.numel() for n, p in model.named_parameters() if n != "lm_head.weight")
    print(f"{args.out}: GPT-2, {args.layers} layers, n_embd {args.embd}, {args.heads} heads, "
          f"context {args.seq}, vocab 256, {params:,} parameters (lm_head tied to wte)")


if __name__ == "__main__":
    main()
