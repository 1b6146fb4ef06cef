"""One rank of torch.distributed.pipelining for bench/peer_bench.py.

usage: RANK=r WORLD_SIZE=n MASTER_ADDR=127.0.0.1 MASTER_PORT=p peer_worker.py JOB.json

JOB.json names the model, batch shape, microbatches, schedule, steps, training or not, device and
where to write results. The rank splits the model with pipeline() on one microbatch (the peer's
stages have static shapes), builds its PipelineStage, runs the schedule `steps` times (a barrier
before each step, so every rank starts together) and writes RANK.json: its step times, and the
peer's error message verbatim if anything failed. The last rank also writes the outputs of the
first step; in training every rank writes its stage's gradients of the first step.
"""
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


def run(job, rank, world, result):
    from torch.distributed import pipelining as pp
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
    with peer_models.plain_causal_mask(spec.gpt2_mask):
        pipe = pp.pipeline(model, example, split_spec=split)
    result["phase"] = "build_stage"
    per_rank = pipe.num_stages // world
    stages = [pipe.build_stage(rank + k * world, device) for k in range(per_rank)]
    loss_fn = (lambda out, t: peer_models.loss_of(spec.loss, out, t)) if job["train"] else None
    cls = getattr(pp, SCHEDULES[job["schedule"]])
    sched = cls(stages[0] if per_rank == 1 else stages, m, loss_fn=loss_fn)
    params = [p for s in stages for p in s.submod.parameters()]
    opt = torch.optim.SGD(params, lr=job["lr"]) if job["train"] else None
    first = rank == 0
    last = any(s.is_last for s in stages)
    result["phase"] = "step"
    result["step_ms"] = []
    for step in range(job["steps"]):
        dist.barrier()
        start = time.perf_counter()
        args = inputs if first else ()
        if job["train"]:
            opt.zero_grad()
            out = sched.step(*args, target=targets if last else None)
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
