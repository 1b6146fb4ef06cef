#!/usr/bin/env python3
"""Every bad input to ppc gets a short, clear message, a non-zero exit and no output.

usage: errors_test.py PPC DATA_DIR FIXTURES_DIR
"""
import os
import subprocess
import sys
import tempfile

import torch

PPC, DATA, FIXTURES = sys.argv[1:4]
GPT2 = os.path.join(DATA, "gpt2-tiny-lm.pt")
failures = []


def expect_error(name, args, message, out=None):
    """Runs ppc; checks exit code, the message, at most two error lines, no backtrace, no output."""
    proc = subprocess.run([PPC] + args, capture_output=True, text=True, timeout=120)
    lines = [l for l in proc.stderr.splitlines() if "warning:" not in l]
    problems = []
    if proc.returncode == 0:
        problems.append("exit code 0")
    if not any(message in l for l in lines):
        problems.append(f"no line contains {message!r}")
    if len(lines) > 2:
        problems.append(f"{len(lines)} lines of error output")
    if "Exception raised from" in proc.stderr or "frame #" in proc.stderr:
        problems.append("a LibTorch backtrace")
    if out is not None and os.path.exists(out) and os.listdir(out):
        problems.append(f"{out} was written")
    status = "ok" if not problems else "FAIL: " + "; ".join(problems)
    print(f"{name}: {status}\n  {proc.stderr.strip()}")
    if problems:
        failures.append(name)


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "out")
    truncated = os.path.join(tmp, "truncated.pt")
    with open(GPT2, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[: 300_000])
    random_bytes = os.path.join(tmp, "random.pt")
    with open(random_bytes, "wb") as g:
        g.write(os.urandom(4096))
    state_dict = os.path.join(tmp, "state_dict.pt")
    torch.save({"w": torch.ones(3)}, state_dict)
    split = ["--split", "transformer.h.2:begin", "-o", out]

    expect_error("missing file", [os.path.join(tmp, "nope.pt")] + split, "not found", out)
    expect_error("truncated archive", [truncated] + split, "not a TorchScript archive", out)
    expect_error("random bytes", [random_bytes] + split, "not a TorchScript archive", out)
    expect_error("state dict", [state_dict] + split, "is a torch.save file", out)
    expect_error("unknown module path", [GPT2, "--split", "transformer.h.9:begin", "-o", out],
                 "closest module paths: transformer.h.0", out)
    expect_error("bad position word", [GPT2, "--split", "transformer.h.2:middle", "-o", out],
                 "expected PATH:begin or PATH:end", out)
    expect_error("same split twice",
                 [GPT2, "--split", "transformer.h.2:begin", "--split", "transformer.h.2:begin",
                  "-o", out], "is given twice", out)
    expect_error("coinciding splits",
                 [GPT2, "--split", "transformer.h.1:begin,transformer.h.1.ln_1:begin", "-o", out],
                 "are the same point", out)
    expect_error("unknown option", [GPT2, "--splitt", "x"], "unknown option '--splitt'")
    expect_error("simulation without costs",
                 [GPT2, "--split", "transformer.h.2:begin", "--simulate", "1f1b:M=8"],
                 "--simulate has no op costs to work with")
    expect_error("memory cap too small for the schedule",
                 [GPT2, "--stages", "3", "--example-inputs", os.path.join(DATA, "gpt2-tiny-lm.io.pt"),
                  "--balance", "flops", "--max-stage-mb", "1.5", "--simulate", "gpipe:M=8",
                  "-o", out], "fits the memory cap of 1.5 MB", out)
    expect_error("bad --recompute with user splits",
                 [GPT2, "--split", "transformer.h.1:begin", "--recompute", "some", "-o", out],
                 "--recompute must be none, all or auto, not 'some'", out)
    expect_error("more splits than stages",
                 [GPT2, "--split", "transformer.h.1:begin,transformer.h.2:begin", "--stages", "2",
                  "-o", out], "split points were given", out)
    expect_error("bad tie", [GPT2, "--tie", "transformer.wte.weight=nope", "--print-ir"],
                 "has no parameter 'nope'")

    os.makedirs(out)
    with open(os.path.join(out, "keep.txt"), "w") as f:
        f.write("user data")
    expect_error("non-empty output directory", split and [GPT2] + split, "is not empty")
    with open(os.path.join(out, "keep.txt")) as f:
        if f.read() != "user data":
            failures.append("non-empty output directory was modified")

    ifmodel = os.path.join(FIXTURES, "ifmodel_script.pt")
    out2 = os.path.join(tmp, "out2")
    expect_error("split inside control flow",
                 [ifmodel, "--split", "layers.1.branch_a:begin", "-o", out2],
                 "inside control flow (prim::If in module 'layers.1')", out2)

print(f"{len(failures)} failed: {failures}" if failures else "all error cases ok")
sys.exit(1 if failures else 0)
