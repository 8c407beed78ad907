"""LeNet-5's own layers (LeCun et al. 1998, section II-B and appendix A), which PyTorch lacks.

- :class:`ScaledTanh`: the squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (eq. 6,
  appendix A).
- :class:`Subsampling`: S2/S4, a 2x2 sum times one trainable coefficient plus one trainable bias per
  map.
- :class:`PartialConv2d`: C3, a convolution whose output maps see only the input maps a connection
  table allows (Table I), with one 5x5 kernel per link and no weights for the missing links.
- :class:`EuclideanRBF`: the output layer, y_i = sum_j (x_j - w_ij)^2 against fixed parameter
  vectors.

How :func:`cnnlit.analysis.summary` counts their connections (as the paper does: for every output
unit, its inputs plus one for the bias) is :mod:`cnnlit.costs`'s job.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["INIT_RULES", "EuclideanRBF", "PartialConv2d", "ScaledTanh", "Subsampling", "check_init",
           "full_connection_cost", "init_uniform_"]


class ScaledTanh(nn.Module):
    """f(a) = A tanh(S a). The paper's constants make f(1) = 1 and f(-1) = -1, so the ±1 targets of
    the RBF codes sit inside the range (+-A) instead of at its asymptotes (appendix A). The gain
    (the slope f') is largest at 0, f'(0) = A S = 1.14; at +-1 it is the second derivative's
    magnitude |f''| that is (nearly) largest, which the paper says helps convergence late in
    training."""

    A = 1.7159
    S = 2.0 / 3.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.A * torch.tanh(self.S * x)

    def extra_repr(self) -> str:
        return f"A={self.A}, S={self.S:.4f}"


# LeNet-5's initialisation: every weight and bias uniform in +-bound(F), F the fan-in of its unit.
INIT_RULES = {
    # appendix A (paired there with per-parameter steps)
    "paper": lambda fan_in: 2.4 / fan_in,
    # standard deviation fan_in^-1/2 (LeCun et al.'s
    "lecun": lambda fan_in: math.sqrt(3.0 / fan_in),
# "Efficient BackProp", 1998): faster with plain SGD
}


def check_init(init: str) -> str:
    if init not in INIT_RULES:
        raise ValueError(f"unknown init {init!r}; choose one of: {', '.join(INIT_RULES)}")
    return init


@torch.no_grad()
def init_uniform_(tensor: torch.Tensor, fan_in: int, init: str = "paper") -> torch.Tensor:
    """Fill ``tensor`` in place, uniform in [-bound(F), bound(F)] with ``INIT_RULES[init]`` (for
    "paper": 2.4 / F, appendix A)."""
    bound = INIT_RULES[check_init(init)](fan_in)
    return tensor.uniform_(-bound, bound)


class Subsampling(nn.Module):
    """S2 and S4: each unit adds the four inputs of its non-overlapping 2x2 block, multiplies the
    sum by a trainable coefficient and adds a trainable bias (one coefficient and one bias per
    feature map). The squashing that follows is a separate :class:`ScaledTanh`."""

    def __init__(self, channels: int, window: int = 2):
        super().__init__()
        self.channels, self.window = channels, window
        self.coefficient = nn.Parameter(torch.empty(channels))
        self.bias = nn.Parameter(torch.empty(channels))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, init: str = "paper") -> None:
        """"paper": coefficient and bias uniform in +-2.4/4 (fan-in 4: the 2x2 block); otherwise a
        coefficient of 0.5 and no bias."""
        if check_init(init) == "paper":
            init_uniform_(self.coefficient, self.window * self.window, init)
            init_uniform_(self.bias, self.window * self.window, init)
        else:
            self.coefficient.fill_(0.5)
            self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block_sum = F.avg_pool2d(x, self.window) * (self.window * self.window)
        return block_sum * self.coefficient[:, None, None] + self.bias[:, None, None]

    def extra_repr(self) -> str:
        return f"{self.channels}, window={self.window}"


class PartialConv2d(nn.Module):
    """A convolution where output map ``j`` sees input map ``i`` only if ``table[i][j]`` is true
    (C3).

    Only the linked kernels are parameters (``weight`` is (links, k, k)), so the parameter count is
    the paper's: links * k * k + out_channels biases. The forward pass scatters them into a full
    kernel bank (zeros for missing links) and runs one ordinary convolution.
    """

    def __init__(self, table: Sequence[Sequence[bool]], kernel_size: int = 5):
        super().__init__()
        connected = torch.as_tensor([[bool(v) for v in row] for row in table], dtype=torch.bool)
        if connected.ndim != 2 or not connected.any(dim=0).all():
            raise ValueError("the connection table must be (in_channels, out_channels) with every "
                             "output map fed by at least one input map")
        self.in_channels, self.out_channels = connected.shape
        self.kernel_size = kernel_size
        self.register_buffer("table", connected, persistent=False)
        # links in (output map, input map) order; position o * in_channels + i in the full kernel
        # bank
        out_index, in_index = connected.t().nonzero(as_tuple=True)
        self.register_buffer("link_index", out_index * self.in_channels + in_index,
                             persistent=False)
        self.weight = nn.Parameter(torch.empty(len(out_index), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, init: str = "paper") -> None:
        """Each kernel uniform in +-bound(F), F the fan-in of its output map (links x k x k); biases
        the same for "paper", zero otherwise."""
        bound = INIT_RULES[check_init(init)]
        fan_in = self.table.sum(dim=0) * self.kernel_size ** 2                 # per output map
        link_fan_in = fan_in[self.link_index // self.in_channels]
        limits = torch.tensor([bound(int(f)) for f in link_fan_in])[:, None, None]
        self.weight.copy_((torch.rand_like(self.weight) * 2 - 1) * limits)
        if init == "paper":
            self.bias.copy_(
                (torch.rand(self.out_channels) * 2 - 1)
                * torch.tensor([bound(int(f)) for f in fan_in])
            )
        else:
            self.bias.zero_()

    @property
    def links(self) -> int:
        return int(self.table.sum())

    def full_weight(self) -> torch.Tensor:
        """The (out, in, k, k) kernel bank with zeros where the table has no link."""
        k = self.kernel_size
        bank = self.weight.new_zeros(self.out_channels * self.in_channels, k, k)
        bank = bank.index_copy(0, self.link_index, self.weight)
        return bank.view(self.out_channels, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.full_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"links={self.links}")


class EuclideanRBF(nn.Module):
    """Output units y_i = sum_j (x_j - w_ij)^2: the squared distance from the input to each class's
    parameter vector (eq. 7). The vectors are fixed (a buffer, not trained), as in the paper's
    LeNet-5, where they are ±1 codes drawn from 7x12 bitmaps. The output is a penalty: the smallest
    wins."""

    def __init__(self, codes: torch.Tensor):
        super().__init__()
        if codes.ndim != 2:
            raise ValueError(f"codes must be (classes, features), got {tuple(codes.shape)}")
        self.register_buffer("codes", codes.float().clone())

    @property
    def in_features(self) -> int:
        return self.codes.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, 1, F) - (1, classes, F) -> squared distances (N, classes)
        return (x.unsqueeze(1) - self.codes.unsqueeze(0)).pow(2).sum(dim=-1)

    def extra_repr(self) -> str:
        classes, features = self.codes.shape
        return f"in_features={features}, classes={classes} (fixed codes)"


def full_connection_cost(in_channels: int, out_channels: int, kernel_size: int,
                         positions: int) -> dict:
    """What a convolution connecting every input map to every output map would cost (for comparing
    with C3).
    """
    weights = in_channels * out_channels * kernel_size ** 2
    return {"params": weights + out_channels, "connections": positions * (weights + out_channels)}
