"""The historical layers PyTorch lacks or hides, one file per family, re-exported here.

- ``lenet5_layers``: LeNet-5's trainable subsampling, C3's partial connection table, scaled tanh,
  Euclidean RBF output
- ``normalization``: AlexNet's local response normalisation, written from the paper's formula
- ``dropout``: the 2012 dropout (scale at test time) next to PyTorch's inverted dropout
- ``inception``: GoogLeNet's Inception module
- ``residual``: ResNet's basic and bottleneck blocks
"""
from .dropout import ClassicDropout
from .inception import Inception
from .lenet5_layers import EuclideanRBF, PartialConv2d, ScaledTanh, Subsampling
from .normalization import ALEXNET_LRN, LocalResponseNorm
from .residual import BasicBlock, Bottleneck

__all__ = ["ALEXNET_LRN", "BasicBlock", "Bottleneck", "ClassicDropout", "EuclideanRBF", "Inception",
           "LocalResponseNorm", "PartialConv2d", "ScaledTanh", "Subsampling"]
