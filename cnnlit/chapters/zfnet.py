"""Chapter 3's figures: unpooling with switches, the signal primer (aliasing of a sinusoid, a
filter's spectrum against the Nyquist limits of stride 2 and 4), and the filter inspector: pick a
network, a layer and a filter and see, as Zeiler & Fergus did, its weights, its feature map on an
image, the deconvnet projection of that map and its top-9 patches.

>>> import torch
>>> figure = plot_unpooling()                       # 4x4 map, 2x2 max-pool, unpool: the numbers
>>> alias_frequency(0.2, stride=4)                  # above 1/8 c/px: shows as 0.05 c/px
0.05
>>> figure = plot_aliasing(0.2, stride=4)
>>> figure = plot_filter_spectrum(torch.randn(1, 11, 11), strides=(4, 2))

>>> from cnnlit.models import get_model
>>> small = dict(in_channels=1, image_size=32)
>>> zf_model = get_model("zfnet_small", **small, first_kernel=7, first_stride=2)
>>> alex_model = get_model("zfnet_small", **small, first_kernel=11, first_stride=4)
>>> models = {"ZF-style": zf_model, "AlexNet-style": alex_model}
>>> inspector = FilterInspector(models, torch.rand(20, 1, 32, 32))
>>> figure = inspector.plot("ZF-style", layer=2, filter=5, image=0)     # the static figure
>>> # the top-k search is the chapter's own (a forward hook, ranking, cropping): pass it as search=
>>> figure = inspector.gallery("ZF-style")        # Fig. 2: top-9 for a few filters per layer
>>> inspector.show_control()                                # the same with controls (ipywidgets)
>>> best = strongest_filters(zf_model, torch.rand(20, 1, 32, 32), "features.1", count=3)
>>> round(likeness(torch.ones(4, 1, 5, 5).cumsum(-1)), 3)     # four identical patches
1.0

The top-k search itself (which images excite a filter most, and their patches) is the chapter's
lesson, written in the notebook and handed in as ``search``; this module only lays out its results.
By default it is :func:`cnnlit.deconvnet.top_activations`.

Out-of-range choices are clamped (an unknown network or layer falls back to the first); never an
error.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import matplotlib.pyplot as plt
import torch
from torch import nn

from .. import viz
from ..deconvnet import feature_maps, project, top_activations, unpool
from ..profiles import DRY_RUN_BATCHES, dry_run
from ..widgets import clamp, control

__all__ = ["FilterInspector", "alias_frequency", "likeness", "plot_aliasing",
           "plot_filter_spectrum", "plot_unpooling", "spectrum", "strongest_filters"]

# --------------------------------------------------------------------------- unpooling (Sec. 2.1)

UNPOOLING_EXAMPLE = torch.tensor([[1., 3., 0., 2.],
                                  [4., 2., 1., 5.],
                                  [0., 1., 6., 2.],
                                  [2., 7., 3., 1.]])


def _numbers(axis, array, highlight=None, title="", window=None):
    """Draw ``array`` (rows, columns) as a grid of cells with their values written in them."""
    array = torch.as_tensor(array, dtype=torch.float32)
    axis.imshow(array.numpy(), cmap="Blues", vmin=0, vmax=max(float(array.max()), 1.0) * 1.6)
    for (row, column), value in zip(torch.cartesian_prod(*map(torch.arange, array.shape)).tolist(),
                                    array.flatten().tolist()):
        bold = highlight is not None and bool(highlight[row, column])
        axis.text(column, row, f"{value:g}", ha="center", va="center", fontsize=12,
                  fontweight="bold" if bold else "normal", color="crimson" if bold else "black")
    if window:                                   # the pooling windows' borders
        for edge in range(window, array.shape[0], window):
            axis.axhline(edge - 0.5, color="black", linewidth=2)
        for edge in range(window, array.shape[1], window):
            axis.axvline(edge - 0.5, color="black", linewidth=2)
    axis.set_xticks(range(array.shape[1]))
    axis.set_yticks(range(array.shape[0]))
    axis.set_xlabel("column")
    axis.set_ylabel("row")
    axis.set_title(title, fontsize=10)


def plot_unpooling(feature_map: Optional[torch.Tensor] = None, window: int = 2):
    """Three panels: a small map with its ``window`` x ``window`` pooling windows and their maxima,
    the max-pooled map with each window's switch (the flat position of its maximum), and the map
    unpooled: each value back at its switch, zeros elsewhere (:func:`cnnlit.deconvnet.unpool`)."""
    shown = UNPOOLING_EXAMPLE if feature_map is None else torch.as_tensor(feature_map).float()
    if shown.ndim != 2 or shown.shape[0] % window or shown.shape[1] % window:
        raise ValueError(f"plot_unpooling needs a 2-D map whose sides divide by {window}, got "
                         f"shape {tuple(shown.shape)}")
    pooled, switches = torch.nn.functional.max_pool2d(shown[None, None], window,
                                                      return_indices=True)
    restored = unpool(pooled, switches, shown.shape)[0, 0]
    kept = restored != 0
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    _numbers(axes[0], shown, kept, f"map: {window}x{window} windows, maxima in red",
             window)
    _numbers(axes[1], pooled[0, 0], None, "max-pooled, with switches (row, col)")
    for (row, column), where in zip(torch.cartesian_prod(*map(torch.arange,
                                                             pooled.shape[-2:])).tolist(),
                                    switches[0, 0].flatten().tolist()):
        axes[1].text(column, row + 0.32, f"switch {divmod(where, shown.shape[1])}",
                     ha="center", va="center", fontsize=7)
    _numbers(axes[2], restored, kept, "unpooled: at the switches, 0 elsewhere",
             window)
    figure.suptitle("Unpooling with switches (the deconvnet's first step)")
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------- the signal primer

def alias_frequency(frequency: float, stride: int) -> float:
    """The frequency (cycles/pixel) a sinusoid of ``frequency`` shows when sampled every ``stride``
    pixels: folded into [0, 1/(2·stride)], the Nyquist band of the grid."""
    rate = 1 / stride                                        # samples per pixel
    folded = abs(frequency - round(frequency / rate) * rate)
    return round(folded, 12)


def plot_aliasing(frequency: float = 0.2, stride: int = 4, length: int = 48):
    """A sinusoid of ``frequency`` cycles/pixel over ``length`` pixels, its samples every ``stride``
    pixels, and the slower sinusoid the samples trace (:func:`alias_frequency`)."""
    x = torch.linspace(0, length, 20 * length + 1)
    grid = torch.arange(0, length + 1, stride, dtype=torch.float32)
    alias = alias_frequency(frequency, stride)
    wave = lambda f, at: torch.cos(2 * math.pi * f * at)                     # noqa: E731
    figure, axis = plt.subplots(figsize=(11, 3.2))
    axis.plot(x, wave(frequency, x), color="tab:blue", linewidth=1,
              label=f"signal: {frequency:g} cycle/pixel")
    axis.plot(x, wave(alias, x), "--", color="tab:red",
              label=f"what the samples show: {alias:g} cycle/pixel")
    axis.plot(grid, wave(frequency, grid), "o", color="black",
              label=f"samples every {stride} pixels")
    axis.set_xlabel("position (pixels)")
    axis.set_ylabel("value")
    axis.set_title(f"Aliasing: stride {stride} resolves up to {1 / (2 * stride):g} cycle/pixel "
                   f"(Nyquist); {frequency:g} folds back to {alias:g}")
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    figure.tight_layout()
    return figure


def spectrum(weight: torch.Tensor, n: int = 64):
    """|FFT| of one filter (C, k, k), zero-padded to n x n, summed in energy over its C input
    channels and centred: (magnitude (n, n), the frequencies along each axis in cycles/pixel)."""
    if weight.ndim != 3:
        raise ValueError(f"spectrum needs one filter (C, k, k), got shape {tuple(weight.shape)}")
    energy = torch.fft.fft2(weight.detach().float().cpu(), s=(n, n)).abs().pow(2).sum(0)
    return torch.fft.fftshift(energy.sqrt()), torch.fft.fftshift(torch.fft.fftfreq(n))


def plot_filter_spectrum(weight: torch.Tensor, strides=(4, 2), title: str = "a filter", n=64):
    """A filter (C, k, k) and its spectrum |FFT| with a circle at each stride's Nyquist frequency
    1/(2·stride): what lies outside a stride's circle aliases when that stride samples the
    output."""
    magnitude, frequencies = spectrum(weight, n)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 4),
                                         gridspec_kw={"width_ratios": [1, 1.3]})
    shown = weight.detach().float().cpu()
    shown = shown if shown.shape[0] == 3 else shown.mean(0)      # RGB, else the channels' mean
    left.imshow(viz.display_array(viz.signed(shown)), cmap="gray")
    left.set_title(f"{title}: weights ({weight.shape[-1]}x{weight.shape[-1]})", fontsize=10)
    left.set_xlabel("column")
    left.set_ylabel("row")
    edge = float(frequencies[0]), float(-frequencies[0])
    image = right.imshow(magnitude.numpy(), cmap="magma", origin="lower",
                         extent=(edge[0], edge[1], edge[0], edge[1]))
    figure.colorbar(image, ax=right, label="|FFT|")
    angle = torch.linspace(0, 2 * math.pi, 200)
    for stride, colour in zip(strides, ("cyan", "lime", "white")):
        radius = 1 / (2 * stride)
        right.plot(radius * torch.cos(angle), radius * torch.sin(angle), color=colour,
                   linewidth=1.5, label=f"stride {stride}: Nyquist {radius:g} c/px")
    right.legend(loc="upper right", fontsize=8)
    right.set_xlabel("horizontal frequency (cycles/pixel)")
    right.set_ylabel("vertical frequency (cycles/pixel)")
    right.set_title(f"{title}: spectrum and Nyquist limits", fontsize=10)
    figure.tight_layout()
    return figure


def rectified_layers(model: nn.Module) -> list[str]:
    """The ReLU right after each convolution: the paper's "layer 1" ... "layer 5" feature maps."""
    names, after_conv = [], False
    for name, module in model.named_modules():
        if list(module.children()) or not name:
            continue
        if isinstance(module, nn.ReLU) and after_conv:
            names.append(name)
        if isinstance(module, (nn.Flatten, nn.Linear, nn.AdaptiveAvgPool2d)):
            break
        after_conv = isinstance(module, nn.Conv2d)
    return names


def strongest_filters(model: nn.Module, images: torch.Tensor, layer: str, count: int = 3,
                      batch_size: int = 256) -> list[int]:
    """The ``count`` channels of ``layer`` with the strongest single activation over ``images``: the
    filters the gallery (the paper's Fig. 2) shows for that layer."""
    strongest = torch.cat([feature_maps(model, images[i:i + batch_size], layer).amax((2, 3))
                           for i in range(0, len(images), batch_size)]).amax(0)
    return strongest.topk(min(count, len(strongest))).indices.tolist()


def likeness(patches: torch.Tensor) -> float:
    """How alike k patches (k, C, r, r) are: the mean correlation over all pairs (each patch minus
    its own mean, scaled to unit length); 1 for identical patterns, about 0 for unrelated ones."""
    if patches.ndim != 4 or len(patches) < 2:
        raise ValueError(f"likeness needs at least two (C, r, r) patches, got shape "
                         f"{tuple(patches.shape)}")
    flat = patches.detach().flatten(1).float()
    flat = flat - flat.mean(1, keepdim=True)
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    pairs = flat @ flat.T
    k = len(flat)
    return float((pairs.sum() - pairs.diagonal().sum()) / (k * (k - 1)))


def _conv_before(model: nn.Module, layer: str) -> nn.Conv2d:
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            last = module
        if name == layer:
            return last
    raise ValueError(f"no convolution before {layer!r}")


def montage(patches: torch.Tensor, signed: bool = False, gap: int = 1) -> torch.Tensor:
    """Tile (k, C, r, r) patches into one (C, H, W) square grid, each patch scaled on its own."""
    k, channels, height, width = patches.shape
    side = math.ceil(math.sqrt(k))
    grid = torch.ones(channels, side * (height + gap) - gap, side * (width + gap) - gap)
    for index, patch in enumerate(patches):
        row, col = divmod(index, side)
        shown = viz.signed(patch) if signed else viz.stretched(patch)
        grid[:, row * (height + gap):row * (height + gap) + height,
             col * (width + gap):col * (width + gap) + width] = shown
    return grid


class FilterInspector:
    """Looks inside one or more trained networks at the filters of their rectified conv layers."""

    def __init__(self, models: dict, images: torch.Tensor, k: int = 9, search=top_activations):
        """``search(model, images, layer, channel, k=k)`` finds the top-k of one filter and returns
        a :class:`cnnlit.deconvnet.TopActivations` (``indices``, ``patches``,
        ``projection_patches`` are what the figures read)."""
        if not models:
            raise ValueError("FilterInspector needs at least one network, e.g. {'ZF-style': model}")
        self.models = dict(models)      # the deconvnet runs each in eval mode, restored after
        if dry_run():       # CNNLIT_DRY_RUN=1: scan as many images as a capped evaluation does
            images = images[:DRY_RUN_BATCHES * 256]
        self.images = images.detach().cpu()
        self.k = k
        self.search = search
        self._cache: dict = {}
        self._strongest_cache: dict = {}

    def layers(self, model: str) -> list[str]:
        return rectified_layers(self.models[model])

    def _choose(self, model, layer, filter, image):
        notes = []
        if model not in self.models:
            notes.append(f"unknown network {model!r}")
            model = next(iter(self.models))
        names = self.layers(model)
        if isinstance(layer, str) and layer in names:
            number = names.index(layer) + 1
        else:
            try:
                number = clamp(int(layer), 1, len(names))
            except (TypeError, ValueError):
                notes.append(f"unknown layer {layer!r}")
                number = 1
        conv = _conv_before(self.models[model], names[number - 1])
        filter = clamp(int(filter), 0, conv.out_channels - 1)
        image = clamp(int(image), 0, len(self.images) - 1)
        return model, number, names[number - 1], conv, filter, image, notes

    def _strongest(self, model: str, layer: str, filters: int) -> list[int]:
        """:func:`strongest_filters` of one layer, searched once for the gallery and its numbers."""
        key = (model, layer, filters)
        if key not in self._strongest_cache:
            self._strongest_cache[key] = strongest_filters(self.models[model], self.images, layer,
                                                           filters)
        return self._strongest_cache[key]

    def _top(self, model: str, layer: str, filter: int):
        key = (model, layer, filter)
        if key not in self._cache:
            self._cache[key] = self.search(self.models[model], self.images, layer, filter, k=self.k)
        return self._cache[key]

    def plot(self, model: Optional[str] = None, layer: Union[int, str] = 1, filter: int = 0,
             image: int = 0):
        """One filter: weights | image | feature map | projection, then its top-k projections and
        patches.
        """
        model, number, name, conv, filter, image, notes = self._choose(
            model if model is not None else next(iter(self.models)), layer, filter, image)
        network = self.models[model]
        picture = self.images[image]
        maps = feature_maps(network, picture.unsqueeze(0), name)[0, filter].cpu()
        projection = project(network, picture, name, filter, position=None).cpu()
        best = self._top(model, name, filter)

        figure, axes = plt.subplots(1, 6, figsize=(15, 2.9))
        weight = conv.weight[filter].detach().cpu()                       # (in, k, k)
        if weight.shape[0] == 3:
            shown = viz.display_array(viz.signed(weight))
        else:
            shown = viz.display_array(montage(weight[:16].unsqueeze(1), signed=True))
        panels = [
            (shown, f"weights ({weight.shape[0]} in)" if weight.shape[0] != 3 else "weights (RGB)"),
            (viz.display_array(picture), f"image {image}"),
            (maps.numpy(), f"feature map {tuple(maps.shape)}"),
            (viz.display_array(viz.signed(projection)), "deconvnet projection"),
            (viz.display_array(montage(best.projection_patches, signed=True)),
             f"top-{len(best.indices)} projections"),
            (viz.display_array(montage(best.patches)), f"top-{len(best.indices)} patches"),
        ]
        for axis, (array, title) in zip(axes, panels):
            axis.imshow(array, cmap="viridis" if title.startswith("feature") else "gray")
            axis.set_title(title, fontsize=9)
            axis.axis("off")
        heading = f"{model}: layer {number} ({name}), filter {filter}"
        figure.suptitle(heading + (f"   [{'; '.join(notes)}: showing the first]" if notes else ""),
                        fontsize=10)
        figure.tight_layout()
        return figure

    def gallery(self, model: Optional[str] = None, filters: int = 3, k: Optional[int] = None):
        """Like the paper's Fig. 2: for each layer, the ``filters`` filters with the strongest
        activations, each as a grid of its top-k deconvnet projections next to the matching image
        patches."""
        model = model if model in self.models else next(iter(self.models))
        network, names = self.models[model], self.layers(model)
        k = k or self.k
        figure, axes = plt.subplots(len(names), 2 * filters,
                                    figsize=(2.0 * 2 * filters, 2.1 * len(names)),
                                    squeeze=False)
        for row, name in enumerate(names):
            for column, channel in enumerate(self._strongest(model, name, filters)):
                best = self._top(model, name, channel) if k == self.k else \
                    self.search(network, self.images, name, channel, k=k)
                projections = montage(best.projection_patches, signed=True)
                axes[row, 2 * column].imshow(viz.display_array(projections), cmap="gray")
                axes[row, 2 * column + 1].imshow(viz.display_array(montage(best.patches)),
                                                 cmap="gray")
                axes[row, 2 * column].set_title(f"filter {channel}: projections", fontsize=8)
                axes[row, 2 * column + 1].set_title("patches", fontsize=8)
            axes[row, 0].set_ylabel(f"layer {row + 1}")
            for axis in axes[row]:
                axis.set_xticks([])
                axis.set_yticks([])
        figure.suptitle(f"{model}: top-{k} deconvnet projections and image patches, strongest "
                        f"filters per layer")
        figure.tight_layout()
        return figure

    def gallery_numbers(self, model: Optional[str] = None, filters: int = 3):
        """The gallery's squares in numbers, one row per (layer, filter): the patch side (the
        receptive field, clipped to nothing: it may exceed the image) and how alike the nine
        projections and the nine patches are (:func:`likeness`). Reuses what :meth:`gallery`
        computed."""
        import pandas as pd

        model = model if model in self.models else next(iter(self.models))
        rows = []
        for number, name in enumerate(self.layers(model), 1):
            for channel in self._strongest(model, name, filters):
                best = self._top(model, name, channel)
                rows.append({"layer": number, "filter": channel,
                             "patch side": best.patches.shape[-1],
                             "projections alike": likeness(best.projection_patches),
                             "patches alike": likeness(best.patches)})
        return pd.DataFrame(rows)

    def show_control(self) -> None:
        """Show the inspector with controls (network, layer, filter, image), once
        (:func:`cnnlit.widgets.control`)."""
        deepest = max(len(self.layers(name)) for name in self.models)
        widest = max(m.out_channels for net in self.models.values() for m in net.modules()
                     if isinstance(m, nn.Conv2d))
        control(self.plot, model=list(self.models), layer=(1, deepest), filter=(0, widest - 1),
                image=(0, len(self.images) - 1))
