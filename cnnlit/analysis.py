"""Per-layer accounting: output shapes, trainable parameters, connections, multiply-adds, receptive field.

``summary(model, input_size)`` runs one forward pass with hooks and returns a pandas DataFrame, one row per
layer call. The counting rules live in one table, ``COST_RULES`` (module type -> rule); a layer type of our
own either defines ``layer_cost(inputs, output)`` or registers a rule with :func:`register_cost`.

Conventions (all per input image):
- ``connections``: LeCun et al. 1998's count — for every output unit, its inputs plus one for the bias.
- ``macs``: multiply-accumulates of convolutions and linear layers (what the papers' "FLOPs" count);
  element-wise layers and max-pooling count zero.
- ``receptive_field``: side, in input pixels, of the window one output unit sees. Exact for chains of
  convolutions and poolings; in branching networks it follows the order in which modules run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import nn


@dataclass(frozen=True)
class Cost:
    connections: int = 0
    macs: int = 0


CostRule = Callable[[nn.Module, tuple, torch.Tensor], Cost]
COST_RULES: dict[type, CostRule] = {}


def register_cost(*module_types: type) -> Callable[[CostRule], CostRule]:
    """Decorator: ``@register_cost(MyLayer)`` teaches :func:`summary` how to count a module type."""
    def register(rule: CostRule) -> CostRule:
        for module_type in module_types:
            COST_RULES[module_type] = rule
        return rule
    return register


def _units(output: torch.Tensor) -> int:
    """Output units per image."""
    return output[0].numel()


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


@register_cost(nn.Conv1d, nn.Conv2d, nn.Conv3d)
def _convolution(module: nn.Conv2d, inputs, output) -> Cost:
    fan_in = (module.in_channels // module.groups) * math.prod(module.kernel_size)
    units = _units(output)
    return Cost(connections=units * (fan_in + (module.bias is not None)), macs=units * fan_in)


@register_cost(nn.ConvTranspose2d)
def _transposed_convolution(module: nn.ConvTranspose2d, inputs, output) -> Cost:
    # every input unit sends to (out_channels / groups) * k * k outputs
    fan_out = (module.out_channels // module.groups) * math.prod(module.kernel_size)
    macs = inputs[0][0].numel() * fan_out
    return Cost(connections=macs + (_units(output) if module.bias is not None else 0), macs=macs)


@register_cost(nn.Linear)
def _linear(module: nn.Linear, inputs, output) -> Cost:
    units = _units(output)
    return Cost(connections=units * (module.in_features + (module.bias is not None)),
                macs=units * module.in_features)


@register_cost(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
def _max_pooling(module, inputs, output) -> Cost:
    return Cost(connections=_units(output) * math.prod(_pair(module.kernel_size)))


@register_cost(nn.AvgPool2d)
def _average_pooling(module, inputs, output) -> Cost:
    window = math.prod(_pair(module.kernel_size))
    return Cost(connections=_units(output) * window, macs=_units(output) * window)


@register_cost(nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
def _adaptive_pooling(module, inputs, output) -> Cost:
    in_h, in_w = inputs[0].shape[-2:]
    out_h, out_w = output.shape[-2:]
    window = math.ceil(in_h / out_h) * math.ceil(in_w / out_w)
    macs = _units(output) * window if isinstance(module, nn.AdaptiveAvgPool2d) else 0
    return Cost(connections=_units(output) * window, macs=macs)


def _cost_of(module: nn.Module, inputs, output) -> Cost:
    own_rule = getattr(module, "layer_cost", None)
    if callable(own_rule):
        return own_rule(inputs, output)
    for klass in type(module).__mro__:
        if klass in COST_RULES:
            return COST_RULES[klass](module, inputs, output)
    return Cost()


def _is_atomic(module: nn.Module) -> bool:
    """A row of its own: a leaf, or a composite layer of ours that counts itself."""
    return not any(True for _ in module.children()) or callable(getattr(module, "layer_cost", None))


def _window_step(module: nn.Module) -> Optional[tuple]:
    """(kernel extent, stride) of a module that slides a window, else None."""
    if hasattr(module, "receptive_field_step"):
        return module.receptive_field_step()
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel, stride = _pair(module.kernel_size)[0], _pair(module.stride)[0]
        dilation = _pair(getattr(module, "dilation", 1))[0]
        return (kernel - 1) * dilation + 1, stride
    return None


def summary(model: nn.Module, input_size: Sequence[int], *, device="cpu", dtype=torch.float32):
    """One row per layer call: ``layer``, ``type``, ``output_shape``, ``params`` (trainable),
    ``connections``, ``macs`` and ``receptive_field``. ``input_size`` includes the batch dimension."""
    import pandas as pd

    if len(input_size) < 3:
        raise ValueError(f"input_size must include the batch dimension, e.g. (1, 3, 224, 224); got {input_size}")
    input_side = int(input_size[-1])
    rows, handles, counted = [], [], set()
    chain = {"rf": 1, "jump": 1}          # receptive field and its step, in input pixels, of the last output

    def before(module, inputs):
        state = getattr(inputs[0], "_cnnlit_rf", None) if inputs and torch.is_tensor(inputs[0]) else None
        module._cnnlit_rf_in = state or (chain["rf"], chain["jump"])

    def after(name):
        def hook(module, inputs, output):
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            rf, jump = module._cnnlit_rf_in
            del module._cnnlit_rf_in
            step = _window_step(module)
            if step is not None:
                rf, jump = rf + (step[0] - 1) * jump, jump * step[1]
            elif isinstance(module, nn.Linear):
                rf = max(rf, input_side)
            if torch.is_tensor(tensor):
                tensor._cnnlit_rf = (rf, jump)
            chain.update(rf=rf, jump=jump)
            cost = _cost_of(module, inputs, tensor)
            params = 0
            if id(module) not in counted:
                counted.add(id(module))
                params = sum(p.numel() for p in module.parameters() if p.requires_grad)
            rows.append({"layer": name, "type": type(module).__name__,
                         "output_shape": tuple(tensor.shape) if torch.is_tensor(tensor) else None,
                         "params": params, "connections": cost.connections, "macs": cost.macs,
                         "receptive_field": rf})
        return hook

    def attach(module: nn.Module, prefix: str) -> None:
        for child_name, child in module.named_children():
            name = f"{prefix}.{child_name}" if prefix else child_name
            if _is_atomic(child):
                handles.append(child.register_forward_pre_hook(before))
                handles.append(child.register_forward_hook(after(name)))
            else:
                attach(child, name)

    if _is_atomic(model):
        handles.append(model.register_forward_pre_hook(before))
        handles.append(model.register_forward_hook(after(type(model).__name__)))
    else:
        attach(model, "")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(*input_size, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    frame = pd.DataFrame(rows, columns=["layer", "type", "output_shape", "params", "connections",
                                        "macs", "receptive_field"])
    return frame


def totals(frame) -> dict:
    """Whole-network sums of a :func:`summary` frame."""
    return {column: int(frame[column].sum()) for column in ("params", "connections", "macs")}


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


WEIGHT_LAYER_NODES = ("ConvolutionBackward", "AddmmBackward", "MmBackward", "BmmBackward")


def depth(model: nn.Module, input_size: Sequence[int]) -> int:
    """Weight layers (convolutions and fully connected layers) on the longest path from input to output —
    how the papers count depth: VGG-16 has 16, GoogLeNet 22 (an Inception module counts twice), ResNet-152
    152 (shortcuts are bypasses, not extra depth). Read off the autograd graph of one forward pass."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            output = model(torch.zeros(*input_size, requires_grad=True))
    finally:
        model.train(was_training)
    if isinstance(output, (tuple, list)):
        output = output[0]
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
        is_weight_layer = type(node).__name__.startswith(WEIGHT_LAYER_NODES)
        longest[node] = int(is_weight_layer) + max((longest[c] for c in children), default=0)
    return longest.get(output.grad_fn, 0)
