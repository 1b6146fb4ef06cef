#!/usr/bin/env python3
"""ppc against torch.distributed.pipelining on the same models, split, microbatches, schedule,
process count and threads, in one run. Prints one JSON object a line; --markdown writes tables.

usage: bench/peer_bench.py [--build build] [--models a,b] [--microbatches 4,8,16]
                           [--schedule 1f1b] [--warmup 2] [--steps 15] [--device cpu|cuda]
                           [--modes infer,train] [--peer-modes default,direct]
                           [--transports gloo,gloo-p2p,threads]
                           [--quick] [--check] [--markdown FILE] [--json FILE]

Per model (bench/peer_models.py):
- split: wall time of pipeline(model, mb_args, split_spec) in this process against the ppc
  process for the same --split (load, partition, write), and ppc --stages N with its cost model.
- correctness: inference outputs and one training step's gradients of each side against the
  unpartitioned eager model on the whole batch (max over tensors of max|a-b| / max|b|; NaN or a
  shape mismatch counts as a failure, never as a small difference), and for the peer whether
  the copies of each tied parameter are still equal after the run's last optimizer step.
- throughput: step time and samples/s of inference and training (SGD) at each M, both sides as
  separate processes over Gloo (ranks launched here with RANK/WORLD_SIZE/MASTER_*, one intra-op
  thread each), plus pprun's threads transport; peak RSS per rank sampled from /proc.
The peer runs in both of its usual modes (peer_worker.py): "default", pipeline()'s stage
submodules run through torch.fx.Interpreter, and "direct", their generated code called directly.
In training it all-reduces the gradients of the parameters pipeline() replicated (tied weights),
as torch.distributed.pipelining asks its users to; ppc sums tied gradients itself.
A side that fails is reported with its own message, never a number. Each run makes --warmup
steps that are not timed, then --steps measured ones; a step's time is the slowest rank's, and
the records give the median, quartiles, minimum and maximum over the measured steps.
--check (the ctest e2e.peer_bench_check) fails on a failed ppc run and on any correctness figure,
of either side, that is not within peer_report.TOL; it never looks at a time.
"""
import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peer_models  # noqa: E402
import peer_report  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--ppc", help="the ppc binary (default: BUILD/tools/ppc)")
    ap.add_argument("--pprun", help="the pprun binary (default: BUILD/tools/pprun)")
    ap.add_argument("--models", default="gpt2-12l,gpt2-12l-stock,unet-skip,tied-lm,non-tensor,gpt2-124m")
    ap.add_argument("--microbatches", default="4,8,16")
    ap.add_argument("--schedule", default="1f1b", choices=["gpipe", "1f1b"])
    ap.add_argument("--modes", default="infer,train", help="inference, training or both")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps before the measured ones")
    ap.add_argument("--steps", type=int, default=15, help="measured steps per run")
    ap.add_argument("--peer-modes", default="default,direct",
                    help="default: stage submodules through torch.fx.Interpreter; direct: their "
                    "generated code")
    ap.add_argument("--transports", help="pprun's, comma-separated (default: gloo,gloo-p2p,threads "
                    "on the CPU, nccl,threads on GPUs)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads per rank, both sides")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--backend", default=None, help="gloo (default on cpu) or nccl")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--big-batch", type=int, default=16, help="batch of gpt2-124m")
    ap.add_argument("--big-seq", type=int, default=16, help="sequence length of gpt2-124m")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--quick", action="store_true",
                    help="small models, M=4, 1 warm-up and 3 measured steps")
    ap.add_argument("--markdown", help="write the tables here")
    ap.add_argument("--json", help="write every record here too")
    ap.add_argument("--check", action="store_true",
                    help="exit non-zero when a ppc run fails or any side's correctness figure "
                    "is beyond peer_report.TOL or NaN (the ctest e2e.peer_bench_check)")
    args = ap.parse_args()
    if args.quick:
        args.models = "gpt2-12l,unet-skip,tied-lm,non-tensor" if args.models == ap.get_default(
            "models") else args.models
        args.microbatches, args.warmup, args.steps, args.batch, args.seq = "4", 1, 3, 8, 16
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be at least 1 and --warmup at least 0")
    args.backend = args.backend or ("nccl" if args.device == "cuda" else "gloo")
    args.ppc = args.ppc or os.path.join(args.build, "tools", "ppc")
    args.pprun = args.pprun or os.path.join(args.build, "tools", "pprun")
    args.transports = (args.transports or ("gloo,gloo-p2p,threads" if args.device == "cpu" else
                                           "nccl,threads")).split(",")
    args.peer_modes = args.peer_modes.split(",")
    args.modes = args.modes.split(",")
    if not args.modes or set(args.modes) - {"infer", "train"}:
        ap.error("--modes: infer, train or infer,train")
    for mode in args.peer_modes:
        if mode not in PEER_SIDES:
            ap.error(f"--peer-modes: {mode} is neither default nor direct")
    return args


# The peer's execution modes (peer_worker.py) and the side each is reported as.
PEER_SIDES = {"default": "peer", "direct": "peer-direct"}


class Bench:
    def __init__(self, args):
        self.args = args
        self.ppc, self.pprun = args.ppc, args.pprun
        self.work = tempfile.mkdtemp(prefix="ppc-peer-bench-")
        self.records = []
        # pprun's process transports: values pickled over Gloo, or tensors by p2p with their
        # structure on a side channel (gloo-p2p on the CPU, nccl on GPUs); threads: one process.
        self.ppc_transports = args.transports
        self.shapes = dict(batch=args.batch, seq=args.seq, big_batch=args.big_batch,
                           big_seq=args.big_seq)
        self.env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                        MKL_NUM_THREADS=str(args.threads))

    def emit(self, **record):
        self.records.append(record)
        print(json.dumps(record), flush=True)

    # -- processes ----------------------------------------------------------------------------
    def launch(self, cmds, env_extra=None):
        """Runs one process per rank (RANK/WORLD_SIZE/MASTER_* when several); returns
        (exit codes, peak RSS MB per process, stderr tails)."""
        port = free_port()
        procs = []
        try:
            return self._launch(cmds, port, procs, env_extra)
        finally:  # a failure here must not leave ranks behind
            for proc, _ in procs:
                if proc.poll() is None:
                    proc.kill()

    def _launch(self, cmds, port, procs, env_extra):
        for rank, cmd in enumerate(cmds):
            env = dict(self.env, **(env_extra or {}))
            if len(cmds) > 1:
                env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(len(cmds)),
                           MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
            err = open(os.path.join(self.work, f"stderr.{port}.{rank}"), "w+")
            procs.append((subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err), err))
        codes, rss = wait_all([p for p, _ in procs], self.args.timeout)
        errs = []
        for _, err in procs:
            err.seek(0)
            errs.append(err.read()[-2000:])
        return codes, rss, errs

    def timed(self, cmd):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        ms = (time.perf_counter() - start) * 1e3
        return ms, proc

    # -- one model ----------------------------------------------------------------------------
    def model(self, name):
        spec = peer_models.models(**self.shapes)[name]
        d = os.path.join(self.work, name)
        os.makedirs(d)
        torch.manual_seed(0)
        inputs, targets = spec.inputs(), spec.targets()
        ref_out, ref_grads = reference(spec, inputs, targets)
        model_pt = os.path.join(d, "model.pt")
        try:
            peer_models.export(spec, model_pt)
            export_error = None
        except Exception as e:  # TorchScript could not export it: ppc has no input
            export_error = f"TorchScript export ({spec.export_kind}) failed: {type(e).__name__}: {e}"
        io = os.path.join(d, "io.pt")
        torch.save({"inputs": inputs}, io)
        tgt = os.path.join(d, "targets.pt")
        torch.save(targets, tgt)
        ms = [int(m) for m in self.args.microbatches.split(",")]
        stages_dir = self.split(name, spec, model_pt, inputs, ms[0], d, export_error)
        ctx = dict(name=name, spec=spec, d=d, io=io, tgt=tgt, ref_out=ref_out, ref_grads=ref_grads,
                   stages=stages_dir)
        for m in ms if spec.sweep else ms[:1]:
            for train in [mode == "train" for mode in self.args.modes]:
                for mode in self.args.peer_modes:
                    self.peer_run(ctx, m, train, m == ms[0], mode)
                for transport in self.ppc_transports:
                    self.ppc_run(ctx, m, train, m == ms[0] and transport != "threads", transport)

    def split(self, name, spec, model_pt, inputs, m, d, export_error):
        from torch.distributed import pipelining as pp
        model = peer_models.build(spec)
        example = tuple(t.tensor_split(m)[0] for t in inputs)
        points = {n: pp.SplitPoint.BEGINNING if w == "begin" else pp.SplitPoint.END
                  for n, w in spec.split}
        start = time.perf_counter()
        try:
            with peer_models.plain_causal_mask(spec.gpt2_mask):
                pipe = pp.pipeline(model, example, split_spec=points)
            peer = dict(ms=(time.perf_counter() - start) * 1e3, stages=pipe.num_stages)
        except Exception as e:
            peer = dict(error=f"{type(e).__name__}: {e}")
        split_flag = ",".join(f"{n}:{w}" for n, w in spec.split)
        n = len(spec.split) + 1
        if export_error:
            self.emit(bench="split", model=name, split=split_flag, stages=n, peer_pipeline=peer,
                      ppc_split=dict(error=export_error), ppc_stages_cost_model=dict(
                          error=export_error))
            return None
        out = os.path.join(d, "stages")
        tie = ["--tie", spec.tie] if spec.tie else []
        ms, proc = self.timed([self.ppc, model_pt, "--split", split_flag, "-o", out, "--force"] + tie)
        ppc = dict(ms=ms) if proc.returncode == 0 else dict(error=proc.stderr.strip())
        example_io = os.path.join(d, "example.io.pt")
        torch.save({"inputs": example}, example_io)
        ms_auto, proc = self.timed([self.ppc, model_pt, "--stages", str(n), "--example-inputs",
                                    example_io, "-o", os.path.join(d, "auto"), "--force"] + tie)
        auto = dict(ms=ms_auto) if proc.returncode == 0 else dict(error=proc.stderr.strip())
        self.emit(bench="split", model=name, split=split_flag, stages=n, peer_pipeline=peer,
                  ppc_split=ppc, ppc_stages_cost_model=auto)
        return out if "ms" in ppc else None

    def peer_run(self, ctx, m, train, check, mode):
        a = self.args
        d = os.path.join(ctx["d"], f"peer-{mode}-m{m}-{'train' if train else 'infer'}")
        os.makedirs(d)
        job = dict(model=ctx["name"], shapes=self.shapes, microbatches=m, schedule=a.schedule,
                   warmup=a.warmup, steps=a.steps, train=train, lr=a.lr, device=a.device,
                   backend=a.backend, threads=a.threads, mode=mode, dir=d)
        job_file = os.path.join(d, "job.json")
        json.dump(job, open(job_file, "w"))
        world = ctx["spec"].ranks
        cmd = [sys.executable, os.path.join(HERE, "peer_worker.py"), job_file]
        codes, rss, errs = self.launch([cmd] * world)
        ranks = [load_json(os.path.join(d, f"rank{r}.json")) for r in range(world)]
        rec = dict(bench="run", side=PEER_SIDES[mode], transport=a.backend, model=ctx["name"],
                   ranks=world, schedule=a.schedule, microbatches=m, train=train, peer_mode=mode,
                   peak_rss_mb=rss)
        failed = [r for r in ranks if r is None or "error" in r]
        if failed or any(codes):
            rec["error"] = first_error(ranks, codes, errs)
        else:
            # Submodules of this rank's stages that ran through torch.fx.Interpreter, of all.
            rec["interpreted_modules"] = [[r["interpreted_modules"], r["interpreter_modules"]]
                                          for r in ranks]
            per_rank = [r["step_ms"][a.warmup:] for r in ranks]
            rec.update(step_stats([max(s) for s in zip(*per_rank)], batch_of(ctx)))
            if train:
                rec["replicated_params"] = ranks[0]["replicated_params"]
                rec.update(tied_copies([os.path.join(d, f"tied{r}.pt") for r in range(world)],
                                       a.warmup + a.steps))
            if check:
                rec.update(self.correctness(ctx, train, os.path.join(d, "outputs.pt"),
                                            [os.path.join(d, f"grads{r}.pt") for r in range(world)]))
        self.emit(**rec)

    def ppc_run(self, ctx, m, train, check, transport):
        a = self.args
        world = ctx["spec"].ranks
        processes = transport != "threads"
        rec = dict(bench="run", side="ppc", transport=transport, model=ctx["name"], ranks=world,
                   schedule=a.schedule, microbatches=m, train=train)
        if ctx["stages"] is None:
            rec["error"] = "no stages (see the split record)"
            return self.emit(**rec)
        d = os.path.join(ctx["d"], f"ppc-{transport}-m{m}-{'train' if train else 'infer'}")
        os.makedirs(d)
        report, out, grads = (os.path.join(d, f) for f in ("report.json", "out.pt", "grads.pt"))
        cmd = [self.pprun, ctx["stages"], "--inputs", ctx["io"], "--microbatches", str(m),
               "--schedule", a.schedule, "--steps", str(a.warmup + a.steps), "--report", report,
               "--output", out, "--threads-per-rank", str(a.threads)]
        if processes:
            cmd += ["--backend", transport]
        if a.device == "cuda":  # untested here (no GPU in this session)
            cmd += ["--device", "cuda"]
        if train:
            cmd += ["--train", "--targets", ctx["tgt"], "--loss", ctx["spec"].loss, "--optimizer",
                    "sgd", "--lr", str(a.lr), "--save-grads", grads]
        codes, rss, errs = self.launch([cmd] * world if processes else [cmd])
        rec["peak_rss_mb"] = rss
        if any(codes):
            rec["error"] = next(e for c, e in zip(codes, errs) if c).strip()
            return self.emit(**rec)
        rep = json.load(open(report))
        # pprun's own averages (bubble, overhead) are over every step after its first.
        rec.update(step_stats([s["step_ms"] for s in rep["steps"][a.warmup:]], batch_of(ctx)))
        rec.update(bubble=rep["bubble"], runtime_overhead_ms_per_microbatch=rep[
                       "runtime_overhead_ms_per_microbatch"])
        if check:
            rec.update(self.correctness(ctx, train, out, [grads]))
        self.emit(**rec)

    def correctness(self, ctx, train, out_file, grad_files):
        if not train:
            out = torch.load(out_file, weights_only=False)
            return dict(output_max_rel_diff=max_rel(first_tensor(out), ctx["ref_out"][0]))
        got = {}
        for f in grad_files:
            if os.path.exists(f):
                got.update(torch.load(f, weights_only=False))
        return grad_diff(got, ctx["ref_grads"])


def reference(spec, inputs, targets):
    """Unpartitioned eager model: outputs, and gradients of the whole-batch mean loss, by name
    (tied parameters under each of their names)."""
    model = peer_models.build(spec)
    with peer_models.plain_causal_mask(spec.gpt2_mask):
        with torch.no_grad():
            out = model(*inputs)
        loss = peer_models.loss_of(spec.loss, model(*inputs), targets)
    loss.backward()
    grads = {}
    for n, p in model.named_parameters(remove_duplicate=False):
        grads[n] = (p.grad.detach().clone(), id(p))
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return tuple(o for o in outs if isinstance(o, torch.Tensor)), grads


def max_rel(a, b):
    """max|a-b| / max|b|, computed so that a NaN anywhere in a or b gives NaN (torch's max and
    clamp propagate it); different shapes give inf. Callers test `not (d <= TOL)`."""
    if not isinstance(a, torch.Tensor) or tuple(a.shape) != tuple(b.shape):
        return math.inf
    if b.numel() == 0:
        return 0.0
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def worse(d, worst):
    """d replaces worst unless worst is already NaN or d <= worst (NaN beats every number)."""
    return not math.isnan(worst) and not (d <= worst)


def first_tensor(v):
    while isinstance(v, (tuple, list)):
        v = v[0]
    return v


def grad_diff(got, ref):
    """Tied names share one parameter: it is missing only when no name of it has a gradient."""
    worst, name, present = 0.0, None, set()
    for n, (g, pid) in ref.items():
        if n not in got:
            continue
        present.add(pid)
        d = max_rel(got[n], g)
        if worse(d, worst):
            worst, name = d, n
    missing = sorted(n for n, (_, pid) in ref.items() if pid not in present)
    return dict(grad_max_rel_diff=worst, grad_worst=name, grads_missing=missing)


def tied_copies(files, steps):
    """After the run's last optimizer step: the largest max_rel between any copy of a
    replicated parameter and its first copy, over all such parameters (0: they stayed equal)."""
    per_param = {}
    for f in files:
        for i, copies in enumerate(torch.load(f, weights_only=False)):
            per_param.setdefault(i, []).extend(copies)
    if not per_param:
        return {}
    worst = 0.0
    for copies in per_param.values():
        for c in copies[1:]:
            d = max_rel(c, copies[0])
            if worse(d, worst):
                worst = d
    return dict(tied_copies_max_rel_diff=worst, tied_copies_after_steps=steps)


def quantile(xs, q):
    """Linear interpolation between the closest ranks of the sorted values."""
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def step_stats(steps_ms, batch):
    """Median, quartiles and range of the measured steps' times (each the slowest rank's)."""
    med = quantile(steps_ms, 0.5)
    return dict(step_ms=med, step_ms_p25=quantile(steps_ms, 0.25),
                step_ms_p75=quantile(steps_ms, 0.75), step_ms_min=min(steps_ms),
                step_ms_max=max(steps_ms), measured_steps=len(steps_ms),
                samples_per_s=batch * 1e3 / med if med > 0 else None, steps_ms=steps_ms)


def batch_of(ctx):
    return int(ctx["ref_out"][0].shape[0])


def first_error(ranks, codes, errs):
    for r in ranks:
        if r and "error" in r:
            return f"rank {r['rank']} in {r.get('phase')}: {r['error']}"
    for c, e in zip(codes, errs):
        if c:
            return f"exit {c}: {e.strip()}"
    return "no result written"


def load_json(path):
    return json.load(open(path)) if os.path.exists(path) else None


def vm_hwm_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_all(procs, timeout, grace=60):
    """Waits for every process; once one has exited the rest get `grace` seconds (a rank whose
    partner failed may wait forever). Returns exit codes (124: killed) and peak RSS in MB,
    sampled from /proc every 20 ms (wait4's ru_maxrss would report the forking parent's)."""
    deadline = time.monotonic() + timeout
    codes, rss = [None] * len(procs), [None] * len(procs)
    while None in codes:
        for i, proc in enumerate(procs):
            if codes[i] is not None:
                continue
            rss[i] = vm_hwm_mb(proc.pid) or rss[i]
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                codes[i] = os.waitstatus_to_exitcode(status)
                proc.returncode = codes[i]
                deadline = min(deadline, time.monotonic() + grace)
        if time.monotonic() > deadline:
            for i, proc in enumerate(procs):
                if codes[i] is None:
                    proc.kill()
                    os.waitpid(proc.pid, 0)
                    codes[i] = 124
                    proc.returncode = 124
        time.sleep(0.02)
    return codes, rss


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    bench = Bench(args)
    hf = None
    if any(spec.gpt2_mask or name.startswith("gpt2") for name, spec in
           peer_models.models(**bench.shapes).items() if name in args.models.split(",")):
        import transformers  # only the GPT-2 models need it
        hf = transformers.__version__
    bench.emit(bench="setup", torch=torch.__version__, transformers=hf, device=args.device,
               backend=args.backend, schedule=args.schedule, warmup=args.warmup, steps=args.steps,
               threads_per_rank=args.threads, cores=os.cpu_count(), shapes=bench.shapes,
               modes=args.modes, peer_modes=args.peer_modes, transports=args.transports,
               command=" ".join(sys.argv))
    for name in args.models.split(","):
        bench.model(name)
    if args.json:
        with open(args.json, "w") as f:
            for r in bench.records:
                f.write(json.dumps(r) + "\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(peer_report.markdown(bench.records))
    if args.check:
        sys.exit(peer_report.check(bench.records))


if __name__ == "__main__":
    main()
