"""Figures the chapters share: training curves, image grids, filters, confusion matrices, and how
an image is scaled for display (:func:`stretched`, :func:`signed`, :func:`display_array`).

Every function returns its matplotlib Figure, so a notebook cell shows it and a test can inspect it.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["confusion_matrix", "display_array", "plot_confusion", "plot_history", "show_filters",
           "show_images", "signed", "stretched"]


def _grid(count: int, columns: Optional[int] = None) -> tuple[int, int]:
    columns = columns or min(count, 8)
    return math.ceil(count / columns), columns


def stretched(image: torch.Tensor) -> torch.Tensor:
    """An image for display: its lowest value black, its highest white (a flat one unchanged)."""
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low if high > low else 1.0)


def signed(image: torch.Tensor) -> torch.Tensor:
    """A projection or a filter for display: zero mid-grey, the largest magnitude black or white."""
    scale = float(image.abs().max()) or 1.0
    return (0.5 + image / (2 * scale)).clamp(0, 1)


def display_array(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (H, W) tensor -> array for imshow: (H, W) for one channel, else (H, W, C)."""
    array = image.detach().float().cpu()
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    return (array.permute(1, 2, 0) if array.ndim == 3 else array).numpy()


def _as_image(tensor: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (H, W) tensor -> array for imshow, each image scaled to [0, 1] for display."""
    return display_array(stretched(tensor.detach().float().cpu()))


def plot_history(*histories, labels: Optional[Sequence[str]] = None, metrics=("loss", "accuracy"),
                 title: str = ""):
    """Curves of one or more :class:`cnnlit.train.History` runs, one panel per metric (validation
    dashed).
    """
    labels = list(labels) if labels else [f"run {i + 1}" for i in range(len(histories))]
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.3), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        for index, (history, label) in enumerate(zip(histories, labels)):
            color = f"C{index}"
            values = getattr(history, metric)
            axis.plot(history.epoch, values, marker="o", color=color, label=f"{label} (train)")
            validation = getattr(history, f"val_{metric}", [])
            if len(validation) == len(history.epoch):
                axis.plot(history.epoch, validation, "--", marker="s", color=color,
                          label=f"{label} (val)")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def show_images(images: torch.Tensor, labels: Optional[Sequence] = None, *,
                columns: Optional[int] = None,
                title: str = "", size: float = 1.4, cmap: str = "gray"):
    """A grid of images (N, C, H, W) with optional captions."""
    if images.ndim != 4:
        raise ValueError(f"show_images expects (N, C, H, W), got {tuple(images.shape)}")
    rows, columns = _grid(len(images), columns)
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.3),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            axis.imshow(_as_image(images[index]), cmap=cmap)
            if labels is not None:
                axis.set_title(str(labels[index]), fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def show_filters(weight: torch.Tensor, *, columns: Optional[int] = None, title: str = "",
                 size: float = 0.9):
    """Convolution kernels (out, in, k, k): RGB when in = 3, else the first input channel, each
    scaled.
    """
    if weight.ndim != 4:
        raise ValueError(f"show_filters expects a conv weight (out, in, kH, kW), got "
                         f"{tuple(weight.shape)}")
    kernels = weight if weight.shape[1] == 3 else weight[:, :1]
    return show_images(kernels, columns=columns or min(len(kernels), 12), title=title, size=size,
                       cmap="gray")


def plot_confusion(matrix: torch.Tensor, classes: Sequence[str], *,
                   title: str = "confusion matrix"):
    """A confusion matrix (rows: true class, columns: predicted) with counts written in the cells.
    """
    figure, axis = plt.subplots(figsize=(5.2, 4.6))
    axis.imshow(matrix.cpu().numpy(), cmap="Blues")
    axis.set_xticks(range(len(classes)), classes, rotation=90 if max(map(len, classes)) > 2 else 0)
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    limit = float(matrix.max())
    for (row, column), value in np.ndenumerate(matrix.cpu().numpy()):
        if value:
            axis.text(column, row, int(value), ha="center", va="center", fontsize=7,
                      color="white" if value > limit / 2 else "black")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Counts of (true, predicted) pairs as a (classes, classes) tensor."""
    index = labels.long() * classes + predicted.long()
    return torch.bincount(index, minlength=classes * classes).reshape(classes, classes)
