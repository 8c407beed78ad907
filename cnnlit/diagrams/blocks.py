"""Block graphs of the branched modules, read off a module instance (no matplotlib here).

:func:`block_graph` runs the module once on zeros with hooks on its leaf modules and records which
layers ran, in which branch, in which order and with which output shape:

- an Inception module (Szegedy et al. 2015, Figure 2): four branches side by side, concatenated
  along the channels. With ``None`` for the reductions and the pool projection it is Figure 2(a),
  the naive module.
- a residual block (He et al. 2016, Figures 2 and 5): the residual path F(x) next to the shortcut,
  which is the identity, a 1×1 projection (option B/C) or the zero-padded identity of option A; the
  two are added, then a ReLU.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn

from ..layers.inception import BasicConv2d, ConvReLU
from ..layers.residual import ZeroPadShortcut
from ..module_tools import evaluating, hooked, pair
from .rows import FOLDED, _square, model_device, shape_label, shortcut_kind

__all__ = ["BlockGraph", "Branch", "Step", "block_graph", "representative_blocks"]

BRANCH_NAMES = ("branch1", "branch2", "branch3", "branch4")


@dataclass(frozen=True)
class Step:
    """One layer of a branch: ``name`` is its module's name inside the block (``branch2.0.conv``).
    """
    name: str
    operation: str                   # '1×1 conv, 96', '3×3 max pool/1', 'zero-pad 16→32, /2'
    shape: tuple                     # output per image
    extras: tuple = ()               # element-wise layers that follow it: ('BN', 'ReLU')

    @property
    def label(self) -> str:
        return shape_label(self.shape)


@dataclass(frozen=True)
class Branch:
    # 'branch1'... for Inception; 'residual' / 'shortcut' for a block
    name: str
    steps: tuple                     # of Step; empty for an identity shortcut
    shape: tuple                     # the branch's output per image

    @property
    def channels(self) -> int:
        return int(self.shape[0])

    @property
    def label(self) -> str:
        return shape_label(self.shape)


@dataclass(frozen=True)
class BlockGraph:
    kind: str                        # 'inception' or 'residual'
    title: str
    input_shape: tuple               # per image
    branches: tuple                  # of Branch, left to right
    merge: str                       # 'concatenate' or 'add' ('none' for a plain block)
    after: tuple                     # element-wise layers after the merge, e.g. ('ReLU',)
    output_shape: tuple
    shortcut: Optional[str] = None   # residual blocks: identity, projection, zero-pad or none

    def labels(self) -> list[tuple[str, tuple[str, ...], str]]:
        """(branch name, the operations of its steps, its output label): what the figure writes."""
        return [(b.name, tuple(s.operation for s in b.steps), b.label) for b in self.branches]


def _step_text(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        text = f"{_square(module.kernel_size)} conv, {module.out_channels}"
        stride = pair(module.stride)[0]
        return text + (f", /{stride}" if stride > 1 else "")
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "max" if isinstance(module, nn.MaxPool2d) else "avg"
        return f"{_square(module.kernel_size)} {kind} pool/{pair(module.stride)[0]}"
    if isinstance(module, ZeroPadShortcut):
        text = f"zero-pad {module.in_channels}→{module.out_channels}"
        return text + (f", /{module.stride}" if module.stride > 1 else "")
    if isinstance(module, nn.Linear):
        return f"fc, {module.out_features}"
    return type(module).__name__


def _leaves(module: nn.Module):
    """Named modules that are leaves, or ZeroPadShortcut (which has no children either)."""
    for name, child in module.named_modules():
        if name and not any(True for _ in child.children()):
            yield name, child


def _trace(module: nn.Module, input_shape: Sequence[int]) -> tuple[list, torch.Tensor]:
    """Run ``module`` once; the leaf calls in order as (name, module, output shape per image)."""
    calls = []
    record = lambda name: lambda m, i, o: calls.append((name, m, tuple(o.shape[1:])))   # noqa: E731
    hooks = [(leaf, record(name)) for name, leaf in _leaves(module)]
    with hooked(hooks), evaluating(module), torch.no_grad():
        output = module(torch.zeros(*input_shape, device=model_device(module)))
    return calls, output


def _parent_extras(module: nn.Module, name: str) -> tuple:
    """Element-wise work a conv block does in its forward without a module of its own."""
    parent_name = name.rsplit(".", 1)[0] if "." in name else ""
    parent = module.get_submodule(parent_name) if parent_name else module
    if isinstance(parent, ConvReLU):
        return ("ReLU",)
    if isinstance(parent, BasicConv2d):
        return ("ReLU",)                # its BN is a module and is folded on its own
    return ()


def _steps(module: nn.Module, calls: list) -> list[Step]:
    """Fold element-wise calls into the step before them."""
    steps: list[Step] = []
    for name, leaf, shape in calls:
        folded = next((short for klass, short in FOLDED.items() if type(leaf) is klass), None)
        if folded is not None and steps:
            last = steps[-1]
            steps[-1] = Step(last.name, last.operation, shape, last.extras + (folded,))
            continue
        steps.append(Step(name, _step_text(leaf), shape, _parent_extras(module, name)))
    # BasicConv2d applies its ReLU after its BN: keep the order conv, BN, ReLU in the extras
    return [Step(s.name, s.operation, s.shape, _ordered(s.extras)) for s in steps]


def _ordered(extras: tuple) -> tuple:
    order = {"BN": 0, "ReLU": 1}
    return tuple(sorted(extras,
                        key=lambda e: order.get(e, 2))) if set(extras) <= set(order) else extras


def _inception(module: nn.Module, input_shape: Sequence[int]) -> BlockGraph:
    calls, output = _trace(module, input_shape)
    branches = []
    for branch in BRANCH_NAMES:
        own = [c for c in calls if c[0] == branch or c[0].startswith(branch + ".")]
        steps = _steps(module, own)
        branches.append(Branch(branch, tuple(steps), steps[-1].shape))
    naive = all(c is None for c in (module.columns[1], module.columns[3], module.columns[5]))
    title = (
        "Inception module, naive (Figure 2a)"
        if naive
        else "Inception module with 1×1 reductions (Figure 2b)"
    )
    return BlockGraph("inception", title, tuple(input_shape[1:]), tuple(branches), "concatenate",
                      (),
                      tuple(output.shape[1:]))


def _residual(module: nn.Module, input_shape: Sequence[int]) -> BlockGraph:
    calls, output = _trace(module, input_shape)
    on_shortcut = [c for c in calls if c[0] == "downsample" or c[0].startswith("downsample.")]
    on_path = [c for c in calls if c not in on_shortcut]
    shortcut = shortcut_kind(module)
    after: tuple = ()
    if shortcut != "none" and on_path and type(on_path[-1][1]) in FOLDED:
        after = (FOLDED[type(on_path[-1][1])],)        # the activation applied to F(x) + shortcut
        on_path = on_path[:-1]
    path = _steps(module, on_path)
    branches = [Branch("residual", tuple(path), path[-1].shape)]
    if shortcut != "none":
        steps = _steps(module, on_shortcut)
        branches.append(Branch("shortcut", tuple(steps),
                               steps[-1].shape if steps else tuple(input_shape[1:])))
    kind = type(module).__name__
    titles = {"identity": "identity shortcut", "projection": "projection shortcut (1×1 conv)",
              "zero-pad": "zero-padded identity shortcut (option A)", "none": "no shortcut (plain)"}
    return BlockGraph("residual", f"{kind}, {titles[shortcut]}", tuple(input_shape[1:]),
                      tuple(branches),
                      "add" if shortcut != "none" else "none", after, tuple(output.shape[1:]),
                      shortcut)


def block_graph(module: nn.Module, input_shape: Sequence[int]) -> BlockGraph:
    """The branches of an Inception module or a residual block for an input of ``input_shape``
    (with the batch dimension), read from the module by running it once."""
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (N, C, H, W), got {tuple(input_shape)}")
    if all(hasattr(module, name) for name in BRANCH_NAMES):
        return _inception(module, input_shape)
    if hasattr(module, "downsample"):
        return _residual(module, input_shape)
    raise TypeError(f"block_graph draws Inception modules and residual blocks (modules with "
                    f"branch1..branch4 or a downsample shortcut); got {type(module).__name__}")


def representative_blocks(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """One example of each kind of branched block in ``model``: name -> (module, input shape with
    batch). Residual blocks differ by type and shortcut (identity, projection, zero-pad); Inception
    modules by whether they are naive. Use with :func:`cnnlit.diagrams.draw_block`."""
    from ..layers import Inception
    from .rows import RESIDUAL_BLOCKS

    seen, found, hooks = set(), {}, []
    for name, module in model.named_modules():
        if isinstance(module, RESIDUAL_BLOCKS + (Inception,)):
            def record(m, inputs, name=name):
                key = (type(m).__name__, shortcut_kind(m) if hasattr(m, "downsample") else
                       all(c is None for c in m.columns[1::2]))
                if key not in seen:
                    seen.add(key)
                    found[name] = (m, (1,) + tuple(inputs[0].shape[1:]))
            hooks.append((module, record))
    with hooked(hooks, pre=True), evaluating(model), torch.no_grad():
        model(torch.zeros(*input_shape, device=model_device(model)))
    return found
