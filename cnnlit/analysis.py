"""Per-layer accounting: output shapes, trainable parameters, connections, multiply-adds, receptive
field.

``summary(model, input_size)`` runs one forward pass with hooks and returns a pandas DataFrame, one
row per layer call; :func:`depth` counts weight layers on the longest path, as the papers do. How
each layer is counted (``connections``, ``macs``) is :mod:`cnnlit.costs`'s job: its ``COST_RULES``
table and :func:`register_cost` are re-exported here.

Conventions (all per input image):
- ``connections`` and ``macs``: see :mod:`cnnlit.costs`.
- ``receptive_field``: side, in input pixels, of the window one output unit sees. Exact for chains
  of convolutions and poolings; in branching networks it follows the order in which modules run.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .costs import COST_RULES, Cost, cost_of, has_cost_rule, register_cost, window_of
from .module_tools import evaluating, hooked, main_output

__all__ = ["COST_RULES", "Cost", "count_parameters", "depth", "register_cost", "summary", "totals"]


def _is_atomic(module: nn.Module) -> bool:
    """A row of its own: a leaf, or a composite layer of ours that counts itself."""
    return not any(True for _ in module.children()) or has_cost_rule(module)


def summary(model: nn.Module, input_size: Sequence[int], *, device="cpu", dtype=torch.float32):
    """One row per layer call: ``layer``, ``type``, ``output_shape``, ``params`` (trainable),
    ``connections``, ``macs`` and ``receptive_field``. ``input_size`` includes the batch
    dimension. A module with layers inside that also holds parameters of its own (a learned scale,
    say) gets a last row for them, so that ``params`` sums to :func:`count_parameters`."""
    import pandas as pd

    if len(input_size) < 3:
        raise ValueError(f"input_size must include the batch dimension, e.g. (1, 3, 224, 224); got "
                         f"{input_size}")
    input_side = int(input_size[-1])
    rows, entries, exits, counted, own_rows = [], [], [], set(), []
    # receptive field and its step, in input pixels, of the last output
    chain = {"rf": 1, "jump": 1}

    def before(module, inputs):
        state = getattr(inputs[0], "_cnnlit_rf",
                        None) if inputs and torch.is_tensor(inputs[0]) else None
        module._cnnlit_rf_in = state or (chain["rf"], chain["jump"])

    def after(name):
        def hook(module, inputs, output):
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            rf, jump = module._cnnlit_rf_in
            del module._cnnlit_rf_in
            step = window_of(module)
            if step is not None:
                rf, jump = rf + (step[0] - 1) * jump, jump * step[1]
            elif isinstance(module, nn.Linear):
                rf = max(rf, input_side)
            if torch.is_tensor(tensor):
                tensor._cnnlit_rf = (rf, jump)
            chain.update(rf=rf, jump=jump)
            cost = cost_of(module, inputs, tensor)
            params = 0
            if id(module) not in counted:
                counted.add(id(module))
                params = count_parameters(module)
            rows.append({"layer": name, "type": type(module).__name__,
                         "output_shape": tuple(tensor.shape) if torch.is_tensor(tensor) else None,
                         "params": params, "connections": cost.connections, "macs": cost.macs,
                         "receptive_field": rf})
        return hook

    def attach(module: nn.Module, prefix: str) -> None:
        own = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        if own:
            own_rows.append({"layer": prefix or type(module).__name__,
                             "type": f"{type(module).__name__} (its own parameters)",
                             "output_shape": None, "params": own, "connections": 0, "macs": 0,
                             "receptive_field": None})
        for child_name, child in module.named_children():
            name = f"{prefix}.{child_name}" if prefix else child_name
            if _is_atomic(child):
                entries.append((child, before))
                exits.append((child, after(name)))
            else:
                attach(child, name)

    if _is_atomic(model):
        entries.append((model, before))
        exits.append((model, after(type(model).__name__)))
    else:
        attach(model, "")
    with hooked(entries, pre=True), hooked(exits), evaluating(model), torch.no_grad():
        model(torch.zeros(*input_size, device=device, dtype=dtype))
    frame = pd.DataFrame(rows + own_rows, columns=["layer", "type", "output_shape", "params",
                                                   "connections", "macs", "receptive_field"])
    return frame


def totals(frame) -> dict:
    """Whole-network sums of a :func:`summary` frame."""
    return {column: int(frame[column].sum()) for column in ("params", "connections", "macs")}


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


WEIGHT_LAYER_NODES = ("ConvolutionBackward", "AddmmBackward", "MmBackward", "BmmBackward")


def _is_weight_layer(node) -> bool:
    """A convolution, or a matrix product whose operands are all learned or computed: a product with
    a constant (local response normalisation's band matrix, which sums neighbouring channels) has an
    operand outside the autograd graph (``None`` among its inputs) and is no weight layer."""
    name = type(node).__name__
    if not name.startswith(WEIGHT_LAYER_NODES):
        return False
    return name.startswith("ConvolutionBackward") or all(
        child is not None for child, _ in node.next_functions
    )


def depth(model: nn.Module, input_size: Sequence[int]) -> int:
    """Weight layers (convolutions and fully connected layers) on the longest path from input to
    output — how the papers count depth: VGG-16 has 16, GoogLeNet 22 (an Inception module counts
    twice), ResNet-152 152 (shortcuts are bypasses, not extra depth). Read off the autograd graph of
    one forward pass."""
    with evaluating(model), torch.enable_grad():
        output = model(torch.zeros(*input_size, requires_grad=True))
    output = main_output(output)
    longest: dict = {}
    stack = [(output.grad_fn, False)]
    while stack:                                   # iterative post-order walk: graphs can be deep
        node, expanded = stack.pop()
        if node is None or node in longest:
            continue
        children = [child for child, _ in node.next_functions if child is not None]
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in children if child not in longest)
            continue
        longest[node] = int(_is_weight_layer(node)) + max((longest[c] for c in children), default=0)
    return longest.get(output.grad_fn, 0)
