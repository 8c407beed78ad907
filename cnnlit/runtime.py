"""Where tensors live, how runs are made repeatable, how a switch is read from the environment."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["DEVICE_VARIABLE", "VALID_DEVICES", "device", "env_flag", "seed_everything"]

DEVICE_VARIABLE = "CNNLIT_DEVICE"
VALID_DEVICES = ("cpu", "cuda", "mps")
FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False}


def env_flag(name: str, default: bool, meaning: str) -> bool:
    """A boolean switch from the environment variable ``name``: 1/true/yes/on or 0/false/no/off
    (any case), ``default`` when unset or empty; anything else is an error that says what 1 means
    (``meaning``)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in FLAG_VALUES:
        raise ValueError(f"{name}={value!r}: expected 1 ({meaning}) or 0 (off)")
    return FLAG_VALUES[value]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def device() -> torch.device:
    """The device chapters train on: cuda, else mps, else cpu.

    ``CNNLIT_DEVICE`` overrides the choice (``cpu``, ``cuda``, ``cuda:1``, ``mps``); asking for a
    device this machine does not have is an error rather than a silent fall back to the CPU.
    """
    wanted = os.environ.get(DEVICE_VARIABLE, "").strip().lower()
    if not wanted:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = wanted.split(":")[0]
    if kind not in VALID_DEVICES:
        raise ValueError(
            f"{DEVICE_VARIABLE}={wanted!r} is not a device cnnlit knows; "
            f"use one of {', '.join(VALID_DEVICES)} (optionally with an index, e.g. cuda:0)."
        )
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"{DEVICE_VARIABLE}={wanted!r} asks for CUDA, but this machine has no CUDA device "
            "(torch.cuda.is_available() is False). Unset it or set it to 'cpu'."
        )
    if kind == "mps" and not _mps_available():
        raise RuntimeError(f"{DEVICE_VARIABLE}={wanted!r} asks for Apple MPS, which is not "
                           f"available here.")
    return torch.device(wanted)


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and PyTorch (all devices) so a cell gives the same numbers twice."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed
