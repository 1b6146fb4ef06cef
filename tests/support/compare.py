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


def quiet_entries(first_grad, quiet=1e-5):
    """The entries whose first step's gradient is at float-noise level of its tensor's summation
    (|grad| <= quiet x the tensor's largest, about 100 float32 ulps): Adam's first step moves
    each by lr g / (|g| + eps), so it follows their noise and two summation orders move them
    apart by up to 2 lr a step. Weight comparisons after Adam leave them out and bound them."""
    return first_grad.abs() <= quiet * first_grad.abs().max()


def adam_weight_diff(got, want, quiet):
    """(worst max|got - want| / max|want| over tensors without their quiet entries, the tensor,
    the number of quiet entries, their largest |got - want|) for {name: tensor} dicts; quiet:
    {name: mask} from quiet_entries. NaN anywhere is inf."""
    if set(got) != set(want):
        return math.inf, "the parameter names differ", 0, math.inf
    worst, where, count, quiet_worst = 0.0, "", 0, 0.0
    for n, g in got.items():
        d = (g.double() - want[n].double()).abs()
        if not torch.isfinite(d).all():
            return math.inf, n, 0, math.inf
        mask = quiet[n]
        count += int(mask.sum())
        if mask.any():
            quiet_worst = max(quiet_worst, d[mask].max().item())
        rel = torch.where(mask, torch.zeros_like(d), d).max().item() / max(
            1e-12, want[n].abs().max().item())
        if rel >= worst:
            worst, where = rel, n
    return worst, where, count, quiet_worst
