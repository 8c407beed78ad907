"""Memory on the instructor's path: a chapter in the ``full`` profile must fit a free Colab machine.

- **Host memory** is measured: :func:`peak_rss` reads a process's peak resident set (the kernel's
  VmHWM). The repository's conftest reads it for every notebook nbval runs and fails a cell that
  crosses :data:`HOST_RSS_BUDGET`.
- **GPU memory** is estimated from the models before anyone runs them on a GPU (:func:`estimate`):
  the weights, their gradients and optimiser state, the activations autograd saves for the backward
  pass at the training batch size (recorded on the ``meta`` device: shapes only, no memory, no
  arithmetic), and the datasets ``cnnlit.train.fit`` moves to the device whole.
  :func:`chapter_plans` lists what each chapter trains in the full profile, with the sizes read from
  the notebook itself (:func:`chapter_settings`: its ``p.choose(...)`` and ``batch_size=`` values),
  so that a chapter cannot change them behind the estimate; ``benchmarks/gpu_chapters.py`` measures
  the real peak on a GPU.

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

__all__ = ["CUDA_CONTEXT", "ChapterPlan", "ChapterSettings", "EVALUATION_BATCH", "GPUEstimate",
           "GPU_BUDGET", "HEADROOM", "HOST_RSS_BUDGET", "NOTEBOOKS", "Run", "chapter_estimates",
           "chapter_plans", "chapter_settings", "dataset_bytes", "estimate", "forward_peak",
           "peak_rss", "saved_for_backward"]

HOST_RSS_BUDGET = 10e9    # bytes: a free Colab machine has about 12.7 GB of RAM
GPU_BUDGET = 12e9         # bytes: a T4 has about 15 GB usable
# What the estimate adds on top of the tensors it counts. The caching allocator rounds and
# fragments, cuDNN and cuBLAS take workspaces, the backward pass holds gradients of activations
# while it runs: every counted tensor except the whole datasets (one allocation each) is doubled.
HEADROOM = 2.0
# bytes: the CUDA context and libraries on the device, outside torch's allocator
CUDA_CONTEXT = 0.5e9
FLOAT32 = 4
EVALUATION_BATCH = 512    # cnnlit.train.evaluate / predict's default batch size


# --------------------------------------------------------------------------- host: measured

def peak_rss(pid: Optional[int] = None) -> Optional[int]:
    """Peak resident set size of process ``pid`` (default: this one) in bytes, from the Linux
    kernel's ``VmHWM`` ("high water mark") in ``/proc/PID/status``; None where there is no such
    file."""
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
    """The network on the meta device. Built on the CPU first: some layers check their arguments
    with real tensors (LeNet-5's C3 table), and the chapters' networks are small."""
    return build().to("meta")


def saved_for_backward(model: nn.Module, input_shape: Sequence[int], batch_size: int) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of one training step on a batch of
    ``batch_size`` inputs of ``input_shape`` (C, H, W). ``model`` must live on the meta device; a
    tensor saved twice (the output of one layer, the input of the next) is counted once."""
    saved: dict[int, int] = {}
    kept = []

    def pack(tensor):
        if isinstance(tensor, nn.Parameter) or isinstance(tensor._base, nn.Parameter):
            return tensor                   # a weight (or its transpose): counted with the weights
        if id(tensor) not in saved:
            saved[id(tensor)] = tensor.numel() * tensor.element_size()
            # keep it alive so that its id is not reused by another tensor
            kept.append(tensor)
        return tensor

    model.train()
    images = torch.empty(batch_size, *input_shape, device="meta", requires_grad=False)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(images)
    return sum(saved.values())


def forward_peak(model: nn.Module, input_shape: Sequence[int], batch_size: int) -> int:
    """Largest input + output of any single layer in an evaluation-mode forward pass without
    gradients: what one batch of :func:`cnnlit.train.predict` holds at once. ``model`` lives on the
    meta device."""
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
    """One network a chapter trains: how it is built, on what inputs, with which batch and
    optimiser.

    ``optimizer_states``: tensors per weight the optimiser keeps (SGD with momentum 1, Adam 2).
    ``resident``: bytes of the datasets ``fit`` holds on the device at once (training and validation
    sets, moved there whole; see :func:`dataset_bytes`). ``one_pass_images``: the most images the
    chapter sends through the network in a single forward call outside training (a deconvnet over a
    pool of test images); 0 if none.
    """

    label: str
    build: Callable[[], nn.Module]
    input_shape: tuple
    batch_size: int
    optimizer_states: int = 1
    resident: int = 0
    one_pass_images: int = 0
    # fit's default on CUDA: float16 autocast keeps float16 copies of the weights
    amp: bool = True


@dataclass(frozen=True)
class GPUEstimate:
    label: str
    parameters: int
    # bytes: float32 weights, their gradients, optimiser state, float16 copies
    weights: int
    # bytes saved for backward at the training batch (float32: an upper bound)
    activations: int
    batch: int                    # bytes of one training batch of inputs and labels
    resident: int                 # bytes of the datasets on the device
    # bytes of the largest layer input + output in one evaluation/one-pass forward
    forward: int
    training_peak: int
    forward_peak: int

    @property
    def peak(self) -> int:
        return max(self.training_peak, self.forward_peak)


def dataset_bytes(count: int, image_shape: Sequence[int]) -> int:
    """Bytes of a :class:`cnnlit.data.TensorData` of ``count`` images: float32 pixels, int64 labels.
    """
    return count * (math.prod(image_shape) * FLOAT32 + 8)


def estimate(run: Run) -> GPUEstimate:
    """Peak device memory of ``run``, in bytes (see the module's docstring and :data:`HEADROOM`)."""
    model = _meta_copy(run.build)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    weight_bytes = parameters * FLOAT32 * (2 + run.optimizer_states) + (
        parameters * 2 if run.amp else 0
    )
    image_bytes = math.prod(run.input_shape) * FLOAT32
    batch = run.batch_size * (image_bytes + 8)                          # labels are int64
    resident = run.resident
    activations = saved_for_backward(model, run.input_shape, run.batch_size)
    forward = forward_peak(model, run.input_shape, max(EVALUATION_BATCH, run.one_pass_images))
    training = resident + CUDA_CONTEXT + HEADROOM * (weight_bytes + activations + batch)
    inference = resident + CUDA_CONTEXT + HEADROOM * (parameters * FLOAT32 + forward)
    return GPUEstimate(run.label, parameters, weight_bytes, activations, batch, resident, forward,
                       int(training), int(inference))


# --------------------------------------------------------------------------- the chapters' settings

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


class _NotASetting(Exception):
    """An expression whose full-profile value cannot be read without running the notebook."""


@dataclass(frozen=True)
class ChapterSettings:
    """What a chapter's code fixes for the ``full`` profile, read from the notebook (not run):

    - ``names``: every ``NAME = value`` (or ``A, B = value``) at the top of a code cell whose value
      is a literal, ``p.choose(...)`` (its ``full=`` choice), a profile field (``p.batch_size``), or
      a ``dict(...)``/tuple of those. A value holding exactly one ``p.choose`` (or, without one,
      exactly one profile field) gives that value: ``pool = images[:p.choose(...)]``,
      ``train = load(..., subset=p.train_size)``.
    - ``keywords``: for every keyword argument ``name=value`` of a call with such a value, all the
      values in the order they appear (``batch_size=p.batch_size``: the full batch size).
    - ``code``: the notebook's code cells, joined.
    """

    notebook: str
    names: dict
    keywords: dict
    code: str = field(repr=False)
    fit_calls_without_batch_size: int = 0

    @property
    def training_batch(self) -> int:
        """The largest training batch the chapter uses: its ``batch_size=`` arguments, and fit's
        default where a ``fit(...)`` call gives none."""
        import inspect

        from .train import fit
        sizes = [b for b in self.keywords.get("batch_size", []) if isinstance(b, int)]
        if self.fit_calls_without_batch_size or not sizes:
            sizes.append(inspect.signature(fit).parameters["batch_size"].default)
        return max(sizes)


def _is_choose(node) -> bool:
    import ast
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "choose")


def _is_profile_field(node, profile) -> bool:
    import ast
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "p" and hasattr(profile, node.attr)
            and not callable(getattr(profile, node.attr)))


def _full_value(node, profile):
    """The value of ``node`` in the full profile, or _NotASetting."""
    import ast

    if _is_choose(node):
        chosen = {k.arg: k.value for k in node.keywords}
        if "full" not in chosen:
            raise _NotASetting
        return _full_value(chosen["full"], profile)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {k.arg: _full_value(k.value, profile) for k in node.keywords if k.arg}
    if _is_profile_field(node, profile):
        return getattr(profile, node.attr)
    if isinstance(node, (ast.Tuple, ast.List)):
        values = [_full_value(element, profile) for element in node.elts]
        return tuple(values) if isinstance(node, ast.Tuple) else values
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _NotASetting from None


def _single_choice(node, profile):
    """The one profile-dependent value inside ``node``: a ``p.choose(...)``, else a ``p.field``."""
    import ast

    choices = [n for n in ast.walk(node) if _is_choose(n)]
    if not choices:
        choices = [n for n in ast.walk(node) if _is_profile_field(n, profile)]
    if len(choices) != 1:
        raise _NotASetting
    return _full_value(choices[0], profile)


def _assigned(statement, profile) -> dict:
    """{name: full-profile value} of one top-level assignment ({} if it sets none)."""
    import ast

    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
        return {}
    target = statement.targets[0]
    try:
        try:
            value = _full_value(statement.value, profile)
        except _NotASetting:
            value = _single_choice(statement.value, profile)
    except _NotASetting:
        return {}
    if isinstance(target, ast.Name):
        return {target.id: value}
    if isinstance(target, ast.Tuple) and isinstance(value, tuple) \
            and len(value) == len(target.elts):
        return {t.id: v for t, v in zip(target.elts, value) if isinstance(t, ast.Name)}
    return {}


def chapter_settings(notebook: str, root: Optional[Path] = None) -> ChapterSettings:
    """The full profile's settings of ``notebook`` (a file name under ``notebooks/``), read from its
    code cells (see :class:`ChapterSettings`); IPython lines (``%``, ``!``) are left out."""
    import ast
    import json

    from .profiles import PROFILES

    profile = PROFILES["full"]
    cells = json.loads(((root or NOTEBOOKS) / notebook).read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    names, keywords, bare_fits = {}, {}, 0
    for source in sources:
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for statement in tree.body:
            names.update(_assigned(statement, profile))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if called == "fit" and not any(k.arg == "batch_size" for k in node.keywords):
                bare_fits += 1
            for keyword in node.keywords:
                try:
                    value = _full_value(keyword.value, profile)
                except _NotASetting:
                    continue
                keywords.setdefault(keyword.arg, []).append(value)
    return ChapterSettings(notebook, names, keywords, "\n".join(sources), bare_fits)


# --------------------------------------------------------------------------- the chapters' runs

def _tiny_cnn() -> nn.Module:                  # chapter 0's first training run
    return nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def _model(name: str, **kwargs) -> Callable[[], nn.Module]:
    def build():
        from .models import get_model
        return get_model(name, **kwargs)
    return build


# Whole training and test sets, as the full profile loads them with a network connection.
SET_SIZES = {"mnist": (60_000, 10_000), "fashion-mnist": (60_000, 10_000),
             "cifar10": (50_000, 10_000)}


def _count(dataset: str, split: str, subset) -> int:
    """Images of ``dataset``'s ``split`` that ``subset`` (None: all of them) keeps."""
    whole = SET_SIZES[dataset][split == "test"]
    return whole if subset is None else min(int(subset), whole)


def _sets(dataset: str, train, test, shape) -> int:
    """Bytes of a chapter's training and test sets (``train``/``test``: subsets, None for all)."""
    return dataset_bytes(_count(dataset, "train", train) + _count(dataset, "test", test), shape)


@dataclass(frozen=True)
class ChapterPlan:
    """What a chapter trains in the full profile. The numbers (batch sizes, widths, depths, dataset
    sizes) are read from the notebook by :func:`chapter_settings`; ``evidence`` lists the lines of
    its code that fix the rest (which network, which optimiser): ``tests/test_memory.py`` checks
    that each is still in the notebook, so a chapter that changes them must change its plan too."""

    notebook: str
    runs: tuple = ()
    evidence: tuple = field(default=(), compare=False)
    note: str = ""


def _plan_00(s: ChapterSettings) -> ChapterPlan:
    """A tiny CNN on Fashion-MNIST with Adam (two tensors of state per weight)."""
    sets = _sets("fashion-mnist", s.names["train_set"], None, (1, 28, 28))
    return ChapterPlan(
        s.notebook,
        (Run("tiny CNN, Fashion-MNIST", _tiny_cnn, (1, 28, 28), s.training_batch, 2, sets),),
        ("nn.Conv2d(1, 8, 5, padding=2)", "nn.Conv2d(8, 16, 5, padding=2)",
         "nn.Linear(16 * 7 * 7, 10)", "torch.optim.Adam(tiny.parameters()",
         'cnnlit.data.load("fashion-mnist", "train", subset='))


def _plan_01(s: ChapterSettings) -> ChapterPlan:
    """LeNet-5, the paper's and the modern one, on MNIST padded to 32 x 32."""
    sets = _sets("mnist", s.names["train"], None, (1, 32, 32))
    return ChapterPlan(
        s.notebook,
        tuple(Run(label, _model(name), (1, 32, 32), s.training_batch, 1, sets)
              for label, name in (("LeNet-5 (paper)", "lenet5"),
                                  ("LeNet-5 (modern)", "lenet5_modern"))),
        ("model = get_model(name)", 'train_lenet("lenet5_modern"',
         'cnnlit.data.load("mnist", "train",'))


def _plan_02(s: ChapterSettings) -> ChapterPlan:
    """Figure 1's four-layer network, then the ablations' network with its hidden layer."""
    figure1, ablation = s.names["figure1"], s.names["ablation"]
    return ChapterPlan(
        s.notebook,
        (Run(f"four-layer alexnet_small, width {figure1['width']} (Figure 1)",
             _model("alexnet_small", in_channels=3, image_size=32, width=figure1["width"], hidden=0,
                    lrn=False, dropout=0.0),
             (3, 32, 32), s.training_batch, 1,
             dataset_bytes(_count("cifar10", "train", figure1["train"]), (3, 32, 32))),
         Run(f"alexnet_small, width {ablation['width']}, hidden {ablation['hidden']} (ablations)",
             _model("alexnet_small", in_channels=3, image_size=32, width=ablation["width"],
                    hidden=ablation["hidden"]),
             (3, 32, 32), s.training_batch, 1,
             _sets("cifar10", ablation["train"], ablation["test"], (3, 32, 32)))),
        ('DATA = ["cifar10", "fashion-mnist"]', 'get_model("alexnet_small"',
         "hidden=0, lrn=False, dropout=0.0", 'width=ablation["width"], hidden=ablation["hidden"]',
         "torch.optim.SGD(model.parameters()"),
        "fit moves a run's training set to the GPU while it trains; the datasets stay on the CPU")


def _plan_03(s: ChapterSettings) -> ChapterPlan:
    """Two small ZF Nets on Fashion-MNIST enlarged to SIZE; a deconvnet over a pool of validation
    images (a tenth of the training set, enlarged whole like the test set)."""
    size = s.names["SIZE"]
    train = _count("fashion-mnist", "train", s.names["TRAIN"])
    held_out = round(0.1 * train)                             # validation_split(0.1, ...)
    sets = (dataset_bytes(train - held_out, (1, 28, 28))
            + dataset_bytes(held_out, (1, size, size))
            + dataset_bytes(_count("fashion-mnist", "test", s.names["TEST"]), (1, size, size)))
    return ChapterPlan(
        s.notebook,
        tuple(Run(f"small ZF Net {k}x{k}/{stride} at {size} px",
                  _model("zfnet_small", in_channels=1, num_classes=10, image_size=size,
                         first_kernel=k, first_stride=stride),
                  (1, size, size), s.training_batch, 1, sets, s.names["candidates"])
              for k, stride in ((7, 2), (11, 4))),
        ('data.load("fashion-mnist", "train", subset=TRAIN)',
         'data.load("fashion-mnist", "test", subset=TEST).map(enlarge)',
         "zfnet_small(channels, classes, image_size=SIZE", "augment=enlarge",
         "validation_split(0.1, seed=0)", "candidates = validation_data.images["),
        "training images enlarged batch by batch; the validation and test sets are enlarged whole")


def _plan_04(s: ChapterSettings) -> ChapterPlan:
    """VGG: no training (its deep networks train in chapter 05)."""
    return ChapterPlan(s.notebook, (), (), "no training: shapes and costs on the meta device")


def _plan_05(s: ChapterSettings) -> ChapterPlan:
    """VGG A and E (and E with batch norm), WIDTH times narrower, on Fashion-MNIST at 32 x 32."""
    width, hidden = s.names["WIDTH"], s.names["HIDDEN"]
    train, test = s.keywords["subset"][:2]
    runs = tuple(
        Run(f"VGG {config}{' + batch norm' if bn else ''}, width / {width}",
            _model("vgg", config=config, batch_norm=bn, num_classes=10, in_channels=1, width=width,
                   hidden=hidden, pool_size=1, init="glorot"),
            (1, 32, 32), s.training_batch, 1, _sets("fashion-mnist", train, test, (1, 32, 32)))
        for config, bn in (("A", False), ("E", False), ("E", True)))
    return ChapterPlan(
        s.notebook, runs,
        ('run("E + batch norm", narrow("E", seed, batch_norm=True), seed)', "pool_size=1",
         'cnnlit.data.load("fashion-mnist", "train",', "in_channels=1"))


def _plan_06(s: ChapterSettings) -> ChapterPlan:
    """A small GoogLeNet on CIFAR-10 with Adam."""
    width = s.keywords["width"][0]
    return ChapterPlan(
        s.notebook,
        (Run(f"small GoogLeNet, width {width}",
             _model("googlenet_small", in_channels=3, num_classes=10, width=width), (3, 32, 32),
             s.training_batch, 2, _sets("cifar10", s.keywords["subset"][0], None, (3, 32, 32))),),
        ("torch.optim.Adam(small.parameters()",
         'load_first_available(["cifar10", "fashion-mnist"], "train", subset=p.train_size)'))


def _plan_07(s: ChapterSettings) -> ChapterPlan:
    """Plain and residual CIFAR networks of the chapter's two depths."""
    shallow, deep = s.names["depths"]
    sets = _sets("cifar10", s.keywords["subset"][0], None, (3, 32, 32))
    return ChapterPlan(
        s.notebook,
        tuple(Run(f"{'plain' if plain else 'ResNet'}-{depth}",
                  _model("resnet_cifar", depth=depth, plain=plain, in_channels=3), (3, 32, 32),
                  s.training_batch, 1, sets)
              for depth, plain in ((shallow, True), (deep, True), (deep, False))),
        ("full=train.images.shape[-1]",
         'load_first_available(["cifar10", "fashion-mnist"], "train",'))


def _plan_08(s: ChapterSettings) -> ChapterPlan:
    """A CIFAR ResNet of DEPTH layers pretrained on five Fashion-MNIST classes, then transferred
    (batches of 25); online, a linear probe on ImageNet's ResNet-18 at 64 x 64."""
    side, depth = s.names["side"], s.names["DEPTH"]
    sets = _sets("fashion-mnist", None, None, (1, side, side))
    return ChapterPlan(
        s.notebook,
        (Run(f"ResNet-{depth} (CIFAR), 1 x {side} x {side}",
             _model("resnet_cifar", depth=depth, in_channels=1, num_classes=5), (1, side, side),
             s.training_batch, 1, sets),
         Run("ImageNet ResNet-18 probe, 3 x 64 x 64 (online only)",
             _model("resnet18", variant="torchvision"), (3, 64, 64), 25, 1)),
        ("resnet_cifar(DEPTH, in_channels=1, num_classes=5)",
         "torch.optim.SGD(pretrained.parameters()", 'cnnlit.data.load("fashion-mnist", "train")',
         "torchvision.models.resnet18()", "batch_size=25"))


CHAPTERS = {"00_foundations.ipynb": _plan_00, "01_lenet5.ipynb": _plan_01,
            "02_alexnet.ipynb": _plan_02, "03_zfnet.ipynb": _plan_03, "04_vgg.ipynb": _plan_04,
            "05_normalisation.ipynb": _plan_05, "06_googlenet.ipynb": _plan_06,
            "07_resnet.ipynb": _plan_07, "08_transfer.ipynb": _plan_08}


def chapter_plans(root: Optional[Path] = None) -> list[ChapterPlan]:
    """Every chapter's plan, with the sizes its notebook (under ``root``, default ``notebooks/``)
    sets."""
    plans = [plan(chapter_settings(notebook, root)) for notebook, plan in CHAPTERS.items()]
    return plans + [ChapterPlan("09_comparison.ipynb", (), (),
                                "no training: per-layer summaries on the CPU, nothing on the GPU")]


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
