"""Chapter 8 (transfer learning): which parameters each way trains, the validation curves of the
three ways, and accuracy against the number of labels.

>>> figure = plot_trainable({"linear probe": (325, 77_850), "fine-tune": (78_175, 0)})
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_accuracy_vs_labels", "plot_trainable", "plot_validation_curves"]


def plot_trainable(counts: Mapping[str, tuple], *, title: str = ""):
    """One horizontal bar per way: its trainable parameters (solid) and its frozen ones (hatched),
    ``counts = {way: (trainable, frozen)}``, on a log scale (the head is tiny)."""
    if not counts:
        raise ValueError("plot_trainable needs at least one {way: (trainable, frozen)} entry")
    ways = list(counts)
    trainable = np.array([counts[w][0] for w in ways], dtype=float)
    frozen = np.array([counts[w][1] for w in ways], dtype=float)
    figure, axis = plt.subplots(figsize=(7, 0.7 * len(ways) + 1.3))
    rows = np.arange(len(ways))
    axis.barh(rows + 0.2, trainable, height=0.38, color="C0", label="trained")
    axis.barh(rows - 0.2, frozen, height=0.38, color="white", edgecolor="C7", hatch="//",
              label="frozen")
    for row, (t, f) in enumerate(zip(trainable, frozen)):
        axis.text(max(t, 1), row + 0.2, f" {int(t):,}", va="center", fontsize=8)
        if f:
            axis.text(f, row - 0.2, f" {int(f):,}", va="center", fontsize=8)
    axis.set_xscale("log")
    axis.set_xlim(1, max(trainable.max(), frozen.max(), 10) * 8)
    axis.set_yticks(rows, ways)
    axis.invert_yaxis()
    axis.set_xlabel("parameters (log scale)")
    axis.set_ylabel("way to transfer")
    axis.set_title(title or "Which parameters each way trains")
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)   # off the bars
    figure.tight_layout()
    return figure


def plot_validation_curves(curves: Mapping[str, Sequence[Sequence[float]]], *, title: str = ""):
    """Validation accuracy per epoch, one colour per way: a thin line per seed and the mean over
    the seeds in bold. ``curves = {way: [accuracies of seed 0, of seed 1, ...]}`` (fractions)."""
    if not curves:
        raise ValueError("plot_validation_curves needs at least one {way: [curve, ...]} entry")
    figure, axis = plt.subplots(figsize=(7, 3.6))
    for index, (way, runs) in enumerate(curves.items()):
        runs = np.array([list(run) for run in runs], dtype=float) * 100
        epochs = np.arange(1, runs.shape[1] + 1)
        for run in runs:
            axis.plot(epochs, run, color=f"C{index}", linewidth=0.7, alpha=0.4)
        axis.plot(epochs, runs.mean(axis=0), color=f"C{index}", linewidth=2,
                  label=f"{way} (mean of {len(runs)})")
    return _labelled(figure, axis, "epoch", "validation accuracy (%)",
                     title or "Validation accuracy while each way trains")


def plot_accuracy_vs_labels(accuracy: Mapping[str, Mapping[int, float]], *, title: str = ""):
    """Accuracy against labels per class, one line per way: ``{way: {k: accuracy}}`` (fractions);
    the x axis is logarithmic, as label budgets grow by factors."""
    if not accuracy:
        raise ValueError("plot_accuracy_vs_labels needs at least one {way: {k: accuracy}} entry")
    figure, axis = plt.subplots(figsize=(6, 3.6))
    for index, (way, points) in enumerate(accuracy.items()):
        ks = sorted(points)
        axis.plot(ks, [100 * points[k] for k in ks], "o-", color=f"C{index}", label=way)
    axis.set_xscale("log")
    ticks = sorted({k for points in accuracy.values() for k in points})
    axis.set_xticks(ticks, [str(k) for k in ticks])
    axis.minorticks_off()
    return _labelled(figure, axis, "labelled images per class", "test accuracy (%)",
                     title or "Accuracy against the number of labels")


def _labelled(figure, axis, xlabel: str, ylabel: str, title: str):
    """The axes' labels, title, grid and legend, laid out: what both figures end with."""
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
