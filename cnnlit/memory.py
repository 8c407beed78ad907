"""Memory on the instructor's path: a chapter in the ``full`` profile must fit a free Colab machine.

- **Host memory** is measured: :func:`peak_rss` reads a process's peak resident set (the kernel's VmHWM).
  The repository's conftest reads it for every notebook nbval runs and fails a cell that crosses
  :data:`HOST_RSS_BUDGET`.
- **GPU memory** is estimated from the models before anyone runs them on a GPU (:func:`estimate`): the
  weights, their gradients and optimiser state, the activations autograd saves for the backward pass at
  the training batch size (recorded on the ``meta`` device: shapes only, no memory, no arithmetic), and
  the datasets ``cnnlit.train.fit`` moves to the device whole. :func:`chapter_plans` lists what each
  chapter trains in the full profile; ``benchmarks/gpu_chapters.py`` measures the real peak on a GPU.

>>> from cnnlit import memory
>>> plans = memory.chapter_plans()      # what each chapter trains in the full profile

``memory.chapter_estimates()`` turns them into one row per chapter, bytes, against ``GPU_BUDGET``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from torch import nn

HOST_RSS_BUDGET = 10e9    # bytes: a free Colab machine has about 12.7 GB of RAM
GPU_BUDGET = 12e9         # bytes: a T4 has about 15 GB usable
# What the estimate adds on top of the tensors it counts. The caching allocator rounds and fragments,
# cuDNN and cuBLAS take workspaces, the backward pass holds gradients of activations while it runs:
# every counted tensor except the whole datasets (one allocation each) is doubled.
HEADROOM = 2.0
CUDA_CONTEXT = 0.5e9      # bytes: the CUDA context and libraries on the device, outside torch's allocator
FLOAT32 = 4
EVALUATION_BATCH = 512    # cnnlit.train.evaluate / predict's default batch size


# --------------------------------------------------------------------------- host: measured

def peak_rss(pid: Optional[int] = None) -> Optional[int]:
    """Peak resident set size of process ``pid`` (default: this one) in bytes, from the Linux kernel's
    ``VmHWM`` ("high water mark") in ``/proc/PID/status``; None where there is no such file."""
    status = Path(f"/proc/{pid or 'self'}/status")
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024          # the kernel reports kB
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- device: estimated

def _meta_copy(build: Callable[[], nn.Module]) -> nn.Module:
    """The network on the meta device. Built on the CPU first: some layers check their arguments with
    real tensors (LeNet-5's C3 table), and the chapters' networks are small."""
    return build().to("meta")


def saved_for_backward(model: nn.Module, input_shape: Sequence[int], batch_size: int) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of one training step on a batch of
    ``batch_size`` inputs of ``input_shape`` (C, H, W). ``model`` must live on the meta device; a tensor
    saved twice (the output of one layer, the input of the next) is counted once."""
    saved: dict[int, int] = {}
    kept = []

    def pack(tensor):
        if isinstance(tensor, nn.Parameter) or isinstance(tensor._base, nn.Parameter):
            return tensor                   # a weight (or its transpose): counted with the weights
        if id(tensor) not in saved:
            saved[id(tensor)] = tensor.numel() * tensor.element_size()
            kept.append(tensor)             # keep it alive so that its id is not reused by another tensor
        return tensor

    model.train()
    images = torch.empty(batch_size, *input_shape, device="meta", requires_grad=False)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(images)
    return sum(saved.values())


def forward_peak(model: nn.Module, input_shape: Sequence[int], batch_size: int) -> int:
    """Largest input + output of any single layer in an evaluation-mode forward pass without gradients:
    what one batch of :func:`cnnlit.train.predict` holds at once. ``model`` lives on the meta device."""
    largest = 0

    def record(module, inputs, output):
        nonlocal largest
        tensors = [t for t in (*inputs, *(output if isinstance(output, tuple) else (output,)))
                   if isinstance(t, torch.Tensor)]
        largest = max(largest, sum(t.numel() * t.element_size() for t in tensors))

    handles = [m.register_forward_hook(record) for m in model.modules() if not list(m.children())]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.empty(batch_size, *input_shape, device="meta"))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return largest


@dataclass(frozen=True)
class Run:
    """One network a chapter trains: how it is built, on what inputs, with which batch and optimiser.

    ``optimizer_states``: tensors per weight the optimiser keeps (SGD with momentum 1, Adam 2).
    ``resident``: bytes of the datasets ``fit`` holds on the device at once (training and validation sets,
    moved there whole; see :func:`dataset_bytes`). ``one_pass_images``: the most images the chapter sends
    through the network in a single forward call outside training (a deconvnet over a pool of test
    images); 0 if none.
    """

    label: str
    build: Callable[[], nn.Module]
    input_shape: tuple
    batch_size: int
    optimizer_states: int = 1
    resident: int = 0
    one_pass_images: int = 0
    amp: bool = True              # fit's default on CUDA: float16 autocast keeps float16 copies of the weights


@dataclass(frozen=True)
class GPUEstimate:
    label: str
    parameters: int
    weights: int                  # bytes: float32 weights, their gradients, optimiser state, float16 copies
    activations: int              # bytes saved for backward at the training batch (float32: an upper bound)
    batch: int                    # bytes of one training batch of inputs and labels
    resident: int                 # bytes of the datasets on the device
    forward: int                  # bytes of the largest layer input + output in one evaluation/one-pass forward
    training_peak: int
    forward_peak: int

    @property
    def peak(self) -> int:
        return max(self.training_peak, self.forward_peak)


def dataset_bytes(count: int, image_shape: Sequence[int]) -> int:
    """Bytes of a :class:`cnnlit.data.TensorData` of ``count`` images: float32 pixels, int64 labels."""
    return count * (math.prod(image_shape) * FLOAT32 + 8)


def estimate(run: Run) -> GPUEstimate:
    """Peak device memory of ``run``, in bytes (see the module's docstring and :data:`HEADROOM`)."""
    model = _meta_copy(run.build)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    weight_bytes = parameters * FLOAT32 * (2 + run.optimizer_states) + (parameters * 2 if run.amp else 0)
    image_bytes = math.prod(run.input_shape) * FLOAT32
    batch = run.batch_size * (image_bytes + 8)                          # labels are int64
    resident = run.resident
    activations = saved_for_backward(model, run.input_shape, run.batch_size)
    forward = forward_peak(model, run.input_shape, max(EVALUATION_BATCH, run.one_pass_images))
    training = resident + CUDA_CONTEXT + HEADROOM * (weight_bytes + activations + batch)
    inference = resident + CUDA_CONTEXT + HEADROOM * (parameters * FLOAT32 + forward)
    return GPUEstimate(run.label, parameters, weight_bytes, activations, batch, resident, forward,
                       int(training), int(inference))


# --------------------------------------------------------------------------- the chapters, full profile

def _full_batch() -> int:
    from .profiles import PROFILES
    return PROFILES["full"].batch_size


def _tiny_cnn() -> nn.Module:                  # chapter 0's first training run
    return nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def _model(name: str, **kwargs) -> Callable[[], nn.Module]:
    def build():
        from .models import get_model
        return get_model(name, **kwargs)
    return build


def _small_zfnet(kernel: int, stride: int) -> Callable[[], nn.Module]:    # chapter 3: Fashion-MNIST
    return _model("zfnet_small", in_channels=1, num_classes=10, image_size=96, first_kernel=kernel,
                  first_stride=stride)


def _vgg(config: str, batch_norm: bool) -> Callable[[], nn.Module]:      # chapter 4: Fashion-MNIST
    return _model("vgg", config=config, batch_norm=batch_norm, num_classes=10, in_channels=1, width=2,
                  hidden=512, pool_size=1, init="glorot")


def _resnet_cifar(depth: int, plain: bool) -> Callable[[], nn.Module]:
    return _model("resnet_cifar", depth=depth, plain=plain, in_channels=3)


# The whole training and test sets, as the full profile loads them with a network connection.
MNIST_32 = dataset_bytes(60_000 + 10_000, (1, 32, 32))          # padded to 32x32 (LeNet-5's input)
FASHION_MNIST = dataset_bytes(60_000 + 10_000, (1, 28, 28))
FASHION_MNIST_32 = dataset_bytes(60_000 + 10_000, (1, 32, 32))  # padded to 32x32
CIFAR10 = dataset_bytes(50_000 + 10_000, (3, 32, 32))
CIFAR10_TRAIN = dataset_bytes(50_000, (3, 32, 32))
FASHION_MNIST_TRAIN_TEST_96 = dataset_bytes(60_000, (1, 28, 28)) + dataset_bytes(10_000, (1, 96, 96))


@dataclass(frozen=True)
class ChapterPlan:
    """What a chapter trains in the full profile, and the lines of its code that fix those numbers:
    ``tests/test_memory.py`` checks that every line in ``evidence`` is still in the notebook, so a chapter
    that changes its sizes must change its plan too."""

    notebook: str
    runs: tuple = ()
    evidence: tuple = field(default=(), compare=False)
    note: str = ""


def chapter_plans() -> list[ChapterPlan]:
    batch = _full_batch()
    return [
        ChapterPlan("00_foundations.ipynb",
                    (Run("tiny CNN, Fashion-MNIST", _tiny_cnn, (1, 28, 28), batch, 2, FASHION_MNIST),),
                    ("nn.Conv2d(1, 8, 5, padding=2)", "nn.Conv2d(8, 16, 5, padding=2)", "nn.Linear(16 * 7 * 7, 10)",
                     "torch.optim.Adam(tiny.parameters()", "batch_size=p.batch_size",
                     'cnnlit.data.load("fashion-mnist", "train", subset=p.train_size)')),
        ChapterPlan("01_lenet5.ipynb",
                    (Run("LeNet-5 (paper)", _model("lenet5"), (1, 32, 32), 64, 1, MNIST_32),
                     Run("LeNet-5 (modern)", _model("lenet5_modern"), (1, 32, 32), 64, 1, MNIST_32)),
                    ("model = get_model(name)", 'train_lenet("lenet5_modern"', "batch_size=64",
                     'cnnlit.data.load("mnist", "train", subset=p.train_size).map(paper_input)')),
        ChapterPlan("02_alexnet.ipynb",
                    (Run("four-layer alexnet_small, width 32 (Figure 1)",
                         _model("alexnet_small", in_channels=3, image_size=32, width=32, hidden=0, lrn=False,
                                dropout=0.0), (3, 32, 32), 64, 1, 6 * CIFAR10_TRAIN),
                     Run("alexnet_small, width 32, hidden 256 (ablations)",
                         _model("alexnet_small", in_channels=3, image_size=32, width=32, hidden=256),
                         (3, 32, 32), 64, 1, 6 * CIFAR10_TRAIN + dataset_bytes(5_000 + 10_000, (3, 32, 32)))),
                    ('DATA = ["cifar10", "fashion-mnist"]', 'figure1 = dict(train=p.choose(smoke=512, cpu=5000, full=None)',
                     "width=p.choose(smoke=8, cpu=16, full=32)", 'RATES = {"relu": [0.001, 0.003, 0.01], "tanh"',
                     "ErrorCurve(four_layer(unit), raw, lr, label=unit)",
                     "ablation = dict(train=p.choose(smoke=256, cpu=1000, full=5000)",
                     "test=p.choose(smoke=256, cpu=2000, full=None)", "width=p.choose(smoke=8, cpu=8, full=32)",
                     "hidden=p.choose(smoke=64, cpu=128, full=256)"),
                    "each of Figure 1's six error curves keeps its own copy of the training set on the GPU"),
        ChapterPlan("03_zfnet.ipynb",
                    (Run("small ZF Net 7x7/2 at 96 px", _small_zfnet(7, 2), (1, 96, 96), batch, 1,
                         FASHION_MNIST_TRAIN_TEST_96, 3000),
                     Run("small ZF Net 11x11/4 at 96 px", _small_zfnet(11, 4), (1, 96, 96), batch, 1,
                         FASHION_MNIST_TRAIN_TEST_96, 3000)),
                    ("SIZE = p.choose(smoke=32, cpu=48, full=96)", "full=(None, None)",
                     'data.load("fashion-mnist", "train", subset=TRAIN)',
                     'data.load("fashion-mnist", "test", subset=TEST).map(enlarge)',
                     "zfnet_small(channels, classes, image_size=SIZE", "augment=enlarge",
                     "batch_size=p.batch_size", "test_data.images[:p.choose(smoke=150, cpu=600, full=3000)]"),
                    "training images enlarged to 96x96 batch by batch; the test set is enlarged whole"),
        ChapterPlan("04_vgg.ipynb",
                    (Run("VGG A, width / 2", _vgg("A", False), (1, 32, 32), batch, 1, FASHION_MNIST_32),
                     Run("VGG E, width / 2", _vgg("E", False), (1, 32, 32), batch, 1, FASHION_MNIST_32),
                     Run("VGG E + batch norm, width / 2", _vgg("E", True), (1, 32, 32), batch, 1,
                         FASHION_MNIST_32)),
                    ("WIDTH = p.choose(smoke=16, cpu=8, full=2)", "HIDDEN = p.choose(smoke=64, cpu=128, full=512)",
                     'run("E + batch norm", narrow("E", seed, batch_norm=True), seed)', "pool_size=1",
                     "batch_size=p.batch_size", 'cnnlit.data.load("fashion-mnist", "train",',
                     "subset=p.choose(smoke=512, cpu=8000, full=None)).map(pad)", "in_channels=1")),
        ChapterPlan("05_googlenet.ipynb",
                    (Run("small GoogLeNet, width 0.5", _model("googlenet_small", in_channels=3,
                                                               num_classes=10, width=0.5),
                         (3, 32, 32), batch, 2, CIFAR10),),
                    ("width=p.choose(smoke=0.25, cpu=0.25, full=0.5)", "torch.optim.Adam(small.parameters()",
                     "batch_size=p.batch_size",
                     'load_first_available(["cifar10", "fashion-mnist"], "train", subset=p.train_size)')),
        ChapterPlan("06_resnet.ipynb",
                    (Run("plain-20", _resnet_cifar(20, True), (3, 32, 32), batch, 1, CIFAR10),
                     Run("plain-56", _resnet_cifar(56, True), (3, 32, 32), batch, 1, CIFAR10),
                     Run("ResNet-56", _resnet_cifar(56, False), (3, 32, 32), batch, 1, CIFAR10)),
                    ("depths = p.choose(smoke=(8, 14), cpu=(8, 20), full=(20, 56))",
                     "full=train.images.shape[-1]", "batch_size=p.batch_size",
                     'load_first_available(["cifar10", "fashion-mnist"], "train",',
                     "subset=p.choose(smoke=512, cpu=5000, full=None)")),
        ChapterPlan("07_comparison.ipynb", (), (), "no training: per-layer summaries on the CPU, nothing on the GPU"),
    ]


def chapter_estimates():
    """One row per chapter: its heaviest run in the full profile and the estimated peak, in GB."""
    import pandas as pd

    rows = []
    for plan in chapter_plans():
        estimates = [estimate(run) for run in plan.runs]
        worst = max(estimates, key=lambda e: e.peak, default=None)
        rows.append({"chapter": plan.notebook,
                     "heaviest run": worst.label if worst else "—",
                     "datasets on GPU (GB)": round(worst.resident / 1e9, 2) if worst else 0.0,
                     "saved activations (GB)": round(worst.activations / 1e9, 2) if worst else 0.0,
                     "estimated peak (GB)": round(worst.peak / 1e9, 2) if worst else 0.0,
                     "note": plan.note})
    return pd.DataFrame(rows).set_index("chapter")
