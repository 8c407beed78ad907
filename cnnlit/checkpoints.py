"""Checkpoints and pretrained weights: written atomically, read with ``weights_only=True``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch

from .files import write_atomically

__all__ = ["CheckpointMismatchError", "load_checkpoint", "load_weights", "save_checkpoint"]


class CheckpointMismatchError(ValueError):
    """The checkpoint was written for a different architecture than the model it is loaded into."""


def architecture_of(model: torch.nn.Module) -> dict:
    """What a checkpoint records to recognise its network: class name and parameter shapes."""
    return {"class": type(model).__name__,
            "shapes": {name: list(tensor.shape) for name, tensor in model.state_dict().items()}}


def save_checkpoint(path: os.PathLike, model: torch.nn.Module, optimizer=None, *, epoch: int = 0,
                    history: Optional[dict] = None, extra: Optional[dict] = None) -> Path:
    """Save model (and optimizer) state atomically: an interrupted save never damages the previous
    file.
    """
    state = {"model": model.state_dict(), "architecture": architecture_of(model),
             "epoch": int(epoch),
             "history": history or {}, "extra": extra or {}}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    write_atomically(Path(path), lambda temporary: torch.save(state, temporary))
    return Path(path)


def _check_architecture(model: torch.nn.Module, recorded: dict, path: Path) -> None:
    expected = architecture_of(model)
    if recorded.get("shapes") == expected["shapes"]:
        return
    differing = sorted(set(recorded.get("shapes", {})) ^ set(expected["shapes"]))
    if not differing:
        differing = [
            k for k in expected["shapes"] if recorded["shapes"][k] != expected["shapes"][k]
        ]
    raise CheckpointMismatchError(
        f"{path} holds a {recorded.get('class', 'different')} network, not this "
        f"{expected['class']}: "
        f"{len(differing)} parameter(s) differ, e.g. {', '.join(differing[:3])}. "
        "Build the model the checkpoint was trained with, or start from scratch.")


def load_checkpoint(path: os.PathLike, model: torch.nn.Module, optimizer=None,
                    map_location="cpu") -> dict:
    """Restore ``model`` (and ``optimizer``) from ``path``; returns the whole checkpoint dictionary.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointMismatchError(f"{path} is not a cnnlit checkpoint (no 'model' entry)")
    _check_architecture(model, state.get("architecture", {}), path)
    model.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return state


def load_weights(model: torch.nn.Module, source, *, verbose: bool = True) -> bool:
    """Load a ``state_dict`` into ``model`` from a local file or a download (a torchvision
    ``Weights`` enum member or a URL). Returns False, with one line saying so, when the weights
    cannot be had (no network); a state dict that does not fit the model is an error, not a silent
    partial load."""
    try:
        if isinstance(source, (str, os.PathLike)) and Path(source).exists():
            state = torch.load(source, map_location="cpu", weights_only=True)
            origin = str(source)
        elif hasattr(source, "get_state_dict"):
            state = source.get_state_dict(progress=False)
            origin = f"torchvision {source}"
        elif isinstance(source, str) and source.startswith(("http://", "https://")):
            state = torch.hub.load_state_dict_from_url(source, progress=False, map_location="cpu")
            origin = source
        else:
            raise FileNotFoundError(f"no weights file at {source}")
    except (OSError, RuntimeError) as error:
        if isinstance(error, FileNotFoundError) and not str(source).startswith("http"):
            raise
        if verbose:
            print(f"cnnlit: pretrained weights are not available here ({type(error).__name__}); "
                  "carrying on with the untrained network.")
        return False
    model.load_state_dict(state)
    if verbose:
        print(f"cnnlit: loaded weights from {origin}")
    return True
