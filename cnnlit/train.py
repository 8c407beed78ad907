"""Training and evaluation: ``fit`` returns a :class:`History`; ``evaluate`` measures loss and accuracy.

Tensors datasets (:class:`cnnlit.data.TensorData`) are moved to the device once and batched by indexing,
with augmentation run on whole batches on the device: no DataLoader, no per-batch host work. Any other
``Dataset`` or ``DataLoader`` goes the ordinary way.
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch
from torch import nn

from .checkpoints import load_checkpoint, save_checkpoint
from .data import TensorData
from .runtime import device as default_device


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number."""


@dataclass
class History:
    """Per-epoch record of a training run."""

    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    interrupted: bool = False

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))

    @property
    def error(self) -> list:
        """Training error (1 - accuracy) per epoch."""
        return [1.0 - a for a in self.accuracy]

    def to_frame(self):
        import pandas as pd
        columns = {k: v for k, v in asdict(self).items() if isinstance(v, list) and len(v) == len(self)}
        return pd.DataFrame(columns).set_index("epoch")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict) -> "History":
        return cls(**{k: list(v) if isinstance(v, list) else v for k, v in state.items()})


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    count: int

    @property
    def error(self) -> float:
        return 1.0 - self.accuracy


# --------------------------------------------------------------------------- batches

def _tensor_batches(data: TensorData, batch_size: int, shuffle: bool, device) -> Iterator:
    images, labels = data.images, data.labels
    order = (torch.randperm(len(data), device=images.device) if shuffle
             else torch.arange(len(data), device=images.device))
    for start in range(0, len(data), batch_size):
        index = order[start:start + batch_size]
        yield images[index].to(device, non_blocking=True), labels[index].to(device, non_blocking=True)


def batches(data, batch_size: int, shuffle: bool, device) -> Iterator:
    """(images, labels) batches on ``device`` from a TensorData, a Dataset or a DataLoader."""
    if isinstance(data, TensorData):
        return _tensor_batches(data, batch_size, shuffle, device)
    if isinstance(data, torch.utils.data.DataLoader):
        loader = data
    else:
        loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    return ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in loader)


def _prepare(data, device):
    """Move a TensorData to the device once (it is small); other datasets stay where they are."""
    if isinstance(data, TensorData) and data.device != torch.device(device):
        return data.to(device)
    return data


def _batch_count(data, batch_size: int) -> int:
    if isinstance(data, torch.utils.data.DataLoader):
        return len(data)
    return math.ceil(len(data) / batch_size)


def main_output(outputs):
    """The main classifier's scores: networks with auxiliary classifiers (GoogLeNet in training mode)
    return a tuple whose first entry is the main output."""
    return outputs[0] if isinstance(outputs, tuple) else outputs


# --------------------------------------------------------------------------- evaluation

@torch.no_grad()
def predict(model: nn.Module, data, *, batch_size: int = 512, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Model outputs and true labels for a whole dataset, on the CPU."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs, targets = [], []
    try:
        for images, labels in batches(_prepare(data, device), batch_size, False, device):
            outputs.append(main_output(model(images)).float().cpu())
            targets.append(labels.cpu())
    finally:
        model.train(was_training)
    return torch.cat(outputs), torch.cat(targets)


def evaluate(model: nn.Module, data, *, loss_fn: Optional[Callable] = None, batch_size: int = 512,
             device=None) -> Evaluation:
    """Mean loss and top-1 accuracy of ``model`` on ``data`` (in eval mode)."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    outputs, labels = predict(model, data, batch_size=batch_size, device=device)
    loss = float(loss_fn(outputs, labels))
    accuracy = float((outputs.argmax(1) == labels).float().mean())
    return Evaluation(loss=loss, accuracy=accuracy, count=len(labels))


def topk_error(outputs: torch.Tensor, labels: torch.Tensor, k: int = 5) -> float:
    """Fraction of examples whose true label is not among the ``k`` highest scores (ILSVRC's top-5 error)."""
    if outputs.ndim != 2 or outputs.shape[0] != labels.shape[0]:
        raise ValueError(f"outputs must be (N, classes) and labels (N,), got {tuple(outputs.shape)} "
                         f"and {tuple(labels.shape)}")
    if not 1 <= k <= outputs.shape[1]:
        raise ValueError(f"k must be between 1 and the number of classes ({outputs.shape[1]}), got {k}")
    top = outputs.topk(k, dim=1).indices
    return float(1.0 - (top == labels[:, None]).any(dim=1).float().mean())


# --------------------------------------------------------------------------- training

def training_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, loss_fn: Callable,
                  optimizer: torch.optim.Optimizer, scaler=None):
    """One SGD step: forward (in float16 autocast when ``scaler``, a CUDA GradScaler, is given), backward,
    update. Returns (outputs, loss)."""
    with torch.autocast("cuda", dtype=torch.float16) if scaler is not None else nullcontext():
        outputs = model(images)
        loss = loss_fn(outputs, labels)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return outputs, loss


def _progress_bar(total: int, enabled: bool, description: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=description, unit="epoch", leave=True)


def fit(model: nn.Module, train_data, epochs: int = 1, *, lr: float = 0.01,
        optimizer: Optional[torch.optim.Optimizer] = None, scheduler=None,
        loss_fn: Optional[Callable] = None, batch_size: int = 64, val_data=None, device=None,
        augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None, amp: Optional[bool] = None,
        channels_last: Optional[bool] = None, compile: bool = False,
        checkpoint: Optional[str] = None, resume: Optional[str] = None,
        stop_when: Optional[Callable[[History], bool]] = None, max_seconds: Optional[float] = None,
        progress: bool = True, description: str = "training") -> History:
    """Train ``model`` on ``train_data`` and return its :class:`History`.

    - ``optimizer`` defaults to SGD with momentum 0.9 at ``lr``; ``scheduler`` steps once per epoch.
    - ``augment`` transforms each batch of images on the device (see :func:`cnnlit.data.random_crop_flip`).
    - ``amp`` (mixed precision) and ``channels_last`` default to on with CUDA, off elsewhere.
    - ``checkpoint``: a path written atomically after every epoch; ``resume``: a path to continue from.
    - ``stop_when(history)`` ends training early (e.g. once the training error is below a threshold);
      ``max_seconds`` bounds the wall-clock time (checked after each epoch).
    - Ctrl-C (KeyboardInterrupt) stops after the current batch: the model keeps its weights, the last
      complete checkpoint stays intact, and the history so far is returned with ``interrupted=True``.
    - A loss that becomes NaN or infinite raises :class:`TrainingDiverged` naming the epoch and batch.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    device = torch.device(device) if device is not None else default_device()
    on_cuda = device.type == "cuda"
    amp = on_cuda if amp is None else (amp and on_cuda)
    channels_last = on_cuda if channels_last is None else channels_last
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler("cuda") if amp else None
    step_model = torch.compile(model) if compile else model
    train_data = _prepare(train_data, device)
    val_data = _prepare(val_data, device) if val_data is not None else None

    history, first_epoch = History(), 1
    if resume is not None:
        state = load_checkpoint(resume, model, optimizer, map_location=device)
        history = History.from_dict(state.get("history", {})) if state.get("history") else History()
        history.interrupted = False
        first_epoch = state["epoch"] + 1
        if scheduler is not None and "scheduler" in state.get("extra", {}):
            scheduler.load_state_dict(state["extra"]["scheduler"])
        print(f"cnnlit.train: resumed from {resume} after epoch {state['epoch']}")

    check_every = 20 if on_cuda else 1          # reading the loss back forces a GPU sync: do it rarely
    bar = _progress_bar(max(0, epochs - first_epoch + 1), progress, description)
    started = time.perf_counter()
    epoch = first_epoch - 1
    try:
        for epoch in range(first_epoch, epochs + 1):
            model.train()
            tick = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            seen = 0
            for batch_index, (images, labels) in enumerate(batches(train_data, batch_size, True, device), 1):
                if augment is not None:
                    images = augment(images)
                if channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                outputs, loss = training_step(step_model, images, labels, loss_fn, optimizer, scaler)
                loss_sum += loss.detach() * labels.shape[0]
                correct += (main_output(outputs).detach().argmax(1) == labels).sum()
                seen += labels.shape[0]
                if batch_index % check_every == 0 and not torch.isfinite(loss_sum):
                    raise TrainingDiverged(
                        f"the training loss became {float(loss.detach()):.4g} at epoch {epoch}, batch {batch_index} "
                        f"(or up to {check_every - 1} batches before); lower the learning rate "
                        "or check the inputs. The model's weights are no longer usable.")
            if seen and not torch.isfinite(loss_sum):
                raise TrainingDiverged(f"the training loss became non-finite during epoch {epoch} "
                                       f"(by its last batch); lower the learning rate or check the inputs.")
            if scheduler is not None:
                scheduler.step()
            history.epoch.append(epoch)
            history.loss.append(float(loss_sum) / max(seen, 1))
            history.accuracy.append(float(correct) / max(seen, 1))
            if val_data is not None:
                result = evaluate(model, val_data, loss_fn=loss_fn, device=device)
                history.val_loss.append(result.loss)
                history.val_accuracy.append(result.accuracy)
            history.seconds.append(time.perf_counter() - tick)
            if checkpoint is not None:
                extra = {"scheduler": scheduler.state_dict()} if scheduler is not None else {}
                save_checkpoint(checkpoint, model, optimizer, epoch=epoch, history=history.to_dict(),
                                extra=extra)
            if bar is not None:
                postfix = {"loss": f"{history.loss[-1]:.3f}", "acc": f"{history.accuracy[-1]:.3f}"}
                if history.val_accuracy:
                    postfix["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
                bar.set_postfix(postfix)
                bar.update(1)
            if stop_when is not None and stop_when(history):
                break
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                print(f"cnnlit.train: stopped after epoch {epoch}: the {max_seconds:.0f} s budget is spent")
                break
    except KeyboardInterrupt:
        history.interrupted = True
        kept = f"; the last complete checkpoint is {checkpoint}" if checkpoint and Path(checkpoint).exists() else ""
        print(f"cnnlit.train: interrupted during epoch {epoch}; the model keeps its current weights{kept}.")
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    return history

if __name__ == "__main__":  # python -m cnnlit.train: the command-line trainer (see cnnlit/scale.py)
    from .scale import main

    raise SystemExit(main())
