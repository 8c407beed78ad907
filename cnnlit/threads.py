"""CPU threads: how OpenMP's idle threads wait, set before torch loads, and a line saying what is in
force.

PyTorch's CPU kernels run on OpenMP threads, and a small network's training step is hundreds of
short parallel regions with idle threads waiting between them. GNU OpenMP (the runtime of torch's
Linux wheels, Colab's included) lets a waiting thread spin 300,000 times before it sleeps. Measured
on 2 cores (benchmarks/RESULTS.md, "Threads on a busy CPU"):

- on a quiet machine spinning is fastest; sleeping at once (``OMP_WAIT_POLICY=PASSIVE``) cost about
  40% of LeNet-5's and ResNet-20's training speed, because waking the threads costs more than the
  work;
- with more runnable threads than cores (another job, a second notebook) the spinning threads take
  the cores from the ones with work: with 8 busy competitors LeNet-5 trained about 5x slower than
  with PASSIVE.

A short spin, ``GOMP_SPINCOUNT=3000``, keeps the quiet machine's speed and avoids most of the
collapse, so ``import cnnlit`` sets it. OpenMP reads the variable once, when its library loads with
torch, so it must be in the environment before ``import torch``; this module imports nothing heavy,
and the book's notebooks import cnnlit in their first cell. A wait setting already in the
environment is kept. Other OpenMP runtimes (LLVM's, Intel's) ignore ``GOMP_SPINCOUNT`` and keep
their own defaults.
"""
from __future__ import annotations

import os
import sys

__all__ = ["SPIN_COUNT", "prefer_short_spin", "thread_settings"]

SPIN_VARIABLE = "GOMP_SPINCOUNT"
# chosen in benchmarks/wait_policy.py's measurements
SPIN_COUNT = "3000"
# either one means someone chose how threads wait
WAIT_VARIABLES = ("OMP_WAIT_POLICY", SPIN_VARIABLE)

# What happened when cnnlit was imported: "set", "kept" (the environment had chosen), or "too late".
_outcome = None


def prefer_short_spin() -> str:
    """Put ``GOMP_SPINCOUNT=3000`` in the environment if torch has not loaded yet and neither
    ``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT`` is set. Returns what happened: ``"set"``, ``"kept"``
    (the environment chose, left as it is) or ``"too late"`` (torch was imported first; its OpenMP
    runtime has already read its settings). Only the first call acts; later calls return the first
    outcome."""
    global _outcome
    if _outcome is None:
        if any(os.environ.get(name) for name in WAIT_VARIABLES):
            _outcome = "kept"
        elif "torch" in sys.modules:
            _outcome = "too late"
        else:
            os.environ[SPIN_VARIABLE] = SPIN_COUNT
            _outcome = "set"
    return _outcome


def _wait_settings() -> str:
    chosen = [f"{name}={os.environ[name]}" for name in WAIT_VARIABLES if os.environ.get(name)]
    return ", ".join(chosen) or "OpenMP's default waiting"


def thread_settings() -> str:
    """One line on the CPU thread settings in force, e.g.
    ``2 torch threads, GOMP_SPINCOUNT=3000 (set by cnnlit before torch loaded: a short spin, then
    sleep)``."""
    import torch

    outcome = _outcome or prefer_short_spin()
    if outcome == "set":
        how = f"{_wait_settings()} (set by cnnlit before torch loaded: a short spin, then sleep)"
    elif outcome == "kept":
        how = f"{_wait_settings()} (from the environment)"
    else:
        how = (f"{_wait_settings()}: torch was imported before cnnlit, so cnnlit could not set "
               f"{SPIN_VARIABLE} (import cnnlit first, or restart the kernel)")
    return f"{torch.get_num_threads()} torch threads, {how}"
