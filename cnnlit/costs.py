"""What one layer costs, per input image: the :class:`Cost` record and the counting rules by module type.

:func:`cnnlit.analysis.summary` asks :func:`cost_of` for every layer. The rules live in one table,
``COST_RULES`` (module type -> rule); a layer type of our own either defines
``layer_cost(inputs, output) -> Cost`` (the layers in :mod:`cnnlit.layers` do) or registers a rule with
:func:`register_cost`.

- ``connections``: LeCun et al. 1998's count — for every output unit, its inputs plus one for the bias.
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
from typing import Callable

import torch
from torch import nn

from .module_tools import pair


@dataclass(frozen=True)
class Cost:
    """One layer's connections and multiply-adds for one input image."""
    connections: int = 0
    macs: int = 0


CostRule = Callable[[nn.Module, tuple, torch.Tensor], Cost]
COST_RULES: dict[type, CostRule] = {}


def register_cost(*module_types: type) -> Callable[[CostRule], CostRule]:
    """Decorator: ``@register_cost(MyLayer)`` teaches :func:`cnnlit.analysis.summary` how to count a
    module type."""
    def register(rule: CostRule) -> CostRule:
        for module_type in module_types:
            COST_RULES[module_type] = rule
        return rule
    return register


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
    return Cost(connections=_units(output) * math.prod(pair(module.kernel_size)))


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


def cost_of(module: nn.Module, inputs: tuple, output: torch.Tensor) -> Cost:
    """The module's own ``layer_cost`` if it has one, else the rule of its type (or of the nearest base
    class in ``COST_RULES``), else zero."""
    own_rule = getattr(module, "layer_cost", None)
    if callable(own_rule):
        return own_rule(inputs, output)
    for klass in type(module).__mro__:
        if klass in COST_RULES:
            return COST_RULES[klass](module, inputs, output)
    return Cost()
