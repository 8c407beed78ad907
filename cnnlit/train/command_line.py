"""``python -m cnnlit.train``: train any registered network on an image folder, at the papers'
scale.

    python -m cnnlit.train --model alexnet --data /data/imagenet --recipe alexnet \\
        --checkpoint alexnet.pt
    torchrun --nproc_per_node 8 -m cnnlit.train --model resnet50 --model-arg variant=torchvision \\
        --data /data/imagenet --recipe resnet --checkpoint resnet50.pt --resume

``--data`` holds ``train/`` and ``val/``, each with one folder of images per class (the ImageNet
layout that torchvision's ``ImageFolder`` reads). ``--recipe`` presets the paper's optimiser,
schedule and augmentation (see :mod:`cnnlit.train.recipes`); flags override its numbers.
``--batch-size`` is the global batch, as in the papers: under ``torchrun`` each of the N processes
takes 1/N of it.

Under ``torchrun`` the model is wrapped in DistributedDataParallel (nccl on CUDA, gloo on the CPU)
and each process reads its share through a DistributedSampler; otherwise one process trains alone.
Rank 0 prints one line per epoch and writes the checkpoint (atomically) after every epoch;
``--resume`` continues from it: weights, optimizer, schedule, epoch count and history.

Training is :func:`cnnlit.train.fit`, the loop the notebooks run, with the recipe's optimiser and
schedule and a callback (:class:`EpochLines`) for what the command line adds: a model's own
``training_loss`` (GoogLeNet's auxiliary classifiers) is used where it has one, a loss that stops
being finite ends the run with :class:`~cnnlit.train.loop.TrainingDiverged` (exit status 1), and
``CNNLIT_DRY_RUN=1`` runs one epoch of one batch.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..checkpoints import CheckpointMismatchError
from ..runtime import seed_everything
from .callbacks import Callback, FitState
from .loop import TrainingDiverged, fit
from .recipes import (
    RECIPES,
    UnknownRecipeError,
    eval_transform,
    get_recipe,
    make_optimizer,
    make_scheduler,
    train_transform,
)

__all__ = ["CommandLineError", "EpochLines", "IMAGE_SUFFIXES", "Processes", "build_model",
           "check_data_folder", "image_folders", "main", "parse_args", "parse_model_args",
           "start_processes"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class CommandLineError(ValueError):
    """Something on the command line cannot work; the message says what and how to fix it."""


# --------------------------------------------------------------------------- command line

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlit.train",
        description="Train a cnnlit network on an image folder (ImageNet layout) with a paper's "
                    "recipe, on one device or many through torchrun.")
    parser.add_argument("--model", required=True,
                        help="a registered model name (cnnlit.models.available_models()) or "
                             "module:callable")
    parser.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for the model builder (repeatable), e.g. depth=50")
    parser.add_argument("--data", required=True, help="folder with train/ and val/ folders of "
                                                      "class folders")
    parser.add_argument("--recipe", default="alexnet",
                        help=f"one of: {', '.join(RECIPES)} (default alexnet)")
    parser.add_argument("--epochs", type=int, help="total epochs (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, help="global batch size (default: the recipe's)")
    parser.add_argument("--lr", type=float, help="initial learning rate (default: the recipe's)")
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--patience", type=int, help="epochs without val-loss progress before lr / "
                                                     "10")
    parser.add_argument("--image-size", type=int, help="crop size in pixels (default: the "
                                                       "recipe's, 224)")
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3),
                        help="3 for RGB (default), 1 for grey")
    parser.add_argument("--workers", type=int, default=4,
                        help="DataLoader workers per process (default 4)")
    parser.add_argument("--checkpoint", help="file written atomically after every epoch")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-amp", action="store_true",
                        help="no mixed precision (float16 on CUDA, bfloat16 on CPUs with bfloat16 "
                             "instructions)")
    parser.add_argument("--no-channels-last", action="store_true",
                        help="keep the NCHW memory layout")
    return parser.parse_args(argv)


def parse_model_args(pairs) -> dict:
    """``["depth=50", "variant=paper"]`` -> ``{"depth": 50, "variant": "paper"}`` (Python literals,
    else text).
    """
    result = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise CommandLineError(f"--model-arg takes KEY=VALUE (e.g. depth=50), got {pair!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        result[key.strip()] = value
    return result


# --------------------------------------------------------------------------- model

def _builder(spec: str):
    """The function ``--model`` names: ``module:callable``, or a registered model (an unknown name
    raises ValueError listing the registered ones)."""
    if ":" in spec:                      # module:callable, e.g. mypackage.nets:small_cnn
        module_name, _, attribute = spec.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise CommandLineError(f"--model {spec!r}: cannot import {attribute!r} from "
                                   f"{module_name!r} ({error})")
    from ..models import get_builder
    return get_builder(spec)


def build_model(spec: str, kwargs: dict, num_classes: int) -> nn.Module:
    """Build ``spec`` with ``kwargs``; ``num_classes`` is passed too when the builder takes it."""
    builder = _builder(spec)
    kwargs = dict(kwargs)
    if "num_classes" not in kwargs:
        try:
            if "num_classes" in inspect.signature(builder).parameters:
                kwargs["num_classes"] = num_classes
        except (TypeError, ValueError):
            pass
    try:
        model = builder(**kwargs)
    except TypeError as error:
        raise CommandLineError(f"model {spec!r} does not take these arguments {kwargs}: {error}")
    if not isinstance(model, nn.Module):
        raise CommandLineError(f"--model {spec!r} built a {type(model).__name__}, not a "
                               f"torch.nn.Module")
    return model


# --------------------------------------------------------------------------- data

def check_data_folder(root) -> tuple[Path, Path]:
    """``root/train`` and ``root/val``, each holding class folders with images, or a clear error."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CommandLineError(f"--data {root}: no such folder. It must hold train/ and val/, each "
                               f"with "
                               "one folder of images per class (the ImageNet layout).")
    folders = [root / "train", root / "val"]
    for folder in folders:
        if not folder.is_dir():
            raise CommandLineError(f"--data {root}: there is no {folder.name}/ folder. It must "
                                   f"hold train/ and "
                                   "val/, each with one folder of images per class (the ImageNet "
                                   "layout).")
    for folder in folders:
        classes = sorted(p for p in folder.iterdir() if p.is_dir())
        if not classes:
            raise CommandLineError(f"{folder} has no class folders: put each class's images in its "
                                   f"own "
                                   f"subfolder, e.g. {folder}/cat/001.jpg, {folder}/dog/001.jpg.")
        empty = [
            p.name
            for p in classes
            if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.rglob("*") if f.is_file())
        ]
        if empty:
            raise CommandLineError(f"{folder}: class folder(s) without images: "
                                   f"{', '.join(empty[:5])}")
    return folders[0], folders[1]


def image_folders(root, recipe, image_size: int, channels: int):
    from torchvision.datasets import ImageFolder
    train_dir, val_dir = check_data_folder(root)
    train = ImageFolder(str(train_dir), transform=train_transform(recipe, image_size, channels))
    val = ImageFolder(str(val_dir), transform=eval_transform(recipe, image_size, channels))
    if train.classes != val.classes:
        raise CommandLineError(f"train/ and val/ have different class folders: {train.classes} vs "
                               f"{val.classes}")
    return train, val


# --------------------------------------------------------------------------- processes

@dataclass(frozen=True)
class Processes:
    """Where this process stands: rank among ``world`` processes, and the device it trains on."""

    rank: int
    world: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def start_processes() -> Processes:
    """Join torchrun's process group (env:// from RANK, WORLD_SIZE, MASTER_ADDR...) or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world <= 1:
        return Processes(0, 1, device)
    import torch.distributed as dist
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", init_method="env://")
    return Processes(dist.get_rank(), dist.get_world_size(), device)


# --------------------------------------------------------------------------- main

def _loaders(train, val, batch: int, workers: int, processes: Processes, seed: int):
    from torch.utils.data import DataLoader, Subset
    from torch.utils.data.distributed import DistributedSampler
    sampler = (DistributedSampler(train, num_replicas=processes.world, rank=processes.rank,
                                  shuffle=True,
                                  seed=seed) if processes.distributed else None)
    # Each process validates every world-th image: the whole set once, no padding duplicates.
    val_part = Subset(val, range(processes.rank, len(val),
                                 processes.world)) if processes.distributed else val
    options = dict(num_workers=workers, pin_memory=processes.device.type == "cuda",
                   persistent_workers=workers > 0)
    train_loader = DataLoader(train, batch_size=batch, shuffle=sampler is None, sampler=sampler,
                              drop_last=False,
                              **options)     # fit gives a DistributedSampler each epoch's number
    val_loader = DataLoader(val_part, batch_size=batch, shuffle=False, **options)
    return train_loader, val_loader


def _setup(args, processes: Processes):
    recipe = get_recipe(args.recipe).replace(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, patience=args.patience, image_size=args.image_size)
    if recipe.epochs < 1 or recipe.batch_size < 1 or recipe.image_size < 1:
        raise CommandLineError("--epochs, --batch-size and --image-size must be positive")
    if recipe.batch_size < processes.world:
        raise CommandLineError(f"--batch-size {recipe.batch_size} is the global batch: it must be "
                               f"at least the number of processes ({processes.world})")
    if args.resume and not args.checkpoint:
        raise CommandLineError("--resume needs --checkpoint PATH (the file to continue from)")
    if args.resume and not Path(args.checkpoint).exists():
        raise CommandLineError(f"--resume: there is no checkpoint at {args.checkpoint} yet; "
                               "drop --resume to start from scratch")
    train, val = image_folders(args.data, recipe, recipe.image_size, args.channels)
    model = build_model(args.model, parse_model_args(args.model_arg), len(train.classes))
    return recipe, train, val, model


def main(argv=None) -> int:
    args = parse_args(argv)
    processes = start_processes()
    try:
        return _run(args, processes)
    except (CommandLineError, UnknownRecipeError, CheckpointMismatchError) as error:
        print(f"cnnlit.train: error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"cnnlit.train: training diverged: {error}", file=sys.stderr)
        return 1
    finally:
        if processes.distributed:
            import torch.distributed as dist
            dist.destroy_process_group()


class EpochLines(Callback):
    """The command line's part of :func:`~cnnlit.train.fit`: refuses a checkpoint trained on other
    classes, names the run, prints one line per epoch (rank 0) and puts the run's description into
    every checkpoint."""

    def __init__(self, args, recipe, classes, train_size: int, val_size: int, processes: Processes):
        self.args, self.recipe, self.processes = args, recipe, processes
        self.classes = list(classes)
        self.sizes = (train_size, val_size)

    def on_fit_start(self, state: FitState) -> None:
        args, recipe = self.args, self.recipe
        saved = (state.resumed or {}).get("extra", {})
        if saved.get("classes") not in (None, self.classes):
            raise CommandLineError(f"{args.checkpoint} was trained on classes {saved['classes']}, "
                                   f"but {args.data} has {self.classes}")
        state.extra.update(classes=self.classes, recipe=asdict(recipe), model=args.model,
                           world_size=self.processes.world)
        if not self.processes.main:
            return
        lr = state.optimizer.param_groups[0]["lr"]
        print(f"cnnlit.train: {args.model} on {args.data} ({self.sizes[0]:,} train / "
              f"{self.sizes[1]:,} val images, {len(self.classes)} classes), recipe {recipe.name} "
              f"({recipe.paper}): batch {recipe.batch_size}, lr {lr:g}, "
              f"momentum {recipe.momentum}, weight decay {recipe.weight_decay:g}, "
              f"{recipe.schedule} schedule; {self.processes.world} process(es) on "
              f"{self.processes.device.type}, {state.plan}", flush=True)
        if state.epoch >= recipe.epochs:
            print(f"cnnlit.train: {args.checkpoint} already holds {state.epoch} epoch(s); "
                  f"ask for more with --epochs", flush=True)

    def on_epoch_end(self, state: FitState) -> None:
        h = state.history
        if self.processes.main:
            print(f"epoch {state.epoch}/{self.recipe.epochs}  train_loss {h.loss[-1]:.4f}  "
                  f"val_loss {h.val_loss[-1]:.4f}  val_acc {h.val_accuracy[-1]:.4f}  "
                  f"lr {h.lr[-1]:.4g}  {h.seconds[-1]:.1f} s", flush=True)


def _run(args, processes: Processes) -> int:
    seed_everything(args.seed)
    try:
        recipe, train, val, model = _setup(args, processes)
    # e.g. an unknown model name: the registry lists the valid ones
    except ValueError as error:
        raise CommandLineError(str(error)) from error
    optimizer = make_optimizer(recipe, model.parameters())
    scheduler = make_scheduler(recipe, optimizer)     # plateau: fit steps it with the val loss
    per_process = recipe.batch_size // processes.world
    train_loader, val_loader = _loaders(train, val, per_process, args.workers, processes, args.seed)
    lines = EpochLines(args, recipe, train.classes, len(train), len(val), processes)
    # cross-entropy; a network with its own training_loss (GoogLeNet: + 0.3 x each auxiliary
    # loss) uses that
    fit(model, train_loader, recipe.epochs, optimizer=optimizer, scheduler=scheduler,
        loss_fn=nn.CrossEntropyLoss(), batch_size=per_process, val_data=val_loader,
        device=processes.device, amp=False if args.no_amp else None,
        channels_last=False if args.no_channels_last else None, checkpoint=args.checkpoint,
        resume=args.checkpoint if args.resume else None, callbacks=[lines],
        distributed=processes.distributed, val_plan=True, progress=False)
    return 0
