#!/usr/bin/env python3
"""Models exported with torch.export at test time, for the .pt2 frontend tests.

usage: export_models.py OUT_DIR
Writes, per model NAME: NAME.pt2 (torch.export.save), NAME.state.pt (the eager module's state
dict; eager_model() rebuilds the autograd reference from it), NAME.io.pt ({"inputs", "outputs"}: the exported program's own
outputs, computed by torch.export.load(...).module()), NAME.targets.pt; and the unsupported
programs bad-cond.pt2 (torch.cond), bad-customop.pt2 (a Python-only custom operator) and
bad-schema.pt2 (gpt2.pt2 with its schema major version raised).
Every model is exported with a dynamic batch dimension so that pprun can cut microbatches.
"""
import json
import os
import sys
import zipfile

import warnings

import torch
from torch import nn
from torch.export import Dim



def gpt2():
    """HF GPT-2 (transformers 4.x), random init; lm_head is tied to wte."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=1000, n_positions=64, n_embd=64, n_layer=4, n_head=4)
    model = GPT2LMHeadModel(cfg).eval()
    try:  # transformers >= 4.53 builds its sdpa mask with vmap
        from transformers.integrations.executorch import sdpa_mask_without_vmap
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    except ImportError:
        sdpa_mask_without_vmap = None
    if sdpa_mask_without_vmap:
        # torch.export cannot serialize vmap; HF's own export path (integrations/executorch.py)
        # swaps in this vmap-free mask.
        ALL_MASK_ATTENTION_FUNCTIONS.register("sdpa_without_vmap", sdpa_mask_without_vmap)
        ALL_ATTENTION_FUNCTIONS.register("sdpa_without_vmap", ALL_ATTENTION_FUNCTIONS["sdpa"])
        model.config._attn_implementation = "sdpa_without_vmap"
    ids = torch.randint(0, 1000, (8, 16), generator=torch.Generator().manual_seed(1))
    targets = torch.randint(0, 1000, (8, 16), generator=torch.Generator().manual_seed(2))
    kwargs = {"use_cache": False, "return_dict": False}
    dyn = {"input_ids": {0: Dim("batch", min=1, max=64)}, "use_cache": None, "return_dict": None}
    return model, (ids,), kwargs, dyn, targets


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm2d(cout)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class UNet(nn.Module):
    """Two levels down, two up; the up path concatenates the skips from the down path."""

    def __init__(self):
        super().__init__()
        self.down1, self.down2 = Block(3, 8), Block(8, 16)
        self.pool = nn.MaxPool2d(2)
        self.bottom = Block(16, 16)
        self.up2 = nn.ConvTranspose2d(16, 16, 2, stride=2)
        self.dec2 = Block(32, 8)
        self.up1 = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.dec1 = Block(16, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        b = self.bottom(self.pool(d2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], dim=1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], dim=1))
        return self.head(u1)


def unet():
    torch.manual_seed(3)
    model = UNet().eval()
    # Non-trivial running statistics, so eval-mode BatchNorm is not the identity.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    targets = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    return model, (x,), {}, {"x": {0: Dim("batch", min=1, max=64)}}, targets


class TiedLM(nn.Module):
    """Embedding, two residual MLP layers, a head that shares the embedding's weight."""

    def __init__(self, vocab=200, dim=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
            for _ in range(2))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight
        self.register_buffer("scale", torch.tensor(0.5), persistent=False)

    def forward(self, ids):
        h = self.embed(ids)
        for layer in self.layers:
            h = h + self.scale * layer(h)
        return self.head(self.norm(h))


def tied():
    torch.manual_seed(6)
    ids = torch.randint(0, 200, (6, 10), generator=torch.Generator().manual_seed(7))
    targets = torch.randint(0, 200, (6, 10), generator=torch.Generator().manual_seed(8))
    return TiedLM().eval(), (ids,), {}, {"ids": {0: Dim("batch", min=1, max=64)}}, targets


class DynamicBatch(nn.Module):
    """Reshapes by the batch size: sym_size, SymInt arithmetic and SymInt lists in the graph."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.fc2 = nn.Linear(8, 8)
        self.out = nn.Linear(16, 5)

    def forward(self, x):
        b = x.shape[0]
        h = torch.tanh(self.fc1(x.reshape(b, -1)))
        h = self.fc2(h.reshape(b * 2, 8))
        h = h.reshape(b, 16) + torch.ones(b, 1)
        return self.out(h)


def dynamic():
    torch.manual_seed(9)
    x = torch.randn(7, 3, 4, generator=torch.Generator().manual_seed(10))
    targets = torch.randint(0, 5, (7,), generator=torch.Generator().manual_seed(11))
    return DynamicBatch().eval(), (x,), {}, {"x": {0: Dim("batch", min=1, max=64)}}, targets


MODELS = {"gpt2": gpt2, "unet": unet, "tied": tied, "dynamic": dynamic}


def eager_model(out, name):
    """The eager module NAME was exported from, its inputs, kwargs and targets."""
    model, inputs, kwargs, _, targets = MODELS[name]()
    model.load_state_dict(torch.load(os.path.join(out, name + ".state.pt")))
    return model, inputs, kwargs, targets


def save(out, name, model, inputs, kwargs, dyn, targets):
    ep = torch.export.export(model, inputs, kwargs=kwargs, dynamic_shapes=dyn)
    path = os.path.join(out, name + ".pt2")
    torch.export.save(ep, path)
    # The reference is the program as saved, read back by PyTorch's own loader.
    with torch.no_grad():
        outputs = torch.export.load(path).module()(*inputs, **kwargs)
    outputs = tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)
    torch.save({"inputs": inputs, "outputs": outputs}, os.path.join(out, name + ".io.pt"))
    torch.save(targets, os.path.join(out, name + ".targets.pt"))
    torch.save(model.state_dict(), os.path.join(out, name + ".state.pt"))


class WithCond(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda y: self.fc(y), lambda y: y * 2, (x,))


@torch.library.custom_op("ppctest::twice", mutates_args=())
def twice(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@twice.register_fake
def _(x):
    return torch.empty_like(x)


class WithCustomOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(twice(x))


def raise_schema_major(src, dst):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("models/model.json"):
                program = json.loads(data)
                program["schema_version"]["major"] += 1
                data = json.dumps(program).encode()
            zout.writestr(item, data)


def main():
    # torch.export.load reads weights with frombuffer over read-only bytes and says so.
    warnings.filterwarnings("ignore", message="The given buffer is not writable")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, make in MODELS.items():
        save(out, name, *make())
    x = torch.randn(2, 4)
    torch.export.save(torch.export.export(WithCond(), (x,)), os.path.join(out, "bad-cond.pt2"))
    torch.export.save(torch.export.export(WithCustomOp(), (x,)),
                      os.path.join(out, "bad-customop.pt2"))
    raise_schema_major(os.path.join(out, "gpt2.pt2"), os.path.join(out, "bad-schema.pt2"))


if __name__ == "__main__":
    main()
