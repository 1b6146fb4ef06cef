#!/usr/bin/env python3
"""ppc.Pipeline (python/ppc) against the unpartitioned model trained in plain PyTorch.

usage: python_api_test.py PPC DATA_DIR WORK_DIR   (run with build/python3, which finds `ppc`)
A compiled gpt2-tiny-lm-tied (wte.weight = lm_head.weight, a tied group) trained by a torch
optimizer on pipe.parameters() must give PyTorch's per-step losses and clip norms (rel <= 1e-4),
inference must equal the model, save() must write loadable stages, and a runtime error must
arrive as a Python exception with ppc's one-line message; the same holds with 3 stages under
zero-bubble and with 2 torchrun processes over Gloo (torchrun_worker.py). And 20 steps on a token
stream with AdamW, a torch LambdaLR scheduler (warmup + cosine) and clipping, 2 stages 1F1B and 3
stages zero-bubble: losses and clip norms rel <= 1e-4, and every weight after the run rel <= 1e-4
but for the entries whose first-step gradient is float noise (the key bias among them; see
tests/support/compare.py quiet_entries), which must stay within 2 lr a step. Prints one line per
case and 'N passed, N failed' at the end.
"""
import functools
import json
import os
import shutil
import socket
import subprocess
import sys

import torch

import ppc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from compare import adam_weight_diff, quiet_entries, rel_diff  # noqa: E402  (NaN, Inf fail)
from scheduled import CLIP, LR, STEPS, lr_factor, scheduled_run, token_batches  # noqa: E402
from harness import Cases, run  # noqa: E402

PPC, DATA, WORK = sys.argv[1:4]
MODEL = os.path.join(DATA, "gpt2-tiny-lm-tied.pt")
os.makedirs(WORK, exist_ok=True)
checks = Cases()
report = checks.report
torch.set_num_threads(1)  # one thread per stage already


def compile_model(splits, name):
    out = os.path.join(WORK, name)
    run([PPC, MODEL, "--split", splits, "-o", out, "--force"], timeout=180)
    return out


def batches(steps):
    g = torch.Generator().manual_seed(31)
    return [(torch.randint(0, 1000, (8, 16), generator=g),
             torch.randint(0, 1000, (8, 16), generator=g)) for _ in range(steps)]


def cross_entropy(outputs, targets):
    logits = outputs[0] if isinstance(outputs, tuple) else outputs  # the loss takes output 0
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             targets.reshape(-1))


def reference_training(data, lr):
    """Per-step losses and clip norms of the unpartitioned model. TorchScript keeps the tie as
    one Parameter (wte.weight is lm_head's weight), so its gradient is the sum over both uses."""
    m = torch.jit.load(MODEL).eval()
    params = list(m.parameters())
    opt = torch.optim.AdamW(params, lr=lr)
    losses, norms = [], []
    for x, y in data:
        opt.zero_grad(set_to_none=True)
        loss = cross_entropy(m(x), y)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(params, 1.0).item())
        opt.step()
        losses.append(loss.item())
    return losses, norms, m


def pipeline_training(pipe, data, lr):
    opt = torch.optim.AdamW(pipe.parameters(), lr=lr)
    losses, norms = [], []
    for x, y in data:
        opt.zero_grad(set_to_none=True)
        losses.append(pipe.step(x, target=y).item())
        norms.append(pipe.clip_grad_norm_(1.0).item())
        opt.step()
    return losses, norms


@functools.lru_cache(maxsize=1)  # the same run for every configuration
def scheduled_reference():
    """The unpartitioned model's scheduled run: (losses, norms, first grads), the model."""
    m = torch.jit.load(MODEL).eval()
    ref = list(m.parameters())

    def ref_step(x, y):
        loss = cross_entropy(m(x), y)
        loss.backward()
        return loss.item()
    return scheduled_run(ref, ref_step, lambda: torch.nn.utils.clip_grad_norm_(ref, CLIP).item(),
                         token_batches()), m


def check_scheduled(name, pipe):
    """20 steps on a token stream with a torch scheduler and clipping: losses, clip norms and
    every weight after the run against the unpartitioned model (rel <= 1e-4 but for the entries
    whose first gradient is float noise, which must stay within 2 lr a step)."""
    got = scheduled_run(list(pipe.parameters()), lambda x, y: pipe.step(x, target=y).item(),
                        lambda: pipe.clip_grad_norm_(CLIP).item(), token_batches())
    compare_scheduled(name, got, {n: p.detach() for n, p in pipe.named_parameters()})


def check_scheduled_torchrun(name, stages):
    """The same on 2 torchrun processes over Gloo; each rank saves its stages' weights."""
    out = os.path.join(WORK, "torchrun_scheduled")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", str(free_port()), os.path.join(HERE, "torchrun_worker.py"),
                           stages, "scheduled", out], capture_output=True, text=True, timeout=180)
    result = os.path.join(out, "result.json")
    if proc.returncode != 0 or not os.path.exists(result):
        report(name, False, (proc.stderr.strip().splitlines() or ["no output"])[-1])
        return
    got = json.load(open(result))
    weights = {}
    for r in range(2):
        weights.update(torch.load(os.path.join(out, f"weights{r}.pt")))
    compare_scheduled(name, (got["losses"], got["norms"]), weights)


def compare_scheduled(name, got, mine):
    """got: (losses, norms, ...) of a pipelined scheduled run; mine: {name: weight} after it."""
    want, m = scheduled_reference()
    d = worst_rel(got[0], want[0])
    report(f"{name}: {STEPS} steps' losses (AdamW, LambdaLR warmup + cosine, clipping) equal "
           "pytorch", d <= 1e-4, f"max rel diff {d:.1e} ({got[0][0]:.4f} -> {got[0][-1]:.4f})")
    d = worst_rel(got[1], want[1])
    report(f"{name}: clip norms equal pytorch's", d <= 1e-4, f"max rel diff {d:.1e}")
    names = [n for n, _ in m.named_parameters()]
    quiet = {n: quiet_entries(g) for n, g in zip(names, want[2])}
    trained = {n: p.detach() for n, p in m.named_parameters()}
    dw, where, count, dq = adam_weight_diff(mine, trained, quiet)
    report(f"{name}: weights after the run equal pytorch's but for {count} quiet entries",
           dw <= 1e-4, f"max rel diff {dw:.1e} ({where})")
    bound = 2 * sum(LR * lr_factor(k) for k in range(STEPS))
    report(f"{name}: the quiet entries within 2 lr a step", dq <= bound,
           f"max |diff| {dq:.1e} <= {bound:.1e}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_torchrun(name, stages, steps, lr=1e-3):
    """torchrun_worker.py on 2 processes, one Gloo rank (and stage) each, against PyTorch."""
    data = batches(steps)
    want_losses, want_norms, _ = reference_training(data, lr)
    path, out = (os.path.join(WORK, "torchrun" + ext) for ext in (".batches.pt", ".json"))
    torch.save(data, path)
    if os.path.exists(out):
        os.remove(out)
    worker = os.path.join(HERE, "torchrun_worker.py")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", str(free_port()), worker, stages, path, out],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not os.path.exists(out):
        report(name, False, (proc.stderr.strip().splitlines() or ["no output"])[-1])
        return
    got = json.load(open(out))
    d = worst_rel(got["losses"], want_losses)
    report(f"{name}: {steps} AdamW steps' losses equal pytorch", d <= 1e-4,
           f"max rel diff {d:.1e}, world size {got['world_size']}, rank 0 holds {got['stages']}")
    d = worst_rel(got["norms"], want_norms)
    report(f"{name}: clip_grad_norm_ over both ranks equals pytorch's", d <= 1e-4,
           f"max rel diff {d:.1e}")


def worst_rel(got, want):
    return max(abs(a - b) / abs(b) for a, b in zip(got, want)) if len(got) == len(want) else 1.0


def check_training(name, pipe, steps, lr=1e-3):
    data = batches(steps)
    want_losses, want_norms, trained = reference_training(data, lr)
    got_losses, got_norms = pipeline_training(pipe, data, lr)
    d = worst_rel(got_losses, want_losses)
    report(f"{name}: {steps} AdamW steps' losses equal pytorch", d <= 1e-4,
           f"max rel diff {d:.1e} ppc {[round(x, 5) for x in got_losses]} "
           f"pytorch {[round(x, 5) for x in want_losses]}")
    d = worst_rel(got_norms, want_norms)
    report(f"{name}: clip_grad_norm_ equals torch.nn.utils.clip_grad_norm_", d <= 1e-4,
           f"max rel diff {d:.1e} ppc {[round(x, 4) for x in got_norms]}")
    return trained


def main():
    two = compile_model("transformer.h.2:begin", "two")
    x = batches(1)[0][0]
    with torch.no_grad():
        want = torch.jit.load(MODEL).eval()(x)

    pipe = ppc.Pipeline(two, microbatches=4, schedule="1f1b", loss="cross_entropy",
                        backend="threads")
    d = rel_diff(pipe(x), want)
    report("2 stages: pipe(x) equals the model", d <= 1e-5, f"max rel diff {d:.1e}")
    names = [n for n, _ in pipe.named_parameters()]
    report("2 stages: the tied weight is held by both stages",
           names.count("transformer.wte.weight") == 2 and pipe.world_size == 2,
           f"{names.count('transformer.wte.weight')} copies, world size {pipe.world_size}")

    trained = check_training("2 stages 1f1b threads", pipe, 5)
    with torch.no_grad():
        want_trained = trained(x)
    d = rel_diff(pipe(x), want_trained)
    report("2 stages: pipe(x) after training equals the trained model", d <= 1e-4,
           f"max rel diff {d:.1e}")

    copies = [p for n, p in pipe.named_parameters() if n == "transformer.wte.weight"]
    report("2 stages: the tied copies are bit-equal after training",
           torch.equal(copies[0], copies[1]),
           f"max diff {(copies[0] - copies[1]).abs().max().item():.1e}")

    saved = os.path.join(WORK, "saved")
    shutil.rmtree(saved, ignore_errors=True)
    pipe.save(saved)
    stage0 = torch.jit.load(os.path.join(saved, "stage0.pt"))
    weight = pipe.stage_parameters(0)["transformer.wte.weight"]
    same = dict(stage0.named_parameters()).get("transformer.wte.weight")
    report("save: torch.jit.load of stage0.pt holds the trained weights",
           same is not None and torch.equal(same, weight.detach()),
           "" if same is None else f"max diff {(same - weight.detach()).abs().max().item():.1e}")
    d = rel_diff(ppc.Pipeline(saved, microbatches=2, backend="threads")(x), want_trained)
    report("save: the saved directory runs again with the trained outputs", d <= 1e-4,
           f"max rel diff {d:.1e}")

    missing = os.path.join(WORK, "missing")
    shutil.rmtree(missing, ignore_errors=True)
    shutil.copytree(two, missing)
    os.remove(os.path.join(missing, "stage1.pt"))
    try:
        ppc.Pipeline(missing, backend="threads")
        report("a missing stage file raises", False, "no exception")
    except RuntimeError as e:
        msg = str(e)
        report("a missing stage file raises RuntimeError with one line naming it",
               "\n" not in msg and "stage1.pt" in msg, repr(msg))

    three = compile_model("transformer.h.1:begin,transformer.h.3:begin", "three")
    check_training("3 stages zero-bubble threads",
                   ppc.Pipeline(three, microbatches=4, schedule="zero-bubble",
                                backend="threads"), 3)
    check_torchrun("2 stages 1f1b torchrun gloo", two, 5)
    check_scheduled("2 stages 1f1b threads",
                    ppc.Pipeline(two, microbatches=2, schedule="1f1b", backend="threads"))
    check_scheduled("3 stages zero-bubble threads",
                    ppc.Pipeline(three, microbatches=2, schedule="zero-bubble", backend="threads"))
    check_scheduled_torchrun("2 stages 1f1b torchrun gloo", two)


main()
checks.finish()
