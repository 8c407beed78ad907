"""Chapter 0's figures: a kernel sliding over a padded input, and a receptive field growing with
depth.

Both are computed, not drawn by hand: the output size from the convolution-arithmetic formula

    o = floor((i + 2p - k) / s) + 1

and the receptive field from the recursion r <- r + (k - 1) j, j <- j s over the layers' kernels k
and strides s (j: the distance, in input pixels, between neighbouring units of the current layer).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import matplotlib.pyplot as plt
from matplotlib.patches import Polygon, Rectangle
from torch import nn

from ..analysis import summary
from ..costs import window_of
from ..module_tools import output_size
from .draw import FONT, WIDTH
from .rows import model_device

__all__ = ["Window", "conv_arithmetic", "receptive_field", "receptive_fields", "windows_of"]


def _grid(axis, left: float, bottom: float, cells: int, size: float, *, padding: int = 0,
          colour: str = "#f4f4f4", max_lines: int = 64) -> None:
    """A cells×cells grid: the padding ring white and dotted, the input shaded, cell lines if they
    fit.
    """
    extent = cells * size
    axis.add_patch(Rectangle((left, bottom), extent, extent, facecolor="white", edgecolor="#999999",
                             linewidth=0.5, linestyle=":" if padding else "-"))
    inner = (cells - 2 * padding) * size
    axis.add_patch(Rectangle((left + padding * size, bottom + padding * size), inner, inner,
                             facecolor=colour, edgecolor="#999999", linewidth=0.5))
    if cells <= max_lines:
        ticks = [left + i * size for i in range(1, cells)]
        axis.vlines(ticks, bottom, bottom + extent, colors="#999999", linewidth=0.4)
        axis.hlines([bottom + i * size for i in range(1, cells)], left, left + extent,
                    colors="#999999",
                    linewidth=0.4)


def conv_arithmetic(input_size: int, kernel: int, stride: int = 1, padding: int = 0, *,
                    panels: int = 4):
    """A ``kernel``×``kernel`` window sliding with ``stride`` over an ``input_size``×``input_size``
    input padded by ``padding`` (the white border): one panel per shown window position (the first
    ones of the first row, then the last position), and the output map with the matching unit
    marked. The title gives the output size from the formula.

    The figure keeps ``output_size``, ``windows`` (every position as (output row, output column,
    top, left) in padded-input pixels) and ``shown`` (the positions drawn)."""
    size = output_size(input_size, kernel, stride, padding)
    padded = input_size + 2 * padding
    windows = [(r, c, r * stride, c * stride) for r in range(size) for c in range(size)]
    first_row = [w for w in windows if w[0] == 0][:max(1, panels - 1)]
    shown = first_row + ([windows[-1]] if windows[-1] not in first_row else [])
    count = len(shown) + 1
    figure, axes = plt.subplots(1, count, figsize=(min(WIDTH, 2.1 * count), 2.6))
    cell = 1.0
    for number, (axis, (row, col, top, left)) in enumerate(zip(axes, shown), 1):
        _grid(axis, 0, 0, padded, cell, padding=padding)
        axis.add_patch(Rectangle((left * cell, (padded - top - kernel) * cell), kernel * cell,
                                 kernel * cell,
                                 facecolor="#3182bd", alpha=0.35, edgecolor="#08519c",
                                 linewidth=1.5))
        axis.text((left + kernel / 2) * cell, (padded - top - kernel / 2) * cell, str(number),
                  ha="center",
                  va="center", fontsize=FONT + 2, color="#08519c", fontweight="bold")
        axis.set_title(f"{number}: output ({row}, {col})", fontsize=FONT)
        if padding:
            axis.text(padded / 2, -0.25, f"white border: padding {padding}", ha="center", va="top",
                      fontsize=FONT)
    out_axis = axes[-1]
    offset = (padded - size) / 2
    _grid(out_axis, offset, offset, size, cell, colour="#e5f5e0")
    for number, (row, col, _, _) in enumerate(shown, 1):
        out_axis.add_patch(Rectangle((offset + col * cell, offset + (size - 1 - row) * cell), cell,
                                     cell,
                                     facecolor="#31a354", alpha=0.5, edgecolor="#006d2c",
                                     linewidth=1.0))
        out_axis.text(offset + (col + 0.5) * cell, offset + (size - 0.5 - row) * cell, str(number),
                      ha="center", va="center", fontsize=FONT, color="#00441b")
    out_axis.set_title(f"output {size}×{size}", fontsize=FONT)
    for axis in axes:
        axis.set_xlim(-0.3, padded + 0.3)
        axis.set_ylim(-1.2, padded + 0.3)
        axis.set_aspect("equal")
        axis.axis("off")
    formula = (f"o = ⌊(i + 2p − k)/s⌋ + 1 = ⌊({input_size} + 2·{padding} − {kernel})/{stride}⌋ + 1 "
               f"= {size}")
    figure.suptitle(f"input {input_size}×{input_size}, kernel {kernel}×{kernel}, stride {stride}, "
                    f"padding {padding}:   {formula}", fontsize=FONT + 1)
    figure.tight_layout()
    figure.output_size, figure.windows, figure.shown, figure.formula = size, windows, shown, formula
    return figure


@dataclass(frozen=True)
class Window:
    """A layer that slides a window: its name, kernel extent and stride (padding does not change the
    size of a receptive field, only where it sits)."""
    name: str
    kernel: int
    stride: int


def windows_of(model: nn.Module, input_shape: Sequence[int]) -> list[Window]:
    """The window-sliding layers of ``model`` in the order they run (rows of :func:`summary`)."""
    result = []
    for name in summary(model, input_shape, device=model_device(model)).layer:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            module = model
        step = window_of(module)
        if step is not None:
            result.append(Window(name, int(step[0]), int(step[1])))
    return result


def receptive_fields(layers: Sequence[Window]) -> list[tuple[str, int, int]]:
    """(name, receptive field, jump) after each layer: r <- r + (k - 1) j, j <- j s, from r = j = 1.
    """
    field, jump, result = 1, 1, []
    for layer in layers:
        field, jump = field + (layer.kernel - 1) * jump, jump * layer.stride
        result.append((layer.name, field, jump))
    return result


def _as_windows(layers) -> list[Window]:
    windows = []
    for index, layer in enumerate(layers):
        if isinstance(layer, Window):
            windows.append(layer)
        elif isinstance(layer, (tuple, list)) and len(layer) == 3:
            windows.append(Window(str(layer[0]), int(layer[1]), int(layer[2])))
        elif isinstance(layer, (tuple, list)) and len(layer) == 2:
            windows.append(Window(f"layer {index + 1}", int(layer[0]), int(layer[1])))
        else:
            raise ValueError(f"each layer must be (name, kernel, stride) or (kernel, stride), got "
                             f"{layer!r}")
        if windows[-1].kernel < 1 or windows[-1].stride < 1:
            raise ValueError(f"kernel and stride must be >= 1, got {layer!r}")
    if not windows:
        raise ValueError("no layers to draw")
    return windows


def receptive_field(layers: Union[nn.Module, Sequence], input_shape: Optional[Sequence[int]] = None,
                    *,
                    max_cells: int = 48):
    """How far one unit of the last layer sees: a 1-D cut through the stack, input at the bottom.
    Each row marks the units of that layer which feed the top unit; the cone widens by (k - 1) ×
    jump per layer.

    ``layers``: a model (with ``input_shape``, its window-sliding layers are read off it) or a list
    of (name, kernel, stride) / (kernel, stride). The figure keeps ``receptive_fields``: (name,
    field) per layer, equal to :func:`cnnlit.analysis.summary`'s ``receptive_field`` column for a
    chain."""
    if isinstance(layers, nn.Module):
        if input_shape is None:
            raise ValueError("pass input_shape (with the batch dimension) to read the layers off a "
                             "model")
        windows = windows_of(layers, input_shape)
        if not windows:
            raise ValueError(f"{type(layers).__name__} has no convolution or pooling layers")
    else:
        windows = _as_windows(layers)
    fields = receptive_fields(windows)
    # units feeding the top unit, per level (0 = input): n_{l-1} = (n_l - 1) s_l + k_l
    counts = [1]
    for layer in reversed(windows):
        counts.append((counts[-1] - 1) * layer.stride + layer.kernel)
    counts.reverse()                               # counts[0] = input pixels = the receptive field
    jumps = [1] + [jump for _, _, jump in fields]
    names = ["input"] + [w.name for w in windows]
    total = counts[0]
    figure, axis = plt.subplots(figsize=(min(WIDTH, 7.5), 0.9 + 0.55 * len(counts)))
    span_width = 6.0                               # data units for the receptive field
    pixel = span_width / total
    for level, (count, jump, name) in enumerate(zip(counts, jumps, names)):
        y = level
        width = count * jump * pixel if level else total * pixel
        step = jump * pixel
        left = -((count - 1) * step) / 2
        if count <= max_cells:
            for unit in range(count):
                centre = left + unit * step
                side = min(step * 0.9, 0.42) if level else step * 0.9
                axis.add_patch(Rectangle((centre - side / 2, y - 0.2), side, 0.4,
                                         facecolor="#6baed6",
                                         edgecolor="#08519c", linewidth=0.6))
        else:
            axis.add_patch(Rectangle((left - step / 2, y - 0.2), count * step, 0.4,
                                     facecolor="#6baed6",
                                     edgecolor="#08519c", linewidth=0.6))
        if level:
            lower = counts[level - 1] * jumps[level - 1] * pixel if level > 1 else total * pixel
            axis.add_patch(Polygon([(-lower / 2, y - 1 + 0.2), (lower / 2, y - 1 + 0.2),
                                    (width / 2, y - 0.2), (-width / 2, y - 0.2)], closed=True,
                                   facecolor="#c6dbef", alpha=0.4, edgecolor="none"))
            kernel, stride = windows[level - 1].kernel, windows[level - 1].stride
            text = f"{name}  ({kernel}×{kernel}/{stride})"
            right = f"RF {fields[level - 1][1]}"
        else:
            text, right = "input pixels", f"{total} px"
        axis.text(-span_width / 2 - 0.4, y, text, ha="right", va="center", fontsize=FONT)
        axis.text(span_width / 2 + 0.4, y, right, ha="left", va="center", fontsize=FONT)
    axis.set_xlim(-span_width / 2 - 3.2, span_width / 2 + 1.6)
    axis.set_ylim(-0.6, len(counts) - 0.4)
    axis.axis("off")
    axis.set_title(f"receptive field of one unit of {names[-1]}: {fields[-1][1]}×{fields[-1][1]} "
                   f"input pixels",
                   fontsize=FONT + 1)
    figure.tight_layout()
    figure.receptive_fields = [(name, field) for name, field, _ in fields]
    return figure
