#!/usr/bin/env python3
"""bench/peer_bench.py's comparisons fail on NaN, inf and mismatched shapes, never pass them.

A check built on `max(...)` or `d > TOL` passes NaN (every comparison with it is false). This
feeds peer_bench's max_rel, grad_diff and tied_copies, and peer_report's check, values that hold
NaN and asserts each reports a failure. usage: peer_bench_nan_test.py BENCH_DIR WORK_DIR
"""
import math
import os
import sys

import torch

BENCH, WORK = sys.argv[1:3]
sys.path.insert(0, BENCH)
import peer_bench  # noqa: E402
import peer_report  # noqa: E402

failures = []


def expect(name, ok):
    print(f"{'ok  ' if ok else 'FAIL'} {name}")
    if not ok:
        failures.append(name)


ref = torch.ones(3, 4)
nan = ref.clone()
nan[1, 2] = float("nan")
inf = ref.clone()
inf[0, 0] = float("inf")

expect("max_rel: equal tensors give 0", peer_bench.max_rel(ref.clone(), ref) == 0)
expect("max_rel: NaN in the result gives NaN", math.isnan(peer_bench.max_rel(nan, ref)))
expect("max_rel: NaN in the reference gives NaN", math.isnan(peer_bench.max_rel(ref, nan)))
expect("max_rel: inf gives inf", peer_bench.max_rel(inf, ref) == math.inf)
expect("max_rel: another shape gives inf", peer_bench.max_rel(ref[:2], ref) == math.inf)

# A NaN gradient between good ones is the worst, wherever it comes in the order.
for order in (["a", "b", "c"], ["b", "a", "c"], ["c", "b", "a"]):
    ref_grads = {n: (ref, i) for i, n in enumerate(order)}
    got = {"a": ref.clone(), "b": nan, "c": ref * 1.5}
    d = peer_bench.grad_diff(got, ref_grads)
    expect(f"grad_diff {order}: NaN is the worst", math.isnan(d["grad_max_rel_diff"])
           and d["grad_worst"] == "b")

os.makedirs(WORK, exist_ok=True)
tied = [os.path.join(WORK, f"tied{r}.pt") for r in range(2)]
torch.save([[ref]], tied[0])
torch.save([[nan]], tied[1])
expect("tied_copies: a NaN copy gives NaN",
       math.isnan(peer_bench.tied_copies(tied, 3)["tied_copies_max_rel_diff"]))
torch.save([[ref.clone()]], tied[1])
expect("tied_copies: equal copies give 0",
       peer_bench.tied_copies(tied, 3)["tied_copies_max_rel_diff"] == 0)


def run(side="ppc", **figures):
    return dict(bench="run", side=side, transport="gloo", model="m", microbatches=2, **figures)


good = [run(output_max_rel_diff=0.0), run(grad_max_rel_diff=1e-7, grads_missing=[]),
        run("peer", tied_copies_max_rel_diff=0.0)]
expect("check: good figures pass", peer_report.check(good) == 0)
for key in ("output_max_rel_diff", "grad_max_rel_diff", "tied_copies_max_rel_diff"):
    for side in ("ppc", "peer", "peer-direct"):
        for value in (float("nan"), math.inf, 1.0):
            expect(f"check: {side} {key} = {value} fails",
                   peer_report.check(good + [run(side, **{key: value})]) == 1)
expect("check: a failed ppc run fails", peer_report.check(good + [run(error="boom")]) == 1)
expect("check: a missing gradient fails",
       peer_report.check(good + [run(grad_max_rel_diff=0.0, grads_missing=["w"])]) == 1)

print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
