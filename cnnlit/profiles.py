"""Run profiles: one switch, ``CNNLIT_PROFILE``, sizes every experiment to the machine.

| profile | where                   | budget per notebook                |
|---------|-------------------------|------------------------------------|
| smoke   | CI, nbval, quick checks | 60 s on 2 CPU cores                |
| cpu     | default without CUDA    | 5 min on 2 CPU cores               |
| full    | default with CUDA       | 15 min on a Colab T4-class GPU     |

``full`` runs the chapters' experiments on the whole of MNIST, Fashion-MNIST or CIFAR-10; none of
the profiles trains at the papers' scale. ImageNet-scale training is the command line, ``python -m
cnnlit.train`` on an ImageFolder (see :mod:`cnnlit.train.command_line`), not a notebook.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from .runtime import env_flag

__all__ = ["DRY_RUN_BATCHES", "DRY_RUN_VARIABLE", "PROFILE_VARIABLE", "PROFILES", "Profile",
           "STRICT_VARIABLE", "check_run", "dry_run", "profile", "strict"]

PROFILE_VARIABLE = "CNNLIT_PROFILE"
DRY_RUN_VARIABLE = "CNNLIT_DRY_RUN"
STRICT_VARIABLE = "CNNLIT_STRICT"    # set by `make test` and `make book`: see strict()
# batches per epoch (and per evaluation) in a dry run: one, as Lightning's fast_dev_run. It runs
# every line of a loop at the profile's batch size, which is what a dry run is for.
DRY_RUN_BATCHES = 1


@dataclass(frozen=True)
class Profile:
    """The sizes a notebook reads instead of hard-coding them.

    ``train_size``/``test_size`` of ``None`` mean the whole split. Image sizes are not here: each
    chapter chooses its own (its network's input, ``p.choose(...)``), so a profile never claims one.
    """

    name: str
    train_size: Optional[int]
    test_size: Optional[int]
    epochs: int
    batch_size: int
    description: str = field(default="", compare=False)

    def choose(self, *, smoke: Any, cpu: Any, full: Any) -> Any:
        """Pick the value for this profile: ``p.choose(smoke=1, cpu=8, full=30)``."""
        return {"smoke": smoke, "cpu": cpu, "full": full}[self.name]

    def seeds(self, *, smoke: int, cpu: int, full: int) -> list[int]:
        """The seeds an experiment repeats over, ``[0, 1, ..., n - 1]`` with this profile's ``n``:
        ``p.seeds(smoke=1, cpu=3, full=3)``. A dry run keeps one: it trains one batch and judges
        nothing, so one seed already runs every path (and the dry run stays a check, not a run)."""
        count = self.choose(smoke=smoke, cpu=cpu, full=full)
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"the number of seeds must be a positive whole number, got {count!r}")
        return list(range(1 if dry_run() else count))

    def __str__(self) -> str:
        train = "all" if self.train_size is None else f"{self.train_size:,}"
        test = "all" if self.test_size is None else f"{self.test_size:,}"
        return (f"profile '{self.name}': train {train} / test {test} images, {self.epochs} "
                f"epoch(s), batch {self.batch_size}")


PROFILES = {
    "smoke": Profile("smoke", train_size=512, test_size=256, epochs=1, batch_size=64,
                     description="tiny subsets, 1 epoch: proves every cell runs (CI, nbval)"),
    "cpu": Profile("cpu", train_size=8_000, test_size=2_000, epochs=8, batch_size=64,
                   description="reduced data and epochs on a laptop CPU; results still meaningful"),
    "full": Profile("full", train_size=None, test_size=None, epochs=30, batch_size=128,
                    description="whole MNIST / Fashion-MNIST / CIFAR-10 on a GPU"),
}


def profile(name: Optional[str] = None) -> Profile:
    """The active profile: ``name``, else ``CNNLIT_PROFILE``, else full with CUDA and cpu otherwise.
    """
    chosen = name if name is not None else os.environ.get(PROFILE_VARIABLE, "").strip().lower()
    if not chosen:
        chosen = "full" if torch.cuda.is_available() else "cpu"
    if chosen not in PROFILES:
        raise ValueError(
            f"unknown profile {chosen!r} (from "
            f"{PROFILE_VARIABLE if name is None else 'the argument'}); "
            f"valid profiles are: {', '.join(PROFILES)}"
        )
    return PROFILES[chosen]


def dry_run() -> bool:
    """True when ``CNNLIT_DRY_RUN`` is 1/true/yes/on: every training and evaluation loop stops after
    :data:`DRY_RUN_BATCHES` batches and 1 epoch, while the profile's data, sizes and models stay as
    they are. Checks that only hold after real training report "skipped in a dry run" instead of
    failing."""
    return env_flag(DRY_RUN_VARIABLE, False, "dry run")


def check_run() -> bool:
    """True in a run that only checks that every cell runs: the smoke profile, or a dry run. Work
    that only shows something (a player's pre-rendered frames, :func:`cnnlit.widgets.frames`) is cut
    short there."""
    return dry_run() or profile().name == "smoke"


def strict() -> bool:
    """True when ``CNNLIT_STRICT`` is 1/true/yes/on, as `make test` and `make book` set it: a
    result that contradicts what the chapter's text says for the running profile then stops the
    notebook (and the build). Unset, as for a student or an instructor, it is printed and the
    notebook goes on (:func:`cnnlit.paper.verdict`, :func:`cnnlit.paper.expect`)."""
    return env_flag(STRICT_VARIABLE, False, "the book's build: contradicted results fail")
