"""VGG (Simonyan & Zisserman, 2015, "Very Deep Convolutional Networks for Large-Scale Image
Recognition").

Every configuration is one column of the paper's Table 1, written in its own notation: ``conv3-64``
is a 3x3 convolution with 64 output channels (stride 1, padding 1, Sec. 2.1), ``conv1-256`` a 1x1
convolution (configuration C only), ``LRN`` Krizhevsky's local response normalisation (A-LRN only).
Each block of a column is followed by a 2x2 max-pooling with stride 2. After the five blocks come
FC-4096, FC-4096, FC-1000 and the soft-max (applied by the loss); every hidden layer is followed by
a ReLU.

Module names are torchvision's (``features``, ``avgpool``, ``classifier``), so the state_dicts of
torchvision's ``vgg11``, ``vgg13``, ``vgg16`` and ``vgg19`` (and their ``_bn`` versions) load into
A, B, D and E.

Departures from the paper (knobs whose defaults give the published layers; only ``init`` defaults to
torchvision's recipe rather than the paper's):
- ``avgpool`` (torchvision's adaptive average pooling to ``pool_size`` x ``pool_size``) sits between
  the features and the classifier; at the paper's 224x224 input the features are already 7x7 and it
  does nothing.
- ``batch_norm=True`` puts a BatchNorm2d after each convolution (Ioffe & Szegedy, 2015: a year after
  VGG).
- ``width`` divides every layer's channel count, ``hidden`` sets the FC width, ``in_channels`` the
  input channels and ``pool_size`` the classifier's input grid: narrow networks for a laptop CPU.
- ``init`` picks the initialisation: ``"paper"`` draws every weight from N(0, 10^-2) with zero
  biases (Sec. 3.1; the paper then trained the deeper nets starting from A's layers), ``"glorot"``
  is Glorot & Bengio (2010), which the paper found works without that pre-training, and
  ``"kaiming"`` (the default) is torchvision's: He et al. (2015) for the convolutions, N(0, 0.01^2)
  for the FC layers.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from ..layers import LocalResponseNorm
from ..module_tools import he_initialisation
from .registry import expect_input, register

__all__ = ["CLASSIFIER", "TABLE_1", "TORCHVISION_NAMES", "VGG", "WEIGHT_LAYERS", "config_key",
           "initialise", "make_features", "parse_layer", "vgg", "vgg11", "vgg13", "vgg16", "vgg19"]

# Table 1: ConvNet configurations, block by block; every block ends in "maxpool".
TABLE_1: dict[str, list[list[str]]] = {
    "A":     [["conv3-64"],
              ["conv3-128"],
              ["conv3-256", "conv3-256"],
              ["conv3-512", "conv3-512"],
              ["conv3-512", "conv3-512"]],
    "A-LRN": [["conv3-64", "LRN"],
              ["conv3-128"],
              ["conv3-256", "conv3-256"],
              ["conv3-512", "conv3-512"],
              ["conv3-512", "conv3-512"]],
    "B":     [["conv3-64", "conv3-64"],
              ["conv3-128", "conv3-128"],
              ["conv3-256", "conv3-256"],
              ["conv3-512", "conv3-512"],
              ["conv3-512", "conv3-512"]],
    "C":     [["conv3-64", "conv3-64"],
              ["conv3-128", "conv3-128"],
              ["conv3-256", "conv3-256", "conv1-256"],
              ["conv3-512", "conv3-512", "conv1-512"],
              ["conv3-512", "conv3-512", "conv1-512"]],
    "D":     [["conv3-64", "conv3-64"],
              ["conv3-128", "conv3-128"],
              ["conv3-256", "conv3-256", "conv3-256"],
              ["conv3-512", "conv3-512", "conv3-512"],
              ["conv3-512", "conv3-512", "conv3-512"]],
    "E":     [["conv3-64", "conv3-64"],
              ["conv3-128", "conv3-128"],
              ["conv3-256", "conv3-256", "conv3-256", "conv3-256"],
              ["conv3-512", "conv3-512", "conv3-512", "conv3-512"],
              ["conv3-512", "conv3-512", "conv3-512", "conv3-512"]],
}
CLASSIFIER = ["FC-4096", "FC-4096", "FC-1000", "soft-max"]     # Table 1, bottom rows
WEIGHT_LAYERS = {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}   # Table 1, header
TORCHVISION_NAMES = {"A": "vgg11", "B": "vgg13", "D": "vgg16", "E": "vgg19"}
INITS = ("paper", "glorot", "kaiming")

_CONV = re.compile(r"conv(\d+)-(\d+)$")


def parse_layer(entry: str) -> tuple:
    """``"conv3-256"`` -> ("conv", 3, 256); ``"LRN"`` -> ("LRN",)."""
    if entry == "LRN":
        return ("LRN",)
    match = _CONV.match(entry)
    if not match:
        raise ValueError(f"not a Table 1 entry: {entry!r} (expected 'convK-C' or 'LRN')")
    return ("conv", int(match.group(1)), int(match.group(2)))


def config_key(config: str) -> str:
    """The Table 1 key for ``config`` (``"d"`` -> ``"D"``); an unknown configuration lists the valid
    ones.
    """
    key = str(config).upper()
    if key not in TABLE_1:
        raise ValueError(f"unknown VGG configuration {config!r}; Table 1 has: {', '.join(TABLE_1)}")
    return key


def make_features(config: str, *, batch_norm: bool = False, in_channels: int = 3,
                  width: int = 1) -> nn.Sequential:
    """The convolutional part of a Table 1 column: conv (+BN) + ReLU per entry, max-pooling after
    each block.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for block in TABLE_1[config_key(config)]:
        for entry in block:
            kind = parse_layer(entry)
            if kind[0] == "LRN":
                # Krizhevsky et al. (2012)'s LRN, which the paper uses "where applicable" (Sec. 2.1)
                layers.append(LocalResponseNorm())
                continue
            _, kernel, out_channels = kind
            out_channels = max(1, out_channels // width)
            # stride 1 and padding (k-1)/2: 3x3 and 1x1 convolutions preserve the spatial size (Sec.
            # 2.1)
            layers.append(nn.Conv2d(channels, out_channels, kernel, stride=1, padding=kernel // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
            channels = out_channels
        # "max-pooling ... 2x2 pixel window, stride 2"
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """One column of Table 1: ``features`` (the conv blocks), ``avgpool``, ``classifier`` (three FC
    layers).
    """

    def __init__(self, config: str, *, batch_norm: bool = False, num_classes: int = 1000,
                 in_channels: int = 3,
                 width: int = 1, hidden: int = 4096, pool_size: int = 7, dropout: float = 0.5,
                 init: str = "kaiming"):
        super().__init__()
        self.config = config_key(config)
        self.features = make_features(self.config, batch_norm=batch_norm, in_channels=in_channels,
                                      width=width)
        last = max(1, 512 // width)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        # dropout 0.5 on the first two FC (Sec. 3.1)
        self.classifier = nn.Sequential(
            nn.Linear(last * pool_size * pool_size, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        initialise(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, 512, 7, 7) at 224x224: five poolings halve 224 five times
        x = self.features(x)
        x = self.avgpool(x)                  # identity at 224x224
        # (N, num_classes) scores; soft-max is in the loss
        return self.classifier(torch.flatten(x, 1))


def initialise(model: nn.Module, init: str = "kaiming") -> nn.Module:
    """Re-initialise conv and FC layers: ``"paper"``, ``"glorot"`` or ``"kaiming"`` (see the module
    docstring).
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    # torchvision's choice: He et al. (2015) by fan-out for the convolutions
    if init == "kaiming":
        # (every convolution runs before the FC layers)
        he_initialisation(model, mode="fan_out")
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if init == "paper":
                # "zero mean and 10^-2 variance" (Sec. 3.1)
                nn.init.normal_(module.weight, 0.0, 0.1)
            elif init == "glorot":
                nn.init.xavier_uniform_(module.weight)
            # torchvision's choice for the FC layers
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


@register("vgg")
def vgg(config: str = "D", batch_norm: bool = False, num_classes: int = 1000, **knobs) -> VGG:
    """VGG configuration ``"A"``, ``"A-LRN"``, ``"B"``, ``"C"``, ``"D"`` or ``"E"`` of Table 1.

    ``knobs``: ``in_channels``, ``width``, ``hidden``, ``pool_size``, ``dropout``, ``init`` (see
    :class:`VGG`). The input must be at least 32x32: five 2x2 poolings leave one pixel.
    """
    model = VGG(config, batch_norm=batch_norm, num_classes=num_classes, **knobs)
    channels = model.features[0].in_channels
    return expect_input(model, name=f"VGG-{model.config}", channels=channels, min_size=32,
                        hint="(the paper feeds 224x224 RGB crops; five 2x2 poolings need at least "
                             "32x32)")


@register("vgg11")
def vgg11(**kwargs) -> VGG:
    """Configuration A (11 weight layers); torchvision's ``vgg11``."""
    return vgg("A", **kwargs)


@register("vgg13")
def vgg13(**kwargs) -> VGG:
    """Configuration B (13 weight layers); torchvision's ``vgg13``."""
    return vgg("B", **kwargs)


@register("vgg16")
def vgg16(**kwargs) -> VGG:
    """Configuration D (16 weight layers); torchvision's ``vgg16``."""
    return vgg("D", **kwargs)


@register("vgg19")
def vgg19(**kwargs) -> VGG:
    """Configuration E (19 weight layers); torchvision's ``vgg19``."""
    return vgg("E", **kwargs)
