"""Occlusion sensitivity (Zeiler & Fergus 2013, Section 4.2, Fig. 7).

Is the network using the object, or the context around it? Cover part of the image with a grey
square, slide the square over the image, and map the probability of the true class for each square
position: where it drops, the network was looking.

>>> import torch
>>> from cnnlit.models import get_model
>>> model = get_model("zfnet_small", in_channels=1, image_size=32)
>>> image, label = torch.rand(1, 32, 32), 3
>>> result = occlusion_sensitivity(model, image, label, size=8, stride=2)
>>> tuple(result.probability.shape)                   # one square position every 2 pixels
(16, 16)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .module_tools import evaluating

__all__ = ["OcclusionMap", "occluded", "occlusion_sensitivity"]


@dataclass
class OcclusionMap:
    """Per square position (the square's centre, every ``stride`` pixels): the true class's
    probability (Fig. 7, column d) and the most probable class (column e)."""

    probability: torch.Tensor    # (rows, cols)
    predicted: torch.Tensor      # (rows, cols) class indices
    rows: torch.Tensor           # pixel row of each map row's square centre
    cols: torch.Tensor
    size: int
    unoccluded: float            # the true class's probability on the whole image


def occluded(image: torch.Tensor, centres: list[tuple[int, int]], size: int,
             fill: float) -> torch.Tensor:
    """Copies of ``image`` (C, H, W), one per centre, each with a ``size`` square of ``fill`` there.
    """
    batch = image.unsqueeze(0).repeat(len(centres), 1, 1, 1)
    height, width = image.shape[-2:]
    for index, (row, col) in enumerate(centres):
        top, left = row - size // 2, col - size // 2
        batch[index, :, max(top, 0):min(top + size, height), max(left,
                                                                 0):min(left + size, width)] = fill
    return batch


def occlusion_sensitivity(model: nn.Module, image: torch.Tensor, target: int, *, size: int = 8,
                          stride: int = 2, fill: float = 0.5,
                          batch_size: int = 128) -> OcclusionMap:
    """Slide a ``size`` x ``size`` square of grey ``fill`` (0.5: mid-grey for images in [0, 1]; pass
    the normalised value for normalised inputs) over ``image`` (C, H, W) and record ``model``'s
    softmax probability of class ``target`` and its top class for each position."""
    if image.ndim != 3:
        raise ValueError(f"image must be one (C, H, W) image, got shape {tuple(image.shape)}")
    if not isinstance(size, int) or size < 1 or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"size and stride must be positive integers, got size={size!r}, "
                         f"stride={stride!r}")
    parameter = next(model.parameters(), None)
    if parameter is not None:
        image = image.to(parameter.device)
    height, width = image.shape[-2:]
    rows, cols = torch.arange(0, height, stride), torch.arange(0, width, stride)
    centres = [(int(r), int(c)) for r in rows for c in cols]
    with evaluating(model), torch.no_grad():
        whole = torch.softmax(model(image.unsqueeze(0)), 1)[0]
        if not 0 <= target < whole.numel():
            raise ValueError(
                f"class {target} does not exist: the model has {whole.numel()} classes"
            )
        probabilities, predicted = [], []
        for start in range(0, len(centres), batch_size):
            batch = occluded(image, centres[start:start + batch_size], size, fill)
            scores = torch.softmax(model(batch), 1)
            probabilities.append(scores[:, target].cpu())
            predicted.append(scores.argmax(1).cpu())
    shape = (len(rows), len(cols))
    return OcclusionMap(torch.cat(probabilities).reshape(shape),
                        torch.cat(predicted).reshape(shape),
                        rows, cols, size, float(whole[target]))
