"""CPU threads: OpenMP's wait policy, set before torch loads, and a line saying what is in force.

PyTorch's CPU kernels run on OpenMP threads. GNU OpenMP's default lets an idle thread spin for a while
before it sleeps; on a laptop or a shared machine with more runnable threads than cores, the spinning
threads take the cores from the ones with work, and a 2-thread training step ran 12-20x slower here
(benchmarks/RESULTS.md, "Threads on a busy CPU"). ``OMP_WAIT_POLICY=PASSIVE`` makes idle threads sleep.
OpenMP reads the variable once, when its library loads with torch, so it must be in the environment
before ``import torch``. ``import cnnlit`` sets it at that moment (this module imports nothing heavy),
unless the environment already chose a policy; the book's notebooks import cnnlit in their first cell.
"""
from __future__ import annotations

import os
import sys

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
WAIT_POLICY = "PASSIVE"

# What happened when cnnlit was imported: "set", "kept" (the environment had chosen), or "too late".
_outcome = None


def prefer_passive_waiting() -> str:
    """Put ``OMP_WAIT_POLICY=PASSIVE`` in the environment if torch has not loaded yet and nobody chose a
    policy. Returns what happened: ``"set"``, ``"kept"`` (already set, left as it is) or ``"too late"``
    (torch was imported first; its OpenMP runtime has already read its settings). Only the first call
    acts; later calls return the first outcome."""
    global _outcome
    if _outcome is None:
        if os.environ.get(WAIT_POLICY_VARIABLE):
            _outcome = "kept"
        elif "torch" in sys.modules:
            _outcome = "too late"
        else:
            os.environ[WAIT_POLICY_VARIABLE] = WAIT_POLICY
            _outcome = "set"
    return _outcome


def thread_settings() -> str:
    """One line on the CPU thread settings in force, e.g.
    ``2 torch threads, OMP_WAIT_POLICY=PASSIVE (set by cnnlit before torch loaded)``."""
    import torch

    policy = os.environ.get(WAIT_POLICY_VARIABLE, "")
    outcome = _outcome or prefer_passive_waiting()
    if outcome == "set":
        how = f"{WAIT_POLICY_VARIABLE}={policy} (set by cnnlit before torch loaded)"
    elif outcome == "kept":
        how = f"{WAIT_POLICY_VARIABLE}={policy} (from the environment)"
    else:
        how = (f"{WAIT_POLICY_VARIABLE} {'=' + policy if policy else 'not set'}: torch was imported before "
               "cnnlit, so cnnlit could not set it (import cnnlit first, or restart the kernel)")
    return f"{torch.get_num_threads()} torch threads, {how}"
