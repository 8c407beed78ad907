"""What :func:`cnnlit.train.fit` tells the code around it: a :class:`Callback` has one hook per
stage of training, and every hook receives the run's :class:`FitState`.

A chapter records what it wants (a training-error curve every k batches, the learning rate) and
stops training when it has seen enough, without a loop of its own:

>>> class EveryTenth(Callback):
...     def __init__(self):
...         self.losses = []
...     def on_batch_end(self, state):
...         if state.step % 10 == 0:
...             self.losses.append(float(state.loss))
...             state.stop = len(self.losses) == 3      # ends training after this batch

Setting ``state.stop`` in any hook ends training after the current batch; the epoch in progress is
recorded in the history as far as it went.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

__all__ = ["Callback", "FitState"]


@dataclass
class FitState:
    """The state of one call of :func:`cnnlit.train.fit`, shared with its callbacks.

    ``epoch`` counts from 1 (continuing a resumed run's count); ``batch`` is the batch within the
    epoch and ``step`` the batches trained since this call began, both from 1. After each batch,
    ``outputs`` (the main classifier's scores), ``labels`` and ``loss`` hold that batch's values,
    detached and on the device (reading them back synchronises a GPU: do it every k batches).
    ``resumed`` is the checkpoint the run continued from (None when it started afresh).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    plan: Any                                   # cnnlit.fastpath.StepPlan: layout and precision
    history: Any                                # cnnlit.train.History: the epochs so far
    epoch: int = 0
    batch: int = 0
    step: int = 0
    outputs: Optional[torch.Tensor] = None
    labels: Optional[torch.Tensor] = None
    loss: Optional[torch.Tensor] = None
    resumed: Optional[dict] = None
    stop: bool = False
    extra: dict = field(default_factory=dict)   # added to every checkpoint's ``extra``


class Callback:
    """Hooks :func:`cnnlit.train.fit` calls, in this order: ``on_fit_start`` once, then per epoch
    ``on_epoch_start``, ``on_batch_end`` after every training step and ``on_epoch_end`` once the
    epoch's history (and validation) is written and before its checkpoint, and ``on_fit_end`` once
    at the end (also after an interrupt). Override the ones you need; the others do nothing."""

    def on_fit_start(self, state: FitState) -> None:
        pass

    def on_epoch_start(self, state: FitState) -> None:
        pass

    def on_batch_end(self, state: FitState) -> None:
        pass

    def on_epoch_end(self, state: FitState) -> None:
        pass

    def on_fit_end(self, state: FitState) -> None:
        pass
