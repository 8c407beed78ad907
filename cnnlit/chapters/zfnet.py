"""Chapter 3's filter inspector: pick a network, a layer and a filter and see, as Zeiler & Fergus
did, its weights, its feature map on an image, the deconvnet projection of that map and its top-9
patches.

>>> import torch
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
from ..deconvnet import feature_maps, project, top_activations
from ..profiles import DRY_RUN_BATCHES, dry_run
from ..widgets import clamp, control

__all__ = ["FilterInspector", "likeness", "strongest_filters"]


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
            for column, channel in enumerate(strongest_filters(network, self.images, name,
                                                               filters)):
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
        network, rows = self.models[model], []
        for number, name in enumerate(self.layers(model), 1):
            for channel in strongest_filters(network, self.images, name, filters):
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
