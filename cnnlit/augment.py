"""Data augmentation, in one module: AlexNet's (Krizhevsky et al. 2012, section 4.1) on single
images or batches, VGG's and ResNet's scale jittering (:class:`RandomShorterSide`) and ResNet's
CIFAR-10 shifts and flips on a whole batch on its device (:func:`pad_crop_flip`).

1. Translations and reflections: images are rescaled so the shorter side is 256 and the central 256
   x 256 patch is kept (section 2); training uses random 224 x 224 patches of it and their
   horizontal reflections (a factor of 2048 more training examples).
2. PCA colour augmentation: with p_i, lambda_i the eigenvectors and eigenvalues of the 3 x 3
   covariance of RGB pixel values over the training set, every training image gets the same colour
   shift added to all of its pixels, [p1 p2 p3] [a1 lambda1, a2 lambda2, a3 lambda3]^T, with a_i ~
   N(0, 0.1) drawn once per image (per presentation). Pixel values here are in [0, 1]. The paper's
   network read "centered raw RGB values" (section 2), 0-255, but section 4.1 does not say on which
   scale it took the eigenvalues.

Images are tensors (3, H, W) or batches (N, 3, H, W) of floats in [0, 1]. Randomness comes from an
optional ``torch.Generator`` so a figure can be redrawn identically.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

__all__ = ["PHOTOS", "RandomShorterSide", "horizontal_flip", "pad_crop_flip", "pca_colour",
           "pca_colour_basis", "pca_colour_shift", "random_crop", "random_crop_flip",
           "rescale_and_center_crop", "sample_photo"]

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")     # bundled with scikit-image: no download


def sample_photo(name: str = "chelsea") -> torch.Tensor:
    """A photo shipped with scikit-image as a (3, H, W) float tensor in [0, 1]."""
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; bundled photos: {', '.join(PHOTOS)}")
    import skimage.data

    array = getattr(skimage.data, name)()
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(255)


def _check(image: torch.Tensor) -> None:
    if image.ndim not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"expected an RGB image (3, H, W) or batch (N, 3, H, W), got "
                         f"{tuple(image.shape)}")


def rescale_and_center_crop(image: torch.Tensor, size: int = 256) -> torch.Tensor:
    """The paper's preprocessing (section 2): shorter side rescaled to ``size``, then the central
    patch.
    """
    _check(image)
    batch = image if image.ndim == 4 else image[None]
    height, width = batch.shape[-2:]
    scale = size / min(height, width)
    new = (max(size, round(height * scale)), max(size, round(width * scale)))
    batch = torch.nn.functional.interpolate(batch, size=new, mode="bilinear", antialias=True,
                                            align_corners=False)
    top, left = (new[0] - size) // 2, (new[1] - size) // 2
    batch = batch[..., top:top + size, left:left + size].clamp(0, 1)
    return batch if image.ndim == 4 else batch[0]


def random_crop(image: torch.Tensor, size: int = 224, generator: Optional[torch.Generator] = None):
    """A random ``size`` x ``size`` patch (one position per call, shared by a batch)."""
    _check(image)
    height, width = image.shape[-2:]
    if size > min(height, width):
        raise ValueError(f"crop size {size} is larger than the image ({height} x {width})")
    top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
    return image[..., top:top + size, left:left + size]


def horizontal_flip(image: torch.Tensor) -> torch.Tensor:
    """The image's mirror image (a horizontal reflection)."""
    return image.flip(-1)


def random_crop_flip(image: torch.Tensor, size: int = 224,
                     generator: Optional[torch.Generator] = None):
    """Section 4.1's first form: a random patch, reflected with probability 1/2."""
    patch = random_crop(image, size, generator)
    if float(torch.rand((), generator=generator)) < 0.5:
        patch = horizontal_flip(patch)
    return patch


def pca_colour_basis(images: Sequence[torch.Tensor] | torch.Tensor):
    """Eigenvalues (3,), largest first, and eigenvectors (3, 3), one per column, of the covariance
    of RGB pixel values over all pixels of ``images`` (the paper uses the whole ImageNet training
    set)."""
    if torch.is_tensor(images):
        images = [images] if images.ndim == 3 else list(images)
    for image in images:
        _check(image)
    pixels = torch.cat([image.reshape(3, -1) for image in images], dim=1).double()   # (3, pixels)
    covariance = torch.cov(pixels)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)          # ascending order
    return eigenvalues.flip(0).float(), eigenvectors.flip(1).float()


def pca_colour_shift(eigenvalues: torch.Tensor, eigenvectors: torch.Tensor, count: int = 1,
                     std: float = 0.1,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``count`` RGB shifts [p1 p2 p3] [a1 l1, a2 l2, a3 l3]^T with a_i ~ N(0, std), shape (count,
    3).
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    alphas = torch.randn(count, 3, generator=generator) * std
    return (alphas * eigenvalues) @ eigenvectors.T


def pca_colour(image: torch.Tensor, eigenvalues: torch.Tensor, eigenvectors: torch.Tensor,
               std: float = 0.1,
               generator: Optional[torch.Generator] = None, clamp: bool = True) -> torch.Tensor:
    """Add one PCA colour shift per image to every pixel (section 4.1's second form)."""
    _check(image)
    batch = image if image.ndim == 4 else image[None]
    shift = pca_colour_shift(eigenvalues, eigenvectors, len(batch), std, generator).to(batch)
    out = batch + shift[:, :, None, None]
    out = out.clamp(0, 1) if clamp else out
    return out if image.ndim == 4 else out[0]


# --------------------------------------------------------------------------- VGG, ResNet

class RandomShorterSide(torch.nn.Module):
    """The shorter side resized to a random length in [low, high]: VGG's and ResNet's scale
    jittering."""

    def __init__(self, low: int, high: int):
        super().__init__()
        self.low, self.high = int(low), int(high)

    def forward(self, image):
        from torchvision.transforms import functional
        side = int(torch.randint(self.low, self.high + 1, ()).item())
        return functional.resize(image, side)


def pad_crop_flip(padding: int = 4, flip: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """Augmentation for a whole batch at once, on the batch's device: each image zero-padded by
    ``padding`` pixels on every side, a random crop of its own size taken back out (a random shift),
    and a horizontal flip with probability 1/2: the ResNet paper's CIFAR-10 recipe (He et al. 2016,
    Section 4.2).
    Give it to :func:`cnnlit.train.fit` as ``augment=pad_crop_flip(4)``."""
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")

    def augment(batch: torch.Tensor) -> torch.Tensor:
        n, _, height, width = batch.shape
        if padding:
            padded = torch.nn.functional.pad(batch, (padding,) * 4)
            dy = torch.randint(0, 2 * padding + 1, (n,), device=batch.device)
            dx = torch.randint(0, 2 * padding + 1, (n,), device=batch.device)
            rows = (dy[:, None] + torch.arange(height, device=batch.device)[None])    # (n, H)
            cols = (dx[:, None] + torch.arange(width, device=batch.device)[None])     # (n, W)
            batch = padded[torch.arange(n, device=batch.device)[:, None, None, None],
                           torch.arange(batch.shape[1], device=batch.device)[None, :, None, None],
                           rows[:, None, :, None], cols[:, None, None, :]]
        if flip:
            flipped = torch.rand(n, device=batch.device) < 0.5
            batch = torch.where(flipped[:, None, None, None], batch.flip(-1), batch)
        return batch

    return augment
