"""Chapter 5 (initialisation and normalisation): what a deep plain network does to its signal, and
the figures that show it.

- :func:`conv_layers`: a VGG configuration's convolutions by the paper's names (``conv3_2``: block
  3, second), the handle of VGG's staged initialisation (deeper nets started from A's layers,
  Simonyan and Zisserman, Sec. 3.1);
- :func:`activation_spread`: the spread of every ReLU's output for a batch of images, the quantity
  the variance argument (He et al., 2015) and batch normalisation (Ioffe and Szegedy, 2015) keep in
  check;
- :func:`relu_inputs`: the values entering every ReLU, for the distributions drawn per layer;
- :func:`plot_second_moments`, :func:`plot_activation_spread` and
  :func:`plot_activation_histograms`: the chapter's figures.

Nothing here trains: the SGD steps and the training runs are written in the chapter's cells.
"""
from __future__ import annotations

import copy

import matplotlib.pyplot as plt
import torch
from torch import nn

from ..models.vgg import TABLE_1, config_key
from ..module_tools import hooked

__all__ = ["activation_spread", "conv_layers", "plot_activation_histograms",
           "plot_activation_spread", "plot_second_moments", "relu_inputs"]


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


def _has_batch_norm(model) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def _at_relus(model, images, *, inputs: bool) -> list:
    """What every ReLU receives (``inputs=True``) or returns, in order, for ``images``, in the
    model's current mode. Train-mode batch norm would update its running statistics: it runs on a
    copy, so the model does not change."""
    if model.training and _has_batch_norm(model):
        model = copy.deepcopy(model)
    seen = []

    def record(_module, arguments, output=None):
        # a copy: VGG's ReLUs work in place, so the input tensor becomes the output
        seen.append((arguments[0] if inputs else output).detach().float().clone())

    relus = [module for module in model.modules() if isinstance(module, nn.ReLU)]
    with hooked(((module, record) for module in relus), pre=inputs):
        model(images)
    return seen


def activation_spread(model, images) -> list:
    """The standard deviation of each ReLU's output over ``images``, one number per ReLU from the
    input side to the output side, in the model's current mode (train-mode batch norm normalises
    with the batch's statistics). Nothing changes: batch norm's running statistics are measured on
    a copy."""
    return [float(output.std()) for output in _at_relus(model, images, inputs=False)]


def relu_inputs(model, images, layers=None) -> dict:
    """``{layer: values}``: the values entering the ReLUs numbered ``layers`` (1 = the first, from
    the input side; default all), flattened, for ``images``. In a plain network these are the
    convolutions' outputs; with batch norm, the normalised ones."""
    seen = _at_relus(model, images, inputs=True)
    layers = range(1, len(seen) + 1) if layers is None else layers
    return {layer: seen[layer - 1].flatten() for layer in layers}


def plot_second_moments(moments: dict, *, predicted=None):
    """``moments``: ``{label: [E[y²] after layer 1, 2, ...]}``, drawn on a log scale against the
    layer, with ``predicted`` (a list of the same length) dotted. Returns the figure."""
    figure, axis = plt.subplots(figsize=(6.5, 3))
    for marker, (label, values) in zip("os^v", moments.items()):
        axis.semilogy(range(1, len(values) + 1), values, f"{marker}-", label=label)
    if predicted is not None:
        axis.semilogy(range(1, len(predicted) + 1), predicted, "k:",
                      label="predicted: halves per layer")
    axis.set_xlabel("layer")
    axis.set_ylabel("E[y²] of its output")
    axis.set_title("The signal's second moment through a stack of 3×3 convolutions with ReLUs",
                   fontsize=10)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_activation_spread(panels: dict, *, title: str = "VGG-E"):
    """``panels``: ``{when: {network: [std of each ReLU's output]}}`` (e.g. "at initialisation",
    "after 30 SGD steps"), one panel each, the spreads on a log scale against the ReLU. Returns
    the figure."""
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.4), sharey=True,
                                squeeze=False)
    for axis, (when, spreads) in zip(axes[0], panels.items()):
        for name, values in spreads.items():
            axis.semilogy(range(1, len(values) + 1), list(values), "o-", label=name)
        axis.set_title(f"{title}, {when}", fontsize=10)
        axis.set_xlabel("ReLU (16 convolutions, then 2 FC layers)")
    axes[0][0].set_ylabel("std of the ReLU's output")
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_activation_histograms(values: dict, *, bins: int = 60, limit: float | None = None):
    """``values``: ``{network: {layer: values entering that ReLU}}``, one row of histograms per
    network and one column per layer, all on the same horizontal axis (``limit``: its half-width,
    default 3.5 standard deviations of the widest first layer; values beyond it are left
    out). A signal that fades
    narrows to a spike at 0 as the layers go by; a normalised one keeps its shape. Returns the
    figure."""
    networks = list(values)
    layers = list(values[networks[0]])
    if limit is None:
        limit = 3.5 * max(float(values[network][layers[0]].std()) for network in networks)
    figure, axes = plt.subplots(len(networks), len(layers), figsize=(2.2 * len(layers),
                                                                    1.9 * len(networks)),
                                sharex=True, squeeze=False)
    edges = torch.linspace(-limit, limit, bins + 1)
    for row, network in enumerate(networks):
        for column, layer in enumerate(layers):
            axis, sample = axes[row][column], values[network][layer].float()
            counts = torch.histc(sample, bins, -limit, limit)
            axis.stairs(counts / len(sample), edges, fill=True, color=f"C{row}")
            axis.set_yticks([])
            axis.set_title(f"ReLU {layer}: std {float(sample.std()):.2g}", fontsize=8)
            if column == 0:
                axis.set_ylabel(network, fontsize=8)
            if row == len(networks) - 1:
                axis.set_xlabel("value entering the ReLU", fontsize=8)
    figure.suptitle("Distribution of the values entering each ReLU, layer by layer "
                    "(share of values per bin)", fontsize=10)
    figure.tight_layout()
    return figure
