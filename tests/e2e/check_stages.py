#!/usr/bin/env python3
"""The project's own check of a ppc output directory, independent of its C++ code.

Loads every stage with plain torch.jit.load, chains them as pipeline.json wires them, and
compares the model outputs with the reference (max relative difference <= tol for floating
tensors, exact for integer tensors and other values). With --model, also checks that every stage
parameter is the model's parameter of that name with an equal value, that each stage holds only
what it lists, and that every tied name exists in the model.

usage: check_stages.py DIR IO.pt [--model MODEL.pt] [--stages N] [--tol 1e-5]
"""
import argparse
import json
import os
import sys

import torch


def leaves(x):
    if isinstance(x, (tuple, list)):
        return [y for e in x for y in leaves(e)]
    return [x]


def compare(got, want, tol):
    a, b = leaves(got), leaves(want)
    if len(a) != len(b):
        return False, f"{len(a)} output leaves, the model has {len(b)}"
    worst = 0.0
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, torch.Tensor) != isinstance(y, torch.Tensor):
            return False, f"leaf {i}: tensor vs non-tensor"
        if not isinstance(x, torch.Tensor):
            if x != y:
                return False, f"leaf {i}: {x!r} vs {y!r}"
            continue
        if x.shape != y.shape or x.dtype != y.dtype:
            return False, f"leaf {i}: {tuple(x.shape)} {x.dtype} vs {tuple(y.shape)} {y.dtype}"
        if not x.is_floating_point():
            if not torch.equal(x, y):
                return False, f"leaf {i}: integer tensor differs"
            continue
        # max() drops NaN (every comparison with it is false): non-finite values fail on their own.
        bad_x, bad_y = int((~x.isfinite()).sum()), int((~y.isfinite()).sum())
        if bad_x or bad_y:
            return False, f"leaf {i}: holds NaN/Inf ({bad_x} in the stages, {bad_y} in the model)"
        if x.numel():
            scale = max(1.0, y.abs().max().item())
            worst = max(worst, (x - y).abs().max().item() / scale)
    return worst <= tol, f"max rel diff {worst:.2e}"


def check_parameters(manifest, modules, model_path):
    model = torch.jit.load(model_path)
    # C++ lists every name of a shared tensor; Python lists it once. Check against both.
    named = dict(model.named_parameters())
    named.update(dict(model.named_buffers()))
    for st, mod in zip(manifest["stages"], modules):
        listed = set(st["parameters"])
        for name, p in list(mod.named_parameters()) + list(mod.named_buffers()):
            if name not in named or not torch.equal(p, named[name]):
                return f"stage {st['index']}: {name} is not the model's tensor of that name"
            if name not in listed:
                return f"stage {st['index']}: holds {name}, which pipeline.json does not list"
    for group in manifest["tied"]:
        for name in group["parameters"]:
            if not hasattr_path(model, name):
                return f"tied name {name} is not in the model"
    return None


def hasattr_path(module, name):
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("io")
    ap.add_argument("--model")
    ap.add_argument("--stages", type=int)
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    with open(os.path.join(args.dir, "pipeline.json")) as f:
        manifest = json.load(f)
    if manifest.get("format") != "ppc.pipeline/1":
        print(f"FAIL: format {manifest.get('format')!r}")
        return 1
    stages = manifest["stages"]
    if args.stages is not None and len(stages) != args.stages:
        print(f"FAIL: {len(stages)} stages, expected {args.stages}")
        return 1
    ref = torch.load(args.io)
    env = {spec["name"]: x for spec, x in zip(manifest["inputs"], ref["inputs"])}
    modules = []
    for st in stages:
        mod = torch.jit.load(os.path.join(args.dir, st["file"]))
        modules.append(mod)
        with torch.no_grad():
            out = mod(*[env[i["value"]] for i in st["inputs"]])
        if not isinstance(out, tuple) or len(out) != len(st["outputs"]):
            print(f"FAIL: stage {st['index']} does not return a tuple of its {len(st['outputs'])} outputs")
            return 1
        env.update(zip(st["outputs"], out))
    got = tuple(env[o["value"]] for o in manifest["outputs"])
    want = ref["outputs"] if isinstance(ref["outputs"], tuple) else (ref["outputs"],)
    ok, why = compare(got, want, args.tol)
    if ok and args.model:
        problem = check_parameters(manifest, modules, args.model)
        if problem:
            ok, why = False, problem
    print(("ok: " if ok else "FAIL: ") + f"{len(stages)} stages, {why}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
