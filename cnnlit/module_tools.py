"""Small helpers that take a torch module, shared by the models, the trainer and the analysis tools.

- :func:`evaluating`: eval mode for the length of a ``with`` block, the previous mode restored
  after;
- :func:`hooked`: forward hooks for the length of a ``with`` block, removed after (even on an
  error); :func:`capturing` keeps what named modules output (or receive) while the block runs;
- :func:`main_output`: the main classifier's scores, also from a network with auxiliary classifiers;
- :func:`output_size`: the side of a convolution's or a pooling's output,
  o = floor((i + 2p - k) / s) + 1;
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
>>> with capturing({"conv": net[0]}) as outputs:
...     _ = net(torch.zeros(1, 3, 8, 8))
>>> tuple(outputs["conv"].shape)
(1, 8, 6, 6)
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Mapping

import torch
from torch import nn

__all__ = ["capturing", "evaluating", "he_initialisation", "hooked", "main_output", "on_meta",
           "output_size", "pair", "training_mode"]


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the ``with`` block and give it back in the mode it had before
    (dropout and batch norm behave as at test time inside)."""
    with training_mode(model, False):
        yield model


@contextmanager
def training_mode(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    """``model.train(training)`` for the ``with`` block; the previous mode comes back afterwards,
    even when the block raises."""
    was_training = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(was_training)


@contextmanager
def hooked(hooks: Iterable[tuple[nn.Module, Callable]], *, pre: bool = False) -> Iterator[None]:
    """Register each ``(module, hook)`` pair as a forward hook (``pre=True``: a forward pre-hook,
    which sees the inputs before the module runs) for the ``with`` block, and remove them all
    afterwards, even when the block raises."""
    handles = []
    try:
        for module, hook in hooks:
            register = module.register_forward_pre_hook if pre else module.register_forward_hook
            handles.append(register(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def capturing(modules: Mapping[str, nn.Module], *, inputs: bool = False) -> Iterator[dict]:
    """A dict filled, while the ``with`` block runs the network, with each named module's output
    (its first input with ``inputs=True``), detached; a module that runs twice keeps its last
    call."""
    captured: dict = {}

    def keep(name: str) -> Callable:
        if inputs:
            return lambda _module, args: captured.__setitem__(name, args[0].detach())
        return lambda _module, _args, output: captured.__setitem__(name, output.detach())

    with hooked(((module, keep(name)) for name, module in modules.items()), pre=inputs):
        yield captured


def main_output(outputs):
    """The main classifier's scores: networks with auxiliary classifiers (GoogLeNet in training
    mode) return a tuple whose first entry is the main output."""
    return outputs[0] if isinstance(outputs, tuple) else outputs


def output_size(input_size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """o = floor((i + 2p - k) / s) + 1 (Dumoulin & Visin 2016), with a clear error when the kernel
    does not fit."""
    for name, value, least in (("input_size", input_size, 1), ("kernel", kernel, 1),
                               ("stride", stride, 1), ("padding", padding, 0)):
        if not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    if input_size + 2 * padding < kernel:
        raise ValueError(f"a {kernel}×{kernel} kernel does not fit in a {input_size}×{input_size} "
                         f"input padded by {padding} ({input_size + 2 * padding} pixels)")
    return (input_size + 2 * padding - kernel) // stride + 1


def on_meta(build: Callable[..., nn.Module], *args, **kwargs) -> nn.Module:
    """``build(*args, **kwargs)`` on the meta device: every tensor has a shape and no storage, so a
    138-million-parameter network costs nothing to build, count or run for shapes."""
    with torch.device("meta"):
        return build(*args, **kwargs)


def he_initialisation(model: nn.Module, *, mode: str = "fan_in", linear: bool = False,
                      batch_norm: bool = False) -> nn.Module:
    """He et al. (2015), "Delving deep into rectifiers": weights drawn from N(0, 2 / n) for the
    layers feeding ReLUs, n the fan-in (``mode="fan_in"``) or the fan-out (``"fan_out"``,
    torchvision's choice); biases zero. Convolutions always, fully connected layers too with
    ``linear=True``; ``batch_norm=True`` also resets batch norm to the identity (scale 1, shift 0).
    Modules are visited in ``model.modules()`` order, so the same seed gives the same weights."""
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
