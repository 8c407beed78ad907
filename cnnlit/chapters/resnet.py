"""Chapter 7 (ResNet): Table 1 from the code, gradients through plain and residual stacks, error
curves.

>>> import torch
>>> from cnnlit.models import get_model
>>> table = table_1()          # He et al. 2016, Table 1 regenerated from cnnlit.models.resnet
>>> figure = plot_chain_gradients(depth=30, weight_scale=0.5)  # gradient norm per layer
>>> model = get_model("plain20", in_channels=1)
>>> norms = gradient_norms(model, torch.rand(8, 1, 32, 32), torch.arange(8))   # at initialisation
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from torch import nn

from ..analysis import summary, totals
from ..models.resnet import STAGE_NAMES, TABLE_1, resnet
from ..module_tools import on_meta, training_mode
from ..widgets import clamp

__all__ = ["MAX_CHAIN_DEPTH", "chain_gradient_norms", "final_errors", "gradient_norms",
           "multiply_adds", "plot_chain_gradients", "plot_gradient_norms", "plot_training_error",
           "table_1"]

MAX_CHAIN_DEPTH = 200


# --------------------------------------------------------------------------- Table 1

def multiply_adds(depth: int, variant: str = "paper", image_size: int = 224) -> int:
    """Multiply-adds of ResNet-``depth`` for one ``image_size`` RGB image (what Table 1 calls
    FLOPs).
    """
    model = on_meta(resnet, depth, variant=variant)        # shapes are all the accounting needs
    return totals(summary(model, (1, 3, image_size, image_size), device="meta"))["macs"]


def _block_recipe(block: nn.Module) -> str:
    convs = [m for name, m in block.named_children() if name.startswith("conv")]
    return ", ".join(f"{m.kernel_size[0]}x{m.kernel_size[1]} {m.out_channels}" for m in convs)


def table_1(depths: Sequence[int] = tuple(TABLE_1), variant: str = "paper", image_size: int = 224):
    """He et al. 2016, Table 1, read off the built networks: one row per stage (output size, the
    block's convolutions x the number of blocks) and the multiply-adds per depth (exact counts in
    ``.attrs["macs"]``)."""
    import pandas as pd

    columns, sizes, macs = {}, {}, {}
    for depth in depths:
        model = on_meta(resnet, depth, variant=variant)
        frame = summary(model, (1, 3, image_size, image_size), device="meta")
        shapes = dict(zip(frame["layer"], frame["output_shape"]))
        cells = {"conv1": "7x7 64, stride 2", "pool": "3x3 max pool, stride 2"}
        sizes.update(conv1=shapes["conv1"][-1], pool=shapes["maxpool"][-1])
        for index, stage in enumerate(STAGE_NAMES, start=1):
            layer = getattr(model, f"layer{index}")
            cells[stage] = f"[{_block_recipe(layer[0])}] x {len(layer)}"
            last = [name for name in shapes if name.startswith(f"layer{index}.")][-1]
            sizes[stage] = shapes[last][-1]
        cells["classifier"] = f"average pool, {model.fc.out_features}-d fc, softmax"
        sizes["classifier"] = 1
        macs[depth] = totals(frame)["macs"]
        cells["multiply-adds"] = f"{macs[depth] / 1e9:.2f}e9"
        sizes["multiply-adds"] = ""
        columns[f"{depth}-layer"] = cells
    table = pd.DataFrame(columns)
    table.insert(0, "output size",
                 [f"{s}x{s}" if s != "" else "" for s in (sizes[row] for row in table.index)])
    table.index.name = "layer name"
    table.attrs["macs"] = macs            # the exact counts, {depth: multiply-adds}
    return table


# --------------------------------------------------------------------------- gradients through a
# stack

def chain_gradient_norms(depth: int = 30, weight_scale: float = 0.5, *, residual: bool,
                         width: int = 16,
                         seed: int = 0) -> list[float]:
    """A toy stack of ``depth`` layers, x <- tanh(W x) (plain) or x <- x + tanh(W x) (residual),
    with W ~ N(0, weight_scale^2 / width). Returns |dL/dx_l| for l = 0 ... depth, where L = g .
    x_depth for a fixed random unit vector g: how much of the output's gradient reaches each layer's
    input."""
    generator = torch.Generator().manual_seed(seed)
    weights = [torch.randn(width, width, generator=generator) * weight_scale / math.sqrt(width)
               for _ in range(depth)]
    x = torch.randn(width, generator=generator).requires_grad_(True)
    activations = [x]
    for weight in weights:
        x = activations[-1]
        branch = torch.tanh(weight @ x)
        out = x + branch if residual else branch           # y = x + F(x)  versus  y = F(x)
        out.retain_grad()
        activations.append(out)
    direction = torch.randn(width, generator=generator)
    (direction / direction.norm() @ activations[-1]).backward()
    return [float(a.grad.norm()) for a in activations]


def plot_chain_gradients(depth: int = 30, weight_scale: float = 0.5):
    """Widget callback: gradient norm at each layer's input, plain vs residual (log scale).
    Out-of-range values are clamped (depth 1-200, weight scale 0.05-3)."""
    depth = int(clamp(int(depth), 1, MAX_CHAIN_DEPTH))
    weight_scale = float(clamp(float(weight_scale), 0.05, 3.0))
    figure, axis = plt.subplots(figsize=(6, 3.3))
    for residual, style in ((False, "C0o-"), (True, "C1s-")):
        norms = chain_gradient_norms(depth, weight_scale, residual=residual)
        label = "residual: y = x + F(x)" if residual else "plain: y = F(x)"
        axis.semilogy(range(depth + 1), norms, style, markersize=3, label=label)
    axis.set_xlabel("layer l (0 = input)")
    axis.set_ylabel(r"$\|\partial L / \partial x_l\|$")
    axis.set_title(f"gradient reaching each layer: {depth} layers, weight scale {weight_scale:.2f}")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------- gradients in a real
# network

def gradient_norms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor):
    """One forward/backward pass (training mode, as at the first SGD step) and the norm of the
    gradient of every convolution on the main path (not the shortcut projections), in the order of
    depth. Returns a DataFrame: layer, depth (1 = first convolution), grad_norm."""
    import pandas as pd

    with training_mode(model, True):
        model.zero_grad(set_to_none=True)
        try:
            nn.functional.cross_entropy(model(images), labels).backward()
            rows = []
            for name, module in model.named_modules():
                if isinstance(module, nn.Conv2d) and "downsample" not in name:
                    rows.append({"layer": name, "depth": len(rows) + 1,
                                 "grad_norm": float(module.weight.grad.norm())})
        finally:
            model.zero_grad(set_to_none=True)
    return pd.DataFrame(rows)


def plot_gradient_norms(frames: Mapping[str, "object"], *,
                        title: str = "gradient norm per layer at initialisation"):
    """Curves of :func:`gradient_norms` frames, one per network (log scale)."""
    if not frames:
        raise ValueError(
            "plot_gradient_norms needs at least one {label: gradient_norms(...)} entry"
        )
    figure, axis = plt.subplots(figsize=(6.5, 3.5))
    for index, (label, frame) in enumerate(frames.items()):
        axis.semilogy(frame["depth"], frame["grad_norm"], "o-" if "plain" in label else "s-",
                      color=f"C{index}", markersize=3, label=label)
    axis.set_xlabel("convolution (1 = nearest the input)")
    axis.set_ylabel("|gradient of its weights|")
    axis.set_title(title)
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------- the degradation
# experiment

def final_errors(histories: Mapping[str, "object"]):
    """Final training error (and validation error, where recorded) of each run, in percent."""
    import pandas as pd

    rows = []
    for label, history in histories.items():
        row = {"network": label, "epochs": len(history),
               "final training error %": 100 * history.error[-1]}
        if len(history.val_accuracy) == len(history):
            row["final validation error %"] = 100 * (1 - history.val_accuracy[-1])
        rows.append(row)
    return pd.DataFrame(rows).set_index("network").round(2)


def plot_training_error(histories: Mapping[str, "object"], *, title: str = "",
                        show_validation: bool = True):
    """Fig. 6 of the paper, our runs: training error (solid) and validation error (dashed) per
    epoch, plain nets on the left and residual nets on the right (a label containing "plain" goes
    left), same y axis."""
    if not histories:
        raise ValueError("plot_training_error needs at least one {label: History} entry")
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for index, (label, history) in enumerate(histories.items()):
        axis = axes[0] if "plain" in label.lower() else axes[1]
        color = f"C{index}"
        axis.plot(history.epoch, [100 * e for e in history.error], "-", color=color, linewidth=2,
                  label=f"{label} train")
        if show_validation and len(history.val_accuracy) == len(history):
            axis.plot(history.epoch, [100 * (1 - a) for a in history.val_accuracy], "--",
                      color=color,
                      linewidth=1, label=f"{label} validation")
    for axis, name in zip(axes, ("plain networks", "residual networks")):
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=8)
    axes[0].set_ylabel("error (%)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
