"""GoogLeNet: Szegedy et al. 2015, "Going deeper with convolutions" (CVPR), the ILSVRC 2014 winner.

``TABLE_1`` is the paper's Table 1 as printed, row by row; the network is built from its Inception
columns (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), and the chapter checks the printed
output sizes, depths, parameters and operations against the built network.

Variants of ``googlenet(variant=...)``:

- ``"paper"`` (default): the network as published — real 5x5 branches, no batch normalisation, local
  response normalisation where Figure 3 has it, the two auxiliary classifiers of Section 5 on (4a)
  and (4d) (average pool 5x5/3, 1x1 conv 128, fc 1024, dropout 70%, linear), dropout 40% before the
  last linear layer. It expects 224x224 RGB crops.
- ``"torchvision"``: torchvision's ``googlenet`` module for module, so its ``state_dict`` (and its
  ported ImageNet weights) load. Departures from the paper, all torchvision's: batch norm after
  every convolution (and no convolution biases), 3x3 instead of 5x5 in the "#5x5" branch, a 2x2 (not
  3x3) last max pool, no LRN, adaptive average pools (4x4 in the auxiliary classifiers, 1x1 at the
  top), dropout 20% (not 40%), and ``transform_input`` (off by default; the pretrained weights want
  it on, see :func:`googlenet`).

``googlenet_small`` (registered under that name, as every chapter's small network): a CPU-sized
Inception network for 28-32 pixel images (the chapter's training experiment): a 3x3 stem, modules
(3a), (3b), (4a), (4b) with Table 1's columns scaled by ``width``, one auxiliary classifier on (4a),
global average pooling.

In training mode a network with auxiliary classifiers returns :class:`InceptionOutputs` (main logits
and the auxiliary logits). Its ``training_loss`` method is Section 5's loss, :func:`auxiliary_loss`:
the main loss plus the auxiliary losses weighted by 0.3; :func:`cnnlit.train.fit` calls a model's
``training_loss`` where it has one. In eval mode every variant returns the main logits only
("removed at inference time", Section 5).

>>> import torch
>>> model = googlenet_small(in_channels=1, num_classes=10).train()
>>> outputs = model(torch.rand(4, 1, 28, 28))
>>> loss = model.training_loss(outputs, torch.tensor([0, 1, 2, 3]))      # main + 0.3 x auxiliary
"""
from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..imagenet import IMAGENET_MEAN, IMAGENET_STD
from ..layers import LocalResponseNorm
from ..layers.inception import BasicConv2d, ConvReLU, Inception, InceptionAux
from ..module_tools import he_initialisation
from .registry import expect_input, register

__all__ = ["COLUMNS", "TABLE_1", "VARIANTS", "GoogLeNet", "GoogLeNetSmall", "InceptionOutputs",
           "auxiliary_loss", "googlenet", "googlenet_small"]

VARIANTS = ("paper", "torchvision")
# Section 5: "the losses of the auxiliary classifiers were weighted by 0.3"
AUX_WEIGHT = 0.3


class Row(NamedTuple):
    """One printed row of Table 1 and the modules of ours that make it up."""
    name: str                        # "type" column (with the module's label)
    patch: str                       # "patch size/stride"
    output: str                      # "output size", as printed
    depth: int
    columns: Optional[tuple]         # (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
    params_k: Optional[float]        # "params", printed in K
    ops_m: Optional[float]           # "ops" (multiply-adds), printed in M
    modules: tuple                   # our module names; LRN sits in the rows Figure 3 places it


_ = None                             # a cell the printed table leaves blank
# Szegedy et al. 2015, Table 1 ("GoogLeNet incarnation of the Inception architecture").
#              type              patch   output size    depth  #1x1 #3x3r #3x3 #5x5r #5x5 proj
#              params  ops
TABLE_1 = (
    Row("convolution",     "7×7/2", "112×112×64",  1, None,                            2.7,    34,
        ("conv1",)),
    Row("max pool",        "3×3/2", "56×56×64",    0, None,                            _,      _,
        ("maxpool1", "lrn1")),
    Row("convolution",     "3×3/1", "56×56×192",   2, (_,   64,  192, _,  _,   _),     112,    360,
        ("conv2", "conv3", "lrn2")),
    Row("max pool",        "3×3/2", "28×28×192",   0, None,                            _,      _,
        ("maxpool2",)),
    Row("inception (3a)",  "",      "28×28×256",   2, (64,  96,  128, 16, 32,  32),    159,    128,
        ("inception3a",)),
    Row("inception (3b)",  "",      "28×28×480",   2, (128, 128, 192, 32, 96,  64),    380,    304,
        ("inception3b",)),
    Row("max pool",        "3×3/2", "14×14×480",   0, None,                            _,      _,
        ("maxpool3",)),
    Row("inception (4a)",  "",      "14×14×512",   2, (192, 96,  208, 16, 48,  64),    364,    73,
        ("inception4a",)),
    Row("inception (4b)",  "",      "14×14×512",   2, (160, 112, 224, 24, 64,  64),    437,    88,
        ("inception4b",)),
    Row("inception (4c)",  "",      "14×14×512",   2, (128, 128, 256, 24, 64,  64),    463,    100,
        ("inception4c",)),
    Row("inception (4d)",  "",      "14×14×528",   2, (112, 144, 288, 32, 64,  64),    580,    119,
        ("inception4d",)),
    Row("inception (4e)",  "",      "14×14×832",   2, (256, 160, 320, 32, 128, 128),   840,    170,
        ("inception4e",)),
    Row("max pool",        "3×3/2", "7×7×832",     0, None,                            _,      _,
        ("maxpool4",)),
    Row("inception (5a)",  "",      "7×7×832",     2, (256, 160, 320, 32, 128, 128),   1072,   54,
        ("inception5a",)),
    Row("inception (5b)",  "",      "7×7×1024",    2, (384, 192, 384, 48, 128, 128),   1388,   71,
        ("inception5b",)),
    Row("avg pool",        "7×7/1", "1×1×1024",    0, None,                            _,      _,
        ("avgpool",)),
    Row("dropout (40%)",   "",      "1×1×1024",    0, None,                            _,      _,
        ("dropout",)),
    Row("linear",          "",      "1×1×1000",    1, None,                            1000,   1,
        ("fc",)),
    Row("softmax",         "",      "1×1×1000",    0, None,                            _,      _,
        ()),                         # in the loss (cross-entropy), not in the network
)
del _
COLUMNS = {row.modules[0]: row.columns for row in TABLE_1 if row.name.startswith("inception")}


class InceptionOutputs(NamedTuple):
    """What a network with auxiliary classifiers returns in training mode."""
    logits: torch.Tensor             # the main classifier
    aux1: Optional[torch.Tensor]     # the auxiliary classifier on (4a)
    aux2: Optional[torch.Tensor]     # the auxiliary classifier on (4d)


def auxiliary_loss(outputs, labels: torch.Tensor, *, aux_weight: float = AUX_WEIGHT,
                   criterion: Callable = F.cross_entropy) -> torch.Tensor:
    """Section 5's training loss: main loss + 0.3 x each auxiliary loss. Plain logits (eval mode, or
    a network without auxiliary classifiers) get the plain loss. The networks' ``training_loss``."""
    if not isinstance(outputs, InceptionOutputs):
        return criterion(outputs, labels)
    loss = criterion(outputs.logits, labels)
    for aux in (outputs.aux1, outputs.aux2):
        if aux is not None:
            loss = loss + aux_weight * criterion(aux, labels)
    return loss


class AuxiliaryClassifiers:
    """What GoogLeNet and its small version share about their auxiliary classifiers (Section 5)."""

    aux_logits: bool

    def with_aux(self, logits, aux1, aux2):
        """Auxiliary outputs only while training; at inference the main classifier alone (Section
        5).
        """
        if self.training and self.aux_logits:
            return InceptionOutputs(logits, aux1, aux2)
        return logits

    def training_loss(self, outputs, labels: torch.Tensor,
                      criterion: Callable = F.cross_entropy) -> torch.Tensor:
        """Section 5's training loss (:func:`auxiliary_loss`); :func:`cnnlit.train.fit` calls it."""
        return auxiliary_loss(outputs, labels, criterion=criterion)


class GoogLeNet(AuxiliaryClassifiers, nn.Module):
    """The 22-layer network of Table 1 / Figure 3, with the pieces the two variants disagree on as
    options. Submodule names are torchvision's (conv2 is Table 1's "#3x3 reduce", conv3 its
    "#3x3")."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, *,
                 conv_block: Callable[..., nn.Module] = ConvReLU, wide_kernel: int = 5,
                 lrn: bool = True,
                 last_pool_kernel: int = 3, adaptive_pools: bool = False, dropout: float = 0.4,
                 dropout_aux: float = 0.7, transform_input: bool = False):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        block = partial(Inception, conv_block=conv_block, wide_kernel=wide_kernel)
        # the paper's LRN has no constants printed; AlexNet's (Krizhevsky et al. 2012, Section 3.3)
        norm = LocalResponseNorm if lrn else (lambda: None)

        # max pools round up (ceil_mode), as the Caffe reference network does: 112 -> 56 -> 28 -> 14
        # -> 7
        self.conv1 = conv_block(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = norm()
        self.conv2 = conv_block(64, 64, kernel_size=1)                 # Table 1: #3x3 reduce 64
        self.conv3 = conv_block(64, 192, kernel_size=3, padding=1)     # Table 1: #3x3 192
        self.lrn2 = norm()
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = block(192, *COLUMNS["inception3a"])
        self.inception3b = block(self.inception3a.out_channels, *COLUMNS["inception3b"])
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = block(self.inception3b.out_channels, *COLUMNS["inception4a"])
        self.inception4b = block(self.inception4a.out_channels, *COLUMNS["inception4b"])
        self.inception4c = block(self.inception4b.out_channels, *COLUMNS["inception4c"])
        self.inception4d = block(self.inception4c.out_channels, *COLUMNS["inception4d"])
        self.inception4e = block(self.inception4d.out_channels, *COLUMNS["inception4e"])
        # torchvision: 2x2
        self.maxpool4 = nn.MaxPool2d(last_pool_kernel, stride=2, ceil_mode=True)
        self.inception5a = block(self.inception4e.out_channels, *COLUMNS["inception5a"])
        self.inception5b = block(self.inception5a.out_channels, *COLUMNS["inception5b"])

        if aux_logits:
            aux = partial(InceptionAux, num_classes=num_classes, conv_block=conv_block,
                          dropout=dropout_aux)
            pool = (lambda: nn.AdaptiveAvgPool2d(4)) if adaptive_pools else (lambda: None)
            self.aux1 = aux(self.inception4a.out_channels, pool=pool())
            self.aux2 = aux(self.inception4d.out_channels, pool=pool())
        else:
            self.aux1 = self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d(1) if adaptive_pools else nn.AvgPool2d(7, stride=1)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.inception5b.out_channels, num_classes)
        if conv_block is ConvReLU:
            # The paper states no initialisation (its networks were trained with DistBelief);
            # without batch norm, PyTorch's default leaves a ReLU stack this deep barely learning
            # for the first epochs, and He et al. 2015's rule starts it at once (our choice).
            he_initialisation(self)

    def _transform_input(self, x: torch.Tensor) -> torch.Tensor:
        """torchvision's ``transform_input``: undo ImageNet mean/std normalisation and map to [-1,
        1], the input scaling the ported weights were trained with."""
        if not self.transform_input:
            return x
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return x * (std / 0.5) + (mean - 0.5) / 0.5

    def forward(self, x: torch.Tensor):
        x = self._transform_input(x)                    # N x 3 x 224 x 224
        x = self.maxpool1(self.conv1(x))                # N x 64 x 56 x 56
        if self.lrn1 is not None:
            x = self.lrn1(x)
        x = self.conv3(self.conv2(x))                   # N x 192 x 56 x 56
        if self.lrn2 is not None:
            x = self.lrn2(x)
        x = self.maxpool2(x)                            # N x 192 x 28 x 28
        x = self.inception3b(self.inception3a(x))       # N x 480 x 28 x 28
        x = self.inception4a(self.maxpool3(x))          # N x 512 x 14 x 14
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))    # N x 528 x 14 x 14
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))          # N x 832 x 7 x 7
        x = self.inception5b(self.inception5a(x))       # N x 1024 x 7 x 7
        x = torch.flatten(self.avgpool(x), 1)           # N x 1024
        logits = self.fc(self.dropout(x))               # N x num_classes
        return self.with_aux(logits, aux1, aux2)


class GoogLeNetSmall(AuxiliaryClassifiers, nn.Module):
    """A CPU-sized Inception network for small images: a 3x3 stem, (3a) (3b) | pool | (4a) (4b) with
    Table 1's columns times ``width``, one auxiliary classifier on (4a), global average pooling,
    dropout, linear."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 0.25,
                 aux_logits: bool = True, dropout: float = 0.4):
        super().__init__()
        if not 0 < width <= 1:
            raise ValueError(f"width scales Table 1's columns and must be in (0, 1], got {width}")

        def scaled(name):
            return [None if c is None else max(1, round(c * width)) for c in COLUMNS[name]]

        self.aux_logits = aux_logits
        stem = max(8, round(192 * width))
        self.conv1 = ConvReLU(in_channels, stem, kernel_size=3, padding=1)   # 32 x 32 (28 x 28)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)           # 16 x 16 (14 x 14)
        self.inception3a = Inception(stem, *scaled("inception3a"))
        self.inception3b = Inception(self.inception3a.out_channels, *scaled("inception3b"))
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)           # 8 x 8 (7 x 7)
        self.inception4a = Inception(self.inception3b.out_channels, *scaled("inception4a"))
        self.inception4b = Inception(self.inception4a.out_channels, *scaled("inception4b"))
        # one auxiliary classifier, shrunk like the rest: 2x2 pooling, 1x1 conv, fc, dropout 70%,
        # linear
        self.aux1 = InceptionAux(self.inception4a.out_channels, num_classes,
                                 pool=nn.AdaptiveAvgPool2d(2),
                                 pooled_side=2, reduce=max(8, round(128 * width)),
                                 hidden=max(16, round(1024 * width))) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.inception4b.out_channels, num_classes)
        he_initialisation(self)                      # as GoogLeNet's (our choice, see there)

    def forward(self, x: torch.Tensor):
        x = self.maxpool1(self.conv1(x))
        x = self.inception4a(self.maxpool2(self.inception3b(self.inception3a(x))))
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = torch.flatten(self.avgpool(self.inception4b(x)), 1)
        return self.with_aux(self.fc(self.dropout(x)), aux1, None)


@register("googlenet")
def googlenet(variant: str = "paper", aux_logits: bool = True, num_classes: int = 1000, *,
              transform_input: bool = False, in_channels: int = 3) -> nn.Module:
    """GoogLeNet (Szegedy et al. 2015). ``variant``: "paper" (Table 1 as published) or "torchvision"
    (loads torchvision's state dicts; set ``transform_input=True`` for its pretrained ImageNet
    weights, as ``torchvision.models.googlenet(weights=...)`` does). Both take RGB images:
    ``in_channels`` must be 3 (:func:`googlenet_small` takes other channel counts)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown googlenet variant {variant!r}; choose one of "
                         f"{', '.join(VARIANTS)} "
                         "(or googlenet_small for the chapter's CPU-sized network)")
    if in_channels != 3:
        raise ValueError(f"the {variant} googlenet takes RGB images (in_channels=3); "
                         f"use googlenet_small for {in_channels}-channel images")
    if variant == "paper":
        model = GoogLeNet(num_classes, aux_logits)
        return expect_input(model, name="googlenet (paper)", channels=3, size=224,
                            hint="The paper's network takes 224x224 crops: its 7x7/1 average pool "
                                 "and the "
                                 "auxiliary classifiers' 5x5/3 pools (14x14 -> 4x4) fix the map "
                                 "sizes. "
                                 "Resize or crop to 224, or use googlenet_small for small images.")
    model = GoogLeNet(num_classes, aux_logits, conv_block=BasicConv2d, wide_kernel=3, lrn=False,
                      last_pool_kernel=2, adaptive_pools=True, dropout=0.2,
                      transform_input=transform_input)
    # adaptive pooling takes any size from 15x15 up (torchvision's GoogLeNet_Weights meta: min_size
    # 15)
    return expect_input(model, name="googlenet (torchvision)", channels=3, min_size=15,
                        hint="Images are usually resized to 256 and centre-cropped to 224.")


@register("googlenet_small")
def googlenet_small(in_channels: int = 3, num_classes: int = 10, *, width: float = 0.25,
                    aux_logits: bool = True) -> GoogLeNetSmall:
    """The chapter's CPU-sized Inception network (:class:`GoogLeNetSmall`) for 8-pixel and larger
    images of ``in_channels``; ``width`` scales Table 1's columns."""
    model = GoogLeNetSmall(in_channels, num_classes, width=width, aux_logits=aux_logits)
    return expect_input(model, name="googlenet_small", channels=in_channels, min_size=8,
                        hint="Its two 3x3/2 max pools need at least 8x8 pixels.")
