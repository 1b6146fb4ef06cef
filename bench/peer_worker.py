"""One rank of torch.distributed.pipelining for bench/peer_bench.py.

usage: RANK=r WORLD_SIZE=n MASTER_ADDR=127.0.0.1 MASTER_PORT=p peer_worker.py JOB.json

JOB.json names the model, batch shape, microbatches, schedule, warm-up and measured steps,
training or not, the peer's execution mode, device and where to write results. The rank splits
the model with pipeline() on one microbatch (the peer's stages have static shapes), builds its
PipelineStage, runs the schedule warmup + steps times (a barrier before each step, so every rank
starts together) and writes RANK.json: its step times, and the peer's error message verbatim if
anything failed. The last rank also writes the outputs of the first step; in training every rank
writes its stage's gradients of the first step and, after the last step, its copies of the
replicated (tied) parameters.

Mode "default" is what pipeline() gives: each stage is a GraphModule whose submodules (the
model's own module tree, outlined by torch.export.unflatten) are InterpreterModules, which run
their graphs through torch.fx.Interpreter node by node (RUN_WITH_INTERPRETER = True in
torch/export/unflatten.py). Mode "direct" builds the pipe under
torch.export.unflatten._disable_interpreter(), the switch torch provides for this: the same
InterpreterModules then call their GraphModule's generated Python code. Nothing else differs.

Training does what torch.distributed.pipelining leaves to its user: pipeline() copies a
parameter used by several stages into each of them and lists the copies in
Pipe.replicated_params ("we have to do an additional allreduce before applying the optimizer",
torch/distributed/pipelining/_IR.py). After schedule.step() and before the optimizer step, each
rank sums its copies' gradients and all-reduces the sum among the ranks that hold a copy.
"""
import contextlib
import json
import os
import sys
import time
import traceback

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_models  # noqa: E402

SCHEDULES = {"gpipe": "ScheduleGPipe", "1f1b": "Schedule1F1B",
             "interleaved-1f1b": "ScheduleInterleaved1F1B",
             "zero-bubble": "ScheduleInterleavedZeroBubble"}


def replicated_groups(pipe, stages, world):
    """One entry per parameter pipeline() replicated over stages: (the process group of the ranks
    holding a copy, or None when this rank holds them all, and this rank's copies). Every rank
    builds the same pipe, so every rank makes the same new_group calls in the same order."""
    local = {s.stage_index: s for s in stages}
    groups = []
    for mapping in pipe.replicated_params:
        holders = {int(name.rsplit("_", 1)[1]): qualname for name, qualname in mapping.items()}
        ranks = sorted({i % world for i in holders})
        group = dist.new_group(ranks) if len(ranks) > 1 else None
        mine = [local[i].submod.get_parameter(q) for i, q in holders.items() if i in local]
        groups.append((group, mine))
    return groups


def all_reduce_replicated(groups):
    """Sums each replicated parameter's gradient over all its copies, every copy getting the sum
    (a copy whose stage made no gradient counts as zero)."""
    for group, mine in groups:
        if not mine:
            continue
        total = sum(p.grad if p.grad is not None else torch.zeros_like(p) for p in mine)
        if group is not None:
            dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
        for p in mine:
            if p.grad is None:
                p.grad = total.clone()
            else:
                p.grad.copy_(total)


def interpreter_modules(stages):
    from torch.export.unflatten import InterpreterModule
    mods = [m for s in stages for m in s.submod.modules() if isinstance(m, InterpreterModule)]
    return len(mods), sum(bool(m._run_with_interpreter) for m in mods)


def run(job, rank, world, result):
    from torch.distributed import pipelining as pp
    from torch.export.unflatten import _disable_interpreter
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
                          if job["device"] == "cuda" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    spec = peer_models.models(**job["shapes"])[job["model"]]
    model = peer_models.build(spec).to(device)
    inputs = tuple(t.to(device) for t in spec.inputs())
    targets = spec.targets().to(device)
    m = job["microbatches"]
    example = tuple(t.tensor_split(m)[0] for t in inputs)
    split = {name: pp.SplitPoint.BEGINNING if where == "begin" else pp.SplitPoint.END
             for name, where in spec.split}
    result["phase"] = "pipeline()"
    direct = job["mode"] == "direct"
    with peer_models.plain_causal_mask(spec.gpt2_mask), \
            (_disable_interpreter() if direct else contextlib.nullcontext()):
        pipe = pp.pipeline(model, example, split_spec=split)
    result["phase"] = "build_stage"
    per_rank = pipe.num_stages // world
    stages = [pipe.build_stage(rank + k * world, device) for k in range(per_rank)]
    total, interpreted = interpreter_modules(stages)
    result.update(interpreter_modules=total, interpreted_modules=interpreted)
    if interpreted != (0 if direct else total):
        raise RuntimeError(f"mode {job['mode']}: {interpreted} of {total} submodules run "
                           "through torch.fx.Interpreter")
    replicated = replicated_groups(pipe, stages, world) if job["train"] else []
    result["replicated_params"] = pipe.replicated_params
    loss_fn = (lambda out, t: peer_models.loss_of(spec.loss, out, t)) if job["train"] else None
    cls = getattr(pp, SCHEDULES[job["schedule"]])
    sched = cls(stages[0] if per_rank == 1 else stages, m, loss_fn=loss_fn)
    params = [p for s in stages for p in s.submod.parameters()]
    opt = torch.optim.SGD(params, lr=job["lr"]) if job["train"] else None
    first = rank == 0
    last = any(s.is_last for s in stages)
    result["phase"] = "step"
    result["step_ms"] = []
    for step in range(job["warmup"] + job["steps"]):
        dist.barrier()
        start = time.perf_counter()
        args = inputs if first else ()
        if job["train"]:
            opt.zero_grad()
            out = sched.step(*args, target=targets if last else None)
            all_reduce_replicated(replicated)
            if step == 0:
                grads = {n: p.grad.detach().cpu() for s in stages
                         for n, p in s.submod.named_parameters() if p.grad is not None}
                torch.save(grads, os.path.join(job["dir"], f"grads{rank}.pt"))
            opt.step()
        else:
            with torch.no_grad():
                out = sched.eval(*args)
        if device.type == "cuda":
            torch.cuda.synchronize()
        result["step_ms"].append((time.perf_counter() - start) * 1e3)
        if step == 0 and last and out is not None:
            torch.save(tree_cpu(out), os.path.join(job["dir"], "outputs.pt"))
    if job["train"]:  # each replicated parameter's copies here, after every optimizer step
        torch.save([[p.detach().cpu() for p in mine] for _, mine in replicated],
                   os.path.join(job["dir"], f"tied{rank}.pt"))
    result["phase"] = "done"


def tree_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (tuple, list)):
        return type(value)(tree_cpu(v) for v in value)
    return value


def main():
    job = json.load(open(sys.argv[1]))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.set_num_threads(job["threads"])
    result = {"rank": rank}
    dist.init_process_group("nccl" if job["device"] == "cuda" and job["backend"] == "nccl"
                            else "gloo", rank=rank, world_size=world)
    try:
        run(job, rank, world, result)
    except Exception as e:  # the peer's own message is the result
        result["error"] = f"{type(e).__name__}: {e}"
        result["traceback"] = traceback.format_exc()
    with open(os.path.join(job["dir"], f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    # A rank whose partner failed would wait forever in the next collective; exit without one.
    os._exit(0)


if __name__ == "__main__":
    main()
