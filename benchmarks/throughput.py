"""Training speed on this machine: a tutorial DataLoader loop, ``fit`` in fp32 NCHW, and ``fit``
with the CPU fast path (channels-last, bfloat16 autocast), side by side in one run.

    python benchmarks/throughput.py                         # every section, the chapters' networks
    python benchmarks/throughput.py --sections layouts   # what cnnlit.fastpath.FAMILIES rests on
    python benchmarks/throughput.py --sections throughput --models resnet20,vgg --rounds 5
    python benchmarks/throughput.py --sections accuracy  # time to 98.5% (LeNet-5), 90% (ResNet-20)
    python benchmarks/throughput.py --sections compile      # torch.compile: compile time and gain

Sections:

- **layouts**: images/s of ``fit`` with each of the four CPU settings (fp32 or bfloat16 autocast,
  NCHW or channels-last) per network family, relative to fp32 NCHW: what
  ``cnnlit.fastpath.FAMILIES`` says.
- **throughput**: the three paths on the same network (same initial weights), the same images,
  batch, optimizer, loss and augmentation:
  - *tutorial*: a ``Dataset`` that keeps uint8 images as torchvision's MNIST class does and makes
    one PIL image per item, a ``transforms.Compose``, ``DataLoader(shuffle=True)``, the usual loop
    (``.to``, ``zero_grad``, forward, ``backward``, ``step``, ``running_loss += loss.item()``), fp32
    NCHW;
  - *fit, fp32*: ``cnnlit.train.fit(..., amp=False, channels_last=False)``: the images prepared once
    in a ``TensorData``, batches by indexing, augmentation on whole batches; fp32 NCHW (fit before
    the fast path);
  - *fit, fast path*: ``fit`` with its defaults (``cnnlit.fastpath.plan``).
  The paths are timed in alternating order round by round, so a load that changes slows all alike;
  the speed-up is the median of the per-round ratios.
- **accuracy**: seconds of training until faithful LeNet-5 reaches 98.5% test accuracy on MNIST (the
  offline copy where there is no network) and ResNet-20 90% on Fashion-MNIST, fast path vs tutorial
  loop; test accuracy in fp32 after every epoch, not counted in the time.
- **compile**: ``fit(..., compile=True)``: the first epoch's extra time (compilation), the steady
  epoch's gain, and how many steps repay the compilation, against the steps a chapter trains.

Networks and data are the chapters' own, as the ``cpu`` profile trains them (``CASES``). Every
section prints the machine's load average before and after: other jobs on a shared CPU slow
everything.
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

# run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import cnnlit  # noqa: E402  (before torch: it sets OpenMP's wait policy, as the chapters' setup cell does)
from cnnlit import fastpath  # noqa: E402
from cnnlit.data import TensorData  # noqa: E402
from cnnlit.models import get_model  # noqa: E402
from cnnlit.models.googlenet import auxiliary_loss  # noqa: E402
from cnnlit.models.lenet import MAPCriterion, paper_distortions, paper_input  # noqa: E402
from cnnlit.train import evaluate, fit  # noqa: E402

RESULTS = Path(__file__).with_name("RESULTS.md")


# --------------------------------------------------------------------------- the chapters' networks

@dataclass
class Case:
    """One chapter's network as the cpu profile trains it, and the same data for the tutorial loop.
    """

    name: str
    chapter: str
    dataset: str                                    # cnnlit.data name
    build: Callable[[], nn.Module]
    optimizer: Callable[[nn.Module], torch.optim.Optimizer]
    side: Optional[int] = None                      # resize to side x side (None: as loaded)
    pad: int = 0                                    # zero padding on each side
    lenet_input: bool = False                       # LeNet-5's -0.1 / 1.175 scaling (paper_input)
    # LeNet-5's random affine distortions (section III-C)
    distort: bool = False
    loss: Callable = field(default_factory=lambda: nn.CrossEntropyLoss())
    batch_size: int = 64
    images: int = 1280                              # images per timed round (scaled by --scale)

    def describe(self) -> str:
        shape = (
            f"{self.side or 28}x{self.side or 28}"
            if not self.pad
            else f"{28 + 2 * self.pad}x{28 + 2 * self.pad}"
        )
        return f"{self.chapter}: {self.dataset} {shape}, batch {self.batch_size}"


def _sgd(lr, weight_decay=0.0):
    return lambda model: torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                                         weight_decay=weight_decay)


CASES = {
    "lenet5": Case("lenet5", "01 (faithful LeNet-5, eq. 9 criterion, distortions)", "mnist",
                   lambda: get_model("lenet5"), _sgd(0.05), pad=2, lenet_input=True, distort=True,
                   loss=MAPCriterion(j=10, temperature=8), images=8000),
    "alexnet": Case("alexnet", "02 (alexnet_small, width 16)", "fashion-mnist",
                    lambda: get_model("alexnet_small", in_channels=1, image_size=28, width=16),
                    _sgd(0.02),
                    images=3200),
    "vgg": Case("vgg", "04 (VGG A, width / 8, hidden 128)", "fashion-mnist",
                lambda: get_model("vgg", config="A", num_classes=10, in_channels=1, width=8,
                                  hidden=128,
                                  pool_size=1, init="glorot"), _sgd(0.01), pad=2, images=3200),
    "googlenet": Case("googlenet", "06 (googlenet_small, width 0.25, Adam)", "fashion-mnist",
                      lambda: get_model("googlenet_small", in_channels=1, num_classes=10,
                                        width=0.25),
                      lambda model: torch.optim.Adam(model.parameters(), lr=2e-3),
                      loss=auxiliary_loss,
                      images=1280),
    "resnet20": Case("resnet20", "07 (ResNet-20, 14x14 as the cpu profile shrinks them)",
                     "fashion-mnist",
                     lambda: get_model("resnet20", in_channels=1), _sgd(0.1, 1e-4), side=14,
                     images=1280),
    "resnet20-28": Case("resnet20-28", "ResNet-20 on full-size Fashion-MNIST (the time-to-accuracy "
                                       "run)",
                        "fashion-mnist", lambda: get_model("resnet20", in_channels=1),
                        _sgd(0.1, 1e-4),
                        images=640),
}
# Networks for the layouts section only (one per family the chapters train that CASES does not
# cover).
EXTRA_FAMILIES = {
    "lenet5_modern": Case("lenet5_modern", "01 (modern LeNet-5)", "mnist",
                          lambda: get_model("lenet5_modern"),
                          _sgd(0.05), pad=2, lenet_input=True, distort=True, images=8000),
    "zfnet": Case("zfnet", "03 (zfnet_small, 48x48)", "fashion-mnist",
                  lambda: get_model("zfnet_small", in_channels=1, num_classes=10, image_size=48),
                  _sgd(0.01),
                  side=48, images=640),
    "vgg-E-bn": Case("vgg-E-bn", "04 (VGG E + batch norm, width / 8)", "fashion-mnist",
                     lambda: get_model("vgg", config="E", batch_norm=True, num_classes=10,
                                       in_channels=1, width=8,
                                       hidden=128, pool_size=1, init="glorot"), _sgd(0.01), pad=2,
                     images=1280),
}


# --------------------------------------------------------------------------- data, both ways

def _shape(case: Case, images: torch.Tensor) -> torch.Tensor:
    """Floats in [0, 1] (N, 1, 28, 28) -> what the chapter feeds the network."""
    if case.side is not None and case.side != images.shape[-1]:
        images = nn.functional.interpolate(images, size=(case.side, case.side), mode="bilinear",
                                           antialias=True)
    if case.pad:
        images = nn.functional.pad(images, (case.pad,) * 4)
    if case.lenet_input:
        images = paper_input(images)
    return images


def prepared(case: Case, split: str, count: Optional[int]) -> TensorData:
    """The chapter's data as a TensorData: loaded, resized or padded, scaled, once."""
    data = cnnlit.data.load(case.dataset, split, subset=count, verbose=False)
    return data.map(lambda x: _shape(case, x))


class TutorialDataset(torch.utils.data.Dataset):
    """As torchvision's MNIST / FashionMNIST classes: uint8 images, one PIL image per item, a
    transform.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.data = (images[:, 0] * 255).round().to(torch.uint8).numpy()     # (N, 28, 28)
        self.targets, self.transform = labels.tolist(), transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        from PIL import Image
        return self.transform(Image.fromarray(self.data[index], mode="L")), self.targets[index]


def tutorial_transform(case: Case):
    """The chapter's preparation written the tutorial way, with torchvision transforms per image."""
    from torchvision import transforms
    steps = []
    if case.side is not None:
        steps.append(transforms.Resize(case.side, antialias=True))
    if case.pad:
        steps.append(transforms.Pad(case.pad))
    # paper_distortions(shift=2, scale=0.1, shear=0.15); torchvision scales isotropically
    if case.distort:
        side = 28 + 2 * case.pad
        steps.append(transforms.RandomAffine(0, translate=(2 / side, 2 / side), scale=(0.9, 1.1),
                                             shear=(-math.degrees(math.atan(0.15)),
                                                    math.degrees(math.atan(0.15)))))
    steps.append(transforms.ToTensor())
    if case.lenet_input:
        steps.append(transforms.Lambda(paper_input))
    return transforms.Compose(steps)


def tutorial_data(case: Case, split: str, count: Optional[int]) -> TutorialDataset:
    data = cnnlit.data.load(case.dataset, split, subset=count, verbose=False)
    return TutorialDataset(data.images, data.labels, tutorial_transform(case))


# --------------------------------------------------------------------------- the paths

def tutorial_epoch(model, loader, optimizer, loss_fn) -> float:
    model.train()
    running_loss = 0.0
    for inputs, labels in loader:
        inputs, labels = inputs.to("cpu"), labels.to("cpu")
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    return running_loss


def fit_epoch(model, data, optimizer, case: Case, *, amp=None, channels_last=None, compile=False):
    augment = paper_distortions(shift=2, scale=0.1, shear=0.15) if case.distort else None
    return fit(model, data, 1, optimizer=optimizer, loss_fn=case.loss, batch_size=case.batch_size,
               augment=augment, device="cpu", amp=amp, channels_last=channels_last, compile=compile,
               progress=False)


CLOCKS = {"wall": time.perf_counter,      # what a student waits
          # CPU seconds of this process: less sensitive to other jobs' load
          "cpu": time.process_time}
clock = CLOCKS["wall"]


def timed(run: Callable[[], object], on: Optional[Callable[[], float]] = None) -> float:
    """Seconds ``run()`` takes on the chosen clock (``on``, else --clock's)."""
    on = on or clock
    tick = on()
    run()
    return on() - tick


def median_ratio(slow: list, fast: list) -> float:
    return statistics.median(s / f for s, f in zip(slow, fast))


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- sections

def _fresh(case: Case, seed: int = 0):
    torch.manual_seed(seed)
    model = case.build()
    return model, case.optimizer(model)


def section_layouts(names, args) -> list:
    """images/s of fit under each CPU setting, relative to fp32 NCHW."""
    settings = {"fp32 NCHW": (False, False), "fp32 channels-last": (False, True),
                "bf16 NCHW": (True, False), "bf16 channels-last": (True, True)}
    if not fastpath.cpu_bf16().native:
        settings = {k: v for k, v in settings.items() if k.startswith("fp32")}
    rows = []
    for name in names:
        case = {**CASES, **EXTRA_FAMILIES}[name]
        count = max(case.batch_size, round(case.images * args.scale / 2))
        data = prepared(case, "train", count)
        base, _ = _fresh(case)
        # warm-up
        fit_epoch(copy.deepcopy(base), data.subset(2 * case.batch_size), case.optimizer(base), case)
        for amp, layout in settings.values():
            warm = copy.deepcopy(base)
            fit_epoch(warm, data.subset(2 * case.batch_size), case.optimizer(warm), case, amp=amp,
                      channels_last=layout)

        def run(amp, layout):
            model = copy.deepcopy(base)
            return lambda: fit_epoch(model, data, case.optimizer(model), case, amp=amp,
                                     channels_last=layout)
        # a fresh copy per round: each closure is called once per round, so build them per round
        seconds = {label: [] for label in settings}
        for round_index in range(args.rounds):
            order = list(settings) if round_index % 2 == 0 else list(settings)[::-1]
            for label in order:
                seconds[label].append(timed(run(*settings[label])))
        reference = seconds["fp32 NCHW"]
        row = {"network": name, "family": fastpath.family(base), "setting": case.chapter,
               "fp32 NCHW images/s": statistics.median(count / s for s in reference)}
        for label in settings:
            if label != "fp32 NCHW":
                row[label] = median_ratio(reference, seconds[label])
        step = fastpath.plan(base, "cpu")
        row["chosen"] = (f"{'bf16' if step.autocast_dtype else 'fp32'} "
                         f"{'channels-last' if step.channels_last else 'NCHW'}")
        rows.append(row)
        print(f"  {name:14s} {row['fp32 NCHW images/s']:7,.0f} images/s fp32 NCHW | "
              + " | ".join(f"{k} {row[k]:.2f}x" for k in settings if k != "fp32 NCHW")
              + f" | chosen: {row['chosen']}", flush=True)
    return rows


def section_throughput(names, args) -> list:
    rows = []
    for name in names:
        case = CASES[name]
        count = max(case.batch_size, round(case.images * args.scale))
        data = prepared(case, "train", count)
        tutorial = tutorial_data(case, "train", count)
        base, _ = _fresh(case)
        step = fastpath.plan(base, "cpu")
        loaders = {w: torch.utils.data.DataLoader(tutorial, batch_size=case.batch_size,
                                                  shuffle=True,
                                                  num_workers=w) for w in args.workers}
        # warm-up: first-call allocations and oneDNN primitive creation for every path
        small = data.subset(2 * case.batch_size)
        for amp, layout in ((False, False), (None, None)):
            warm = copy.deepcopy(base)
            fit_epoch(warm, small, case.optimizer(warm), case, amp=amp, channels_last=layout)
        warm = copy.deepcopy(base)
        tutorial_epoch(
            warm,
            torch.utils.data.DataLoader(
                torch.utils.data.Subset(tutorial, range(2 * case.batch_size)),
                batch_size=case.batch_size,
            ),
            case.optimizer(warm),
            case.loss,
        )

        def make(label):
            def run():
                model = copy.deepcopy(base)
                optimizer = case.optimizer(model)
                if label.startswith("tutorial"):
                    return tutorial_epoch(model, loaders[int(label.rsplit("=", 1)[1])], optimizer,
                                          case.loss)
                if label == "fit, fp32 NCHW":
                    return fit_epoch(model, data, optimizer, case, amp=False, channels_last=False)
                return fit_epoch(model, data, optimizer, case)
            return run
        labels = [f"tutorial, workers={w}" for w in args.workers] + ["fit, fp32 NCHW",
                                                                     "fit, fast path"]
        before = load_average()
        seconds = {label: [] for label in labels}
        for round_index in range(args.rounds):
            for label in labels if round_index % 2 == 0 else labels[::-1]:
                seconds[label].append(timed(make(label)))
        tutorial_label = labels[0]
        row = {"network": name, "setting": case.describe(), "images": count,
               "fast path": str(step).split(" (")[0],
               "load": f"{before} -> {load_average()}"}
        for label in labels:
            row[label] = statistics.median(count / s for s in seconds[label])
        row["fit fp32 / tutorial"] = median_ratio(seconds[tutorial_label],
                                                  seconds["fit, fp32 NCHW"])
        row["fast / tutorial"] = median_ratio(seconds[tutorial_label], seconds["fit, fast path"])
        row["fast / fit fp32"] = median_ratio(seconds["fit, fp32 NCHW"], seconds["fit, fast path"])
        rows.append(row)
        print(f"  {name:12s} " + " | ".join(f"{label} {row[label]:,.0f}/s" for label in labels)
              + f" | fast/tutorial {row['fast / tutorial']:.2f}x, fast/fit-fp32 "
                f"{row['fast / fit fp32']:.2f}x"
              f" | per round {[round(count / s) for s in seconds['fit, fast path']]} vs "
              f"{[round(count / s) for s in seconds[tutorial_label]]} | load {row['load']}",
              flush=True)
    return rows


@dataclass(frozen=True)
class Target:
    case: str
    # test accuracies to time, lowest first; training stops at the last
    accuracies: tuple
    train_size: Optional[int]             # None: the whole split
    test_size: Optional[int]
    epochs: int
    batch_size: int
    schedule: Callable                    # optimizer, epochs -> scheduler


TARGETS = [
    # Chapter 01's recipe: SGD 0.05, momentum 0.9, cosine schedule over 20 epochs (the paper's
    # passes). 98.5% is the target asked for; the offline copy's 7,996 training digits peak near
    # 98.3% with this recipe, so 98.0% is timed as well, to compare the two paths on a target both
    # reach.
    Target("lenet5", (0.98, 0.985), None, None, 20, 64,
           lambda opt, epochs: torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)),
    # He et al. (2016), section 4.2: SGD 0.1, momentum 0.9, weight decay 1e-4, rate / 10 at 50% and
    # 75%.
    Target("resnet20-28", (0.90,), None, None, 8, 128,
           lambda opt, epochs: torch.optim.lr_scheduler.MultiStepLR(opt, [epochs // 2,
                                                                          3 * epochs // 4], 0.1)),
]


def section_accuracy(args) -> list:
    rows = []
    for target in TARGETS:
        case = CASES[target.case]
        case = Case(**{**case.__dict__, "batch_size": target.batch_size})
        train = prepared(case, "train", target.train_size)
        test = prepared(case, "test", target.test_size)
        tutorial = tutorial_data(case, "train", target.train_size)
        for path in ("tutorial, workers=0", "fit, fast path"):
            model, optimizer = _fresh(case)
            scheduler = target.schedule(optimizer, target.epochs)
            loader = torch.utils.data.DataLoader(tutorial, batch_size=case.batch_size, shuffle=True)
            before, seconds, curve, reached = load_average(), 0.0, [], {}
            for epoch in range(1, target.epochs + 1):
                if path.startswith("tutorial"):
                    seconds += timed(lambda: tutorial_epoch(model, loader, optimizer, case.loss),
                                     time.perf_counter)
                    scheduler.step()
                else:      # fit steps the scheduler once per epoch itself
                    seconds += timed(
                        lambda: fit(
                            model,
                            train,
                            1,
                            optimizer=optimizer,
                            scheduler=scheduler,
                            loss_fn=case.loss,
                            batch_size=case.batch_size,
                            device="cpu",
                            augment=paper_distortions(2, 0.1, 0.15) if case.distort else None,
                            progress=False,
                        ),
                        time.perf_counter,
                    )
                accuracy = evaluate(model, test, loss_fn=case.loss).accuracy
                curve.append(accuracy)
                print(f"    {target.case} {path}: epoch {epoch} test accuracy {accuracy:.2%}, "
                      f"{seconds:.0f} s",
                      flush=True)
                for goal in target.accuracies:
                    if accuracy >= goal and goal not in reached:
                        reached[goal] = (epoch, seconds)
                if len(reached) == len(target.accuracies):
                    break
            for goal in target.accuracies:
                epoch_and_seconds = reached.get(goal, (None, None))
                rows.append({"network": target.case, "target": goal, "path": path,
                             "train/test images": f"{len(train):,} / {len(test):,} "
                                                  f"({train.source.split('(')[0].strip()})",
                             "epochs": epoch_and_seconds[0], "seconds": epoch_and_seconds[1],
                             "best": max(curve), "load": f"{before} -> {load_average()}"})
                print(
                    f"  {target.case} {path}: "
                    + (
                        f"{goal:.1%} after {reached[goal][0]} epoch(s), {reached[goal][1]:.0f} s"
                        if goal in reached
                        else f"did not reach {goal:.1%} "
                        f"in {target.epochs} epochs (best "
                        f"{max(curve):.2%})"
                    ),
                    flush=True,
                )
    return rows


# Training steps per network in a chapter's cpu-profile run (its images / 64 per epoch, times its
# epochs).
CHAPTER_STEPS = {"lenet5": (125 * 20, "01: 20 epochs of 125 steps (7,996 digits)"),
                 "resnet20": (79 * 5, "07: 5 epochs of 79 steps (5,000 images), per network (12 "
                                      "networks)")}


def section_compile(names, args) -> list:
    """A cold compile each time, as in a student's first run: no graphs or kernels from Inductor's
    on-disk cache or from an earlier compile of the same graph in this process (for this section
    only)."""
    import torch._inductor.config as inductor_config

    with inductor_config.patch(force_disable_caches=True):
        return _compile_rows(names, args)


def _compile_rows(names, args) -> list:
    rows = []
    for name in names:
        case = CASES[name]
        count = max(case.batch_size, round(case.images * args.scale))
        data = prepared(case, "train", count)
        steps = math.ceil(count / case.batch_size)
        base, _ = _fresh(case)
        for compiled in (False, True):
            for fast in (False, True):
                switches = {} if fast else {"amp": False, "channels_last": False}
                model = copy.deepcopy(base)
                optimizer = case.optimizer(model)
                torch._dynamo.reset()
                before = load_average()
                first = timed(lambda: fit_epoch(model, data, optimizer, case, compile=compiled,
                                                **switches))
                # the steady state: further epochs reuse the compiled graph (no recompiles after the
                # first)
                steady_runs = []
                for _ in range(args.rounds):
                    steady_runs.append(timed(lambda: fit_epoch(model, data, optimizer, case,
                                                               compile=compiled,
                                                               **switches)))
                rows.append({"network": name, "compiled": compiled, "fast path": fast,
                             "first epoch s": first,
                             "steady epoch s": statistics.median(steady_runs),
                             "steps per epoch": steps,
                             "load": f"{before} -> {load_average()}"})
                print(f"  {name} compiled={compiled} fast={fast}: first epoch {first:.1f} s, "
                      f"steady {statistics.median(steady_runs):.2f} s ({steps} steps) runs "
                      f"{[round(s, 2) for s in steady_runs]}",
                      flush=True)
    return rows


# --------------------------------------------------------------------------- tables

def markdown(rows: list, columns: list, formats: dict = None) -> str:
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            cells.append(
                formats[column](value)
                if column in formats and value not in ("", None)
                else ("—" if value is None else str(value))
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_section(marker: str, text: str, path: Path = RESULTS) -> None:
    """Replace the text between ``<!-- marker:start -->`` and ``<!-- marker:end -->`` in RESULTS.md
    (appended at the end when the markers are not there yet)."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    old = path.read_text() if path.exists() else ""
    block = f"{start}\n{text.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    new = pattern.sub(lambda _: block,
                      old) if pattern.search(old) else old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new)


def machine_line() -> str:
    return (f"torch {torch.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs "
            f"({platform.processor() or platform.machine()}), {torch.get_num_threads()} torch "
            f"threads, {cnnlit.threads.thread_settings().split(', ', 1)[1]}; {fastpath.cpu_bf16()}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="layouts,throughput,accuracy,compile")
    parser.add_argument("--models", default="lenet5,alexnet,vgg,googlenet,resnet20,resnet20-28",
                        help=f"for throughput, from: {', '.join(CASES)}")
    parser.add_argument("--families",
                        default="lenet5,lenet5_modern,alexnet,zfnet,vgg,vgg-E-bn,googlenet,resnet20",
                        help="networks for the layouts section")
    parser.add_argument("--compile-models", default="resnet20,lenet5")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds per path (median reported)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the images per timed round")
    parser.add_argument("--workers", default="0", help="tutorial DataLoader num_workers values to "
                                                       "measure")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: seconds waited (default); cpu: this process's CPU seconds, for "
                             "comparing "
                             "layouts on a machine busy with other jobs (time-to-accuracy stays "
                             "wall-clock)")
    parser.add_argument("--write", action="store_true",
                        help="write the tables into benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    global clock
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - {"layouts", "throughput", "accuracy", "compile"}
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from layouts, throughput, "
                     f"accuracy, compile")
    lists = {key: [n.strip() for n in getattr(args, key).split(",") if n.strip()]
             for key in ("models", "families", "compile_models")}
    for key, known in (("models", CASES), ("families", {**CASES, **EXTRA_FAMILIES}),
                       ("compile_models", CASES)):
        bad = [n for n in lists[key] if n not in known]
        if bad:
            parser.error(f"--{key.replace('_', '-')}: unknown {bad}; known: {', '.join(known)}")
    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"{started} | {machine_line()} | load average {load_average()}", flush=True)
    tables = [f"Measured {started} by `python benchmarks/throughput.py "
              f"{' '.join(argv if argv is not None else sys.argv[1:])}` "
              f"({machine_line()}; {args.clock} clock); load average (1 / 5 / 15 min) at the start "
              f"{load_average()}."]
    if "layouts" in sections:
        print("\nlayouts and precisions (fit, images/s relative to fp32 NCHW):", flush=True)
        rows = section_layouts(lists["families"], args)
        columns = ["network", "family", "setting", "fp32 NCHW images/s"] + \
                  [c for c in ("fp32 channels-last", "bf16 NCHW",
                               "bf16 channels-last") if c in rows[0]] + ["chosen"]
        tables.append("### Layout and precision per network family\n\n" + markdown(
            rows, columns, {"fp32 NCHW images/s": "{:,.0f}".format,
                            **{c: "{:.2f}x".format for c in columns[4:-1]}}))
    if "throughput" in sections:
        print("\nthroughput, images/s:", flush=True)
        rows = section_throughput(lists["models"], args)
        paths = [f"tutorial, workers={w}" for w in args.workers] + ["fit, fp32 NCHW",
                                                                    "fit, fast path"]
        columns = ["network", "setting", "fast path"] + paths + ["fit fp32 / tutorial",
                                                                 "fast / tutorial",
                                                                 "fast / fit fp32", "load"]
        tables.append("### Throughput (images/s, training)\n\n" + markdown(
            rows, columns, {**{p: "{:,.0f}".format for p in paths},
                            **{c: (lambda v: f"**{v:.2f}x**") for c in ("fast / tutorial",)},
                            **{c: "{:.2f}x".format for c in ("fit fp32 / tutorial",
                                                             "fast / fit fp32")}}))
    if "accuracy" in sections:
        print("\ntime to accuracy:", flush=True)
        rows = section_accuracy(args)
        for row in rows:
            row["target"] = f"{row['target']:.1%}"
        tables.append(
            "### Time to accuracy (training seconds; evaluation not counted)\n\n"
            + markdown(
                rows,
                [
                    "network",
                    "target",
                    "path",
                    "train/test images",
                    "epochs",
                    "seconds",
                    "best",
                    "load",
                ],
                {"seconds": "{:.0f}".format, "best": "{:.2%}".format},
            )
        )
    if "compile" in sections:
        print("\ntorch.compile:", flush=True)
        rows = section_compile(lists["compile_models"], args)
        summary = []
        for name in lists["compile_models"]:
            mine = {(r["compiled"], r["fast path"]): r for r in rows if r["network"] == name}
            for fast in (False, True):
                eager, compiled = mine[(False, fast)], mine[(True, fast)]
                per_step_gain = (eager["steady epoch s"] - compiled["steady epoch s"]) / eager[
                    "steps per epoch"
                ]
                compile_seconds = compiled["first epoch s"] - compiled["steady epoch s"]
                repay = compile_seconds / per_step_gain if per_step_gain > 0 else None
                chapter_steps, chapter = CHAPTER_STEPS.get(name, (None, ""))
                summary.append({"network": name, "path": "fast path" if fast else "fp32 NCHW",
                                "compile s": compile_seconds,
                                "speed-up": eager["steady epoch s"] / compiled["steady epoch s"],
                                "steps to repay": "never" if repay is None else f"{repay:,.0f}",
                                "chapter run": chapter,
                                "repaid?": "" if chapter_steps is None else
                                ("yes" if repay is not None and repay < chapter_steps else "no"),
                                "load": compiled["load"]})
        tables.append("### torch.compile on the CPU\n\n" + markdown(
            summary, ["network", "path", "compile s", "speed-up", "steps to repay", "chapter run",
                      "repaid?", "load"],
            {"compile s": "{:.0f}".format, "speed-up": "{:.2f}x".format}))
    tables.append(f"Load average at the end: {load_average()}.")
    text = "\n\n".join(tables)
    print("\n" + text)
    if args.write:
        write_section("throughput", text)
        print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
