"""Models for bench/peer_bench.py, built the same way for ppc and for torch.distributed.pipelining.

Each entry of MODELS gives a builder (seeded, so the parent and every rank of the peer build the
same weights), whole-batch inputs and targets, the loss, and the split as (module, "begin") pairs.
`eager(name)` is what the peer traces with torch.export; `export(name, path)` is what ppc reads:
the same module instance traced (or scripted) with TorchScript.

GPT-2 is HuggingFace's GPT2LMHeadModel (transformers 4.x, random init from GPT2Config, no
download), with use_cache=False, return_dict=False, eager attention and dropout off, so both
sides compute the same thing. One difference is applied to both sides alike: transformers 4.57
builds its causal mask with torch.vmap under TransformGetItemToIndex, which
torch.distributed.pipelining cannot split (see the "stock" row); GPT-2's eager attention
applies the causal mask from its own `bias` buffer anyway, so with no padding mask the extra
mask is all zeros and `create_causal_mask` returning None gives identical logits.
"""
import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

GPT2_SHAPES = {
    # The 12-layer shape of ../shared/models/gpt2-12l-lm.pt (n_embd 96, real vocabulary).
    "gpt2-12l": dict(n_layer=12, n_embd=96, n_head=4, n_positions=256),
    # GPT-2 small, 124M parameters.
    "gpt2-124m": dict(n_layer=12, n_embd=768, n_head=12, n_positions=1024),
}


@contextlib.contextmanager
def plain_causal_mask(enabled=True):
    """GPT-2 without transformers' vmap-built mask (its eager attention masks on its own)."""
    if not enabled:  # not GPT-2: leave transformers unimported (it costs seconds a process)
        yield
        return
    import transformers.models.gpt2.modeling_gpt2 as mg
    if not hasattr(mg, "create_causal_mask"):  # transformers < 4.5x: no such mask
        yield
        return
    saved = mg.create_causal_mask
    mg.create_causal_mask = lambda *args, **kwargs: None
    try:
        yield
    finally:
        mg.create_causal_mask = saved


def gpt2(shape, torchscript=False):
    from transformers import GPT2Config, GPT2LMHeadModel
    cfg = GPT2Config(vocab_size=50257, use_cache=False, return_dict=False, torchscript=torchscript,
                     attn_implementation="eager", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     **GPT2_SHAPES[shape])
    torch.manual_seed(0)
    return GPT2LMHeadModel(cfg)


def conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    """Encoder outputs feed the decoder: down1's output skips from stage 0 to stage 2."""

    def __init__(self, c=16):
        super().__init__()
        self.down1, self.down2, self.down3 = conv(3, c), conv(c, 2 * c), conv(2 * c, 4 * c)
        self.bottom = conv(4 * c, 4 * c)
        self.up3, self.up2, self.up1 = conv(8 * c, 2 * c), conv(4 * c, c), conv(2 * c, c)
        self.head = nn.Conv2d(c, 2, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(d1, 2))
        d3 = self.down3(F.max_pool2d(d2, 2))
        b = self.bottom(d3)
        u3 = self.up3(torch.cat([b, d3], 1))
        u2 = self.up2(torch.cat([F.interpolate(u3, scale_factor=2.0), d2], 1))
        u1 = self.up1(torch.cat([F.interpolate(u2, scale_factor=2.0), d1], 1))
        return self.head(u1)


class TiedLM(nn.Module):
    """Embedding and output layer share one Parameter; the split puts them on different stages."""

    def __init__(self, vocab=1000, d=64):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.body = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, d))
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, ids):
        return self.head(self.body(self.emb(ids)))


class Producer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        y = self.fc(x)
        # A Python int computed from the data, and a tuple, both cross the split.
        return y, int(x.size(1)), (y.relu(), y.sigmoid())


class Consumer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)

    def forward(self, y, n: int, pair: tuple[torch.Tensor, torch.Tensor]):
        a, b = pair
        return self.fc(y * n + a) - b


class NonTensor(nn.Module):
    """Stages exchange a tuple and a Python int, not only tensors."""

    def __init__(self, d=64):
        super().__init__()
        self.layer0, self.layer1, self.layer2 = Producer(d), Consumer(d), nn.Linear(d, 8)

    def forward(self, x):
        y, n, pair = self.layer0(x)
        return self.layer2(self.layer1(y, n, pair))


def _gen(seed=7):
    return torch.Generator().manual_seed(seed)


def _tokens(batch, seq, vocab):
    return torch.randint(0, vocab, (batch, seq), generator=_gen())


def _randn(*shape):
    return torch.randn(*shape, generator=_gen(8))


class Spec:
    """One benchmark model: how to build it, its data, its split and its loss."""

    def __init__(self, build, inputs, targets, loss, split, export="trace", tie=None, ranks=2,
                 gpt2_mask=False, sweep=False, note=""):
        self.build, self.inputs, self.targets = build, inputs, targets
        self.loss, self.split, self.export_kind, self.tie = loss, split, export, tie
        self.ranks, self.gpt2_mask, self.note = ranks, gpt2_mask, note
        self.sweep = sweep  # throughput at every M; the others run at the first M only


def gpt2_spec(shape, batch, seq, stock=False):
    return Spec(build=lambda ts=False: gpt2(shape, ts),
                inputs=lambda: (_tokens(batch, seq, 50257),),
                targets=lambda: _tokens(batch, seq, 50257).roll(1, 0),
                loss="cross_entropy", split=[("transformer.h.6", "begin")],
                tie="lm_head.weight=transformer.wte.weight", gpt2_mask=not stock, sweep=not stock,
                note="HF GPT2LMHeadModel, stock transformers causal mask" if stock else
                "HF GPT2LMHeadModel (wte/lm_head tied)")


def models(batch=16, seq=32, big_batch=16, big_seq=16):
    return {
        "gpt2-12l": gpt2_spec("gpt2-12l", batch, seq),
        "gpt2-124m": gpt2_spec("gpt2-124m", big_batch, big_seq),
        "gpt2-12l-stock": gpt2_spec("gpt2-12l", batch, seq, stock=True),
        "unet-skip": Spec(build=lambda ts=False: UNet(), inputs=lambda: (_randn(batch, 3, 32, 32),),
                          targets=lambda: _randn(batch, 2, 32, 32), loss="mse",
                          split=[("bottom", "begin"), ("up1", "begin")], ranks=3,
                          note="U-Net, down1 -> up1 skips stage 1"),
        "tied-lm": Spec(build=lambda ts=False: TiedLM(), inputs=lambda: (_tokens(batch, seq, 1000),),
                        targets=lambda: _tokens(batch, seq, 1000).roll(1, 0), loss="cross_entropy",
                        split=[("head", "begin")], tie="head.weight=emb.weight",
                        note="emb.weight is head.weight, on stages 0 and 1"),
        "non-tensor": Spec(build=lambda ts=False: NonTensor(), inputs=lambda: (_randn(batch, 64),),
                           targets=lambda: _randn(batch, 8), loss="mse",
                           split=[("layer1", "begin")], export="script",
                           note="an int and a tuple cross the split"),
    }


def build(spec, torchscript=False):
    torch.manual_seed(0)
    model = spec.build(torchscript)
    return model.eval()


def loss_of(kind, out, target):
    out = out[0] if isinstance(out, (tuple, list)) else out
    if kind == "cross_entropy":
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))
    return F.mse_loss(out, target)


def export(spec, path):
    """The TorchScript file ppc compiles: the same weights, traced or scripted."""
    model = build(spec, torchscript=True)
    with plain_causal_mask(spec.gpt2_mask), torch.no_grad():
        saved = torch.jit.script(model) if spec.export_kind == "script" else \
            torch.jit.trace(model, spec.inputs())
    saved.save(path)
