#!/usr/bin/env python3
"""pprun as a trainer (--data, optimizers, LR schedules, clipping, checkpoints) against PyTorch.

usage: trainer_test.py PPC PPRUN DATA_DIR WORK_DIR
The tiny GPT-2 with its tied head trains for 20 AdamW steps (warmup + cosine, gradient clipping)
on a token file this test writes; the reference is the unpartitioned model in plain PyTorch on
the batches the documented order gives (this file reads the token file itself). Per-step losses
and gradient norms rel <= 1e-4; weights after the run rel <= 1e-4 (max abs difference over the
tensor's largest entry) on every tensor but the key third of each attention c_attn.bias, and but
the quiet entries: those whose first-step gradient in the reference is at float-noise level
(<= 1e-5 of its tensor's largest), where Adam's first step, lr g / (|g| + eps), follows the
noise as it does on the key bias; they are counted and must stay within 2 lr a step of the
reference (one such c_fc.weight entry, its first gradient 1.3e-8 and later ones real, ended
1.4e-4 of the tensor's largest apart on one machine and under 1e-4 on another). Softmax
ignores the key bias, so its gradient is zero in exact arithmetic and float noise (~1e-11) in
both runs; AdamW divides that noise by its own size plus eps, so no two summation orders agree
on these entries (2.4e-4 to 3.1e-4 of the tensor's largest entry apart from PyTorch here, and
still 1.6e-4 or more with a reference that accumulates microbatches as the pipeline does). They
are checked against their exact-arithmetic value instead: the reference's key-bias gradient is
at noise level, each pipelined run's is too (its first step's, from --save-grads), and every
key-bias entry is within sum_k lr_k * G / eps of b0 * prod_k (1 - lr_k * wd) (|m_hat| <= G
bounds each Adam step by lr_k * G / eps; G is 10x the reference's measured noise): a tenth of
the ~sum_k lr_k that a real gradient would move it, and 600x what it moves. A run stopped after
10 steps and resumed equals one run: losses, gradient norms and every weight, the key bias too,
rel <= 1e-6 (they are bitwise equal: pprun runs every counted step on the graph executor's
optimized plans, see jitWarmUpSteps in runtime/Pipeline.cpp); a rank killed while checkpointing
leaves the previous checkpoint loadable, and resuming from it equals one run the same way; bad
data and resume arguments are one clear line. NaN fails every comparison. Prints one line per
case and 'N passed, N failed' at the end.
"""
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from compare import adam_weight_diff, quiet_entries  # noqa: E402

PPC, PPRUN, DATA, WORK = sys.argv[1:5]
os.makedirs(WORK, exist_ok=True)
passed, failed = 0, []
TIED = os.path.join(DATA, "gpt2-tiny-lm-tied.pt")
MASKED = os.path.join(DATA, "gpt2-tiny-lm-mask.pt")
STEPS, SEQ, BATCH, MICRO = 20, 16, 4, 2
LR, WARMUP, MIN_LR, CLIP, WD, BETAS = 3e-3, 5, 3e-4, 0.5, 0.1, (0.9, 0.95)
EPS = 1e-8  # AdamW's eps, torch's default on both sides
# How much larger than the reference's measured key-bias gradient noise a pipelined run's may be:
# pipelining reorders the same float sums, it does not change their size (measured: within 2x).
NOISE_FACTOR = 10
# Gradient entries this far below their tensor's largest on the first step are float noise of
# the summation (about 100 float32 ulps of the largest): on such an entry Adam's first step,
# lr g / (|g| + eps), follows the noise, so two summation orders move it apart by up to 2 lr a
# step. They are counted, bounded by that, and left out of the 1e-4 weight comparison.
QUIET = 1e-5
TRAIN = ["--train", "--optimizer", "adamw", "--lr", str(LR), "--weight-decay", str(WD),
         "--betas", f"{BETAS[0]},{BETAS[1]}", "--lr-schedule", "cosine", "--warmup", str(WARMUP),
         "--min-lr", str(MIN_LR), "--clip-grad-norm", str(CLIP), "--steps", str(STEPS),
         "--seq", str(SEQ), "--batch", str(BATCH), "--microbatches", str(MICRO)]


def report(name, ok, detail=""):
    global passed
    print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}", flush=True)
    if ok:
        passed += 1
    else:
        failed.append(name)


def run(args, env=None, timeout=300):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def last_line(proc):
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def compile_model(model, splits, name):
    out = os.path.join(WORK, name)
    proc = run([PPC, model, "--split", splits, "-o", out, "--force"])
    if proc.returncode != 0:
        raise RuntimeError(f"ppc failed ({proc.returncode}): {proc.stderr}")
    return out


def lr_at(k):
    """The issue's formula: warmup, then cosine to MIN_LR over the rest of STEPS."""
    if k < WARMUP:
        return LR * (k + 1) / WARMUP
    p = (k - WARMUP) / max(1, STEPS - WARMUP)
    return MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * p))


def token_batch(tokens, k):
    """Step k's batch by the documented order: B*T+1 tokens from (k*B*T) mod (N - B*T)."""
    n = BATCH * SEQ
    off = (k * n) % (len(tokens) - n)
    window = torch.from_numpy(tokens[off:off + n + 1].astype(np.int64))
    return window[:n].reshape(BATCH, SEQ), window[1:].reshape(BATCH, SEQ)


def is_key_bias(name):
    return name.endswith("attn.c_attn.bias")


def key_part(t):
    """The key third of a c_attn.bias (GPT-2's Conv1D packs query, key, value)."""
    n = t.shape[0] // 3
    return t[n:2 * n]


def worst(values):
    """The largest of `values`, NaN if any is NaN (Python's max skips NaN), inf if none."""
    values = list(values)
    if any(math.isnan(v) for v in values):
        return math.nan
    return max(values, default=math.inf)


def reference(tokens):
    """Losses, gradient norms, final parameters (every name, tied ones too) of plain PyTorch,
    and the key bias's gradient noise: (largest |grad| over steps and layers, the same on step 0
    alone, and the largest ratio of a step's key-bias |grad| to its c_attn.bias's largest).
    The tied weight is one parameter of the loaded model, so its gradient is the sum."""
    m = torch.jit.load(TIED)
    params = list(m.parameters())
    opt = torch.optim.AdamW(params, lr=LR, betas=BETAS, weight_decay=WD, eps=EPS)
    losses, norms, key_grads, ratios = [], [], [], []
    first_grads = {}
    for k in range(STEPS):
        ids, targets = token_batch(tokens, k)
        for group in opt.param_groups:
            group["lr"] = lr_at(k)
        opt.zero_grad(set_to_none=True)
        logits = m(ids)[0]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 targets.reshape(-1))
        loss.backward()
        key = [(key_part(p.grad).abs().max().item(), p.grad.abs().max().item())
               for n, p in m.named_parameters() if is_key_bias(n)]
        if k == 0:
            first_grads = {n: p.grad.abs() for n, p in m.named_parameters()}
        key_grads.append(worst(g for g, _ in key))
        ratios.append(worst(g / full for g, full in key))
        norms.append(torch.nn.utils.clip_grad_norm_(params, CLIP).item())
        opt.step()
        losses.append(loss.item())
    weights = {n: p.detach().clone() for n, p in m.named_parameters()}  # stages keep one name
    return (losses, norms, weights, (worst(key_grads), key_grads[0], worst(ratios)),
            {n: quiet_or_key(n, g) for n, g in first_grads.items()})


def quiet_or_key(name, first_grad):
    """The entries the 1e-4 weight check leaves out: the quiet ones, and every key bias (checked
    on its own, see the module docstring)."""
    mask = quiet_entries(first_grad, QUIET)
    if is_key_bias(name):
        n = mask.shape[0] // 3
        mask[n:2 * n] = True
    return mask


def exact_key_bias():
    """Each key bias as exact arithmetic leaves it: no gradient, so AdamW only decays it."""
    decay = math.prod(1 - lr_at(k) * WD for k in range(STEPS))
    return {n: key_part(p.detach()) * decay
            for n, p in torch.jit.load(TIED).named_parameters() if is_key_bias(n)}


def key_bias_drift(weights, exact):
    """The largest |entry - exact value| over every key bias of `weights`."""
    if not exact or any(n not in weights for n in exact):
        return math.inf
    return worst((key_part(weights[n]) - e).abs().max().item() for n, e in exact.items())


def checkpoint_weights(ckpt):
    """{qualified name: tensor} over every stage file of a checkpoint (tied copies each)."""
    stages = json.load(open(os.path.join(ckpt, "pipeline.json")))["stages"]
    weights = {}
    for s in stages:
        for n, p in torch.jit.load(os.path.join(ckpt, s["file"])).named_parameters():
            weights[n] = p.detach()
    return weights


def weight_diff(got, want):
    """(the largest max|got - want| / max|want| over tensors, the tensor it is on)."""
    if set(got) != set(want):
        return math.inf, "the parameter names differ"
    diffs = {n: (g - want[n]).abs().max().item() / max(1e-12, want[n].abs().max().item())
             for n, g in got.items()}
    d = worst(diffs.values())
    return d, next((n for n, v in diffs.items() if v == d or math.isnan(v)), "") if d else ""


def max_rel(got, want):
    if len(got) != len(want):
        return math.inf
    return worst(abs(a - b) / max(1e-12, abs(b)) for a, b in zip(got, want))


def steps_of(report_path):
    return json.load(open(report_path))["steps"]


def pipelined(stages, tokens_file, tag, extra, env=None):
    """Runs pprun; returns (proc, report steps or None, checkpoint dir)."""
    rep, ckpt = os.path.join(WORK, tag + ".report.json"), os.path.join(WORK, tag + ".ckpt")
    proc = run([PPRUN, stages, "--data", tokens_file, "--report", rep] + TRAIN + extra +
               (["--checkpoint", ckpt] if "--checkpoint" not in extra else []), env=env)
    return proc, (steps_of(rep) if proc.returncode == 0 else None), ckpt


def check_reference(want):
    """The premise of the key-bias bound, measured: its gradient is float noise, and the
    reference's own key bias obeys the bound with its measured noise."""
    _, _, weights, (noise, _, ratio), _ = want
    report("reference: every key bias's gradient is float noise", ratio <= 1e-6,
           f"max |grad| {noise:.1e}, {ratio:.1e} of its c_attn.bias's largest")
    drift = key_bias_drift(weights, exact_key_bias())
    bound = sum(lr_at(k) for k in range(STEPS)) * noise / EPS
    report("reference: key bias within Adam's noise bound of exact arithmetic", drift <= bound,
           f"max |b - exact| {drift:.1e}, bound {bound:.1e}")


def loss_curves(tokens_file, want, two, three):
    """Every configuration against the reference; returns the one-run losses, gradient norms and
    weights of the 2-stage 1f1b process run for the resume checks."""
    losses, norms, weights, (noise, noise0, _), quiet = want
    exact = exact_key_bias()
    bound = sum(lr_at(k) for k in range(STEPS)) * NOISE_FACTOR * noise / EPS
    one_run = None
    for label, stages in (("S=2", two), ("S=3", three)):
        for schedule in ("1f1b", "zero-bubble"):
            for backend in ("threads", "gloo"):
                tag = f"curve_{label}_{schedule}_{backend}"
                ckpt = os.path.join(WORK, tag + ".ckpt")
                shutil.rmtree(ckpt, ignore_errors=True)
                nproc = ["--nproc", label[-1]] if backend == "gloo" else []
                grads_file = os.path.join(WORK, tag + ".grads.pt")
                proc, steps, ckpt = pipelined(stages, tokens_file, tag, ["--schedule", schedule,
                                              "--save-grads", grads_file] + nproc)
                name = f"adamw+cosine+clip {label} {schedule} {backend}"
                if steps is None:
                    report(name, False, last_line(proc))
                    continue
                got = [s["loss"] for s in steps]
                d = max_rel(got, losses)
                report(f"{name}: per-step loss", d <= 1e-4, f"max rel diff {d:.1e} over "
                       f"{len(got)} steps ({got[0]:.4f} -> {got[-1]:.4f})")
                dn = max_rel([s["grad_norm"] for s in steps], norms)
                lrs = max_rel([s["lr"] for s in steps], [lr_at(k) for k in range(STEPS)])
                report(f"{name}: grad norm and lr per step", dn <= 1e-4 and lrs <= 1e-12,
                       f"grad norm max rel {dn:.1e}, lr max rel {lrs:.1e}")
                got_weights = checkpoint_weights(ckpt)
                dw, where, n_quiet, dq = adam_weight_diff(got_weights, weights, quiet)
                report(f"{name}: weights after the run, all but the key bias and quiet entries",
                       dw <= 1e-4, f"max rel diff {dw:.1e} ({where})")
                quiet_bound = 2 * sum(lr_at(k) for k in range(STEPS))
                report(f"{name}: the {n_quiet} quiet and key-bias entries move apart by at most 2 lr "
                       "a step",
                       dq <= quiet_bound, f"max |diff| {dq:.1e} <= {quiet_bound:.1e}")
                # The key bias: see the module docstring.
                grads = torch.load(grads_file)
                g0 = worst(key_part(g).abs().max().item() for n, g in grads.items()
                           if is_key_bias(n)) if grads else math.inf
                drift = key_bias_drift(got_weights, exact)
                apart = key_bias_drift(got_weights, {n: key_part(weights[n]) for n in exact})
                report(f"{name}: key bias: noise gradient, within the bound of exact arithmetic",
                       g0 <= NOISE_FACTOR * noise0 and drift <= bound,
                       f"step 0 max |grad| {g0:.1e} (reference {noise0:.1e}), max |b - exact| "
                       f"{drift:.1e} <= {bound:.1e}; {apart:.1e} from the reference")
                if label == "S=2" and schedule == "1f1b" and backend == "gloo":
                    one_run = (got, [s["grad_norm"] for s in steps], got_weights)
    return one_run


def resume(tokens_file, two, one_run):
    """--stop-after 10 then --resume: the same losses and weights as one run of 20 steps."""
    ckpt = os.path.join(WORK, "resume.ckpt")
    shutil.rmtree(ckpt, ignore_errors=True)
    first, s1, _ = pipelined(two, tokens_file, "resume_a",
                             ["--nproc", "2", "--stop-after", "10", "--checkpoint", ckpt])
    state = json.load(open(os.path.join(ckpt, "trainer.json"))) if first.returncode == 0 else {}
    report("--stop-after 10 leaves a checkpoint at step 10", state.get("step") == 10 and
           os.path.exists(os.path.join(ckpt, "optimizer", "rank1.pt")) and len(s1 or []) == 10,
           last_line(first) if first.returncode else f"trainer.json step {state.get('step')}")
    second, s2, _ = pipelined(two, tokens_file, "resume_b",
                              ["--nproc", "2", "--resume", ckpt, "--checkpoint", ckpt])
    if s1 is None or s2 is None or one_run is None:
        report("resume equals one run", False, last_line(second))
        return
    d = max_rel([s["loss"] for s in s1 + s2], one_run[0])
    dn = max_rel([s["grad_norm"] for s in s1 + s2], one_run[1])
    report("resume: losses and grad norms equal one run",
           d <= 1e-6 and dn <= 1e-6 and [s["step"] for s in s2] == list(range(10, 20)),
           f"loss max rel {d:.1e}, grad norm max rel {dn:.1e}, "
           f"resumed steps {s2[0]['step']}..{s2[-1]['step']}")
    report_resumed_weights("resume: every weight equals one run", ckpt, one_run)
    return ckpt


def report_resumed_weights(name, ckpt, one_run):
    """Every tensor, the key bias too: a resumed run repeats the arithmetic of the one run."""
    got = checkpoint_weights(ckpt)
    dw, where = weight_diff(got, one_run[2])
    bitwise = set(got) == set(one_run[2]) and all(torch.equal(g, one_run[2][n])
                                                  for n, g in got.items())
    report(name, dw <= 1e-6, f"max rel diff {dw:.1e} {where}, bitwise equal: {bitwise}")


def killed_checkpoint(tokens_file, two, one_run):
    """Rank 1 dies after writing its files for step 6's checkpoint: step 4's stays whole (it
    loads with torch.jit.load) and resuming from it gives the one run's losses."""
    ckpt = os.path.join(WORK, "killed.ckpt")
    shutil.rmtree(ckpt, ignore_errors=True)
    proc, _, _ = pipelined(two, tokens_file, "killed",
                           ["--nproc", "2", "--checkpoint-every", "2", "--checkpoint", ckpt],
                           env={"PPC_FAULT": "checkpoint:1:6"})
    state = json.load(open(os.path.join(ckpt, "trainer.json"))) if os.path.isdir(ckpt) else {}
    loads = all(torch.jit.load(os.path.join(ckpt, f"stage{k}.pt")) is not None for k in (0, 1)) \
        if state else False
    report("killed rank mid-checkpoint: the previous checkpoint is whole",
           proc.returncode != 0 and state.get("step") == 4 and loads,
           f"exit {proc.returncode}, trainer.json step {state.get('step')}: {last_line(proc)}")
    again, steps, _ = pipelined(two, tokens_file, "killed_resume",
                                ["--nproc", "2", "--resume", ckpt, "--checkpoint", ckpt])
    if steps is None or one_run is None:
        report("killed rank: resume from the previous checkpoint", False, last_line(again))
        return
    d = max_rel([s["loss"] for s in steps], one_run[0][4:])
    report("killed rank: resume from the previous checkpoint: losses equal one run", d <= 1e-6,
           f"loss max rel {d:.1e}")
    report_resumed_weights("killed rank: resume from the previous checkpoint: every weight "
                           "equals one run", ckpt, one_run)


def batch_dir(two):
    """--data DIR: batch files in sorted name order, step k from file k mod n (SGD with momentum
    against torch.optim.SGD on the same files)."""
    d = os.path.join(WORK, "batches")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    batches = []
    for i in range(3):
        g = torch.Generator().manual_seed(40 + i)
        ids, targets = (torch.randint(0, 1000, (BATCH, SEQ), generator=g) for _ in range(2))
        torch.save({"inputs": (ids,), "targets": targets}, os.path.join(d, f"batch{i:02d}.pt"))
        batches.append((ids, targets))
    m = torch.jit.load(TIED)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    want = []
    for k in range(5):
        ids, targets = batches[k % 3]
        opt.zero_grad()
        logits = m(ids)[0]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 1000), targets.reshape(-1))
        loss.backward()
        opt.step()
        want.append(loss.item())
    rep = os.path.join(WORK, "batchdir.report.json")
    proc = run([PPRUN, two, "--data", d, "--train", "--optimizer", "sgd", "--lr", "0.1",
                "--momentum", "0.9", "--steps", "5", "--microbatches", "2", "--report", rep])
    got = [s["loss"] for s in steps_of(rep)] if proc.returncode == 0 else []
    dl = max_rel(got, want)
    report("--data DIR, sgd with momentum: losses equal pytorch", dl <= 1e-4,
           f"max rel diff {dl:.1e}" if got else last_line(proc))
    torch.save({"inputs": (batches[0][0], batches[0][0]), "targets": batches[0][1]},
               os.path.join(d, "batch01.pt"))
    return d


def errors(two, tokens_file, bad_batches):
    def bad(name, args, message):
        proc = run([PPRUN] + args)
        lines = proc.stderr.strip().splitlines()
        ok = proc.returncode != 0 and any(message in l for l in lines) and len(lines) <= 2
        report(f"bad input: {name}", ok, lines[-1:] if lines else "")
    base = [two, "--train", "--seq", str(SEQ), "--batch", str(BATCH)]
    short = os.path.join(WORK, "short.bin")
    np.arange(BATCH * SEQ, dtype=np.uint16).tofile(short)
    empty = os.path.join(WORK, "empty_dir")
    os.makedirs(empty, exist_ok=True)
    bad("--data missing file", base + ["--data", os.path.join(WORK, "nope.bin")], "does not exist")
    bad("--data too short", base + ["--data", short], "needs more than 64")
    bad("--data-dtype", base + ["--data", tokens_file, "--data-dtype", "int8"],
        "--data-dtype must be uint16 or int32")
    bad("--data empty directory", base + ["--data", empty], "holds no batch files")
    bad("--data batch file with two inputs", base + ["--data", bad_batches, "--steps", "3"],
        "the pipeline takes 1 inputs, '")
    bad("--resume from a non-checkpoint", base + ["--data", tokens_file, "--resume", two],
        "is not a pprun checkpoint")
    bad("non-checkpoint --checkpoint directory", base + ["--data", tokens_file, "--checkpoint", two],
        "is not empty")
    masked = compile_model(MASKED, "model.transformer.h.2:begin", "gpt2_mask_trainer")
    bad("token file for a model of two inputs", [masked, "--train", "--data", tokens_file, "--seq",
                                                 str(SEQ), "--batch", str(BATCH)],
        "takes 2: give --data a directory")


def main():
    tokens = torch.randint(0, 1000, (3000,), generator=torch.Generator().manual_seed(31))
    tokens = tokens.numpy().astype(np.uint16)
    tokens_file = os.path.join(WORK, "tokens.bin")
    tokens.tofile(tokens_file)
    want = reference(tokens)
    two = compile_model(TIED, "transformer.h.2:begin", "tied2")
    three = compile_model(TIED, "transformer.h.1:begin,transformer.h.3:begin", "tied3")
    groups = json.load(open(os.path.join(two, "pipeline.json")))["tied"]
    report("the tied head is a tied group across stages 0 and 1",
           any(set(g["stages"]) == {0, 1} for g in groups), f"tied {groups}")
    check_reference(want)
    one_run = loss_curves(tokens_file, want, two, three)
    resume(tokens_file, two, one_run)
    killed_checkpoint(tokens_file, two, one_run)
    bad_batches = batch_dir(two)
    errors(two, tokens_file, bad_batches)


main()
print(f"{passed} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
