"""Chapter 00 (foundations): the training toolkit's figures — the three sets, SGD's path on a
quadratic with and without momentum, learning-rate schedules.

The numbers come from the notebook's own cells (the split it carved, the optimiser it stepped, the
schedulers it ran); these functions only draw them.

>>> import torch
>>> figure = plot_split({"training": 7200, "validation": 800, "test": 2000})
>>> path = torch.tensor([[-2.0, 1.0], [-1.5, 0.2], [0.0, 0.0]])
>>> figure = plot_paths({"plain SGD": path}, curvatures=(1.0, 20.0))
>>> figure = plot_schedules({"constant": [0.1, 0.1, 0.1]}, xlabel="epoch")
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

__all__ = ["plot_paths", "plot_schedules", "plot_split", "quadratic"]

SET_COLOURS = {"training": "tab:blue", "validation": "tab:orange", "test": "tab:grey"}


def plot_split(sizes: Mapping[str, int], title: str = "One dataset, three jobs"):
    """The images in each set as one bar each, labelled with its count and its job."""
    jobs = {"training": "fit the weights", "validation": "choose (epoch, rate, design)",
            "test": "report once, at the end"}
    names = list(sizes)
    figure, axis = plt.subplots(figsize=(7, 2.6))
    bars = axis.barh(names, [sizes[name] for name in names],
                     color=[SET_COLOURS.get(name, "tab:green") for name in names])
    axis.bar_label(bars, labels=[f"{sizes[n]:,} images: {jobs.get(n, '')}".rstrip(": ")
                                 for n in names], padding=4, fontsize=9)
    axis.invert_yaxis()                                     # training on top, test at the bottom
    axis.set_xlim(0, 1.9 * max(sizes.values()))
    axis.set_xlabel("images")
    axis.set_ylabel("set")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def quadratic(w: torch.Tensor, curvatures: Sequence[float]) -> torch.Tensor:
    """f(w) = ½ Σ c_i w_i²: a bowl whose steepness along axis i is c_i (the last axis of ``w``)."""
    return 0.5 * (torch.as_tensor(curvatures, dtype=w.dtype) * w ** 2).sum(-1)


def plot_paths(paths: Mapping[str, torch.Tensor], curvatures: Sequence[float] = (1.0, 20.0),
               title: str = "Gradient descent on an elongated bowl"):
    """Left: each path (steps x 2 weights) over the contours of :func:`quadratic`. Right: the
    loss along each path, on a log scale."""
    stacked = torch.cat([torch.as_tensor(path, dtype=torch.float32) for path in paths.values()])
    reach = float(stacked.abs().max()) * 1.1
    grid = torch.linspace(-reach, reach, 200)
    w1, w2 = torch.meshgrid(grid, grid, indexing="xy")
    surface = quadratic(torch.stack([w1, w2], -1), curvatures)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.contour(w1, w2, surface, levels=15, colors="lightgrey", linewidths=0.8)
    for label, path in paths.items():
        path = torch.as_tensor(path, dtype=torch.float32)
        left.plot(path[:, 0], path[:, 1], "o-", markersize=2.5, linewidth=1, label=label)
        right.semilogy(quadratic(path, curvatures).clamp_min(1e-12), label=label)
    left.plot([0], [0], "k*", markersize=10, label="minimum")
    left.set_xlabel("weight $w_1$ (gentle direction)")
    left.set_ylabel("weight $w_2$ (steep direction)")
    left.set_title(title)
    left.legend(fontsize=8)
    right.set_xlabel("step")
    right.set_ylabel("loss f(w)")
    right.set_title("Loss along the path")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_schedules(rates: Mapping[str, Sequence[float]], xlabel: str = "iteration",
                   title: str = "Learning-rate schedules"):
    """One curve per schedule: the learning rate at each step, as the scheduler set it."""
    figure, axis = plt.subplots(figsize=(7, 3.6))
    for label, curve in rates.items():
        axis.plot(range(len(curve)), list(curve), label=label)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("learning rate")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
