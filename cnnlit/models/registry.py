"""The model registry (``get_model``) and the input check every registered network carries.

Every registered name builds with its own default arguments. Networks sized for the chapters' CPU
experiments are registered as ``<paper>_small`` (``alexnet_small``, ``zfnet_small``,
``googlenet_small``).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

__all__ = ["InputShapeError", "available_models", "expect_input", "get_builder", "get_model",
           "register"]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


class InputShapeError(ValueError):
    """A network was given an input of the wrong shape; the message says what it expects."""


def register(name: str) -> Callable:
    """Decorator: ``@register("vgg16")`` makes a builder available as ``get_model("vgg16")``."""
    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"model name {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder
    return add


def available_models() -> list[str]:
    return sorted(_BUILDERS)


def get_builder(name: str) -> Callable[..., nn.Module]:
    """The function registered as ``name`` (to read its signature, say); unknown names list the
    known ones.
    """
    if not isinstance(name, str) or name.lower() not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available models: "
                         f"{', '.join(available_models())}")
    return _BUILDERS[name.lower()]


def get_model(name: str, **kwargs) -> nn.Module:
    """Build a registered network by name, e.g. ``get_model("resnet18", variant="torchvision")``."""
    return get_builder(name)(**kwargs)


def expect_input(model: nn.Module, *, name: str, channels: int, size: Optional[int] = None,
                 min_size: Optional[int] = None, hint: str = "") -> nn.Module:
    """Attach a check to ``model``: inputs must be (N, channels, H, W) with H = W = ``size`` (if
    given) or H, W >= ``min_size``. A wrong input raises :class:`InputShapeError` naming the model,
    what it expects and what it got, instead of a bare shape mismatch from deep inside the
    network."""
    if size is not None:
        expected = f"(N, {channels}, {size}, {size})"
    else:
        expected = (
            f"(N, {channels}, H, W) with H, W >= {min_size}"
            if min_size
            else f"(N, {channels}, H, W)"
        )

    def check(module, inputs):
        x = inputs[0]
        if not torch.is_tensor(x) or x.ndim != 4:
            got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            problem = (
                "a 4-d batch (add a batch dimension with x.unsqueeze(0))"
                if torch.is_tensor(x) and x.ndim == 3
                else "a 4-d batch"
            )
            raise InputShapeError(f"{name} expects {expected}, got {got}: it needs {problem}. "
                                  f"{hint}".strip())
        _, c, h, w = x.shape
        bad = c != channels
        bad |= size is not None and (h, w) != (size, size)
        bad |= min_size is not None and (h < min_size or w < min_size)
        if bad:
            raise InputShapeError(
                f"{name} expects {expected}, got {tuple(x.shape)}. {hint}".strip()
            )

    model.register_forward_pre_hook(check)
    model.expected_input = expected
    return model
