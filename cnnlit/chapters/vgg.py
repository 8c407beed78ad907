"""Chapter 4 (VGG): Table 1 rendered from the code, and where the network spends memory and
arithmetic.

- :func:`configuration_table`: the paper's Table 1 (configurations in columns) built from
  ``TABLE_1``.
- :func:`layer_costs`: per weight/pooling layer: channels, spatial side, activations, parameters,
  multiply-adds and receptive field, from :func:`cnnlit.analysis.summary`.
- :func:`plot_dense_evaluation`: the fully connected layers as convolutions sliding over a larger
  image (Sec. 3.2): the input window each position of the output map sees;
- :func:`plot_shape_flow` and :func:`plot_costs`: the widget callbacks (out-of-range values are
  clamped, an unknown configuration falls back to D with a note; never a traceback).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from ..analysis import summary
from ..models.vgg import CLASSIFIER, TABLE_1, WEIGHT_LAYERS, config_key, vgg
from ..module_tools import on_meta
from ..widgets import clamp

__all__ = ["configuration_table", "dense_windows", "layer_costs", "plot_costs",
           "plot_dense_evaluation", "plot_shape_flow"]

SIZE_RANGE = (32, 512)
WIDTH_RANGE = (1, 64)
BYTES_PER_VALUE = 4          # float32


def configuration_table(configs=None):
    """Table 1 as a DataFrame: one column per configuration, rows block by block, each block's
    layers top-aligned as in the paper and separated by ``maxpool`` rows, then the classifier
    rows."""
    import pandas as pd

    configs = [config_key(config) for config in (configs or TABLE_1)]     # "d" -> "D"
    rows = [[f"{WEIGHT_LAYERS[c]} weight layers" for c in configs],
            ["input (224 x 224 RGB image)"] * len(configs)]
    for block in range(5):
        depth = max(len(TABLE_1[c][block]) for c in configs)
        for position in range(depth):
            rows.append([TABLE_1[c][block][position] if position < len(TABLE_1[c][block]) else ""
                         for c in configs])
        rows.append(["maxpool"] * len(configs))
    rows.extend([[entry] * len(configs) for entry in CLASSIFIER])
    return pd.DataFrame(rows, columns=configs)


def _safe_arguments(config: str, input_size, width) -> tuple:
    """Clamp a widget's values into range; an unknown configuration falls back to D."""
    key = str(config).upper()
    if key not in TABLE_1:
        print(f"unknown configuration {config!r}; showing D (Table 1 has {', '.join(TABLE_1)})")
        key = "D"
    size = int(clamp(int(input_size), *SIZE_RANGE))
    return key, size, int(clamp(int(width), *WIDTH_RANGE))


def layer_costs(config: str = "D", input_size: int = 224, width: int = 1, batch_norm: bool = False):
    """One row per convolution, max-pooling and fully connected layer of a configuration at
    ``input_size`` x ``input_size``: ``layer``, ``kind``, ``channels``, ``side``, ``activations``
    (output values per image), ``memory_MB`` (float32), ``params``, ``macs``,
    ``receptive_field``."""
    # shapes and counts only: nothing is allocated or computed
    model = on_meta(vgg, config, batch_norm=batch_norm, width=width)
    frame = summary(model, (1, model.features[0].in_channels, input_size, input_size),
                    device="meta")
    kinds = {"Conv2d": "conv", "MaxPool2d": "maxpool", "Linear": "FC"}
    frame = frame[frame["type"].isin(kinds)].copy()
    frame["kind"] = [
        f"conv{model.get_submodule(name).kernel_size[0]}-{shape[1]}" if kind == "Conv2d"
        else ("maxpool" if kind == "MaxPool2d" else f"FC-{shape[1]}")
        for name, kind, shape in zip(frame["layer"], frame["type"], frame["output_shape"])]
    frame["channels"] = [shape[1] for shape in frame["output_shape"]]
    frame["side"] = [shape[2] if len(shape) == 4 else 1 for shape in frame["output_shape"]]
    frame["activations"] = [math.prod(shape[1:]) for shape in frame["output_shape"]]
    frame["memory_MB"] = frame["activations"] * BYTES_PER_VALUE / 1e6
    columns = ["layer", "kind", "channels", "side", "activations", "memory_MB", "params", "macs",
               "receptive_field"]
    return frame[columns].reset_index(drop=True)


def plot_shape_flow(config: str = "D", input_size: int = 224, width: int = 1):
    """Spatial side and channel count after every layer: the side halves at each pooling while the
    channels double, until 512. Returns the figure."""
    config, input_size, width = _safe_arguments(config, input_size, width)
    frame = layer_costs(config, input_size, width)
    frame = frame[~frame["kind"].str.startswith("FC")]           # the conv part: sides and channels
    steps = range(1, len(frame) + 1)
    figure, axis = plt.subplots(figsize=(9, 3.6))
    axis.step(steps, frame["side"], where="mid", color="C0", marker="o",
              label="spatial side (pixels)")
    axis.set_yscale("log", base=2)
    axis.set_ylabel("spatial side (pixels)", color="C0")
    other = axis.twinx()
    other.step(steps, frame["channels"], where="mid", color="C3", marker="s", label="channels")
    other.set_yscale("log", base=2)
    other.set_ylabel("channels", color="C3")
    axis.set_xticks(list(steps))
    axis.set_xticklabels(frame["kind"], rotation=70, fontsize=7)
    axis.grid(alpha=0.3)
    axis.set_title(
        f"VGG-{config} at {input_size}x{input_size}"
        + (f", width / {width}" if width > 1 else "")
        + ": the side halves at each maxpool, the channels double"
    )
    figure.tight_layout()
    return figure


def plot_costs(config: str = "D", input_size: int = 224):
    """Per layer: activation memory, parameters and multiply-adds (three panels). Returns the
    figure.
    """
    config, input_size, _ = _safe_arguments(config, input_size, 1)
    frame = layer_costs(config, input_size)
    positions = range(len(frame))
    figure, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    panels = [("memory_MB", "activations (MB / image)", "C0"),
              ("params", "parameters (millions)", "C2"),
              ("macs", "multiply-adds (billions)", "C3")]
    for axis, (column, label, color) in zip(axes, panels):
        values = frame[column] / {"memory_MB": 1, "params": 1e6, "macs": 1e9}[column]
        axis.bar(positions, values, color=color)
        axis.set_ylabel(label, fontsize=8)
        axis.grid(alpha=0.3, axis="y")
    axes[-1].set_xticks(list(positions))
    axes[-1].set_xticklabels(frame["kind"], rotation=70, fontsize=7)
    axes[0].set_title(f"VGG-{config} at {input_size}x{input_size}: memory early, parameters late, "
                      "arithmetic spread over the blocks")
    figure.tight_layout()
    return figure


def dense_windows(image_size: int = 384, window: int = 224, stride: int = 32) -> list:
    """Dense evaluation (Sec. 3.2): the network trained on ``window`` x ``window`` crops slides over
    an ``image_size`` image in steps of ``stride`` pixels (its total stride: five 2x2 poolings,
    2^5 = 32). One entry per output position ``(row, column, top, left)``: the position in the
    output map and the top-left corner of the input window it sees. VGG at 384x384: a 6x6 map."""
    if image_size < window:
        raise ValueError(f"the image ({image_size}) must be at least the window ({window})")
    side = (image_size - window) // stride + 1
    return [(row, column, row * stride, column * stride)
            for row in range(side) for column in range(side)]


def plot_dense_evaluation(image_size: int = 384, window: int = 224, stride: int = 32,
                          show=((0, 0), (2, 3), (5, 5)), image=None):
    """Left: the image (``image``, an (H, W) or (H, W, 3) array, or a plain square), with the input
    windows of the output positions in ``show`` outlined and every window's centre dotted. Right:
    the output map, those positions in the same colours. Returns the figure."""
    from matplotlib.patches import Rectangle

    windows = dense_windows(image_size, window, stride)
    side = windows[-1][0] + 1
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6),
                                         gridspec_kw={"width_ratios": [1.3, 1]})
    if image is not None:
        left.imshow(image, extent=(0, image_size, image_size, 0), cmap="gray")
    else:
        left.add_patch(Rectangle((0, 0), image_size, image_size, color="0.93"))
    centres = [(c + window / 2, t + window / 2) for _, _, t, c in windows]
    left.plot(*zip(*centres), ".", color="0.4", markersize=4, label="a window's centre")
    for index, (row, column) in enumerate(show):
        top, column_left = row * stride, column * stride
        left.add_patch(Rectangle((column_left, top), window, window, fill=False, lw=2,
                                 color=f"C{index}", label=f"output ({row}, {column})"))
    left.set_xlim(0, image_size)
    left.set_ylim(image_size, 0)
    left.set_aspect("equal")
    left.set_xlabel("input column (pixels)")
    left.set_ylabel("input row (pixels)")
    left.set_title(f"{image_size}×{image_size} input: {window}×{window} windows every {stride} px",
                   fontsize=10)
    left.legend(fontsize=7, loc="lower left")
    right.imshow(torch.zeros(side, side), cmap="Greys", vmin=0, vmax=1)
    for index, (row, column) in enumerate(show):
        right.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, color=f"C{index}"))
    right.set_xticks(range(side))
    right.set_yticks(range(side))
    right.grid(False)
    right.set_xlabel("output column")
    right.set_ylabel("output row")
    right.set_title(f"the {side}×{side} map of class scores (one vector per position)",
                    fontsize=10)
    figure.suptitle("Dense evaluation: the fully connected layers as convolutions slide the "
                    "network over a larger image", fontsize=11)
    figure.tight_layout()
    return figure
