"""Training throughput (images/s): cnnlit's fast path against a tutorial-style DataLoader loop.

    python benchmarks/throughput.py                       # LeNet-5, small AlexNet, ResNet-20 on this machine
    python benchmarks/throughput.py --models lenet5 --rounds 5
    python benchmarks/throughput.py --time-to-target      # on a GPU: time to the papers' test errors

The two paths train the same network (same initial weights), at the same batch size, on the same images,
for the same number of steps, with the same augmentation:

- **cnnlit**: ``cnnlit.train.fit`` on a ``TensorData``: the images sit on the device as one tensor, each
  batch is an index into it, augmentation (random crop + flip) runs on the whole batch on the device;
  mixed precision and channels-last on CUDA (fit's defaults).
- **tutorial**: a ``Dataset`` that keeps uint8 images like torchvision's MNIST/CIFAR classes and turns one
  image at a time into a PIL image, then a ``transforms.Compose`` (crop, flip, ToTensor, Normalize);
  ``DataLoader(shuffle=True, num_workers=W)``; the usual loop (``.to(device)``, ``zero_grad``, forward,
  ``backward``, ``step``, ``running_loss += loss.item()``), fp32.

Both are timed in the same run, interleaved round by round (alternating which goes first), so a machine
whose load changes (a shared CPU) slows both alike; the ratio reported is the median of the per-round
ratios. Data: real MNIST digits for LeNet-5 (``cnnlit.data``, offline copy where there is no network);
CIFAR-10 where it can be loaded, else synthetic uint8 tensors of CIFAR-10's shape (3x32x32) for the other
two: throughput does not depend on the pixel values.

Networks come from the registry (``cnnlit.models.get_model``). Where the registry has no such network
yet, a stand-in of the same shape defined here is used and the output says so.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

import cnnlit  # noqa: E402
from cnnlit.data import TensorData, random_crop_flip  # noqa: E402
from cnnlit.train import fit  # noqa: E402

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


# --------------------------------------------------------------------------- stand-in networks

def standin_lenet5() -> nn.Module:
    """LeNet-5's shape with stock layers (full C3, no RBF output): 32x32 grey in, 10 scores out."""
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
                         nn.Tanh(), nn.Linear(84, 10))


def standin_small_alexnet() -> nn.Module:
    """AlexNet's five convolutions and three fully connected layers at half width, for 32x32 RGB."""
    return nn.Sequential(
        nn.Conv2d(3, 48, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),             # 32 -> 15
        nn.Conv2d(48, 128, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),           # 15 -> 7
        nn.Conv2d(128, 192, 3, padding=1), nn.ReLU(),
        nn.Conv2d(192, 192, 3, padding=1), nn.ReLU(),
        nn.Conv2d(192, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),          # 7 -> 3
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(128 * 9, 512), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = (nn.Identity() if stride == 1 and cin == cout else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def standin_resnet20() -> nn.Module:
    """ResNet-20 for CIFAR (He et al. 2016, §4.2: 3 stages of 3 blocks, 16/32/64 filters), 1x1 projections."""
    layers, cin = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            layers.append(_Block(cin, width, 2 if stage and not block else 1))
            cin = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


# Registry names tried in order, then the stand-in.
CANDIDATES = {
    "lenet5": ([("lenet5", {})], standin_lenet5, "mnist"),
    "alexnet": ([("alexnet_small", {}), ("alexnet_cifar", {}), ("alexnet", {"variant": "small"})],
                standin_small_alexnet, "cifar"),
    "resnet20": ([("resnet20", {}), ("resnet_cifar", {"depth": 20})], standin_resnet20, "cifar"),
}


def build(name: str, example: torch.Tensor):
    """(network, description): the registry's network if it takes ``example``, else the stand-in."""
    from cnnlit.models import get_model
    names, standin, _ = CANDIDATES[name]
    reasons = []
    for registered, kwargs in names:
        try:
            model = get_model(registered, **kwargs)
            with torch.no_grad():
                model.eval()(example)
            return model.train(), f"registry: get_model({registered!r}{''.join(f', {k}={v!r}' for k, v in kwargs.items())})"
        except Exception as error:  # noqa: BLE001 - not registered yet, placeholder, or other input shape
            reasons.append(f"{registered}: {type(error).__name__}")
    return standin(), f"stand-in defined in this script ({'; '.join(reasons)})"


# --------------------------------------------------------------------------- data, both ways

def load_images(kind: str, count: int, seed: int = 0):
    """(uint8 images (N, C, H, W), labels, description)."""
    if kind == "mnist":
        data = cnnlit.data.load("mnist", "train", subset=count, seed=seed, verbose=False)
        return (data.images * 255).round().to(torch.uint8), data.labels, f"MNIST ({data.source})"
    try:
        data = cnnlit.data.load("cifar10", "train", subset=count, seed=seed, verbose=False)
        return (data.images * 255).round().to(torch.uint8), data.labels, f"CIFAR-10 ({data.source})"
    except cnnlit.data.DataUnavailableError:
        generator = torch.Generator().manual_seed(seed)
        images = torch.randint(0, 256, (count, 3, 32, 32), generator=generator, dtype=torch.uint8)
        labels = torch.randint(0, 10, (count,), generator=generator)
        return images, labels, "synthetic uint8 tensors of CIFAR-10's shape (CIFAR-10 is not available offline)"


class TutorialDataset(torch.utils.data.Dataset):
    """Like torchvision's MNIST/CIFAR10 classes: uint8 arrays, one PIL image per item, then the transform."""

    def __init__(self, images: np.ndarray, labels: list, transform):
        self.data, self.targets, self.transform = images, labels, transform   # (N, H, W) or (N, H, W, C)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        from PIL import Image
        image = Image.fromarray(self.data[index], mode="L" if self.data.ndim == 3 else "RGB")
        return self.transform(image), self.targets[index]


def tutorial_dataset(kind: str, images: torch.Tensor, labels: torch.Tensor) -> TutorialDataset:
    from torchvision import transforms
    if kind == "mnist":       # the MNIST tutorials: ToTensor + Normalize; Pad(2) gives LeNet-5's 32x32
        transform = transforms.Compose([transforms.Pad(2), transforms.ToTensor(),
                                        transforms.Normalize(MNIST_MEAN, MNIST_STD)])
        array = images[:, 0].numpy()
    else:                     # the CIFAR-10 tutorials: RandomCrop(32, padding=4), flip, ToTensor, Normalize
        transform = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                        transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
        array = images.permute(0, 2, 3, 1).numpy()
    return TutorialDataset(np.ascontiguousarray(array), labels.tolist(), transform)


def fast_data(kind: str, images: torch.Tensor, labels: torch.Tensor, device):
    """The same images as a normalised TensorData on the device, and fit's batch augmentation."""
    x = images.float().div_(255)
    if kind == "mnist":
        x = torch.nn.functional.pad(x, (2, 2, 2, 2))
        mean, std, augment = MNIST_MEAN, MNIST_STD, None
    else:
        mean, std, augment = CIFAR_MEAN, CIFAR_STD, random_crop_flip(padding=4, flip=True)
    x = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    return TensorData(x, labels, [str(c) for c in range(10)]).to(device), augment


# --------------------------------------------------------------------------- the two training loops

def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_fast(model, data, augment, batch_size, device, lr) -> float:
    _sync(device)
    tick = time.perf_counter()
    fit(model, data, epochs=1, lr=lr, batch_size=batch_size, augment=augment, device=device, progress=False)
    _sync(device)
    return time.perf_counter() - tick


def run_tutorial(model, dataset, batch_size, device, lr, workers) -> float:
    _sync(device)
    tick = time.perf_counter()
    model.to(device).train()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    running_loss = 0.0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    _sync(device)
    return time.perf_counter() - tick


def benchmark(name: str, args, device) -> list:
    _, _, kind = CANDIDATES[name]
    steps = max(1, round(args.steps[name] * args.scale))
    count = steps * args.batch_size
    images, labels, data_description = load_images(kind, count)
    example = torch.zeros(2, 1, 32, 32) if kind == "mnist" else torch.zeros(2, 3, 32, 32)
    torch.manual_seed(0)
    model, model_description = build(name, example)
    fast, augment = fast_data(kind, images, labels, device)
    tutorial = tutorial_dataset(kind, images, labels)
    print(f"\n{name}: {model_description}\n  data: {count:,} images ({steps} steps of {args.batch_size}) "
          f"from {data_description}", flush=True)

    paths = [("cnnlit fit (TensorData)", lambda m: run_fast(m, fast, augment, args.batch_size, device, args.lr))]
    for workers in args.workers:
        paths.append((f"tutorial DataLoader, workers={workers}",
                      lambda m, w=workers: run_tutorial(m, tutorial, args.batch_size, device, args.lr, w)))
    # Warm-up (first-call allocations, worker start-up code paths, cuDNN autotuning): one short pass each.
    warm = torch.utils.data.Subset(tutorial, range(min(len(tutorial), 2 * args.batch_size)))
    run_fast(copy.deepcopy(model), TensorData(fast.images[:2 * args.batch_size], fast.labels[:2 * args.batch_size],
                                              fast.classes), augment, args.batch_size, device, args.lr)
    run_tutorial(copy.deepcopy(model), warm, args.batch_size, device, args.lr, 0)

    seconds = {label: [] for label, _ in paths}
    for round_index in range(args.rounds):
        order = paths if round_index % 2 == 0 else paths[::-1]
        for label, run in order:
            seconds[label].append(run(copy.deepcopy(model)))
    rows = []
    fast_label = paths[0][0]
    for label, _ in paths:
        rate = statistics.median(count / s for s in seconds[label])
        ratios = [slow / quick for slow, quick in zip(seconds[label], seconds[fast_label])]
        rows.append((name, label, rate, statistics.median(ratios)))
        print(f"  {label:<36} {rate:10,.0f} images/s   (per round: "
              f"{', '.join(f'{count / s:,.0f}' for s in seconds[label])})", flush=True)
    for _, label, _, ratio in rows[1:]:
        print(f"  ratio cnnlit / {label}: {ratio:.2f}x (median of {args.rounds} interleaved rounds)")
    return rows


# --------------------------------------------------------------------------- time to the papers' errors

def time_to_target(device, max_epochs: int) -> None:
    """Wall-clock time for LeNet-5 to reach 1.1% MNIST test error (LeCun et al. 1998 report 0.95% for
    LeNet-5, Fig. 14) and ResNet-20 to reach 8.75% CIFAR-10 test error (He et al. 2016, Table 6), with
    cnnlit's fast path. ResNet-20 follows the paper's recipe (§4.2: SGD 0.1, momentum 0.9, weight decay
    1e-4, batch 128, rate / 10 at 50% and 75% of training, crop + flip); LeNet-5 plain SGD with the paper's
    MAP criterion (eq. 9) and input scaling (-0.1 / 1.175) where cnnlit.models.lenet provides them."""
    jobs = [("lenet5", "mnist", 0.011, 64, 0.05, 0.0), ("resnet20", "cifar10", 0.0875, 128, 0.1, 1e-4)]
    for name, dataset, target, batch, lr, decay in jobs:
        try:
            train = cnnlit.data.load(dataset, "train", device=device)
            test = cnnlit.data.load(dataset, "test", device=device)
        except cnnlit.data.DataUnavailableError as error:
            print(f"{name}: skipped, {dataset} is not available here ({str(error)[:100]}...)")
            continue
        loss_fn = None
        if dataset == "mnist":          # the chapter's input scaling and criterion, where they exist
            lenet_module = importlib.import_module("cnnlit.models.lenet")
            scale = getattr(lenet_module, "paper_input", lambda x: torch.nn.functional.pad(x, (2, 2, 2, 2)))
            train, test = train.map(scale), test.map(scale)
            criterion = getattr(lenet_module, "MAPCriterion", None)
            loss_fn = criterion(j=10.0, temperature=8.0) if criterion is not None else None
        torch.manual_seed(0)
        model, description = build(name, train.images[:2].cpu())
        augment = random_crop_flip(4) if dataset == "cifar10" else None
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=decay)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, sorted({max(1, max_epochs // 2), max(1, max_epochs * 3 // 4)}), 0.1)
        history = fit(model, train, epochs=max_epochs, optimizer=optimizer, scheduler=scheduler, batch_size=batch,
                      val_data=test, augment=augment, device=device, progress=False, loss_fn=loss_fn,
                      stop_when=lambda h: 1 - h.val_accuracy[-1] <= target)
        best = 1 - max(history.val_accuracy, default=0.0)
        reached = "reached" if best <= target else "did NOT reach"
        print(f"{name} ({description}, {len(train):,} training images): {reached} {target:.2%} test error: "
              f"best {best:.2%} after {len(history)} epoch(s), {history.total_seconds:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="lenet5,alexnet,resnet20")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per path (median reported)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of steps per round")
    parser.add_argument("--workers", default="0,2", help="tutorial DataLoader num_workers values to measure")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--device", default=None, help="default: cnnlit.device()")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice); 1 on a CPU shared with other jobs")
    parser.add_argument("--time-to-target", action="store_true", help="also time LeNet-5 / ResNet-20 to the "
                        "papers' test errors (meant for a GPU)")
    parser.add_argument("--max-epochs", type=int, default=182,
                        help="epoch cap for --time-to-target (182 ~ the paper's 64k ResNet iterations)")
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    args.steps = {"lenet5": 60, "alexnet": 12, "resnet20": 8}
    device = torch.device(args.device) if args.device else cnnlit.device()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; this benchmark knows {', '.join(CANDIDATES)}")
    print(f"torch {torch.__version__} | device {device} | {torch.get_num_threads()} torch threads | "
          f"python {platform.python_version()} | batch {args.batch_size} | {args.rounds} rounds | "
          f"{os.cpu_count()} CPUs, load average {_load()}")
    rows = []
    for name in names:
        rows.extend(benchmark(name, args, device))
    print("\n| model | path | images/s | cnnlit speed-up |\n|---|---|---:|---:|")
    for name, label, rate, ratio in rows:
        print(f"| {name} | {label} | {rate:,.0f} | {'' if label.startswith('cnnlit') else f'{ratio:.2f}x'} |")
    print(f"\nload average at the end: {_load()}")
    if args.time_to_target:
        time_to_target(device, args.max_epochs)
    return 0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
