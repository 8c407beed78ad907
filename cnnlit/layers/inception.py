"""GoogLeNet's Inception module and auxiliary classifier (Szegedy et al. 2015, "Going deeper with
convolutions").

An Inception module runs four branches side by side on the same input and concatenates their outputs
along the channels (Figure 2):

- branch1: a 1x1 convolution (#1x1 filters);
- branch2: a 1x1 "reduce" convolution (#3x3 reduce) then a 3x3 convolution (#3x3);
- branch3: a 1x1 "reduce" convolution (#5x5 reduce) then a 5x5 convolution (#5x5);
- branch4: 3x3 max pooling (stride 1) then a 1x1 "pool proj" convolution.

The arguments are Table 1's columns in the table's order. Passing ``None`` for the two reduce
columns and for ``pool_proj`` gives Figure 2(a), the "naive" module without dimension reductions.
Every convolution is followed by a ReLU (Section 5). Submodule names follow torchvision
(``branch1``...``branch4``, each convolution block holding ``conv``) so torchvision's state dicts
load into the same class.

An Inception module is one row of Table 1, and one row of :func:`cnnlit.analysis.summary` (its
cost is counted in :mod:`cnnlit.costs`). To see the branches one by one, call ``summary`` on
``module.branch3`` etc.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BasicConv2d", "ConvReLU", "Inception", "InceptionAux"]


class ConvReLU(nn.Module):
    """A convolution with bias followed by a ReLU: every convolution of the 2014 network (no batch
    norm).
    """

    def __init__(self, in_channels: int, out_channels: int, **conv_options):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, **conv_options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class BasicConv2d(nn.Module):
    """torchvision's block: convolution without bias, batch norm (eps 0.001), ReLU. Batch norm
    {Ioffe & Szegedy 2015} came after the GoogLeNet paper; torchvision's ported weights need it."""

    def __init__(self, in_channels: int, out_channels: int, **conv_options):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_options)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _reduced_branch(conv_block: Callable, in_channels: int, reduce: Optional[int],
                    out_channels: int,
                    kernel: int) -> nn.Sequential:
    """[1x1 reduce ->] k x k convolution, 'same' padding so every branch keeps the map size."""
    layers = []
    if reduce is not None:
        layers.append(conv_block(in_channels, reduce, kernel_size=1))
        in_channels = reduce
    layers.append(conv_block(in_channels, out_channels, kernel_size=kernel, padding=kernel // 2))
    return nn.Sequential(*layers)


class Inception(nn.Module):
    """One Inception module, built from a row of Table 1:
    ``Inception(192, 64, 96, 128, 16, 32, 32)`` is inception (3a).

    ``wide_kernel`` is the kernel of the "#5x5" branch: 5 in the paper; torchvision's port uses 3 (a
    known departure kept so its weights load). ``conv_block`` is :class:`ConvReLU` (paper) or
    :class:`BasicConv2d` (torchvision, with batch norm).
    """

    def __init__(self, in_channels: int, n1x1: int, n3x3_reduce: Optional[int], n3x3: int,
                 n5x5_reduce: Optional[int], n5x5: int, pool_proj: Optional[int], *,
                 conv_block: Callable[..., nn.Module] = ConvReLU, wide_kernel: int = 5):
        super().__init__()
        if wide_kernel % 2 != 1:
            raise ValueError(f"wide_kernel must be odd so the branch keeps the map size, got "
                             f"{wide_kernel}")
        self.in_channels, self.wide_kernel = in_channels, wide_kernel
        self.columns = (n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj)
        self.branch1 = conv_block(in_channels, n1x1, kernel_size=1)
        self.branch2 = _reduced_branch(conv_block, in_channels, n3x3_reduce, n3x3, 3)
        self.branch3 = _reduced_branch(conv_block, in_channels, n5x5_reduce, n5x5, wide_kernel)
        # 3x3 max pooling with stride 1 keeps the map size; ceil_mode as in torchvision (same result
        # here)
        pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True)
        self.branch4 = nn.Sequential(pool, conv_block(in_channels, pool_proj, kernel_size=1)) \
            if pool_proj is not None else nn.Sequential(pool)
        # channels of each branch's output, in concatenation order
        self.branch_channels = (n1x1, n3x3, n5x5,
                                pool_proj if pool_proj is not None else in_channels)
        self.out_channels = sum(self.branch_channels)

    def branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four branch outputs, before concatenation."""
        return [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.branches(x), dim=1)      # "filter concatenation" (Figure 2)

    @property
    def depth(self) -> int:
        """Layers with parameters on the longest branch: Table 1's "depth" column (2 for every
        module).
        """
        return max(sum(isinstance(m, nn.Conv2d) for m in branch.modules())
                   for branch in (self.branch1, self.branch2, self.branch3, self.branch4))

    def extra_repr(self) -> str:
        names = ("#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5", "pool proj")
        return f"in={self.in_channels}, " + ", ".join(
            f"{n}={v}" for n, v in zip(names, self.columns)
        )


class InceptionAux(nn.Module):
    """An auxiliary classifier (Section 5), attached to inception (4a) and (4d) during training:
    average pooling 5x5 stride 3 (14x14 -> 4x4), a 1x1 convolution with 128 filters and ReLU, a
    fully connected layer of 1024 units with ReLU, dropout of 70%, and a linear layer to the
    classes.

    ``pool`` replaces the paper's pooling (torchvision uses ``nn.AdaptiveAvgPool2d(4)``: 4x4 windows
    that do not match 5x5/3); ``reduce`` and ``hidden`` shrink it for small networks.
    """

    def __init__(self, in_channels: int, num_classes: int, *,
                 conv_block: Callable[..., nn.Module] = ConvReLU,
                 pool: Optional[nn.Module] = None, pooled_side: int = 4, reduce: int = 128,
                 hidden: int = 1024, dropout: float = 0.7):
        super().__init__()
        self.pool = pool if pool is not None else nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = conv_block(in_channels, reduce, kernel_size=1)
        self.fc1 = nn.Linear(reduce * pooled_side * pooled_side, hidden)
        self.dropout = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pool(x))                    # 4a: N x 512 x 14 x 14 -> N x 128 x 4 x 4
        x = F.relu(self.fc1(torch.flatten(x, 1)))      # N x 2048 -> N x 1024
        return self.fc2(self.dropout(x))               # N x num_classes
