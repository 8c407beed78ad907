"""AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012.

Three builders:

- ``alexnet(variant="paper")``: the published two-tower network (section 3.5, Figure 2) on 227 x 227
  inputs.
- ``alexnet(variant="torchvision")``: the single-tower network torchvision ships (after Krizhevsky's
  2014 "one weird trick" version, whose footnote gives 64-192-384-384-256 kernels; torchvision's
  conv4 has 256, from cuda-convnet2's one-GPU configuration: pytorch/vision#463), with torchvision's
  module names, so its ``state_dict`` loads unchanged.
- ``alexnet_small``: the same ingredients (ReLU, LRN, overlapping pooling, dropout) scaled down to
  28 x 28 / 32 x 32 images, each one a switch, for the chapter's CPU experiments.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from ..layers.dropout import ClassicDropout
from ..layers.normalization import LocalResponseNorm
from .registry import expect_input, register

__all__ = ["PAPER_CONVOLUTIONS", "AlexNet", "AlexNetSmall", "AlexNetTorchvision", "ConvRow",
           "alexnet", "alexnet_small"]


class ConvRow(NamedTuple):
    """One row of a convolutional table: AlexNet's (section 3.5) and ZF Net's (Fig. 3) use the same
    record. ``groups`` = 2 where a layer's kernels see only the maps of their own GPU ("tower")."""
    name: str
    filters: int          # kernels (output maps)
    size: int             # kernel side
    stride: int
    padding: int
    groups: int
    normalised: bool      # local response normalisation after the layer
    pooled: bool          # max-pooling after the layer


# The paper's convolutional layers, section 3.5. Groups = 2 for conv2, conv4, conv5; conv1 (48
# kernels per GPU, each seeing the whole image) and conv3 (connected to all conv2 maps on both GPUs)
# have groups = 1. The paper does not state paddings: they are the ones that keep 27 x 27 (conv2)
# and 13 x 13 (conv3-5) maps.
#                   name     filters size stride padding groups normalised pooled
PAPER_CONVOLUTIONS = [
    ConvRow("conv1",  96, 11, 4, 0, 1, True,  True),
    ConvRow("conv2", 256,  5, 1, 2, 2, True,  True),
    ConvRow("conv3", 384,  3, 1, 1, 1, False, False),
    ConvRow("conv4", 384,  3, 1, 1, 2, False, False),
    ConvRow("conv5", 256,  3, 1, 1, 2, False, True),
]
PAPER_FULLY_CONNECTED = [("fc6", 4096), ("fc7", 4096)]   # then fc8: one output per class
# the paper says 224, but (224 - 11) / 4 + 1 is not a whole number; 227 gives 55
PAPER_INPUT_SIZE = 227
POOL_PAPER = dict(kernel_size=3, stride=2)                # section 3.4: z = 3, s = 2 (overlapping)
# smallest side for which every max-pool of the torchvision variant has a 3x3 window
TORCHVISION_MIN_SIZE = 63


class AlexNet(nn.Module):
    """The two-tower network of the paper: ``features`` (five convolutional layers) and
    ``classifier`` (three fully-connected layers). Module names follow the paper: ``features.conv1``
    ... ``classifier.fc8``."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, in_channels: int = 3,
                 convolutions=PAPER_CONVOLUTIONS):
        super().__init__()
        layers, channels = OrderedDict(), in_channels
        for index, row in enumerate(map(ConvRow._make, convolutions), 1):
            layers[row.name] = nn.Conv2d(channels, row.filters, row.size, row.stride, row.padding,
                                         groups=row.groups)
            # ReLU after every layer (section 3.5)
            layers[f"relu{index}"] = nn.ReLU(inplace=True)
            if row.normalised:
                layers[f"norm{index}"] = LocalResponseNorm()   # after the ReLU (section 3.3)
            if row.pooled:
                layers[f"pool{index}"] = nn.MaxPool2d(**POOL_PAPER)
            channels = row.filters
        self.features = nn.Sequential(layers)
        # 256 maps of 6 x 6
        head, width = OrderedDict(flatten=nn.Flatten()), channels * 6 * 6
        for index, (name, units) in enumerate(PAPER_FULLY_CONNECTED, 6):
            head[name] = nn.Linear(width, units)
            head[f"relu{index}"] = nn.ReLU(inplace=True)
            # dropout on the outputs of the first two fully-connected layers, scaled at test time
            # (4.2)
            head[f"drop{index}"] = ClassicDropout(dropout)
            width = units
        head["fc8"] = nn.Linear(width, num_classes)
        self.classifier = nn.Sequential(head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, 3, 227, 227) -> (N, 256, 6, 6) -> (N, classes)
        return self.classifier(self.features(x))


class AlexNetTorchvision(nn.Module):
    """torchvision's AlexNet: one tower, 64-192-384-256-256 kernels (the 2014 paper's footnote has
    384 in conv4), no LRN, adaptive 6 x 6 pooling and dropout before fc6 and fc7. Same submodule
    names and indices as ``torchvision.models.AlexNet``."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, in_channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))          # (N, 256, 6, 6) whatever the input size
        return self.classifier(torch.flatten(x, 1))


@register("alexnet")
def alexnet(variant: str = "paper", num_classes: int = 1000, dropout: float = 0.5,
            in_channels: int = 3) -> nn.Module:
    """AlexNet as published (``variant="paper"``, 227 x 227 inputs) or as torchvision ships it
    (``variant="torchvision"``, any input of at least 63 x 63; loads torchvision's
    ``state_dict``)."""
    if variant == "paper":
        model = AlexNet(num_classes, dropout, in_channels)
        return expect_input(model, name="alexnet (paper)", channels=in_channels,
                            size=PAPER_INPUT_SIZE,
                            hint="The paper's network takes 227 x 227 crops (its text says 224); "
                                 "resize or "
                                 "crop to 227, or use variant='torchvision' for other sizes.")
    if variant == "torchvision":
        model = AlexNetTorchvision(num_classes, dropout, in_channels)
        return expect_input(model, name="alexnet (torchvision)", channels=in_channels,
                            min_size=TORCHVISION_MIN_SIZE,
                            hint="Three 3 x 3 max-pools after a stride-4 convolution need at least "
                                 "63 pixels.")
    raise ValueError(f"unknown alexnet variant {variant!r}; choose 'paper' or 'torchvision'")


class AlexNetSmall(nn.Module):
    """AlexNet's ingredients on small images, for CPU experiments (our design, not the paper's):
    three convolutional layers (32-64-128 kernels at ``width=32``) and either a 256-unit hidden
    layer with dropout before the classifier (five layers) or the classifier alone (``hidden=0``:
    the "four-layer network" of the paper's Figure 1). Each of the paper's choices is a switch:

    - ``activation``: "relu" (section 3.1) or "tanh"
    - ``lrn``: local response normalisation after the first two layers (sections 3.3, 3.5)
    - ``pooling``: "overlapping" (3 x 3, stride 2; section 3.4) or "non-overlapping" (2 x 2, stride
      2). Both halve the map (the 3 x 3 window is padded by 1), so the two networks have the same
      shapes and parameters, as in the paper's comparison.
    - ``dropout``: probability for the hidden layer (0 turns it off), the paper's kind
      (:class:`ClassicDropout`)
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32, *,
                 width: int = 32,
                 hidden: int = 256, activation: str = "relu", lrn: bool = True,
                 pooling: str = "overlapping",
                 dropout: float = 0.5):
        super().__init__()
        activations = {"relu": nn.ReLU, "tanh": nn.Tanh}
        poolings = {"overlapping": dict(kernel_size=3, stride=2, padding=1),
                    "non-overlapping": dict(kernel_size=2, stride=2, ceil_mode=True)}
        if activation not in activations:
            raise ValueError(f"activation must be one of {sorted(activations)}, got {activation!r}")
        if pooling not in poolings:
            raise ValueError(f"pooling must be one of {sorted(poolings)}, got {pooling!r}")
        layers, channels = OrderedDict(), in_channels
        for index, (kernels, size) in enumerate([(width, 5), (2 * width, 5), (4 * width, 3)], 1):
            layers[f"conv{index}"] = nn.Conv2d(channels, kernels, size, padding=size // 2)
            layers[f"act{index}"] = activations[activation]()
            if lrn and index <= 2:
                layers[f"norm{index}"] = LocalResponseNorm()   # the paper's (section 3.3)
            layers[f"pool{index}"] = nn.MaxPool2d(**poolings[pooling])
            channels = kernels
        self.features = nn.Sequential(layers)
        with torch.no_grad():     # the flattened size for this image size
            flat = self.features(torch.zeros(1, in_channels, image_size, image_size)).numel()
        head = OrderedDict(flatten=nn.Flatten())
        if hidden:
            head["fc4"] = nn.Linear(flat, hidden)
            head["act4"] = activations[activation]()
            if dropout:
                head["drop4"] = ClassicDropout(dropout)   # as in the paper (section 4.2)
            flat = hidden
        head["out"] = nn.Linear(flat, num_classes)
        self.classifier = nn.Sequential(head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register("alexnet_small")
def alexnet_small(in_channels: int = 3, num_classes: int = 10, image_size: int = 32,
                  **switches) -> nn.Module:
    """A small AlexNet-like network for 28 x 28 or 32 x 32 images (see :class:`AlexNetSmall`)."""
    model = AlexNetSmall(in_channels, num_classes, image_size, **switches)
    return expect_input(model, name="alexnet_small", channels=in_channels, size=image_size,
                        hint="Build it with in_channels and image_size matching the data "
                             "(e.g. alexnet_small(in_channels=1, image_size=28) for "
                             "Fashion-MNIST).")
