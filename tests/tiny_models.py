"""Tiny networks for the command-line trainer's tests (``--model tiny_models:tiny_cnn``)."""
from torch import nn


def tiny_cnn(num_classes: int = 3, channels: int = 3) -> nn.Module:
    """One 3x3 convolution, global average pooling and a linear classifier: enough to tell colours apart."""
    return nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, num_classes))
