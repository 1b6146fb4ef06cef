"""Comparisons for the tests: NaN or Inf on either side is a failure, never a silent max()."""
import math

import torch


def leaves(x):
    if isinstance(x, (tuple, list)):
        return [y for e in x for y in leaves(e)]
    return [x]


def tensor_rel_diff(got, want, floor=1.0):
    """max |got - want| / max(floor, max |want|); inf when shapes, dtypes or finiteness differ."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return math.inf
    if not got.is_floating_point():
        return 0.0 if torch.equal(got, want) else math.inf
    if got.numel() == 0:
        return 0.0
    if not (torch.isfinite(got).all() and torch.isfinite(want).all()):
        return math.inf
    return (got.double() - want.double()).abs().max().item() / max(floor, want.abs().max().item())


def rel_diff(got, want):
    """Worst tensor_rel_diff over the leaves of two (nested) outputs; non-tensors must be equal."""
    a, b = leaves(got), leaves(want)
    if len(a) != len(b):
        return math.inf
    worst = 0.0
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            worst = max(worst, tensor_rel_diff(x.cpu(), y.cpu()))
        elif x != y:
            return math.inf
    return worst


def compare_grads(got, want):
    """Worst relative difference of two {name: grad} dicts, and a line saying so."""
    if set(got) != set(want):
        return math.inf, f"names differ: {sorted(set(got) ^ set(want))[:4]}"
    worst = max((tensor_rel_diff(g.cpu(), want[n].cpu(), floor=1e-12) for n, g in got.items()),
                default=0.0)
    return worst, f"max rel diff {worst:.1e} over {len(got)} parameters"
