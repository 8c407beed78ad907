"""Local response normalisation (Krizhevsky, Sutskever & Hinton 2012, section 3.3), from the paper's
formula.

    b[i] = a[i] / (k + alpha * sum_{j = i - n/2}^{i + n/2} a[j]^2) ** beta

over ``n`` adjacent kernel maps at the same position (channels past either end are left out). The
paper uses k = 2, n = 5, alpha = 1e-4, beta = 0.75, applied after the ReLU of conv1 and conv2:
``ALEXNET_LRN``, the layer's defaults. Only VGG says it reuses them (A-LRN, Simonyan & Zisserman
2015, Section 2.1); ZF Net and GoogLeNet print no constants for theirs, and cnnlit gives them
AlexNet's.

PyTorch's ``torch.nn.LocalResponseNorm`` divides alpha by n (it averages the squares instead of
summing them), so the paper's layer is ``torch.nn.LocalResponseNorm(n, alpha * n, beta, k)``: see
:meth:`to_torch`.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

__all__ = ["ALEXNET_LRN", "LocalResponseNorm", "LRNSettings"]


class LRNSettings(NamedTuple):
    """The four constants of local response normalisation, in the paper's letters."""
    size: int        # n, adjacent kernel maps summed over
    alpha: float
    beta: float
    k: float


# Krizhevsky et al. 2012, section 3.3
ALEXNET_LRN = LRNSettings(size=5, alpha=1e-4, beta=0.75, k=2.0)


class LocalResponseNorm(nn.Module):
    """The paper's brightness normalisation across channels: a unit is divided by the energy of its
    ``size`` neighbouring channels at the same pixel ("lateral inhibition", section 3.3). The
    defaults are the paper's constants (:data:`ALEXNET_LRN`)."""

    def __init__(self, size: int = ALEXNET_LRN.size, alpha: float = ALEXNET_LRN.alpha,
                 beta: float = ALEXNET_LRN.beta, k: float = ALEXNET_LRN.k):
        super().__init__()
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"LocalResponseNorm: size (n, the number of adjacent channels) must "
                             f"be a positive int, got {size!r}")
        if alpha < 0 or beta < 0 or k < 0:
            raise ValueError(f"LocalResponseNorm: alpha, beta and k must be >= 0, got "
                             f"alpha={alpha}, beta={beta}, k={k}")
        if k == 0 and alpha == 0:
            raise ValueError("LocalResponseNorm: k and alpha are both 0, so the divisor is 0")
        self.size, self.alpha, self.beta, self.k = size, float(alpha), float(beta), float(k)

    def channel_energy(self, a: torch.Tensor) -> torch.Tensor:
        """sum of a[j]^2 over the window of channels around each channel i, shape (N, C, H, W).

        The window is i - n//2 ... i + (n-1)//2: exactly n channels, centred for odd n as in the
        paper (n = 5: i-2 ... i+2), and channels past either end are left out (the sum's limits
        max(0, .) and min(N-1, .)). For even n the paper's limits i +- n/2 would span n+1 channels;
        we keep n, as torch does.

        The window sum is one matrix product: the squares times a C x C band matrix whose entry (j,
        i) is 1 when channel j lies in channel i's window. It is the same sum as adding n shifted
        copies; in the channels-last layout, where those copies are strided, one product is faster
        on the CPU (AlexNet-small's training 1.35x, benchmarks/RESULTS.md)."""
        if a.ndim != 4:
            raise ValueError(f"LocalResponseNorm expects (N, C, H, W) activations, got "
                             f"{tuple(a.shape)}")
        channels = torch.arange(a.shape[1], device=a.device)
        offset = channels[None, :] - channels[:, None]             # i - j, rows j, columns i
        window = (offset <= self.size // 2) & (offset >= -((self.size - 1) // 2))
        return torch.einsum("njhw,ji->nihw", a.pow(2), window.to(a.dtype))

    def divisor(self, a: torch.Tensor) -> torch.Tensor:
        """(k + alpha * sum_j a[j]^2) ** beta at every unit: what each activation is divided by."""
        return (self.k + self.alpha * self.channel_energy(a)).pow(self.beta)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a / self.divisor(a)

    def to_torch(self) -> nn.LocalResponseNorm:
        """The same layer in PyTorch's convention (alpha is multiplied by n, since torch divides by
        n).
        """
        return nn.LocalResponseNorm(self.size, alpha=self.alpha * self.size, beta=self.beta,
                                    k=self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha:g}, beta={self.beta:g}, k={self.k:g}"
