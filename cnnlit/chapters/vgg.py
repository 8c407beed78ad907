"""Chapter 4 (VGG): Table 1 rendered from the code, and where the network spends memory and
arithmetic.

- :func:`configuration_table`: the paper's Table 1 (configurations in columns) built from
  ``TABLE_1``.
- :func:`layer_costs`: per weight/pooling layer: channels, spatial side, activations, parameters,
  multiply-adds and receptive field, from :func:`cnnlit.analysis.summary`.
- :func:`conv_layers`: a configuration's convolutions by the paper's names (``conv3_2``: block 3,
  second), the handle of VGG's staged initialisation (deeper nets started from A's layers, Sec.
  3.1);
- :func:`activation_spread`: the spread of every ReLU's output for a batch of images, the quantity
  the initialisation argument (He et al. 2015) and batch normalisation keep in check;
- :func:`plot_shape_flow` and :func:`plot_costs`: the widget callbacks (out-of-range values are
  clamped, an unknown configuration falls back to D with a note; never a traceback).
"""
from __future__ import annotations

import copy
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from ..analysis import summary
from ..models.vgg import CLASSIFIER, TABLE_1, WEIGHT_LAYERS, config_key, vgg
from ..module_tools import hooked, on_meta
from ..widgets import clamp

__all__ = ["activation_spread", "configuration_table", "conv_layers", "layer_costs", "plot_costs",
           "plot_shape_flow"]

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


def conv_layers(model) -> dict:
    """The convolutions of a :class:`cnnlit.models.vgg.VGG`, named by block and position as in
    Caffe's VGG models (``conv1_1``, ``conv1_2``, ``conv2_1``...), in order: the names by which
    VGG's staged initialisation copies A's first four layers into the same places of a deeper
    configuration."""
    config = config_key(getattr(model, "config", ""))
    convs = iter([m for m in model.features if isinstance(m, nn.Conv2d)])
    named = {}
    for block, layers in enumerate(TABLE_1[config], start=1):
        position = 0
        for entry in layers:
            if entry != "LRN":
                position += 1
                named[f"conv{block}_{position}"] = next(convs)
    return named


@torch.no_grad()
def activation_spread(model, images) -> list:
    """The standard deviation of each ReLU's output over ``images``, one number per ReLU from the
    input side to the output side, in the model's current mode (train-mode batch norm normalises
    with the batch's statistics). Nothing changes: batch norm's running statistics are measured on a
    copy."""
    if model.training and any(isinstance(m,
                                         nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        model = copy.deepcopy(model)
    spreads = []

    def record(_module, _inputs, output):
        spreads.append(float(output.float().std()))

    with hooked((module, record) for module in model.modules() if isinstance(module, nn.ReLU)):
        model(images)
    return spreads


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
