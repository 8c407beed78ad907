"""Dropout as the 2012 paper describes it, next to the "inverted" dropout PyTorch ships.

Krizhevsky et al. 2012, section 4.2, after Hinton et al. 2012 (arXiv:1207.0580; the journal account
is Srivastava et al. 2014): while training, each hidden unit's output is set to zero with
probability p = 0.5; at test time all units are used and their outputs are multiplied by 0.5 (1 -
p), so a unit's test output equals its expected training output.

PyTorch's ``nn.Dropout`` moves the scaling into training: kept units are multiplied by 1 / (1 - p)
and the test-time network is left untouched. The expectations are the same:

    classic:   E[train] = (1 - p) * a        test = (1 - p) * a
    inverted:  E[train] = a                  test = a

so the two differ only by the constant factor (1 - p), which the next layer's weights absorb.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ClassicDropout"]


class ClassicDropout(nn.Module):
    """Zero each unit with probability ``p`` in training mode; multiply by ``1 - p`` in eval mode.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"ClassicDropout: p is the probability of dropping a unit, in [0, 1); "
                             f"got {p}")
        self.p = float(p)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        keep = 1.0 - self.p
        if self.training:
            mask = torch.rand_like(a) < keep          # kept with probability 1 - p
            return a * mask
        # "multiply their outputs by 0.5" (section 4.2)
        return a * keep

    def extra_repr(self) -> str:
        return f"p={self.p:g}"
