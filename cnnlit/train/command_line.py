"""``python -m cnnlit.train``: train any registered network on an image folder, at the papers' scale.

    python -m cnnlit.train --model alexnet --data /data/imagenet --recipe alexnet --checkpoint alexnet.pt
    torchrun --nproc_per_node 8 -m cnnlit.train --model resnet50 --model-arg variant=torchvision \\
        --data /data/imagenet --recipe resnet --checkpoint resnet50.pt --resume

``--data`` holds ``train/`` and ``val/``, each with one folder of images per class (the ImageNet layout
that torchvision's ``ImageFolder`` reads). ``--recipe`` presets the paper's optimiser, schedule and
augmentation (see :mod:`cnnlit.train.recipes`); flags override its numbers. ``--batch-size`` is the global
batch, as in the papers: under ``torchrun`` each of the N processes takes 1/N of it.

Under ``torchrun`` the model is wrapped in DistributedDataParallel (nccl on CUDA, gloo on the CPU) and
each process reads its share through a DistributedSampler; otherwise one process trains alone.
Rank 0 prints one line per epoch and writes the checkpoint (atomically) after every epoch; ``--resume``
continues from it: weights, optimizer, schedule, epoch count and history.

Each epoch is :func:`cnnlit.train.loop.train_epoch`, the loop :func:`cnnlit.train.fit` runs in the notebooks:
a model's own ``training_loss`` (GoogLeNet's auxiliary classifiers) is used where it has one, a loss that
stops being finite ends the run with :class:`~cnnlit.train.loop.TrainingDiverged` (exit status 1), and
``CNNLIT_DRY_RUN=1`` runs one epoch of two batches.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..checkpoints import CheckpointMismatchError, load_checkpoint, save_checkpoint
from ..fastpath import StepPlan, plan
from ..module_tools import evaluating
from ..runtime import seed_everything
from .loop import History, TrainingDiverged, batches, capped_last_epoch, main_output, train_epoch
from .recipes import (RECIPES, UnknownRecipeError, eval_transform, get_recipe, make_optimizer, make_scheduler,
                      train_transform)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class CommandLineError(ValueError):
    """Something on the command line cannot work; the message says what and how to fix it."""


# --------------------------------------------------------------------------- command line

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlit.train",
        description="Train a cnnlit network on an image folder (ImageNet layout) with a paper's recipe, "
                    "on one device or many through torchrun.")
    parser.add_argument("--model", required=True,
                        help="a registered model name (cnnlit.models.available_models()) or module:callable")
    parser.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for the model builder (repeatable), e.g. depth=50")
    parser.add_argument("--data", required=True, help="folder with train/ and val/ folders of class folders")
    parser.add_argument("--recipe", default="alexnet", help=f"one of: {', '.join(RECIPES)} (default alexnet)")
    parser.add_argument("--epochs", type=int, help="total epochs (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, help="global batch size (default: the recipe's)")
    parser.add_argument("--lr", type=float, help="initial learning rate (default: the recipe's)")
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--patience", type=int, help="epochs without val-loss progress before lr / 10")
    parser.add_argument("--image-size", type=int, help="crop size in pixels (default: the recipe's, 224)")
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3), help="3 for RGB (default), 1 for grey")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers per process (default 4)")
    parser.add_argument("--checkpoint", help="file written atomically after every epoch")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-amp", action="store_true",
                        help="no mixed precision (float16 on CUDA, bfloat16 on CPUs with bfloat16 instructions)")
    parser.add_argument("--no-channels-last", action="store_true", help="keep the NCHW memory layout")
    return parser.parse_args(argv)


def parse_model_args(pairs) -> dict:
    """``["depth=50", "variant=paper"]`` -> ``{"depth": 50, "variant": "paper"}`` (Python literals, else text)."""
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
    """The function ``--model`` names: ``module:callable``, or a registered model (an unknown name raises
    ValueError listing the registered ones)."""
    if ":" in spec:                      # module:callable, e.g. mypackage.nets:small_cnn
        module_name, _, attribute = spec.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise CommandLineError(f"--model {spec!r}: cannot import {attribute!r} from {module_name!r} ({error})")
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
        raise CommandLineError(f"--model {spec!r} built a {type(model).__name__}, not a torch.nn.Module")
    return model


# --------------------------------------------------------------------------- data

def check_data_folder(root) -> tuple[Path, Path]:
    """``root/train`` and ``root/val``, each holding class folders with images, or a clear error."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CommandLineError(f"--data {root}: no such folder. It must hold train/ and val/, each with "
                               "one folder of images per class (the ImageNet layout).")
    folders = [root / "train", root / "val"]
    for folder in folders:
        if not folder.is_dir():
            raise CommandLineError(f"--data {root}: there is no {folder.name}/ folder. It must hold train/ and "
                                   "val/, each with one folder of images per class (the ImageNet layout).")
    for folder in folders:
        classes = sorted(p for p in folder.iterdir() if p.is_dir())
        if not classes:
            raise CommandLineError(f"{folder} has no class folders: put each class's images in its own "
                                   f"subfolder, e.g. {folder}/cat/001.jpg, {folder}/dog/001.jpg.")
        empty = [p.name for p in classes
                 if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.rglob("*") if f.is_file())]
        if empty:
            raise CommandLineError(f"{folder}: class folder(s) without images: {', '.join(empty[:5])}")
    return folders[0], folders[1]


def image_folders(root, recipe, image_size: int, channels: int):
    from torchvision.datasets import ImageFolder
    train_dir, val_dir = check_data_folder(root)
    train = ImageFolder(str(train_dir), transform=train_transform(recipe, image_size, channels))
    val = ImageFolder(str(val_dir), transform=eval_transform(recipe, image_size, channels))
    if train.classes != val.classes:
        raise CommandLineError(f"train/ and val/ have different class folders: {train.classes} vs {val.classes}")
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


def _sum_across(processes: Processes, *values: float) -> list:
    tensor = torch.tensor(values, dtype=torch.float64, device=processes.device)
    if processes.distributed:
        import torch.distributed as dist
        dist.all_reduce(tensor)
    return tensor.tolist()


# --------------------------------------------------------------------------- validation

@torch.no_grad()
def validate(model, loader, loss_fn, processes: Processes, steps: StepPlan):
    """(mean loss, top-1 accuracy) over the whole validation set, shared out among the processes, in the
    training's memory layout (float16 autocast on CUDA, float32 on the CPU)."""
    loss_sum, correct, seen = 0.0, 0, 0
    with evaluating(model):
        for images, labels in batches(loader, loader.batch_size, False, processes.device):
            images = steps.prepare_images(images)
            with steps.evaluation_autocast():
                outputs = main_output(model(images))
            loss_sum += float(loss_fn(outputs.float(), labels)) * labels.shape[0]
            correct += int((outputs.argmax(1) == labels).sum())
            seen += labels.shape[0]
    total, right, count = _sum_across(processes, loss_sum, correct, seen)
    return total / max(count, 1), right / max(count, 1)


# --------------------------------------------------------------------------- main

def _loaders(train, val, batch: int, workers: int, processes: Processes, seed: int):
    from torch.utils.data import DataLoader, Subset
    from torch.utils.data.distributed import DistributedSampler
    sampler = (DistributedSampler(train, num_replicas=processes.world, rank=processes.rank, shuffle=True,
                                  seed=seed) if processes.distributed else None)
    # Each process validates every world-th image: the whole set once, no padding duplicates.
    val_part = Subset(val, range(processes.rank, len(val), processes.world)) if processes.distributed else val
    options = dict(num_workers=workers, pin_memory=processes.device.type == "cuda",
                   persistent_workers=workers > 0)
    train_loader = DataLoader(train, batch_size=batch, shuffle=sampler is None, sampler=sampler, drop_last=False,
                              **options)
    val_loader = DataLoader(val_part, batch_size=batch, shuffle=False, **options)
    return train_loader, val_loader, sampler


def _setup(args, processes: Processes):
    recipe = get_recipe(args.recipe).replace(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, patience=args.patience, image_size=args.image_size)
    if recipe.epochs < 1 or recipe.batch_size < 1 or recipe.image_size < 1:
        raise CommandLineError("--epochs, --batch-size and --image-size must be positive")
    if recipe.batch_size < processes.world:
        raise CommandLineError(f"--batch-size {recipe.batch_size} is the global batch: it must be at least the "
                               f"number of processes ({processes.world})")
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


def _run(args, processes: Processes) -> int:
    seed_everything(args.seed)
    try:
        recipe, train, val, model = _setup(args, processes)
    except ValueError as error:         # e.g. an unknown model name: the registry lists the valid ones
        raise CommandLineError(str(error)) from error

    on_cuda = processes.device.type == "cuda"
    steps = plan(model, processes.device, amp=False if args.no_amp else None,
                 channels_last=False if args.no_channels_last else None)
    steps.prepare_model(model.to(processes.device))
    optimizer = make_optimizer(recipe, model.parameters())
    scheduler = make_scheduler(recipe, optimizer)
    scaler = torch.amp.GradScaler("cuda") if steps.needs_scaler else None
    net = model
    if processes.distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[processes.device.index] if on_cuda else None)
    # cross-entropy; a network with its own training_loss (GoogLeNet: + 0.3 x each auxiliary loss) uses that
    loss_fn = nn.CrossEntropyLoss()
    per_process = recipe.batch_size // processes.world
    train_loader, val_loader, sampler = _loaders(train, val, per_process, args.workers, processes, args.seed)

    history, lrs, first_epoch = History(), [], 1
    if args.resume:
        state = load_checkpoint(args.checkpoint, model, optimizer, map_location=processes.device)
        extra = state.get("extra", {})
        if extra.get("classes") not in (None, train.classes):
            raise CommandLineError(f"{args.checkpoint} was trained on classes {extra['classes']}, "
                                   f"but {args.data} has {train.classes}")
        if "scheduler" in extra:
            scheduler.load_state_dict(extra["scheduler"])
        if scaler is not None and "scaler" in extra:
            scaler.load_state_dict(extra["scaler"])
        if state.get("history"):
            history = History.from_dict(state["history"])
        lrs = list(extra.get("lr", []))
        first_epoch = state["epoch"] + 1
        if processes.main:
            print(f"cnnlit.train: resumed from {args.checkpoint} after epoch {state['epoch']}", flush=True)

    if processes.main:
        print(f"cnnlit.train: {args.model} on {args.data} ({len(train):,} train / {len(val):,} val images, "
              f"{len(train.classes)} classes), recipe {recipe.name} ({recipe.paper}): batch {recipe.batch_size}, "
              f"lr {optimizer.param_groups[0]['lr']:g}, momentum {recipe.momentum}, weight decay "
              f"{recipe.weight_decay:g}, {recipe.schedule} schedule; {processes.world} process(es) on "
              f"{processes.device.type}, {steps}", flush=True)

    if first_epoch > recipe.epochs and processes.main:
        print(f"cnnlit.train: {args.checkpoint} already holds {first_epoch - 1} epoch(s); "
              f"ask for more with --epochs", flush=True)
    check_every = 20 if on_cuda else 1          # reading the loss back forces a GPU sync: do it rarely
    for epoch in range(first_epoch, capped_last_epoch(first_epoch, recipe.epochs, announce=processes.main) + 1):
        tick = time.perf_counter()
        if sampler is not None:
            sampler.set_epoch(epoch)     # a different shuffle every epoch, the same on every process
        lr = optimizer.param_groups[0]["lr"]
        totals = train_epoch(model, batches(train_loader, per_process, True, processes.device), optimizer,
                             loss_fn, processes.device, epoch=epoch, network=net, scaler=scaler,
                             plan=steps, check_every=check_every)
        loss_sum, correct, seen = _sum_across(processes, float(totals.loss_sum), float(totals.correct), totals.seen)
        train_loss, train_accuracy = loss_sum / max(seen, 1), correct / max(seen, 1)
        val_loss, val_accuracy = validate(model, val_loader, loss_fn, processes, steps)
        if recipe.schedule == "plateau":
            scheduler.step(val_loss)
        else:
            scheduler.step()
        seconds = time.perf_counter() - tick
        history.epoch.append(epoch)
        history.loss.append(train_loss)
        history.accuracy.append(train_accuracy)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        history.seconds.append(seconds)
        lrs.append(lr)
        if processes.main:
            print(f"epoch {epoch}/{recipe.epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}  "
                  f"val_acc {val_accuracy:.4f}  lr {lr:.4g}  {seconds:.1f} s", flush=True)
            if args.checkpoint:
                extra = {"scheduler": scheduler.state_dict(), "classes": list(train.classes), "lr": lrs,
                         "recipe": asdict(recipe), "model": args.model, "world_size": processes.world}
                if scaler is not None:
                    extra["scaler"] = scaler.state_dict()
                save_checkpoint(args.checkpoint, model, optimizer, epoch=epoch, history=history.to_dict(),
                                extra=extra)
        if processes.distributed:
            import torch.distributed as dist
            dist.barrier()               # nobody runs ahead of the checkpoint being written
    return 0
