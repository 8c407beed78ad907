"""Chapter 1 (LeNet-5) views: Table I, the RBF codes, C1/C3 feature maps of one digit, and what one
C3 map computes (its S2 inputs, its kernels, their contributions and its response).

Plain plotting functions (each returns its matplotlib Figure); the notebook wraps them in widgets
with :func:`cnnlit.widgets.control` and also calls them once with their defaults for the static
figure. Out-of-range control values are clamped, never raised.
"""
from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..models.lenet import BITMAP_HEIGHT, BITMAP_WIDTH, C3_TABLE, c3_inputs, rbf_codes
from ..module_tools import capturing, evaluating
from ..widgets import clamp

__all__ = ["c3_parts", "lenet_maps", "plot_c3_map", "plot_c3_table", "plot_lenet_maps",
           "plot_rbf_codes"]


def plot_c3_table(c3_map: Optional[int] = None, table: Sequence[Sequence[bool]] = C3_TABLE):
    """Table I as a grid (rows: S2 maps, columns: C3 maps). With ``c3_map`` (clamped to a valid
    map), its column is highlighted and the title names the S2 maps that feed it."""
    grid = np.array([[1.0 if linked else 0.0 for linked in row] for row in table])
    s2_maps, c3_maps = grid.shape
    figure, axis = plt.subplots(figsize=(0.42 * c3_maps + 1.2, 0.42 * s2_maps + 1.2))
    axis.imshow(grid, cmap="Greys", vmin=0, vmax=1.6)
    title = f"Table I: {int(grid.sum())} links between {s2_maps} S2 maps and {c3_maps} C3 maps"
    if c3_map is not None:
        c3_map = int(clamp(int(c3_map), 0, c3_maps - 1))
        axis.add_patch(plt.Rectangle((c3_map - 0.5, -0.5), 1, s2_maps, fill=False, edgecolor="C3",
                                     lw=2.5))
        feeds = c3_inputs(c3_map, table)
        title = (f"C3 map {c3_map} reads S2 maps {', '.join(map(str, feeds))} ({len(feeds)} of "
                 f"{s2_maps})")
    for (row, column), value in np.ndenumerate(grid):
        if value:
            axis.text(column, row, "X", ha="center", va="center", fontsize=8, color="white")
    axis.set_xticks(range(c3_maps))
    axis.set_yticks(range(s2_maps))
    axis.set_xlabel("C3 feature map")
    axis.set_ylabel("S2 feature map")
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_rbf_codes(codes: Optional[torch.Tensor] = None,
                   classes: Sequence[str] = tuple("0123456789")):
    """The output units' fixed parameter vectors, each shown as its 7x12 bitmap (+1 black, -1
    white).
    """
    codes = rbf_codes() if codes is None else codes
    figure, axes = plt.subplots(1, len(codes), figsize=(0.75 * len(codes), 1.6))
    for axis, code, name in zip(np.atleast_1d(axes), codes, classes):
        axis.imshow(code.reshape(BITMAP_HEIGHT, BITMAP_WIDTH).cpu().numpy(), cmap="Greys", vmin=-1,
                    vmax=1)
        axis.set_title(name, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("RBF parameter vectors: 84 = 7 x 12 components of ±1", fontsize=10)
    figure.tight_layout()
    return figure


@torch.no_grad()
def lenet_maps(model: nn.Module, image: torch.Tensor, layers: Sequence[str] = ("C1", "C3")) -> dict:
    """The outputs of the named submodules of ``model`` (C, H, W) for one image (1, C, H, W) or (C,
    H, W), by name, and the predicted class under ``"prediction"``."""
    if image.ndim == 3:
        image = image.unsqueeze(0)
    device = next(model.parameters()).device
    with capturing({name: getattr(model, name) for name in layers}) as outputs, evaluating(model):
        scores = model(image.to(device))
    maps = {name: output.cpu()[0] for name, output in outputs.items()}
    maps["prediction"] = int(scores.argmax(1))
    return maps


def plot_lenet_maps(model: nn.Module, images: torch.Tensor, index: int = 0,
                    labels: Optional[torch.Tensor] = None):
    """One digit (``images[index]``, index clamped) next to its six C1 maps and sixteen C3 maps."""
    index = int(clamp(int(index), 0, len(images) - 1))
    maps = lenet_maps(model, images[index], ("C1", "C3"))
    figure = plt.figure(figsize=(10, 4.2))
    grid = figure.add_gridspec(3, 9, width_ratios=[2.2] + [1] * 8)
    axis = figure.add_subplot(grid[:, 0])
    axis.imshow(images[index, 0].cpu().numpy(), cmap="gray")
    truth = f"label {int(labels[index])}, " if labels is not None else ""
    axis.set_title(f"digit #{index}\n{truth}predicted {maps['prediction']}", fontsize=9)
    axis.axis("off")
    panels = [("C1", m) for m in range(6)] + [("C3", m) for m in range(16)]
    cells = [(0, c) for c in range(1, 7)] + [(1 + r, 1 + c) for r in range(2) for c in range(8)]
    for (layer, m), (row, column) in zip(panels, cells):
        axis = figure.add_subplot(grid[row, column])
        axis.imshow(maps[layer][m].numpy(), cmap="viridis")
        axis.set_title(f"{layer}.{m}", fontsize=7)
        axis.axis("off")
    figure.suptitle("C1 (top row, 28x28) and C3 (bottom rows, 10x10) feature maps", fontsize=10)
    return figure


@torch.no_grad()
def c3_parts(model: nn.Module, image: torch.Tensor, c3_map: int) -> dict:
    """What C3 map ``c3_map`` of a LeNet-5 computes for one image (1, 32, 32) or (1, 1, 32, 32): the
    S2 maps it reads (``inputs``, Table I's column) and their squashed states ``s2`` (k, 14, 14),
    its 5x5 ``kernels`` (k, 5, 5), each kernel's ``contributions`` (k, 10, 10), its ``bias``, and
    their sum ``total`` (10, 10): C3's output for that map, before the squashing."""
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if not 0 <= c3_map < model.C3.out_channels:
        raise ValueError(f"c3_map must be in 0..{model.C3.out_channels - 1}, got {c3_map}")
    image = image.to(next(model.parameters()).device)
    with evaluating(model):
        s2 = model.tanh2(model.S2(model.tanh1(model.C1(image))))[0]          # (6, 14, 14)
    inputs = c3_inputs(c3_map, model.C3.table.tolist())
    kernels = model.C3.full_weight()[c3_map, inputs]                          # (k, 5, 5)
    contributions = torch.stack([F.conv2d(s2[i][None, None], kernel[None, None])[0, 0]
                                 for i, kernel in zip(inputs, kernels)])
    bias = float(model.C3.bias[c3_map])
    return {"inputs": inputs, "s2": s2[inputs].cpu(), "kernels": kernels.cpu(),
            "contributions": contributions.cpu(), "bias": bias,
            "total": contributions.sum(0).cpu() + bias}


def _show(axis, image: torch.Tensor, title: str, cmap: str, limit: Optional[float] = None) -> None:
    low = -limit if limit is not None else None
    axis.imshow(image.numpy(), cmap=cmap, vmin=low, vmax=limit)
    axis.set_title(title, fontsize=8)
    axis.set_xticks([])
    axis.set_yticks([])


def plot_c3_map(model: nn.Module, images: torch.Tensor, c3_map: int = 0, index: int = 0):
    """What C3 map ``c3_map`` computes for digit ``images[index]`` (both clamped): one column per S2
    map Table I links to it (that S2 map, the 5x5 kernel, their convolution), and in the last column
    the digit and the map's response, the sum of the columns plus a bias, squashed."""
    c3_map = int(clamp(int(c3_map), 0, model.C3.out_channels - 1))
    index = int(clamp(int(index), 0, len(images) - 1))
    parts = c3_parts(model, images[index], c3_map)
    count = len(parts["inputs"])
    figure, axes = plt.subplots(3, count + 1, figsize=(1.6 * (count + 1) + 0.6, 5.2), squeeze=False)
    kernel_limit = float(parts["kernels"].abs().max())
    part_limit = float(parts["contributions"].abs().max())
    for column, s2_map in enumerate(parts["inputs"]):
        _show(axes[0, column], parts["s2"][column], f"S2 map {s2_map}", "gray", 1.7159)
        _show(axes[1, column], parts["kernels"][column], f"kernel S2 {s2_map} → C3 {c3_map}",
              "RdBu_r",
              kernel_limit)
        _show(axes[2, column], parts["contributions"][column], f"S2 {s2_map} ∗ kernel", "RdBu_r",
              part_limit)
    _show(axes[0, count], images[index, 0].cpu(), f"digit #{index}", "gray")
    axes[1, count].axis("off")
    axes[1, count].text(0.5, 0.5, f"sum of the {count}\nbelow, + "
                                  f"bias\n{parts['bias']:+.2f},\nsquashed",
                        ha="center", va="center", fontsize=8)
    response = model.tanh3(parts["total"])
    _show(axes[2, count], response, f"C3 map {c3_map}", "RdBu_r", 1.7159)
    figure.suptitle(
        f"C3 map {c3_map} reads S2 maps {', '.join(map(str, parts['inputs']))} "
        f"({count} of {model.C3.in_channels}); its response is their convolutions added",
        fontsize=10,
    )
    figure.tight_layout()
    figure.c3_parts = parts
    return figure
