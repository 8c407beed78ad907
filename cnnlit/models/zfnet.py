"""ZF Net: M. D. Zeiler and R. Fergus, "Visualizing and Understanding Convolutional Networks", ECCV
2014 (arXiv:1311.2901). Table 2 of the paper: one network as in Fig. 3 has 16.5% top-5 error on the
ILSVRC-2012 validation set; an ensemble of six has 14.8% on the test set. (The 11.2% the review
quotes is the winning ILSVRC-2013 entry, Clarifai's, trained with extra data: Szegedy et al. 2015,
Table 2; not this paper's.)

The network is AlexNet retuned by looking at it through the deconvnet (Section 4.1, Fig. 6): the
first layer's 11x11 stride-4 filters became 7x7 stride 2, the second layer's stride became 2, and
every convolution runs densely on one GPU, where AlexNet's conv2, conv4 and conv5 were grouped
across two (AlexNet Section 3.5; ZF's Section 3 says "layers 3,4,5").

>>> from cnnlit.models.zfnet import zfnet, zfnet_small
>>> model = zfnet()                 # 224x224 RGB crop -> 1000 class scores
>>> small = zfnet_small(in_channels=1, image_size=32)    # the chapter's CPU-sized network

Small networks for the chapters follow one convention in every paper's module: ``<paper>_small``,
registered under that name (``get_model("zfnet_small")``).
"""
from __future__ import annotations

from torch import nn

from ..layers import LocalResponseNorm
from ..module_tools import he_initialisation, output_size
from .alexnet import ConvRow
from .registry import expect_input, register

__all__ = ["ZFNet", "ZFNetSmall", "zfnet", "zfnet_small"]

# Fig. 3, one row per layer, in AlexNet's record (ZF pool first, then normalise; no groups).
# The paper gives maps, kernels and strides; it does not state padding. The paddings below are the
# ones that reproduce the caption's feature-map sizes: 110 -> 55 after layer 1, 26 -> 13 after layer
# 2, 13 for layers 3-5 and 6 after the last pooling (6 * 6 * 256 = 9216 inputs to the first fc
# layer).
#            name  filters size stride padding groups normalised pooled
FIG3_CONV = [
    ConvRow("conv1", 96, 7, 2, 1, 1, True, True),      # 224 + 2*1 - 7 = 219 -> 219 // 2 + 1 = 110
    ConvRow("conv2", 256, 5, 2, 0, 1, True, True),     # 55 - 5 = 50 -> 50 // 2 + 1 = 26
    ConvRow("conv3", 384, 3, 1, 1, 1, False, False),   # 13 -> 13
    ConvRow("conv4", 384, 3, 1, 1, 1, False, False),   # 13 -> 13
    ConvRow("conv5", 256, 3, 1, 1, 1, False, True),    # 13 -> 13, pooled to 6
]
FC_WIDTH = 4096        # layers 6 and 7
DROPOUT = 0.5          # Section 3: dropout in the fully connected layers 6 and 7, rate 0.5


def _pool() -> nn.MaxPool2d:
    # "max within 3x3 regions, using stride 2" (Fig. 3). ceil_mode (Caffe's rounding, which ZF's
    # sizes follow) keeps the last partial window: 110 -> 55 and 26 -> 13, where floor would give 54
    # and 12.
    return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)


class ZFNet(nn.Module):
    """Layers 1-5 in ``features`` (conv, ReLU, pool, normalisation as in Fig. 3), layers 6-8 in
    ``classifier``, the ``features``/``classifier`` split torchvision's AlexNet and VGG use."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = DROPOUT):
        super().__init__()
        layers, channels = [], in_channels
        for row in FIG3_CONV:
            layers += [nn.Conv2d(channels, row.filters, row.size, row.stride, row.padding,
                                 groups=row.groups),
                       nn.ReLU(inplace=True)]
            if row.pooled:
                layers.append(_pool())
            if row.normalised:
                # "contrast normalized across feature maps" (Fig. 3): AlexNet's local response
                # normalisation, its constants the defaults (ZF do not restate them)
                layers.append(LocalResponseNorm())
            channels = row.filters
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            # layer 6
            nn.Dropout(dropout), nn.Linear(channels * 6 * 6, FC_WIDTH), nn.ReLU(inplace=True),
            # layer 7
            nn.Dropout(dropout), nn.Linear(FC_WIDTH, FC_WIDTH), nn.ReLU(inplace=True),
            # C-way softmax
            nn.Linear(FC_WIDTH, num_classes),
        )

    def forward(self, x):
        x = self.features(x)          # (N, 256, 6, 6)
        return self.classifier(x)     # (N, num_classes) scores; the softmax lives in the loss


@register("zfnet")
def zfnet(num_classes: int = 1000, in_channels: int = 3, dropout: float = DROPOUT) -> ZFNet:
    """ZF Net as in Zeiler & Fergus (2013), Fig. 3, for a 224x224 crop."""
    model = ZFNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout)
    return expect_input(model, name="zfnet", channels=in_channels, size=224,
                        hint="Fig. 3 takes a 224x224 crop; resize or crop images first.")


class ZFNetSmall(nn.Module):
    """A ZF-style network sized for 32-96 pixel images (the chapter's experiments, not the paper's
    net).

    Five conv layers as in Fig. 3, narrower; the first layer's ``first_kernel``/``first_stride``
    switch between ZF's 7x7 stride 2 and AlexNet's 11x11 stride 4 with everything else unchanged.
    Departures from Fig. 3 for small images: conv2 keeps stride 1 (at 64 pixels a second stride of 2
    would leave 2x2 maps for layers 3-5), paddings keep sizes ("same"), and one fc layer of
    ``fc_width`` units.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, *, image_size: int = 64,
                 first_kernel: int = 7, first_stride: int = 2, widths=(32, 64, 96, 96, 64),
                 fc_width: int = 256, dropout: float = 0.5):
        super().__init__()
        w1, w2, w3, w4, w5 = widths
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w1, first_kernel, first_stride, first_kernel // 2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, padding=1), LocalResponseNorm(),
            nn.Conv2d(w1, w2, 5, 1, 2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, padding=1), LocalResponseNorm(),
            nn.Conv2d(w2, w3, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(w3, w4, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(w4, w5, 3, 1, 1), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, padding=1),
        )
        side = _side(image_size, first_kernel, first_stride)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(w5 * side * side, fc_width),
            nn.ReLU(inplace=True),
            nn.Linear(fc_width, num_classes))
        # He initialisation: with PyTorch's default (smaller) initial weights and the two
        # normalisation layers dividing by k^beta = 1.7, the signal fades over seven layers and
        # short SGD runs stall at chance. (ZF drew weights from N(0, 0.01^2) and trained for 70
        # epochs, Section 3.)
        he_initialisation(self, linear=True)

    def forward(self, x):
        return self.classifier(self.features(x))


def _side(size: int, kernel: int, stride: int) -> int:
    """Side of ZFNetSmall's last feature map for a ``size`` input."""
    size = output_size(size, kernel, stride, kernel // 2)          # conv1
    # three 3x3 stride-2 poolings, padding 1
    for _ in range(3):
        size = output_size(size, 3, 2, 1)
    return size


@register("zfnet_small")
def zfnet_small(in_channels: int = 1, num_classes: int = 10, *, image_size: int = 64,
                first_kernel: int = 7,
                first_stride: int = 2, **kwargs) -> ZFNetSmall:
    """:class:`ZFNetSmall` with its input check (``image_size`` square images of ``in_channels``).
    """
    model = ZFNetSmall(in_channels, num_classes, image_size=image_size, first_kernel=first_kernel,
                       first_stride=first_stride, **kwargs)
    name = f"zfnet_small (first layer {first_kernel}x{first_kernel}, stride {first_stride})"
    return expect_input(model, name=name, channels=in_channels, size=image_size,
                        hint=f"resize images to {image_size}x{image_size} first.")
