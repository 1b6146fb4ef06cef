"""ppc's pipeline runtime from Python, shaped like torch.distributed.pipelining's schedules.

    pipe = ppc.Pipeline("stages/", microbatches=8, schedule="1f1b", loss="cross_entropy")
    opt = torch.optim.AdamW(pipe.parameters(), lr=3e-4)
    for x, y in loader:
        loss = pipe.step(x, target=y)      # forward + backward; gradients in each .grad
        pipe.clip_grad_norm_(1.0)          # the global norm over every stage
        opt.step(); opt.zero_grad()
    pipe.save("trained/")

A stages directory made by the `ppc` compiler runs on ppc's C++ runtime (ppc._C over the same
schedules, transports and executor as `pprun`). In a plain process every stage gets a thread of
its own; under torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) this process is one rank
over Gloo and holds stages rank, rank + N, ... (S must be a multiple of N). Under torchrun every
rank calls step() / __call__ / eval_loss() with the same inputs and targets; every rank gets the
loss and the outputs.

parameters() are torch.nn.Parameters that the stage modules themselves read, so any torch
optimizer, LR scheduler or GradScaler works on them. A tied group (pipeline.json `tied`) has one
copy per holder stage; step() leaves every copy with the group's summed gradient, so copies stay
equal under any optimizer. Errors of the runtime arrive as RuntimeError (ValueError for bad
arguments) with pprun's one-line message; after a rank fails, the pipeline refuses more work.
"""
import math
import os

import torch

from . import _C

__all__ = ["Pipeline"]


def _torchrun_rank():
    """(rank, world size, local rank, master address, master port) under torchrun, else None."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    rank = int(os.environ["RANK"])
    return (rank, int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", rank)),
            os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", 29500)))


def _as_inputs(inputs):
    return list(inputs[0]) if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)) else list(inputs)


class Pipeline:
    """A compiled stages directory, run by ppc's runtime one call at a time.

    dir: a directory written by `ppc` (stage<k>.pt + pipeline.json).
    microbatches: M; inputs whose dim 0 is the batch are cut into M chunks (pprun's rule).
    schedule: gpipe, 1f1b, interleaved-1f1b, looped-bfs, zero-bubble, or a file of actions.
    loss: cross_entropy, mse, or a TorchScript file `forward(output, target) -> Tensor`,
        computed on model output 0; step() returns its mean over the whole batch.
    device: cpu, cuda (a rank's local GPU) or cuda:N.
    backend: None (threads in one process, gloo under torchrun), "threads" or "gloo".
    timeout: seconds any rank waits for another before failing.
    seed: seeds LibTorch's generators (dropout) when given.
    """

    def __init__(self, dir, microbatches=1, schedule="1f1b", loss="cross_entropy",
                 device="cpu", backend=None, timeout=300, seed=None):
        if backend not in (None, "threads", "gloo"):
            raise ValueError(f"backend must be None, 'threads' or 'gloo', not {backend!r}")
        rank = None if backend == "threads" else _torchrun_rank()
        if backend == "gloo" and rank is None:
            raise ValueError("backend='gloo' runs one rank per process: start the script "
                             "under torchrun (RANK and WORLD_SIZE are not set)")
        self._loss = str(loss)
        self._session = _C.Session(os.fspath(dir), int(microbatches), str(schedule), self._loss,
                                   str(device), float(timeout), -1 if seed is None else int(seed),
                                   *(rank or (0, 0, 0, "127.0.0.1", 0)))
        self._loss_module = None
        # Parameters made here and put back into the stage modules: autograd then fills the
        # .grad of the very tensors the caller's optimizer holds.
        self._params = []  # (stage, name, Parameter, counted in a global norm)
        for stage, name, tensor, counted in self._session.parameters():
            param = torch.nn.Parameter(tensor, requires_grad=tensor.requires_grad)
            self._session.set_parameter(stage, name, param)
            self._params.append((stage, name, param, counted))

    # -- what the process holds ---------------------------------------------------------------
    @property
    def rank(self):
        return self._session.rank

    @property
    def world_size(self):
        """Ranks of the pipeline: processes under torchrun, else one thread per stage."""
        return self._session.world_size

    @property
    def stages(self):
        """Indices of the stages this process holds."""
        n = self._session.num_stages
        if not self._session.is_process_rank:
            return list(range(n))
        return [s for s in range(n) if s % self.world_size == self.rank]

    def parameters(self):
        """This process's stages' parameters (a tied group's copies each once per holder)."""
        return [p for _, _, p, _ in self._params]

    def named_parameters(self):
        """(qualified name, Parameter); a tied copy held under one name by two stages appears
        once per stage."""
        return [(n, p) for _, n, p, _ in self._params]

    def stage_parameters(self, stage):
        """{qualified name: Parameter} of one stage held here."""
        return {n: p for s, n, p, _ in self._params if s == stage}

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_().zero_()

    # -- running ------------------------------------------------------------------------------
    def step(self, *inputs, target):
        """Forward and backward of one batch over the schedule; returns the batch-mean loss.
        Gradients accumulate into each parameter's .grad (zero them between steps)."""
        loss = self._session.step(_as_inputs(inputs), target)
        return torch.tensor(loss, dtype=torch.float32)

    def __call__(self, *inputs):
        """Inference under no-grad: the model's outputs joined over microbatches (one value, or
        a tuple when the model returns several)."""
        out = self._session.forward(_as_inputs(inputs))
        return out[0] if len(out) == 1 else out

    forward = __call__

    def eval_loss(self, *inputs, target):
        """The batch-mean loss of the inputs, without gradients."""
        out = self._session.forward(_as_inputs(inputs))[0]
        while isinstance(out, (tuple, list)):
            out = out[0]
        with torch.no_grad():
            if self._loss == "cross_entropy":
                return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]),
                                                         target.reshape(-1).long())
            if self._loss == "mse":
                return torch.nn.functional.mse_loss(out, target.to(out.dtype))
            if self._loss_module is None:
                self._loss_module = torch.jit.load(self._loss)
            return self._loss_module(out, target)

    def clip_grad_norm_(self, max_norm, norm_type=2.0, error_if_nonfinite=False):
        """torch.nn.utils.clip_grad_norm_ over every stage of the pipeline (across ranks under
        torchrun; a tied group counted once); returns the total norm."""
        norm_type = float(norm_type)
        counted = [p.grad.detach() for _, _, p, c in self._params if c and p.grad is not None]
        grads = [p.grad.detach() for _, _, p, _ in self._params if p.grad is not None]
        if norm_type == math.inf:
            local = (torch.stack([g.abs().max() for g in counted]).max() if counted
                     else torch.zeros(()))
            total = self._session.reduce(local, True)
        else:
            local = (torch.stack([torch.linalg.vector_norm(g, norm_type) for g in counted])
                     .pow(norm_type).sum() if counted else torch.zeros(()))
            total = self._session.reduce(local, False).pow(1.0 / norm_type)
        if error_if_nonfinite and not torch.isfinite(total):
            raise RuntimeError(f"the total norm of order {norm_type} of the gradients is "
                               "non-finite, so it cannot be clipped")
        scale = torch.clamp(float(max_norm) / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(scale.to(g.device))
        return total

    def save(self, dir):
        """Writes the current stage weights, pipeline.json and ir.txt into `dir`: a stages
        directory for pprun, torch.jit.load or ppc.Pipeline. Under torchrun every rank writes its
        stages and rank 0 the manifest; it returns once all have."""
        self._session.save(os.fspath(dir))
