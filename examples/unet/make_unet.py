"""A small scripted U-Net: every encoder output is concatenated into the decoder, so a
partition into stages has skip connections that jump over several stages.
usage: make_unet.py OUT.pt OUT.io.pt"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
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


torch.manual_seed(0)
model = torch.jit.script(UNet().eval())
model.save(sys.argv[1])
torch.save({"inputs": (torch.randn(4, 3, 32, 32),)}, sys.argv[2])
