"""A synthetic stand-in of CIFAR-10 for CI, where the real data cannot be downloaded.

    python tools/cifar_standin.py write FOLDER           # FOLDER/cifar10/: 50,000 + 10,000 images
    python tools/cifar_standin.py dry-run [PYTEST ARGS]  # every chapter's full dry run
    python tools/cifar_standin.py dry-run notebooks/03_zfnet.ipynb --durations=5    # one chapter
    python tools/cifar_standin.py others                 # the chapters that do not load CIFAR-10

Offline, the ``full`` profile falls back from CIFAR-10 to Fashion-MNIST, so the paths an instructor
takes with the real CIFAR-10 (3 channels, 32x32, the augmentation) would go untested. The stand-in
has CIFAR-10's shape (3x32x32 uint8), split sizes (50,000 / 10,000) and class names; each class is a
coloured, oriented stripe pattern under noise, so it is learnable, but it is not CIFAR-10. It is
written as ``cnnlit.data``'s own cache files plus a ``STAND-IN`` marker, which ``cnnlit.data.load``
reports in every line: the data is called "cifar10 (stand-in)".

``dry-run`` writes it into a fresh temporary folder (never the user's cache), links the user's other
cached datasets (MNIST, Fashion-MNIST) beside it, points ``CNNLIT_DATA`` there, runs every notebook
under nbval with ``CNNLIT_PROFILE=full CNNLIT_DRY_RUN=1 CNNLIT_DEVICE=cpu`` in one pytest run (the
chapters that load CIFAR-10 get the stand-in, the others their offline data), then removes the
folder.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from cnnlit import data  # noqa: E402

SPLIT_SIZES = {"train": 50_000, "test": 10_000}          # CIFAR-10's (Krizhevsky 2009)
MARKER_TEXT = ("SYNTHETIC STAND-IN of CIFAR-10 (tools/cifar_standin.py: coloured stripe patterns "
               "under noise with CIFAR-10's shape and class names, not real photographs)")
DRY_RUN_ENVIRONMENT = {"CNNLIT_PROFILE": "full", "CNNLIT_DRY_RUN": "1", "CNNLIT_DEVICE": "cpu"}


def stand_in_images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` uint8 images (count, 3, 32, 32) and balanced labels 0-9: class k is stripes at k *
    18 degrees in its own colour, with a random phase and frequency, plus Gaussian noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    labels = labels[torch.randperm(count, generator=generator)]
    colours = torch.tensor([[0.9, 0.2, 0.2], [0.2, 0.9, 0.2], [0.2, 0.2, 0.9], [0.9, 0.9, 0.2],
                            [0.9, 0.2, 0.9],
                            [0.2, 0.9, 0.9], [0.6, 0.4, 0.2], [0.4, 0.2, 0.6], [0.8, 0.8, 0.8],
                            [0.3, 0.3, 0.3]])
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    images = torch.empty(count, 3, 32, 32, dtype=torch.uint8)
    for start in range(0, count, 5_000):                     # in chunks: a few hundred MB at most
        chunk = labels[start:start + 5_000]
        n = len(chunk)
        angle = (chunk.float() * math.pi / 10)[:, None, None]
        frequency = (0.25 + 0.25 * torch.rand(n, generator=generator))[:, None, None]
        phase = (2 * math.pi * torch.rand(n, generator=generator))[:, None, None]
        stripes = 0.5 + 0.5 * torch.sin(
            frequency * (x * torch.cos(angle) + y * torch.sin(angle)) + phase
        )
        picture = stripes[:, None] * colours[chunk][:, :, None, None]
        picture = picture + 0.15 * torch.randn(n, 3, 32, 32, generator=generator)
        images[start:start + n] = (picture.clamp(0, 1) * 255).round().to(torch.uint8)
    return images, labels


def write(folder: Path, sizes: dict = SPLIT_SIZES) -> Path:
    """Write the stand-in as ``cnnlit.data``'s cache files in ``folder/cifar10`` with its marker."""
    folder = Path(folder)
    target = folder / "cifar10"
    if target.exists() and any(target.iterdir()) and not (target / data.STAND_IN_MARKER).exists():
        raise SystemExit(f"{target} holds data that is not a stand-in; refusing to write next to "
                         f"it. "
                         "Give an empty folder (never the user's cache).")
    target.mkdir(parents=True, exist_ok=True)
    (target / data.STAND_IN_MARKER).write_text(MARKER_TEXT + "\n")
    for seed, (split, count) in enumerate(sizes.items()):
        images, labels = stand_in_images(count, seed=seed)
        data._save_cache(folder, "cifar10", split, "", images, labels, "synthetic stand-in")
    return target


def cifar_chapters() -> list[Path]:
    """The chapters whose code loads CIFAR-10 (in the full profile, whole CIFAR-10 when it is
    available).
    """
    found = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if '"cifar10"' in code:
            found.append(path)
    return found


def other_chapters() -> list[Path]:
    """The chapters whose code does not load CIFAR-10: ``make test`` dry-runs them on the offline
    data, and the CIFAR-10 chapters once, on the stand-in (the instructor's path)."""
    cifar = set(cifar_chapters())
    return [path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
            if path not in cifar]


def link_offline_data(folder: Path, cache: Path) -> list[str]:
    """Link each dataset of the user's ``cache`` but CIFAR-10 into ``folder`` (read where it is,
    never copied); return their names."""
    linked = []
    for entry in sorted(cache.iterdir()) if cache.is_dir() else []:
        if entry.is_dir() and entry.name != "cifar10" and not (folder / entry.name).exists():
            (folder / entry.name).symlink_to(entry.resolve(), target_is_directory=True)
            linked.append(entry.name)
    return linked


def dry_run(arguments: list[str]) -> int:
    """The full-profile dry run of every chapter (or of the notebooks among ``arguments``) in one
    pytest run, in a temporary CNNLIT_DATA: the CIFAR-10 chapters on the stand-in, the others on
    the offline data linked beside it; the other arguments go to pytest."""
    chosen = [Path(a).resolve() for a in arguments if a.endswith(".ipynb")]
    pytest_arguments = [a for a in arguments if not a.endswith(".ipynb")]
    chapters = chosen or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    folder = Path(tempfile.mkdtemp(prefix="cnnlit-cifar-standin-"))
    try:
        write(folder)
        linked = link_offline_data(folder, data.data_root())
        environment = {**os.environ, **DRY_RUN_ENVIRONMENT, data.DATA_VARIABLE: str(folder)}
        print(f"CIFAR-10 stand-in in {folder} (beside it: {', '.join(linked) or 'nothing'}); "
              f"full-profile dry run of {', '.join(p.name for p in chapters)}", flush=True)
        command = [sys.executable, "-m", "pytest", "--nbval-lax", *map(str, chapters), "-p",
                   "no:cacheprovider",
                   *pytest_arguments]
        return subprocess.call(command, cwd=ROOT, env=environment)
    finally:
        shutil.rmtree(folder, ignore_errors=True)      # the links only, not what they point at


if __name__ == "__main__":
    command, *arguments = sys.argv[1:] or ["help"]
    if command == "write" and len(arguments) == 1:
        print(write(Path(arguments[0])))
    elif command == "dry-run":
        sys.exit(dry_run(arguments))
    elif command == "others" and not arguments:
        print(" ".join(str(path.relative_to(ROOT)) for path in other_chapters()))
    else:
        print(__doc__)
        sys.exit(0 if command == "help" else 2)
