"""Chapter 06 (GoogLeNet) figures: an Inception module's four branches and their concatenation,
Table 1's costs ours-vs-printed per row, the cost of each branch with and without the 1x1
reductions, and where the auxiliary classifiers attach.

Each function returns its matplotlib Figure. ``plot_module_branches`` is the widget callback: it
clamps the number of maps and names the valid modules when given another.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from ..layers.inception import Inception
from ..module_tools import capturing, evaluating
from ..widgets import clamp

__all__ = ["BRANCH_NAMES", "MAX_MAPS", "module_inputs", "plot_auxiliary_classifiers",
           "plot_branches", "plot_module_branches", "plot_reduction", "plot_row_costs"]

BRANCH_NAMES = ("1×1", "1×1 → 3×3", "1×1 → 5×5", "3×3 max pool → 1×1")
MAX_MAPS = 8


def inception_modules(model: nn.Module) -> dict[str, Inception]:
    """The model's Inception modules by name, in the order they run."""
    return {name: module for name, module in model.named_modules() if isinstance(module, Inception)}


@torch.no_grad()
def module_inputs(model: nn.Module, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model`` once (eval mode) on one image (1, C, H, W) and keep what each Inception module
    received, so the branches of any module can be shown without running the network again."""
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"module_inputs expects one image as (1, C, H, W), got "
                         f"{tuple(image.shape)}")
    with capturing(inception_modules(model), inputs=True) as captured, evaluating(model):
        model(image)
    return captured


@torch.no_grad()
def plot_branches(module: Inception, x: torch.Tensor, *, maps: int = 4, title: str = ""):
    """The first ``maps`` feature maps of each branch (one column per branch) and, below, the
    concatenated output: mean activation of every channel, coloured by the branch it came from."""
    if not isinstance(module, Inception):
        raise TypeError(f"plot_branches needs an Inception module, got {type(module).__name__}")
    maps = int(clamp(maps, 1, MAX_MAPS))
    with evaluating(module):
        outputs = [branch[0] for branch in module.branches(x[:1])]
    figure = plt.figure(figsize=(8.5, 1.25 * maps + 2.2))
    grid = figure.add_gridspec(maps + 1, 4, height_ratios=[1] * maps + [1.4])
    for column, (name, output) in enumerate(zip(BRANCH_NAMES, outputs)):
        for row in range(maps):
            axis = figure.add_subplot(grid[row, column])
            axis.axis("off")
            if row < len(output):
                axis.imshow(output[row].cpu().numpy(), cmap="viridis")
            if row == 0:
                axis.set_title(f"{name}\n{len(output)} channels", fontsize=8)
    axis = figure.add_subplot(grid[maps, :])
    start = 0
    for index, (name, output) in enumerate(zip(BRANCH_NAMES, outputs)):
        channels = np.arange(start, start + len(output))
        axis.bar(channels, output.mean(dim=(1, 2)).cpu().numpy(), width=1.0, color=f"C{index}",
                 label=f"{name}: channels {start}–{start + len(output) - 1}")
        start += len(output)
    axis.set_xlim(-0.5, start - 0.5)
    axis.set_xlabel(f"channel of the concatenated output ({start} channels)")
    axis.set_ylabel("mean activation")
    axis.legend(fontsize=7, ncol=2, loc="upper right")
    figure.suptitle(title or "An Inception module: four branches, concatenated along the channels")
    figure.tight_layout()
    return figure


def plot_module_branches(inputs: Mapping[str, torch.Tensor], model: nn.Module,
                         module: str = "inception3a", maps: int = 4):
    """Widget callback: :func:`plot_branches` for one named module of ``model``, from the inputs
    that :func:`module_inputs` captured."""
    modules = inception_modules(model)
    if module not in modules or module not in inputs:
        raise ValueError(f"unknown Inception module {module!r}; choose one of {', '.join(modules)}")
    return plot_branches(modules[module], inputs[module], maps=maps,
                         title=f"{module}: the four branches and their concatenation")


def plot_row_costs(rows: Sequence[str], ours: Mapping[str, Sequence[float]],
                   paper: Mapping[str, Sequence[Optional[float]]]):
    """Grouped bars per Table 1 row, one panel per quantity (e.g. "params (K)", "ops (M)"): ours
    beside the printed value (missing printed values are left out)."""
    quantities = list(ours)
    figure, axes = plt.subplots(1, len(quantities), figsize=(6.2 * len(quantities), 3.6),
                                squeeze=False)
    positions = np.arange(len(rows))
    for axis, quantity in zip(axes[0], quantities):
        printed = [np.nan if value is None else value for value in paper[quantity]]
        axis.bar(positions - 0.2, ours[quantity], width=0.4, label="ours (from the code)")
        axis.bar(positions + 0.2, printed, width=0.4, label="Table 1 (printed)")
        axis.set_xticks(positions, rows, rotation=60, ha="right", fontsize=7)
        axis.set_title(quantity)
        axis.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_reduction(branches: Sequence[str], with_reduction: Sequence[float],
                   without_reduction: Sequence[float], *, unit: str = "M multiply-adds",
                   title: str = ""):
    """Per-branch cost of a module with the 1x1 reductions (Figure 2b) and without them (Figure 2a).
    """
    if not len(branches) == len(with_reduction) == len(without_reduction):
        raise ValueError("branches, with_reduction and without_reduction must have the same length")
    figure, axis = plt.subplots(figsize=(6.4, 3.4))
    positions = np.arange(len(branches))
    axis.bar(positions - 0.2, without_reduction, width=0.4, color="C3", label="naive (Figure 2a)")
    axis.bar(positions + 0.2, with_reduction, width=0.4, color="C0",
             label="with 1×1 reductions (Figure 2b)")
    for position, value in zip(positions, with_reduction):
        axis.text(position + 0.2, value, f"{value:.0f}", ha="center", va="bottom", fontsize=8)
    for position, value in zip(positions, without_reduction):
        axis.text(position - 0.2, value, f"{value:.0f}", ha="center", va="bottom", fontsize=8)
    axis.set_xticks(positions, branches, fontsize=8)
    axis.set_ylabel(unit)
    axis.legend(fontsize=8)
    axis.set_title(title or "The cost of each branch")
    figure.tight_layout()
    return figure


def plot_auxiliary_classifiers(stages: Sequence[str], depths: Sequence[int],
                               heads: Mapping[str, str], *, title: str = ""):
    """The network as a line of blocks, input to output (``stages``, each with the layers with
    parameters up to and including it, ``depths``), and a training-only head above each stage
    named in ``heads`` (stage -> label): Section 5's auxiliary classifiers on (4a) and (4d)."""
    if len(stages) != len(depths):
        raise ValueError("stages and depths must have the same length")
    missing = [stage for stage in heads if stage not in stages]
    if missing:
        raise ValueError(f"heads attach to stages that are not drawn: {missing}")
    figure, axis = plt.subplots(figsize=(max(8.0, 0.62 * len(stages)), 3.4))
    for x, (stage, depth) in enumerate(zip(stages, depths)):
        inception = stage.startswith("(")
        colour = "C0" if inception else ("C7" if "pool" in stage else "C2")
        axis.add_patch(plt.Rectangle((x - 0.42, -0.3), 0.84, 0.6, color=colour, alpha=0.8))
        axis.text(x, 0, stage.strip("()"), ha="center", va="center", fontsize=7,
                  rotation=0 if inception else 90, color="white")
        axis.text(x, -0.45, str(depth), ha="center", va="top", fontsize=7)
        if x:
            axis.annotate("", (x - 0.42, 0), (x - 0.58, 0), arrowprops=dict(arrowstyle="->"))
    for stage, label in heads.items():
        x = list(stages).index(stage)
        axis.add_patch(plt.Rectangle((x - 1.3, 0.95), 2.6, 0.7, color="C3", alpha=0.8))
        axis.text(x, 1.3, label, ha="center", va="center", fontsize=6.5, color="white")
        axis.annotate("", (x, 0.95), (x, 0.3), arrowprops=dict(arrowstyle="->", color="C3"))
        axis.text(x + 0.08, 0.62, "loss × 0.3", fontsize=7, color="C3")
    axis.set_xlim(-0.8, len(stages) - 0.2)
    axis.set_ylim(-0.9, 1.8)
    axis.set_yticks([0, 1.3], ["main network", "auxiliary classifiers\n(training only)"],
                    fontsize=8)
    axis.set_xticks([])
    axis.set_xlabel("input → output; under each block: layers with parameters up to it")
    axis.set_ylabel("path")
    for side in ("top", "right", "bottom"):
        axis.spines[side].set_visible(False)
    axis.set_title(title or "Where GoogLeNet's auxiliary classifiers attach (Section 5)")
    figure.tight_layout()
    return figure
