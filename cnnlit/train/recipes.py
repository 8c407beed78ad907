"""The papers' training recipes as presets for ``python -m cnnlit.train --recipe NAME``
(:mod:`cnnlit.train.command_line`).

A recipe is the optimiser, its numbers, the learning-rate schedule and the data augmentation a paper
trained its ImageNet (or CIFAR-10) network with. Command-line flags override any number.
Crop sizes are the papers' (224 pixels, from images whose shorter side is 256...); ``--image-size``
scales every length by ``image_size / 224`` so the same recipe runs on small images.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import torch

from ..augment import RandomShorterSide
from ..imagenet import IMAGENET_MEAN, IMAGENET_STD  # per-channel (a departure: see cnnlit.imagenet)

__all__ = ["RECIPES", "Recipe", "UnknownRecipeError", "eval_transform", "get_recipe",
           "make_optimizer", "make_scheduler", "train_transform"]


class UnknownRecipeError(ValueError):
    """A recipe name cnnlit does not know; the message lists the ones it does."""


@dataclass(frozen=True)
class Recipe:
    """One paper's training recipe. ``schedule`` is ``plateau`` (divide the rate by ``1/lr_factor``
    when the validation loss stops improving), ``step`` (multiply by ``lr_factor`` every
    ``step_epochs``) or ``multistep`` (multiply by ``lr_factor`` at each of ``milestones``)."""

    name: str
    paper: str
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    epochs: int
    schedule: str = "plateau"
    lr_factor: float = 0.1
    patience: int = 3
    step_epochs: int = 0
    milestones: tuple = ()
    augmentation: str = "crop"          # crop | scale | area | pad (see train_transform)
    image_size: int = 224
    # shorter side before the central / random crop, at image_size 224
    resize: int = 256
    # random shorter side for "scale" augmentation, at image_size 224
    scale_range: tuple = ()

    def replace(self, **changes) -> "Recipe":
        """This recipe with some numbers overridden (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


RECIPES = {
    # Krizhevsky et al. 2012, §5 "Details of learning": SGD, batch 128, momentum 0.9, weight decay
    # 0.0005, learning rate 0.01 "divided by 10 when the validation error rate stopped improving",
    # roughly 90 cycles through the training set. §2 / §4.1: shorter side rescaled to 256, central
    # 256x256, random 224x224 patches and their horizontal reflections. (PCA colour noise, §4.1, is
    # left out.)
    "alexnet": Recipe("alexnet", "krizhevsky2012imagenet", batch_size=128, lr=0.01, momentum=0.9,
                      weight_decay=5e-4, epochs=90, augmentation="crop"),
    # Simonyan & Zisserman 2015, §3.1: batch 256, momentum 0.9, weight decay 5e-4, learning rate
    # 0.01 "decreased by a factor of 10 when the validation set accuracy stopped improving", 74
    # epochs; scale jittering: shorter side S drawn from [256, 512], random 224x224 crops, flips.
    "vgg": Recipe("vgg", "simonyan2015very", batch_size=256, lr=0.01, momentum=0.9,
                  weight_decay=5e-4,
                  epochs=74, augmentation="scale", scale_range=(256, 512)),
    # Szegedy et al. 2015, §6: asynchronous SGD, momentum 0.9, "fixed learning rate schedule
    # (decreasing the learning rate by 4% every 8 epochs)"; patches of 8%-100% of the image area
    # with aspect ratio in [3/4, 4/3]. The paper gives no batch size, base rate, weight decay or
    # epoch count: the values below (batch 128, lr 0.01, weight decay 2e-4, 90 epochs) are ours.
    "googlenet": Recipe("googlenet", "szegedy2015going", batch_size=128, lr=0.01, momentum=0.9,
                        weight_decay=2e-4, epochs=90, schedule="step", lr_factor=0.96,
                        step_epochs=8,
                        augmentation="area"),
    # He et al. 2016, §3.4 (ImageNet): batch 256, learning rate 0.1 "divided by 10 when the error
    # plateaus", weight decay 0.0001, momentum 0.9, up to 60e4 iterations (about 120 epochs);
    # shorter side sampled in [256, 480], random 224x224 crops and flips.
    "resnet": Recipe("resnet", "he2016deep", batch_size=256, lr=0.1, momentum=0.9,
                     weight_decay=1e-4,
                     epochs=120, augmentation="scale", scale_range=(256, 480)),
    # He et al. 2016, §4.2 (CIFAR-10): batch 128, learning rate 0.1 divided by 10 at 32k and 48k
    # iterations, stopped at 64k, weight decay 0.0001, momentum 0.9; 4 pixels padded on each side,
    # random 32x32 crops and flips. On 45k training images, 32k/48k/64k iterations ~ epochs
    # 91/137/182.
    "resnet-cifar": Recipe("resnet-cifar", "he2016deep", batch_size=128, lr=0.1, momentum=0.9,
                           weight_decay=1e-4, epochs=182, schedule="multistep",
                           milestones=(91, 137),
                           augmentation="pad", image_size=32, resize=32),
}


def get_recipe(name: str) -> Recipe:
    key = str(name).lower().replace("_", "-")
    if key not in RECIPES:
        raise UnknownRecipeError(f"unknown recipe {name!r}; cnnlit knows: {', '.join(RECIPES)}")
    return RECIPES[key]


# --------------------------------------------------------------------------- optimiser and schedule

def make_optimizer(recipe: Recipe, parameters) -> torch.optim.Optimizer:
    """SGD with the recipe's momentum and weight decay (all five papers use SGD with momentum 0.9).
    """
    return torch.optim.SGD(parameters, lr=recipe.lr, momentum=recipe.momentum,
                           weight_decay=recipe.weight_decay)


def make_scheduler(recipe: Recipe, optimizer: torch.optim.Optimizer):
    """The recipe's schedule; a ``plateau`` scheduler must be stepped with the validation loss."""
    if recipe.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min",
                                                          factor=recipe.lr_factor,
                                                          patience=recipe.patience)
    if recipe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=recipe.step_epochs,
                                               gamma=recipe.lr_factor)
    if recipe.schedule == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(recipe.milestones),
                                                    gamma=recipe.lr_factor)
    raise ValueError(f"unknown schedule {recipe.schedule!r} in recipe {recipe.name!r}")


# --------------------------------------------------------------------------- data augmentation

def _scaled(length: int, image_size: int) -> int:
    return max(1, round(length * image_size / 224))


def train_transform(recipe: Recipe, image_size: Optional[int] = None, channels: int = 3):
    """The paper's training augmentation, lengths scaled to ``image_size``, ending in a normalised
    tensor.
    """
    from torchvision import transforms

    size = image_size or recipe.image_size
    if recipe.augmentation == "crop":
        side = _scaled(recipe.resize, size)
        steps = [transforms.Resize(side), transforms.CenterCrop(side), transforms.RandomCrop(size)]
    elif recipe.augmentation == "scale":
        low, high = (_scaled(s, size) for s in recipe.scale_range)
        steps = [RandomShorterSide(low, high), transforms.RandomCrop(size)]
    elif recipe.augmentation == "area":
        steps = [transforms.RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))]
    elif recipe.augmentation == "pad":
        steps = [transforms.Resize(size), transforms.CenterCrop(size),
                 transforms.RandomCrop(size, padding=max(1, round(4 * size / 32)))]
    else:
        raise ValueError(f"unknown augmentation {recipe.augmentation!r} in recipe {recipe.name!r}")
    steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose(_colour(channels) + steps + _to_tensor(channels))


def eval_transform(recipe: Recipe, image_size: Optional[int] = None, channels: int = 3):
    """Validation images: shorter side rescaled, the central crop. The papers average 10 crops
    (AlexNet §4.1) or dense multi-scale views (VGG §3.2, ResNet §3.4); one central crop is
    simpler."""
    from torchvision import transforms

    size = image_size or recipe.image_size
    side = size if recipe.augmentation == "pad" else _scaled(recipe.resize, size)
    return transforms.Compose(_colour(channels) + [transforms.Resize(side),
                                                   transforms.CenterCrop(size)]
                              + _to_tensor(channels))


def _colour(channels: int) -> list:
    from torchvision import transforms
    if channels == 1:
        return [transforms.Grayscale(1)]
    if channels == 3:
        return []                       # ImageFolder's loader already gives RGB images
    raise ValueError(f"image folders give 1 (grey) or 3 (RGB) channels, not {channels}")


def _to_tensor(channels: int) -> list:
    from torchvision import transforms
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.449,), (0.226,))
    return [transforms.ToTensor(), transforms.Normalize(mean, std)]
