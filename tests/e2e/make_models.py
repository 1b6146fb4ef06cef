#!/usr/bin/env python3
"""Generates the end-to-end test models with the venv's torch (scripted and traced).

usage: make_models.py OUTDIR        writes OUTDIR/<name>.pt and OUTDIR/<name>.io.pt for each model
       make_models.py --list        prints name<TAB>split list<TAB>stages for the compile cases

Each io file is torch.save({"inputs": tuple, "outputs": ...}) with the outputs of the saved and
reloaded archive, so it is exactly what the unpartitioned model returns.
"""
import os
import sys
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        a = (q @ k.transpose(-2, -1)) / float(c // self.heads) ** 0.5
        y = a.softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.attention_norm = nn.LayerNorm(d)
        self.attention = Attention(d, 4)
        self.ffn_norm = nn.LayerNorm(d)
        self.feed_forward = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attention(self.attention_norm(x))
        return x + self.feed_forward(self.ffn_norm(x))


class DictTransformer(nn.Module):
    """The layout of the PyTorch pipelining docs: layers in an nn.ModuleDict."""

    def __init__(self, vocab=100, d=32, layers=4):
        super().__init__()
        self.tok_embeddings = nn.Embedding(vocab, d)
        self.layers = nn.ModuleDict({str(i): Block(d) for i in range(layers)})
        self.norm = nn.LayerNorm(d)
        self.output = nn.Linear(d, vocab)

    def forward(self, tokens):
        h = self.tok_embeddings(tokens)
        for layer in self.layers.values():
            h = layer(h)
        return self.output(self.norm(h))


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    """Encoder outputs are concatenated into the decoder: skips over several stages."""

    def __init__(self, c=8):
        super().__init__()
        self.down1 = conv_block(3, c)
        self.down2 = conv_block(c, 2 * c)
        self.down3 = conv_block(2 * c, 4 * c)
        self.bottom = conv_block(4 * c, 4 * c)
        self.up3 = conv_block(8 * c, 2 * c)
        self.up2 = conv_block(4 * c, c)
        self.up1 = conv_block(2 * c, c)
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


class Producer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x) -> Tuple[torch.Tensor, int, Tuple[torch.Tensor, torch.Tensor]]:
        y = self.fc(x)
        return y, x.size(1), (y.relu(), y.sigmoid())


class Consumer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, y, n: int, pair: Tuple[torch.Tensor, torch.Tensor]):
        a, b = pair
        return self.fc(y * n + a) - b


class TupleModel(nn.Module):
    """Layers pass tuples and Python ints to one another; outputs are a nested tuple."""

    def __init__(self):
        super().__init__()
        self.layer0 = Producer()
        self.layer1 = Consumer()
        self.layer2 = nn.Linear(8, 4)

    def forward(self, x):
        y, n, pair = self.layer0(x)
        z = self.layer1(y, n, pair)
        return self.layer2(z), (pair[0], z * n)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch_a = nn.Linear(8, 8)
        self.branch_b = nn.Linear(8, 8)

    def forward(self, x):
        if bool(x.sum() > 0):
            return self.branch_a(x)
        return self.branch_b(x).relu()


class Looper(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        for i in range(3):
            x = torch.tanh(self.fc(x)) + float(i)
        return x


class IfModel(nn.Module):
    """A prim::If calling submodules inside a layer, and a prim::Loop in another."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(8, 8), Branchy(), Looper(), nn.Linear(8, 3)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MutationModel(nn.Module):
    """A list built with append across layers and in-place writes on shared values."""

    def __init__(self):
        super().__init__()
        self.l0 = nn.Linear(8, 8)
        self.l1 = nn.Linear(8, 8)
        self.l2 = nn.Linear(8, 8)

    def forward(self, x):
        acc: List[torch.Tensor] = []
        y = self.l0(x)
        acc.append(y.clone())
        z = self.l1(y)
        y.mul_(2.0)
        acc.append(z)
        w = self.l2(y)
        w.relu_()
        acc.append(w)
        return torch.stack(acc).sum(0) + z


class Push(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x, skips: List[torch.Tensor], sizes: List[int]):
        skips.append(x)
        sizes.append(x.size(0))
        return torch.tanh(self.fc(x))


class Pop(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x, skips: List[torch.Tensor], sizes: List[int]):
        return self.fc(x + skips.pop()) * float(sizes.pop())


class StackModel(nn.Module):
    """A U-Net-like stack: layers append skips to lists that later layers pop, across modules."""

    def __init__(self):
        super().__init__()
        self.down = nn.ModuleList([Push() for _ in range(3)])
        self.up = nn.ModuleList([Pop() for _ in range(3)])
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        skips: List[torch.Tensor] = []
        sizes: List[int] = []
        for layer in self.down:
            x = layer(x, skips, sizes)
        for layer in self.up:
            x = layer(x, skips, sizes)
        return self.head(x)


def small_vit():
    return torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2,
                                                num_heads=2, hidden_dim=32, mlp_dim=64,
                                                num_classes=10)


class TiedLM(nn.Module):
    """Embedding and output layer share one Parameter."""

    def __init__(self, vocab=50, d=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.body = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, d))
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, ids):
        return self.head(self.body(self.emb(ids)))


class ReusedWeightLM(nn.Module):
    """The output projection reads the embedding's weight directly, under its one name."""

    def __init__(self, vocab=50, d=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.body = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, d), nn.Tanh())
        self.norm = nn.LayerNorm(d)

    def forward(self, ids):
        h = self.norm(self.body(self.emb(ids)))
        return h @ self.emb.weight.t()


class GPT2Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, 4)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2Body(nn.Module):
    def __init__(self, vocab, d, layers, positions):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        self.h = nn.ModuleList([GPT2Block(d) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, ids):
        pos = torch.arange(ids.size(1), device=ids.device).unsqueeze(0)
        x = self.wte(ids) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


class GPT2BigVocab(nn.Module):
    """GPT-2's module layout with the real 50257-word vocabulary and a small body."""

    def __init__(self, vocab=50257, d=64, layers=4):
        super().__init__()
        self.transformer = GPT2Body(vocab, d, layers, 64)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        return self.lm_head(self.transformer(ids))


class GPT2Blocks(nn.Module):
    """GPT-2 blocks without the word head, so that the blocks are the work (for the bench)."""

    def __init__(self, vocab=1000, d=256, layers=8):
        super().__init__()
        self.transformer = GPT2Body(vocab, d, layers, 128)

    def forward(self, ids):
        return self.transformer(ids)


class GPT2Stack(nn.Module):
    """GPT-2 blocks on hidden states: no embedding, so that equal halves are equal stages."""

    def __init__(self, d=256, layers=8):
        super().__init__()
        self.h = nn.ModuleList([GPT2Block(d) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, x):
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


def tokens(n, vocab):
    return torch.randint(0, vocab, (2, n), generator=torch.Generator().manual_seed(7))


def image(shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(7))


# name -> (builder, inputs, export kinds, compile cases as (splits, stages))
MODELS = {
    "tx_dict": (DictTransformer, lambda: (tokens(16, 100),), ("script", "trace"),
                [("layers.2:begin", 2), ("layers.1:begin,layers.3:begin,norm:begin", 4)]),
    "resnet18": (lambda: torchvision.models.resnet18(weights=None, num_classes=10),
                 lambda: (image((2, 3, 32, 32)),), ("trace",),
                 [("layer2:begin,layer3.1:begin,fc:begin", 4)]),
    "densenet121": (lambda: torchvision.models.densenet121(weights=None, num_classes=10),
                    lambda: (image((1, 3, 32, 32)),), ("trace", "script"),
                    [("features.denseblock2:begin,features.denseblock3.denselayer5:begin", 3)]),
    "unet": (UNet, lambda: (image((2, 3, 16, 16)),), ("script", "trace"),
             [("down2:begin,bottom:begin,up2:begin,head:begin", 5)]),
    "tuples": (TupleModel, lambda: (image((4, 8)),), ("script",),
               [("layer1:begin,layer2:begin", 3), ("layer0.fc:end", 2)]),
    "ifmodel": (IfModel, lambda: (image((4, 8)),), ("script",),
                [("layers.1:begin,layers.2:begin,layers.3:begin", 4)]),
    "mutation": (MutationModel, lambda: (image((4, 8)),), ("script",),
                 [("l1:begin", 2), ("l2:begin", 2)]),
    "tied": (TiedLM, lambda: (tokens(8, 50),), ("script", "trace"),
             [("body.2:begin,head:begin", 3)]),
    "reused": (ReusedWeightLM, lambda: (tokens(8, 50),), ("script", "trace"),
               [("body.2:begin,norm:begin", 3)]),
    # Automatic partitioning (--stages N with example inputs): "auto:N" cases.
    "gpt2_bigvocab": (GPT2BigVocab, lambda: (tokens(32, 50257),), ("trace",),
                      [("auto:4", 4), ("auto:2", 2)]),
    "resnet50": (lambda: torchvision.models.resnet50(weights=None, num_classes=10),
                 lambda: (image((1, 3, 32, 32)),), ("trace",), [("auto:4", 4)]),
    # Region timing on lists that forward pops, and MultiheadAttention's undefined weights.
    "stack": (StackModel, lambda: (image((4, 8)),), ("script",),
              [("auto:2", 2), ("auto:3", 3), ("auto:4", 4)]),
    # A split after self_attention sends its (output, weights) pair, the weights absent.
    "vit": (small_vit, lambda: (image((2, 3, 32, 32)),), ("script",),
            [("auto:2", 2), ("auto:3", 3), ("auto:4", 4),
             ("encoder.layers.encoder_layer_0.self_attention:end", 2)]),
}
MODELS["densenet121"][3].append(("auto:4", 4))
# Every model is also planned automatically into 2, 3 and 4 stages, each plan checked exact.
for _, _, _, _splits in MODELS.values():
    _splits += [(f"auto:{n}", n) for n in (2, 3, 4) if (f"auto:{n}", n) not in _splits]


def export(name, kind, outdir):
    builder, make_inputs, _, _ = MODELS[name]
    torch.manual_seed(0)
    model = builder().eval()
    inputs = make_inputs()
    with torch.no_grad():
        saved = torch.jit.script(model) if kind == "script" else torch.jit.trace(model, inputs)
    path = os.path.join(outdir, f"{name}_{kind}.pt")
    saved.save(path)
    reloaded = torch.jit.load(path)
    with torch.no_grad():
        outputs = reloaded(*inputs)
    torch.save({"inputs": inputs, "outputs": outputs}, os.path.join(outdir, f"{name}_{kind}.io.pt"))


def cases():
    for name, (_, _, kinds, splits) in MODELS.items():
        for kind in kinds:
            for spec, stages in splits:
                yield f"{name}_{kind}", spec, stages


def main():
    if sys.argv[1:] == ["--list"]:
        for model, spec, stages in cases():
            print(f"{model}\t{spec}\t{stages}")
        return
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for name, (_, _, kinds, _) in MODELS.items():
        for kind in kinds:
            export(name, kind, outdir)
    print(f"wrote {sum(len(m[2]) for m in MODELS.values())} models to {outdir}")


if __name__ == "__main__":
    main()
