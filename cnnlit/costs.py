"""What one layer costs, per input image, and how far it sees: the counting rules by module type.

:func:`cnnlit.analysis.summary` asks :func:`cost_of` and :func:`window_of` for every layer. The
rules live in two tables keyed by module type, here and nowhere else (the layers themselves know
nothing of accounting): ``COST_RULES`` (module type -> rule) and ``WINDOW_RULES`` (module type ->
(kernel extent, stride)). A new layer type registers a rule with :func:`register_cost` /
:func:`register_window`, or defines ``layer_cost(inputs, output) -> Cost`` itself.

- ``connections``: LeCun et al. 1998's count — for every output unit, its inputs plus one for the
  bias.
- ``macs``: multiply-accumulates of convolutions and linear layers (what the papers' "FLOPs" count);
  element-wise layers and max-pooling count zero.

>>> import torch
>>> from torch import nn
>>> conv = nn.Conv2d(1, 6, 5)                 # LeNet-5's C1: 6 maps of 28x28
>>> cost_of(conv, (torch.zeros(1, 1, 32, 32),), conv(torch.zeros(1, 1, 32, 32)))
Cost(connections=122304, macs=117600)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import torch
from torch import nn

from .layers import EuclideanRBF, Inception, PartialConv2d, ScaledTanh, Subsampling
from .layers.residual import ZeroPadShortcut
from .module_tools import pair

__all__ = ["COST_RULES", "WINDOW_RULES", "Cost", "cost_of", "has_cost_rule", "register_cost",
           "register_window", "window_of"]


@dataclass(frozen=True)
class Cost:
    """One layer's connections and multiply-adds for one input image."""
    connections: int = 0
    macs: int = 0


CostRule = Callable[[nn.Module, tuple, torch.Tensor], Cost]
COST_RULES: dict[type, CostRule] = {}


def _add_rule(table: dict, module_types: tuple, rule: Callable) -> Callable:
    for module_type in module_types:
        table[module_type] = rule
    return rule


def register_cost(*module_types: type) -> Callable[[CostRule], CostRule]:
    """Decorator: ``@register_cost(MyLayer)`` teaches :func:`cnnlit.analysis.summary` how to count a
    module type."""
    return partial(_add_rule, COST_RULES, module_types)


def _units(output: torch.Tensor) -> int:
    """Output units per image."""
    return output[0].numel()


@register_cost(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _convolution(module: nn.Conv2d, inputs, output) -> Cost:
    fan_in = (module.in_channels // module.groups) * math.prod(module.kernel_size)
    units = _units(output)
    return Cost(connections=units * (fan_in + (module.bias is not None)), macs=units * fan_in)


@register_cost(nn.ConvTranspose2d)
def _transposed_convolution(module: nn.ConvTranspose2d, inputs, output) -> Cost:
    # every input unit sends to (out_channels / groups) * k * k outputs
    fan_out = (module.out_channels // module.groups) * math.prod(module.kernel_size)
    macs = inputs[0][0].numel() * fan_out
    return Cost(connections=macs + (_units(output) if module.bias is not None else 0), macs=macs)


@register_cost(nn.Linear)
def _linear(module: nn.Linear, inputs, output) -> Cost:
    units = _units(output)
    return Cost(connections=units * (module.in_features + (module.bias is not None)),
                macs=units * module.in_features)


@register_cost(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
def _max_pooling(module, inputs, output) -> Cost:
    size, dims = module.kernel_size, output.ndim - 2        # 1, 2 or 3 pooled dimensions
    window = size if isinstance(size, (tuple, list)) else (size,) * dims
    return Cost(connections=_units(output) * math.prod(window))


@register_cost(nn.AvgPool2d)
def _average_pooling(module, inputs, output) -> Cost:
    window = math.prod(pair(module.kernel_size))
    return Cost(connections=_units(output) * window, macs=_units(output) * window)


@register_cost(nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
def _adaptive_pooling(module, inputs, output) -> Cost:
    in_h, in_w = inputs[0].shape[-2:]
    out_h, out_w = output.shape[-2:]
    window = math.ceil(in_h / out_h) * math.ceil(in_w / out_w)
    macs = _units(output) * window if isinstance(module, nn.AdaptiveAvgPool2d) else 0
    return Cost(connections=_units(output) * window, macs=macs)


# --------------------------------------------------------------------------- the historical layers

@register_cost(ScaledTanh)
def _squashing(module: ScaledTanh, inputs, output) -> Cost:
    return Cost()           # element-wise: LeCun et al. count no connections for the squashing


@register_cost(Subsampling)
def _subsampling(module: Subsampling, inputs, output) -> Cost:
    # S2/S4: a 2x2 sum (4 inputs) times a coefficient, plus a bias (LeCun et al. 1998, section II-B)
    window = module.window * module.window
    return Cost(connections=_units(output) * (window + 1), macs=_units(output) * window)


@register_cost(PartialConv2d)
def _partial_convolution(module: PartialConv2d, inputs, output) -> Cost:
    # C3: only the table's links are connections (Table I); one bias per output map
    positions = output.shape[-2] * output.shape[-1]
    weights = module.links * module.kernel_size ** 2
    return Cost(connections=positions * (weights + module.out_channels), macs=positions * weights)


@register_cost(EuclideanRBF)
def _radial_basis(module: EuclideanRBF, inputs, output) -> Cost:
    products = _units(output) * module.in_features
    return Cost(connections=products, macs=products)


@register_cost(Inception)
def _inception(module: Inception, inputs, output) -> Cost:
    """The sum over the module's convolutions and its pooling: every one has stride 1 and 'same'
    padding, so all work on the output's H x W."""
    positions = output.shape[-2] * output.shape[-1]
    connections = macs = 0
    for part in module.modules():
        if isinstance(part, nn.Conv2d):
            fan_in = part.in_channels // part.groups * math.prod(part.kernel_size)
            units = part.out_channels * positions
            macs += units * fan_in
            connections += units * (fan_in + (part.bias is not None))
        elif isinstance(part, nn.MaxPool2d):
            connections += module.in_channels * positions * math.prod(pair(part.kernel_size))
    return Cost(connections=connections, macs=macs)


def _rule(table: dict, module: nn.Module):
    """The rule of the module's type, or of its nearest base class in ``table``."""
    return next((table[klass] for klass in type(module).__mro__ if klass in table), None)


def has_cost_rule(module: nn.Module) -> bool:
    """True when the module counts as one layer: its own ``layer_cost``, or a rule for its type."""
    return callable(getattr(module, "layer_cost", None)) or _rule(COST_RULES, module) is not None


def cost_of(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Cost:
    """The module's own ``layer_cost`` if it has one, else the rule of its type (or of the nearest
    base class in ``COST_RULES``), else zero."""
    own_rule = getattr(module, "layer_cost", None)
    if callable(own_rule):
        return own_rule(inputs, output)
    rule = _rule(COST_RULES, module)
    return rule(module, inputs, output) if rule is not None else Cost()


# --------------------------------------------------------------------------- receptive fields

WindowRule = Callable[[nn.Module], tuple]
WINDOW_RULES: dict[type, WindowRule] = {}


def register_window(*module_types: type) -> Callable[[WindowRule], WindowRule]:
    """Decorator: ``@register_window(MyLayer)`` gives a module type's (kernel extent, stride), the
    two numbers that grow a receptive field: r <- r + (k - 1) j, j <- j s."""
    return partial(_add_rule, WINDOW_RULES, module_types)


@register_window(nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
def _sliding_window(module) -> tuple:
    kernel, stride = pair(module.kernel_size)[0], pair(module.stride)[0]
    dilation = pair(getattr(module, "dilation", 1))[0]
    return (kernel - 1) * dilation + 1, stride


register_window(Subsampling)(lambda module: (module.window, module.window))   # disjoint blocks
register_window(PartialConv2d)(lambda module: (module.kernel_size, 1))
# the widest branch decides how far an Inception module sees: 5 (paper) or 3 (torchvision); stride 1
register_window(Inception)(lambda module: (max(3, module.wide_kernel), 1))
register_window(ZeroPadShortcut)(lambda module: (1, module.stride))           # a strided subsample


def window_of(module: nn.Module) -> Optional[tuple]:
    """(kernel extent, stride) of a module that slides a window, else None."""
    rule = _rule(WINDOW_RULES, module)
    return tuple(rule(module)) if rule is not None else None
