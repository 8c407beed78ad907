"""Small helpers that take a torch module, shared by the models, the trainer and the analysis tools.

- :func:`evaluating`: eval mode for the length of a ``with`` block, the previous mode restored after;
- :func:`on_meta`: build a network on the meta device, for shapes and counts without memory;
- :func:`he_initialisation`: He et al. (2015)'s initialisation of a network's convolutions;
- :func:`pair`: a kernel size, stride or padding as a (height, width) pair.

>>> from torch import nn
>>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Dropout())
>>> with evaluating(net):
...     assert not net.training
>>> net.training
True
>>> on_meta(nn.Linear, 4096, 4096).weight.is_meta
True
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the ``with`` block and give it back in the mode it had before
    (dropout and batch norm behave as at test time inside)."""
    with training_mode(model, False):
        yield model


@contextmanager
def training_mode(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    """``model.train(training)`` for the ``with`` block; the previous mode comes back afterwards, even when
    the block raises."""
    was_training = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(was_training)


def on_meta(build: Callable[..., nn.Module], *args, **kwargs) -> nn.Module:
    """``build(*args, **kwargs)`` on the meta device: every tensor has a shape and no storage, so a
    138-million-parameter network costs nothing to build, count or run for shapes."""
    with torch.device("meta"):
        return build(*args, **kwargs)


def he_initialisation(model: nn.Module, *, mode: str = "fan_in", linear: bool = False,
                      batch_norm: bool = False) -> nn.Module:
    """He et al. (2015), "Delving deep into rectifiers": weights drawn from N(0, 2 / n) for the layers
    feeding ReLUs, n the fan-in (``mode="fan_in"``) or the fan-out (``"fan_out"``, torchvision's choice);
    biases zero. Convolutions always, fully connected layers too with ``linear=True``; ``batch_norm=True``
    also resets batch norm to the identity (scale 1, shift 0). Modules are visited in ``model.modules()``
    order, so the same seed gives the same weights."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) or (linear and isinstance(module, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode=mode, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif batch_norm and isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def pair(value) -> tuple:
    """``3`` -> ``(3, 3)``; a tuple or list stays as it is (torch modules store either)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)
