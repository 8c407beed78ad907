"""ResNet's building blocks (He et al. 2016, "Deep residual learning for image recognition").

A block computes y = relu(F(x) + shortcut(x)) (Eq. 1, Fig. 2): the stacked layers fit the residual F
and the shortcut carries x unchanged. Where the width or the map size changes, the shortcut must
change shape too (Section 3.3):

- option "A": identity on a strided subsample, the new channels zero-padded (no parameters);
- option "B": a 1x1 projection (with BN) only where the shape changes, identity elsewhere;
- option "C": a projection on every shortcut.

``residual=False`` gives the same stack without the addition: the paper's *plain* baseline.
Submodule names follow torchvision (``conv1``, ``bn1``, ..., ``downsample``) so its state dicts
load.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

__all__ = ["SHORTCUTS", "BasicBlock", "Bottleneck", "ZeroPadShortcut", "make_shortcut",
           "optional_batch_norm"]

SHORTCUTS = ("A", "B", "C")


class ZeroPadShortcut(nn.Module):
    """Option A: keep every ``stride``-th pixel and pad the extra channels with zeros
    (parameter-free).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"option A pads channels; it cannot shrink {in_channels} to "
                             f"{out_channels}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def optional_batch_norm(channels: int, batch_norm: bool) -> nn.Module:
    """BatchNorm2d, or the identity where ``batch_norm=False`` (a network without BN, not in the
    paper). "We adopt batch normalization right after each convolution and before activation"
    (Section 3.4)."""
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


def make_shortcut(in_channels: int, out_channels: int, stride: int, shortcut: str,
                  batch_norm: bool = True) -> Optional[nn.Module]:
    """The shortcut branch for one block; None means the identity."""
    if shortcut not in SHORTCUTS:
        raise ValueError(f"unknown shortcut option {shortcut!r}; choose one of "
                         f"{', '.join(SHORTCUTS)} "
                         "(He et al. 2016, Section 3.3)")
    changes_shape = stride != 1 or in_channels != out_channels
    if shortcut == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride) if changes_shape else None
    if shortcut == "B" and not changes_shape:
        return None
    # a 1x1 convolution W_s x (Eq. 2), followed by BN as every convolution in the paper
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride,
                                   bias=not batch_norm),
                         optional_batch_norm(out_channels, batch_norm))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (Fig. 5 left): the block of ResNet-18/34 and of the CIFAR-10 networks.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, *, shortcut: str = "B",
                 residual: bool = True, batch_norm: bool = True):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1,
                               bias=not batch_norm)
        self.bn1 = optional_batch_norm(channels, batch_norm)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, out_channels, 3, padding=1, bias=not batch_norm)
        self.bn2 = optional_batch_norm(out_channels, batch_norm)
        self.residual = residual
        self.downsample = make_shortcut(in_channels, out_channels, stride, shortcut,
                                        batch_norm) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)   # the shortcut first
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))                                   # F(x)
        out = out + identity if self.residual else out                    # F(x) + x  (Eq. 1)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 -> 1x1 (restore, 4x wider) (Fig. 5 right): the block of
    ResNet-50/101/152.

    ``stride_on`` says which convolution subsamples: ``"1x1"`` as the paper (conv3_1, conv4_1 and
    conv5_1 "with a stride of 2", Table 1 and Section 3.3: the first layer of the block) or
    ``"3x3"`` as torchvision (the later "ResNet v1.5", about 0.3 GFLOPs more for ResNet-50 and
    slightly more accurate)."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, *, shortcut: str = "B",
                 residual: bool = True, batch_norm: bool = True, stride_on: str = "1x1"):
        super().__init__()
        if stride_on not in ("1x1", "3x3"):
            raise ValueError(f"stride_on must be '1x1' (the paper) or '3x3' (torchvision), got "
                             f"{stride_on!r}")
        first, middle = (stride, 1) if stride_on == "1x1" else (1, stride)
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, stride=first, bias=not batch_norm)
        self.bn1 = optional_batch_norm(channels, batch_norm)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=middle, padding=1, bias=not batch_norm)
        self.bn2 = optional_batch_norm(channels, batch_norm)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=not batch_norm)
        self.bn3 = optional_batch_norm(out_channels, batch_norm)
        self.relu = nn.ReLU()
        self.residual = residual
        self.downsample = make_shortcut(in_channels, out_channels, stride, shortcut,
                                        batch_norm) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))      # 1x1: reduce the width
        out = self.relu(self.bn2(self.conv2(out)))    # 3x3 on the narrow maps
        out = self.bn3(self.conv3(out))               # 1x1: restore the width -> F(x)
        out = out + identity if self.residual else out
        return self.relu(out)
