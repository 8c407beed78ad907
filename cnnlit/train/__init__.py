"""Training, one home: :func:`fit` in the notebooks and ``python -m cnnlit.train`` at the papers'
scale share one epoch loop.

- :mod:`cnnlit.train.loop`: :func:`fit`, the only training loop (returns a :class:`History`),
  :func:`evaluate`, :func:`predict`, :func:`topk_error`, and its pieces: :func:`batches`,
  :func:`train_epoch`, :func:`training_step`, :func:`model_loss`, :func:`sgd` (fit's default
  optimiser).
- :mod:`cnnlit.train.callbacks`: :class:`Callback`, what a chapter gives :func:`fit` to record a
  curve every k batches or stop, and the :class:`FitState` its hooks receive.
- :mod:`cnnlit.train.command_line`: ``python -m cnnlit.train`` (and ``torchrun -m cnnlit.train``) on
  folders of images, through :func:`fit`, with :mod:`cnnlit.train.recipes`, the papers' optimisers,
  schedules and augmentation.

>>> import torch
>>> from torch import nn
>>> from cnnlit.data import TensorData
>>> data = TensorData(torch.rand(64, 1, 8, 8), torch.arange(64) % 2, ["even", "odd"])
>>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
>>> history = fit(model, data, epochs=2, batch_size=16, device="cpu", progress=False)
>>> len(history), evaluate(model, data).count
(2, 64)
"""
from .callbacks import Callback, FitState
from .loop import (
                   EpochTotals,
                   Evaluation,
                   History,
                   TrainingDiverged,
                   batches,
                   evaluate,
                   fit,
                   main_output,
                   model_loss,
                   predict,
                   sgd,
                   topk_error,
                   train_epoch,
                   training_step,
)

__all__ = ["Callback", "EpochTotals", "Evaluation", "FitState", "History", "TrainingDiverged",
           "batches", "evaluate", "fit", "main_output", "model_loss", "predict", "sgd",
           "topk_error", "train_epoch", "training_step"]
