"""Tiny networks for the command-line trainer's tests (``--model tiny_models:tiny_cnn``)."""
from torch import nn


def tiny_cnn(num_classes: int = 3, channels: int = 3) -> nn.Module:
    """One 3x3 convolution, global average pooling and a linear classifier: enough to tell colours
    apart.
    """
    return nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, num_classes))


class _Diverging(nn.Module):
    """Scores that are NaN from the first batch: a run whose loss is not a number."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.net = tiny_cnn(num_classes)

    def forward(self, x):
        return self.net(x) * float("nan")


def diverging_cnn(num_classes: int = 3) -> nn.Module:
    """:func:`tiny_cnn` whose outputs are NaN: for the divergence check."""
    return _Diverging(num_classes)
