"""ResNet: He, Zhang, Ren and Sun, "Deep residual learning for image recognition" (CVPR 2016; arXiv
2015).

>>> model = resnet(50)            # Table 1 as published (stride on the bottleneck's first 1x1)
>>> model = resnet(50, variant="torchvision")  # torchvision's layout: its state_dict loads
>>> model = resnet_cifar(20)      # Section 4.2: the 6n+2-layer CIFAR-10 nets, option-A shortcuts
>>> model = resnet_cifar(20, plain=True)        # the same stack without shortcuts

Module names follow torchvision in both variants (``layer1`` ... ``layer4`` are the paper's conv2_x
... conv5_x); the variants differ only where the bottleneck subsamples.
"""
from __future__ import annotations

from typing import NamedTuple

from torch import nn

from ..layers.residual import BasicBlock, Bottleneck, make_shortcut, optional_batch_norm
from ..module_tools import he_initialisation
from .registry import expect_input, register

__all__ = ["PAPER_CIFAR_PARAMETERS", "PAPER_FLOPS", "STAGE_NAMES", "TABLE_1", "VARIANTS",
           "CifarResNet", "ResNet", "plain110", "plain20", "plain32", "plain44", "plain56",
           "resnet", "resnet101", "resnet110", "resnet1202", "resnet152", "resnet18", "resnet20",
           "resnet32", "resnet34", "resnet44", "resnet50", "resnet56", "resnet_cifar"]


class Stages(NamedTuple):
    """One column of Table 1: the block, and how many of them in conv2_x, conv3_x, conv4_x, conv5_x.
    """
    block: type
    blocks: tuple


# He et al. 2016, Table 1.
TABLE_1 = {
    18: Stages(BasicBlock, (2, 2, 2, 2)),
    34: Stages(BasicBlock, (3, 4, 6, 3)),
    50: Stages(Bottleneck, (3, 4, 6, 3)),
    101: Stages(Bottleneck, (3, 4, 23, 3)),
    152: Stages(Bottleneck, (3, 8, 36, 3)),
}
STAGE_NAMES = ("conv2_x", "conv3_x", "conv4_x", "conv5_x")
STAGE_WIDTHS = (64, 128, 256, 512)               # filters of the 3x3 layers in each stage (Table 1)
# Table 1, last row: "FLOPs" (the paper counts multiply-adds) for a 224x224 image.
PAPER_FLOPS = {18: 1.8e9, 34: 3.6e9, 50: 3.8e9, 101: 7.6e9, 152: 11.3e9}

# Section 4.2 / Table 6: CIFAR-10 networks of 6n+2 layers and their parameter counts.
CIFAR_WIDTHS = (16, 32, 64)                      # filters on maps of 32x32, 16x16, 8x8
PAPER_CIFAR_PARAMETERS = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6, 1202: 19.4e6}
VARIANTS = ("paper", "torchvision")


def _stage(block, in_channels: int, channels: int, blocks: int, stride: int,
           **block_options) -> nn.Sequential:
    """One conv*_x stage: the first block subsamples (and widens), the others keep the shape."""
    layers = [block(in_channels, channels, stride, **block_options)]
    layers += [block(channels * block.expansion, channels, 1,
                     **block_options) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """The ImageNet networks of Table 1."""

    def __init__(self, depth: int, variant: str = "paper", num_classes: int = 1000,
                 shortcut: str = "B",
                 plain: bool = False):
        super().__init__()
        block, blocks = TABLE_1[depth]
        options = {"shortcut": shortcut, "residual": not plain}
        if block is Bottleneck:
            options["stride_on"] = "1x1" if variant == "paper" else "3x3"
        self.depth, self.variant = depth, variant
        # conv1: 7x7, 64, stride 2
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        # 3x3 max pool, stride 2
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        width = 64
        for index, (channels, count) in enumerate(zip(STAGE_WIDTHS, blocks)):
            stride = 1 if index == 0 else 2          # conv3_1, conv4_1, conv5_1 subsample (Table 1)
            self.add_module(f"layer{index + 1}", _stage(block, width, channels, count, stride,
                                                        **options))
            width = channels * block.expansion
        # global average pooling
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)                              # 1000-d fc, softmax
        # He et al. 2015 (the paper's reference [13]) for every convolution, fan-out as torchvision;
        # BN as identity
        he_initialisation(self, mode="fan_out", batch_norm=True)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))   # (N, 64, 56, 56) for a 224 input
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))   # (N, 512 or 2048, 7, 7)
        return self.fc(self.avgpool(x).flatten(1))


def resnet(depth: int, variant: str = "paper", num_classes: int = 1000, *, shortcut: str = "B",
           plain: bool = False) -> ResNet:
    """ResNet-``depth`` (18, 34, 50, 101 or 152) for 3 x 224 x 224 images (He et al. 2016, Table 1).

    - ``variant="paper"``: the bottleneck subsamples with its first 1x1 convolution, as published;
      ``variant="torchvision"``: with its 3x3 convolution, so ``torchvision.models.resnetNN()``'s
      state dict loads unchanged (the two are identical for 18 and 34).
    - ``shortcut``: "B" (projections where the shape changes: the paper's choice for 50/101/152 and
      torchvision's), "A" (zero-padding, as the paper's Table 2 for 18/34) or "C" (projections
      everywhere).
    - ``plain=True``: the plain baseline of Fig. 3 (middle), no shortcuts.
    """
    if depth not in TABLE_1:
        raise ValueError(f"ResNet depth must be one of {', '.join(map(str, TABLE_1))} (Table 1), "
                         f"got {depth!r}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    if variant == "torchvision" and (shortcut != "B" or plain):
        raise ValueError("variant='torchvision' has option-B shortcuts and no plain version; "
                         "use variant='paper' for shortcut='A'/'C' or plain=True")
    model = ResNet(depth, variant, num_classes, shortcut, plain)
    name = f"{'plain' if plain else 'resnet'}{depth} ({variant})"
    return expect_input(model, name=name, channels=3, min_size=32,
                        hint="ImageNet networks take RGB images, 224x224 in the paper (five "
                             "halvings: at "
                             "least 32x32). For 1-channel or CIFAR-sized images use resnet_cifar.")


class CifarResNet(nn.Module):
    """Section 4.2: a 3x3 convolution, then 3 stages of n blocks (2n layers each) on maps of 32, 16
    and 8 pixels with 16, 32 and 64 filters, global average pooling and a 10-way fully connected
    layer."""

    def __init__(self, depth: int, plain: bool = False, shortcut: str = "A", in_channels: int = 3,
                 num_classes: int = 10, batch_norm: bool = True):
        super().__init__()
        n = (depth - 2) // 6
        self.depth, self.plain = depth, plain
        options = {"shortcut": shortcut, "residual": not plain, "batch_norm": batch_norm}
        self.conv1 = nn.Conv2d(in_channels, CIFAR_WIDTHS[0], 3, padding=1, bias=not batch_norm)
        self.bn1 = optional_batch_norm(CIFAR_WIDTHS[0], batch_norm)
        self.relu = nn.ReLU()
        width = CIFAR_WIDTHS[0]
        for index, channels in enumerate(CIFAR_WIDTHS):
            # "subsampling is performed by convolutions with a stride of 2"
            self.add_module(f"layer{index + 1}",
                            _stage(BasicBlock, width, channels, n, 1 if index == 0 else 2,
                                   **options))
            width = channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)
        # as the ImageNet networks
        he_initialisation(self, mode="fan_out", batch_norm=True)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))                     # (N, 16, 32, 32)
        x = self.layer3(self.layer2(self.layer1(x)))               # (N, 64, 8, 8)
        return self.fc(self.avgpool(x).flatten(1))


@register("resnet_cifar")
def resnet_cifar(depth: int = 20, plain: bool = False, shortcut: str = "A", *, in_channels: int = 3,
                 num_classes: int = 10, batch_norm: bool = True) -> CifarResNet:
    """The CIFAR-10 network of ``depth`` = 6n+2 layers (20, 32, 44, 56, 110, 1202 in the paper).

    ``shortcut="A"`` is the paper's choice here ("we use identity shortcuts in all cases (option
    A)"), so the residual net has exactly the plain net's parameters; "B" adds 1x1 projections where
    the width grows. ``in_channels=1`` takes greyscale images (Fashion-MNIST); ``batch_norm=False``
    drops BN (not in the paper).
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, "
                         f"110, ...), got {depth!r}")
    make_shortcut(1, 1, 1, shortcut)             # validates the option with a clear message
    model = CifarResNet(depth, plain, shortcut, in_channels, num_classes, batch_norm)
    name = f"{'plain' if plain else 'resnet'}{depth} (CIFAR)"
    return expect_input(model, name=name, channels=in_channels, min_size=8,
                        hint=f"Built for {in_channels}-channel images (32x32 in the paper); pass "
                             "in_channels=1 for greyscale data.")


# The registry, one builder per name as torchvision writes them. ImageNet depths (18...152) and
# CIFAR depths (6n+2) never coincide, so the usual names "resnet18" and "resnet20" share one
# namespace; "plainNN" are the CIFAR baselines without shortcuts. Every name builds from its own
# defaults ("resnet_cifar" is ResNet-20); :func:`resnet` needs a depth, so it is registered by
# depth.

@register("resnet18")
def resnet18(variant: str = "paper", num_classes: int = 1000, **options) -> ResNet:
    """ResNet-18 for ImageNet (Table 1): basic blocks, (2, 2, 2, 2) per stage (:func:`resnet`)."""
    return resnet(18, variant, num_classes, **options)


@register("resnet34")
def resnet34(variant: str = "paper", num_classes: int = 1000, **options) -> ResNet:
    """ResNet-34 for ImageNet (Table 1): basic blocks, (3, 4, 6, 3) per stage (:func:`resnet`)."""
    return resnet(34, variant, num_classes, **options)


@register("resnet50")
def resnet50(variant: str = "paper", num_classes: int = 1000, **options) -> ResNet:
    """ResNet-50 for ImageNet (Table 1): bottleneck blocks, (3, 4, 6, 3) per stage."""
    return resnet(50, variant, num_classes, **options)


@register("resnet101")
def resnet101(variant: str = "paper", num_classes: int = 1000, **options) -> ResNet:
    """ResNet-101 for ImageNet (Table 1): bottleneck blocks, (3, 4, 23, 3) per stage."""
    return resnet(101, variant, num_classes, **options)


@register("resnet152")
def resnet152(variant: str = "paper", num_classes: int = 1000, **options) -> ResNet:
    """ResNet-152 for ImageNet (Table 1): bottleneck blocks, (3, 8, 36, 3) per stage."""
    return resnet(152, variant, num_classes, **options)


@register("resnet20")
def resnet20(*, num_classes: int = 10, **options) -> CifarResNet:
    """ResNet-20 for CIFAR-10 (Section 4.2, n = 3); see :func:`resnet_cifar`."""
    return resnet_cifar(20, num_classes=num_classes, **options)


@register("resnet32")
def resnet32(*, num_classes: int = 10, **options) -> CifarResNet:
    """ResNet-32 for CIFAR-10 (Section 4.2, n = 5); see :func:`resnet_cifar`."""
    return resnet_cifar(32, num_classes=num_classes, **options)


@register("resnet44")
def resnet44(*, num_classes: int = 10, **options) -> CifarResNet:
    """ResNet-44 for CIFAR-10 (Section 4.2, n = 7); see :func:`resnet_cifar`."""
    return resnet_cifar(44, num_classes=num_classes, **options)


@register("resnet56")
def resnet56(*, num_classes: int = 10, **options) -> CifarResNet:
    """ResNet-56 for CIFAR-10 (Section 4.2, n = 9); see :func:`resnet_cifar`."""
    return resnet_cifar(56, num_classes=num_classes, **options)


@register("resnet110")
def resnet110(*, num_classes: int = 10, **options) -> CifarResNet:
    """ResNet-110 for CIFAR-10 (Section 4.2, n = 18); see :func:`resnet_cifar`."""
    return resnet_cifar(110, num_classes=num_classes, **options)


@register("resnet1202")
def resnet1202(*, num_classes: int = 10, **options) -> CifarResNet:
    """ResNet-1202 for CIFAR-10 (Section 4.2, n = 200); see :func:`resnet_cifar`."""
    return resnet_cifar(1202, num_classes=num_classes, **options)


@register("plain20")
def plain20(*, num_classes: int = 10, **options) -> CifarResNet:
    """The plain 20-layer CIFAR-10 baseline (Section 4.2, n = 3): ResNet-20 without shortcuts."""
    return resnet_cifar(20, plain=True, num_classes=num_classes, **options)


@register("plain32")
def plain32(*, num_classes: int = 10, **options) -> CifarResNet:
    """The plain 32-layer CIFAR-10 baseline (Section 4.2, n = 5): ResNet-32 without shortcuts."""
    return resnet_cifar(32, plain=True, num_classes=num_classes, **options)


@register("plain44")
def plain44(*, num_classes: int = 10, **options) -> CifarResNet:
    """The plain 44-layer CIFAR-10 baseline (Section 4.2, n = 7): ResNet-44 without shortcuts."""
    return resnet_cifar(44, plain=True, num_classes=num_classes, **options)


@register("plain56")
def plain56(*, num_classes: int = 10, **options) -> CifarResNet:
    """The plain 56-layer CIFAR-10 baseline (Section 4.2, n = 9): ResNet-56 without shortcuts."""
    return resnet_cifar(56, plain=True, num_classes=num_classes, **options)


@register("plain110")
def plain110(*, num_classes: int = 10, **options) -> CifarResNet:
    """The plain 110-layer CIFAR-10 baseline (Section 4.2, n = 18): ResNet-110 without shortcuts."""
    return resnet_cifar(110, plain=True, num_classes=num_classes, **options)
