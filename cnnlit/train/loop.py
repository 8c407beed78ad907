"""The training loop: :func:`fit`, the only one, for the notebooks and ``python -m cnnlit.train``.

- :func:`batches`: (images, labels) on the device from a ``TensorData``, a ``Dataset`` or a
  ``DataLoader``. Tensor datasets (:class:`cnnlit.data.TensorData`) are moved to the device once and
  batched by indexing: no DataLoader, no per-batch host work. Every loop here reads its batches
  through it.
- :func:`train_epoch`: one pass of SGD steps with the running loss and accuracy and the divergence
  check; :func:`fit` calls it once per epoch. What a chapter or the command line adds (a curve
  recorded every k batches, a line per epoch, stopping) is a
  :class:`~cnnlit.train.callbacks.Callback` given to :func:`fit`.
- A model may bring its own training loss: when it has a ``training_loss(outputs, labels,
  criterion)`` method (GoogLeNet's auxiliary classifiers), the trainer calls it instead of
  ``criterion`` alone.
- :func:`predict` and :func:`evaluate` run the model in eval mode over a whole dataset (optionally
  in the training's layout and precision, and summed over the processes of a distributed run).
- A dry run (``CNNLIT_DRY_RUN=1``, :func:`cnnlit.profiles.dry_run`) caps every loop here at
  ``DRY_RUN_BATCHES`` batches, and training at one epoch, with one line saying so.
"""
from __future__ import annotations

import io
import itertools
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

import torch
from torch import nn

from ..checkpoints import load_checkpoint, save_checkpoint
from ..data import TensorData
from ..fastpath import StepPlan, float32
from ..fastpath import plan as plan_steps
from ..module_tools import evaluating, main_output
from ..profiles import DRY_RUN_BATCHES, DRY_RUN_VARIABLE, dry_run
from ..runtime import device as default_device
from .callbacks import Callback, FitState

__all__ = ["EpochTotals", "Evaluation", "History", "PROGRESS_VARIABLE", "TrainingDiverged",
           "batches", "capped_last_epoch", "evaluate", "fit", "main_output", "model_loss",
           "predict", "sgd", "summed", "topk_error", "train_epoch", "training_step"]


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
    lr: list = field(default_factory=list)          # the learning rate each epoch trained with
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

        columns = {
            k: v for k, v in asdict(self).items() if isinstance(v, list) and len(v) == len(self)
        }
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
        yield images[index].to(device,
                               non_blocking=True), labels[index].to(device, non_blocking=True)


def batches(data, batch_size: int, shuffle: bool, device) -> Iterator:
    """(images, labels) batches on ``device`` from a TensorData, a Dataset or a DataLoader (whose
    own batch size and sampler then apply). In a dry run, only the first ``DRY_RUN_BATCHES``."""
    if isinstance(data, TensorData):
        stream = _tensor_batches(data, batch_size, shuffle, device)
    else:
        if isinstance(data, torch.utils.data.DataLoader):
            loader = data
        else:
            loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle)
        stream = ((x.to(device, non_blocking=True), y.to(device,
                                                         non_blocking=True)) for x, y in loader)
    return itertools.islice(stream, DRY_RUN_BATCHES) if dry_run() else stream


def capped_last_epoch(first: int, last: int, *, announce: bool = True) -> int:
    """The last epoch to run: ``last``, or ``first`` alone in a dry run (said in one line when
    ``announce``).
    """
    if not dry_run() or last < first:
        return last
    if announce:
        print(f"cnnlit.train: dry run ({DRY_RUN_VARIABLE}=1): epoch {first} only, at most "
              f"{DRY_RUN_BATCHES} "
              f"batches per pass (of {last - first + 1} epoch(s) asked for)", flush=True)
    return first


def _prepare(data, device):
    """Move a TensorData to the device once (it is small); other datasets stay where they are."""
    if isinstance(data, TensorData) and data.device != torch.device(device):
        return data.to(device)
    return data


# --------------------------------------------------------------------------- evaluation

@torch.no_grad()
def predict(model: nn.Module, data, *, batch_size: int = 512, device=None,
            plan: Optional[StepPlan] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Model outputs (float32) and true labels for a whole dataset, on the CPU (the model in eval
    mode meanwhile). ``plan``: evaluate in the training's memory layout and evaluation precision
    (float16 autocast on CUDA, float32 on the CPU; see
    :meth:`cnnlit.fastpath.StepPlan.evaluation_autocast`); without one, float32 as given."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    outputs, targets = [], []
    with evaluating(model):
        for images, labels in batches(_prepare(data, device), batch_size, False, device):
            if plan is not None:
                images = plan.prepare_images(images)
            with plan.evaluation_autocast() if plan is not None else nullcontext():
                outputs.append(main_output(model(images)).float().cpu())
            targets.append(labels.cpu())
    if not outputs:
        raise ValueError("there is nothing to predict: the data hold no images")
    return torch.cat(outputs), torch.cat(targets)


def summed(*values: float, device, distributed: bool = False) -> list:
    """``values`` summed over the processes of a distributed run (all-reduce), or as they are."""
    if not distributed:
        return [float(v) for v in values]
    import torch.distributed as dist
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def evaluate(model: nn.Module, data, *, loss_fn: Optional[Callable] = None, batch_size: int = 512,
             device=None, plan: Optional[StepPlan] = None, distributed: bool = False) -> Evaluation:
    """Mean loss and top-1 accuracy of ``model`` on ``data`` (in eval mode; ``plan`` as in
    :func:`predict`). ``distributed``: each process holds its share of the data, and the loss and
    accuracy are those of the whole (summed over the processes)."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    outputs, labels = predict(model, data, batch_size=batch_size, device=device, plan=plan)
    loss, right = float(loss_fn(outputs, labels)), (outputs.argmax(1) == labels)
    if not distributed:
        return Evaluation(loss=loss, accuracy=float(right.float().mean()), count=len(labels))
    device = torch.device(device) if device is not None else next(model.parameters()).device
    loss_sum, correct, count = summed(loss * len(labels) if len(labels) else 0.0, int(right.sum()),
                                      len(labels), device=device, distributed=True)
    return Evaluation(loss=loss_sum / max(count, 1), accuracy=correct / max(count, 1),
                      count=int(count))


def topk_error(outputs: torch.Tensor, labels: torch.Tensor, k: int = 5) -> float:
    """Fraction of examples whose true label is not among the ``k`` highest scores (ILSVRC's top-5
    error).
    """
    if outputs.ndim != 2 or labels.ndim != 1 or outputs.shape[0] != labels.shape[0]:
        raise ValueError(f"outputs must be (N, classes) and labels (N,), got "
                         f"{tuple(outputs.shape)} and {tuple(labels.shape)}")
    if not 1 <= k <= outputs.shape[1]:
        raise ValueError(f"k must be between 1 and the number of classes ({outputs.shape[1]}), got "
                         f"{k}")
    top = outputs.topk(k, dim=1).indices
    return float(1.0 - (top == labels[:, None]).any(dim=1).float().mean())


# --------------------------------------------------------------------------- training

def model_loss(model: nn.Module, outputs, labels: torch.Tensor, loss_fn: Callable) -> torch.Tensor:
    """The training loss: the model's own ``training_loss(outputs, labels, loss_fn)`` where it
    defines one (GoogLeNet adds its auxiliary classifiers' losses, weighted by 0.3), else
    ``loss_fn(outputs, labels)``."""
    own = getattr(model, "training_loss", None)
    return own(outputs, labels, loss_fn) if callable(own) else loss_fn(outputs, labels)


def training_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, loss_fn: Callable,
                  optimizer: torch.optim.Optimizer, scaler=None, *,
                  network: Optional[nn.Module] = None,
                  plan: Optional[StepPlan] = None):
    """One SGD step: the forward pass in ``plan``'s precision (float32 without a plan; float16 or
    bfloat16 autocast, see :mod:`cnnlit.fastpath`), the loss (:func:`model_loss`) in float32,
    backward, update (through ``scaler``, a CUDA GradScaler, for float16). ``network`` runs the
    forward pass where it is not ``model`` itself (``model`` compiled, or wrapped in
    DistributedDataParallel). Returns (outputs, loss)."""
    with plan.autocast() if plan is not None else nullcontext():
        outputs = (network if network is not None else model)(images)
    outputs = float32(outputs)
    loss = model_loss(model, outputs, labels, loss_fn)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return outputs, loss


@dataclass
class EpochTotals:
    """What one epoch of training adds up on this process: the loss summed over examples, the
    examples classified right, and the examples seen (tensors stay on the device: no synchronisation
    per batch)."""

    loss_sum: torch.Tensor
    correct: torch.Tensor
    seen: int

    @property
    def loss(self) -> float:
        return float(self.loss_sum) / max(self.seen, 1)

    @property
    def accuracy(self) -> float:
        return float(self.correct) / max(self.seen, 1)


def train_epoch(model: nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer,
                loss_fn: Callable,
                device, *, epoch: int = 1, network: Optional[nn.Module] = None, scaler=None,
                augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                plan: Optional[StepPlan] = None, check_every: int = 1,
                on_batch: Optional[Callable[..., bool]] = None) -> EpochTotals:
    """One epoch: a :func:`training_step` per (images, labels) batch of ``batches`` (on ``device``),
    with ``augment`` applied to each batch of images first, then ``plan``'s memory layout and
    precision (:func:`cnnlit.fastpath.plan`; float32 as given without one). The loss is checked
    every ``check_every`` batches (reading it back synchronises a GPU) and at the end: a non-finite
    loss raises :class:`TrainingDiverged` naming the epoch and the batch. ``on_batch(batch_index,
    outputs, labels, loss)``, called after every step with the main output and the loss detached,
    ends the epoch early by returning True."""
    (network if network is not None else model).train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for batch_index, (images, labels) in enumerate(batches, 1):
        if augment is not None:
            images = augment(images)
        if plan is not None:
            images = plan.prepare_images(images)
        outputs, loss = training_step(model, images, labels, loss_fn, optimizer, scaler,
                                      network=network, plan=plan)
        loss_sum += loss.detach() * labels.shape[0]
        correct += (main_output(outputs).detach().argmax(1) == labels).sum()
        seen += labels.shape[0]
        if batch_index % check_every == 0 and not torch.isfinite(loss_sum):
            raise TrainingDiverged(
                f"the training loss became {float(loss.detach()):.4g} at epoch {epoch}, batch "
                f"{batch_index} "
                f"(or up to {check_every - 1} batches before); lower the learning rate "
                "or check the inputs. The model's weights are no longer usable.")
        if on_batch is not None and on_batch(batch_index, main_output(outputs).detach(), labels,
                                             loss.detach()):
            break
    if seen and not torch.isfinite(loss_sum):
        raise TrainingDiverged(f"the training loss became non-finite during epoch {epoch} "
                               f"(by its last batch); lower the learning rate or check the inputs.")
    return EpochTotals(loss_sum, correct, seen)


# "text": the bar's final line only (the site build: no widgets)
PROGRESS_VARIABLE = "CNNLIT_PROGRESS"


def _progress_bar(total: int, enabled: bool, description: str):
    if not enabled:
        return None
    if os.environ.get(PROGRESS_VARIABLE, "").strip().lower() != "text":
        from tqdm.auto import tqdm
        return tqdm(total=total, desc=description, unit="epoch", leave=True)
    from tqdm.std import tqdm

    class FinalLine(tqdm):
        """Draws nothing while training and its final line, as text, when closed: what a page that
        has no kernel can show (each redraw would otherwise be a line of its own there)."""

        def close(self):
            if not self.disable and not getattr(self, "_written", False):
                self._written = True
                print(self, file=sys.stderr, flush=True)
            super().close()

    return FinalLine(total=total, desc=description, unit="epoch", leave=True, file=io.StringIO(),
                     ascii=False)


def sgd(parameters, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> torch.optim.SGD:
    """SGD with momentum (0.9 unless told): :func:`fit`'s optimiser when it is given none."""
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _step_schedule(scheduler, history: History) -> None:
    """One step of a per-epoch schedule; ReduceLROnPlateau is stepped with the epoch's validation
    loss (the training loss where there is no validation set)."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        validated = len(history.val_loss) == len(history)
        scheduler.step(history.val_loss[-1] if validated else history.loss[-1])
    else:
        scheduler.step()


def _set_sampler_epoch(data, epoch: int) -> None:
    """A DataLoader's DistributedSampler shuffles by epoch: a different order each epoch, the same
    on every process."""
    set_epoch = getattr(getattr(data, "sampler", None), "set_epoch", None)
    if callable(set_epoch):
        set_epoch(epoch)


def fit(model: nn.Module, train_data, epochs: int = 1, *, lr: float = 0.01,
        optimizer: Optional[torch.optim.Optimizer] = None, scheduler=None,
        loss_fn: Optional[Callable] = None, batch_size: int = 64, val_data=None, device=None,
        augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
        amp: Optional[bool] = None,
        channels_last: Optional[bool] = None, compile: bool = False,
        checkpoint: Optional[str] = None, resume: Optional[str] = None,
        stop_when: Optional[Callable[[History], bool]] = None, max_seconds: Optional[float] = None,
        callbacks: Sequence[Callback] = (), distributed: bool = False, val_plan: bool = False,
        progress: bool = True, description: str = "training") -> History:
    """Train ``model`` on ``train_data`` and return its :class:`History`.

    - ``optimizer`` defaults to SGD with momentum 0.9 at ``lr`` (:func:`sgd`); ``scheduler`` steps
      once per epoch (a ReduceLROnPlateau with the validation loss, else the training loss).
    - ``loss_fn`` defaults to cross-entropy; a model with a ``training_loss`` method trains with
      that (see :func:`model_loss`), and validation uses ``loss_fn`` on the main output.
    - ``augment`` transforms each batch of images on the device (see
      :func:`cnnlit.augment.pad_crop_flip`).
    - ``amp`` (mixed precision) and ``channels_last``: None (the default) is the fast path where it
      pays, :func:`cnnlit.fastpath.plan`: on CUDA float16 autocast and channels-last; on the CPU
      bfloat16 autocast (only where the CPU has bfloat16 instructions) and channels-last for the
      network families measured to gain. False switches either off, True asks for it. Validation is
      float32 as given, unless ``val_plan`` (then in the training's layout, and float16 on CUDA: the
      command line's choice).
    - ``callbacks``: :class:`~cnnlit.train.callbacks.Callback` objects called at the start and end
      of training, of every epoch and after every batch; one that sets ``state.stop`` ends training
      after the current batch.
    - ``checkpoint``: a path written atomically after every epoch; ``resume``: a path to continue
      from (weights, optimizer, schedule, loss scaler, epoch count and history).
    - ``stop_when(history)`` ends training early (e.g. once the training error is below a
      threshold); ``max_seconds`` bounds the wall-clock time (checked after each epoch).
    - ``distributed``: one process of a ``torchrun`` group (torch.distributed initialised): the
      model trains through DistributedDataParallel, a DataLoader's DistributedSampler gets each
      epoch's number, the losses and accuracies are summed over the processes, and rank 0 alone
      writes the checkpoint.
    - Ctrl-C (KeyboardInterrupt) stops after the current batch: the model keeps its weights, the
      last complete checkpoint stays intact, and the history so far is returned with
      ``interrupted=True``.
    - A loss that becomes NaN or infinite raises :class:`TrainingDiverged` naming the epoch and
      batch.
    - In a dry run (``CNNLIT_DRY_RUN=1``): one epoch of at most ``DRY_RUN_BATCHES`` batches.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    device = torch.device(device) if device is not None else default_device()
    on_cuda = device.type == "cuda"
    steps = plan_steps(model, device, amp=amp, channels_last=channels_last)
    steps.prepare_model(model.to(device))
    optimizer = optimizer or sgd(model.parameters(), lr)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler("cuda") if steps.needs_scaler else None
    step_model = model
    if distributed:
        step_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if on_cuda else None)
    if compile:
        step_model = torch.compile(step_model)
    train_data = _prepare(train_data, device)
    val_data = _prepare(val_data, device) if val_data is not None else None
    main_process = not distributed or torch.distributed.get_rank() == 0

    history, first_epoch, resumed = History(), 1, None
    if resume is not None:
        resumed = load_checkpoint(resume, model, optimizer, map_location=device)
        history = History.from_dict(resumed["history"]) if resumed.get("history") else History()
        history.interrupted = False
        first_epoch = resumed["epoch"] + 1
        saved = resumed.get("extra", {})
        if scheduler is not None and "scheduler" in saved:
            scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None and "scaler" in saved:
            scaler.load_state_dict(saved["scaler"])
        if main_process:
            print(f"cnnlit.train: resumed from {resume} after epoch {resumed['epoch']}", flush=True)

    state = FitState(model, optimizer, steps, history, epoch=first_epoch - 1, resumed=resumed)

    def after_batch(batch_index, outputs, labels, loss) -> bool:
        state.batch, state.step = batch_index, state.step + 1
        state.outputs, state.labels, state.loss = outputs, labels, loss
        for callback in callbacks:
            callback.on_batch_end(state)
        return state.stop

    for callback in callbacks:
        callback.on_fit_start(state)
    # reading the loss back forces a GPU sync: do it rarely
    check_every = 20 if on_cuda else 1
    final_epoch = capped_last_epoch(first_epoch, epochs, announce=main_process)
    bar = _progress_bar(max(0, final_epoch - first_epoch + 1), progress and main_process,
                        description)
    started = time.perf_counter()
    epoch = first_epoch - 1
    try:
        for epoch in range(first_epoch, final_epoch + 1):
            if state.stop:
                break
            tick = time.perf_counter()
            state.epoch, state.batch = epoch, 0
            _set_sampler_epoch(train_data, epoch)
            for callback in callbacks:
                callback.on_epoch_start(state)
            lr = optimizer.param_groups[0]["lr"]
            totals = train_epoch(model, batches(train_data, batch_size, True, device), optimizer,
                                 loss_fn, device,
                                 epoch=epoch, network=step_model, scaler=scaler, augment=augment,
                                 plan=steps, check_every=check_every, on_batch=after_batch)
            loss_sum, correct, seen = summed(totals.loss_sum, totals.correct, totals.seen,
                                             device=device, distributed=distributed)
            history.epoch.append(epoch)
            history.lr.append(lr)
            history.loss.append(loss_sum / max(seen, 1))
            history.accuracy.append(correct / max(seen, 1))
            if val_data is not None:
                result = evaluate(model, val_data, loss_fn=loss_fn, device=device,
                                  plan=steps if val_plan else None, distributed=distributed)
                history.val_loss.append(result.loss)
                history.val_accuracy.append(result.accuracy)
            if scheduler is not None:
                _step_schedule(scheduler, history)
            history.seconds.append(time.perf_counter() - tick)
            for callback in callbacks:
                callback.on_epoch_end(state)
            if checkpoint is not None and main_process:
                extra = dict(state.extra)
                if scheduler is not None:
                    extra["scheduler"] = scheduler.state_dict()
                if scaler is not None:
                    extra["scaler"] = scaler.state_dict()
                save_checkpoint(checkpoint, model, optimizer, epoch=epoch,
                                history=history.to_dict(),
                                extra=extra)
            if distributed:
                torch.distributed.barrier()     # nobody runs ahead of the checkpoint being written
            if bar is not None:
                postfix = {"loss": f"{history.loss[-1]:.3f}", "acc": f"{history.accuracy[-1]:.3f}"}
                if history.val_accuracy:
                    postfix["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
                bar.set_postfix(postfix)
                bar.update(1)
            if stop_when is not None and stop_when(history):
                break
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                print(f"cnnlit.train: stopped after epoch {epoch}: the {max_seconds:.0f} s budget "
                      f"is spent")
                break
    except KeyboardInterrupt:
        history.interrupted = True
        kept = (
            f"; the last complete checkpoint is {checkpoint}"
            if checkpoint and Path(checkpoint).exists()
            else ""
        )
        print(f"cnnlit.train: interrupted during epoch {epoch}; the model keeps its current "
              f"weights{kept}.")
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    for callback in callbacks:
        callback.on_fit_end(state)
    return history
