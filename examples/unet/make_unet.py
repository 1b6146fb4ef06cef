"""A small scripted U-Net: every encoder output is concatenated into the decoder, so a
partition into stages has skip connections that jump over several stages. The model is the one
the end-to-end tests use (tests/e2e/make_models.py), so the example runs what is tested.
usage: make_unet.py OUT.pt OUT.io.pt"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "e2e"))
from make_models import UNet  # noqa: E402

torch.manual_seed(0)
model = torch.jit.script(UNet().eval())
model.save(sys.argv[1])
torch.save({"inputs": (torch.randn(4, 3, 32, 32),)}, sys.argv[2])
