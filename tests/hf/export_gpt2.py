#!/usr/bin/env python3
"""Exports a HuggingFace GPT-2 (random init from a config, nothing downloaded) as TorchScript.

usage: export_gpt2.py OUT.pt [--layers 4] [--embd 64] [--heads 4] [--vocab 1000] [--batch 4]
                             [--seq 16] [--tied]
Writes OUT.pt (torch.jit.trace of GPT2LMHeadModel with torchscript=True, the way HF documents its
TorchScript export; transformers is pinned to 4.46.3 by scripts/setup.sh: from 4.53 on its causal
mask is built with vmap, which torch.jit.trace cannot follow) and OUT.io.pt = {"inputs": (input_ids,), "outputs": model outputs}. --tied
keeps lm_head tied to wte (torchscript=False, return_dict=False), as the tied fixture is.
"""
import argparse
import os

import torch
import transformers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--embd", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--tied", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=args.layers, n_embd=args.embd, n_head=args.heads,
                                     vocab_size=args.vocab, n_positions=max(64, args.seq),
                                     torchscript=not args.tied, return_dict=False,
                                     attn_implementation="eager")
    model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.randint(0, args.vocab, (args.batch, args.seq),
                        generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        traced = torch.jit.trace(model, (ids,))
        outputs = traced(ids)
        eager = model(ids)
    worst = max((a - b).abs().max().item() for a, b in zip(torch.jit._flatten(outputs)[0],
                                                            torch.jit._flatten(eager)[0]))
    if worst > 1e-5:
        raise SystemExit(f"the trace differs from the eager model by {worst}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    traced.save(args.out)
    torch.save({"inputs": (ids,), "outputs": outputs}, args.out[:-3] + ".io.pt")
    print(f"exported GPT-2 ({args.layers} layers, n_embd {args.embd}, vocab {args.vocab}, "
          f"transformers {transformers.__version__}, torch {torch.__version__}) to {args.out}")


if __name__ == "__main__":
    main()
