"""What a diagram draws, read off the model: one :class:`Layer` per drawn block, no matplotlib here.

:func:`diagram_rows` runs :func:`cnnlit.analysis.summary` once and walks its rows. Layers that
change the shape or carry the weights (convolutions, poolings, fully connected layers, LeNet's
sub-sampling and RBF output, Inception modules) become blocks; element-wise layers (activations,
normalisations, dropout, flatten) are folded into the block before them and listed as its
``extras``. Residual blocks collapse into one block each, or, for very deep networks, into one block
per stage.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import nn

from ..analysis import summary
from ..layers import (
    BasicBlock,
    Bottleneck,
    EuclideanRBF,
    Inception,
    LocalResponseNorm,
    PartialConv2d,
    ScaledTanh,
    Subsampling,
)
from ..layers.dropout import ClassicDropout
from ..layers.residual import ZeroPadShortcut
from ..module_tools import pair

__all__ = ["FOLDED", "RESIDUAL_BLOCKS", "Layer", "diagram_rows", "model_device", "operation",
           "shape_label", "shortcut_kind"]

RESIDUAL_BLOCKS: tuple = (BasicBlock, Bottleneck)
# deeper than this, "auto" draws one block per stage instead of one per block
MAX_BLOCKS = 24

# Element-wise layers: folded into the block before them, by their short name.
FOLDED = {
    nn.ReLU: "ReLU", nn.Tanh: "tanh", ScaledTanh: "tanh", nn.Sigmoid: "sigmoid",
    nn.BatchNorm1d: "BN", nn.BatchNorm2d: "BN", LocalResponseNorm: "LRN",
    nn.LocalResponseNorm: "LRN",
    nn.Dropout: "dropout", ClassicDropout: "dropout", nn.Flatten: "flatten",
    nn.Identity: "identity",
}


def shape_label(shape: Sequence[int]) -> str:
    """A per-image shape the way the papers print it: (16, 10, 10) -> '16@10×10', (84,) -> '84'."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        channels, height, width = shape
        return f"{channels}@{height}×{width}"
    return "×".join(str(s) for s in shape)


def _square(value) -> str:
    height, width = pair(value)
    return f"{height}×{width}"


def operation(module: nn.Module) -> tuple[str, str]:
    """(kind, operation text) of a drawn module: ('conv', 'conv 5×5/1'), ('pool', 'max 3×3/2')..."""
    if isinstance(module, PartialConv2d):
        return "conv", f"conv {module.kernel_size}×{module.kernel_size}, {module.links} links"
    if isinstance(module, nn.Conv2d):
        text = f"conv {_square(module.kernel_size)}/{pair(module.stride)[0]}"
        return "conv", text + (f", {module.groups} groups" if module.groups > 1 else "")
    if isinstance(module, Subsampling):
        return "pool", f"sub-sampling {module.window}×{module.window}/{module.window}"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "max" if isinstance(module, nn.MaxPool2d) else "avg"
        return "pool", f"{kind} pool {_square(module.kernel_size)}/{pair(module.stride)[0]}"
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        kind = "avg" if isinstance(module, nn.AdaptiveAvgPool2d) else "max"
        return "pool", f"adaptive {kind} → {_square(module.output_size)}"
    if isinstance(module, EuclideanRBF):
        return "fc", "Euclidean RBF"
    if isinstance(module, nn.Linear):
        return "fc", "fully connected"
    if isinstance(module, Inception):
        return "inception", "inception"
    return "other", type(module).__name__


def shortcut_kind(block: nn.Module) -> str:
    """'identity', 'projection' (a 1×1 convolution), 'zero-pad' (option A) or 'none' (a plain
    block).
    """
    if not getattr(block, "residual", True):
        return "none"
    shortcut = getattr(block, "downsample", None)
    if shortcut is None:
        return "identity"
    if isinstance(shortcut, ZeroPadShortcut):
        return "zero-pad"
    return "projection"


def block_operation(block: nn.Module) -> str:
    """The block's convolutions, its stride and, on a second line, its shortcut:
    'basic 3×3, 3×3 /2' and '+ projection'."""
    convolutions = [m for m in block.modules() if isinstance(m, nn.Conv2d)
                    and not _inside_shortcut(block, m)]
    kernels = ", ".join(_square(c.kernel_size) for c in convolutions)
    stride = max(pair(c.stride)[0] for c in convolutions)
    name = {BasicBlock: "basic", Bottleneck: "bottleneck"}.get(type(block), type(block).__name__)
    shortcut = shortcut_kind(block)
    text = f"{name} {kernels}" + (f" /{stride}" if stride > 1 else "")
    return text + ("" if shortcut == "none" else f"\n+ {shortcut}")


def _inside_shortcut(block: nn.Module, module: nn.Module) -> bool:
    shortcut = getattr(block, "downsample", None)
    return shortcut is not None and any(m is module for m in shortcut.modules())


@dataclass(frozen=True)
class Layer:
    """One drawn block: ``name`` is the module's name in the model (summary's ``layer`` column, or
    the name of the residual block or stage it stands for), ``shape`` its output per image."""
    name: str
    kind: str                      # conv, pool, fc, inception, residual, stage, other
    operation: str                 # 'conv 5×5/1', 'max pool 3×3/2', 'basic 3×3, 3×3 + identity'...
    shape: tuple
    towers: int = 1                # AlexNet's grouped convolutions: one tower per group
    extras: tuple = field(default=())   # element-wise layers folded in, in order: ('ReLU', 'LRN')
    receptive_field: Optional[int] = None

    @property
    def label(self) -> str:
        return shape_label(self.shape)


def model_device(model: nn.Module):
    """Where the model's weights live: the diagrams run their one forward pass there (a model built
    on the "meta" device is drawn without computing anything)."""
    tensor = next(iter(model.parameters()), None)
    if tensor is None:
        tensor = next(iter(model.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _block_of(blocks: set, name: str) -> Optional[str]:
    """Name of the outermost residual block (among ``blocks``) that contains the layer ``name``, if
    any.
    """
    parts = name.split(".")
    for end in range(1, len(parts)):
        prefix = ".".join(parts[:end])
        if prefix in blocks:
            return prefix
    return None


def _module(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    # an atomic model: summary names its only row by its type
    except AttributeError:
        return model


def diagram_rows(model: nn.Module, input_shape: Sequence[int], level: str = "auto") -> list[Layer]:
    """The blocks a diagram of ``model`` draws, in the order they run, for an input of
    ``input_shape`` (with the batch dimension, as for :func:`cnnlit.analysis.summary`).

    ``level`` says what one block stands for in a network of residual blocks: ``"blocks"`` (one
    block per residual block), ``"stages"`` (one per stage, e.g. ResNet's conv3_x) or ``"auto"``
    (blocks, unless there are more than ``MAX_BLOCKS`` of them)."""
    if level not in ("auto", "blocks", "stages"):
        raise ValueError(f"level must be 'auto', 'blocks' or 'stages', got {level!r}")
    frame = summary(model, input_shape, device=model_device(model))
    if frame.empty:
        raise ValueError(f"summary() found no layers in {type(model).__name__}: nothing to draw")
    residual = {
        name for name, module in model.named_modules() if isinstance(module, RESIDUAL_BLOCKS)
    }
    # (name, module, output shape, receptive field, block name)
    records = []
    for row in frame.itertuples(index=False):
        if row.output_shape is None:
            continue
        records.append((row.layer, _module(model, row.layer), tuple(row.output_shape[1:]),
                        int(row.receptive_field), _block_of(residual, row.layer)))
    blocks = list(dict.fromkeys(block for *_, block in records if block is not None))
    if level == "stages" or (level == "auto" and len(blocks) > MAX_BLOCKS):
        group = {block: block.rsplit(".", 1)[0] if "." in block else block for block in blocks}
    else:
        group = {block: block for block in blocks}

    layers: list[Layer] = []
    towers = 1
    for name, module, shape, receptive_field, block in records:
        # a layer inside a residual block: part of its group's block
        if block is not None:
            owner = group[block]
            if layers and layers[-1].name == owner:
                layers[-1] = _replace(layers[-1], shape=shape, receptive_field=receptive_field)
            else:
                owner_module = model.get_submodule(owner)
                if isinstance(owner_module, RESIDUAL_BLOCKS):
                    kind, text = "residual", block_operation(owner_module)
                else:
                    members = [b for b in blocks if group[b] == owner]
                    types = sorted({type(model.get_submodule(b)).__name__ for b in members})
                    kind, text = "stage", f"{len(members)} × {'/'.join(types)}"
                layers.append(Layer(owner, kind, text, shape, receptive_field=receptive_field))
            towers = 1
            continue
        folded = next((short for klass, short in FOLDED.items() if type(module) is klass), None)
        if folded is not None and layers:
            last = layers[-1]
            layers[-1] = _replace(last, extras=last.extras + (folded,))
            continue
        kind, text = operation(module) if folded is None else ("other", folded)
        if isinstance(module, nn.Conv2d):
            towers = module.groups if module.groups > 1 else 1
        # pooling keeps the towers apart; anything else joins them
        elif kind != "pool":
            towers = 1
        layers.append(Layer(name, kind, text, shape, towers=towers,
                            receptive_field=receptive_field))
    return layers


def _replace(layer: Layer, **changes) -> Layer:
    from dataclasses import replace
    return replace(layer, **changes)
