"""The deconvnet (Zeiler et al. 2011) as Zeiler & Fergus (2014), Section 2.1, use it: a probe that
sends one feature map back to pixel space.

Every layer of the network gets a mirror image that runs the other way:

- **unpool**: max-pooling is not invertible, but the forward pass records where each maximum came
  from (the *switches*); unpooling puts each value back at its switch position and zeros elsewhere;
- **rectify**: the signal goes through a ReLU, so the reconstruction stays a positive feature map;
- **filter**: a convolution is undone approximately with the *transposed* version of the same
  filters (each flipped and with input and output channels swapped), i.e. ``conv_transpose2d`` with
  its weights.

Contrast normalisation layers are passed over, as in the paper; so are dropout and batch
normalisation.

>>> import torch
>>> from cnnlit.deconvnet import project, top_activations
>>> from cnnlit.models import get_model
>>> model = get_model("zfnet_small", in_channels=1, image_size=32).eval()
>>> images = torch.rand(16, 1, 32, 32)
>>> pixels = project(model, images, "features.9", channel=5, position="max")  # shape of images
>>> best = top_activations(model, images, "features.9", channel=5, k=9)

Works for networks that are a plain chain of Conv2d, ReLU and MaxPool2d (torchvision's AlexNet and
VGG, cnnlit's zfnet): a layer is named as in ``model.named_modules()``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from .layers import LocalResponseNorm
from .module_tools import evaluating, hooked, pair
from .profiles import DRY_RUN_BATCHES, dry_run

__all__ = ["crop", "feature_maps", "project", "projectable_layers", "receptive_box", "rectify",
           "top_activations", "TopActivations", "unpool"]

# Layers the deconvnet passes over unchanged (Section 2.1: "contrast normalization ... passed
# over").
PASS_OVER = (nn.LocalResponseNorm, LocalResponseNorm, nn.modules.batchnorm._BatchNorm, nn.Dropout,
             nn.Dropout2d, nn.Identity)
PROJECTABLE = (nn.Conv2d, nn.ReLU, nn.MaxPool2d) + PASS_OVER

Position = Union[None, str, tuple]


class _Stop(Exception):
    """Raised in the chosen layer's hook: nothing after it needs computing."""


# --------------------------------------------------------------------------- the three operations

def unpool(signal: torch.Tensor, switches: torch.Tensor, input_size) -> torch.Tensor:
    """Place each value of ``signal`` (N, C, h, w) at its switch (a flat index into the pooled
    layer's input map, as ``max_pool2d(..., return_indices=True)`` gives) in a zero map of
    ``input_size`` (H, W). Overlapping windows (3x3 stride 2) can share a switch; their values add
    up."""
    n, c = signal.shape[:2]
    height, width = input_size
    out = signal.new_zeros(n, c, height * width)
    out.scatter_add_(2, switches.reshape(n, c, -1), signal.reshape(n, c, -1))
    return out.reshape(n, c, height, width)


def rectify(signal: torch.Tensor) -> torch.Tensor:
    """The deconvnet's ReLU: keep the positive part of the signal going back."""
    return F.relu(signal)


def filter_transposed(signal: torch.Tensor, conv: nn.Conv2d, input_size) -> torch.Tensor:
    """The convolution ``conv`` run backwards with its own (transposed) filters, no bias, to
    ``input_size``.
    """
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ValueError(f"the deconvnet handles zero padding given in pixels; this layer has "
                         f"padding={conv.padding!r}, padding_mode={conv.padding_mode!r}")
    return torch.nn.grad.conv2d_input((signal.shape[0], conv.in_channels, *input_size), conv.weight,
                                      signal,
                                      conv.stride, conv.padding, conv.dilation, conv.groups)


# --------------------------------------------------------------------------- recording the forward
# pass

@dataclass
class _Step:
    name: str
    module: nn.Module
    input_size: tuple           # (H, W) of the layer's input
    switches: Optional[torch.Tensor] = None


def projectable_layers(model: nn.Module) -> list[str]:
    """The names ``project`` accepts: the convolution, ReLU, max-pooling and normalisation layers up
    to the first layer the deconvnet cannot invert (e.g. the flattening before the fully connected
    layers)."""
    names = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            if not isinstance(module, PROJECTABLE):
                break
            names.append(name)
    return names


def _check_layer(model: nn.Module, layer: str) -> None:
    valid = projectable_layers(model)
    if layer not in valid:
        modules = dict(model.named_modules())
        if layer not in modules:
            reason = "the model has no layer of that name"
        elif isinstance(modules[layer], PROJECTABLE) and not list(modules[layer].children()):
            reason = ("it comes after a layer the deconvnet cannot invert (a flattening or linear "
                      "layer)")
        else:
            reason = f"it is a {type(modules[layer]).__name__}, which the deconvnet cannot invert"
        raise ValueError(f"cannot project from layer {layer!r}: {reason}. Valid layers: "
                         f"{', '.join(valid)}")


def _forward_to(model: nn.Module, images: torch.Tensor, layer: str):
    """Run ``model`` up to ``layer``; return (the layer's output, the steps taken, in order)."""
    _check_layer(model, layer)
    steps: list[_Step] = []
    state = {"previous": None, "output": None}

    def hook(name):
        def record(module, inputs, output):
            x = inputs[0]
            if state["previous"] is not None and x is not state["previous"]:
                raise ValueError(
                    f"the deconvnet follows a plain chain of layers, but {name!r} does not take "
                    f"the previous "
                    f"layer's output ({steps[-1].name!r}): branches and skip connections are not "
                    f"supported")
            if not isinstance(module, PROJECTABLE):
                raise ValueError(f"layer {name!r} ({type(module).__name__}) comes before "
                                 f"{layer!r}; the deconvnet inverts only "
                                 f"{', '.join(t.__name__ for t in PROJECTABLE)}")
            step = _Step(name, module, tuple(x.shape[-2:]))
            if isinstance(module, nn.MaxPool2d):
                # the switches: where each maximum came from, recomputed from the pooling's own
                # input
                _, step.switches = F.max_pool2d(x, module.kernel_size, module.stride,
                                                module.padding,
                                                module.dilation, module.ceil_mode,
                                                return_indices=True)
            steps.append(step)
            state["previous"] = output
            if name == layer:
                state["output"] = output.detach().clone()
                raise _Stop
        return record

    leaves = [(module, hook(name)) for name, module in model.named_modules()
              if name and not list(module.children())]
    try:
        with hooked(leaves), evaluating(model), torch.no_grad():
            model(images)
    except _Stop:
        pass
    if state["output"] is None:
        raise ValueError(f"layer {layer!r} was not reached in the forward pass")
    return state["output"], steps


def _as_batch(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a tensor (N, C, H, W) or (C, H, W), got "
                        f"{type(images).__name__}")
    single = images.ndim == 3
    images = images.unsqueeze(0) if single else images
    parameter = next(model.parameters(), None)
    if parameter is not None:
        images = images.to(device=parameter.device, dtype=parameter.dtype)
    return images, single


def _check_channel(layer: str, channel: int, channels: int) -> None:
    if not isinstance(channel, int) or not 0 <= channel < channels:
        raise ValueError(f"channel {channel!r} does not exist in layer {layer!r}: its output has "
                         f"{channels} channels, numbered 0 to {channels - 1}")


def _select(maps: torch.Tensor, layer: str, channel: int, position: Position) -> torch.Tensor:
    """Zero every activation of the layer except channel ``channel`` (and only ``position`` of it).
    """
    _check_channel(layer, channel, maps.shape[1])
    chosen = torch.zeros_like(maps)
    one = maps[:, channel]                                              # (N, h, w)
    if position is None:
        chosen[:, channel] = one
    elif isinstance(position, str) and position == "max":
        flat = one.flatten(1)
        best = flat.argmax(1)
        kept = torch.zeros_like(flat).scatter_(1, best[:, None], flat.gather(1, best[:, None]))
        chosen[:, channel] = kept.view_as(one)
    elif isinstance(position, (tuple, list)) and len(position) == 2:
        row, col = (int(v) for v in position)
        height, width = one.shape[-2:]
        if not (0 <= row < height and 0 <= col < width):
            raise ValueError(f"position {tuple(position)} is outside layer {layer!r}'s "
                             f"{height}x{width} maps")
        chosen[:, channel, row, col] = one[:, row, col]
    else:
        raise ValueError(f"position must be None (the whole map), 'max' (its strongest activation) "
                         f"or (row, col); got {position!r}")
    return chosen


def _backward(signal: torch.Tensor, steps: list[_Step]) -> torch.Tensor:
    """Run the deconvnet from the chosen layer's output down to pixels."""
    for step in reversed(steps):
        module = step.module
        if isinstance(module, nn.MaxPool2d):
            signal = unpool(signal, step.switches, step.input_size)
        elif isinstance(module, nn.ReLU):
            signal = rectify(signal)
        elif isinstance(module, nn.Conv2d):
            signal = filter_transposed(signal, module, step.input_size)
        # PASS_OVER layers: unchanged
    return signal


# --------------------------------------------------------------------------- the public functions

def project(model: nn.Module, images: torch.Tensor, layer: str, channel: int,
            position: Position = None) -> torch.Tensor:
    """The deconvnet projection of one feature map of ``layer`` onto the input pixels.

    All activations of ``layer`` except channel ``channel`` are set to zero (and, with ``position``,
    all of that map but one: ``"max"`` keeps each image's strongest activation, ``(row, col)`` a
    given one); the result is unpooled with the recorded switches, rectified and filtered with the
    transposed filters, layer by layer, down to the input. Returns a tensor shaped like ``images``.
    """
    batch, single = _as_batch(model, images)
    maps, steps = _forward_to(model, batch, layer)
    with torch.no_grad():
        pixels = _backward(_select(maps, layer, channel, position), steps)
    return pixels[0] if single else pixels


def feature_maps(model: nn.Module, images: torch.Tensor, layer: str) -> torch.Tensor:
    """The output of ``layer`` (N, C, h, w) for ``images``, computing nothing beyond it."""
    batch, _ = _as_batch(model, images)
    return _forward_to(model, batch, layer)[0]


def receptive_box(model: nn.Module, layer: str, position: tuple,
                  image_size) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), bottom/right exclusive, of the input pixels that can reach
    ``position`` (row, col) of ``layer``'s maps: its receptive field, which may reach past the
    image's border."""
    probe = torch.zeros(1, _in_channels(model), *image_size, device=next(model.parameters()).device)
    return _box(_forward_to(model, probe, layer)[1], position)


def _box(steps: list[_Step], position: tuple) -> tuple[int, int, int, int]:
    (top, bottom), (left, right) = (position[0], position[0]), (position[1], position[1])
    for step in reversed(steps):
        module = step.module
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
            kernel, stride, padding, dilation = (pair(getattr(module, a)) for a in
                                                 ("kernel_size", "stride", "padding", "dilation"))
            top, bottom = (top * stride[0] - padding[0],
                           bottom * stride[0] - padding[0] + dilation[0] * (kernel[0] - 1))
            left, right = (left * stride[1] - padding[1],
                           right * stride[1] - padding[1] + dilation[1] * (kernel[1] - 1))
    return top, left, bottom + 1, right + 1


def _in_channels(model: nn.Module) -> int:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    raise ValueError("the model has no convolution layer")


def crop(images: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    """``images[..., top:bottom, left:right]``, zero-padded where the box reaches past the border.
    """
    top, left, bottom, right = box
    height, width = images.shape[-2:]
    pad = (max(0, -left), max(0, right - width), max(0, -top), max(0, bottom - height))
    padded = F.pad(images, pad)
    return padded[..., top + pad[2]:bottom + pad[2], left + pad[0]:right + pad[0]]


@dataclass
class TopActivations:
    """The ``k`` inputs that excite one feature map most (the paper's Fig. 2, one square of it)."""

    layer: str
    channel: int
    indices: torch.Tensor        # (k,) positions in the data
    activations: torch.Tensor    # (k,) the strongest activation of the map in each
    positions: torch.Tensor      # (k, 2) (row, col) of that activation in the layer's maps
    images: torch.Tensor         # (k, C, H, W) the inputs
    boxes: list                  # (top, left, bottom, right) receptive field of each activation
    patches: torch.Tensor        # (k, C, r, r) the image patches in those fields
    projections: torch.Tensor    # (k, C, H, W) deconvnet projection of each strongest activation
    projection_patches: torch.Tensor   # (k, C, r, r) the projections cut to the same fields


def top_activations(model: nn.Module, data, layer: str, channel: int, k: int = 9,
                    batch_size: int = 256) -> TopActivations:
    """The ``k`` inputs of ``data`` (a :class:`cnnlit.data.TensorData` or an image tensor) whose
    ``channel`` of ``layer`` has the strongest single activation, with their patches and
    projections. In a dry run (``CNNLIT_DRY_RUN=1``) only the first ``DRY_RUN_BATCHES`` batches are
    searched."""
    images = data.images if hasattr(data, "images") else data
    if not torch.is_tensor(images) or images.ndim != 4:
        raise TypeError("data must be a TensorData or an (N, C, H, W) image tensor")
    if dry_run():
        images = images[:DRY_RUN_BATCHES * batch_size]
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    strongest, where = [], []
    for start in range(0, len(images), batch_size):
        maps = feature_maps(model, images[start:start + batch_size], layer)
        _check_channel(layer, channel, maps.shape[1])
        flat = maps[:, channel].flatten(1)
        value, index = flat.max(1)
        strongest.append(value.cpu())
        where.append(torch.stack([index // maps.shape[-1], index % maps.shape[-1]], 1).cpu())
    strongest, where = torch.cat(strongest), torch.cat(where)
    k = min(k, len(images))
    activations, indices = strongest.topk(k)
    positions = where[indices]
    chosen = images[indices.to(images.device)]
    projections = project(model, chosen, layer, channel, position="max").cpu()
    chosen = chosen.cpu()
    steps = _forward_to(model, chosen[:1], layer)[1]
    boxes = [_box(steps, tuple(p.tolist())) for p in positions]
    patches = torch.stack([crop(image, box) for image, box in zip(chosen, boxes)])
    projection_patches = torch.stack([crop(image, box) for image, box in zip(projections, boxes)])
    return TopActivations(layer, channel, indices, activations, positions, chosen, boxes, patches,
                          projections, projection_patches)
